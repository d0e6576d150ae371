//! The tree pane: one row per process with its pid, user, age and command line, indented
//! with tree guides; the cursor, which follows the selected process as the tree changes
//! around it; the search, the filter and the folds; and the keys that move, fold and
//! search ([`Tree::act`]).

use crate::event::host::shown_pid;
use crossterm::event::{MouseButton, MouseEventKind};
use ratatui::{buffer::Buffer, layout::Rect, style::Style};

use super::super::{
    component::{Ask, Component, Handled, View},
    format,
    keys::Action,
    look::Look,
    pins::PinsState,
    rows::{Row, TreeOptions, TreeView},
    search::SearchText,
    sort::Sort,
    tags::Tags,
};
use super::columns::{self, Totals};
use crate::{
    event::ProcessKey,
    tracker::{
        Tracker,
        model::{Model, Process},
    },
};

/// How long a new process stays highlighted.
const NEW_NS: u64 = 2_000_000_000;

/// Rows the mouse wheel moves.
const WHEEL_ROWS: isize = 3;

/// The selected row, and which row is at the top of the pane.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    /// The selected process; `None` until there are rows.
    pub key: Option<ProcessKey>,
    pub index: usize,
    /// The first row shown.
    pub offset: usize,
}

impl Cursor {
    /// Finds the selected process among `rows` (rebuilt since the cursor last saw them),
    /// keeping it on the same line of the screen. If it is no longer shown (it left the
    /// tree, or a fold or the filter hides it), its nearest shown ancestor is selected.
    /// With no rows (a filter that matches nothing yet), the selection waits for them.
    pub fn follow(&mut self, view: &TreeView, model: &Model, height: usize) {
        let rows = view.current();
        if rows.is_empty() {
            return;
        }
        let index = match self.key {
            Some(key) if rows.get(self.index).is_some_and(|r| r.key == key) => self.index,
            Some(key) => view
                .position(key)
                .or_else(|| {
                    model
                        .ancestry(key)
                        .iter()
                        .find_map(|p| view.position(p.key))
                })
                .unwrap_or(self.index.min(rows.len() - 1)),
            None => 0,
        };
        if index != self.index {
            let line = self.index.saturating_sub(self.offset);
            self.offset = index.saturating_sub(line);
            self.index = index;
        }
        self.key = rows.get(index).map(|r| r.key);
        self.scroll(rows.len(), height);
    }

    /// Selects row `index` (the last if past the end) and scrolls it into view.
    pub fn select(&mut self, rows: &[Row], index: usize, height: usize) {
        self.index = index.min(rows.len().saturating_sub(1));
        self.key = rows.get(self.index).map(|r| r.key);
        self.scroll(rows.len(), height);
    }

    /// Keeps the selected row in view and the pane full.
    fn scroll(&mut self, len: usize, height: usize) {
        if height == 0 {
            return;
        }
        if self.index < self.offset {
            self.offset = self.index;
        }
        if self.index >= self.offset + height {
            self.offset = self.index + 1 - height;
        }
        self.offset = self.offset.min(len.saturating_sub(height));
    }
}

/// The tree: the rows shown and how (folds, kernel threads, the filter, pinned subtrees
/// only), the cursor and the search.
#[derive(Default)]
pub struct Tree {
    pub view: TreeView,
    pub options: TreeOptions,
    pub cursor: Cursor,
    pub search: Option<SearchText>,
    /// The pins as the tree shows them: only pinned subtrees, or all.
    pub pins: PinsState,
    pub tags: Tags,
    /// Its columns and styles.
    pub look: Look,
    /// Rows shown, as the screen was last laid out.
    height: usize,
}

impl Tree {
    /// Rebuilds the rows if the model or the options changed, for a pane of `height`
    /// rows, and finds the selected process among them again.
    pub fn refresh(&mut self, tracker: &Tracker, height: usize) {
        self.height = height;
        self.pins.restrict(tracker, &mut self.options);
        let model = tracker.model();
        self.view.rows(model, &self.options);
        self.cursor.follow(&self.view, model, height);
    }

    /// The rows last built.
    pub fn rows(&self) -> &[Row] {
        self.view.current()
    }

    /// Selects row `index` of the rows last built.
    pub fn select(&mut self, index: usize) {
        self.cursor.select(self.view.current(), index, self.height);
    }

    fn move_by(&mut self, delta: isize) {
        let index = self.cursor.index.saturating_add_signed(delta);
        self.select(index.min(self.rows().len().saturating_sub(1)));
    }

