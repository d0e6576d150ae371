//! The proc connector's socket: the subscription, reading datagrams, and the messages in
//! them, copied out as they are.

use std::{
    io,
    os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd},
    time::{Duration, Instant},
};

use anyhow::{Result, anyhow, bail};

use super::{MAX_BATCH, NetlinkOptions};
use crate::{clock, proc};

const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
const PROC_CN_MCAST_LISTEN: u32 = 1;

const NLMSG_HDR_LEN: usize = 16;
const CN_MSG_LEN: usize = 20;
/// `struct proc_event`: what, cpu, timestamp_ns, then a 24-byte union.
const PROC_EVENT_LEN: usize = 40;

pub(super) const PROC_EVENT_NONE: u32 = 0;
pub(super) const PROC_EVENT_FORK: u32 = 0x1;
pub(super) const PROC_EVENT_EXEC: u32 = 0x2;
pub(super) const PROC_EVENT_UID: u32 = 0x4;
pub(super) const PROC_EVENT_GID: u32 = 0x40;
pub(super) const PROC_EVENT_COMM: u32 = 0x200;
pub(super) const PROC_EVENT_EXIT: u32 = 0x8000_0000;

/// The kernel answers a subscription at once (in the sending call on current kernels);
/// this only bounds the wait on old ones.
const ACK_TIMEOUT: Duration = Duration::from_secs(1);

/// One proc connector message, copied out of the socket.
#[derive(Clone, Copy, Debug)]
pub(super) struct Message {
    pub(super) seq: u32,
    ack: u32,
    pub(super) what: u32,
    pub(super) cpu: u32,
    pub(super) timestamp_ns: u64,
    pub(super) data: [u8; 24],
}

impl Message {
    pub(super) fn word(&self, i: usize) -> u32 {
        u32::from_ne_bytes(self.data[i * 4..i * 4 + 4].try_into().expect("4 bytes"))
    }
}

pub(super) struct Subscribed {
    pub(super) fd: OwnedFd,
    /// Messages that arrived before the kernel's answer.
    pub(super) early: Vec<Message>,
}

/// Opens the socket, joins the proc connector's group and asks the kernel to announce,
/// then waits for its answer: without one, events could only come from another listener's
/// subscription and would stop with it.
pub(super) fn subscribe(options: &NetlinkOptions) -> Result<Subscribed> {
    if !proc::this_process::in_initial_user_namespace() {
        // The kernel would ignore the subscription without a word.
        bail!(
            "the proc connector answers only processes in the initial user namespace; this \
             process runs in a user namespace (a rootless container?)"
        );
    }
    let fd = join_group(options)?;
    // Our own ack number, to tell the kernel's answer to us from answers to other listeners.
    let ack = std::process::id() ^ clock::boottime_ns() as u32;
    ask_to_listen(&fd, ack)?;
    let early = await_answer(&fd, ack)?;
    Ok(Subscribed { fd, early })
}

/// Opens a proc connector socket, sized as `options` say, in the proc connector's group.
fn join_group(options: &NetlinkOptions) -> Result<OwnedFd> {
    // SAFETY: plain socket call; the fd is owned right away.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            libc::NETLINK_CONNECTOR,
        )
    };
    if raw < 0 {
        bail!(
            "cannot open a proc connector socket: {} (the kernel needs CONFIG_CONNECTOR and CONFIG_PROC_EVENTS)",
            io::Error::last_os_error()
        );
    }
    // SAFETY: `raw` is a fresh fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    set_receive_buffer(fd.as_raw_fd(), options.receive_buffer_bytes);

    // SAFETY: all-zero is a valid sockaddr_nl; the fields are set below.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as u16;
    addr.nl_groups = CN_IDX_PROC;
    // SAFETY: `addr` is a valid sockaddr_nl of the size passed.
    let bound = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            std::ptr::from_ref(&addr).cast(),
            size_of::<libc::sockaddr_nl>() as u32,
        )
    };
    if bound < 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EPERM) {
            bail!("{}", missing_privileges_message());
        }
        bail!("cannot join the proc connector's netlink group: {e}");
    }
    Ok(fd)
}

