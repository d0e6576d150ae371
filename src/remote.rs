//! `--remote [USER@]HOST`: a recording streamed from another machine over ssh. forkwatch
//! runs the user's own `ssh` (their keys, agent, `~/.ssh/config` and known hosts), which
//! runs the remote command (by default `sudo forkwatch-tui record -o -`) and hands its
//! standard output over: a recording stream, which the caller replays as it arrives.
//!
//! ssh runs with `BatchMode=yes`: it may not ask for a password or a host key on the
//! terminal the UI draws on, so it fails with its own one-line error instead, which is
//! kept (the last line it wrote, bounded) for when the stream ends.

use std::{
    io::{self, BufRead, BufReader, Read},
    process::{Child, ChildStdout, Command, ExitStatus, Stdio},
    sync::{Arc, Mutex, mpsc},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, anyhow, bail};

use crate::{
    privileges,
    recording::{EMPTY_STREAM, OpenError, Replay, Stream, merge_streams},
    signals::StopSignals,
    text,
};

/// The remote command run when none is configured.
pub const DEFAULT_COMMAND: &str = "sudo forkwatch-tui record -o -";

/// The most of ssh's last error line kept.
const LINE_BYTES: usize = 512;

/// How long to wait for ssh to exit once its output ended, for its status.
const EXIT_WAIT: Duration = Duration::from_secs(2);

/// How to reach the remote hosts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteOptions {
    /// The ssh program and its options (`ssh = [...]` in the config file).
    pub ssh: Vec<String>,
    /// What ssh runs there: a forkwatch recording to its standard output.
    pub command: String,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        Self {
            ssh: vec!["ssh".to_owned()],
            command: DEFAULT_COMMAND.to_owned(),
        }
    }
}

/// A running ssh whose standard output is a recording stream.
#[derive(Debug)]
pub struct Remote {
    destination: String,
    child: Child,
    /// The last line ssh (or the remote command) wrote to its standard error.
    last_error: Arc<Mutex<String>>,
    /// Closed once that standard error is read to its end.
    error_read: mpsc::Receiver<()>,
}

/// A view's connection to its host: ssh runs while the view holds it, and is stopped
/// once it lets go (the thread that keeps the stream only asks it why the stream ended).
pub type Connection = Arc<Mutex<Remote>>;

/// The replay of the recordings of `destinations` as they arrive over ssh, once their
/// infos and snapshots have: one host's stream, or the merge of several
/// ([`merge_streams`]); `None` if a stop signal came first. ssh runs as the user who ran
/// sudo (their keys), else as forkwatch's user; forkwatch gives up its privileges before
/// a byte of a stream is read. A stream that ssh ends before its snapshot is one line
/// saying why.
pub async fn view_all(
    destinations: &[String],
    options: &RemoteOptions,
    stop: &mut StopSignals,
) -> Result<Option<(Replay, Vec<Connection>)>> {
    let started = Remote::start_all(destinations, options, privileges::give_up_all)?;
    let mut connections = Vec::with_capacity(started.len());
    let mut opening = Vec::with_capacity(started.len());
    for (remote, stream) in started {
        let connection = Arc::new(Mutex::new(remote));
        // Weak: ssh is stopped when the view lets go of it, not when its output ends.
        let told = Arc::downgrade(&connection);
        let why = move || {
            let remote = told.upgrade()?;
            let mut remote = remote.lock().ok()?;
            Some(remote.why_it_ended())
        };
        // All spooled at once: a stream left unread would hold its recorder back.
        opening.push(tokio::spawn(Stream::spool_telling(stream, why)));
        connections.push(connection);
    }
    let opened = async {
        let mut replays = Vec::with_capacity(opening.len());
        for (task, connection) in opening.into_iter().zip(&connections) {
            let opened = task.await.map_err(|e| anyhow!("cannot view: {e}"))?;
            replays.push(opened.map_err(|e| cannot_view(connection, e))?);
        }
        anyhow::Ok(replays)
    };
    let mut replays = tokio::select! {
        replays = opened => replays?,
        () = stop.recv() => return Ok(None),
    };
    if replays.len() == 1 {
        return Ok(replays.pop().map(|replay| (replay, connections)));
    }
    let (merge, merged) = io::pipe()?;
    let broken = merge_streams(replays, merged)?;
    let why = move || {
        (broken.lock().ok())
            .filter(|b| !b.is_empty())
            .map(|b| b.join("; "))
    };
    let replay = (Stream::spool_telling(merge, why).await)
        .map_err(|e| anyhow!("cannot view the merge of the hosts: {e}"))?;
    Ok(Some((replay, connections)))
}

/// Why the stream of `connection` cannot be viewed, `e` what opening it met: in one line,
/// with what ssh said.
fn cannot_view(connection: &Connection, e: OpenError) -> anyhow::Error {
    let Ok(mut remote) = connection.lock() else {
        return anyhow!("cannot view a host: {e}");
    };
    let host = text::escape_str(remote.destination()).into_owned();
    let why = remote.why_it_ended();
    match e {
        OpenError::NotARecording { hint: EMPTY_STREAM } => anyhow!("cannot view {host}: {why}"),
        e => anyhow!("cannot view {host}: {e}; {why}"),
    }
}

