//! Whether this process may load and attach the probe.

const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// The inode of the initial user namespace (PROC_USER_INIT_INO), fixed by the kernel.
const INIT_USER_NS: &str = "user:[4026531837]";

/// The effective capability set, from /proc/self/status.
fn effective_caps() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("CapEff:"))?;
            u64::from_str_radix(line["CapEff:".len()..].trim(), 16).ok()
        })
        .unwrap_or(0)
}

/// Capabilities only count for BPF in the initial user namespace: inside a rootless
/// container CapEff can show them all while the kernel still refuses.
pub fn in_initial_user_namespace() -> bool {
    std::fs::read_link("/proc/self/ns/user").is_ok_and(|ns| ns.as_os_str() == INIT_USER_NS)
}

fn has(caps: u64, cap: u32) -> bool {
    caps & (1 << cap) != 0
}

/// Loading tracing programs needs CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN, in the
/// initial user namespace.
pub fn has_bpf_privileges() -> bool {
    let caps = effective_caps();
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
