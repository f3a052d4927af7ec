//! Compiled filters: what a request asks of an offer's columns, checked in a few instructions.

use roaring::RoaringBitmap;

use super::access::Access;
use super::columns::{Columns, Dictionary, NEVER, NO_PRICE, bit, gir_policy_of_byte};
use super::dense::{DenseBits, DenseTerms, Split, WordSet};
use super::live::LiveView;
use super::postings::Postings;
use super::request::{ParamError, SearchRequest};
use super::response::Criterion;
use super::summary::PositionSummaries;
use crate::model::Code;
use crate::model::labels::CodeSystem;
use crate::model::rules::{EgPrices, PriceBasis};

/// A set of dictionary ids, as bits.
#[derive(Debug, Clone, Default)]
pub(crate) struct IdSet {
    words: Vec<u64>,
}

impl IdSet {
    fn with_capacity(len: usize) -> IdSet {
        IdSet { words: vec![0; len.div_ceil(64).max(1)] }
    }

    fn insert(&mut self, id: u16) {
        self.words[id as usize >> 6] |= 1 << (id & 63);
    }

    /// Whether the id is in the set.
    #[inline]
    pub(crate) fn contains(&self, id: u16) -> bool {
        self.words.get(id as usize >> 6).is_some_and(|word| word >> (id & 63) & 1 == 1)
    }
}

/// The posting lists of the coded fields, in the order of `CompiledFilter::selected`.
fn coded_postings(postings: &Postings) -> [&Vec<RoaringBitmap>; 5] {
    [&postings.category, &postings.offer_type, &postings.activity, &postings.care_mode, &postings.reception]
}

/// The position-summary bits of a code list (`u64::MAX` when the list is empty).
fn summary_bits(codes: &[Code], dictionary: &Dictionary) -> u64 {
    if codes.is_empty() {
        return u64::MAX;
    }
    codes.iter().filter_map(|code| dictionary.id(code)).fold(0, |bits, id| bits | 1 << (id & 63))
}

/// The dictionary ids a code list selects (see [`compile_codes`]).
fn selected_ids(codes: &[Code], dictionary: &Dictionary) -> Option<Vec<u16>> {
    (!codes.is_empty()).then(|| codes.iter().filter_map(|code| dictionary.id(code)).collect())
}

/// Compiles a list of codes against a dictionary. A code that is neither in the snapshot nor
/// in the code system's table is an error (probably a typo); a known code absent from the
/// snapshot just matches nothing.
fn compile_codes(
    parameter: &str,
    codes: &[Code],
    dictionary: &Dictionary,
    system: CodeSystem,
) -> Result<Option<IdSet>, ParamError> {
    if codes.is_empty() {
        return Ok(None);
    }
    let mut set = IdSet::with_capacity(dictionary.len());
    for code in codes {
        match dictionary.id(code) {
            Some(id) => set.insert(id),
            None if system.label(code).is_some() => {}
            None => {
                return Err(ParamError::new(parameter, format!("unknown code {code:?} ({})", system.nos_id())));
            }
        }
    }
    Ok(Some(set))
}

