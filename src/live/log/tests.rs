use std::collections::BTreeMap;

use super::*;

fn payload(thread: usize, item: usize) -> Vec<u8> {
    format!("thread {thread} item {item} {}", "x".repeat(item % 7)).into_bytes()
}

fn new_log(dir: &tempfile::TempDir) -> (Log, PathBuf) {
    let path = dir.path().join("capacity.log");
    let (log, replay) = Log::open(&path).unwrap();
    assert!(replay.report.created);
    assert!(replay.entries.is_empty());
    (log, path)
}

fn reopen(path: &Path) -> (Log, Replay) {
    Log::open(path).unwrap()
}

/// Offsets of the start of every record, and the file length.
fn record_offsets(data: &[u8]) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut at = HEADER_LEN;
    while at < data.len() {
        offsets.push(at);
        at += RECORD_HEADER_LEN + u32_at(data, at) as usize;
    }
    offsets
}

#[test]
fn append_reopen_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (log, path) = new_log(&dir);
    assert_eq!(log.last_sequence(), 0);
    assert_eq!(log.append(vec![b"a".to_vec()]).unwrap(), vec![1]);
    assert_eq!(log.append(vec![b"b".to_vec(), Vec::new(), b"d".to_vec()]).unwrap(), vec![2, 3, 4]);
    assert_eq!(log.append(Vec::new()).unwrap(), Vec::<u64>::new());
    assert_eq!(log.last_sequence(), 4);
    let metrics = log.metrics();
    assert_eq!((metrics.records, metrics.last_sequence, metrics.commits, metrics.entries_committed), (4, 4, 2, 4));
    assert_eq!(metrics.bytes, fs::metadata(&path).unwrap().len());
    assert!(!metrics.failed);
    drop(log);

    let (log, replay) = reopen(&path);
    let got: Vec<(u64, &[u8])> = replay.entries.iter().map(|e| (e.sequence, e.payload.as_slice())).collect();
    assert_eq!(got, vec![(1, &b"a"[..]), (2, b"b"), (3, b""), (4, b"d")]);
    assert_eq!(replay.report.records, 4);
    assert_eq!(replay.report.last_sequence, 4);
    assert_eq!(replay.report.tail, None);
    assert!(!replay.report.created);
    assert_eq!(replay.report.bytes, fs::metadata(&path).unwrap().len());
    assert_eq!(log.append(vec![b"e".to_vec()]).unwrap(), vec![5]);
}

#[test]
fn log_id_is_kept_across_reopen_and_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("capacity.log");
    let (log, replay) = Log::open(&path).unwrap();
    let id = replay.report.log_id;
    assert_ne!(id, 0);
    log.append(vec![b"a".to_vec()]).unwrap();
    log.compact(|_, _| false).unwrap();
    drop(log);
    assert_eq!(reopen(&path).1.report.log_id, id);
}

#[test]
fn payload_over_the_limit_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let (log, path) = new_log(&dir);
    let error = log.append(vec![b"ok".to_vec(), vec![0; MAX_PAYLOAD_BYTES + 1]]).unwrap_err();
    assert!(matches!(error, LogError::PayloadTooLarge { len, .. } if len == MAX_PAYLOAD_BYTES + 1), "{error}");
    assert!(error.to_string().contains("capacity.log"));
    assert_eq!(log.append(vec![vec![7; MAX_PAYLOAD_BYTES]]).unwrap(), vec![1]);
    drop(log);
    assert_eq!(reopen(&path).1.entries.len(), 1);
}

#[test]
fn concurrent_appenders_are_all_acknowledged_and_replayed_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (log, path) = new_log(&dir);
    let threads = 16;
    let per_thread = 100;
    let acked: Vec<Vec<(u64, Vec<u8>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                let log = &log;
                scope.spawn(move || {
                    let mut acked = Vec::new();
                    let mut item = 0;
                    while item < per_thread {
                        let batch: Vec<Vec<u8>> =
                            (item..(item + 1 + item % 3).min(per_thread)).map(|item| payload(thread, item)).collect();
                        item += batch.len();
                        let seqs = log.append(batch.clone()).unwrap();
                        assert_eq!(seqs.len(), batch.len());
                        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "a call's sequences are consecutive");
                        acked.extend(seqs.into_iter().zip(batch));
                    }
                    acked
                })
            })
            .collect();
        handles.into_iter().map(|handle| handle.join().unwrap()).collect()
    });
    let mut by_seq = BTreeMap::new();
    for (seq, payload) in acked.into_iter().flatten() {
        assert!(by_seq.insert(seq, payload).is_none(), "sequence {seq} acknowledged twice");
    }
    let total = (threads * per_thread) as u64;
    assert_eq!(by_seq.keys().copied().collect::<Vec<_>>(), (1..=total).collect::<Vec<_>>());
    let metrics = log.metrics();
    assert_eq!(metrics.entries_committed, total);
    assert!(metrics.commits <= total);
    drop(log);

    let (_log, replay) = reopen(&path);
    assert_eq!(replay.entries.len() as u64, total);
    for (entry, (seq, payload)) in replay.entries.iter().zip(&by_seq) {
        assert_eq!((entry.sequence, &entry.payload), (*seq, payload));
    }
}

