//! Signals from the UI, in a real terminal (tmux): `\` filters the tree to a child of this
//! test, `/` selects it, `k` sends it the signal picked in the dialog after a confirmation
//! that names it, and it dies of that signal; F10 quits.

#[allow(dead_code)]
#[path = "common/tmux.rs"]
mod tmux;

use std::{
    os::unix::process::ExitStatusExt,
    process::{Child, Command, ExitStatus},
    time::{Duration, Instant},
};

use tmux::{TIMEOUT, Tmux};

const BIN: &str = env!("CARGO_BIN_EXE_forkwatch-tui");

/// A `sleep` of this test, killed when dropped if a failed test left it running.
struct Sleep(Child);

impl Drop for Sleep {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Sleep {
    /// How it ended; fails if it has not within [`TIMEOUT`], a guard against a hang.
    fn ended(&mut self) -> ExitStatus {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the sleep is still running");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

#[test]
fn k_sends_the_signal_picked_to_the_selected_process() {
    let token = format!(
        "7{}{}",
        std::process::id(),
        forkwatch::clock::boottime_ns() % 1_000_000
    );
    let mut sleep = Sleep(
        Command::new("sleep")
            .arg(format!("3600.{token}"))
            .spawn()
            .unwrap(),
    );
    let pid = sleep.0.id();
    let tmux = Tmux::start("signal");
    tmux.start_ui("");

    tmux.type_text("\\", false);
    tmux.type_text(&token, true);
    tmux.wait_for("the filtered tree", |s| {
        s.contains(&format!("filter `{token}`")) && s.contains(&format!("sleep 3600.{token}"))
    });
    tmux.type_text("/", false);
    tmux.type_text(&token, true);
    tmux.type_text("k", false);
    tmux.wait_for("the signal dialog", |s| {
        s.contains(&format!("to pid {pid} (sleep 3600.{token})"))
    });
    // From SIGTERM up: SIGALRM, SIGUSR2, SIGUSR1.
    for _ in 0..3 {
        tmux.key("Up");
    }
    tmux.key("Enter");
    // The command line may wrap onto the next line of the dialog.
    tmux.wait_for("the confirmation", |s| {
        s.contains(&format!("Send SIGUSR1 (10) to pid {pid} (sleep"))
    });
    tmux.type_text("y", false);
    assert_eq!(sleep.ended().signal(), Some(libc::SIGUSR1));
    tmux.wait_for("what came of it", |s| {
        s.contains(&format!("SIGUSR1 sent to pid {pid}"))
    });

    tmux.key("F10");
    tmux.assert_restored(BIN);
}
