//! A busy machine for benchmarks: a /proc snapshot of many processes and a parallel
//! build's stream of events; and how to measure memory and CPU time.

use std::time::Instant;

use forkwatch::{
    clock,
    event::{Argv, Comm, Creds, Event, ExitStatus, Kind},
    proc::snapshot::ProcessInfo,
};

pub const MS: u64 = 1_000_000;
pub const PID_MAX: u32 = 32_768;

/// Makes events the way a busy machine does: a parallel build whose jobs fork, exec with
/// a compiler's argv, start and end threads, sometimes run a helper, and exit; pids wrap.
pub struct Workload {
    now: u64,
    /// Time between two events.
    step_ns: u64,
    next_pid: u32,
    running: Vec<Job>,
    out: Vec<Event>,
}

struct Job {
    pid: u32,
    start: u64,
    /// Events still to emit, oldest first.
    steps: u8,
}

pub fn event(pid: u32, ppid: u32, start: u64, ts: u64, comm: &str, kind: Kind) -> Event {
    Event {
        ts_ns: ts,
        pid,
        tid: pid,
        ppid,
        start_ns: start,
        comm: Comm::from(comm),
        creds: Some(Creds {
            uid: 1000,
            euid: 1000,
            gid: 1000,
            egid: 1000,
        }),
        cgroup_id: Some(42),
        pid_ns: None,
        cgroup: None,
        kernel_thread: false,
        kind,
    }
}

impl Workload {
    /// Starts at `now` (CLOCK_BOOTTIME nanoseconds), one event every `step_ns`.
    pub fn new(now: u64, step_ns: u64) -> Self {
        Self {
            now,
            step_ns,
            next_pid: 20_000,
            running: Vec::new(),
            out: Vec::new(),
        }
    }

    /// The next free pid; it wraps past the snapshot's processes, which stay alive.
    fn pid(&mut self) -> u32 {
        self.next_pid = if self.next_pid + 1 >= PID_MAX {
            10_400
        } else {
            self.next_pid + 1
        };
        self.next_pid
    }

    /// Appends `count` events, keeping `parallel` jobs under `make_pid`.
    pub fn generate(&mut self, count: usize, make_pid: u32, parallel: usize) -> Vec<Event> {
        self.out.clear();
        let mut n = 0u64;
        while self.out.len() < count {
            self.now += self.step_ns;
            n += 1;
            if self.running.len() < parallel {
                self.start_job(make_pid);
            } else {
                self.step_job((n as usize * 7) % self.running.len(), n, make_pid);
            }
        }
        std::mem::take(&mut self.out)
    }

    /// Make forks a job.
    fn start_job(&mut self, make_pid: u32) {
        let pid = self.pid();
        self.running.push(Job {
            pid,
            start: self.now,
            steps: 0,
        });
        self.out
            .push(event(pid, make_pid, self.now, self.now, "make", Kind::Fork));
    }

    /// The next event of running job `i`, at the `n`th turn: its exec, two threads
    /// started and ended, a helper (one job in four), its exit.
    fn step_job(&mut self, i: usize, n: u64, make_pid: u32) {
        let (pid, start, step) = {
            let job = &mut self.running[i];
            job.steps += 1;
            (job.pid, job.start, job.steps)
        };
        let now = self.now;
        let e = |kind| event(pid, make_pid, start, now, "cc", kind);
        match step {
            1 => {
                let file = format!("src/module_{pid}/file_{n}.c");
                self.out.push(e(Kind::Exec {
                    filename: "/usr/bin/cc".into(),
                    argv: Argv::from_args(["cc", "-O2", "-g", "-Wall", "-c", &file, "-o", "out.o"]),
                    argv_truncated: false,
                    filename_truncated: false,
                    argv_unreadable: false,
                }));
            }
            2 | 3 => self.out.push(Event {
                tid: pid + 10_000 * u32::from(step),
                ..e(Kind::ThreadStart)
            }),
            4 | 5 => self.out.push(Event {
                tid: pid + 10_000 * u32::from(step - 2),
                ..e(Kind::ThreadExit)
            }),
            6 if pid % 4 == 0 => self.run_helper(pid),
            6 => {}
            _ => {
                self.out.push(e(Kind::Exit(ExitStatus::Code(0), None)));
                self.running.swap_remove(i);
            }
        }
    }

    /// A helper of job `parent`: fork, exec, exit.
    fn run_helper(&mut self, parent: u32) {
        let helper = self.pid();
        let t = self.now;
        self.out.push(event(helper, parent, t, t, "cc", Kind::Fork));
        self.out.push(event(
            helper,
            parent,
            t,
            t + 1_000,
            "as",
            Kind::Exec {
                filename: "/usr/bin/as".into(),
                argv: Argv::from_args(["as", "-o", "out.o", "-"]),
                argv_truncated: false,
                filename_truncated: false,
                argv_unreadable: false,
            },
        ));
        self.out.push(event(
            helper,
            parent,
            t,
            t + 2_000,
            "as",
            Kind::Exit(ExitStatus::Code(0), None),
        ));
    }
}

/// A machine as /proc shows it: init, kernel threads, and `users` user processes spread
/// over shells and services.
pub fn snapshot(users: u32, now: u64) -> Vec<ProcessInfo> {
    let tick = |ns: u64| clock::ticks_to_ns(clock::start_ticks(ns));
    let info = |pid: u32, ppid: u32, start: u64, comm: &str, argv: Vec<String>| ProcessInfo {
        pid,
        ppid,
        start_ns: tick(start),
        comm: Comm::from(comm),
        argv: Argv::from_args(argv),
        argv_truncated: false,
        creds: Creds::default(),
        state: 'S',
        kernel_thread: false,
        threads: 1,
        pid_ns: None,
        cgroup: None,
        sampled: None,
    };
    let mut procs = vec![
        info(1, 0, 0, "systemd", vec!["/sbin/init".into()]),
        ProcessInfo {
            kernel_thread: true,
            ..info(2, 0, 0, "kthreadd", vec![])
        },
    ];
    for k in 0..200 {
        procs.push(ProcessInfo {
            kernel_thread: true,
            ..info(3 + k, 2, 0, &format!("kworker/{k}:1"), vec![])
        });
    }
    // Services under init with 49 children each; the last process is the build's make.
    let mut parent = 1;
    for i in 0..users {
        let pid = 300 + i;
        let start = now - (users - i) as u64 * 50 * MS;
        let ppid = if i % 50 == 0 { 1 } else { parent };
        if i % 50 == 0 {
            parent = pid;
        }
        let argv = vec![
            format!("/usr/lib/service-{}", i / 50),
            "--config".into(),
            format!("/etc/service/{i}.conf"),
            "--verbose".into(),
        ];
        procs.push(info(pid, ppid, start, &format!("svc{i}"), argv));
    }
    procs
}

pub fn rss_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * 4096.0 / (1 << 20) as f64
}

/// CPU time of this thread: on a busy machine, a steadier measure than the wall clock.
pub fn cpu_secs() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write into.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// Runs `f` and returns its (wall, CPU) seconds.
pub fn timed(f: impl FnOnce()) -> (f64, f64) {
    let (wall, cpu) = (Instant::now(), cpu_secs());
    f();
    (wall.elapsed().as_secs_f64(), cpu_secs() - cpu)
}
