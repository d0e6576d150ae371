//! The probe against the real kernel: each test starts its own processes and checks the
//! events reported for their pids (other processes on the machine are ignored).

#[path = "common/long_path.rs"]
mod long_path;
#[path = "common/nobody.rs"]
mod nobody;
#[path = "common/program_copy.rs"]
mod program_copy;

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU32, Ordering},
    },
    time::Duration,
};

use forkwatch::{
    event::{Argv, Event, ExitStatus, Kind, Usage},
    source::{
        FINISH_MARGIN,
        ebpf::{Probe, ProbeOptions},
    },
};
use forkwatch_abi::FILENAME_CAP;
use long_path::LongPath;
use nobody::Nobody;

const WORKLOAD: &str = env!("CARGO_BIN_EXE_forkwatch-workload");

/// Reads events until `done` says the ones wanted have arrived (a 30 s guard).
async fn collect_until(probe: &mut Probe, done: impl Fn(&[Event]) -> bool) -> Vec<Event> {
    let mut events = Vec::new();
    let read = async {
        while !done(&events) {
            probe
                .next_batch(&mut events)
                .await
                .expect("ring buffer read");
        }
    };
    if tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .is_err()
    {
        let lost: u64 = events.iter().map(Event::lost_count).sum();
        panic!(
            "the expected events did not arrive in 30 s: got {} events, {lost} reported lost",
            events.len()
        );
    }
    events
}

fn of_pid(events: &[Event], pid: u32) -> Vec<&Event> {
    events.iter().filter(|e| e.pid == pid).collect()
}

fn exited(events: &[Event], pid: u32) -> bool {
    events
        .iter()
        .any(|e| e.pid == pid && matches!(e.kind, Kind::Exit(..)))
}

/// The status of an exit event and what the kernel accounted to the process.
fn exit_of(event: &Event) -> (ExitStatus, &Usage) {
    match &event.kind {
        Kind::Exit(status, Some(usage)) => (*status, usage),
        _ => panic!("not an exit with usage: {event:#?}"),
    }
}

/// The exit of `pid` among `events`.
fn exit_event(events: &[Event], pid: u32) -> &Event {
    events
        .iter()
        .find(|e| e.pid == pid && matches!(e.kind, Kind::Exit(..)))
        .expect("the exit was collected")
}

/// Reaps our child `pid` with wait4: what the kernel tells its parent it cost (what
/// getrusage(RUSAGE_CHILDREN) adds up). RUSAGE_CHILDREN itself would also count the
/// children of tests running at the same time in this process.
fn reap_with_rusage(pid: u32) -> libc::rusage {
    let mut status = 0;
    // SAFETY: a zeroed rusage is valid; wait4 fills it.
    let mut rusage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, writing into the two locals.
    let reaped = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut rusage) };
    assert_eq!(
        reaped,
        pid as libc::pid_t,
        "{}",
        std::io::Error::last_os_error()
    );
    rusage
}

fn rusage_cpu_ns(r: &libc::rusage) -> u64 {
    let ns = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1_000;
    ns(r.ru_utime) + ns(r.ru_stime)
}

/// Asserts that `value` is within `share` (0.05: 5%) of `expected`.
fn assert_near(what: &str, value: u64, expected: u64, share: f64) {
    let off = value.abs_diff(expected) as f64 / expected as f64;
    assert!(
        off <= share,
        "{what}: {value} is {:.1}% off {expected}",
        off * 100.0
    );
}

fn load() -> Probe {
    Probe::load(&ProbeOptions::default()).expect("the probe loads (tests run as root)")
}

#[tokio::test]
async fn fork_exec_and_exit_code_of_a_child() {
    let mut probe = load();
    let mut child = Command::new("/bin/sh")
        .args(["-c", "exit 7"])
        .spawn()
        .unwrap();
    let pid = child.id();
    let events = collect_until(&mut probe, |e| exited(e, pid)).await;
    assert_eq!(child.wait().unwrap().code(), Some(7));

    let mine = of_pid(&events, pid);
    let kinds: Vec<_> = mine.iter().map(|e| e.kind_name().as_str()).collect();
    assert_eq!(kinds, ["fork", "exec", "exit"], "{mine:#?}");
    assert_eq!(mine[0].ppid, std::process::id());
    assert_eq!(mine[0].tid, pid);
    assert_eq!(
        mine[1].kind,
        Kind::Exec {
            filename: "/bin/sh".into(),
            argv: Argv::from_args(["/bin/sh", "-c", "exit 7"]),
            argv_truncated: false,
            filename_truncated: false,
            argv_unreadable: false,
        }
    );
    assert_eq!(mine[1].comm.to_string(), "sh");
    assert_eq!(exit_of(mine[2]).0, ExitStatus::Code(7));
    // One process, one identity: every event carries the same start time.
    assert!(mine.iter().all(|e| e.start_ns == mine[0].start_ns));
    assert!(mine[2].run_ns().unwrap() > 0);
    let proc_start = mine[0].start_ns;
    assert!(proc_start <= mine[0].ts_ns);
}

