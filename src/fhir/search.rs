//! A FHIR search compiled and evaluated over one snapshot and its live capacities.
//!
//! The search parameters of a request become [`Criterion`]s: on the resource itself, on one
//! Location of a HealthcareService (`location.*`, all of them on the **same** location, and the
//! capacity parameters on the **same** capacity record), on its Organization
//! (`organization.*`, the price parameters on the same tariff) or on the Organization or one of
//! its parents (`organization:above.*`). Candidates come from the cheapest index that applies
//! (the Location R-tree for `near`, the text index for `_content`, ids), every candidate is
//! checked against every criterion, and the matches are ordered totally (distance, then the
//! requested `_sort`, then the logical id), so that pages never overlap and `total` is exact.

use rstar::RTree;

use super::params::{self, DateTest, Near, NumberTest, ParamType, SearchError, StringMode, StringTest, Target, Token};
use super::render::Res;
use crate::engine::Engine;
use crate::engine::access::{Access, CapacityVisibility};
use crate::engine::live::LiveView;
use crate::engine::lookup::group;
use crate::ingest::fhir::write::ResourceType;
use crate::model::access::Field;
use crate::model::labels::CodeSystem;
use crate::model::{CapacityRecord, Dataset, Eg, Ej, Location, Offer, Tariff};
use crate::util::geo::{GeoPoint, chord_for_distance_m, haversine_m};

type SpherePoint = rstar::primitives::GeomWithData<[f64; 3], u32>;

/// An Organization of the snapshot: an entité juridique or an entité géographique.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum OrgRef {
    Ej(u32),
    Eg(u32),
}

/// What the facade builds once per snapshot, beside the engine's own structures.
pub(crate) struct FacadeIndex {
    /// The distinct positions of the locations, on the unit sphere (data: the position's id);
    /// thousands of locations share a position, so a `near` computes one distance per position.
    positions: RTree<SpherePoint>,
    position_points: Vec<GeoPoint>,
    /// The locations at each position, as group rows, each group in logical-id order.
    position_start: Vec<u32>,
    position_locations: Vec<u32>,
    /// Each location's rank in logical-id order.
    location_rank: Vec<u32>,
    /// Per offer, [`OFFER_SENSITIVE`] and [`OFFER_SEVERAL_LOCATIONS`]: what a walk over many
    /// offers reads, without touching the offers themselves (a cache miss each).
    offer_flags: Vec<u8>,
    /// Location indexes in logical-id order.
    pub(crate) locations_by_id: Vec<u32>,
    /// Every Organization in logical-id order.
    pub(crate) orgs_by_id: Vec<OrgRef>,
    /// Per location: whether every offer there is an unité sensible (hidden from profiles that
    /// do not see them), whether any is (its capacities are then those of a sensitive unit),
    /// whether every offer there is medico-social.
    location_flags: Vec<LocationFlags>,
    /// EJ → its EGs (`Organization:partof` reversed), as group rows.
    ej_eg_start: Vec<u32>,
    ej_egs: Vec<u32>,
    /// The ordered matches of recent searches that have more than one page, so that following
    /// `next` costs the page, not the search (keyed by the search, the caller's profiles and
    /// the live capacities' version).
    hits_cache: std::sync::Mutex<Vec<(String, std::sync::Arc<Vec<Hit>>)>>,
}

/// An unité sensible.
const OFFER_SENSITIVE: u8 = 1;
/// An offer with more than one location.
const OFFER_SEVERAL_LOCATIONS: u8 = 2;

/// Most hits the paging cache holds (16 bytes each).
const HITS_CACHE_BUDGET: usize = 4_000_000;

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LocationFlags {
    pub(crate) hidden_when_no_sensitive: bool,
    pub(crate) sensitive: bool,
    pub(crate) medico_social: bool,
}

impl std::fmt::Debug for FacadeIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FacadeIndex")
            .field("locations", &self.locations_by_id.len())
            .field("organizations", &self.orgs_by_id.len())
            .finish()
    }
}

