//! Resolving identities that evidence sources report to the people a policy names.
//!
//! Built once per policy, so that auditing fifty thousand changes does hash lookups rather
//! than scans. Only emails and logins identify someone: emails compare case-insensitively;
//! a login written with its forge (`github:hgibbs`) matches that forge's login or a login
//! the policy gives without a forge, and a bare login (`hgibbs`, as trailers and recorded
//! evidence write it) matches the login on any forge or a person id. A display name never
//! identifies anyone: anyone can set their git name to "Liam Howell", and two people may
//! share a name.

use std::collections::HashMap;

use countersign_policy::model::Policy;

use crate::change::Identity;

#[derive(Debug, Clone, Default)]
pub struct Directory {
    by_email: HashMap<String, String>,
    /// `forge:login` as the policy declares it.
    by_qualified_login: HashMap<String, String>,
    /// Logins the policy declares without a forge: they match the login on any forge.
    by_unqualified_login: HashMap<String, String>,
    /// Every declared login without its forge, for bare queries.
    by_any_login: HashMap<String, String>,
    /// Person ids, for bare names in trailers and recorded evidence (`Reviewed-by: holly`).
    by_id: HashMap<String, String>,
}

/// Who an identity is, as far as the evidence can tell: the person it resolves to, and the
/// email and login it carries (lowercased; the login without its forge).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub person: Option<String>,
    pub email: Option<String>,
    pub login: Option<String>,
}

impl Actor {
    /// Whether the two identities are the same actor: the same person when both resolve,
    /// otherwise a shared email or a shared login. A login shared across forges counts as
    /// the same actor, which errs towards "not independent".
    pub fn same(&self, other: &Actor) -> bool {
        if let (Some(a), Some(b)) = (&self.person, &other.person) {
            return a == b;
        }
        (self.email.is_some() && self.email == other.email) || (self.login.is_some() && self.login == other.login)
    }

    /// Whether the identity carries anything that identifies someone (an email or a login).
    /// A bare display name does not, so it can never be shown to be someone other than
    /// the author.
    pub fn identified(&self) -> bool {
        self.person.is_some() || self.email.is_some() || self.login.is_some()
    }
}

fn split_login(login: &str) -> (Option<&str>, &str) {
    match login.split_once(':') {
        Some((forge, name)) => (Some(forge), name),
        None => (None, login),
    }
}

impl Directory {
    pub fn new(policy: &Policy) -> Self {
        let mut dir = Directory::default();
        for person in policy.people.values() {
            for email in &person.emails {
                dir.by_email.insert(email.trim().to_lowercase(), person.id.clone());
            }
            for login in &person.logins {
                let login = login.trim().trim_start_matches('@').to_lowercase();
                let (forge, name) = split_login(&login);
                match forge {
                    Some(_) => dir.by_qualified_login.insert(login.clone(), person.id.clone()),
                    None => dir.by_unqualified_login.insert(name.to_string(), person.id.clone()),
                };
                dir.by_any_login.entry(name.to_string()).or_insert_with(|| person.id.clone());
            }
            dir.by_id.insert(person.id.to_lowercase(), person.id.clone());
        }
        dir
    }

    /// The person id an identity belongs to, if the policy knows them, by email or login.
    pub fn resolve(&self, identity: &Identity) -> Option<&str> {
        if let Some(email) = &identity.email {
            if let Some(id) = self.by_email.get(&email.trim().to_lowercase()) {
                return Some(id);
            }
        }
        let login = identity.login.as_ref()?.trim().trim_start_matches('@').to_lowercase();
        match split_login(&login) {
            (Some(_), name) => self.by_qualified_login.get(&login).or_else(|| self.by_unqualified_login.get(name)),
            (None, name) => self.by_any_login.get(name).or_else(|| self.by_id.get(name)),
        }
        .map(String::as_str)
    }

    /// The actor behind an identity, for telling the author apart from everyone else.
    pub fn actor(&self, identity: &Identity) -> Actor {
        let clean = |s: &String| Some(s.trim().to_lowercase()).filter(|s| !s.is_empty());
        Actor {
            person: self.resolve(identity).map(str::to_string),
            email: identity.email.as_ref().and_then(clean),
            login: identity.login.as_ref().and_then(|l| {
                let l = l.trim().trim_start_matches('@').to_lowercase();
                let bare = split_login(&l).1.to_string();
                Some(bare).filter(|b| !b.is_empty())
            }),
        }
    }

