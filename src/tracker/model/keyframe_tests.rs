//! A recording's keyframes against the model: starting a replay at a keyframe gives the
//! same live processes at any time as replaying from the beginning.

use super::{
    Model,
    testing::{INIT, MS, P, p},
};
use crate::{
    event::{Event, Kind},
    proc::snapshot::ProcessInfo,
    recording::{Info, LiveSet, Replay, Writer},
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
            writer.write_keyframe(ts * MS, &live.processes()).unwrap();
        }
        events.push(event);
    }
    writer.finish(4_000 * MS).unwrap();
    events
}

fn sorted(mut processes: Vec<ProcessInfo>) -> Vec<ProcessInfo> {
    processes.sort_by_key(|p| p.pid);
    processes
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
        from_keyframe.seed(&keyframe.processes);
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
        let (got, wanted) = (
            sorted(from_keyframe.live_processes()),
            sorted(from_start.live_processes()),
        );
        let differ: Vec<_> = (got.iter().zip(&wanted))
            .filter(|(a, b)| a != b)
            .take(2)
            .collect();
        assert!(
            got.len() == wanted.len() && differ.is_empty(),
            "at {at_ms} ms: {} processes, {} wanted; {differ:#?}",
            got.len(),
            wanted.len()
        );
    }
}
