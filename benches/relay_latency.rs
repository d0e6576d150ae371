//! Relay latency: from an event's kernel timestamp (`ts_ns`, CLOCK_BOOTTIME) to the moment
//! the receiver's sigwaitinfo returns, at a steady 1,000 relayed forks per second, with
//! signals sent from user space and then by the probe in the kernel (`path=kernel`), one
//! line each; then the floor under both: a signal queued by a process straight to a
//! receiver. Needs root (it loads the probe).
//!
//! ```sh
//! sudo cargo bench --bench relay_latency -- [SECONDS [WAKEUP_GAP_US]]
//! ```
//!
//! 5 seconds per path by default, with the probe's wakeup gap that the `relay` command uses.

// Of these two only a receiver serves here.
#[allow(dead_code)]
#[path = "../tests/common/holder.rs"]
mod holder;
#[allow(dead_code)]
#[path = "../tests/common/receiver.rs"]
mod receiver;

use std::{
    process::ExitCode,
    slice,
    time::{Duration, Instant},
};

use forkwatch::{
    event::Kind,
    relay::{self, Targets},
    source::{BackendChoice, Feed, LiveOptions, Source, ebpf::ProbeOptions},
    tracker::{
        Tracker,
        rules::{RtSignal, SendPath},
    },
};
use receiver::{Received, Receiver};

const RATE_PER_SECOND: u64 = 1_000;
/// Signals from the first moments (probe and caches warming up) are not counted.
const WARM_UP: Duration = Duration::from_millis(300);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let seconds: f64 = args
        .first()
        .map_or(5.0, |a| a.parse().expect("SECONDS is a number"));
    let duration = Duration::from_secs_f64(seconds);
    let wakeup_gap = args.get(1).map_or(relay::WAKEUP_GAP, |a| {
        Duration::from_micros(a.parse().expect("WAKEUP_GAP_US is a number"))
    });

    // All are forked before any thread exists.
    let signal = RtSignal::default();
    let receivers = [
        Receiver::spawn(signal.number()),
        Receiver::spawn(signal.number()),
    ];
    let floor_receiver = Receiver::spawn(signal.number());
    let forker = Forker::start();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let probe_options = ProbeOptions {
        wakeup_gap,
        ..ProbeOptions::default()
    };
    for (receiver, path) in receivers
        .into_iter()
        .zip([SendPath::User, SendPath::Kernel])
    {
        let run = measure(duration, &probe_options, receiver, &forker, signal, path);
        if let Err(e) = runtime.block_on(run) {
            eprintln!("relay_latency: {e:#}");
            return ExitCode::FAILURE;
        }
    }
    forker.stop();
    floor(duration, floor_receiver, signal);
    ExitCode::SUCCESS
}

async fn measure(
    duration: Duration,
    probe_options: &ProbeOptions,
    mut receiver: Receiver,
    forker: &Forker,
    signal: RtSignal,
    path: SendPath,
) -> anyhow::Result<()> {
    let live = LiveOptions {
        backend: BackendChoice::Ebpf,
        probe: ProbeOptions {
            kernel_relay: path == SendPath::Kernel,
            ..probe_options.clone()
        },
        ..LiveOptions::default()
    };
    let (mut source, _) = Source::open_live(&live)?;
    // A tracker without a process tree, as the `relay` command's for a pid.
    let mut tracker = Tracker::without_tree();
    let mut targets = Targets::with_kernel_relay(source.take_kernel_relay());
    let spec = format!(
        "to={}:pid={}:kinds=fork:signal={signal}:path={}",
        receiver.pid(),
        forker.pid,
        path.as_str()
    );
    targets.add_rule(
        &mut tracker,
        spec.parse().map_err(anyhow::Error::msg)?,
        &mut Vec::new(),
    )?;

    // The pipe from the receiver holds about 2,000 records: read it while relaying.
    let reader = std::thread::spawn(move || {
        let mut received = Vec::new();
        while let Some(r) = receiver.next(Duration::from_secs(1)) {
            received.push(r);
        }
        received
    });

    let relayed = relay_for(
        duration,
        &mut source,
        &mut tracker,
        &mut targets,
        forker.pid,
    )
    .await?;
    targets.count_in_kernel(&mut tracker, true);
    let rule = &tracker.relays().rules()[0];
    let undelivered = rule.undelivered();
    let lost = tracker.relays().lost();
    let sender = rule.sender().to_string();
    // The receiver's reader ends a second after the last signal.
    drop(targets);
    drop(source);
    let received: Vec<Received> = reader.join().unwrap();

    let latencies = latencies(&relayed, &received);
    anyhow::ensure!(!latencies.is_empty(), "no signal was relayed");
    println!(
        "relay latency ({sender}), kernel event to sigwaitinfo return, {} forks at {RATE_PER_SECOND}/s over {:.1}s \
         (first {}ms not counted, probe wakeup gap {}us): {}; \
         {} relayed, {} received, {undelivered} undelivered, {lost} events lost",
        latencies.len(),
        duration.as_secs_f64(),
        WARM_UP.as_millis(),
        probe_options.wakeup_gap.as_micros(),
        percentiles(latencies),
        relayed.len(),
        received.len(),
    );
    Ok(())
}

