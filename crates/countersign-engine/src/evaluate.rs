//! Classify a change and decide each requirement the policy places on it.
//!
//! The flow is: classify (kind, category, risk, areas), collect every requirement the
//! classification implies, judge each one against the evidence, apply waivers (emergency,
//! self-merge allowance, exceptions), and derive the verdict. Every step leaves a trace in
//! the result so `audit` can explain it.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use jiff::Timestamp;
use jiff::civil::Date;
use regex::Regex;

use countersign_policy::limits::{MAX_NESTING, MAX_RULE_PARTS};
use countersign_policy::model::{
    ApprovalRule, Area, AttestedApprovals, Category, ChangeKind, Condition, GateScope, Policy, Subject,
};

use crate::change::{Approval, ApprovalKind, BaseFacts, Change, CheckStatus, Identity, PathStatus};
use countersign_policy::render::{condition_text, rule_text, subject_text as policy_subject_text};

use crate::directory::{Actor, Directory, display_identity};
use crate::report::{
    AreaHit, ChangeSummary, Classification, EmergencyAuthorization, Evaluation, RequirementResult, Status, Verdict,
};
use crate::text;

/// Inputs that come from outside the pure core.
#[derive(Debug, Clone, Default)]
pub struct EvalOptions {
    /// "Now", for obligation deadlines and exception end dates. Without it, deadlines are
    /// reported as pending and dated exceptions are taken to be in force.
    pub now: Option<Timestamp>,
}

/// A policy prepared for evaluating many changes: identities indexed, patterns compiled.
pub struct Engine<'p> {
    policy: &'p Policy,
    dir: Directory,
    content_patterns: Vec<Option<Regex>>,
    /// `name-pattern` of each `[[append-only]]` rule, compiled.
    name_patterns: Vec<Option<Regex>>,
    ticket: Option<Regex>,
    /// `name: rule in words`, per named rule, written once rather than per change.
    rule_descriptions: BTreeMap<String, String>,
}

impl<'p> Engine<'p> {
    pub fn new(policy: &'p Policy) -> Self {
        let content_patterns = policy.content_flags.iter().map(|f| Regex::new(&f.pattern).ok()).collect();
        let name_patterns =
            policy.append_only.iter().map(|a| a.name_pattern.as_deref().and_then(|p| Regex::new(p).ok())).collect();
        let ticket = policy.branch.ticket_pattern.as_deref().and_then(|p| Regex::new(p).ok());
        let rule_descriptions = policy
            .rules
            .iter()
            .map(|(name, rule)| (name.clone(), format!("{name}: {}", rule_text(policy, rule, true))))
            .collect();
        Engine { policy, dir: Directory::new(policy), content_patterns, name_patterns, ticket, rule_descriptions }
    }

    pub fn policy(&self) -> &Policy {
        self.policy
    }

    pub fn directory(&self) -> &Directory {
        &self.dir
    }

    /// Whether a path at a change's base belongs in [`BaseFacts::sequence_paths`]: it falls
    /// under a sequential `[[append-only]]` rule. Evidence readers list the base tree and
    /// keep the paths for which this is true.
    pub fn wants_base_path(&self, path: &str) -> bool {
        self.policy.append_only.iter().any(|a| a.sequential && a.paths.matches(path))
    }

    /// Whether any rule needs [`BaseFacts`] at all, so readers can skip listing the base.
    pub fn needs_base_facts(&self) -> bool {
        self.policy.append_only.iter().any(|a| a.sequential)
    }

    /// The groups whose size at a change's base decides whether an exception still applies
    /// (`until-group-exceeds`); a caller that can read the policy in force at the base
    /// passes their sizes in [`BaseFacts::group_sizes`].
    pub fn groups_sized_at_base(&self) -> Vec<&str> {
        let mut groups: Vec<&str> = self
            .policy
            .exceptions
            .iter()
            .filter_map(|e| e.until_group_exceeds.as_ref().map(|(g, _)| g.as_str()))
            .collect();
        groups.sort_unstable();
        groups.dedup();
        groups
    }

    /// Evaluates a change without facts about its base: checks that need them (migration
    /// numbering) are "unknown".
    pub fn evaluate(&self, change: &Change, opts: &EvalOptions) -> Evaluation {
        self.evaluate_with_base(change, &BaseFacts::default(), opts)
    }

    /// Evaluates a change, with what the repository held at its base.
    pub fn evaluate_with_base(&self, change: &Change, base: &BaseFacts, opts: &EvalOptions) -> Evaluation {
        let today = opts.now.map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date());
        let cx = ChangeContext::new(self, change, base);
        let (category, category_class) = self.classify_category(&cx);
        let risk = self.classify_risk(&cx);
        let touched = self.touched_areas(change);

        let mut reqs = Vec::new();
        self.branch_requirements(&cx, &mut reqs);
        self.approval_requirements(&cx, category, risk.as_ref().map(|r| r.0), &touched, &mut reqs);
        self.gate_requirements(&cx, category, &mut reqs);
        self.description_requirements(&cx, category, &mut reqs);
        self.path_requirements(&cx, &mut reqs);
        let mut emergency_authorizations = Vec::new();
        let emergency_authorized =
            self.emergency_requirements(&cx, category, opts, &mut reqs, &mut emergency_authorizations);

        // A self-merge is recorded when the evidence shows one, and whenever the category's
        // self-merge allowance excused a missing review: the report's "self-merge
        // (recorded)" and the summary's count are then the same set of changes.
        let waived_by_self_merge = self.apply_waivers(&cx, category, emergency_authorized, today, &mut reqs);
        let self_merge = cx.is_self_merge() || waived_by_self_merge;

