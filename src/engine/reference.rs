//! A brute-force reference implementation of the search semantics, the oracle of the tests.
//!
//! It scans every offer of the dataset and applies the rules as written in the docs, straight
//! from the model (`model::rules`), without the engine's layout, columns, R-trees or posting
//! lists; the caller's access profiles straight from the matrix (`model::access`). The only
//! things shared with the engine are the definitions themselves: the
//! haversine distance, an offer's position ([`offer_position`]), its searchable text
//! (`text::doc_text`), the analyzers and the completions of a prefix (`TextIndex::prefix_expansions`). Text relevance scores are BM25 numbers that only tantivy
//! defines; the reference takes them from the index, and decides *which* offers match by its
//! own token comparison.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::Engine;
use super::crisis::CrisisRequest;
use super::layout::{departement_of_commune, offer_commune, offer_position};
use super::request::{Centre, MAX_LIMIT, SearchRequest, SortKey};
use super::text::{MIN_PREFIX_CHARS, doc_text, fold_analyzer, stem_analyzer, tokens};
use crate::model::access::{Field, MEDICO_SOCIAL_ACTIVITY_FIELD};
use crate::model::rules::{CapacityTotals, EgPrices, GirPolicy, offer_closed_at};
use crate::model::{Code, Dataset, GeoPoint};
use crate::util::fold::fold;
use crate::util::geo::haversine_m;

/// What the reference finds.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceResult {
    /// FHIR ids of the page, in order.
    pub ids: Vec<String>,
    /// Distances of the page, metres.
    pub distances_m: Vec<Option<f64>>,
    /// Number of matching offers (always exact).
    pub total: u64,
    /// Facet counts: (category, offer type, département) → count.
    pub facets: [BTreeMap<String, u64>; 3],
}

fn in_list(list: &[Code], code: Option<&Code>) -> bool {
    list.is_empty() || code.is_some_and(|code| list.contains(code))
}

/// Runs a request by brute force. `now` is the instant closures are evaluated at.
pub fn search(engine: &Engine, request: &SearchRequest, now: i64) -> ReferenceResult {
    search_in(engine, &engine.data().dataset, request, now)
}