/// From each relayed fork's kernel time to its signal's arrival, the first moments left
/// out. By child: the probe signals forks from the moment the rule is in its map, which
/// may be after the first forks were read.
fn latencies(relayed: &[(u32, u64)], received: &[Received]) -> Vec<u64> {
    let warm = relayed.first().map_or(0, |&(_, ts)| ts) + WARM_UP.as_nanos() as u64;
    let forked: std::collections::HashMap<i32, u64> =
        relayed.iter().map(|&(pid, ts)| (pid as i32, ts)).collect();
    received
        .iter()
        .filter_map(|r| Some((forked.get(&r.value)?, r)))
        .filter(|(ts, _)| **ts >= warm)
        .map(|(ts, r)| r.at_ns.saturating_sub(*ts))
        .collect()
}

/// `p50 Nus, p99 Nus, max Nus` of latencies in nanoseconds.
fn percentiles(mut latencies: Vec<u64>) -> String {
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize] / 1_000;
    format!("p50 {}us, p99 {}us, max {}us", at(0.50), at(0.99), at(1.0))
}

/// The floor under both paths on this machine: a signal queued by a process straight to a
/// receiver waiting in sigwaitinfo, 1,000 a second, from sigqueue to sigwaitinfo's return
/// (the receiver's wakeup and scheduling, which any relay pays too).
fn floor(duration: Duration, mut receiver: Receiver, signal: RtSignal) {
    let pid = receiver.pid() as libc::pid_t;
    let reader = std::thread::spawn(move || {
        let mut received = Vec::new();
        while let Some(r) = receiver.next(Duration::from_secs(1)) {
            received.push(r);
        }
        received
    });
    let started = Instant::now();
    let mut queued = Vec::new();
    while started.elapsed() < duration {
        let at_ns = forkwatch::clock::boottime_ns();
        let value = libc::sigval {
            sival_ptr: queued.len() as *mut libc::c_void,
        };
        // SAFETY: sigqueue to our own child.
        unsafe { libc::sigqueue(pid, signal.number(), value) };
        queued.push(at_ns);
        std::thread::sleep(Duration::from_millis(1));
    }
    let received = reader.join().unwrap();
    let latencies: Vec<u64> = received
        .iter()
        .filter_map(|r| Some(r.at_ns.saturating_sub(*queued.get(r.value as usize)?)))
        .collect();
    println!(
        "floor: sigqueue to sigwaitinfo return, {} signals at {RATE_PER_SECOND}/s: {}",
        latencies.len(),
        percentiles(latencies)
    );
}

/// Relays for `duration` as the `relay` command does: each event applied to the tracker,
/// then the signals it calls for sent. Returns the forks of `forker` seen: the child and
/// the event's kernel timestamp.
async fn relay_for(
    duration: Duration,
    source: &mut Source,
    tracker: &mut Tracker,
    targets: &mut Targets,
    forker: u32,
) -> anyhow::Result<Vec<(u32, u64)>> {
    let started = Instant::now();
    let mut batch = Vec::new();
    let mut relayed = Vec::new();
    let mut notices = Vec::new();
    while started.elapsed() < duration {
        source.next_batch(&mut batch).await?;
        for event in batch.drain(..) {
            let outcome = tracker.apply(slice::from_ref(&event));
            notices.extend(outcome.notices);
            targets.perform(tracker, &outcome.effects, &mut notices);
            if matches!(event.kind, Kind::Fork) && event.ppid == forker {
                relayed.push((event.pid, event.ts_ns));
            }
        }
    }
    Ok(relayed)
}

/// A forked process that forks a short-lived child every millisecond.
struct Forker {
    pid: u32,
}

impl Forker {
    fn start() -> Self {
        // SAFETY: a fork; the child runs only raw system calls and never returns.
        let pid = unsafe { clone() };
        if pid == 0 {
            // SAFETY: in the new process.
            unsafe { fork_forever() }
        }
        assert!(pid > 0, "cannot fork");
        Self { pid: pid as u32 }
    }

    fn stop(&self) {
        // SAFETY: our child, reaped here.
        unsafe {
            libc::kill(self.pid as libc::pid_t, libc::SIGKILL);
            libc::waitpid(self.pid as libc::pid_t, std::ptr::null_mut(), 0);
        }
    }
}

/// fork(2) as a raw clone3, which every architecture has.
unsafe fn clone() -> libc::c_long {
    // SAFETY: clone_args is plain integers; a fork needs only the exit signal.
    unsafe {
        let mut args: libc::clone_args = std::mem::zeroed();
        args.exit_signal = libc::SIGCHLD as u64;
        libc::syscall(
            libc::SYS_clone3,
            &args as *const libc::clone_args,
            size_of::<libc::clone_args>(),
        )
    }
}

unsafe fn fork_forever() -> ! {
    unsafe {
        libc::syscall(libc::SYS_prctl, libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        let period_ns = 1_000_000_000 / RATE_PER_SECOND as i64;
        let mut next: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut next);
        loop {
            next.tv_nsec += period_ns;
            if next.tv_nsec >= 1_000_000_000 {
                next.tv_nsec -= 1_000_000_000;
                next.tv_sec += 1;
            }
            libc::clock_nanosleep(
                libc::CLOCK_MONOTONIC,
                libc::TIMER_ABSTIME,
                &next,
                std::ptr::null_mut(),
            );
            match clone() {
                0 => {
                    libc::syscall(libc::SYS_exit_group, 0);
                }
                pid if pid > 0 => {
                    libc::waitpid(pid as libc::pid_t, std::ptr::null_mut(), 0);
                }
                _ => {}
            }
        }
    }
}
