//! The server's web pages: server-rendered HTML (maud) that works without JavaScript.
//!
//! - `/changes`: changes with their latest verdict, filtered like the API's list;
//! - `/changes/{id}`: a change's classification, every requirement with its status and
//!   evidence, forge links, the log entries about it (each linking to its inclusion proof),
//!   and, for approvers who did not write it, an approve button;
//! - `/dashboard`: each served repository's period (DORA's metrics month by month, the
//!   controls' pass rates, the emergencies' timeline, the forge settings' drift), as the
//!   period report shows it, with the same charts (`crate::charts`);
//! - `/deliveries` (admin): recent webhooks and their outcome;
//! - `/log`: the log's size, its latest checkpoint and the last `log verify`;
//! - `/login`, `/logout`: local accounts (`countersign account create`).
//!
//! People sign in with a password (Argon2id in the store) and get a session cookie
//! (HttpOnly, SameSite=Lax, Secure behind https). Every form that changes something carries
//! the session's CSRF token; the sign-in form carries a token of its own, tied to a cookie.
//! Roles are the API's: [`Role`]. Every response carries the security headers
//! (`crate::router`).

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use countersign_engine::obligations::ObligationState;
use countersign_store::{Caller, EvaluationFilter, Role, Session};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use serde_json::Value;

use crate::AppState;

/// The session cookie.
const SESSION_COOKIE: &str = "countersign_session";
/// The sign-in form's own CSRF cookie (there is no session yet to tie it to).
const LOGIN_COOKIE: &str = "countersign_login";
/// How long a session lasts.
const SESSION_HOURS: i64 = 12;

/// The page routes.
pub fn routes() -> axum::Router<Arc<AppState>> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/", get(|| async { Redirect::to("/changes") }))
        .route("/assets/style.css", get(stylesheet))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/changes", get(changes))
        .route("/changes/{id}", get(change))
        .route("/changes/{id}/approve", post(approve))
        .route("/obligations", get(obligations))
        .route("/dashboard", get(dashboard))
        .route("/deliveries", get(deliveries))
        .route("/log", get(log))
        .route("/log/proof/{entry}", get(proof))
}

/// The pages have no scripts and no inline styles: only this origin's stylesheet. Every
/// response carries this policy and the other headers `crate::router` sets (no framing, no
/// sniffing, no referrer beyond this origin).
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

async fn stylesheet() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        include_str!("style.css"),
    )
}

// --- sessions ---------------------------------------------------------------------------

/// Why a page is not shown.
enum PageError {
    /// Not signed in: go to the sign-in page, then come back.
    SignIn(String),
    Status(StatusCode, String),
    /// Signed in, but the role is not enough: shown with the person's top bar, so they can
    /// sign out and in as someone else.
    Forbidden(Session, String),
}

impl From<countersign_store::StoreError> for PageError {
    fn from(e: countersign_store::StoreError) -> Self {
        match e {
            countersign_store::StoreError::UnknownChange(_) | countersign_store::StoreError::NoSuchEntry { .. } => {
                PageError::Status(StatusCode::NOT_FOUND, e.to_string())
            }
            other => {
                tracing::error!(error = %other, "store error on a page");
                PageError::Status(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the evidence store failed; see the server's log".into(),
                )
            }
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::SignIn(next) => {
                Redirect::to(&format!("/login?next={}", crate::verdict::encode_component(&next))).into_response()
            }
            PageError::Status(status, message) => error_page(status, None, &message),
            PageError::Forbidden(session, message) => error_page(StatusCode::FORBIDDEN, Some(&session), &message),
        }
    }
}

fn error_page(status: StatusCode, session: Option<&Session>, message: &str) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    let body = layout(
        title,
        session,
        "",
        html! {
            h1 { (status.as_u16()) " " (title) }
            p.sub { (message) }
            p { a href="/changes" { "Back to the changes" } }
        },
    );
    (status, body).into_response()
}

type PageResult = Result<Response, PageError>;

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// Where a page request came for: to come back to after signing in.
fn here(uri: &Uri) -> String {
    uri.path_and_query().map_or("/changes", |p| p.as_str()).to_owned()
}

