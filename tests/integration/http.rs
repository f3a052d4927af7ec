//! The HTTP API in-process (`oneshot`): every route, every error code, GeoJSON, the OpenAPI
//! document, and snapshot swaps under load.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use ror_search::engine::Engine;
use ror_search::serve::{Metrics, ServeConfig, SnapshotHandle, load_and_warm};
use serde_json::Value;
use tower::ServiceExt;

use crate::common::{Answer, build_subset, call};

const TOKEN: &str = "test-admin-token-0123456789";

/// A fixed instant so answers do not depend on when the tests run.
const NOW: &str = "2026-11-15T00:00:00Z";

/// The index of the HTTP tests: `a` (Gironde, Rhône), `b` (Paris, Nord), `c` (Bouches-du-Rhône,
/// corrupted after the build).
struct Index {
    dir: tempfile::TempDir,
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let dir = crate::common::temp_dir();
        build_subset(&["33", "69"], &dir.path().join("a"), "2026-11-10T00:00:00Z", &|_, line| line);
        build_subset(&["75", "59"], &dir.path().join("b"), "2026-11-11T00:00:00Z", &|_, line| line);
        build_subset(&["13"], &dir.path().join("c"), "2026-11-12T00:00:00Z", &|_, line| line);
        let data = dir.path().join("c/data.bin");
        let mut bytes = std::fs::read(&data).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x40;
        std::fs::write(&data, bytes).unwrap();
        Index { dir }
    })
}

fn snapshot_dir(name: &str) -> PathBuf {
    index().dir.path().join(name)
}

fn config(index_dir: &Path) -> ServeConfig {
    ServeConfig {
        index_dir: index_dir.to_owned(),
        admin_token: Some(TOKEN.into()),
        access_file: Some(crate::common::anonymous_sees_everything()),
        poll_interval_secs: 0,
        cors_origins: vec!["https://carte.example".into()],
        ..ServeConfig::default()
    }
}

/// A router serving snapshot `a`.
fn app_with(config: ServeConfig, initial: Option<&str>) -> (axum::Router, Arc<SnapshotHandle>) {
    let handle = Arc::new(SnapshotHandle::new(config.index_dir.clone(), Arc::new(Metrics::default())));
    if let Some(name) = initial {
        handle.install(load_and_warm(&snapshot_dir(name)).unwrap());
    }
    (ror_search::http::router(handle.clone(), Arc::new(config)), handle)
}

fn app() -> (axum::Router, Arc<SnapshotHandle>) {
    app_with(config(index().dir.path()), Some("a"))
}

/// A GET as the admin (every role, profile 1): these tests are of the routes, not of access.
async fn get(router: &axum::Router, uri: &str) -> Answer {
    call(router, "GET", uri, &[("authorization", &format!("Bearer {TOKEN}"))], Vec::new()).await
}

#[tokio::test]
async fn every_route_answers() {
    let (router, _) = app();
    let offers =
        get(&router, &format!("/v1/offers?commune=33063&radius_km=20&category=500&gir=2&max_price=80&now={NOW}")).await;
    assert_eq!(offers.status, StatusCode::OK);
    let body = offers.json();
    let snapshot = body["snapshot"].as_str().unwrap().to_owned();
    assert!(!body["results"].as_array().unwrap().is_empty());
    let first = &body["results"][0];
    assert!(first["price"]["daily_total_eur"].as_f64().unwrap() <= 80.0);
    let offer_id = first["id"].as_str().unwrap();
    let finess = first["eg"]["finess"].as_str().unwrap();

    let offer = get(&router, &format!("/v1/offers/{offer_id}")).await;
    assert_eq!(offer.status, StatusCode::OK);
    assert_eq!(offer.json()["offer"]["id"], offer_id);
    assert!(offer.json()["locations"][0]["capacities"].as_array().is_some());

    let eg = get(&router, &format!("/v1/eg/{finess}")).await;
    assert_eq!(eg.status, StatusCode::OK);
    assert!(eg.json()["offers"].as_array().unwrap().iter().any(|offer| offer["id"] == offer_id));
    assert!(!eg.json()["tariffs"].as_array().unwrap().is_empty());

    let crisis = get(&router, "/v1/crisis?commune=69123&radius_km=50&limit=3").await;
    assert_eq!(crisis.status, StatusCode::OK);
    let crisis = crisis.json();
    assert!(crisis["egs"].as_array().unwrap().len() <= 3);
    let by_departement: u64 =
        crisis["by_departement"].as_array().unwrap().iter().map(|total| total["crisis_t0"].as_u64().unwrap()).sum();
    assert_eq!(by_departement, crisis["crisis_t0"].as_u64().unwrap());

    let communes = get(&router, "/v1/communes?q=lyon&limit=5").await;
    assert_eq!(communes.status, StatusCode::OK);
    assert_eq!(communes.json()["communes"][0]["code"], "69123");
    let by_postcode = get(&router, "/v1/communes?q=33000").await;
    assert_eq!(by_postcode.json()["communes"][0]["code"], "33063");

    let snapshot_info = get(&router, "/v1/snapshot").await;
    assert_eq!(snapshot_info.json()["snapshot"], snapshot.as_str());
    assert!(snapshot_info.json()["manifest"]["quality"].is_object());

    assert_eq!(get(&router, "/healthz").await.json()["status"], "ok");
    assert_eq!(get(&router, "/readyz").await.json()["snapshot"], snapshot.as_str());
    let metrics = get(&router, "/metrics").await;
    assert!(metrics.content_type().starts_with("text/plain"));
    let text = String::from_utf8(metrics.body).unwrap();
    assert!(text.contains("ror_search_http_requests_total{route=\"/v1/offers\",status=\"200\"} 1"), "{text}");
    assert!(text.contains(&format!("ror_search_snapshot_info{{snapshot_id=\"{snapshot}\"}} 1")));
    assert!(text.contains("ror_search_snapshot_records{resource_type=\"HealthcareService\",outcome=\"accepted\"}"));
    let fragment_bytes: u64 = text
        .lines()
        .find_map(|line| line.strip_prefix("ror_search_result_fragment_bytes "))
        .expect("the fragments' gauge")
        .parse()
        .unwrap();
    assert!(fragment_bytes > 0, "the offers answered above were kept pre-rendered");
    assert_eq!(get(&router, "/openapi.json").await.status, StatusCode::OK);
}

