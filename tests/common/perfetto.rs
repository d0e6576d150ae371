//! Reading a Perfetto export (`--perfetto OUT`) back and checking its shape: [`read`]
//! parses it and checks what every export must hold (begin and end pairs balanced per
//! track, one lifetime per track, exec slices inside lifetimes, one `recording` slice);
//! the methods find a process's lifetime and check its place under its parent; and what
//! the recording it came from says to compare it with.

use std::{collections::HashMap, path::Path};

use forkwatch::{event::Event, recording::Reader};
use serde_json::Value;

/// A thread track of the trace: its trace `pid` and `tid`.
pub type Track = (u64, u64);

/// One process's lifetime slice, with the exec slices inside it.
#[derive(Debug, Clone)]
pub struct Lifetime {
    pub pid: u32,
    pub ppid: u32,
    pub track: Track,
    pub begin_us: f64,
    pub end_us: f64,
    /// `pid`, `ppid`, `ended`, `exit_code`, `signal`, ...
    pub args: Value,
    pub execs: Vec<Exec>,
    /// The track's name: `· ` per level below its subtree's root, the command, the pid.
    pub track_name: String,
}

#[derive(Debug, Clone)]
pub struct Exec {
    pub name: String,
    pub begin_us: f64,
    pub end_us: f64,
    /// `argv`, `filename`, `creds`, ...
    pub args: Value,
}

impl Lifetime {
    /// Its argv: the first exec's.
    pub fn argv(&self) -> Vec<String> {
        let argv = self.execs.first().map(|e| &e.args["argv"]);
        argv.and_then(Value::as_array)
            .map(|a| a.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default()
    }

    /// How deep its track's name says it is below its subtree's root.
    pub fn depth(&self) -> usize {
        let rest = self.track_name.trim_start_matches("· ");
        let indent = (self.track_name.len() - rest.len()) / "· ".len();
        match rest.strip_prefix('·') {
            Some(deep) => deep.split(' ').next().unwrap().parse().unwrap(),
            None => indent,
        }
    }
}

/// A parsed export.
pub struct Trace {
    pub events: Vec<Value>,
    pub lifetimes: Vec<Lifetime>,
    /// The `recording` slice's length.
    pub duration_us: f64,
}

fn ts(e: &Value) -> f64 {
    e["ts"].as_f64().unwrap()
}

fn track(e: &Value) -> Track {
    (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap())
}

/// Parses the export at `path` and checks what every export holds.
pub fn read(path: &Path) -> Trace {
    let text = std::fs::read_to_string(path).unwrap();
    let root: Value = serde_json::from_str(&text).expect("the export is JSON");
    let events = root["traceEvents"].as_array().expect("traceEvents").clone();
    let names: HashMap<Track, String> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .map(|e| (track(e), e["args"]["name"].as_str().unwrap().to_owned()))
        .collect();
    // Slices are begin and end pairs, nested per track in the order of the file.
    let mut lifetimes: Vec<Lifetime> = Vec::new();
    let mut stacks: HashMap<Track, Vec<&Value>> = HashMap::new();
    let mut execs: HashMap<Track, Vec<Exec>> = HashMap::new();
    for e in events.iter().filter(|e| e["ph"] == "B" || e["ph"] == "E") {
        let stack = stacks.entry(track(e)).or_default();
        if e["ph"] == "B" {
            let inside = stack.last().map(|b| b["cat"].as_str().unwrap());
            match e["cat"].as_str().unwrap() {
                "lifetime" => assert_eq!(inside, None, "a lifetime inside a slice: {e}"),
                "exec" => assert_eq!(inside, Some("lifetime"), "an exec outside a lifetime: {e}"),
                other => panic!("a slice of category {other}: {e}"),
            }
            stack.push(e);
            continue;
        }
        let begin = stack
            .pop()
            .unwrap_or_else(|| panic!("an end without a begin: {e}"));
        assert!(ts(begin) <= ts(e), "ends before it begins: {begin} {e}");
        let mut args = begin["args"].clone();
        args.as_object_mut()
            .unwrap()
            .extend(e["args"].as_object().cloned().unwrap_or_default());
        if begin["cat"] == "exec" {
            execs.entry(track(e)).or_default().push(Exec {
                name: begin["name"].as_str().unwrap().to_owned(),
                begin_us: ts(begin),
                end_us: ts(e),
                args,
            });
            continue;
        }
        let execs = execs.remove(&track(e)).unwrap_or_default();
        assert!(
            execs
                .iter()
                .all(|x| ts(begin) <= x.begin_us && x.end_us <= ts(e)),
            "execs outside their lifetime: {execs:?}, {begin}, {e}"
        );
        assert!(
            !lifetimes.iter().any(|l| l.track == track(e)),
            "one lifetime per track: {e}"
        );
        lifetimes.push(Lifetime {
            pid: args["pid"].as_u64().unwrap() as u32,
            ppid: args["ppid"].as_u64().unwrap() as u32,
            track: track(e),
            begin_us: ts(begin),
            end_us: ts(e),
            args,
            execs,
            track_name: names.get(&track(e)).cloned().expect("every track is named"),
        });
    }
    assert!(
        stacks.values().all(Vec::is_empty),
        "slices never ended: {stacks:?}"
    );
    let recording: Vec<&Value> = events
        .iter()
        .filter(|e| e["name"] == "recording" && e["ph"] == "X")
        .collect();
    assert_eq!(recording.len(), 1, "one recording slice");
    Trace {
        duration_us: recording[0]["dur"].as_f64().unwrap(),
        events,
        lifetimes,
    }
}

impl Trace {
    /// The lifetime of the only process with `pid` in the trace.
    pub fn only(&self, pid: u32) -> &Lifetime {
        let found: Vec<&Lifetime> = self.lifetimes.iter().filter(|l| l.pid == pid).collect();
        assert_eq!(found.len(), 1, "one lifetime of pid {pid}: {found:?}");
        found[0]
    }

