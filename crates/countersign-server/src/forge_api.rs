//! The forges' REST APIs, for what the server writes back: a commit status carrying the
//! verdict (GitHub `POST /repos/{repo}/statuses/{sha}`, Gitea/Forgejo the same path under
//! `/api/v1`, GitLab `POST /projects/{id}/statuses/{sha}`).
//!
//! Blocking (ureq), so callers run it on a blocking thread. Every answer's rate-limit
//! headroom is read (`X-RateLimit-Remaining`, GitLab `RateLimit-Remaining`); a 403 or 429
//! that says the limit is spent becomes [`ApiError::RateLimited`] with the wait the forge
//! asked for (`Retry-After`, else until `X-RateLimit-Reset`), which the job queue honours.

use std::time::Duration;

use countersign_forge::webhook::Forge;

/// A verdict as a commit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusPost {
    pub sha: String,
    pub state: StatusState,
    pub context: String,
    pub description: String,
    pub target_url: Option<String>,
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub rate_remaining: Option<u64>,
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
        }
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

    fn send(&self, method: &'static str, path: &str, body: &[u8]) -> Result<Answer, ApiError> {
        let forge = self.forge.name();
        let url = format!("{}{path}", self.api_url);
        let (auth_name, auth_value) = match self.forge {
            Forge::GitHub => ("Authorization", format!("Bearer {}", self.token)),
            Forge::GitLab => ("PRIVATE-TOKEN", self.token.clone()),
            Forge::Gitea => ("Authorization", format!("token {}", self.token)),
        };
        let request = self
            .agent
            .post(&url)
            .header(auth_name, &auth_value)
            .header("Accept", "application/json")
            .header("Content-Type", "application/json");
        let request =
            if self.forge == Forge::GitHub { request.header("X-GitHub-Api-Version", "2022-11-28") } else { request };
        let mut response =
            request.send(body).map_err(|e| ApiError::Transport { forge, url: url.clone(), message: e.to_string() })?;
        let status = response.status().as_u16();
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let rate_remaining =
            header("x-ratelimit-remaining").or_else(|| header("ratelimit-remaining")).and_then(|v| v.parse().ok());
        let retry_after = header("retry-after").and_then(|v| v.parse::<u64>().ok());
        let reset =
            header("x-ratelimit-reset").or_else(|| header("ratelimit-reset")).and_then(|v| v.parse::<i64>().ok());
        if (200..300).contains(&status) {
            return Ok(Answer { status, rate_remaining });
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
