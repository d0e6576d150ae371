//! The relay dialog (`r`): a relay rule for the selected process, or for the picked pin's
//! subtree. The relay library checks every part ([`RuleFields::build`], then
//! [`crate::relay::Targets::open`] opens the targets) and what is wrong shows in place, in
//! its words. Targets are typed, or picked from the tree with Ctrl-T; each is held as the
//! process that had its pid at that moment, and refused when the rule is made if it has
//! exited since.
//!
//! What needs the outside world (the process that has a typed pid, opening the rule's
//! targets) the dialog asks of the loop, handing itself over with the question
//! ([`Effect::RelayDialog`]); it comes back with the answer right after the update
//! ([`RelayDialog::answered`]), before anything is drawn.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::{
    buffer::Buffer,
    layout::Rect,
    style::{Color, Modifier, Style, Stylize},
    text::{Line, Span},
    widgets::{Clear, Widget},
};

use super::{
    component::{self, Component, Dialog, Handled, View},
    format,
    message::Effect,
    pins::name_of,
    render::{PICKED, popup},
};
use crate::{
    event::ProcessKey,
    relay::Picks,
    tracker::{
        model::{Model, Process},
        rules::{Layout, NewRule, Picked, RtSignal, RuleFields, RuleSpec, SendPath},
    },
};

/// What the dialog asks of the loop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ask {
    /// The live processes that have these typed pids now.
    Hold(Vec<u32>),
    /// The rule opened: its targets and the process it matches.
    Make(RuleSpec, Picks),
}

/// What the loop answers.
#[derive(Debug)]
pub enum Answer {
    /// Each pid asked, with the live process that had it (`None`: none).
    Held(Vec<(u32, Option<Picked>)>),
    /// The rule, opened; or why not, in one line.
    Made(Result<NewRule, String>),
}

/// Whose events the rule relays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Whose {
    /// The subject's own, and the forks it makes.
    Process,
    /// Its subtree's, including processes born into it later.
    Subtree,
    Every,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Whose,
    Kinds,
    Targets,
    Signal,
    Layout,
    Path,
}

const FIELDS: [Field; 6] = [
    Field::Whose,
    Field::Kinds,
    Field::Targets,
    Field::Signal,
    Field::Layout,
    Field::Path,
];
/// Width of the labels on the left.
const LABEL: usize = 8;
const WIDTH: u16 = 76;
const KEYS: &str = " Tab next · ←→ choose · Ctrl-T picks · Enter makes it · Esc cancels ";

/// `None` for a field left empty: the library's default.
fn given(text: &str) -> Option<&str> {
    (!text.trim().is_empty()).then_some(text)
}

/// The rule being written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayDialog {
    /// The process it is about, as it was when the dialog opened, and how to name it.
    subject: Option<(Picked, String)>,
    whose: Whose,
    kinds: String,
    targets: String,
    /// Each pid of `targets`, held as the process that had it when it was picked or typed
    /// (`None`: no live process had it then).
    held: Vec<(u32, Option<Picked>)>,
    signal: String,
    layout: Layout,
    path: SendPath,
    field: Field,
    /// What the library said was wrong, until the next change.
    error: Option<String>,
}

impl RelayDialog {
    /// `r`: a rule for the events of `subject` (a process of `model`), or of its subtree,
    /// or of every process without one.
    pub fn new(model: &Model, subject: Option<ProcessKey>, subtree: bool) -> Self {
        let subject = subject.map(|key| (picked(model, key), name_of(model, key)));
        let whose = match (&subject, subtree) {
            (None, _) => Whose::Every,
            (Some(_), false) => Whose::Process,
            (Some(_), true) => Whose::Subtree,
        };
        Self {
            subject,
            whose,
            kinds: String::new(),
            targets: String::new(),
            held: Vec::new(),
            signal: String::new(),
            layout: Layout::default(),
            path: SendPath::default(),
            field: Field::Targets,
            error: None,
        }
    }

    fn text_mut(&mut self) -> Option<&mut String> {
        match self.field {
            Field::Kinds => Some(&mut self.kinds),
            Field::Targets => Some(&mut self.targets),
            Field::Signal => Some(&mut self.signal),
            Field::Whose | Field::Layout | Field::Path => None,
        }
    }