        let verdict = verdict_of(&reqs);
        Evaluation {
            change: ChangeSummary {
                id: change.id.clone(),
                kind: cx.kind,
                pr_number: change.pr_number,
                title: change.title.clone(),
                author: change.author.as_ref().map(|a| display_identity(&self.dir, a)),
                merged_by: change.merged_by.as_ref().map(|a| display_identity(&self.dir, a)),
                time: change.time,
                commits: change.commits.len(),
                changed_paths: change.changed_paths.len(),
            },
            category: category_class,
            risk: risk.map(|r| r.1),
            areas: touched
                .iter()
                .map(|(area, paths)| AreaHit {
                    name: area.name.clone(),
                    sensitive: area.sensitive,
                    owners: area.owners.iter().map(|s| policy_subject_text(self.policy, s, false)).collect(),
                    paths: paths.clone(),
                })
                .collect(),
            requirements: reqs,
            verdict,
            self_merge,
            emergency: category.emergency,
            reviewed_by_other: cx.reviewed_by_other(),
            ci_evidence: change.checks.iter().any(|c| c.status == CheckStatus::Success),
            emergency_authorizations,
            state: None,
            time_sensitive: cx.time_sensitive.get(),
        }
    }

    // ---- classification -------------------------------------------------------------

    fn classify_category(&self, cx: &ChangeContext<'_>) -> (&'p Category, Classification) {
        let default = || {
            self.policy
                .categories
                .iter()
                .find(|c| c.id == self.policy.default_category)
                .or_else(|| self.policy.categories.first())
        };
        let (cat, class) = self
            .classify(
                cx,
                &self.policy.categories,
                |c| (&c.id, &c.name, &c.when, c.precedence),
                default,
                "default category",
            )
            .expect("a validated policy has at least one category");
        // A declared emergency is an emergency whatever its labels and trailers say: the
        // policy's emergency category with the highest precedence.
        if let Some(source) = &cx.change.declared_emergency
            && !cat.emergency
            && let Some(emergency) = self.policy.categories.iter().filter(|c| c.emergency).max_by_key(|c| c.precedence)
        {
            let mut also_matched = class.also_matched;
            also_matched.push(class.id);
            return (
                emergency,
                Classification {
                    id: emergency.id.clone(),
                    name: emergency.name.clone(),
                    reason: format!("declared an emergency {source}"),
                    also_matched,
                },
            );
        }
        (cat, class)
    }

    fn classify_risk(&self, cx: &ChangeContext<'_>) -> Option<(&'p countersign_policy::model::Risk, Classification)> {
        let default =
            || self.policy.default_risk.as_ref().and_then(|id| self.policy.risks.iter().find(|r| &r.id == id));
        self.classify(cx, &self.policy.risks, |r| (&r.id, &r.name, &r.when, r.rank), default, "default risk")
    }

    /// The matching item with the highest precedence (the first one on a tie), or the
    /// default when none matches; with the reason and the others that matched.
    fn classify<T>(
        &self,
        cx: &ChangeContext<'_>,
        items: &'p [T],
        fields: impl Fn(&'p T) -> (&'p String, &'p String, &'p Condition, i64),
        default: impl FnOnce() -> Option<&'p T>,
        default_reason: &str,
    ) -> Option<(&'p T, Classification)> {
        let mut best: Option<(&T, i64)> = None;
        let mut matched = Vec::new();
        for item in items {
            let (id, _, when, precedence) = fields(item);
            if self.condition_holds(when, cx) {
                matched.push(id.clone());
                if best.is_none_or(|(_, p)| precedence > p) {
                    best = Some((item, precedence));
                }
            }
        }
        let (item, reason) = match best {
            Some((item, _)) if matches!(fields(item).2, Condition::Always) => (item, default_reason.to_string()),
            Some((item, _)) => (item, condition_text(fields(item).2)),
            None => (default()?, default_reason.to_string()),
        };
        let (id, name, _, _) = fields(item);
        matched.retain(|m| m != id);
        Some((item, Classification { id: id.clone(), name: name.clone(), reason, also_matched: matched }))
    }

    /// Whether a classification condition holds for the change.
    pub fn condition_holds(&self, cond: &Condition, cx: &ChangeContext<'_>) -> bool {
        self.condition_holds_at(cond, cx, 0)
    }

    /// Validation keeps conditions at most `MAX_NESTING` deep; a condition built by hand
    /// that nests deeper does not hold.
    fn condition_holds_at(&self, cond: &Condition, cx: &ChangeContext<'_>, depth: usize) -> bool {
        if depth > MAX_NESTING {
            return false;
        }
        let change = cx.change;
        match cond {
            Condition::Always => true,
            Condition::PathsAny(set) => change.changed_paths.iter().any(|p| set.matches(&p.path)),
            Condition::PathsOnly(set) => {
                !change.changed_paths.is_empty() && change.changed_paths.iter().all(|p| set.matches(&p.path))
            }
            Condition::Area(name) => self
                .policy
                .areas
                .iter()
                .filter(|a| &a.name == name)
                .any(|a| change.changed_paths.iter().any(|p| a.paths.matches(&p.path))),
            Condition::Label(label) => change.labels.iter().any(|l| l.eq_ignore_ascii_case(label)),
            Condition::Trailer { key, value } => change.trailers.iter().any(|t| {
                t.key.eq_ignore_ascii_case(key)
                    && value.as_ref().is_none_or(|v| t.value.trim().eq_ignore_ascii_case(v.trim()))
            }),
            Condition::Title(re) => re.is_match(&change.title),
            Condition::Checkbox(label) => {
                let want = label.to_lowercase();
                cx.checkboxes().iter().any(|b| b.checked && b.label.to_lowercase().starts_with(&want))
            }
            Condition::Author(subject) => cx.author_is(self.policy, subject),
            Condition::Kind(kind) => cx.kind == *kind,
            Condition::All(all) => all.iter().all(|c| self.condition_holds_at(c, cx, depth + 1)),
            Condition::Any(any) => any.iter().any(|c| self.condition_holds_at(c, cx, depth + 1)),
            // Past the limit the inner condition does not hold, and neither does its negation.
            Condition::Not(inner) => depth < MAX_NESTING && !self.condition_holds_at(inner, cx, depth + 1),
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// Areas the change touches, by CODEOWNERS semantics (per path, the last matching area),
    /// with the paths that fell into each, in policy order.
    fn touched_areas(&self, change: &Change) -> Vec<(&'p Area, Vec<String>)> {
        let mut by_index: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        for path in &change.changed_paths {
            if let Some(idx) = self.policy.areas.iter().rposition(|a| a.paths.matches(&path.path)) {
                by_index.entry(idx).or_default().push(path.path.clone());
            }
        }
        by_index.into_iter().map(|(i, paths)| (&self.policy.areas[i], paths)).collect()
    }

    // ---- requirements ---------------------------------------------------------------

    fn branch_requirements(&self, cx: &ChangeContext<'_>, reqs: &mut Vec<RequirementResult>) {
        let rules = &self.policy.branch;
        let change = cx.change;
        if rules.forbid_direct_push
            && matches!(cx.kind, ChangeKind::DirectPush | ChangeKind::Merge | ChangeKind::PullRequest)
        {
            let (status, evidence, detail) = if cx.kind == ChangeKind::DirectPush {
                (
                    Status::Missing,
                    vec![format!(
                        "commit {} on {} has no PR reference",
                        short(&change.id),
                        change.branch.as_deref().unwrap_or("the branch")
                    )],
                    Some("committed directly to a protected branch, not through a pull request".to_string()),
                )
            } else {
                (Status::Met, vec![pr_evidence(change)], None)
            };
            reqs.push(req(
                "pull-request",
                "change arrives through a pull request (no direct push)",
                "branch",
                status,
                evidence,
                detail,
            ));
        }
        if let Some(re) = &self.ticket {
            let haystacks = [change.title.as_str(), change.body.as_str(), change.branch.as_deref().unwrap_or("")];
            let found = haystacks.iter().find_map(|h| re.find(h).map(|m| m.as_str().to_string()));
            let (status, evidence) = match found {
                Some(t) => (Status::Met, vec![format!("ticket {t}")]),
                None => (cx.missing_or_unknown(cx.description_complete()), vec![]),
            };
            reqs.push(req(
                "ticket",
                &format!("references a ticket (/{}/)", re.as_str()),
                "branch",
                status,
                evidence,
                (status != Status::Met).then(|| "no ticket reference in the title or description".to_string()),
            ));
        }
        if rules.require_signed_commits && !change.commits.is_empty() {
            let unsigned: Vec<String> = change.commits.iter().filter(|c| !c.signed).map(|c| short(&c.id)).collect();
            let status = if unsigned.is_empty() { Status::Met } else { Status::Missing };
            reqs.push(req(
                "signed-commits",
                "every commit is signed",
                "branch",
                status,
                vec![format!("{} of {} commits signed", change.commits.len() - unsigned.len(), change.commits.len())],
                (!unsigned.is_empty()).then(|| format!("unsigned: {}", unsigned.join(", "))),
            ));
        }
    }

    fn approval_requirements(
        &self,
        cx: &ChangeContext<'_>,
        category: &Category,
        risk: Option<&countersign_policy::model::Risk>,
        touched: &[(&Area, Vec<String>)],
        reqs: &mut Vec<RequirementResult>,
    ) {
        if cx.kind == ChangeKind::Deploy {
            return;
        }
        // A console change needs approvals only when the policy asks for them: when a
        // category whose condition matches it (`kind = "console-change"`) requires a rule.
        // The default category's rule is about code review, which a console has none of.
        if cx.kind == ChangeKind::ConsoleChange
            && (matches!(category.when, Condition::Always) || !self.condition_holds(&category.when, cx))
        {
            return;
        }
        let judge = |id: String, required_by: String, rule_name: &str| {
            let rule = self.policy.rules.get(rule_name)?;
            let outcome = self.judge_rule(rule, cx, touched);
            let status = if outcome.met { Status::Met } else { cx.missing_or_unknown(cx.reviews_complete()) };
            Some(req(
                &id,
                self.rule_descriptions.get(rule_name).map_or(rule_name, String::as_str),
                &required_by,
                status,
                outcome.evidence,
                (!outcome.met).then(|| outcome.missing.join("; ")),
            ))
        };
        if let Some(rule) = &category.require {
            reqs.extend(judge("review".to_string(), format!("category {}", category.id), rule));
        }
        if let Some(risk) = risk {
            if let Some(rule) = &risk.require {
                reqs.extend(judge("review:risk".to_string(), format!("risk {}", risk.id), rule));
            }
        }
        for (area, _) in touched {
            if let Some(rule) = &area.require {
                reqs.extend(judge(format!("review:area:{}", area.name), format!("area {}", area.name), rule));
            }
        }
        for (i, flag) in self.policy.content_flags.iter().enumerate() {
            let Some(rule) = &flag.require else { continue };
            match self.content_flag_hits(i, cx.change) {
                Some(hits) if !hits.is_empty() => {
                    reqs.extend(judge(format!("review:flag:{}", flag.id), format!("content flag {}", flag.id), rule))
                }
                Some(_) => {}
                None => reqs.push(req(
                    &format!("review:flag:{}", flag.id),
                    &flag.description,
                    &format!("content flag {}", flag.id),
                    Status::Unknown,
                    vec![],
                    Some("the added lines of the watched files were not read".to_string()),
                )),
            }
        }
        // S000-08: a sensitive area needs its owner's acknowledgment on top of any review.
        for (area, paths) in touched.iter().filter(|(a, _)| a.sensitive) {
            let outcome = self.owner_ack(area, cx);
            let status = if outcome.met { Status::Met } else { cx.missing_or_unknown(cx.reviews_complete()) };
            reqs.push(req(
                &format!("owner-ack:{}", area.name),
                &format!(
                    "acknowledgment from an owner of sensitive area {} ({}) for {}",
                    area.name,
                    area.owners
                        .iter()
                        .map(|s| policy_subject_text(self.policy, s, false))
                        .collect::<Vec<_>>()
                        .join(", "),
                    paths.join(", ")
                ),
                &format!("area {}", area.name),
                status,
                outcome.evidence,
                (!outcome.met).then(|| outcome.missing.join("; ")),
            ));
        }
    }

    fn gate_requirements(&self, cx: &ChangeContext<'_>, category: &Category, reqs: &mut Vec<RequirementResult>) {
        if matches!(cx.kind, ChangeKind::Deploy | ChangeKind::ConsoleChange) {
            return;
        }
        for gate in &self.policy.gates {
            if !gate.categories.is_empty() && !gate.categories.contains(&category.id) {
                continue;
            }
            if gate.scope == GateScope::MainOnly && cx.kind == ChangeKind::PullRequest {
                continue;
            }
            if !gate.paths.is_empty() && !cx.change.changed_paths.iter().any(|p| gate.paths.matches(&p.path)) {
                continue;
            }
            let names: Vec<&str> =
                std::iter::once(gate.check.as_str()).chain(gate.aliases.iter().map(String::as_str)).collect();
            let result = cx.change.checks.iter().rev().find(|c| names.iter().any(|n| check_name_matches(n, &c.name)));
            let (status, evidence, detail) = match result {
                Some(c) => {
                    let ev = vec![
                        format!("{} {:?} ({})", c.name, c.status, c.source)
                            .replace("Success", "passed")
                            .replace("Failure", "failed"),
                    ];
                    match c.status {
                        CheckStatus::Success => (Status::Met, ev, None),
                        CheckStatus::Skipped => (
                            Status::Met,
                            ev,
                            Some("skipped by path filters; counted as passing, as GitHub does".to_string()),
                        ),
                        CheckStatus::Failure => (Status::Missing, ev, Some(format!("{} failed", gate.check))),
                        CheckStatus::Pending => (Status::Missing, ev, Some(format!("{} had not finished", gate.check))),
                    }
                }
                None => (
                    cx.missing_or_unknown(cx.change.completeness.checks),
                    vec![],
                    Some(format!("no result for check {}", gate.check)),
                ),
            };
            let scope = match gate.scope {
                GateScope::All => "",
                GateScope::MainOnly => " (protected branch only)",
            };
            reqs.push(req(
                &format!("gate:{}", gate.check),
                &format!("CI gate {} passes{scope}", gate.check),
                "gates",
                status,
                evidence,
                detail,
            ));
        }
    }

    fn description_requirements(&self, cx: &ChangeContext<'_>, category: &Category, reqs: &mut Vec<RequirementResult>) {
        let change = cx.change;
        // A console change's record is its description: `[console] required-fields` say
        // what it must state, not the pull-request template's sections.
        let described = cx.kind != ChangeKind::ConsoleChange;
        for d in self.policy.description.iter().filter(|_| described) {
            if !d.categories.is_empty() && !d.categories.contains(&category.id) {
                continue;
            }
            let by = if d.categories.is_empty() {
                "description".to_string()
            } else {
                format!("description ({})", d.categories.join(", "))
            };
            for section in &d.sections {
                let found = text::has_section(&change.body, section);
                let status = if found { Status::Met } else { cx.missing_or_unknown(cx.description_complete()) };
                reqs.push(req(
                    &format!("description:{}", slug(section)),
                    &format!("description states \"{section}\""),
                    &by,
                    status,
                    if found { vec![format!("section \"{section}\" present")] } else { vec![] },
                    (!found).then(|| format!("no \"{section}\" section with content")),
                ));
            }
            for heading in &d.checklists {
                let boxes: Vec<_> = cx
                    .checkboxes()
                    .iter()
                    .filter(|b| b.heading.as_deref().is_some_and(|h| h.eq_ignore_ascii_case(heading)))
                    .collect();
                let unticked: Vec<_> = boxes.iter().filter(|b| !b.checked).map(|b| b.label.clone()).collect();
                let status = if boxes.is_empty() {
                    cx.missing_or_unknown(cx.description_complete())
                } else if unticked.is_empty() {
                    Status::Met
                } else {
                    Status::Missing
                };
                reqs.push(req(
                    &format!("checklist:{}", slug(heading)),
                    &format!("every item of the \"{heading}\" checklist is confirmed"),
                    &by,
                    status,
                    vec![format!("{} of {} ticked", boxes.len() - unticked.len(), boxes.len())],
                    match (boxes.is_empty(), unticked.is_empty()) {
                        (true, _) => Some(format!("no \"{heading}\" checklist in the description")),
                        (false, false) => Some(format!("unticked: {}", unticked.join("; "))),
                        _ => None,
                    },
                ));
            }
        }
        for key in &category.required_trailers {
            let found: Vec<_> = change.trailers.iter().filter(|t| t.key.eq_ignore_ascii_case(key)).collect();
            reqs.push(req(
                &format!("trailer:{}", key.to_lowercase()),
                &format!("commit message carries a {key} trailer"),
                &format!("category {}", category.id),
                if found.is_empty() { Status::Missing } else { Status::Met },
                found.iter().map(|t| format!("{}: {} (in {})", t.key, t.value, short(&t.commit))).collect(),
                found.is_empty().then(|| format!("no {key} trailer in any commit of the change")),
            ));
        }
        if cx.kind == ChangeKind::ConsoleChange {
            if let Some(console) = &self.policy.console {
                for field in &console.required_fields {
                    let found = text::has_section(&change.body, field);
                    reqs.push(req(
                        &format!("console-field:{}", slug(field)),
                        &format!("console change record states \"{field}\""),
                        "console",
                        if found { Status::Met } else { Status::Missing },
                        vec![],
                        (!found).then(|| format!("the record has no \"{field}\"")),
                    ));
                }
            }
        }
    }

    fn path_requirements(&self, cx: &ChangeContext<'_>, reqs: &mut Vec<RequirementResult>) {
        let change = cx.change;
        for co in &self.policy.co_changes {
            if !self.condition_holds(&co.when, cx) {
                continue;
            }
            let hits: Vec<_> = change
                .changed_paths
                .iter()
                .filter(|p| co.must_touch.matches(&p.path))
                .map(|p| p.path.clone())
                .collect();
            reqs.push(req(
                &format!("co-change:{}", co.id),
                &co.description,
                &format!("co-change {}", co.id),
                if hits.is_empty() { Status::Missing } else { Status::Met },
                hits.iter().map(|p| format!("changes {p}")).collect(),
                hits.is_empty().then(|| {
                    format!(
                        "the change touches none of {}",
                        co.must_touch.patterns.iter().map(|p| p.raw.as_str()).collect::<Vec<_>>().join(", ")
                    )
                }),
            ));
        }
        for rule in &self.policy.append_only {
            let name_re = rule.name_pattern.as_deref().and_then(|p| Regex::new(p).ok());
            let mut bad = Vec::new();
            let mut seen = 0;
            for p in change.changed_paths.iter().filter(|p| rule.paths.matches(&p.path)) {
                seen += 1;
                match p.status {
                    PathStatus::Modified | PathStatus::Deleted | PathStatus::Renamed => bad.push(format!(
                        "{} {} an existing file",
                        p.path,
                        match p.status {
                            PathStatus::Deleted => "deletes",
                            PathStatus::Renamed => "renames",
                            _ => "modifies",
                        }
                    )),
                    PathStatus::Added => {
                        let file = p.path.rsplit('/').next().unwrap_or(&p.path);
                        if let Some(re) = &name_re {
                            if !re.is_match(file) {
                                bad.push(format!("{} does not match /{}/", p.path, re.as_str()));
                            }
                        }
                    }
                }
            }
            if seen == 0 {
                continue;
            }
            reqs.push(req(
                &format!("append-only:{}", rule.id),
                &format!(
                    "{} are append-only",
                    rule.paths.patterns.iter().map(|p| p.raw.as_str()).collect::<Vec<_>>().join(", ")
                ),
                &format!("append-only {}", rule.id),
                if bad.is_empty() { Status::Met } else { Status::Missing },
                vec![format!("{seen} file(s) in scope")],
                (!bad.is_empty()).then(|| bad.join("; ")),
            ));
        }
        for (i, rule) in self.policy.append_only.iter().enumerate() {
            if rule.sequential {
                reqs.extend(self.sequence_requirement(i, cx));
            }
        }
        for (i, flag) in self.policy.content_flags.iter().enumerate() {
            if flag.forbidden {
                reqs.extend(self.forbidden_requirement(i, change));
                continue;
            }
            if flag.require.is_some() {
                continue; // judged as an approval requirement
            }
            match self.content_flag_hits(i, change) {
                Some(hits) if !hits.is_empty() => reqs.push(req(
                    &format!("flag:{}", flag.id),
                    &flag.description,
                    &format!("content flag {}", flag.id),
                    Status::Met,
                    hits,
                    Some("flagged for the reviewer's attention".to_string()),
                )),
                None => reqs.push(req(
                    &format!("flag:{}", flag.id),
                    &flag.description,
                    &format!("content flag {}", flag.id),
                    Status::Unknown,
                    vec![],
                    Some("the added lines of the watched files were not read".to_string()),
                )),
                Some(_) => {}
            }
        }
    }

    /// Lines that a content flag matches; `None` when a watched file changed but its added
    /// lines were not provided.
    fn content_flag_hits(&self, index: usize, change: &Change) -> Option<Vec<String>> {
        self.content_flag_scan(index, change).map(|(_, hits)| hits)
    }

    /// How many watched files the change adds lines to, and the lines the flag matches;
    /// `None` when a watched file changed but its added lines were not provided.
    fn content_flag_scan(&self, index: usize, change: &Change) -> Option<(usize, Vec<String>)> {
        let flag = &self.policy.content_flags[index];
        let re = self.content_patterns[index].as_ref()?;
        let mut hits = Vec::new();
        let mut files = 0;
        for p in change.changed_paths.iter().filter(|p| p.status != PathStatus::Deleted && flag.paths.matches(&p.path))
        {
            let added = change.added_lines.iter().find(|a| a.path == p.path)?;
            files += 1;
            hits.extend(added.lines.iter().filter(|l| re.is_match(l)).map(|l| format!("{}: {}", p.path, l.trim())));
        }
        Some((files, hits))
    }

    /// A forbidden content flag (S001-04): any match is a violation. Nothing waives it
    /// (see `apply_waivers`); it is listed whenever the change touches a watched file.
    fn forbidden_requirement(&self, index: usize, change: &Change) -> Option<RequirementResult> {
        let flag = &self.policy.content_flags[index];
        let id = format!("forbidden:{}", flag.id);
        let by = format!("content flag {}", flag.id);
        let description = format!("{} (forbidden)", flag.description);
        match self.content_flag_scan(index, change) {
            Some((0, _)) => None,
            Some((files, hits)) if hits.is_empty() => Some(req(
                &id,
                &description,
                &by,
                Status::Met,
                vec![format!("added lines of {files} watched file(s) read; none match")],
                None,
            )),
            Some((_, hits)) => Some(req(
                &id,
                &description,
                &by,
                Status::Missing,
                hits,
                Some("forbidden content: no approval, self-merge, emergency or exception clears it".to_string()),
            )),
            None => Some(req(
                &id,
                &description,
                &by,
                Status::Unknown,
                vec![],
                Some("the added lines of the watched files were not read".to_string()),
            )),
        }
    }

    /// Sequential numbering of new files under an append-only rule (S001-04): each new
    /// number is one more than the highest before it, with no gaps and no duplicates. The
    /// numbers already there come from [`BaseFacts`]; without them this is "unknown".
    fn sequence_requirement(&self, index: usize, cx: &ChangeContext<'_>) -> Option<RequirementResult> {
        let rule = &self.policy.append_only[index];
        let re = self.name_patterns[index].as_ref()?;
        let numbered = |path: &str| -> Option<(u64, String, String)> {
            let file = path.rsplit('/').next().unwrap_or(path);
            let digits = re.captures(file)?.get(1)?.as_str().to_string();
            let n = digits.parse().ok()?;
            Some((n, digits, path.to_string()))
        };
        let mut added: Vec<(u64, String, String)> = cx
            .change
            .changed_paths
            .iter()
            .filter(|p| p.status == PathStatus::Added && rule.paths.matches(&p.path))
            .filter_map(|p| numbered(&p.path))
            .collect();
        if added.is_empty() {
            return None;
        }
        added.sort();
        let id = format!("sequence:{}", rule.id);
        let description = format!(
            "new files under {} are numbered in sequence",
            rule.paths.patterns.iter().map(|p| p.raw.as_str()).collect::<Vec<_>>().join(", ")
        );
        let by = format!("append-only {}", rule.id);
        let adds = added.iter().map(|(_, d, _)| d.as_str()).collect::<Vec<_>>().join(", ");
        let Some(listing) = &cx.base.sequence_paths else {
            return Some(req(
                &id,
                &description,
                &by,
                Status::Unknown,
                vec![format!("adds {adds}")],
                Some("the files at the change's base were not read, so the numbers already used are unknown".into()),
            ));
        };
        let existing: Vec<(u64, String, String)> =
            listing.iter().filter(|p| rule.paths.matches(p)).filter_map(|p| numbered(p)).collect();
        let highest = existing.iter().max_by_key(|(n, _, _)| *n);
        let mut problems = Vec::new();
        let mut expected = highest.map(|(n, _, _)| n + 1);
        let mut previous: Option<&(u64, String, String)> = None;
        for entry in &added {
            let (n, digits, path) = entry;
            if let Some(old) = existing.iter().find(|(m, _, _)| m == n) {
                problems.push(format!("{digits} is already used by {}", old.2));
            } else if let Some(prev) = previous.filter(|(m, _, _)| m == n) {
                problems.push(format!("{digits} is used twice ({} and {path})", prev.2));
            } else {
                match expected {
                    Some(e) if *n > e => {
                        problems.push(format!("{digits} leaves a gap: the next number is {}", pad(e, digits)))
                    }
                    Some(e) if *n < e => problems.push(format!(
                        "{digits} comes after {}: numbers only go up",
                        highest.map_or_else(|| pad(e - 1, digits), |(_, d, _)| d.clone())
                    )),
                    // With no numbered file yet, the sequence may start at 0 or 1.
                    None if *n > 1 => problems.push(format!("{digits} leaves a gap: the first number is 0 or 1")),
                    _ => {}
                }
                expected = Some(n + 1);
            }
            previous = Some(entry);
        }
        let evidence = vec![match highest {
            Some((_, digits, path)) => format!("highest number at the base: {digits} ({path}); adds {adds}"),
            None => format!("no numbered file at the base; adds {adds}"),
        }];
        let status = if problems.is_empty() { Status::Met } else { Status::Missing };
        Some(req(&id, &description, &by, status, evidence, (!problems.is_empty()).then(|| problems.join("; "))))
    }

    /// Emergency authorization and obligations. Returns whether the emergency was authorized
    /// by someone allowed to.
    fn emergency_requirements(
        &self,
        cx: &ChangeContext<'_>,
        category: &Category,
        opts: &EvalOptions,
        reqs: &mut Vec<RequirementResult>,
        record: &mut Vec<EmergencyAuthorization>,
    ) -> bool {
        let Some(em) = &self.policy.emergency else { return category.emergency };
        if !category.emergency {
            return false;
        }
        let anyone_may = em.authorizers.contains(&Subject::Anyone);
        let mut found: Vec<(Identity, String, Option<&Identity>)> = cx
            .change
            .approvals
            .iter()
            .filter(|a| a.kind == ApprovalKind::EmergencyAuthorization)
            .map(|a| (a.by.clone(), a.source.clone(), a.recorded_by.as_ref()))
            .collect();
        for t in cx.change.trailers.iter().filter(|t| t.key.eq_ignore_ascii_case(&em.authorization_trailer)) {
            found.push((parse_identity(&t.value), format!("{} trailer in {}", t.key, short(&t.commit)), None));
        }
        let mut valid = Vec::new();
        let mut refused = Vec::new();
        for (who, source, recorded_by) in &found {
            let name = display_identity(&self.dir, who);
            let recorder = recorded_by.map(|r| display_identity(&self.dir, r));
            let attested = self.attested(who, *recorded_by);
            let actor = self.dir.actor(who);
            let recorded_by_author = recorded_by.is_some_and(|r| cx.is_author(&self.dir.actor(r)));
            let may_authorize =
                anyone_may || self.dir.resolve(who).is_some_and(|id| self.policy.covers(&em.authorizers, id));
            let attestation = |recorder: &str| format!("recorded by {recorder} in {name}'s name (attested)");
            let reason = if !may_authorize {
                Some(format!("authorized by {name}, who may not authorize emergencies"))
            } else if !em.self_authorization && (cx.is_author(&actor) || !actor.identified()) {
                Some(if actor.identified() {
                    format!("authorized by the author ({name}), and the policy does not allow self-authorization")
                } else {
                    format!(
                        "authorized by {name}, who cannot be told apart from the author (no email or login), and the policy does not allow self-authorization"
                    )
                })
            } else if attested && self.policy.evidence.attested_approvals == AttestedApprovals::Never {
                Some(format!(
                    "{}, and the policy does not count attested authorizations",
                    attestation(recorder.as_deref().unwrap_or("someone else"))
                ))
            } else if attested
                && recorded_by_author
                && !em.self_authorization
                && self.policy.evidence.attested_approvals != AttestedApprovals::Always
            {
                Some(format!(
                    "{}: the author's word, and the policy does not allow self-authorization",
                    attestation(recorder.as_deref().unwrap_or("the author"))
                ))
            } else {
                None
            };
            let mut line = format!("authorized by {name} ({source})");
            if attested {
                let _ = write!(line, "; {}", attestation(recorder.as_deref().unwrap_or("someone else")));
            }
            match &reason {
                None => valid.push(line),
                Some(why) => refused.push(why.clone()),
            }
            record.push(EmergencyAuthorization {
                by: name.clone(),
                source: source.clone(),
                recorded_by: recorder,
                attested,
                counted: reason.is_none(),
                reason,
            });
        }
        let authorized = !valid.is_empty();
        let authorizer_text =
            em.authorizers.iter().map(|s| policy_subject_text(self.policy, s, false)).collect::<Vec<_>>().join(" or ");
        let status = if authorized {
            Status::Met
        } else if found.is_empty() {
            cx.missing_or_unknown(cx.reviews_complete() || !cx.change.trailers.is_empty())
        } else {
            Status::Missing
        };
        let detail = (!authorized).then(|| {
            if found.is_empty() {
                format!(
                    "no emergency authorization recorded (expected a {} trailer or a recorded authorization)",
                    em.authorization_trailer
                )
            } else {
                refused.join("; ")
            }
        });
        reqs.push(req(
            "emergency-authorization",
            &format!("emergency authorized by {authorizer_text}"),
            "emergency",
            status,
            valid,
            detail,
        ));
        for ob in &em.obligations {
            let due =
                cx.change.time.and_then(|t| t.checked_add(jiff::SignedDuration::from_secs(ob.within.seconds)).ok());
            let fulfilment = cx.change.fulfilments.iter().find(|f| f.obligation == ob.id);
            let (status, evidence, detail) = match (fulfilment, due, opts.now) {
                (Some(f), _, _) => {
                    let late = match (due, f.time) {
                        (Some(d), Some(t)) if t > d => Some(format!("fulfilled late, at {t}")),
                        _ => None,
                    };
                    (
                        if late.is_some() { Status::Missing } else { Status::Met },
                        vec![format!("fulfilled: {}", f.source)],
                        late,
                    )
                }
                (None, Some(d), Some(now)) if now > d => (
                    Status::Missing,
                    vec![],
                    Some(format!(
                        "overdue since {d}: no fulfilment {}",
                        if ob.follow_up { "(no compliant follow-up change names this emergency)" } else { "recorded" }
                    )),
                ),
                (None, _, _) => {
                    // Pending now; overdue once the deadline passes.
                    cx.time_sensitive.set(true);
                    (Status::Pending, vec![], due.map(|d| format!("due by {d}")))
                }
            };
            let mut r = req(&format!("obligation:{}", ob.id), &ob.description, "emergency", status, evidence, detail);
            r.due = due;
            reqs.push(r);
        }
        authorized
    }

    // ---- attested approvals ---------------------------------------------------------

    /// Whether an approval is attested: recorded by someone other than the approver, or by
    /// someone the policy does not know. Approvals from git and forges have no recorder.
    fn attested(&self, by: &Identity, recorded_by: Option<&Identity>) -> bool {
        let Some(recorder) = recorded_by else { return false };
        match (self.dir.resolve(recorder), self.dir.resolve(by)) {
            (Some(recorder), Some(approver)) => recorder != approver,
            _ => true,
        }
    }

    /// "recorded by X in Y's name (attested)", for an attested approval.
    fn attestation_text(&self, a: &Approval) -> Option<String> {
        let recorder = a.recorded_by.as_ref().filter(|r| self.attested(&a.by, Some(r)))?;
        Some(format!(
            "recorded by {} in {}'s name (attested)",
            display_identity(&self.dir, recorder),
            display_identity(&self.dir, &a.by)
        ))
    }

    /// Why an attested approval does not count, under `[evidence] attested-approvals`;
    /// `None` when it counts (or is not attested). `independent`: the approver must be
    /// someone other than the author (a rule that excludes the author or committers, or
    /// an area owner's review or acknowledgment).
    fn attestation_refusal(&self, a: &Approval, independent: bool) -> Option<String> {
        let attested = self.attestation_text(a)?;
        match self.policy.evidence.attested_approvals {
            AttestedApprovals::Never => Some(format!("{attested}, and the policy does not count attested approvals")),
            AttestedApprovals::NotForAuthorExcludingRules if independent => Some(format!(
                "{attested}, which does not count where the approver must be someone other than the author"
            )),
            _ => None,
        }
    }

    // ---- approval rules -------------------------------------------------------------

    fn judge_rule(&self, rule: &ApprovalRule, cx: &ChangeContext<'_>, touched: &[(&Area, Vec<String>)]) -> RuleOutcome {
        let budget = Cell::new(MAX_RULE_PARTS);
        self.judge_rule_at(rule, cx, touched, Walk { depth: 0, budget: &budget })
    }

    /// Validation keeps a rule, with its references followed, at most `MAX_NESTING` deep
    /// and `MAX_RULE_PARTS` parts; a rule built by hand that is larger is not met, and
    /// judging it stops there.
    fn judge_rule_at(
        &self,
        rule: &ApprovalRule,
        cx: &ChangeContext<'_>,
        touched: &[(&Area, Vec<String>)],
        walk: Walk<'_>,
    ) -> RuleOutcome {
        if walk.depth > MAX_NESTING || !walk.spend() {
            return RuleOutcome {
                met: false,
                evidence: vec![],
                missing: vec![format!(
                    "the rule is larger than a policy may hold ({MAX_NESTING} levels, {MAX_RULE_PARTS} parts)"
                )],
            };
        }
        match rule {
            ApprovalRule::Approvals { count, from, .. } => {
                let mut candidates = self.approvers(rule, cx, false);
                // When the author is not excluded and is one of the approvers, authoring counts:
                // forges do not let authors approve their own pull requests (S001-02: the
                // founder is the sole approver while the company is one person).
                if candidates.people.len() < *count as usize {
                    candidates = self.approvers(rule, cx, true);
                }
                let met = candidates.people.len() >= *count as usize;
                let evidence = candidates.people.iter().map(|c| c.evidence.clone()).collect();
                let mut missing = Vec::new();
                if !met {
                    missing.push(format!(
                        "needs {} from {}, has {}",
                        plural(*count, "approval"),
                        subjects_text(self.policy, from),
                        candidates.people.len()
                    ));
                    missing.extend(candidates.notes);
                }
                RuleOutcome { met, evidence, missing }
            }
            ApprovalRule::AllDistinct(parts) => self.judge_distinct(parts, cx, touched, walk),
            ApprovalRule::OwnerAck => {
                let mut out = RuleOutcome { met: true, evidence: vec![], missing: vec![] };
                for (area, _) in touched.iter().filter(|(a, _)| a.sensitive) {
                    out.merge_all(self.owner_ack(area, cx));
                }
                out
            }
            ApprovalRule::CodeOwners => {
                let mut out = RuleOutcome { met: true, evidence: vec![], missing: vec![] };
                for (area, _) in touched.iter().filter(|(a, _)| !a.owners.is_empty()) {
                    out.merge_all(self.owner_approval(area, cx, false));
                }
                out
            }
            ApprovalRule::Ref(name) => match self.policy.rules.get(name) {
                Some(inner) => self.judge_rule_at(inner, cx, touched, walk.deeper()),
                None => {
                    RuleOutcome { met: false, evidence: vec![], missing: vec![format!("rule {name} is not defined")] }
                }
            },
            ApprovalRule::All(rules) => {
                let mut out = RuleOutcome { met: true, evidence: vec![], missing: vec![] };
                for r in rules {
                    out.merge_all(self.judge_rule_at(r, cx, touched, walk.deeper()));
                }
                out
            }
            ApprovalRule::Any(rules) => {
                let outcomes: Vec<_> =
                    rules.iter().map(|r| self.judge_rule_at(r, cx, touched, walk.deeper())).collect();
                match outcomes.iter().find(|o| o.met) {
                    Some(o) => RuleOutcome { met: true, evidence: o.evidence.clone(), missing: vec![] },
                    None => RuleOutcome {
                        met: false,
                        evidence: outcomes.iter().flat_map(|o| o.evidence.clone()).collect(),
                        missing: vec![format!(
                            "none of: {}",
                            outcomes.iter().map(|o| o.missing.join(", ")).collect::<Vec<_>>().join(" | ")
                        )],
                    },
                }
            }
            #[allow(unreachable_patterns)]
            _ => RuleOutcome { met: false, evidence: vec![], missing: vec!["unsupported rule".to_string()] },
        }
    }

    /// The distinct people whose approvals an `approvals` rule counts, each once, with
    /// notes on the approvals it does not count. The author is among them only when
    /// `authoring_counts` is set and the rule does not exclude the author.
    ///
    /// An approver who is the author (by person, email or login, never by display name)
    /// does not count for a rule that excludes the author, and neither does an approval
    /// that names no email or login, since nothing shows it is someone else.
    fn approvers(&self, rule: &ApprovalRule, cx: &ChangeContext<'_>, authoring_counts: bool) -> Approvers {
        let ApprovalRule::Approvals { from, exclude_author, exclude_committers, current_head_only, .. } = rule else {
            return Approvers::default();
        };
        // An empty `from` means anyone (the language's default), as does `"*"`.
        let anyone = from.is_empty() || from.contains(&Subject::Anyone);
        let allowed = |person: Option<&str>| anyone || person.is_some_and(|id| self.policy.covers(from, id));
        let mut out = Approvers::default();
        for a in cx.change.approvals.iter().filter(|a| a.kind == ApprovalKind::Review) {
            let actor = self.dir.actor(&a.by);
            let who = display_identity(&self.dir, &a.by);
            if !anyone {
                match &actor.person {
                    Some(id) if allowed(Some(id)) => {}
                    _ => {
                        out.notes.push(format!("{who} is not in {}", subjects_text(self.policy, from)));
                        continue;
                    }
                }
            }
            if *exclude_author && cx.is_author(&actor) {
                out.notes.push(format!("{who} is the author"));
                continue;
            }
            if *exclude_author && !actor.identified() {
                out.notes
                    .push(format!("{who} cannot be told apart from the author (the approval names no email or login)"));
                continue;
            }
            if *exclude_committers && cx.committers.iter().any(|c| c.same(&actor)) {
                out.notes.push(format!("{who} committed to the change"));
                continue;
            }
            if let Some(why) = self.attestation_refusal(a, *exclude_author || *exclude_committers) {
                out.notes.push(why);
                continue;
            }
            if *current_head_only {
                if let (Some(given), Some(head)) = (&a.commit, &cx.change.head_commit) {
                    if given != head {
                        out.notes.push(format!(
                            "{who}'s approval is stale (given on {}, head is {})",
                            short(given),
                            short(head)
                        ));
                        continue;
                    }
                }
            }
            if !out.people.iter().any(|c| c.actor.same(&actor)) {
                let evidence = match self.attestation_text(a) {
                    Some(attested) => format!("approved by {who} ({}; {attested})", a.source),
                    None => format!("approved by {who} ({})", a.source),
                };
                out.people.push(Candidate { actor, evidence, who });
            }
        }
        if authoring_counts && !*exclude_author {
            if let (Some(author), Some(actor)) = (&cx.change.author, &cx.author) {
                let eligible = allowed(actor.person.as_deref());
                if eligible && !out.people.iter().any(|c| c.actor.same(actor)) {
                    out.people.push(Candidate {
                        actor: actor.clone(),
                        who: display_identity(&self.dir, author),
                        evidence: format!(
                            "authored by {}, who may approve (the rule does not exclude the author)",
                            display_identity(&self.dir, author)
                        ),
                    });
                }
            }
        }
        out
    }

    /// `all` with `distinct-approvers`: every part is met, and no person is counted for two
    /// approvals (S004-07: "security team plus a peer" takes two people). The `approvals`
    /// parts, found through references and nested `all`s, are matched to approvers so that
    /// each approver fills at most one slot; other parts (owner acknowledgment, CODEOWNERS
    /// review, `any`) are judged on their own.
    fn judge_distinct(
        &self,
        parts: &[ApprovalRule],
        cx: &ChangeContext<'_>,
        touched: &[(&Area, Vec<String>)],
        walk: Walk<'_>,
    ) -> RuleOutcome {
        let mut leaves: Vec<&ApprovalRule> = Vec::new();
        let mut others = RuleOutcome { met: true, evidence: vec![], missing: vec![] };
        self.distinct_leaves(parts, cx, touched, &mut leaves, &mut others, walk.deeper());
        let mut out = RuleOutcome { met: true, evidence: vec![], missing: vec![] };

        // The people who could fill some slot, each once, and which of them each leaf accepts.
        let mut people: Vec<Candidate> = Vec::new();
        let mut leaf_people: Vec<Vec<usize>> = Vec::new();
        let mut leaf_notes: Vec<Vec<String>> = Vec::new();
        for leaf in &leaves {
            let approvers = self.approvers(leaf, cx, true);
            let mut indices = Vec::new();
            for c in approvers.people {
                let index = match people.iter().position(|p| p.actor.same(&c.actor)) {
                    Some(i) => i,
                    None => {
                        people.push(c);
                        people.len() - 1
                    }
                };
                indices.push(index);
            }
            leaf_people.push(indices);
            leaf_notes.push(approvers.notes);
        }
        // One slot per approval asked for; Kuhn's augmenting paths give a maximum matching.
        let slots: Vec<usize> = leaves
            .iter()
            .enumerate()
            .flat_map(|(i, leaf)| {
                let count = match leaf {
                    ApprovalRule::Approvals { count, .. } => *count as usize,
                    _ => 0,
                };
                std::iter::repeat_n(i, count)
            })
            .collect();
        let mut holder: Vec<Option<usize>> = vec![None; people.len()];
        for slot in 0..slots.len() {
            let mut seen = vec![false; people.len()];
            augment(slot, &slots, &leaf_people, &mut holder, &mut seen);
        }
        for (i, leaf) in leaves.iter().enumerate() {
            let ApprovalRule::Approvals { count, from, .. } = leaf else { continue };
            let filled: Vec<usize> =
                (0..people.len()).filter(|&p| holder[p].is_some_and(|slot| slots[slot] == i)).collect();
            out.evidence.extend(filled.iter().map(|&p| people[p].evidence.clone()));
            if filled.len() < *count as usize {
                out.met = false;
                let taken: Vec<String> = leaf_people[i]
                    .iter()
                    .filter(|&&p| holder[p].is_some_and(|slot| slots[slot] != i))
                    .map(|&p| people[p].who.clone())
                    .collect();
                let mut needs = format!(
                    "needs {} from {}, has {}",
                    plural(*count, "approval"),
                    subjects_text(self.policy, from),
                    filled.len()
                );
                if !taken.is_empty() {
                    let _ = write!(needs, " ({} counted for another part: one person, one approval)", taken.join(", "));
                }
                out.missing.push(needs);
                out.missing.extend(leaf_notes[i].iter().cloned());
            }
        }
        out.merge_all(others);
        out
    }

    /// Collects the `approvals` leaves of a distinct rule (through references and nested
    /// `all`s); judges any other part directly into `out`.
    fn distinct_leaves<'r>(
        &'r self,
        parts: &'r [ApprovalRule],
        cx: &ChangeContext<'_>,
        touched: &[(&Area, Vec<String>)],
        leaves: &mut Vec<&'r ApprovalRule>,
        out: &mut RuleOutcome,
        walk: Walk<'_>,
    ) {
        // Validation bounds the depth (`MAX_NESTING`) and the number of parts of a rule
        // written out (`MAX_RULE_PARTS`), so the leaves are few; past either, a part is
        // judged (and found unmet) by `judge_rule_at`.
        for part in parts {
            let within = walk.depth < MAX_NESTING;
            match part {
                ApprovalRule::Ref(name) if within && walk.spend() => match self.policy.rules.get(name) {
                    Some(inner) => {
                        self.distinct_leaves(std::slice::from_ref(inner), cx, touched, leaves, out, walk.deeper())
                    }
                    None => out.merge_all(self.judge_rule_at(part, cx, touched, walk.deeper())),
                },
                ApprovalRule::Approvals { .. } if within && walk.spend() => leaves.push(part),
                ApprovalRule::All(inner) | ApprovalRule::AllDistinct(inner) if within && walk.spend() => {
                    self.distinct_leaves(inner, cx, touched, leaves, out, walk.deeper())
                }
                other => out.merge_all(self.judge_rule_at(other, cx, touched, walk.deeper())),
            }
        }
    }

    fn owner_ack(&self, area: &Area, cx: &ChangeContext<'_>) -> RuleOutcome {
        self.owner_approval(area, cx, true)
    }

    /// An approval (or, for acknowledgments, an ack) by one of the area's owners. The author
    /// owning the area acknowledges it by authoring; a review still needs someone else.
    fn owner_approval(&self, area: &Area, cx: &ChangeContext<'_>, ack: bool) -> RuleOutcome {
        let anyone = area.owners.contains(&Subject::Anyone);
        let is_owner = |id: Option<&str>| anyone || id.is_some_and(|id| self.policy.covers(&area.owners, id));
        if ack {
            if let Some(author) = &cx.change.author {
                if is_owner(self.dir.resolve(author)) {
                    return RuleOutcome {
                        met: true,
                        evidence: vec![format!(
                            "the author {} owns {}",
                            display_identity(&self.dir, author),
                            area.name
                        )],
                        missing: vec![],
                    };
                }
            }
        }
        // An owner's review or acknowledgment is never the author's own, so an attested one
        // counts only as far as an author-excluding rule would count it.
        let mut refused = Vec::new();
        let found = cx.change.approvals.iter().find(|a: &&Approval| {
            let actor = self.dir.actor(&a.by);
            let owner = (a.kind == ApprovalKind::Review || (ack && a.kind == ApprovalKind::Ack))
                && is_owner(actor.person.as_deref())
                && actor.identified()
                && !cx.is_author(&actor);
            if !owner {
                return false;
            }
            match self.attestation_refusal(a, true) {
                Some(why) => {
                    refused.push(why);
                    false
                }
                None => true,
            }
        });
        match found {
            Some(a) => RuleOutcome {
                met: true,
                evidence: vec![format!(
                    "{} by owner {} ({}{})",
                    if ack { "acknowledged" } else { "approved" },
                    display_identity(&self.dir, &a.by),
                    a.source,
                    self.attestation_text(a).map(|t| format!("; {t}")).unwrap_or_default()
                )],
                missing: vec![],
            },
            None => {
                let mut missing = vec![format!(
                    "no {} from an owner of {} ({})",
                    if ack { "acknowledgment" } else { "approval" },
                    area.name,
                    area.owners
                        .iter()
                        .map(|s| policy_subject_text(self.policy, s, false))
                        .collect::<Vec<_>>()
                        .join(", ")
                )];
                missing.extend(refused);
                RuleOutcome { met: false, evidence: vec![], missing }
            }
        }
    }

    // ---- waivers --------------------------------------------------------------------

    /// Waives what an authorized emergency may skip, what the category's self-merge
    /// allowance covers and what standing exceptions waive. Returns whether the self-merge
    /// allowance waived anything. Forbidden content is never waived.
    fn apply_waivers(
        &self,
        cx: &ChangeContext<'_>,
        category: &Category,
        emergency_authorized: bool,
        today: Option<Date>,
        reqs: &mut [RequirementResult],
    ) -> bool {
        let open = |r: &RequirementResult| {
            matches!(r.status, Status::Missing | Status::Unknown) && !r.id.starts_with("forbidden:")
        };
        let mut waived_by_self_merge = false;
        if category.emergency && emergency_authorized {
            if let Some(em) = &self.policy.emergency {
                let gates_skippable: BTreeSet<String> = self
                    .policy
                    .gates
                    .iter()
                    .filter(|g| g.emergency_may_skip)
                    .map(|g| format!("gate:{}", g.check))
                    .collect();
                for r in reqs.iter_mut().filter(|r| open(r)) {
                    if gates_skippable.contains(&r.id) || em.may_skip.iter().any(|w| waiver_matches(w, &r.id)) {
                        waive(r, "skipped under an authorized emergency; obligations follow".to_string());
                    }
                }
            }
        }
        // A self-merge is the author merging their own pull request; a direct push is not
        // one, and the allowance does not excuse it.
        if category.self_merge && matches!(cx.kind, ChangeKind::Merge | ChangeKind::PullRequest) {
            for r in reqs.iter_mut().filter(|r| open(r) && (r.id == "review" || r.id == "review:risk")) {
                waive(r, format!("self-merge allowed for category {} (recorded)", category.id));
                waived_by_self_merge = true;
            }
        }
        for ex in &self.policy.exceptions {
            if !ex.categories.is_empty() && !ex.categories.contains(&category.id) {
                continue;
            }
            if !ex.people.is_empty() && !cx.author_id.as_ref().is_some_and(|a| ex.people.contains(a)) {
                continue;
            }
            let ended = exception_end(self.policy, ex, today, cx.base.group_sizes.as_ref());
            for r in reqs.iter_mut().filter(|r| open(r) && ex.waives.iter().any(|w| waiver_matches(w, &r.id))) {
                match &ended {
                    None => {
                        // Waived until its re-evaluation date passes (once passed, it
                        // stays passed: an ended exception needs no such mark).
                        if ex.review_by.is_some() {
                            cx.time_sensitive.set(true);
                        }
                        waive(r, format!("exception {}: {}", ex.id, ex.justification))
                    }
                    Some(why) => {
                        let note = format!("exception {} no longer applies: {why}", ex.id);
                        r.detail = Some(match r.detail.take() {
                            Some(d) => format!("{d}; {note}"),
                            None => note,
                        });
                    }
                }
            }
        }
        waived_by_self_merge
    }
}

