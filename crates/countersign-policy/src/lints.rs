//! Lints: warnings about a valid policy that is probably not what its author meant.
//!
//! Each lint has its own `CS-W…` code. Lints that depend on the date take `today` from
//! the caller ([`crate::ParseOptions::today`]); without it they do not run, because this
//! crate has no clock.

use std::cell::Cell;
use std::collections::BTreeSet;

use jiff::civil::Date;

use crate::diag::{Diagnostic, codes};
use crate::model::*;
use crate::validate::Spans;

pub(crate) fn run(policy: &Policy, spans: &Spans, today: Option<Date>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let budget = Cell::new(POOL_BUDGET);
    for (name, rule) in &policy.rules {
        let span = spans.rules.get(name).cloned().unwrap_or_default();
        approval_lints(policy, name, rule, &span, &budget, &mut out);
        if !spans.used_rules.contains(name) {
            out.push(
                Diagnostic::new(codes::UNUSED_RULE, format!("rule `{name}` is never used"), span, "declared here")
                    .with_help("refer to it with `require = \"…\"` on a category, risk level or area, or remove it"),
            );
        }
    }
    for group in policy.groups.values() {
        if group.members.is_empty() {
            out.push(
                Diagnostic::new(
                    codes::EMPTY_GROUP,
                    format!("group `@{}` has no members", group.name),
                    group.span.clone(),
                    "empty",
                )
                .with_help("add person ids to the group, or give people this role"),
            );
        }
    }
    overlap_lints(
        policy.categories.iter().map(|c| (c.id.as_str(), c.precedence, &c.when, c.span.clone())),
        codes::OVERLAPPING_CATEGORIES,
        "categories",
        "precedence",
        &mut out,
    );
    overlap_lints(
        policy.risks.iter().map(|r| (r.id.as_str(), r.rank, &r.when, r.span.clone())),
        codes::OVERLAPPING_RISKS,
        "risk levels",
        "rank",
        &mut out,
    );
    for exception in &policy.exceptions {
        exception_lints(policy, exception, today, &mut out);
    }
    if let Some(today) = today {
        if policy.meta.next_review < today {
            out.push(
                Diagnostic::new(
                    codes::POLICY_REVIEW_OVERDUE,
                    format!(
                        "the policy was due for review on {} (cadence: every {} months)",
                        policy.meta.next_review, policy.meta.review_every.months
                    ),
                    spans.review_basis.clone(),
                    "next review is computed from this date",
                )
                .with_help(
                    "review the policy, add a [[policy.history]] entry and set `last-review` to the review date",
                ),
            );
        }
    }
    out
}

/// The people who can give approvals under `from`, or `None` when anyone can, or when
/// the lints' budget for listing members is spent ([`POOL_BUDGET`]): the pool lints then
/// say nothing rather than take long.
fn pool<'p>(policy: &'p Policy, from: &[Subject], budget: &Cell<usize>) -> Option<BTreeSet<&'p str>> {
    if from.is_empty() || from.iter().any(|s| matches!(s, Subject::External(_) | Subject::Anyone)) {
        return None;
    }
    let cost: usize = from
        .iter()
        .map(|s| match s {
            Subject::Group(name) => policy.groups.get(name).map_or(0, |g| g.members.len()),
            _ => 1,
        })
        .sum();
    let left = budget.get().checked_sub(cost)?;
    budget.set(left);
    policy.member_ids(from)
}

/// How many group members the rule lints may list in all. Each `approvals` part of every
/// rule lists its approvers; many rules naming one large group would otherwise take long.
const POOL_BUDGET: usize = 1_000_000;

