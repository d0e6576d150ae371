//! Relay rules on screen: the relay dialog with what the library says is wrong, the rule
//! it makes, and the relays pane with each target's counts. The targets are real
//! processes that block the signal; the events are the fixed ones of these tests, and the
//! signals they call for are really sent.

#[path = "../../../tests/common/holder.rs"]
mod holder;

use std::time::Duration;

use tokio::sync::mpsc::Sender;

use super::*;
use crate::{
    clock,
    proc::snapshot,
    tracker::rules::RtSignal,
    ui::runtime::{self, Screen},
};
use holder::Holder;

fn signal() -> i32 {
    RtSignal::default().number()
}

/// Returns once the clock is past the tick `key` started in: a process started from now
/// on has another start time, and so another key, even with the same pid.
fn wait_past_start_tick(key: ProcessKey) {
    while clock::start_ticks(clock::boottime_ns()) <= key.start_ticks {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A target that blocks the default signal and keeps what it gets pending, with a pid of
/// five digits (taken with clone3's set_tid, as root), so the screens' columns do not
/// depend on it. Its name is `receiver`.
fn target() -> Holder {
    let name = c"receiver";
    // SAFETY: names this thread, and so the process forked from it, with a C string.
    unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) };
    let start = 10_000 + std::process::id() % 20_000;
    (start..32_000)
        .chain(10_000..start)
        .find_map(|pid| match Holder::hold_pid(signal(), pid) {
            Ok(holder) => Some(holder),
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => None,
            Err(e) => panic!("cannot start a relay target at pid {pid} (root needed): {e}"),
        })
        .expect("no free pid of five digits")
}

/// `expected` with each `#####` replaced by the next pid.
fn with_pids(expected: &str, pids: &[u32]) -> String {
    let mut out = expected.to_owned();
    for pid in pids {
        out = out.replacen("#####", &pid.to_string(), 1);
    }
    out
}

/// Two forks in make's subtree (its third compiler, and that one's child) and one
/// outside, after the rule was made.
fn births() -> Vec<Event> {
    let child = P {
        pid: 905,
        ppid: 904,
        start_ms: 1_000_250,
        uid: 1000,
    };
    let mut events = super::pins::births();
    events.extend(child.start("cc", &["as", "io.s"]));
    events
}

/// Opens the relay dialog on make (the tree's fourth row), at its targets.
fn open_on_make(app: &mut App) {
    for _ in 0..3 {
        key(app, KeyCode::Down);
    }
    key(app, KeyCode::Char('r'));
}

/// Opens the relay dialog on make and fills it in for make's subtree, with `target` as
/// its target.
fn fill_in_for_makes_subtree(app: &mut App, target: &Holder) {
    open_on_make(app);
    // From the targets field up to the match: make's subtree.
    key(app, KeyCode::Up);
    key(app, KeyCode::Up);
    key(app, KeyCode::Right);
    key(app, KeyCode::Down);
    key(app, KeyCode::Down);
    type_text(app, &target.pid().to_string());
}

#[tokio::test]
async fn the_relay_dialog_shows_what_is_wrong_in_place_then_makes_the_rule() {
    let target = target();
    let mut app = machine();
    fill_in_for_makes_subtree(&mut app, &target);
    key(&mut app, KeyCode::Tab);
    type_text(&mut app, "9");
    key(&mut app, KeyCode::Enter);
    assert_screen(
        &screen(&mut app, 80, 16),
        &with_pids(
            r"
    PID USER        AGE COMMAND
      1 root     16m39s /sbin/init
  ┌ Relay rule ──────────────────────────────────────────────────────────────┐
  │ match   the subtree of 900 (make)                                        │
  │ kinds   fork (default)                                                   │
  │ to      #####                                                            │
  │ signal  9█                                                               │
  │ layout  relayfork                                                        │
  │ sent in user space                                                       │
  │                                                                          │
  │ SIGKILL (9) is not a real-time signal; use a real-time signal: RTMIN+N,  │
  │ RTMAX-N or a number in 34..64                                            │
  └ Tab next · ←→ choose · Ctrl-T picks · Enter makes it · Esc cancels ──────┘


eBPF │ 8 processes, 2 exited │ 0 lost │           █          0/s │ ? help
",
            &[target.pid()],
        ),
    );
    assert!(app.tracker.relays().rules().is_empty());

    // The default signal instead: the rule is made.
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Enter);
    assert!(app.dialog.is_none());
    assert_eq!(
        app.message,
        Some(with_pids(
            "relay 1 made: to=#####:subtree=900:kinds=fork:signal=RTMIN+1:layout=relayfork",
            &[target.pid()]
        ))
    );
}

