//! The byte budget of exited processes. An exited process is counted from its exit until
//! the model forgets it: its node, its event log, and the programs it refers to (the one
//! it ran and those of the execs in its log). A program is counted once however many
//! exited processes hold it (a parent and the children it forked share one), for as long
//! as one of them is kept. Live processes are not counted: the machine bounds how many
//! there are, and each program is cut to [`MAX_ARGV_BYTES`](crate::event::MAX_ARGV_BYTES).
//!
//! Only exits and forgetting count, never the events of live processes, so the budget
//! costs the event path nothing but a check.

use std::sync::{Arc, atomic::Ordering};

use super::{
    Model,
    arena::{Node, Slot},
    process::EventLog,
    program::Program,
};
use crate::event::{CgroupPath, Event, Kind};

/// Bytes the exited processes may hold together by default: about 65,000 with short
/// command lines (1 KiB each: the count limits come first), or 3,900 with 8,000 empty
/// arguments each (17 KiB: the argv and its search copy).
pub const DEFAULT_EXITED_BYTES: usize = 64 << 20;

/// What the programs of one process's event log may hold: its execs' argv and file names
/// (the one it runs included), 16 programs of ordinary size, 3 at the caps. Past it the
/// oldest execs in the log lose theirs and are flagged as cut.
pub const LOG_PROGRAM_BYTES: usize = 64 << 10;

/// A process's share of the model's tables besides its node: its index entry, its place
/// in the lingering queue and the history, its change stamp.
const TABLE_BYTES: usize = 64;

impl Program {
    /// Bytes it holds, its reference counts included.
    pub(super) fn byte_size(&self) -> usize {
        2 * size_of::<usize>()
            + size_of::<Self>()
            + self.filename.as_ref().map_or(0, |f| f.len())
            + self.argv.byte_len()
            + self.search.capacity()
    }

    /// A program that holds nothing beyond itself (the one of processes whose program is
    /// unknown, which every model shares) is not counted.
    fn counted(&self) -> bool {
        self.filename.is_some() || !self.argv.is_empty()
    }
}

impl EventLog {
    /// Lets go of the programs of the oldest execs in the log, the newest's kept, while
    /// they hold more than [`LOG_PROGRAM_BYTES`]: each exec's argv and file name are
    /// shown cut to nothing.
    pub(super) fn keep_programs_within(&mut self) {
        let Some(newest) = self.records.iter().rposition(|(_, p)| p.is_some()) else {
            return;
        };
        for (event, program) in &mut self.records[..newest] {
            if self.program_bytes <= LOG_PROGRAM_BYTES {
                return;
            }
            let Some(program) = program.take() else {
                continue;
            };
            self.program_bytes -= program.byte_size();
            if let Kind::Exec {
                argv_truncated,
                filename_truncated,
                ..
            } = &mut event.kind
            {
                *argv_truncated = true;
                *filename_truncated = true;
            }
        }
    }
}

impl Node {
    /// What it holds of its own: itself, its share of the tables, its log and its list
    /// of children.
    fn own_bytes(&self) -> usize {
        // Cgroup paths are shared between events; each is counted whole, to be safe.
        let cgroup = |c: &Option<CgroupPath>| c.as_ref().map_or(0, |c| c.as_bytes().len());
        let logged_cgroups: usize = (self.process.log.records.iter())
            .map(|(event, _)| cgroup(&event.cgroup))
            .sum();
        size_of::<Node>()
            + TABLE_BYTES
            + self.process.log.records.capacity() * size_of::<(Event, Option<Arc<Program>>)>()
            + self.children.capacity() * size_of::<Slot>()
            + cgroup(&self.process.cgroup)
            + logged_cgroups
    }

    /// Every counted program it refers to, each once.
    fn programs(&self) -> impl Iterator<Item = &Arc<Program>> {
        let logged = self
            .process
            .log
            .records
            .iter()
            .filter_map(|(_, p)| p.as_ref());
        // Each exec makes its own program: only the one it runs can also be in its log.
        let current = &self.process.program;
        let current_logged = logged.clone().any(|p| Arc::ptr_eq(p, current));
        logged
            .chain((!current_logged).then_some(current))
            .filter(|p| p.counted())
    }
}

