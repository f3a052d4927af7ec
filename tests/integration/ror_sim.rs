//! A simulated national ROR FHIR server, for the tests (and the benches) of `ror-search sync`.
//!
//! [`RorSim::start`] serves, on `127.0.0.1` from its own thread and tokio runtime, what a ROR
//! client meets on the wire (`../shared/docs/ror-model.md` §2 and §5): the OAuth2 token endpoint,
//! `$export` (kick-off, status polls, output files that honour `Range`), search with paging and
//! includes, and reads. Every FHIR request needs a live bearer token and the four `Ror-*`
//! headers; every error is an `OperationOutcome`. With [`SimConfig::tls`] it serves HTTPS and
//! requires a client certificate (mutual TLS, the ROR's profiles 1-5).
//!
//! The test's side is plain Rust: load a feed ([`RorSim::load_feed`]), change resources
//! ([`RorSim::upsert`], [`RorSim::delete`]: a child's change bumps its parent's
//! `meta.lastUpdated`, the ROR's rule RG_EXP_024), move the clock, queue one-shot faults
//! ([`RorSim::inject`]) and read back the requests it was sent ([`RorSim::requests`]).
//!
//! Resources are kept as their JSON text plus the few fields the server reads (type, id,
//! `meta.lastUpdated`, references, identifiers), so that ~2 million of them fit in memory;
//! only what changes is parsed and serialised again.
//!
//! Self-contained (no `crate::` paths): a bench includes it with
//! `#[path = "../tests/integration/ror_sim.rs"] mod ror_sim;`.

// Included by several targets (the integration tests, benches), each of which uses a part of it.
#![allow(dead_code)]

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader, Read, Write};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{OriginalUri, Path as UrlPath, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use base64::Engine as _;
use futures_util::StreamExt as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tower::ServiceExt as _;

/// Path of the token endpoint (Keycloak realm `ror`), under the server root.
pub(crate) const TOKEN_PATH: &str = "/auth/realms/ror/protocol/openid-connect/token";

/// The four headers every FHIR read needs, with values of the kind the ROR team hands out at
/// onboarding. The simulator only checks that each is present and not empty.
pub(crate) const ROR_HEADERS: [(&str, &str); 4] = [
    ("Ror-Profil-Utilisateur-Code", "CU22"),
    ("Ror-Profil-Utilisateur-System", "1.2.250.1.213.1.6.1.66"),
    ("Ror-Role-Metier-Code", "AUTOMATE"),
    ("Ror-Role-Metier-System", "1.2.250.1.213.1.1.4.6"),
];

/// `$export` jobs kept at once; kicking off one more forgets the oldest (its URLs answer 404).
const KEPT_JOBS: usize = 8;
/// Paged searches whose result lists are kept; one more forgets the oldest (its `next` links
/// answer 410 Gone, as an expired search does on a HAPI-style server).
const KEPT_SEARCHES: usize = 256;

const FHIR_JSON: &str = "application/fhir+json";
const FHIR_NDJSON: &str = "application/fhir+ndjson";

/// How the simulator behaves. `SimConfig::default()` is the ROR sandbox as documented.
#[derive(Clone, Debug)]
pub(crate) struct SimConfig {
    /// Path of the FHIR base under the server root: `/ws-diffusion-fhir` (the sandbox's
    /// layout), or `""` to serve FHIR at the root as production does.
    pub(crate) base_path: String,
    /// The only client the token endpoint knows.
    pub(crate) client_id: String,
    /// That client's secret.
    pub(crate) client_secret: String,
    /// Lifetime of an access token, on the simulator's clock.
    pub(crate) token_lifetime_secs: u64,
    /// How many status polls of an `$export` job answer 202 before the manifest.
    pub(crate) export_polls_before_ready: u32,
    /// The `Retry-After` of those 202 answers.
    pub(crate) export_retry_after_secs: u64,
    /// Resources per `$export` output file (each file holds one resource type).
    pub(crate) export_batch_size: usize,
    /// `false`: the ROR's deviation, each output file is a JSON `Bundle` of type `collection`
    /// and `_outputFormat=application/fhir+ndjson` is refused; `true`: standard Bulk Data,
    /// NDJSON files, and JSON output formats are refused.
    pub(crate) export_ndjson: bool,
    /// Page size of a search without `_count` (RG_RECH_52: 200).
    pub(crate) page_size_default: usize,
    /// Largest page size; a larger `_count` is lowered to it.
    pub(crate) page_size_max: usize,
    /// Matches past this rank are never returned (the ROR truncates at 10,000); `total` still
    /// counts them.
    pub(crate) search_cap: usize,
    /// Whether a FHIR request without one of the [`ROR_HEADERS`] gets 403.
    pub(crate) require_ror_headers: bool,
    /// Mutual TLS (the profiles 1-5 path): HTTPS, a client certificate on every connection, and
    /// a token endpoint that takes the certificate instead of the secret. `None`: plain HTTP.
    pub(crate) tls: Option<SimTls>,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            base_path: "/ws-diffusion-fhir".to_owned(),
            client_id: "ror-search".to_owned(),
            client_secret: "secret".to_owned(),
            token_lifetime_secs: 300,
            export_polls_before_ready: 2,
            export_retry_after_secs: 1,
            export_batch_size: 500,
            export_ndjson: false,
            page_size_default: 200,
            page_size_max: 1000,
            search_cap: 10_000,
            require_ror_headers: true,
            tls: None,
        }
    }
}

/// Mutual TLS as the ROR's profiles 1-5 authenticate (OAuth2 with mTLS, RFC 8705): the
/// simulator serves HTTPS and requires, on every connection, a client certificate signed by
/// its test CA. [`SimTls::generate`] makes the CA, the server's certificate (for `127.0.0.1`
/// and `localhost`) and one client certificate with its key.
#[derive(Clone, Debug)]
pub(crate) struct SimTls {
    /// The test CA (DER): clients trust it for the server, and it signs the client certificate.
    pub(crate) ca: CertificateDer<'static>,
    /// The test CA in PEM.
    pub(crate) ca_pem: String,
    /// A client certificate the server accepts (DER).
    pub(crate) client_certificate: CertificateDer<'static>,
    /// The client certificate in PEM.
    pub(crate) client_certificate_pem: String,
    /// The client certificate's key in PEM (PKCS#8).
    pub(crate) client_key_pem: String,
    client_key_der: Vec<u8>,
    server_certificate: CertificateDer<'static>,
    server_key_der: Vec<u8>,
}

impl SimTls {
    /// A fresh test CA, server certificate and client certificate.
    ///
    /// # Panics
    /// When rcgen fails to make them.
    pub(crate) fn generate() -> SimTls {
        let ca_key = rcgen::KeyPair::generate().expect("a CA key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "ror-sim test CA");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).expect("a CA certificate");
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let leaf = |names: Vec<String>, common_name: &str| {
            let key = rcgen::KeyPair::generate().expect("a key");
            let mut params = rcgen::CertificateParams::new(names).expect("certificate parameters");
            params.distinguished_name.push(rcgen::DnType::CommonName, common_name);
            (params.signed_by(&key, &issuer).expect("a certificate"), key)
        };
        let (server, server_key) = leaf(vec!["127.0.0.1".to_owned(), "localhost".to_owned()], "localhost");
        let (client, client_key) = leaf(Vec::new(), "ror-search");
        SimTls {
            ca: ca.der().clone(),
            ca_pem: ca.pem(),
            client_certificate: client.der().clone(),
            client_certificate_pem: client.pem(),
            client_key_pem: client_key.serialize_pem(),
            client_key_der: client_key.serialize_der(),
            server_certificate: server.der().clone(),
            server_key_der: server_key.serialize_der(),
        }
    }

    /// The client certificate's key.
    pub(crate) fn client_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.client_key_der.clone()))
    }

    /// The server's rustls configuration: HTTP/1.1, a client certificate of the CA required.
    fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca.clone()).expect("the test CA");
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .expect("a client verifier");
        let server_key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key_der.clone()));
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![self.server_certificate.clone()], server_key)
            .expect("the server certificate");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

/// A one-shot fault: the first request whose path and query contain `matcher` (as sent, or
/// percent-decoded) consumes it and gets `kind` instead of, or on top of, its normal answer.
/// An empty matcher matches the next request.
#[derive(Clone, Debug)]
pub(crate) struct Fault {
    /// A substring of the path and query, e.g. `"$export-file"`, `"_lastUpdated"`, `"/token"`.
    pub(crate) matcher: String,
    /// What happens to the request.
    pub(crate) kind: FaultKind,
}

impl Fault {
    /// A fault of `kind` for the first request matching `matcher`.
    pub(crate) fn new(matcher: impl Into<String>, kind: FaultKind) -> Fault {
        Fault { matcher: matcher.into(), kind }
    }
}

/// What a [`Fault`] does to the request that consumes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FaultKind {
    /// 429 with an `OperationOutcome` (code `throttled`) and `Retry-After`.
    Status429 {
        /// The `Retry-After` value.
        retry_after_secs: u64,
    },
    /// 503 with an `OperationOutcome` (code `transient`), and `Retry-After` when given.
    Status503 {
        /// The `Retry-After` value, if any.
        retry_after_secs: Option<u64>,
    },
    /// 500 with an `OperationOutcome` (code `exception`).
    Status500,
    /// 401 with `WWW-Authenticate: Bearer error="invalid_token"`, as if the token had been
    /// revoked: the bearer token the request carried is revoked for good.
    Unauthorized,
    /// The connection is closed before any response.
    DropConnection,
    /// The normal answer's headers, with the full `Content-Length`, and about half of its body;
    /// then the connection is closed.
    DropMidBody,
    /// The normal answer's status and headers with its body cut at about half, and a
    /// `Content-Length` that matches the cut body: only the content tells (a Bundle that does
    /// not parse, an NDJSON last line without its newline).
    Truncated,
    /// The normal answer, after a delay.
    Delay {
        /// The delay.
        millis: u64,
    },
}

