//! Event times are CLOCK_BOOTTIME nanoseconds (what the kernel stamps and what process
//! start times are measured in); people read wall-clock time.

fn now_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write into; both clocks exist on every Linux.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Now, in the clock events are stamped with.
pub fn boottime_ns() -> u64 {
    now_ns(libc::CLOCK_BOOTTIME)
}

/// CLOCK_BOOTTIME minus CLOCK_MONOTONIC now (the time spent suspended): added to a
/// CLOCK_MONOTONIC stamp, such as the proc connector's, it gives the boot-time stamp.
pub fn monotonic_to_boottime_offset_ns() -> u64 {
    let monotonic = now_ns(libc::CLOCK_MONOTONIC);
    boottime_ns().saturating_sub(monotonic)
}

/// Clock ticks per second (USER_HZ), the unit of start times in `/proc/<pid>/stat`.
pub fn ticks_per_second() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    // SAFETY: sysconf has no preconditions.
    *TICKS.get_or_init(|| match unsafe { libc::sysconf(libc::_SC_CLK_TCK) } {
        t if t > 0 => t as u64,
        _ => 100,
    })
}

/// A process start time in clock ticks, the resolution /proc gives it in. Two processes
/// are the same if they have the same pid and the same start tick.
pub fn start_ticks(start_ns: u64) -> u64 {
    start_ns / (1_000_000_000 / ticks_per_second())
}

/// A start time read from /proc (in ticks) as CLOCK_BOOTTIME nanoseconds.
pub fn ticks_to_ns(ticks: u64) -> u64 {
    ticks * (1_000_000_000 / ticks_per_second())
}

/// Converts event times to local wall-clock time.
#[derive(Clone, Copy, Debug)]
pub struct WallClock {
    /// CLOCK_REALTIME minus CLOCK_BOOTTIME, in nanoseconds.
    offset_ns: i128,
}

impl WallClock {
    pub fn now() -> Self {
        Self::with_offset(now_ns(libc::CLOCK_REALTIME) as i128 - boottime_ns() as i128)
    }

    /// For recordings, which store the offset of the machine they were made on.
    pub fn with_offset(offset_ns: i128) -> Self {
        Self { offset_ns }
    }

    pub fn offset_ns(&self) -> i128 {
        self.offset_ns
    }

    /// Nanoseconds since the Unix epoch of a boot-time stamp.
    pub fn unix_ns(&self, boot_ns: u64) -> i128 {
        boot_ns as i128 + self.offset_ns
    }

    /// `HH:MM:SS.uuuuuu` in the local time zone.
    pub fn time_of_day(&self, boot_ns: u64) -> String {
        let unix = self.unix_ns(boot_ns);
        let secs = unix.div_euclid(1_000_000_000) as libc::time_t;
        let micros = unix.rem_euclid(1_000_000_000) / 1_000;
        // SAFETY: localtime_r writes into `tm`, which is valid and ours.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        unsafe { libc::localtime_r(&secs, &mut tm) };
        format!(
            "{:02}:{:02}:{:02}.{:06}",
            tm.tm_hour, tm.tm_min, tm.tm_sec, micros
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_time_maps_to_now() {
        let clock = WallClock::now();
        let unix_now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as i128;
        let mapped = clock.unix_ns(boottime_ns());
        assert!(
            (mapped - unix_now).abs() < 1_000_000_000,
            "{mapped} vs {unix_now}"
        );
        assert_eq!(
            clock.time_of_day(boottime_ns()).len(),
            "00:00:00.000000".len()
        );
    }

    #[test]
    fn start_ticks_round_trip() {
        let ns = ticks_to_ns(75_982) + 5_883_768;
        assert_eq!(start_ticks(ns), 75_982);
        assert_eq!(start_ticks(ticks_to_ns(12)), 12);
    }
}
