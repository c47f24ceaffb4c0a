//! The JSON API under `/api/v1`, described by the OpenAPI document it serves at
//! `/api/v1/openapi.json`.
//!
//! Every route but the document needs `Authorization: Bearer <token>` (`countersign token
//! create`). A token carries a role (viewer < recorder < approver < admin) and the person it
//! acts as. Evidence recorded through the API is recorded by that person; an approval is that
//! person's approval, never a name typed into the request, and never for their own change.
//! [`ENDPOINTS`] is the one list the router, the OpenAPI document and the role tests read.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use countersign_store::evidence::{Evidence, RecordDocument, RecordRequest};
use countersign_store::{AppendOutcome, Caller, EvaluationFilter, Role, Store, StoreError};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;

/// One route of the API: method, path (OpenAPI template), the least role it needs (`None`:
/// anyone), and what it does.
pub struct Endpoint {
    pub method: &'static str,
    pub path: &'static str,
    pub role: Option<Role>,
    pub summary: &'static str,
}

pub const ENDPOINTS: &[Endpoint] = &[
    Endpoint { method: "get", path: "/api/v1/openapi.json", role: None, summary: "This document." },
    Endpoint {
        method: "get",
        path: "/api/v1/changes",
        role: Some(Role::Viewer),
        summary: "Changes with their latest verdict; filter by repository, verdict, category and evaluation time; paginated by `after`.",
    },
    Endpoint {
        method: "get",
        path: "/api/v1/changes/{id}",
        role: Some(Role::Viewer),
        summary: "One change: its latest evaluation and the evidence the log proves about it.",
    },
    Endpoint {
        method: "post",
        path: "/api/v1/evidence",
        role: Some(Role::Recorder),
        summary: "Record evidence (the fields of `countersign record --json`) in the token's person's name. Approvals need the approver role and are the token's person's own.",
    },
    Endpoint {
        method: "get",
        path: "/api/v1/log/checkpoint",
        role: Some(Role::Viewer),
        summary: "The latest signed checkpoint (C2SP signed note).",
    },
    Endpoint {
        method: "get",
        path: "/api/v1/log/proof",
        role: Some(Role::Viewer),
        summary: "An inclusion proof (C2SP tlog-proof) for `entry`, checked against the signed checkpoint before it is sent.",
    },
    Endpoint {
        method: "get",
        path: "/api/v1/log/entries",
        role: Some(Role::Viewer),
        summary: "Log entries `from` (inclusive) `to` (exclusive), at most 1000, each a DSSE envelope.",
    },
    Endpoint {
        method: "get",
        path: "/api/v1/policy-versions",
        role: Some(Role::Viewer),
        summary: "Every published policy version.",
    },
    Endpoint {
        method: "post",
        path: "/api/v1/exceptions/{entry}/approve",
        role: Some(Role::Approver),
        summary: "Approve the exception requested in log entry `entry`, as the token's person: a person of the served repository's policy other than its requester (a second operator), before it ends.",
    },
    Endpoint {
        method: "get",
        path: "/api/v1/obligations",
        role: Some(Role::Viewer),
        summary: "Every emergency obligation of each served repository as of now, most urgent first, with its state (pending, due-soon, overdue, fulfilled, fulfilled-late) and due time.",
    },
    Endpoint {
        method: "get",
        path: "/api/v1/deliveries",
        role: Some(Role::Admin),
        summary: "The most recent webhook deliveries and their outcome (without bodies).",
    },
];

/// The routes of [`ENDPOINTS`].
pub fn routes() -> axum::Router<Arc<AppState>> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/changes", get(changes))
        .route("/api/v1/changes/{id}", get(change))
        .route("/api/v1/evidence", post(record))
        .route("/api/v1/log/checkpoint", get(checkpoint))
        .route("/api/v1/log/proof", get(proof))
        .route("/api/v1/log/entries", get(entries))
        .route("/api/v1/policy-versions", get(policy_versions))
        .route("/api/v1/obligations", get(obligations))
        .route("/api/v1/exceptions/{entry}/approve", post(approve_exception))
        .route("/api/v1/deliveries", get(deliveries))
}

