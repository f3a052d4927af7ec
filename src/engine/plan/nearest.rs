//! The nearest walk: positions nearest-first out of the sphere R-tree, stopping as soon as the
//! next position is farther than the worst kept hit, or switching to an enumeration of the
//! radius when the walk would cover it anyway.

use super::{BOUND_SLACK_M, Plan, Strategy};
use crate::engine::collector::{Collector, FacetCounts};
use crate::util::geo::{chord_for_distance_m, distance_m_for_chord};

/// After how many positions a nearest walk that has not filled its page first weighs
/// switching to an enumeration of its radius (then again at every doubling).
const WALK_CHECKPOINT: usize = 32;

/// Cost of a position in a nearest walk over its cost in an enumeration. Measured once, by
/// timing the sample data's Paris query (30 km, EHPAD, GIR 2, ≤ 90 EUR, a free place) both
/// ways before the switch existed: 86 µs for the walk of the whole radius, 27 µs for the
/// enumeration; 3 is the cautious side (a lower ratio switches later, never wrongly).
const WALK_COST_RATIO: f64 = 3.0;

impl Plan<'_> {
    /// Walks positions nearest-first and stops once the page cannot change. Returns whether
    /// every match was seen (the total is exact), and the strategy it ended with.
    pub(crate) fn walk_nearest(&self, collector: &mut Collector) -> (bool, Strategy) {
        let centre = self.centre.expect("a nearest walk has a centre");
        let layout = &self.index.layout;
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
        for (point, chord_squared) in self.index.sphere.nearest_neighbor_iter_with_distance_2(centre.unit_vector()) {
            if let Some(limit) = radius_chord_squared
                && chord_squared > limit
            {
                return (true, Strategy::NearestWalk);
            }
            walked += 1;
            if walked == checkpoint {
                checkpoint *= 2;
                if let Some(radius_m) = self.radius_m
                    && !collector.full()
                    && self.walk_is_slower_than_enumeration(walked, chord_squared, radius_m, collector)
                {
                    // Start over with an enumeration of the region (the walk found no hit it
                    // would not find again; dropping them, and the facets they counted, keeps
                    // every hit counted once).
                    let mut fresh = Collector::new(collector.k);
                    fresh.facets = collector.facets.take().map(|_| FacetCounts::new(&self.index.columns.dictionaries));
                    fresh.rank_target = collector.rank_target.take();
                    *collector = fresh;
                    return (self.enumerate(collector, false), Strategy::NearestWalkThenRegion);
                }
            }
            if let Some(worst) = collector.worst() {
                if worst.distance_m.to_bits() != worst_m.to_bits() {
                    worst_m = worst.distance_m;
                    worst_chord_squared = chord_squared_of(worst_m);
                }
                if chord_squared > worst_chord_squared {
                    return (false, Strategy::NearestWalk);
                }
            }
            let position = point.data;
            if !self.filter.position_may_match(&self.index.summaries, self.live, position as usize) {
                continue;
            }
            let Some(distance) = self.place(position) else {
                continue;
            };
            for doc in layout.docs_at(position) {
                self.consider(collector, doc, distance, 0.0);
            }
        }
        (true, Strategy::NearestWalk)
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
    pub(crate) fn walk_is_slower_than_enumeration(
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
}
