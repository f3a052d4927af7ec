//! The simulated ROR server (`ror_sim.rs`) behaves as its clients will need: the sample feed
//! comes back whole by paging and by `$export` (both file formats), a change bumps its parent
//! and `_lastUpdated` finds both, `Range` resumes a file byte for byte, each fault shows once
//! and is gone, the access rules (token, `Ror-*` headers) hold, and the search cap truncates.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::common::{crate_path, temp_dir};
use crate::ror_sim::{Fault, FaultKind, ROR_HEADERS, RecordedRequest, RorSim, SimConfig, SimTls, TOKEN_PATH};

// ---------------------------------------------------------------------------------------------
// Helpers

/// The sample feed in one simulator, shared by the tests that only read (a search cap above its
/// 42,820 HealthcareServices so that paging can walk them all).
fn sample_sim() -> &'static RorSim {
    static SIM: OnceLock<RorSim> = OnceLock::new();
    SIM.get_or_init(|| {
        let sim = RorSim::start(SimConfig { search_cap: 100_000, ..SimConfig::default() });
        let loaded = sim.load_feed(&[crate_path("data-samples/ror-feed")]);
        assert_eq!(loaded, sim.count("HealthcareService") + sim.count("Organization") + sim.count("Location"));
        assert!(sim.count("HealthcareService") > 40_000, "{}", sim.count("HealthcareService"));
        sim
    })
}

/// An EJ, two EGs under it, two Locations, three HealthcareServices.
fn small_sim(config: SimConfig) -> RorSim {
    let sim = RorSim::start(config);
    sim.upsert(organization("ej-1", None));
    sim.upsert(organization("eg-1", Some("ej-1")));
    sim.upsert(organization("eg-2", Some("ej-1")));
    sim.upsert(location("loc-1"));
    sim.upsert(location("loc-2"));
    sim.upsert(service("hs-1", "eg-1", &["loc-1"]));
    sim.upsert(service("hs-2", "eg-1", &["loc-2"]));
    sim.upsert(service("hs-3", "eg-2", &["loc-1"]));
    sim
}

fn organization(id: &str, part_of: Option<&str>) -> Value {
    let mut organization = json!({
        "resourceType": "Organization",
        "id": id,
        "identifier": [{"system": "urn:oid:1.2.250.1.71.4.2.2", "value": format!("1{id}")}],
        "name": format!("Organization {id}"),
    });
    if let Some(parent) = part_of {
        organization["partOf"] = json!({"reference": format!("Organization/{parent}")});
    }
    organization
}

fn location(id: &str) -> Value {
    json!({"resourceType": "Location", "id": id, "name": format!("Location {id}"), "status": "active"})
}

fn service(id: &str, provider: &str, locations: &[&str]) -> Value {
    let locations: Vec<Value> =
        locations.iter().map(|location| json!({"reference": format!("Location/{location}")})).collect();
    json!({
        "resourceType": "HealthcareService",
        "id": id,
        "identifier": [{"system": "https://ror.example/offer", "value": format!("84/{id}")}],
        "providedBy": {"reference": format!("Organization/{provider}")},
        "location": locations,
        "name": format!("Offer {id}"),
    })
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(60)))
        .http_status_as_error(false)
        .build()
        .into()
}

/// An answer read whole.
struct Answer {
    status: u16,
    headers: ureq::http::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn read(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
        let mut response = response.expect("an answer");
        let body = response.body_mut().with_config().limit(1 << 30).read_to_vec().expect("a whole body");
        Answer { status: response.status().as_u16(), headers: response.headers().clone(), body }
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Asserts an OperationOutcome of that status whose diagnostics contain `expected`.
    fn assert_outcome(&self, status: u16, expected: &str) {
        assert_eq!(self.status, status, "{}", String::from_utf8_lossy(&self.body));
        assert_eq!(self.header("content-type"), Some("application/fhir+json"));
        let outcome = self.json();
        assert_eq!(outcome["resourceType"], "OperationOutcome");
        let diagnostics = outcome["issue"][0]["diagnostics"].as_str().unwrap_or_default();
        assert!(diagnostics.contains(expected), "{diagnostics:?} does not contain {expected:?}");
    }
}

/// A token from the token endpoint (form-encoded credentials).
fn token(sim: &RorSim) -> String {
    let form = [("grant_type", "client_credentials"), ("client_id", "ror-search"), ("client_secret", "secret")];
    let answer = Answer::read(agent().post(sim.token_url()).send_form(form));
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
    let body = answer.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], sim.config().token_lifetime_secs);
    body["access_token"].as_str().expect("an access token").to_owned()
}

/// A ROR client: a token and the four headers on every request.
struct Client {
    agent: ureq::Agent,
    base: String,
    token: String,
}

impl Client {
    fn new(sim: &RorSim) -> Client {
        Client { agent: agent(), base: sim.base_url(), token: token(sim) }
    }

    /// GET of a URL, or of a path under the FHIR base when it starts with '/'.
    fn get(&self, url: &str) -> Answer {
        self.get_with(url, &[])
    }

    fn get_with(&self, url: &str, extra: &[(&str, &str)]) -> Answer {
        let url = if url.starts_with('/') { format!("{}{url}", self.base) } else { url.to_owned() };
        let mut request = self.agent.get(&url).header("Authorization", &format!("Bearer {}", self.token));
        for (name, value) in ROR_HEADERS.iter().chain(extra) {
            request = request.header(*name, *value);
        }
        Answer::read(request.call())
    }