/// One request the simulator received.
#[derive(Clone, Debug)]
pub(crate) struct RecordedRequest {
    /// `GET`, `POST`, `DELETE`...
    pub(crate) method: String,
    /// The path with its query, as sent.
    pub(crate) path: String,
    /// The status answered; `None` when no answer was sent (a dropped connection, or a client
    /// that went away before the answer was ready).
    pub(crate) status: Option<u16>,
    /// Whether an `Authorization` header was present.
    pub(crate) authorization: bool,
    /// Whether the four [`ROR_HEADERS`] were present (not empty).
    pub(crate) ror_headers: bool,
    /// The `Range` header, if any.
    pub(crate) range: Option<String>,
    /// The fault the request consumed, if any.
    pub(crate) fault: Option<FaultKind>,
    /// Identifies the record while its answer is under way.
    sequence: u64,
}

/// A running simulator; dropping it stops the server.
pub(crate) struct RorSim {
    sim: Arc<Sim>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl RorSim {
    /// Starts a simulator on `127.0.0.1` (a free port), empty, on its own thread.
    ///
    /// # Panics
    /// When `config.base_path` is neither empty nor of the form `/name...` without a trailing
    /// slash, or when no local port or thread can be had.
    pub(crate) fn start(config: SimConfig) -> RorSim {
        let base_path = &config.base_path;
        assert!(
            base_path.is_empty() || (base_path.starts_with('/') && !base_path.ends_with('/')),
            "base_path {base_path:?}: empty, or starting with '/' and not ending with '/'"
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a local port");
        listener.set_nonblocking(true).expect("a non-blocking listener");
        let port = listener.local_addr().expect("the listener's address").port();
        let scheme = if config.tls.is_some() { "https" } else { "http" };
        let origin = format!("{scheme}://127.0.0.1:{port}");
        let sim = Arc::new(Sim {
            base_url: format!("{origin}{base_path}"),
            origin,
            config,
            state: Mutex::new(SimState::new()),
            faults: Mutex::new(VecDeque::new()),
            requests: Mutex::new(Requests::default()),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let served = sim.clone();
        let thread = std::thread::Builder::new()
            .name("ror-sim".to_owned())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("a tokio runtime");
                runtime.block_on(serve(listener, served, stopped));
                runtime.shutdown_timeout(Duration::from_secs(1));
            })
            .expect("a thread");
        RorSim { sim, stop: Some(stop), thread: Some(thread) }
    }

    /// The FHIR base URL, e.g. `http://127.0.0.1:PORT/ws-diffusion-fhir` (`https` with TLS).
    pub(crate) fn base_url(&self) -> String {
        self.sim.base_url.clone()
    }

    /// The token endpoint's URL.
    pub(crate) fn token_url(&self) -> String {
        format!("{}{TOKEN_PATH}", self.sim.origin)
    }

    /// The configuration it runs with.
    pub(crate) fn config(&self) -> &SimConfig {
        &self.sim.config
    }

    /// Loads FHIR feed files, replacing resources of the same type and id, and returns how many
    /// resources it read and kept (one given twice counts twice). `.ndjson` and `.ndjson.gz` hold one resource a line; `.json` a
    /// Bundle (its entries' resources), one resource, or an array of them; a directory stands
    /// for the files of those kinds it holds. HealthcareService, Organization, Location,
    /// PractitionerRole and Practitioner are kept, other types skipped. A resource without
    /// `meta.lastUpdated` gets the load instant; nothing is bumped. The clock then stands at
    /// or after the latest `meta.lastUpdated` loaded.
    ///
    /// # Panics
    /// On a file that cannot be read, or a resource that does not parse or has no id.
    pub(crate) fn load_feed(&self, paths: &[PathBuf]) -> usize {
        let load_instant = self.sim.state().clock.tick();
        let files = feed_files(paths);
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let mut kept = 0;
        // Files are parsed on several threads, and inserted in the order given.
        for group in files.chunks(threads) {
            let parsed: Vec<Vec<(Kind, Entry)>> = std::thread::scope(|scope| {
                let readers: Vec<_> =
                    group.iter().map(|file| scope.spawn(move || read_feed_file(file, load_instant))).collect();
                readers
                    .into_iter()
                    .map(|reader| reader.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
                    .collect()
            });
            let mut state = self.sim.state();
            for (kind, entry) in parsed.into_iter().flatten() {
                kept += 1;
                state.clock.observe(entry.last_updated);
                state.store.insert(kind, entry);
            }
        }
        kept
    }

    /// Inserts or replaces a resource by type and id, sets its `meta.lastUpdated` to the clock
    /// (an instant after every earlier one) and returns that instant (RFC 3339, UTC,
    /// milliseconds). Like the ROR's rule RG_EXP_024, the parent gets the same instant: a
    /// HealthcareService's `providedBy` Organization, an Organization's `partOf`
    /// Organization (the former parent too when the reference changed; one level only). A
    /// Location bumps nothing.
    ///
    /// # Panics
    /// When `resource` is not an object with a `resourceType` the simulator keeps and an `id`.
    pub(crate) fn upsert(&self, mut resource: Value) -> String {
        let mut state = self.sim.state();
        let instant = state.clock.tick();
        let stamp = format_instant(instant);
        resource["meta"]["lastUpdated"] = Value::String(stamp.clone());
        let text = serde_json::to_string(&resource).expect("a JSON value serialises");
        let (kind, entry) = match parse_entry(text, instant) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => panic!("upsert: resource type {} is not kept by the simulator", resource["resourceType"]),
            Err(reason) => panic!("upsert: {reason}"),
        };
        let mut parents = entry.parents(kind);
        if let Some(old) = state.store.insert(kind, entry) {
            parents.extend(old.parents(kind));
        }
        for parent in parents {
            state.store.bump(Kind::Organization, &parent, instant);
        }
        stamp
    }

    /// Removes a resource and, as [`RorSim::upsert`] does, bumps its parent; false when there
    /// was no such resource.
    pub(crate) fn delete(&self, resource_type: &str, id: &str) -> bool {
        let Some(kind) = Kind::parse(resource_type) else { return false };
        let mut state = self.sim.state();
        let Some(removed) = state.store.remove(kind, id) else { return false };
        let instant = state.clock.tick();
        for parent in removed.parents(kind) {
            state.store.bump(Kind::Organization, &parent, instant);
        }
        true
    }

    /// The current resource of that type and id.
    pub(crate) fn get(&self, resource_type: &str, id: &str) -> Option<Value> {
        let kind = Kind::parse(resource_type)?;
        let state = self.sim.state();
        let entry = state.store.collection(kind).entries.get(id)?;
        Some(serde_json::from_str(&entry.text).expect("a stored resource is JSON"))
    }

    /// The ids of the current resources of a type, sorted.
    pub(crate) fn ids(&self, resource_type: &str) -> Vec<String> {
        let Some(kind) = Kind::parse(resource_type) else { return Vec::new() };
        let state = self.sim.state();
        let mut ids: Vec<String> = state.store.collection(kind).entries.keys().map(|id| id.to_string()).collect();
        ids.sort_unstable();
        ids
    }

    /// How many resources of a type there are.
    pub(crate) fn count(&self, resource_type: &str) -> usize {
        Kind::parse(resource_type).map_or(0, |kind| self.sim.state().store.collection(kind).entries.len())
    }

    /// Writes every current resource as NDJSON, one a line (gzipped when `path` ends in
    /// `.gz`): the full feed a fresh build is compared against.
    ///
    /// # Panics
    /// When the file cannot be written.
    pub(crate) fn write_feed(&self, path: &Path) {
        let file = std::fs::File::create(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        let out = std::io::BufWriter::new(file);
        let state = self.sim.state();
        let written = if path.extension().is_some_and(|extension| extension == "gz") {
            let mut encoder = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
            state.store.write_ndjson(&mut encoder).and_then(|()| encoder.finish()?.flush())
        } else {
            let mut out = out;
            state.store.write_ndjson(&mut out).and_then(|()| out.flush())
        };
        written.unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    }

    /// Sets the clock to `unix_ms`; it then runs on with wall time. It never goes back: before
    /// the last instant it gave, it gives that instant plus 1 ms, and so on.
    pub(crate) fn set_clock(&self, unix_ms: i64) {
        self.sim.state().clock.set(unix_ms);
    }

    /// The clock's reading now, in Unix milliseconds (without using up an instant).
    pub(crate) fn clock_ms(&self) -> i64 {
        self.sim.state().clock.peek()
    }

    /// How many access tokens the token endpoint has issued.
    pub(crate) fn tokens_issued(&self) -> usize {
        self.sim.state().tokens_issued
    }

    /// The requests received so far (since [`RorSim::clear_requests`]), in arrival order.
    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.sim.requests).list.clone()
    }

    /// Forgets the requests received so far.
    pub(crate) fn clear_requests(&self) {
        lock(&self.sim.requests).list.clear();
    }

    /// Queues a one-shot fault.
    pub(crate) fn inject(&self, fault: Fault) {
        lock(&self.sim.faults).push_back(fault);
    }

    /// How many injected faults no request has consumed yet.
    pub(crate) fn pending_faults(&self) -> usize {
        lock(&self.sim.faults).len()
    }
}

impl Drop for RorSim {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// State

/// What the server and the test's side share.
struct Sim {
    config: SimConfig,
    /// `http://127.0.0.1:PORT`.
    origin: String,
    /// The origin and `config.base_path`.
    base_url: String,
    state: Mutex<SimState>,
    faults: Mutex<VecDeque<Fault>>,
    requests: Mutex<Requests>,
}

impl Sim {
    fn state(&self) -> MutexGuard<'_, SimState> {
        lock(&self.state)
    }
}

/// A lock that survives a panic of another holder (a failed test thread).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Default)]
struct Requests {
    next_sequence: u64,
    list: Vec<RecordedRequest>,
}

struct SimState {
    clock: Clock,
    store: Store,
    /// Live access tokens and when they expire (Unix ms).
    tokens: HashMap<String, i64>,
    tokens_issued: usize,
    random: Random,
    jobs: Kept<Job>,
    searches: Kept<SearchResult>,
}

impl SimState {
    fn new() -> SimState {
        SimState {
            clock: Clock { last: i64::MIN, offset: 0 },
            store: Store::default(),
            tokens: HashMap::new(),
            tokens_issued: 0,
            random: Random::new(),
            jobs: Kept::new(KEPT_JOBS),
            searches: Kept::new(KEPT_SEARCHES),
        }
    }
}

/// The simulator's clock, in Unix milliseconds: wall time plus an offset, never going back.
struct Clock {
    /// The last instant given.
    last: i64,
    /// Added to wall time (set by [`RorSim::set_clock`]).
    offset: i64,
}

impl Clock {
    /// A new instant, strictly after every earlier one.
    fn tick(&mut self) -> i64 {
        self.last = (wall_ms() + self.offset).max(self.last.saturating_add(1));
        self.last
    }

