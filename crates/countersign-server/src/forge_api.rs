//! The forges' REST APIs, for what the server writes back: a commit status carrying the
//! verdict (GitHub `POST /repos/{repo}/statuses/{sha}`, Gitea/Forgejo the same path under
//! `/api/v1`, GitLab `POST /projects/{id}/statuses/{sha}`), or, for a GitHub App, a check run
//! (`POST /repos/{repo}/check-runs`) whose text lists every requirement.
//!
//! A GitHub App authenticates with a JWT it signs itself (RS256, nine minutes) and exchanges
//! it for an installation token (`POST /app/installations/{id}/access_tokens`), which is
//! cached until five minutes before it expires ([`TokenCache`]).
//!
//! Blocking (ureq), so callers run it on a blocking thread. Every answer's rate-limit
//! headroom is read (`X-RateLimit-Remaining`, GitLab `RateLimit-Remaining`); a 403 or 429
//! that says the limit is spent becomes [`ApiError::RateLimited`] with the wait the forge
//! asked for (`Retry-After`, else until `X-RateLimit-Reset`), which the job queue honours.

use std::time::Duration;

use countersign_forge::webhook::Forge;

/// A verdict as a commit status (or a check run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusPost {
    pub sha: String,
    pub state: StatusState,
    pub context: String,
    pub description: String,
    pub target_url: Option<String>,
    /// Markdown listing every requirement with its status and evidence: a check run's text.
    pub details: String,
    /// The change, as a check run's `external_id`.
    pub change_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusState {
    Success,
    Failure,
    Pending,
}

impl StatusState {
    /// The word stored and compared: GitHub's and Gitea's.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusState::Success => "success",
            StatusState::Failure => "failure",
            StatusState::Pending => "pending",
        }
    }

    /// The word this forge's API takes.
    fn wire(self, forge: Forge) -> &'static str {
        match (forge, self) {
            (Forge::GitLab, StatusState::Failure) => "failed",
            (_, state) => state.as_str(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the forge's rate limit is spent; retry in {} s", .retry_after.as_secs())]
    RateLimited { retry_after: Duration },
    #[error("{forge} answered {status} to {method} {path}: {message}")]
    Status { forge: &'static str, method: &'static str, path: String, status: u16, message: String },
    #[error("cannot reach {forge} at {url}: {message}")]
    Transport { forge: &'static str, url: String, message: String },
}

/// What the forge said besides the body: rate-limit headroom, for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub rate_remaining: Option<u64>,
    /// The body (at most 64 KiB).
    pub body: Vec<u8>,
}

/// The API root when the configuration names none.
pub fn default_api_url(forge: Forge) -> Option<&'static str> {
    match forge {
        Forge::GitHub => Some("https://api.github.com"),
        Forge::GitLab => Some("https://gitlab.com/api/v4"),
        // Gitea and Forgejo are self-hosted: there is no default.
        Forge::Gitea => None,
    }
}

/// A client for one repository on one forge.
pub struct Client {
    forge: Forge,
    api_url: String,
    repository: String,
    token: String,
    agent: ureq::Agent,
    /// Seconds since the Unix epoch, for `X-RateLimit-Reset` (the caller's clock).
    now_seconds: i64,
    /// Earlier GET answers, for conditional requests.
    etags: Option<EtagCache>,
}

