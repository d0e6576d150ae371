use super::*;
use crate::{
    event::{ExitStatus, KindName},
    tracker::model::testing::{INIT, MS, P, apply_all, p, seeded},
};

/// Tells a pin (or every pin) what applying `event` changed, as the tracker does; whether
/// the event concerned it.
fn told(pin: &mut impl Follower, model: &Model, event: &Event, applied: &Applied) -> bool {
    pin.follow(
        &Change::of_event(model, event, applied),
        &mut Outcome::default(),
    )
}

/// Tells a pin a change a re-sync with /proc found, as the tracker does.
fn resynced(pin: &mut Pin, model: &Model, applied: &Applied) {
    pin.follow(&Change::of_resync(model, applied), &mut Outcome::default());
}

/// Applies each event to the model, then to the pin; the events that concerned the pin.
fn feed(model: &mut Model, pin: &mut Pin, events: &[Event]) -> Vec<(u32, KindName)> {
    events
        .iter()
        .filter(|event| {
            let applied = model.apply(event);
            told(pin, model, event, &applied)
        })
        .map(|e| (e.pid, e.kind_name()))
        .collect()
}

fn pinned(model: &Model, root: P) -> Pin {
    Pin::new(model, root.key()).unwrap()
}

fn alive(pin: &Pin) -> Vec<u32> {
    let mut pids: Vec<u32> = pin
        .known()
        .filter(|&k| pin.contains(k))
        .map(|k| k.pid)
        .collect();
    pids.sort_unstable();
    pids
}

/// Whether `key` belongs to any pin (alive, or exited and remembered).
fn is_pinned(pins: &Pins, key: ProcessKey) -> bool {
    pins.list().iter().any(|p| p.membership(key).is_some())
}

use KindName::{Exec, Exit, Fork, Lost};

#[test]
fn children_and_grandchildren_born_later_join() {
    let mut model = seeded();
    let root = p(100, 1, 1000);
    let old = p(150, 100, 1050);
    apply_all(&mut model, &[root.fork(), old.fork()]);
    let mut pin = pinned(&model, root);
    assert_eq!(alive(&pin), [100, 150], "its descendants when pinned");

    let child = p(200, 100, 1100);
    let grandchild = p(300, 200, 1200);
    let outside = p(400, 1, 1150);
    let outside_child = p(401, 400, 1160);
    let seen = feed(
        &mut model,
        &mut pin,
        &[
            child.fork(),
            outside.fork(),
            child.exec(1110, &["make"]),
            grandchild.fork(),
            outside_child.fork(),
            grandchild.exec(1210, &["cc"]),
            outside_child.exit(1250, 0),
            grandchild.exit(1300, 0),
        ],
    );
    assert_eq!(
        seen,
        [
            (200, Fork),
            (200, Exec),
            (300, Fork),
            (300, Exec),
            (300, Exit)
        ]
    );
    assert_eq!(alive(&pin), [100, 150, 200]);
    assert_eq!(
        pin.membership(grandchild.key()),
        Some(Membership::Exited { ts_ns: 1300 * MS })
    );
    assert_eq!(pin.membership(outside.key()), None);
    assert_eq!(
        pin.counts(),
        PinCounts {
            alive: 3,
            joined: 2,
            exited: 1,
            left: 0
        }
    );
    let logged: Vec<u32> = pin.log().map(|e| e.pid).collect();
    assert_eq!(logged, [200, 200, 300, 300, 300]);
}

#[test]
fn the_pin_outlives_its_root_while_orphans_adopted_by_init_live() {
    let mut model = seeded();
    let root = p(100, 1, 1000);
    let child = p(200, 100, 1100);
    apply_all(&mut model, &[root.fork(), child.fork()]);
    let mut pin = pinned(&model, root);

    let seen = feed(&mut model, &mut pin, &[root.exit(1200, 0)]);
    assert_eq!(seen, [(100, Exit)]);
    assert_eq!(
        pin.membership(root.key()),
        Some(Membership::Exited { ts_ns: 1200 * MS })
    );
    assert!(!pin.is_empty());
    assert_eq!(alive(&pin), [200]);

    // Now a child of pid 1, still watched, and so are the processes it forks.
    let grandchild = p(300, 200, 1400);
    let seen = feed(
        &mut model,
        &mut pin,
        &[
            child.under(1).exec(1300, &["cc"]),
            grandchild.fork(),
            grandchild.exit(1500, 0),
            child.under(1).exit(1600, 0),
        ],
    );
    assert_eq!(seen, [(200, Exec), (300, Fork), (300, Exit), (200, Exit)]);
    assert!(pin.is_empty());
}

