//! The OpenTelemetry form of an event (`--json --schema otel`, docs/clickhouse.md): one
//! flat JSON object whose keys are the OpenTelemetry process semantic conventions'
//! attribute names (`process.pid`, `process.command_args`, `host.name`, ...), and
//! forkwatch's own fields under `forkwatch.`. Flat, with dotted keys, because that is what
//! the Collector's filelog receiver, Vector, Fluent Bit and ClickHouse's `JSONEachRow` all
//! take as they are.
//!
//! A process is named across hosts and reboots by `forkwatch.process.id`,
//! `HOST:PID:START`: START is its start in the clock ticks (10 ms) /proc gives start times
//! in, after the host's boot time rounded to the second (as /proc/stat's `btime`), in
//! nanoseconds: a process seen first in a recording's snapshot and then in its events is
//! named alike, and so is one in two recordings of its host, whose boot times differ by
//! the microseconds it takes to measure them. A process whose start is unknown (0) has
//! no id. Strings are written as [`TerminalSafe`] JSON.

use serde::{Serialize, ser::SerializeMap};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use super::{Event, Kind, TerminalSafe, container::container_of, lineage::Born, signal_name};
use crate::clock::{self, WallClock};

/// An event with what its OpenTelemetry record needs besides it: the host it happened on,
/// that host's wall clock, and the process's ancestors (root first).
pub struct OtelRecord<'a> {
    pub event: &'a Event,
    pub host: &'a str,
    pub clock: &'a WallClock,
    pub ancestors: &'a [Born],
}

impl OtelRecord<'_> {
    /// `HOST:PID:START` (see the module's documentation).
    fn id(&self, born: Born) -> Option<String> {
        const SECOND: i128 = 1_000_000_000;
        if born.start_ns == 0 {
            return None;
        }
        let tick_ns = clock::ticks_to_ns(clock::start_ticks(born.start_ns));
        let boot = (self.clock.unix_ns(0) + SECOND / 2).div_euclid(SECOND) * SECOND;
        Some(format!(
            "{}:{}:{}",
            self.host,
            born.pid,
            boot + i128::from(tick_ns)
        ))
    }

    /// RFC 3339 in UTC, to the nanosecond; none for an unknown time (0).
    fn time(&self, boot_ns: u64) -> Option<String> {
        if boot_ns == 0 {
            return None;
        }
        let at = OffsetDateTime::from_unix_timestamp_nanos(self.clock.unix_ns(boot_ns)).ok()?;
        at.format(&Rfc3339).ok()
    }
}

/// A string from a process or a file, as terminal-safe JSON.
fn safe(text: &str) -> TerminalSafe<'_> {
    TerminalSafe(text)
}

