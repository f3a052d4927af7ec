//! The live capacity write path of the real server binary under a crash.
//!
//! 1. A sample snapshot is built into a temporary index; `ror-search serve` is started on a
//!    free 127.0.0.1 port; four client threads stream capacity writes (`PATCH
//!    /fhir/Location?identifier=` adds and `POST /v1/capacity` NDJSON batches, every write with
//!    its own count and a strictly newer `capacityUpdateDate`) to a few Locations, two keys
//!    each, and record every acknowledged write. The server is killed with SIGKILL in the
//!    middle of the stream, restarted on the same index, and every acknowledged write must be
//!    served by `/v1/offers/{id}`: for each key, the record held is the newest acknowledged
//!    write of the key, or a newer one that was in flight at the kill (logged, not yet
//!    answered).
//! 2. A few more writes are acknowledged one after the other, the server is killed, the last
//!    record of `capacity.log` is cut by a few bytes, and the restarted server must start, say
//!    in its log that it dropped a torn tail, and serve every write but the torn one.
//!
//! Every loop is bounded in time and count; nothing but 127.0.0.1 is contacted.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ror_search::engine::Engine;
use ror_search::snapshot::build::{BuildOptions, build_snapshot};
use ror_search::util::time::{format_rfc3339, parse_fhir_datetime};
use serde_json::Value;

use crate::common::{crate_path, fixture_text, temp_dir};

pub(crate) const TOKEN: &str = "crash-test-admin-token-0123456789";
/// Client threads streaming writes.
pub(crate) const THREADS: usize = 4;
/// Most writes a client thread sends (a POST of several lines counts each line).
const MAX_WRITES_PER_THREAD: usize = 4_000;
/// Locations written to.
const TARGETS: usize = 12;

/// A capacity key written by the test: the tuple the server keys records by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Key {
    /// Disponible, courant, indifférencié, aucune affectation temporaire (scenario 2's key).
    Available,
    /// Supplémentaire (ORSAN T0), courant, lit supplémentaire `03`, crise `02`.
    CrisisT0,
}

impl Key {
    /// `(status, temporality, gender, temporary_assignment, closing_type, additional_bed_type,
    /// crisis_type)` as `/v1/offers/{id}` prints them.
    pub(crate) fn codes(self) -> [Option<&'static str>; 7] {
        match self {
            Key::Available => [Some("02"), Some("01"), Some("03"), Some("01"), None, None, None],
            Key::CrisisT0 => [Some("06"), Some("01"), None, Some("01"), None, Some("03"), Some("02")],
        }
    }

    /// One `POST /v1/capacity` line.
    pub(crate) fn line(self, location: &str, count: u32, updated_at: i64) -> String {
        let at = format_rfc3339(updated_at);
        match self {
            Key::Available => format!(
                r#"{{"location":"{location}","status":"02","temporality":"01","gender":"03","temporary_assignment":"01","capacity_type":"02","source_type":"02","count":{count},"updated_at":"{at}"}}"#
            ),
            Key::CrisisT0 => format!(
                r#"{{"location":"{location}","status":"06","temporality":"01","temporary_assignment":"01","additional_bed_type":"03","crisis_type":"02","capacity_type":"01","source_type":"02","count":{count},"updated_at":"{at}"}}"#
            ),
        }
    }
}

/// A Location written to: its FHIR id, an offer listing it, its synchro identifier.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) location: String,
    pub(crate) offer: String,
    pub(crate) identifier: String,
}

/// One write: which target, which key, its `capacityUpdateDate` and count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Write {
    pub(crate) target: usize,
    pub(crate) key: Key,
    pub(crate) updated_at: i64,
    pub(crate) count: u32,
}

/// A record as served: `capacityUpdateDate` and count.
pub(crate) type Held = (i64, u32);

/// The running server binary; killed (SIGKILL) and reaped on drop.
pub(crate) struct Server {
    child: Mutex<Child>,
    pub(crate) port: u16,
    log: PathBuf,
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into()
}

impl Server {
    /// Starts `ror-search serve` on `index` (stdout and stderr appended to `log`) and waits,
    /// at most a minute, until it is ready.
    fn start(index: &Path, log: &Path) -> Server {
        let server = Server::launch(index, log, free_port(), &[]);
        server.wait_ready(Duration::from_secs(60));
        server
    }