    /// A search answered 200, as JSON.
    fn search(&self, path: &str) -> Value {
        let answer = self.get(path);
        assert_eq!(answer.status, 200, "{path}: {}", String::from_utf8_lossy(&answer.body));
        assert_eq!(answer.header("content-type"), Some("application/fhir+json"));
        let bundle = answer.json();
        assert_eq!(bundle["resourceType"], "Bundle");
        assert_eq!(bundle["type"], "searchset");
        bundle
    }

    /// Kicks off an `$export` and polls until the manifest, checking the 202s on the way.
    fn export(&self, sim: &RorSim, query: &str) -> Value {
        let kickoff = self.get_with(&format!("/$export{query}"), &[("Prefer", "respond-async")]);
        assert_eq!(kickoff.status, 202, "{}", String::from_utf8_lossy(&kickoff.body));
        let status_url = kickoff.header("content-location").expect("Content-Location").to_owned();
        assert!(status_url.starts_with(&format!("{}/$export-poll-status?_jobId=", sim.base_url())), "{status_url}");
        for _ in 0..sim.config().export_polls_before_ready {
            let poll = self.get(&status_url);
            assert_eq!(poll.status, 202);
            assert_eq!(poll.header("retry-after"), Some(&*sim.config().export_retry_after_secs.to_string()));
            assert!(poll.header("x-progress").is_some());
        }
        let poll = self.get(&status_url);
        assert_eq!(poll.status, 200, "{}", String::from_utf8_lossy(&poll.body));
        let manifest = poll.json();
        assert_eq!(manifest["requiresAccessToken"], true);
        assert_eq!(manifest["error"], json!([]));
        manifest
    }
}

/// "Type/id" of the entries of a Bundle in that search mode (an empty Bundle has no `entry`).
fn entries(bundle: &Value, mode: &str) -> Vec<String> {
    let Some(entries) = bundle.get("entry") else { return Vec::new() };
    entries
        .as_array()
        .expect("entries")
        .iter()
        .filter(|entry| entry["search"]["mode"] == mode)
        .map(|entry| {
            format!(
                "{}/{}",
                entry["resource"]["resourceType"].as_str().unwrap(),
                entry["resource"]["id"].as_str().unwrap()
            )
        })
        .collect()
}

fn next_link(bundle: &Value) -> Option<String> {
    let links = bundle["link"].as_array()?;
    let next = links.iter().find(|link| link["relation"] == "next")?;
    Some(next["url"].as_str()?.to_owned())
}

/// `meta.lastUpdated` as Unix milliseconds.
fn unix_ms(stamp: &str) -> i64 {
    let at = time::OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|error| panic!("{stamp}: {error}"));
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

fn last_updated(resource: &Value) -> String {
    resource["meta"]["lastUpdated"].as_str().expect("meta.lastUpdated").to_owned()
}

/// Sends a GET on a fresh connection (the headers of a ROR client) and reads until the server
/// closes it: the raw bytes received.
fn raw_get(url: &str, token: &str) -> Vec<u8> {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (address, path) = rest.split_at(rest.find('/').expect("a path"));
    let mut stream = TcpStream::connect(address).expect("a connection");
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n");
    for (name, value) in ROR_HEADERS {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut received = Vec::new();
    let mut buffer = [0; 65_536];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => received.extend_from_slice(&buffer[..read]),
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(error) => panic!("{url}: {error}"),
        }
    }
    received
}

/// The status, lower-cased headers and body of raw HTTP/1.1 response bytes.
fn split_response(bytes: &[u8]) -> (u16, BTreeMap<String, String>, Vec<u8>) {
    let end = bytes.windows(4).position(|window| window == b"\r\n\r\n").expect("a response head");
    let head = String::from_utf8_lossy(&bytes[..end]);
    let mut lines = head.split("\r\n");
    let status =
        lines.next().and_then(|line| line.split(' ').nth(1)).and_then(|code| code.parse().ok()).expect("a status");
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    (status, headers, bytes[end + 4..].to_vec())
}

/// The type and id of a resource (the rest is skipped, not parsed into a tree).
#[derive(Deserialize, Debug, PartialEq, Eq, Hash, Clone, PartialOrd, Ord)]
struct TypeAndId {
    #[serde(rename = "resourceType")]
    resource_type: String,
    id: String,
}

#[derive(Deserialize)]
struct CollectionBundle {
    #[serde(rename = "resourceType")]
    resource_type: String,
    #[serde(rename = "type")]
    bundle_type: String,
    entry: Vec<CollectionEntry>,
}

#[derive(Deserialize)]
struct CollectionEntry {
    resource: TypeAndId,
}

/// Every resource of every output file of a manifest, checking each file's type and count.
fn export_contents(client: &Client, manifest: &Value, ndjson: bool) -> Vec<TypeAndId> {
    let mut resources = Vec::new();
    for output in manifest["output"].as_array().expect("output") {
        let answer = client.get(output["url"].as_str().expect("a file URL"));
        assert_eq!(answer.status, 200);
        assert_eq!(answer.header("accept-ranges"), Some("bytes"));
        assert_eq!(answer.header("content-length"), Some(&*answer.body.len().to_string()));
        let in_file: Vec<TypeAndId> = if ndjson {
            assert_eq!(answer.header("content-type"), Some("application/fhir+ndjson"));
            assert_eq!(answer.body.last(), Some(&b'\n'));
            answer.body.lines().map(|line| serde_json::from_str(&line.unwrap()).expect("an NDJSON line")).collect()
        } else {
            assert_eq!(answer.header("content-type"), Some("application/fhir+json"));
            let bundle: CollectionBundle = serde_json::from_slice(&answer.body).expect("a Bundle");
            assert_eq!((bundle.resource_type.as_str(), bundle.bundle_type.as_str()), ("Bundle", "collection"));
            bundle.entry.into_iter().map(|entry| entry.resource).collect()
        };
        assert_eq!(in_file.len() as u64, output["count"].as_u64().unwrap());
        assert!(in_file.iter().all(|resource| resource.resource_type == output["type"].as_str().unwrap()));
        resources.extend(in_file);
    }
    resources
}