#[tokio::test]
async fn geojson_is_a_feature_collection_of_points() {
    let (router, _) = app();
    let answer = get(&router, "/v1/offers?lat=44.8378&lon=-0.5792&radius_km=5&format=geojson&limit=5").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.content_type(), "application/geo+json");
    let collection = answer.json();
    assert_eq!(collection["type"], "FeatureCollection");
    let features = collection["features"].as_array().unwrap();
    assert_eq!(features.len(), 5);
    for feature in features {
        assert_eq!(feature["type"], "Feature");
        assert_eq!(feature["geometry"]["type"], "Point");
        let coordinates = feature["geometry"]["coordinates"].as_array().unwrap();
        assert_eq!(coordinates[0], feature["properties"]["lon"], "GeoJSON is [lon, lat]");
        assert_eq!(coordinates[1], feature["properties"]["lat"]);
        assert_eq!(feature["id"], feature["properties"]["id"]);
    }
    let bad = get(&router, "/v1/offers?format=kml").await;
    assert_eq!((bad.status, bad.error_code()), (StatusCode::BAD_REQUEST, "bad_parameter".to_owned()));
    assert_eq!(bad.json()["error"]["parameter"], "format");
}

#[tokio::test]
async fn fields_and_views_write_only_the_members_asked() {
    let (router, _) = app();
    let base = "/v1/offers?lat=44.8378&lon=-0.5792&radius_km=20&limit=8";
    let full = get(&router, base).await.json();
    let members = |value: &Value| -> Vec<String> { value.as_object().unwrap().keys().cloned().collect() };
    for (query, expected) in [
        ("fields=name,distance_m", vec!["distance_m", "id", "name"]),
        ("fields=capacity,eg,id", vec!["capacity", "eg", "id"]),
        ("view=ids", vec!["distance_m", "id"]),
        (
            "view=summary",
            vec!["activity", "capacity", "care_mode", "distance_m", "eg", "id", "lat", "lon", "name", "price"],
        ),
    ] {
        for format in ["json", "geojson", "ndjson"] {
            let answer = get(&router, &format!("{base}&{query}&format={format}")).await;
            assert_eq!(answer.status, StatusCode::OK, "{query} {format}");
            let results: Vec<Value> = match format {
                "json" => answer.json()["results"].as_array().unwrap().clone(),
                "geojson" => answer.json()["features"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|feature| feature["properties"].clone())
                    .collect(),
                _ => String::from_utf8(answer.body)
                    .unwrap()
                    .lines()
                    .map(|line| serde_json::from_str(line).unwrap())
                    .collect(),
            };
            let full_results = full["results"].as_array().unwrap();
            assert!(results.len() >= full_results.len().min(8) && !results.is_empty(), "{query} {format}");
            for (result, whole) in results.iter().zip(full_results) {
                let mut names = members(result);
                names.sort_unstable();
                assert_eq!(names, expected, "{query} {format}");
                for name in &names {
                    assert_eq!(result[name], whole[name], "{name} of {query} {format}");
                }
            }
        }
    }
    assert_eq!(get(&router, &format!("{base}&view=full")).await.json(), full);
    for (query, parameter) in [
        ("fields=name,colour", "fields"),
        ("fields=name,,eg", "fields"),
        ("fields=eg.name", "fields"),
        ("view=all", "view"),
        ("fields=name&view=ids", "fields"),
    ] {
        let answer = get(&router, &format!("{base}&{query}")).await;
        assert_eq!(
            (answer.status, answer.error_code()),
            (StatusCode::BAD_REQUEST, "bad_parameter".to_owned()),
            "{query}"
        );
        assert_eq!(answer.json()["error"]["parameter"], parameter, "{query}");
    }
    let unknown = get(&router, &format!("{base}&fields=colour")).await;
    let message = unknown.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("colour") && message.contains("distance_m"),
        "names the field and the known ones: {message}"
    );
}

