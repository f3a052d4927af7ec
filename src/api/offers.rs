//! `OffersQuery`: the parameters of `GET /v1/offers` and of `ror-search search`, in one struct
//! that serde (query strings), utoipa (the OpenAPI document) and clap (the CLI flags) all read;
//! [`OffersQuery::into_request`] turns it into the engine's [`SearchRequest`].
//!
//! Adding a parameter: a field here (its doc comment is its documentation everywhere), its
//! conversion in `into_request`, its semantics in the engine.

use serde::Deserialize;
use utoipa::IntoParams;

use super::values::{
    AgeYears, BBoxParam, Basis, Codes, Count, Fields, Flag, Gir, InseeCommune, Instant, Latitude, Limit, Longitude,
    OfferId, Offset, PriceEur, RadiusKm, ResultView, Sort, Text,
};
use crate::engine::request::{Centre, DEFAULT_LIMIT, MAX_Q_CHARS, ParamError, SearchRequest};
use crate::model::GeoPoint;

/// Search parameters: orientation (centre + radius), nearest (centre), map (bbox), text (q),
/// filters, sort, page, facets and explain.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, IntoParams, clap::Args)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OffersQuery {
    /// Latitude of the centre, WGS84 degrees [-90, 90] (with `lon`).
    #[arg(long, allow_hyphen_values = true)]
    #[param(value_type = Option<f64>, minimum = -90, maximum = 90)]
    pub(crate) lat: Option<Latitude>,
    /// Longitude of the centre, WGS84 degrees [-180, 180] (with `lat`).
    #[arg(long, allow_hyphen_values = true)]
    #[param(value_type = Option<f64>, minimum = -180, maximum = 180)]
    pub(crate) lon: Option<Longitude>,
    /// Centre at the centroid of an INSEE commune code (e.g. `33063` Bordeaux, `2A004` Ajaccio), instead of lat/lon.
    #[arg(long)]
    #[param(value_type = Option<String>, pattern = "^[0-9][0-9AB][0-9]{3}$")]
    pub(crate) commune: Option<InseeCommune>,
    /// Radius around the centre, km, inclusive [0, 1000]. With a centre and no radius: the nearest offers.
    #[arg(long = "radius_km")]
    #[param(value_type = Option<f64>, minimum = 0, maximum = 1000)]
    pub(crate) radius_km: Option<RadiusKm>,
    /// Map rectangle `min_lon,min_lat,max_lon,max_lat` (degrees; `min_lon > max_lon` crosses the antimeridian).
    #[arg(long, allow_hyphen_values = true)]
    #[param(value_type = Option<String>, example = "-0.7,44.7,-0.4,45.0")]
    pub(crate) bbox: Option<BBoxParam>,
    /// Text: EG, EJ and offer names, commune, activity labels (accents and case folded, French stemming, the last word also as a prefix); at most 200 characters.
    #[arg(long)]
    #[param(value_type = Option<String>, max_length = 200)]
    pub(crate) q: Option<Text<MAX_Q_CHARS>>,
    /// EG catégorie codes (TRE_R66), comma = any of (`500` = EHPAD).
    #[arg(long)]
    #[param(value_type = Option<String>)]
    pub(crate) category: Option<Codes>,
    /// Type d'offre codes (TRE_R244), comma = any of (`21` = hébergement PA dépendantes).
    #[arg(long = "offer_type")]
    #[param(value_type = Option<String>)]
    pub(crate) offer_type: Option<Codes>,
    /// Activité opérationnelle codes (TRE_R211), comma = any of.
    #[arg(long)]
    #[param(value_type = Option<String>)]
    pub(crate) activity: Option<Codes>,
    /// Mode de prise en charge codes (TRE_R213), comma = any of (`46` hébergement, `47` accueil de jour).
    #[arg(long = "care_mode")]
    #[param(value_type = Option<String>)]
    pub(crate) care_mode: Option<Codes>,
    /// Temporalité d'accueil codes (TRE_R240): `01` temporaire, `02` permanent; comma = any of.
    #[arg(long)]
    #[param(value_type = Option<String>)]
    pub(crate) reception: Option<Codes>,
    /// Age of the person, years [0, 150].
    #[arg(long)]
    #[param(value_type = Option<f64>, minimum = 0, maximum = 150)]
    pub(crate) age: Option<AgeYears>,
    /// GIR of the person, 1-6.
    #[arg(long)]
    #[param(value_type = Option<u8>, minimum = 1, maximum = 6)]
    pub(crate) gir: Option<Gir>,
    /// Highest daily price, EUR with at most 2 decimals [0.01, 10000] (hébergement + dépendance, see `price_basis`).
    #[arg(long = "max_price")]
    #[param(value_type = Option<f64>, minimum = 0.01, maximum = 10000)]
    pub(crate) max_price: Option<PriceEur>,
    /// `gross` (dépendance of the person's GIR band, the default) or `out_of_pocket` (band GIR 5-6, the ticket modérateur).
    #[arg(long = "price_basis")]
    #[param(value_type = Option<String>, pattern = "^(gross|out_of_pocket)$")]
    pub(crate) price_basis: Option<Basis>,
    /// At least this many places available now [0, 100000].
    #[arg(long = "min_available")]
    #[param(value_type = Option<u32>, minimum = 0, maximum = 100000)]
    pub(crate) min_available: Option<Count>,
    /// At least this many crisis beds now (T0) [0, 100000].
    #[arg(long = "min_crisis_t0")]
    #[param(value_type = Option<u32>, minimum = 0, maximum = 100000)]
    pub(crate) min_crisis_t0: Option<Count>,
    /// At least this many crisis beds within the hour (T60) [0, 100000].
    #[arg(long = "min_crisis_t60")]
    #[param(value_type = Option<u32>, minimum = 0, maximum = 100000)]
    pub(crate) min_crisis_t60: Option<Count>,
    /// `true`: only EGs habilités à l'aide sociale; `false`: only the others.
    #[arg(long = "aide_sociale")]
    #[param(value_type = Option<bool>)]
    pub(crate) aide_sociale: Option<Flag>,
    /// `distance` (default with a centre), `price`, `available`, `relevance` (default with `q`) or `name` (default otherwise).
    #[arg(long)]
    #[param(value_type = Option<String>, pattern = "^(distance|price|available|relevance|name)$")]
    pub(crate) sort: Option<Sort>,
    /// Page size [1, 200], default 20.
    #[arg(long)]
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub(crate) limit: Option<Limit>,
    /// Results skipped [0, 10000].
    #[arg(long)]
    #[param(value_type = Option<u32>, minimum = 0, maximum = 10000)]
    pub(crate) offset: Option<Offset>,
    /// `true`: counts by catégorie, type d'offre and département over every match.
    #[arg(long)]
    #[param(value_type = Option<bool>)]
    pub(crate) facets: Option<Flag>,
    /// FHIR id of an offer: why it matched or which filter excluded it, and its rank.
    #[arg(long)]
    #[param(value_type = Option<String>)]
    pub(crate) explain: Option<OfferId>,
    /// Accepted for compatibility, no effect: every total is exact (a page found early has
    /// its region's matches counted apart).
    #[arg(long = "exact_total")]
    #[param(value_type = Option<bool>)]
    pub(crate) exact_total: Option<Flag>,
    /// Members of each result, comma-separated, among `id, identifier, name, offer_type,
    /// activity_field, activity, care_mode, reception, age_min_years, age_max_years, eg, lat,
    /// lon, position_source, distance_m, price, capacity, score, last_updated` (`id` always;
    /// in the result's order). Not with `view`.
    #[arg(long)]
    #[param(value_type = Option<String>, example = "name,eg,distance_m,capacity")]
    pub(crate) fields: Option<Fields>,
    /// A preset of `fields`: `ids` (id, distance_m), `summary` (id, name, activity, care_mode,
    /// eg, lat, lon, distance_m, price, capacity) or `full` (every member, the default).
    #[arg(long)]
    #[param(value_type = Option<String>, pattern = "^(ids|summary|full)$")]
    pub(crate) view: Option<ResultView>,
    /// Evaluate closures at this instant (RFC 3339; default now).
    #[arg(long)]
    #[param(value_type = Option<String>, format = DateTime)]
    pub(crate) now: Option<Instant>,
}

