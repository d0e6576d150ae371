//! The critical path of a subtree ([`tracker::critical_path`]) in words: printed by
//! `watch` when it ends and by `replay FILE --critical-path PID`.

use crate::event::host::shown_pid;
use crate::{
    event::{Event, Kind, ProcessKey, duration},
    proc::snapshot::ProcessInfo,
    tracker::{
        critical_path::{Link, critical_path},
        model::{Config, Model},
    },
};

/// Processes a replay's model keeps after they leave the tree: far more than live views
/// keep, as a chain may reach back to the recording's start. Their bytes stay within the
/// model's budget for exited processes.
const REPLAY_HISTORY: usize = 1_000_000;

/// One line per process of `root`'s critical path, root first, after a line that names
/// it; `now_ns` dates a root still running.
pub fn lines(model: &Model, root: ProcessKey) -> Vec<String> {
    let chain = critical_path(model, root);
    let Some(first) = chain.first() else {
        return vec![format!(
            "critical path of pid {}: not known",
            shown_pid(root.pid)
        )];
    };
    let now_ns = model.now_ns();
    let processes = match chain.len() {
        1 => "1 process".to_owned(),
        n => format!("{n} processes"),
    };
    let mut lines = vec![format!(
        "critical path of pid {} ({}): {processes}, {}",
        shown_pid(root.pid),
        first.comm,
        duration::short(first.run_ns(now_ns))
    )];
    let mut parent_end: Option<u64> = None;
    for link in &chain {
        lines.push(line(link, now_ns, parent_end));
        parent_end = Some(link.exit.map_or(now_ns, |e| e.ts_ns));
    }
    lines
}

/// `4243 sleep: 2.0s, exit 0; its parent ended 1.2ms later`.
fn line(link: &Link, now_ns: u64, parent_end: Option<u64>) -> String {
    let run = duration::short(link.run_ns(now_ns));
    let mut line = match link.exit {
        Some(exit) => format!(
            "{} {}: {run}, {}",
            shown_pid(link.key.pid),
            link.comm,
            exit.status
        ),
        None => format!(
            "{} {}: {run} so far, running",
            shown_pid(link.key.pid),
            link.comm
        ),
    };
    if let (Some(parent_end), Some(exit)) = (parent_end, link.exit) {
        let gap = duration::short(parent_end.saturating_sub(exit.ts_ns));
        line.push_str(&format!("; its parent ended {gap} later"));
    }
    line
}

/// A replay's process tree, for the critical path of the first process with a pid.
pub struct Replayed {
    model: Model,
    pid: u32,
    root: Option<ProcessKey>,
}

impl Replayed {
    /// The tree of a recording that starts from `snapshot`, following the first process
    /// with `pid` (in the snapshot, else the first event of that pid).
    pub fn new(snapshot: &[ProcessInfo], pid: u32) -> Self {
        let mut model = Model::new(Config {
            history_len: REPLAY_HISTORY,
            ..Config::default()
        });
        model.seed(snapshot);
        let root = snapshot
            .iter()
            .find(|p| shown_pid(p.pid) == pid)
            .map(|p| ProcessKey::new(p.pid, p.start_ns));
        Self { model, pid, root }
    }

    pub fn apply(&mut self, events: &[Event]) {
        for event in events {
            let about_it =
                shown_pid(event.pid) == self.pid && !matches!(event.kind, Kind::Lost { .. });
            if self.root.is_none() && about_it {
                self.root = Some(ProcessKey::of(event));
            }
            self.model.apply(event);
        }
    }

    /// Its lines ([`lines`]), or `None` if no process had the pid.
    pub fn lines(&mut self, end_ns: u64) -> Option<Vec<String>> {
        self.model.tick(end_ns);
        Some(lines(&self.model, self.root?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::model::testing::{INIT, p, seeded};

    #[test]
    fn a_line_per_process_with_its_run_time_ending_and_the_gap_to_its_parent() {
        let mut model = seeded();
        let root = p(100, 1, 1_000).named("make");
        let child = p(101, 100, 1_100).named("cc");
        for e in [
            root.fork(),
            child.fork(),
            child.exit(3_100, 0),
            root.event(3_102, Kind::Exit(crate::event::ExitStatus::Code(2), None)),
        ] {
            model.apply(&e);
        }
        assert_eq!(
            lines(&model, root.key()),
            [
                "critical path of pid 100 (make): 2 processes, 2.1s",
                "100 make: 2.1s, exit 2",
                "101 cc: 2.0s, exit 0; its parent ended 2.0ms later",
            ]
        );
        let alone = p(200, 1, 4_000).named("sleep");
        model.apply(&alone.fork());
        assert_eq!(
            lines(&model, alone.key()),
            [
                "critical path of pid 200 (sleep): 1 process, 0us",
                "200 sleep: 0us so far, running",
            ]
        );
        // A root still running: the chain of the children ended so far.
        assert_eq!(
            lines(&model, INIT.key())[..2],
            [
                "critical path of pid 1 (init): 3 processes, 4.0s",
                "1 init: 4.0s so far, running",
            ]
        );
    }
}
