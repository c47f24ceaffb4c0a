//! Lookups on a validated policy that the engine and the renderers share.

use std::collections::BTreeSet;

use crate::limits;
use crate::model::*;

impl Policy {
    /// The area that owns `path`: the last area whose patterns match (CODEOWNERS
    /// semantics, owners are never merged across areas).
    pub fn area_for(&self, path: &str) -> Option<&Area> {
        self.areas.iter().rev().find(|area| area.paths.matches(path))
    }

    /// Every area any of `paths` falls in, resolving each path as an owner lookup (its
    /// last matching area). In file order of the areas, without duplicates.
    pub fn areas_touched<'p>(&self, paths: impl IntoIterator<Item = &'p str>) -> Vec<&Area> {
        let mut hit = BTreeSet::new();
        for path in paths {
            if let Some(index) = self.areas.iter().rposition(|area| area.paths.matches(path)) {
                hit.insert(index);
            }
        }
        hit.into_iter().map(|i| &self.areas[i]).collect()
    }

    /// The people a subject stands for. `Anyone` yields every declared person (though
    /// anyone at all satisfies it, see [`Policy::is_member`]); `External` yields nobody.
    pub fn members(&self, subject: &Subject) -> Vec<&Person> {
        match subject {
            Subject::Person(id) => self.people.get(id).into_iter().collect(),
            Subject::Group(name) => self
                .groups
                .get(name)
                .map(|g| g.members.iter().filter_map(|id| self.people.get(id)).collect())
                .unwrap_or_default(),
            Subject::Anyone => self.people.values().collect(),
            Subject::External(_) => Vec::new(),
        }
    }

    /// The person ids of several subjects, deduplicated and sorted. `None` when one of
    /// them is `Anyone` (the set is unbounded).
    pub fn member_ids(&self, subjects: &[Subject]) -> Option<BTreeSet<&str>> {
        let mut ids = BTreeSet::new();
        for subject in subjects {
            if *subject == Subject::Anyone {
                return None;
            }
            ids.extend(self.members(subject).into_iter().map(|p| p.id.as_str()));
        }
        Some(ids)
    }

    /// Whether the person with this id is covered by the subject.
    pub fn is_member(&self, subject: &Subject, person_id: &str) -> bool {
        match subject {
            Subject::Anyone => true,
            Subject::Person(id) => id == person_id,
            // Members are sorted (see `Group::members`).
            Subject::Group(name) => {
                self.groups.get(name).is_some_and(|g| g.members.binary_search_by(|m| m.as_str().cmp(person_id)).is_ok())
            }
            Subject::External(_) => false,
        }
    }

    /// Whether the person with this id is covered by one of the subjects: the membership
    /// test of [`Policy::member_ids`] without building the set.
    pub fn covers(&self, subjects: &[Subject], person_id: &str) -> bool {
        subjects.iter().any(|s| self.is_member(s, person_id))
    }

    /// The person with this email, compared case-insensitively.
    pub fn person_by_email(&self, email: &str) -> Option<&Person> {
        let email = email.trim();
        self.people.values().find(|p| p.emails.iter().any(|e| e.eq_ignore_ascii_case(email)))
    }

    /// The person with this forge login. `github:hgibbs` matches a login written as
    /// `github:hgibbs` or bare `hgibbs`; a bare query matches any forge. Logins compare
    /// case-insensitively, as forges treat them.
    pub fn person_by_login(&self, login: &str) -> Option<&Person> {
        let (forge, name) = split_login(login.trim().trim_start_matches('@'));
        self.people.values().find(|p| {
            p.logins.iter().any(|candidate| {
                let (candidate_forge, candidate_name) = split_login(candidate);
                candidate_name.eq_ignore_ascii_case(name)
                    && match (forge, candidate_forge) {
                        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                        _ => true,
                    }
            })
        })
    }

    /// The person with this display name or id, compared case-insensitively.
    pub fn person_by_name(&self, name: &str) -> Option<&Person> {
        let name = name.trim();
        self.people.get(name).or_else(|| self.people.values().find(|p| p.name.eq_ignore_ascii_case(name)))
    }

    pub fn category(&self, id: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.id == id)
    }

    pub fn risk(&self, id: &str) -> Option<&Risk> {
        self.risks.iter().find(|r| r.id == id)
    }

    pub fn rule(&self, name: &str) -> Option<&ApprovalRule> {
        self.rules.get(name)
    }

    pub fn gate(&self, check: &str) -> Option<&Gate> {
        self.gates.iter().find(|g| g.check == check || g.aliases.iter().any(|a| a == check))
    }

    /// A rule with every `Ref` replaced by the rule it names. Validation rejects cycles and
    /// rules that nest deeper than [`limits::MAX_NESTING`] or have more than
    /// [`limits::MAX_RULE_PARTS`] parts written out; for a policy built by hand, the same
    /// limits stop the expansion, leaving the remaining references in place.
    pub fn resolve_rule(&self, rule: &ApprovalRule) -> ApprovalRule {
        let mut budget = limits::MAX_RULE_PARTS;
        self.resolve_rule_within(rule, 0, &mut budget)
    }

    fn resolve_rule_within(&self, rule: &ApprovalRule, depth: usize, budget: &mut usize) -> ApprovalRule {
        if depth >= limits::MAX_NESTING || *budget == 0 {
            return rule.clone();
        }
        *budget -= 1;
        match rule {
            ApprovalRule::Ref(name) => match self.rules.get(name) {
                Some(target) => self.resolve_rule_within(target, depth + 1, budget),
                None => rule.clone(),
            },
            ApprovalRule::All(inner) => ApprovalRule::All(self.resolve_parts(inner, depth, budget)),
            ApprovalRule::AllDistinct(inner) => ApprovalRule::AllDistinct(self.resolve_parts(inner, depth, budget)),
            ApprovalRule::Any(inner) => ApprovalRule::Any(self.resolve_parts(inner, depth, budget)),
            other => other.clone(),
        }
    }

    fn resolve_parts(&self, parts: &[ApprovalRule], depth: usize, budget: &mut usize) -> Vec<ApprovalRule> {
        parts.iter().map(|p| self.resolve_rule_within(p, depth + 1, budget)).collect()
    }

    /// Whether an exception's group-size end condition is met today.
    pub fn exception_group_exceeded(&self, exception: &Exception) -> bool {
        match &exception.until_group_exceeds {
            Some((group, limit)) => self.groups.get(group).is_some_and(|g| g.members.len() > *limit),
            None => false,
        }
    }
}

fn split_login(login: &str) -> (Option<&str>, &str) {
    match login.split_once(':') {
        Some((forge, name)) => (Some(forge), name),
        None => (None, login),
    }
}
