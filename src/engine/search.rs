//! Query execution: plan, walk, collect.
//!
//! Three plans cover every request:
//! * **nearest walk** (centre, distance order, no text, no exact count): positions come out
//!   of the R-tree nearest-first; the walk stops as soon as the next position is farther than
//!   the worst kept hit, so a top-20 reads only the neighbourhood it needs;
//! * **region enumeration** (any other request without text): every position of the region
//!   (radius via the R-tree, bbox via the R-tree or a scan when the box is large, or the whole
//!   snapshot) and every doc on it are checked;
//! * **text walk**: the posting list of the query, in doc-id order, restricted to the doc-id
//!   ranges of the region's positions by seeking from range to range; nearest-without-radius
//!   text queries grow the region in rings until the page is certain.
//!
//! Candidates go through [`CompiledFilter::matches`] and into a bounded heap; nothing is
//! allocated per candidate.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use roaring::RoaringBitmap;
use rstar::AABB;
use tantivy::TERMINATED;
use tantivy::query::Scorer;

use super::Engine;
use super::filter::{CompiledFilter, is_closed};
use super::layout::commune_by_code;
use super::request::{BBox, Centre, ParamError, SearchRequest, SortKey};
use super::response::{CentreView, CommuneView, Explanation, FacetValue, Facets, SearchResponse};
use super::text::TextQuery;
use crate::model::GeoPoint;
use crate::model::labels::CodeSystem;
use crate::util::geo::{chord_for_distance_m, distance_m_for_chord, haversine_m};

/// Distances computed two ways (chord on the unit sphere, haversine) may differ by rounding;
/// bounds derived from chords are widened by this many metres so no match is ever lost.
const BOUND_SLACK_M: f64 = 0.001;

/// After how many positions a nearest walk that has not filled its page first weighs
/// switching to an enumeration of its radius (then again at every doubling).
const WALK_CHECKPOINT: usize = 32;

/// Cost of a position in a nearest walk over its cost in an enumeration. Measured once, by
/// timing the sample data's Paris query (30 km, EHPAD, GIR 2, ≤ 90 EUR, a free place) both
/// ways before the switch existed: 86 µs for the walk of the whole radius, 27 µs for the
/// enumeration; 3 is the cautious side (a lower ratio switches later, never wrongly).
const WALK_COST_RATIO: f64 = 3.0;

/// Radii of the rings a nearest text query grows through, km.
const TEXT_RINGS_KM: [f64; 6] = [2.0, 8.0, 32.0, 128.0, 512.0, 2048.0];

/// One kept candidate. Ordered best first: sort key, then distance, then offer index.
#[derive(Debug, Clone, Copy)]
pub struct Hit {
    pub primary: u64,
    pub distance_m: f64,
    pub offer: u32,
    pub doc: u32,
    pub score: f32,
}

impl PartialEq for Hit {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Hit {}

impl PartialOrd for Hit {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Hit {
    fn cmp(&self, other: &Self) -> Ordering {
        self.primary
            .cmp(&other.primary)
            .then_with(|| self.distance_m.total_cmp(&other.distance_m))
            .then_with(|| self.offer.cmp(&other.offer))
    }
}

/// Counts per dictionary id.
#[derive(Debug, Clone)]
struct FacetCounts {
    category: Vec<u64>,
    offer_type: Vec<u64>,
    departement: Vec<u64>,
}

/// The k best hits, the count of matches and, on request, facet counts and a rank.
struct Collector {
    k: usize,
    heap: BinaryHeap<Hit>,
    total: u64,
    facets: Option<FacetCounts>,
    /// For `explain`: the hit whose rank is wanted, and how many hits sort before it.
    rank_target: Option<Hit>,
    better_than_target: u64,
    /// Primary key of the worst kept hit once the heap is full (`u64::MAX` before).
    threshold: u64,
}

impl Collector {
    fn new(k: usize) -> Collector {
        Collector {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
            total: 0,
            facets: None,
            rank_target: None,
            better_than_target: 0,
            threshold: u64::MAX,
        }
    }

    #[inline]
    fn full(&self) -> bool {
        self.heap.len() >= self.k
    }

    /// The worst kept hit, once the heap is full.
    #[inline]
    fn worst(&self) -> Option<&Hit> {
        if self.full() { self.heap.peek() } else { None }
    }