/// Checks a destination as ssh would read it: one word that is not an option.
pub fn check_destination(destination: &str) -> Result<()> {
    if destination.is_empty() {
        bail!("--remote needs a host: [USER@]HOST");
    }
    if destination.starts_with('-')
        || destination
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        bail!(
            "--remote {}: not a host ([USER@]HOST or ssh://[USER@]HOST[:PORT])",
            text::escape_str(destination)
        );
    }
    Ok(())
}

impl Remote {
    /// Starts ssh to each of `destinations` running the remote command, as the user who
    /// ran sudo if any (with their keys and known hosts), and keeps each one's last error
    /// line; returns their standard outputs, the streams. Acting for that user needs
    /// privileges and keeping the lines threads: `give_up` is called in between, while
    /// forkwatch has one thread.
    pub fn start_all(
        destinations: &[String],
        options: &RemoteOptions,
        give_up: impl FnOnce() -> Result<()>,
    ) -> Result<Vec<(Self, ChildStdout)>> {
        let Some((program, args)) = options.ssh.split_first() else {
            bail!("the ssh command is empty (`ssh` in the config file)");
        };
        let mut children = Vec::with_capacity(destinations.len());
        for destination in destinations {
            check_destination(destination)?;
            let mut command = Command::new(program);
            command
                .args(args)
                .args(["-T", "-o", "BatchMode=yes", "--", destination])
                .arg(&options.command)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            ends_with_forkwatch(&mut command, privileges::sudo_user());
            let child = command
                .spawn()
                .with_context(|| format!("cannot run {}", text::escape_str(program)))?;
            children.push((destination, child));
        }
        give_up()?;
        children
            .into_iter()
            .map(|(destination, child)| Self::keep_errors(destination, child))
            .collect()
    }

    /// The running ssh `child` to `destination`, its last error line kept by a thread.
    fn keep_errors(destination: &str, mut child: Child) -> Result<(Self, ChildStdout)> {
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let last_error = Arc::new(Mutex::new(String::new()));
        let kept = Arc::clone(&last_error);
        let (done, error_read) = mpsc::channel::<()>();
        thread::Builder::new()
            .name("ssh stderr".to_owned())
            .spawn(move || {
                keep_last_line(stderr, &kept);
                drop(done);
            })
            .context("cannot start a thread")?;
        let remote = Self {
            destination: destination.to_owned(),
            child,
            last_error,
            error_read,
        };
        Ok((remote, stdout))
    }

    /// The host as the user named it, for status lines.
    pub fn destination(&self) -> &str {
        &self.destination
    }

    /// Why the stream ended, in one line, once its output has: ssh's last error line (or
    /// the remote command's) and how ssh exited. Waits a little for it to exit; one that
    /// does not is stopped if forkwatch may.
    pub fn why_it_ended(&mut self) -> String {
        let status = self.wait_a_little();
        // What ssh wrote just before it exited may still be in the pipe; something it
        // started may hold the pipe open longer, which is not waited for.
        let _ = self.error_read.recv_timeout(EXIT_WAIT);
        let line = self
            .last_error
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default();
        let how = match status {
            Some(status) if status.success() => "ssh exited".to_owned(),
            Some(status) => describe(status),
            None => "ssh did not exit and was stopped".to_owned(),
        };
        if line.is_empty() {
            how
        } else {
            format!("{} ({how})", text::escape_str(&line))
        }
    }

    fn wait_a_little(&mut self) -> Option<ExitStatus> {
        let until = Instant::now() + EXIT_WAIT;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < until => thread::sleep(Duration::from_millis(20)),
                // Not waited for: forkwatch may no longer be allowed to stop it.
                _ => {
                    let _ = self.child.kill();
                    return None;
                }
            }
        }
    }
}

impl Drop for Remote {
    /// ssh ends with the view: the remote recorder sees its output close and stops. Not
    /// waited for: when forkwatch may not stop it, it ends when forkwatch does.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.try_wait();
        }
    }
}