#[test]
fn a_member_handed_to_a_subreaper_outside_leaves_with_its_descendants() {
    let mut model = seeded();
    let reaper = p(50, 1, 500);
    let root = p(100, 50, 1000);
    let child = p(200, 100, 1100);
    let grandchild = p(300, 200, 1200);
    apply_all(
        &mut model,
        &[reaper.fork(), root.fork(), child.fork(), grandchild.fork()],
    );
    let mut pin = pinned(&model, root);

    // The model does not know 50 is a subreaper yet: the child goes to pid 1 and stays...
    let seen = feed(&mut model, &mut pin, &[root.exit(1300, 0)]);
    assert_eq!(seen, [(100, Exit)]);
    assert_eq!(alive(&pin), [200, 300]);
    // ...until its next event shows the kernel gave it to 50: it has left, and with it
    // its child; neither is reported any more.
    let seen = feed(
        &mut model,
        &mut pin,
        &[
            child.under(50).exec(1400, &["daemon"]),
            grandchild.exec(1500, &["worker"]),
            grandchild.exit(1600, 0),
        ],
    );
    assert_eq!(seen, []);
    assert!(pin.is_empty());
    assert_eq!(pin.membership(child.key()), None);
    assert_eq!(pin.counts().left, 2);

    // Once the model knows the subreaper, orphans go to it at once, and leave at once.
    let root2 = p(110, 50, 2000);
    let child2 = p(210, 110, 2100);
    apply_all(&mut model, &[root2.fork(), child2.fork()]);
    let mut pin = pinned(&model, root2);
    assert_eq!(alive(&pin), [110, 210]);
    let seen = feed(
        &mut model,
        &mut pin,
        &[root2.exit(2200, 0), child2.under(50).exit(2300, 0)],
    );
    assert_eq!(seen, [(110, Exit)]);
    assert!(pin.is_empty());
}

#[test]
fn the_root_stays_whoever_adopts_it() {
    let mut model = seeded();
    let reaper = p(50, 1, 500);
    let parent = p(60, 50, 600);
    let root = p(100, 60, 1000);
    apply_all(&mut model, &[reaper.fork(), parent.fork(), root.fork()]);
    let mut pin = pinned(&model, root);
    let seen = feed(
        &mut model,
        &mut pin,
        &[parent.exit(700, 0), root.under(50).exec(1100, &["x"])],
    );
    assert_eq!(seen, [(100, Exec)]);
    assert_eq!(alive(&pin), [100]);
}

#[test]
fn orphans_adopted_by_a_subreaper_inside_stay() {
    let mut model = seeded();
    let root = p(100, 1, 1000);
    let reaper = p(150, 100, 1050);
    let a = p(200, 150, 1100);
    let b = p(300, 200, 1200);
    apply_all(
        &mut model,
        &[root.fork(), reaper.fork(), a.fork(), b.fork()],
    );
    let mut pin = pinned(&model, root);

    // To pid 1 first, then corrected to the reaper inside: a member all along.
    let seen = feed(
        &mut model,
        &mut pin,
        &[a.exit(1300, 0), b.under(150).exec(1400, &["b"])],
    );
    assert_eq!(seen, [(200, Exit), (300, Exec)]);
    assert_eq!(alive(&pin), [100, 150, 300]);
    assert_eq!(model.parent(b.key()).unwrap().key, reaper.key());

    // Known as a subreaper now: orphans go to it directly, and stay.
    let a2 = p(210, 150, 1500);
    let b2 = p(310, 210, 1600);
    let seen = feed(
        &mut model,
        &mut pin,
        &[
            a2.fork(),
            b2.fork(),
            a2.exit(1700, 0),
            b2.under(150).exit(1800, 0),
        ],
    );
    assert_eq!(seen, [(210, Fork), (310, Fork), (210, Exit), (310, Exit)]);
    assert_eq!(pin.counts().left, 0);
}