/// Two forks in the subtree are relayed, the one outside is not.
#[tokio::test]
async fn a_subtree_rule_relays_the_forks_in_the_subtree() {
    let target = target();
    let mut app = machine();
    fill_in_for_makes_subtree(&mut app, &target);
    key(&mut app, KeyCode::Enter);
    assert!(app.dialog.is_none());
    update(&mut app, AppEvent::Events(births()));
    key(&mut app, KeyCode::Char('R'));
    assert_screen(
        &screen(&mut app, 120, 16),
        &with_pids(
            r"
    PID USER        AGE COMMAND                                         ┌ Relays ──────────────────────────────────────┐
      1 root     16m39s /sbin/init                                      │relay 1: to=##### subtree=900 kinds=fork      │
    400 root     16m30s ├─ /usr/sbin/sshd -D                            │signal=RTMIN+1 layout=relayfork               │
    812 alice     8m20s │  └─ -bash                                     │  2 events relayed                            │
    900 alice       10s │     └─ make -j2                               │  pid ##### (receiver): 2 sent, 0 undelivered │
    901 alice      2.0s │        ├─ [exit 0] cc -c main.c               │                                              │
    902 alice      2.0s │        ├─ [SIGKILL] cc -c util.c              │                                              │
    903 alice        0s │        ├─ ld -o app main.o util.o             │                                              │
    904 alice        0s │        └─ cc -c io.c                          │                                              │
    905 alice        0s │           └─ as io.s                          │                                              │
    500 root     16m20s └─ /usr/sbin/cron -f                            │                                              │
    501 root         0s    └─ run-parts /etc/cron.hourly                │                                              │
                                                                        │                                              │
                                                                        │                                              │
                                                                        └ ↑↓ pick · x remove · Esc tree ───────────────┘
eBPF │ 11 processes, 2 exited │ 0 lost │           █          0/s │ 1 relay: 2 sent │ ? help
",
            &[target.pid(), target.pid()],
        ),
    );
    assert!(target.pending(signal()), "no signal reached the target");
}

