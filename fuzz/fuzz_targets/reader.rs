//! Any bytes given to the recording reader, and what it yields given to the process model
//! as a replay feeds it: the reader must refuse or report damage, never panic, hang or
//! allocate without bound (scripts/fuzz.sh sets the memory limit), resyncing must always
//! make progress, a seek back must read what the first pass read, and the model must take
//! whatever a file can hold.
#![no_main]

use std::io::Cursor;

use forkwatch::{
    event::{Event, EventWriter, KindSet},
    recording::Reader,
    tracker::model::Model,
    ui::{TreeOptions, TreeView},
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    read_everything(data);
    // Random changes rarely keep a frame's checksum right; with the checksums repaired,
    // they reach the decompressor and the event decoder behind it.
    let mut repaired = data.to_vec();
    repair_checksums(&mut repaired);
    read_everything(&repaired);
});

fn read_everything(data: &[u8]) {
    let Ok(mut reader) = Reader::new(Cursor::new(data)) else {
        return;
    };
    let _ = reader.info().to_string();
    let extent = reader.extent();
    let events = read_pass(&mut reader, data);
    // A seek back reads the file again from the snapshot, within the same budget: what
    // the first pass found damaged stays damaged.
    reader.rewind().unwrap();
    let again = read_pass(&mut reader, data);
    assert!(
        again == events,
        "a seek back read other events than the first pass"
    );
    // Printed as `replay` prints them, in both forms.
    for json in [false, true] {
        let clock = reader.info().wall_clock();
        let mut out = EventWriter::new(std::io::sink(), json, KindSet::ALL, clock);
        for event in &events {
            out.write(event).unwrap();
        }
        let _ = out.tally.summary();
    }
    // Applied as the replay UI applies them: from the snapshot, once per pass.
    for events in [&events, &again] {
        let mut model = Model::default();
        model.seed(reader.snapshot());
        for event in events {
            model.apply(event);
        }
        if let Ok(extent) = &extent {
            model.tick(extent.end_ns);
        }
        // What a frame of the UI reads, without drawing it.
        let _ = model.counts();
        let rows = TreeView::new()
            .rows(&model, &TreeOptions::default())
            .to_vec();
        for row in rows.iter().take(64) {
            let _ = model.get(row.key).map(|p| (p.history(), p.run_ns()));
            let _ = model.ancestry(row.key);
        }
    }
}

/// Reads the events from where the reader stands to the end, going on after damage.
fn read_pass(reader: &mut Reader<Cursor<&[u8]>>, data: &[u8]) -> Vec<Event> {
    let mut events = Vec::new();
    loop {
        match reader.next_batch(&mut events) {
            Ok(true) => {}
            Ok(false) => break,
            Err(damage) => {
                assert!(damage.offset < data.len() as u64);
                let resync = reader.resync();
                if let Some(unchecked) = resync.unchecked {
                    assert!(unchecked.offset < data.len() as u64);
                }
                if resync.at.is_none() {
                    break;
                }
            }
        }
    }
    events
}

/// Recomputes the CRC-32 of each frame (docs/recording.md: 40-byte header, checksum at
/// 36 over the header's first 36 bytes and the payload).
fn repair_checksums(data: &mut [u8]) {
    let mut at = 12;
    while at + 40 <= data.len() {
        let len = u32::from_le_bytes(data[at + 8..at + 12].try_into().unwrap()) as usize;
        let end = at + 40 + len;
        if end > data.len() {
            break;
        }
        let mut crc = crc32fast::Hasher::new();
        crc.update(&data[at..at + 36]);
        crc.update(&data[at + 40..end]);
        data[at + 36..at + 40].copy_from_slice(&crc.finalize().to_le_bytes());
        at = end;
    }
}
