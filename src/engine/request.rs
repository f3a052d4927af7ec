//! The search request: one type for every query (orientation, nearest, map, text), parsed from
//! the same `name=value` pairs whether they come from an HTTP query string or CLI flags.
//!
//! Parsing checks syntax and ranges; the engine checks what needs the snapshot (that a commune
//! or a code exists). Both report a [`ParamError`] naming the parameter.

use std::fmt;

use serde::Serialize;

use crate::model::Code;
use crate::model::rules::PriceBasis;

/// Largest radius, in kilometres.
pub const MAX_RADIUS_KM: f64 = 1000.0;
/// Largest page size.
pub const MAX_LIMIT: usize = 200;
/// Default page size.
pub const DEFAULT_LIMIT: usize = 20;
/// Largest offset (deep paging is for exports, not for search).
pub const MAX_OFFSET: usize = 10_000;
/// Most codes in one list parameter.
pub const MAX_CODES: usize = 50;
/// Longest `q`, in characters.
pub const MAX_Q_CHARS: usize = 200;

/// A bad parameter: which one and why (with the allowed values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParamError {
    pub parameter: String,
    pub message: String,
}

impl ParamError {
    /// An error about `parameter`.
    pub fn new(parameter: &str, message: impl Into<String>) -> ParamError {
        ParamError { parameter: parameter.to_owned(), message: message.into() }
    }
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.parameter, self.message)
    }
}

impl std::error::Error for ParamError {}

/// Where distances are measured from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Centre {
    /// WGS84 degrees.
    Point { lat: f64, lon: f64 },
    /// The centroid of an INSEE commune (the ROR's `near-insee-code`).
    Commune(String),
}

/// A lon/lat rectangle; `min_lon > max_lon` crosses the antimeridian.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BBox {
    pub min_lon: f64,
    pub min_lat: f64,
    pub max_lon: f64,
    pub max_lat: f64,
}

impl BBox {
    /// Whether a point is inside (edges included).
    pub fn contains(&self, lat: f64, lon: f64) -> bool {
        let lat_inside = self.min_lat <= lat && lat <= self.max_lat;
        let lon_inside = if self.min_lon <= self.max_lon {
            self.min_lon <= lon && lon <= self.max_lon
        } else {
            lon >= self.min_lon || lon <= self.max_lon
        };
        lat_inside && lon_inside
    }
}

/// The order of results. Ties are broken by distance (when there is a centre), then by offer
/// id ascending, so that the order is total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    /// Nearest first.
    Distance,
    /// Cheapest daily price first (see [`PriceBasis`]); offers without a price last.
    Price,
    /// Most places available now first.
    Available,
    /// Best text match first (BM25).
    Relevance,
    /// EG name, then offer name, alphabetically (case and accents folded).
    Name,
}

impl SortKey {
    fn parse(text: &str) -> Option<SortKey> {
        Some(match text {
            "distance" => SortKey::Distance,
            "price" => SortKey::Price,
            "available" => SortKey::Available,
            "relevance" => SortKey::Relevance,
            "name" => SortKey::Name,
            _ => return None,
        })
    }
}

/// A search request. Units: degrees, kilometres, years, euro cents.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct SearchRequest {
    pub centre: Option<Centre>,
    /// Inclusive radius around the centre, km, in [0, 1000].
    pub radius_km: Option<f64>,
    pub bbox: Option<BBox>,
    pub q: Option<String>,
    /// EG catégorie (TRE_R66), any of.
    pub category: Vec<Code>,
    /// Type d'offre (TRE_R244), any of.
    pub offer_type: Vec<Code>,
    /// Activité opérationnelle (TRE_R211), any of.
    pub activity: Vec<Code>,
    /// Mode de prise en charge (TRE_R213), any of.
    pub care_mode: Vec<Code>,
    /// Temporalité d'accueil (TRE_R240), any of.
    pub reception: Vec<Code>,
    /// Age of the person, years.
    pub age: Option<f64>,
    /// GIR of the person, 1-6.
    pub gir: Option<u8>,
    /// Highest daily price, euro cents.
    pub max_price_cents: Option<i64>,
    pub price_basis: PriceBasis,
    pub min_available: Option<u32>,
    pub min_crisis_t0: Option<u32>,
    pub min_crisis_t60: Option<u32>,
    pub aide_sociale: Option<bool>,
    /// `None`: distance with a centre, else relevance with `q`, else name.
    pub sort: Option<SortKey>,
    pub limit: usize,
    pub offset: usize,
    pub facets: bool,
    /// FHIR id of an offer to explain.
    pub explain: Option<String>,
    /// Count every match even when the first page is known early (slower on dense areas).
    pub exact_total: bool,
    /// The instant closures are evaluated at (Unix seconds); `None` = now.
    pub now: Option<i64>,
}