    fn add_target(&mut self, picked: Picked) {
        let pid = picked.key.pid;
        let targets = self.targets.trim_end();
        self.targets = if targets.is_empty() || targets.ends_with(',') {
            format!("{targets}{pid}")
        } else {
            format!("{targets},{pid}")
        };
        self.held.retain(|&(held, _)| held != pid);
        self.held.push((pid, Some(picked)));
    }

    /// Keeps each pid of the targets text held as the process it was when it was typed or
    /// picked; returns those typed since, to be held as the process that has them now.
    fn hold_targets(&mut self) -> Vec<u32> {
        let before = std::mem::take(&mut self.held);
        let pids = self
            .targets
            .split(',')
            .filter_map(|p| p.trim().parse().ok());
        let mut new = Vec::new();
        for pid in pids {
            if self.held.iter().any(|&(held, _)| held == pid) || new.contains(&pid) {
                continue;
            }
            match before.iter().find(|&&(held, _)| held == pid) {
                Some(&held) => self.held.push(held),
                None => new.push(pid),
            }
        }
        new
    }

    /// After a change to a text field: the dialog stays as it is, unless the targets text
    /// names pids not held yet; then it goes through the loop, which holds them.
    fn edited(&mut self) -> Handled {
        if self.field != Field::Targets {
            return Handled::Taken;
        }
        let new = self.hold_targets();
        if new.is_empty() {
            return Handled::Taken;
        }
        let dialog = Box::new(self.clone());
        let hold = Effect::RelayDialog(dialog, Ask::Hold(new));
        Handled::Close(Some(component::Ask::Effect(hold)))
    }

    /// Closes this dialog for `self`, after a change to the targets: open at once if every
    /// pid is held, else through the loop, which holds the new ones.
    fn reopen(mut self) -> Handled {
        let new = self.hold_targets();
        Handled::Close(Some(if new.is_empty() {
            component::Ask::Open(Box::new(self))
        } else {
            component::Ask::Effect(Effect::RelayDialog(Box::new(self), Ask::Hold(new)))
        }))
    }

    /// The next choice of a choice field, forwards or back.
    fn choose(&mut self, forward: bool) {
        match self.field {
            Field::Whose if self.subject.is_some() => {
                let order = [Whose::Process, Whose::Subtree, Whose::Every];
                let at = order.iter().position(|&w| w == self.whose).unwrap_or(0);
                let step = if forward { 1 } else { order.len() - 1 };
                self.whose = order[(at + step) % order.len()];
            }
            Field::Layout => {
                self.layout = match self.layout {
                    Layout::RelayFork => Layout::KMonitor,
                    Layout::KMonitor => Layout::RelayFork,
                };
            }
            Field::Path => {
                self.path = match self.path {
                    SendPath::User => SendPath::Kernel,
                    SendPath::Kernel => SendPath::User,
                };
            }
            _ => {}
        }
    }

    fn step(&mut self, forward: bool) {
        let at = FIELDS.iter().position(|&f| f == self.field).unwrap_or(0);
        let step = if forward { 1 } else { FIELDS.len() - 1 };
        self.field = FIELDS[(at + step) % FIELDS.len()];
    }

    /// Asks the loop to open the rule, closing; or stays open to show what is wrong before
    /// that.
    fn make(&mut self) -> Handled {
        let pid = self.subject.as_ref().map(|(p, _)| p.key.pid.to_string());
        let fields = RuleFields {
            to: &self.targets,
            pid: pid.as_deref().filter(|_| self.whose == Whose::Process),
            subtree: pid.as_deref().filter(|_| self.whose == Whose::Subtree),
            kinds: given(&self.kinds),
            signal: given(&self.signal),
            layout: Some(self.layout.as_str()),
            container: None,
            cgroup: None,
            path: Some(self.path.as_str()),
        };
        let spec = match fields.build() {
            Ok(spec) => spec,
            Err(e) => {
                self.error = Some(e);
                return Handled::Taken;
            }
        };
        let mut targets = Vec::new();
        for &pid in &spec.targets {
            match self.held.iter().find(|&&(held, _)| held == pid) {
                Some(&(_, Some(picked))) => targets.push(picked),
                _ => {
                    self.error = Some(format!("no process had pid {pid} when it was typed"));
                    return Handled::Taken;
                }
            }
        }
        let picks = Picks {
            targets,
            matched: self.subject.as_ref().map(|&(picked, _)| picked),
        };
        let ask = Ask::Make(spec, picks);
        let effect = Effect::RelayDialog(Box::new(self.clone()), ask);
        Handled::Close(Some(component::Ask::Effect(effect)))
    }

