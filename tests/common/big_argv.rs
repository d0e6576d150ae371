//! A sleeping process with megabytes of argv: `sh -c 'sleep 600; :' fwbigTOKEN` followed by
//! 32 arguments of 125,000 bytes (4 MB; one argument may not pass MAX_ARG_STRLEN, 128 KiB),
//! started with a stack limit of 64 MiB, as execve takes at most a quarter of it.

#[path = "shell.rs"]
mod shell;

use std::{
    os::unix::process::CommandExt,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use shell::Shell;

/// The bytes of its argv after the first four arguments.
pub const BIG_BYTES: usize = 32 * 125_000;

pub struct BigArgv {
    shell: Shell,
    /// Digits unique to this run, in its fourth argument (`fwbigTOKEN`).
    pub token: String,
}

impl BigArgv {
    pub fn start() -> Self {
        let token = format!(
            "9{}{}",
            std::process::id(),
            forkwatch::clock::boottime_ns() % 1_000_000
        );
        let mut command = Command::new("sh");
        command
            .args(["-c", "sleep 600; :", &format!("fwbig{token}")])
            .args(std::iter::repeat_n("x".repeat(125_000), 32))
            // It says when its sleep is killed.
            .stderr(Stdio::null());
        // SAFETY: only system calls between fork and exec.
        unsafe {
            command.pre_exec(|| {
                let stack = libc::rlimit {
                    rlim_cur: 64 << 20,
                    rlim_max: libc::RLIM_INFINITY,
                };
                if libc::setrlimit(libc::RLIMIT_STACK, &stack) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let shell = Shell(command.spawn().expect("sh with 4 MB of argv starts"));
        // Ready when the shell runs its sleep.
        let children = format!("/proc/{0}/task/{0}/children", shell.id());
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::fs::read_to_string(&children)
            .unwrap_or_default()
            .is_empty()
        {
            assert!(Instant::now() < deadline, "the big shell did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", shell.id())).unwrap();
        assert!(cmdline.len() > BIG_BYTES, "{} bytes of argv", cmdline.len());
        Self { shell, token }
    }

    pub fn pid(&self) -> u32 {
        self.shell.id()
    }
}
