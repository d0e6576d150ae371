//! The timeline pane's figures: a frame (200x60, into ratatui's TestBackend) with the
//! timeline of a 20,000-process subtree open, against the same frame without it, with
//! nothing changed and after an event (which rebuilds the timeline's rows); and a frame
//! with the cursor in the middle of the subtree, zoomed in. The target is 5 ms a frame.
//!
//! `cargo bench --bench timeline` prints them.

// Only its events serve here.
#[allow(dead_code)]
mod machine;

use std::time::Instant;

use crossterm::event::{Event as Input, KeyCode, KeyEvent, KeyModifiers};
use forkwatch::{
    clock::WallClock,
    event::{Argv, Event, ExitStatus, Kind},
    tracker::model::{Config, Model},
    ui::{App, AppEvent, SourceInfo, Users, draw, update},
};
use ratatui::{Terminal, backend::TestBackend};

const WIDTH: u16 = 200;
const HEIGHT: u16 = 60;
const MS: u64 = 1_000_000;
/// The subtree: a build's make, 200 sub-makes, 99 jobs under each.
const SUB_MAKES: u32 = 200;
const JOBS: u32 = 99;
const ROOT_PID: u32 = 100;
const FRAMES: u32 = 200;

/// A build job's event, as the machine benchmarks make them.
fn event(pid: u32, ppid: u32, start: u64, ts: u64, kind: Kind) -> Event {
    machine::event(pid, ppid, start, ts, "cc", kind)
}

fn exec(pid: u32, ppid: u32, start: u64, argv: &[&str]) -> Event {
    let kind = Kind::Exec {
        filename: "/usr/bin/cc".into(),
        argv: Argv::from_args(argv),
        argv_truncated: false,
        filename_truncated: false,
        argv_unreadable: false,
    };
    event(pid, ppid, start, start + 1, kind)
}

/// The build's events: 20,000 processes started a millisecond apart, one job in five
/// still running, the rest exited (0, 1 or killed) after 1 to 300 ms.
fn build() -> (Vec<Event>, u64) {
    let mut events = vec![event(ROOT_PID, 1, MS, MS, Kind::Fork)];
    events.push(exec(ROOT_PID, 1, MS, &["make", "-j16"]));
    let mut pid = 1_000;
    let mut t = 2 * MS;
    let mut exits = Vec::new();
    for m in 0..SUB_MAKES {
        let make = pid;
        pid += 1;
        events.push(event(make, ROOT_PID, t, t, Kind::Fork));
        events.push(exec(make, ROOT_PID, t, &["make", "-C", &format!("dir{m}")]));
        for j in 0..JOBS {
            t += MS;
            let file = format!("dir{m}/file{j}.c");
            events.push(event(pid, make, t, t, Kind::Fork));
            events.push(exec(pid, make, t, &["cc", "-O2", "-c", &file]));
            if pid % 5 != 0 {
                let status = match pid % 7 {
                    0 => ExitStatus::Code(1),
                    1 => ExitStatus::Signal {
                        signal: 9,
                        core_dumped: false,
                    },
                    _ => ExitStatus::Code(0),
                };
                let end = t + MS * u64::from(1 + pid % 300);
                exits.push(event(pid, make, t, end, Kind::Exit(status, None)));
            }
            pid += 1;
        }
    }
    events.extend(exits);
    events.sort_by_key(|e| e.ts_ns);
    (events, t + 400 * MS)
}

fn press(app: &mut App, code: KeyCode) {
    let key = KeyEvent::new(code, KeyModifiers::NONE);
    update(app, AppEvent::Input(Input::Key(key)));
}

/// Milliseconds per frame of `frames` frames, each after `before`.
fn per_frame(
    app: &mut App,
    terminal: &mut Terminal<TestBackend>,
    mut before: impl FnMut(&mut App, u32),
) -> f64 {
    let started = Instant::now();
    for i in 0..FRAMES {
        before(app, i);
        draw(terminal, app).unwrap();
    }
    started.elapsed().as_secs_f64() * 1e3 / f64::from(FRAMES)
}

