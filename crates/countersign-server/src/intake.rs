//! What a delivery becomes: the change it is about (registered in the store, so that one
//! change keeps one identity from the first event to the merge) and the evidence it
//! carries (approvals tied to the commit they were given on, check results).
//!
//! Pure: [`intake`] maps a normalised event to store requests; the worker writes them.
//! Each piece of evidence names the delivery it came from, so the entry can be traced to
//! the forge's exact words, and its idempotency key is derived from the delivery's, so a
//! job that runs twice records nothing twice.

use countersign_forge::webhook::{
    CheckAction, CheckOutcome, DeploymentState, Event, EventKind, PullRequestAction, ReviewState,
};
use countersign_store::ChangeRef;
use countersign_store::evidence::{self, ApprovalType, DeployStatus, Evidence, RecordRequest};
use jiff::Timestamp;

/// The store writes one delivery implies.
#[derive(Debug, Default, PartialEq)]
pub struct Intake {
    /// The change to register (or update) first.
    pub change: Option<ChangeRef>,
    /// Evidence about that change.
    pub records: Vec<RecordRequest>,
    /// What happened, for the delivery's outcome and the deliveries page.
    pub summary: String,
}

/// The change id a pull request is registered under: `owner/repo#N`.
pub fn pr_change_id(repository: &str, number: u64) -> String {
    format!("{repository}#{number}")
}