#[tokio::test]
async fn exec_keeps_a_hundred_arguments_and_flags_a_cut() {
    let mut probe = load();
    let args: Vec<String> = (0..100).map(|i| format!("argument-{i:03}")).collect();
    let mut child = Command::new("/bin/true").args(&args).spawn().unwrap();
    // 900 arguments of 20 bytes: 18 KB, more than the probe keeps.
    let long: Vec<String> = (0..900).map(|i| format!("{i:019}")).collect();
    let mut long_child = Command::new("/bin/true").args(&long).spawn().unwrap();
    let (pid, long_pid) = (child.id(), long_child.id());
    let events = collect_until(&mut probe, |e| exited(e, pid) && exited(e, long_pid)).await;
    child.wait().unwrap();
    long_child.wait().unwrap();

    let exec = |pid| {
        of_pid(&events, pid)
            .into_iter()
            .find_map(|e| match &e.kind {
                Kind::Exec {
                    argv,
                    argv_truncated,
                    ..
                } => Some((argv.to_strings(), *argv_truncated)),
                _ => None,
            })
            .expect("an exec event")
    };
    let (argv, truncated) = exec(pid);
    assert_eq!(argv.len(), 101);
    assert_eq!(argv[0], "/bin/true");
    assert_eq!(argv[1..], args[..]);
    assert!(!truncated);

    let (argv, truncated) = exec(long_pid);
    assert!(truncated, "an 18 KB argv is cut and says so");
    assert!(
        argv.len() > 300,
        "at least 8 KiB is kept: {} args",
        argv.len()
    );
    // Everything kept is the real prefix; only the last argument may be cut short.
    let kept = argv.len() - 1;
    assert_eq!(argv[1..kept], long[..kept - 1]);
}

/// A file name longer than the probe keeps is cut and says so; one that just fits (the
/// cap with its NUL) is whole and does not.
#[tokio::test]
async fn a_file_name_over_the_cap_is_flagged() {
    let mut probe = load();
    let fits = LongPath::to_true(FILENAME_CAP - 1);
    let long = LongPath::to_true(FILENAME_CAP + 200);
    let mut fits_child = Command::new(&fits.path).spawn().unwrap();
    let mut long_child = Command::new(&long.path).spawn().unwrap();
    let (fits_pid, long_pid) = (fits_child.id(), long_child.id());
    let events = collect_until(&mut probe, |e| exited(e, fits_pid) && exited(e, long_pid)).await;
    assert!(fits_child.wait().unwrap().success() && long_child.wait().unwrap().success());

    let exec = |pid| {
        of_pid(&events, pid)
            .into_iter()
            .find_map(|e| match &e.kind {
                Kind::Exec {
                    filename,
                    argv,
                    filename_truncated,
                    ..
                } => Some((
                    filename.as_bytes().to_vec(),
                    argv.clone(),
                    *filename_truncated,
                )),
                _ => None,
            })
            .expect("an exec event")
    };
    let (filename, argv, truncated) = exec(fits_pid);
    assert_eq!(filename, fits.bytes());
    assert!(!truncated, "a name of {} bytes fits", FILENAME_CAP - 1);

    let (filename, argv_long, truncated) = exec(long_pid);
    assert!(truncated, "a name of {} bytes is cut", FILENAME_CAP + 200);
    assert_eq!(filename, long.bytes()[..FILENAME_CAP - 1]);
    // The argv, which has its own cap, keeps the whole path.
    assert_eq!(argv_long.first(), Some(long.bytes()));
    assert_eq!(argv.first(), Some(fits.bytes()));
}

