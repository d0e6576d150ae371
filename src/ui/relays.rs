//! Relay rules in the UI: `r` makes one (`relay_dialog`), `R` the relays pane
//! (`panes::relays`), and the rules' notices, kept for the pane and the latest in the
//! status line. The rules are the tracker's ([`crate::tracker::rules`]); their targets'
//! pidfds ([`crate::relay::Targets`]) are used by the loop that owns the state, which
//! sends the signals the rules ask for and waits on [`super::App::relay_target_exited`]
//! beside the channel.

use std::collections::VecDeque;

use ratatui::{style::Stylize, text::Span};

use crate::tracker::{
    Tracker,
    rules::{Notice, RuleId},
};

/// Notices kept for the pane.
const NOTICES_KEPT: usize = 200;

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

/// What the tracker's relay rules said, oldest first, for the relays pane.
#[derive(Debug, Default)]
pub struct RelayNotices(VecDeque<Notice>);

impl RelayNotices {
    /// Keeps what the relays said, for the pane, and writes it to the log file (never on
    /// the terminal as text: the UI draws there); returns the latest, for the status line.
    pub fn keep(&mut self, fresh: Vec<Notice>) -> Option<String> {
        let last = fresh.last()?.to_string();
        for notice in fresh {
            tracing::info!("{notice}");
            self.0.push_back(notice);
        }
        let excess = self.0.len().saturating_sub(NOTICES_KEPT);
        self.0.drain(..excess);
        Some(last)
    }

    /// What was said about `rule`, oldest first.
    pub fn about(&self, rule: RuleId) -> impl Iterator<Item = &Notice> {
        self.0.iter().filter(move |n| rule_of(n) == Some(rule))
    }
}

/// The status line's relays segment: rules, signals sent, undelivered ones in warning
/// colours.
pub fn status(tracker: &Tracker) -> Option<Vec<Span<'static>>> {
    let rules = tracker.relays().rules();
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
