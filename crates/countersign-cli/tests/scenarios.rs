//! A change's whole life under each example policy, scripted with the clock passed in: the
//! policy adopted, a normal change, an emergency declared and its obligations fulfilled (one
//! late, one by a follow-up change where the policy says so), an exception requested and
//! approved, a console change where the policy has a console, and a deploy through each
//! environment. The final `deploy`, `obligations`, `exceptions` and `audit` outputs are
//! snapshots. Then `countersign serve` runs on the same store and repository, and what it
//! shows (obligations, console changes in its change list) must agree with the CLI. Last,
//! the auditor's quarter (issue 11): an incident, verdicts, the period report in JSON, HTML
//! and OSCAL (validated against NIST's schema), and the evidence package, which fails both
//! verifiers once a verdict entry in it changes. People, authorizers and environments come from the policy itself
//! (`policy explain --format json`), so the script is the same for all five.

mod common;

use std::collections::BTreeSet;

use common::{NOW, Repo, Run, countersign};

const POLICIES: &[&str] =
    &["two-person-saas", "solo-founder-iso27001", "oss-sdk", "optional-peer-review", "healthcare-cab"];
const ARTIFACT: &str = "sha256:5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e";

fn run(repo: &Repo, args: &[&str]) -> Run {
    Run::of(countersign(repo.path()).args(args).env("USER", "scenario"))
}

fn must(repo: &Repo, args: &[&str]) -> String {
    let r = run(repo, args);
    assert_eq!(r.code, 0, "{args:?}: {}{}", r.stdout, r.stderr);
    r.stdout
}

/// Who plays which part, read from the policy.
struct Cast {
    /// Writes the changes.
    author: String,
    /// Reviews, approves the exception, starts deploys: someone else when the policy has
    /// anyone else.
    second: Option<String>,
    /// Authorizes the emergency.
    authorizer: String,
}

fn cast(policy: &serde_json::Value) -> Cast {
    let email = |id: &str| -> String {
        let p = &policy["people"][id];
        let email = p["emails"][0].as_str().unwrap();
        format!("{} <{email}>", p["name"].as_str().unwrap())
    };
    let humans: Vec<String> = policy["people"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, p)| p["bot"] == false && p["emails"].as_array().is_some_and(|e| !e.is_empty()))
        .map(|(id, _)| id.clone())
        .collect();
    let mut authorizers = BTreeSet::new();
    for subject in policy["emergency"]["authorizers"].as_array().unwrap() {
        match subject["type"].as_str().unwrap() {
            "person" => {
                authorizers.insert(subject["id"].as_str().unwrap().to_owned());
            }
            "group" => {
                for m in policy["groups"][subject["id"].as_str().unwrap()]["members"].as_array().unwrap() {
                    authorizers.insert(m.as_str().unwrap().to_owned());
                }
            }
            _ => authorizers.extend(humans.iter().cloned()),
        }
    }
    let author = humans.iter().find(|h| !authorizers.contains(*h)).unwrap_or(&humans[0]).clone();
    let authorizer = authorizers.iter().find(|a| **a != author && humans.contains(a)).unwrap_or(&author).clone();
    let second =
        humans.iter().find(|h| **h != author && **h == authorizer).or_else(|| humans.iter().find(|h| **h != author));
    Cast { author: email(&author), second: second.map(|s| email(s)), authorizer: email(&authorizer) }
}

fn address(who: &str) -> &str {
    who.split_once('<').map_or(who, |(_, rest)| rest.trim_end_matches('>'))
}

