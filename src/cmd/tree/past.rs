//! A recording's tree at a moment (`replay --tree-at`) and what changed between two
//! moments (`replay --diff`). Times are read as the replay's seek prompt reads them
//! ([`crate::recording::moment`]), from the recording's start.

use std::{collections::HashSet, io, path::PathBuf, process::ExitCode};

use anyhow::{Result, anyhow, bail};

use super::print::{self, TreeOptions};
use crate::{
    cmd::Printing,
    event::{Event, Kind, KindName, KindSet, host},
    recording::{self, Info, Replay, moment::time_from_start},
    text,
    tracker::model::Model,
    ui::users::Users,
};

/// The model of the recording at `at_ns`: the processes alive at the latest keyframe at
/// or before it (the snapshot when there is none), with every event from there up to
/// `at_ns` applied. A long recording is not read from its start (docs/recording.md,
/// "Keyframe frames"); what lies before the keyframe, damage included, is not read.
pub async fn model_at(replay: &mut Replay, at_ns: u64) -> Result<Model> {
    replay.pause();
    let start = replay.seek_from_keyframe(at_ns)?;
    let mut model = Model::default();
    model.seed_keyframe(&start);
    let mut batch = Vec::new();
    while replay.is_seeking() {
        replay.next_batch(&mut batch).await;
        for event in batch.drain(..) {
            model.apply(&event);
        }
    }
    model.tick(at_ns);
    Ok(model)
}

/// `replay FILE --tree-at TIME`: the processes alive at TIME, printed as `tree` prints.
pub async fn tree_at(
    files: &[PathBuf],
    time: &str,
    mut options: TreeOptions,
    skip_damage: bool,
) -> Result<ExitCode> {
    let path = recording::describe(files);
    let opened = recording::open_all(files, skip_damage, Model::for_keyframes)?;
    recording::say_damaged(&opened.damaged);
    let mut replay = opened.replay;
    replay.skip_damage(skip_damage);
    let at_ns = moment(&replay, "--tree-at", time)?;
    let model = model_at(&mut replay, at_ns).await?;
    undamaged(&replay, &path, skip_damage)?;
    options.pid = options.pid.map(|pid| on_a_host(&model, replay.info(), pid));
    options.hosts = (!replay.info().hosts.is_empty()).then(|| replay.info().hosts());
    let clock = replay.info().wall_clock();
    let mut users = users_of(replay.info());
    let mut out = io::stdout().lock();
    let shown = print::print(&model, at_ns, &clock, &mut users, &options, &mut out)?;
    eprintln!(
        "forkwatch-tui: the tree of {path} at {}: {shown} processes",
        clock.time_of_day(at_ns)
    );
    Ok(ExitCode::SUCCESS)
}

/// `replay FILE --diff T1 T2`: the processes started (fork), exec'd and exited after T1
/// and up to T2, an event each in time order, as `events` prints them; with `pid`, only
/// those of the subtree of the process that had that pid at T1 (and those born into it).
pub async fn diff(
    files: &[PathBuf],
    [first, second]: [&str; 2],
    pid: Option<u32>,
    mut printing: Printing,
    skip_damage: bool,
) -> Result<ExitCode> {
    let path = recording::describe(files);
    let opened = recording::open_all(files, skip_damage, Model::for_keyframes)?;
    recording::say_damaged(&opened.damaged);
    let mut replay = opened.replay;
    replay.skip_damage(skip_damage);
    let from_ns = moment(&replay, "--diff", first)?;
    let to_ns = moment(&replay, "--diff", second)?;
    if to_ns < from_ns {
        bail!("--diff {first} {second}: the second time is before the first");
    }
    printing.kinds = [KindName::Fork, KindName::Exec, KindName::Exit]
        .into_iter()
        .fold(KindSet::NONE, KindSet::with);
    let clock = replay.info().wall_clock();
    let model = model_at(&mut replay, from_ns).await?;
    // The live pids of the subtree: pids name one live process each.
    let mut members: Option<HashSet<u32>> = match pid {
        Some(pid) => {
            let pid = on_a_host(&model, replay.info(), pid);
            let Some(root) = model.current(pid) else {
                bail!(
                    "no process {pid} was alive at {}",
                    clock.time_of_day(from_ns)
                );
            };
            let alive = model.subtree(root).filter(|p| p.is_alive());
            Some(alive.map(|p| p.key.pid).collect())
        }
        None => None,
    };
    drop(model);
    let hosts = replay.info().hosts();
    let mut writer = printing.writer(io::stdout().lock(), clock, hosts);
    let mut batch = Vec::new();
    replay.seek(to_ns)?;
    while replay.is_seeking() {
        replay.next_batch(&mut batch).await;
        if let Some(members) = &mut members {
            batch.retain(|event| in_subtree(members, event));
        }
        if super::super::write_batch(&mut writer, &mut batch)? {
            return Ok(ExitCode::SUCCESS);
        }
    }
    undamaged(&replay, &path, skip_damage)?;
    eprintln!(
        "forkwatch-tui: from {} to {}: {}",
        clock.time_of_day(from_ns),
        clock.time_of_day(to_ns),
        writer.tally.summary()
    );
    Ok(ExitCode::SUCCESS)
}

/// Whether `event` concerns a member of the subtree whose live pids are `members`, which
/// it updates: a fork under a member adds one, an exit takes one away.
fn in_subtree(members: &mut HashSet<u32>, event: &Event) -> bool {
    match event.kind {
        Kind::Fork if members.contains(&event.ppid) => {
            members.insert(event.pid);
            true
        }
        Kind::Exit(..) => members.remove(&event.pid),
        _ => members.contains(&event.pid),
    }
}

/// The recording time `text` names (after `option`), which must fall within it.
fn moment(replay: &Replay, option: &str, text: &str) -> Result<u64> {
    let position = replay.position();
    let clock = replay.info().wall_clock();
    let at_ns = time_from_start(text, &clock, position.start_ns)
        .map_err(|e| anyhow!("{option}: {}", text::escape_str(&e)))?;
    if !(position.start_ns..=position.end_ns).contains(&at_ns) {
        // In whole milliseconds, rounded down: an offset shown is within the recording.
        let length_ms = position.end_ns.saturating_sub(position.start_ns) / 1_000_000;
        bail!(
            "{option} {}: the recording runs from {} to {} (+0s to +{}.{:03}s)",
            text::escape_str(text),
            clock.time_of_day(position.start_ns),
            clock.time_of_day(position.end_ns),
            length_ms / 1_000,
            length_ms % 1_000
        );
    }
    Ok(at_ns)
}

/// An error if damage was met before the time asked for: what came after it is unknown.
fn undamaged(replay: &Replay, path: &str, skip_damage: bool) -> Result<()> {
    match replay.damage().last() {
        Some(damage) if !skip_damage => Err(anyhow!(
            "{path} is {damage}; what follows it is unknown (--skip-damage goes on after it)"
        )),
        _ => Ok(()),
    }
}

/// User names for a recording made on this machine; uids for one made elsewhere, where
/// they name other people.
fn users_of(info: &Info) -> Users {
    if Info::here(&info.backend, 0).host == info.host {
        Users::system()
    } else {
        Users::with_lookup(|_| None)
    }
}

/// The pid of the live process a user names with `pid`: in a replay of several hosts,
/// the first host's (in the order the recordings were given) that has one alive then.
fn on_a_host(model: &Model, info: &Info, pid: u32) -> u32 {
    (0..info.hosts.len())
        .map(|h| host::merged_pid(h, pid))
        .find(|&merged| model.current(merged).is_some())
        .unwrap_or(pid)
}
