//! Follow-forks in the kernel against the pins' rule in user space: over a random tree of
//! real processes that fork, exit, orphan their children and become subreapers, the probe's
//! map of followed processes holds every live member of the tracker's pin at every step,
//! and exactly them once every process has had an event since it was re-parented. And
//! `watch` of a quiet subtree during a fork storm: all its events, and the kernel sends
//! nothing of the storm.

// Its `pid` does not serve here.
#[allow(dead_code)]
#[path = "common/running.rs"]
mod running;
#[allow(dead_code)]
#[path = "common/tmux.rs"]
mod tmux;
#[path = "common/trees.rs"]
mod trees;
#[path = "common/watched.rs"]
mod watched;

use std::{
    collections::BTreeSet,
    io::{BufRead, BufReader, Write},
    process::{Child, Command, Stdio},
    sync::mpsc::{Receiver, Sender, channel},
    time::Duration,
};

use forkwatch::{
    clock,
    event::{Event, Kind, KindName, ProcessKey},
    proc::snapshot,
    source::{
        BackendChoice, Feed, Filtering, LiveOptions, Source,
        ebpf::{Probe, ProbeOptions},
    },
    tracker::{Tracker, model::Model, pins::Pin},
};
use running::{Finished, Running};
use tmux::Tmux;
use trees::{Chain, Gate};
use watched::watched_events;

const WORKLOAD: &str = env!("CARGO_BIN_EXE_forkwatch-workload");
const STEPS: usize = 120;
const MOST_NODES: usize = 40;

/// A tree of `forkwatch-workload node` processes this test grows.
struct Tree {
    dir: tempfile::TempDir,
    /// What every node says, whichever pipe it says it on.
    said: Receiver<String>,
    say: Sender<String>,
    /// Live nodes, in the order they were born: a parent before its children.
    alive: Vec<u32>,
    spawned: Vec<Child>,
}

impl Tree {
    fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("fw-follow-")
            .tempdir()
            .unwrap();
        let (say, said) = channel();
        Self {
            dir,
            said,
            say,
            alive: Vec::new(),
            spawned: Vec::new(),
        }
    }

    /// A node, a child of this test (never told to exit: this test does not reap).
    fn spawn(&mut self) -> u32 {
        let mut child = Command::new(WORKLOAD)
            .args(["node", self.dir.path().to_str().unwrap()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let say = self.say.clone();
        // Its descendants write to the same pipe.
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if say.send(line).is_err() {
                    break;
                }
            }
        });
        self.spawned.push(child);
        self.ready()
    }

    fn ready(&mut self) -> u32 {
        let line = self.next_line();
        let pid = line
            .strip_prefix("ready ")
            .unwrap_or_else(|| panic!("{line}"))
            .parse()
            .unwrap();
        self.alive.push(pid);
        pid
    }

    fn next_line(&self) -> String {
        self.said
            .recv_timeout(Duration::from_secs(20))
            .expect("the node answers")
    }

    fn tell(&self, pid: u32, what: &str) {
        self.try_tell(pid, what).unwrap();
    }

    fn try_tell(&self, pid: u32, what: &str) -> std::io::Result<()> {
        let mut fifo = std::fs::OpenOptions::new()
            .write(true)
            .open(self.dir.path().join(pid.to_string()))?;
        writeln!(fifo, "{what}")
    }

    fn fork(&mut self, pid: u32) -> u32 {
        self.tell(pid, "fork");
        self.ready()
    }

    fn exit(&mut self, pid: u32) {
        self.tell(pid, "exit");
        assert_eq!(self.next_line(), format!("did {pid}"));
        self.alive.retain(|&p| p != pid);
        // Reaped (by its parent or its adopter) once its exit event was written.
        while std::path::Path::new(&format!("/proc/{pid}")).exists() {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn act(&self, pid: u32, what: &str) {
        self.tell(pid, what);
        assert_eq!(self.next_line(), format!("did {pid}"));
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        // Children first: none is handed to a subreaper that is gone.
        for pid in std::mem::take(&mut self.alive).into_iter().rev() {
            let _ = self.try_tell(pid, "exit");
        }
        for child in &mut self.spawned {
            let _ = child.wait();
        }
    }
}

/// xorshift64*: random enough for picking steps, and repeatable from the seed printed.
struct Random(u64);

impl Random {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }
}

