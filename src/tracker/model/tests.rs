use super::{testing::*, *};
use crate::event::{Comm, Creds, Event, ExitStatus, Kind, KindName};

/// The tree as text, in display order: two spaces per level, pid, name, and how it ended.
fn tree(model: &Model) -> Vec<String> {
    let mut lines = Vec::new();
    let mut stack: Vec<(Slot, usize)> = model.top_slots().iter().rev().map(|&s| (s, 0)).collect();
    while let Some((slot, depth)) = stack.pop() {
        let p = model.process_at(slot);
        let mut line = format!("{}{} {}", "  ".repeat(depth), p.key.pid, p.comm);
        match p.exit.map(|e| e.status) {
            Some(ExitStatus::Unknown) => line += " (gone)",
            Some(status) => line += &format!(" ({status})"),
            None => {}
        }
        lines.push(line);
        let children = model.child_slots(slot).iter().rev();
        stack.extend(children.map(|&s| (s, depth + 1)));
    }
    lines
}

/// Whether `key` is `root` or one of its descendants in the tree.
fn in_subtree(model: &Model, key: ProcessKey, root: ProcessKey) -> bool {
    model.subtree(root).any(|p| p.key == key)
}

#[test]
fn a_process_in_both_the_snapshot_and_the_stream_appears_once() {
    let a = p(100, 1, 1003);
    let born_and_died = p(101, 1, 1005);
    let read_then_died = p(102, 1, 500);
    let died_before_read = p(103, 1, 600);
    let mut model = Model::default();
    model.seed(&[
        INIT.info("init", &["/sbin/init"]),
        a.info("a", &["a"]),
        read_then_died.info("c", &["c"]),
    ]);
    // Queued while /proc was read, applied after seeding.
    apply_all(
        &mut model,
        &[
            a.fork(),
            a.exec(1010, &["a", "x"]),
            born_and_died.fork(),
            born_and_died.exit(1020, 0),
            read_then_died.named("c").exit(1030, 1),
            died_before_read.exit(1040, 2),
        ],
    );
    assert_eq!(
        tree(&model),
        [
            "1 init",
            "  102 c (exit 1)",
            "  103 sh (exit 2)",
            "  100 a",
            "  101 sh (exit 0)",
        ]
    );
    let a_now = model.get(a.key()).unwrap();
    assert_eq!(a_now.program.argv, ["a", "x"]);
    assert_eq!(
        a_now.start_ns, a.start,
        "the event's exact start time is taken"
    );
    assert_eq!(
        model.counts(),
        Counts {
            alive: 2,
            exited: 3,
            history: 0,
            lost: 0,
            dropped_for_memory: 0
        }
    );
    assert_eq!(model.index.len(), 5);
}

#[test]
fn events_out_of_order_neither_duplicate_nor_revive() {
    let mut model = seeded();
    let a = p(100, 1, 1000);
    let b = p(200, 100, 1100);
    let c = p(300, 1, 1200);
    let d = p(400, 1, 1300);
    let applied = apply_all(
        &mut model,
        &[
            b.exec(1150, &["b"]),
            b.named("b").exit(1200, 3),
            c.exit(1250, 0),
            d.thread(1310, 401, Kind::ThreadStart),
        ],
    );
    let started: Vec<_> = applied.iter().map(|a| a.started).collect();
    assert_eq!(started, [true, false, true, true]);
    // b's parent is not known yet: it waits at the top.
    assert_eq!(
        tree(&model),
        [
            "1 init",
            "  300 sh (exit 0)",
            "  400 worker",
            "200 b (exit 3)"
        ]
    );
    assert_eq!(model.get(d.key()).unwrap().threads, 2);

    let applied = apply_all(&mut model, &[a.fork(), b.fork(), c.fork(), d.fork()]);
    assert!(applied[0].started);
    assert!(applied[1..].iter().all(|a| !a.started && !a.exited));
    assert_eq!(
        tree(&model),
        [
            "1 init",
            "  100 sh",
            "    200 b (exit 3)",
            "  300 sh (exit 0)",
            "  400 worker",
        ]
    );
    assert_eq!(model.counts().alive, 3);
    assert_eq!(model.index.len(), 5);
    // The late fork sits before the exit in the process's own history.
    let kinds: Vec<_> = model
        .history(b.key())
        .unwrap()
        .events
        .iter()
        .map(Event::kind_name)
        .collect();
    assert_eq!(kinds, [KindName::Fork, KindName::Exec, KindName::Exit]);
}