/// Every parameter name, for the HTTP layer's "unknown parameter" check and the docs.
pub const PARAMETERS: [&str; 27] = [
    "lat",
    "lon",
    "commune",
    "radius_km",
    "bbox",
    "q",
    "category",
    "offer_type",
    "activity",
    "care_mode",
    "reception",
    "age",
    "gir",
    "max_price",
    "price_basis",
    "min_available",
    "min_crisis_t0",
    "min_crisis_t60",
    "aide_sociale",
    "sort",
    "limit",
    "offset",
    "facets",
    "explain",
    "exact_total",
    "now",
    "format",
];

fn number(parameter: &str, text: &str) -> Result<f64, ParamError> {
    let value: f64 =
        text.trim().parse().map_err(|_| ParamError::new(parameter, format!("{text:?} is not a number")))?;
    if !value.is_finite() {
        return Err(ParamError::new(parameter, format!("{text:?} is not a finite number")));
    }
    Ok(value)
}

fn number_in(parameter: &str, text: &str, low: f64, high: f64, unit: &str) -> Result<f64, ParamError> {
    let value = number(parameter, text)?;
    if value < low || value > high {
        return Err(ParamError::new(parameter, format!("{value} is out of range: expected {low} to {high}{unit}")));
    }
    Ok(value)
}

fn integer_in(parameter: &str, text: &str, low: u64, high: u64) -> Result<u64, ParamError> {
    let value: u64 = text.trim().parse().map_err(|_| {
        ParamError::new(parameter, format!("{text:?} is not a whole number (expected {low} to {high})"))
    })?;
    if value < low || value > high {
        return Err(ParamError::new(parameter, format!("{value} is out of range: expected {low} to {high}")));
    }
    Ok(value)
}

fn boolean(parameter: &str, text: &str) -> Result<bool, ParamError> {
    match text.trim() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(ParamError::new(parameter, format!("{text:?} is not a boolean (expected true or false)"))),
    }
}

fn codes(parameter: &str, text: &str) -> Result<Vec<Code>, ParamError> {
    let codes: Vec<Code> = text.split(',').map(str::trim).map(Code::from).collect();
    if codes.iter().any(|code| code.is_empty()) {
        return Err(ParamError::new(parameter, "empty code in the list (expected codes separated by commas)"));
    }
    if codes.len() > MAX_CODES {
        return Err(ParamError::new(parameter, format!("at most {MAX_CODES} codes")));
    }
    if let Some(code) = codes.iter().find(|code| code.len() > 16 || !code.bytes().all(|b| b.is_ascii_alphanumeric())) {
        return Err(ParamError::new(parameter, format!("{code:?} is not a code (letters and digits, up to 16)")));
    }
    Ok(codes)
}

