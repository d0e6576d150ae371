//! A pid match follows its process, not its pid, against real processes and real
//! signals: the matched process's exit is lost and its pid goes to another process, as
//! clone3's set_tid (root) can force, or a re-sync with /proc finds it gone.

// What a holder has pending is not looked at here.
#[allow(dead_code)]
#[path = "common/holder.rs"]
mod holder;
#[path = "common/receiver.rs"]
mod receiver;
// Some of it serves tests/relay.rs only.
#[allow(dead_code)]
#[path = "common/relays.rs"]
mod relays;

use std::time::Duration;

use forkwatch::{
    clock,
    event::{Comm, Creds, Event, ExitStatus, Kind, ProcessKey},
    proc::snapshot::{self, ProcessInfo},
    tracker::{
        model::Model,
        rules::{Notice, RtSignal, RuleId},
    },
};
use holder::Holder;
use receiver::Receiver;
use relays::Relays;

/// Returns once the clock is past the tick `key` started in: a process started from now
/// on has another start time, and so another key, even with the same pid.
fn wait_past_start_tick(key: ProcessKey) {
    while clock::start_ticks(clock::boottime_ns()) <= key.start_ticks {
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn birth(pid: u32, ppid: u32, start_ns: u64) -> Event {
    Event {
        ts_ns: start_ns,
        pid,
        tid: pid,
        ppid,
        start_ns,
        comm: Comm::from("test"),
        creds: Some(Creds::default()),
        cgroup_id: None,
        pid_ns: None,
        cgroup: None,
        kernel_thread: false,
        kind: Kind::Fork,
    }
}

/// A relay of `matched`'s forks to `receiver`, made now.
fn relay_forks_of(matched: u32, receiver: &Receiver, model: Option<Model>) -> Relays {
    let mut relays = model.map_or_else(Relays::new, Relays::with_tree);
    let spec = format!("to={}:pid={matched}", receiver.pid());
    let mut notices = Vec::new();
    relays.add(spec.parse().unwrap(), &mut notices).unwrap();
    assert_eq!(notices, []);
    relays
}

/// A process of this test, its pid freed, then taken by another: the two as /proc showed
/// them, with a relay of the first one's forks made while it lived.
fn pid_taken_again(receiver: &Receiver) -> (Relays, ProcessInfo, ProcessInfo, Holder) {
    let signal = RtSignal::default().number();
    // Another process may take the pid before the test does.
    (0..50)
        .find_map(|_| {
            let matched = Holder::hold(signal);
            let first = snapshot::read_process(matched.pid()).unwrap();
            let relays = relay_forks_of(first.pid, receiver, None);
            drop(matched); // killed and reaped: its pid is free
            wait_past_start_tick(ProcessKey::new(first.pid, first.start_ns));
            let holder = Holder::hold_pid(signal, first.pid).ok()?;
            let second = snapshot::read_process(holder.pid()).unwrap();
            Some((relays, first, second, holder))
        })
        .expect("could not take the matched process's pid")
}

#[tokio::test]
async fn a_pid_match_whose_exit_was_lost_ends_when_its_pid_is_taken_again() {
    let mut receiver = Receiver::spawn(RtSignal::default().number());
    let (mut relays, first, second, _holder) = pid_taken_again(&receiver);
    let pid = first.pid;
    let mut notices = Vec::new();
    let events = [
        // A fork of the process matched: relayed.
        birth(9001, pid, first.start_ns + 1_000),
        // Its exit was lost; the next process with its pid is born, and forks.
        Event::lost(second.start_ns - 1, 1),
        birth(pid, 1, second.start_ns),
        birth(9002, pid, second.start_ns + 1_000),
    ];
    for event in &events {
        relays.handle(event, &mut notices);
    }
    assert_eq!(
        notices,
        [
            Notice::EventsLost { count: 1 },
            Notice::MatchEnded {
                rule: RuleId(1),
                pid
            }
        ]
    );
    assert!(!relays.is_live());
    let rule = &relays.rules()[0];
    assert_eq!((rule.matched(), rule.sent()), (1, 1));
    let got = receiver.next(Duration::from_secs(20)).expect("no signal");
    assert_eq!((got.pid, got.value), (pid as i32, 9001));
}

#[tokio::test]
async fn a_pid_match_ends_when_a_resync_finds_its_process_gone() {
    let receiver = Receiver::spawn(RtSignal::default().number());
    let matched = Holder::hold(RtSignal::default().number());
    let pid = matched.pid();
    let mut model = Model::default();
    model.seed(&snapshot::take().unwrap());
    let mut relays = relay_forks_of(pid, &receiver, Some(model));
    // Its exit event was lost: the re-sync after the loss finds it gone.
    drop(matched);
    let mut notices = Vec::new();
    relays.resync(&snapshot::take().unwrap(), &mut notices);
    assert_eq!(
        notices,
        [Notice::MatchEnded {
            rule: RuleId(1),
            pid
        }]
    );
    assert!(!relays.is_live());
    // A later exit with its status changes nothing.
    let exit = Event {
        kind: Kind::Exit(ExitStatus::Code(0), None),
        ..birth(pid, 1, 0)
    };
    relays.handle(&exit, &mut notices);
    assert_eq!(notices.len(), 1);
}