    /// The time now, without using up an instant.
    fn peek(&self) -> i64 {
        (wall_ms() + self.offset).max(self.last)
    }

    /// Moves the clock to `unix_ms` from now on.
    fn set(&mut self, unix_ms: i64) {
        self.offset = unix_ms - wall_ms();
    }

    /// Makes later instants come after `instant` (one that a loaded resource carries).
    fn observe(&mut self, instant: i64) {
        self.last = self.last.max(instant);
    }
}

fn wall_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as i64)
}

/// Unpredictable tokens and ids: SHA-256 of a per-run seed and a counter.
struct Random {
    seed: u64,
    counter: u64,
}

impl Random {
    fn new() -> Random {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_i64(wall_ms());
        Random { seed: hasher.finish(), counter: 0 }
    }

    fn next(&mut self) -> Vec<u8> {
        self.counter += 1;
        Sha256::new().chain_update(self.seed.to_le_bytes()).chain_update(self.counter.to_le_bytes()).finalize().to_vec()
    }

    /// 32 random bytes in hex.
    fn token(&mut self) -> String {
        hex::encode(self.next())
    }

    /// A random (version 4) UUID.
    fn uuid(&mut self) -> String {
        let mut bytes = self.next();
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let hex = hex::encode(&bytes[..16]);
        format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
    }
}

/// A bounded map: inserting past the bound forgets the oldest key.
struct Kept<T> {
    bound: usize,
    by_key: HashMap<String, T>,
    order: VecDeque<String>,
}

impl<T> Kept<T> {
    fn new(bound: usize) -> Kept<T> {
        Kept { bound, by_key: HashMap::new(), order: VecDeque::new() }
    }

    fn insert(&mut self, key: String, value: T) {
        if self.order.len() == self.bound
            && let Some(oldest) = self.order.pop_front()
        {
            self.by_key.remove(&oldest);
        }
        self.order.push_back(key.clone());
        self.by_key.insert(key, value);
    }

    fn remove(&mut self, key: &str) -> Option<T> {
        let value = self.by_key.remove(key)?;
        self.order.retain(|kept| kept != key);
        Some(value)
    }
}

/// The resource types the simulator keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    HealthcareService,
    Organization,
    Location,
    PractitionerRole,
    Practitioner,
}

impl Kind {
    const ALL: [Kind; 5] =
        [Kind::HealthcareService, Kind::Organization, Kind::Location, Kind::PractitionerRole, Kind::Practitioner];

    fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.name() == name)
    }

    fn name(self) -> &'static str {
        match self {
            Kind::HealthcareService => "HealthcareService",
            Kind::Organization => "Organization",
            Kind::Location => "Location",
            Kind::PractitionerRole => "PractitionerRole",
            Kind::Practitioner => "Practitioner",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One resource: its JSON text and the fields the server reads.
struct Entry {
    id: Arc<str>,
    /// Compact JSON on one line.
    text: Arc<str>,
    /// `meta.lastUpdated` in Unix milliseconds.
    last_updated: i64,
    /// Id of the `providedBy` Organization (HealthcareService).
    provided_by: Option<Box<str>>,
    /// Ids of the `location[]` Locations (HealthcareService).
    locations: Box<[Box<str>]>,
    /// Id of the `partOf` Organization (Organization).
    part_of: Option<Box<str>>,
    /// `identifier[]` as (system, or empty, and value).
    identifiers: Box<[(Box<str>, Box<str>)]>,
}

impl Entry {
    /// `providedBy` of a HealthcareService, `partOf` of an Organization.
    fn parent(&self, kind: Kind) -> Option<&str> {
        match kind {
            Kind::HealthcareService => self.provided_by.as_deref(),
            Kind::Organization => self.part_of.as_deref(),
            _ => None,
        }
    }

    /// The Organizations whose `meta.lastUpdated` a change of this resource bumps.
    fn parents(&self, kind: Kind) -> Vec<Box<str>> {
        let parent = match kind {
            Kind::HealthcareService => &self.provided_by,
            Kind::Organization => &self.part_of,
            _ => &None,
        };
        parent.as_deref().filter(|parent| *parent != &*self.id).map(Box::from).into_iter().collect()
    }
}

/// Resources of one type, by id and in search order (lastUpdated, then id).
#[derive(Default)]
struct Collection {
    entries: HashMap<Arc<str>, Entry>,
    order: BTreeSet<(i64, Arc<str>)>,
}

#[derive(Default)]
struct Store {
    collections: [Collection; 5],
    /// HealthcareService ids by the Location ids they reference (for `_revinclude`).
    services_by_location: HashMap<Box<str>, BTreeSet<Arc<str>>>,
    /// HealthcareService ids by their `providedBy`, Organization ids by their `partOf` (the
    /// indexes a real server has for `organization=` and `partof=`).
    children: HashMap<Box<str>, BTreeSet<Arc<str>>>,
}

impl Store {
    fn collection(&self, kind: Kind) -> &Collection {
        &self.collections[kind.index()]
    }

    fn get(&self, kind: Kind, id: &str) -> Option<&Entry> {
        self.collection(kind).entries.get(id)
    }

    /// Inserts, and returns the resource it replaces.
    fn insert(&mut self, kind: Kind, entry: Entry) -> Option<Entry> {
        let old = self.remove(kind, &entry.id);
        if kind == Kind::HealthcareService {
            for location in &entry.locations {
                self.services_by_location.entry(location.clone()).or_default().insert(entry.id.clone());
            }
        }
        if let Some(parent) = entry.parent(kind) {
            self.children.entry(parent.into()).or_default().insert(entry.id.clone());
        }
        let collection = &mut self.collections[kind.index()];
        collection.order.insert((entry.last_updated, entry.id.clone()));
        collection.entries.insert(entry.id.clone(), entry);
        old
    }

    fn remove(&mut self, kind: Kind, id: &str) -> Option<Entry> {
        let collection = &mut self.collections[kind.index()];
        let entry = collection.entries.remove(id)?;
        collection.order.remove(&(entry.last_updated, entry.id.clone()));
        if let Some(parent) = entry.parent(kind)
            && let Some(children) = self.children.get_mut(parent)
        {
            children.remove(&*entry.id);
            if children.is_empty() {
                self.children.remove(parent);
            }
        }
        if kind == Kind::HealthcareService {
            for location in &entry.locations {
                if let Some(services) = self.services_by_location.get_mut(location) {
                    services.remove(&*entry.id);
                    if services.is_empty() {
                        self.services_by_location.remove(location);
                    }
                }
            }
        }
        Some(entry)
    }

    /// Every resource, one a line, by type then in search order.
    fn write_ndjson(&self, out: &mut impl Write) -> std::io::Result<()> {
        for collection in &self.collections {
            for (_, id) in &collection.order {
                out.write_all(collection.entries[id].text.as_bytes())?;
                out.write_all(b"\n")?;
            }
        }
        Ok(())
    }

    /// Sets the `meta.lastUpdated` of a resource, if it exists.
    fn bump(&mut self, kind: Kind, id: &str, instant: i64) {
        let collection = &mut self.collections[kind.index()];
        let Some(entry) = collection.entries.get_mut(id) else { return };
        collection.order.remove(&(entry.last_updated, entry.id.clone()));
        entry.text = with_last_updated(&entry.text, instant).into();
        entry.last_updated = instant;
        collection.order.insert((instant, entry.id.clone()));
    }
}

/// The text of a resource with another `meta.lastUpdated`.
fn with_last_updated(text: &str, instant: i64) -> String {
    let mut resource: Value = serde_json::from_str(text).expect("a stored resource is JSON");
    resource["meta"]["lastUpdated"] = Value::String(format_instant(instant));
    serde_json::to_string(&resource).expect("a JSON value serialises")
}

/// The fields of a resource the server reads; serde skips the rest without building it.
#[derive(Deserialize)]
struct Header {
    #[serde(rename = "resourceType")]
    resource_type: String,
    id: Option<String>,
    meta: Option<MetaHeader>,
    #[serde(rename = "providedBy")]
    provided_by: Option<ReferenceHeader>,
    #[serde(rename = "partOf")]
    part_of: Option<ReferenceHeader>,
    #[serde(default)]
    location: Vec<ReferenceHeader>,
    #[serde(default)]
    identifier: Vec<IdentifierHeader>,
}

#[derive(Deserialize)]
struct MetaHeader {
    #[serde(rename = "lastUpdated")]
    last_updated: Option<String>,
}

#[derive(Deserialize)]
struct ReferenceHeader {
    reference: Option<String>,
}

#[derive(Deserialize)]
struct IdentifierHeader {
    system: Option<String>,
    value: Option<String>,
}

/// Just the type, to skip resources of other types whatever their shape.
#[derive(Deserialize)]
struct TypeHeader {
    #[serde(rename = "resourceType")]
    resource_type: String,
}

/// A resource from its compact JSON text: `None` when its type is not kept. One without
/// `meta.lastUpdated` gets `default_instant`.
fn parse_entry(text: String, default_instant: i64) -> Result<Option<(Kind, Entry)>, String> {
    let header: Header = match serde_json::from_str(&text) {
        Ok(header) => header,
        Err(error) => {
            let type_header: TypeHeader = serde_json::from_str(&text).map_err(|error| error.to_string())?;
            return match Kind::parse(&type_header.resource_type) {
                Some(_) => Err(error.to_string()),
                None => Ok(None),
            };
        }
    };
    let Some(kind) = Kind::parse(&header.resource_type) else { return Ok(None) };
    let id = header.id.filter(|id| !id.is_empty()).ok_or_else(|| format!("a {} without id", kind.name()))?;
    let stamp = header.meta.and_then(|meta| meta.last_updated);
    let (text, last_updated) = match stamp {
        Some(stamp) => {
            let (start, _) = parse_fhir_span(&stamp).ok_or_else(|| format!("{id}: bad meta.lastUpdated {stamp:?}"))?;
            (text, start)
        }
        None => (with_last_updated(&text, default_instant), default_instant),
    };
    let organization = |reference: Option<ReferenceHeader>| {
        reference
            .and_then(|reference| reference.reference)
            .and_then(|reference| reference_id(&reference, "Organization"))
    };
    let (provided_by, part_of) = (organization(header.provided_by), organization(header.part_of));
    let locations = match kind {
        Kind::HealthcareService => header
            .location
            .into_iter()
            .filter_map(|reference| reference.reference.and_then(|reference| reference_id(&reference, "Location")))
            .collect(),
        _ => Box::default(),
    };
    let identifiers = header
        .identifier
        .into_iter()
        .filter_map(|identifier| Some((identifier.system.unwrap_or_default().into(), identifier.value?.into())))
        .collect();
    let entry = Entry { id: id.into(), text: text.into(), last_updated, provided_by, locations, part_of, identifiers };
    Ok(Some((kind, entry)))
}

/// The id in a reference to `type_name`: `Organization/eg-1`, an absolute URL ending so, or
/// one with `/_history/n`.
fn reference_id(reference: &str, type_name: &str) -> Option<Box<str>> {
    let segments: Vec<&str> = reference.split('/').collect();
    let at = segments.iter().rposition(|segment| *segment == type_name)?;
    segments.get(at + 1).filter(|id| !id.is_empty()).map(|id| (*id).into())
}

/// The files a list of feed paths stands for: each file as given, and the feed files of each
/// directory, sorted.
fn feed_files(paths: &[PathBuf]) -> Vec<PathBuf> {
    let is_feed = |path: &Path| {
        let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        name.ends_with(".ndjson") || name.ends_with(".ndjson.gz") || name.ends_with(".json")
    };
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let listing = std::fs::read_dir(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            let mut found: Vec<PathBuf> =
                listing.filter_map(|entry| entry.ok().map(|entry| entry.path())).filter(|path| is_feed(path)).collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    files
}

/// The kept resources of one feed file.
fn read_feed_file(path: &Path, load_instant: i64) -> Vec<(Kind, Entry)> {
    let fail = |line: usize, reason: &dyn std::fmt::Display| -> ! { panic!("{}:{line}: {reason}", path.display()) };
    let file = std::fs::File::open(path).unwrap_or_else(|error| fail(0, &error));
    let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    let reader: Box<dyn Read> =
        if name.ends_with(".gz") { Box::new(flate2::read::MultiGzDecoder::new(file)) } else { Box::new(file) };
    let mut entries = Vec::new();
    if name.ends_with(".json") {
        let document: Value = serde_json::from_reader(BufReader::new(reader)).unwrap_or_else(|error| fail(0, &error));
        let resources = match document {
            Value::Array(items) => items,
            Value::Object(ref object) if object.get("resourceType") == Some(&Value::from("Bundle")) => object
                .get("entry")
                .and_then(Value::as_array)
                .map(|entries| entries.iter().filter_map(|entry| entry.get("resource").cloned()).collect())
                .unwrap_or_default(),
            resource => vec![resource],
        };
        for (index, resource) in resources.iter().enumerate() {
            let text = serde_json::to_string(resource).expect("a JSON value serialises");
            match parse_entry(text, load_instant) {
                Ok(parsed) => entries.extend(parsed),
                Err(reason) => fail(index + 1, &reason),
            }
        }
        return entries;
    }
    for (index, line) in BufReader::new(reader).lines().enumerate() {
        let line = line.unwrap_or_else(|error| fail(index + 1, &error));
        if line.trim().is_empty() {
            continue;
        }
        match parse_entry(line, load_instant) {
            Ok(parsed) => entries.extend(parsed),
            Err(reason) => fail(index + 1, &reason),
        }
    }
    entries
}

// ---------------------------------------------------------------------------------------------
// Dates

/// A FHIR date, dateTime or instant of any precision (`2026`, `2026-12`, `2026-12-02`,
/// `2026-12-02T04:05`, `...:06`, `...:06.123`, with `Z`, an offset, or no zone read as UTC) as
/// the span of Unix milliseconds it covers, `[start, end)`.
fn parse_fhir_span(text: &str) -> Option<(i64, i64)> {
    const DAY_MS: i64 = 86_400_000;
    let bytes = text.as_bytes();
    let number = |at: usize, width: usize| -> Option<i64> {
        let digits = text.get(at..at + width)?;
        digits.bytes().all(|byte| byte.is_ascii_digit()).then(|| digits.parse().ok())?
    };
    let days = |year: i64, month: i64, day: i64| -> Option<i64> {
        let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
        let date = time::Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?).ok()?;
        Some(i64::from(date.to_julian_day()) - 2_440_588)
    };
    let year = number(0, 4)?;
    if bytes.len() == 4 {
        return Some((days(year, 1, 1)? * DAY_MS, days(year + 1, 1, 1)? * DAY_MS));
    }
    (bytes.get(4) == Some(&b'-')).then_some(())?;
    let month = number(5, 2)?;
    if bytes.len() == 7 {
        let (next_year, next_month) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
        return Some((days(year, month, 1)? * DAY_MS, days(next_year, next_month, 1)? * DAY_MS));
    }
    (bytes.get(7) == Some(&b'-')).then_some(())?;
    let day_start = days(year, month, number(8, 2)?)? * DAY_MS;
    if bytes.len() == 10 {
        return Some((day_start, day_start + DAY_MS));
    }
    (bytes.get(10) == Some(&b'T') && bytes.get(13) == Some(&b':')).then_some(())?;
    let (hour, minute) = (number(11, 2)?, number(14, 2)?);
    let (mut second, mut millis, mut precision, mut at) = (0, 0, 60_000, 16);
    if bytes.get(16) == Some(&b':') {
        (second, precision, at) = (number(17, 2)?, 1_000, 19);
        if bytes.get(19) == Some(&b'.') {
            let digits = bytes[20..].iter().take_while(|byte| byte.is_ascii_digit()).count();
            (digits > 0).then_some(())?;
            let kept = digits.min(3);
            millis = number(20, kept)? * 10_i64.pow(3 - kept as u32);
            precision = 10_i64.pow(3 - kept as u32);
            at = 20 + digits;
        }
    }
    (hour < 24 && minute < 60 && second < 60).then_some(())?;
    let offset_minutes = match &text[at..] {
        "" | "Z" => 0,
        zone if zone.len() == 6 && zone.as_bytes()[3] == b':' => {
            let sign = match zone.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (hours, minutes) = (number(at + 1, 2)?, number(at + 4, 2)?);
            (hours < 24 && minutes < 60).then_some(())?;
            sign * (hours * 60 + minutes)
        }
        _ => return None,
    };
    let start = day_start + hour * 3_600_000 + minute * 60_000 + second * 1_000 + millis - offset_minutes * 60_000;
    Some((start, start + precision))
}

/// An instant as the ROR writes it: RFC 3339, UTC, milliseconds (`2026-12-02T04:05:06.123Z`).
fn format_instant(unix_ms: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_ms) * 1_000_000)
        .expect("an instant of the simulator's clock");
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

// ---------------------------------------------------------------------------------------------
// Server: connections, faults, records

/// The error that makes hyper close a connection without answering.
#[derive(Debug)]
struct ConnectionDropped;

impl std::fmt::Display for ConnectionDropped {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("fault: connection dropped")
    }
}

impl std::error::Error for ConnectionDropped {}