/// Why an exception has ended, if it has (S000-07, S000-18). `group_sizes` are the groups'
/// sizes when the change was made (see [`BaseFacts::group_sizes`]); without them, the
/// policy's own.
pub fn exception_end(
    policy: &Policy,
    ex: &countersign_policy::model::Exception,
    today: Option<Date>,
    group_sizes: Option<&std::collections::BTreeMap<String, usize>>,
) -> Option<String> {
    if let (Some(review_by), Some(today)) = (ex.review_by, today) {
        if today > review_by {
            return Some(format!("its re-evaluation date {review_by} has passed"));
        }
    }
    if let Some((group, limit)) = &ex.until_group_exceeds {
        let then = group_sizes.and_then(|sizes| sizes.get(group)).copied();
        let size = then.unwrap_or_else(|| policy.groups.get(group).map_or(0, |g| g.members.len()));
        if size > *limit {
            let when = if then.is_some() { "had" } else { "has" };
            return Some(format!("@{group} {when} {size} members, more than {limit}"));
        }
    }
    None
}

/// Whether a word from `may-skip` or `waives` covers a requirement id. The words are the
/// policy language's (`SKIPPABLE_KINDS`, `WAIVABLE_KINDS`); anything else names a gate.
/// Whether a word of `[[policy.controls]] requirements` covers a requirement id: the words
/// `waives` takes, and `obligation`, `console-field`.
pub fn control_covers(word: &str, id: &str) -> bool {
    let kind = id.split_once(':').map_or(id, |(kind, _)| kind);
    match word {
        "obligation" => kind == "obligation",
        "console-field" => kind == "console-field",
        other => waiver_matches(other, id),
    }
}