/// The centre given by `lat` + `lon` or by `commune` (not both, and not half of a point).
pub(crate) fn centre(
    lat: Option<Latitude>,
    lon: Option<Longitude>,
    commune: Option<InseeCommune>,
) -> Result<Option<Centre>, ParamError> {
    match (lat, lon, commune) {
        (Some(_), Some(_), Some(_)) => Err(ParamError::new("commune", "give either lat and lon, or commune, not both")),
        (Some(Latitude(lat)), Some(Longitude(lon)), None) => Ok(Some(Centre::Point(GeoPoint { lat, lon }))),
        (Some(_), None, _) => Err(ParamError::new("lon", "missing: lat needs lon")),
        (None, Some(_), _) => Err(ParamError::new("lat", "missing: lon needs lat")),
        (None, None, commune) => Ok(commune.map(|InseeCommune(code)| Centre::Commune(code))),
    }
}

impl OffersQuery {
    /// Parses `name=value` pairs (see [`super::pairs::from_pairs`]).
    pub(crate) fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<OffersQuery, ParamError> {
        super::pairs::from_pairs(pairs, &[])
    }

    /// The engine's request, with the checks that need several parameters.
    pub(crate) fn into_request(self) -> Result<SearchRequest, ParamError> {
        let codes = |codes: Option<Codes>| codes.map(|Codes(codes)| codes).unwrap_or_default();
        let request = SearchRequest {
            centre: centre(self.lat, self.lon, self.commune)?,
            radius_km: self.radius_km.map(|RadiusKm(km)| km),
            bbox: self.bbox.map(|BBoxParam(bbox)| bbox),
            q: self.q.map(|Text(q)| q).filter(|q| !q.trim().is_empty()),
            category: codes(self.category),
            offer_type: codes(self.offer_type),
            activity: codes(self.activity),
            care_mode: codes(self.care_mode),
            reception: codes(self.reception),
            age: self.age.map(|AgeYears(years)| years),
            gir: self.gir.map(|gir| gir.0 as u8),
            max_price_cents: self.max_price.map(|price| price.cents),
            price_basis: self.price_basis.map(|Basis(basis)| basis).unwrap_or_default(),
            min_available: self.min_available.map(|count| count.0 as u32),
            min_crisis_t0: self.min_crisis_t0.map(|count| count.0 as u32),
            min_crisis_t60: self.min_crisis_t60.map(|count| count.0 as u32),
            aide_sociale: self.aide_sociale.map(|Flag(flag)| flag),
            sort: self.sort.map(|Sort(sort)| sort),
            limit: self.limit.map_or(DEFAULT_LIMIT, |limit| limit.0 as usize),
            offset: self.offset.map_or(0, |offset| offset.0 as usize),
            facets: self.facets.is_some_and(|Flag(flag)| flag),
            explain: self.explain.map(|OfferId(id)| id),
            exact_total: self.exact_total.is_some_and(|Flag(flag)| flag),
            now: self.now.map(|Instant(seconds)| seconds),
            // The HTTP layer sets the caller's profiles; parsing alone knows no caller.
            profiles: crate::model::access::ProfileSet::default(),
            fields: match (self.fields, self.view) {
                (Some(_), Some(_)) => return Err(ParamError::new("fields", "give either fields or view, not both")),
                (Some(Fields(fields)), None) | (None, Some(ResultView(fields))) => fields,
                (None, None) => crate::engine::FieldSet::FULL,
            },
        };
        request.validate()?;
        Ok(request)
    }
}

