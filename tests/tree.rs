//! `tree`, `replay --tree-at` and `replay --diff`, run as a user runs them: a recorded
//! `make -j2` whose tree at three moments is the one a live `tree` printed then, and whose
//! diff lists exactly the compilers in between; and bad input. (`tree --check`: in
//! tree_check.rs.)

#[path = "common/make_build.rs"]
mod make_build;
// Some of it serves the export's own tests only.
#[allow(dead_code)]
#[path = "common/perfetto.rs"]
mod perfetto;
#[path = "common/running.rs"]
mod running;

use std::{
    collections::BTreeMap,
    path::Path,
    process::{Command, Output},
};

use make_build::MakeBuild;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_forkwatch-tui");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The make subtree of a `tree --json` document: pid, ppid, depth and argv of each.
fn shape(document: &Value) -> Vec<(u64, u64, u64, Vec<String>)> {
    let processes = document["processes"].as_array().unwrap();
    processes
        .iter()
        .map(|p| {
            let argv = p["argv"].as_array().unwrap().iter();
            (
                p["pid"].as_u64().unwrap(),
                p["ppid"].as_u64().unwrap(),
                p["depth"].as_u64().unwrap(),
                argv.map(|a| a.as_str().unwrap().to_owned()).collect(),
            )
        })
        .collect()
}

