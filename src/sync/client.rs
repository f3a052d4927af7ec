//! The HTTP client of the national ROR as its API wants to be called: an OAuth2
//! `client_credentials` token (with a secret for profile 0, with the client certificate of an
//! mTLS connection for profiles 1-5) refreshed before it expires, the four `Ror-*` headers on
//! every request, and retries with backoff on what is worth retrying (429 and 503 with their
//! `Retry-After`, other 5xx, broken connections, timeouts, bodies cut short).
//!
//! Blocking (ureq): the sync runs on a thread of its own, beside or inside the server.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::config::{Credentials, SyncConfig};

/// Why a call to the upstream failed for good (after its retries).
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The upstream answered an error that retrying does not cure.
    #[error("{method} {url}: HTTP {status}: {body}")]
    Status {
        /// `GET`, `POST`...
        method: &'static str,
        /// The URL called.
        url: String,
        /// The status.
        status: u16,
        /// The start of the body (an OperationOutcome's diagnostics, usually).
        body: String,
    },
    /// Still failing after every retry.
    #[error("{url}: gave up after {attempts} attempts, the last: {last}")]
    Exhausted {
        /// The URL called.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// What the last attempt got.
        last: String,
    },
    /// The token endpoint refused the credentials.
    #[error("token endpoint {url}: {reason}")]
    Token {
        /// The token endpoint.
        url: String,
        /// Why (its `error`, or the transport error).
        reason: String,
    },
    /// A local file could not be written (a download, a file of a pull).
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The configuration cannot make a client (a certificate that does not load...).
    #[error("{0}")]
    Config(String),
}

/// What went wrong with one attempt, and whether another is worth it.
#[derive(Debug)]
enum Attempt {
    /// Retry, after at least this long (a `Retry-After`), for this reason.
    Retry { after: Option<Duration>, reason: String },
    /// The token was refused: fetch a new one, then retry (once per call).
    Reauthenticate(String),
    /// Give up.
    Fatal(UpstreamError),
}

/// Counters of the client, for the pull reports and `/metrics`.
#[derive(Debug, Default)]
pub struct ClientStats {
    /// Requests sent (retries included).
    pub requests: AtomicU64,
    /// Retries, any reason.
    pub retries: AtomicU64,
    /// Tokens fetched.
    pub tokens: AtomicU64,
    /// Bytes received in bodies.
    pub bytes: AtomicU64,
}

struct Token {
    value: String,
    /// Refresh once this instant has passed (some time before the real expiry).
    refresh_at: Instant,
}

/// The upstream FHIR server.
pub struct Upstream {
    agent: ureq::Agent,
    /// The FHIR base, without a trailing slash.
    pub(crate) base: String,
    credentials: Credentials,
    headers: Vec<(String, String)>,
    token: Mutex<Option<Token>>,
    attempts: u32,
    backoff_initial: Duration,
    backoff_max: Duration,
    /// Counters.
    pub stats: ClientStats,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream").field("base", &self.base).finish()
    }
}

/// A body read whole.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Fetched {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }
}

/// A file downloaded whole.
#[derive(Debug, Clone)]
pub struct Downloaded {
    /// Its size, bytes.
    pub bytes: u64,
    /// Its SHA-256, hex.
    pub sha256: String,
    /// How many times the download resumed from where a broken connection left it.
    pub resumed: u32,
    /// How many times it was downloaded again from the start (a truncated file).
    pub restarted: u32,
    /// Whether it holds several JSON documents (NDJSON) rather than one (a Bundle).
    pub ndjson: bool,
}

fn retry_after(value: Option<&str>) -> Option<Duration> {
    let value = value?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    // An HTTP-date: how long until then.
    let at = crate::util::time::parse_http_date(value)?;
    let now = crate::util::time::now();
    Some(Duration::from_secs(at.saturating_sub(now).max(0) as u64))
}

fn headers_of(response: &ureq::http::Response<ureq::Body>) -> Vec<(String, String)> {
    response
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect()
}

fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(400)]).into_owned();
    // An OperationOutcome's diagnostics say it best.
    if let Ok(outcome) = serde_json::from_slice::<serde_json::Value>(bytes)
        && let Some(diagnostics) = outcome["issue"][0]["diagnostics"].as_str()
    {
        return diagnostics.to_owned();
    }
    text
}