fn waiver_matches(waiver: &str, id: &str) -> bool {
    let (kind, name) = id.split_once(':').unwrap_or((id, ""));
    match waiver {
        "review" => kind == "review",
        "owner-ack" => kind == "owner-ack",
        "description" => kind == "description" || kind == "checklist",
        "co-change" => kind == "co-change",
        "tests" => kind == "co-change" && name.contains("test"),
        "ci" => kind == "gate",
        "ticket" => kind == "ticket",
        "append-only" => kind == "append-only" || kind == "sequence",
        "content-flags" => kind == "flag" || id.starts_with("review:flag:"),
        "pull-request" => kind == "pull-request",
        "signed-commits" => kind == "signed-commits",
        gate => kind == "gate" && name == gate,
    }
}

fn waive(r: &mut RequirementResult, why: String) {
    r.status = Status::Waived;
    r.detail = Some(match r.detail.take() {
        Some(d) => format!("{why} (was: {d})"),
        None => why,
    });
}

pub(crate) fn verdict_of(reqs: &[RequirementResult]) -> Verdict {
    if reqs.iter().any(|r| r.status == Status::Missing) {
        Verdict::Violation
    } else if reqs.iter().any(|r| r.status == Status::Unknown) {
        Verdict::EvidenceMissing
    } else {
        Verdict::Compliant
    }
}

