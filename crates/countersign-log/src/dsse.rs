//! DSSE envelopes (https://github.com/secure-systems-lab/dsse, protocol v1) carrying
//! in-toto Statements v1 (https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md).
//!
//! An entry's bytes are the envelope JSON exactly as produced by [`sign_statement`]; they
//! are stored and hashed as they are and never re-serialized.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::note::{LogSigner, LogVerifier};

pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// One subject of a statement: what the evidence is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    pub name: String,
    /// Algorithm to lowercase hex digest: `gitCommit`, `sha256`.
    pub digest: BTreeMap<String, String>,
}

/// An in-toto Statement v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    #[serde(rename = "_type")]
    pub type_: String,
    pub subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    pub predicate: serde_json::Value,
}

impl Statement {
    pub fn new(subject: Vec<Subject>, predicate_type: impl Into<String>, predicate: serde_json::Value) -> Self {
        Self { type_: STATEMENT_TYPE.to_owned(), subject, predicate_type: predicate_type.into(), predicate }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    pub keyid: String,
    pub sig: String,
}

/// A DSSE envelope as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub payload: String,
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    pub signatures: Vec<EnvelopeSignature>,
}

#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("entry is not a DSSE envelope: {0}")]
    NotAnEnvelope(serde_json::Error),
    #[error("payloadType is {0:?}, expected {PAYLOAD_TYPE:?}")]
    WrongPayloadType(String),
    #[error("payload is not base64")]
    PayloadNotBase64,
    #[error("payload is not an in-toto Statement v1: {0}")]
    NotAStatement(String),
    #[error("no signature by key {0}")]
    NoSignatureByKey(String),
    #[error("signature is malformed")]
    MalformedSignature,
    #[error("signature does not verify")]
    BadSignature,
    #[error("could not serialize the statement: {0}")]
    Serialize(serde_json::Error),
}

/// DSSE v1 pre-authentication encoding:
/// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths in ASCII decimal.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// The DSSE `keyid` this log writes: `<name>+<hex key id>`, as in the vkey.
pub fn dsse_key_id(verifier: &LogVerifier) -> String {
    format!("{}+{:08x}", verifier.name(), verifier.key_id())
}

/// Serialize and sign a statement; returns the entry bytes (the envelope JSON).
pub fn sign_statement(statement: &Statement, signer: &LogSigner) -> Result<Vec<u8>, EnvelopeError> {
    let payload = serde_json::to_vec(statement).map_err(EnvelopeError::Serialize)?;
    let sig = signer.sign_raw(&pae(PAYLOAD_TYPE, &payload));
    let envelope = Envelope {
        payload: B64.encode(&payload),
        payload_type: PAYLOAD_TYPE.to_owned(),
        signatures: vec![EnvelopeSignature { keyid: dsse_key_id(&signer.verifier()), sig: B64.encode(sig) }],
    };
    serde_json::to_vec(&envelope).map_err(EnvelopeError::Serialize)
}

/// An envelope decoded far enough to check its signature.
#[derive(Debug, Clone)]
pub struct OpenedEnvelope {
    pub payload: Vec<u8>,
    /// The PAE bytes the signature covers.
    pub signed_message: Vec<u8>,
    /// The signature by the expected key.
    pub signature: [u8; 64],
}

/// Decode an entry and pick the signature made by `verifier` (without verifying it yet,
/// so a caller can batch-verify many).
pub fn open_envelope(entry: &[u8], verifier: &LogVerifier) -> Result<OpenedEnvelope, EnvelopeError> {
    let envelope: Envelope = serde_json::from_slice(entry).map_err(EnvelopeError::NotAnEnvelope)?;
    if envelope.payload_type != PAYLOAD_TYPE {
        return Err(EnvelopeError::WrongPayloadType(envelope.payload_type));
    }
    let payload = B64.decode(&envelope.payload).map_err(|_| EnvelopeError::PayloadNotBase64)?;
    let wanted = dsse_key_id(verifier);
    let sig = envelope
        .signatures
        .iter()
        .find(|s| s.keyid == wanted)
        .ok_or_else(|| EnvelopeError::NoSignatureByKey(wanted.clone()))?;
    let raw = B64.decode(&sig.sig).map_err(|_| EnvelopeError::MalformedSignature)?;
    let signature: [u8; 64] = raw.try_into().map_err(|_| EnvelopeError::MalformedSignature)?;
    let signed_message = pae(&envelope.payload_type, &payload);
    Ok(OpenedEnvelope { payload, signed_message, signature })
}

