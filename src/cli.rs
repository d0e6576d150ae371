//! Command-line interface.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::event::KindSet;

#[derive(Parser, Debug)]
#[command(
    name = "forkwatch-tui",
    version,
    about = "Watch a Linux machine's processes live: fork, exec, exit, threads, uid and gid changes"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Write the log here instead of $XDG_STATE_HOME/forkwatch/forkwatch.log.
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,

    /// Size of the kernel ring buffer the probe writes into, in MiB (a power of two).
    #[arg(long, global = true, value_name = "MIB", default_value_t = 16)]
    pub buffer_mib: u32,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print process events as they happen, one per line.
    Events(EventsArgs),
    /// Record the process events to a file, to replay later (without root).
    Record(RecordArgs),
    /// Play back a recording made with `record`.
    Replay(ReplayArgs),
}

#[derive(Args, Debug)]
pub struct RecordArgs {
    /// The file to record to (replaced if it exists), e.g. session.fwrec.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,

    /// Stop after this many seconds.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub duration: Option<std::time::Duration>,
}

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// The recording.
    pub file: PathBuf,

    #[command(flatten)]
    pub output: OutputArgs,

    /// Go on after damage, from the next intact part of the file (the exit status still
    /// says the file was damaged).
    #[arg(long)]
    pub skip_damage: bool,
}

#[derive(Args, Debug)]
pub struct EventsArgs {
    #[command(flatten)]
    pub output: OutputArgs,

    /// Stop after this many seconds.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub duration: Option<std::time::Duration>,
}

/// How events are printed: shared by every command that prints them.
#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// One JSON object per line instead of text.
    #[arg(long)]
    pub json: bool,

    /// Print only these kinds: fork, thread_start, exec, exit, thread_exit, uid, gid
    /// (comma-separated). Loss reports are always printed.
    #[arg(long, value_name = "LIST")]
    pub kinds: Option<KindSet>,
}

fn parse_seconds(s: &str) -> Result<std::time::Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    std::time::Duration::try_from_secs_f64(secs)
        .map_err(|_| format!("`{s}` is not a positive number of seconds"))
}
