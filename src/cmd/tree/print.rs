//! How `tree` and `replay --tree-at` print a model's live processes: a pstree-like text
//! tree, or one JSON document. Everything from a process is escaped: text through
//! `crate::text`, JSON as events' JSON writes it (`comm_base64`, `argv_base64` beside text
//! that is not the exact bytes).

use crate::event::host::{Hosts, shown_pid};
use std::{collections::HashSet, io};

use anyhow::{Context, Result, bail};
use serde::{Serialize, ser::SerializeMap};

use crate::{
    clock::WallClock,
    event::{TerminalSafe, container::PlaceFilter, duration},
    tracker::model::{Model, Process, Slot},
    ui::users::Users,
};

/// What of the tree is printed, and how.
#[derive(Clone, Debug, Default)]
pub struct TreeOptions {
    /// One JSON document instead of text.
    pub json: bool,
    /// Only the subtree of this process.
    pub pid: Option<u32>,
    /// Only the processes of this container or cgroup, with their ancestors.
    pub place: Option<PlaceFilter>,
    /// In a replay of several hosts, their names: each process in JSON says its host.
    pub hosts: Option<Hosts>,
}

/// Guides are drawn this deep; deeper rows show their depth instead, so that a chain of
/// thousands of processes does not make each line thousands of characters long.
const MAX_GUIDES: usize = 40;

/// One printed process: where it is and the guides before its command.
struct Row {
    slot: Slot,
    depth: usize,
    guide: String,
}

/// The live processes of `model` at `at_ns` as `options` asks, printed to `out`; how many.
pub fn print(
    model: &Model,
    at_ns: u64,
    clock: &WallClock,
    users: &mut Users,
    options: &TreeOptions,
    out: &mut impl io::Write,
) -> Result<usize> {
    let rows = rows(model, options, &|| clock.time_of_day(at_ns))?;
    for row in &rows {
        if let Some(creds) = model.process_at(row.slot).creds {
            users.resolve(creds.uid);
        }
    }
    let written = if options.json {
        let document = Document {
            model,
            at_ns,
            clock,
            users,
            rows: &rows,
            shown: rows.iter().map(|row| row.slot).collect(),
            hosts: options.hosts.as_ref(),
        };
        serde_json::to_writer(&mut *out, &document).map_err(io::Error::from)?;
        writeln!(out)
    } else {
        write_text(model, at_ns, clock, users, &rows, out)
    };
    match written.and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(rows.len()),
        other => other.context("cannot write the tree").map(|()| rows.len()),
    }
}

/// The rows in tree order: from the top of the tree, or from `--pid`'s process.
fn rows(model: &Model, options: &TreeOptions, time: &dyn Fn() -> String) -> Result<Vec<Row>> {
    let kept = options.place.as_ref().map(|place| in_place(model, place));
    let shown = |slot: Slot| {
        model.in_tree_at(slot).is_some_and(Process::is_alive)
            && kept.as_ref().is_none_or(|kept| kept.contains(&slot))
    };
    let tops: Vec<Slot> = match options.pid {
        Some(pid) => {
            let Some(key) = model.current(pid) else {
                bail!("no process {pid} was alive at {}", time());
            };
            let slot = (0..model.slot_count() as Slot)
                .find(|&slot| model.in_tree_at(slot).is_some_and(|p| p.key == key));
            slot.into_iter().filter(|&slot| shown(slot)).collect()
        }
        None => model
            .top_slots()
            .iter()
            .copied()
            .filter(|&s| shown(s))
            .collect(),
    };
    let mut rows = Vec::new();
    // (slot, depth, the guides of its ancestors, whether it is its parent's last child)
    let mut stack: Vec<(Slot, usize, String, bool)> = tops
        .iter()
        .rev()
        .map(|&slot| (slot, 0, String::new(), true))
        .collect();
    while let Some((slot, depth, above, last)) = stack.pop() {
        let (guide, below) = match depth {
            0 => (String::new(), String::new()),
            _ if depth > MAX_GUIDES => (format!("{above}[depth {depth}] "), above.clone()),
            _ => {
                let (this, next) = if last {
                    ("└─", "  ")
                } else {
                    ("├─", "│ ")
                };
                (format!("{above}{this}"), format!("{above}{next}"))
            }
        };
        let children: Vec<Slot> = (model.child_slots(slot).iter().copied())
            .filter(|&s| shown(s))
            .collect();
        let count = children.len();
        for (i, child) in children.into_iter().enumerate().rev() {
            stack.push((child, depth + 1, below.clone(), i + 1 == count));
        }
        rows.push(Row { slot, depth, guide });
    }
    Ok(rows)
}

/// The live processes in `place` and their ancestors.
fn in_place(model: &Model, place: &PlaceFilter) -> HashSet<Slot> {
    let mut kept = HashSet::new();
    for slot in 0..model.slot_count() as Slot {
        let Some(p) = model.in_tree_at(slot) else {
            continue;
        };
        if !p.is_alive() || !place.admits(p.cgroup.as_ref().map(|c| c.as_bytes())) {
            continue;
        }
        let mut next = Some(slot);
        while let Some(slot) = next.filter(|&s| kept.insert(s)) {
            next = model.parent_slot(slot);
        }
    }
    kept
}

