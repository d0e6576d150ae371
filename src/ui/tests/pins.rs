//! Pinning on screen: the pins pane with its counts and its own log, the pinned-only view,
//! the mask dialog; and the keys of pins.

use super::super::panes::Pane;
use super::*;
use crate::event::KindSet;

/// make's third compiler, born after the pin was made.
const CC_IO: P = P {
    pid: 904,
    ppid: 900,
    start_ms: 1_000_200,
    uid: 1000,
};
/// A process outside make's subtree, born at the same time.
const CRON_JOB: P = P {
    pid: 501,
    ppid: 500,
    start_ms: 1_000_300,
    uid: 0,
};

/// The machine with make selected and pinned.
fn make_pinned() -> App {
    let mut app = machine();
    for _ in 0..3 {
        key(&mut app, KeyCode::Down);
    }
    assert_eq!(app.selected(), Some(MAKE.key()));
    key(&mut app, KeyCode::Char('p'));
    app
}

/// A compiler born into make's subtree and a cron job born outside it.
pub(super) fn births() -> Vec<Event> {
    let mut events = CC_IO.start("make", &["cc", "-c", "io.c"]).to_vec();
    events.extend(CRON_JOB.start("cron", &["run-parts", "/etc/cron.hourly"]));
    events
}

#[test]
fn a_pin_lists_its_root_counts_and_own_log_and_outlives_its_root() {
    let mut app = make_pinned();
    assert_screen(
        &screen(&mut app, 100, 11),
        r"
    PID USER        AGE COMMAND
      1 root     16m39s /sbin/init
    400 root     16m30s ├─ /usr/sbin/sshd -D
    812 alice     8m20s │  └─ -bash
    900 alice       10s │     └─ [pin] make -j2
    901 alice      2.0s │        ├─ [exit 0] cc -c main.c
    902 alice      2.0s │        ├─ [SIGKILL] cc -c util.c
    903 alice        0s │        └─ ld -o app main.o util.o
    500 root     16m20s └─ /usr/sbin/cron -f

eBPF │ 8 processes, 2 exited │ 0 lost │ 0/s │ 1 pin │ pinned 900 (make): 2 alive in its subtree
",
    );

    // A child born later joins; a process born elsewhere does not.
    key(&mut app, KeyCode::Char('P'));
    update(&mut app, AppEvent::Events(births()));
    update(&mut app, AppEvent::Tick(1_001 * S));
    assert_screen(
        &screen(&mut app, 100, 22),
        r"
    PID USER        AGE COMMAND
      1 root     16m40s /sbin/init
    400 root     16m31s ├─ /usr/sbin/sshd -D
    812 alice     8m21s │  └─ -bash
    900 alice       11s │     └─ [pin] make -j2
    901 alice      2.0s │        ├─ [exit 0] cc -c main.c
    902 alice      2.0s │        ├─ [SIGKILL] cc -c util.c
    903 alice        1s │        ├─ ld -o app main.o util.o
    904 alice        0s │        └─ cc -c io.c
    500 root     16m21s └─ /usr/sbin/cron -f
    501 root         0s    └─ run-parts /etc/cron.hourly



┌ Pins ────────────────────────────────────────────────────────────────────────────────────────────┐
│    900 make -j2                                                             3 alive · every event│
│totals: 1 started, 0 ended, 3 alive; CPU 0.00s (not counting 3 processes never sampled); peak memo│
│pin 900 logged 2 events                                                                           │
│12:16:40.200000 fork         pid=904 ppid=900 comm=make                                           │
│12:16:40.201000 exec         pid=904 ppid=900 uid=1000 comm=cc file=/usr/bin/cc argv: cc -c io.c  │
└ ↑↓ pick · x remove · m mask · r relay · Enter root · Esc tree ───────────────────────────────────┘
eBPF │ 10 processes, 2 exited │ 0 lost │          █         ▃ 4/s │ 1 pin │ ? help
",
    );

    make_exits_and_its_pin_outlives_it(&mut app);
}