impl FacadeIndex {
    pub(crate) fn new(engine: &Engine) -> FacadeIndex {
        let dataset = &engine.data().dataset;
        let mut locations_by_id: Vec<u32> = (0..dataset.locations.len() as u32).collect();
        locations_by_id.sort_by(|&a, &b| dataset.locations[a as usize].id.cmp(&dataset.locations[b as usize].id));
        let mut location_rank = vec![0u32; dataset.locations.len()];
        for (rank, &location) in locations_by_id.iter().enumerate() {
            location_rank[location as usize] = rank as u32;
        }
        // positions: the distinct coordinates of the locations, each with its locations by id
        let bits = |point: GeoPoint| (point.lat.to_bits(), point.lon.to_bits());
        let mut distinct: Vec<(u64, u64)> =
            dataset.locations.iter().filter_map(|location| location.position.map(bits)).collect();
        distinct.sort_unstable();
        distinct.dedup();
        let position_points: Vec<GeoPoint> = distinct
            .iter()
            .map(|&(lat, lon)| GeoPoint { lat: f64::from_bits(lat), lon: f64::from_bits(lon) })
            .collect();
        let (position_start, position_locations) = group(
            distinct.len(),
            locations_by_id.iter().filter_map(|&location| {
                let point = dataset.locations[location as usize].position?;
                distinct.binary_search(&bits(point)).ok().map(|position| (position as u32, location))
            }),
        );
        let positions = RTree::bulk_load(
            position_points
                .iter()
                .enumerate()
                .map(|(id, point)| SpherePoint::new(point.unit_vector(), id as u32))
                .collect(),
        );
        let mut orgs_by_id: Vec<OrgRef> = (0..dataset.ejs.len() as u32)
            .map(OrgRef::Ej)
            .chain((0..dataset.egs.len() as u32).map(OrgRef::Eg))
            .collect();
        orgs_by_id.sort_by(|a, b| org_id(dataset, *a).cmp(org_id(dataset, *b)));
        let location_flags = (0..dataset.locations.len() as u32)
            .map(|location| {
                let offers = engine.offers_of_location(location);
                let sensitive = |offer: &u32| dataset.offers[*offer as usize].sensitive_unit;
                let medico_social = |offer: &u32| {
                    dataset.offers[*offer as usize].activity_field.as_deref()
                        == Some(crate::model::access::MEDICO_SOCIAL_ACTIVITY_FIELD)
                };
                LocationFlags {
                    hidden_when_no_sensitive: !offers.is_empty() && offers.iter().all(sensitive),
                    sensitive: offers.iter().any(sensitive),
                    medico_social: !offers.is_empty() && offers.iter().all(medico_social),
                }
            })
            .collect();
        let (ej_eg_start, ej_egs) = group(
            dataset.ejs.len(),
            dataset.egs.iter().enumerate().filter_map(|(eg, entry)| entry.ej.map(|ej| (ej, eg as u32))),
        );
        let offer_flags = dataset
            .offers
            .iter()
            .map(|offer| {
                (u8::from(offer.sensitive_unit) * OFFER_SENSITIVE)
                    | (u8::from(offer.locations.len() > 1) * OFFER_SEVERAL_LOCATIONS)
            })
            .collect();
        FacadeIndex {
            offer_flags,
            positions,
            position_points,
            position_start,
            position_locations,
            location_rank,
            locations_by_id,
            orgs_by_id,
            location_flags,
            ej_eg_start,
            ej_egs,
            hits_cache: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// The cached matches of a search, if any (and marks them recently used).
    pub(crate) fn cached_hits(&self, key: &str) -> Option<std::sync::Arc<Vec<Hit>>> {
        let mut cache = self.hits_cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let position = cache.iter().position(|(cached, _)| cached == key)?;
        let entry = cache.remove(position);
        let hits = entry.1.clone();
        cache.push(entry);
        Some(hits)
    }

    /// Keeps the matches of a search, forgetting the least recently used beyond the budget.
    pub(crate) fn cache_hits(&self, key: String, hits: std::sync::Arc<Vec<Hit>>) {
        if hits.len() > HITS_CACHE_BUDGET {
            return;
        }
        let mut cache = self.hits_cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.retain(|(cached, _)| *cached != key);
        cache.push((key, hits));
        while cache.iter().map(|(_, hits)| hits.len()).sum::<usize>() > HITS_CACHE_BUDGET {
            cache.remove(0);
        }
    }

    pub(crate) fn location_flags(&self, location: u32) -> LocationFlags {
        self.location_flags[location as usize]
    }

    /// The EGs of an EJ.
    pub(crate) fn egs_of_ej(&self, ej: u32) -> &[u32] {
        &self.ej_egs[self.ej_eg_start[ej as usize] as usize..self.ej_eg_start[ej as usize + 1] as usize]
    }

    /// The positions within `near` with their distances in metres, nearest first.
    fn positions_near(&self, near: &Near) -> Vec<(u32, f64)> {
        let centre = GeoPoint { lat: near.lat, lon: near.lon };
        // The chord of the distance, a little more so that haversine decides at the edge.
        let chord = chord_for_distance_m(near.distance_m) * (1.0 + 1e-9) + 1e-12;
        let mut found: Vec<(u32, f64)> = self
            .positions
            .locate_within_distance(centre.unit_vector(), chord * chord)
            .filter_map(|point| {
                let distance = haversine_m(centre, self.position_points[point.data as usize]);
                (distance <= near.distance_m).then_some((point.data, distance))
            })
            .collect();
        found.sort_unstable_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        found
    }

    /// The locations at a position, in logical-id order.
    fn locations_at(&self, position: u32) -> &[u32] {
        &self.position_locations
            [self.position_start[position as usize] as usize..self.position_start[position as usize + 1] as usize]
    }

    /// An Organization by logical id.
    pub(crate) fn org_by_id(&self, dataset: &Dataset, id: &str) -> Option<OrgRef> {
        let index = self.orgs_by_id.partition_point(|org| org_id(dataset, *org) < id);
        self.orgs_by_id.get(index).copied().filter(|org| org_id(dataset, *org) == id)
    }

    /// A Location by logical id.
    pub(crate) fn location_by_id(&self, dataset: &Dataset, id: &str) -> Option<u32> {
        let index = self.locations_by_id.partition_point(|&l| dataset.locations[l as usize].id.as_str() < id);
        self.locations_by_id.get(index).copied().filter(|&l| dataset.locations[l as usize].id == id)
    }
}

pub(crate) fn org_id(dataset: &Dataset, org: OrgRef) -> &str {
    match org {
        OrgRef::Ej(ej) => &dataset.ejs[ej as usize].id,
        OrgRef::Eg(eg) => &dataset.egs[eg as usize].id,
    }
}

/// An offer by logical id (offers are sorted by id).
pub(crate) fn offer_by_id(dataset: &Dataset, id: &str) -> Option<u32> {
    let index = dataset.offers.partition_point(|offer| offer.id.as_str() < id);
    dataset.offers.get(index).filter(|offer| offer.id == id).map(|_| index as u32)
}

/// The test of one search parameter occurrence (its comma-separated values are ORed).
#[derive(Debug, Clone)]
pub(crate) enum Test {
    Tokens {
        any_of: Vec<Token>,
        not: bool,
    },
    Strings(Vec<StringTest>),
    Dates(Vec<DateTest>),
    Numbers(Vec<NumberTest>),
    Refs(Vec<String>),
    /// `:missing=true` (the element is absent) or `false` (present).
    Missing(bool),
    Near(Near),
    /// The offers matching a text query, sorted (offer indexes).
    Offers(Vec<u32>),
    /// Nothing matches (e.g. `near-insee-code` of an unknown commune).
    Nothing,
}

/// One search parameter occurrence, compiled.
#[derive(Debug, Clone)]
pub(crate) struct Criterion {
    pub(crate) target: Target,
    pub(crate) test: Test,
}

/// A value an element holds, as a criterion sees it.
#[derive(Debug, Clone, Copy)]
enum Value<'a> {
    Coding(&'a str, &'a str),
    Str(&'a str),
    Instant(i64),
    Number(f64),
    Ref(&'a str),
}

/// Whether two code-system URLs name the same system: the same NOS table (`TRE_R…`, whatever
/// the suffix and scheme), or the same URL up to `http`/`https` and a trailing slash.
pub(crate) fn same_system(a: &str, b: &str) -> bool {
    let bare = |url: &str| {
        let url = url.trim_end_matches('/');
        url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")).unwrap_or(url).to_owned()
    };
    match (crate::model::labels::tre_number_of(a), crate::model::labels::tre_number_of(b)) {
        (Some(x), Some(y)) => x == y,
        _ => bare(a) == bare(b),
    }
}

/// Gives the values an element holds to a visitor, until the visitor returns true; whether it
/// did.
type EachValue<'a> = dyn FnMut(&mut dyn FnMut(Value<'_>) -> bool) -> bool + 'a;

impl Test {
    /// Whether the values an element holds (given by `each`, which stops when its visitor
    /// returns true) pass.
    fn passes(&self, each: &mut EachValue<'_>) -> bool {
        match self {
            Test::Tokens { any_of, not } => {
                let found = each(&mut |value| match value {
                    Value::Coding(system, code) => any_of.iter().any(|token| {
                        token.code.as_deref().is_none_or(|wanted| wanted == code)
                            && token.system.as_deref().is_none_or(|wanted| {
                                if wanted.is_empty() { system.is_empty() } else { same_system(wanted, system) }
                            })
                    }),
                    _ => false,
                });
                found != *not
            }
            Test::Strings(tests) => each(&mut |value| match value {
                Value::Str(text) => tests.iter().any(|test| test.matches(text)),
                _ => false,
            }),
            Test::Dates(tests) => each(&mut |value| match value {
                Value::Instant(at) => tests.iter().any(|test| test.matches(at)),
                _ => false,
            }),
            Test::Numbers(tests) => each(&mut |value| match value {
                Value::Number(number) => tests.iter().any(|test| test.matches(number)),
                _ => false,
            }),
            Test::Refs(ids) => each(&mut |value| match value {
                Value::Ref(id) => ids.iter().any(|wanted| wanted == id),
                _ => false,
            }),
            Test::Missing(missing) => each(&mut |_| true) != *missing,
            Test::Near(_) | Test::Offers(_) | Test::Nothing => false, // evaluated by their callers
        }
    }
}

/// Parsed search: the criteria by where they apply.
#[derive(Debug, Clone, Default)]
pub(crate) struct Criteria {
    pub(crate) own: Vec<Criterion>,
    /// HealthcareService: `location.*`, on one Location.
    pub(crate) location: Vec<Criterion>,
    /// HealthcareService: `organization.*`, on its Organization.
    pub(crate) organization: Vec<Criterion>,
    /// HealthcareService: `organization:above.*`, on its Organization or a parent.
    pub(crate) organization_above: Vec<Criterion>,
}

/// Compiles one parameter (`name[:modifier]=value`) of a resource type into a criterion.
pub(crate) fn compile(
    engine: &Engine,
    resource: ResourceType,
    written: &str,
    name: &str,
    modifier: Option<&str>,
    value: &str,
    access: Access,
) -> Result<Criterion, SearchError> {
    let def = params::param(resource, name).ok_or_else(|| {
        SearchError::not_supported(written, format!("{} has no search parameter {name:?}", resource.name()))
    })?;
    let unsupported = |modifier: &str| {
        SearchError::not_supported(
            written,
            format!("the {name:?} parameter has the modifier {modifier:?} which is not supported by this server"),
        )
    };
    if def.target.is_capacity() {
        let sees_any = [Field::InstalledCapacity, Field::OperationalCapacity, Field::SupplementaryCapacity]
            .into_iter()
            .any(|field| access.profiles.sees_anywhere(field));
        if !sees_any {
            return Err(SearchError::forbidden(written, "the caller's access profile sees no capacity"));
        }
    }
    let values = params::split_or(value);
    if modifier == Some("missing") {
        let missing = match value {
            "true" => true,
            "false" => false,
            _ => return Err(SearchError::value(written, format!("{value:?}: :missing takes true or false"))),
        };
        return Ok(Criterion { target: def.target, test: Test::Missing(missing) });
    }
    let test = match def.kind {
        ParamType::Token => {
            let not = match modifier {
                None => false,
                Some("not") => true,
                Some(other) => return Err(unsupported(other)),
            };
            let any_of = values.iter().map(|v| params::parse_token(written, v)).collect::<Result<_, _>>()?;
            Test::Tokens { any_of, not }
        }
        ParamType::String => {
            let mode = match modifier {
                None => StringMode::Start,
                Some("exact") => StringMode::Exact,
                Some("contains") => StringMode::Contains,
                Some(other) => return Err(unsupported(other)),
            };
            Test::Strings(values.iter().map(|v| StringTest::new(mode, v)).collect())
        }
        ParamType::Date => {
            if let Some(other) = modifier {
                return Err(unsupported(other));
            }
            Test::Dates(values.iter().map(|v| params::parse_date(written, v)).collect::<Result<_, _>>()?)
        }
        ParamType::Number => {
            if let Some(other) = modifier {
                return Err(unsupported(other));
            }
            Test::Numbers(values.iter().map(|v| params::parse_number(written, v)).collect::<Result<_, _>>()?)
        }
        ParamType::Quantity => {
            if let Some(other) = modifier {
                return Err(unsupported(other));
            }
            Test::Numbers(values.iter().map(|v| params::parse_age_quantity(written, v)).collect::<Result<_, _>>()?)
        }
        ParamType::Reference => {
            let expected = match def.target {
                Target::OfferLocation => "Location",
                _ => "Organization",
            };
            match modifier {
                None => {}
                Some(other) if other == expected => {}
                Some(other) => return Err(unsupported(other)),
            }
            let mut ids = Vec::new();
            for value in &values {
                ids.extend(params::parse_reference(written, value, expected)?);
            }
            Test::Refs(ids)
        }
        ParamType::Special => {
            if let Some(other) = modifier {
                return Err(unsupported(other));
            }
            match def.target {
                Target::Near => {
                    if values.len() > 1 {
                        return Err(SearchError::not_supported(written, "one `near` value per parameter"));
                    }
                    Test::Near(params::parse_near(written, value)?)
                }
                Target::NearInseeCode => {
                    if values.len() > 1 {
                        return Err(SearchError::not_supported(written, "one `near-insee-code` value per parameter"));
                    }
                    let (commune, distance_m) = params::parse_near_insee(written, value)?;
                    match engine.commune_centre(&commune) {
                        Some(point) => Test::Near(Near { lat: point.lat, lon: point.lon, distance_m }),
                        None => Test::Nothing,
                    }
                }
                Target::Content => {
                    let offers = engine
                        .text_offer_matches(written, value)
                        .map_err(|error| SearchError::value(written, error.message))?;
                    Test::Offers(offers)
                }
                _ => unreachable!("every special parameter is handled"),
            }
        }
    };
    Ok(Criterion { target: def.target, test })
}

/// One match of a search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Hit {
    /// Offer, location or position in [`FacadeIndex::orgs_by_id`], by resource type.
    pub(crate) index: u32,
    /// Distance of `near`, metres.
    pub(crate) distance_m: Option<f64>,
}