/// Makes `command` run as `user` if given, with their groups (ssh then finds their keys,
/// config and known hosts in their home, as it would for them), and end when forkwatch
/// does: once forkwatch has given up its privileges it may not signal an ssh that runs as
/// root or as the user, so the kernel sends SIGTERM instead when forkwatch exits (the
/// thread that starts it is the one that runs to the end).
fn ends_with_forkwatch(command: &mut Command, user: Option<privileges::User>) {
    use std::os::unix::process::CommandExt;
    let groups: Option<Vec<libc::gid_t>> =
        (user.as_ref()).map(|u| u.groups.iter().map(|g| g.as_raw()).collect());
    let ids = user.map(|u| (u.uid.as_raw(), u.gid.as_raw()));
    // SAFETY: between fork and exec only async-signal-safe calls are made (setgroups,
    // setresgid, setresuid, prctl), on memory allocated before the fork.
    unsafe {
        command.pre_exec(move || {
            let fail = |r: libc::c_int| match r {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            };
            if let (Some(groups), Some((uid, gid))) = (&groups, ids) {
                fail(libc::setgroups(groups.len(), groups.as_ptr()))?;
                fail(libc::setresgid(gid, gid, gid))?;
                fail(libc::setresuid(uid, uid, uid))?;
            }
            // After the change of ids, which clears it.
            fail(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM))
        });
    }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("ssh exited with status {code}"),
        (None, Some(signal)) => format!("ssh was killed by signal {signal}"),
        _ => format!("ssh ended: {status}"),
    }
}

/// Keeps the last non-empty line of `from` in `into`, at most [`LINE_BYTES`] of it; a
/// line longer than that is read through, not held.
fn keep_last_line(from: impl Read, into: &Mutex<String>) {
    let mut reader = BufReader::new(from);
    loop {
        let mut kept = Vec::new();
        let mut ended = false;
        loop {
            let buf = match reader.fill_buf() {
                Ok([]) => {
                    ended = true;
                    break;
                }
                Ok(buf) => buf,
                Err(_) => return,
            };
            let (take, newline) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i, true),
                None => (buf.len(), false),
            };
            let room = LINE_BYTES.saturating_sub(kept.len());
            kept.extend_from_slice(&buf[..take.min(room)]);
            reader.consume(take + usize::from(newline));
            if newline {
                break;
            }
        }
        let text = String::from_utf8_lossy(&kept);
        let text = text.trim();
        if !text.is_empty()
            && let Ok(mut last) = into.lock()
        {
            *last = text.to_owned();
        }
        if ended {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Remote {
        fn start_one(destination: &str, options: &RemoteOptions) -> Result<(Self, ChildStdout)> {
            let started = Self::start_all(&[destination.to_owned()], options, || Ok(()))?;
            Ok(started.into_iter().next().expect("one started"))
        }
    }

    fn fake_ssh(script: &str) -> RemoteOptions {
        // `sh -c SCRIPT` ignores what follows as $0, $1...: it stands in for ssh.
        RemoteOptions {
            ssh: vec!["sh".into(), "-c".into(), script.into()],
            command: DEFAULT_COMMAND.into(),
        }
    }

    #[test]
    fn a_destination_that_would_be_an_option_or_two_words_is_refused() {
        for bad in ["", "-oProxyCommand=touch /tmp/x", "host name", "host\nx"] {
            assert!(check_destination(bad).is_err(), "{bad:?}");
        }
        for good in ["host", "user@host", "ssh://user@127.0.0.1:2222", "[::1]"] {
            check_destination(good).unwrap();
        }
    }

    #[test]
    fn ssh_gets_batch_mode_the_destination_after_a_double_dash_and_the_command() {
        let options = fake_ssh(r#"printf '%s|' "$@""#);
        let (mut remote, mut out) = Remote::start_one("user@host", &options).unwrap();
        let mut args = String::new();
        out.read_to_string(&mut args).unwrap();
        assert_eq!(
            args,
            "-o|BatchMode=yes|--|user@host|sudo forkwatch-tui record -o -|"
        );
        assert_eq!(remote.why_it_ended(), "ssh exited");
    }

    #[test]
    fn why_it_ended_is_the_last_error_line_escaped_with_the_exit_status() {
        let options = fake_ssh(
            r#"echo first >&2; printf 'Permission denied \033[31m(publickey)\n\n' >&2; exit 255"#,
        );
        let (mut remote, mut out) = Remote::start_one("host", &options).unwrap();
        std::io::copy(&mut out, &mut std::io::sink()).unwrap();
        assert_eq!(
            remote.why_it_ended(),
            r"Permission denied \e[31m(publickey) (ssh exited with status 255)"
        );
    }

    #[test]
    fn a_huge_error_line_is_kept_bounded() {
        let options = fake_ssh("head -c 10000000 /dev/zero | tr '\\0' x >&2; exit 1");
        let (mut remote, mut out) = Remote::start_one("host", &options).unwrap();
        std::io::copy(&mut out, &mut std::io::sink()).unwrap();
        let why = remote.why_it_ended();
        assert!(why.len() < LINE_BYTES + 64, "{}", why.len());
        assert!(why.ends_with("(ssh exited with status 1)"), "{why}");
    }

    #[test]
    fn a_missing_ssh_is_one_line() {
        let options = RemoteOptions {
            ssh: vec!["/nonexistent/ssh".into()],
            ..RemoteOptions::default()
        };
        let error = Remote::start_one("host", &options).unwrap_err();
        assert_eq!(format!("{error:#}").lines().count(), 1);
        assert!(format!("{error:#}").starts_with("cannot run /nonexistent/ssh"));
    }
}
