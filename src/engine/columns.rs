//! Dense per-offer columns, indexed by doc id, holding exactly what filters and sort keys read.
//!
//! Codes become `u16` ids in small per-snapshot [`Dictionary`]s (id 0 = no code), so a code
//! filter is one bit test. Prices are precomputed per GIR band, capacities summed over the
//! offer's locations, names ranked, so the hot loop reads a few cache lines per offer and
//! allocates nothing.

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::layout::{Layout, departement_of_commune, offer_commune};
use crate::model::Code;
use crate::model::rules::{CapacityTotals, EgPrices, GirPolicy};
use crate::snapshot::SnapshotData;
use crate::util::fold::fold;

/// Sentinel for "no price".
pub(crate) const NO_PRICE: u32 = u32::MAX;
/// Sentinel for "no date" (never closed, never reopens).
pub(crate) const NEVER: i64 = i64::MAX;

/// Codes of one field ↔ small ids. Id 0 stands for "no code". Persisted as its code list.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(from = "Vec<Code>", into = "Vec<Code>")]
pub(crate) struct Dictionary {
    codes: Vec<Code>,
    ids: FxHashMap<Code, u16>,
}

impl PartialEq for Dictionary {
    fn eq(&self, other: &Self) -> bool {
        self.codes == other.codes
    }
}

impl From<Vec<Code>> for Dictionary {
    fn from(codes: Vec<Code>) -> Dictionary {
        let ids = codes.iter().enumerate().skip(1).map(|(id, code)| (code.clone(), id as u16)).collect();
        Dictionary { codes, ids }
    }
}

impl From<Dictionary> for Vec<Code> {
    fn from(dictionary: Dictionary) -> Vec<Code> {
        dictionary.codes
    }
}

impl Dictionary {
    fn new() -> Dictionary {
        Dictionary { codes: vec![Code::default()], ids: FxHashMap::default() }
    }

    fn intern(&mut self, code: Option<&str>) -> u16 {
        let Some(code) = code else { return 0 };
        if let Some(&id) = self.ids.get(code) {
            return id;
        }
        let id = u16::try_from(self.codes.len()).expect("fewer than 65,536 distinct codes in a field");
        self.codes.push(Code::from(code));
        self.ids.insert(Code::from(code), id);
        id
    }

    /// The id of a code present in the snapshot.
    pub(crate) fn id(&self, code: &str) -> Option<u16> {
        self.ids.get(code).copied()
    }

    /// The code of an id (`None` for 0).
    pub(crate) fn code(&self, id: u16) -> Option<&Code> {
        (id != 0).then(|| &self.codes[id as usize])
    }

    /// Number of ids, 0 included.
    pub(crate) fn len(&self) -> usize {
        self.codes.len()
    }
}

/// The dictionaries of the coded columns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Dictionaries {
    pub(crate) category: Dictionary,
    pub(crate) offer_type: Dictionary,
    pub(crate) activity: Dictionary,
    pub(crate) care_mode: Dictionary,
    pub(crate) reception: Dictionary,
    pub(crate) departement: Dictionary,
}

/// The capacity counts the filters and sorts read (see `model::rules::CapacityTotals`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CapacityCounts {
    pub(crate) installed: u32,
    pub(crate) available: u32,
    pub(crate) crisis_t0: u32,
    pub(crate) crisis_t60: u32,
}

impl From<&CapacityTotals> for CapacityCounts {
    fn from(totals: &CapacityTotals) -> Self {
        CapacityCounts {
            installed: totals.installed,
            available: totals.available,
            crisis_t0: totals.crisis_t0,
            crisis_t60: totals.crisis_t60,
        }
    }
}

/// The rank of each string in sorted order (equal strings share a rank).
fn rank_strings(strings: Vec<String>) -> Vec<u32> {
    let mut order: Vec<u32> = (0..strings.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| strings[a as usize].cmp(&strings[b as usize]));
    let mut ranks = vec![0u32; strings.len()];
    let mut rank = 0;
    for (position, &index) in order.iter().enumerate() {
        if position > 0 && strings[order[position - 1] as usize] != strings[index as usize] {
            rank = position as u32;
        }
        ranks[index as usize] = rank;
    }
    ranks
}

/// GIR policy as a byte: 0 not applicable, 1 dependent, 2 autonomous.
fn gir_policy_byte(policy: GirPolicy) -> u8 {
    match policy {
        GirPolicy::NotApplicable => 0,
        GirPolicy::Dependent => 1,
        GirPolicy::Autonomous => 2,
    }
}

