//! The one `validate` step: parsed TOML in, a resolved [`Policy`] out, every problem
//! collected on the way.
//!
//! Reading happens in dependency order (people, groups, rules, areas, then everything
//! that refers to them), so each reference is checked where it is written and reported
//! with its own span. Nothing stops at the first error: a section that fails yields a
//! placeholder and reading continues, and the caller throws the policy away if any
//! error was reported.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::Date;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diag::{Diagnostic, codes, did_you_mean};
use crate::graph;
use crate::limits;
use crate::model::*;
use crate::paths::{PathPattern, PathSet};
use crate::reader::{Ctx, Sp, Table, present, str_list_value, wrong_type};
use crate::units;

const ROOT_KEYS: &[&str] = &[
    "policy",
    "people",
    "groups",
    "areas",
    "codeowners",
    "categories",
    "risks",
    "rules",
    "gates",
    "branch",
    "description",
    "co-change",
    "append-only",
    "content-flags",
    "emergency",
    "exceptions",
    "deploy",
    "console",
    "metrics",
    "evidence",
    "process",
    "rollback",
    "retention",
    "collectors",
    "environments",
    "notes",
];
const POLICY_KEYS: &[&str] = &[
    "organization",
    "title",
    "document-id",
    "owner",
    "version",
    "effective",
    "last-review",
    "review-every",
    "review-triggers",
    "purpose",
    "scope",
    "document-approvers",
    "history",
    "controls",
];
const PERSON_KEYS: &[&str] = &["name", "title", "emails", "logins", "bot", "roles"];
const GROUP_KEYS: &[&str] = &["members", "description"];
const AREA_KEYS: &[&str] = &["name", "paths", "owners", "sensitive", "require"];
const CATEGORY_KEYS: &[&str] = &[
    "id",
    "name",
    "description",
    "precedence",
    "when",
    "require",
    "self-merge",
    "emergency",
    "required-trailers",
    "default",
];
const RISK_KEYS: &[&str] = &["id", "name", "description", "rank", "when", "require", "default"];
const RULE_KINDS: &[&str] = &["approvals", "all", "any", "owner-ack", "codeowners", "ref"];
const RULE_KEYS: &[&str] = &[
    "approvals",
    "from",
    "exclude-author",
    "exclude-committers",
    "current-head-only",
    "all",
    "any",
    "owner-ack",
    "codeowners",
    "ref",
    "distinct-approvers",
];
const APPROVAL_MODIFIERS: &[&str] = &["from", "exclude-author", "exclude-committers", "current-head-only"];
pub(crate) const CONDITION_KEYS: &[&str] = &[
    "always",
    "paths-any",
    "paths-only",
    "area",
    "label",
    "trailer",
    "title",
    "checkbox",
    "author",
    "kind",
    "all",
    "any",
    "not",
];
const GATE_KEYS: &[&str] = &["check", "aliases", "scope", "emergency-may-skip", "categories", "paths", "description"];

/// Spans and facts the lints need that the model does not keep.
#[derive(Debug, Default)]
pub(crate) struct Spans {
    pub rules: BTreeMap<String, Span>,
    pub people: BTreeMap<String, Span>,
    /// The value the next review date is computed from (`last-review` or `effective`).
    pub review_basis: Span,
    /// Rules referred to from anywhere (categories, risks, areas, flags, other rules).
    pub used_rules: BTreeSet<String>,
    /// Work done walking the group and rule graphs (nodes entered plus references
    /// followed), for the tests that prove it linear in the size of the policy.
    #[cfg_attr(not(test), allow(dead_code))]
    pub graph_steps: usize,
}

/// Names declared in the file, for checking references.
#[derive(Debug, Default)]
struct Known {
    people: BTreeSet<String>,
    groups: BTreeSet<String>,
    rules: BTreeSet<String>,
    areas: BTreeSet<String>,
    categories: BTreeSet<String>,
    gates: BTreeSet<String>,
}

fn placeholder_date() -> Date {
    jiff::civil::date(1970, 1, 1)
}

/// Builds the policy. The result is meaningful only when `ctx` holds no errors.
pub(crate) fn build(ctx: &mut Ctx, root: &DeTable<'_>, root_span: Span) -> (Policy, Spans) {
    let root = Table::open(ctx, root, root_span.start..root_span.start, "", ROOT_KEYS);
    let mut known = Known::default();
    let mut spans = Spans::default();

    // People and roles.
    let mut role_members: BTreeMap<String, Vec<Sp<String>>> = BTreeMap::new();
    let people = read_people(ctx, &root, &mut spans, &mut role_members);
    known.people = people.keys().cloned().collect();
    check_identities(ctx, &people, &spans);

    // Groups, then flatten.
    let groups = read_groups(ctx, &root, &known, role_members, &mut spans);
    known.groups = groups.keys().cloned().collect();

    // Rules: names first, so rules can refer to each other in any order.
    if let Some(rules) = root.get("rules") {
        if let DeValue::Table(table) = rules.get_ref() {
            known.rules = table.iter().map(|(k, _)| k.get_ref().to_string()).collect();
        }
    }
    let rules = read_rules(ctx, &root, &known, &mut spans);

    // Gates are needed to check emergency may-skip and exception waivers.
    let gates = read_gates(ctx, &root);
    for gate in &gates {
        known.gates.insert(gate.check.clone());
        known.gates.extend(gate.aliases.iter().cloned());
    }

    let areas = read_areas(ctx, &root, &known, &mut spans);
    known.areas = areas.iter().map(|a| a.name.clone()).collect();

    // Category ids first: gates and descriptions refer to them.
    for table in root.tables(&mut Ctx::default(), "categories", CATEGORY_KEYS) {
        if let Some(id) = table.str(&mut Ctx::default(), "id") {
            known.categories.insert(id.value);
        }
    }
    let (categories, default_category) = read_categories(ctx, &root, &known, &mut spans);
    let (risks, default_risk) = read_risks(ctx, &root, &known, &mut spans);
    for gate_table in root.tables(&mut Ctx::default(), "gates", GATE_KEYS) {
        for category in gate_table.str_list(ctx, "categories") {
            check_category(ctx, &known, &category);
        }
    }

    let branch = read_branch(ctx, &root);
    let description = read_description(ctx, &root, &known);
    let co_changes = read_co_changes(ctx, &root, &known);
    let append_only = read_append_only(ctx, &root);
    let content_flags = read_content_flags(ctx, &root, &known, &mut spans);
    let emergency = read_emergency(ctx, &root, &known);
    let exceptions = read_exceptions(ctx, &root, &known);
    let deploy = read_deploy(ctx, &root, &known);
    let console = read_console(ctx, &root);
    let metrics = read_metrics(ctx, &root);
    let evidence = read_evidence(ctx, &root);
    let docs = read_docs(ctx, &root);
    let codeowners = read_codeowners(ctx, &root);
    let meta = read_meta(ctx, &root, &known, &mut spans);

    let policy = Policy {
        meta,
        people,
        groups,
        areas,
        categories,
        default_category,
        risks,
        default_risk,
        rules,
        gates,
        branch,
        description,
        co_changes,
        append_only,
        content_flags,
        emergency,
        exceptions,
        deploy,
        console,
        metrics,
        evidence,
        docs,
        codeowners,
    };
    (policy, spans)
}

// ---------------------------------------------------------------------------------------
// References

fn unknown(
    ctx: &mut Ctx,
    code: &'static str,
    kind: &str,
    name: &Sp<String>,
    declared: &BTreeSet<String>,
    where_: &str,
) {
    let mut diag =
        Diagnostic::new(code, format!("unknown {kind} `{}`", name.value), name.span.clone(), format!("no such {kind}"));
    let bare = name.value.trim_start_matches('@');
    diag = match ctx.did_you_mean(bare, declared.iter().map(String::as_str)) {
        Some(suggestion) => diag
            .with_help(format!("did you mean `{}{suggestion}`?", if name.value.starts_with('@') { "@" } else { "" })),
        None if declared.is_empty() => diag.with_help(format!("declare it under {where_}")),
        None => diag.with_help(format!(
            "declare it under {where_}; known: {}",
            declared.iter().take(12).map(|d| short_name(d)).collect::<Vec<_>>().join(", ")
        )),
    };
    ctx.push(diag);
}

/// A declared name as a help line lists it: cut short past 40 characters, so that a list
/// of names repeated under many errors stays small.
fn short_name(name: &str) -> String {
    match name.char_indices().nth(40) {
        Some((at, _)) => format!("{}…", &name[..at]),
        None => name.to_string(),
    }
}

/// Parses a subject: `person-id`, `@group`, or `*` / `anyone`.
fn subject(ctx: &mut Ctx, known: &Known, text: &Sp<String>) -> Option<Subject> {
    let value = text.value.trim();
    if value == "*" || value.eq_ignore_ascii_case("anyone") {
        return Some(Subject::Anyone);
    }
    if let Some(group) = value.strip_prefix('@') {
        if known.groups.contains(group) {
            return Some(Subject::Group(group.to_string()));
        }
        unknown(ctx, codes::UNKNOWN_GROUP, "group", text, &known.groups, "[groups] or a person's `roles`");
        return None;
    }
    if known.people.contains(value) {
        return Some(Subject::Person(value.to_string()));
    }
    if known.groups.contains(value) {
        ctx.push(
            Diagnostic::new(
                codes::UNKNOWN_PERSON,
                format!("unknown person `{value}`"),
                text.span.clone(),
                "no such person",
            )
            .with_help(format!("`{value}` is a group: write `@{value}`")),
        );
        return None;
    }
    unknown(ctx, codes::UNKNOWN_PERSON, "person", text, &known.people, "[people]");
    None
}

fn subjects(ctx: &mut Ctx, known: &Known, texts: &[Sp<String>]) -> Vec<Subject> {
    texts.iter().filter_map(|t| subject(ctx, known, t)).collect()
}

fn person_ref(ctx: &mut Ctx, known: &Known, text: &Sp<String>) -> Option<String> {
    if known.people.contains(&text.value) {
        Some(text.value.clone())
    } else {
        unknown(ctx, codes::UNKNOWN_PERSON, "person", text, &known.people, "[people]");
        None
    }
}

fn rule_ref(ctx: &mut Ctx, known: &Known, spans: &mut Spans, text: &Sp<String>) -> Option<String> {
    spans.used_rules.insert(text.value.clone());
    if known.rules.contains(&text.value) {
        Some(text.value.clone())
    } else {
        unknown(ctx, codes::UNKNOWN_RULE, "rule", text, &known.rules, "[rules.<name>]");
        None
    }
}

