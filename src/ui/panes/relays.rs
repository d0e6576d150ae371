//! The relays pane (`R`): each rule with the signals sent and undelivered per target,
//! dropped targets and what the rule said; last, the events lost. While it has the keys,
//! x removes the picked rule.

use crossterm::event::KeyEvent;
use ratatui::{
    buffer::Buffer,
    layout::Rect,
    style::{Color, Modifier, Style},
    text::Line,
    widgets::{Paragraph, Widget},
};

use super::{
    super::{
        component::{Ask, Component, Handled, View},
        format,
    },
    list::{self, ListKey, list_key},
};
use crate::{
    text,
    tracker::rules::{Notice, Rule, SendPath},
};

/// Notices the pane shows under each rule, the latest.
const NOTICES_SHOWN: usize = 3;

/// The pane's state: which rule is picked.
#[derive(Debug, Default)]
pub struct RelaysPane {
    /// The rule picked, by its place in the list.
    picked: usize,
}

impl Component for RelaysPane {
    fn key(&mut self, key: KeyEvent, view: &View) -> Handled {
        let rules = view.tracker.relays().rules();
        match list_key(key, &mut self.picked, rules.len()) {
            ListKey::Moved => Handled::Taken,
            ListKey::Remove => match rules.get(self.picked).map(Rule::id) {
                Some(id) => {
                    self.picked = self.picked.min(rules.len().saturating_sub(2));
                    Handled::Ask(Ask::RemoveRule(id))
                }
                None => Handled::Taken,
            },
            // A rule has no one process to show: Enter does what it does in the tree.
            ListKey::Show | ListKey::Other => Handled::Ignored,
        }
    }

    /// Each rule: its spec, how many events it relayed, then each target with the signals
    /// sent and undelivered, and the rule's latest notices; last, the events lost.
    fn draw(&self, area: Rect, buf: &mut Buffer, view: &View) {
        let focused = view.focused;
        let block = list::block(" Relays ", focused, " ↑↓ pick · x remove · Esc tree ");
        let inner = block.inner(area);
        block.render(area, buf);
        let rules = view.tracker.relays().rules();
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
        let picked = self.picked.min(rules.len().saturating_sub(1));
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
            rule_lines(view, rule, style, &mut out);
        }
        let lost = view.tracker.relays().lost();
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
fn rule_lines(view: &View, rule: &Rule, style: Style, out: &mut Wrapped) {
    // The spec's parts with spaces between them, for wrapping.
    let spec = rule.spec().to_string().replace(':', " ");
    let mut header = format!("{}: {spec}", rule.id());
    if !rule.is_live() {
        header.push_str(" (ended)");
    }
    out.push(&header, "", style);
    // Who sends the signals only when the kernel was asked to: user space is the default.
    let mut relayed = format!("{} events relayed", rule.matched());
    if rule.spec().path == SendPath::Kernel {
        // Its reason may quote the kernel's verifier.
        relayed.push_str(&format!(
            ", {}",
            text::escape_str(&rule.sender().to_string())
        ));
    }
    out.push(&relayed, "  ", Style::new());
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
    let said: Vec<&Notice> = view.relay_notices.about(rule.id()).collect();
    for notice in &said[said.len().saturating_sub(NOTICES_SHOWN)..] {
        out.push(&notice.to_string(), "  ", WARNING);
    }
}
