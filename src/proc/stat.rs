//! `/proc/<pid>/stat`: the few fields the backends read for every event or every poll,
//! parsed without allocating (the snapshot's full read costs three files per process), and
//! a zombie's exit status.

use std::{fs::File, os::unix::fs::FileExt};

use forkwatch_abi::PF_KTHREAD;

use crate::{
    clock,
    event::{Comm, Sample, State},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    pub ppid: u32,
    pub comm: Comm,
    /// The state letter: R, S, D, Z (exited, not yet reaped), X, T, ...
    pub state: u8,
    pub flags: u32,
    /// Start time in clock ticks since boot: with the pid, the process's identity.
    pub start_ticks: u64,
    /// CPU time of all its threads, the ended ones included, in clock ticks: in user mode
    /// and in the kernel.
    pub user_ticks: u64,
    pub system_ticks: u64,
    pub threads: u32,
    /// Resident memory in pages.
    pub rss_pages: u64,
    /// Where the program's code and stack start. Both change on every exec (ASLR; a fork
    /// keeps them), so a change means an exec. /proc shows 0 or 1 instead when it hides
    /// them from us (another user's process, seen without privileges) and 0 for zombies.
    pub exec_marks: (u64, u64),
}

impl Stat {
    pub fn start_ns(&self) -> u64 {
        clock::ticks_to_ns(self.start_ticks)
    }

    /// What a sample reads of it: CPU time, resident memory, state and threads.
    pub fn sample(&self) -> Sample {
        Sample {
            cpu_ns: clock::ticks_to_ns(self.user_ticks + self.system_ticks),
            rss_bytes: self.rss_pages * page_size(),
            state: State::from_letter(self.state),
            threads: self.threads,
        }
    }

    pub fn kernel_thread(&self) -> bool {
        self.flags & PF_KTHREAD != 0
    }

    pub fn exited(&self) -> bool {
        matches!(self.state, b'Z' | b'X')
    }

    /// Whether /proc showed the real code and stack addresses (see `exec_marks`).
    pub fn exec_marks_known(&self) -> bool {
        self.exec_marks.0 > 1
    }
}

/// Parses the text of a stat file: `pid (comm) state ppid ...`. The command name may hold
/// spaces and parentheses, so the fields start after the last `)`.
pub fn parse(text: &[u8]) -> Option<Stat> {
    let open = text.iter().position(|&b| b == b'(')?;
    let close = text.iter().rposition(|&b| b == b')')?;
    let comm = Comm::from_bytes(text.get(open + 1..close)?);
    let mut fields = fields(text)?;
    let mut field = |skip: usize| -> Option<&[u8]> { fields.nth(skip) };
    let state = *field(0)?.first()?;
    let ppid = number(field(0)?)?;
    let flags = number(field(4)?)?;
    let user_ticks = number(field(4)?)?;
    let system_ticks = number(field(0)?)?;
    let threads = number(field(4)?)?;
    let start_ticks = number(field(1)?)?;
    let rss_pages = number(field(1)?)?;
    let start_code = number(field(1)?)?;
    let start_stack = number(field(1)?)?;
    Some(Stat {
        ppid: ppid as u32,
        comm,
        state,
        flags: flags as u32,
        start_ticks,
        user_ticks,
        system_ticks,
        threads: threads as u32,
        rss_pages,
        exec_marks: (start_code, start_stack),
    })
}

/// The size of a memory page, the unit of resident memory in `/proc/<pid>/stat`.
pub fn page_size() -> u64 {
    static SIZE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    // SAFETY: sysconf has no preconditions.
    *SIZE.get_or_init(|| match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
        size if size > 0 => size as u64,
        _ => 4096,
    })
}

/// The fields after the command name: field n of proc(5) is the (n - 3)th of them.
fn fields(text: &[u8]) -> Option<impl Iterator<Item = &[u8]>> {
    let close = text.iter().rposition(|&b| b == b')')?;
    Some(text.get(close + 2..)?.split(|&b| b == b' '))
}

