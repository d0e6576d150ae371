//! Screens of the UI for a fixed machine and a fixed sequence of events, fed through
//! `update` and drawn on ratatui's `TestBackend` at fixed sizes and times.

use crossterm::event::{
    Event as Input, KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::{
    Terminal,
    backend::TestBackend,
    buffer::Buffer,
    style::{Color, Modifier},
};

use super::{
    app::App,
    feed::SourceInfo,
    message::{AppEvent, Request},
    runtime::{draw, step},
    users::Users,
};
use crate::{
    clock::WallClock,
    event::{Argv, CgroupPath, Comm, Creds, Event, ExitStatus, Kind, PidNamespace, ProcessKey},
    proc::snapshot::ProcessInfo,
    tracker::model::Model,
};

const MS: u64 = 1_000_000;
const S: u64 = 1_000 * MS;

/// Times of day in these screens do not depend on the machine's time zone: boot time 0
/// is 12:00:00 local time.
fn noon_clock() -> WallClock {
    // 2026-01-15 12:00:00 UTC, far from any daylight saving change.
    let t: libc::time_t = 1_768_478_400;
    // SAFETY: localtime_r writes into `tm`, which is valid and ours.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    unsafe { libc::localtime_r(&t, &mut tm) };
    WallClock::with_offset((t as i128 - tm.tm_gmtoff as i128) * S as i128)
}

fn users() -> Users {
    Users::with_lookup(|uid| match uid {
        0 => Some("root".to_owned()),
        1000 => Some("alice".to_owned()),
        _ => None,
    })
}

fn creds(uid: u32) -> Creds {
    Creds {
        uid,
        euid: uid,
        gid: uid,
        egid: uid,
    }
}

fn info(pid: u32, ppid: u32, start_s: u64, comm: &str, argv: &[&str], uid: u32) -> ProcessInfo {
    ProcessInfo {
        pid,
        ppid,
        start_ns: start_s * S,
        comm: Comm::from(comm),
        argv: Argv::from_args(argv),
        argv_truncated: false,
        creds: creds(uid),
        state: 'S',
        kernel_thread: argv.is_empty(),
        threads: 1,
        pid_ns: None,
        cgroup: None,
        sampled: None,
    }
}

/// A process as the events describe it: pid, parent, start time (ms), uid.
#[derive(Clone, Copy)]
struct P {
    pid: u32,
    ppid: u32,
    start_ms: u64,
    uid: u32,
}

impl P {
    fn key(self) -> ProcessKey {
        ProcessKey::new(self.pid, self.start_ms * MS)
    }

    fn event(self, ts_ms: u64, comm: &str, kind: Kind) -> Event {
        Event {
            ts_ns: ts_ms * MS,
            pid: self.pid,
            tid: self.pid,
            ppid: self.ppid,
            start_ns: self.start_ms * MS,
            comm: Comm::from(comm),
            creds: Some(creds(self.uid)),
            cgroup_id: Some(4242),
            pid_ns: None,
            cgroup: None,
            kernel_thread: false,
            kind,
        }
    }

    /// Its fork (named after the parent `parent_comm`) and its exec of `argv`.
    fn start(self, parent_comm: &str, argv: &[&str]) -> [Event; 2] {
        [
            self.event(self.start_ms, parent_comm, Kind::Fork),
            self.event(
                self.start_ms + 1,
                argv[0],
                Kind::Exec {
                    filename: format!("/usr/bin/{}", argv[0]).into(),
                    argv: Argv::from_args(argv),
                    argv_truncated: false,
                    filename_truncated: false,
                    argv_unreadable: false,
                },
            ),
        ]
    }

    fn exit(self, ts_ms: u64, comm: &str, status: ExitStatus) -> Event {
        self.event(ts_ms, comm, Kind::Exit(status, None))
    }
}

const MAKE: P = P {
    pid: 900,
    ppid: 812,
    start_ms: 990_000,
    uid: 1000,
};
const CC_MAIN: P = P {
    pid: 901,
    ppid: 900,
    start_ms: 995_000,
    uid: 1000,
};
const CC_UTIL: P = P {
    pid: 902,
    ppid: 900,
    start_ms: 996_000,
    uid: 1000,
};
const LD: P = P {
    pid: 903,
    ppid: 900,
    start_ms: 999_500,
    uid: 1000,
};

/// The machine before the make: init, kernel threads, sshd with alice's shell, cron.
fn machine_processes() -> Vec<ProcessInfo> {
    vec![
        info(1, 0, 1, "init", &["/sbin/init"], 0),
        info(2, 0, 1, "kthreadd", &[], 0),
        info(3, 2, 1, "kworker/0:1", &[], 0),
        info(400, 1, 10, "sshd", &["/usr/sbin/sshd", "-D"], 0),
        info(500, 1, 20, "cron", &["/usr/sbin/cron", "-f"], 0),
        info(812, 400, 500, "bash", &["-bash"], 1000),
    ]
}

/// A `make -j2` in alice's shell whose first compiler exits 0, whose second is killed,
/// and whose linker starts at 999.5 s.
fn make_events() -> Vec<Event> {
    let mut events = Vec::new();
    events.extend(MAKE.start("bash", &["make", "-j2"]));
    events.extend(CC_MAIN.start("make", &["cc", "-c", "main.c"]));
    events.extend(CC_UTIL.start("make", &["cc", "-c", "util.c"]));
    events.push(CC_MAIN.exit(997_000, "cc", ExitStatus::Code(0)));
    events.push(CC_UTIL.exit(
        998_000,
        "cc",
        ExitStatus::Signal {
            signal: 9,
            core_dumped: false,
        },
    ));
    events.extend(LD.start("make", &["ld", "-o", "app", "main.o", "util.o"]));
    events
}

/// `app` with the columns these screens were drawn with before the resource columns
/// came: what they test is elsewhere on the line, and their processes have no samples.
/// The resource columns' screens are in `resources`.
fn classic(mut app: App) -> App {
    use super::look::Column;
    app.tree.look.columns = vec![Column::Pid, Column::User, Column::Age, Column::Command];
    app
}

/// The machine during the make, when the linker has just started: 1000 s after boot.
fn machine() -> App {
    let mut model = Model::default();
    model.seed(&machine_processes());
    let mut app = classic(App::new(
        model,
        SourceInfo {
            name: "eBPF".into(),
            ..SourceInfo::default()
        },
        noon_clock(),
        990 * S,
        users(),
    ));
    update(&mut app, AppEvent::Events(make_events()));
    update(&mut app, AppEvent::Tick(1_000 * S));
    app
}

/// What the loop does with each message: [`super::update`], then at once what it asked
/// that does not wait (relay signals, opening relay targets).
fn update(app: &mut App, event: AppEvent) {
    step(app, event);
}

fn key(app: &mut App, code: KeyCode) {
    let modifiers = match code {
        KeyCode::Char(c) if c.is_ascii_uppercase() => KeyModifiers::SHIFT,
        _ => KeyModifiers::NONE,
    };
    update(
        app,
        AppEvent::Input(Input::Key(KeyEvent::new(code, modifiers))),
    );
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn mouse(app: &mut App, kind: MouseEventKind, column: u16, row: u16) {
    let event = MouseEvent {
        kind,
        column,
        row,
        modifiers: KeyModifiers::NONE,
    };
    update(app, AppEvent::Input(Input::Mouse(event)));
}

/// Draws `app` as the loop does and returns the buffer.
fn draw_at(app: &mut App, width: u16, height: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    draw(&mut terminal, app).unwrap();
    terminal.backend().buffer().clone()
}

/// The buffer's text, one line per row, without trailing blanks.
fn text(buf: &Buffer) -> String {
    let area = buf.area;
    let mut out = String::new();
    for y in 0..area.height {
        let line: String = (0..area.width)
            .map(|x| buf[(x, y)].symbol())
            .collect::<String>();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn screen(app: &mut App, width: u16, height: u16) -> String {
    text(&draw_at(app, width, height))
}

/// Compares screens line by line, showing the whole screen drawn when they differ.
#[track_caller]
fn assert_screen(actual: &str, expected: &str) {
    let expected = expected.strip_prefix('\n').unwrap_or(expected);
    if actual != expected {
        panic!("the screen drawn:\n{actual}\n---- expected:\n{expected}\n----");
    }
}

/// Where `needle` is on the screen: (column, row) of its first cell.
fn find(buf: &Buffer, needle: &str) -> (u16, u16) {
    for y in 0..buf.area.height {
        let mut line = String::new();
        let mut columns = Vec::new();
        for x in 0..buf.area.width {
            let symbol = buf[(x, y)].symbol();
            for _ in symbol.chars() {
                columns.push(x);
            }
            line.push_str(symbol);
        }
        if let Some(at) = line.find(needle) {
            let chars = line[..at].chars().count();
            return (columns[chars], y);
        }
    }
    panic!("`{needle}` is not on the screen:\n{}", text(buf));
}

/// The style of the cell where `needle` starts.
fn style_at(buf: &Buffer, needle: &str) -> ratatui::style::Style {
    buf[find(buf, needle)].style()
}

#[test]
fn tree_with_guides_users_ages_and_how_processes_ended() {
    let mut app = machine();
    let buf = draw_at(&mut app, 80, 12);
    assert_screen(
        &text(&buf),
        r"
    PID USER        AGE COMMAND
      1 root     16m39s /sbin/init
    400 root     16m30s ├─ /usr/sbin/sshd -D
    812 alice     8m20s │  └─ -bash
    900 alice       10s │     └─ make -j2
    901 alice      2.0s │        ├─ [exit 0] cc -c main.c
    902 alice      2.0s │        ├─ [SIGKILL] cc -c util.c
    903 alice        0s │        └─ ld -o app main.o util.o
    500 root     16m20s └─ /usr/sbin/cron -f


eBPF │ 8 processes, 2 exited │ 0 lost │           █          0/s │ ? help
",
    );
    // init is selected at start.
    assert_eq!(app.selected(), Some(ProcessKey::new(1, S)));
    assert_eq!(style_at(&buf, "/sbin/init").bg, Some(Color::Cyan));
    // The linker started half a second ago: highlighted.
    let ld = style_at(&buf, "ld -o app");
    assert_eq!(ld.fg, Some(Color::Green));
    assert!(ld.add_modifier.contains(Modifier::BOLD));
    // make started 10 s ago: plain.
    assert_eq!(style_at(&buf, "make -j2").fg, Some(Color::Reset));
}

#[test]
fn kernel_threads_are_shown_on_k() {
    let mut app = machine();
    key(&mut app, KeyCode::Char('K'));
    assert_screen(
        &screen(&mut app, 80, 14),
        r"
    PID USER        AGE COMMAND
      1 root     16m39s /sbin/init
    400 root     16m30s ├─ /usr/sbin/sshd -D
    812 alice     8m20s │  └─ -bash
    900 alice       10s │     └─ make -j2
    901 alice      2.0s │        ├─ [exit 0] cc -c main.c
    902 alice      2.0s │        ├─ [SIGKILL] cc -c util.c
    903 alice        0s │        └─ ld -o app main.o util.o
    500 root     16m20s └─ /usr/sbin/cron -f
      2 root     16m39s [kthreadd]
      3 root     16m39s └─ [kworker/0:1]


eBPF │ 8 processes, 2 exited │ 0 lost │ 0/s │ kernel threads shown
",
    );
    key(&mut app, KeyCode::Char('K'));
    assert!(!screen(&mut app, 80, 14).contains("kworker"));
}

#[test]
fn fold_and_unfold() {
    let mut app = machine();
    // Down to bash, fold it: its subtree is hidden and marked with `+`, and how many live
    // processes it hides (make and ld).
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Enter);
    assert_screen(
        &screen(&mut app, 80, 8),
        r"
    PID USER        AGE COMMAND
      1 root     16m39s /sbin/init
    400 root     16m30s ├─ /usr/sbin/sshd -D
    812 alice     8m20s │  └+ [+2] -bash
    500 root     16m20s └─ /usr/sbin/cron -f


eBPF │ 8 processes, 2 exited │ 0 lost │           █          0/s │ ? help
",
    );
    // Enter unfolds.
    key(&mut app, KeyCode::Enter);
    assert!(screen(&mut app, 80, 12).contains("└─ make -j2"));
    // Left folds, and on a folded process goes to its parent; Right unfolds.
    key(&mut app, KeyCode::Left);
    assert!(screen(&mut app, 80, 12).contains("└+ [+2] -bash"));
    key(&mut app, KeyCode::Char('h'));
    assert_eq!(app.selected(), Some(ProcessKey::new(400, 10 * S)));
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Right);
    assert!(screen(&mut app, 80, 12).contains("└─ make -j2"));
}

#[test]
fn search_jumps_to_matches_and_highlights_them() {
    let mut app = machine();
    key(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "CC -");
    // While typing: the prompt, and the first match selected.
    let buf = draw_at(&mut app, 80, 12);
    assert_screen(
        &text(&buf),
        r"
    PID USER        AGE COMMAND
      1 root     16m39s /sbin/init
    400 root     16m30s ├─ /usr/sbin/sshd -D
    812 alice     8m20s │  └─ -bash
    900 alice       10s │     └─ make -j2
    901 alice      2.0s │        ├─ [exit 0] cc -c main.c
    902 alice      2.0s │        ├─ [SIGKILL] cc -c util.c
    903 alice        0s │        └─ ld -o app main.o util.o
    500 root     16m20s └─ /usr/sbin/cron -f


/CC -█   Enter keeps, Esc cancels
",
    );
    assert_eq!(app.selected(), Some(CC_MAIN.key()));
    key(&mut app, KeyCode::Enter);
    let buf = draw_at(&mut app, 80, 12);
    assert!(text(&buf).ends_with("? help\n"), "the prompt is gone");
    // Matches stand out; other rows do not.
    assert_eq!(style_at(&buf, "cc -c util.c").fg, Some(Color::Yellow));
    assert_eq!(style_at(&buf, "ld -o app").fg, Some(Color::Green));
    // n and N go through the matches, wrapping around.
    key(&mut app, KeyCode::Char('n'));
    assert_eq!(app.selected(), Some(CC_UTIL.key()));
    key(&mut app, KeyCode::Char('n'));
    assert_eq!(app.selected(), Some(CC_MAIN.key()));
    key(&mut app, KeyCode::Char('N'));
    assert_eq!(app.selected(), Some(CC_UTIL.key()));
    // A search that finds nothing says so and stays where it was.
    key(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "nothing-like-this");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.selected(), Some(CC_UTIL.key()));
    key(&mut app, KeyCode::Char('n'));
    assert!(screen(&mut app, 80, 12).contains("no match for `nothing-like-this`"));
    // Esc in the prompt puts the previous search back.
    key(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "cron");
    assert_eq!(app.selected(), Some(ProcessKey::new(500, 20 * S)));
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.selected(), Some(CC_UTIL.key()));
}

