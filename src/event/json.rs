//! The JSON form of an event (README "JSON fields"), and reading it back.
//!
//! Strings from a process are bytes: `comm`, `filename` and `argv` are text, with the exact
//! bytes beside them in `comm_base64`, `filename_base64` and `argv_base64` when the text is
//! not them ([`super::lossless`]).
//!
//! JSON lines go to terminals too (`events --json`), so every character the terminal
//! sanitizer escapes ([`text::is_escaped`]: controls, DEL, C1 controls, bidi and other
//! invisible format characters) is written as a JSON `\u` escape: `"\u009b"`, `"\u202e"`.
//! The JSON is the same value, only spelt so that nothing in it acts on a terminal.

use std::{fmt::Write as _, io};

use serde::{Deserialize, Serialize, de, ser::SerializeMap};
use serde_json::value::RawValue;

use super::{
    Argv, ByteString, CgroupPath, Comm, Creds, Event, ExactArgv, ExitStatus, Kind, KindName,
    PidNamespace, Sample, State, Usage,
    container::{Container, container_of},
    place::JsonFields,
};
use crate::text;

impl Event {
    /// Writes the JSON form, terminal-safe (see the module's documentation).
    pub fn write_json<W: io::Write>(&self, out: W) -> io::Result<()> {
        serde_json::to_writer(out, self).map_err(io::Error::from)
    }

    /// The same with a `host` field after `kind`: the name of the host it happened on.
    pub fn write_json_on<W: io::Write>(&self, host: &str, out: W) -> io::Result<()> {
        serde_json::to_writer(out, &OnHost(self, host)).map_err(io::Error::from)
    }

    /// The JSON form as a string, terminal-safe.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("events always serialize")
    }
}

/// A string from a process, in JSON: serde_json's own escaping (which covers U+0000-U+001F,
/// `"` and `\`), plus a `\u` escape for every other character [`text::is_escaped`].
/// Only strings with DEL or a byte past ASCII need the second step, so everything else
/// (keys, numbers, most names and arguments) is written by serde_json's fast path.
pub struct TerminalSafe<'a>(pub &'a str);

impl Serialize for TerminalSafe<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // A max over the bytes: no early exit, so many bytes are looked at at a time.
        if self.0.bytes().fold(0, u8::max) < 0x7f {
            return s.serialize_str(self.0);
        }
        let plain = serde_json::to_string(self.0).map_err(serde::ser::Error::custom)?;
        let mut json = String::with_capacity(plain.len() + 16);
        for c in plain.chars() {
            // serde_json escaped the C0 controls; DEL and the rest are left to here.
            if c == '\x7f' || !c.is_ascii() && text::is_escaped(c) {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    let _ = write!(json, "\\u{unit:04x}");
                }
            } else {
                json.push(c);
            }
        }
        RawValue::from_string(json)
            .map_err(serde::ser::Error::custom)?
            .serialize(s)
    }
}

/// `{"runtime": "docker", "id": "3f4e…", "pod": null}`: what the cgroup path says of the
/// container. Text, with bytes that are not UTF-8 replaced: the exact bytes are the
/// `cgroup` field's.
struct ContainerJson<'a>(Container<'a>);

impl Serialize for ContainerJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Container { runtime, id, pod } = self.0;
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("runtime", runtime.name())?;
        m.serialize_entry("id", &TerminalSafe(&String::from_utf8_lossy(id)))?;
        let pod = pod.map(String::from_utf8_lossy);
        m.serialize_entry("pod", &pod.as_deref().map(TerminalSafe))?;
        m.end()
    }
}

/// The `cgroup`, `cgroup_base64` and `container` values of every event in `cgroup`.
fn cgroup_json(cgroup: &CgroupPath) -> JsonFields {
    let raw = |value: String| RawValue::from_string(value).expect("serde_json wrote JSON");
    let text = cgroup.as_str();
    let container = container_of(cgroup.as_bytes()).map(ContainerJson);
    JsonFields {
        cgroup: raw(serde_json::to_string(&TerminalSafe(&text)).expect("a string")),
        cgroup_base64: cgroup.base64_beside(),
        container: raw(serde_json::to_string(&container).expect("a map of strings")),
    }
}

/// The JSON form: one flat object, `kind` first, then the fields every event has, then the
/// kind's own fields. `exit_code` and `signal` are both present on exits: one of them null,
/// or both when the status is unknown.
impl Serialize for Event {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.serialize_on(None, s)
    }
}

/// An event with the name of its host, which whoever wrote the recording chose.
struct OnHost<'a>(&'a Event, &'a str);

impl Serialize for OnHost<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_on(Some(self.1), s)
    }
}

