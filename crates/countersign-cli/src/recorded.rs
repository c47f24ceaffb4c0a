//! Recorded evidence from the evidence store, merged into the changes git describes.

use std::collections::HashMap;

use anyhow::Context;

use countersign_engine::change::{Change, ChangeKind};
use countersign_store::{ChangeRef, OpenOptions, RecordedEvidence, Store};

use crate::Global;

/// The evidence store for `audit` and `check`: created on first use (a SQLite file by
/// default), so that changes are registered and `record` can refer to them.
pub fn open(g: &Global) -> anyhow::Result<Store> {
    let url = crate::store::context(g).database_url();
    Store::open(&url, &OpenOptions { create: true })
        .with_context(|| format!("cannot open the evidence store {url}\nhint: pass --no-store to judge from git alone"))
}

/// Register the changes (so evidence can be recorded against them), then add the recorded
/// approvals, check results, emergency declarations and fulfilments to each.
pub fn merge(store: &Store, repository: &str, changes: &mut [Change]) -> anyhow::Result<usize> {
    let refs: Vec<ChangeRef> = changes
        .iter()
        .map(|c| ChangeRef {
            id: c.id.clone(),
            repository: Some(repository.to_string()),
            pr_number: c.pr_number,
            head_commit: c.head_commit.clone(),
            merge_commit: matches!(c.kind, Some(ChangeKind::Merge | ChangeKind::DirectPush)).then(|| c.id.clone()),
            commits: c.commits.iter().map(|k| k.id.clone()).collect(),
        })
        .collect();
    store.register_new_changes(&refs).context("cannot register the changes in the evidence store")?;
    let mut by_change: HashMap<String, Vec<RecordedEvidence>> = HashMap::new();
    for e in store.all_change_evidence().context("cannot read recorded evidence")? {
        if let Some(id) = e.change_id.clone() {
            by_change.entry(id).or_default().push(e);
        }
    }
    let mut merged = 0;
    for change in changes.iter_mut() {
        let Some(records) = by_change.get(&change.id) else { continue };
        for e in records {
            merged += 1;
            change.approvals.extend(e.to_approval());
            change.approvals.extend(e.to_emergency_authorization());
            change.checks.extend(e.to_check());
            change.fulfilments.extend(e.to_fulfilment());
        }
    }
    Ok(merged)
}
