//! Where events come from. Every consumer (headless commands, the UI, the recorder) reads
//! batches from a [`Feed`]: a live [`Source`], opened from plain [`LiveOptions`] with
//! whichever backend can run, or a recording played back. The backends:
//!
//! - [`ebpf`]: the eBPF probe (loading, the kernel's BTF, its records, its privileges);
//! - [`netlink`]: the kernel's proc connector (the socket, its messages turned into
//!   events, their loss);
//! - [`procfs`]: polling /proc;
//! - [`sampler`]: every process's CPU time and memory, through the probe's task iterator
//!   or /proc, beside the events of any backend;
//! - [`ids`]: the uid and gid changes the probe and the poller cannot see, inferred;
//! - [`cgroups`]: the paths of the cgroup ids the probe's events carry.
//!
//! What they read of /proc, they read through [`crate::proc`].

pub mod cgroups;
pub mod ebpf;
pub mod ids;
pub mod netlink;
pub mod procfs;
pub mod sampler;

use std::{fmt, time::Duration};

use anyhow::{Result, bail};
use rustix::thread::CapabilitySet;

use crate::{
    event::{Event, ProcessKey},
    privileges,
};
use ebpf::{Probe, ProbeOptions};
use ids::IdWatch;
use netlink::{Netlink, NetlinkOptions};
use procfs::Procfs;
use sampler::Sampler;

/// How long after it was called the last read of a live source goes on. A record is
/// stamped before it is queued, and queued records keep the order they were queued in, so
/// a record stamped before the call on one CPU can come after one stamped after it on
/// another: stopping at the first record stamped after the call would leave it unread and
/// not counted lost. Stamping and queueing are microseconds apart; the margin covers a CPU
/// interrupted in between, a virtual one that its host holds included. The probe and the
/// proc connector both stamp and queue this way.
pub const FINISH_MARGIN: Duration = Duration::from_millis(10);

/// A live event source, in the order `--backend auto` tries them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// The eBPF probe: every event, in order, with loss counted in the kernel.
    Ebpf,
    /// The proc connector: every event the kernel announces; details read from /proc.
    Netlink,
    /// Polling /proc: works for anyone, misses what lives shorter than the interval.
    Procfs,
}

impl Backend {
    pub const ALL: [Backend; 3] = [Self::Ebpf, Self::Netlink, Self::Procfs];

    /// The name users see and pass to `--backend` (lower case there).
    pub fn name(self) -> &'static str {
        match self {
            Self::Ebpf => "eBPF",
            Self::Netlink => "netlink",
            Self::Procfs => "procfs",
        }
    }

    /// What reading this backend needs once it is open ([`privileges::keep_only`]). The
    /// probe needs nothing: its ring buffer is mapped, and its loss counts are read through
    /// the map's and programs' own fds. The others read /proc.
    pub fn privileges_to_read(self) -> CapabilitySet {
        match self {
            Self::Ebpf => CapabilitySet::empty(),
            Self::Netlink | Self::Procfs => privileges::READ_ANY_PROCESS,
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A live stream of process events: the backend [`Source::open_live`] chose, and with
/// `--sample-interval` a round of `sample` events every interval between them.
pub struct Source {
    stream: Stream,
    sampler: Option<Sampler>,
    follow_in_kernel: bool,
}

/// The events of the chosen backend.
///
/// The probe's and the poller's batches pass through an [`IdWatch`], which adds the uid
/// and gid changes they cannot see but their later events show. The proc connector needs
/// none: it announces every set*id, 32-bit calls included, and the ids its events carry
/// are read from /proc later, when they may be newer than the event.
enum Stream {
    /// The eBPF probe: complete, ordered, with loss counted in the kernel. Boxed: it is
    /// several times the size of the others.
    Probe(Box<Probe>, IdWatch),
    /// The proc connector: every announcement the kernel makes, details from /proc.
    Netlink(Netlink),
    /// Polling /proc: differences between polls.
    Procfs(Procfs, IdWatch),
}

/// Where a consumer's events come from, batch by batch: a live [`Source`], or a recording
/// played back (`recording::Replay`, which imports this trait to implement it), so that
/// whatever reads events reads either the same way.
pub trait Feed {
    /// Waits for events and appends them to `out`. Returns false once the feed has nothing
    /// more to give (a live source never ends by itself).
    fn next_batch(&mut self, out: &mut Vec<Event>) -> impl Future<Output = Result<bool>>;

    /// Appends what the feed still holds, without waiting: the last batch before stopping.
    fn finish(&mut self, out: &mut Vec<Event>);

    /// A short name for status lines, messages and recordings: `eBPF`, `netlink`,
    /// `procfs`, `replay`.
    fn name(&self) -> &'static str;

    /// Asks the feed for only the events of `subtrees`' processes (and loss reports), or
    /// for every event again when `subtrees` is empty. What it sends then is a superset of
    /// what the pins of those subtrees want; whoever asks still filters with them. Says
    /// where the filtering is done: a feed that cannot do it sends everything.
    fn follow_only(&mut self, subtrees: &[Subtree]) -> Filtering {
        let _ = subtrees;
        Filtering::UserSpace(format!(
            "{} cannot filter events at their source",
            self.name()
        ))
    }
}

/// A subtree to follow ([`Feed::follow_only`]): its root and its members now (the
/// processes a pin of it holds), which the root need not be among.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subtree {
    pub root: ProcessKey,
    pub members: Vec<ProcessKey>,
}

/// Where the events of followed subtrees are told from the rest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filtering {
    /// The probe follows the subtrees and sends only their events.
    Kernel,
    /// Every event is sent and filtered in user space, for this reason.
    UserSpace(String),
}