fn check_category(ctx: &mut Ctx, known: &Known, text: &Sp<String>) -> bool {
    if known.categories.contains(&text.value) {
        true
    } else {
        unknown(ctx, codes::UNKNOWN_CATEGORY, "category", text, &known.categories, "[[categories]]");
        false
    }
}

fn categories_list(ctx: &mut Ctx, known: &Known, table: &Table<'_, '_>) -> Vec<String> {
    table.str_list(ctx, "categories").into_iter().filter(|c| check_category(ctx, known, c)).map(|c| c.value).collect()
}

fn path_set(ctx: &mut Ctx, texts: &[Sp<String>]) -> PathSet {
    let mut patterns = Vec::new();
    for text in texts {
        match PathPattern::new(&text.value) {
            Ok(p) => patterns.push(p),
            Err(e) => ctx.push(
                Diagnostic::new(
                    codes::BAD_GLOB,
                    format!("invalid path pattern `{}`: {e}", text.value),
                    text.span.clone(),
                    "invalid pattern",
                )
                .with_help("patterns follow CODEOWNERS: `/dir/`, `*.sql`, `docs/**`; no `!` and no `[ ]`"),
            ),
        }
    }
    PathSet { patterns }
}

fn regex_value(ctx: &mut Ctx, text: &Sp<String>) -> Option<regex::Regex> {
    match regex::Regex::new(&text.value) {
        Ok(re) => Some(re),
        Err(e) => {
            let detail = e.to_string();
            let last = detail.lines().last().unwrap_or("invalid regular expression").trim().to_string();
            ctx.push(
                Diagnostic::new(
                    codes::BAD_REGEX,
                    format!("invalid regular expression `{}`", text.value),
                    text.span.clone(),
                    last,
                )
                .with_help("the syntax is Rust's `regex` crate; escape literal characters such as `(` with `\\\\(`"),
            );
            None
        }
    }
}

fn duration(ctx: &mut Ctx, text: &Sp<String>) -> Option<Duration> {
    let parsed = units::parse_duration(&text.value);
    if parsed.is_none() {
        ctx.push(
            Diagnostic::new(
                codes::BAD_DURATION,
                format!("invalid duration `{}`", text.value),
                text.span.clone(),
                "not a duration",
            )
            .with_help("write a number and a unit: \"15m\", \"24h\", \"48h\", \"5d\" or \"2 hours\""),
        );
    }
    parsed
}

// ---------------------------------------------------------------------------------------
// People and groups

fn read_people(
    ctx: &mut Ctx,
    root: &Table<'_, '_>,
    spans: &mut Spans,
    role_members: &mut BTreeMap<String, Vec<Sp<String>>>,
) -> BTreeMap<String, Person> {
    let mut people = BTreeMap::new();
    let Some(value) = root.get("people") else { return people };
    let DeValue::Table(table) = value.get_ref() else {
        wrong_type(ctx, "people", "a table", value);
        return people;
    };
    for (key, value) in table.iter() {
        let id = key.get_ref().to_string();
        if id.starts_with('@') || id == "*" || id.eq_ignore_ascii_case("anyone") {
            ctx.push(
                Diagnostic::new(codes::INVALID_VALUE, format!("`{id}` cannot be a person id"), key.span(), "reserved")
                    .with_help("person ids are plain names like `holly`; `@` marks groups and `*` means anyone"),
            );
            continue;
        }
        spans.people.insert(id.clone(), key.span());
        let Some(t) = Table::from_value(ctx, value, &format!("[people.{id}]"), PERSON_KEYS) else { continue };
        let t = Table { span: key.span(), ..t };
        let name = t.str(ctx, "name").map(|s| s.value).unwrap_or_else(|| id.clone());
        let emails: Vec<String> = t.str_list(ctx, "emails").into_iter().map(|e| e.value.trim().to_string()).collect();
        let logins: Vec<String> = t.str_list(ctx, "logins").into_iter().map(|l| l.value.trim().to_string()).collect();
        let roles = t.str_list(ctx, "roles");
        for role in &roles {
            let group = role.value.trim_start_matches('@').to_string();
            role_members.entry(group).or_default().push(Sp::new(id.clone(), role.span.clone()));
        }
        people.insert(
            id.clone(),
            Person {
                id: id.clone(),
                name,
                emails,
                logins,
                bot: t.bool(ctx, "bot").unwrap_or(false),
                roles: roles.into_iter().map(|r| r.value.trim_start_matches('@').to_string()).collect(),
                title: t.str(ctx, "title").map(|s| s.value),
            },
        );
    }
    people
}

/// The same email or login on two people makes identity ambiguous.
fn check_identities(ctx: &mut Ctx, people: &BTreeMap<String, Person>, spans: &Spans) {
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for person in people.values() {
        let identities =
            person.emails.iter().map(|e| e.to_lowercase()).chain(person.logins.iter().map(|l| l.to_lowercase()));
        for identity in identities {
            if let Some(other) = seen.get(&identity) {
                if *other != person.id.as_str() {
                    let span = spans.people.get(&person.id).cloned().unwrap_or_default();
                    let mut diag = Diagnostic::new(
                        codes::DUPLICATE_IDENTITY,
                        format!("`{identity}` belongs to both `{other}` and `{}`", person.id),
                        span,
                        "second holder",
                    )
                    .with_help("an email or login identifies exactly one person; remove it from one of them");
                    if let Some(first) = spans.people.get(*other) {
                        diag = diag.with_secondary(first.clone(), "first holder");
                    }
                    ctx.push(diag);
                }
            } else {
                seen.insert(identity, person.id.as_str());
            }
        }
    }
}

struct RawGroup {
    members: Vec<Sp<String>>,
    description: Option<String>,
    span: Span,
}

fn read_groups(
    ctx: &mut Ctx,
    root: &Table<'_, '_>,
    known: &Known,
    role_members: BTreeMap<String, Vec<Sp<String>>>,
    spans: &mut Spans,
) -> BTreeMap<String, Group> {
    let mut raw: BTreeMap<String, RawGroup> = BTreeMap::new();
    if let Some(value) = root.get("groups") {
        match value.get_ref() {
            DeValue::Table(table) => {
                for (key, value) in table.iter() {
                    let name = key.get_ref().trim_start_matches('@').to_string();
                    let (members, description) = match value.get_ref() {
                        DeValue::Table(_) => {
                            match Table::from_value(ctx, value, &format!("[groups.{name}]"), GROUP_KEYS) {
                                Some(t) => (t.str_list(ctx, "members"), t.str(ctx, "description").map(|d| d.value)),
                                None => (Vec::new(), None),
                            }
                        }
                        _ => (str_list_value(ctx, &name, value), None),
                    };
                    raw.insert(name, RawGroup { members, description, span: key.span() });
                }
            }
            _ => wrong_type(ctx, "groups", "a table", value),
        }
    }
    for (group, members) in role_members {
        let span = members.first().map(|m| m.span.clone()).unwrap_or_default();
        let entry = raw.entry(group).or_insert(RawGroup { members: Vec::new(), description: None, span });
        entry.members.extend(members);
    }

    // Check member references once, with the full set of group names.
    let group_names: BTreeSet<String> = raw.keys().cloned().collect();
    let lookup = Known { people: known.people.clone(), groups: group_names.clone(), ..Known::default() };
    for group in raw.values_mut() {
        group.members.retain(|member| {
            if let Some(nested) = member.value.strip_prefix('@') {
                if group_names.contains(nested) {
                    return true;
                }
                unknown(ctx, codes::UNKNOWN_GROUP, "group", member, &lookup.groups, "[groups] or a person's `roles`");
                false
            } else if known.people.contains(&member.value) {
                true
            } else {
                if group_names.contains(&member.value) {
                    ctx.push(
                        Diagnostic::new(
                            codes::UNKNOWN_PERSON,
                            format!("unknown person `{}`", member.value),
                            member.span.clone(),
                            "no such person",
                        )
                        .with_help(format!("`{0}` is a group: write `@{0}`", member.value)),
                    );
                } else {
                    unknown(ctx, codes::UNKNOWN_PERSON, "person", member, &lookup.people, "[people]");
                }
                false
            }
        });
    }

    let resolved = flatten_groups(ctx, &raw, spans);
    raw.into_iter()
        .zip(resolved)
        .map(|((name, group), members)| {
            (
                name.clone(),
                Group {
                    name,
                    description: group.description,
                    members: members.into_iter().collect(),
                    span: group.span,
                },
            )
        })
        .collect()
}

/// The members of every group with nested groups flattened, in the order of `raw`.
/// Reports each cycle of groups once, and groups nested deeper than
/// [`limits::MAX_NESTING`] levels; no recursion, and linear in the number of references
/// (apart from the union of member sets).
fn flatten_groups(ctx: &mut Ctx, raw: &BTreeMap<String, RawGroup>, spans: &mut Spans) -> Vec<BTreeSet<String>> {
    let names: Vec<&String> = raw.keys().collect();
    let index: BTreeMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
    // The nested-group references of each group, each with the member entry it came from.
    let mut edges: Vec<Vec<usize>> = Vec::with_capacity(raw.len());
    let mut edge_refs: Vec<Vec<&Sp<String>>> = Vec::with_capacity(raw.len());
    for group in raw.values() {
        let mut out = Vec::new();
        let mut refs = Vec::new();
        for member in &group.members {
            if let Some(&target) = member.value.strip_prefix('@').and_then(|n| index.get(n)) {
                out.push(target);
                refs.push(member);
            }
        }
        edges.push(out);
        edge_refs.push(refs);
    }
    let graph = graph::components(&edges);
    spans.graph_steps += graph.steps;

    let mut on_cycle = vec![false; names.len()];
    // Levels of groups below each group (0: people only), and whether it is over the limit.
    let mut depth = vec![0usize; names.len()];
    let mut too_deep = vec![false; names.len()];
    let mut members: Vec<BTreeSet<String>> = vec![BTreeSet::new(); names.len()];
    let mut memberships = 0usize;
    for component in &graph.components {
        if graph::is_cycle(&edges, component) {
            for &g in component {
                on_cycle[g] = true;
            }
            report_group_cycle(ctx, raw, &names, &edges, component);
            continue;
        }
        // One group; everything it includes has been handled already.
        let g = component[0];
        let mut deepest: Option<usize> = None;
        let mut below_too_deep = false;
        for (position, &child) in edges[g].iter().enumerate() {
            if on_cycle[child] {
                continue;
            }
            below_too_deep |= too_deep[child];
            if deepest.is_none_or(|p| depth[edges[g][p]] < depth[child]) {
                deepest = Some(position);
            }
        }
        depth[g] = deepest.map_or(0, |p| depth[edges[g][p]] + 1).min(limits::MAX_NESTING + 1);
        if below_too_deep || depth[g] > limits::MAX_NESTING {
            too_deep[g] = true;
            if let (false, Some(p)) = (below_too_deep, deepest) {
                let via = edge_refs[g][p];
                ctx.push(
                    Diagnostic::new(
                        codes::TOO_DEEP,
                        format!("group `@{}` includes groups more than {} levels deep", names[g], limits::MAX_NESTING),
                        via.span.clone(),
                        format!("`{}` has {} levels of groups below it", via.value, limits::MAX_NESTING),
                    )
                    .with_secondary(raw[names[g]].span.clone(), "this group")
                    .with_help("list the people of a deeply nested group directly, or include fewer levels of groups"),
                );
            }
            continue;
        }
        if memberships > limits::MAX_GROUP_MEMBERSHIPS {
            continue; // reported once below; the policy is not used
        }
        let mut set = BTreeSet::new();
        for member in &raw[names[g]].members {
            match member.value.strip_prefix('@').and_then(|n| index.get(n)) {
                Some(&child) => set.extend(members[child].iter().cloned()),
                None if !member.value.starts_with('@') => {
                    set.insert(member.value.clone());
                }
                None => {}
            }
        }
        memberships += set.len();
        if memberships > limits::MAX_GROUP_MEMBERSHIPS {
            ctx.push(
                Diagnostic::new(
                    codes::TOO_MANY,
                    format!(
                        "the groups have more than {} members in all once nested groups are flattened",
                        limits::MAX_GROUP_MEMBERSHIPS
                    ),
                    raw[names[g]].span.clone(),
                    format!("@{} brings the total past the limit", names[g]),
                )
                .with_help("include a large group in fewer other groups; name it directly where it is needed"),
            );
            continue;
        }
        members[g] = set;
    }
    members
}

