//! Applying an event: creating the process it concerns if it is new, refreshing what every
//! event carries, taking in what its kind says, and an exit's orphans.

use std::sync::Arc;

use super::{
    Applied, Exit, Model, Move, Orphans, Process, ProcessKey, Resources,
    arena::{NONE, Slot},
    process::EventLog,
    program::Program,
};
use crate::event::{Event, ExitStatus, Kind, Sampled};

impl Model {
    /// Applies one event and says what it changed.
    pub fn apply(&mut self, event: &Event) -> Applied {
        self.generation += 1;
        self.tick(event.ts_ns);
        if let Kind::Lost { count } = event.kind {
            self.lost = self.lost.saturating_add(count);
            return Applied::default();
        }
        let key = ProcessKey::of(event);
        if let Kind::Sample(sample) = event.kind {
            // A sample changes no process's place and is not logged; one of a process the
            // model does not know (or knows gone) says nothing it could use.
            if let Some(&slot) = self.index.get(&key)
                && self.node(slot).process.is_alive()
            {
                let resources = &mut self.process_mut(slot).resources;
                let sampled = Sampled::after(resources.sampled.as_ref(), event.ts_ns, sample);
                resources.take_sample(sampled);
                self.touch(slot);
            }
            return Applied::default();
        }
        let mut applied = Applied {
            key: Some(key),
            ..Applied::default()
        };
        let slot = match self.index.get(&key) {
            Some(&slot) => {
                self.refresh(slot, event, &mut applied);
                slot
            }
            None => {
                applied.started = true;
                self.create_from_event(key, event)
            }
        };
        self.recounted(slot, |model| model.take_in(slot, event, &mut applied));
        self.expire();
        applied
    }

    /// Takes in what the event says beyond the fields every event carries; logs it.
    fn take_in(&mut self, slot: Slot, event: &Event, applied: &mut Applied) {
        let alive = self.node(slot).process.is_alive();
        match &event.kind {
            Kind::Fork => {
                // A fork that comes after another event of its child fills in the program,
                // from the parent the fork names: the tree parent may be a reaper, and a
                // process in the history has no tree parent.
                let node = self.node(slot);
                if node.in_tree
                    && node.process.program.argv.is_empty()
                    && let Some(parent) =
                        self.named_parent(event.ppid, node.process.key.start_ticks)
                {
                    let program = self.node(parent).process.program.clone();
                    self.process_mut(slot).program = program;
                    self.touch(slot);
                }
            }
            Kind::ThreadStart if alive => {
                let p = self.process_mut(slot);
                p.threads = p.threads.saturating_add(1);
            }
            Kind::ThreadExit if alive => {
                let p = self.process_mut(slot);
                p.threads = p.threads.saturating_sub(1).max(1);
            }
            Kind::Exec {
                filename,
                argv,
                argv_truncated,
                ..
            } => {
                let program = Program::new(Some(filename.clone()), argv.clone(), *argv_truncated);
                let p = self.process_mut(slot);
                p.program = Arc::new(program);
                p.comm = event.comm;
                p.creds = event.creds.or(p.creds);
                self.touch(slot);
            }
            Kind::Uid { .. } | Kind::Gid { .. } => {
                let p = self.process_mut(slot);
                p.creds = event.creds.or(p.creds);
            }
            Kind::Exit(status, usage) => {
                if let Some(usage) = usage {
                    self.process_mut(slot).resources.usage = Some(**usage);
                }
                self.exited(slot, event.ts_ns, *status, applied);
            }
            Kind::ThreadStart | Kind::ThreadExit | Kind::Lost { .. } | Kind::Sample(_) => {}
        }
        let cap = self.config.events_per_process;
        let p = self.process_mut(slot);
        let program = matches!(event.kind, Kind::Exec { .. }).then_some(&p.program);
        p.log.push(event, program, cap);
    }

    /// A process first seen through `event`, placed under its parent.
    fn create_from_event(&mut self, key: ProcessKey, event: &Event) -> Slot {
        let named = self.named_parent(event.ppid, key.start_ticks);
        let parent = match named {
            Some(p) if self.node(p).process.is_alive() => p,
            // The parent exited before this (late) event: the kernel has moved the child.
            Some(p) => self.reaper_for(p),
            None => NONE,
        };
        // A fork's child runs the program of the process that forked it, not its reaper's.
        let program = match (&event.kind, named) {
            (Kind::Fork, Some(p)) => self.node(p).process.program.clone(),
            _ => Program::unknown(),
        };
        let process = Process {
            key,
            ppid: match parent {
                NONE => event.ppid,
                p => self.node(p).process.key.pid,
            },
            start_ns: event.start_ns,
            comm: event.comm,
            program,
            creds: event.creds,
            cgroup_id: event.cgroup_id,
            pid_ns: event.pid_ns,
            cgroup: event.cgroup.clone(),
            kernel_thread: event.kernel_thread,
            threads: 1,
            exit: None,
            subreaper: false,
            resources: Resources::default(),
            log: EventLog::default(),
        };
        let slot = self.allocate(process, event.ts_ns);
        self.link(slot, parent);
        self.adopt_waiting_children(slot);
        slot
    }

