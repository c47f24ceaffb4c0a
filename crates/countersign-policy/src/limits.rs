//! The limits on a policy's size and shape.
//!
//! A policy file is input that anyone with write access to a repository can change, and
//! `countersign` runs on it in CI. So every walk over a policy must finish quickly and
//! within a small stack, whatever the file holds. These limits make that true: a policy
//! over them is an error with its own code (`CS-E025`…`CS-E027`), never a hang or a
//! crash. Real policies stay far below them; they are documented in
//! `docs/policy-language.md`.
//!
//! Validation guarantees them for every [`crate::model::Policy`] it returns, so the
//! renderers and the engine may walk conditions and rules recursively. Each of those walks
//! also stops at [`MAX_NESTING`] on its own, for policies built by hand.

/// The largest policy file, in bytes (1 MiB). Checked before the TOML is parsed.
pub const MAX_POLICY_BYTES: usize = 1024 * 1024;

/// How deep brackets, braces and dotted keys may nest in the TOML text. The TOML parser
/// enforces this itself (it stops with "recursion limit"); it is reported as `CS-E026`.
pub const MAX_TOML_NESTING: usize = 80;

/// How deep conditions (`all`, `any`, `not`), approval rules (`all`, `any` and `ref`,
/// following references to named rules) and groups (a group including a group) may nest.
pub const MAX_NESTING: usize = 64;

/// How many parts an approval rule may have once every reference to a named rule is
/// replaced by that rule: each `approvals`, `owner-ack`, `codeowners`, `all`, `any` and
/// `ref` counts one. Reports and `policy explain` write rules out in full, so a rule that
/// shares sub-rules at every level (a "diamond") would otherwise grow exponentially.
pub const MAX_RULE_PARTS: usize = 256;

/// How many `[[categories]]` and how many `[[risks]]` a policy may declare. Every pair is
/// compared for overlap (`CS-W003`, `CS-W009`).
pub const MAX_CLASSES: usize = 256;

/// How many `[rules.<name>]` a policy may declare. Reports, the policy document and
/// `policy explain` write each rule out in full, up to [`MAX_RULE_PARTS`] parts each.
pub const MAX_RULES: usize = 1024;

/// How many members the groups of a policy may have in all, once nested groups are
/// flattened (a person in three groups counts three times). Twenty thousand groups that
/// each include one group of twenty thousand people would otherwise be 400 million.
pub const MAX_GROUP_MEMBERSHIPS: usize = 100_000;
