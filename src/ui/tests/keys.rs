//! htop's keys on screen: the signal dialog and its confirmations (a real child killed
//! with the default SIGTERM, refused when held with another start time), tags, the flat
//! list, one user's processes, `\` and F4 that ask for a filter, F10 that quits.

use std::{os::unix::process::ExitStatusExt, process::Command};

use super::*;
use crate::proc::snapshot;

/// The machine with make selected.
fn make_selected() -> App {
    let mut app = machine();
    for _ in 0..3 {
        key(&mut app, KeyCode::Down);
    }
    assert_eq!(app.selected(), Some(MAKE.key()));
    app
}

/// The lines of the screen from the one that holds `from`, for `n` lines.
fn lines_from(screen: &str, from: &str, n: usize) -> Vec<String> {
    let lines: Vec<&str> = screen.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains(from))
        .unwrap_or_else(|| panic!("no `{from}` in:\n{screen}"));
    lines[at..at + n].iter().map(|l| l.to_string()).collect()
}

#[tokio::test]
async fn k_lists_signals_and_confirms_naming_the_process() {
    let mut app = make_selected();
    key(&mut app, KeyCode::Char('k'));
    let shown = screen(&mut app, 80, 24);
    assert_eq!(
        lines_from(&shown, "Send a signal", 17),
        [
            "    812 ┌ Send a signal ───────────────────────────────────────────────┐",
            "    900 │ to pid 900 (make -j2)                                        │",
            "    901 │                                                              │",
            "    902 │   1 SIGHUP                                                   │",
            "    903 │   2 SIGINT                                                   │",
            "    500 │   3 SIGQUIT                                                  │",
            "        │   6 SIGABRT                                                  │",
            "        │   9 SIGKILL                                                  │",
            "        │  10 SIGUSR1                                                  │",
            "        │  12 SIGUSR2                                                  │",
            "        │  14 SIGALRM                                                  │",
            "        │  15 SIGTERM                                                  │",
            "        │  18 SIGCONT                                                  │",
            "        │  19 SIGSTOP                                                  │",
            "        │  20 SIGTSTP                                                  │",
            "        │  28 SIGWINCH                                                 │",
            "        └ ↑↓ choose · Enter · Esc cancels ─────────────────────────────┘",
        ]
    );
    let buf = draw_at(&mut app, 80, 24);
    assert_eq!(
        style_at(&buf, "15 SIGTERM").bg,
        Some(Color::Cyan),
        "the default"
    );

    // Up and back Down: SIGTERM again.
    key(&mut app, KeyCode::Up);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Enter);
    let shown = screen(&mut app, 80, 24);
    assert_eq!(
        lines_from(&shown, "Send a signal", 5),
        [
            "        ┌ Send a signal ───────────────────────────────────────────────┐",
            "        │ Send SIGTERM (15) to pid 900 (make -j2)?                     │",
            "        │                                                              │",
            "        │ y sends it · any other key cancels                           │",
            "        └──────────────────────────────────────────────────────────────┘",
        ]
    );
    // n cancels, sending nothing (pid 900 here is made up: it must not be signalled).
    key(&mut app, KeyCode::Char('n'));
    assert!(app.dialog.is_none());
    assert!(screen(&mut app, 120, 24).ends_with("│ no signal sent\n"));
}

/// `k` moved up and Enter folded before they were htop's: the old habit of `k` `k`
/// Enter Enter must not send anything.
#[test]
fn old_habits_of_k_and_enter_send_nothing() {
    let mut app = machine();
    key(&mut app, KeyCode::Down);
    for _ in 0..5 {
        key(&mut app, KeyCode::Char('k'));
    }
    key(&mut app, KeyCode::Enter);
    assert!(screen(&mut app, 80, 24).contains("Send SIGKILL (9)"));
    key(&mut app, KeyCode::Enter);
    assert!(app.dialog.is_none());
    assert!(screen(&mut app, 120, 24).ends_with("│ no signal sent\n"));
}

#[tokio::test]
async fn pid_1_asks_a_second_time() {
    let mut app = machine();
    screen(&mut app, 80, 24);
    assert_eq!(app.selected(), Some(ProcessKey::new(1, S)));
    key(&mut app, KeyCode::F(9));
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('y'));
    let shown = screen(&mut app, 80, 24);
    assert!(
        shown.contains("pid 1 is init: signalling it can bring the whole system down."),
        "{shown}"
    );
    assert!(
        shown.contains("Send SIGTERM (15) to init anyway?"),
        "{shown}"
    );
    // Enter is not yes here: only y sends.
    key(&mut app, KeyCode::Enter);
    assert!(app.dialog.is_none());
    assert!(screen(&mut app, 120, 24).ends_with("│ no signal sent\n"));
}

