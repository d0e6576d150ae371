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

    /// Seconds since the Unix epoch of a boot-time stamp.
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
}
