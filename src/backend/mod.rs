//! The event sources that stand in for the eBPF probe where it cannot run: the kernel's
//! proc connector (netlink) and polling /proc. Which one runs is chosen in
//! [`crate::source::Source::open_live`].

use std::fmt;

pub mod ids;
pub mod netlink;
pub mod procfs;

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
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