#[test]
fn filter_shows_matches_and_their_ancestors() {
    let mut app = machine();
    key(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "util");
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('f'));
    let buf = draw_at(&mut app, 80, 9);
    assert_screen(
        &text(&buf),
        r"
    PID USER        AGE COMMAND
      1 root     16m39s /sbin/init
    400 root     16m30s └─ /usr/sbin/sshd -D
    812 alice     8m20s    └─ -bash
    900 alice       10s       └─ make -j2
    902 alice      2.0s          ├─ [SIGKILL] cc -c util.c
    903 alice        0s          └─ ld -o app main.o util.o

eBPF │ 8 processes, 2 exited │ 0 lost │ 0/s │ filter `util` │ ? help
",
    );
    // Ancestors shown only for the match are grey.
    assert_eq!(style_at(&buf, "make -j2").fg, Some(Color::DarkGray));
    // f again shows everything.
    key(&mut app, KeyCode::Char('f'));
    assert!(screen(&mut app, 80, 12).contains("cron -f"));
    // Without a search, f asks for the text and filters as it is typed.
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char('f'));
    type_text(&mut app, "zz");
    assert!(screen(&mut app, 80, 6).contains("no process matches the filter (f shows all)"));
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Backspace);
    type_text(&mut app, "cron");
    assert_screen(
        &screen(&mut app, 80, 6),
        r"
    PID USER        AGE COMMAND
      1 root     16m39s /sbin/init
    500 root     16m20s └─ /usr/sbin/cron -f


filter: cron█   Enter keeps, Esc cancels
",
    );
    key(&mut app, KeyCode::Enter);
    type_text(&mut app, "f");
    assert!(screen(&mut app, 80, 12).contains("make -j2"));
}