    /// Counts a match and keeps it if it is among the k best. `primary` is its sort key: a
    /// match whose key is worse than the worst kept one is counted and dropped without
    /// building its hit (the common case once the heap is full).
    #[inline(always)]
    fn offer(&mut self, primary: u64, make_hit: impl FnOnce() -> Hit) {
        self.total += 1;
        if primary > self.threshold && self.rank_target.is_none() {
            return;
        }
        let hit = make_hit();
        if let Some(target) = &self.rank_target
            && hit < *target
        {
            self.better_than_target += 1;
        }
        if self.heap.len() < self.k {
            self.heap.push(hit);
        } else if let Some(mut worst) = self.heap.peek_mut()
            && hit < *worst
        {
            *worst = hit;
        }
        if self.heap.len() >= self.k {
            self.threshold = self.heap.peek().map_or(u64::MAX, |worst| worst.primary);
        }
    }
}

/// Everything about a request the walks need.
struct Plan<'a> {
    engine: &'a Engine,
    filter: CompiledFilter,
    sort: SortKey,
    centre: Option<GeoPoint>,
    radius_m: Option<f64>,
    bbox: Option<BBox>,
    /// Whether `bbox` holds few enough positions that the R-tree beats a scan (decided once).
    bbox_is_small: bool,
}

/// Whether a bbox holds few enough positions that the R-tree beats a scan: estimated on a
/// sample of one position in 64.
fn bbox_is_small(positions: &[GeoPoint], bbox: &BBox) -> bool {
    let sampled = positions.iter().step_by(64).filter(|point| bbox.contains(point.lat, point.lon)).count();
    sampled * 64 * 8 < positions.len()
}

impl<'a> Plan<'a> {
    fn new(
        engine: &'a Engine,
        filter: CompiledFilter,
        sort: SortKey,
        centre: Option<GeoPoint>,
        radius_m: Option<f64>,
        bbox: Option<BBox>,
    ) -> Plan<'a> {
        let bbox_is_small = bbox.as_ref().is_some_and(|bbox| bbox_is_small(&engine.layout.positions, bbox));
        Plan { engine, filter, sort, centre, radius_m, bbox, bbox_is_small }
    }
    #[inline]
    fn primary(&self, doc: u32, score: f32) -> u64 {
        let columns = &self.engine.columns;
        match self.sort {
            SortKey::Distance => 0,
            SortKey::Price => u64::from(columns.daily_total_cents[self.filter.price_band][doc as usize]),
            SortKey::Available => u64::from(u32::MAX - columns.capacity[doc as usize].available),
            // Scores are non-negative, so their bits order like the numbers.
            SortKey::Relevance => u64::from(u32::MAX - score.max(0.0).to_bits()),
            SortKey::Name => u64::from(columns.name_rank[doc as usize]),
        }
    }

    #[inline]
    fn hit(&self, doc: u32, distance_m: f64, score: f32) -> Hit {
        self.hit_with_primary(self.primary(doc, score), doc, distance_m, score)
    }

    #[inline(always)]
    fn hit_with_primary(&self, primary: u64, doc: u32, distance_m: f64, score: f32) -> Hit {
        Hit { primary, distance_m, offer: self.engine.layout.offer_of_doc[doc as usize], doc, score }
    }

    /// Offers a matching doc to the collector; its hit is built only if it is kept.
    #[inline(always)]
    fn keep(&self, collector: &mut Collector, doc: u32, distance_m: f64, score: f32) {
        let primary = self.primary(doc, score);
        collector.offer(primary, || self.hit_with_primary(primary, doc, distance_m, score));
    }

    #[inline(always)]
    fn consider(&self, collector: &mut Collector, doc: u32, distance_m: f64, score: f32) {
        if self.filter.matches(&self.engine.columns, doc) {
            if let Some(facets) = &mut collector.facets {
                let columns = &self.engine.columns;
                facets.category[columns.category[doc as usize] as usize] += 1;
                facets.offer_type[columns.offer_type[doc as usize] as usize] += 1;
                facets.departement[columns.departement[doc as usize] as usize] += 1;
            }
            self.keep(collector, doc, distance_m, score);
        }
    }

