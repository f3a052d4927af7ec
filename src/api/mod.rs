//! The contract of the service with its clients, shared by the HTTP API and the CLI: the
//! parameters of every route (one typed struct each, the one list of its parameters, from which
//! the OpenAPI document and the CLI flags are derived too) and the error codes with their HTTP
//! statuses (one table).
//!
//! This module knows neither axum nor how a query runs: it turns text into the engine's request
//! types ([`crate::engine::SearchRequest`], [`crate::engine::crisis::CrisisRequest`]).

pub(crate) mod crisis;
pub(crate) mod error;
pub(crate) mod offers;
pub(crate) mod pairs;
pub(crate) mod quality;
pub(crate) mod values;

use serde::Deserialize;
use utoipa::IntoParams;

pub use crisis::{CrisisQuery, crisis_request};
pub use error::ErrorCode;
pub(crate) use error::{ErrorBody, ErrorDetail};
pub use offers::{OffersQuery, search_request};
pub(crate) use pairs::from_pairs;
pub use pairs::{decode_query, parameter_names};
pub use quality::{QualityFormat, QualityQuery, QualityRequest};

/// The parameters of `GET /v1/communes`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CommunesQuery {
    /// Beginning of a commune name (accents and case folded) or of a postcode / INSEE code; at most 100 characters.
    #[param(value_type = String, max_length = 100)]
    pub(crate) q: Option<values::Text<100>>,
    /// Number of communes [1, 50], default 10.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 50)]
    pub(crate) limit: Option<values::Whole<1, 50>>,
}

/// The parameters of `POST /admin/reload`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReloadQuery {
    /// Directory name of the snapshot in the index; default the newest.
    pub(crate) snapshot: Option<String>,
}

/// The parameters of a route that takes none.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoQuery {}
