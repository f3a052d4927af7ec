//! Dense bitsets of a snapshot's docs (one bit per doc, 64 docs a word), so that the exact count
//! of a region's matches is a few ANDs and a popcount per 64 docs instead of a column check per
//! doc ([`crate::engine::plan::count`]).
//!
//! Each filter is given as two sets of docs: the docs that *may* pass (a superset) and the docs
//! that *surely* pass (a subset). A code filter knows its docs exactly (both sets are its
//! bitset). A bound on a number (a daily price, an age) is *range-encoded*: the docs whose value
//! is at most each of a few quantiles of the values ([`Thresholds`]), so a bound between two
//! quantiles surely passes the docs at most the lower one and may pass those at most the upper
//! one. A count is then the popcount of the words every filter surely passes, plus, for the few
//! docs that some filter only may pass, a check of the doc itself.
//!
//! Only codes held by at least one doc in [`DENSE_FRACTION`] get a bitset (at most that many
//! per field, so the memory is bounded whatever the dictionaries hold); a rarer code is counted
//! by walking its posting list instead.

use std::ops::Range;

use super::columns::{Columns, NO_PRICE};
use super::live::{LiveView, bitmap_words};

/// A code gets a dense bitset when at least one doc in this many holds it.
const DENSE_FRACTION: usize = 32;

/// Range-encoded thresholds per number: this many quantiles at most.
const QUANTILES: usize = 32;

/// The words of a bitset of `docs` bits.
pub(crate) type Words = Box<[u64]>;

/// A set of docs given by a number per doc, range-encoded: `at_most[k]` holds the docs whose
/// number is at most `bounds[k]` (ascending). Docs without a number are in none.
#[derive(Debug, Default)]
pub(crate) struct Thresholds {
    bounds: Vec<f64>,
    at_most: Vec<Words>,
}

/// What a bound on a number says of its docs: those surely at most it, those maybe.
pub(crate) enum Split<'a> {
    /// No doc is at most the bound.
    Nothing,
    /// `sure` (none when `None`) are at most the bound, `maybe` may be (`sure ⊆ maybe`).
    Between { sure: Option<&'a [u64]>, maybe: &'a [u64] },
}

impl Thresholds {
    /// The thresholds of `value` over `docs` docs (`None`: the doc has no number, or NaN).
    fn new(docs: usize, value: impl Fn(usize) -> Option<f64>) -> Thresholds {
        let mut values: Vec<f64> = (0..docs).filter_map(&value).filter(|value| !value.is_nan()).collect();
        if values.is_empty() {
            return Thresholds::default();
        }
        values.sort_unstable_by(f64::total_cmp);
        let mut bounds: Vec<f64> =
            (1..=QUANTILES).map(|k| values[(k * values.len()).div_ceil(QUANTILES) - 1]).collect();
        bounds.dedup();
        let mut at_most = vec![vec![0u64; docs.div_ceil(64)]; bounds.len()];
        // Each doc into its own bucket (the first bound at least its number), then the buckets
        // accumulated upwards.
        for doc in 0..docs {
            if let Some(number) = value(doc).filter(|number| !number.is_nan()) {
                let bucket = bounds.partition_point(|&bound| bound < number);
                at_most[bucket][doc >> 6] |= 1 << (doc & 63);
            }
        }
        for k in 1..at_most.len() {
            let (below, from) = at_most.split_at_mut(k);
            for (word, lower) in from[0].iter_mut().zip(&below[k - 1]) {
                *word |= lower;
            }
        }
        Thresholds { bounds, at_most: at_most.into_iter().map(Vec::into_boxed_slice).collect() }
    }

    /// The docs whose number is at most `bound`, surely and maybe.
    pub(crate) fn at_most(&self, bound: f64) -> Split<'_> {
        if self.bounds.is_empty() || bound.is_nan() {
            return Split::Nothing;
        }
        // The largest bound at most `bound`: every doc at most it is at most `bound`.
        let below = self.bounds.partition_point(|&b| b <= bound);
        let sure = below.checked_sub(1).map(|k| &*self.at_most[k]);
        // The smallest bound at least `bound` (the last, holding every doc with a number, when
        // `bound` is above them all): every doc at most `bound` is at most it.
        let above = self.bounds.partition_point(|&b| b < bound).min(self.bounds.len() - 1);
        Split::Between { sure, maybe: &self.at_most[above] }
    }

    fn bytes(&self) -> usize {
        self.at_most.iter().map(|words| words.len() * 8).sum()
    }
}

