//! `CrisisQuery`: the parameters of `GET /v1/crisis` (the SAMU's "nearest crisis beds"), and
//! their conversion into the engine's [`CrisisRequest`].

use serde::Deserialize;
use utoipa::IntoParams;

use super::offers::centre;
use super::values::{Codes, Count, InseeCommune, Instant, Latitude, Limit, Longitude, RadiusKm};
use crate::engine::crisis::{CrisisRequest, DEFAULT_CRISIS_LIMIT};
use crate::engine::request::{ParamError, SearchRequest};

/// Crisis-capacity parameters.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CrisisQuery {
    /// Latitude of the centre, WGS84 degrees [-90, 90] (with `lon`).
    #[param(value_type = Option<f64>, minimum = -90, maximum = 90)]
    pub(crate) lat: Option<Latitude>,
    /// Longitude of the centre, WGS84 degrees [-180, 180] (with `lat`).
    #[param(value_type = Option<f64>, minimum = -180, maximum = 180)]
    pub(crate) lon: Option<Longitude>,
    /// Centre at an INSEE commune's centroid, instead of lat/lon.
    #[param(value_type = Option<String>, pattern = "^[0-9][0-9AB][0-9]{3}$")]
    pub(crate) commune: Option<InseeCommune>,
    /// Radius around the centre, km [0, 1000]; without it, all of France.
    #[param(value_type = Option<f64>, minimum = 0, maximum = 1000)]
    pub(crate) radius_km: Option<RadiusKm>,
    /// Activité opérationnelle codes (TRE_R211), comma = any of.
    #[param(value_type = Option<String>)]
    pub(crate) activity: Option<Codes>,
    /// Type d'offre codes (TRE_R244), comma = any of.
    #[param(value_type = Option<String>)]
    pub(crate) offer_type: Option<Codes>,
    /// Niveau de recours ORSAN of the EG (TRE_R284: `1`, `4`), comma = any of.
    #[param(value_type = Option<String>)]
    pub(crate) orsan_level: Option<Codes>,
    /// At least this many crisis beds now (T0) per offer [0, 100000].
    #[param(value_type = Option<u32>, minimum = 0, maximum = 100000)]
    pub(crate) min_crisis_t0: Option<Count>,
    /// At least this many crisis beds within the hour (T60) per offer [0, 100000].
    #[param(value_type = Option<u32>, minimum = 0, maximum = 100000)]
    pub(crate) min_crisis_t60: Option<Count>,
    /// Number of EGs returned [1, 200], default 10.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub(crate) limit: Option<Limit>,
    /// Evaluate closures at this instant (RFC 3339; default now).
    #[param(value_type = Option<String>, format = DateTime)]
    pub(crate) now: Option<Instant>,
}

impl CrisisQuery {
    /// Parses `name=value` pairs (see [`super::pairs::from_pairs`]).
    pub(crate) fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<CrisisQuery, ParamError> {
        super::pairs::from_pairs(pairs, &[])
    }

    /// The engine's request.
    pub(crate) fn into_request(self) -> Result<CrisisRequest, ParamError> {
        let codes = |codes: Option<Codes>| codes.map(|Codes(codes)| codes).unwrap_or_default();
        let search = SearchRequest {
            centre: centre(self.lat, self.lon, self.commune)?,
            radius_km: self.radius_km.map(|RadiusKm(km)| km),
            activity: codes(self.activity),
            offer_type: codes(self.offer_type),
            min_crisis_t0: self.min_crisis_t0.map(|count| count.0 as u32),
            min_crisis_t60: self.min_crisis_t60.map(|count| count.0 as u32),
            limit: self.limit.map_or(DEFAULT_CRISIS_LIMIT, |limit| limit.0 as usize),
            now: self.now.map(|Instant(seconds)| seconds),
            ..SearchRequest::default()
        };
        search.validate()?;
        Ok(CrisisRequest { search, orsan_level: codes(self.orsan_level) })
    }
}

/// Parses `name=value` pairs straight into the engine's crisis request.
pub fn crisis_request<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<CrisisRequest, ParamError> {
    CrisisQuery::from_pairs(pairs)?.into_request()
}
