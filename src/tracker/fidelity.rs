//! The fidelity check (`tree --check`): the model's live processes against a /proc
//! snapshot that its driver read. A process the model holds alive that /proc does not show
//! (a phantom), one /proc shows that the model does not hold alive (missing), a pid that
//! names another process in each (wrapped), and a process whose parent differs.
//!
//! Reading /proc takes time while processes come and go, so what changed while it was
//! read is not a difference: the driver gives the time the read began, and feeds the model
//! every event up to its end before comparing. A process born since then may be absent
//! from the snapshot, and one that exited since then may still be in it; the model knows
//! both from their events. What is left of a race (a parent that changed during the read)
//! goes away when the driver compares twice and keeps what both comparisons found.

use std::{collections::HashMap, fmt::Write as _};

use super::model::{Model, Process};
use crate::{
    clock::WallClock,
    event::{Comm, ProcessKey},
    proc::snapshot::ProcessInfo,
};

/// One process as one side of a difference shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub start_ns: u64,
    pub ppid: u32,
    pub comm: Comm,
}

impl Seen {
    fn of_model(p: &Process) -> Self {
        Self {
            start_ns: p.start_ns,
            ppid: p.ppid,
            comm: p.comm,
        }
    }

    fn of_proc(info: &ProcessInfo) -> Self {
        Self {
            start_ns: info.start_ns,
            ppid: info.ppid,
            comm: info.comm,
        }
    }
}

/// Where the model and /proc disagree about one pid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Difference {
    /// Alive in the model; not in /proc, or a zombie there.
    Phantom { pid: u32, model: Seen },
    /// Alive in /proc; unknown to the model, or exited in it.
    Missing { pid: u32, proc: Seen },
    /// The pid names one process in the model and another (started at another time) in
    /// /proc: the model missed an exit and a fork that reused the pid.
    Wrapped { pid: u32, model: Seen, proc: Seen },
    /// The same process, under another parent.
    Parent { pid: u32, model: Seen, proc: Seen },
}

impl Difference {
    /// What makes it the same difference: its kind, pid, and the start times and parents
    /// on each side.
    fn identity(&self) -> (u8, u32, [Option<(u64, u32)>; 2]) {
        let at = |s: &Seen| Some((s.start_ns, s.ppid));
        match self {
            Self::Phantom { pid, model } => (0, *pid, [at(model), None]),
            Self::Missing { pid, proc } => (1, *pid, [None, at(proc)]),
            Self::Wrapped { pid, model, proc } => (2, *pid, [at(model), at(proc)]),
            Self::Parent { pid, model, proc } => (3, *pid, [at(model), at(proc)]),
        }
    }

    pub fn pid(&self) -> u32 {
        match self {
            Self::Phantom { pid, .. }
            | Self::Missing { pid, .. }
            | Self::Wrapped { pid, .. }
            | Self::Parent { pid, .. } => *pid,
        }
    }

    /// One line, names escaped, times of day by `clock`.
    pub fn line(&self, clock: &WallClock) -> String {
        let seen = |s: &Seen| {
            format!(
                "{} started {} ppid {}",
                s.comm.escaped(),
                clock.time_of_day(s.start_ns),
                s.ppid
            )
        };
        let mut line = String::new();
        let _ = match self {
            Self::Phantom { pid, model } => write!(
                line,
                "phantom: pid {pid} ({}) is alive in the model, not in /proc",
                seen(model)
            ),
            Self::Missing { pid, proc } => write!(
                line,
                "missing: pid {pid} ({}) is alive in /proc, not in the model",
                seen(proc)
            ),
            Self::Wrapped { pid, model, proc } => write!(
                line,
                "wrapped: pid {pid} is {} in the model, {} in /proc",
                seen(model),
                seen(proc)
            ),
            Self::Parent { pid, model, proc } => write!(
                line,
                "parent: pid {pid} ({}) has parent {} in the model, {} in /proc",
                model.comm.escaped(),
                model.ppid,
                proc.ppid
            ),
        };
        line
    }
}

/// Whether /proc shows the process alive: a zombie has exited (a zombie leader whose
/// threads still run has not), as the model counts it.
fn alive_in_proc(info: &ProcessInfo) -> bool {
    !(matches!(info.state, 'Z' | 'X') && info.threads <= 1)
}

/// The differences between the live processes of `model`, fed every event up to the end
/// of the read, and `snapshot`, whose read began at `read_from_ns` (CLOCK_BOOTTIME),
/// in pid order. See the module documentation for what is not a difference.
pub fn compare(model: &Model, snapshot: &[ProcessInfo], read_from_ns: u64) -> Vec<Difference> {
    let in_proc: HashMap<ProcessKey, &ProcessInfo> = snapshot
        .iter()
        .filter(|info| alive_in_proc(info))
        .map(|info| (ProcessKey::new(info.pid, info.start_ns), info))
        .collect();
    let mut phantoms: HashMap<u32, Seen> = model
        .iter()
        .filter(|p| p.is_alive() && p.start_ns < read_from_ns && !in_proc.contains_key(&p.key))
        .map(|p| (p.key.pid, Seen::of_model(p)))
        .collect();
    let mut found = Vec::new();
    for (&key, info) in &in_proc {
        match model.get(key) {
            Some(p) if p.is_alive() => {
                if p.ppid != info.ppid {
                    let (model, proc) = (Seen::of_model(p), Seen::of_proc(info));
                    found.push(Difference::Parent {
                        pid: key.pid,
                        model,
                        proc,
                    });
                }
            }
            // Exited while /proc was read.
            Some(p) if p.exit.is_some_and(|exit| exit.ts_ns >= read_from_ns) => {}
            _ => {
                let proc = Seen::of_proc(info);
                found.push(match phantoms.remove(&key.pid) {
                    Some(model) => Difference::Wrapped {
                        pid: key.pid,
                        model,
                        proc,
                    },
                    None => Difference::Missing { pid: key.pid, proc },
                });
            }
        }
    }
    found.extend(
        phantoms
            .into_iter()
            .map(|(pid, model)| Difference::Phantom { pid, model }),
    );
    found.sort_by_key(Difference::pid);
    found
}

