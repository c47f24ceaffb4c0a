//! The store's commands, for the `countersign` binary to flatten into its own:
//! `init`, `record`, `log verify|proof|checkpoint`, `evidence export|verify`.
//!
//! Exit codes: [`run`] returns `Ok(ExitCode::SUCCESS)` when all is well and
//! `Ok(ExitCode::from(1))` when verification failed; any `Err` means the tool could not do
//! its job, which the binary reports with exit code 2.
//!
//! A `record` about a change the store does not know is refused — unless the reference is
//! a commit that exists in the repository given by `--repo` (checked with
//! `git cat-file -e <rev>^{commit}`), in which case that commit is registered as a change
//! (id = its full commit id) first.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use countersign_log::audit::AuditOptions;
use countersign_log::note::LogVerifier;
use jiff::Timestamp;

use crate::bounded::{self, CHECKPOINT_LIMIT, RECORD_LIMIT};
use crate::evidence::{ApprovalType, CheckOutcome, Evidence, RecordDocument, RecordRequest};
use crate::publish::{CheckpointPublisher, FilePublisher, GitRefPublisher};
use crate::{AppendOutcome, ChangeRef, OpenOptions, Store, keys, package, parse_pr_reference};

/// Output format, as the binary's `--format` option gives it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
    Markdown,
}

/// Checks a record against the policy in force before anything is stored. The binary
/// supplies it, because the store knows no policy. It gets `--policy` (if given) and the
/// request, and refuses with an error that says what is wrong.
pub type RecordCheck = std::sync::Arc<dyn Fn(Option<&str>, &RecordRequest) -> anyhow::Result<()> + Send + Sync>;

/// What the store's commands need from the binary's global options.
#[derive(Clone)]
pub struct CliContext {
    pub format: Format,
    /// `--database` (or `COUNTERSIGN_DATABASE_URL`, which the binary reads).
    pub database_url: Option<String>,
    /// `--key-file` (or `COUNTERSIGN_KEY_FILE`).
    pub key_file: Option<PathBuf>,
    /// `--repo`: where `record` may look up a commit that is not a registered change.
    pub repo: Option<PathBuf>,
    /// The repository's identity as changes are registered under it (`owner/repo`).
    pub repository: Option<String>,
    /// Where local state lives when no path is given: `<git-dir>/countersign/`, never the
    /// working tree (a key there is one `git add .` away from a leak). `None` outside a
    /// repository.
    pub state_dir: Option<PathBuf>,
    /// The wall clock: records are stamped with it, and the store stamps checkpoints.
    pub clock: crate::Clock,
    /// Validates `record` requests against the policy; `None` accepts any well-formed record.
    pub check_record: Option<RecordCheck>,
    /// The log's public key that entries and checkpoints are proven with (`--log-vkey`);
    /// default: the key file's, else the one recorded in the database (with a warning).
    pub log_vkey: Option<String>,
    /// Publish every new checkpoint to this file (or `latest.checkpoint` in this directory).
    pub checkpoint_file: Option<PathBuf>,
    /// Publish every new checkpoint under this ref of the repository (`None`: do not).
    pub checkpoint_ref: Option<String>,
    /// Sends a record to a countersign server (`record --server`); the binary provides it,
    /// since the store does no HTTP.
    pub remote_record: Option<RemoteRecord>,
}

/// `record --server URL`: post the record document (the `record --json` fields) to the
/// server's API; the answer is the entry index and who the server recorded it as.
pub type RemoteRecord = std::sync::Arc<dyn Fn(&str, &serde_json::Value) -> anyhow::Result<(u64, String)> + Send + Sync>;

/// The default file names inside [`CliContext::state_dir`].
pub const DEFAULT_DATABASE: &str = "countersign.db";
pub const DEFAULT_KEY_FILE: &str = "countersign.key";

impl CliContext {
    fn state_file(&self, name: &str, flag: &str, env: &str) -> anyhow::Result<PathBuf> {
        let dir = self.state_dir.as_ref().with_context(|| {
            format!("not inside a git repository, so there is no default for the {name}\nhint: pass {flag} or set {env}, or use --repo PATH")
        })?;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(dir.join(name))
    }

    /// The evidence store's URL: `--database`, else `<git-dir>/countersign/countersign.db`.
    pub fn database_url(&self) -> anyhow::Result<String> {
        match &self.database_url {
            Some(url) if !url.is_empty() => Ok(url.clone()),
            _ => Ok(self.state_file(DEFAULT_DATABASE, "--database", "COUNTERSIGN_DATABASE_URL")?.display().to_string()),
        }
    }

    /// Where new checkpoints are published outside the database: `--checkpoint-file`, and
    /// the git ref (`--checkpoint-ref`, default `refs/countersign/checkpoints`) when inside
    /// a repository.
    pub fn publishers(&self) -> Vec<Box<dyn CheckpointPublisher>> {
        let mut out: Vec<Box<dyn CheckpointPublisher>> = Vec::new();
        if let Some(path) = self.checkpoint_file.as_ref().filter(|p| !p.as_os_str().is_empty()) {
            out.push(Box::new(FilePublisher::new(path)));
        }
        if let (Some(refname), Some(_)) = (&self.checkpoint_ref, &self.state_dir) {
            let repo = self.repo.clone().unwrap_or_else(|| PathBuf::from("."));
            out.push(Box::new(GitRefPublisher::new(&repo, refname, self.clock)));
        }
        out
    }

    /// Open the store to read evidence for verdicts: the trusted key set, and the
    /// published checkpoints read as anchors, so that every entry a verdict uses is proven
    /// first ([`Store::proven_scan`]).
    pub fn open_for_reading(&self, create: bool) -> anyhow::Result<Store> {
        let url = self.database_url()?;
        let mut store = Store::open(&url, &OpenOptions { create, clock: self.clock })?;
        if let Some(verifier) = trusted_key(self, None, &store, false)? {
            store.trust_key(verifier)?;
            store.set_publishers(self.publishers())?;
        }
        Ok(store)
    }

    /// Open the store to append: the signing key loaded first (a missing key leaves the
    /// database untouched), checkpoints published where configured.
    pub fn open_for_writing(&self) -> anyhow::Result<Store> {
        let signer = keys::load_key(&self.key_file()?)?;
        let url = self.database_url()?;
        let mut store = Store::open(&url, &OpenOptions { create: false, clock: self.clock })?;
        store.set_signer(signer)?;
        store.set_publishers(self.publishers())?;
        Ok(store)
    }