    /// The distance of a position from the centre and whether it is in the region.
    #[inline]
    fn place(&self, position: u32) -> Option<f64> {
        let point = self.engine.layout.positions[position as usize];
        if let Some(bbox) = &self.bbox
            && !bbox.contains(point.lat, point.lon)
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
    fn for_each_position(
        &self,
        radius_m: Option<f64>,
        may_match: &dyn Fn(u32) -> bool,
        visit: &mut dyn FnMut(u32, f64),
    ) {
        let engine = self.engine;
        if let (Some(centre), Some(radius)) = (self.centre, radius_m) {
            let chord = chord_for_distance_m(radius + BOUND_SLACK_M) + 1e-12;
            for point in engine.sphere.locate_within_distance(centre.unit_vector(), chord * chord) {
                let position = point.data;
                if !may_match(position) {
                    continue;
                }
                let coordinates = engine.layout.positions[position as usize];
                if let Some(bbox) = &self.bbox
                    && !bbox.contains(coordinates.lat, coordinates.lon)
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
            Some(centre) => haversine_m(centre, engine.layout.positions[position as usize]),
            None => 0.0,
        };
        match &self.bbox {
            Some(bbox) if self.bbox_is_small => {
                for envelope in envelopes(bbox) {
                    for point in engine.plane.locate_in_envelope(envelope) {
                        if may_match(point.data) {
                            visit(point.data, distance_of(point.data));
                        }
                    }
                }
            }
            Some(bbox) => {
                for (position, point) in engine.layout.positions.iter().enumerate() {
                    if bbox.contains(point.lat, point.lon) && may_match(position as u32) {
                        visit(position as u32, distance_of(position as u32));
                    }
                }
            }
            None => {
                for position in 0..engine.layout.positions.len() as u32 {
                    if may_match(position) {
                        visit(position, distance_of(position));
                    }
                }
            }
        }
    }

    /// The region's positions with their distances, sorted by position id (doc-id order).
    fn sorted_positions(&self, radius_m: Option<f64>) -> Vec<(u32, f64)> {
        let mut positions = Vec::new();
        self.for_each_position(radius_m, &|_| true, &mut |position, distance| positions.push((position, distance)));
        positions.sort_unstable_by_key(|&(position, _)| position);
        positions
    }

    /// Enumerates the whole region (no text).
    fn enumerate(&self, collector: &mut Collector, need_all: bool) -> bool {
        let layout = &self.engine.layout;
        if self.centre.is_none() && self.bbox.is_none() {
            // No geography: every offer, with or without a position.
            for doc in 0..layout.doc_count() {
                self.consider(collector, doc, 0.0, 0.0);
            }
            return true;
        }
        let summaries = &self.engine.summaries;
        let mut pruned = false;
        let may_match = |position: u32| self.filter.position_may_match(summaries, position as usize);
        self.for_each_position(self.radius_m, &may_match, &mut |position, distance| {
            // Once the page is full, a position whose best possible key is worse than the worst
            // kept hit cannot change it (its matches are then not counted: the total becomes a
            // lower bound).
            if !need_all && self.best_primary(position) > collector.threshold {
                pruned = true;
                return;
            }
            for doc in layout.docs_at(position) {
                self.consider(collector, doc, distance, 0.0);
            }
        });
        !pruned
    }

    /// The best sort key any doc at `position` can have, for the static sort keys.
    #[inline]
    fn best_primary(&self, position: u32) -> u64 {
        let summaries = &self.engine.summaries;
        let position = position as usize;
        match self.sort {
            SortKey::Price => u64::from(summaries.min_price[self.filter.price_band][position]),
            SortKey::Available => u64::from(u32::MAX - summaries.max_available[position]),
            SortKey::Name => u64::from(summaries.min_name_rank[position]),
            SortKey::Distance | SortKey::Relevance => 0,
        }
    }

    /// Answers a request over a large region without a centre or text (a big bbox, or no
    /// geography at all) with bitmaps: the region's doc ranges, intersected with the code
    /// filters' posting lists, give the count (and facets) by cardinality; the page comes from
    /// a walk in name order (stopping at k) or from the set's docs. Filters that need the
    /// columns (price, age, capacities) are checked doc by doc on the set.
    fn bulk(&self, collector: &mut Collector) {
        let engine = self.engine;
        let postings = &engine.postings;
        let columns = &engine.columns;
        let mut set = match &self.bbox {
            None => postings.all.clone(),
            Some(_) => {
                let mut positions = Vec::new();
                self.for_each_position(None, &|_| true, &mut |position, _| positions.push(position));
                positions.sort_unstable();
                let mut region = RoaringBitmap::new();
                let mut run: Option<std::ops::Range<u32>> = None;
                for position in positions {
                    let docs = engine.layout.docs_at(position);
                    run = match run {
                        Some(current) if current.end == docs.start => Some(current.start..docs.end),
                        Some(current) => {
                            region.insert_range(current);
                            Some(docs)
                        }
                        None => Some(docs),
                    };
                }
                if let Some(current) = run {
                    region.insert_range(current);
                }
                region
            }
        };
        if let Some(mask) = self.filter.mask(postings) {
            set &= mask;
        }
        if self.filter.needs_per_doc() || collector.rank_target.is_some() {
            for doc in set.iter() {
                self.consider(collector, doc, 0.0, 0.0);
            }
            return;
        }
        // Only the code, GIR and aide-sociale filters (all in `set`) and closures remain.
        let closed: Vec<u32> = (&set & &postings.may_close)
            .iter()
            .filter(|&doc| is_closed(columns, doc as usize, self.filter.now))
            .collect();
        for &doc in &closed {
            set.remove(doc);
        }
        let total = set.len();
        if let Some(facets) = &mut collector.facets {
            for (counts, bitmaps) in [
                (&mut facets.category, &postings.category),
                (&mut facets.offer_type, &postings.offer_type),
                (&mut facets.departement, &postings.departement),
            ] {
                for (count, bitmap) in counts.iter_mut().zip(bitmaps) {
                    *count = set.intersection_len(bitmap);
                }
            }
        }
        // The page: walking all docs in name order costs about k × docs / |set| membership
        // tests; iterating the set costs |set| key checks. Take the cheaper.
        let docs = postings.docs_by_name.len() as u64;
        let walk_cost = (collector.k as u64).saturating_mul(docs) / set.len().max(1);
        if self.sort == SortKey::Name && walk_cost < set.len() {
            for &doc in &postings.docs_by_name {
                if set.contains(doc) {
                    self.keep(collector, doc, 0.0, 0.0);
                    if collector.full() {
                        break;
                    }
                }
            }
        } else {
            for doc in set.iter() {
                self.keep(collector, doc, 0.0, 0.0);
            }
        }
        collector.total = total;
    }

    /// Walks positions nearest-first and stops once the page cannot change. Returns whether
    /// every match was seen (the total is exact).
    fn walk_nearest(&self, collector: &mut Collector) -> bool {
        let centre = self.centre.expect("a nearest walk has a centre");
        let layout = &self.engine.layout;
        // The stop tests compare squared chords, what the R-tree yields, against bounds
        // converted once (not an `asin` per position): a position is past a distance d when
        // its chord exceeds the chord of d + slack.
        let chord_squared_of = |distance_m: f64| {
            let chord = chord_for_distance_m(distance_m + BOUND_SLACK_M);
            chord * chord
        };
        let radius_chord_squared = self.radius_m.map(chord_squared_of);
        let mut worst_m = f64::NAN;
        let mut worst_chord_squared = f64::INFINITY;
        let mut walked = 0_usize;
        let mut checkpoint = WALK_CHECKPOINT;
        for (point, chord_squared) in self.engine.sphere.nearest_neighbor_iter_with_distance_2(centre.unit_vector()) {
            if let Some(limit) = radius_chord_squared
                && chord_squared > limit
            {
                return true;
            }
            walked += 1;
            if walked == checkpoint {
                checkpoint *= 2;
                if let Some(radius_m) = self.radius_m
                    && !collector.full()
                    && self.walk_is_slower_than_enumeration(walked, chord_squared, radius_m, collector)
                {
                    // Start over with an enumeration of the region (the walk found no hit it
                    // would not find again; dropping them keeps every hit counted once).
                    let mut fresh = Collector::new(collector.k);
                    fresh.facets = collector.facets.take();
                    fresh.rank_target = collector.rank_target.take();
                    *collector = fresh;
                    return self.enumerate(collector, false);
                }
            }
            if let Some(worst) = collector.worst() {
                if worst.distance_m.to_bits() != worst_m.to_bits() {
                    worst_m = worst.distance_m;
                    worst_chord_squared = chord_squared_of(worst_m);
                }
                if chord_squared > worst_chord_squared {
                    return false;
                }
            }
            let position = point.data;
            if !self.filter.position_may_match(&self.engine.summaries, position as usize) {
                continue;
            }
            let Some(distance) = self.place(position) else {
                continue;
            };
            for doc in layout.docs_at(position) {
                self.consider(collector, doc, distance, 0.0);
            }
        }
        true
    }

    /// Whether finishing a nearest walk that has not filled its page after `walked` positions
    /// (the last at `chord_squared`) would cost more than enumerating the whole radius.
    ///
    /// A nearest walk pays a heap operation per position (about 3 times an enumeration's
    /// per-position cost, measured). Assuming the density seen so far holds, the radius holds
    /// `walked × (radius / distance walked)²` positions, and the page needs `walked × k /
    /// matches` of them (all of them when nothing matched yet). Few matches over a large
    /// dense radius ("EHPAD under 90 EUR with a free place within 30 km of Paris") walk the
    /// whole radius anyway, and enumerate it 3 times faster.
    fn walk_is_slower_than_enumeration(
        &self,
        walked: usize,
        chord_squared: f64,
        radius_m: f64,
        collector: &Collector,
    ) -> bool {
        let walked_m = distance_m_for_chord(chord_squared.sqrt());
        if walked_m <= 0.0 {
            return false;
        }
        let walked = walked as f64;
        let region = walked * (radius_m / walked_m).powi(2);
        let needed = if collector.total == 0 {
            region
        } else {
            (walked * collector.k as f64 / collector.total as f64).min(region)
        };
        WALK_COST_RATIO * (needed - walked) > region
    }

    /// Runs a text scorer over the docs of positions sorted by id.
    fn text_over_positions(&self, scorer: &mut dyn Scorer, positions: &[(u32, f64)], collector: &mut Collector) {
        let layout = &self.engine.layout;
        let mut doc = scorer.doc();
        for &(position, distance) in positions {
            if doc == TERMINATED {
                return;
            }
            if !self.filter.position_may_match(&self.engine.summaries, position as usize) {
                continue;
            }
            let range = layout.docs_at(position);
            if doc < range.start {
                doc = scorer.seek(range.start);
            }
            while doc < range.end {
                self.consider(collector, doc, distance, scorer.score());
                doc = scorer.advance();
            }
        }
    }

    /// Runs a text query. Returns whether the total is exact.
    fn text(&self, query: &TextQuery, collector: &mut Collector, need_all: bool) -> bool {
        let text = self.engine.text.as_ref().expect("checked by the caller");
        if self.centre.is_none() && self.bbox.is_none() {
            if let Some(mut scorer) = text.scorer(query) {
                let mut doc = scorer.doc();
                while doc != TERMINATED {
                    self.consider(collector, doc, 0.0, scorer.score());
                    doc = scorer.advance();
                }
            }
            return true;
        }
        if self.centre.is_some() && self.sort == SortKey::Distance && !need_all {
            // Grow the region in rings (up to the radius, if any) until the page is certain.
            for ring_km in TEXT_RINGS_KM {
                let ring_m = ring_km * 1000.0;
                if self.radius_m.is_some_and(|radius| radius <= ring_m) {
                    break;
                }
                let mut ring = Collector::new(collector.k);
                let positions = self.sorted_positions(Some(ring_m));
                if let Some(mut scorer) = text.scorer(query) {
                    self.text_over_positions(scorer.as_mut(), &positions, &mut ring);
                }
                // Every hit of the ring is within `ring_m` and every doc outside is farther:
                // a full ring is the final page.
                if ring.full() {
                    *collector = Collector {
                        facets: collector.facets.take(),
                        rank_target: collector.rank_target.take(),
                        ..ring
                    };
                    return false;
                }
            }
        }
        let positions = self.sorted_positions(self.radius_m);
        if let Some(mut scorer) = text.scorer(query) {
            self.text_over_positions(scorer.as_mut(), &positions, collector);
        }
        true
    }
}

/// The rstar envelopes of a bbox (two across the antimeridian).
fn envelopes(bbox: &BBox) -> Vec<AABB<[f64; 2]>> {
    if bbox.min_lon <= bbox.max_lon {
        vec![AABB::from_corners([bbox.min_lon, bbox.min_lat], [bbox.max_lon, bbox.max_lat])]
    } else {
        vec![
            AABB::from_corners([bbox.min_lon, bbox.min_lat], [180.0, bbox.max_lat]),
            AABB::from_corners([-180.0, bbox.min_lat], [bbox.max_lon, bbox.max_lat]),
        ]
    }
}

impl Engine {
    /// The centre of a request, with the commune it came from.
    pub fn resolve_centre(&self, centre: &Centre) -> Result<(GeoPoint, Option<CommuneView<'_>>), ParamError> {
        match centre {
            Centre::Point { lat, lon } => Ok((GeoPoint { lat: *lat, lon: *lon }, None)),
            Centre::Commune(code) => {
                let commune = commune_by_code(&self.data.communes, code)
                    .ok_or_else(|| ParamError::new("commune", format!("unknown INSEE commune code {code:?}")))?;
                Ok((
                    GeoPoint { lat: commune.lat, lon: commune.lon },
                    Some(CommuneView {
                        code: commune.code.as_str(),
                        name: Some(commune.name.as_str()),
                        departement: Some(commune.departement.as_str()),
                    }),
                ))
            }
        }
    }

    /// Answers a search request.
    pub fn search(&self, request: &SearchRequest) -> Result<SearchResponse<'_>, ParamError> {
        request.validate()?;
        let now = request.now.unwrap_or_else(crate::util::time::now);
        let (centre, centre_view) = match &request.centre {
            Some(centre) => {
                let (point, commune) = self.resolve_centre(centre)?;
                (Some(point), Some(CentreView { lat: point.lat, lon: point.lon, commune }))
            }
            None => (None, None),
        };
        let filter = CompiledFilter::new(request, &self.columns, now)?;
        let text_query = match &request.q {
            Some(q) => {
                let text = self.text.as_ref().ok_or_else(|| ParamError::new("q", "this snapshot has no text index"))?;
                text.parse(q).map_err(|message| ParamError::new("q", message))?
            }
            None => None,
        };
        let sort = request.effective_sort();
        let plan = Plan::new(self, filter, sort, centre, request.radius_km.map(|km| km * 1000.0), request.bbox);
        let explain_doc = match &request.explain {
            Some(id) => Some(
                self.doc_of_offer_id(id)
                    .ok_or_else(|| ParamError::new("explain", format!("no offer with id {id:?}")))?,
            ),
            None => None,
        };
        let need_all = request.exact_total || request.facets || explain_doc.is_some();
        let mut collector = Collector::new(request.offset + request.limit);
        if request.facets {
            let dictionaries = &self.columns.dictionaries;
            collector.facets = Some(FacetCounts {
                category: vec![0; dictionaries.category.len()],
                offer_type: vec![0; dictionaries.offer_type.len()],
                departement: vec![0; dictionaries.departement.len()],
            });
        }
        let explanation_seed =
            explain_doc.map(|doc| self.explain_doc(&plan, doc, text_query.as_ref(), request.price_basis));
        if let Some((_, Some(target))) = &explanation_seed {
            collector.rank_target = Some(*target);
        }
        let total_exact = match &text_query {
            Some(query) => plan.text(query, &mut collector, need_all),
            None if request.q.is_some() => true, // a query of only separators matches nothing
            None if centre.is_some() && sort == SortKey::Distance && !need_all => plan.walk_nearest(&mut collector),
            None if centre.is_none() && !plan.bbox_is_small => {
                plan.bulk(&mut collector);
                true
            }
            None => plan.enumerate(&mut collector, need_all),
        };
        let total = if request.q.is_some() && text_query.is_none() { 0 } else { collector.total };
        let hits = collector.heap.into_sorted_vec();
        let page: Vec<Hit> = hits.iter().skip(request.offset).take(request.limit).copied().collect();
        let results =
            page.iter().map(|hit| self.render_hit(hit, centre.is_some(), request, text_query.is_some())).collect();
        let facets = collector.facets.map(|counts| Facets {
            category: facet_values(
                &counts.category,
                &self.columns.dictionaries.category,
                CodeSystem::CategorieEtablissement,
            ),
            offer_type: facet_values(
                &counts.offer_type,
                &self.columns.dictionaries.offer_type,
                CodeSystem::CategorieOrganisation,
            ),
            departement: facet_values_unlabelled(&counts.departement, &self.columns.dictionaries.departement),
        });
        let explain = explanation_seed.map(|(mut explanation, target)| {
            if let Some(target) = target {
                explanation.rank = Some(collector.better_than_target + 1);
                explanation.on_this_page = page.iter().any(|hit| hit.doc == target.doc);
            }
            explanation
        });
        Ok(SearchResponse {
            snapshot: &self.manifest.snapshot_id,
            total,
            total_exact,
            offset: request.offset,
            limit: request.limit,
            sort,
            centre: centre_view,
            results,
            facets,
            explain,
        })
    }

    /// The doc of an offer's FHIR id (the dataset is sorted by id).
    pub fn doc_of_offer_id(&self, id: &str) -> Option<u32> {
        let offers = &self.data.dataset.offers;
        let index = offers.binary_search_by(|offer| offer.id.as_str().cmp(id)).ok()?;
        Some(self.layout.doc_of_offer[index])
    }

    /// Why a doc matches or not, and its hit when it matches.
    fn explain_doc(
        &self,
        plan: &Plan<'_>,
        doc: u32,
        query: Option<&TextQuery>,
        basis: crate::model::rules::PriceBasis,
    ) -> (Explanation<'_>, Option<Hit>) {
        use super::response::Criterion;
        let offer = &self.data.dataset.offers[self.layout.offer_of_doc[doc as usize] as usize];
        let mut criteria = Vec::new();
        let mut distance = 0.0;
        let position = self.layout.position_of(doc);
        if plan.centre.is_some() || plan.bbox.is_some() {
            match position {
                None => criteria.push(Criterion {
                    parameter: "position".into(),
                    passed: false,
                    detail: "the offer has no position (no location, EG or commune coordinates)".into(),
                }),
                Some(point) => {
                    if let Some(centre) = plan.centre {
                        distance = haversine_m(centre, point);
                        match plan.radius_m {
                            Some(radius) => criteria.push(Criterion {
                                parameter: "radius_km".into(),
                                passed: distance <= radius,
                                detail: format!(
                                    "{:.3} km from the centre, at most {:.3} km asked",
                                    distance / 1000.0,
                                    radius / 1000.0
                                ),
                            }),
                            None => criteria.push(Criterion {
                                parameter: "centre".into(),
                                passed: true,
                                detail: format!("{:.3} km from the centre", distance / 1000.0),
                            }),
                        }
                    }
                    if let Some(bbox) = &plan.bbox {
                        criteria.push(Criterion {
                            parameter: "bbox".into(),
                            passed: bbox.contains(point.lat, point.lon),
                            detail: format!("offer at lat {}, lon {}", point.lat, point.lon),
                        });
                    }
                }
            }
        }
        let mut score = 0.0;
        if let Some(query) = query {
            let text = self.text.as_ref().expect("a text query has an index");
            let found = text.scorer(query).and_then(|mut scorer| (scorer.seek(doc) == doc).then(|| scorer.score()));
            score = found.unwrap_or(0.0);
            criteria.push(Criterion {
                parameter: "q".into(),
                passed: found.is_some(),
                detail: if found.is_some() {
                    format!("text matches every word of {:?} (score {score:.3})", query.words.join(" "))
                } else {
                    format!("text does not match every word of {:?}", query.words.join(" "))
                },
            });
        }
        criteria.extend(plan.filter.explain(&self.columns, doc, basis));
        let matched = criteria.iter().all(|criterion| criterion.passed);
        let hit = matched.then(|| plan.hit(doc, distance, score));
        (Explanation { offer_id: &offer.id, matched, rank: None, on_this_page: false, criteria }, hit)
    }
}

fn facet_values<'a>(
    counts: &[u64],
    dictionary: &'a super::columns::Dictionary,
    system: CodeSystem,
) -> Vec<FacetValue<'a>> {
    let mut values: Vec<FacetValue> = counts
        .iter()
        .enumerate()
        .filter(|&(id, &count)| count > 0 && id > 0)
        .filter_map(|(id, &count)| {
            let code = dictionary.code(id as u16)?;
            Some(FacetValue { code: code.as_str(), label: system.label(code), count })
        })
        .collect();
    values.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.code.cmp(b.code)));
    values
}

