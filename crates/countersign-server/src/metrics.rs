//! `/metrics`, in Prometheus' text exposition format (version 0.0.4).
//!
//! The counters are few and their labels bounded (forge, event name, outcome), so they
//! are kept in maps behind one mutex, and rendered by hand: the format is a handful of
//! lines per family.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histograms, in seconds.
const BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Debug, Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS.len()];
        }
        for (bound, count) in BUCKETS.iter().zip(&mut self.counts) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        self.sum += seconds;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, bound) in BUCKETS.iter().enumerate() {
            let n = self.counts.get(i).copied().unwrap_or(0);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {n}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", self.count);
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

#[derive(Debug, Default)]
struct Inner {
    /// (forge, event, outcome) → deliveries.
    deliveries: BTreeMap<(String, String, String), u64>,
    /// (kind, outcome) → jobs run.
    jobs: BTreeMap<(String, String), u64>,
    ingest: Histogram,
    evaluation: Histogram,
    /// (forge, outcome) → API calls.
    forge_calls: BTreeMap<(String, String), u64>,
    /// forge → the rate-limit headroom its last answer reported.
    rate_remaining: BTreeMap<String, u64>,
    /// Statuses someone else set under our context, overwritten.
    tampering: u64,
    /// repository → DORA's metrics, as the last sweep computed them.
    dora: BTreeMap<String, crate::dashboard::Gauges>,
}

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

/// The job queue, read from the store when scraped.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueueGauge {
    pub depth: u64,
    /// Seconds since the oldest waiting job was due (0 when none is late).
    pub oldest_age_seconds: f64,
}

impl Metrics {
    /// Count a delivery: `outcome` is `accepted`, `duplicate`, `conflict`, `unauthorized`,
    /// `malformed`, `too_large`, `ignored`, `unknown_repository`, `error`.
    pub fn delivery(&self, forge: &str, event: &str, outcome: &str) {
        if let Ok(mut inner) = self.inner.lock() {
            *inner.deliveries.entry((forge.to_owned(), bounded(event), outcome.to_owned())).or_default() += 1;
        }
    }

    /// Time from a delivery's arrival to its durable acceptance.
    pub fn ingest_latency(&self, took: Duration) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.ingest.observe(took.as_secs_f64());
        }
    }

    /// Time to judge a change (git, the log, the engine), not counting the post.
    pub fn evaluation_latency(&self, took: Duration) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.evaluation.observe(took.as_secs_f64());
        }
    }

    /// A forge API call: `outcome` is `ok`, `rate_limited` or `error`; `remaining` is the
    /// rate-limit headroom the answer reported.
    pub fn forge_call(&self, forge: &str, outcome: &str, remaining: Option<u64>) {
        if let Ok(mut inner) = self.inner.lock() {
            *inner.forge_calls.entry((forge.to_owned(), outcome.to_owned())).or_default() += 1;
            if let Some(n) = remaining {
                inner.rate_remaining.insert(forge.to_owned(), n);
            }
        }
    }

    /// Someone else set our status context; it was overwritten.
    pub fn tampering(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.tampering += 1;
        }
    }

    /// A repository's DORA metrics, computed by the sweep (kept until the next one).
    pub fn dora(&self, repository: &str, gauges: crate::dashboard::Gauges) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.dora.insert(repository.to_owned(), gauges);
        }
    }

    pub fn job(&self, kind: &str, outcome: &str) {
        if let Ok(mut inner) = self.inner.lock() {
            *inner.jobs.entry((kind.to_owned(), outcome.to_owned())).or_default() += 1;
        }
    }

    /// The text exposition.
    pub fn render(&self, queue: QueueGauge) -> String {
        let mut out = String::new();
        let Ok(inner) = self.inner.lock() else { return out };
        out.push_str(
            "# HELP countersign_webhook_deliveries_total Webhook deliveries received, by forge, event and outcome.\n",
        );
        out.push_str("# TYPE countersign_webhook_deliveries_total counter\n");
        for ((forge, event, outcome), n) in &inner.deliveries {
            let _ = writeln!(
                out,
                "countersign_webhook_deliveries_total{{forge=\"{}\",event=\"{}\",outcome=\"{}\"}} {n}",
                escape(forge),
                escape(event),
                escape(outcome)
            );
        }
        out.push_str(
            "# HELP countersign_webhook_ingest_seconds Time from a delivery's arrival to its durable acceptance.\n",
        );
        out.push_str("# TYPE countersign_webhook_ingest_seconds histogram\n");
        inner.ingest.render(&mut out, "countersign_webhook_ingest_seconds", "");
        out.push_str("# HELP countersign_jobs_total Background jobs run, by kind and outcome.\n");
        out.push_str("# TYPE countersign_jobs_total counter\n");
        for ((kind, outcome), n) in &inner.jobs {
            let _ = writeln!(
                out,
                "countersign_jobs_total{{kind=\"{}\",outcome=\"{}\"}} {n}",
                escape(kind),
                escape(outcome)
            );
        }
        out.push_str("# HELP countersign_job_queue_depth Jobs waiting or running.\n");
        out.push_str("# TYPE countersign_job_queue_depth gauge\n");
        let _ = writeln!(out, "countersign_job_queue_depth {}", queue.depth);
        out.push_str("# HELP countersign_job_queue_oldest_age_seconds How long the oldest waiting job has been due.\n");
        out.push_str("# TYPE countersign_job_queue_oldest_age_seconds gauge\n");
        let _ = writeln!(out, "countersign_job_queue_oldest_age_seconds {}", queue.oldest_age_seconds);
        out.push_str(
            "# HELP countersign_evaluation_seconds Time to judge a change after an event (git, log, engine).\n",
        );
        out.push_str("# TYPE countersign_evaluation_seconds histogram\n");
        inner.evaluation.render(&mut out, "countersign_evaluation_seconds", "");
        out.push_str("# HELP countersign_forge_api_calls_total Calls to the forges' APIs, by forge and outcome.\n");
        out.push_str("# TYPE countersign_forge_api_calls_total counter\n");
        for ((forge, outcome), n) in &inner.forge_calls {
            let _ = writeln!(
                out,
                "countersign_forge_api_calls_total{{forge=\"{}\",outcome=\"{}\"}} {n}",
                escape(forge),
                escape(outcome)
            );
        }
        out.push_str("# HELP countersign_forge_rate_limit_remaining Requests left in the forge's rate-limit window, as last reported.\n");
        out.push_str("# TYPE countersign_forge_rate_limit_remaining gauge\n");
        for (forge, n) in &inner.rate_remaining {
            let _ = writeln!(out, "countersign_forge_rate_limit_remaining{{forge=\"{}\"}} {n}", escape(forge));
        }
        out.push_str("# HELP countersign_status_tampering_total Statuses set by someone else under countersign's context, overwritten.\n");
        out.push_str("# TYPE countersign_status_tampering_total counter\n");
        let _ = writeln!(out, "countersign_status_tampering_total {}", inner.tampering);
        render_dora(&mut out, &inner.dora);
        out
    }
}