/// An API error: a status and a JSON body `{"error": …, "hint": …}`.
pub struct ApiError(pub(crate) StatusCode, pub(crate) String, pub(crate) Option<&'static str>);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.1 });
        if let Some(hint) = self.2 {
            body["hint"] = hint.into();
        }
        let mut response = (self.0, Json(body)).into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::UnknownChange(_) | StoreError::NoSuchEntry { .. } | StoreError::NoCheckpoint(_) => {
                ApiError(StatusCode::NOT_FOUND, e.to_string(), None)
            }
            StoreError::AmbiguousChange { .. } | StoreError::MissingChange(_) => {
                ApiError(StatusCode::BAD_REQUEST, e.to_string(), None)
            }
            StoreError::Tampered(_) => {
                ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string(), Some("run `countersign log verify`"))
            }
            other => {
                tracing::error!(error = %other, "store error in the API");
                ApiError(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the evidence store failed; see the server's log".into(),
                    None,
                )
            }
        }
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// The caller, if their token allows `role`: 401 without a valid token, 403 below the role.
async fn require(state: &AppState, headers: &HeaderMap, role: Role) -> ApiResult<Caller> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let Some(token) = token else {
        return Err(ApiError(
            StatusCode::UNAUTHORIZED,
            "this needs a token".into(),
            Some("send `Authorization: Bearer <token>`; an admin creates one with `countersign token create`"),
        ));
    };
    let Some(caller) = state.store.authenticate(token).await? else {
        return Err(ApiError(StatusCode::UNAUTHORIZED, "the token is unknown or revoked".into(), None));
    };
    if caller.role < role {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            format!("this needs the {role} role; the token {} is {}", caller.token_id, caller.role),
            None,
        ));
    }
    Ok(caller)
}

async fn openapi(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(openapi_document(state.config.public_url.as_deref()))
}

/// The OpenAPI 3.1 document of [`ENDPOINTS`].
pub fn openapi_document(server: Option<&str>) -> Value {
    let mut paths = serde_json::Map::new();
    for e in ENDPOINTS {
        let mut op = json!({
            "summary": e.summary,
            "responses": {
                "200": { "description": "OK" },
                "400": { "description": "The request is malformed" },
                "404": { "description": "No such thing" },
            },
            "x-countersign-role": e.role.map_or("anyone", Role::as_str),
        });
        if e.role.is_some() {
            op["security"] = json!([{ "bearer": [] }]);
            op["responses"]["401"] = json!({ "description": "No valid token" });
            op["responses"]["403"] = json!({ "description": "The token's role is not enough" });
        }
        let parameters = parameters(e.path);
        if !parameters.is_empty() {
            op["parameters"] = Value::Array(parameters);
        }
        if e.path == "/api/v1/evidence" {
            op["requestBody"] = json!({
                "required": true,
                "content": { "application/json": { "schema": { "type": "object", "required": ["kind"],
                    "description": "The fields of `countersign record --json`: `kind` and that kind's fields, `change`, `idempotencyKey`." } } },
            });
            op["responses"]["201"] = json!({ "description": "Recorded" });
        }
        let item = paths.entry(e.path.to_owned()).or_insert_with(|| json!({}));
        item[e.method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": "countersign", "version": env!("CARGO_PKG_VERSION"),
                  "description": "Changes, verdicts, evidence and the tamper-evident log of a countersign server." },
        "servers": [{ "url": server.unwrap_or("/") }],
        "components": { "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } } },
        "paths": paths,
    })
}

fn parameters(path: &str) -> Vec<Value> {
    let query = |name: &str, description: &str| json!({ "name": name, "in": "query", "required": false, "schema": { "type": "string" }, "description": description });
    match path {
        "/api/v1/changes" => vec![
            query("repository", "owner/name"),
            query("verdict", "compliant, evidence missing, violation"),
            query("category", "a category id of the policy"),
            query("since", "evaluated at or after (RFC 3339)"),
            query("until", "evaluated before (RFC 3339)"),
            query("after", "the `next` of the previous page"),
            query("limit", "at most 500 (default 100)"),
        ],
        "/api/v1/changes/{id}" => {
            vec![json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string" },
            "description": "`owner/repo#N` (URL-encoded), a commit, or any id the change is known by" })]
        }
        "/api/v1/log/proof" => {
            vec![json!({ "name": "entry", "in": "query", "required": true, "schema": { "type": "integer" } })]
        }
        "/api/v1/exceptions/{entry}/approve" => {
            vec![json!({ "name": "entry", "in": "path", "required": true, "schema": { "type": "integer" },
            "description": "the exception request's log entry" })]
        }
        "/api/v1/log/entries" => vec![
            json!({ "name": "from", "in": "query", "required": true, "schema": { "type": "integer" } }),
            json!({ "name": "to", "in": "query", "required": false, "schema": { "type": "integer" } }),
        ],
        _ => Vec::new(),
    }
}