fn facet_values_unlabelled<'a>(counts: &[u64], dictionary: &'a super::columns::Dictionary) -> Vec<FacetValue<'a>> {
    let mut values: Vec<FacetValue> = counts
        .iter()
        .enumerate()
        .filter(|&(id, &count)| count > 0 && id > 0)
        .filter_map(|(id, &count)| Some(FacetValue { code: dictionary.code(id as u16)?.as_str(), label: None, count }))
        .collect();
    values.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.code.cmp(b.code)));
    values
}

/// One offer of an EG in a crisis answer.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CrisisOffer<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub offer_type: Option<&'a str>,
    pub activity: Option<&'a str>,
    pub activity_label: Option<&'static str>,
    pub crisis_t0: u32,
    pub crisis_t60: u32,
}

/// An EG with crisis capacity.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CrisisEg<'a> {
    pub eg: super::response::EgView<'a>,
    /// Distance from the centre to the nearest of its matching offers, metres.
    pub distance_m: Option<f64>,
    pub crisis_t0: u32,
    pub crisis_t60: u32,
    /// Newest `capacityUpdateDate` among the crisis records counted.
    pub updated_at: Option<super::response::Timestamp>,
    pub offers: Vec<CrisisOffer<'a>>,
}

/// Crisis totals of a département over the whole matching set.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CrisisTotal<'a> {
    pub departement: &'a str,
    pub egs: u64,
    pub offers: u64,
    pub crisis_t0: u64,
    pub crisis_t60: u64,
}