/// Runs a request by brute force over `dataset`, which is the engine's own dataset with other
/// capacity records (what the live writes made of it); the engine gives only the text scores.
pub fn search_in(engine: &Engine, dataset: &Dataset, request: &SearchRequest, now: i64) -> ReferenceResult {
    let data = engine.data();
    let centre: Option<GeoPoint> = request.centre.as_ref().map(|centre| match centre {
        Centre::Point(point) => *point,
        Centre::Commune(code) => {
            let commune = super::layout::commune_by_code(&data.communes, code).expect("known commune");
            GeoPoint { lat: commune.lat, lon: commune.lon }
        }
    });
    let sort = request.effective_sort();

    // Text: which offers match, by comparing tokens; scores from the index.
    let mut stem = stem_analyzer();
    let mut fold_tokens = fold_analyzer();
    let query_words: Option<Vec<String>> = request.q.as_ref().map(|q| tokens(&mut fold_tokens, q));
    let last_is_prefix = request.q.as_ref().is_some_and(|q| !q.ends_with(char::is_whitespace))
        && query_words
            .as_ref()
            .and_then(|words| words.last())
            .is_some_and(|word| word.chars().count() >= MIN_PREFIX_CHARS);
    let query_stems: Option<Vec<String>> = query_words.as_ref().map(|words| {
        words.iter().map(|word| tokens(&mut stem, word).into_iter().next().unwrap_or_else(|| word.clone())).collect()
    });
    let completions: HashSet<String> = match (&query_words, engine.text()) {
        (Some(words), Some(text)) if last_is_prefix => {
            words.last().map(|word| text.prefix_expansions(word)).unwrap_or_default().into_iter().collect()
        }
        _ => HashSet::new(),
    };
    let scores: HashMap<u32, f32> = match (&request.q, engine.text()) {
        (Some(q), Some(text)) => match text.parse(q).ok().flatten() {
            Some(query) => text
                .all_matches(&query)
                .into_iter()
                .map(|(doc, score)| (engine.layout().offer_of_doc[doc as usize], score))
                .collect(),
            None => HashMap::new(),
        },
        _ => HashMap::new(),
    };

    let name_order: Vec<u64> = if sort == SortKey::Name { name_order(engine) } else { Vec::new() };
    struct Row {
        key: (u64, f64, u32),
        distance: Option<f64>,
        category: Option<String>,
        offer_type: Option<String>,
        departement: Option<String>,
    }
    let mut rows: Vec<Row> = Vec::new();
    for (index, offer) in dataset.offers.iter().enumerate() {
        let eg = offer.eg.map(|eg| &dataset.egs[eg as usize]);
        // Access: the caller's profiles, straight from the matrix (`model::access`).
        let medico_social = offer.activity_field.as_deref() == Some(MEDICO_SOCIAL_ACTIVITY_FIELD);
        let seen = |field: Field| request.profiles.sees(field, medico_social, offer.sensitive_unit);
        if !seen(Field::Description) {
            continue;
        }
        // Geography.
        let position = offer_position(dataset, &data.communes, offer).map(|(point, _)| point);
        let mut distance = None;
        if centre.is_some() || request.bbox.is_some() {
            let Some(point) = position else { continue };
            if let Some(bbox) = &request.bbox
                && !bbox.contains(point)
            {
                continue;
            }
            if let Some(centre) = centre {
                let d = haversine_m(centre, point);
                if let Some(radius_km) = request.radius_km
                    && d > radius_km * 1000.0
                {
                    continue;
                }
                distance = Some(d);
            }
        }
        // Codes.
        if !in_list(&request.category, eg.and_then(|eg| eg.category.as_ref()))
            || !in_list(&request.offer_type, offer.offer_type.as_ref())
            || !in_list(&request.activity, offer.activity.as_ref())
            || !in_list(&request.care_mode, offer.care_mode.as_ref())
            || !in_list(&request.reception, offer.reception.as_ref())
        {
            continue;
        }
        if let Some(age) = request.age
            && !offer.age_range.unwrap_or_default().contains(age)
        {
            continue;
        }
        if let Some(gir) = request.gir
            && !GirPolicy::of_offer_type(offer.offer_type.as_deref()).accepts(gir)
        {
            continue;
        }
        let prices = eg.map(|eg| EgPrices::of_tariffs(&eg.tariffs)).unwrap_or_default();
        let price = prices.daily_total_cents(request.gir, request.price_basis);
        if let Some(max) = request.max_price_cents
            && price.is_none_or(|price| price > max)
        {
            continue;
        }
        let mut totals = CapacityTotals::of_records(
            offer.locations.iter().flat_map(|&l| dataset.locations[l as usize].capacities.iter()),
        );
        if !seen(Field::OperationalCapacity) {
            totals.available = 0;
        }
        if !seen(Field::SupplementaryCapacity) {
            (totals.crisis_t0, totals.crisis_t60) = (0, 0);
        }
        if totals.available < request.min_available.unwrap_or(0)
            || totals.crisis_t0 < request.min_crisis_t0.unwrap_or(0)
            || totals.crisis_t60 < request.min_crisis_t60.unwrap_or(0)
        {
            continue;
        }
        if let Some(aide_sociale) = request.aide_sociale
            && eg.is_some_and(|eg| eg.aide_sociale()) != aide_sociale
        {
            continue;
        }
        if offer_closed_at(offer, eg, now) {
            continue;
        }
        // Text.
        let mut score = 0.0f32;
        if let (Some(words), Some(stems)) = (&query_words, &query_stems) {
            if words.is_empty() {
                continue;
            }
            let text = doc_text(dataset, &data.communes, offer);
            let doc_stems: HashSet<String> = tokens(&mut stem, &text).into_iter().collect();
            let doc_words: Vec<String> = tokens(&mut fold_tokens, &text);
            let last = words.len() - 1;
            let all = (0..words.len()).all(|i| {
                doc_stems.contains(&stems[i])
                    || (i == last && last_is_prefix && doc_words.iter().any(|word| completions.contains(word)))
            });
            if !all {
                continue;
            }
            score = *scores.get(&(index as u32)).expect("a matching offer has a score");
        }
        let primary: u64 = match sort {
            SortKey::Distance => 0,
            SortKey::Price => price.map_or(u64::from(u32::MAX), |cents| cents as u64),
            SortKey::Available => u64::from(u32::MAX - totals.available),
            SortKey::Relevance => u64::from(u32::MAX - score.max(0.0).to_bits()),
            SortKey::Name => 0, // ranked below from name_key
        };
        let departement = offer_commune(dataset, offer).and_then(departement_of_commune).map(str::to_owned);
        rows.push(Row {
            key: (primary, distance.unwrap_or(0.0), index as u32),
            distance,
            category: eg.and_then(|eg| eg.category.as_deref().map(str::to_owned)),
            offer_type: offer.offer_type.as_deref().map(str::to_owned),
            departement,
        });
        if sort == SortKey::Name {
            // Names sort by (folded EG name, folded offer name), then offer id.
            rows.last_mut().expect("just pushed").key.0 = name_order[index];
        }
    }
    rows.sort_by(|a, b| a.key.0.cmp(&b.key.0).then(a.key.1.total_cmp(&b.key.1)).then(a.key.2.cmp(&b.key.2)));
    let mut facets: [BTreeMap<String, u64>; 3] = Default::default();
    for row in &rows {
        for (facet, value) in facets.iter_mut().zip([&row.category, &row.offer_type, &row.departement]) {
            if let Some(value) = value {
                *facet.entry(value.clone()).or_default() += 1;
            }
        }
    }
    let page: Vec<&Row> = rows.iter().skip(request.offset).take(request.limit).collect();
    ReferenceResult {
        ids: page.iter().map(|row| dataset.offers[row.key.2 as usize].id.clone()).collect(),
        distances_m: page.iter().map(|row| row.distance).collect(),
        total: rows.len() as u64,
        facets,
    }
}

