//! Recordings someone else wrote to hurt whoever replays them (docs/recording.md,
//! "Bounds"): huge counts, a zstd bomb, millions of empty arguments, loss counts that
//! overflow, a file of fake frame headers, an argument holding a NUL. The real binary
//! replays each as a real file, in text and in JSON, under a memory limit and a generous
//! guard against hanging: one line says what is wrong, the exit is non-zero, nothing
//! panics.

// All but `frame_of` is used here.
#[allow(dead_code)]
#[path = "common/frames.rs"]
mod frames;

use std::{
    cell::Cell,
    fs::File,
    io::{self, BufReader, Cursor, Read, Seek, SeekFrom},
    os::unix::process::CommandExt,
    path::Path,
    process::{Command, Stdio},
    rc::Rc,
    thread,
    time::{Duration, Instant},
};

use forkwatch::{
    event::{Argv, Comm, Creds, Event, Kind},
    proc::snapshot::ProcessInfo,
    recording::{Info, Input, Reader, Writer},
    tracker::model::Model,
};
use frames::{HEADER_LEN, frame, patch_u32, push_varint, set_crc};

const BIN: &str = env!("CARGO_BIN_EXE_forkwatch-tui");
/// Address space for a replay of these files. A zstd bomb decoded whole, or the old
/// 16 MiB allocation per fake header, goes past it; the bounded reader stays far below.
const MEMORY_LIMIT: u64 = 256 << 20;
/// Only a guard against hanging: the reader is not timed, but a quadratic one never ends.
const GUARD: Duration = Duration::from_secs(300);
const START_NS: u64 = 5_000_000_000;

fn info() -> Info {
    Info {
        host: "crafted".into(),
        kernel: "6.18.0".into(),
        backend: "eBPF".into(),
        wall_clock_offset_ns: 1_763_000_000_000_000_000,
        start_ns: START_NS,
        recorder: "a test".into(),
        hosts: Vec::new(),
    }
}

fn writer() -> Writer<Vec<u8>> {
    Writer::new(Vec::new(), &info(), &[]).unwrap()
}

fn exec(i: u32, argv: Argv) -> Event {
    Event {
        ts_ns: START_NS + u64::from(i) * 1_000,
        pid: 1000 + i,
        tid: 1000 + i,
        ppid: 1,
        start_ns: START_NS,
        comm: Comm::from("job"),
        creds: Some(Creds::default()),
        cgroup_id: None,
        pid_ns: None,
        cgroup: None,
        kernel_thread: false,
        kind: Kind::Exec {
            filename: "/bin/job".into(),
            argv,
            argv_truncated: false,
            filename_truncated: false,
            argv_unreadable: false,
        },
    }
}

fn numbered(i: u32) -> Event {
    exec(i, Argv::from_args(["job".to_owned(), format!("#{i}")]))
}

/// Writes the frame being built; returns where it starts.
fn write_frame(writer: &mut Writer<Vec<u8>>, events: &[Event]) -> usize {
    let at = writer.summary().bytes as usize;
    events.iter().for_each(|e| writer.push(e).unwrap());
    writer.write_events().unwrap();
    at
}

/// What a replay of a file printed.
struct Replayed {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Replays `bytes` from a real file with the real binary, under [`MEMORY_LIMIT`].
fn replay(bytes: &[u8], args: &[&str]) -> Replayed {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crafted.fwrec");
    std::fs::write(&path, bytes).unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let mut command = Command::new(BIN);
    command
        .arg("replay")
        .arg(&path)
        .args(args)
        .stdin(Stdio::null())
        .stdout(File::create(&out).unwrap())
        .stderr(File::create(&err).unwrap());
    // SAFETY: setrlimit is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: MEMORY_LIMIT,
                rlim_max: MEMORY_LIMIT,
            };
            match libc::setrlimit(libc::RLIMIT_AS, &limit) {
                0 => Ok(()),
                _ => Err(io::Error::last_os_error()),
            }
        });
    }
    let mut child = command.spawn().unwrap();
    let deadline = Instant::now() + GUARD;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("replay {args:?} of a crafted file did not end within {GUARD:?}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    // The file's name as FILE, so lines can be compared.
    let read = |file: &Path| {
        let text = String::from_utf8_lossy(&std::fs::read(file).unwrap()).into_owned();
        text.replace(path.to_str().unwrap(), "FILE")
    };
    Replayed {
        code: status.code(),
        stdout: read(&out),
        stderr: read(&err),
    }
}

