//! The event records' encoding, its round trip and its refusals.

use super::*;
use crate::{event::MAX_CGROUP_PATH_BYTES, recording::FORMAT_VERSION};

const FORK: u8 = KindName::Fork.codec_tag();

pub(crate) fn every_kind() -> Vec<Event> {
    let base = Event {
        ts_ns: 9_000_000_000,
        pid: 4242,
        tid: 4242,
        ppid: 1,
        start_ns: 8_999_000_000,
        comm: Comm::from("make"),
        creds: Some(Creds {
            uid: 1000,
            euid: 0,
            gid: 1000,
            egid: 1000,
        }),
        cgroup_id: Some(1234),
        pid_ns: None,
        cgroup: None,
        kernel_thread: false,
        kind: Kind::Fork,
    };
    let with = |ts_ns, kind| Event {
        ts_ns,
        kind,
        ..base.clone()
    };
    vec![
        base.clone(),
        Event {
            tid: 4243,
            ..with(9_000_001_000, Kind::ThreadStart)
        },
        with(
            9_000_002_000,
            Kind::Exec {
                filename: "/usr/bin/cc".into(),
                argv: Argv::from_args(["cc", "-c", "ünï cødé", ""]),
                argv_truncated: true,
                filename_truncated: false,
                argv_unreadable: false,
            },
        ),
        with(
            9_000_002_500,
            Kind::Exec {
                filename: ByteString::new(b"/tmp/\xfe\x1b"),
                argv: Argv::from_args([&b"\xff"[..], b"", b"\x1b]52;c;aGk=\x07"]),
                argv_truncated: false,
                filename_truncated: true,
                argv_unreadable: true,
            },
        ),
        Event {
            creds: None,
            cgroup_id: None,
            pid_ns: None,
            cgroup: None,
            kernel_thread: true,
            comm: Comm::from_bytes(b"\xffbad\xfe"),
            ..with(8_000_000_000, Kind::ThreadExit)
        },
        with(9_000_003_000, Kind::Uid { inferred: false }),
        with(9_000_004_000, Kind::Gid { inferred: false }),
        with(9_000_004_500, Kind::Uid { inferred: true }),
        with(9_000_004_600, Kind::Gid { inferred: true }),
        with(9_000_005_000, Kind::Exit(ExitStatus::Code(-1), None)),
        with(
            9_000_006_000,
            Kind::Exit(
                ExitStatus::Signal {
                    signal: 11,
                    core_dumped: true,
                },
                None,
            ),
        ),
        with(9_000_007_000, Kind::Exit(ExitStatus::Unknown, None)),
        Event {
            start_ns: u64::MAX,
            pid: u32::MAX,
            ..with(0, Kind::Exit(ExitStatus::Code(i32::MIN), None))
        },
        Event::lost(u64::MAX, u64::MAX),
        with(
            9_000_007_100,
            Kind::Exit(
                ExitStatus::Code(0),
                Some(Box::new(Usage {
                    user_ns: 412_000_000_000,
                    system_ns: 1,
                    max_rss_bytes: 3 << 30,
                    read_bytes: Some(0),
                    write_bytes: None,
                    voluntary_switches: u64::MAX,
                    involuntary_switches: 0,
                })),
            ),
        ),
        with(
            9_000_007_200,
            Kind::Sample(Sample {
                cpu_ns: u64::MAX,
                rss_bytes: 200 << 20,
                state: State::from_letter(b'R'),
                threads: u32::MAX,
            }),
        ),
        // In a container: the namespace and the cgroup path, given once per frame.
        in_container(
            &base,
            9_000_008_000,
            12,
            Some(1234),
            b"/ctr/\xff \x1b.scope",
        ),
        in_container(
            &base,
            9_000_008_100,
            12,
            Some(1234),
            b"/ctr/\xff \x1b.scope",
        ),
        in_container(&base, 9_000_008_200, 4242, Some(1234), b"/moved"),
        in_container(&base, 9_000_008_300, 7, None, b"/no id"),
        in_container(&base, 9_000_008_400, 7, Some(1234), b"/moved"),
    ]
}

