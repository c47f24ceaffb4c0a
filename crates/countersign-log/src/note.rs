//! C2SP signed notes with Ed25519 keys (https://c2sp.org/signed-note), the key encodings
//! of golang.org/x/mod/sumdb/note (`name+keyid+base64(0x01‖pubkey)` and
//! `PRIVATE+KEY+name+keyid+base64(0x01‖seed)`), and C2SP tlog-checkpoint bodies
//! (https://c2sp.org/tlog-checkpoint).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use crate::merkle::Hash;

/// Signature type byte for Ed25519 in C2SP signed notes.
const ED25519_TYPE: u8 = 0x01;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("malformed key: {0}")]
    MalformedKey(&'static str),
    #[error("key name {0:?} must be non-empty and contain no spaces or '+'")]
    BadKeyName(String),
    #[error("malformed signed note: {0}")]
    Malformed(&'static str),
    #[error("no signature by key {name}+{key_id:08x} (signatures found: {found})")]
    NoSignatureByKey { name: String, key_id: u32, found: String },
    #[error("signature by key {name}+{key_id:08x} does not verify")]
    BadSignature { name: String, key_id: u32 },
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(&'static str),
    #[error("checkpoint origin is {found:?}, expected {expected:?}")]
    WrongOrigin { found: String, expected: String },
}

/// The C2SP key id: first 4 bytes (big-endian) of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ pubkey).
pub fn key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([b'\n', ED25519_TYPE]);
    hasher.update(public_key);
    let digest = hasher.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(NoteError::BadKeyName(name.to_owned()));
    }
    Ok(())
}

/// The log's private key and its name (the checkpoint origin).
#[derive(Clone)]
pub struct LogSigner {
    name: String,
    key: SigningKey,
}

impl std::fmt::Debug for LogSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSigner").field("name", &self.name).field("key_id", &self.key_id()).finish()
    }
}

impl LogSigner {
    /// A signer from a 32-byte Ed25519 seed (the caller supplies the randomness).
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, NoteError> {
        check_name(name)?;
        Ok(Self { name: name.to_owned(), key: SigningKey::from_bytes(seed) })
    }

    /// Parse `PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 ‖ seed)>`.
    pub fn from_private_key(text: &str) -> Result<Self, NoteError> {
        let text = text.trim();
        let rest = text.strip_prefix("PRIVATE+KEY+").ok_or(NoteError::MalformedKey("missing PRIVATE+KEY+ prefix"))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::MalformedKey("expected PRIVATE+KEY+name+id+key"));
        };
        let raw = B64.decode(key_b64).map_err(|_| NoteError::MalformedKey("key is not base64"))?;
        if raw.len() != 33 || raw[0] != ED25519_TYPE {
            return Err(NoteError::MalformedKey("not an Ed25519 key"));
        }
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&raw[1..]);
        let signer = Self::from_seed(name, &seed)?;
        let id = u32::from_str_radix(id_hex, 16).map_err(|_| NoteError::MalformedKey("key id is not hex"))?;
        if id_hex.len() != 8 || id != signer.key_id() {
            return Err(NoteError::MalformedKey("key id does not match the key"));
        }
        Ok(signer)
    }

    /// `PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 ‖ seed)>`.
    pub fn private_key_text(&self) -> String {
        let mut raw = vec![ED25519_TYPE];
        raw.extend_from_slice(&self.key.to_bytes());
        format!("PRIVATE+KEY+{}+{:08x}+{}", self.name, self.key_id(), B64.encode(raw))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        key_id(&self.name, &self.key.verifying_key().to_bytes())
    }

    pub fn verifier(&self) -> LogVerifier {
        LogVerifier { name: self.name.clone(), key: self.key.verifying_key(), verified: Arc::default() }
    }

    /// Raw Ed25519 signature over `message`.
    pub fn sign_raw(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// Sign a note text (must end in a newline) and return the whole signed note.
    pub fn sign_note(&self, text: &str) -> Result<String, NoteError> {
        if !text.ends_with('\n') {
            return Err(NoteError::Malformed("note text must end with a newline"));
        }
        let mut blob = self.key_id().to_be_bytes().to_vec();
        blob.extend_from_slice(&self.sign_raw(text.as_bytes()));
        Ok(format!("{text}\n\u{2014} {} {}\n", self.name, B64.encode(blob)))
    }
}