    /// A stable key for "the same actor": the person id when known, otherwise the email or
    /// login as reported. Two unresolved identities with the same email are the same actor.
    pub fn actor_key(&self, identity: &Identity) -> String {
        match self.resolve(identity) {
            Some(id) => format!("person:{id}"),
            None => identity
                .email
                .as_ref()
                .map(|e| format!("email:{}", e.to_lowercase()))
                .or_else(|| identity.login.as_ref().map(|l| format!("login:{}", l.to_lowercase())))
                .or_else(|| identity.name.as_ref().map(|n| format!("name:{}", n.to_lowercase())))
                .unwrap_or_else(|| "unknown".to_string()),
        }
    }
}

/// Display an identity the way a report should: the person id when resolved, else what
/// the source said.
pub fn display_identity(dir: &Directory, identity: &Identity) -> String {
    if let Some(id) = dir.resolve(identity) {
        return id.to_string();
    }
    match (&identity.name, &identity.email, &identity.login) {
        (_, _, Some(login)) => format!("{login} (not in policy)"),
        (Some(name), Some(email), None) => format!("{name} <{email}> (not in policy)"),
        (None, Some(email), None) => format!("<{email}> (not in policy)"),
        (Some(name), None, None) => format!("{name} (not in policy)"),
        (None, None, None) => "unknown".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        let text = "[policy]\norganization = \"Acme\"\neffective = 2026-01-01\n\n[people.holly]\nname = \"Holly Gibbs\"\nemails = \"holly@send.tax\"\nlogins = \"github:hgibbs\"\n\n[people.liam]\nname = \"Liam Howell\"\nemails = \"liam@send.tax\"\nlogins = \"lhowell\"\n";
        countersign_policy::parse("countersign.toml", text).expect("policy").policy
    }

    fn id(name: Option<&str>, email: Option<&str>, login: Option<&str>) -> Identity {
        Identity { name: name.map(Into::into), email: email.map(Into::into), login: login.map(Into::into) }
    }

    #[test]
    fn s000_16_emails_and_logins_resolve_display_names_do_not() {
        let dir = Directory::new(&policy());
        assert_eq!(dir.resolve(&id(None, Some("HOLLY@send.tax"), None)), Some("holly"));
        assert_eq!(dir.resolve(&id(None, None, Some("github:hgibbs"))), Some("holly"));
        assert_eq!(dir.resolve(&id(None, None, Some("@hgibbs"))), Some("holly"), "a bare login matches any forge");
        assert_eq!(dir.resolve(&id(None, None, Some("gitlab:hgibbs"))), None, "Holly's login is a GitHub login");
        assert_eq!(dir.resolve(&id(None, None, Some("gitlab:lhowell"))), Some("liam"), "declared without a forge");
        assert_eq!(dir.resolve(&id(None, None, Some("holly"))), Some("holly"), "a bare person id");
        assert_eq!(dir.resolve(&id(None, None, Some("github:holly"))), None, "a GitHub account is not a person id");
        assert_eq!(dir.resolve(&id(Some("Liam Howell"), None, None)), None, "a display name identifies nobody");
        assert_eq!(dir.resolve(&id(Some("Liam Howell"), Some("liam@evil.example"), None)), None);
    }

    #[test]
    fn same_actor_by_person_email_or_login() {
        let dir = Directory::new(&policy());
        let holly_git = dir.actor(&id(Some("Holly Gibbs"), Some("holly@send.tax"), None));
        let holly_forge = dir.actor(&id(None, None, Some("github:hgibbs")));
        assert!(holly_git.same(&holly_forge));
        let liam = dir.actor(&id(Some("Holly Gibbs"), Some("liam@send.tax"), None));
        assert!(!holly_git.same(&liam), "a display name does not make Liam into Holly");
        let stranger = dir.actor(&id(None, Some("dev@outside.example"), Some("github:dev")));
        assert!(stranger.same(&dir.actor(&id(None, None, Some("dev")))), "same login, unresolved");
        assert!(stranger.same(&dir.actor(&id(None, Some("DEV@outside.example"), None))), "same email, unresolved");
        let name_only = dir.actor(&id(Some("Someone"), None, None));
        assert!(!name_only.identified());
        assert!(!name_only.same(&dir.actor(&id(Some("Someone"), None, None))));
    }
}