#[tokio::test]
async fn the_relays_pane_counts_each_target_and_shows_a_dropped_one() {
    let (first, second) = (target(), target());
    let mut app = machine();
    // As `--relay` adds it.
    let spec = format!("to={},{}:kinds=exec", first.pid(), second.pid());
    let id = app.add_relay(spec.parse().unwrap()).unwrap();
    assert_eq!(id.to_string(), "relay 1");
    update(&mut app, AppEvent::Events(births()));

    // The second exits: the loop waits on that beside its channel (see the next test).
    let second_pid = second.pid();
    drop(second);
    tokio::time::timeout(Duration::from_secs(20), app.relay_target_exited())
        .await
        .expect("the target's exit was not noticed");
    update(&mut app, AppEvent::RelayTargetExited);
    assert_eq!(
        app.message,
        Some(format!(
            "relay 1: target pid {second_pid} (receiver) exited and was dropped"
        ))
    );
    // One more exec, for the first alone; then events the source lost.
    let late = P {
        pid: 906,
        ppid: 812,
        start_ms: 1_000_600,
        uid: 1000,
    };
    update(
        &mut app,
        AppEvent::Events(late.start("bash", &["true"]).to_vec()),
    );
    update(
        &mut app,
        AppEvent::Events(vec![Event::lost(1_000_700 * MS, 5)]),
    );
    key(&mut app, KeyCode::Char('R'));
    assert_screen(
        &screen(&mut app, 120, 16),
        &with_pids(
            r"
    PID USER        AGE COMMAND                                         ┌ Relays ──────────────────────────────────────┐
      1 root     16m39s /sbin/init                                      │relay 1: to=#####,##### kinds=exec            │
    400 root     16m30s ├─ /usr/sbin/sshd -D                            │signal=RTMIN+1 layout=relayfork               │
    812 alice     8m20s │  └─ -bash                                     │  4 events relayed                            │
    900 alice       10s │     ├─ make -j2                               │  pid ##### (receiver): 4 sent, 0 undelivered │
    901 alice      2.0s │     │  ├─ [exit 0] cc -c main.c               │  pid ##### (receiver): 3 sent, 0 undelivered,│
    902 alice      2.0s │     │  ├─ [SIGKILL] cc -c util.c              │  exited: dropped                             │
    903 alice        1s │     │  ├─ ld -o app main.o util.o             │  relay 1: target pid ##### (receiver) exited │
    904 alice        0s │     │  └─ cc -c io.c                          │  and was dropped                             │
    905 alice        0s │     │     └─ as io.s                          │5 events lost: signals they called for were   │
    906 alice        0s │     └─ true                                   │not sent                                      │
    500 root     16m20s └─ /usr/sbin/cron -f                            │                                              │
    501 root         0s    └─ run-parts /etc/cron.hourly                │                                              │
                                                                        │                                              │
                                                                        └ ↑↓ pick · x remove · Esc tree ───────────────┘
eBPF │ 12 processes, 2 exited │ 5 lost │           █          0/s │ 1 relay: 7 sent │ ? help
",
            &[first.pid(), second_pid, first.pid(), second_pid, second_pid],
        ),
    );

    // x removes the picked rule.
    key(&mut app, KeyCode::Char('x'));
    assert_eq!(app.message.as_deref(), Some("relay 1 removed"));
    assert!(app.tracker.relays().rules().is_empty());
    assert!(screen(&mut app, 120, 14).contains("no relay rules"));
}

/// Frames on a test backend; once one shows `until`, the application is told to stop.
struct StopWhenShown {
    terminal: Terminal<TestBackend>,
    until: String,
    stop: Sender<AppEvent>,
}

impl Screen for StopWhenShown {
    fn draw(&mut self, app: &mut App) -> anyhow::Result<()> {
        draw(&mut self.terminal, app)?;
        if text(self.terminal.backend().buffer()).contains(&self.until) {
            let _ = self.stop.try_send(AppEvent::Stop);
        }
        Ok(())
    }
}

#[tokio::test]
async fn the_loop_drops_a_target_when_it_exits_and_says_so() {
    let target = target();
    let pid = target.pid();
    let mut app = machine();
    app.add_relay(format!("to={pid}").parse().unwrap()).unwrap();
    let (sender, mut events) = runtime::channel();
    let mut screen = StopWhenShown {
        terminal: Terminal::new(TestBackend::new(160, 10)).unwrap(),
        until: format!("relay 1: target pid {pid} (receiver) exited and was dropped"),
        stop: sender.clone(),
    };
    // Nothing is relayed to it: only its pidfd can tell.
    drop(target);
    tokio::time::timeout(
        Duration::from_secs(20),
        runtime::run(
            &mut screen,
            &mut app,
            &mut events,
            &sender,
            &mut runtime::Session::default(),
        ),
    )
    .await
    .expect("the exit was not shown")
    .unwrap();
    assert!(app.tracker.relays().rules()[0].targets()[0].is_gone());
}

fn ctrl(app: &mut App, c: char) {
    let key = KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
    update(app, AppEvent::Input(Input::Key(key)));
}