    /// Updates a known process from what every event carries.
    fn refresh(&mut self, slot: Slot, event: &Event, applied: &mut Applied) {
        let node = self.node(slot);
        // Known from /proc at tick precision: take the exact start time.
        if node.process.start_ns != event.start_ns && event.start_ns != 0 {
            let in_tree = node.in_tree;
            if in_tree {
                self.unlink(slot);
            }
            self.process_mut(slot).start_ns = event.start_ns;
            if in_tree {
                let parent = self.node(slot).parent;
                self.link(slot, parent);
            }
        }
        // A fork carries the name inherited from the parent; other threads have their own.
        let main_thread = event.tid == event.pid && !matches!(event.kind, Kind::Fork);
        let p = self.process_mut(slot);
        let renamed = main_thread && p.comm != event.comm;
        let kind_changed = p.kernel_thread != event.kernel_thread;
        if renamed {
            p.comm = event.comm;
        }
        p.cgroup_id = event.cgroup_id.or(p.cgroup_id);
        p.pid_ns = event.pid_ns.or(p.pid_ns);
        // Usually the same shared path: compared by pointer first.
        let moved = event.cgroup.is_some() && event.cgroup != p.cgroup;
        if moved {
            p.cgroup.clone_from(&event.cgroup);
        }
        p.kernel_thread = event.kernel_thread;
        if renamed || kind_changed || moved {
            self.touch(slot);
        }
        self.follow_ppid(slot, event.ppid, event.ts_ns, applied);
    }

    /// Corrects the parent link of a live process from a ppid reported at `ts_ns`.
    pub(super) fn follow_ppid(&mut self, slot: Slot, ppid: u32, ts_ns: u64, applied: &mut Applied) {
        let node = self.node(slot);
        if !node.in_tree || !node.process.is_alive() || ts_ns < node.ppid_ns {
            return;
        }
        let changed = node.process.ppid != ppid;
        let Some(parent) = self.live_parent(ppid, node.process.key.start_ticks) else {
            return;
        };
        let old = node.parent;
        // A link that would make a loop can only come from a feed that lost events.
        if parent == old || self.descends(parent, slot) {
            self.node_mut(slot).ppid_ns = ts_ns;
            return;
        }
        self.move_to(slot, parent);
        let node = self.node_mut(slot);
        node.ppid_ns = ts_ns;
        node.process.ppid = ppid;
        if changed && ppid != 1 {
            self.process_mut(parent).subreaper = true;
        }
        applied.moved = Some(Move {
            from: self.key_of(old),
            to: self.key_of(parent),
        });
    }

    /// Marks a process exited and moves its live children to their reaper.
    pub(super) fn exited(
        &mut self,
        slot: Slot,
        ts_ns: u64,
        status: ExitStatus,
        applied: &mut Applied,
    ) {
        let p = self.process_mut(slot);
        if let Some(exit) = &mut p.exit {
            // Found gone before its exit event came: the event knows better.
            if exit.status == ExitStatus::Unknown && status != ExitStatus::Unknown {
                *exit = Exit { ts_ns, status };
            }
            return;
        }
        p.exit = Some(Exit { ts_ns, status });
        p.threads = 0;
        self.alive -= 1;
        applied.exited = true;

        let orphans: Vec<Slot> = self
            .node(slot)
            .children
            .iter()
            .copied()
            .filter(|&c| self.node(c).process.is_alive())
            .collect();
        if !orphans.is_empty() {
            let reaper = self.reaper_for(slot);
            let reaper_pid = self.key_of(reaper).map_or(1, |k| k.pid);
            for &orphan in &orphans {
                // The parent it names first: the top level counts its processes by it.
                let node = self.node_mut(orphan);
                node.process.ppid = reaper_pid;
                node.ppid_ns = ts_ns;
                self.move_to(orphan, reaper);
            }
            applied.orphans = Some(Orphans {
                children: orphans.iter().map(|&s| self.node(s).process.key).collect(),
                to: self.key_of(reaper),
            });
        }
        // From now, not from `ts_ns`: a late exit is still shown for the whole linger, and
        // the queue stays in the order processes leave.
        let leaves = self.now_ns.saturating_add(self.config.linger_ns);
        self.lingering.push_back((leaves, slot));
    }
}