fn json_of(out: &Output) -> Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_tree_of_a_recorded_build_at_three_moments_is_the_live_one_and_the_diff_its_compilers() {
    let mut build = MakeBuild::start();
    let make = build.make_pid().to_string();
    let mut live = Vec::new();
    for stage in 1..=3 {
        build.wait_at(stage);
        live.push(json_of(&run(&["tree", "--json", "--pid", &make])));
        build.release(stage);
    }
    let file = build.finish();
    let file = file.to_str().unwrap();

    // As a Perfetto trace: it spans the recording, one lifetime per process of the build,
    // each under its parent.
    let dir = tempfile::tempdir().unwrap();
    let trace_file = dir.path().join("build.json");
    let exported = run(&["replay", file, "--perfetto", trace_file.to_str().unwrap()]);
    assert!(exported.status.success(), "{}", stderr(&exported));
    let trace = perfetto::read(&trace_file);
    assert_eq!(trace.duration_us, perfetto::recording_us(Path::new(file)));
    let subtree = trace.subtree(trace.only(build.make_pid()));
    let mut pids: Vec<u32> = subtree.iter().map(|l| l.pid).collect();
    let mut forked = perfetto::forked_below(Path::new(file), build.make_pid());
    pids.sort_unstable();
    forked.sort_unstable();
    assert_eq!(pids, forked, "one lifetime per process of the build");
    for parent in &subtree {
        for child in trace.children(parent) {
            trace.assert_under(child, parent);
        }
    }

    for (i, live) in live.iter().enumerate() {
        let shown = shape(live);
        // make and the stage's shell: the build held still.
        assert_eq!(shown.len(), 2, "{live}");
        assert_eq!(shown[1].3[2], format!("read x < stage{}.fifo", i + 1));
        let time = live["time"].as_str().unwrap();
        let past = run(&["replay", file, "--tree-at", time, "--json", "--pid", &make]);
        assert_eq!(shape(&json_of(&past)), shown, "stage {}", i + 1);
    }

    let (first, second) = (live[0]["time"].as_str(), live[1]["time"].as_str());
    let (first, second) = (first.unwrap(), second.unwrap());
    let diff = run(&[
        "replay", file, "--diff", first, second, "--json", "--pid", &make,
    ]);
    assert!(diff.status.success(), "{}", stderr(&diff));
    let events: Vec<Value> = String::from_utf8(diff.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    // The build's processes: make's descendants, as the forks in between tell.
    let mut build_pids: Vec<u64> = shape(&live[0]).iter().map(|p| p.0).collect();
    for event in events.iter().filter(|e| e["kind"] == "fork") {
        if build_pids.contains(&event["ppid"].as_u64().unwrap()) {
            build_pids.push(event["pid"].as_u64().unwrap());
        }
    }
    let of_build = |e: &&Value| build_pids.contains(&e["pid"].as_u64().unwrap());
    // `--pid`: the build's events, and no others.
    assert_eq!(
        events.iter().filter(of_build).count(),
        events.len(),
        "{events:#?}"
    );
    // Every compiler exec'd in between, by tool: the build's files in its arguments.
    let mut compilers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for event in events
        .iter()
        .filter(of_build)
        .filter(|e| e["kind"] == "exec")
    {
        let argv: Vec<&str> = (event["argv"].as_array().unwrap().iter())
            .map(|a| a.as_str().unwrap())
            .collect();
        let tool = Path::new(argv[0]).file_name().unwrap().to_str().unwrap();
        let mut files: Vec<String> = argv.iter().filter_map(|a| build_file(a)).collect();
        files.dedup();
        compilers
            .entry(tool.to_owned())
            .or_default()
            .push(files.join(" "));
    }
    for runs in compilers.values_mut() {
        runs.sort();
    }
    let group_b = |files: &str| -> Vec<String> {
        (1..=4)
            .map(|i| files.replace('N', &i.to_string()))
            .collect()
    };
    let expected = BTreeMap::from([
        ("as".to_owned(), group_b("bN.o")),
        ("cc".to_owned(), group_b("bN.c bN.o")),
        ("cc1".to_owned(), group_b("bN.c")),
        // The second stage's shell.
        ("sh".to_owned(), vec![String::new()]),
    ]);
    assert_eq!(compilers, expected);
    // Each process of the build that started in between also ended in between, but the
    // second stage's shell; the first stage's shell ended in between too.
    let count = |kind: &str| {
        (events.iter().filter(of_build))
            .filter(|e| e["kind"] == kind)
            .count()
    };
    assert_eq!(
        (count("fork"), count("exit")),
        (4 * 3 + 1, 4 * 3 + 1),
        "{events:#?}"
    );
}

/// `b3.c` for an argument naming one of the build's sources or objects (by path or not).
fn build_file(arg: &str) -> Option<String> {
    let name = Path::new(arg).file_name()?.to_str()?;
    let (stem, ext) = name.split_once('.')?;
    let mut chars = stem.chars();
    let group = chars.next()?;
    let ok = make_build::GROUPS.contains(&group)
        && chars
            .as_str()
            .parse::<usize>()
            .is_ok_and(|n| (1..=make_build::PER_GROUP).contains(&n))
        && (ext == "c" || ext == "o");
    ok.then(|| name.to_owned())
}

/// What a user gets wrong is one line and a non-zero exit.
#[test]
fn bad_times_files_and_options_are_one_line_and_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("short.fwrec");
    let file = file.to_str().unwrap();
    let recorded = run(&["record", "-o", file, "--duration", "0.5"]);
    assert!(recorded.status.success(), "{}", stderr(&recorded));

    let one_line_failure = |args: &[&str], says: &str| {
        let out = run(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    };
    one_line_failure(
        &["replay", file, "--tree-at", "+1h"],
        "the recording runs from",
    );
    one_line_failure(
        &["replay", file, "--tree-at", "-1s"],
        "the recording runs from",
    );
    one_line_failure(
        &["replay", file, "--tree-at", "soon"],
        "`soon` is not a time",
    );
    one_line_failure(
        &["replay", file, "--diff", "+0.4s", "+0.1s"],
        "the second time is before the first",
    );

    let garbage = dir.path().join("garbage.fwrec");
    std::fs::write(&garbage, b"\x89FWREC\r\n\x03\0\0\0not a frame at all").unwrap();
    one_line_failure(
        &["replay", garbage.to_str().unwrap(), "--tree-at", "+0s"],
        "garbage.fwrec",
    );

    // A recording cut short: its end is known from what is left, and the tree there needs
    // what was cut.
    let bytes = std::fs::read(file).unwrap();
    let cut = dir.path().join("cut.fwrec");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let cut = cut.to_str().unwrap();
    let range = stderr(&run(&["replay", cut, "--tree-at", "+1h"]));
    // (Cut inside its snapshot, it does not open at all.)
    let end = range
        .rsplit_once(" to ")
        .map_or("+0s", |(_, end)| end.trim_end_matches(")\n"));
    one_line_failure(&["replay", cut, "--tree-at", end], "cut.fwrec");

    // The command line's own mistakes: clap's message, which names the option.
    for (args, says) in [
        (
            &["replay", file, "--tree-at", "+0s", "--text"][..],
            "--text",
        ),
        (
            &["replay", file, "--tree-at", "+0s", "--diff", "+0s", "+0s"],
            "--diff",
        ),
        (&["replay", file, "--diff", "+0s"], "--diff"),
        (&["replay", file, "--pid", "1"], "--tree-at"),
        (&["tree", "--check", "--json"], "--json"),
    ] {
        let out = run(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(says),
            "{args:?}: {err}"
        );
    }
}