/// Parses `name=value` pairs straight into the engine's request (tests, benches, warm-up).
pub fn search_request<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<SearchRequest, ParamError> {
    OffersQuery::from_pairs(pairs)?.into_request()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::request::SortKey;
    use crate::model::Code;

    fn parse(query: &[(&str, &str)]) -> Result<SearchRequest, ParamError> {
        search_request(query.iter().copied())
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
        assert_eq!(request.centre, Some(Centre::Point(GeoPoint { lat: 45.7606, lon: 4.8594 })));
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
        assert!(parse(&[("colour", "red")]).unwrap_err().is_unknown_parameter());
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
        assert_eq!(
            parse(&[("lat", "1"), ("lon", "1"), ("commune", "33063")]).unwrap_err().message,
            "give either lat and lon, or commune, not both"
        );
    }

    #[test]
    fn bbox_across_the_antimeridian() {
        let bbox = parse(&[("bbox", "170,-20,-170,-10")]).unwrap().bbox.unwrap();
        assert!(bbox.contains(GeoPoint { lat: -15.0, lon: 175.0 }));
        assert!(bbox.contains(GeoPoint { lat: -15.0, lon: -175.0 }));
        assert!(!bbox.contains(GeoPoint { lat: -15.0, lon: 0.0 }));
    }

    #[test]
    fn the_cli_flags_are_the_parameters() {
        use clap::{CommandFactory, Parser};
        #[derive(Debug, Parser)]
        struct Cli {
            #[command(flatten)]
            query: OffersQuery,
        }
        let flags: Vec<String> =
            Cli::command().get_arguments().filter_map(|argument| argument.get_long().map(str::to_owned)).collect();
        assert_eq!(flags, super::super::pairs::parameter_names::<OffersQuery>());
        let cli = Cli::try_parse_from(["search", "--lat", "-20.9", "--lon", "55.45", "--radius_km", "5", "--gir", "2"])
            .unwrap();
        let from_pairs =
            OffersQuery::from_pairs([("lat", "-20.9"), ("lon", "55.45"), ("radius_km", "5"), ("gir", "2")]).unwrap();
        assert_eq!(cli.query, from_pairs);
        assert!(Cli::try_parse_from(["search", "--gir", "9"]).unwrap_err().to_string().contains("expected 1 to 6"));
    }
}
