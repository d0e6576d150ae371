//! Text that strangers chose, on screen: a process whose command name, file name and argv
//! hold terminal control sequences, run by a user whose name holds one, shown in every
//! pane and in the signal and user dialogs; a relay target with such a name; a recording
//! that names its host, kernel and backend so; and what was typed. All of it appears visibly escaped.

use std::fs::File;

use super::*;
use crate::recording::{Info, Replay, Writer};

/// 15 bytes, as long as a command name can be: an OSC 52 clipboard write, BEL, CR, LF, a
/// C1 CSI and a right-to-left override.
const COMM: &str = "\x1b]52;c;\x07\r\n\u{9b}\u{202e}";
const COMM_SHOWN: &str = r"\e]52;c;\a\r\n\u{9b}\u{202e}";
const FILE: &str = "/tmp/\x1b]52;c;aGk=\x07\u{202e}";
/// An argv that would write the clipboard, forge a line and clear the screen.
const ARGV: [&str; 3] = ["\x1b]52;c;aGk=\x07", "\nexit pid=1 comm=init", "\u{9b}2J"];
const USER: &str = "\x1b[2Jmallory";

/// A process of user 1001 started by alice's shell, whose name, file and argv are hostile.
const HOSTILE: P = P {
    pid: 950,
    ppid: 812,
    start_ms: 999_000,
    uid: 1001,
};

fn hostile_start() -> Vec<Event> {
    vec![
        HOSTILE.event(999_000, "bash", Kind::Fork),
        HOSTILE.event(
            999_001,
            COMM,
            Kind::Exec {
                filename: FILE.into(),
                argv: Argv::from_args(ARGV),
                argv_truncated: false,
                filename_truncated: false,
                argv_unreadable: false,
            },
        ),
    ]
}

/// The machine of these tests, without the make, with the hostile process; user 1001 is
/// named [`USER`].
fn hostile_machine() -> App {
    let mut model = Model::default();
    model.seed(&machine_processes());
    let users = Users::with_lookup(|uid| match uid {
        0 => Some("root".to_owned()),
        1000 => Some("alice".to_owned()),
        1001 => Some(USER.to_owned()),
        _ => None,
    });
    let source = SourceInfo {
        name: "eBPF".into(),
        ..SourceInfo::default()
    };
    let mut app = classic(App::new(model, source, noon_clock(), 990 * S, users));
    update(&mut app, AppEvent::Events(hostile_start()));
    update(&mut app, AppEvent::Tick(1_000 * S));
    app
}

#[test]
fn tree_details_and_event_log_show_a_hostile_process_escaped() {
    let mut app = hostile_machine();
    key(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "comm=init");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.selected(), Some(HOSTILE.key()));
    key(&mut app, KeyCode::Char('d'));
    key(&mut app, KeyCode::Char('e'));
    assert_screen(
        &screen(&mut app, 120, 30),
        r"
    PID USER        AGE COMMAND                                         ┌ Details ─────────────────────────────────────┐
      1 root     16m39s /sbin/init                                      │\e]52;c;\a\r\n\u{9b}\u{202e}  pid 950  ppid 81│
    400 root     16m30s ├─ /usr/sbin/sshd -D                            │state    running for 1s, 1 thread             │
    812 alice     8m20s │  └─ -bash                                     │argv     '\e]52;c;aGk=\a' '\nexit pid=1       │
    950 \e[2Jmal     1s │     └─ \e]52;c;aGk=\a \nexit pid=1 comm=init \│         comm=init' '\u{9b}2J'                │
    500 root     16m20s └─ /usr/sbin/cron -f                            │file     /tmp/\e]52;c;aGk=\a\u{202e}          │
                                                                        │started  12:16:39.000000                      │
                                                                        │user     1001 \e[2Jmallory                    │
                                                                        │group    1001                                 │
                                                                        │cgroup   4242                                 │
                                                                        │parents  bash 812 ← sshd 400 ← init 1         │
                                                                        │events   2                                    │
                                                                        │12:16:39.000000 fork         pid=950 ppid=812 │
                                                                        │comm=bash                                     │
                                                                        │12:16:39.001000 exec         pid=950 ppid=812 │
                                                                        │uid=1001 comm='\e]52;c;\a\r\n\u{9b}\u{202e}'  │
                                                                        │file='/tmp/\e]52;c;aGk=\a\u{202e}' argv:      │
                                                                        │'\e]52;c;aGk=\a' '\nexit pid=1 comm=init'     │
                                                                        │'\u{9b}2J'                                    │
                                                                        └──────────────────────────────────────────────┘
┌ Events ──────────────────────────────────────────────────────────────────────────────────────────────────────────────┐
│12:16:39.000000 fork         pid=950 ppid=812 comm=bash                                                               │
│12:16:39.001000 exec         pid=950 ppid=812 uid=1001 comm='\e]52;c;\a\r\n\u{9b}\u{202e}' file='/tmp/\e]52;c;aGk=\a\u│
│                                                                                                                      │
│                                                                                                                      │
│                                                                                                                      │
│                                                                                                                      │
│                                                                                                                      │
└──────────────────────────────────────────────────────────────────────────────────────────────────────────────────────┘
eBPF │ 7 processes │ 0 lost │           █          0/s │ ? help
",
    );
}

