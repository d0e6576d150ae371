//! A replay on screen: the status line with where it is and how it plays, pause, step,
//! seeks (back: the model rebuilt from the snapshot), its clock, a damaged file, and the
//! demo recording. Played with tokio's clock paused, so real time passes exactly as the
//! replay waits for it.

use std::{
    fs::File,
    path::{Path, PathBuf},
    time::Duration,
};

use super::*;
use crate::{
    recording::{Info, Replay, Writer},
    ui::{
        feed::UiFeed,
        replay::{self, Player, Status},
    },
};

const START: u64 = 989 * S;
const END: u64 = 1_010 * S;

/// The linker exits at 1003 s, make at 1003.5 s.
fn whole_make() -> Vec<Event> {
    let mut events = make_events();
    events.push(LD.exit(1_003_000, "ld", ExitStatus::Code(0)));
    events.push(MAKE.exit(1_003_500, "make", ExitStatus::Code(0)));
    events
}

/// Where the frames of [`record`]'s file start.
pub(super) struct Frames {
    pub(super) second_events: u64,
    end: u64,
}

/// Records the machine's make to `dir/make.fwrec`: the snapshot at 989 s, events in two
/// frames (to 997 s, then the rest), the end at 1010 s.
pub(super) fn record(dir: &Path) -> (PathBuf, Frames) {
    let path = dir.join("make.fwrec");
    let info = Info {
        host: "buildhost".into(),
        kernel: "6.18.0".into(),
        backend: "eBPF".into(),
        wall_clock_offset_ns: noon_clock().offset_ns() as i64,
        start_ns: START,
        recorder: "test".into(),
        hosts: Vec::new(),
    };
    let mut writer =
        Writer::new(File::create(&path).unwrap(), &info, &machine_processes()).unwrap();
    let (first, rest): (Vec<Event>, Vec<Event>) =
        whole_make().into_iter().partition(|e| e.ts_ns <= 997 * S);
    for event in &first {
        writer.push(event).unwrap();
    }
    writer.write_events().unwrap();
    let second_events = writer.summary().bytes;
    for event in &rest {
        writer.push(event).unwrap();
    }
    writer.write_events().unwrap();
    let end = writer.summary().bytes;
    writer.finish(END).unwrap();
    (path, Frames { second_events, end })
}

pub(super) fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap()
}

/// The application and its player, driven as the loop drives them.
pub(super) struct Replaying {
    pub(super) app: App,
    player: Player,
}

impl Replaying {
    /// Opens `path`, calling it `name`. Inside the runtime.
    pub(super) fn open(path: &Path, name: &str) -> Self {
        Self::of(Replay::open(path).unwrap(), name)
    }

    /// `replay`, called `name`. Inside the runtime.
    pub(super) fn of(replay: Replay, name: &str) -> Self {
        Self {
            app: classic(replay::start(
                name,
                &replay,
                false,
                users(),
                Default::default(),
            )),
            player: Player::new(replay),
        }
    }

    /// A key, and what it asks of the player.
    pub(super) async fn key(&mut self, code: KeyCode) {
        key(&mut self.app, code);
        self.carry_out().await;
    }

    async fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c)).await;
        }
    }

    pub(super) async fn carry_out(&mut self) {
        for request in self.app.take_requests() {
            let Request::Replay(control) = request else {
                panic!("a replay asks for {request:?}");
            };
            for event in self.player.control(control).await {
                update(&mut self.app, event);
            }
        }
    }

    /// Plays until `done` holds.
    pub(super) async fn play_until(&mut self, what: &str, done: impl Fn(&App) -> bool) {
        for _ in 0..10_000 {
            if done(&self.app) {
                return;
            }
            let event = self.player.next().await;
            update(&mut self.app, event);
        }
        panic!("never {what}:\n{}", screen(&mut self.app, 100, 12));
    }

    /// Plays for `real` time; what the player gives meanwhile is applied.
    async fn play_for(&mut self, real: Duration) {
        let until = tokio::time::Instant::now() + real;
        while let Ok(event) = tokio::time::timeout_at(until, self.player.next()).await {
            update(&mut self.app, event);
        }
    }

    pub(super) fn status(&self) -> &Status {
        self.app.replay_status().unwrap()
    }

    fn at(&self) -> u64 {
        at(&self.app)
    }
}

