//! Evidence records: the JSON a user or webhook hands to `record`, the in-toto statement
//! each becomes, and the conversion back into the engine's change model.
//!
//! The JSON form (for `countersign record --json`) is this crate's wire format: a flat
//! object with `kind` and the kind's fields, converted by hand into statements, so the
//! engine's types never change shape because the wire did.

use std::collections::BTreeMap;

#[cfg(feature = "engine")]
use countersign_engine::change::{Approval, ApprovalKind, CheckResult, CheckStatus, Identity};
use countersign_log::dsse::{Statement, Subject};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The predicate type URI for a kind: `https://countersign.dev/evidence/<kind>/v1`.
pub fn predicate_type(kind: &str) -> String {
    format!("https://countersign.dev/evidence/{kind}/v1")
}

/// Every kind of evidence the log holds.
pub const KINDS: &[&str] = &[
    "approval",
    "check",
    "deploy",
    "deploy-decision",
    "emergency",
    "console-change",
    "exception",
    "exception-approval",
    "obligation",
    "obligation-fulfilled",
    "policy-version",
    "policy-approval",
    "webhook-delivery",
    "approval-withdrawn",
    "reminder",
    "verdict",
    "report",
    "collector-run",
    "incident",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApprovalType {
    Review,
    Ack,
    EmergencyAuthorization,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeployStatus {
    Success,
    Failure,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HealthCheck {
    Pass,
    Fail,
}

/// One requirement of a gate decision, as the log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionRequirement {
    pub id: String,
    /// `met`, `missing`, `waived`, `unknown`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckOutcome {
    Success,
    Failure,
    Pending,
    Skipped,
}

/// One piece of evidence, by kind. Field names are the predicate's field names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Evidence {
    /// A review, an acknowledgment or an emergency authorization.
    #[serde(rename_all = "camelCase")]
    Approval {
        approver: String,
        #[serde(default = "default_approval_type")]
        approval: ApprovalType,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        commit: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        approved_at: Option<Timestamp>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        /// The webhook delivery (`forge:id`) the forge reported this review in. Set only by
        /// the server, from a delivery it authenticated and stored: the forge vouches for
        /// the reviewer, so the approval is the reviewer's own, not attested by a recorder.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delivery: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    Check {
        name: String,
        status: CheckOutcome,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        commit: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        /// The webhook delivery (`forge:id`) that reported it (set only by the server).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delivery: Option<String>,
    },
    /// A deploy that happened (`countersign deploy record`, a forge's deployment status).
    #[serde(rename_all = "camelCase")]
    Deploy {
        environment: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        artifact_digest: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        commit: Option<String>,
        /// When it completed (S004-11: the actual completion time).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deployed_at: Option<Timestamp>,
        /// `success` or `failure`; records written before this field were successes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<DeployStatus>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stage: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        release: Option<String>,
        /// The workflow or script it ran through.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        via: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        triggered_by: Option<String>,
        /// The health check after the deploy: `pass` or `fail`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        health_check: Option<HealthCheck>,
        /// The repository (`owner/repo`) it was deployed from, for stores that serve several.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        repository: Option<String>,
        /// The webhook delivery (`forge:id`) that reported it (set only by the server).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delivery: Option<String>,
    },
    /// What the deploy gate decided (`countersign deploy check`), with each requirement's
    /// status, so an auditor sees every allowed and refused deploy. Only the gate records
    /// these.
    #[serde(rename_all = "camelCase")]
    DeployDecision {
        environment: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        artifact_digest: Option<String>,
        commit: String,
        /// `allowed`, `refused` or `cannot-judge`.
        decision: String,
        requirements: Vec<DecisionRequirement>,
        /// The deployed range: from the environment's last successful deploy (absent for a
        /// first deploy) to `commit`, and how many changes it held.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        range_from: Option<String>,
        changes: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stage: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        release: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        via: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        triggered_by: Option<String>,
        /// SHA-256 of the policy text the gate judged with.
        policy_sha256: String,
        /// When the gate judged, the time its windows and freezes were measured at.
        decided_at: Timestamp,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        repository: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    Emergency {
        declared_by: String,
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        incident: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    ConsoleChange {
        system: String,
        description: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        changed_by: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        changed_at: Option<Timestamp>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ticket: Option<String>,
        /// The policy's other `[console] required-fields` (`why`, `how to undo`, …), by name.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        fields: BTreeMap<String, String>,
    },
    /// A request for an exception to the policy (S000-18): it waives `rule` until
    /// `review_by`, for the people and categories named (all when empty), once a second
    /// operator approves it with an `exception-approval` entry.
    #[serde(rename_all = "camelCase")]
    Exception {
        rule: String,
        justification: String,
        /// An approver named in the request itself. It never counts: no one records an
        /// approval in another person's name. Kept so that older entries still read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        approved_by: Option<String>,
        /// The last day it applies: its re-evaluation date (S000-18).
        review_by: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        people: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        categories: Vec<String>,
    },
    /// The recorder approves the exception requested in log entry `exception`.
    #[serde(rename_all = "camelCase")]
    ExceptionApproval { exception: u64 },
    #[serde(rename_all = "camelCase")]
    Obligation {
        obligation: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        due: Option<Timestamp>,
    },
    #[serde(rename_all = "camelCase")]
    ObligationFulfilled {
        obligation: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        /// When it was fulfilled, if earlier than it was recorded (a post-mortem held on
        /// Tuesday and recorded on Thursday). Deadlines are measured against this.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fulfilled_at: Option<Timestamp>,
    },
    #[serde(rename_all = "camelCase")]
    PolicyVersion { version: String, sha256: String },
    /// The recorder, a document approver of the policy, approves this published version
    /// (S004-14). Only `countersign policy approve` records these.
    #[serde(rename_all = "camelCase")]
    PolicyApproval { version: String, sha256: String },
    /// A webhook delivery as the server received it: the raw body is stored beside the
    /// log (`deliveries`), and this entry proves its bytes. Only the server records these.
    #[serde(rename_all = "camelCase")]
    WebhookDelivery { forge: String, delivery_id: String, event: String, sha256: String, size: u64 },
    /// A reviewer's earlier approvals of the change no longer count: the review was
    /// dismissed (GitHub), taken back (GitLab `unapproved`), or the reviewer has since asked
    /// for changes. Taken only from a forge's delivery, so only the server records these.
    #[serde(rename_all = "camelCase")]
    ApprovalWithdrawn {
        approver: String,
        /// The forge's word: `dismissed`, `unapproved`, `changes_requested`, …
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        withdrawn_at: Option<Timestamp>,
        /// The webhook delivery (`forge:id`) that reported it.
        delivery: Option<String>,
    },
    /// What countersign decided about a change at the time: the evaluation as the engine
    /// gave it (every requirement, its status and evidence), the SHA-256 of the policy it
    /// judged with, and the commits it judged, which are the statement's subjects. Only
    /// countersign records these: `audit --record`, and the server when a pull request
    /// merges.
    #[serde(rename_all = "camelCase")]
    Verdict {
        /// `compliant`, `evidence missing` or `violation`.
        verdict: String,
        policy_sha256: String,
        /// The commits judged: the change's own and, for a merge, the merge commit.
        commits: Vec<String>,
        /// The time it was judged as of.
        as_of: Timestamp,
        /// Who judged: `audit` (`audit --record`) or `merge` (the server, at merge).
        judged_at: String,
        /// The evaluation, as `audit --format json` prints one change.
        evaluation: serde_json::Value,
    },
    /// A production incident (`record incident`), about the change that caused it when one
    /// did (the entry's change): DORA's change fail rate and recovery time, and S003-10's
    /// monthly share of incidents caused by a change.
    #[serde(rename_all = "camelCase")]
    Incident {
        started_at: Timestamp,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resolved_at: Option<Timestamp>,
        description: String,
        /// Where it happened (default: the policy's production environment).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        environment: Option<String>,
        /// The incident's reference in its own tracker.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
    },
    /// A period report countersign wrote (`countersign report`): its SHA-256, so the file
    /// an auditor holds can be shown to be the one written. Only `report` records these.
    #[serde(rename_all = "camelCase")]
    Report {
        from: Timestamp,
        to: Timestamp,
        /// `json`, `md` or `html`.
        format: String,
        sha256: String,
        /// The population of changes it reports.
        changes: u64,
    },
    /// One run of a forge-settings collector (`countersign collect`): the forge's answers it
    /// read (each by its SHA-256) and what it found short of the policy. An empty `findings`
    /// is a clean run; a finding stays visible until a later run no longer reports it.
    #[serde(rename_all = "camelCase")]
    CollectorRun {
        collector: String,
        repository: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        branch: Option<String>,
        responses: Vec<CollectedResponse>,
        findings: Vec<CollectorFinding>,
        /// What an activity collector (`merge-activity`, `deployments`) saw in its window:
        /// the signed snapshot itself. Absent for the forge-settings collectors.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        snapshot: Option<ActivitySnapshot>,
    },
    /// A reminder the server sent about an emergency's obligation, due soon or overdue, to
    /// one notification target, recorded once the target took it. Each is sent once: its
    /// idempotency key names the obligation, the state and the target. Only the server
    /// records these.
    #[serde(rename_all = "camelCase")]
    Reminder {
        /// The emergency change the obligation belongs to (its id: a commit or `#PR`).
        emergency: String,
        obligation: String,
        /// `due-soon` or `overdue`.
        state: String,
        due: Timestamp,
        /// The target that took it: its format (`json`, `slack`) and the SHA-256 of its
        /// URL, never the URL itself (a Slack URL is a secret).
        target: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        repository: Option<String>,
    },
}

/// A forge answer a collector read: the request path, the HTTP status, the body's SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectedResponse {
    pub path: String,
    pub status: u16,
    pub sha256: String,
}

/// A window's activity as an activity collector saw it (S001-06): the changes merged into
/// the default branch (`merge-activity`) or the deploys recorded (`deployments`) in
/// `[from, to)`, each with what countersign knew of it then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivitySnapshot {
    pub from: Timestamp,
    pub to: Timestamp,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merges: Vec<SnapshotMerge>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deploys: Vec<SnapshotDeploy>,
}

/// One change merged in a snapshot's window, with its verdict at the time of the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotMerge {
    /// The change's id (its commit on the default branch, or `#PR`).
    pub change: String,
    /// The commit that was reviewed: the pull request's head, or the change's own commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    pub merged_at: Timestamp,
    pub category: String,
    pub verdict: String,
}

