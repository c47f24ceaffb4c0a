//! Self-review is not independent review (S000-07, S003-03, X-03): an approval whose
//! approver is the change's author, under any of their emails or logins, never makes the
//! change "reviewed by someone other than the author" and never counts for a rule that
//! excludes the author. Who someone is comes from emails and logins, through the policy's
//! directory; a display name decides nothing.

mod common;

use common::*;
use countersign_engine::change::Identity;
use countersign_engine::evaluate::parse_identity;
use countersign_engine::report::{Status, Verdict};

const HOLLY: &str = "holly@send.tax";
const LIAM: &str = "liam@send.tax";

fn saas_pr(n: u64, author: &str) -> B {
    pr(n, author)
        .body("## Intent\nFix it.\n## Testing\nUnit tests.\n## Operational risk\nLow.\n## Rollback plan\nRevert.\n")
        .paths(&["st-apps/web/page.tsx"])
        .checks_pass(&["ci-required", "frontend-ci / lint"])
}

fn identity(name: Option<&str>, email: Option<&str>, login: Option<&str>) -> Identity {
    Identity { name: name.map(Into::into), email: email.map(Into::into), login: login.map(Into::into) }
}

#[test]
fn s000_07_the_author_approving_under_another_identity_is_self_review() {
    let policy = example("two-person-saas");
    // Holly authors with her email; each approval below is Holly again, as each evidence
    // source would report her.
    let selves = [
        (identity(None, None, Some("github:hgibbs")), "GitHub review"),
        (parse_identity("Holly Gibbs <HOLLY@Send.Tax>"), "Reviewed-by trailer"),
        (parse_identity("hgibbs"), "bors r="),
        (parse_identity("holly"), "recorded approval"),
    ];
    for (me, source) in selves {
        let e = eval(&policy, &saas_pr(1, HOLLY).approved_as(me.clone(), source).build());
        assert!(!e.reviewed_by_other, "{source}: {me:?} is the author");
        assert_eq!(status(&e, "review"), Status::Missing, "{source}: the peer rule excludes the author");
        assert!(req(&e, "review").detail.as_deref().unwrap_or("").contains("holly is the author"), "{source}");
    }
    // Liam, reported the same ways, is someone else.
    let e = eval(
        &policy,
        &saas_pr(2, HOLLY).approved_as(identity(None, None, Some("github:lhowell")), "GitHub review").build(),
    );
    assert!(e.reviewed_by_other);
    assert_eq!(status(&e, "review"), Status::Met);
}

#[test]
fn s000_07_display_names_neither_identify_nor_disguise() {
    let policy = example("two-person-saas");
    // Liam's email under Holly's display name is Liam: the name changes nothing.
    let e =
        eval(&policy, &saas_pr(1, HOLLY).approved_as(parse_identity("Holly Gibbs <liam@send.tax>"), "trailer").build());
    assert!(e.reviewed_by_other);
    assert_eq!(status(&e, "review"), Status::Met, "{:#?}", req(&e, "review"));
    // "Liam Howell" with an address the policy does not know is not Liam.
    let e = eval(
        &policy,
        &saas_pr(2, HOLLY).approved_as(parse_identity("Liam Howell <liam@evil.example>"), "trailer").build(),
    );
    assert_eq!(status(&e, "review"), Status::Missing, "a display name does not make someone an engineer");
    assert!(req(&e, "review").detail.as_deref().unwrap_or("").contains("not in @engineering"));
    // A review that names only a display name cannot be shown to come from anyone else.
    let e = eval(&policy, &saas_pr(3, HOLLY).approved_as(parse_identity("Liam Howell"), "trailer").build());
    assert!(!e.reviewed_by_other);
}

/// A policy whose review rule takes anyone but the author, so that people the policy does
/// not name can review: the author must still be told apart from them.
const OPEN: &str = r#"
[policy]
organization = "Acme"
effective = 2026-01-01

