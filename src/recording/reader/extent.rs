//! A recording's extent and where its keyframes are, from the frame headers alone.

use std::io;

use super::{Extent, Input, Reader, read_full};
use crate::recording::frame::{self, FrameKind, Header};

/// How far the frame headers have been read, and what they said: a recording that grows
/// is read on from there.
#[derive(Default)]
pub(in crate::recording) struct Scan {
    /// The next frame's offset.
    at: u64,
    extent: Extent,
    previous_kind: Option<FrameKind>,
    /// The end frame, or what is not a frame, was reached.
    over: bool,
}

impl<R: Input> Reader<R> {
    /// The number of events and the last time, from the frame headers that follow the
    /// snapshot (payloads are skipped, not checked); notes where the keyframes are on the
    /// way. Leaves the position as it was.
    pub fn extent(&mut self) -> io::Result<Extent> {
        self.scan = Scan {
            at: self.events_offset,
            extent: Extent {
                events: 0,
                end_ns: self.info.start_ns,
            },
            ..Scan::default()
        };
        self.keyframes.clear();
        self.grow_extent()
    }

    /// The extent with the frames that arrived since it was last asked for (of a
    /// recording still being written); when following, only frames that arrived whole.
    pub fn grow_extent(&mut self) -> io::Result<Extent> {
        if !self.scan.over {
            let resume = self.offset;
            let arrived = if self.follow {
                self.measure()?
            } else {
                u64::MAX
            };
            self.scan_headers(arrived)?;
            self.seek(resume)?;
        }
        self.events_total = self.scan.extent.events;
        Ok(self.scan.extent)
    }

    /// Reads frame headers from `scan.at` on, up to the frame that ends past `arrived`.
    fn scan_headers(&mut self, arrived: u64) -> io::Result<()> {
        // Forward from header to header: a buffered input keeps what it read of the file
        // when the skip lands inside its buffer, where a seek would throw it away.
        self.seek(self.scan.at)?;
        let scan = &mut self.scan;
        loop {
            let mut bytes = [0; frame::HEADER_LEN];
            if read_full(&mut self.input, &mut bytes)? < frame::HEADER_LEN {
                return Ok(());
            }
            let Ok(header) = Header::parse(&bytes) else {
                scan.over = true;
                return Ok(());
            };
            let next = scan.at + frame::HEADER_LEN as u64 + u64::from(header.stored_len);
            if next > arrived {
                return Ok(());
            }
            // A keyframe's parts follow each other: the first one is where it starts.
            if header.kind() == Some(FrameKind::Keyframe) && scan.previous_kind != header.kind() {
                self.keyframes.push((header.max_ts, scan.at));
            }
            scan.previous_kind = header.kind();
            scan.at = next;
            match header.kind() {
                Some(FrameKind::Events) => {
                    scan.extent.events = (scan.extent.events).saturating_add(header.count.into());
                    scan.extent.end_ns = scan.extent.end_ns.max(header.max_ts);
                }
                Some(FrameKind::End) => {
                    scan.extent.end_ns = scan.extent.end_ns.max(header.max_ts);
                    scan.over = true;
                    return Ok(());
                }
                _ => {}
            }
            self.input.seek_relative(i64::from(header.stored_len))?;
        }
    }
}
