//! Lenient reading of the times forges write.
//!
//! GitHub writes RFC 3339 (`2019-05-15T15:20:33Z`), except in push events, whose
//! `repository.pushed_at` is seconds since 1970. Gitea writes RFC 3339 with an offset
//! (`2022-03-09T16:31:06+09:00`) and Go's zero time for an unset one. GitLab writes
//! `2016-08-12 15:23:28 UTC`, `2021-04-28 21:50:00 +0200` or RFC 3339, depending on the
//! hook. A time that none of these reads is `None`, never an error: a delivery is not
//! refused because its clock field is odd.

use jiff::Timestamp;
use serde::{Deserialize, Deserializer};

/// For `#[serde(default, deserialize_with = "lenient")]` on an `Option<Timestamp>`.
pub(crate) fn lenient<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Timestamp>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(deserializer)?;
    Ok(match value {
        Some(serde_json::Value::String(text)) => parse(&text),
        Some(serde_json::Value::Number(number)) => number.as_i64().and_then(|s| Timestamp::from_second(s).ok()),
        _ => None,
    })
}

/// Reads a time in any of the forms above.
pub(crate) fn parse(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    let time = text
        .parse::<Timestamp>()
        .ok()
        .or_else(|| text.strip_suffix(" UTC").and_then(|t| format!("{t}Z").parse::<Timestamp>().ok()))
        .or_else(|| jiff::fmt::strtime::parse("%Y-%m-%d %H:%M:%S %z", text).ok()?.to_timestamp().ok())?;
    // Go's zero time (`0001-01-01T00:00:00Z`) is how Gitea writes "never".
    if time.as_second() <= GO_ZERO_TIME_OR_EARLIER { None } else { Some(time) }
}

/// 0001-01-01T00:00:00Z in seconds since 1970.
const GO_ZERO_TIME_OR_EARLIER: i64 = -62_135_596_800;

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn forge_time_formats() {
        let expect = |text: &str, rfc3339: &str| {
            assert_eq!(parse(text).map(|t| t.to_string()).as_deref(), Some(rfc3339), "{text}");
        };
        expect("2019-05-15T15:20:33Z", "2019-05-15T15:20:33Z");
        expect("2022-03-09T16:31:06+09:00", "2022-03-09T07:31:06Z");
        expect("2016-08-12 15:23:28 UTC", "2016-08-12T15:23:28Z");
        expect("2021-04-28 21:50:00 +0200", "2021-04-28T19:50:00Z");
        assert_eq!(parse("0001-01-01T00:00:00Z"), None);
        assert_eq!(parse("2015-04-08T21: 00:25-07:00"), None);
        assert_eq!(parse(""), None);
    }
}