/// make exits: its children go to init and stay pinned, and a grandchild born after it
/// joins. Once make's linger is over it leaves the tree; the pin stays.
fn make_exits_and_its_pin_outlives_it(app: &mut App) {
    let grandchild = P {
        pid: 905,
        ppid: 904,
        start_ms: 1_001_600,
        uid: 1000,
    };
    update(
        app,
        AppEvent::Events(vec![
            MAKE.exit(1_001_500, "make", ExitStatus::Code(2)),
            grandchild.event(1_001_600, "cc", Kind::Fork),
        ]),
    );
    update(app, AppEvent::Tick(1_007 * S));
    assert_screen(
        &screen(app, 100, 24),
        r"
    PID USER        AGE COMMAND
      1 root     16m46s /sbin/init
    400 root     16m37s ├─ /usr/sbin/sshd -D
    812 alice     8m27s │  └─ -bash
    500 root     16m27s ├─ /usr/sbin/cron -f
    501 root         6s │  └─ run-parts /etc/cron.hourly
    903 alice        7s ├─ ld -o app main.o util.o
    904 alice        6s └─ cc -c io.c
    905 alice        5s    └─ cc -c io.c







┌ Pins ────────────────────────────────────────────────────────────────────────────────────────────┐
│    900 [exit 2] make -j2                                          3 alive, 1 exited · every event│
│totals: 2 started, 1 ended (1 exit 2), 3 alive; CPU 0.00s (not counting 4 processes never sampled)│
│pin 900 logged 4 events                                                                           │
│12:16:41.500000 exit         pid=900 ppid=812 comm=make exit_code=2 run=11.5s                     │
│12:16:41.600000 fork         pid=905 ppid=904 comm=cc                                             │
└ ↑↓ pick · x remove · m mask · r relay · Enter root · Esc tree ───────────────────────────────────┘
eBPF │ 10 processes │ 0 lost │    █         ▃▂      0/s │ 1 pin │ ? help
",
    );
    let pin = &app.tracker.pins().list()[0];
    assert_eq!(pin.root(), MAKE.key());
    assert!(pin.contains(grandchild.key()) && !pin.contains(CRON_JOB.key()));
}

#[test]
fn the_pinned_only_view_shows_pinned_subtrees_with_their_ancestors() {
    let mut app = make_pinned();
    update(&mut app, AppEvent::Events(births()));
    key(&mut app, KeyCode::Char('v'));
    key(&mut app, KeyCode::Home);
    let buf = draw_at(&mut app, 90, 12);
    assert_screen(
        &text(&buf),
        r"
    PID USER        AGE COMMAND
      1 root     16m39s /sbin/init
    400 root     16m30s └─ /usr/sbin/sshd -D
    812 alice     8m20s    └─ -bash
    900 alice       10s       └─ [pin] make -j2
    901 alice      2.0s          ├─ [exit 0] cc -c main.c
    902 alice      2.0s          ├─ [SIGKILL] cc -c util.c
    903 alice        0s          ├─ ld -o app main.o util.o
    904 alice        0s          └─ cc -c io.c


eBPF │ 10 processes, 2 exited │ 0 lost │ 0/s │ 1 pin, only pinned shown │ ? help
",
    );
    // The ancestors, outside the pin, are grey; the pinned processes are not.
    assert_eq!(style_at(&buf, "/usr/sbin/sshd").fg, Some(Color::DarkGray));
    assert_eq!(style_at(&buf, "-bash").fg, Some(Color::DarkGray));
    assert_eq!(style_at(&buf, "ld -o app").fg, Some(Color::Green));
    assert_eq!(style_at(&buf, "[pin]").fg, Some(Color::Magenta));

    // make exits and leaves the tree: its children, now init's, are still shown.
    update(
        &mut app,
        AppEvent::Events(vec![MAKE.exit(1_001_000, "make", ExitStatus::Code(0))]),
    );
    update(&mut app, AppEvent::Tick(1_007 * S));
    assert_screen(
        &screen(&mut app, 90, 6),
        r"
    PID USER        AGE COMMAND
      1 root     16m46s /sbin/init
    903 alice        7s ├─ ld -o app main.o util.o
    904 alice        6s └─ cc -c io.c

eBPF │ 9 processes │ 0 lost │    █         ▄       0/s │ 1 pin, only pinned shown │ ? help
",
    );
    // v again: every process.
    key(&mut app, KeyCode::Char('v'));
    assert!(screen(&mut app, 90, 14).contains("run-parts /etc/cron.hourly"));
}

