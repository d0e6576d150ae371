//! Relay rules in the UI: `r` makes one (`relay_dialog`), `R` the relays pane (each rule
//! with the signals sent and undelivered per target, dropped targets, what the rule said),
//! and the rules' notices in the status line. The rules are the tracker's
//! ([`crate::tracker::rules`]); their targets' pidfds ([`crate::relay::Targets`]) are used
//! by the loop that owns the state, which sends the signals the rules ask for and waits on
//! [`App::relay_target_exited`] beside the channel.

use std::collections::VecDeque;

use anyhow::Result;
use crossterm::event::KeyEvent;
use ratatui::{
    buffer::Buffer,
    layout::Rect,
    style::{Color, Modifier, Style, Stylize},
    text::{Line, Span},
    widgets::{Paragraph, Widget},
};

use super::{
    app::{App, Pane},
    focus::{self, ListKey, list_key},
    format,
    message::Effect,
};
use crate::tracker::rules::{Notice, Rule, RuleId, RuleSpec, Target};

/// Notices kept for the pane.
const NOTICES_KEPT: usize = 200;
/// Notices the pane shows under each rule, the latest.
const NOTICES_SHOWN: usize = 3;

/// What the tracker's relay rules said, and how the UI shows them.
#[derive(Debug, Default)]
pub struct RelaysState {
    /// Oldest first.
    notices: VecDeque<Notice>,
    /// The rule picked in the pane, by its place in the list.
    picked: usize,
}

/// The rule a notice is about; `None` for lost events, which concern every rule.
fn rule_of(notice: &Notice) -> Option<RuleId> {
    match notice {
        Notice::TargetGone { rule, .. }
        | Notice::TargetUnprepared { rule, .. }
        | Notice::MatchEnded { rule, .. }
        | Notice::SubtreeEnded { rule, .. } => Some(*rule),
        Notice::EventsLost { .. } => None,
    }
}

impl App {
    /// Opens the rule's targets and adds it (`--relay`), its pids resolved now. Its
    /// warnings are shown like every notice. For what drives the application, before its
    /// loop: opening targets touches the outside world, which [`super::update`] leaves to
    /// the loop (see `relay_dialog`).
    pub fn add_relay(&mut self, spec: RuleSpec) -> Result<RuleId> {
        let mut notices = Vec::new();
        let id = self
            .targets
            .add_rule(&mut self.tracker, spec, &mut notices)?;
        self.show_relay_notices(notices);
        Ok(id)
    }

    /// Shows what the relays said: the latest in the status line, all of them in the pane
    /// and the log file. Never on the terminal as text: the UI draws there.
    pub(super) fn show_relay_notices(&mut self, fresh: Vec<Notice>) {
        let Some(last) = fresh.last() else {
            return;
        };
        self.say(last.to_string());
        for notice in fresh {
            tracing::info!("{notice}");
            self.relays.notices.push_back(notice);
        }
        let excess = self.relays.notices.len().saturating_sub(NOTICES_KEPT);
        self.relays.notices.drain(..excess);
    }

    /// Resolves once a relay target has exited; then
    /// [`super::AppEvent::RelayTargetExited`] drops it. The loop that owns the application
    /// waits on it beside its channel.
    pub fn relay_target_exited(&self) -> impl Future<Output = ()> + '_ {
        self.targets.exited()
    }

    /// A key while the relays pane has the keys.
    pub(super) fn relays_key(&mut self, key: KeyEvent) -> bool {
        let len = self.tracker.relays().rules().len();
        match list_key(key, &mut self.relays.picked, len) {
            ListKey::Moved => {}
            ListKey::Remove => {
                let rules = self.tracker.relays().rules();
                let Some(id) = rules.get(self.relays.picked).map(Rule::id) else {
                    return true;
                };
                if let Some(rule) = self.tracker.remove_rule(id) {
                    let targets = rule.targets().iter().map(Target::id).collect();
                    self.ask(Effect::CloseRelayTargets(targets));
                }
                self.say(format!("{id} removed"));
                self.relays.picked = self.relays.picked.min(len.saturating_sub(2));
            }
            // A rule has no one process to show: Enter does what it does in the tree.
            ListKey::Show | ListKey::Other => return false,
        }
        true
    }
}

