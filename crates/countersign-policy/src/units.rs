//! Durations, cadences and retention periods as people write them.

use crate::model::{Cadence, DeployWindow, Duration};

/// Parses "15m", "24h", "48h", "5d", "1w", "30 minutes", "2 hours", "5 days".
pub fn parse_duration(text: &str) -> Option<Duration> {
    let (number, unit) = split_number(text)?;
    let seconds_per = match unit {
        "s" | "sec" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 604_800,
        _ => return None,
    };
    let seconds = number.checked_mul(seconds_per)?;
    (seconds > 0).then_some(Duration { seconds })
}

/// Parses "6 months", "1 year", "annual", "semi-annual", "quarterly", "monthly".
pub fn parse_cadence(text: &str) -> Option<Cadence> {
    let lower = text.trim().to_lowercase();
    let months = match lower.as_str() {
        "annual" | "annually" | "yearly" | "every year" => 12,
        "semi-annual" | "semiannual" | "semi-annually" | "semiannually" | "twice a year" | "half-yearly" => 6,
        "quarterly" | "every quarter" => 3,
        "monthly" | "every month" => 1,
        _ => {
            let rest = lower.strip_prefix("every ").unwrap_or(&lower);
            let (number, unit) = split_number(rest)?;
            let number = u32::try_from(number).ok()?;
            match unit {
                "month" | "months" | "mo" => number,
                "year" | "years" | "y" | "yr" => number.checked_mul(12)?,
                _ => return None,
            }
        }
    };
    (months > 0).then_some(Cadence { months })
}

/// Parses a retention period: "indefinite" (None) or "90 days", "90d", "1 year".
pub fn parse_retention(text: &str) -> Option<Option<u32>> {
    let lower = text.trim().to_lowercase();
    if matches!(lower.as_str(), "indefinite" | "indefinitely" | "forever" | "permanent") {
        return Some(None);
    }
    let (number, unit) = split_number(&lower)?;
    let number = u32::try_from(number).ok()?;
    let days = match unit {
        "d" | "day" | "days" => number,
        "w" | "week" | "weeks" => number.checked_mul(7)?,
        "month" | "months" => number.checked_mul(30)?,
        "y" | "year" | "years" => number.checked_mul(365)?,
        _ => return None,
    };
    (days > 0).then_some(Some(days))
}

fn split_number(text: &str) -> Option<(i64, &str)> {
    let text = text.trim();
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    if digits == 0 {
        return None;
    }
    let number: i64 = text[..digits].parse().ok()?;
    Some((number, text[digits..].trim()))
}

/// Renders a duration the way people write it: "15m", "24h", "5d".
pub fn format_duration(duration: Duration) -> String {
    let s = duration.seconds;
    if s % 86_400 == 0 && s >= 3 * 86_400 {
        format!("{}d", s / 86_400)
    } else if s % 3_600 == 0 {
        format!("{}h", s / 3_600)
    } else if s % 60 == 0 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// Renders a duration in words: "24 hours", "5 days", "30 minutes".
pub fn duration_words(duration: Duration) -> String {
    let s = duration.seconds;
    let (n, unit) = if s % 86_400 == 0 && s / 86_400 != 1 && s >= 86_400 * 3 {
        (s / 86_400, "day")
    } else if s % 86_400 == 0 && s == 86_400 {
        (24, "hour")
    } else if s % 3_600 == 0 {
        (s / 3_600, "hour")
    } else if s % 60 == 0 {
        (s / 60, "minute")
    } else {
        (s, "second")
    };
    if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") }
}

/// Renders a cadence as an adverb, to follow "reviewed": "annually", "semi-annually",
/// "quarterly", "monthly", "every 2 years", "every 4 months".
pub fn cadence_words(cadence: Cadence) -> String {
    match cadence.months {
        12 => "annually".to_string(),
        6 => "semi-annually".to_string(),
        3 => "quarterly".to_string(),
        1 => "monthly".to_string(),
        m if m % 12 == 0 => format!("every {} years", m / 12),
        m => format!("every {m} months"),
    }
}

/// "Reviewed annually (every 12 months)", "Reviewed every 4 months": the sentence the
/// policy document uses, with the months spelled out where the adverb hides them.
pub fn reviewed_sentence(cadence: Cadence) -> String {
    let words = cadence_words(cadence);
    if words.starts_with("every ") || cadence.months == 1 {
        format!("Reviewed {words}")
    } else {
        format!("Reviewed {words} (every {} months)", cadence.months)
    }
}

const WEEKDAYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

/// A deploy window, `DAYS HH:MM-HH:MM` in UTC: days as `Mon-Fri`, `Tue,Thu`, `Sat` or
/// `daily`; the time span must not cross midnight (write two windows for that).
pub fn parse_window(text: &str) -> Result<DeployWindow, String> {
    let (days_text, span) =
        text.trim().split_once(char::is_whitespace).ok_or("write a window as `Mon-Fri 09:00-17:00` (UTC)")?;
    let day = |name: &str| -> Result<usize, String> {
        let lower = name.trim().to_ascii_lowercase();
        WEEKDAYS
            .iter()
            .position(|d| lower.len() >= 3 && d.starts_with(&lower))
            .ok_or_else(|| format!("`{}` is not a day of the week (Mon, Tue, … Sun)", name.trim()))
    };
    let mut days = [false; 7];
    if days_text.eq_ignore_ascii_case("daily") {
        days = [true; 7];
    } else {
        for part in days_text.split(',') {
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (day(a)?, day(b)?);
                    let mut d = a;
                    loop {
                        days[d] = true;
                        if d == b {
                            break;
                        }
                        d = (d + 1) % 7;
                    }
                }
                None => days[day(part)?] = true,
            }
        }
    }
    let minutes = |hm: &str| -> Result<u16, String> {
        let bad = || format!("`{}` is not a time of day (HH:MM, 24-hour)", hm.trim());
        let (h, m) = hm.trim().split_once(':').ok_or_else(bad)?;
        let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if h > 24 || m > 59 || (h == 24 && m > 0) {
            return Err(bad());
        }
        Ok(h * 60 + m)
    };
    let (start, end) = span.trim().split_once('-').ok_or("write the hours as `09:00-17:00` (UTC)")?;
    let (start, end) = (minutes(start)?, minutes(end)?);
    if start >= end {
        return Err(
            "a window's start must be before its end on the same day; write two windows to cross midnight".into()
        );
    }
    Ok(DeployWindow { text: text.trim().to_owned(), days, start, end })
}

