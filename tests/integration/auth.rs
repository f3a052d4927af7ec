//! Authentication and authorisation: API keys (both headers), bearer JWTs (RS256 from a JWKS
//! file, ES256 made here; expired, wrong audience, wrong key, `alg: none`, HMAC confusion),
//! anonymous callers on and off, roles on writes and admin routes, rate limits (429 with
//! `Retry-After`), the audit log. Mutual TLS and the reload of the access file run the real
//! server (`tls.rs`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ror_search::serve::{Metrics, ServeConfig, SnapshotHandle, load_and_warm};
use serde_json::{Value, json};

use crate::common::{Answer, build_subset, call, crate_path, temp_dir};

const ISSUER: &str = "https://auth.example/realms/ror";
const AUDIENCE: &str = "ror-search";

fn snapshot() -> &'static Path {
    static SNAPSHOT: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &SNAPSHOT
        .get_or_init(|| {
            let dir = temp_dir();
            let path = dir.path().join("index/auth");
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            build_subset(&["33"], &path, "2026-11-10T00:00:00Z", &|_, line| line);
            (dir, path)
        })
        .1
}

fn hash(key: &str) -> String {
    hex::encode(ror_search::auth::sha256(key.as_bytes()))
}

/// An ES256 key made for the test: its PKCS#8 PEM and its JWK.
fn es256_key(kid: &str) -> (String, Value) {
    let key = rcgen::KeyPair::generate().unwrap();
    let point = key.public_key_raw();
    assert_eq!(point.len(), 65, "an uncompressed P-256 point");
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let jwk = json!({"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig", "x": b64(&point[1..33]), "y": b64(&point[33..])});
    (key.serialize_pem(), jwk)
}

struct Setup {
    dir: tempfile::TempDir,
    router: axum::Router,
    es256_pem: String,
}

fn setup(extra: &str) -> Setup {
    let dir = temp_dir();
    let (es256_pem, es256_jwk) = es256_key("test-es256");
    let mut jwks: Value =
        serde_json::from_str(&std::fs::read_to_string(crate_path("tests/fixtures/jwt/jwks.json")).unwrap()).unwrap();
    jwks["keys"].as_array_mut().unwrap().push(es256_jwk);
    std::fs::write(dir.path().join("jwks.json"), jwks.to_string()).unwrap();
    let access = dir.path().join("access.toml");
    std::fs::write(&access, access_text(extra)).unwrap();
    let config = ServeConfig {
        index_dir: snapshot().parent().unwrap().to_owned(),
        access_file: Some(access.clone()),
        audit_log: Some(dir.path().join("audit.ndjson")),
        poll_interval_secs: 0,
        ..ServeConfig::default()
    };
    let handle = Arc::new(SnapshotHandle::new(config.index_dir.clone(), Arc::new(Metrics::default())));
    handle.install(load_and_warm(snapshot()).unwrap());
    Setup { router: ror_search::http::router(handle, Arc::new(config)), dir, es256_pem }
}

fn access_text(extra: &str) -> String {
    format!(
        r#"{extra}
[jwt]
jwks_file = "jwks.json"
issuer = "{ISSUER}"
audience = "{AUDIENCE}"

[[client]]
name = "samu-33"
key_sha256 = "{samu}"
profiles = [1]
roles = ["read", "capacity_write"]

[[client]]
name = "portail"
key_sha256 = "{portail}"
profiles = [0]
roles = ["read"]
requests_per_second = 2

[[client]]
name = "exploitation"
key_sha256 = "{ops}"
profiles = [1]
roles = ["read", "admin"]
"#,
        samu = hash("samu-secret-key"),
        portail = hash("portail-secret-key"),
        ops = hash("ops-secret-key"),
    )
}

async fn get(router: &axum::Router, uri: &str, headers: &[(&str, &str)]) -> Answer {
    call(router, "GET", uri, headers, Vec::new()).await
}

fn claims(profiles: Value, exp_from_now: i64, audience: &str) -> Value {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    json!({"iss": ISSUER, "aud": audience, "sub": "regulation-13", "exp": now + exp_from_now, "iat": now, "ror_profiles": profiles, "roles": ["read"]})
}

fn rs256_token(claims: &Value, private_key: &str) -> String {
    let pem = std::fs::read(crate_path(&format!("tests/fixtures/jwt/{private_key}"))).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("test-rs256".into());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_pem(&pem).unwrap()).unwrap()
}

/// Whether an answer shows crisis fields (what profile 1 sees and profile 0 does not).
fn shows_crisis(answer: &Answer) -> bool {
    answer.text().contains("\"crisis_t0\"")
}

const SEARCH: &str = "/v1/offers?lat=44.84&lon=-0.58&limit=20";