fn write_text(
    model: &Model,
    at_ns: u64,
    clock: &WallClock,
    users: &Users,
    rows: &[Row],
    out: &mut impl io::Write,
) -> io::Result<()> {
    writeln!(
        out,
        "{:>7} {:<10} {:<8} {:>6}  COMMAND",
        "PID", "USER", "START", "AGE"
    )?;
    for row in rows {
        let p = model.process_at(row.slot);
        let mut start = clock.time_of_day(p.start_ns);
        start.truncate("00:00:00".len());
        let age = duration::age(at_ns.saturating_sub(p.start_ns));
        writeln!(
            out,
            "{:>7} {:<10} {start:<8} {age:>6}  {}{}",
            shown_pid(p.key.pid),
            user(users, p).unwrap_or_default(),
            row.guide,
            command(p)
        )?;
    }
    Ok(())
}

/// The user's name, else the uid; `None` when the credentials are unknown.
fn user(users: &Users, p: &Process) -> Option<String> {
    let uid = p.creds?.uid;
    Some(
        users
            .name(uid)
            .map_or_else(|| uid.to_string(), str::to_owned),
    )
}

/// The argv, escaped; `[name]` without one, as the UI shows it.
fn command(p: &Process) -> String {
    match p.program.argv.is_empty() {
        true => format!("[{}]", p.comm.escaped()),
        false => p.program.argv.joined(),
    }
}

/// `{"at_ns", "time", "processes": [...]}`: the processes in tree order.
struct Document<'a> {
    model: &'a Model,
    at_ns: u64,
    clock: &'a WallClock,
    users: &'a Users,
    rows: &'a [Row],
    /// The slots of `rows`: a process's `children` are those of them the document holds.
    shown: HashSet<Slot>,
    hosts: Option<&'a Hosts>,
}

impl Serialize for Document<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("at_ns", &self.at_ns)?;
        m.serialize_entry("time", &self.clock.time_of_day(self.at_ns))?;
        let processes: Vec<ProcessJson> = (self.rows.iter())
            .map(|row| ProcessJson { doc: self, row })
            .collect();
        m.serialize_entry("processes", &processes)?;
        m.end()
    }
}

/// One process: pid, ppid, start, depth, children, comm, argv, credentials, user.
struct ProcessJson<'a> {
    doc: &'a Document<'a>,
    row: &'a Row,
}

impl Serialize for ProcessJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let model = self.doc.model;
        let p = model.process_at(self.row.slot);
        let mut m = s.serialize_map(None)?;
        if let Some(hosts) = self.doc.hosts {
            m.serialize_entry("host", &TerminalSafe(hosts.name_of(p.key.pid)))?;
        }
        m.serialize_entry("pid", &shown_pid(p.key.pid))?;
        m.serialize_entry("ppid", &shown_pid(p.ppid))?;
        m.serialize_entry("start_ns", &p.start_ns)?;
        m.serialize_entry("start", &self.doc.clock.time_of_day(p.start_ns))?;
        m.serialize_entry("depth", &self.row.depth)?;
        let children: Vec<u32> = (model.child_slots(self.row.slot).iter())
            .filter(|slot| self.doc.shown.contains(slot))
            .filter_map(|&slot| model.in_tree_at(slot))
            .map(|child| shown_pid(child.key.pid))
            .collect();
        m.serialize_entry("children", &children)?;
        m.serialize_entry("comm", &TerminalSafe(&p.comm.as_str()))?;
        if let Some(exact) = p.comm.base64_beside() {
            m.serialize_entry("comm_base64", &exact)?;
        }
        m.serialize_entry("argv", &p.program.argv)?;
        if let Some(exact) = p.program.argv.base64_beside() {
            m.serialize_entry("argv_base64", &exact)?;
        }
        m.serialize_entry("argv_truncated", &p.program.argv_truncated)?;
        m.serialize_entry("uid", &p.creds.map(|c| c.uid))?;
        m.serialize_entry("euid", &p.creds.map(|c| c.euid))?;
        m.serialize_entry("gid", &p.creds.map(|c| c.gid))?;
        m.serialize_entry("egid", &p.creds.map(|c| c.egid))?;
        let user = user(self.doc.users, p);
        m.serialize_entry("user", &user.as_deref().map(TerminalSafe))?;
        m.serialize_entry("threads", &p.threads)?;
        m.serialize_entry("kernel_thread", &p.kernel_thread)?;
        // What its latest sample said (null when none did: not sampled yet, or a
        // recording without samples).
        let sampled = p.resources.sampled;
        m.serialize_entry("cpu_permille", &sampled.and_then(|s| s.cpu_permille))?;
        m.serialize_entry("cpu_ns", &sampled.map(|s| s.sample.cpu_ns))?;
        m.serialize_entry("rss_bytes", &sampled.map(|s| s.sample.rss_bytes))?;
        m.serialize_entry("state", &sampled.map(|s| s.sample.state.letter()))?;
        m.end()
    }
}
