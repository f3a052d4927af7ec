//! Hostile input over HTTP: megabyte query strings, broken percent-encoding, repeated and empty
//! parameters, NaN / inf / 1e308, 100,000 commas, deeply nested JSON, wrong content types,
//! oversized bodies, path traversal in `?snapshot=`, odd paths and methods. Every answer must
//! be a 4xx with the API's error shape (an `OperationOutcome` on the FHIR routes), never a 5xx,
//! every answer carries the security headers, and the service answers normally afterwards.
//! Slow clients (header and body read timeouts) run against the real server.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ror_search::serve::{Metrics, ServeConfig, SnapshotHandle, load_and_warm};

use crate::common::{Answer, build_subset, call, temp_dir};

const TOKEN: &str = "hostile-admin-token-0123456789";

fn index() -> &'static (tempfile::TempDir, PathBuf) {
    static INDEX: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    INDEX.get_or_init(|| {
        let dir = temp_dir();
        let snapshot = dir.path().join("index/hostile");
        std::fs::create_dir_all(snapshot.parent().unwrap()).unwrap();
        build_subset(&["45"], &snapshot, "2026-11-10T00:00:00Z", &|_, line| line);
        (dir, snapshot)
    })
}

/// A router over the snapshot, in an index directory of its own (its own capacity log).
fn router() -> (axum::Router, tempfile::TempDir) {
    let (_, snapshot) = index();
    let own = temp_dir();
    std::os::unix::fs::symlink(snapshot, own.path().join("hostile")).unwrap();
    let config = ServeConfig {
        index_dir: own.path().to_owned(),
        admin_token: Some(TOKEN.into()),
        access_file: Some(crate::common::anonymous_sees_everything()),
        poll_interval_secs: 0,
        ..ServeConfig::default()
    };
    let handle = Arc::new(SnapshotHandle::new(config.index_dir.clone(), Arc::new(Metrics::default())));
    let capacity = ror_search::serve::capacity::CapacityService::open(&config.index_dir).unwrap();
    assert!(handle.attach_capacity(Arc::new(capacity)));
    handle.install(load_and_warm(&own.path().join("hostile")).unwrap());
    (ror_search::http::router(handle, Arc::new(config)), own)
}

const SECURITY_HEADERS: [(&str, &str); 3] =
    [("x-content-type-options", "nosniff"), ("x-frame-options", "DENY"), ("referrer-policy", "no-referrer")];

/// A refusal in the API's shape: a 4xx, JSON with a code (or an `OperationOutcome`), the
/// security headers.
fn assert_refused(what: &str, answer: &Answer) {
    let status = answer.status.as_u16();
    assert!((400..500).contains(&status), "{what}: {status} {}", answer.text());
    let body: serde_json::Value = serde_json::from_slice(&answer.body)
        .unwrap_or_else(|error| panic!("{what}: not JSON ({error}): {:?}", answer.text()));
    let shaped = body["error"]["code"].is_string() || body["resourceType"] == "OperationOutcome";
    assert!(shaped, "{what}: {body}");
    assert_security_headers(what, answer);
}