/// The differences found by both comparisons, as the second found them: a race shows in
/// one only. Compared by kind, pid, start times and parents, not names: a process that
/// renamed itself (an exec) between the two is the same difference.
pub fn in_both(first: &[Difference], second: Vec<Difference>) -> Vec<Difference> {
    second
        .into_iter()
        .filter(|d| first.iter().any(|f| f.identity() == d.identity()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::model::testing::{INIT, MS, apply_all, p, seeded};

    #[test]
    fn agreeing_model_and_proc_have_no_difference() {
        let mut model = seeded();
        let shell = p(100, 1, 20);
        apply_all(&mut model, &[shell.fork()]);
        let snapshot = [
            INIT.info("init", &["/sbin/init"]),
            shell.info("sh", &["sh"]),
        ];
        assert_eq!(compare(&model, &snapshot, 30 * MS), []);
    }

    #[test]
    fn phantoms_missing_wrapped_pids_and_parents_are_found() {
        let mut model = seeded();
        // Start times a tick (10 ms) apart at least: /proc knows them to the tick.
        let (ghost, reused, moved) = (p(100, 1, 100), p(200, 1, 200), p(300, 1, 300));
        apply_all(&mut model, &[ghost.fork(), reused.fork(), moved.fork()]);
        let after_wrap = p(200, 1, 500);
        let snapshot = [
            INIT.info("init", &["/sbin/init"]),
            after_wrap.info("sh", &["sh"]),
            moved.under(100).info("sh", &["sh"]),
            p(400, 1, 400).info("stray", &["stray"]),
        ];
        let found = compare(&model, &snapshot, 1_000 * MS);
        let model_side = |x: crate::tracker::model::testing::P| Seen {
            start_ns: x.start,
            ppid: x.ppid,
            comm: Comm::from("sh"),
        };
        let proc_side = |info: &ProcessInfo| Seen::of_proc(info);
        assert_eq!(
            found,
            [
                Difference::Phantom {
                    pid: 100,
                    model: model_side(ghost)
                },
                Difference::Wrapped {
                    pid: 200,
                    model: model_side(reused),
                    proc: proc_side(&snapshot[1])
                },
                Difference::Parent {
                    pid: 300,
                    model: model_side(moved),
                    proc: proc_side(&snapshot[2])
                },
                Difference::Missing {
                    pid: 400,
                    proc: proc_side(&snapshot[3])
                },
            ]
        );
        let clock = WallClock::with_offset(0);
        let lines: Vec<String> = found.iter().map(|d| d.line(&clock)).collect();
        assert!(
            lines[0].starts_with("phantom: pid 100 (sh started "),
            "{lines:?}"
        );
        assert!(
            lines[3].starts_with("missing: pid 400 (stray started "),
            "{lines:?}"
        );
        assert!(
            lines[2].ends_with("has parent 1 in the model, 100 in /proc"),
            "{lines:?}"
        );
    }

    #[test]
    fn what_changed_while_proc_was_read_is_no_difference() {
        let mut model = seeded();
        let (born, dying, zombie) = (p(100, 1, 400), p(200, 1, 200), p(300, 1, 300));
        apply_all(
            &mut model,
            &[
                born.fork(),
                dying.fork(),
                zombie.fork(),
                dying.exit(450, 0),
                zombie.exit(320, 0),
            ],
        );
        let mut reaped_late = zombie.info("sh", &["sh"]);
        reaped_late.state = 'Z';
        // Read from 350 ms: `born` came after the read began, `dying` exited during it.
        let snapshot = [
            INIT.info("init", &["/sbin/init"]),
            dying.info("sh", &["sh"]),
            reaped_late,
        ];
        assert_eq!(compare(&model, &snapshot, 350 * MS), []);
        // Had the read begun later, the same would be a phantom and a missing process.
        let found = compare(&model, &snapshot, 500 * MS);
        assert_eq!(
            found.iter().map(Difference::pid).collect::<Vec<_>>(),
            [100, 200]
        );
    }

    #[test]
    fn only_differences_found_twice_count() {
        let first = vec![Difference::Missing {
            pid: 7,
            proc: Seen {
                start_ns: 1,
                ppid: 1,
                comm: Comm::from("a"),
            },
        }];
        let gone = Difference::Phantom {
            pid: 8,
            model: Seen {
                start_ns: 1,
                ppid: 1,
                comm: Comm::from("b"),
            },
        };
        assert_eq!(in_both(&first, vec![first[0].clone(), gone]), first);
    }

    #[test]
    fn a_difference_whose_process_renamed_itself_between_comparisons_is_found_in_both() {
        let seen = |comm: &str| Seen {
            start_ns: 20 * MS,
            ppid: 1,
            comm: crate::event::Comm::from(comm),
        };
        let first = [Difference::Phantom {
            pid: 100,
            model: seen("sh"),
        }];
        let second = vec![Difference::Phantom {
            pid: 100,
            model: seen("make"),
        }];
        assert_eq!(in_both(&first, second).len(), 1);
    }
}