impl Client {
    pub fn new(forge: Forge, api_url: &str, repository: &str, token: &[u8], now_seconds: i64) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .user_agent("countersign")
            .build()
            .into();
        Self {
            forge,
            api_url: api_url.trim_end_matches('/').to_owned(),
            repository: repository.to_owned(),
            token: String::from_utf8_lossy(token).trim().to_owned(),
            agent,
            now_seconds,
            etags: None,
        }
    }

    /// Make GET requests conditional on the answers `cache` keeps (`If-None-Match`).
    pub fn with_etags(mut self, cache: EtagCache) -> Self {
        self.etags = Some(cache);
        self
    }

    /// The request path (after the API root) that sets a commit status.
    pub fn status_path(&self, sha: &str) -> String {
        match self.forge {
            Forge::GitLab => format!("/projects/{}/statuses/{sha}", self.repository.replace('/', "%2F")),
            Forge::GitHub | Forge::Gitea => format!("/repos/{}/statuses/{sha}", self.repository),
        }
    }

    /// The JSON body of a status request.
    pub fn status_body(&self, post: &StatusPost) -> serde_json::Value {
        let name = if self.forge == Forge::GitLab { "name" } else { "context" };
        let mut body = serde_json::json!({
            "state": post.state.wire(self.forge),
            name: post.context,
            "description": post.description,
        });
        if let Some(url) = &post.target_url {
            body["target_url"] = url.clone().into();
        }
        body
    }

    /// Set a commit status.
    pub fn post_status(&self, post: &StatusPost) -> Result<Answer, ApiError> {
        let path = self.status_path(&post.sha);
        let body = serde_json::to_vec(&self.status_body(post)).unwrap_or_default();
        self.send("POST", &path, &body)
    }

    /// The JSON body of a check run: completed with success or failure, or still in
    /// progress while evidence is missing (so a required check keeps the merge waiting,
    /// as a pending status does; `neutral` would let it through).
    pub fn check_run_body(post: &StatusPost) -> serde_json::Value {
        let mut body = serde_json::json!({
            "name": post.context,
            "head_sha": post.sha,
            "external_id": post.change_id,
            "output": {
                "title": post.description,
                "summary": format!("countersign: {}", post.description),
                "text": post.details,
            },
        });
        match post.state {
            StatusState::Pending => body["status"] = "in_progress".into(),
            done => {
                body["status"] = "completed".into();
                body["conclusion"] = done.as_str().into();
            }
        }
        if let Some(url) = &post.target_url {
            body["details_url"] = url.clone().into();
        }
        body
    }

    /// Create a check run (GitHub Apps only).
    pub fn post_check_run(&self, post: &StatusPost) -> Result<Answer, ApiError> {
        let body = serde_json::to_vec(&Self::check_run_body(post)).unwrap_or_default();
        self.send("POST", &format!("/repos/{}/check-runs", self.repository), &body)
    }

    /// The path (after the API root) of a deployment protection rule's callback, when
    /// `callback_url` is this forge's API and this repository's run: a payload is signed,
    /// but a URL in it is still only data, and a token is never sent anywhere else.
    pub fn deployment_callback_path(&self, callback_url: &str) -> Option<String> {
        let path = callback_url.strip_prefix(&self.api_url)?;
        let run = path.strip_prefix(&format!("/repos/{}/actions/runs/", self.repository))?;
        let id = run.strip_suffix("/deployment_protection_rule")?;
        (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then(|| path.to_owned())
    }

    /// The GitHub Actions run a deployment protection rule's callback belongs to (the
    /// callback path checked by [`Client::deployment_callback_path`]): the workflow file it
    /// runs and who started it, which the deploy gate's `sanctioned-path` and `by-hand`
    /// judge. GET `/repos/{owner}/{repo}/actions/runs/{id}`.
    pub fn workflow_run(&self, callback_path: &str) -> Result<WorkflowRun, ApiError> {
        let path = callback_path.strip_suffix("/deployment_protection_rule").unwrap_or(callback_path).to_owned();
        let answer = self.send("GET", &path, b"")?;
        #[derive(serde::Deserialize)]
        struct Actor {
            login: String,
        }
        #[derive(serde::Deserialize)]
        struct Run {
            path: String,
            event: Option<String>,
            triggering_actor: Option<Actor>,
        }
        let run: Run = self.read_json("GET", &path, &answer, "a workflow run")?;
        // A run of a reusable or another repository's workflow names it
        // `owner/repo/.github/workflows/x.yml@ref`; this repository's is its path alone.
        let mut workflow = run.path.split('@').next().unwrap_or_default();
        if let Some(own) = workflow.strip_prefix(&format!("{}/", self.repository)) {
            workflow = own;
        }
        Ok(WorkflowRun {
            workflow: workflow.to_owned(),
            event: run.event,
            triggered_by: run.triggering_actor.map(|a| a.login),
        })
    }

    /// GitLab: the external status checks of merge request `iid` (GET
    /// `/projects/:id/merge_requests/:iid/status_checks`), and the rate-limit headroom.
    pub fn status_checks(&self, iid: u64) -> Result<(Vec<StatusCheck>, Option<u64>), ApiError> {
        let path = format!("/projects/{}/merge_requests/{iid}/status_checks", self.repository.replace('/', "%2F"));
        let answer = self.send("GET", &path, b"")?;
        let checks = self.read_json("GET", &path, &answer, "a list of status checks")?;
        Ok((checks, answer.rate_remaining))
    }

    /// GitLab: answer external status check `check` of merge request `iid` for commit `sha`
    /// (POST `/projects/:id/merge_requests/:iid/status_check_responses`).
    pub fn answer_status_check(&self, iid: u64, check: u64, sha: &str, state: StatusState) -> Result<Answer, ApiError> {
        let path =
            format!("/projects/{}/merge_requests/{iid}/status_check_responses", self.repository.replace('/', "%2F"));
        let status = match state {
            StatusState::Success => "passed",
            StatusState::Failure => "failed",
            StatusState::Pending => "pending",
        };
        let body = serde_json::json!({ "sha": sha, "external_status_check_id": check, "status": status });
        self.send("POST", &path, &serde_json::to_vec(&body).unwrap_or_default())
    }

    /// GET `path` for a collector: the answer as it was received (status and body), for the
    /// log and for [`crate::protection`] to read. A 404 is an answer too (a branch that is not
    /// protected, a GitLab tier without approval rules), kept with the forge's message; any
    /// other failure is an error.
    pub fn get_raw(&self, path: &str) -> Result<RawAnswer, ApiError> {
        match self.send("GET", path, b"") {
            Ok(answer) => Ok(RawAnswer { path: path.to_owned(), status: answer.status, body: answer.body }),
            Err(ApiError::Status { status: 404, message, .. }) => {
                Ok(RawAnswer { path: path.to_owned(), status: 404, body: message.into_bytes() })
            }
            Err(e) => Err(e),
        }
    }

    /// The repository as this forge's API paths name it: `owner/name`, or GitLab's
    /// URL-encoded project path.
    pub fn repository_path(&self) -> String {
        match self.forge {
            Forge::GitLab => format!("/projects/{}", self.repository.replace('/', "%2F")),
            Forge::GitHub | Forge::Gitea => format!("/repos/{}", self.repository),
        }
    }

    /// The path of GitLab's approval of a deployment waiting in a protected environment.
    pub fn deployment_approval_path(&self, deployment_id: u64) -> String {
        format!("/projects/{}/deployments/{deployment_id}/approval", self.repository.replace('/', "%2F"))
    }

    /// Answer a deployment waiting for approval: `approved` or `rejected`, with a comment
    /// (GitHub's deployment protection rule callback, GitLab's deployment approval).
    pub fn review_deployment(
        &self,
        callback_path: &str,
        environment: &str,
        approved: bool,
        comment: &str,
    ) -> Result<Answer, ApiError> {
        let verdict = if approved { "approved" } else { "rejected" };
        let body = match self.forge {
            Forge::GitLab => serde_json::json!({ "status": verdict, "comment": comment }),
            Forge::GitHub | Forge::Gitea => serde_json::json!({
                "environment_name": environment,
                "state": verdict,
                "comment": comment,
            }),
        };
        self.send("POST", callback_path, &serde_json::to_vec(&body).unwrap_or_default())
    }

    /// Exchange an app JWT (this client's token) for an installation token and its expiry.
    pub fn installation_token(&self, installation_id: u64) -> Result<(String, jiff::Timestamp), ApiError> {
        let path = format!("/app/installations/{installation_id}/access_tokens");
        let answer = self.send("POST", &path, b"")?;
        #[derive(serde::Deserialize)]
        struct Token {
            token: String,
            expires_at: jiff::Timestamp,
        }
        let token: Token = self.read_json("POST", &path, &answer, "an installation token")?;
        Ok((token.token, token.expires_at))
    }

    /// A successful answer's body as `T`; a body that is not one is an error naming `what`
    /// was expected.
    fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        method: &'static str,
        path: &str,
        answer: &Answer,
        what: &str,
    ) -> Result<T, ApiError> {
        serde_json::from_slice(&answer.body).map_err(|e| ApiError::Status {
            forge: self.forge.name(),
            method,
            path: path.to_owned(),
            status: answer.status,
            message: format!("not {what}: {e}"),
        })
    }

    fn send(&self, method: &'static str, path: &str, body: &[u8]) -> Result<Answer, ApiError> {
        let forge = self.forge.name();
        let url = format!("{}{path}", self.api_url);
        let (auth_name, auth_value) = match self.forge {
            Forge::GitHub => ("Authorization", format!("Bearer {}", self.token)),
            Forge::GitLab => ("PRIVATE-TOKEN", self.token.clone()),
            Forge::Gitea => ("Authorization", format!("token {}", self.token)),
        };
        let version = if self.forge == Forge::GitHub { "2022-11-28" } else { "" };
        let cached = if method == "GET" { self.etags.as_ref().and_then(|c| c.get(&url, &self.token)) } else { None };
        let sent = if method == "GET" {
            let mut request = self.agent.get(&url).header(auth_name, &auth_value).header("Accept", "application/json");
            if let Some((etag, _)) = &cached {
                request = request.header("If-None-Match", etag);
            }
            if version.is_empty() { request.call() } else { request.header("X-GitHub-Api-Version", version).call() }
        } else {
            let request = self
                .agent
                .post(&url)
                .header(auth_name, &auth_value)
                .header("Accept", "application/json")
                .header("Content-Type", "application/json");
            if version.is_empty() {
                request.send(body)
            } else {
                request.header("X-GitHub-Api-Version", version).send(body)
            }
        };
        let mut response = sent.map_err(|e| ApiError::Transport { forge, url: url.clone(), message: e.to_string() })?;
        let status = response.status().as_u16();
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let rate_remaining =
            header("x-ratelimit-remaining").or_else(|| header("ratelimit-remaining")).and_then(|v| v.parse().ok());
        let retry_after = header("retry-after").and_then(|v| v.parse::<u64>().ok());
        let reset =
            header("x-ratelimit-reset").or_else(|| header("ratelimit-reset")).and_then(|v| v.parse::<i64>().ok());
        let etag = header("etag");
        if status == 304
            && let Some((_, body)) = cached
        {
            // Not modified: the kept answer stands.
            return Ok(Answer { status: 200, rate_remaining, body });
        }
        if (200..300).contains(&status) {
            let mut body = Vec::new();
            use std::io::Read as _;
            let _ = response.body_mut().as_reader().take(64 * 1024).read_to_end(&mut body);
            if method == "GET"
                && let (Some(cache), Some(etag)) = (&self.etags, etag)
            {
                cache.put(&url, &self.token, etag, body.clone());
            }
            return Ok(Answer { status, rate_remaining, body });
        }
        if status == 429 || (status == 403 && (retry_after.is_some() || rate_remaining == Some(0))) {
            let wait = retry_after.or_else(|| reset.map(|r| (r - self.now_seconds).max(1) as u64)).unwrap_or(60);
            return Err(ApiError::RateLimited { retry_after: Duration::from_secs(wait.min(3600)) });
        }
        let text = response.body_mut().with_config().limit(64 * 1024).read_to_string().unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("message").map(|m| m.to_string()))
            .unwrap_or_else(|| text.chars().take(300).collect());
        Err(ApiError::Status { forge, method, path: path.to_owned(), status, message })
    }
}

