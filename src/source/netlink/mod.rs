//! The kernel's proc connector: a netlink socket (NETLINK_CONNECTOR, group CN_IDX_PROC) on
//! which the kernel announces every fork, exec, exit and uid/gid change.
//!
//! The announcements carry pids only. Start time, command name, argv and credentials are
//! read from /proc when an event arrives, so for a process that is already gone by then
//! they can be missing (the argv marked unreadable) or come from what the backend learnt
//! earlier (the parent's, for a fork). A process's identity (pid, start time) stays
//! consistent: a process keeps the start time its fork (or the start-up snapshot) gave it
//! until its exit.
//!
//! The kernel drops announcements when the socket's buffer is full and says so only once
//! (ENOBUFS). Each CPU numbers its announcements, so every gap in a CPU's numbers is
//! counted and reported as a `lost` event.
//!
//! Mapping: fork -> `fork` or `thread_start`; exec -> `exec`; exit -> `exit` for the last
//! thread of a process, else `thread_exit`; uid/gid -> `uid`/`gid`. A command-name change
//! (prctl) updates the name used for later events. Session, ptrace and core-dump
//! announcements have no event of their own and are not reported (an exit already says
//! whether it dumped core).
//!
//! Here: the subscription's batches. The socket and its messages are in `wire`, the
//! messages turned into events in `translate`, the count of lost ones in `loss`.

mod loss;
mod translate;
mod wire;

use std::os::fd::{AsRawFd, OwnedFd};

use anyhow::{Result, anyhow};
use tokio::io::{Interest, unix::AsyncFd};

use super::FINISH_MARGIN;
use crate::{clock, event::Event, proc::snapshot};
use loss::LossCounter;
use translate::Translator;
use wire::{Message, Subscribed, receive, subscribe};

/// Messages read per batch before handing them on, so a storm does not hold up consumers.
/// Each exec reads /proc while the runtime waits (stat, status, cmdline and the exe link:
/// 14 us on a quiet machine, several times that under an exec storm), so 4,096 held the
/// runtime and the UI's keys 100-300 ms; 256 hold them a few milliseconds, and handing a
/// batch on still costs little next to reading it.
pub const MAX_BATCH: usize = 256;

#[derive(Clone, Debug)]
pub struct NetlinkOptions {
    /// Size of the socket's receive buffer, where announcements wait to be read. The kernel
    /// doubles it for bookkeeping; each announcement takes about 1 KiB of it.
    pub receive_buffer_bytes: u32,
}

impl Default for NetlinkOptions {
    fn default() -> Self {
        Self {
            receive_buffer_bytes: 16 << 20,
        }
    }
}

/// A subscription to the proc connector.
pub struct Netlink {
    socket: AsyncFd<OwnedFd>,
    /// Messages received and not yet turned into events.
    received: Vec<Message>,
    loss: LossCounter,
    translator: Translator,
    /// The last read stopped at [`MAX_BATCH`]: announcements are waiting.
    backlog: bool,
}

impl Netlink {
    /// Subscribes to the proc connector and learns the processes running now. Must run
    /// inside a tokio runtime.
    pub fn open(options: &NetlinkOptions) -> Result<Self> {
        let Subscribed { fd, early } = subscribe(options)?;
        // SAFETY: the AsyncFd owns the socket, so the fd stays open as long as it is watched.
        let socket =
            unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.map_err(|e| {
                anyhow!(
                    "cannot watch the proc connector socket: {}",
                    e.into_parts().1
                )
            })?;
        // After subscribing, so that no process falls between the snapshot and the events.
        let snapshot =
            snapshot::take().map_err(|e| anyhow!("cannot read /proc (is it mounted?): {e}"))?;
        Ok(Self {
            socket,
            received: early,
            loss: LossCounter::default(),
            translator: Translator::new(snapshot),
            backlog: false,
        })
    }

    /// Waits for announcements and appends the events of a batch of them (at most
    /// [`MAX_BATCH`]) to `out`, then a loss report if any were lost. When more are left,
    /// the next call yields to the runtime once before reading on, so a socket that refills
    /// as fast as it is read still lets the caller's other work run in between.
    pub async fn next_batch(&mut self, out: &mut Vec<Event>) -> Result<()> {
        if self.backlog {
            tokio::task::yield_now().await;
        }
        let mut overflows = 0;
        while self.received.is_empty() && overflows == 0 {
            let mut guard = self.socket.readable().await?;
            let fd = guard.get_inner().as_raw_fd();
            let received = receive(fd, &mut self.received, MAX_BATCH)?;
            if received.drained {
                guard.clear_ready();
            }
            self.backlog = !received.drained;
            overflows += received.overflows;
        }
        self.process(overflows, out);
        Ok(())
    }

    /// Appends what the socket held when called, without waiting, and reports all loss:
    /// the last batch before stopping. It stops after the first batch that holds an
    /// announcement stamped [`FINISH_MARGIN`] after the call (why a margin: there), so a
    /// storm cannot keep it going: it reads at most the socket's buffer and what the margin
    /// brings.
    pub fn finish(&mut self, out: &mut Vec<Event>) {
        let now = clock::boottime_ns().saturating_sub(clock::monotonic_to_boottime_offset_ns());
        let until = now.saturating_add(FINISH_MARGIN.as_nanos() as u64);
        let fd = self.socket.get_ref().as_raw_fd();
        let mut overflows = 0;
        loop {
            match receive(fd, &mut self.received, MAX_BATCH) {
                Ok(received) => {
                    overflows += received.overflows;
                    let later = self.received.iter().any(|m| m.timestamp_ns > until);
                    self.backlog = !received.drained;
                    if received.drained || later {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!("reading the proc connector at the end: {e}");
                    break;
                }
            }
            self.process(0, out);
        }
        self.process(overflows, out);
    }

    /// Turns the received messages into events, then reports loss. `overflows` is how
    /// many ENOBUFS the reads met.
    fn process(&mut self, overflows: u32, out: &mut Vec<Event>) {
        let offset = clock::monotonic_to_boottime_offset_ns();
        let mut found_gap = false;
        let messages = std::mem::take(&mut self.received);
        for message in &messages {
            found_gap |= self.loss.check(message.cpu, message.seq);
            self.translator
                .translate(message, message.timestamp_ns + offset, out);
        }
        // Keep the allocation for the next batch.
        self.received = messages;
        self.received.clear();
        if overflows > 0 && !found_gap {
            self.loss.overflowed();
        }
        if let Some(count) = self.loss.take() {
            out.push(Event::lost(clock::boottime_ns(), count));
        }
    }
}