#[test]
fn a_reused_pid_is_another_process() {
    let mut model = seeded();
    let first = p(100, 1, 1000);
    let second = p(100, 1, 2000);
    apply_all(
        &mut model,
        &[
            first.fork(),
            first.exec(1001, &["first"]),
            first.named("first").exit(1500, 0),
            second.fork(),
            second.exec(2001, &["second"]),
        ],
    );
    assert_eq!(model.current(100), Some(second.key()));
    assert_ne!(first.key(), second.key());
    assert_eq!(
        tree(&model),
        ["1 init", "  100 first (exit 0)", "  100 second"]
    );
    // A late event of the first one stays with it.
    model.apply(&first.thread(1400, 101, Kind::ThreadExit));
    assert_eq!(model.history(first.key()).unwrap().events.len(), 4);
    assert_eq!(model.history(second.key()).unwrap().events.len(), 2);
    assert!(model.get(second.key()).unwrap().is_alive());

    model.apply(&second.exit(3000, 0));
    assert_eq!(model.current(100), None);
}

#[test]
fn thread_exits_do_not_end_the_process() {
    let mut model = seeded();
    let a = p(100, 1, 1000);
    apply_all(
        &mut model,
        &[
            a.fork(),
            a.thread(1010, 101, Kind::ThreadStart),
            a.thread(1020, 102, Kind::ThreadStart),
        ],
    );
    assert_eq!(model.get(a.key()).unwrap().threads, 3);
    // The main thread may end first; the process lives on in its other threads.
    let applied = apply_all(
        &mut model,
        &[
            a.thread(1030, 100, Kind::ThreadExit),
            a.thread(1040, 101, Kind::ThreadExit),
        ],
    );
    assert!(applied.iter().all(|a| !a.exited));
    let a_now = model.get(a.key()).unwrap();
    assert!(a_now.is_alive());
    assert_eq!(a_now.threads, 1);
    assert_eq!(
        a_now.comm.to_string(),
        "sh",
        "thread names are not the process's"
    );
    assert_eq!(model.current(100), Some(a.key()));

    let last = Event {
        tid: 102,
        ..a.exit(1050, 0)
    };
    assert!(model.apply(&last).exited);
    assert_eq!(model.get(a.key()).unwrap().threads, 0);
    assert_eq!(model.counts().alive, 1);
}

#[test]
fn exec_changes_name_argv_and_credentials() {
    let mut model = seeded();
    let a = p(100, 1, 1000);
    model.apply(&a.fork());
    let forked = model.get(a.key()).unwrap();
    assert_eq!(forked.comm.to_string(), "sh");
    assert_eq!(
        forked.program.argv,
        ["/sbin/init"],
        "a fork runs its parent's program"
    );

    let root = Creds {
        uid: 1000,
        euid: 0,
        gid: 1000,
        egid: 1000,
    };
    let exec = Event {
        creds: Some(root),
        ..a.exec(1010, &["sudo", "-i"])
    };
    let applied = model.apply(&exec);
    assert!(!applied.started && !applied.exited);
    let a_now = model.get(a.key()).unwrap();
    assert_eq!(a_now.comm.to_string(), "sudo");
    assert_eq!(a_now.program.argv, ["sudo", "-i"]);
    assert_eq!(a_now.program.filename, Some("/bin/sudo".into()));
    assert_eq!(a_now.creds, Some(root));

    let setuid = Creds {
        uid: 0,
        euid: 0,
        ..root
    };
    model.apply(&Event {
        creds: Some(setuid),
        comm: Comm::from("sudo"),
        ..a.event(1020, Kind::Uid { inferred: false })
    });
    assert_eq!(model.get(a.key()).unwrap().creds, Some(setuid));
}

#[test]
fn orphans_go_to_pid_1() {
    let mut model = seeded();
    let a = p(100, 1, 1000);
    let b = p(200, 100, 1100);
    let c = p(201, 100, 1200);
    apply_all(&mut model, &[a.fork(), b.fork(), c.fork(), c.exit(1300, 0)]);
    let applied = model.apply(&a.exit(1400, 0));
    assert!(applied.exited);
    assert_eq!(
        applied.orphans,
        Some(Orphans {
            children: vec![b.key()],
            to: Some(INIT.key()),
        })
    );
    // The exited child stays with its exited parent while they linger.
    assert_eq!(
        tree(&model),
        [
            "1 init",
            "  100 sh (exit 0)",
            "    201 sh (exit 0)",
            "  200 sh"
        ]
    );
    assert_eq!(model.get(b.key()).unwrap().ppid, 1);
    assert!(!in_subtree(&model, b.key(), a.key()));
    // Its next event confirms the move: nothing to correct, nothing learned.
    let applied = model.apply(&b.under(1).exec(1500, &["b"]));
    assert_eq!(applied.moved, None);
    assert!(!model.get(INIT.key()).unwrap().subreaper);
}