[people.ada]
name = "Ada"
emails = "ada@acme.test"
logins = "github:ada"

[rules.anyone-else]
approvals = 1

[[categories]]
id = "standard"
require = "anyone-else"

[[areas]]
name = "core"
paths = ["/core/"]
owners = ["ada"]

[rules.owners]
codeowners = true

[[categories]]
id = "core"
when = { area = "core" }
precedence = 10
require = "owners"
"#;

#[test]
fn s003_03_an_outside_author_cannot_review_their_own_change_under_another_identity() {
    let policy = policy_from("open.toml", OPEN);
    let outsider = identity(Some("Sam Doe"), Some("sam@users.example"), Some("github:samd"));
    let change = |n: u64| pr(n, "x@y.z").author_as(outsider.clone()).paths(&["src/a.rs"]);
    // Sam approves under the login only, then under the email only, then with a bare login.
    for me in [
        identity(None, None, Some("github:samd")),
        identity(None, Some("SAM@users.example"), None),
        parse_identity("@samd"),
    ] {
        let e = eval(&policy, &change(1).approved_as(me.clone(), "review").build());
        assert!(!e.reviewed_by_other, "{me:?} is the author");
        assert_eq!(status(&e, "review"), Status::Missing, "{me:?}");
    }
    // A name-only approval cannot be told apart from the author either.
    let e = eval(&policy, &change(2).approved_as(parse_identity("Someone Else"), "trailer").build());
    assert_eq!(status(&e, "review"), Status::Missing);
    assert!(req(&e, "review").detail.as_deref().unwrap_or("").contains("cannot be told apart from the author"));
    // Someone else entirely counts.
    let e = eval(&policy, &change(3).approved_as(identity(None, Some("kim@users.example"), None), "review").build());
    assert!(e.reviewed_by_other);
    assert_eq!(status(&e, "review"), Status::Met);
    assert_eq!(e.verdict, Verdict::Compliant, "{e:#?}");
}

#[test]
fn s004_06_a_code_owner_cannot_approve_their_own_change_under_another_identity() {
    let policy = policy_from("open.toml", OPEN);
    // Ada owns /core/ and authors by email; her GitHub review is still her own.
    let e = eval(
        &policy,
        &pr(1, "ada@acme.test")
            .paths(&["core/lib.rs"])
            .approved_as(identity(None, None, Some("github:ada")), "GitHub review")
            .build(),
    );
    assert_eq!(e.category.id, "core");
    assert_eq!(status(&e, "review"), Status::Missing);
    assert!(!e.reviewed_by_other);
}

#[test]
fn s004_07_distinct_approvers_never_count_the_author() {
    let policy = example("healthcare-cab");
    // Jin (security team) authors an auth change and "approves" it from GitHub; with Lena
    // as the peer there is still no security reviewer other than Jin.
    let e = eval(
        &policy,
        &pr(1, "jin.park@eonpro.io")
            .paths(&["src/lib/auth/session.ts"])
            .approved_as(identity(None, None, Some("github:jinpark")), "GitHub review")
            .approved_by("lena.fischer@eonpro.io")
            .build(),
    );
    assert_eq!(status(&e, "review:area:auth"), Status::Missing);
    assert!(req(&e, "review:area:auth").detail.as_deref().unwrap_or("").contains("jin is the author"));
}

#[test]
fn recorded_approvals_resolve_by_email_like_every_other_source() {
    let policy = example("two-person-saas");
    // `countersign record approval --approver "Liam Howell <liam@send.tax>"` (the store
    // parses the approver with the engine's parser).
    let e = eval(
        &policy,
        &saas_pr(1, HOLLY).approved_as(parse_identity("Liam Howell <liam@send.tax>"), "recorded entry #3").build(),
    );
    assert_eq!(status(&e, "review"), Status::Met);
    assert!(req(&e, "review").evidence.iter().any(|ev| ev.contains("liam") && ev.contains("recorded entry #3")));
    let _ = LIAM;
}
