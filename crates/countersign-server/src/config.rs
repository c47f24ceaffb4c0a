//! The server's configuration file (TOML): where it listens, its store, and the
//! repositories it serves, each with its forge and webhook secret.
//!
//! It is read the way the policy is read ([`countersign_policy::reader`]): every problem is
//! reported at once, at its line, with the same codes and rendering as `policy check`.
//! Secrets are never written into the file: each is `{ env = "NAME" }` or
//! `{ file = "/path" }`, resolved when the server starts (and by `--check-config`), so the
//! file itself can be reviewed and committed.
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! database = "sqlite:/var/lib/countersign/countersign.db"
//!
//! [[repositories]]
//! name = "acme/payments"
//! forge = "github"
//! webhook-secret = { env = "GITHUB_WEBHOOK_SECRET" }
//!
//! [[notify]]                  # reminders about emergency obligations
//! url = "https://hooks.example.com/countersign"
//! secret = { env = "REMINDER_SECRET" }
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use countersign_forge::webhook::Forge;
use countersign_policy::Diagnostic;
use countersign_policy::diag::codes;
use countersign_policy::model::Span;
use countersign_policy::reader::{Ctx, Table, read_toml};
use toml::de::DeValue;

/// GitHub's largest webhook payload; larger bodies are refused with 413.
pub const DEFAULT_MAX_BODY: u64 = 25 * 1024 * 1024;

/// A validated configuration. Secrets are references until [`ServerConfig::resolve_secrets`].
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: Option<SocketAddr>,
    pub database: Option<String>,
    pub key_file: Option<PathBuf>,
    /// The server's address as forges and people reach it, for links in statuses.
    pub public_url: Option<String>,
    pub max_body: u64,
    /// The name verdicts are posted under (GitHub/Gitea status `context`, GitLab `name`).
    pub status_context: String,
    pub repositories: Vec<RepositoryConfig>,
    /// Where reminders about emergency obligations go (`[[notify]]`).
    pub notify: Vec<NotifyTarget>,
    /// How often the server looks for obligations to remind of (`reminder-every`).
    pub reminder_every: std::time::Duration,
    /// How close to its deadline an obligation is reminded of as due soon (`due-soon`).
    pub due_soon: jiff::SignedDuration,
}

/// How often obligations are looked at unless `reminder-every` says otherwise.
pub const DEFAULT_REMINDER_EVERY: jiff::SignedDuration = jiff::SignedDuration::from_mins(5);
/// How close to its deadline an obligation is due soon unless `due-soon` says otherwise.
pub const DEFAULT_DUE_SOON: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

/// One place reminders are sent: an HTTP endpoint taking JSON (signed with HMAC-SHA256) or
/// a Slack-compatible incoming webhook.
#[derive(Debug, Clone)]
pub struct NotifyTarget {
    pub url: NotifyUrl,
    pub format: NotifyFormat,
    /// Signs each body: `X-Countersign-Signature-256: sha256=<hex HMAC-SHA256>`. Required
    /// for `json`; optional for `slack`, whose URL is its secret.
    pub secret: Option<Secret>,
}

/// A target's URL: written in the file, or (a Slack webhook URL is itself a secret) read
/// from the environment or a file like other secrets.
#[derive(Debug, Clone)]
pub enum NotifyUrl {
    Plain(String),
    Secret(Secret),
}

