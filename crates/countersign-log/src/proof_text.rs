//! Text forms of proofs.
//!
//! Inclusion proofs use C2SP tlog-proof v1 (https://c2sp.org/tlog-proof):
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! index <N>
//! <base64 hash>            (zero or more, leaf's sibling first)
//!
//! <signed checkpoint, verbatim>
//! ```
//!
//! C2SP defines no text form for consistency proofs; this crate uses the same shape with
//! its own first line, `countersign.dev/consistency-proof@v1`, then `old <size>`, the
//! hashes, a blank line and the newer signed checkpoint. The older checkpoint is not
//! repeated: the verifier holds it already.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::merkle::Hash;

pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";
pub const CONSISTENCY_PROOF_HEADER: &str = "countersign.dev/consistency-proof@v1";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed proof: {0}")]
pub struct ProofTextError(pub &'static str);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    pub extra: Option<Vec<u8>>,
    pub index: u64,
    pub hashes: Vec<Hash>,
    /// The signed checkpoint note, verbatim.
    pub checkpoint: String,
}

fn push_hashes(out: &mut String, hashes: &[Hash]) {
    for h in hashes {
        out.push_str(&B64.encode(h));
        out.push('\n');
    }
}

fn parse_hashes<'a>(lines: &mut impl Iterator<Item = &'a str>) -> Result<Vec<Hash>, ProofTextError> {
    let mut hashes = Vec::new();
    for line in lines.by_ref() {
        if line.is_empty() {
            return Ok(hashes);
        }
        let raw = B64.decode(line).map_err(|_| ProofTextError("hash is not base64"))?;
        hashes.push(raw.try_into().map_err(|_| ProofTextError("hash is not 32 bytes"))?);
    }
    Err(ProofTextError("missing blank line before the checkpoint"))
}

fn parse_number(s: &str) -> Result<u64, ProofTextError> {
    if s.is_empty() || (s.len() > 1 && s.starts_with('0')) || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ProofTextError("number is not a decimal without leading zeros"));
    }
    s.parse().map_err(|_| ProofTextError("number out of range"))
}

impl TlogProof {
    pub fn to_text(&self) -> String {
        let mut out = format!("{TLOG_PROOF_HEADER}\n");
        if let Some(extra) = &self.extra {
            out.push_str(&format!("extra {}\n", B64.encode(extra)));
        }
        out.push_str(&format!("index {}\n", self.index));
        push_hashes(&mut out, &self.hashes);
        out.push('\n');
        out.push_str(&self.checkpoint);
        out
    }

    pub fn parse(text: &str) -> Result<Self, ProofTextError> {
        let mut lines = text.split('\n');
        if lines.next() != Some(TLOG_PROOF_HEADER) {
            return Err(ProofTextError("first line is not c2sp.org/tlog-proof@v1"));
        }
        let mut line = lines.next().ok_or(ProofTextError("truncated"))?;
        let mut extra = None;
        if let Some(b64) = line.strip_prefix("extra ") {
            extra = Some(B64.decode(b64).map_err(|_| ProofTextError("extra is not base64"))?);
            line = lines.next().ok_or(ProofTextError("truncated"))?;
        }
        let index = parse_number(line.strip_prefix("index ").ok_or(ProofTextError("missing index line"))?)?;
        let hashes = parse_hashes(&mut lines)?;
        let checkpoint = lines.collect::<Vec<_>>().join("\n");
        Ok(Self { extra, index, hashes, checkpoint })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyProofText {
    pub old_size: u64,
    pub hashes: Vec<Hash>,
    /// The newer signed checkpoint, verbatim.
    pub checkpoint: String,
}

impl ConsistencyProofText {
    pub fn to_text(&self) -> String {
        let mut out = format!("{CONSISTENCY_PROOF_HEADER}\nold {}\n", self.old_size);
        push_hashes(&mut out, &self.hashes);
        out.push('\n');
        out.push_str(&self.checkpoint);
        out
    }

    pub fn parse(text: &str) -> Result<Self, ProofTextError> {
        let mut lines = text.split('\n');
        if lines.next() != Some(CONSISTENCY_PROOF_HEADER) {
            return Err(ProofTextError("first line is not countersign.dev/consistency-proof@v1"));
        }
        let old_size =
            parse_number(lines.next().and_then(|l| l.strip_prefix("old ")).ok_or(ProofTextError("missing old line"))?)?;
        let hashes = parse_hashes(&mut lines)?;
        let checkpoint = lines.collect::<Vec<_>>().join("\n");
        Ok(Self { old_size, hashes, checkpoint })
    }
}