/// Replays `bytes` in text and in JSON; each must fail with status 1, without a panic and
/// with the same last line on stderr, which is returned (the file named `FILE`) with the
/// JSON output.
fn fails(bytes: &[u8], args: &[&str]) -> (String, String) {
    let mut last_lines = Vec::new();
    let mut json = String::new();
    for form in ["--text", "--json"] {
        let out = replay(bytes, &[args, &[form]].concat());
        let stderr = &out.stderr;
        assert_eq!(out.code, Some(1), "{form}: {stderr}");
        assert!(!stderr.contains("panicked"), "{form}: {stderr}");
        last_lines.push(stderr.lines().last().unwrap_or_default().to_owned());
        json = out.stdout;
    }
    assert_eq!(last_lines[0], last_lines[1]);
    (last_lines.remove(0), json)
}

/// Replays `bytes`, which must be refused before any event: exactly one line.
fn refused(bytes: &[u8]) -> String {
    let out = replay(bytes, &["--json"]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stdout.is_empty());
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    out.stderr.trim_end().to_owned()
}

const DAMAGE_STOPS: &str = "everything before it was replayed (--skip-damage goes on after it)";

#[test]
fn snapshot_counts_no_kernel_or_file_could_hold_are_refused() {
    let mut bytes = writer().into_inner();
    let info_at = 12;
    patch_u32(&mut bytes, info_at + 16, 4_000_000_000);
    set_crc(&mut bytes, info_at);
    assert_eq!(
        refused(&bytes),
        "forkwatch-tui: cannot replay FILE: damaged at byte 12: the snapshot claims \
         4000000000 processes; no Linux system runs more than 4194304"
    );
    // Possible for a kernel, not for a file of a few hundred bytes.
    patch_u32(&mut bytes, info_at + 16, 4_000_000);
    set_crc(&mut bytes, info_at);
    assert_eq!(
        refused(&bytes),
        format!(
            "forkwatch-tui: cannot replay FILE: damaged at byte 12: 4000000 events and \
             processes up to here, more than a file of {} bytes can hold (1 per byte, plus \
             65536)",
            bytes.len()
        )
    );
}

#[test]
fn an_event_count_beyond_the_frame_is_damage() {
    let mut writer = writer();
    write_frame(&mut writer, &[numbered(0)]);
    let at = write_frame(&mut writer, &[numbered(1), numbered(2)]);
    let mut bytes = writer.into_inner();
    let content_len = u32::from_le_bytes(bytes[at + 12..at + 16].try_into().unwrap());
    patch_u32(&mut bytes, at + 16, 1_000_000_000);
    set_crc(&mut bytes, at);
    let (last, json) = fails(&bytes, &[]);
    assert_eq!(
        last,
        format!(
            "forkwatch-tui: FILE is damaged at byte {at}: the frame claims 1000000000 events \
             in {content_len} bytes; {DAMAGE_STOPS}"
        )
    );
    assert_eq!(json.lines().count(), 1);
}

#[test]
fn millions_of_empty_arguments_are_damage() {
    // Made by hand: the writer cuts any argv to what a live source gives. An exec
    // (docs/recording.md, "Events frames"): kind 2, no flags, no namespace or cgroup path
    // flags, time 0, pid 5, ppid 1, start 0, no comm, no file name, then 4,000,000
    // arguments of length 0.
    let args: u32 = 4_000_000;
    let mut content = vec![2, 0, 0, 0, 5, 1, 0, 0, 0];
    push_varint(&mut content, args.into());
    content.resize(content.len() + args as usize, 0);
    let payload = zstd::bulk::compress(&content, 3).unwrap();
    let mut bytes = writer().into_inner();
    let at = bytes.len();
    bytes.extend(frame(3, 1, content.len(), &payload));
    let (last, json) = fails(&bytes, &[]);
    assert_eq!(
        last,
        format!(
            "forkwatch-tui: FILE is damaged at byte {at}: a command line of 4000000 bytes, \
             more than the 8192 any source records; {DAMAGE_STOPS}"
        )
    );
    assert!(json.is_empty());
}