/// Accepts connections until `stopped` (with a TLS handshake when configured).
async fn serve(listener: std::net::TcpListener, sim: Arc<Sim>, mut stopped: tokio::sync::oneshot::Receiver<()>) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
    let router = router(sim.clone());
    let acceptor = sim.config.tls.as_ref().map(|tls| tokio_rustls::TlsAcceptor::from(tls.server_config()));
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = &mut stopped => return,
        };
        let (sim, router, acceptor) = (sim.clone(), router.clone(), acceptor.clone());
        tokio::spawn(async move {
            let Some(acceptor) = acceptor else { return serve_connection(stream, sim, router, false).await };
            // A client without an accepted certificate fails the handshake: nothing to serve.
            let Ok(tls) = acceptor.accept(stream).await else { return };
            let certificate = tls.get_ref().1.peer_certificates().is_some_and(|chain| !chain.is_empty());
            serve_connection(tls, sim, router, certificate).await
        });
    }
}

/// A client certificate was presented on the request's connection.
#[derive(Clone, Copy)]
struct ClientCertificate;

/// Serves one connection with hyper (HTTP/1.1), each request through [`answer`].
async fn serve_connection<I>(io: I, sim: Arc<Sim>, router: Router, certificate: bool)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
        let mut request = request.map(Body::new);
        if certificate {
            request.extensions_mut().insert(ClientCertificate);
        }
        answer(sim.clone(), router.clone(), request)
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .serve_connection(hyper_util::rt::TokioIo::new(io), service)
        .await;
}

/// Records a request, applies the fault it matches, and routes it.
async fn answer(sim: Arc<Sim>, router: Router, request: Request) -> Result<Response, ConnectionDropped> {
    let path = request.uri().path_and_query().map_or_else(|| request.uri().path().to_owned(), |path| path.to_string());
    let fault = take_fault(&sim, &path);
    let sequence = record(&sim, &request, path, fault.clone());
    let response = match fault {
        None => route(router, request).await,
        Some(FaultKind::DropConnection) => return Err(ConnectionDropped),
        Some(FaultKind::Delay { millis }) => {
            tokio::time::sleep(Duration::from_millis(millis)).await;
            route(router, request).await
        }
        Some(FaultKind::Status429 { retry_after_secs }) => {
            FhirError::new(StatusCode::TOO_MANY_REQUESTS, "throttled", "fault: too many requests")
                .with_header(header::RETRY_AFTER, retry_after_secs.to_string())
                .into_response()
        }
        Some(FaultKind::Status503 { retry_after_secs }) => {
            let error = FhirError::new(StatusCode::SERVICE_UNAVAILABLE, "transient", "fault: service unavailable");
            match retry_after_secs {
                Some(seconds) => error.with_header(header::RETRY_AFTER, seconds.to_string()),
                None => error,
            }
            .into_response()
        }
        Some(FaultKind::Status500) => {
            FhirError::new(StatusCode::INTERNAL_SERVER_ERROR, "exception", "fault: internal error").into_response()
        }
        Some(FaultKind::Unauthorized) => {
            if let Some(token) = bearer_token(request.headers()) {
                sim.state().tokens.remove(token);
            }
            FhirError::invalid_token("fault: the access token was revoked").into_response()
        }
        Some(FaultKind::DropMidBody) => drop_mid_body(route(router, request).await).await,
        Some(FaultKind::Truncated) => truncate(route(router, request).await).await,
    };
    let status = response.status().as_u16();
    if let Some(recorded) = lock(&sim.requests).list.iter_mut().rev().find(|recorded| recorded.sequence == sequence) {
        recorded.status = Some(status);
    }
    Ok(response)
}

async fn route(router: Router, request: Request) -> Response {
    let Ok(response) = router.oneshot(request).await;
    response
}

/// Removes and returns the first queued fault whose matcher is in `path`.
fn take_fault(sim: &Sim, path: &str) -> Option<FaultKind> {
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    let mut faults = lock(&sim.faults);
    let at = faults.iter().position(|fault| path.contains(&fault.matcher) || decoded.contains(&fault.matcher))?;
    faults.remove(at).map(|fault| fault.kind)
}

/// Records a request (its status comes later) and returns its sequence number.
fn record(sim: &Sim, request: &Request, path: String, fault: Option<FaultKind>) -> u64 {
    let headers = request.headers();
    let present = |name: &str| headers.get(name).is_some_and(|value| !value.is_empty());
    let mut requests = lock(&sim.requests);
    let sequence = requests.next_sequence;
    requests.next_sequence += 1;
    requests.list.push(RecordedRequest {
        method: request.method().to_string(),
        path,
        status: None,
        authorization: headers.contains_key(header::AUTHORIZATION),
        ror_headers: ROR_HEADERS.iter().all(|(name, _)| present(name)),
        range: headers.get(header::RANGE).map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned()),
        fault,
        sequence,
    });
    sequence
}

/// The answer's headers with the full `Content-Length`, about half of its body, then an
/// aborted connection.
async fn drop_mid_body(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    let half = bytes.slice(..bytes.len() / 2);
    let sent = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(half) });
    // The pause lets hyper flush the half before the error aborts the connection.
    let broken = futures_util::stream::once(async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        Err(std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "fault: connection dropped mid-body"))
    });
    Response::from_parts(parts, Body::from_stream(sent.chain(broken)))
}

/// The answer with its body cut at about half, never right after a newline (so an NDJSON body
/// ends in a line without its newline).
async fn truncate(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let mut cut = bytes.len() / 2;
    while cut > 0 && bytes[cut - 1] == b'\n' {
        cut -= 1;
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes.slice(..cut)))
}

// ---------------------------------------------------------------------------------------------
// Routes

fn router(sim: Arc<Sim>) -> Router {
    let fhir = Router::new()
        .route("/$export", get(export_kickoff))
        .route("/$export-poll-status", get(export_status).delete(export_cancel))
        .route("/$export-file/{job}/{file}", get(export_file))
        .route("/{type}", get(search_get))
        .route("/{type}/{id}", get(read).post(search_post))
        .route_layer(middleware::from_fn_with_state(sim.clone(), require_access));
    let root = Router::new().route(TOKEN_PATH, axum::routing::post(token));
    let root = match sim.config.base_path.as_str() {
        "" => root.merge(fhir),
        base_path => root.nest(base_path, fhir),
    };
    root.fallback(not_found).method_not_allowed_fallback(method_not_allowed).with_state(sim)
}

async fn not_found(OriginalUri(uri): OriginalUri) -> FhirError {
    FhirError::not_found(format!("no such endpoint: {}", uri.path()))
}

async fn method_not_allowed() -> FhirError {
    FhirError::new(StatusCode::METHOD_NOT_ALLOWED, "not-supported", "method not allowed here")
}

/// An `OperationOutcome` answer.
struct FhirError {
    status: StatusCode,
    code: &'static str,
    diagnostics: String,
    headers: Vec<(HeaderName, String)>,
}

impl FhirError {
    fn new(status: StatusCode, code: &'static str, diagnostics: impl Into<String>) -> FhirError {
        FhirError { status, code, diagnostics: diagnostics.into(), headers: Vec::new() }
    }

    fn bad_request(diagnostics: impl Into<String>) -> FhirError {
        FhirError::new(StatusCode::BAD_REQUEST, "invalid", diagnostics)
    }

    fn not_supported(diagnostics: impl Into<String>) -> FhirError {
        FhirError::new(StatusCode::BAD_REQUEST, "not-supported", diagnostics)
    }

    fn not_found(diagnostics: impl Into<String>) -> FhirError {
        FhirError::new(StatusCode::NOT_FOUND, "not-found", diagnostics)
    }

    /// 401 for a token that is unknown, expired or revoked.
    fn invalid_token(diagnostics: impl Into<String>) -> FhirError {
        FhirError::new(StatusCode::UNAUTHORIZED, "login", diagnostics).with_header(
            header::WWW_AUTHENTICATE,
            "Bearer realm=\"ror\", error=\"invalid_token\", error_description=\"the access token is not valid\"",
        )
    }

    fn with_header(mut self, name: HeaderName, value: impl Into<String>) -> FhirError {
        self.headers.push((name, value.into()));
        self
    }
}

impl IntoResponse for FhirError {
    fn into_response(self) -> Response {
        let outcome = serde_json::json!({
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": self.code, "diagnostics": self.diagnostics}],
        });
        let mut response = fhir_json(self.status, outcome.to_string());
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::try_from(value) {
                response.headers_mut().append(name, value);
            }
        }
        response
    }
}

fn with_content_type(status: StatusCode, content_type: &'static str, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn fhir_json(status: StatusCode, body: String) -> Response {
    with_content_type(status, FHIR_JSON, body)
}

