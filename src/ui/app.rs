//! The application: its state ([`App`]) and the one function that changes it
//! ([`update`]), by what can happen to it ([`AppEvent`]). Drawing only reads it (see
//! `render`). What the processes are and what follows them is the [`Tracker`]'s; the
//! application drives it. Whatever touches the outside world is asked of the loop (see
//! `runtime`): what takes time as a [`Request`], what does not wait (relay signals, opening
//! relay targets) as an [`Effect`] done right after the update, its outcome handed back as
//! [`AppEvent::Done`]. What the tree view's keys do is in `actions`.

mod actions;
mod follow;

use crossterm::event::{Event as Input, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent};
use ratatui::layout::{Position, Rect};

use super::{
    columns_dialog::ColumnsSaver,
    component::{Ask, Component, Handled, View},
    dialog::Dialog,
    feed::SourceInfo,
    history::History,
    keymap::Keymap,
    message::{AppEvent, Done, Effect, Request},
    panes::{Pane, Panes, tree::Tree},
    pins::set_mask,
    record,
    render::Layout,
    replay,
    signal_dialog::summary,
    users::Users,
};
use crate::{
    clock::WallClock,
    event::{Event, ProcessKey, duration::SECOND},
    proc::snapshot::ProcessInfo,
    relay::Targets,
    source::Filtering,
    tracker::{
        Outcome, Tracker,
        model::Model,
        rules::{Notice, RuleId, RuleSpec, Target},
    },
};

/// The whole state of the terminal UI.
pub struct App {
    pub(super) tracker: Tracker,
    /// The relay targets' pidfds: the loop's, used only by what it does for the state
    /// (see `runtime`), never by [`update`].
    pub(super) targets: Targets,
    /// The tree, the main view: the keys go to it unless a dialog or a pane has them.
    pub(super) tree: Tree,
    pub(super) panes: Panes,
    /// The pane that has the keys (see `panes::list`); `None`: the tree.
    pub(super) focus: Option<Pane>,
    /// The dialog that has the keyboard, drawn over everything.
    pub(super) dialog: Option<Box<dyn Dialog>>,
    /// Which keys do what.
    pub(super) keymap: Keymap,
    pub(super) source: SourceInfo,
    pub(super) source_ended: bool,
    /// The banner with the source's notices is shown.
    pub(super) banner: bool,
    /// The event rate, the latest events, what the relay rules said.
    pub(super) history: History,
    pub(super) users: Users,
    pub(super) clock: WallClock,
    /// Where everything was laid out for the last frame drawn.
    pub(super) layout: Layout,
    /// A short note in the status line until the next key.
    pub(super) message: Option<String>,
    /// Playing a recording back instead of watching live: the replay's part of the state.
    pub(super) replay: Option<replay::ReplayControls>,
    /// `--record`: the recording being written.
    pub(super) recording: Option<record::Status>,
    /// Saves the columns chosen in the columns dialog; without it they are not kept.
    pub(super) columns_saver: Option<ColumnsSaver>,
    now_ns: u64,
    pub(super) requests: Vec<Request>,
    /// The roots of the subtrees the source was last asked to follow, and what it said.
    followed_roots: Vec<ProcessKey>,
    filtering: Option<Filtering>,
    effects: Vec<Effect>,
    dirty: bool,
    quit: bool,
    error: Option<String>,
}

impl App {
    /// The application over `model` (seeded from /proc, or from a recording's snapshot,
    /// at `now_ns`, CLOCK_BOOTTIME), fed by `source`, showing times of day through `clock`.
    pub fn new(
        model: Model,
        source: SourceInfo,
        clock: WallClock,
        now_ns: u64,
        users: Users,
    ) -> Self {
        Self {
            tracker: Tracker::new(model, now_ns),
            targets: Targets::default(),
            tree: Tree::default(),
            panes: Panes::new(),
            focus: None,
            dialog: None,
            keymap: Keymap::default(),
            banner: !source.notices.is_empty(),
            source,
            source_ended: false,
            history: History::new(now_ns),
            users,
            clock,
            layout: Layout::default(),
            message: None,
            replay: None,
            recording: None,
            columns_saver: None,
            now_ns,
            requests: Vec::new(),
            followed_roots: Vec::new(),
            filtering: None,
            effects: Vec::new(),
            dirty: true,
            quit: false,
            error: None,
        }
    }

    /// The tree's columns and styles, colour or none.
    pub fn set_look(&mut self, look: super::look::Look) {
        self.tree.look = look;
    }

    /// Where the columns chosen in the columns dialog are saved.
    pub fn set_columns_saver(&mut self, saver: ColumnsSaver) {
        self.columns_saver = Some(saver);
    }

