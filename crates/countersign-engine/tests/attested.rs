//! Approvals recorded by one person in another's name (issue 7, S000-07). An approval in
//! the evidence store whose recorder is not the approver is *attested*: its only evidence
//! is the recorder's word. By default (`attested-approvals =
//! "not-for-author-excluding-rules"`) it does not count where the approver must be someone
//! other than the author, so an author cannot review their own change by recording a
//! colleague's approval. Who is who comes from emails and logins, never display names.

mod common;

use common::*;
use countersign_engine::change::{ApprovalKind, Identity};
use countersign_engine::report::{Evaluation, Status};
use countersign_policy::model::Policy;

const HOLLY: &str = "holly@acme.test";
const BOB: &str = "bob@acme.test";
const LIAM: &str = "liam@acme.test";

/// Holly, Bob and Liam; every change needs one approval from someone other than its author,
/// and the `storage/` area is Bob's and sensitive.
fn policy(evidence: &str, peer_rule: &str) -> Policy {
    let text = format!(
        r#"[policy]
organization = "Acme"
effective = 2026-01-01

[people.holly]
emails = "{HOLLY}"

[people.bob]
emails = "{BOB}"
logins = "github:bobby"

[people.liam]
emails = "{LIAM}"

[rules.peer]
{peer_rule}

[[categories]]
id = "standard"
default = true
require = "peer"

[[areas]]
name = "storage"
paths = ["/storage/"]
owners = ["bob"]
sensitive = true
{evidence}"#
    );
    policy_from("countersign.toml", &text)
}

fn default_policy() -> Policy {
    policy("", "approvals = 1")
}

/// Holly's change, with a review Bob did not record himself.
fn recorded_for_bob(recorder: &str) -> B {
    pr(1, HOLLY).paths(&["src/app.rs"]).recorded_approval(ApprovalKind::Review, ident(BOB), ident(recorder))
}

fn review(e: &Evaluation) -> (Status, String, String) {
    let r = req(e, "review");
    (r.status, r.evidence.join(" | "), r.detail.clone().unwrap_or_default())
}

#[test]
fn s000_07_an_approval_the_author_records_in_bobs_name_does_not_count_by_default() {
    let e = eval(&default_policy(), &recorded_for_bob(HOLLY).build());
    let (status, _, detail) = review(&e);
    assert_eq!(status, Status::Missing, "{e:#?}");
    assert!(detail.contains("recorded by holly in bob's name (attested)"), "{detail}");
    assert!(detail.contains("does not count where the approver must be someone other than the author"), "{detail}");
    assert!(!e.reviewed_by_other, "an attested approval does not show independent review");
}

#[test]
fn s000_07_an_approval_someone_else_records_in_bobs_name_is_attested_too() {
    // Liam is not the author, but the evidence is still only his word for Bob's review;
    // and a recorder the policy does not know is no better.
    for recorder in [LIAM, "ops-bot@ci.example"] {
        let e = eval(&default_policy(), &recorded_for_bob(recorder).build());
        let (status, _, detail) = review(&e);
        assert_eq!(status, Status::Missing, "{recorder}: {e:#?}");
        assert!(detail.contains("in bob's name (attested)"), "{detail}");
    }
}

#[test]
fn s000_07_attested_approvals_count_with_always_and_say_so() {
    let policy = policy("\n[evidence]\nattested-approvals = \"always\"\n", "approvals = 1");
    let e = eval(&policy, &recorded_for_bob(HOLLY).build());
    let (status, evidence, _) = review(&e);
    assert_eq!(status, Status::Met, "{e:#?}");
    assert!(
        evidence.contains("approved by bob (recorded entry #7; recorded by holly in bob's name (attested))"),
        "{evidence}"
    );
    // The report says who recorded it in the JSON too: it is in the requirement's evidence.
    let json = serde_json::to_value(&e).expect("json");
    let review = json["requirements"].as_array().expect("list").iter().find(|r| r["id"] == "review").expect("review");
    assert!(review["evidence"][0].as_str().unwrap_or("").contains("recorded by holly"), "{review}");
}