fn report_group_cycle(
    ctx: &mut Ctx,
    raw: &BTreeMap<String, RawGroup>,
    names: &[&String],
    edges: &[Vec<usize>],
    component: &[usize],
) {
    let start = component[0];
    let cycle = graph::cycle_through(edges, component, start);
    let mut path: Vec<String> = cycle.iter().map(|&(g, _)| format!("@{}", names[g])).collect();
    path.push(format!("@{}", names[start]));
    let mut diag = Diagnostic::new(
        codes::GROUP_CYCLE,
        format!("groups contain each other: {}", abbreviate(&path)),
        raw[names[start]].span.clone(),
        "this group ends up containing itself",
    )
    .with_help("a group may include other groups, but not itself through them; remove one of the @references");
    for &(g, _) in cycle.iter().skip(1).take(CYCLE_LABELS) {
        diag = diag.with_secondary(raw[names[g]].span.clone(), "part of the cycle");
    }
    ctx.push(diag);
}

/// How many members of a cycle get a label of their own; the message names them all up to
/// [`CYCLE_NAMES`].
const CYCLE_LABELS: usize = 8;
const CYCLE_NAMES: usize = 12;

/// `a → b → c → a`, shortened in the middle when the cycle is long.
fn abbreviate(path: &[String]) -> String {
    if path.len() <= CYCLE_NAMES {
        return path.join(" → ");
    }
    let head = &path[..CYCLE_NAMES - 2];
    let tail = &path[path.len() - 2..];
    format!("{} → … ({} more) → {}", head.join(" → "), path.len() - CYCLE_NAMES, tail.join(" → "))
}

// ---------------------------------------------------------------------------------------
// Rules

fn read_rules(ctx: &mut Ctx, root: &Table<'_, '_>, known: &Known, spans: &mut Spans) -> BTreeMap<String, ApprovalRule> {
    let mut rules = BTreeMap::new();
    let Some(value) = root.get("rules") else { return rules };
    let DeValue::Table(table) = value.get_ref() else {
        wrong_type(ctx, "rules", "a table", value);
        return rules;
    };
    if let Some((key, _)) = table.iter().nth(limits::MAX_RULES) {
        ctx.push(
            Diagnostic::new(
                codes::TOO_MANY,
                format!("the policy declares {} rules, more than the limit of {}", table.len(), limits::MAX_RULES),
                key.span(),
                format!("rule number {} is declared here", limits::MAX_RULES + 1),
            )
            .with_help("merge rules that require the same thing, and remove rules nothing uses (CS-W011)"),
        );
    }
    let mut graph: BTreeMap<String, Vec<Sp<String>>> = BTreeMap::new();
    for (key, value) in table.iter() {
        let name = key.get_ref().to_string();
        spans.rules.insert(name.clone(), key.span());
        let mut refs = Vec::new();
        if let Some(rule) = rule_value(ctx, known, value, &format!("[rules.{name}]"), Some(key.span()), &mut refs, 1) {
            rules.insert(name.clone(), rule);
        }
        for r in &refs {
            spans.used_rules.insert(r.value.clone());
        }
        graph.insert(name, refs);
    }
    check_rule_graph(ctx, &graph, &rules, spans);
    rules
}

/// Reports each cycle of rule references once, and rules that, with their references
/// written out, nest deeper than [`limits::MAX_NESTING`] or have more than
/// [`limits::MAX_RULE_PARTS`] parts. Linear in the number of rules and references.
fn check_rule_graph(
    ctx: &mut Ctx,
    graph: &BTreeMap<String, Vec<Sp<String>>>,
    rules: &BTreeMap<String, ApprovalRule>,
    spans: &mut Spans,
) {
    let names: Vec<&String> = graph.keys().collect();
    let index: BTreeMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
    let edges: Vec<Vec<usize>> =
        graph.values().map(|refs| refs.iter().filter_map(|r| index.get(r.value.as_str()).copied()).collect()).collect();
    let components = graph::components(&edges);
    spans.graph_steps += components.steps;

    let mut measured: BTreeMap<&str, RuleSize> = BTreeMap::new();
    for component in &components.components {
        if graph::is_cycle(&edges, component) {
            let start = component[0];
            let cycle = graph::cycle_through(&edges, component, start);
            let Some(&(last, position)) = cycle.last() else { continue };
            let closing = graph[names[last]].iter().filter(|r| index.contains_key(r.value.as_str())).nth(position);
            let mut path: Vec<String> = cycle.iter().map(|&(r, _)| names[r].clone()).collect();
            path.push(names[start].clone());
            let mut diag = Diagnostic::new(
                codes::RULE_CYCLE,
                format!("approval rules refer to each other: {}", abbreviate(&path)),
                closing.map(|c| c.span.clone()).unwrap_or_default(),
                "this reference closes the cycle",
            )
            .with_help("a rule may refer to other rules, but never back to itself");
            if let Some(span) = spans.rules.get(names[start]) {
                diag = diag.with_secondary(span.clone(), "cycle starts here");
            }
            ctx.push(diag);
            continue;
        }
        // One rule; every rule it refers to has been measured already (or is on a cycle,
        // or failed to read, and is then not measured).
        let name = names[component[0]].as_str();
        let Some(rule) = rules.get(name) else { continue };
        let size = RuleSize::of(rule, &measured);
        let span = spans.rules.get(name).cloned().unwrap_or_default();
        if !size.below_over_limit && size.depth > limits::MAX_NESTING {
            ctx.push(
                Diagnostic::new(
                    codes::TOO_DEEP,
                    format!(
                        "rule `{name}` nests more than {} levels deep through `all`, `any` and the rules it refers to",
                        limits::MAX_NESTING
                    ),
                    span.clone(),
                    "too deep once its references are followed",
                )
                .with_help(
                    "name the approvals this rule needs more directly, instead of through a long chain of rules",
                ),
            );
        } else if !size.below_over_limit && size.parts > limits::MAX_RULE_PARTS {
            ctx.push(
                Diagnostic::new(
                    codes::TOO_MANY,
                    format!(
                        "rule `{name}` has more than {} parts once the rules it refers to are written out",
                        limits::MAX_RULE_PARTS
                    ),
                    span.clone(),
                    "too large once its references are followed",
                )
                .with_help(
                    "rules that share sub-rules at every level double in size with each level; refer to fewer rules",
                ),
            );
        }
        measured.insert(name, size);
    }
}

/// The shape of a rule with every reference written out: how deep it nests and how many
/// parts it has (both capped just above their limits).
#[derive(Debug, Clone, Copy)]
struct RuleSize {
    depth: usize,
    parts: usize,
    /// A rule it refers to is itself over a limit (and has been reported).
    below_over_limit: bool,
}

impl RuleSize {
    fn of(rule: &ApprovalRule, measured: &BTreeMap<&str, RuleSize>) -> RuleSize {
        let cap = |size: RuleSize| RuleSize {
            depth: size.depth.min(limits::MAX_NESTING + 1),
            parts: size.parts.min(limits::MAX_RULE_PARTS + 1),
            below_over_limit: size.below_over_limit,
        };
        let leaf = RuleSize { depth: 1, parts: 1, below_over_limit: false };
        // The inline structure is at most `MAX_NESTING` deep (`rule_value` checks it), so
        // this recursion is bounded.
        cap(match rule {
            ApprovalRule::Ref(name) => match measured.get(name.as_str()) {
                Some(target) => RuleSize {
                    depth: target.depth + 1,
                    parts: target.parts + 1,
                    below_over_limit: target.below_over_limit
                        || target.depth > limits::MAX_NESTING
                        || target.parts > limits::MAX_RULE_PARTS,
                },
                None => leaf,
            },
            ApprovalRule::All(parts) | ApprovalRule::AllDistinct(parts) | ApprovalRule::Any(parts) => {
                let mut size = RuleSize { depth: 1, parts: 1, below_over_limit: false };
                for part in parts {
                    let inner = RuleSize::of(part, measured);
                    size.depth = size.depth.max(inner.depth + 1);
                    size.parts += inner.parts;
                    size.below_over_limit |= inner.below_over_limit;
                }
                size
            }
            ApprovalRule::Approvals { .. } | ApprovalRule::OwnerAck | ApprovalRule::CodeOwners => leaf,
        })
    }
}

