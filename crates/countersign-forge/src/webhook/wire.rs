//! Wire types that GitHub and Gitea share (Gitea's payloads copy GitHub's shapes).
//!
//! Every field is optional and every list may be `null` (Go writes an empty slice as
//! `null`), so a payload with fields missing or added still reads; what an event cannot do
//! without is checked when it is converted.

use jiff::Timestamp;
use serde::Deserialize;

use super::event::{PushedCommit, Repository};
use super::time::lenient;

#[derive(Debug, Deserialize)]
pub(crate) struct Repo {
    pub full_name: Option<String>,
    pub id: Option<u64>,
    /// Seconds since 1970 in GitHub push events, RFC 3339 elsewhere.
    #[serde(default, deserialize_with = "lenient")]
    pub pushed_at: Option<Timestamp>,
}

impl Repo {
    pub fn to_repository(&self) -> Option<Repository> {
        let full_name = self.full_name.clone().filter(|n| !n.is_empty())?;
        Some(Repository { full_name, id: self.id })
    }
}

/// A GitHub or Gitea user. Gitea writes both `login` and `username`.
#[derive(Debug, Deserialize)]
pub(crate) struct User {
    pub login: Option<String>,
    pub username: Option<String>,
}

impl User {
    pub fn name(&self) -> Option<String> {
        self.login.clone().or_else(|| self.username.clone()).filter(|l| !l.is_empty())
    }
}

pub(crate) fn login(user: Option<&User>) -> Option<String> {
    user.and_then(User::name)
}

#[derive(Debug, Deserialize)]
pub(crate) struct IdOnly {
    pub id: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Label {
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Branch {
    pub sha: Option<String>,
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PullRequestWire {
    pub number: Option<u64>,
    pub title: Option<String>,
    pub body: Option<String>,
    pub user: Option<User>,
    pub head: Option<Branch>,
    pub base: Option<Branch>,
    pub labels: Option<Vec<Label>>,
    pub draft: Option<bool>,
    pub merged: Option<bool>,
    pub merge_commit_sha: Option<String>,
    pub merged_by: Option<User>,
    #[serde(default, deserialize_with = "lenient")]
    pub updated_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient")]
    pub closed_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "lenient")]
    pub merged_at: Option<Timestamp>,
}

impl PullRequestWire {
    pub fn head_sha(&self) -> Option<String> {
        self.head.as_ref().and_then(|h| h.sha.clone())
    }

    pub fn label_names(&self) -> Option<Vec<String>> {
        self.labels.as_ref().map(|labels| labels.iter().filter_map(|l| l.name.clone()).collect())
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct PushWire {
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub created: Option<bool>,
    pub deleted: Option<bool>,
    pub forced: Option<bool>,
    pub commits: Option<Vec<CommitWire>>,
    pub head_commit: Option<CommitWire>,
    pub pusher: Option<Pusher>,
    pub repository: Option<Repo>,
    pub sender: Option<User>,
    pub installation: Option<IdOnly>,
}

/// GitHub's pusher has `name` (the login) and `email`; Gitea's is a user.
#[derive(Debug, Deserialize)]
pub(crate) struct Pusher {
    pub name: Option<String>,
    pub login: Option<String>,
    pub username: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct CommitWire {
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub timestamp: Option<Timestamp>,
    pub author: Option<CommitAuthor>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct CommitAuthor {
    pub name: Option<String>,
    pub email: Option<String>,
    pub username: Option<String>,
}

impl CommitWire {
    pub fn to_pushed(&self) -> Option<PushedCommit> {
        let author = self.author.as_ref();
        Some(PushedCommit {
            id: self.id.clone()?,
            author_name: author.and_then(|a| a.name.clone()),
            author_email: author.and_then(|a| a.email.clone()),
            author_login: author.and_then(|a| a.username.clone()).filter(|u| !u.is_empty()),
            timestamp: self.timestamp,
        })
    }
}
