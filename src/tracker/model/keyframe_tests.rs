//! A recording's keyframes against the model: starting a replay at a keyframe gives the
//! same live processes at any time as replaying from the beginning.

use super::{
    Model,
    testing::{INIT, MS, P, p},
};
use crate::{
    event::{Event, Kind},
    recording::{Alive, Info, LiveSet, Replay, Writer},
};

/// Forks, execs, thread starts and exits (orphans among them) in a pid space small enough
/// that pids are reused; a keyframe of a model fed the same events every 300 of them.
fn recorded(path: &std::path::Path) -> Vec<Event> {
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut random = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let snapshot = [INIT.info("init", &["/sbin/init"])];
    let info = Info {
        start_ns: 10 * MS,
        ..Info::default()
    };
    let mut writer = Writer::new(std::fs::File::create(path).unwrap(), &info, &snapshot).unwrap();
    let mut live: Box<dyn LiveSet> = Model::for_keyframes(&snapshot);
    let mut alive: Vec<P> = vec![INIT];
    let mut ended = [0; 400];
    let mut events = Vec::new();
    for step in 0..3_000_u64 {
        let ts = 20 + step;
        let event = match random(4) {
            0 | 1 if alive.len() < 200 => {
                let parent = alive[random(alive.len())];
                // Not a pid that ended within a clock tick: the model, like /proc, tells
                // processes apart by their start time in ticks.
                let free = (2..400).find(|pid| {
                    alive.iter().all(|p| p.pid != *pid) && ended[*pid as usize] + 20 < ts
                });
                let child = p(free.unwrap(), parent.pid, ts);
                alive.push(child);
                child.fork()
            }
            2 => alive[random(alive.len())].exec(ts, &["job", &step.to_string()]),
            3 if alive.len() > 1 => {
                let gone = alive.remove(1 + random(alive.len() - 1));
                ended[gone.pid as usize] = ts;
                // Its children are init's now.
                for orphan in alive.iter_mut().filter(|p| p.ppid == gone.pid) {
                    orphan.ppid = 1;
                }
                gone.exit(ts, 0)
            }
            _ => alive[random(alive.len())].thread(ts, 1_000 + step as u32, Kind::ThreadStart),
        };
        writer.push(&event).unwrap();
        live.apply(&event);
        if step % 300 == 299 {
            writer.write_keyframe(ts * MS, &live.alive()).unwrap();
        }
        events.push(event);
    }
    writer.finish(4_000 * MS).unwrap();
    events
}

fn sorted(mut alive: Alive) -> Alive {
    alive.processes.sort_by_key(|p| p.pid);
    alive.subreapers.sort_unstable();
    alive.without_creds.sort_unstable();
    alive
}

/// The roots by the parent they name, as `Model::waiting` keeps them (in order).
fn waiting_recounted(model: &Model) -> std::collections::HashMap<u32, Vec<super::Slot>> {
    let mut waiting: std::collections::HashMap<u32, Vec<_>> = std::collections::HashMap::new();
    for &slot in &model.roots {
        waiting
            .entry(model.node(slot).process.ppid)
            .or_default()
            .push(slot);
    }
    waiting.values_mut().for_each(|slots| slots.sort_unstable());
    waiting
}

fn waiting(model: &Model) -> std::collections::HashMap<u32, Vec<super::Slot>> {
    (model.waiting.iter())
        .map(|(&ppid, slots)| {
            let mut slots: Vec<_> = slots.iter().copied().collect();
            slots.sort_unstable();
            (ppid, slots)
        })
        .collect()
}

/// The same processes alive, subreapers and credentials included.
fn assert_same_alive(got: &Model, wanted: &Model, at_ms: u64) {
    let (got, wanted) = (sorted(got.alive()), sorted(wanted.alive()));
    let differ: Vec<_> = (got.processes.iter().zip(&wanted.processes))
        .filter(|(a, b)| a != b)
        .take(2)
        .collect();
    assert!(
        got.processes.len() == wanted.processes.len() && differ.is_empty(),
        "at {at_ms} ms: {} processes, {} wanted; {differ:#?}",
        got.processes.len(),
        wanted.processes.len()
    );
    assert_eq!(
        (got.subreapers, got.without_creds),
        (wanted.subreapers, wanted.without_creds),
        "at {at_ms} ms"
    );
}