fn rule_value(
    ctx: &mut Ctx,
    known: &Known,
    value: &Spanned<DeValue<'_>>,
    what: &str,
    header: Option<Span>,
    refs: &mut Vec<Sp<String>>,
    depth: usize,
) -> Option<ApprovalRule> {
    if depth > limits::MAX_NESTING {
        ctx.push(too_deep_inline(value.span(), "approval rule"));
        return None;
    }
    if let DeValue::String(name) = value.get_ref() {
        let name = Sp::new(name.to_string(), value.span());
        if !known.rules.contains(&name.value) {
            unknown(ctx, codes::UNKNOWN_RULE, "rule", &name, &known.rules, "[rules.<name>]");
            return None;
        }
        refs.push(name.clone());
        return Some(ApprovalRule::Ref(name.value));
    }
    let mut t = Table::from_value(ctx, value, what, RULE_KEYS)?;
    if let Some(header) = header {
        t.span = header;
    }
    let kinds = present(&t, RULE_KINDS);
    if kinds.len() != 1 {
        let message = if kinds.is_empty() {
            format!("{what} does not say what it requires")
        } else {
            format!("{what} mixes {}; a rule is exactly one of them", kinds.join(" and "))
        };
        ctx.push(
            Diagnostic::new(codes::INVALID_RULE, message, t.span.clone(), "one of approvals/all/any/owner-ack/codeowners/ref")
                .with_help("write `approvals = 1` (with `from`), `all = [...]`, `any = [...]`, `owner-ack = true`, `codeowners = true` or `ref = \"rule\"`"),
        );
        return None;
    }
    if kinds[0] != "approvals" {
        for modifier in APPROVAL_MODIFIERS {
            if t.has(modifier) {
                ctx.push(
                    Diagnostic::new(
                        codes::INVALID_RULE,
                        format!("`{modifier}` only applies to `approvals`"),
                        t.key_span(modifier),
                        "no effect here",
                    )
                    .with_help(format!("move `{modifier}` into an `approvals` rule inside `{}`", kinds[0])),
                );
            }
        }
    }
    if kinds[0] != "all" && t.has("distinct-approvers") {
        ctx.push(
            Diagnostic::new(
                codes::INVALID_RULE,
                "`distinct-approvers` only applies to `all`",
                t.key_span("distinct-approvers"),
                "no effect here",
            )
            .with_help("use it on an `all = [...]` rule whose parts must be met by different people"),
        );
    }
    match kinds[0] {
        "approvals" => {
            let count = t.int(ctx, "approvals")?;
            if count.value < 1 || count.value > 100 {
                ctx.push(
                    Diagnostic::new(
                        codes::INVALID_RULE,
                        format!("`approvals = {}` is not a usable count", count.value),
                        count.span,
                        "must be 1 or more",
                    )
                    .with_help("to require nothing, leave `require` out of the category"),
                );
                return None;
            }
            let from_list = t.str_list(ctx, "from");
            let from = subjects(ctx, known, &from_list);
            Some(ApprovalRule::Approvals {
                count: count.value as u32,
                from,
                exclude_author: t.bool(ctx, "exclude-author").unwrap_or(true),
                exclude_committers: t.bool(ctx, "exclude-committers").unwrap_or(false),
                current_head_only: t.bool(ctx, "current-head-only").unwrap_or(true),
            })
        }
        "owner-ack" | "codeowners" => {
            let on = t.bool(ctx, kinds[0])?;
            if !on {
                ctx.push(
                    Diagnostic::new(
                        codes::INVALID_RULE,
                        format!("`{} = false` requires nothing", kinds[0]),
                        t.key_span(kinds[0]),
                        "false",
                    )
                    .with_help("remove the rule, or set it to true"),
                );
                return None;
            }
            Some(if kinds[0] == "owner-ack" { ApprovalRule::OwnerAck } else { ApprovalRule::CodeOwners })
        }
        "ref" => {
            let name = t.str(ctx, "ref")?;
            if !known.rules.contains(&name.value) {
                unknown(ctx, codes::UNKNOWN_RULE, "rule", &name, &known.rules, "[rules.<name>]");
                return None;
            }
            refs.push(name.clone());
            Some(ApprovalRule::Ref(name.value))
        }
        kind => {
            let value = t.get(kind)?;
            let DeValue::Array(items) = value.get_ref() else {
                wrong_type(ctx, kind, "a list of rules (names or tables)", value);
                return None;
            };
            if items.is_empty() {
                ctx.push(
                    Diagnostic::new(codes::INVALID_RULE, format!("`{kind} = []` is empty"), value.span(), "no rules")
                        .with_help("list at least one rule name or inline rule"),
                );
                return None;
            }
            let mut parts = Vec::new();
            for item in items.iter() {
                if let Some(rule) = rule_value(ctx, known, item, &format!("{what}.{kind}"), None, refs, depth + 1) {
                    parts.push(rule);
                }
            }
            Some(match kind {
                "all" if t.bool(ctx, "distinct-approvers").unwrap_or(false) => ApprovalRule::AllDistinct(parts),
                "all" => ApprovalRule::All(parts),
                _ => ApprovalRule::Any(parts),
            })
        }
    }
}

/// A condition or an inline rule nested deeper than [`limits::MAX_NESTING`].
fn too_deep_inline(span: Span, what: &str) -> Diagnostic {
    Diagnostic::new(
        codes::TOO_DEEP,
        format!("{what} nested more than {} levels deep", limits::MAX_NESTING),
        span,
        format!("level {} starts here", limits::MAX_NESTING + 1),
    )
    .with_help("split the logic into named rules or separate categories; no policy needs nesting this deep")
}

// ---------------------------------------------------------------------------------------
// Conditions

fn condition(ctx: &mut Ctx, known: &Known, value: &Spanned<DeValue<'_>>, what: &str) -> Option<Condition> {
    condition_at(ctx, known, value, what, 1)
}

/// A condition at nesting level `depth` (1 for a `when`).
fn condition_at(
    ctx: &mut Ctx,
    known: &Known,
    value: &Spanned<DeValue<'_>>,
    what: &str,
    depth: usize,
) -> Option<Condition> {
    if depth > limits::MAX_NESTING {
        ctx.push(too_deep_inline(value.span(), "condition"));
        return None;
    }
    let t = Table::from_value(ctx, value, what, CONDITION_KEYS)?;
    let t = Table { span: value.span(), ..t };
    let mut parts = Vec::new();
    let mut failed = false;
    for key in CONDITION_KEYS {
        if !t.has(key) {
            continue;
        }
        let part = condition_part(ctx, known, &t, key, what, depth);
        match part {
            Some(p) => parts.push(p),
            None => failed = true,
        }
    }
    if parts.is_empty() && !failed {
        let recognised = t.table.iter().any(|(k, _)| CONDITION_KEYS.contains(&k.get_ref().as_ref()));
        if !recognised && t.table.is_empty() {
            ctx.push(
                Diagnostic::new(
                    codes::INVALID_CONDITION,
                    format!("empty condition in {what}"),
                    value.span(),
                    "matches nothing",
                )
                .with_help("write e.g. `when = { paths-any = [\"docs/\"] }`, or `always = true`"),
            );
        }
        return None;
    }
    if failed {
        return None;
    }
    if parts.len() == 1 { parts.pop() } else { Some(Condition::All(parts)) }
}

fn condition_part(
    ctx: &mut Ctx,
    known: &Known,
    t: &Table<'_, '_>,
    key: &str,
    what: &str,
    depth: usize,
) -> Option<Condition> {
    match key {
        "always" => {
            let on = t.bool(ctx, key)?;
            if !on {
                ctx.push(
                    Diagnostic::new(
                        codes::INVALID_CONDITION,
                        "`always = false` never matches",
                        t.key_span(key),
                        "never true",
                    )
                    .with_help("use `not = { always = true }` if you mean never, or remove it"),
                );
                return None;
            }
            Some(Condition::Always)
        }
        "paths-any" | "paths-only" => {
            let list = t.str_list(ctx, key);
            if list.is_empty() {
                ctx.push(
                    Diagnostic::new(
                        codes::INVALID_CONDITION,
                        format!("`{key}` lists no paths"),
                        t.key_span(key),
                        "empty",
                    )
                    .with_help("list at least one path pattern"),
                );
                return None;
            }
            let errors = ctx.error_count();
            let set = path_set(ctx, &list);
            if ctx.error_count() > errors {
                return None;
            }
            Some(if key == "paths-any" { Condition::PathsAny(set) } else { Condition::PathsOnly(set) })
        }
        "area" => {
            let area = t.str(ctx, key)?;
            if !known.areas.contains(&area.value) {
                unknown(ctx, codes::UNKNOWN_AREA, "area", &area, &known.areas, "[[areas]]");
                return None;
            }
            Some(Condition::Area(area.value))
        }
        "label" => Some(Condition::Label(t.str(ctx, key)?.value)),
        "checkbox" => Some(Condition::Checkbox(t.str(ctx, key)?.value)),
        "trailer" => {
            let text = t.str(ctx, key)?;
            let (name, value) = match text.value.split_once(':') {
                Some((k, v)) => (k.trim().to_string(), Some(v.trim().to_string()).filter(|v| !v.is_empty())),
                None => (text.value.trim().to_string(), None),
            };
            if name.is_empty() || name.contains(char::is_whitespace) {
                ctx.push(
                    Diagnostic::new(
                        codes::INVALID_CONDITION,
                        format!("`{}` is not a trailer", text.value),
                        text.span,
                        "expected `Key` or `Key: value`",
                    )
                    .with_help("write e.g. `trailer = \"Change-Type: emergency\"`"),
                );
                return None;
            }
            Some(Condition::Trailer { key: name, value })
        }
        "title" => {
            let text = t.str(ctx, key)?;
            Some(Condition::Title(regex_value(ctx, &text)?))
        }
        "author" => {
            let text = t.str(ctx, key)?;
            Some(Condition::Author(subject(ctx, known, &text)?))
        }
        "kind" => {
            let text = t.str(ctx, key)?;
            let kind = match text.value.as_str() {
                "pull-request" => ChangeKind::PullRequest,
                "merge" => ChangeKind::Merge,
                "direct-push" => ChangeKind::DirectPush,
                "deploy" => ChangeKind::Deploy,
                "console-change" => ChangeKind::ConsoleChange,
                other => {
                    let kinds = ["pull-request", "merge", "direct-push", "deploy", "console-change"];
                    let mut diag = Diagnostic::new(
                        codes::INVALID_VALUE,
                        format!("unknown change kind `{other}`"),
                        text.span,
                        "not a change kind",
                    );
                    diag = match did_you_mean(other, kinds) {
                        Some(s) => diag.with_help(format!("did you mean `{s}`?")),
                        None => diag.with_help(format!("kinds are: {}", kinds.join(", "))),
                    };
                    ctx.push(diag);
                    return None;
                }
            };
            Some(Condition::Kind(kind))
        }
        "not" => {
            let value = t.get(key)?;
            Some(Condition::Not(Box::new(condition_at(ctx, known, value, &format!("{what}.not"), depth + 1)?)))
        }
        _ => {
            // all / any
            let value = t.get(key)?;
            let DeValue::Array(items) = value.get_ref() else {
                wrong_type(ctx, key, "a list of conditions", value);
                return None;
            };
            if items.is_empty() {
                ctx.push(
                    Diagnostic::new(
                        codes::INVALID_CONDITION,
                        format!("`{key} = []` is empty"),
                        value.span(),
                        "no conditions",
                    )
                    .with_help("list at least one condition table"),
                );
                return None;
            }
            let mut parts = Vec::new();
            let mut ok = true;
            for item in items.iter() {
                match condition_at(ctx, known, item, &format!("{what}.{key}"), depth + 1) {
                    Some(c) => parts.push(c),
                    None => ok = false,
                }
            }
            if !ok {
                return None;
            }
            Some(if key == "all" { Condition::All(parts) } else { Condition::Any(parts) })
        }
    }
}