// ---- per-change context -----------------------------------------------------------------

/// Facts about one change computed once per evaluation.
pub struct ChangeContext<'c> {
    pub change: &'c Change,
    pub kind: ChangeKind,
    base: &'c BaseFacts,
    author: Option<Actor>,
    author_id: Option<String>,
    committers: Vec<Actor>,
    reviewers: Vec<Actor>,
    merged_by: Option<Actor>,
    /// Parsed on first use: most policies never look at checkboxes.
    checkboxes: std::cell::OnceCell<Vec<text::Checkbox>>,
    trailers_complete: bool,
    /// Set where the judgement read the clock in a way a later clock could judge
    /// otherwise (see [`Evaluation::time_sensitive`]).
    time_sensitive: std::cell::Cell<bool>,
}

impl<'c> ChangeContext<'c> {
    fn new(engine: &Engine<'_>, change: &'c Change, base: &'c BaseFacts) -> Self {
        let dir = &engine.dir;
        let kind =
            change.kind.unwrap_or(if change.pr_number.is_some() { ChangeKind::Merge } else { ChangeKind::DirectPush });
        let committers = change
            .committers
            .iter()
            .chain(change.commits.iter().flat_map(|c| [&c.committer, &c.author]))
            .map(|c| dir.actor(c))
            .collect();
        ChangeContext {
            change,
            kind,
            base,
            author: change.author.as_ref().map(|a| dir.actor(a)),
            author_id: change.author.as_ref().and_then(|a| dir.resolve(a)).map(str::to_string),
            committers,
            // Reviews that show independent review: an attested one only where the policy
            // counts it for rules that exclude the author.
            reviewers: change
                .approvals
                .iter()
                .filter(|a| a.kind == ApprovalKind::Review && engine.attestation_refusal(a, true).is_none())
                .map(|a| dir.actor(&a.by))
                .collect(),
            merged_by: change.merged_by.as_ref().map(|a| dir.actor(a)),
            checkboxes: std::cell::OnceCell::new(),
            trailers_complete: engine.policy.evidence.trailers_complete,
            time_sensitive: std::cell::Cell::new(false),
        }
    }