#[test]
fn a_process_the_model_corrects_into_the_pin_joins() {
    let mut model = seeded();
    let root = p(100, 1, 1000);
    let reaper = p(150, 100, 1050);
    let a = p(200, 150, 1100);
    let b = p(300, 200, 1200);
    apply_all(
        &mut model,
        &[
            root.fork(),
            reaper.fork(),
            a.fork(),
            b.fork(),
            a.exit(1300, 0),
        ],
    );
    // Pinned while the model wrongly has b under pid 1.
    let mut pin = pinned(&model, root);
    assert!(!pin.contains(b.key()));
    let seen = feed(&mut model, &mut pin, &[b.under(150).exec(1400, &["b"])]);
    assert_eq!(seen, [(300, Exec)]);
    assert!(pin.contains(b.key()));
    assert_eq!(pin.counts().joined, 1);
}

#[test]
fn a_reused_pid_is_another_process() {
    let mut model = seeded();
    let root = p(100, 1, 1000);
    let child = p(200, 100, 1100);
    apply_all(&mut model, &[root.fork(), child.fork()]);
    let mut pin = pinned(&model, root);
    let stranger = p(200, 1, 2000);
    let stranger_child = p(201, 200, 2100);
    let root_again = p(100, 1, 3000);
    let seen = feed(
        &mut model,
        &mut pin,
        &[
            child.exit(1500, 0),
            stranger.fork(),
            stranger.exec(2010, &["other"]),
            stranger_child.fork(),
            root.exit(2500, 0),
            root_again.fork(),
            root_again.exec(3010, &["again"]),
        ],
    );
    assert_eq!(seen, [(200, Exit), (100, Exit)]);
    assert!(pin.is_empty());
    assert_eq!(
        pin.membership(child.key()),
        Some(Membership::Exited { ts_ns: 1500 * MS })
    );
    assert_eq!(pin.membership(stranger.key()), None);
}

#[test]
fn a_fork_that_arrives_after_its_parent_exited_still_joins() {
    // Backends other than eBPF can deliver a parent's exit before the fork of its child;
    // the kernel gave the child to pid 1, so it is a member.
    let mut model = seeded();
    let root = p(100, 1, 1000);
    let child = p(200, 100, 1100);
    let late = p(300, 200, 1200);
    apply_all(
        &mut model,
        &[root.fork(), child.fork(), child.exec(1150, &["make"])],
    );
    let mut pin = pinned(&model, root);
    let seen = feed(&mut model, &mut pin, &[child.exit(1300, 0), late.fork()]);
    assert_eq!(seen, [(200, Exit), (300, Fork)]);
    assert!(pin.contains(late.key()));
    // It runs what its parent ran, not what pid 1 runs.
    assert_eq!(model.get(late.key()).unwrap().program.argv, ["make"]);
}

#[test]
fn the_mask_filters_what_is_reported_not_who_is_a_member() {
    let mut model = seeded();
    let root = p(100, 1, 1000);
    apply_all(&mut model, &[root.fork()]);
    let mut pin = pinned(&model, root);
    pin.set_mask("exec,exit".parse().unwrap());
    let child = p(200, 100, 1100);
    let seen = feed(
        &mut model,
        &mut pin,
        &[
            child.fork(),
            child.thread(1150, 201, Kind::ThreadStart),
            child.exec(1200, &["cc"]),
            Event::lost(1250 * MS, 3),
            child.exit(1300, 0),
        ],
    );
    assert_eq!(seen, [(200, Exec), (0, Lost), (200, Exit)]);
    assert_eq!(pin.counts().joined, 1);
}

#[test]
fn the_log_and_the_exited_members_stay_bounded() {
    let mut model = seeded();
    let root = p(100, 1, 1000);
    apply_all(&mut model, &[root.fork()]);
    let mut pin = pinned(&model, root);
    pin.set_log_len(3);
    let children: Vec<P> = (0..EXITED_KEPT as u32 + 10)
        .map(|i| p(1000 + i % 20_000, 100, 2000 + u64::from(i)))
        .collect();
    for child in &children {
        let ms = child.start / MS;
        feed(&mut model, &mut pin, &[child.fork(), child.exit(ms, 0)]);
    }
    let kept: Vec<(u32, KindName)> = pin.log().map(|e| (e.pid, e.kind_name())).collect();
    let last = children.last().unwrap().pid;
    assert_eq!(kept, [(last - 1, Exit), (last, Fork), (last, Exit)]);
    assert_eq!(pin.log_omitted(), 2 * children.len() as u64 - 3);
    assert_eq!(pin.members.len(), 1 + EXITED_KEPT);
    assert_eq!(pin.membership(children[0].key()), None, "forgotten");
    assert!(pin.membership(children[10].key()).is_some());
    assert_eq!(pin.counts().exited, children.len() as u64);
}

