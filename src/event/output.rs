//! Printing events: text for people, JSON lines for programs.

use std::{
    io::{self, Write},
    sync::Arc,
};

use super::{
    Event, Kind, KindName, KindSet, container::PlaceFilter, lineage::Lineages, otel::OtelRecord,
    text_line,
};
use crate::clock::WallClock;

/// Which names the JSON lines use (`--schema`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Schema {
    /// forkwatch's own fields (README "JSON fields").
    #[default]
    Forkwatch,
    /// The OpenTelemetry process semantic conventions (docs/clickhouse.md).
    Otel,
}

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
    place: Option<PlaceFilter>,
    clock: WallClock,
    /// With `--schema otel`: the host the events are from unless told per event, and who
    /// started whom on each host.
    otel: Option<(Arc<str>, Lineages)>,
    pub tally: Tally,
}

impl<W: Write> EventWriter<W> {
    /// `json`: JSON lines rather than text; `kinds`: what to print besides loss reports.
    pub fn new(out: W, json: bool, kinds: KindSet, clock: WallClock) -> Self {
        Self {
            out: io::BufWriter::with_capacity(256 * 1024, out),
            json,
            kinds,
            place: None,
            clock,
            otel: None,
            tally: Tally::default(),
        }
    }

    /// JSON lines (if JSON it writes) in `schema`; with [`Schema::Otel`], of events on
    /// `host` (`host.name`) unless [`EventWriter::write_from`] names another.
    pub fn in_schema(mut self, schema: Schema, host: &str) -> Self {
        let otel = self.json && schema == Schema::Otel;
        self.otel = otel.then(|| (host.into(), Lineages::default()));
        self
    }

    /// Takes in the processes alive when the events start, `(pid, ppid, start_ns)` each,
    /// so that the OpenTelemetry records of their descendants name them as ancestors.
    pub fn seed(&mut self, processes: impl IntoIterator<Item = (u32, u32, u64)>) {
        if let Some((host, lineages)) = &mut self.otel {
            lineages.of(host).seed(processes);
        }
    }

    /// Writes only the events of `place` (`--container`, `--cgroup`), and loss reports.
    pub fn confined_to(mut self, place: Option<PlaceFilter>) -> Self {
        self.place = place;
        self
    }

    /// Whether `--kinds` and the place let this event through. Loss reports always pass.
    pub fn wants(&self, event: &Event) -> bool {
        let kind =
            matches!(event.kind, Kind::Lost { .. }) || self.kinds.contains(event.kind_name());
        kind && self.place.as_ref().is_none_or(|place| place.passes(event))
    }

    pub fn write(&mut self, event: &Event) -> io::Result<()> {
        let host = self.otel.as_ref().map(|(host, _)| host.clone());
        self.write_from(host.as_deref().unwrap_or_default(), self.clock, event)
    }

    /// Writes an event that happened on `host`, whose wall clock is `clock` (only the
    /// OpenTelemetry records name the host).
    pub fn write_from(&mut self, host: &str, clock: WallClock, event: &Event) -> io::Result<()> {
        if let Some((_, lineages)) = &mut self.otel {
            // Every event, printed or not, tells who started whom.
            let lineage = lineages.of(host);
            let ancestors = match event.kind {
                Kind::Fork => lineage.born(event.pid, event.ppid, event.start_ns),
                Kind::Lost { .. } => Arc::new([]),
                _ => lineage.ancestors(event.pid, event.ppid, event.start_ns),
            };
            if matches!(event.kind, Kind::Exit(_)) {
                lineage.ended(event.pid, event.start_ns);
            }
            if self.wants(event) {
                let record = OtelRecord {
                    event,
                    host,
                    clock: &clock,
                    ancestors: &ancestors,
                };
                serde_json::to_writer(&mut self.out, &record).map_err(io::Error::from)?;
                self.out.write_all(b"\n")?;
                self.tally.add(event);
            }
            return Ok(());
        }
        if !self.wants(event) {
            return Ok(());
        }
        if self.json {
            event.write_json(&mut self.out)?;
            self.out.write_all(b"\n")?;
        } else {
            writeln!(self.out, "{}", text_line(event, &clock))?;
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

    #[test]
    fn writer_confined_to_a_place_writes_its_events_and_loss_only() {
        let place = PlaceFilter::cgroup("/build.slice").unwrap();
        let mut buf = Vec::new();
        let mut w = EventWriter::new(
            &mut buf,
            false,
            KindSet::default(),
            WallClock::with_offset(0),
        )
        .confined_to(Some(place));
        let inside = Event {
            pid: 41,
            cgroup: Some("/build.slice/make.scope".into()),
            ..event(Kind::Fork)
        };
        let outside = Event {
            pid: 42,
            cgroup: Some("/user.slice".into()),
            ..event(Kind::Fork)
        };
        let unknown = Event {
            pid: 43,
            cgroup: None,
            ..event(Kind::Fork)
        };
        for e in [&inside, &outside, &unknown, &Event::lost(5, 2)] {
            w.write(e).unwrap();
        }
        assert_eq!(w.tally.summary(), "1 events (fork 1), 2 lost");
    }
}
