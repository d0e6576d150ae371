//! The application: its state ([`App`]), what can happen to it ([`AppEvent`]), and the one
//! function that changes it ([`update`]). Drawing only reads it (see `render`); whatever
//! takes time or touches the outside world is asked of the loop as a [`Request`].

use crossterm::event::{
    Event as Input, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent,
    MouseEventKind,
};
use ratatui::layout::{Position, Rect};

use super::{
    dialog::{Dialog, Help, Prompt, PromptPurpose},
    keys::{self, Action},
    log::RecentEvents,
    pins::PinsState,
    record,
    relays::RelaysState,
    render::Layout,
    replay,
    status::Rates,
    tree::Cursor,
    users::Users,
};
use crate::{
    clock::WallClock,
    event::{Event, Kind, ProcessKey},
    model::{Model, Process, Row, Search, TreeOptions, TreeView},
    proc::snapshot::ProcessInfo,
    source::Selection,
};

const SECOND: u64 = 1_000_000_000;
/// Re-syncing with /proc after lost events happens at most this often.
const RESYNC_INTERVAL_NS: u64 = SECOND;
/// Bytes the events held while a re-sync snapshot is taken may hold
/// ([`Event::byte_size`]); beyond, they are counted lost (and cause another re-sync).
const MAX_HELD_BYTES: usize = 32 << 20;
/// Rows the mouse wheel moves.
const WHEEL_ROWS: isize = 3;

/// Everything that can happen to the application. Every source of them (the event
/// source, the terminal, timers, signals) sends them down one channel to the task that
/// owns the [`App`].
#[derive(Debug)]
pub enum AppEvent {
    /// Events from the source, in the order it gave them.
    Events(Vec<Event>),
    /// The source has nothing more to give.
    SourceEnded,
    /// The source failed: the application stops and says why.
    SourceFailed(String),
    /// A key, a mouse action or a resize.
    Input(Input),
    /// Time passes: the time now, CLOCK_BOOTTIME nanoseconds. Ages, the highlight of new
    /// processes, the event rate and the linger of exited processes follow it.
    Tick(u64),
    /// The answer to [`Request::Snapshot`].
    Snapshot(Result<Vec<ProcessInfo>, String>),
    /// Where a replay is, or that it went back to its start (see `replay`).
    Replay(replay::Report),
    /// How the recording made with `--record` goes (see `record`).
    Recording(record::Status),
    /// A relay target has exited ([`App::relay_target_exited`]).
    RelayTargetExited,
    /// SIGINT or SIGTERM: quit.
    Stop,
}

/// Work the state asks of the loop that owns it, because it blocks or takes time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// A fresh /proc snapshot, answered with [`AppEvent::Snapshot`].
    Snapshot,
    /// Play, pause, step or seek the replay, answered with [`AppEvent::Replay`] (and the
    /// events a seek brings at once).
    Replay(replay::Control),
}

/// What feeds the application, for the status line and the banner.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceInfo {
    /// Its name in the status line: `eBPF`, `netlink`, `procfs`.
    pub name: String,
    /// Lines of the banner at the top: at start, what the source misses and why better
    /// ones could not run; later, what must be read whole (`App::notice`), such as a
    /// recording's write error or the damage a replay met.
    pub notices: Vec<String>,
    /// It sees less than the eBPF probe: its name is shown in the warning colour.
    pub limited: bool,
}

impl SourceInfo {
    /// A live backend as [`crate::source::Source::open_live`] chose it.
    pub fn live(selection: &Selection) -> Self {
        let limited = selection.limits().is_some();
        let notices = if limited {
            std::iter::once(format!("watching with {}", selection.summary()))
                .chain(selection.notices())
                .collect()
        } else {
            Vec::new()
        };
        Self {
            name: selection.backend.name().to_owned(),
            notices,
            limited,
        }
    }
}

/// A pane beside or below the tree. Each is drawn by its own module (see `render`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pane {
    /// The selected process in full.
    Details,
    /// The latest events.
    EventLog,
    /// The pins, and the events of one.
    Pins,
    /// The relay rules and what they sent.
    Relays,
}

/// Where a pane goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// Beside the tree (below it on narrow terminals).
    Side,
    /// Below the tree, across the screen.
    Bottom,
}

