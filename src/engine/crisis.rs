//! The crisis-capacity query (`/v1/crisis`, the SAMU's question when the ORSAN plan is
//! triggered): the EGs nearest a centre with supplementary beds now (T0) or within the hour
//! (T60), and the totals over the whole matching region, by département.
//!
//! It reuses the search's filter and region walk (`super::plan`); what is its own is the
//! aggregation by EG.

use std::collections::hash_map::Entry;

use rustc_hash::{FxHashMap, FxHashSet};

use super::Index;
use super::access::{Access, forbidden};
use super::filter::CompiledFilter;
use super::layout::NO_POSITION;
use super::live::LiveView;
use super::lookup::NO_EG;
use super::plan::Plan;
use super::request::{MAX_LIMIT, ParamError, SearchRequest, SortKey};
use super::response::{CentreView, EgView, Timestamp};
use crate::model::Code;
use crate::model::access::Field;
use crate::model::labels::CodeSystem;
use crate::model::rules::CapacityTotals;
use crate::util::geo::haversine_m;

/// Number of EGs a crisis answer holds by default.
pub(crate) const DEFAULT_CRISIS_LIMIT: usize = 10;

/// A crisis-capacity request: the search filters that apply (centre, radius, activity, type
/// d'offre, minimum T0 / T60, `limit` counted in EGs, `now`) and the EG's ORSAN level.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct CrisisRequest {
    /// Centre, radius, `activity`, `offer_type`, `min_crisis_t0`, `min_crisis_t60`, `limit`
    /// (EGs returned) and `now`; other fields are not used.
    pub search: SearchRequest,
    /// Niveau de recours ORSAN of the EG (TRE_R284: 1 première ligne, 4 deuxième ligne), any of.
    pub orsan_level: Vec<Code>,
}

/// One offer of an EG in a crisis answer.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct CrisisOffer<'a> {
    /// FHIR id of the `HealthcareService`.
    pub id: &'a str,
    /// Name of the offer.
    pub name: &'a str,
    /// Type d'offre code (TRE_R244).
    pub offer_type: Option<&'a str>,
    /// Activité opérationnelle code (TRE_R211).
    pub activity: Option<&'a str>,
    /// Label of the activité opérationnelle (`null` when the code is not in our tables).
    pub(crate) activity_label: Option<&'static str>,
    /// Supplementary beds now (status `06`, temporality `01`), over the offer's locations.
    pub crisis_t0: u32,
    /// Supplementary beds within the hour (status `06`, temporality `02`), over the offer's
    /// locations.
    pub crisis_t60: u32,
}

/// An EG with crisis capacity.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct CrisisEg<'a> {
    /// The EG.
    pub eg: EgView<'a>,
    /// Distance from the centre to the nearest of its matching offers, metres.
    pub distance_m: Option<f64>,
    /// Supplementary beds now (T0), summed over its matching offers.
    pub crisis_t0: u32,
    /// Supplementary beds within the hour (T60), summed over its matching offers.
    pub crisis_t60: u32,
    /// Newest `capacityUpdateDate` among the crisis records counted.
    pub updated_at: Option<Timestamp>,
    /// Its matching offers, in offer-id order.
    pub offers: Vec<CrisisOffer<'a>>,
}

/// Crisis totals of a département over the whole matching set.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct CrisisTotal<'a> {
    /// INSEE département code (`45`, `2A`, `974`); empty when unknown.
    pub departement: &'a str,
    /// Matching EGs with offers in the département (an EG counts once in each).
    pub egs: u64,
    /// Matching offers in the département.
    pub offers: u64,
    /// Supplementary beds now (T0) of those offers.
    pub crisis_t0: u64,
    /// Supplementary beds within the hour (T60) of those offers.
    pub crisis_t60: u64,
}

/// The answer of `/v1/crisis`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct CrisisResponse<'a> {
    /// The snapshot the answer comes from.
    pub snapshot: &'a str,
    /// The centre the distances are measured from, when one was given.
    pub centre: Option<CentreView<'a>>,
    /// Matching EGs over the whole region.
    pub total_egs: u64,
    /// Matching offers over the whole region.
    pub total_offers: u64,
    /// Supplementary beds now (T0) of the matching offers, over the whole region.
    pub crisis_t0: u64,
    /// Supplementary beds within the hour (T60) of the matching offers, over the whole region.
    pub crisis_t60: u64,
    /// The nearest EGs (or, without a centre, by EG id), at most `limit`.
    pub egs: Vec<CrisisEg<'a>>,
    /// Totals by département, over the whole region.
    pub by_departement: Vec<CrisisTotal<'a>>,
}

/// The matching offers of one EG.
struct EgAggregate {
    /// Distance to the nearest of them, metres.
    distance_m: f64,
    crisis_t0: u32,
    crisis_t60: u32,
    /// Département of the first of them met (an EG counts once in each of its départements).
    departement: u16,
}

/// Totals of one département, by dictionary id.
#[derive(Clone, Copy, Default)]
struct DepartementTotal {
    egs: u64,
    offers: u64,
    crisis_t0: u64,
    crisis_t60: u64,
}