/// `base` in PID namespace 4026532000, where it is `ns_pid`, in cgroup `id` at `path`.
fn in_container(base: &Event, ts_ns: u64, ns_pid: u32, id: Option<u64>, path: &[u8]) -> Event {
    Event {
        ts_ns,
        cgroup_id: id,
        pid_ns: Some(PidNamespace {
            inode: 4_026_532_000,
            pid: ns_pid,
        }),
        cgroup: Some(CgroupPath::new(path)),
        ..base.clone()
    }
}

/// `event` as format versions 1 and 2 write it: without the second flags byte.
fn encoded_before_version_3(event: &Event) -> Vec<u8> {
    let mut buf = Vec::new();
    encode(event, &mut FrameContext::default(), &mut buf);
    assert_eq!(buf.remove(2), 0, "nothing that versions 1 and 2 lack");
    buf
}

#[test]
fn every_kind_and_extreme_value_round_trips() {
    let events = every_kind();
    let mut buf = Vec::new();
    let mut ts = FrameContext::default();
    for e in &events {
        encode(e, &mut ts, &mut buf);
    }
    let mut input = &buf[..];
    let mut ts = FrameContext::default();
    for e in &events {
        assert_eq!(&decode(&mut input, &mut ts, FORMAT_VERSION).unwrap(), e);
    }
    assert!(input.is_empty());
}

/// A version 3 reader would misread an exit's usage and not know samples: such records in a
/// file that says version 3 are damage.
#[test]
fn usage_and_samples_need_format_version_4() {
    let events = every_kind();
    let is = |e: &&Event, name| e.kind_name() == name;
    let with_usage = events
        .iter()
        .find(|e| matches!(e.kind, Kind::Exit(_, Some(_))));
    let sample = events.iter().find(|e| is(e, KindName::Sample));
    for event in [with_usage.unwrap(), sample.unwrap()] {
        let mut buf = Vec::new();
        encode(event, &mut FrameContext::default(), &mut buf);
        assert_eq!(
            decode(&mut &buf[..], &mut FrameContext::default(), 3).map(|_| ()),
            Err("a sample or an exit's usage in a file older than format version 4")
        );
    }
}

#[test]
fn a_fork_takes_few_bytes() {
    let events = every_kind();
    let mut buf = Vec::new();
    let mut ts = FrameContext {
        prev_ts: events[0].ts_ns - 1_000,
        ..FrameContext::default()
    };
    encode(&events[0], &mut ts, &mut buf);
    // 24 bytes up to format version 2; version 3 added a flags byte.
    assert!(buf.len() <= 25, "{} bytes", buf.len());
}

#[test]
fn cut_or_garbled_records_are_errors_not_panics() {
    let mut buf = Vec::new();
    let mut ts = FrameContext::default();
    encode(&every_kind()[2], &mut ts, &mut buf);
    for len in 0..buf.len() {
        assert!(
            decode(
                &mut &buf[..len],
                &mut FrameContext::default(),
                FORMAT_VERSION
            )
            .is_err(),
            "cut at {len}"
        );
    }
    assert_eq!(
        decode(
            &mut &[99, 0, 0, 0, 0, 0, 0][..],
            &mut FrameContext::default(),
            2
        ),
        Err("unknown event kind")
    );
    assert_eq!(
        decode(
            &mut &[FORK, 0, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x10][..],
            &mut FrameContext::default(),
            FORMAT_VERSION
        ),
        Err("id larger than 32 bits")
    );
    assert_eq!(
        decode(
            &mut &[
                FORK, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
            ][..],
            &mut FrameContext::default(),
            FORMAT_VERSION
        ),
        Err("number longer than 64 bits")
    );
}

