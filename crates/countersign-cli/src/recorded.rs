//! Recorded evidence from the evidence store, merged into the changes git describes.

use anyhow::{Context, bail};

use countersign_engine::change::Change;
use countersign_policy::model::{Person, Policy, WAIVABLE_KINDS};
use countersign_store::{Evidence, Store};

use crate::Global;

/// The evidence store for `audit` and `check`, created on first use (a SQLite file by
/// default) so that changes are registered and `record` can refer to them; with the
/// repository's identity that changes are registered under.
pub fn open(g: &Global) -> anyhow::Result<(Store, Option<String>)> {
    let ctx = crate::store::context(g);
    Ok((open_in(&ctx)?, ctx.repository))
}

/// [`open`] with the store's context at hand.
pub fn open_in(ctx: &countersign_store::cli::CliContext) -> anyhow::Result<Store> {
    let url = ctx.database_url()?;
    ctx.open_for_reading(true)
        .with_context(|| format!("cannot open the evidence store {url}\nhint: pass --no-store to judge from git alone"))
}

/// The repository's identity as changes are registered under it: `owner/repo` from the
/// `origin` remote's URL (so `owner/repo#13` names a change), else its absolute path.
pub fn repository_key(repo: &countersign_git::Repository) -> String {
    let url = repo.config_value("remote.origin.url").map(|u| u.trim().to_owned()).unwrap_or_default();
    owner_repo(&url).unwrap_or_else(|| {
        std::fs::canonicalize(repo.path()).unwrap_or_else(|_| repo.path().to_path_buf()).display().to_string()
    })
}

/// `owner/repo` from a remote URL: `https://host/owner/repo(.git)`, `git@host:owner/repo.git`,
/// `ssh://git@host/group/sub/repo` (GitLab subgroups keep their full path).
pub fn owner_repo(url: &str) -> Option<String> {
    let url = url.trim().trim_end_matches('/');
    let url = url.strip_suffix(".git").unwrap_or(url);
    let path = if let Some((_, rest)) = url.split_once("://") {
        rest.split_once('/')?.1
    } else if let Some((host, rest)) = url.split_once(':') {
        if host.contains('/') {
            return None;
        }
        rest
    } else {
        return None;
    };
    let path = path.trim_start_matches('/');
    (path.contains('/') && !path.split('/').any(str::is_empty)).then(|| path.to_string())
}

/// Add the exceptions recorded in the store, once a second operator approved them, to the
/// policy's own (S000-18): one concept, one evaluation.
pub fn add_exceptions(store: &Store, policy: &mut Policy) -> anyhow::Result<()> {
    let recorded = countersign_judge::exceptions::recorded_exceptions(store, policy)
        .context("cannot read the exceptions recorded in the evidence store")?;
    countersign_judge::exceptions::add_recorded_exceptions(policy, &recorded);
    Ok(())
}

/// Register the changes (so evidence can be recorded against them), then add the recorded
/// approvals, check results, emergency declarations and fulfilments to each.
pub fn merge(store: &Store, repository: Option<&str>, changes: &mut [Change]) -> anyhow::Result<usize> {
    countersign_judge::merge_recorded(store, repository, changes)
        .context("cannot read recorded evidence (or register the changes) in the evidence store")
}

/// The check `record` runs before it stores anything: every person, obligation, rule and
/// environment a record names must exist in the policy in force.
pub fn record_check(g: &Global) -> countersign_store::cli::RecordCheck {
    let root = g.repo();
    let today = g.today();
    std::sync::Arc::new(move |policy: Option<&str>, request: &countersign_store::RecordRequest| {
        let src = crate::policy_source::read(policy, &root)
            .context("`record` checks every record against the policy in force")?;
        let loaded = crate::policy_source::load(&src, today)?;
        validate_record(&loaded.policy, &request.evidence, today)
            .with_context(|| format!("the record does not fit the policy {}", src.name))
    })
}

