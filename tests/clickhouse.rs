//! The fleet store end to end (docs/clickhouse.md): two real recordings, made on this
//! machine around a known process tree by recorders in UTS namespaces of their own (so
//! each names another host), printed with `replay --json --schema otel`, loaded into a
//! ClickHouse server the test starts, and the page's three queries run against them:
//! their answers must be what the recordings hold, computed here from the same
//! recordings' forkwatch JSON, and must hold the processes the test made.

#[path = "common/clickhouse.rs"]
mod clickhouse;
// Only its start from a prepared command serves here.
#[allow(dead_code)]
#[path = "common/running.rs"]
mod running;

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    path::Path,
    process::{Command, Stdio},
};

use clickhouse::ClickHouse;
use running::Running;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_forkwatch-tui");
/// The argument docs/clickhouse.md's subtree query looks for.
const DOC_MARKER: &str = "deploy-2026-12-03";

/// The tree each recording holds: a root shell with a sleep in the background, a shell
/// that runs a sleep (a grandchild), and a shell that prints its pid and kills itself.
const TREE: &str = r#"sleep 0.3 &
sh -c 'sleep 0.1; true'
sh -c 'echo $$; kill -KILL $$'
wait"#;

/// What the test knows of a recording it made.
struct Made {
    host: &'static str,
    root: u32,
    killed: u32,
}

/// Records, as `host`, around [`TREE`] started with `marker` among its arguments.
fn record(host: &'static str, file: &Path, marker: &str) -> Made {
    let mut recorder = Command::new("unshare");
    recorder.args([
        "--uts",
        "sh",
        "-c",
        r#"hostname "$1" && exec "$2" record -o "$3""#,
    ]);
    recorder.args(["sh", host, BIN, file.to_str().unwrap()]);
    let mut recorder = Running::spawn(recorder);
    recorder.wait_for("stop with Ctrl-C");
    let tree = Command::new("sh")
        .args(["-c", TREE, marker])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let root = tree.id();
    let out = tree.wait_with_output().unwrap();
    assert!(out.status.success());
    let killed = String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // unshare and sh exec: the recorder has the pid spawned.
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(recorder.pid() as i32).unwrap(),
        rustix::process::Signal::INT,
    )
    .unwrap();
    let finished = recorder.finish();
    assert!(finished.status.success(), "{:?}", finished.stderr);
    Made { host, root, killed }
}

/// `replay FILE --json ARGS...`: its lines.
fn replay(file: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("replay")
        .arg(file)
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The ```sql blocks of docs/clickhouse.md, in order.
fn doc_queries() -> Vec<String> {
    let doc = include_str!("../docs/clickhouse.md");
    doc.split("```sql\n")
        .skip(1)
        .map(|block| block.split("```").next().unwrap().to_owned())
        .collect()
}

