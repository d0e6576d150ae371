//! Loading the probe's programs and taking its maps: a load retried when the verifier was
//! interrupted, signals held meanwhile, and the kernel's refusal said in one line.

use std::{marker::PhantomData, time::Duration};

use anyhow::{Context, Result, anyhow};
use aya::{Ebpf, programs::ProgramError};

/// Loads a program, trying again when the verifier was interrupted: it gives up with
/// EAGAIN when a signal is pending for the loading thread (libbpf retries too). The
/// pauses, 1 ms growing to 64 ms, let a burst of signals pass.
pub(super) fn retry_interrupted(
    mut load: impl FnMut() -> Result<(), ProgramError>,
) -> Result<(), ProgramError> {
    const ATTEMPTS: u32 = 8;
    let mut attempt = 1;
    loop {
        match load() {
            Err(ProgramError::LoadError { io_error, .. })
                if io_error.raw_os_error() == Some(libc::EAGAIN) && attempt < ATTEMPTS =>
            {
                tracing::debug!(attempt, "the verifier was interrupted; loading again");
                std::thread::sleep(Duration::from_millis(1 << (attempt - 1)));
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Holds every signal that can be held for the current thread while it lives; a signal
/// sent meanwhile stays pending and is delivered when the mask is restored.
pub(super) struct SignalsHeld {
    before: libc::sigset_t,
    /// The mask is the thread's: the guard must be dropped where it was made.
    _not_send: PhantomData<*const ()>,
}

impl SignalsHeld {
    pub(super) fn new() -> Self {
        // SAFETY: both sets are valid and owned; sigfillset and pthread_sigmask cannot fail
        // with valid arguments.
        unsafe {
            let mut all = std::mem::zeroed();
            let mut old = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old);
            Self {
                before: old,
                _not_send: PhantomData,
            }
        }
    }
}

impl Drop for SignalsHeld {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved by `new`, on the thread that saved it.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.before, std::ptr::null_mut()) };
    }
}

pub(super) fn take_map(ebpf: &mut Ebpf, name: &str) -> Result<aya::maps::Map> {
    ebpf.take_map(name)
        .with_context(|| format!("probe has no {name} map"))
}

pub(super) fn program_mut<'a, T>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut T>
where
    &'a mut T: TryFrom<&'a mut aya::programs::Program, Error = ProgramError>,
{
    let prog = ebpf
        .program_mut(name)
        .with_context(|| format!("probe has no program {name}"))?;
    Ok(prog.try_into()?)
}

/// One line saying which program the kernel refused and why; the verifier log goes to
/// the log file.
pub(super) fn refused(program: &str, attach_point: &str, err: ProgramError) -> anyhow::Error {
    let reason = match &err {
        ProgramError::LoadError {
            io_error,
            verifier_log,
        } => {
            let log = verifier_log.to_string();
            tracing::error!(program, %io_error, "verifier log:\n{log}");
            // The verifier explains itself in its last lines before the statistics; the
            // instruction dump and source lines around them are for the log file.
            let explanation: Vec<&str> = log
                .lines()
                .map(str::trim)
                .filter(|l| {
                    !l.is_empty()
                        && !l.starts_with(|c: char| c.is_ascii_digit() || c == ';')
                        && !["processed ", "stack depth", "verification time"]
                            .iter()
                            .any(|p| l.starts_with(p))
                })
                .collect();
            let last = explanation[explanation.len().saturating_sub(2)..].join("; ");
            if last.is_empty() {
                io_error.to_string()
            } else {
                format!("{io_error}: {last}")
            }
        }
        ProgramError::SyscallError(e) => e.io_error.to_string(),
        other => other.to_string(),
    };
    anyhow!("the kernel refused BPF program `{program}` ({attach_point}): {reason}")
}
