//! The door of every route: who is calling ([`crate::auth`]), whether its roles allow the
//! route, its rate limits, the audit line; and the security headers of every answer.
//!
//! Refusals have the API's JSON error shape, or an `OperationOutcome` on the FHIR routes
//! (`/fhir/...`, `/ws-synchro-dispo-lits-fhir/...`), as the ROR's clients expect.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::HttpBody as _;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::AppError;
use crate::api::ErrorCode;
use crate::auth::audit::AuditEntry;
use crate::auth::{AuthError, Caller, Credentials, Role};
use crate::model::access::Profile;

/// The SHA-256 of the DER certificate a client presented in the TLS handshake (inserted by the
/// TLS acceptor, after the chain verified against the client CA).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PeerCertificate(pub(crate) [u8; 32]);

/// The role a route needs; `None`: open to anyone, unauthenticated (health, the OpenAPI
/// document). A route this table does not know needs `read`.
pub(crate) fn route_role(method: &Method, route: &str) -> Option<Role> {
    match route {
        "/healthz" | "/readyz" | "/openapi.json" => None,
        // the snapshot's counts (sensitive units included) and the traffic
        "/metrics" => Some(Role::Metrics),
        "/admin/reload" | "/admin/rollback" | "/v1/quality" | "/v1/quality/eg/{finess}" => Some(Role::Admin),
        "/fhir/Location" | "/ws-synchro-dispo-lits-fhir/Location" | "/fhir/Location/{id}" | "/v1/capacity"
            if *method != Method::GET =>
        {
            Some(Role::CapacityWrite)
        }
        _ => Some(Role::Read),
    }
}

fn is_fhir(route: &str) -> bool {
    route.starts_with("/fhir/") || route.starts_with("/ws-synchro-dispo-lits-fhir/")
}

/// A refusal, in the shape of the route.
fn refusal(route: &str, code: ErrorCode, message: String, retry_after: Option<u64>) -> Response {
    let mut response = if is_fhir(route) {
        let issue = match code {
            ErrorCode::Unauthorized => "login",
            ErrorCode::Forbidden => "forbidden",
            _ => "throttled",
        };
        let body = serde_json::json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": issue, "diagnostics": message}]});
        let mut response = (
            axum::http::StatusCode::from_u16(code.status()).unwrap_or(axum::http::StatusCode::FORBIDDEN),
            [(header::CONTENT_TYPE, HeaderValue::from_static("application/fhir+json"))],
            body.to_string(),
        )
            .into_response();
        if code == ErrorCode::Unauthorized {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    } else {
        AppError::new(code, message).into_response()
    };
    if let Some(seconds) = retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn auth_refusal(route: &str, error: AuthError) -> Response {
    match error {
        AuthError::RateLimited(seconds) => refusal(route, ErrorCode::TooManyRequests, error.to_string(), Some(seconds)),
        AuthError::Missing | AuthError::Invalid(_) => refusal(route, ErrorCode::Unauthorized, error.to_string(), None),
    }
}

/// Authenticates, authorises, rate-limits and audits one request.
pub(crate) async fn gate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    // The route axum matched (this runs as a route layer), never a guess from the path.
    let route: &'static str = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .and_then(|matched| super::route_template(matched.as_str()))
        .unwrap_or("unknown");
    let Some(role) = route_role(request.method(), route) else {
        return next.run(request).await;
    };
    let remote = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
    let policy = state.access.load();
    let caller = {
        let headers = request.headers();
        let bearer = match headers.get(header::AUTHORIZATION) {
            None => None,
            Some(value) => {
                let value = value.to_str().unwrap_or_default();
                match value.split_once(' ') {
                    Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
                        Some(token.trim())
                    }
                    _ => {
                        return refusal(
                            route,
                            ErrorCode::Unauthorized,
                            "the Authorization header must be `Bearer <API key or token>`".into(),
                            None,
                        );
                    }
                }
            }
        };
        let api_key = match headers.get("x-api-key") {
            None => None,
            Some(value) => match value.to_str() {
                Ok(key) if !key.trim().is_empty() => Some(key.trim()),
                _ => {
                    return refusal(
                        route,
                        ErrorCode::Unauthorized,
                        "the X-API-Key header is empty or not ASCII".into(),
                        None,
                    );
                }
            },
        };
        let credentials = Credentials {
            bearer,
            api_key,
            certificate_sha256: request.extensions().get::<PeerCertificate>().map(|cert| cert.0),
            remote,
        };
        match policy.authenticate(&credentials) {
            Ok(caller) => caller,
            Err(error) => return auth_refusal(route, error),
        }
    };
    if !caller.roles.has(role) && caller.method == crate::auth::Method::Anonymous {
        // credentials would help: 401, as the ROR answers a write without a token
        return refusal(
            route,
            ErrorCode::Unauthorized,
            format!("this route needs the {} role: send credentials", role.as_str()),
            None,
        );
    }
    if !caller.roles.has(role) {
        return refusal(
            route,
            ErrorCode::Forbidden,
            format!("client {:?} does not have the {} role this route needs", &*caller.name, role.as_str()),
            None,
        );
    }
    if let Err(error) = policy.admit(&caller, remote) {
        return auth_refusal(route, error);
    }
    drop(policy);
    let audited = state.audit.as_ref().filter(|_| {
        role != Role::Read || caller.profiles.contains(Profile::Full) || caller.profiles.contains(Profile::NoContacts)
    });
    let Some(audit) = audited.cloned() else {
        request.extensions_mut().insert(caller);
        return next.run(request).await;
    };
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
    request.extensions_mut().insert(caller.clone());
    let response = next.run(request).await;
    audit.record(&AuditEntry {
        at: crate::engine::response::Timestamp(crate::util::time::now()),
        kind: match role {
            Role::Read => "read",
            Role::CapacityWrite => "write",
            Role::Admin => "admin",
            Role::Metrics => "metrics",
        },
        client: &caller.name,
        auth: caller.method.as_str(),
        profiles: caller.profiles.to_string(),
        remote: remote.map(|ip| ip.to_string()),
        method: method.as_str(),
        route,
        path: &path,
        query: query.as_deref(),
        status: response.status().as_u16(),
        bytes: response.body().size_hint().exact(),
    });
    response
}