#[test]
fn the_pins_pane_shows_a_hostile_root_and_its_log_escaped() {
    let mut app = hostile_machine();
    key(&mut app, KeyCode::End);
    key(&mut app, KeyCode::Up);
    assert_eq!(app.selected(), Some(HOSTILE.key()));
    key(&mut app, KeyCode::Char('p'));
    key(&mut app, KeyCode::Char('P'));
    update(
        &mut app,
        AppEvent::Events(vec![HOSTILE.exit(999_500, COMM, ExitStatus::Code(0))]),
    );
    assert_screen(
        &screen(&mut app, 120, 16),
        r"
    PID USER        AGE COMMAND
      1 root     16m39s /sbin/init
    400 root     16m30s ├─ /usr/sbin/sshd -D
    812 alice     8m20s │  └─ -bash
    950 \e[2Jmal  500ms │     └─ [pin] [exit 0] \e]52;c;aGk=\a \nexit pid=1 comm=init \u{9b}2J
    500 root     16m20s └─ /usr/sbin/cron -f



┌ Pins ────────────────────────────────────────────────────────────────────────────────────────────────────────────────┐
│    950 [exit 0] \e]52;c;aGk=\a \nexit pid=1 comm=init \u{9b}2J                        0 alive, 1 exited · every event│
│totals: 0 started, 1 ended (1 exit 0), 0 alive; CPU 0.00s (not counting 1 processes never sampled); peak memory 0K    │
│pin 950 logged 1 event                                                                                                │
│12:16:39.500000 exit         pid=950 ppid=812 comm='\e]52;c;\a\r\n\u{9b}\u{202e}' exit_code=0 run=500.0ms             │
└ ↑↓ pick · x remove · m mask · r relay · Enter root · Esc tree ───────────────────────────────────────────────────────┘
eBPF │ 6 processes, 1 exited │ 0 lost │           █          0/s │ 1 pin │ ? help
",
    );
}

/// A relay target, a real process: a copy of sleep whose file name is [`COMM`], so that
/// the kernel names it so; the relay reads the name from /proc. Sleep does not handle the
/// signal: the rule's warning names it too.
#[tokio::test]
async fn the_relays_pane_names_a_hostile_target_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(COMM);
    std::fs::copy("/bin/sleep", &path).unwrap();
    let mut target = std::process::Command::new(&path).arg("60").spawn().unwrap();
    let pid = target.id();
    let mut app = hostile_machine();
    let added = app.add_relay(format!("to={pid}:kinds=exit").parse().unwrap());
    key(&mut app, KeyCode::Char('R'));
    let shown = screen(&mut app, 200, 10);
    target.kill().unwrap();
    target.wait().unwrap();
    added.unwrap();
    for line in [
        format!("│  pid {pid} ({COMM_SHOWN}): 0 sent, 0 undelivered "),
        format!("relay 1: target pid {pid} ({COMM_SHOWN}) neither blocks nor"),
    ] {
        assert!(shown.contains(&line), "no `{line}` in\n{shown}");
    }
}

