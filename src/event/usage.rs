//! What a process costs: what the kernel accounted to it when it ended ([`Usage`], on exit
//! events) and what a live sample read of it ([`Sample`], the `sample` events).

use std::fmt;

/// What the kernel accounted to a process by the time it ended, all its threads together:
/// what `getrusage` would tell its parent once it is waited for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Usage {
    /// CPU time in user mode, nanoseconds.
    pub user_ns: u64,
    /// CPU time in the kernel on its behalf, nanoseconds.
    pub system_ns: u64,
    /// The most memory it ever had resident, bytes (`ru_maxrss`).
    pub max_rss_bytes: u64,
    /// Bytes it caused to be read from block devices, where the kernel keeps it.
    pub read_bytes: Option<u64>,
    /// Bytes it caused to be written to block devices, where the kernel keeps it.
    pub write_bytes: Option<u64>,
    /// Times it gave up the CPU (waiting), and was made to (preempted).
    pub voluntary_switches: u64,
    pub involuntary_switches: u64,
}

impl Usage {
    /// User and system time together.
    pub fn cpu_ns(&self) -> u64 {
        self.user_ns.saturating_add(self.system_ns)
    }
}

/// What one sample read of a live process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Sample {
    /// CPU time of all its threads so far, user and system, nanoseconds. The CPU share is
    /// the difference between two samples over the time between them.
    pub cpu_ns: u64,
    /// Resident memory, bytes (`VmRSS`).
    pub rss_bytes: u64,
    pub state: State,
    /// Live threads.
    pub threads: u32,
}

/// A process's latest sample as a model keeps it: when it was taken, and the CPU share
/// since the one before.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Sampled {
    /// When it was taken, CLOCK_BOOTTIME nanoseconds.
    pub at_ns: u64,
    pub sample: Sample,
    /// The CPU it used since the sample before, in tenths of a percent of one CPU (1000:
    /// one CPU busy all the time; more with several threads on several CPUs). `None` for
    /// a process sampled once.
    pub cpu_permille: Option<u32>,
}

impl Sampled {
    /// `sample`, taken at `at_ns`, after `before` (the process's previous one).
    pub fn after(before: Option<&Sampled>, at_ns: u64, sample: Sample) -> Self {
        let cpu_permille = before.and_then(|b| {
            let wall = at_ns.checked_sub(b.at_ns).filter(|&ns| ns > 0)?;
            let used = sample.cpu_ns.saturating_sub(b.sample.cpu_ns);
            Some(u32::try_from(u128::from(used) * 1000 / u128::from(wall)).unwrap_or(u32::MAX))
        });
        Self {
            at_ns,
            sample,
            cpu_permille,
        }
    }

    /// The CPU share as htop shows it: `99.8`; empty before a second sample.
    pub fn cpu_percent(&self) -> String {
        self.cpu_permille
            .map_or_else(String::new, |p| format!("{}.{}", p / 10, p % 10))
    }
}

/// A process's scheduling state, the letter `ps` and /proc's `stat` show.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct State(u8);

impl State {
    /// The states the kernel reports: running, sleeping, disk sleep, stopped, tracing
    /// stop, zombie, dead, idle (kernel threads), parked, waking, wakekill.
    const KNOWN: &'static [u8] = b"RSDTtZXIPWK";

    /// The state for /proc's letter; `?` for a letter no kernel writes, so that whatever
    /// a recording says, a state shows as one known letter.
    pub fn from_letter(letter: u8) -> Self {
        Self(if Self::KNOWN.contains(&letter) {
            letter
        } else {
            b'?'
        })
    }

    pub fn letter(self) -> char {
        match self.0 {
            0 => '?',
            b => b as char,
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.letter())
    }
}

/// A byte count as htop shows memory: `812K`, `3.1M`, `12G`.
pub fn bytes_short(bytes: u64) -> String {
    const UNITS: [char; 5] = ['K', 'M', 'G', 'T', 'P'];
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value < 10.0 && unit > 0 {
        format!("{value:.1}{}", UNITS[unit])
    } else {
        format!("{value:.0}{}", UNITS[unit])
    }
}

/// CPU nanoseconds as seconds with two decimals: `412.07s`.
pub fn cpu_seconds(ns: u64) -> String {
    format!("{:.2}s", ns as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_known_letters_and_sizes_read_like_htop() {
        assert_eq!(State::from_letter(b'R').letter(), 'R');
        assert_eq!(State::from_letter(0x1b).letter(), '?');
        assert_eq!(State::default().letter(), '?');
        assert_eq!(bytes_short(812 * 1024), "812K");
        assert_eq!(bytes_short(3_250_000), "3.1M");
        assert_eq!(bytes_short(200 << 20), "200M");
        assert_eq!(bytes_short(12 << 30), "12G");
        assert_eq!(cpu_seconds(412_070_000_000), "412.07s");
    }

    #[test]
    fn the_cpu_share_is_cpu_time_over_wall_time_between_two_samples() {
        let at = |cpu_ns| Sample {
            cpu_ns,
            ..Sample::default()
        };
        let first = Sampled::after(None, 1_000_000_000, at(5_000_000_000));
        assert_eq!(
            (first.cpu_permille, first.cpu_percent()),
            (None, String::new())
        );
        let busy = Sampled::after(Some(&first), 2_000_000_000, at(5_998_000_000));
        assert_eq!(
            (busy.cpu_permille, busy.cpu_percent()),
            (Some(998), "99.8".into())
        );
        let same_time = Sampled::after(Some(&busy), 2_000_000_000, at(6_000_000_000));
        assert_eq!(same_time.cpu_permille, None);
    }
}