/// The signed-in person, if their role is at least `role`. Without a session: back to
/// `here` after signing in.
async fn signed_in(state: &AppState, headers: &HeaderMap, here: String, role: Role) -> Result<Session, PageError> {
    let Some(cookie) = cookie(headers, SESSION_COOKIE) else { return Err(PageError::SignIn(here)) };
    let Some(session) = state.store.session(cookie).await? else { return Err(PageError::SignIn(here)) };
    if session.role < role {
        let message = format!("This page needs the {role} role; {} is {}.", session.person, session.role);
        return Err(PageError::Forbidden(session, message));
    }
    Ok(session)
}

/// A form's CSRF token matches the session's.
fn check_csrf(session: &Session, sent: &str) -> Result<(), PageError> {
    if countersign_store::tokens::same_digest(&session.csrf, sent) {
        Ok(())
    } else {
        Err(PageError::Status(
            StatusCode::FORBIDDEN,
            "The form's CSRF token does not match this session. Reload the page and try again.".into(),
        ))
    }
}

fn secure(state: &AppState) -> &'static str {
    if state.config.public_url.as_deref().is_some_and(|u| u.starts_with("https://")) { "; Secure" } else { "" }
}

/// A `next` that stays on this server (a path, never `//host` or a scheme).
fn local_path(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/changes".to_owned(),
    }
}

#[derive(Debug, Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_form(State(state): State<Arc<AppState>>, Query(q): Query<NextQuery>) -> PageResult {
    let token = random_token()?;
    let next = local_path(q.next.as_deref());
    let page = login_page(&token, &next, None);
    let set = format!("{LOGIN_COOKIE}={token}; Path=/login; HttpOnly; SameSite=Strict{}", secure(&state));
    Ok(([(header::SET_COOKIE, set), (header::CACHE_CONTROL, "no-store".to_owned())], page).into_response())
}

fn login_page(csrf: &str, next: &str, problem: Option<&str>) -> Html<String> {
    layout(
        "Sign in",
        None,
        "",
        html! {
            h1 { "Sign in" }
            p.sub { "Accounts are made by an administrator with " code { "countersign account create" } "." }
            @if let Some(problem) = problem { div.notice.bad role="alert" { (problem) } }
            div.card {
                form.signin method="post" action="/login" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="next" value=(next);
                    label { "Person (email or login)" input type="text" name="person" autocomplete="username" required autofocus; }
                    label { "Password" input type="password" name="password" autocomplete="current-password" required; }
                    button.primary type="submit" { "Sign in" }
                }
            }
        },
    )
}

fn random_token() -> Result<String, PageError> {
    countersign_store::accounts::random_hex()
        .map_err(|e| PageError::Status(StatusCode::INTERNAL_SERVER_ERROR, format!("no randomness: {e}")))
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    person: String,
    password: String,
    csrf: String,
    next: Option<String>,
}

async fn login(State(state): State<Arc<AppState>>, headers: HeaderMap, Form(form): Form<LoginForm>) -> PageResult {
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !countersign_store::tokens::same_digest(expected, &form.csrf) {
        return Err(PageError::Status(
            StatusCode::FORBIDDEN,
            "The sign-in form has expired or was not sent from this server. Open the sign-in page again.".into(),
        ));
    }
    let next = local_path(form.next.as_deref());
    let ttl = jiff::SignedDuration::from_hours(SESSION_HOURS);
    let Some(session) = state.store.sign_in(form.person.trim(), &form.password, ttl).await? else {
        tracing::info!(person = %form.person.trim(), "a sign-in failed");
        let page = login_page(
            &form.csrf,
            &next,
            Some(
                "Wrong person or password, or the account is disabled or locked (five wrong passwords in a row lock it for 15 minutes).",
            ),
        );
        return Ok((StatusCode::UNAUTHORIZED, [(header::CACHE_CONTROL, "no-store")], page).into_response());
    };
    let set = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        session.cookie,
        SESSION_HOURS * 3600,
        secure(&state)
    );
    let clear = format!("{LOGIN_COOKIE}=; Path=/login; HttpOnly; SameSite=Strict; Max-Age=0{}", secure(&state));
    let mut response = Redirect::to(&next).into_response();
    response.headers_mut().append(header::SET_COOKIE, header_value(&set)?);
    response.headers_mut().append(header::SET_COOKIE, header_value(&clear)?);
    Ok(response)
}

