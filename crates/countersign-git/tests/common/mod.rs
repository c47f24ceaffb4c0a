//! Real repositories built with the `git` CLI in a temporary directory, with a clean
//! environment and fixed dates, so commit ids are the same on every run.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct TestRepo {
    pub dir: tempfile::TempDir,
    /// Seconds added to the base date for the next commit.
    tick: std::cell::Cell<u64>,
}

pub const BASE_TIME: u64 = 1_700_000_000;

impl TestRepo {
    pub fn new() -> TestRepo {
        let repo = TestRepo { dir: tempfile::tempdir().expect("tempdir"), tick: std::cell::Cell::new(0) };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self, args: &[&str]) -> Command {
        let t = BASE_TIME + self.tick.get();
        let date = format!("{t} +0000");
        let mut cmd = Command::new("git");
        cmd.args(args)
            .current_dir(self.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Ann Author")
            .env("GIT_AUTHOR_EMAIL", "ann@example.com")
            .env("GIT_COMMITTER_NAME", "Cy Committer")
            .env("GIT_COMMITTER_EMAIL", "cy@example.com")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date);
        cmd
    }

    /// Run git, panic with its stderr when it fails, return stdout.
    pub fn git(&self, args: &[&str]) -> String {
        self.git_env(args, &[])
    }

    pub fn git_env(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run git");
        assert!(out.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Run git with `stdin`.
    pub fn git_stdin(&self, args: &[&str], stdin: &[u8]) -> String {
        use std::io::Write;
        let mut child = self
            .command(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn git");
        child.stdin.take().expect("stdin").write_all(stdin).expect("write stdin");
        let out = child.wait_with_output().expect("wait git");
        assert!(out.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn write(&self, path: &str, content: &str) {
        let full = self.path().join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(full, content).expect("write");
    }

    fn advance(&self) {
        self.tick.set(self.tick.get() + 3600);
    }

    /// Write files, stage everything, commit with `message`; returns the commit id.
    pub fn commit(&self, files: &[(&str, &str)], message: &str) -> String {
        self.commit_as(files, message, &[])
    }

    pub fn commit_as(&self, files: &[(&str, &str)], message: &str, env: &[(&str, &str)]) -> String {
        self.advance();
        for (p, c) in files {
            self.write(p, c);
        }
        self.git(&["add", "-A"]);
        self.git_env(&["commit", "-q", "--allow-empty", "-m", message], env);
        self.head()
    }

    /// `git merge --no-ff` of `branch` into the current branch with `message`.
    pub fn merge(&self, branch: &str, message: &str) -> String {
        self.advance();
        self.git(&["merge", "-q", "--no-ff", "-m", message, branch]);
        self.head()
    }

    /// `git merge --no-ff` of `branch` with extra environment (author, dates).
    pub fn merge_env(&self, branch: &str, message: &str, env: &[(&str, &str)]) -> String {
        self.advance();
        self.git_env(&["merge", "-q", "--no-ff", "-m", message, branch], env);
        self.head()
    }

    /// The ids `git rev-list` prints for `args`, as a sorted list.
    pub fn rev_list(&self, args: &[&str]) -> Vec<String> {
        let mut all = vec!["rev-list"];
        all.extend_from_slice(args);
        let mut ids: Vec<String> = self.git(&all).lines().map(str::to_string).collect();
        ids.sort();
        ids
    }

    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"]).trim().to_string()
    }

    pub fn now(&self) -> u64 {
        BASE_TIME + self.tick.get()
    }

    pub fn git_dir(&self) -> PathBuf {
        self.path().join(".git")
    }
}
