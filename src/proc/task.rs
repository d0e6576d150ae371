//! A process's threads: `/proc/<pid>/task`, and what a thread waits in.

/// The thread ids of process `pid`; `None` if its task directory cannot be read (it is
/// gone).
pub fn thread_ids(pid: u32) -> Option<Vec<u32>> {
    let dir = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    Some(
        dir.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
            .collect(),
    )
}

/// The kernel function thread `tid` of process `pid` sleeps in (its wait channel, e.g.
/// `do_sigtimedwait`), "0" if it runs; `None` if it cannot be read. /proc shows it only to
/// readers with ptrace access.
pub fn wait_channel(pid: u32, tid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/wchan")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_the_threads_of_this_process() {
        let me = std::process::id();
        let (done, wait) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || wait.recv());
        let tids = thread_ids(me).unwrap();
        drop(done);
        thread.join().unwrap().unwrap_err();
        assert!(tids.contains(&me) && tids.len() >= 2, "{tids:?}");
        assert!(wait_channel(me, me).is_some());
        assert!(thread_ids(u32::MAX).is_none());
    }
}