impl Pane {
    pub fn place(self) -> Place {
        match self {
            Self::Details | Self::Relays => Place::Side,
            Self::EventLog | Self::Pins => Place::Bottom,
        }
    }
}

/// The text searched for, and the search made from it.
pub struct SearchText {
    pub text: String,
    pub search: Search,
}

impl SearchText {
    /// `None` for an empty text: no search.
    pub fn new(text: &str) -> Option<Self> {
        (!text.is_empty()).then(|| Self {
            text: text.to_owned(),
            search: Search::new(text),
        })
    }
}

/// Re-syncing with /proc after lost events. While a snapshot is being taken, events are
/// held back and applied after it, as at start: the snapshot then stands for the moment
/// it was asked for, and the events after it join it without a gap.
#[derive(Default)]
struct Resync {
    /// Events were lost since the last snapshot was asked for.
    wanted: bool,
    /// A snapshot is being taken; events wait here.
    held: Option<Vec<Event>>,
    held_bytes: usize,
    /// Events that did not fit in `held`.
    dropped: u64,
    /// When the last snapshot was asked for.
    last_ns: Option<u64>,
}

/// The whole state of the terminal UI.
pub struct App {
    pub(super) model: Model,
    pub(super) view: TreeView,
    pub(super) options: TreeOptions,
    pub(super) cursor: Cursor,
    pub(super) search: Option<SearchText>,
    /// Open panes, in the order they were opened.
    pub(super) panes: Vec<Pane>,
    /// The pane that has the keys (see `focus`); `None`: the tree.
    pub(super) focus: Option<Pane>,
    /// The dialog that has the keyboard, drawn over everything.
    pub(super) dialog: Option<Box<dyn Dialog>>,
    pub(super) source: SourceInfo,
    pub(super) source_ended: bool,
    /// The banner with the source's notices is shown.
    pub(super) banner: bool,
    pub(super) rates: Rates,
    pub(super) recent: RecentEvents,
    pub(super) pins: PinsState,
    pub(super) relays: RelaysState,
    pub(super) users: Users,
    pub(super) clock: WallClock,
    /// Where everything was laid out for the last frame drawn.
    pub(super) layout: Layout,
    /// A short note in the status line until the next key.
    pub(super) message: Option<String>,
    /// Playing a recording back instead of watching live.
    pub(super) replay: Option<replay::ReplayState>,
    /// `--record`: the recording being written.
    pub(super) recording: Option<record::Status>,
    now_ns: u64,
    resync: Resync,
    pub(super) requests: Vec<Request>,
    dirty: bool,
    quit: bool,
    error: Option<String>,
}