impl SearchRequest {
    /// Parses `name=value` pairs. Unknown names, repeated names and out-of-range values are
    /// errors naming the parameter.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<SearchRequest, ParamError> {
        let mut request = SearchRequest { limit: DEFAULT_LIMIT, ..SearchRequest::default() };
        let mut lat = None;
        let mut lon = None;
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in pairs {
            if !PARAMETERS.contains(&name) {
                return Err(ParamError::new(name, format!("unknown parameter (known: {})", PARAMETERS.join(", "))));
            }
            if seen.contains(&name) {
                return Err(ParamError::new(name, "given more than once (use commas for several codes)"));
            }
            seen.push(name);
            match name {
                "lat" => lat = Some(number_in(name, value, -90.0, 90.0, " degrees")?),
                "lon" => lon = Some(number_in(name, value, -180.0, 180.0, " degrees")?),
                "commune" => {
                    let code = value.trim();
                    if !crate::model::place::is_insee_commune(code) {
                        return Err(ParamError::new(
                            name,
                            format!("{code:?} is not an INSEE commune code (5 characters, e.g. 33063 or 2A004)"),
                        ));
                    }
                    request.centre = Some(Centre::Commune(code.to_owned()));
                }
                "radius_km" => request.radius_km = Some(number_in(name, value, 0.0, MAX_RADIUS_KM, " km")?),
                "bbox" => request.bbox = Some(parse_bbox(value)?),
                "q" => {
                    if value.chars().count() > MAX_Q_CHARS {
                        return Err(ParamError::new(name, format!("longer than {MAX_Q_CHARS} characters")));
                    }
                    if !value.trim().is_empty() {
                        request.q = Some(value.to_owned());
                    }
                }
                "category" => request.category = codes(name, value)?,
                "offer_type" => request.offer_type = codes(name, value)?,
                "activity" => request.activity = codes(name, value)?,
                "care_mode" => request.care_mode = codes(name, value)?,
                "reception" => request.reception = codes(name, value)?,
                "age" => request.age = Some(number_in(name, value, 0.0, 150.0, " years")?),
                "gir" => request.gir = Some(integer_in(name, value, 1, 6)? as u8),
                "max_price" => {
                    let euros = number_in(name, value, 0.01, 10_000.0, " EUR per day")?;
                    let cents = (euros * 100.0).round();
                    if (euros * 100.0 - cents).abs() > 1e-6 {
                        return Err(ParamError::new(
                            name,
                            format!("{value} has more than 2 decimals (euros and cents)"),
                        ));
                    }
                    request.max_price_cents = Some(cents as i64);
                }
                "price_basis" => {
                    request.price_basis = match value.trim() {
                        "gross" => PriceBasis::Gross,
                        "out_of_pocket" => PriceBasis::OutOfPocket,
                        other => {
                            return Err(ParamError::new(
                                name,
                                format!("{other:?} is not a price basis (expected gross or out_of_pocket)"),
                            ));
                        }
                    }
                }
                "min_available" => request.min_available = Some(integer_in(name, value, 0, 100_000)? as u32),
                "min_crisis_t0" => request.min_crisis_t0 = Some(integer_in(name, value, 0, 100_000)? as u32),
                "min_crisis_t60" => request.min_crisis_t60 = Some(integer_in(name, value, 0, 100_000)? as u32),
                "aide_sociale" => request.aide_sociale = Some(boolean(name, value)?),
                "sort" => {
                    request.sort = Some(SortKey::parse(value.trim()).ok_or_else(|| {
                        ParamError::new(
                            name,
                            format!("{value:?} is not a sort (expected distance, price, available, relevance or name)"),
                        )
                    })?);
                }
                "limit" => request.limit = integer_in(name, value, 1, MAX_LIMIT as u64)? as usize,
                "offset" => request.offset = integer_in(name, value, 0, MAX_OFFSET as u64)? as usize,
                "facets" => request.facets = boolean(name, value)?,
                "explain" => {
                    let id = value.trim();
                    if id.is_empty() || id.len() > 64 {
                        return Err(ParamError::new(name, "expected the FHIR id of an offer"));
                    }
                    request.explain = Some(id.to_owned());
                }
                "exact_total" => request.exact_total = boolean(name, value)?,
                "now" => {
                    let seconds = crate::util::time::parse_fhir_datetime(value.trim())
                        .map_err(|error| ParamError::new(name, format!("{error} (expected an RFC 3339 date-time)")))?;
                    request.now = Some(seconds);
                }
                // `format` is the HTTP layer's (JSON or GeoJSON); accepted and ignored here.
                _ => {}
            }
        }
        match (lat, lon) {
            (Some(lat), Some(lon)) => {
                if request.centre.is_some() {
                    return Err(ParamError::new("commune", "give either lat and lon, or commune, not both"));
                }
                request.centre = Some(Centre::Point { lat, lon });
            }
            (Some(_), None) => return Err(ParamError::new("lon", "missing: lat needs lon")),
            (None, Some(_)) => return Err(ParamError::new("lat", "missing: lon needs lat")),
            (None, None) => {}
        }
        request.validate()?;
        Ok(request)
    }

    /// Checks combinations of parameters.
    pub fn validate(&self) -> Result<(), ParamError> {
        if self.radius_km.is_some() && self.centre.is_none() {
            return Err(ParamError::new("radius_km", "needs a centre (lat and lon, or commune)"));
        }
        if self.sort == Some(SortKey::Distance) && self.centre.is_none() {
            return Err(ParamError::new("sort", "distance needs a centre (lat and lon, or commune)"));
        }
        if self.sort == Some(SortKey::Relevance) && self.q.is_none() {
            return Err(ParamError::new("sort", "relevance needs a text query (q)"));
        }
        if !(1..=MAX_LIMIT).contains(&self.limit) {
            return Err(ParamError::new("limit", format!("{} is out of range: expected 1 to {MAX_LIMIT}", self.limit)));
        }
        if self.offset > MAX_OFFSET {
            return Err(ParamError::new(
                "offset",
                format!("{} is out of range: expected 0 to {MAX_OFFSET}", self.offset),
            ));
        }
        Ok(())
    }

    /// The sort that applies.
    pub fn effective_sort(&self) -> SortKey {
        self.sort.unwrap_or(if self.centre.is_some() {
            SortKey::Distance
        } else if self.q.is_some() {
            SortKey::Relevance
        } else {
            SortKey::Name
        })
    }
}

