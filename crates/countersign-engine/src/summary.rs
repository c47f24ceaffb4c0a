//! The population summary an auditor reads first, and a reproducible sample.

use std::collections::BTreeMap;

use serde::Serialize;

use countersign_policy::model::ChangeKind;

use crate::report::{Evaluation, Verdict};

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub population: usize,
    pub compliant: usize,
    pub violations: usize,
    pub evidence_missing: usize,
    /// Share (0..=1) of changes reviewed by someone other than the author.
    pub reviewed_by_other_share: f64,
    /// Share of changes with at least one passing CI result.
    pub ci_evidence_share: f64,
    pub direct_pushes: usize,
    pub self_merges: usize,
    pub emergencies: usize,
    pub by_category: BTreeMap<String, usize>,
    /// How often each requirement was missing (violation) across the population.
    pub missing_by_requirement: BTreeMap<String, usize>,
    /// Emergency obligations: open, overdue, fulfilled, fulfilled late.
    pub obligations: crate::obligations::ObligationCounts,
}

/// The population figures. Obligations count as their requirements say (the evaluation
/// measured their deadlines against its `now`).
pub fn summarize(evals: &[Evaluation]) -> Summary {
    let tallies: Vec<Tally> = evals.iter().map(Tally::of).collect();
    summarize_tallies(&tallies, evals)
}

/// What one evaluation adds to the [`Summary`]. Whoever keeps evaluations from an earlier
/// run keeps these beside them, so that a population's summary comes out the same whether
/// its evaluations were judged now or then.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
pub struct Tally {
    pub verdict: Verdict,
    pub reviewed_by_other: bool,
    pub ci_evidence: bool,
    pub direct_push: bool,
    pub self_merge: bool,
    pub emergency: bool,
    pub category: String,
    /// The missing requirements, as `missing_by_requirement` counts them.
    pub missing: Vec<String>,
}

impl Tally {
    pub fn of(e: &Evaluation) -> Self {
        Tally {
            verdict: e.verdict,
            reviewed_by_other: e.reviewed_by_other,
            ci_evidence: e.ci_evidence,
            direct_push: e.change.kind == ChangeKind::DirectPush,
            self_merge: e.self_merge,
            emergency: e.emergency,
            category: e.category.id.clone(),
            missing: e
                .requirements
                .iter()
                .filter(|r| r.status == crate::report::Status::Missing)
                .map(|r| r.id.split(':').take(2).collect::<Vec<_>>().join(":"))
                .collect(),
        }
    }
}

/// The summary of a population from each change's [`Tally`]; the emergency obligations
/// are counted from `with_obligations`, which must hold every emergency's evaluation.
pub fn summarize_tallies<'t>(tallies: impl IntoIterator<Item = &'t Tally>, with_obligations: &[Evaluation]) -> Summary {
    let mut s = Summary::default();
    let mut reviewed = 0;
    let mut ci = 0;
    for t in tallies {
        s.population += 1;
        match t.verdict {
            Verdict::Compliant => s.compliant += 1,
            Verdict::Violation => s.violations += 1,
            Verdict::EvidenceMissing => s.evidence_missing += 1,
        }
        reviewed += usize::from(t.reviewed_by_other);
        ci += usize::from(t.ci_evidence);
        s.direct_pushes += usize::from(t.direct_push);
        s.self_merges += usize::from(t.self_merge);
        s.emergencies += usize::from(t.emergency);
        *s.by_category.entry(t.category.clone()).or_default() += 1;
        for key in &t.missing {
            *s.missing_by_requirement.entry(key.clone()).or_default() += 1;
        }
    }
    let n = s.population;
    let share = |count: usize| if n == 0 { 0.0 } else { count as f64 / n as f64 };
    s.reviewed_by_other_share = share(reviewed);
    s.ci_evidence_share = share(ci);
    let instances = crate::obligations::instances(with_obligations, jiff::Timestamp::MIN, jiff::SignedDuration::ZERO);
    s.obligations = crate::obligations::count(&instances);
    s
}

/// Indices of a reproducible sample of `size` out of `population`, in ascending order.
/// The same seed and population always give the same sample, on every platform: the
/// generator is SplitMix64 and the draw is a partial Fisher–Yates shuffle.
pub fn sample(population: usize, size: usize, seed: u64) -> Vec<usize> {
    let size = size.min(population);
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut idx: Vec<usize> = (0..population).collect();
    for i in 0..size {
        let span = (population - i) as u64;
        let j = i + (next() % span) as usize;
        idx.swap(i, j);
    }
    let mut out = idx[..size].to_vec();
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::sample;

    #[test]
    fn sample_is_reproducible_and_distinct() {
        let a = sample(1000, 25, 7);
        assert_eq!(a, sample(1000, 25, 7));
        assert_ne!(a, sample(1000, 25, 8));
        let mut d = a.clone();
        d.dedup();
        assert_eq!(d.len(), 25);
        assert!(a.iter().all(|&i| i < 1000));
        assert_eq!(sample(3, 10, 1), vec![0, 1, 2]);
    }
}