impl App {
    /// The application over `model` (seeded from /proc), fed by `source`, at time
    /// `now_ns` (CLOCK_BOOTTIME), showing times of day through `clock`.
    pub fn new(
        model: Model,
        source: SourceInfo,
        clock: WallClock,
        now_ns: u64,
        users: Users,
    ) -> Self {
        let mut rates = Rates::default();
        rates.roll(now_ns);
        Self {
            model,
            view: TreeView::new(),
            options: TreeOptions::default(),
            cursor: Cursor::default(),
            search: None,
            panes: Vec::new(),
            focus: None,
            dialog: None,
            banner: !source.notices.is_empty(),
            source,
            source_ended: false,
            rates,
            recent: RecentEvents::default(),
            pins: PinsState::default(),
            relays: RelaysState::default(),
            users,
            clock,
            layout: Layout::default(),
            message: None,
            replay: None,
            recording: None,
            now_ns,
            resync: Resync::default(),
            requests: Vec::new(),
            dirty: true,
            quit: false,
            error: None,
        }
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The selected process.
    pub fn selected(&self) -> Option<ProcessKey> {
        self.cursor.key
    }

    /// The time shown: the clock's, or the newest event's if that is later.
    pub fn now_ns(&self) -> u64 {
        self.now_ns.max(self.model.now_ns())
    }

    /// Something changed that the screen shows.
    pub fn needs_redraw(&self) -> bool {
        self.dirty
    }

    /// The quit key, a signal or a failed source stopped the application.
    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// Why the application stopped, if it failed.
    pub fn take_error(&mut self) -> Option<String> {
        self.error.take()
    }

    /// What the loop should do for the state; each is asked once.
    pub fn take_requests(&mut self) -> Vec<Request> {
        std::mem::take(&mut self.requests)
    }

    /// Brings what drawing reads up to date for a screen of `area`: the layout, the rows
    /// of the tree, where the selection is, the user names to show. Called before each
    /// frame; drawing itself changes nothing.
    pub fn prepare(&mut self, area: Rect) {
        self.layout = Layout::new(area, self);
        self.refresh();
        let visible = self.view.current().iter();
        for row in visible
            .skip(self.cursor.offset)
            .take(self.layout.tree_height())
        {
            if let Some(creds) = self.model.get(row.key).and_then(|p| p.creds) {
                self.users.resolve(creds.uid);
            }
        }
        if let Some(creds) = self.selected_process().and_then(|p| p.creds) {
            self.users.resolve(creds.uid);
            self.users.resolve(creds.euid);
        }
        self.dirty = false;
    }

    /// Rebuilds the tree's rows if the model or the options changed, and finds the
    /// selected process among them again.
    fn refresh(&mut self) {
        self.pins.restrict(&self.model, &mut self.options);
        self.view.rows(&self.model, &self.options);
        self.cursor
            .follow(&self.view, &self.model, self.layout.tree_height());
    }

    pub(super) fn rows(&self) -> &[Row] {
        self.view.current()
    }

    /// The open panes that go in `place`, in the order they were opened.
    pub(super) fn open_panes(&self, place: Place) -> Vec<Pane> {
        self.panes
            .iter()
            .copied()
            .filter(|p| p.place() == place)
            .collect()
    }

    pub(super) fn selected_process(&self) -> Option<&Process> {
        self.model.get(self.cursor.key?)
    }

    /// Shows a short note in the status line until the next key.
    pub(super) fn say(&mut self, message: impl Into<String>) {
        self.message = Some(message.into());
    }

    /// Shows a line in the banner at the top, wrapped, until Esc: for what must be read
    /// whole.
    pub(super) fn notice(&mut self, line: String) {
        if !self.source.notices.contains(&line) {
            self.source.notices.push(line);
        }
        self.banner = true;
    }

    fn apply(&mut self, events: Vec<Event>) {
        if let Some(held) = &mut self.resync.held {
            for event in events {
                let bytes = event.byte_size();
                if self.resync.held_bytes + bytes <= MAX_HELD_BYTES {
                    self.resync.held_bytes += bytes;
                    held.push(event);
                } else {
                    // A loss report that does not fit still counts what it stands for.
                    self.resync.dropped += match event.kind {
                        Kind::Lost { count } => count,
                        _ => 1,
                    };
                }
            }
            return;
        }
        let mut lost = false;
        for event in &events {
            let applied = self.model.apply(event);
            self.pins.apply(&self.model, event, &applied);
            self.relays.handle(&self.model, event, &applied);
            lost |= matches!(event.kind, Kind::Lost { .. });
        }
        self.show_relay_notices();
        self.rates.count(
            events
                .iter()
                .filter(|e| !matches!(e.kind, Kind::Lost { .. }))
                .count(),
        );
        self.recent.extend(events);
        if lost {
            self.resync.wanted = true;
            self.start_resync();
        }
        self.dirty = true;
    }

    pub(super) fn tick(&mut self, now_ns: u64) {
        let shown = self.now_ns() / SECOND;
        self.now_ns = self.now_ns.max(now_ns);
        let generation = self.model.generation();
        self.model.tick(now_ns);
        self.rates.roll(now_ns);
        // Ages and highlights change by the second.
        if self.now_ns() / SECOND != shown || self.model.generation() != generation {
            self.dirty = true;
        }
        self.start_resync();
    }

    /// Starts again from `model` at `now_ns`, as a replay does that went back: what was
    /// learnt from the events goes, what the user set up (selection, folds, search,
    /// panes) stays.
    pub(super) fn restart(&mut self, model: Model, now_ns: u64) {
        self.model = model;
        self.now_ns = now_ns;
        self.rates = Rates::default();
        self.rates.roll(now_ns);
        self.recent = RecentEvents::default();
        self.resync = Resync::default();
        self.dirty = true;
    }

    /// Asks for a snapshot if events were lost and the last one is old enough. Not in a
    /// replay: this machine's /proc is not the recorded one's.
    fn start_resync(&mut self) {
        let now = self.now_ns();
        let due = self
            .resync
            .last_ns
            .is_none_or(|last| now.saturating_sub(last) >= RESYNC_INTERVAL_NS);
        if self.resync.wanted && self.resync.held.is_none() && due && self.replay.is_none() {
            self.resync.wanted = false;
            self.resync.last_ns = Some(now);
            self.resync.held = Some(Vec::new());
            self.requests.push(Request::Snapshot);
        }
    }

    fn resynced(&mut self, snapshot: Result<Vec<ProcessInfo>, String>) {
        let mut held = self.resync.held.take().unwrap_or_default();
        self.resync.held_bytes = 0;
        match snapshot {
            Ok(snapshot) => {
                for change in self.model.reconcile(&snapshot) {
                    self.pins.follow(&self.model, &change);
                    self.relays.follow(&self.model, &change);
                }
                self.show_relay_notices();
            }
            Err(e) => {
                tracing::warn!("cannot re-sync with /proc after lost events: {e}");
                self.say(format!("cannot re-read /proc: {e}"));
            }
        }
        // With the held events: a loss among them asks for the next re-sync, whose
        // held events the report must not wait with.
        let dropped = std::mem::take(&mut self.resync.dropped);
        if dropped > 0 {
            held.push(Event::lost(self.now_ns(), dropped));
        }
        self.apply(held);
        self.dirty = true;
    }

    fn input(&mut self, input: Input) {
        match input {
            Input::Key(key) if key.kind != KeyEventKind::Release => self.key(key),
            Input::Mouse(mouse) => self.mouse(mouse),
            Input::Resize(..) => self.dirty = true,
            _ => {}
        }
    }

    fn key(&mut self, key: KeyEvent) {
        self.dirty = true;
        self.message = None;
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            self.quit = true;
            return;
        }
        self.refresh();
        if let Some(mut dialog) = self.dialog.take() {
            // A dialog that opened another one makes way for it.
            if dialog.key(key, self) && self.dialog.is_none() {
                self.dialog = Some(dialog);
            }
            return;
        }
        if let Some(pane) = self.focus
            && self.pane_key(pane, key)
        {
            return;
        }
        if let Some(action) = keys::action(key) {
            self.perform(action);
        }
    }