#[derive(Debug, Deserialize)]
struct ChangesQuery {
    repository: Option<String>,
    verdict: Option<String>,
    category: Option<String>,
    since: Option<String>,
    until: Option<String>,
    after: Option<String>,
    limit: Option<u32>,
}

async fn changes(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<ChangesQuery>,
) -> ApiResult<Json<Value>> {
    require(&state, &headers, Role::Viewer).await?;
    // Stored times are UTC text (`…Z`) and compare as text: bring the bounds to that form.
    let utc = |name: &str, value: Option<String>| -> ApiResult<Option<String>> {
        value
            .map(|v| {
                v.parse::<jiff::Timestamp>().map(|t| t.to_string()).map_err(|_| {
                    ApiError(StatusCode::BAD_REQUEST, format!("`{name}` is not an RFC 3339 time: {v:?}"), None)
                })
            })
            .transpose()
    };
    let (since, until) = (utc("since", q.since)?, utc("until", q.until)?);
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let rows = state
        .store
        .evaluations(&EvaluationFilter {
            repository: q.repository,
            verdict: q.verdict,
            category: q.category,
            since,
            until,
            after: q.after,
            limit,
        })
        .await?;
    let next = (rows.len() == limit as usize).then(|| rows.last().map(|r| r.change_id.clone())).flatten();
    let changes: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({ "id": r.change_id, "repository": r.repository, "verdict": r.verdict, "category": r.category,
                    "headSha": r.head_sha, "evaluatedAt": r.evaluated_at })
        })
        .collect();
    Ok(Json(json!({ "changes": changes, "next": next })))
}

async fn change(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    require(&state, &headers, Role::Viewer).await?;
    let record = state.store.resolve_change(&id).await?;
    let evaluation = match &record {
        Some(r) => state.store.evaluation(&r.id).await?.or(state.store.evaluation(&id).await?),
        None => state.store.evaluation(&id).await?,
    };
    if record.is_none() && evaluation.is_none() {
        return Err(ApiError(StatusCode::NOT_FOUND, format!("no change {id:?}"), None));
    }
    let change_id = record.as_ref().map_or(id.clone(), |r| r.id.clone());
    let evidence = change_evidence(&state, &change_id).await?;
    let evidence: Vec<Value> = evidence
        .iter()
        .map(|e| {
            json!({ "entry": e.index, "kind": e.evidence.kind(), "recordedBy": e.recorded_by,
                    "recordedAt": e.recorded_at, "evidence": e.evidence })
        })
        .collect();
    Ok(Json(json!({
        "id": change_id,
        "verdict": evaluation.as_ref().map(|e| e.verdict.clone()),
        "evaluatedAt": evaluation.as_ref().map(|e| e.evaluated_at.clone()),
        "evaluation": evaluation.and_then(|e| serde_json::from_str::<Value>(&e.evaluation).ok()),
        "evidence": evidence,
    })))
}

/// The recorded evidence about a change, every entry proven first (a blocking scan, run off
/// the async workers).
pub(crate) async fn change_evidence(
    state: &AppState,
    change_id: &str,
) -> ApiResult<Vec<countersign_store::RecordedEvidence>> {
    let (core, handle, reference) = (state.store.clone(), tokio::runtime::Handle::current(), change_id.to_owned());
    Ok(tokio::task::spawn_blocking(move || Store::on_runtime(core, handle).evidence_for(&[reference.as_str()]))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string(), None))??)
}

async fn record(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let caller = require(&state, &headers, Role::Recorder).await?;
    let value: Value = serde_json::from_slice(&body).map_err(not_a_record)?;
    let (status, index) = record_as(&state, &caller, value).await?;
    Ok((status, Json(json!({ "entry": index, "recordedBy": caller.person }))).into_response())
}

fn not_a_record(e: serde_json::Error) -> ApiError {
    ApiError(
        StatusCode::BAD_REQUEST,
        format!("not a record: {e}"),
        Some("send the fields of `countersign record --json`"),
    )
}