/// A forge's answer as it was received, for a collector's log entry.
#[derive(Debug, Clone)]
pub struct RawAnswer {
    pub path: String,
    pub status: u16,
    pub body: Vec<u8>,
}

/// One external status check of a GitLab merge request.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct StatusCheck {
    pub id: u64,
    pub external_url: String,
}

/// What a workflow run says about how a deployment was started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowRun {
    /// The workflow file, repository-relative (`.github/workflows/release.yml`).
    pub workflow: String,
    /// The event that started the run (`workflow_dispatch`, `push`, …).
    pub event: Option<String>,
    /// Who started (or re-ran) it.
    pub triggered_by: Option<String>,
}

/// The JWT a GitHub App signs to ask for an installation token: RS256 over
/// `{"iat": now - 60, "exp": now + 540, "iss": app_id}` (GitHub allows ten minutes and
/// advises backdating `iat` against clock drift).
pub fn app_jwt(app_id: u64, private_key_pem: &[u8], now_seconds: i64) -> Result<String, String> {
    use base64::Engine as _;
    use rustls_pki_types::pem::PemObject as _;
    use rustls_pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer};
    let not_rsa =
        |e: &dyn std::fmt::Display| format!("the private key is not an RSA key in PEM (PKCS#1 or PKCS#8): {e}");
    let key = match PrivateKeyDer::from_pem_slice(private_key_pem).map_err(|e| not_rsa(&e))? {
        PrivateKeyDer::Pkcs1(der) => ring::rsa::KeyPair::from_der(PrivatePkcs1KeyDer::secret_pkcs1_der(&der)),
        PrivateKeyDer::Pkcs8(der) => ring::rsa::KeyPair::from_pkcs8(PrivatePkcs8KeyDer::secret_pkcs8_der(&der)),
        _ => return Err(not_rsa(&"it is an EC (SEC1) key")),
    }
    .map_err(|e| not_rsa(&e))?;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let header = b64(br#"{"alg":"RS256","typ":"JWT"}"#);
    let claims =
        serde_json::json!({ "iat": now_seconds - 60, "exp": now_seconds + 540, "iss": app_id.to_string() }).to_string();
    let signing_input = format!("{header}.{}", b64(claims.as_bytes()));
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .map_err(|_| "signing the JWT failed".to_owned())?;
    Ok(format!("{signing_input}.{}", b64(&signature)))
}