fn header_value(text: &str) -> Result<HeaderValue, PageError> {
    HeaderValue::from_str(text).map_err(|e| PageError::Status(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

#[derive(Debug, Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<CsrfForm>,
) -> PageResult {
    let session = signed_in(&state, &headers, here(&uri), Role::Viewer).await?;
    check_csrf(&session, &form.csrf)?;
    if let Some(cookie) = cookie(&headers, SESSION_COOKIE) {
        state.store.end_session(cookie).await?;
    }
    let clear = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}", secure(&state));
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().append(header::SET_COOKIE, header_value(&clear)?);
    Ok(response)
}

// --- layout -----------------------------------------------------------------------------

/// A whole page: the top bar (with the signed-in person and sign-out), then `body`.
fn layout(title: &str, session: Option<&Session>, current: &str, body: Markup) -> Html<String> {
    let nav = [("/changes", "Changes"), ("/dashboard", "Dashboard"), ("/obligations", "Obligations"), ("/log", "Log")];
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · countersign" }
                link rel="stylesheet" href="/assets/style.css";
            }
            body {
                header.top {
                    a.brand href="/changes" { "countersign" }
                    nav {
                        @if session.is_some() {
                            @for (href, name) in nav {
                                @if href == current { a href=(href) aria-current="page" { (name) } }
                                @else { a href=(href) { (name) } }
                            }
                            @if session.is_some_and(|s| s.role >= Role::Admin) {
                                @if current == "/deliveries" { a href="/deliveries" aria-current="page" { "Deliveries" } }
                                @else { a href="/deliveries" { "Deliveries" } }
                            }
                        }
                    }
                    @if let Some(s) = session {
                        span.who { (s.person) " · " (s.role) }
                        form method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(s.csrf);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main { (body) }
                footer { "countersign " (env!("CARGO_PKG_VERSION")) " · every verdict rests on entries of a signed, append-only log" }
            }
        }
    };
    Html(page.into_string())
}

fn page(markup: Html<String>) -> Response {
    ([(header::CACHE_CONTROL, "no-store")], markup).into_response()
}

fn verdict_badge(verdict: &str) -> Markup {
    let class = match verdict {
        "compliant" => "badge ok",
        "violation" => "badge bad",
        "evidence missing" | "evidence-missing" => "badge warn",
        _ => "badge plain",
    };
    html! { span class=(class) { (verdict.replace('-', " ")) } }
}

fn status_badge(status: &str) -> Markup {
    let class = match status {
        "met" => "badge ok",
        "missing" => "badge bad",
        "waived" | "pending" | "unknown" => "badge warn",
        _ => "badge plain",
    };
    html! { span class=(class) { (status) } }
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

fn change_href(id: &str) -> String {
    format!("/changes/{}", crate::verdict::encode_component(id))
}

// --- changes ----------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct ChangesQuery {
    repository: Option<String>,
    verdict: Option<String>,
    category: Option<String>,
    after: Option<String>,
}

const PAGE_SIZE: u32 = 50;

