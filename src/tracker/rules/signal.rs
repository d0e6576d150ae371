//! The real-time signal a relay rule sends: `RTMIN+N`, `RTMAX-N` or a number, within the
//! range the C library leaves to programs.

use std::{fmt, str::FromStr};

use crate::event::signal_name;

/// A real-time signal a program may use: `SIGRTMIN()..=SIGRTMAX()` as libc reports them
/// (34..64 with glibc, which keeps the kernel's 32 and 33 for its own threads).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RtSignal(i32);

/// The kernel's first real-time signal; libc's SIGRTMIN may be above it.
const KERNEL_SIGRTMIN: i32 = 32;

fn usable() -> String {
    format!(
        "use a real-time signal: RTMIN+N, RTMAX-N or a number in {}..{}",
        libc::SIGRTMIN(),
        libc::SIGRTMAX()
    )
}

impl RtSignal {
    /// Checks that `number` is a real-time signal this process's C library lets programs use.
    pub fn new(number: i32) -> Result<Self, String> {
        let (min, max) = (libc::SIGRTMIN(), libc::SIGRTMAX());
        match number {
            n if (min..=max).contains(&n) => Ok(Self(n)),
            1..KERNEL_SIGRTMIN => Err(format!(
                "{} ({number}) is not a real-time signal; {}",
                signal_name(number),
                usable()
            )),
            n if (KERNEL_SIGRTMIN..min).contains(&n) => Err(format!(
                "signal {n} is reserved by glibc for its own threads; {}",
                usable()
            )),
            n if n > max => Err(format!(
                "signal {n} is above SIGRTMAX ({max}); {}",
                usable()
            )),
            n => Err(format!("{n} is not a signal number; {}", usable())),
        }
    }

    pub fn number(self) -> i32 {
        self.0
    }
}

/// `RTMIN+1`, the default: relay-fork's old default of 33 is glibc's own signal now.
impl Default for RtSignal {
    fn default() -> Self {
        Self(libc::SIGRTMIN() + 1)
    }
}

/// `RTMIN+N`, the way it is written on the command line.
impl fmt::Display for RtSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 - libc::SIGRTMIN() {
            0 => f.write_str("RTMIN"),
            n => write!(f, "RTMIN+{n}"),
        }
    }
}

/// Parses `RTMIN`, `RTMIN+N`, `RTMAX`, `RTMAX-N` (with or without `SIG`, any case) or a
/// number. Other signals are refused with the reason.
impl FromStr for RtSignal {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let upper = s.trim().to_ascii_uppercase();
        let name = upper.strip_prefix("SIG").unwrap_or(&upper);
        let offset = |rest: &str| -> Result<i32, String> {
            match rest {
                "" => Ok(0),
                _ => rest
                    .parse::<u8>()
                    .map(i32::from)
                    .map_err(|_| format!("`{s}` is not a signal; {}", usable())),
            }
        };
        let number = if let Some(rest) = name.strip_prefix("RTMIN") {
            let rest = rest.strip_prefix('+').unwrap_or(rest);
            libc::SIGRTMIN() + offset(rest)?
        } else if let Some(rest) = name.strip_prefix("RTMAX") {
            let rest = rest.strip_prefix('-').unwrap_or(rest);
            libc::SIGRTMAX() - offset(rest)?
        } else if let Ok(n) = name.parse::<i32>() {
            n
        } else if let Some(n) =
            (1..KERNEL_SIGRTMIN).find(|&n| signal_name(n) == format!("SIG{name}"))
        {
            n
        } else {
            return Err(format!("`{s}` is not a signal; {}", usable()));
        };
        Self::new(number).map_err(|e| {
            if name.starts_with("RT") {
                format!("{s} is signal {number}, but {e}")
            } else {
                e
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(s: &str) -> String {
        s.parse::<RtSignal>().unwrap_err()
    }

    #[test]
    fn real_time_signals_parse_in_every_spelling() {
        let min = libc::SIGRTMIN();
        let max = libc::SIGRTMAX();
        assert_eq!(RtSignal::default().number(), min + 1);
        assert_eq!("RTMIN+1".parse(), Ok(RtSignal(min + 1)));
        assert_eq!("sigrtmin".parse(), Ok(RtSignal(min)));
        assert_eq!("RTMAX-2".parse(), Ok(RtSignal(max - 2)));
        assert_eq!("SIGRTMAX".parse(), Ok(RtSignal(max)));
        assert_eq!(max.to_string().parse(), Ok(RtSignal(max)));
        assert_eq!(RtSignal(min + 3).to_string(), "RTMIN+3");
        assert_eq!(
            RtSignal::default().to_string().parse(),
            Ok(RtSignal::default())
        );
    }

    #[test]
    fn other_signals_are_refused_with_the_reason() {
        // The range glibc gives on this platform; the messages name it.
        assert_eq!((libc::SIGRTMIN(), libc::SIGRTMAX()), (34, 64));
        let usable = "use a real-time signal: RTMIN+N, RTMAX-N or a number in 34..64";
        assert_eq!(
            refusal("9"),
            format!("SIGKILL (9) is not a real-time signal; {usable}")
        );
        assert_eq!(
            refusal("SIGKILL"),
            format!("SIGKILL (9) is not a real-time signal; {usable}")
        );
        assert_eq!(
            refusal("usr1"),
            format!("SIGUSR1 (10) is not a real-time signal; {usable}")
        );
        assert_eq!(
            refusal("33"),
            format!("signal 33 is reserved by glibc for its own threads; {usable}")
        );
        assert_eq!(
            refusal("32"),
            format!("signal 32 is reserved by glibc for its own threads; {usable}")
        );
        assert_eq!(
            refusal("65"),
            format!("signal 65 is above SIGRTMAX (64); {usable}")
        );
        assert_eq!(
            refusal("RTMIN+31"),
            format!("RTMIN+31 is signal 65, but signal 65 is above SIGRTMAX (64); {usable}")
        );
        assert_eq!(
            refusal("RTMAX-31"),
            format!(
                "RTMAX-31 is signal 33, but signal 33 is reserved by glibc for its own threads; {usable}"
            )
        );
        assert_eq!(refusal("0"), format!("0 is not a signal number; {usable}"));
        assert_eq!(
            refusal("-3"),
            format!("-3 is not a signal number; {usable}")
        );
        assert_eq!(
            refusal("RTMIN+x"),
            format!("`RTMIN+x` is not a signal; {usable}")
        );
        assert_eq!(refusal("HUP2"), format!("`HUP2` is not a signal; {usable}"));
    }
}