#[test]
fn a_file_name_longer_than_any_source_gives_is_damage() {
    // Made by hand, as above: an exec with a file name of 1,000,000 bytes and no argument.
    let len: u32 = 1_000_000;
    let mut content = vec![2, 0, 0, 0, 5, 1, 0, 0];
    push_varint(&mut content, len.into());
    content.resize(content.len() + len as usize, b'a');
    content.push(0);
    let payload = zstd::bulk::compress(&content, 3).unwrap();
    let mut bytes = writer().into_inner();
    let at = bytes.len();
    bytes.extend(frame(3, 1, content.len(), &payload));
    let (last, json) = fails(&bytes, &[]);
    assert_eq!(
        last,
        format!(
            "forkwatch-tui: FILE is damaged at byte {at}: a file name of 1000000 bytes, \
             more than the 4096 any source records; {DAMAGE_STOPS}"
        )
    );
    assert!(json.is_empty());
}

#[test]
fn loss_counts_that_add_up_past_64_bits_are_damage() {
    let mut writer = writer();
    write_frame(&mut writer, &[Event::lost(START_NS + 1, u64::MAX - 1)]);
    let at = write_frame(&mut writer, &[Event::lost(START_NS + 2, u64::MAX - 1)]);
    let (last, json) = fails(&writer.into_inner(), &[]);
    assert_eq!(
        last,
        format!(
            "forkwatch-tui: FILE is damaged at byte {at}: the loss counts add up to more than \
             2^64 events; {DAMAGE_STOPS}"
        )
    );
    assert_eq!(json.lines().count(), 1);

    // A live source's counts can be anything: the model's sum stops at the top.
    let mut model = Model::default();
    model.apply(&Event::lost(START_NS + 1, u64::MAX - 1));
    model.apply(&Event::lost(START_NS + 2, u64::MAX - 1));
    assert_eq!(model.counts().lost, u64::MAX);
}

#[test]
fn zstd_bombs_are_damage() {
    // Zero bytes are forks of pid 0 (the count is checked against 7 bytes a record, the
    // shortest of any version): 16 MiB of them in a payload of a few hundred.
    let records = (16 << 20) / 7;
    let content = vec![0; records * 7];
    let payload = zstd::bulk::compress(&content, 19).unwrap();
    assert!(payload.len() < 4096, "{} bytes", payload.len());
    let mut bytes = writer().into_inner();
    let at = bytes.len();
    bytes.extend(frame(3, records as u32, content.len(), &payload));
    let (last, json) = fails(&bytes, &[]);
    assert_eq!(
        last,
        format!(
            "forkwatch-tui: FILE is damaged at byte {at}: {records} events and processes up \
             to here, more than a file of {} bytes can hold (1 per byte, plus 65536); \
             {DAMAGE_STOPS}",
            bytes.len()
        )
    );
    assert!(json.is_empty());

    // Optional frames (types 128 on) are checked but not decompressed on the way: bombs
    // among them cost nothing. Keyframes (128) are decompressed when a replay starts at
    // one, within the budget: a bomb gives way to the recording's start.
    for kind in [200, 128] {
        let mut bytes = writer().into_inner();
        let optional = frame(kind, 0, content.len(), &payload);
        for _ in 0..3 {
            bytes.extend_from_slice(&optional);
        }
        let read_through = replay(&bytes, &["--json"]);
        assert_eq!(
            read_through.code,
            Some(0),
            "{kind}: {}",
            read_through.stderr
        );
        let tree = replay(&bytes, &["--tree-at", "+0s"]);
        assert_eq!(tree.code, Some(0), "{kind}: {}", tree.stderr);
        // The empty snapshot's tree: its heading alone.
        assert_eq!(tree.stdout.lines().count(), 1, "{kind}: {}", tree.stdout);
        assert!(
            tree.stderr.contains(": 0 processes"),
            "{kind}: {}",
            tree.stderr
        );
    }
}

