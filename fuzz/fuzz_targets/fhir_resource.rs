//! The FHIR ingest, from one resource's JSON text to a whole feed file.
//!
//! Input: one selector byte, then the text. Selector % 4:
//! * 0, 1, 2: `parse_resource` as `Organization`, `HealthcareService`, `Location` (the read of
//!   one feed item whose type is known), then `classify` on the same text (the single-pass read
//!   of an NDJSON line or bundle entry, which finds the type itself);
//! * 3: the text written to a file and ingested whole (`ingest::ingest`: gzip detection, NDJSON
//!   line reader or bundle / array splitter, parse, link), named `.ndjson` when bit 0x10 of
//!   the selector is clear, `.json` when it is set.
//!
//! Nothing may panic; an ingest that reads the file must account for every record it read.

#![no_main]

mod common;

use std::path::PathBuf;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use ror_search::ingest::fhir::read::{Outcome, parse_resource};

const TYPES: [&str; 3] = ["Organization", "HealthcareService", "Location"];

static SCRATCH: LazyLock<PathBuf> = LazyLock::new(|| common::scratch_dir("fhir"));

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    match selector % 4 {
        kind @ 0..=2 => {
            let Ok(json) = std::str::from_utf8(rest) else { return };
            let outcome = parse_resource(TYPES[kind as usize], json);
            if let Outcome::Rejected { reason } = &outcome {
                std::hint::black_box(reason.to_string());
            }
            std::hint::black_box(format!("{outcome:?}"));
            std::hint::black_box(ror_search::fuzzing::classify(json));
        }
        _ => {
            let name = if selector & 0x10 == 0 { "feed.ndjson" } else { "feed.json" };
            let path = SCRATCH.join(name);
            std::fs::write(&path, rest).expect("cannot write the feed file");
            // A file that cannot be read (a corrupt gzip stream) is an error of the whole ingest.
            match ror_search::ingest::ingest(&[path], &mut |_| {}) {
                Ok(output) => {
                    let totals = output.report.totals;
                    assert!(totals.reconciles(), "the counts do not add up: {totals:?}");
                    for (resource_type, counts) in &output.report.by_type {
                        assert!(counts.reconciles(), "the counts of {resource_type} do not add up: {counts:?}");
                    }
                    std::hint::black_box(format!("{totals:?} {:?}", output.dataset.offers.len()));
                }
                Err(error) => {
                    std::hint::black_box(error.to_string());
                }
            }
        }
    }
});