/// Record `value` (the fields of `countersign record --json`) as `caller`, with the API's
/// rules: recorded in the caller's name only, approvals only by approvers, as themselves, and
/// never for their own change. The change is then judged again. Returns 201 (or 200 for a
/// record already logged) and the entry's index. The pages' approve button uses this too.
pub(crate) async fn record_as(state: &AppState, caller: &Caller, mut value: Value) -> ApiResult<(StatusCode, u64)> {
    // An approval through the API is the caller's: the approver may be left out.
    if value["kind"] == "approval"
        && let Some(fields) = value.as_object_mut()
    {
        fields.entry("approver").or_insert_with(|| caller.person.clone().into());
    }
    let doc: RecordDocument = serde_json::from_value(value).map_err(not_a_record)?;
    if doc.recorded_by.as_deref().is_some_and(|by| by != caller.person) {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            format!("no one records in another person's name: this token records as {}", caller.person),
            Some("drop \"recordedBy\""),
        ));
    }
    if doc.evidence.forge_only()
        || matches!(
            doc.evidence,
            Evidence::PolicyVersion { .. }
                | Evidence::DeployDecision { .. }
                | Evidence::Reminder { .. }
                | Evidence::Verdict { .. }
                | Evidence::Report { .. }
                | Evidence::CollectorRun { .. }
                | Evidence::ExceptionApproval { .. }
                | Evidence::PolicyApproval { .. }
        )
    {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            format!("{} entries are written by the server itself, never through the API", doc.evidence.kind()),
            None,
        ));
    }
    let evidence = doc.evidence;
    if let Evidence::Approval { approver, .. } = &evidence {
        if caller.role < Role::Approver {
            return Err(ApiError(
                StatusCode::FORBIDDEN,
                format!("approving needs the approver role; the token {} is {}", caller.token_id, caller.role),
                None,
            ));
        }
        if *approver != caller.person {
            return Err(ApiError(
                StatusCode::FORBIDDEN,
                format!(
                    "an approval through the API is the token's person's own ({}), not {approver:?}'s",
                    caller.person
                ),
                Some("drop \"approver\", or use that person's token"),
            ));
        }
        if let Some(change) = &doc.change
            && is_author(state, change, &caller.person).await?
        {
            return Err(ApiError(
                StatusCode::FORBIDDEN,
                format!("{} cannot approve their own change", caller.person),
                None,
            ));
        }
    }
    // An emergency is declared in one's own name; the engine checks the declarer against
    // the policy's authorizers when it judges the change.
    if let Evidence::Emergency { declared_by, .. } = &evidence
        && !same_person(declared_by, &caller.person)
    {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            format!(
                "an emergency declared through the API is the token's person's own ({}), not {declared_by:?}'s",
                caller.person
            ),
            Some("set \"declaredBy\" to yourself, or use that person's token"),
        ));
    }
    if matches!(evidence, Evidence::ConsoleChange { .. }) {
        refuse_incomplete_console_change(state, &evidence).await?;
    }
    let request = RecordRequest {
        change: doc.change,
        recorded_by: caller.person.clone(),
        recorded_at: countersign_store::whole_second((state.clock)()),
        idempotency_key: doc.idempotency_key,
        evidence,
    };
    let (status, index) = match state.store.record(&request).await? {
        AppendOutcome::Appended(i) => (StatusCode::CREATED, i),
        AppendOutcome::AlreadyRecorded(i) => (StatusCode::OK, i),
    };
    // A console change joins the change list once the histories are judged again: now.
    if matches!(request.evidence, Evidence::ConsoleChange { .. }) {
        crate::reminders::schedule_sweep(state, (state.clock)())
            .await
            .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string(), None))?;
    }
    // A recorded approval or check changes the verdict: judge the change again.
    if let Some(change) = &request.change
        && let Some(found) = state.store.resolve_change(change).await?
    {
        crate::verdict::enqueue(state, &found.id, None, std::time::Duration::from_secs(1))
            .await
            .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string(), None))?;
    }
    Ok((status, index))
}

