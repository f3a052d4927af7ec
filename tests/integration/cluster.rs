//! Three replicas over a three-node NATS JetStream cluster, on loopback, with real processes
//! and real SIGKILLs (Debian's `nats-server`, which `.ci/run` installs).
//!
//! 1. Three `nats-server -js` nodes form a cluster; the sample snapshot is built and
//!    `ror-search publish`ed (stream and buckets with three replicas).
//! 2. Three `ror-search serve --cluster` replicas start (each knows every node, lists a
//!    different one first) and fetch it.
//! 3. Client threads stream capacity writes (ROR PATCH and NDJSON batches) to all three
//!    replicas, other threads query all three.
//! 4. Mid-stream, replica 3 and then NATS node 2 are killed with SIGKILL; after a while both
//!    restart (same ports, same directories). The restarted replica must, when it first
//!    reports ready, serve every write acknowledged before it restarted.
//! 5. A second snapshot is built and published while the writes go on; every replica must
//!    swap it in with the live writes carried onto it.
//! 6. Then: every replica reports the same state digest; every acknowledged write is present
//!    on every replica (the newest acknowledged write of each key, or a newer write that was
//!    sent); no query failed on replicas 1 and 2.
//!
//! Every wait is bounded; nothing but 127.0.0.1 is contacted.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ror_search::cluster::{Cluster, ClusterConfig, snapshots};
use serde_json::Value;

use crate::capacity_crash::{Server, Stream, TOKEN, Write, agent, build_targets, check_state, free_port};
use crate::common::{fixture_text, temp_dir};

/// One `nats-server` of the cluster; SIGKILLed and reaped on drop.
struct NatsNode {
    child: Child,
    name: String,
    client_port: u16,
    cluster_port: u16,
    routes: String,
    store: PathBuf,
    log: PathBuf,
}

fn nats_server() -> PathBuf {
    for candidate in ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"] {
        if Path::new(candidate).exists() {
            return candidate.into();
        }
    }
    panic!("nats-server is not installed (Debian package nats-server; .ci/run installs it)");
}

impl NatsNode {
    fn start(name: &str, client_port: u16, cluster_port: u16, routes: &str, dir: &Path) -> NatsNode {
        let store = dir.join(format!("{name}-store"));
        let log = dir.join(format!("{name}.log"));
        let mut node = NatsNode {
            child: Command::new("true").spawn().unwrap(),
            name: name.to_owned(),
            client_port,
            cluster_port,
            routes: routes.to_owned(),
            store,
            log,
        };
        node.child = node.spawn();
        node
    }

    fn spawn(&self) -> Child {
        let out = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        Command::new(nats_server())
            .args(["-a", "127.0.0.1", "-p", &self.client_port.to_string(), "-js", "-sd"])
            .arg(&self.store)
            .args(["-n", &self.name, "--cluster_name", "ror-test", "--cluster"])
            .arg(format!("nats://127.0.0.1:{}", self.cluster_port))
            .args(["--routes", &self.routes])
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap()
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.client_port)
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn restart(&mut self) {
        self.kill();
        self.child = self.spawn();
    }
}

impl Drop for NatsNode {
    fn drop(&mut self) {
        self.kill();
    }
}

