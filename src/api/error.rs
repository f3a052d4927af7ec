//! Every error code the service can answer, with its HTTP status: one table.
//!
//! The wire shape is `{"error": {"code", "message", "parameter"}}` ([`ErrorBody`]). Codes are
//! stable (clients branch on them); messages are for people and may change.

use serde::Serialize;
use utoipa::ToSchema;

/// A stable error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A parameter has a bad value, or parameters do not go together.
    BadParameter,
    /// A parameter the route does not take.
    UnknownParameter,
    /// A malformed request the router itself refused (e.g. a bad path segment).
    BadRequest,
    /// Missing or wrong credentials.
    Unauthorized,
    /// The caller is known but its roles or access profile do not allow the route, or a
    /// parameter its profile may not use (`parameter` names it).
    Forbidden,
    /// No such route, resource or snapshot (or the admin routes are disabled).
    NotFound,
    /// The route exists with other methods.
    MethodNotAllowed,
    /// The request body did not arrive within `body_read_timeout_ms`.
    RequestTimeout,
    /// The request body is over `max_body_bytes`.
    PayloadTooLarge,
    /// The request body is declared of a media type the route does not read.
    UnsupportedMediaType,
    /// A snapshot failed to load; the current one keeps serving.
    SnapshotRefused,
    /// A rollback was asked with no previous snapshot.
    NoPreviousSnapshot,
    /// More requests in flight than `concurrency_limit`.
    TooManyRequests,
    /// No snapshot is loaded yet.
    NotReady,
    /// The request took longer than `request_timeout_ms`.
    Timeout,
    /// A bug; the details are in the log.
    Internal,
}

impl ErrorCode {
    /// Every code, for the documentation and the tests.
    pub const ALL: [ErrorCode; 16] = [
        ErrorCode::BadParameter,
        ErrorCode::UnknownParameter,
        ErrorCode::BadRequest,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::RequestTimeout,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::SnapshotRefused,
        ErrorCode::NoPreviousSnapshot,
        ErrorCode::TooManyRequests,
        ErrorCode::NotReady,
        ErrorCode::Timeout,
        ErrorCode::Internal,
    ];

    /// The HTTP status of the code.
    pub const fn status(self) -> u16 {
        match self {
            ErrorCode::BadParameter | ErrorCode::UnknownParameter | ErrorCode::BadRequest => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::RequestTimeout => 408,
            ErrorCode::NoPreviousSnapshot => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::SnapshotRefused => 422,
            ErrorCode::TooManyRequests => 429,
            ErrorCode::Internal => 500,
            ErrorCode::NotReady | ErrorCode::Timeout => 503,
        }
    }

    /// The code as it is written on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadParameter => "bad_parameter",
            ErrorCode::UnknownParameter => "unknown_parameter",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::SnapshotRefused => "snapshot_refused",
            ErrorCode::NoPreviousSnapshot => "no_previous_snapshot",
            ErrorCode::TooManyRequests => "too_many_requests",
            ErrorCode::NotReady => "not_ready",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Internal => "internal",
        }
    }

    /// The message of the code when nothing more precise is known.
    pub(crate) const fn default_message(self) -> &'static str {
        match self {
            ErrorCode::BadParameter => "bad parameter",
            ErrorCode::UnknownParameter => "unknown parameter",
            ErrorCode::BadRequest => "bad request",
            ErrorCode::Unauthorized => "missing, unknown or expired credentials",
            ErrorCode::Forbidden => "the caller's roles or access profile do not allow this",
            ErrorCode::NotFound => "no such route",
            ErrorCode::MethodNotAllowed => "method not allowed on this route",
            ErrorCode::RequestTimeout => "the request body did not arrive in time",
            ErrorCode::PayloadTooLarge => "request body too large",
            ErrorCode::UnsupportedMediaType => "the request body's media type is not one this route reads",
            ErrorCode::SnapshotRefused => "the snapshot failed to load",
            ErrorCode::NoPreviousSnapshot => "no previous snapshot to roll back to",
            ErrorCode::TooManyRequests => "too many requests in flight; retry shortly",
            ErrorCode::NotReady => "no snapshot is loaded yet",
            ErrorCode::Timeout => "the request took longer than the configured timeout",
            ErrorCode::Internal => "internal error (logged)",
        }
    }

    /// The code an error response made outside the handlers stands for (the router's 404 and
    /// 405, the body limit's 413, the timeout's 503); a status no code has is `bad_request` when
    /// a client error, `internal` otherwise.
    pub(crate) fn for_foreign_status(status: u16) -> ErrorCode {
        match status {
            400 => ErrorCode::BadRequest,
            // The timeout layer's; `not_ready` is only made by the handlers.
            503 => ErrorCode::Timeout,
            _ => ErrorCode::ALL
                .into_iter()
                .find(|code| code.status() == status)
                .unwrap_or(if (400..500).contains(&status) { ErrorCode::BadRequest } else { ErrorCode::Internal }),
        }
    }
}

/// The body of every error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    /// The error.
    pub(crate) error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ErrorDetail {
    /// The stable code.
    pub(crate) code: ErrorCode,
    /// For people: what was wrong and, for a parameter, what was expected.
    pub(crate) message: String,
    /// The parameter at fault, if one is.
    pub(crate) parameter: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_consistent() {
        let mut names: Vec<&str> = ErrorCode::ALL.iter().map(|code| code.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len(), "codes are unique");
        for code in ErrorCode::ALL {
            let status = code.status();
            assert!((400..600).contains(&status), "{code:?}");
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
            // A foreign status maps to a code of that same status.
            assert_eq!(ErrorCode::for_foreign_status(status).status(), status, "{code:?}");
        }
    }
}