impl NotifyUrl {
    /// The URL (a secret one once resolved).
    pub fn value(&self) -> String {
        match self {
            NotifyUrl::Plain(url) => url.clone(),
            NotifyUrl::Secret(secret) => String::from_utf8_lossy(secret.value()).trim().to_owned(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyFormat {
    /// countersign's own JSON document (`type`, `obligation`, `due`, …).
    Json,
    /// `{"text": …}`, as Slack (and Mattermost, Rocket.Chat, Teams workflows) take it.
    Slack,
}

impl NotifyFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyFormat::Json => "json",
            NotifyFormat::Slack => "slack",
        }
    }
}

/// The status context verdicts are posted under unless `status-context` says otherwise.
pub const DEFAULT_STATUS_CONTEXT: &str = "countersign";

#[derive(Debug, Clone)]
pub struct RepositoryConfig {
    /// `owner/name` (GitLab: the project's full path).
    pub name: String,
    pub forge: Forge,
    pub webhook_secret: Secret,
    /// An API token, to post statuses back (optional until statuses are posted).
    pub token: Option<Secret>,
    pub api_url: Option<String>,
    /// GitHub App credentials: the server authenticates as the app's installation and posts
    /// check runs (apps may; plain tokens may only set commit statuses).
    pub github_app: Option<GitHubApp>,
    /// The forge's web address, for links from the pages (default: github.com or gitlab.com,
    /// or `api-url` without its `/api/v…` path).
    pub web_url: Option<String>,
    /// The policy file's path in the repository (read from its default branch).
    pub policy: String,
    /// A local clone or mirror of the repository, for git evidence and the policy.
    pub git_dir: Option<PathBuf>,
    /// Who may bypass the branch protection (`bypass-allowed`), as the forge names them:
    /// `Type:id` (`Team:234`, `Integration:5`, GitLab `Group:12`, Gitea `User:alice`) or a
    /// type alone (`OrganizationAdmin`). Forges report bypass actors by id, which the policy
    /// cannot name, so the operator lists the ids that stand for the policy's emergency
    /// authorizers; the branch-protection collector reports any other as drift.
    pub bypass_allowed: Vec<String>,
}

/// A GitHub App installation: the app's id, the installation's id, and the app's private
/// key (PEM, PKCS#1 or PKCS#8), which signs the short JWT exchanged for installation tokens.
#[derive(Debug, Clone)]
pub struct GitHubApp {
    pub app_id: u64,
    pub installation_id: u64,
    pub private_key: Secret,
}

/// Where a secret comes from, and (once resolved) its value.
#[derive(Clone)]
pub struct Secret {
    pub source: SecretSource,
    /// Where the reference is written in the configuration file.
    pub span: Span,
    value: Option<Vec<u8>>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the value.
        f.debug_struct("Secret").field("source", &self.source).field("resolved", &self.value.is_some()).finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Env(String),
    File(PathBuf),
}

impl Secret {
    /// The secret's bytes; empty until resolved.
    pub fn value(&self) -> &[u8] {
        self.value.as_deref().unwrap_or_default()
    }

    /// Read the secret through `lookup`; a problem is a diagnostic at its reference. An
    /// empty secret is refused too (it would accept any signature made with "").
    fn resolve(&mut self, lookup: &dyn SecretLookup, owner: &str) -> Option<Diagnostic> {
        let found = match &self.source {
            SecretSource::Env(name) => lookup
                .env(name)
                .map(String::into_bytes)
                .ok_or_else(|| format!("the environment variable {name} is not set")),
            SecretSource::File(path) => {
                lookup.file(path).map_err(|e| format!("cannot read the secret file {}: {e}", path.display()))
            }
        };
        // A trailing newline in a secret file is not part of the secret.
        let found = found.map(|mut v| {
            while v.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                v.pop();
            }
            v
        });
        match found {
            Ok(v) if !v.is_empty() => {
                self.value = Some(v);
                None
            }
            Ok(_) => Some(
                Diagnostic::new(
                    codes::INVALID_VALUE,
                    format!("the secret for {owner} is empty"),
                    self.span.clone(),
                    "empty",
                )
                .with_help("set a long random secret, and the same one in the forge's webhook settings"),
            ),
            Err(problem) => Some(
                Diagnostic::new(codes::INVALID_VALUE, problem, self.span.clone(), "cannot be read")
                    .with_help("export the variable (or create the file) before starting `countersign serve`"),
            ),
        }
    }
}

/// How the binary looks secrets up: environment variables and files. Tests pass their own.
pub trait SecretLookup {
    fn env(&self, name: &str) -> Option<String>;
    fn file(&self, path: &std::path::Path) -> Result<Vec<u8>, String>;
}

/// The process environment and the file system.
pub struct ProcessSecrets;

impl SecretLookup for ProcessSecrets {
    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn file(&self, path: &std::path::Path) -> Result<Vec<u8>, String> {
        countersign_store::bounded::read_file(path, countersign_store::bounded::SECRET_LIMIT, "secret file")
            .map_err(|e| e.to_string())
    }
}