#[test]
fn the_mask_dialog_changes_what_the_pin_logs() {
    let mut app = make_pinned();
    key(&mut app, KeyCode::Char('m'));
    // 3 turns exec off, Down and Space turn exit off; Esc forgets both.
    key(&mut app, KeyCode::Char('3'));
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Char(' '));
    assert_screen(
        &screen(&mut app, 80, 14),
        r"
    PID USER        AGE COMMAND
      1 root     16m39s /sbin/init
    400 root     ┌ Pin 900 (make) logs ──────────────────────┐
    812 alice    │ 1 [x] fork                                │
    900 alice    │ 2 [x] thread start                        │
    901 alice    │ 3 [ ] exec                                │
    902 alice    │ 4 [ ] exit                                │
    903 alice    │ 5 [x] thread exit                         │
    500 root     │ 6 [x] uid change                          │
                 │ 7 [x] gid change                          │
                 └ Space toggles · Enter keeps · Esc cancels ┘


eBPF │ 8 processes, 2 exited │ 0 lost │ 0/s │ 1 pin │ ? help
",
    );
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.tracker.pins().list()[0].mask(), KindSet::ALL);

    // Only exits and the rarer kinds from now on: not fork, not exec.
    key(&mut app, KeyCode::Char('m'));
    key(&mut app, KeyCode::Char('1'));
    key(&mut app, KeyCode::Char('3'));
    key(&mut app, KeyCode::Enter);
    assert_eq!(
        app.message.as_deref(),
        Some("pin 900 logs thread_start,exit,thread_exit,uid,gid")
    );
    let mut events = births();
    events.push(CC_IO.exit(1_000_400, "cc", ExitStatus::Code(0)));
    update(&mut app, AppEvent::Events(events));
    key(&mut app, KeyCode::Char('P'));
    assert_screen(
        &screen(&mut app, 100, 20),
        r"
    PID USER        AGE COMMAND
      1 root     16m39s /sbin/init
    400 root     16m30s ├─ /usr/sbin/sshd -D
    812 alice     8m20s │  └─ -bash
    900 alice       10s │     └─ [pin] make -j2
    901 alice      2.0s │        ├─ [exit 0] cc -c main.c
    902 alice      2.0s │        ├─ [SIGKILL] cc -c util.c
    903 alice        0s │        ├─ ld -o app main.o util.o
    904 alice     200ms │        └─ [exit 0] cc -c io.c
    500 root     16m20s └─ /usr/sbin/cron -f
    501 root         0s    └─ run-parts /etc/cron.hourly


┌ Pins ────────────────────────────────────────────────────────────────────────────────────────────┐
│    900 make -j2                         2 alive, 1 exited · thread_start,exit,thread_exit,uid,gid│
│totals: 1 started, 1 ended (1 exit 0), 2 alive; CPU 0.00s (not counting 3 processes never sampled)│
│pin 900 logged 1 event                                                                            │
│12:16:40.400000 exit         pid=904 ppid=900 comm=cc exit_code=0 run=200.0ms                     │
└ ↑↓ pick · x remove · m mask · r relay · Enter root · Esc tree ───────────────────────────────────┘
eBPF │ 9 processes, 3 exited │ 0 lost │           █          0/s │ 1 pin │ ? help
",
    );
}