/// The live members of each pin, and the processes the probe's map holds for its bit.
fn both_sides(tracker: &Tracker, probe: &mut Probe) -> Vec<(BTreeSet<u32>, BTreeSet<u32>)> {
    let followed = probe.follow().followed().unwrap();
    tracker
        .pins()
        .list()
        .iter()
        .map(|pin| {
            let bit = probe.follow().bit_of(pin.root()).unwrap();
            let user: BTreeSet<u32> = pin
                .known()
                .filter(|&k| pin.contains(k))
                .map(|k| k.pid)
                .collect();
            let kernel: BTreeSet<u32> = followed
                .iter()
                .filter(|(_, roots)| roots & bit != 0)
                .map(|(k, _)| k.pid)
                .collect();
            (user, kernel)
        })
        .collect()
}

fn apply_what_came(probe: &mut Probe, tracker: &mut Tracker, seen: &mut Vec<Event>) {
    let mut events = Vec::new();
    probe.finish(&mut events);
    assert!(
        !events.iter().any(|e| matches!(e.kind, Kind::Lost { .. })),
        "nothing is lost"
    );
    tracker.apply(&events);
    seen.extend(events);
}

/// A probe following the subtrees of `roots`, and a tracker pinning them, both from now.
fn following(roots: &[u32]) -> (Probe, Tracker) {
    let mut probe = Probe::load(&ProbeOptions::default()).expect("the probe loads");
    let mut model = Model::default();
    model.seed(&snapshot::take().unwrap());
    let mut tracker = Tracker::new(model, clock::boottime_ns());
    let (pins, model) = tracker.pins_mut();
    for &pid in roots {
        pins.add(model, model.current(pid).unwrap()).unwrap();
    }
    for subtree in tracker.pins().subtrees() {
        probe
            .follow()
            .add_root(subtree.root, subtree.members)
            .unwrap();
    }
    probe.follow().set_only_followed(true).unwrap();
    (probe, tracker)
}

/// Every live node has an event, parents first, so that both sides know of every
/// re-parenting; then they hold the same processes.
fn checkpoint(tree: &Tree, probe: &mut Probe, tracker: &mut Tracker, seen: &mut Vec<Event>) {
    for &pid in &tree.alive {
        tree.act(pid, "touch");
    }
    apply_what_came(probe, tracker, seen);
    for (user, kernel) in both_sides(tracker, probe) {
        assert_eq!(user, kernel);
    }
}