fn rows(answer: &str) -> Vec<Value> {
    answer
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// A recording's events as forkwatch's own JSON, and what the queries should find there.
struct Held {
    events: Vec<Value>,
}

impl Held {
    fn of(file: &Path) -> Self {
        let lines = replay(file, &[]);
        Self {
            events: lines
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect(),
        }
    }

    fn kind(&self, kind: &'static str) -> impl Iterator<Item = &Value> {
        self.events.iter().filter(move |e| e["kind"] == kind)
    }

    /// The pids of the processes forked below `root`, from the forks' parents.
    fn descendants(&self, root: u32) -> BTreeSet<u64> {
        let mut below = BTreeSet::from([u64::from(root)]);
        for fork in self.kind("fork") {
            if below.contains(&fork["ppid"].as_u64().unwrap()) {
                below.insert(fork["pid"].as_u64().unwrap());
            }
        }
        below.remove(&u64::from(root));
        below
    }

    /// `(pid, run_ns, command)` of the 10 longest-running exits: the last argv the process
    /// ran, else its command name.
    fn longest(&self) -> Vec<(u64, u64, Vec<String>)> {
        let process = |e: &Value| (e["pid"].as_u64().unwrap(), e["start_ns"].as_u64().unwrap());
        let mut argv: HashMap<(u64, u64), Vec<String>> = HashMap::new();
        for exec in self.kind("exec") {
            let args = exec["argv"].as_array().unwrap().iter();
            argv.insert(
                process(exec),
                args.map(|a| a.as_str().unwrap().to_owned()).collect(),
            );
        }
        let mut exits: Vec<_> = self
            .kind("exit")
            .filter(|e| !e["run_ns"].is_null())
            .map(|e| {
                let command = argv.get(&process(e)).cloned().filter(|a| !a.is_empty());
                let comm = vec![e["comm"].as_str().unwrap().to_owned()];
                let run_ns = e["run_ns"].as_u64().unwrap();
                (e["pid"].as_u64().unwrap(), run_ns, command.unwrap_or(comm))
            })
            .collect();
        exits.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        exits.truncate(10);
        exits
    }

    /// Signal number to the pids it killed.
    fn killed(&self) -> BTreeMap<i64, Vec<u64>> {
        let mut killed: BTreeMap<i64, Vec<u64>> = BTreeMap::new();
        for exit in self.kind("exit").filter(|e| !e["signal"].is_null()) {
            let pids = killed.entry(exit["signal"].as_i64().unwrap()).or_default();
            pids.push(exit["pid"].as_u64().unwrap());
        }
        killed.values_mut().for_each(|pids| pids.sort());
        killed
    }
}

#[test]
fn two_hosts_recordings_answer_the_fleet_queries_in_clickhouse() {
    let server = ClickHouse::start();
    server.run_script(clickhouse::SCHEMA);
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("forkwatch-fleet-{}", std::process::id());
    let mut made = Vec::new();
    for host in ["fleet-a", "fleet-b"] {
        let file = dir.path().join(format!("{host}.fwrec"));
        made.push((record(host, &file, &marker), file));
    }
    // `replay F --json --schema otel | curl -T - URL`, the pipeline of the page.
    for (_, file) in &made {
        server.load_replay(BIN, file);
    }
    let held: Vec<(&Made, Held)> = made.iter().map(|(m, file)| (m, Held::of(file))).collect();
    let queries = doc_queries();
    assert_eq!(queries.len(), 3, "docs/clickhouse.md has three queries");

    let subtree = rows(&server.query(queries[0].replace(DOC_MARKER, &marker).as_bytes()));
    for (made, held) in &held {
        let found: BTreeSet<u64> = subtree
            .iter()
            .filter(|row| row["host"] == made.host)
            .map(|row| row["pid"].as_u64().unwrap())
            .collect();
        let expected = held.descendants(made.root);
        assert_eq!(
            found, expected,
            "the subtree of {} on {}",
            made.root, made.host
        );
        // The background sleep, the two shells and the grandchild sleep at least.
        assert!(expected.len() >= 4, "{expected:?}");
        assert!(expected.contains(&u64::from(made.killed)));
    }
    let hosts: BTreeSet<&str> = subtree
        .iter()
        .map(|r| r["host"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, BTreeSet::from(["fleet-a", "fleet-b"]));

    let longest = rows(&server.query(queries[1].as_bytes()));
    for (made, held) in &held {
        let found: Vec<(u64, u64, Vec<String>)> = longest
            .iter()
            .filter(|row| row["host"] == made.host)
            .map(|row| {
                let command = row["command"].as_array().unwrap().iter();
                let command = command.map(|a| a.as_str().unwrap().to_owned()).collect();
                (
                    row["pid"].as_u64().unwrap(),
                    row["run_ns"].as_u64().unwrap(),
                    command,
                )
            })
            .collect();
        assert_eq!(
            found,
            held.longest(),
            "the longest-running on {}",
            made.host
        );
    }

    let by_signal = rows(&server.query(queries[2].as_bytes()));
    for (made, held) in &held {
        let found: BTreeMap<i64, Vec<u64>> = by_signal
            .iter()
            .filter(|row| row["host"] == made.host)
            .map(|row| {
                let pids = row["pids"].as_array().unwrap().iter();
                (
                    row["signal"].as_i64().unwrap(),
                    pids.map(|p| p.as_u64().unwrap()).collect(),
                )
            })
            .collect();
        assert_eq!(found, held.killed(), "the exits by signal on {}", made.host);
        assert!(found[&9].contains(&u64::from(made.killed)), "{found:?}");
        let kill = by_signal
            .iter()
            .find(|r| r["host"] == made.host && r["signal"] == 9);
        assert_eq!(kill.unwrap()["name"], "SIGKILL");
    }
}