/// The inline structure of a rule is at most `MAX_NESTING` deep (validation checks it),
/// so the recursion is bounded; references are not followed.
fn approval_lints(
    policy: &Policy,
    name: &str,
    rule: &ApprovalRule,
    span: &Span,
    budget: &Cell<usize>,
    out: &mut Vec<Diagnostic>,
) {
    match rule {
        ApprovalRule::Approvals { count, from, exclude_author, .. } => {
            let Some(pool) = pool(policy, from, budget) else { return };
            let size = pool.len() as u32;
            let who = from.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ");
            if size < *count {
                out.push(
                    Diagnostic::new(
                        codes::UNSATISFIABLE_RULE,
                        format!("rule `{name}` asks for {count} approvals from {who}, which has {size} member(s)"),
                        span.clone(),
                        "can never be satisfied",
                    )
                    .with_help("lower `approvals`, or add people to the approving group"),
                );
            } else if *exclude_author && size == *count {
                let lone = if size == 1 {
                    pool.iter().next().map(|p| format!(" ({p})")).unwrap_or_default()
                } else {
                    String::new()
                };
                out.push(
                    Diagnostic::new(
                        codes::AUTHOR_ONLY_APPROVER,
                        format!(
                            "rule `{name}` excludes the author, but {who} has exactly {size} member(s){lone}: a change authored by one of them cannot be approved"
                        ),
                        span.clone(),
                        "unsatisfiable for its own approvers' changes",
                    )
                    .with_help("add another approver, or declare a standing [[exceptions]] entry for the author"),
                );
            }
        }
        ApprovalRule::All(parts) | ApprovalRule::Any(parts) => {
            for part in parts {
                approval_lints(policy, name, part, span, budget, out);
            }
        }
        ApprovalRule::AllDistinct(parts) => {
            for part in parts {
                approval_lints(policy, name, part, span, budget, out);
            }
            distinct_pool_lint(policy, name, parts, span, budget, out);
        }
        _ => {}
    }
}

/// `all` with `distinct-approvers`: when every part draws on a bounded set of people, the
/// parts together need at least as many people as they ask approvals of.
fn distinct_pool_lint(
    policy: &Policy,
    name: &str,
    parts: &[ApprovalRule],
    span: &Span,
    budget: &Cell<usize>,
    out: &mut Vec<Diagnostic>,
) {
    let mut people = BTreeSet::new();
    let mut needed = 0u32;
    for part in parts {
        match policy.resolve_rule(part) {
            ApprovalRule::Approvals { count, from, .. } => match pool(policy, &from, budget) {
                Some(p) => {
                    people.extend(p);
                    needed += count;
                }
                None => return,
            },
            _ => return,
        }
    }
    if (people.len() as u32) < needed {
        out.push(
            Diagnostic::new(
                codes::UNSATISFIABLE_RULE,
                format!(
                    "rule `{name}` needs {needed} different approvers, but its parts name only {} people",
                    people.len()
                ),
                span.clone(),
                "can never be satisfied",
            )
            .with_help("add people to the approving groups, or drop `distinct-approvers`"),
        );
    }
}

fn overlap_lints<'a>(
    items: impl Iterator<Item = (&'a str, i64, &'a Condition, Span)>,
    code: &'static str,
    what: &str,
    order_key: &str,
    out: &mut Vec<Diagnostic>,
) {
    let items: Vec<_> = items.collect();
    for (i, (a_id, a_rank, a_when, a_span)) in items.iter().enumerate() {
        for (b_id, b_rank, b_when, b_span) in items.iter().skip(i + 1) {
            if a_rank == b_rank && !exclusive(a_when, b_when) {
                out.push(
                    Diagnostic::new(
                        code,
                        format!("{what} `{a_id}` and `{b_id}` have the same {order_key} ({a_rank}) and can match the same change"),
                        b_span.clone(),
                        format!("`{b_id}`"),
                    )
                    .with_secondary(a_span.clone(), format!("`{a_id}`"))
                    .with_help(format!("give one of them a higher `{order_key}` so the choice is never arbitrary")),
                );
            }
        }
    }
}

/// A conservative test that no change can satisfy both conditions. `false` means "they
/// may overlap", including every case this check cannot decide. It proves exclusivity
/// only for: a condition and its `not`; two different values of the same trailer; two
/// different change kinds; two different authors who are people; and `all`/`any`
/// combinations of those.
///
/// Every pair of categories (and of risk levels) is compared, so each comparison has a
/// budget of steps ([`EXCLUSIVE_BUDGET`]); a comparison that runs out of it cannot decide,
/// and the conditions may overlap.
pub(crate) fn exclusive(a: &Condition, b: &Condition) -> bool {
    exclusive_within(a, b, &Cell::new(EXCLUSIVE_BUDGET))
}

/// Steps one comparison of two conditions may take (see [`exclusive`]).
const EXCLUSIVE_BUDGET: usize = 2_000;

