//! What `watch --json` printed, as the tests of its subtrees compare it.

use forkwatch::event::{Event, Kind, KindName};

/// The (kind, pid, ppid) of each event in `watch --json` output; loss reports are left out,
/// and the totals object that ends it.
pub fn watched_events(stdout: &str) -> Vec<(KindName, u32, u32)> {
    let lines: Vec<&str> = stdout.lines().collect();
    let (totals, lines) = lines.split_last().expect("at least the totals");
    assert!(totals.starts_with(r#"{"kind":"totals","#), "{totals}");
    lines
        .iter()
        .map(|l| serde_json::from_str::<Event>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .filter(|e| !matches!(e.kind, Kind::Lost { .. }))
        .map(|e| (e.kind_name(), e.pid, e.ppid))
        .collect()
}
