//! The capacity write log: durable appends per second with 32 concurrent appenders, ack
//! latency at a paced 1,000 appends/s (async submit, open loop), and the replay time of
//! 1,000,000 entries of about 100 bytes.
//!
//! `cargo bench --bench capacity_log`; the log lives in a temporary directory under `index/`
//! (the disk of the snapshots). `ROR_BENCH_SECS` sets the duration of each timed phase
//! (default 5 s).

use std::sync::Arc;
use std::time::{Duration, Instant};

use ror_search::live::log::Log;

const PAYLOAD_BYTES: usize = 100;

fn seconds() -> Duration {
    let secs = std::env::var("ROR_BENCH_SECS").ok().and_then(|value| value.parse().ok()).unwrap_or(5.0);
    Duration::from_secs_f64(secs)
}

fn percentile(sorted: &[Duration], pct: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * pct / 100.0).round() as usize]
}

fn print_latencies(latencies: &mut [Duration]) {
    latencies.sort_unstable();
    println!(
        "  ack latency: p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
        percentile(latencies, 50.0).as_secs_f64() * 1e3,
        percentile(latencies, 99.0).as_secs_f64() * 1e3,
        percentile(latencies, 99.9).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

fn payload(seed: usize) -> Vec<u8> {
    let mut payload = format!("establishment {seed:08} capacity ").into_bytes();
    payload.resize(PAYLOAD_BYTES, b'0' + (seed % 10) as u8);
    payload
}

fn throughput(dir: &std::path::Path, appenders: usize) {
    let (log, _) = Log::open(dir.join("throughput.log")).unwrap();
    let duration = seconds();
    let started = Instant::now();
    let mut latencies: Vec<Duration> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..appenders)
            .map(|thread| {
                let log = &log;
                scope.spawn(move || {
                    let mut latencies = Vec::new();
                    let mut item = thread;
                    while started.elapsed() < duration {
                        let sent = Instant::now();
                        log.append(vec![payload(item)]).unwrap();
                        latencies.push(sent.elapsed());
                        item += appenders;
                    }
                    latencies
                })
            })
            .collect();
        handles.into_iter().flat_map(|handle| handle.join().unwrap()).collect()
    });
    let elapsed = started.elapsed();
    let metrics = log.metrics();
    println!("throughput, {appenders} concurrent appenders, one {PAYLOAD_BYTES}-byte entry per append:");
    println!(
        "  {} durable appends in {:.2} s: {:.0} appends/s; {} group commits, {:.1} entries/commit, last fsync {:.2} ms, max fsync {:.2} ms",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        metrics.commits,
        metrics.entries_per_commit(),
        metrics.last_fsync.as_secs_f64() * 1e3,
        metrics.max_fsync.as_secs_f64() * 1e3,
    );
    print_latencies(&mut latencies);
}

fn paced_latency(dir: &std::path::Path, rate: u64) {
    let (log, _) = Log::open(dir.join("latency.log")).unwrap();
    let log = Arc::new(log);
    let duration = seconds();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (mut latencies, elapsed) = runtime.block_on(async {
        let mut interval = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let started = Instant::now();
        let mut tasks = Vec::new();
        let mut item = 0;
        while started.elapsed() < duration {
            interval.tick().await;
            let pending = log.submit(vec![payload(item)]);
            let sent = Instant::now();
            tasks.push(tokio::spawn(async move {
                pending.await.unwrap();
                sent.elapsed()
            }));
            item += 1;
        }
        let mut latencies = Vec::with_capacity(tasks.len());
        for task in tasks {
            latencies.push(task.await.unwrap());
        }
        (latencies, started.elapsed())
    });
    let metrics = log.metrics();
    println!("ack latency, open loop at {rate} appends/s (async submit):");
    println!(
        "  {} appends in {:.2} s ({:.0}/s), {} group commits, {:.2} entries/commit",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        metrics.commits,
        metrics.entries_per_commit(),
    );
    print_latencies(&mut latencies);
}

fn replay(dir: &std::path::Path, entries: usize) {
    let path = dir.join("replay.log");
    {
        let (log, _) = Log::open(&path).unwrap();
        let written = Instant::now();
        for start in (0..entries).step_by(5_000) {
            log.append((start..(start + 5_000).min(entries)).map(payload).collect()).unwrap();
        }
        println!(
            "replay: wrote {entries} entries of {PAYLOAD_BYTES} bytes in {:.2} s ({} bytes)",
            written.elapsed().as_secs_f64(),
            log.metrics().bytes
        );
    }
    for run in 0..3 {
        let started = Instant::now();
        let (log, replay) = Log::open(&path).unwrap();
        let elapsed = started.elapsed();
        assert_eq!(replay.entries.len(), entries);
        assert_eq!(replay.report.tail, None);
        println!(
            "  open + replay {run}: {} records, {} bytes in {:.3} s ({:.0} records/s)",
            replay.report.records,
            replay.report.bytes,
            elapsed.as_secs_f64(),
            replay.report.records as f64 / elapsed.as_secs_f64()
        );
        drop((log, replay));
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: then only a smoke run.
    let full = std::env::args().any(|arg| arg == "--bench");
    let index = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("index");
    std::fs::create_dir_all(&index).unwrap();
    let dir = tempfile::Builder::new().prefix("capacity-log-bench-").tempdir_in(&index).unwrap();
    if !full {
        let (log, _) = Log::open(dir.path().join("smoke.log")).unwrap();
        assert_eq!(log.append(vec![payload(0)]).unwrap(), vec![1]);
        return;
    }
    throughput(dir.path(), 32);
    paced_latency(dir.path(), 1_000);
    replay(dir.path(), 1_000_000);
}
