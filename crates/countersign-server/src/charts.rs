//! The charts the period report (`countersign report --format html`) and the dashboard
//! (`/dashboard`) draw, written once: inline SVG built with maud, so they read without
//! JavaScript, print as drawn, and pass the pages' Content-Security-Policy (presentation
//! attributes only, never a `style` attribute).
//!
//! Pure functions of the figures `countersign_judge::period` gathers. Every mark a chart
//! draws for a datum carries the class `mark` (and one naming what it is), so a test can
//! count them.

use countersign_engine::metrics::Dora;
use countersign_judge::period::{ControlResult, DriftRun, Emergency, MonthMetrics};
use jiff::Timestamp;
use maud::{Markup, html};

const WIDTH: f64 = 720.0;
const RED: &str = "#c0392b";
const GREEN: &str = "#2e7d32";
const AMBER: &str = "#b7791f";
const BLUE: &str = "#1565c0";
const GREY: &str = "#555";

/// A rate as a percentage (`n/a` when there is none).
pub fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "n/a".to_owned(), |r| format!("{:.1}%", r * 100.0))
}

/// Hours, or days past two days (`n/a` when there is none).
pub fn hours(h: Option<f64>) -> String {
    h.map_or_else(|| "n/a".to_owned(), |h| if h < 48.0 { format!("{h:.1} h") } else { format!("{:.1} days", h / 24.0) })
}

/// DORA's metrics as label and value: the table under the charts, and the Markdown report.
pub fn metric_rows(m: &Dora) -> Vec<(&'static str, String)> {
    vec![
        ("Production deploys", format!("{} ({} failed)", m.deployments, m.failed_deployments)),
        ("Deployment frequency", format!("{:.2} a week", m.deployments_per_week)),
        (
            "Change lead time (median, first commit to production)",
            format!("{} over {} changes", hours(m.lead_time_hours), m.lead_time_changes),
        ),
        ("Change fail rate", percent(m.change_fail_rate)),
        ("Failed deployment recovery time (median)", hours(m.recovery_hours)),
        ("Deployment rework rate", percent(m.rework_rate)),
        ("Production incidents (caused by a change)", format!("{} ({})", m.incidents, m.incidents_caused_by_change)),
        ("Incidents caused by a change, monthly threshold", percent(m.threshold)),
    ]
}

/// Each control's pass rate as a horizontal bar.
pub fn pass_rates(controls: &[ControlResult]) -> Markup {
    const ROW: usize = 26;
    let height = controls.len() * ROW + 10;
    html! {
        svg.chart.pass-rates width="720" height=(height) viewBox=(format!("0 0 720 {height}")) role="img" aria-label="Pass rate of each control" {
            @for (i, c) in controls.iter().enumerate() {
                @let y = i * ROW + 5;
                @let width = c.pass_rate.map_or(0.0, |p| p * 440.0);
                text x="0" y=(y + 16) font-size="13" { (c.framework) " " (c.id) }
                rect x="200" y=(y) width="440" height="20" fill="#eee" {}
                rect.mark.pass-rate x="200" y=(y) width=(format!("{width:.1}")) height="20"
                    fill=(if c.pass_rate.is_some_and(|p| p < 1.0) { RED } else { GREEN }) {
                    title { (c.framework) " " (c.id) ": " (c.passed) " of " (c.changes) " changes passed" }
                }
                text x="648" y=(y + 16) font-size="13" { (percent(c.pass_rate)) }
            }
        }
    }
}

/// Production deploys (blue bars) and incidents caused by a change (dark bars) per month,
/// with the months over the policy's threshold marked.
pub fn monthly(m: &Dora) -> Markup {
    let most = m.months.iter().map(|x| x.deployments.max(x.caused_by_change)).max().unwrap_or(0).max(1);
    let slot = (680 / m.months.len().max(1)).clamp(12, 90);
    let width = slot * m.months.len() + 40;
    let bar = |n: usize| (n as f64 / most as f64 * 120.0).round();
    html! {
        svg.chart.monthly width=(width) height="180" viewBox=(format!("0 0 {width} 180")) role="img" aria-label="Deploys and incidents per month" {
            line x1="30" y1="140" x2=(width) y2="140" stroke="#999" {}
            text x="0" y="20" font-size="12" { (most) }
            text x="0" y="140" font-size="12" { "0" }
            @for (i, month) in m.months.iter().enumerate() {
                @let x = 40 + i * slot;
                @let deploys = bar(month.deployments);
                @let incidents = bar(month.caused_by_change);
                rect.mark.deploys x=(x) y=(140.0 - deploys) width=(slot / 2 - 2) height=(deploys) fill=(BLUE) {
                    title { (month.month) ": " (month.deployments) " production deploys" }
                }
                rect.mark.incidents x=(x + slot / 2) y=(140.0 - incidents) width=(slot / 2 - 2) height=(incidents)
                    fill=(if month.breach { RED } else { GREY }) {
                    title { (month.month) ": " (month.caused_by_change) " of " (month.incidents) " incidents caused by a change" }
                }
                text x=(x) y="158" font-size="11" { (month.month) }
                @if month.breach { text x=(x) y="174" font-size="11" fill=(RED) { "over threshold" } }
            }
        }
        p.sub { "Blue: production deploys a month. Grey (red when over the policy's threshold): incidents caused by a change." }
    }
}

