//! The stretch of time the timeline shows: the whole life of the subtree, or a part of it
//! after zooming (`+` `-`) and panning (`←` `→`); its cells, and the times of day its
//! axis is labelled with.

use crate::{clock::WallClock, event::duration::SECOND};

/// The shortest time a cell stands for: labels are to the millisecond.
const MIN_CELL_NS: u64 = 100_000;
const MS: u64 = 1_000_000;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;
/// Times between two labels of the axis, the shortest that leaves room for the labels.
const TICKS: &[u64] = &[
    MS,
    2 * MS,
    5 * MS,
    10 * MS,
    20 * MS,
    50 * MS,
    100 * MS,
    200 * MS,
    500 * MS,
    SECOND,
    2 * SECOND,
    5 * SECOND,
    10 * SECOND,
    15 * SECOND,
    30 * SECOND,
    MINUTE,
    2 * MINUTE,
    5 * MINUTE,
    10 * MINUTE,
    15 * MINUTE,
    30 * MINUTE,
    HOUR,
    2 * HOUR,
    6 * HOUR,
    12 * HOUR,
    24 * HOUR,
];

/// How far the user zoomed and panned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Zoom {
    /// Each level halves the time shown; 0: all of it.
    level: u32,
    /// Where the window starts after a pan; `None`: it ends at the latest time, and grows
    /// with it.
    from: Option<u64>,
}

impl Zoom {
    /// Shows half as much time, around the middle of `shown`; false at the finest.
    pub fn zoom_in(&mut self, shown: &Window) -> bool {
        if shown.cell_ns <= MIN_CELL_NS {
            return false;
        }
        self.level += 1;
        if self.from.is_some() {
            self.from = Some(shown.start + shown.span() / 4);
        }
        true
    }

    /// Shows twice as much time; false if it shows all already.
    pub fn zoom_out(&mut self, shown: &Window) -> bool {
        if self.level == 0 {
            return false;
        }
        self.level -= 1;
        if self.from.is_some() {
            self.from = Some(shown.start.saturating_sub(shown.span() / 2));
        }
        true
    }

    /// Moves a quarter of the window back (`back`) or forward; forward to the latest time,
    /// the window follows it again.
    pub fn pan(&mut self, shown: &Window, back: bool) {
        let step = shown.span() / 4;
        self.from = Some(if back {
            shown.start.saturating_sub(step)
        } else {
            shown.start + step
        });
    }
}

/// The time shown: `cells` cells from `start`, each `cell_ns` long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: u64,
    pub cell_ns: u64,
    pub cells: u16,
}

impl Window {
    /// The window `zoom` makes of the times from `first` to `last`, in `cells` cells.
    pub fn new(zoom: &mut Zoom, first: u64, last: u64, cells: u16) -> Self {
        let cells = cells.max(1);
        let min_span = MIN_CELL_NS * u64::from(cells);
        let all = last.saturating_sub(first).max(min_span);
        let span = all.checked_shr(zoom.level).unwrap_or(0).max(min_span);
        let latest = last.saturating_sub(span);
        let start = match zoom.from {
            Some(from) if from < latest => from.max(first),
            // Panned to the end: it follows the latest time again.
            _ => {
                zoom.from = None;
                latest
            }
        };
        Self {
            start,
            cell_ns: span.div_ceil(u64::from(cells)),
            cells,
        }
    }

    // Saturating here and below: a crafted recording's times can be anywhere up to 2^64.
    pub fn span(&self) -> u64 {
        self.cell_ns.saturating_mul(u64::from(self.cells))
    }

    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.span())
    }

    /// The cell `ns` falls in, if it is shown.
    pub fn cell(&self, ns: u64) -> Option<u16> {
        (self.start..self.end())
            .contains(&ns)
            .then(|| ((ns - self.start) / self.cell_ns) as u16)
    }

    /// The times cell `x` stands for.
    pub fn times(&self, x: u16) -> (u64, u64) {
        let from = (self.start).saturating_add(u64::from(x).saturating_mul(self.cell_ns));
        (from, from.saturating_add(self.cell_ns))
    }

    /// The cells from `from` to `to` (exclusive) cover, those shown; `None` if none is.
    pub fn cells_of(&self, from: u64, to: u64) -> Option<(u16, u16)> {
        if to <= self.start || from >= self.end() {
            return None;
        }
        let first = self.cell(from.max(self.start))?;
        let last = self.cell(to.saturating_sub(1).clamp(self.start, self.end() - 1))?;
        Some((first, last.max(first)))
    }

    /// The labels of the axis: the cell of each, its time, and the time of day it names
    /// (through `clock`), at round times.
    pub fn ticks(&self, clock: &WallClock) -> Vec<(u16, u64, String)> {
        let label = |tick: u64| if tick < SECOND { 12_u64 } else { 8 };
        let Some(&tick) =
            (TICKS.iter()).find(|&&t| t >= (label(t) + 2).saturating_mul(self.cell_ns))
        else {
            return Vec::new();
        };
        let len = label(tick) as usize;
        let into = clock.unix_ns(self.start).rem_euclid(i128::from(tick)) as u64;
        let mut at = self.start.saturating_add((tick - into) % tick);
        let mut ticks = Vec::new();
        // Only whole labels: `|` and the time after it.
        while let Some(x) = self
            .cell(at)
            .filter(|&x| usize::from(x) + 1 + len <= self.cells.into())
        {
            let mut text = clock.time_of_day(at);
            text.truncate(len);
            ticks.push((x, at, text));
            let Some(next) = at.checked_add(tick) else {
                break;
            };
            at = next;
        }
        ticks
    }

    /// The time a click on cell `x` of the axis names: the labelled time in it, if there
    /// is one, else when the cell starts.
    pub fn time_at(&self, x: u16, clock: &WallClock) -> u64 {
        let labelled = self.ticks(clock).into_iter().find(|&(at, _, _)| at == x);
        labelled.map_or(self.times(x).0, |(_, ns, _)| ns)
    }
}