#[test]
fn async_submit_from_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let (log, path) = new_log(&dir);
    let log = Arc::new(log);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let seqs = runtime.block_on(async {
        let tasks: Vec<_> = (0..64)
            .map(|task| {
                let log = Arc::clone(&log);
                tokio::spawn(async move { log.submit(vec![payload(task, 0), payload(task, 1)]).await })
            })
            .collect();
        let mut seqs = Vec::new();
        for task in tasks {
            seqs.extend(task.await.unwrap().unwrap());
        }
        assert!(log.submit(Vec::new()).await.unwrap().is_empty());
        assert!(matches!(
            log.submit(vec![vec![0; MAX_PAYLOAD_BYTES + 1]]).await,
            Err(LogError::PayloadTooLarge { .. })
        ));
        seqs
    });
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (1..=128).collect::<Vec<_>>());
    drop(log);
    assert_eq!(reopen(&path).1.entries.len(), 128);
}

#[test]
fn submitted_appends_are_written_even_if_the_log_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (log, path) = new_log(&dir);
    let pending: Vec<_> = (0..10).map(|item| log.submit(vec![payload(0, item)])).collect();
    drop(log);
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    for (item, pending) in pending.into_iter().enumerate() {
        assert_eq!(runtime.block_on(pending).unwrap(), vec![item as u64 + 1]);
    }
    assert_eq!(reopen(&path).1.entries.len(), 10);
}

/// `submit_then` callbacks run on the writer, one at a time, in sequence order, each commit's
/// last one marked; a panicking callback is contained; a callback that drops the log (its last
/// owner) does not make the writer wait for itself.
#[test]
fn callbacks_run_in_sequence_order_once_durable() {
    let dir = tempfile::tempdir().unwrap();
    let (log, path) = new_log(&dir);
    let log = Arc::new(log);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..8)
        .map(|thread| {
            let (log, seen) = (Arc::clone(&log), Arc::clone(&seen));
            std::thread::spawn(move || {
                let (done, wait) = mpsc::channel();
                for item in 0..50 {
                    let (seen, done) = (Arc::clone(&seen), done.clone());
                    log.submit_then(
                        vec![payload(thread, item), payload(thread, item + 1000)],
                        Box::new(move |sequences, committed| {
                            let sequences = sequences.unwrap();
                            // durable before the callback: the records are in the file
                            seen.lock().unwrap().push((sequences, committed.last));
                            if item == 7 {
                                panic!("a callback that panics");
                            }
                            done.send(()).unwrap();
                        }),
                    );
                }
                drop(done);
                wait.iter().count()
            })
        })
        .collect();
    let answered: usize = threads.into_iter().map(|thread| thread.join().unwrap()).sum();
    assert_eq!(answered, 8 * 49, "every callback but the panicking ones ran to its end");
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    let order: Vec<u64> = seen.iter().flat_map(|(sequences, _)| sequences.iter().copied()).collect();
    assert_eq!(order, (1..=800).collect::<Vec<_>>(), "callbacks in sequence order, two records each");
    assert!(seen.last().unwrap().1, "the last callback closes its commit");
    let commits = seen.iter().filter(|(_, last)| *last).count() as u64;
    assert!(commits <= log.metrics().commits, "at most one last callback per commit");

    // the log appends after the panics, and a callback may drop the log's last owner
    let (done, wait) = mpsc::channel();
    let owner = Arc::new(Mutex::new(None::<Arc<Log>>));
    *owner.lock().unwrap() = Some(Arc::clone(&log));
    let held = Arc::clone(&owner);
    log.submit_then(
        vec![payload(9, 0)],
        Box::new(move |sequences, _| {
            drop(held.lock().unwrap().take());
            done.send(sequences.unwrap()).unwrap();
        }),
    );
    drop(log);
    assert_eq!(wait.recv_timeout(std::time::Duration::from_secs(10)).unwrap(), vec![801]);
    assert_eq!(reopen(&path).1.entries.len(), 801);
}