/// A public log key: name and Ed25519 public key.
#[derive(Debug, Clone)]
pub struct LogVerifier {
    name: String,
    key: VerifyingKey,
    /// Signatures this key was already found to have made, by SHA-256 of the message and
    /// signature, shared by clones: every proven scan reads every checkpoint again, and an
    /// Ed25519 check costs ~50 µs where the hash costs ~1 µs. Only successes are kept.
    verified: Arc<Mutex<HashSet<[u8; 32]>>>,
}

/// The most remembered signatures; past it the memo starts again.
const VERIFIED_MEMO: usize = 1 << 20;

impl PartialEq for LogVerifier {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.key == other.key
    }
}

impl Eq for LogVerifier {}

impl LogVerifier {
    /// Parse a verifier key `<name>+<hex key id>+<base64(0x01 ‖ pubkey)>`.
    pub fn from_vkey(text: &str) -> Result<Self, NoteError> {
        let mut parts = text.trim().splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::MalformedKey("expected name+keyid+key"));
        };
        check_name(name)?;
        let raw = B64.decode(key_b64).map_err(|_| NoteError::MalformedKey("key is not base64"))?;
        if raw.len() != 33 || raw[0] != ED25519_TYPE {
            return Err(NoteError::MalformedKey("not an Ed25519 key"));
        }
        let mut pk = [0u8; 32];
        pk.copy_from_slice(&raw[1..]);
        let key = VerifyingKey::from_bytes(&pk).map_err(|_| NoteError::MalformedKey("invalid Ed25519 point"))?;
        let id = u32::from_str_radix(id_hex, 16).map_err(|_| NoteError::MalformedKey("key id is not hex"))?;
        if id_hex.len() != 8 || id != key_id(name, &pk) {
            return Err(NoteError::MalformedKey("key id does not match the key"));
        }
        Ok(Self { name: name.to_owned(), key, verified: Arc::default() })
    }

    pub fn from_public_key(name: &str, public_key: &[u8; 32]) -> Result<Self, NoteError> {
        check_name(name)?;
        let key = VerifyingKey::from_bytes(public_key).map_err(|_| NoteError::MalformedKey("invalid Ed25519 point"))?;
        Ok(Self { name: name.to_owned(), key, verified: Arc::default() })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    pub fn key_id(&self) -> u32 {
        key_id(&self.name, &self.key.to_bytes())
    }

    /// `<name>+<hex key id>+<base64(0x01 ‖ pubkey)>`.
    pub fn vkey(&self) -> String {
        let mut raw = vec![ED25519_TYPE];
        raw.extend_from_slice(&self.key.to_bytes());
        format!("{}+{:08x}+{}", self.name, self.key_id(), B64.encode(raw))
    }

    /// Verify a raw Ed25519 signature.
    pub fn verify_raw(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(sig) = Signature::from_slice(signature) else {
            return false;
        };
        let seen = memo_key(message, signature);
        if self.remembers(&seen) {
            return true;
        }
        let good = self.key.verify(message, &sig).is_ok();
        if good {
            self.remember([seen]);
        }
        good
    }

    fn remembers(&self, seen: &[u8; 32]) -> bool {
        self.verified.lock().is_ok_and(|memo| memo.contains(seen))
    }

    fn remember(&self, good: impl IntoIterator<Item = [u8; 32]>) {
        if let Ok(mut memo) = self.verified.lock() {
            for seen in good {
                if memo.len() >= VERIFIED_MEMO {
                    memo.clear();
                }
                memo.insert(seen);
            }
        }
    }

    /// Verify many raw Ed25519 signatures by this key at once (ed25519-dalek batch
    /// verification). `true` only if every one verifies; on `false`, check them one by one
    /// with [`Self::verify_raw`] to find the bad ones.
    pub fn verify_batch(&self, messages: &[&[u8]], signatures: &[[u8; 64]]) -> bool {
        if messages.len() != signatures.len() {
            return false;
        }
        if messages.is_empty() {
            return true;
        }
        let sigs: Vec<Signature> = signatures.iter().map(Signature::from_bytes).collect();
        let keys = vec![self.key; messages.len()];
        ed25519_dalek::verify_batch(messages, &sigs, &keys).is_ok()
    }

    /// Open many signed notes: for each, what [`Self::open_note`] gives, in order. The
    /// signatures are checked with one batch verification (about a third of the time of
    /// checking them one by one); a note that does not take the plain path (not exactly
    /// well formed, or in a batch that fails) is opened on its own, so every error is the
    /// one `open_note` reports.
    pub fn open_notes<'a>(&self, notes: &[&'a str]) -> Vec<Result<&'a str, NoteError>> {
        // Per note: its text and our signature, when it is plainly well formed; else
        // `None`, to be opened on its own. Signatures remembered as good skip the batch.
        let plain: Vec<Option<(&str, [u8; 64])>> = notes.iter().map(|note| self.plain_signature(note)).collect();
        let mut messages = Vec::with_capacity(notes.len());
        let mut signatures = Vec::with_capacity(notes.len());
        let mut keys = Vec::with_capacity(notes.len());
        for (text, sig) in plain.iter().flatten() {
            let seen = memo_key(text.as_bytes(), sig);
            if !self.remembers(&seen) {
                messages.push(text.as_bytes());
                signatures.push(*sig);
                keys.push(seen);
            }
        }
        let batch_good = self.verify_batch(&messages, &signatures);
        if batch_good {
            self.remember(keys);
        }
        notes
            .iter()
            .zip(plain)
            .map(|(note, plain)| match plain {
                Some((text, _)) if batch_good => Ok(text),
                _ => self.open_note(note),
            })
            .collect()
    }

    /// A note's text and its one signature by this key, if the note is well formed with
    /// signature lines that all decode and exactly one of them is this key's (64 bytes).
    fn plain_signature<'a>(&self, note: &'a str) -> Option<(&'a str, [u8; 64])> {
        let (text, sigs) = split_note(note).ok()?;
        let my_id = self.key_id();
        let mut mine = None;
        for line in sigs.lines() {
            let (name, id, blob) = signature_line(line).ok()?;
            if name == self.name && id == my_id {
                if mine.is_some() {
                    return None;
                }
                mine = Some(<[u8; 64]>::try_from(&blob[4..]).ok()?);
            }
        }
        Some((text, mine?))
    }

    /// Open a signed note: returns its text if this key signed it. Signatures by other
    /// keys are ignored, as C2SP requires; a bad signature by this key rejects the note.
    pub fn open_note<'a>(&self, note: &'a str) -> Result<&'a str, NoteError> {
        let (text, sigs) = split_note(note)?;
        let my_id = self.key_id();
        let mut found = Vec::new();
        let mut verified = false;
        for line in sigs.lines() {
            let (name, id, blob) = signature_line(line)?;
            found.push(format!("{name}+{id:08x}"));
            if name == self.name && id == my_id {
                if !self.verify_raw(text.as_bytes(), &blob[4..]) {
                    return Err(NoteError::BadSignature { name: self.name.clone(), key_id: my_id });
                }
                verified = true;
            }
        }
        if verified {
            Ok(text)
        } else {
            Err(NoteError::NoSignatureByKey { name: self.name.clone(), key_id: my_id, found: found.join(", ") })
        }
    }
}