/// S000-12: a console change that lacks a field the served repositories' policies require
/// is refused (422) and nothing is stored, as `countersign record` refuses it.
async fn refuse_incomplete_console_change(state: &AppState, evidence: &Evidence) -> ApiResult<()> {
    let now = (state.clock)();
    for config in state.config.repositories.iter().filter(|r| r.git_dir.is_some()) {
        let core = state.store.clone();
        let handle = tokio::runtime::Handle::current();
        let name = config.name.clone();
        let (config, evidence) = (config.clone(), evidence.clone());
        let missing = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<String>> {
            let store = countersign_store::Store::on_runtime(core, handle);
            let git_dir = config.git_dir.as_deref().unwrap_or(std::path::Path::new("."));
            Ok(match crate::governed::open(&store, &config, git_dir, now)? {
                Ok(governed) => countersign_judge::missing_console_fields(&governed.policy, &evidence)
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
                Err(_) => Vec::new(),
            })
        })
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string(), None))?
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}"), None))?;
        if !missing.is_empty() {
            return Err(ApiError(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "the console change lacks {} that the policy of {} requires ([console] required-fields); nothing was stored",
                    missing.iter().map(|m| format!("\"{m}\"")).collect::<Vec<_>>().join(", "),
                    name
                ),
                Some(
                    "add them: \"changedBy\" (who), \"changedAt\" (when), \"system\" (provider), \"description\" (what changed), \"ticket\", and the others under \"fields\"",
                ),
            ));
        }
    }
    Ok(())
}

/// Whether `person` wrote the change, by any name its latest evaluation knows the author by.
async fn is_author(state: &AppState, change: &str, person: &str) -> ApiResult<bool> {
    let Some(found) = state.store.resolve_change(change).await? else { return Ok(false) };
    let Some(row) = state.store.evaluation(&found.id).await? else { return Ok(false) };
    let authors: Vec<String> = serde_json::from_str(&row.authors).unwrap_or_default();
    Ok(authors.iter().any(|a| same_person(a, person)))
}

/// Two names of a person: equal ignoring case, with a forge prefix (`github:alice`) or
/// angle brackets dropped.
pub(crate) fn same_person(author: &str, person: &str) -> bool {
    let clean = |s: &str| {
        let s = s.trim().trim_start_matches('<').trim_end_matches('>').to_lowercase();
        s.rsplit_once(':').map_or(s.clone(), |(_, rest)| rest.to_owned())
    };
    let (author, person) = (clean(author), clean(person));
    !person.is_empty() && author == person
}

async fn checkpoint(State(state): State<Arc<AppState>>, headers: HeaderMap) -> ApiResult<Response> {
    require(&state, &headers, Role::Viewer).await?;
    match state.store.latest_checkpoint().await? {
        Some(note) => Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response()),
        None => Err(ApiError(StatusCode::NOT_FOUND, "nothing has been logged yet".into(), None)),
    }
}

#[derive(Debug, Deserialize)]
struct ProofQuery {
    entry: u64,
}

async fn proof(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    q: Result<Query<ProofQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    require(&state, &headers, Role::Viewer).await?;
    let Ok(Query(q)) = q else {
        return Err(ApiError(StatusCode::BAD_REQUEST, "say which entry: ?entry=N".into(), None));
    };
    let proof = state.store.inclusion_proof(q.entry, None).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], proof.to_text()).into_response())
}

#[derive(Debug, Deserialize)]
struct EntriesQuery {
    from: u64,
    to: Option<u64>,
}

async fn entries(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    q: Result<Query<EntriesQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    require(&state, &headers, Role::Viewer).await?;
    let Ok(Query(q)) = q else {
        return Err(ApiError(StatusCode::BAD_REQUEST, "say which entries: ?from=N&to=M".into(), None));
    };
    let size = state.store.tree_size().await?;
    let to = q.to.unwrap_or(size).min(size).min(q.from.saturating_add(1000));
    let mut out = Vec::new();
    for index in q.from..to {
        let bytes = state.store.entry(index).await?;
        let envelope: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        out.push(json!({ "index": index, "envelope": envelope }));
    }
    Ok(Json(json!({ "size": size, "entries": out })))
}

async fn policy_versions(State(state): State<Arc<AppState>>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    require(&state, &headers, Role::Viewer).await?;
    let versions: Vec<Value> = state
        .store
        .policy_versions()
        .await?
        .into_iter()
        .map(|(version, sha256, entry, published_at)| {
            json!({ "version": version, "sha256": sha256, "entry": entry, "publishedAt": published_at })
        })
        .collect();
    Ok(Json(json!({ "policyVersions": versions })))
}