#[test]
fn the_kernel_follows_the_same_subtree_as_the_pin() {
    let seed = std::env::var("FW_FOLLOW_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| clock::boottime_ns() | 1);
    eprintln!("seed {seed} (FW_FOLLOW_SEED={seed} repeats this run)");
    let mut random = Random(seed);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    let mut tree = Tree::new();

    // A subreaper outside the first subtree, above its root: orphans handed to it leave.
    let reaper = tree.spawn();
    tree.act(reaper, "subreaper");
    let first = tree.fork(reaper);
    let second = tree.spawn();
    for root in [first, first, second] {
        tree.fork(root);
    }

    let (mut probe, mut tracker) = following(&[first, second]);

    let mut seen = Vec::new();
    let mut checkpoints = 0;
    let mut left = 0;
    for step in 0..STEPS {
        let pid = tree.alive[random.below(tree.alive.len())];
        match random.below(20) {
            0..8 if tree.alive.len() < MOST_NODES => drop(tree.fork(pid)),
            0..13 if pid != reaper && pid != second && tree.alive.len() > 4 => tree.exit(pid),
            13 => tree.act(pid, "subreaper"),
            _ => tree.act(pid, "touch"),
        }
        apply_what_came(&mut probe, &mut tracker, &mut seen);
        for (user, kernel) in both_sides(&tracker, &mut probe) {
            let missing: Vec<_> = user.difference(&kernel).collect();
            assert!(
                missing.is_empty(),
                "step {step}: members the kernel does not follow: {missing:?}"
            );
        }
        if step % 15 == 14 {
            checkpoint(&tree, &mut probe, &mut tracker, &mut seen);
            checkpoints += 1;
        }
        left = tracker.pins().list().iter().map(|p| p.counts().left).sum();
    }
    assert!(checkpoints >= 8);
    // The filter let through no event of a process outside the subtrees (the reaper's).
    assert!(seen.iter().all(|e| e.pid != reaper), "seed {seed}");
    let forks = seen.iter().filter(|e| matches!(e.kind, Kind::Fork)).count();
    assert!(forks > 5, "the subtrees grew ({forks} forks), seed {seed}");
    eprintln!("{forks} forks, {left} members left their subtree");
}

/// The 2-worker storm for 3 s: how many children it forked.
fn storm() -> u64 {
    let out = Command::new(WORKLOAD)
        .args(["storm", "--workers", "2", "--seconds", "3"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let forks: Vec<u64> = v["forks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect();
    forks.iter().sum()
}

/// The (kind, pid, ppid) of a [`Chain`]'s events, `born` as it says: each fork and exec
/// in turn, then the exits from the last born up to the root's.
fn chain_events(root: u32, born: &[(u32, u32)]) -> Vec<(KindName, u32, u32)> {
    use KindName::{Exec, Exit, Fork};
    let mut expected = Vec::new();
    for &(pid, ppid) in born {
        expected.extend([(Fork, pid, ppid), (Exec, pid, ppid)]);
    }
    for &(pid, ppid) in born.iter().rev() {
        expected.push((Exit, pid, ppid));
    }
    expected.push((Exit, root, std::process::id()));
    expected
}

#[test]
fn a_quiet_subtree_watched_during_a_fork_storm_gets_all_its_events_and_nothing_else() {
    let gate = Gate::new();
    let tree = Chain::start(&gate, 3);
    let root = tree.pid();
    let mut watch = Running::start(&["watch", &root.to_string(), "--json"]);
    watch.wait_for("and its descendants with eBPF, following in the kernel; stop with Ctrl-C");

    // A source of this test's, asked to follow the same subtree: what the kernel sends it.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    let live = LiveOptions {
        backend: BackendChoice::Ebpf,
        ..LiveOptions::default()
    };
    let (mut source, _) = Source::open_live(&live).unwrap();
    let mut model = Model::default();
    model.seed(&snapshot::take().unwrap());
    let key = model.current(root).unwrap();
    let subtree = Pin::new(&model, key).unwrap().subtree();
    assert_eq!(source.follow_only(&[subtree]), Filtering::Kernel);
    // What was queued before is the whole machine's.
    let following_since = clock::boottime_ns();

    let storm = std::thread::spawn(storm);
    // Not a measurement: the subtree should act while the storm rages.
    std::thread::sleep(Duration::from_millis(300));
    gate.open();
    let (born, status) = tree.finish();
    assert_eq!(status.code(), Some(3));

    let mut sent = Vec::new();
    while !storm.is_finished() {
        runtime.block_on(async {
            let _ = tokio::time::timeout(Duration::from_millis(100), source.next_batch(&mut sent))
                .await;
        });
    }
    source.finish(&mut sent);
    let storm_forks = storm.join().unwrap();
    assert!(storm_forks > 1_000, "the storm ran ({storm_forks} forks)");

    // The kernel sent the subtree's events and loss reports, nothing of the storm's.
    let subtree_pids: BTreeSet<u32> = born.iter().map(|&(pid, _)| pid).chain([root]).collect();
    let strangers: Vec<&Event> = sent
        .iter()
        .filter(|e| e.ts_ns > following_since)
        .filter(|e| !matches!(e.kind, Kind::Lost { .. }) && !subtree_pids.contains(&e.pid))
        .collect();
    assert!(strangers.is_empty(), "{strangers:?}");
    let expected = chain_events(root, &born);
    let from_source: Vec<_> = sent
        .iter()
        .filter(|e| subtree_pids.contains(&e.pid) && !matches!(e.kind, Kind::Lost { .. }))
        .map(|e| (e.kind_name(), e.pid, e.ppid))
        .collect();
    assert_eq!(from_source, expected);

    // `watch` itself: every event of the subtree, in order.
    let Finished {
        status,
        stdout,
        stderr,
    } = watch.finish();
    assert!(status.success(), "{stderr:?}");
    assert_eq!(watched_events(&stdout), expected, "{stdout}");
}

/// A process is its pid and start time: an entry for its pid with another start time (a
/// process that had the pid before) makes it no member, and goes at its first event.
#[test]
fn a_reused_pid_is_not_followed() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    let mut tree = Tree::new();
    let root = tree.spawn();
    let outsider = tree.spawn();
    let mut probe = Probe::load(&ProbeOptions::default()).expect("the probe loads");
    let key = |pid| {
        let stat = forkwatch::proc::stat::read(pid).unwrap();
        ProcessKey {
            pid,
            start_ticks: stat.start_ticks,
        }
    };
    let earlier = ProcessKey {
        start_ticks: key(outsider).start_ticks - 1,
        ..key(outsider)
    };
    probe.follow().add_root(key(root), [earlier]).unwrap();
    probe.follow().set_only_followed(true).unwrap();
    // What was queued before is the whole machine's.
    let following_since = clock::boottime_ns();
    let followed = |probe: &mut Probe| -> BTreeSet<u32> {
        let entries = probe.follow().followed().unwrap();
        entries.iter().map(|(k, _)| k.pid).collect()
    };
    assert_eq!(followed(&mut probe), BTreeSet::from([root, outsider]));

    let child = tree.fork(outsider);
    tree.act(outsider, "touch");
    let born = tree.fork(root);
    let mut sent = Vec::new();
    probe.finish(&mut sent);
    let pids: Vec<(KindName, u32)> = sent
        .iter()
        .filter(|e| e.ts_ns > following_since)
        .map(|e| (e.kind_name(), e.pid))
        .collect();
    assert_eq!(pids, [(KindName::Fork, born)], "{sent:?}");
    // The stale entry went at the outsider's first event; its child never came in.
    assert_eq!(followed(&mut probe), BTreeSet::from([root, born]));
    assert!(tree.alive.contains(&child));
}

/// `watch` says whether the kernel follows the subtree, and why not when it does not; so
/// does `relay --subtree`.
#[test]
fn watch_says_where_the_subtree_is_told_from_the_rest() {
    let mut quiet = Command::new("sleep").arg("60").spawn().unwrap();
    let pid = quiet.id().to_string();
    for (args, said) in [
        (
            vec!["--backend", "ebpf"],
            "with eBPF, following in the kernel; stop",
        ),
        (
            vec!["--filter-in-user-space"],
            "with eBPF, filtering in user space (--filter-in-user-space); stop",
        ),
        (
            vec!["--backend", "netlink"],
            "filtering in user space (netlink cannot filter in the kernel); stop",
        ),
    ] {
        let mut argv = vec!["watch", pid.as_str()];
        argv.extend(args);
        // Dropped: killed and reaped.
        Running::start(&argv).wait_for(said);
    }
    // `relay --subtree` says it too (its target gets nothing: the subtree is quiet).
    let mut target = Command::new("sleep").arg("60").spawn().unwrap();
    let to = target.id().to_string();
    Running::start(&["relay", "--to", &to, "--subtree", &pid])
        .wait_for("relay 1: subtree events: following in the kernel");
    for child in [&mut quiet, &mut target] {
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

/// A process whose parent exits stays followed through the parent's exit: the probe takes
/// the parent out of its map at the exit tracepoint, but the kernel hands its children to
/// their new parent only later (exit_notify). A child that acts meanwhile (here: execs,
/// again and again) must not be taken for re-parented out. The parent's exit is made long:
/// it releases 3 GiB.
#[test]
fn a_child_acting_while_its_parent_exits_stays_followed() {
    const EXECS: usize = 300;
    let dir = tempfile::tempdir().unwrap();
    let again = dir.path().join("again.sh");
    std::fs::write(
        &again,
        r#"if [ "$1" -gt 0 ]; then exec sh "$0" $(($1 - 1)); fi"#,
    )
    .unwrap();
    let gate = Gate::new();
    let full = dir.path().join("full");
    // The root reaps the orphan, so it stays in the subtree. The parent forks the child,
    // fills 3 GiB and exits; the child starts its execs when the parent says it is full.
    let script = format!(
        r#"read go < "{}"; mkfifo "{full}"; (read x < "{full}"; exec sh "{}" {EXECS}) & exec "{WORKLOAD}" touch 3072 < /dev/null > "{full}""#,
        gate.path(),
        again.display(),
        full = full.display(),
    );
    let mut root = Command::new(WORKLOAD)
        .args(["subreaper", "sh", "-c", &script])
        .spawn()
        .unwrap();
    let pid = root.id().to_string();
    let mut watch = Running::start(&["watch", &pid, "--json"]);
    watch.wait_for("following in the kernel; stop with Ctrl-C");
    gate.open();
    assert!(root.wait().unwrap().success());
    // The subtree is gone: watch ends by itself.
    let Finished {
        status,
        stdout,
        stderr,
    } = watch.finish();
    assert!(status.success(), "{stderr:?}");
    let events = watched_events(&stdout);
    let mut execs = std::collections::BTreeMap::<u32, usize>::new();
    for (kind, pid, _) in &events {
        if *kind == KindName::Exec {
            *execs.entry(*pid).or_default() += 1;
        }
    }
    let (child, count) = execs.iter().max_by_key(|(_, n)| **n).unwrap();
    // `sh again.sh`, then each exec again.
    assert_eq!(*count, EXECS + 1, "the child's execs: {execs:?}");
    assert!(
        events
            .iter()
            .any(|&(kind, pid, _)| kind == KindName::Exit && pid == *child),
        "the child's exit: {events:?}"
    );
}

/// The UI's pinned-only view with eBPF: the probe follows the pins; a process born
/// elsewhere meanwhile, whose events it did not send, is in the tree again once every
/// process is shown (from the re-read of /proc).
#[test]
fn the_uis_pinned_only_view_follows_the_pins_in_the_kernel() {
    let token = format!(
        "8{}{}",
        std::process::id(),
        clock::boottime_ns() % 1_000_000
    );
    let mut pinned = Command::new("sleep")
        .arg(format!("3600.{token}"))
        .spawn()
        .unwrap();
    let tmux = Tmux::start_sized("follow", 160, 30);
    tmux.start_ui(&format!("--backend ebpf --pin {}", pinned.id()));
    tmux.type_text("f", false);
    tmux.type_text(&token, true);
    tmux.type_text("v", false);
    tmux.wait_for("the kernel following the pin", |s| {
        s.contains("only pinned shown, following in the kernel")
    });

    let mut elsewhere = Command::new("sleep")
        .arg(format!("3602.{token}"))
        .spawn()
        .unwrap();
    tmux.type_text("v", false);
    tmux.wait_for("the process born elsewhere", |s| {
        !s.contains("only pinned shown") && s.contains(&format!("sleep 3602.{token}"))
    });
    tmux.type_text("q", false);
    for child in [&mut pinned, &mut elsewhere] {
        let _ = child.kill();
        let _ = child.wait();
    }
}
