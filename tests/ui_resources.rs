//! What processes cost, in the real UI in a real terminal (tmux), from live samples: a
//! busy loop shows CPU% of at least 80, and a process that touched 200 MiB shows MEM
//! within 10% of what /proc's VmRSS says.

#[allow(dead_code)]
#[path = "common/tmux.rs"]
mod tmux;

use std::{
    io::{BufRead, BufReader},
    os::unix::process::CommandExt,
    process::{Child, ChildStdin, Command, Stdio},
};

use tmux::Tmux;

const WORKLOAD: &str = env!("CARGO_BIN_EXE_forkwatch-workload");

/// A workload child that runs until its stdin is closed (when dropped).
struct Workload {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Workload {
    /// `forkwatch-workload ARGS` at nice -20 (the machine's other work takes little of its
    /// CPU); with `ready`, once it printed that line.
    fn start(args: &[&str], ready: Option<&str>) -> Self {
        let mut command = Command::new(WORKLOAD);
        command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        // SAFETY: setpriority is async-signal-safe; its threads inherit the priority.
        unsafe {
            command.pre_exec(|| match libc::setpriority(libc::PRIO_PROCESS, 0, -20) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            })
        };
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

/// The cells of `pid`'s row on `screen` before the command (PID USER CPU% MEM S THR AGE),
/// once it has all of them: CPU% is blank until the second sample.
fn cells(screen: &str, pid: u32) -> Option<Vec<String>> {
    let row = screen
        .lines()
        .find(|l| l.split_whitespace().next() == Some(&pid.to_string()))?;
    let cells: Vec<String> = row.split_whitespace().map(str::to_owned).collect();
    let complete = cells.len() > 7 && cells[2].parse::<f64>().is_ok();
    complete.then_some(cells)
}

/// Bytes as htop (and `MEM`) writes them: `812K`, `200M`, `3.1G`.
fn bytes(text: &str) -> f64 {
    let (number, unit) = text.split_at(text.len() - 1);
    let scale = match unit {
        "K" => 1u64 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        _ => panic!("not a size: {text}"),
    };
    number.parse::<f64>().unwrap() * scale as f64
}

/// `VmRSS` of `pid`, bytes.
fn vm_rss(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024.0
}

#[test]
fn a_busy_loop_shows_most_of_a_cpu_and_touched_memory_shows_as_vm_rss() {
    let spin = Workload::start(&["spin"], None);
    let touch = Workload::start(&["touch", "200"], Some("touched"));
    let tmux = Tmux::start_sized("resources", 160, 40);
    tmux.start_ui("");
    // Only the workloads (and their ancestors), so that both rows are on screen.
    tmux.type_text("\\", false);
    tmux.type_text("forkwatch-workload", true);

    let screen = tmux.wait_for("the busy loop at 80% or more", |s| {
        cells(s, spin.pid()).is_some_and(|c| c[2].parse::<f64>().unwrap() >= 80.0)
    });
    let spinning = cells(&screen, spin.pid()).unwrap();
    // S is the main thread's, as /proc/PID/stat says: it waits on its stdin.
    assert_eq!(
        spinning[5], "2",
        "its main thread and the busy one: {screen}"
    );

    let screen = tmux.wait_for("the touched memory", |s| cells(s, touch.pid()).is_some());
    let shown = bytes(&cells(&screen, touch.pid()).unwrap()[3]);
    let rss = vm_rss(touch.pid());
    assert!(rss >= 200.0 * 1024.0 * 1024.0, "VmRSS {rss}");
    assert!(
        (shown - rss).abs() <= rss * 0.1,
        "MEM {shown} bytes, VmRSS {rss}: {screen}"
    );
    tmux.key("q");
}
