//! Joining /proc: seeding the model from a snapshot, and re-syncing with a fresh one after
//! lost events.

use std::{collections::HashSet, hash::BuildHasherDefault, sync::Arc};

use super::{
    Applied, Model, Process, Resources,
    arena::{NONE, Slot},
    process::EventLog,
    program::Program,
};
use crate::{
    event::{Event, ExitStatus, KeyHasher, ProcessKey, Sampled},
    proc::snapshot::ProcessInfo,
    recording::{Alive, Keyframe, LiveSet},
};

impl Model {
    /// Adds the processes of a /proc snapshot (taken after the event source was started).
    /// Processes already known are updated from it.
    pub fn seed(&mut self, snapshot: &[ProcessInfo]) {
        self.sync(snapshot, false);
    }

    /// Re-syncs with a fresh /proc snapshot after lost events: live processes missing from
    /// it are marked exited with an unknown status, missing ones are added, and parents,
    /// names, argv, credentials and thread counts are taken from it.
    pub fn reconcile(&mut self, snapshot: &[ProcessInfo]) -> Vec<Applied> {
        self.sync(snapshot, true)
    }

    /// The processes alive, as a snapshot holds them: what [`Model::seed`] takes back. A
    /// snapshot has no place for what only events tell (the file a program was exec'd
    /// from, a subreaper, the cgroup id), nor for credentials no source gave (all 0 then;
    /// [`Model::alive`] says which), and it says nothing of the process state (`?`).
    pub fn live_processes(&self) -> Vec<ProcessInfo> {
        (self.iter().filter(|p| p.is_alive()))
            .map(|p| ProcessInfo {
                pid: p.key.pid,
                ppid: p.ppid,
                start_ns: p.start_ns,
                comm: p.comm,
                argv: p.program.argv.clone(),
                argv_truncated: p.program.argv_truncated,
                creds: p.creds.unwrap_or_default(),
                state: p.resources.sampled.map_or('?', |s| s.sample.state.letter()),
                kernel_thread: p.kernel_thread,
                threads: p.threads,
                pid_ns: p.pid_ns,
                cgroup: p.cgroup.clone(),
                sampled: p.resources.sampled,
            })
            .collect()
    }

    fn sync(&mut self, snapshot: &[ProcessInfo], mark_missing: bool) -> Vec<Applied> {
        self.generation += 1;
        // The snapshot is no older than its newest process.
        self.tick(snapshot.iter().map(|p| p.start_ns).max().unwrap_or(0));
        let mut changes = Vec::new();
        let mut seen: HashSet<ProcessKey, BuildHasherDefault<KeyHasher>> =
            HashSet::with_capacity_and_hasher(snapshot.len(), Default::default());
        let mut zombies = Vec::new();
        // Every process first, so that parents later in pid order exist when linking.
        let slots: Vec<(Slot, bool)> = snapshot
            .iter()
            .map(|info| {
                let key = ProcessKey::new(info.pid, info.start_ns);
                seen.insert(key);
                let (slot, new) = match self.slot(key) {
                    Some(slot) => {
                        self.update_from_proc(slot, info);
                        (slot, false)
                    }
                    None => (self.create_from_proc(key, info), true),
                };
                // A zombie has exited; a zombie leader with threads left has not.
                if matches!(info.state, 'Z' | 'X') && info.threads <= 1 {
                    zombies.push(slot);
                }
                (slot, new)
            })
            .collect();

        if mark_missing {
            let mut gone: Vec<Slot> = self
                .index
                .iter()
                .filter(|(key, _)| !seen.contains(key))
                .map(|(_, &slot)| slot)
                .filter(|&slot| self.node(slot).process.is_alive())
                .collect();
            // Youngest first, so that a subtree that is gone stays together, whatever the
            // order of the index.
            gone.sort_unstable_by_key(|&slot| std::cmp::Reverse(self.node(slot).process.key));
            for slot in gone {
                changes.push(self.exit_unknown(slot));
            }
        }

        for (info, &(slot, new)) in snapshot.iter().zip(&slots) {
            let key = Some(self.node(slot).process.key);
            if new {
                let parent = self
                    .live_parent(info.ppid, self.node(slot).process.key.start_ticks)
                    .filter(|&parent| !self.descends(parent, slot))
                    .unwrap_or(NONE);
                self.link(slot, parent);
                changes.push(Applied {
                    key,
                    started: true,
                    ..Applied::default()
                });
            } else {
                let mut applied = Applied {
                    key,
                    ..Applied::default()
                };
                self.follow_ppid(slot, info.ppid, self.now_ns, &mut applied);
                if applied.moved.is_some() {
                    changes.push(applied);
                }
            }
        }
        for slot in zombies {
            changes.push(self.exit_unknown(slot));
        }
        changes.retain(|c| c.started || c.exited || c.moved.is_some());
        self.expire();
        changes
    }

