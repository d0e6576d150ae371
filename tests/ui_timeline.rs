//! The timeline pane in the real binary in a real terminal (tmux): in a replay of the demo
//! recording, a click on a time of its axis seeks the replay there.

#[allow(dead_code)]
#[path = "common/tmux.rs"]
mod tmux;

use tmux::Tmux;

/// A left click at `column`, `row` (from 0), as a terminal reports it with SGR mouse
/// reporting on: press, then release.
fn click(column: usize, row: usize) -> String {
    let (x, y) = (column + 1, row + 1);
    format!("\x1b[<0;{x};{y}M\x1b[<0;{x};{y}m")
}

/// The first (or `last`) label on the timeline's axis: its column and row, and the time
/// it names (`HH:MM:SS.mmm`: the demo is half a second long).
fn label(screen: &str, last: bool) -> (usize, usize, String) {
    let lines: Vec<&str> = screen.lines().collect();
    let Some(row) = lines.iter().rposition(|l| l.starts_with("└ ↑↓ pick")) else {
        panic!("no timeline:\n{screen}");
    };
    let axis = lines[row - 1];
    let at = if last {
        axis.rfind('|')
    } else {
        axis.find('|')
    };
    let Some(at) = at else {
        panic!("no label on the axis:\n{screen}");
    };
    let time: String = axis[at + 1..].chars().take(12).collect();
    assert!(time.len() == 12 && time.as_bytes()[8] == b'.', "{axis}");
    (axis[..at].chars().count(), row - 1, time)
}

#[test]
fn a_click_on_the_axis_seeks_the_replay_to_the_time_it_names() {
    let tmux = Tmux::start("timeline");
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo.fwrec");
    tmux.start_ui(&format!("replay {demo}"));
    tmux.wait_for("the replay's end", |s| s.contains("│ ended 1x "));
    // The make's subtree in the timeline, at the end of the replay.
    tmux.type_text("/", false);
    tmux.type_text("make -s", true);
    tmux.wait_for("make", |s| s.contains("[exit 0] make -s -C"));
    tmux.type_text("T", false);
    let screen = tmux.wait_for("the timeline", |s| s.contains("┌ Timeline"));
    // Back to its first label, paused there at once (the click and `s` read together).
    let (column, row, _) = label(&screen, false);
    tmux.type_text(&format!("{}s", click(column, row)), false);
    let screen = tmux.wait_for("a pause", |s| s.contains("│ paused 1x "));
    // Paused, a click on the last label moves it exactly there.
    let (column, row, last) = label(&screen, true);
    tmux.type_text(&click(column, row), false);
    let status = format!("│ paused 1x {last} ");
    let screen = tmux.wait_for("the replay at the label's time", |s| s.contains(&status));
    assert!(screen.contains("┌ Timeline"), "{screen}");
    tmux.type_text("q", false);
    tmux.assert_restored("forkwatch-tui");
}