    /// Whether the tree does something with this mouse event: a left click or the wheel.
    pub fn takes(kind: MouseEventKind) -> bool {
        matches!(
            kind,
            MouseEventKind::Down(MouseButton::Left)
                | MouseEventKind::ScrollDown
                | MouseEventKind::ScrollUp
        )
    }

    /// A click on the `row`th row shown (`None`: outside the rows), or the wheel; true if
    /// a click selected a row.
    pub fn mouse(&mut self, kind: MouseEventKind, row: Option<usize>) -> bool {
        match kind {
            MouseEventKind::ScrollDown => self.move_by(WHEEL_ROWS),
            MouseEventKind::ScrollUp => self.move_by(-WHEEL_ROWS),
            _ => {
                let index = row.map(|row| row + self.cursor.offset);
                if let Some(index) = index.filter(|&i| i < self.rows().len()) {
                    self.select(index);
                    return true;
                }
            }
        }
        false
    }

    /// The uids whose user names a frame shows: the processes shown, and the ids of the
    /// selected one (in the details pane).
    pub fn shown_uids(&self, model: &Model) -> Vec<u32> {
        let visible = self.rows().iter().skip(self.cursor.offset);
        let mut uids: Vec<u32> = visible
            .take(self.height)
            .filter_map(|row| model.get(row.key)?.creds)
            .map(|creds| creds.uid)
            .collect();
        if let Some(creds) = self.cursor.key.and_then(|key| model.get(key)?.creds) {
            uids.extend([creds.uid, creds.euid]);
        }
        uids
    }

    /// What a pane or a dialog asked of the tree: to show a process, search, filter.
    pub fn asked(&mut self, ask: Ask, model: &Model) -> Handled {
        match ask {
            Ask::Show(key) => match self.view.position(key) {
                Some(at) => self.select(at),
                None => return say(format!("pid {} is not in the tree", shown_pid(key.pid))),
            },
            Ask::Search { text, origin } => return self.search_for(&text, origin, model),
            Ask::Filter(text) => self.options.filter = (!text.is_empty()).then_some(text),
            Ask::User(uid) => self.options.user = uid,
            _ => return Handled::Ignored,
        }
        Handled::Taken
    }

    /// What `action` does to the tree; [`Handled::Ignored`] if it is not the tree's.
    pub fn act(&mut self, action: Action, model: &Model) -> Handled {
        let page = self.height.max(1) as isize;
        let row = self.rows().get(self.cursor.index).copied();
        match action {
            Action::Up => self.move_by(-1),
            Action::Down => self.move_by(1),
            Action::PageUp => self.move_by(-page),
            Action::PageDown => self.move_by(page),
            Action::Home => self.select(0),
            Action::End => self.select(self.rows().len().saturating_sub(1)),
            Action::Fold => {
                if let Some(row) = row {
                    self.set_folded(row, !row.folded);
                }
            }
            Action::FoldOrParent => match row {
                Some(row) if row.has_children && !row.folded => self.set_folded(row, true),
                Some(row) => self.select_parent(row),
                None => {}
            },
            Action::Unfold => {
                if let Some(row) = row {
                    self.set_folded(row, false);
                }
            }
            Action::SortNext => return self.sort(self.options.sort.stepped(1)),
            Action::SortPrevious => return self.sort(self.options.sort.stepped(-1)),
            Action::SortInvert => return self.sort(self.options.sort.inverted()),
            Action::NextMatch => return self.jump_to_match(true, model),
            Action::PreviousMatch => return self.jump_to_match(false, model),
            Action::KernelThreads => {
                self.options.kernel_threads = !self.options.kernel_threads;
                return say(if self.options.kernel_threads {
                    "kernel threads shown"
                } else {
                    "kernel threads hidden"
                });
            }
            _ => return Handled::Ignored,
        }
        Handled::Taken
    }

    /// Orders siblings as `sort` says, and says so.
    fn sort(&mut self, sort: Sort) -> Handled {
        self.options.sort = sort;
        say(sort.describe())
    }

    fn set_folded(&mut self, row: Row, folded: bool) {
        if folded && row.has_children {
            self.options.folded.insert(row.key);
        } else {
            self.options.folded.remove(&row.key);
        }
    }

    /// Selects the nearest ancestor of `row` shown.
    fn select_parent(&mut self, row: Row) {
        let rows = self.rows();
        let at = self.cursor.index.min(rows.len());
        if let Some(parent) = rows[..at].iter().rposition(|r| r.depth < row.depth) {
            self.select(parent);
        }
    }

    /// `f`: filters the tree to the search, or ends the filter. False if there is no
    /// search to filter by.
    pub fn toggle_filter(&mut self) -> bool {
        if self.options.filter.take().is_some() {
            return true;
        }
        match &self.search {
            Some(search) => self.options.filter = Some(search.text.clone()),
            None => return false,
        }
        true
    }