    pub fn model(&self) -> &Model {
        self.tracker.model()
    }

    /// Uses `keymap` for the keys from now on.
    pub fn set_keymap(&mut self, keymap: Keymap) {
        self.keymap = keymap;
    }

    /// The selected process.
    pub fn selected(&self) -> Option<ProcessKey> {
        self.tree.cursor.key
    }

    /// The time shown: the clock's, or the newest event's if that is later.
    pub fn now_ns(&self) -> u64 {
        self.now_ns.max(self.model().now_ns())
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
        self.check_following();
        std::mem::take(&mut self.requests)
    }

    /// What the loop should do for the state at once; each is asked once.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// Brings what drawing reads up to date for a screen of `area`: the layout, the rows
    /// of the tree, where the selection is. Called before each frame; drawing itself
    /// changes nothing. Returns the uids whose user names the frame shows, for the loop to
    /// look up ([`Users::resolve`]) before drawing.
    pub fn prepare(&mut self, area: Rect) -> Vec<u32> {
        self.layout = Layout::new(area, self);
        self.refresh();
        for (pane, area) in self.layout.panes.clone() {
            self.with_pane(pane, |pane, view| pane.prepare(area, view));
        }
        self.dirty = false;
        let mut uids = self.tree.shown_uids(self.model());
        uids.extend(self.tree.options.user);
        uids.extend(self.dialog.iter().flat_map(|d| d.uids()));
        uids
    }

    /// Rebuilds the tree's rows if the model or the options changed, and finds the
    /// selected process among them again.
    fn refresh(&mut self) {
        self.tree.refresh(&self.tracker, self.layout.tree_height());
        self.tree.tags.keep_known(self.tracker.model());
    }

    /// Asks the loop for an effect, right after this update.
    pub(super) fn ask(&mut self, effect: Effect) {
        self.effects.push(effect);
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
        if let Some(events) = self.tracker.hold(events) {
            let outcome = self.tracker.apply(&events);
            self.took_in(events, outcome);
        }
    }

    /// Shows what the tracker applied and said, and asks for what it asked.
    fn took_in(&mut self, events: Vec<Event>, outcome: Outcome) {
        if !outcome.effects.is_empty() {
            self.effects.push(Effect::Relay(outcome.effects));
        }
        self.show_relay_notices(outcome.notices);
        if self.history.took_in(events) > 0 {
            self.start_resync();
        }
        self.dirty = true;
    }

    pub(super) fn tick(&mut self, now_ns: u64) {
        let shown = self.now_ns() / SECOND;
        self.now_ns = self.now_ns.max(now_ns);
        let generation = self.model().generation();
        self.tracker.tick(now_ns);
        self.history.rates.roll(now_ns);
        // Ages and highlights change by the second.
        if self.now_ns() / SECOND != shown || self.model().generation() != generation {
            self.dirty = true;
        }
        self.start_resync();
    }

    /// Starts again from `model` at `now_ns`, as a replay does that went back: what was
    /// learnt from the events goes, what the user set up (selection, folds, search,
    /// panes) stays.
    pub(super) fn restart(&mut self, model: Model, now_ns: u64) {
        self.tracker.restart(model);
        self.now_ns = now_ns;
        self.history.restart(now_ns);
        self.dirty = true;
    }

    /// Asks for a snapshot if the tracker says a re-sync with /proc is due. Not in a
    /// replay: this machine's /proc is not the recorded one's.
    fn start_resync(&mut self) {
        let now = self.now_ns();
        if self.replay.is_none() && self.tracker.resync_due(now) {
            self.tracker.start_resync(now);
            self.requests.push(Request::Snapshot);
        }
    }

    fn resynced(&mut self, snapshot: Result<Vec<ProcessInfo>, String>) {
        let now = self.now_ns();
        let mut outcome = match snapshot {
            Ok(snapshot) => self.tracker.reconcile(&snapshot, now),
            Err(e) => {
                tracing::warn!("cannot re-sync with /proc after lost events: {e}");
                self.say(format!("cannot re-read /proc: {e}"));
                self.tracker.resync_failed(now)
            }
        };
        // With the held events: a loss among them asks for the next re-sync.
        let held = std::mem::take(&mut outcome.released);
        self.took_in(held, outcome);
        // A child the probe could not add (a full map: the loss) is added again.
        if self.filtering == Some(Filtering::Kernel) {
            self.requests.push(Request::Follow);
        }
    }

