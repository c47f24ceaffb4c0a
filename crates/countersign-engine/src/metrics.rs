//! DORA's software delivery metrics (deployment frequency, change lead time, change fail
//! rate, failed deployment recovery time, deployment rework rate) and S003-10's monthly
//! share of production incidents caused by a change, from facts the caller read from the
//! history and the evidence store. Pure: no IO, no clock; the period is an input.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

/// A production deploy in the period.
#[derive(Debug, Clone)]
pub struct DeployFact {
    pub at: Timestamp,
    pub success: bool,
    /// The changes this deploy put in production for the first time: each with the time
    /// its first commit was made, and whether it was rework (an emergency or a revert).
    pub shipped: Vec<ShippedChange>,
    /// Its log entry.
    pub entry: u64,
}

#[derive(Debug, Clone)]
pub struct ShippedChange {
    pub id: String,
    pub first_commit: Option<Timestamp>,
    pub rework: bool,
}

/// A production incident: recorded (`record incident`), or read from a revert (caused by
/// the change it reverts) or an emergency change (cause not stated).
#[derive(Debug, Clone, Serialize)]
pub struct IncidentFact {
    pub started_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    /// The change that caused it, when one did.
    pub caused_by: Option<String>,
    /// Where it was read: `entry #12`, `revert 1a2b3c4`, `emergency change 5d6e7f8`.
    pub source: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Dora {
    pub deployments: usize,
    pub failed_deployments: usize,
    /// Successful production deploys per week of the period.
    pub deployments_per_week: f64,
    /// Median hours from a change's first commit to the production deploy that shipped it.
    pub lead_time_hours: Option<f64>,
    /// Changes whose lead time was measured.
    pub lead_time_changes: usize,
    /// Deploys that failed, or shipped a change that caused an incident, over all deploys.
    pub change_fail_rate: Option<f64>,
    /// Median hours from the start to the resolution of incidents caused by a change.
    pub recovery_hours: Option<f64>,
    /// Deploys that shipped rework (an emergency fix or a revert) over successful deploys.
    pub rework_rate: Option<f64>,
    pub incidents: usize,
    pub incidents_caused_by_change: usize,
    /// S003-10, per calendar month (UTC) of the period.
    pub months: Vec<MonthShare>,
    /// The policy's `incidents-caused-by-change-max`, as a fraction.
    pub threshold: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MonthShare {
    /// `2026-05`.
    pub month: String,
    /// Successful production deploys that month.
    pub deployments: usize,
    pub incidents: usize,
    pub caused_by_change: usize,
    /// `caused_by_change / incidents`; absent in a month without incidents.
    pub share: Option<f64>,
    /// The share is over the policy's threshold: a finding.
    pub breach: bool,
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 })
}

fn hours(d: SignedDuration) -> f64 {
    d.as_secs_f64() / 3600.0
}

fn month_of(t: Timestamp) -> String {
    let d = t.to_zoned(jiff::tz::TimeZone::UTC).date();
    format!("{:04}-{:02}", d.year(), d.month())
}

/// The metrics over `[from, to)`. `deploys` and `incidents` may hold facts outside the
/// period; only those inside count (a deploy by its time, an incident by its start).
pub fn dora(
    from: Timestamp,
    to: Timestamp,
    deploys: &[DeployFact],
    incidents: &[IncidentFact],
    threshold: Option<f64>,
) -> Dora {
    let inside = |t: Timestamp| t >= from && t < to;
    let deploys: Vec<&DeployFact> = deploys.iter().filter(|d| inside(d.at)).collect();
    let incidents: Vec<&IncidentFact> = incidents.iter().filter(|i| inside(i.started_at)).collect();
    let successful: Vec<&&DeployFact> = deploys.iter().filter(|d| d.success).collect();
    let failed = deploys.len() - successful.len();
    let weeks = to.duration_since(from).as_secs_f64() / (7.0 * 86_400.0);
    let lead_times: Vec<f64> = successful
        .iter()
        .flat_map(|d| d.shipped.iter().filter_map(|c| c.first_commit.map(|t| hours(d.at.duration_since(t)).max(0.0))))
        .collect();
    let causes: Vec<&str> = incidents.iter().filter_map(|i| i.caused_by.as_deref()).collect();
    let caused_failure =
        successful.iter().filter(|d| d.shipped.iter().any(|c| causes.contains(&c.id.as_str()))).count();
    let ratio = |n: usize, of: usize| (of > 0).then(|| n as f64 / of as f64);
    let recovery = median(
        incidents
            .iter()
            .filter(|i| i.caused_by.is_some())
            .filter_map(|i| i.resolved_at.map(|r| hours(r.duration_since(i.started_at)).max(0.0)))
            .collect(),
    );
    let mut months: Vec<MonthShare> = Vec::new();
    // Every month the period touches, with or without incidents.
    let mut cursor = from.to_zoned(jiff::tz::TimeZone::UTC).date().first_of_month();
    while let Ok(start) = cursor.to_zoned(jiff::tz::TimeZone::UTC).map(|z| z.timestamp()) {
        if start >= to {
            break;
        }
        let month = month_of(start);
        let of_month: Vec<&&IncidentFact> = incidents.iter().filter(|i| month_of(i.started_at) == month).collect();
        let caused = of_month.iter().filter(|i| i.caused_by.is_some()).count();
        let share = ratio(caused, of_month.len());
        let deployments = successful.iter().filter(|d| month_of(d.at) == month).count();
        months.push(MonthShare {
            deployments,
            month,
            incidents: of_month.len(),
            caused_by_change: caused,
            share,
            breach: matches!((share, threshold), (Some(s), Some(max)) if s > max),
        });
        match cursor.checked_add(jiff::Span::new().months(1)) {
            Ok(next) => cursor = next,
            Err(_) => break,
        }
    }
    Dora {
        deployments: successful.len(),
        failed_deployments: failed,
        deployments_per_week: if weeks > 0.0 { successful.len() as f64 / weeks } else { 0.0 },
        lead_time_hours: median(lead_times.clone()),
        lead_time_changes: lead_times.len(),
        change_fail_rate: ratio(failed + caused_failure, deploys.len()),
        recovery_hours: recovery,
        rework_rate: ratio(successful.iter().filter(|d| d.shipped.iter().any(|c| c.rework)).count(), successful.len()),
        incidents: incidents.len(),
        incidents_caused_by_change: causes.len(),
        months,
        threshold,
    }
}