/// The dense bitsets of a snapshot.
#[derive(Debug, Default)]
pub(crate) struct DenseBits {
    /// Per coded field, in the order of the filter's selections (category, offer type,
    /// activity, care mode, reception), per dictionary id: its docs, when dense.
    pub(crate) codes: [Vec<Option<Words>>; 5],
    /// Docs by GIR policy byte (0, 1, 2).
    pub(crate) gir_policy: [Words; 3],
    /// Docs of EGs habilités à l'aide sociale.
    pub(crate) aide_sociale: Words,
    /// Per dépendance band, the daily totals in cents (docs without a price in none).
    pub(crate) price: [Thresholds; 3],
    /// The youngest age taken, in years.
    pub(crate) age_min: Thresholds,
    /// The oldest age taken, negated (so that "at least `age`" is "at most `-age`").
    pub(crate) age_max_negated: Thresholds,
}

fn words_where(docs: usize, holds: impl Fn(usize) -> bool) -> Words {
    bitmap_words(docs, holds).into_boxed_slice()
}

/// The bitsets of the dense ids of a coded column (`None` for the others).
fn dense_codes(column: &[u16], ids: usize) -> Vec<Option<Words>> {
    let docs = column.len();
    let mut counts = vec![0usize; ids];
    for &id in column {
        counts[id as usize] += 1;
    }
    let mut codes: Vec<Option<Vec<u64>>> = counts
        .iter()
        .map(|&count| (count > 0 && count * DENSE_FRACTION >= docs).then(|| vec![0u64; docs.div_ceil(64)]))
        .collect();
    for (doc, &id) in column.iter().enumerate() {
        if let Some(words) = &mut codes[id as usize] {
            words[doc >> 6] |= 1 << (doc & 63);
        }
    }
    codes.into_iter().map(|words| words.map(Vec::into_boxed_slice)).collect()
}

impl DenseBits {
    pub(crate) fn new(columns: &Columns) -> DenseBits {
        let docs = columns.category.len();
        let ids = |dictionary: &super::columns::Dictionary| dictionary.len();
        let dictionaries = &columns.dictionaries;
        let price = |band: usize| {
            let cents = &columns.daily_total_cents[band];
            Thresholds::new(docs, |doc| (cents[doc] != NO_PRICE).then(|| f64::from(cents[doc])))
        };
        DenseBits {
            codes: [
                dense_codes(&columns.category, ids(&dictionaries.category)),
                dense_codes(&columns.offer_type, ids(&dictionaries.offer_type)),
                dense_codes(&columns.activity, ids(&dictionaries.activity)),
                dense_codes(&columns.care_mode, ids(&dictionaries.care_mode)),
                dense_codes(&columns.reception, ids(&dictionaries.reception)),
            ],
            gir_policy: [0u8, 1, 2].map(|byte| words_where(docs, |doc| columns.gir_policy[doc].min(2) == byte)),
            aide_sociale: words_where(docs, |doc| columns.aide_sociale[doc]),
            price: [price(0), price(1), price(2)],
            age_min: Thresholds::new(docs, |doc| Some(columns.age_min[doc])),
            age_max_negated: Thresholds::new(docs, |doc| Some(-columns.age_max[doc])),
        }
    }

    /// The bytes the bitsets take.
    pub(crate) fn bytes(&self) -> usize {
        let words = |words: &Words| words.len() * 8;
        self.codes.iter().flatten().flatten().map(words).sum::<usize>()
            + self.gir_policy.iter().map(words).sum::<usize>()
            + words(&self.aide_sociale)
            + self.price.iter().map(Thresholds::bytes).sum::<usize>()
            + self.age_min.bytes()
            + self.age_max_negated.bytes()
    }
}

