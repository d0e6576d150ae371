//! `forkwatch-tui watch PID`: the real binary following real process subtrees.

#[path = "common/running.rs"]
mod running;
#[path = "common/trees.rs"]
mod trees;
#[path = "common/watched.rs"]
mod watched;

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use forkwatch::event::KindName;
use running::{Finished, Running};
use trees::{Chain, Gate};
use watched::watched_events;

const WORKLOAD: &str = env!("CARGO_BIN_EXE_forkwatch-workload");

/// What `watch` says once it is watching.
const READY: &str = "and its descendants with";

#[test]
fn descendants_born_after_the_start_are_watched_and_nothing_else() {
    use KindName::{Exec, Exit, Fork};
    let gate = Gate::new();
    let outside_gate = Gate::new();
    let tree = Chain::start(&gate, 3);
    // Started at the same time, not in the subtree.
    let outside = Chain::start(&outside_gate, 2);
    let root = tree.pid();
    let mut all = Running::start(&["watch", &root.to_string(), "--json"]);
    let mut exits = Running::start(&["watch", &root.to_string(), "--kinds", "exit"]);
    all.wait_for(READY);
    exits.wait_for(READY);

    gate.open();
    outside_gate.open();
    let (born, status) = tree.finish();
    assert_eq!(status.code(), Some(3));
    let (outside_born, _) = outside.finish();

    // Both end by themselves once the tree is gone.
    let Finished {
        status,
        stdout,
        stderr,
    } = all.finish();
    assert!(status.success(), "{stderr:?}");
    assert!(
        stderr.iter().any(
            |l| l == &format!("forkwatch-tui: no process is left in the subtree of pid {root}")
        ),
        "{stderr:?}"
    );
    assert!(
        stderr
            .last()
            .unwrap()
            .contains("10 events (fork 3, exec 3, exit 4), "),
        "{stderr:?}"
    );
    let mut expected = Vec::new();
    for &(pid, ppid) in &born {
        expected.extend([(Fork, pid, ppid), (Exec, pid, ppid)]);
    }
    for &(pid, ppid) in born.iter().rev() {
        expected.push((Exit, pid, ppid));
    }
    expected.push((Exit, root, std::process::id()));
    let got = watched_events(&stdout);
    assert_eq!(got, expected, "{stdout}");
    for (pid, _) in outside_born {
        assert!(
            got.iter().all(|e| e.1 != pid),
            "{pid} is not in the subtree"
        );
    }

    // The text format of `events`, only exits.
    let Finished { status, stdout, .. } = exits.finish();
    assert!(status.success());
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    for (line, &(pid, ppid)) in lines.iter().zip(born.iter().rev()) {
        assert!(
            line.contains(&format!(
                " exit         pid={pid} ppid={ppid} comm=sh exit_code=0 run="
            )),
            "{line}"
        );
    }
    assert!(lines[3].contains(&format!("pid={root} ")) && lines[3].contains("exit_code=3"));
}

/// `sh -c ROOT CHILD GATE1 GATE2 GATE3` prints its pid, waits at gate 1, starts a child that
/// prints its own pid and waits at gate 2 before it runs /bin/true, then waits at gate 3
/// and exits, orphaning the child.
const ROOT: &str = r#"echo $$; read go < "$1"; sh -c "$0" "$2" & read go < "$3""#;
const CHILD: &str = r#"echo $$; read go < "$0"; exec /bin/true"#;

/// The root of a ROOT/CHILD tree exits while the child lives on; returns the child's events
/// as `watch` reported them, the root's and child's pids and the child's new parent.
fn root_exits_first(wrapper: &[&str]) -> (Vec<(KindName, u32, u32)>, u32, u32, u32) {
    let gates = [Gate::new(), Gate::new(), Gate::new()];
    let mut argv = wrapper.to_vec();
    argv.extend(["sh", "-c", ROOT, CHILD]);
    argv.extend(gates.iter().map(Gate::path));
    let mut shell = Command::new(argv[0])
        .args(&argv[1..])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pids = BufReader::new(shell.stdout.take().unwrap()).lines();
    let mut next_pid = || -> u32 { pids.next().unwrap().unwrap().parse().unwrap() };
    let root = next_pid();
    let mut watch = Running::start(&["watch", &root.to_string(), "--json"]);
    watch.wait_for(READY);

    gates[0].open();
    let child = next_pid();
    gates[2].open();
    // The kernel re-parents the child once the root has exited.
    let deadline = Instant::now() + Duration::from_secs(20);
    let adopter = loop {
        let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap();
        let ppid: u32 = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        if ppid != root {
            break ppid;
        }
        assert!(Instant::now() < deadline, "{child} was not re-parented");
        std::thread::sleep(Duration::from_millis(5));
    };
    gates[1].open();
    let Finished {
        status,
        stdout,
        stderr,
    } = watch.finish();
    assert!(status.success(), "{stderr:?}");
    shell.wait().unwrap();
    (watched_events(&stdout), root, child, adopter)
}

