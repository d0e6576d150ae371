//! What forkwatch keeps of root once its event source is open (README: "Running as
//! root"). Everything it reads after that (argv, names, /proc, a recording) is controlled
//! by other users, so a flaw in reading it must not be worth root.
//!
//! [`keep_only`] keeps the capabilities a mode still uses and nothing else: not in the
//! effective, permitted, inheritable or ambient sets, not in the bounding set, and with
//! no_new_privs no program it could execute gains any. A root forkwatch also stops being
//! uid 0, which without capabilities still owns every root file (/etc/shadow, most of
//! /proc/sys) by plain owner permissions: it becomes the user who ran sudo, or nobody.
//! Capabilities belong to threads, so this runs while the process has one thread; the
//! threads started later (the recorder's, tokio's blocking pool) inherit what it kept.

use anyhow::{Context, Result, bail};
use rustix::{
    io::Errno,
    process::{Gid, Uid},
    thread::{self, CapabilitySet, CapabilitySets},
};

use crate::backend::Backend;

/// CAP_KILL: relay rules signal processes of any user.
pub const SIGNAL_ANY_PROCESS: CapabilitySet = CapabilitySet::KILL;

/// CAP_SYS_PTRACE: what /proc shows of another user's process only to a reader with
/// ptrace read access: the program (`/proc/PID/exe`), the code addresses in
/// `/proc/PID/stat` (how the procfs backend tells an exec), a zombie's exit code, a
/// thread's wait channel, and under `hidepid` the process itself.
pub const READ_ANY_PROCESS: CapabilitySet = CapabilitySet::SYS_PTRACE;

/// The uid and gid of nobody: whom a root forkwatch becomes when no sudo says who ran it.
const NOBODY: u32 = 65_534;

/// What reading `backend` needs once it is open. The probe needs nothing: its ring buffer
/// is mapped, and its loss counts are read through the map's and programs' own fds.
pub fn to_read(backend: Backend) -> CapabilitySet {
    match backend {
        Backend::Ebpf => CapabilitySet::empty(),
        Backend::Netlink | Backend::Procfs => READ_ANY_PROCESS,
    }
}

/// What re-reading /proc for a snapshot needs: nothing (stat, status and cmdline are open
/// to all), unless /proc is mounted with `hidepid`, which hides other users' processes.
pub fn to_reread_proc() -> CapabilitySet {
    let hidden = std::fs::read_to_string("/proc/self/mountinfo")
        .ok()
        .and_then(|mounts| mounts.lines().rev().find_map(proc_mount_hides_pids));
    if hidden.unwrap_or(false) {
        READ_ANY_PROCESS
    } else {
        CapabilitySet::empty()
    }
}

/// For the mountinfo line of a proc file system mounted on /proc, whether it hides pids.
fn proc_mount_hides_pids(line: &str) -> Option<bool> {
    let (mount, fs) = line.split_once(" - ")?;
    if mount.split(' ').nth(4)? != "/proc" {
        return None;
    }
    let mut fs = fs.split(' ');
    if fs.next()? != "proc" {
        return None;
    }
    let options = fs.nth(1).unwrap_or_default();
    Some(
        options
            .split(',')
            .filter_map(|o| o.strip_prefix("hidepid="))
            .any(|value| !matches!(value, "0" | "off")),
    )
}

/// Gives up every privilege but `keep` (what of it the process has), for good: see the
/// module. A root process becomes [`unprivileged_account`]. Fails if another thread runs.
pub fn keep_only(keep: CapabilitySet) -> Result<()> {
    let threads = std::fs::read_dir("/proc/self/task")
        .context("cannot count this process's threads in /proc")?
        .count();
    if threads != 1 {
        bail!("cannot give up privileges: {threads} threads run already, and each keeps its own");
    }
    let had = thread::capabilities(None).context("cannot read this process's capabilities")?;
    let keep = keep & had.permitted;
    // Shrinking the bounding set takes CAP_SETPCAP; without it no_new_privs alone keeps
    // executed programs from gaining capabilities.
    if had.effective.contains(CapabilitySet::SETPCAP) {
        shrink_bounding_set(keep)?;
    }
    thread::clear_ambient_capability_set().context("cannot clear the ambient capabilities")?;
    let root = rustix::process::geteuid().is_root();
    if root {
        let (uid, gid) = unprivileged_account();
        become_user(uid, gid)?;
    }
    thread::set_capabilities(
        None,
        CapabilitySets {
            effective: keep,
            permitted: keep,
            inheritable: CapabilitySet::empty(),
        },
    )
    .context("cannot give up capabilities")?;
    thread::set_no_new_privs(true).context("cannot set no_new_privs")?;
    tracing::info!(
        uid = rustix::process::geteuid().as_raw(),
        capabilities = ?keep,
        "privileges given up"
    );
    Ok(())
}