/// DORA's gauges, one family per metric, a sample per repository. A metric with nothing to
/// measure (no deploy in the window, no incident this month) has no sample.
fn render_dora(out: &mut String, dora: &BTreeMap<String, crate::dashboard::Gauges>) {
    use crate::dashboard::Gauges;
    type Read = fn(&Gauges) -> Option<f64>;
    let families: [(&str, &str, Read); 7] = [
        (
            "countersign_dora_deployments_per_week",
            "Successful production deploys a week, over the last 30 days.",
            |g| Some(g.deployments_per_week),
        ),
        (
            "countersign_dora_lead_time_median_seconds",
            "Median time from a change's first commit to the production deploy that shipped it, over the last 30 days.",
            |g| g.lead_time_seconds,
        ),
        (
            "countersign_dora_change_fail_rate",
            "Production deploys that failed or shipped a change that caused an incident, over all, in the last 30 days.",
            |g| g.change_fail_rate,
        ),
        (
            "countersign_dora_recovery_time_median_seconds",
            "Median time from the start to the resolution of incidents caused by a change, in the last 30 days.",
            |g| g.recovery_seconds,
        ),
        (
            "countersign_dora_rework_rate",
            "Successful production deploys that shipped an emergency fix or a revert, in the last 30 days.",
            |g| g.rework_rate,
        ),
        (
            "countersign_dora_incident_share",
            "Share of this calendar month's (UTC) production incidents caused by a change (S003-10).",
            |g| g.incident_share,
        ),
        ("countersign_dora_incident_share_max", "The policy's [metrics] incidents-caused-by-change-max.", |g| {
            g.incident_share_max
        }),
    ];
    for (name, help, read) in families {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        for (repository, gauges) in dora {
            if let Some(value) = read(gauges) {
                let _ = writeln!(out, "{name}{{repository=\"{}\"}} {value}", escape(repository));
            }
        }
    }
}

/// Event names come from a header: keep the label set bounded and printable.
fn bounded(event: &str) -> String {
    let clean: String = event.chars().filter(|c| c.is_ascii_graphic() || *c == ' ').take(64).collect();
    if clean.is_empty() { "none".into() } else { clean }
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms_in_text_format() {
        let m = Metrics::default();
        m.delivery("github", "pull_request", "accepted");
        m.delivery("github", "pull_request", "accepted");
        m.delivery("gitlab", "Merge \"Request\" Hook", "duplicate");
        m.ingest_latency(Duration::from_millis(3));
        let text = m.render(QueueGauge { depth: 2, oldest_age_seconds: 1.5 });
        assert!(text.contains(
            "countersign_webhook_deliveries_total{forge=\"github\",event=\"pull_request\",outcome=\"accepted\"} 2\n"
        ));
        assert!(text.contains("event=\"Merge \\\"Request\\\" Hook\""), "{text}");
        assert!(text.contains("countersign_webhook_ingest_seconds_bucket{le=\"0.0025\"} 0\n"));
        assert!(text.contains("countersign_webhook_ingest_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(text.contains("countersign_webhook_ingest_seconds_count 1\n"));
        assert!(text.contains("countersign_job_queue_depth 2\n"));
        assert!(text.contains("countersign_job_queue_oldest_age_seconds 1.5\n"));
    }

    #[test]
    fn s003_10_dora_gauges_are_labelled_by_repository_and_absent_when_unmeasured() {
        let m = Metrics::default();
        m.dora(
            "acme/app",
            crate::dashboard::Gauges {
                deployments_per_week: 0.5,
                lead_time_seconds: Some(7200.0),
                incident_share: Some(0.25),
                incident_share_max: Some(0.03),
                ..Default::default()
            },
        );
        let text = m.render(QueueGauge::default());
        assert!(text.contains("# TYPE countersign_dora_rework_rate gauge\n"), "{text}");
        assert!(text.contains("countersign_dora_deployments_per_week{repository=\"acme/app\"} 0.5\n"), "{text}");
        assert!(text.contains("countersign_dora_lead_time_median_seconds{repository=\"acme/app\"} 7200\n"));
        assert!(text.contains("countersign_dora_incident_share{repository=\"acme/app\"} 0.25\n"));
        assert!(text.contains("countersign_dora_incident_share_max{repository=\"acme/app\"} 0.03\n"));
        assert!(!text.contains("countersign_dora_change_fail_rate{"), "nothing measured, no sample: {text}");
    }
}
