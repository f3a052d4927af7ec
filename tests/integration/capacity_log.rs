//! The capacity write log under a real crash: a child process appends in a loop and prints
//! every acknowledged sequence number; the parent kills it with SIGKILL at a random point and
//! checks that every acknowledged write is in the log, intact.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ror_search::live::log::Log;

use crate::common::temp_dir;

const CHILD_ENV: &str = "ROR_CAPACITY_LOG_CRASH_CHILD";
const CHILD_TEST: &str = "capacity_log::crash_child";

/// The child mode: does nothing unless started by [`sigkill_loses_no_acknowledged_write`].
/// Appends from four threads until killed (or for at most a minute), printing
/// `ack <sequence> <payload>` once each append is acknowledged.
#[test]
fn crash_child() {
    let Some(path) = std::env::var_os(CHILD_ENV) else { return };
    let (log, replay) = Log::open(PathBuf::from(path)).unwrap();
    let round = replay.report.last_sequence;
    let deadline = Instant::now() + Duration::from_secs(60);
    std::thread::scope(|scope| {
        for thread in 0..4 {
            let log = &log;
            scope.spawn(move || {
                let mut item = 0usize;
                while Instant::now() < deadline {
                    let batch: Vec<Vec<u8>> = (0..1 + item % 3)
                        .map(|k| format!("from{round}-thread{thread}-item{}", item + k).into_bytes())
                        .collect();
                    item += batch.len();
                    let seqs = log.append(batch.clone()).unwrap();
                    let mut out = std::io::stdout().lock();
                    for (seq, payload) in seqs.iter().zip(&batch) {
                        writeln!(out, "ack {seq} {}", String::from_utf8_lossy(payload)).unwrap();
                    }
                    out.flush().unwrap();
                }
            });
        }
    });
}

#[test]
fn sigkill_loses_no_acknowledged_write() {
    let dir = temp_dir();
    let path = dir.path().join("capacity.log");
    let mut seed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    eprintln!("crash test seed {seed}");
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut acked: BTreeMap<u64, String> = BTreeMap::new();
    for round in 0..4 {
        let wanted = 20 + (next() % 1500) as usize;
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads", "1"])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let mut read = 0;
        let mut killed = false;
        loop {
            line.clear();
            if stdout.read_line(&mut line).unwrap() == 0 {
                break;
            }
            // Lines printed before the kill are acknowledged writes too; a cut line is not.
            let Some(ack) = line.strip_suffix('\n').and_then(|line| line.strip_prefix("ack ")) else { continue };
            let (seq, payload) = ack.split_once(' ').unwrap();
            assert!(acked.insert(seq.parse().unwrap(), payload.to_owned()).is_none(), "sequence {seq} acked twice");
            read += 1;
            if read == wanted && !killed {
                child.kill().unwrap(); // SIGKILL on Unix
                killed = true;
            }
        }
        let status = child.wait().unwrap();
        assert!(killed && !status.success(), "round {round}: the child ended by itself ({status}) after {read} acks");

        let (_log, replay) = Log::open(&path).unwrap();
        let entries: BTreeMap<u64, &[u8]> =
            replay.entries.iter().map(|entry| (entry.sequence, entry.payload.as_slice())).collect();
        for (seq, payload) in &acked {
            assert_eq!(
                entries.get(seq).copied(),
                Some(payload.as_bytes()),
                "round {round}: acknowledged sequence {seq} missing or altered"
            );
        }
        let last = *acked.keys().next_back().unwrap();
        assert!(replay.report.last_sequence >= last);
        eprintln!(
            "round {round}: {read} acks read, killed; reopen replayed {} records, tail {:?}",
            replay.report.records, replay.report.tail
        );
    }
}
