//! The text walk: the posting list of a text query, in doc-id order, seeking from one doc-id
//! range of the region to the next; a nearest text query grows its region in rings.

use tantivy::TERMINATED;
use tantivy::query::Scorer;

use super::{Plan, Strategy};
use crate::engine::collector::Collector;
use crate::engine::request::SortKey;
use crate::engine::text::TextQuery;

/// Radii of the rings a nearest text query grows through, km.
const TEXT_RINGS_KM: [f64; 6] = [2.0, 8.0, 32.0, 128.0, 512.0, 2048.0];

impl Plan<'_> {
    /// Runs a text scorer over the docs of positions sorted by id.
    pub(crate) fn text_over_positions(
        &self,
        scorer: &mut dyn Scorer,
        positions: &[(u32, f64)],
        collector: &mut Collector,
    ) {
        let layout = &self.index.layout;
        let mut doc = scorer.doc();
        for &(position, distance) in positions {
            if doc == TERMINATED {
                return;
            }
            if !self.filter.position_may_match(&self.index.summaries, self.live, position as usize) {
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

    /// Runs a text query. Returns whether the total is exact, and the strategy it took.
    pub(crate) fn text(&self, query: &TextQuery, collector: &mut Collector, need_all: bool) -> (bool, Strategy) {
        let text = self.index.text.as_ref().expect("checked by the caller");
        if self.centre.is_none() && self.bbox.is_none() {
            if let Some(mut scorer) = text.scorer(query) {
                let mut doc = scorer.doc();
                while doc != TERMINATED {
                    self.consider(collector, doc, 0.0, scorer.score());
                    doc = scorer.advance();
                }
            }
            return (true, Strategy::Text);
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
                    return (false, Strategy::TextRings);
                }
            }
        }
        let positions = self.sorted_positions(self.radius_m);
        if let Some(mut scorer) = text.scorer(query) {
            self.text_over_positions(scorer.as_mut(), &positions, collector);
        }
        (true, Strategy::Text)
    }
}