    /// The lifetimes of `parent`'s children (by `ppid`, started within its lifetime).
    pub fn children(&self, parent: &Lifetime) -> Vec<&Lifetime> {
        self.lifetimes
            .iter()
            .filter(|l| l.ppid == parent.pid && l.track != parent.track)
            .filter(|l| parent.begin_us <= l.begin_us && l.begin_us <= parent.end_us)
            .collect()
    }

    /// `root`'s lifetime and its descendants'.
    pub fn subtree(&self, root: &Lifetime) -> Vec<&Lifetime> {
        let mut all = vec![
            self.lifetimes
                .iter()
                .find(|l| l.track == root.track)
                .unwrap(),
        ];
        let mut i = 0;
        while i < all.len() {
            let kids = self.children(all[i]);
            all.extend(kids);
            i += 1;
        }
        all
    }

    /// Checks that `child` shows under `parent`: in the same trace process, one level
    /// deeper, with a fork arrow from the parent's track to its own.
    pub fn assert_under(&self, child: &Lifetime, parent: &Lifetime) {
        assert_eq!(child.ppid, parent.pid, "{child:?}");
        assert_eq!(
            child.track.0, parent.track.0,
            "same trace process: {child:?}"
        );
        assert_eq!(
            child.depth(),
            parent.depth() + 1,
            "{child:?} under {parent:?}"
        );
        let arrow = |ph: &str, on: Track| {
            self.events
                .iter()
                .filter(|e| e["ph"] == ph && e["cat"] == "fork" && track(e) == on)
                .map(|e| e["id"].as_u64().unwrap())
                .collect::<Vec<u64>>()
        };
        let ends = arrow("f", child.track);
        assert_eq!(ends.len(), 1, "one fork arrow into {child:?}");
        assert!(
            arrow("s", parent.track).contains(&ends[0]),
            "the arrow into {child:?} starts on {parent:?}"
        );
    }

    /// The instant events on `track`: (name, ts).
    pub fn instants(&self, on: Track) -> Vec<(String, f64)> {
        self.events
            .iter()
            .filter(|e| e["ph"] == "i" && track(e) == on)
            .map(|e| (e["name"].as_str().unwrap().to_owned(), ts(e)))
            .collect()
    }
}

/// The recording's length, from its start to its end frame, in microseconds.
pub fn recording_us(path: &Path) -> f64 {
    let mut reader = Reader::open(path).unwrap();
    let mut events: Vec<Event> = Vec::new();
    while reader.next_batch(&mut events).unwrap() {
        events.clear();
    }
    let end = reader.end().expect("closed properly").end_ns;
    (end - reader.info().start_ns) as f64 / 1e3
}

/// The pids of the processes forked below `root` in the recording at `path`, from its
/// fork events.
pub fn forked_below(path: &Path, root: u32) -> Vec<u32> {
    let mut reader = Reader::open(path).unwrap();
    let mut events: Vec<Event> = Vec::new();
    let mut below = vec![root];
    while reader.next_batch(&mut events).unwrap() {
        for e in events.drain(..) {
            if e.kind_name().as_str() == "fork" && below.contains(&e.ppid) {
                below.push(e.pid);
            }
        }
    }
    below
}
