//! Tests that run real third-party programs against the real server binary: the server started
//! as a process on the sample feed, Python virtual environments made from pinned requirements,
//! npm packages from a pinned lock file, a checking script run with a deadline and its output
//! forwarded.
//!
//! Environments live in the target directory and are made once, then reused across runs: a
//! stamp holds the SHA-256 of what they were made from, and they are made again when it
//! changes. The registries (PyPI, npm) are reached only to make them; the checks talk to
//! 127.0.0.1 only.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::crate_path;

/// A child process, killed and reaped on drop (also when the test fails).
pub(crate) struct Reaped(pub(crate) Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `<target>/<name>`: `CARGO_TARGET_TMPDIR` is `<target>/tmp`, wherever `CARGO_TARGET_DIR`
/// puts the target directory.
fn target_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).parent().expect("the target directory").join(name)
}

fn output_text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn stamp_of(files: &[&str]) -> String {
    let mut bytes = Vec::new();
    for file in files {
        bytes.extend(std::fs::read(crate_path(file)).unwrap_or_else(|error| panic!("{file}: {error}")));
    }
    hex::encode(ror_search::auth::sha256(&bytes))
}

/// The interpreter of `<target>/<name>`, a virtual environment with the pinned packages of
/// `requirements` (a path from the crate root) installed; `imports` is a Python statement that
/// must run in it (e.g. `import selenium`).
pub(crate) fn python_venv(name: &str, requirements: &str, imports: &str) -> PathBuf {
    let venv = target_dir(name);
    let python = venv.join("bin").join("python");
    let wanted = stamp_of(&[requirements]);
    let stamp = venv.join("requirements.sha256");
    let installed = std::fs::read_to_string(&stamp).is_ok_and(|text| text.trim() == wanted)
        && Command::new(&python).args(["-c", imports]).output().is_ok_and(|output| output.status.success());
    if installed {
        return python;
    }

    let install = "install Python 3.9 or newer with its venv module (Debian: apt-get install python3 python3-venv)";
    match Command::new("python3").args(["-c", "import sys; sys.exit(sys.version_info < (3, 9))"]).output() {
        Err(error) => {
            panic!("this test runs programs written in Python, and python3 cannot be run ({error}): {install}")
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
        .arg(crate_path(requirements))
        .output()
        .expect("pip install");
    assert!(
        output.status.success(),
        "pip install -r {requirements} failed (PyPI must be reachable):\n{}",
        output_text(&output)
    );
    std::fs::write(&stamp, &wanted).expect("the venv's stamp");
    eprintln!("{} made in {:.1} s", venv.display(), started.elapsed().as_secs_f64());
    python
}

/// `<target>/<name>/node_modules`, installed by `npm ci` from `package` and `lock` (paths from
/// the crate root: a package.json and its package-lock.json).
pub(crate) fn npm_packages(name: &str, package: &str, lock: &str) -> PathBuf {
    let dir = target_dir(name);
    let modules = dir.join("node_modules");
    let wanted = stamp_of(&[package, lock]);
    let stamp = dir.join("package.sha256");
    if std::fs::read_to_string(&stamp).is_ok_and(|text| text.trim() == wanted) && modules.is_dir() {
        return modules;
    }
    let started = Instant::now();
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(crate_path(package), dir.join("package.json")).unwrap();
    std::fs::copy(crate_path(lock), dir.join("package-lock.json")).unwrap();
    let output = match Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
        .current_dir(&dir)
        .output()
    {
        Ok(output) => output,
        Err(error) => panic!("npm cannot be run ({error}): install Node.js and npm (Debian: apt-get install npm)"),
    };
    assert!(
        output.status.success(),
        "npm ci of {package} failed (the npm registry must be reachable):\n{}",
        output_text(&output)
    );
    std::fs::write(&stamp, &wanted).unwrap();
    eprintln!("{} installed in {:.1} s", modules.display(), started.elapsed().as_secs_f64());
    modules
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `ror-search serve` on the sample feed (it builds its snapshot at the first start), as a
/// process on a free port of 127.0.0.1.
pub(crate) struct Server {
    child: Reaped,
    pub(crate) port: u16,
    log: PathBuf,
}

impl Server {
    /// Serves `dir/index` (built from the data-samples when empty) with the access file
    /// `access` (TOML) and the extra `serve` arguments `extra`; waits until it is ready.
    pub(crate) fn start(dir: &Path, access: &str, extra: &[&OsStr]) -> Server {
        let access_file = dir.join("access.toml");
        std::fs::write(&access_file, access).unwrap();
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
            .arg(&access_file)
            .args(["--poll-interval-secs", "0"])
            .args(extra)
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
                .get(format!("{}/readyz", self.url()))
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

    /// `http://127.0.0.1:<port>`.
    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The last lines of its log.
    pub(crate) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().filter(|line| !line.contains("/readyz")).collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

/// Forwards a child's output line by line to the test's stderr (captured by the harness unless
/// `--nocapture`), and keeps it.
fn forward(label: String, stream: impl Read + Send + 'static, kept: Arc<Mutex<String>>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            eprintln!("{label} | {line}");
            let mut kept = kept.lock().unwrap();
            kept.push_str(&line);
            kept.push('\n');
        }
    })
}

/// Runs `python script args...` (from the crate root) against `server`, within `timeout`;
/// fails with the script's error output and the server's last log lines unless it succeeds.
pub(crate) fn run_python(python: &Path, script: &str, args: &[&OsStr], timeout: Duration, server: &Server) {
    let label =
        Path::new(script).file_name().map_or_else(|| script.to_owned(), |name| name.to_string_lossy().into_owned());
    let mut child = Reaped(
        Command::new(python)
            .arg(crate_path(script))
            .args(args)
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
        forward(label.clone(), child.0.stdout.take().unwrap(), stdout.clone()),
        forward(label.clone(), child.0.stderr.take().unwrap(), stderr.clone()),
    ];
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            drop(child);
            panic!("{label} ran longer than {timeout:?}:\n{}", stdout.lock().unwrap());
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    for reader in readers {
        reader.join().unwrap();
    }
    assert!(
        status.success(),
        "{label} {status}:\n{}\nthe server's log, last lines:\n{}",
        stderr.lock().unwrap(),
        server.log_tail()
    );
}
