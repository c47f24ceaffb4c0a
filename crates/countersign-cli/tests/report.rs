//! `countersign report` (issue 11 §2): the period report an auditor takes away, black-box on
//! a real repository and store.

mod common;

use common::{Repo, Run, countersign};

const POLICY: &str = concat!(
    acme_policy!(),
    acme_emergency!(),
    r#"
[[policy.controls]]
framework = "SOC 2"
id = "CC8.1"
description = "Changes are authorized and reviewed"
requirements = ["review"]

[[policy.controls]]
framework = "ISO 27001"
id = "A.8.32"
description = "Emergency changes are documented afterwards"
requirements = ["obligation"]

[[policy.controls]]
framework = "Controls Matrix"
id = "CM-01"

[[emergency.obligations]]
id = "documented"
description = "Documented"
within = "24h"

[deploy]
environments = ["production"]

[evidence]
trailers-complete = true

[metrics]
incidents-caused-by-change-max = "3%"
"#
);

const ALICE: &str = "Alice <alice@example.com>";

fn run(repo: &Repo, args: &[&str]) -> Run {
    Run::of(countersign(repo.path()).args(args).env("USER", "bob@example.com"))
}

/// Four changes in May 2026: the policy and one change reviewed, one unreviewed, one
/// authorized emergency; a published policy version; one deploy decision.
fn quarter() -> (Repo, Vec<String>) {
    quarter_with(POLICY)
}

