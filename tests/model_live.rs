//! The process model fed by the real probe: a process tree spawned here appears with the
//! right parents, argv and exit statuses.

use std::{
    process::Command,
    time::{Duration, Instant},
};

use forkwatch::{
    clock,
    event::{ExitStatus, Kind},
    model::{Config, Model, Process, ProcessKey},
    probe::{Probe, ProbeOptions},
    snapshot,
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
        let mut model = Model::new(Config {
            // Long enough that nothing leaves the tree while this test looks at it.
            linger_ns: 3_600_000_000_000,
            ..Config::default()
        });
        model.seed(&snapshot::take().unwrap());

        let name = format!("fw-model-{}-{}", std::process::id(), clock::boottime_ns());
        let mut shell = Command::new("sh")
            .args(["-c", SCRIPT, &name])
            .spawn()
            .unwrap();
        let shell_pid = shell.id();
        assert_eq!(shell.wait().unwrap().code(), Some(3));

        // The shell's exit is the last event of the tree.
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut batch = Vec::new();
        let mut shell_key = None;
        while shell_key.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::time::timeout(left, probe.next_batch(&mut batch))
                .await
                .expect("the shell's exit arrives")
                .unwrap();
            for event in batch.drain(..) {
                model.apply(&event);
                if event.pid == shell_pid && matches!(event.kind, Kind::Exit(_)) {
                    shell_key = Some(ProcessKey::of(&event));
                }
            }
        }
        let shell_key = shell_key.unwrap();

        let shell = model.get(shell_key).unwrap();
        assert_eq!(shell.program.argv, ["sh", "-c", SCRIPT, name.as_str()]);
        assert_eq!(exit_status(shell), ExitStatus::Code(3));
        let me = model
            .current(std::process::id())
            .expect("this test is alive");
        assert_eq!(model.parent(shell_key).unwrap().key, me);

        // Exited children stay under their exited parent while they linger.
        let children: Vec<&Process> = model.children(shell_key).collect();
        let argv: Vec<&[String]> = children.iter().map(|p| &p.program.argv[..]).collect();
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
        let named = model
            .iter()
            .filter(|p| p.program.argv.iter().any(|arg| arg.starts_with(&name)))
            .count();
        assert_eq!(named, 3);
        let history = model.history(sleep.key).unwrap();
        let kinds: Vec<_> = history.events.iter().map(|e| e.kind_name()).collect();
        use forkwatch::event::KindName::{Exec, Exit, Fork};
        assert_eq!(kinds, [Fork, Exec, Exit]);
    });
}

fn exit_status(process: &Process) -> ExitStatus {
    process
        .exit
        .unwrap_or_else(|| panic!("{:?} has exited", process.program.argv))
        .status
}