/// The policy of a byte from [`gir_policy_byte`].
pub(crate) fn gir_policy_of_byte(byte: u8) -> GirPolicy {
    match byte {
        1 => GirPolicy::Dependent,
        2 => GirPolicy::Autonomous,
        _ => GirPolicy::NotApplicable,
    }
}

/// The columns, one entry per doc.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Columns {
    pub(crate) dictionaries: Dictionaries,
    pub(crate) category: Vec<u16>,
    pub(crate) offer_type: Vec<u16>,
    pub(crate) activity: Vec<u16>,
    pub(crate) care_mode: Vec<u16>,
    pub(crate) reception: Vec<u16>,
    pub(crate) departement: Vec<u16>,
    /// Age bounds in years; open bounds are -inf / +inf.
    pub(crate) age_min: Vec<f64>,
    pub(crate) age_max: Vec<f64>,
    pub(crate) gir_policy: Vec<u8>,
    pub(crate) aide_sociale: Vec<bool>,
    /// Bit set of the docs that have any closing date (offer or EG): only those need the
    /// dates checked, the others are open whatever the time.
    pub(crate) may_close: Vec<u64>,
    /// Offer closed from / reopening at, EG closed at (Unix seconds; [`NEVER`] when none).
    pub(crate) closed_from: Vec<i64>,
    pub(crate) reopens_at: Vec<i64>,
    pub(crate) eg_closed_at: Vec<i64>,
    /// Daily total in cents for dépendance band `01`, `02`, `03` ([`NO_PRICE`] when unknown).
    pub(crate) daily_total_cents: [Vec<u32>; 3],
    /// Capacity counts (the update dates are read from the dataset when rendering).
    pub(crate) capacity: Vec<CapacityCounts>,
    /// Rank of (folded EG name, folded offer name, offer index) among all offers.
    pub(crate) name_rank: Vec<u32>,
    /// EG prices, per EG (not per doc).
    pub(crate) eg_prices: Vec<EgPrices>,
    /// Bit set of the docs of unités sensibles (`model::access`). Not persisted: derived at
    /// load by [`Columns::fill_access`].
    #[serde(skip)]
    pub(crate) sensitive: Vec<u64>,
    /// Bit set of the docs of medico-social offers (champ d'activité `04`), whose capacities
    /// profile 3 sees. Not persisted, like `sensitive`.
    #[serde(skip)]
    pub(crate) medico_social: Vec<u64>,
}

/// Whether bit `doc` of a doc bit set is set.
#[inline(always)]
pub(crate) fn bit(set: &[u64], doc: usize) -> bool {
    set[doc >> 6] >> (doc & 63) & 1 == 1
}

impl Columns {
    /// Derives the access bit sets (sensitive units, medico-social offers) from the dataset.
    pub(crate) fn fill_access(&mut self, data: &SnapshotData, layout: &Layout) {
        let docs = layout.offer_of_doc.len();
        self.sensitive = vec![0u64; docs.div_ceil(64)];
        self.medico_social = vec![0u64; docs.div_ceil(64)];
        for (doc, &offer_index) in layout.offer_of_doc.iter().enumerate() {
            let offer = &data.dataset.offers[offer_index as usize];
            if offer.sensitive_unit {
                self.sensitive[doc >> 6] |= 1 << (doc & 63);
            }
            if offer.activity_field.as_deref() == Some(crate::model::access::MEDICO_SOCIAL_ACTIVITY_FIELD) {
                self.medico_social[doc >> 6] |= 1 << (doc & 63);
            }
        }
    }

