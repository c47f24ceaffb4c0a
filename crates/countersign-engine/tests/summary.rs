//! The audit summary counts what the evaluations report, and nothing else (S000-07: a
//! self-merge is allowed for trivial changes and is recorded).

mod common;

use common::*;
use countersign_engine::change::CheckStatus;
use countersign_engine::report::{Evaluation, Status};
use countersign_engine::summary::summarize;

const HOLLY: &str = "holly@send.tax";
const LIAM: &str = "liam@send.tax";
const BODY: &str =
    "## Intent\nFix it.\n## Testing\nUnit tests.\n## Operational risk\nLow.\n## Rollback plan\nRevert.\n";

fn says_self_merge(e: &Evaluation) -> bool {
    e.requirements.iter().any(|r| r.detail.as_deref().unwrap_or("").contains("self-merge"))
}

#[test]
fn s000_07_summary_counts_exactly_the_self_merges_the_evaluations_report() {
    let policy = example("two-person-saas");
    let docs = |b: B| b.body(BODY).paths(&["docs/typo.md"]).check("ci-required", CheckStatus::Success);
    let evals: Vec<Evaluation> = [
        // A trivial change Holly merged herself: allowed, recorded.
        docs(pr(1, HOLLY)).build(),
        // The same from git alone, merged by Liam without a review on record: the
        // allowance excuses the unknown review, so it is recorded as a self-merge too.
        docs(pr(2, HOLLY)).merged_by(LIAM).git_only().build(),
        // A standard change Holly merged without review: a violation, and a self-merge.
        pr(3, HOLLY).body(BODY).paths(&["st-apps/x.tsx"]).build(),
        // Reviewed by Liam: not a self-merge.
        docs(pr(4, HOLLY)).approved_by(LIAM).build(),
        // A trivial commit pushed straight to main is a direct push, not a self-merge.
        docs(direct(HOLLY)).build(),
    ]
    .iter()
    .map(|c| eval(&policy, c))
    .collect();

    let flags: Vec<bool> = evals.iter().map(|e| e.self_merge).collect();
    assert_eq!(flags, vec![true, true, true, false, false]);
    for e in &evals {
        if says_self_merge(e) {
            assert!(e.self_merge, "a requirement says self-merge (recorded) but the change is not recorded: {e:#?}");
        }
    }
    assert_eq!(status(&evals[1], "review"), Status::Waived);
    assert_eq!(status(&evals[4], "review"), Status::Missing, "the self-merge allowance does not cover a direct push");

    let summary = summarize(&evals);
    assert_eq!(summary.self_merges, evals.iter().filter(|e| e.self_merge).count());
    assert_eq!(summary.self_merges, 3);
    assert_eq!(summary.direct_pushes, 1);
}

#[test]
fn s000_07_reviewed_by_other_share_ignores_self_reviews() {
    let policy = example("two-person-saas");
    let evals: Vec<Evaluation> = [
        pr(1, HOLLY).body(BODY).paths(&["st-apps/x.tsx"]).approved_by("github:hgibbs").build(),
        pr(2, HOLLY).body(BODY).paths(&["st-apps/x.tsx"]).approved_by(LIAM).build(),
    ]
    .iter()
    .map(|c| eval(&policy, c))
    .collect();
    let summary = summarize(&evals);
    assert!((summary.reviewed_by_other_share - 0.5).abs() < f64::EPSILON, "{}", summary.reviewed_by_other_share);
}