fn parse_bbox(text: &str) -> Result<BBox, ParamError> {
    let parts: Vec<&str> = text.split(',').collect();
    if parts.len() != 4 {
        return Err(ParamError::new("bbox", "expected min_lon,min_lat,max_lon,max_lat"));
    }
    let bbox = BBox {
        min_lon: number_in("bbox", parts[0], -180.0, 180.0, " degrees (min_lon)")?,
        min_lat: number_in("bbox", parts[1], -90.0, 90.0, " degrees (min_lat)")?,
        max_lon: number_in("bbox", parts[2], -180.0, 180.0, " degrees (max_lon)")?,
        max_lat: number_in("bbox", parts[3], -90.0, 90.0, " degrees (max_lat)")?,
    };
    if bbox.min_lat > bbox.max_lat {
        return Err(ParamError::new("bbox", "min_lat is above max_lat"));
    }
    Ok(bbox)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &[(&str, &str)]) -> Result<SearchRequest, ParamError> {
        SearchRequest::from_pairs(query.iter().copied())
    }

    #[test]
    fn parses_an_orientation_query() {
        let request = parse(&[
            ("lat", "45.7606"),
            ("lon", "4.8594"),
            ("radius_km", "30"),
            ("category", "500"),
            ("gir", "2"),
            ("max_price", "90"),
            ("min_available", "1"),
        ])
        .unwrap();
        assert_eq!(request.centre, Some(Centre::Point { lat: 45.7606, lon: 4.8594 }));
        assert_eq!(request.max_price_cents, Some(9_000));
        assert_eq!(request.category, vec![Code::from("500")]);
        assert_eq!(request.effective_sort(), SortKey::Distance);
        assert_eq!(request.limit, 20);
    }

    #[test]
    fn errors_name_the_parameter_and_the_range() {
        let error = parse(&[("lat", "95"), ("lon", "0")]).unwrap_err();
        assert_eq!(error.parameter, "lat");
        assert_eq!(error.message, "95 is out of range: expected -90 to 90 degrees");
        assert_eq!(parse(&[("radius_km", "5")]).unwrap_err().parameter, "radius_km");
        assert_eq!(
            parse(&[("lat", "1"), ("lon", "1"), ("radius_km", "1001")]).unwrap_err().message,
            "1001 is out of range: expected 0 to 1000 km"
        );
        assert_eq!(parse(&[("limit", "0")]).unwrap_err().message, "0 is out of range: expected 1 to 200");
        assert_eq!(parse(&[("gir", "7")]).unwrap_err().parameter, "gir");
        assert_eq!(parse(&[("gir", "two")]).unwrap_err().message, "\"two\" is not a whole number (expected 1 to 6)");
        assert_eq!(parse(&[("colour", "red")]).unwrap_err().parameter, "colour");
        assert_eq!(parse(&[("sort", "distance")]).unwrap_err().parameter, "sort");
        assert_eq!(parse(&[("bbox", "1,2,3")]).unwrap_err().parameter, "bbox");
        assert_eq!(parse(&[("category", "500,,21")]).unwrap_err().parameter, "category");
        assert_eq!(parse(&[("max_price", "80.005")]).unwrap_err().parameter, "max_price");
        assert_eq!(parse(&[("lat", "1")]).unwrap_err().parameter, "lon");
        assert_eq!(parse(&[("commune", "3306")]).unwrap_err().parameter, "commune");
        assert_eq!(
            parse(&[("q", "a"), ("q", "b")]).unwrap_err().message,
            "given more than once (use commas for several codes)"
        );
    }

    #[test]
    fn bbox_across_the_antimeridian() {
        let bbox = parse(&[("bbox", "170,-20,-170,-10")]).unwrap().bbox.unwrap();
        assert!(bbox.contains(-15.0, 175.0));
        assert!(bbox.contains(-15.0, -175.0));
        assert!(!bbox.contains(-15.0, 0.0));
    }
}