/// A process in a container: another PID namespace, a cgroup whose name holds an escape.
#[test]
fn details_show_the_namespace_pid_and_the_cgroup_path_escaped() {
    let mut app = machine();
    let nginx = P {
        pid: 950,
        ppid: 812,
        start_ms: 999_600,
        uid: 0,
    };
    let events = nginx
        .start("bash", &["nginx", "-g", "daemon off;"])
        .map(|e| Event {
            pid_ns: Some(PidNamespace {
                inode: 4026532999,
                pid: 12,
            }),
            cgroup: Some(CgroupPath::new(b"/ctr/\x1b[2J.scope")),
            ..e
        });
    update(&mut app, AppEvent::Events(events.to_vec()));
    key(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "nginx");
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('d'));
    let shown = screen(&mut app, 130, 34);
    for line in [
        "│nginx  pid 950 (12 in its namespace)  ppid 812",
        "│pid ns   4026532999",
        r"│cgroup   /ctr/\e[2J.scope (id 4242)",
        "exec         pid=950 ns_pid=12",
    ] {
        assert!(shown.contains(line), "no {line:?} in\n{shown}");
    }
}

/// A model seeded from /proc while a process runs in `cgroup` and a PID namespace of its
/// own, `unshare` with the marker `marker` in its argv and its child: the model, the
/// child's pid, and the running processes, to be finished by the caller.
fn seeded_with_contained(
    cgroup: &contained::Cgroup,
    marker: &str,
) -> (Model, u32, contained::Contained) {
    let contained = contained::Contained::start(cgroup, marker);
    let guard = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let inner = loop {
        assert!(
            std::time::Instant::now() < guard,
            "the contained process shows"
        );
        let found = crate::proc::snapshot::take()
            .unwrap()
            .into_iter()
            .find(|p| {
                p.ppid == contained.outer() && p.argv.to_strings().iter().any(|a| a == marker)
            });
        match found {
            Some(p) if p.pid_ns.is_some_and(|ns| ns.pid == 1) => break p.pid,
            _ => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    };
    let mut model = Model::default();
    model.seed(&crate::proc::snapshot::take().unwrap());
    (model, inner, contained)
}

/// The same from the real kernel: a process in a new PID namespace and a fresh cgroup, as
/// the /proc snapshot that seeds the tree shows it.
#[test]
fn details_of_a_real_contained_process() {
    use contained::{Cgroup, pid_namespace_inode};
    let root = crate::source::cgroups::cgroup2_mount().expect("cgroup v2 is mounted here");
    let cgroup = Cgroup::new(&root, "ui");
    let marker = format!("fw-ui-{}", std::process::id());
    let (model, inner, contained) = seeded_with_contained(&cgroup, &marker);
    let inode = pid_namespace_inode(inner);
    contained.finish();
    let now = crate::clock::boottime_ns();
    let mut app = classic(App::new(
        model,
        SourceInfo::default(),
        noon_clock(),
        now,
        users(),
    ));
    key(&mut app, KeyCode::Char('/'));
    type_text(&mut app, &marker);
    key(&mut app, KeyCode::Enter);
    // The first match is `unshare`, which passed the marker on; the next its child.
    key(&mut app, KeyCode::Char('n'));
    key(&mut app, KeyCode::Char('d'));
    let shown = screen(&mut app, 200, 50);
    for line in [
        format!("pid {inner} (1 in its namespace)"),
        format!("│pid ns   {inode}"),
        format!(
            "│cgroup   {}",
            crate::text::escape(cgroup.path().as_bytes())
        ),
    ] {
        assert!(shown.contains(&line), "no {line:?} in\n{shown}");
    }
}

#[test]
fn details_pane() {
    let mut app = machine();
    key(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "util");
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('d'));
    // Narrow: below the tree.
    assert_screen(
        &screen(&mut app, 80, 32),
        r"
    PID USER        AGE COMMAND
      1 root     16m39s /sbin/init
    400 root     16m30s ├─ /usr/sbin/sshd -D
    812 alice     8m20s │  └─ -bash
    900 alice       10s │     └─ make -j2
    901 alice      2.0s │        ├─ [exit 0] cc -c main.c
    902 alice      2.0s │        ├─ [SIGKILL] cc -c util.c
    903 alice        0s │        └─ ld -o app main.o util.o
    500 root     16m20s └─ /usr/sbin/cron -f







┌ Details ─────────────────────────────────────────────────────────────────────┐
│cc  pid 902  ppid 900                                                         │
│state    exited after 2.0s: killed by SIGKILL                                 │
│argv     cc -c util.c                                                         │
│file     /usr/bin/cc                                                          │
│started  12:16:36.000000                                                      │
│user     1000 alice                                                           │
│group    1000                                                                 │
│cgroup   4242                                                                 │
│parents  make 900 ← bash 812 ← sshd 400 ← init 1                              │
│events   3                                                                    │
│12:16:36.000000 fork         pid=902 ppid=900 comm=make                       │
│12:16:36.001000 exec         pid=902 ppid=900 uid=1000 comm=cc                │
│file=/usr/bin/cc argv: cc -c util.c                                           │
└──────────────────────────────────────────────────────────────────────────────┘
eBPF │ 8 processes, 2 exited │ 0 lost │           █          0/s │ ? help
",
    );
    // Wide: beside it.
    assert_screen(
        &screen(&mut app, 120, 22),
        r"
    PID USER        AGE COMMAND                                         ┌ Details ─────────────────────────────────────┐
      1 root     16m39s /sbin/init                                      │cc  pid 902  ppid 900                         │
    400 root     16m30s ├─ /usr/sbin/sshd -D                            │state    exited after 2.0s: killed by SIGKILL │
    812 alice     8m20s │  └─ -bash                                     │argv     cc -c util.c                         │
    900 alice       10s │     └─ make -j2                               │file     /usr/bin/cc                          │
    901 alice      2.0s │        ├─ [exit 0] cc -c main.c               │started  12:16:36.000000                      │
    902 alice      2.0s │        ├─ [SIGKILL] cc -c util.c              │user     1000 alice                           │
    903 alice        0s │        └─ ld -o app main.o util.o             │group    1000                                 │
    500 root     16m20s └─ /usr/sbin/cron -f                            │cgroup   4242                                 │
                                                                        │parents  make 900 ← bash 812 ← sshd 400 ←     │
                                                                        │         init 1                               │
                                                                        │events   3                                    │
                                                                        │12:16:36.000000 fork         pid=902 ppid=900 │
                                                                        │comm=make                                     │
                                                                        │12:16:36.001000 exec         pid=902 ppid=900 │
                                                                        │uid=1000 comm=cc file=/usr/bin/cc argv: cc -c │
                                                                        │util.c                                        │
                                                                        │12:16:38.000000 exit         pid=902 ppid=900 │
                                                                        │comm=cc signal=9(SIGKILL) run=2.0s            │
                                                                        │                                              │
                                                                        └──────────────────────────────────────────────┘
eBPF │ 8 processes, 2 exited │ 0 lost │           █          0/s │ ? help
",
    );
    // Tab closes it.
    key(&mut app, KeyCode::Tab);
    assert!(!screen(&mut app, 120, 16).contains("Details"));
}