impl fmt::Display for Filtering {
    /// `following in the kernel` or `filtering in user space (REASON)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Kernel => f.write_str("following in the kernel"),
            Self::UserSpace(why) => write!(f, "filtering in user space ({why})"),
        }
    }
}

/// `--backend`: a backend, or the best one that can run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BackendChoice {
    /// eBPF, else netlink, else procfs.
    #[default]
    Auto,
    Ebpf,
    Netlink,
    Procfs,
}

/// How to open a live source ([`Source::open_live`]).
#[derive(Clone, Debug)]
pub struct LiveOptions {
    pub backend: BackendChoice,
    /// How often the procfs backend reads /proc.
    pub poll_interval: Duration,
    /// The probe's ring buffer and wakeups. The ring buffer's size is the proc connector's
    /// receive buffer too: both are the kernel buffer events wait in until they are read.
    pub probe: ProbeOptions,
    /// How often to sample every process (`sample` events); `None`: never.
    pub sample_interval: Option<Duration>,
    /// Whether [`Feed::follow_only`] may have the probe follow subtrees in the kernel.
    pub follow_in_kernel: bool,
}

impl Default for LiveOptions {
    fn default() -> Self {
        Self {
            backend: BackendChoice::Auto,
            poll_interval: procfs::DEFAULT_INTERVAL,
            probe: ProbeOptions::default(),
            sample_interval: None,
            follow_in_kernel: true,
        }
    }
}

/// Which backend [`Source::open_live`] chose and why, for the lines printed at start and
/// the UI's status line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    pub backend: Backend,
    /// Chosen by `--backend auto`, not asked for by name.
    pub automatic: bool,
    /// The better backends that could not run, best first, each with the one-line reason.
    pub unavailable: Vec<(Backend, String)>,
    /// The procfs poll interval, for the description of what it misses.
    pub poll_interval: Duration,
    /// How processes are sampled (`samples: eBPF task iterator every 1s`), if they are.
    pub samples: Option<String>,
    /// Sampled through /proc because the task iterator could not run.
    pub samples_limited: bool,
}

impl Selection {
    /// `procfs (polling /proc every 100ms)`, `eBPF`, ...: what is watching.
    pub fn summary(&self) -> String {
        match self.backend {
            Backend::Ebpf => "eBPF".to_owned(),
            Backend::Netlink => "netlink (the kernel's proc connector)".to_owned(),
            Backend::Procfs => format!("procfs (polling /proc every {:?})", self.poll_interval),
        }
    }