/// The relay dialog's lines as drawn, trimmed.
fn dialog_lines(app: &mut App) -> Vec<String> {
    screen(app, 100, 30)
        .lines()
        .skip_while(|l| !l.contains("┌ Relay rule "))
        .skip(1)
        .take_while(|l| !l.contains('└'))
        .filter_map(|l| l.rsplit('│').nth(1))
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

/// r opens the dialog on the selected process; Ctrl-T picks targets from the tree.
#[tokio::test]
async fn relay_keys_open_the_dialog_and_pick_targets() {
    let mut app = machine();
    open_on_make(&mut app);
    assert_eq!(
        dialog_lines(&mut app)[..6],
        [
            "match   900 (make): its own events and its forks",
            "kinds   fork (default)",
            "to      █",
            "signal  RTMIN+1 (default)",
            "layout  relayfork",
            "sent in user space",
        ]
    );
    // Ctrl-T picks targets from the tree, where the tree's keys move; Esc picks none.
    ctrl(&mut app, 't');
    key(&mut app, KeyCode::Down);
    let picking = screen(&mut app, 100, 30);
    assert!(
        picking.ends_with(
            "pick a relay target: ↑↓ move · Enter picks 901 (cc) · Esc back to the rule\n"
        ),
        "{picking}"
    );
    // It has exited: refused.
    key(&mut app, KeyCode::Enter);
    let lines = dialog_lines(&mut app);
    assert_eq!(lines[2], "to      █");
    assert_eq!(
        lines[6..],
        ["pid 901 (cc) has exited: it cannot be a relay target"]
    );
    ctrl(&mut app, 't');
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Enter);
    ctrl(&mut app, 't');
    for _ in 0..3 {
        key(&mut app, KeyCode::Up);
    }
    key(&mut app, KeyCode::Enter);
    ctrl(&mut app, 't');
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Esc);
    assert_eq!(dialog_lines(&mut app)[2], "to      903,900█");
}

/// ←→ and Space choose; the layout's default kinds follow it.
#[tokio::test]
async fn relay_keys_choose_the_match_and_the_layout() {
    let mut app = machine();
    open_on_make(&mut app);
    key(&mut app, KeyCode::Char('x'));
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Up);
    key(&mut app, KeyCode::Up);
    key(&mut app, KeyCode::Left);
    assert_eq!(dialog_lines(&mut app)[0], "match   ‹ every process ›");
    key(&mut app, KeyCode::Char(' '));
    assert_eq!(
        dialog_lines(&mut app)[0],
        "match   ‹ 900 (make): its own events and its forks ›"
    );
    key(&mut app, KeyCode::BackTab);
    key(&mut app, KeyCode::Right);
    assert_eq!(
        dialog_lines(&mut app)[5],
        "sent in ‹ the kernel, where it can ›"
    );
    key(&mut app, KeyCode::BackTab);
    key(&mut app, KeyCode::Right);
    let lines = dialog_lines(&mut app);
    assert_eq!(lines[4], "layout  ‹ kmonitor ›");
    assert_eq!(
        lines[1],
        "kinds   fork,thread_start,exec,exit,thread_exit,uid,gid (default)"
    );
    // Esc makes nothing.
    key(&mut app, KeyCode::Esc);
    assert!(app.dialog.is_none());
    assert!(app.tracker.relays().rules().is_empty());
}

/// In the pins pane, r is for the picked pin's subtree.
#[tokio::test]
async fn relay_keys_in_the_pins_pane() {
    let mut app = machine();
    key(&mut app, KeyCode::End);
    key(&mut app, KeyCode::Char('p'));
    key(&mut app, KeyCode::Home);
    key(&mut app, KeyCode::Char('P'));
    key(&mut app, KeyCode::Char('r'));
    assert_eq!(
        dialog_lines(&mut app)[0],
        "match   the subtree of 500 (cron)"
    );
}

/// Opens the relay dialog for every process's events, at its targets.
fn open_for_every_process(app: &mut App) {
    key(app, KeyCode::Char('r'));
    key(app, KeyCode::Up);
    key(app, KeyCode::Up);
    key(app, KeyCode::Left);
    key(app, KeyCode::Down);
    key(app, KeyCode::Down);
    assert_eq!(
        dialog_lines(app)[..3],
        [
            "match   every process",
            "kinds   fork (default)",
            "to      █"
        ]
    );
}

