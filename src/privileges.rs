//! What forkwatch keeps of root once its event source is open (README: "Running as
//! root"). Everything it reads after that (argv, names, /proc, a recording) is controlled
//! by other users, so a flaw in reading it must not be worth root.
//!
//! [`keep_only`] keeps the capabilities a mode still uses and nothing else: not in the
//! effective, permitted, inheritable or ambient sets, not in the bounding set, and with
//! no_new_privs no program it could execute gains any. A root forkwatch also stops being
//! uid 0, which without capabilities still owns every root file (/etc/shadow, most of
//! /proc/sys) by plain owner permissions: it becomes the user who ran sudo, or nobody.
//! Capabilities belong to threads, so this runs while the process has one thread; every
//! thread started later inherits what it kept: the recorder's, and tokio's blocking
//! threads, so in the UI the /proc snapshot task that re-reads /proc after lost events
//! (`spawn_blocking`) holds CAP_SYS_PTRACE and CAP_KILL, as the UI's own thread does.
//!
//! Before that, under sudo, the files the user asked for (a recording, `--log`) are opened
//! with the user's file-system identity ([`files_as`]): the kernel checks every directory
//! on the way as it would for them, so sudo writes nothing for them where they could not
//! write themselves, and what is created is theirs.

use std::{
    ffi::{CStr, CString, OsStr},
    io,
    os::unix::ffi::OsStrExt,
    path::PathBuf,
};

use anyhow::{Context, Result, bail};
use rustix::{
    io::Errno,
    process::{Gid, Uid},
    thread::{self, CapabilitySet, CapabilitySets},
};

use crate::proc;

/// CAP_KILL: relay rules signal processes of any user.
pub const SIGNAL_ANY_PROCESS: CapabilitySet = CapabilitySet::KILL;

/// CAP_SYS_PTRACE: what /proc shows of another user's process only to a reader with
/// ptrace read access: the program (`/proc/PID/exe`), the code addresses in
/// `/proc/PID/stat` (how the procfs backend tells an exec), a zombie's exit code, a
/// thread's wait channel, and under `hidepid` the process itself.
pub const READ_ANY_PROCESS: CapabilitySet = CapabilitySet::SYS_PTRACE;

/// The uid and gid of nobody: whom a root forkwatch becomes when no sudo says who ran it.
const NOBODY: u32 = 65_534;

/// What re-reading /proc for a snapshot needs: nothing (stat, status and cmdline are open
/// to all), unless /proc is mounted with `hidepid`, which hides other users' processes.
pub fn to_reread_proc() -> CapabilitySet {
    if proc::this_process::proc_hides_pids().unwrap_or(false) {
        READ_ANY_PROCESS
    } else {
        CapabilitySet::empty()
    }
}

/// Gives up every privilege but `keep` (what of it the process has), for good: see the
/// module. A root process becomes [`unprivileged_account`]. Fails if another thread runs.
pub fn keep_only(keep: CapabilitySet) -> Result<()> {
    let threads =
        proc::this_process::threads().context("cannot count this process's threads in /proc")?;
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
    if rustix::process::geteuid().is_root() {
        become_user(&unprivileged_account())?;
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

/// An account a root forkwatch acts for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub uid: Uid,
    pub gid: Gid,
    /// Its supplementary groups, as logging in would give them ([`group_list`]).
    pub groups: Vec<Gid>,
}

/// The user who ran sudo (`SUDO_UID`, `SUDO_GID`), if a root forkwatch acts for one (not
/// for root: uid 0 is what is being given up).
pub fn sudo_user() -> Option<User> {
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
    let uid = Uid::from_raw(id("SUDO_UID")?);
    let gid = Gid::from_raw(id("SUDO_GID").unwrap_or(NOBODY));
    let groups = group_list(uid, gid);
    Some(User { uid, gid, groups })
}

/// The user who ran sudo, or nobody (with no supplementary groups) when there is none.
pub fn unprivileged_account() -> User {
    sudo_user().unwrap_or(User {
        uid: Uid::from_raw(NOBODY),
        gid: Gid::from_raw(NOBODY),
        groups: Vec::new(),
    })
}

/// Runs `act`, which opens or creates files, with `user`'s file-system identity when
/// given (fsuid, fsgid and supplementary groups; else as forkwatch runs), then takes back
/// its own. The kernel then checks every directory on the way as for `user`, with none of
/// root's file capabilities (the kernel drops them from the effective set while the fsuid
/// is not 0 and raises them again after), and what `act` creates is `user`'s. Fails if
/// another thread runs: the calls change this thread only.
pub fn files_as<T>(user: Option<&User>, act: impl FnOnce() -> T) -> io::Result<T> {
    let Some(user) = user else {
        return Ok(act());
    };
    let threads = proc::this_process::threads()?;
    if threads != 1 {
        return Err(io::Error::other(format!(
            "cannot open files as uid {}: {threads} threads run already, and only this one would",
            user.uid.as_raw()
        )));
    }
    let groups = rustix::process::getgroups()?;
    thread::set_thread_groups(&user.groups)?;
    // What was taken is given back if the rest cannot be: a failure leaves this thread as
    // it was.
    let taken = set_fs_id(libc::setfsgid, user.gid.as_raw(), "gid").and_then(|gid| {
        set_fs_id(libc::setfsuid, user.uid.as_raw(), "uid")
            .map(|uid| (uid, gid))
            .inspect_err(|_| {
                let _ = set_fs_id(libc::setfsgid, gid, "gid");
            })
    });
    let (uid, gid) = match taken {
        Ok(ids) => ids,
        Err(e) => {
            let _ = thread::set_thread_groups(&groups);
            return Err(e);
        }
    };
    let acted = act();
    set_fs_id(libc::setfsuid, uid, "uid")?;
    set_fs_id(libc::setfsgid, gid, "gid")?;
    thread::set_thread_groups(&groups)?;
    Ok(acted)
}

/// Sets this thread's fsuid or fsgid (`set`: setfsuid or setfsgid) to `id`; returns the
/// one before.
fn set_fs_id(
    set: unsafe extern "C" fn(u32) -> libc::c_int,
    id: u32,
    what: &str,
) -> io::Result<u32> {
    // SAFETY: setfsuid and setfsgid change this thread's credentials and nothing else.
    let before = unsafe { set(id) };
    // They do not say whether they failed: an invalid id changes nothing and returns the
    // current one.
    // SAFETY: as above.
    let now = unsafe { set(u32::MAX) };
    if now as u32 != id {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("cannot take file-system {what} {id}"),
        ));
    }
    Ok(before as u32)
}