    /// Back from the loop with what it asked for: the rule it made, or itself, to be
    /// opened again (with what is wrong, if the rule could not be made).
    pub fn answered(mut self: Box<Self>, answer: Answer) -> Result<NewRule, Box<Self>> {
        match answer {
            Answer::Held(held) => self.held.extend(held),
            Answer::Made(Ok(rule)) => return Ok(rule),
            Answer::Made(Err(e)) => self.error = Some(e),
        }
        Err(self)
    }

    fn value(&self, field: Field) -> Vec<Span<'static>> {
        let focused = field == self.field;
        let text = |text: &str, default: String| -> Vec<Span<'static>> {
            let mut spans = vec![Span::raw(crate::text::escape_str(text).into_owned())];
            if focused {
                spans.push(Span::raw("█"));
            }
            if text.is_empty() && !default.is_empty() {
                spans.push(format!("{default} (default)").dark_gray());
            }
            spans
        };
        let choice = |value: String| -> Vec<Span<'static>> {
            if focused {
                vec!["‹ ".cyan(), Span::raw(value), " ›".cyan()]
            } else {
                vec![Span::raw(value)]
            }
        };
        match field {
            Field::Whose => choice(match (&self.subject, self.whose) {
                (Some((_, name)), Whose::Process) => {
                    format!("{name}: its own events and its forks")
                }
                (Some((_, name)), Whose::Subtree) => format!("the subtree of {name}"),
                _ => "every process".to_owned(),
            }),
            Field::Kinds => text(&self.kinds, self.layout.default_kinds().to_string()),
            Field::Targets => text(&self.targets, String::new()),
            Field::Signal => text(&self.signal, RtSignal::default().to_string()),
            Field::Layout => choice(self.layout.to_string()),
            Field::Path => choice(
                match self.path {
                    SendPath::User => "user space",
                    SendPath::Kernel => "the kernel, where it can",
                }
                .to_owned(),
            ),
        }
    }

    /// What the focused field takes.
    fn hint(&self) -> String {
        match self.field {
            Field::Whose => "whose events: the process's own and the forks it makes, its \
                             subtree's (processes born into it later too), or every process's"
                .to_owned(),
            Field::Kinds => {
                "comma-separated: fork, thread_start, exec, exit, thread_exit, uid, gid".to_owned()
            }
            Field::Targets => {
                "the pids to signal, comma-separated; Ctrl-T picks one from the tree".to_owned()
            }
            Field::Signal => format!(
                "a real-time signal: RTMIN+N, RTMAX-N or a number in {}..{}",
                libc::SIGRTMIN(),
                libc::SIGRTMAX()
            ),
            Field::Layout => "relayfork: si_pid the parent, si_value the process; \
                              kmonitor: si_pid the process, si_int the event's bit"
                .to_owned(),
            Field::Path => "the kernel: sooner, si_code SI_KERNEL and si_pid 0, the pid the \
                            layout puts there in si_value's high half"
                .to_owned(),
        }
    }
}

impl Dialog for RelayDialog {}

