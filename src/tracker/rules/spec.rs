//! A relay rule as a user writes it, before its targets are opened: the `--relay SPEC`
//! text, or the flags of `forkwatch-tui relay`.

use std::{fmt, str::FromStr};

use crate::event::{KindName, KindSet, container::PlaceFilter};

use super::{layout::Layout, signal::RtSignal};

/// Whose events a rule relays.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Match {
    /// Every process's.
    #[default]
    Any,
    /// One process's: its own events, and the forks it makes (whose event concerns the
    /// child, named by its pid and not older than it). The process is the one that has
    /// this pid when it is picked or the rule is made; once it exits (or a later process
    /// shows up with its pid, its exit lost) the rule matches nothing more, even if the
    /// pid comes back.
    Pid(u32),
    /// A subtree's: the events of the members of a [`crate::tracker::pins::Pin`] on this process
    /// (the process and its descendants, including those born later). A fork concerns the
    /// child: it matches when the child is born into the subtree. Once no member is alive
    /// the rule matches nothing more.
    Subtree(u32),
}

impl Match {
    /// Whether the rule needs the process tree ([`crate::tracker::model::Model`]) to match.
    pub fn needs_tree(self) -> bool {
        matches!(self, Self::Subtree(_))
    }
}

/// Who sends a rule's signals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SendPath {
    /// forkwatch, after the event crossed the ring buffer: the siginfo of the layout, as
    /// documented (si_code SI_QUEUE, si_pid, si_uid, si_int).
    #[default]
    User,
    /// The probe, from the event's own tracepoint (`bpf_send_signal_task`), where the
    /// kernel allows it; else forkwatch, saying why. The kernel builds the siginfo: si_code
    /// SI_KERNEL, si_pid and si_uid 0, and a 64-bit si_value whose low half is the layout's
    /// si_int and whose high half is the pid the layout puts in si_pid.
    Kernel,
}

impl SendPath {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Kernel => "kernel",
        }
    }
}

impl FromStr for SendPath {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "user" => Ok(Self::User),
            "kernel" => Ok(Self::Kernel),
            _ => Err(format!("unknown relay path `{s}` (known: user, kernel)")),
        }
    }
}

/// A relay rule, parsed and checked but not yet opened (by the driver's `relay::Targets`);
/// its pids become processes then, or when they are picked in the UI's relay dialog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleSpec {
    /// The pids to signal, in the order they are signalled.
    pub targets: Vec<u32>,
    pub matching: Match,
    /// Never contains [`KindName::Lost`].
    pub kinds: KindSet,
    pub signal: RtSignal,
    pub layout: Layout,
    /// Only the events of processes in this container or cgroup.
    pub place: Option<PlaceFilter>,
    pub path: SendPath,
}

/// The parts of a rule as text, each optional but the targets; defaults filled in by
/// [`RuleFields::build`]. The `relay` command's flags and the `--relay` spec both end here.
#[derive(Clone, Copy, Debug, Default)]
pub struct RuleFields<'a> {
    pub to: &'a str,
    pub pid: Option<&'a str>,
    pub subtree: Option<&'a str>,
    pub kinds: Option<&'a str>,
    pub signal: Option<&'a str>,
    pub layout: Option<&'a str>,
    pub container: Option<&'a str>,
    pub cgroup: Option<&'a str>,
    pub path: Option<&'a str>,
}

fn parse_pid(s: &str, what: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(pid) if pid > 0 && pid <= i32::MAX as u32 => Ok(pid),
        _ => Err(format!("{what} `{s}` is not a pid")),
    }
}

