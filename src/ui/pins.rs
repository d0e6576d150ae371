//! Pins in the UI: `p` pins the selected process's subtree (again: unpins it), `P` the pins
//! pane (each pin's root, members alive, mask, and its own event log), `m` the mask dialog
//! (`mask`), `v` the tree of pinned subtrees only. Who is in a pin is
//! [`crate::tracker::pins`]'s rule, and the pins are the tracker's; this is what the user
//! sees of them and does with them.

use anyhow::Result;
use crossterm::event::KeyEvent;
use ratatui::{
    buffer::Buffer,
    layout::Rect,
    style::{Color, Modifier, Style, Stylize},
    text::Span,
    widgets::Widget,
};

use super::{
    app::{App, Pane},
    focus::{self, ListKey, list_key},
    format, log,
    mask::MaskDialog,
    rows::{Only, TreeOptions},
    tree,
};
use crate::{
    event::{KindName, KindSet, ProcessKey, text_line},
    tracker::{
        Tracker,
        model::Model,
        pins::{Pin, Pins},
    },
};

/// How the UI shows the tracker's pins.
#[derive(Debug, Default)]
pub struct PinsState {
    /// The pin picked in the pane, by its place in the list.
    picked: usize,
    /// The tree shows only pinned subtrees.
    only: bool,
    /// Changes whenever a pin is made or removed.
    version: u64,
    /// The model generation and `version` the tree's set of pinned processes was made for.
    only_for: Option<(u64, u64)>,
}

impl PinsState {
    /// Restricts the tree to the pinned subtrees while that view is on. The set is made
    /// anew only when the model or the pins changed since it was last made.
    pub fn restrict(&mut self, tracker: &Tracker, options: &mut TreeOptions) {
        if !self.only {
            options.only = None;
            self.only_for = None;
            return;
        }
        let now = (tracker.model().generation(), self.version);
        if self.only_for != Some(now) || options.only.is_none() {
            let pinned = tracker.pins().list().iter().flat_map(Pin::known);
            options.only = Some(Only::new(pinned));
            self.only_for = Some(now);
        }
    }

    fn changed(&mut self, pins: &Pins) {
        self.version += 1;
        if pins.is_empty() {
            self.only = false;
        }
    }

    /// Takes every pin away, as its root and mask, to be made again with
    /// [`PinsState::remake`]: for a replay that goes back to its snapshot, where the
    /// members pins had are not yet known.
    pub fn take(&mut self, pins: &mut Pins) -> Vec<(ProcessKey, KindSet)> {
        let taken = pins.list().iter().map(|p| (p.root(), p.mask())).collect();
        *pins = Pins::default();
        self.version += 1;
        taken
    }

    /// Makes the pins `taken` again on `model`, with their masks; returns those whose root
    /// is not in its tree. With `last`, those are given up.
    pub fn remake(
        &mut self,
        pins: &mut Pins,
        model: &Model,
        taken: Vec<(ProcessKey, KindSet)>,
        last: bool,
    ) -> Vec<(ProcessKey, KindSet)> {
        let missing = taken
            .into_iter()
            .filter(|&(root, mask)| match pins.add(model, root) {
                Ok(pin) => {
                    pin.set_mask(mask);
                    false
                }
                Err(_) => true,
            })
            .collect();
        if last {
            self.changed(pins);
        } else {
            self.version += 1;
        }
        missing
    }
}

/// A mask as the pane shows it: loss reports always pass, so they are not named.
pub fn mask_text(mask: KindSet) -> String {
    let kinds = mask.without(KindName::Lost);
    if kinds == KindSet::ALL.without(KindName::Lost) {
        "every event".to_owned()
    } else if kinds == KindSet::NONE {
        "no events".to_owned()
    } else {
        kinds.to_string()
    }
}

impl App {
    /// `--pin PID`: pins the subtree of the live process with this pid.
    pub fn pin_pid(&mut self, pid: u32) -> Result<()> {
        let (pins, model) = self.tracker.pins_mut();
        pins.add_pid(model, pid)?;
        self.pins.changed(self.tracker.pins());
        Ok(())
    }

