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

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{crate_path, temp_dir};

/// The API key of the test's client (profile 1: everything).
const KEY: &str = "fhir-clients-test-key-5c0d9e61a2b84f37";
const REQUIREMENTS: &str = "tests/fhir_clients/requirements.txt";
const CHECK: &str = "tests/fhir_clients/check.py";
/// Longest run of check.py (it takes a few minutes on two busy cores).
const CHECK_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// A child process, killed and reaped on drop (also when the test fails).
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `<target>/fhir-clients-venv`: `CARGO_TARGET_TMPDIR` is `<target>/tmp`, wherever
/// `CARGO_TARGET_DIR` puts the target directory.
fn venv_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).parent().expect("the target directory").join("fhir-clients-venv")
}

fn output_text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// The venv's interpreter, with the pinned clients installed.
fn python_with_clients() -> PathBuf {
    let venv = venv_dir();
    let python = venv.join("bin").join("python");
    let requirements = std::fs::read(crate_path(REQUIREMENTS)).expect(REQUIREMENTS);
    let wanted = hex::encode(ror_search::auth::sha256(&requirements));
    let stamp = venv.join("requirements.sha256");
    let installed = std::fs::read_to_string(&stamp).is_ok_and(|text| text.trim() == wanted)
        && Command::new(&python)
            .args(["-c", "import fhir.resources, fhirpy"])
            .output()
            .is_ok_and(|output| output.status.success());
    if installed {
        return python;
    }

    let install = "install Python 3.9 or newer with its venv module (Debian: apt-get install python3 python3-venv)";
    match Command::new("python3").args(["-c", "import sys; sys.exit(sys.version_info < (3, 9))"]).output() {
        Err(error) => {
            panic!("this test runs FHIR clients written in Python, and python3 cannot be run ({error}): {install}")
        }
        Ok(output) if !output.status.success() => {
            panic!("python3 is older than 3.9 or broken: {install}\n{}", output_text(&output))
        }
        Ok(_) => {}
    }
    let started = Instant::now();
    let output = Command::new("python3").args(["-m", "venv", "--clear"]).arg(&venv).output().expect("python3 -m venv");
    assert!(output.status.success(), "python3 -m venv {} failed: {install}\n{}", venv.display(), output_text(&output));
    let output = Command::new(&python)
        .args(["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-r"])
        .arg(crate_path(REQUIREMENTS))
        .output()
        .expect("pip install");
    assert!(
        output.status.success(),
        "pip install -r {REQUIREMENTS} failed (PyPI must be reachable):\n{}",
        output_text(&output)
    );
    std::fs::write(&stamp, &wanted).expect("the venv's stamp");
    eprintln!("{} made in {:.1} s", venv.display(), started.elapsed().as_secs_f64());
    python
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `ror-search serve` on the sample feed (it builds its snapshot at the first start).
struct Server {
    child: Reaped,
    port: u16,
    log: PathBuf,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let access = dir.join("access.toml");
        let key_sha256 = hex::encode(ror_search::auth::sha256(KEY.as_bytes()));
        std::fs::write(
            &access,
            format!(
                "allow_anonymous = false\n\n[[client]]\nname = \"fhir-clients\"\nkey_sha256 = \"{key_sha256}\"\nprofiles = [1]\nroles = [\"read\"]\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let log = dir.join("serve.log");
        let out = std::fs::File::create(&log).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_ror-search"));
        command
            .arg("serve")
            .args(["--addr", &format!("127.0.0.1:{port}")])
            .arg("--index")
            .arg(dir.join("index"))
            .arg("--bootstrap-feed")
            .arg(crate_path("data-samples/ror-feed"))
            .arg("--bootstrap-communes")
            .arg(crate_path("data-samples/communes.csv.gz"))
            .arg("--access")
            .arg(&access)
            .args(["--poll-interval-secs", "0"])
            .arg("--export-dir")
            .arg(dir.join("exports"))
            // Whole-country pages of 1000 with includes, on a machine busy with other tests:
            // more room than the 2 s default, so that a slow moment is no failure.
            .args(["--request-timeout-ms", "60000"])
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("ROR_SEARCH_") {
                command.env_remove(name);
            }
        }
        let mut server = Server { child: Reaped(command.spawn().expect("the server binary")), port, log };
        server.wait_ready();
        server
    }

    fn wait_ready(&mut self) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(5)))
            .http_status_as_error(false)
            .build()
            .into();
        let deadline = Instant::now() + Duration::from_secs(180);
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.0.try_wait().unwrap() {
                panic!("the server exited ({status}) before it was ready:\n{}", self.log_tail());
            }
            let ready = agent
                .get(format!("http://127.0.0.1:{}/readyz", self.port))
                .call()
                .is_ok_and(|response| response.status().as_u16() == 200);
            if ready {
                eprintln!("server ready in {:.1} s", started.elapsed().as_secs_f64());
                return;
            }
            assert!(Instant::now() < deadline, "the server was not ready within 3 minutes:\n{}", self.log_tail());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}/fhir", self.port)
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().filter(|line| !line.contains("/readyz")).collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

/// Forwards a child's output line by line to the test's stderr (captured by the harness unless
/// `--nocapture`), and keeps it.
fn forward(stream: impl Read + Send + 'static, kept: Arc<Mutex<String>>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            eprintln!("check.py | {line}");
            let mut kept = kept.lock().unwrap();
            kept.push_str(&line);
            kept.push('\n');
        }
    })
}

#[test]
fn third_party_fhir_clients() {
    let started = Instant::now();
    let python = python_with_clients();
    let dir = temp_dir();
    let server = Server::start(dir.path());

    let mut child = Reaped(
        Command::new(&python)
            .arg(crate_path(CHECK))
            .arg(server.base())
            .arg(KEY)
            .current_dir(crate_path("."))
            // 127.0.0.1 directly, whatever proxy the environment configures.
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the venv's python"),
    );
    let stdout = Arc::new(Mutex::new(String::new()));
    let stderr = Arc::new(Mutex::new(String::new()));
    let readers = [
        forward(child.0.stdout.take().unwrap(), stdout.clone()),
        forward(child.0.stderr.take().unwrap(), stderr.clone()),
    ];
    let deadline = Instant::now() + CHECK_TIMEOUT;
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            drop(child);
            panic!("check.py ran longer than {CHECK_TIMEOUT:?}:\n{}", stdout.lock().unwrap());
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    for reader in readers {
        reader.join().unwrap();
    }
    assert!(
        status.success(),
        "check.py {status}:\n{}\nthe server's log, last lines:\n{}",
        stderr.lock().unwrap(),
        server.log_tail()
    );
    eprintln!("third-party FHIR clients: passed in {:.0} s", started.elapsed().as_secs_f64());
}