/// Sends the request to announce (PROC_CN_MCAST_LISTEN), numbered `ack`.
fn ask_to_listen(fd: &OwnedFd, ack: u32) -> Result<()> {
    let mut request = [0u8; NLMSG_HDR_LEN + CN_MSG_LEN + 4];
    let len = request.len() as u32;
    request[0..4].copy_from_slice(&len.to_ne_bytes());
    request[4..6].copy_from_slice(&(libc::NLMSG_DONE as u16).to_ne_bytes());
    let cn = &mut request[NLMSG_HDR_LEN..];
    cn[0..4].copy_from_slice(&CN_IDX_PROC.to_ne_bytes());
    cn[4..8].copy_from_slice(&CN_VAL_PROC.to_ne_bytes());
    cn[12..16].copy_from_slice(&ack.to_ne_bytes());
    cn[16..18].copy_from_slice(&4u16.to_ne_bytes());
    cn[20..24].copy_from_slice(&PROC_CN_MCAST_LISTEN.to_ne_bytes());
    // SAFETY: sending a byte buffer we own; the socket's default destination is the kernel.
    let sent = unsafe { libc::send(fd.as_raw_fd(), request.as_ptr().cast(), request.len(), 0) };
    if sent < 0 {
        bail!(
            "cannot ask the proc connector for events: {}",
            io::Error::last_os_error()
        );
    }
    Ok(())
}

/// Waits for the kernel's answer to the request numbered `ack`; returns the messages that
/// came before it.
fn await_answer(fd: &OwnedFd, ack: u32) -> Result<Vec<Message>> {
    let deadline = Instant::now() + ACK_TIMEOUT;
    let mut early = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || !wait_readable(fd.as_raw_fd(), left)? {
            bail!(
                "the kernel did not answer the proc connector subscription (it answers only \
                 processes in the initial PID namespace)"
            );
        }
        let before = early.len();
        receive(fd.as_raw_fd(), &mut early, before + MAX_BATCH)?;
        let answer = early[before..]
            .iter()
            .position(|m| m.what == PROC_EVENT_NONE && m.ack == ack.wrapping_add(1));
        if let Some(i) = answer {
            let err = early.remove(before + i).word(0);
            match err as i32 {
                0 => return Ok(early),
                libc::EPERM => bail!("{}", missing_privileges_message()),
                err => bail!(
                    "the kernel refused the proc connector subscription: {}",
                    io::Error::from_raw_os_error(err)
                ),
            }
        }
    }
}

/// Asks for a receive buffer of `bytes`; beyond net.core.rmem_max that takes CAP_NET_ADMIN
/// (SO_RCVBUFFORCE), without it the kernel's maximum is used.
fn set_receive_buffer(fd: RawFd, bytes: u32) {
    let size = bytes.min(i32::MAX as u32) as libc::c_int;
    for option in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: `size` is a c_int, as both options expect.
        let ret = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                option,
                std::ptr::from_ref(&size).cast(),
                size_of::<libc::c_int>() as u32,
            )
        };
        if ret == 0 {
            return;
        }
    }
    tracing::warn!("cannot size the proc connector's receive buffer");
}

fn wait_readable(fd: RawFd, timeout: Duration) -> Result<bool> {
    let mut pollfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis().clamp(1, i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd.
    match unsafe { libc::poll(&mut pollfd, 1, ms) } {
        n if n >= 0 => Ok(n > 0),
        _ => Err(anyhow!(
            "cannot wait on the proc connector socket: {}",
            io::Error::last_os_error()
        )),
    }
}

pub(super) struct Received {
    /// The socket is empty.
    pub(super) drained: bool,
    /// How many times the kernel said it had dropped messages (ENOBUFS).
    pub(super) overflows: u32,
}

/// Reads messages until the socket is empty or `into` holds `max`.
pub(super) fn receive(fd: RawFd, into: &mut Vec<Message>, max: usize) -> io::Result<Received> {
    let mut buf = [0u8; 8192];
    let mut overflows = 0;
    while into.len() < max {
        // SAFETY: reading into a buffer we own, at most its length.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
        if n < 0 {
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EAGAIN) => {
                    return Ok(Received {
                        drained: true,
                        overflows,
                    });
                }
                Some(libc::ENOBUFS) => overflows += 1,
                Some(libc::EINTR) => {}
                _ => return Err(e),
            }
            continue;
        }
        parse_datagram(&buf[..n as usize], into);
    }
    Ok(Received {
        drained: false,
        overflows,
    })
}

