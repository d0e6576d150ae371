//! The terminal UI's memory under argv that costs bytes: the real binary in tmux on the
//! real kernel, while 16,000 execs of `/bin/true` with 8,000 empty arguments each run and
//! a process with 4 MB of argv sleeps. Its peak resident memory (VmHWM) must stay under
//! the bounds the README states.

#[path = "common/big_argv.rs"]
mod big_argv;
#[path = "common/shell.rs"]
mod shell;
// Only starting the UI, typing and reading the screen serve here.
#[allow(dead_code)]
#[path = "common/tmux.rs"]
mod tmux;

use std::{process::Command, time::Duration};

use big_argv::BigArgv;
use tmux::Tmux;

const WORKLOAD: &str = env!("CARGO_BIN_EXE_forkwatch-workload");
/// The UI may take this long to show what came after 16,000 execs.
const STORM_GUARD: Duration = Duration::from_secs(120);
/// The README's bounds (section "The terminal UI"), about twice what was measured: at
/// most 130 MiB resident, 64 MiB above the start (without the byte budgets: 246 MiB, 180
/// MiB above).
const BOUND_KIB: u64 = 256 * 1024;
const GROWTH_KIB: u64 = 128 * 1024;

/// The VmRSS and VmHWM of process `pid`, in KiB.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[test]
fn thousands_of_execs_with_thousands_of_arguments_keep_the_ui_under_its_bound() {
    let tmux = Tmux::start("memory");
    tmux.start_ui("");
    let ui = tmux.ui_pid();
    let (start, _) = memory(ui);
    let out = Command::new(WORKLOAD)
        .args(["execs", "16000", "8000"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // Started after the storm: once the UI shows it (filtered on its name), it has
    // applied every exec before it.
    let big = BigArgv::start();
    let marker = format!("fwbig{}", big.token);
    tmux.type_text("f", false);
    tmux.type_text(&marker, true);
    let row = format!("sh -c sleep 600; : {marker} xxxx");
    let pid = big.pid().to_string();
    let screen = tmux.wait_within(STORM_GUARD, "the 4 MB shell", |s| {
        s.contains(&format!("filter `{marker}`"))
            && s.lines()
                .any(|l| l.trim_start().starts_with(&pid) && l.contains(&row))
    });
    let (now, peak) = memory(ui);
    eprintln!("UI resident: {start} KiB at start, {now} KiB after, {peak} KiB at most");
    assert!(
        peak < BOUND_KIB && peak < start + GROWTH_KIB,
        "the UI peaked at {peak} KiB, {start} KiB at start (bounds: {BOUND_KIB} KiB, \
         {GROWTH_KIB} KiB above the start)"
    );
    // The model's byte budget, not the count limits, held it there.
    let status = screen.lines().last().unwrap_or_default();
    assert!(status.contains(" dropped for memory │"), "{screen}");
}