impl Event {
    fn serialize_on<S: serde::Serializer>(
        &self,
        host: Option<&str>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("kind", self.kind_name().as_str())?;
        if let Some(host) = host {
            m.serialize_entry("host", &TerminalSafe(host))?;
        }
        m.serialize_entry("ts_ns", &self.ts_ns)?;
        m.serialize_entry("pid", &self.pid)?;
        m.serialize_entry("tid", &self.tid)?;
        m.serialize_entry("ppid", &self.ppid)?;
        m.serialize_entry("start_ns", &self.start_ns)?;
        m.serialize_entry("comm", &TerminalSafe(&self.comm.as_str()))?;
        if let Some(exact) = self.comm.base64_beside() {
            m.serialize_entry("comm_base64", &exact)?;
        }
        m.serialize_entry("uid", &self.creds.map(|c| c.uid))?;
        m.serialize_entry("euid", &self.creds.map(|c| c.euid))?;
        m.serialize_entry("gid", &self.creds.map(|c| c.gid))?;
        m.serialize_entry("egid", &self.creds.map(|c| c.egid))?;
        m.serialize_entry("cgroup_id", &self.cgroup_id)?;
        m.serialize_entry("pid_ns", &self.pid_ns.map(|ns| ns.inode))?;
        m.serialize_entry("ns_pid", &self.pid_ns.map(|ns| ns.pid))?;
        match &self.cgroup {
            Some(cgroup) => {
                let json = cgroup.json_fields(cgroup_json);
                m.serialize_entry("cgroup", &json.cgroup)?;
                if let Some(exact) = &json.cgroup_base64 {
                    m.serialize_entry("cgroup_base64", exact)?;
                }
                m.serialize_entry("container", &json.container)?;
            }
            None => {
                m.serialize_entry("cgroup", &None::<&str>)?;
                m.serialize_entry("container", &None::<&str>)?;
            }
        }
        m.serialize_entry("kernel_thread", &self.kernel_thread)?;
        self.serialize_kind(&mut m)?;
        m.end()
    }

    /// The fields of the event's kind.
    fn serialize_kind<M: SerializeMap>(&self, m: &mut M) -> Result<(), M::Error> {
        match &self.kind {
            Kind::Exec {
                filename,
                argv,
                argv_truncated,
                filename_truncated,
                argv_unreadable,
            } => {
                m.serialize_entry("filename", filename)?;
                if let Some(exact) = filename.base64_beside() {
                    m.serialize_entry("filename_base64", &exact)?;
                }
                m.serialize_entry("filename_truncated", filename_truncated)?;
                m.serialize_entry("argv", argv)?;
                if let Some(exact) = argv.base64_beside() {
                    m.serialize_entry("argv_base64", &exact)?;
                }
                m.serialize_entry("argv_truncated", argv_truncated)?;
                m.serialize_entry("argv_unreadable", argv_unreadable)?;
            }
            Kind::Exit(status, usage) => {
                m.serialize_entry("exit_code", &status.code())?;
                m.serialize_entry("signal", &status.signal())?;
                let core = matches!(
                    status,
                    ExitStatus::Signal {
                        core_dumped: true,
                        ..
                    }
                );
                m.serialize_entry("core_dumped", &core)?;
                m.serialize_entry("run_ns", &self.run_ns())?;
                // Null where the source does not know them (the proc connector, the poller).
                let usage = usage.as_deref();
                m.serialize_entry("cpu_user_ns", &usage.map(|u| u.user_ns))?;
                m.serialize_entry("cpu_system_ns", &usage.map(|u| u.system_ns))?;
                m.serialize_entry("max_rss_bytes", &usage.map(|u| u.max_rss_bytes))?;
                m.serialize_entry("read_bytes", &usage.and_then(|u| u.read_bytes))?;
                m.serialize_entry("write_bytes", &usage.and_then(|u| u.write_bytes))?;
                m.serialize_entry("voluntary_switches", &usage.map(|u| u.voluntary_switches))?;
                m.serialize_entry(
                    "involuntary_switches",
                    &usage.map(|u| u.involuntary_switches),
                )?;
            }
            Kind::Sample(sample) => {
                m.serialize_entry("cpu_ns", &sample.cpu_ns)?;
                m.serialize_entry("rss_bytes", &sample.rss_bytes)?;
                m.serialize_entry("state", &sample.state.letter())?;
                m.serialize_entry("threads", &sample.threads)?;
            }
            Kind::Uid { inferred } | Kind::Gid { inferred } => {
                m.serialize_entry("inferred", inferred)?;
            }
            Kind::Lost { count } => m.serialize_entry("count", count)?,
            Kind::Fork | Kind::ThreadStart | Kind::ThreadExit => {}
        }
        Ok(())
    }
}

