//! Printing events: text for people, JSON lines for programs.

use std::io::{self, Write};

use super::{Event, Kind, KindName, KindSet, text_line};
use crate::clock::WallClock;

/// Counts what was printed, for the summary at the end.
#[derive(Default, Debug, Clone)]
pub struct Tally {
    pub per_kind: [u64; KindName::ALL.len()],
    pub lost: u64,
}

impl Tally {
    pub fn add(&mut self, event: &Event) {
        self.per_kind[event.kind_name() as usize] += 1;
        if let Kind::Lost { count } = event.kind {
            // Saturating: a damaged or hostile recording can claim any count.
            self.lost = self.lost.saturating_add(count);
        }
    }

    pub fn total(&self) -> u64 {
        self.per_kind.iter().sum::<u64>() - self.per_kind[KindName::Lost as usize]
    }

    /// `1203 events (fork 400, exec 3, exit 400, ...), 0 lost`.
    pub fn summary(&self) -> String {
        let kinds: Vec<String> = KindName::ALL
            .iter()
            .filter(|&&k| k != KindName::Lost && self.per_kind[k as usize] > 0)
            .map(|&k| format!("{k} {}", self.per_kind[k as usize]))
            .collect();
        format!(
            "{} events ({}), {} lost",
            self.total(),
            if kinds.is_empty() {
                "none".to_owned()
            } else {
                kinds.join(", ")
            },
            self.lost
        )
    }
}

/// Writes events to a stream in the chosen format, keeping a tally.
pub struct EventWriter<W: Write> {
    out: io::BufWriter<W>,
    json: bool,
    kinds: KindSet,
    clock: WallClock,
    pub tally: Tally,
}

impl<W: Write> EventWriter<W> {
    /// `json`: JSON lines rather than text; `kinds`: what to print besides loss reports.
    pub fn new(out: W, json: bool, kinds: KindSet, clock: WallClock) -> Self {
        Self {
            out: io::BufWriter::with_capacity(256 * 1024, out),
            json,
            kinds,
            clock,
            tally: Tally::default(),
        }
    }

    /// Whether `--kinds` lets this event through. Loss reports always pass.
    pub fn wants(&self, event: &Event) -> bool {
        matches!(event.kind, Kind::Lost { .. }) || self.kinds.contains(event.kind_name())
    }

    pub fn write(&mut self, event: &Event) -> io::Result<()> {
        if !self.wants(event) {
            return Ok(());
        }
        if self.json {
            event.write_json(&mut self.out)?;
            self.out.write_all(b"\n")?;
        } else {
            writeln!(self.out, "{}", text_line(event, &self.clock))?;
        }
        self.tally.add(event);
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ExitStatus, line::tests::event};

    #[test]
    fn writer_filters_kinds_but_never_loss_and_tallies() {
        let exit = "exit".parse().unwrap();
        let mut buf = Vec::new();
        let mut w = EventWriter::new(&mut buf, true, exit, WallClock::with_offset(0));
        w.write(&event(Kind::Fork)).unwrap();
        w.write(&event(Kind::Exit(ExitStatus::Code(3)))).unwrap();
        w.write(&Event::lost(5, 2)).unwrap();
        w.flush().unwrap();
        assert_eq!(w.tally.summary(), "1 events (exit 1), 2 lost");
        drop(w);
        let lines: Vec<&str> = std::str::from_utf8(&buf).unwrap().lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].contains(r#""exit_code":3"#));
    }
}