/// [`keep_only`] nothing: for reading what someone else wrote (a recording).
pub fn give_up_all() -> Result<()> {
    keep_only(CapabilitySet::empty())
}

fn shrink_bounding_set(keep: CapabilitySet) -> Result<()> {
    for bit in 0..u64::BITS {
        let capability = CapabilitySet::from_bits_retain(1 << bit);
        if keep.contains(capability) {
            continue;
        }
        match thread::remove_capability_from_bounding_set(capability) {
            Ok(()) => {}
            // Past the last capability this kernel has.
            Err(Errno::INVAL) => break,
            Err(e) => return Err(e).context("cannot shrink the capability bounding set"),
        }
    }
    Ok(())
}

/// The user who ran sudo (`SUDO_UID`, `SUDO_GID`), if a root forkwatch acts for one (not
/// for root: uid 0 is what is being given up).
pub fn sudo_user() -> Option<(Uid, Gid)> {
    if !rustix::process::geteuid().is_root() {
        return None;
    }
    let id = |name: &str| {
        std::env::var(name)
            .ok()?
            .parse::<u32>()
            .ok()
            // -1 means "unchanged" to setresuid.
            .filter(|&id| id != 0 && id != u32::MAX)
    };
    let uid = id("SUDO_UID")?;
    Some((
        Uid::from_raw(uid),
        Gid::from_raw(id("SUDO_GID").unwrap_or(NOBODY)),
    ))
}

/// The user who ran sudo, or nobody when there is none.
pub fn unprivileged_account() -> (Uid, Gid) {
    sudo_user().unwrap_or((Uid::from_raw(NOBODY), Gid::from_raw(NOBODY)))
}

/// Becomes `uid` and `gid` with no supplementary groups, keeping the permitted
/// capabilities (the kernel would clear them with the last uid 0).
fn become_user(uid: Uid, gid: Gid) -> Result<()> {
    let context = || format!("cannot become uid {} gid {}", uid.as_raw(), gid.as_raw());
    thread::set_keep_capabilities(true).with_context(context)?;
    // The thread calls are right: this is the only thread (checked above).
    thread::set_thread_groups(&[]).with_context(context)?;
    thread::set_thread_res_gid(gid, gid, gid).with_context(context)?;
    thread::set_thread_res_uid(uid, uid, uid).with_context(context)?;
    thread::set_keep_capabilities(false).with_context(context)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidepid_is_read_from_the_proc_mount() {
        let line = |options: &str| {
            format!("22 27 0:21 / /proc rw,relatime shared:12 - proc proc rw,{options}")
        };
        assert_eq!(proc_mount_hides_pids(&line("relatime")), Some(false));
        assert_eq!(
            proc_mount_hides_pids(&line("hidepid=invisible")),
            Some(true)
        );
        assert_eq!(proc_mount_hides_pids(&line("hidepid=2")), Some(true));
        assert_eq!(proc_mount_hides_pids(&line("hidepid=0")), Some(false));
        let elsewhere = "30 27 0:21 / /mnt/proc rw - proc proc rw,hidepid=2";
        assert_eq!(proc_mount_hides_pids(elsewhere), None);
        let not_proc = "31 27 0:40 / /proc rw - tmpfs tmpfs rw";
        assert_eq!(proc_mount_hides_pids(not_proc), None);
    }
}