/// The PAE prefix for [`PAYLOAD_TYPE`], up to (not including) the payload length.
const PAE_PREFIX: &[u8] = b"DSSEv1 28 application/vnd.in-toto+json ";

/// The exact layout [`sign_statement`] writes, with one signature by `keyid`:
/// `{"payload":"…","payloadType":"application/vnd.in-toto+json","signatures":[{"keyid":"…","sig":"…"}]}`.
/// Returns the raw (base64) payload and signature. Both contain only base64 characters, so
/// the JSON strings have no escapes and the raw bytes are their values: this reads exactly
/// what serde_json would, for the entries this log writes; anything else returns `None`
/// and goes through serde_json.
fn split_canonical<'a>(entry: &'a [u8], keyid: &str) -> Option<(&'a [u8], &'a [u8])> {
    let is_b64 = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=');
    if keyid.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        return None;
    }
    let rest = entry.strip_prefix(b"{\"payload\":\"")?;
    let end = rest.iter().position(|&b| b == b'"')?;
    let (payload, rest) = rest.split_at(end);
    let rest =
        rest.strip_prefix(b"\",\"payloadType\":\"application/vnd.in-toto+json\",\"signatures\":[{\"keyid\":\"")?;
    let rest = rest.strip_prefix(keyid.as_bytes())?;
    let rest = rest.strip_prefix(b"\",\"sig\":\"")?;
    let end = rest.iter().position(|&b| b == b'"')?;
    let (sig, rest) = rest.split_at(end);
    if rest != b"\"}]}" || !payload.iter().all(is_b64) || !sig.iter().all(is_b64) {
        return None;
    }
    Some((payload, sig))
}

/// Exact decoded length of padded standard base64, if the length is well-formed.
fn b64_decoded_len(b64: &[u8]) -> Option<usize> {
    if !b64.len().is_multiple_of(4) {
        return None;
    }
    let pad = b64.iter().rev().take(2).take_while(|&&b| b == b'=').count();
    Some(b64.len() / 4 * 3 - pad)
}

/// Append the PAE bytes an entry's signature covers to `out` and return the signature by
/// `keyid` (see [`dsse_key_id`]), without verifying it and without building any JSON value
/// for the entries this log writes (others are decoded with serde_json, as
/// [`open_envelope`] does). `out` is left as it was on error.
pub fn signed_message_into(entry: &[u8], keyid: &str, out: &mut Vec<u8>) -> Result<[u8; 64], EnvelopeError> {
    let Some((payload, sig)) = split_canonical(entry, keyid) else {
        let envelope: Envelope = serde_json::from_slice(entry).map_err(EnvelopeError::NotAnEnvelope)?;
        if envelope.payload_type != PAYLOAD_TYPE {
            return Err(EnvelopeError::WrongPayloadType(envelope.payload_type));
        }
        let payload = B64.decode(&envelope.payload).map_err(|_| EnvelopeError::PayloadNotBase64)?;
        let sig = envelope
            .signatures
            .iter()
            .find(|s| s.keyid == keyid)
            .ok_or_else(|| EnvelopeError::NoSignatureByKey(keyid.to_owned()))?;
        let raw = B64.decode(&sig.sig).map_err(|_| EnvelopeError::MalformedSignature)?;
        let signature: [u8; 64] = raw.try_into().map_err(|_| EnvelopeError::MalformedSignature)?;
        out.extend_from_slice(&pae(PAYLOAD_TYPE, &payload));
        return Ok(signature);
    };
    let mut raw = [0u8; 66];
    let n = B64.decode_slice(sig, &mut raw).map_err(|_| EnvelopeError::MalformedSignature)?;
    if n != 64 {
        return Err(EnvelopeError::MalformedSignature);
    }
    let mut signature = [0u8; 64];
    signature.copy_from_slice(&raw[..64]);
    let len = b64_decoded_len(payload).ok_or(EnvelopeError::PayloadNotBase64)?;
    let start = out.len();
    out.extend_from_slice(PAE_PREFIX);
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    let before = out.len();
    if B64.decode_vec(payload, out).is_err() || out.len() - before != len {
        out.truncate(start);
        return Err(EnvelopeError::PayloadNotBase64);
    }
    Ok(signature)
}