    /// `pid (comm)` of a process, or its pid if the model has forgotten it.
    pub(super) fn name_of(&self, key: ProcessKey) -> String {
        match self.model().get(key) {
            Some(p) => format!("{} ({})", key.pid, p.comm),
            None => key.pid.to_string(),
        }
    }

    /// The pin the selected process belongs to: the one rooted at it, else the first that
    /// holds it.
    fn pin_at_cursor(&self) -> Option<usize> {
        let key = self.cursor.key?;
        let list = self.tracker.pins().list();
        list.iter()
            .position(|p| p.root() == key)
            .or_else(|| list.iter().position(|p| p.membership(key).is_some()))
    }

    /// The pin keys act on: the one picked in the pane while the pane has the keys, else
    /// the selected process's.
    pub(super) fn current_pin(&self) -> Option<&Pin> {
        let list = self.tracker.pins().list();
        let at = if self.has_keys(Pane::Pins) {
            Some(self.pins.picked.min(list.len().saturating_sub(1)))
        } else {
            self.pin_at_cursor()
        };
        at.and_then(|at| list.get(at))
    }

    /// `p`: pins the selected process's subtree, or unpins it; in the pins pane, unpins
    /// the picked pin (with none, pins the selected process's).
    pub(super) fn toggle_pin(&mut self) {
        let key = match self.current_pin() {
            Some(pin) if self.has_keys(Pane::Pins) => Some(pin.root()),
            _ => self.cursor.key,
        };
        let Some(key) = key else {
            self.say("no process selected");
            return;
        };
        let name = self.name_of(key);
        let (pins, model) = self.tracker.pins_mut();
        match pins.toggle(model, key) {
            Ok(true) => {
                let alive = pins.get(key).map_or(0, Pin::alive);
                self.pins.picked = pins.len() - 1;
                self.say(format!("pinned {name}: {alive} alive in its subtree"));
            }
            Ok(false) => self.say(format!("unpinned {name}")),
            Err(e) => self.say(format!("cannot pin {name}: {e}")),
        }
        self.pins.changed(self.tracker.pins());
    }

    /// `P`: the pins pane, with the keys, starting at the selected process's pin.
    pub(super) fn toggle_pins_pane(&mut self) {
        if !self.has_keys(Pane::Pins)
            && let Some(at) = self.pin_at_cursor()
        {
            self.pins.picked = at;
        }
        self.toggle_list_pane(Pane::Pins);
    }

    /// `m`: the mask dialog of the current pin.
    pub(super) fn open_mask(&mut self) {
        match self.current_pin() {
            Some(pin) => {
                let dialog = MaskDialog::new(pin.root(), self.name_of(pin.root()), pin.mask());
                self.open(dialog);
            }
            None if self.tracker.pins().is_empty() => {
                self.say("nothing is pinned: p pins the selected process's subtree")
            }
            None => self.say("the selected process is in no pin: P picks one"),
        }
    }

    /// `v`: only pinned subtrees in the tree, or everything again.
    pub(super) fn toggle_pinned_view(&mut self) {
        if self.tracker.pins().is_empty() {
            self.say("nothing is pinned: p pins the selected process's subtree");
            return;
        }
        // The status line says whether the view is on.
        self.pins.only = !self.pins.only;
    }

    /// Whether the tree shows only pinned subtrees.
    pub(super) fn pinned_only(&self) -> bool {
        self.pins.only
    }

    /// A key while the pins pane has the keys.
    pub(super) fn pins_key(&mut self, key: KeyEvent) -> bool {
        match list_key(key, &mut self.pins.picked, self.tracker.pins().len()) {
            ListKey::Moved => {}
            // With no pin to remove, x does nothing: it must not pin the selected process.
            ListKey::Remove => {
                if self.current_pin().is_some() {
                    self.toggle_pin();
                }
            }
            ListKey::Show => {
                if let Some(root) = self.current_pin().map(Pin::root) {
                    match self.view.position(root) {
                        Some(at) => self.select(at),
                        None => self.say(format!("pid {} is not in the tree", root.pid)),
                    }
                }
            }
            ListKey::Other => return false,
        }
        true
    }
}

