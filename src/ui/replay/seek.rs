//! The times a replay shows: a time of day to the millisecond. What is typed at the seek
//! prompt is read by [`crate::recording::moment`], which `replay --tree-at` shares.

use crate::clock::WallClock;

/// `12:01:02.345`: to the millisecond, which is what stepping needs.
pub(super) fn time_of_day(clock: &WallClock, ns: u64) -> String {
    let mut time = clock.time_of_day(ns);
    time.truncate("00:00:00.000".len());
    time
}