#[test]
fn pin_keys() {
    let mut app = machine();
    let cron = ProcessKey::new(500, 20 * S);
    // Nothing pinned: v and m say so and change nothing.
    key(&mut app, KeyCode::Char('v'));
    assert_eq!(
        app.message.as_deref(),
        Some("nothing is pinned: p pins the selected process's subtree")
    );
    key(&mut app, KeyCode::Char('m'));
    assert!(app.dialog.is_none());
    assert!(screen(&mut app, 80, 12).contains("cron"));

    // p pins, p again unpins.
    key(&mut app, KeyCode::End);
    key(&mut app, KeyCode::Char('p'));
    assert!(app.tracker.pins().get(cron).is_some());
    key(&mut app, KeyCode::Char('p'));
    assert!(app.tracker.pins().is_empty());
    assert_eq!(app.message.as_deref(), Some("unpinned 500 (cron)"));

    // Two pins: cron, then make.
    key(&mut app, KeyCode::Char('p'));
    for _ in 0..4 {
        key(&mut app, KeyCode::Up);
    }
    assert_eq!(app.selected(), Some(MAKE.key()));
    key(&mut app, KeyCode::Char('p'));
    // m in the tree: the pin of the selected process, here a member of make's.
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Char('m'));
    assert!(screen(&mut app, 80, 16).contains("Pin 900 (make) logs"));
    key(&mut app, KeyCode::Esc);
    // Outside every pin, m says so.
    key(&mut app, KeyCode::Home);
    key(&mut app, KeyCode::Char('m'));
    assert_eq!(
        app.message.as_deref(),
        Some("the selected process is in no pin: P picks one")
    );

    // P gives the pins pane the keys: ↑↓ pick a pin, m and Enter act on the picked one.
    key(&mut app, KeyCode::Char('P'));
    assert_eq!(app.focus, Some(Pane::Pins));
    key(&mut app, KeyCode::Char('k'));
    key(&mut app, KeyCode::Char('m'));
    assert!(screen(&mut app, 80, 20).contains("Pin 500 (cron) logs"));
    key(&mut app, KeyCode::Esc);
    assert_eq!(
        app.selected(),
        Some(ProcessKey::new(1, S)),
        "the tree did not move"
    );
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.selected(), Some(cron));
    // Esc gives the keys back to the tree, the pane stays; P takes them again, then hides it.
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.focus, None);
    key(&mut app, KeyCode::Up);
    assert_eq!(app.selected(), Some(LD.key()));
    assert!(screen(&mut app, 80, 20).contains("Pins"));
    key(&mut app, KeyCode::Char('P'));
    assert_eq!(app.focus, Some(Pane::Pins));
    key(&mut app, KeyCode::Char('P'));
    assert_eq!(app.focus, None);
    assert!(!screen(&mut app, 80, 20).contains("Pins"));

    // In the pane, x removes the picked pin (Delete and p too); v ends with the last one.
    key(&mut app, KeyCode::Char('v'));
    key(&mut app, KeyCode::Char('P'));
    key(&mut app, KeyCode::Char('x'));
    assert_eq!(app.message.as_deref(), Some("unpinned 900 (make)"));
    assert_eq!(app.tracker.pins().list().len(), 1);
    assert!(app.tree.pins.only());
    key(&mut app, KeyCode::Delete);
    assert!(app.tracker.pins().is_empty());
    assert!(!app.tree.pins.only(), "no pin is left to show");
    assert!(screen(&mut app, 80, 20).contains("nothing is pinned"));
}

#[test]
fn x_in_an_empty_pins_pane_pins_nothing() {
    let mut app = machine();
    key(&mut app, KeyCode::End);
    key(&mut app, KeyCode::Char('P'));
    assert_eq!(app.focus, Some(Pane::Pins));
    key(&mut app, KeyCode::Char('x'));
    assert!(app.tracker.pins().is_empty(), "x removes; it never pins");
    key(&mut app, KeyCode::Delete);
    assert!(app.tracker.pins().is_empty(), "nor does Delete");
    assert!(screen(&mut app, 80, 20).contains("nothing is pinned"));
    // p still pins the selected process from the pane.
    key(&mut app, KeyCode::Char('p'));
    assert!(
        app.tracker
            .pins()
            .get(ProcessKey::new(500, 20 * S))
            .is_some()
    );
}

/// `v` with a live source: only the pins' subtrees are asked of it, and once every process
/// is shown again, every event, and /proc is read again for what was not sent meanwhile.
#[test]
fn the_pinned_only_view_asks_the_source_for_the_pins_events_only() {
    use crate::{
        source::Filtering,
        ui::message::{AppEvent, Request},
    };
    let mut app = make_pinned();
    assert!(app.take_requests().is_empty());
    key(&mut app, KeyCode::Char('v'));
    assert_eq!(app.take_requests(), [Request::Follow]);
    let subtrees = app.subtrees_to_follow();
    assert_eq!(subtrees.len(), 1);
    assert_eq!(subtrees[0].root, MAKE.key());
    let mut members: Vec<u32> = subtrees[0].members.iter().map(|k| k.pid).collect();
    members.sort_unstable();
    assert_eq!(members, [900, 903]);
    update(&mut app, AppEvent::Filtering(Filtering::Kernel));
    let shown = screen(&mut app, 120, 8);
    assert!(
        shown.contains("only pinned shown, following in the kernel"),
        "{shown}"
    );
    // Asked once, not at every turn.
    update(&mut app, AppEvent::Tick(1_001 * S));
    assert!(app.take_requests().is_empty());

    key(&mut app, KeyCode::Char('v'));
    assert_eq!(app.take_requests(), [Request::Follow]);
    assert!(app.subtrees_to_follow().is_empty());
    let every = Filtering::UserSpace("nothing to follow".into());
    update(&mut app, AppEvent::Filtering(every));
    assert_eq!(app.take_requests(), [Request::Snapshot]);
}