/// Installation tokens by (API root, installation), each with its expiry. A cache only:
/// losing it costs one token request.
#[derive(Debug, Default)]
pub struct TokenCache(std::sync::Mutex<std::collections::HashMap<(String, u64), (String, jiff::Timestamp)>>);

impl TokenCache {
    /// A cached token still good five minutes after `now`.
    pub fn get(&self, api_url: &str, installation_id: u64, now: jiff::Timestamp) -> Option<String> {
        let cache = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (token, expires) = cache.get(&(api_url.to_owned(), installation_id))?;
        (now.saturating_add(jiff::SignedDuration::from_mins(5)).ok()? < *expires).then(|| token.clone())
    }

    pub fn put(&self, api_url: &str, installation_id: u64, token: String, expires: jiff::Timestamp) {
        let mut cache = self.0.lock().unwrap_or_else(|e| e.into_inner());
        cache.insert((api_url.to_owned(), installation_id), (token, expires));
    }
}

/// Bodies of earlier GET answers by URL and token, with their `ETag`, for conditional
/// requests: GitHub answers `304 Not Modified` to a matching `If-None-Match` without
/// charging the rate limit. A cache only: at most [`EtagCache::CAPACITY`] answers, and
/// losing it costs one full request.
#[derive(Debug, Default, Clone)]
pub struct EtagCache(std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, Kept>>>);