/// Everything a request asks of an offer, besides geography and text.
#[derive(Debug, Clone)]
pub(crate) struct CompiledFilter {
    pub(crate) category: Option<IdSet>,
    pub(crate) offer_type: Option<IdSet>,
    pub(crate) activity: Option<IdSet>,
    pub(crate) care_mode: Option<IdSet>,
    pub(crate) reception: Option<IdSet>,
    pub(crate) age: Option<f64>,
    pub(crate) gir: Option<u8>,
    pub(crate) max_price_cents: Option<u32>,
    /// Which dépendance band prices are read from (0, 1, 2 for `01`, `02`, `03`).
    pub(crate) price_band: usize,
    pub(crate) min_available: u32,
    pub(crate) min_crisis_t0: u32,
    pub(crate) min_crisis_t60: u32,
    pub(crate) aide_sociale: Option<bool>,
    /// Closures are evaluated at this instant (Unix seconds).
    pub(crate) now: i64,
    /// What the caller's profile sees.
    pub(crate) access: Access,
    /// Whether docs of unités sensibles are left out (profiles other than 1 and 4).
    hide_sensitive: bool,
    /// Whether `available_seen` masks anything (else the count is read as it is).
    available_masked: bool,
    /// Whether it is seen, by [medico-social][sensitive].
    available_seen: [[bool; 2]; 2],
    /// Whether any capacity minimum is above 0 (otherwise the capacity column is not read).
    check_capacity: bool,
    /// The ids selected per coded field (category, offer type, activity, care mode, reception),
    /// for [`CompiledFilter::mask`].
    selected: [Option<Vec<u16>>; 5],
    /// Position-summary bits of the selected catégories and types d'offre (`u64::MAX` when
    /// not filtered), and of the accepted GIR policies and aide-sociale values.
    category_bits: u64,
    offer_type_bits: u64,
    gir_policy_bits: u8,
    aide_sociale_bits: u8,
}

impl CompiledFilter {
    /// Compiles the filters of a request.
    pub(crate) fn new(request: &SearchRequest, columns: &Columns, now: i64) -> Result<CompiledFilter, ParamError> {
        let dictionaries = &columns.dictionaries;
        let access = Access::new(request.profiles);
        access.check_search(request)?;
        let available_seen = [false, true]
            .map(|medico_social| [false, true].map(|sensitive| access.capacity(medico_social, sensitive).operational));
        Ok(CompiledFilter {
            access,
            hide_sensitive: access.hide_sensitive,
            available_masked: available_seen.iter().flatten().any(|seen| !seen),
            available_seen,
            category: compile_codes(
                "category",
                &request.category,
                &dictionaries.category,
                CodeSystem::CategorieEtablissement,
            )?,
            offer_type: compile_codes(
                "offer_type",
                &request.offer_type,
                &dictionaries.offer_type,
                CodeSystem::CategorieOrganisation,
            )?,
            activity: compile_codes(
                "activity",
                &request.activity,
                &dictionaries.activity,
                CodeSystem::ActiviteOperationnelle,
            )?,
            care_mode: compile_codes(
                "care_mode",
                &request.care_mode,
                &dictionaries.care_mode,
                CodeSystem::ModePriseEnCharge,
            )?,
            reception: compile_codes(
                "reception",
                &request.reception,
                &dictionaries.reception,
                CodeSystem::TemporaliteAccueil,
            )?,
            age: request.age,
            gir: request.gir,
            max_price_cents: request.max_price_cents.map(|cents| cents.clamp(0, i64::from(NO_PRICE - 1)) as u32),
            price_band: EgPrices::band_index(request.gir, request.price_basis),
            min_available: request.min_available.unwrap_or(0),
            min_crisis_t0: request.min_crisis_t0.unwrap_or(0),
            min_crisis_t60: request.min_crisis_t60.unwrap_or(0),
            aide_sociale: request.aide_sociale,
            now,
            selected: [
                selected_ids(&request.category, &dictionaries.category),
                selected_ids(&request.offer_type, &dictionaries.offer_type),
                selected_ids(&request.activity, &dictionaries.activity),
                selected_ids(&request.care_mode, &dictionaries.care_mode),
                selected_ids(&request.reception, &dictionaries.reception),
            ],
            category_bits: summary_bits(&request.category, &dictionaries.category),
            offer_type_bits: summary_bits(&request.offer_type, &dictionaries.offer_type),
            gir_policy_bits: match request.gir {
                Some(gir) => (0..3u8)
                    .filter(|&byte| gir_policy_of_byte(byte).accepts(gir))
                    .fold(0, |bits, byte| bits | 1 << byte),
                None => u8::MAX,
            },
            aide_sociale_bits: match request.aide_sociale {
                Some(aide_sociale) => 1 << u8::from(aide_sociale),
                None => u8::MAX,
            },
            check_capacity: request.min_available.unwrap_or(0) > 0
                || request.min_crisis_t0.unwrap_or(0) > 0
                || request.min_crisis_t60.unwrap_or(0) > 0,
        })
    }