/// Every resource the simulator holds, sorted.
fn held(sim: &RorSim) -> Vec<TypeAndId> {
    let mut all = Vec::new();
    for resource_type in ["HealthcareService", "Organization", "Location", "PractitionerRole", "Practitioner"] {
        all.extend(
            sim.ids(resource_type).into_iter().map(|id| TypeAndId { resource_type: resource_type.to_owned(), id }),
        );
    }
    all.sort();
    all
}

// ---------------------------------------------------------------------------------------------
// The sample feed, whole

#[test]
fn paging_walks_every_sample_healthcare_service_once_in_order() {
    let sim = sample_sim();
    let client = Client::new(sim);
    let default_page = client.search("/HealthcareService");
    assert_eq!(default_page["entry"].as_array().unwrap().len(), 200, "RG_RECH_52: 200 a page by default");
    let mut seen = Vec::new();
    let mut last_key = (i64::MIN, String::new());
    let mut next = Some("/HealthcareService?_count=50".to_owned());
    while let Some(url) = next {
        let page = client.search(&url);
        assert_eq!(page["total"].as_u64(), Some(sim.count("HealthcareService") as u64));
        let resources = page["entry"].as_array().unwrap();
        assert!(resources.len() <= 50);
        for entry in resources {
            assert_eq!(entry["search"]["mode"], "match");
            let resource = &entry["resource"];
            let id = resource["id"].as_str().unwrap().to_owned();
            assert_eq!(entry["fullUrl"], format!("{}/HealthcareService/{id}", sim.base_url()));
            let key = (unix_ms(&last_updated(resource)), id.clone());
            assert!(key > last_key, "{key:?} after {last_key:?}: not in (lastUpdated, id) order");
            last_key = key;
            seen.push(id);
        }
        next = next_link(&page);
        if let Some(next) = &next {
            assert!(next.starts_with(&sim.base_url()), "{next}");
            assert!(next.contains("_getpages="), "{next}");
        }
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a HealthcareService came twice");
    let mut seen_sorted = seen.clone();
    seen_sorted.sort();
    assert_eq!(seen_sorted, sim.ids("HealthcareService"));
}

#[test]
fn export_files_of_the_sample_add_up_to_every_loaded_resource() {
    let sim = sample_sim();
    let client = Client::new(sim);
    // The national query of the doc; the ROR answers the complete associated set anyway.
    let manifest = client.export(sim, "?_type=HealthcareService&includeAssociatedData=_myCompleteExtract");
    assert!(unix_ms(manifest["transactionTime"].as_str().unwrap()) <= sim.clock_ms());
    assert!(
        manifest["request"]
            .as_str()
            .unwrap()
            .ends_with("/$export?_type=HealthcareService&includeAssociatedData=_myCompleteExtract")
    );
    let outputs = manifest["output"].as_array().unwrap();
    assert!(outputs.iter().all(|output| output["count"].as_u64().unwrap() <= 500));
    let mut exported = export_contents(&client, &manifest, false);
    exported.sort();
    assert_eq!(exported, held(sim));
}

#[test]
fn range_resumes_an_export_file_byte_for_byte() {
    let sim = sample_sim();
    let client = Client::new(sim);
    let manifest = client.export(sim, "");
    let url = manifest["output"][1]["url"].as_str().unwrap().to_owned();
    let whole = client.get(&url);
    assert_eq!(whole.status, 200);
    let length = whole.body.len();

    let from = length / 3;
    let rest = client.get_with(&url, &[("Range", &format!("bytes={from}-"))]);
    assert_eq!(rest.status, 206);
    assert_eq!(rest.header("content-range"), Some(&*format!("bytes {from}-{}/{length}", length - 1)));
    assert_eq!(rest.body, whole.body[from..]);
    let middle = client.get_with(&url, &[("Range", "bytes=10-19")]);
    assert_eq!((middle.status, &middle.body[..]), (206, &whole.body[10..20]));
    let beyond = client.get_with(&url, &[("Range", &format!("bytes={length}-"))]);
    assert_eq!(beyond.status, 416);
    assert_eq!(beyond.header("content-range"), Some(&*format!("bytes */{length}")));
    client.get_with(&url, &[("Range", "lines=1-")]).assert_outcome(400, "Range");

    // A connection broken mid-body, resumed from the bytes received.
    let job = url.rsplit('/').nth(1).unwrap().to_owned();
    sim.inject(Fault::new(format!("$export-file/{job}/1"), FaultKind::DropMidBody));
    let (status, headers, received) = split_response(&raw_get(&url, &client.token));
    assert_eq!(status, 200);
    assert_eq!(headers["content-length"], length.to_string());
    assert!(!received.is_empty() && received.len() < length, "{} of {length} bytes", received.len());
    let resumed = client.get_with(&url, &[("Range", &format!("bytes={}-", received.len()))]);
    assert_eq!(resumed.status, 206);
    assert_eq!([received, resumed.body].concat(), whole.body);
    let ranges: Vec<(String, Option<String>)> = sim
        .requests()
        .into_iter()
        .filter(|request| request.path.contains(&format!("{job}/1")))
        .map(|request| (request.method, request.range))
        .collect();
    assert_eq!(ranges.len(), 7);
    assert!(ranges.contains(&("GET".to_owned(), Some("bytes=10-19".to_owned()))));
}

#[test]
fn ndjson_export_files_add_up_to_every_loaded_resource() {
    // The first 700 resources of each sample file, loaded from plain NDJSON.
    let dir = temp_dir();
    let mut files = Vec::new();
    for name in ["HealthcareService", "Location", "Organization"] {
        let sample = std::fs::File::open(crate_path(&format!("data-samples/ror-feed/{name}.ndjson.gz"))).unwrap();
        let lines = BufReader::new(flate2::read::MultiGzDecoder::new(sample)).lines().take(700);
        let text: String = lines.map(|line| line.unwrap() + "\n").collect();
        let path = dir.path().join(format!("{name}.ndjson"));
        std::fs::write(&path, text).unwrap();
        files.push(path);
    }
    let sim = RorSim::start(SimConfig { export_ndjson: true, export_batch_size: 300, ..SimConfig::default() });
    assert_eq!(sim.load_feed(&files), 2_100);
    let client = Client::new(&sim);
    client.get("/$export?_outputFormat=application/fhir%2Bjson").assert_outcome(400, "_outputFormat");
    let manifest = client.export(&sim, "?_outputFormat=application%2Ffhir%2Bndjson");
    assert_eq!(manifest["output"].as_array().unwrap().len(), 9, "3 files of at most 300 for each type");
    let mut exported = export_contents(&client, &manifest, true);
    exported.sort();
    assert_eq!(exported, held(&sim));

    // A truncated NDJSON file ends in a line without its newline.
    let url = manifest["output"][0]["url"].as_str().unwrap();
    sim.inject(Fault::new("$export-file/", FaultKind::Truncated));
    let truncated = client.get(url);
    assert_eq!(truncated.status, 200);
    assert_eq!(truncated.header("content-length"), Some(&*truncated.body.len().to_string()));
    assert_ne!(truncated.body.last(), Some(&b'\n'));
    assert_eq!(client.get(url).body.last(), Some(&b'\n'), "the fault is gone");
}

// ---------------------------------------------------------------------------------------------
// Changes

#[test]
fn upsert_bumps_the_parent_and_last_updated_finds_both() {
    let sim = small_sim(SimConfig::default());
    let client = Client::new(&sim);
    let before = last_updated(&sim.get("Organization", "ej-1").unwrap());

    let mut changed = sim.get("HealthcareService", "hs-1").unwrap();
    changed["name"] = json!("Offer hs-1, renamed");
    let stamp = sim.upsert(changed);
    assert_eq!(stamp.len(), "2026-12-02T04:05:06.123Z".len(), "{stamp}");
    assert!(stamp.ends_with('Z') && stamp.as_bytes()[19] == b'.', "{stamp}");
    assert_eq!(last_updated(&sim.get("HealthcareService", "hs-1").unwrap()), stamp);
    assert_eq!(last_updated(&sim.get("Organization", "eg-1").unwrap()), stamp, "the providedBy EG is bumped");
    assert_eq!(last_updated(&sim.get("Organization", "ej-1").unwrap()), before, "one level only");

    assert_eq!(
        entries(&client.search(&format!("/HealthcareService?_lastUpdated=ge{stamp}")), "match"),
        ["HealthcareService/hs-1"]
    );
    assert_eq!(
        entries(&client.search(&format!("/Organization?_lastUpdated=ge{stamp}")), "match"),
        ["Organization/eg-1"]
    );
    assert!(entries(&client.search(&format!("/HealthcareService?_lastUpdated=gt{stamp}")), "match").is_empty());
    let older = client.search(&format!("/HealthcareService?_lastUpdated=lt{stamp}"));
    assert_eq!(entries(&older, "match"), ["HealthcareService/hs-2", "HealthcareService/hs-3"]);
    // Seconds precision: `eq` covers the whole second, `le` up to its end.
    let second = &stamp[..19];
    assert!(
        entries(&client.search(&format!("/HealthcareService?_lastUpdated=eq{second}Z")), "match")
            .contains(&"HealthcareService/hs-1".to_owned())
    );
    let window = client.search(&format!("/HealthcareService?_lastUpdated=ge{second}Z&_lastUpdated=le{second}Z"));
    assert!(entries(&window, "match").contains(&"HealthcareService/hs-1".to_owned()));

    // A Location changes alone (capacity feeds change Locations every minute).
    let location_stamp = sim.upsert(location("loc-1"));
    assert!(location_stamp > stamp);
    assert_eq!(
        entries(&client.search(&format!("/Location?_lastUpdated=ge{location_stamp}")), "match"),
        ["Location/loc-1"]
    );
    assert!(
        entries(&client.search(&format!("/HealthcareService?_lastUpdated=ge{location_stamp}")), "match").is_empty()
    );
    assert!(entries(&client.search(&format!("/Organization?_lastUpdated=ge{location_stamp}")), "match").is_empty());

    // An EG bumps its EJ; a HealthcareService moved to another EG bumps both EGs.
    let eg_stamp = sim.upsert(organization("eg-2", Some("ej-1")));
    assert_eq!(last_updated(&sim.get("Organization", "ej-1").unwrap()), eg_stamp);
    let moved = sim.upsert(service("hs-3", "eg-1", &["loc-1"]));
    let bumped = client.search(&format!("/Organization?_lastUpdated=ge{moved}"));
    assert_eq!(entries(&bumped, "match"), ["Organization/eg-1", "Organization/eg-2"]);

    // The clock can be moved; it never goes back.
    sim.set_clock(unix_ms("2030-01-01T00:00:00Z"));
    let future = sim.upsert(location("loc-2"));
    assert!(future.starts_with("2030-01-01T00:00:0"), "{future}");
    sim.set_clock(unix_ms("2020-01-01T00:00:00Z"));
    assert!(sim.upsert(location("loc-2")) > future);
}

#[test]
fn delete_bumps_the_parent() {
    let sim = small_sim(SimConfig::default());
    let client = Client::new(&sim);
    let before = unix_ms(&last_updated(&sim.get("Organization", "eg-2").unwrap()));
    assert!(sim.delete("HealthcareService", "hs-3"));
    let after = unix_ms(&last_updated(&sim.get("Organization", "eg-2").unwrap()));
    assert!(after > before);
    assert_eq!(sim.ids("HealthcareService"), ["hs-1", "hs-2"]);
    assert_eq!(sim.count("HealthcareService"), 2);
    assert!(!sim.delete("HealthcareService", "hs-3"));
    assert!(!sim.delete("Patient", "hs-3"));
    client.get("/HealthcareService/hs-3").assert_outcome(404, "hs-3");
    let bumped = client
        .search(&format!("/Organization?_lastUpdated=ge{}", last_updated(&sim.get("Organization", "eg-2").unwrap())));
    assert_eq!(entries(&bumped, "match"), ["Organization/eg-2"]);
    // An EG deleted bumps its EJ.
    assert!(sim.delete("Organization", "eg-2"));
    assert!(unix_ms(&last_updated(&sim.get("Organization", "ej-1").unwrap())) > after);
}

// ---------------------------------------------------------------------------------------------
// Search

#[test]
fn search_parameters_and_includes() {
    let sim = small_sim(SimConfig::default());
    let client = Client::new(&sim);
    let full = client.search(
        "/HealthcareService?_include=HealthcareService:organization&_include:iterate=Organization:partof\
         &_include=HealthcareService:location&_format=json&_total=accurate",
    );
    assert_eq!(full["total"], 3);
    assert_eq!(entries(&full, "match"), ["HealthcareService/hs-1", "HealthcareService/hs-2", "HealthcareService/hs-3"]);
    let mut included = entries(&full, "include");
    included.sort();
    assert_eq!(
        included,
        ["Location/loc-1", "Location/loc-2", "Organization/eg-1", "Organization/eg-2", "Organization/ej-1"]
    );
    assert!(next_link(&full).is_none());

    let by_organization =
        client.search("/HealthcareService?organization=Organization/eg-1&_include=HealthcareService:organization");
    assert_eq!(entries(&by_organization, "match"), ["HealthcareService/hs-1", "HealthcareService/hs-2"]);
    assert_eq!(entries(&by_organization, "include"), ["Organization/eg-1"], "included once per page");
    let by_location = client.search("/HealthcareService?location=loc-1");
    assert_eq!(entries(&by_location, "match"), ["HealthcareService/hs-1", "HealthcareService/hs-3"]);
    let by_identifier = client.search("/HealthcareService?identifier=https://ror.example/offer%7C84/hs-2,84/hs-3");
    assert_eq!(entries(&by_identifier, "match"), ["HealthcareService/hs-2", "HealthcareService/hs-3"]);
    assert!(entries(&client.search("/HealthcareService?identifier=other%7C84/hs-2"), "match").is_empty());
    let by_id = client.search("/HealthcareService?_id=hs-3,hs-1,nope");
    assert_eq!(entries(&by_id, "match"), ["HealthcareService/hs-1", "HealthcareService/hs-3"]);
    let children = client.search("/Organization?partof=ej-1&_include=Organization:partof");
    assert_eq!(entries(&children, "match"), ["Organization/eg-1", "Organization/eg-2"]);
    assert_eq!(entries(&children, "include"), ["Organization/ej-1"]);
    let capacity = client.search("/Location?_revinclude=HealthcareService:location&_id=loc-1");
    assert_eq!(entries(&capacity, "match"), ["Location/loc-1"]);
    assert_eq!(entries(&capacity, "include"), ["HealthcareService/hs-1", "HealthcareService/hs-3"]);

    // POST _search, form-encoded.
    let posted = Answer::read(
        ROR_HEADERS
            .iter()
            .fold(
                client.agent.post(format!("{}/HealthcareService/_search", sim.base_url())),
                |request, (name, value)| request.header(*name, *value),
            )
            .header("Authorization", &format!("Bearer {}", client.token))
            .send_form([("organization", "eg-2")]),
    );
    assert_eq!(posted.status, 200);
    assert_eq!(entries(&posted.json(), "match"), ["HealthcareService/hs-3"]);

    // Reads.
    let read = client.get("/Organization/eg-1");
    assert_eq!((read.status, read.header("content-type")), (200, Some("application/fhir+json")));
    assert_eq!(read.json(), sim.get("Organization", "eg-1").unwrap());
    client.get("/Organization/nope").assert_outcome(404, "Organization/nope");
    client.get("/Patient/1").assert_outcome(404, "Patient");

    // Malformed or unknown: 400 naming the culprit.
    client.get("/HealthcareService?name=x").assert_outcome(400, "name");
    client.get("/HealthcareService?_sort=_lastUpdated").assert_outcome(400, "_sort");
    client.get("/Organization?organization=eg-1").assert_outcome(400, "organization");
    client
        .get("/HealthcareService?_revinclude=PractitionerRole:service")
        .assert_outcome(400, "PractitionerRole:service");
    client.get("/HealthcareService?_include=Organization:partof").assert_outcome(400, "Organization:partof");
    client.get("/HealthcareService?_lastUpdated=ge2026-13-01").assert_outcome(400, "2026-13-01");
    client.get("/HealthcareService?_lastUpdated=ne2026-01-01").assert_outcome(400, "ne");
    client.get("/HealthcareService?_count=many").assert_outcome(400, "_count");
    let empty = client.search("/HealthcareService?_lastUpdated=ge2026-02&_lastUpdated=lt2026-01");
    assert_eq!(empty["total"], 0, "an empty span");
    client.get("/HealthcareService?_getpages=gone&_getpagesoffset=10").assert_outcome(410, "gone");
}

#[test]
fn search_cap_truncates_the_walk_and_total_counts_every_match() {
    let sim = RorSim::start(SimConfig { search_cap: 120, page_size_max: 100, ..SimConfig::default() });
    sim.upsert(organization("eg-1", None));
    for number in 0..300 {
        sim.upsert(service(&format!("hs-{number:03}"), "eg-1", &[]));
    }
    let client = Client::new(&sim);
    let mut sizes = Vec::new();
    let mut next = Some("/HealthcareService?_count=50".to_owned());
    while let Some(url) = next {
        let page = client.search(&url);
        assert_eq!(page["total"], 300);
        sizes.push(page["entry"].as_array().unwrap().len());
        next = next_link(&page);
    }
    assert_eq!(sizes, [50, 50, 20], "the last page before the cap has no next link");
    let clamped = client.search("/HealthcareService?_count=500");
    assert_eq!(clamped["entry"].as_array().unwrap().len(), 100, "_count is lowered to page_size_max");
    let summary = client.search("/HealthcareService?_count=0");
    assert_eq!((summary["total"].as_u64(), summary.get("entry")), (Some(300), None), "no empty entry array");
}

// ---------------------------------------------------------------------------------------------
// $export

#[test]
fn export_protocol_freezes_at_kickoff_and_filters_since() {
    let sim = small_sim(SimConfig { export_batch_size: 2, ..SimConfig::default() });
    let client = Client::new(&sim);
    client.get("/$export?_outputFormat=application/fhir%2Bndjson").assert_outcome(400, "_outputFormat");
    client.get("/$export?_outputFormat=ndjson").assert_outcome(400, "_outputFormat");
    client.get("/$export?patient=1").assert_outcome(400, "patient");
    client.get("/$export?_type=Patient").assert_outcome(400, "Patient");
    client.get("/$export?_since=yesterday").assert_outcome(400, "yesterday");

    let kickoff = client.get("/$export?_type=HealthcareService&_outputFormat=application/fhir%2Bjson");
    assert_eq!(kickoff.status, 202);
    let status_url = kickoff.header("content-location").unwrap().to_owned();
    let stamp = sim.upsert(service("hs-4", "eg-2", &["loc-2"]));
    let polls: Vec<u16> = (0..4).map(|_| client.get(&status_url).status).collect();
    assert_eq!(polls, [202, 202, 200, 200]);
    let manifest = client.get(&status_url).json();
    assert!(manifest["transactionTime"].as_str().unwrap() < stamp.as_str());
    let outputs = manifest["output"].as_array().unwrap();
    let files_of = |resource_type: &str| outputs.iter().filter(|output| output["type"] == resource_type).count();
    assert_eq!((files_of("HealthcareService"), files_of("Organization"), files_of("Location")), (2, 2, 1));
    let frozen = export_contents(&client, &manifest, false);
    assert_eq!(frozen.len(), 8, "the content is frozen at kick-off: {frozen:?}");

    let since = client.export(&sim, &format!("?_since={stamp}"));
    let mut changed = export_contents(&client, &since, false);
    changed.sort();
    let expected = [("HealthcareService", "hs-4"), ("Organization", "eg-2")]
        .map(|(resource_type, id)| TypeAndId { resource_type: resource_type.to_owned(), id: id.to_owned() });
    assert_eq!(changed, expected, "the new offer and its bumped EG");

    let file_url = outputs[0]["url"].as_str().unwrap().to_owned();
    let cancel = Answer::read(
        ROR_HEADERS
            .iter()
            .fold(client.agent.delete(&status_url), |request, (name, value)| request.header(*name, *value))
            .header("Authorization", &format!("Bearer {}", client.token))
            .call(),
    );
    assert_eq!(cancel.status, 202);
    client.get(&status_url).assert_outcome(404, "no export job");
    client.get(&file_url).assert_outcome(404, "no export file");
    client.get(&format!("{}/$export-poll-status?_jobId=nope", sim.base_url())).assert_outcome(404, "nope");
    client.get("/$export-poll-status").assert_outcome(400, "_jobId");
}

// ---------------------------------------------------------------------------------------------
// Access

#[test]
fn access_needs_a_live_token_and_the_ror_headers() {
    let sim = small_sim(SimConfig { token_lifetime_secs: 60, ..SimConfig::default() });
    let agent = agent();
    let url = format!("{}/HealthcareService", sim.base_url());

    // The token endpoint.
    let form = |grant: &'static str, secret: &'static str| {
        Answer::read(agent.post(sim.token_url()).send_form([
            ("grant_type", grant),
            ("client_id", "ror-search"),
            ("client_secret", secret),
        ]))
    };
    let wrong = form("client_credentials", "guess");
    assert_eq!((wrong.status, wrong.json()), (401, json!({"error": "invalid_client"})));
    let grant = form("password", "secret");
    assert_eq!((grant.status, grant.json()), (400, json!({"error": "unsupported_grant_type"})));
    let basic = Answer::read(
        agent
            .post(sim.token_url())
            .header("Authorization", "Basic cm9yLXNlYXJjaDpzZWNyZXQ=") // ror-search:secret
            .send_form([("grant_type", "client_credentials")]),
    );
    assert_eq!(basic.status, 200);
    assert_eq!(sim.tokens_issued(), 1);

    // No token, an unknown one, a missing header.
    let no_token = Answer::read(agent.get(&url).call());
    no_token.assert_outcome(401, "bearer");
    assert!(no_token.header("www-authenticate").unwrap().starts_with("Bearer"));
    let client = Client::new(&sim);
    let stranger = Client { agent: agent.clone(), base: sim.base_url(), token: "forged".to_owned() };
    stranger.get("/HealthcareService").assert_outcome(401, "unknown");
    let mut request = agent.get(&url).header("Authorization", &format!("Bearer {}", client.token));
    for (name, value) in &ROR_HEADERS[..3] {
        request = request.header(*name, *value);
    }
    Answer::read(request.call()).assert_outcome(403, "Ror-Role-Metier-System");
    assert_eq!(client.get("/HealthcareService").status, 200);

    // The token expires on the simulator's clock.
    sim.set_clock(sim.clock_ms() + 61_000);
    let expired = client.get("/HealthcareService");
    expired.assert_outcome(401, "expired");
    assert!(expired.header("www-authenticate").unwrap().contains("error=\"invalid_token\""));
    assert_eq!(Client::new(&sim).get("/HealthcareService").status, 200);
    assert_eq!(sim.tokens_issued(), 3);

    let recorded: Vec<(bool, bool, Option<u16>)> = sim
        .requests()
        .iter()
        .filter(|request| request.path.starts_with("/ws-diffusion-fhir/"))
        .map(|request| (request.authorization, request.ror_headers, request.status))
        .collect();
    assert_eq!(
        recorded,
        [
            (false, false, Some(401)),
            (true, true, Some(401)),
            (true, false, Some(403)),
            (true, true, Some(200)),
            (true, true, Some(401)),
            (true, true, Some(200))
        ]
    );
    sim.clear_requests();
    assert!(sim.requests().is_empty());

    // Without the Ror-* rule, and with FHIR at the root (production's layout).
    let open =
        RorSim::start(SimConfig { base_path: String::new(), require_ror_headers: false, ..SimConfig::default() });
    assert_eq!(open.base_url(), open.token_url().split("/auth/").next().unwrap());
    let token = token(&open);
    let bare = Answer::read(
        agent.get(format!("{}/Location", open.base_url())).header("Authorization", &format!("Bearer {token}")).call(),
    );
    assert_eq!(bare.status, 200);
}

// ---------------------------------------------------------------------------------------------
// Faults

#[test]
fn each_fault_shows_once_then_is_gone() {
    let sim = small_sim(SimConfig::default());
    let client = Client::new(&sim);
    let page = |id: &str| format!("/HealthcareService?_id={id}");

    sim.inject(Fault::new("_id=hs-1", FaultKind::Status429 { retry_after_secs: 7 }));
    let throttled = client.get(&page("hs-1"));
    throttled.assert_outcome(429, "too many");
    assert_eq!(throttled.header("retry-after"), Some("7"));

    sim.inject(Fault::new("_id=hs-2", FaultKind::Status503 { retry_after_secs: Some(3) }));
    sim.inject(Fault::new("_id=hs-2", FaultKind::Status503 { retry_after_secs: None }));
    let unavailable = client.get(&page("hs-2"));
    unavailable.assert_outcome(503, "unavailable");
    assert_eq!(unavailable.header("retry-after"), Some("3"));
    let again = client.get(&page("hs-2"));
    again.assert_outcome(503, "unavailable");
    assert_eq!(again.header("retry-after"), None);

    sim.inject(Fault::new("_id=hs-3", FaultKind::Status500));
    client.get(&page("hs-3")).assert_outcome(500, "internal");

    // Revoked: this token stays refused, a new one works.
    sim.inject(Fault::new("_id=hs-1", FaultKind::Unauthorized));
    let revoked = client.get(&page("hs-1"));
    revoked.assert_outcome(401, "revoked");
    assert!(revoked.header("www-authenticate").unwrap().contains("error=\"invalid_token\""));
    client.get(&page("hs-1")).assert_outcome(401, "revoked");
    let client = Client::new(&sim);

    sim.inject(Fault::new("_id=hs-2", FaultKind::DropConnection));
    assert!(raw_get(&format!("{}{}", sim.base_url(), page("hs-2")), &client.token).is_empty());

    sim.inject(Fault::new("_id=hs-3", FaultKind::DropMidBody));
    let (status, headers, body) =
        split_response(&raw_get(&format!("{}{}", sim.base_url(), page("hs-3")), &client.token));
    let full: usize = headers["content-length"].parse().unwrap();
    assert_eq!(status, 200);
    assert!(!body.is_empty() && body.len() < full, "{} of {full} bytes", body.len());

    sim.inject(Fault::new("_id=hs-1", FaultKind::Truncated));
    let truncated = client.get(&page("hs-1"));
    assert_eq!(truncated.status, 200);
    assert_eq!(truncated.header("content-length"), Some(&*truncated.body.len().to_string()));
    assert!(serde_json::from_slice::<Value>(&truncated.body).is_err(), "a cut Bundle does not parse");

    sim.inject(Fault::new("_id=hs-2", FaultKind::Delay { millis: 300 }));
    let started = Instant::now();
    assert_eq!(client.get(&page("hs-2")).status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));

    sim.inject(Fault::new("/token", FaultKind::Status503 { retry_after_secs: None }));
    let form = [("grant_type", "client_credentials"), ("client_id", "ror-search"), ("client_secret", "secret")];
    assert_eq!(Answer::read(agent().post(sim.token_url()).send_form(form)).status, 503);

    // Every fault was used once; the same requests now succeed.
    assert_eq!(sim.pending_faults(), 0);
    for id in ["hs-1", "hs-2", "hs-3"] {
        let bundle = client.search(&page(id));
        assert_eq!(entries(&bundle, "match"), [format!("HealthcareService/{id}")]);
    }
    token(&sim);
    let faulted: Vec<(Option<FaultKind>, Option<u16>)> = sim
        .requests()
        .into_iter()
        .filter(|request: &RecordedRequest| request.fault.is_some())
        .map(|request| (request.fault, request.status))
        .collect();
    assert_eq!(faulted.len(), 10);
    assert!(faulted.contains(&(Some(FaultKind::DropConnection), None)));
    assert!(faulted.contains(&(Some(FaultKind::DropMidBody), Some(200))));
}

