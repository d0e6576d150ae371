//! Short texts for narrow cells: ages, exit statuses, rates, wrapped lines.

use unicode_width::UnicodeWidthChar;

use crate::event::{ExitStatus, signal_name};

const SECOND: u64 = 1_000_000_000;

/// A live process's age, to the second: `0s`, `59s`, `3m12s`, `1h02m`, `3d04h`. Whole
/// seconds, so that a cell changes at most once a second.
pub fn age(ns: u64) -> String {
    let s = ns / SECOND;
    match s {
        0..60 => format!("{s}s"),
        60..3_600 => format!("{}m{:02}s", s / 60, s % 60),
        3_600..86_400 => format!("{}h{:02}m", s / 3_600, s / 60 % 60),
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

/// How a process ended, for the start of its row: `exit 0`, `SIGKILL`, `SIGSEGV core`,
/// `ended` (the source cannot know the status).
pub fn exit_label(status: ExitStatus) -> String {
    match status {
        ExitStatus::Code(code) => format!("exit {code}"),
        ExitStatus::Signal {
            signal,
            core_dumped: false,
        } => signal_name(signal),
        ExitStatus::Signal {
            signal,
            core_dumped: true,
        } => format!("{} core", signal_name(signal)),
        ExitStatus::Unknown => "ended".to_owned(),
    }
}

/// Events per second: `0`, `850`, `12.3k`, `1.2M`.
pub fn rate(per_second: u64) -> String {
    match per_second {
        0..1_000 => per_second.to_string(),
        1_000..1_000_000 => format!("{:.1}k", per_second as f64 / 1e3),
        _ => format!("{:.1}M", per_second as f64 / 1e6),
    }
}

/// `text` broken into lines of at most `width` columns, at spaces where it can be and
/// inside words longer than a line. Never empty: an empty text is one empty line.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut line_width = 0;
    for word in text.split(' ') {
        let word_width: usize = word.chars().map(|c| c.width().unwrap_or(0)).sum();
        if line_width > 0 && line_width + 1 + word_width > width {
            lines.push(std::mem::take(&mut line));
            line_width = 0;
        }
        if line_width > 0 {
            line.push(' ');
            line_width += 1;
        }
        for c in word.chars() {
            let w = c.width().unwrap_or(0);
            if line_width + w > width {
                lines.push(std::mem::take(&mut line));
                line_width = 0;
            }
            line.push(c);
            line_width += w;
        }
    }
    lines.push(line);
    lines
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
    fn exit_labels() {
        assert_eq!(exit_label(ExitStatus::Code(3)), "exit 3");
        let kill = ExitStatus::Signal {
            signal: 9,
            core_dumped: false,
        };
        assert_eq!(exit_label(kill), "SIGKILL");
        let segv = ExitStatus::Signal {
            signal: 11,
            core_dumped: true,
        };
        assert_eq!(exit_label(segv), "SIGSEGV core");
        assert_eq!(exit_label(ExitStatus::Unknown), "ended");
    }

    #[test]
    fn rates() {
        assert_eq!(rate(0), "0");
        assert_eq!(rate(999), "999");
        assert_eq!(rate(12_345), "12.3k");
        assert_eq!(rate(1_240_000), "1.2M");
    }

    #[test]
    fn wraps_at_spaces_and_inside_long_words() {
        assert_eq!(wrap("sleep 30 --flag", 9), ["sleep 30", "--flag"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("ab cdefghij", 4), ["ab", "cdef", "ghij"]);
        assert_eq!(wrap("", 4), [""]);
    }
}