/// A set of docs as a filter term reads it, a word (64 docs) at a time.
pub(crate) enum WordSet<'a> {
    All,
    Empty,
    Slice(&'a [u64]),
    Not(&'a [u64]),
    /// The union of these.
    Union(Vec<&'a [u64]>),
    /// The live view's capacity bits `index` (see [`LiveView::capacity_word`]).
    Live(usize),
    /// The docs with `available ≥ 1` whose available count the profile sees, by
    /// `[medico-social][sensitive]`.
    LiveSeen {
        seen: [[bool; 2]; 2],
        medico_social: &'a [u64],
        sensitive: &'a [u64],
    },
}

impl<'a> WordSet<'a> {
    /// The union of `sets`.
    pub(crate) fn any_of(mut sets: Vec<&'a [u64]>) -> WordSet<'a> {
        match sets.len() {
            0 => WordSet::Empty,
            1 => WordSet::Slice(sets.remove(0)),
            _ => WordSet::Union(sets),
        }
    }

    /// ANDs words `first..first + out.len()` of the set into `out`.
    fn and_into(&self, live: &LiveView, first: usize, out: &mut [u64]) {
        let words = first..first + out.len();
        match self {
            WordSet::All => {}
            WordSet::Empty => out.fill(0),
            WordSet::Slice(set) => out.iter_mut().zip(&set[words]).for_each(|(word, set)| *word &= set),
            WordSet::Not(set) => out.iter_mut().zip(&set[words]).for_each(|(word, set)| *word &= !set),
            WordSet::Union(sets) => {
                for (offset, word) in out.iter_mut().enumerate() {
                    *word &= sets.iter().fold(0, |union, set| union | set[first + offset]);
                }
            }
            WordSet::Live(index) => {
                for (offset, word) in out.iter_mut().enumerate() {
                    *word &= live.capacity_word(*index, first + offset);
                }
            }
            WordSet::LiveSeen { seen, medico_social, sensitive } => {
                for (offset, word) in out.iter_mut().enumerate() {
                    let at = first + offset;
                    let (medico_social, sensitive) = (medico_social[at], sensitive[at]);
                    let mut classes = 0;
                    for (is_medico_social, seen) in seen.iter().enumerate() {
                        for (is_sensitive, &seen) in seen.iter().enumerate() {
                            if seen {
                                let m = if is_medico_social == 1 { medico_social } else { !medico_social };
                                let s = if is_sensitive == 1 { sensitive } else { !sensitive };
                                classes |= m & s;
                            }
                        }
                    }
                    *word &= live.capacity_word(0, at) & classes;
                }
            }
        }
    }
}

/// A filter as sets of docs: each of its criteria gives the docs that may pass it and those
/// that surely pass it (the same set when it is exact). A doc in every `maybe` set and every
/// `sure` set matches; a doc in every `maybe` set but not every `sure` set is checked itself.
#[derive(Default)]
pub(crate) struct DenseTerms<'a> {
    maybe: Vec<WordSet<'a>>,
    sure: Vec<WordSet<'a>>,
}

impl<'a> DenseTerms<'a> {
    /// A criterion passed by exactly `docs`.
    pub(crate) fn exact(&mut self, docs: WordSet<'a>) {
        self.maybe.push(docs);
    }

    /// A criterion passed by at most `maybe` and at least `sure` (`sure ⊆ maybe`).
    pub(crate) fn bounded(&mut self, maybe: WordSet<'a>, sure: WordSet<'a>) {
        if !matches!(maybe, WordSet::All) {
            self.maybe.push(maybe);
        }
        self.sure.push(sure);
    }

    /// The index of the first word of `docs`, then its `maybe` and its `sure` words, in
    /// `scratch` (`None`: no doc).
    fn words_of<'s>(
        &self,
        live: &LiveView,
        docs: &Range<u32>,
        scratch: &'s mut Vec<u64>,
    ) -> Option<(usize, &'s [u64], &'s [u64])> {
        if docs.is_empty() {
            return None;
        }
        let (first, last) = ((docs.start >> 6) as usize, ((docs.end - 1) >> 6) as usize);
        let words = last - first + 1;
        scratch.clear();
        scratch.resize(2 * words, u64::MAX);
        let (maybe, sure) = scratch.split_at_mut(words);
        maybe[0] &= u64::MAX << (docs.start & 63);
        let end = docs.end as usize - (last << 6);
        if end < 64 {
            maybe[words - 1] &= (1u64 << end) - 1;
        }
        for set in &self.maybe {
            set.and_into(live, first, maybe);
        }
        sure.copy_from_slice(maybe);
        for set in &self.sure {
            set.and_into(live, first, sure);
        }
        Some((first, maybe, sure))
    }

    /// The docs of `docs` that match: those every set surely passes, counted by words, plus
    /// those every `maybe` set passes but not every `sure` one for which `check` says yes.
    /// `scratch` holds the run's words (kept by the caller between runs).
    pub(crate) fn count(
        &self,
        live: &LiveView,
        docs: Range<u32>,
        scratch: &mut Vec<u64>,
        check: impl Fn(u32) -> bool,
    ) -> u64 {
        let Some((first, maybe, sure)) = self.words_of(live, &docs, scratch) else { return 0 };
        let mut count = 0u64;
        for (word, (&maybe, &sure)) in (first..).zip(maybe.iter().zip(sure)) {
            count += u64::from(sure.count_ones());
            for_each_bit(word, maybe & !sure, |doc| count += u64::from(check(doc)));
        }
        count
    }

    /// Calls `visit` with every doc of `docs` that matches (as [`DenseTerms::count`] counts
    /// them), in doc order; returns how many.
    pub(crate) fn for_each(
        &self,
        live: &LiveView,
        docs: Range<u32>,
        scratch: &mut Vec<u64>,
        check: impl Fn(u32) -> bool,
        mut visit: impl FnMut(u32),
    ) -> u64 {
        let Some((first, maybe, sure)) = self.words_of(live, &docs, scratch) else { return 0 };
        let mut count = 0u64;
        for (word, (&maybe, &sure)) in (first..).zip(maybe.iter().zip(sure)) {
            for_each_bit(word, maybe, |doc| {
                if sure >> (doc & 63) & 1 == 1 || check(doc) {
                    visit(doc);
                    count += 1;
                }
            });
        }
        count
    }
}

/// Calls `each` with the doc of every bit set in `bits`, word `word` of a bitset, in order.
#[inline]
fn for_each_bit(word: usize, mut bits: u64, mut each: impl FnMut(u32)) {
    while bits != 0 {
        each(((word << 6) as u32) | bits.trailing_zeros());
        bits &= bits - 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::columns::bit as contains;

    #[test]
    fn thresholds_bracket_every_bound() {
        let docs = 1000;
        // numbers 0, 3, 6, ... with every tenth doc without one
        let value = |doc: usize| (!doc.is_multiple_of(10)).then(|| (doc * 3 % 997) as f64);
        let thresholds = Thresholds::new(docs, value);
        assert!(thresholds.bounds.len() <= QUANTILES && thresholds.bounds.is_sorted());
        for bound in [-1.0, 0.0, 2.5, 3.0, 100.0, 1500.5, 2990.0, 2991.0, 5000.0, f64::INFINITY, f64::NAN] {
            let split = thresholds.at_most(bound);
            for doc in 0..docs {
                let passes = value(doc).is_some_and(|number| number <= bound);
                match &split {
                    Split::Nothing => assert!(!passes, "bound {bound}: doc {doc} passes"),
                    Split::Between { sure, maybe } => {
                        if sure.is_some_and(|sure| contains(sure, doc)) {
                            assert!(passes, "bound {bound}: doc {doc} surely passes but does not");
                        }
                        if passes {
                            assert!(contains(maybe, doc), "bound {bound}: doc {doc} passes, not in maybe");
                        }
                    }
                }
            }
        }
        // A bound above every number: exact (every doc with a number surely passes).
        match thresholds.at_most(1e9) {
            Split::Between { sure: Some(sure), maybe } => assert_eq!(sure, maybe),
            _ => panic!("a bound above every number is exact"),
        }
        assert!(matches!(Thresholds::new(10, |_| None).at_most(5.0), Split::Nothing));
    }

    #[test]
    fn counts_every_range_as_its_docs_one_by_one() {
        // Two pseudo-random sets over 1000 docs: one exact term, one bounded (its sure half).
        let docs = 1000usize;
        let set = |seed: u64| {
            let mut state = seed;
            (0..docs.div_ceil(64))
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state
                })
                .collect::<Vec<u64>>()
        };
        let (a, b) = (set(0x9e37_79b9_7f4a_7c15), set(0x2545_f491_4f6c_dd1d));
        let sure_b: Vec<u64> = b.iter().map(|word| word & 0x5555_5555_5555_5555).collect();
        let mut terms = DenseTerms::default();
        terms.exact(WordSet::Slice(&a));
        terms.bounded(WordSet::Slice(&b), WordSet::Slice(&sure_b));
        let live = LiveView::empty_for_tests();
        // The docs only maybe in `b` are checked: say yes to those of even number.
        let check = |doc: u32| doc.is_multiple_of(2);
        let passes =
            |doc: usize| contains(&a, doc) && (contains(&sure_b, doc) || (contains(&b, doc) && check(doc as u32)));
        let mut scratch = Vec::new();
        for (start, end) in [(0, 0), (0, 1), (0, 64), (3, 64), (63, 65), (64, 128), (5, 999), (0, 1000), (130, 131)] {
            let expected = (start..end).filter(|&doc| passes(doc)).count() as u64;
            let counted = terms.count(&live, start as u32..end as u32, &mut scratch, check);
            assert_eq!(counted, expected, "docs {start}..{end}");
            let mut visited = Vec::new();
            let visits = terms.for_each(&live, start as u32..end as u32, &mut scratch, check, |doc| visited.push(doc));
            let expected_docs: Vec<u32> = (start..end).filter(|&doc| passes(doc)).map(|doc| doc as u32).collect();
            assert_eq!((visits, visited), (expected, expected_docs), "docs {start}..{end}");
        }
    }
}