#[test]
fn a_fork_after_its_parent_exited_runs_the_parent_program_under_the_reaper() {
    let mut model = seeded();
    let a = p(100, 1, 1000);
    let b = p(200, 100, 1100);
    apply_all(
        &mut model,
        &[
            a.fork(),
            a.exec(1001, &["make"]),
            a.named("make").exit(1300, 0),
        ],
    );
    let applied = model.apply(&b.named("make").fork());
    assert!(applied.started);
    let child = model.get(b.key()).unwrap();
    assert_eq!(child.program.argv, ["make"]);
    assert_eq!(child.ppid, 1);
    assert_eq!(model.parent(b.key()).unwrap().key, INIT.key());
}

#[test]
fn a_late_fork_takes_the_program_of_the_parent_it_names() {
    let mut model = Model::new(Config {
        linger_ns: 1000 * MS,
        ..Config::default()
    });
    model.seed(&[INIT.info("init", &["/sbin/init"])]);
    let a = p(100, 1, 1000);
    let b = p(200, 100, 1100);
    let c = p(300, 100, 1200);
    apply_all(
        &mut model,
        &[
            a.fork(),
            a.exec(1001, &["make"]),
            a.named("make").exit(1300, 0),
        ],
    );
    // b and c are first seen after a exited: the kernel gave them to pid 1.
    apply_all(
        &mut model,
        &[b.thread(1400, 201, Kind::ThreadStart), c.exit(1400, 0)],
    );
    assert_eq!(model.parent(b.key()).unwrap().key, INIT.key());
    // b's fork comes late: its program is a's, not its reaper's.
    model.apply(&b.fork());
    assert_eq!(model.get(b.key()).unwrap().program.argv, ["make"]);
    assert_eq!(model.parent(b.key()).unwrap().key, INIT.key());
    // c's fork comes after c left the tree: the history keeps what it knew.
    model.tick(2500 * MS);
    assert!(!model.in_tree(c.key()));
    model.apply(&c.fork());
    assert!(model.get(c.key()).unwrap().program.argv.is_empty());
}

#[test]
fn orphans_go_to_a_learned_subreaper() {
    let mut model = seeded();
    let reaper = p(50, 1, 500);
    let a = p(100, 50, 1000);
    let b = p(200, 100, 1100);
    apply_all(&mut model, &[reaper.fork(), a.fork(), b.fork()]);
    // Not known to be a subreaper yet: the model sends b to pid 1.
    let applied = model.apply(&a.exit(1200, 0));
    assert_eq!(applied.orphans.unwrap().to, Some(INIT.key()));

    // b's next event shows where the kernel really put it.
    let applied = model.apply(&b.under(50).exec(1300, &["b"]));
    assert_eq!(
        applied.moved,
        Some(Move {
            from: Some(INIT.key()),
            to: Some(reaper.key()),
        })
    );
    assert!(model.get(reaper.key()).unwrap().subreaper);
    assert!(in_subtree(&model, b.key(), reaper.key()));
    // A report from before the move, delivered late, names the dead parent: ignored.
    assert_eq!(
        model.apply(&b.thread(1250, 201, Kind::ThreadStart)).moved,
        None
    );
    assert_eq!(model.parent(b.key()).unwrap().key, reaper.key());

    // From now on the reaper gets its descendants' orphans directly.
    let c = p(300, 50, 1400);
    let d = p(400, 300, 1500);
    let e = p(500, 400, 1600);
    apply_all(&mut model, &[c.fork(), d.fork(), e.fork()]);
    let applied = model.apply(&d.exit(1700, 0));
    assert_eq!(
        applied.orphans,
        Some(Orphans {
            children: vec![e.key()],
            to: Some(reaper.key()),
        })
    );
    assert_eq!(model.get(e.key()).unwrap().ppid, 50);
    assert_eq!(
        model
            .ancestry(e.key())
            .iter()
            .map(|p| p.key.pid)
            .collect::<Vec<_>>(),
        [50, 1]
    );
    // Orphans outside the reaper's subtree still go to pid 1.
    let f = p(600, 1, 1800);
    let g = p(700, 600, 1900);
    apply_all(&mut model, &[f.fork(), g.fork()]);
    assert_eq!(
        model.apply(&f.exit(2000, 0)).orphans.unwrap().to,
        Some(INIT.key())
    );
}