#[test]
fn help_lists_the_keys() {
    let mut app = machine();
    key(&mut app, KeyCode::Char('?'));
    assert_screen(
        &screen(&mut app, 80, 44),
        r"
    PID USER        AGE COMMAND
      1 root     16m39s /sbin/init
    400 ┌ Keys ────────────────────────────────────────────────────────┐
    812 │ ↑           move up                                          │
    900 │ ↓ j         move down                                        │
    901 │ PgUp        page up                                          │
    902 │ PgDn        page down                                        │
    903 │ Home g      first process                                    │
    500 │ End G       last process                                     │
        │ Enter       fold or unfold the subtree                       │
        │ ← h         fold, or go to the parent                        │
        │ → l         unfold                                           │
        │ / F3        search names and argv                            │
        │ n           next match                                       │
        │ N           previous match                                   │
        │ f           filter to matches and their parents (again: all) │
        │ \ F4        type a filter (empty: all)                       │
        │ u           one user's processes, or all                     │
        │ F5          tree or flat list                                │
        │ > F6        sort by the next: pid, CPU, memory, age, name    │
        │ <           sort by the previous one                         │
        │ I           invert the sort                                  │
        │ C F2        choose and order the columns                     │
        │ Space       tag or untag the process                         │
        │ U           untag all                                        │
        │ k F9        send a signal (to the tagged ones)               │
        │ K           show or hide kernel threads                      │
        │ d Tab       details of the selected process                  │
        │ e           event log                                        │
        │ p           pin or unpin the subtree (the tagged ones')      │
        │ P           pins pane, with the keys (again: hide it)        │
        │ m           events the pin logs                              │
        │ v           only pinned subtrees (again: all)                │
        │ r           relay events of the process or pin as signals    │
        │ R           relays pane, with the keys (again: hide it)      │
        │ T           timeline, with the keys: + - zoom, ← → pan       │
        │ ? F1        this help                                        │
        │ Esc         hide the banner, end the search                  │
        │ q F10       quit (Ctrl-C too)                                │
        │ mouse       click selects, wheel scrolls                     │
        └ any key closes ──────────────────────────────────────────────┘


eBPF │ 8 processes, 2 exited │ 0 lost │           █          0/s │ ? help
",
    );
    // Any key closes it, and does nothing else.
    key(&mut app, KeyCode::Char('q'));
    assert!(!app.should_quit());
    assert!(!screen(&mut app, 80, 32).contains("Keys"));
}

#[test]
fn event_log_pane() {
    let mut app = machine();
    key(&mut app, KeyCode::Char('e'));
    assert_screen(
        &screen(&mut app, 100, 20),
        r"
    PID USER        AGE COMMAND
      1 root     16m39s /sbin/init
    400 root     16m30s ├─ /usr/sbin/sshd -D
    812 alice     8m20s │  └─ -bash
    900 alice       10s │     └─ make -j2
    901 alice      2.0s │        ├─ [exit 0] cc -c main.c
    902 alice      2.0s │        ├─ [SIGKILL] cc -c util.c
    903 alice        0s │        └─ ld -o app main.o util.o
    500 root     16m20s └─ /usr/sbin/cron -f




┌ Events ──────────────────────────────────────────────────────────────────────────────────────────┐
│12:16:37.000000 exit         pid=901 ppid=900 comm=cc exit_code=0 run=2.0s                        │
│12:16:38.000000 exit         pid=902 ppid=900 comm=cc signal=9(SIGKILL) run=2.0s                  │
│12:16:39.500000 fork         pid=903 ppid=900 comm=make                                           │
│12:16:39.501000 exec         pid=903 ppid=900 uid=1000 comm=ld file=/usr/bin/ld argv: ld -o app ma│
└──────────────────────────────────────────────────────────────────────────────────────────────────┘
eBPF │ 8 processes, 2 exited │ 0 lost │           █          0/s │ ? help
",
    );
}

#[test]
fn narrow_terminals_drop_columns_before_the_command() {
    let mut app = machine();
    assert_screen(
        &screen(&mut app, 50, 6),
        r"
    PID    AGE COMMAND
      1 16m39s /sbin/init
    400 16m30s ├─ /usr/sbin/sshd -D
    812  8m20s │  └─ -bash
    900    10s │     └─ make -j2
eBPF │ 8 processes, 2 exited │ 0 lost │ 0/s │ ? he
",
    );
    assert_screen(
        &screen(&mut app, 30, 6),
        r"
    PID COMMAND
      1 /sbin/init
    400 ├─ /usr/sbin/sshd -D
    812 │  └─ -bash
    900 │     └─ make -j2
eBPF │ 8 processes, 2 exited │
",
    );
    assert_screen(
        &screen(&mut app, 20, 6),
        r"
COMMAND
/sbin/init
├─ /usr/sbin/sshd -D
│  └─ -bash
│     └─ make -j2
eBPF │ 8 processes,
",
    );
    // Back to a wide one.
    assert!(screen(&mut app, 80, 12).contains("USER"));
}

#[test]
fn exited_processes_are_dimmed_until_their_linger_ends() {
    let mut app = machine();
    let buf = draw_at(&mut app, 80, 12);
    for exited in ["cc -c main.c", "cc -c util.c"] {
        let style = style_at(&buf, exited);
        assert_eq!(style.fg, Some(Color::DarkGray), "{exited}");
        assert!(style.add_modifier.contains(Modifier::DIM), "{exited}");
    }
    // A signal is an abnormal end: red. A zero exit is not.
    assert_eq!(style_at(&buf, "[SIGKILL]").fg, Some(Color::Red));
    assert_eq!(style_at(&buf, "[exit 0]").fg, Some(Color::DarkGray));

    // Select the killed compiler; the first one's linger (5 s from its exit at 997 s)
    // ends first, and the selection stays on the same process.
    key(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "util");
    key(&mut app, KeyCode::Enter);
    update(&mut app, AppEvent::Tick(1_002_500 * MS));
    assert_screen(
        &screen(&mut app, 80, 12),
        r"
    PID USER        AGE COMMAND
      1 root     16m41s /sbin/init
    400 root     16m32s ├─ /usr/sbin/sshd -D
    812 alice     8m22s │  └─ -bash
    900 alice       12s │     └─ make -j2
    902 alice      2.0s │        ├─ [SIGKILL] cc -c util.c
    903 alice        3s │        └─ ld -o app main.o util.o
    500 root     16m22s └─ /usr/sbin/cron -f



eBPF │ 8 processes, 1 exited │ 0 lost │         █            0/s │ ? help
",
    );
    assert_eq!(app.selected(), Some(CC_UTIL.key()));
    // When it leaves too, its parent is selected.
    update(&mut app, AppEvent::Tick(1_003_500 * MS));
    let screen = screen(&mut app, 80, 12);
    assert!(!screen.contains("cc -c"), "{screen}");
    assert_eq!(app.selected(), Some(MAKE.key()));
}

#[test]
fn selection_follows_its_process_and_keeps_its_line() {
    let mut app = machine();
    // A screen of 4 rows: select the linker, at the bottom.
    key(&mut app, KeyCode::End);
    key(&mut app, KeyCode::Up);
    assert_eq!(app.selected(), Some(LD.key()));
    let before = screen(&mut app, 80, 6);
    assert_screen(
        &before,
        r"
    PID USER        AGE COMMAND
    900 alice       10s │     └─ make -j2
    901 alice      2.0s │        ├─ [exit 0] cc -c main.c
    902 alice      2.0s │        ├─ [SIGKILL] cc -c util.c
    903 alice        0s │        └─ ld -o app main.o util.o
eBPF │ 8 processes, 2 exited │ 0 lost │           █          0/s │ ? help
",
    );
    // The first compiler leaves the tree above it: it stays selected, on the same line.
    update(&mut app, AppEvent::Tick(1_002_500 * MS));
    let after = screen(&mut app, 80, 6);
    assert!(!after.contains("main.c"), "{after}");
    assert!(after.contains("-bash"), "{after}");
    assert_eq!(app.selected(), Some(LD.key()));
    assert_eq!(
        find_line(&before, "ld -o app"),
        find_line(&after, "ld -o app")
    );
    // Folding an ancestor hides it: the ancestor is selected.
    app.tree.options.folded.insert(MAKE.key());
    screen(&mut app, 80, 6);
    assert_eq!(app.selected(), Some(MAKE.key()));
}

fn find_line(screen: &str, needle: &str) -> usize {
    screen.lines().position(|l| l.contains(needle)).unwrap()
}

#[test]
fn mouse_click_selects_and_wheel_scrolls() {
    let mut app = machine();
    let buf = draw_at(&mut app, 80, 12);
    let (x, y) = find(&buf, "make -j2");
    mouse(&mut app, MouseEventKind::Down(MouseButton::Left), x, y);
    assert_eq!(app.selected(), Some(MAKE.key()));
    mouse(&mut app, MouseEventKind::ScrollDown, x, y);
    assert_eq!(app.selected(), Some(LD.key()));
    mouse(&mut app, MouseEventKind::ScrollUp, x, y);
    assert_eq!(app.selected(), Some(MAKE.key()));
    // A click below the last row selects nothing new.
    mouse(&mut app, MouseEventKind::Down(MouseButton::Left), x, 10);
    assert_eq!(app.selected(), Some(MAKE.key()));
}

#[test]
fn pointer_moves_do_not_rebuild_the_tree() {
    let mut app = machine();
    draw_at(&mut app, 80, 12);
    let rows = app.tree.rows().len();
    update(&mut app, AppEvent::Events(pins::births()));
    mouse(&mut app, MouseEventKind::Moved, 5, 5);
    assert_eq!(
        app.tree.rows().len(),
        rows,
        "a move left the rows as they were"
    );
    mouse(&mut app, MouseEventKind::ScrollDown, 5, 5);
    assert_eq!(
        app.tree.rows().len(),
        rows + 2,
        "the wheel sees the two births"
    );
}

#[test]
fn paging_and_ends() {
    let mut app = machine();
    screen(&mut app, 80, 6);
    // The tree shows 4 rows.
    key(&mut app, KeyCode::PageDown);
    assert_eq!(app.selected(), Some(CC_MAIN.key()));
    key(&mut app, KeyCode::Char('G'));
    assert_eq!(app.selected(), Some(ProcessKey::new(500, 20 * S)));
    key(&mut app, KeyCode::PageUp);
    assert_eq!(app.selected(), Some(MAKE.key()));
    key(&mut app, KeyCode::Home);
    assert_eq!(app.selected(), Some(ProcessKey::new(1, S)));
}

#[test]
fn banner_says_what_a_limited_source_misses_until_esc() {
    let mut app = machine();
    app.source = SourceInfo {
        name: "procfs".into(),
        notices: vec![
            "watching with procfs (polling /proc every 100ms)".into(),
            "eBPF not possible: the eBPF probe needs root".into(),
        ],
        limited: true,
    };
    app.banner = true;
    let buf = draw_at(&mut app, 60, 12);
    assert_screen(
        &text(&buf),
        r"
watching with procfs (polling /proc every 100ms)
eBPF not possible: the eBPF probe needs root
Esc hides this
    PID USER        AGE COMMAND
      1 root     16m39s /sbin/init
    400 root     16m30s ├─ /usr/sbin/sshd -D
    812 alice     8m20s │  └─ -bash
    900 alice       10s │     └─ make -j2
    901 alice      2.0s │        ├─ [exit 0] cc -c main.c
    902 alice      2.0s │        ├─ [SIGKILL] cc -c util.c
    903 alice        0s │        └─ ld -o app main.o util.o
procfs │ 8 processes, 2 exited │ 0 lost │ 0/s │ ? help
",
    );
    assert_eq!(style_at(&buf, "eBPF not possible").bg, Some(Color::Yellow));
    assert_eq!(style_at(&buf, "procfs │").fg, Some(Color::Yellow));
    key(&mut app, KeyCode::Esc);
    assert!(!screen(&mut app, 60, 12).contains("not possible"));
}

#[test]
fn a_banner_on_a_screen_of_no_to_two_rows_keeps_out_of_the_status_line() {
    let mut app = machine();
    app.source = SourceInfo {
        name: "procfs".into(),
        notices: vec!["watching with procfs (polling /proc every 100ms)".into()],
        limited: true,
    };
    app.banner = true;
    // A pty with no size yet has no rows: nothing to draw, and no panic.
    assert_screen(&screen(&mut app, 60, 0), "");
    assert_screen(
        &screen(&mut app, 60, 1),
        "procfs │ 8 processes, 2 exited │ 0 lost │ 0/s │ ? help\n",
    );
    assert_screen(
        &screen(&mut app, 60, 2),
        r"
watching with procfs (polling /proc every 100ms)
procfs │ 8 processes, 2 exited │ 0 lost │ 0/s │ ? help
",
    );
}

#[test]
fn status_line_shows_rate_and_lost_events_in_warning_colour() {
    let mut app = machine();
    // After the 10 events of the make at 990 s: 2, 4, 6 and 8 events in the seconds
    // from 1001 s.
    update(&mut app, AppEvent::Tick(1_001 * S));
    for second in 1_001..1_005u64 {
        let batch = (0..(second - 1_000) * 2)
            .map(|i| CC_MAIN.exit(second * 1_000 + i, "cc", ExitStatus::Code(0)))
            .collect();
        update(&mut app, AppEvent::Events(batch));
        update(&mut app, AppEvent::Tick((second + 1) * S));
    }
    update(&mut app, AppEvent::Events(vec![Event::lost(1_005 * S, 12)]));
    let buf = draw_at(&mut app, 80, 4);
    assert_screen(
        &text(&buf),
        r"
    PID USER        AGE COMMAND
      1 root     16m44s /sbin/init
    400 root     16m35s ├─ /usr/sbin/sshd -D
eBPF │ 8 processes │ 12 lost │      █          ▂▃▅▆ 8/s │ ? help
",
    );
    let lost = style_at(&buf, "12 lost");
    assert_eq!(
        (lost.fg, lost.bg),
        (Some(Color::Black), Some(Color::Yellow))
    );
}

#[test]
fn quits_on_q_ctrl_c_and_stop_and_a_failed_source_says_why() {
    let mut app = machine();
    key(&mut app, KeyCode::Char('q'));
    assert!(app.should_quit());

    let mut app = machine();
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    key(&mut app, KeyCode::Char('/'));
    update(&mut app, AppEvent::Input(Input::Key(ctrl_c)));
    assert!(app.should_quit(), "even in a dialog");

    let mut app = machine();
    update(&mut app, AppEvent::Stop);
    assert!(app.should_quit());
    assert_eq!(app.take_error(), None);

    let mut app = machine();
    update(&mut app, AppEvent::SourceFailed("ring buffer gone".into()));
    assert!(app.should_quit());
    assert_eq!(app.take_error().as_deref(), Some("ring buffer gone"));
}

// Only the cgroup's id goes unused here.
#[allow(dead_code)]
#[path = "../../tests/common/contained.rs"]
mod contained;
mod containers;
mod details;
mod hostile;
mod hosts;
mod keys;
mod look;
mod memory;
mod pins;
mod record;
mod relays;
mod replay;
mod resources;
mod resync;
mod stream;
mod timeline;