fn spend(budget: &Cell<usize>) -> bool {
    match budget.get() {
        0 => false,
        left => {
            budget.set(left - 1);
            true
        }
    }
}

fn exclusive_within(a: &Condition, b: &Condition, budget: &Cell<usize>) -> bool {
    use Condition::*;
    if !spend(budget) {
        return false;
    }
    match (a, b) {
        (Not(x), y) | (y, Not(x)) if same(x, y, budget) => true,
        (All(xs), y) | (y, All(xs)) => xs.iter().any(|x| exclusive_within(x, y, budget)),
        (Any(xs), y) | (y, Any(xs)) => !xs.is_empty() && xs.iter().all(|x| exclusive_within(x, y, budget)),
        (Trailer { key: k1, value: Some(v1) }, Trailer { key: k2, value: Some(v2) }) => {
            k1.eq_ignore_ascii_case(k2) && !v1.eq_ignore_ascii_case(v2)
        }
        (Kind(k1), Kind(k2)) => k1 != k2,
        (Author(Subject::Person(p1)), Author(Subject::Person(p2))) => p1 != p2,
        _ => false,
    }
}

/// Whether two conditions are written the same (within the budget; `false` when it runs
/// out). Conditions are at most `MAX_NESTING` deep, so the recursion is bounded.
fn same(a: &Condition, b: &Condition, budget: &Cell<usize>) -> bool {
    use Condition::*;
    if !spend(budget) {
        return false;
    }
    match (a, b) {
        (Always, Always) => true,
        (PathsAny(x), PathsAny(y)) | (PathsOnly(x), PathsOnly(y)) => x.raw() == y.raw(),
        (Area(x), Area(y)) | (Label(x), Label(y)) | (Checkbox(x), Checkbox(y)) => x == y,
        (Trailer { key: k1, value: v1 }, Trailer { key: k2, value: v2 }) => k1 == k2 && v1 == v2,
        (Title(x), Title(y)) => x.as_str() == y.as_str(),
        (Author(x), Author(y)) => x == y,
        (Kind(x), Kind(y)) => x == y,
        (All(xs), All(ys)) | (Any(xs), Any(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same(x, y, budget))
        }
        (Not(x), Not(y)) => same(x, y, budget),
        _ => false,
    }
}

fn exception_lints(policy: &Policy, exception: &Exception, today: Option<Date>, out: &mut Vec<Diagnostic>) {
    let span = exception.span.clone();
    if let Some((group, limit)) = &exception.until_group_exceeds {
        let size = policy.groups.get(group).map(|g| g.members.len()).unwrap_or(0);
        if size > *limit {
            out.push(
                Diagnostic::new(
                    codes::EXCEPTION_GROUP_GREW,
                    format!("exception `{}` ended: @{group} has {size} members, more than {limit}", exception.id),
                    span.clone(),
                    "no longer in force",
                )
                .with_help("remove the exception, or re-authorize it with a new justification and approval"),
            );
        }
    }
    if let (Some(review_by), Some(today)) = (exception.review_by, today) {
        if review_by < today {
            out.push(
                Diagnostic::new(
                    codes::EXCEPTION_REVIEW_OVERDUE,
                    format!("exception `{}` was due for re-evaluation on {review_by}", exception.id),
                    span.clone(),
                    "review date passed",
                )
                .with_help("re-evaluate the exception and set a new `review-by`, or remove it"),
            );
        }
    }
    if exception.review_by.is_none() && exception.until_group_exceeds.is_none() {
        out.push(
            Diagnostic::new(
                codes::EXCEPTION_NO_END,
                format!("exception `{}` has no `review-by` date and no end condition", exception.id),
                span.clone(),
                "could become permanent",
            )
            .with_help("add `review-by = <date>` so the exception is re-evaluated (S000-18)"),
        );
    }
    let independent = exception.approved_by.iter().any(|a| !exception.people.contains(a));
    if !independent {
        let message = if exception.approved_by.is_empty() {
            format!("exception `{}` has no `approved-by`", exception.id)
        } else {
            format!("exception `{}` is approved only by the people it covers", exception.id)
        };
        out.push(
            Diagnostic::new(codes::EXCEPTION_SELF_APPROVED, message, span, "needs a second operator's approval")
                .with_help("add someone the exception does not cover to `approved-by`"),
        );
    }
}