// ---------------------------------------------------------------------------------------
// Areas, categories, risks

fn read_areas(ctx: &mut Ctx, root: &Table<'_, '_>, known: &Known, spans: &mut Spans) -> Vec<Area> {
    let mut areas: Vec<Area> = Vec::new();
    let mut seen: BTreeMap<String, Span> = BTreeMap::new();
    for t in root.tables(ctx, "areas", AREA_KEYS) {
        let Some(name) = t.req_str(ctx, "name") else { continue };
        if let Some(first) = seen.get(&name.value) {
            ctx.push(duplicate("area", &name, first.clone()));
        }
        seen.insert(name.value.clone(), name.span.clone());
        if !t.has("paths") {
            t.req_str(ctx, "paths");
        }
        let paths = {
            let list = t.str_list(ctx, "paths");
            path_set(ctx, &list)
        };
        let owner_list = t.str_list(ctx, "owners");
        let owners = subjects(ctx, known, &owner_list);
        let require = t.str(ctx, "require").and_then(|r| rule_ref(ctx, known, spans, &r));
        areas.push(Area {
            name: name.value,
            paths,
            owners,
            sensitive: t.bool(ctx, "sensitive").unwrap_or(false),
            require,
            origin: AreaOrigin::Policy,
            span: t.span.clone(),
        });
    }
    areas
}

fn duplicate(kind: &str, name: &Sp<String>, first: Span) -> Diagnostic {
    Diagnostic::new(
        codes::DUPLICATE,
        format!("duplicate {kind} `{}`", name.value),
        name.span.clone(),
        "declared again here",
    )
    .with_secondary(first, "first declared here")
    .with_help(format!("each {kind} needs its own name; rename or merge the two"))
}

fn read_categories(ctx: &mut Ctx, root: &Table<'_, '_>, known: &Known, spans: &mut Spans) -> (Vec<Category>, String) {
    let mut categories: Vec<Category> = Vec::new();
    let mut seen: BTreeMap<String, Span> = BTreeMap::new();
    let mut defaults: Vec<(String, Span)> = Vec::new();
    let mut without_when: Vec<(String, Span)> = Vec::new();
    let tables = root.tables(ctx, "categories", CATEGORY_KEYS);
    too_many(ctx, &tables, "categories");
    for t in &tables {
        let Some(id) = t.req_str(ctx, "id") else { continue };
        if let Some(first) = seen.get(&id.value) {
            ctx.push(duplicate("category", &id, first.clone()));
        }
        seen.insert(id.value.clone(), id.span.clone());
        let when = match t.get("when") {
            Some(value) => {
                condition(ctx, known, value, &format!("`when` of category `{}`", id.value)).unwrap_or(Condition::Always)
            }
            None => {
                without_when.push((id.value.clone(), id.span.clone()));
                Condition::Always
            }
        };
        if t.bool(ctx, "default") == Some(true) {
            defaults.push((id.value.clone(), id.span.clone()));
        }
        let precedence = t.int(ctx, "precedence").map(|p| p.value).unwrap_or(if t.has("when") { 0 } else { -1 });
        let require = t.str(ctx, "require").and_then(|r| rule_ref(ctx, known, spans, &r));
        categories.push(Category {
            name: t.str(ctx, "name").map(|n| n.value).unwrap_or_else(|| id.value.clone()),
            id: id.value,
            description: t.str(ctx, "description").map(|d| d.value),
            precedence,
            when,
            require,
            self_merge: t.bool(ctx, "self-merge").unwrap_or(false),
            emergency: t.bool(ctx, "emergency").unwrap_or(false),
            required_trailers: t.str_list(ctx, "required-trailers").into_iter().map(|s| s.value).collect(),
            span: t.span.clone(),
        });
    }
    if categories.is_empty() && tables.is_empty() {
        // A policy without categories has one: everything is a standard change.
        let require = known.rules.contains("default").then(|| "default".to_string());
        if require.is_some() {
            spans.used_rules.insert("default".into());
        }
        categories.push(Category {
            id: "standard".into(),
            name: "Standard".into(),
            description: Some("Every change (the policy declares no categories).".into()),
            precedence: -1,
            when: Condition::Always,
            require,
            self_merge: false,
            emergency: false,
            required_trailers: Vec::new(),
            span: 0..0,
        });
        return (categories, "standard".into());
    }
    let default = pick_default(ctx, "category", &defaults, &without_when, tables.first().map(|t| t.span.clone()));
    (categories, default.unwrap_or_default())
}

/// Categories and risk levels are compared pairwise for overlap, so their number is
/// limited ([`limits::MAX_CLASSES`]).
fn too_many(ctx: &mut Ctx, tables: &[Table<'_, '_>], key: &str) {
    if let Some(first_over) = tables.get(limits::MAX_CLASSES) {
        ctx.push(
            Diagnostic::new(
                codes::TOO_MANY,
                format!(
                    "the policy declares {} [[{key}]], more than the limit of {}",
                    tables.len(),
                    limits::MAX_CLASSES
                ),
                first_over.span.clone(),
                format!("number {} is declared here", limits::MAX_CLASSES + 1),
            )
            .with_help(format!("merge [[{key}]] entries that require the same thing")),
        );
    }
}

fn pick_default(
    ctx: &mut Ctx,
    kind: &str,
    marked: &[(String, Span)],
    without_when: &[(String, Span)],
    first: Option<Span>,
) -> Option<String> {
    match (marked, without_when) {
        ([one], _) => Some(one.0.clone()),
        ([], [one]) => Some(one.0.clone()),
        ([], []) => {
            if kind == "category" {
                ctx.push(
                    Diagnostic::new(
                        codes::DEFAULT_CATEGORY,
                        "no default category",
                        first.unwrap_or_default(),
                        "categories start here",
                    )
                    .with_help("mark the category that applies when no other matches with `default = true`"),
                );
            }
            None
        }
        ([], many) => {
            let diag = Diagnostic::new(
                codes::DEFAULT_CATEGORY,
                format!("{} {kind}s have no `when`, so which is the default is ambiguous", many.len()),
                many[1].1.clone(),
                "also has no `when`",
            )
            .with_secondary(many[0].1.clone(), "has no `when`")
            .with_help(format!("mark one with `default = true`, or give the others a `when`"));
            ctx.push(diag);
            None
        }
        (many, _) => {
            ctx.push(
                Diagnostic::new(
                    codes::DEFAULT_CATEGORY,
                    format!("more than one default {kind}"),
                    many[1].1.clone(),
                    "second `default = true`",
                )
                .with_secondary(many[0].1.clone(), "first `default = true`")
                .with_help(format!("only one {kind} can be the default")),
            );
            None
        }
    }
}

fn read_risks(ctx: &mut Ctx, root: &Table<'_, '_>, known: &Known, spans: &mut Spans) -> (Vec<Risk>, Option<String>) {
    let mut risks = Vec::new();
    let mut seen: BTreeMap<String, Span> = BTreeMap::new();
    let mut defaults = Vec::new();
    let mut without_when = Vec::new();
    let tables = root.tables(ctx, "risks", RISK_KEYS);
    too_many(ctx, &tables, "risks");
    for t in &tables {
        let Some(id) = t.req_str(ctx, "id") else { continue };
        if let Some(first) = seen.get(&id.value) {
            ctx.push(duplicate("risk level", &id, first.clone()));
        }
        seen.insert(id.value.clone(), id.span.clone());
        let when = match t.get("when") {
            Some(value) => {
                condition(ctx, known, value, &format!("`when` of risk `{}`", id.value)).unwrap_or(Condition::Always)
            }
            None => {
                without_when.push((id.value.clone(), id.span.clone()));
                Condition::Always
            }
        };
        if t.bool(ctx, "default") == Some(true) {
            defaults.push((id.value.clone(), id.span.clone()));
        }
        let require = t.str(ctx, "require").and_then(|r| rule_ref(ctx, known, spans, &r));
        risks.push(Risk {
            name: t.str(ctx, "name").map(|n| n.value).unwrap_or_else(|| id.value.clone()),
            id: id.value,
            description: t.str(ctx, "description").map(|d| d.value),
            rank: t.int(ctx, "rank").map(|r| r.value).unwrap_or(if t.has("when") { 0 } else { -1 }),
            when,
            require,
            span: t.span.clone(),
        });
    }
    let default =
        if tables.is_empty() { None } else { pick_default(ctx, "risk level", &defaults, &without_when, None) };
    (risks, default)
}

// ---------------------------------------------------------------------------------------
// Gates, branch, description, co-change, append-only, content flags