/// Map a delivery's event to store writes. `delivery` is `forge:id`; `received_at` is when
/// the server received it (used when the forge gives no time).
pub fn intake(event: &Event, delivery: &str, received_at: Timestamp) -> Intake {
    let forge = event.forge.name();
    let recorded_by = format!("{forge}-webhook");
    let Some(repository) = event.repository_name() else {
        return Intake { summary: kind_name(&event.kind).to_owned(), ..Intake::default() };
    };
    let record = |n: usize, change: &str, evidence: Evidence| RecordRequest {
        change: Some(change.to_owned()),
        recorded_by: recorded_by.clone(),
        recorded_at: countersign_store::whole_second(received_at),
        idempotency_key: Some(format!("delivery:{delivery}:{n}")),
        evidence,
    };
    let pr_change = |number: u64, head: Option<&str>, merge: Option<&str>| ChangeRef {
        id: pr_change_id(repository, number),
        repository: Some(repository.to_owned()),
        pr_number: Some(number),
        head_commit: head.map(str::to_owned),
        merge_commit: merge.map(str::to_owned),
        commits: head.into_iter().chain(merge).map(str::to_owned).collect(),
    };
    match &event.kind {
        EventKind::PullRequest(pr) => {
            let merge = match &pr.action {
                PullRequestAction::Merged { merge_commit_sha, .. } => merge_commit_sha.as_deref(),
                _ => None,
            };
            Intake {
                change: Some(pr_change(pr.number, pr.head_sha.as_deref(), merge)),
                records: Vec::new(),
                summary: format!("pull request {repository}#{} {}", pr.number, action_name(&pr.action)),
            }
        }
        EventKind::Review(review) => {
            let change = pr_change(review.number, review.head_sha.as_deref(), None);
            let mut records = Vec::new();
            // An approval is recorded with the commit it was given on; a dismissal, a
            // withdrawal or a request for changes takes the reviewer's earlier approvals
            // back; a comment says nothing either way.
            let when = review.submitted_at.or(event.time).or(Some(received_at));
            if let (ReviewState::Dismissed | ReviewState::Withdrawn | ReviewState::ChangesRequested, Some(reviewer)) =
                (review.state, &review.reviewer)
            {
                records.push(record(
                    0,
                    &change.id,
                    Evidence::ApprovalWithdrawn {
                        approver: reviewer.clone(),
                        reason: review.forge_state.clone(),
                        withdrawn_at: when,
                        delivery: Some(delivery.to_owned()),
                    },
                ));
            }
            if let (ReviewState::Approved, Some(reviewer)) = (review.state, &review.reviewer) {
                records.push(record(
                    0,
                    &change.id,
                    Evidence::Approval {
                        approver: reviewer.clone(),
                        approval: ApprovalType::Review,
                        commit: review.commit_sha.clone().or_else(|| review.head_sha.clone()),
                        approved_at: when,
                        note: None,
                        delivery: Some(delivery.to_owned()),
                    },
                ));
            }
            let who = review.reviewer.as_deref().unwrap_or("someone");
            Intake {
                summary: format!("review of {repository}#{} by {who}: {}", review.number, review.forge_state),
                change: Some(change),
                records,
            }
        }
        EventKind::Check(check) => {
            let status = match check.outcome {
                CheckOutcome::Pending => evidence::CheckOutcome::Pending,
                CheckOutcome::Success | CheckOutcome::Neutral => evidence::CheckOutcome::Success,
                CheckOutcome::Skipped => evidence::CheckOutcome::Skipped,
                CheckOutcome::Cancelled | CheckOutcome::Failure => evidence::CheckOutcome::Failure,
            };
            // A check tied to one pull request is evidence about it; otherwise about the
            // commit, which joins the change that later has it as its head.
            let change = match check.pull_requests.as_slice() {
                [number] => pr_change(*number, Some(&check.head_sha), None),
                _ => ChangeRef {
                    id: check.head_sha.clone(),
                    repository: Some(repository.to_owned()),
                    commits: vec![check.head_sha.clone()],
                    head_commit: Some(check.head_sha.clone()),
                    ..ChangeRef::default()
                },
            };
            let records = if check.action == CheckAction::Reported {
                vec![record(
                    0,
                    &change.id,
                    Evidence::Check {
                        name: check.name.clone(),
                        status,
                        commit: Some(check.head_sha.clone()),
                        url: check.url.clone(),
                        delivery: Some(delivery.to_owned()),
                    },
                )]
            } else {
                Vec::new()
            };
            Intake {
                summary: format!("check {} on {}: {}", check.name, short(&check.head_sha), check.forge_status),
                change: Some(change),
                records,
            }
        }
        // A deployment that finished is a deploy record: the gate's history, kept with
        // the forge's words. One still queued or running says nothing yet.
        EventKind::Deployment(d)
            if matches!(d.state, DeploymentState::Success | DeploymentState::Failure) && d.environment.is_some() =>
        {
            let environment = d.environment.clone().unwrap_or_default();
            let status =
                if d.state == DeploymentState::Success { DeployStatus::Success } else { DeployStatus::Failure };
            let records = vec![RecordRequest {
                change: None,
                recorded_by: recorded_by.clone(),
                recorded_at: countersign_store::whole_second(received_at),
                idempotency_key: Some(format!("delivery:{delivery}:0")),
                evidence: Evidence::Deploy {
                    environment: environment.clone(),
                    artifact_digest: d.artifact.clone(),
                    commit: d.sha.clone(),
                    deployed_at: event.time.or(Some(received_at)),
                    status: Some(status),
                    stage: None,
                    release: None,
                    via: None,
                    triggered_by: d.creator.clone(),
                    health_check: None,
                    repository: Some(repository.to_owned()),
                    delivery: Some(delivery.to_owned()),
                },
            }];
            Intake {
                summary: format!(
                    "deployment of {} to {environment}: {}",
                    d.sha.as_deref().map(short).unwrap_or("?"),
                    d.forge_state
                ),
                change: None,
                records,
            }
        }
        other => Intake { summary: format!("{} {repository}", kind_name(other)), ..Intake::default() },
    }
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

fn kind_name(kind: &EventKind) -> &'static str {
    match kind {
        EventKind::PullRequest(_) => "pull request",
        EventKind::Review(_) => "review",
        EventKind::Check(_) => "check",
        EventKind::Push(_) => "push",
        EventKind::MergeGroup(_) => "merge group",
        EventKind::Deployment(_) => "deployment",
        EventKind::DeploymentGate(_) => "deployment protection rule",
        EventKind::Installation(_) => "installation",
        EventKind::Ping(_) => "ping",
        EventKind::ProtectionChanged(_) => "protection change",
    }
}

