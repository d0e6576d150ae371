//! The real binary in a real terminal (tmux, each test on a server of its own): it draws
//! a process tree started here under its parent, shows only a pinned tree, relays a
//! subtree's forks to a receiver as a rule made in its dialog, and gives the terminal back
//! as it found it on `q`, on SIGTERM, and after an error at start; an ordinary user
//! replays the demo recording in it; `--record` writes a recording that ends properly on
//! `q`.

#[path = "common/nobody.rs"]
mod nobody;
// Of these two only a receiver serves here.
#[allow(dead_code)]
#[path = "common/holder.rs"]
mod holder;
#[path = "common/program_copy.rs"]
mod program_copy;
#[allow(dead_code)]
#[path = "common/receiver.rs"]
mod receiver;
// Some of it serves the tests of hostile text only.
#[path = "common/shell.rs"]
mod shell;
#[allow(dead_code)]
#[path = "common/tmux.rs"]
mod tmux;
#[path = "common/trees.rs"]
mod trees;

use std::{
    process::Command,
    time::{Duration, Instant},
};

use nobody::Nobody;
use receiver::Receiver;
use shell::Shell;
use tmux::{TIMEOUT, Tmux};
use trees::{Chain, Gate};

const BIN: &str = env!("CARGO_BIN_EXE_forkwatch-tui");
/// `sh -c 'sleep 3600.TOKEN & sleep 3601.TOKEN & wait' fwTOKEN`: a tree whose three
/// processes all have TOKEN (digits unique to this run) in their argv. Killed when
/// dropped.
struct Tree {
    shell: Shell,
    token: String,
}

impl Tree {
    fn start() -> Self {
        let token = format!(
            "7{}{}",
            std::process::id(),
            forkwatch::clock::boottime_ns() % 1_000_000
        );
        let script = format!("sleep 3600.{token} & sleep 3601.{token} & wait");
        let shell = Shell::new(
            Command::new("sh")
                .args(["-c", &script, &format!("fw{token}")])
                .spawn()
                .unwrap(),
        );
        // Ready when both sleeps run.
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let running = shell
                .children()
                .iter()
                .filter(|pid| {
                    std::fs::read(format!("/proc/{pid}/cmdline"))
                        .is_ok_and(|argv| argv.starts_with(b"sleep\0"))
                })
                .count();
            if running == 2 {
                break;
            }
            assert!(Instant::now() < deadline, "the sleeps did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        Self { shell, token }
    }
}

/// The column where `needle` starts in `line`, in characters (every character on these
/// screens is one column wide).
fn column(line: &str, needle: &str) -> usize {
    line[..line.find(needle).unwrap()].chars().count()
}

#[test]
fn draws_a_new_process_tree_under_its_parent_and_restores_the_terminal_on_q() {
    let tmux = Tmux::start("tree");
    tmux.start_ui("");
    // Started after the UI: it comes to the UI as events, not from /proc.
    let tree = Tree::start();
    let token = &tree.token;

    // Filter on the token: the tree with its ancestors, drawn as soon as it is known.
    tmux.type_text("f", false);
    tmux.type_text(token, true);
    let screen = tmux.wait_for("the filtered process tree", |s| {
        s.contains(&format!("filter `{token}`"))
            && s.contains(&format!("─ sleep 3600.{token}"))
            && s.contains(&format!("─ sleep 3601.{token}"))
    });
    let lines: Vec<&str> = screen.lines().collect();
    let at = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no `{needle}` in:\n{screen}"))
    };
    let shell = at(&format!("sh -c sleep 3600.{token}"));
    let (first, second) = (
        at(&format!("─ sleep 3600.{token}")),
        at(&format!("─ sleep 3601.{token}")),
    );
    // The shell is under this test's process: the nearest row above it that is less
    // indented, by one level.
    let indent = |line: &str| column(line, "─ ");
    let parent = lines[..shell]
        .iter()
        .rev()
        .find(|l| l.contains("─ ") && indent(l) < indent(lines[shell]))
        .unwrap_or_else(|| panic!("no parent above the shell:\n{screen}"));
    let me = std::process::id().to_string();
    assert_eq!(
        parent.split_whitespace().next(),
        Some(me.as_str()),
        "the shell's parent is not this test:\n{screen}"
    );
    assert_eq!(indent(lines[shell]), indent(parent) + 3, "{screen}");
    // Its two children below it, one level deeper again, with tree guides.
    assert_eq!((first, second), (shell + 1, shell + 2), "{screen}");
    assert!(lines[first].contains("├─ sleep"), "{screen}");
    assert!(lines[second].contains("└─ sleep"), "{screen}");
    assert_eq!(indent(lines[first]), indent(lines[shell]) + 3, "{screen}");
    assert_eq!(indent(lines[second]), indent(lines[shell]) + 3, "{screen}");