/// One metric of [`MonthMetrics`], for [`trends`].
struct Trend {
    name: &'static str,
    class: &'static str,
    value: fn(&MonthMetrics) -> Option<f64>,
    label: fn(Option<f64>) -> String,
    /// The top of the scale when it is fixed (a rate: 1); else the largest month.
    scale_max: Option<f64>,
}

/// Each DORA metric month by month: one row of bars per metric (small multiples), each
/// scaled to its own largest month, the value written above each bar. A month without a
/// value (no deploy, no incident) has no bar and says `n/a`.
pub fn trends(months: &[MonthMetrics]) -> Markup {
    let rows = [
        Trend {
            name: "Deployment frequency (a week)",
            class: "deploys-per-week",
            value: |m| Some(m.deployments_per_week),
            label: |v| v.map_or_else(|| "n/a".into(), |v| format!("{v:.2}")),
            scale_max: None,
        },
        Trend {
            name: "Lead time (median)",
            class: "lead-time",
            value: |m| m.lead_time_hours,
            label: hours,
            scale_max: None,
        },
        Trend {
            name: "Change fail rate",
            class: "change-fail-rate",
            value: |m| m.change_fail_rate,
            label: percent,
            scale_max: Some(1.0),
        },
        Trend {
            name: "Recovery time (median)",
            class: "recovery-time",
            value: |m| m.recovery_hours,
            label: hours,
            scale_max: None,
        },
        Trend {
            name: "Rework rate",
            class: "rework-rate",
            value: |m| m.rework_rate,
            label: percent,
            scale_max: Some(1.0),
        },
        Trend {
            name: "Incidents caused by a change",
            class: "incident-share",
            value: |m| m.incident_share,
            label: percent,
            scale_max: Some(1.0),
        },
    ];
    const ROW: f64 = 64.0;
    const LEFT: f64 = 210.0;
    let slot = ((WIDTH - LEFT) / months.len().max(1) as f64).min(120.0);
    let height = rows.len() as f64 * ROW + 20.0;
    html! {
        svg.chart.trends width="720" height=(height) viewBox=(format!("0 0 720 {height}")) role="img" aria-label="Each delivery metric month by month" {
            @for (r, row) in rows.iter().enumerate() {
                @let base = r as f64 * ROW + 52.0;
                @let most = row.scale_max.unwrap_or_else(|| months.iter().filter_map(row.value).fold(0.0, f64::max)).max(f64::MIN_POSITIVE);
                text x="0" y=(base - 16.0) font-size="12" { (row.name) }
                line x1=(LEFT) y1=(base) x2=(WIDTH) y2=(base) stroke="#bbb" {}
                @for (i, m) in months.iter().enumerate() {
                    @let x = LEFT + i as f64 * slot + 4.0;
                    @let value = (row.value)(m);
                    @let h = value.map_or(0.0, |v| (v / most * 34.0).clamp(0.0, 34.0));
                    @if let Some(v) = value {
                        rect class=(format!("mark trend {}", row.class)) x=(format!("{x:.1}")) y=(format!("{:.1}", base - h))
                            width=(format!("{:.1}", slot * 0.5)) height=(format!("{h:.1}"))
                            fill=(if row.class == "incident-share" && m.breach { RED } else { BLUE }) {
                            title { (m.month) ": " (row.name) " " ((row.label)(Some(v))) }
                        }
                    }
                    text x=(format!("{:.1}", x + slot * 0.5 + 3.0)) y=(format!("{:.1}", base - 2.0)) font-size="10" fill=(GREY) { ((row.label)(value)) }
                    @if r + 1 == rows.len() {
                        text x=(format!("{x:.1}")) y=(format!("{:.1}", base + 14.0)) font-size="11" { (m.month) }
                    }
                }
            }
        }
    }
}

