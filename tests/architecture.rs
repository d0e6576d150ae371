//! Dependencies point one way. Every top-level module of the crate has a layer (the table
//! below, written here once); a module may name (`crate::x` or `super::x` reaching the
//! root, in code or in a doc link) only modules of its own layer or below, and the modules
//! of one layer may not name each other in a circle. Test code (`#[cfg(test)]` items and
//! the files they declare) is exempt: a test may build whatever it checks from anywhere.
//! `main.rs` and `lib.rs` sit above all.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

/// The layers, lowest first. A new top-level module must be added here, in the lowest
/// layer whose modules are all it needs.
const LAYERS: &[&[&str]] = &[
    // The event every source produces and every consumer reads; the one reader of /proc;
    // leaf utilities every layer may use (text escaping, clocks, pidfds, the stop signals,
    // privileges, private files, the log).
    &[
        "event",
        "text",
        "clock",
        "pidfd",
        "signals",
        "proc",
        "privileges",
        "private_file",
        "logging",
    ],
    // Where events come from (live backends behind the `Feed` trait), recordings of them
    // (written as a tee; a replay is a feed too), and the ssh that streams another
    // machine's recording.
    &["source", "recording", "remote"],
    // The core: the process tree, pins, relay rules and the re-sync policy, free of side
    // effects; it says what to do and is told what came of it.
    &["tracker"],
    // The effects a driver performs for the tracker's relay rules: pidfds, picks, signals.
    &["relay"],
    // The drivers: the headless commands and the terminal UI; the config file, read into
    // their settings (the UI's look among them).
    &["cmd", "ui", "config"],
    // The command line, converted into the plain options the drivers take.
    &["cli"],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

#[test]
fn no_module_imports_one_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect(&src, &mut files);
    let sources: Vec<(String, String)> = files
        .iter()
        .map(|path| {
            let relative = path
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (relative, fs::read_to_string(path).unwrap())
        })
        .collect();
    let problems = check(&sources);
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

/// The checker itself finds an import that points up and a circle within a layer, so that
/// the test above cannot pass by finding nothing.
#[test]
fn the_check_finds_an_upward_import_and_a_circle() {
    let file = |path: &str, text: &str| (path.to_owned(), text.to_owned());
    let problems = check(&[
        file("tracker/mod.rs", "use crate::{event::Event, ui::App};"),
        file("source/mod.rs", "//! See [`crate::recording::Replay`]."),
        file("recording/mod.rs", "use crate::source::Feed;"),
        file(
            "cmd/mod.rs",
            "#[cfg(test)]\nmod tests {\n    use crate::cli::Cli;\n}",
        ),
        file("cmd/x.rs", "#[cfg(test)]\nmod tests;"),
        file("cmd/x/tests.rs", "use crate::cli::Cli;"),
        file("gadget.rs", ""),
        file("ui/mod.rs", "use crate::cli::UiArgs;"),
        file("event/mod.rs", "use super::source::Feed;"),
        file(
            "event/json.rs",
            "use super::Event;\nuse super::super::tracker::Tracker;",
        ),
    ]);
    assert_eq!(
        problems,
        [
            "tracker/mod.rs: `tracker` (layer 2) imports `ui` (layer 4), which is above it",
            "gadget.rs: the module `gadget` has no layer in tests/architecture.rs",
            "ui/mod.rs: `ui` (layer 4) imports `cli` (layer 5), which is above it",
            "event/mod.rs: `event` (layer 0) imports `source` (layer 1), which is above it",
            "event/json.rs: `event` (layer 0) imports `tracker` (layer 2), which is above it",
            "a circle within a layer: recording -> source -> recording",
        ]
    );
}

/// Every problem found in `sources` (paths relative to src/, and their text).
fn check(sources: &[(String, String)]) -> Vec<String> {
    let test_only = test_only_files(sources);
    let mut problems = Vec::new();
    let mut same_layer: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, text) in sources {
        if matches!(path.as_str(), "main.rs" | "lib.rs")
            || path.starts_with("bin/")
            || test_only.iter().any(|t| is_within(path, t))
        {
            continue;
        }
        let module = path.split('/').next().unwrap().trim_end_matches(".rs");
        let Some(own) = layer(module) else {
            problems.push(format!(
                "{path}: the module `{module}` has no layer in tests/architecture.rs"
            ));
            continue;
        };
        for named in modules_named(path, &without_tests(text)) {
            match layer(&named) {
                Some(other) if named != module && other > own => problems.push(format!(
                    "{path}: `{module}` (layer {own}) imports `{named}` (layer {other}), \
                     which is above it"
                )),
                Some(other) if named != module && other == own => {
                    same_layer
                        .entry(module.to_owned())
                        .or_default()
                        .insert(named);
                }
                _ => {}
            }
        }
    }
    problems.extend(circle(&same_layer).map(|c| format!("a circle within a layer: {c}")));
    problems
}