fn action_name(action: &PullRequestAction) -> &'static str {
    match action {
        PullRequestAction::Opened => "opened",
        PullRequestAction::Reopened => "reopened",
        PullRequestAction::Edited => "edited",
        PullRequestAction::Synchronized { .. } => "got new commits",
        PullRequestAction::Labeled { .. } | PullRequestAction::Unlabeled { .. } | PullRequestAction::LabelsChanged => {
            "labels changed"
        }
        PullRequestAction::Closed => "closed",
        PullRequestAction::Merged { .. } => "merged",
        PullRequestAction::ReadyForReview => "ready for review",
        PullRequestAction::ConvertedToDraft => "converted to draft",
        PullRequestAction::StatusCheckRequested { .. } => "status check requested",
    }
}

#[cfg(test)]
mod tests {
    use countersign_forge::webhook::{Forge, Normalised, normalise};

    use super::*;

    fn fixture(path: &str) -> Vec<u8> {
        let full =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/webhooks").join(path);
        std::fs::read(&full).unwrap_or_else(|e| panic!("the shared fixture {} is missing ({e})", full.display()))
    }

    fn event(forge: Forge, name: &str, body: &[u8]) -> Event {
        match normalise(forge, name, body).expect("a valid payload") {
            Normalised::Event(e) => *e,
            other => panic!("not an event: {other:?}"),
        }
    }

    fn at() -> Timestamp {
        "2026-06-01T12:00:00Z".parse().unwrap()
    }

    /// S001-02-style staleness needs the commit each approval was given on: a GitHub
    /// review (the octokit example, its state set to approved) becomes the reviewer's
    /// approval of `review.commit_id`, from the delivery.
    #[test]
    fn s000_07_a_github_approval_is_the_reviewers_own_on_the_reviewed_commit() {
        let body = String::from_utf8(fixture("github/pull_request_review/submitted.payload.json"))
            .unwrap()
            .replace("\"state\": \"commented\"", "\"state\": \"approved\"");
        let e = event(Forge::GitHub, "pull_request_review", body.as_bytes());
        let got = intake(&e, "github:d-1", at());
        let change = got.change.expect("the pull request is registered");
        assert_eq!(change.id, "Codertocat/Hello-World#2");
        assert_eq!(change.pr_number, Some(2));
        assert_eq!(got.records.len(), 1);
        let r = &got.records[0];
        assert_eq!(r.change.as_deref(), Some("Codertocat/Hello-World#2"));
        assert_eq!(r.idempotency_key.as_deref(), Some("delivery:github:d-1:0"));
        match &r.evidence {
            Evidence::Approval { approver, approval, commit, approved_at, delivery, .. } => {
                assert_eq!(approver, "Codertocat");
                assert_eq!(*approval, ApprovalType::Review);
                assert_eq!(commit.as_deref(), Some("ec26c3e57ca3a959ca5aad62de7213c562f8c821"));
                assert_eq!(*approved_at, Some("2019-05-15T15:20:38Z".parse().unwrap()));
                assert_eq!(delivery.as_deref(), Some("github:d-1"));
            }
            other => panic!("not an approval: {other:?}"),
        }
    }

    #[test]
    fn a_comment_review_records_no_approval() {
        let e =
            event(Forge::GitHub, "pull_request_review", &fixture("github/pull_request_review/submitted.payload.json"));
        let got = intake(&e, "github:d-2", at());
        assert!(got.records.is_empty(), "{:?}", got.records);
        assert!(got.summary.contains("commented"), "{}", got.summary);
    }

    /// A dismissed GitHub review takes the reviewer's approval back: the forge's words are
    /// recorded as a withdrawal, tied to the delivery.
    #[test]
    fn s000_07_a_dismissed_review_withdraws_the_reviewers_approval() {
        let e =
            event(Forge::GitHub, "pull_request_review", &fixture("github/pull_request_review/dismissed.payload.json"));
        let got = intake(&e, "github:d-9", at());
        assert_eq!(got.records.len(), 1, "{:?}", got.records);
        let Evidence::ApprovalWithdrawn { approver, reason, delivery, .. } = &got.records[0].evidence else {
            panic!("not a withdrawal: {:?}", got.records[0].evidence);
        };
        assert_eq!((approver.as_str(), reason.as_str()), ("Codertocat", "dismissed"));
        assert_eq!(delivery.as_deref(), Some("github:d-9"));
        assert!(got.records[0].evidence.forge_only());
    }

