//! Checking that a delivery came from the forge: an HMAC of the body, or GitLab's token.
//!
//! Every comparison is constant time, and no error carries the expected value: a caller may
//! log an error, and a log must not teach anyone the signature they should have sent.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::headers::header;
use super::{Forge, WebhookError};

type HmacSha256 = Hmac<Sha256>;

pub(crate) const GITHUB_SIGNATURE: &str = "X-Hub-Signature-256";
pub(crate) const GITEA_SIGNATURE: &str = "X-Gitea-Signature";
pub(crate) const FORGEJO_SIGNATURE: &str = "X-Forgejo-Signature";
pub(crate) const GITLAB_TOKEN: &str = "X-Gitlab-Token";
pub(crate) const STANDARD_SIGNATURE: &str = "webhook-signature";
pub(crate) const STANDARD_ID: &str = "webhook-id";
pub(crate) const STANDARD_TIMESTAMP: &str = "webhook-timestamp";

/// The prefix of a Standard Webhooks secret; the rest is the key in base64.
const STANDARD_SECRET_PREFIX: &str = "whsec_";

/// Checks that `body` was sent by `forge` with the shared `secret`, from the request's
/// headers (name, value pairs; names are matched without regard to case).
///
/// - GitHub: `X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 of the raw body.
/// - Gitea and Forgejo: `X-Forgejo-Signature` or `X-Gitea-Signature` (the first present),
///   bare hex HMAC-SHA256 of the raw body. Gitea also sends GitHub's header; it is used
///   when neither of its own is there.
/// - GitLab: when `webhook-signature` is present (GitLab's signing, in the Standard
///   Webhooks format) that signature is checked; otherwise `X-Gitlab-Token` must equal the
///   secret. With signing on, `secret` is GitLab's signing token (`whsec_…`), not the
///   plain secret token. The Standard Webhooks `webhook-timestamp` is not judged here,
///   since this crate reads no clock: the caller compares [`super::Delivery::sent_at`]
///   with its `now`.
pub fn verify(forge: Forge, secret: &[u8], headers: &[(&str, &str)], body: &[u8]) -> Result<(), WebhookError> {
    match forge {
        Forge::GitHub => verify_github(secret, headers, body),
        Forge::Gitea => verify_gitea(secret, headers, body),
        Forge::GitLab => {
            if header(headers, STANDARD_SIGNATURE).is_some() {
                verify_standard_webhook(secret, headers, body)
            } else {
                verify_gitlab_token(secret, headers)
            }
        }
    }
}

/// GitHub's `X-Hub-Signature-256: sha256=<64 hex digits>`.
pub fn verify_github(secret: &[u8], headers: &[(&str, &str)], body: &[u8]) -> Result<(), WebhookError> {
    let value = header(headers, GITHUB_SIGNATURE).ok_or(WebhookError::MissingHeader(GITHUB_SIGNATURE))?;
    let hex = value.strip_prefix("sha256=").ok_or(WebhookError::MalformedHeader {
        header: GITHUB_SIGNATURE,
        reason: "it does not start with `sha256=`",
    })?;
    let signature = decode_hex_sha256(hex, GITHUB_SIGNATURE)?;
    check_hmac(secret, &[body], &signature, GITHUB_SIGNATURE)
}

/// Gitea's and Forgejo's bare hex signature, falling back to GitHub's header, which Gitea
/// sends as well.
pub fn verify_gitea(secret: &[u8], headers: &[(&str, &str)], body: &[u8]) -> Result<(), WebhookError> {
    for name in [FORGEJO_SIGNATURE, GITEA_SIGNATURE] {
        if let Some(value) = header(headers, name) {
            let signature = decode_hex_sha256(value, name)?;
            return check_hmac(secret, &[body], &signature, name);
        }
    }
    if header(headers, GITHUB_SIGNATURE).is_some() {
        return verify_github(secret, headers, body);
    }
    Err(WebhookError::MissingHeader("X-Gitea-Signature (or X-Forgejo-Signature)"))
}