#[test]
fn exited_processes_linger_then_stay_in_the_history() {
    let mut model = seeded();
    let a = p(100, 1, 1000);
    let b = p(200, 100, 1100);
    apply_all(
        &mut model,
        &[a.fork(), b.fork(), b.exit(1500, 9), a.exit(2000, 0)],
    );
    let generation = model.generation();
    model.tick(1500 * MS + DEFAULT_LINGER_NS - 1);
    assert!(model.in_tree(b.key()));
    assert_eq!(model.generation(), generation, "nothing left yet");
    model.tick(1500 * MS + DEFAULT_LINGER_NS);
    assert!(!model.in_tree(b.key()));
    assert_ne!(model.generation(), generation);
    assert_eq!(tree(&model), ["1 init", "  100 sh (exit 0)"]);
    assert_eq!(
        model.counts(),
        Counts {
            alive: 1,
            exited: 1,
            history: 1,
            lost: 0,
            dropped_for_memory: 0
        }
    );

    // Events advance time too.
    model.apply(&p(300, 1, 7000).fork());
    assert_eq!(tree(&model), ["1 init", "  300 sh"]);
    assert_eq!(model.counts().history, 2);

    // The details view still finds them.
    let b_then = model.get(b.key()).unwrap();
    assert_eq!(
        b_then.exit,
        Some(Exit {
            ts_ns: 1500 * MS,
            status: ExitStatus::Code(9)
        })
    );
    assert_eq!(b_then.run_ns(), Some(400 * MS));
    assert_eq!(model.history(b.key()).unwrap().events.len(), 2);
    assert_eq!(
        model
            .ancestry(b.key())
            .iter()
            .map(|p| p.key.pid)
            .collect::<Vec<_>>(),
        [100, 1]
    );
    assert_eq!(model.children(a.key()).count(), 0);
    assert_eq!(model.subtree(a.key()).count(), 0);
}

#[test]
fn linger_is_configurable() {
    let mut model = Model::new(Config {
        linger_ns: 0,
        ..Config::default()
    });
    let a = p(100, 1, 1000);
    apply_all(&mut model, &[a.fork(), a.exit(1100, 0)]);
    assert!(!model.in_tree(a.key()));
    assert!(model.get(a.key()).is_some());
}

#[test]
fn memory_stays_bounded_under_endless_churn() {
    const PROCESSES: u64 = 1_000_000;
    let mut model = seeded();
    let server = p(2, 1, 100);
    model.apply(&server.fork());
    for i in 0..PROCESSES {
        // Pids wrap as on a machine with pid_max 32768; starts 10 us apart.
        let start = 1_000_000_000 + i * 10_000;
        let child = P {
            pid: 300 + (i % 32_000) as u32,
            ppid: 2,
            start,
            comm: "sh",
        };
        let mut fork = child.fork();
        fork.ts_ns = start;
        let mut exit = child.exit(0, 0);
        exit.ts_ns = start + 5_000;
        model.apply(&fork);
        model.apply(&exit);
        if i % 10 == 0 {
            let thread = server.thread(0, 3, Kind::ThreadStart);
            model.apply(&Event {
                ts_ns: start + 6_000,
                ..thread
            });
        }
    }
    let counts = model.counts();
    assert_eq!(counts.alive, 2);
    assert!(counts.exited <= DEFAULT_MAX_LINGERING, "{counts:?}");
    assert_eq!(counts.history, DEFAULT_HISTORY_LEN);
    // Nothing else grows: every node is alive, lingering or in the history.
    let held = counts.alive + counts.exited + counts.history;
    assert_eq!(model.index.len(), held);
    assert_eq!(model.nodes.iter().flatten().count(), held);
    assert!(model.nodes.len() <= held + 1);
    assert!(model.by_pid.len() <= 32_300);
    assert!(model.node(model.slot(server.key()).unwrap()).children.len() <= DEFAULT_MAX_LINGERING);

    let log = model.history(server.key()).unwrap();
    assert_eq!(log.events.len(), DEFAULT_EVENTS_PER_PROCESS);
    assert_eq!(
        log.omitted,
        PROCESSES / 10 + 1 - DEFAULT_EVENTS_PER_PROCESS as u64
    );
    assert_eq!(log.events[0].kind, Kind::Fork, "the first events are kept");
    assert!(
        model
            .nodes
            .iter()
            .flatten()
            .all(|n| n.process.log.records.len() <= DEFAULT_EVENTS_PER_PROCESS)
    );
}