    #[test]
    fn s000_10_a_completed_check_run_is_check_evidence_on_its_commit() {
        let e = event(Forge::GitHub, "check_run", &fixture("github/check_run/completed.payload.json"));
        let got = intake(&e, "github:d-3", at());
        let [r] = got.records.as_slice() else { panic!("{:?}", got.records) };
        match &r.evidence {
            Evidence::Check { name, commit, delivery, .. } => {
                assert_eq!(name, "Octocoders-linter");
                assert_eq!(commit.as_deref(), got.change.as_ref().and_then(|c| c.head_commit.as_deref()));
                assert_eq!(delivery.as_deref(), Some("github:d-3"));
            }
            other => panic!("not a check: {other:?}"),
        }
    }

    #[test]
    fn gitea_approval_and_gitlab_merge_request_register_their_change() {
        let e = event(
            Forge::Gitea,
            "pull_request_approved",
            &fixture("gitea/pull_request_review/approved.woodpecker.json"),
        );
        let got = intake(&e, "gitea:g-1", at());
        assert!(
            matches!(got.records.as_slice(), [RecordRequest { evidence: Evidence::Approval { .. }, .. }]),
            "{got:?}"
        );
        let e = event(Forge::GitLab, "Merge Request Hook", &fixture("gitlab/merge_request/open.docs-example.json"));
        let got = intake(&e, "gitlab:l-1", at());
        let change = got.change.expect("the merge request is registered");
        assert_eq!(change.id, format!("{}#{}", e.repository_name().unwrap(), change.pr_number.unwrap()));
        assert!(got.records.is_empty());
    }

    /// A finished deployment is a deploy record from the forge's own words, about no change:
    /// GitLab's documented Deployment Hook (staging, success, the commit from its URL) and
    /// GitHub's deployment_status example (its state set to failure).
    #[test]
    fn finished_deployments_become_deploy_records() {
        let e = event(Forge::GitLab, "Deployment Hook", &fixture("gitlab/deployment/docs-example.json"));
        let got = intake(&e, "gitlab:d-9", at());
        assert_eq!(got.records.len(), 1, "{}", got.summary);
        let r = &got.records[0];
        assert_eq!(r.change, None);
        match &r.evidence {
            Evidence::Deploy { environment, commit, status, delivery, repository, .. } => {
                assert_eq!(environment, "staging");
                assert_eq!(commit.as_deref(), Some("279484c09fbe69ededfced8c1bb6e6d24616b468"));
                assert_eq!(*status, Some(DeployStatus::Success));
                assert_eq!(delivery.as_deref(), Some("gitlab:d-9"));
                assert!(repository.is_some());
            }
            other => panic!("not a deploy: {other:?}"),
        }
        assert!(r.evidence.forge_only(), "only the server records a forge's deploy");

        let body = String::from_utf8(fixture("github/deployment_status/payload.json")).unwrap();
        let mut json: serde_json::Value = serde_json::from_str(&body).unwrap();
        json["deployment_status"]["state"] = "failure".into();
        let e = event(Forge::GitHub, "deployment_status", &serde_json::to_vec(&json).unwrap());
        let got = intake(&e, "github:d-10", at());
        match &got.records[0].evidence {
            Evidence::Deploy { status, .. } => assert_eq!(*status, Some(DeployStatus::Failure)),
            other => panic!("not a deploy: {other:?}"),
        }
        // One still running says nothing yet.
        json["deployment_status"]["state"] = "in_progress".into();
        let e = event(Forge::GitHub, "deployment_status", &serde_json::to_vec(&json).unwrap());
        assert!(intake(&e, "github:d-11", at()).records.is_empty());
    }
}