impl Model {
    /// Starts counting what an exited process holds.
    pub(super) fn retain(&mut self, slot: Slot) {
        let node = self.node(slot);
        let own = node.own_bytes();
        let mut bytes = own;
        for program in node.programs() {
            if program.holders.fetch_add(1, Ordering::Relaxed) == 0 {
                bytes += program.byte_size();
            }
        }
        self.node_mut(slot).held = own;
        self.exited_bytes += bytes;
    }

    /// Makes a change to a process: what it holds, if it has exited, is counted again
    /// after it.
    pub(super) fn recounted(&mut self, slot: Slot, change: impl FnOnce(&mut Self)) {
        if !self.node(slot).process.is_alive() {
            self.release(slot);
        }
        change(self);
        if !self.node(slot).process.is_alive() {
            self.retain(slot);
        }
    }

    /// Stops counting what an exited process holds: it is forgotten, or about to change.
    pub(super) fn release(&mut self, slot: Slot) {
        let node = self.node(slot);
        let mut bytes = node.held;
        for program in node.programs() {
            if program.holders.fetch_sub(1, Ordering::Relaxed) == 1 {
                bytes += program.byte_size();
            }
        }
        self.exited_bytes -= bytes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        event::{Argv, Kind, MAX_ARGV_BYTES, MAX_FILENAME_BYTES},
        tracker::model::{
            Config, DEFAULT_HISTORY_LEN, DEFAULT_MAX_LINGERING, Model,
            testing::{MS, P, p},
        },
    };

    fn exec_with(process: P, ts_ms: u64, argv: Argv) -> Event {
        process.event(
            ts_ms,
            Kind::Exec {
                filename: "/bin/true".into(),
                argv,
                argv_truncated: false,
                filename_truncated: false,
                argv_unreadable: false,
            },
        )
    }

    fn empty_args(n: usize) -> Argv {
        Argv::from_args(std::iter::repeat_n("", n))
    }

    /// What the exited processes hold, counted from scratch: each node's own bytes, and
    /// each program any of them holds once.
    fn recount(model: &Model) -> usize {
        let mut programs: Vec<*const Program> = Vec::new();
        let mut bytes = 0;
        for node in model.nodes.iter().flatten() {
            if node.process.is_alive() {
                continue;
            }
            bytes += node.held;
            for program in node.programs() {
                if !programs.contains(&Arc::as_ptr(program)) {
                    programs.push(Arc::as_ptr(program));
                    bytes += program.byte_size();
                }
            }
        }
        bytes
    }

    #[test]
    fn one_program_holds_at_most_the_caps_whatever_the_source() {
        let mut model = Model::default();
        let a = p(100, 1, 1000);
        // A recording can carry 16 MiB of argv, file name too.
        let huge = Argv::from_area(&vec![b'x'; 16 << 20]);
        let mut exec = exec_with(a, 1001, huge);
        if let Kind::Exec { filename, .. } = &mut exec.kind {
            *filename = vec![b'/'; 1 << 20].into();
        }
        model.apply(&a.fork());
        model.apply(&exec);
        let program = &model.get(a.key()).unwrap().program;
        assert_eq!(program.argv.byte_len(), MAX_ARGV_BYTES + 1);
        assert!(program.argv_truncated);
        assert_eq!(program.filename.as_ref().unwrap().len(), MAX_FILENAME_BYTES);
        assert!(program.filename_truncated);
        assert_eq!(program.search.len(), MAX_ARGV_BYTES);
        let logged = model.history(a.key()).unwrap();
        assert!(matches!(
            logged.events[1].kind,
            Kind::Exec {
                argv_truncated: true,
                filename_truncated: true,
                ..
            }
        ));

        // Bytes that grow when lowercased for the search (U+FFFD for each) are cut too.
        let b = p(200, 1, 1000);
        model.apply(&b.fork());
        model.apply(&exec_with(b, 1001, Argv::from_area(&[0xff; 6000])));
        let program = &model.get(b.key()).unwrap().program;
        assert!(!program.argv_truncated);
        assert!(
            program.search.len() <= MAX_ARGV_BYTES,
            "{}",
            program.search.len()
        );
        assert!(program.search.capacity() <= MAX_ARGV_BYTES);
    }