/// The caller the gate admitted (handlers of authenticated routes take it).
pub(crate) type CallerExt = axum::Extension<Caller>;

/// Headers on every answer: no sniffing, no framing, no referrer, no caching of answers that
/// depend on who asks, and HSTS when served over TLS.
pub(crate) async fn security_headers(State(tls): State<bool>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let set = |headers: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        // the map page sets its own (it runs its scripts and styles)
        set(headers, header::CONTENT_SECURITY_POLICY, "default-src 'none'; frame-ancestors 'none'");
    }
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(headers, HeaderName::from_static("cross-origin-opener-policy"), "same-origin");
    if !headers.contains_key(header::CACHE_CONTROL) {
        set(headers, header::CACHE_CONTROL, "no-store");
    }
    headers.append(header::VARY, HeaderValue::from_static("Authorization, X-API-Key"));
    if tls {
        set(headers, header::STRICT_TRANSPORT_SECURITY, "max-age=31536000");
    }
    response
}

/// Shared with the handlers: the policy in force.
pub(crate) type SharedPolicy = Arc<arc_swap::ArcSwap<crate::auth::AccessPolicy>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_has_a_deliberate_role() {
        for (method, path) in super::super::ROUTES {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let role = route_role(&method, path);
            let expected = match path {
                "/healthz" | "/readyz" | "/openapi.json" => None,
                "/metrics" => Some(Role::Metrics),
                p if p.starts_with("/admin/") || p.starts_with("/v1/quality") => Some(Role::Admin),
                p if method != Method::GET && (p.contains("Location") || p == "/v1/capacity") => {
                    Some(Role::CapacityWrite)
                }
                _ => Some(Role::Read),
            };
            assert_eq!(role, expected, "{method} {path}");
        }
        assert_eq!(route_role(&Method::GET, "/v1/anything-new"), Some(Role::Read), "unknown routes fail closed");
    }

    #[test]
    fn the_metrics_label_of_every_route_is_its_template() {
        for (_, template) in super::super::ROUTES {
            let path = template
                .replace("{id}", "loc-1")
                .replace("{finess}", "330782780")
                .replace("{z}", "5")
                .replace("{x}", "15")
                .replace("{y}", "11");
            assert_eq!(super::super::route_label(&path), template);
        }
    }
}
