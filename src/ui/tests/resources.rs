//! What processes cost, on screen: the CPU%, MEM, S and THR columns from samples, sorting
//! siblings by them, a folded subtree's totals, narrow screens dropping columns in order,
//! and the columns dialog, which saves them in the config file.

use std::os::unix::fs::PermissionsExt;

use ratatui::style::Modifier;

use super::*;
use crate::{
    event::{Sample, State},
    ui::{columns_dialog::ColumnsSaver, look::Column},
};

const SSHD: P = P {
    pid: 400,
    ppid: 1,
    start_ms: 10_000,
    uid: 0,
};
const CRON: P = P {
    pid: 500,
    ppid: 1,
    start_ms: 20_000,
    uid: 0,
};
const BASH: P = P {
    pid: 812,
    ppid: 400,
    start_ms: 500_000,
    uid: 1000,
};

const MIB: u64 = 1 << 20;

/// A sample of `p` at `ts_ms`: CPU time so far, resident memory, state, threads.
fn sample(p: P, ts_ms: u64, cpu_ms: u64, rss: u64, state: u8, threads: u32) -> Event {
    let sample = Sample {
        cpu_ns: cpu_ms * MS,
        rss_bytes: rss,
        state: State::from_letter(state),
        threads,
    };
    p.event(ts_ms, "x", Kind::Sample(sample))
}

/// Two samples of `p`, a second apart and ending at `ts_ms`, `busy_ms` of CPU between
/// them: a share of `busy_ms / 10` percent.
fn sampled(p: P, ts_ms: u64, busy_ms: u64, rss: u64, state: u8, threads: u32) -> [Event; 2] {
    [
        sample(p, ts_ms - 1_000, 7_000, rss, state, threads),
        sample(p, ts_ms, 7_000 + busy_ms, rss, state, threads),
    ]
}

/// The machine of the other screens, sampled: cron busy (90%), sshd idle (1%), bash 2%,
/// make 5%, the linker 99.8% with 100 MiB and 3 threads; the first compiler was sampled
/// (50%) before it exited. At 1001 s, the default columns.
fn sampled_machine() -> App {
    let mut events = make_events();
    events.extend(sampled(CC_MAIN, 996_500, 500, 6 * MIB, b'R', 1));
    for (p, busy, rss, state, threads) in [
        (SSHD, 10, 8 * MIB, b'S', 1),
        (CRON, 900, 2 * MIB, b'R', 1),
        (BASH, 20, 4 * MIB, b'S', 1),
        (MAKE, 50, 3 * MIB, b'S', 1),
        (LD, 998, 100 * MIB, b'R', 3),
    ] {
        events.extend(sampled(p, 1_001_000, busy, rss, state, threads));
    }
    events.sort_by_key(|e| e.ts_ns);
    let mut model = Model::default();
    model.seed(&machine_processes());
    let mut app = App::new(model, SourceInfo::default(), noon_clock(), 990 * S, users());
    update(&mut app, AppEvent::Events(events));
    update(&mut app, AppEvent::Tick(1_001 * S));
    app
}

fn line_of<'a>(screen: &'a str, needle: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no `{needle}`:\n{screen}"))
}

#[test]
fn the_columns_show_each_process_s_latest_sample_and_none_once_it_exited() {
    let mut app = sampled_machine();
    let shown = screen(&mut app, 100, 12);
    assert_eq!(
        shown.lines().next().unwrap(),
        "    PID USER      CPU%   MEM S  THR    AGE COMMAND",
        "{shown}"
    );
    let ld = line_of(&shown, "ld -o app");
    assert!(
        ld.starts_with("    903 alice     99.8  100M R    3     1s "),
        "{shown}"
    );
    let cron = line_of(&shown, "cron -f");
    assert!(
        cron.starts_with("    500 root      90.0  2.0M R    1 "),
        "{shown}"
    );
    // Exited: how it ended, no CPU share, memory, state or threads.
    let cc = line_of(&shown, "cc -c main.c");
    assert!(
        cc.starts_with("    901 alice                         2.0s "),
        "{shown}"
    );
    // Never sampled: blank.
    let init = line_of(&shown, "/sbin/init");
    assert!(
        init.starts_with("      1 root                        16m40s "),
        "{shown}"
    );
}