/// One signature line of a note, `— <name> <base64(key id ‖ signature)>`: the name, the
/// key id and the decoded blob (key id first).
fn signature_line(line: &str) -> Result<(&str, u32, Vec<u8>), NoteError> {
    let rest =
        line.strip_prefix("\u{2014} ").ok_or(NoteError::Malformed("signature line must start with an em dash"))?;
    let (name, b64) =
        rest.rsplit_once(' ').ok_or(NoteError::Malformed("signature line needs a name and a signature"))?;
    let blob = B64.decode(b64).map_err(|_| NoteError::Malformed("signature is not base64"))?;
    if blob.len() < 4 {
        return Err(NoteError::Malformed("signature too short"));
    }
    let id = u32::from_be_bytes([blob[0], blob[1], blob[2], blob[3]]);
    Ok((name, id, blob))
}

/// What the memo of good signatures keeps for a message and its signature.
fn memo_key(message: &[u8], signature: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update((message.len() as u64).to_le_bytes());
    hasher.update(message);
    hasher.update(signature);
    hasher.finalize().into()
}

/// Split a signed note into its text (with final newline) and its signature block.
fn split_note(note: &str) -> Result<(&str, &str), NoteError> {
    if note.chars().any(|c| c.is_control() && c != '\n') {
        return Err(NoteError::Malformed("control characters"));
    }
    if !note.ends_with('\n') {
        return Err(NoteError::Malformed("must end with a newline"));
    }
    // The text is separated from the signatures by the last blank line.
    let split = note.rfind("\n\n").ok_or(NoteError::Malformed("no blank line before the signatures"))?;
    let text = &note[..split + 1];
    let sigs = &note[split + 2..];
    if sigs.is_empty() {
        return Err(NoteError::Malformed("no signature lines"));
    }
    Ok((text, sigs))
}