/// One deploy recorded in a snapshot's window: the log entry that holds it, and its facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotDeploy {
    pub entry: u64,
    pub environment: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    pub status: DeployStatus,
    pub deployed_at: Timestamp,
}

/// What a collector found short of the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectorFinding {
    pub id: String,
    pub message: String,
}

fn default_approval_type() -> ApprovalType {
    ApprovalType::Review
}

impl Evidence {
    pub fn kind(&self) -> &'static str {
        match self {
            Evidence::Approval { .. } => "approval",
            Evidence::Check { .. } => "check",
            Evidence::Deploy { .. } => "deploy",
            Evidence::DeployDecision { .. } => "deploy-decision",
            Evidence::Emergency { .. } => "emergency",
            Evidence::ConsoleChange { .. } => "console-change",
            Evidence::Exception { .. } => "exception",
            Evidence::ExceptionApproval { .. } => "exception-approval",
            Evidence::Obligation { .. } => "obligation",
            Evidence::ObligationFulfilled { .. } => "obligation-fulfilled",
            Evidence::PolicyVersion { .. } => "policy-version",
            Evidence::PolicyApproval { .. } => "policy-approval",
            Evidence::WebhookDelivery { .. } => "webhook-delivery",
            Evidence::ApprovalWithdrawn { .. } => "approval-withdrawn",
            Evidence::Reminder { .. } => "reminder",
            Evidence::Verdict { .. } => "verdict",
            Evidence::Report { .. } => "report",
            Evidence::CollectorRun { .. } => "collector-run",
            Evidence::Incident { .. } => "incident",
        }
    }

    /// Whether this kind must name a registered change.
    pub fn needs_change(&self) -> bool {
        !matches!(
            self,
            Evidence::ConsoleChange { .. }
                | Evidence::PolicyVersion { .. }
                | Evidence::PolicyApproval { .. }
                | Evidence::WebhookDelivery { .. }
                | Evidence::Deploy { .. }
                | Evidence::DeployDecision { .. }
                | Evidence::Exception { .. }
                | Evidence::ExceptionApproval { .. }
                | Evidence::Reminder { .. }
                | Evidence::Report { .. }
                | Evidence::CollectorRun { .. }
                | Evidence::Incident { .. }
        )
    }

    /// Whether only the server may record this: a delivery itself, evidence taken from one,
    /// and withdrawals of approval (which only a forge reports).
    pub fn forge_only(&self) -> bool {
        matches!(self, Evidence::WebhookDelivery { .. } | Evidence::ApprovalWithdrawn { .. })
            || self.delivery().is_some()
    }

    /// The webhook delivery this evidence was taken from, if the server took it from one.
    pub fn delivery(&self) -> Option<&str> {
        match self {
            Evidence::Approval { delivery, .. }
            | Evidence::Check { delivery, .. }
            | Evidence::Deploy { delivery, .. }
            | Evidence::ApprovalWithdrawn { delivery, .. } => delivery.as_deref(),
            _ => None,
        }
    }

    fn commit(&self) -> Option<&str> {
        match self {
            Evidence::Approval { commit, .. } | Evidence::Check { commit, .. } | Evidence::Deploy { commit, .. } => {
                commit.as_deref()
            }
            _ => None,
        }
    }
}