    // The details of the shell name this test among its parents.
    tmux.type_text("/", false);
    tmux.type_text(&format!("fw{token}"), true);
    tmux.type_text("d", false);
    let screen = tmux.wait_for("details", |s| s.contains("Details"));
    let parents = screen
        .lines()
        .find(|l| l.contains("parents"))
        .unwrap_or_else(|| panic!("no parents in:\n{screen}"));
    assert!(parents.contains(&format!(" {me} ")), "{screen}");

    tmux.type_text("q", false);
    tmux.assert_restored(BIN);
}

#[test]
fn sigterm_restores_the_terminal() {
    let tmux = Tmux::start("term");
    tmux.start_ui("--backend procfs");
    let ui = tmux.ui_pid();
    // SAFETY: kill has no memory effects.
    assert_eq!(unsafe { libc::kill(ui as i32, libc::SIGTERM) }, 0);
    tmux.assert_restored(BIN);
}

#[test]
fn an_error_at_start_is_one_line_on_the_normal_screen() {
    let tmux = Tmux::start("error");
    assert_eq!(
        tmux.fail_at_start("--buffer-mib 3"),
        [
            "forkwatch-tui: --buffer-mib: the eBPF ring buffer must be a power of two of at least 4096 bytes, not 3145728"
        ],
    );
}

