//! A replay of two hosts on screen: each host a top-level row named after it, over its own
//! processes with their own pids, the same pids on both; the header names the hosts, and
//! what acts on live processes is refused as in any replay.

use std::{fs::File, path::Path};

use super::*;
use crate::{
    private_file,
    recording::{Info, Part, Reader, Replay, Writer, merge},
    ui::replay,
};

const START: u64 = 989 * S;

/// The machine's make recorded as host `host` to `dir/name`.
fn recorded(dir: &Path, name: &str, host: &str) -> Part {
    let path = dir.join(name);
    let info = Info {
        host: host.into(),
        wall_clock_offset_ns: noon_clock().offset_ns() as i64,
        start_ns: START,
        ..Info::here("eBPF", START)
    };
    let mut writer =
        Writer::new(File::create(&path).unwrap(), &info, &machine_processes()).unwrap();
    for event in make_events() {
        writer.push(&event).unwrap();
    }
    writer.finish(1_010 * S).unwrap();
    Part {
        path: name.into(),
        reader: Reader::open(&path).unwrap(),
    }
}

/// The application at the start of the replay of `buildhost` and `otherhost`.
fn two_hosts(dir: &Path) -> App {
    let parts = vec![
        recorded(dir, "a.fwrec", "buildhost"),
        recorded(dir, "b.fwrec", "otherhost"),
    ];
    let out = private_file::unnamed_in(dir).unwrap();
    let (file, notes) = merge(parts, out, false, Model::for_keyframes).unwrap();
    assert!(notes.is_empty(), "{notes:?}");
    let replay = Replay::from_file(file).unwrap();
    classic(replay::start(
        "a.fwrec, b.fwrec",
        &replay,
        false,
        users(),
        Default::default(),
    ))
}

#[test]
fn each_host_is_a_top_level_row_over_its_own_processes_with_their_own_pids() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = two_hosts(dir.path());
    let shown = screen(&mut app, 120, 13);
    assert_screen(
        &shown,
        r"
    PID USER        AGE COMMAND
      0 root     16m29s buildhost
      1 root     16m28s └─ /sbin/init
    400 root     16m19s    ├─ /usr/sbin/sshd -D
    812 alice     8m09s    │  └─ -bash
    500 root     16m09s    └─ /usr/sbin/cron -f
      0 root     16m29s otherhost
      1 root     16m28s └─ /sbin/init
    400 root     16m19s    ├─ /usr/sbin/sshd -D
    812 alice     8m09s    │  └─ -bash
    500 root     16m09s    └─ /usr/sbin/cron -f

replay of 2 hosts │ ▶ 1x 12:16:29.000 │ 14 processes │ 0 lost │ 0/s │ replay of 2 hosts: buildhost, otherhost
",
    );
}

#[test]
fn signals_and_relays_stay_refused_on_every_host() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = two_hosts(dir.path());
    let shown = screen(&mut app, 100, 13);
    let row = find_line(&shown, "otherhost");
    for _ in 0..row {
        key(&mut app, KeyCode::Down);
    }
    // On a host's own process as on the host.
    for _ in 0..2 {
        key(&mut app, KeyCode::Char('k'));
        assert!(app.dialog.is_none());
        let said = screen(&mut app, 180, 3);
        let refused = "│ no signals in a replay: its processes are not this machine's\n";
        assert!(said.ends_with(refused), "{said}");
        key(&mut app, KeyCode::Char('r'));
        assert!(app.dialog.is_none());
        let said = screen(&mut app, 180, 3);
        assert!(
            said.ends_with("│ no relays in a replay: its processes are not this machine's\n"),
            "{said}"
        );
        key(&mut app, KeyCode::Down);
    }
}
