//! Checkpoints kept outside the database.
//!
//! Someone with write access to the database but not the key cannot forge a checkpoint,
//! but they can roll the whole store back to an earlier valid state, or delete the newest
//! checkpoints and rewrite what they covered. Neither can be seen from inside the store.
//! A copy of the latest checkpoint kept elsewhere shows both: the appender refuses to sign
//! over a store that does not extend it, and `log verify` checks the store against it.
//!
//! Two places are built in (see `docs/evidence-log.md`, "Threat model"):
//! - [`FilePublisher`]: a file (or `latest.checkpoint` in a directory) the operator names,
//!   e.g. on another volume, a mounted bucket, or a path a backup job copies away;
//! - [`GitRefPublisher`]: a commit chain under `refs/countersign/checkpoints` in the
//!   governed repository, one commit per published checkpoint. Pushed with the repository,
//!   the forge's copy of that ref anchors the log in history the database cannot reach.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use countersign_log::note::Checkpoint;

use crate::StoreError;
use crate::bounded::{self, CHECKPOINT_LIMIT};

/// A place a signed checkpoint is copied to after every append batch.
pub trait CheckpointPublisher: Send + Sync {
    /// Where it publishes, for messages: `file /var/lib/cs/latest.checkpoint`.
    fn describe(&self) -> String;
    /// The checkpoint published there last, if any.
    fn latest(&self) -> Result<Option<String>, StoreError>;
    /// Publish a newer checkpoint. A publisher never moves back: a checkpoint no larger
    /// than the one already there is not written.
    fn publish(&self, note: &str) -> Result<(), StoreError>;
}

fn size_of(note: &str) -> Option<u64> {
    Checkpoint::parse_text(note).ok().map(|c| c.size)
}

fn publish_error(place: String, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Publish(format!("{place}: {reason}"))
}

/// The latest checkpoint in a file, replaced atomically (write beside it, fsync, rename).
#[derive(Debug, Clone)]
pub struct FilePublisher {
    path: PathBuf,
}

impl FilePublisher {
    /// `path` is the checkpoint file, or an existing directory (then `latest.checkpoint`
    /// inside it).
    pub fn new(path: &Path) -> Self {
        let path = if path.is_dir() { path.join("latest.checkpoint") } else { path.to_owned() };
        Self { path }
    }
}

impl CheckpointPublisher for FilePublisher {
    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }

    fn latest(&self) -> Result<Option<String>, StoreError> {
        match bounded::read_text(&self.path, CHECKPOINT_LIMIT, "checkpoint file") {
            Ok(text) => Ok(Some(text)),
            Err(bounded::BoundedReadError::Missing { .. }) => Ok(None),
            Err(e) => Err(publish_error(self.describe(), e)),
        }
    }

    fn publish(&self, note: &str) -> Result<(), StoreError> {
        use std::io::Write as _;
        if let (Some(old), Some(new)) = (self.latest()?.as_deref().and_then(size_of), size_of(note))
            && old >= new
        {
            return Ok(());
        }
        let tmp = self.path.with_extension("checkpoint.partial");
        let write = || -> std::io::Result<()> {
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(note.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            publish_error(self.describe(), e)
        })
    }
}

/// The ref checkpoints are published under by default.
pub const DEFAULT_REF: &str = "refs/countersign/checkpoints";

/// A commit chain under a ref of a git repository: each commit's tree holds one file,
/// `checkpoint`; its parent is the previous checkpoint's commit. The ref is moved with a
/// compare-and-swap (`git update-ref NEW OLD`), so two writers cannot lose each other's
/// checkpoint, and never to a smaller checkpoint.
#[derive(Debug, Clone)]
pub struct GitRefPublisher {
    repo: PathBuf,
    refname: String,
    /// The commit time, from the caller's clock (seconds since the epoch).
    clock: crate::Clock,
}

impl GitRefPublisher {
    pub fn new(repo: &Path, refname: &str, clock: crate::Clock) -> Self {
        Self { repo: repo.to_owned(), refname: refname.to_owned(), clock }
    }

