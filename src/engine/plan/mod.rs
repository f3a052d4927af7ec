//! Query plans: how the matches of a request are found. Each plan is a walk over positions or
//! docs that offers candidates to a [`Collector`]:
//!
//! * [`nearest`]: positions nearest-first out of the sphere R-tree, stopping once the page is
//!   certain (centre, distance order, no text, no exact count), switching to an enumeration
//!   when the walk would cover its whole radius anyway;
//! * [`region`]: every position of a radius or a small bbox, or every doc;
//! * [`bulk`]: roaring bitmaps for a large bbox or no geography;
//! * [`text`]: the text posting list restricted to the doc-id ranges of the region, in rings
//!   for a nearest text query.
//!
//! [`Strategy`] names the plan a request takes, for `explain` and the logs. This file holds
//! what every plan shares: the request as the walks see it ([`Plan`]) and the region's
//! positions.

pub(crate) mod bulk;
pub(crate) mod count;
pub(crate) mod nearest;
pub(crate) mod region;
pub(crate) mod text;

use rstar::AABB;

use super::Index;
use super::collector::{Collector, Hit};
use super::filter::CompiledFilter;
use super::live::LiveView;
use super::request::{BBox, SortKey};
use crate::model::GeoPoint;
use crate::util::geo::{chord_for_distance_m, haversine_m};

/// Distances computed two ways (chord on the unit sphere, haversine) may differ by rounding;
/// bounds derived from chords are widened by this many metres so no match is ever lost.
pub(crate) const BOUND_SLACK_M: f64 = 0.001;

/// The plan a request takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Strategy {
    /// Positions nearest-first, stopping once the page is certain.
    NearestWalk,
    /// A nearest walk that found its radius too sparse in matches and enumerated it instead.
    NearestWalkThenRegion,
    /// Every position of the region (radius or small bbox), or every doc.
    Region,
    /// Bitmaps over a large bbox or the whole snapshot.
    Bulk,
    /// The text posting list over the region's doc ranges.
    Text,
    /// A nearest text query grown in rings until its page was certain.
    TextRings,
    /// Nothing can match (a text query of only separators).
    Empty,
}

/// Everything about a request the walks need.
pub(crate) struct Plan<'a> {
    pub(crate) index: &'a Index,
    /// The live capacities the query reads (one version for the whole query).
    pub(crate) live: &'a LiveView,
    pub(crate) filter: CompiledFilter,
    pub(crate) sort: SortKey,
    pub(crate) centre: Option<GeoPoint>,
    pub(crate) radius_m: Option<f64>,
    pub(crate) bbox: Option<BBox>,
    /// Whether `bbox` holds few enough positions that the R-tree beats a scan (decided once).
    pub(crate) bbox_is_small: bool,
}

/// Whether a bbox holds few enough positions that the R-tree beats a scan: estimated on a
/// sample of one position in 64.
fn bbox_is_small(positions: &[GeoPoint], bbox: &BBox) -> bool {
    let sampled = positions.iter().step_by(64).filter(|point| bbox.contains(**point)).count();
    sampled * 64 * 8 < positions.len()
}

