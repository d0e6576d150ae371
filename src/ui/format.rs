//! Short texts for narrow cells: exit statuses, rates, wrapped lines. Durations are
//! [`crate::event::duration`]'s.

use unicode_width::UnicodeWidthChar;

use crate::event::{ExitStatus, signal_name};

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
