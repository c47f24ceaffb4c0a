//! The formats of countersign's evidence log, as pure functions.
//!
//! - [`merkle`]: RFC 6962 hashing (leaf = SHA-256(0x00 ‖ entry), node = SHA-256(0x01 ‖ l ‖ r)),
//!   the append frontier, inclusion and consistency proofs and their RFC 9162 verification.
//! - [`note`]: Ed25519 keys in C2SP signed-note encoding and C2SP tlog-checkpoints.
//! - [`dsse`]: entries — in-toto Statements v1 in DSSE envelopes.
//! - [`proof_text`]: C2SP tlog-proof text (and the consistency-proof text modelled on it).
//! - [`audit`]: verification of a whole log, in parallel.
//!
//! This crate must not do IO, read the clock, or generate randomness: keys arrive as
//! bytes, timestamps inside predicates are chosen by the caller, and entry bytes are
//! hashed exactly as given — nothing here re-serializes a stored entry.

pub mod audit;
pub mod dsse;
pub mod merkle;
pub mod note;
pub mod proof_text;

pub use audit::{AuditOptions, AuditSummary, EntryRef, LogAudit, VerifyFailure};
pub use merkle::{Hash, NodeId};
pub use note::{Checkpoint, LogSigner, LogVerifier};
