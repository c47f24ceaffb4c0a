//! API tokens: 256 random bits, shown once, kept only as their SHA-256. Each carries a role
//! and the person it acts as.

use crate::evidence::sha256_hex;

/// What a token may do, each role including the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Read changes, evaluations, the log and policy versions.
    Viewer,
    /// Also record evidence other than approvals (checks, deploys, …), in the token's name.
    Recorder,
    /// Also approve changes, as the token's person (never their own).
    Approver,
    /// Also read deliveries and manage the server.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Recorder, Role::Approver, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Recorder => "recorder",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A token just created: `token` is shown to its holder once and never stored.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub token_id: String,
    pub token: String,
}

/// Who a request's token says it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub token_id: String,
    pub role: Role,
    pub person: String,
}

/// A fresh token: `cs_<id>_<secret>`, 8 and 64 hex digits.
pub(crate) fn generate() -> Result<(NewToken, String), String> {
    let mut bytes = [0u8; 36];
    getrandom::fill(&mut bytes).map_err(|e| e.to_string())?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let (id, secret) = hex.split_at(8);
    let token = format!("cs_{id}_{secret}");
    let hash = sha256_hex(token.as_bytes());
    Ok((NewToken { token_id: id.to_owned(), token }, hash))
}

/// The public id of a token, if it has a token's shape.
pub(crate) fn token_id(token: &str) -> Option<&str> {
    let rest = token.strip_prefix("cs_")?;
    let (id, secret) = rest.split_once('_')?;
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(id, 8) && hex(secret, 64)).then_some(id)
}

/// Fill `bytes` from the operating system's random source.
pub fn random_bytes(bytes: &mut [u8]) -> Result<(), String> {
    getrandom::fill(bytes).map_err(|e| e.to_string())
}

/// Compare two digests (or any two secrets) without stopping at the first difference.
pub fn same_digest(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_has_its_shape_and_its_hash_is_not_the_token() {
        let (new, hash) = generate().unwrap();
        assert_eq!(token_id(&new.token), Some(new.token_id.as_str()));
        assert_eq!(hash, sha256_hex(new.token.as_bytes()));
        assert!(!hash.contains(&new.token[12..]));
        assert_eq!(token_id("cs_1234_abcd"), None);
        assert_eq!(token_id("Bearer x"), None);
        assert!(same_digest("ab", "ab") && !same_digest("ab", "ac") && !same_digest("ab", "abc"));
    }

    #[test]
    fn roles_are_ordered_from_viewer_to_admin() {
        assert!(Role::Viewer < Role::Recorder && Role::Recorder < Role::Approver && Role::Approver < Role::Admin);
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