impl<'a> Plan<'a> {
    pub(crate) fn new(
        index: &'a Index,
        live: &'a LiveView,
        filter: CompiledFilter,
        sort: SortKey,
        centre: Option<GeoPoint>,
        radius_m: Option<f64>,
        bbox: Option<BBox>,
    ) -> Plan<'a> {
        let bbox_is_small = bbox.as_ref().is_some_and(|bbox| bbox_is_small(&index.layout.positions, bbox));
        Plan { index, live, filter, sort, centre, radius_m, bbox, bbox_is_small }
    }
    #[inline]
    pub(crate) fn primary(&self, doc: u32, score: f32) -> u64 {
        let columns = &self.index.columns;
        match self.sort {
            SortKey::Distance => 0,
            SortKey::Price => u64::from(columns.daily_total_cents[self.filter.price_band][doc as usize]),
            SortKey::Available => {
                let available = self.live.counts(doc).available;
                u64::from(u32::MAX - self.filter.available(columns, doc as usize, available))
            }
            // Scores are non-negative, so their bits order like the numbers.
            SortKey::Relevance => u64::from(u32::MAX - score.max(0.0).to_bits()),
            SortKey::Name => u64::from(columns.name_rank[doc as usize]),
        }
    }

    #[inline]
    pub(crate) fn hit(&self, doc: u32, distance_m: f64, score: f32) -> Hit {
        self.hit_with_primary(self.primary(doc, score), doc, distance_m, score)
    }

    #[inline(always)]
    pub(crate) fn hit_with_primary(&self, primary: u64, doc: u32, distance_m: f64, score: f32) -> Hit {
        Hit { primary, distance_m, offer: self.index.layout.offer_of_doc[doc as usize], doc, score }
    }

    /// Offers a matching doc to the collector; its hit is built only if it is kept.
    #[inline(always)]
    pub(crate) fn keep(&self, collector: &mut Collector, doc: u32, distance_m: f64, score: f32) {
        let primary = self.primary(doc, score);
        collector.offer(primary, || self.hit_with_primary(primary, doc, distance_m, score));
    }

    #[inline(always)]
    pub(crate) fn consider(&self, collector: &mut Collector, doc: u32, distance_m: f64, score: f32) {
        if self.filter.matches(&self.index.columns, self.live, doc) {
            if let Some(facets) = &mut collector.facets {
                facets.add(&self.index.columns, doc);
            }
            self.keep(collector, doc, distance_m, score);
        }
    }

    /// The distance of a position from the centre and whether it is in the region.
    #[inline]
    pub(crate) fn place(&self, position: u32) -> Option<f64> {
        let point = self.index.layout.positions[position as usize];
        if let Some(bbox) = &self.bbox
            && !bbox.contains(point)
        {
            return None;
        }
        match self.centre {
            Some(centre) => {
                let distance = haversine_m(centre, point);
                match self.radius_m {
                    Some(radius) if distance > radius => None,
                    _ => Some(distance),
                }
            }
            None => Some(0.0),
        }
    }

    /// Calls `visit(position, distance)` for every position of the region that passes
    /// `may_match`, in no particular order. The region is the radius and/or bbox; without
    /// either, every position. `may_match` runs before the distance is computed (a
    /// trigonometric call), so a cheap summary check there saves it for positions that cannot
    /// match.
    pub(crate) fn for_each_position(
        &self,
        radius_m: Option<f64>,
        may_match: &dyn Fn(u32) -> bool,
        visit: &mut dyn FnMut(u32, f64),
    ) {
        let index = self.index;
        if let (Some(centre), Some(radius)) = (self.centre, radius_m) {
            let chord = chord_for_distance_m(radius + BOUND_SLACK_M) + 1e-12;
            for point in index.sphere.locate_within_distance(centre.unit_vector(), chord * chord) {
                let position = point.data;
                if !may_match(position) {
                    continue;
                }
                let coordinates = index.layout.positions[position as usize];
                if let Some(bbox) = &self.bbox
                    && !bbox.contains(coordinates)
                {
                    continue;
                }
                let distance = haversine_m(centre, coordinates);
                if distance <= radius {
                    visit(position, distance);
                }
            }
            return;
        }
        let distance_of = |position: u32| match self.centre {
            Some(centre) => haversine_m(centre, index.layout.positions[position as usize]),
            None => 0.0,
        };
        match &self.bbox {
            Some(bbox) if self.bbox_is_small => {
                for envelope in envelopes(bbox) {
                    for point in index.plane.locate_in_envelope(envelope) {
                        if may_match(point.data) {
                            visit(point.data, distance_of(point.data));
                        }
                    }
                }
            }
            Some(bbox) => {
                for (position, point) in index.layout.positions.iter().enumerate() {
                    if bbox.contains(*point) && may_match(position as u32) {
                        visit(position as u32, distance_of(position as u32));
                    }
                }
            }
            None => {
                for position in 0..index.layout.positions.len() as u32 {
                    if may_match(position) {
                        visit(position, distance_of(position));
                    }
                }
            }
        }
    }

    /// Whether [`Plan::for_each_position`] with `radius_m` scans every position (testing the
    /// bbox on each) rather than asking the sphere's or the plane's R-tree: no radius around a
    /// centre, and no bbox or one too large for the R-tree.
    pub(crate) fn scans(&self, radius_m: Option<f64>) -> bool {
        let around_centre = self.centre.is_some() && radius_m.is_some();
        !around_centre && !self.bbox_is_small
    }

    /// The region's positions with their distances, sorted by position id (doc-id order).
    pub(crate) fn sorted_positions(&self, radius_m: Option<f64>) -> Vec<(u32, f64)> {
        let mut positions = Vec::new();
        self.for_each_position(radius_m, &|_| true, &mut |position, distance| positions.push((position, distance)));
        positions.sort_unstable_by_key(|&(position, _)| position);
        positions
    }
}

/// The rstar envelopes of a bbox (two across the antimeridian).
pub(crate) fn envelopes(bbox: &BBox) -> Vec<AABB<[f64; 2]>> {
    if bbox.min_lon <= bbox.max_lon {
        vec![AABB::from_corners([bbox.min_lon, bbox.min_lat], [bbox.max_lon, bbox.max_lat])]
    } else {
        vec![
            AABB::from_corners([bbox.min_lon, bbox.min_lat], [180.0, bbox.max_lat]),
            AABB::from_corners([-180.0, bbox.min_lat], [bbox.max_lon, bbox.max_lat]),
        ]
    }
}
