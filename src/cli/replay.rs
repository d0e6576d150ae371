//! The flags of `replay`.

use std::{
    io::{self, IsTerminal},
    path::{Path, PathBuf},
};

use anyhow::Result;
use clap::{ArgGroup, Args};

use super::{OutputArgs, keymap};
use crate::{cmd::replay::Instead, config::Config, recording, ui::replay::ReplayOptions};

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("moment").args(["tree_at", "diff"])))]
pub struct ReplayArgs {
    /// The recording; several are replayed as one view of several hosts, each process
    /// under its host; `-` replays standard input as it arrives (from `record -o -`).
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    /// Replay the file while it is still being written (`record -o FILE` running): new
    /// events are shown as they are written, until its end.
    #[arg(long, conflicts_with_all = ["moment"])]
    pub follow: bool,

    #[command(flatten)]
    pub output: OutputArgs,

    /// Print the events as text lines even on a terminal, instead of the terminal UI.
    #[arg(long, conflicts_with_all = ["json", "schema"])]
    pub text: bool,

    /// Go on after damage, from the next intact part of the file (the exit status still
    /// says the file was damaged).
    #[arg(long)]
    pub skip_damage: bool,

    /// Write the recording as a Perfetto trace (Chrome trace-event JSON, for
    /// ui.perfetto.dev and chrome://tracing) instead of printing its events: a track per
    /// process, a slice per lifetime and exec, instants for uid and gid changes.
    #[arg(long, value_name = "OUT",
          conflicts_with_all = ["json", "text", "kinds", "container", "cgroup", "moment"])]
    pub perfetto: Option<PathBuf>,

    /// Print the critical path of the subtree of the first process with this pid, instead
    /// of the events: from its exit back through the child whose exit it waited on last.
    #[arg(long, value_name = "PID",
          conflicts_with_all = ["json", "text", "kinds", "container", "cgroup", "moment"])]
    pub critical_path: Option<u32>,

    /// Print the tree as it was at TIME instead of the events, as `tree` prints it
    /// (`--json` too): the processes alive then. TIME is a time of day as the replay shows
    /// it (12:01:02, 12:01:02.5), the first such time from the recording's start, or an offset
    /// from its start (+30s, +1m30s, +500ms).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true,
          conflicts_with_all = ["text", "kinds", "diff", "schema"])]
    pub tree_at: Option<String>,

    /// Print the processes started (fork), exec'd and exited after T1 and up to T2, an
    /// event each in time order, as `events` prints them (`--json` too). Times as for
    /// --tree-at.
    #[arg(long, num_args = 2, value_names = ["T1", "T2"], allow_hyphen_values = true,
          conflicts_with_all = ["text", "kinds"])]
    pub diff: Option<Vec<String>>,

    /// With --tree-at or --diff: only the subtree of the process that had this pid then
    /// (at T1), and the processes born into it.
    #[arg(long, value_name = "PID", requires = "moment")]
    pub pid: Option<u32>,
}

impl ReplayArgs {
    /// Whether the recording is shown in the terminal UI: when stdin and stdout are a
    /// terminal, unless `--text`, `--json` or `--kinds` asks for its events printed.
    pub fn in_ui(&self) -> bool {
        let printed = self.text || self.output.json || self.output.kinds.is_some();
        let made = self.perfetto.is_some() || self.critical_path.is_some();
        let printed = printed || self.tree_at.is_some() || self.diff.is_some();
        // Keys are read from the terminal even when standard input is the stream.
        let keys = io::stdin().is_terminal() || self.streamed();
        !printed && !made && keys && io::stdout().is_terminal()
    }

    /// Whether the recording is replayed as it arrives: from standard input or followed.
    pub fn streamed(&self) -> bool {
        self.follow || (self.files.iter()).any(|f| f == Path::new(recording::STANDARD_STREAM))
    }

    /// What the replay makes instead of printing events.
    pub fn instead(&self) -> Instead {
        Instead {
            perfetto: self.perfetto.clone(),
            critical_path: self.critical_path,
        }
    }

    /// What the terminal UI replays, and how it looks and takes keys as the config file
    /// says.
    pub fn ui_options(&self, config: &Config) -> Result<ReplayOptions> {
        Ok(ReplayOptions {
            files: self.files.clone(),
            follow: self.follow,
            skip_damage: self.skip_damage,
            look: config.look(std::env::var_os("NO_COLOR").as_deref()),
            model: config.model(),
            keymap: keymap(config)?,
            place: self.output.place.filter(),
        })
    }
}
