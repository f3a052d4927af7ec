//! Third-party FHIR clients against the real server binary: `tests/fhir_clients/check.py` runs
//! the R4 models of fhir.resources (pydantic validation of the CapabilityStatement, every
//! searchset Bundle and entry, every OperationOutcome, every `$export` NDJSON line) and fhirpy's
//! SyncFHIRClient (whole-country paging by the `next` links) against `ror-search serve` on the
//! sample feed, with an API key of profile 1.
//!
//! The Python clients live in a virtual environment made once and reused across runs:
//! `<target>/fhir-clients-venv`, installed from `tests/fhir_clients/requirements.txt` (pinned)
//! and reinstalled when that file changes (a stamp holds its SHA-256). `python3` with `venv`
//! (Debian: `python3-venv`) is required: without it the test fails and says what to install.
//! PyPI is reached only to create the environment; the check talks to 127.0.0.1 only.

use std::ffi::OsStr;
use std::time::{Duration, Instant};

use crate::common::temp_dir;
use crate::external::{Server, python_venv, run_python};

/// The API key of the test's client (profile 1: everything).
const KEY: &str = "fhir-clients-test-key-5c0d9e61a2b84f37";
const REQUIREMENTS: &str = "tests/fhir_clients/requirements.txt";
const CHECK: &str = "tests/fhir_clients/check.py";
/// Longest run of check.py (it takes a few minutes on two busy cores).
const CHECK_TIMEOUT: Duration = Duration::from_secs(30 * 60);

#[test]
fn third_party_fhir_clients() {
    let started = Instant::now();
    let python = python_venv("fhir-clients-venv", REQUIREMENTS, "import fhir.resources, fhirpy");
    let dir = temp_dir();
    let key_sha256 = hex::encode(ror_search::auth::sha256(KEY.as_bytes()));
    let access = format!(
        "allow_anonymous = false\n\n[[client]]\nname = \"fhir-clients\"\nkey_sha256 = \"{key_sha256}\"\nprofiles = [1]\nroles = [\"read\"]\n"
    );
    let exports = dir.path().join("exports");
    let server = Server::start(
        dir.path(),
        &access,
        &[
            OsStr::new("--export-dir"),
            exports.as_os_str(),
            // Whole-country pages of 1000 with includes, on a machine busy with other tests:
            // more room than the 2 s default, so that a slow moment is no failure.
            OsStr::new("--request-timeout-ms"),
            OsStr::new("60000"),
        ],
    );
    let base = format!("{}/fhir", server.url());
    run_python(&python, CHECK, &[OsStr::new(&base), OsStr::new(KEY)], CHECK_TIMEOUT, &server);
    eprintln!("third-party FHIR clients: passed in {:.0} s", started.elapsed().as_secs_f64());
}