    fn git(&self, args: &[&str], input: Option<&str>) -> Result<(bool, String), StoreError> {
        let mut cmd = Command::new("git");
        cmd.arg("-C").arg(&self.repo).args(args);
        let when = format!("{} +0000", (self.clock)().as_second());
        cmd.env("GIT_AUTHOR_NAME", "countersign")
            .env("GIT_AUTHOR_EMAIL", "countersign@localhost")
            .env("GIT_COMMITTER_NAME", "countersign")
            .env("GIT_COMMITTER_EMAIL", "countersign@localhost")
            .env("GIT_AUTHOR_DATE", &when)
            .env("GIT_COMMITTER_DATE", &when)
            .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| publish_error(self.describe(), format!("cannot run git: {e}")))?;
        if let Some(text) = input {
            use std::io::Write as _;
            let mut stdin = child.stdin.take().expect("stdin is piped");
            stdin.write_all(text.as_bytes()).map_err(|e| publish_error(self.describe(), e))?;
        }
        let out = child.wait_with_output().map_err(|e| publish_error(self.describe(), e))?;
        if !out.status.success() && !args.contains(&"--verify") {
            return Err(publish_error(
                self.describe(),
                format!("git {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()),
            ));
        }
        Ok((out.status.success(), String::from_utf8_lossy(&out.stdout).trim().to_owned()))
    }

    fn head(&self) -> Result<Option<String>, StoreError> {
        let (found, id) =
            self.git(&["rev-parse", "--verify", "--quiet", &format!("{}^{{commit}}", self.refname)], None)?;
        Ok(found.then_some(id))
    }
}

impl CheckpointPublisher for GitRefPublisher {
    fn describe(&self) -> String {
        format!("git ref {} in {}", self.refname, self.repo.display())
    }

    fn latest(&self) -> Result<Option<String>, StoreError> {
        let Some(head) = self.head()? else { return Ok(None) };
        let (_, text) = self.git(&["cat-file", "blob", &format!("{head}:checkpoint")], None)?;
        if text.len() as u64 > CHECKPOINT_LIMIT {
            return Err(publish_error(self.describe(), "the published checkpoint is too large"));
        }
        // `trim` took the note's final newline; a signed note ends with one.
        Ok(Some(format!("{text}\n")))
    }

    fn publish(&self, note: &str) -> Result<(), StoreError> {
        let new_size = size_of(note).ok_or_else(|| publish_error(self.describe(), "not a checkpoint"))?;
        for _ in 0..5 {
            let old = self.head()?;
            if let Some(old) = &old {
                let (_, text) = self.git(&["cat-file", "blob", &format!("{old}:checkpoint")], None)?;
                if size_of(&format!("{text}\n")).is_some_and(|size| size >= new_size) {
                    return Ok(());
                }
            }
            let (_, blob) = self.git(&["hash-object", "-w", "--stdin"], Some(note))?;
            let (_, tree) = self.git(&["mktree"], Some(&format!("100644 blob {blob}\tcheckpoint\n")))?;
            let message = format!("countersign checkpoint, tree size {new_size}");
            let mut args = vec!["commit-tree", tree.as_str(), "-m", message.as_str()];
            if let Some(old) = &old {
                args.extend(["-p", old.as_str()]);
            }
            let (_, commit) = self.git(&args, None)?;
            let expected = old.clone().unwrap_or_else(|| "0".repeat(commit.len()));
            let mut cmd = Command::new("git");
            let swapped = cmd
                .arg("-C")
                .arg(&self.repo)
                .args(["update-ref", "-m", "countersign: publish checkpoint", &self.refname, &commit, &expected])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map_err(|e| publish_error(self.describe(), format!("cannot run git: {e}")))?;
            if swapped.success() {
                return Ok(());
            }
            // Another writer moved the ref: read it again.
        }
        Err(publish_error(self.describe(), "the ref kept moving; another writer is publishing"))
    }
}