impl Serialize for OtelRecord<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.event;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("host.name", &safe(self.host))?;
        m.serialize_entry("forkwatch.event.kind", e.kind_name().as_str())?;
        m.serialize_entry("forkwatch.event.time", &self.time(e.ts_ns))?;
        m.serialize_entry("forkwatch.event.ts_ns", &e.ts_ns)?;
        if let Kind::Lost { count } = e.kind {
            m.serialize_entry("forkwatch.lost.count", &count)?;
            return m.end();
        }
        let born = Born {
            pid: e.pid,
            start_ns: e.start_ns,
        };
        // The ids hold the host name, which a recording's maker chose.
        m.serialize_entry("forkwatch.process.id", &self.id(born).as_deref().map(safe))?;
        let parent = self.ancestors.last().and_then(|&parent| self.id(parent));
        m.serialize_entry("forkwatch.parent.id", &parent.as_deref().map(safe))?;
        // On the birth only, where a subtree is found: on every record the ids took a third
        // of ClickHouse's time to read them (docs/clickhouse.md).
        if let Kind::Fork = e.kind {
            let ancestors: Vec<String> =
                self.ancestors.iter().filter_map(|&a| self.id(a)).collect();
            let ancestors: Vec<TerminalSafe> = ancestors.iter().map(|a| safe(a)).collect();
            m.serialize_entry("forkwatch.process.ancestors", &ancestors)?;
        }
        m.serialize_entry("process.pid", &e.pid)?;
        m.serialize_entry("process.parent_pid", &e.ppid)?;
        m.serialize_entry("process.vpid", &e.pid_ns.map(|ns| ns.pid))?;
        m.serialize_entry("process.creation.time", &self.time(e.start_ns))?;
        m.serialize_entry("forkwatch.process.start_ns", &e.start_ns)?;
        m.serialize_entry("forkwatch.thread.id", &e.tid)?;
        m.serialize_entry("forkwatch.process.comm", &safe(&e.comm.as_str()))?;
        if let Some(exact) = e.comm.base64_beside() {
            m.serialize_entry("forkwatch.process.comm_base64", &exact)?;
        }
        m.serialize_entry("forkwatch.kernel_thread", &e.kernel_thread)?;
        m.serialize_entry("process.real_user.id", &e.creds.map(|c| c.uid))?;
        m.serialize_entry("process.user.id", &e.creds.map(|c| c.euid))?;
        m.serialize_entry("forkwatch.process.real_group.id", &e.creds.map(|c| c.gid))?;
        m.serialize_entry("forkwatch.process.group.id", &e.creds.map(|c| c.egid))?;
        serialize_place(e, &mut m)?;
        match &e.kind {
            Kind::Exec { .. } => serialize_exec(e, &mut m)?,
            Kind::Exit(status, usage) => {
                m.serialize_entry("process.exit.code", &status.code())?;
                m.serialize_entry("process.exit.time", &self.time(e.ts_ns))?;
                m.serialize_entry("forkwatch.exit.signal", &status.signal())?;
                let name = status.signal().map(signal_name);
                m.serialize_entry("forkwatch.exit.signal_name", &name)?;
                let core =
                    matches!(status, super::ExitStatus::Signal { core_dumped, .. } if *core_dumped);
                m.serialize_entry("forkwatch.exit.core_dumped", &core)?;
                m.serialize_entry("forkwatch.run_ns", &e.run_ns())?;
                let usage = usage.as_deref();
                m.serialize_entry("forkwatch.exit.cpu_user_ns", &usage.map(|u| u.user_ns))?;
                m.serialize_entry("forkwatch.exit.cpu_system_ns", &usage.map(|u| u.system_ns))?;
                let max_rss = usage.map(|u| u.max_rss_bytes);
                m.serialize_entry("forkwatch.exit.max_rss_bytes", &max_rss)?;
            }
            Kind::Sample(sample) => {
                m.serialize_entry("forkwatch.sample.cpu_ns", &sample.cpu_ns)?;
                m.serialize_entry("process.memory.usage", &sample.rss_bytes)?;
                m.serialize_entry("forkwatch.sample.state", &sample.state.letter())?;
                m.serialize_entry("process.thread.count", &sample.threads)?;
            }
            Kind::Uid { inferred } | Kind::Gid { inferred } => {
                m.serialize_entry("forkwatch.inferred", inferred)?;
            }
            Kind::Fork | Kind::ThreadStart | Kind::ThreadExit | Kind::Lost { .. } => {}
        }
        m.end()
    }
}

