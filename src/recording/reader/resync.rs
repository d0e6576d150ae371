//! Finding the next intact frame after damage, in time linear in the file's size.

use std::io;

use memchr::memmem;

use super::{Damage, Input, Reader, read_full};
use crate::recording::{
    budget,
    frame::{self, FrameKind, Header},
};

/// How a search for the next intact frame after damage ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resync {
    /// Where reading goes on; `None` if no intact frame follows (reading is over).
    pub at: Option<u64>,
    /// Possible frames skipped unchecked, because checking them would have cost more than
    /// the search may spend (see [`budget::VERIFIED_PER_SCANNED_BYTE`]).
    pub unchecked: Option<Damage>,
}

/// What checking a possible frame found.
enum Candidate {
    Intact,
    Broken,
    Unchecked,
}

/// The part of the file that searches for frames after damage have read. It is kept from
/// one search to the next, so that a file of many damaged frames is still read once.
#[derive(Default)]
pub(super) struct Window {
    at: u64,
    bytes: Vec<u8>,
    /// It reaches the end of the file.
    last: bool,
}

/// Bytes a [`Window`] reads at once.
const WINDOW_LEN: usize = 64 * 1024;

impl<R: Input> Reader<R> {
    /// After damage, finds the next intact frame (one whose checksum holds) and continues
    /// from it.
    ///
    /// The search is linear in the file's size whatever the file holds. Each byte is read
    /// once (into a [`Window`] kept between searches), and a possible frame is first
    /// judged by its header alone (a known type, lengths that fit in the file), which is
    /// free. Only then is its payload read and checksummed, which costs its length: a file
    /// with a marker every few bytes, each claiming 16 MiB, would make that quadratic. So
    /// checking spends at most [`budget::VERIFIED_PER_SCANNED_BYTE`] bytes per byte
    /// scanned (plus [`budget::VERIFY_ALLOWANCE`]); a possible frame that would cost more
    /// is skipped unchecked, and [`Resync::unchecked`] says how many were. Scanning on
    /// earns budget again, so a real frame after a run of fakes is still found.
    pub fn resync(&mut self) -> Resync {
        let Some(damage) = self.damage.take() else {
            return Resync::default();
        };
        let (mut unchecked, mut first_unchecked, mut last_unchecked) = (0u64, None, 0);
        let mut pos = damage.offset + 1;
        let at = loop {
            let Ok(Some((candidate, header))) = self.next_marker(pos) else {
                break None;
            };
            pos = candidate + 1;
            match self.check_candidate(candidate, &header) {
                Candidate::Intact => break Some(candidate),
                Candidate::Broken => {}
                Candidate::Unchecked => {
                    unchecked += 1;
                    first_unchecked.get_or_insert(candidate);
                    last_unchecked = candidate;
                }
            }
        };
        let at = at.filter(|&at| self.seek(at).is_ok());
        if at.is_none() {
            self.finished = true;
        }
        let unchecked = first_unchecked.map(|first| {
            Damage::new(
                first,
                format!(
                    "{unchecked} possible frames from here to byte {last_unchecked} were \
                     skipped unchecked (after damage, checking stops at {} bytes per byte \
                     of file)",
                    budget::VERIFIED_PER_SCANNED_BYTE
                ),
            )
        });
        Resync { at, unchecked }
    }

    /// The first frame marker at or after `pos` with its header, read through the window.
    fn next_marker(&mut self, mut pos: u64) -> io::Result<Option<(u64, [u8; frame::HEADER_LEN])>> {
        loop {
            let window = &self.window;
            let end = window.at + window.bytes.len() as u64;
            if pos < window.at || pos + frame::MARKER.len() as u64 > end {
                if window.last && pos >= window.at {
                    return Ok(None);
                }
                self.read_window(pos)?;
                continue;
            }
            let start = (pos - window.at) as usize;
            let Some(i) = memmem::find(&window.bytes[start..], &frame::MARKER) else {
                if window.last {
                    return Ok(None);
                }
                // A marker may begin in the last bytes: the next window starts there.
                pos = end + 1 - frame::MARKER.len() as u64;
                self.read_window(pos)?;
                continue;
            };
            let found = start + i;
            pos = window.at + found as u64;
            if let Some(header) = window.bytes.get(found..found + frame::HEADER_LEN) {
                return Ok(Some((pos, header.try_into().unwrap())));
            }
            if window.last {
                // The file ends inside this header: no frame.
                pos += 1;
            } else {
                self.read_window(pos)?;
            }
        }
    }

    fn read_window(&mut self, at: u64) -> io::Result<()> {
        self.seek(at)?;
        let mut bytes = std::mem::take(&mut self.window.bytes);
        bytes.resize(WINDOW_LEN, 0);
        let n = read_full(&mut self.input, &mut bytes)?;
        bytes.truncate(n);
        self.window = Window {
            at,
            bytes,
            last: n < WINDOW_LEN,
        };
        Ok(())
    }

    /// Whether the frame that seems to start at `at` is intact, if the budget lets it be
    /// checked.
    fn check_candidate(&mut self, at: u64, bytes: &[u8; frame::HEADER_LEN]) -> Candidate {
        let Ok(header) = Header::parse(bytes) else {
            return Candidate::Broken;
        };
        let payload_at = at + frame::HEADER_LEN as u64;
        let len = u64::from(header.stored_len);
        if header.kind() == Some(FrameKind::Info) || payload_at + len > self.file_len {
            return Candidate::Broken;
        }
        if !(self.budget).may_verify(len, at.saturating_sub(self.events_offset)) {
            return Candidate::Unchecked;
        }
        let window = &self.window;
        let in_window = (payload_at.checked_sub(window.at))
            .and_then(|start| window.bytes.get(start as usize..(start + len) as usize));
        let intact = match in_window {
            Some(payload) => header.checks(payload),
            None => {
                self.payload.resize(len as usize, 0);
                self.seek(payload_at).is_ok()
                    && read_full(&mut self.input, &mut self.payload).ok() == Some(len as usize)
                    && header.checks(&self.payload)
            }
        };
        if intact {
            Candidate::Intact
        } else {
            Candidate::Broken
        }
    }
}