    #[test]
    fn a_log_keeps_the_programs_of_its_latest_execs_within_its_bytes() {
        let mut model = Model::default();
        let a = p(100, 1, 1000);
        model.apply(&a.fork());
        // Ordinary execs keep their programs.
        for i in 0..10 {
            model.apply(&a.exec(1001 + i, &["sh", "-c", "exec next"]));
        }
        let log = &model.get(a.key()).unwrap().log;
        assert_eq!(log.records.iter().filter(|(_, p)| p.is_some()).count(), 10);
        // Execs at the argv cap: the oldest programs go, the records stay, flagged.
        for i in 0..10 {
            model.apply(&exec_with(a, 1100 + i, empty_args(MAX_ARGV_BYTES)));
        }
        let process = model.get(a.key()).unwrap();
        let log = &process.log;
        let kept: usize = log
            .records
            .iter()
            .filter_map(|(_, p)| p.as_ref())
            .map(|p| p.byte_size())
            .sum();
        assert_eq!(kept, log.program_bytes);
        assert!(kept <= LOG_PROGRAM_BYTES, "{kept}");
        assert!(Arc::ptr_eq(
            log.records.last().unwrap().1.as_ref().unwrap(),
            &process.program
        ));
        let history = process.history();
        assert_eq!(history.events.len(), 16);
        let shown: Vec<(bool, bool)> = history
            .events
            .iter()
            .filter_map(|e| match &e.kind {
                Kind::Exec {
                    argv,
                    argv_truncated,
                    ..
                } => Some((argv.is_empty(), *argv_truncated)),
                _ => None,
            })
            .collect();
        // The first execs (kept by the log's head) and some of the latest lost theirs.
        assert!(shown.contains(&(true, true)), "{shown:?}");
        assert_eq!(shown.last(), Some(&(false, false)));
        assert!(shown.iter().all(|&(empty, cut)| !empty || cut));
    }

    #[test]
    fn a_late_exec_that_a_full_log_leaves_out_holds_nothing_there() {
        let mut model = Model::default();
        let a = p(100, 1, 1000);
        model.apply(&a.fork());
        // The log's head, then the latest, filling it.
        for ts in (1001..1004).chain(2000..2012) {
            model.apply(&a.thread(ts, 101, Kind::ThreadStart));
        }
        // Its time puts it right after the head: the one place that makes room.
        model.apply(&a.exec(1500, &["late", "exec"]));
        let process = model.get(a.key()).unwrap();
        let history = process.history();
        assert_eq!((history.events.len(), history.omitted), (16, 1));
        assert!(
            history
                .events
                .iter()
                .all(|e| e.kind == Kind::ThreadStart || e.kind == Kind::Fork)
        );
        assert_eq!(process.log.program_bytes, 0);
        // It still names the program the process runs.
        assert_eq!(process.program.argv, Argv::from_args(["late", "exec"]));
    }

    #[test]
    fn exited_processes_are_counted_once_per_program_and_uncounted_when_forgotten() {
        let mut model = Model::new(Config {
            history_len: 2,
            ..Config::default()
        });
        let parent = p(100, 1, 1000);
        model.apply(&parent.fork());
        model.apply(&exec_with(parent, 1001, empty_args(8000)));
        // Children that share their parent's program, and one that runs its own.
        let kids: Vec<P> = (0..3).map(|i| p(200 + i, 100, 1010)).collect();
        for kid in &kids {
            model.apply(&kid.fork());
            model.apply(&kid.exit(1020, 0));
        }
        let own = p(300, 100, 1030);
        model.apply(&own.fork());
        model.apply(&exec_with(own, 1031, empty_args(5000)));
        model.apply(&own.exit(1040, 0));
        assert_eq!(model.exited_bytes, recount(&model));
        let shared = &model.get(parent.key()).unwrap().program;
        assert_eq!(shared.holders.load(Ordering::Relaxed), 3);
        assert!(
            model.exited_bytes < 2 * shared.byte_size() + 4 * 8000,
            "the shared program counted once: {}",
            model.exited_bytes
        );

        // A late event for an exited process is counted with it.
        model.apply(&kids[0].thread(1050, 201, Kind::ThreadExit));
        assert_eq!(model.exited_bytes, recount(&model));

        // Linger over: they go to the history (2 kept); then the parent exits too.
        model.tick(1020 * MS + 10_000 * MS);
        model.apply(&parent.exit(20_000, 0));
        assert_eq!(model.exited_bytes, recount(&model));
        model.tick(40_000 * MS);
        assert_eq!(model.counts().history, 2);
        assert_eq!(model.exited_bytes, recount(&model));
        assert_eq!(
            model.counts().dropped_for_memory,
            0,
            "the count limit did it"
        );
    }

