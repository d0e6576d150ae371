//! Whether this process may load and attach the probe.

const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

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

fn has(caps: u64, cap: u32) -> bool {
    caps & (1 << cap) != 0
}

/// Loading tracing programs needs CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN.
pub fn has_bpf_privileges() -> bool {
    let caps = effective_caps();
    has(caps, CAP_SYS_ADMIN) || (has(caps, CAP_BPF) && has(caps, CAP_PERFMON))
}

pub fn missing_privileges_message() -> String {
    // SAFETY: geteuid cannot fail.
    let euid = unsafe { libc::geteuid() };
    format!(
        "the eBPF probe needs root, or CAP_BPF and CAP_PERFMON (running as uid {euid} without them); run it with sudo"
    )
}
