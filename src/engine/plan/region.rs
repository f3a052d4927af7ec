//! The region enumeration: every position of a radius or a small bbox (summaries first), or
//! every doc when the request has no geography.

use super::Plan;
use crate::engine::collector::Collector;
use crate::engine::request::SortKey;

impl Plan<'_> {
    /// Enumerates the whole region (no text).
    pub(crate) fn enumerate(&self, collector: &mut Collector, need_all: bool) -> bool {
        let layout = &self.index.layout;
        if self.centre.is_none() && self.bbox.is_none() {
            // No geography: every offer, with or without a position.
            for doc in 0..layout.doc_count() {
                self.consider(collector, doc, 0.0, 0.0);
            }
            return true;
        }
        let summaries = &self.index.summaries;
        let mut pruned = false;
        let may_match = |position: u32| self.filter.position_may_match(summaries, self.live, position as usize);
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
    pub(crate) fn best_primary(&self, position: u32) -> u64 {
        let summaries = &self.index.summaries;
        let position = position as usize;
        match self.sort {
            SortKey::Price => u64::from(summaries.min_price[self.filter.price_band][position]),
            SortKey::Available => u64::from(u32::MAX - self.live.position(position as u32).max_available),
            SortKey::Name => u64::from(summaries.min_name_rank[position]),
            SortKey::Distance | SortKey::Relevance => 0,
        }
    }
}