fn scenario(name: &str) -> String {
    let text =
        std::fs::read_to_string(common::workspace_root().join(format!("examples/policies/{name}.toml"))).unwrap();
    let repo = Repo::new();
    repo.write("countersign.toml", &text);
    let explain = must(&repo, &["--format", "json", "policy", "explain"]);
    let policy: serde_json::Value = serde_json::from_str(&explain).unwrap();
    let cast = cast(&policy);
    let reviewer = cast.second.clone().unwrap_or_else(|| cast.author.clone());
    // Every change describes itself as the policy's template asks, and is reviewed.
    let mut described = String::new();
    for d in policy["description"].as_array().into_iter().flatten() {
        for section in d["sections"].as_array().into_iter().flatten() {
            described.push_str(&format!("## {}\nStated for the scenario.\n\n", section.as_str().unwrap()));
        }
        for list in d["checklists"].as_array().into_iter().flatten() {
            described.push_str(&format!("## {}\n- [x] done\n\n", list.as_str().unwrap()));
        }
    }
    let reviewed = format!("{described}Reviewed-by: {reviewer}");
    let mut log =
        format!("# {name}\nauthor {}, second {:?}, authorizer {}\n", cast.author, cast.second, cast.authorizer);

    // The policy adopted, and a normal change, both reviewed.
    repo.commit(
        &cast.author,
        &[("README.md", "the product\n")],
        &format!("Adopt the change policy (#1)\n\n{reviewed}"),
    );
    let app = repo.merge_pr(
        2,
        &cast.author,
        &cast.author,
        &[("src/app.rs", "fn main() {}\n")],
        &format!("Add the app\n\n{reviewed}"),
    );
    must(&repo, &["init", "--origin", "example.com/scenario"]);
    // CI passes on every change: each gate's check is recorded as CI would.
    let pass_ci = |commit: &str| {
        for gate in policy["gates"].as_array().into_iter().flatten() {
            let check = gate["check"].as_str().unwrap();
            must(
                &repo,
                &[
                    "record",
                    "check",
                    "--change",
                    commit,
                    "--name",
                    check,
                    "--status",
                    "success",
                    "--by",
                    "ci@example.com",
                ],
            );
        }
    };
    for commit in repo.git(&["rev-list", "--first-parent", "HEAD"]).lines() {
        pass_ci(commit);
    }

    // An emergency, declared by an authorizer in the log (no label git could show).
    let trailer = policy["emergency"]["authorization_trailer"].as_str().unwrap();
    let hotfix = repo.merge_pr(
        3,
        &cast.author,
        &cast.author,
        &[("src/hotfix.rs", "fn fix() {}\n")],
        &format!("Hotfix the outage\n\n{described}{trailer}: {}", cast.authorizer),
    );
    pass_ci(&hotfix);
    must(
        &repo,
        &[
            "record",
            "emergency",
            "--change",
            &hotfix,
            "--declared-by",
            address(&cast.authorizer),
            "--reason",
            "checkout is down",
            "--incident",
            "INC-7",
            "--by",
            address(&cast.authorizer),
        ],
    );
    let declared: jiff::Timestamp = repo.git(&["show", "-s", "--format=%cI", &hotfix]).parse().unwrap();
    // Its obligations: the last one late, a follow-up one by a reviewed follow-up PR, the
    // rest on time (ten minutes in).
    let obligations = policy["emergency"]["obligations"].as_array().unwrap();
    for (i, o) in obligations.iter().enumerate() {
        let id = o["id"].as_str().unwrap();
        if o["follow_up"] == true {
            let follow_up = repo.merge_pr(
                4,
                &cast.author,
                &cast.author,
                &[("tests/hotfix.rs", "#[test] fn fix() {}\n")],
                &format!("Tests for the hotfix\n\n{reviewed}\nEmergency-Follow-Up: #3"),
            );
            pass_ci(&follow_up);
            continue;
        }
        let within = jiff::SignedDuration::from_secs(o["within"]["seconds"].as_i64().unwrap());
        let at = if i + 1 == obligations.len() {
            declared + within + jiff::SignedDuration::from_hours(1)
        } else {
            declared + jiff::SignedDuration::from_mins(10)
        };
        must(
            &repo,
            &[
                "record",
                "obligation-fulfilled",
                "--change",
                &hotfix,
                "--obligation",
                id,
                "--reference",
                "https://wiki.example.com/INC-7",
                "--at",
                &at.to_string(),
                "--by",
                address(&cast.authorizer),
            ],
        );
    }

    // An exception: requested by the author, approved by a second operator if there is one.
    let request = run(
        &repo,
        &[
            "exception",
            "request",
            "--waives",
            "review",
            "--until",
            "2026-06-20",
            "--justification",
            "The only other reviewer is on leave until the 20th",
            "--by",
            address(&cast.author),
        ],
    );
    log.push_str(&format!("exception request: exit {}\n", request.code));
    let approver = cast.second.clone().unwrap_or_else(|| cast.author.clone());
    let entry = request
        .stdout
        .strip_prefix("requested exception #")
        .and_then(|rest| rest.split(':').next())
        .unwrap_or_else(|| panic!("{}{}", request.stdout, request.stderr))
        .to_owned();
    let approve = run(&repo, &["exception", "approve", &entry, "--by", address(&approver)]);
    log.push_str(&format!(
        "exception approve by {}: exit {} {}\n",
        address(&approver),
        approve.code,
        approve.stderr.lines().next().unwrap_or_default()
    ));

    // A console change, with every field the policy asks for.
    if let Some(fields) = policy["console"]["required_fields"].as_array() {
        let provider = policy["console"]["providers"][0].as_str().unwrap();
        let mut args = vec![
            "record".to_owned(),
            "console-change".into(),
            "--system".into(),
            provider.into(),
            "--description".into(),
            "Rotated the webhook signing secret".into(),
            "--changed-by".into(),
            address(&cast.author).into(),
            "--at".into(),
            "2026-05-31T08:00:00Z".into(),
            "--by".into(),
            address(&cast.author).into(),
        ];
        for f in fields.iter().map(|f| f.as_str().unwrap()) {
            if !["who", "when", "provider", "what", "what changed"].contains(&f) {
                args.extend(["--field".into(), format!("{f}=stated for the record ({f})")]);
            }
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        must(&repo, &args);
    }

    // A deploy through each environment, in order, with what the policy asks of each.
    let deploy = &policy["deploy"];
    let head = repo.git(&["rev-parse", "HEAD"]);
    repo.git(&["update-ref", "refs/remotes/origin/main", &head]);
    for (env, branch) in deploy["branches"].as_object().into_iter().flatten() {
        if branch != "main" {
            repo.git(&["branch", "-f", branch.as_str().unwrap(), &head]);
        }
        log.push_str(&format!("{env} deploys from {branch}\n"));
    }
    let environments: Vec<&str> =
        deploy["environments"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
    let starter = cast.second.clone().unwrap_or_else(|| cast.author.clone());
    for env in &environments {
        let mut args = vec![
            "deploy",
            "check",
            "--environment",
            env,
            "--artifact",
            ARTIFACT,
            "--commit",
            "HEAD",
            "--triggered-by",
            address(&starter),
            "--event",
            "workflow_dispatch",
            "--worktree",
            "--by",
            "deployer@example.com",
        ];
        if let Some(path) = deploy["production_path"].as_str() {
            args.extend(["--via", path]);
        }
        if let Some(first) = deploy["stages"].as_array().and_then(|s| s.first()) {
            args.extend(["--stage", first.as_str().unwrap(), "--release", "v1"]);
        }
        let r = run(&repo, &args);
        log.push_str(&format!("\n$ deploy check --environment {env} (exit {})\n{}", r.code, r.stdout));
        let mut record = vec![
            "deploy",
            "record",
            "--environment",
            env,
            "--artifact",
            ARTIFACT,
            "--commit",
            "HEAD",
            "--status",
            "success",
            "--health-check",
            "pass",
            "--completed-at",
            "2026-06-01T11:00:00Z",
            "--by",
            "deployer@example.com",
        ];
        if let Some(first) = deploy["stages"].as_array().and_then(|s| s.first()) {
            record.extend(["--stage", first.as_str().unwrap(), "--release", "v1"]);
        }
        let r = run(&repo, &record);
        log.push_str(&format!("$ deploy record --environment {env} (exit {})\n{}", r.code, r.stdout));
    }

    for (title, args) in [
        ("obligations --all", vec!["obligations", "--all"]),
        ("exceptions", vec!["exceptions"]),
        ("audit", vec!["audit"]),
    ] {
        let r = run(&repo, &args);
        log.push_str(&format!("\n$ {title} (exit {})\n{}", r.code, r.stdout));
    }
    let verify = run(&repo, &["log", "verify"]);
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
    // The root hashes entries stamped with the real time: only the counts are stable.
    let verified = verify.stdout.lines().next().unwrap_or_default();
    log.push_str(&format!("\n$ log verify\n{}\n", verified.split(", root").next().unwrap_or_default()));
    assert!(NOW.starts_with("2026-06-01"), "the scenario's dates assume NOW is 2026-06-01");
    log.push_str(&server_agrees(&repo, &policy));
    the_auditors_quarter(&repo, name, &app, &cast, &policy);
    log
}

/// What the auditor takes away from the scenario's quarter (issue 11): an incident the app
/// change caused, the verdicts recorded, the branch protection found drifting from the
/// policy and then fixed (S001-06: `collect branch-protection` against GitHub's documented
/// answer, replayed), the period report in JSON, HTML and OSCAL (both OSCAL documents valid
/// against NIST's schema, by an independent validator) with the emergency's timeline and
/// the drift history, the HTML printed to PDF in Chromium and its pages rendered, and the
/// evidence package with the report in it, which both verifiers accept and which fails
/// them once a verdict entry in it is changed. The HTML, OSCAL and PDF files and the pages'
/// PNGs are kept under `target/scenario-reports/BACKEND/NAME/` (`sqlite` or `postgres`: the
/// two runs go on at once). Checked by assertions, not by the
/// snapshot: the report names the real time its entries were recorded.
fn the_auditors_quarter(repo: &Repo, name: &str, app: &str, cast: &Cast, policy: &serde_json::Value) {
    let who = address(&cast.author);
    must(
        repo,
        &[
            "record",
            "incident",
            "--caused-by",
            app,
            "--started",
            "2026-05-30T00:00:00Z",
            "--resolved",
            "2026-05-30T02:00:00Z",
            "--description",
            "the app crashed at start",
            "--by",
            who,
        ],
    );
    let audit = run(repo, &["audit", "--record"]);
    assert!(audit.code == 0 || audit.code == 1, "{name}: {}", audit.stderr);
    assert!(audit.stderr.contains("verdicts in the evidence log"), "{name}: {}", audit.stderr);

    // The branch protection as GitHub documents it (force pushes and deletions allowed):
    // drift. Then set as the policy asks: clean.
    let github = common::FakeGitHub::start(common::forge_api_fixture("github/openapi.branch-protection.json"));
    let (code, drifted) = common::collect_branch_protection(repo.path(), "example/scenario", &github);
    assert_eq!(code, 1, "{name}: {drifted:#}");
    let finding_ids = |run: &serde_json::Value| -> Vec<String> {
        run["findings"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_owned()).collect()
    };
    let opened = finding_ids(&drifted["runs"][0]);
    assert!(
        opened.iter().any(|f| f == "force-pushes") && opened.iter().any(|f| f == "deletions"),
        "{name}: {opened:?}"
    );
    let gates: Vec<&str> =
        policy["gates"].as_array().into_iter().flatten().map(|g| g["check"].as_str().unwrap()).collect();
    github.answer(common::protection_as_asked(&gates));
    let (code, fixed) = common::collect_branch_protection(repo.path(), "example/scenario", &github);
    assert_eq!(code, 0, "{name}: {fixed:#}");
    assert_eq!(github.paths.lock().unwrap().iter().filter(|p| p.ends_with("/protection")).count(), 2);
    // A collector run is stamped with the real time it read the forge: the period runs to
    // the day after the fix.
    let fixed_at = common::recorded_at(repo.path(), fixed["runs"][0]["entry"].as_u64().unwrap());
    let to = (fixed_at.to_zoned(jiff::tz::TimeZone::UTC).date() + jiff::Span::new().days(1)).to_string();

    let out = repo.path().join("quarter");
    let out_arg = out.to_str().unwrap();
    let period = ["--from", "2026-05-01", "--to", to.as_str()];
    for format in ["json", "html", "oscal"] {
        let mut args = vec!["--format", format, "report"];
        args.extend(period);
        args.extend(["--sample", "3", "--seed", "11", "--out", out_arg]);
        must(repo, &args);
    }
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert!(report["population"]["population"].as_u64().unwrap() >= 3, "{name}: {}", report["population"]);
    assert_eq!(report["population"]["emergencies"], 1, "{name}");
    assert_eq!(report["metrics"]["incidents_caused_by_change"], 1, "{name}: {}", report["metrics"]);
    assert_eq!(report["sample"]["size"], 3, "{name}");
    // The drift history: the run that opened the drift, and the one that fixed it.
    let history = report["drift_history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{name}: {history:#?}");
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v.as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_owned()).collect()
    };
    assert_eq!((ids(&history[0]["opened"]), ids(&history[0]["fixed"])), (opened.clone(), vec![]), "{name}");
    assert_eq!((ids(&history[1]["findings"]), ids(&history[1]["fixed"])), (vec![], opened.clone()), "{name}");
    assert_eq!(report["drift"][0]["findings"], serde_json::json!([]), "{name}: the latest run is clean");
    // The emergency's timeline: each obligation with its deadline; the last one late.
    let emergency = &report["emergencies"][0];
    let obligations = emergency["obligations"].as_array().unwrap();
    assert_eq!(obligations.len(), policy["emergency"]["obligations"].as_array().unwrap().len(), "{name}");
    assert!(emergency["declared_at"].is_string(), "{name}: {emergency:#}");
    let late = obligations.last().unwrap();
    assert_eq!(late["state"], "fulfilled-late", "{name}: {late:#}");
    let (due, done): (jiff::Timestamp, jiff::Timestamp) =
        (late["due"].as_str().unwrap().parse().unwrap(), late["fulfilled_at"].as_str().unwrap().parse().unwrap());
    assert_eq!(done, due + jiff::SignedDuration::from_hours(1), "{name}");
    // The HTML draws both: a mark for the emergency, one per obligation, one per run.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let marks = |class: &str| html.matches(&format!("class=\"mark {class}")).count();
    assert_eq!(marks("emergency"), 1, "{name}");
    assert_eq!(marks("obligation"), obligations.len(), "{name}");
    assert_eq!((marks("run drift"), marks("run clean")), (1, 1), "{name}");
    assert_eq!(marks("trend deploys-per-week"), report["metrics_by_month"].as_array().unwrap().len(), "{name}");
    let validate = |model: &str, file: &str| {
        let r = common::oscal_validate(model, &out.join(file));
        assert_eq!(r.code, 0, "{name}: {file}: {}{}", r.stdout, r.stderr);
    };
    validate("assessment-results", "assessment-results.json");
    validate("assessment-plan", "assessment-plan.json");
    must(repo, &["oscal", "component", "--out", out.join("component-definition.json").to_str().unwrap()]);
    validate("component-definition", "component-definition.json");
    let kept = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("scenario-reports")
        .join(common::backend())
        .join(name);
    std::fs::create_dir_all(&kept).unwrap();
    for file in
        ["report.html", "report.json", "assessment-results.json", "assessment-plan.json", "component-definition.json"]
    {
        std::fs::copy(out.join(file), kept.join(file)).unwrap();
    }
    // Printed as an auditor would print it: the PDF and its pages, none blank.
    let pages = common::print_to_pdf(&out.join("report.html"), &kept.join("print"));
    assert!(!pages.is_empty(), "{name}");

    let package = repo.path().join("quarter.tar");
    let html = out.join("report.html");
    must(
        repo,
        &[
            "evidence",
            "export",
            "--since",
            "2000-01-01",
            "--out",
            package.to_str().unwrap(),
            "--attach",
            html.to_str().unwrap(),
        ],
    );
    let verify = |file: &std::path::Path| common::verify_package(repo.path(), file);
    let (ours, python) = verify(&package);
    assert_eq!(ours.code, 0, "{name}: {}{}", ours.stdout, ours.stderr);
    assert_eq!(python.code, 0, "{name}: {}{}", python.stdout, python.stderr);

    // One character of a verdict entry's payload changed inside the package.
    let mut bytes = std::fs::read(&package).unwrap();
    // A tar member's data follows its 512-byte header (the name starts the header; the
    // name may appear elsewhere too, e.g. in a pax record) and ends at the padding's NULs.
    let member_data = |bytes: &[u8], path: &str| -> usize {
        let name = format!("countersign-evidence/{path}");
        (0..bytes.len().saturating_sub(512))
            .step_by(512)
            .find(|&at| bytes[at..].starts_with(name.as_bytes()) && bytes[at + 512] == b'{')
            .unwrap_or_else(|| panic!("{name} in the package"))
            + 512
    };
    let at = member_data(&bytes, "manifest.json");
    let end = at + bytes[at..].iter().position(|b| *b == 0).unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&bytes[at..end]).unwrap();
    let verdict_file = manifest["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "verdict")
        .unwrap_or_else(|| panic!("{name}: no verdict entry in the package"))["file"]
        .as_str()
        .unwrap()
        .to_owned();
    let data = member_data(&bytes, &verdict_file);
    let payload = data + bytes[data..].windows(9).position(|w| w == b"\"payload\"").expect("a DSSE payload") + 20;
    bytes[payload] = if bytes[payload] == b'A' { b'B' } else { b'A' };
    let tampered = repo.path().join("tampered.tar");
    std::fs::write(&tampered, &bytes).unwrap();
    let (ours, python) = verify(&tampered);
    assert_ne!(ours.code, 0, "{name}: a changed verdict entry passed: {}", ours.stdout);
    assert_ne!(python.code, 0, "{name}: a changed verdict entry passed the Python verifier: {}", python.stdout);
}

