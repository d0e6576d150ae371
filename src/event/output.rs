//! Printing events: text for people, JSON lines for programs.

use std::{
    collections::BTreeMap,
    io::{self, Write},
    sync::Arc,
};

use super::{
    Event, Kind, KindName, KindSet,
    container::PlaceFilter,
    host::{self, Hosts},
    lineage::Lineages,
    otel::OtelRecord,
    text_line,
};
use crate::clock::WallClock;
use serde::Serialize;

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
    /// Whose events these are: each JSON line names its host, and text lines do when
    /// there are several.
    hosts: Option<Hosts>,
    /// With `--schema otel`: who started whom on each host.
    lineages: Option<Lineages>,
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
            hosts: None,
            lineages: None,
            tally: Tally::default(),
        }
    }

    /// Names the host of every event (`host` in JSON lines, and in text lines when there
    /// are several) and shows each event's pids as its host gave them.
    pub fn on_hosts(mut self, hosts: Hosts) -> Self {
        self.hosts = Some(hosts);
        self
    }

    /// JSON lines (if JSON it writes) in `schema`; with [`Schema::Otel`], named after the
    /// OpenTelemetry conventions, each with its host's `host.name`.
    pub fn in_schema(mut self, schema: Schema) -> Self {
        self.lineages = (self.json && schema == Schema::Otel).then(Lineages::default);
        self
    }

    /// Takes in the processes alive when the events start, `(pid, ppid, start_ns)` each,
    /// so that the OpenTelemetry records of their descendants name them as ancestors.
    pub fn seed(&mut self, processes: impl IntoIterator<Item = (u32, u32, u64)>) {
        let Some(lineages) = &mut self.lineages else {
            return;
        };
        let mut by_host: BTreeMap<&str, Vec<(u32, u32, u64)>> = BTreeMap::new();
        for (pid, ppid, start_ns) in processes {
            let host = self.hosts.as_ref().map_or("", |hosts| hosts.name_of(pid));
            let own = (host::shown_pid(pid), host::shown_pid(ppid), start_ns);
            by_host.entry(host).or_default().push(own);
        }
        for (host, processes) in by_host {
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
        let host = self.hosts.as_ref().map(|hosts| hosts.name_of(event.pid));
        let shown = host::shown(event);
        if let Some(lineages) = &mut self.lineages {
            // Every event, printed or not, tells who started whom.
            let host = host.unwrap_or_default();
            let lineage = lineages.of(host);
            let ancestors = match shown.kind {
                Kind::Fork => lineage.born(shown.pid, shown.ppid, shown.start_ns),
                Kind::Lost { .. } => Arc::new([]),
                _ => lineage.ancestors(shown.pid, shown.ppid, shown.start_ns),
            };
            if matches!(shown.kind, Kind::Exit(..)) {
                lineage.ended(shown.pid, shown.start_ns);
            }
            if self.wants(event) {
                let record = OtelRecord {
                    event: &shown,
                    host,
                    clock: &self.clock,
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
        match host {
            Some(host) if self.json => shown.write_json_on(host, &mut self.out)?,
            None if self.json => shown.write_json(&mut self.out)?,
            _ => {
                let several = self.hosts.as_ref().is_some_and(Hosts::several);
                let line = text_line(&shown, &self.clock);
                let line = match host.filter(|_| several) {
                    Some(host) => with_host(line, host),
                    None => line,
                };
                self.out.write_all(line.as_bytes())?;
            }
        }
        self.out.write_all(b"\n")?;
        self.tally.add(event);
        Ok(())
    }

    /// Writes one JSON line that is not an event (`watch --json`'s totals), if the output
    /// is JSON; text output gets nothing.
    pub fn write_json_line<T: Serialize>(&mut self, value: &T) -> io::Result<()> {
        if self.json {
            serde_json::to_writer(&mut self.out, value).map_err(io::Error::from)?;
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// A text line with `host=NAME` after its time of day, which every line starts with; the
/// name quoted as a shell word where it is not a plain one, as a process's strings are.
fn with_host(line: String, host: &str) -> String {
    let Some((time, rest)) = line.split_once(' ') else {
        return line;
    };
    let mut out = format!("{time} host=");
    crate::text::push_quoted(&mut out, host.as_bytes());
    out.push(' ');
    out.push_str(rest);
    out
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
        w.write(&event(Kind::Exit(ExitStatus::Code(3), None)))
            .unwrap();
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

    #[test]
    fn each_line_names_its_host_escaped_and_text_only_when_there_are_several() {
        use crate::event::host::merged_pid;
        let hosts = Hosts {
            own: "here".into(),
            merged: vec!["web 1\x1b[31m".into(), "db".into()],
        };
        let on_web = Event {
            pid: merged_pid(0, 41),
            tid: merged_pid(0, 41),
            ppid: merged_pid(0, 1),
            ..event(Kind::Fork)
        };
        let lines = |json: bool, hosts: Hosts| {
            let mut buf = Vec::new();
            let clock = WallClock::with_offset(0);
            let mut w = EventWriter::new(&mut buf, json, KindSet::default(), clock);
            w = w.on_hosts(hosts);
            w.write(&on_web).unwrap();
            w.flush().unwrap();
            drop(w);
            String::from_utf8(buf).unwrap()
        };
        let json = lines(true, hosts.clone());
        assert!(
            json.starts_with(r#"{"kind":"fork","host":"web 1\u001b[31m","#),
            "{json}"
        );
        assert!(json.contains(r#""pid":41,"tid":41,"ppid":1,"#), "{json}");
        let text = lines(false, hosts);
        assert!(text.contains(r" host='web 1\e[31m' fork "), "{text}");
        assert!(text.contains(" pid=41 ppid=1 "), "{text}");
        let one = Hosts {
            own: "here".into(),
            merged: Vec::new(),
        };
        assert!(!lines(false, one).contains("host="));
    }
}
