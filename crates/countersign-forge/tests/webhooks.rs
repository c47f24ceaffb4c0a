//! Webhook deliveries: signatures, headers, and every recorded payload in
//! `../shared/fixtures/webhooks/` turned into events.
//!
//! The payloads are read from `shared/` beside the repository (see its README for where each
//! came from). A missing `shared/` fails these tests: CI always has it.

use std::path::{Path, PathBuf};

use countersign_engine::change::CheckStatus;
use countersign_forge::webhook::{
    CheckAction, CheckKind, CheckOutcome, DeploymentState, Event, EventKind, Forge, MergeGroupAction, Normalised,
    PullRequestAction, ReviewState, WebhookError, delivery, detect_forge, normalise, verify,
};
use jiff::Timestamp;

// ---------------------------------------------------------------------------------------
// Fixtures

fn fixtures_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/webhooks");
    assert!(
        dir.is_dir(),
        "the webhook fixtures are not at {}: these tests read ../shared/fixtures/webhooks beside the repository \
         (CI always lays shared/ there); check out or copy shared/ next to the repository",
        dir.display()
    );
    dir
}

/// Every `.json` file under the fixtures folder, as paths relative to it (`github/push/payload.json`).
fn fixture_files() -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if path.extension().is_some_and(|ext| ext == "json") {
                let relative = path.strip_prefix(root).expect("under the root");
                out.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let root = fixtures_dir();
    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    files.sort();
    files
}

fn read_fixture(relative: &str) -> Vec<u8> {
    let path = fixtures_dir().join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The forge and event header a recorded payload was delivered with.
///
/// GitHub: the folder is `X-GitHub-Event`. Gitea: the folder is `X-Gitea-Event`, except
/// reviews, whose event is `pull_request_approved`, `pull_request_rejected` or
/// `pull_request_comment` (the fixtures README's table). GitLab: `object_kind` gives
/// `X-Gitlab-Event`.
fn forge_and_event(relative: &str, body: &[u8]) -> (Forge, String) {
    let mut parts = relative.split('/');
    let forge = parts.next().expect("forge folder");
    let folder = parts.next().expect("event folder");
    let file = parts.next().expect("file");
    match forge {
        "github" => (Forge::GitHub, folder.to_string()),
        "gitea" => {
            let event = match (folder, file.split('.').next().expect("file stem")) {
                ("pull_request_review", "approved") => "pull_request_approved",
                ("pull_request_review", "rejected") => "pull_request_rejected",
                ("pull_request_review", "comment") => "pull_request_comment",
                ("pull_request_review", other) => panic!("{relative}: a Gitea review fixture named `{other}`"),
                (folder, _) => folder,
            };
            (Forge::Gitea, event.to_string())
        }
        "gitlab" => {
            let json: serde_json::Value = serde_json::from_slice(body).expect("fixture is JSON");
            let kind = json["object_kind"].as_str().unwrap_or_else(|| panic!("{relative}: no object_kind"));
            let header = match kind {
                "merge_request" => "Merge Request Hook",
                "push" => "Push Hook",
                "tag_push" => "Tag Push Hook",
                "note" => "Note Hook",
                "pipeline" => "Pipeline Hook",
                "build" => "Job Hook",
                "deployment" => "Deployment Hook",
                "issue" => "Issue Hook",
                "release" => "Release Hook",
                other => panic!("{relative}: object_kind `{other}` has no X-Gitlab-Event here yet"),
            };
            (Forge::GitLab, header.to_string())
        }
        other => panic!("{relative}: unknown forge folder `{other}`"),
    }
}

/// What each recorded payload should become: an event kind, or `ignored`.
fn expected_kind(relative: &str) -> &'static str {
    let parts: Vec<&str> = relative.split('/').collect();
    let action = parts[2].split('.').next().expect("file stem");
    match (parts[0], parts[1]) {
        ("github", "pull_request") => match action {
            "assigned" | "unassigned" | "locked" | "unlocked" | "review_requested" | "review_request_removed" => {
                "ignored"
            }
            _ => "pull_request",
        },
        ("github", "pull_request_review") => "review",
        ("github", "check_run" | "check_suite" | "status") => "check",
        ("github", "push") => "push",
        ("github", "merge_group") => "merge_group",
        ("github", "deployment" | "deployment_status") => "deployment",
        ("github", "deployment_protection_rule") => "deployment_gate",
        ("github", "ping") => "ping",
        ("github", "branch_protection_configuration" | "branch_protection_rule" | "repository_ruleset") => {
            "protection_changed"
        }
        (
            "github",
            "deployment_review"
            | "pull_request_review_comment"
            | "pull_request_review_thread"
            | "workflow_job"
            | "workflow_run",
        ) => "ignored",
        ("gitea", "pull_request") if action == "review_requested" => "ignored",
        ("gitea", "pull_request") => "pull_request",
        ("gitea", "pull_request_review") => "review",
        ("gitea", "push") => "push",
        ("gitea", "create" | "issue_comment") => "ignored",
        ("gitlab", "merge_request" | "external_status_check") => "pull_request",
        ("gitlab", "push" | "tag_push") => "push",
        ("gitlab", "pipeline" | "job") => "check",
        ("gitlab", "deployment") => "deployment",
        ("gitlab", "note") => "ignored",
        _ => panic!("{relative}: a new fixture folder; say in expected_kind what it should become"),
    }
}

fn kind_name(event: &Event) -> &'static str {
    match &event.kind {
        EventKind::PullRequest(_) => "pull_request",
        EventKind::Review(_) => "review",
        EventKind::Check(_) => "check",
        EventKind::Push(_) => "push",
        EventKind::MergeGroup(_) => "merge_group",
        EventKind::Deployment(_) => "deployment",
        EventKind::DeploymentGate(_) => "deployment_gate",
        EventKind::Installation(_) => "installation",
        EventKind::Ping(_) => "ping",
        EventKind::ProtectionChanged(_) => "protection_changed",
    }
}

