//! Process model figures: apply rate on a realistic mix of events, resident memory with
//! 10,000 live processes and the default history, and the cost of the tree's rows; then
//! the apply rate with pins following the build and a quiet service.
//! `cargo bench --bench model` prints them; the targets are 1,000,000 events/s, 100 MiB
//! and a fraction of a 5 ms frame.

use std::{hint::black_box, time::Instant};

use forkwatch::{
    clock,
    event::{Comm, Creds, Event, ExitStatus, Kind},
    model::{Model, TreeOptions, TreeView},
    pins::Pins,
    snapshot::ProcessInfo,
};

const MS: u64 = 1_000_000;
const PID_MAX: u32 = 32_768;

/// Makes events the way a busy machine does: a parallel build whose jobs fork, exec with
/// a compiler's argv, start and end threads, sometimes run a helper, and exit; pids wrap.
struct Workload {
    now: u64,
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

fn event(pid: u32, ppid: u32, start: u64, ts: u64, comm: &str, kind: Kind) -> Event {
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
        kernel_thread: false,
        kind,
    }
}

impl Workload {
    fn new(now: u64) -> Self {
        Self {
            now,
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
    fn generate(&mut self, count: usize, make_pid: u32, parallel: usize) -> Vec<Event> {
        self.out.clear();
        let mut n = 0u64;
        while self.out.len() < count {
            self.now += 5_000;
            n += 1;
            if self.running.len() < parallel {
                let pid = self.pid();
                self.running.push(Job {
                    pid,
                    start: self.now,
                    steps: 0,
                });
                self.out
                    .push(event(pid, make_pid, self.now, self.now, "make", Kind::Fork));
                continue;
            }
            let i = (n as usize * 7) % self.running.len();
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
                        argv: ["cc", "-O2", "-g", "-Wall", "-c", &file, "-o", "out.o"]
                            .map(String::from)
                            .to_vec(),
                        argv_truncated: false,
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
                6 if pid % 4 == 0 => {
                    // A helper: fork, exec, exit.
                    let helper = self.pid();
                    let t = self.now;
                    self.out.push(event(helper, pid, t, t, "cc", Kind::Fork));
                    self.out.push(event(
                        helper,
                        pid,
                        t,
                        t + 1_000,
                        "as",
                        Kind::Exec {
                            filename: "/usr/bin/as".into(),
                            argv: ["as", "-o", "out.o", "-"].map(String::from).to_vec(),
                            argv_truncated: false,
                        },
                    ));
                    self.out.push(event(
                        helper,
                        pid,
                        t,
                        t + 2_000,
                        "as",
                        Kind::Exit(ExitStatus::Code(0)),
                    ));
                }
                6 => {}
                _ => {
                    self.out.push(e(Kind::Exit(ExitStatus::Code(0))));
                    self.running.swap_remove(i);
                }
            }
        }
        std::mem::take(&mut self.out)
    }
}

/// A machine as /proc shows it: init, kernel threads, and `users` user processes spread
/// over shells and services.
fn snapshot(users: u32, now: u64) -> Vec<ProcessInfo> {
    let tick = |ns: u64| clock::ticks_to_ns(clock::start_ticks(ns));
    let info = |pid: u32, ppid: u32, start: u64, comm: &str, argv: Vec<String>| ProcessInfo {
        pid,
        ppid,
        start_ns: tick(start),
        comm: Comm::from(comm),
        argv,
        creds: Creds::default(),
        state: 'S',
        kernel_thread: false,
        threads: 1,
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

fn rss_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * 4096.0 / (1 << 20) as f64
}

/// CPU time of this thread: on a busy machine, a steadier measure than the wall clock.
fn cpu_secs() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write into.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// Runs `f` and returns its (wall, CPU) seconds.
fn timed(f: impl FnOnce()) -> (f64, f64) {
    let (wall, cpu) = (Instant::now(), cpu_secs());
    f();
    (wall.elapsed().as_secs_f64(), cpu_secs() - cpu)
}

fn main() {
    let now = 3_600_000 * MS;
    // The snapshot's last process: the build's make.
    let make_pid = 300 + 9_999;

    // Resident memory, first, while nothing else has been allocated: 10,000 live
    // processes, and enough churn to fill the tree's lingering exits and the history.
    let before = rss_mib();
    let mut model = Model::default();
    model.seed(&snapshot(10_000, now));
    let mut workload = Workload::new(now);
    for _ in 0..20 {
        for e in workload.generate(50_000, make_pid, 16) {
            model.apply(&e);
        }
    }
    let counts = model.counts();
    println!(
        "memory: {:.1} MiB resident ({:.1} MiB more than before the model) with {} alive, \
         {} exited in the tree, {} in the history",
        rss_mib(),
        rss_mib() - before,
        counts.alive,
        counts.exited,
        counts.history
    );

    // The tree's rows, rebuilt after every event as under a steady stream.
    let mut view = TreeView::new();
    for filter in [None, Some("service-7")] {
        let options = TreeOptions {
            filter: filter.map(String::from),
            ..TreeOptions::default()
        };
        view.rows(&model, &options);
        let more = workload.generate(2_000, make_pid, 16);
        let mut rows = 0;
        let (wall, cpu) = timed(|| {
            for e in &more {
                model.apply(e);
                rows = view.rows(&model, &options).len();
            }
        });
        println!(
            "rows{}: {rows} rows, {:.0} us per rebuild ({:.0} us of CPU)",
            filter.map_or(String::new(), |f| format!(" filtered by `{f}`")),
            wall / more.len() as f64 * 1e6,
            cpu / more.len() as f64 * 1e6,
        );
    }
    drop(model);

    // Apply rate.
    let mut model = Model::default();
    model.seed(&snapshot(10_000, now));
    let events = Workload::new(now).generate(2_000_000, make_pid, 16);
    let (wall, cpu) = timed(|| {
        for e in &events {
            black_box(model.apply(e));
        }
    });
    println!(
        "apply: {} events, {:.2} M events/s ({:.2} M events/s of CPU)",
        events.len(),
        events.len() as f64 / wall / 1e6,
        events.len() as f64 / cpu / 1e6,
    );

    // The same with two pins: the build (every event is one of its members', and is logged)
    // and a service that does nothing.
    let mut model = Model::default();
    model.seed(&snapshot(10_000, now));
    let mut pins = Pins::default();
    for pid in [make_pid, 300] {
        pins.add_pid(&model, pid).expect("in the snapshot");
    }
    let (wall, cpu) = timed(|| {
        for e in &events {
            let applied = model.apply(e);
            black_box(pins.apply(&model, e, &applied));
        }
    });
    let build = &pins.list()[0];
    println!(
        "apply with 2 pins: {:.2} M events/s ({:.2} M events/s of CPU); the build's pin has \
         {} alive, {} joined, {} events logged",
        events.len() as f64 / wall / 1e6,
        events.len() as f64 / cpu / 1e6,
        build.alive(),
        build.counts().joined,
        build.log().len() as u64 + build.log_omitted(),
    );
}