async fn changes(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<ChangesQuery>,
) -> PageResult {
    let session = signed_in(&state, &headers, here(&uri), Role::Viewer).await?;
    let given = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    let filter = EvaluationFilter {
        repository: given(&q.repository),
        verdict: given(&q.verdict),
        category: given(&q.category),
        since: None,
        until: None,
        after: given(&q.after),
        limit: PAGE_SIZE,
    };
    let rows = state.store.evaluations(&filter).await?;
    let next = (rows.len() == PAGE_SIZE as usize).then(|| rows.last().map(|r| r.change_id.clone())).flatten();
    let next_href = next.map(|after| {
        let mut params = vec![];
        for (name, value) in
            [("repository", &filter.repository), ("verdict", &filter.verdict), ("category", &filter.category)]
        {
            if let Some(v) = value {
                params.push(format!("{name}={}", crate::verdict::encode_component(v)));
            }
        }
        params.push(format!("after={}", crate::verdict::encode_component(&after)));
        format!("/changes?{}", params.join("&"))
    });
    let repositories: Vec<&str> = state.config.repositories.iter().map(|r| r.name.as_str()).collect();
    let selected = |value: &Option<String>, option: &str| value.as_deref() == Some(option);
    let body = html! {
        h1 { "Changes" }
        p.sub { "Each change with the verdict of its latest evaluation. A verdict is judged again after every event from the forge." }
        form.filters method="get" action="/changes" {
            label { "Repository"
                select name="repository" {
                    option value="" { "all" }
                    @for r in &repositories { option value=(r) selected[selected(&filter.repository, r)] { (r) } }
                }
            }
            label { "Verdict"
                select name="verdict" {
                    option value="" { "all" }
                    @for v in ["compliant", "evidence missing", "violation"] {
                        option value=(v) selected[selected(&filter.verdict, v)] { (v) }
                    }
                }
            }
            label { "Category" input type="text" name="category" value=[filter.category.as_deref()] placeholder="any"; }
            button type="submit" { "Filter" }
        }
        @if rows.is_empty() {
            p.empty { "No change matches. Changes appear here once the server has judged them." }
        } @else {
            table {
                thead { tr { th { "Change" } th { "Repository" } th { "Verdict" } th { "Category" } th { "Head" } th { "Evaluated" } } }
                tbody {
                    @for r in &rows {
                        tr {
                            td { a href=(change_href(&r.change_id)) { (r.change_id) } }
                            td { (r.repository) }
                            td { (verdict_badge(&r.verdict)) }
                            td { (r.category) }
                            td.mono { (short(&r.head_sha)) }
                            td { (r.evaluated_at) }
                        }
                    }
                }
            }
        }
        @if let Some(href) = next_href { p.pager { a href=(href) { "Next page →" } } }
    };
    Ok(page(layout("Changes", Some(&session), "/changes", body)))
}

#[derive(Debug, Deserialize)]
struct NoticeQuery {
    approved: Option<u64>,
}