impl Evidence {
    /// A console change's fields by the names a policy's `required-fields` use (lower
    /// case): `who`, `when`, `provider`, `what` and `what changed`, `ticket`, and the rest
    /// as recorded. Empty values are left out. `None` for other kinds.
    pub fn console_fields(&self) -> Option<BTreeMap<String, String>> {
        let Evidence::ConsoleChange { system, description, changed_by, changed_at, ticket, fields } = self else {
            return None;
        };
        let mut out: BTreeMap<String, String> = fields
            .iter()
            .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_owned()))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        let mut put = |names: &[&str], value: Option<String>| {
            if let Some(value) = value.filter(|v| !v.trim().is_empty()) {
                for name in names {
                    out.entry((*name).to_owned()).or_insert_with(|| value.clone());
                }
            }
        };
        put(&["provider", "system"], Some(system.clone()));
        put(&["what", "what changed", "description"], Some(description.clone()));
        put(&["who", "changed by"], changed_by.clone());
        put(&["when"], changed_at.map(|t| t.to_string()));
        put(&["ticket"], ticket.clone());
        Some(out)
    }
}

/// A request to record one piece of evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordRequest {
    /// The change it is about (a change id or one of its commits); required unless the
    /// kind is `console-change` or `policy-version`.
    pub change: Option<String>,
    pub recorded_by: String,
    pub recorded_at: Timestamp,
    pub idempotency_key: Option<String>,
    pub evidence: Evidence,
}