impl DeployWindow {
    /// Whether a UTC time falls inside the window.
    pub fn contains(&self, weekday_from_monday: usize, minute_of_day: u16) -> bool {
        self.days[weekday_from_monday % 7] && self.start <= minute_of_day && minute_of_day < self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x05_durations_as_written_in_the_seeds() {
        assert_eq!(parse_duration("24h"), Some(Duration { seconds: 86_400 }));
        assert_eq!(parse_duration("48h"), Some(Duration { seconds: 172_800 }));
        assert_eq!(parse_duration("5d"), Some(Duration { seconds: 432_000 }));
        assert_eq!(parse_duration("15 minutes"), Some(Duration { seconds: 900 }));
        assert_eq!(parse_duration("24"), None);
        assert_eq!(parse_duration("0h"), None);
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(format_duration(Duration { seconds: 1_800 }), "30m");
        assert_eq!(duration_words(Duration { seconds: 86_400 }), "24 hours");
        assert_eq!(duration_words(Duration { seconds: 432_000 }), "5 days");
        assert_eq!(duration_words(Duration { seconds: 172_800 }), "48 hours");
    }

    #[test]
    fn cadences() {
        assert_eq!(parse_cadence("6 months"), Some(Cadence { months: 6 }));
        assert_eq!(parse_cadence("Semi-annual"), Some(Cadence { months: 6 }));
        assert_eq!(parse_cadence("annual"), Some(Cadence { months: 12 }));
        assert_eq!(parse_cadence("1 year"), Some(Cadence { months: 12 }));
        assert_eq!(parse_cadence("every 3 months"), Some(Cadence { months: 3 }));
        assert_eq!(parse_cadence("sometimes"), None);
    }

    #[test]
    fn cadences_read_as_adverbs_after_reviewed() {
        assert_eq!(reviewed_sentence(Cadence { months: 6 }), "Reviewed semi-annually (every 6 months)");
        assert_eq!(reviewed_sentence(Cadence { months: 12 }), "Reviewed annually (every 12 months)");
        assert_eq!(reviewed_sentence(Cadence { months: 3 }), "Reviewed quarterly (every 3 months)");
        assert_eq!(reviewed_sentence(Cadence { months: 1 }), "Reviewed monthly");
        assert_eq!(reviewed_sentence(Cadence { months: 24 }), "Reviewed every 2 years");
        assert_eq!(reviewed_sentence(Cadence { months: 4 }), "Reviewed every 4 months");
    }

    #[test]
    fn retention() {
        assert_eq!(parse_retention("indefinite"), Some(None));
        assert_eq!(parse_retention("90 days"), Some(Some(90)));
        assert_eq!(parse_retention("1 year"), Some(Some(365)));
        assert_eq!(parse_retention("a while"), None);
    }

    #[test]
    fn windows_parse_days_ranges_and_hours() {
        let w = parse_window("Tue-Thu 09:00-16:00").unwrap();
        assert_eq!(w.days, [false, true, true, true, false, false, false]);
        assert_eq!((w.start, w.end), (540, 960));
        assert!(w.contains(1, 540) && !w.contains(1, 960) && !w.contains(0, 600));
        assert_eq!(parse_window("Fri-Mon 22:00-23:30").unwrap().days, [true, false, false, false, true, true, true]);
        assert_eq!(parse_window("daily 00:00-24:00").unwrap().days, [true; 7]);
        assert_eq!(
            parse_window("Monday,Wed 10:00-11:00").unwrap().days,
            [true, false, true, false, false, false, false]
        );
        for bad in ["", "Mon", "Mon 9-17", "Mox 09:00-10:00", "Mon 17:00-09:00", "Mon 25:00-26:00", "Mon 10:00-10:00"] {
            assert!(parse_window(bad).is_err(), "{bad}");
        }
    }
}