/// A time axis over `[from, to)`: `x` of a time, clamped to the plot.
struct Axis {
    from: Timestamp,
    to: Timestamp,
    left: f64,
    right: f64,
}

impl Axis {
    fn x(&self, t: Timestamp) -> f64 {
        let span = self.to.duration_since(self.from).as_secs_f64().max(1.0);
        let at = t.duration_since(self.from).as_secs_f64().clamp(0.0, span);
        self.left + at / span * (self.right - self.left)
    }

    /// The axis line at `y`, with a tick and a label at each month's start in the period.
    fn draw(&self, y: f64) -> Markup {
        let utc = jiff::tz::TimeZone::UTC;
        let mut ticks = vec![self.from];
        let mut month = self.from.to_zoned(utc.clone()).date().first_of_month();
        while let Some(next) = month
            .checked_add(jiff::Span::new().months(1))
            .ok()
            .and_then(|d| d.to_zoned(utc.clone()).ok().map(|z| (d, z.timestamp())))
        {
            if next.1 >= self.to {
                break;
            }
            ticks.push(next.1);
            month = next.0;
        }
        html! {
            line x1=(self.left) y1=(y) x2=(self.right) y2=(y) stroke="#999" {}
            @for t in &ticks {
                @let x = self.x(*t);
                line x1=(format!("{x:.1}")) y1=(y) x2=(format!("{x:.1}")) y2=(y + 5.0) stroke="#999" {}
                // A label near the right end ends at its tick, so it is not cut off.
                text x=(format!("{x:.1}")) y=(y + 17.0) font-size="11" fill=(GREY)
                    text-anchor=(if x > self.right - 70.0 { "end" } else { "start" }) { (t.to_zoned(utc.clone()).date()) }
            }
        }
    }
}

fn short(id: &str) -> &str {
    id.get(..10).unwrap_or(id)
}

/// Each emergency on the period's time axis: a diamond when it landed, and for each of its
/// obligations a line from then to the deadline (a tick), and a dot when it was fulfilled
/// (green on time, red late) or, while open, a hollow dot at the deadline (red once it has
/// passed `now`).
pub fn emergency_timeline(emergencies: &[Emergency], from: Timestamp, to: Timestamp, now: Timestamp) -> Markup {
    const ROW: f64 = 22.0;
    let axis = Axis { from, to, left: 230.0, right: WIDTH - 10.0 };
    let rows: usize = emergencies.iter().map(|e| 1 + e.obligations.len()).sum();
    let height = rows as f64 * ROW + 40.0;
    let mut y = 0.0;
    html! {
        svg.chart.timeline width="720" height=(height) viewBox=(format!("0 0 720 {height}")) role="img" aria-label="Emergencies and their obligations over the period" {
            @for e in emergencies {
                @let top = { y += ROW; y };
                text x="0" y=(top) font-size="12" font-weight="600" { (short(&e.change)) " " (e.title.chars().take(24).collect::<String>()) }
                @if let Some(at) = e.declared_at {
                    @let x = axis.x(at);
                    polygon.mark.emergency points=(format!("{:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1}", x, top - 11.0, x + 6.0, top - 5.0, x, top + 1.0, x - 6.0, top - 5.0)) fill="#1d232b" {
                        title { (e.change) ": emergency, landed " (at) }
                    }
                }
                @for o in &e.obligations {
                    @let row = { y += ROW; y };
                    @let start = e.declared_at.map(|t| axis.x(t));
                    @let due = o.due.map(|t| axis.x(t));
                    text x="14" y=(row) font-size="11" { (o.obligation) " · " (o.outcome()) }
                    @if let (Some(a), Some(b)) = (start, due) {
                        line x1=(format!("{a:.1}")) y1=(row - 4.0) x2=(format!("{b:.1}")) y2=(row - 4.0) stroke="#9aa5b1" stroke-width="3" {}
                    }
                    @if let Some(b) = due {
                        line.deadline x1=(format!("{b:.1}")) y1=(row - 11.0) x2=(format!("{b:.1}")) y2=(row + 3.0) stroke="#1d232b" stroke-width="2" {
                            title { (o.obligation) " due " (o.due.map(|d| d.to_string()).unwrap_or_default()) }
                        }
                    }
                    @match (o.outcome(), o.fulfilled_at) {
                        ("open", _) => {
                            @let x = due.or(start).unwrap_or(axis.left);
                            @let overdue = o.due.is_some_and(|d| d <= now);
                            circle class="mark obligation open" cx=(format!("{x:.1}")) cy=(row - 4.0) r="5" fill="#fff"
                                stroke=(if overdue { RED } else { AMBER }) stroke-width="2" {
                                title { (o.obligation) ": open" @if overdue { ", overdue" } }
                            }
                        }
                        (outcome, at) => {
                            @let x = at.map(|t| axis.x(t)).or(due).or(start).unwrap_or(axis.left);
                            circle class=(if outcome == "late" { "mark obligation late" } else { "mark obligation on-time" })
                                cx=(format!("{x:.1}")) cy=(row - 4.0) r="5" fill=(if outcome == "late" { RED } else { GREEN }) {
                                title { (o.obligation) ": fulfilled " (outcome) @if let Some(at) = at { " at " (at) } }
                            }
                        }
                    }
                }
            }
            (axis.draw(y + 10.0))
        }
        p.sub { "Diamond: the emergency landed. Bar: the time its obligation allowed, to the deadline (tick). Dot: fulfilled on time (green) or late (red); hollow: still open (red once overdue)." }
    }
}