/// A crisis-capacity request (`/v1/crisis`): the EGs nearest a centre with supplementary beds
/// now (T0) or within the hour (T60), and the totals by département.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct CrisisRequest {
    pub centre: Option<Centre>,
    pub radius_km: Option<f64>,
    /// Activité opérationnelle (TRE_R211), any of.
    pub activity: Vec<Code>,
    /// Type d'offre (TRE_R244), any of.
    pub offer_type: Vec<Code>,
    /// Niveau de recours ORSAN of the EG (TRE_R284: 1 première ligne, 4 deuxième ligne), any of.
    pub orsan_level: Vec<Code>,
    /// Minimum T0 and T60 per offer; an offer needs some crisis capacity (T0 + T60 > 0) anyway.
    pub min_crisis_t0: Option<u32>,
    pub min_crisis_t60: Option<u32>,
    /// Number of EGs returned [1, 200], default 10.
    pub limit: usize,
    pub now: Option<i64>,
}

/// The parameters of [`CrisisRequest`].
pub const CRISIS_PARAMETERS: [&str; 11] = [
    "lat",
    "lon",
    "commune",
    "radius_km",
    "activity",
    "offer_type",
    "orsan_level",
    "min_crisis_t0",
    "min_crisis_t60",
    "limit",
    "now",
];

impl CrisisRequest {
    /// Parses `name=value` pairs (same rules and messages as [`SearchRequest::from_pairs`]).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<CrisisRequest, ParamError> {
        let pairs: Vec<(&str, &str)> = pairs.into_iter().collect();
        if let Some((name, _)) = pairs.iter().find(|(name, _)| !CRISIS_PARAMETERS.contains(name)) {
            return Err(ParamError::new(name, format!("unknown parameter (known: {})", CRISIS_PARAMETERS.join(", "))));
        }
        let mut request = CrisisRequest { limit: 10, ..CrisisRequest::default() };
        let mut shared = Vec::new();
        for &(name, value) in &pairs {
            match name {
                "orsan_level" => request.orsan_level = codes(name, value)?,
                _ => shared.push((name, value)),
            }
        }
        let search = SearchRequest::from_pairs(shared)?;
        request.centre = search.centre;
        request.radius_km = search.radius_km;
        request.activity = search.activity;
        request.offer_type = search.offer_type;
        request.min_crisis_t0 = search.min_crisis_t0;
        request.min_crisis_t60 = search.min_crisis_t60;
        request.now = search.now;
        if pairs.iter().any(|(name, _)| *name == "limit") {
            request.limit = search.limit;
        }
        Ok(request)
    }
}
