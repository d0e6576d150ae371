//! A relay target: blocks the relayed signal, reads each one with sigwaitinfo and prints
//! its siginfo fields, read the way a program written for relay-fork or kmonitor reads them.
//!
//! ```sh
//! cargo run --example relay_receiver -- [--layout relayfork|kmonitor] [SIGNAL]
//! sudo forkwatch-tui relay --to <the pid it prints> [--layout ...] [--signal SIGNAL]
//! ```

use std::process::ExitCode;

use forkwatch::{
    event::KindName,
    tracker::rules::{Layout, RtSignal},
};

fn main() -> ExitCode {
    let mut layout = Layout::default();
    let mut signal = RtSignal::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let parsed = match arg.as_str() {
            "--layout" => args.next().unwrap_or_default().parse().map(|l| layout = l),
            _ => arg.parse().map(|s| signal = s),
        };
        if let Err(e) = parsed {
            eprintln!("relay_receiver: {e}");
            eprintln!("usage: relay_receiver [--layout relayfork|kmonitor] [SIGNAL]");
            return ExitCode::FAILURE;
        }
    }

    // The signal must be blocked (in every thread, and this program has one) so that it
    // waits in the queue for sigwaitinfo instead of running its default action: termination.
    // SAFETY: plain libc calls on a sigset_t that lives on this stack.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signal.number());
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    println!(
        "relay_receiver: pid {} waiting for {signal} (signal {}) in the {layout} layout",
        std::process::id(),
        signal.number()
    );

    loop {
        // SAFETY: siginfo_t is plain data; sigwaitinfo fills it.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        if unsafe { libc::sigwaitinfo(&set, &mut info) } < 0 {
            continue; // EINTR: a stop and continue, for instance.
        }
        // SAFETY: an SI_QUEUE or SI_KERNEL siginfo carries si_pid, si_uid and si_value.
        let (pid, uid, value) = unsafe { (info.si_pid(), info.si_uid(), info.si_value()) };
        // si_value.sival_int is the first 4 bytes of the union.
        // SAFETY: reads an int from the start of the sigval, which is at least that big.
        let int = unsafe { std::ptr::read((&raw const value).cast::<libc::c_int>()) };
        let (code, pid) = match info.si_code {
            libc::SI_QUEUE => ("SI_QUEUE", pid),
            // Sent by the probe (relay --path kernel): the kernel leaves si_pid 0, and the
            // pid the layout puts there is in the high half of the 64-bit si_value.
            libc::SI_KERNEL => ("SI_KERNEL", (value.sival_ptr as u64 >> 32) as libc::pid_t),
            _ => ("neither SI_QUEUE nor SI_KERNEL", pid),
        };
        let meaning = match layout {
            Layout::RelayFork => format!("process {int}, child of {pid}"),
            Layout::KMonitor => {
                let kind = KindName::ALL
                    .into_iter()
                    .find(|&k| k.kmonitor_bit() == Some(int))
                    .map_or("unknown event", KindName::as_str);
                format!("{kind} of process {pid} (uid {uid})")
            }
        };
        println!(
            "signal={} si_code={}({code}) si_pid={pid} si_uid={uid} si_value={int} (0x{int:x}): {meaning}",
            info.si_signo, info.si_code
        );
    }
}
