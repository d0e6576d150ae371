//! The timeline pane (`T`): a subtree's lifetimes on a time axis, live and in a replay,
//! zoomed, panned, its cursor selecting in the tree, and a click on its axis seeking.

use super::{
    replay::{Replaying, at, paused_runtime, record},
    *,
};
use crate::ui::replay::Control;

/// A `true` make runs for a millisecond at 999 s: shorter than a cell.
const TRUE: P = P {
    pid: 904,
    ppid: 900,
    start_ms: 999_000,
    uid: 1000,
};

/// The machine's make, with the short `true`, and the timeline opened on `subject`.
fn timeline_of(subject: &str, width: u16, height: u16) -> App {
    let mut app = machine();
    let mut events = TRUE.start("make", &["true"]).to_vec();
    events.push(TRUE.exit(999_001, "true", ExitStatus::Code(0)));
    update(&mut app, AppEvent::Events(events));
    let buf = draw_at(&mut app, width, height);
    let (x, y) = find(&buf, subject);
    mouse(&mut app, MouseEventKind::Down(MouseButton::Left), x, y);
    key(&mut app, KeyCode::Char('T'));
    draw_at(&mut app, width, height);
    app
}

/// The timeline's lines: the bottom pane, without the tree above it.
fn pane(app: &mut App, width: u16, height: u16) -> String {
    let screen = screen(app, width, height);
    let at = screen.find("┌ Timeline").expect("the timeline is open");
    screen[at..].to_owned()
}

#[test]
fn live_the_bars_run_from_start_to_exit_or_now_styled_by_how_they_ended() {
    let mut app = timeline_of("make -j2", 100, 30);
    assert_screen(
        &pane(&mut app, 100, 30),
        r"
┌ Timeline ────────────────────────────────────────────────────────────────────────────────────────┐
│5 processes, idle ░             ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━│
│    900 make -j2                ══════════════════════════════════════════════════════════════════│
│    901    cc -c main.c                                         ███████████████                   │
│    902    cc -c util.c                                                ▒▒▒▒▒▒▒▒▒▒▒▒▒▒             │
│    904    true                                                                            •      │
│    903    ld -o app main.o uti                                                               ════│
│                                |12:16:30    |12:16:32    |12:16:34    |12:16:36    |12:16:38     │
└ ↑↓ pick · + - zoom · ← → pan · click the axis: seek · Esc tree ──────────────────────────────────┘
eBPF │ 8 processes, 3 exited │ 0 lost │           █          0/s │ ? help
",
    );
    let buf = draw_at(&mut app, 100, 30);
    let bar = |needle| style_at(&buf, needle).fg;
    assert_eq!(bar("███"), Some(Color::Green), "exit 0");
    assert_eq!(bar("▒▒▒"), Some(Color::Magenta), "killed");
    assert_eq!(bar("═══"), Some(Color::Cyan), "running");
    assert_eq!(bar("•"), Some(Color::Green), "the short true exited 0");
    // The cursor is on the process selected when it opened.
    assert_eq!(style_at(&buf, "900 make").bg, Some(Color::Cyan));
}

#[test]
fn live_an_idle_gap_is_shaded_and_the_timeline_grows() {
    // cc -c main.c ran from 995 s to 997 s; nothing of its subtree ran since.
    let mut app = timeline_of("cc -c main.c", 80, 30);
    let first = pane(&mut app, 80, 30);
    assert_screen(
        &first,
        r"
┌ Timeline ────────────────────────────────────────────────────────────────────┐
│1 process, idle ░         ━━━━━━━━━━━━━━━━━━━━━░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░│
│    901»cc -c main.c      █████████████████████                               │
│                                                                              │
│                                                                              │
│                                                                              │
│                                                                              │
│                          |12:16:35 |12:16:36 |12:16:37  |12:16:38 |12:16:39  │
└ ↑↓ pick · + - zoom · ← → pan · click the axis: seek · Esc tree ──────────────┘
eBPF │ 8 processes, 3 exited │ 0 lost │           █          0/s │ ? help
",
    );
    // Two seconds on, the axis runs to the new now and the bar takes less of it.
    update(&mut app, AppEvent::Tick(1_002 * S));
    let later = pane(&mut app, 80, 30);
    assert_ne!(later, first);
    assert!(
        later.contains("|12:16:40") && !later.contains("|12:16:35"),
        "{later}"
    );
}