#[test]
fn s000_07_an_approval_bob_records_himself_counts() {
    // By email, or by his login: the same person either way.
    for recorder in [ident(BOB), login("github:bobby")] {
        let change = pr(1, HOLLY).paths(&["src/app.rs"]).recorded_approval(ApprovalKind::Review, ident(BOB), recorder);
        let e = eval(&default_policy(), &change.build());
        let (status, evidence, _) = review(&e);
        assert_eq!(status, Status::Met, "{e:#?}");
        assert!(!evidence.contains("attested"), "{evidence}");
        assert!(e.reviewed_by_other);
    }
}

#[test]
fn s000_07_a_display_name_does_not_make_the_recorder_bob() {
    let someone = Identity { name: Some("Bob".into()), email: None, login: None };
    let change = pr(1, HOLLY).paths(&["src/app.rs"]).recorded_approval(ApprovalKind::Review, ident(BOB), someone);
    let e = eval(&default_policy(), &change.build());
    assert_eq!(review(&e).0, Status::Missing, "{e:#?}");
}

#[test]
fn s000_07_attested_approvals_count_where_the_author_is_not_excluded() {
    // A rule that does not exclude the author does not ask for independence: by default an
    // attested approval counts there, and the evidence says whose word it is.
    let open = "approvals = 1\nfrom = \"bob\"\nexclude-author = false";
    let e = eval(&policy("", open), &recorded_for_bob(HOLLY).build());
    let (status, evidence, _) = review(&e);
    assert_eq!(status, Status::Met, "{e:#?}");
    assert!(evidence.contains("recorded by holly in bob's name (attested)"), "{evidence}");
    // `never` refuses it everywhere.
    let never = policy("\n[evidence]\nattested-approvals = \"never\"\n", open);
    let e = eval(&never, &recorded_for_bob(LIAM).build());
    let (status, _, detail) = review(&e);
    assert_ne!(status, Status::Met, "{e:#?}");
    assert!(detail.contains("the policy does not count attested approvals"), "{detail}");
    // A rule that excludes committers asks for independence as well.
    let committers = "approvals = 1\nfrom = \"bob\"\nexclude-author = false\nexclude-committers = true";
    assert_eq!(review(&eval(&policy("", committers), &recorded_for_bob(HOLLY).build())).0, Status::Missing);
}

#[test]
fn s000_08_an_owner_acknowledgment_recorded_in_the_owners_name_is_attested() {
    let change = |recorder: &str| {
        pr(1, HOLLY)
            .paths(&["storage/db.rs"])
            .approved_by(LIAM)
            .recorded_approval(ApprovalKind::Ack, ident(BOB), ident(recorder))
            .build()
    };
    let e = eval(&default_policy(), &change(HOLLY));
    let ack = req(&e, "owner-ack:storage");
    assert_eq!(ack.status, Status::Missing, "{e:#?}");
    assert!(ack.detail.as_deref().unwrap_or("").contains("recorded by holly in bob's name (attested)"), "{ack:?}");
    let e = eval(&default_policy(), &change(BOB));
    assert_eq!(status(&e, "owner-ack:storage"), Status::Met, "{e:#?}");
}

#[test]
fn s000_07_an_unknown_attested_approvals_setting_is_an_error() {
    let text =
        "[policy]\norganization = \"A\"\neffective = 2026-01-01\n\n[evidence]\nattested-approvals = \"sometimes\"\n";
    let failed = countersign_policy::parse("countersign.toml", text).expect_err("invalid setting");
    assert_eq!(failed.errors[0].code, "CS-E018");
    assert!(failed.errors[0].help.as_deref().unwrap_or("").contains("never, not-for-author-excluding-rules, always"));
}