const TOP_KEYS: &[&str] = &[
    "listen",
    "database",
    "key-file",
    "public-url",
    "max-body",
    "status-context",
    "repositories",
    "notify",
    "reminder-every",
    "due-soon",
];
const NOTIFY_KEYS: &[&str] = &["url", "format", "secret"];
const REPO_KEYS: &[&str] = &[
    "name",
    "forge",
    "webhook-secret",
    "token",
    "api-url",
    "web-url",
    "policy",
    "git-dir",
    "app-id",
    "installation-id",
    "private-key",
    "bypass-allowed",
];

/// Parse and validate a configuration: what could be read (`None` only when the text is
/// not TOML), and every error and warning found. The configuration is usable only when no
/// diagnostic is an error; a partial one still lets `--check-config` look up its secrets.
pub fn parse(text: &str) -> (Option<ServerConfig>, Vec<Diagnostic>) {
    let (config, ctx) = read_toml(text, build);
    (config, ctx.diags)
}

fn build(ctx: &mut Ctx, root: &toml::de::DeTable<'_>, span: Span) -> ServerConfig {
    let top = Table::open(ctx, root, span, "", TOP_KEYS);
    let listen = top.str(ctx, "listen").and_then(|s| match s.value.parse::<SocketAddr>() {
        Ok(addr) => Some(addr),
        Err(_) => {
            ctx.push(
                Diagnostic::new(codes::INVALID_VALUE, "`listen` is not an address and port", s.span, "not IP:PORT")
                    .with_help("write it as \"127.0.0.1:8080\" (or \"0.0.0.0:8080\" to listen on every interface)"),
            );
            None
        }
    });
    let database = top.str(ctx, "database").map(|s| s.value);
    let key_file = top.str(ctx, "key-file").map(|s| PathBuf::from(s.value));
    let public_url = top.str(ctx, "public-url").and_then(|s| url_value(ctx, "public-url", s.value, s.span));
    let max_body = match top.int(ctx, "max-body") {
        Some(n) if n.value > 0 => n.value as u64,
        Some(n) => {
            ctx.push(Diagnostic::new(
                codes::INVALID_VALUE,
                "`max-body` must be a positive number of bytes",
                n.span,
                "not positive",
            ));
            DEFAULT_MAX_BODY
        }
        None => DEFAULT_MAX_BODY,
    };
    let status_context = top.str(ctx, "status-context").map_or_else(|| DEFAULT_STATUS_CONTEXT.to_owned(), |s| s.value);
    let mut repositories = Vec::new();
    let mut seen: BTreeMap<String, Span> = BTreeMap::new();
    for table in top.tables(ctx, "repositories", REPO_KEYS) {
        let Some(name) = table.req_str(ctx, "name") else { continue };
        if !name.value.contains('/') || name.value.split('/').any(str::is_empty) {
            ctx.push(
                Diagnostic::new(
                    codes::INVALID_VALUE,
                    format!("repository name {:?} is not owner/name", name.value),
                    name.span.clone(),
                    "expected owner/name",
                )
                .with_help("write the repository as the forge names it, e.g. \"acme/payments\" (GitLab: \"group/subgroup/project\")"),
            );
        }
        if let Some(first) = seen.insert(name.value.clone(), name.span.clone()) {
            ctx.push(
                Diagnostic::new(
                    codes::DUPLICATE,
                    format!("repository {:?} is configured twice", name.value),
                    name.span.clone(),
                    "again here",
                )
                .with_secondary(first, "first here"),
            );
        }
        let forge = table.req_str(ctx, "forge").and_then(|f| {
            let forge = Forge::from_name(&f.value);
            if forge.is_none() {
                ctx.push(
                    Diagnostic::new(
                        codes::INVALID_VALUE,
                        format!("unknown forge {:?}", f.value),
                        f.span,
                        "not a forge countersign serves",
                    )
                    .with_help("write one of \"github\", \"gitea\", \"forgejo\", \"gitlab\""),
                );
            }
            forge
        });
        let webhook_secret = secret(ctx, &table, "webhook-secret", true);
        let token = secret(ctx, &table, "token", false);
        let api_url = table.str(ctx, "api-url").and_then(|s| url_value(ctx, "api-url", s.value, s.span));
        let web_url = table.str(ctx, "web-url").and_then(|s| url_value(ctx, "web-url", s.value, s.span));
        let github_app = github_app(ctx, &table, forge);
        let policy = table.str(ctx, "policy").map_or_else(|| "countersign.toml".to_owned(), |s| s.value);
        let git_dir = table.str(ctx, "git-dir").map(|s| PathBuf::from(s.value));
        let bypass_allowed = table.str_list(ctx, "bypass-allowed").into_iter().map(|s| s.value).collect();
        if let (Some(forge), Some(webhook_secret)) = (forge, webhook_secret) {
            repositories.push(RepositoryConfig {
                name: name.value,
                forge,
                webhook_secret,
                token,
                api_url,
                web_url,
                github_app,
                policy,
                git_dir,
                bypass_allowed,
            });
        }
    }
    if repositories.is_empty() && !top.has("repositories") {
        ctx.push(
            Diagnostic::new(
                codes::MISSING_KEY,
                "the configuration serves no repository",
                top.span.clone(),
                "add a [[repositories]] table",
            )
            .with_help("add [[repositories]] with name, forge and webhook-secret = { env = \"…\" }"),
        );
    }
    let notify = top.tables(ctx, "notify", NOTIFY_KEYS).into_iter().filter_map(|t| notify_target(ctx, &t)).collect();
    let mut duration = |key: &str, default: jiff::SignedDuration| {
        let Some(s) = top.str(ctx, key) else { return default };
        match countersign_policy::units::parse_duration(&s.value) {
            Some(d) if d.seconds > 0 => jiff::SignedDuration::from_secs(d.seconds),
            _ => {
                ctx.push(
                    Diagnostic::new(
                        codes::INVALID_VALUE,
                        format!("`{key}` is not a duration"),
                        s.span,
                        "not a duration",
                    )
                    .with_help("write a number and a unit: \"30m\", \"24h\", \"5d\""),
                );
                default
            }
        }
    };
    let reminder_every = duration("reminder-every", DEFAULT_REMINDER_EVERY).unsigned_abs();
    let due_soon = duration("due-soon", DEFAULT_DUE_SOON);
    ServerConfig {
        listen,
        database,
        key_file,
        public_url,
        max_body,
        status_context,
        repositories,
        notify,
        reminder_every,
        due_soon,
    }
}

