//! Starting to read at a keyframe rather than at the first event. A keyframe is only a
//! shortcut: one that is damaged, or says what its header does not, gives way to an
//! earlier one, and none to the beginning.

use std::{collections::HashSet, io};

use super::{Frame, Input, Reader, keep_argv_within_cap};
use crate::recording::{
    frame::FrameKind,
    keyframe::{Keyframe, KeyframePart},
};

impl<R: Input> Reader<R> {
    /// Moves to just after the latest intact keyframe at or before `at_ns` and returns it:
    /// the next events read are the ones written after it. `Ok(None)` when there is none,
    /// and the reader is back at the first event. Needs [`Reader::extent`] first, which
    /// finds the keyframes.
    pub fn keyframe_before(&mut self, at_ns: u64) -> io::Result<Option<Keyframe>> {
        let candidates: Vec<(u64, u64)> = (self.keyframes.iter().rev())
            .filter(|&&(time, _)| time <= at_ns)
            .copied()
            .collect();
        for (time, offset) in candidates {
            // Each try is a new pass, with the budget and state of one.
            self.rewind()?;
            self.seek(offset)?;
            match self.read_keyframe(time) {
                Ok(keyframe) => return Ok(Some(keyframe)),
                Err(problem) => {
                    tracing::warn!(offset, problem, "a damaged keyframe; trying an earlier one");
                }
            }
        }
        self.rewind()?;
        Ok(None)
    }

    /// Reads the keyframe whose first part is at the current offset, whose header said
    /// it is at `time`.
    fn read_keyframe(&mut self, time: u64) -> Result<Keyframe, String> {
        let mut processes = Vec::new();
        let mut first: Option<KeyframePart> = None;
        let mut next_part = 0;
        loop {
            let header = match self.read_frame(true).map_err(|damage| damage.to_string())? {
                Frame::Read(header) if header.kind() == Some(FrameKind::Keyframe) => header,
                _ => return Err("the keyframe's parts end early".into()),
            };
            let count = u64::from(header.count);
            self.charge(|b, file_len| b.charge_records(count, file_len))?;
            let mut part: KeyframePart = serde_json::from_slice(&self.content)
                .map_err(|e| format!("unreadable keyframe: {e}"))?;
            let head = first.get_or_insert_with(|| KeyframePart {
                processes: Vec::new(),
                subreapers: std::mem::take(&mut part.subreapers),
                without_creds: std::mem::take(&mut part.without_creds),
                ..part
            });
            let in_order = part.part == next_part
                && (part.at_ns, part.events, part.parts) == (head.at_ns, head.events, head.parts)
                && header.max_ts == time
                && part.at_ns == time
                && part.events <= self.events_total
                && part.subreapers.is_empty()
                && part.without_creds.is_empty();
            if !in_order || part.processes.len() as u64 != count {
                return Err(
                    "a keyframe part out of order, or saying what its header does not".into(),
                );
            }
            next_part += 1;
            for mut process in part.processes {
                keep_argv_within_cap(self.version, &mut process.argv, &mut process.argv_truncated)?;
                self.check_pids(&[process.pid, process.ppid])?;
                processes.push(process);
            }
            if next_part == head.parts {
                let pids: HashSet<u32> = processes.iter().map(|p| p.pid).collect();
                let named = head.subreapers.iter().chain(&head.without_creds);
                if !named.clone().all(|pid| pids.contains(pid)) {
                    return Err("a keyframe names a process it does not hold".into());
                }
                return Ok(Keyframe {
                    at_ns: head.at_ns,
                    events: head.events,
                    processes: processes.into(),
                    subreapers: std::mem::take(&mut head.subreapers),
                    without_creds: std::mem::take(&mut head.without_creds),
                });
            }
        }
    }
}