    fn checkboxes(&self) -> &[text::Checkbox] {
        self.checkboxes.get_or_init(|| text::checkboxes(&self.change.body))
    }

    fn reviews_complete(&self) -> bool {
        self.change.completeness.reviews || self.trailers_complete
    }

    fn description_complete(&self) -> bool {
        self.change.completeness.description
    }

    fn missing_or_unknown(&self, complete: bool) -> Status {
        if complete { Status::Missing } else { Status::Unknown }
    }

    /// Whether an actor is the change's author (same person, email or login).
    fn is_author(&self, actor: &Actor) -> bool {
        self.author.as_ref().is_some_and(|a| a.same(actor))
    }

    /// Some approving review comes from someone shown to be other than the author. A review
    /// by the author under another of their emails or logins is not; nor is one that names
    /// no email or login at all.
    fn reviewed_by_other(&self) -> bool {
        self.reviewers.iter().any(|r| r.identified() && !self.is_author(r))
    }

    /// Merged with no review from anyone but the author: either the evidence shows no other
    /// reviewer, or the author merged it themselves.
    fn is_self_merge(&self) -> bool {
        if !matches!(self.kind, ChangeKind::Merge | ChangeKind::PullRequest) || self.reviewed_by_other() {
            return false;
        }
        self.reviews_complete() || self.merged_by.as_ref().is_some_and(|m| self.is_author(m))
    }

