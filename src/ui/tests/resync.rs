//! Re-syncs with /proc after a loss: what the snapshot changes, the events held back
//! meanwhile, and how often one is asked for.

use super::*;

/// A process of alice's shell that starts while a re-sync reads /proc.
pub(super) const LATE: P = P {
    pid: 950,
    ppid: 812,
    start_ms: 1_000_100,
    uid: 1000,
};

/// The machine after 3 events were lost: it asked for a re-sync with /proc.
pub(super) fn resyncing_machine() -> App {
    let mut app = machine();
    update(&mut app, AppEvent::Events(vec![Event::lost(1_000 * S, 3)]));
    assert_eq!(app.take_requests(), [Request::Snapshot]);
    app
}

#[test]
fn lost_events_resync_with_proc_at_most_once_a_second() {
    let mut app = resyncing_machine();
    // Events that come while the snapshot is taken wait for it.
    update(
        &mut app,
        AppEvent::Events(LATE.start("bash", &["true"]).to_vec()),
    );
    assert!(app.model().get(LATE.key()).is_none());
    // The snapshot: cron is gone, a process unknown so far is there.
    let snapshot = vec![
        info(1, 0, 1, "init", &["/sbin/init"], 0),
        info(400, 1, 10, "sshd", &["/usr/sbin/sshd", "-D"], 0),
        info(812, 400, 500, "bash", &["-bash"], 1000),
        info(900, 812, 990, "make", &["make", "-j2"], 1000),
        info(903, 900, 999, "ld", &["ld"], 1000),
        info(777, 1, 999, "sleep", &["sleep", "60"], 0),
    ];
    update(&mut app, AppEvent::Snapshot(Ok(snapshot)));
    let model = app.model();
    let cron = model.get(ProcessKey::new(500, 20 * S)).unwrap();
    assert_eq!(cron.exit.unwrap().status, ExitStatus::Unknown);
    assert!(model.get(ProcessKey::new(777, 999 * S)).unwrap().is_alive());
    assert!(model.get(LATE.key()).is_some(), "held events applied after");
    // Another loss within the second waits for the next tick past it.
    update(
        &mut app,
        AppEvent::Events(vec![Event::lost(1_000_500 * MS, 1)]),
    );
    assert_eq!(app.take_requests(), []);
    update(&mut app, AppEvent::Tick(1_000_600 * MS));
    assert_eq!(app.take_requests(), []);
    update(&mut app, AppEvent::Tick(1_001_000 * MS));
    assert_eq!(app.take_requests(), [Request::Snapshot]);
    assert_eq!(app.model().counts().lost, 4);
}
