//! Terminal UI figures, on a machine of 10,000 processes with a parallel build running:
//! resident memory of the whole application (model with its default history, rows, event
//! log), the cost of one 200x60 frame (also with the build pinned and only it shown), the
//! CPU the real update-and-draw loop takes at 10,000 events per second, and how fast the
//! loop plays a recording of 1,000,000 such events as fast as it can. Applying events to
//! the model is `cargo bench --bench model`.
//!
//! Then a frame of 20,000 sampled processes with every column, their subtrees folded and
//! summed on screen.
//!
//! `cargo bench --bench ui -- [SECONDS]` prints them (SECONDS of the 10,000 events/s run,
//! default 5); the targets are 100 MiB, 5 ms (each frame) and 25% of one core.

mod machine;

use std::{
    fs::File,
    io,
    time::{Duration, Instant},
};

use crossterm::event::{Event as Input, KeyCode, KeyEvent, KeyModifiers};
use forkwatch::{
    clock::{self, WallClock},
    event::{Sample, Sampled, State},
    recording::{Info, Replay, Speed, Writer},
    tracker::model::Model,
    ui::{
        App, AppEvent, Screen, Session, SourceInfo, Users, draw,
        look::{Column, Look},
        replay::{self, Player},
        runtime, update,
    },
};
use machine::{Workload, rss_mib, snapshot, timed};
use ratatui::{Terminal, TerminalOptions, Viewport, backend::CrosstermBackend, layout::Rect};

const WIDTH: u16 = 200;
const HEIGHT: u16 = 60;
const PROCESSES: u32 = 10_000;
/// The build's make: the snapshot's last process.
const MAKE_PID: u32 = 300 + PROCESSES - 1;
/// The event rate of the CPU run.
const RATE: u64 = 10_000;
/// Events in the recording played as fast as possible.
const REPLAYED: usize = 1_000_000;

/// A terminal that encodes frames as the real one does (escape sequences, only what
/// changed) and throws them away.
fn discarding_terminal() -> Terminal<CrosstermBackend<io::Sink>> {
    let viewport = Viewport::Fixed(Rect::new(0, 0, WIDTH, HEIGHT));
    Terminal::with_options(
        CrosstermBackend::new(io::sink()),
        TerminalOptions { viewport },
    )
    .expect("a terminal on a sink")
}

/// The application on the 10,000-process machine at `now`, with its event log open and
/// the selection in the middle of the tree.
fn machine_app(now: u64) -> App {
    let mut model = Model::default();
    model.seed(&snapshot(PROCESSES, now));
    let source = SourceInfo {
        name: "eBPF".into(),
        ..SourceInfo::default()
    };
    let mut app = App::new(model, source, WallClock::now(), now, Users::system());
    for code in [KeyCode::Char('e'), KeyCode::Char('d'), KeyCode::PageDown] {
        let key = KeyEvent::new(code, KeyModifiers::NONE);
        update(&mut app, AppEvent::Input(Input::Key(key)));
    }
    app
}

/// Counts the frames the loop draws.
struct Counted<S> {
    screen: S,
    frames: u64,
}

impl<S: Screen> Screen for Counted<S> {
    fn draw(&mut self, app: &mut App) -> anyhow::Result<()> {
        self.frames += 1;
        self.screen.draw(app)
    }
}

/// Asks the loop to stop once the replay it draws has ended.
struct StopAtEnd<S> {
    screen: S,
    stop: tokio::sync::mpsc::Sender<AppEvent>,
}

impl<S: Screen> Screen for StopAtEnd<S> {
    fn draw(&mut self, app: &mut App) -> anyhow::Result<()> {
        self.screen.draw(app)?;
        if app.replay_status().is_some_and(|s| s.ended) {
            let _ = self.stop.try_send(AppEvent::Stop);
        }
        Ok(())
    }
}

/// CPU time of the whole process, user and system, in seconds.
fn process_cpu_secs() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn main() {
    let seconds: u64 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(|a| a.parse().expect("SECONDS is a number"))
        .unwrap_or(5);
    let now = clock::boottime_ns();
    let (app, workload, terminal) = memory(now);
    frames(app, workload, terminal);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    live_loop(&runtime, seconds);
    replay_at_max_speed(&runtime);
    summed_folds();
}

/// Processes of the frame with summed folds.
const SAMPLED: u32 = 20_000;

