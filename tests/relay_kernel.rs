//! The probe's relay map against the real kernel: a target is its pid and start time, so
//! a process that took a target's pid gets nothing, and a target that exits is emptied
//! from the map by the probe.

// Both serve other tests too.
#[allow(dead_code)]
#[path = "common/holder.rs"]
mod holder;
#[allow(dead_code)]
#[path = "common/receiver.rs"]
mod receiver;
#[path = "common/relay_entries.rs"]
mod relay_entries;

use std::{process::Command, time::Duration};

use forkwatch::source::ebpf::{Probe, ProbeOptions};
use receiver::Receiver;
use relay_entries::{every_fork_to, key_of};

const SIGNAL: i32 = 40;

fn fork_once() {
    assert!(Command::new("/bin/true").status().unwrap().success());
}

#[tokio::test]
async fn a_process_that_took_a_targets_pid_gets_nothing_and_an_exited_target_is_emptied() {
    let mut probe = Probe::load(&ProbeOptions {
        kernel_relay: true,
        ..ProbeOptions::default()
    })
    .unwrap();
    let mut relay = probe.take_kernel_relay().unwrap().unwrap();

    let mut first = Receiver::spawn(SIGNAL);
    let target = key_of(first.pid());
    let slot = relay.add(&every_fork_to(target, SIGNAL)).unwrap();
    fork_once();
    assert_eq!(
        first.next(Duration::from_secs(10)).map(|r| r.code),
        Some(libc::SI_KERNEL)
    );
    assert!(!relay.emptied(slot));
    drop(first);
    // The probe saw its target exit.
    assert!(relay.emptied(slot));

    // Another process with its pid, started in a later tick: not the target.
    std::thread::sleep(Duration::from_millis(30));
    let mut second = Receiver::spawn_at(SIGNAL, target.pid).expect("the pid is free again");
    assert_ne!(key_of(second.pid()), target);
    // The old target named again, as a rule that missed its exit would.
    let slot = relay.add(&every_fork_to(target, SIGNAL)).unwrap();
    fork_once();
    fork_once();
    assert_eq!(
        second.next(Duration::from_millis(300)),
        None,
        "the pid is another's"
    );
    let counts = relay.counts(slot).unwrap();
    assert_eq!(counts.sent, 0);
    assert!(counts.target_gone >= 2, "{counts:?}");
    relay.remove(slot).unwrap();
}