/// One kept answer: its `ETag` and body.
type Kept = (String, Vec<u8>);

impl EtagCache {
    pub const CAPACITY: usize = 1024;

    fn key(url: &str, token: &str) -> String {
        // The token is part of the key (an answer is what that token may see), hashed.
        format!("{url} {}", countersign_store::evidence::sha256_hex(token.as_bytes()))
    }

    fn get(&self, url: &str, token: &str) -> Option<(String, Vec<u8>)> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).get(&Self::key(url, token)).cloned()
    }

    fn put(&self, url: &str, token: &str, etag: String, body: Vec<u8>) {
        let mut cache = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= Self::CAPACITY {
            cache.clear();
        }
        cache.insert(Self::key(url, token), (etag, body));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_verdict_is_a_check_run_in_progress_never_neutral() {
        let post = StatusPost {
            sha: "a".repeat(40),
            state: StatusState::Pending,
            context: "countersign".into(),
            description: "evidence missing: review".into(),
            target_url: Some("https://cs.example/changes/a%2Fb%231".into()),
            details: "- review: unknown".into(),
            change_id: "a/b#1".into(),
        };
        let body = Client::check_run_body(&post);
        assert_eq!(body["status"], "in_progress");
        assert!(body.get("conclusion").is_none());
        assert_eq!(body["details_url"], "https://cs.example/changes/a%2Fb%231");
        assert_eq!(body["output"]["text"], "- review: unknown");
        let failed = Client::check_run_body(&StatusPost { state: StatusState::Failure, ..post });
        assert_eq!((failed["status"].as_str(), failed["conclusion"].as_str()), (Some("completed"), Some("failure")));
    }
}
