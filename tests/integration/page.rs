//! The map page's routes in-process: the page and its files are served to anyone (a closed
//! deployment too: the page's API calls carry the user's key), with their security policy,
//! ETags and 304s; an unknown asset is the API's 404.

use std::sync::Arc;

use axum::http::{StatusCode, header};
use ror_search::serve::{Metrics, ServeConfig, SnapshotHandle};

use crate::common::{call, temp_dir};

/// A router over an empty index whose access file admits no anonymous caller.
fn closed_router(dir: &std::path::Path, basemap: Option<&str>) -> axum::Router {
    let access = dir.join("access.toml");
    std::fs::write(&access, "allow_anonymous = false\n").unwrap();
    let config = ServeConfig {
        index_dir: dir.to_owned(),
        access_file: Some(access),
        poll_interval_secs: 0,
        basemap_url: basemap.map(str::to_owned),
        basemap_attribution: basemap.map(|_| "© les contributeurs".to_owned()),
        ..ServeConfig::default()
    };
    let handle = Arc::new(SnapshotHandle::new(dir.to_owned(), Arc::new(Metrics::default())));
    ror_search::http::router(handle, Arc::new(config))
}

#[tokio::test]
async fn the_page_and_its_assets_are_public_cacheable_and_locked_down() {
    let dir = temp_dir();
    let router = closed_router(dir.path(), None);
    // The API refuses anonymous callers here...
    assert_eq!(call(&router, "GET", "/v1/offers", &[], Vec::new()).await.status, StatusCode::UNAUTHORIZED);
    // ...the page does not.
    let page = call(&router, "GET", "/", &[], Vec::new()).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.content_type(), "text/html; charset=utf-8");
    assert!(page.text().contains("<html lang=\"fr\">"));
    let policy = page.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "img-src 'self' data:;",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{directive} in {policy}");
    }
    assert_eq!(page.headers[header::CACHE_CONTROL], "no-cache");
    let etag = page.headers[header::ETAG].to_str().unwrap().to_owned();
    let again = call(&router, "GET", "/", &[("if-none-match", &etag)], Vec::new()).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());

    for (name, content_type) in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("leaflet.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
        ("basemap.geojson", "application/geo+json"),
        ("NOTICE.txt", "text/plain; charset=utf-8"),
    ] {
        let asset = call(&router, "GET", &format!("/assets/{name}"), &[], Vec::new()).await;
        assert_eq!(asset.status, StatusCode::OK, "{name}");
        assert_eq!(asset.content_type(), content_type, "{name}");
        let etag = asset.headers[header::ETAG].to_str().unwrap().to_owned();
        let cached = call(
            &router,
            "GET",
            &format!("/assets/{name}"),
            &[("if-none-match", &format!("\"x\", {etag}"))],
            Vec::new(),
        )
        .await;
        assert_eq!(cached.status, StatusCode::NOT_MODIFIED, "{name}");
        let stale =
            call(&router, "GET", &format!("/assets/{name}"), &[("if-none-match", "\"other\"")], Vec::new()).await;
        assert_eq!(stale.status, StatusCode::OK, "{name}");
    }
    let outline: serde_json::Value =
        serde_json::from_slice(&call(&router, "GET", "/assets/basemap.geojson", &[], Vec::new()).await.body).unwrap();
    assert!(outline["features"].as_array().unwrap().iter().any(|country| country["properties"]["france"] == true));

    let missing = call(&router, "GET", "/assets/../Cargo.toml", &[], Vec::new()).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let missing = call(&router, "GET", "/assets/nope.js", &[], Vec::new()).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.error_code(), "not_found");
}

#[tokio::test]
async fn a_tile_server_is_named_in_the_page_and_allowed_by_its_policy() {
    let dir = temp_dir();
    let router = closed_router(dir.path(), Some("https://tuiles.example.fr/{z}/{x}/{y}.png"));
    let page = call(&router, "GET", "/", &[], Vec::new()).await;
    assert!(page.text().contains("content=\"https://tuiles.example.fr/{z}/{x}/{y}.png\""));
    assert!(page.text().contains("content=\"© les contributeurs\""));
    let policy = page.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(policy.contains("img-src 'self' data: https://tuiles.example.fr;"), "{policy}");
    // The API's own answers keep the API's policy.
    let api = call(&router, "GET", "/healthz", &[], Vec::new()).await;
    assert_eq!(api.headers[header::CONTENT_SECURITY_POLICY], "default-src 'none'; frame-ancestors 'none'");
}
