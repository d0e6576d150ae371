//! Times of a recording as a user writes them: a time of day as the replay shows it, or
//! an offset. The replay's seek prompt and `replay --tree-at` and `--diff` read them here.

use crate::{
    clock::WallClock,
    event::duration::{self, SECOND},
};

/// The recording time `text` names: a time of day as the replay shows it (`12:01:02`,
/// `12:01:02.5`, `12:01`), the one nearest `from_ns`; or `from_ns` moved by an offset
/// (`+30s`, `-1m`, `+1m30s`, `-500ms`, `+2h`; a bare number counts seconds).
pub fn seek_target(text: &str, clock: &WallClock, from_ns: u64) -> Result<u64, String> {
    resolve(text, clock, from_ns, Day::Nearest)
}

/// The same from a recording's start: a time of day is the first such time at or after
/// it, so every moment of a recording longer than half a day can be named.
pub fn time_from_start(text: &str, clock: &WallClock, start_ns: u64) -> Result<u64, String> {
    resolve(text, clock, start_ns, Day::AtOrAfter)
}

/// Which of the days a time of day could be on.
enum Day {
    Nearest,
    AtOrAfter,
}

fn resolve(text: &str, clock: &WallClock, from_ns: u64, day: Day) -> Result<u64, String> {
    let bad = || format!("`{text}` is not a time: 12:01:02, +30s or -1m");
    if let Some(offset) = text.strip_prefix('+') {
        return Ok(from_ns.saturating_add(duration::parse(offset).ok_or_else(bad)?));
    }
    if let Some(offset) = text.strip_prefix('-') {
        return Ok(from_ns.saturating_sub(duration::parse(offset).ok_or_else(bad)?));
    }
    const DAY: i128 = 86_400 * SECOND as i128;
    let target = i128::from(day_ns(text).ok_or_else(bad)?);
    let now = i128::from(day_ns(&clock.time_of_day(from_ns)).ok_or_else(bad)?);
    // A recording may run past midnight.
    let mut delta = target - now;
    match day {
        Day::Nearest if delta > DAY / 2 => delta -= DAY,
        Day::Nearest if delta <= -DAY / 2 => delta += DAY,
        Day::AtOrAfter if delta < 0 => delta += DAY,
        _ => {}
    }
    Ok((i128::from(from_ns) + delta).max(0) as u64)
}

/// `HH:MM`, `HH:MM:SS`, `HH:MM:SS.ffffff`: nanoseconds after midnight.
fn day_ns(text: &str) -> Option<u64> {
    let mut parts = text.split(':');
    let hours: u64 = parts.next()?.parse().ok()?;
    let minutes: u64 = parts.next()?.parse().ok()?;
    let seconds_ns = match parts.next() {
        Some(s) if s.starts_with(|c: char| c.is_ascii_digit()) => duration::decimal(s, SECOND)?,
        Some(_) => return None,
        None => 0,
    };
    if parts.next().is_some() || hours > 23 || minutes > 59 || seconds_ns >= 60 * SECOND {
        return None;
    }
    Some((hours * 3_600 + minutes * 60) * SECOND + seconds_ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_offsets() {
        assert_eq!(duration::parse("30s"), Some(30 * SECOND));
        assert_eq!(duration::parse("30"), Some(30 * SECOND));
        assert_eq!(duration::parse("1m30s"), Some(90 * SECOND));
        assert_eq!(duration::parse("1.5m"), Some(90 * SECOND));
        assert_eq!(duration::parse("500ms"), Some(SECOND / 2));
        assert_eq!(duration::parse("2h"), Some(7_200 * SECOND));
        for bad in ["", "s", "10x", "1m-2s", "-3s", "nan"] {
            assert_eq!(duration::parse(bad), None, "{bad}");
        }
        assert_eq!(day_ns("01:02"), Some(3_720 * SECOND));
        assert_eq!(day_ns("01:02:03.5"), Some(3_723 * SECOND + SECOND / 2));
        for bad in [
            "1",
            "24:00",
            "12:60",
            "12:00:60",
            "12:00:00:00",
            "a:b",
            "12:00:-1",
        ] {
            assert_eq!(day_ns(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_time_of_day_is_the_nearest_one() {
        // Boot time 0 is midnight UTC; offsets are then the local time zone's.
        let clock = WallClock::with_offset(1_768_435_200 * i128::from(SECOND));
        let shown = |ns| clock.time_of_day(ns);
        let from = 3_600 * SECOND;
        let plus = |ns: u64| shown(from + ns)[..8].to_owned();
        assert_eq!(seek_target("+30s", &clock, from), Ok(from + 30 * SECOND));
        assert_eq!(seek_target("-1m", &clock, from), Ok(from - 60 * SECOND));
        assert_eq!(
            seek_target(&plus(90 * SECOND), &clock, from),
            Ok(from + 90 * SECOND)
        );
        // Eleven hours earlier is earlier, not thirteen hours later.
        let earlier = shown(from + 13 * 3_600 * SECOND)[..8].to_owned();
        assert_eq!(
            seek_target(&earlier, &clock, from + 24 * 3_600 * SECOND),
            Ok(from + 13 * 3_600 * SECOND)
        );
        assert_eq!(
            seek_target("soon", &clock, from),
            Err("`soon` is not a time: 12:01:02, +30s or -1m".to_owned())
        );
    }

    #[test]
    fn from_a_recordings_start_a_time_of_day_is_the_next_one() {
        let clock = WallClock::with_offset(0);
        // Times of day are written and read through the same clock, whatever the zone.
        let start_ns = 1_000 * 86_400 * SECOND;
        let start_text = clock.time_of_day(start_ns);
        let in_14h = clock.time_of_day(start_ns + 14 * 3_600 * SECOND);
        assert_eq!(time_from_start(&start_text, &clock, start_ns), Ok(start_ns));
        assert_eq!(
            time_from_start(&in_14h, &clock, start_ns),
            Ok(start_ns + 14 * 3_600 * SECOND)
        );
        // The seek prompt takes the nearest: ten hours before.
        assert_eq!(
            seek_target(&in_14h, &clock, start_ns),
            Ok(start_ns - 10 * 3_600 * SECOND)
        );
    }
}