/// What a search reads: the snapshot, its live capacities, the caller's access.
pub(crate) struct Context<'a> {
    pub(crate) engine: &'a Engine,
    pub(crate) dataset: &'a Dataset,
    pub(crate) live: &'a LiveView,
    pub(crate) index: &'a FacadeIndex,
    pub(crate) access: Access,
}

impl<'a> Context<'a> {
    pub(crate) fn new(engine: &'a Engine, live: &'a LiveView, index: &'a FacadeIndex, access: Access) -> Self {
        Context { engine, dataset: &engine.data().dataset, live, index, access }
    }

    /// Whether the caller sees an offer.
    pub(crate) fn sees_offer(&self, offer: u32) -> bool {
        !(self.access.hide_sensitive && self.index.offer_flags[offer as usize] & OFFER_SENSITIVE != 0)
    }

    /// Whether the caller sees a location.
    pub(crate) fn sees_location(&self, location: u32) -> bool {
        !(self.access.hide_sensitive && self.index.location_flags(location).hidden_when_no_sensitive)
    }

    /// Which capacity records of a location the caller sees.
    pub(crate) fn capacity_visibility(&self, location: u32) -> CapacityVisibility {
        let flags = self.index.location_flags(location);
        self.access.capacity(flags.medico_social, flags.sensitive)
    }