#[test]
fn a_recording_names_its_host_kernel_and_backend_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hostile.fwrec");
    let info = Info {
        host: "evil\x1b]52;c;aGk=\x07".into(),
        kernel: "6.18\r\nexit pid=1".into(),
        backend: "procfs\u{202e}".into(),
        wall_clock_offset_ns: noon_clock().offset_ns() as i64,
        start_ns: 990 * S,
        recorder: "test".into(),
        hosts: Vec::new(),
    };
    let mut writer =
        Writer::new(File::create(&path).unwrap(), &info, &machine_processes()).unwrap();
    writer.finish(1_000 * S).unwrap();
    let replay = Replay::open(&path).unwrap();
    let mut app = classic(crate::ui::replay::start(
        "hostile.fwrec",
        &replay,
        false,
        users(),
        Default::default(),
    ));
    app.notice(format!("{COMM} said \u{9b}2J"));
    assert_screen(
        &screen(&mut app, 170, 9),
        r"
\e]52;c;\a\r\n\u{9b}\u{202e} said \u{9b}2J
Esc hides this
    PID USER        AGE COMMAND
      1 root     16m29s /sbin/init
    400 root     16m20s ├─ /usr/sbin/sshd -D
    812 alice     8m10s │  └─ -bash
    500 root     16m10s └─ /usr/sbin/cron -f

replay (procfs\u{202e}) │ ▶ 1x 12:16:30.000 │ 6 processes │ 0 lost │ 0/s │ recorded on evil\e]52;c;aGk=\a (Linux 6.18\r\nexit pid=1) with procfs\u{202e} at 12:16:30
",
    );
}

#[test]
fn typed_text_is_shown_escaped_in_the_prompt_and_the_status_line() {
    let mut app = hostile_machine();
    key(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "zz\u{9b}\u{202e}");
    assert_screen(
        &screen(&mut app, 80, 12),
        r"
    PID USER        AGE COMMAND
      1 root     16m39s /sbin/init
    400 root     16m30s ├─ /usr/sbin/sshd -D
    812 alice     8m20s │  └─ -bash
    950 \e[2Jmal     1s │     └─ \e]52;c;aGk=\a \nexit pid=1 comm=init \u{9b}2J
    500 root     16m20s └─ /usr/sbin/cron -f





/zz\u{9b}\u{202e}█   Enter keeps, Esc cancels
",
    );
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('f'));
    key(&mut app, KeyCode::Char('n'));
    assert_screen(
        &screen(&mut app, 100, 4),
        r"
    PID USER        AGE COMMAND
no process matches the filter (f shows all)

eBPF │ 7 processes │ 0 lost │ 0/s │ filter `zz\u{9b}\u{202e}` │ no match for `zz\u{9b}\u{202e}`
",
    );
}

/// What a search finds is what the screen shows: the escapes typed as shown find the
/// process by its argv or its name, in any case, and the raw characters are not in what
/// is searched.
#[test]
fn searching_for_the_escaped_text_as_shown_finds_the_process() {
    for (typed, finds) in [
        (r"\e]52;C;aGk=\a \nEXIT", true),
        (r"\u{9b}2j", true),
        // Only in its name.
        (r"\a\r\n\u{9b}\u{202e}", true),
        ("\u{202e}", false),
        ("\x1b]52", false),
    ] {
        let mut app = hostile_machine();
        key(&mut app, KeyCode::Char('/'));
        type_text(&mut app, typed);
        key(&mut app, KeyCode::Enter);
        let found = app.selected() == Some(HOSTILE.key());
        assert_eq!(found, finds, "{typed:?}");
    }
    let mut app = hostile_machine();
    key(&mut app, KeyCode::Char('f'));
    type_text(&mut app, r"\n\u{9b}");
    key(&mut app, KeyCode::Enter);
    assert_screen(
        &screen(&mut app, 100, 6),
        r"
    PID USER        AGE COMMAND
      1 root     16m39s /sbin/init
    400 root     16m30s └─ /usr/sbin/sshd -D
    812 alice     8m20s    └─ -bash
    950 \e[2Jmal     1s       └─ \e]52;c;aGk=\a \nexit pid=1 comm=init \u{9b}2J
eBPF │ 7 processes │ 0 lost │           █          0/s │ filter `\n\u{9b}` │ ? help
",
    );
}