/// The same life seen by `countersign serve` on the same store and repository, as a user
/// would run it: its obligations (`/api/v1/obligations`) are the CLI's, and the console
/// change the scenario recorded is in its change list. Returns the line for the log.
fn server_agrees(repo: &Repo, policy: &serde_json::Value) -> String {
    std::fs::write(
        repo.path().join("server.toml"),
        format!(
            "[[repositories]]\nname = \"example/scenario\"\nforge = \"github\"\nwebhook-secret = {{ env = \"SCENARIO_SECRET\" }}\ngit-dir = \"{}\"\n",
            repo.path().join(".git").display()
        ),
    )
    .unwrap();
    let token =
        must(repo, &["--format", "json", "token", "create", "--role", "viewer", "--person", "auditor@example.com"]);
    let token: serde_json::Value = serde_json::from_str(&token).unwrap();
    let token = token["token"].as_str().unwrap().to_owned();
    let mut child = common::countersign_process(repo.path())
        .args(["serve", "--config", "server.toml", "--listen", "127.0.0.1:0"])
        .env("SCENARIO_SECRET", "scenario")
        .env("COUNTERSIGN_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("countersign serve starts");
    struct Stop(std::process::Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let _server = Stop(child);
    let first = lines.next().expect("serve prints its address").unwrap();
    let base = first.rsplit_once("listening on ").expect("the address").1.to_owned();
    let get = |path: &str| -> serde_json::Value {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let mut response =
            agent.get(&format!("{base}{path}")).header("Authorization", &format!("Bearer {token}")).call().unwrap();
        assert_eq!(response.status().as_u16(), 200, "GET {path}");
        serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap()
    };

    let cli = run(repo, &["--format", "json", "obligations", "--all"]);
    let cli: serde_json::Value = serde_json::from_str(&cli.stdout).unwrap();
    let listed = |list: &serde_json::Value| -> BTreeSet<(String, String, String)> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|o| {
                let text = |k: &str| o[k].as_str().unwrap_or_default().to_owned();
                (text("change"), text("obligation"), text("state"))
            })
            .collect()
    };
    let served = get("/api/v1/obligations");
    let on_server = listed(&served["repositories"][0]["obligations"]);
    assert_eq!(on_server, listed(&cli["obligations"]), "the server and the CLI disagree: {served:#}");

    // The console change joins the server's change list once its first sweep has run.
    let consoles = if policy["console"].is_null() { 0 } else { 1 };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let changes = get("/api/v1/changes");
        let found = changes["changes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["id"].as_str().unwrap().starts_with("console:"))
            .count();
        if found == consoles {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{found} console changes on the server, not {consoles}: {changes:#}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    format!(
        "\n$ serve: /api/v1/obligations agrees with the CLI ({} listed); console changes on /changes: {consoles}\n",
        on_server.len()
    )
}

#[test]
fn x05_s000_18_each_example_policy_through_a_changes_whole_life() {
    for name in POLICIES {
        let log = scenario(name);
        // Every entry the log holds is named in these outputs by index, never by time.
        insta::assert_snapshot!(format!("scenario_{name}"), log);
    }
}

/// The same lives on PostgreSQL: the same outputs, entry for entry.
#[test]
fn postgres_each_example_policy_through_a_changes_whole_life() {
    for name in POLICIES {
        let (log, database) = common::on_postgres(|| scenario(name));
        // The entries are in PostgreSQL, not in a SQLite file beside the repository.
        let entries = common::postgres_entries(&database.url).unwrap_or(0);
        assert!(entries >= 10, "{name}: {entries} entries in PostgreSQL");
        insta::assert_snapshot!(format!("scenario_{name}"), log);
    }
}