fn assert_security_headers(what: &str, answer: &Answer) {
    for (name, value) in SECURITY_HEADERS {
        assert_eq!(answer.headers.get(name).and_then(|v| v.to_str().ok()), Some(value), "{what}: {name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_query_strings_are_refused_with_the_error_shape() {
    let (router, _index) = router();
    // `http::Uri` holds at most 64 KiB: longer request lines are the real server's (below)
    let megabyte = "a".repeat(60_000);
    // a URI holds 64 KiB: 100,000 commas go to the parser itself below
    let commas = ",".repeat(30_000);
    let codes = vec!["500"; 15_000].join(",");
    for value in [",".repeat(100_000), vec!["500"; 100_000].join(",")] {
        let error = ror_search::api::search_request([("category", value.as_str())]).unwrap_err();
        assert_eq!(error.parameter, "category");
    }
    let queries: Vec<String> = vec![
        format!("q={megabyte}"),
        format!("{megabyte}=1"),
        format!("lat=45&lon=2&radius_km={megabyte}"),
        "q=%FF%FE%FD".into(),
        "q=%".into(),
        "q=%G1%zz".into(),
        "lat=%00&lon=%00".into(),
        "lat=45&lat=46&lon=2".into(),
        "lat=&lon=".into(),
        "&&&=&=x".into(),
        "lat=NaN&lon=2".into(),
        "lat=45&lon=inf".into(),
        "lat=45&lon=-Infinity".into(),
        "lat=45&lon=2&radius_km=1e308".into(),
        "max_price=1e308".into(),
        "age=1e308".into(),
        "age=NaN".into(),
        "limit=1e308".into(),
        "limit=-1".into(),
        "offset=99999999999999999999999".into(),
        "gir=2.5".into(),
        format!("category={commas}"),
        format!("category={codes}"),
        "bbox=1,2,3".into(),
        "bbox=NaN,NaN,NaN,NaN".into(),
        "lat=91&lon=0".into(),
        "now=9999999999999999999".into(),
        "now=0000-00-00".into(),
        "sort=distance".into(),
        "commune=../../etc/passwd".into(),
        "explain=%00".into(),
        "facets=maybe".into(),
    ];
    for query in &queries {
        let uri = format!("/v1/offers?{query}");
        let what = &uri[..uri.len().min(80)];
        let answer = call(&router, "GET", &uri, &[], Vec::new()).await;
        assert_refused(what, &answer);
        if query.len() > 1000 {
            assert!(answer.body.len() < 4096, "{what}: the error does not echo the megabyte back");
        }
    }
    for (uri, expected) in [
        ("/v1/crisis?lat=NaN&lon=2", 400),
        ("/v1/crisis?limit=1e308", 400),
        ("/v1/communes?q=%FF", 400),
        ("/v1/communes?q=Orl%C3%A9ans", 200),
        ("/v1/communes?limit=inf&q=a", 400),
        ("/v1/quality?rule=,,,", 400),
    ] {
        let headers = [("authorization", format!("Bearer {TOKEN}"))];
        let headers: Vec<(&str, &str)> = headers.iter().map(|(name, value)| (*name, value.as_str())).collect();
        let answer = call(&router, "GET", uri, &headers, Vec::new()).await;
        if expected == 200 {
            assert_eq!(answer.status.as_u16(), 200, "{uri}: {}", answer.text());
            assert_security_headers(uri, &answer);
        } else {
            assert_refused(uri, &answer);
        }
    }
    let answer = call(&router, "GET", "/v1/offers?lat=47.9&lon=1.9&radius_km=20", &[], Vec::new()).await;
    assert_eq!(answer.status.as_u16(), 200, "still answering");
    assert_security_headers("a normal search", &answer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bodies_paths_and_methods_are_refused_with_the_error_shape() {
    let (router, _index) = router();
    let admin = format!("Bearer {TOKEN}");
    let fhir = [("authorization", admin.as_str()), ("content-type", "application/fhir+json")];
    let patch_uri = "/fhir/Location?identifier=1450000021/ZS000";
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let nested_object =
        format!("{{\"resourceType\":\"Parameters\",\"parameter\":{}1{}}}", "[".repeat(5000), "]".repeat(5000));
    for (what, body) in [
        ("nested arrays", nested.clone().into_bytes()),
        ("nested parameters", nested_object.into_bytes()),
        ("not JSON", b"\xff\xfe\x00garbage".to_vec()),
        ("empty", Vec::new()),
        ("a number", b"1e99999".to_vec()),
        ("a string of NULs", vec![0u8; 1000]),
    ] {
        let answer = call(&router, "PATCH", patch_uri, &fhir, body).await;
        assert_refused(what, &answer);
    }
    for content_type in
        ["text/plain", "application/xml", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded"]
    {
        let headers = [("authorization", admin.as_str()), ("content-type", content_type)];
        let answer = call(&router, "PATCH", patch_uri, &headers, b"{\"resourceType\":\"Parameters\"}".to_vec()).await;
        assert_eq!(answer.status.as_u16(), 415, "{content_type}");
        assert_refused(content_type, &answer);
    }
    let batch = [("authorization", admin.as_str()), ("content-type", "application/x-ndjson")];
    let answer = call(&router, "POST", "/v1/capacity", &batch, format!("{nested}\n{{\"a\":1}}\n").into_bytes()).await;
    assert_eq!(answer.status.as_u16(), 200, "a batch answers line by line: {}", answer.text());
    assert!(answer.text().lines().all(|line| line.contains("\"rejected\"")), "{}", answer.text());
    let oversized = vec![b'{'; 70 * 1024];
    assert_refused("an oversized PATCH", &call(&router, "PATCH", patch_uri, &fhir, oversized).await);
    let huge_batch = vec![b'\n'; 17 * 1024 * 1024];
    assert_refused("an oversized batch", &call(&router, "POST", "/v1/capacity", &batch, huge_batch).await);
    let admin_only = [("authorization", admin.as_str())];
    for snapshot in [
        "..",
        "../..",
        "../../etc",
        "%2e%2e%2f%2e%2e",
        "/etc/passwd",
        "a/../b",
        ".hidden",
        "",
        "%00",
        "hostile/../hostile",
    ] {
        let uri = format!("/admin/reload?snapshot={snapshot}");
        let answer = call(&router, "POST", &uri, &admin_only, Vec::new()).await;
        assert_refused(&uri, &answer);
    }
    for (method, uri) in [
        ("GET", "/v1/offers/%00"),
        ("GET", "/v1/offers/..%2F..%2Fetc%2Fpasswd"),
        ("GET", "/v1/eg/%2e%2e"),
        ("GET", "/v1/eg/x?unexpected=1"),
        ("GET", "/nothing/here"),
        ("GET", "/v1/offers/%FF"),
        ("TRACE", "/v1/offers"),
        ("DELETE", "/fhir/Location/x"),
        ("PUT", "/v1/capacity"),
        ("GET", "/fhir/Location/x"),
    ] {
        let answer = call(&router, method, uri, &[], Vec::new()).await;
        assert_refused(&format!("{method} {uri}"), &answer);
    }
    let answer = call(&router, "GET", "/readyz", &[], Vec::new()).await;
    assert_eq!(answer.status.as_u16(), 200, "still answering");
    assert_security_headers("/readyz", &answer);
}

struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &std::path::Path) -> Server {
    let (_, snapshot) = index();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log = dir.join("server.log");
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_ror-search"))
        .args(["serve", "--index"])
        .arg(snapshot)
        .args(["--poll-interval-secs", "0", "--addr", &format!("127.0.0.1:{port}")])
        .args(["--header-read-timeout-ms", "500", "--body-read-timeout-ms", "500", "--request-timeout-ms", "5000"])
        .args(["--admin-token", TOKEN])
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let server = Server { child, port, log };
    let deadline = Instant::now() + Duration::from_secs(60);
    while raw(server.port, b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").0 != 200 {
        assert!(Instant::now() < deadline, "not ready: {}", std::fs::read_to_string(&server.log).unwrap_or_default());
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

/// Sends raw bytes, reads the answer until the server closes: (status, whole text).
fn raw(port: u16, request: &[u8]) -> (u16, String) {
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return (0, String::new()) };
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    if stream.write_all(request).is_err() {
        return (0, String::new());
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    (status, text)
}

#[test]
fn slow_clients_are_cut_off_and_the_server_keeps_answering() {
    let dir = temp_dir();
    let server = start(dir.path());
    // headers that never end: the connection is closed once the header read timeout passes
    let mut stalled = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stalled.write_all(b"GET /v1/offers?lat=47.9&lon=1.9 HTTP/1.1\r\nHost: x\r\n").unwrap();
    stalled.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = stalled.read_to_end(&mut rest);
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(10), "a client stalling its headers is cut off ({waited:?})");
    // a body that never completes: 408 with the error shape
    let mut slow_body = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let head = format!(
        "POST /v1/capacity HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/x-ndjson\r\nContent-Length: 1000\r\n\r\n{{\"loc"
    );
    slow_body.write_all(head.as_bytes()).unwrap();
    slow_body.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut answer = vec![0u8; 4096];
    let read = slow_body.read(&mut answer).unwrap();
    let text = String::from_utf8_lossy(&answer[..read]).into_owned();
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"request_timeout\""), "{text}");
    // a 60 KB query string reaches the API's parser; a megabyte one is over what an HTTP URI
    // holds (64 KiB): hyper's bare 414, and the server lives on
    let long = format!("GET /v1/offers?q={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "a".repeat(60_000));
    let (status, text) = raw(server.port, long.as_bytes());
    assert_eq!(status, 400, "{}", &text[..text.len().min(300)]);
    assert!(text.contains("\"bad_parameter\""));
    let megabyte = format!("GET /v1/offers?q={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "a".repeat(1 << 20));
    let (status, text) = raw(server.port, megabyte.as_bytes());
    assert_eq!(status, 414, "{}", &text[..text.len().min(300)]);
    // raw bytes that are not UTF-8 in the request line: hyper's 400, the server lives on
    let (status, _) = raw(server.port, b"GET /v1/offers?q=\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!((400..500).contains(&status) || status == 0, "{status}");
    let (status, text) =
        raw(server.port, b"GET /v1/offers?lat=47.9&lon=1.9&limit=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(status, 200, "still answering: {text}");
    assert!(text.to_ascii_lowercase().contains("x-content-type-options: nosniff"));
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(!log.contains("panicked"), "{log}");
    drop(server);
}