#[test]
fn zoom_pan_and_a_cursor_that_selects_in_the_tree() {
    let mut app = timeline_of("make -j2", 100, 30);
    let axis = |app: &mut App| {
        let pane = pane(app, 100, 30);
        pane.lines().nth(7).unwrap().to_owned()
    };
    let all = axis(&mut app);
    key(&mut app, KeyCode::Char('+'));
    let zoomed = axis(&mut app);
    // Half the time: from 995 s to 1000 s, the end following now.
    assert!(
        zoomed.contains("|12:16:35") && zoomed.contains("|12:16:39"),
        "{zoomed}"
    );
    assert!(!zoomed.contains("|12:16:32"), "{zoomed}");
    key(&mut app, KeyCode::Left);
    let panned = axis(&mut app);
    assert_ne!(panned, zoomed);
    assert!(panned.contains("|12:16:34"), "{panned}");
    assert!(!panned.contains("|12:16:39"), "a quarter back: {panned}");
    key(&mut app, KeyCode::Right);
    assert_eq!(axis(&mut app), zoomed, "back at the end, following now");
    key(&mut app, KeyCode::Char('-'));
    assert_eq!(axis(&mut app), all);
    key(&mut app, KeyCode::Char('-'));
    assert_eq!(app.message.as_deref(), Some("the timeline shows all of it"));

    // ↓ ↓ in the timeline: the cursor moves and selects in the tree.
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    assert_eq!(app.selected(), Some(CC_UTIL.key()));
    let buf = draw_at(&mut app, 100, 30);
    assert_eq!(style_at(&buf, "902    cc").bg, Some(Color::Cyan));
    key(&mut app, KeyCode::End);
    assert_eq!(app.selected(), Some(LD.key()), "End: the last row");
    key(&mut app, KeyCode::Home);
    assert_eq!(app.selected(), Some(MAKE.key()), "Home: the first row");
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    // With the keys back in the tree, the cursor follows the tree's selection.
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Up);
    assert_eq!(app.selected(), Some(CC_MAIN.key()));
    let buf = draw_at(&mut app, 100, 30);
    assert_eq!(style_at(&buf, "901    cc").bg, Some(Color::Cyan));
    assert_ne!(style_at(&buf, "902    cc").bg, Some(Color::Cyan));
    // A click on a row moves it there too, and the wheel over the timeline moves it.
    let (x, y) = find(&buf, "903    ld");
    mouse(&mut app, MouseEventKind::Down(MouseButton::Left), x, y);
    assert_eq!(app.selected(), Some(LD.key()));
    mouse(&mut app, MouseEventKind::ScrollUp, x, y);
    assert_eq!(app.selected(), Some(TRUE.key()));
    mouse(&mut app, MouseEventKind::ScrollDown, x, y);
    assert_eq!(app.selected(), Some(LD.key()));
    // Live, a click on the axis says what it is for.
    let (x, y) = find(&buf, "|12:16:34");
    mouse(&mut app, MouseEventKind::Down(MouseButton::Left), x, y);
    assert!(app.take_requests().is_empty());
    assert_eq!(
        app.message.as_deref(),
        Some("a click on the time axis seeks a replay; this is live")
    );
}

#[test]
fn processes_left_the_tree_stay_and_an_ended_subtrees_critical_path_is_marked() {
    let mut app = timeline_of("make -j2", 100, 30);
    // Long after: cc's linger is over, they are gone from the tree, not from the timeline.
    update(&mut app, AppEvent::Tick(1_030 * S));
    let shown = screen(&mut app, 100, 30);
    assert!(!shown.contains("[exit 0] cc -c main.c"), "{shown}");
    let timeline = pane(&mut app, 100, 30);
    assert!(timeline.contains("    901    cc -c main.c "), "{timeline}");
    assert!(timeline.contains("    902    cc -c util.c "), "{timeline}");
    // While make runs, no chain is marked: what ended so far does not decide its end.
    assert!(!timeline.contains('»'), "{timeline}");
    // ld ends last, then make: the chain is make, ld.
    update(
        &mut app,
        AppEvent::Events(vec![
            LD.exit(1_031_000, "ld", ExitStatus::Code(0)),
            MAKE.exit(1_031_500, "make", ExitStatus::Code(0)),
        ]),
    );
    let timeline = pane(&mut app, 100, 30);
    assert!(timeline.contains("    900»make -j2"), "{timeline}");
    assert!(timeline.contains("    903»   ld -o app"), "{timeline}");
    assert!(timeline.contains("    901    cc -c main.c"), "{timeline}");
    assert!(timeline.contains("    904    true"), "{timeline}");
}

#[test]
fn without_colour_the_bars_still_tell_how_processes_ended() {
    let mut app = timeline_of("make -j2", 100, 30);
    app.tree.look.colour = false;
    let buf = draw_at(&mut app, 100, 30);
    let text = text(&buf);
    for bar in ["═══", "███", "▒▒▒", "•"] {
        assert!(text.contains(bar), "{bar}: {text}");
    }
    assert_eq!(style_at(&buf, "▒▒▒").fg, Some(Color::Reset));
}

