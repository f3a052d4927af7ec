//! The map page in a real browser: `tests/browser/map_page.py` drives Debian's headless
//! Chromium through its chromedriver (Selenium) against `ror-search serve` on the sample feed.
//! It types "Bordeaux", picks the commune, sets GIR 2 and 80 EUR, submits, and checks the list
//! against the API (same offers, same order), the markers against `/v1/clusters` for the map's
//! viewport, the shared link, the keyboard path, the detail panel, a professional key, a live
//! capacity write showing without a reload, and axe-core's WCAG 2.1 A/AA rules on every state.
//! Screenshots are kept in `<target>/map-page-screenshots/`.
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install chromium chromium-driver`;
//! `.ci/run` installs them; `CHROMIUM` / `CHROMEDRIVER` name other paths), Python 3 with venv
//! (Selenium from `tests/browser/requirements.txt`) and npm (axe-core from
//! `tests/browser/package-lock.json`).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::temp_dir;
use crate::external::{Server, npm_packages, python_venv, run_python};

/// The test's professional key (profile 1, capacity writes).
const KEY: &str = "map-page-test-key-7d41c0b9e2a6";
const SCRIPT: &str = "tests/browser/map_page.py";
const TIMEOUT: Duration = Duration::from_secs(15 * 60);

fn program(variable: &str, default: &str, package: &str) -> PathBuf {
    let path = std::env::var_os(variable).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(
        path.is_file(),
        "the browser test needs {} ({variable} names another path): apt-get install {package}",
        path.display()
    );
    path
}

#[test]
fn map_page_in_a_real_browser() {
    let started = Instant::now();
    let chromium = program("CHROMIUM", "/usr/bin/chromium", "chromium");
    let chromedriver = program("CHROMEDRIVER", "/usr/bin/chromedriver", "chromium-driver");
    let python = python_venv("browser-venv", "tests/browser/requirements.txt", "import selenium");
    let modules = npm_packages("browser-node", "tests/browser/package.json", "tests/browser/package-lock.json");
    let axe = modules.join("axe-core").join("axe.min.js");
    assert!(axe.is_file(), "{} missing after npm ci", axe.display());

    let dir = temp_dir();
    let key_sha256 = hex::encode(ror_search::auth::sha256(KEY.as_bytes()));
    let access = format!(
        "allow_anonymous = true\nanonymous_profiles = [0]\n\n[[client]]\nname = \"map-page\"\nkey_sha256 = \"{key_sha256}\"\nprofiles = [1]\nroles = [\"read\", \"capacity_write\"]\n"
    );
    let server = Server::start(dir.path(), &access, &[OsStr::new("--request-timeout-ms"), OsStr::new("30000")]);
    let shots =
        Path::new(env!("CARGO_TARGET_TMPDIR")).parent().expect("the target directory").join("map-page-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    run_python(
        &python,
        SCRIPT,
        &[
            OsStr::new(&server.url()),
            OsStr::new(KEY),
            axe.as_os_str(),
            shots.as_os_str(),
            chromium.as_os_str(),
            chromedriver.as_os_str(),
        ],
        TIMEOUT,
        &server,
    );
    eprintln!("map page in Chromium: passed in {:.0} s", started.elapsed().as_secs_f64());
}