/// Where the replay is.
pub(super) fn at(app: &App) -> u64 {
    app.replay_status().unwrap().position.at_ns
}

#[test]
fn the_status_line_says_replay_with_position_and_speed() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = record(dir.path());
    paused_runtime().block_on(async {
        let mut r = Replaying::open(&path, "make.fwrec");
        // At first: where the recording comes from, until a key.
        assert_screen(
            &screen(&mut r.app, 120, 4),
            r"
    PID USER        AGE COMMAND
      1 root     16m28s /sbin/init
    400 root     16m19s ├─ /usr/sbin/sshd -D
replay │ ▶ 1x 12:16:29.000 │ 6 processes │ 0 lost │ 0/s │ recorded on buildhost (Linux 6.18.0) with eBPF at 12:16:29
",
        );
        // Playing at real time: a tick every 250 ms moves it on.
        r.play_until("at 991 s", |app| at(app) >= 991 * S).await;
        r.key(KeyCode::Char(']')).await;
        r.key(KeyCode::Char(']')).await;
        assert_eq!(r.at(), 991 * S);
        assert_screen(
            &screen(&mut r.app, 110, 9),
            r"
    PID USER        AGE COMMAND
      1 root     16m30s /sbin/init
    400 root     16m21s ├─ /usr/sbin/sshd -D
    812 alice     8m11s │  └─ -bash
    900 alice        1s │     └─ make -j2
    500 root     16m11s └─ /usr/sbin/cron -f


replay │ ▶ 4x 12:16:31.000 (2.0s of 21.0s) │ 7 processes │ 0 lost │                   ██ 1/s │ ? help
",
        );
        // At 4x, a second of real time is four of the recording.
        r.play_for(Duration::from_secs(1)).await;
        assert_eq!(r.at(), 995 * S);
        let end = screen(&mut r.app, 110, 9);
        assert!(end.contains("    900 alice        5s │     └─ make -j2"), "{end}");
        assert!(end.contains("│ ▶ 4x 12:16:35.000 (6.0s of 21.0s) │"), "{end}");
    });
}

#[test]
fn paused_a_replay_is_frozen_and_steps_one_event_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = record(dir.path());
    paused_runtime().block_on(async {
        let mut r = Replaying::open(&path, "make.fwrec");
        r.key(KeyCode::Char('t')).await;
        r.type_text("12:16:36").await;
        assert_screen(
            &screen(&mut r.app, 80, 3),
            r"
    PID USER        AGE COMMAND
      1 root     16m28s /sbin/init
seek to: 12:16:36█   a time of day (12:01:02) or +30s, -1m; Enter seeks, Esc can
",
        );
        r.key(KeyCode::Enter).await;
        r.key(KeyCode::Char('s')).await;
        // Everything up to 996 s: util.c's compiler is forked, not yet exec'd.
        let paused = screen(&mut r.app, 110, 10);
        assert_screen(
            &paused,
            r"
    PID USER        AGE COMMAND
      1 root     16m35s /sbin/init
    400 root     16m26s ├─ /usr/sbin/sshd -D
    812 alice     8m16s │  └─ -bash
    900 alice        6s │     └─ make -j2
    901 alice        1s │        ├─ cc -c main.c
    902 alice        0s │        └─ make -j2
    500 root     16m16s └─ /usr/sbin/cron -f

replay │ paused 1x 12:16:36.000 (7.0s of 21.0s) │ 9 processes │ 0 lost │              █       0/s │ ? help
",
        );
        let status = draw_at(&mut r.app, 110, 10);
        let paused_style = style_at(&status, "paused");
        assert_eq!(
            (paused_style.fg, paused_style.bg),
            (Some(Color::Black), Some(Color::Yellow))
        );
        // A minute passes: nothing moves, not even the ages.
        assert!(
            tokio::time::timeout(Duration::from_secs(60), r.player.next())
                .await
                .is_err(),
            "a paused replay gave something"
        );
        assert_screen(&screen(&mut r.app, 110, 10), &paused);

        // One step: the exec, a millisecond later; still paused.
        r.key(KeyCode::Char('.')).await;
        r.play_until("the step", |app| at(app) > 996 * S)
            .await;
        let stepped = screen(&mut r.app, 110, 10);
        assert!(stepped.contains("    902 alice        0s │        └─ cc -c util.c"), "{stepped}");
        assert!(
            stepped.contains("│ paused 1x 12:16:36.001 (7.0s of 21.0s) │"),
            "{stepped}"
        );
        two_steps_at_once_then_play(&mut r).await;
    });
}