    /// Starts `ror-search serve` on `index` and `port` with `extra` arguments (stdout and
    /// stderr appended to `log`), without waiting.
    pub(crate) fn launch(index: &Path, log: &Path, port: u16, extra: &[String]) -> Server {
        let out = OpenOptions::new().create(true).append(true).open(log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_ror-search"))
            .args(["serve", "--index"])
            .arg(index)
            .args(["--admin-token", TOKEN, "--poll-interval-secs", "0", "--addr"])
            .arg(format!("127.0.0.1:{port}"))
            .args(extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        Server { child: Mutex::new(child), port, log: log.to_owned() }
    }

    /// Whether `/readyz` answers 200 now.
    pub(crate) fn ready(&self, agent: &ureq::Agent) -> bool {
        agent.get(self.url("/readyz")).call().is_ok_and(|response| response.status().as_u16() == 200)
    }

    /// Waits until `/readyz` answers 200 (panics after `limit`, or if the server exits).
    pub(crate) fn wait_ready(&self, limit: Duration) {
        let agent = agent();
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.lock().unwrap().try_wait().unwrap() {
                panic!("the server exited ({status}) before it was ready:\n{}", self.log_text());
            }
            if self.ready(&agent) {
                return;
            }
            assert!(Instant::now() < deadline, "the server was not ready within {limit:?}:\n{}", self.log_text());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, then reap.
    pub(crate) fn kill(&self) {
        let mut child = self.child.lock().unwrap_or_else(PoisonError::into_inner);
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// A GET answered 200, as JSON.
    pub(crate) fn get_json(&self, agent: &ureq::Agent, path: &str) -> Value {
        let mut response =
            agent.get(self.url(path)).header("authorization", &format!("Bearer {TOKEN}")).call().unwrap();
        let text = response.body_mut().read_to_string().unwrap();
        assert_eq!(response.status().as_u16(), 200, "GET {path}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    pub(crate) fn metrics(&self, agent: &ureq::Agent) -> String {
        let mut response =
            agent.get(self.url("/metrics")).header("authorization", &format!("Bearer {TOKEN}")).call().unwrap();
        assert_eq!(response.status().as_u16(), 200);
        response.body_mut().read_to_string().unwrap()
    }

    /// The capacity records every target holds for the test's keys.
    pub(crate) fn state(&self, agent: &ureq::Agent, targets: &[Target]) -> BTreeMap<(usize, Key), Held> {
        let mut state = BTreeMap::new();
        for (index, target) in targets.iter().enumerate() {
            let offer = self.get_json(agent, &format!("/v1/offers/{}", target.offer));
            let location = offer["locations"]
                .as_array()
                .unwrap()
                .iter()
                .find(|location| location["id"] == target.location.as_str())
                .unwrap_or_else(|| panic!("offer {} does not list {}", target.offer, target.location));
            for key in [Key::Available, Key::CrisisT0] {
                let matching: Vec<&Value> = location["capacities"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|record| record_codes(record) == key.codes().map(|code| code.map(str::to_owned)))
                    .collect();
                assert!(matching.len() <= 1, "{}: several records of {key:?}: {matching:?}", target.location);
                if let Some(record) = matching.first() {
                    let updated_at = parse_fhir_datetime(record["updated_at"].as_str().unwrap()).unwrap();
                    state.insert((index, key), (updated_at, record["count"].as_u64().unwrap() as u32));
                }
            }
        }
        state
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(PoisonError::into_inner);
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn record_codes(record: &Value) -> [Option<String>; 7] {
    ["status", "temporality", "gender", "temporary_assignment", "closing_type", "additional_bed_type", "crisis_type"]
        .map(|field| record[field]["code"].as_str().map(str::to_owned))
}

/// Builds the sample snapshot into `index/sample` and picks the Locations to write to: each
/// with a synchro id that addresses it alone, and an offer that lists it.
fn build_index(index: &Path) -> Vec<Target> {
    build_targets(&index.join("sample"), "2026-11-15T00:00:00Z")
}

/// Builds the sample snapshot into `out` (build time `built_at`) and picks the Locations to
/// write to, as [`build_index`].
pub(crate) fn build_targets(out: &Path, built_at: &str) -> Vec<Target> {
    let out = out.to_owned();
    build_snapshot(BuildOptions {
        inputs: vec![crate_path("data-samples/ror-feed")],
        communes: Some(crate_path("data-samples/communes.csv.gz")),
        out: out.clone(),
        force: true,
        built_at: parse_fhir_datetime(built_at).unwrap(),
        index_files: Some(&ror_search::engine::persist::write_index_files),
        progress_bar: false,
    })
    .unwrap();
    let engine = Engine::open(&out).unwrap();
    let dataset = &engine.data().dataset;
    let mut targets: Vec<Target> = Vec::new();
    // Every 50th offer, so the targets spread over the country.
    for offer in dataset.offers.iter().step_by(50) {
        let Some(finess) = offer.eg.and_then(|eg| dataset.egs[eg as usize].finess.clone()) else { continue };
        for &location in &offer.locations {
            let location = &dataset.locations[location as usize];
            let Some(synchro) = &location.synchro_id else { continue };
            if engine.locations_by_synchro(&finess, synchro).len() == 1
                && targets.iter().all(|target| target.location != location.id)
            {
                targets.push(Target {
                    location: location.id.clone(),
                    offer: offer.id.clone(),
                    identifier: format!("1{finess}/{synchro}"),
                });
            }
        }
        if targets.len() >= TARGETS {
            break;
        }
    }
    targets.truncate(TARGETS);
    assert_eq!(targets.len(), TARGETS, "not enough Locations with a synchro id in the sample feed");
    targets
}

/// The shared state of the client threads.
pub(crate) struct Stream<'a> {
    /// The servers' base URLs (`http://127.0.0.1:<port>`): client thread `n` writes to
    /// `bases[n % bases.len()]`.
    pub(crate) bases: Vec<String>,
    pub(crate) targets: &'a [Target],
    /// The scenario-2 `add` body, to fill in.
    pub(crate) patch_template: &'a str,
    /// `capacityUpdateDate` of write number 0; write `n` is `base + n`.
    pub(crate) base: i64,
    pub(crate) counter: AtomicU64,
    pub(crate) stop: AtomicBool,
    pub(crate) sent: Mutex<Vec<Write>>,
    pub(crate) acked: Mutex<Vec<Write>>,
    pub(crate) deadline: Instant,
    /// Pause of each client between two requests.
    pub(crate) pause: Duration,
}

impl Stream<'_> {
    fn next_write(&self, target: usize, key: Key) -> Write {
        let number = self.counter.fetch_add(1, Ordering::Relaxed);
        assert!(number < 100_000, "counts stay within the ROR's maximum");
        Write { target, key, updated_at: self.base + number as i64, count: number as u32 }
    }

    fn record(list: &Mutex<Vec<Write>>, writes: &[Write]) {
        list.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(writes);
    }

    /// One client: PATCH adds and POST batches of 1 to 4 lines, until stopped, out of time or
    /// out of writes. A failed request (the server was killed) is not acknowledged.
    pub(crate) fn client(&self, thread: usize) {
        let agent = agent();
        let base = self.bases[thread % self.bases.len()].as_str();
        let mut rng = (thread as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut random = move |below: usize| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % below as u64) as usize
        };
        let mut written = 0;
        while written < MAX_WRITES_PER_THREAD && !self.stop.load(Ordering::Relaxed) && Instant::now() < self.deadline {
            let answered = if random(3) == 0 {
                let write = self.next_write(random(self.targets.len()), Key::Available);
                written += 1;
                self.patch(&agent, base, write)
            } else {
                let writes: Vec<Write> = (0..1 + random(4))
                    .map(|_| {
                        let key = if random(2) == 0 { Key::Available } else { Key::CrisisT0 };
                        self.next_write(random(self.targets.len()), key)
                    })
                    .collect();
                written += writes.len();
                self.post(&agent, base, &writes)
            };
            if !answered {
                // The server is gone (or going): try again shortly, until told to stop.
                std::thread::sleep(Duration::from_millis(5));
            }
            if !self.pause.is_zero() {
                std::thread::sleep(self.pause);
            }
        }
    }

    fn patch(&self, agent: &ureq::Agent, base: &str, write: Write) -> bool {
        let body = self
            .patch_template
            .replace("\"valueInteger\": 25", &format!("\"valueInteger\": {}", write.count))
            .replace("2025-02-26T15:17:33Z", &format_rfc3339(write.updated_at));
        let target = &self.targets[write.target];
        Self::record(&self.sent, &[write]);
        let response = agent
            .patch(format!("{base}/fhir/Location?identifier={}", target.identifier))
            .header("Authorization", &format!("Bearer {TOKEN}"))
            .header("Content-Type", "application/fhir+json")
            .send(body.as_str());
        let Ok(mut response) = response else { return false };
        let status = response.status().as_u16();
        let Ok(text) = response.body_mut().read_to_string() else { return false };
        match status {
            200 => {
                Self::record(&self.acked, &[write]);
                true
            }
            500..=599 => false,
            _ => panic!("PATCH {} answered {status}: {text}", target.identifier),
        }
    }

    fn post(&self, agent: &ureq::Agent, base: &str, writes: &[Write]) -> bool {
        let mut body = String::new();
        for write in writes {
            body.push_str(&write.key.line(&self.targets[write.target].location, write.count, write.updated_at));
            body.push('\n');
        }
        Self::record(&self.sent, writes);
        let response = agent
            .post(format!("{base}/v1/capacity"))
            .header("Authorization", &format!("Bearer {TOKEN}"))
            .header("Content-Type", "application/x-ndjson")
            .send(body.as_str());
        let Ok(mut response) = response else { return false };
        let status = response.status().as_u16();
        let Ok(text) = response.body_mut().read_to_string() else { return false };
        match status {
            200 => {}
            500..=599 => return false,
            _ => panic!("POST /v1/capacity answered {status}: {text}"),
        }
        let lines: Vec<Value> = text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
        assert_eq!(lines.len(), writes.len(), "one answer per line: {text}");
        let mut acked = Vec::new();
        for (write, line) in writes.iter().zip(&lines) {
            match line["status"].as_str() {
                Some("applied" | "ignored") => acked.push(*write),
                _ => panic!("line refused: {line} (body {body})"),
            }
        }
        Self::record(&self.acked, &acked);
        true
    }
}

/// Checks `state` against the writes: for every key written, the record held is the newest
/// acknowledged write or a newer write that was sent; nothing else.
pub(crate) fn check_state(state: &BTreeMap<(usize, Key), Held>, acked: &[Write], sent: &[Write]) -> usize {
    let mut newest_acked: HashMap<(usize, Key), Write> = HashMap::new();
    for write in acked {
        let entry = newest_acked.entry((write.target, write.key)).or_insert(*write);
        if write.updated_at > entry.updated_at {
            *entry = *write;
        }
    }
    let sent: HashMap<(usize, Key, i64), u32> =
        sent.iter().map(|write| ((write.target, write.key, write.updated_at), write.count)).collect();
    let mut in_flight_won = 0;
    for (key, newest) in &newest_acked {
        let held = state.get(key).unwrap_or_else(|| panic!("{key:?}: acknowledged write {newest:?} lost"));
        assert!(held.0 >= newest.updated_at, "{key:?}: holds {held:?}, older than the acknowledged {newest:?}");
        if held.0 == newest.updated_at {
            assert_eq!(held.1, newest.count, "{key:?}: holds {held:?}, the acknowledged write was {newest:?}");
        } else {
            assert_eq!(
                sent.get(&(key.0, key.1, held.0)),
                Some(&held.1),
                "{key:?}: holds {held:?}, which no client sent (newest acknowledged {newest:?})"
            );
            in_flight_won += 1;
        }
    }
    in_flight_won
}

pub(crate) fn metric(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no metric {name} in:\n{metrics}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn sigkill_mid_stream_then_torn_tail() {
    let dir = temp_dir();
    let index = dir.path().join("index");
    let targets = build_index(&index);
    let server_log = dir.path().join("serve.log");
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let seed = now as usize;
    // Newer than every record of the sample feed, and never in the future.
    let base = now - 2 * 86_400;
    let patch_template = fixture_text("capacity-patch/scenario-2-add.json");
    assert!(patch_template.contains("\"valueInteger\": 25") && patch_template.contains("2025-02-26T15:17:33Z"));

    // Part 1: SIGKILL in the middle of the stream.
    let server = Server::start(&index, &server_log);
    let kill_after = 300 + seed % 900;
    eprintln!("killing after {kill_after} acknowledged writes");
    let stream = Stream {
        bases: vec![server.url("")],
        targets: &targets,
        patch_template: &patch_template,
        base,
        counter: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        sent: Mutex::new(Vec::new()),
        acked: Mutex::new(Vec::new()),
        deadline: Instant::now() + Duration::from_secs(120),
        pause: Duration::ZERO,
    };
    let acked_at_kill = std::thread::scope(|scope| {
        for thread in 0..THREADS {
            let stream = &stream;
            scope.spawn(move || stream.client(thread));
        }
        let watch_deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let acked = stream.acked.lock().unwrap_or_else(PoisonError::into_inner).len();
            if acked >= kill_after {
                break;
            }
            assert!(Instant::now() < watch_deadline, "only {acked} writes acknowledged in 90 s");
            std::thread::sleep(Duration::from_millis(2));
        }
        // SIGKILL with requests in flight, then stop the clients.
        server.kill();
        let acked = stream.acked.lock().unwrap_or_else(PoisonError::into_inner).len();
        stream.stop.store(true, Ordering::Relaxed);
        acked
    });
    let Stream { sent, acked, .. } = stream;
    let (sent, acked) = (sent.into_inner().unwrap(), acked.into_inner().unwrap());
    drop(server);
    assert!(acked.len() >= kill_after && acked.len() <= sent.len());
    eprintln!("{} writes sent, {} acknowledged ({acked_at_kill} when killed)", sent.len(), acked.len());

    let server = Server::start(&index, &server_log);
    let agent = agent();
    let state = server.state(&agent, &targets);
    let in_flight_won = check_state(&state, &acked, &sent);
    let metrics = server.metrics(&agent);
    let replayed = metric(&metrics, "ror_search_capacity_replay_entries") as usize;
    assert!(replayed >= acked.len(), "{replayed} entries replayed, {} writes acknowledged", acked.len());
    assert!(replayed <= sent.len(), "{replayed} entries replayed, only {} writes sent", sent.len());
    eprintln!(
        "after restart: {replayed} entries replayed, {} keys checked, {in_flight_won} hold a write in flight at the kill",
        state.len()
    );

    // Part 2: three writes acknowledged one after the other; the log's last record is cut.
    let mut sequences = Vec::new();
    let mut last_writes = Vec::new();
    for step in 0..3u32 {
        let write = Write { target: 0, key: Key::CrisisT0, updated_at: now - 100 + i64::from(step), count: 900 + step };
        let mut response = agent
            .post(server.url("/v1/capacity"))
            .header("Authorization", &format!("Bearer {TOKEN}"))
            .send(write.key.line(&targets[0].location, write.count, write.updated_at).as_str())
            .unwrap();
        let text = response.body_mut().read_to_string().unwrap();
        let answer: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(answer["status"], "applied", "{text}");
        sequences.push(answer["sequence"].as_u64().unwrap());
        last_writes.push(write);
    }
    let before = server.state(&agent, &targets);
    assert_eq!(before.get(&(0, Key::CrisisT0)), Some(&(last_writes[2].updated_at, last_writes[2].count)));
    server.kill();

    let log_path = index.join("capacity.log");
    let length = std::fs::metadata(&log_path).unwrap().len();
    File::options().write(true).open(&log_path).unwrap().set_len(length - 3).unwrap();

    let log_before = std::fs::read_to_string(&server_log).unwrap().len();
    let server = Server::start(&index, &server_log);
    let agent = self::agent();
    let restart_log = &server.log_text()[log_before..];
    assert!(restart_log.contains("torn tail dropped"), "no torn tail reported:\n{restart_log}");
    let metrics = server.metrics(&agent);
    assert_eq!(metric(&metrics, "ror_search_capacity_log_last_sequence") as u64, sequences[2] - 1);
    let after = server.state(&agent, &targets);
    let mut expected = before.clone();
    expected.insert((0, Key::CrisisT0), (last_writes[1].updated_at, last_writes[1].count));
    assert_eq!(after, expected, "every write but the torn one is served");

    // The log goes on: the torn write's sequence number is issued again.
    let mut response = agent
        .post(server.url("/v1/capacity"))
        .header("Authorization", &format!("Bearer {TOKEN}"))
        .send(Key::CrisisT0.line(&targets[0].location, 999, now - 50).as_str())
        .unwrap();
    let answer: Value = serde_json::from_str(response.body_mut().read_to_string().unwrap().trim()).unwrap();
    assert_eq!(answer["status"], "applied");
    assert_eq!(answer["sequence"].as_u64(), Some(sequences[2]));
    eprintln!("torn tail: {restart_log_lines} log lines at restart", restart_log_lines = restart_log.lines().count());
}