#[test]
fn the_signal_and_user_dialogs_show_a_hostile_process_and_user_escaped() {
    let mut app = hostile_machine();
    key(&mut app, KeyCode::End);
    key(&mut app, KeyCode::Up);
    assert_eq!(app.selected(), Some(HOSTILE.key()));
    key(&mut app, KeyCode::Char('k'));
    key(&mut app, KeyCode::Enter);
    let shown = screen(&mut app, 120, 20);
    assert!(
        shown.contains(r"│ Send SIGTERM (15) to pid 950 (\e]52;c;aGk=\a \nexit pid=1 ")
            && shown.contains(r"│ comm=init \u{9b}2J)? "),
        "{shown}"
    );
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char('u'));
    let shown = screen(&mut app, 120, 20);
    assert!(
        shown.contains(r"\e[2Jmallory (uid 1001): 1 process "),
        "{shown}"
    );
    assert!(!shown.contains('\x1b'), "{shown}");
}

#[test]
fn the_timeline_shows_a_hostile_process_escaped_also_once_it_left_the_tree() {
    let mut app = hostile_machine();
    key(&mut app, KeyCode::End);
    key(&mut app, KeyCode::Up);
    assert_eq!(app.selected(), Some(HOSTILE.key()));
    key(&mut app, KeyCode::Char('T'));
    let shown = r"\e]52;c;aGk=\a \nexit pid=1 com ";
    let timeline = screen(&mut app, 140, 20);
    assert!(
        timeline.contains(&format!("│    950 {shown}")),
        "{timeline}"
    );
    update(
        &mut app,
        AppEvent::Events(vec![HOSTILE.exit(999_500, COMM, ExitStatus::Code(0))]),
    );
    update(&mut app, AppEvent::Tick(1_030 * S));
    let timeline = screen(&mut app, 140, 20);
    assert!(!app.model().in_tree(HOSTILE.key()), "it left the tree");
    // Ended, it is its subtree's critical path: marked.
    assert!(
        timeline.contains(&format!("│    950»{shown}")),
        "{timeline}"
    );
    assert!(!timeline.contains(['\x1b', '\x07', '\u{9b}', '\u{202e}']));
}

/// Times a crafted recording can hold, near the end of u64: the timeline still draws, at
/// every size, and a click on its axis does not overflow.
#[test]
fn the_timeline_of_a_process_at_the_end_of_time_draws() {
    let mut app = hostile_machine();
    key(&mut app, KeyCode::End);
    key(&mut app, KeyCode::Up);
    assert_eq!(app.selected(), Some(HOSTILE.key()));
    key(&mut app, KeyCode::Char('T'));
    let last_ms = u64::MAX / MS - 1;
    let late = P {
        pid: 951,
        ppid: HOSTILE.pid,
        start_ms: last_ms - 1,
        uid: 1001,
    };
    update(
        &mut app,
        AppEvent::Events(late.start(COMM, &["late"]).to_vec()),
    );
    update(&mut app, AppEvent::Tick(u64::MAX));
    for (width, height) in [(140, 20), (1, 2), (3, 4), (40, 8)] {
        screen(&mut app, width, height);
    }
    let timeline = screen(&mut app, 140, 20);
    assert!(timeline.contains("951"), "{timeline}");
    let axis = timeline.lines().position(|l| l.contains('|')).unwrap_or(18) as u16;
    for x in [1, 60, 138] {
        mouse(&mut app, MouseEventKind::Down(MouseButton::Left), x, axis);
    }
}
