//! Lookups the engine relies on, and CODEOWNERS import.

mod common;

use common::*;
use countersign_policy::model::*;

const POLICY: &str = r#"
[policy]
organization = "Acme"
effective = 2026-05-01

[people.ada]
name = "Ada Lovelace"
emails = ["Ada@Example.com"]
logins = ["github:ada-l", "gitlab:ada"]
roles = ["leads"]

[people.bo]
name = "Bo"
logins = "bo"

[groups]
team = ["@leads", "bo"]
security-team = ["ada"]

[codeowners]
sensitive = true

[[areas]]
name = "everything"
paths = ["*"]
owners = ["@team"]

[[areas]]
name = "docs"
paths = ["/docs/"]
owners = ["bo"]
"#;

#[test]
fn lookups() {
    let policy = checked(POLICY).policy;
    assert_eq!(policy.person_by_email("ada@example.COM").map(|p| p.id.as_str()), Some("ada"));
    assert_eq!(policy.person_by_login("github:ada-l").map(|p| p.id.as_str()), Some("ada"));
    assert_eq!(policy.person_by_login("ADA-L").map(|p| p.id.as_str()), Some("ada"));
    assert!(policy.person_by_login("github:ada").is_none());
    assert_eq!(policy.person_by_login("github:bo").map(|p| p.id.as_str()), Some("bo"));
    assert_eq!(policy.person_by_name("ada lovelace").map(|p| p.id.as_str()), Some("ada"));
    let members: Vec<_> = policy.members(&Subject::Group("team".into())).iter().map(|p| p.id.as_str()).collect();
    assert_eq!(members, vec!["ada", "bo"]);
    assert!(policy.is_member(&Subject::Group("leads".into()), "ada"));
    assert!(!policy.is_member(&Subject::Group("leads".into()), "bo"));
}

#[test]
fn last_matching_area_wins() {
    let policy = checked(POLICY).policy;
    assert_eq!(policy.area_for("docs/readme.md").map(|a| a.name.as_str()), Some("docs"));
    assert_eq!(policy.area_for("src/main.rs").map(|a| a.name.as_str()), Some("everything"));
    let touched: Vec<_> = policy.areas_touched(["docs/a.md", "docs/b.md"]).iter().map(|a| a.name.as_str()).collect();
    assert_eq!(touched, vec!["docs"]);
    let touched: Vec<_> = policy.areas_touched(["docs/a.md", "src/x.rs"]).iter().map(|a| a.name.as_str()).collect();
    assert_eq!(touched, vec!["everything", "docs"]);
}

#[test]
fn s004_06_codeowners_import_maps_owners() {
    let mut policy = checked(POLICY).policy;
    let codeowners =
        "/src/lib/auth/ @eonpro/security-team\n/prisma/ @data-team ada@example.com\n/bad[ ] @x\n/ops/ @bo\n";
    let warnings = countersign_policy::codeowners::import(&mut policy, ".github/CODEOWNERS", codeowners);
    assert_eq!(codes(&warnings), vec!["CS-W010"]);
    let auth = policy.area_for("src/lib/auth/x.ts").expect("area");
    assert_eq!(auth.owners, vec![Subject::Group("security-team".into())]);
    assert_eq!(auth.origin, AreaOrigin::Codeowners { file: ".github/CODEOWNERS".into(), line: 1 });
    assert!(auth.sensitive);
    let prisma = policy.area_for("prisma/schema.prisma").expect("area");
    assert_eq!(prisma.owners, vec![Subject::External("@data-team".into()), Subject::Person("ada".into())]);
    assert_eq!(policy.area_for("ops/run.sh").expect("area").owners, vec![Subject::Person("bo".into())]);
    let rendered = countersign_policy::render_diagnostics(".github/CODEOWNERS", codeowners, &warnings, false);
    assert!(rendered.contains(".github/CODEOWNERS:3:1"), "{rendered}");
}

#[test]
fn small_policy_gets_defaults() {
    let policy = checked("[policy]\norganization = \"Acme\"\neffective = 2026-01-01\n").policy;
    assert_eq!(policy.default_category, "standard");
    assert_eq!(policy.categories.len(), 1);
    assert_eq!(policy.branch.protected, vec!["main"]);
    assert!(policy.branch.forbid_direct_push);
    assert_eq!(policy.evidence.review_trailers, vec!["Reviewed-by", "Acked-by", "Approved-by"]);
    assert_eq!(policy.evidence.ci_trailers, vec!["TryBot-Result", "LUCI-TryBot-Result"]);
    assert_eq!(policy.meta.next_review, jiff::civil::date(2027, 1, 1));
}