    /// Makes `text` the search and selects the first match from row `origin` on.
    fn search_for(&mut self, text: &str, origin: usize, model: &Model) -> Handled {
        self.search = SearchText::new(text);
        let len = self.rows().len();
        let first = (0..len)
            .map(|step| (origin + step) % len)
            .find(|&i| self.row_matches(i, model));
        self.select(first.unwrap_or(origin));
        if first.is_none() && !text.is_empty() {
            return say(format!("no match for `{text}`"));
        }
        Handled::Taken
    }

    /// `n` and `N`: the next or previous row that matches the search, wrapping around.
    fn jump_to_match(&mut self, forward: bool, model: &Model) -> Handled {
        let Some(search) = &self.search else {
            return say("no search: press / to search");
        };
        let text = search.text.clone();
        let len = self.rows().len();
        let from = self.cursor.index;
        let found = (1..=len)
            .map(|step| {
                if forward {
                    (from + step) % len
                } else {
                    (from + len - step % len) % len
                }
            })
            .find(|&i| self.row_matches(i, model));
        match found {
            Some(index) => self.select(index),
            None => return say(format!("no match for `{text}`")),
        }
        Handled::Taken
    }

    /// Whether row `index` matches the search.
    fn row_matches(&self, index: usize, model: &Model) -> bool {
        let (Some(search), Some(row)) = (&self.search, self.rows().get(index)) else {
            return false;
        };
        model.get(row.key).is_some_and(|p| search.search.matches(p))
    }
}

fn say(text: impl Into<String>) -> Handled {
    Handled::Ask(Ask::Say(text.into()))
}

/// Its keys are those of the bindings table that [`Tree::act`] takes: the application
/// looks a key up in the table once and gives the tree its actions.
impl Component for Tree {
    fn draw(&self, area: Rect, buf: &mut Buffer, view: &View) {
        render(self, view, area, buf);
    }
}

/// The command line as the tree shows it: the argv, or the name in brackets when there
/// is none (kernel threads, processes whose argv could not be read).
pub fn command(process: &Process) -> String {
    if process.program.argv.is_empty() {
        format!("[{}]", process.comm)
    } else {
        process.program.argv.joined()
    }
}

/// Tree guides and the connector for `row`: `│  ├─ `, with `+` for a folded subtree.
fn guides(row: &Row) -> String {
    let mut out = String::with_capacity(row.depth as usize * 3 + 4);
    // Top-level processes have no connector, so depth 1 starts at the left edge.
    for level in 1..row.depth {
        out.push_str(if row.guide(level) { "│  " } else { "   " });
    }
    let fold = if row.folded { '+' } else { '─' };
    match (row.depth, row.folded) {
        (0, false) => {}
        (0, true) => out.push_str("+ "),
        _ => {
            out.push(if row.last { '└' } else { '├' });
            out.push(fold);
            out.push(' ');
        }
    }
    out
}

fn render(tree: &Tree, view: &View, area: Rect, buf: &mut Buffer) {
    if area.height == 0 {
        return;
    }
    let (look, theme) = (&tree.look, &tree.look.theme);
    let width = area.width as usize;
    buf.set_style(Rect { height: 1, ..area }, theme.header);
    let mut x = area.x;
    for (title, column) in columns::header(look, area.width, tree.options.sort) {
        let style = if column == tree.options.sort.by.column() {
            theme.header.patch(theme.sorted)
        } else {
            theme.header
        };
        let room = area.right().saturating_sub(x) as usize;
        x = buf.set_stringn(x, area.y, title, room, style).0;
    }

    let rows = tree.rows();
    // Below the header line.
    let body = Rect {
        y: area.y + 1,
        height: area.height - 1,
        ..area
    };
    if rows.is_empty() {
        let why = if tree.options.filter.is_some() {
            "no process matches the filter (f shows all)"
        } else if tree.options.user.is_some() {
            "no process of this user (u shows all)"
        } else if tree.options.place.is_some() {
            "no process in this container or cgroup"
        } else if tree.pins.only() {
            "no pinned process is in the tree (v shows all)"
        } else {
            "no processes"
        };
        buf.set_stringn(body.x, body.y, why, width, theme.faint);
        return;
    }
    let shown = rows.iter().enumerate().skip(tree.cursor.offset);
    for ((index, row), y) in shown.zip(body.y..body.bottom()) {
        let Some(process) = view.model().get(row.key) else {
            continue;
        };
        let line = Rect {
            y,
            height: 1,
            ..body
        };
        render_row((tree, view), process, row, line, buf);
        if index == tree.cursor.index {
            buf.set_style(line, theme.selection);
        }
    }
}