    #[test]
    fn past_the_budget_the_oldest_exited_leave_first_and_are_counted() {
        let config = Config {
            linger_ns: 3_600_000 * MS,
            exited_bytes: 1 << 20,
            ..Config::default()
        };
        let mut model = Model::new(config.clone());
        let shell = p(2, 1, 10);
        model.apply(&shell.fork());
        // 3,000 execs of a program with 8,000 empty arguments, each exiting at once.
        let execs: Vec<P> = (0..3000)
            .map(|i| p(1000 + i, 2, 100 + u64::from(i)))
            .collect();
        for (i, child) in execs.iter().enumerate() {
            let ts = 100 + i as u64;
            model.apply(&child.fork());
            model.apply(&exec_with(*child, ts, empty_args(8000)));
            model.apply(&child.exit(ts, 0));
            assert!(model.exited_bytes <= config.exited_bytes);
        }
        assert_eq!(model.exited_bytes, recount(&model));
        let counts = model.counts();
        let kept = counts.exited + counts.history;
        // Each holds about 17 KiB: argv, its search copy, its node and log.
        assert!((50..75).contains(&kept), "{counts:?}");
        assert_eq!(counts.dropped_for_memory, 3000 - kept as u64);
        assert_eq!(
            counts.history, 0,
            "nothing older than the lingering is left"
        );
        // The newest are the ones kept.
        assert!(model.in_tree(execs[2999].key()));
        assert!(model.in_tree(execs[3000 - kept].key()));
        assert!(model.get(execs[2999 - kept].key()).is_none());
        assert!(model.get(shell.key()).unwrap().is_alive(), "live ones stay");

        // With older ones in the history, those go before any lingering one: one exit
        // every 2 s, each lingering 1 s.
        let mut model = Model::new(Config {
            linger_ns: 1_000 * MS,
            ..config
        });
        model.apply(&shell.fork());
        for (i, child) in execs[..200].iter().enumerate() {
            let ts = 100 + 2_000 * i as u64;
            let child = P {
                start: ts * MS,
                ..*child
            };
            model.apply(&child.fork());
            model.apply(&exec_with(child, ts, empty_args(8000)));
            model.apply(&child.exit(ts, 0));
            assert!(model.in_tree(child.key()), "the lingering one stays");
        }
        let counts = model.counts();
        assert_eq!(counts.exited, 1);
        assert_eq!(counts.dropped_for_memory, 200 - 1 - counts.history as u64);
        assert!(counts.history > 40, "{counts:?}");
        assert_eq!(model.exited_bytes, recount(&model));
    }

    #[test]
    fn the_default_budget_leaves_ordinary_churn_to_the_count_limits() {
        let mut model = Model::default();
        let shell = p(2, 1, 10);
        model.apply(&shell.fork());
        let argv = Argv::from_args(["cc", "-O2", "-c", "some/file.c", "-o", "some/file.o"]);
        for i in 0..(DEFAULT_MAX_LINGERING + DEFAULT_HISTORY_LEN + 5_000) as u64 {
            // Ten a millisecond: more exit within the linger than the tree keeps.
            let ts = 100 + i / 10;
            let child = p(1000 + (i % 30_000) as u32, 2, ts);
            model.apply(&child.fork());
            model.apply(&exec_with(child, ts, argv.clone()));
            model.apply(&child.exit(ts, 0));
        }
        let counts = model.counts();
        assert_eq!(counts.exited + counts.history, 20_000);
        assert_eq!(counts.dropped_for_memory, 0);
        assert!(
            model.exited_bytes < DEFAULT_EXITED_BYTES / 2,
            "{} bytes for 20,000",
            model.exited_bytes
        );
    }
}