    /// The capacity records of a location the caller sees, live.
    pub(crate) fn visible_records(&self, location: u32) -> impl Iterator<Item = &'a CapacityRecord> + use<'a> {
        let visibility = self.capacity_visibility(location);
        self.engine.location_records(self.live, location).iter().filter(move |record| visibility.sees(record))
    }

    /// Where a hit of `resource` stands in logical-id order.
    pub(crate) fn id_rank(&self, resource: ResourceType, index: u32) -> u32 {
        match resource {
            ResourceType::Location => self.index.location_rank[index as usize],
            ResourceType::HealthcareService | ResourceType::Organization => index, // offers and org ranks are in id order
        }
    }

    /// Every resource of a type, in logical-id order.
    pub(crate) fn all_in_id_order(&self, resource: ResourceType) -> Box<dyn Iterator<Item = Res> + '_> {
        match resource {
            ResourceType::HealthcareService => Box::new((0..self.dataset.offers.len() as u32).map(Res::Offer)),
            ResourceType::Location => {
                Box::new(self.index.locations_by_id.iter().map(|&location| Res::Location(location)))
            }
            ResourceType::Organization => Box::new(self.index.orgs_by_id.iter().map(|&org| Res::Org(org))),
        }
    }

    /// `meta.lastUpdated` of a location: the snapshot's, or its last live write when later.
    pub(crate) fn location_last_updated(&self, location: u32) -> Option<i64> {
        let base = self.dataset.locations[location as usize].last_updated;
        match self.live.version_of(location).1 {
            Some(changed) => Some(base.map_or(changed, |base| base.max(changed))),
            None => base,
        }
    }

    /// The FHIR Organization that provides an offer.
    pub(crate) fn provider(&self, offer: &Offer) -> Option<OrgRef> {
        offer.eg.map(OrgRef::Eg).or(offer.ej.map(OrgRef::Ej))
    }

    /// The parent of an Organization (an EG's EJ).
    pub(crate) fn parent(&self, org: OrgRef) -> Option<OrgRef> {
        match org {
            OrgRef::Eg(eg) => self.dataset.egs[eg as usize].ej.map(OrgRef::Ej),
            OrgRef::Ej(_) => None,
        }
    }
}

fn coded<'v>(system: CodeSystem, code: &'v str) -> Value<'v> {
    Value::Coding(system.url(), code)
}