    fn author_is(&self, policy: &Policy, subject: &Subject) -> bool {
        match subject {
            Subject::Anyone => self.change.author.is_some(),
            _ => self.author_id.as_deref().is_some_and(|id| policy.is_member(subject, id)),
        }
    }
}

/// Where a walk over a rule is: how deep, and how many more parts it may visit (shared by
/// the whole walk).
#[derive(Clone, Copy)]
struct Walk<'b> {
    depth: usize,
    budget: &'b Cell<usize>,
}

impl Walk<'_> {
    fn deeper(self) -> Self {
        Walk { depth: self.depth + 1, ..self }
    }

    /// Takes one part from the budget; false when it is spent.
    fn spend(self) -> bool {
        let left = self.budget.get();
        self.budget.set(left.saturating_sub(1));
        left > 0
    }
}

struct RuleOutcome {
    met: bool,
    evidence: Vec<String>,
    missing: Vec<String>,
}

/// A person whose approval a rule may count, with the evidence to show for it.
struct Candidate {
    actor: Actor,
    /// The person as the report names them.
    who: String,
    evidence: String,
}

/// The approvers an `approvals` rule counts, and why it left the others out.
#[derive(Default)]
struct Approvers {
    people: Vec<Candidate>,
    notes: Vec<String>,
}