#[test]
fn a_seek_back_charges_the_snapshot_again() {
    // 20,000 processes in a file of a few KiB, then a frame of 65,536 events: together
    // they are more than the budget (1 per byte of file plus 65,536), the frame alone not.
    let process = ProcessInfo {
        pid: 2,
        ppid: 1,
        start_ns: START_NS,
        comm: Comm::from("sleep"),
        argv: Argv::from_args(["sleep", "600"]),
        argv_truncated: false,
        creds: Creds::default(),
        state: 'S',
        kernel_thread: false,
        threads: 1,
        pid_ns: None,
        cgroup: None,
        sampled: None,
    };
    let snapshot = vec![process; 20_000];
    let mut bytes = Writer::new(Vec::new(), &info(), &snapshot)
        .unwrap()
        .into_inner();
    let content = vec![0; 65_536 * 7];
    let payload = zstd::bulk::compress(&content, 19).unwrap();
    let at = bytes.len() as u64;
    bytes.extend(frame(3, 65_536, content.len(), &payload));
    assert!(bytes.len() < 20_000, "{} bytes", bytes.len());
    let mut reader = Reader::new(Cursor::new(&bytes[..])).unwrap();
    for pass in ["first", "after a seek back"] {
        let mut events = Vec::new();
        let Err(damage) = reader.next_batch(&mut events) else {
            panic!("{pass}: {} events and no damage", events.len());
        };
        assert_eq!(damage.offset, at, "{pass}");
        assert!(
            damage
                .problem
                .starts_with("85536 events and processes up to here"),
            "{pass}: {damage}"
        );
        assert!(events.is_empty(), "{pass}");
        reader.rewind().unwrap();
    }
}

/// A recording whose middle is `fakes` bytes of frame headers, one every 16 bytes, each
/// claiming 16 MiB of payload; events #0-#2 come before them, #3-#5 after. Returns the
/// bytes and where the fakes start and end.
fn fake_headers(fakes: usize) -> (Vec<u8>, usize, usize) {
    let mut writer = writer();
    write_frame(&mut writer, &(0..3).map(numbered).collect::<Vec<_>>());
    let after = write_frame(&mut writer, &(3..6).map(numbered).collect::<Vec<_>>());
    writer.finish(START_NS + 1_000_000).unwrap();
    let bytes = writer.into_inner();
    let mut pattern = b"FWfr\x03\0\0\0".to_vec();
    pattern.extend_from_slice(&(16u32 << 20).to_le_bytes());
    pattern.extend_from_slice(&(16u32 << 20).to_le_bytes());
    let mut crafted = bytes[..after].to_vec();
    crafted.extend(pattern.iter().cycle().take(fakes));
    crafted.extend_from_slice(&bytes[after..]);
    (crafted, after, after + fakes)
}

#[test]
fn skipping_damage_over_a_file_of_fake_headers_ends() {
    let (bytes, start, end) = fake_headers(40 << 20);
    let (last, json) = fails(&bytes, &["--skip-damage"]);
    // The checking budget runs out over the fakes; those near the end claim more than
    // the file holds and cost nothing, so the real frame after them is found.
    let (at, rest) = (last.strip_prefix("forkwatch-tui: FILE is damaged at byte "))
        .and_then(|rest| rest.split_once(": "))
        .unwrap_or_else(|| panic!("{last}"));
    assert!((start..end).contains(&at.parse().unwrap()), "{last}");
    assert!(
        rest.contains(" possible frames from here to byte "),
        "{last}"
    );
    assert!(
        rest.ends_with(
            " were skipped unchecked (after damage, checking stops at 4 bytes per byte of \
             file); the intact parts were replayed"
        ),
        "{last}"
    );
    let numbers: Vec<String> = json
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["argv"][1].to_string())
        .collect();
    assert_eq!(
        numbers,
        ["\"#0\"", "\"#1\"", "\"#2\"", "\"#3\"", "\"#4\"", "\"#5\""]
    );
}

/// An in-memory file that counts the bytes read from it, and fails reads past `most`
/// (so that a reader that would read without end fails instead of hanging).
struct CountingInput {
    inner: Cursor<Vec<u8>>,
    read: Rc<Cell<u64>>,
    most: u64,
}

impl Read for CountingInput {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.read.get() > self.most {
            return Err(io::Error::other("read more than the bound"));
        }
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

impl Seek for CountingInput {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.inner.seek(to)
    }
}

/// Its size is asked by seeking, as for any input that cannot tell it otherwise.
impl Input for CountingInput {}

/// Reads `bytes` to the end through a [`CountingInput`] behind a buffer as `replay` has,
/// going on after damage; returns the events, the damaged places and the bytes read.
fn read_counting(bytes: Vec<u8>, most: u64) -> (Vec<Event>, usize, u64) {
    let read = Rc::default();
    let input = CountingInput {
        inner: Cursor::new(bytes),
        read: Rc::clone(&read),
        most,
    };
    let mut reader = Reader::new(BufReader::with_capacity(256 * 1024, input)).unwrap();
    let mut events = Vec::new();
    let mut damaged = 0;
    loop {
        match reader.next_batch(&mut events) {
            Ok(true) => {}
            Ok(false) => break,
            Err(_) => {
                damaged += 1;
                if reader.resync().at.is_none() {
                    break;
                }
            }
        }
    }
    (events, damaged, read.get())
}

