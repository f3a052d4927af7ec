//! The one error shape of the API: `{ "error": { "code", "message", "parameter" } }`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::engine::ParamError;

/// An API error: a status, a stable code, a message for people, and the parameter at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub parameter: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    parameter: Option<&'a str>,
}

impl AppError {
    /// A 400 about one parameter.
    pub fn bad_parameter(error: ParamError) -> AppError {
        let code = if error.message.starts_with("unknown parameter") { "unknown_parameter" } else { "bad_parameter" };
        AppError { status: StatusCode::BAD_REQUEST, code, message: error.message, parameter: Some(error.parameter) }
    }

    /// A 404.
    pub fn not_found(message: impl Into<String>) -> AppError {
        AppError { status: StatusCode::NOT_FOUND, code: "not_found", message: message.into(), parameter: None }
    }

    /// A 503 while no snapshot is loaded.
    pub fn not_ready() -> AppError {
        AppError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "not_ready",
            message: "no snapshot is loaded yet".into(),
            parameter: None,
        }
    }

    /// A 500; the details go to the log, not to the client.
    pub fn internal(detail: impl std::fmt::Display) -> AppError {
        tracing::error!(%detail, "internal error");
        AppError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: "internal error (logged)".into(),
            parameter: None,
        }
    }

    /// The error a bare status stands for (for responses made by middleware).
    pub fn from_status(status: StatusCode) -> AppError {
        let (code, message) = match status {
            StatusCode::NOT_FOUND => ("not_found", "no such route"),
            StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "method not allowed on this route"),
            StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "request body too large"),
            StatusCode::TOO_MANY_REQUESTS => ("too_many_requests", "too many requests in flight; retry shortly"),
            StatusCode::SERVICE_UNAVAILABLE => ("timeout", "the request took longer than the configured timeout"),
            StatusCode::UNAUTHORIZED => ("unauthorized", "missing or wrong bearer token"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", "unsupported media type"),
            status if status.is_client_error() => ("bad_request", "bad request"),
            _ => ("internal", "internal error (logged)"),
        };
        AppError { status, code, message: message.into(), parameter: None }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body =
            Body { error: Inner { code: self.code, message: &self.message, parameter: self.parameter.as_deref() } };
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<ParamError> for AppError {
    fn from(error: ParamError) -> Self {
        AppError::bad_parameter(error)
    }
}