impl RuleFields<'_> {
    /// Checks every part; the message of the first bad one is the error.
    pub fn build(&self) -> Result<RuleSpec, String> {
        let mut targets = Vec::new();
        for part in self.to.split(',').filter(|p| !p.trim().is_empty()) {
            let pid = parse_pid(part, "target")?;
            if targets.contains(&pid) {
                return Err(format!("target {pid} is listed twice"));
            }
            targets.push(pid);
        }
        if targets.is_empty() {
            return Err("a relay rule needs at least one target pid".into());
        }
        let layout: Layout = self.layout.map(str::parse).transpose()?.unwrap_or_default();
        let kinds = match self.kinds {
            Some(list) => list.parse::<KindSet>()?,
            None => layout.default_kinds(),
        };
        if kinds.contains(KindName::Lost) {
            return Err("`lost` cannot be relayed: a loss report concerns no process".into());
        }
        if kinds.contains(KindName::Sample) {
            return Err(
                "`sample` cannot be relayed: samples are what forkwatch reads, not \
                        something a process did"
                    .into(),
            );
        }
        Ok(RuleSpec {
            targets,
            matching: match (self.pid, self.subtree) {
                (Some(_), Some(_)) => {
                    return Err("a relay rule matches one pid or one subtree, not both".into());
                }
                (Some(pid), None) => Match::Pid(parse_pid(pid, "pid to match")?),
                (None, Some(root)) => Match::Subtree(parse_pid(root, "subtree root")?),
                (None, None) => Match::Any,
            },
            kinds,
            signal: self.signal.map(str::parse).transpose()?.unwrap_or_default(),
            layout,
            place: match (self.container, self.cgroup) {
                (Some(_), Some(_)) => {
                    return Err("a relay rule matches one container or one cgroup, not both".into());
                }
                (Some(query), None) => Some(PlaceFilter::container(query)?),
                (None, Some(path)) => Some(PlaceFilter::cgroup(path)?),
                (None, None) => None,
            },
            path: self.path.map(str::parse).transpose()?.unwrap_or_default(),
        })
    }
}

const KEYS: [&str; 9] = [
    "to",
    "pid",
    "subtree",
    "kinds",
    "signal",
    "layout",
    "container",
    "cgroup",
    "path",
];

/// `to=PID[,PID...][:pid=PID|:subtree=PID][:kinds=LIST][:signal=SIG][:layout=relayfork|kmonitor]
/// [:container=ID|:cgroup=PATH][:path=user|kernel]`: the same parts as the `relay` command's flags, joined by
/// colons, in any order.
impl FromStr for RuleSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut values: [Option<&str>; KEYS.len()] = [None; KEYS.len()];
        for part in s.split(':').filter(|p| !p.trim().is_empty()) {
            let (key, value) = part.split_once('=').ok_or_else(|| {
                format!(
                    "relay rule part `{part}` is not KEY=VALUE (keys: {})",
                    KEYS.join(", ")
                )
            })?;
            let key = key.trim();
            let slot = KEYS.iter().position(|&k| k == key).ok_or_else(|| {
                format!("unknown relay rule key `{key}` (keys: {})", KEYS.join(", "))
            })?;
            if values[slot].replace(value.trim()).is_some() {
                return Err(format!("relay rule key `{key}` is given twice"));
            }
        }
        let [
            to,
            pid,
            subtree,
            kinds,
            signal,
            layout,
            container,
            cgroup,
            path,
        ] = values;
        RuleFields {
            to: to.ok_or("a relay rule needs its targets: to=PID[,PID...]")?,
            pid,
            subtree,
            kinds,
            signal,
            layout,
            container,
            cgroup,
            path,
        }
        .build()
    }
}

