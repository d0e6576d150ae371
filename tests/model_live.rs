//! The process model fed by the real probe: a process tree spawned here appears with the
//! right parents, argv and exit statuses; and a recording made meanwhile replays into the
//! same tree.

use std::{
    collections::BTreeMap,
    process::Command,
    time::{Duration, Instant},
};

use forkwatch::{
    clock,
    event::{Event, ExitStatus, Kind, ProcessKey},
    private_file,
    proc::snapshot,
    recording::{Info, Recorder, Replay, Speed},
    source::ebpf::{Probe, ProbeOptions},
    tracker::model::{Config, Model, Process},
};

/// `sh -c SCRIPT NAME`: two children named after it, one of which runs `sleep`; one exits
/// with 7, the other kills itself with SIGTERM, and the shell exits with 3.
const SCRIPT: &str =
    r#"sh -c 'sleep 0.05; exit 7' "$0-a" & sh -c 'kill -TERM $$' "$0-b" & wait; exit 3"#;

#[test]
fn the_model_follows_a_real_process_tree() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // As the application does: the probe first, then /proc, then what queued meanwhile.
        let mut probe = Probe::load(&ProbeOptions::default()).expect("the probe loads");
        let mut model = lingering_model();
        model.seed(&snapshot::take().unwrap());

        let name = format!("fw-model-{}-{}", std::process::id(), clock::boottime_ns());
        let mut shell = Command::new("sh")
            .args(["-c", SCRIPT, &name])
            .spawn()
            .unwrap();
        let shell_pid = shell.id();
        assert_eq!(shell.wait().unwrap().code(), Some(3));

        // The shell's exit is the last event of the tree.
        let shell_key = apply_until_exit(&mut probe, &mut model, shell_pid).await;

        let shell = model.get(shell_key).unwrap();
        assert_eq!(shell.program.argv, ["sh", "-c", SCRIPT, name.as_str()]);
        assert_eq!(exit_status(shell), ExitStatus::Code(3));
        let me = model
            .current(std::process::id())
            .expect("this test is alive");
        assert_eq!(model.parent(shell_key).unwrap().key, me);

        // Exited children stay under their exited parent while they linger.
        let children: Vec<&Process> = model.children(shell_key).collect();
        let argv: Vec<Vec<String>> = children
            .iter()
            .map(|p| p.program.argv.to_strings())
            .collect();
        let a_name = format!("{name}-a");
        let b_name = format!("{name}-b");
        assert_eq!(
            argv,
            [
                &["sh", "-c", "sleep 0.05; exit 7", a_name.as_str()][..],
                &["sh", "-c", "kill -TERM $$", b_name.as_str()][..],
            ]
        );
        let (a, b) = (children[0], children[1]);
        assert_eq!(exit_status(a), ExitStatus::Code(7));
        assert_eq!(
            exit_status(b),
            ExitStatus::Signal {
                signal: libc::SIGTERM,
                core_dumped: false
            }
        );

        let sleeps: Vec<&Process> = model.children(a.key).collect();
        assert_eq!(sleeps.len(), 1);
        let sleep = sleeps[0];
        assert_eq!(sleep.program.argv, ["sleep", "0.05"]);
        assert_eq!(sleep.comm.to_string(), "sleep");
        assert_eq!(exit_status(sleep), ExitStatus::Code(0));
        assert!(sleep.run_ns().unwrap() >= 50_000_000);
        let ancestry: Vec<ProcessKey> = model.ancestry(sleep.key).iter().map(|p| p.key).collect();
        assert_eq!(ancestry[..3], [a.key, shell_key, me]);

        // Each process is in the model once, however the snapshot and the stream overlapped.
        let named = processes_named(&model, &name);
        assert_eq!(named, 3);
        let history = model.history(sleep.key).unwrap();
        let kinds: Vec<_> = history.events.iter().map(|e| e.kind_name()).collect();
        use forkwatch::event::KindName::{Exec, Exit, Fork};
        assert_eq!(kinds, [Fork, Exec, Exit]);
    });
}

/// Applies the probe's events to `model` until `pid` exits: its key.
async fn apply_until_exit(probe: &mut Probe, model: &mut Model, pid: u32) -> ProcessKey {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut batch = Vec::new();
    let mut exited = None;
    while exited.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        tokio::time::timeout(left, probe.next_batch(&mut batch))
            .await
            .expect("the shell's exit arrives")
            .unwrap();
        for event in batch.drain(..) {
            model.apply(&event);
            if event.pid == pid && matches!(event.kind, Kind::Exit(..)) {
                exited = Some(ProcessKey::of(&event));
            }
        }
    }
    exited.unwrap()
}