impl Component for RelayDialog {
    fn key(&mut self, key: KeyEvent, _view: &View) -> Handled {
        let control = key.modifiers.contains(KeyModifiers::CONTROL);
        let choice = matches!(self.field, Field::Whose | Field::Layout | Field::Path);
        match key.code {
            KeyCode::Esc => return Handled::Close(None),
            KeyCode::Enter => return self.make(),
            KeyCode::Tab | KeyCode::Down => self.step(true),
            KeyCode::BackTab | KeyCode::Up => self.step(false),
            KeyCode::Char('t') if control => {
                let picker = Picker {
                    dialog: self.clone(),
                };
                return Handled::Close(Some(component::Ask::Open(Box::new(picker))));
            }
            KeyCode::Left if choice => self.choose(false),
            KeyCode::Right | KeyCode::Char(' ') if choice => self.choose(true),
            KeyCode::Backspace => {
                if let Some(text) = self.text_mut() {
                    text.pop();
                    self.error = None;
                    return self.edited();
                }
            }
            KeyCode::Char(c)
                if !key
                    .modifiers
                    .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
            {
                if let Some(text) = self.text_mut() {
                    text.push(c);
                    self.error = None;
                    return self.edited();
                }
            }
            _ => {}
        }
        Handled::Taken
    }

    fn draw(&self, area: Rect, buf: &mut Buffer, _view: &View) {
        let width = WIDTH.min(area.width);
        let inner = (width as usize).saturating_sub(2);
        let mut lines: Vec<Line> = FIELDS
            .iter()
            .map(|&field| {
                let label = match field {
                    Field::Whose => "match",
                    Field::Kinds => "kinds",
                    Field::Targets => "to",
                    Field::Signal => "signal",
                    Field::Layout => "layout",
                    Field::Path => "sent in",
                };
                let style = if field == self.field {
                    PICKED
                } else {
                    Style::new().fg(Color::Cyan)
                };
                let mut spans = vec![
                    Span::styled(format!(" {label:<w$}", w = LABEL - 1), style),
                    Span::raw(" "),
                ];
                spans.extend(self.value(field));
                Line::from(spans)
            })
            .collect();
        lines.push(Line::raw(""));
        let (message, style) = match &self.error {
            Some(error) => (
                crate::text::escape_str(error).into_owned(),
                Style::new().fg(Color::Red),
            ),
            None => (self.hint(), Style::new().fg(Color::DarkGray)),
        };
        for line in format::wrap(&message, inner.saturating_sub(2)) {
            lines.push(Line::styled(format!(" {line}"), style));
        }
        let title = " Relay rule ".add_modifier(Modifier::BOLD);
        popup(
            area,
            buf,
            (width, lines.len() as u16 + 2),
            title,
            KEYS,
            lines,
        );
    }
}

/// Picks a target from the tree for the relay dialog underneath: the tree's moving keys
/// move, Enter adds the selected process, Esc goes back without one.
#[derive(Debug)]
struct Picker {
    dialog: RelayDialog,
}

impl Dialog for Picker {
    fn on_status_line(&self) -> bool {
        true
    }
}

impl Component for Picker {
    fn key(&mut self, key: KeyEvent, view: &View) -> Handled {
        match key.code {
            KeyCode::Enter => {
                if let Some(key) = view.selected {
                    let picked = picked(view.model(), key);
                    if view.model().get(key).is_some_and(Process::is_alive) {
                        self.dialog.add_target(picked);
                    } else {
                        self.dialog.error = Some(format!(
                            "pid {} ({}) has exited: it cannot be a relay target",
                            key.pid, picked.comm
                        ));
                    }
                }
            }
            KeyCode::Esc => {}
            // The application moves the tree's selection on the tree's keys.
            _ => return Handled::Ignored,
        }
        self.dialog.clone().reopen()
    }

    /// Draws the picker's keys on the status line, `line`.
    fn draw(&self, line: Rect, buf: &mut Buffer, view: &View) {
        let picks = view
            .selected
            .map(|key| format!(" · Enter picks {}", name_of(view.model(), key)))
            .unwrap_or_default();
        Clear.render(line, buf);
        Line::from(vec![
            "pick a relay target: ".bold(),
            format!("↑↓ move{picks} · Esc back to the rule").into(),
        ])
        .render(line, buf);
    }
}

/// The process `key` as picked now: its name as the model has it.
fn picked(model: &Model, key: ProcessKey) -> Picked {
    Picked {
        key,
        comm: model.get(key).map(|p| p.comm).unwrap_or_default(),
    }
}
