//! The map page: `GET /` and its assets under `/assets/`, embedded in the binary (no CDN, no
//! build step: the files of `src/http/page/` as they are committed, Leaflet vendored with its
//! licence).
//!
//! The page talks to the API of the same origin only (`/v1/communes`, `/v1/offers`,
//! `/v1/clusters`, `/v1/eg/{finess}`, `/v1/version`), with the access key its user types, if
//! any. Its background is the outline of France and its neighbours shipped as GeoJSON, or the
//! raster tiles of `--basemap-url` when the deployment has a tile server: the Content Security
//! Policy of the page then lets images come from that origin, and nothing else.
//!
//! Every file is served with a strong `ETag` (SHA-256 of its bytes) and `Cache-Control:
//! no-cache`: a browser revalidates (304, no body) and never runs a stale script after an
//! upgrade.

use std::sync::OnceLock;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::api::ErrorCode;
use crate::serve::ServeConfig;

/// The page's routes (not API routes: no access control, not in the OpenAPI document).
pub(crate) const PAGE_ROUTES: [&str; 2] = ["/", "/assets/{name}"];

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $path:literal, $content_type:literal) => {
        Asset { name: $name, content_type: $content_type, bytes: include_bytes!($path) }
    };
}

/// Everything under `/assets/`.
const ASSETS: [Asset; 8] = [
    asset!("app.js", "page/app.js", "text/javascript; charset=utf-8"),
    asset!("app.css", "page/app.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "page/icon.svg", "image/svg+xml"),
    asset!("basemap.geojson", "page/basemap.geojson", "application/geo+json"),
    asset!("leaflet.js", "page/vendor/leaflet/leaflet.js", "text/javascript; charset=utf-8"),
    asset!("leaflet.css", "page/vendor/leaflet/leaflet.css", "text/css; charset=utf-8"),
    asset!("LICENSE-leaflet.txt", "page/vendor/leaflet/LICENSE", "text/plain; charset=utf-8"),
    asset!("NOTICE.txt", "page/NOTICE.txt", "text/plain; charset=utf-8"),
];

const INDEX_TEMPLATE: &str = include_str!("page/index.html");

/// The page as this deployment serves it: the HTML with its settings, and its security policy.
pub(crate) struct Page {
    html: axum::body::Bytes,
    html_etag: HeaderValue,
    policy: HeaderValue,
}

impl Page {
    /// The page of a configuration (the background tiles and their attribution).
    pub(crate) fn new(config: &ServeConfig) -> Page {
        let basemap = config.basemap_url.as_deref().unwrap_or_default();
        let html = INDEX_TEMPLATE
            .replace("{{BASEMAP_URL}}", &escape_attribute(basemap))
            .replace("{{BASEMAP_ATTRIBUTION}}", &escape_attribute(config.basemap_attribution.as_deref().unwrap_or("")));
        let images = match config.basemap_url.as_deref().and_then(|url| origin(url)) {
            Some(origin) => format!("'self' data: {origin}"),
            None => "'self' data:".to_owned(),
        };
        let policy = format!(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src {images}; connect-src 'self'; \
             manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        );
        Page {
            html_etag: etag(html.as_bytes()),
            html: html.into(),
            // `origin` keeps only URL characters: always a valid header value.
            policy: HeaderValue::from_str(&policy).unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'")),
        }
    }
}

/// Checks a background tile URL template (`https://host/{z}/{x}/{y}.png`): http(s), a host, the
/// three placeholders, nothing a header or an attribute could not carry.
pub(crate) fn tile_template(url: &str) -> Result<&str, &'static str> {
    if origin(url).is_none() {
        return Err("basemap_url must be an http:// or https:// URL with a host");
    }
    if !["{z}", "{x}", "{y}"].iter().all(|placeholder| url.contains(placeholder)) {
        return Err("basemap_url must hold the {z}, {x} and {y} placeholders of a tile URL template");
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>' | '\'' | '\\')) {
        return Err("basemap_url must not hold spaces, quotes, angle brackets or control characters");
    }
    Ok(url)
}

/// `scheme://host[:port]` of an http(s) URL.
fn origin(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = &rest[..host_end];
    let valid =
        !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    valid.then(|| &url[..url.len() - rest.len() + host_end])
}