/// The answer of `/v1/crisis`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CrisisResponse<'a> {
    pub snapshot: &'a str,
    pub centre: Option<CentreView<'a>>,
    /// Matching EGs and offers, and their crisis beds, over the whole region.
    pub total_egs: u64,
    pub total_offers: u64,
    pub crisis_t0: u64,
    pub crisis_t60: u64,
    /// The nearest EGs (or, without a centre, by EG id), at most `limit`.
    pub egs: Vec<CrisisEg<'a>>,
    pub by_departement: Vec<CrisisTotal<'a>>,
}

impl Engine {
    /// Answers a crisis-capacity request.
    pub fn crisis(&self, request: &super::request::CrisisRequest) -> Result<CrisisResponse<'_>, ParamError> {
        let now = request.now.unwrap_or_else(crate::util::time::now);
        for code in &request.orsan_level {
            if CodeSystem::NiveauRecoursOrsan.label(code).is_none() {
                return Err(ParamError::new(
                    "orsan_level",
                    format!("unknown code {code:?} (TRE_R284-NiveauRecoursORSAN: 1 or 4)"),
                ));
            }
        }
        let search = SearchRequest {
            centre: request.centre.clone(),
            radius_km: request.radius_km,
            activity: request.activity.clone(),
            offer_type: request.offer_type.clone(),
            min_crisis_t0: request.min_crisis_t0,
            min_crisis_t60: request.min_crisis_t60,
            limit: request.limit.clamp(1, super::request::MAX_LIMIT),
            now: Some(now),
            ..SearchRequest::default()
        };
        let (centre, centre_view) = match &request.centre {
            Some(centre) => {
                let (point, commune) = self.resolve_centre(centre)?;
                (Some(point), Some(CentreView { lat: point.lat, lon: point.lon, commune }))
            }
            None => (None, None),
        };
        let plan = Plan::new(
            self,
            CompiledFilter::new(&search, &self.columns, now)?,
            SortKey::Distance,
            centre,
            request.radius_km.map(|km| km * 1000.0),
            None,
        );
        let dataset = &self.data.dataset;
        struct EgAggregate {
            distance_m: f64,
            crisis_t0: u32,
            crisis_t60: u32,
            docs: Vec<u32>,
        }
        let mut per_eg: rustc_hash::FxHashMap<u32, EgAggregate> = rustc_hash::FxHashMap::default();
        let mut visit = |doc: u32, distance_m: f64| {
            if !plan.filter.matches(&self.columns, doc) {
                return;
            }
            let capacity = self.columns.capacity[doc as usize];
            if capacity.crisis_t0 == 0 && capacity.crisis_t60 == 0 {
                return;
            }
            let offer = &dataset.offers[self.layout.offer_of_doc[doc as usize] as usize];
            let Some(eg_index) = offer.eg else { return };
            if !request.orsan_level.is_empty()
                && !dataset.egs[eg_index as usize]
                    .orsan_level
                    .as_ref()
                    .is_some_and(|level| request.orsan_level.contains(level))
            {
                return;
            }
            let aggregate = per_eg.entry(eg_index).or_insert(EgAggregate {
                distance_m,
                crisis_t0: 0,
                crisis_t60: 0,
                docs: Vec::new(),
            });
            aggregate.distance_m = aggregate.distance_m.min(distance_m);
            aggregate.crisis_t0 += capacity.crisis_t0;
            aggregate.crisis_t60 += capacity.crisis_t60;
            aggregate.docs.push(doc);
        };
        if centre.is_some() {
            let may_match = |position: u32| {
                plan.filter.position_may_match(&self.summaries, position as usize)
                    && (self.summaries.max_crisis_t0[position as usize] > 0
                        || self.summaries.max_crisis_t60[position as usize] > 0)
            };
            plan.for_each_position(plan.radius_m, &may_match, &mut |position, distance| {
                for doc in self.layout.docs_at(position) {
                    visit(doc, distance);
                }
            });
        } else {
            for doc in 0..self.layout.doc_count() {
                visit(doc, 0.0);
            }
        }
        // Totals by département, over every matching offer.
        let mut by_departement: std::collections::BTreeMap<u16, CrisisTotal<'_>> = std::collections::BTreeMap::new();
        let (mut total_offers, mut crisis_t0, mut crisis_t60) = (0u64, 0u64, 0u64);
        for aggregate in per_eg.values() {
            let mut departements_seen: Vec<u16> = Vec::new();
            for &doc in &aggregate.docs {
                let id = self.columns.departement[doc as usize];
                let capacity = self.columns.capacity[doc as usize];
                let total = by_departement.entry(id).or_insert(CrisisTotal {
                    departement: self.columns.dictionaries.departement.code(id).map_or("", |code| code.as_str()),
                    egs: 0,
                    offers: 0,
                    crisis_t0: 0,
                    crisis_t60: 0,
                });
                total.offers += 1;
                total.crisis_t0 += u64::from(capacity.crisis_t0);
                total.crisis_t60 += u64::from(capacity.crisis_t60);
                if !departements_seen.contains(&id) {
                    departements_seen.push(id);
                    total.egs += 1;
                }
            }
            total_offers += aggregate.docs.len() as u64;
            crisis_t0 += u64::from(aggregate.crisis_t0);
            crisis_t60 += u64::from(aggregate.crisis_t60);
        }
        let mut order: Vec<(&u32, &EgAggregate)> = per_eg.iter().collect();
        order.sort_by(|a, b| a.1.distance_m.total_cmp(&b.1.distance_m).then(a.0.cmp(b.0)));
        let egs = order
            .into_iter()
            .take(search.limit)
            .map(|(&eg_index, aggregate)| {
                let mut docs = aggregate.docs.clone();
                docs.sort_by_key(|&doc| self.layout.offer_of_doc[doc as usize]);
                let mut updated_at = None;
                let offers = docs
                    .iter()
                    .map(|&doc| {
                        let offer = &dataset.offers[self.layout.offer_of_doc[doc as usize] as usize];
                        let totals = crate::model::rules::CapacityTotals::of_records(
                            offer
                                .locations
                                .iter()
                                .flat_map(|&location| dataset.locations[location as usize].capacities.iter()),
                        );
                        updated_at = updated_at.max(totals.crisis_t0_updated_at).max(totals.crisis_t60_updated_at);
                        let capacity = self.columns.capacity[doc as usize];
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
                    eg: self.eg_view(eg_index),
                    distance_m: centre.map(|_| aggregate.distance_m),
                    crisis_t0: aggregate.crisis_t0,
                    crisis_t60: aggregate.crisis_t60,
                    updated_at: updated_at.map(super::response::Timestamp),
                    offers,
                }
            })
            .collect();
        Ok(CrisisResponse {
            snapshot: &self.manifest.snapshot_id,
            centre: centre_view,
            total_egs: per_eg.len() as u64,
            total_offers,
            crisis_t0,
            crisis_t60,
            egs,
            by_departement: by_departement.into_values().collect(),
        })
    }
}