/// A refused or empty batch runs its callback at once, on the caller's thread.
#[test]
fn callbacks_of_refused_batches_run_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = new_log(&dir);
    let caller = std::thread::current().id();
    let ran = Arc::new(Mutex::new(Vec::new()));
    for payloads in [Vec::new(), vec![vec![0u8; MAX_PAYLOAD_BYTES + 1]]] {
        let ran = Arc::clone(&ran);
        log.submit_then(
            payloads,
            Box::new(move |result, committed| {
                ran.lock().unwrap().push((result.is_ok(), committed.last, std::thread::current().id() == caller));
            }),
        );
    }
    assert_eq!(*ran.lock().unwrap(), vec![(true, true, true), (false, true, true)]);
    assert_eq!(log.last_sequence(), 0);
}
/// Writes five records and returns the file bytes.
fn five_records(path: &Path) -> Vec<u8> {
    let (log, _) = Log::open(path).unwrap();
    for item in 0..5 {
        log.append(vec![payload(0, item + 10)]).unwrap();
    }
    drop(log);
    fs::read(path).unwrap()
}

#[test]
fn torn_tail_at_every_offset_of_the_last_record_is_dropped_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("capacity.log");
    let data = five_records(&path);
    let offsets = record_offsets(&data);
    let last = offsets[4];
    for cut in last..data.len() {
        fs::write(&path, &data[..cut]).unwrap();
        let (log, replay) = reopen(&path);
        assert_eq!(replay.entries.len(), 4, "cut at {cut}");
        assert_eq!(replay.report.last_sequence, 4);
        let expected = if cut == last {
            None
        } else {
            let reason =
                if cut - last < RECORD_HEADER_LEN { DamageReason::ShortHeader } else { DamageReason::ShortPayload };
            Some(TornTail { offset: last as u64, bytes_dropped: (cut - last) as u64, reason })
        };
        assert_eq!(replay.report.tail, expected, "cut at {cut}");
        assert_eq!(replay.report.bytes, last as u64);
        assert_eq!(fs::metadata(&path).unwrap().len(), last as u64, "file truncated to the last good record");
        assert_eq!(log.append(vec![b"next".to_vec()]).unwrap(), vec![5]);
        drop(log);
        let (_log, replay) = reopen(&path);
        assert_eq!(replay.entries.len(), 5);
        assert_eq!(replay.entries[4].payload, b"next");
        assert_eq!(replay.report.tail, None);
    }
}

#[test]
fn a_flipped_byte_in_the_last_record_is_a_bad_crc_tail() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("capacity.log");
    let data = five_records(&path);
    let last = record_offsets(&data)[4];
    // Every byte of the CRC, the sequence number and the payload.
    for at in last + 4..data.len() {
        let mut bad = data.clone();
        bad[at] ^= 0x20;
        fs::write(&path, &bad).unwrap();
        let (_log, replay) = reopen(&path);
        assert_eq!(replay.entries.len(), 4, "flip at {at}");
        let tail = replay.report.tail.unwrap();
        assert_eq!(tail.offset, last as u64);
        assert_eq!(tail.bytes_dropped, (data.len() - last) as u64);
        assert_eq!(tail.reason, DamageReason::BadCrc, "flip at {at}");
    }
    // The length: longer than the file, or over the limit.
    let mut bad = data.clone();
    bad[last] ^= 0x01;
    fs::write(&path, &bad).unwrap();
    let reason = reopen(&path).1.report.tail.unwrap().reason;
    assert!(matches!(reason, DamageReason::ShortPayload | DamageReason::BadCrc), "{reason}");
    let mut bad = data.clone();
    bad[last + 3] = 0xff;
    fs::write(&path, &bad).unwrap();
    assert_eq!(reopen(&path).1.report.tail.unwrap().reason, DamageReason::BadLength);
}