    /// Whether doc `doc` passes every filter. Cheap checks first.
    #[inline(always)]
    pub(crate) fn matches(&self, columns: &Columns, live: &LiveView, doc: u32) -> bool {
        let doc = doc as usize;
        if self.hide_sensitive && bit(&columns.sensitive, doc) {
            return false;
        }
        if let Some(set) = &self.category
            && !set.contains(columns.category[doc])
        {
            return false;
        }
        if let Some(set) = &self.offer_type
            && !set.contains(columns.offer_type[doc])
        {
            return false;
        }
        if let Some(set) = &self.activity
            && !set.contains(columns.activity[doc])
        {
            return false;
        }
        if let Some(set) = &self.care_mode
            && !set.contains(columns.care_mode[doc])
        {
            return false;
        }
        if let Some(set) = &self.reception
            && !set.contains(columns.reception[doc])
        {
            return false;
        }
        if let Some(max) = self.max_price_cents
            && columns.daily_total_cents[self.price_band][doc] > max
        {
            return false;
        }
        if self.check_capacity {
            let capacity = live.counts(doc as u32);
            let available = self.available(columns, doc, capacity.available);
            if available < self.min_available
                || capacity.crisis_t0 < self.min_crisis_t0
                || capacity.crisis_t60 < self.min_crisis_t60
            {
                return false;
            }
        }
        if let Some(age) = self.age
            && !(columns.age_min[doc] <= age && age <= columns.age_max[doc])
        {
            return false;
        }
        if let Some(gir) = self.gir
            && !gir_policy_of_byte(columns.gir_policy[doc]).accepts(gir)
        {
            return false;
        }
        if let Some(aide_sociale) = self.aide_sociale
            && columns.aide_sociale[doc] != aide_sociale
        {
            return false;
        }
        !is_closed(columns, doc, self.now)
    }

    /// Whether the docs of unités sensibles are left out (the bulk plan removes them from its
    /// bitmaps; the other walks test [`Columns`]' bit per doc in [`Self::matches`]).
    pub(crate) fn hides_sensitive(&self) -> bool {
        self.hide_sensitive
    }

    /// The available count of a doc as the caller's profile sees it (0 where it is masked).
    #[inline(always)]
    pub(crate) fn available(&self, columns: &Columns, doc: usize, available: u32) -> u32 {
        if self.available_masked
            && !self.available_seen[usize::from(bit(&columns.medico_social, doc))]
                [usize::from(bit(&columns.sensitive, doc))]
        {
            0
        } else {
            available
        }
    }

    /// The docs passing the code, GIR and aide-sociale filters, as a bitmap; `None` when none
    /// of these is set (every doc passes them).
    pub(crate) fn mask(&self, postings: &Postings) -> Option<RoaringBitmap> {
        let mut mask: Option<RoaringBitmap> = None;
        let mut intersect = |set: RoaringBitmap| {
            mask = Some(match mask.take() {
                Some(mask) => mask & set,
                None => set,
            });
        };
        for (selected, bitmaps) in self.selected.iter().zip(coded_postings(postings)) {
            if let Some(ids) = selected {
                let mut union = RoaringBitmap::new();
                for &id in ids {
                    union |= &bitmaps[id as usize];
                }
                intersect(union);
            }
        }
        if let Some(gir) = self.gir {
            let mut union = RoaringBitmap::new();
            for (byte, bitmap) in postings.gir_policy.iter().enumerate() {
                if gir_policy_of_byte(byte as u8).accepts(gir) {
                    union |= bitmap;
                }
            }
            intersect(union);
        }
        if let Some(aide_sociale) = self.aide_sociale {
            intersect(if aide_sociale {
                postings.aide_sociale.clone()
            } else {
                &postings.all - &postings.aide_sociale
            });
        }
        mask
    }

