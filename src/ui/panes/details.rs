//! The details pane: everything the model knows about the selected process.

use crate::event::host::shown_pid;
use ratatui::{
    buffer::Buffer,
    layout::Rect,
    style::{Color, Modifier, Style, Stylize},
    text::{Line, Span},
    widgets::{Block, Paragraph, Widget},
};

use super::super::{
    component::{Component, View},
    format,
};
use crate::{
    event::{
        Usage, bytes_short,
        container::{Container, container_of},
        cpu_seconds, duration, text_line,
    },
    text,
    tracker::model::Process,
};

/// Width of the labels on the left.
const LABEL: usize = 9;
/// Joins words that wrapping must keep on one line (a name and its pid); drawn as a space.
const NO_BREAK: char = '\u{a0}';

/// The pane: it has no state of its own, it shows the tree's selection.
pub struct Details;

impl Component for Details {
    fn draw(&self, area: Rect, buf: &mut Buffer, view: &View) {
        let block = Block::bordered().title(" Details ");
        let inner = block.inner(area);
        block.render(area, buf);
        Paragraph::new(lines(view, inner.width as usize)).render(inner, buf);
    }
}

/// The pane's lines, wrapped to `width`.
fn lines(view: &View, width: usize) -> Vec<Line<'static>> {
    let Some(p) = view.selected_process() else {
        return vec![Line::from("no process selected".dark_gray())];
    };
    let own = shown_pid(p.key.pid);
    let pid = match p.pid_ns.filter(|ns| ns.pid != p.key.pid) {
        Some(ns) => format!("{own} ({} in its namespace)", ns.pid),
        None => own.to_string(),
    };
    let mut out = vec![Line::from(vec![
        p.comm.to_string().bold(),
        format!("  pid {pid}  ppid {}", shown_pid(p.ppid)).into(),
    ])];
    let mut field = |label: &str, value: String, style: Style| {
        // A label as long as the column (`container`) still has a space after it.
        let labels = LABEL.max(label.len() + 1);
        let wrapped = format::wrap(&value, width.saturating_sub(labels).max(1));
        for (i, text) in wrapped.into_iter().enumerate() {
            let label = if i == 0 { label } else { "" };
            out.push(Line::from(vec![
                Span::styled(format!("{label:<labels$}"), Style::new().fg(Color::Cyan)),
                Span::styled(text.replace(NO_BREAK, " "), style),
            ]));
        }
    };

    let (state, state_style) = state(p, view.now_ns);
    field("state", state, state_style);
    for (label, value) in resources(p, view.now_ns) {
        field(label, value, Style::new());
    }
    let argv = if p.program.argv.is_empty() {
        "(unknown)".to_owned()
    } else {
        let mut argv = p.program.argv.quoted();
        if p.program.argv_truncated {
            argv.push_str(" [truncated]");
        }
        argv
    };
    field("argv", argv, Style::new());
    if let Some(file) = &p.program.filename {
        field("file", file.to_string(), Style::new());
    }
    field("started", view.clock.time_of_day(p.start_ns), Style::new());
    if let Some(creds) = p.creds {
        field("user", ids(view, creds.uid, creds.euid, true), Style::new());
        field(
            "group",
            ids(view, creds.gid, creds.egid, false),
            Style::new(),
        );
    }
    for (label, value) in place(p) {
        field(label, value, Style::new());
    }
    let parents: Vec<String> = view
        .model()
        .ancestry(p.key)
        .iter()
        .map(|a| format!("{}{NO_BREAK}{}", a.comm, shown_pid(a.key.pid)))
        .collect();
    if !parents.is_empty() {
        field("parents", parents.join(" ← "), Style::new());
    }
    let history = p.history();
    let events = match history.omitted {
        0 if history.events.is_empty() => "none seen since it was found in /proc".to_owned(),
        0 => format!("{}", history.events.len()),
        n => format!(
            "{} ({n} between the first and the latest left out)",
            history.events.len()
        ),
    };
    field("events", events, Style::new());
    for event in &history.events {
        for text in format::wrap(&text_line(event, view.clock), width) {
            out.push(Line::from(text));
        }
    }
    out
}