/// The JSON document `record --json` accepts: the evidence fields plus these.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordDocument {
    #[serde(default)]
    pub change: Option<String>,
    #[serde(default)]
    pub recorded_by: Option<String>,
    #[serde(default)]
    pub idempotency_key: Option<String>,
    #[serde(flatten)]
    pub evidence: Evidence,
}

/// A change as the log's subject sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubjectChange {
    pub id: String,
    pub head_commit: Option<String>,
}

/// Lower-case hex SHA-256, as the log names bodies and files.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn is_commit_id(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Build the in-toto statement for a request about `change` (already resolved).
pub fn statement_for(request: &RecordRequest, change: Option<&SubjectChange>) -> Statement {
    let evidence = &request.evidence;
    let subject = match (evidence, change) {
        (Evidence::PolicyVersion { version, sha256 } | Evidence::PolicyApproval { version, sha256 }, _) => Subject {
            name: format!("policy:{version}"),
            digest: BTreeMap::from([("sha256".to_owned(), sha256.clone())]),
        },
        (Evidence::WebhookDelivery { forge, delivery_id, sha256, .. }, _) => Subject {
            name: format!("delivery:{forge}:{delivery_id}"),
            digest: BTreeMap::from([("sha256".to_owned(), sha256.clone())]),
        },
        (Evidence::Deploy { environment, artifact_digest, commit, .. }, None) => {
            deploy_subject(environment, artifact_digest.as_deref(), commit.as_deref())
        }
        (Evidence::DeployDecision { environment, artifact_digest, commit, .. }, _) => {
            deploy_subject(environment, artifact_digest.as_deref(), Some(commit))
        }
        (Evidence::Exception { rule, justification, .. }, None) => Subject {
            name: format!("exception:{rule}"),
            digest: BTreeMap::from([("sha256".to_owned(), sha256_hex(justification.as_bytes()))]),
        },
        (Evidence::ExceptionApproval { exception }, _) => Subject {
            name: format!("exception:#{exception}"),
            digest: BTreeMap::from([("sha256".to_owned(), sha256_hex(exception.to_string().as_bytes()))]),
        },
        (Evidence::CollectorRun { collector, repository, responses, snapshot, .. }, _) => Subject {
            name: format!("collector:{collector}:{repository}"),
            digest: BTreeMap::from([(
                "sha256".to_owned(),
                match snapshot {
                    // The snapshot is what was collected: its digest names it.
                    Some(snapshot) => sha256_hex(&serde_json::to_vec(snapshot).unwrap_or_default()),
                    None => {
                        sha256_hex(responses.iter().map(|r| r.sha256.as_str()).collect::<Vec<_>>().join(",").as_bytes())
                    }
                },
            )]),
        },
        (Evidence::Report { from, to, sha256, .. }, _) => Subject {
            name: format!("report:{from}..{to}"),
            digest: BTreeMap::from([("sha256".to_owned(), sha256.clone())]),
        },
        (Evidence::Reminder { emergency, obligation, state, .. }, _) => Subject {
            name: format!("obligation:{emergency}:{obligation}"),
            digest: BTreeMap::from([("sha256".to_owned(), sha256_hex(state.as_bytes()))]),
        },
        (Evidence::Incident { started_at, description, reference, .. }, None) => Subject {
            name: format!("incident:{}", reference.clone().unwrap_or_else(|| started_at.to_string())),
            digest: BTreeMap::from([("sha256".to_owned(), sha256_hex(description.as_bytes()))]),
        },
        (Evidence::ConsoleChange { system, description, .. }, None) => Subject {
            name: format!("console:{system}"),
            digest: BTreeMap::from([("sha256".to_owned(), sha256_hex(description.as_bytes()))]),
        },
        (_, Some(change)) => {
            let commit = evidence
                .commit()
                .or(change.head_commit.as_deref())
                .or(Some(change.id.as_str()).filter(|id| is_commit_id(id)));
            let digest = match commit {
                Some(c) if is_commit_id(c) => BTreeMap::from([("gitCommit".to_owned(), c.to_owned())]),
                _ => BTreeMap::from([("sha256".to_owned(), sha256_hex(change.id.as_bytes()))]),
            };
            Subject { name: change.id.clone(), digest }
        }
        (_, None) => Subject { name: "unknown".into(), digest: BTreeMap::new() },
    };
    // A verdict's subjects are every commit it judged.
    let mut subjects = vec![subject];
    if let (Evidence::Verdict { commits, .. }, Some(change)) = (evidence, change) {
        let judged: Vec<Subject> = commits
            .iter()
            .filter(|c| is_commit_id(c))
            .map(|c| Subject { name: change.id.clone(), digest: BTreeMap::from([("gitCommit".to_owned(), c.clone())]) })
            .collect();
        if !judged.is_empty() {
            subjects = judged;
        }
    }
    let mut predicate = serde_json::to_value(evidence).expect("evidence serializes to a JSON object");
    if let Some(map) = predicate.as_object_mut() {
        map.remove("kind");
        if let Some(change) = change {
            map.insert("change".into(), change.id.clone().into());
        }
        map.insert("recordedBy".into(), request.recorded_by.clone().into());
        map.insert("recordedAt".into(), request.recorded_at.to_string().into());
        if let Some(key) = &request.idempotency_key {
            map.insert("idempotencyKey".into(), key.clone().into());
        }
    }
    Statement::new(subjects, predicate_type(evidence.kind()), predicate)
}