    /// Whether some doc at `position` may pass the filter, from the position's summary (a
    /// `false` is certain, a `true` only possible).
    #[inline(always)]
    pub(crate) fn position_may_match(&self, summaries: &PositionSummaries, live: &LiveView, position: usize) -> bool {
        summaries.category_bits[position] & self.category_bits != 0
            && summaries.offer_type_bits[position] & self.offer_type_bits != 0
            && summaries.gir_policy_bits[position] & self.gir_policy_bits != 0
            && summaries.aide_sociale_bits[position] & self.aide_sociale_bits != 0
            && self.max_price_cents.is_none_or(|max| summaries.min_price[self.price_band][position] <= max)
            && (!self.check_capacity || {
                let maxima = live.position(position as u32);
                maxima.max_available >= self.min_available
                    && maxima.max_crisis_t0 >= self.min_crisis_t0
                    && maxima.max_crisis_t60 >= self.min_crisis_t60
            })
    }

    /// Whether only the sensitive mask and closures are checked doc by doc: no code, price,
    /// capacity, age, GIR or aide-sociale filter (every doc of a position with no sensitive
    /// doc and none that may close then matches).
    pub(crate) fn only_masks(&self) -> bool {
        !self.check_capacity && self.only_masks_but_capacity()
    }

    /// [`Self::only_masks`] but for the capacity minima.
    fn only_masks_but_capacity(&self) -> bool {
        self.category.is_none()
            && self.offer_type.is_none()
            && self.activity.is_none()
            && self.care_mode.is_none()
            && self.reception.is_none()
            && self.max_price_cents.is_none()
            && self.age.is_none()
            && self.gir.is_none()
            && self.aide_sociale.is_none()
    }