/// Each byte once, plus what checking may spend after damage: 4 bytes per byte and
/// 32 MiB; 1 MiB more for the buffer.
fn read_bound(len: u64) -> u64 {
    len + 4 * len + (32 << 20) + (1 << 20)
}

#[test]
fn searching_past_fake_headers_reads_a_bounded_multiple_of_the_file() {
    for fakes in [1 << 20, 8 << 20, 40 << 20] {
        let (bytes, _, _) = fake_headers(fakes);
        let len = bytes.len() as u64;
        let (events, damaged, read) = read_counting(bytes, read_bound(len));
        assert_eq!((events.len(), damaged), (6, 1), "{read} bytes read");
        assert!(read <= read_bound(len), "{read} bytes read of {len}");
    }
}

/// No process has an argument holding a NUL; one in a snapshot frame would be two
/// arguments where the JSON shows one, so it is damage, in text and in base64.
#[test]
fn an_argument_holding_a_nul_in_the_snapshot_is_damage() {
    let process = ProcessInfo {
        pid: 300,
        ppid: 1,
        start_ns: START_NS - 1_000,
        comm: Comm::from("job"),
        argv: Argv::from_args([&b"job"[..], b"fwnulAxb", b"\xff"]),
        argv_truncated: false,
        creds: Creds::default(),
        state: 'S',
        kernel_thread: false,
        threads: 1,
        pid_ns: None,
        cgroup: None,
        sampled: None,
    };
    let original = Writer::new(Vec::new(), &info(), &[process])
        .unwrap()
        .into_inner();
    // The file header, the info frame, then the one snapshot frame.
    let frame_len = |at: usize| {
        HEADER_LEN + u32::from_le_bytes(original[at + 8..at + 12].try_into().unwrap()) as usize
    };
    let at = 12 + frame_len(12);
    let payload = &original[at + HEADER_LEN..at + frame_len(at)];
    let json = String::from_utf8(zstd::bulk::decompress(payload, 1 << 20).unwrap()).unwrap();
    // "job", "a\0b" and "\xff" again in base64.
    for (real, crafted) in [("fwnulAxb", r"a\u0000b"), ("\"/w==\"", "\"YQBi\"")] {
        assert!(json.contains(real), "{json}");
        let content = json.replace(real, crafted);
        let payload = zstd::bulk::compress(content.as_bytes(), 3).unwrap();
        let mut bytes = original[..at + HEADER_LEN].to_vec();
        patch_u32(&mut bytes, at + 8, payload.len() as u32);
        patch_u32(&mut bytes, at + 12, content.len() as u32);
        bytes.extend(payload);
        set_crc(&mut bytes, at);
        bytes.extend(&original[at + frame_len(at)..]);
        let refusal = refused(&bytes);
        assert!(
            refusal.starts_with(&format!(
                "forkwatch-tui: cannot replay FILE: damaged at byte {at}: "
            )) && refusal.contains("an argument holds a NUL byte"),
            "{refusal}"
        );
    }
}

#[test]
fn frames_that_claim_more_than_the_file_holds_cost_no_reading_again() {
    // An intact optional frame, then a header claiming 16 MiB that the file does not hold:
    // damage, and the next frame intact. Each such header once made the reader ask the
    // file's size by seeking, which threw away its buffer.
    let empty = zstd::bulk::compress(&[], 3).unwrap();
    let mut fake = frame(3, 1, 16 << 20, &[]);
    patch_u32(&mut fake, 8, 16 << 20);
    let mut pattern = frame(200, 0, 0, &empty);
    pattern.extend_from_slice(&fake);
    let repeats = 125_000;
    let mut writer = writer();
    write_frame(&mut writer, &(0..3).map(numbered).collect::<Vec<_>>());
    let mut bytes = writer.into_inner();
    for _ in 0..repeats {
        bytes.extend_from_slice(&pattern);
    }
    let len = bytes.len() as u64;
    assert!(len > 10 << 20, "{len}");
    let (events, damaged, read) = read_counting(bytes, read_bound(len));
    assert_eq!((events.len(), damaged), (3, repeats), "{read} bytes read");
    assert!(read <= 3 * len, "{read} bytes read of {len}");
}
