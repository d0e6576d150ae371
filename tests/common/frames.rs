//! Recording frames made by hand (docs/recording.md, "Frames"), for files no writer would
//! make: a 40-byte header, then the zstd payload, with a CRC-32 of the header's first 36
//! bytes and the payload at byte 36.

pub const HEADER_LEN: usize = 40;

/// A frame with a right checksum around `payload`, which decompresses to `content_len`.
pub fn frame(kind: u8, count: u32, content_len: usize, payload: &[u8]) -> Vec<u8> {
    let mut f = b"FWfr".to_vec();
    f.extend_from_slice(&[kind, 0, 0, 0]);
    f.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    f.extend_from_slice(&(content_len as u32).to_le_bytes());
    f.extend_from_slice(&count.to_le_bytes());
    f.extend_from_slice(&[0; 20]);
    f.extend_from_slice(payload);
    set_crc(&mut f, 0);
    f
}

/// A frame holding `content`, compressed.
pub fn frame_of(kind: u8, count: usize, content: &[u8]) -> Vec<u8> {
    let payload = zstd::bulk::compress(content, 3).unwrap();
    frame(kind, count as u32, content.len(), &payload)
}

/// Recomputes the checksum of the frame at `at`.
pub fn set_crc(bytes: &mut [u8], at: usize) {
    let len = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
    let mut crc = crc32fast::Hasher::new();
    crc.update(&bytes[at..at + 36]);
    crc.update(&bytes[at + HEADER_LEN..at + HEADER_LEN + len]);
    bytes[at + 36..at + HEADER_LEN].copy_from_slice(&crc.finalize().to_le_bytes());
}

pub fn patch_u32(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

/// An unsigned LEB128 number, as the events codec writes counts, lengths and times.
pub fn push_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push(n as u8 | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}