#[test]
fn the_log_keeps_within_its_bytes_the_oldest_leaving_first() {
    let mut model = seeded();
    let root = p(100, 1, 1000);
    apply_all(&mut model, &[root.fork()]);
    let mut pin = pinned(&model, root);
    // Execs of 8,000 empty arguments: the byte budget, not the length, bounds the log.
    let empties = vec![""; 8000];
    let children: Vec<P> = (0..300)
        .map(|i| p(1000 + i, 100, 2000 + u64::from(i)))
        .collect();
    for child in &children {
        let ms = child.start / MS;
        feed(
            &mut model,
            &mut pin,
            &[child.fork(), child.exec(ms, &empties), child.exit(ms, 0)],
        );
    }
    let bytes: usize = pin.log().map(Event::byte_size).sum();
    assert!(bytes <= LOG_BYTES, "{bytes}");
    assert!(pin.log().len() < DEFAULT_LOG_LEN);
    assert!(pin.log().len() > 3 * 100, "only the execs are big");
    assert_eq!(
        pin.log_omitted(),
        3 * children.len() as u64 - pin.log().len() as u64
    );
    let last = pin.log().last().unwrap();
    assert_eq!(
        (last.pid, last.kind_name()),
        (1299, Exit),
        "the newest stay"
    );
    assert_eq!(pin.log_bytes, bytes);

    // A replayed exec of 16 MiB is kept cut, as a live source would have given it.
    let big = p(2000, 100, 5000);
    let mut exec = big.exec(5001, &["x"]);
    if let Kind::Exec { argv, .. } = &mut exec.kind {
        *argv = crate::event::Argv::from_area(&vec![b'x'; 16 << 20]);
    }
    feed(&mut model, &mut pin, &[big.fork(), exec]);
    let kept = pin.log().last().unwrap();
    assert!(kept.byte_size() < 2 * crate::event::MAX_ARGV_BYTES);
    assert!(pin.log().len() > 2, "one event does not empty the log");
}

#[test]
fn reconcile_after_lost_events_finds_exits_and_births() {
    let mut model = seeded();
    let root = p(100, 1, 1000);
    let child = p(200, 100, 1100);
    apply_all(&mut model, &[root.fork(), child.fork()]);
    let mut pin = pinned(&model, root);
    // The child's exit and the fork of another child were lost; /proc tells.
    let seen = feed(&mut model, &mut pin, &[Event::lost(1500 * MS, 2)]);
    assert_eq!(seen, [(0, Lost)]);
    let born = p(300, 100, 1200);
    let init = INIT.info("init", &["/sbin/init"]);
    for change in model.reconcile(&[init.clone(), root.info("sh", &[]), born.info("sh", &[])]) {
        resynced(&mut pin, &model, &change);
    }
    assert_eq!(alive(&pin), [100, 300]);
    assert!(matches!(
        pin.membership(child.key()),
        Some(Membership::Exited { .. })
    ));
    // Then everything was lost: the pin is empty.
    for change in model.reconcile(&[init]) {
        resynced(&mut pin, &model, &change);
    }
    assert!(pin.is_empty());
    assert_eq!(pin.counts().exited, 3);
}