/// Two more steps, asked at once: main.c's compiler exits, util.c's is killed. The event
/// log shows them last. Then playing again goes on from there.
async fn two_steps_at_once_then_play(r: &mut Replaying) {
    r.key(KeyCode::Char('.')).await;
    r.key(KeyCode::Char('.')).await;
    r.play_until("two steps", |app| at(app) >= 998 * S).await;
    r.key(KeyCode::Char('e')).await;
    assert_screen(
        &screen(&mut r.app, 120, 16),
        r"
    PID USER        AGE COMMAND
      1 root     16m37s /sbin/init
    400 root     16m28s ├─ /usr/sbin/sshd -D
    812 alice     8m18s │  └─ -bash
    900 alice        8s │     └─ make -j2
    901 alice      2.0s │        ├─ [exit 0] cc -c main.c
    902 alice      2.0s │        └─ [SIGKILL] cc -c util.c
    500 root     16m18s └─ /usr/sbin/cron -f

┌ Events ──────────────────────────────────────────────────────────────────────────────────────────────────────────────┐
│12:16:36.000000 fork         pid=902 ppid=900 comm=make                                                               │
│12:16:36.001000 exec         pid=902 ppid=900 uid=1000 comm=cc file=/usr/bin/cc argv: cc -c util.c                    │
│12:16:37.000000 exit         pid=901 ppid=900 comm=cc exit_code=0 run=2.0s                                            │
│12:16:38.000000 exit         pid=902 ppid=900 comm=cc signal=9(SIGKILL) run=2.0s                                      │
└──────────────────────────────────────────────────────────────────────────────────────────────────────────────────────┘
replay │ paused 1x 12:16:38.000 (9.0s of 21.0s) │ 7 processes, 2 exited │ 0 lost │            █      ▃▂ 1/s │ ? help
",
    );
    assert!(r.status().paused);
    // Playing again goes on from there, at the speed it had.
    r.key(KeyCode::Char('s')).await;
    r.play_for(Duration::from_secs(1)).await;
    assert_eq!(r.at(), 999 * S);
}