#[test]
fn without_a_terminal_it_says_so_in_one_line() {
    let out = Command::new(BIN)
        .args(["--backend", "procfs"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "forkwatch-tui: the terminal UI needs a terminal on stdin and stdout; \
         `forkwatch-tui events` prints events instead\n"
    );
    assert!(out.stdout.is_empty());
}

/// This test's binary and the demo recording where an ordinary user can read them, and a
/// log file that uid 65534 owns: what that user has after a build.
struct Unprivileged {
    nobody: Nobody,
}

impl Unprivileged {
    fn new() -> Self {
        let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo.fwrec");
        let nobody = Nobody::with(&[BIN, demo]);
        let log = nobody.path("forkwatch.log");
        std::fs::write(&log, "").unwrap();
        std::os::unix::fs::chown(&log, Some(nobody::UID), Some(nobody::UID)).unwrap();
        Self { nobody }
    }

    /// `forkwatch-tui ARGS` run as uid and gid 65534 without supplementary groups, as a
    /// line for the shell.
    fn command(&self, args: &str) -> String {
        let mut command = self.nobody.command(&[], "forkwatch-tui");
        command
            .arg("--log")
            .arg(self.nobody.path("forkwatch.log"))
            .args(args.split_whitespace());
        std::iter::once(command.get_program())
            .chain(command.get_args())
            .map(|word| word.to_str().unwrap())
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn path(&self, name: &str) -> String {
        self.nobody.path(name).display().to_string()
    }
}

#[test]
fn an_ordinary_user_replays_the_demo_in_the_ui() {
    let tmux = Tmux::start("replay");
    let user = Unprivileged::new();
    tmux.type_text(
        &user.command(&format!("replay {}", user.path("demo.fwrec"))),
        true,
    );
    // It plays to its end (half a second of a build), where it stays.
    let screen = tmux.wait_for("the replay's end", |s| {
        s.contains("PID USER") && s.contains("│ ended 1x ")
    });
    assert!(
        screen.contains("│ recorded on vm (Linux 6.18.44-fc-v782)"),
        "{screen}"
    );
    // The make tree: make, then its first compiler under it. The search is for the
    // compiler: a selection below the screen scrolls it into the last row, make above it.
    tmux.type_text("/", false);
    tmux.type_text("cc -O2 -c main.c", true);
    let screen = tmux.wait_for("make", |s| {
        s.contains("[exit 0] make -s -C") && s.contains("[exit 0] cc -O2 -c main.c")
    });
    let lines: Vec<&str> = screen.lines().collect();
    let make = lines
        .iter()
        .position(|l| l.contains("[exit 0] make -s -C /tmp/tmp.8MxjTwABmC -j2"))
        .unwrap();
    assert!(
        lines[make + 1].contains("─ [exit 0] cc -O2 -c main.c -o main.o"),
        "{screen}"
    );
    assert!(
        column(lines[make + 1], "─ ") == column(lines[make], "─ ") + 3,
        "{screen}"
    );

    // Back to the start at a quarter of the speed (about two seconds to play), and pause
    // at once: it stays paused before the end; then it plays on to the end.
    tmux.type_text("[[{s", false);
    let screen = tmux.wait_for("pause", |s| s.contains("│ paused 1/4x "));
    assert!(!screen.contains("│ ended"), "{screen}");
    tmux.type_text("s", false);
    tmux.wait_for("play", |s| {
        s.contains("│ ▶ 1/4x ") || s.contains("│ ended 1/4x ")
    });
    tmux.wait_for("the end again", |s| s.contains("│ ended 1/4x "));

    // It runs as that user, with no capabilities.
    let status = std::fs::read_to_string(format!("/proc/{}/status", tmux.ui_pid())).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(field("Uid:"), ["65534"; 4], "{status}");
    assert_eq!(field("CapEff:"), ["0000000000000000"], "{status}");

    tmux.type_text("q", false);
    tmux.assert_restored("forkwatch-tui");
}

#[test]
fn a_file_that_is_not_a_recording_is_one_line_before_the_ui() {
    let tmux = Tmux::start("notrec");
    let user = Unprivileged::new();
    let text = user.path("notes.txt");
    std::fs::write(&text, "hello\n").unwrap();
    tmux.type_text(&user.command(&format!("replay {text}")), true);
    tmux.assert_restored("forkwatch-tui");
    assert_eq!(
        tmux.said(),
        [format!(
            "forkwatch-tui: cannot replay {text}: not a forkwatch recording (it is text)"
        )]
    );
}

#[test]
fn record_writes_what_the_ui_shows_and_finishes_on_quit() {
    let tmux = Tmux::start("record");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ui.fwrec");
    // The tree drawn before the recording starts is in it: the recording's snapshot.
    let tree = Tree::start();
    tmux.start_ui(&format!("--backend procfs --record {}", file.display()));
    tmux.wait_for("the recording segment", |s| s.contains("│ ● rec "));
    tmux.type_text("q", false);
    tmux.assert_restored(BIN);
    let said = tmux.said();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].starts_with("forkwatch-tui: recorded "), "{said:?}");

    // Closed properly, made with procfs, and its snapshot holds the tree.
    let mut reader = forkwatch::recording::Reader::open(&file).unwrap();
    assert_eq!(reader.info().backend, "procfs");
    while reader.next_batch(&mut Vec::new()).unwrap() {}
    assert!(reader.end().is_some(), "not closed properly");
    let sleep = format!("3600.{}", tree.token);
    assert!(
        reader
            .snapshot()
            .iter()
            .any(|p| p.argv.iter().last() == Some(sleep.as_bytes())),
        "the tree is not in the snapshot"
    );
}

#[test]
fn a_recording_that_cannot_be_created_is_one_line_before_the_ui() {
    let tmux = Tmux::start("norecord");
    assert_eq!(
        tmux.fail_at_start("--backend procfs --record /nonexistent-fw/ui.fwrec"),
        [
            "forkwatch-tui: cannot create the recording /nonexistent-fw/ui.fwrec: No such file \
             or directory (os error 2)"
        ]
    );
}

#[test]
fn the_pinned_only_view_shows_a_pinned_tree_and_hides_the_rest() {
    let tree = Tree::start();
    let token = &tree.token;
    // Not in the pinned tree, though its argv has the token too.
    let mut unrelated = Command::new("sleep")
        .arg(format!("3602.{token}"))
        .spawn()
        .unwrap();
    let tmux = Tmux::start("pin");
    tmux.start_ui(&format!("--pin {}", tree.shell.pid()));

    tmux.type_text("v", false);
    let screen = tmux.wait_for("the pinned tree", |s| {
        s.contains("only pinned shown")
            && s.contains(&format!("─ sleep 3600.{token}"))
            && s.contains(&format!("─ sleep 3601.{token}"))
    });
    assert!(
        screen.contains(&format!("[pin] sh -c sleep 3600.{token}")),
        "{screen}"
    );
    assert!(!screen.contains(&format!("3602.{token}")), "{screen}");
    // The same with a filter on the token, which the unrelated process matches: only the
    // view of pinned subtrees hides it.
    tmux.type_text("f", false);
    tmux.type_text(token, true);
    let screen = tmux.wait_for("the filtered pinned tree", |s| {
        s.contains(&format!("filter `{token}`")) && s.contains(&format!("─ sleep 3601.{token}"))
    });
    assert!(!screen.contains(&format!("3602.{token}")), "{screen}");
    tmux.type_text("v", false);
    tmux.wait_for("the unrelated process", |s| {
        !s.contains("only pinned shown") && s.contains(&format!("sleep 3602.{token}"))
    });

    tmux.type_text("q", false);
    tmux.assert_restored(BIN);
    let _ = unrelated.kill();
    let _ = unrelated.wait();
}