/// An app whose model holds only `process`, selected; k, Enter, y send it SIGTERM, the
/// default, through the loop's effect. What the status line says then.
fn sigterm_from_the_ui(process: ProcessInfo) -> String {
    let pid = process.pid;
    let mut model = Model::default();
    model.seed(&[process]);
    let mut app = classic(App::new(
        model,
        SourceInfo::default(),
        noon_clock(),
        0,
        users(),
    ));
    screen(&mut app, 80, 10);
    assert_eq!(app.selected().map(|k| k.pid), Some(pid));
    key(&mut app, KeyCode::Char('k'));
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('y'));
    let said = screen(&mut app, 120, 10);
    said.lines().last().unwrap().to_owned()
}

/// A child of this test: held with another start time (its pid reused, as far as the UI
/// knows) it is refused and left alone; held as it is, the default SIGTERM kills it.
#[tokio::test]
async fn the_default_sigterm_kills_the_selected_process_and_a_reused_pid_is_refused() {
    let mut child = Command::new("sleep").arg("3600").spawn().unwrap();
    let pid = child.id();
    let process = snapshot::read_process(pid).expect("the child runs");
    let earlier = ProcessInfo {
        start_ns: process.start_ns - S,
        ..process.clone()
    };
    let said = sigterm_from_the_ui(earlier);
    assert!(
        said.ends_with(&format!(
            "│ pid {pid} is another process now: refused, SIGTERM not sent"
        )),
        "{said}"
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "the child was signalled"
    );

    let said = sigterm_from_the_ui(process);
    assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGTERM));
    assert!(
        said.contains(&format!("│ SIGTERM sent to pid {pid} (")),
        "{said}"
    );
}

#[tokio::test]
async fn space_tags_and_k_and_p_act_on_the_tagged_together() {
    let mut app = make_selected();
    // Space tags and moves down; cron is tagged too.
    key(&mut app, KeyCode::Char(' '));
    assert_eq!(app.selected(), Some(CC_MAIN.key()));
    key(&mut app, KeyCode::End);
    key(&mut app, KeyCode::Char(' '));
    assert_screen(
        &screen(&mut app, 80, 12),
        r"
    PID USER        AGE COMMAND
      1 root     16m39s /sbin/init
    400 root     16m30s ├─ /usr/sbin/sshd -D
    812 alice     8m20s │  └─ -bash
    900 alice       10s │     └─ * make -j2
    901 alice      2.0s │        ├─ [exit 0] cc -c main.c
    902 alice      2.0s │        ├─ [SIGKILL] cc -c util.c
    903 alice        0s │        └─ ld -o app main.o util.o
    500 root     16m20s └─ * /usr/sbin/cron -f


eBPF │ 8 processes, 2 exited │ 0 lost │ 0/s │ 2 tagged │ ? help
",
    );
    let buf = draw_at(&mut app, 80, 12);
    assert_eq!(style_at(&buf, "* make").fg, Some(Color::Yellow));

    key(&mut app, KeyCode::Char('k'));
    key(&mut app, KeyCode::Enter);
    let shown = screen(&mut app, 80, 12);
    assert!(
        shown.contains("Send SIGTERM (15) to 2 tagged processes (pids 500, 900)?"),
        "{shown}"
    );
    key(&mut app, KeyCode::Esc);

    key(&mut app, KeyCode::Char('p'));
    let pins = app.tracker.pins();
    assert!(pins.get(MAKE.key()).is_some() && pins.get(ProcessKey::new(500, 20 * S)).is_some());
    assert!(
        screen(&mut app, 120, 12).ends_with("│ pinned the subtrees of 2 of 2 tagged processes\n")
    );
    key(&mut app, KeyCode::Char('p'));
    assert!(
        app.tracker.pins().is_empty(),
        "all were pinned: p unpins them"
    );

    key(&mut app, KeyCode::Char('U'));
    assert!(screen(&mut app, 120, 12).ends_with("│ 2 untagged\n"));
    assert!(!screen(&mut app, 80, 12).contains("* "));
}