fn escape_attribute(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '"' => escaped.push_str("&quot;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

fn etag(bytes: &[u8]) -> HeaderValue {
    let digest = crate::auth::sha256(bytes);
    // hex digits and quotes: always a valid header value
    HeaderValue::from_str(&format!("\"{}\"", hex::encode(&digest[..16]))).unwrap_or(HeaderValue::from_static("\"\""))
}

/// The assets' ETags, computed once.
fn asset_etags() -> &'static [HeaderValue] {
    static ETAGS: OnceLock<Vec<HeaderValue>> = OnceLock::new();
    ETAGS.get_or_init(|| ASSETS.iter().map(|asset| etag(asset.bytes)).collect())
}

/// A file, or 304 when the browser holds this version.
fn file(
    request: &HeaderMap,
    content_type: &'static str,
    etag: &HeaderValue,
    bytes: axum::body::Bytes,
    policy: &HeaderValue,
) -> Response {
    let fresh = super::handlers::none_match_hits(request, etag);
    let mut response = if fresh { StatusCode::NOT_MODIFIED.into_response() } else { bytes.into_response() };
    let headers = response.headers_mut();
    if !fresh {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    headers.insert(header::ETAG, etag.clone());
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::CONTENT_SECURITY_POLICY, policy.clone());
    response
}

/// `GET /`: the page.
pub(crate) async fn index(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let page = &state.page;
    file(&headers, "text/html; charset=utf-8", &page.html_etag, page.html.clone(), &page.policy)
}

/// `GET /assets/{name}`: one of the page's files.
pub(crate) async fn asset(State(state): State<AppState>, Path(name): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS.iter().position(|asset| asset.name == name) {
        Some(at) => {
            let asset = &ASSETS[at];
            file(
                &headers,
                asset.content_type,
                &asset_etags()[at],
                axum::body::Bytes::from_static(asset.bytes),
                &state.page.policy,
            )
        }
        None => super::error::AppError::of(ErrorCode::NotFound).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_templates_are_checked() {
        assert!(tile_template("https://tile.example.fr/{z}/{x}/{y}.png").is_ok());
        assert!(tile_template("http://127.0.0.1:8081/tiles/{z}/{x}/{y}.png?style=light").is_ok());
        assert!(tile_template("ftp://tile.example.fr/{z}/{x}/{y}.png").is_err());
        assert!(tile_template("https:///{z}/{x}/{y}.png").is_err());
        assert!(tile_template("https://tile.example.fr/{z}/{x}.png").is_err());
        assert!(tile_template("https://tile.example.fr/{z}/{x}/{y}.png\" onload=\"x").is_err());
        assert_eq!(origin("https://a.tile.example.fr:8443/{z}/{x}/{y}.png"), Some("https://a.tile.example.fr:8443"));
        assert_eq!(origin("http://h?x"), Some("http://h"));
    }

    #[test]
    fn the_page_carries_its_settings_escaped_and_allows_only_its_tile_origin() {
        let config = ServeConfig {
            basemap_url: Some("https://tile.example.fr/{z}/{x}/{y}.png".into()),
            basemap_attribution: Some("© <b>contributeurs</b> & \"autres\"".into()),
            ..ServeConfig::default()
        };
        let page = Page::new(&config);
        let html = String::from_utf8(page.html.to_vec()).unwrap();
        assert!(html.contains("content=\"https://tile.example.fr/{z}/{x}/{y}.png\""), "{html}");
        assert!(html.contains("© &lt;b&gt;contributeurs&lt;/b&gt; &amp; &quot;autres&quot;"), "{html}");
        assert!(!html.contains("{{"), "every placeholder is filled");
        let policy = page.policy.to_str().unwrap();
        assert!(policy.contains("img-src 'self' data: https://tile.example.fr;"), "{policy}");
        assert!(policy.contains("script-src 'self';"), "{policy}");

        let offline = Page::new(&ServeConfig::default());
        assert!(offline.policy.to_str().unwrap().contains("img-src 'self' data:;"));
        assert!(String::from_utf8(offline.html.to_vec()).unwrap().contains("name=\"ror-basemap-url\" content=\"\""));
    }

    #[test]
    fn every_asset_the_page_names_is_served() {
        for asset in ASSETS.iter() {
            assert!(!asset.bytes.is_empty(), "{} is empty", asset.name);
        }
        let page = INDEX_TEMPLATE.to_owned() + include_str!("page/app.js");
        for name in
            page.split("/assets/").skip(1).map(|rest| rest.split(['"', '\'', '`', ')']).next().unwrap_or_default())
        {
            assert!(ASSETS.iter().any(|asset| asset.name == name), "the page names /assets/{name}, not served");
        }
    }
}