/// The fields of the JSON form, for reading it back.
#[derive(Deserialize)]
struct JsonEvent {
    kind: String,
    ts_ns: u64,
    pid: u32,
    tid: u32,
    ppid: u32,
    #[serde(default)]
    start_ns: u64,
    #[serde(default)]
    comm: String,
    comm_base64: Option<String>,
    uid: Option<u32>,
    euid: Option<u32>,
    gid: Option<u32>,
    egid: Option<u32>,
    cgroup_id: Option<u64>,
    pid_ns: Option<u32>,
    ns_pid: Option<u32>,
    cgroup: Option<String>,
    cgroup_base64: Option<String>,
    #[serde(default)]
    kernel_thread: bool,
    filename: Option<String>,
    filename_base64: Option<String>,
    #[serde(default)]
    filename_truncated: bool,
    argv: Option<Argv>,
    argv_base64: Option<ExactArgv<'static>>,
    #[serde(default)]
    argv_truncated: bool,
    #[serde(default)]
    argv_unreadable: bool,
    exit_code: Option<i32>,
    signal: Option<i32>,
    #[serde(default)]
    core_dumped: bool,
    #[serde(default)]
    inferred: bool,
    count: Option<u64>,
    cpu_user_ns: Option<u64>,
    cpu_system_ns: Option<u64>,
    max_rss_bytes: Option<u64>,
    read_bytes: Option<u64>,
    write_bytes: Option<u64>,
    voluntary_switches: Option<u64>,
    involuntary_switches: Option<u64>,
    cpu_ns: Option<u64>,
    rss_bytes: Option<u64>,
    state: Option<char>,
    threads: Option<u32>,
}