/// One `[[notify]]` table: `url` (text, or a secret reference for a Slack URL), `format`
/// (`json`, the default, or `slack`) and `secret` (required for `json`).
fn notify_target(ctx: &mut Ctx, table: &Table<'_, '_>) -> Option<NotifyTarget> {
    let url = match table.get("url").map(|v| v.get_ref()) {
        Some(DeValue::Table(_)) => secret(ctx, table, "url", true).map(NotifyUrl::Secret),
        _ => {
            let url = table.req_str(ctx, "url")?;
            url_value(ctx, "url", url.value, url.span).map(NotifyUrl::Plain)
        }
    };
    let format = match table.str(ctx, "format") {
        None => Some(NotifyFormat::Json),
        Some(f) if f.value == "json" => Some(NotifyFormat::Json),
        Some(f) if f.value == "slack" => Some(NotifyFormat::Slack),
        Some(f) => {
            ctx.push(
                Diagnostic::new(codes::INVALID_VALUE, format!("unknown format {:?}", f.value), f.span, "not a format")
                    .with_help("write \"json\" (countersign's signed JSON) or \"slack\" (an incoming-webhook message)"),
            );
            None
        }
    };
    let secret = secret(ctx, table, "secret", format == Some(NotifyFormat::Json));
    if format == Some(NotifyFormat::Json) && secret.is_none() {
        return None;
    }
    Some(NotifyTarget { url: url?, format: format?, secret })
}

