//! Emergency self-authorization (issue 7, S000-14, S000-07). An authorized emergency waives
//! review, so who authorized it matters: by default (`[emergency] self-authorization =
//! false`) the change's author cannot authorize their own emergency, even when they are an
//! authorizer. The author is recognized by email or login, never by display name. The
//! report records every authorization: who, from where, who recorded it, and whether it
//! counted.

mod common;

use common::*;
use countersign_engine::change::ApprovalKind;
use countersign_engine::evaluate::parse_identity;
use countersign_engine::report::{Evaluation, Status, Verdict};
use countersign_policy::model::Policy;

const HOLLY: &str = "holly@send.tax";
const LIAM: &str = "liam@send.tax";

/// Holly's emergency (both founders are incident commanders), with CI green.
fn emergency(n: u64) -> B {
    pr(n, HOLLY)
        .body("## Intent\nFix it.\n## Testing\nUnit tests.\n## Operational risk\nLow.\n## Rollback plan\nRevert.\n")
        .paths(&["st-apps/web/x.tsx"])
        .label("emergency")
        .checks_pass(&["ci-required", "frontend-ci / lint"])
}

fn two_person_saas_with(extra: &str, emergency_setting: &str) -> Policy {
    let text = example_text("two-person-saas").replace(
        "authorization-trailer = \"Emergency-Authorized-By\"\n",
        &format!("authorization-trailer = \"Emergency-Authorized-By\"\n{emergency_setting}\n"),
    );
    policy_from("two-person-saas.toml", &format!("{text}\n{extra}"))
}

