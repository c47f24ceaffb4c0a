//! What the headers of a delivery say: which forge sent it, its id, and the event.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::Forge;
use super::signature::{FORGEJO_SIGNATURE, GITEA_SIGNATURE, STANDARD_ID, STANDARD_TIMESTAMP};

/// What a delivery's headers say about it, apart from its signature.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The forge's id of this delivery, the same on a redelivery, so a receiver can drop a
    /// delivery it already has. GitHub `X-GitHub-Delivery`; Gitea `X-Forgejo-Delivery` or
    /// `X-Gitea-Delivery`; GitLab `Idempotency-Key` (the same on retries), else
    /// `webhook-id`, else `X-Gitlab-Event-UUID`.
    pub id: Option<String>,
    /// The event name that [`super::normalise`] takes: `X-GitHub-Event`;
    /// `X-Forgejo-Event` or `X-Gitea-Event`; `X-Gitlab-Event` (`Merge Request Hook`, …).
    pub event: Option<String>,
    /// Gitea's and Forgejo's finer event type (`X-Gitea-Event-Type`:
    /// `pull_request_sync`, `pull_request_review_approved`, …). `None` for the others.
    pub event_type: Option<String>,
    /// When the sender says it sent the delivery: the Standard Webhooks `webhook-timestamp`
    /// that a signed GitLab delivery carries. A receiver rejects one too far from its own
    /// clock, since the signature covers the timestamp but cannot say it is fresh.
    pub sent_at: Option<Timestamp>,
}

/// The delivery id, event and event type that `forge` puts in these headers.
pub fn delivery(forge: Forge, headers: &[(&str, &str)]) -> Delivery {
    let first = |names: &[&str]| {
        names.iter().filter_map(|name| header(headers, name)).find(|value| !value.is_empty()).map(str::to_string)
    };
    let sent_at = header(headers, STANDARD_TIMESTAMP)
        .and_then(|seconds| seconds.parse::<i64>().ok())
        .and_then(|seconds| Timestamp::from_second(seconds).ok());
    match forge {
        Forge::GitHub => {
            Delivery { id: first(&["X-GitHub-Delivery"]), event: first(&["X-GitHub-Event"]), event_type: None, sent_at }
        }
        // Gitea also sends GitHub's headers, kept as a last resort.
        Forge::Gitea => Delivery {
            id: first(&["X-Forgejo-Delivery", "X-Gitea-Delivery", "X-Gogs-Delivery", "X-GitHub-Delivery"]),
            event: first(&["X-Forgejo-Event", "X-Gitea-Event", "X-Gogs-Event", "X-GitHub-Event"]),
            event_type: first(&[
                "X-Forgejo-Event-Type",
                "X-Gitea-Event-Type",
                "X-Gogs-Event-Type",
                "X-GitHub-Event-Type",
            ]),
            sent_at,
        },
        Forge::GitLab => Delivery {
            id: first(&["Idempotency-Key", STANDARD_ID, "X-Gitlab-Event-UUID"]),
            event: first(&["X-Gitlab-Event"]),
            event_type: None,
            sent_at,
        },
    }
}

/// Which forge sent a delivery, from its headers, for a receiver with one endpoint for
/// all. Gitea and Forgejo are asked first, since they send GitHub's headers too.
pub fn detect_forge(headers: &[(&str, &str)]) -> Option<Forge> {
    let has = |name| header(headers, name).is_some();
    if has("X-Forgejo-Event") || has("X-Gitea-Event") || has(FORGEJO_SIGNATURE) || has(GITEA_SIGNATURE) {
        Some(Forge::Gitea)
    } else if has("X-Gitlab-Event") {
        Some(Forge::GitLab)
    } else if has("X-GitHub-Event") {
        Some(Forge::GitHub)
    } else {
        None
    }
}

/// The value of the first header called `name` (without regard to case), trimmed.
pub(crate) fn header<'h>(headers: &[(&str, &'h str)], name: &str) -> Option<&'h str> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, value)| value.trim())
}