/// Kuhn's augmenting path for bipartite matching: tries to give `slot` a person, moving
/// earlier assignments along when that frees someone. `holder[p]` is the slot person `p`
/// fills; `slots[s]` is the leaf slot `s` belongs to; `leaf_people[l]` who leaf `l` accepts.
fn augment(
    slot: usize,
    slots: &[usize],
    leaf_people: &[Vec<usize>],
    holder: &mut [Option<usize>],
    seen: &mut [bool],
) -> bool {
    for &person in &leaf_people[slots[slot]] {
        if seen[person] {
            continue;
        }
        seen[person] = true;
        let free = match holder[person] {
            None => true,
            Some(other) => augment(other, slots, leaf_people, holder, seen),
        };
        if free {
            holder[person] = Some(slot);
            return true;
        }
    }
    false
}

impl RuleOutcome {
    fn merge_all(&mut self, other: RuleOutcome) {
        self.met &= other.met;
        self.evidence.extend(other.evidence);
        self.missing.extend(other.missing);
    }
}

// ---- small helpers ------------------------------------------------------------------------

fn req(
    id: &str,
    description: &str,
    required_by: &str,
    status: Status,
    evidence: Vec<String>,
    detail: Option<String>,
) -> RequirementResult {
    RequirementResult {
        id: id.to_string(),
        description: description.to_string(),
        required_by: required_by.to_string(),
        status,
        evidence,
        detail,
        due: None,
    }
}

/// Whether a gate's check name names a reported check. Forges report a GitHub Actions check
/// run as `workflow / job` (as GitHub shows it), a commit status by its context, and GitLab
/// jobs by name. A gate may name the whole `workflow / job`, or the job alone. Case is
/// ignored, as the forges ignore it.
pub fn check_name_matches(gate: &str, reported: &str) -> bool {
    let gate = gate.trim();
    reported.eq_ignore_ascii_case(gate)
        || reported.rsplit_once(" / ").is_some_and(|(_, job)| job.eq_ignore_ascii_case(gate))
}

fn pr_evidence(change: &Change) -> String {
    match change.pr_number {
        Some(n) => format!("PR #{n}"),
        None => format!("{} {}", change.kind.unwrap_or(ChangeKind::Merge).describe(), short(&change.id)),
    }
}

pub(crate) fn short(id: &str) -> String {
    id.chars().take(10).collect()
}

/// `n` with as many leading zeros as `like` has digits: `pad(2, "0001")` is `0002`.
fn pad(n: u64, like: &str) -> String {
    format!("{n:0width$}", width = like.len())
}

fn plural(n: u32, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

fn subjects_text(policy: &Policy, subjects: &[Subject]) -> String {
    if subjects.is_empty() {
        return "anyone".to_string();
    }
    subjects.iter().map(|s| policy_subject_text(policy, s, false)).collect::<Vec<_>>().join(" or ")
}

fn slug(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join("-").to_lowercase()
}

/// `Name <email>` or a bare login, as trailers write people.
pub fn parse_identity(value: &str) -> Identity {
    let value = value.trim();
    if let (Some(lt), Some(gt)) = (value.find('<'), value.rfind('>')) {
        if lt < gt {
            let name = value[..lt].trim();
            return Identity {
                name: (!name.is_empty()).then(|| name.to_string()),
                email: Some(value[lt + 1..gt].trim().to_string()),
                login: None,
            };
        }
    }
    if value.contains('@') && !value.starts_with('@') && !value.contains(' ') {
        return Identity { name: None, email: Some(value.to_string()), login: None };
    }
    if !value.contains(' ') {
        return Identity { name: None, email: None, login: Some(value.trim_start_matches('@').to_string()) };
    }
    Identity { name: Some(value.to_string()), email: None, login: None }
}
