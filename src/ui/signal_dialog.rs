//! The signal dialog (`k`, F9): a signal picked from a list (SIGTERM to start with), then
//! a confirmation naming the process (or how many tagged ones); pid 1 asks a second time.
//! Sending is asked of the loop ([`Effect::Signal`]), which sends through a pidfd opened
//! for each process as it was when the dialog opened (`relay::signal`): a pid given to
//! another process since is refused. What came of it is one line ([`summary`]).

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::{
    buffer::Buffer,
    layout::Rect,
    style::{Modifier, Stylize},
    text::Line,
};

use super::{
    component::{Ask, Component, Dialog, Handled, View},
    format,
    message::Effect,
    panes::tree::command,
    render::{CHOOSE_KEYS, PICKED, popup},
};
use crate::{event::ProcessKey, relay::Sent, tracker::model::Model};

/// The signals offered, by number.
pub const SIGNALS: &[(&str, i32)] = &[
    ("SIGHUP", libc::SIGHUP),
    ("SIGINT", libc::SIGINT),
    ("SIGQUIT", libc::SIGQUIT),
    ("SIGABRT", libc::SIGABRT),
    ("SIGKILL", libc::SIGKILL),
    ("SIGUSR1", libc::SIGUSR1),
    ("SIGUSR2", libc::SIGUSR2),
    ("SIGALRM", libc::SIGALRM),
    ("SIGTERM", libc::SIGTERM),
    ("SIGCONT", libc::SIGCONT),
    ("SIGSTOP", libc::SIGSTOP),
    ("SIGTSTP", libc::SIGTSTP),
    ("SIGWINCH", libc::SIGWINCH),
];
/// The one selected when the dialog opens, as in htop and kill(1).
const DEFAULT: &str = "SIGTERM";
/// Characters of a command line the dialog shows at most.
const COMMAND_CHARS: usize = 48;
const WIDTH: u16 = 64;

/// A process to signal, as it was when the dialog opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub key: ProcessKey,
    /// `pid 1234 (command line)`, escaped.
    pub name: String,
}

/// What the dialog asks the loop to send, and to whom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signalling {
    pub signal: i32,
    pub signal_name: &'static str,
    pub targets: Vec<Target>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Choose,
    Confirm,
    /// Pid 1 is among the targets: asked again.
    ConfirmInit,
}

#[derive(Debug)]
pub struct SignalDialog {
    targets: Vec<Target>,
    /// The targets are the tagged processes.
    tagged: bool,
    /// The signal selected, in [`SIGNALS`].
    at: usize,
    stage: Stage,
}

impl SignalDialog {
    /// A dialog for the processes `keys` of `model` (the tagged ones if `tagged`).
    pub fn new(model: &Model, keys: &[ProcessKey], tagged: bool) -> Self {
        let targets = keys
            .iter()
            .map(|&key| {
                let command = model.get(key).map(command).unwrap_or_default();
                let mut short: String = command.chars().take(COMMAND_CHARS).collect();
                if short.len() < command.len() {
                    short.push('…');
                }
                Target {
                    key,
                    name: format!("pid {} ({short})", key.pid),
                }
            })
            .collect();
        Self {
            targets,
            tagged,
            at: SIGNALS.iter().position(|s| s.0 == DEFAULT).unwrap_or(0),
            stage: Stage::Choose,
        }
    }

    fn signal(&self) -> (&'static str, i32) {
        SIGNALS[self.at]
    }

    /// Whom the signal goes to, in words: the tagged ones by pid, so that a tag set long
    /// ago is not signalled unseen.
    fn whom(&self) -> String {
        match self.targets.as_slice() {
            [one] if !self.tagged => one.name.clone(),
            all => {
                let mut pids: Vec<String> =
                    all.iter().take(8).map(|t| t.key.pid.to_string()).collect();
                if all.len() > pids.len() {
                    pids.push("…".to_owned());
                }
                format!("{} tagged processes (pids {})", all.len(), pids.join(", "))
            }
        }
    }

    fn send(&self) -> Handled {
        let (signal_name, signal) = self.signal();
        let signalling = Signalling {
            signal,
            signal_name,
            targets: self.targets.clone(),
        };
        Handled::Close(Some(Ask::Effect(Effect::Signal(signalling))))
    }

