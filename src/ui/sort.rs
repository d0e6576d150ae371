//! How siblings are ordered (htop's sort): by pid (the default), CPU, memory, age or name,
//! one way or the other. The tree keeps its shape: only the children of each process are
//! ordered, and the flat list the same way.

use std::cmp::Ordering;

use super::look::Column;
use crate::tracker::model::Process;

/// What siblings are ordered by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortBy {
    #[default]
    Pid,
    Cpu,
    Mem,
    Age,
    Name,
}

impl SortBy {
    /// In the order `<` and `>` step through them.
    pub const ALL: [Self; 5] = [Self::Pid, Self::Cpu, Self::Mem, Self::Age, Self::Name];

    /// The column whose header shows the sort.
    pub fn column(self) -> Column {
        match self {
            Self::Pid => Column::Pid,
            Self::Cpu => Column::Cpu,
            Self::Mem => Column::Mem,
            Self::Age => Column::Age,
            Self::Name => Column::Command,
        }
    }

    /// What the status line calls it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pid => "pid",
            Self::Cpu => "CPU",
            Self::Mem => "memory",
            Self::Age => "age",
            Self::Name => "name",
        }
    }

    /// The way it is first ordered, as in htop: the busiest, largest and oldest first;
    /// pids and names ascending.
    fn descending_first(self) -> bool {
        matches!(self, Self::Cpu | Self::Mem | Self::Age)
    }
}

/// The order of siblings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sort {
    pub by: SortBy,
    pub descending: bool,
}

impl Sort {
    /// By `by`, its first way.
    pub fn by(by: SortBy) -> Self {
        Self {
            by,
            descending: by.descending_first(),
        }
    }

    /// `>` (`step` 1) or `<` (-1): the next or previous of [`SortBy::ALL`], wrapping.
    pub fn stepped(self, step: isize) -> Self {
        let len = SortBy::ALL.len() as isize;
        let at = SortBy::ALL.iter().position(|&b| b == self.by).unwrap_or(0) as isize;
        Self::by(SortBy::ALL[(at + step).rem_euclid(len) as usize])
    }

    /// `I`: the other way.
    pub fn inverted(self) -> Self {
        Self {
            descending: !self.descending,
            ..self
        }
    }

    /// What the status line says of it.
    pub fn describe(self) -> String {
        let way = if self.descending {
            "descending"
        } else {
            "ascending"
        };
        format!("sorted by {}, {way}", self.by.name())
    }

    /// How `a` and `b` are ordered as siblings; ties by pid, then start time.
    pub fn compare(self, a: &Process, b: &Process) -> Ordering {
        let by = match self.by {
            SortBy::Pid => Ordering::Equal,
            SortBy::Cpu => cpu_permille(a).cmp(&cpu_permille(b)),
            SortBy::Mem => rss_bytes(a).cmp(&rss_bytes(b)),
            // Older first is ascending start time: the age's descending order.
            SortBy::Age => b.start_ns.cmp(&a.start_ns),
            SortBy::Name => a.comm.as_bytes().cmp(b.comm.as_bytes()),
        };
        let by = by.then_with(|| a.key.cmp(&b.key));
        if self.descending { by.reverse() } else { by }
    }
}

/// A live process's CPU share, per mille of one CPU; none for an exited one or one
/// sampled once (which sort below every share).
pub fn cpu_permille(process: &Process) -> Option<u32> {
    let sampled = process.resources.sampled.filter(|_| process.is_alive())?;
    sampled.cpu_permille
}

/// A live process's resident memory, bytes, as its latest sample said.
pub fn rss_bytes(process: &Process) -> Option<u64> {
    let sampled = process.resources.sampled.filter(|_| process.is_alive())?;
    Some(sampled.sample.rss_bytes)
}