/// The home directory of root in the user database, whatever the environment says.
pub fn root_home() -> Option<PathBuf> {
    account(Uid::ROOT).map(|account| account.home)
}

/// What the user database says of a uid.
struct Account {
    name: CString,
    home: PathBuf,
}

fn account(uid: Uid) -> Option<Account> {
    let mut buf = vec![0 as libc::c_char; 4096];
    loop {
        // SAFETY: plain data, filled in by getpwuid_r.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result = std::ptr::null_mut();
        // SAFETY: every pointer is valid for what getpwuid_r writes.
        let rc = unsafe {
            libc::getpwuid_r(
                uid.as_raw(),
                &mut pwd,
                buf.as_mut_ptr(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 || result.is_null() || pwd.pw_name.is_null() || pwd.pw_dir.is_null() {
            return None;
        }
        // SAFETY: getpwuid_r succeeded, so both are NUL-terminated strings inside `buf`.
        let (name, home) = unsafe { (CStr::from_ptr(pwd.pw_name), CStr::from_ptr(pwd.pw_dir)) };
        return Some(Account {
            name: name.to_owned(),
            home: PathBuf::from(OsStr::from_bytes(home.to_bytes())),
        });
    }
}

/// The groups of `uid`'s account as logging in gives them (`getgrouplist`: `gid` and every
/// group that lists the account's name); none for a uid with no account.
fn group_list(uid: Uid, gid: Gid) -> Vec<Gid> {
    let Some(account) = account(uid) else {
        return Vec::new();
    };
    // The kernel holds at most NGROUPS_MAX (65536) groups.
    const MAX: usize = 65_536;
    let mut groups: Vec<libc::gid_t> = vec![0; 64];
    loop {
        let mut count = groups.len() as libc::c_int;
        // SAFETY: `groups` has room for `count` ids.
        let found = unsafe {
            libc::getgrouplist(
                account.name.as_ptr(),
                gid.as_raw(),
                groups.as_mut_ptr(),
                &mut count,
            )
        };
        if found >= 0 || groups.len() >= MAX {
            groups.truncate(usize::try_from(count).unwrap_or(0).min(groups.len()));
            return groups.into_iter().map(Gid::from_raw).collect();
        }
        // Too few places: `count` says how many it needs.
        let needed = usize::try_from(count).unwrap_or(0);
        groups.resize(needed.max(groups.len() * 2).min(MAX), 0);
    }
}

/// Becomes `user`, with their supplementary groups (the user who ran sudo may read what
/// their groups may), keeping the permitted capabilities (the kernel would clear them with
/// the last uid 0).
fn become_user(user: &User) -> Result<()> {
    let (uid, gid) = (user.uid, user.gid);
    let context = || format!("cannot become uid {} gid {}", uid.as_raw(), gid.as_raw());
    thread::set_keep_capabilities(true).with_context(context)?;
    // The thread calls are right: this is the only thread (checked above).
    thread::set_thread_groups(&user.groups).with_context(context)?;
    thread::set_thread_res_gid(gid, gid, gid).with_context(context)?;
    thread::set_thread_res_uid(uid, uid, uid).with_context(context)?;
    thread::set_keep_capabilities(false).with_context(context)?;
    Ok(())
}