/// Each rule: its spec, how many events it relayed, then each target with the signals
/// sent and undelivered, and the rule's latest notices; last, the events lost.
pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let focused = app.has_keys(Pane::Relays);
    let block = focus::block(" Relays ", focused, " ↑↓ pick · x remove · Esc tree ");
    let inner = block.inner(area);
    block.render(area, buf);
    let rules = app.tracker.relays().rules();
    let mut out = Wrapped {
        width: inner.width as usize,
        lines: Vec::new(),
    };
    if rules.is_empty() {
        out.push(
            "no relay rules: r relays the selected process's events",
            "",
            Style::new().fg(Color::DarkGray),
        );
    }
    let picked = app.relays.picked.min(rules.len().saturating_sub(1));
    let mut picked_at = 0;
    for (at, rule) in rules.iter().enumerate() {
        let style = match (at == picked, focused) {
            (true, true) => Style::new().fg(Color::Black).bg(Color::Cyan),
            (true, false) => Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            _ => Style::new().add_modifier(Modifier::BOLD),
        };
        if at == picked {
            picked_at = out.lines.len();
        }
        rule_lines(app, rule, style, &mut out);
    }
    let lost = app.tracker.relays().lost();
    if lost > 0 {
        let text = format!("{lost} events lost: signals they called for were not sent");
        out.push(&text, "", WARNING);
    }
    // The picked rule's first line stays in view.
    let offset = if picked_at >= inner.height as usize {
        picked_at
    } else {
        0
    };
    Paragraph::new(out.lines)
        .scroll((offset as u16, 0))
        .render(inner, buf);
}

const WARNING: Style = Style::new().fg(Color::Yellow);

/// The pane's lines, wrapped to its width.
struct Wrapped {
    width: usize,
    lines: Vec<Line<'static>>,
}

impl Wrapped {
    fn push(&mut self, text: &str, indent: &str, style: Style) {
        let text_width = self.width.saturating_sub(indent.len());
        for part in format::wrap(text, text_width) {
            self.lines
                .push(Line::styled(format!("{indent}{part}"), style));
        }
    }
}

/// One rule's lines, its header in `style`.
fn rule_lines(app: &App, rule: &Rule, style: Style, out: &mut Wrapped) {
    // The spec's parts with spaces between them, for wrapping.
    let spec = rule.spec().to_string().replace(':', " ");
    let mut header = format!("{}: {spec}", rule.id());
    if !rule.is_live() {
        header.push_str(" (ended)");
    }
    out.push(&header, "", style);
    out.lines
        .push(Line::raw(format!("  {} events relayed", rule.matched())));
    for target in rule.targets() {
        let mut text = format!(
            "pid {} ({}): {} sent, {} undelivered",
            target.pid(),
            target.comm(),
            target.sent(),
            target.undelivered()
        );
        let style = if target.is_gone() {
            text.push_str(", exited: dropped");
            Style::new().fg(Color::DarkGray)
        } else if target.undelivered() > 0 {
            WARNING
        } else {
            Style::new()
        };
        out.push(&text, "  ", style);
    }
    let said: Vec<&Notice> = app
        .relays
        .notices
        .iter()
        .filter(|n| rule_of(n) == Some(rule.id()))
        .collect();
    for notice in &said[said.len().saturating_sub(NOTICES_SHOWN)..] {
        out.push(&notice.to_string(), "  ", WARNING);
    }
}

/// The status line's relays segment: rules, signals sent, undelivered ones in warning
/// colours.
pub fn status(app: &App) -> Option<Vec<Span<'static>>> {
    let rules = app.tracker.relays().rules();
    if rules.is_empty() {
        return None;
    }
    let sent: u64 = rules.iter().map(|r| r.sent()).sum();
    let undelivered: u64 = rules.iter().map(|r| r.undelivered()).sum();
    let relays = match rules.len() {
        1 => "1 relay".to_owned(),
        n => format!("{n} relays"),
    };
    let mut spans = vec![Span::raw(format!("{relays}: {sent} sent"))];
    if undelivered > 0 {
        spans.push(Span::raw(", "));
        spans.push(
            format!("{undelivered} undelivered")
                .black()
                .on_yellow()
                .bold(),
        );
    }
    Some(spans)
}