#[tokio::test]
async fn a_replay_started_at_a_keyframe_has_the_live_processes_of_one_from_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyframes.fwrec");
    let events = recorded(&path);
    let mut replay = Replay::open(&path).unwrap();
    for at_ms in [25, 700, 1_555, 2_999, 3_019] {
        let at_ns = at_ms * MS;
        let mut from_start = Model::default();
        from_start.seed(&[INIT.info("init", &["/sbin/init"])]);
        for event in events.iter().take_while(|e| e.ts_ns <= at_ns) {
            from_start.apply(event);
        }

        let keyframe = replay.seek_from_keyframe(at_ns).unwrap();
        let mut from_keyframe = Model::default();
        from_keyframe.seed_keyframe(&keyframe);
        let mut batch = Vec::new();
        while replay.is_seeking() {
            replay.next_batch(&mut batch).await;
        }
        let skipped = events
            .iter()
            .take_while(|e| e.ts_ns <= keyframe.at_ns)
            .count();
        assert_eq!(batch[..], events[skipped..skipped + batch.len()]);
        for event in &batch {
            from_keyframe.apply(event);
        }
        assert!(
            at_ms < 320 || keyframe.at_ns > 10 * MS,
            "no keyframe used at {at_ms} ms"
        );
        assert_same_alive(&from_keyframe, &from_start, at_ms);
        for model in [&from_start, &from_keyframe] {
            assert_eq!(waiting(model), waiting_recounted(model), "at {at_ms} ms");
        }
    }
}

/// What a snapshot cannot say still holds after a keyframe: a subreaper learned before it
/// takes the orphans of a process that ends after it, and credentials no source gave stay
/// unknown.
#[tokio::test]
async fn a_keyframe_keeps_subreapers_and_unknown_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("subreaper.fwrec");
    let snapshot = [INIT.info("init", &["/sbin/init"])];
    let info = Info {
        start_ns: 10 * MS,
        ..Info::default()
    };
    let (reaper, middle, grandchild, other) =
        (p(10, 1, 20), p(11, 10, 21), p(12, 11, 22), p(20, 1, 23));
    let no_creds = Event {
        creds: None,
        ..p(30, 1, 24).fork()
    };
    let before = [
        reaper.fork(),
        middle.fork(),
        grandchild.fork(),
        other.fork(),
        no_creds,
        // An orphan moved to the reaper: it is a subreaper.
        other.under(10).event(30, Kind::ThreadStart),
    ];
    // After the keyframe the middle process ends: its child goes to the subreaper.
    let after = [middle.exit(40, 0)];
    let mut writer = Writer::new(std::fs::File::create(&path).unwrap(), &info, &snapshot).unwrap();
    let mut live = Model::default();
    live.seed(&snapshot);
    for event in &before {
        writer.push(event).unwrap();
        live.apply(event);
    }
    writer.write_keyframe(30 * MS, &live.alive()).unwrap();
    for event in &after {
        writer.push(event).unwrap();
        live.apply(event);
    }
    writer.finish(50 * MS).unwrap();
    assert_eq!(live.alive().subreapers, [10]);
    let moved = live
        .live_processes()
        .into_iter()
        .find(|p| p.pid == 12)
        .unwrap();
    assert_eq!(
        moved.ppid, 10,
        "the scenario moves the orphan to the subreaper"
    );

    let mut replay = Replay::open(&path).unwrap();
    let keyframe = replay.seek_from_keyframe(45 * MS).unwrap();
    assert_eq!(keyframe.at_ns, 30 * MS);
    let mut from_keyframe = Model::default();
    from_keyframe.seed_keyframe(&keyframe);
    let mut batch = Vec::new();
    while replay.is_seeking() {
        replay.next_batch(&mut batch).await;
    }
    batch.iter().for_each(|e| {
        from_keyframe.apply(e);
    });
    assert_same_alive(&from_keyframe, &live, 45);
}

#[test]
fn a_process_seen_before_its_parent_is_adopted_when_the_parent_comes() {
    let mut model = crate::tracker::model::testing::seeded();
    let parent = p(50, 1, 100);
    let child = p(51, 50, 200);
    model.apply(&child.exec(300, &["job"]));
    assert!(model.parent(child.key()).is_none(), "at the top, waiting");
    assert_eq!(waiting(&model), waiting_recounted(&model));
    model.apply(&parent.exec(310, &["make"]));
    assert_eq!(model.parent(child.key()).map(|p| p.key), Some(parent.key()));
    assert_eq!(waiting(&model), waiting_recounted(&model));
}

/// Two processes of a crafted stream that name each other as their parent (the second
/// started in the same clock tick): the first is not moved below the second, so no loop
/// forms, and its exit ends.
#[test]
fn processes_that_name_each_other_as_parents_make_no_loop() {
    let mut model = crate::tracker::model::testing::seeded();
    let first = p(5, 7, 100);
    let second = P {
        start: first.start + 1,
        ..p(7, 5, 100)
    };
    model.apply(&first.fork());
    model.apply(&second.fork());
    assert_eq!(model.parent(second.key()).map(|p| p.key), Some(first.key()));
    assert!(model.parent(first.key()).is_none(), "still at the top");
    model.apply(&first.exit(200, 0));
    model.apply(&second.exit(201, 0));
    assert!(
        model
            .live_processes()
            .iter()
            .all(|p| p.pid != 5 && p.pid != 7)
    );
}