    /// Who records, when `--by` is not given: `$USER`, then git's `user.email`.
    pub fn default_recorder(&self) -> Option<String> {
        default_recorder(self)
    }

    /// The log signing key: `--key-file`, else `<git-dir>/countersign/countersign.key`.
    pub fn key_file(&self) -> anyhow::Result<PathBuf> {
        match &self.key_file {
            Some(path) if !path.as_os_str().is_empty() => Ok(path.clone()),
            _ => self.state_file(DEFAULT_KEY_FILE, "--key-file", "COUNTERSIGN_KEY_FILE"),
        }
    }
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum StoreCommand {
    /// Create the log's signing key (mode 0600) and the evidence database.
    Init {
        /// The log's name: the checkpoint origin and key name (no spaces or '+').
        #[arg(long, default_value = "countersign")]
        origin: String,
    },
    /// Record evidence about a change in the append-only log.
    Record(RecordArgs),
    /// Inspect and verify the evidence log.
    Log {
        #[command(subcommand)]
        command: LogCommand,
    },
    /// Export and verify evidence packages for auditors.
    Evidence {
        #[command(subcommand)]
        command: EvidenceCommand,
    },
    /// Create, list and revoke the API tokens of `countersign serve`.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Sign-in accounts for the pages of `countersign serve`.
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
}

#[derive(Debug, Clone, clap::Subcommand)]
#[command(
    after_help = "An account signs a person in to the server's pages, with the same roles as API tokens\n(viewer, recorder, approver, admin). Passwords are read from standard input, never from the\ncommand line, and kept only as Argon2id hashes.\n\nExample:\n  printf '%s\\n' \"$PASSWORD\" | countersign account create --person alice@example.com --role approver\n  countersign account list\n  countersign account disable alice@example.com"
)]
pub enum AccountCommand {
    /// Create an account; the password is read from standard input (one line).
    Create {
        #[arg(long, value_parser = ["viewer", "recorder", "approver", "admin"])]
        role: String,
        /// The person (their email or login, as the policy names them).
        #[arg(long)]
        person: String,
    },
    /// Give an account a new password (read from standard input); this ends its sessions and
    /// enables it again.
    SetPassword { person: String },
    /// Disable an account; its sessions end at once.
    Disable { person: String },
    /// List accounts (never their passwords).
    List,
}

#[derive(Debug, Clone, clap::Subcommand)]
#[command(
    after_help = "Roles, each including the ones before it:\n  viewer    read changes, evaluations, the log and policy versions\n  recorder  also record evidence (checks, deploys, …) in the token's person's name\n  approver  also approve changes, as that person (never their own change)\n  admin     also read webhook deliveries\n\nExample:\n  countersign token create --role recorder --person ci-bot@example.com --note \"GitHub Actions\"\n  curl -H \"Authorization: Bearer $TOKEN\" https://countersign.example.com/api/v1/changes"
)]
pub enum TokenCommand {
    /// Create a token; it is printed once and only its hash is kept.
    Create {
        #[arg(long, value_parser = ["viewer", "recorder", "approver", "admin"])]
        role: String,
        /// The person the token acts as (their email or login, as the policy names them).
        #[arg(long)]
        person: String,
        /// What the token is for.
        #[arg(long)]
        note: Option<String>,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token by its id (the part after `cs_`).
    Revoke { id: String },
}

/// Evidence kinds `record` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RecordKind {
    Approval,
    Check,
    Deploy,
    Emergency,
    ConsoleChange,
    Exception,
    Obligation,
    ObligationFulfilled,
    Incident,
}

#[derive(Debug, Clone, clap::Args)]
pub struct RecordArgs {
    /// The kind of evidence (not needed with --json, whose `kind` field says it).
    #[arg(value_enum)]
    pub kind: Option<RecordKind>,
    /// Read the record from a JSON document (a file, or - for stdin).
    #[arg(long, value_name = "FILE|-")]
    pub json: Option<String>,
    /// The change it is about: a change id (`pr#12`, a commit id) or a commit of a change.
    /// For an incident (`--caused-by`), the change that caused it.
    #[arg(long, visible_alias = "caused-by")]
    pub change: Option<String>,
    /// Who records it (default: $USER, then git's user.email).
    #[arg(long)]
    pub by: Option<String>,
    /// Makes a repeat a no-op, e.g. a webhook delivery id.
    #[arg(long)]
    pub idempotency_key: Option<String>,
    /// Record through a countersign server's API instead of the database, so a CI job needs
    /// no database credentials or log key. The token ($COUNTERSIGN_TOKEN) says who records:
    /// --by is not needed, and an approval is the token's person's own.
    #[arg(long, value_name = "URL", env = "COUNTERSIGN_SERVER")]
    pub server: Option<String>,
    /// The policy every record is checked against (people, obligations, rules,
    /// environments): a file, or `bundled[:NAME]`. Default: countersign.toml in the repository.
    #[arg(long, value_name = "FILE", env = "COUNTERSIGN_POLICY")]
    pub policy: Option<String>,
    /// approval: who approved.
    #[arg(long)]
    pub approver: Option<String>,
    /// approval: review, ack or emergency-authorization.
    #[arg(long, value_parser = ["review", "ack", "emergency-authorization"])]
    pub approval_type: Option<String>,
    /// approval, check, deploy: the commit concerned.
    #[arg(long)]
    pub commit: Option<String>,
    /// check: the check's name.
    #[arg(long)]
    pub name: Option<String>,
    /// check: success, failure, pending or skipped; deploy: success or failure.
    #[arg(long, value_parser = ["success", "failure", "pending", "skipped"])]
    pub status: Option<String>,
    /// check: a link to the run.
    #[arg(long)]
    pub url: Option<String>,
    /// deploy, incident: the environment.
    #[arg(long)]
    pub environment: Option<String>,
    /// deploy: the artifact's digest.
    #[arg(long)]
    pub artifact_digest: Option<String>,
    /// emergency: who declared it (default: --by).
    #[arg(long)]
    pub declared_by: Option<String>,
    /// emergency: why.
    #[arg(long)]
    pub reason: Option<String>,
    /// emergency, incident: the incident reference.
    #[arg(long)]
    pub incident: Option<String>,
    /// console-change: the third-party system.
    #[arg(long)]
    pub system: Option<String>,
    /// console-change: what was changed; incident: what happened.
    #[arg(long)]
    pub description: Option<String>,
    /// console-change: a ticket reference.
    #[arg(long)]
    pub ticket: Option<String>,
    /// console-change: who made the change (a person of the policy; default: nobody stated).
    #[arg(long, value_name = "WHO")]
    pub changed_by: Option<String>,
    /// console-change: one more field the policy's `[console] required-fields` asks for,
    /// as NAME=VALUE (`--field "why=rotate the leaked key"`); repeatable.
    #[arg(long, value_name = "NAME=VALUE")]
    pub field: Vec<String>,
    /// exception: the rule excepted.
    #[arg(long)]
    pub rule: Option<String>,
    /// exception: the written justification.
    #[arg(long)]
    pub justification: Option<String>,
    /// exception: the second operator who approved it.
    #[arg(long)]
    pub approved_by: Option<String>,
    /// exception: the re-evaluation date.
    #[arg(long)]
    pub review_by: Option<String>,
    /// obligation, obligation-fulfilled: which obligation.
    #[arg(long)]
    pub obligation: Option<String>,
    /// obligation: when it is due (RFC 3339).
    #[arg(long)]
    pub due: Option<Timestamp>,
    /// obligation-fulfilled: what fulfils it (a PR, a document).
    #[arg(long)]
    pub reference: Option<String>,
    /// obligation-fulfilled: when it was fulfilled, if before now; console-change: when the
    /// change was made (RFC 3339 or YYYY-MM-DD). The entry keeps this and when it was
    /// recorded; deadlines are measured against this.
    #[arg(long, value_name = "TIME", value_parser = parse_fulfilled_at)]
    pub at: Option<Timestamp>,
    /// incident: when it started (RFC 3339 or YYYY-MM-DD).
    #[arg(long, value_name = "TIME", value_parser = parse_fulfilled_at)]
    pub started: Option<Timestamp>,
    /// incident: when it was resolved (absent: still open).
    #[arg(long, value_name = "TIME", value_parser = parse_fulfilled_at)]
    pub resolved: Option<Timestamp>,
}