/// Each collector run on the period's time axis, one row per repository and branch: a red
/// bar as tall as its findings when it found drift, a green dot when it found none; the runs
/// that opened drift say `+N`, those that fixed it `-N`.
pub fn drift_history(runs: &[DriftRun], from: Timestamp, to: Timestamp) -> Markup {
    const ROW: f64 = 60.0;
    let axis = Axis { from, to, left: 200.0, right: WIDTH - 20.0 };
    let mut places: Vec<(String, &str, Option<&str>)> = Vec::new();
    for r in runs {
        let place = (r.repository.clone(), r.collector.as_str(), r.branch.as_deref());
        if !places.contains(&place) {
            places.push(place);
        }
    }
    let most = runs.iter().map(|r| r.findings.len()).max().unwrap_or(0).max(1) as f64;
    let height = places.len() as f64 * ROW + 30.0;
    html! {
        svg.chart.drift width="720" height=(height) viewBox=(format!("0 0 720 {height}")) role="img" aria-label="Forge settings drift over the period" {
            @for (i, (repository, collector, branch)) in places.iter().enumerate() {
                @let base = (i + 1) as f64 * ROW - 10.0;
                text x="0" y=(base - 20.0) font-size="12" { (repository) @if let Some(b) = branch { ":" (b) } }
                text x="0" y=(base - 6.0) font-size="11" fill=(GREY) { (collector) }
                line x1=(axis.left) y1=(base) x2=(axis.right) y2=(base) stroke="#ddd" {}
                @for r in runs.iter().filter(|r| r.repository == *repository && r.collector == *collector && r.branch.as_deref() == *branch) {
                    @let x = axis.x(r.checked_at);
                    @if r.findings.is_empty() {
                        circle class="mark run clean" cx=(format!("{x:.1}")) cy=(base - 4.0) r="4" fill=(GREEN) {
                            title { "entry #" (r.entry) ", " (r.checked_at) ": as the policy asks" @if !r.fixed.is_empty() { "; fixed " (r.fixed.join(", ")) } }
                        }
                    } @else {
                        @let h = r.findings.len() as f64 / most * 36.0;
                        rect class="mark run drift" x=(format!("{:.1}", x - 4.0)) y=(format!("{:.1}", base - h)) width="8" height=(format!("{h:.1}")) fill=(RED) {
                            title { "entry #" (r.entry) ", " (r.checked_at) ": " (r.findings.join(", ")) }
                        }
                    }
                    @if !r.opened.is_empty() {
                        text.opened x=(format!("{:.1}", x + 6.0)) y=(base - 30.0) font-size="11" fill=(RED) { "+" (r.opened.len()) }
                    }
                    @if !r.fixed.is_empty() {
                        text.fixed x=(format!("{:.1}", x + 6.0)) y=(base - 14.0) font-size="11" fill=(GREEN) { "−" (r.fixed.len()) }
                    }
                }
            }
            (axis.draw(places.len() as f64 * ROW))
        }
        p.sub { "Each collector run: a red bar as tall as what it found short of the policy, a green dot when it found nothing; +N: drift it opened, −N: drift it fixed." }
    }
}

/// The emergencies as a table: each obligation with its deadline, when it was fulfilled and
/// whether on time (the timeline's data, to read and to print).
pub fn emergency_table(emergencies: &[Emergency]) -> Markup {
    html! {
        table.emergencies {
            thead { tr { th { "Emergency" } th { "Landed" } th { "Obligation" } th { "Due" } th { "Fulfilled" } th { "Outcome" } } }
            tbody {
                @for e in emergencies {
                    @if e.obligations.is_empty() {
                        tr { td { code { (short(&e.change)) } " " (e.title) } td { (opt_time(e.declared_at)) } td.sub colspan="4" { "no obligation" } }
                    }
                    @for o in &e.obligations {
                        tr {
                            td { code { (short(&e.change)) } " " (e.title) }
                            td { (opt_time(e.declared_at)) }
                            td { strong { (o.obligation) } br; span.sub { (o.description) } }
                            td { (opt_time(o.due)) }
                            td { (opt_time(o.fulfilled_at)) }
                            td class=(match o.outcome() { "on time" => "ok", "late" => "bad", _ => "warn" }) { (o.outcome()) " (" (o.state.as_str()) ")" }
                        }
                    }
                }
            }
        }
    }
}