#[tokio::test]
async fn api_keys_in_both_headers_and_what_anonymous_callers_get() {
    let closed = setup("allow_anonymous = false");
    let bearer = get(&closed.router, SEARCH, &[("authorization", "Bearer samu-secret-key")]).await;
    assert_eq!(bearer.status.as_u16(), 200, "{}", bearer.text());
    assert!(shows_crisis(&bearer), "profile 1 sees crisis capacities");
    let header = get(&closed.router, SEARCH, &[("x-api-key", "samu-secret-key")]).await;
    assert_eq!(header.status.as_u16(), 200);
    assert_eq!(header.json()["results"], bearer.json()["results"]);
    for headers in [
        vec![("authorization", "Bearer wrong-key")],
        vec![("x-api-key", "wrong-key")],
        vec![("authorization", "Basic c2FtdTpzZWNyZXQ=")],
        vec![],
    ] {
        let answer = get(&closed.router, SEARCH, &headers).await;
        assert_eq!(answer.status.as_u16(), 401, "{headers:?}");
        assert_eq!(answer.error_code(), "unauthorized");
        assert_eq!(answer.headers["www-authenticate"], "Bearer");
    }
    // every route but health and the OpenAPI document needs credentials
    for (method, template) in ror_search::http::ROUTES {
        let uri = template
            .replace("{id}", "loc-1")
            .replace("{finess}", "330782780")
            .replace("{z}", "5")
            .replace("{x}", "15")
            .replace("{y}", "11");
        let answer = call(&closed.router, &method.to_uppercase(), &uri, &[], Vec::new()).await;
        let open = ["/healthz", "/readyz", "/openapi.json"].contains(&template);
        assert_eq!(answer.status.as_u16() == 401, !open, "{method} {uri}: {}", answer.text());
    }
    // health and the OpenAPI document stay open; metrics need the metrics (or admin) role
    for uri in ["/healthz", "/readyz", "/openapi.json"] {
        assert_eq!(get(&closed.router, uri, &[]).await.status.as_u16(), 200, "{uri}");
    }
    assert_eq!(get(&closed.router, "/metrics", &[("x-api-key", "samu-secret-key")]).await.status.as_u16(), 403);
    assert_eq!(get(&closed.router, "/metrics", &[("x-api-key", "ops-secret-key")]).await.status.as_u16(), 200);
    let open = setup("allow_anonymous = true");
    let anonymous = get(&open.router, SEARCH, &[]).await;
    assert_eq!(anonymous.status.as_u16(), 200);
    assert!(!shows_crisis(&anonymous) && !anonymous.text().contains("\"available\""), "anonymous is profile 0");
    assert_eq!(
        get(&open.router, SEARCH, &[("x-api-key", "wrong-key")]).await.status.as_u16(),
        401,
        "a wrong key is refused, not served as anonymous"
    );
    let forbidden = get(&open.router, &format!("{SEARCH}&min_crisis_t0=1"), &[]).await;
    assert_eq!(
        (forbidden.status.as_u16(), forbidden.json()["error"]["parameter"].clone()),
        (403, json!("min_crisis_t0"))
    );
}

