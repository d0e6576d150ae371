//! Byte budgets on screen: exited processes the model let go of, events the event log
//! pane let go of, and events that did not fit while a re-sync held them back.

use super::{
    resync::{LATE, resyncing_machine},
    *,
};
use crate::{event::MAX_ARGV_BYTES, tracker::model::Config};

/// An exec of `n` empty arguments.
fn empties(process: P, ts_ms: u64, n: usize) -> Event {
    process.event(
        ts_ms,
        "true",
        Kind::Exec {
            filename: "/bin/true".into(),
            argv: Argv::from_args(std::iter::repeat_n("", n)),
            argv_truncated: false,
            filename_truncated: false,
            argv_unreadable: false,
        },
    )
}

#[test]
fn exited_processes_let_go_for_memory_are_counted_in_the_status_line() {
    let mut model = Model::new(Config {
        exited_bytes: 256 << 10,
        ..Config::default()
    });
    model.seed(&machine_processes());
    let mut app = App::new(model, SourceInfo::default(), noon_clock(), 990 * S, users());
    let mut events = Vec::new();
    for i in 0..100 {
        let child = P {
            pid: 2000 + i,
            ppid: 812,
            start_ms: 995_000 + u64::from(i),
            uid: 1000,
        };
        events.push(child.event(child.start_ms, "bash", Kind::Fork));
        events.push(empties(child, child.start_ms, 8000));
        events.push(child.exit(child.start_ms, "true", ExitStatus::Code(0)));
    }
    update(&mut app, AppEvent::Events(events));
    let counts = app.model().counts();
    assert!(counts.dropped_for_memory > 80, "{counts:?}");
    let line = screen(&mut app, 120, 3).lines().last().unwrap().to_owned();
    assert!(
        line.contains(&format!(
            "6 processes, {} exited, {} dropped for memory │",
            counts.exited, counts.dropped_for_memory
        )),
        "{line}"
    );
}

#[test]
fn the_event_log_pane_says_how_many_it_let_go_for_memory() {
    let mut app = machine();
    key(&mut app, KeyCode::Char('e'));
    let batch: Vec<Event> = (0..200)
        .map(|i| empties(CC_MAIN, 1_000_000 + i, MAX_ARGV_BYTES))
        .collect();
    update(&mut app, AppEvent::Events(batch));
    let shown = screen(&mut app, 100, 20);
    let title = shown
        .lines()
        .find(|l| l.starts_with("┌ Events"))
        .unwrap_or_else(|| panic!("{shown}"));
    let dropped: u64 = title
        .strip_prefix("┌ Events (")
        .and_then(|t| t.split_once(" older dropped for memory) "))
        .unwrap_or_else(|| panic!("{title}"))
        .0
        .parse()
        .unwrap();
    // The 10 events of the make and some of the 200 big ones.
    assert!((20..200).contains(&dropped), "{title}");
}

#[test]
fn events_beyond_the_held_bytes_of_a_resync_are_counted_lost() {
    let mut app = resyncing_machine();
    // 40 MiB of execs come while /proc is read, and a loss report of 5.
    let mut batch: Vec<Event> = (0..5_000)
        .map(|i| empties(LATE, 1_000_100 + i, MAX_ARGV_BYTES))
        .collect();
    batch.push(Event::lost(1_000_200 * MS, 5));
    update(&mut app, AppEvent::Events(batch));
    update(&mut app, AppEvent::Snapshot(Ok(machine_processes())));
    let lost = app.model().counts().lost;
    // 32 MiB held: about 4,000 of the execs; the rest counted lost, with the 3 before
    // and the report's 5.
    assert!((3 + 900 + 5..3 + 1_100 + 5).contains(&lost), "{lost}");
    let line = screen(&mut app, 100, 3).lines().last().unwrap().to_owned();
    assert!(line.contains(&format!("│ {lost} lost │")), "{line}");
}