/// A second operator approves a recorded exception (S000-18), checked against the policy of
/// the served repository (the first with a `git-dir`) as `countersign exception approve`
/// checks it.
async fn approve_exception(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(entry): Path<u64>,
) -> ApiResult<Response> {
    let caller = require(&state, &headers, Role::Approver).await?;
    let Some(config) = state.config.repositories.iter().find(|r| r.git_dir.is_some()).cloned() else {
        return Err(ApiError(
            StatusCode::CONFLICT,
            "no served repository has a git-dir to read the policy that names the approvers from".into(),
            Some("add `git-dir` to the repository in the server's configuration"),
        ));
    };
    let now = (state.clock)();
    let (core, handle, person) = (state.store.clone(), tokio::runtime::Handle::current(), caller.person.clone());
    let decided = tokio::task::spawn_blocking(move || -> anyhow::Result<Result<String, String>> {
        let store = countersign_store::Store::on_runtime(core, handle);
        let git_dir = config.git_dir.clone().unwrap_or_default();
        let governed = match crate::governed::open(&store, &config, &git_dir, now)? {
            Ok(governed) => governed,
            Err(why) => return Ok(Err(why)),
        };
        let requests = countersign_judge::exceptions::recorded_exceptions(&store, &governed.policy)?;
        let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
        Ok(countersign_judge::exceptions::may_approve(&governed.policy, &requests, entry, &person, today))
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string(), None))?
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}"), None))?;
    if let Err(why) = decided {
        return Err(ApiError(StatusCode::FORBIDDEN, why, None));
    }
    let request = RecordRequest {
        change: None,
        recorded_by: caller.person.clone(),
        recorded_at: countersign_store::whole_second(now),
        idempotency_key: None,
        evidence: Evidence::ExceptionApproval { exception: entry },
    };
    let index = match state.store.record(&request).await? {
        AppendOutcome::Appended(i) | AppendOutcome::AlreadyRecorded(i) => i,
    };
    Ok((StatusCode::CREATED, Json(json!({ "entry": index, "exception": entry, "approvedBy": caller.person })))
        .into_response())
}

async fn obligations(State(state): State<Arc<AppState>>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    require(&state, &headers, Role::Viewer).await?;
    let now = (state.clock)();
    let repositories = crate::reminders::obligations(&state, now).await.map_err(|e| {
        tracing::error!(error = %e, "cannot read obligations");
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot read the obligations: {e:#}"), None)
    })?;
    Ok(Json(json!({ "asOf": now, "dueSoon": state.config.due_soon.to_string(), "repositories": repositories })))
}

async fn deliveries(State(state): State<Arc<AppState>>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    require(&state, &headers, Role::Admin).await?;
    let rows: Vec<Value> = state
        .store
        .recent_deliveries(100)
        .await?
        .into_iter()
        .map(|d| {
            json!({ "forge": d.forge, "deliveryId": d.delivery_id, "event": d.event, "sha256": d.sha256,
                    "receivedAt": d.received_at, "entry": d.entry_index, "outcome": d.outcome, "processedAt": d.processed_at })
        })
        .collect();
    Ok(Json(json!({ "deliveries": rows })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_openapi_document_lists_every_endpoint_with_its_role() {
        let doc = openapi_document(None);
        for e in ENDPOINTS {
            let op = &doc["paths"][e.path][e.method];
            assert!(op.is_object(), "{} {} missing from the document", e.method, e.path);
            assert_eq!(op["x-countersign-role"], e.role.map_or("anyone", Role::as_str));
            assert_eq!(op["security"].is_array(), e.role.is_some(), "{}", e.path);
        }
        assert_eq!(doc["paths"].as_object().unwrap().len(), ENDPOINTS.len());
    }

    #[test]
    fn an_author_is_recognised_in_the_engines_spellings() {
        assert!(same_person("<alice@example.com>", "alice@example.com"));
        assert!(same_person("github:alice", "alice"));
        assert!(same_person("alice", "Alice"));
        assert!(!same_person("alice@example.com", "bob@example.com"));
        assert!(!same_person("malice", "alice"));
        assert!(!same_person("", ""));
    }
}
