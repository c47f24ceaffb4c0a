//! `countersign owners`: who must review this file?

use std::io::{BufRead, IsTerminal};

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use countersign_policy::model::{AreaOrigin, Policy, Subject};

use crate::output::{self, Format};
use crate::policy_source;
use crate::{EXIT_OK, PolicyArgs};
use countersign_judge::Codeowners;

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  countersign owners src/auth/login.rs prisma/schema.prisma\n  git diff --name-only origin/main | countersign owners --format json\n\nEach path is matched with GitHub CODEOWNERS rules: the last matching line wins."
)]
pub struct OwnersArgs {
    /// Paths to look up, relative to the repository root; read from stdin (one per line) when none are given.
    pub paths: Vec<String>,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

#[derive(Serialize)]
struct OwnerLine {
    path: String,
    area: Option<String>,
    /// `countersign.toml` or the CODEOWNERS file, with the line number when known.
    source: Option<String>,
    line: Option<usize>,
    owners: Vec<String>,
    /// Owners resolved to people, groups expanded.
    people: Vec<String>,
    sensitive: bool,
    /// The owners as the text report names them.
    #[serde(skip)]
    display: String,
}

pub fn run(args: OwnersArgs, g: &crate::Global) -> anyhow::Result<u8> {
    let repo_path = g.repo();
    let repo = countersign_git::Repository::open(&repo_path).ok();
    let root = repo.as_ref().map(|r| r.path().to_path_buf()).unwrap_or_else(|| repo_path.clone());
    let src = policy_source::read(args.policy.policy.as_deref(), &root)?;
    let loaded = policy_source::load(&src, g.today())?;
    policy_source::warn(&src, &loaded.warnings);
    let mut policy = loaded.policy;
    match &repo {
        Some(repo) => import_codeowners(&mut policy, repo, None),
        None => import_codeowners_from_dir(&mut policy, &root),
    }

    let mut paths = args.paths.clone();
    if paths.is_empty() {
        if std::io::stdin().is_terminal() {
            anyhow::bail!(
                "no paths given\nhint: pass paths as arguments, or pipe them in: git diff --name-only origin/main | countersign owners"
            );
        }
        for line in std::io::stdin().lock().lines() {
            let line = line.context("cannot read paths from stdin")?;
            let line = line.trim();
            if !line.is_empty() {
                paths.push(line.to_string());
            }
        }
    }
    let src_name = src.name.clone();
    let lines: Vec<OwnerLine> = paths.iter().map(|p| lookup(&policy, &src_name, p)).collect();
    let out = match g.format {
        Format::Json => output::to_json(&lines)?,
        Format::Markdown => {
            let mut s = String::from("| Path | Area | Source | Owners |\n|---|---|---|---|\n");
            for l in &lines {
                s.push_str(&format!(
                    "| `{}` | {} | {} | {} |\n",
                    l.path,
                    l.area.as_deref().unwrap_or("(unowned)"),
                    source_text(l),
                    l.owners.join(", ")
                ));
            }
            s
        }
        _ => {
            let mut s = String::new();
            for l in &lines {
                match &l.area {
                    Some(area) => {
                        // A CODEOWNERS area is already named by its file and line.
                        let source = source_text(l);
                        let source = if area.contains(&source) { String::new() } else { format!(" [{source}]") };
                        s.push_str(&format!(
                            "{}: {} — area {}{}{}\n",
                            l.path,
                            l.display,
                            area,
                            if l.sensitive { " (sensitive: the owner must acknowledge every change)" } else { "" },
                            source,
                        ))
                    }
                    None => s.push_str(&format!("{}: (unowned)\n", l.path)),
                }
            }
            s
        }
    };
    print!("{out}");
    Ok(EXIT_OK)
}

/// The owners as people read them: a person by name, a group with its members' names.
/// A person is never named twice ("holly (holly)").
fn owners_text(policy: &Policy, owners: &[Subject]) -> String {
    let name_of = |id: &str| policy.people.get(id).map_or(id.to_string(), |p| p.name.clone());
    owners
        .iter()
        .map(|owner| match owner {
            Subject::Person(id) => name_of(id),
            Subject::Group(_) => {
                let members: Vec<String> = policy
                    .member_ids(std::slice::from_ref(owner))
                    .map(|ids| ids.into_iter().map(name_of).collect())
                    .unwrap_or_default();
                format!("{owner} ({})", if members.is_empty() { "no members".to_string() } else { members.join(", ") })
            }
            Subject::Anyone | Subject::External(_) => owner.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn source_text(l: &OwnerLine) -> String {
    match (&l.source, l.line) {
        (Some(s), Some(n)) => format!("{s}:{n}"),
        (Some(s), None) => s.clone(),
        _ => String::new(),
    }
}

fn lookup(policy: &Policy, policy_name: &str, path: &str) -> OwnerLine {
    let path = path.trim_start_matches("./").to_string();
    match policy.area_for(&path) {
        None => OwnerLine {
            path,
            area: None,
            source: None,
            line: None,
            owners: vec![],
            people: vec![],
            sensitive: false,
            display: String::new(),
        },
        Some(area) => {
            let (source, line) = match &area.origin {
                AreaOrigin::Codeowners { file, line } => (file.clone(), Some(*line)),
                _ => (policy_name.to_string(), None),
            };
            let people = policy
                .member_ids(&area.owners)
                .map(|s| s.into_iter().map(str::to_string).collect())
                .unwrap_or_default();
            OwnerLine {
                path,
                area: Some(area.name.clone()),
                source: Some(source),
                line,
                owners: area.owners.iter().map(|s| s.to_string()).collect(),
                people,
                sensitive: area.sensitive,
                display: owners_text(policy, &area.owners),
            }
        }
    }
}

/// Import CODEOWNERS into the policy when it asks for it: from `rev` when given (the base
/// branch, as GitHub does), otherwise from the working tree or HEAD. Problems are printed.
pub fn import_codeowners(policy: &mut Policy, repo: &countersign_git::Repository, rev: Option<&str>) {
    report(countersign_judge::import_codeowners(policy, |file| match rev {
        None => std::fs::read(repo.path().join(file)).ok(),
        Some(rev) => repo.read_blob_at(rev, file).ok().flatten(),
    }));
}

fn import_codeowners_from_dir(policy: &mut Policy, root: &std::path::Path) {
    match countersign_judge::import_codeowners(policy, |file| std::fs::read(root.join(file)).ok()) {
        // Outside a repository, a missing CODEOWNERS is not worth a warning.
        Codeowners::Missing { .. } => {}
        outcome => report(outcome),
    }
}

fn report(outcome: Codeowners) {
    match outcome {
        Codeowners::NotAsked => {}
        Codeowners::Imported { file, text, diagnostics } => {
            if !diagnostics.is_empty() {
                eprint!(
                    "{}",
                    countersign_policy::render_diagnostics(&file, &text, &diagnostics, output::color_enabled())
                );
            }
        }
        Codeowners::Missing { candidates } => {
            eprintln!("warning: the policy imports CODEOWNERS, but none of {} exists", candidates.join(", "));
        }
    }
}