/// `ror-search search` prints the service's answer (its `fields` too), indented.
#[tokio::test]
async fn the_search_command_prints_the_service_answer() {
    let (router, _) = app();
    let query =
        [("commune", "33063"), ("radius_km", "15"), ("limit", "4"), ("fields", "name,eg,distance_m"), ("now", NOW)];
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_ror-search"));
    command.arg("search").arg("--index").arg(snapshot_dir("a"));
    for (name, value) in query {
        command.arg(format!("--{name}")).arg(value);
    }
    let output = command.output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    let uri: Vec<String> = query.iter().map(|(name, value)| format!("{name}={value}")).collect();
    let served = get(&router, &format!("/v1/offers?{}", uri.join("&"))).await.json();
    assert_eq!(printed, served);
    assert_eq!(printed["results"].as_array().unwrap().len(), 4);
    assert!(String::from_utf8(output.stdout).unwrap().lines().count() > 10, "indented");
}

#[tokio::test]
async fn every_error_code_has_the_json_shape() {
    let (router, _) = app();
    let cases: Vec<(&str, &str, StatusCode, &str, Option<&str>)> = vec![
        ("GET", "/v1/offers?lat=95&lon=2", StatusCode::BAD_REQUEST, "bad_parameter", Some("lat")),
        ("GET", "/v1/offers?radius_km=5", StatusCode::BAD_REQUEST, "bad_parameter", Some("radius_km")),
        ("GET", "/v1/offers?colour=red", StatusCode::BAD_REQUEST, "unknown_parameter", Some("colour")),
        ("GET", "/v1/offers?limit=0", StatusCode::BAD_REQUEST, "bad_parameter", Some("limit")),
        ("GET", "/v1/offers?commune=99999", StatusCode::BAD_REQUEST, "bad_parameter", Some("commune")),
        ("GET", "/v1/offers?category=XYZ", StatusCode::BAD_REQUEST, "bad_parameter", Some("category")),
        ("GET", "/v1/offers?lat=%FF&lon=1", StatusCode::BAD_REQUEST, "bad_parameter", Some("lat")),
        ("GET", "/v1/crisis?orsan_level=7", StatusCode::BAD_REQUEST, "bad_parameter", Some("orsan_level")),
        ("GET", "/v1/crisis?gir=2", StatusCode::BAD_REQUEST, "unknown_parameter", Some("gir")),
        ("GET", "/v1/communes", StatusCode::BAD_REQUEST, "bad_parameter", Some("q")),
        ("GET", "/v1/communes?q=ly&limit=500", StatusCode::BAD_REQUEST, "bad_parameter", Some("limit")),
        ("GET", "/v1/snapshot?x=1", StatusCode::BAD_REQUEST, "unknown_parameter", Some("x")),
        ("GET", "/v1/offers/no-such-offer", StatusCode::NOT_FOUND, "not_found", None),
        ("GET", "/v1/eg/000000000", StatusCode::NOT_FOUND, "not_found", None),
        ("GET", "/v2/offers", StatusCode::NOT_FOUND, "not_found", None),
        ("DELETE", "/v1/offers", StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", None),
        ("POST", "/admin/reload", StatusCode::UNAUTHORIZED, "unauthorized", None),
        ("POST", "/admin/rollback", StatusCode::UNAUTHORIZED, "unauthorized", None),
    ];
    for (method, uri, status, code, parameter) in cases {
        let answer = call(&router, method, uri, &[], Vec::new()).await;
        assert_eq!(answer.status, status, "{method} {uri}");
        assert!(answer.content_type().starts_with("application/json"), "{method} {uri}: {}", answer.content_type());
        let body = answer.json();
        assert_eq!(body["error"]["code"], code, "{method} {uri}: {body}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
        assert_eq!(body["error"]["parameter"].as_str(), parameter, "{method} {uri}");
    }
    // Wrong token.
    let answer =
        call(&router, "POST", "/admin/reload", &[("authorization", "Bearer wrong-token-0123456789")], Vec::new()).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    // 413: a body over the limit.
    let answer =
        call(&router, "POST", "/admin/reload", &[("authorization", &format!("Bearer {TOKEN}"))], vec![b'x'; 70 * 1024])
            .await;
    assert_eq!((answer.status, answer.error_code()), (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large".to_owned()));
    // Admin routes are off without a token.
    let (router, _) = app_with(ServeConfig { admin_token: None, ..config(index().dir.path()) }, Some("a"));
    let answer =
        call(&router, "POST", "/admin/reload", &[("authorization", &format!("Bearer {TOKEN}"))], Vec::new()).await;
    assert_eq!((answer.status, answer.error_code()), (StatusCode::UNAUTHORIZED, "unauthorized".to_owned()));
    let anonymous = call(&router, "POST", "/admin/reload", &[], Vec::new()).await;
    assert_eq!((anonymous.status, anonymous.error_code()), (StatusCode::UNAUTHORIZED, "unauthorized".to_owned()));
}

#[tokio::test]
async fn not_ready_without_a_snapshot() {
    let empty = crate::common::temp_dir();
    let (router, _) = app_with(config(empty.path()), None);
    for uri in ["/readyz", "/v1/offers?lat=45&lon=5", "/v1/snapshot", "/v1/communes?q=ly"] {
        let answer = get(&router, uri).await;
        assert_eq!(
            (answer.status, answer.error_code()),
            (StatusCode::SERVICE_UNAVAILABLE, "not_ready".to_owned()),
            "{uri}"
        );
    }
    assert_eq!(get(&router, "/healthz").await.status, StatusCode::OK);
    let answer =
        call(&router, "POST", "/admin/reload", &[("authorization", &format!("Bearer {TOKEN}"))], Vec::new()).await;
    assert_eq!((answer.status, answer.error_code()), (StatusCode::NOT_FOUND, "not_found".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_gives_429_and_timeouts_503() {
    let admin = [("authorization", format!("Bearer {TOKEN}"))];
    let headers: Vec<(&str, &str)> = admin.iter().map(|(name, value)| (*name, value.as_str())).collect();
    // One request at a time: a reload (loading a snapshot takes a while) holds the only slot.
    let (router, _) = app_with(ServeConfig { concurrency_limit: 1, ..config(index().dir.path()) }, Some("a"));
    let slow = {
        let router = router.clone();
        let headers: Vec<(String, String)> =
            admin.iter().cloned().map(|(name, value)| (name.to_owned(), value)).collect();
        tokio::spawn(async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
            call(&router, "POST", "/admin/reload?snapshot=b", &headers, Vec::new()).await
        })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    let answer = get(&router, "/healthz").await;
    assert_eq!((answer.status, answer.error_code()), (StatusCode::TOO_MANY_REQUESTS, "too_many_requests".to_owned()));
    assert_eq!(slow.await.unwrap().status, StatusCode::OK);
    // A 1 ms timeout: the reload cannot finish in time.
    let (router, _) = app_with(ServeConfig { request_timeout_ms: 1, ..config(index().dir.path()) }, Some("a"));
    let answer = call(&router, "POST", "/admin/reload?snapshot=b", &headers, Vec::new()).await;
    assert_eq!((answer.status, answer.error_code()), (StatusCode::SERVICE_UNAVAILABLE, "timeout".to_owned()));
}

/// Walks the error table: every code the service can answer is produced by a request here, with
/// the code's status and the JSON shape (a new code fails to compile until it has its case).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_code_of_the_error_table_is_answered() {
    use ror_search::api::ErrorCode;
    let auth = format!("Bearer {TOKEN}");
    let admin = [("authorization", auth.as_str())];
    for code in ErrorCode::ALL {
        let answer = match code {
            ErrorCode::BadParameter => get(&app().0, "/v1/offers?gir=9").await,
            ErrorCode::UnknownParameter => get(&app().0, "/v1/offers?colour=red").await,
            // A path segment that is not UTF-8: the router's own 400.
            ErrorCode::BadRequest => get(&app().0, "/v1/offers/%FF").await,
            ErrorCode::Unauthorized => {
                call(&app().0, "POST", "/admin/rollback", &[("authorization", "Bearer wrong")], Vec::new()).await
            }
            ErrorCode::Forbidden => {
                // without an access file anonymous callers are profile 0, blind to crisis beds
                let public = ServeConfig { access_file: None, ..config(index().dir.path()) };
                call(&app_with(public, Some("a")).0, "GET", "/v1/offers?min_crisis_t0=1", &[], Vec::new()).await
            }
            ErrorCode::RequestTimeout => {
                let slow = ServeConfig { body_read_timeout_ms: 50, ..config(index().dir.path()) };
                let first =
                    futures_util::stream::once(async { Ok::<_, std::io::Error>(axum::body::Bytes::from_static(b"{")) });
                let stalled = futures_util::StreamExt::chain(first, futures_util::stream::pending());
                let request = Request::builder()
                    .method("POST")
                    .uri("/v1/capacity")
                    .header("authorization", &auth)
                    .header("content-length", "100")
                    .body(Body::from_stream(stalled))
                    .unwrap();
                let response = app_with(slow, Some("a")).0.oneshot(request).await.unwrap();
                crate::common::Answer::read(response).await
            }
            ErrorCode::UnsupportedMediaType => {
                let headers = [("authorization", auth.as_str()), ("content-type", "application/xml")];
                call(&app().0, "POST", "/v1/capacity", &headers, b"<capacity/>".to_vec()).await
            }
            ErrorCode::NotFound => get(&app().0, "/v1/eg/000000000").await,
            ErrorCode::MethodNotAllowed => call(&app().0, "DELETE", "/v1/offers", &[], Vec::new()).await,
            ErrorCode::PayloadTooLarge => call(&app().0, "POST", "/admin/reload", &admin, vec![b'x'; 70 * 1024]).await,
            ErrorCode::SnapshotRefused => call(&app().0, "POST", "/admin/reload?snapshot=c", &admin, Vec::new()).await,
            ErrorCode::NoPreviousSnapshot => call(&app().0, "POST", "/admin/rollback", &admin, Vec::new()).await,
            ErrorCode::TooManyRequests => {
                let (router, _) =
                    app_with(ServeConfig { concurrency_limit: 1, ..config(index().dir.path()) }, Some("a"));
                let slow = {
                    let router = router.clone();
                    let auth = auth.clone();
                    tokio::spawn(async move {
                        call(&router, "POST", "/admin/reload?snapshot=b", &[("authorization", &auth)], Vec::new()).await
                    })
                };
                tokio::time::sleep(Duration::from_millis(20)).await;
                let answer = get(&router, "/healthz").await;
                slow.await.unwrap();
                answer
            }
            ErrorCode::NotReady => {
                let empty = crate::common::temp_dir();
                get(&app_with(config(empty.path()), None).0, "/v1/offers?lat=45&lon=5").await
            }
            ErrorCode::Timeout => {
                let (router, _) =
                    app_with(ServeConfig { request_timeout_ms: 1, ..config(index().dir.path()) }, Some("a"));
                call(&router, "POST", "/admin/reload?snapshot=b", &admin, Vec::new()).await
            }
            // Only a bug makes it; the panic catcher's answer is tested in `http::tests`.
            ErrorCode::Internal => continue,
        };
        assert_eq!(answer.status.as_u16(), code.status(), "{code:?}");
        assert!(answer.content_type().starts_with("application/json"), "{code:?}: {}", answer.content_type());
        assert_eq!(answer.error_code(), code.as_str(), "{code:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_refuses_a_corrupted_snapshot_and_rolls_back() {
    let (router, handle) = app();
    let auth = format!("Bearer {TOKEN}");
    let headers = [("authorization", auth.as_str())];
    let a = handle.current().unwrap().engine.manifest().snapshot_id.clone();
    let answer = call(&router, "POST", "/admin/rollback", &headers, Vec::new()).await;
    assert_eq!((answer.status, answer.error_code()), (StatusCode::CONFLICT, "no_previous_snapshot".to_owned()));
    let answer = call(&router, "POST", "/admin/reload?snapshot=c", &headers, Vec::new()).await;
    assert_eq!((answer.status, answer.error_code()), (StatusCode::UNPROCESSABLE_ENTITY, "snapshot_refused".to_owned()));
    assert!(answer.json()["error"]["message"].as_str().unwrap().contains("data.bin"));
    assert_eq!(handle.current().unwrap().engine.manifest().snapshot_id, a, "the current snapshot keeps serving");
    let answer = call(&router, "POST", "/admin/reload?snapshot=../etc", &headers, Vec::new()).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    let answer = call(&router, "POST", "/admin/reload?snapshot=b", &headers, Vec::new()).await;
    assert_eq!(answer.status, StatusCode::OK);
    let b = answer.json()["snapshot"].as_str().unwrap().to_owned();
    assert_ne!(a, b);
    assert_eq!(get(&router, "/readyz").await.json()["snapshot"], b.as_str());
    let answer = call(&router, "POST", "/admin/rollback", &headers, Vec::new()).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(get(&router, "/readyz").await.json()["snapshot"], a.as_str());
    // Newest by default: c is refused (corrupted), so b, the newest that loads, is not picked
    // by the watcher's rule but an explicit reload of the newest candidate tries c and fails.
    let metrics = String::from_utf8(get(&router, "/metrics").await.body).unwrap();
    assert!(metrics.contains("ror_search_reloads_total{result=\"failure\"} 1"), "{metrics}");
    assert!(metrics.contains("ror_search_reloads_total{result=\"success\"} 1"));
    assert!(metrics.contains("ror_search_rollbacks_total 1"));
}

#[test]
fn openapi_lists_every_route_the_router_serves() {
    let document = serde_json::to_value(ror_search::http::openapi()).unwrap();
    let paths = document["paths"].as_object().unwrap();
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, item) in paths {
        for method in ["get", "post", "put", "delete", "patch"] {
            if item.get(method).is_some() {
                documented.push((method.to_owned(), path.clone()));
            }
        }
    }
    let mut served: Vec<(String, String)> =
        ror_search::http::ROUTES.iter().map(|(method, path)| ((*method).to_owned(), (*path).to_owned())).collect();
    documented.sort();
    served.sort();
    assert_eq!(documented, served);
    // Answers and errors have their real schemas.
    let schemas = document["components"]["schemas"].as_object().unwrap();
    for schema in ["SearchResponse", "OfferHit", "CrisisResponse", "OfferDetail", "EgDetail", "ErrorBody", "ErrorCode"]
    {
        assert!(schemas.contains_key(schema), "{schema} in components");
    }
    let error_codes: Vec<&str> =
        schemas["ErrorCode"]["enum"].as_array().unwrap().iter().map(|code| code.as_str().unwrap()).collect();
    let table: Vec<&str> = ror_search::api::ErrorCode::ALL.iter().map(|code| code.as_str()).collect();
    assert_eq!(error_codes, table, "the document lists the error table");
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            for (status, response) in operation["responses"].as_object().unwrap() {
                if !(status.starts_with('4') || status.starts_with('5')) {
                    continue;
                }
                // The FHIR routes answer as the ROR does, with OperationOutcomes.
                if path.starts_with("/fhir/") || path.starts_with("/ws-synchro-dispo-lits-fhir/") {
                    assert!(response["content"]["application/fhir+json"].is_object(), "{method} {path} {status}");
                    continue;
                }
                let reference = response["content"]["application/json"]["schema"]["$ref"].as_str();
                assert_eq!(reference, Some("#/components/schemas/ErrorBody"), "{method} {path} {status}");
            }
        }
    }
    assert_eq!(
        paths["/v1/offers"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/SearchResponse"
    );
    // Each route documents exactly the parameters of its struct (`format` is HTTP's own).
    let documented_parameters = |route: &str, method: &str| -> Vec<String> {
        let mut names: Vec<String> = paths[route][method]["parameters"]
            .as_array()
            .map(|parameters| parameters.iter().filter(|p| p["in"] == "query").collect::<Vec<_>>())
            .unwrap_or_default()
            .iter()
            .map(|parameter| parameter["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    let sorted = |names: &[&str]| {
        let mut names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        names.sort();
        names
    };
    use ror_search::api::{CommunesQuery, CrisisQuery, OffersQuery, QualityQuery, ReloadQuery, parameter_names};
    let mut offers = parameter_names::<OffersQuery>().to_vec();
    offers.push("format");
    assert_eq!(documented_parameters("/v1/offers", "get"), sorted(&offers));
    assert_eq!(documented_parameters("/v1/crisis", "get"), sorted(parameter_names::<CrisisQuery>()));
    assert_eq!(documented_parameters("/v1/communes", "get"), sorted(parameter_names::<CommunesQuery>()));
    assert_eq!(documented_parameters("/admin/reload", "post"), sorted(parameter_names::<ReloadQuery>()));
    assert_eq!(documented_parameters("/v1/quality", "get"), sorted(parameter_names::<QualityQuery>()));
    assert_eq!(documented_parameters("/v1/quality/eg/{finess}", "get"), sorted(&["format"]));
    for route in ["/v1/offers/{id}", "/v1/eg/{finess}", "/v1/snapshot"] {
        assert_eq!(documented_parameters(route, "get"), Vec::<String>::new(), "{route}");
    }
    // the tiles take every search parameter but `bbox`, and their address in the path
    let tile = ror_search::http::TILE_ROUTE;
    let searched: Vec<&str> = parameter_names::<OffersQuery>().iter().copied().filter(|name| *name != "bbox").collect();
    assert_eq!(documented_parameters(tile, "get"), sorted(&searched));
    let in_path: Vec<&str> = paths[tile]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|parameter| parameter["in"] == "path")
        .map(|parameter| parameter["name"].as_str().unwrap())
        .collect();
    assert_eq!(in_path, ["z", "x", "y"]);
    assert!(paths[tile]["get"]["responses"]["200"]["content"]["application/vnd.mapbox-vector-tile"].is_object());
}

/// The router accepts exactly the documented parameters: each documented one with a value that
/// cannot parse is a `bad_parameter` naming it; a name that is not documented is an
/// `unknown_parameter`.
#[tokio::test]
async fn the_router_accepts_exactly_the_documented_parameters() {
    let (router, _) = app();
    let auth = format!("Bearer {TOKEN}");
    let admin = [("authorization", auth.as_str())];
    let document: Value = serde_json::to_value(ror_search::http::openapi()).unwrap();
    for (route, path) in [
        ("/v1/offers", "/v1/offers"),
        ("/v1/crisis", "/v1/crisis"),
        ("/v1/communes", "/v1/communes"),
        ("/v1/quality", "/v1/quality"),
        ("/v1/quality/eg/{finess}", "/v1/quality/eg/330782780"),
        (ror_search::http::TILE_ROUTE, "/v1/tiles/12/2041/1476.mvt"),
    ] {
        let names: Vec<String> = document["paths"][route]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|parameter| parameter["in"] == "query")
            .map(|parameter| parameter["name"].as_str().unwrap().to_owned())
            .collect();
        assert!(!names.is_empty(), "{route}");
        for name in &names {
            // Every parameter refuses an empty list of codes, a non-number, a 101-character
            // text or a bad format; pick a value that none of them accepts.
            let bad = "x".repeat(300);
            let uri = format!("{path}?{name}=,{bad}");
            let answer = call(&router, "GET", &uri, &admin, Vec::new()).await;
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{uri}");
            assert_eq!(answer.json()["error"]["code"], "bad_parameter", "{uri}: {}", answer.json());
            assert_eq!(answer.json()["error"]["parameter"], name.as_str(), "{uri}");
        }
        let answer = call(&router, "GET", &format!("{path}?undocumented=1"), &admin, Vec::new()).await;
        assert_eq!(answer.json()["error"]["code"], "unknown_parameter", "{route}");
        assert_eq!(answer.json()["error"]["parameter"], "undocumented", "{route}");
    }
}

#[tokio::test]
async fn every_documented_route_is_routed() {
    let (router, _) = app();
    for (method, path) in ror_search::http::ROUTES {
        let id = match path {
            path if path.starts_with("/fhir/Location") => "loc-330782780-0",
            path if path.starts_with("/fhir/Organization") => "eg-330782780",
            _ => "hs-330782780-0",
        };
        let uri = path
            .replace("{id}", id)
            .replace("{finess}", "330782780")
            .replace("{z}", "12")
            .replace("{x}", "2041")
            .replace("{y}", "1476");
        let uri = if uri == "/v1/communes" { "/v1/communes?q=bor".to_owned() } else { uri };
        let answer = call(&router, &method.to_uppercase(), &uri, &[], Vec::new()).await;
        if path == "/fhir/$export-file/{job}/{file}" {
            // routed: the handler's own 404 for a job that does not exist (not the fallback's)
            assert_eq!(answer.json()["issue"][0]["code"], "not-found", "{method} {uri}");
            continue;
        }
        assert_ne!(answer.status, StatusCode::NOT_FOUND, "{method} {uri}");
        assert_ne!(answer.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
    }
}

#[tokio::test]
async fn responses_are_compressed_and_cors_headers_set() {
    let (router, _) = app();
    let response = router
        .clone()
        .oneshot(
            Request::builder()
                .uri("/v1/offers?lat=44.8378&lon=-0.5792&limit=50")
                .header("accept-encoding", "gzip")
                .header("origin", "https://carte.example")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-encoding"], "gzip");
    assert_eq!(response.headers()["access-control-allow-origin"], "https://carte.example");
}

/// The answer `engine` gives to a request, as the API would serialise it.
fn expected(engine: &Engine, query: &str) -> Value {
    if let Some(rest) = query.strip_prefix("/v1/offers?") {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(rest.as_bytes()).into_owned().collect();
        let request =
            ror_search::api::search_request(pairs.iter().map(|(name, value)| (name.as_str(), value.as_str()))).unwrap();
        // Through text, as the API serialises it (f32 scores print in their shortest form).
        serde_json::from_str(&serde_json::to_string(&engine.search(&request).unwrap()).unwrap()).unwrap()
    } else if let Some(rest) = query.strip_prefix("/v1/crisis?") {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(rest.as_bytes()).into_owned().collect();
        let request =
            ror_search::api::crisis_request(pairs.iter().map(|(name, value)| (name.as_str(), value.as_str()))).unwrap();
        serde_json::from_str(&serde_json::to_string(&engine.crisis(&request).unwrap()).unwrap()).unwrap()
    } else {
        unreachable!("{query}")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swaps_under_load_never_fail_and_never_mix_snapshots() {
    let queries: Vec<String> = vec![
        format!("/v1/offers?lat=44.8378&lon=-0.5792&radius_km=30&category=500&gir=2&max_price=90&now={NOW}"),
        format!("/v1/offers?lat=48.8566&lon=2.3522&min_crisis_t0=1&limit=10&now={NOW}"),
        format!("/v1/offers?bbox=-5.5,41,10,51.5&limit=5&facets=true&now={NOW}"),
        format!("/v1/offers?q=ehpad&lat=45.764&lon=4.8357&limit=5&now={NOW}"),
        format!("/v1/offers?commune=59350&radius_km=25&sort=price&gir=5&now={NOW}"),
        format!("/v1/crisis?commune=69123&limit=3&now={NOW}"),
    ];
    let engines: Vec<Engine> = ["a", "b"].iter().map(|name| Engine::open(&snapshot_dir(name)).unwrap()).collect();
    let mut answers: HashMap<String, Vec<Value>> = HashMap::new();
    for engine in &engines {
        answers.insert(
            engine.manifest().snapshot_id.clone(),
            queries.iter().map(|query| expected(engine, query)).collect(),
        );
    }
    let corrupted_id = ror_search::snapshot::read_manifest(&snapshot_dir("c")).unwrap().snapshot_id;
    let answers = Arc::new(answers);
    let queries = Arc::new(queries);
    let (router, _) = app();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::new();
    for client in 0..4 {
        let (router, answers, queries, stop) = (router.clone(), answers.clone(), queries.clone(), stop.clone());
        clients.push(tokio::spawn(async move {
            let (mut requests, mut failures, mut seen) = (0u64, Vec::new(), std::collections::BTreeSet::new());
            let mut index = client;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let query = &queries[index % queries.len()];
                index += 1;
                let answer = get(&router, query).await;
                requests += 1;
                if answer.status != StatusCode::OK {
                    failures.push(format!("{query}: {}", answer.status));
                    continue;
                }
                let body = answer.json();
                let snapshot = body["snapshot"].as_str().unwrap_or_default().to_owned();
                match answers.get(&snapshot) {
                    Some(expected) if expected[(index - 1) % queries.len()] == body => {}
                    Some(expected) => failures.push(format!(
                        "{query}: answer differs from snapshot {snapshot}'s:\n{}\n{}",
                        serde_json::to_string(&expected[(index - 1) % queries.len()])
                            .unwrap()
                            .chars()
                            .take(1500)
                            .collect::<String>(),
                        serde_json::to_string(&body).unwrap().chars().take(1500).collect::<String>()
                    )),
                    None => failures.push(format!("{query}: unknown snapshot {snapshot}")),
                }
                seen.insert(snapshot);
            }
            (requests, failures, seen)
        }));
    }
    let auth = format!("Bearer {TOKEN}");
    let headers = [("authorization", auth.as_str())];
    let started = Instant::now();
    let (mut swaps, mut refused) = (0, 0);
    let mut round = 0;
    while swaps < 60 || started.elapsed() < Duration::from_secs(3) {
        round += 1;
        let target = if round % 7 == 0 {
            "c"
        } else if round % 2 == 0 {
            "a"
        } else {
            "b"
        };
        let answer = call(&router, "POST", &format!("/admin/reload?snapshot={target}"), &headers, Vec::new()).await;
        match (target, answer.status) {
            ("c", StatusCode::UNPROCESSABLE_ENTITY) => refused += 1,
            (_, StatusCode::OK) => swaps += 1,
            (target, status) => panic!("reload of {target}: {status}"),
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total_requests = 0;
    let mut seen_snapshots = std::collections::BTreeSet::new();
    for client in clients {
        let (requests, failures, seen) = client.await.unwrap();
        assert!(failures.is_empty(), "{} failures, first: {:?}", failures.len(), failures.first());
        total_requests += requests;
        seen_snapshots.extend(seen);
    }
    assert!(swaps >= 50, "{swaps} swaps");
    assert!(refused >= 5, "{refused} refused");
    assert!(!seen_snapshots.contains(&corrupted_id), "the corrupted snapshot served");
    assert_eq!(seen_snapshots.len(), 2, "both snapshots answered: {seen_snapshots:?}");
    assert!(total_requests > 200, "{total_requests} requests");
}
