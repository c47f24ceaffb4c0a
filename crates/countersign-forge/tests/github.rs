//! `gh pr view --json` into a change.

use countersign_engine::change::{ApprovalKind, ChangeKind, CheckStatus};
use countersign_forge::github::GhPullRequest;

const FIXTURE: &[u8] = include_bytes!("data/gh-pr-view.json");

#[test]
fn gh_pr_view_json_becomes_a_change() {
    let change = GhPullRequest::from_json(FIXTURE).expect("parse").into_change();
    assert_eq!(change.kind, Some(ChangeKind::PullRequest));
    assert_eq!(change.pr_number, Some(128));
    assert_eq!(change.id, "pr#128");
    assert_eq!(change.labels, vec!["security"]);
    assert_eq!(change.author.as_ref().and_then(|a| a.login.as_deref()), Some("github:hgibbs"));
    // Only APPROVED reviews count, and each keeps the commit it was given on (stale detection).
    assert_eq!(change.approvals.len(), 1);
    assert_eq!(change.approvals[0].kind, ApprovalKind::Review);
    assert_eq!(change.approvals[0].commit.as_deref(), Some("1111111111111111111111111111111111111111"));
    assert_eq!(change.head_commit.as_deref(), Some("2222222222222222222222222222222222222222"));
    let status = |n: &str| change.checks.iter().find(|c| c.name == n).map(|c| c.status);
    // Check runs are named as GitHub shows them, `workflow / job`; statuses by context.
    assert_eq!(status("backend-ci / lint-type"), Some(CheckStatus::Success));
    assert_eq!(status("frontend-ci / e2e"), Some(CheckStatus::Skipped));
    assert_eq!(status("ci/legacy"), Some(CheckStatus::Failure));
    assert!(change.completeness.reviews && change.completeness.checks && change.completeness.description);
    assert_eq!(change.commits.len(), 2);
    assert_eq!(change.commits[0].author.email.as_deref(), Some("holly@send.tax"));
}

#[test]
fn missing_fields_are_incomplete_not_errors() {
    let change = GhPullRequest::from_json(br#"{"number": 3, "title": "x"}"#).expect("parse").into_change();
    assert!(!change.completeness.reviews, "reviews were not requested, so their absence proves nothing");
    assert!(!change.completeness.checks);
    assert!(GhPullRequest::from_json(br#"{"title": "x"}"#).is_err(), "number is required");
    assert!(GhPullRequest::from_json(b"[1,2]").is_err());
}

proptest::proptest! {
    #[test]
    fn parser_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
        let _ = GhPullRequest::from_json(&bytes).map(GhPullRequest::into_change);
    }

    #[test]
    fn parser_never_panics_on_mutated_fixture(pos in 0usize..4096, byte in proptest::num::u8::ANY) {
        let mut bytes = FIXTURE.to_vec();
        let i = pos % bytes.len();
        bytes[i] = byte;
        let _ = GhPullRequest::from_json(&bytes).map(GhPullRequest::into_change);
    }
}