async fn change(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    Query(notice): Query<NoticeQuery>,
) -> PageResult {
    let session = signed_in(&state, &headers, here(&uri), Role::Viewer).await?;
    let record = state.store.resolve_change(&id).await?;
    let change_id = record.as_ref().map_or(id.clone(), |r| r.id.clone());
    let Some(evaluation) = state.store.evaluation(&change_id).await? else {
        return Err(PageError::Status(StatusCode::NOT_FOUND, format!("The server has not judged a change {id:?}.")));
    };
    let evidence = crate::api::change_evidence(&state, &change_id).await.map_err(|e| PageError::Status(e.0, e.1))?;
    let eval: Value = serde_json::from_str(&evaluation.evaluation).unwrap_or(Value::Null);
    let authors: Vec<String> = serde_json::from_str(&evaluation.authors).unwrap_or_default();
    let own = authors.iter().any(|a| crate::api::same_person(a, &session.person));
    let links = forge_links(&state, &evaluation.repository, &change_id, &evaluation.head_sha);
    let text = |v: &Value| v.as_str().unwrap_or("").to_owned();
    let title = text(&eval["change"]["title"]);
    let requirements = eval["requirements"].as_array().cloned().unwrap_or_default();
    let areas = eval["areas"].as_array().cloned().unwrap_or_default();
    let body = html! {
        @if let Some(index) = notice.approved {
            div.notice.ok role="status" { "Your approval is recorded as log entry " (index) ". The change is being judged again." }
        }
        h1 { (change_id) @if !title.is_empty() { ": " (title) } }
        p.sub { (verdict_badge(&evaluation.verdict)) " evaluated " (evaluation.evaluated_at) " at head " code { (short(&evaluation.head_sha)) } }
        div.card {
            dl.facts {
                dt { "Kind" } dd { (text(&eval["change"]["kind"])) }
                dt { "Author" } dd { (text(&eval["change"]["author"])) }
                dt { "Category" } dd { (text(&eval["category"]["name"])) " " span.sub { "(" (text(&eval["category"]["reason"])) ")" } }
                dt { "Risk" } dd { @if eval["risk"].is_null() { "not classified" } @else { (text(&eval["risk"]["name"])) " " span.sub { "(" (text(&eval["risk"]["reason"])) ")" } } }
                @if let Some(stage) = eval["state"]["current"].as_str() {
                    dt { "State" } dd {
                        (stage) @if let Some(at) = eval["state"]["since"].as_str() { " " span.sub { "since " (at) } }
                    }
                }
                dt { "Areas" } dd {
                    @if areas.is_empty() { "none" }
                    @for a in &areas {
                        (text(&a["name"])) @if a["sensitive"] == true { " " span.badge.warn { "sensitive" } } " "
                    }
                }
                dt { "On the forge" } dd {
                    @for (name, href) in &links { a href=(href) rel="noreferrer" { (name) } " " }
                    @if links.is_empty() { "no link (the forge's web address is not known)" }
                }
            }
        }
        h2 { "Requirements" }
        @if requirements.is_empty() {
            p.empty { "The policy asks nothing of this change." }
        } @else {
            table #requirements {
                thead { tr { th { "Requirement" } th { "Asked by" } th { "Status" } th { "Evidence" } } }
                tbody {
                    @for r in &requirements {
                        tr {
                            td { strong { (text(&r["id"])) } br; (text(&r["description"])) }
                            td { (text(&r["required_by"])) }
                            td { (status_badge(&text(&r["status"]))) }
                            td {
                                @let items = r["evidence"].as_array().cloned().unwrap_or_default();
                                @if !items.is_empty() { ul.evidence { @for e in &items { li { (text(e)) } } } }
                                @if let Some(detail) = r["detail"].as_str() { div.sub { (detail) } }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Log entries" }
        @if evidence.is_empty() {
            p.empty { "No recorded evidence names this change yet." }
        } @else {
            table #entries {
                thead { tr { th { "Entry" } th { "Kind" } th { "Recorded by" } th { "Recorded at" } th { "Proof" } } }
                tbody {
                    @for e in &evidence {
                        tr {
                            td.mono { (e.index) }
                            td { (e.evidence.kind()) }
                            td { (e.recorded_by) }
                            td { (e.recorded_at) }
                            td { a href=(format!("/log/proof/{}", e.index)) { "inclusion proof" } }
                        }
                    }
                }
            }
        }
        @if session.role >= Role::Approver {
            h2 { "Approve" }
            @if own {
                p.empty { "You wrote this change, so you cannot approve it." }
            } @else {
                form method="post" action=(format!("{}/approve", change_href(&change_id))) {
                    input type="hidden" name="csrf" value=(session.csrf);
                    input type="hidden" name="commit" value=(evaluation.head_sha);
                    p { "Approve head " code { (short(&evaluation.head_sha)) } " as " strong { (session.person) } ". The approval is signed into the log in your name." }
                    button.primary type="submit" { "Approve" }
                }
            }
        }
    };
    Ok(page(layout(&change_id, Some(&session), "/changes", body)))
}

// --- obligations ------------------------------------------------------------------------

fn obligation_badge(state: ObligationState) -> Markup {
    let class = match state {
        ObligationState::Overdue | ObligationState::FulfilledLate => "badge bad",
        ObligationState::DueSoon => "badge warn",
        ObligationState::Fulfilled => "badge ok",
        ObligationState::Pending => "badge plain",
    };
    html! { span class=(class) { (state.as_str()) } }
}

/// Every emergency obligation of the served repositories, as `countersign obligations`
/// shows them: the overdue and late ones first.
async fn obligations(State(state): State<Arc<AppState>>, headers: HeaderMap, uri: Uri) -> PageResult {
    let session = signed_in(&state, &headers, here(&uri), Role::Viewer).await?;
    let now = (state.clock)();
    let repositories = crate::reminders::obligations(&state, now).await.map_err(|e| {
        tracing::error!(error = %e, "cannot read obligations");
        PageError::Status(StatusCode::INTERNAL_SERVER_ERROR, format!("The obligations cannot be read: {e:#}"))
    })?;
    let body = html! {
        h1 { "Obligations" }
        p.sub { "What each emergency change still owes under the policy (documentation, review, post-mortem, a follow-up change), with its deadline. Overdue and late ones are failures. Judged as of " (now) "." }
        @if repositories.is_empty() {
            p.empty { "No served repository has a git-dir, so there is no history to read obligations from." }
        }
        @for r in &repositories {
            h2 { (r.repository) }
            @if let Some(problem) = &r.problem {
                div.notice.bad role="alert" { "Cannot judge this repository: " (problem) }
            }
            p.counts {
                span.badge.bad { (r.counts.overdue) " overdue" } " "
                span.badge.bad { (r.counts.fulfilled_late) " fulfilled late" } " "
                span.badge.plain { (r.counts.open) " open" } " "
                span.badge.ok { (r.counts.fulfilled) " fulfilled" }
            }
            @if r.obligations.is_empty() {
                p.empty { "No emergency change owes anything." }
            } @else {
                table.obligations {
                    thead { tr { th { "State" } th { "Obligation" } th { "Change" } th { "Due" } th { "Evidence" } } }
                    tbody {
                        @for o in &r.obligations {
                            tr {
                                td { (obligation_badge(o.state)) }
                                td { strong { (o.obligation) } br; span.sub { (o.description) } }
                                td {
                                    @match o.pr_number { Some(n) => { "PR #" (n) } None => { code { (short(&o.change)) } } }
                                    br; span.sub { (o.title) }
                                }
                                td { @match o.due { Some(due) => { (due) } None => { "no due time" } } }
                                td {
                                    @if !o.evidence.is_empty() { ul.evidence { @for e in &o.evidence { li { (e) } } } }
                                    @if let Some(detail) = &o.detail { div.sub { (detail) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page(layout("Obligations", Some(&session), "/obligations", body)))
}

// --- dashboard --------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct PeriodQuery {
    from: Option<String>,
    to: Option<String>,
}

/// A date (`2026-05-01`, midnight UTC) or an RFC 3339 time.
fn parse_time(text: &str) -> Option<jiff::Timestamp> {
    let text = text.trim();
    text.parse::<jiff::Timestamp>().ok().or_else(|| {
        text.parse::<jiff::civil::Date>().ok()?.to_zoned(jiff::tz::TimeZone::UTC).ok().map(|z| z.timestamp())
    })
}

/// The period a dashboard shows: `[from, to)` as asked, by default the current calendar
/// month (UTC) and the two before it, up to now.
fn dashboard_period(q: &PeriodQuery, now: jiff::Timestamp) -> Result<(jiff::Timestamp, jiff::Timestamp), PageError> {
    let given = |v: &Option<String>, name: &str| -> Result<Option<jiff::Timestamp>, PageError> {
        match v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(text) => parse_time(text).map(Some).ok_or_else(|| {
                PageError::Status(StatusCode::BAD_REQUEST, format!("{name} {text:?} is not a date (YYYY-MM-DD)."))
            }),
        }
    };
    let to = given(&q.to, "to")?.unwrap_or(now);
    let from = match given(&q.from, "from")? {
        Some(from) => from,
        None => to
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date()
            .first_of_month()
            .checked_sub(jiff::Span::new().months(2))
            .ok()
            .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
            .map_or(to, |z| z.timestamp()),
    };
    if from >= to {
        return Err(PageError::Status(StatusCode::BAD_REQUEST, format!("from {from} is not before to {to}.")));
    }
    Ok((from, to))
}

/// Each served repository's period at a glance: DORA's metrics and their months, the
/// controls' pass rates, the emergencies' timeline and the drift history, computed as
/// `countersign report` computes them.
async fn dashboard(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<PeriodQuery>,
) -> PageResult {
    let session = signed_in(&state, &headers, here(&uri), Role::Viewer).await?;
    let now = (state.clock)();
    let (from, to) = dashboard_period(&q, now)?;
    let repositories = crate::dashboard::dashboards(&state, from, to, now).await.map_err(|e| {
        tracing::error!(error = %e, "cannot read the dashboard");
        PageError::Status(StatusCode::INTERNAL_SERVER_ERROR, format!("The dashboard cannot be read: {e:#}"))
    })?;
    let date = |t: jiff::Timestamp| t.to_zoned(jiff::tz::TimeZone::UTC).date().to_string();
    let body = html! {
        h1 { "Dashboard" }
        p.sub { "From " (from) " to " (to) " (exclusive), judged as of " (now) ". The figures are the period report's (" code { "countersign report" } ")." }
        form.filters method="get" action="/dashboard" {
            label { "From" input type="date" name="from" value=(date(from)); }
            label { "To (exclusive)" input type="date" name="to" value=(date(to)); }
            button type="submit" { "Show" }
        }
        @if repositories.is_empty() {
            p.empty { "No served repository has a git-dir, so there is no history to read." }
        }
        @for r in &repositories {
            section.repository {
                h2 { (r.repository) }
                @if let Some(problem) = &r.problem {
                    div.notice.bad role="alert" { "Cannot judge this repository: " (problem) }
                }
                @if let Some(dora) = &r.dora {
                    div.figures {
                        div.figure { b { (format!("{:.2}", dora.deployments_per_week)) } span { "deploys a week" } }
                        div.figure { b { (crate::charts::hours(dora.lead_time_hours)) } span { "lead time (median)" } }
                        div.figure { b { (crate::charts::percent(dora.change_fail_rate)) } span { "change fail rate" } }
                        div.figure { b { (crate::charts::hours(dora.recovery_hours)) } span { "recovery (median)" } }
                        div.figure { b { (crate::charts::percent(dora.rework_rate)) } span { "rework rate" } }
                        div.figure { b { (r.changes) } span { "changes in the period" } }
                    }
                    h3 { "Delivery metrics (DORA), month by month" }
                    div.card.chart-card {
                        (crate::charts::monthly(dora))
                        (crate::charts::trends(&r.by_month))
                    }
                    table.metrics {
                        tbody { @for (label, value) in crate::charts::metric_rows(dora) { tr { td { (label) } td { (value) } } } }
                    }
                }
                h3 { "Control pass rates" }
                @if r.controls.is_empty() {
                    p.empty { "The policy maps no control (add [[policy.controls]])." }
                } @else {
                    div.card.chart-card { (crate::charts::pass_rates(&r.controls)) }
                }
                h3 { "Emergencies and their obligations" }
                @if r.emergencies.is_empty() {
                    p.empty { "No emergency change in the period." }
                } @else {
                    div.card.chart-card { (crate::charts::emergency_timeline(&r.emergencies, from, to, now)) }
                    (crate::charts::emergency_table(&r.emergencies))
                }
                h3 { "Forge settings drift" }
                @if r.drift.is_empty() {
                    p.empty { "No collector ran in the period (a policy's [[collectors]], or countersign collect branch-protection)." }
                } @else {
                    div.card.chart-card { (crate::charts::drift_history(&r.drift, from, to)) }
                    (crate::charts::drift_table(&r.drift))
                }
            }
        }
    };
    Ok(page(layout("Dashboard", Some(&session), "/dashboard", body)))
}

/// Links to the change and its head on the forge's web pages, when its address is known:
/// `web-url`, else the public forges by default, a self-hosted one from `api-url`.
fn forge_links(state: &AppState, repository: &str, change_id: &str, head: &str) -> Vec<(String, String)> {
    use countersign_forge::webhook::Forge;
    let Some(repo) = state.config.repositories.iter().find(|r| r.name == repository) else { return Vec::new() };
    let web = match (&repo.web_url, &repo.api_url, repo.forge) {
        (Some(web), _, _) => Some(web.trim_end_matches('/').to_owned()),
        (None, Some(api), _) => {
            let api = api.trim_end_matches('/');
            ["/api/v3", "/api/v4", "/api/v1"]
                .iter()
                .find_map(|s| api.strip_suffix(s))
                .map(str::to_owned)
                .or_else(|| (api == "https://api.github.com").then(|| "https://github.com".to_owned()))
        }
        (None, None, Forge::GitHub) => Some("https://github.com".to_owned()),
        (None, None, Forge::GitLab) => Some("https://gitlab.com".to_owned()),
        (None, None, _) => None,
    };
    let Some(web) = web else { return Vec::new() };
    let number = change_id.rsplit_once('#').map(|(_, n)| n).filter(|n| n.bytes().all(|b| b.is_ascii_digit()));
    let mut out = Vec::new();
    if let Some(n) = number {
        let (name, path) = match repo.forge {
            Forge::GitLab => (format!("merge request !{n}"), format!("{web}/{repository}/-/merge_requests/{n}")),
            Forge::GitHub => (format!("pull request #{n}"), format!("{web}/{repository}/pull/{n}")),
            _ => (format!("pull request #{n}"), format!("{web}/{repository}/pulls/{n}")),
        };
        out.push((name, path));
    }
    if !head.is_empty() {
        let path = match repo.forge {
            Forge::GitLab => format!("{web}/{repository}/-/commit/{head}"),
            _ => format!("{web}/{repository}/commit/{head}"),
        };
        out.push((format!("commit {}", short(head)), path));
    }
    out
}

#[derive(Debug, Deserialize)]
struct ApproveForm {
    csrf: String,
    commit: Option<String>,
}

async fn approve(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<ApproveForm>,
) -> PageResult {
    let session = signed_in(&state, &headers, change_href(&id), Role::Approver).await?;
    check_csrf(&session, &form.csrf)?;
    let caller = Caller { token_id: "web-session".into(), role: session.role, person: session.person.clone() };
    let mut request = serde_json::json!({ "kind": "approval", "change": id, "approver": session.person });
    if let Some(commit) = form.commit.filter(|c| !c.is_empty()) {
        request["commit"] = commit.into();
    }
    match crate::api::record_as(&state, &caller, request).await {
        Ok((_, index)) => Ok(Redirect::to(&format!("{}?approved={index}", change_href(&id))).into_response()),
        Err(e) => Err(PageError::Status(e.0, e.1)),
    }
}

// --- deliveries and the log -------------------------------------------------------------

async fn deliveries(State(state): State<Arc<AppState>>, headers: HeaderMap, uri: Uri) -> PageResult {
    let session = signed_in(&state, &headers, here(&uri), Role::Admin).await?;
    let rows = state.store.recent_deliveries(100).await?;
    let body = html! {
        h1 { "Deliveries" }
        p.sub { "The most recent webhooks from the forges. Each was stored, with its raw bytes, as a log entry before the forge got its answer." }
        @if rows.is_empty() {
            p.empty { "No webhook has arrived yet. Point the forge's webhook at /hooks/github, /hooks/gitea or /hooks/gitlab." }
        } @else {
            table {
                thead { tr { th { "Received" } th { "Forge" } th { "Event" } th { "Delivery" } th { "Entry" } th { "Outcome" } } }
                tbody {
                    @for d in &rows {
                        tr {
                            td { (d.received_at) }
                            td { (d.forge) }
                            td { (d.event) }
                            td.mono { (d.delivery_id) }
                            td.mono { a href=(format!("/log/proof/{}", d.entry_index)) { (d.entry_index) } }
                            td {
                                @match d.outcome.as_deref() {
                                    None => { span.badge.plain { "queued" } }
                                    Some(o) if o.starts_with("failed") => { span.badge.bad { (o) } }
                                    Some(o) => { span.badge.ok { (o) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page(layout("Deliveries", Some(&session), "/deliveries", body)))
}

async fn log(State(state): State<Arc<AppState>>, headers: HeaderMap, uri: Uri) -> PageResult {
    let session = signed_in(&state, &headers, here(&uri), Role::Viewer).await?;
    let size = state.store.tree_size().await?;
    let checkpoint = state.store.latest_checkpoint().await?;
    let verification = state.store.last_verification().await?;
    let body = html! {
        h1 { "The evidence log" }
        p.sub { "An append-only log of signed entries under a Merkle tree (RFC 6962). Anyone with the public key can verify it offline." }
        div.card {
            dl.facts {
                dt { "Entries" } dd { (size) }
                dt { "Last verified" } dd {
                    @match &verification {
                        None => { span.badge.warn { "never" } " run " code { "countersign log verify" } " to prove the whole log" }
                        Some(v) if v.ok => { span.badge.ok { "verified" } " " (v.verified_at) ": " (v.summary) }
                        Some(v) => { span.badge.bad { "FAILED" } " " (v.verified_at) ": " (v.summary) }
                    }
                }
            }
        }
        h2 { "Latest signed checkpoint" }
        @match &checkpoint {
            Some(note) => { pre { (note) } }
            None => { p.empty { "Nothing has been logged yet." } }
        }
    };
    Ok(page(layout("Log", Some(&session), "/log", body)))
}

async fn proof(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    Path(entry): Path<String>,
) -> PageResult {
    let session = signed_in(&state, &headers, here(&uri), Role::Viewer).await?;
    let Ok(index) = entry.parse::<u64>() else {
        return Err(PageError::Status(StatusCode::BAD_REQUEST, format!("{entry:?} is not an entry number.")));
    };
    let proof = state.store.inclusion_proof(index, None).await?;
    let body = html! {
        h1 { "Inclusion proof of entry " (index) }
        p.sub { "This proves that entry " (index) " is in the log under the signed checkpoint below (C2SP tlog-proof). Check it offline with " code { "countersign evidence verify" } " or any RFC 6962 verifier." }
        pre { (proof.to_text()) }
    };
    Ok(page(layout(&format!("Entry {index}"), Some(&session), "/log", body)))
}