#[test]
fn lost_events_are_counted_and_reconcile_resyncs() {
    let mut model = seeded();
    let a = p(100, 1, 1000);
    let b = p(200, 1, 1100);
    let c = p(300, 200, 1200);
    let d = p(400, 1, 1300);
    let zombie = p(500, 1, 1400);
    apply_all(&mut model, &[a.fork(), b.fork(), c.fork()]);
    // Meanwhile a and b exited and d started, but the source lost those events.
    model.apply(&Event::lost(2000 * MS, 5));
    assert_eq!(model.counts().lost, 5);

    let mut zombie_info = zombie.info("z", &[]);
    zombie_info.state = 'Z';
    let mut busy = d.info("d", &["d", "--serve"]);
    busy.threads = 4;
    let changes = model.reconcile(&[
        INIT.info("init", &["/sbin/init"]),
        c.under(1).info("c", &["c"]),
        busy,
        zombie_info,
    ]);
    let started: Vec<_> = changes
        .iter()
        .filter(|c| c.started)
        .map(|c| c.key)
        .collect();
    let exited: Vec<_> = changes.iter().filter(|c| c.exited).map(|c| c.key).collect();
    assert_eq!(started, [Some(d.key()), Some(zombie.key())]);
    assert_eq!(exited.len(), 3);
    assert!(exited.contains(&Some(a.key())) && exited.contains(&Some(b.key())));
    assert!(exited.contains(&Some(zombie.key())));
    assert_eq!(
        tree(&model),
        [
            "1 init",
            "  100 sh (gone)",
            "  200 sh (gone)",
            "  300 c",
            "  400 d",
            "  500 z (gone)",
        ]
    );
    let d_now = model.get(d.key()).unwrap();
    assert_eq!((d_now.threads, d_now.program.argv.len()), (4, 2));
    assert_eq!(model.counts().alive, 3);

    // a's exit event was only late: it gives the real status, and is not a second exit.
    let applied = model.apply(&a.exit(1900, 4));
    assert!(!applied.exited);
    assert_eq!(
        model.get(a.key()).unwrap().exit.unwrap().status,
        ExitStatus::Code(4)
    );
}

#[test]
fn queries_follow_the_tree() {
    let mut model = seeded();
    let a = p(100, 1, 1000);
    let b = p(200, 100, 1100);
    let c = p(300, 200, 1200);
    let d = p(400, 100, 1300);
    let applied = apply_all(&mut model, &[a.fork(), b.fork(), c.fork(), d.fork()]);
    assert!(applied.iter().all(|a| a.started && a.moved.is_none()));
    let pids = |ps: Vec<&Process>| ps.iter().map(|p| p.key.pid).collect::<Vec<_>>();
    assert_eq!(pids(model.subtree(a.key()).collect()), [100, 200, 300, 400]);
    assert_eq!(pids(model.children(a.key()).collect()), [200, 400]);
    assert_eq!(pids(model.ancestry(c.key())), [200, 100, 1]);
    let roots = model.iter().filter(|p| model.parent(p.key).is_none());
    assert_eq!(pids(roots.collect()), [1]);
    assert!(in_subtree(&model, c.key(), a.key()));
    assert!(in_subtree(&model, a.key(), a.key()));
    assert!(!in_subtree(&model, a.key(), c.key()));
    assert_eq!(model.iter().count(), 5);
    assert_eq!(model.current(300), Some(c.key()));
    assert_eq!(model.current(301), None);
    assert!(model.get(p(300, 200, 5000).key()).is_none());
}

/// A process keeps the namespace and cgroup path its events told, until one tells another
/// path; events that know neither change nothing.
#[test]
fn namespace_and_cgroup_path_come_from_events_that_know_them() {
    use crate::event::{CgroupPath, PidNamespace};
    let a = p(100, 1, 1000);
    let ns = PidNamespace {
        inode: 4026532000,
        pid: 1,
    };
    let placed = |ts, path: &str, kind| Event {
        pid_ns: Some(ns),
        cgroup: Some(CgroupPath::from(path)),
        ..a.event(ts, kind)
    };
    let mut model = Model::default();
    model.apply(&placed(1000, "/ctr", Kind::Fork));
    model.apply(&a.event(1001, Kind::ThreadStart));
    let got = model.get(a.key()).unwrap();
    assert_eq!(got.pid_ns, Some(ns));
    assert_eq!(got.cgroup, Some(CgroupPath::from("/ctr")));
    model.apply(&placed(1002, "/moved", Kind::Uid { inferred: false }));
    let got = model.get(a.key()).unwrap();
    assert_eq!(got.cgroup, Some(CgroupPath::from("/moved")));
}