/// Every .rs file under `dir`.
fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// The files (and folders) of modules declared under `#[cfg(test)]` as `mod name;`,
/// without their `.rs`: `tracker/model/tests` stands for `tests.rs` and `tests/`.
fn test_only_files(sources: &[(String, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for (path, text) in sources {
        let dir = match path.rsplit_once('/') {
            Some((dir, "mod.rs")) => dir.to_owned(),
            Some((dir, file)) => format!("{dir}/{}", file.trim_end_matches(".rs")),
            None if path == "lib.rs" || path == "main.rs" => String::new(),
            None => path.trim_end_matches(".rs").to_owned(),
        };
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        for (i, line) in lines.iter().enumerate() {
            if *line != "#[cfg(test)]" {
                continue;
            }
            let item = lines[i + 1..].iter().find(|l| !l.starts_with("#["));
            let name = item
                .and_then(|l| l.strip_suffix(';'))
                .and_then(|l| l.rsplit_once("mod "))
                .map(|(_, name)| name);
            if let Some(name) = name {
                found.push(format!("{dir}/{name}").trim_start_matches('/').to_owned());
            }
        }
    }
    found
}

/// Whether `path` is the file `module.rs` or `module/mod.rs`, or lies in the folder.
fn is_within(path: &str, module: &str) -> bool {
    path == format!("{module}.rs") || path.starts_with(&format!("{module}/"))
}

/// `text` without its `#[cfg(test)]` items (a test module, a test-only function or `use`).
fn without_tests(text: &str) -> String {
    let mut kept = String::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "#[cfg(test)]" {
            kept.push_str(line);
            kept.push('\n');
            continue;
        }
        let mut depth = 0i32;
        let mut opened = false;
        for line in lines.by_ref() {
            depth += brace_balance(line);
            opened |= line.contains('{');
            let attribute = line.trim().starts_with("#[");
            if !attribute && ((opened && depth <= 0) || (!opened && line.trim_end().ends_with(';')))
            {
                break;
            }
        }
    }
    kept
}

/// Opening minus closing braces on a line, outside comments, strings and char literals.
fn brace_balance(line: &str) -> i32 {
    let chars: Vec<char> = line.chars().collect();
    let (mut balance, mut i, mut in_string) = (0, 0, false);
    while i < chars.len() {
        match chars[i] {
            '\\' if in_string => i += 1,
            '"' => in_string = !in_string,
            '/' if !in_string && chars.get(i + 1) == Some(&'/') => break,
            '\'' if !in_string && chars.get(i + 2) == Some(&'\'') => i += 2,
            '{' if !in_string => balance += 1,
            '}' if !in_string => balance -= 1,
            _ => {}
        }
        i += 1;
    }
    balance
}

/// The top-level modules the file at `path` names in `text`: `crate::name` anywhere (code
/// or doc link), each name of a `crate::{a, b::c}` group, and the same after a chain of
/// `super::` that climbs to the crate's root.
fn modules_named(path: &str, text: &str) -> BTreeSet<String> {
    // How many `super::` reach the root: one per folder, one more for a file not mod.rs.
    let depth = path.split('/').count() - usize::from(path.ends_with("/mod.rs"));
    let mut named = BTreeSet::new();
    let mut name = |rest: &str| {
        if let Some(group) = rest.strip_prefix('{') {
            named.extend(group_heads(group));
        } else {
            named.insert(identifier(rest).to_owned());
        }
    };
    for (at, _) in text.match_indices("crate::") {
        name(&text[at + "crate::".len()..]);
    }
    for (at, _) in text.match_indices("super::") {
        let before = &text[..at];
        if before.ends_with("super::") || before.ends_with(|c: char| c.is_alphanumeric()) {
            continue;
        }
        let mut rest = &text[at..];
        let mut climbed = 0;
        while let Some(after) = rest.strip_prefix("super::") {
            rest = after;
            climbed += 1;
        }
        if climbed >= depth {
            name(rest);
        }
    }
    named
}

/// The first path segment of each entry of a `{...}` group, up to its closing brace.
fn group_heads(group: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let (mut depth, mut at_entry) = (0, true);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => at_entry = true,
            c if at_entry && !c.is_whitespace() => {
                heads.push(identifier(&group[i..]).to_owned());
                at_entry = false;
            }
            _ => {}
        }
    }
    heads
}

fn identifier(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// A circle in the graph of imports within layers, as `a -> b -> a`, if there is one.
fn circle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<String> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<String> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut names = path[start..].to_vec();
            names.push(node.to_owned());
            return Some(names.join(" -> "));
        }
        if !done.insert(node.to_owned()) {
            return None;
        }
        path.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, edges, path, done) {
                return Some(found);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|node| visit(node, edges, &mut Vec::new(), &mut done))
}