#[test]
fn a_seek_back_rebuilds_the_tree_and_keeps_selection_and_folds_where_they_can_be() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = record(dir.path());
    paused_runtime().block_on(async {
        let mut r = Replaying::open(&path, "make.fwrec");
        r.key(KeyCode::Char('s')).await;
        r.key(KeyCode::Char('t')).await;
        r.type_text("+11s").await;
        r.key(KeyCode::Enter).await;
        assert_eq!(r.at(), 1_000 * S);
        r.key(KeyCode::Char('/')).await;
        r.type_text("util").await;
        r.key(KeyCode::Enter).await;
        assert_eq!(r.app.selected(), Some(CC_UTIL.key()));
        r.key(KeyCode::Char('e')).await;

        // Back 10 s, to 990 s: the tree as it was then, rebuilt from the snapshot. make is
        // forked but has not exec'd yet; util.c's compiler does not exist: its parent is
        // selected. The event log starts again too.
        r.key(KeyCode::Char('{')).await;
        assert_eq!(r.at(), 990 * S);
        assert_eq!(r.app.selected(), Some(MAKE.key()));
        assert_screen(
            &screen(&mut r.app, 110, 14),
            r"
    PID USER        AGE COMMAND
      1 root     16m29s /sbin/init
    400 root     16m20s ├─ /usr/sbin/sshd -D
    812 alice     8m10s │  └─ -bash
    900 alice        0s │     └─ -bash
    500 root     16m10s └─ /usr/sbin/cron -f

┌ Events ────────────────────────────────────────────────────────────────────────────────────────────────────┐
│12:16:30.000000 fork         pid=900 ppid=812 comm=bash                                                     │
│                                                                                                            │
│                                                                                                            │
│                                                                                                            │
└────────────────────────────────────────────────────────────────────────────────────────────────────────────┘
replay │ paused 1x 12:16:30.000 (1.0s of 21.0s) │ 7 processes │ 0 lost │                    █ 1/s │ ? help
",
        );

        // Forward again: the compilers are back. Fold make (h on util.c's compiler goes to
        // make, h again folds it), back and forward: the fold is still there.
        r.key(KeyCode::Char('}')).await;
        assert_eq!(r.at(), 1_000 * S);
        r.key(KeyCode::Char('n')).await;
        assert_eq!(r.app.selected(), Some(CC_UTIL.key()));
        r.key(KeyCode::Char('h')).await;
        r.key(KeyCode::Char('h')).await;
        r.key(KeyCode::Char('{')).await;
        r.key(KeyCode::Char('}')).await;
        assert_eq!(r.app.selected(), Some(MAKE.key()));
        let folded = screen(&mut r.app, 110, 14);
        assert!(
            folded.contains("    900 alice       10s │     └+ [+1] make -j2"),
            "{folded}"
        );
        assert!(!folded.contains("cc -c"), "{folded}");
        assert_eq!(r.app.model().counts().alive, 8);
    });
}

#[test]
fn at_64x_the_tree_ages_64_times_as_fast() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = record(dir.path());
    paused_runtime().block_on(async {
        let mut r = Replaying::open(&path, "make.fwrec");
        for _ in 0..6 {
            r.key(KeyCode::Char(']')).await;
        }
        // A quarter of a second is 16 s of the recording: make and the linker have ended,
        // the compilers' lingers are over, make's and the linker's are not.
        r.play_for(Duration::from_millis(250)).await;
        assert_eq!(r.at(), 1_005 * S);
        assert_screen(
            &screen(&mut r.app, 120, 10),
            r"
    PID USER        AGE COMMAND
      1 root     16m44s /sbin/init
    400 root     16m35s ├─ /usr/sbin/sshd -D
    812 alice     8m25s │  └─ -bash
    900 alice       13s │     └─ [exit 0] make -j2
    903 alice      3.5s │        └─ [exit 0] ld -o app main.o util.o
    500 root     16m25s └─ /usr/sbin/cron -f


replay │ ▶ 64x 12:16:45.000 (16.0s of 21.0s) │ 6 processes, 2 exited │ 0 lost │     ██    █▄▄█▄   ▄  0/s │ ? help
",
        );
        // On to the end of the recording, 5 s after the last event: the lingers are over.
        r.play_until("the end", |app| app.replay_status().unwrap().ended)
            .await;
        assert_eq!(r.at(), END);
        assert_screen(
            &screen(&mut r.app, 120, 10),
            r"
    PID USER        AGE COMMAND
      1 root     16m49s /sbin/init
    400 root     16m40s ├─ /usr/sbin/sshd -D
    812 alice     8m30s │  └─ -bash
    500 root     16m30s └─ /usr/sbin/cron -f




replay │ ended 64x 12:16:50.000 (21.0s of 21.0s) │ 6 processes │ 0 lost │ █    █▄▄█▄   ▄       0/s │ ? help
",
        );
    });
}