/// `app-id`, `installation-id` and `private-key` together, on a GitHub repository.
fn github_app(ctx: &mut Ctx, table: &Table<'_, '_>, forge: Option<Forge>) -> Option<GitHubApp> {
    let keys = ["app-id", "installation-id", "private-key"];
    if !keys.iter().any(|k| table.has(k)) {
        return None;
    }
    let id = |ctx: &mut Ctx, key: &str| match table.int(ctx, key) {
        Some(n) if n.value > 0 => Some(n.value as u64),
        Some(n) => {
            ctx.push(
                Diagnostic::new(
                    codes::INVALID_VALUE,
                    format!("`{key}` must be a positive number"),
                    n.span,
                    "not an id",
                )
                .with_help("copy it from the app's settings page on GitHub"),
            );
            None
        }
        None => {
            ctx.push(
                Diagnostic::new(
                    codes::MISSING_KEY,
                    format!("{} sets part of a GitHub App but not `{key}`", table.name),
                    table.span.clone(),
                    format!("add `{key}`"),
                )
                .with_help("a GitHub App needs app-id, installation-id and private-key = { file = \"…\" } together"),
            );
            None
        }
    };
    let app_id = id(ctx, "app-id");
    let installation_id = id(ctx, "installation-id");
    let private_key = secret(ctx, table, "private-key", true);
    if forge.is_some_and(|f| f != Forge::GitHub) {
        ctx.push(
            Diagnostic::new(
                codes::INVALID_VALUE,
                "GitHub App credentials on a repository that is not on GitHub",
                table.span.clone(),
                "app-id, installation-id and private-key are for forge = \"github\"",
            )
            .with_help("use `token` for Gitea, Forgejo and GitLab"),
        );
        return None;
    }
    Some(GitHubApp { app_id: app_id?, installation_id: installation_id?, private_key: private_key? })
}

fn url_value(ctx: &mut Ctx, key: &str, value: String, span: Span) -> Option<String> {
    if value.starts_with("http://") || value.starts_with("https://") {
        Some(value.trim_end_matches('/').to_owned())
    } else {
        ctx.push(
            Diagnostic::new(
                codes::INVALID_VALUE,
                format!("`{key}` is not an http(s) URL"),
                span,
                "expected http:// or https://",
            )
            .with_help(format!("write `{key}` as a full URL, e.g. \"https://countersign.example.com\"")),
        );
        None
    }
}

/// A secret reference: `{ env = "NAME" }` or `{ file = "/path" }`. Text written in place
/// is refused: a configuration file is reviewed, copied and committed.
fn secret(ctx: &mut Ctx, table: &Table<'_, '_>, key: &str, required: bool) -> Option<Secret> {
    let Some(value) = table.get(key) else {
        if required {
            ctx.push(
                Diagnostic::new(
                    codes::MISSING_KEY,
                    format!("{} is missing the required key `{key}`", table.name),
                    table.span.clone(),
                    format!("add `{key} = {{ env = \"…\" }}` here"),
                )
                .with_help("secrets are read from an environment variable or a file: { env = \"NAME\" } or { file = \"/run/secrets/name\" }"),
            );
        }
        return None;
    };
    match value.get_ref() {
        DeValue::String(_) => {
            ctx.push(
                Diagnostic::new(
                    codes::SECRET_IN_TEXT,
                    format!("`{key}` is written into the configuration"),
                    value.span(),
                    "a secret in plain text",
                )
                .with_help(format!(
                    "move the secret out of this file and write `{key} = {{ env = \"NAME\" }}` or `{key} = {{ file = \"/run/secrets/name\" }}`"
                )),
            );
            None
        }
        DeValue::Table(_) => {
            let inner = Table::from_value(ctx, value, key, &["env", "file"])?;
            let source = match (inner.str(ctx, "env"), inner.str(ctx, "file")) {
                (Some(env), None) => SecretSource::Env(env.value),
                (None, Some(file)) => SecretSource::File(PathBuf::from(file.value)),
                _ => {
                    ctx.push(
                        Diagnostic::new(
                            codes::INVALID_VALUE,
                            format!("`{key}` must name exactly one of env or file"),
                            value.span(),
                            "env or file",
                        )
                        .with_help(format!("write `{key} = {{ env = \"NAME\" }}` or `{key} = {{ file = \"/path\" }}`")),
                    );
                    return None;
                }
            };
            Some(Secret { source, span: value.span(), value: None })
        }
        _ => {
            countersign_policy::reader::wrong_type(ctx, key, "a table", value);
            None
        }
    }
}