#[test]
fn f5_shows_a_flat_list_by_pid() {
    let mut app = machine();
    key(&mut app, KeyCode::F(5));
    assert_screen(
        &screen(&mut app, 80, 12),
        r"
    PID USER        AGE COMMAND
      1 root     16m39s /sbin/init
    400 root     16m30s /usr/sbin/sshd -D
    500 root     16m20s /usr/sbin/cron -f
    812 alice     8m20s -bash
    900 alice       10s make -j2
    901 alice      2.0s [exit 0] cc -c main.c
    902 alice      2.0s [SIGKILL] cc -c util.c
    903 alice        0s ld -o app main.o util.o


eBPF │ 8 processes, 2 exited │ 0 lost │ 0/s │ flat list │ flat list, by pid
",
    );
    key(&mut app, KeyCode::F(5));
    assert!(
        screen(&mut app, 80, 12).contains("└─ make -j2"),
        "the tree again"
    );
}

#[test]
fn u_shows_one_users_processes_with_their_ancestors_dimmed() {
    let mut app = machine();
    key(&mut app, KeyCode::Char('u'));
    let shown = screen(&mut app, 80, 14);
    assert_eq!(
        lines_from(&shown, "Show the processes of", 5),
        [
            "    900 alice     ┌ Show the processes of ───────────────────┐",
            "    901 alice     │ all users                                │",
            "    902 alice     │ root (uid 0): 5 processes                │",
            "    903 alice     │ alice (uid 1000): 3 processes            │",
            "    500 root     1└ ↑↓ choose · Enter · Esc cancels ─────────┘",
        ]
    );
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Enter);
    let buf = draw_at(&mut app, 80, 10);
    assert_screen(
        &text(&buf),
        r"
    PID USER        AGE COMMAND
      1 root     16m39s /sbin/init
    400 root     16m30s └─ /usr/sbin/sshd -D
    812 alice     8m20s    └─ -bash
    900 alice       10s       └─ make -j2
    901 alice      2.0s          ├─ [exit 0] cc -c main.c
    902 alice      2.0s          ├─ [SIGKILL] cc -c util.c
    903 alice        0s          └─ ld -o app main.o util.o

eBPF │ 8 processes, 2 exited │ 0 lost │ 0/s │ user alice │ ? help
",
    );
    assert_eq!(style_at(&buf, "/usr/sbin/sshd").fg, Some(Color::DarkGray));
    assert_eq!(style_at(&buf, "make -j2").fg, Some(Color::Reset));
    // The flat list shows only hers.
    key(&mut app, KeyCode::F(5));
    let shown = screen(&mut app, 80, 10);
    let pids: Vec<&str> = shown
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .take_while(|w| w.parse::<u32>().is_ok())
        .collect();
    assert_eq!(pids, ["812", "900", "901", "902", "903"], "{shown}");
    // u again, the first entry: everyone.
    key(&mut app, KeyCode::Char('u'));
    key(&mut app, KeyCode::Home);
    key(&mut app, KeyCode::Enter);
    assert!(!screen(&mut app, 120, 12).contains("user alice"));
}

#[test]
fn backslash_and_f4_ask_for_a_filter() {
    let mut app = machine();
    key(&mut app, KeyCode::Char('\\'));
    type_text(&mut app, "util");
    key(&mut app, KeyCode::Enter);
    let shown = screen(&mut app, 80, 9);
    assert!(shown.contains("filter `util`"), "{shown}");
    assert!(shown.contains("├─ [SIGKILL] cc -c util.c") || shown.contains("└─ [SIGKILL]"));
    assert!(!shown.contains("cron"), "{shown}");
    // F4 asks again, even with a search to filter by; empty shows all.
    key(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "cron");
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::F(4));
    assert!(screen(&mut app, 80, 9).contains("filter: █"));
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Enter);
    assert!(!screen(&mut app, 120, 9).contains("filter `"));
}

#[test]
fn f10_quits() {
    let mut app = machine();
    key(&mut app, KeyCode::F(10));
    assert!(app.should_quit());
}

#[test]
fn a_keymap_gives_actions_other_keys_and_the_help_follows() {
    let mut app = make_selected();
    let keymap = super::super::keymap::Keymap::with_overrides(&[
        ("up", vec!["Up", "k"]),
        ("signal", vec!["F9", "x"]),
    ])
    .unwrap();
    app.set_keymap(keymap);
    key(&mut app, KeyCode::Char('k'));
    assert_eq!(
        app.selected(),
        Some(ProcessKey::new(812, 500 * S)),
        "k moves up"
    );
    key(&mut app, KeyCode::Char('x'));
    assert!(screen(&mut app, 80, 24).contains("to pid 812 (-bash)"));
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char('?'));
    let help = screen(&mut app, 80, 40);
    assert!(help.contains("│ Up k        move up "), "{help}");
    assert!(help.contains("│ F9 x        send a signal"), "{help}");
}