/// The position of every offer in name order: (folded EG name, folded offer name, index).
fn name_order(engine: &Engine) -> Vec<u64> {
    let dataset = &engine.data().dataset;
    let keys: Vec<(String, String)> = dataset
        .offers
        .iter()
        .map(|offer| (offer.eg.map(|eg| fold(&dataset.egs[eg as usize].name)).unwrap_or_default(), fold(&offer.name)))
        .collect();
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by(|&a, &b| keys[a].cmp(&keys[b]).then(a.cmp(&b)));
    let mut rank = vec![0u64; keys.len()];
    for (position, &index) in order.iter().enumerate() {
        rank[index] = position as u64;
    }
    rank
}

/// One EG of a crisis answer, as the reference finds it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceCrisisEg {
    /// Index of the EG in the dataset.
    pub eg: u32,
    /// FHIR id of the EG.
    pub id: String,
    /// Distance from the centre to the nearest of its matching offers, metres (`None` without
    /// a centre).
    pub distance_m: Option<f64>,
    /// Supplementary beds now (T0) of its matching offers.
    pub crisis_t0: u64,
    /// Supplementary beds within the hour (T60) of its matching offers.
    pub crisis_t60: u64,
    /// Newest `capacityUpdateDate` among the crisis records (T0 and T60) of its matching offers.
    pub updated_at: Option<i64>,
    /// Its matching offers in offer id order: (FHIR id, T0, T60).
    pub offers: Vec<(String, u32, u32)>,
}

/// Crisis totals of one département over the whole matching set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReferenceCrisisTotal {
    /// EGs with at least one matching offer in the département.
    pub egs: u64,
    /// Matching offers in the département.
    pub offers: u64,
    /// Supplementary beds now (T0) of those offers.
    pub crisis_t0: u64,
    /// Supplementary beds within the hour (T60) of those offers.
    pub crisis_t60: u64,
}

/// What the reference finds for a crisis request.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceCrisis {
    /// Matching EGs over the whole region.
    pub total_egs: u64,
    /// Matching offers over the whole region.
    pub total_offers: u64,
    /// Supplementary beds now (T0) of the matching offers.
    pub crisis_t0: u64,
    /// Supplementary beds within the hour (T60) of the matching offers.
    pub crisis_t60: u64,
    /// The first `limit` EGs, nearest first (ties, and every EG without a centre, by EG index).
    pub egs: Vec<ReferenceCrisisEg>,
    /// Totals by département of the offers (`None`: offers whose commune gives no département).
    pub by_departement: BTreeMap<Option<String>, ReferenceCrisisTotal>,
}

/// Runs a crisis request (`/v1/crisis`) by brute force. `now` is the instant closures are
/// evaluated at.
///
/// An offer matches when it belongs to an EG, its activity and type d'offre are among the
/// requested ones (none requested: any), its EG's ORSAN level is among the requested ones,
/// its crisis beds (`model::rules::CapacityTotals` over all its locations: T0 = status `06`
/// temporality `01`, T60 = status `06` temporality `02`) reach `min_crisis_t0` /
/// `min_crisis_t60` and T0 + T60 > 0, it is not closed at `now`, and, with a centre, it has a
/// position within `radius_km` (inclusive). Matching offers are grouped by EG; an EG's
/// distance is that of its nearest matching offer.
pub fn crisis(engine: &Engine, request: &CrisisRequest, now: i64) -> ReferenceCrisis {
    crisis_in(engine, &engine.data().dataset, request, now)
}