// ---------------------------------------------------------------------------------------------
// Feeds

#[test]
fn feed_formats_load_and_write_feed_round_trips() {
    let dir = temp_dir();
    let bundle = dir.path().join("bundle.json");
    let bundle_text = json!({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": organization("ej-1", None)},
        {"resource": {"resourceType": "Organization", "id": "eg-1", "partOf": {"reference": "Organization/ej-1"},
                      "meta": {"lastUpdated": "2024-05-06T07:08:09+02:00"}}},
        {"resource": {"resourceType": "Patient", "id": "p-1"}},
    ]});
    std::fs::write(&bundle, bundle_text.to_string()).unwrap();
    let single = dir.path().join("single.json");
    std::fs::write(&single, service("hs-1", "eg-1", &["loc-1"]).to_string()).unwrap();
    let array = dir.path().join("array.json");
    std::fs::write(&array, json!([location("loc-1"), location("loc-2")]).to_string()).unwrap();

    let sim = RorSim::start(SimConfig::default());
    let paths: Vec<PathBuf> = vec![bundle, single, array];
    assert_eq!(sim.load_feed(&paths), 5, "the Patient is skipped");
    assert_eq!(last_updated(&sim.get("Organization", "eg-1").unwrap()), "2024-05-06T07:08:09+02:00", "kept as loaded");
    let load_instant = last_updated(&sim.get("Organization", "ej-1").unwrap());
    assert_eq!(last_updated(&sim.get("Location", "loc-2").unwrap()), load_instant, "one load instant");
    assert!(sim.upsert(location("loc-3")) > load_instant);

    let written = dir.path().join("feed.ndjson.gz");
    sim.write_feed(&written);
    let copy = RorSim::start(SimConfig::default());
    assert_eq!(copy.load_feed(&[written]), 6);
    assert_eq!(held(&copy), held(&sim));
    for item in held(&sim) {
        assert_eq!(copy.get(&item.resource_type, &item.id), sim.get(&item.resource_type, &item.id));
    }
}