    fn mouse(&mut self, mouse: MouseEvent) {
        if self.dialog.is_some() {
            return;
        }
        // Only clicks and the wheel need the rows: with any-motion tracking every pointer
        // move comes here, and must not rebuild the tree.
        match mouse.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                self.refresh();
                let at = Position::new(mouse.column, mouse.row);
                if let Some(index) = self.layout.tree_row_at(at) {
                    let index = index + self.cursor.offset;
                    if index < self.rows().len() {
                        self.select(index);
                        // A click in the tree gives it the keys back.
                        self.focus = None;
                    }
                }
            }
            MouseEventKind::ScrollDown => {
                self.refresh();
                self.move_by(WHEEL_ROWS);
            }
            MouseEventKind::ScrollUp => {
                self.refresh();
                self.move_by(-WHEEL_ROWS);
            }
            _ => return,
        }
        self.dirty = true;
    }

    pub(super) fn perform(&mut self, action: Action) {
        let page = self.layout.tree_height().max(1) as isize;
        match action {
            Action::Up => self.move_by(-1),
            Action::Down => self.move_by(1),
            Action::PageUp => self.move_by(-page),
            Action::PageDown => self.move_by(page),
            Action::Home => self.select(0),
            Action::End => self.select(self.rows().len().saturating_sub(1)),
            Action::Fold => {
                if let Some(row) = self.selected_row() {
                    self.set_folded(row, !row.folded);
                }
            }
            Action::FoldOrParent => match self.selected_row() {
                Some(row) if row.has_children && !row.folded => self.set_folded(row, true),
                Some(row) => self.select_parent(row),
                None => {}
            },
            Action::Unfold => {
                if let Some(row) = self.selected_row() {
                    self.set_folded(row, false);
                }
            }
            Action::Search => self.open(Prompt::new(PromptPurpose::Search, self)),
            Action::NextMatch => self.jump_to_match(true),
            Action::PreviousMatch => self.jump_to_match(false),
            Action::Filter => self.toggle_filter(),
            Action::KernelThreads => {
                self.options.kernel_threads = !self.options.kernel_threads;
                self.say(if self.options.kernel_threads {
                    "kernel threads shown"
                } else {
                    "kernel threads hidden"
                });
            }
            Action::Details => self.toggle_pane(Pane::Details),
            Action::EventLog => self.toggle_pane(Pane::EventLog),
            Action::Pin => self.toggle_pin(),
            Action::Pins => self.toggle_pins_pane(),
            Action::PinMask => self.open_mask(),
            Action::PinnedView => self.toggle_pinned_view(),
            Action::Relay if self.replay.is_some() => {
                self.say("no relays in a replay");
            }
            Action::Relay => self.open_relay_dialog(),
            Action::Relays => self.toggle_list_pane(Pane::Relays),
            Action::Help => self.open(Help),
            Action::Dismiss => {
                if self.banner {
                    self.banner = false;
                } else {
                    self.search = None;
                }
            }
            Action::Quit => self.quit = true,
            Action::Replay(control) => self.control_replay(control),
            Action::SeekPrompt => self.open_seek_prompt(),
        }
    }

    pub(super) fn open(&mut self, dialog: impl Dialog + 'static) {
        self.dialog = Some(Box::new(dialog));
    }

    fn selected_row(&self) -> Option<Row> {
        self.rows().get(self.cursor.index).copied()
    }

    fn move_by(&mut self, delta: isize) {
        let index = self.cursor.index.saturating_add_signed(delta);
        self.select(index.min(self.rows().len().saturating_sub(1)));
    }

    /// Selects row `index` of the rows last built.
    pub(super) fn select(&mut self, index: usize) {
        let height = self.layout.tree_height();
        self.cursor.select(self.view.current(), index, height);
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

    pub(super) fn toggle_pane(&mut self, pane: Pane) {
        match self.panes.iter().position(|&p| p == pane) {
            Some(at) => {
                self.panes.remove(at);
            }
            None => self.panes.push(pane),
        }
    }

    /// `f`: filters the tree to the search, or ends the filter; without a search, asks
    /// what to filter by.
    fn toggle_filter(&mut self) {
        if self.options.filter.take().is_some() {
            return;
        }
        match &self.search {
            Some(search) => self.options.filter = Some(search.text.clone()),
            None => self.open(Prompt::new(PromptPurpose::Filter, self)),
        }
    }

    /// `n` and `N`: the next or previous row that matches the search, wrapping around.
    fn jump_to_match(&mut self, forward: bool) {
        let Some(search) = &self.search else {
            self.say("no search: press / to search");
            return;
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
            .find(|&i| self.row_matches(i));
        match found {
            Some(index) => self.select(index),
            None => self.say(format!("no match for `{text}`")),
        }
    }

    /// Whether row `index` matches the search.
    pub(super) fn row_matches(&self, index: usize) -> bool {
        let (Some(search), Some(row)) = (&self.search, self.rows().get(index)) else {
            return false;
        };
        self.model
            .get(row.key)
            .is_some_and(|p| search.search.matches(p))
    }
}

/// Changes the application's state by one event. Everything that happens to the
/// application goes through here.
pub fn update(app: &mut App, event: AppEvent) {
    match event {
        AppEvent::Events(events) => app.apply(events),
        AppEvent::Tick(now_ns) => app.tick(now_ns),
        AppEvent::Input(input) => app.input(input),
        AppEvent::Snapshot(snapshot) => app.resynced(snapshot),
        AppEvent::Replay(report) => {
            app.replay_report(report);
            app.dirty = true;
        }
        AppEvent::Recording(status) => app.dirty |= app.recording_status(status),
        AppEvent::RelayTargetExited => {
            app.drop_exited_targets();
            app.dirty = true;
        }
        AppEvent::SourceEnded => {
            app.source_ended = true;
            app.dirty = true;
        }
        AppEvent::SourceFailed(why) => {
            app.error = Some(why);
            app.quit = true;
        }
        AppEvent::Stop => app.quit = true,
    }
}