/// The application after the build, its model with `config`, `make` selected; and now.
fn after_build(config: Config) -> (App, u64) {
    let (events, now) = build();
    let source = SourceInfo {
        name: "eBPF".into(),
        ..SourceInfo::default()
    };
    let mut app = App::new(
        Model::new(config),
        source,
        WallClock::now(),
        0,
        Users::with_lookup(|_| None),
    );
    update(&mut app, AppEvent::Events(events));
    update(&mut app, AppEvent::Tick(now));
    (app, now)
}

/// Opens the timeline on the selected process (make, the only one at the top).
fn open_timeline(app: &mut App, terminal: &mut Terminal<TestBackend>) {
    press(app, KeyCode::Char('T'));
    draw(terminal, app).unwrap();
    let shown = format!("{:?}", terminal.backend().buffer());
    assert!(shown.contains(" Timeline "), "the timeline is open");
}

fn main() {
    // Everything stays in the tree: the subtree is all there.
    let config = Config {
        linger_ns: u64::MAX / 4,
        max_lingering: 100_000,
        exited_bytes: usize::MAX / 4,
        ..Config::default()
    };
    let (mut app, now) = after_build(config);
    let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).unwrap();
    draw(&mut terminal, &mut app).unwrap();
    let resize = |app: &mut App, _| update(app, AppEvent::Input(Input::Resize(WIDTH, HEIGHT)));
    let tree_only = per_frame(&mut app, &mut terminal, resize);
    open_timeline(&mut app, &mut terminal);
    let counts = app.model().counts();
    let with_timeline = per_frame(&mut app, &mut terminal, resize);
    // With it, the tree above has a third fewer rows to draw.
    println!(
        "frame {WIDTH}x{HEIGHT}, {} processes in the subtree: {tree_only:.2} ms without the \
         timeline, {with_timeline:.2} ms with it",
        counts.alive + counts.exited,
    );
    // An event changes the model: the timeline's rows are rebuilt before the frame.
    let fork = |app: &mut App, i: u32| {
        let at = now + u64::from(i + 1) * MS;
        let born = event(30_000 + i, ROOT_PID, at, at, Kind::Fork);
        update(app, AppEvent::Events(vec![born]));
    };
    let after_event = per_frame(&mut app, &mut terminal, fork);
    println!("frame after the model changed (rows rebuilt): {after_event:.2} ms");
    // The cursor in the middle, zoomed in four times.
    for _ in 0..10_000 {
        press(&mut app, KeyCode::Down);
    }
    for _ in 0..4 {
        press(&mut app, KeyCode::Char('+'));
    }
    let middle = per_frame(&mut app, &mut terminal, resize);
    println!("frame with the cursor at row 10,000, zoomed in 16x: {middle:.2} ms");
    churn();
}

/// Exited processes leave the tree at once: the subtree's are in the model's history, and
/// a process (not of the subtree) coming and going before each frame makes the timeline
/// look through the history again.
fn churn() {
    let (mut app, now) = after_build(Config {
        linger_ns: 0,
        ..Config::default()
    });
    let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).unwrap();
    open_timeline(&mut app, &mut terminal);
    let counts = app.model().counts();
    let come_and_go = |app: &mut App, i: u32| {
        let at = now + u64::from(i + 1) * MS;
        let pid = 40_000 + i;
        let born = event(pid, 1, at, at, Kind::Fork);
        let gone = event(pid, 1, at, at + 1, Kind::Exit(ExitStatus::Code(0), None));
        update(app, AppEvent::Events(vec![born, gone]));
    };
    let churned = per_frame(&mut app, &mut terminal, come_and_go);
    println!(
        "frame after a process came and went, {} alive and {} in the history: {churned:.2} ms",
        counts.alive, counts.history
    );
}