/// `process.linux.cgroup` (as `/proc/PID/cgroup` writes a cgroup v2 path: `0::PATH`), the
/// namespace and the container the path names.
fn serialize_place<M: SerializeMap>(e: &Event, m: &mut M) -> Result<(), M::Error> {
    m.serialize_entry("forkwatch.pid_ns", &e.pid_ns.map(|ns| ns.inode))?;
    m.serialize_entry("forkwatch.cgroup_id", &e.cgroup_id)?;
    let Some(cgroup) = &e.cgroup else {
        return m.serialize_entry("process.linux.cgroup", &None::<&str>);
    };
    m.serialize_entry(
        "process.linux.cgroup",
        &safe(&format!("0::{}", cgroup.as_str())),
    )?;
    if let Some(exact) = cgroup.base64_beside() {
        m.serialize_entry("forkwatch.cgroup_base64", &exact)?;
    }
    if let Some(container) = container_of(cgroup.as_bytes()) {
        m.serialize_entry("forkwatch.container.runtime", container.runtime.name())?;
        let id = String::from_utf8_lossy(container.id);
        m.serialize_entry("forkwatch.container.id", &safe(&id))?;
        let pod = container.pod.map(String::from_utf8_lossy);
        m.serialize_entry("forkwatch.container.pod", &pod.as_deref().map(safe))?;
    }
    Ok(())
}

