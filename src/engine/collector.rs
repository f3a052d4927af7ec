//! What a query keeps: the hits (a bounded heap ordered by sort key, distance, offer), the
//! count of matches, the facet counts and, for `explain`, the rank of one offer. The plans
//! ([`super::plan`]) feed it; nothing is allocated per candidate.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// One kept candidate. Ordered best first: sort key, then distance, then offer index.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hit {
    /// The sort key, smaller first (0 for distance order).
    pub(crate) primary: u64,
    pub(crate) distance_m: f64,
    /// Offer index in the dataset.
    pub(crate) offer: u32,
    pub(crate) doc: u32,
    /// BM25 score (0 without text).
    pub(crate) score: f32,
}

impl PartialEq for Hit {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Hit {}

impl PartialOrd for Hit {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Hit {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        self.primary
            .cmp(&other.primary)
            .then_with(|| self.distance_m.total_cmp(&other.distance_m))
            .then_with(|| self.offer.cmp(&other.offer))
    }
}

/// Counts per dictionary id.
#[derive(Debug, Clone)]
pub(crate) struct FacetCounts {
    pub(crate) category: Vec<u64>,
    pub(crate) offer_type: Vec<u64>,
    pub(crate) departement: Vec<u64>,
}

/// The k best hits, the count of matches and, on request, facet counts and a rank.
pub(crate) struct Collector {
    pub(crate) k: usize,
    pub(crate) heap: BinaryHeap<Hit>,
    pub(crate) total: u64,
    pub(crate) facets: Option<FacetCounts>,
    /// For `explain`: the hit whose rank is wanted, and how many hits sort before it.
    pub(crate) rank_target: Option<Hit>,
    pub(crate) better_than_target: u64,
    /// Primary key of the worst kept hit once the heap is full (`u64::MAX` before).
    pub(crate) threshold: u64,
}

impl Collector {
    pub(crate) fn new(k: usize) -> Collector {
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
    pub(crate) fn full(&self) -> bool {
        self.heap.len() >= self.k
    }

    /// The worst kept hit, once the heap is full.
    #[inline]
    pub(crate) fn worst(&self) -> Option<&Hit> {
        if self.full() { self.heap.peek() } else { None }
    }

    /// Counts a match and keeps it if it is among the k best. `primary` is its sort key: a
    /// match whose key is worse than the worst kept one is counted and dropped without
    /// building its hit (the common case once the heap is full).
    #[inline(always)]
    pub(crate) fn offer(&mut self, primary: u64, make_hit: impl FnOnce() -> Hit) {
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