/// [`quarter`] with another policy.
fn quarter_with(policy: &str) -> (Repo, Vec<String>) {
    let repo = Repo::new();
    let mut ids =
        vec![repo.commit(ALICE, &[("countersign.toml", policy)], "Adopt (#1)\n\nReviewed-by: Bob <bob@example.com>")];
    ids.push(repo.merge_pr(2, ALICE, ALICE, &[("src/a.rs", "fn a() {}\n")], "Reviewed-by: Bob <bob@example.com>"));
    ids.push(repo.merge_pr(3, ALICE, ALICE, &[("src/b.rs", "fn b() {}\n")], "Unreviewed"));
    ids.push(repo.merge_pr(
        4,
        ALICE,
        ALICE,
        &[("src/fix.rs", "fn fix() {}\n")],
        "Hotfix\n\nChange-Type: emergency\nEmergency-Authorized-By: Bob <bob@example.com>",
    ));
    countersign(repo.path()).args(["init", "--origin", "example.com/log"]).assert().success();
    assert_eq!(run(&repo, &["policy", "publish", "--by", "alice@example.com"]).code, 0);
    let r = run(
        &repo,
        &["record", "approval", "--change", &ids[1], "--approver", "bob@example.com", "--by", "bob@example.com"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let gate =
        run(&repo, &["deploy", "check", "--environment", "production", "--commit", "HEAD", "--by", "bob@example.com"]);
    assert!(gate.code == 0 || gate.code == 1, "{}{}", gate.stdout, gate.stderr);
    (repo, ids)
}

#[test]
fn s002_13_s003_11_s004_14_the_period_report_maps_controls_and_samples_with_proofs() {
    let (repo, ids) = quarter();
    let r = run(
        &repo,
        &[
            "--format",
            "json",
            "report",
            "--from",
            "2026-05-01",
            "--to",
            // Open-ended: the policy version is stamped with the real time of the run.
            "2100-01-01",
            "--sample",
            "4",
            "--seed",
            "3",
            "--no-record",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(json["schema"], "countersign.report");
    assert_eq!(json["population"]["population"], 4);
    assert_eq!(json["population"]["emergencies"], 1);
    assert_eq!(json["policy"]["versions"].as_array().unwrap().len(), 1, "{}", json["policy"]);
    // CC8.1 is implemented by review: three changes had one (the emergency's was waived,
    // which passes); the unreviewed merge failed it.
    let control = |id: &str| json["controls"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap().clone();
    let cc81 = control("CC8.1");
    assert_eq!((cc81["changes"].as_u64(), cc81["passed"].as_u64()), (Some(4), Some(3)), "{cc81:#}");
    assert_eq!(cc81["failed"], serde_json::json!([ids[2]]));
    let a832 = control("A.8.32");
    assert_eq!(
        (a832["changes"].as_u64(), a832["passed"].as_u64()),
        (Some(1), Some(0)),
        "overdue documentation: {a832:#}"
    );
    let cm01 = control("CM-01");
    assert!(cm01["pass_rate"].is_null() && cm01["changes"] == 0, "mapped to nothing: {cm01:#}");
    assert_eq!(json["emergencies"][0]["change"], ids[3].as_str());
    assert_eq!(json["emergencies"][0]["authorized_by"][0], "bob");
    assert_eq!(json["obligations"]["counts"]["overdue"], 1);
    let decisions = &json["deploy_decisions"];
    assert_eq!(decisions["decisions"].as_array().unwrap().len(), 1, "{decisions:#}");
    // The sample is the whole population here; the reviewed change's recorded approval
    // comes with its inclusion proof.
    let sample = &json["sample"];
    assert_eq!((sample["size"].as_u64(), sample["seed"].as_u64()), (Some(4), Some(3)));
    let reviewed = sample["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["evaluation"]["change"]["id"] == ids[1].as_str())
        .unwrap();
    let entry = &reviewed["entries"][0];
    assert_eq!(entry["kind"], "approval");
    assert!(entry["proof"].as_str().unwrap().starts_with("c2sp.org/tlog-proof@v1\nindex "), "{entry:#}");
    // Only SOC 2 when asked.
    let soc2 = run(
        &repo,
        &[
            "--format",
            "json",
            "report",
            "--from",
            "2026-05-01",
            "--to",
            "2026-06-02",
            "--controls",
            "soc2",
            "--no-record",
        ],
    );
    let soc2: serde_json::Value = serde_json::from_str(&soc2.stdout).unwrap();
    let ids_shown: Vec<&str> = soc2["controls"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids_shown, ["CC8.1"]);
}

/// The HTML report is one self-contained file (no external request), and its SHA-256 is
/// recorded in the log, so the file an auditor holds can be shown to be the one written.
#[test]
fn x04_the_html_report_is_self_contained_and_its_digest_is_logged() {
    let (repo, _) = quarter();
    let out = repo.path().join("reports");
    let r = run(
        &repo,
        &["--format", "html", "report", "--from", "2026-05-01", "--to", "2026-06-02", "--out", out.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let html = std::fs::read(out.join("report.html")).unwrap();
    let text = String::from_utf8_lossy(&html);
    assert!(text.starts_with("<!DOCTYPE html>") && text.contains("<style>"), "{text}");
    for needle in ["CC8.1", "A.8.32", "Emergencies and their obligations", "Deploy gate", "1 overdue"] {
        assert!(text.contains(needle), "{needle:?} missing");
    }
    for external in ["src=", "href=", "@import", "url("] {
        assert!(!text.contains(external), "the report refers outside itself: {external}");
    }
    let digest: String = <sha2::Sha256 as sha2::Digest>::digest(&html).iter().map(|b| format!("{b:02x}")).collect();
    assert!(r.stderr.contains(&format!("the report's SHA-256 {digest} is log entry #")), "{}", r.stderr);
    let entry: u64 = r.stderr.rsplit('#').next().unwrap().trim().parse().unwrap();
    let shown = run(&repo, &["log", "show", "--entry", &entry.to_string()]);
    let shown: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(shown["statement"]["predicateType"], "https://countersign.dev/evidence/report/v1");
    assert_eq!(shown["statement"]["subject"][0]["digest"]["sha256"], digest.as_str());
    // Written again unchanged, the same digest is not logged twice.
    let again = run(
        &repo,
        &["--format", "html", "report", "--from", "2026-05-01", "--to", "2026-06-02", "--out", out.to_str().unwrap()],
    );
    assert!(again.stderr.contains(&format!("is log entry #{entry}")), "{}", again.stderr);
    // A period that ends before it starts is refused.
    let bad = run(&repo, &["report", "--from", "2026-06-01", "--to", "2026-05-01", "--no-record"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("is not before --to"), "{}", bad.stderr);
}

/// The HTML report prints cleanly to PDF in headless Chromium (Debian's package), and the
/// PDF's pages render to PNG with pdftoppm. The PDF and its pages are kept under
/// `target/report-pages/` to look at.
#[test]
fn s004_14_the_html_report_prints_to_pdf_in_chromium() {
    let (repo, _) = quarter();
    let out = repo.path().join("reports");
    let r = run(
        &repo,
        &[
            "--format",
            "html",
            "report",
            "--from",
            "2026-05-01",
            "--to",
            "2026-06-02",
            "--sample",
            "2",
            "--out",
            out.to_str().unwrap(),
            "--no-record",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let kept = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().join("report-pages");
    let pages = common::print_to_pdf(&out.join("report.html"), &kept);
    assert!(!pages.is_empty());
}

/// `report --format oscal` writes assessment-results and the assessment-plan they import,
/// with a finding per control (satisfied / not-satisfied) and observations linking to the
/// log entries; `oscal component` writes the component definition. All three validate
/// against NIST's schema with an independent validator, which also rejects a tampered one.
#[test]
fn s002_13_s003_11_s004_14_oscal_assessment_results_plan_and_component_validate_against_nists_schema() {
    let (repo, ids) = quarter();
    let out = repo.path().join("oscal");
    let args = [
        "--format",
        "oscal",
        "report",
        "--from",
        "2026-05-01",
        "--to",
        "2100-01-01",
        "--sample",
        "4",
        "--seed",
        "3",
        "--no-record",
        "--out",
        out.to_str().unwrap(),
    ];
    let r = run(&repo, &args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let results_path = out.join("assessment-results.json");
    let plan_path = out.join("assessment-plan.json");
    let ar: serde_json::Value = serde_json::from_slice(&std::fs::read(&results_path).unwrap()).unwrap();
    let ar = &ar["assessment-results"];
    assert_eq!(ar["import-ap"]["href"], "assessment-plan.json");
    assert_eq!(ar["metadata"]["oscal-version"], "1.1.2");
    let result = &ar["results"][0];
    assert_eq!(result["start"], "2026-05-01T00:00:00Z");
    let state = |control: &str| {
        let f = result["findings"].as_array().unwrap().iter().find(|f| f["target"]["target-id"] == control).unwrap();
        f["target"]["status"]["state"].as_str().unwrap().to_owned()
    };
    // As in the JSON report: one unreviewed merge fails CC8.1, an overdue obligation A.8.32.
    assert_eq!(state("CC8.1"), "not-satisfied");
    assert_eq!(state("A.8.32"), "not-satisfied");
    assert_eq!(state("CM-01"), "satisfied");
    let observations = result["observations"].as_array().unwrap();
    let cc81 = observations.iter().find(|o| o["title"].as_str().unwrap().contains("CC8.1")).unwrap();
    assert!(cc81["relevant-evidence"][0]["href"].as_str().unwrap().ends_with(&ids[2]), "{cc81:#}");
    let sampled = observations.iter().find(|o| o["title"] == format!("Sampled change {}", ids[1])).unwrap();
    assert!(
        sampled["relevant-evidence"][0]["href"].as_str().unwrap().starts_with("countersign-log:entry/"),
        "{sampled:#}"
    );
    // The same inputs give the same documents (UUIDs are named, not random).
    let first = std::fs::read(&results_path).unwrap();
    assert_eq!(run(&repo, &args).code, 0);
    assert_eq!(std::fs::read(&results_path).unwrap(), first);

    let v = common::oscal_validate("assessment-results", &results_path);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    let v = common::oscal_validate("assessment-plan", &plan_path);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);

    // A finding state the schema does not allow is caught by the validator.
    let tampered = out.join("tampered.json");
    std::fs::write(&tampered, String::from_utf8(first).unwrap().replacen("\"not-satisfied\"", "\"failed\"", 1))
        .unwrap();
    let v = common::oscal_validate("assessment-results", &tampered);
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);

    let component = repo.path().join("component-definition.json");
    let r = run(&repo, &["oscal", "component", "--out", component.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let cd: serde_json::Value = serde_json::from_slice(&std::fs::read(&component).unwrap()).unwrap();
    let implementations = cd["component-definition"]["components"][0]["control-implementations"].as_array().unwrap();
    assert_eq!(implementations.len(), 3, "one per framework: {cd:#}");
    let v = common::oscal_validate("component-definition", &component);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);

    // OSCAL needs a directory for its two files, and is only the report's format.
    let r = run(&repo, &["--format", "oscal", "report", "--from", "2026-05-01", "--to", "2026-06-01", "--no-record"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("hint: add --out DIR"), "{}", r.stderr);
    let r = run(&repo, &["--format", "oscal", "audit"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("is for `countersign report`"), "{}", r.stderr);
}

/// The validator used above does reject documents: the deliberately broken example fails.
#[test]
fn s003_11_the_oscal_validator_rejects_an_invalid_document() {
    let broken = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tools/oscal/examples/invalid-assessment-results.json");
    let v = common::oscal_validate("assessment-results", &broken);
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);
    assert!(v.stdout.contains("INVALID"), "{}", v.stdout);
}

/// The evidence package for a period holds the report file whose digest the log records
/// (`evidence export --attach`), beside the verdicts and policy versions; both verifiers
/// check that it is the file logged, and fail when a byte of it changes.
#[test]
fn x04_s004_14_the_evidence_package_holds_the_report_and_both_verifiers_check_it() {
    let (repo, _) = quarter();
    let out = repo.path().join("reports");
    let r = run(
        &repo,
        &["--format", "html", "report", "--from", "2026-05-01", "--to", "2100-01-01", "--out", out.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = out.join("report.html");
    let package = repo.path().join("evidence.tar");
    let r = run(
        &repo,
        &[
            "--format",
            "json",
            "evidence",
            "export",
            "--since",
            "2000-01-01",
            "--out",
            package.to_str().unwrap(),
            "--attach",
            report.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let summary: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(summary["attachments"], 1, "{summary}");
    let (ours, python) = common::verify_package(repo.path(), &package);
    assert_eq!(ours.code, 0, "{}{}", ours.stdout, ours.stderr);
    assert_eq!(python.code, 0, "{}{}", python.stdout, python.stderr);

    // A file whose digest is not a logged report is refused, and nothing is written.
    let stranger = repo.path().join("not-a-report.html");
    std::fs::write(&stranger, "<p>edited afterwards</p>").unwrap();
    let refused = repo.path().join("refused.tar");
    let r = run(
        &repo,
        &[
            "evidence",
            "export",
            "--since",
            "2000-01-01",
            "--out",
            refused.to_str().unwrap(),
            "--attach",
            stranger.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("is not a report logged in the period"), "{}", r.stderr);
    assert!(!refused.exists());

    // One byte of the report changed inside the package (tar keeps file data as is).
    let mut bytes = std::fs::read(&package).unwrap();
    let at = bytes.windows(15).position(|w| w == b"<!DOCTYPE html>").expect("the report is in the package");
    bytes[at + 2] = b'd';
    let tampered = repo.path().join("tampered.tar");
    std::fs::write(&tampered, &bytes).unwrap();
    let (ours, python) = common::verify_package(repo.path(), &tampered);
    assert_ne!(ours.code, 0, "{}{}", ours.stdout, ours.stderr);
    assert_ne!(python.code, 0, "{}{}", python.stdout, python.stderr);
    let said = format!("{}{}", ours.stdout, ours.stderr);
    assert!(said.contains("attachments/"), "names the file: {said}");
}

/// A successful production deploy of `commit` completed `at`, recorded by bob (`more`: further
/// `deploy record` flags). The gate may judge the commit non-compliant (exit 1); it is still
/// recorded.
fn record_production_deploy(repo: &Repo, commit: &str, at: &str, more: &[&str]) {
    let mut args = vec!["deploy", "record", "--environment", "production", "--commit", commit, "--status", "success"];
    args.extend_from_slice(more);
    args.extend_from_slice(&["--completed-at", at, "--by", "bob@example.com"]);
    let r = run(repo, &args);
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
}

/// DORA's metrics in the period report (deploys, lead time, change fail rate, recovery,
/// rework) and S003-10's monthly share of production incidents caused by a change, over the
/// policy's threshold: a recorded incident (`record incident --caused-by`) and deploys
/// recorded with their completion times.
#[test]
fn s003_10_the_report_computes_dora_metrics_and_the_monthly_incident_share() {
    let (repo, ids) = quarter();
    for (commit, at) in [(&ids[2], "2026-05-20T00:00:00Z"), (&ids[3], "2026-05-25T00:00:00Z")] {
        record_production_deploy(&repo, commit, at, &["--health-check", "pass"]);
    }
    let r = run(
        &repo,
        &[
            "record",
            "incident",
            "--caused-by",
            &ids[2],
            "--started",
            "2026-05-21T00:00:00Z",
            "--resolved",
            "2026-05-21T06:00:00Z",
            "--description",
            "checkout errors after the release",
            "--by",
            "bob@example.com",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Resolved before it started: refused.
    let r = run(
        &repo,
        &[
            "record",
            "incident",
            "--started",
            "2026-05-21T00:00:00Z",
            "--resolved",
            "2026-05-20T00:00:00Z",
            "--description",
            "x",
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);

    let r = run(&repo, &["--format", "json", "report", "--from", "2026-05-01", "--to", "2026-06-01", "--no-record"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let m = &json["metrics"];
    assert_eq!((m["deployments"].as_u64(), m["failed_deployments"].as_u64()), (Some(2), Some(0)), "{m:#}");
    // Four changes shipped, each with a lead time from its first commit.
    assert_eq!(m["lead_time_changes"], 4, "{m:#}");
    assert!(m["lead_time_hours"].as_f64().unwrap() >= 0.0);
    // The first deploy shipped the change that caused the incident: 1 of 2 deploys.
    assert_eq!(m["change_fail_rate"], 0.5, "{m:#}");
    assert_eq!(m["recovery_hours"], 6.0, "{m:#}");
    // The second shipped the emergency fix: rework.
    assert_eq!(m["rework_rate"], 0.5, "{m:#}");
    assert_eq!(m["incidents_caused_by_change"], 1);
    assert_eq!(m["threshold"], 0.03);
    let may = &m["months"][0];
    assert_eq!(may["month"], "2026-05");
    assert_eq!(may["breach"], true, "{may:#}");
    assert_eq!(m["months"].as_array().unwrap().len(), 1);
    let md =
        run(&repo, &["--format", "markdown", "report", "--from", "2026-05-01", "--to", "2026-06-01", "--no-record"]);
    assert!(
        md.stdout.contains("## Delivery metrics (DORA)") && md.stdout.contains("over the policy's threshold"),
        "{}",
        md.stdout
    );
}

/// The report's emergency timeline and drift history (issue 11 §5), as data and as
/// pictures: the emergency's obligation with its deadline and when it was fulfilled
/// (late), and the branch protection read twice (`collect branch-protection` against
/// GitHub's documented answer, then set as the policy asks), the first run opening the
/// drift and the second fixing it. JSON carries what the HTML draws; Markdown lists it.
#[test]
fn s001_06_s003_10_the_report_has_the_emergency_timeline_and_the_drift_history() {
    let (repo, ids) = quarter();
    let declared: jiff::Timestamp = repo.git(&["show", "-s", "--format=%cI", &ids[3]]).parse().unwrap();
    let fulfilled = declared + jiff::SignedDuration::from_hours(30);
    let r = run(
        &repo,
        &[
            "record",
            "obligation-fulfilled",
            "--change",
            &ids[3],
            "--obligation",
            "documented",
            "--reference",
            "https://wiki.example.com/INC-1",
            "--at",
            &fulfilled.to_string(),
            "--by",
            "bob@example.com",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let github = common::FakeGitHub::start(common::forge_api_fixture("github/openapi.branch-protection.json"));
    let (code, drifted) = common::collect_branch_protection(repo.path(), "example/app", &github);
    assert_eq!(code, 1, "{drifted:#}");
    let opened: Vec<String> = drifted["runs"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_owned())
        .collect();
    github.answer(common::protection_as_asked(&[]));
    let (code, fixed) = common::collect_branch_protection(repo.path(), "example/app", &github);
    assert_eq!(code, 0, "{fixed:#}");
    // Collector runs carry the real time they read the forge: the period runs past them.
    let fixed_at = common::recorded_at(repo.path(), fixed["runs"][0]["entry"].as_u64().unwrap());
    let to = (fixed_at.to_zoned(jiff::tz::TimeZone::UTC).date() + jiff::Span::new().days(1)).to_string();
    let report = |format: &str| {
        let r = run(&repo, &["--format", format, "report", "--from", "2026-05-01", "--to", &to, "--no-record"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout
    };
    let json: serde_json::Value = serde_json::from_str(&report("json")).unwrap();

    let emergency = &json["emergencies"][0];
    assert_eq!(emergency["change"], ids[3].as_str());
    assert_eq!(emergency["declared_at"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap(), declared);
    let documented = &emergency["obligations"][0];
    assert_eq!(
        (documented["obligation"].as_str(), documented["state"].as_str()),
        (Some("documented"), Some("fulfilled-late"))
    );
    let time = |v: &serde_json::Value| v.as_str().unwrap().parse::<jiff::Timestamp>().unwrap();
    assert_eq!(time(&documented["due"]), declared + jiff::SignedDuration::from_hours(24));
    assert_eq!(time(&documented["fulfilled_at"]), fulfilled);

    let history = json["drift_history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{history:#?}");
    let list = |v: &serde_json::Value| -> Vec<String> {
        v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(list(&history[0]["findings"]), opened);
    assert_eq!((list(&history[0]["opened"]), list(&history[0]["fixed"])), (opened.clone(), vec![]));
    assert_eq!((list(&history[1]["findings"]), list(&history[1]["opened"])), (vec![], vec![]));
    assert_eq!(list(&history[1]["fixed"]), opened);
    assert_eq!(history[1]["repository"], "example/app");
    // Each metric month by month, May first.
    let months = json["metrics_by_month"].as_array().unwrap();
    assert_eq!(months[0]["month"], "2026-05");
    assert_eq!(months.len(), json["metrics"]["months"].as_array().unwrap().len());

    let html = report("html");
    let marks = |class: &str| html.matches(&format!("class=\"mark {class}")).count();
    assert_eq!((marks("emergency"), marks("obligation late")), (1, 1), "{html}");
    assert_eq!((marks("run drift"), marks("run clean")), (1, 1));
    assert_eq!(marks("trend deploys-per-week"), months.len());
    assert_eq!(marks("pass-rate"), 3, "three mapped controls");
    let md = report("markdown");
    assert!(md.contains("  - documented: due ") && md.contains("late (fulfilled "), "{md}");
    assert!(md.contains("Runs in the period") && md.contains(&opened.join(", ")), "{md}");
}

/// [`POLICY`]'s retention lines (S002-12): a record countersign keeps as checks, one it
/// keeps as review evidence, one as deploys, one it keeps a kind of but recorded none of,
/// and one only the place of record keeps.
const RETENTION: &str = r#"
[[retention]]
record = "CI build logs"
location = "GitHub Actions"
keep = "90 days"

[[retention]]
record = "Pull request records"
location = "GitHub"
keep = "indefinite"

[[retention]]
record = "Deploy logs"
location = "Fly releases"
keep = "1 year"

[[retention]]
record = "Incident postmortems"
location = "Wiki"
keep = "indefinite"

[[retention]]
record = "Chat transcripts"
location = "Slack"
keep = "90 days"
"#;

/// The period report shows each of the policy's `[[retention]]` lines beside what
/// countersign's append-only log holds of that kind of record: the entries in the period,
/// the oldest, and, when the policy keeps the record for a while only, the cut-off before
/// which its place of record need keep nothing (the log still holds what it recorded).
#[test]
fn s002_12_the_report_shows_each_retention_rule_against_what_the_log_holds() {
    let (repo, ids) = quarter_with(&format!("{POLICY}{RETENTION}"));
    let r = run(
        &repo,
        &["record", "check", "--change", &ids[2], "--name", "ci", "--status", "success", "--by", "bob@example.com"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    record_production_deploy(&repo, &ids[3], "2026-05-25T00:00:00Z", &[]);
    // Evidence is stamped with the real time it is recorded: the periods below hold it
    // whatever the date, and are judged as of an explicit time, not the clock.
    let now = "2100-01-01T00:00:00Z";
    let report = |format: &str, from: &str| {
        let r = run(&repo, &["--now", now, "--format", format, "report", "--from", from, "--to", now, "--no-record"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout
    };
    let json: serde_json::Value = serde_json::from_str(&report("json", "2000-01-01")).unwrap();
    let rows = json["retention"].as_array().unwrap();
    let records: Vec<&str> = rows.iter().map(|r| r["record"].as_str().unwrap()).collect();
    assert_eq!(
        records,
        ["CI build logs", "Pull request records", "Deploy logs", "Incident postmortems", "Chat transcripts"],
        "in the policy's order"
    );
    let row = |record: &str| rows.iter().find(|r| r["record"] == record).unwrap().clone();
    let kinds = |row: &serde_json::Value| -> Vec<String> {
        row["kinds"].as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_owned()).collect()
    };
    let time = |v: &serde_json::Value| v.as_str().unwrap().parse::<jiff::Timestamp>().unwrap();
    let (from, to): (jiff::Timestamp, jiff::Timestamp) =
        ("2000-01-01T00:00:00Z".parse().unwrap(), now.parse().unwrap());

    // CI build logs: the one recorded check; kept 90 days at GitHub Actions, so a period that
    // starts in 2000 is long past what the place of record need still hold.
    let ci = row("CI build logs");
    assert_eq!(ci["location"], "GitHub Actions");
    assert_eq!(ci["keep_days"], 90);
    assert_eq!(kinds(&ci), ["check"]);
    assert_eq!((ci["entries"].as_u64(), ci["state"].as_str()), (Some(1), Some("held")), "{ci:#}");
    assert_eq!(time(&ci["cutoff"]), "2099-10-03T00:00:00Z".parse::<jiff::Timestamp>().unwrap());
    assert_eq!(ci["period_before_cutoff"], true);
    assert_eq!(ci["entries_before_cutoff"], 1, "recorded before 2099: only countersign still holds it");
    assert!((from..to).contains(&time(&ci["oldest"])), "{ci:#}");

    // Pull request records: kept indefinitely, no cut-off; the review evidence is the
    // approval `quarter` recorded (no verdict or forge delivery was recorded).
    let prs = row("Pull request records");
    assert!(prs["keep_days"].is_null() && prs["cutoff"].is_null(), "{prs:#}");
    assert_eq!(kinds(&prs), ["verdict", "approval", "approval-withdrawn", "webhook-delivery"]);
    assert_eq!((prs["entries"].as_u64(), prs["state"].as_str()), (Some(1), Some("held")), "{prs:#}");
    assert_eq!((prs["period_before_cutoff"].as_bool(), prs["entries_before_cutoff"].as_u64()), (Some(false), Some(0)));

    // Deploy logs: the gate's decision and the recorded deploy.
    let deploys = row("Deploy logs");
    assert_eq!(deploys["keep_days"], 365);
    assert_eq!(kinds(&deploys), ["deploy", "deploy-decision"]);
    assert_eq!((deploys["entries"].as_u64(), deploys["state"].as_str()), (Some(2), Some("held")), "{deploys:#}");
    assert_eq!(deploys["period_before_cutoff"], true);

    // Incidents: countersign keeps them, none was recorded.
    let incidents = row("Incident postmortems");
    assert_eq!(kinds(&incidents), ["incident"]);
    assert_eq!(
        (incidents["entries"].as_u64(), incidents["state"].as_str(), incidents["oldest"].is_null()),
        (Some(0), Some("none in period"), true),
        "{incidents:#}"
    );

    // Chat transcripts: only Slack keeps them.
    let chat = row("Chat transcripts");
    assert_eq!(kinds(&chat), Vec::<String>::new());
    assert_eq!(
        (chat["entries"].as_u64(), chat["state"].as_str(), chat["period_before_cutoff"].as_bool()),
        (Some(0), Some("not held by countersign"), Some(true)),
        "{chat:#}"
    );

    // A period that starts after the cut-off: nothing is past the 90 days, and the check,
    // recorded long before, is not in it (though still the oldest entry of its kind).
    let late: serde_json::Value = serde_json::from_str(&report("json", "2099-12-01")).unwrap();
    let late_ci = late["retention"].as_array().unwrap().iter().find(|r| r["record"] == "CI build logs").unwrap();
    assert_eq!(
        (late_ci["entries"].as_u64(), late_ci["state"].as_str(), late_ci["period_before_cutoff"].as_bool()),
        (Some(0), Some("none in period"), Some(false)),
        "{late_ci:#}"
    );
    assert_eq!(late_ci["oldest"], ci["oldest"]);

    let md = report("markdown", "2000-01-01");
    assert!(md.contains("\n## Retention\n"), "{md}");
    assert!(
        md.contains("| CI build logs | GitHub Actions | 90 days (cut-off 2099-10-03T00:00:00Z) | check | 1 | "),
        "{md}"
    );
    assert!(
        md.contains("| Chat transcripts | Slack | 90 days (cut-off 2099-10-03T00:00:00Z) | none | 0 | none | not held by countersign; **"),
        "{md}"
    );
    assert!(md.contains("| Pull request records | GitHub | indefinitely | "), "{md}");
    let html = report("html", "2000-01-01");
    assert!(html.contains("<h2>Retention</h2>") && html.contains("Incident postmortems"), "{html}");
    assert!(html.contains("<span class=\"ok\">held</span>"), "{html}");
    assert!(html.contains("<span class=\"sub\">not held by countersign</span>"), "{html}");
    assert!(html.contains("Slack may no longer hold its start, and countersign keeps none"), "{html}");
}