/// A frame with every column of 20,000 sampled processes: with init folded (one row sums
/// them all), and with each of the 400 services folded (every row on screen sums its 50).
fn summed_folds() {
    let now = clock::boottime_ns();
    let mut processes = snapshot(SAMPLED, now);
    for (i, process) in processes.iter_mut().enumerate() {
        process.sampled = Some(Sampled {
            at_ns: now,
            sample: Sample {
                cpu_ns: i as u64 * 1_000_000,
                rss_bytes: (i as u64 % 64 + 1) << 20,
                state: State::from_letter(b'S'),
                threads: 1,
            },
            cpu_permille: Some(i as u32 % 1000),
        });
    }
    let mut model = Model::default();
    model.seed(&processes);
    let mut app = App::new(
        model,
        SourceInfo::default(),
        WallClock::now(),
        now,
        Users::system(),
    );
    app.set_look(Look {
        columns: Column::ALL.to_vec(),
        ..Look::default()
    });
    let press = |app: &mut App, code| {
        let key = KeyEvent::new(code, KeyModifiers::NONE);
        update(app, AppEvent::Input(Input::Key(key)));
    };
    let mut terminal = discarding_terminal();
    let mut frame = |app: &mut App, label: &str| {
        let frames = 200;
        let (wall, cpu) = timed(|| {
            for _ in 0..frames {
                update(app, AppEvent::Input(Input::Resize(WIDTH, HEIGHT)));
                terminal.swap_buffers();
                draw(&mut terminal, app).unwrap();
            }
        });
        println!(
            "frame {WIDTH}x{HEIGHT}, all columns, {SAMPLED} sampled processes, {label}: \
             {:.2} ms ({:.2} ms of CPU)",
            wall / frames as f64 * 1e3,
            cpu / frames as f64 * 1e3
        );
    };
    // Init is the first row: folded, it sums every process.
    press(&mut app, KeyCode::Home);
    press(&mut app, KeyCode::Enter);
    frame(&mut app, "init folded (one row sums all)");
    press(&mut app, KeyCode::Enter);
    // `h` folds each service in turn, `j` goes to the next one.
    for _ in 0..SAMPLED / 50 {
        press(&mut app, KeyCode::Char('j'));
        press(&mut app, KeyCode::Char('h'));
    }
    press(&mut app, KeyCode::Home);
    frame(
        &mut app,
        "every service folded (each row on screen sums 50)",
    );
}

/// The application's resident memory on the machine, its tree and logs full. Measured
/// first, while nothing else has been allocated.
fn memory(now: u64) -> (App, Workload, Terminal<CrosstermBackend<io::Sink>>) {
    // Memory first, while nothing else has been allocated: 10,000 live processes, and
    // enough churn to fill the tree's lingering exits, the history and the event log.
    let before = rss_mib();
    let mut app = machine_app(now);
    let mut workload = Workload::new(now, 5_000);
    for _ in 0..20 {
        let events = workload.generate(50_000, MAKE_PID, 16);
        update(&mut app, AppEvent::Events(events));
    }
    let mut terminal = discarding_terminal();
    draw(&mut terminal, &mut app).unwrap();
    let counts = app.model().counts();
    println!(
        "memory: {:.1} MiB resident ({:.1} MiB more than before the application) with {} \
         alive, {} exited in the tree, {} in the history",
        rss_mib(),
        rss_mib() - before,
        counts.alive,
        counts.exited,
        counts.history
    );
    (app, workload, terminal)
}

/// The cost of a frame: written in full, and after each event.
fn frames(
    mut app: App,
    mut workload: Workload,
    mut terminal: Terminal<CrosstermBackend<io::Sink>>,
) {
    let counts = app.model().counts();
    // One frame with nothing changed, written in full, and one after each event (the rows
    // rebuilt too, only changed cells written), as under a stream of events.
    let frames = 200;
    let (wall, cpu) = timed(|| {
        for _ in 0..frames {
            // A resize makes the application draw again, and forgetting the last frame makes
            // every cell of this one go out (Terminal::clear would ask a real terminal
            // where its cursor is).
            update(&mut app, AppEvent::Input(Input::Resize(WIDTH, HEIGHT)));
            terminal.swap_buffers();
            draw(&mut terminal, &mut app).unwrap();
        }
    });
    println!(
        "frame {WIDTH}x{HEIGHT} written in full, {} rows: {:.2} ms ({:.2} ms of CPU)",
        counts.alive + counts.exited,
        wall / frames as f64 * 1e3,
        cpu / frames as f64 * 1e3
    );
    let mut frame_after_each_event = |app: &mut App, label: &str| {
        let events = workload.generate(frames, MAKE_PID, 16);
        let (wall, cpu) = timed(|| {
            for event in events {
                update(app, AppEvent::Events(vec![event]));
                draw(&mut terminal, app).unwrap();
            }
        });
        println!(
            "frame after an event, {label}: {:.2} ms ({:.2} ms of CPU)",
            wall / frames as f64 * 1e3,
            cpu / frames as f64 * 1e3
        );
    };
    frame_after_each_event(&mut app, "rows rebuilt");
    // The same with the build pinned and only pinned subtrees shown: the set of pinned
    // processes is made anew for each frame.
    app.pin_pid(MAKE_PID).expect("make is alive");
    let key = KeyEvent::new(KeyCode::Char('v'), KeyModifiers::NONE);
    update(&mut app, AppEvent::Input(Input::Key(key)));
    frame_after_each_event(&mut app, "only the pinned build shown");
}