#[test]
fn a_damaged_recording_plays_to_the_damage_and_says_where_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let (path, frames) = record(dir.path());
    let mut bytes = std::fs::read(&path).unwrap();
    // A byte of the second events frame's payload: its checksum no longer matches.
    bytes[frames.second_events as usize + 45] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    paused_runtime().block_on(async {
        let mut r = Replaying::open(&path, "make.fwrec");
        for _ in 0..7 {
            r.key(KeyCode::Char(']')).await;
        }
        r.play_until("the end", |app| app.replay_status().unwrap().ended)
            .await;
        let buf = draw_at(&mut r.app, 110, 10);
        assert_screen(
            &text(&buf),
            r"
make.fwrec is damaged at byte 666: checksum mismatch; everything before it was replayed (--skip-damage goes on
after it)
Esc hides this
    PID USER        AGE COMMAND
      1 root     16m36s /sbin/init
    400 root     16m27s ├─ /usr/sbin/sshd -D
    812 alice     8m17s │  └─ -bash
    900 alice        7s │     └─ make -j2
    901 alice      2.0s │        ├─ [exit 0] cc -c main.c
replay │ ended max 12:16:37.000 damaged at byte 666 │ 8 processes, 1 exited │ 0 lost │ 0/s │ ? help
",
        );
        let segment = format!("damaged at byte {} │", frames.second_events);
        assert_eq!(style_at(&buf, &segment).fg, Some(Color::Red));
        // The UI stays usable.
        r.key(KeyCode::Char('d')).await;
        assert!(screen(&mut r.app, 110, 20).contains("Details"));
        let line = format!(
            "make.fwrec is damaged at byte {}: checksum mismatch; everything before it was \
             replayed (--skip-damage goes on after it)",
            frames.second_events
        );
        assert_eq!(r.app.replay_damage(), Some(line));
    });

    // Cut before the end frame: all of it plays, with a note that it was not closed.
    let (path, frames) = record(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..frames.end as usize]).unwrap();
    paused_runtime().block_on(async {
        let mut r = Replaying::open(&path, "cut.fwrec");
        for _ in 0..7 {
            r.key(KeyCode::Char(']')).await;
        }
        r.play_until("the end", |app| app.replay_status().unwrap().ended)
            .await;
        assert_screen(
            &screen(&mut r.app, 110, 4),
            r"
note: cut.fwrec was not closed properly (the recorder was killed or crashed); everything in it was replayed
    PID USER        AGE COMMAND
      1 root     16m42s /sbin/init
replay │ ended max 12:16:43.500 │ 6 processes, 2 exited │ 0 lost │ 0/s │ ? help
",
        );
        assert_eq!(r.app.replay_damage(), None);
    });
}

#[test]
fn the_demo_recording_shows_its_make_tree() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.fwrec");
    let info = Replay::open(&demo).unwrap().info().clone();
    paused_runtime().block_on(async {
        let mut r = Replaying::open(&demo, "assets/demo.fwrec");
        for _ in 0..7 {
            r.key(KeyCode::Char(']')).await;
        }
        r.play_until("the end", |app| app.replay_status().unwrap().ended)
            .await;
        r.key(KeyCode::Char('/')).await;
        r.type_text("make -s").await;
        r.key(KeyCode::Enter).await;
        // Siblings by pid: make's line is further down than by start time.
        let screen = screen(&mut r.app, 100, 60);
        let lines: Vec<&str> = screen.lines().collect();
        let make = lines
            .iter()
            .position(|l| l.contains("make -s"))
            .unwrap_or_else(|| panic!("no make:\n{screen}"));
        let tree: String = lines[make..make + 7]
            .iter()
            .map(|l| format!("{l}\n"))
            .collect();
        assert_screen(
            &tree,
            r"
  23895 root      421ms             │  └─ [exit 0] make -s -C /tmp/tmp.8MxjTwABmC -j2
  23896 root      116ms             │     ├─ [exit 0] cc -O2 -c main.c -o main.o
  23898 root       78ms             │     │  ├─ [exit 0] /usr/lib/gcc/x86_64-linux-gnu/12/cc1 -quiet
  23903 root       11ms             │     │  └─ [exit 0] as --64 -o main.o /tmp/cch9CyOV.s
  23897 root      120ms             │     ├─ [exit 0] cc -O2 -c f1.c -o f1.o
  23899 root      104ms             │     │  ├─ [exit 0] /usr/lib/gcc/x86_64-linux-gnu/12/cc1 -quiet
  23906 root      2.7ms             │     │  └─ [exit 0] as --64 -o f1.o /tmp/ccKDg8sK.s
",
        );
        // Times of day are the recording's, in this machine's time zone.
        let end = &info.wall_clock().time_of_day(r.at())[..12];
        let status = format!("replay │ ended max {end} │ 95 processes, 47 exited │ 0 lost │");
        assert!(lines[59].starts_with(&status), "{screen}");
        // At the end of the build, make ran the program it built.
        let all = self::screen(&mut r.app, 100, 160);
        assert!(all.contains("│     └─ [exit 0] ./demo"), "{all}");
    });
}