/// What the walk over the region gathers.
#[derive(Default)]
struct CrisisMatches {
    per_eg: FxHashMap<u32, EgAggregate>,
    /// (EG index, doc) of every matching offer, in walk order.
    docs: Vec<(u32, u32)>,
    /// Indexed by département dictionary id.
    by_departement: Vec<DepartementTotal>,
    /// (EG, département) pairs met beyond each EG's first département.
    more_departements: FxHashSet<(u32, u16)>,
}

/// Up to this radius the crisis walk enumerates the positions of the region (R-tree); beyond
/// it, or without a radius, it reads the docs with crisis capacity (a bitmap of a tenth of the
/// docs) and measures each one's distance.
const REGION_WALK_MAX_RADIUS_M: f64 = 100_000.0;

impl Index {
    /// Answers a crisis-capacity request.
    pub(crate) fn crisis(&self, live: &LiveView, request: &CrisisRequest) -> Result<CrisisResponse<'_>, ParamError> {
        let now = request.search.now.unwrap_or_else(crate::util::time::now);
        let profile = request.search.profiles;
        let access = Access::new(profile);
        if !profile.sees_anywhere(Field::SupplementaryCapacity) {
            return Err(forbidden(profile, "profile", "supplementary (crisis) capacities"));
        }
        if !request.orsan_level.is_empty() && !access.sees_orsan_level() {
            return Err(forbidden(profile, "orsan_level", "the niveau de recours ORSAN"));
        }
        for code in &request.orsan_level {
            if CodeSystem::NiveauRecoursOrsan.label(code).is_none() {
                return Err(ParamError::new(
                    "orsan_level",
                    format!("unknown code {code:?} (TRE_R284-NiveauRecoursORSAN: 1 or 4)"),
                ));
            }
        }
        let search = SearchRequest {
            centre: request.search.centre.clone(),
            radius_km: request.search.radius_km,
            activity: request.search.activity.clone(),
            offer_type: request.search.offer_type.clone(),
            min_crisis_t0: request.search.min_crisis_t0,
            min_crisis_t60: request.search.min_crisis_t60,
            limit: request.search.limit.clamp(1, MAX_LIMIT),
            now: Some(now),
            profiles: profile,
            ..SearchRequest::default()
        };
        let (centre, centre_view) = self.centre_of(search.centre.as_ref())?;
        let plan = Plan::new(
            self,
            live,
            CompiledFilter::new(&search, &self.columns, now)?,
            SortKey::Distance,
            centre,
            search.radius_km.map(|km| km * 1000.0),
            None,
        );
        let matches = self.crisis_matches(&plan, &request.orsan_level);
        let total_offers = matches.docs.len() as u64;
        let (crisis_t0, crisis_t60) = matches.per_eg.values().fold((0u64, 0u64), |(t0, t60), aggregate| {
            (t0 + u64::from(aggregate.crisis_t0), t60 + u64::from(aggregate.crisis_t60))
        });
        let mut order: Vec<(u32, &EgAggregate)> =
            matches.per_eg.iter().map(|(&eg, aggregate)| (eg, aggregate)).collect();
        let nearest_first = |a: &(u32, &EgAggregate), b: &(u32, &EgAggregate)| {
            a.1.distance_m.total_cmp(&b.1.distance_m).then(a.0.cmp(&b.0))
        };
        if order.len() > search.limit {
            order.select_nth_unstable_by(search.limit, nearest_first);
            order.truncate(search.limit);
        }
        order.sort_unstable_by(nearest_first);
        let mut docs_of: FxHashMap<u32, Vec<u32>> = order.iter().map(|&(eg, _)| (eg, Vec::new())).collect();
        for &(eg, doc) in &matches.docs {
            if let Some(docs) = docs_of.get_mut(&eg) {
                docs.push(doc);
            }
        }
        let egs = order
            .iter()
            .map(|&(eg, aggregate)| {
                let docs = docs_of.remove(&eg).unwrap_or_default();
                self.crisis_eg(live, eg, aggregate, docs, centre.is_some(), access)
            })
            .collect();
        let dictionary = &self.columns.dictionaries.departement;
        let by_departement = matches
            .by_departement
            .iter()
            .enumerate()
            .filter(|(_, total)| total.offers > 0)
            .map(|(id, total)| CrisisTotal {
                departement: dictionary.code(id as u16).map_or("", |code| code.as_str()),
                egs: total.egs,
                offers: total.offers,
                crisis_t0: total.crisis_t0,
                crisis_t60: total.crisis_t60,
            })
            .collect();
        Ok(CrisisResponse {
            snapshot: &self.manifest.snapshot_id,
            centre: centre_view,
            total_egs: matches.per_eg.len() as u64,
            total_offers,
            crisis_t0,
            crisis_t60,
            egs,
            by_departement,
        })
    }

    /// The matching offers with crisis capacity of the region: by EG, by département, and
    /// each one.
    fn crisis_matches(&self, plan: &Plan<'_>, orsan_level: &[Code]) -> CrisisMatches {
        let dataset = &self.data.dataset;
        let departements = self.columns.dictionaries.departement.len();
        let mut matches = CrisisMatches {
            by_departement: vec![DepartementTotal::default(); departements],
            ..CrisisMatches::default()
        };
        let mut visit = |doc: u32, distance_m: f64| {
            if !plan.filter.matches(&self.columns, plan.live, doc) {
                return;
            }
            let capacity = *plan.live.counts(doc);
            if capacity.crisis_t0 == 0 && capacity.crisis_t60 == 0 {
                return;
            }
            let eg_index = self.lookups.eg_of_doc[doc as usize];
            if eg_index == NO_EG {
                return;
            }
            if !orsan_level.is_empty()
                && !dataset.egs[eg_index as usize].orsan_level.as_ref().is_some_and(|level| orsan_level.contains(level))
            {
                return;
            }
            let departement = self.columns.departement[doc as usize];
            let total = &mut matches.by_departement[departement as usize];
            total.offers += 1;
            total.crisis_t0 += u64::from(capacity.crisis_t0);
            total.crisis_t60 += u64::from(capacity.crisis_t60);
            match matches.per_eg.entry(eg_index) {
                Entry::Vacant(entry) => {
                    entry.insert(EgAggregate {
                        distance_m,
                        crisis_t0: capacity.crisis_t0,
                        crisis_t60: capacity.crisis_t60,
                        departement,
                    });
                    total.egs += 1;
                }
                Entry::Occupied(mut entry) => {
                    let aggregate = entry.get_mut();
                    aggregate.distance_m = aggregate.distance_m.min(distance_m);
                    aggregate.crisis_t0 += capacity.crisis_t0;
                    aggregate.crisis_t60 += capacity.crisis_t60;
                    if aggregate.departement != departement && matches.more_departements.insert((eg_index, departement))
                    {
                        total.egs += 1;
                    }
                }
            }
            matches.docs.push((eg_index, doc));
        };
        match (plan.centre, plan.radius_m) {
            (Some(_), Some(radius_m)) if radius_m <= REGION_WALK_MAX_RADIUS_M => {
                let may_match = |position: u32| {
                    let maxima = plan.live.position(position);
                    plan.filter.position_may_match(&self.summaries, plan.live, position as usize)
                        && (maxima.max_crisis_t0 > 0 || maxima.max_crisis_t60 > 0)
                };
                plan.for_each_position(plan.radius_m, &may_match, &mut |position, distance| {
                    for doc in self.layout.docs_at(position) {
                        visit(doc, distance);
                    }
                });
            }
            (Some(centre), radius_m) => {
                // Docs are laid out by position: the distance is measured once per position.
                let mut last: Option<(u32, f64)> = None;
                plan.live.for_each_crisis_doc(|doc| {
                    let position = self.layout.position_of_doc[doc as usize];
                    if position == NO_POSITION {
                        return;
                    }
                    let distance = match last {
                        Some((held, distance)) if held == position => distance,
                        _ => {
                            let distance = haversine_m(centre, self.layout.positions[position as usize]);
                            last = Some((position, distance));
                            distance
                        }
                    };
                    if radius_m.is_none_or(|radius| distance <= radius) {
                        visit(doc, distance);
                    }
                });
            }
            (None, _) => plan.live.for_each_crisis_doc(|doc| visit(doc, 0.0)),
        }
        matches
    }

    /// One EG of the answer, its offers in offer-id order.
    fn crisis_eg(
        &self,
        live: &LiveView,
        eg_index: u32,
        aggregate: &EgAggregate,
        mut docs: Vec<u32>,
        has_centre: bool,
        access: Access,
    ) -> CrisisEg<'_> {
        let dataset = &self.data.dataset;
        docs.sort_by_key(|&doc| self.layout.offer_of_doc[doc as usize]);
        let mut updated_at = None;
        let offers = docs
            .iter()
            .map(|&doc| {
                let offer = &dataset.offers[self.layout.offer_of_doc[doc as usize] as usize];
                let totals = CapacityTotals::of_records(
                    offer.locations.iter().flat_map(|&location| self.location_records(live, location).iter()),
                );
                updated_at = updated_at.max(totals.crisis_t0_updated_at).max(totals.crisis_t60_updated_at);
                let capacity = *live.counts(doc);
                CrisisOffer {
                    id: &offer.id,
                    name: &offer.name,
                    offer_type: offer.offer_type.as_deref(),
                    activity: offer.activity.as_deref(),
                    activity_label: offer
                        .activity
                        .as_deref()
                        .and_then(|code| CodeSystem::ActiviteOperationnelle.label(code)),
                    crisis_t0: capacity.crisis_t0,
                    crisis_t60: capacity.crisis_t60,
                }
            })
            .collect();
        CrisisEg {
            eg: self.eg_view(eg_index, access),
            distance_m: has_centre.then_some(aggregate.distance_m),
            crisis_t0: aggregate.crisis_t0,
            crisis_t60: aggregate.crisis_t60,
            updated_at: updated_at.map(Timestamp),
            offers,
        }
    }
}