/// The person an identity names, by email or login (or policy id). A display name alone is
/// not an identity: anyone can type "Bob Jones <mallory@evil.example>".
pub fn known_person<'p>(policy: &'p Policy, who: &str, role: &str) -> anyhow::Result<&'p Person> {
    let who = who.trim();
    if who.is_empty() {
        bail!("the {role} is empty\nhint: name a person of the policy by email or login");
    }
    let identity = countersign_engine::evaluate::parse_identity(who);
    let found = match (&identity.email, &identity.login) {
        (Some(email), _) => policy.person_by_email(email),
        (None, Some(login)) => policy.people.get(login.as_str()).or_else(|| policy.person_by_login(login)),
        (None, None) => None,
    };
    found.with_context(|| {
        let known: Vec<String> = policy.people.values().filter(|p| !p.bot).map(|p| p.id.clone()).collect();
        format!(
            "the {role} {who:?} is not a person of the policy{}\nhint: name them by an email or login the policy lists for them (people: {})",
            if identity.email.is_none() && identity.login.is_none() { " (a display name is not an identity)" } else { "" },
            known.join(", ")
        )
    })
}

/// Whether a record names only what the policy knows.
pub fn validate_record(policy: &Policy, evidence: &Evidence, today: jiff::civil::Date) -> anyhow::Result<()> {
    let obligation_ids =
        || -> Vec<&str> { policy.emergency.iter().flat_map(|e| e.obligations.iter().map(|o| o.id.as_str())).collect() };
    match evidence {
        Evidence::Approval { approver, .. } => {
            known_person(policy, approver, "approver")?;
        }
        Evidence::Emergency { declared_by, .. } => {
            known_person(policy, declared_by, "declarer")?;
        }
        Evidence::Exception { rule, approved_by, review_by, people, categories, .. } => {
            if approved_by.is_some() {
                bail!(
                    "an exception is not approved in its request: the second operator approves it in their own name\nhint: drop approvedBy/--approved-by; then `countersign exception approve ENTRY --by <approver>`"
                );
            }
            for person in people {
                known_person(policy, person, "person the exception covers")?;
            }
            for category in categories {
                if !policy.categories.iter().any(|c| &c.id == category) {
                    let ids: Vec<&str> = policy.categories.iter().map(|c| c.id.as_str()).collect();
                    bail!("the policy has no category {category:?}\nhint: one of: {}", ids.join(", "));
                }
            }
            let known_rule = policy.rules.contains_key(rule)
                || policy.gates.iter().any(|g| &g.check == rule || g.aliases.contains(rule))
                || WAIVABLE_KINDS.contains(&rule.as_str());
            if !known_rule {
                let mut names: Vec<String> = policy.rules.keys().cloned().collect();
                names.extend(policy.gates.iter().map(|g| g.check.clone()));
                names.extend(WAIVABLE_KINDS.iter().map(|k| k.to_string()));
                bail!("the policy has no rule {rule:?} to except\nhint: one of: {}", names.join(", "));
            }
            let until = review_by.parse::<jiff::civil::Date>().with_context(|| {
                format!("the re-evaluation date {review_by:?} is not a date\nhint: write it as YYYY-MM-DD")
            })?;
            if until < today {
                bail!(
                    "the exception would end on {until}, which has passed (today is {today})\nhint: an exception runs from its approval to a date ahead"
                );
            }
            let limit = today.checked_add(jiff::Span::new().years(1)).unwrap_or(today);
            if until > limit {
                bail!(
                    "an exception may run for at most a year (until {limit}), not until {until}: it may not become permanent\nhint: request it until {limit} or sooner, and renew it then with a new approval"
                );
            }
        }
        Evidence::Obligation { obligation, .. } | Evidence::ObligationFulfilled { obligation, .. } => {
            let ids = obligation_ids();
            if ids.is_empty() {
                bail!("the policy names no emergency obligations, so there is no obligation {obligation:?}");
            }
            if !ids.contains(&obligation.as_str()) {
                bail!("the policy has no emergency obligation {obligation:?}\nhint: one of: {}", ids.join(", "));
            }
        }
        Evidence::Deploy { environment, .. } | Evidence::Incident { environment: Some(environment), .. } => {
            let environments: Vec<&str> = policy
                .deploy
                .iter()
                .flat_map(|d| d.environments.iter().map(String::as_str))
                .chain(policy.docs.environments.iter().map(|e| e.name.as_str()))
                .collect();
            if !environments.contains(&environment.as_str()) {
                bail!(
                    "the policy has no environment {environment:?}\nhint: {}",
                    if environments.is_empty() {
                        "declare the environments in the policy's [deploy] section".to_string()
                    } else {
                        format!("one of: {}", environments.join(", "))
                    }
                );
            }
        }
        Evidence::ConsoleChange { system, changed_by, .. } => {
            if let Some(console) = &policy.console
                && !console.providers.is_empty()
                && !console.providers.iter().any(|p| p.eq_ignore_ascii_case(system))
            {
                bail!(
                    "the policy lists no console provider {system:?}\nhint: one of: {}",
                    console.providers.join(", ")
                );
            }
            if let Some(who) = changed_by {
                known_person(policy, who, "person who made the console change")?;
            }
            // S000-12: a record without every required field is refused, not stored as a
            // violation: the person recording it is there to fill it in.
            let missing = countersign_judge::missing_console_fields(policy, evidence);
            if !missing.is_empty() {
                let flag = |f: &str| match f.trim().to_lowercase().as_str() {
                    "who" | "changed by" => "--changed-by WHO".to_owned(),
                    "when" => "--at TIME".to_owned(),
                    "provider" | "system" => "--system NAME".to_owned(),
                    "what" | "what changed" | "description" => "--description TEXT".to_owned(),
                    "ticket" => "--ticket REF".to_owned(),
                    other => format!("--field \"{other}=…\""),
                };
                bail!(
                    "the console change lacks {} that the policy's [console] required-fields asks for\nhint: add {}",
                    missing.iter().map(|m| format!("\"{m}\"")).collect::<Vec<_>>().join(", "),
                    missing.iter().map(|m| flag(m)).collect::<Vec<_>>().join(" ")
                );
            }
        }
        Evidence::Incident { environment: None, .. } => {}
        Evidence::WebhookDelivery { .. } | Evidence::ApprovalWithdrawn { .. } => {
            bail!(
                "webhook deliveries, and withdrawals of approval, are recorded only by `countersign serve`, from the forge's own words"
            )
        }
        Evidence::PolicyApproval { .. } => {
            bail!(
                "a policy version is approved with `countersign policy approve`, which checks that the approver is a document approver"
            )
        }
        Evidence::ExceptionApproval { .. } => {
            bail!(
                "an exception is approved with `countersign exception approve ENTRY`, which checks that the approver is not its requester"
            )
        }
        Evidence::DeployDecision { .. } => {
            bail!(
                "deploy gate decisions are recorded only by `countersign deploy check`, which judges the deploy itself\nhint: record the deploy that happened with `countersign deploy record`"
            )
        }
        Evidence::CollectorRun { .. } => {
            bail!("collector runs are recorded only by `countersign collect`, from the forge's own answers")
        }
        Evidence::Report { .. } => {
            bail!("report digests are recorded only by `countersign report`, for the report it wrote")
        }
        Evidence::Verdict { .. } => {
            bail!(
                "verdicts are recorded only by countersign itself, from its own judgement\nhint: run `countersign audit --record`"
            )
        }
        Evidence::Reminder { .. } => {
            bail!(
                "reminders are recorded only by `countersign serve`, after a notification target took them\nhint: configure [[notify]] targets in the server's configuration"
            )
        }
        Evidence::Check { .. } | Evidence::PolicyVersion { .. } => {}
    }
    Ok(())
}