#[test]
fn a_sequence_not_increasing_ends_the_replay() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("capacity.log");
    let mut data = five_records(&path);
    let good_len = data.len();
    // A well-formed record that repeats sequence 5.
    encode_record(&mut data, 5, b"again");
    fs::write(&path, &data).unwrap();
    let (log, replay) = reopen(&path);
    assert_eq!(replay.entries.len(), 5);
    let tail = replay.report.tail.unwrap();
    assert_eq!((tail.offset, tail.reason), (good_len as u64, DamageReason::SequenceNotIncreasing));
    assert_eq!(log.append(vec![b"x".to_vec()]).unwrap(), vec![6]);
}

#[test]
fn middle_corruption_in_the_last_chunk_truncates_from_there_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("capacity.log");
    let mut data = five_records(&path);
    let second = record_offsets(&data)[1];
    data[second + RECORD_HEADER_LEN] ^= 1;
    fs::write(&path, &data).unwrap();
    let (_log, replay) = reopen(&path);
    assert_eq!(replay.entries.len(), 1, "never applied past the damage");
    assert_eq!(
        replay.report.tail,
        Some(TornTail {
            offset: second as u64,
            bytes_dropped: (data.len() - second) as u64,
            reason: DamageReason::BadCrc
        })
    );
}

#[test]
fn middle_corruption_before_the_last_chunk_refuses_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("capacity.log");
    let (log, _) = Log::open(&path).unwrap();
    log.append(vec![b"first".to_vec(), b"second".to_vec()]).unwrap();
    for _ in 0..5 {
        log.append(vec![vec![9; MAX_PAYLOAD_BYTES]]).unwrap();
    }
    drop(log);
    let mut data = fs::read(&path).unwrap();
    let second = record_offsets(&data)[1];
    data[second + RECORD_HEADER_LEN] ^= 1;
    fs::write(&path, &data).unwrap();
    let error = Log::open(&path).unwrap_err();
    match &error {
        LogError::Corrupt { offset, reason, bytes_after, .. } => {
            assert_eq!((*offset, *reason), (second as u64, DamageReason::BadCrc));
            assert_eq!(*bytes_after, (data.len() - second) as u64);
        }
        other => panic!("expected Corrupt, got {other}"),
    }
    assert!(error.to_string().contains("capacity.log"), "{error}");
    assert_eq!(fs::read(&path).unwrap(), data, "the file is left untouched");
}

#[test]
fn a_bad_header_is_refused_and_the_file_is_left_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("capacity.log");
    let data = five_records(&path);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("short", data[..HEADER_LEN - 1].to_vec()),
        ("magic", {
            let mut bad = data.clone();
            bad[0] ^= 1;
            bad
        }),
        ("crc", {
            let mut bad = data.clone();
            bad[20] ^= 1;
            bad
        }),
        ("version", {
            let mut bad = data.clone();
            bad[8..12].copy_from_slice(&2u32.to_le_bytes());
            let crc = crc32fast::hash(&bad[..32]);
            bad[32..36].copy_from_slice(&crc.to_le_bytes());
            bad
        }),
    ];
    for (name, bad) in cases {
        fs::write(&path, &bad).unwrap();
        let error = Log::open(&path).unwrap_err();
        match name {
            "version" => assert!(matches!(error, LogError::UnsupportedVersion { found: 2, .. }), "{error}"),
            _ => assert!(matches!(error, LogError::BadHeader { .. }), "{name}: {error}"),
        }
        assert!(error.to_string().contains("capacity.log"), "{error}");
        assert_eq!(fs::read(&path).unwrap(), bad, "{name}: file untouched");
    }
}

#[test]
fn compaction_keeps_what_it_should_survives_reopen_and_continues_the_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let (log, path) = new_log(&dir);
    for item in 0..10 {
        log.append(vec![payload(0, item)]).unwrap();
    }
    let report = log.compact(|seq, _| seq % 2 == 0).unwrap();
    assert_eq!((report.records_before, report.records_kept, report.last_sequence), (10, 5, 10));
    assert_eq!(report.bytes_after, fs::metadata(&path).unwrap().len());
    assert!(report.bytes_after < report.bytes_before);
    assert!(!tmp_path(&path).exists());
    assert_eq!(log.append(vec![b"eleven".to_vec()]).unwrap(), vec![11]);
    let metrics = log.metrics();
    assert_eq!((metrics.records, metrics.compactions, metrics.last_sequence), (6, 1, 11));
    assert_eq!(metrics.bytes, fs::metadata(&path).unwrap().len());
    drop(log);

    let (log, replay) = reopen(&path);
    let seqs: Vec<u64> = replay.entries.iter().map(|e| e.sequence).collect();
    assert_eq!(seqs, vec![2, 4, 6, 8, 10, 11]);
    for entry in &replay.entries[..5] {
        assert_eq!(entry.payload, payload(0, entry.sequence as usize - 1));
    }
    assert_eq!(log.truncate_before(8).unwrap().records_kept, 3);
    assert_eq!(log.compact(|_, _| false).unwrap().records_kept, 0);
    drop(log);

    // An empty compacted log still knows its last sequence.
    let (log, replay) = reopen(&path);
    assert!(replay.entries.is_empty());
    assert_eq!(replay.report.last_sequence, 11);
    assert_eq!(log.last_sequence(), 11);
    assert_eq!(log.append(vec![b"twelve".to_vec()]).unwrap(), vec![12]);
    drop(log);
    assert_eq!(reopen(&path).1.entries.iter().map(|e| e.sequence).collect::<Vec<_>>(), vec![12]);
}