#[tokio::test]
async fn a_sigkill_is_reported_as_signal_9() {
    let mut probe = load();
    let mut child = Command::new("sleep").arg("60").spawn().unwrap();
    let pid = child.id();
    // Wait for the exec so the kill hits sleep, not the forked copy of the test.
    collect_until(&mut probe, |e| {
        e.iter()
            .any(|e| e.pid == pid && matches!(e.kind, Kind::Exec { .. }))
    })
    .await;
    child.kill().unwrap();
    let events = collect_until(&mut probe, |e| exited(e, pid)).await;
    child.wait().unwrap();
    let exit = of_pid(&events, pid).pop().unwrap();
    assert_eq!(
        exit_of(exit).0,
        ExitStatus::Signal {
            signal: 9,
            core_dumped: false
        }
    );
    assert_eq!(exit.comm.to_string(), "sleep");
}

#[tokio::test]
async fn an_exit_counts_the_cpu_its_parent_is_told_of() {
    let mut probe = load();
    // Reaped by reap_with_rusage, for the rusage std's wait does not give.
    let pid = Command::new(WORKLOAD)
        .args(["burn", "300", "0"])
        .spawn()
        .unwrap()
        .id();
    let events = collect_until(&mut probe, |e| exited(e, pid)).await;
    let told = reap_with_rusage(pid);
    let (status, usage) = exit_of(exit_event(&events, pid));
    assert_eq!(status, ExitStatus::Code(0));
    // Within 5% of the 300 ms it used: the exit leaves out its last stretch on the CPU.
    assert!(usage.cpu_ns() >= 285_000_000, "{usage:?}");
    assert_near("CPU time", usage.cpu_ns(), rusage_cpu_ns(&told), 0.05);
    // A CPU-bound loop runs in user mode.
    assert!(usage.user_ns > usage.system_ns, "{usage:?}");
    assert!(usage.read_bytes.is_some() && usage.write_bytes.is_some());
    assert!(usage.max_rss_bytes > 0, "{usage:?}");
    assert!(usage.involuntary_switches + usage.voluntary_switches > 0);
}

/// The main thread ends first and another ends the process: the CPU of every thread,
/// the released ones and the zombie leader, is in the exit.
#[tokio::test]
async fn a_multi_threaded_exit_counts_every_thread() {
    let mut probe = load();
    // Reaped by reap_with_rusage, for the rusage std's wait does not give.
    let pid = Command::new(WORKLOAD)
        .args(["burn", "150", "3"])
        .spawn()
        .unwrap()
        .id();
    let events = collect_until(&mut probe, |e| exited(e, pid)).await;
    let told = reap_with_rusage(pid);
    let exit = exit_event(&events, pid);
    assert_ne!(
        exit.tid, pid,
        "a thread other than the leader ends the process"
    );
    let (status, usage) = exit_of(exit);
    assert_eq!(status, ExitStatus::Code(0));
    assert!(usage.cpu_ns() >= 4 * 142_500_000, "{usage:?}");
    assert_near("CPU time", usage.cpu_ns(), rusage_cpu_ns(&told), 0.05);
}