impl Upstream {
    /// A client for `config`'s upstream (loads the client certificate and CA when given).
    pub fn new(config: &SyncConfig) -> Result<Upstream, UpstreamError> {
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(ca) = &config.ca_file {
            let pem = std::fs::read(ca)
                .map_err(|error| UpstreamError::Config(format!("ca_file {}: {error}", ca.display())))?;
            let mut roots = Vec::new();
            for item in ureq::tls::parse_pem(&pem) {
                match item {
                    Ok(ureq::tls::PemItem::Certificate(certificate)) => roots.push(certificate),
                    Ok(_) => {}
                    Err(error) => {
                        return Err(UpstreamError::Config(format!("ca_file {}: {error}", ca.display())));
                    }
                }
            }
            if roots.is_empty() {
                return Err(UpstreamError::Config(format!("ca_file {}: no certificate in it", ca.display())));
            }
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&roots));
        }
        if let Credentials::Certificate { cert_file, key_file, .. } = &config.credentials {
            let read = |path: &Path| {
                std::fs::read(path).map_err(|error| UpstreamError::Config(format!("{}: {error}", path.display())))
            };
            let cert_pem = read(cert_file)?;
            let mut chain = Vec::new();
            for item in ureq::tls::parse_pem(&cert_pem) {
                if let Ok(ureq::tls::PemItem::Certificate(certificate)) = item {
                    chain.push(certificate);
                }
            }
            if chain.is_empty() {
                return Err(UpstreamError::Config(format!(
                    "client_cert {}: no certificate in it",
                    cert_file.display()
                )));
            }
            let key = ureq::tls::PrivateKey::from_pem(&read(key_file)?)
                .map_err(|error| UpstreamError::Config(format!("client_key {}: {error}", key_file.display())))?;
            tls = tls.client_cert(Some(ureq::tls::ClientCert::new_with_certs(&chain, key)));
        }
        let timeout = Duration::from_secs(config.timeout_secs.max(1));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10).min(timeout)))
            .timeout_recv_response(Some(timeout))
            .timeout_recv_body(Some(timeout * 10))
            .timeout_per_read(Some(timeout))
            .max_redirects(3)
            .user_agent(concat!("ror-search/", env!("CARGO_PKG_VERSION")))
            .tls_config(tls.build())
            .build()
            .into();
        Ok(Upstream {
            agent,
            base: config.base.trim_end_matches('/').to_owned(),
            credentials: config.credentials.clone(),
            headers: config.ror_headers.pairs(),
            token: Mutex::new(None),
            attempts: config.retries + 1,
            backoff_initial: Duration::from_millis(config.backoff_initial_ms.max(1)),
            backoff_max: Duration::from_secs(config.backoff_max_secs.max(1)),
            stats: ClientStats::default(),
        })
    }

    /// `base` + `path` (a path that is already a URL is kept).
    pub(crate) fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}/{}", self.base, path.trim_start_matches('/'))
        }
    }

    /// The bearer token to send (fetched or refreshed when needed); `None` without credentials.
    fn bearer(&self, force: bool) -> Result<Option<String>, UpstreamError> {
        let (token_url, client_id, secret) = match &self.credentials {
            Credentials::None => return Ok(None),
            Credentials::Bearer(token) => return Ok(Some(token.clone())),
            Credentials::Secret { token_url, client_id, client_secret } => {
                (token_url, client_id, Some(client_secret.as_str()))
            }
            Credentials::Certificate { token_url, client_id, .. } => (token_url, client_id, None),
        };
        let mut held = self.token.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !force && let Some(token) = held.as_ref().filter(|token| Instant::now() < token.refresh_at) {
            return Ok(Some(token.value.clone()));
        }
        let mut form = vec![("grant_type", "client_credentials"), ("client_id", client_id.as_str())];
        if let Some(secret) = secret {
            form.push(("client_secret", secret));
        }
        let mut last = String::new();
        for attempt in 0..self.attempts {
            if attempt > 0 {
                self.stats.retries.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(self.backoff(attempt, None));
            }
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            let mut response = match self.agent.post(token_url).send_form(form.iter().copied()) {
                Ok(response) => response,
                Err(error) => {
                    last = error.to_string();
                    continue;
                }
            };
            let status = response.status().as_u16();
            let body = response.body_mut().read_to_vec().unwrap_or_default();
            if status == 429 || status >= 500 {
                last = format!("HTTP {status}");
                continue;
            }
            let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let Some(value) = json["access_token"].as_str().filter(|_| status == 200) else {
                let reason = json["error_description"].as_str().or(json["error"].as_str()).unwrap_or("no access_token");
                return Err(UpstreamError::Token {
                    url: token_url.clone(),
                    reason: format!("HTTP {status}: {reason}"),
                });
            };
            let lifetime = Duration::from_secs(json["expires_in"].as_u64().unwrap_or(300));
            // Refresh when a tenth of the lifetime (at most a minute) is left.
            let margin = (lifetime / 10).min(Duration::from_secs(60));
            self.stats.tokens.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(lifetime_secs = lifetime.as_secs(), "upstream token fetched");
            *held = Some(Token { value: value.to_owned(), refresh_at: Instant::now() + lifetime - margin });
            return Ok(Some(value.to_owned()));
        }
        Err(UpstreamError::Token { url: token_url.clone(), reason: last })
    }

    fn backoff(&self, attempt: u32, at_least: Option<Duration>) -> Duration {
        let exponential = self.backoff_initial.saturating_mul(1u32 << attempt.min(16)).min(self.backoff_max);
        at_least
            .map_or(exponential, |floor| floor.max(exponential / 2))
            .min(self.backoff_max.max(at_least.unwrap_or_default()))
    }

    fn request(
        &self,
        method: &'static str,
        url: &str,
        bearer: Option<&str>,
        extra: &[(&str, String)],
    ) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let mut request = match method {
            "DELETE" => self.agent.delete(url),
            _ => self.agent.get(url),
        };
        if let Some(token) = bearer {
            request = request.header("authorization", &format!("Bearer {token}"));
        }
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        for (name, value) in extra {
            request = request.header(*name, value);
        }
        request.call()
    }

    /// Runs `attempt` until it succeeds, retrying what is worth it (with backoff, honouring
    /// `Retry-After`, fetching a new token once after a 401).
    fn with_retries<T>(
        &self,
        url: &str,
        mut attempt: impl FnMut(Option<&str>) -> Result<T, Attempt>,
    ) -> Result<T, UpstreamError> {
        let mut reauthenticated = false;
        let mut force_token = false;
        let mut last = String::new();
        let mut tries = 0;
        while tries < self.attempts {
            let bearer = self.bearer(force_token)?;
            force_token = false;
            match attempt(bearer.as_deref()) {
                Ok(value) => return Ok(value),
                Err(Attempt::Fatal(error)) => return Err(error),
                Err(Attempt::Reauthenticate(reason)) if !reauthenticated => {
                    tracing::info!(%url, %reason, "upstream refused the token: fetching a new one");
                    reauthenticated = true;
                    force_token = true;
                    last = reason;
                    continue;
                }
                Err(Attempt::Reauthenticate(reason)) => {
                    return Err(UpstreamError::Status {
                        method: "GET",
                        url: url.to_owned(),
                        status: 401,
                        body: reason,
                    });
                }
                Err(Attempt::Retry { after, reason }) => {
                    tries += 1;
                    if tries >= self.attempts {
                        last = reason;
                        break;
                    }
                    let wait = self.backoff(tries, after);
                    tracing::warn!(%url, %reason, wait_ms = wait.as_millis() as u64, attempt = tries, "upstream call failed: retrying");
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(wait);
                    last = reason;
                }
            }
        }
        Err(UpstreamError::Exhausted { url: url.to_owned(), attempts: self.attempts, last })
    }

    /// Sorts a status into success, retry, reauthentication or failure.
    fn judge(
        method: &'static str,
        url: &str,
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Option<Attempt> {
        let header =
            |name: &str| headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
        match status {
            200..=299 => None,
            401 => Some(Attempt::Reauthenticate(snippet(body))),
            408 | 429 | 500 | 502 | 503 | 504 => Some(Attempt::Retry {
                after: retry_after(header("retry-after")),
                reason: format!("HTTP {status}: {}", snippet(body)),
            }),
            _ => {
                Some(Attempt::Fatal(UpstreamError::Status { method, url: url.to_owned(), status, body: snippet(body) }))
            }
        }
    }

    /// A GET read whole (`accept` as the Accept header); a 2xx is returned, the rest retried
    /// or failed. `check` may refuse a body (one that does not parse: cut short) to retry it.
    pub(crate) fn get_checked(
        &self,
        path: &str,
        accept: &str,
        extra: &[(&str, String)],
        check: &dyn Fn(&Fetched) -> Result<(), String>,
    ) -> Result<Fetched, UpstreamError> {
        self.call("GET", path, accept, extra, check)
    }

    /// A DELETE (the export job's cancellation), 2xx or an error.
    pub(crate) fn delete(&self, path: &str) -> Result<Fetched, UpstreamError> {
        self.call("DELETE", path, "application/fhir+json", &[], &|_| Ok(()))
    }

    fn call(
        &self,
        method: &'static str,
        path: &str,
        accept: &str,
        extra: &[(&str, String)],
        check: &dyn Fn(&Fetched) -> Result<(), String>,
    ) -> Result<Fetched, UpstreamError> {
        let url = self.url(path);
        let mut headers: Vec<(&str, String)> = vec![("accept", accept.to_owned())];
        headers.extend(extra.iter().cloned());
        self.with_retries(&url, |bearer| {
            let mut response = self
                .request(method, &url, bearer, &headers)
                .map_err(|error| Attempt::Retry { after: None, reason: error.to_string() })?;
            let status = response.status().as_u16();
            let response_headers = headers_of(&response);
            let body = response
                .body_mut()
                .with_config()
                .limit(u64::MAX)
                .read_to_vec()
                .map_err(|error| Attempt::Retry { after: None, reason: format!("body cut short: {error}") })?;
            self.stats.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
            if let Some(verdict) = Self::judge(method, &url, status, &response_headers, &body) {
                return Err(verdict);
            }
            let fetched = Fetched { status, headers: response_headers, body };
            check(&fetched).map_err(|reason| Attempt::Retry { after: None, reason })?;
            Ok(fetched)
        })
    }

    /// A GET of FHIR JSON, parsed; a body that does not parse (cut short) is fetched again.
    pub(crate) fn get_json(&self, path: &str) -> Result<(Fetched, serde_json::Value), UpstreamError> {
        let parsed = std::cell::RefCell::new(serde_json::Value::Null);
        let fetched = self.get_checked(path, "application/fhir+json", &[], &|fetched| {
            let value: serde_json::Value = serde_json::from_slice(&fetched.body)
                .map_err(|error| format!("the body is not JSON (cut short?): {error}"))?;
            *parsed.borrow_mut() = value;
            Ok(())
        })?;
        Ok((fetched, parsed.into_inner()))
    }

    /// Downloads `url` into `path`, resuming with `Range` after a broken connection and
    /// downloading again from the start when the file's content turns out cut short.
    pub(crate) fn download(&self, url: &str, path: &Path, with_token: bool) -> Result<Downloaded, UpstreamError> {
        let url = self.url(url);
        let io = |source| UpstreamError::Io { path: path.display().to_string(), source };
        let _ = std::fs::remove_file(path);
        let mut resumed = 0;
        let mut restarted = 0;
        let outcome = self.with_retries(&url, |bearer| {
            let have = std::fs::metadata(path).map(|metadata| metadata.len()).unwrap_or(0);
            let mut headers: Vec<(&str, String)> = vec![
                ("accept", "application/fhir+ndjson, application/fhir+json, application/json".to_owned()),
                ("accept-encoding", "identity".to_owned()),
            ];
            if have > 0 {
                headers.push(("range", format!("bytes={have}-")));
            }
            let bearer = if with_token { bearer } else { None };
            let mut response = self
                .request("GET", &url, bearer, &headers)
                .map_err(|error| Attempt::Retry { after: None, reason: error.to_string() })?;
            let status = response.status().as_u16();
            let response_headers = headers_of(&response);
            if status >= 300 {
                let body = response.body_mut().read_to_vec().unwrap_or_default();
                if status == 416 {
                    // What we hold is not a prefix the server knows: start again.
                    let _ = std::fs::remove_file(path);
                    restarted += 1;
                    return Err(Attempt::Retry { after: None, reason: "416 on resume".into() });
                }
                return Err(Self::judge("GET", &url, status, &response_headers, &body).expect("not a success"));
            }
            let header = |name: &str| {
                response_headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
            };
            let appending = status == 206
                && have > 0
                && header("content-range")
                    .is_some_and(|range| range.trim_start_matches("bytes ").starts_with(&format!("{have}-")));
            if have > 0 {
                if appending {
                    resumed += 1;
                } else {
                    // The server sent the whole file again.
                    restarted += 1;
                }
            }
            let expected = header("content-length").and_then(|length| length.trim().parse::<u64>().ok());
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .write(true)
                .append(appending)
                .truncate(!appending)
                .open(path)
                .map_err(|error| Attempt::Fatal(io(error)))?;
            let mut reader = response.body_mut().with_config().limit(u64::MAX).reader();
            let mut buffer = vec![0u8; 1 << 16];
            let mut received = 0u64;
            loop {
                match reader.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(count) => {
                        file.write_all(&buffer[..count]).map_err(|error| Attempt::Fatal(io(error)))?;
                        received += count as u64;
                    }
                    Err(error) => {
                        self.stats.bytes.fetch_add(received, Ordering::Relaxed);
                        file.flush().map_err(|error| Attempt::Fatal(io(error)))?;
                        return Err(Attempt::Retry {
                            after: None,
                            reason: format!("connection broken after {received} bytes: {error}"),
                        });
                    }
                }
            }
            self.stats.bytes.fetch_add(received, Ordering::Relaxed);
            file.sync_all().map_err(|error| Attempt::Fatal(io(error)))?;
            if let Some(expected) = expected
                && received < expected
            {
                return Err(Attempt::Retry { after: None, reason: format!("{received} of {expected} bytes received") });
            }
            match inspect_file(path).map_err(|error| Attempt::Fatal(io(error)))? {
                Ok(inspected) => Ok(inspected),
                Err(reason) => {
                    let _ = std::fs::remove_file(path);
                    restarted += 1;
                    Err(Attempt::Retry { after: None, reason })
                }
            }
        });
        let Inspected { bytes, sha256, ndjson } = outcome?;
        Ok(Downloaded { bytes, sha256, resumed, restarted, ndjson })
    }
}