    /// What came of an [`Effect`].
    fn done(&mut self, done: Done) {
        match done {
            Done::Delivered(sent) => {
                let notices = sent
                    .into_iter()
                    .filter_map(|(t, d)| self.tracker.delivered(t, d))
                    .collect();
                self.show_relay_notices(notices);
            }
            Done::CountedInKernel(counts) => {
                for (target, sent, undelivered) in counts {
                    self.tracker.counted_in_kernel(target, sent, undelivered);
                }
            }
            Done::TargetsExited(gone) => {
                let notices = gone
                    .into_iter()
                    .filter_map(|t| self.tracker.target_exited(t))
                    .collect();
                self.show_relay_notices(notices);
            }
            Done::RelayDialog(dialog, answer) => match dialog.answered(answer) {
                Ok(rule) => {
                    let text = rule.spec.to_string();
                    let (id, notices) = self.tracker.add_rule(rule);
                    self.show_relay_notices(notices);
                    // A warning about a target says more than that the rule was made.
                    if self.message.is_none() {
                        self.say(format!("{id} made: {text}"));
                    }
                }
                Err(dialog) => self.dialog = Some(dialog),
            },
            Done::Signalled(signalling, sent) => self.say(summary(&signalling, &sent)),
            Done::ColumnsSaved(said) => self.say(said.unwrap_or_else(|why| why)),
        }
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
            let handled = match dialog.key(key, &self.view(None)) {
                // Not the dialog's: the tree's keys that move apply (a picker's).
                Handled::Ignored => match self.keymap.action(key).filter(|a| a.moves()) {
                    Some(action) => Handled::Ask(Ask::Perform(action)),
                    None => Handled::Taken,
                },
                handled => handled,
            };
            let open = !matches!(handled, Handled::Close(_));
            self.handled(handled);
            // A dialog that opened another one makes way for it.
            if open && self.dialog.is_none() {
                self.dialog = Some(dialog);
            }
            return;
        }
        if let Some(pane) = self.focus
            && self.pane_key(pane, key)
        {
            return;
        }
        if let Some(action) = self.keymap.action(key) {
            self.perform(action);
        }
    }

    fn mouse(&mut self, mouse: MouseEvent) {
        if self.dialog.is_some() {
            return;
        }
        // Only clicks and the wheel need the rows: with any-motion tracking every pointer
        // move comes here, and must not rebuild the tree.
        if !Tree::takes(mouse.kind) {
            return;
        }
        self.refresh();
        let at = Position::new(mouse.column, mouse.row);
        self.dirty = true;
        let pane = self.layout.panes.iter().find(|(_, area)| area.contains(at));
        if let Some(&(pane, _)) = pane {
            let handled = self.with_pane(pane, |pane, view| pane.mouse(mouse.kind, at, view));
            if self.handled(handled) {
                return;
            }
        }
        let row = self.layout.tree_row_at(at);
        // A click in the tree gives it the keys back.
        if self.tree.mouse(mouse.kind, row) {
            self.focus = None;
        }
    }

    /// Lends the replay controls the application they are part of; `None` live. Taken out
    /// meanwhile: what they call must not ask whether this is a replay.
    pub(super) fn with_replay<T>(
        &mut self,
        f: impl FnOnce(&mut replay::ReplayControls, &mut Self) -> T,
    ) -> Option<T> {
        let mut controls = self.replay.take()?;
        let out = f(&mut controls, self);
        self.replay = Some(controls);
        Some(out)
    }

    /// Where the replay is, if this is one.
    pub fn replay_status(&self) -> Option<&replay::Status> {
        self.replay.as_ref().map(replay::ReplayControls::state)
    }

    /// The damage the replay met, as the one line the headless replay ends with.
    pub fn replay_damage(&self) -> Option<String> {
        self.replay.as_ref()?.damage_line()
    }

    pub(super) fn open(&mut self, dialog: impl Dialog + 'static) {
        self.dialog = Some(Box::new(dialog));
    }

    /// What `pane` reads of the application.
    pub(super) fn view(&self, pane: Option<Pane>) -> View<'_> {
        View {
            tracker: &self.tracker,
            clock: &self.clock,
            users: &self.users,
            recent: &self.history.recent,
            relay_notices: &self.history.relay_notices,
            now_ns: self.now_ns(),
            selected: self.tree.cursor.key,
            focused: pane.is_some() && pane == self.focus,
            replaying: self.replay.is_some(),
            replay_end_ns: self.replay_status().map(|s| s.position.end_ns),
            theme: &self.tree.look.theme,
        }
    }

    /// Lends `pane` to `f`, with what it reads of the application.
    fn with_pane<R>(&mut self, pane: Pane, f: impl FnOnce(&mut dyn Component, &View) -> R) -> R {
        let mut panes = std::mem::take(&mut self.panes);
        let out = f(panes.get_mut(pane), &self.view(Some(pane)));
        self.panes = panes;
        out
    }

    /// A key for the pane that has the keys; false if the tree's keys apply to it.
    fn pane_key(&mut self, pane: Pane, key: KeyEvent) -> bool {
        if key.code == KeyCode::Esc {
            self.focus = None;
            return true;
        }
        let handled = self.with_pane(pane, |pane, view| pane.key(key, view));
        self.handled(handled)
    }

    /// Does what a pane asked; false if it did not take the key.
    pub(super) fn handled(&mut self, handled: Handled) -> bool {
        let ask = match handled {
            Handled::Ignored => return false,
            Handled::Taken | Handled::Close(None) => return true,
            Handled::Ask(ask) | Handled::Close(Some(ask)) => ask,
        };
        match ask {
            Ask::Say(text) => self.say(text),
            Ask::Perform(action) => self.perform(action),
            Ask::Show(_) | Ask::Search { .. } | Ask::Filter(_) | Ask::User(_) => {
                let handled = self.tree.asked(ask, self.tracker.model());
                return self.handled(handled);
            }
            Ask::RemoveRule(id) => {
                if let Some(rule) = self.tracker.remove_rule(id) {
                    let targets = rule.targets().iter().map(Target::id).collect();
                    self.ask(Effect::CloseRelayTargets(targets));
                }
                self.say(format!("{id} removed"));
            }
            Ask::Seek(text) => _ = self.with_replay(|c, app| c.seek_to_text(&text, app)),
            Ask::SeekAt(ns) => {
                let seek = Request::Replay(replay::Control::SeekTo(ns));
                if self.with_replay(|_, app| app.requests.push(seek)).is_none() {
                    self.say("a click on the time axis seeks a replay; this is live");
                }
            }
            Ask::SetMask { root, mask } => {
                if let Some(said) = set_mask(&mut self.tracker, root, mask) {
                    self.say(said);
                }
            }
            Ask::Open(dialog) => self.dialog = Some(dialog),
            Ask::Columns(columns) => {
                self.tree.look.columns = columns.clone();
                self.ask(Effect::SaveColumns(columns));
            }
            Ask::Effect(effect) => self.ask(effect),
        }
        true
    }

    /// The process the item picked in the pane that has the keys stands for.
    pub(super) fn picked(&self) -> Option<ProcessKey> {
        let pane = self.focus?;
        self.panes.get(pane).picked(&self.view(Some(pane)))
    }

    /// `--pin PID`: pins the subtree of the live process with this pid.
    pub fn pin_pid(&mut self, pid: u32) -> anyhow::Result<()> {
        self.tree.pins.pin_pid(&mut self.tracker, pid)
    }

    /// Opens the rule's targets and adds it (`--relay`), its pids resolved now. Its
    /// warnings are shown like every notice. For what drives the application, before its
    /// loop: opening targets touches the outside world, which [`update`] leaves to the
    /// loop (see `relay_dialog`).
    pub fn add_relay(&mut self, spec: RuleSpec) -> anyhow::Result<RuleId> {
        let mut notices = Vec::new();
        let id = self
            .targets
            .add_rule(&mut self.tracker, spec, &mut notices)?;
        self.show_relay_notices(notices);
        Ok(id)
    }

    /// Resolves once a relay target has exited; then [`AppEvent::RelayTargetExited`]
    /// drops it. The loop that owns the application waits on it beside its channel.
    pub fn relay_target_exited(&self) -> impl Future<Output = ()> + '_ {
        self.targets.exited()
    }

    /// Shows what the relays said: the latest in the status line, all of them in the pane
    /// and the log file.
    pub(super) fn show_relay_notices(&mut self, fresh: Vec<Notice>) {
        if let Some(last) = self.history.relay_notices.keep(fresh) {
            self.say(last);
        }
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
            // Ticked once the controls are back: a replay does not re-read /proc.
            if let Some(Some(now_ns)) =
                app.with_replay(|controls, app| controls.report(report, app))
            {
                app.tick(now_ns);
            }
            app.dirty = true;
        }
        AppEvent::Recording(status) => {
            if let Some(shown) = &mut app.recording {
                let (changed, failed) = shown.follow(status);
                if let Some(error) = failed {
                    app.notice(error);
                }
                app.dirty |= changed;
            }
        }
        AppEvent::RelayTargetExited => app.effects.push(Effect::CheckRelayTargets),
        AppEvent::Done(done) => app.done(done),
        AppEvent::SourceEnded => {
            app.source_ended = true;
            app.dirty = true;
        }
        AppEvent::SourceFailed(why) => {
            app.error = Some(why);
            app.quit = true;
        }
        AppEvent::Filtering(filtering) => app.filtering_now(filtering),
        AppEvent::Stop => app.quit = true,
    }
}