impl JsonEvent {
    /// An exit's status and, where it is given, its usage.
    fn exit(&self) -> Result<Kind, &'static str> {
        let status = match (self.exit_code, self.signal) {
            (Some(code), None) => ExitStatus::Code(code),
            (None, Some(signal)) => ExitStatus::Signal {
                signal,
                core_dumped: self.core_dumped,
            },
            (None, None) => ExitStatus::Unknown,
            (Some(_), Some(_)) => return Err("an exit has at most one of exit_code and signal"),
        };
        let usage = self.cpu_user_ns.map(|user_ns| {
            Box::new(Usage {
                user_ns,
                system_ns: self.cpu_system_ns.unwrap_or_default(),
                max_rss_bytes: self.max_rss_bytes.unwrap_or_default(),
                read_bytes: self.read_bytes,
                write_bytes: self.write_bytes,
                voluntary_switches: self.voluntary_switches.unwrap_or_default(),
                involuntary_switches: self.involuntary_switches.unwrap_or_default(),
            })
        });
        Ok(Kind::Exit(status, usage))
    }

    fn sample(&self) -> Result<Kind, &'static str> {
        let letter = self.state.filter(char::is_ascii).map_or(b'?', |c| c as u8);
        Ok(Kind::Sample(Sample {
            cpu_ns: self.cpu_ns.ok_or("a sample without cpu_ns")?,
            rss_bytes: self.rss_bytes.unwrap_or_default(),
            state: State::from_letter(letter),
            threads: self.threads.unwrap_or_default(),
        }))
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let j = JsonEvent::deserialize(d)?;
        let kind = match j.kind.parse::<KindName>().map_err(de::Error::custom)? {
            KindName::Fork => Kind::Fork,
            KindName::ThreadStart => Kind::ThreadStart,
            KindName::Exec => {
                let filename = ByteString::from_json(
                    j.filename.as_deref().unwrap_or_default(),
                    j.filename_base64.as_deref(),
                )
                .map_err(de::Error::custom)?;
                Kind::Exec {
                    filename,
                    argv: Argv::from_json(j.argv, j.argv_base64),
                    argv_truncated: j.argv_truncated,
                    filename_truncated: j.filename_truncated,
                    argv_unreadable: j.argv_unreadable,
                }
            }
            KindName::Exit => j.exit().map_err(de::Error::custom)?,
            KindName::ThreadExit => Kind::ThreadExit,
            KindName::Uid => Kind::Uid {
                inferred: j.inferred,
            },
            KindName::Gid => Kind::Gid {
                inferred: j.inferred,
            },
            KindName::Lost => Kind::Lost {
                count: j.count.ok_or_else(|| de::Error::missing_field("count"))?,
            },
            KindName::Sample => j.sample().map_err(de::Error::custom)?,
        };
        let creds = match (j.uid, j.euid, j.gid, j.egid) {
            (Some(uid), Some(euid), Some(gid), Some(egid)) => Some(Creds {
                uid,
                euid,
                gid,
                egid,
            }),
            _ => None,
        };
        Ok(Self {
            ts_ns: j.ts_ns,
            pid: j.pid,
            tid: j.tid,
            ppid: j.ppid,
            start_ns: j.start_ns,
            comm: Comm::from_json(&j.comm, j.comm_base64.as_deref()).map_err(de::Error::custom)?,
            creds,
            cgroup_id: j.cgroup_id,
            pid_ns: j
                .pid_ns
                .zip(j.ns_pid)
                .map(|(inode, pid)| PidNamespace { inode, pid }),
            cgroup: match j.cgroup {
                Some(text) => Some(
                    CgroupPath::from_json(&text, j.cgroup_base64.as_deref())
                        .map_err(de::Error::custom)?,
                ),
                None => None,
            },
            kernel_thread: j.kernel_thread,
            kind,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_that_are_not_utf8_come_back_exactly() {
        let event = Event {
            ts_ns: 5,
            pid: 42,
            tid: 42,
            ppid: 1,
            start_ns: 4,
            comm: Comm::from_bytes(b"\xffcat"),
            creds: None,
            cgroup_id: None,
            pid_ns: None,
            cgroup: None,
            kernel_thread: false,
            kind: Kind::Exec {
                filename: ByteString::new(b"/tmp/\xfe"),
                argv: Argv::from_args([&b"\xff"[..], b"plain"]),
                argv_truncated: false,
                filename_truncated: true,
                argv_unreadable: false,
            },
        };
        let json = event.to_json();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["argv"][0], "\u{fffd}");
        assert_eq!(v["argv_base64"][0], "/w==");
        assert_eq!(v["argv_base64"][1], "cGxhaW4=");
        assert_eq!(v["filename_base64"], "L3RtcC/+");
        assert_eq!(v["comm_base64"], "/2NhdA==");
        assert_eq!(v["filename_truncated"], true);
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), event);

        let plain = Event {
            comm: Comm::from("cat"),
            kind: Kind::Exec {
                filename: "/bin/cat".into(),
                argv: Argv::from_args(["cat"]),
                argv_truncated: false,
                filename_truncated: false,
                argv_unreadable: false,
            },
            ..event
        };
        let json = plain.to_json();
        assert!(!json.contains("base64"), "{json}");
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), plain);
        let nul = json.replace(r#""argv":["cat"]"#, r#""argv":["c\u0000at"]"#);
        let err = serde_json::from_str::<Event>(&nul).unwrap_err();
        assert!(
            err.to_string().contains("an argument holds a NUL byte"),
            "{err}"
        );
    }

    #[test]
    fn what_a_terminal_would_act_on_is_spelt_as_json_escapes() {
        let event = Event {
            ts_ns: 5,
            pid: 42,
            tid: 42,
            ppid: 1,
            start_ns: 4,
            comm: Comm::from("\u{9b}2J\u{202e}"),
            creds: None,
            cgroup_id: None,
            pid_ns: None,
            cgroup: None,
            kernel_thread: false,
            kind: Kind::Exec {
                filename: "/tmp/\u{202e}\x7f".into(),
                argv: Argv::from_args(["\x1b]52;c;aGk=\x07", "\u{2028}\u{feff}\u{85}", "ünï"]),
                argv_truncated: false,
                filename_truncated: false,
                argv_unreadable: false,
            },
        };
        let json = event.to_json();
        assert!(!json.chars().any(text::is_escaped), "{json}");
        for escape in [
            r#""comm":"\u009b2J\u202e""#,
            r#""filename":"/tmp/\u202e\u007f""#,
            r#""argv":["\u001b]52;c;aGk=\u0007","\u2028\ufeff\u0085","ünï"]"#,
        ] {
            assert!(json.contains(escape), "no {escape} in {json}");
        }
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), event);
    }

    #[test]
    fn the_container_is_named_beside_the_cgroup_path() {
        let id = "3f4e1c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";
        let event = Event {
            cgroup: Some(format!("/system.slice/docker-{id}.scope").as_str().into()),
            ..Event::lost(1, 1)
        };
        let v: serde_json::Value = serde_json::from_str(&event.to_json()).unwrap();
        let expected = serde_json::json!({"runtime": "docker", "id": id, "pod": null});
        assert_eq!(v["container"], expected);
        let unit = Event {
            cgroup: Some("/system.slice/evil\u{202e}.service".into()),
            ..event
        };
        let json = unit.to_json();
        assert!(
            !json.contains('\u{202e}') && json.contains("\\u202e"),
            "{json}"
        );
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["container"]["runtime"], "systemd");
        assert_eq!(v["container"]["id"], "evil\u{202e}.service");
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), unit);
        let none = Event {
            cgroup: None,
            ..unit
        };
        let v: serde_json::Value = serde_json::from_str(&none.to_json()).unwrap();
        assert_eq!(v["container"], serde_json::Value::Null);
    }
}