fn read_gates(ctx: &mut Ctx, root: &Table<'_, '_>) -> Vec<Gate> {
    let mut gates = Vec::new();
    let mut seen: BTreeMap<String, Span> = BTreeMap::new();
    for t in root.tables(ctx, "gates", GATE_KEYS) {
        let Some(check) = t.req_str(ctx, "check") else { continue };
        if let Some(first) = seen.get(&check.value) {
            ctx.push(duplicate("gate", &check, first.clone()));
        }
        let reserved: Vec<Sp<String>> =
            std::iter::once(check.clone()).chain(t.str_list(&mut Ctx::default(), "aliases")).collect();
        for name in reserved {
            if SKIPPABLE_KINDS.contains(&name.value.as_str()) || WAIVABLE_KINDS.contains(&name.value.as_str()) {
                ctx.push(
                    Diagnostic::new(codes::INVALID_VALUE, format!("a gate cannot be called `{}`", name.value), name.span, "reserved word")
                        .with_help(format!("`{}` names a requirement kind in `may-skip` and `waives`; use the check's full name, e.g. \"ci / {}\"", name.value, name.value)),
                );
            }
        }
        seen.insert(check.value.clone(), check.span.clone());
        let scope = match t.str(ctx, "scope") {
            None => GateScope::All,
            Some(s) => match s.value.as_str() {
                "all" => GateScope::All,
                "main-only" => GateScope::MainOnly,
                other => {
                    let mut diag = Diagnostic::new(
                        codes::INVALID_VALUE,
                        format!("unknown gate scope `{other}`"),
                        s.span,
                        "expected all or main-only",
                    );
                    diag = match did_you_mean(other, ["all", "main-only"]) {
                        Some(x) => diag.with_help(format!("did you mean `{x}`?")),
                        None => {
                            diag.with_help("scope is \"all\" (every PR and protected-branch change) or \"main-only\"")
                        }
                    };
                    ctx.push(diag);
                    GateScope::All
                }
            },
        };
        gates.push(Gate {
            check: check.value,
            aliases: t.str_list(ctx, "aliases").into_iter().map(|a| a.value).collect(),
            scope,
            emergency_may_skip: t.bool(ctx, "emergency-may-skip").unwrap_or(false),
            // Checked against categories later, once they are known.
            categories: t.str_list(&mut Ctx::default(), "categories").into_iter().map(|c| c.value).collect(),
            paths: {
                let list = t.str_list(ctx, "paths");
                path_set(ctx, &list)
            },
            description: t.str(ctx, "description").map(|d| d.value),
            span: t.span.clone(),
        });
    }
    gates
}

fn read_branch(ctx: &mut Ctx, root: &Table<'_, '_>) -> BranchRules {
    let keys = &["protected", "forbid-direct-push", "require-signed-commits", "ticket-pattern", "merge-method"];
    let mut rules = BranchRules {
        protected: vec!["main".into()],
        forbid_direct_push: true,
        require_signed_commits: false,
        ticket_pattern: None,
        merge_method: None,
    };
    let Some(t) = root.table(ctx, "branch", keys) else { return rules };
    if t.has("protected") {
        rules.protected = t.str_list(ctx, "protected").into_iter().map(|p| p.value).collect();
    }
    rules.forbid_direct_push = t.bool(ctx, "forbid-direct-push").unwrap_or(true);
    rules.require_signed_commits = t.bool(ctx, "require-signed-commits").unwrap_or(false);
    rules.ticket_pattern = t.str(ctx, "ticket-pattern").and_then(|p| regex_value(ctx, &p).map(|_| p.value));
    rules.merge_method = match t.str(ctx, "merge-method") {
        Some(m) if ["squash", "merge", "rebase"].contains(&m.value.as_str()) => Some(m.value),
        Some(m) => {
            ctx.push(
                Diagnostic::new(
                    codes::INVALID_VALUE,
                    format!("unknown merge method `{}`", m.value),
                    m.span,
                    "expected squash, merge or rebase",
                )
                .with_help("merge-method is \"squash\", \"merge\" or \"rebase\""),
            );
            None
        }
        None => None,
    };
    rules
}

fn read_description(ctx: &mut Ctx, root: &Table<'_, '_>, known: &Known) -> Vec<DescriptionRequirement> {
    let mut out = Vec::new();
    for t in root.tables(ctx, "description", &["sections", "categories", "checklists"]) {
        let sections: Vec<String> = t.str_list(ctx, "sections").into_iter().map(|s| s.value).collect();
        let checklists: Vec<String> = t.str_list(ctx, "checklists").into_iter().map(|s| s.value).collect();
        if sections.is_empty() && checklists.is_empty() {
            ctx.push(
                Diagnostic::new(
                    codes::MISSING_KEY,
                    format!("{} requires nothing", t.name),
                    t.span.clone(),
                    "no sections or checklists",
                )
                .with_help("add `sections = [\"Intent\", \"Testing\"]` or `checklists = [\"Review checklist\"]`"),
            );
        }
        out.push(DescriptionRequirement {
            sections,
            categories: categories_list(ctx, known, &t),
            checklists,
            span: t.span.clone(),
        });
    }
    out
}

fn read_co_changes(ctx: &mut Ctx, root: &Table<'_, '_>, known: &Known) -> Vec<CoChange> {
    let mut out = Vec::new();
    for t in root.tables(ctx, "co-change", &["id", "description", "when", "must-touch"]) {
        let id = t.req_str(ctx, "id");
        let description = t.req_str(ctx, "description");
        let when = match t.get("when") {
            Some(v) => condition(ctx, known, v, "`when` of a co-change"),
            None => {
                t.req_str(ctx, "when");
                None
            }
        };
        if !t.has("must-touch") {
            t.req_str(ctx, "must-touch");
        }
        let must_touch = {
            let list = t.str_list(ctx, "must-touch");
            path_set(ctx, &list)
        };
        if let (Some(id), Some(description), Some(when)) = (id, description, when) {
            out.push(CoChange { id: id.value, description: description.value, when, must_touch, span: t.span.clone() });
        }
    }
    out
}

fn read_append_only(ctx: &mut Ctx, root: &Table<'_, '_>) -> Vec<AppendOnly> {
    let mut out = Vec::new();
    for t in root.tables(ctx, "append-only", &["id", "paths", "name-pattern", "sequential"]) {
        let id = t.req_str(ctx, "id");
        if !t.has("paths") {
            t.req_str(ctx, "paths");
        }
        let paths = {
            let list = t.str_list(ctx, "paths");
            path_set(ctx, &list)
        };
        let pattern = t.str(ctx, "name-pattern");
        let compiled = pattern.as_ref().and_then(|p| regex_value(ctx, p));
        let sequential = t.bool(ctx, "sequential").unwrap_or(false);
        if sequential {
            match (&pattern, &compiled) {
                (None, _) => ctx.push(
                    Diagnostic::new(
                        codes::MISSING_KEY,
                        format!("{} is sequential but has no `name-pattern`", t.name),
                        t.key_span("sequential"),
                        "the number has to be read from the file name",
                    )
                    .with_help(
                        "add `name-pattern = \"^([0-9]{4})_.*\\\\.sql$\"`: its first capture group is the number",
                    ),
                ),
                (Some(p), Some(re)) if re.captures_len() < 2 => ctx.push(
                    Diagnostic::new(
                        codes::INVALID_VALUE,
                        format!("`name-pattern` `{}` has no capture group for the number", p.value),
                        p.span.clone(),
                        "no ( ) around the number",
                    )
                    .with_help("put the number in the first capture group, e.g. \"^([0-9]{4})_.*\\\\.sql$\""),
                ),
                _ => {}
            }
        }
        let name_pattern = compiled.and(pattern).map(|p| p.value);
        if let Some(id) = id {
            out.push(AppendOnly { id: id.value, paths, name_pattern, sequential, span: t.span.clone() });
        }
    }
    out
}