/// The query's parameters, in order, decoded.
fn query_params(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect()
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Every FHIR request: a live bearer token, then the four `Ror-*` headers.
async fn require_access(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    let Some(token) = bearer_token(request.headers()) else {
        return FhirError::new(StatusCode::UNAUTHORIZED, "login", "no bearer token")
            .with_header(header::WWW_AUTHENTICATE, "Bearer realm=\"ror\"")
            .into_response();
    };
    {
        let state = sim.state();
        match state.tokens.get(token) {
            Some(expiry) if *expiry > state.clock.peek() => {}
            Some(_) => return FhirError::invalid_token("the access token has expired").into_response(),
            None => return FhirError::invalid_token("unknown or revoked access token").into_response(),
        }
    }
    if sim.config.require_ror_headers {
        let missing = ROR_HEADERS
            .iter()
            .map(|(name, _)| *name)
            .find(|name| request.headers().get(*name).is_none_or(|value| value.is_empty()));
        if let Some(name) = missing {
            return FhirError::new(StatusCode::FORBIDDEN, "forbidden", format!("missing header {name}"))
                .into_response();
        }
    }
    next.run(request).await
}

// ---------------------------------------------------------------------------------------------
// Token endpoint

/// `POST` of the token endpoint: OAuth2 `client_credentials`, the client's id and secret in
/// the form or as HTTP Basic; over mutual TLS the certificate stands for the secret.
async fn token(
    State(sim): State<Arc<Sim>>,
    certificate: Option<Extension<ClientCertificate>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {}
        Some(_) => return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
        None => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request"),
    }
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|encoded| base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok())
        .and_then(|decoded| String::from_utf8(decoded).ok());
    let (client_id, client_secret) = match &basic {
        Some(pair) => pair.split_once(':').unwrap_or((pair.as_str(), "")),
        None => {
            (form.get("client_id").map_or("", String::as_str), form.get("client_secret").map_or("", String::as_str))
        }
    };
    let secret_holds = client_secret == sim.config.client_secret || (certificate.is_some() && client_secret.is_empty());
    if client_id != sim.config.client_id || !secret_holds {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let lifetime = sim.config.token_lifetime_secs;
    let access_token = {
        let mut state = sim.state();
        let now = state.clock.peek();
        state.tokens.retain(|_, expiry| *expiry > now);
        let access_token = state.random.token();
        let expiry = now.saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX).saturating_mul(1_000));
        state.tokens.insert(access_token.clone(), expiry);
        state.tokens_issued += 1;
        access_token
    };
    let body = serde_json::json!({
        "access_token": access_token,
        "expires_in": lifetime,
        "refresh_expires_in": 0,
        "token_type": "Bearer",
        "not-before-policy": 0,
        "scope": "profile email",
    });
    let mut response = with_content_type(StatusCode::OK, "application/json", body.to_string());
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    with_content_type(status, "application/json", serde_json::json!({ "error": error }).to_string())
}

// ---------------------------------------------------------------------------------------------
// Read

/// `GET [base]/<Type>/<id>`.
async fn read(
    State(sim): State<Arc<Sim>>,
    path: Result<UrlPath<(String, String)>, PathRejection>,
) -> Result<Response, FhirError> {
    let UrlPath((type_name, id)) = path.map_err(|rejection| FhirError::bad_request(rejection.body_text()))?;
    let kind = known_kind(&type_name)?;
    let state = sim.state();
    let entry =
        state.store.get(kind, &id).ok_or_else(|| FhirError::not_found(format!("{type_name}/{id} not found")))?;
    Ok(fhir_json(StatusCode::OK, entry.text.to_string()))
}

fn known_kind(type_name: &str) -> Result<Kind, FhirError> {
    Kind::parse(type_name).ok_or_else(|| FhirError::not_found(format!("unknown resource type {type_name}")))
}

// ---------------------------------------------------------------------------------------------
// Search

/// What a search asks, parsed from its parameters.
struct SearchQuery {
    kind: Kind,
    /// `_lastUpdated` as the span `[from, until)` of Unix ms.
    from: i64,
    until: i64,
    /// Every filter must hold (FHIR: repeated parameters are AND, comma lists OR).
    filters: Vec<Filter>,
    includes: Vec<Include>,
    count: usize,
}

enum Filter {
    Id(HashSet<String>),
    /// (system, value): `None` for "any".
    Identifier(Vec<(Option<String>, Option<String>)>),
    ProvidedBy(HashSet<Box<str>>),
    Location(HashSet<Box<str>>),
    PartOf(HashSet<Box<str>>),
}

impl Filter {
    fn holds(&self, entry: &Entry) -> bool {
        match self {
            Filter::Id(ids) => ids.contains(&*entry.id),
            Filter::Identifier(wanted) => wanted.iter().any(|(system, value)| {
                entry.identifiers.iter().any(|(held_system, held_value)| {
                    system.as_deref().is_none_or(|system| system == &**held_system)
                        && value.as_deref().is_none_or(|value| value == &**held_value)
                })
            }),
            Filter::ProvidedBy(ids) => entry.provided_by.as_ref().is_some_and(|id| ids.contains(id)),
            Filter::Location(ids) => entry.locations.iter().any(|id| ids.contains(id)),
            Filter::PartOf(ids) => entry.part_of.as_ref().is_some_and(|id| ids.contains(id)),
        }
    }
}

/// An `_include` or `_revinclude`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Include {
    /// `HealthcareService:organization` (providedBy).
    ServiceOrganization { iterate: bool },
    /// `HealthcareService:location`.
    ServiceLocation { iterate: bool },
    /// `Organization:partof`.
    OrganizationPartOf { iterate: bool },
    /// `_revinclude=HealthcareService:location`, on a Location search.
    ServicesOfLocation,
}

impl Include {
    fn iterates(self) -> bool {
        match self {
            Include::ServiceOrganization { iterate }
            | Include::ServiceLocation { iterate }
            | Include::OrganizationPartOf { iterate } => iterate,
            Include::ServicesOfLocation => false,
        }
    }

