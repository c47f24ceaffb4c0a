//! The index-column check of a whole-log proof, without decoding the whole evidence.
//!
//! `log_entries` repeats four fields of each signed payload (`kind`, `change_id`,
//! `recorded_at`, `recorded_by`) so rows can be selected by them; every reader checks them
//! against the payload ([`crate::checked_entry`]). Decoding every entry's evidence for that
//! was the largest part of `log verify` after reading the rows (BENCHMARKS.md, "Log
//! verification"). [`columns_match`] reads only those four fields: the envelope's payload
//! (this log's own envelope layout, found without a JSON parser), base64 into a reused
//! buffer, and the statement with every other value skipped, borrowing the strings.
//!
//! It only ever says yes when [`crate::checked_entry`] would accept the columns: the same
//! payload fields with the same defaults (a `change` that is not a string is none, a
//! missing `recordedBy` is empty, a `recordedAt` that does not parse is the epoch), the
//! statement's `_type`, and a kind this build knows. Anything else (another envelope
//! layout, an escape it does not follow, a mismatch) answers no, and the caller decodes
//! the entry fully, which names the problem exactly as before. What it does not check is
//! the shape of the rest of the evidence: that is signed (the leaf hash and the signed
//! checkpoints bind it), and the readers that hand evidence on decode it fully.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use jiff::Timestamp;
use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::db::ColumnsRef;
use crate::evidence::KINDS;

/// Whether the signed payload of `entry` has exactly the values of `columns`, read as
/// [`crate::checked_entry`] reads them. `scratch` is reused for the decoded payload.
/// `false` means "decode it fully to find out", not "tampered".
pub(crate) fn columns_match(entry: &[u8], columns: ColumnsRef<'_>, scratch: &mut Vec<u8>) -> bool {
    let Some(payload) = canonical_payload(entry) else { return false };
    scratch.clear();
    if B64.decode_vec(payload, scratch).is_err() {
        return false;
    }
    let Ok(statement) = serde_json::from_slice::<Fields<'_>>(scratch) else { return false };
    if statement.type_ != countersign_log::dsse::STATEMENT_TYPE {
        return false;
    }
    let Some(kind) =
        statement.predicate_type.strip_prefix("https://countersign.dev/evidence/").and_then(|k| k.strip_suffix("/v1"))
    else {
        return false;
    };
    let p = statement.predicate;
    let recorded_by = p.recorded_by.as_ref().and_then(Value::as_str).unwrap_or("");
    kind == columns.kind
        && KINDS.contains(&kind)
        && p.change.as_ref().and_then(Value::as_str) == columns.change_id
        && recorded_by == columns.recorded_by
        && p.recorded_at.as_ref().and_then(Value::as_str) == Some(columns.recorded_at)
        && columns.recorded_at.parse::<Timestamp>().is_ok()
}

/// The base64 payload of an envelope in the layout this log writes
/// (`{"payload":"…","payloadType":"application/vnd.in-toto+json","signatures":[{"keyid":"…","sig":"…"}]}`),
/// where every string is plain (no escapes) and serde_json would read the same values.
/// Read from both ends, so the payload itself is not scanned here: the caller decodes it
/// as base64, which fails on any byte that is not base64 (a quote, a backslash), so a
/// payload that decodes is one plain JSON string.
fn canonical_payload(entry: &[u8]) -> Option<&[u8]> {
    // A plain ASCII JSON string's bytes: no quote, backslash or control character. Folded
    // without an early exit, so it compiles to vector code.
    let plain =
        |s: &[u8]| s.is_ascii() && !s.iter().fold(false, |bad, &b| bad | (b == b'"') | (b == b'\\') | (b < 0x20));
    let rest = entry.strip_prefix(b"{\"payload\":\"")?.strip_suffix(b"\"}]}")?;
    let quote = rest.iter().rposition(|&b| b == b'"')?;
    let (rest, sig) = (&rest[..=quote], &rest[quote + 1..]);
    let rest = rest.strip_suffix(b"\",\"sig\":\"")?;
    let quote = rest.iter().rposition(|&b| b == b'"')?;
    let (rest, keyid) = (&rest[..=quote], &rest[quote + 1..]);
    let payload =
        rest.strip_suffix(b"\",\"payloadType\":\"application/vnd.in-toto+json\",\"signatures\":[{\"keyid\":\"")?;
    // The key id and signature are not checked here (`log verify --signatures all` does),
    // but they must be strings serde_json reads, as the full decode reads the envelope.
    (plain(keyid) && plain(sig)).then_some(payload)
}

/// The statement, with only what the index columns repeat.
#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(rename = "_type", borrow)]
    type_: Cow<'a, str>,
    #[allow(dead_code)] // required, as `Statement` requires it
    subject: IgnoredAny,
    #[serde(rename = "predicateType", borrow)]
    predicate_type: Cow<'a, str>,
    #[serde(borrow)]
    predicate: Predicate<'a>,
}

/// The predicate's `change`, `recordedBy` and `recordedAt`; it must be a JSON object. A
/// key given twice keeps its last value, as a `serde_json::Value` does.
#[derive(Default)]
struct Predicate<'a> {
    change: Option<Value<'a>>,
    recorded_by: Option<Value<'a>>,
    recorded_at: Option<Value<'a>>,
}