#[test]
fn in_a_replay_it_follows_the_position_and_a_click_on_the_axis_seeks() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = record(dir.path());
    paused_runtime().block_on(async {
        let mut r = Replaying::open(&path, "make.fwrec");
        r.key(KeyCode::Char(']')).await;
        r.play_until("at 996 s", |app| at(app) >= 996 * S).await;
        r.key(KeyCode::Char('s')).await;
        let buf = draw_at(&mut r.app, 100, 30);
        let (x, y) = find(&buf, "make -j2");
        mouse(&mut r.app, MouseEventKind::Down(MouseButton::Left), x, y);
        r.key(KeyCode::Char('T')).await;
        let at_996 = pane(&mut r.app, 100, 30);
        // The axis runs to the recording's end; the bars to where the replay is.
        assert_screen(
            &at_996,
            r"
┌ Timeline ────────────────────────────────────────────────────────────────────────────────────────┐
│3 processes, idle ░             ━━━━━━━━━━━━━━━━━━━━                                              │
│    900 make -j2                ════════════════════                                              │
│    901    cc -c main.c                         ════                                              │
│    902    make -j2                                •                                              │
│                                                                                                  │
│                                                                                                  │
│                                |12:16:30       |12:16:35       |12:16:40        |12:16:45        │
└ ↑↓ pick · + - zoom · ← → pan · click the axis: seek · Esc tree ──────────────────────────────────┘
replay │ paused 2x 12:16:36.000 │ 9 processes │ 0 lost │ 2/s │ ? help
",
        );
        r.key(KeyCode::Char('s')).await;
        r.play_until("at 1005 s", |app| at(app) >= 1_005 * S).await;
        r.key(KeyCode::Char('s')).await;
        // make ended at 1003.5 s: idle since, up to where the replay is (the dotted line).
        let at_1005 = pane(&mut r.app, 100, 30);
        assert_screen(
            &at_1005,
            r"
┌ Timeline ────────────────────────────────────────────────────────────────────────────────────────┐
│4 processes, idle ░             ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━░░░░░                │
│    900»make -j2                █████████████████████████████████████████████    ┊                │
│    901    cc -c main.c                         ████████                         ┊                │
│    902    cc -c util.c                            ▒▒▒▒▒▒▒▒                      ┊                │
│    903»   ld -o app main.o uti                                ████████████      ┊                │
│                                                                                                  │
│                                |12:16:30       |12:16:35       |12:16:40        |12:16:45        │
└ ↑↓ pick · + - zoom · ← → pan · click the axis: seek · Esc tree ──────────────────────────────────┘
replay │ paused 2x 12:16:45.000 │ 6 processes, 2 exited │ 0 lost │ 0/s │ ? help
",
        );
        let buf = draw_at(&mut r.app, 100, 30);
        // A click on a label of the axis seeks to the time it names: back, here.
        let (x, y) = find(&buf, "|12:16:35");
        mouse(&mut r.app, MouseEventKind::Down(MouseButton::Left), x, y);
        let requests = r.app.requests.clone();
        assert!(
            matches!(requests[..], [Request::Replay(Control::SeekTo(ns))] if ns == 995 * S),
            "{requests:?}"
        );
        r.carry_out().await;
        r.play_until("back at 995 s", |app| at(app) == 995 * S)
            .await;
        let back = pane(&mut r.app, 100, 30);
        assert!(
            back.contains("│    900 make -j2                ═══"),
            "{back}"
        );
    });
}

#[test]
fn from_the_pins_pane_it_shows_the_picked_pins_subtree() {
    let mut app = timeline_of("make -j2", 100, 30);
    // Closed, make pinned, init selected; then the pins pane, with make's pin picked.
    key(&mut app, KeyCode::Char('T'));
    key(&mut app, KeyCode::Char('p'));
    key(&mut app, KeyCode::Home);
    assert_eq!(app.selected(), Some(ProcessKey::new(1, S)));
    key(&mut app, KeyCode::Char('P'));
    key(&mut app, KeyCode::Char('T'));
    // Beside the pins pane.
    let timeline = pane(&mut app, 100, 30);
    assert!(timeline.contains("││5 processes, idl"), "{timeline}");
    assert!(timeline.contains("││    900 make -j "), "{timeline}");
    assert!(timeline.contains("││    903    ld -  "), "{timeline}");
    assert!(!timeline.contains("    1 /sbin"), "{timeline}");
}