/// The commit a revert names: `This reverts commit <id>.` in its message (git's own
/// wording), at least 7 hex digits.
pub fn reverted_commit(message: &str) -> Option<&str> {
    let rest = &message[message.find("This reverts commit ")? + "This reverts commit ".len()..];
    let id = rest.split(|c: char| !c.is_ascii_hexdigit()).next()?;
    (id.len() >= 7).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn shipped(id: &str, first: &str, rework: bool) -> ShippedChange {
        ShippedChange { id: id.into(), first_commit: Some(t(first)), rework }
    }

    #[test]
    fn s003_10_dora_metrics_and_the_monthly_incident_share() {
        let deploys = vec![
            DeployFact {
                at: t("2026-05-04T12:00:00Z"),
                success: true,
                shipped: vec![shipped("a", "2026-05-03T12:00:00Z", false)],
                entry: 1,
            },
            DeployFact { at: t("2026-05-11T12:00:00Z"), success: false, shipped: vec![], entry: 2 },
            DeployFact {
                at: t("2026-05-12T12:00:00Z"),
                success: true,
                shipped: vec![shipped("b", "2026-05-10T12:00:00Z", false), shipped("c", "2026-05-12T06:00:00Z", true)],
                entry: 3,
            },
            // Outside the period.
            DeployFact { at: t("2026-07-01T00:00:00Z"), success: true, shipped: vec![], entry: 4 },
        ];
        let incidents = vec![
            IncidentFact {
                started_at: t("2026-05-12T13:00:00Z"),
                resolved_at: Some(t("2026-05-12T15:00:00Z")),
                caused_by: Some("b".into()),
                source: "entry #5".into(),
            },
            IncidentFact {
                started_at: t("2026-05-20T00:00:00Z"),
                resolved_at: None,
                caused_by: None,
                source: "entry #6".into(),
            },
            IncidentFact {
                started_at: t("2026-06-02T00:00:00Z"),
                resolved_at: None,
                caused_by: None,
                source: "entry #7".into(),
            },
        ];
        let m = dora(t("2026-05-01T00:00:00Z"), t("2026-07-01T00:00:00Z"), &deploys, &incidents, Some(0.03));
        assert_eq!((m.deployments, m.failed_deployments), (2, 1));
        // Lead times 24 h, 48 h and 6 h: the median is 24 h.
        assert_eq!((m.lead_time_hours, m.lead_time_changes), (Some(24.0), 3));
        // The failed deploy, and the one that shipped b (which caused an incident): 2 of 3.
        assert_eq!(m.change_fail_rate, Some(2.0 / 3.0));
        assert_eq!(m.recovery_hours, Some(2.0));
        assert_eq!(m.rework_rate, Some(0.5));
        assert_eq!((m.incidents, m.incidents_caused_by_change), (3, 1));
        let may = &m.months[0];
        assert_eq!(
            (may.month.as_str(), may.incidents, may.caused_by_change, may.share, may.breach),
            ("2026-05", 2, 1, Some(0.5), true)
        );
        assert_eq!(may.deployments, 2);
        let june = &m.months[1];
        assert_eq!((june.month.as_str(), june.share, june.breach), ("2026-06", Some(0.0), false));
        assert_eq!(m.months.len(), 2);
        let weeks = 61.0 / 7.0;
        assert!((m.deployments_per_week - 2.0 / weeks).abs() < 1e-9);
    }

    #[test]
    fn nothing_to_measure_gives_no_rates() {
        let m = dora(t("2026-05-01T00:00:00Z"), t("2026-05-02T00:00:00Z"), &[], &[], None);
        assert_eq!((m.lead_time_hours, m.change_fail_rate, m.recovery_hours, m.rework_rate), (None, None, None, None));
        assert_eq!(m.months.len(), 1);
        assert!(!m.months[0].breach && m.months[0].share.is_none());
    }

    #[test]
    fn a_revert_names_the_commit_it_reverts() {
        assert_eq!(reverted_commit("Revert \"x\"\n\nThis reverts commit 1a2b3c4d5e.\n"), Some("1a2b3c4d5e"));
        assert_eq!(reverted_commit("This reverts commit abc."), None);
        assert_eq!(reverted_commit("Fix"), None);
    }
}
