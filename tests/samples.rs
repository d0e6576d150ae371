//! Live samples of real processes: a busy loop's CPU share, memory a child touched, the
//! task iterator and /proc agreeing, `--backend procfs`, `--sample-interval 0` and a bad
//! interval, through the real binary and the library.

use std::{
    io::{BufRead, BufReader},
    os::unix::process::CommandExt,
    process::{Child, ChildStdin, Command, Stdio},
};

use forkwatch::{
    clock,
    event::{Event, Kind, Sample, Sampled},
    proc::sample::ProcSampler,
    source::ebpf::{Probe, ProbeOptions},
};

const BIN: &str = env!("CARGO_BIN_EXE_forkwatch-tui");
const WORKLOAD: &str = env!("CARGO_BIN_EXE_forkwatch-workload");

/// A workload child that runs until its stdin is closed (dropped with it).
struct Workload {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Workload {
    /// Starts `forkwatch-workload ARGS`, at nice -20 if `first`; with `ready`, waits for
    /// that line on its stdout.
    fn start(args: &[&str], ready: Option<&str>, first: bool) -> Self {
        let mut command = Command::new(WORKLOAD);
        command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        if first {
            // SAFETY: setpriority is async-signal-safe; its threads inherit the priority.
            unsafe {
                command.pre_exec(|| match libc::setpriority(libc::PRIO_PROCESS, 0, -20) {
                    0 => Ok(()),
                    _ => Err(std::io::Error::last_os_error()),
                })
            };
        }
        let mut child = command.spawn().unwrap();
        if let Some(ready) = ready {
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut line)
                .unwrap();
            assert!(line.starts_with(ready), "{line}");
        }
        let stdin = child.stdin.take();
        Self { child, stdin }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Workload {
    fn drop(&mut self) {
        drop(self.stdin.take());
        self.child.wait().unwrap();
    }
}

/// The first `count` samples of `pid` that `events --kinds sample --json` prints with
/// these arguments.
fn samples_of(pid: u32, count: usize, args: &[&str]) -> Vec<Event> {
    let mut events = Command::new(BIN)
        .args(["events", "--kinds", "sample", "--json"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut found = Vec::new();
    let mut lines = BufReader::new(events.stdout.take().unwrap()).lines();
    while found.len() < count {
        let line = lines.next().expect("events goes on printing").unwrap();
        let event: Event = serde_json::from_str(&line).unwrap();
        assert!(matches!(event.kind, Kind::Sample(_)), "{line}");
        if event.pid == pid {
            found.push(event);
        }
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(events.id() as i32, libc::SIGINT) };
    events.wait().unwrap();
    found
}

fn sample(event: &Event) -> Sample {
    match event.kind {
        Kind::Sample(sample) => sample,
        _ => panic!("not a sample: {event:?}"),
    }
}

/// The CPU shares between consecutive samples, in tenths of a percent of one CPU.
fn shares(events: &[Event]) -> Vec<u32> {
    let mut before: Option<Sampled> = None;
    let mut shares = Vec::new();
    for event in events {
        let now = Sampled::after(before.as_ref(), event.ts_ns, sample(event));
        shares.extend(now.cpu_permille);
        before = Some(now);
    }
    shares
}

/// A busy loop uses a whole CPU: some interval between two samples shows at least 80% of
/// one, though the loop is not in the main thread. It runs at the highest priority (nice
/// -20), so that the machine's other work (other tests, builds) takes little of its CPU.
/// Through the task iterator (eBPF) and through /proc (procfs).
#[test]
fn a_busy_loop_shows_most_of_a_cpu() {
    let spin = Workload::start(&["spin"], None, true);
    for args in [
        &["--backend", "ebpf", "--sample-interval", "0.2"][..],
        &["--backend", "procfs", "--sample-interval", "0.3"],
    ] {
        let samples = samples_of(spin.pid(), 12, args);
        let shares = shares(&samples);
        let best = shares.iter().max().copied().unwrap_or_default();
        assert!(best >= 800, "{args:?}: shares {shares:?}");
        // The main thread waits for stdin to end; the loop runs in the other.
        assert_eq!(sample(samples.last().unwrap()).threads, 2, "{samples:?}");
    }
}

fn vm_rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    kib * 1024
}

/// A child that touched 200 MiB shows them resident, within 10% of its VmRSS, through
/// either path.
#[test]
fn memory_a_child_touched_shows_as_resident() {
    let touch = Workload::start(&["touch", "200"], Some("touched"), false);
    let vm_rss = vm_rss_bytes(touch.pid());
    assert!(vm_rss >= 200 << 20, "{vm_rss}");
    for backend in ["ebpf", "procfs"] {
        let samples = samples_of(touch.pid(), 1, &["--backend", backend]);
        let rss = sample(&samples[0]).rss_bytes;
        assert!(
            rss.abs_diff(vm_rss) <= vm_rss / 10,
            "{backend}: {rss} vs VmRSS {vm_rss}"
        );
    }
}

/// For one process, the task iterator reads the same resident memory as /proc's stat (the
/// same counters), and CPU time within /proc's clock ticks of it.
#[tokio::test]
async fn the_iterator_and_proc_agree_for_one_process() {
    let touch = Workload::start(&["touch", "64"], Some("touched"), false);
    let pid = touch.pid();
    let mut probe = Probe::load(&ProbeOptions {
        samples: true,
        ..ProbeOptions::default()
    })
    .unwrap();
    let mut iterator = probe
        .take_task_iterator()
        .expect("asked for")
        .expect("the task iterator runs here");
    let mut events = Vec::new();
    iterator.round(clock::boottime_ns(), &mut events).unwrap();
    let from_iterator = sample(events.iter().find(|e| e.pid == pid).unwrap());
    let mut through_proc = Vec::new();
    ProcSampler::new(16).round(&mut through_proc).unwrap();
    let from_proc = through_proc.iter().find(|s| s.pid == pid).unwrap().sample();

    assert_eq!(from_iterator.rss_bytes, from_proc.rss_bytes);
    assert_eq!(from_iterator.threads, from_proc.threads);
    assert_eq!(from_iterator.state, from_proc.state);
    let tick = clock::ticks_to_ns(1);
    assert!(
        from_iterator.cpu_ns.abs_diff(from_proc.cpu_ns) <= 2 * tick,
        "{} vs {}",
        from_iterator.cpu_ns,
        from_proc.cpu_ns
    );
    // Every process /proc lists is sampled, pid 1 included.
    assert!(events.iter().any(|e| e.pid == 1));
    assert!(events.iter().any(|e| e.pid == std::process::id()));
}

/// `--sample-interval 0` takes no samples, even asked for by kind; the default takes
/// them, and the log says how.
#[test]
fn an_interval_of_zero_takes_no_samples() {
    let dir = std::env::temp_dir().join(format!("fw-samples-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |interval: &str| {
        let log = dir.join(format!("{interval}.log"));
        let out = Command::new(BIN)
            .args(["events", "--kinds", "sample", "--json", "--duration", "1.5"])
            .args(["--sample-interval", interval, "--log"])
            .arg(&log)
            .output()
            .unwrap();
        assert!(out.status.success());
        let log = std::fs::read_to_string(&log).unwrap();
        (out.stdout.lines().count(), log)
    };
    let (lines, log) = run("0");
    assert_eq!(lines, 0, "{log}");
    assert!(!log.contains("sampling processes"), "{log}");
    let (lines, log) = run("1");
    assert!(lines > 0, "{log}");
    assert!(
        log.contains("samples: eBPF task iterator every 1s"),
        "{log}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A bad interval is refused before anything runs: one error line, a non-zero exit.
#[test]
fn a_bad_interval_is_one_line_and_a_failure() {
    for (args, expected) in [
        (
            &["events", "--sample-interval", "soon"][..],
            "not a number of seconds",
        ),
        (
            &["watch", "1", "--sample-interval", "0.001"],
            "at least 0.01 seconds",
        ),
        (
            &["record", "-o", "/dev/null", "--sample-interval=-1"],
            "not a positive number",
        ),
        (
            &["--sample-interval", "NaN"],
            "not a positive number of seconds",
        ),
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "{args:?}: {stderr}");
        assert!(errors[0].contains(expected), "{args:?}: {stderr}");
    }
}