fn read_content_flags(ctx: &mut Ctx, root: &Table<'_, '_>, known: &Known, spans: &mut Spans) -> Vec<ContentFlag> {
    let mut out = Vec::new();
    for t in root.tables(ctx, "content-flags", &["id", "description", "paths", "pattern", "require", "forbidden"]) {
        let id = t.req_str(ctx, "id");
        let description = t.req_str(ctx, "description");
        let paths = {
            let list = t.str_list(ctx, "paths");
            path_set(ctx, &list)
        };
        let pattern = t.req_str(ctx, "pattern").and_then(|p| regex_value(ctx, &p).map(|_| p.value));
        let require = t.str(ctx, "require").and_then(|r| rule_ref(ctx, known, spans, &r));
        let forbidden = t.bool(ctx, "forbidden").unwrap_or(false);
        if forbidden && t.has("require") {
            ctx.push(
                Diagnostic::new(
                    codes::CONFLICTING_KEYS,
                    format!("{} is `forbidden` and also names a rule in `require`", t.name),
                    t.key_span("require"),
                    "no approval can clear a forbidden match",
                )
                .with_secondary(t.key_span("forbidden"), "forbidden here")
                .with_help("remove `require` to forbid the match outright, or `forbidden` to let an approval clear it"),
            );
        }
        if let (Some(id), Some(description), Some(pattern)) = (id, description, pattern) {
            out.push(ContentFlag {
                id: id.value,
                description: description.value,
                paths,
                pattern,
                require,
                forbidden,
                span: t.span.clone(),
            });
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Emergency and exceptions

fn kind_keyword(ctx: &mut Ctx, known: &Known, text: &Sp<String>, kinds: &[&str], key: &str) -> Option<String> {
    if kinds.contains(&text.value.as_str()) || known.gates.contains(&text.value) {
        return Some(text.value.clone());
    }
    let candidates = kinds.iter().copied().chain(known.gates.iter().map(String::as_str));
    let mut diag = Diagnostic::new(
        codes::INVALID_VALUE,
        format!("`{}` is not something `{key}` can name", text.value),
        text.span.clone(),
        "not a requirement kind or gate",
    );
    diag = match ctx.did_you_mean(&text.value, candidates) {
        Some(s) => diag.with_help(format!("did you mean `{s}`?")),
        None => diag.with_help(format!("use one of {} or a gate's check name", kinds.join(", "))),
    };
    ctx.push(diag);
    None
}

fn read_emergency(ctx: &mut Ctx, root: &Table<'_, '_>, known: &Known) -> Option<Emergency> {
    let t = root.table(
        ctx,
        "emergency",
        &["authorizers", "may-skip", "authorization-trailer", "self-authorization", "obligations"],
    )?;
    let authorizer_list = t.str_list(ctx, "authorizers");
    let authorizers = subjects(ctx, known, &authorizer_list);
    let may_skip = t
        .str_list(ctx, "may-skip")
        .iter()
        .filter_map(|s| kind_keyword(ctx, known, s, SKIPPABLE_KINDS, "may-skip"))
        .collect();
    let mut obligations = Vec::new();
    let mut seen: BTreeMap<String, Span> = BTreeMap::new();
    for o in t.tables(ctx, "obligations", &["id", "description", "within", "fulfilled-by"]) {
        let id = o.req_str(ctx, "id");
        let description = o.req_str(ctx, "description");
        let within = o.req_str(ctx, "within").and_then(|w| duration(ctx, &w));
        let follow_up = match o.str(ctx, "fulfilled-by") {
            None => false,
            Some(v) if v.value == "follow-up" || v.value == "record" => v.value == "follow-up",
            Some(v) => {
                ctx.push(
                    Diagnostic::new(
                        codes::INVALID_VALUE,
                        format!("unknown `fulfilled-by` value `{}`", v.value),
                        v.span,
                        "not a way to fulfil",
                    )
                    .with_help("`fulfilled-by` is \"follow-up\" (a later compliant change with an Emergency-Follow-Up trailer) or \"record\" (the default: `countersign record obligation-fulfilled`)"),
                );
                false
            }
        };
        if let Some(id) = &id {
            if let Some(first) = seen.get(&id.value) {
                ctx.push(duplicate("obligation", id, first.clone()));
            }
            seen.insert(id.value.clone(), id.span.clone());
        }
        if let (Some(id), Some(description), Some(within)) = (id, description, within) {
            obligations.push(Obligation { id: id.value, description: description.value, within, follow_up });
        }
    }
    Some(Emergency {
        authorizers,
        may_skip,
        authorization_trailer: t
            .str(ctx, "authorization-trailer")
            .map(|a| a.value)
            .unwrap_or_else(|| "Emergency-Authorized-By".into()),
        self_authorization: t.bool(ctx, "self-authorization").unwrap_or(false),
        obligations,
        span: t.span.clone(),
    })
}

fn read_exceptions(ctx: &mut Ctx, root: &Table<'_, '_>, known: &Known) -> Vec<Exception> {
    let mut out = Vec::new();
    let mut seen: BTreeMap<String, Span> = BTreeMap::new();
    let keys =
        &["id", "people", "categories", "waives", "justification", "approved-by", "review-by", "until-group-exceeds"];
    for t in root.tables(ctx, "exceptions", keys) {
        let id = t.req_str(ctx, "id");
        if let Some(id) = &id {
            if let Some(first) = seen.get(&id.value) {
                ctx.push(duplicate("exception", id, first.clone()));
            }
            seen.insert(id.value.clone(), id.span.clone());
        }
        let people = t.str_list(ctx, "people").iter().filter_map(|p| person_ref(ctx, known, p)).collect();
        let categories = categories_list(ctx, known, &t);
        if !t.has("waives") {
            t.req_str(ctx, "waives");
        }
        let waives = t
            .str_list(ctx, "waives")
            .iter()
            .filter_map(|w| kind_keyword(ctx, known, w, WAIVABLE_KINDS, "waives"))
            .collect();
        let justification = t.req_str(ctx, "justification");
        let approved_by = t.str_list(ctx, "approved-by").iter().filter_map(|p| person_ref(ctx, known, p)).collect();
        let review_by = t.date(ctx, "review-by").map(|d| d.value);
        let until = t.table(ctx, "until-group-exceeds", &["group", "members"]).and_then(|u| {
            let group = u.req_str(ctx, "group")?;
            let name = Sp::new(group.value.trim_start_matches('@').to_string(), group.span.clone());
            if !known.groups.contains(&name.value) {
                unknown(ctx, codes::UNKNOWN_GROUP, "group", &group, &known.groups, "[groups]");
                return None;
            }
            if !u.has("members") {
                u.req_str(ctx, "members");
            }
            let members = u.int(ctx, "members")?;
            if members.value < 0 {
                ctx.push(Diagnostic::new(
                    codes::INVALID_VALUE,
                    "a member count cannot be negative",
                    members.span,
                    "negative",
                ));
                return None;
            }
            Some((name.value, members.value as usize))
        });
        if let (Some(id), Some(justification)) = (id, justification) {
            out.push(Exception {
                id: id.value,
                people,
                categories,
                waives,
                justification: justification.value,
                approved_by,
                review_by,
                until_group_exceeds: until,
                span: t.span.clone(),
            });
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Deploy, console, evidence, documentation, codeowners, metadata

fn read_deploy(ctx: &mut Ctx, root: &Table<'_, '_>, known: &Known) -> Option<DeployRules> {
    let t = root.table(
        ctx,
        "deploy",
        &[
            "environments",
            "same-artifact",
            "production-path",
            "production-manual",
            "stages",
            "branches",
            "clean-worktree",
            "verify",
            "windows",
            "freezes",
        ],
    )?;
    let environments: Vec<String> = t.str_list(ctx, "environments").into_iter().map(|e| e.value).collect();
    let known_environment = |ctx: &mut Ctx, name: &Sp<String>| -> Option<String> {
        match environments.iter().find(|e| e.eq_ignore_ascii_case(&name.value)) {
            Some(e) => Some(e.clone()),
            None => {
                let declared = environments.iter().cloned().collect();
                unknown(ctx, codes::INVALID_VALUE, "environment", name, &declared, "[deploy] environments");
                None
            }
        }
    };
    let mut branches = BTreeMap::new();
    if let Some(b) = t.get("branches") {
        match b.get_ref() {
            DeValue::Table(table) => {
                for (key, value) in table.iter() {
                    let key = Sp::new(key.get_ref().to_string(), key.span());
                    let branch = match value.get_ref() {
                        DeValue::String(s) => s.to_string(),
                        _ => {
                            wrong_type(ctx, &format!("branches.{}", key.value), "text", value);
                            continue;
                        }
                    };
                    if let Some(env) = known_environment(ctx, &key) {
                        branches.insert(env, branch);
                    }
                }
            }
            _ => wrong_type(ctx, "branches", "a table", b),
        }
    }
    let mut windows = Vec::new();
    for text in t.str_list(ctx, "windows") {
        match units::parse_window(&text.value) {
            Ok(w) => windows.push(w),
            Err(why) => ctx.push(
                Diagnostic::new(
                    codes::INVALID_VALUE,
                    format!("invalid deploy window `{}`", text.value),
                    text.span,
                    "not a window",
                )
                .with_help(format!("{why}; for example \"Mon-Fri 09:00-17:00\" (UTC)")),
            ),
        }
    }
    let mut freezes = Vec::new();
    for f in t.tables(ctx, "freezes", &["from", "until", "owner", "reason", "environments"]) {
        let from = f.req_date(ctx, "from");
        let until = f.req_date(ctx, "until");
        let owner = f.req_str(ctx, "owner").and_then(|o| person_ref(ctx, known, &o));
        let reason = f.req_str(ctx, "reason");
        let envs: Vec<String> =
            f.str_list(ctx, "environments").iter().filter_map(|e| known_environment(ctx, e)).collect();
        if let (Some(from), Some(until)) = (&from, &until)
            && until.value < from.value
        {
            ctx.push(
                Diagnostic::new(
                    codes::INVALID_VALUE,
                    "a freeze cannot end before it starts",
                    until.span.clone(),
                    "before `from`",
                )
                .with_help(format!("`until` is the last frozen day, on or after {}", from.value)),
            );
            continue;
        }
        if let (Some(from), Some(until), Some(owner), Some(reason)) = (from, until, owner, reason) {
            freezes.push(Freeze {
                from: from.value,
                until: until.value,
                owner,
                reason: reason.value,
                environments: envs,
                span: f.span.clone(),
            });
        }
    }
    Some(DeployRules {
        same_artifact: t.bool(ctx, "same-artifact").unwrap_or(false),
        production_path: t.str(ctx, "production-path").map(|p| p.value),
        production_manual: t.bool(ctx, "production-manual").unwrap_or(false),
        stages: t.str_list(ctx, "stages").into_iter().map(|s| s.value).collect(),
        branches,
        clean_worktree: t.bool(ctx, "clean-worktree").unwrap_or(false),
        verify: t.bool(ctx, "verify").unwrap_or(false),
        windows,
        freezes,
        environments,
        span: t.span.clone(),
    })
}

fn read_console(ctx: &mut Ctx, root: &Table<'_, '_>) -> Option<ConsoleRules> {
    let t = root.table(ctx, "console", &["providers", "required-fields"])?;
    let required_fields = if t.has("required-fields") {
        t.str_list(ctx, "required-fields").into_iter().map(|f| f.value).collect()
    } else {
        ["who", "when", "provider", "what", "why"].iter().map(|s| s.to_string()).collect()
    };
    Some(ConsoleRules {
        providers: t.str_list(ctx, "providers").into_iter().map(|p| p.value).collect(),
        required_fields,
        span: t.span.clone(),
    })
}

fn read_metrics(ctx: &mut Ctx, root: &Table<'_, '_>) -> Option<MetricRules> {
    let t = root.table(ctx, "metrics", &["incidents-caused-by-change-max"])?;
    let incidents_caused_by_change_max = t.str(ctx, "incidents-caused-by-change-max").and_then(|text| {
        let parsed = text.value.trim().strip_suffix('%').and_then(|n| n.trim().parse::<f64>().ok());
        match parsed {
            Some(p) if (0.0..=100.0).contains(&p) => Some(p / 100.0),
            _ => {
                ctx.push(
                    Diagnostic::new(
                        codes::INVALID_VALUE,
                        format!("`incidents-caused-by-change-max` is not a percentage: `{}`", text.value),
                        text.span.clone(),
                        "expected a percentage",
                    )
                    .with_help("write a share between 0% and 100%, e.g. \"3%\""),
                );
                None
            }
        }
    });
    Some(MetricRules { incidents_caused_by_change_max, span: t.span.clone() })
}

fn read_evidence(ctx: &mut Ctx, root: &Table<'_, '_>) -> EvidenceSettings {
    let mut settings = EvidenceSettings {
        trailers_complete: false,
        review_trailers: ["Reviewed-by", "Acked-by", "Approved-by"].iter().map(|s| s.to_string()).collect(),
        ci_trailers: ["TryBot-Result", "LUCI-TryBot-Result"].iter().map(|s| s.to_string()).collect(),
        attested_approvals: AttestedApprovals::default(),
    };
    let Some(t) =
        root.table(ctx, "evidence", &["trailers-complete", "review-trailers", "ci-trailers", "attested-approvals"])
    else {
        return settings;
    };
    if let Some(text) = t.str(ctx, "attested-approvals") {
        match AttestedApprovals::from_keyword(text.value.trim()) {
            Some(setting) => settings.attested_approvals = setting,
            None => {
                let mut diag = Diagnostic::new(
                    codes::INVALID_VALUE,
                    format!("unknown `attested-approvals` setting `{}`", text.value),
                    text.span.clone(),
                    "not a setting",
                );
                diag = match did_you_mean(&text.value, AttestedApprovals::KEYWORDS.iter().copied()) {
                    Some(s) => diag.with_help(format!("did you mean `{s}`?")),
                    None => diag.with_help(format!(
                        "`attested-approvals` is one of: {}",
                        AttestedApprovals::KEYWORDS.join(", ")
                    )),
                };
                ctx.push(diag);
            }
        }
    }
    settings.trailers_complete = t.bool(ctx, "trailers-complete").unwrap_or(false);
    if t.has("review-trailers") {
        settings.review_trailers = t.str_list(ctx, "review-trailers").into_iter().map(|s| s.value).collect();
    }
    if t.has("ci-trailers") {
        settings.ci_trailers = t.str_list(ctx, "ci-trailers").into_iter().map(|s| s.value).collect();
    }
    settings
}

fn read_docs(ctx: &mut Ctx, root: &Table<'_, '_>) -> Documentation {
    let mut docs = Documentation::default();
    if let Some(t) = root.table(ctx, "process", &["lifecycle", "rollback-triggers"]) {
        docs.lifecycle = t.str_list(ctx, "lifecycle").into_iter().map(|s| s.value).collect();
        docs.rollback_triggers = t.str_list(ctx, "rollback-triggers").into_iter().map(|s| s.value).collect();
    }
    for t in root.tables(ctx, "rollback", &["change-type", "method", "target"]) {
        let change_type = t.req_str(ctx, "change-type");
        let method = t.req_str(ctx, "method");
        let target = t.str(ctx, "target").and_then(|d| duration(ctx, &d));
        if let (Some(change_type), Some(method)) = (change_type, method) {
            docs.rollback.push(RollbackMethod { change_type: change_type.value, method: method.value, target });
        }
    }
    for t in root.tables(ctx, "retention", &["record", "location", "keep"]) {
        let record = t.req_str(ctx, "record");
        let days = match t.req_str(ctx, "keep") {
            Some(keep) => match units::parse_retention(&keep.value) {
                Some(days) => Some(days),
                None => {
                    ctx.push(
                        Diagnostic::new(
                            codes::BAD_DURATION,
                            format!("invalid retention period `{}`", keep.value),
                            keep.span,
                            "not a period",
                        )
                        .with_help("write \"indefinite\", \"90 days\" or \"1 year\""),
                    );
                    None
                }
            },
            None => None,
        };
        if let (Some(record), Some(days)) = (record, days) {
            docs.retention.push(Retention {
                record: record.value,
                location: t.str(ctx, "location").map(|l| l.value),
                days,
            });
        }
    }
    for t in root.tables(ctx, "collectors", &["name", "cadence", "controls"]) {
        let name = t.req_str(ctx, "name");
        let cadence = t.req_str(ctx, "cadence");
        if let (Some(name), Some(cadence)) = (name, cadence) {
            docs.collectors.push(Collector {
                name: name.value,
                cadence: cadence.value,
                controls: t.str_list(ctx, "controls").into_iter().map(|c| c.value).collect(),
            });
        }
    }
    for t in root.tables(ctx, "environments", &["name", "trigger", "approval"]) {
        let name = t.req_str(ctx, "name");
        let trigger = t.req_str(ctx, "trigger");
        if let (Some(name), Some(trigger)) = (name, trigger) {
            docs.environments.push(EnvironmentDoc {
                name: name.value,
                trigger: trigger.value,
                approval: t.str(ctx, "approval").map(|a| a.value).unwrap_or_else(|| "automatic".into()),
            });
        }
    }
    for t in root.tables(ctx, "notes", &["heading", "text", "requirements"]) {
        let heading = t.req_str(ctx, "heading");
        let text = t.req_str(ctx, "text");
        if let (Some(heading), Some(text)) = (heading, text) {
            docs.notes.push(Note {
                heading: heading.value,
                text: text.value,
                requirements: t.str_list(ctx, "requirements").into_iter().map(|r| r.value).collect(),
            });
        }
    }
    docs
}

fn read_codeowners(ctx: &mut Ctx, root: &Table<'_, '_>) -> Option<CodeownersSettings> {
    let t = root.table(ctx, "codeowners", &["path", "sensitive", "require-review"])?;
    let path = t.str(ctx, "path").map(|p| p.value);
    let files = match &path {
        Some(p) => vec![p.clone()],
        None => crate::codeowners::DEFAULT_LOCATIONS.iter().map(|s| s.to_string()).collect(),
    };
    Some(CodeownersSettings {
        path,
        files,
        sensitive: t.bool(ctx, "sensitive").unwrap_or(false),
        require_review: t.bool(ctx, "require-review").unwrap_or(false),
        span: t.span.clone(),
    })
}

fn read_meta(ctx: &mut Ctx, root: &Table<'_, '_>, known: &Known, spans: &mut Spans) -> Meta {
    let placeholder = Meta {
        organization: String::new(),
        title: "Change Management Policy".into(),
        document_id: None,
        owner: String::new(),
        version: "1".into(),
        effective: placeholder_date(),
        last_review: None,
        review_every: Cadence { months: 12 },
        next_review: placeholder_date(),
        review_triggers: Vec::new(),
        purpose: None,
        scope: Vec::new(),
        history: Vec::new(),
        controls: Vec::new(),
        document_approvers: Vec::new(),
    };
    let Some(t) = root.table(ctx, "policy", POLICY_KEYS) else {
        ctx.push(
            Diagnostic::new(codes::MISSING_KEY, "the policy has no [policy] table", 0..0, "expected [policy] here")
                .with_help("start the file with [policy], giving at least `organization` and `effective`"),
        );
        return placeholder;
    };
    let organization = t.req_str(ctx, "organization").map(|o| o.value).unwrap_or_default();
    let effective = t.req_date(ctx, "effective");
    let last_review = t.date(ctx, "last-review");
    let review_every = match t.str(ctx, "review-every") {
        None => Cadence { months: 12 },
        Some(text) => units::parse_cadence(&text.value).unwrap_or_else(|| {
            ctx.push(
                Diagnostic::new(
                    codes::BAD_CADENCE,
                    format!("invalid review cadence `{}`", text.value),
                    text.span.clone(),
                    "not a cadence",
                )
                .with_help("write \"annual\", \"semi-annual\", \"quarterly\", \"6 months\" or \"1 year\""),
            );
            Cadence { months: 12 }
        }),
    };
    let basis = last_review.clone().or(effective.clone());
    spans.review_basis = basis.as_ref().map(|b| b.span.clone()).unwrap_or_default();
    let next_review = basis
        .and_then(|b| b.value.checked_add(jiff::Span::new().months(review_every.months as i64)).ok())
        .unwrap_or_else(placeholder_date);

    let mut history = Vec::new();
    for h in t.tables(ctx, "history", &["version", "date", "author", "reason"]) {
        let version = h.req_str(ctx, "version");
        let date = h.req_date(ctx, "date");
        let author = h.req_str(ctx, "author");
        let reason = h.req_str(ctx, "reason");
        if let (Some(version), Some(date), Some(author), Some(reason)) = (version, date, author, reason) {
            history.push(HistoryEntry {
                version: version.value,
                date: date.value,
                author: author.value,
                reason: reason.value,
            });
        }
    }
    let mut controls = Vec::new();
    for c in t.tables(ctx, "controls", &["framework", "id", "description", "requirements"]) {
        let framework = c.req_str(ctx, "framework");
        let id = c.req_str(ctx, "id");
        let kinds: Vec<&str> = WAIVABLE_KINDS.iter().chain(CONTROL_KINDS).copied().collect();
        let requirements = c
            .str_list(ctx, "requirements")
            .iter()
            .filter_map(|w| kind_keyword(ctx, known, w, &kinds, "requirements"))
            .collect();
        if let (Some(framework), Some(id)) = (framework, id) {
            controls.push(ControlMapping {
                framework: framework.value,
                id: id.value,
                description: c.str(ctx, "description").map(|d| d.value),
                requirements,
            });
        }
    }
    let approver_list = t.str_list(ctx, "document-approvers");
    let document_approvers = subjects(ctx, known, &approver_list);
    Meta {
        title: t.str(ctx, "title").map(|s| s.value).unwrap_or(placeholder.title),
        document_id: t.str(ctx, "document-id").map(|s| s.value),
        owner: t.str(ctx, "owner").map(|s| s.value).unwrap_or_else(|| organization.clone()),
        organization,
        version: t.str(ctx, "version").map(|s| s.value).unwrap_or(placeholder.version),
        effective: effective.map(|e| e.value).unwrap_or_else(placeholder_date),
        last_review: last_review.map(|l| l.value),
        review_every,
        next_review,
        review_triggers: t.str_list(ctx, "review-triggers").into_iter().map(|s| s.value).collect(),
        purpose: t.str(ctx, "purpose").map(|s| s.value),
        scope: t.str_list(ctx, "scope").into_iter().map(|s| s.value).collect(),
        history,
        controls,
        document_approvers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The work the graph walks did while validating `text`.
    fn graph_steps(text: &str) -> usize {
        let (root, errors) = DeTable::parse_recoverable(text);
        assert!(errors.is_empty(), "{errors:?}");
        let mut ctx = Ctx::default();
        let (_, spans) = build(&mut ctx, root.get_ref(), root.span());
        spans.graph_steps
    }

    #[test]
    fn x01_checking_a_rule_diamond_is_linear_in_its_size() {
        // Each rule refers to both rules of the next layer: the paths double with every
        // layer, the work grows by six steps (two rules, four references).
        for layers in [10usize, 20, 40, 80] {
            let mut text = "[policy]\norganization = \"A\"\neffective = 2026-01-01\n".to_string();
            for layer in 0..layers {
                for side in ["a", "b"] {
                    let body = if layer + 1 == layers {
                        "approvals = 1".to_string()
                    } else {
                        format!("all = [\"l{0}a\", \"l{0}b\"]", layer + 1)
                    };
                    text.push_str(&format!("[rules.l{layer}{side}]\n{body}\n"));
                }
            }
            let rules = 2 * layers;
            let references = 4 * (layers - 1);
            assert_eq!(graph_steps(&text), rules + references, "{layers} layers");
        }
    }

    #[test]
    fn x01_checking_a_group_chain_is_linear_in_its_length() {
        for length in [100usize, 1_000, 10_000] {
            let mut text =
                "[policy]\norganization = \"A\"\neffective = 2026-01-01\n[people.ada]\n[groups]\n".to_string();
            for i in 0..length {
                text.push_str(&format!("g{i} = [\"ada\", \"@g{}\"]\n", i + 1));
            }
            text.push_str(&format!("g{length} = [\"ada\"]\n"));
            assert_eq!(graph_steps(&text), (length + 1) + length, "{length} groups");
        }
    }
}