/// The pins, one a line, then the events of the current one.
pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let focused = app.has_keys(Pane::Pins);
    let block = focus::block(
        " Pins ",
        focused,
        " ↑↓ pick · x remove · m mask · r relay · Enter root · Esc tree ",
    );
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height == 0 {
        return;
    }
    let list = app.tracker.pins().list();
    let dim = Style::new().fg(Color::DarkGray);
    let width = inner.width as usize;
    if list.is_empty() {
        let why = "nothing is pinned: p pins the selected process's subtree";
        buf.set_stringn(inner.x, inner.y, why, width, dim);
        return;
    }
    let current = app
        .current_pin()
        .map(Pin::root)
        .and_then(|root| list.iter().position(|p| p.root() == root))
        .unwrap_or(app.pins.picked.min(list.len() - 1));
    // The list takes at most half the pane, scrolled to the current pin.
    let shown = list.len().min((inner.height as usize / 2).max(1));
    let first = (current + 1).saturating_sub(shown);
    let mut y = inner.y;
    for (at, pin) in list.iter().enumerate().skip(first).take(shown) {
        let style = match (at == current, focused) {
            (true, true) => Style::new().fg(Color::Black).bg(Color::Cyan),
            (true, false) => Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            _ => Style::new(),
        };
        pin_line(
            app,
            pin,
            Rect {
                y,
                height: 1,
                ..inner
            },
            style,
            buf,
        );
        y += 1;
    }
    let pin = &list[current];
    if y >= inner.bottom() {
        return;
    }
    let mut header = match pin.log().len() {
        1 => format!("pin {} logged 1 event", pin.root().pid),
        n => format!("pin {} logged {n} events", pin.root().pid),
    };
    if pin.log_omitted() > 0 {
        header.push_str(&format!(" ({} older ones dropped)", pin.log_omitted()));
    }
    buf.set_stringn(inner.x, y, header, width, dim.add_modifier(Modifier::BOLD));
    let rows = (inner.bottom() - y - 1) as usize;
    let events = pin.log().skip(pin.log().len().saturating_sub(rows));
    for (event, y) in events.zip(y + 1..inner.bottom()) {
        let line = text_line(event, &app.clock);
        buf.set_stringn(inner.x, y, line, width, log::event_style(event));
    }
}

/// `    900 make -j2 ...     3 alive, 2 exited · every event`: the root (how it ended, if
/// it did), then the counts and the mask on the right.
fn pin_line(app: &App, pin: &Pin, line: Rect, style: Style, buf: &mut Buffer) {
    buf.set_style(line, style);
    let root = app.model().get(pin.root());
    let counts = pin.counts();
    let mut right = format!("{} alive", counts.alive);
    if counts.exited > 0 {
        right.push_str(&format!(", {} exited", counts.exited));
    }
    right.push_str(&format!(" · {}", mask_text(pin.mask())));
    let width = line.width as usize;
    let right_width = right.chars().count().min(width);
    let left_width = width.saturating_sub(right_width + 1);
    let ended = match root {
        Some(p) => p
            .exit
            .map(|e| format!("[{}] ", format::exit_label(e.status))),
        None => Some("[exited] ".to_owned()),
    };
    let mut spans = vec![Span::raw(format!("{:>7} ", pin.root().pid))];
    if let Some(ended) = ended {
        spans.push(Span::raw(ended).add_modifier(Modifier::DIM));
    }
    spans.push(Span::raw(root.map(tree::command).unwrap_or_default()));
    let mut x = line.x;
    for span in spans {
        let left = (line.x + left_width as u16).saturating_sub(x) as usize;
        x = buf
            .set_stringn(x, line.y, &span.content, left, style.patch(span.style))
            .0;
    }
    buf.set_stringn(
        line.right() - right_width as u16,
        line.y,
        right,
        right_width,
        style,
    );
}

/// The status line's pins segment: how many, and whether only they are shown.
pub fn status(app: &App) -> Option<Vec<Span<'static>>> {
    let n = app.tracker.pins().len();
    if n == 0 {
        return None;
    }
    let mut spans = vec![Span::raw(match n {
        1 => "1 pin".to_owned(),
        n => format!("{n} pins"),
    })];
    if app.pins.only {
        spans.push(", only pinned shown".yellow());
    }
    Some(spans)
}