/// How many processes in `model` have an argument that starts with `name`.
fn processes_named(model: &Model, name: &str) -> usize {
    model
        .iter()
        .filter(|p| {
            p.program
                .argv
                .iter()
                .any(|arg| arg.starts_with(name.as_bytes()))
        })
        .count()
}

fn exit_status(process: &Process) -> ExitStatus {
    process
        .exit
        .unwrap_or_else(|| panic!("{:?} has exited", process.program.argv))
        .status
}

/// Long enough that nothing leaves the tree while a test looks at it.
fn lingering_model() -> Model {
    Model::new(Config {
        linger_ns: 3_600_000_000_000,
        ..Config::default()
    })
}

/// Reads `probe` until the exit of `pid`, handing every batch to `consume`.
async fn until_exit_of(pid: u32, probe: &mut Probe, mut consume: impl FnMut(&[Event])) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut batch = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        tokio::time::timeout(left, probe.next_batch(&mut batch))
            .await
            .expect("the exit arrives")
            .unwrap();
        consume(&batch);
        if batch
            .iter()
            .any(|e| e.pid == pid && matches!(e.kind, Kind::Exit(..)))
        {
            return;
        }
        batch.clear();
    }
}

/// What the tree says of a process: its parent, argv and how it ended.
type Seen = (Option<ProcessKey>, Vec<String>, Option<ExitStatus>);

/// The subtree of `root` as `model` has it, by process.
fn subtree(model: &Model, root: ProcessKey) -> BTreeMap<ProcessKey, Seen> {
    model
        .subtree(root)
        .map(|p| {
            let parent = model.parent(p.key).map(|parent| parent.key);
            (
                p.key,
                (
                    parent,
                    p.program.argv.to_strings(),
                    p.exit.map(|e| e.status),
                ),
            )
        })
        .collect()
}

#[test]
fn a_recording_replays_into_the_tree_the_live_model_built() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tree.fwrec");
    runtime.block_on(async {
        // Two probes, as two programs would have: one feeds a live model, the other a
        // recording, each started before its /proc snapshot.
        let mut live_probe = Probe::load(&ProbeOptions::default()).expect("the probe loads");
        let mut live = lingering_model();
        live.seed(&snapshot::take().unwrap());
        let mut recording_probe = Probe::load(&ProbeOptions::default()).unwrap();
        let start_ns = clock::boottime_ns();
        let recorder = Recorder::new(
            private_file::create(&path).unwrap(),
            &path,
            &Info::here("eBPF", start_ns),
            &snapshot::take().unwrap(),
        )
        .unwrap();

        let name = format!("fw-replay-{}-{}", std::process::id(), clock::boottime_ns());
        let mut shell = Command::new("sh")
            .args(["-c", SCRIPT, &name])
            .spawn()
            .unwrap();
        let shell_pid = shell.id();
        assert_eq!(shell.wait().unwrap().code(), Some(3));
        until_exit_of(shell_pid, &mut live_probe, |batch| {
            batch.iter().for_each(|e| {
                live.apply(e);
            })
        })
        .await;
        until_exit_of(shell_pid, &mut recording_probe, |batch| {
            recorder.record(batch.to_vec())
        })
        .await;
        recorder.finish(clock::boottime_ns()).unwrap();

        let mut replay = Replay::open(&path).unwrap();
        replay.set_speed(Speed::Max);
        let mut replayed = lingering_model();
        replayed.seed(replay.snapshot());
        let mut batch = Vec::new();
        while replay.next_batch(&mut batch).await {
            batch.drain(..).for_each(|e| {
                replayed.apply(&e);
            });
        }
        assert!(replay.damage().is_empty());

        let shell_key = live
            .iter()
            .find(|p| {
                p.key.pid == shell_pid && p.program.argv.iter().last() == Some(name.as_bytes())
            })
            .expect("the shell in the live model")
            .key;
        let seen = subtree(&live, shell_key);
        // The shell, its two children and the sleep, each with a parent, argv and status.
        assert_eq!(seen.len(), 4, "{seen:#?}");
        assert!(
            seen.values()
                .all(|(parent, argv, exit)| parent.is_some() && !argv.is_empty() && exit.is_some()),
            "{seen:#?}"
        );
        assert_eq!(subtree(&replayed, shell_key), seen);
        // Above the shell too: the same chain of parents up to the top.
        let chain = |model: &Model| -> Vec<ProcessKey> {
            model.ancestry(shell_key).iter().map(|p| p.key).collect()
        };
        assert_eq!(chain(&replayed), chain(&live));
    });
}
