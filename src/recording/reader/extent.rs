//! A recording's extent and where its keyframes are, from the frame headers alone.

use std::io;

use super::{Extent, Input, Reader, read_full};
use crate::recording::frame::{self, FrameKind, Header};

impl<R: Input> Reader<R> {
    /// The number of events and the last time, from the frame headers that follow the
    /// snapshot (payloads are skipped, not checked); notes where the keyframes are on the
    /// way. Leaves the position as it was.
    pub fn extent(&mut self) -> io::Result<Extent> {
        let resume = self.offset;
        let mut extent = Extent {
            events: 0,
            end_ns: self.info.start_ns,
        };
        self.keyframes.clear();
        let mut at = self.events_offset;
        let mut previous_kind = None;
        // Forward from header to header: a buffered input keeps what it read of the file
        // when the skip lands inside its buffer, where a seek would throw it away.
        self.seek(self.events_offset)?;
        loop {
            let mut bytes = [0; frame::HEADER_LEN];
            if read_full(&mut self.input, &mut bytes)? < frame::HEADER_LEN {
                break;
            }
            let Ok(header) = Header::parse(&bytes) else {
                break;
            };
            // A keyframe's parts follow each other: the first one is where it starts.
            if header.kind() == Some(FrameKind::Keyframe) && previous_kind != header.kind() {
                self.keyframes.push((header.max_ts, at));
            }
            previous_kind = header.kind();
            at += frame::HEADER_LEN as u64 + u64::from(header.stored_len);
            match header.kind() {
                Some(FrameKind::Events) => {
                    extent.events = extent.events.saturating_add(header.count.into());
                    extent.end_ns = extent.end_ns.max(header.max_ts);
                }
                Some(FrameKind::End) => {
                    extent.end_ns = extent.end_ns.max(header.max_ts);
                    break;
                }
                _ => {}
            }
            self.input.seek_relative(i64::from(header.stored_len))?;
        }
        self.seek(resume)?;
        self.events_total = extent.events;
        Ok(extent)
    }
}