    fn lines(&self) -> Vec<Line<'static>> {
        let (name, number) = self.signal();
        match self.stage {
            Stage::Choose => {
                let mut lines = wrapped(&format!("to {}", self.whom()));
                lines.push(Line::raw(""));
                lines.extend(SIGNALS.iter().enumerate().map(|(i, (name, number))| {
                    let text = format!(" {number:>3} {name:<10}");
                    if i == self.at {
                        Line::styled(text, PICKED)
                    } else {
                        Line::raw(text)
                    }
                }));
                lines
            }
            Stage::Confirm => {
                let mut lines = wrapped(&format!("Send {name} ({number}) to {}?", self.whom()));
                lines.push(Line::raw(""));
                // Not Enter: `k` moved up and Enter folded before they were htop's, and
                // `kkk` Enter Enter must not kill anything.
                lines.push(Line::raw(" y sends it · any other key cancels").dark_gray());
                lines
            }
            Stage::ConfirmInit => vec![
                Line::raw(" pid 1 is init: signalling it can bring the whole system down.").red(),
                Line::raw(format!(" Send {name} ({number}) to init anyway?")),
                Line::raw(""),
                Line::raw(" y sends it · any other key cancels").dark_gray(),
            ],
        }
    }
}

impl Dialog for SignalDialog {}

impl Component for SignalDialog {
    fn key(&mut self, key: KeyEvent, _view: &View) -> Handled {
        let yes = matches!(key.code, KeyCode::Char('y' | 'Y'));
        match (self.stage, key.code) {
            (_, KeyCode::Esc) => Handled::Close(None),
            (Stage::Choose, KeyCode::Up | KeyCode::Char('k')) => {
                self.at = self.at.saturating_sub(1);
                Handled::Taken
            }
            (Stage::Choose, KeyCode::Down | KeyCode::Char('j')) => {
                self.at = (self.at + 1).min(SIGNALS.len() - 1);
                Handled::Taken
            }
            (Stage::Choose, KeyCode::Enter) => {
                self.stage = Stage::Confirm;
                Handled::Taken
            }
            (Stage::Choose, _) => Handled::Taken,
            (Stage::Confirm, _) if yes => {
                if self.targets.iter().any(|t| t.key.pid == 1) {
                    self.stage = Stage::ConfirmInit;
                    Handled::Taken
                } else {
                    self.send()
                }
            }
            (Stage::ConfirmInit, _) if yes => self.send(),
            _ => Handled::Close(Some(Ask::Say("no signal sent".to_owned()))),
        }
    }

    fn draw(&self, area: Rect, buf: &mut Buffer, _view: &View) {
        let lines = self.lines();
        let keys = match self.stage {
            Stage::Choose => CHOOSE_KEYS,
            _ => "",
        };
        let title = " Send a signal ".add_modifier(Modifier::BOLD);
        popup(
            area,
            buf,
            (WIDTH, lines.len() as u16 + 2),
            title,
            keys,
            lines,
        );
    }
}

/// `text` in lines that fit the dialog, each after a space.
fn wrapped(text: &str) -> Vec<Line<'static>> {
    format::wrap(text, WIDTH as usize - 4)
        .into_iter()
        .map(|line| Line::raw(format!(" {line}")))
        .collect()
}

/// What came of sending `signalling`, one outcome per target, in one line.
pub fn summary(signalling: &Signalling, outcomes: &[Sent]) -> String {
    let signal = signalling.signal_name;
    if let ([target], [outcome]) = (signalling.targets.as_slice(), outcomes) {
        let name = &target.name;
        return match outcome {
            Sent::Sent => format!("{signal} sent to {name}"),
            Sent::Gone => format!("{name} has exited: {signal} not sent"),
            Sent::Reused => format!(
                "pid {} is another process now: refused, {signal} not sent",
                target.key.pid
            ),
            Sent::NotAllowed => format!("not allowed to signal {name} (EPERM)"),
            Sent::Itself => format!("{name} is forkwatch or runs it: {signal} not sent"),
            Sent::Failed(e) => format!("{signal} not sent to {name}: {e}"),
        };
    }
    let count = |what: fn(&Sent) -> bool| outcomes.iter().filter(|o| what(o)).count();
    let sent = count(|o| *o == Sent::Sent);
    let mut line = format!("{signal} sent to {sent} of {}", outcomes.len());
    let parts: [(usize, &str); 5] = [
        (count(|o| *o == Sent::Gone), "had exited"),
        (count(|o| *o == Sent::Reused), "pid reused: refused"),
        (count(|o| *o == Sent::NotAllowed), "not allowed (EPERM)"),
        (count(|o| *o == Sent::Itself), "forkwatch or what runs it"),
        (count(|o| matches!(o, Sent::Failed(_))), "failed"),
    ];
    for (n, what) in parts {
        if n > 0 {
            line.push_str(&format!("; {n} {what}"));
        }
    }
    line
}
