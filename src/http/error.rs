//! The API error as an axum response: an [`ErrorCode`] of the one table in
//! [`crate::api::error`], a message and the parameter at fault, with the code's HTTP status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::api::{ErrorBody, ErrorCode, ErrorDetail};
use crate::engine::ParamError;

/// An API error: a stable code (which gives the status), a message for people, and the
/// parameter at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AppError {
    /// The stable code.
    pub(crate) code: ErrorCode,
    /// For people.
    pub(crate) message: String,
    /// The parameter at fault, if one is.
    pub(crate) parameter: Option<String>,
}

impl AppError {
    /// An error of `code` with its own message.
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> AppError {
        AppError { code, message: message.into(), parameter: None }
    }

    /// An error of `code` with the code's default message.
    pub(crate) fn of(code: ErrorCode) -> AppError {
        AppError::new(code, code.default_message())
    }

    /// A 400 (403 for a parameter the caller's profile may not use) about one parameter.
    pub(crate) fn bad_parameter(error: ParamError) -> AppError {
        let code = if error.is_unknown_parameter() {
            ErrorCode::UnknownParameter
        } else if error.is_forbidden() {
            ErrorCode::Forbidden
        } else {
            ErrorCode::BadParameter
        };
        // A parameter name is echoed back: never a megabyte of it.
        let cut = |text: String, max: usize| match crate::util::prefix_within(&text, max) {
            prefix if prefix.len() < text.len() => format!("{prefix}…"),
            _ => text,
        };
        let parameter = cut(error.parameter, 100);
        let message = cut(error.message, 1000);
        AppError { code, message, parameter: Some(parameter) }
    }

    /// A 404.
    pub(crate) fn not_found(message: impl Into<String>) -> AppError {
        AppError::new(ErrorCode::NotFound, message)
    }

    /// A 500; the details go to the log, not to the client.
    pub(crate) fn internal(detail: impl std::fmt::Display) -> AppError {
        tracing::error!(%detail, "internal error");
        AppError::of(ErrorCode::Internal)
    }

    /// The HTTP status of the error.
    pub(crate) fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code.status()).expect("the error table holds valid statuses")
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body =
            ErrorBody { error: ErrorDetail { code: self.code, message: self.message, parameter: self.parameter } };
        let mut response = (status, axum::Json(body)).into_response();
        if self.code == ErrorCode::Unauthorized {
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