/// Runs a crisis request by brute force over `dataset` (see [`search_in`]).
pub fn crisis_in(engine: &Engine, dataset: &Dataset, request: &CrisisRequest, now: i64) -> ReferenceCrisis {
    let data = engine.data();
    let centre: Option<GeoPoint> = request.search.centre.as_ref().map(|centre| match centre {
        Centre::Point(point) => *point,
        Centre::Commune(code) => {
            let commune = super::layout::commune_by_code(&data.communes, code).expect("known commune");
            GeoPoint { lat: commune.lat, lon: commune.lon }
        }
    });
    let mut per_eg: BTreeMap<u32, ReferenceCrisisEg> = BTreeMap::new();
    let mut by_departement: BTreeMap<Option<String>, ReferenceCrisisTotal> = BTreeMap::new();
    let mut departements_of_eg: HashSet<(u32, Option<String>)> = HashSet::new();
    for offer in &dataset.offers {
        let Some(eg_index) = offer.eg else { continue };
        let eg = &dataset.egs[eg_index as usize];
        let medico_social = offer.activity_field.as_deref() == Some(MEDICO_SOCIAL_ACTIVITY_FIELD);
        let profiles = request.search.profiles;
        if !profiles.sees(Field::Description, medico_social, offer.sensitive_unit)
            || !profiles.sees(Field::SupplementaryCapacity, medico_social, offer.sensitive_unit)
        {
            continue;
        }
        if !in_list(&request.search.activity, offer.activity.as_ref())
            || !in_list(&request.search.offer_type, offer.offer_type.as_ref())
            || !in_list(&request.orsan_level, eg.orsan_level.as_ref())
        {
            continue;
        }
        let totals = CapacityTotals::of_records(
            offer.locations.iter().flat_map(|&l| dataset.locations[l as usize].capacities.iter()),
        );
        if (totals.crisis_t0 == 0 && totals.crisis_t60 == 0)
            || totals.crisis_t0 < request.search.min_crisis_t0.unwrap_or(0)
            || totals.crisis_t60 < request.search.min_crisis_t60.unwrap_or(0)
        {
            continue;
        }
        if offer_closed_at(offer, Some(eg), now) {
            continue;
        }
        let mut distance = None;
        if let Some(centre) = centre {
            let Some((point, _)) = offer_position(dataset, &data.communes, offer) else { continue };
            let d = haversine_m(centre, point);
            if let Some(radius_km) = request.search.radius_km
                && d > radius_km * 1000.0
            {
                continue;
            }
            distance = Some(d);
        }
        let entry = per_eg.entry(eg_index).or_insert_with(|| ReferenceCrisisEg {
            eg: eg_index,
            id: eg.id.clone(),
            distance_m: distance,
            crisis_t0: 0,
            crisis_t60: 0,
            updated_at: None,
            offers: Vec::new(),
        });
        entry.distance_m = match (entry.distance_m, distance) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        entry.crisis_t0 += u64::from(totals.crisis_t0);
        entry.crisis_t60 += u64::from(totals.crisis_t60);
        entry.updated_at = entry.updated_at.max(totals.crisis_t0_updated_at).max(totals.crisis_t60_updated_at);
        entry.offers.push((offer.id.clone(), totals.crisis_t0, totals.crisis_t60));
        let departement = offer_commune(dataset, offer).and_then(departement_of_commune).map(str::to_owned);
        let total = by_departement.entry(departement.clone()).or_default();
        total.offers += 1;
        total.crisis_t0 += u64::from(totals.crisis_t0);
        total.crisis_t60 += u64::from(totals.crisis_t60);
        if departements_of_eg.insert((eg_index, departement)) {
            total.egs += 1;
        }
    }
    let mut egs: Vec<ReferenceCrisisEg> = per_eg.into_values().collect();
    // Each EG's offers were pushed in offer index order (the dataset keeps offers sorted by id).
    egs.sort_by(|a, b| a.distance_m.unwrap_or(0.0).total_cmp(&b.distance_m.unwrap_or(0.0)).then(a.eg.cmp(&b.eg)));
    ReferenceCrisis {
        total_egs: egs.len() as u64,
        total_offers: egs.iter().map(|eg| eg.offers.len() as u64).sum(),
        crisis_t0: egs.iter().map(|eg| eg.crisis_t0).sum(),
        crisis_t60: egs.iter().map(|eg| eg.crisis_t60).sum(),
        egs: egs.into_iter().take(request.search.limit.clamp(1, MAX_LIMIT)).collect(),
        by_departement,
    }
}