fn normalise_fixture(relative: &str) -> Normalised {
    let body = read_fixture(relative);
    let (forge, event) = forge_and_event(relative, &body);
    normalise(forge, &event, &body).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

fn event_of(relative: &str) -> Event {
    match normalise_fixture(relative) {
        Normalised::Event(event) => *event,
        Normalised::Ignored { event } => panic!("{relative}: ignored as `{event}`"),
    }
}

/// A fixture with some fields changed, for the actions no recording shows.
fn patched(relative: &str, forge: Forge, event: &str, patch: impl FnOnce(&mut serde_json::Value)) -> Event {
    let mut json: serde_json::Value = serde_json::from_slice(&read_fixture(relative)).expect("fixture is JSON");
    patch(&mut json);
    let body = serde_json::to_vec(&json).expect("serialize");
    match normalise(forge, event, &body).unwrap_or_else(|e| panic!("{relative} patched: {e}")) {
        Normalised::Event(event) => *event,
        Normalised::Ignored { event } => panic!("{relative} patched: ignored as `{event}`"),
    }
}

fn time(text: &str) -> Option<Timestamp> {
    Some(text.parse().expect("a test timestamp"))
}

/// The concrete values a fixture's event must carry: repository, number, head, actor.
struct Expect {
    file: &'static str,
    repository: Option<&'static str>,
    number: Option<u64>,
    head_sha: Option<&'static str>,
    actor: Option<&'static str>,
}

const CODERTOCAT_HEAD: &str = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";

/// Values read by hand from the JSON files.
const EXPECTED: &[Expect] = &[
    Expect {
        file: "github/pull_request/opened.payload.json",
        repository: Some("Codertocat/Hello-World"),
        number: Some(2),
        head_sha: Some(CODERTOCAT_HEAD),
        actor: Some("Codertocat"),
    },
    Expect {
        file: "github/pull_request/closed.with-organization.payload.json",
        repository: Some("Codertocat/Hello-World"),
        number: Some(2),
        head_sha: Some(CODERTOCAT_HEAD),
        actor: Some("Codertocat"),
    },
    Expect {
        file: "github/pull_request_review/dismissed.payload.json",
        repository: Some("Codertocat/Hello-World"),
        number: Some(2),
        head_sha: Some(CODERTOCAT_HEAD),
        actor: Some("Codertocat"),
    },
    Expect {
        file: "github/check_run/requested_action.payload.json",
        repository: Some("electron/electron"),
        number: Some(26764),
        head_sha: Some("5bd5f196a46b8222fb7484f05faba41a73cf34bd"),
        actor: Some("codebytere"),
    },
    Expect {
        file: "github/check_run/rerequested.payload.json",
        repository: Some("github/hello-world"),
        number: None,
        head_sha: Some("d6fde92930d4715a2b49857d24b940956b26d2d3"),
        actor: Some("octocat"),
    },
    Expect {
        file: "github/check_suite/rerequested.payload.json",
        repository: Some("Codertocat/Hello-World"),
        number: Some(2),
        head_sha: Some(CODERTOCAT_HEAD),
        actor: Some("octocoders-linter[bot]"),
    },
    Expect {
        file: "github/check_suite/requested.payload.json",
        repository: Some("Codertocat/Hello-World"),
        number: None,
        head_sha: Some("f95f852bd8fca8fcc58a9a2d6c842781e32a215e"),
        actor: Some("Codertocat"),
    },
    Expect {
        file: "github/status/with-installation.payload.json",
        repository: Some("Codertocat/Hello-World"),
        number: None,
        head_sha: Some("6113728f27ae82c7b1a177c8d03f9e96e0adf246"),
        actor: Some("Codertocat"),
    },
    Expect {
        file: "github/push/with-new-branch.payload.json",
        repository: Some("Codertocat/Hello-World"),
        number: None,
        head_sha: Some("6113728f27ae82c7b1a177c8d03f9e96e0adf246"),
        actor: Some("Codertocat"),
    },
    Expect {
        file: "github/push/payload.json",
        repository: Some("Codertocat/Hello-World"),
        number: None,
        head_sha: None,
        actor: Some("Codertocat"),
    },
    Expect {
        file: "github/merge_group/checks_requested.payload.json",
        repository: Some("octo-org/octo-repo"),
        number: Some(104),
        head_sha: Some("2ffea6db159f6b6c47a24e778fb9ef40cf6b1c7d"),
        actor: Some("Codertocat"),
    },
    Expect {
        file: "github/deployment_status/gh-pages.payload.json",
        repository: Some("Codertocat/Hello-World"),
        number: None,
        head_sha: Some("f95f852bd8fca8fcc58a9a2d6c842781e32a215e"),
        actor: Some("Codertocat"),
    },
    Expect {
        file: "github/deployment_protection_rule/requested.payload.json",
        repository: Some("Codertocat/Hello-World"),
        number: Some(2),
        head_sha: Some("f95f852bd8fca8fcc58a9a2d6c842781e32a215e"),
        actor: Some("Codertocat"),
    },
    Expect {
        file: "github/ping/with-organization.payload.json",
        repository: None,
        number: None,
        head_sha: None,
        actor: Some("Codertocat"),
    },
    Expect {
        file: "gitea/pull_request/opened.go-playground.json",
        repository: Some("example/example"),
        number: Some(2),
        head_sha: Some("48e773f892a831faa47c0a160d1b7f0cd369ae2a"),
        actor: Some("example2"),
    },
    Expect {
        file: "gitea/pull_request/opened.minimal.woodpecker.json",
        repository: Some("gordon/hello-world"),
        number: Some(1),
        head_sha: Some("0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"),
        actor: Some("gordon"),
    },
    Expect {
        file: "gitea/pull_request/reopened.codeberg.woodpecker.json",
        repository: Some("test_it/test_ci_thing"),
        number: Some(1),
        head_sha: Some("36b5813240a9d2daa29b05046d56a53e18f39a3e"),
        actor: Some("6543"),
    },
    Expect {
        file: "gitea/pull_request/closed.woodpecker.json",
        repository: Some("anbraten/test-repo"),
        number: Some(1),
        head_sha: Some("d555a5dd07f4d0148a58d4686ec381502ae6a2d4"),
        actor: Some("anbraten"),
    },
    Expect {
        file: "gitea/pull_request_review/rejected.woodpecker.json",
        repository: Some("a_nice_user/hello_world_ci"),
        number: Some(7),
        head_sha: Some("07977177c2cd7d46bad37b8472a9d50e7acb9d1f"),
        actor: Some("a_nice_user"),
    },
    Expect {
        file: "gitea/pull_request_review/comment.go-playground.json",
        repository: Some("example/example"),
        number: Some(2),
        head_sha: Some("48e773f892a831faa47c0a160d1b7f0cd369ae2a"),
        actor: Some("example"),
    },
    Expect {
        file: "gitea/push/docs-example.json",
        repository: Some("gitea/webhooks"),
        number: None,
        head_sha: Some("bffeb74224043ba2feb48d137756c8a9331c449a"),
        actor: Some("gitea"),
    },
    Expect {
        file: "gitea/push/minimal.woodpecker.json",
        repository: Some("gordon/hello-world"),
        number: None,
        head_sha: Some("ef98532add3b2feb7a137426bba1248724367df5"),
        actor: Some("gordon"),
    },
    Expect {
        file: "gitlab/merge_request/open.docs-example.json",
        repository: Some("gitlabhq/gitlab-test"),
        number: Some(1),
        head_sha: Some("da1560886d4f094c3e6c9ef40349f7d38b5d27d7"),
        actor: Some("root"),
    },
    Expect {
        file: "gitlab/external_status_check/merge_request.docs-example.json",
        repository: Some("flightjs/Flight"),
        number: Some(4),
        head_sha: Some("141be9714669a4c1ccaa013c6a7f3e462ff2a40f"),
        actor: Some("root"),
    },
    Expect {
        file: "gitlab/push/docs-example.json",
        repository: Some("mike/diaspora"),
        number: None,
        head_sha: Some("da1560886d4f094c3e6c9ef40349f7d38b5d27d7"),
        actor: Some("jsmith"),
    },
    // The tag push example has `user_name` but no `user_username`: no login, so no actor.
    Expect {
        file: "gitlab/tag_push/docs-example.json",
        repository: Some("jsmith/example"),
        number: None,
        head_sha: Some("82b3d5ae55f7080f1e6022629cdb57bfae7cccc7"),
        actor: None,
    },
    Expect {
        file: "gitlab/pipeline/docs-example.json",
        repository: Some("gitlab-org/gitlab-test"),
        number: Some(1),
        head_sha: Some("bcbb5ec396a2c0f828686f14fac9b80b780504f2"),
        actor: Some("root"),
    },
    Expect {
        file: "gitlab/job/recorded.go-gitlab.json",
        repository: Some("jsmithy2/release-tools-fake"),
        number: None,
        head_sha: Some("95d49d1efbd941908580e79d65e4b5ecaf4a8305"),
        actor: Some("jsmithy2"),
    },
    Expect {
        file: "gitlab/deployment/docs-example.json",
        repository: Some("root/test-deployment-webhooks"),
        number: None,
        head_sha: Some("279484c09fbe69ededfced8c1bb6e6d24616b468"),
        actor: Some("root"),
    },
];

// ---------------------------------------------------------------------------------------
// Every recorded payload

#[test]
fn every_recorded_payload_normalises_to_the_expected_kind() {
    let files = fixture_files();
    assert!(files.len() >= 100, "expected the full fixture set, found {} files", files.len());
    for relative in &files {
        let got = match normalise_fixture(relative) {
            Normalised::Event(event) => kind_name(&event),
            Normalised::Ignored { .. } => "ignored",
        };
        assert_eq!(got, expected_kind(relative), "{relative}");
    }
}

/// The repository, sender and (where there is one) pull request number the JSON itself
/// holds, for every GitHub and Gitea payload that becomes an event.
#[test]
fn every_github_and_gitea_event_names_the_repository_and_sender_of_its_payload() {
    for relative in fixture_files().iter().filter(|f| !f.starts_with("gitlab/")) {
        let Normalised::Event(event) = normalise_fixture(relative) else { continue };
        let json: serde_json::Value = serde_json::from_slice(&read_fixture(relative)).expect("JSON");
        assert_eq!(event.repository_name(), json["repository"]["full_name"].as_str(), "{relative}");
        assert_eq!(event.repository.as_ref().and_then(|r| r.id), json["repository"]["id"].as_u64(), "{relative}");
        assert_eq!(event.actor.as_deref(), json["sender"]["login"].as_str(), "{relative}");
        if let Some(number) = json["pull_request"]["number"].as_u64() {
            assert_eq!(event.pr_number(), Some(number), "{relative}");
        }
        if let Some(head) = json["pull_request"]["head"]["sha"].as_str() {
            assert_eq!(event.head_sha(), Some(head), "{relative}");
        }
        assert_eq!(event.installation_id, json["installation"]["id"].as_u64(), "{relative}");
    }
}

#[test]
fn recorded_payloads_carry_the_values_read_from_them() {
    for expect in EXPECTED {
        let event = event_of(expect.file);
        assert_eq!(event.repository_name(), expect.repository, "{}: repository", expect.file);
        assert_eq!(event.pr_number(), expect.number, "{}: number", expect.file);
        assert_eq!(event.head_sha(), expect.head_sha, "{}: head", expect.file);
        assert_eq!(event.actor.as_deref(), expect.actor, "{}: actor", expect.file);
    }
}

#[test]
fn every_event_round_trips_through_json() {
    for relative in fixture_files() {
        let normalised = normalise_fixture(&relative);
        let json = serde_json::to_string(&normalised).expect("serialize");
        let back: Normalised = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{relative}: {e}\n{json}"));
        assert_eq!(back, normalised, "{relative}");
    }
}

#[test]
fn ignored_events_say_what_was_ignored() {
    let ignored = |relative| match normalise_fixture(relative) {
        Normalised::Ignored { event } => event,
        Normalised::Event(event) => panic!("{relative}: became {event:?}"),
    };
    assert_eq!(ignored("github/pull_request/assigned.payload.json"), "pull_request.assigned");
    assert_eq!(ignored("github/workflow_run/completed.payload.json"), "workflow_run");
    assert_eq!(ignored("gitea/pull_request/review_requested.woodpecker.json"), "pull_request.review_requested");
    assert_eq!(ignored("gitea/issue_comment/pull-request-comment.go-playground.json"), "issue_comment");
    assert_eq!(ignored("gitea/create/tag.woodpecker.json"), "create");
    assert_eq!(ignored("gitlab/note/merge_request.docs-example.json"), "Note Hook");
}

// ---------------------------------------------------------------------------------------
// Pull requests

#[test]
fn s000_03_pull_request_events_name_number_head_and_author() {
    let event = event_of("github/pull_request/opened.payload.json");
    assert_eq!(event.forge, Forge::GitHub);
    assert_eq!(event.installation_id, Some(1));
    assert_eq!(event.time, time("2019-05-15T15:20:33Z"));
    let EventKind::PullRequest(pr) = &event.kind else { panic!("{event:?}") };
    assert_eq!(pr.action, PullRequestAction::Opened);
    assert_eq!(pr.author.as_deref(), Some("Codertocat"));
    assert_eq!(pr.title.as_deref(), Some("Update the README with new information."));
    assert_eq!(pr.head_ref.as_deref(), Some("changes"));
    assert_eq!(pr.base_ref.as_deref(), Some("master"));
    assert_eq!(pr.base_sha.as_deref(), Some("f95f852bd8fca8fcc58a9a2d6c842781e32a215e"));
    assert_eq!(pr.labels, Some(vec!["bug".to_string()]));

    let event = event_of("gitea/pull_request/edited.title.woodpecker.json");
    let EventKind::PullRequest(pr) = &event.kind else { panic!("{event:?}") };
    assert_eq!(pr.action, PullRequestAction::Edited);
    assert_eq!((pr.number, pr.author.as_deref()), (7, Some("jony")));
    assert_eq!(event.actor.as_deref(), Some("a_nice_user"));

    let event = event_of("gitlab/merge_request/open.docs-example.json");
    assert_eq!(event.repository.as_ref().and_then(|r| r.id), Some(1));
    assert_eq!(event.time, time("2013-12-03T17:23:34Z"));
    let EventKind::PullRequest(mr) = &event.kind else { panic!("{event:?}") };
    assert_eq!(mr.action, PullRequestAction::Opened);
    assert_eq!(mr.title.as_deref(), Some("MS-Viewport"));
    assert_eq!((mr.head_ref.as_deref(), mr.base_ref.as_deref()), (Some("ms-viewport"), Some("master")));
    assert_eq!(mr.labels, Some(vec!["API".to_string()]));
    assert_eq!(mr.draft, Some(false));
}

#[test]
fn s001_02_new_commits_say_where_the_head_was() {
    let event = event_of("github/pull_request/synchronize.payload.json");
    let EventKind::PullRequest(pr) = &event.kind else { panic!("{event:?}") };
    assert_eq!(
        pr.action,
        PullRequestAction::Synchronized {
            before: Some("f95f852bd8fca8fcc58a9a2d6c842781e32a215e".into()),
            after: Some(CODERTOCAT_HEAD.into()),
        }
    );

    let event = event_of("gitea/pull_request/synchronized.woodpecker.json");
    assert_eq!(event.repository_name(), Some("Test-CI/multi-line-secrets"));
    let EventKind::PullRequest(pr) = &event.kind else { panic!("{event:?}") };
    let head = "788ed8d02d3b7fcfcf6386dbcbca696aa1d4dc25";
    assert_eq!(pr.action, PullRequestAction::Synchronized { before: None, after: Some(head.into()) });
    assert_eq!((pr.number, pr.head_sha.as_deref()), (2, Some(head)));
    assert_eq!(pr.labels, Some(vec!["Kind/Bug".to_string(), "Kind/Security".to_string()]));

    // GitLab: an `update` with `oldrev` is a push to the merge request.
    let event = patched("gitlab/merge_request/open.docs-example.json", Forge::GitLab, "Merge Request Hook", |json| {
        json["object_attributes"]["action"] = "update".into();
        json["object_attributes"]["oldrev"] = "95790bf891e76fee5e1747ab589903a6a1f80f22".into();
    });
    let EventKind::PullRequest(mr) = &event.kind else { panic!("{event:?}") };
    assert_eq!(
        mr.action,
        PullRequestAction::Synchronized {
            before: Some("95790bf891e76fee5e1747ab589903a6a1f80f22".into()),
            after: Some("da1560886d4f094c3e6c9ef40349f7d38b5d27d7".into()),
        }
    );
}

#[test]
fn s003_07_label_changes_name_the_label() {
    let event = event_of("github/pull_request/labeled.payload.json");
    let EventKind::PullRequest(pr) = &event.kind else { panic!("{event:?}") };
    assert_eq!(pr.action, PullRequestAction::Labeled { label: "bug".into() });
    assert_eq!(pr.labels, Some(vec!["bug".to_string()]));

    let event = event_of("github/pull_request/unlabeled.with-organization.payload.json");
    let EventKind::PullRequest(pr) = &event.kind else { panic!("{event:?}") };
    assert_eq!(pr.action, PullRequestAction::Unlabeled { label: "bug".into() });

    // Gitea says only that the set changed; the set is in `labels`.
    let event = patched("gitea/pull_request/synchronized.woodpecker.json", Forge::Gitea, "pull_request", |json| {
        json["action"] = "label_updated".into();
    });
    let EventKind::PullRequest(pr) = &event.kind else { panic!("{event:?}") };
    assert_eq!(pr.action, PullRequestAction::LabelsChanged);
    assert_eq!(pr.labels.as_ref().map(Vec::len), Some(2));

    // GitLab: an `update` whose `changes` has `labels`.
    let event = patched("gitlab/merge_request/open.docs-example.json", Forge::GitLab, "Merge Request Hook", |json| {
        json["object_attributes"]["action"] = "update".into();
    });
    let EventKind::PullRequest(mr) = &event.kind else { panic!("{event:?}") };
    assert_eq!(mr.action, PullRequestAction::LabelsChanged);
}

#[test]
fn s000_07_merges_record_who_merged_and_the_merge_commit() {
    // No recorded GitHub merge: the closed payload, marked merged as GitHub does.
    let event = patched("github/pull_request/closed.payload.json", Forge::GitHub, "pull_request", |json| {
        json["pull_request"]["merged"] = true.into();
        json["pull_request"]["merged_by"] = serde_json::json!({ "login": "octocat" });
        json["pull_request"]["merged_at"] = "2019-05-15T15:21:19Z".into();
    });
    let EventKind::PullRequest(pr) = &event.kind else { panic!("{event:?}") };
    assert_eq!(
        pr.action,
        PullRequestAction::Merged {
            merge_commit_sha: Some("c4295bd74fb0f4fda03689c3df3f2803b658fd85".into()),
            merged_by: Some("octocat".into()),
        }
    );
    assert_eq!(event.time, time("2019-05-15T15:21:19Z"));

    let event = event_of("github/pull_request/closed.payload.json");
    let EventKind::PullRequest(pr) = &event.kind else { panic!("{event:?}") };
    assert_eq!(pr.action, PullRequestAction::Closed);
    assert_eq!(event.time, time("2019-05-15T15:21:18Z"));

    let event = event_of("gitea/pull_request/closed.merged.woodpecker.json");
    assert_eq!(event.time, time("2023-12-05T18:35:31Z"));
    let EventKind::PullRequest(pr) = &event.kind else { panic!("{event:?}") };
    assert_eq!(
        pr.action,
        PullRequestAction::Merged {
            merge_commit_sha: Some("f2440f050054df0f8ecabcace648f1683509064c".into()),
            merged_by: Some("anbraten".into()),
        }
    );
    assert_eq!(pr.base_ref.as_deref(), Some("main"));

    let event = patched("gitlab/merge_request/open.docs-example.json", Forge::GitLab, "Merge Request Hook", |json| {
        json["object_attributes"]["action"] = "merge".into();
        json["object_attributes"]["state"] = "merged".into();
        json["object_attributes"]["merge_commit_sha"] = "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7".into();
    });
    let EventKind::PullRequest(mr) = &event.kind else { panic!("{event:?}") };
    assert_eq!(
        mr.action,
        PullRequestAction::Merged {
            merge_commit_sha: Some("82b3d5ae55f7080f1e6022629cdb57bfae7cccc7".into()),
            merged_by: Some("root".into()),
        }
    );
}

#[test]
fn draft_state_changes_are_read() {
    let event = event_of("github/pull_request/ready_for_review.payload.json");
    let EventKind::PullRequest(pr) = &event.kind else { panic!("{event:?}") };
    assert_eq!(pr.action, PullRequestAction::ReadyForReview);
    let event = event_of("github/pull_request/converted_to_draft.payload.json");
    let EventKind::PullRequest(pr) = &event.kind else { panic!("{event:?}") };
    assert_eq!(pr.action, PullRequestAction::ConvertedToDraft);
}

#[test]
fn gitlab_merge_request_actions() {
    let with_action = |action: &str| {
        let event =
            patched("gitlab/merge_request/open.docs-example.json", Forge::GitLab, "Merge Request Hook", |json| {
                json["object_attributes"]["action"] = action.into();
                json["changes"] = serde_json::json!({});
            });
        match event.kind {
            EventKind::PullRequest(mr) => mr.action,
            other => panic!("{action}: {other:?}"),
        }
    };
    assert_eq!(with_action("reopen"), PullRequestAction::Reopened);
    assert_eq!(with_action("close"), PullRequestAction::Closed);

    // An update that changed nothing countersign reads is ignored.
    let body = serde_json::json!({
        "object_kind": "merge_request",
        "user": { "username": "root" },
        "project": { "id": 1, "path_with_namespace": "g/p" },
        "object_attributes": { "iid": 3, "action": "update" },
        "changes": { "assignees": { "previous": [], "current": [] } }
    });
    let normalised = normalise(Forge::GitLab, "Merge Request Hook", body.to_string().as_bytes()).expect("normalise");
    assert_eq!(normalised, Normalised::Ignored { event: "Merge Request Hook.update".into() });

    let event = event_of("gitlab/external_status_check/merge_request.docs-example.json");
    let EventKind::PullRequest(mr) = &event.kind else { panic!("{event:?}") };
    assert_eq!(mr.action, PullRequestAction::StatusCheckRequested { rule_id: Some(1), rule_name: Some("QA".into()) });
    assert_eq!(event.repository.as_ref().and_then(|r| r.id), Some(6));
}

// ---------------------------------------------------------------------------------------
// Reviews

#[test]
fn s001_02_approvals_keep_the_commit_they_were_given_on() {
    // GitHub: `review.commit_id`; the recorded review is a comment, so it is made an approval.
    let event =
        patched("github/pull_request_review/submitted.payload.json", Forge::GitHub, "pull_request_review", |json| {
            json["review"]["state"] = "approved".into();
            json["review"]["commit_id"] = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e".into();
        });
    let EventKind::Review(review) = &event.kind else { panic!("{event:?}") };
    assert_eq!(review.state, ReviewState::Approved);
    assert_eq!(review.commit_sha.as_deref(), Some("f95f852bd8fca8fcc58a9a2d6c842781e32a215e"));
    assert_eq!(review.head_sha.as_deref(), Some(CODERTOCAT_HEAD), "the head moved on after the review");
    assert_eq!(review.reviewer.as_deref(), Some("Codertocat"));
    assert_eq!(review.submitted_at, time("2019-05-15T15:20:38Z"));
    assert_eq!((review.number, review.id), (2, Some(237895671)));

    // Gitea: the reviewer is the sender; the commit is the head the review came with.
    let event = event_of("gitea/pull_request_review/approved.woodpecker.json");
    let EventKind::Review(review) = &event.kind else { panic!("{event:?}") };
    assert_eq!(review.state, ReviewState::Approved);
    assert_eq!(review.forge_state, "pull_request_review_approved");
    assert_eq!(review.reviewer.as_deref(), Some("a_nice_user"));
    assert_eq!(review.commit_sha.as_deref(), Some("07977177c2cd7d46bad37b8472a9d50e7acb9d1f"));
    assert_eq!(review.number, 7);
    assert_eq!(review.submitted_at, None);

    // GitLab: `approval` (one person) and `approved` (the rules are met) are both approvals by `user`.
    for action in ["approval", "approved"] {
        let event =
            patched("gitlab/merge_request/open.docs-example.json", Forge::GitLab, "Merge Request Hook", |json| {
                json["object_attributes"]["action"] = action.into();
                json["user"]["username"] = "user1".into();
            });
        let EventKind::Review(review) = &event.kind else { panic!("{event:?}") };
        assert_eq!(review.state, ReviewState::Approved, "{action}");
        assert_eq!(review.forge_state, action);
        assert_eq!(review.reviewer.as_deref(), Some("user1"));
        assert_eq!(review.commit_sha.as_deref(), Some("da1560886d4f094c3e6c9ef40349f7d38b5d27d7"));
        assert_eq!(review.number, 1);
        assert_eq!(event.repository_name(), Some("gitlabhq/gitlab-test"));
    }
    for action in ["unapproval", "unapproved"] {
        let event =
            patched("gitlab/merge_request/open.docs-example.json", Forge::GitLab, "Merge Request Hook", |json| {
                json["object_attributes"]["action"] = action.into();
            });
        let EventKind::Review(review) = &event.kind else { panic!("{event:?}") };
        assert_eq!(review.state, ReviewState::Withdrawn, "{action}");
    }
}

#[test]
fn review_states_of_each_forge() {
    let github = |state: &str| {
        let event = patched(
            "github/pull_request_review/submitted.payload.json",
            Forge::GitHub,
            "pull_request_review",
            |json| {
                json["review"]["state"] = state.into();
            },
        );
        match event.kind {
            EventKind::Review(review) => review.state,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(github("changes_requested"), ReviewState::ChangesRequested);
    assert_eq!(github("APPROVED"), ReviewState::Approved);
    assert_eq!(github("commented"), ReviewState::Commented);
    assert_eq!(github("a-state-from-the-future"), ReviewState::Commented, "an unknown state is never an approval");

    let event = event_of("github/pull_request_review/dismissed.payload.json");
    let EventKind::Review(review) = &event.kind else { panic!("{event:?}") };
    assert_eq!(review.state, ReviewState::Dismissed);
    assert_eq!(review.commit_sha.as_deref(), Some(CODERTOCAT_HEAD));

    let state = |relative| match event_of(relative).kind {
        EventKind::Review(review) => (review.state, review.forge_state),
        other => panic!("{relative}: {other:?}"),
    };
    assert_eq!(
        state("gitea/pull_request_review/rejected.woodpecker.json"),
        (ReviewState::ChangesRequested, "pull_request_review_rejected".into())
    );
    assert_eq!(
        state("gitea/pull_request_review/comment.woodpecker.json"),
        (ReviewState::Commented, "pull_request_review_comment".into())
    );
    // Gitea of 2022 wrote `pull_request_comment` as the type of a comment review.
    assert_eq!(
        state("gitea/pull_request_review/comment.go-playground.json"),
        (ReviewState::Commented, "pull_request_comment".into())
    );
}

// ---------------------------------------------------------------------------------------
// Checks

#[test]
fn s000_03_check_events_name_the_commit_and_the_ci_run() {
    let event = event_of("github/check_run/completed.payload.json");
    assert_eq!(event.time, time("2019-05-15T15:21:12Z"));
    let EventKind::Check(check) = &event.kind else { panic!("{event:?}") };
    assert_eq!((check.kind, &check.action), (CheckKind::CheckRun, &CheckAction::Reported));
    assert_eq!(check.name, "Octocoders-linter");
    assert_eq!(check.head_sha, CODERTOCAT_HEAD);
    assert_eq!((check.outcome, check.forge_status.as_str()), (CheckOutcome::Success, "completed/success"));
    assert_eq!(check.id, Some(128620228));
    assert_eq!((check.app.as_deref(), check.app_id), (Some("octocoders-linter"), Some(29310)));
    assert_eq!(check.branch.as_deref(), Some("changes"));
    assert_eq!(check.pull_requests, vec![2]);

    let event = event_of("github/check_suite/completed.payload.json");
    let EventKind::Check(check) = &event.kind else { panic!("{event:?}") };
    assert_eq!((check.kind, check.outcome), (CheckKind::CheckSuite, CheckOutcome::Success));
    assert_eq!(check.id, Some(118578147));
    assert_eq!(check.completed_at, time("2019-05-15T15:21:14Z"));

    let event = event_of("github/status/payload.json");
    assert_eq!(event.time, time("2019-05-15T15:20:55Z"));
    let EventKind::Check(status) = &event.kind else { panic!("{event:?}") };
    assert_eq!((status.kind, status.name.as_str()), (CheckKind::CommitStatus, "default"));
    assert_eq!(status.outcome, CheckOutcome::Success);
    assert_eq!(status.branch, None, "the commit heads three branches");
    let event = event_of("github/status/with-author-committer-null.payload.json");
    let EventKind::Check(status) = &event.kind else { panic!("{event:?}") };
    assert_eq!(status.branch.as_deref(), Some("master"));

    let event = event_of("gitlab/pipeline/docs-example.json");
    assert_eq!(event.time, time("2016-08-12T15:26:29Z"));
    let EventKind::Check(pipeline) = &event.kind else { panic!("{event:?}") };
    assert_eq!((pipeline.kind, pipeline.name.as_str()), (CheckKind::Pipeline, "pipeline"));
    assert_eq!((pipeline.id, pipeline.outcome), (Some(31), CheckOutcome::Success));
    assert_eq!(pipeline.branch.as_deref(), Some("master"));
    assert_eq!(pipeline.started_at, time("2016-08-12T15:23:28Z"));

    let event = event_of("gitlab/job/recorded.go-gitlab.json");
    assert_eq!(event.repository.as_ref().and_then(|r| r.id), Some(31537070));
    assert_eq!(event.time, time("2023-01-10T13:50:54Z"));
    let EventKind::Check(job) = &event.kind else { panic!("{event:?}") };
    assert_eq!((job.kind, job.name.as_str()), (CheckKind::Job, "auto_deploy:start"));
    assert_eq!((job.id, job.pipeline_id), (Some(3580121225), Some(743121198)));
    assert_eq!(job.outcome, CheckOutcome::Success);
}

#[test]
fn s000_10_a_failed_check_is_a_failure() {
    let event = event_of("github/check_run/completed.1.payload.json");
    let EventKind::Check(check) = &event.kind else { panic!("{event:?}") };
    assert_eq!((check.outcome, check.forge_status.as_str()), (CheckOutcome::Failure, "completed/failure"));
    assert_eq!(check.outcome.check_status(), CheckStatus::Failure);
    assert_eq!(check.app.as_deref(), Some("github-actions"));

    let event = event_of("github/check_run/created.payload.json");
    let EventKind::Check(check) = &event.kind else { panic!("{event:?}") };
    assert_eq!((check.outcome, check.forge_status.as_str()), (CheckOutcome::Pending, "queued"));
    assert_eq!(check.outcome.check_status(), CheckStatus::Pending);

    let conclusion = |conclusion: &str| {
        let event = patched("github/check_run/completed.payload.json", Forge::GitHub, "check_run", |json| {
            json["check_run"]["conclusion"] = conclusion.into();
        });
        match event.kind {
            EventKind::Check(check) => check.outcome,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(conclusion("timed_out"), CheckOutcome::Failure);
    assert_eq!(conclusion("action_required"), CheckOutcome::Failure);
    assert_eq!(conclusion("startup_failure"), CheckOutcome::Failure);
    assert_eq!(conclusion("something-new"), CheckOutcome::Failure, "an unknown conclusion never passes");
    assert_eq!(conclusion("cancelled"), CheckOutcome::Cancelled);
    assert_eq!(conclusion("skipped").check_status(), CheckStatus::Skipped);

    let job = |status: &str| {
        let event = patched("gitlab/job/recorded.go-gitlab.json", Forge::GitLab, "Job Hook", |json| {
            json["build_status"] = status.into();
        });
        match event.kind {
            EventKind::Check(check) => check.outcome,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(job("failed"), CheckOutcome::Failure);
    assert_eq!(job("running"), CheckOutcome::Pending);
    assert_eq!(job("manual"), CheckOutcome::Pending);
    assert_eq!(job("canceled"), CheckOutcome::Cancelled);
}

#[test]
fn check_requests_are_told_apart_from_results() {
    let action = |relative| match event_of(relative).kind {
        EventKind::Check(check) => check.action,
        other => panic!("{relative}: {other:?}"),
    };
    assert_eq!(action("github/check_suite/requested.payload.json"), CheckAction::Requested);
    assert_eq!(action("github/check_suite/rerequested.payload.json"), CheckAction::Rerequested);
    assert_eq!(action("github/check_run/rerequested.payload.json"), CheckAction::Rerequested);
    assert_eq!(
        action("github/check_run/requested_action.payload.json"),
        CheckAction::RequestedAction { identifier: Some("lgtm|26764".into()) }
    );
    assert_eq!(event_of("github/check_suite/requested.payload.json").installation_id, Some(957387));
}

/// No Gitea commit status delivery has been recorded: this one follows Gitea's
/// `CommitStatusPayload` (`modules/structs/hook.go`).
#[test]
fn gitea_commit_status_follows_its_struct() {
    let body = serde_json::json!({
        "commit": { "id": "bffeb74224043ba2feb48d137756c8a9331c449a", "message": "x", "url": "u" },
        "context": "ci/woodpecker/push/test",
        "created_at": "2024-02-22T01:42:03+01:00",
        "description": "Pipeline was successful",
        "id": 42,
        "repository": { "id": 140, "full_name": "gitea/webhooks" },
        "sender": { "id": 1, "login": "woodpecker", "username": "woodpecker" },
        "sha": "bffeb74224043ba2feb48d137756c8a9331c449a",
        "state": "failure",
        "target_url": "https://ci.example/1",
        "updated_at": "2024-02-22T01:43:03+01:00"
    });
    let Normalised::Event(event) = normalise(Forge::Gitea, "status", body.to_string().as_bytes()).expect("normalise")
    else {
        panic!("ignored")
    };
    assert_eq!(event.repository_name(), Some("gitea/webhooks"));
    assert_eq!(event.actor.as_deref(), Some("woodpecker"));
    assert_eq!(event.head_sha(), Some("bffeb74224043ba2feb48d137756c8a9331c449a"));
    assert_eq!(event.time, time("2024-02-22T00:43:03Z"));
    let EventKind::Check(status) = &event.kind else { panic!("{event:?}") };
    assert_eq!((status.kind, status.name.as_str()), (CheckKind::CommitStatus, "ci/woodpecker/push/test"));
    assert_eq!((status.outcome, status.id), (CheckOutcome::Failure, Some(42)));
    assert_eq!(status.url.as_deref(), Some("https://ci.example/1"));
}

// ---------------------------------------------------------------------------------------
// Pushes and merge queues

#[test]
fn s000_05_pushes_name_the_ref_the_commits_and_the_pusher() {
    let event = event_of("github/push/with-new-branch.payload.json");
    assert_eq!(event.time, time("2019-05-15T15:20:57Z"), "repository.pushed_at, in seconds");
    let EventKind::Push(push) = &event.kind else { panic!("{event:?}") };
    assert_eq!(push.git_ref, "refs/heads/master");
    assert_eq!(push.before.as_deref(), Some("0000000000000000000000000000000000000000"));
    assert!(push.created && !push.deleted);
    assert_eq!(push.forced, Some(false));
    assert_eq!(push.pusher.as_deref(), Some("Codertocat"));
    assert_eq!(push.commits.len(), 1);
    assert_eq!(push.commits[0].id, "6113728f27ae82c7b1a177c8d03f9e96e0adf246");
    assert_eq!(push.commits[0].author_login.as_deref(), Some("Codertocat"));
    assert_eq!(push.commits[0].timestamp, time("2019-05-15T15:19:25Z"));

    let event = event_of("github/push/payload.json");
    let EventKind::Push(push) = &event.kind else { panic!("{event:?}") };
    assert_eq!(push.git_ref, "refs/tags/simple-tag");
    assert!(push.deleted);
    assert_eq!(push.head_sha(), None);

    let event = event_of("gitea/push/multi-commit.woodpecker.json");
    assert_eq!(event.repository_name(), Some("Test-CI/multi-line-secrets"));
    let EventKind::Push(push) = &event.kind else { panic!("{event:?}") };
    assert_eq!(push.git_ref, "refs/heads/main");
    assert_eq!(push.pusher.as_deref(), Some("test-user"));
    let ids: Vec<&str> = push.commits.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "29be01c073851cf0db0c6a466e396b725a670453",
            "29cd95250404bd007c13b03eabe521196bab98a5",
            "93787b87b3134d0d62c7a24c1ea5b1b6fd17ca91"
        ]
    );
    assert!(!push.created && !push.deleted);
    assert_eq!(push.forced, None);

    // Gitea has no `created`: a zero `before` says it.
    let event = event_of("gitea/push/new-branch.codeberg.woodpecker.json");
    assert_eq!(event.repository_name(), Some("meisam/woodpecktester"));
    let EventKind::Push(push) = &event.kind else { panic!("{event:?}") };
    assert!(push.created);
    assert_eq!(push.head_sha(), Some("28c3613ae62640216bea5e7dc71aa65356e4298b"));
    assert_eq!(push.pusher.as_deref(), Some("6543"));

    let event = event_of("gitlab/push/docs-example.json");
    assert_eq!(event.repository.as_ref().and_then(|r| r.id), Some(15));
    let EventKind::Push(push) = &event.kind else { panic!("{event:?}") };
    assert_eq!(push.git_ref, "refs/heads/master");
    assert_eq!(push.before.as_deref(), Some("95790bf891e76fee5e1747ab589903a6a1f80f22"));
    assert_eq!(push.pusher.as_deref(), Some("jsmith"));
    assert_eq!((push.commits.len(), push.total_commits), (2, Some(4)));
    assert_eq!(push.commits[0].author_email.as_deref(), Some("jordi@softcatala.org"));
    assert_eq!(push.commits[0].timestamp, time("2011-12-12T12:27:31Z"));

    let event = event_of("gitlab/tag_push/docs-example.json");
    let EventKind::Push(push) = &event.kind else { panic!("{event:?}") };
    assert_eq!(push.git_ref, "refs/tags/v1.0.0");
    assert!(push.created);
}

#[test]
fn merge_groups_name_their_head_base_and_pull_request() {
    let event = event_of("github/merge_group/checks_requested.payload.json");
    let EventKind::MergeGroup(group) = &event.kind else { panic!("{event:?}") };
    assert_eq!(group.action, MergeGroupAction::ChecksRequested);
    assert_eq!(group.base_sha.as_deref(), Some("380387fbc80638b734a49e1be1c4dfec1c01b33c"));
    assert_eq!(group.base_ref.as_deref(), Some("refs/heads/main"));
    assert_eq!(
        group.head_ref.as_deref(),
        Some("refs/heads/gh-readonly-queue/main/pr-104-929f8209d40f77f4abc622a499c93a83babdbe64")
    );

    let event = event_of("github/merge_group/destroyed.payload.json");
    let EventKind::MergeGroup(group) = &event.kind else { panic!("{event:?}") };
    assert_eq!(group.action, MergeGroupAction::Destroyed { reason: Some("merged".into()) });
}

// ---------------------------------------------------------------------------------------
// Deployments

#[test]
fn s000_02_deployments_name_the_environment_and_the_commit() {
    let event = event_of("github/deployment/payload.json");
    assert_eq!(event.time, time("2019-05-15T15:20:53Z"));
    let EventKind::Deployment(d) = &event.kind else { panic!("{event:?}") };
    assert_eq!((d.state, d.environment.as_deref()), (DeploymentState::Created, Some("production")));
    assert_eq!((d.id, d.git_ref.as_deref()), (Some(145988746), Some("master")));
    assert_eq!(d.sha.as_deref(), Some("f95f852bd8fca8fcc58a9a2d6c842781e32a215e"));
    assert_eq!((d.creator.as_deref(), d.task.as_deref()), (Some("Codertocat"), Some("deploy")));

    let event = event_of("github/deployment_status/payload.json");
    assert_eq!(event.time, time("2019-05-15T15:20:55Z"));
    let EventKind::Deployment(d) = &event.kind else { panic!("{event:?}") };
    assert_eq!((d.state, d.forge_state.as_str()), (DeploymentState::Success, "success"));

    let event = event_of("github/deployment_status/gh-pages.payload.json");
    let EventKind::Deployment(d) = &event.kind else { panic!("{event:?}") };
    assert_eq!((d.state, d.environment.as_deref()), (DeploymentState::InProgress, Some("github-pages")));
    assert_eq!((d.production, d.run_id), (Some(false), Some(289782451)));

    let event = event_of("gitlab/deployment/docs-example.json");
    assert_eq!(event.time, time("2021-04-28T19:50:00Z"));
    assert_eq!(event.repository.as_ref().and_then(|r| r.id), Some(30));
    let EventKind::Deployment(d) = &event.kind else { panic!("{event:?}") };
    assert_eq!((d.state, d.environment.as_deref()), (DeploymentState::Success, Some("staging")));
    assert_eq!((d.id, d.run_id, d.production), (Some(15), Some(796), Some(false)));
    assert_eq!(d.url.as_deref(), Some("https://staging.example.com"));
}

#[test]
fn s004_10_a_deployment_protection_rule_asks_for_a_decision() {
    let event = event_of("github/deployment_protection_rule/requested.payload.json");
    let EventKind::DeploymentGate(gate) = &event.kind else { panic!("{event:?}") };
    assert_eq!(gate.environment.as_deref(), Some("my-environment"));
    assert_eq!(gate.trigger.as_deref(), Some("my-event"));
    assert_eq!(gate.callback_url.as_deref(), Some("https://github.local/deploy-the-thing"));
    assert_eq!((gate.deployment_id, gate.git_ref.as_deref()), (Some(145988746), Some("master")));
    assert_eq!(gate.pull_requests, vec![2]);
}

// ---------------------------------------------------------------------------------------
// Installations and pings

/// No installation delivery is recorded; the shape is GitHub's documented one.
#[test]
fn github_app_installations() {
    let body = serde_json::json!({
        "action": "created",
        "installation": { "id": 7, "app_id": 99, "account": { "login": "octo-org" }, "created_at": 1557933657 },
        "repositories": [ { "id": 1, "full_name": "octo-org/a" }, { "id": 2, "full_name": "octo-org/b" } ],
        "sender": { "login": "octocat" }
    });
    let Normalised::Event(event) = normalise(Forge::GitHub, "installation", body.to_string().as_bytes()).expect("ok")
    else {
        panic!("ignored")
    };
    assert_eq!((event.installation_id, event.repository.as_ref()), (Some(7), None));
    assert_eq!(event.time, time("2019-05-15T15:20:57Z"));
    let EventKind::Installation(install) = &event.kind else { panic!("{event:?}") };
    assert_eq!(
        (install.action.as_str(), install.account.as_deref(), install.app_id),
        ("created", Some("octo-org"), Some(99))
    );
    assert_eq!(install.repositories_added, ["octo-org/a", "octo-org/b"]);

    let body = serde_json::json!({
        "action": "removed",
        "installation": { "id": 7 },
        "repositories_removed": [ { "full_name": "octo-org/b" } ],
        "sender": { "login": "octocat" }
    });
    let Normalised::Event(event) =
        normalise(Forge::GitHub, "installation_repositories", body.to_string().as_bytes()).expect("ok")
    else {
        panic!("ignored")
    };
    let EventKind::Installation(install) = &event.kind else { panic!("{event:?}") };
    assert_eq!(install.repositories_removed, ["octo-org/b"]);
}

#[test]
fn github_ping() {
    let event = event_of("github/ping/payload.json");
    let EventKind::Ping(ping) = &event.kind else { panic!("{event:?}") };
    assert_eq!(ping.hook_id, Some(109948940));
    assert_eq!(ping.zen.as_deref(), Some("Anything added dilutes everything else."));
}

// ---------------------------------------------------------------------------------------
// Bad payloads

/// Every event name that `normalise` reads, per forge, and one it does not.
const EVENTS: &[(Forge, &str)] = &[
    (Forge::GitHub, "pull_request"),
    (Forge::GitHub, "pull_request_review"),
    (Forge::GitHub, "check_run"),
    (Forge::GitHub, "check_suite"),
    (Forge::GitHub, "status"),
    (Forge::GitHub, "push"),
    (Forge::GitHub, "merge_group"),
    (Forge::GitHub, "deployment"),
    (Forge::GitHub, "deployment_status"),
    (Forge::GitHub, "deployment_protection_rule"),
    (Forge::GitHub, "installation"),
    (Forge::GitHub, "installation_repositories"),
    (Forge::GitHub, "ping"),
    (Forge::GitHub, "no_such_event"),
    (Forge::Gitea, "push"),
    (Forge::Gitea, "pull_request"),
    (Forge::Gitea, "pull_request_sync"),
    (Forge::Gitea, "pull_request_approved"),
    (Forge::Gitea, "pull_request_rejected"),
    (Forge::Gitea, "pull_request_comment"),
    (Forge::Gitea, "pull_request_review_approved"),
    (Forge::Gitea, "status"),
    (Forge::Gitea, "no_such_event"),
    (Forge::GitLab, "Merge Request Hook"),
    (Forge::GitLab, "Push Hook"),
    (Forge::GitLab, "Tag Push Hook"),
    (Forge::GitLab, "Pipeline Hook"),
    (Forge::GitLab, "Job Hook"),
    (Forge::GitLab, "Deployment Hook"),
    (Forge::GitLab, "No Such Hook"),
];

#[test]
fn malformed_json_is_an_error_for_every_event() {
    for (forge, event) in EVENTS {
        for body in [&b"{\"action\": "[..], b"not json", b"{}}", b"\xff\xfe"] {
            let err = normalise(*forge, event, body).expect_err("malformed JSON");
            assert!(matches!(err, WebhookError::Json { .. }), "{forge} {event}: {err}");
            assert!(!err.is_authentication());
        }
    }
}

#[test]
fn an_empty_body_is_an_error_for_every_event() {
    for (forge, event) in EVENTS {
        let err = normalise(*forge, event, b"").expect_err("empty body");
        assert!(matches!(err, WebhookError::Json { .. }), "{forge} {event}: {err}");
    }
}

#[test]
fn unknown_events_are_ignored() {
    for forge in [Forge::GitHub, Forge::Gitea, Forge::GitLab] {
        let normalised = normalise(forge, "sponsorship", b"{\"action\": \"created\"}").expect("JSON");
        assert_eq!(normalised, Normalised::Ignored { event: "sponsorship".into() });
    }
    // The event name is matched exactly: GitLab's header is not GitHub's.
    let normalised = normalise(Forge::GitLab, "push", b"{}").expect("JSON");
    assert_eq!(normalised, Normalised::Ignored { event: "push".into() });
}

#[test]
fn json_of_the_wrong_shape_is_an_error() {
    let err = normalise(Forge::GitHub, "pull_request", b"[1, 2]").expect_err("an array");
    assert!(matches!(err, WebhookError::Json { .. }), "{err}");
    let err = normalise(Forge::GitHub, "pull_request", br#"{"action": "opened", "number": "two"}"#).expect_err("type");
    assert!(matches!(err, WebhookError::Json { .. }), "{err}");
    let err = normalise(Forge::GitHub, "pull_request", br#"{"action": "opened"}"#).expect_err("no pull request");
    assert!(matches!(err, WebhookError::MissingField { field: "pull_request", .. }), "{err}");
    let err = normalise(Forge::GitHub, "check_run", br#"{"action": "completed", "check_run": {"name": "x"}}"#)
        .expect_err("no head");
    assert!(matches!(err, WebhookError::MissingField { field: "check_run.head_sha", .. }), "{err}");
    let err = normalise(Forge::GitLab, "Merge Request Hook", br#"{"object_attributes": {"action": "open"}}"#)
        .expect_err("no iid");
    assert!(matches!(err, WebhookError::MissingField { field: "object_attributes.iid", .. }), "{err}");
    assert_eq!(err.to_string(), "the gitlab `Merge Request Hook` payload lacks `object_attributes.iid`");
}

#[test]
fn odd_times_are_none_not_errors() {
    // GitLab's MR example writes `2015-04-08T21: 00:25-07:00` for a commit time; numbers,
    // Go's zero time and objects are read leniently too.
    for updated_at in [serde_json::json!("2015-04-08T21: 00:25-07:00"), serde_json::json!({}), serde_json::json!(true)]
    {
        let event = patched("github/pull_request/opened.payload.json", Forge::GitHub, "pull_request", |json| {
            json["pull_request"]["updated_at"] = updated_at.clone();
        });
        assert_eq!(event.time, None, "{updated_at}");
    }
    let event = patched("gitea/pull_request/opened.go-playground.json", Forge::Gitea, "pull_request", |json| {
        json["pull_request"]["updated_at"] = "0001-01-01T00:00:00Z".into();
    });
    assert_eq!(event.time, None);
}

// ---------------------------------------------------------------------------------------
// Signatures

const GITHUB_SECRET: &[u8] = b"It's a Secret to Everybody";
const GITHUB_BODY: &[u8] = b"Hello, World!";
const GITHUB_SIGNATURE: &str = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

#[test]
fn github_documented_signature_verifies() {
    let header = format!("sha256={GITHUB_SIGNATURE}");
    verify(Forge::GitHub, GITHUB_SECRET, &[("X-Hub-Signature-256", &header)], GITHUB_BODY).expect("GitHub's vector");
    // Header names are matched without regard to case (HTTP/2 lowercases them).
    verify(Forge::GitHub, GITHUB_SECRET, &[("x-hub-signature-256", &header)], GITHUB_BODY).expect("lowercase");
    let upper = format!("sha256={}", GITHUB_SIGNATURE.to_ascii_uppercase());
    verify(Forge::GitHub, GITHUB_SECRET, &[("X-Hub-Signature-256", &upper)], GITHUB_BODY).expect("uppercase hex");
}

/// countersign signs its own outbound webhooks (obligation reminders) as GitHub signs its
/// deliveries: the same documented vector, and a receiver's GitHub check accepts them.
#[test]
fn outbound_signatures_match_githubs_documented_vector() {
    assert_eq!(countersign_forge::webhook::sign_hex(GITHUB_SECRET, GITHUB_BODY), GITHUB_SIGNATURE);
    let signed = format!("sha256={}", countersign_forge::webhook::sign_hex(b"another", b"{\"type\":\"x\"}"));
    verify(Forge::GitHub, b"another", &[("X-Hub-Signature-256", &signed)], b"{\"type\":\"x\"}").expect("round trip");
}

#[test]
fn a_wrong_signature_is_refused_without_saying_the_right_one() {
    let header = format!("sha256={GITHUB_SIGNATURE}");
    let headers = [("X-Hub-Signature-256", header.as_str())];
    let err = verify(Forge::GitHub, GITHUB_SECRET, &headers, b"Hello, World?").expect_err("body changed");
    assert!(matches!(err, WebhookError::SignatureMismatch("X-Hub-Signature-256")), "{err}");
    assert!(err.is_authentication());
    let err = verify(Forge::GitHub, b"another secret", &headers, GITHUB_BODY).expect_err("secret changed");
    assert!(matches!(err, WebhookError::SignatureMismatch(_)), "{err}");

    let wrong = format!("sha256={}", "0".repeat(64));
    let err = verify(Forge::GitHub, GITHUB_SECRET, &[("X-Hub-Signature-256", &wrong)], GITHUB_BODY).expect_err("wrong");
    let message = format!("{err} {err:?}");
    assert!(!message.contains(GITHUB_SIGNATURE), "the error leaks the expected signature: {message}");
    assert!(!message.contains("Secret to Everybody"), "the error leaks the secret: {message}");
}

#[test]
fn a_missing_signature_header_is_refused() {
    let err = verify(Forge::GitHub, GITHUB_SECRET, &[("X-GitHub-Event", "push")], GITHUB_BODY).expect_err("no header");
    assert!(matches!(err, WebhookError::MissingHeader("X-Hub-Signature-256")), "{err}");
    let err = verify(Forge::Gitea, GITHUB_SECRET, &[], GITHUB_BODY).expect_err("no header");
    assert!(matches!(err, WebhookError::MissingHeader(_)), "{err}");
    let err = verify(Forge::GitLab, GITHUB_SECRET, &[], GITHUB_BODY).expect_err("no header");
    assert!(matches!(err, WebhookError::MissingHeader("X-Gitlab-Token")), "{err}");
}

#[test]
fn a_malformed_signature_header_is_refused() {
    let cases = [
        GITHUB_SIGNATURE.to_string(),                    // no `sha256=`
        format!("sha1={GITHUB_SIGNATURE}"),              // another algorithm
        format!("sha256={}", &GITHUB_SIGNATURE[..63]),   // too short
        format!("sha256={}0", GITHUB_SIGNATURE),         // too long
        format!("sha256={}zz", &GITHUB_SIGNATURE[..62]), // not hex
        format!("sha256={}é", &GITHUB_SIGNATURE[..62]),  // not ASCII
        String::new(),
    ];
    for value in &cases {
        let err = verify(Forge::GitHub, GITHUB_SECRET, &[("X-Hub-Signature-256", value)], GITHUB_BODY)
            .expect_err("malformed");
        assert!(matches!(err, WebhookError::MalformedHeader { header: "X-Hub-Signature-256", .. }), "{value}: {err}");
    }
    let err =
        verify(Forge::Gitea, GITHUB_SECRET, &[("X-Gitea-Signature", "sha256=00")], GITHUB_BODY).expect_err("malformed");
    assert!(matches!(err, WebhookError::MalformedHeader { header: "X-Gitea-Signature", .. }), "{err}");
}

#[test]
fn gitea_and_forgejo_sign_with_bare_hex() {
    verify(Forge::Gitea, GITHUB_SECRET, &[("X-Gitea-Signature", GITHUB_SIGNATURE)], GITHUB_BODY).expect("Gitea");
    verify(Forge::Gitea, GITHUB_SECRET, &[("X-Forgejo-Signature", GITHUB_SIGNATURE)], GITHUB_BODY).expect("Forgejo");
    // Gitea sends GitHub's header too, used when its own is not there.
    let github = format!("sha256={GITHUB_SIGNATURE}");
    verify(Forge::Gitea, GITHUB_SECRET, &[("X-Hub-Signature-256", &github)], GITHUB_BODY).expect("GitHub's header");
    let wrong = "1".repeat(64);
    let err = verify(Forge::Gitea, GITHUB_SECRET, &[("X-Gitea-Signature", &wrong)], GITHUB_BODY).expect_err("wrong");
    assert!(matches!(err, WebhookError::SignatureMismatch("X-Gitea-Signature")), "{err}");
}

#[test]
fn gitlab_token_is_compared_to_the_secret() {
    verify(Forge::GitLab, b"s3cret", &[("X-Gitlab-Token", "s3cret")], b"{}").expect("same token");
    for token in ["s3cre", "s3cret ", "S3CRET", "s3cret-and-more", ""] {
        let err = verify(Forge::GitLab, b"s3cret", &[("X-Gitlab-Token", token)], b"{}");
        // Header values are trimmed, as HTTP trims them: `s3cret ` is the token.
        if token.trim() == "s3cret" {
            err.expect("trimmed");
            continue;
        }
        let err = err.expect_err("another token");
        assert!(matches!(err, WebhookError::SignatureMismatch("X-Gitlab-Token")), "{token}: {err}");
        assert!(!err.to_string().contains("s3cret"));
    }
}

/// The test vector of the Standard Webhooks reference libraries, which GitLab's signing uses.
#[test]
fn gitlab_standard_webhooks_signature() {
    let secret = b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let body = br#"{"test": 2432232314}"#;
    let headers = |signature: &'static str| {
        [
            ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
            ("webhook-timestamp", "1614265330"),
            ("webhook-signature", signature),
        ]
    };
    let good = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    verify(Forge::GitLab, secret, &headers(good), body).expect("the reference vector");
    // Several signatures may be sent (during a secret's rotation); one match is enough.
    verify(
        Forge::GitLab,
        secret,
        &headers("v1,bm90IHRoaXMgb25l v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
        body,
    )
    .expect("second of two");
    let err = verify(Forge::GitLab, secret, &headers(good), br#"{"test": 2432232315}"#).expect_err("body changed");
    assert!(matches!(err, WebhookError::SignatureMismatch("webhook-signature")), "{err}");
    let err = verify(Forge::GitLab, secret, &headers("v2,abc"), body).expect_err("no v1");
    assert!(matches!(err, WebhookError::MalformedHeader { header: "webhook-signature", .. }), "{err}");
    let err = verify(Forge::GitLab, secret, &[("webhook-signature", good)], body).expect_err("no id");
    assert!(matches!(err, WebhookError::MissingHeader("webhook-id")), "{err}");
    let err = verify(Forge::GitLab, b"whsec_!!!", &headers(good), body).expect_err("bad secret");
    assert!(matches!(err, WebhookError::BadSecret), "{err}");
    assert!(!err.is_authentication(), "a bad configured secret is the receiver's fault");

    let meta = delivery(Forge::GitLab, &headers(good));
    assert_eq!(meta.id.as_deref(), Some("msg_p5jXN8AQM9LWM0D4loKWxJek"));
    assert_eq!(meta.sent_at, time("2021-02-25T15:02:10Z"));
}

// ---------------------------------------------------------------------------------------
// Delivery headers

#[test]
fn delivery_id_and_event_of_each_forge() {
    let github = delivery(
        Forge::GitHub,
        &[("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"), ("X-GitHub-Event", "pull_request")],
    );
    assert_eq!(github.id.as_deref(), Some("72d3162e-cc78-11e3-81ab-4c9367dc0958"));
    assert_eq!((github.event.as_deref(), github.event_type), (Some("pull_request"), None));

    // Gitea sends its own headers and GitHub's; its own win.
    let gitea_headers = [
        ("X-GitHub-Delivery", "github-copy"),
        ("X-GitHub-Event", "pull_request"),
        ("X-Gitea-Delivery", "f6266f16-1bf3-46a5-9ea4-602e06ead473"),
        ("X-Gitea-Event", "pull_request_approved"),
        ("X-Gitea-Event-Type", "pull_request_review_approved"),
    ];
    let gitea = delivery(Forge::Gitea, &gitea_headers);
    assert_eq!(gitea.id.as_deref(), Some("f6266f16-1bf3-46a5-9ea4-602e06ead473"));
    assert_eq!(gitea.event.as_deref(), Some("pull_request_approved"));
    assert_eq!(gitea.event_type.as_deref(), Some("pull_request_review_approved"));
    assert_eq!(detect_forge(&gitea_headers), Some(Forge::Gitea));

    let forgejo_headers = [("X-Forgejo-Delivery", "d1"), ("X-Forgejo-Event", "push"), ("X-Forgejo-Event-Type", "push")];
    let forgejo = delivery(Forge::Gitea, &forgejo_headers);
    assert_eq!((forgejo.id.as_deref(), forgejo.event.as_deref()), (Some("d1"), Some("push")));
    assert_eq!(detect_forge(&forgejo_headers), Some(Forge::Gitea));

    // GitLab: `Idempotency-Key` is kept on retries, so it is the id when sent.
    let gitlab_headers = [
        ("X-Gitlab-Event", "Merge Request Hook"),
        ("X-Gitlab-Event-UUID", "13792a34-cac6-4fda-95a8-c58e00a3954e"),
        ("Idempotency-Key", "f5b0b7f3-3a4b-4b8a-9c50-0d1e7f3f6d0f"),
    ];
    let gitlab = delivery(Forge::GitLab, &gitlab_headers);
    assert_eq!(gitlab.id.as_deref(), Some("f5b0b7f3-3a4b-4b8a-9c50-0d1e7f3f6d0f"));
    assert_eq!(gitlab.event.as_deref(), Some("Merge Request Hook"));
    assert_eq!(detect_forge(&gitlab_headers), Some(Forge::GitLab));
    let older = delivery(Forge::GitLab, &gitlab_headers[..2]);
    assert_eq!(older.id.as_deref(), Some("13792a34-cac6-4fda-95a8-c58e00a3954e"));

    assert_eq!(detect_forge(&[("X-GitHub-Event", "push")]), Some(Forge::GitHub));
    assert_eq!(detect_forge(&[("Content-Type", "application/json")]), None);
    assert_eq!(delivery(Forge::GitHub, &[("X-GitHub-Delivery", "  ")]).id, None, "a blank id is no id");
}

#[test]
fn insta_normalised_events_have_a_stable_json_shape() {
    insta::assert_json_snapshot!("github_review", event_of("github/pull_request_review/submitted.payload.json"));
    insta::assert_json_snapshot!("gitlab_merge_request", event_of("gitlab/merge_request/open.docs-example.json"));
}

// ---------------------------------------------------------------------------------------
// Never a panic

proptest::proptest! {
    #[test]
    fn normalise_never_panics_on_any_bytes(
        index in 0usize..EVENTS.len(),
        bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512),
    ) {
        let (forge, event) = EVENTS[index];
        let _ = normalise(forge, event, &bytes);
    }

    /// Arbitrary JSON objects with the keys the parsers look for, at the top level and one
    /// level down, so that the conversions run and not only the JSON reader.
    #[test]
    fn normalise_never_panics_on_json_of_any_shape(
        index in 0usize..EVENTS.len(),
        keys in proptest::collection::vec((0usize..KEYS.len(), 0usize..KEYS.len(), 0usize..VALUES.len()), 0..12),
    ) {
        let (forge, event) = EVENTS[index];
        let mut object = serde_json::Map::new();
        for (outer, inner, value) in keys {
            let nested = object.entry(KEYS[outer]).or_insert_with(|| serde_json::json!({}));
            if let Some(nested) = nested.as_object_mut() {
                nested.insert(KEYS[inner].to_string(), serde_json::from_str(VALUES[value]).expect("JSON"));
            }
            object.insert(KEYS[inner].to_string(), serde_json::from_str(VALUES[value]).expect("JSON"));
        }
        let body = serde_json::to_vec(&object).expect("serialize");
        let _ = normalise(forge, event, &body);
    }

    #[test]
    fn normalise_never_panics_on_a_mutated_recording(file in 0usize..1000, pos in 0usize..100_000, byte in proptest::num::u8::ANY) {
        let files = fixture_files();
        let relative = &files[file % files.len()];
        let mut body = read_fixture(relative);
        // The event comes from the recording before it is changed (GitLab's from its JSON).
        let (forge, event) = forge_and_event(relative, &body);
        let i = pos % body.len();
        body[i] = byte;
        let _ = normalise(forge, &event, &body);
    }
}

const KEYS: &[&str] = &[
    "action",
    "number",
    "pull_request",
    "review",
    "check_run",
    "check_suite",
    "merge_group",
    "deployment",
    "deployment_status",
    "installation",
    "repository",
    "sender",
    "head",
    "sha",
    "head_sha",
    "ref",
    "before",
    "after",
    "commits",
    "object_attributes",
    "iid",
    "oldrev",
    "last_commit",
    "project",
    "user",
    "labels",
    "changes",
    "state",
    "status",
    "conclusion",
    "type",
    "merged",
    "updated_at",
    "pushed_at",
    "head_ref",
    "pull_requests",
    "commit_url",
    "external_approval_rule",
    "homepage",
    "commit_id",
    "id",
    "full_name",
    "path_with_namespace",
];

const VALUES: &[&str] = &[
    "null",
    "true",
    "0",
    "-1",
    "18446744073709551615",
    "1.5",
    "\"\"",
    "\"opened\"",
    "\"closed\"",
    "\"synchronize\"",
    "\"submitted\"",
    "\"approved\"",
    "\"update\"",
    "\"approval\"",
    "\"completed\"",
    "\"requested\"",
    "\"reviewed\"",
    "\"label_updated\"",
    "\"0000000000000000000000000000000000000000\"",
    "\"refs/heads/main\"",
    "\"2019-05-15T15:20:33Z\"",
    "\"2016-08-12 15:23:28 UTC\"",
    "\"https://gitlab.com/a/b\"",
    "\"refs/heads/gh-readonly-queue/main/pr-18446744073709551616-x\"",
    "[]",
    "{}",
    "[{}]",
    "[{\"name\": \"x\"}]",
    "{\"sha\": \"abc\", \"ref\": \"x\"}",
    "{\"id\": 1}",
    "1557933657",
    "-99999999999999",
];
