//! Whether this process may load and attach the probe.

use crate::proc::this_process::{self, in_initial_user_namespace};

const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

fn has(caps: u64, cap: u32) -> bool {
    caps & (1 << cap) != 0
}

/// Loading tracing programs needs CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN, in the
/// initial user namespace.
pub fn has_bpf_privileges() -> bool {
    let caps = this_process::effective_capabilities();
    in_initial_user_namespace()
        && (has(caps, CAP_SYS_ADMIN) || (has(caps, CAP_BPF) && has(caps, CAP_PERFMON)))
}

pub fn missing_privileges_message() -> String {
    if !in_initial_user_namespace() {
        return "the eBPF probe needs root in the initial user namespace; this process runs in a user namespace (a rootless container?)".to_owned();
    }
    // SAFETY: geteuid cannot fail.
    let euid = unsafe { libc::geteuid() };
    format!(
        "the eBPF probe needs root, or CAP_BPF and CAP_PERFMON (running as uid {euid} without them); run it with sudo"
    )
}