fn number(bytes: &[u8]) -> Option<u64> {
    std::str::from_utf8(bytes).ok()?.trim_end().parse().ok()
}

/// The raw wait status of a zombie (`exit_code`, field 52), as its parent's waitpid will
/// report it; `None` if `pid` is gone or not a zombie. /proc shows it only to readers with
/// ptrace access (root, its owner); others read 0.
pub fn zombie_wait_status(pid: u32) -> Option<u32> {
    let text = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    if parse(&text)?.state != b'Z' {
        return None;
    }
    let exit_code = fields(&text)?.nth(52 - 3)?;
    let exit_code: i32 = std::str::from_utf8(exit_code)
        .ok()?
        .trim_end()
        .parse()
        .ok()?;
    Some(exit_code as u32)
}

/// Reads and parses `/proc/<pid>/stat`; `None` if the process is gone.
pub fn read(pid: u32) -> Option<Stat> {
    StatFile::open(pid)?.read()
}

/// `/proc/<pid>/stat`, kept open: a read then costs one `pread` instead of a path lookup,
/// an open and a close (less than half the CPU time), and the file stays bound to its
/// process: once that process is gone, reads fail even if its pid names another one.
pub struct StatFile(File);

impl StatFile {
    pub fn open(pid: u32) -> Option<Self> {
        File::open(format!("/proc/{pid}/stat")).ok().map(Self)
    }

    /// The current contents; `None` once the process is gone. One read gets them all: the
    /// line is a few hundred bytes and /proc hands it over whole.
    pub fn read(&self) -> Option<Stat> {
        let mut buf = [0; 1024];
        let len = self.0.read_at(&mut buf, 0).ok()?;
        parse(&buf[..len])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_with_spaces_and_parentheses() {
        let text = b"4242 (a b) c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 3 0 \
            98765 1000 200 18446744073709551615 94000000000000 94000000001000 \
            140730000000000 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 140730000001000 \
            140730000001100 140730000001100 140730000002000 0\n";
        let stat = parse(text).unwrap();
        assert_eq!(stat.comm.to_string(), "a b) c)");
        assert_eq!(stat.state, b'S');
        assert_eq!(stat.ppid, 1);
        assert_eq!(stat.start_ticks, 98765);
        assert_eq!((stat.user_ticks, stat.system_ticks), (1, 2));
        assert_eq!((stat.threads, stat.rss_pages), (3, 200));
        let sample = stat.sample();
        assert_eq!(sample.cpu_ns, clock::ticks_to_ns(3));
        assert_eq!(sample.rss_bytes, 200 * page_size());
        assert_eq!((sample.state.letter(), sample.threads), ('S', 3));
        assert_eq!(stat.exec_marks, (94000000000000, 140730000000000));
        assert!(stat.exec_marks_known() && !stat.kernel_thread() && !stat.exited());
        assert!(parse(b"12 (x) S 1").is_none());
    }

    #[test]
    fn reads_this_process_like_the_snapshot_does() {
        let me = std::process::id();
        let stat = read(me).unwrap();
        let info = super::super::snapshot::read_process(me).unwrap();
        assert_eq!(stat.start_ns(), info.start_ns);
        assert_eq!(stat.ppid, info.ppid);
        assert_eq!(stat.comm, info.comm);
        assert!(stat.exec_marks_known(), "root sees its own code address");
        assert!(read(2).unwrap().kernel_thread());
    }

    #[test]
    fn a_kept_file_fails_once_its_process_is_gone() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let file = StatFile::open(child.id()).unwrap();
        assert_eq!(file.read().unwrap().ppid, std::process::id());
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(file.read().is_none());
    }

    #[test]
    fn a_zombie_shows_its_exit_status() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "exit 3"])
            .spawn()
            .unwrap();
        let status = loop {
            if let Some(status) = zombie_wait_status(child.id()) {
                break status;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        assert_eq!(status, 3 << 8, "as waitpid reports an exit with code 3");
        assert!(zombie_wait_status(std::process::id()).is_none());
        child.wait().unwrap();
    }
}