    /// What the chosen backend cannot see, as one line; `None` for eBPF, which sees all.
    pub fn limits(&self) -> Option<String> {
        match self.backend {
            Backend::Ebpf => None,
            Backend::Netlink => Some(
                "netlink reads argv, names and credentials from /proc when an event arrives: \
                 they can be missing for very short-lived processes"
                    .to_owned(),
            ),
            Backend::Procfs => Some(format!(
                "procfs misses processes that live shorter than {:?}, cannot know exit codes, \
                 reports no threads, and uid/gid changes only as an exec shows them",
                self.poll_interval
            )),
        }
    }

    /// The lines to show when watching starts: why each better backend could not run, what
    /// this one misses, then how processes are sampled if the task iterator could not run.
    pub fn notices(&self) -> Vec<String> {
        self.unavailable
            .iter()
            .map(|(backend, why)| format!("{backend} not possible: {why}"))
            .chain(self.limits())
            .chain(self.samples.clone().filter(|_| self.samples_limited))
            .collect()
    }
}

impl Source {
    /// Opens the live source `options.backend` names, or with `auto` the first of eBPF,
    /// netlink and procfs that can run. An explicitly named backend that cannot run is an
    /// error. Must run inside a tokio runtime.
    pub fn open_live(options: &LiveOptions) -> Result<(Self, Selection)> {
        let candidates: &[Backend] = match options.backend {
            BackendChoice::Auto => &Backend::ALL,
            BackendChoice::Ebpf => &[Backend::Ebpf],
            BackendChoice::Netlink => &[Backend::Netlink],
            BackendChoice::Procfs => &[Backend::Procfs],
        };
        // A bad size is the user's mistake, not a reason to pass over a backend; only the
        // probe's ring buffer has to be a power of two.
        if candidates.contains(&Backend::Ebpf) {
            options.probe.check()?;
        }
        let automatic = options.backend == BackendChoice::Auto;
        let mut unavailable = Vec::new();
        for &backend in candidates {
            match Stream::open(backend, options) {
                Ok(mut stream) => {
                    let sampler = options.sample_interval.map(|every| {
                        let iterator = match &mut stream {
                            Stream::Probe(probe, _) => probe.take_task_iterator(),
                            _ => None,
                        };
                        Sampler::new(every, iterator, procfs::stat_file_budget())
                    });
                    let selection = Selection {
                        backend,
                        automatic,
                        unavailable,
                        poll_interval: options.poll_interval,
                        samples: sampler.as_ref().map(Sampler::summary),
                        samples_limited: sampler.as_ref().is_some_and(Sampler::limited),
                    };
                    tracing::info!(?selection, "event source chosen");
                    let follow_in_kernel = options.follow_in_kernel;
                    let source = Self {
                        stream,
                        sampler,
                        follow_in_kernel,
                    };
                    return Ok((source, selection));
                }
                Err(e) if automatic => unavailable.push((backend, format!("{e:#}"))),
                Err(e) => return Err(e.context(format!("the {backend} backend cannot run"))),
            }
        }
        let reasons: Vec<String> = unavailable
            .iter()
            .map(|(backend, why)| format!("{backend}: {why}"))
            .collect();
        bail!("no event source can run ({})", reasons.join("; "))
    }

    /// The in-kernel relay, if [`ebpf::ProbeOptions::kernel_relay`] asked for it and the
    /// probe could load it; else why not. Taken once.
    pub fn take_kernel_relay(&mut self) -> Result<ebpf::KernelRelay, String> {
        match &mut self.stream {
            Stream::Probe(probe, _) => match probe.take_kernel_relay() {
                Some(Ok(relay)) => Ok(relay),
                Some(Err(why)) => Err(format!("the kernel refused it: {why}")),
                None => Err("the probe was loaded without it".to_owned()),
            },
            other => Err(format!(
                "the event source is the {} backend, not the eBPF probe",
                other.backend()
            )),
        }
    }

    /// The live backend.
    pub fn backend(&self) -> Backend {
        self.stream.backend()
    }
}

impl Stream {
    fn open(backend: Backend, options: &LiveOptions) -> Result<Self> {
        Ok(match backend {
            Backend::Ebpf => {
                let probe = ProbeOptions {
                    samples: options.sample_interval.is_some(),
                    ..options.probe.clone()
                };
                Self::Probe(Box::new(Probe::load(&probe)?), IdWatch::default())
            }
            Backend::Netlink => Self::Netlink(Netlink::open(&NetlinkOptions {
                receive_buffer_bytes: options.probe.ring_bytes,
            })?),
            Backend::Procfs => {
                Self::Procfs(Procfs::open(options.poll_interval)?, IdWatch::default())
            }
        })
    }