/// The program an exec runs: `process.executable.*` and `process.command*`.
fn serialize_exec<M: SerializeMap>(e: &Event, m: &mut M) -> Result<(), M::Error> {
    let Kind::Exec {
        filename,
        argv,
        argv_truncated,
        filename_truncated,
        argv_unreadable,
    } = &e.kind
    else {
        return Ok(());
    };
    m.serialize_entry("process.executable.path", filename)?;
    let path = filename.lossy();
    let name = path.rsplit('/').next().unwrap_or_default();
    m.serialize_entry("process.executable.name", &safe(name))?;
    if let Some(exact) = filename.base64_beside() {
        m.serialize_entry("forkwatch.executable.path_base64", &exact)?;
    }
    let command = argv.first().map(String::from_utf8_lossy);
    m.serialize_entry("process.command", &command.as_deref().map(safe))?;
    m.serialize_entry("process.command_args", argv)?;
    m.serialize_entry("process.args_count", &argv.len())?;
    if let Some(exact) = argv.base64_beside() {
        m.serialize_entry("forkwatch.argv_base64", &exact)?;
    }
    m.serialize_entry("forkwatch.argv_truncated", argv_truncated)?;
    m.serialize_entry("forkwatch.executable.path_truncated", filename_truncated)?;
    m.serialize_entry("forkwatch.argv_unreadable", argv_unreadable)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::{
        event::{
            Argv, ByteString, Comm, EventWriter, ExitStatus, KindSet, Schema,
            host::{Hosts, merged_pid},
            line::tests::event,
        },
        text,
    };

    /// The records `events` makes of `events` on `host`, at a wall clock 1e18 ns past boot.
    fn records(host: &str, events: &[Event]) -> Vec<String> {
        let mut out = Vec::new();
        let clock = WallClock::with_offset(1_000_000_000_000_000_000);
        let hosts = Hosts {
            own: host.to_owned(),
            merged: Vec::new(),
        };
        let mut writer = EventWriter::new(&mut out, true, KindSet::default(), clock)
            .on_hosts(hosts)
            .in_schema(Schema::Otel);
        writer.seed([(1, 0, 10_000_000)]);
        for e in events {
            writer.write(e).unwrap();
        }
        writer.flush().unwrap();
        drop(writer);
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn exec(argv: Argv, filename: &str) -> Event {
        event(Kind::Exec {
            filename: ByteString::from(filename),
            argv,
            argv_truncated: false,
            filename_truncated: false,
            argv_unreadable: false,
        })
    }

    #[test]
    fn a_process_is_named_by_the_conventions_with_its_ancestors() {
        let fork = Event {
            ppid: 1,
            ..event(Kind::Fork)
        };
        let child = Event {
            pid: 400,
            tid: 400,
            ppid: 300,
            start_ns: 1_500_000_000,
            ..event(Kind::Fork)
        };
        let exec = exec(Argv::from_args(["make", "-j2"]), "/usr/bin/make");
        let killed = Event {
            ts_ns: 3_000_000_000,
            ..event(Kind::Exit(
                ExitStatus::Signal {
                    signal: 9,
                    core_dumped: false,
                },
                None,
            ))
        };
        let lines = records("web1", &[fork, child, exec, killed]);
        let v: Vec<Value> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(v[0]["host.name"], "web1");
        assert_eq!(v[0]["forkwatch.event.kind"], "fork");
        assert_eq!(v[0]["process.pid"], 300);
        assert_eq!(v[0]["process.parent_pid"], 1);
        // 1e18 ns after the epoch, plus the start's 1 s of boot time.
        assert_eq!(v[0]["process.creation.time"], "2001-09-09T01:46:41Z");
        assert_eq!(v[0]["forkwatch.process.id"], "web1:300:1000000001000000000");
        assert_eq!(v[0]["forkwatch.parent.id"], "web1:1:1000000000010000000");
        assert_eq!(
            v[0]["forkwatch.process.ancestors"],
            serde_json::json!(["web1:1:1000000000010000000"])
        );
        assert_eq!(v[1]["forkwatch.parent.id"], "web1:300:1000000001000000000");
        assert_eq!(
            v[1]["forkwatch.process.ancestors"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            v[2]["process.command_args"],
            serde_json::json!(["make", "-j2"])
        );
        assert_eq!(v[2]["process.command"], "make");
        // The ancestors are the birth's; later records name the parent.
        assert!(
            v[2].get("forkwatch.process.ancestors").is_none(),
            "{}",
            v[2]
        );
        assert_eq!(v[2]["forkwatch.parent.id"], "web1:1:1000000000010000000");
        assert_eq!(v[2]["process.executable.path"], "/usr/bin/make");
        assert_eq!(v[2]["process.executable.name"], "make");
        assert_eq!(v[2]["process.args_count"], 2);
        assert_eq!(v[2]["process.user.id"], 0);
        assert_eq!(v[2]["process.real_user.id"], 1000);
        assert_eq!(v[3]["process.exit.code"], Value::Null);
        assert_eq!(v[3]["forkwatch.exit.signal"], 9);
        assert_eq!(v[3]["forkwatch.exit.signal_name"], "SIGKILL");
        assert_eq!(v[3]["forkwatch.run_ns"], 2_000_000_000u64);
        assert_eq!(v[3]["process.exit.time"], "2001-09-09T01:46:43Z");
        assert_eq!(v[3]["forkwatch.process.id"], v[0]["forkwatch.process.id"]);
    }

    #[test]
    fn hostile_strings_are_terminal_safe_and_bytes_come_beside() {
        let argv = Argv::from_args([&b"\x1b]52;c;aGk=\x07"[..], b"\xff", "\u{202e}".as_bytes()]);
        let hostile = Event {
            comm: Comm::from("\u{9b}2J"),
            cgroup: Some("/x\u{85}.scope".into()),
            ..exec(argv, "/tmp/\u{202e}\x7f")
        };
        let fork = Event {
            comm: Comm::from("\u{9b}2J"),
            ..event(Kind::Fork)
        };
        let lines = records("h\u{1b}[2Jo\u{202e}st", &[fork, hostile]);
        assert!(!lines[0].chars().any(text::is_escaped), "{}", lines[0]);
        let ancestors = r#""forkwatch.process.ancestors":["h\u001b[2Jo\u202est:1:"#;
        assert!(lines[0].contains(ancestors), "{}", lines[0]);
        let line = &lines[1];
        assert!(!line.chars().any(text::is_escaped), "{line}");
        for escape in [
            r#""host.name":"h\u001b[2Jo\u202est""#,
            r#""forkwatch.process.id":"h\u001b[2Jo\u202est:300:"#,
            r#""forkwatch.parent.id":"h\u001b[2Jo\u202est:1:"#,
            r#""forkwatch.process.comm":"\u009b2J""#,
            r#""process.executable.path":"/tmp/\u202e\u007f""#,
            r#""process.executable.name":"\u202e\u007f""#,
            r#""process.command":"\u001b]52;c;aGk=\u0007""#,
            // U+FFFD for the byte that is not text: visible, nothing a terminal acts on.
            "\"process.command_args\":[\"\\u001b]52;c;aGk=\\u0007\",\"\u{fffd}\",\"\\u202e\"]",
            r#""forkwatch.argv_base64":["G101MjtjO2FHaz0H","/w==","4oCu"]"#,
            r#""process.linux.cgroup":"0::/x\u0085.scope""#,
        ] {
            assert!(line.contains(escape), "no {escape} in {line}");
        }
    }

    /// Events of two hosts through one writer (merged recordings): each host's own names,
    /// pids and lineage, though their pids are the same.
    #[test]
    fn each_host_has_its_own_pids_and_lineage() {
        let mut out = Vec::new();
        let hosts = Hosts {
            own: String::new(),
            merged: vec!["a".into(), "b".into()],
        };
        let clock = WallClock::with_offset(0);
        let mut writer = EventWriter::new(&mut out, true, KindSet::default(), clock)
            .on_hosts(hosts)
            .in_schema(Schema::Otel);
        writer.seed([(merged_pid(0, 300), merged_pid(0, 1), 1_000_000_000)]);
        let child = |host| Event {
            pid: merged_pid(host, 400),
            tid: merged_pid(host, 400),
            ppid: merged_pid(host, 300),
            start_ns: 1_500_000_000,
            ..event(Kind::Fork)
        };
        writer.write(&child(0)).unwrap();
        writer.write(&child(1)).unwrap();
        writer.flush().unwrap();
        drop(writer);
        let v: Vec<Value> = std::str::from_utf8(&out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(v[0]["host.name"], "a");
        assert_eq!(v[0]["process.pid"], 400);
        assert_eq!(v[0]["forkwatch.parent.id"], "a:300:1000000000");
        assert_eq!(v[0]["process.creation.time"], "1970-01-01T00:00:01.5Z");
        assert_eq!(v[1]["host.name"], "b");
        assert_eq!(v[1]["process.parent_pid"], 300);
        assert_eq!(
            v[1]["forkwatch.parent.id"],
            Value::Null,
            "b's pid 300 is unknown"
        );
        assert_eq!(v[1]["forkwatch.process.id"], "b:400:1500000000");
    }

    /// Two recordings of one host measure its boot time microseconds apart: a process is
    /// named alike in both, from an exact start or /proc's tick. Unknown starts name none.
    #[test]
    fn a_process_keeps_its_id_across_recordings_of_its_host() {
        let id = |offset_ns: i128, start_ns: u64| {
            let mut out = Vec::new();
            let hosts = Hosts {
                own: "h".to_owned(),
                merged: Vec::new(),
            };
            let clock = WallClock::with_offset(offset_ns);
            let mut writer = EventWriter::new(&mut out, true, KindSet::default(), clock)
                .on_hosts(hosts)
                .in_schema(Schema::Otel);
            writer
                .write(&Event {
                    pid: 400,
                    start_ns,
                    ..event(Kind::Fork)
                })
                .unwrap();
            writer.flush().unwrap();
            drop(writer);
            let v: Value = serde_json::from_slice(&out).unwrap();
            (
                v["forkwatch.process.id"].clone(),
                v["process.creation.time"].clone(),
            )
        };
        let boot = 1_700_000_000_000_000_000;
        let (a, _) = id(boot + 1_234, 5_004_000_123);
        let (b, _) = id(boot + 9_876, 5_000_000_000);
        assert_eq!(a, "h:400:1700000005000000000");
        assert_eq!(a, b);
        assert_eq!(id(boot, 0), (Value::Null, Value::Null));
    }

    #[test]
    fn a_loss_report_is_a_count_at_a_time() {
        let lines = records("db2", &[Event::lost(2_000_000_000, 7)]);
        let v: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(v["forkwatch.event.kind"], "lost");
        assert_eq!(v["forkwatch.lost.count"], 7);
        assert!(v.get("process.pid").is_none(), "{v}");
    }
}
