//! Helpers shared by the integration tests.

use std::path::PathBuf;

use axum::http::header;

use ror_search::ingest::IngestReport;
use ror_search::model::{Dataset, Location, Offer};

/// A path under the crate root.
pub(crate) fn crate_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// A fixture of `tests/fixtures/`.
pub(crate) fn fixture(relative: &str) -> PathBuf {
    crate_path("tests/fixtures").join(relative)
}

/// The text of a fixture.
pub(crate) fn fixture_text(relative: &str) -> String {
    std::fs::read_to_string(fixture(relative)).unwrap_or_else(|error| panic!("{relative}: {error}"))
}

/// The offer with a FHIR id.
pub(crate) fn offer<'a>(dataset: &'a Dataset, id: &str) -> &'a Offer {
    dataset.offers.iter().find(|offer| offer.id == id).unwrap_or_else(|| panic!("no offer {id}"))
}

/// The location with a FHIR id.
pub(crate) fn location<'a>(dataset: &'a Dataset, id: &str) -> &'a Location {
    dataset.locations.iter().find(|location| location.id == id).unwrap_or_else(|| panic!("no location {id}"))
}

/// Asserts the report reconciles and returns the reasons of its rejects.
pub(crate) fn reasons(report: &IngestReport) -> Vec<String> {
    assert!(report.reconciles(), "counts do not reconcile: {:?}", report.by_type);
    report.rejects.iter().map(|issue| issue.reason.clone()).collect()
}

/// Asserts there is exactly one reject and that its reason contains `expected`.
pub(crate) fn assert_single_reject(report: &IngestReport, expected: &str) {
    let reasons = reasons(report);
    assert_eq!(reasons.len(), 1, "expected one reject containing {expected:?}, got {reasons:#?}");
    assert!(reasons[0].contains(expected), "reason {:?} does not contain {expected:?}", reasons[0]);
}

/// A temporary directory removed on drop.
pub(crate) fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("ror-search-test-").tempdir().expect("temporary directory")
}

/// An access file for the tests of routes rather than of access: anonymous callers hold
/// profile 1 (see everything). Written once, kept for the whole run.
pub(crate) fn anonymous_sees_everything() -> PathBuf {
    static FILE: std::sync::OnceLock<(tempfile::TempDir, PathBuf)> = std::sync::OnceLock::new();
    FILE.get_or_init(|| {
        let dir = temp_dir();
        let path = dir.path().join("access.toml");
        std::fs::write(&path, "allow_anonymous = true\nanonymous_profiles = [1]\n").unwrap();
        (dir, path)
    })
    .1
    .clone()
}

/// An answer of the router, read whole.
pub(crate) struct Answer {
    pub(crate) status: axum::http::StatusCode,
    pub(crate) headers: axum::http::HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    /// The body as JSON.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The body as text.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `Content-Type` (empty when none).
    pub(crate) fn content_type(&self) -> &str {
        self.headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or_default()
    }

    /// `error.code` of the API's error shape.
    pub(crate) fn error_code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or_default().to_owned()
    }

    /// The sequence of the `ETag` (`W/"<n>"`).
    pub(crate) fn etag(&self) -> u64 {
        let tag = self.headers.get(header::ETAG).unwrap_or_else(|| panic!("no ETag: {}", self.text()));
        let tag = tag.to_str().unwrap();
        assert!(tag.starts_with("W/\"") && tag.ends_with('"'), "weak ETag: {tag}");
        tag[3..tag.len() - 1].parse().unwrap()
    }

    /// `issue[].code`.
    pub(crate) fn codes(&self) -> Vec<String> {
        self.json()["issue"]
            .as_array()
            .unwrap()
            .iter()
            .map(|issue| issue["code"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Asserts an `OperationOutcome` of `status` whose first issue has `code` and `expression`
    /// (always an array).
    #[track_caller]
    pub(crate) fn assert_outcome(&self, status: u16, code: &str, expression: Option<&[&str]>) {
        assert_eq!(self.status.as_u16(), status, "{}", self.text());
        assert_eq!(self.headers[header::CONTENT_TYPE], "application/fhir+json");
        let body = self.json();
        assert_eq!(body["resourceType"], "OperationOutcome", "{body}");
        assert_eq!(body["issue"][0]["code"], code, "{body}");
        if let Some(expression) = expression {
            assert_eq!(body["issue"][0]["expression"], serde_json::json!(expression), "{body}");
        }
        for issue in body["issue"].as_array().unwrap() {
            assert!(issue.get("expression").is_none_or(serde_json::Value::is_array), "expression is an array: {body}");
        }
    }
}

/// Sends one request through the router in-process.
pub(crate) async fn call(
    router: &axum::Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Answer {
    use tower::ServiceExt;
    let mut request = axum::http::Request::builder().method(method).uri(uri);
    if !body.is_empty() {
        request = request.header(header::CONTENT_LENGTH, body.len());
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = router.clone().oneshot(request.body(axum::body::Body::from(body)).unwrap()).await.unwrap();
    Answer::read(response).await
}

impl Answer {
    /// Reads a response whole.
    pub(crate) async fn read(response: axum::response::Response) -> Answer {
        use http_body_util::BodyExt;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes().to_vec();
        Answer { status, headers, body }
    }
}

/// Writes to `feed` the part of the sample feed of the EGs whose FINESS starts with one of
/// `prefixes` (all EJs kept), each line passed through `rewrite(id, line)`.
pub(crate) fn write_subset_feed(prefixes: &[&str], feed: &std::path::Path, rewrite: &dyn Fn(&str, String) -> String) {
    use std::io::{BufRead, Write};
    let mut parts: Vec<_> =
        std::fs::read_dir(crate_path("data-samples/ror-feed")).unwrap().map(|entry| entry.unwrap().path()).collect();
    parts.sort();
    let mut writer = std::io::BufWriter::new(std::fs::File::create(feed).unwrap());
    for part in parts {
        let reader = std::io::BufReader::new(flate2::read::MultiGzDecoder::new(std::fs::File::open(part).unwrap()));
        for line in reader.lines() {
            let line = line.unwrap();
            let id_start = line.find("\"id\":\"").map(|index| index + 6).unwrap();
            let id = line[id_start..id_start + line[id_start..].find('"').unwrap()].to_owned();
            let keep = match id.split_once('-') {
                Some(("ej", _)) => true,
                Some((_, rest)) => prefixes.iter().any(|prefix| rest.starts_with(prefix)),
                None => false,
            };
            if keep {
                writeln!(writer, "{}", rewrite(&id, line)).unwrap();
            }
        }
    }
}

/// Writes the sample feed's subset of [`write_subset_feed`] beside `out` (`out.ndjson`) and
/// builds a snapshot of it at `out`.
pub(crate) fn build_subset(
    prefixes: &[&str],
    out: &std::path::Path,
    built_at: &str,
    rewrite: &dyn Fn(&str, String) -> String,
) {
    let feed = out.with_extension("ndjson");
    write_subset_feed(prefixes, &feed, rewrite);
    ror_search::snapshot::build::build_snapshot(ror_search::snapshot::build::BuildOptions {
        inputs: vec![feed],
        communes: Some(crate_path("data-samples/communes.csv.gz")),
        out: out.to_owned(),
        force: true,
        built_at: ror_search::util::time::parse_fhir_datetime(built_at).unwrap(),
        index_files: Some(&ror_search::engine::persist::write_index_files),
        progress_bar: false,
    })
    .unwrap();
}