/// `log verify --signatures`: which entry signatures are checked besides the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Signatures {
    /// Every entry's DSSE signature too.
    All,
    /// None: leaf hashes, checkpoint signatures and roots.
    None,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum LogCommand {
    /// Check every leaf hash, checkpoint and (with --signatures all) entry signature; name the first bad entry.
    Verify {
        /// The trusted public key (name+keyid+base64); default: the key file's, else the database's.
        #[arg(long)]
        vkey: Option<String>,
        /// Which entry signatures to check. `none` (the default): every leaf hash, every
        /// checkpoint signature and root — the whole integrity proof, since each signed
        /// checkpoint covers every entry before it through the Merkle root. `all` adds each
        /// entry's own DSSE signature (batched, in parallel): a second proof, the one that
        /// lets an entry stand on its own outside the log; about 4× slower.
        #[arg(long, value_enum, default_value_t = Signatures::None)]
        signatures: Signatures,
        /// The same as `--signatures none` (kept for scripts written before --signatures).
        #[arg(long, hide = true, conflicts_with = "signatures")]
        skip_entry_signatures: bool,
        /// A checkpoint you saved earlier (a file, or a directory of *.checkpoint files):
        /// the log must reach it with the same root. Catches a store rolled back or
        /// rewritten as a whole, which nothing inside the store can show. Repeatable.
        /// Checkpoints published with --checkpoint-file / --checkpoint-ref are checked too.
        #[arg(long, value_name = "CHECKPOINT")]
        trusted: Vec<PathBuf>,
    },
    /// Print an inclusion proof (C2SP tlog-proof) or, with --from, a consistency proof.
    Proof {
        /// The entry index.
        #[arg(long, required_unless_present = "from")]
        entry: Option<u64>,
        /// Prove against the checkpoint of this size instead of the latest.
        #[arg(long)]
        size: Option<u64>,
        /// Print a consistency proof from the checkpoint of this size.
        #[arg(long, conflicts_with = "entry")]
        from: Option<u64>,
    },
    /// Print one entry's in-toto statement (what was recorded, by whom, about what), after
    /// checking its signature with the trusted key.
    Show {
        /// The entry index.
        #[arg(long)]
        entry: u64,
    },
    /// Print the latest signed checkpoint (C2SP tlog-checkpoint).
    Checkpoint {
        /// The checkpoint of this size instead of the latest.
        #[arg(long)]
        size: Option<u64>,
    },
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum EvidenceCommand {
    /// Write an evidence package (a tar file) for entries recorded in [since, until).
    Export {
        /// Start (RFC 3339 or YYYY-MM-DD, UTC).
        #[arg(long)]
        since: Option<String>,
        /// End, exclusive (RFC 3339 or YYYY-MM-DD, UTC).
        #[arg(long)]
        until: Option<String>,
        #[arg(long)]
        out: PathBuf,
        /// Add a consistency proof from the checkpoint of this size (one an auditor kept
        /// from an earlier package) to the package's head. Repeatable.
        #[arg(long, value_name = "SIZE")]
        consistency_from: Vec<u64>,
        /// Put this report file in the package (`countersign report --out` wrote it): its
        /// SHA-256 must be a `report` entry in the period. Repeatable. Webhook bodies are
        /// always included.
        #[arg(long, value_name = "FILE")]
        attach: Vec<PathBuf>,
    },
    /// Verify an evidence package offline, with no database.
    Verify {
        file: PathBuf,
        /// The trusted public key; without it the package's own key is used and printed.
        #[arg(long)]
        vkey: Option<String>,
        /// Also extract the verified files under this directory.
        #[arg(long)]
        extract: Option<PathBuf>,
        /// A checkpoint you kept from an earlier package (a file, or a directory of
        /// *.checkpoint files): the package's log must extend it. Repeatable.
        #[arg(long, value_name = "CHECKPOINT")]
        trusted: Vec<PathBuf>,
    },
}

/// Run a store command.
pub fn run(cmd: StoreCommand, ctx: &CliContext) -> anyhow::Result<ExitCode> {
    match cmd {
        StoreCommand::Init { origin } => init(ctx, &origin),
        StoreCommand::Record(args) => record(ctx, args),
        StoreCommand::Log { command } => log(ctx, command),
        StoreCommand::Evidence { command } => evidence(ctx, command),
        StoreCommand::Token { command } => token(ctx, command),
        StoreCommand::Account { command } => account(ctx, command),
    }
}

fn token(ctx: &CliContext, command: TokenCommand) -> anyhow::Result<ExitCode> {
    let store = ctx.open_for_reading(false)?;
    match command {
        TokenCommand::Create { role, person, note } => {
            let role = crate::Role::parse(&role).context("unknown role")?;
            let person = person.trim();
            if person.is_empty() {
                bail!("say whom the token acts as with --person (their email or login)");
            }
            let new = store.create_token(role, person, note.as_deref())?;
            match ctx.format {
                Format::Json => print_json(&serde_json::json!({
                    "id": new.token_id, "token": new.token, "role": role.as_str(), "person": person,
                }))?,
                _ => {
                    println!("{}", new.token);
                    eprintln!(
                        "created token {} ({role}, acting as {person}); it is shown only now\nhint: send it as `Authorization: Bearer <token>`",
                        new.token_id
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::List => {
            let rows = store.tokens()?;
            match ctx.format {
                Format::Json => print_json(&serde_json::json!(
                    rows.iter()
                        .map(|t| serde_json::json!({
                            "id": t.token_id, "role": t.role, "person": t.person, "note": t.note,
                            "createdAt": t.created_at, "revokedAt": t.revoked_at,
                        }))
                        .collect::<Vec<_>>()
                ))?,
                _ => {
                    for t in &rows {
                        let state = t.revoked_at.as_ref().map_or_else(String::new, |at| format!("  revoked {at}"));
                        println!(
                            "{}  {:<8}  {}  {}{}{state}",
                            t.token_id,
                            t.role,
                            t.person,
                            t.created_at,
                            t.note.as_ref().map_or_else(String::new, |n| format!("  ({n})"))
                        );
                    }
                    if rows.is_empty() {
                        eprintln!(
                            "no tokens yet\nhint: countersign token create --role viewer --person you@example.com"
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::Revoke { id } => {
            let id = id.trim_start_matches("cs_");
            let id = id.split('_').next().unwrap_or(id);
            if !store.revoke_token(id)? {
                bail!("there is no live token {id}\nhint: countersign token list");
            }
            eprintln!("revoked token {id}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn account(ctx: &CliContext, command: AccountCommand) -> anyhow::Result<ExitCode> {
    let store = ctx.open_for_reading(false)?;
    match command {
        AccountCommand::Create { role, person } => {
            let role = crate::Role::parse(&role).context("unknown role")?;
            let person = person.trim();
            if person.is_empty() {
                bail!("say whose account this is with --person (their email or login)");
            }
            let password = read_password()?;
            if !store.create_account(person, role, &password)? {
                bail!("{person} already has an account\nhint: countersign account set-password {person}");
            }
            match ctx.format {
                Format::Json => print_json(&serde_json::json!({ "person": person, "role": role.as_str() }))?,
                _ => eprintln!("created the account of {person} ({role})"),
            }
        }
        AccountCommand::SetPassword { person } => {
            let password = read_password()?;
            if !store.set_password(&person, &password)? {
                bail!("{person} has no account\nhint: countersign account create --person {person} --role viewer");
            }
            eprintln!("set a new password for {person}; their sessions have ended");
        }
        AccountCommand::Disable { person } => {
            if !store.disable_account(&person)? {
                bail!("{person} has no enabled account\nhint: countersign account list");
            }
            eprintln!("disabled the account of {person}; their sessions have ended");
        }
        AccountCommand::List => {
            let rows = store.accounts()?;
            match ctx.format {
                Format::Json => print_json(&serde_json::json!(
                    rows.iter()
                        .map(|a| serde_json::json!({
                            "person": a.person, "role": a.role, "createdAt": a.created_at, "disabledAt": a.disabled_at,
                        }))
                        .collect::<Vec<_>>()
                ))?,
                _ => {
                    for a in &rows {
                        let state = a.disabled_at.as_ref().map_or_else(String::new, |at| format!("  disabled {at}"));
                        println!("{:<8}  {}  {}{state}", a.role, a.person, a.created_at);
                    }
                    if rows.is_empty() {
                        eprintln!(
                            "no accounts yet\nhint: countersign account create --person you@example.com --role admin"
                        );
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One line of standard input, without its line ending, checked for strength.
fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).context("reading the password from standard input")?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if let Some(problem) = crate::accounts::password_problem(password) {
        bail!("{problem}\nhint: pipe the password in: printf '%s\\n' \"$PASSWORD\" | countersign account …");
    }
    Ok(password.to_owned())
}

fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn init(ctx: &CliContext, origin: &str) -> anyhow::Result<ExitCode> {
    let key_path = ctx.key_file()?;
    let url = ctx.database_url()?;
    let mut store = Store::open(&url, &OpenOptions { create: true, clock: ctx.clock })?;
    let existing_log_key = store.log_vkey()?;
    let (signer, created) = match keys::load_key(&key_path) {
        Ok(signer) => (signer, false),
        Err(keys::KeyError::Missing { .. }) => {
            if let Some(vkey) = existing_log_key {
                bail!(
                    "the database {url} already belongs to the log key {vkey}, but the key file {} does not exist\nhint: point --key-file at that log's key",
                    key_path.display()
                );
            }
            (keys::create_key(&key_path, origin)?, true)
        }
        Err(e) => return Err(e.into()),
    };
    store.set_signer(signer.clone())?;
    let verifier = signer.verifier();
    match ctx.format {
        Format::Json => print_json(&serde_json::json!({
            "keyFile": key_path.display().to_string(),
            "keyCreated": created,
            "database": url,
            "vkey": verifier.vkey(),
            "keyId": format!("{:08x}", verifier.key_id()),
        }))?,
        _ => {
            println!("{} key file {}", if created { "created" } else { "using existing" }, key_path.display());
            println!("database: {url}");
            println!("public key: {}", verifier.vkey());
            println!("key id: {:08x}", verifier.key_id());
            if created {
                eprintln!(
                    "The private key is in {} (mode 0600), outside the working tree, so `git add` cannot pick it up.\n\
                     Back it up now to a password manager or secrets vault (for example `base64 < {}`): without it no\n\
                     new checkpoint can be signed for this log. Never commit it.",
                    key_path.display(),
                    key_path.display()
                );
            }
            eprintln!("hint: publish the public key where auditors can find it; they verify packages against it");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn default_recorder(ctx: &CliContext) -> Option<String> {
    if let Ok(user) = std::env::var("USER")
        && !user.is_empty()
    {
        return Some(user);
    }
    let mut cmd = std::process::Command::new("git");
    if let Some(repo) = &ctx.repo {
        cmd.arg("-C").arg(repo);
    }
    let out = cmd.args(["config", "user.email"]).output().ok()?;
    let email = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !email.is_empty()).then_some(email)
}

fn need(value: Option<String>, flag: &str, kind: &str) -> anyhow::Result<String> {
    value.ok_or_else(|| anyhow::anyhow!("`record {kind}` needs --{flag}"))
}

fn evidence_from_args(kind: RecordKind, a: &mut RecordArgs, by: &str) -> anyhow::Result<Evidence> {
    Ok(match kind {
        RecordKind::Approval => Evidence::Approval {
            approver: need(a.approver.take(), "approver", "approval")?,
            approval: match a.approval_type.as_deref() {
                Some("ack") => ApprovalType::Ack,
                Some("emergency-authorization") => ApprovalType::EmergencyAuthorization,
                _ => ApprovalType::Review,
            },
            commit: a.commit.take(),
            approved_at: None,
            note: None,
            delivery: None,
        },
        RecordKind::Check => Evidence::Check {
            name: need(a.name.take(), "name", "check")?,
            status: match need(a.status.take(), "status", "check")?.as_str() {
                "success" => CheckOutcome::Success,
                "failure" => CheckOutcome::Failure,
                "pending" => CheckOutcome::Pending,
                _ => CheckOutcome::Skipped,
            },
            commit: a.commit.take(),
            url: a.url.take(),
            delivery: None,
        },
        RecordKind::Deploy => Evidence::Deploy {
            environment: need(a.environment.take(), "environment", "deploy")?,
            artifact_digest: a.artifact_digest.take(),
            commit: a.commit.take(),
            deployed_at: None,
            status: match a.status.as_deref() {
                Some("failure") => Some(crate::evidence::DeployStatus::Failure),
                Some("success") => Some(crate::evidence::DeployStatus::Success),
                None => None,
                Some(other) => bail!("a deploy's --status is success or failure, not {other}"),
            },
            stage: None,
            release: None,
            via: None,
            triggered_by: None,
            health_check: None,
            delivery: None,
            repository: None,
        },
        RecordKind::Emergency => Evidence::Emergency {
            declared_by: a.declared_by.take().unwrap_or_else(|| by.to_owned()),
            reason: need(a.reason.take(), "reason", "emergency")?,
            incident: a.incident.take(),
        },
        RecordKind::Incident => {
            let started_at = a.started.take().ok_or_else(|| anyhow::anyhow!("`record incident` needs --started"))?;
            let resolved_at = a.resolved.take();
            if resolved_at.is_some_and(|r| r < started_at) {
                anyhow::bail!("--resolved {} is before --started {started_at}", resolved_at.unwrap_or(started_at));
            }
            Evidence::Incident {
                started_at,
                resolved_at,
                description: need(a.description.take(), "description", "incident")?,
                environment: a.environment.take(),
                reference: a.incident.take(),
            }
        }
        RecordKind::ConsoleChange => Evidence::ConsoleChange {
            system: need(a.system.take(), "system", "console-change")?,
            description: need(a.description.take(), "description", "console-change")?,
            changed_by: a.changed_by.take(),
            changed_at: a.at.take(),
            ticket: a.ticket.take(),
            fields: std::mem::take(&mut a.field)
                .into_iter()
                .map(|f| match f.split_once('=') {
                    Some((name, value)) if !name.trim().is_empty() => {
                        Ok((name.trim().to_owned(), value.trim().to_owned()))
                    }
                    _ => Err(anyhow::anyhow!(
                        "--field takes NAME=VALUE, e.g. --field \"how to undo=restore the old DNS record\"; not {f:?}"
                    )),
                })
                .collect::<anyhow::Result<_>>()?,
        },
        RecordKind::Exception => Evidence::Exception {
            rule: need(a.rule.take(), "rule", "exception")?,
            justification: need(a.justification.take(), "justification", "exception")?,
            approved_by: a.approved_by.take(),
            review_by: need(a.review_by.take(), "review-by", "exception")?,
            people: Vec::new(),
            categories: Vec::new(),
        },
        RecordKind::Obligation => {
            Evidence::Obligation { obligation: need(a.obligation.take(), "obligation", "obligation")?, due: a.due }
        }
        RecordKind::ObligationFulfilled => Evidence::ObligationFulfilled {
            obligation: need(a.obligation.take(), "obligation", "obligation-fulfilled")?,
            reference: a.reference.take(),
            fulfilled_at: a.at.take(),
        },
    })
}

fn parse_fulfilled_at(text: &str) -> Result<Timestamp, String> {
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t);
    }
    let date: jiff::civil::Date = text.parse().map_err(|e| format!("expected an RFC 3339 time or YYYY-MM-DD: {e}"))?;
    date.to_zoned(jiff::tz::TimeZone::UTC).map(|z| z.timestamp()).map_err(|e| e.to_string())
}

fn read_json_input(source: &str) -> anyhow::Result<String> {
    let bytes = if source == "-" {
        bounded::read_limited(std::io::stdin().lock(), RECORD_LIMIT, "record", "standard input")?
    } else {
        bounded::read_file(Path::new(source), RECORD_LIMIT, "record")?
    };
    String::from_utf8(bytes).with_context(|| format!("the record in {source} is not UTF-8"))
}

/// Signed checkpoints from files an auditor kept: each PATH is a checkpoint file or a
/// directory of `*.checkpoint` files. Returns `(note, where it came from)`.
pub fn read_trusted(paths: &[PathBuf]) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for path in paths {
        let files: Vec<PathBuf> = if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("cannot list {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "checkpoint"))
                .collect();
            files.sort();
            if files.is_empty() {
                bail!("{} holds no *.checkpoint file", path.display());
            }
            files
        } else {
            vec![path.clone()]
        };
        for file in files {
            let note = bounded::read_text(&file, CHECKPOINT_LIMIT, "checkpoint file")?;
            out.push((note, format!("--trusted {}", file.display())));
        }
    }
    Ok(out)
}

/// The full commit id of `revision` in the repository, if git resolves it to a commit (any
/// revision: `HEAD`, a branch, a tag, a short id). An ambiguous short id is an error that
/// lists git's candidates.
fn commit_in_repo(repo: &Path, revision: &str) -> anyhow::Result<Option<String>> {
    if revision.is_empty() || revision.starts_with('-') || parse_pr_reference(revision).is_some() {
        return Ok(None);
    }
    let spec = format!("{revision}^{{commit}}");
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["rev-parse", "--verify", "--quiet", "--end-of-options", &spec])
        .output()
        .context("cannot run git to resolve --change")?;
    if out.status.success() {
        let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        return Ok((!id.is_empty()).then_some(id));
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("ambiguous") {
        let candidates: Vec<&str> = stderr
            .lines()
            .filter_map(|l| l.trim().strip_prefix("hint:"))
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        bail!(
            "--change {revision:?} is ambiguous in {}: {}\nhint: give more characters of the commit id",
            repo.display(),
            if candidates.is_empty() { stderr.trim().to_owned() } else { candidates.join("; ") }
        );
    }
    Ok(None)
}

/// `record --server`: the same record, sent to the server's API. The server knows who the
/// token belongs to, checks the record, and logs it; nothing is written here.
fn record_remote(ctx: &CliContext, server: &str, mut args: RecordArgs) -> anyhow::Result<ExitCode> {
    let send = ctx.remote_record.clone().context("this build cannot talk to a server")?;
    let mut doc = if let Some(source) = args.json.take() {
        let text = read_json_input(&source)?;
        let doc: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("{source} is not a valid countersign record"))?;
        anyhow::ensure!(doc.is_object(), "{source} is not a JSON object");
        doc
    } else {
        let kind = args.kind.context("name the kind of evidence (approval, check, deploy, …) or pass --json")?;
        // The server records as the token's person; locally that name is only a default
        // for the fields that name a person (an approval's approver is the token's).
        let by = args.by.clone().unwrap_or_default();
        // Without --approver, an approval is the token's person's: the server fills it in.
        let token_approves = kind == RecordKind::Approval && args.approver.is_none();
        if token_approves {
            args.approver = Some(String::new());
        }
        let mut evidence = serde_json::to_value(evidence_from_args(kind, &mut args, &by)?)?;
        if let (Some(fields), true) = (evidence.as_object_mut(), token_approves) {
            fields.remove("approver");
        }
        evidence
    };
    let fields = doc.as_object_mut().context("a record is a JSON object")?;
    if let Some(change) = args.change.take() {
        fields.entry("change").or_insert(change.into());
    }
    if let Some(key) = args.idempotency_key.take() {
        fields.entry("idempotencyKey").or_insert(key.into());
    }
    if let Some(by) = args.by.take() {
        fields.entry("recordedBy").or_insert(by.into());
    }
    let kind = fields.get("kind").and_then(|k| k.as_str()).unwrap_or("record").to_owned();
    let (index, by) =
        send(server, &doc).with_context(|| format!("refusing to record this {kind}; nothing was stored"))?;
    match ctx.format {
        Format::Json => {
            print_json(&serde_json::json!({ "entry": index, "kind": kind, "recordedBy": by, "server": server }))?
        }
        _ => println!("recorded {kind} as entry #{index} on {server} (recorded by {by})"),
    }
    Ok(ExitCode::SUCCESS)
}

fn record(ctx: &CliContext, mut args: RecordArgs) -> anyhow::Result<ExitCode> {
    // Parse everything and load the key before touching the database: bad input or a
    // missing key must leave the store exactly as it was.
    if let Some(server) = args.server.take() {
        return record_remote(ctx, &server, args);
    }
    let by_flag = args.by.take().or_else(|| default_recorder(ctx));
    let (evidence, change, by, idempotency_key) = if let Some(source) = args.json.take() {
        let text = read_json_input(&source)?;
        let doc: RecordDocument =
            serde_json::from_str(&text).with_context(|| format!("{source} is not a valid countersign record"))?;
        if let Some(kind) = args.kind
            && clap::ValueEnum::to_possible_value(&kind).map(|v| v.get_name().to_owned()).as_deref()
                != Some(doc.evidence.kind())
        {
            bail!("the command line says {:?} but the JSON record is a {}", kind, doc.evidence.kind());
        }
        if matches!(doc.evidence, Evidence::PolicyVersion { .. }) {
            bail!(
                "a policy-version entry cannot be recorded with `record`: the policy in force is read from the repository\nhint: record another kind (approval, check, deploy, emergency, console-change, exception, obligation, obligation-fulfilled)"
            );
        }
        if doc.evidence.forge_only() {
            bail!(
                "this record claims to come from a forge's webhook delivery: only `countersign serve` records those, from deliveries it authenticated\nhint: drop \"delivery\" to record it in your own name"
            );
        }
        let by = doc.recorded_by.or(by_flag).context("say who records this with --by (or \"recordedBy\")")?;
        (doc.evidence, doc.change.or(args.change.take()), by, doc.idempotency_key.or(args.idempotency_key.take()))
    } else {
        let kind = args.kind.context("name the kind of evidence (approval, check, deploy, …) or pass --json")?;
        let by = by_flag.context("say who records this with --by")?;
        let evidence = evidence_from_args(kind, &mut args, &by)?;
        (evidence, args.change.take(), by, args.idempotency_key.take())
    };
    let kind = evidence.kind();
    let request = RecordRequest {
        change,
        recorded_by: by.clone(),
        recorded_at: crate::whole_second((ctx.clock)()),
        idempotency_key,
        evidence,
    };
    if let Some(check) = &ctx.check_record {
        check(args.policy.as_deref(), &request)
            .with_context(|| format!("refusing to record this {kind}; nothing was stored"))?;
    }
    let RecordRequest { change, recorded_at, idempotency_key, evidence, .. } = request;
    let store = ctx.open_for_writing()?;
    // A reference the store does not know may be a revision of the repository: resolve it
    // with git, and register the commit (merged into the change that holds it, if any).
    let repo = ctx.repo.clone().unwrap_or_else(|| PathBuf::from("."));
    let change = match change {
        // A console change is the change `console:<entry>`: evidence about it (an approval)
        // registers it on first use, once the entry is shown to be a console change.
        Some(reference) if reference.starts_with("console:") && store.resolve_change(&reference)?.is_none() => {
            let entry: u64 = reference["console:".len()..]
                .parse()
                .with_context(|| format!("{reference:?} names no log entry; a console change is `console:<entry>`"))?;
            let size = store.tree_size()?;
            let is_console = entry < size
                && countersign_log::dsse::statement_unverified(&store.entry(entry)?)
                    .is_ok_and(|s| s.predicate_type == crate::evidence::predicate_type("console-change"));
            if !is_console {
                bail!(
                    "log entry #{entry} is not a console change\nhint: `countersign audit` lists console changes as console:<entry>"
                );
            }
            store.upsert_changes(&[ChangeRef {
                id: reference.clone(),
                repository: ctx.repository.clone(),
                ..ChangeRef::default()
            }])?;
            Some(reference)
        }
        Some(reference) if store.resolve_change(&reference)?.is_none() => match commit_in_repo(&repo, &reference)? {
            Some(commit) => {
                if store.resolve_change(&commit)?.is_none() {
                    store.upsert_changes(&[ChangeRef {
                        id: commit.clone(),
                        repository: ctx.repository.clone(),
                        head_commit: Some(commit.clone()),
                        commits: vec![commit.clone()],
                        ..ChangeRef::default()
                    }])?;
                }
                Some(commit)
            }
            None => Some(reference),
        },
        other => other,
    };
    let request =
        RecordRequest { change: change.clone(), recorded_by: by.clone(), recorded_at, idempotency_key, evidence };
    let outcome = store.record(&request)?;
    let about = change.map(|c| format!(" about {c}")).unwrap_or_default();
    match (ctx.format, outcome) {
        (Format::Json, _) => print_json(&serde_json::json!({
            "status": if matches!(outcome, AppendOutcome::Appended(_)) { "recorded" } else { "already-recorded" },
            "index": outcome.index(),
            "kind": kind,
            "recordedBy": by,
        }))?,
        (_, AppendOutcome::Appended(i)) => println!("recorded entry {i} ({kind}{about}) by {by}"),
        (_, AppendOutcome::AlreadyRecorded(i)) => println!("already recorded as entry {i}"),
    }
    for problem in store.take_publish_errors() {
        eprintln!(
            "warning: the entry is stored, but {problem}\nhint: the next append publishes the latest checkpoint again"
        );
    }
    store.close();
    Ok(ExitCode::SUCCESS)
}

/// The key to verify with: `--vkey`, else `--log-vkey`, else the key file's public key,
/// else (with a warning, since whoever can write the database can change it) the one
/// recorded in the database. `None` when there is no key anywhere (a store nothing was
/// ever recorded in); `required` turns that into an error.
fn trusted_key(
    ctx: &CliContext,
    vkey: Option<&str>,
    store: &Store,
    required: bool,
) -> anyhow::Result<Option<LogVerifier>> {
    if let Some(vkey) = vkey.or(ctx.log_vkey.as_deref()).filter(|v| !v.is_empty()) {
        return Ok(Some(
            LogVerifier::from_vkey(vkey)
                .context("the pinned log key (--vkey / --log-vkey) is not a valid public key")?,
        ));
    }
    let key = match ctx.key_file() {
        Ok(path) => keys::load_key(&path),
        Err(_) => Err(keys::KeyError::Missing { path: PathBuf::new() }),
    };
    match key {
        Ok(signer) => Ok(Some(signer.verifier())),
        Err(keys::KeyError::Missing { .. }) => match store.log_vkey()? {
            Some(_) => {
                eprintln!(
                    "warning: no key file; proving evidence with the public key recorded in the database, which anyone who can write the database can replace\nhint: pin the log's public key with --log-vkey or COUNTERSIGN_LOG_VKEY"
                );
                Ok(Some(store.log_verifier()?))
            }
            None if required => Err(crate::StoreError::NotInitialized.into()),
            None => Ok(None),
        },
        Err(e) => Err(e.into()),
    }
}

fn log(ctx: &CliContext, command: LogCommand) -> anyhow::Result<ExitCode> {
    let url = ctx.database_url()?;
    let store = Store::open(&url, &OpenOptions { create: false, clock: ctx.clock })?;
    match command {
        LogCommand::Show { entry } => {
            let size = store.tree_size()?;
            if entry >= size {
                bail!("the log has {size} entries, so there is no entry {entry}");
            }
            let verifier = trusted_key(ctx, None, &store, true)?.context("no log key")?;
            let bytes = store.entry(entry)?;
            let statement = countersign_log::dsse::verify_entry(&bytes, &verifier)
                .map_err(|e| anyhow::anyhow!("entry {entry} does not verify with the log's key: {e}"))?;
            print_json(&serde_json::json!({ "index": entry, "statement": statement }))?;
        }
        LogCommand::Verify { vkey, signatures, skip_entry_signatures, trusted } => {
            let entry_signatures = signatures == Signatures::All && !skip_entry_signatures;
            let mut store = store;
            let verifier = trusted_key(ctx, vkey.as_deref(), &store, true)?.context("no log key")?;
            store.trust_key(verifier.clone())?;
            let trusted = read_trusted(&trusted)?;
            store.add_anchors(&trusted)?;
            store.set_publishers(ctx.publishers())?;
            let anchors: Vec<String> = store.anchors().iter().map(|t| t.source.clone()).collect();
            let started = std::time::Instant::now();
            let result = store.verify(&verifier, AuditOptions { entry_signatures })?;
            let seconds = started.elapsed().as_secs_f64();
            // The server's log page says when the log was last proven, and what was found.
            let (entries, ok, summary) = match &result {
                Ok(summary) => (
                    summary.entries,
                    true,
                    format!(
                        "{} entries, {} checkpoints, root {}",
                        summary.entries,
                        summary.checkpoints,
                        crate::evidence::hex(&summary.root)
                    ),
                ),
                Err(failure) => (store.tree_size().unwrap_or(0), false, failure.to_string()),
            };
            if let Err(e) = store.record_verification(entries, ok, &summary) {
                eprintln!("warning: the outcome was not remembered for the server's log page: {e}");
            }
            match (result, ctx.format) {
                (Ok(summary), Format::Json) => print_json(&serde_json::json!({
                    "ok": true, "entries": summary.entries, "checkpoints": summary.checkpoints,
                    "root": crate::evidence::hex(&summary.root), "seconds": seconds, "trusted": anchors,
                    "entry_signatures": if entry_signatures { "all" } else { "none" },
                }))?,
                (Ok(summary), _) => {
                    println!(
                        "log verified: {} entries, {} checkpoints, root {} ({})",
                        summary.entries,
                        summary.checkpoints,
                        crate::evidence::hex(&summary.root),
                        if entry_signatures {
                            "every entry signature checked too"
                        } else {
                            "entry signatures not checked: --signatures all"
                        }
                    );
                    if anchors.is_empty() {
                        eprintln!(
                            "note: no checkpoint kept outside the database was checked, so a store rolled back as a whole would pass\nhint: keep `countersign log checkpoint` output and pass it with --trusted, or publish with --checkpoint-file / --checkpoint-ref"
                        );
                    } else {
                        println!("extends {} trusted checkpoint(s): {}", anchors.len(), anchors.join("; "));
                    }
                    eprintln!("({seconds:.2}s)");
                }
                (Err(failure), Format::Json) => {
                    print_json(
                        &serde_json::json!({"ok": false, "entry": failure.entry, "checkpoint": failure.checkpoint, "problem": failure.problem}),
                    )?;
                    return Ok(ExitCode::from(1));
                }
                (Err(failure), _) => {
                    println!("log verification FAILED: {failure}");
                    return Ok(ExitCode::from(1));
                }
            }
        }
        LogCommand::Proof { entry, size, from } => {
            let text = match (entry, from) {
                (_, Some(old)) => store.consistency_proof(old, size)?.to_text(),
                (Some(index), None) => store.inclusion_proof(index, size)?.to_text(),
                (None, None) => bail!("pass --entry N or --from SIZE"),
            };
            match ctx.format {
                Format::Json => print_json(&serde_json::json!({ "proof": text }))?,
                _ => print!("{text}"),
            }
        }
        LogCommand::Checkpoint { size } => {
            let note = match size {
                Some(size) => store.checkpoint(size)?,
                None => store.latest_checkpoint()?.context("the log is empty: nothing has been recorded yet")?,
            };
            match ctx.format {
                Format::Json => print_json(&serde_json::json!({ "checkpoint": note }))?,
                _ => print!("{note}"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Parse RFC 3339, or a date meaning midnight UTC; returns the stored text form.
pub fn parse_time_bound(text: &str) -> anyhow::Result<String> {
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Ok(Timestamp::from_second(ts.as_second())?.to_string());
    }
    let date: jiff::civil::Date =
        text.parse().with_context(|| format!("{text:?} is neither an RFC 3339 time nor a YYYY-MM-DD date"))?;
    Ok(date.to_zoned(jiff::tz::TimeZone::UTC)?.timestamp().to_string())
}

fn evidence(ctx: &CliContext, command: EvidenceCommand) -> anyhow::Result<ExitCode> {
    match command {
        EvidenceCommand::Export { since, until, out, consistency_from, attach } => {
            let since = since
                .as_deref()
                .map(parse_time_bound)
                .transpose()?
                .unwrap_or_else(|| Timestamp::UNIX_EPOCH.to_string());
            let until = match until.as_deref() {
                Some(u) => parse_time_bound(u)?,
                None => Timestamp::from_second((ctx.clock)().as_second() + 1)?.to_string(),
            };
            let signer = keys::load_key(&ctx.key_file()?)?;
            let mut store = Store::open(&ctx.database_url()?, &OpenOptions { create: false, clock: ctx.clock })?;
            store.set_signer(signer)?;
            store.set_publishers(ctx.publishers())?;
            let summary = package::export_with(&store, &since, &until, &out, &consistency_from, &attach)?;
            match ctx.format {
                Format::Json => print_json(&serde_json::json!({
                    "out": out.display().to_string(), "entries": summary.entries, "treeSize": summary.tree_size, "policyVersion": summary.policy_version,
                    "gaps": summary.gaps, "attachments": summary.attachments,
                }))?,
                _ => println!(
                    "wrote {} ({} entries, {} attachments, log size {})",
                    out.display(),
                    summary.entries,
                    summary.attachments,
                    summary.tree_size
                ),
            }
            if let Some(warning) = package::gaps_warning(&summary.gaps) {
                eprintln!("warning: {warning}");
            }
            Ok(ExitCode::SUCCESS)
        }
        EvidenceCommand::Verify { file, vkey, extract, trusted } => {
            let pinned =
                vkey.as_deref().map(LogVerifier::from_vkey).transpose().context("--vkey is not a valid public key")?;
            let trusted: Vec<String> = read_trusted(&trusted)?.into_iter().map(|(note, _)| note).collect();
            match package::verify_package(&file, pinned.as_ref(), &trusted)? {
                Ok(summary) => {
                    if let Some(dir) = extract {
                        package::extract_package(&file, &dir)?.map_err(|f| anyhow::anyhow!("cannot extract: {f}"))?;
                    }
                    match ctx.format {
                        Format::Json => print_json(&serde_json::json!({
                            "ok": true, "entries": summary.entries, "treeSize": summary.tree_size, "vkey": summary.vkey,
                            "keyPinned": summary.key_pinned, "policyVersion": summary.policy_version,
                            "gaps": summary.gaps, "trustedCheckpoints": summary.trusted,
                        }))?,
                        _ => {
                            println!(
                                "package verified: {} entries, log size {}, key {}",
                                summary.entries, summary.tree_size, summary.vkey
                            );
                            if summary.trusted > 0 {
                                println!("extends {} trusted checkpoint(s)", summary.trusted);
                            }
                            if let Some(warning) = package::gaps_warning(&summary.gaps) {
                                eprintln!("warning: {warning}");
                            }
                            if !summary.key_pinned {
                                eprintln!(
                                    "hint: compare the key above with the log's published key, or pass --vkey to pin it"
                                );
                            }
                        }
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(failure) => {
                    match ctx.format {
                        Format::Json => print_json(
                            &serde_json::json!({"ok": false, "entry": failure.entry, "problem": failure.problem}),
                        )?,
                        _ => println!("package verification FAILED: {failure}"),
                    }
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}