/// Decode, verify and parse an entry.
pub fn verify_entry(entry: &[u8], verifier: &LogVerifier) -> Result<Statement, EnvelopeError> {
    let opened = open_envelope(entry, verifier)?;
    if !verifier.verify_raw(&opened.signed_message, &opened.signature) {
        return Err(EnvelopeError::BadSignature);
    }
    parse_statement(&opened.payload)
}

/// Parse a statement payload and check its `_type`.
pub fn parse_statement(payload: &[u8]) -> Result<Statement, EnvelopeError> {
    let statement: Statement =
        serde_json::from_slice(payload).map_err(|e| EnvelopeError::NotAStatement(e.to_string()))?;
    if statement.type_ != STATEMENT_TYPE {
        return Err(EnvelopeError::NotAStatement(format!("_type is {:?}", statement.type_)));
    }
    Ok(statement)
}

/// Decode an entry's statement without checking the signature (for display of entries a
/// caller has already verified).
pub fn statement_unverified(entry: &[u8]) -> Result<Statement, EnvelopeError> {
    let envelope: Envelope = serde_json::from_slice(entry).map_err(EnvelopeError::NotAnEnvelope)?;
    let payload = B64.decode(&envelope.payload).map_err(|_| EnvelopeError::PayloadNotBase64)?;
    parse_statement(&payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_spec_example() {
        // From the DSSE protocol spec (protocol.md, "Test vectors"): PAE("http://example.com/HelloWorld", "hello world").
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn entries_verify_and_tampering_is_caught() {
        let signer = LogSigner::from_seed("example.com/log", &[3; 32]).unwrap();
        let st = Statement::new(
            vec![Subject { name: "pr#1".into(), digest: [("gitCommit".to_owned(), "ab".repeat(20))].into() }],
            "https://countersign.dev/evidence/approval/v1",
            serde_json::json!({"by": "alice"}),
        );
        let entry = sign_statement(&st, &signer).unwrap();
        assert_eq!(verify_entry(&entry, &signer.verifier()).unwrap(), st);
        let other = LogSigner::from_seed("example.com/log", &[4; 32]).unwrap();
        assert!(verify_entry(&entry, &other.verifier()).is_err());
        let mut bad = entry.clone();
        let pos = bad.iter().position(|b| *b == b'e').unwrap();
        bad[pos] = b'f';
        assert!(verify_entry(&bad, &signer.verifier()).is_err());
    }

    #[test]
    fn the_fast_path_reads_what_serde_reads() {
        let signer = LogSigner::from_seed("example.com/log", &[3; 32]).unwrap();
        let keyid = dsse_key_id(&signer.verifier());
        for n in 0..5 {
            let st = Statement::new(vec![], "t", serde_json::json!({"n": "x".repeat(n)}));
            let entry = sign_statement(&st, &signer).unwrap();
            assert!(split_canonical(&entry, &keyid).is_some());
            let opened = open_envelope(&entry, &signer.verifier()).unwrap();
            let mut buf = b"junk".to_vec();
            let sig = signed_message_into(&entry, &keyid, &mut buf).unwrap();
            assert_eq!(&buf[4..], opened.signed_message.as_slice());
            assert_eq!(sig, opened.signature);
            // Re-serialized with spaces: not the canonical layout, same result via serde.
            let env: Envelope = serde_json::from_slice(&entry).unwrap();
            let pretty = serde_json::to_vec_pretty(&env).unwrap();
            assert!(split_canonical(&pretty, &keyid).is_none());
            let mut buf2 = Vec::new();
            assert_eq!(signed_message_into(&pretty, &keyid, &mut buf2).unwrap(), sig);
            assert_eq!(buf2, opened.signed_message);
        }
        assert!(
            signed_message_into(
                b"{\"payload\":\"QQ\",\"payloadType\":\"application/vnd.in-toto+json\",\"signatures\":[]}",
                &keyid,
                &mut Vec::new()
            )
            .is_err()
        );
    }
}