#[test]
fn seeking_to_a_time_outside_the_recording_or_to_no_time_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = record(dir.path());
    paused_runtime().block_on(async {
        let mut r = Replaying::open(&path, "make.fwrec");
        r.key(KeyCode::Char('s')).await;
        r.key(KeyCode::Char('t')).await;
        r.type_text("soon").await;
        r.key(KeyCode::Enter).await;
        let said = screen(&mut r.app, 120, 3);
        assert!(
            said.ends_with("│ `soon` is not a time: 12:01:02, +30s or -1m\n"),
            "{said}"
        );
        assert_eq!(r.at(), START);
        r.key(KeyCode::Char('t')).await;
        r.type_text("12:30").await;
        r.key(KeyCode::Enter).await;
        let said = screen(&mut r.app, 120, 3);
        assert!(
            said.ends_with("│ 12:30 is after the recording, which ends at 12:16:50.000\n"),
            "{said}"
        );
        assert_eq!(r.at(), END);
        r.key(KeyCode::Char('t')).await;
        r.type_text("-1h").await;
        r.key(KeyCode::Enter).await;
        let said = screen(&mut r.app, 120, 3);
        assert!(
            said.ends_with("│ -1h is before the recording, which starts at 12:16:29.000\n"),
            "{said}"
        );
        assert_eq!(r.at(), START);
        // Esc leaves the prompt without seeking.
        r.key(KeyCode::Char('t')).await;
        r.type_text("+5s").await;
        r.key(KeyCode::Esc).await;
        assert_eq!(r.at(), START);
    });
}

#[test]
fn the_help_lists_the_replay_keys_in_a_replay_only() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = record(dir.path());
    let replay_keys = r"
        │ s           pause or play the replay                         │
        │ [           slower (down to 1/4x)                            │
        │ ]           faster (up to 64x, then max)                     │
        │ .           one event (pauses)                               │
        │ t           seek to a time: 12:01:02, +30s, -1m              │
        │ {           back 10 s                                        │
        │ }           forward 10 s                                     │
        │ mouse       click selects, wheel scrolls                     │
";
    paused_runtime().block_on(async {
        let mut r = Replaying::open(&path, "make.fwrec");
        r.key(KeyCode::Char('?')).await;
        let help = screen(&mut r.app, 80, 50);
        assert!(help.contains(replay_keys), "{help}");
    });
    let mut app = machine();
    key(&mut app, KeyCode::Char('?'));
    let help = screen(&mut app, 80, 50);
    assert!(!help.contains("pause or play"), "{help}");
}

#[test]
fn replay_keys_live_say_what_they_are_for() {
    let mut app = machine();
    for c in ['s', '[', ']', '.', 't', '{', '}'] {
        key(&mut app, KeyCode::Char(c));
        assert_eq!(app.take_requests(), [], "{c}");
        let said = screen(&mut app, 120, 3);
        assert!(
            said.ends_with(
                "│ s [ ] . t { } play a recording (forkwatch-tui replay FILE); this is live\n"
            ),
            "{c}: {said}"
        );
    }
}