/// The CPU the real loop takes at RATE events per second for `seconds`.
fn live_loop(runtime: &tokio::runtime::Runtime, seconds: u64) {
    // The real loop: events at RATE per second in batches every 10 ms, ticks from the
    // clock, frames on a terminal that discards them.
    let (frames, events, cpu, wall) = runtime.block_on(async {
        let start = clock::boottime_ns();
        let mut app = machine_app(start);
        let (sender, mut receiver) = runtime::channel();
        let batch_every = Duration::from_millis(10);
        let per_batch = (RATE / 100) as usize;
        let feeder = sender.clone();
        tokio::spawn(async move {
            let mut workload = Workload::new(start, 1_000_000_000 / RATE);
            let mut batches = tokio::time::interval(batch_every);
            for _ in 0..seconds * 100 {
                batches.tick().await;
                let events = workload.generate(per_batch, MAKE_PID, 16);
                if feeder.send(AppEvent::Events(events)).await.is_err() {
                    return;
                }
            }
            let _ = feeder.send(AppEvent::Stop).await;
        });
        tokio::spawn(runtime::feed_ticks(sender.clone()));
        let mut screen = Counted {
            screen: discarding_terminal(),
            frames: 0,
        };
        let (cpu, wall) = (process_cpu_secs(), Instant::now());
        let mut session = Session::default();
        runtime::run(&mut screen, &mut app, &mut receiver, &sender, &mut session)
            .await
            .unwrap();
        let events = app.model().counts();
        (
            screen.frames,
            events,
            process_cpu_secs() - cpu,
            wall.elapsed().as_secs_f64(),
        )
    });
    println!(
        "loop at {RATE} events/s for {wall:.1} s: {frames} frames ({:.0}/s), CPU {:.1}% of one \
         core; {} alive, {} exited in the tree at the end",
        frames as f64 / wall,
        cpu / wall * 100.0,
        events.alive,
        events.exited,
    );
}

/// How fast the real loop plays a recording.
fn replay_at_max_speed(runtime: &tokio::runtime::Runtime) {
    // A recording of the machine and REPLAYED events of its build, played by the real
    // loop as fast as it goes, drawing at most 30 frames a second.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("build.fwrec");
    let start = clock::boottime_ns();
    let mut writer = Writer::new(
        File::create(&path).unwrap(),
        &Info::here("eBPF", start),
        &snapshot(PROCESSES, start),
    )
    .unwrap();
    let mut workload = Workload::new(start, 10_000);
    let mut recorded = 0u64;
    for _ in 0..REPLAYED / 50_000 {
        for event in workload.generate(50_000, MAKE_PID, 16) {
            writer.push(&event).unwrap();
            recorded += 1;
        }
    }
    writer.finish(start + REPLAYED as u64 * 10_000).unwrap();
    let (frames, events, cpu, wall) = runtime.block_on(async {
        let mut replay = Replay::open(&path).unwrap();
        replay.set_speed(Speed::Max);
        let mut app = replay::start(
            "build.fwrec",
            &replay,
            false,
            Users::system(),
            Default::default(),
        );
        let (sender, mut receiver) = runtime::channel();
        let mut session = Session {
            feed: Some(Box::new(Player::new(replay))),
            ..Session::default()
        };
        let mut screen = StopAtEnd {
            screen: Counted {
                screen: discarding_terminal(),
                frames: 0,
            },
            stop: sender.clone(),
        };
        let (cpu, wall) = (process_cpu_secs(), Instant::now());
        runtime::run(&mut screen, &mut app, &mut receiver, &sender, &mut session)
            .await
            .unwrap();
        let events = app.replay_status().unwrap().position.events;
        (
            screen.screen.frames,
            events,
            process_cpu_secs() - cpu,
            wall.elapsed().as_secs_f64(),
        )
    });
    assert_eq!(events, recorded);
    println!(
        "replay at max speed in the loop: {events} events in {wall:.2} s = {:.0} events/s \
         ({:.0} per CPU-second), {frames} frames",
        events as f64 / wall,
        events as f64 / cpu,
    );
}
