//! Durations as the screens and text lines show them, and as users type them. The formats
//! share their pieces, so that a time reads the same everywhere: `3m12s`, `1h02m`.

/// A second, in nanoseconds.
pub const SECOND: u64 = 1_000_000_000;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;

/// A duration in the largest unit that keeps it short, for text lines and the details
/// pane: `850us`, `12.3ms`, `4.0s`, `3m12s`, `27h05m`.
pub fn short(ns: u64) -> String {
    match ns {
        0..1_000_000 => format!("{}us", ns / 1_000),
        1_000_000..SECOND => format!("{:.1}ms", ns as f64 / 1e6),
        SECOND..MINUTE => format!("{:.1}s", ns as f64 / 1e9),
        MINUTE..HOUR => minutes_seconds(ns / SECOND),
        _ => hours_minutes(ns / SECOND),
    }
}

/// A live process's age, to the second: `0s`, `59s`, `3m12s`, `1h02m`, `3d04h`. Whole
/// seconds, so that a cell changes at most once a second.
pub fn age(ns: u64) -> String {
    let s = ns / SECOND;
    match s {
        0..60 => format!("{s}s"),
        60..3_600 => minutes_seconds(s),
        3_600..86_400 => hours_minutes(s),
        _ => format!("{}d{:02}h", s / 86_400, s / 3_600 % 24),
    }
}

/// How long an exited process ran, in at most six columns: `850us`, `4.2ms`, `501ms`,
/// `3.0s`, then as [`age`].
pub fn run_time(ns: u64) -> String {
    match ns {
        0..1_000_000 => format!("{}us", ns / 1_000),
        1_000_000..10_000_000 => format!("{:.1}ms", ns as f64 / 1e6),
        10_000_000..1_000_000_000 => format!("{}ms", ns / 1_000_000),
        1_000_000_000..10_000_000_000 => format!("{:.1}s", ns as f64 / 1e9),
        _ => age(ns),
    }
}

/// Time into a recording: `0.0s`, `42.5s`, then as [`age`] (`3m12s`).
pub fn elapsed(ns: u64) -> String {
    if ns < MINUTE {
        format!("{:.1}s", ns as f64 / SECOND as f64)
    } else {
        age(ns)
    }
}

/// `3m12s` from whole seconds.
fn minutes_seconds(s: u64) -> String {
    format!("{}m{:02}s", s / 60, s % 60)
}

/// `1h02m` from whole seconds.
fn hours_minutes(s: u64) -> String {
    format!("{}h{:02}m", s / 3_600, s / 60 % 60)
}

/// What a user typed as a duration, in nanoseconds: `30s`, `1m30s`, `500ms`, `2h`, `1.5m`,
/// `30` (seconds).
pub fn parse(text: &str) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    let number_end = |s: &str| s.find(|c: char| !c.is_ascii_digit() && c != '.');
    if number_end(text).is_none() {
        return decimal(text, SECOND);
    }
    let mut rest = text;
    let mut total = 0u64;
    while !rest.is_empty() {
        let split = number_end(rest)?;
        let (number, after) = rest.split_at(split);
        let unit_end = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_end);
        let scale = match unit {
            "h" => HOUR,
            "m" | "min" => MINUTE,
            "s" => SECOND,
            "ms" => SECOND / 1_000,
            _ => return None,
        };
        total = total.checked_add(decimal(number, scale)?)?;
        rest = after;
    }
    Some(total)
}

/// A decimal number of `scale` nanoseconds, in nanoseconds.
pub fn decimal(number: &str, scale: u64) -> Option<u64> {
    let value: f64 = number.parse().ok()?;
    (value.is_finite() && value >= 0.0).then(|| (value * scale as f64).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_keep_to_six_columns() {
        assert_eq!(age(999_999_999), "0s");
        assert_eq!(age(59 * SECOND), "59s");
        assert_eq!(age(192 * SECOND), "3m12s");
        assert_eq!(age(3_720 * SECOND), "1h02m");
        assert_eq!(age((3 * 86_400 + 4 * 3_600) * SECOND), "3d04h");
    }

    #[test]
    fn run_times_keep_to_six_columns() {
        assert_eq!(run_time(850_000), "850us");
        assert_eq!(run_time(4_250_000), "4.2ms");
        assert_eq!(run_time(9_990_000), "10.0ms");
        assert_eq!(run_time(501_400_000), "501ms");
        assert_eq!(run_time(3_040_000_000), "3.0s");
        assert_eq!(run_time(61 * SECOND), "1m01s");
    }

    #[test]
    fn short_durations_and_times_into_a_recording_share_the_long_forms() {
        assert_eq!(short(4_040_000_000), "4.0s");
        assert_eq!(short(3_720 * SECOND), "1h02m");
        assert_eq!(short((27 * 3_600 + 5 * 60) * SECOND), "27h05m");
        assert_eq!(elapsed(0), "0.0s");
        assert_eq!(elapsed(42_500_000_000), "42.5s");
        assert_eq!(elapsed(192 * SECOND), "3m12s");
    }
}
