//! `forkwatch-tui wait PID...`: the shell's `wait`, for any process, not only children
//! (kmonitor's `wait_on_pid`).
//!
//! The event source starts before any pid is checked, so an exit after the check is in its
//! stream. A process already dead when checked (a zombie nobody reaped yet, or one whose
//! exit the source caught) is reported at once, never waited on. Each process is also held
//! by a pidfd: if its exit event is lost, the pidfd still says it exited.

use std::{collections::HashMap, process::ExitCode, time::Duration};

use anyhow::{Result, bail};

use crate::{
    event::{Comm, Event, ExitStatus, Kind, ProcessKey},
    pidfd::PidFd,
    privileges, proc,
    signals::StopSignals,
    source::{Feed, LiveOptions, Source, Subtree},
    text,
};

/// The exit code when a pid names no process, as the shell's `wait` gives.
const NO_SUCH_PROCESS: u8 = 127;
/// The exit code when a process exited but how is unknown (see `--help`).
const STATUS_UNKNOWN: u8 = 255;
/// How long an exit event may trail the pidfd saying the process exited, before the
/// status is given up as unknown (the event was lost).
const EVENT_GRACE: Duration = Duration::from_millis(500);

/// One process being waited for.
struct Waited {
    key: ProcessKey,
    comm: Comm,
    pidfd: PidFd,
    status: Option<ExitStatus>,
}

/// Waits for every one of `pids` to exit; exits as the last one did.
pub async fn run(live: LiveOptions, pids: &[u32]) -> Result<ExitCode> {
    let mut stop = StopSignals::catch()?;
    let (mut source, selection) = Source::open_live(&live)?;
    let mut finished: HashMap<u32, ExitStatus> = HashMap::new();
    let Some(waited) = check_all(pids, &mut source, &mut finished) else {
        return Ok(ExitCode::from(NO_SUCH_PROCESS));
    };
    // Only their exits matter: the kernel may send only the events of their subtrees
    // (the smallest it can follow), which it finds in /proc.
    let subtrees: Vec<Subtree> = waited
        .iter()
        .map(|w| Subtree {
            root: w.key,
            members: Vec::new(),
        })
        .collect();
    let filtering = source.follow_only(&subtrees);
    // A zombie's exit code, read above, was the last look at another user's process.
    privileges::keep_only(selection.backend.privileges_to_read())?;

    if !waited.is_empty() {
        eprintln!(
            "forkwatch-tui: waiting for {} with {}, {}",
            plural(waited.len(), "process", "processes"),
            selection.summary(),
            text::escape_str(&filtering.to_string())
        );
        super::print_notices(&selection);
    }
    if !wait_all(waited, &mut source, &mut stop, &mut finished).await? {
        return Ok(ExitCode::from(130));
    }
    let last = pids.last().expect("the command line requires a pid");
    Ok(match finished.get(last).and_then(|s| s.shell_status()) {
        Some(code) => ExitCode::from(code.clamp(0, 255) as u8),
        None => ExitCode::from(STATUS_UNKNOWN),
    })
}

/// Opens each pid for waiting, and reports those already dead (into `finished`). `None`
/// if one names no process, which is said.
fn check_all(
    pids: &[u32],
    source: &mut Source,
    finished: &mut HashMap<u32, ExitStatus>,
) -> Option<Vec<Waited>> {
    let mut batch = Vec::new();
    let mut waited = Vec::new();
    for &pid in pids {
        match check(pid) {
            Ok(process) => waited.push(process),
            Err(e) => {
                // It may have exited since the source started: then its exit is queued.
                source.finish(&mut batch);
                let exit = batch.iter().rev().find_map(|e| match e.kind {
                    Kind::Exit(status, _) if e.pid == pid => Some((e.comm, status)),
                    _ => None,
                });
                let Some((comm, status)) = exit else {
                    eprintln!("forkwatch-tui: {e:#}");
                    return None;
                };
                report(pid, comm, status);
                finished.insert(pid, status);
            }
        }
    }
    settle(&mut waited, &batch);
    for process in waited.iter_mut().filter(|p| p.pidfd.has_exited()) {
        if let Some(status) = zombie_status(process.key.pid) {
            process.status.get_or_insert(status);
        }
    }
    report_finished(&mut waited, finished);
    Some(waited)
}