#[test]
fn lost_events_in_a_replay_are_counted_without_reading_this_machines_proc() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = record(dir.path());
    paused_runtime().block_on(async {
        let mut r = Replaying::open(&path, "make.fwrec");
        update(&mut r.app, AppEvent::Events(vec![Event::lost(990 * S, 12)]));
        r.play_until("a second on", |app| at(app) >= 991 * S).await;
        assert_eq!(r.app.take_requests(), []);
        assert_eq!(r.app.model().counts().lost, 12);
        assert!(r.app.model().get(MAKE.key()).is_some());
    });
}

#[test]
fn the_end_is_told_even_when_it_comes_between_two_looks() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = record(dir.path());
    paused_runtime().block_on(async {
        let mut r = Replaying::open(&path, "make.fwrec");
        r.type_text("]]]]]]").await;
        // After the last event, the recording runs on to its end, 6.5 s later: at 64x,
        // about 0.1 s. The loop that asks may be busy meanwhile (drawing, keys).
        r.play_until("the last event", |app| {
            app.replay_status().unwrap().position.events == 12
        })
        .await;
        let event = r.player.next().await;
        update(&mut r.app, event);
        assert!(!r.status().ended);
        tokio::time::sleep(Duration::from_millis(150)).await;
        let event = tokio::time::timeout(Duration::from_secs(1), r.player.next())
            .await
            .expect("the end is told");
        update(&mut r.app, event);
        assert!(r.status().ended);
        assert_eq!(r.at(), END);
    });
}

#[test]
fn pins_follow_a_seek_back_as_if_made_from_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = record(dir.path());
    paused_runtime().block_on(async {
        let mut r = Replaying::open(&path, "make.fwrec");
        r.key(KeyCode::Char('s')).await;
        r.key(KeyCode::Char('t')).await;
        r.type_text("+11s").await;
        r.key(KeyCode::Enter).await;
        // Pin make, and util.c's compiler.
        r.key(KeyCode::Char('/')).await;
        r.type_text("make").await;
        r.key(KeyCode::Enter).await;
        r.key(KeyCode::Char('p')).await;
        r.key(KeyCode::Char('/')).await;
        r.type_text("util").await;
        r.key(KeyCode::Enter).await;
        r.key(KeyCode::Char('p')).await;
        assert_eq!(r.app.tracker.pins().len(), 2);

        // Back to 990 s: make has just forked, util.c's compiler is not born yet.
        r.key(KeyCode::Char('{')).await;
        let said = screen(&mut r.app, 120, 3);
        assert!(
            said.ends_with("│ unpinned 902: not in the tree at 12:16:30.000\n"),
            "{said}"
        );
        let pins = r.app.tracker.pins().list();
        assert_eq!(pins.len(), 1);
        assert_eq!(pins[0].root(), MAKE.key());
        // Forward: the compilers make forks join its pin.
        r.key(KeyCode::Char('}')).await;
        let make = r.app.tracker.pins().get(MAKE.key()).unwrap();
        for member in [CC_MAIN, CC_UTIL, LD] {
            assert!(make.membership(member.key()).is_some());
        }
        assert_eq!(make.alive(), 2, "make and the linker");
        // Relays signal live processes: not from a replay.
        r.key(KeyCode::Char('r')).await;
        assert!(r.app.dialog.is_none());
        let said = screen(&mut r.app, 180, 3);
        assert!(
            said.ends_with("│ no relays in a replay: its processes are not this machine's\n"),
            "{said}"
        );
        // Nor signals: the processes shown are the recorded machine's.
        r.key(KeyCode::Char('k')).await;
        assert!(r.app.dialog.is_none());
        let said = screen(&mut r.app, 180, 3);
        assert!(
            said.ends_with("│ no signals in a replay: its processes are not this machine's\n"),
            "{said}"
        );
    });
}