/// Flags no writer sets: of another kind, or newer than the file.
#[test]
fn flags_of_another_kind_or_a_newer_version_are_errors() {
    let events = every_kind();
    let encoded = |event: &Event, add: u8| {
        let mut buf = Vec::new();
        encode(event, &mut FrameContext::default(), &mut buf);
        buf[1] |= add;
        buf
    };
    let decoded = |buf: Vec<u8>, version| {
        decode(&mut &buf[..], &mut FrameContext::default(), version).map(|e| e.kind)
    };
    let (fork, exec, inferred_uid) = (&events[0], &events[3], &events[7]);
    for flag in [ARGV_TRUNCATED, FILENAME_TRUNCATED, ARGV_UNREADABLE] {
        for event in [fork, inferred_uid] {
            assert_eq!(
                decoded(encoded(event, flag), FORMAT_VERSION),
                Err("an exec's flags on another kind of event")
            );
        }
    }
    for event in [fork, exec] {
        assert_eq!(
            decoded(encoded(event, INFERRED), FORMAT_VERSION),
            Err("the inferred flag on an event other than a uid or gid change")
        );
    }
    for event in [exec, inferred_uid] {
        assert_eq!(
            decoded(encoded(event, 0), 1),
            Err("flags that format version 1 does not have")
        );
    }
    let old = Event {
        kind: Kind::Exec {
            filename: "/bin/true".into(),
            argv: Argv::from_args(["true", ""]),
            argv_truncated: true,
            filename_truncated: false,
            argv_unreadable: false,
        },
        ..fork.clone()
    };
    assert_eq!(decoded(encoded_before_version_3(&old), 1), Ok(old.kind));
}

/// The second flags byte of version 3: only flags a writer sets, in combinations it makes;
/// a version 2 record has none, and reads without namespace or cgroup path.
#[test]
fn namespace_and_cgroup_path_flags_no_writer_sets_are_errors() {
    let fork = &every_kind()[0];
    let with_place = |event: &Event, place: u8| {
        let mut buf = Vec::new();
        encode(event, &mut FrameContext::default(), &mut buf);
        buf[2] = place;
        decode(&mut &buf[..], &mut FrameContext::default(), FORMAT_VERSION).map(|_| ())
    };
    assert_eq!(
        with_place(fork, 32),
        Err("namespace flags that no writer sets")
    );
    assert_eq!(
        with_place(fork, HAS_USAGE),
        Err("usage on an event other than an exit")
    );
    assert_eq!(
        with_place(fork, NS_PID_DIFFERS),
        Err("a namespace pid without a namespace")
    );
    assert_eq!(
        with_place(fork, HAS_CGROUP_PATH | CGROUP_PATH_AS_BEFORE),
        Err("a cgroup path both given and as before")
    );
    assert_eq!(
        with_place(fork, CGROUP_PATH_AS_BEFORE),
        Err("a cgroup path that no earlier record of the frame gave")
    );
    let no_id = Event {
        cgroup_id: None,
        ..fork.clone()
    };
    assert_eq!(
        with_place(&no_id, CGROUP_PATH_AS_BEFORE),
        Err("a cgroup path as before without a cgroup id")
    );

    let contained = in_container(fork, 9_000_008_000, 12, Some(1234), b"/ctr");
    let mut buf = Vec::new();
    let mut frame = FrameContext::default();
    encode(&contained, &mut frame, &mut buf);
    let first = buf.len();
    encode(&contained, &mut frame, &mut buf);
    assert!(
        buf.len() - first < first - 4,
        "the path is given once per frame"
    );

    let old = encoded_before_version_3(fork);
    assert_eq!(
        decode(&mut &old[..], &mut FrameContext::default(), 2).as_ref(),
        Ok(fork)
    );
}

#[test]
fn a_cgroup_path_longer_than_any_source_gives_is_damage() {
    let fork = &every_kind()[0];
    let path = |len: usize| format!("/{}", "a".repeat(len - 1));
    let round_trip = |len: usize| {
        let event = Event {
            cgroup: Some(path(len).as_str().into()),
            ..fork.clone()
        };
        let mut buf = Vec::new();
        encode(&event, &mut FrameContext::default(), &mut buf);
        decode(&mut &buf[..], &mut FrameContext::default(), FORMAT_VERSION).map(|_| ())
    };
    assert_eq!(round_trip(MAX_CGROUP_PATH_BYTES), Ok(()));
    assert_eq!(
        round_trip(MAX_CGROUP_PATH_BYTES + 1),
        Err("a cgroup path longer than 4096 bytes")
    );
}