fn each_offer_value(
    ctx: &Context<'_>,
    offer_index: u32,
    target: Target,
    visit: &mut dyn FnMut(Value<'_>) -> bool,
) -> bool {
    let offer = &ctx.dataset.offers[offer_index as usize];
    let opt = |value: Option<Value<'_>>, visit: &mut dyn FnMut(Value<'_>) -> bool| value.is_some_and(visit);
    match target {
        Target::Id => visit(Value::Coding("", &offer.id)),
        Target::LastUpdated => opt(offer.last_updated.map(Value::Instant), visit),
        Target::Tag => opt(offer.region.as_deref().map(|r| Value::Coding(crate::ingest::fhir::TRE_R30_URL, r)), visit),
        Target::OfferIdentifier => opt(offer.identifier.as_deref().map(|i| Value::Coding("", i)), visit),
        Target::OfferName => visit(Value::Str(&offer.name)),
        Target::ServiceCategory => {
            opt(offer.offer_type.as_deref().map(|c| coded(CodeSystem::CategorieOrganisation, c)), visit)
        }
        Target::ServiceType => opt(offer.activity_field.as_deref().map(|c| coded(CodeSystem::ChampActivite, c)), visit),
        Target::Specialty => {
            opt(offer.activity.as_deref().map(|c| coded(CodeSystem::ActiviteOperationnelle, c)), visit)
                || offer.activity_families.iter().any(|family| visit(Value::Coding(SERAFIN_URL, family)))
        }
        Target::Characteristic => {
            opt(offer.care_mode.as_deref().map(|c| coded(CodeSystem::ModePriseEnCharge, c)), visit)
                || opt(offer.reception.as_deref().map(|c| coded(CodeSystem::TemporaliteAccueil, c)), visit)
                || offer.specialisations.iter().any(|c| visit(coded(CodeSystem::SpecialisationPriseEnCharge, c)))
                || offer.competences.iter().any(|c| visit(Value::Coding(crate::ingest::fhir::TRE_R243_URL, c)))
        }
        Target::PatientType => offer.publics.iter().any(|c| visit(coded(CodeSystem::PublicPrisEnCharge, c))),
        Target::AgeLow => opt(offer.age_range.and_then(|age| age.min_years).map(Value::Number), visit),
        Target::AgeHigh => opt(offer.age_range.and_then(|age| age.max_years).map(Value::Number), visit),
        Target::OfferLocation => offer.locations.iter().any(|&location| {
            ctx.sees_location(location) && visit(Value::Ref(&ctx.dataset.locations[location as usize].id))
        }),
        Target::OfferOrganization => opt(ctx.provider(offer).map(|org| Value::Ref(org_id(ctx.dataset, org))), visit),
        _ => false,
    }
}

/// `TRE_R265` (SERAFIN-PH), the families of `specialty`.
const SERAFIN_URL: &str =
    "https://mos.esante.gouv.fr/NOS/TRE_R265-PrestationPilotageSerafin/FHIR/TRE-R265-PrestationPilotageSerafin";

fn each_location_value(
    ctx: &Context<'_>,
    location_index: u32,
    target: Target,
    visit: &mut dyn FnMut(Value<'_>) -> bool,
) -> bool {
    let location: &Location = &ctx.dataset.locations[location_index as usize];
    let opt = |value: Option<Value<'_>>, visit: &mut dyn FnMut(Value<'_>) -> bool| value.is_some_and(visit);
    match target {
        Target::Id => visit(Value::Coding("", &location.id)),
        Target::LastUpdated => opt(ctx.location_last_updated(location_index).map(Value::Instant), visit),
        Target::LocationIdentifier => {
            opt(location.identifier.as_deref().map(|i| Value::Coding("", i)), visit)
                || opt(location.synchro_id.as_deref().map(|i| Value::Coding("", i)), visit)
        }
        Target::LocationName => opt(location.name.as_deref().map(Value::Str), visit),
        Target::LocationType => opt(location.function.as_deref().map(|c| coded(CodeSystem::FonctionLieu, c)), visit),
        Target::LocationStatus => visit(Value::Coding("http://hl7.org/fhir/location-status", "active")),
        Target::PostalCode => opt(location.address.postal_code.as_deref().map(Value::Str), visit),
        Target::City => opt(location.address.city.as_deref().map(Value::Str), visit),
        Target::CommuneCog => {
            opt(location.commune.as_deref().map(|c| Value::Coding(crate::ingest::fhir::TRE_R13_URL, c)), visit)
        }
        _ => false,
    }
}

