//! What reading a recording may cost, in proportion to the file's size (docs/recording.md,
//! "Bounds"). A file is someone else's bytes: a few hundred of them can claim 16 MiB of
//! content, millions of events or 4 billion processes. Whatever one pass over the file
//! (from the start, or from a rewind) decodes is charged here, and what goes past the
//! budget is damage, so a replay's memory and time stay proportional to the file's size.
//!
//! The factors are far above what real recordings reach: the most compressible session
//! measured (a program that exec'd itself thousands of times with 8 KiB of identical
//! arguments) decompressed to 271 times its size, and a fork storm held one event per
//! 8 bytes of file.

use crate::event::PID_MAX_LIMIT;

/// Decompressed bytes a pass may produce per byte of file...
pub const CONTENT_PER_FILE_BYTE: u64 = 1024;
/// ...plus this much, so a small file still gets one frame of the largest size.
pub const CONTENT_ALLOWANCE: u64 = super::frame::MAX_LEN as u64;
/// Events and snapshot processes a pass may decode per byte of file...
pub const RECORDS_PER_FILE_BYTE: u64 = 1;
/// ...plus this many, for small files.
pub const RECORDS_ALLOWANCE: u64 = 65_536;
/// After damage, checking candidate frames reads and checksums at most this many bytes
/// per byte of file scanned...
pub const VERIFIED_PER_SCANNED_BYTE: u64 = 4;
/// ...plus this many, enough for the largest frame.
pub const VERIFY_ALLOWANCE: u64 = 2 * super::frame::MAX_LEN as u64;

/// What one pass has spent so far.
#[derive(Clone, Debug, Default)]
pub struct Budget {
    content: u64,
    records: u64,
    /// The sum of the loss reports' counts.
    lost: u64,
    /// Bytes checked while looking for an intact frame after damage.
    verified: u64,
}

impl Budget {
    /// Charges `bytes` of decompressed content in a file of `file_len` bytes.
    pub fn charge_content(&mut self, bytes: u64, file_len: u64) -> Result<(), String> {
        let limit = file_len
            .saturating_mul(CONTENT_PER_FILE_BYTE)
            .saturating_add(CONTENT_ALLOWANCE);
        let total = self.content.saturating_add(bytes);
        if total > limit {
            return Err(format!(
                "the frames up to here decompress to more than {CONTENT_PER_FILE_BYTE} times \
                 the file's size, plus {} MiB",
                CONTENT_ALLOWANCE >> 20
            ));
        }
        self.content = total;
        Ok(())
    }

    /// Charges `count` events or snapshot processes in a file of `file_len` bytes.
    pub fn charge_records(&mut self, count: u64, file_len: u64) -> Result<(), String> {
        let limit = file_len
            .saturating_mul(RECORDS_PER_FILE_BYTE)
            .saturating_add(RECORDS_ALLOWANCE);
        let total = self.records.saturating_add(count);
        if total > limit {
            return Err(format!(
                "{total} events and processes up to here, more than a file of {file_len} \
                 bytes can hold ({RECORDS_PER_FILE_BYTE} per byte, plus {RECORDS_ALLOWANCE})"
            ));
        }
        self.records = total;
        Ok(())
    }

    /// The sum of the loss counts of the frames read so far.
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// Keeps the loss sum of a frame that decoded completely.
    pub fn set_lost(&mut self, lost: u64) {
        self.lost = lost;
    }

    /// Whether a candidate frame of `bytes` may be checked, `scanned` bytes into the
    /// search; if so it is charged. Without a budget, a file with a marker every few
    /// bytes, each claiming 16 MiB, would have a 16 MiB checksum computed per marker.
    pub fn may_verify(&mut self, bytes: u64, scanned: u64) -> bool {
        let allowance = scanned
            .saturating_mul(VERIFIED_PER_SCANNED_BYTE)
            .saturating_add(VERIFY_ALLOWANCE);
        let total = self.verified.saturating_add(bytes);
        if total > allowance {
            return false;
        }
        self.verified = total;
        true
    }
}

/// The info frame's process count, if a kernel could have had that many processes.
pub fn snapshot_count(count: u32) -> Result<usize, String> {
    if count > PID_MAX_LIMIT {
        return Err(format!(
            "the snapshot claims {count} processes; no Linux system runs more than \
             {PID_MAX_LIMIT}"
        ));
    }
    Ok(count as usize)
}