fn render_row(
    (tree, view): (&Tree, &View),
    process: &Process,
    row: &Row,
    line: Rect,
    buf: &mut Buffer,
) {
    let theme = &tree.look.theme;
    let mut style = Style::new();
    if process.exit.is_some() {
        style = style.patch(theme.exited);
    } else if view.now_ns.saturating_sub(process.start_ns) < NEW_NS {
        style = style.patch(theme.new);
    } else if !row.matched {
        // Shown only as the ancestor of a filter's match.
        style = style.patch(theme.faint);
    }
    let mut x = line.x;
    let right = line.right();
    let mut put = |text: &str, style: Style| {
        if x < right {
            x = buf
                .set_stringn(x, line.y, text, (right - x) as usize, style)
                .0;
        }
    };
    // Only the folded rows on screen walk their subtrees.
    let totals = row.folded.then(|| Totals::of(view.model(), process));
    for (cell, total) in columns::cells(&tree.look, line.width, process, view, totals.as_ref()) {
        // The space after a cell is not part of its total.
        let (text, gap) = cell.split_at(cell.len() - 1);
        put(
            text,
            if total {
                style.patch(theme.total)
            } else {
                style
            },
        );
        put(gap, style);
    }
    put(&guides(row), theme.faint);
    if let Some(totals) = totals.filter(|t| t.hidden_alive > 0) {
        put(
            &format!("[+{}] ", totals.hidden_alive),
            style.patch(theme.total),
        );
    }
    if tree.tags.contains(process.key) {
        put("* ", theme.tag);
    }
    if view.tracker.pins().get(process.key).is_some() {
        put("[pin] ", theme.pin);
    }
    if let Some(exit) = process.exit {
        let bad = exit.status != crate::event::ExitStatus::Code(0);
        let status_style = if bad { theme.failed } else { style };
        put(
            &format!("[{}] ", format::exit_label(exit.status)),
            status_style,
        );
    }
    let command_style = if tree
        .search
        .as_ref()
        .is_some_and(|s| s.search.matches(process))
    {
        style.patch(theme.matched)
    } else {
        style
    };
    put(&command(process), command_style);
}

#[cfg(test)]
mod tests {
    use ratatui::{buffer::Buffer, layout::Rect, style::Color};

    use super::*;
    use crate::{
        clock::WallClock,
        tracker::model::testing::{p, seeded},
        ui::{panes::events::RecentEvents, relays::RelayNotices, users::Users},
    };

    /// The tree alone, without an application: its keys move and fold, and it draws its
    /// rows from a tracker.
    #[test]
    fn the_tree_moves_folds_and_draws_from_a_tracker() {
        let make = p(100, 1, 1_000).named("make");
        let cc = p(101, 100, 2_000).named("cc");
        let mut tracker = Tracker::new(seeded(), 0);
        tracker.apply(&[make.fork(), make.exec(1_500, &["make", "-j2"]), cc.fork()]);
        let mut tree = Tree::default();
        tree.refresh(&tracker, 3);
        assert_eq!(tree.cursor.key, Some(p(1, 0, 10).key()), "init first");
        assert!(matches!(
            tree.act(Action::Down, tracker.model()),
            Handled::Taken
        ));
        assert_eq!(tree.cursor.key, Some(make.key()));
        tree.act(Action::Fold, tracker.model());
        assert!(matches!(
            tree.act(Action::Help, tracker.model()),
            Handled::Ignored
        ));
        tree.refresh(&tracker, 3);

        let (recent, notices) = (RecentEvents::default(), RelayNotices::default());
        let view = View {
            tracker: &tracker,
            clock: &WallClock::with_offset(0),
            users: &Users::with_lookup(|_| Some("root".to_owned())),
            recent: &recent,
            relay_notices: &notices,
            now_ns: 60_000_000_000,
            selected: tree.cursor.key,
            focused: false,
            replaying: false,
            replay_end_ns: None,
            theme: &crate::ui::look::Theme::default(),
        };
        let area = Rect::new(0, 0, 40, 4);
        let mut buf = Buffer::empty(area);
        tree.draw(area, &mut buf, &view);
        let lines: Vec<String> = (0..area.height)
            .map(|y| (0..area.width).map(|x| buf[(x, y)].symbol()).collect())
            .collect();
        assert_eq!(
            lines,
            [
                "    PID  CPU%    AGE COMMAND            ",
                "      1          59s /sbin/init         ",
                "    100          59s └+ [+1] make -j2   ",
                "                                        ",
            ]
        );
        assert_eq!(buf[(0, 2)].bg, Color::Cyan, "make is selected");
    }
}