/// A deploy's subject: the artifact's digest and the commit it was built from.
fn deploy_subject(environment: &str, artifact: Option<&str>, commit: Option<&str>) -> Subject {
    let mut digest = BTreeMap::new();
    if let Some(hex) = artifact.and_then(|a| a.strip_prefix("sha256:")).filter(|h| is_commit_id(h) && h.len() == 64) {
        digest.insert("sha256".to_owned(), hex.to_owned());
    }
    if let Some(commit) = commit.filter(|c| is_commit_id(c)) {
        digest.insert("gitCommit".to_owned(), commit.to_owned());
    }
    if digest.is_empty() {
        digest.insert("sha256".to_owned(), sha256_hex(environment.as_bytes()));
    }
    Subject { name: format!("deploy:{environment}"), digest }
}

/// Evidence read back from the log, with where it sits.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvidence {
    pub index: u64,
    pub change_id: Option<String>,
    pub recorded_by: String,
    pub recorded_at: Timestamp,
    pub evidence: Evidence,
}

/// Read evidence back from a statement's predicate.
pub fn evidence_from_statement(statement: &Statement) -> Option<(Evidence, Option<String>, String, Option<Timestamp>)> {
    let kind = statement.predicate_type.strip_prefix("https://countersign.dev/evidence/")?.strip_suffix("/v1")?;
    let mut predicate = statement.predicate.clone();
    let map = predicate.as_object_mut()?;
    let change = map.remove("change").and_then(|v| v.as_str().map(str::to_owned));
    let by = map.remove("recordedBy").and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    let at = map.remove("recordedAt").and_then(|v| v.as_str().and_then(|s| s.parse().ok()));
    map.remove("idempotencyKey");
    map.insert("kind".into(), kind.into());
    let evidence = serde_json::from_value(predicate).ok()?;
    Some((evidence, change, by, at))
}