/// A downloaded file, read once.
struct Inspected {
    bytes: u64,
    sha256: String,
    ndjson: bool,
}

/// Reads a downloaded file once, streaming: its size and SHA-256, and whether it is whole. It
/// must be JSON documents separated by whitespace: one (a Bundle) or several (NDJSON, the last
/// line with or without its newline); a file cut short ends inside a document. `Err` inside is
/// that reason; the outer error is the file's.
fn inspect_file(path: &Path) -> std::io::Result<Result<Inspected, String>> {
    let file = std::fs::File::open(path)?;
    let mut reader = crate::util::hashing::HashingReader::new(std::io::BufReader::with_capacity(1 << 20, file));
    let mut documents = 0u64;
    for document in serde_json::Deserializer::from_reader(&mut reader).into_iter::<serde::de::IgnoredAny>() {
        if let Err(error) = document {
            if error.is_io() {
                return Err(std::io::Error::other(error));
            }
            return Ok(Err(format!("JSON document {} cut short or broken: {error}", documents + 1)));
        }
        documents += 1;
    }
    let (bytes, sha256) = reader.finish()?;
    Ok(Ok(Inspected { bytes, sha256, ndjson: documents > 1 }))
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(retry_after(Some("3")), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")), Some(Duration::ZERO));
        assert_eq!(retry_after(Some("soon")), None);
        assert_eq!(retry_after(None), None);
    }

    #[test]
    fn files_cut_short_are_caught() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("file");
        // (content, whole, NDJSON)
        let cases: [(&[u8], bool, bool); 6] = [
            (b"{\"resourceType\":\"Bundle\",\"entry\":[]}", true, false),
            (b"{\"resourceType\":\"Bundle\",\"entry\":[", false, false),
            (b"{\"a\":1}\n{\"b\":2}\n", true, true),
            (b"{\"a\":1}\n{\"b\":2}", true, true),
            (b"{\"a\":1}\n{\"b\":", false, true),
            (b"{\"a\":1}\n{\"b\":2}\n{\"c\"", false, true),
        ];
        for (bytes, whole, ndjson) in cases {
            std::fs::write(&path, bytes).unwrap();
            let inspected = inspect_file(&path).unwrap();
            assert_eq!(inspected.is_ok(), whole, "{:?}", String::from_utf8_lossy(bytes));
            if let Ok(inspected) = inspected {
                assert_eq!(inspected.ndjson, ndjson);
                assert_eq!(inspected.bytes, bytes.len() as u64);
                assert_eq!(inspected.sha256, hex::encode(Sha256::digest(bytes)));
            }
        }
    }
}