#[tokio::test]
async fn roles_guard_writes_and_admin_routes() {
    let setup = setup("allow_anonymous = true");
    let body = br#"{"resourceType":"Parameters","parameter":[]}"#.to_vec();
    let patch = |key: &'static str| {
        let router = setup.router.clone();
        let body = body.clone();
        async move {
            let headers: Vec<(&str, &str)> = if key.is_empty() { vec![] } else { vec![("x-api-key", key)] };
            call(&router, "PATCH", "/fhir/Location?identifier=1330000000/ZS000", &headers, body).await
        }
    };
    let anonymous = patch("").await;
    assert_eq!(anonymous.status.as_u16(), 401, "anonymous callers are asked to log in: {}", anonymous.text());
    assert_eq!(anonymous.json()["resourceType"], "OperationOutcome", "the FHIR routes refuse in FHIR");
    assert_eq!(anonymous.json()["issue"][0]["code"], "login");
    let reader = patch("portail-secret-key").await;
    assert_eq!(reader.status.as_u16(), 403, "a known client without the role");
    assert_eq!(reader.json()["issue"][0]["code"], "forbidden");
    let writer = patch("samu-secret-key").await;
    assert!(![401, 403].contains(&writer.status.as_u16()), "the writer passes the door: {}", writer.text());
    let wrong = patch("nobody").await;
    assert_eq!((wrong.status.as_u16(), wrong.json()["issue"][0]["code"].clone()), (401, json!("login")));
    for (key, expected) in [("samu-secret-key", 403), ("portail-secret-key", 403), ("ops-secret-key", 200)] {
        let answer = get(&setup.router, "/v1/quality?limit=1", &[("x-api-key", key)]).await;
        assert_eq!(answer.status.as_u16(), expected, "{key}: {}", answer.text());
        let rollback = call(&setup.router, "POST", "/admin/rollback", &[("x-api-key", key)], Vec::new()).await;
        assert_eq!(rollback.status.as_u16(), if expected == 200 { 409 } else { 403 }, "{key}");
    }
    // the audit log has the write attempt, the admin actions and the profile-1 reads
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let audit = std::fs::read_to_string(setup.dir.path().join("audit.ndjson")).unwrap();
    let lines: Vec<Value> = audit.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert!(lines.iter().any(|line| line["kind"] == "write" && line["client"] == "samu-33"), "{audit}");
    assert!(
        lines
            .iter()
            .any(|line| line["kind"] == "admin" && line["client"] == "exploitation" && line["route"] == "/v1/quality")
    );
    assert!(lines.iter().all(|line| line["client"] != "portail"), "reads by profile 0 are not audited");
    let read = get(&setup.router, &format!("{SEARCH}&q=centre"), &[("x-api-key", "samu-secret-key")]).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let audit = std::fs::read_to_string(setup.dir.path().join("audit.ndjson")).unwrap();
    let last: Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    assert_eq!(
        (last["kind"].clone(), last["client"].clone(), last["status"].clone()),
        (json!("read"), json!("samu-33"), json!(200))
    );
    assert!(last["query"].as_str().unwrap().contains("q=centre"));
    assert_eq!(last["bytes"].as_u64(), Some(read.body.len() as u64));
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    let setup = setup("allow_anonymous = false");
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..4 {
        let answer = get(&setup.router, "/v1/communes?q=Bord", &[("x-api-key", "portail-secret-key")]).await;
        statuses.push(answer.status.as_u16());
        if answer.status.as_u16() == 429 {
            assert_eq!(answer.error_code(), "too_many_requests");
            retry_after = answer.headers.get("retry-after").map(|value| value.to_str().unwrap().to_owned());
        }
    }
    assert_eq!(&statuses[..2], [200, 200], "a burst of requests_per_second");
    assert_eq!(statuses[3], 429, "{statuses:?}");
    assert!(retry_after.is_some_and(|seconds| seconds.parse::<u64>().unwrap() >= 1));
    // another client has its own budget
    assert_eq!(
        get(&setup.router, "/v1/communes?q=Bord", &[("x-api-key", "samu-secret-key")]).await.status.as_u16(),
        200
    );
    let global = self::setup("allow_anonymous = true\nglobal_requests_per_second = 1");
    assert_eq!(get(&global.router, "/v1/communes?q=Bord", &[]).await.status.as_u16(), 200);
    assert_eq!(
        get(&global.router, "/v1/communes?q=Bord", &[("x-api-key", "samu-secret-key")]).await.status.as_u16(),
        429
    );
}

#[tokio::test]
async fn jwts_are_verified_against_the_jwks() {
    let setup = setup("allow_anonymous = false");
    let bearer = |token: &str| format!("Bearer {token}");
    let valid = rs256_token(&claims(json!([1]), 600, AUDIENCE), "rs256-private.pem");
    let answer = get(&setup.router, SEARCH, &[("authorization", &bearer(&valid))]).await;
    assert_eq!(answer.status.as_u16(), 200, "{}", answer.text());
    assert!(shows_crisis(&answer), "the profiles come from the claim");
    let public = rs256_token(&claims(json!("0"), 600, AUDIENCE), "rs256-private.pem");
    let answer = get(&setup.router, SEARCH, &[("authorization", &bearer(&public))]).await;
    assert_eq!(answer.status.as_u16(), 200);
    assert!(!shows_crisis(&answer));
    let mut es256_header = Header::new(Algorithm::ES256);
    es256_header.kid = Some("test-es256".into());
    let es256 = jsonwebtoken::encode(
        &es256_header,
        &claims(json!([4]), 600, AUDIENCE),
        &EncodingKey::from_ec_pem(setup.es256_pem.as_bytes()).unwrap(),
    )
    .unwrap();
    assert_eq!(get(&setup.router, SEARCH, &[("authorization", &bearer(&es256))]).await.status.as_u16(), 200);
    let b64 = |value: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string());
    let payload = claims(json!([1]), 600, AUDIENCE);
    let refused = [
        ("expired", rs256_token(&claims(json!([1]), -3600, AUDIENCE), "rs256-private.pem")),
        ("wrong audience", rs256_token(&claims(json!([1]), 600, "another-api"), "rs256-private.pem")),
        ("wrong key", rs256_token(&claims(json!([1]), 600, AUDIENCE), "rs256-other-private.pem")),
        ("unknown profile", rs256_token(&claims(json!([9]), 600, AUDIENCE), "rs256-private.pem")),
        ("alg none", format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&payload))),
        ("alg none, kid", format!("{}.{}.", b64(&json!({"alg": "none", "kid": "test-rs256"})), b64(&payload))),
        (
            "HS256 keyed with the public JWKS",
            jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &payload,
                &EncodingKey::from_secret(&std::fs::read(crate_path("tests/fixtures/jwt/jwks.json")).unwrap()).unwrap(),
            )
            .unwrap(),
        ),
        ("garbage", "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2lnbmF0dXJl".to_owned()),
    ];
    for (case, token) in refused {
        let answer = get(&setup.router, SEARCH, &[("authorization", &bearer(&token))]).await;
        assert_eq!(answer.status.as_u16(), 401, "{case}: {}", answer.text());
        assert_eq!(answer.error_code(), "unauthorized", "{case}");
    }
}
