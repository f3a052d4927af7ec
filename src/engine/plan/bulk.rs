//! The bulk plan: a large bbox or no geography, answered with roaring bitmaps (counts and
//! facets by cardinality, the page from a walk in name order or from the set).

use roaring::RoaringBitmap;

use super::Plan;
use crate::engine::collector::Collector;
use crate::engine::filter::is_closed;
use crate::engine::request::SortKey;

impl Plan<'_> {
    /// Answers a request over a large region without a centre or text (a big bbox, or no
    /// geography at all) with bitmaps: the region's doc ranges, intersected with the code
    /// filters' posting lists, give the count (and facets) by cardinality; the page comes from
    /// a walk in name order (stopping at k) or from the set's docs. Filters that need the
    /// columns (price, age, capacities) are checked doc by doc on the set.
    pub(crate) fn bulk(&self, collector: &mut Collector) {
        let index = self.index;
        let postings = &index.postings;
        let columns = &index.columns;
        let hide = self.filter.hides_sensitive() && postings.not_sensitive.len() < postings.all.len();
        let mut set = match &self.bbox {
            None if hide => postings.not_sensitive.clone(),
            None => postings.all.clone(),
            Some(_) => {
                let mut positions = Vec::new();
                self.for_each_position(None, &|_| true, &mut |position, _| positions.push(position));
                positions.sort_unstable();
                let mut region = RoaringBitmap::new();
                let mut run: Option<std::ops::Range<u32>> = None;
                for position in positions {
                    let docs = index.layout.docs_at(position);
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
        if hide && self.bbox.is_some() {
            set &= &postings.not_sensitive;
        }
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
}
