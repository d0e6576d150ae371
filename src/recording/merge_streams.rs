//! Several recordings as they arrive (`--remote A --remote B`), merged into one stream as
//! [`merge`](super::merge) merges files: a block of pids and a process at the top for each
//! host, times moved onto the clock of the one that booted first. Events go out as they
//! arrive, each host's in its own order: a merge in time order would hold every host back
//! to the quietest one's pace. The merge is a recording stream itself, replayed as any
//! stream is.

use std::{
    io::{self, Write},
    sync::{
        Arc, Mutex,
        mpsc::{self, RecvTimeoutError},
    },
    thread,
    time::{Duration, Instant},
};

use super::{
    Info, Replay, Speed, StreamEnd, Writer,
    merge::{host_names, host_root, merged_info, moved_event, moved_process, shift},
};
use crate::{event::Event, proc::snapshot::ProcessInfo};

/// Frames of the merge go out at least this often while events flow, as `record -o -`
/// flushes its own.
const FLUSH: Duration = Duration::from_millis(100);

/// Batches waiting for the merge's writer, at most: each is one frame of a host's stream
/// at most, so what waits in memory is bounded.
const WAITING: usize = 64;

/// What a host's thread hands the merge's writer.
enum Arrived {
    Events(Vec<Event>),
    /// The host's stream is over: ended, or broke for a reason (with its name; escaped
    /// where it is shown, as every stream's reason is).
    End(Option<String>),
}

/// Why hosts' streams broke, one line each, as they break.
pub type Broken = Arc<Mutex<Vec<String>>>;

/// Writes the merge of `replays` (recordings still arriving, in the order of their pid
/// blocks) to `out` as one recording, from threads of its own: one per host, and one
/// that writes. It ends once every host's stream has, with an end frame if every one
/// ended properly. Returns where the reasons of the hosts whose streams broke are kept.
pub fn merge_streams(replays: Vec<Replay>, out: impl Write + Send + 'static) -> io::Result<Broken> {
    let infos: Vec<&Info> = replays.iter().map(Replay::info).collect();
    let earliest = (infos.iter().map(|i| i.wall_clock_offset_ns).min()).unwrap_or(0);
    let names = host_names(&infos);
    let mut snapshot: Vec<ProcessInfo> = Vec::new();
    for (index, (replay, name)) in replays.iter().zip(&names).enumerate() {
        let shift = shift(replay.info(), earliest);
        snapshot.push(host_root(index, name));
        snapshot.extend((replay.snapshot().iter()).filter_map(|p| moved_process(p, index, shift)));
    }
    let info = merged_info(&infos, names.clone(), earliest);
    let writer = Writer::new(out, &info, &snapshot)?;
    drop(snapshot);
    let (sender, receiver) = mpsc::sync_channel(WAITING);
    let shifts: Vec<u64> = infos.iter().map(|i| shift(i, earliest)).collect();
    for (index, (mut replay, shift)) in replays.into_iter().zip(shifts).enumerate() {
        let sender = sender.clone();
        let name = names[index].clone();
        thread::Builder::new()
            .name(format!("stream {index}"))
            .spawn(move || read_host(&mut replay, index, shift, &name, &sender))?;
    }
    let broken = Broken::default();
    let told = Arc::clone(&broken);
    let hosts = names.len();
    thread::Builder::new()
        .name("stream merge".into())
        .spawn(move || write_merge(writer, &receiver, hosts, &told))?;
    Ok(broken)
}

/// Hands the events of host `index`'s stream, moved into its block, to the writer as they
/// arrive; then how the stream ended. Stops early once the writer has.
fn read_host(
    replay: &mut Replay,
    index: usize,
    shift: u64,
    name: &str,
    to: &mpsc::SyncSender<Arrived>,
) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    else {
        let _ = to.send(Arrived::End(Some(format!(
            "{name}: cannot start a runtime"
        ))));
        return;
    };
    replay.set_speed(Speed::Max);
    runtime.block_on(async {
        let mut batch = Vec::new();
        while replay.next_batch(&mut batch).await {
            let moved = batch.drain(..).filter_map(|e| moved_event(e, index, shift));
            if to.send(Arrived::Events(moved.collect())).is_err() {
                return;
            }
        }
    });
    let why = match replay.stream_end() {
        Some(StreamEnd::Ended) => None,
        Some(StreamEnd::Broke(reason)) => Some(format!("{name}: {reason}")),
        None => Some(format!("{name}: the stream stopped")),
    };
    let _ = to.send(Arrived::End(why));
}

/// Writes what the hosts' threads hand over until each has ended; a frame at least every
/// [`FLUSH`] while events flow. Stops when the merge's reader has gone.
fn write_merge<W: Write>(
    mut writer: Writer<W>,
    from: &mpsc::Receiver<Arrived>,
    mut hosts: usize,
    broken: &Mutex<Vec<String>>,
) {
    let mut deadline: Option<Instant> = None;
    let mut latest_ns = 0;
    let mut intact = true;
    while hosts > 0 {
        let arrived = match deadline {
            Some(at) => from.recv_timeout(at.saturating_duration_since(Instant::now())),
            None => from.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        let written = match arrived {
            Ok(Arrived::Events(events)) => {
                latest_ns = (events.iter().map(|e| e.ts_ns)).fold(latest_ns, u64::max);
                deadline.get_or_insert_with(|| Instant::now() + FLUSH);
                events.iter().try_for_each(|e| writer.push(e))
            }
            Ok(Arrived::End(why)) => {
                hosts -= 1;
                if let Some(why) = why {
                    intact = false;
                    if let Ok(mut broken) = broken.lock() {
                        broken.push(why);
                    }
                }
                Ok(())
            }
            Err(RecvTimeoutError::Timeout) => {
                deadline = None;
                writer.write_events()
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
        if written.is_err() {
            return;
        }
    }
    // Without its end frame, the merge reads as broken, as the streams it holds were.
    let _ = if intact {
        writer.finish(latest_ns)
    } else {
        writer.write_events()
    };
}