    fn exit_unknown(&mut self, slot: Slot) -> Applied {
        let mut applied = Applied {
            key: Some(self.node(slot).process.key),
            ..Applied::default()
        };
        self.exited(slot, self.now_ns, ExitStatus::Unknown, &mut applied);
        if applied.exited {
            self.retain(slot);
        }
        applied
    }

    fn create_from_proc(&mut self, key: ProcessKey, info: &ProcessInfo) -> Slot {
        let process = Process {
            key,
            ppid: info.ppid,
            start_ns: info.start_ns,
            comm: info.comm,
            program: program_from_proc(info),
            creds: Some(info.creds),
            cgroup_id: None,
            pid_ns: info.pid_ns,
            cgroup: info.cgroup.clone(),
            kernel_thread: info.kernel_thread,
            threads: info.threads.max(1),
            exit: None,
            subreaper: false,
            resources: Resources {
                sampled: info.sampled,
                peak_rss_bytes: info.sampled.map_or(0, |s| s.sample.rss_bytes),
                usage: None,
            },
            log: EventLog::default(),
        };
        // Linked by the caller once every process of the snapshot exists.
        self.allocate(process, 0)
    }

    fn update_from_proc(&mut self, slot: Slot, info: &ProcessInfo) {
        let p = self.process_mut(slot);
        if !p.is_alive() {
            return;
        }
        p.comm = info.comm;
        p.creds = Some(info.creds);
        p.pid_ns = info.pid_ns.or(p.pid_ns);
        if info.cgroup.is_some() {
            p.cgroup.clone_from(&info.cgroup);
        }
        p.threads = info.threads.max(1);
        // A snapshot's sample is newer than the model's only if it was taken later.
        if let Some(sampled) = info.sampled
            && p.resources.sampled.is_none_or(|s| s.at_ns < sampled.at_ns)
        {
            let after = Sampled::after(p.resources.sampled.as_ref(), sampled.at_ns, sampled.sample);
            p.resources.take_sample(after);
        }
        // An empty argv says nothing: a zombie's, or one /proc could not read.
        if !info.argv.is_empty() && p.program.argv != info.argv {
            p.program = program_from_proc(info);
        }
        self.touch(slot);
    }
}

fn program_from_proc(info: &ProcessInfo) -> Arc<Program> {
    if info.argv.is_empty() {
        Program::unknown()
    } else {
        Arc::new(Program::new(None, info.argv.clone(), info.argv_truncated))
    }
}

impl Model {
    /// What keeps a recording's keyframes: a model of its own, as a replay's (without the
    /// per-process event logs, which a keyframe does not hold), seeded with the snapshot
    /// the recording starts from.
    pub fn for_keyframes(snapshot: &[ProcessInfo]) -> Box<dyn LiveSet> {
        let config = super::Config {
            events_per_process: 0,
            ..super::Config::default()
        };
        let mut model = Model::new(config);
        model.seed(snapshot);
        Box::new(model)
    }

    /// The processes alive, with what a snapshot has no place for: whether they are
    /// subreapers, and whether a source gave their credentials.
    pub fn alive(&self) -> Alive {
        let live = || self.iter().filter(|p| p.is_alive());
        Alive {
            processes: self.live_processes(),
            subreapers: live().filter(|p| p.subreaper).map(|p| p.key.pid).collect(),
            without_creds: live()
                .filter(|p| p.creds.is_none())
                .map(|p| p.key.pid)
                .collect(),
        }
    }

    /// Starts from a recording's keyframe as [`Model::seed`] starts from a snapshot, with
    /// what only a keyframe says.
    pub fn seed_keyframe(&mut self, keyframe: &Keyframe) {
        self.seed(&keyframe.processes);
        let named = (keyframe.subreapers.iter().map(|&pid| (pid, true)))
            .chain(keyframe.without_creds.iter().map(|&pid| (pid, false)));
        for (pid, subreaper) in named {
            let Some(slot) = self.current(pid).and_then(|key| self.slot(key)) else {
                continue;
            };
            let process = self.process_mut(slot);
            if subreaper {
                process.subreaper = true;
            } else {
                process.creds = None;
            }
        }
    }
}

/// A recording's keyframes hold what a model of its own, fed the events written, has alive.
impl LiveSet for Model {
    fn apply(&mut self, event: &Event) {
        Model::apply(self, event);
    }

    fn alive(&self) -> Alive {
        Model::alive(self)
    }
}