/// What it cost: what the kernel accounted when it ended, or while it runs, what its latest
/// sample (taken at `now_ns` at the latest) read.
fn resources(p: &Process, now_ns: u64) -> Vec<(&'static str, String)> {
    let r = &p.resources;
    if let Some(usage) = &r.usage {
        return exit_usage(usage);
    }
    let Some(sampled) = r.sampled.filter(|_| p.exit.is_none()) else {
        return Vec::new();
    };
    let sample = sampled.sample;
    let cpu = match sampled.cpu_percent() {
        percent if percent.is_empty() => format!("{} in all", cpu_seconds(sample.cpu_ns)),
        percent => format!("{percent}% now, {} in all", cpu_seconds(sample.cpu_ns)),
    };
    let mut memory = format!("{} resident", bytes_short(sample.rss_bytes));
    if r.peak_rss_bytes > sample.rss_bytes {
        memory.push_str(&format!(", {} at most", bytes_short(r.peak_rss_bytes)));
    }
    let threads = match sample.threads {
        1 => "1 thread".to_owned(),
        n => format!("{n} threads"),
    };
    let letter = sample.state.letter();
    let ago = duration::short(now_ns.saturating_sub(sampled.at_ns));
    vec![
        ("cpu", cpu),
        ("memory", memory),
        (
            "sampled",
            format!("{letter} ({}), {threads}, {ago} ago", state_meaning(letter)),
        ),
    ]
}

/// The lines of what the kernel accounted to a process that ended.
fn exit_usage(usage: &Usage) -> Vec<(&'static str, String)> {
    let io = match (usage.read_bytes, usage.write_bytes) {
        (Some(read), Some(written)) => format!(
            "{} read, {} written",
            bytes_short(read),
            bytes_short(written)
        ),
        _ => "not counted by this kernel".to_owned(),
    };
    vec![
        (
            "cpu",
            format!(
                "{} (user {}, system {})",
                cpu_seconds(usage.cpu_ns()),
                cpu_seconds(usage.user_ns),
                cpu_seconds(usage.system_ns)
            ),
        ),
        (
            "memory",
            format!("{} at most", bytes_short(usage.max_rss_bytes)),
        ),
        ("disk i/o", io),
        (
            "switches",
            format!(
                "{} voluntary, {} involuntary",
                usage.voluntary_switches, usage.involuntary_switches
            ),
        ),
    ]
}

/// What a scheduling state's letter means, as `ps(1)` explains it.
fn state_meaning(letter: char) -> &'static str {
    match letter {
        'R' => "running",
        'S' => "sleeping",
        'D' => "waiting for I/O",
        'T' => "stopped",
        't' => "stopped by a tracer",
        'Z' => "zombie",
        'X' => "dead",
        'I' => "idle",
        'P' => "parked",
        'W' => "waking",
        'K' => "wakekill",
        _ => "unknown",
    }
}

/// Its PID namespace and cgroup, as far as they are known.
fn place(p: &Process) -> Vec<(&'static str, String)> {
    let mut fields = Vec::new();
    if let Some(ns) = p.pid_ns {
        fields.push(("pid ns", ns.inode.to_string()));
    }
    // A path is shown through its Display, escaped: a directory name is anyone's to choose.
    let cgroup = match (&p.cgroup, p.cgroup_id) {
        (Some(path), Some(id)) => Some(format!("{path} (id {id})")),
        (Some(path), None) => Some(path.to_string()),
        (None, Some(id)) => Some(id.to_string()),
        (None, None) => None,
    };
    fields.extend(cgroup.map(|c| ("cgroup", c)));
    let container = p
        .cgroup
        .as_ref()
        .and_then(|path| container_of(path.as_bytes()));
    fields.extend(container.map(|c| ("container", container_line(&c))));
    fields
}

/// `docker 3f4e…2f (pod 8d1b…)`: the runtime, the whole id or name, and the pod's uid;
/// the id and the uid come from the cgroup path, escaped.
fn container_line(c: &Container) -> String {
    let mut line = format!("{} {}", c.runtime, text::escape(c.id));
    if let Some(pod) = c.pod {
        line.push_str(&format!(" (pod{NO_BREAK}{})", text::escape(pod)));
    }
    line
}

/// How long it ran and how it ended, or how long it has been running, at `now_ns`.
fn state(p: &Process, now_ns: u64) -> (String, Style) {
    match p.exit.zip(p.run_ns()) {
        Some((exit, run)) => (
            format!("exited after {}: {}", duration::short(run), exit.status),
            Style::new().add_modifier(Modifier::DIM),
        ),
        None => {
            let threads = match p.threads {
                1 => "1 thread".to_owned(),
                n => format!("{n} threads"),
            };
            let kind = if p.kernel_thread {
                "kernel thread, "
            } else {
                ""
            };
            let age = duration::age(now_ns.saturating_sub(p.start_ns));
            (format!("running for {age}, {kind}{threads}"), Style::new())
        }
    }
}

/// `1000 alice, effective 0 root`; group ids have no names here.
fn ids(view: &View, real: u32, effective: u32, users: bool) -> String {
    let named = |id: u32| match view.users.name(id).filter(|_| users) {
        Some(name) => format!("{id} {name}"),
        None => id.to_string(),
    };
    if real == effective {
        named(real)
    } else {
        format!("{}, effective {}", named(real), named(effective))
    }
}