    /// The resources this include adds for one resource of the page.
    fn targets(self, store: &Store, kind: Kind, entry: &Entry) -> Vec<(Kind, Arc<str>)> {
        let existing =
            |kind: Kind, id: &str| store.collection(kind).entries.get_key_value(id).map(|(id, _)| (kind, id.clone()));
        match (self, kind) {
            (Include::ServiceOrganization { .. }, Kind::HealthcareService) => {
                entry.provided_by.iter().filter_map(|id| existing(Kind::Organization, id)).collect()
            }
            (Include::ServiceLocation { .. }, Kind::HealthcareService) => {
                entry.locations.iter().filter_map(|id| existing(Kind::Location, id)).collect()
            }
            (Include::OrganizationPartOf { .. }, Kind::Organization) => {
                entry.part_of.iter().filter_map(|id| existing(Kind::Organization, id)).collect()
            }
            (Include::ServicesOfLocation, Kind::Location) => store
                .services_by_location
                .get(&*entry.id)
                .map(|services| services.iter().map(|id| (Kind::HealthcareService, id.clone())).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}

/// A search's frozen result list, kept for its next pages.
struct SearchResult {
    kind: Kind,
    /// Ids in search order, at most `search_cap`.
    matches: Vec<Arc<str>>,
    /// Every match, past the cap too.
    total: usize,
    includes: Vec<Include>,
}

/// Parameters accepted and ignored by every search.
const IGNORED_PARAMS: [&str; 3] = ["_format", "_total", "_elements"];

/// `GET [base]/<Type>?...`.
async fn search_get(
    State(sim): State<Arc<Sim>>,
    path: Result<UrlPath<String>, PathRejection>,
    OriginalUri(uri): OriginalUri,
    RawQuery(query): RawQuery,
) -> Result<Response, FhirError> {
    let UrlPath(type_name) = path.map_err(|rejection| FhirError::bad_request(rejection.body_text()))?;
    let self_url = format!("{}{}", sim.origin, uri.path_and_query().map_or(uri.path(), |path| path.as_str()));
    search(&sim, &type_name, query_params(query.as_deref()), self_url)
}

/// `POST [base]/<Type>/_search`, the parameters form-encoded in the body (and the query).
async fn search_post(
    State(sim): State<Arc<Sim>>,
    path: Result<UrlPath<(String, String)>, PathRejection>,
    OriginalUri(uri): OriginalUri,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, FhirError> {
    let UrlPath((type_name, operation)) = path.map_err(|rejection| FhirError::bad_request(rejection.body_text()))?;
    if operation != "_search" {
        return Err(FhirError::new(StatusCode::METHOD_NOT_ALLOWED, "not-supported", "POST is only for _search"));
    }
    let mut params = query_params(query.as_deref());
    params.extend(form_urlencoded::parse(&body).into_owned());
    let self_url = format!("{}{}", sim.origin, uri.path());
    search(&sim, &type_name, params, self_url)
}

fn search(sim: &Sim, type_name: &str, params: Vec<(String, String)>, self_url: String) -> Result<Response, FhirError> {
    let kind = known_kind(type_name)?;
    if params.iter().any(|(name, _)| name == "_getpages") {
        return next_page(sim, kind, &params, self_url);
    }
    let query = parse_search(&sim.config, kind, &params)?;
    let mut state = sim.state();
    let collection = state.store.collection(query.kind);
    // An empty span (`ge` after `le`) would make `BTreeSet::range` panic.
    let until = query.until.max(query.from);
    let range = (Bound::Included((query.from, Arc::from(""))), Bound::Excluded((until, Arc::from(""))));
    let mut total = 0;
    let mut matches = Vec::new();
    // `_id`, `organization` and `partof` are looked up, the rest scanned in search order.
    let looked_up: Option<BTreeSet<(i64, Arc<str>)>> = query.filters.iter().find_map(|filter| {
        let ids: Vec<&str> = match filter {
            Filter::Id(ids) => ids.iter().map(String::as_str).collect(),
            Filter::ProvidedBy(parents) | Filter::PartOf(parents) => parents
                .iter()
                .filter_map(|parent| state.store.children.get(&**parent))
                .flatten()
                .map(|id| &**id)
                .collect(),
            _ => return None,
        };
        Some(
            ids.into_iter()
                .filter_map(|id| collection.entries.get(id))
                .map(|entry| (entry.last_updated, entry.id.clone()))
                .filter(|key| key.0 >= query.from && key.0 < until)
                .collect(),
        )
    });
    let candidates: Box<dyn Iterator<Item = &(i64, Arc<str>)>> = match &looked_up {
        Some(keys) => Box::new(keys.iter()),
        None => Box::new(collection.order.range::<(i64, Arc<str>), _>(range)),
    };
    for (_, id) in candidates {
        let entry = &collection.entries[id];
        if query.filters.iter().all(|filter| filter.holds(entry)) {
            total += 1;
            if matches.len() < sim.config.search_cap {
                matches.push(id.clone());
            }
        }
    }
    let result = SearchResult { kind, matches, total, includes: query.includes };
    let token = (query.count > 0 && result.matches.len() > query.count).then(|| state.random.token());
    let bundle = page_bundle(sim, &state, &result, token.as_deref(), 0, query.count, &self_url);
    if let Some(token) = token {
        state.searches.insert(token, result);
    }
    Ok(fhir_json(StatusCode::OK, bundle))
}

/// A next page: `_getpages=<token>&_getpagesoffset=<n>&_count=<n>`.
fn next_page(sim: &Sim, kind: Kind, params: &[(String, String)], self_url: String) -> Result<Response, FhirError> {
    let (mut token, mut offset, mut count) = (None, 0, sim.config.page_size_default.min(sim.config.page_size_max));
    for (name, value) in params {
        match name.as_str() {
            "_getpages" => token = Some(value.as_str()),
            "_getpagesoffset" => {
                offset = value.parse().map_err(|_| FhirError::bad_request(format!("bad _getpagesoffset {value:?}")))?
            }
            "_count" => count = page_size(&sim.config, value)?,
            name if IGNORED_PARAMS.contains(&name) => {}
            name => return Err(FhirError::not_supported(format!("parameter {name} is not allowed with _getpages"))),
        }
    }
    let token = token.unwrap_or_default();
    let state = sim.state();
    let result = state.searches.by_key.get(token).ok_or_else(|| {
        FhirError::new(StatusCode::GONE, "not-found", format!("search {token:?} is unknown or has expired"))
    })?;
    if result.kind != kind {
        return Err(FhirError::bad_request(format!("search {token:?} is a search of {}", result.kind.name())));
    }
    Ok(fhir_json(StatusCode::OK, page_bundle(sim, &state, result, Some(token), offset, count, &self_url)))
}

fn page_size(config: &SimConfig, value: &str) -> Result<usize, FhirError> {
    let count: usize = value.parse().map_err(|_| FhirError::bad_request(format!("bad _count {value:?}")))?;
    Ok(count.min(config.page_size_max))
}

fn parse_search(config: &SimConfig, kind: Kind, params: &[(String, String)]) -> Result<SearchQuery, FhirError> {
    let mut query = SearchQuery {
        kind,
        from: i64::MIN,
        until: i64::MAX,
        filters: Vec::new(),
        includes: Vec::new(),
        count: config.page_size_default.min(config.page_size_max),
    };
    let ids = |value: &str, type_name: &str| -> HashSet<Box<str>> {
        value
            .split(',')
            .filter_map(|item| if item.contains('/') { reference_id(item, type_name) } else { Some(item.into()) })
            .collect()
    };
    for (name, value) in params {
        if value.is_empty() && !name.starts_with("_include") && !name.starts_with("_revinclude") {
            continue;
        }
        match (name.as_str(), kind) {
            ("_count", _) => query.count = page_size(config, value)?,
            ("_id", _) => query.filters.push(Filter::Id(value.split(',').map(str::to_owned).collect())),
            ("_lastUpdated", _) => narrow_last_updated(&mut query, value)?,
            ("identifier", _) => query.filters.push(Filter::Identifier(
                value
                    .split(',')
                    .map(|token| match token.split_once('|') {
                        Some((system, value)) => {
                            (Some(system.to_owned()), (!value.is_empty()).then(|| value.to_owned()))
                        }
                        None => (None, Some(token.to_owned())),
                    })
                    .collect(),
            )),
            ("organization", Kind::HealthcareService) => {
                query.filters.push(Filter::ProvidedBy(ids(value, "Organization")))
            }
            ("location", Kind::HealthcareService) => query.filters.push(Filter::Location(ids(value, "Location"))),
            ("partof", Kind::Organization) => query.filters.push(Filter::PartOf(ids(value, "Organization"))),
            ("_include" | "_include:iterate", _) => {
                let iterate = name == "_include:iterate";
                let include = match value.as_str() {
                    "HealthcareService:organization" => Include::ServiceOrganization { iterate },
                    "HealthcareService:location" => Include::ServiceLocation { iterate },
                    "Organization:partof" => Include::OrganizationPartOf { iterate },
                    _ => return Err(FhirError::not_supported(format!("{name}={value} is not supported"))),
                };
                let source = value.split(':').next().unwrap_or_default();
                let applies = kind == Kind::HealthcareService || kind == Kind::Organization;
                if !applies || (!iterate && source != kind.name()) {
                    return Err(FhirError::not_supported(format!("{name}={value} does not apply to {}", kind.name())));
                }
                query.includes.push(include);
            }
            ("_revinclude", Kind::Location) if value == "HealthcareService:location" => {
                query.includes.push(Include::ServicesOfLocation)
            }
            ("_revinclude", _) => {
                return Err(FhirError::not_supported(format!(
                    "_revinclude={value} is not supported on {}",
                    kind.name()
                )));
            }
            (name, _) if IGNORED_PARAMS.contains(&name) => {}
            (name, _) => {
                return Err(FhirError::not_supported(format!("unknown search parameter {name} for {}", kind.name())));
            }
        }
    }
    Ok(query)
}

/// Narrows a search's `_lastUpdated` span by one `_lastUpdated` value (`ge`, `gt`, `le`, `lt`,
/// `eq` or no prefix, then a FHIR date of any precision).
fn narrow_last_updated(query: &mut SearchQuery, value: &str) -> Result<(), FhirError> {
    let has_prefix = value.len() > 2 && value.as_bytes()[..2].iter().all(u8::is_ascii_alphabetic);
    let (prefix, date) = if has_prefix { value.split_at(2) } else { ("eq", value) };
    let (start, end) =
        parse_fhir_span(date).ok_or_else(|| FhirError::bad_request(format!("bad _lastUpdated date {date:?}")))?;
    match prefix {
        "ge" => query.from = query.from.max(start),
        "gt" => query.from = query.from.max(end),
        "le" => query.until = query.until.min(end),
        "lt" => query.until = query.until.min(start),
        "eq" => (query.from, query.until) = (query.from.max(start), query.until.min(end)),
        _ => return Err(FhirError::not_supported(format!("_lastUpdated prefix {prefix:?} is not supported"))),
    }
    Ok(())
}

/// The `searchset` Bundle of one page: the matches of `[offset, offset + count)` still there,
/// then what the includes add, each once.
fn page_bundle(
    sim: &Sim,
    state: &SimState,
    result: &SearchResult,
    token: Option<&str>,
    offset: usize,
    count: usize,
    self_url: &str,
) -> String {
    let store = &state.store;
    let end = offset.saturating_add(count).min(result.matches.len());
    let page = result.matches.get(offset..end).unwrap_or_default();
    let mut listed: Vec<(Kind, Arc<str>)> =
        page.iter().filter(|id| store.get(result.kind, id).is_some()).map(|id| (result.kind, id.clone())).collect();
    let match_count = listed.len();
    let mut seen: HashSet<(Kind, Arc<str>)> = listed.iter().cloned().collect();
    for include in result.includes.iter().filter(|include| !include.iterates()) {
        for at in 0..match_count {
            let (kind, id) = listed[at].clone();
            for target in include.targets(store, kind, &store.collection(kind).entries[&id]) {
                if seen.insert(target.clone()) {
                    listed.push(target);
                }
            }
        }
    }
    let iterating: Vec<Include> = result.includes.iter().copied().filter(|include| include.iterates()).collect();
    let mut at = 0;
    while !iterating.is_empty() && at < listed.len() {
        let (kind, id) = listed[at].clone();
        for include in &iterating {
            for target in include.targets(store, kind, &store.collection(kind).entries[&id]) {
                if seen.insert(target.clone()) {
                    listed.push(target);
                }
            }
        }
        at += 1;
    }
    let mut bundle = String::with_capacity(
        listed.iter().map(|(kind, id)| store.collection(*kind).entries[id].text.len() + 200).sum(),
    );
    let _ = write!(
        bundle,
        r#"{{"resourceType":"Bundle","meta":{{"lastUpdated":"{}"}},"type":"searchset","total":{},"link":[{{"relation":"self","url":{}}}"#,
        format_instant(state.clock.peek()),
        result.total,
        json_string(self_url),
    );
    if let Some(token) = token.filter(|_| count > 0 && end < result.matches.len()) {
        let next =
            format!("{}/{}?_getpages={token}&_getpagesoffset={end}&_count={count}", sim.base_url, result.kind.name());
        let _ = write!(bundle, r#",{{"relation":"next","url":{}}}"#, json_string(&next));
    }
    bundle.push(']');
    // No `entry` at all when the page is empty (FHIR JSON has no empty arrays).
    for (at, (kind, id)) in listed.iter().enumerate() {
        bundle.push_str(if at == 0 { r#","entry":["# } else { "," });
        let mode = if at < match_count { "match" } else { "include" };
        let entry = &store.collection(*kind).entries[id];
        let _ = write!(
            bundle,
            r#"{{"fullUrl":{},"resource":{},"search":{{"mode":"{mode}"}}}}"#,
            json_string(&format!("{}/{}/{}", sim.base_url, kind.name(), id)),
            entry.text
        );
    }
    bundle.push_str(if listed.is_empty() { "}" } else { "]}" });
    bundle
}

fn json_string(text: &str) -> String {
    Value::String(text.to_owned()).to_string()
}

// ---------------------------------------------------------------------------------------------
// $export

/// An `$export` job: its content frozen at kick-off.
struct Job {
    /// The clock at kick-off.
    transaction_time: i64,
    /// The kick-off URL.
    request: String,
    files: Vec<ExportFile>,
    polls: u32,
}

/// One output file: resources of one type, as (id, text).
struct ExportFile {
    kind: Kind,
    resources: Vec<(Arc<str>, Arc<str>)>,
}

/// `GET [base]/$export`: freezes the complete set (whatever `_type` says, like the ROR) of the
/// resources with `meta.lastUpdated >= _since`, and answers 202 with the status URL.
async fn export_kickoff(
    State(sim): State<Arc<Sim>>,
    OriginalUri(uri): OriginalUri,
    RawQuery(query): RawQuery,
) -> Result<Response, FhirError> {
    let mut since = i64::MIN;
    for (name, value) in query_params(query.as_deref()) {
        match name.as_str() {
            "_type" => {
                if let Some(unknown) = value.split(',').find(|name| Kind::parse(name).is_none()) {
                    return Err(FhirError::not_supported(format!("_type {unknown} is not exported")));
                }
            }
            "_since" => {
                since = parse_fhir_span(&value)
                    .ok_or_else(|| FhirError::bad_request(format!("bad _since instant {value:?}")))?
                    .0
            }
            "_outputFormat" => check_output_format(&sim.config, &value)?,
            "_typeFilter" | "includeAssociatedData" => {}
            name => return Err(FhirError::not_supported(format!("unknown $export parameter {name}"))),
        }
    }
    let batch_size = sim.config.export_batch_size.max(1);
    let mut state = sim.state();
    let transaction_time = state.clock.tick();
    let mut files = Vec::new();
    for kind in Kind::ALL {
        let collection = state.store.collection(kind);
        let range = (Bound::Included((since, Arc::from(""))), Bound::Unbounded);
        let resources: Vec<(Arc<str>, Arc<str>)> = collection
            .order
            .range::<(i64, Arc<str>), _>(range)
            .map(|(_, id)| (id.clone(), collection.entries[id].text.clone()))
            .collect();
        for batch in resources.chunks(batch_size) {
            files.push(ExportFile { kind, resources: batch.to_vec() });
        }
    }
    let job_id = state.random.uuid();
    let request = format!("{}{}", sim.origin, uri.path_and_query().map_or(uri.path(), |path| path.as_str()));
    state.jobs.insert(job_id.clone(), Job { transaction_time, request, files, polls: 0 });
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::ACCEPTED;
    let status_url = format!("{}/$export-poll-status?_jobId={job_id}", sim.base_url);
    response.headers_mut().insert(header::CONTENT_LOCATION, header_value(&status_url));
    Ok(response)
}

/// The ROR writes `application/fhir+json` only (its deviation from Bulk Data); a standard
/// server NDJSON only.
fn check_output_format(config: &SimConfig, format: &str) -> Result<(), FhirError> {
    let ndjson = matches!(format, "application/fhir+ndjson" | "application/ndjson" | "ndjson");
    let json = matches!(format, "application/fhir+json" | "application/json");
    match (ndjson, json) {
        (true, _) if config.export_ndjson => Ok(()),
        (_, true) if !config.export_ndjson => Ok(()),
        _ => Err(FhirError::not_supported(format!("_outputFormat {format} is not supported"))),
    }
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::try_from(text).expect("a header value the simulator writes")
}

/// The `_jobId` of a status request.
fn job_id(query: Option<&str>) -> Result<String, FhirError> {
    let mut job = None;
    for (name, value) in query_params(query) {
        match name.as_str() {
            "_jobId" => job = Some(value),
            name => return Err(FhirError::not_supported(format!("unknown parameter {name}"))),
        }
    }
    job.ok_or_else(|| FhirError::bad_request("_jobId is missing"))
}

/// `GET [base]/$export-poll-status?_jobId=`: 202 for the first polls, then the manifest.
async fn export_status(State(sim): State<Arc<Sim>>, RawQuery(query): RawQuery) -> Result<Response, FhirError> {
    let job_id = job_id(query.as_deref())?;
    let mut state = sim.state();
    let job =
        state.jobs.by_key.get_mut(&job_id).ok_or_else(|| FhirError::not_found(format!("no export job {job_id}")))?;
    job.polls = job.polls.saturating_add(1);
    let before_ready = sim.config.export_polls_before_ready;
    if job.polls <= before_ready {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::ACCEPTED;
        let headers = response.headers_mut();
        headers.insert(header::RETRY_AFTER, HeaderValue::from(sim.config.export_retry_after_secs));
        let progress = format!("in progress (poll {} of {before_ready})", job.polls);
        headers.insert(HeaderName::from_static("x-progress"), header_value(&progress));
        return Ok(response);
    }
    let output: Vec<Value> = job
        .files
        .iter()
        .enumerate()
        .map(|(number, file)| {
            serde_json::json!({
                "type": file.kind.name(),
                "url": format!("{}/$export-file/{job_id}/{number}", sim.base_url),
                "count": file.resources.len(),
            })
        })
        .collect();
    let manifest = serde_json::json!({
        "transactionTime": format_instant(job.transaction_time),
        "request": job.request,
        "requiresAccessToken": true,
        "output": output,
        "error": [],
    });
    Ok(with_content_type(StatusCode::OK, "application/json", manifest.to_string()))
}

/// `DELETE [base]/$export-poll-status?_jobId=`: cancels the job (its URLs then answer 404).
async fn export_cancel(State(sim): State<Arc<Sim>>, RawQuery(query): RawQuery) -> Result<Response, FhirError> {
    let job_id = job_id(query.as_deref())?;
    sim.state().jobs.remove(&job_id).ok_or_else(|| FhirError::not_found(format!("no export job {job_id}")))?;
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::ACCEPTED;
    Ok(response)
}

/// `GET [base]/$export-file/<job>/<n>`: the whole file, or from a `Range` (206).
async fn export_file(
    State(sim): State<Arc<Sim>>,
    path: Result<UrlPath<(String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, FhirError> {
    let UrlPath((job_id, number)) = path.map_err(|rejection| FhirError::bad_request(rejection.body_text()))?;
    let missing = || FhirError::not_found(format!("no export file {job_id}/{number}"));
    let bytes = {
        let state = sim.state();
        let job = state.jobs.by_key.get(&job_id).ok_or_else(missing)?;
        let file = number.parse::<usize>().ok().and_then(|number| job.files.get(number)).ok_or_else(missing)?;
        file_bytes(&sim, file)
    };
    let content_type = if sim.config.export_ndjson { FHIR_NDJSON } else { FHIR_JSON };
    let length = bytes.len();
    let range = match headers.get(header::RANGE) {
        None => None,
        Some(value) => {
            let value = value.to_str().map_err(|_| FhirError::bad_request("bad Range header"))?;
            match byte_range(value, length)? {
                Some(range) => Some(range),
                None => {
                    return Err(FhirError::new(StatusCode::RANGE_NOT_SATISFIABLE, "invalid", "range not satisfiable")
                        .with_header(header::CONTENT_RANGE, format!("bytes */{length}")));
                }
            }
        }
    };
    let mut response = match range {
        None => with_content_type(StatusCode::OK, content_type, bytes),
        Some((first, last)) => {
            let mut response =
                with_content_type(StatusCode::PARTIAL_CONTENT, content_type, bytes[first..=last].to_vec());
            let content_range = format!("bytes {first}-{last}/{length}");
            response.headers_mut().insert(header::CONTENT_RANGE, header_value(&content_range));
            response
        }
    };
    response.headers_mut().insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    Ok(response)
}

/// A file's bytes, the same on every request: NDJSON, or a `collection` Bundle.
fn file_bytes(sim: &Sim, file: &ExportFile) -> Vec<u8> {
    let size: usize = file.resources.iter().map(|(_, text)| text.len() + 1).sum();
    if sim.config.export_ndjson {
        let mut out = Vec::with_capacity(size);
        for (_, text) in &file.resources {
            out.extend_from_slice(text.as_bytes());
            out.push(b'\n');
        }
        return out;
    }
    let mut out = String::with_capacity(size + file.resources.len() * 100 + 64);
    out.push_str(r#"{"resourceType":"Bundle","type":"collection","entry":["#);
    for (at, (id, text)) in file.resources.iter().enumerate() {
        if at > 0 {
            out.push(',');
        }
        let full_url = format!("{}/{}/{id}", sim.base_url, file.kind.name());
        let _ = write!(out, r#"{{"fullUrl":{},"resource":{text}}}"#, json_string(&full_url));
    }
    out.push_str("]}");
    out.into_bytes()
}

/// The inclusive byte span of a single-range `Range` header (`bytes=N-`, `bytes=N-M`,
/// `bytes=-S`) over `length` bytes; `None` when it is not satisfiable.
fn byte_range(value: &str, length: usize) -> Result<Option<(usize, usize)>, FhirError> {
    let malformed = || FhirError::bad_request(format!("unsupported Range {value:?} (one bytes=N-, N-M or -S range)"));
    let spec = value.trim().strip_prefix("bytes=").ok_or_else(malformed)?;
    let (first, last) = spec.split_once('-').ok_or_else(malformed)?;
    let number = |text: &str| text.trim().parse::<usize>().map_err(|_| malformed());
    let (first, last) = match (first.trim().is_empty(), last.trim().is_empty()) {
        (true, false) => {
            let suffix = number(last)?;
            if suffix == 0 {
                return Ok(None);
            }
            (length.saturating_sub(suffix), length.saturating_sub(1))
        }
        (false, true) => (number(first)?, length.saturating_sub(1)),
        (false, false) => {
            let (first, last) = (number(first)?, number(last)?);
            if last < first {
                return Err(malformed());
            }
            (first, last.min(length.saturating_sub(1)))
        }
        (true, true) => return Err(malformed()),
    };
    Ok((first < length).then_some((first, last)))
}