fn each_record_value(record: &CapacityRecord, target: Target, visit: &mut dyn FnMut(Value<'_>) -> bool) -> bool {
    let opt = |system: CodeSystem, code: &Option<crate::model::Code>, visit: &mut dyn FnMut(Value<'_>) -> bool| {
        code.as_deref().is_some_and(|code| visit(coded(system, code)))
    };
    match target {
        Target::CapacityType => visit(coded(CodeSystem::NatureCapacite, &record.capacity_type)),
        Target::CapacityStatus => visit(coded(CodeSystem::StatutCapacite, &record.status)),
        Target::CapacityTemporality => visit(coded(CodeSystem::TemporaliteCapacite, &record.temporality)),
        Target::CapacityCount => visit(Value::Number(f64::from(record.count))),
        Target::CapacityGender => opt(CodeSystem::GenreCapacite, &record.gender, visit),
        Target::CapacityClosingType => opt(CodeSystem::TypeFermetureCapacite, &record.closing_type, visit),
        Target::CapacityAdditionalBedType => opt(CodeSystem::TypeLitSupplementaire, &record.additional_bed_type, visit),
        Target::CapacityCrisisType => opt(CodeSystem::TypeCrise, &record.crisis_type, visit),
        Target::CapacityUpdateDate => record.updated_at.is_some_and(|at| visit(Value::Instant(at))),
        Target::CapacityTemporaryAssignment => {
            opt(CodeSystem::AffectationTemporaire, &record.temporary_assignment, visit)
        }
        _ => false,
    }
}

const FINESS_URL: &str = "https://finess.esante.gouv.fr";
const ID_NAT_STRUCT_URL: &str = "urn:oid:1.2.250.1.71.4.2.2";
const SIRENE_URL: &str = "http://sirene.fr";

fn each_org_value(ctx: &Context<'_>, org: OrgRef, target: Target, visit: &mut dyn FnMut(Value<'_>) -> bool) -> bool {
    let id_nat = |finess: &str| format!("1{finess}");
    match org {
        OrgRef::Ej(index) => {
            let ej: &Ej = &ctx.dataset.ejs[index as usize];
            match target {
                Target::Id => visit(Value::Coding("", &ej.id)),
                Target::LastUpdated => ej.last_updated.is_some_and(|at| visit(Value::Instant(at))),
                Target::OrganizationIdentifier => {
                    ej.finess.as_deref().is_some_and(|finess| {
                        visit(Value::Coding(FINESS_URL, finess))
                            || visit(Value::Coding(ID_NAT_STRUCT_URL, &id_nat(finess)))
                    }) || ej.siren.as_deref().is_some_and(|siren| visit(Value::Coding(SIRENE_URL, siren)))
                }
                Target::OrganizationName => ej.name.as_deref().is_some_and(|name| visit(Value::Str(name))),
                Target::OrganizationType => {
                    ej.legal_status.as_deref().is_some_and(|code| visit(coded(CodeSystem::StatutJuridique, code)))
                }
                Target::PostalCode => ej.address.postal_code.as_deref().is_some_and(|code| visit(Value::Str(code))),
                Target::City => ej.address.city.as_deref().is_some_and(|city| visit(Value::Str(city))),
                _ => false,
            }
        }
        OrgRef::Eg(index) => {
            let eg: &Eg = &ctx.dataset.egs[index as usize];
            match target {
                Target::Id => visit(Value::Coding("", &eg.id)),
                Target::LastUpdated => eg.last_updated.is_some_and(|at| visit(Value::Instant(at))),
                Target::Tag => {
                    eg.region.as_deref().is_some_and(|r| visit(Value::Coding(crate::ingest::fhir::TRE_R30_URL, r)))
                }
                Target::OrganizationIdentifier => {
                    eg.finess.as_deref().is_some_and(|finess| {
                        visit(Value::Coding(FINESS_URL, finess))
                            || visit(Value::Coding(ID_NAT_STRUCT_URL, &id_nat(finess)))
                    }) || eg.siret.as_deref().is_some_and(|siret| visit(Value::Coding(SIRENE_URL, siret)))
                }
                Target::OrganizationName => {
                    visit(Value::Str(&eg.name)) || eg.alias.as_deref().is_some_and(|alias| visit(Value::Str(alias)))
                }
                Target::OrganizationType => {
                    eg.category.as_deref().is_some_and(|code| visit(coded(CodeSystem::CategorieEtablissement, code)))
                }
                Target::PartOf => eg.ej.is_some_and(|ej| visit(Value::Ref(&ctx.dataset.ejs[ej as usize].id))),
                Target::PostalCode => eg.address.postal_code.as_deref().is_some_and(|code| visit(Value::Str(code))),
                Target::City => eg.address.city.as_deref().is_some_and(|city| visit(Value::Str(city))),
                _ => false,
            }
        }
    }
}