fn wait_port(port: u16, limit: Duration) {
    let deadline = Instant::now() + limit;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "port {port} not open within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `ror-search publish` of `dir` to the cluster; its JSON report.
fn publish(dir: &Path, urls: &str, log: &Path) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_ror-search"))
        .arg("publish")
        .arg(dir)
        .args(["--cluster", urls, "--cluster-replicas", "3", "--connect-timeout-secs", "60"])
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    std::fs::write(log, &output.stderr).unwrap();
    assert!(output.status.success(), "publish failed:\n{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The replicas' shared query load: each thread queries one replica until stopped, and counts
/// failures (transport errors and non-200 answers) while that replica is meant to be up.
struct Queries {
    bases: Vec<String>,
    up: Vec<AtomicBool>,
    answered: Vec<AtomicU64>,
    failed: Vec<Mutex<Vec<String>>>,
    stop: AtomicBool,
}

impl Queries {
    fn run(&self, replica: usize) {
        let agent = agent();
        let paths = [
            "/v1/offers?lat=48.8566&lon=2.3522&radius_km=30&limit=20",
            "/v1/offers?lat=45.764&lon=4.8357&min_crisis_t0=1&limit=10",
            "/v1/crisis?lat=44.8378&lon=-0.5792&limit=10",
            "/v1/offers?lat=43.6045&lon=1.444&radius_km=20&min_available=1&sort=available",
        ];
        let mut turn = 0;
        while !self.stop.load(Ordering::Relaxed) {
            let path = paths[turn % paths.len()];
            turn += 1;
            let up_before = self.up[replica].load(Ordering::SeqCst);
            // As the SAMU asks: crisis capacities need a credential.
            let answer = agent
                .get(format!("{}{path}", self.bases[replica]))
                .header("Authorization", &format!("Bearer {TOKEN}"))
                .call();
            let up_after = self.up[replica].load(Ordering::SeqCst);
            let outcome = match answer {
                Ok(response) if response.status().as_u16() == 200 => Ok(()),
                Ok(mut response) => Err(format!(
                    "{path}: {} {}",
                    response.status(),
                    response.body_mut().read_to_string().unwrap_or_default()
                )),
                Err(error) => Err(format!("{path}: {error}")),
            };
            match outcome {
                Ok(()) => {
                    self.answered[replica].fetch_add(1, Ordering::Relaxed);
                }
                // Only what fails while the replica is meant to be up, all along, counts.
                Err(reason) if up_before && up_after => {
                    self.failed[replica].lock().unwrap_or_else(PoisonError::into_inner).push(reason)
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

fn snapshot_info(server: &Server) -> Value {
    server.get_json(&agent(), "/v1/snapshot")
}

/// Waits until `check` holds of every replica (panics after `limit` with what they report).
fn wait_all(replicas: &[Server], limit: Duration, what: &str, check: impl Fn(&Server) -> bool) {
    let deadline = Instant::now() + limit;
    loop {
        if replicas.iter().all(&check) {
            return;
        }
        if Instant::now() > deadline {
            let reports: Vec<String> =
                replicas.iter().map(|replica| format!("{}: {}", replica.port, snapshot_info(replica))).collect();
            panic!("not every replica {what} within {limit:?}:\n{}", reports.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Writes, to each target, its first capacity record again with an older `capacityUpdateDate`
/// (answered "ignored": the record held is newer); returns how many.
fn write_stale(replica: &Server, targets: &[crate::capacity_crash::Target]) -> u64 {
    let agent = agent();
    let code = |value: &Value| value.get("code").unwrap_or(value).as_str().map(str::to_owned);
    let mut written = 0;
    for target in targets {
        let offer = replica.get_json(&agent, &format!("/v1/offers/{}", target.offer));
        let location =
            offer["locations"].as_array().unwrap().iter().find(|l| l["id"] == target.location.as_str()).unwrap();
        // A record with a date (one without is older than any write).
        let Some(record) =
            location["capacities"].as_array().unwrap().iter().find(|record| record["updated_at"].is_string())
        else {
            continue;
        };
        let mut line = serde_json::Map::new();
        line.insert("location".into(), target.location.clone().into());
        for field in [
            "status",
            "temporality",
            "gender",
            "temporary_assignment",
            "closing_type",
            "additional_bed_type",
            "crisis_type",
            "capacity_type",
            "source_type",
        ] {
            if let Some(value) = code(&record[field]) {
                line.insert(field.into(), value.into());
            }
        }
        let held = ror_search::util::time::parse_fhir_datetime(record["updated_at"].as_str().unwrap()).unwrap();
        line.insert("updated_at".into(), ror_search::util::time::format_rfc3339(held - 86_400).into());
        line.insert("count".into(), (record["count"].as_u64().unwrap() + 1).into());
        let mut response = agent
            .post(replica.url("/v1/capacity"))
            .header("Authorization", &format!("Bearer {TOKEN}"))
            .send(Value::Object(line).to_string().as_str())
            .unwrap();
        let text = response.body_mut().read_to_string().unwrap();
        assert!(text.contains("\"ignored\""), "a stale write was not ignored: {text}");
        written += 1;
    }
    assert!(written > 0, "no target holds a dated capacity record");
    written
}

/// Raises its flags when dropped.
struct StopOnDrop<'a>([&'a AtomicBool; 2]);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        for flag in self.0 {
            flag.store(true, Ordering::Relaxed);
        }
    }
}

/// On a failure, prints the end of every log of the run (replicas, NATS nodes, publishes).
struct LogsOnFailure(PathBuf);

impl Drop for LogsOnFailure {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let Ok(entries) = std::fs::read_dir(&self.0) else { return };
        let mut logs: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|extension| extension == "log"))
            .collect();
        logs.sort();
        for log in logs {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().filter(|line| !line.contains("GET /")).collect();
            eprintln!("==== {} (last 60 lines)", log.display());
            for line in &lines[lines.len().saturating_sub(60)..] {
                eprintln!("{line}");
            }
        }
    }
}

#[test]
fn three_replicas_over_three_nats_nodes_survive_sigkills_and_agree() {
    let dir = temp_dir();
    let root = dir.path();
    let _logs = LogsOnFailure(root.to_owned());
    // The NATS cluster.
    let client_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let cluster_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let routes = cluster_ports.iter().map(|port| format!("nats://127.0.0.1:{port}")).collect::<Vec<_>>().join(",");
    let mut nodes: Vec<NatsNode> = (0..3)
        .map(|index| {
            NatsNode::start(&format!("n{}", index + 1), client_ports[index], cluster_ports[index], &routes, root)
        })
        .collect();
    for node in &nodes {
        wait_port(node.client_port, Duration::from_secs(20));
    }
    let urls: Vec<String> = nodes.iter().map(NatsNode::url).collect();
    let all_urls = urls.join(",");

    // The first snapshot, published.
    let targets = build_targets(&root.join("builder/s1"), "2026-11-15T00:00:00Z");
    let first = publish(&root.join("builder/s1"), &all_urls, &root.join("publish-1.log"));
    let first_id = first["snapshot_id"].as_str().unwrap().to_owned();
    eprintln!("published {first}");

    // Three replicas, each listing a different node first.
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let replica_args = |index: usize| -> Vec<String> {
        let mut order: Vec<String> = urls.clone();
        order.rotate_left(index);
        // Six processes and the test's threads share two cores: a query slowed down by them is
        // not what is tested here.
        vec![
            "--cluster".into(),
            order.join(","),
            "--cluster-replicas".into(),
            "3".into(),
            "--request-timeout-ms".into(),
            "20000".into(),
        ]
    };
    let launch = |index: usize| {
        Server::launch(
            &root.join(format!("replica-{}", index + 1)),
            &root.join(format!("replica-{}.log", index + 1)),
            ports[index],
            &replica_args(index),
        )
    };
    let mut replicas: Vec<Server> = (0..3).map(launch).collect();
    for replica in &replicas {
        replica.wait_ready(Duration::from_secs(120));
    }
    wait_all(&replicas, Duration::from_secs(10), "serves the first snapshot", |replica| {
        snapshot_info(replica)["snapshot"] == first_id.as_str()
    });

    // The first writes of the stream are older than the records they target: the snapshots
    // cover them, and the second publication purges them.
    let stale_writes = write_stale(&replicas[0], &targets);

    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let patch_template = fixture_text("capacity-patch/scenario-2-add.json");
    let bases: Vec<String> = replicas.iter().map(|replica| replica.url("")).collect();
    let stream = Stream {
        bases: bases.clone(),
        targets: &targets,
        patch_template: &patch_template,
        base: now - 2 * 86_400,
        counter: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        sent: Mutex::new(Vec::new()),
        acked: Mutex::new(Vec::new()),
        deadline: Instant::now() + Duration::from_secs(240),
        // At most ~120 requests/s from the six clients: the phases below outlast their budget
        // of writes otherwise.
        pause: Duration::from_millis(50),
    };
    let queries = Queries {
        bases,
        up: (0..3).map(|_| AtomicBool::new(true)).collect(),
        answered: (0..3).map(|_| AtomicU64::new(0)).collect(),
        failed: (0..3).map(|_| Mutex::new(Vec::new())).collect(),
        stop: AtomicBool::new(false),
    };
    let acked_len = |stream: &Stream| stream.acked.lock().unwrap_or_else(PoisonError::into_inner).len();
    let wait_acked = |stream: &Stream, more: usize| {
        let target = acked_len(stream) + more;
        let deadline = Instant::now() + Duration::from_secs(120);
        while acked_len(stream) < target {
            let sent = stream.sent.lock().unwrap_or_else(PoisonError::into_inner).len();
            assert!(
                Instant::now() < deadline,
                "fewer than {more} writes acknowledged in 120 s ({} acknowledged, {sent} sent)",
                acked_len(stream)
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let mut second_id = String::new();
    std::thread::scope(|scope| {
        // A failed check below stops the clients, so that the scope can end and the test fail.
        let _stop = StopOnDrop([&stream.stop, &queries.stop]);
        for thread in 0..6 {
            let stream = &stream;
            scope.spawn(move || stream.client(thread));
        }
        for replica in 0..3 {
            let queries = &queries;
            scope.spawn(move || queries.run(replica));
        }
        wait_acked(&stream, 300);

        // SIGKILL replica 3, then NATS node 2, mid-stream.
        queries.up[2].store(false, Ordering::SeqCst);
        replicas[2].kill();
        eprintln!("replica 3 killed after {} acknowledged writes", acked_len(&stream));
        wait_acked(&stream, 100);
        nodes[1].kill();
        eprintln!("NATS node 2 killed after {} acknowledged writes", acked_len(&stream));
        wait_acked(&stream, 300);

        // Both come back; the replica must have caught up when it first says ready.
        nodes[1].restart();
        wait_port(nodes[1].client_port, Duration::from_secs(20));
        let acked_before_restart: Vec<Write> = stream.acked.lock().unwrap_or_else(PoisonError::into_inner).clone();
        replicas[2] = launch(2);
        let agent = agent();
        let deadline = Instant::now() + Duration::from_secs(120);
        while !replicas[2].ready(&agent) {
            assert!(Instant::now() < deadline, "replica 3 not ready again within 120 s:\n{}", replicas[2].log_text());
            std::thread::sleep(Duration::from_millis(20));
        }
        let state = replicas[2].state(&agent, &targets);
        let sent_now: Vec<Write> = stream.sent.lock().unwrap_or_else(PoisonError::into_inner).clone();
        check_state(&state, &acked_before_restart, &sent_now);
        queries.up[2].store(true, Ordering::SeqCst);
        eprintln!("replica 3 ready again, caught up with {} acknowledged writes", acked_before_restart.len());
        wait_acked(&stream, 200);

        // A second snapshot, published while the writes go on.
        build_targets(&root.join("builder/s2"), "2026-11-16T00:00:00Z");
        let second = publish(&root.join("builder/s2"), &all_urls, &root.join("publish-2.log"));
        second_id = second["snapshot_id"].as_str().unwrap().to_owned();
        assert!(
            second["covers_sequence"].as_u64().unwrap() >= stale_writes,
            "the second snapshot covers the {stale_writes} stale writes at the head of the stream: {second}"
        );
        eprintln!("published {second}");
        wait_all(&replicas, Duration::from_secs(120), "serves the second snapshot", |replica| {
            snapshot_info(replica)["snapshot"] == second_id.as_str()
        });
        wait_acked(&stream, 200);
        stream.stop.store(true, Ordering::Relaxed);
        queries.stop.store(true, Ordering::Relaxed);
    });
    let sent = stream.sent.into_inner().unwrap();
    let acked = stream.acked.into_inner().unwrap();
    eprintln!("{} writes sent, {} acknowledged", sent.len(), acked.len());

    // Every replica converges on the same state, holding every acknowledged write.
    wait_all(&replicas, Duration::from_secs(60), "has applied the whole stream", |replica| {
        let cluster = &snapshot_info(replica)["cluster"]["stream"];
        cluster["lag"] == 0 && cluster["caught_up"] == true
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let digests = loop {
        let digests: Vec<Value> =
            replicas.iter().map(|replica| snapshot_info(replica)["state_digest"].clone()).collect();
        if digests.iter().all(|digest| *digest == digests[0]) || Instant::now() > deadline {
            break digests;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(digests.iter().all(|digest| *digest == digests[0]), "the replicas' digests differ: {digests:?}");
    let agent = agent();
    let states: Vec<_> = replicas.iter().map(|replica| replica.state(&agent, &targets)).collect();
    for (index, state) in states.iter().enumerate() {
        assert_eq!(snapshot_info(&replicas[index])["snapshot"], second_id.as_str());
        check_state(state, &acked, &sent);
        assert_eq!(*state, states[0], "replica {} serves other records than replica 1", index + 1);
    }
    for replica in 0..2 {
        let failed = queries.failed[replica].lock().unwrap_or_else(PoisonError::into_inner);
        assert!(failed.is_empty(), "queries failed on replica {}: {:?}", replica + 1, &failed[..failed.len().min(10)]);
        assert!(queries.answered[replica].load(Ordering::Relaxed) > 0);
    }

    // A broken publication (a file whose SHA-256 is not the key's) is refused by every replica,
    // which goes on serving the second snapshot; the repaired key is then swapped in.
    build_targets(&root.join("builder/s3"), "2026-11-17T00:00:00Z");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let config = ClusterConfig { urls: urls.clone(), replicas: 3, ..ClusterConfig::default() };
    let (cluster, good) = runtime.block_on(async {
        let cluster = Cluster::connect(&config, Duration::from_secs(30)).await.unwrap();
        let (_, uploaded) = snapshots::upload(&cluster, &root.join("builder/s3")).await.unwrap();
        let mut broken = uploaded.current.clone();
        broken.files.iter_mut().find(|file| file.path == "data.bin").unwrap().sha256 = "0".repeat(64);
        snapshots::set_current(&cluster, &broken).await.unwrap();
        (cluster, uploaded.current)
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while !replicas.iter().all(|replica| {
        replica
            .log_text()
            .lines()
            .any(|line| line.contains("published snapshot not fetched") && line.contains(&good.snapshot_id))
    }) {
        assert!(Instant::now() < deadline, "the broken publication was not refused by every replica within 60 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    for replica in &replicas {
        assert_eq!(snapshot_info(replica)["snapshot"], second_id.as_str(), "a replica left the served snapshot");
        assert!(replica.ready(&agent), "a replica stopped being ready over a refused publication");
    }
    runtime.block_on(snapshots::set_current(&cluster, &good)).unwrap();
    wait_all(&replicas, Duration::from_secs(60), "serves the repaired third snapshot", |replica| {
        snapshot_info(replica)["snapshot"] == good.snapshot_id.as_str()
    });
    let digests: Vec<Value> = replicas.iter().map(|replica| snapshot_info(replica)["state_digest"].clone()).collect();
    assert!(digests.iter().all(|digest| *digest == digests[0]), "digests differ on the third snapshot: {digests:?}");
    for replica in &replicas {
        check_state(&replica.state(&agent, &targets), &acked, &sent);
    }
    // One replica alone does not reload or roll back: it would leave the others.
    for path in ["/admin/rollback", "/admin/reload"] {
        let response =
            agent.post(replicas[0].url(path)).header("Authorization", &format!("Bearer {TOKEN}")).send_empty().unwrap();
        assert_eq!(response.status().as_u16(), 403, "{path} on a replica");
    }
    eprintln!(
        "digest {} on all three; queries answered {:?}",
        digests[0],
        queries.answered.iter().map(|count| count.load(Ordering::Relaxed)).collect::<Vec<_>>()
    );
}
