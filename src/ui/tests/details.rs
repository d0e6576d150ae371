//! The details pane's lines of what a process costs: what the kernel accounted to one that
//! exited, and the latest sample of one that runs.

use super::*;
use crate::event::{Sample, State, Usage};

/// `strip app` in the make: started at 999.6 s, ended at 999.9 s.
const STRIP: P = P {
    pid: 904,
    ppid: 900,
    start_ms: 999_600,
    uid: 1000,
};

fn sample(cpu_ns: u64, rss_bytes: u64) -> Kind {
    Kind::Sample(Sample {
        cpu_ns,
        rss_bytes,
        state: State::from_letter(b'R'),
        threads: 4,
    })
}

/// The make with `strip` ended (its usage known) and the linker sampled twice.
fn costed_machine() -> App {
    let mut app = machine();
    let usage = Usage {
        user_ns: 1_250_000_000,
        system_ns: 250_000_000,
        max_rss_bytes: 200 << 20,
        read_bytes: Some(4096),
        write_bytes: Some(3 << 20),
        voluntary_switches: 12,
        involuntary_switches: 3,
    };
    let mut events = STRIP.start("make", &["strip", "app"]).to_vec();
    events.push(STRIP.event(
        999_900,
        "strip",
        Kind::Exit(ExitStatus::Code(0), Some(Box::new(usage))),
    ));
    events.push(LD.event(999_700, "ld", sample(5 * S, 8 << 20)));
    events.push(LD.event(999_950, "ld", sample(5 * S + 245 * MS, 3_250_000)));
    update(&mut app, AppEvent::Events(events));
    app
}

fn details_of(app: &mut App, search: &str) -> String {
    key(app, KeyCode::Char('/'));
    type_text(app, search);
    key(app, KeyCode::Enter);
    key(app, KeyCode::Char('d'));
    screen(app, 160, 40)
}

#[test]
fn details_show_what_an_exited_process_cost() {
    let mut app = costed_machine();
    let shown = details_of(&mut app, "strip");
    for line in [
        "│strip  pid 904  ppid 900",
        "│state    exited after 300.0ms: exit 0",
        "│cpu      1.50s (user 1.25s, system 0.25s)",
        "│memory   200M at most",
        "│disk i/o 4K read, 3.0M written",
        "│switches 12 voluntary, 3 involuntary",
        "│argv     strip app",
    ] {
        assert!(shown.contains(line), "no {line:?} in\n{shown}");
    }
}

#[test]
fn details_show_the_latest_sample_of_a_running_process() {
    let mut app = costed_machine();
    let shown = details_of(&mut app, "util.o");
    for line in [
        "│ld  pid 903  ppid 900",
        "│cpu      98.0% now, 5.25s in all",
        "│memory   3.1M resident, 8.0M at most",
        "│sampled  R (running), 4 threads, 50.0ms ago",
    ] {
        assert!(shown.contains(line), "no {line:?} in\n{shown}");
    }
}

/// Without a sample or an exit's usage (netlink, procfs), the pane has no cost lines.
#[test]
fn details_without_usage_have_no_cost_lines() {
    let mut app = machine();
    let shown = details_of(&mut app, "util.c");
    assert!(shown.contains("│cc  pid 902"), "{shown}");
    for label in ["│cpu ", "│memory ", "│disk i/o ", "│sampled "] {
        assert!(!shown.contains(label), "{label:?} in\n{shown}");
    }
}