/// A tree head: origin, size and root hash (the body of a C2SP tlog-checkpoint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl Checkpoint {
    /// The note text: `origin\nsize\nbase64(root)\n`.
    pub fn to_text(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, B64.encode(self.root))
    }

    /// Parse a checkpoint note text (extension lines are allowed and ignored).
    pub fn parse_text(text: &str) -> Result<Self, NoteError> {
        let mut lines = text.split('\n');
        let origin = lines.next().filter(|l| !l.is_empty()).ok_or(NoteError::MalformedCheckpoint("missing origin"))?;
        let size_line = lines.next().ok_or(NoteError::MalformedCheckpoint("missing size"))?;
        if size_line.is_empty()
            || (size_line.len() > 1 && size_line.starts_with('0'))
            || !size_line.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(NoteError::MalformedCheckpoint("size is not a decimal without leading zeros"));
        }
        let size = size_line.parse().map_err(|_| NoteError::MalformedCheckpoint("size out of range"))?;
        let root_line = lines.next().ok_or(NoteError::MalformedCheckpoint("missing root hash"))?;
        let raw = B64.decode(root_line).map_err(|_| NoteError::MalformedCheckpoint("root hash is not base64"))?;
        let root: Hash = raw.try_into().map_err(|_| NoteError::MalformedCheckpoint("root hash is not 32 bytes"))?;
        Ok(Self { origin: origin.to_owned(), size, root })
    }

    /// Sign as a C2SP signed note.
    pub fn sign(&self, signer: &LogSigner) -> Result<String, NoteError> {
        signer.sign_note(&self.to_text())
    }

    /// Verify a signed checkpoint with the log key and check its origin is the key's name.
    pub fn open(signed: &str, verifier: &LogVerifier) -> Result<Self, NoteError> {
        Self::from_opened(verifier.open_note(signed)?, verifier)
    }

    /// [`Self::open`] for many checkpoints, their signatures checked in one batch
    /// ([`LogVerifier::open_notes`]).
    pub fn open_many(signed: &[&str], verifier: &LogVerifier) -> Vec<Result<Self, NoteError>> {
        verifier.open_notes(signed).into_iter().map(|text| Self::from_opened(text?, verifier)).collect()
    }

    /// The checkpoint in a note's verified text.
    fn from_opened(text: &str, verifier: &LogVerifier) -> Result<Self, NoteError> {
        let cp = Self::parse_text(text)?;
        if cp.origin != verifier.name() {
            return Err(NoteError::WrongOrigin { found: cp.origin, expected: verifier.name().to_owned() });
        }
        Ok(cp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The memo of good signatures never turns a bad one good: another message, another
    /// signature or another key is still checked and refused.
    #[test]
    fn a_remembered_signature_admits_only_the_same_message_and_signature() {
        let signer = LogSigner::from_seed("example.com/log", &[3; 32]).unwrap();
        let verifier = signer.verifier();
        let sig = signer.sign_raw(b"size 10");
        assert!(verifier.verify_raw(b"size 10", &sig));
        assert!(verifier.clone().verify_raw(b"size 10", &sig), "a clone shares the memo");
        assert!(!verifier.verify_raw(b"size 11", &sig));
        let mut bad = sig;
        bad[5] ^= 1;
        assert!(!verifier.verify_raw(b"size 10", &bad));
        let other = LogSigner::from_seed("example.com/log", &[4; 32]).unwrap().verifier();
        assert!(!other.verify_raw(b"size 10", &sig));
        assert_eq!(verifier, signer.verifier(), "equality is the key, not the memo");
    }

    // Test vector from golang.org/x/mod/sumdb/note, note.go package documentation
    // and note_test.go (TestSign / ExampleSign): the "PeterNeumann" key and note.
    const PETER_SKEY: &str = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const PETER_TEXT: &str =
        "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    const PETER_NOTE: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    #[test]
    fn sumdb_note_vector_signs_and_verifies_byte_for_byte() {
        let signer = LogSigner::from_private_key(PETER_SKEY).unwrap();
        assert_eq!(signer.key_id(), 0xc74f20a3);
        assert_eq!(signer.verifier().vkey(), PETER_VKEY);
        assert_eq!(signer.private_key_text(), PETER_SKEY);
        assert_eq!(signer.sign_note(PETER_TEXT).unwrap(), PETER_NOTE);
        let verifier = LogVerifier::from_vkey(PETER_VKEY).unwrap();
        assert_eq!(verifier.open_note(PETER_NOTE).unwrap(), PETER_TEXT);
        let tampered = PETER_NOTE.replace("cryptography", "cryptographY");
        assert!(matches!(verifier.open_note(&tampered), Err(NoteError::BadSignature { .. })));
    }

    #[test]
    fn other_keys_are_ignored_and_a_missing_signature_is_an_error() {
        let a = LogSigner::from_seed("example.com/log", &[1; 32]).unwrap();
        let b = LogSigner::from_seed("example.com/log", &[2; 32]).unwrap();
        let note = a.sign_note("hello\n").unwrap();
        let err = b.verifier().open_note(&note).unwrap_err();
        assert!(matches!(err, NoteError::NoSignatureByKey { .. }), "{err}");
    }

    #[test]
    fn checkpoint_round_trips() {
        let signer = LogSigner::from_seed("example.com/log", &[7; 32]).unwrap();
        let cp = Checkpoint { origin: "example.com/log".into(), size: 12, root: [9; 32] };
        let signed = cp.sign(&signer).unwrap();
        assert!(signed.starts_with("example.com/log\n12\nCQkJ"));
        assert_eq!(Checkpoint::open(&signed, &signer.verifier()).unwrap(), cp);
        assert!(Checkpoint::parse_text("o\n012\nAAAA\n").is_err());
    }

    /// Opening notes in a batch gives, note for note, what opening each alone gives: good
    /// notes, a forged signature (alone and beside good ones), a malformed line, a note
    /// signed only by another key, one with another key's line beside ours, and a bad
    /// signature of ours after another key's good one.
    #[test]
    fn opening_notes_in_a_batch_agrees_with_opening_each() {
        let signer = LogSigner::from_seed("example.com/log", &[3; 32]).unwrap();
        let other = LogSigner::from_seed("other.example/log", &[4; 32]).unwrap();
        let good: Vec<String> =
            (0..5).map(|i| signer.sign_note(&format!("example.com/log\n{i}\nroot\n")).unwrap()).collect();
        let mut forged = good[2].clone().into_bytes();
        let at = forged.len() - 10;
        forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged).unwrap();
        let elsewhere = other.sign_note("example.com/log\n9\nroot\n").unwrap();
        let both = format!("{}{}", good[3], other.sign_note("x\n").unwrap().split("\n\n").nth(1).unwrap());
        let malformed = good[4].replace('\u{2014}', "-");
        let cases: Vec<Vec<&str>> = vec![
            good.iter().map(String::as_str).collect(),
            vec![&good[0], &forged, &good[1]],
            vec![&forged],
            vec![&good[0], &malformed, &elsewhere, &both],
            vec![],
        ];
        for notes in cases {
            // A fresh verifier each time: nothing remembered from an earlier case.
            let batch = signer.verifier().open_notes(&notes);
            let alone: Vec<_> = notes.iter().map(|n| signer.verifier().open_note(n)).collect();
            assert_eq!(format!("{batch:?}"), format!("{alone:?}"), "{notes:?}");
        }
        let verifier = signer.verifier();
        assert!(verifier.open_notes(&[&good[0], &good[1]]).iter().all(Result::is_ok));
        assert!(verifier.open_notes(&[&forged]).iter().all(Result::is_err), "a remembered batch admits no forgery");
        assert!(verifier.open_note(&both).is_ok());
        let opened = Checkpoint::open_many(&[&good[0], &elsewhere], &verifier);
        assert_eq!(opened.len(), 2);
        assert!(opened[0].is_err(), "text `root` is not a base64 root hash: {:?}", opened[0]);
        assert!(matches!(opened[1], Err(NoteError::NoSignatureByKey { .. })), "{:?}", opened[1]);
    }
}