#[test]
fn appends_during_compaction_are_not_lost() {
    let dir = tempfile::tempdir().unwrap();
    let (log, path) = new_log(&dir);
    let acked: Vec<u64> = std::thread::scope(|scope| {
        let appenders: Vec<_> = (0..4)
            .map(|thread| {
                let log = &log;
                scope.spawn(move || {
                    (0..150).flat_map(|item| log.append(vec![payload(thread, item)]).unwrap()).collect::<Vec<_>>()
                })
            })
            .collect();
        let compactor = scope.spawn(|| {
            for _ in 0..20 {
                log.compact(|_, _| true).unwrap();
            }
        });
        compactor.join().unwrap();
        appenders.into_iter().flat_map(|handle| handle.join().unwrap()).collect()
    });
    assert_eq!(acked.len(), 600);
    drop(log);
    let (_log, replay) = reopen(&path);
    let mut acked = acked;
    acked.sort_unstable();
    assert_eq!(replay.entries.iter().map(|e| e.sequence).collect::<Vec<_>>(), acked);
}

#[test]
fn a_stale_compaction_file_is_removed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("capacity.log");
    five_records(&path);
    fs::write(tmp_path(&path), b"half a compaction").unwrap();
    let (_log, replay) = reopen(&path);
    assert_eq!(replay.entries.len(), 5);
    assert!(!tmp_path(&path).exists());
}

#[test]
fn an_io_error_fails_the_whole_batch_and_the_log_until_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let (log, path) = new_log(&dir);
    log.append(vec![b"before".to_vec()]).unwrap();
    log.fail_next_sync();
    let error = log.append(vec![b"lost".to_vec(), b"lost too".to_vec()]).unwrap_err();
    assert!(matches!(&error, LogError::Io { op: "fsync", .. }), "{error}");
    assert!(error.to_string().contains("capacity.log"), "{error}");
    assert!(log.metrics().failed);
    let error = log.append(vec![b"after".to_vec()]).unwrap_err();
    assert!(matches!(error, LogError::Failed { .. }), "{error}");
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    assert!(matches!(runtime.block_on(log.submit(vec![b"after".to_vec()])), Err(LogError::Failed { .. })));
    assert!(matches!(log.compact(|_, _| true), Err(LogError::Failed { .. })));
    drop(log);

    // The written but unacknowledged records may be on disk; the log is usable again.
    let (log, replay) = reopen(&path);
    assert_eq!(replay.entries[0].payload, b"before");
    let next = log.append(vec![b"again".to_vec()]).unwrap()[0];
    assert_eq!(next, replay.report.last_sequence + 1);
}

#[test]
fn a_batch_larger_than_a_chunk_is_synced_in_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let (log, path) = new_log(&dir);
    let batch: Vec<Vec<u8>> = (0..10).map(|item| vec![item as u8; MAX_PAYLOAD_BYTES / 2]).collect();
    assert_eq!(log.append(batch.clone()).unwrap(), (1..=10).collect::<Vec<_>>());
    let metrics = log.metrics();
    // Seven half-limit records fit in a chunk, the other three make a second one.
    assert_eq!((metrics.commits, metrics.last_commit_entries), (2, 3), "{metrics:?}");
    assert_eq!(metrics.entries_committed, 10);
    drop(log);
    let replay = reopen(&path).1;
    assert_eq!(replay.entries.iter().map(|e| e.payload.clone()).collect::<Vec<_>>(), batch);
}