#[test]
fn a_relay_rule_made_in_the_dialog_signals_each_fork_of_a_pinned_subtree() {
    let signal = forkwatch::tracker::rules::RtSignal::default().number();
    let mut receiver = Receiver::spawn(signal);
    let gate = Gate::new();
    let chain = Chain::start(&gate, 3);
    let tmux = Tmux::start("relay");
    tmux.start_ui(&format!("--pin {}", chain.pid()));

    // The pins pane, with its one pin picked; r makes a rule for its subtree.
    tmux.type_text("P", false);
    tmux.wait_for("the pins pane", |s| s.contains("Esc tree"));
    tmux.type_text("r", false);
    tmux.wait_for("the relay dialog", |s| {
        s.contains(&format!("the subtree of {}", chain.pid()))
    });
    tmux.type_text(&receiver.pid().to_string(), true);
    tmux.wait_for("the rule", |s| s.contains("1 relay: 0 sent"));

    // Each was forked by the one before, after the rule was made.
    gate.open();
    let (born, _) = chain.finish();
    for (child, parent) in born {
        let got = receiver.next(TIMEOUT).expect("a signal per fork");
        assert_eq!((got.signo, got.code), (signal, libc::SI_QUEUE));
        assert_eq!(
            (got.pid, got.value),
            (parent as i32, child as i32),
            "si_pid is the parent, si_value the child"
        );
    }
    tmux.type_text("R", false);
    tmux.wait_for("the counts", |s| {
        s.contains("1 relay: 3 sent") && s.contains("3 events relayed")
    });

    tmux.type_text("q", false);
    tmux.assert_restored(BIN);
}

#[test]
fn a_relay_rule_sent_in_the_kernel_signals_from_the_probe_and_the_relays_pane_says_so() {
    let signal = forkwatch::tracker::rules::RtSignal::default().number();
    let mut receiver = Receiver::spawn(signal);
    let gate = Gate::new();
    let chain = Chain::start(&gate, 2);
    let tmux = Tmux::start("relay-kernel");
    tmux.start_ui(&format!(
        "--relay to={}:pid={}:path=kernel",
        receiver.pid(),
        chain.pid()
    ));
    tmux.wait_for("the rule", |s| s.contains("1 relay: 0 sent"));

    // The root forks one child; that child's fork is not the root's.
    gate.open();
    let (born, _) = chain.finish();
    let (child, parent) = born[0];
    let got = receiver
        .next(TIMEOUT)
        .expect("a signal for the root's fork");
    assert_eq!((got.signo, got.code, got.pid), (signal, libc::SI_KERNEL, 0));
    assert_eq!((got.value, got.value_high), (child as i32, parent as i32));
    tmux.type_text("R", false);
    tmux.wait_for("the counts", |s| {
        s.contains("1 relay: 1 sent") && s.contains("1 events relayed, signals sent in the kernel")
    });

    tmux.type_text("q", false);
    tmux.assert_restored(BIN);
}

#[test]
fn an_unknown_pin_is_one_line_before_the_terminal_is_taken() {
    let tmux = Tmux::start("badpin");
    // Above pid_max: no process has it.
    assert_eq!(
        tmux.fail_at_start("--pin 4194304"),
        ["forkwatch-tui: cannot pin: no process with pid 4194304"]
    );
}

#[test]
fn a_bad_relay_rule_is_one_line() {
    let out = Command::new(BIN)
        .args(["--backend", "procfs", "--relay", "to=1:signal=9"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "forkwatch-tui: --relay to=1:signal=9: SIGKILL (9) is not a real-time signal; \
         use a real-time signal: RTMIN+N, RTMAX-N or a number in 34..64\n"
    );
    let out = Command::new(BIN)
        .args(["--pin", "1", "events"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--pin is for the terminal UI, not for `events`"),
        "{stderr}"
    );
}
