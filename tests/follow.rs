//! Follow-forks in the kernel against the pins' rule in user space: over a random tree of
//! real processes that fork, exit, orphan their children and become subreapers, the probe's
//! map of followed processes holds every live member of the tracker's pin at every step,
//! and exactly them once every process has had an event since it was re-parented.

use std::{
    collections::BTreeSet,
    io::{BufRead, BufReader, Write},
    process::{Child, Command, Stdio},
    sync::mpsc::{Receiver, Sender, channel},
    time::Duration,
};

use forkwatch::{
    clock,
    event::{Event, Kind, ProcessKey},
    proc::snapshot,
    source::ebpf::{Probe, ProbeOptions},
    tracker::{Tracker, model::Model},
};

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

    let mut probe = Probe::load(&ProbeOptions::default()).expect("the probe loads");
    let mut model = Model::default();
    model.seed(&snapshot::take().unwrap());
    let mut tracker = Tracker::new(model, clock::boottime_ns());
    let (pins, model) = tracker.pins_mut();
    let roots: Vec<ProcessKey> = [first, second]
        .map(|pid| model.current(pid).unwrap())
        .into();
    for &root in &roots {
        pins.add(model, root).unwrap();
    }
    for subtree in tracker.pins().subtrees() {
        probe
            .follow()
            .add_root(subtree.root, subtree.members)
            .unwrap();
    }
    probe.follow().set_only_followed(true).unwrap();

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
            // Every process has an event, parents first: both sides know every re-parenting.
            for &pid in &tree.alive.clone() {
                tree.act(pid, "touch");
            }
            apply_what_came(&mut probe, &mut tracker, &mut seen);
            for (user, kernel) in both_sides(&tracker, &mut probe) {
                assert_eq!(user, kernel, "step {step}: seed {seed}");
            }
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