fn each_tariff_value(tariff: &Tariff, target: Target, visit: &mut dyn FnMut(Value<'_>) -> bool) -> bool {
    let opt = |system: CodeSystem, code: &Option<crate::model::Code>, visit: &mut dyn FnMut(Value<'_>) -> bool| {
        code.as_deref().is_some_and(|code| visit(coded(system, code)))
    };
    match target {
        Target::PriceType => visit(coded(CodeSystem::TypeTarif, &tariff.price_type)),
        Target::PriceUnit => visit(coded(CodeSystem::UnitePrix, &tariff.unit)),
        Target::PriceAmount => visit(Value::Number(tariff.amount_cents as f64 / 100.0)),
        Target::PriceCurrency => {
            visit(Value::Coding("urn:iso:std:iso:4217", tariff.currency.as_deref().unwrap_or("EUR")))
        }
        Target::PriceDependencyLevel => opt(CodeSystem::GroupeTarifaireDependance, &tariff.dependency_level, visit),
        Target::PriceResidentialType => opt(CodeSystem::TypeHabitation, &tariff.residential_type, visit),
        Target::PriceWelcomeType => opt(CodeSystem::TemporaliteAccueil, &tariff.welcome_type, visit),
        Target::PriceStartDate => tariff.valid_from.is_some_and(|at| visit(Value::Instant(at))),
        Target::PriceSpecialPrice => opt(CodeSystem::ConditionTarifaire, &tariff.special_price, visit),
        _ => false,
    }
}

/// Whether a location passes every criterion (capacity criteria on one visible record);
/// returns its distance for `near`, or `Some(None)` when it passes without one.
/// `known`: a `near` criterion whose distance to this location is already known (metres).
fn location_passes(
    ctx: &Context<'_>,
    location: u32,
    criteria: &[Criterion],
    known: Option<(&Near, f64)>,
) -> Option<Option<f64>> {
    if !ctx.sees_location(location) {
        return None;
    }
    let mut distance: Option<f64> = None;
    let mut record_criteria = Vec::new();
    for criterion in criteria {
        if criterion.target.is_capacity() {
            record_criteria.push(criterion);
            continue;
        }
        let passes = match &criterion.test {
            Test::Near(near) => {
                let d = match known {
                    Some((known_near, d)) if std::ptr::eq(known_near, near) => d,
                    _ => {
                        let position = ctx.dataset.locations[location as usize].position?;
                        haversine_m(GeoPoint { lat: near.lat, lon: near.lon }, position)
                    }
                };
                if d > near.distance_m {
                    return None;
                }
                distance = Some(distance.map_or(d, |other: f64| other.max(d)));
                true
            }
            Test::Nothing => false,
            test => test.passes(&mut |visit| each_location_value(ctx, location, criterion.target, visit)),
        };
        if !passes {
            return None;
        }
    }
    if !record_criteria.is_empty() {
        let found = ctx.visible_records(location).any(|record| {
            record_criteria
                .iter()
                .all(|criterion| criterion.test.passes(&mut |visit| each_record_value(record, criterion.target, visit)))
        });
        if !found {
            return None;
        }
    }
    Some(distance)
}

/// Whether an Organization passes every criterion (price criteria on one tariff).
fn org_passes(ctx: &Context<'_>, org: OrgRef, criteria: &[Criterion]) -> bool {
    let mut price_criteria = Vec::new();
    for criterion in criteria {
        if criterion.target.is_price() {
            price_criteria.push(criterion);
            continue;
        }
        let passes = match &criterion.test {
            Test::Nothing | Test::Near(_) | Test::Offers(_) => false,
            test => test.passes(&mut |visit| each_org_value(ctx, org, criterion.target, visit)),
        };
        if !passes {
            return false;
        }
    }
    if price_criteria.is_empty() {
        return true;
    }
    let OrgRef::Eg(eg) = org else { return false };
    ctx.dataset.egs[eg as usize].tariffs.iter().any(|tariff| {
        price_criteria
            .iter()
            .all(|criterion| criterion.test.passes(&mut |visit| each_tariff_value(tariff, criterion.target, visit)))
    })
}

/// Whether an offer passes its own and its Organization's criteria (not its Location's).
/// Whether an offer passes its own and its Organization's criteria (not its Locations').
fn offer_passes_own(ctx: &Context<'_>, offer_index: u32, criteria: &Criteria) -> bool {
    if !ctx.sees_offer(offer_index) {
        return false;
    }
    let own = criteria.own.iter().all(|criterion| match &criterion.test {
        Test::Offers(offers) => offers.binary_search(&offer_index).is_ok(),
        Test::Nothing | Test::Near(_) => false,
        test => test.passes(&mut |visit| each_offer_value(ctx, offer_index, criterion.target, visit)),
    });
    if !own {
        return false;
    }
    let provider = ctx.provider(&ctx.dataset.offers[offer_index as usize]);
    let organization = criteria.organization.is_empty()
        || provider.is_some_and(|provider| org_passes(ctx, provider, &criteria.organization));
    organization
        && (criteria.organization_above.is_empty()
            || std::iter::successors(provider, |&org| ctx.parent(org))
                .any(|org| org_passes(ctx, org, &criteria.organization_above)))
}

/// Whether an offer passes every criterion, without `near` (see [`offers_near`]): one of its
/// Locations passes the `location.*` ones.
fn offer_passes(ctx: &Context<'_>, offer_index: u32, criteria: &Criteria) -> bool {
    offer_passes_own(ctx, offer_index, criteria)
        && (criteria.location.is_empty()
            || ctx.dataset.offers[offer_index as usize]
                .locations
                .iter()
                .any(|&location| location_passes(ctx, location, &criteria.location, None).is_some()))
}

fn near_of(criteria: &[Criterion]) -> Option<&Near> {
    criteria.iter().find_map(|criterion| match &criterion.test {
        Test::Near(near) => Some(near),
        _ => None,
    })
}

/// The offers with a Location passing the `location.*` criteria around `near`, nearest first
/// (the distance of their nearest passing Location), then by logical id.
fn offers_near(ctx: &Context<'_>, criteria: &Criteria, near: &Near) -> Vec<Hit> {
    let dataset = ctx.dataset;
    let mut hits: Vec<Hit> = Vec::new();
    // offers with several locations are met more than once: the first (nearest) counts
    let mut met: Vec<u64> = Vec::new();
    let offer_criteria =
        !(criteria.own.is_empty() && criteria.organization.is_empty() && criteria.organization_above.is_empty());
    for (position, d) in ctx.index.positions_near(near) {
        for &location in ctx.index.locations_at(position) {
            let Some(distance_m) = location_passes(ctx, location, &criteria.location, Some((near, d))) else {
                continue;
            };
            for &offer in ctx.engine.offers_of_location(location) {
                if !ctx.sees_offer(offer) {
                    continue;
                }
                if ctx.index.offer_flags[offer as usize] & OFFER_SEVERAL_LOCATIONS != 0 {
                    if met.is_empty() {
                        met = vec![0; dataset.offers.len().div_ceil(64)];
                    }
                    let (word, bit) = (offer as usize / 64, 1u64 << (offer % 64));
                    if met[word] & bit != 0 {
                        continue;
                    }
                    met[word] |= bit;
                }
                if !offer_criteria || offer_passes_own(ctx, offer, criteria) {
                    hits.push(Hit { index: offer, distance_m });
                }
            }
        }
    }
    if criteria.location.iter().filter(|criterion| matches!(criterion.test, Test::Near(_))).count() > 1 {
        // several `near`: the distance is the farthest of them, not the one walked
        hits.sort_by(|a, b| distance_of(a).total_cmp(&distance_of(b)).then(a.index.cmp(&b.index)));
    } else {
        order_ties(&mut hits, |hit| hit.index); // offer indexes are in logical-id order
    }
    hits
}

fn distance_of(hit: &Hit) -> f64 {
    hit.distance_m.unwrap_or(f64::INFINITY)
}

/// Hits gathered position by position, nearest first: orders each run of equal distances (one
/// position, or several at the very same distance) by `key`, the logical-id order.
fn order_ties(hits: &mut [Hit], key: impl Fn(&Hit) -> u32) {
    let mut start = 0;
    while start < hits.len() {
        let distance = hits[start].distance_m;
        let end = start + hits[start..].iter().take_while(|hit| hit.distance_m == distance).count();
        hits[start..end].sort_unstable_by_key(&key);
        start = end;
    }
}

/// Every match of a search over one resource type, in the default order: nearest first with
/// `near`, then by logical id.
pub(crate) fn evaluate(ctx: &Context<'_>, resource: ResourceType, criteria: &Criteria) -> Vec<Hit> {
    let dataset = ctx.dataset;
    let unsorted = |index: u32| Hit { index, distance_m: None };
    match resource {
        ResourceType::HealthcareService => {
            if let Some(near) = near_of(&criteria.location) {
                return offers_near(ctx, criteria, near);
            }
            // candidates: the text matches, or the `_id` list, or every offer
            let text = criteria.own.iter().find_map(|criterion| match &criterion.test {
                Test::Offers(offers) => Some(offers.as_slice()),
                _ => None,
            });
            let ids = text.is_none().then(|| {
                criteria.own.iter().find_map(|criterion| match (&criterion.target, &criterion.test) {
                    (Target::Id, Test::Tokens { any_of, not: false }) => {
                        let mut offers: Vec<u32> = any_of
                            .iter()
                            .filter_map(|token| token.code.as_deref().and_then(|id| offer_by_id(dataset, id)))
                            .collect();
                        offers.sort_unstable();
                        offers.dedup();
                        Some(offers)
                    }
                    _ => None,
                })
            });
            let check = |&offer: &u32| offer_passes(ctx, offer, criteria);
            match text.or(ids.flatten().as_deref()) {
                Some(offers) => offers.iter().copied().filter(check).map(unsorted).collect(),
                None => (0..dataset.offers.len() as u32).filter(check).map(unsorted).collect(),
            }
        }
        ResourceType::Location => match near_of(&criteria.own) {
            Some(near) => {
                let mut hits = Vec::new();
                for (position, d) in ctx.index.positions_near(near) {
                    for &location in ctx.index.locations_at(position) {
                        if let Some(distance_m) = location_passes(ctx, location, &criteria.own, Some((near, d))) {
                            hits.push(Hit { index: location, distance_m });
                        }
                    }
                }
                if criteria.own.iter().filter(|criterion| matches!(criterion.test, Test::Near(_))).count() > 1 {
                    hits.sort_by(|a, b| distance_of(a).total_cmp(&distance_of(b)));
                }
                let rank = &ctx.index.location_rank;
                order_ties(&mut hits, |hit| rank[hit.index as usize]);
                hits
            }
            None => ctx
                .index
                .locations_by_id
                .iter()
                .copied()
                .filter(|&location| location_passes(ctx, location, &criteria.own, None).is_some())
                .map(unsorted)
                .collect(),
        },
        ResourceType::Organization => (0..ctx.index.orgs_by_id.len() as u32)
            .filter(|&rank| org_passes(ctx, ctx.index.orgs_by_id[rank as usize], &criteria.own))
            .map(unsorted)
            .collect(),
    }
}

/// A `_sort` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SortField {
    Id,
    LastUpdated,
    Name,
}

