//! The webhook endpoints. Each delivery goes through the same steps, and each step that
//! fails answers at once, with nothing stored:
//!
//! 1. size: over `max-body` is 413 (the body limit layer, before this code runs);
//! 2. authenticity: the signature (GitHub, Gitea/Forgejo) or token (GitLab) must match a
//!    repository configured for that forge, else 401; a signed GitLab delivery whose
//!    timestamp is more than five minutes from the server's clock is 401 too (a replay);
//! 3. headers: no delivery id or no event name is 400;
//! 4. content: a body that is not the JSON its event has is 400; an event countersign does
//!    not use is 202, counted and not stored; a repository no `[[repositories]]` serves is
//!    202, counted and not stored;
//! 5. durability: the raw body, its `webhook-delivery` log entry and its processing job are
//!    committed together, then 200. The same delivery id again with the same bytes is 200
//!    and writes nothing; with other bytes it is 409.
//!
//! Processing (evidence, evaluation, statuses) happens after the answer, from the job table
//! (`worker`), so a crash between the answer and the processing loses nothing.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use countersign_forge::webhook::{self, Forge, Normalised};
use countersign_store::{DeliveryOutcome, IncomingDelivery};
use serde_json::json;

use crate::AppState;

/// Headers never kept with a delivery: they carry secrets or signatures over them.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "cookie",
    "x-hub-signature",
    "x-hub-signature-256",
    "x-gitea-signature",
    "x-gogs-signature",
    "x-forgejo-signature",
    "x-gitlab-token",
    "webhook-signature",
];

/// How far a signed delivery's own timestamp may be from the server's clock.
const MAX_CLOCK_SKEW_SECONDS: i64 = 300;

pub async fn github(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    receive(&state, Forge::GitHub, &headers, body).await
}

pub async fn gitea(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    receive(&state, Forge::Gitea, &headers, body).await
}

pub async fn gitlab(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    receive(&state, Forge::GitLab, &headers, body).await
}

fn answer(status: StatusCode, outcome: &str, message: impl Into<String>) -> Response {
    (status, Json(json!({ "outcome": outcome, "message": message.into() }))).into_response()
}

async fn receive(state: &AppState, forge: Forge, headers: &HeaderMap, body: Bytes) -> Response {
    let started = Instant::now();
    let pairs: Vec<(&str, &str)> =
        headers.iter().filter_map(|(name, value)| value.to_str().ok().map(|v| (name.as_str(), v))).collect();
    let meta = webhook::delivery(forge, &pairs);
    let event_label = meta.event.clone().unwrap_or_default();
    let count = |outcome: &str| state.metrics.delivery(forge.name(), &event_label, outcome);

    // Authenticity: which configured repositories' secret signed this body.
    let mut refusal = None;
    let mut signed_for = Vec::new();
    for repo in state.config.repositories_of(forge) {
        match webhook::verify(forge, repo.webhook_secret.value(), &pairs, &body) {
            Ok(()) => signed_for.push(repo),
            Err(e) => refusal = refusal.or(Some(e.to_string())),
        }
    }
    if signed_for.is_empty() {
        count("unauthorized");
        let why = refusal.unwrap_or_else(|| format!("this server serves no {forge} repository"));
        return answer(StatusCode::UNAUTHORIZED, "unauthorized", why);
    }
    if let Some(sent) = meta.sent_at {
        let skew = ((state.clock)().as_second() - sent.as_second()).abs();
        if skew > MAX_CLOCK_SKEW_SECONDS {
            count("unauthorized");
            return answer(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                format!(
                    "the delivery's signed timestamp is {skew} s from this server's clock (a replay, or a clock to fix)"
                ),
            );
        }
    }
    let Some(delivery_id) = meta.id.filter(|id| id.len() <= 200) else {
        count("malformed");
        return answer(
            StatusCode::BAD_REQUEST,
            "malformed",
            "the delivery has no delivery id header (or one over 200 bytes)",
        );
    };
    let Some(event) = meta.event.filter(|e| !e.is_empty()) else {
        count("malformed");
        return answer(StatusCode::BAD_REQUEST, "malformed", "the delivery has no event header");
    };

    // Content: it must be the JSON its event has, about a repository served here.
    let normalised = match webhook::normalise(forge, &event, &body) {
        Ok(n) => n,
        Err(e) => {
            count("malformed");
            return answer(StatusCode::BAD_REQUEST, "malformed", e.to_string());
        }
    };
    let event_kind = match &normalised {
        Normalised::Ignored { event } => {
            count("ignored");
            return answer(StatusCode::ACCEPTED, "ignored", format!("countersign does not use `{event}` events"));
        }
        Normalised::Event(e) => e,
    };
    if let Some(name) = event_kind.repository_name()
        && !signed_for.iter().any(|r| r.name.eq_ignore_ascii_case(name))
    {
        count("unknown_repository");
        tracing::warn!(%forge, repository = name, "a signed delivery for a repository this server does not serve");
        return answer(StatusCode::ACCEPTED, "unknown_repository", format!("this server does not serve {name}"));
    }

    // Durability.
    let kept: Vec<(String, String)> = pairs
        .iter()
        .filter(|(name, _)| !SECRET_HEADERS.contains(&name.to_ascii_lowercase().as_str()))
        .map(|(n, v)| (n.to_ascii_lowercase(), (*v).to_owned()))
        .collect();
    let incoming = IncomingDelivery {
        forge: forge.name().to_owned(),
        delivery_id: delivery_id.clone(),
        event: event.clone(),
        body: body.to_vec(),
        headers: kept,
        received_at: (state.clock)(),
    };
    match state.store.accept_delivery(incoming).await {
        Ok(DeliveryOutcome::Accepted { index }) => {
            count("accepted");
            state.metrics.ingest_latency(started.elapsed());
            (StatusCode::OK, Json(json!({ "outcome": "accepted", "delivery": delivery_id, "entry": index })))
                .into_response()
        }
        Ok(DeliveryOutcome::Duplicate { index }) => {
            count("duplicate");
            (StatusCode::OK, Json(json!({ "outcome": "duplicate", "delivery": delivery_id, "entry": index })))
                .into_response()
        }
        Ok(DeliveryOutcome::Conflict { index }) => {
            count("conflict");
            answer(
                StatusCode::CONFLICT,
                "conflict",
                format!(
                    "delivery {delivery_id} was received before (log entry {index}) with different bytes; nothing was stored"
                ),
            )
        }
        Err(e) => {
            count("error");
            tracing::error!(%forge, delivery = %delivery_id, error = %e, "cannot store a delivery");
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                "error",
                format!("the delivery could not be stored; retry later ({e})"),
            )
        }
    }
}