    /// The docs passing the code, GIR and aide-sociale filters, borrowed from the postings when
    /// one code of one field is all there is (an `EHPAD` search clones nothing); `None` when none
    /// of these is set.
    pub(crate) fn mask_borrowed<'p>(&self, postings: &'p Postings) -> Option<std::borrow::Cow<'p, RoaringBitmap>> {
        let mut single = None;
        let mut criteria = usize::from(self.gir.is_some()) + usize::from(self.aide_sociale.is_some());
        for (selected, bitmaps) in self.selected.iter().zip(coded_postings(postings)) {
            if let Some(ids) = selected {
                criteria += 1;
                if let [id] = ids.as_slice() {
                    single = Some(&bitmaps[*id as usize]);
                }
            }
        }
        match (criteria, single) {
            (0, _) => None,
            (1, Some(bitmap)) => Some(std::borrow::Cow::Borrowed(bitmap)),
            _ => self.mask(postings).map(std::borrow::Cow::Owned),
        }
    }

    /// When the only doc-level filters are capacity minima of at most 1 (some free place, some
    /// crisis bed): which capacity patterns ([`crate::engine::live::CapacityPatterns`]) of a
    /// block's doc open at the query's instant match, `[medico-social][sensitive][pattern]`.
    pub(crate) fn capacity_patterns(&self) -> Option<[[[bool; 8]; 2]; 2]> {
        let minima = [self.min_available, self.min_crisis_t0, self.min_crisis_t60];
        if !self.check_capacity || !self.only_masks_but_capacity() || minima.iter().any(|&minimum| minimum > 1) {
            return None;
        }
        let required = usize::from(self.min_available > 0)
            | usize::from(self.min_crisis_t0 > 0) << 1
            | usize::from(self.min_crisis_t60 > 0) << 2;
        Some([0, 1].map(|medico_social: usize| {
            [0, 1].map(|sensitive: usize| {
                let seen = self.available_seen[medico_social][sensitive];
                let hidden = self.hide_sensitive && sensitive == 1;
                std::array::from_fn(|pattern| {
                    let pattern = if seen { pattern } else { pattern & !1 };
                    !hidden && pattern & required == required
                })
            })
        }))
    }

    /// The filter as terms over dense bitsets ([`DenseTerms`]); `None` when a selected code
    /// has no dense bitset (a rare code: its posting list leads instead).
    pub(crate) fn dense_terms<'a>(&self, dense: &'a DenseBits, columns: &'a Columns) -> Option<DenseTerms<'a>> {
        let mut terms = DenseTerms::default();
        for (selected, field) in self.selected.iter().zip(&dense.codes) {
            let Some(ids) = selected else { continue };
            let mut union = Vec::with_capacity(ids.len());
            for &id in ids {
                union.push(field.get(id as usize)?.as_deref()?);
            }
            terms.exact(WordSet::any_of(union));
        }
        if self.hide_sensitive {
            terms.exact(WordSet::Not(&columns.sensitive));
        }
        if self.gir.is_some() {
            let accepted = (0..3).filter(|&byte| self.gir_policy_bits >> byte & 1 == 1);
            terms.exact(WordSet::any_of(accepted.map(|byte| &*dense.gir_policy[byte]).collect()));
        }
        match self.aide_sociale {
            Some(true) => terms.exact(WordSet::Slice(&dense.aide_sociale)),
            Some(false) => terms.exact(WordSet::Not(&dense.aide_sociale)),
            None => {}
        }
        let mut bounded = |split: Split<'a>| match split {
            Split::Nothing => terms.exact(WordSet::Empty),
            Split::Between { sure, maybe } => {
                terms.bounded(WordSet::Slice(maybe), sure.map_or(WordSet::Empty, WordSet::Slice));
            }
        };
        if let Some(max) = self.max_price_cents {
            bounded(dense.price[self.price_band].at_most(f64::from(max)));
        }
        if let Some(age) = self.age {
            bounded(dense.age_min.at_most(age));
            bounded(dense.age_max_negated.at_most(-age));
        }
        for (index, minimum) in [self.min_available, self.min_crisis_t0, self.min_crisis_t60].into_iter().enumerate() {
            if minimum == 0 {
                continue;
            }
            let docs = if index == 0 && self.available_masked {
                WordSet::LiveSeen {
                    seen: self.available_seen,
                    medico_social: &columns.medico_social,
                    sensitive: &columns.sensitive,
                }
            } else {
                WordSet::Live(index)
            };
            if minimum == 1 {
                terms.exact(docs);
            } else {
                terms.bounded(docs, WordSet::Empty);
            }
        }
        terms.bounded(WordSet::All, WordSet::Not(&columns.may_close));
        Some(terms)
    }

    /// The docs of the first coded field whose selection has a code without a dense bitset
    /// (a rare code: few docs to check one by one); every doc when there is none.
    pub(crate) fn rare_lead<'p>(
        &self,
        postings: &'p Postings,
        dense: &DenseBits,
    ) -> std::borrow::Cow<'p, RoaringBitmap> {
        for ((selected, bitmaps), field) in self.selected.iter().zip(coded_postings(postings)).zip(&dense.codes) {
            let Some(ids) = selected else { continue };
            if ids.iter().all(|&id| field.get(id as usize).is_some_and(Option::is_some)) {
                continue;
            }
            return match ids.as_slice() {
                [id] => std::borrow::Cow::Borrowed(&bitmaps[*id as usize]),
                _ => std::borrow::Cow::Owned(
                    ids.iter().fold(RoaringBitmap::new(), |union, &id| union | &bitmaps[id as usize]),
                ),
            };
        }
        std::borrow::Cow::Borrowed(&postings.all)
    }

    /// Whether some filter must be checked doc by doc (price, capacities, age).
    pub(crate) fn needs_per_doc(&self) -> bool {
        self.max_price_cents.is_some() || self.check_capacity || self.age.is_some()
    }

    /// Every criterion of the filter for one doc, passed or not, for `explain`.
    pub(crate) fn explain(&self, columns: &Columns, live: &LiveView, doc: u32, basis: PriceBasis) -> Vec<Criterion> {
        let doc = doc as usize;
        let dictionaries = &columns.dictionaries;
        let mut criteria = Vec::new();
        let mut coded = |parameter: &str, set: &Option<IdSet>, value: u16, dictionary: &Dictionary| {
            if let Some(set) = set {
                let code = dictionary.code(value).map(|code| code.to_string()).unwrap_or_else(|| "none".into());
                criteria.push(Criterion {
                    parameter: parameter.into(),
                    passed: set.contains(value),
                    detail: format!("offer has {code}"),
                });
            }
        };
        coded("category", &self.category, columns.category[doc], &dictionaries.category);
        coded("offer_type", &self.offer_type, columns.offer_type[doc], &dictionaries.offer_type);
        coded("activity", &self.activity, columns.activity[doc], &dictionaries.activity);
        coded("care_mode", &self.care_mode, columns.care_mode[doc], &dictionaries.care_mode);
        coded("reception", &self.reception, columns.reception[doc], &dictionaries.reception);
        if let Some(max) = self.max_price_cents {
            let price = columns.daily_total_cents[self.price_band][doc];
            criteria.push(Criterion {
                parameter: "max_price".into(),
                passed: price <= max,
                detail: if price == NO_PRICE {
                    format!("no daily price known for band 0{} ({basis:?})", self.price_band + 1)
                } else {
                    format!(
                        "daily price {:.2} EUR against at most {:.2} EUR",
                        f64::from(price) / 100.0,
                        f64::from(max) / 100.0
                    )
                },
            });
        }
        let capacity = live.counts(doc as u32);
        let available = self.available(columns, doc, capacity.available);
        for (parameter, have, need) in [
            ("min_available", available, self.min_available),
            ("min_crisis_t0", capacity.crisis_t0, self.min_crisis_t0),
            ("min_crisis_t60", capacity.crisis_t60, self.min_crisis_t60),
        ] {
            if need > 0 {
                criteria.push(Criterion {
                    parameter: parameter.into(),
                    passed: have >= need,
                    detail: format!("offer has {have}, at least {need} asked"),
                });
            }
        }
        if let Some(age) = self.age {
            let (min, max) = (columns.age_min[doc], columns.age_max[doc]);
            criteria.push(Criterion {
                parameter: "age".into(),
                passed: min <= age && age <= max,
                detail: format!("offer takes ages {min} to {max} years, {age} asked"),
            });
        }
        if let Some(gir) = self.gir {
            let policy = gir_policy_of_byte(columns.gir_policy[doc]);
            criteria.push(Criterion {
                parameter: "gir".into(),
                passed: policy.accepts(gir),
                detail: format!("offer's GIR policy is {policy:?}, GIR {gir} asked"),
            });
        }
        if let Some(aide_sociale) = self.aide_sociale {
            criteria.push(Criterion {
                parameter: "aide_sociale".into(),
                passed: columns.aide_sociale[doc] == aide_sociale,
                detail: format!("EG habilité aide sociale: {}", columns.aide_sociale[doc]),
            });
        }
        let closed = is_closed(columns, doc, self.now);
        criteria.push(Criterion {
            parameter: "closed".into(),
            passed: !closed,
            detail: if closed {
                "the offer or its EG is closed at the time of the query".into()
            } else {
                "open".into()
            },
        });
        criteria
    }
}

/// The instants at which a doc's closure may change ([`is_closed`] is constant between two of
/// them): its own closing and reopening dates, its EG's closing date.
pub(crate) fn closure_instants(columns: &Columns, doc: usize) -> impl Iterator<Item = i64> {
    let from = columns.closed_from[doc];
    let own = (from != NEVER).then_some([from, columns.reopens_at[doc]]);
    own.into_iter().flatten().chain([columns.eg_closed_at[doc]]).filter(|&instant| instant != NEVER)
}

/// Whether a doc is closed at `now` (see `model::rules::offer_closed_at`).
#[inline(always)]
pub(crate) fn is_closed(columns: &Columns, doc: usize, now: i64) -> bool {
    if columns.may_close[doc >> 6] >> (doc & 63) & 1 == 0 {
        return false;
    }
    let from = columns.closed_from[doc];
    (from != NEVER && from <= now && now < columns.reopens_at[doc]) || columns.eg_closed_at[doc] <= now
}