    /// Builds the columns of a snapshot in the doc order of `layout`.
    pub fn new(data: &SnapshotData, layout: &Layout) -> Columns {
        let dataset = &data.dataset;
        let docs = layout.offer_of_doc.len();
        let eg_prices: Vec<EgPrices> = dataset.egs.iter().map(|eg| EgPrices::of_tariffs(&eg.tariffs)).collect();
        let mut dictionaries = Dictionaries {
            category: Dictionary::new(),
            offer_type: Dictionary::new(),
            activity: Dictionary::new(),
            care_mode: Dictionary::new(),
            reception: Dictionary::new(),
            departement: Dictionary::new(),
        };
        let mut columns = Columns {
            category: Vec::with_capacity(docs),
            offer_type: Vec::with_capacity(docs),
            activity: Vec::with_capacity(docs),
            care_mode: Vec::with_capacity(docs),
            reception: Vec::with_capacity(docs),
            departement: Vec::with_capacity(docs),
            age_min: Vec::with_capacity(docs),
            age_max: Vec::with_capacity(docs),
            gir_policy: Vec::with_capacity(docs),
            aide_sociale: Vec::with_capacity(docs),
            closed_from: Vec::with_capacity(docs),
            reopens_at: Vec::with_capacity(docs),
            eg_closed_at: Vec::with_capacity(docs),
            daily_total_cents: [Vec::with_capacity(docs), Vec::with_capacity(docs), Vec::with_capacity(docs)],
            capacity: Vec::with_capacity(docs),
            name_rank: vec![0; docs],
            ..Columns::default()
        };
        // The per-doc columns and the name ranks are independent: build them on both cores.
        let ((), name_ranks) = rayon::join(
            || {
                for &offer_index in &layout.offer_of_doc {
                    let offer = &dataset.offers[offer_index as usize];
                    let eg = offer.eg.map(|eg| &dataset.egs[eg as usize]);
                    columns.category.push(dictionaries.category.intern(eg.and_then(|eg| eg.category.as_deref())));
                    columns.offer_type.push(dictionaries.offer_type.intern(offer.offer_type.as_deref()));
                    columns.activity.push(dictionaries.activity.intern(offer.activity.as_deref()));
                    columns.care_mode.push(dictionaries.care_mode.intern(offer.care_mode.as_deref()));
                    columns.reception.push(dictionaries.reception.intern(offer.reception.as_deref()));
                    let departement = offer_commune(dataset, offer).and_then(departement_of_commune);
                    columns.departement.push(dictionaries.departement.intern(departement));
                    let age = offer.age_range.unwrap_or_default();
                    columns.age_min.push(age.min_years.unwrap_or(f64::NEG_INFINITY));
                    columns.age_max.push(age.max_years.unwrap_or(f64::INFINITY));
                    columns.gir_policy.push(gir_policy_byte(GirPolicy::of_offer_type(offer.offer_type.as_deref())));
                    columns.aide_sociale.push(eg.is_some_and(|eg| eg.aide_sociale()));
                    columns.closed_from.push(offer.closed_from.unwrap_or(NEVER));
                    columns.reopens_at.push(offer.reopens_at.unwrap_or(NEVER));
                    columns.eg_closed_at.push(eg.and_then(|eg| eg.closed_at).unwrap_or(NEVER));
                    let prices = offer.eg.map(|eg| eg_prices[eg as usize]).unwrap_or_default();
                    for band in 0..3 {
                        let total = prices.hebergement_cents.zip(prices.dependance_cents[band]).map(|(h, d)| h + d);
                        columns.daily_total_cents[band]
                            .push(total.and_then(|cents| u32::try_from(cents).ok()).unwrap_or(NO_PRICE));
                    }
                    columns.capacity.push(CapacityCounts::from(&CapacityTotals::of_records(
                        offer
                            .locations
                            .iter()
                            .flat_map(|&location| dataset.locations[location as usize].capacities.iter()),
                    )));
                }
            },
            || {
                let mut name_ranks = vec![0u32; docs];
                // Name ranks: rank EG names and distinct offer names once, then sort small integer keys.
                let eg_rank = rank_strings(dataset.egs.iter().map(|eg| fold(&eg.name)).collect());
                let mut offer_name_ids: FxHashMap<&str, u32> = FxHashMap::default();
                let mut distinct_names: Vec<String> = Vec::new();
                let offer_name_id: Vec<u32> = dataset
                    .offers
                    .iter()
                    .map(|offer| {
                        *offer_name_ids.entry(offer.name.as_str()).or_insert_with(|| {
                            distinct_names.push(fold(&offer.name));
                            distinct_names.len() as u32 - 1
                        })
                    })
                    .collect();
                let name_rank = rank_strings(distinct_names);
                let mut keys: Vec<(u32, u32, u32, u32)> = layout
                    .offer_of_doc
                    .iter()
                    .enumerate()
                    .map(|(doc, &offer_index)| {
                        let offer = &dataset.offers[offer_index as usize];
                        // Offers without an EG sort as if the EG name were empty, i.e. first.
                        let eg = offer.eg.map_or(0, |eg| eg_rank[eg as usize] + 1);
                        (eg, name_rank[offer_name_id[offer_index as usize] as usize], offer_index, doc as u32)
                    })
                    .collect();
                keys.sort_unstable();
                for (rank, key) in keys.iter().enumerate() {
                    name_ranks[key.3 as usize] = rank as u32;
                }
                name_ranks
            },
        );
        columns.name_rank = name_ranks;
        columns.may_close = vec![0u64; docs.div_ceil(64)];
        for doc in 0..docs {
            if columns.closed_from[doc] != NEVER || columns.eg_closed_at[doc] != NEVER {
                columns.may_close[doc >> 6] |= 1 << (doc & 63);
            }
        }
        columns.dictionaries = dictionaries;
        columns.eg_prices = eg_prices;
        columns.fill_access(data, layout);
        columns
    }
}