/// The canonical spec, every part written out; it parses back to the same rule.
impl fmt::Display for RuleSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let targets: Vec<String> = self.targets.iter().map(u32::to_string).collect();
        write!(f, "to={}", targets.join(","))?;
        match self.matching {
            Match::Any => {}
            Match::Pid(pid) => write!(f, ":pid={pid}")?,
            Match::Subtree(root) => write!(f, ":subtree={root}")?,
        }
        write!(
            f,
            ":kinds={}:signal={}:layout={}",
            self.kinds, self.signal, self.layout
        )?;
        if let Some(place) = &self.place {
            write!(f, ":{place}")?;
        }
        match self.path {
            SendPath::User => Ok(()),
            SendPath::Kernel => f.write_str(":path=kernel"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_with_defaults_and_print_back() {
        let spec: RuleSpec = "to=4242,4243".parse().unwrap();
        assert_eq!(
            spec,
            RuleSpec {
                targets: vec![4242, 4243],
                matching: Match::Any,
                kinds: "fork".parse().unwrap(),
                signal: RtSignal::default(),
                layout: Layout::RelayFork,
                place: None,
                path: SendPath::User,
            }
        );
        assert_eq!(
            spec.to_string(),
            "to=4242,4243:kinds=fork:signal=RTMIN+1:layout=relayfork"
        );
        let spec: RuleSpec = "layout=kmonitor:pid=77:to=5:signal=RTMAX".parse().unwrap();
        assert_eq!(spec.matching, Match::Pid(77));
        assert_eq!(spec.kinds, Layout::KMonitor.default_kinds());
        assert_eq!(spec.signal.number(), libc::SIGRTMAX());
        assert_eq!(spec.to_string().parse(), Ok(spec));
        let refused = "to=5:kinds=exec,sample".parse::<RuleSpec>().unwrap_err();
        assert!(
            refused.to_string().contains("`sample` cannot be relayed"),
            "{refused}"
        );
        let spec: RuleSpec = "to=5:kinds=exec,exit".parse().unwrap();
        assert_eq!(spec.kinds.to_string(), "exec,exit");
        let spec: RuleSpec = "subtree=812:to=5".parse().unwrap();
        assert_eq!(spec.matching, Match::Subtree(812));
        assert!(spec.matching.needs_tree());
        assert_eq!(
            spec.to_string(),
            "to=5:subtree=812:kinds=fork:signal=RTMIN+1:layout=relayfork"
        );
        assert_eq!(spec.to_string().parse(), Ok(spec));
        let spec: RuleSpec = "to=5:cgroup=/sys/fs/cgroup/build.slice".parse().unwrap();
        assert_eq!(
            spec.place,
            Some(PlaceFilter::cgroup("/build.slice").unwrap())
        );
        assert_eq!(
            spec.to_string(),
            "to=5:kinds=fork:signal=RTMIN+1:layout=relayfork:cgroup=/build.slice"
        );
        assert_eq!(spec.to_string().parse(), Ok(spec));
        let spec: RuleSpec = "to=5:path=kernel".parse().unwrap();
        assert_eq!(spec.path, SendPath::Kernel);
        assert_eq!(
            spec.to_string(),
            "to=5:kinds=fork:signal=RTMIN+1:layout=relayfork:path=kernel"
        );
        assert_eq!(spec.to_string().parse(), Ok(spec));
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let err = |s: &str| s.parse::<RuleSpec>().unwrap_err();
        assert_eq!(
            err("pid=5"),
            "a relay rule needs its targets: to=PID[,PID...]"
        );
        assert_eq!(err("to=5,x"), "target `x` is not a pid");
        assert_eq!(err("to=0"), "target `0` is not a pid");
        assert_eq!(err("to=5,5"), "target 5 is listed twice");
        assert_eq!(err("to=5:to=6"), "relay rule key `to` is given twice");
        assert_eq!(
            err("to=5:sig=RTMIN"),
            "unknown relay rule key `sig` (keys: to, pid, subtree, kinds, signal, layout, container, cgroup, path)"
        );
        assert_eq!(
            err("to=5:fork"),
            "relay rule part `fork` is not KEY=VALUE (keys: to, pid, subtree, kinds, signal, layout, container, cgroup, path)"
        );
        assert!(err("to=5:signal=9").starts_with("SIGKILL (9) is not a real-time signal"));
        assert!(err("to=5:kinds=fork,lost").starts_with("`lost` cannot be relayed"));
        assert!(err("to=5:kinds=spawn").starts_with("unknown event kind `spawn`"));
        assert_eq!(err("to=5:pid=-1"), "pid to match `-1` is not a pid");
        assert_eq!(err("to=5:subtree=x"), "subtree root `x` is not a pid");
        assert_eq!(
            err("to=5:pid=7:subtree=7"),
            "a relay rule matches one pid or one subtree, not both"
        );
        assert_eq!(
            err("to=5:path=bpf"),
            "unknown relay path `bpf` (known: user, kernel)"
        );
        assert_eq!(
            err("to=5:container=web1:cgroup=/x"),
            "a relay rule matches one container or one cgroup, not both"
        );
        assert_eq!(
            err("to=5:cgroup=build.slice"),
            "a cgroup is named by its path from the hierarchy's root, e.g. /system.slice, not \"build.slice\""
        );
    }
}
