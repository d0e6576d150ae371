//! Frames: the checksummed, compressed units a recording is made of (docs/recording.md).

use std::io;

/// Starts every frame, so a reader can find the next frame after damage.
pub const MARKER: [u8; 4] = *b"FWfr";
pub const HEADER_LEN: usize = 40;
/// Largest payload, compressed or not. Writers cut event frames far below it; it bounds
/// what a reader allocates for a damaged or hostile file.
pub const MAX_LEN: u32 = 16 << 20;

/// What a frame holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameKind {
    Info = 1,
    Snapshot = 2,
    Events = 3,
    End = 4,
    /// Optional: the processes alive at a moment, so a reader can start there rather than
    /// at the beginning. A reader that does not know it loses nothing by skipping it.
    Keyframe = 128,
}

impl FrameKind {
    /// Types from 128 on are optional: a reader that does not know one skips it.
    pub const FIRST_OPTIONAL: u8 = 128;

    fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            1 => Self::Info,
            2 => Self::Snapshot,
            3 => Self::Events,
            4 => Self::End,
            128 => Self::Keyframe,
            _ => return None,
        })
    }
}

/// A frame's fixed-size header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub raw_kind: u8,
    /// Compressed payload bytes that follow the header.
    pub stored_len: u32,
    /// Bytes after decompression.
    pub content_len: u32,
    /// Events in an events frame; processes in a snapshot frame, and in the whole snapshot
    /// in the info frame; 1 in the end frame.
    pub count: u32,
    /// Smallest and largest event time in the frame (CLOCK_BOOTTIME ns), for seeking
    /// without decompressing.
    pub min_ts: u64,
    pub max_ts: u64,
    pub crc: u32,
}

impl Header {
    pub fn kind(&self) -> Option<FrameKind> {
        FrameKind::from_u8(self.raw_kind)
    }

    fn bytes_before_crc(&self) -> [u8; HEADER_LEN - 4] {
        let mut b = [0; HEADER_LEN - 4];
        b[..4].copy_from_slice(&MARKER);
        b[4] = self.raw_kind;
        b[8..12].copy_from_slice(&self.stored_len.to_le_bytes());
        b[12..16].copy_from_slice(&self.content_len.to_le_bytes());
        b[16..20].copy_from_slice(&self.count.to_le_bytes());
        b[20..28].copy_from_slice(&self.min_ts.to_le_bytes());
        b[28..36].copy_from_slice(&self.max_ts.to_le_bytes());
        b
    }

    /// Parses a header; the error says what is implausible about it.
    pub fn parse(b: &[u8; HEADER_LEN]) -> Result<Self, &'static str> {
        if b[..4] != MARKER {
            return Err("no frame starts here");
        }
        if b[5..8] != [0; 3] {
            return Err("frame header has unknown bits set");
        }
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
        let header = Self {
            raw_kind: b[4],
            stored_len: u32_at(8),
            content_len: u32_at(12),
            count: u32_at(16),
            min_ts: u64_at(20),
            max_ts: u64_at(28),
            crc: u32_at(36),
        };
        if header.stored_len > MAX_LEN || header.content_len > MAX_LEN {
            return Err("frame length out of range");
        }
        Ok(header)
    }

    /// Whether `payload` is what this header's checksum was computed over.
    pub fn checks(&self, payload: &[u8]) -> bool {
        self.crc_of(payload) == self.crc
    }

    /// The checksum of this header (all but its `crc` field) followed by `payload`.
    fn crc_of(&self, payload: &[u8]) -> u32 {
        let mut crc = crc32fast::Hasher::new();
        crc.update(&self.bytes_before_crc());
        crc.update(payload);
        crc.finalize()
    }
}

/// Builds frames: compresses a payload and puts the header in front, in one buffer so the
/// whole frame goes to the file with one write.
pub struct FrameEncoder {
    compressor: zstd::bulk::Compressor<'static>,
}

/// zstd's level 3 (its default): measured on a real session it keeps within a few percent
/// of level 9's size at several times the speed.
const LEVEL: i32 = 3;

impl FrameEncoder {
    pub fn new() -> io::Result<Self> {
        Ok(Self {
            compressor: zstd::bulk::Compressor::new(LEVEL)?,
        })
    }

    /// Replaces `out` with the frame for `content`.
    pub fn encode(
        &mut self,
        kind: FrameKind,
        count: u32,
        (min_ts, max_ts): (u64, u64),
        content: &[u8],
        out: &mut Vec<u8>,
    ) -> io::Result<()> {
        let too_large = || io::Error::other("a frame's content is larger than 16 MiB");
        let content_len = u32::try_from(content.len())
            .ok()
            .filter(|&n| n <= MAX_LEN)
            .ok_or_else(too_large)?;
        out.clear();
        out.resize(HEADER_LEN, 0);
        let mut payload = Vec::with_capacity(zstd::zstd_safe::compress_bound(content.len()));
        self.compressor.compress_to_buffer(content, &mut payload)?;
        let stored_len = u32::try_from(payload.len())
            .ok()
            .filter(|&n| n <= MAX_LEN)
            .ok_or_else(too_large)?;
        let mut header = Header {
            raw_kind: kind as u8,
            stored_len,
            content_len,
            count,
            min_ts,
            max_ts,
            crc: 0,
        };
        header.crc = header.crc_of(&payload);
        out[..HEADER_LEN - 4].copy_from_slice(&header.bytes_before_crc());
        out[HEADER_LEN - 4..].copy_from_slice(&header.crc.to_le_bytes());
        out.extend_from_slice(&payload);
        Ok(())
    }
}

/// Decompresses payloads whose header and checksum were verified.
pub struct FrameDecoder {
    decompressor: zstd::bulk::Decompressor<'static>,
}

impl FrameDecoder {
    pub fn new() -> io::Result<Self> {
        Ok(Self {
            decompressor: zstd::bulk::Decompressor::new()?,
        })
    }

    /// Replaces `out` with the payload's content; an error if it is not exactly as long
    /// as the header says.
    pub fn decode(
        &mut self,
        header: &Header,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), &'static str> {
        out.clear();
        out.reserve(header.content_len as usize);
        match self.decompressor.decompress_to_buffer(payload, out) {
            Ok(n) if n == header.content_len as usize => Ok(()),
            Ok(_) => Err("frame content is not the length its header says"),
            Err(_) => Err("frame content does not decompress"),
        }
    }
}
