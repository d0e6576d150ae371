//! A signal the user sends from the UI (`k`) to a process as it was when they picked it:
//! through a pidfd opened for that process only, so a pid given to another process since
//! is refused, never signalled.

use crate::{event::ProcessKey, pidfd::PidFd, proc::stat};

/// What came of sending a signal to a picked process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sent {
    Sent,
    /// It has exited (and perhaps been reaped).
    Gone,
    /// Its pid names another process now, which was left alone.
    Reused,
    /// Not allowed (EPERM).
    NotAllowed,
    /// forkwatch itself, or a process it runs under (sudo, the shell): stopping it would
    /// freeze the terminal forkwatch draws on.
    Itself,
    /// Any other failure, in one line.
    Failed(String),
}

/// Sends `signal` to the process `key` names (its pid and start time), if that process
/// is still the one with the pid. Must run inside a tokio runtime.
pub fn signal(key: ProcessKey, signal: i32) -> Sent {
    if key.pid == std::process::id() || runs_forkwatch(key.pid) {
        return Sent::Itself;
    }
    let pidfd = match PidFd::open(key.pid) {
        Ok(pidfd) => pidfd,
        Err(_) if stat::read(key.pid).is_none() => return Sent::Gone,
        Err(e) => return Sent::Failed(e.to_string()),
    };
    // Read after the pidfd was opened, and while it shows no exit (below): the process
    // read is the pidfd's, so its start time says whether it is the one picked. Its stat
    // alone: nobody's command line is read to send a signal.
    match stat::read(key.pid) {
        Some(now) if ProcessKey::new(key.pid, now.start_ns()) != key => return Sent::Reused,
        Some(now) if !now.exited() => {}
        _ => return Sent::Gone,
    }
    if pidfd.has_exited() {
        return Sent::Gone;
    }
    match pidfd.send_signal(signal, None) {
        Ok(()) => Sent::Sent,
        Err(e) => match e.raw_os_error() {
            Some(libc::ESRCH) => Sent::Gone,
            Some(libc::EPERM) => Sent::NotAllowed,
            _ => Sent::Failed(e.to_string()),
        },
    }
}

/// Whether `pid` is one of the processes forkwatch runs under (sudo, which relays the
/// terminal with its default `use_pty`; the shell), pid 1 aside: it has a confirmation of
/// its own.
fn runs_forkwatch(pid: u32) -> bool {
    let mut at = std::os::unix::process::parent_id();
    // Bounded: a chain of parents ends at pid 1, but /proc is read while it changes.
    for _ in 0..256 {
        if at <= 1 {
            return false;
        }
        if at == pid {
            return true;
        }
        match stat::read(at) {
            Some(parent) => at = parent.ppid,
            None => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Command;

    use super::*;

    fn key_of(pid: u32) -> ProcessKey {
        let now = stat::read(pid).expect("the child runs");
        ProcessKey::new(pid, now.start_ns())
    }

    #[tokio::test]
    async fn the_picked_process_gets_the_signal_and_a_reused_pid_is_refused() {
        let mut child = Command::new("sleep").arg("3600").spawn().unwrap();
        let pid = child.id();
        let key = key_of(pid);
        // The same pid with another start time: what a reused pid looks like.
        let stranger = ProcessKey {
            start_ticks: key.start_ticks + 1,
            ..key
        };
        assert_eq!(signal(stranger, libc::SIGKILL), Sent::Reused);
        assert_eq!(signal(key, 0), Sent::Sent, "still running");

        assert_eq!(signal(key, libc::SIGUSR1), Sent::Sent);
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(libc::SIGUSR1));
        assert_eq!(signal(key, libc::SIGTERM), Sent::Gone);

        let me = ProcessKey::new(std::process::id(), 0);
        assert_eq!(signal(me, libc::SIGSTOP), Sent::Itself);
        let parent = std::os::unix::process::parent_id();
        let runner = ProcessKey::new(parent, stat::read(parent).unwrap().start_ns());
        // Signal 0 tests without sending: if the check failed, nothing would stop.
        assert_eq!(signal(runner, 0), Sent::Itself, "what runs it");
    }
}