/// A real process as the model's events tell it: a child of init, named `receiver`.
fn as_events_tell(pid: u32) -> P {
    let start_ns = snapshot::read_process(pid)
        .expect("no such process")
        .start_ns;
    P {
        pid,
        ppid: 1,
        start_ms: start_ns / MS,
        uid: 0,
    }
}

#[tokio::test]
async fn a_typed_target_that_exits_before_the_rule_is_made_is_refused() {
    let target = target();
    let pid = target.pid();
    let mut app = machine();
    open_for_every_process(&mut app);
    type_text(&mut app, &pid.to_string());
    drop(target);
    key(&mut app, KeyCode::Enter);
    assert_eq!(
        dialog_lines(&mut app)[2..],
        [
            format!("to      {pid}█"),
            "signal  RTMIN+1 (default)".to_owned(),
            "layout  relayfork".to_owned(),
            "sent in user space".to_owned(),
            format!("pid {pid} (receiver) exited since it was picked"),
        ]
    );
    assert!(app.dialog.is_some());
    assert!(app.tracker.relays().rules().is_empty());
}

#[tokio::test]
async fn a_target_picked_in_the_tree_whose_pid_is_taken_again_is_refused() {
    let first = target();
    let pid = first.pid();
    let mut app = machine();
    let picked = as_events_tell(pid);
    update(
        &mut app,
        AppEvent::Events(picked.start("init", &["receiver"]).to_vec()),
    );
    open_for_every_process(&mut app);
    // It started last: the tree's last row.
    ctrl(&mut app, 't');
    key(&mut app, KeyCode::End);
    assert_eq!(app.selected(), Some(picked.key()));
    key(&mut app, KeyCode::Enter);
    assert_eq!(dialog_lines(&mut app)[2], format!("to      {pid}█"));

    // It exits, and another process takes its pid; the model sees both.
    drop(first);
    wait_past_start_tick(picked.key());
    let second = Holder::hold_pid(signal(), pid).expect("the pid was taken first");
    let next = as_events_tell(second.pid());
    let mut events = vec![picked.exit(next.start_ms, "receiver", ExitStatus::Unknown)];
    events.extend(next.start("init", &["receiver"]));
    update(&mut app, AppEvent::Events(events));
    assert_eq!(app.model().current(pid), Some(next.key()));

    key(&mut app, KeyCode::Enter);
    assert_eq!(
        dialog_lines(&mut app)[6..],
        [format!(
            "pid {pid} is now another process (receiver): the one picked exited"
        )]
    );
    assert!(app.tracker.relays().rules().is_empty());
    assert!(
        !second.pending(signal()),
        "the pid's new holder got a signal"
    );
}

#[tokio::test]
async fn a_subtree_whose_root_exits_before_the_rule_is_made_is_refused() {
    let target = target();
    let mut app = machine();
    open_on_make(&mut app);
    key(&mut app, KeyCode::Up);
    key(&mut app, KeyCode::Up);
    key(&mut app, KeyCode::Right);
    assert_eq!(
        dialog_lines(&mut app)[0],
        "match   ‹ the subtree of 900 (make) ›"
    );
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    type_text(&mut app, &target.pid().to_string());
    update(
        &mut app,
        AppEvent::Events(vec![MAKE.exit(1_000_100, "make", ExitStatus::Code(0))]),
    );
    key(&mut app, KeyCode::Enter);
    assert_eq!(
        dialog_lines(&mut app)[6..],
        ["pid 900 (make) exited since it was picked"]
    );
    assert!(app.tracker.relays().rules().is_empty());
}

#[test]
fn enter_in_the_relays_pane_folds_the_tree_as_in_the_tree() {
    let mut app = machine();
    for _ in 0..3 {
        key(&mut app, KeyCode::Down);
    }
    assert_eq!(app.selected(), Some(MAKE.key()));
    key(&mut app, KeyCode::Char('R'));
    assert_eq!(app.focus, Some(super::super::panes::Pane::Relays));
    key(&mut app, KeyCode::Enter);
    let folded = screen(&mut app, 80, 24);
    assert!(folded.contains("make -j2"), "{folded}");
    assert!(
        !folded.contains("cc -c main.c"),
        "make's subtree is folded: {folded}"
    );
}