fn example_text(name: &str) -> String {
    let path = format!("{}/../../examples/policies/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn authorization(e: &Evaluation) -> (Status, String) {
    let r = req(e, "emergency-authorization");
    (r.status, r.detail.clone().unwrap_or_default())
}

#[test]
fn s000_14_the_author_cannot_authorize_their_own_emergency() {
    let policy = example("two-person-saas");
    // A trailer by email, by login, and a recorded authorization or declaration by Holly.
    let changes = [
        emergency(1).trailer("Emergency-Authorized-By", "Holly Gibbs <holly@send.tax>"),
        emergency(2).trailer("Emergency-Authorized-By", "hgibbs"),
        emergency(3).recorded_approval(ApprovalKind::EmergencyAuthorization, ident(HOLLY), ident(HOLLY)),
    ];
    for change in changes {
        let e = eval(&policy, &change.build());
        let (status, detail) = authorization(&e);
        assert_eq!(status, Status::Missing, "{e:#?}");
        assert_eq!(
            detail, "authorized by the author (holly), and the policy does not allow self-authorization",
            "{e:#?}"
        );
        assert_eq!(status_of_review(&e), Status::Missing, "nothing is waived");
        assert_eq!(e.verdict, Verdict::Violation);
        assert_eq!(e.emergency_authorizations.len(), 1);
        assert!(!e.emergency_authorizations[0].counted);
    }
}

fn status_of_review(e: &Evaluation) -> Status {
    status(e, "review")
}

#[test]
fn s000_14_another_commander_authorizes_and_the_report_says_who() {
    let e = eval(&example("two-person-saas"), &emergency(1).trailer("Emergency-Authorized-By", LIAM).build());
    assert_eq!(authorization(&e).0, Status::Met, "{e:#?}");
    assert_eq!(
        req(&e, "emergency-authorization").evidence,
        vec!["authorized by liam (Emergency-Authorized-By trailer in 0000000000)"]
    );
    assert_eq!(status_of_review(&e), Status::Waived);
    let json = serde_json::to_value(&e).expect("json");
    let record = &json["emergency_authorizations"][0];
    assert_eq!(record["by"], "liam");
    assert_eq!(record["counted"], true);
    assert_eq!(record["attested"], false);
    assert!(record["source"].as_str().unwrap_or("").contains("Emergency-Authorized-By trailer"), "{record}");
    // A change with no authorization has no such list in its JSON.
    let json = serde_json::to_value(eval(&example("two-person-saas"), &emergency(2).build())).expect("json");
    assert!(json.get("emergency_authorizations").is_none(), "{json:#}");
}

#[test]
fn s000_14_self_authorization_can_be_allowed() {
    let policy = two_person_saas_with("", "self-authorization = true");
    let e = eval(&policy, &emergency(1).trailer("Emergency-Authorized-By", HOLLY).build());
    assert_eq!(authorization(&e).0, Status::Met, "{e:#?}");
    assert_eq!(status_of_review(&e), Status::Waived);
    assert!(countersign_policy::render::explain(&policy).contains("self-authorization: allowed"));
}

#[test]
fn s000_14_an_authorization_the_author_records_in_the_commanders_name_does_not_count() {
    let policy = example("two-person-saas");
    let change =
        emergency(1).recorded_approval(ApprovalKind::EmergencyAuthorization, ident(LIAM), ident(HOLLY)).build();
    let e = eval(&policy, &change);
    let (status, detail) = authorization(&e);
    assert_eq!(status, Status::Missing, "{e:#?}");
    assert!(detail.contains("recorded by holly in liam's name (attested)"), "{detail}");
    assert!(detail.contains("the policy does not allow self-authorization"), "{detail}");
    let record = &e.emergency_authorizations[0];
    assert_eq!((record.by.as_str(), record.recorded_by.as_deref(), record.attested), ("liam", Some("holly"), true));
    // Liam recording his own authorization is not attested, and counts.
    let change = emergency(2).recorded_approval(ApprovalKind::EmergencyAuthorization, ident(LIAM), ident(LIAM)).build();
    let e = eval(&policy, &change);
    assert_eq!(authorization(&e).0, Status::Met, "{e:#?}");
    assert!(!e.emergency_authorizations[0].attested);
    // A scribe's record of Liam's word counts, and says whose word it is, unless the
    // policy counts no attested authorization.
    let scribe =
        || emergency(3).recorded_approval(ApprovalKind::EmergencyAuthorization, ident(LIAM), ident("scribe@send.tax"));
    let e = eval(&policy, &scribe().build());
    assert_eq!(authorization(&e).0, Status::Met, "{e:#?}");
    assert!(req(&e, "emergency-authorization").evidence[0].contains("in liam's name (attested)"));
    let never = two_person_saas_with("[evidence]\nattested-approvals = \"never\"\n", "");
    let e = eval(&never, &scribe().build());
    assert_eq!(authorization(&e).0, Status::Missing, "{e:#?}");
    assert!(authorization(&e).1.contains("the policy does not count attested authorizations"));
}

#[test]
fn s000_14_a_display_name_is_not_an_authorization() {
    // With anyone allowed to authorize, a bare name cannot be told apart from the author.
    let text = example_text("starter");
    let policy = policy_from("starter.toml", &format!("{text}\n[people.holly]\nemails = \"{HOLLY}\"\n"));
    let change =
        |who: &str| pr(1, HOLLY).paths(&["src/a.rs"]).label("emergency").trailer("Emergency-Authorized-By", who);
    let e = eval(&policy, &change("Liam Howell").build());
    assert_eq!(authorization(&e).0, Status::Missing, "{e:#?}");
    assert!(authorization(&e).1.contains("cannot be told apart from the author"), "{e:#?}");
    // Anyone identified who is not the author may authorize under the starter policy.
    let e = eval(&policy, &change("Liam Howell <liam@elsewhere.example>").build());
    assert_eq!(authorization(&e).0, Status::Met, "{e:#?}");
    let e = eval(&policy, &change(HOLLY).build());
    assert_eq!(authorization(&e).0, Status::Missing, "{e:#?}");
    assert_eq!(parse_identity(HOLLY).email.as_deref(), Some(HOLLY));
}

#[test]
fn s001_02_the_solo_founder_authorizes_their_own_emergencies() {
    // Seed 001: the founder is the sole approver while the company is one person, so the
    // example policy allows self-authorization.
    let policy = example("solo-founder-iso27001");
    assert!(policy.emergency.as_ref().is_some_and(|e| e.self_authorization));
    let change = pr(1, "founder@example.com")
        .paths(&["src/worker.ts"])
        .label("emergency")
        .trailer("Emergency-Authorized-By", "founder@example.com")
        .build();
    let e = eval(&policy, &change);
    assert_eq!(authorization(&e).0, Status::Met, "{e:#?}");
    assert!(e.emergency_authorizations[0].counted);
    assert!(countersign_policy::render::markdown(&policy).contains("may authorize its emergency themselves"));
}
