//! The snapshot loader, `snapshot::load`, on a snapshot directory of which one file comes from
//! the fuzzer: it must refuse a bad file with an error, never panic, abort or allocate without
//! bound (run with `-rss_limit_mb` / `-malloc_limit_mb`).
//!
//! The directory is the fixture snapshot (built once per process, without the communes table
//! and the engine files, which `load` does not read) with one file replaced. Input: one selector
//! byte, then the bytes. Selector % 5:
//! * 0: `MANIFEST.json` is the bytes;
//! * 1: `data.bin` is the bytes;
//! * 2: `data.bin` is the bytes framed as the format says (magic, version, length, CRC-32, end
//!   magic), so that the payload reaches the decoder;
//! * 3: `data.bin` is the base payload with one chunk of section (selector / 5) % 5 (EJs, EGs,
//!   offers, locations, communes) replaced by the bytes, framed: the decoders of the model types;
//! * 4: `CHECKSUMS` is the bytes.
//!
//! In cases 0 to 3 `CHECKSUMS` is recomputed, so that the file gets past the SHA-256 check to
//! the parser under test.

#![no_main]

mod common;

use std::path::PathBuf;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use ror_search::snapshot::{CHECKSUMS_FILE, DATA_FILE, FORMAT_VERSION, MANIFEST_FILE};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The payload of `data.bin` as `src/snapshot/format.rs` lays it out (checked against the base
/// snapshot at start: a change of the format stops the target instead of fuzzing nothing).
#[derive(Clone, Serialize, Deserialize)]
struct Sections {
    ejs: Vec<Vec<u8>>,
    egs: Vec<Vec<u8>>,
    offers: Vec<Vec<u8>>,
    locations: Vec<Vec<u8>>,
    communes: Vec<Vec<u8>>,
}

impl Sections {
    fn section(&mut self, index: u8) -> &mut Vec<Vec<u8>> {
        match index % 5 {
            0 => &mut self.ejs,
            1 => &mut self.egs,
            2 => &mut self.offers,
            3 => &mut self.locations,
            _ => &mut self.communes,
        }
    }
}

struct Base {
    /// The directory the target writes and loads.
    dir: PathBuf,
    /// Every file of the base snapshot but `CHECKSUMS`, relative path and bytes, sorted.
    files: Vec<(String, Vec<u8>)>,
    sections: Sections,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(payload.len() + 32);
    bytes.extend_from_slice(b"RORSNAP\0");
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(payload);
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    bytes.extend_from_slice(b"RORSEND\0");
    bytes
}

static BASE: LazyLock<Base> = LazyLock::new(|| {
    let scratch = common::scratch_dir("snapshot");
    let built = scratch.join("base");
    common::build_fixture_snapshot(&built, false, false);
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&built).expect("the base snapshot lists") {
        let entry = entry.expect("the base snapshot lists");
        let name = entry.file_name().into_string().expect("UTF-8 file names");
        assert!(entry.file_type().expect("a file type").is_file(), "{name}: the base has no directory");
        if name != CHECKSUMS_FILE {
            files.push((name, std::fs::read(entry.path()).expect("a base file reads")));
        }
    }
    files.sort();
    let data = &files.iter().find(|(name, _)| name == DATA_FILE).expect("the base has data.bin").1;
    let payload = &data[20..data.len() - 12];
    let sections: Sections = postcard::from_bytes(payload).expect("the payload is the sections");
    assert_eq!(
        &frame(&postcard::to_stdvec(&sections).unwrap()),
        data,
        "data.bin is not laid out as this target thinks"
    );
    let dir = scratch.join("snapshot");
    std::fs::create_dir_all(&dir).expect("cannot create the snapshot directory");
    ror_search::snapshot::load(&built).expect("the base snapshot loads");
    Base { dir, files, sections }
});

fuzz_target!(|data: &[u8]| {
    let base = &*BASE;
    let Some((&selector, rest)) = data.split_first() else { return };
    let mode = selector % 5;
    let mut files = base.files.clone();
    let mut replace = |name: &str, bytes: Vec<u8>| {
        files.iter_mut().find(|(file, _)| file == name).expect("a base file").1 = bytes;
    };
    match mode {
        0 => replace(MANIFEST_FILE, rest.to_vec()),
        1 => replace(DATA_FILE, rest.to_vec()),
        2 => replace(DATA_FILE, frame(rest)),
        3 => {
            let mut sections = base.sections.clone();
            let section = sections.section(selector / 5);
            match section.first_mut() {
                Some(chunk) => *chunk = rest.to_vec(),
                None => section.push(rest.to_vec()),
            }
            replace(DATA_FILE, frame(&postcard::to_stdvec(&sections).expect("sections encode")));
        }
        _ => {}
    }
    let checksums = if mode == 4 {
        rest.to_vec()
    } else {
        files.iter().map(|(name, bytes)| format!("{}  {name}\n", sha256_hex(bytes))).collect::<String>().into_bytes()
    };
    for (name, bytes) in &files {
        std::fs::write(base.dir.join(name), bytes).expect("cannot write a snapshot file");
    }
    std::fs::write(base.dir.join(CHECKSUMS_FILE), checksums).expect("cannot write CHECKSUMS");
    match ror_search::snapshot::load(&base.dir) {
        Ok(snapshot) => {
            std::hint::black_box(format!("{} {:?}", snapshot.manifest.snapshot_id, snapshot.data.dataset.offers.len()));
        }
        Err(error) => {
            std::hint::black_box(format!("{error} {error:?}"));
        }
    }
});