/// GitLab's `X-Gitlab-Token`: the configured secret in plain text. Both sides are hashed
/// before the constant-time comparison, so that not even the secret's length leaks.
pub fn verify_gitlab_token(secret: &[u8], headers: &[(&str, &str)]) -> Result<(), WebhookError> {
    let token = header(headers, GITLAB_TOKEN).ok_or(WebhookError::MissingHeader(GITLAB_TOKEN))?;
    let equal = Sha256::digest(token.as_bytes()).ct_eq(&Sha256::digest(secret));
    if bool::from(equal) { Ok(()) } else { Err(WebhookError::SignatureMismatch(GITLAB_TOKEN)) }
}

/// The Standard Webhooks signature (<https://www.standardwebhooks.com/>), which GitLab sends
/// when signing is configured: `webhook-signature: v1,<base64>` (several may be given,
/// separated by spaces; one match is enough), the HMAC-SHA256 of
/// `{webhook-id}.{webhook-timestamp}.{body}`. A secret of the form `whsec_<base64>` is
/// decoded to its key bytes, as the format specifies; any other secret is used as it is.
pub fn verify_standard_webhook(secret: &[u8], headers: &[(&str, &str)], body: &[u8]) -> Result<(), WebhookError> {
    let signatures = header(headers, STANDARD_SIGNATURE).ok_or(WebhookError::MissingHeader(STANDARD_SIGNATURE))?;
    let id = header(headers, STANDARD_ID).ok_or(WebhookError::MissingHeader(STANDARD_ID))?;
    let timestamp = header(headers, STANDARD_TIMESTAMP).ok_or(WebhookError::MissingHeader(STANDARD_TIMESTAMP))?;
    if timestamp.is_empty() || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
        return Err(WebhookError::MalformedHeader {
            header: STANDARD_TIMESTAMP,
            reason: "it is not a number of seconds since 1970",
        });
    }
    let key = standard_webhook_key(secret)?;
    let mut any_v1 = false;
    let mut matched = false;
    for candidate in signatures.split_ascii_whitespace() {
        let Some(encoded) = candidate.strip_prefix("v1,") else { continue };
        any_v1 = true;
        let Ok(signature) = base64::engine::general_purpose::STANDARD.decode(encoded) else { continue };
        let message = [id.as_bytes(), b".", timestamp.as_bytes(), b".", body];
        // Every candidate is checked, so the time taken does not say which one matched.
        matched |= check_hmac(&key, &message, &signature, STANDARD_SIGNATURE).is_ok();
    }
    if !any_v1 {
        return Err(WebhookError::MalformedHeader {
            header: STANDARD_SIGNATURE,
            reason: "it holds no `v1,<base64>` signature",
        });
    }
    if matched { Ok(()) } else { Err(WebhookError::SignatureMismatch(STANDARD_SIGNATURE)) }
}

fn standard_webhook_key(secret: &[u8]) -> Result<Vec<u8>, WebhookError> {
    match secret.strip_prefix(STANDARD_SECRET_PREFIX.as_bytes()) {
        Some(encoded) => base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|_| WebhookError::BadSecret),
        None => Ok(secret.to_vec()),
    }
}

/// The HMAC-SHA256 of `body` under `secret`, as lowercase hex: what `X-Hub-Signature-256`
/// carries after `sha256=`. countersign signs its own outbound webhooks the same way, so a
/// receiver checks them as it checks GitHub's.
pub fn sign_hex(secret: &[u8], body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares the HMAC-SHA256 of the concatenated `parts` with `signature` in constant time.
fn check_hmac(secret: &[u8], parts: &[&[u8]], signature: &[u8], header: &'static str) -> Result<(), WebhookError> {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes a key of any length");
    for part in parts {
        mac.update(part);
    }
    mac.verify_slice(signature).map_err(|_| WebhookError::SignatureMismatch(header))
}

/// 64 hex digits (either case) into the 32 bytes of a SHA-256 MAC.
fn decode_hex_sha256(hex: &str, header: &'static str) -> Result<[u8; 32], WebhookError> {
    let malformed = |reason| WebhookError::MalformedHeader { header, reason };
    let hex = hex.trim();
    if hex.len() != 64 {
        return Err(malformed("the signature is not 64 hex digits"));
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        let high = hex_value(pair[0]).ok_or_else(|| malformed("the signature has a character that is not hex"))?;
        let low = hex_value(pair[1]).ok_or_else(|| malformed("the signature has a character that is not hex"))?;
        *byte = (high << 4) | low;
    }
    Ok(out)
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}