/// Appends the proc connector messages of one datagram.
fn parse_datagram(mut bytes: &[u8], into: &mut Vec<Message>) {
    let u32_at =
        |b: &[u8], at: usize| u32::from_ne_bytes(b[at..at + 4].try_into().expect("4 bytes"));
    while bytes.len() >= NLMSG_HDR_LEN {
        let len = u32_at(bytes, 0) as usize;
        if len < NLMSG_HDR_LEN || len > bytes.len() {
            tracing::warn!(len, "malformed netlink message");
            return;
        }
        let kind = u16::from_ne_bytes([bytes[4], bytes[5]]);
        let body = &bytes[NLMSG_HDR_LEN..len];
        if kind == libc::NLMSG_DONE as u16
            && body.len() >= CN_MSG_LEN + PROC_EVENT_LEN
            && u32_at(body, 0) == CN_IDX_PROC
            && u32_at(body, 4) == CN_VAL_PROC
        {
            let event = &body[CN_MSG_LEN..];
            into.push(Message {
                seq: u32_at(body, 8),
                ack: u32_at(body, 12),
                what: u32_at(event, 0),
                cpu: u32_at(event, 4),
                timestamp_ns: u64::from_ne_bytes(event[8..16].try_into().expect("8 bytes")),
                data: event[16..40].try_into().expect("24 bytes"),
            });
        }
        // Messages are padded to 4 bytes.
        bytes = bytes.get((len + 3) & !3..).unwrap_or_default();
    }
}

fn missing_privileges_message() -> String {
    // SAFETY: geteuid cannot fail.
    let euid = unsafe { libc::geteuid() };
    format!(
        "the proc connector needs CAP_NET_ADMIN on this kernel (running as uid {euid} without it)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_connector_messages_and_skips_others() {
        let mut datagram = Vec::new();
        for (what, cpu, seq) in [(PROC_EVENT_EXIT, 1u32, 7u32), (PROC_EVENT_FORK, 0, 8)] {
            let mut msg = vec![0u8; NLMSG_HDR_LEN + CN_MSG_LEN + PROC_EVENT_LEN];
            let len = msg.len() as u32;
            msg[0..4].copy_from_slice(&len.to_ne_bytes());
            msg[4..6].copy_from_slice(&(libc::NLMSG_DONE as u16).to_ne_bytes());
            let cn = NLMSG_HDR_LEN;
            msg[cn..cn + 4].copy_from_slice(&CN_IDX_PROC.to_ne_bytes());
            msg[cn + 4..cn + 8].copy_from_slice(&CN_VAL_PROC.to_ne_bytes());
            msg[cn + 8..cn + 12].copy_from_slice(&seq.to_ne_bytes());
            let ev = cn + CN_MSG_LEN;
            msg[ev..ev + 4].copy_from_slice(&what.to_ne_bytes());
            msg[ev + 4..ev + 8].copy_from_slice(&cpu.to_ne_bytes());
            msg[ev + 8..ev + 16].copy_from_slice(&123u64.to_ne_bytes());
            msg[ev + 16..ev + 20].copy_from_slice(&4242u32.to_ne_bytes());
            datagram.extend_from_slice(&msg);
        }
        let mut other = datagram.clone();
        other[NLMSG_HDR_LEN] = 9; // another connector index
        let mut out = Vec::new();
        parse_datagram(&datagram, &mut out);
        parse_datagram(
            &other[..NLMSG_HDR_LEN + CN_MSG_LEN + PROC_EVENT_LEN],
            &mut out,
        );
        parse_datagram(&datagram[..20], &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(
            (out[0].what, out[0].cpu, out[0].seq),
            (PROC_EVENT_EXIT, 1, 7)
        );
        assert_eq!(
            (out[1].what, out[1].seq, out[1].timestamp_ns),
            (PROC_EVENT_FORK, 8, 123)
        );
        assert_eq!(out[1].word(0), 4242);
    }
}