// ---------------------------------------------------------------------------------------------
// Mutual TLS

/// One HTTP/1.1 exchange over TLS (rustls, blocking) presenting `identity`, if any: the bytes
/// received, or why the exchange failed.
fn https_exchange(
    sim: &RorSim,
    tls: &SimTls,
    identity: Option<(CertificateDer<'static>, PrivateKeyDer<'static>)>,
    request: &str,
) -> Result<Vec<u8>, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(tls.ca.clone()).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match identity {
        Some((certificate, key)) => builder.with_client_auth_cert(vec![certificate], key).unwrap(),
        None => builder.with_no_client_auth(),
    };
    let base = sim.base_url();
    let address = base.strip_prefix("https://").unwrap().split('/').next().unwrap().to_owned();
    let connection = rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("127.0.0.1").unwrap())
        .map_err(|error| error.to_string())?;
    let mut stream = rustls::StreamOwned::new(connection, TcpStream::connect(&address).unwrap());
    stream.write_all(request.as_bytes()).map_err(|error| format!("write: {error}"))?;
    let mut received = Vec::new();
    match stream.read_to_end(&mut received) {
        Ok(_) => Ok(received),
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof && !received.is_empty() => Ok(received),
        Err(error) => Err(format!("read: {error}")),
    }
}