impl ServerConfig {
    /// Read every secret. Each one that cannot be read is a diagnostic at its reference;
    /// an empty secret is refused too (it would accept any signature made with "").
    pub fn resolve_secrets(&mut self, lookup: &dyn SecretLookup) -> Vec<Diagnostic> {
        let mut diags = Vec::new();
        for repo in &mut self.repositories {
            let app_key = repo.github_app.as_mut().map(|app| &mut app.private_key);
            for secret in std::iter::once(&mut repo.webhook_secret).chain(repo.token.as_mut()).chain(app_key) {
                diags.extend(secret.resolve(lookup, &repo.name));
            }
        }
        for target in &mut self.notify {
            let url = match &mut target.url {
                NotifyUrl::Secret(secret) => Some(secret),
                NotifyUrl::Plain(_) => None,
            };
            for secret in url.into_iter().chain(target.secret.as_mut()) {
                diags.extend(secret.resolve(lookup, "a [[notify]] target"));
            }
        }
        diags
    }

    /// The repositories served through this forge.
    pub fn repositories_of(&self, forge: Forge) -> impl Iterator<Item = &RepositoryConfig> {
        self.repositories.iter().filter(move |r| r.forge == forge)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPOSITORY: &str =
        "[[repositories]]\nname = \"acme/app\"\nforge = \"github\"\nwebhook-secret = { env = \"S\" }\n";

    fn messages(text: &str) -> Vec<String> {
        parse(text).1.iter().filter(|d| d.is_error()).map(|d| d.message.clone()).collect()
    }

    #[test]
    fn notify_targets_are_read_with_their_defaults() {
        let text = format!(
            "{REPOSITORY}\n[[notify]]\nurl = \"https://hooks.example.com/cs\"\nsecret = {{ env = \"R\" }}\n\n[[notify]]\nurl = {{ file = \"/run/secrets/slack\" }}\nformat = \"slack\"\n"
        );
        let (config, diags) = parse(&text);
        assert!(diags.is_empty(), "{diags:?}");
        let config = config.unwrap();
        assert_eq!(config.notify.len(), 2);
        assert_eq!(config.notify[0].format, NotifyFormat::Json);
        assert!(matches!(&config.notify[0].url, NotifyUrl::Plain(u) if u == "https://hooks.example.com/cs"));
        assert!(
            matches!(&config.notify[1].url, NotifyUrl::Secret(s) if s.source == SecretSource::File("/run/secrets/slack".into()))
        );
        assert!(config.notify[1].secret.is_none());
        assert_eq!(config.reminder_every, std::time::Duration::from_secs(300));
        assert_eq!(config.due_soon, jiff::SignedDuration::from_hours(24));
    }

    #[test]
    fn bad_notify_targets_and_durations_are_errors() {
        let text = format!(
            "reminder-every = \"often\"\ndue-soon = \"12h\"\n{REPOSITORY}\n[[notify]]\nurl = \"https://hooks.example.com/cs\"\n\n[[notify]]\nurl = \"hooks.example.com\"\nformat = \"slack\"\n\n[[notify]]\nurl = \"https://x.example\"\nformat = \"teams\"\nsecret = \"inline\"\n"
        );
        let errors = messages(&text);
        for expected in [
            "`reminder-every` is not a duration",
            "is missing the required key `secret`",
            "`url` is not an http(s) URL",
            "unknown format \"teams\"",
            "`secret` is written into the configuration",
        ] {
            assert!(errors.iter().any(|e| e.contains(expected)), "{expected:?} not in {errors:#?}");
        }
        assert_eq!(parse(&text).0.unwrap().due_soon, jiff::SignedDuration::from_hours(12));
    }

    #[test]
    fn a_notify_secret_that_cannot_be_read_is_reported() {
        struct Nothing;
        impl SecretLookup for Nothing {
            fn env(&self, name: &str) -> Option<String> {
                (name == "S").then(|| "webhook".into())
            }
            fn file(&self, _: &std::path::Path) -> Result<Vec<u8>, String> {
                Err("no such file".into())
            }
        }
        let text = format!("{REPOSITORY}\n[[notify]]\nurl = {{ file = \"/nope\" }}\nformat = \"slack\"\n");
        let mut config = parse(&text).0.unwrap();
        let diags = config.resolve_secrets(&Nothing);
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert!(diags[0].message.contains("cannot read the secret file /nope"), "{}", diags[0].message);
    }
}