/// Orders hits by the `_sort` keys (stable: what they tie on keeps the default order).
pub(crate) fn sort_hits(ctx: &Context<'_>, resource: ResourceType, hits: &mut [Hit], keys: &[(SortField, bool)]) {
    use std::cmp::Ordering;
    if keys.is_empty() {
        return;
    }
    let resources: Vec<Res> = hits.iter().map(|hit| Res::of_hit(ctx, resource, hit.index)).collect();
    let names: Option<Vec<String>> = keys
        .iter()
        .any(|(field, _)| *field == SortField::Name)
        .then(|| resources.iter().map(|res| res.name(ctx).map(crate::util::fold::fold).unwrap_or_default()).collect());
    let mut order: Vec<usize> = (0..hits.len()).collect();
    order.sort_by(|&a, &b| {
        for &(field, descending) in keys {
            let ordering = match field {
                SortField::Id => resources[a].id(ctx).cmp(resources[b].id(ctx)),
                // absent dates last in both directions
                SortField::LastUpdated => match (resources[a].last_updated(ctx), resources[b].last_updated(ctx)) {
                    (Some(x), Some(y)) if descending => y.cmp(&x),
                    (Some(x), Some(y)) => x.cmp(&y),
                    (x, y) => x.is_none().cmp(&y.is_none()),
                },
                SortField::Name => names.as_ref().map_or(Ordering::Equal, |names| names[a].cmp(&names[b])),
            };
            let ordering = if descending && field != SortField::LastUpdated { ordering.reverse() } else { ordering };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        a.cmp(&b)
    });
    let sorted: Vec<Hit> = order.into_iter().map(|index| hits[index]).collect();
    hits.copy_from_slice(&sorted);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systems_compare_by_nos_table_or_url() {
        assert!(same_system(
            "https://mos.esante.gouv.fr/NOS/TRE_R330-TypeStatutCapacite/FHIR/TRE-R330-TypeStatutCapacite",
            "http://mos.esante.gouv.fr/NOS/TRE_R330-TypeStatutCapacite/FHIR/TRE-R330-TypeStatutCapacite/"
        ));
        assert!(!same_system(
            "https://mos.esante.gouv.fr/NOS/TRE_R330-TypeStatutCapacite/FHIR/TRE-R330-TypeStatutCapacite",
            "https://mos.esante.gouv.fr/NOS/TRE_R331-TemporaliteCapacite/FHIR/TRE-R331-TemporaliteCapacite"
        ));
        assert!(same_system("http://finess.esante.gouv.fr", "https://finess.esante.gouv.fr"));
        assert!(!same_system("http://sirene.fr", "https://finess.esante.gouv.fr"));
    }
}