/// A value: a string (borrowed when it has no escapes), or anything else.
enum Value<'a> {
    Str(Cow<'a, str>),
    Other,
}

impl Value<'_> {
    fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            Value::Other => None,
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Predicate<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Predicate<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a predicate object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Predicate<'a>, M::Error> {
                let mut p = Predicate::default();
                while let Some(key) = map.next_key::<Value<'a>>()? {
                    let slot = match key.as_str() {
                        Some("change") => &mut p.change,
                        Some("recordedBy") => &mut p.recorded_by,
                        Some("recordedAt") => &mut p.recorded_at,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    *slot = Some(map.next_value::<Value<'a>>()?);
                }
                Ok(p)
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Value<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Value<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Value<'a>, E> {
                Ok(Value::Str(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Value<'a>, E> {
                Ok(Value::Str(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E>(self, s: String) -> Result<Value<'a>, E> {
                Ok(Value::Str(Cow::Owned(s)))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Value<'a>, E> {
                Ok(Value::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Value<'a>, E> {
                Ok(Value::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Value<'a>, E> {
                Ok(Value::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Value<'a>, E> {
                Ok(Value::Other)
            }
            fn visit_unit<E>(self) -> Result<Value<'a>, E> {
                Ok(Value::Other)
            }
            fn visit_none<E>(self) -> Result<Value<'a>, E> {
                Ok(Value::Other)
            }
            fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value<'a>, D::Error> {
                d.deserialize_any(self)
            }
            fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Value<'a>, S::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Value::Other)
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Value<'a>, M::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Value::Other)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_kind_is_an_evidence_kind() {
        for kind in KINDS {
            let err = serde_json::from_value::<crate::evidence::Evidence>(serde_json::json!({ "kind": kind }))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(!err.contains("unknown variant"), "{kind}: {err}");
        }
    }

    fn columns<'a>(kind: &'a str, change: Option<&'a str>, at: &'a str, by: &'a str) -> ColumnsRef<'a> {
        ColumnsRef { kind, change_id: change, recorded_at: at, recorded_by: by }
    }

    fn envelope(statement: serde_json::Value) -> Vec<u8> {
        let payload = B64.encode(serde_json::to_vec(&statement).unwrap());
        format!(
            "{{\"payload\":\"{payload}\",\"payloadType\":\"application/vnd.in-toto+json\",\"signatures\":[{{\"keyid\":\"k\",\"sig\":\"AAAA\"}}]}}"
        )
        .into_bytes()
    }

    fn statement(predicate: serde_json::Value) -> serde_json::Value {
        serde_json::json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [],
            "predicateType": "https://countersign.dev/evidence/check/v1",
            "predicate": predicate,
        })
    }

    #[test]
    fn it_says_yes_only_to_the_same_four_values() {
        let mut scratch = Vec::new();
        let at = "2026-01-02T03:04:05Z";
        let entry = envelope(statement(serde_json::json!({
            "name": "ci", "status": "success", "change": "pr#7", "recordedBy": "t\u{e9}ster \"q\"", "recordedAt": at,
        })));
        assert!(columns_match(&entry, columns("check", Some("pr#7"), at, "t\u{e9}ster \"q\""), &mut scratch));
        for wrong in [
            columns("approval", Some("pr#7"), at, "t\u{e9}ster \"q\""),
            columns("check", None, at, "t\u{e9}ster \"q\""),
            columns("check", Some("pr#8"), at, "t\u{e9}ster \"q\""),
            columns("check", Some("pr#7"), "2026-01-02T03:04:06Z", "t\u{e9}ster \"q\""),
            columns("check", Some("pr#7"), at, "mallory"),
        ] {
            assert!(!columns_match(&entry, wrong, &mut scratch));
        }
        // Defaults as the full decode has them: a change that is not a string is none, a
        // missing recordedBy is empty; an unparseable recordedAt goes to the full decode.
        let entry = envelope(statement(serde_json::json!({ "change": 7, "recordedAt": at })));
        assert!(columns_match(&entry, columns("check", None, at, ""), &mut scratch));
        let entry = envelope(statement(serde_json::json!({ "change": "a", "change": null, "recordedAt": "x" })));
        assert!(!columns_match(&entry, columns("check", None, "x", ""), &mut scratch));
        // Not a predicate object, another _type, an unknown kind, another layout: no.
        let entry = envelope(statement(serde_json::json!(["pr#7", "tester", at])));
        assert!(!columns_match(&entry, columns("check", Some("pr#7"), at, "tester"), &mut scratch));
        let mut other = statement(serde_json::json!({ "recordedAt": at }));
        other["_type"] = "x".into();
        assert!(!columns_match(&envelope(other), columns("check", None, at, ""), &mut scratch));
        let mut other = statement(serde_json::json!({ "recordedAt": at }));
        other["predicateType"] = "https://countersign.dev/evidence/nope/v1".into();
        assert!(!columns_match(&envelope(other), columns("nope", None, at, ""), &mut scratch));
        let entry = envelope(statement(serde_json::json!({ "recordedAt": at })));
        let spaced = String::from_utf8(entry).unwrap().replacen(":", ": ", 1).into_bytes();
        assert!(!columns_match(&spaced, columns("check", None, at, ""), &mut scratch));
    }
}