#[cfg(feature = "engine")]
/// `Name <email>`, an email, or a login, as the engine reads people in trailers.
pub use countersign_engine::evaluate::parse_identity;

#[cfg(feature = "engine")]
impl RecordedEvidence {
    fn source(&self) -> String {
        match self.evidence.delivery() {
            Some(delivery) => format!("webhook delivery {delivery}, logged as entry #{}", self.index),
            None => format!("recorded entry #{} by {}", self.index, self.recorded_by),
        }
    }

    /// As an engine approval, if this is one.
    pub fn to_approval(&self) -> Option<Approval> {
        let Evidence::Approval { approver, approval, commit, approved_at, delivery, .. } = &self.evidence else {
            return None;
        };
        let kind = match approval {
            ApprovalType::Review => ApprovalKind::Review,
            ApprovalType::Ack => ApprovalKind::Ack,
            ApprovalType::EmergencyAuthorization => ApprovalKind::EmergencyAuthorization,
        };
        Some(Approval {
            by: parse_identity(approver),
            kind,
            commit: commit.clone(),
            time: Some(approved_at.unwrap_or(self.recorded_at)),
            source: self.source(),
            // From a delivery the forge signed, the approval is the reviewer's own act on
            // the forge; otherwise whoever recorded it is named (attested, if not the approver).
            recorded_by: delivery.is_none().then(|| parse_identity(&self.recorded_by)),
        })
    }

    /// The approver whose earlier approvals this withdraws, as the engine names people.
    pub fn withdrawn_approver(&self) -> Option<Identity> {
        let Evidence::ApprovalWithdrawn { approver, .. } = &self.evidence else { return None };
        Some(parse_identity(approver))
    }

    /// As an engine check result, if this is one.
    pub fn to_check(&self) -> Option<CheckResult> {
        let Evidence::Check { name, status, commit, .. } = &self.evidence else {
            return None;
        };
        let status = match status {
            CheckOutcome::Success => CheckStatus::Success,
            CheckOutcome::Failure => CheckStatus::Failure,
            CheckOutcome::Pending => CheckStatus::Pending,
            CheckOutcome::Skipped => CheckStatus::Skipped,
        };
        Some(CheckResult {
            name: name.clone(),
            status,
            commit: commit.clone(),
            source: self.source(),
            at: Some(self.recorded_at),
        })
    }
}

#[cfg(feature = "engine")]
impl RecordedEvidence {
    /// As an engine obligation fulfilment, if this is one.
    pub fn to_fulfilment(&self) -> Option<countersign_engine::change::Fulfilment> {
        let Evidence::ObligationFulfilled { obligation, fulfilled_at, .. } = &self.evidence else {
            return None;
        };
        Some(countersign_engine::change::Fulfilment {
            obligation: obligation.clone(),
            time: Some(fulfilled_at.unwrap_or(self.recorded_at)),
            source: self.source(),
        })
    }

    /// Where an emergency declaration was read, if this is one.
    pub fn emergency_declaration(&self) -> Option<String> {
        let Evidence::Emergency { declared_by, .. } = &self.evidence else {
            return None;
        };
        Some(format!("by {declared_by}, {}", self.source()))
    }

    /// An emergency declaration, as the declarer's authorization.
    pub fn to_emergency_authorization(&self) -> Option<Approval> {
        let Evidence::Emergency { declared_by, .. } = &self.evidence else {
            return None;
        };
        Some(Approval {
            by: parse_identity(declared_by),
            kind: ApprovalKind::EmergencyAuthorization,
            commit: None,
            time: Some(self.recorded_at),
            source: self.source(),
            recorded_by: Some(parse_identity(&self.recorded_by)),
        })
    }
}

#[cfg(feature = "engine")]
impl From<&RecordedEvidence> for Option<Approval> {
    fn from(e: &RecordedEvidence) -> Self {
        e.to_approval()
    }
}

#[cfg(feature = "engine")]
impl From<&RecordedEvidence> for Option<CheckResult> {
    fn from(e: &RecordedEvidence) -> Self {
        e.to_check()
    }
}