/// The collector runs as a table: what each found, opened and fixed.
pub fn drift_table(runs: &[DriftRun]) -> Markup {
    html! {
        table.drift-runs {
            thead { tr { th { "Checked" } th { "Where" } th { "Findings" } th { "Opened" } th { "Fixed" } th { "Entry" } } }
            tbody {
                @for r in runs {
                    tr {
                        td { (r.checked_at) }
                        td { (r.collector) " " code { (r.repository) @if let Some(b) = &r.branch { ":" (b) } } }
                        td class=(if r.findings.is_empty() { "ok" } else { "bad" }) {
                            @if r.findings.is_empty() { "none" } @else { (r.findings.join(", ")) }
                        }
                        td { (r.opened.join(", ")) }
                        td { (r.fixed.join(", ")) }
                        td { "#" (r.entry) }
                    }
                }
            }
        }
    }
}

fn opt_time(t: Option<Timestamp>) -> String {
    t.map_or_else(|| "—".to_owned(), |t| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use countersign_engine::obligations::ObligationState;
    use countersign_judge::period::TimelineObligation;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn marks(svg: &str, class: &str) -> usize {
        svg.matches(&format!("class=\"{class}")).count()
    }

    #[test]
    fn the_timeline_draws_each_obligation_by_its_outcome() {
        let obligation = |id: &str, state, fulfilled: Option<&str>| TimelineObligation {
            obligation: id.into(),
            description: String::new(),
            due: Some(t("2026-05-11T00:00:00Z")),
            fulfilled_at: fulfilled.map(t),
            state,
        };
        let e = Emergency {
            change: "abc".into(),
            title: "Hotfix".into(),
            verdict: countersign_engine::Verdict::Violation,
            authorized_by: vec![],
            declared_at: Some(t("2026-05-10T00:00:00Z")),
            obligations: vec![
                obligation("documented", ObligationState::Fulfilled, Some("2026-05-10T06:00:00Z")),
                obligation("review", ObligationState::FulfilledLate, Some("2026-05-12T00:00:00Z")),
                obligation("post-mortem", ObligationState::Overdue, None),
            ],
        };
        let svg =
            emergency_timeline(&[e], t("2026-05-01T00:00:00Z"), t("2026-06-01T00:00:00Z"), t("2026-05-20T00:00:00Z"))
                .into_string();
        assert_eq!(marks(&svg, "mark emergency"), 1, "{svg}");
        assert_eq!(marks(&svg, "mark obligation on-time"), 1);
        assert_eq!(marks(&svg, "mark obligation late"), 1);
        assert_eq!(marks(&svg, "mark obligation open"), 1);
        assert_eq!(svg.matches("class=\"deadline\"").count(), 3);
        assert!(!svg.contains("style="), "no style attribute: the pages' CSP forbids them");
    }

    #[test]
    fn the_drift_history_marks_drift_and_clean_runs() {
        let run = |at: &str, findings: &[&str], opened: &[&str], fixed: &[&str]| DriftRun {
            collector: "branch-protection".into(),
            repository: "acme/app".into(),
            branch: Some("main".into()),
            entry: 1,
            checked_at: t(at),
            findings: findings.iter().map(|s| (*s).to_owned()).collect(),
            opened: opened.iter().map(|s| (*s).to_owned()).collect(),
            fixed: fixed.iter().map(|s| (*s).to_owned()).collect(),
        };
        let runs = [
            run("2026-05-02T00:00:00Z", &["force-pushes", "deletions"], &["force-pushes", "deletions"], &[]),
            run("2026-05-03T00:00:00Z", &[], &[], &["force-pushes", "deletions"]),
        ];
        let svg = drift_history(&runs, t("2026-05-01T00:00:00Z"), t("2026-06-01T00:00:00Z")).into_string();
        assert_eq!((marks(&svg, "mark run drift"), marks(&svg, "mark run clean")), (1, 1), "{svg}");
        assert!(svg.contains(">+2<") && svg.contains(">−2<"), "{svg}");
    }
}
