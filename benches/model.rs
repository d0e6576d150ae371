//! Process model figures: apply rate on a realistic mix of events, resident memory with
//! 10,000 live processes and the default history, and the cost of the tree's rows; then
//! the apply rate with pins following the build and a quiet service.
//! `cargo bench --bench model` prints them; the targets are 1,000,000 events/s, 100 MiB
//! and a fraction of a 5 ms frame.

mod machine;

use std::{hint::black_box, slice};

use forkwatch::{
    event::Event,
    tracker::{Tracker, model::Model},
    ui::{TreeOptions, TreeView},
};
use machine::{MS, Workload, rss_mib, snapshot, timed};

fn main() {
    let now = 3_600_000 * MS;
    // The snapshot's last process: the build's make.
    let make_pid = 300 + 9_999;

    // Resident memory, first, while nothing else has been allocated: 10,000 live
    // processes, and enough churn to fill the tree's lingering exits and the history.
    let before = rss_mib();
    let mut model = Model::default();
    model.seed(&snapshot(10_000, now));
    let mut workload = Workload::new(now, 5_000);
    for _ in 0..20 {
        for e in workload.generate(50_000, make_pid, 16) {
            model.apply(&e);
        }
    }
    let counts = model.counts();
    println!(
        "memory: {:.1} MiB resident ({:.1} MiB more than before the model) with {} alive, \
         {} exited in the tree, {} in the history",
        rss_mib(),
        rss_mib() - before,
        counts.alive,
        counts.exited,
        counts.history
    );

    // The tree's rows, rebuilt after every event as under a steady stream.
    let mut view = TreeView::new();
    for filter in [None, Some("service-7")] {
        let options = TreeOptions {
            filter: filter.map(String::from),
            ..TreeOptions::default()
        };
        view.rows(&model, &options);
        let more = workload.generate(2_000, make_pid, 16);
        let mut rows = 0;
        let (wall, cpu) = timed(|| {
            for e in &more {
                model.apply(e);
                rows = view.rows(&model, &options).len();
            }
        });
        println!(
            "rows{}: {rows} rows, {:.0} us per rebuild ({:.0} us of CPU)",
            filter.map_or(String::new(), |f| format!(" filtered by `{f}`")),
            wall / more.len() as f64 * 1e6,
            cpu / more.len() as f64 * 1e6,
        );
    }
    drop(model);

    // Apply rate.
    let mut model = Model::default();
    model.seed(&snapshot(10_000, now));
    let events = Workload::new(now, 5_000).generate(2_000_000, make_pid, 16);
    let (wall, cpu) = timed(|| {
        for e in &events {
            black_box(model.apply(e));
        }
    });
    println!(
        "apply: {} events, {:.2} M events/s ({:.2} M events/s of CPU)",
        events.len(),
        events.len() as f64 / wall / 1e6,
        events.len() as f64 / cpu / 1e6,
    );

    apply_with_pins(&events, now, make_pid);
}

/// The apply rate through the tracker, with two pins: the build (every event is one of its
/// members', and is logged) and a service that does nothing.
fn apply_with_pins(events: &[Event], now: u64, make_pid: u32) {
    let mut model = Model::default();
    model.seed(&snapshot(10_000, now));
    let mut tracker = Tracker::new(model, now);
    let (pins, model) = tracker.pins_mut();
    for pid in [make_pid, 300] {
        pins.add_pid(model, pid).expect("in the snapshot");
    }
    let (wall, cpu) = timed(|| {
        for e in events {
            black_box(tracker.apply(slice::from_ref(e)));
        }
    });
    let build = &tracker.pins().list()[0];
    println!(
        "apply with 2 pins: {:.2} M events/s ({:.2} M events/s of CPU); the build's pin has \
         {} alive, {} joined, {} events logged",
        events.len() as f64 / wall / 1e6,
        events.len() as f64 / cpu / 1e6,
        build.alive(),
        build.counts().joined,
        build.log().len() as u64 + build.log_omitted(),
    );
}
