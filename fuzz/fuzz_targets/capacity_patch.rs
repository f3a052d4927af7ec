//! The ROR capacity PATCH (bed management), as `src/http/capacity.rs` reads a request before it
//! looks up the Location: the body, the `identifier=` query parameter, the operation `path`.
//!
//! Input: one selector byte, then the text. Selector % 4:
//! * 0, 1: the body (`parse_patch_report`, then the business rules of every operation), whose
//!   answer must be 200 (accepted) or a 400 `OperationOutcome`;
//! * 2: a query string, percent-decoded; each `identifier` value is parsed as the conditional
//!   PATCH's `<IdNatStruct>/<idExterneSynchro>`, and so is the whole text;
//! * 3: an operation `path` (the `where(...)` selector parser).
//!
//! Nothing may panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ror_search::fuzzing;

/// When the writes are received (2026-11-23T00:00:00Z): the date checks compare with it.
const NOW: i64 = 1_795_392_000;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    match selector % 4 {
        0 | 1 => {
            let (status, answer) = fuzzing::capacity_patch(rest, NOW);
            assert!(matches!(status, 200 | 400), "status {status} for a body: {answer}");
            if status == 400 {
                let json: serde_json::Value = serde_json::from_str(&answer).expect("the outcome is JSON");
                assert_eq!(json["resourceType"], "OperationOutcome", "{answer}");
            }
        }
        2 => {
            for (name, value) in form_urlencoded::parse(rest) {
                if name == "identifier" {
                    let _ = std::hint::black_box(fuzzing::synchro_identifier(&value));
                }
            }
            let _ = std::hint::black_box(fuzzing::synchro_identifier(&String::from_utf8_lossy(rest)));
        }
        _ => {
            let Ok(path) = std::str::from_utf8(rest) else { return };
            let _ = std::hint::black_box(fuzzing::capacity_selector(path));
        }
    }
});