#[test]
fn mutual_tls_requires_a_client_certificate_that_stands_for_the_secret() {
    let tls = SimTls::generate();
    let sim = small_sim(SimConfig { tls: Some(tls.clone()), ..SimConfig::default() });
    assert!(sim.base_url().starts_with("https://127.0.0.1:"), "{}", sim.base_url());
    assert!(sim.token_url().starts_with("https://127.0.0.1:"));
    assert!(tls.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(tls.client_certificate_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(tls.client_key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let identity = || Some((tls.client_certificate.clone(), tls.client_key()));

    // The token endpoint takes the client id alone: the certificate stands for the secret.
    let form = "grant_type=client_credentials&client_id=ror-search";
    let token_request = format!(
        "POST {TOKEN_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{form}",
        form.len()
    );
    let (status, _, body) = split_response(&https_exchange(&sim, &tls, identity(), &token_request).unwrap());
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let token: Value = serde_json::from_slice(&body).unwrap();
    let token = token["access_token"].as_str().unwrap();

    let path = sim.base_url().split_once("127.0.0.1:").unwrap().1.split_once('/').unwrap().1.to_owned();
    let mut search = format!(
        "GET /{path}/HealthcareService?_id=hs-1 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
    );
    for (name, value) in ROR_HEADERS {
        search.push_str(&format!("{name}: {value}\r\n"));
    }
    search.push_str("Connection: close\r\n\r\n");
    let (status, _, body) = split_response(&https_exchange(&sim, &tls, identity(), &search).unwrap());
    assert_eq!(status, 200);
    let bundle: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(entries(&bundle, "match"), ["HealthcareService/hs-1"]);
    assert!(bundle["link"][0]["url"].as_str().unwrap().starts_with("https://127.0.0.1:"));

    // No certificate, or one of another CA: the handshake fails, nothing is served.
    assert!(https_exchange(&sim, &tls, None, &search).is_err());
    let stranger = SimTls::generate();
    assert!(
        https_exchange(&sim, &tls, Some((stranger.client_certificate.clone(), stranger.client_key())), &search)
            .is_err()
    );
    assert_eq!(sim.requests().len(), 2, "only the exchanges with the right certificate reached HTTP");
}
