//! People who sign in to the server's pages: local accounts with Argon2id password hashes,
//! and sessions whose ids and CSRF tokens are 256 random bits. Only hashes are stored: the
//! PHC string of each password, the SHA-256 of each session id.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};

use crate::evidence::sha256_hex;
use crate::tokens::Role;

/// A session just opened: `cookie` goes to the browser once and is never stored.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub cookie: String,
    pub csrf: String,
    pub expires_at: jiff::Timestamp,
}

/// Who a session cookie says the request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub person: String,
    pub role: Role,
    /// What every form of this session must send back.
    pub csrf: String,
}

/// Wrong passwords in a row that lock an account.
pub const MAX_FAILED_LOGINS: i64 = 5;
/// How long a lock lasts.
pub const LOCK_MINUTES: i64 = 15;

/// The shortest password an account may have.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Why a password was not taken.
pub fn password_problem(password: &str) -> Option<String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Some(format!("a password needs at least {MIN_PASSWORD_CHARS} characters; this one has {chars}"));
    }
    if password.trim() != password {
        return Some("a password may not start or end with white space (a pasted newline?)".into());
    }
    None
}

/// The Argon2id PHC string of `password`, with a fresh random salt.
pub(crate) fn hash_password(password: &str) -> Result<String, String> {
    Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|e| e.to_string())
}

/// Whether `password` matches the PHC string `hash`. A malformed hash matches nothing.
pub(crate) fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A hash no password matches, checked when the account does not exist, so that the time a
/// failed login takes does not tell whether the person has an account.
pub(crate) fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("no account has this password, ever").unwrap_or_default())
}

/// 256 random bits as 64 hex digits.
pub fn random_hex() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    crate::tokens::random_bytes(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// What is stored for a session cookie.
pub(crate) fn session_digest(cookie: &str) -> String {
    sha256_hex(cookie.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse batterY", &hash));
        assert!(!verify_password("correct horse battery", "not a hash"));
        assert!(!verify_password("", decoy_hash()));
        // A fresh salt each time.
        assert_ne!(hash, hash_password("correct horse battery").unwrap());
    }

    #[test]
    fn weak_passwords_are_refused_with_the_reason() {
        assert!(password_problem("short").unwrap().contains("at least 12"));
        assert!(password_problem("long enough password\n").unwrap().contains("white space"));
        assert_eq!(password_problem("long enough password"), None);
    }
}