/// Waits until every process in `waited` has finished, reporting each; `false` if
/// interrupted first.
async fn wait_all(
    mut waited: Vec<Waited>,
    source: &mut Source,
    stop: &mut StopSignals,
    finished: &mut HashMap<u32, ExitStatus>,
) -> Result<bool> {
    let mut batch = Vec::new();
    while !waited.is_empty() {
        tokio::select! {
            more = source.next_batch(&mut batch) => {
                if !more? {
                    bail!("the event source ended");
                }
            }
            () = any_exited(&waited) => {
                // Its exit event should be on its way; give the source a moment.
                let grace = tokio::time::sleep(EVENT_GRACE);
                tokio::pin!(grace);
                loop {
                    tokio::select! {
                        more = source.next_batch(&mut batch) => { more?; }
                        () = &mut grace => break,
                    }
                    settle(&mut waited, &batch);
                    batch.clear();
                    if waited.iter().all(|p| !p.pidfd.has_exited() || p.status.is_some()) {
                        break;
                    }
                }
                for process in waited.iter_mut().filter(|p| p.pidfd.has_exited()) {
                    process.status.get_or_insert(ExitStatus::Unknown);
                }
            }
            () = stop.recv() => {
                eprintln!(
                    "forkwatch-tui: interrupted while waiting for {}",
                    plural(waited.len(), "process", "processes")
                );
                return Ok(false);
            }
        }
        settle(&mut waited, &batch);
        batch.clear();
        report_finished(&mut waited, finished);
    }
    Ok(true)
}

/// Opens `pid` for waiting: it must exist and be a process.
fn check(pid: u32) -> Result<Waited> {
    let pidfd = PidFd::open(pid)?;
    // Its stat is all that is needed: its identity and name.
    let Some(stat) = proc::stat::read(pid) else {
        bail!("no process with pid {pid}");
    };
    Ok(Waited {
        key: ProcessKey {
            pid,
            start_ticks: stat.start_ticks,
        },
        comm: stat.comm,
        pidfd,
        status: None,
    })
}

/// The exit status of a zombie, from /proc (readable by root and by its owner).
fn zombie_status(pid: u32) -> Option<ExitStatus> {
    proc::stat::zombie_wait_status(pid).map(ExitStatus::from_wait_status)
}

/// Records the exit events in `events` that end processes being waited for.
fn settle(waited: &mut [Waited], events: &[Event]) {
    for event in events {
        let Kind::Exit(status, _) = event.kind else {
            continue;
        };
        for process in waited.iter_mut() {
            if process.key == ProcessKey::of(event) {
                process.status = Some(status);
                process.comm = event.comm;
            }
        }
    }
}

/// Prints and removes the processes whose status is known, in the order they finished.
fn report_finished(waited: &mut Vec<Waited>, finished: &mut HashMap<u32, ExitStatus>) {
    waited.retain(|process| match process.status {
        Some(status) => {
            report(process.key.pid, process.comm, status);
            finished.insert(process.key.pid, status);
            false
        }
        None => true,
    });
}

fn report(pid: u32, comm: Comm, status: ExitStatus) {
    println!("{pid} ({comm}): {status}");
}

/// Resolves when any waited-for process's pidfd says it exited.
async fn any_exited(waited: &[Waited]) {
    std::future::poll_fn(|cx| {
        for process in waited {
            if process.pidfd.poll_exit(cx).is_ready() {
                return std::task::Poll::Ready(());
            }
        }
        std::task::Poll::Pending
    })
    .await
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
