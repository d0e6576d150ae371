//! The flags of `tree`.

use clap::Args;

use super::{LiveArgs, PlaceArgs};
use crate::cmd::tree::TreeOptions;

#[derive(Args, Debug)]
pub struct TreeArgs {
    #[command(flatten)]
    pub live: LiveArgs,

    /// One JSON document instead of text: `at_ns`, `time`, and `processes` in tree order,
    /// each with pid, ppid, start_ns, depth, children, comm, argv, ids and user.
    #[arg(long, conflicts_with = "check")]
    pub json: bool,

    /// Only the subtree of this process.
    #[arg(long, value_name = "PID", conflicts_with = "check")]
    pub pid: Option<u32>,

    /// Compare the model's live processes with /proc instead of printing them: a line for
    /// each process one has and the other has not, each pid that names another process in
    /// each, each parent that differs; exit 1 if there is any. What changes while /proc is
    /// read is not a difference (README: "The tree now and then").
    #[arg(long)]
    pub check: bool,

    /// Follow events until interrupted (Ctrl-C, SIGTERM) before printing or comparing,
    /// rather than for a tenth of a second.
    #[arg(long)]
    pub follow: bool,

    /// Only the processes of this container or cgroup, with their ancestors.
    #[command(flatten)]
    pub place: PlaceArgs,
}

impl TreeArgs {
    /// What of the tree to print, and how.
    pub fn options(&self) -> TreeOptions {
        TreeOptions {
            json: self.json,
            pid: self.pid,
            place: self.place.filter(),
            hosts: None,
        }
    }
}