#[test]
fn sorting_by_cpu_puts_the_busy_sibling_first_and_i_reverses_it() {
    let mut app = sampled_machine();
    let order = |app: &mut App| {
        let shown = screen(app, 100, 12);
        let at = |needle| shown.find(needle).unwrap();
        (at("sshd -D") < at("cron -f"), shown)
    };
    let (sshd_first, shown) = order(&mut app);
    assert!(sshd_first, "by pid:\n{shown}");
    key(&mut app, KeyCode::Char('>'));
    let (sshd_first, shown) = order(&mut app);
    assert!(!sshd_first, "by CPU, the busy cron first:\n{shown}");
    assert!(shown.contains("sorted by CPU, descending"), "{shown}");
    assert!(shown.starts_with("    PID USER     CPU%v   MEM"), "{shown}");
    // The tree keeps its shape: bash is still right under sshd, and ld, the busiest of
    // make's children, first among them.
    let lines: Vec<&str> = shown.lines().collect();
    let sshd = lines
        .iter()
        .position(|l| l.contains("└─ /usr/sbin/sshd -D"));
    assert!(lines[sshd.unwrap() + 1].ends_with("   └─ -bash"), "{shown}");
    let make = lines
        .iter()
        .position(|l| l.contains("└─ make -j2"))
        .unwrap();
    assert!(
        lines[make + 1].ends_with("├─ ld -o app main.o util.o"),
        "{shown}"
    );
    key(&mut app, KeyCode::Char('I'));
    let (sshd_first, shown) = order(&mut app);
    assert!(sshd_first, "by CPU ascending:\n{shown}");
    assert!(shown.contains("sorted by CPU, ascending"), "{shown}");
    // The sorted column's title stands out.
    let buf = draw_at(&mut app, 100, 12);
    assert_eq!(style_at(&buf, "CPU%").bg, Some(Color::Cyan));
    assert_eq!(style_at(&buf, "PID").bg, Some(Color::Green));
    // `<` back to pid; the flat list sorts the same way as siblings.
    key(&mut app, KeyCode::Char('<'));
    key(&mut app, KeyCode::Char('<'));
    assert!(screen(&mut app, 100, 12).contains("sorted by name, ascending"));
    key(&mut app, KeyCode::F(6));
    key(&mut app, KeyCode::F(6));
    key(&mut app, KeyCode::F(5));
    let flat = screen(&mut app, 100, 12);
    let first: Vec<&str> = flat.lines().skip(1).take(3).collect();
    assert!(first[0].starts_with("    903 alice     99.8"), "{flat}");
    assert!(first[1].starts_with("    500 root      90.0"), "{flat}");
    assert!(first[2].starts_with("    900 alice      5.0"), "{flat}");
}

#[test]
fn a_folded_row_shows_its_subtree_s_totals() {
    let mut app = sampled_machine();
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Enter);
    let buf = draw_at(&mut app, 100, 12);
    let shown = text(&buf);
    // bash 2% + make 5% + ld 99.8%, 4 + 3 + 100 MiB; the exited compilers cost nothing
    // now; make and ld are folded away.
    let bash = line_of(&shown, "-bash");
    assert_eq!(
        bash, "    812 alice    106.8  107M S    1  8m21s │  └+ [+2] -bash",
        "{shown}"
    );
    for total in ["106.8", "107M", "[+2]"] {
        let style = style_at(&buf, total);
        assert!(style.add_modifier.contains(Modifier::UNDERLINED), "{total}");
    }
    // Its own state is not a total.
    assert!(
        !style_at(&buf, "S    1  8m21s")
            .add_modifier
            .contains(Modifier::UNDERLINED)
    );
    // Unfolded, its own values again.
    key(&mut app, KeyCode::Enter);
    let shown = screen(&mut app, 100, 12);
    assert!(line_of(&shown, "-bash").starts_with("    812 alice      2.0  4.0M S "));
}

#[test]
fn narrow_screens_drop_columns_in_the_stated_order() {
    let mut app = sampled_machine();
    let header = |app: &mut App, width| screen(app, width, 4).lines().next().unwrap().to_owned();
    assert_eq!(
        header(&mut app, 80),
        "    PID USER      CPU%   MEM S  THR    AGE COMMAND"
    );
    assert_eq!(
        header(&mut app, 79),
        "    PID USER      CPU%   MEM S    AGE COMMAND"
    );
    assert_eq!(
        header(&mut app, 71),
        "    PID USER      CPU%   MEM    AGE COMMAND"
    );
    assert_eq!(header(&mut app, 59), "    PID  CPU%   MEM    AGE COMMAND");
    assert_eq!(header(&mut app, 49), "    PID  CPU%    AGE COMMAND");
    assert_eq!(header(&mut app, 39), "    PID  CPU% COMMAND");
    assert_eq!(header(&mut app, 31), "    PID COMMAND");
    assert_eq!(header(&mut app, 23), "COMMAND");
}