    fn backend(&self) -> Backend {
        match self {
            Self::Probe(..) => Backend::Ebpf,
            Self::Netlink(_) => Backend::Netlink,
            Self::Procfs(..) => Backend::Procfs,
        }
    }
}

impl Feed for Source {
    /// Waits for events, or for the next round of samples, and appends them to `out`;
    /// never ends by itself.
    async fn next_batch(&mut self, out: &mut Vec<Event>) -> Result<bool> {
        // Both are cancel safe: a backend that is interrupted while it waits has taken
        // nothing yet.
        match &mut self.sampler {
            Some(sampler) => tokio::select! {
                read = self.stream.next_batch(out) => read?,
                () = sampler.due() => sampler.round(out)?,
            },
            None => self.stream.next_batch(out).await?,
        }
        Ok(true)
    }

    fn finish(&mut self, out: &mut Vec<Event>) {
        self.stream.finish(out);
    }

    fn name(&self) -> &'static str {
        self.backend().name()
    }

    fn follow_only(&mut self, subtrees: &[Subtree]) -> Filtering {
        let Stream::Probe(probe, _) = &mut self.stream else {
            return Filtering::UserSpace(format!("{} cannot filter in the kernel", self.name()));
        };
        if !self.follow_in_kernel {
            return Filtering::UserSpace("--filter-in-user-space".into());
        }
        match follow_in_kernel(probe.follow(), subtrees) {
            Ok(()) if subtrees.is_empty() => Filtering::UserSpace("nothing to follow".into()),
            Ok(()) => Filtering::Kernel,
            Err(e) => {
                // Every event again, so that nothing a pin wants is held back.
                let _ = probe.follow().set_only_followed(false);
                tracing::warn!("cannot follow in the kernel: {e:#}");
                Filtering::UserSpace(format!("{e:#}"))
            }
        }
    }
}

/// Makes the probe follow exactly `subtrees`, and send only their events if there are any.
fn follow_in_kernel(follow: &mut ebpf::Follow, subtrees: &[Subtree]) -> Result<()> {
    for root in follow.roots() {
        if !subtrees.iter().any(|s| s.root == root) {
            follow.remove_root(root)?;
        }
    }
    for subtree in subtrees {
        follow.add_root(subtree.root, subtree.members.iter().copied())?;
    }
    follow.set_only_followed(!subtrees.is_empty())
}

impl Stream {
    async fn next_batch(&mut self, out: &mut Vec<Event>) -> Result<()> {
        let from = out.len();
        match self {
            Self::Probe(probe, ids) => {
                probe.next_batch(out).await?;
                ids.infer(out, from, &mut **probe);
            }
            Self::Netlink(netlink) => netlink.next_batch(out).await?,
            Self::Procfs(procfs, ids) => {
                procfs.next_batch(out).await?;
                ids.infer(out, from, procfs);
            }
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<Event>) {
        match self {
            Self::Probe(probe, ids) => {
                let from = out.len();
                probe.finish(out);
                ids.infer(out, from, &mut **probe);
            }
            Self::Netlink(netlink) => netlink.finish(out),
            // A poller holds nothing between polls.
            Self::Procfs(..) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How processes are sampled is a notice only when the task iterator could not run.
    #[test]
    fn the_samples_line_is_a_notice_only_when_the_iterator_could_not_run() {
        let mut selection = Selection {
            backend: Backend::Ebpf,
            automatic: true,
            unavailable: Vec::new(),
            poll_interval: procfs::DEFAULT_INTERVAL,
            samples: Some("samples: eBPF task iterator every 1s".into()),
            samples_limited: false,
        };
        assert!(selection.notices().is_empty());
        selection.samples =
            Some("samples: /proc every 1s (the task iterator cannot run: x)".into());
        selection.samples_limited = true;
        assert_eq!(selection.notices(), [selection.samples.clone().unwrap()]);
    }
}