#[test]
fn the_root_exiting_first_leaves_its_orphans_watched() {
    use KindName::{Exec, Exit, Fork};
    let (got, root, child, adopter) = root_exits_first(&[]);
    let mut expected = vec![
        (Fork, child, root),
        (Exec, child, root),
        (Exit, root, std::process::id()),
    ];
    // Adopted by init, the child stays; handed to a subreaper among this test's ancestors
    // (a service manager's), it would have left.
    if adopter == 1 {
        expected.extend([(Exec, child, 1), (Exit, child, 1)]);
    }
    assert_eq!(got, expected, "adopted by {adopter}");
}

#[test]
fn a_process_handed_to_a_subreaper_outside_leaves_the_watch() {
    use KindName::{Exec, Exit, Fork};
    // The subreaper is the root's parent, outside the subtree.
    let (got, root, child, adopter) = root_exits_first(&[WORKLOAD, "subreaper"]);
    assert_ne!(adopter, 1);
    // The child's exec of /bin/true and its exit come after it left: not reported, and the
    // watch ends with nothing left in the subtree although the child still ran.
    assert_eq!(
        got,
        [
            (Fork, child, root),
            (Exec, child, root),
            (Exit, root, adopter)
        ]
    );
}

/// `sh` that waits for a line, then runs 8 children one after the other, each
/// burning some 300 ms of CPU in a loop, and prints what `times` says it and its children
/// were charged (getrusage RUSAGE_SELF and RUSAGE_CHILDREN).
const BURNERS: &str = r#"read go; i=0
while [ $i -lt 8 ]; do sh -c 'j=0; while [ $j -lt 400000 ]; do j=$((j+1)); done'; i=$((i+1)); done
times"#;

/// Seconds in `times` output (`0m1.234000s` each), summed.
fn charged_ns(times: &str) -> u64 {
    times
        .split_whitespace()
        .map(|t| {
            let (min, sec) = t.trim_end_matches('s').split_once('m').unwrap();
            let secs = min.parse::<f64>().unwrap() * 60.0 + sec.parse::<f64>().unwrap();
            (secs * 1e9) as u64
        })
        .sum()
}

#[test]
fn a_subtrees_totals_count_every_child_as_the_kernel_charged_it_though_no_sample_saw_it() {
    let mut shell = Command::new("sh")
        .args(["-c", BURNERS])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let root = shell.id();
    let mut watch = Running::start(&["watch", &root.to_string(), "--json"]);
    watch.wait_for(READY);
    use std::io::{Read, Write};
    writeln!(shell.stdin.take().unwrap(), "go").unwrap();
    let mut times = String::new();
    shell
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut times)
        .unwrap();
    assert!(shell.wait().unwrap().success());
    let Finished { stdout, stderr, .. } = watch.finish();

    let totals: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(totals["kind"], "totals");
    assert_eq!(totals["pid"], root);
    // Each child lived some 300 ms: a sample a second saw few of them, the probe all.
    assert_eq!(totals["started"], 8, "{totals}");
    assert_eq!(totals["exits"]["exit 0"], 9, "{totals}");
    assert_eq!(totals["cpu_unknown"], 0, "{totals}");
    let counted = totals["cpu_ns"].as_u64().unwrap() as f64;
    let charged = charged_ns(&times) as f64;
    assert!(
        charged > 1e9,
        "the children burnt too little to compare: {times}"
    );
    assert!(
        (counted - charged).abs() <= charged * 0.05,
        "the pin counted {counted} ns, the kernel charged {charged} ns ({times})"
    );
    assert!(
        stderr.iter().any(|l| l
            .starts_with("forkwatch-tui: totals: 8 started, 9 ended (9 exit 0), 0 alive; CPU ")),
        "{stderr:?}"
    );
}

#[test]
fn a_stop_signal_ends_the_watch_with_a_summary() {
    let mut sleeper = Command::new("sleep").arg("60").spawn().unwrap();
    let mut watch = Running::start(&["watch", &sleeper.id().to_string()]);
    watch.wait_for(READY);
    // SAFETY: signalling our own child.
    unsafe { libc::kill(watch.pid() as i32, libc::SIGTERM) };
    let Finished { status, stderr, .. } = watch.finish();
    assert!(status.success(), "{stderr:?}");
    assert_eq!(
        stderr.last().unwrap(),
        "forkwatch-tui: 0 events (none), 0 lost"
    );
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
}

#[test]
fn an_unknown_pid_is_one_line_and_a_failure() {
    // Above this machine's pid_max (32768), so never a process.
    let out = Command::new(env!("CARGO_BIN_EXE_forkwatch-tui"))
        .args(["watch", "4000000"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "forkwatch-tui: no process with pid 4000000\n"
    );
    assert!(out.stdout.is_empty());
}