#[test]
fn unknown_roots_are_errors_and_pins_are_named_by_their_roots() {
    let mut model = seeded();
    let a = p(100, 1, 1000);
    let b = p(200, 100, 1100);
    apply_all(&mut model, &[a.fork(), b.fork()]);
    assert_eq!(
        live_root(&model, 4242).unwrap_err().to_string(),
        "no process with pid 4242"
    );
    assert_eq!(
        Pin::new(&model, p(4242, 1, 5).key())
            .unwrap_err()
            .to_string(),
        "process 4242 is not in the process tree"
    );

    let mut pins = Pins::default();
    assert_eq!(
        pins.add_pid(&model, 4242).unwrap_err().to_string(),
        "cannot pin: no process with pid 4242"
    );
    pins.add_pid(&model, 100).unwrap();
    assert!(pins.toggle(&model, b.key()).unwrap());
    assert_eq!(pins.len(), 2);
    assert!(is_pinned(&pins, b.key()));
    assert!(!pins.toggle(&model, a.key()).unwrap());
    assert_eq!(pins.list()[0].root(), b.key());
    assert!(is_pinned(&pins, b.key()) && !is_pinned(&pins, a.key()));
    pins.add(&model, b.key()).unwrap();
    assert_eq!(pins.len(), 1, "pinning twice is one pin");

    // Nested pins each follow the event.
    pins.add(&model, a.key()).unwrap();
    let c = p(300, 200, 1200);
    let event = c.fork();
    let applied = model.apply(&event);
    assert!(told(&mut pins, &model, &event, &applied));
    for root in [a.key(), b.key()] {
        let pin = pins.get(root).unwrap();
        assert_eq!(
            (pin.log().len(), pin.alive()),
            (1, 3 - usize::from(root == b.key()))
        );
    }
    assert!(pins.remove(b.key()).is_some() && pins.len() == 1);
}

/// `cpu_ms` of CPU and `rss_mib` resident, as a sample of `proc` at `ts_ms` says.
fn sample(proc: P, ts_ms: u64, cpu_ms: u64, rss_mib: u64) -> Event {
    proc.event(
        ts_ms,
        Kind::Sample(crate::event::Sample {
            cpu_ns: cpu_ms * MS,
            rss_bytes: rss_mib << 20,
            ..Default::default()
        }),
    )
}

/// An exit with `code` after `cpu_ms` of CPU (user and system halves) and a peak of
/// `rss_mib`, as the probe reports it.
fn exit_after(proc: P, ts_ms: u64, code: i32, cpu_ms: u64, rss_mib: u64) -> Event {
    let usage = crate::event::Usage {
        user_ns: cpu_ms * MS / 2,
        system_ns: cpu_ms * MS / 2,
        max_rss_bytes: rss_mib << 20,
        ..Default::default()
    };
    proc.event(
        ts_ms,
        Kind::Exit(ExitStatus::Code(code), Some(Box::new(usage))),
    )
}

#[test]
fn totals_count_members_gone_as_they_ended_and_the_living_as_last_sampled() {
    let mut model = seeded();
    let root = p(100, 1, 1000);
    apply_all(&mut model, &[root.fork(), sample(root, 1001, 10, 5)]);
    let mut pin = pinned(&model, root);

    let short = p(200, 100, 1100);
    let sampled = p(201, 100, 1100);
    let killed = p(202, 100, 1100);
    let outside = p(300, 1, 1100);
    let seen = feed(
        &mut model,
        &mut pin,
        &[
            short.fork(),
            sampled.fork(),
            killed.fork(),
            outside.fork(),
            // Never sampled: only its exit tells what it cost.
            exit_after(short, 1102, 0, 40, 300),
            sample(sampled, 1200, 70, 20),
            sample(root, 1200, 30, 8),
            sample(outside, 1200, 5_000, 4_000),
            // The proc connector's exit: no usage; its last sample stands.
            sampled.event(1300, Kind::Exit(ExitStatus::Code(2), None)),
            killed.event(
                1400,
                Kind::Exit(
                    ExitStatus::Signal {
                        signal: 9,
                        core_dumped: false,
                    },
                    None,
                ),
            ),
        ],
    );
    assert!(
        !seen.iter().any(|(_, kind)| *kind == KindName::Sample),
        "samples are not logged: {seen:?}"
    );
    let totals = pin.totals(&model);
    assert_eq!(totals.cpu_ns, (40 + 70 + 30) * MS, "{totals:?}");
    assert_eq!(totals.cpu_unknown, 1, "the killed one was never sampled");
    assert_eq!(totals.peak_rss_bytes, 300 << 20);
    assert_eq!((totals.started, totals.alive, totals.ended()), (3, 1, 3));
    assert_eq!(totals.endings_line(), "1 exit 0, 1 exit 2, 1 SIGKILL");
}