/// The sampled machine whose columns dialog saves into `path`.
fn saving_to(path: &std::path::Path) -> App {
    let mut app = sampled_machine();
    let path = path.to_owned();
    app.set_columns_saver(ColumnsSaver::new(move |columns| {
        crate::config::save::save_columns(&path, None, columns)?;
        Ok("columns saved".to_owned())
    }));
    app
}

#[test]
fn the_columns_dialog_hides_and_orders_columns_and_saves_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("forkwatch/config.toml");
    let mut app = saving_to(&path);
    key(&mut app, KeyCode::Char('C'));
    let dialog = screen(&mut app, 100, 16);
    assert!(dialog.contains("[x] PID        pid"), "{dialog}");
    assert!(dialog.contains("[ ] CONTAINER  container"), "{dialog}");
    // Hide USER; move AGE (the 7th) up to second place.
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Char(' '));
    for _ in 0..5 {
        key(&mut app, KeyCode::Down);
    }
    for _ in 0..5 {
        key(&mut app, KeyCode::Char('['));
    }
    key(&mut app, KeyCode::Enter);
    let shown = screen(&mut app, 100, 12);
    assert!(
        shown.starts_with("    PID    AGE  CPU%   MEM S  THR COMMAND"),
        "{shown}"
    );
    assert!(shown.contains("columns saved"), "{shown}");
    let saved = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        saved,
        "columns = [\"pid\", \"age\", \"cpu\", \"mem\", \"state\", \"threads\", \"command\"]\n"
    );
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    let saved = crate::config::Config::read(&path).unwrap();
    assert_eq!(saved.look.columns[1], Column::Age);

    // Esc leaves the columns as they were, and the file.
    key(&mut app, KeyCode::F(2));
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Esc);
    assert!(screen(&mut app, 100, 12).starts_with("    PID    AGE  CPU%"));
}

#[test]
fn saving_keeps_the_rest_of_the_file_and_refuses_a_symbolic_link() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let before =
        "# mine\nlinger = \"2s\"  # short\ncolumns = [\"pid\"]\n\n[keys]\nquit = [\"q\"]\n";
    std::fs::write(&path, before).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let mut app = saving_to(&path);
    key(&mut app, KeyCode::Char('C'));
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Enter);
    let after = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        after,
        "# mine\nlinger = \"2s\"  # short\ncolumns = [\"user\", \"cpu\", \"mem\", \"state\", \
         \"threads\", \"age\", \"command\"]\n\n[keys]\nquit = [\"q\"]\n"
    );
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640, "the mode it had");

    let target = dir.path().join("elsewhere.toml");
    std::fs::write(&target, "linger = \"1s\"\n").unwrap();
    let link = dir.path().join("linked.toml");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let mut app = saving_to(&link);
    key(&mut app, KeyCode::Char('C'));
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Enter);
    let shown = screen(&mut app, 160, 12);
    let status = shown.lines().last().unwrap();
    assert!(
        status.contains("cannot save the columns in") && status.contains("symbolic link"),
        "{shown}"
    );
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "linger = \"1s\"\n"
    );
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    // Nothing left beside it.
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 3);
    // The columns are used all the same.
    assert!(!shown.lines().next().unwrap().contains("PID"), "{shown}");
}

#[test]
fn the_pins_pane_shows_what_a_pin_s_members_cost_those_gone_included() {
    let mut app = sampled_machine();
    app.pin_pid(MAKE.pid).unwrap();
    // A compiler that no sample saw: what the kernel accounted at its exit counts.
    let io = P {
        pid: 904,
        ppid: 900,
        start_ms: 1_001_100,
        uid: 1000,
    };
    let usage = crate::event::Usage {
        user_ns: 1_500 * MS,
        system_ns: 500 * MS,
        max_rss_bytes: 50 * MIB,
        ..Default::default()
    };
    let mut events = io.start("make", &["cc", "-c", "io.c"]).to_vec();
    events.push(io.event(
        1_001_500,
        "cc",
        Kind::Exit(ExitStatus::Code(0), Some(Box::new(usage))),
    ));
    update(&mut app, AppEvent::Events(events));
    key(&mut app, KeyCode::Char('P'));
    let shown = screen(&mut app, 120, 30);
    // 2.0 s of the compiler gone, 7.05 s of make and 7.998 s of ld as last sampled; the
    // most memory any one had: ld's 100 MiB.
    assert!(
        shown.contains(
            "│totals: 1 started, 1 ended (1 exit 0), 2 alive; CPU 17.05s; peak memory 100M"
        ),
        "{shown}"
    );
}