/// The child touches 200 MiB in a process forked by a shell: a child spawned by this test
/// would start in the test process's memory (vfork), and the kernel counts the peak of that
/// memory too, as getrusage's ru_maxrss shows.
#[tokio::test]
async fn an_exit_reports_the_peak_memory() {
    let mut probe = load();
    let mut shell = Command::new("/bin/sh")
        .args(["-c", &format!("{WORKLOAD} touch 200; exit 0")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = String::new();
    BufReader::new(shell.stdout.take().unwrap())
        .read_line(&mut said)
        .unwrap();
    let pid: u32 = said
        .strip_prefix("touched ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("unexpected: {said:?}"));
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let hwm_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().strip_suffix(" kB"))
        .and_then(|v| v.trim().parse().ok())
        .expect("VmHWM in /proc/<pid>/status");
    drop(shell.stdin.take());
    let events = collect_until(&mut probe, |e| exited(e, pid)).await;
    assert!(shell.wait().unwrap().success());
    let (_, usage) = exit_of(exit_event(&events, pid));
    assert!(usage.max_rss_bytes >= 200 << 20, "{usage:?}");
    assert_near("peak memory", usage.max_rss_bytes, hwm_kib * 1024, 0.10);
}

#[tokio::test]
async fn threads_start_and_end_inside_their_process() {
    let mut probe = load();
    let mut child = Command::new(WORKLOAD)
        .args(["threads", "3"])
        .spawn()
        .unwrap();
    let pid = child.id();
    let events = collect_until(&mut probe, |e| exited(e, pid)).await;
    assert!(child.wait().unwrap().success());

    let mine = of_pid(&events, pid);
    let started: Vec<u32> = mine
        .iter()
        .filter(|e| e.kind == Kind::ThreadStart)
        .map(|e| e.tid)
        .collect();
    let mut ended: Vec<u32> = mine
        .iter()
        .filter(|e| e.kind == Kind::ThreadExit)
        .map(|e| e.tid)
        .collect();
    assert_eq!(started.len(), 3, "{mine:#?}");
    assert!(started.iter().all(|&tid| tid != pid));
    ended.sort_unstable();
    let mut expected = started.clone();
    expected.sort_unstable();
    assert_eq!(ended, expected, "each thread that started ended");
    // The process ends once, after its threads, with its own exit code.
    let exits: Vec<_> = mine
        .iter()
        .filter(|e| matches!(e.kind, Kind::Exit(..)))
        .collect();
    assert_eq!(exits.len(), 1);
    assert_eq!(exit_of(exits[0]).0, ExitStatus::Code(0));
    assert!(matches!(mine.last().unwrap().kind, Kind::Exit(..)));
}

#[tokio::test]
async fn setuid_and_setgid_report_the_new_ids() {
    let mut probe = load();
    let mut uid_child = Command::new(WORKLOAD)
        .args(["setuid", "65534"])
        .spawn()
        .unwrap();
    let mut gid_child = Command::new(WORKLOAD)
        .args(["setgid", "65534"])
        .spawn()
        .unwrap();
    let (uid_pid, gid_pid) = (uid_child.id(), gid_child.id());
    let events = collect_until(&mut probe, |e| exited(e, uid_pid) && exited(e, gid_pid)).await;
    assert!(uid_child.wait().unwrap().success());
    assert!(gid_child.wait().unwrap().success());

    let change = |pid, kind: Kind| {
        of_pid(&events, pid)
            .into_iter()
            .find(|e| e.kind == kind)
            .unwrap_or_else(|| panic!("no {kind:?} event for {pid}"))
            .creds
            .unwrap()
    };
    let after_setuid = change(uid_pid, Kind::Uid { inferred: false });
    assert_eq!((after_setuid.uid, after_setuid.euid), (65534, 65534));
    let after_setgid = change(gid_pid, Kind::Gid { inferred: false });
    assert_eq!((after_setgid.gid, after_setgid.egid), (65534, 65534));
    assert_eq!(after_setgid.uid, 0, "setgid leaves the uid alone");
    // The exit that follows carries the new credentials too.
    let exit = of_pid(&events, uid_pid).pop().unwrap();
    assert_eq!(exit.creds.unwrap().uid, 65534);
}

#[tokio::test]
async fn a_failed_setuid_is_not_reported() {
    let mut probe = load();
    // After dropping to 65534, setuid(0) fails with EPERM.
    let nobody = Nobody::with(&[WORKLOAD]);
    let child = nobody
        .command(&[], "forkwatch-workload")
        .args(["setuid", "0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let events = collect_until(&mut probe, |e| exited(e, pid)).await;
    // The workload itself ran and was refused (not setpriv failing to run it).
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "setuid(0): Operation not permitted (os error 1)\n"
    );
    let uid_events: Vec<_> = of_pid(&events, pid)
        .into_iter()
        .filter(|e| e.kind == Kind::Uid { inferred: false })
        .collect();
    // setpriv's own setresuid(65534) succeeded; the workload's setuid(0) did not.
    assert_eq!(uid_events.len(), 1, "{uid_events:#?}");
    assert_eq!(uid_events[0].creds.unwrap().uid, 65534);
}

#[tokio::test]
async fn children_never_appear_before_their_fork() {
    let mut probe = load();
    // A tree of 3 levels with 4 children per node, all running at once on both CPUs.
    let script = "for a in 1 2 3 4; do ( for b in 1 2 3 4; do ( for c in 1 2 3 4; do /bin/true & done; wait ) & done; wait ) & done; wait";
    let mut root = Command::new("/bin/sh")
        .args(["-c", script])
        .spawn()
        .unwrap();
    let root_pid = root.id();
    let events = collect_until(&mut probe, |e| exited(e, root_pid)).await;
    root.wait().unwrap();

    // Walk the stream in order; a pid belongs to the tree once its fork has been seen.
    let mut in_tree = std::collections::HashSet::from([root_pid]);
    let mut forks = 0;
    for event in &events {
        match event.kind {
            Kind::Fork if in_tree.contains(&event.ppid) => {
                assert!(in_tree.insert(event.pid), "pid {} forked twice", event.pid);
                forks += 1;
            }
            _ if in_tree.contains(&event.ppid) && event.ppid != std::process::id() => {
                assert!(
                    in_tree.contains(&event.pid),
                    "{event:?} arrived before the fork of its process"
                );
            }
            _ => {}
        }
    }
    // 4 + 16 subshells and 64 /bin/true: at least 84 forks (sh may fork a few more).
    assert!(forks >= 84, "only {forks} forks seen in the tree");
}

#[tokio::test]
async fn a_full_ring_buffer_is_counted_as_lost() {
    // One page of ring buffer holds a few dozen records.
    let mut probe = Probe::load(&ProbeOptions {
        ring_bytes: 4096,
        ..ProbeOptions::default()
    })
    .unwrap();
    let mut children: Vec<_> = (0..200)
        .map(|_| Command::new("/bin/true").spawn().unwrap())
        .collect();
    let pids: Vec<u32> = children.iter().map(|c| c.id()).collect();
    for child in &mut children {
        child.wait().unwrap();
    }
    // Nothing was read while they ran: most records could not be queued.
    let mut events = Vec::new();
    probe.finish(&mut events);
    let lost: u64 = events.iter().map(Event::lost_count).sum();
    let seen = events.iter().filter(|e| pids.contains(&e.pid)).count() as u64;
    // Each child made a fork, an exec and an exit: whatever is missing was counted.
    assert!(
        lost > 0,
        "a one-page buffer overflowed without a loss report"
    );
    assert!(
        seen + lost >= 3 * pids.len() as u64,
        "seen {seen} + lost {lost} < {}",
        3 * pids.len()
    );
}

/// The last read before stopping takes what was queued when it was called and stops at
/// the first record written [`FINISH_MARGIN`] after, even while a storm keeps writing.
#[tokio::test]
async fn the_last_read_stops_at_records_written_after_it_began() {
    let mut probe = load();
    let mut storm = Command::new(WORKLOAD)
        .args(["storm", "--workers", "2", "--seconds", "3"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // A backlog to drain while the storm goes on.
    std::thread::sleep(Duration::from_millis(1000));
    // The bound is given, not taken inside: a test preempted between its own clock read
    // and the probe's would see records of that gap as read too late.
    let until = forkwatch::clock::boottime_ns() + FINISH_MARGIN.as_nanos() as u64;
    let mut events = Vec::new();
    probe.finish_until(&mut events, until);
    storm.wait().unwrap();
    let records: Vec<&Event> = events.iter().filter(|e| e.lost_count() == 0).collect();
    let later = records.iter().filter(|e| e.ts_ns > until).count();
    assert!(records.len() > 1000, "only {} records", records.len());
    assert!(
        later <= 1,
        "{later} records written after the call and its margin were read"
    );
}

/// The verifier gives up when a signal is pending for the thread that loads: loading
/// holds signals, so a thread that is sent signals all the while still loads the probe,
/// and the signals arrive afterwards.
#[tokio::test]
async fn signals_sent_while_loading_do_not_stop_it() {
    static HANDLED: AtomicU32 = AtomicU32::new(0);
    extern "C" fn count(_: libc::c_int) {
        HANDLED.fetch_add(1, Ordering::Relaxed);
    }
    // SAFETY: the handler only touches an atomic; SIGUSR1 is used by no other test here.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = count as *const () as usize;
        assert_eq!(
            libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut()),
            0
        );
    }
    let (pid, tid) = (std::process::id() as libc::pid_t, rustix::thread::gettid());
    let loaded = Arc::new(AtomicBool::new(false));
    let sender = std::thread::spawn({
        let loaded = loaded.clone();
        move || {
            let mut sent = 0_u32;
            while !loaded.load(Ordering::Relaxed) {
                // SAFETY: a plain syscall; the target is this process's loading thread.
                unsafe {
                    libc::syscall(
                        libc::SYS_tgkill,
                        pid,
                        tid.as_raw_nonzero().get(),
                        libc::SIGUSR1,
                    )
                };
                sent += 1;
                std::thread::sleep(Duration::from_micros(20));
            }
            sent
        }
    });
    let probe = Probe::load(&ProbeOptions::default());
    loaded.store(true, Ordering::Relaxed);
    let sent = sender.join().unwrap();
    assert!(probe.is_ok(), "{:#}", probe.err().unwrap());
    assert!(sent > 10, "only {sent} signals were sent while loading");
    assert!(
        HANDLED.load(Ordering::Relaxed) > 0,
        "the held signal never arrived"
    );
}
