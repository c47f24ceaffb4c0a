//! Resolving identities that evidence sources report to the people a policy names.
//!
//! Built once per policy, so that auditing fifty thousand changes does hash lookups rather
//! than scans. Emails compare case-insensitively; logins match with or without a forge
//! prefix (`github:hgibbs` and `hgibbs`); a display name is the last resort.

use std::collections::HashMap;

use countersign_policy::model::Policy;

use crate::change::Identity;

#[derive(Debug, Clone, Default)]
pub struct Directory {
    by_email: HashMap<String, String>,
    by_login: HashMap<String, String>,
    by_name: HashMap<String, String>,
}

impl Directory {
    pub fn new(policy: &Policy) -> Self {
        let mut dir = Directory::default();
        for person in policy.people.values() {
            for email in &person.emails {
                dir.by_email.insert(email.to_lowercase(), person.id.clone());
            }
            for login in &person.logins {
                let login = login.to_lowercase();
                if let Some((_, bare)) = login.split_once(':') {
                    dir.by_login.entry(bare.to_string()).or_insert_with(|| person.id.clone());
                }
                dir.by_login.insert(login, person.id.clone());
            }
            dir.by_login.entry(person.id.to_lowercase()).or_insert_with(|| person.id.clone());
            dir.by_name.insert(person.name.to_lowercase(), person.id.clone());
        }
        dir
    }

    /// The person id an identity belongs to, if the policy knows them.
    pub fn resolve(&self, identity: &Identity) -> Option<&str> {
        if let Some(email) = &identity.email {
            if let Some(id) = self.by_email.get(&email.to_lowercase()) {
                return Some(id);
            }
        }
        if let Some(login) = &identity.login {
            let login = login.trim_start_matches('@').to_lowercase();
            if let Some(id) = self.by_login.get(&login) {
                return Some(id);
            }
            if let Some((_, bare)) = login.split_once(':') {
                if let Some(id) = self.by_login.get(bare) {
                    return Some(id);
                }
            }
        }
        if let Some(name) = &identity.name {
            let name = name.to_lowercase();
            if let Some(id) = self.by_name.get(&name).or_else(|| self.by_login.get(&name)) {
                return Some(id);
            }
        }
        None
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
