//! The memory a replay of a crafted recording takes, counted by this test binary's
//! allocator: the terminal UI's application and player replay the file as fast as they can
//! and draw it, seek back to the start (which builds the model again from the snapshot),
//! replay it to the end again and draw it. The peak must stay within the bound
//! docs/recording.md names ("Bounds"): [`PER_FILE_BYTE`] bytes per byte of file plus
//! [`CONSTANT`]. Each file spends one budget of the reader to the full, in the form that
//! costs the model most: processes that never exit, each from a record of a few bytes, or
//! each with 8 KiB of arguments.

// Only `frame_of` and `push_varint` are used here.
#[allow(dead_code)]
#[path = "common/frames.rs"]
mod frames;

use std::{
    alloc::{GlobalAlloc, Layout, System},
    io::Cursor,
    sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use forkwatch::{
    recording::{Reader, Replay, Speed},
    ui::{
        self, Users,
        feed::UiFeed,
        replay::{self, Control, Player},
    },
};
use frames::{frame_of, push_varint};
use ratatui::{Terminal, backend::TestBackend};

/// The bound's part proportional to the file (docs/recording.md, "Bounds").
const PER_FILE_BYTE: usize = 4096;
/// The bound's constant part.
const CONSTANT: usize = 128 << 20;

struct Counting;

static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// One measurement at a time: the counts are the whole process's.
static MEASURING: Mutex<()> = Mutex::new(());

fn grew(by: usize) {
    let now = NOW.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is passed on to the system allocator unchanged; only counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        NOW.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Old and new both exist while the contents move.
        grew(new_size);
        let moved = unsafe { System.realloc(ptr, layout, new_size) };
        NOW.fetch_sub(layout.size(), Ordering::Relaxed);
        moved
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MAX_CONTENT: usize = 16 << 20;
/// Ten milliseconds: one clock tick, so every record is a process of its own.
const TICK_NS: u64 = 10_000_000;

/// The file header and the info frame, with `processes` in the snapshot.
fn start(processes: usize) -> Vec<u8> {
    let mut bytes = b"\x89FWREC\r\n\x02\0\0\0".to_vec();
    let info = r#"{"host":"h","kernel":"k","backend":"eBPF","wall_clock_offset_ns":0,"start_ns":0,"recorder":"r"}"#;
    bytes.extend(frame_of(1, processes, info.as_bytes()));
    bytes
}

/// `records` records, each a tick after the one before, in events frames of at most 8,192
/// records and 1 MiB, so that the frame that goes past a budget loses little. `record`
/// makes one from the time since the record before (times restart in every frame).
fn events(bytes: &mut Vec<u8>, record: fn(u64) -> Vec<u8>, records: usize) {
    let per_frame = ((1 << 20) / record(TICK_NS).len()).min(8192);
    let mut done = 0;
    while done < records {
        let n = (records - done).min(per_frame);
        let mut content = record((done as u64 + 1) * TICK_NS);
        content.extend(record(TICK_NS).repeat(n - 1));
        bytes.extend(frame_of(3, n, &content));
        done += n;
    }
}

/// An optional frame of `len` bytes that do not compress, to give the file its size.
fn padding(bytes: &mut Vec<u8>, len: usize) {
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    let noise: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    bytes.extend(frame_of(200, 0, &noise));
}

/// A fork record of pid 7 (a child of init) `after_ns` after the record before, started
/// when it forked.
fn fork_record(after_ns: u64) -> Vec<u8> {
    let mut r = vec![0, 0];
    push_varint(&mut r, after_ns * 2);
    r.extend_from_slice(&[7, 1, 0, 0]);
    r
}

/// The same as an exec with one argument of 8,190 bytes.
fn exec_record(after_ns: u64) -> Vec<u8> {
    let mut r = fork_record(after_ns);
    r[0] = 2;
    r.extend_from_slice(&[0, 1]);
    push_varint(&mut r, 8190);
    r.extend(std::iter::repeat_n(b'x', 8190));
    r
}

/// Snapshot frames of init (pid 1, the parent of all the rest, so that the model links
/// them as it would on a real machine) and `processes - 1` processes of pid 7 a tick
/// apart, each with one argument of `argv_len` bytes.
fn snapshot_frames(bytes: &mut Vec<u8>, processes: usize, argv_len: usize) {
    let argv = "x".repeat(argv_len);
    let mut json = Vec::new();
    let mut count = 0;
    for i in 0..processes {
        json.push(if count == 0 { b'[' } else { b',' });
        let (pid, ppid) = if i == 0 { (1, 0) } else { (7, 1) };
        json.extend(format!(
            r#"{{"pid":{pid},"ppid":{ppid},"start_ns":{},"comm":"x","argv":["{argv}"],"creds":{{"uid":0,"euid":0,"gid":0,"egid":0}},"state":"S","kernel_thread":false,"threads":1}}"#,
            i as u64 * TICK_NS
        ).bytes());
        count += 1;
        if json.len() + argv.len() + 256 > MAX_CONTENT || i + 1 == processes {
            json.push(b']');
            bytes.extend(frame_of(2, count, &json));
            json.clear();
            count = 0;
        }
    }
}

/// The peak of memory allocated while `bytes` is replayed in the UI, and the damage the
/// replay ended with.
fn replay_peak(bytes: &[u8]) -> (usize, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crafted.fwrec");
    std::fs::write(&path, bytes).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let base = NOW.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let damage = runtime.block_on(async {
        let mut replay = Replay::open(&path).unwrap();
        replay.set_speed(Speed::Max);
        let start_ns = replay.info().start_ns;
        let mut app = replay::start(
            "crafted",
            &replay,
            false,
            Users::with_lookup(|_| None),
            Default::default(),
        );
        let mut player = Player::new(replay);
        let mut terminal = Terminal::new(TestBackend::new(160, 50)).unwrap();
        for pass in 0..2 {
            if pass == 1 {
                for event in player.control(Control::SeekTo(start_ns)).await {
                    ui::update(&mut app, event);
                }
                ui::draw(&mut terminal, &mut app).unwrap();
            }
            while !app.replay_status().unwrap().ended {
                ui::update(&mut app, player.next().await);
            }
            ui::draw(&mut terminal, &mut app).unwrap();
        }
        let status = app.replay_status().unwrap();
        status
            .damage
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default()
    });
    (PEAK.load(Ordering::Relaxed) - base, damage)
}

/// Files of about `pad` bytes, each spending one budget of the reader to the full: eight
/// times what it allows is in them, so that a reader without the budget would go far past
/// the bound.
fn crafted(pad: usize) -> [(&'static str, Vec<u8>); 3] {
    let with_init = || {
        let mut bytes = start(1);
        snapshot_frames(&mut bytes, 1, 4);
        padding(&mut bytes, pad);
        bytes
    };
    let most_execs = 8 * (pad * 1024 + MAX_CONTENT) / 8203;
    let mut forks = with_init();
    events(&mut forks, fork_record, 8 * (pad + 65_536));
    let mut execs = with_init();
    events(&mut execs, exec_record, most_execs);
    let processes = pad * 1024 / 8400;
    let mut snapshot = start(processes);
    snapshot_frames(&mut snapshot, processes, 8190);
    padding(&mut snapshot, pad);
    events(&mut snapshot, exec_record, most_execs);
    [("forks", forks), ("execs", execs), ("snapshot", snapshot)]
}

#[test]
fn a_crafted_recording_replays_within_the_stated_memory() {
    let _alone = MEASURING.lock().unwrap();
    for pad in [16 << 10, 64 << 10] {
        for (name, bytes) in crafted(pad) {
            let len = bytes.len();
            let (peak, damage) = replay_peak(&bytes);
            eprintln!(
                "{name}: {len} bytes, peak {} KiB, {} bytes per byte",
                peak >> 10,
                peak / len
            );
            assert!(damage.contains("more than"), "{name}: {damage}");
            assert!(
                peak <= PER_FILE_BYTE * len + CONSTANT,
                "{name}: {peak} bytes for a file of {len}"
            );
        }
    }
}

#[test]
fn a_snapshot_of_millions_of_empty_arguments_is_refused_within_the_stated_memory() {
    // 16 MiB of `"",` in a payload of a few hundred bytes: as strings, 5.6 million of
    // them would take 24 bytes each, and twice that while their array grows.
    let mut json = br#"[{"pid":1,"ppid":0,"start_ns":0,"comm":"x","argv":["#.to_vec();
    json.extend_from_slice(b"\"\"");
    json.extend(std::iter::repeat_n(&b",\"\""[..], (MAX_CONTENT - 200) / 3).flatten());
    json.extend_from_slice(
        br#"],"creds":{"uid":0,"euid":0,"gid":0,"egid":0},"state":"S","kernel_thread":false,"threads":1}]"#,
    );
    let mut bytes = start(1);
    let at = bytes.len();
    bytes.extend(frame_of(2, 1, &json));
    let _alone = MEASURING.lock().unwrap();
    let base = NOW.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let refused = Reader::new(Cursor::new(&bytes[..]))
        .err()
        .unwrap()
        .to_string();
    let peak = PEAK.load(Ordering::Relaxed) - base;
    assert_eq!(
        refused,
        format!(
            "damaged at byte {at}: a command line of {} bytes, more than the 8192 any source \
             records",
            (MAX_CONTENT - 200) / 3 + 1
        )
    );
    assert!(
        peak <= PER_FILE_BYTE * bytes.len() + CONSTANT,
        "{peak} bytes"
    );
    assert!(peak < 3 * MAX_CONTENT, "{peak} bytes");
}
