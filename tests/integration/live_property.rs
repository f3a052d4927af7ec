//! Live capacity writes (`Engine::apply_capacity`) against a naive replay of the same writes.
//!
//! Random sequences of writes (out of order, duplicated, deletes and replaces of present and
//! absent keys, records differing only by temporary assignment, several writes per batch) are
//! applied to an engine; an independent, naive replay of the rules (last writer wins by
//! `capacityUpdateDate` per whole indicator key; an older update or delete is ignored; a write
//! whose replace or delete finds no record changes nothing) updates a copy of the dataset. Midway
//! and at the end, searches (capacity minima, `sort=available`, facets, exact totals, nearest,
//! bbox) and crisis requests must answer what the brute-force reference finds over that copy,
//! and every location must hold the records of the naive replay. Then the whole history is
//! replayed onto a new snapshot of the data whose records are partly newer than the writes (what
//! the server does on a swap), against the naive replay started from that snapshot.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngSeed, TestRunner};
use ror_search::engine::live::{CapacityChange, ChangeOutcome};
use ror_search::engine::reference;
use ror_search::engine::request::{BBox, Centre, SearchRequest, SortKey};
use ror_search::engine::{CapacityWrite, CrisisRequest, Engine};
use ror_search::model::rules::CapacityTotals;
use ror_search::model::{CapacityKey, CapacityRecord, Code, Dataset, GeoPoint};
use ror_search::snapshot::SnapshotData;
use ror_search::util::rng::SplitMix64;

use crate::engine_data::{CLUSTERS, NOW, check_total, communes, engine_of, instant_of, random_dataset};

/// Seed of the generated cases (runs are reproducible).
const SEED: u64 = 20_261_215;

// ---------------------------------------------------------------------------------------------
// The naive replay, from the rules as written (not `engine::live::apply_change`).

/// Whether `record` has the indicator `key` (every field of the key, one by one).
fn has_key(record: &CapacityRecord, key: &CapacityKey) -> bool {
    record.status == key.status
        && record.temporality == key.temporality
        && record.gender == key.gender
        && record.temporary_assignment == key.temporary_assignment
        && record.closing_type == key.closing_type
        && record.additional_bed_type == key.additional_bed_type
        && record.crisis_type == key.crisis_type
}

/// Whether two records have the same indicator key.
fn same_key(a: &CapacityRecord, b: &CapacityRecord) -> bool {
    has_key(a, &b.key())
}

/// Whether `held` is strictly newer than `than` (a dated record is newer than an undated one).
fn strictly_newer(held: Option<i64>, than: Option<i64>) -> bool {
    match (held, than) {
        (Some(held), Some(than)) => held > than,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// The state a naive replay of the writes leaves: the dataset with the locations' records
/// replaced, and per location the sequence of the last write that took (0: none).
struct Naive {
    dataset: Dataset,
    versions: Vec<u64>,
    /// Locations a generated write addressed, first-addressed first.
    addressed: Vec<u32>,
}

impl Naive {
    fn of(dataset: &Dataset) -> Naive {
        Naive { dataset: dataset.clone(), versions: vec![0; dataset.locations.len()], addressed: Vec::new() }
    }

    fn records(&self, location: u32) -> &[CapacityRecord] {
        &self.dataset.locations[location as usize].capacities
    }

    /// Replays one write; whether it took (no missing key, and some change not ignored).
    ///
    /// A location may hold several records of one key (the snapshot's feed repeats an
    /// indicator): they are one record, whose date is the newest of theirs; a write that
    /// replaces or deletes it replaces or deletes all of them.
    fn apply(&mut self, write: &CapacityWrite) -> bool {
        if !self.addressed.contains(&write.location) {
            self.addressed.push(write.location);
        }
        let mut records = self.records(write.location).to_vec();
        let mut took = false;
        for change in write.changes.iter() {
            match change {
                CapacityChange::Upsert(record) | CapacityChange::Replace(record) => {
                    match newest(&records, |held| same_key(held, record)) {
                        Some(held) => {
                            if !strictly_newer(held.updated_at, record.updated_at) {
                                records.retain(|held| !same_key(held, record));
                                records.push(record.clone());
                                took = true;
                            }
                        }
                        None if matches!(change, CapacityChange::Upsert(_)) => {
                            records.push(record.clone());
                            took = true;
                        }
                        None => return false,
                    }
                }
                CapacityChange::Delete { key, at } => match newest(&records, |held| has_key(held, key)) {
                    Some(held) => {
                        if at.is_none() || !strictly_newer(held.updated_at, *at) {
                            records.retain(|held| !has_key(held, key));
                            took = true;
                        }
                    }
                    None => return false,
                },
                CapacityChange::ReplaceAll(given) => {
                    let next: Vec<CapacityRecord> = given
                        .iter()
                        .map(|record| match newest(&records, |held| same_key(held, record)) {
                            Some(held) if strictly_newer(held.updated_at, record.updated_at) => held,
                            _ => record.clone(),
                        })
                        .collect();
                    records = next;
                    took = true;
                }
            }
        }
        if took {
            self.dataset.locations[write.location as usize].capacities = records;
            self.versions[write.location as usize] = write.version;
        }
        took
    }
}

/// The newest of the records that `of_key` selects (a clone), if any.
fn newest(records: &[CapacityRecord], of_key: impl Fn(&CapacityRecord) -> bool) -> Option<CapacityRecord> {
    let mut newest: Option<&CapacityRecord> = None;
    for record in records.iter().filter(|record| of_key(record)) {
        if newest.is_none_or(|kept| !strictly_newer(kept.updated_at, record.updated_at)) {
            newest = Some(record);
        }
    }
    newest.cloned()
}

/// Whether the engine says a write took: some change applied and no record missing.
fn engine_took(outcomes: &[ChangeOutcome]) -> bool {
    outcomes.iter().any(ChangeOutcome::applied) && !outcomes.contains(&ChangeOutcome::NoSuchRecord)
}

// ---------------------------------------------------------------------------------------------
// Generated writes.

#[derive(Debug, Clone)]
struct KeySpec {
    status: &'static str,
    temporality: &'static str,
    gender: Option<&'static str>,
    temporary: Option<&'static str>,
}

impl KeySpec {
    fn key(&self) -> CapacityKey {
        CapacityKey {
            status: self.status.into(),
            temporality: self.temporality.into(),
            gender: self.gender.map(Code::from),
            temporary_assignment: self.temporary.map(Code::from),
            ..CapacityKey::default()
        }
    }
}

#[derive(Debug, Clone)]
struct RecordSpec {
    key: KeySpec,
    nature: &'static str,
    count: u32,
    at: i64,
}

impl RecordSpec {
    fn record(&self) -> CapacityRecord {
        CapacityRecord {
            capacity_type: self.nature.into(),
            status: self.key.status.into(),
            temporality: self.key.temporality.into(),
            gender: self.key.gender.map(Code::from),
            temporary_assignment: self.key.temporary.map(Code::from),
            count: self.count,
            updated_at: Some(self.at),
            ..CapacityRecord::default()
        }
    }
}

#[derive(Debug, Clone)]
enum ChangeSpec {
    Upsert(RecordSpec),
    /// A replace of a random key (often absent).
    Replace(RecordSpec),
    /// A replace of a record the location holds: new count and date.
    ReplaceHeld(Index, u32, i64),
    /// Two records differing only by temporary assignment.
    UpsertPair(RecordSpec, u32),
    ReplaceAll(Vec<RecordSpec>),
    /// A delete of a random key (often absent); `None`: now.
    Delete(KeySpec, Option<i64>),
    /// A delete of a record the location holds.
    DeleteHeld(Index, Option<i64>),
}

#[derive(Debug, Clone)]
enum Target {
    /// One of a few locations every case writes to.
    Hot(usize),
    /// A location already written.
    Addressed(Index),
    Any(Index),
}

#[derive(Debug, Clone)]
struct WriteSpec {
    target: Target,
    changes: Vec<ChangeSpec>,
    /// Repeat an earlier write exactly.
    repeat: Option<Index>,
    /// Applied in the same `apply_capacity` batch as the write before.
    same_batch: bool,
}

/// Number of hot locations.
const HOT: usize = 6;

fn key_strategy() -> impl Strategy<Value = KeySpec> {
    (
        prop_oneof![2 => Just("01"), 3 => Just("02"), 3 => Just("06"), 1 => Just("04")],
        prop_oneof![3 => Just("01"), 2 => Just("02")],
        prop_oneof![3 => Just(None), 1 => Just(Some("01")), 1 => Just(Some("02")), 1 => Just(Some("03"))],
        prop_oneof![3 => Just(None), 1 => Just(Some("01")), 1 => Just(Some("02"))],
    )
        .prop_map(|(status, temporality, gender, temporary)| KeySpec { status, temporality, gender, temporary })
}

/// Dates between `low` and `high`, on a coarse grid half of the time (ties between writes).
fn at_strategy(low: i64, high: i64) -> impl Strategy<Value = i64> + Clone {
    prop_oneof![1 => (0i64..=24).prop_map(move |step| low + step * (high - low) / 24), 1 => low..=high]
}

fn record_strategy(low: i64, high: i64) -> impl Strategy<Value = RecordSpec> {
    (key_strategy(), prop_oneof![3 => Just("02"), 1 => Just("01")], 0u32..=50, at_strategy(low, high))
        .prop_map(|(key, nature, count, at)| RecordSpec { key, nature, count, at })
}

fn change_strategy(low: i64, high: i64) -> impl Strategy<Value = ChangeSpec> {
    let at = at_strategy(low, high);
    let delete_at = prop_oneof![8 => at.clone().prop_map(Some), 1 => Just(None)];
    prop_oneof![
        6 => record_strategy(low, high).prop_map(ChangeSpec::Upsert),
        1 => record_strategy(low, high).prop_map(ChangeSpec::Replace),
        3 => (any::<Index>(), 0u32..=50, at.clone()).prop_map(|(index, count, at)| ChangeSpec::ReplaceHeld(index, count, at)),
        1 => (record_strategy(low, high), 0u32..=50).prop_map(|(record, count)| ChangeSpec::UpsertPair(record, count)),
        1 => prop::collection::vec(record_strategy(low, high), 0..6).prop_map(ChangeSpec::ReplaceAll),
        2 => (key_strategy(), delete_at.clone()).prop_map(|(key, at)| ChangeSpec::Delete(key, at)),
        2 => (any::<Index>(), delete_at).prop_map(|(index, at)| ChangeSpec::DeleteHeld(index, at)),
    ]
}

fn write_strategy(low: i64, high: i64) -> impl Strategy<Value = WriteSpec> {
    (
        prop_oneof![
            4 => (0..HOT).prop_map(Target::Hot),
            2 => any::<Index>().prop_map(Target::Addressed),
            2 => any::<Index>().prop_map(Target::Any),
        ],
        prop_oneof![4 => prop::collection::vec(change_strategy(low, high), 1..=1), 2 => prop::collection::vec(change_strategy(low, high), 2..5)],
        prop_oneof![6 => Just(None), 1 => any::<Index>().prop_map(Some)],
        prop::bool::weighted(0.3),
    )
        .prop_map(|(target, changes, repeat, same_batch)| WriteSpec { target, changes, repeat, same_batch })
}

/// Makes a concrete write of a generated one, against the naive state before it.
fn resolve(
    spec: &WriteSpec,
    naive: &Naive,
    hot: &[u32],
    history: &[CapacityWrite<'static>],
    sequence: u64,
) -> CapacityWrite<'static> {
    let at = NOW + sequence as i64;
    if let (Some(index), false) = (&spec.repeat, history.is_empty()) {
        let earlier = &history[index.index(history.len())];
        return CapacityWrite { location: earlier.location, changes: earlier.changes.clone(), version: sequence, at };
    }
    let location = match &spec.target {
        Target::Hot(index) => hot[index % hot.len()],
        Target::Addressed(index) if !naive.addressed.is_empty() => naive.addressed[index.index(naive.addressed.len())],
        Target::Addressed(index) | Target::Any(index) => index.index(naive.dataset.locations.len()) as u32,
    };
    let held = naive.records(location);
    let mut changes = Vec::new();
    for change in &spec.changes {
        match change {
            ChangeSpec::Upsert(record) => changes.push(CapacityChange::Upsert(record.record())),
            ChangeSpec::Replace(record) => changes.push(CapacityChange::Replace(record.record())),
            ChangeSpec::ReplaceHeld(index, count, at) => {
                if held.is_empty() {
                    continue;
                }
                let mut record = held[index.index(held.len())].clone();
                record.count = *count;
                record.updated_at = Some(*at);
                changes.push(CapacityChange::Replace(record));
            }
            ChangeSpec::UpsertPair(record, count) => {
                let mut first = record.clone();
                first.key.temporary = Some("01");
                let mut second = first.clone();
                second.key.temporary = Some("02");
                second.count = *count;
                changes.push(CapacityChange::Upsert(first.record()));
                changes.push(CapacityChange::Upsert(second.record()));
            }
            ChangeSpec::ReplaceAll(records) => {
                // One record per key: the replacement list of a location.
                let mut given: Vec<CapacityRecord> = Vec::new();
                for record in records.iter().map(RecordSpec::record) {
                    if !given.iter().any(|kept| same_key(kept, &record)) {
                        given.push(record);
                    }
                }
                changes.push(CapacityChange::ReplaceAll(given));
            }
            ChangeSpec::Delete(key, at) => changes.push(CapacityChange::Delete { key: key.key(), at: *at }),
            ChangeSpec::DeleteHeld(index, at) => {
                if held.is_empty() {
                    continue;
                }
                let record = &held[index.index(held.len())];
                changes.push(CapacityChange::Delete { key: record.key(), at: *at });
            }
        }
    }
    if changes.is_empty() {
        // Nothing held to replace or delete: a delete of an absent key instead.
        let key = KeySpec { status: "02", temporality: "01", gender: Some("03"), temporary: Some("02") };
        changes.push(CapacityChange::Delete { key: key.key(), at: Some(at) });
    }
    CapacityWrite { location, changes: changes.into(), version: sequence, at }
}

// ---------------------------------------------------------------------------------------------
// Generated requests.

/// A search request, and whether to centre it on the position of a written location's offer.
#[derive(Debug, Clone)]
struct SearchSpec {
    request: SearchRequest,
    on_written: Option<Index>,
}

#[derive(Debug, Clone)]
struct CrisisSpec {
    request: CrisisRequest,
    on_written: Option<Index>,
}

fn wrap_lon(lon: f64) -> f64 {
    if lon > 180.0 {
        lon - 360.0
    } else if lon < -180.0 {
        lon + 360.0
    } else {
        lon
    }
}

fn codes(options: &'static [&'static str]) -> impl Strategy<Value = Vec<Code>> {
    prop::collection::vec(prop::sample::select(options), 0..3)
        .prop_map(|codes| codes.into_iter().map(Code::from).collect())
}

fn centre_strategy(places: Vec<(f64, f64)>) -> impl Strategy<Value = (Option<Centre>, Option<Index>)> {
    let communes = prop::sample::select(vec!["75056", "69123", "33063", "2A004", "97411"]);
    prop_oneof![
        2 => Just((None, None)),
        3 => (prop::sample::select(places), -0.6f64..0.6, -0.6f64..0.6).prop_map(|((lat, lon), dlat, dlon)| {
            (Some(Centre::Point(GeoPoint { lat: (lat + dlat).clamp(-90.0, 90.0), lon: wrap_lon(lon + dlon) })), None)
        }),
        1 => communes.prop_map(|code| (Some(Centre::Commune(code.to_owned())), None)),
        4 => any::<Index>().prop_map(|index| (Some(Centre::Point(GeoPoint { lat: 0.0, lon: 0.0 })), Some(index))),
    ]
}

fn search_strategy(places: Vec<(f64, f64)>, text: bool) -> impl Strategy<Value = SearchSpec> {
    let capacity = prop_oneof![3 => Just(None), 2 => (0u32..4).prop_map(Some), 1 => (4u32..60).prop_map(Some)];
    (
        centre_strategy(places),
        prop_oneof![2 => Just(None), 1 => Just(Some(0.0)), 3 => (1.0f64..150.0).prop_map(Some)],
        prop_oneof![
            6 => Just(None),
            1 => Just(Some(BBox { min_lon: -10.0, min_lat: 35.0, max_lon: 20.0, max_lat: 55.0 })),
            1 => (-10.0f64..10.0, 40.0f64..50.0, 0.5f64..8.0).prop_map(|(lon, lat, size)| Some(BBox { min_lon: lon, min_lat: lat, max_lon: lon + size, max_lat: lat + size })),
            // across the antimeridian (Wallis-et-Futuna on one side, the 179.9° E cluster on the other)
            1 => Just(Some(BBox { min_lon: 170.0, min_lat: -25.0, max_lon: -170.0, max_lat: -10.0 })),
        ],
        (codes(&["500", "355", "202", "183", "101"]), codes(&["21", "22", "23", "24", "25", "27", "157", "20", "48"])),
        (capacity.clone(), capacity.clone(), capacity),
        prop::sample::select(vec![
            None,
            Some(SortKey::Distance),
            Some(SortKey::Available),
            Some(SortKey::Available),
            Some(SortKey::Price),
            Some(SortKey::Name),
            Some(SortKey::Relevance),
        ]),
        prop_oneof![4 => Just(None), 1 => prop::sample::select(vec!["soleil", "maison", "résidence", "accueil de jour", "ehpad"]).prop_map(Some)],
        (1usize..30, prop_oneof![4 => 0usize..5, 1 => 0usize..200], any::<bool>(), any::<bool>()),
        crate::rendering::fields_strategy(),
    )
        .prop_map(
            move |(
                (centre, on_written),
                radius_km,
                bbox,
                (category, offer_type),
                (min_available, min_crisis_t0, min_crisis_t60),
                mut sort,
                q,
                (limit, offset, facets, exact_total),
                fields,
            )| {
                let q = if text { q.map(str::to_owned) } else { None };
                if (sort == Some(SortKey::Distance) && centre.is_none()) || (sort == Some(SortKey::Relevance) && q.is_none())
                {
                    sort = None;
                }
                let radius_km = if centre.is_some() { radius_km } else { None };
                let request = SearchRequest {
                    radius_km,
                    bbox: if centre.is_some() { None } else { bbox },
                    centre,
                    q,
                    category,
                    offer_type,
                    min_available,
                    min_crisis_t0,
                    min_crisis_t60,
                    sort,
                    limit,
                    offset,
                    facets,
                    exact_total,
                    now: Some(NOW),
                    fields,
                    ..SearchRequest::default()
                };
                SearchSpec { request, on_written }
            },
        )
}

fn crisis_strategy(places: Vec<(f64, f64)>) -> impl Strategy<Value = CrisisSpec> {
    (
        centre_strategy(places),
        prop_oneof![2 => Just(None), 1 => Just(Some(0.0)), 3 => (1.0f64..200.0).prop_map(Some)],
        codes(&["21", "22", "23", "24", "25", "27", "157", "20", "48"]),
        prop_oneof![3 => Just(Vec::new()), 1 => Just(vec![Code::from("1")]), 1 => Just(vec![Code::from("4")])],
        prop::option::of(0u32..6),
        prop::option::of(0u32..6),
        prop_oneof![4 => 1usize..30, 1 => 100usize..300],
    )
        .prop_map(
            |((centre, on_written), radius_km, offer_type, orsan_level, min_crisis_t0, min_crisis_t60, limit)| {
                let radius_km = if centre.is_some() { radius_km } else { None };
                let request = CrisisRequest {
                    search: SearchRequest {
                        centre,
                        radius_km,
                        offer_type,
                        min_crisis_t0,
                        min_crisis_t60,
                        limit,
                        now: Some(NOW),
                        ..SearchRequest::default()
                    },
                    orsan_level,
                };
                CrisisSpec { request, on_written }
            },
        )
}

/// The requests checked at one point of a sequence.
#[derive(Debug, Clone)]
struct Checks {
    searches: Vec<SearchSpec>,
    crises: Vec<CrisisSpec>,
}

fn checks_strategy(places: Vec<(f64, f64)>, text: bool) -> impl Strategy<Value = Checks> {
    (
        prop::collection::vec(search_strategy(places.clone(), text), 6..=6),
        prop::collection::vec(crisis_strategy(places), 3..=3),
    )
        .prop_map(|(searches, crises)| Checks { searches, crises })
}

// ---------------------------------------------------------------------------------------------
// Comparisons.

/// What the test knows of an engine's dataset: offers by id, offers by location.
struct Lookup {
    offer_by_id: HashMap<String, usize>,
    offers_of_location: Vec<Vec<usize>>,
}

impl Lookup {
    fn of(dataset: &Dataset) -> Lookup {
        let mut offers_of_location = vec![Vec::new(); dataset.locations.len()];
        for (index, offer) in dataset.offers.iter().enumerate() {
            for &location in &offer.locations {
                offers_of_location[location as usize].push(index);
            }
        }
        let offer_by_id = dataset.offers.iter().enumerate().map(|(index, offer)| (offer.id.clone(), index)).collect();
        Lookup { offer_by_id, offers_of_location }
    }

    /// The position of an offer provided at a written location (its first with one).
    fn written_centre(&self, engine: &Engine, naive: &Naive, index: &Index) -> Option<Centre> {
        if naive.addressed.is_empty() {
            return None;
        }
        let location = naive.addressed[index.index(naive.addressed.len())];
        let dataset = &engine.data().dataset;
        self.offers_of_location[location as usize].iter().find_map(|&offer| {
            ror_search::engine::layout::offer_position(dataset, &engine.data().communes, &dataset.offers[offer])
                .map(|(point, _)| Centre::Point(point))
        })
    }
}

fn sorted_records(records: &[CapacityRecord]) -> Vec<String> {
    let mut records: Vec<String> = records.iter().map(|record| format!("{record:?}")).collect();
    records.sort();
    records
}

/// Every addressed location (every location with `all`) holds the naive records and version.
fn check_records(engine: &Engine, naive: &Naive, all: bool) -> Result<(), TestCaseError> {
    let view = engine.live_view();
    let locations: Vec<u32> =
        if all { (0..naive.dataset.locations.len() as u32).collect() } else { naive.addressed.clone() };
    for location in locations {
        prop_assert_eq!(
            sorted_records(engine.location_records(&view, location)),
            sorted_records(naive.records(location)),
            "records of location {}",
            location
        );
        prop_assert_eq!(view.version_of(location).0, naive.versions[location as usize], "version of {}", location);
    }
    Ok(())
}

fn check_search(engine: &Engine, naive: &Naive, lookup: &Lookup, spec: &SearchSpec) -> Result<(), TestCaseError> {
    let mut request = spec.request.clone();
    if let Some(index) = &spec.on_written {
        request.centre = lookup.written_centre(engine, naive, index);
        if request.centre.is_none() {
            request.radius_km = None;
            if request.sort == Some(SortKey::Distance) {
                request.sort = None;
            }
        }
    }
    let now = instant_of(&request, NOW);
    request.now = Some(now);
    let response = match engine.search(&request) {
        Ok(response) => response,
        Err(error) => return Err(TestCaseError::fail(format!("engine refused {request:?}: {error}"))),
    };
    let expected = reference::search_in(engine, &naive.dataset, &request, now);
    let ids: Vec<&str> = response.results.iter().map(|hit| hit.id).collect();
    prop_assert_eq!(&ids, &expected.ids.iter().map(String::as_str).collect::<Vec<_>>(), "ids differ for {:?}", request);
    let distances: Vec<Option<f64>> = response.results.iter().map(|hit| hit.distance_m).collect();
    prop_assert_eq!(&distances, &expected.distances_m, "distances differ for {:?}", request);
    check_total(&request, response.total, response.total_exact, expected.total)?;
    if let Some(facets) = &response.facets {
        let as_map = |values: &[ror_search::engine::response::FacetValue]| {
            values.iter().map(|value| (value.code.to_owned(), value.count)).collect::<BTreeMap<_, _>>()
        };
        prop_assert_eq!(as_map(&facets.category), expected.facets[0].clone(), "category facet for {:?}", request);
        prop_assert_eq!(as_map(&facets.offer_type), expected.facets[1].clone(), "type facet for {:?}", request);
        prop_assert_eq!(as_map(&facets.departement), expected.facets[2].clone(), "département facet for {:?}", request);
    }
    crate::rendering::check_page(engine, &request, &response)?;
    let dataset = &naive.dataset;
    for hit in &response.results {
        let offer = &dataset.offers[lookup.offer_by_id[hit.id]];
        let totals = CapacityTotals::of_records(
            offer.locations.iter().flat_map(|&location| dataset.locations[location as usize].capacities.iter()),
        );
        prop_assert_eq!(
            (hit.capacity.installed, hit.capacity.available, hit.capacity.crisis_t0, hit.capacity.crisis_t60),
            (Some(totals.installed), Some(totals.available), Some(totals.crisis_t0), Some(totals.crisis_t60)),
            "capacities of {}",
            hit.id
        );
        prop_assert_eq!(hit.capacity.available_updated_at.flatten().map(|at| at.0), totals.available_updated_at);
    }
    if request.bbox.is_some() {
        check_clusters(engine, naive, lookup, &request)?;
        // The viewport alone: the positions without sensitive or closing docs are counted
        // whole, from the live per-position sums.
        let viewport = SearchRequest {
            bbox: request.bbox,
            profiles: request.profiles,
            now: request.now,
            ..SearchRequest::default()
        };
        check_clusters(engine, naive, lookup, &viewport)?;
    }
    Ok(())
}

/// The map clusters of a search with a viewport: their counts and capacity sums over every
/// match (the positions counted whole read the live per-position sums) equal the reference's
/// matches summed over the naive replay.
fn check_clusters(
    engine: &Engine,
    naive: &Naive,
    lookup: &Lookup,
    request: &SearchRequest,
) -> Result<(), TestCaseError> {
    let all = SearchRequest { offset: 0, limit: naive.dataset.offers.len().max(1), ..request.clone() };
    let expected = reference::search_in(engine, &naive.dataset, &all, request.now.unwrap_or(NOW));
    let dataset = &naive.dataset;
    let (mut available, mut crisis_t0, mut crisis_t60) = (0u64, 0u64, 0u64);
    // Inside a viewport, every match has a position.
    let positioned = expected.ids.len();
    for id in &expected.ids {
        let offer = &dataset.offers[lookup.offer_by_id[id.as_str()]];
        let totals = CapacityTotals::of_records(
            offer.locations.iter().flat_map(|&location| dataset.locations[location as usize].capacities.iter()),
        );
        available += u64::from(totals.available);
        crisis_t0 += u64::from(totals.crisis_t0);
        crisis_t60 += u64::from(totals.crisis_t60);
    }
    for zoom in [0, 9] {
        let clusters = engine
            .clusters(request, zoom)
            .map_err(|error| TestCaseError::fail(format!("clusters refused {request:?}: {error}")))?;
        let mut sums = (0u64, 0u64, 0u64);
        for feature in &clusters.features {
            let feature_sums = match feature {
                ror_search::engine::clusters::Feature::Cell(cell) => cell.sums,
                ror_search::engine::clusters::Feature::Group(group) => group.sums,
            };
            sums.0 += feature_sums.available;
            sums.1 += feature_sums.crisis_t0;
            sums.2 += feature_sums.crisis_t60;
        }
        prop_assert_eq!(clusters.total, positioned, "clusters total at zoom {} for {:?}", zoom, request);
        prop_assert_eq!(sums, (available, crisis_t0, crisis_t60), "clusters sums at zoom {} for {:?}", zoom, request);
    }
    Ok(())
}

fn check_crisis(engine: &Engine, naive: &Naive, lookup: &Lookup, spec: &CrisisSpec) -> Result<(), TestCaseError> {
    let mut request = spec.request.clone();
    if let Some(index) = &spec.on_written {
        request.search.centre = lookup.written_centre(engine, naive, index);
        if request.search.centre.is_none() {
            request.search.radius_km = None;
        }
    }
    let response = match engine.crisis(&request) {
        Ok(response) => response,
        Err(error) => return Err(TestCaseError::fail(format!("engine refused {request:?}: {error}"))),
    };
    let expected = reference::crisis_in(engine, &naive.dataset, &request, NOW);
    prop_assert_eq!(
        (response.total_egs, response.total_offers, response.crisis_t0, response.crisis_t60),
        (expected.total_egs, expected.total_offers, expected.crisis_t0, expected.crisis_t60),
        "crisis totals for {:?}",
        request
    );
    let by_departement = crate::crisis::departement_totals(&response);
    prop_assert_eq!(&by_departement, &expected.by_departement, "totals by département for {:?}", request);
    let ids: Vec<&str> = response.egs.iter().map(|eg| eg.eg.id).collect();
    let expected_ids: Vec<&str> = expected.egs.iter().map(|eg| eg.id.as_str()).collect();
    prop_assert_eq!(&ids, &expected_ids, "crisis EGs for {:?}", request);
    for (eg, reference) in response.egs.iter().zip(&expected.egs) {
        prop_assert_eq!(eg.distance_m, reference.distance_m, "distance of {}", reference.id);
        prop_assert_eq!(
            (u64::from(eg.crisis_t0), u64::from(eg.crisis_t60)),
            (reference.crisis_t0, reference.crisis_t60),
            "crisis beds of {}",
            reference.id
        );
        prop_assert_eq!(eg.updated_at.map(|at| at.0), reference.updated_at, "updated_at of {}", reference.id);
        let offers: Vec<(String, u32, u32)> =
            eg.offers.iter().map(|offer| (offer.id.to_owned(), offer.crisis_t0, offer.crisis_t60)).collect();
        prop_assert_eq!(&offers, &reference.offers, "offers of {}", reference.id);
    }
    Ok(())
}

fn check_all(
    engine: &Engine,
    naive: &Naive,
    lookup: &Lookup,
    checks: &Checks,
    all_records: bool,
) -> Result<(), TestCaseError> {
    check_records(engine, naive, all_records)?;
    for spec in &checks.searches {
        check_search(engine, naive, lookup, spec)?;
    }
    for spec in &checks.crises {
        check_crisis(engine, naive, lookup, spec)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Running a sequence.

/// Applies generated writes to `engine` in batches, and to `naive` one by one; checks midway.
/// Returns the batches applied (the history, in order).
#[allow(clippy::too_many_arguments)]
fn run_writes(
    engine: &Engine,
    naive: &mut Naive,
    lookup: &Lookup,
    hot: &[u32],
    history: &mut Vec<CapacityWrite<'static>>,
    specs: &[WriteSpec],
    midway: &Checks,
    all_records: bool,
) -> Result<(), TestCaseError> {
    let half = specs.len() / 2;
    let mut batch: Vec<CapacityWrite> = Vec::new();
    let mut took: Vec<bool> = Vec::new();
    let mut checked_midway = false;
    for (index, spec) in specs.iter().enumerate() {
        let flush = !spec.same_batch && !batch.is_empty();
        if flush {
            apply_batch(engine, &mut batch, &mut took)?;
            if index >= half && !checked_midway {
                check_all(engine, naive, lookup, midway, all_records)?;
                checked_midway = true;
            }
        }
        let sequence = history.len() as u64 + 1;
        let write = resolve(spec, naive, hot, history, sequence);
        took.push(naive.apply(&write));
        history.push(write.clone());
        batch.push(write);
    }
    apply_batch(engine, &mut batch, &mut took)
}

fn apply_batch(engine: &Engine, batch: &mut Vec<CapacityWrite>, took: &mut Vec<bool>) -> Result<(), TestCaseError> {
    let outcomes = engine.apply_capacity(batch);
    prop_assert_eq!(outcomes.len(), batch.len());
    for ((write, outcomes), took) in batch.iter().zip(&outcomes).zip(took.iter()) {
        prop_assert_eq!(outcomes.len(), write.changes.len());
        prop_assert_eq!(engine_took(outcomes), *took, "whether {:?} took: {:?}", write, outcomes);
    }
    batch.clear();
    took.clear();
    Ok(())
}

/// `dataset` with some of the addressed locations' records made newer than some writes (dates
/// in the writes' range), some records added, some locations emptied: a later snapshot.
fn later_snapshot(dataset: &Dataset, addressed: &[u32], seed: u64, low: i64, high: i64) -> Dataset {
    let mut dataset = dataset.clone();
    let mut rng = SplitMix64::new(seed);
    let statuses = ["01", "02", "06"];
    let temporalities = ["01", "02"];
    for &location in addressed {
        if !rng.chance(0.6) {
            continue;
        }
        let records = &mut dataset.locations[location as usize].capacities;
        if rng.chance(0.15) {
            records.clear();
            continue;
        }
        for record in records.iter_mut() {
            if rng.chance(0.7) {
                record.updated_at = Some(rng.range_inclusive(low, high + (high - low) / 4));
                record.count = rng.below(40) as u32;
            }
        }
        for _ in 0..rng.below(3) {
            let record = CapacityRecord {
                capacity_type: "02".into(),
                status: (*rng.pick(&statuses)).into(),
                temporality: (*rng.pick(&temporalities)).into(),
                gender: rng.chance(0.3).then(|| Code::from("01")),
                temporary_assignment: rng.chance(0.3).then(|| Code::from("02")),
                count: rng.below(40) as u32,
                updated_at: Some(rng.range_inclusive(low, high + (high - low) / 4)),
                ..CapacityRecord::default()
            };
            if !records.iter().any(|held| same_key(held, &record)) {
                records.push(record);
            }
        }
    }
    dataset
}

/// Replays the whole history onto `engine` in one batch (what a swap does) and checks it
/// against the naive replay of the history from the engine's dataset.
fn check_swap(
    engine: &Engine,
    history: &[CapacityWrite],
    checks: &Checks,
    all_records: bool,
) -> Result<(), TestCaseError> {
    let mut naive = Naive::of(&engine.data().dataset);
    let took: Vec<bool> = history.iter().map(|write| naive.apply(write)).collect();
    let outcomes = engine.apply_capacity(history);
    for ((write, outcomes), took) in history.iter().zip(&outcomes).zip(&took) {
        prop_assert_eq!(engine_took(outcomes), *took, "whether {:?} took on the new snapshot: {:?}", write, outcomes);
    }
    let lookup = Lookup::of(&engine.data().dataset);
    check_all(engine, &naive, &lookup, checks, all_records)
}

// ---------------------------------------------------------------------------------------------
// Random datasets: a fresh engine per case.

/// The random dataset of the engine tests, with ORSAN levels and some offers provided at a
/// second location (another offer's): locations shared by offers, offers over two locations.
fn live_dataset(seed: u64, eg_count: usize) -> Dataset {
    let mut dataset = random_dataset(seed, eg_count);
    let mut rng = SplitMix64::new(seed ^ 0x00c0_ffee);
    let locations = dataset.locations.len() as u64;
    for offer in &mut dataset.offers {
        if rng.chance(0.15) {
            let other = rng.below(locations) as u32;
            if !offer.locations.contains(&other) {
                offer.locations.push(other);
            }
        }
    }
    for eg in &mut dataset.egs {
        eg.orsan_level = match rng.below(3) {
            0 => None,
            1 => Some("1".into()),
            _ => Some("4".into()),
        };
    }
    dataset
}

/// Dates of the random data's records: up to 100 000 s before `NOW`; writes span twice that.
const RANDOM_LOW: i64 = NOW - 100_000;
const RANDOM_HIGH: i64 = NOW + 100_000;

#[derive(Debug, Clone)]
struct RandomCase {
    seed: u64,
    eg_count: usize,
    writes: Vec<WriteSpec>,
    midway: Checks,
    end: Checks,
    swap: Checks,
}

fn random_case_strategy() -> impl Strategy<Value = RandomCase> {
    let places: Vec<(f64, f64)> = CLUSTERS.iter().map(|&(lat, lon, _)| (lat, lon)).collect();
    (
        any::<u64>(),
        prop_oneof![3 => 20usize..80, 1 => 260usize..320],
        prop::collection::vec(write_strategy(RANDOM_LOW, RANDOM_HIGH), 1..=40),
        checks_strategy(places.clone(), true),
        checks_strategy(places.clone(), true),
        checks_strategy(places, true),
    )
        .prop_map(|(seed, eg_count, writes, midway, end, swap)| RandomCase {
            seed,
            eg_count,
            writes,
            midway,
            end,
            swap,
        })
}

fn run_random_case(case: &RandomCase) -> Result<(), TestCaseError> {
    let dir = crate::common::temp_dir();
    let data = SnapshotData { dataset: live_dataset(case.seed, case.eg_count), communes: communes() };
    let engine = engine_of(data, &dir.path().join("first"));
    let dataset = &engine.data().dataset;
    let mut naive = Naive::of(dataset);
    let lookup = Lookup::of(dataset);
    let locations = dataset.locations.len();
    let hot: Vec<u32> = (0..HOT).map(|index| (index * locations / HOT) as u32).collect();
    let mut history = Vec::new();
    run_writes(&engine, &mut naive, &lookup, &hot, &mut history, &case.writes, &case.midway, true)?;
    check_all(&engine, &naive, &lookup, &case.end, true)?;

    // A later snapshot of the same data, some records newer than some writes.
    let later = later_snapshot(dataset, &naive.addressed, case.seed ^ 0x5a5a, RANDOM_LOW, RANDOM_HIGH);
    let swapped = engine_of(
        SnapshotData { dataset: later, communes: engine.data().communes.clone() },
        &dir.path().join("second"),
    );
    check_swap(&swapped, &history, &case.swap, true)
}

#[test]
fn live_property_random_writes_match_a_naive_replay() {
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(SEED),
        ..Config::default()
    });
    runner.run(&random_case_strategy(), |case| run_random_case(&case)).unwrap();
}

// ---------------------------------------------------------------------------------------------
// The sample data: one engine per run, writes cumulative over the cases.

/// The sample engine of this test alone (the shared one must stay unwritten).
fn own_sample_engine(dir: &std::path::Path) -> Engine {
    let output = ror_search::ingest::ingest(&[crate::common::crate_path("data-samples/ror-feed")], &mut |_| {})
        .expect("sample feed");
    engine_of(SnapshotData { dataset: output.dataset, communes: communes() }, dir)
}

#[derive(Debug, Clone)]
struct SampleCase {
    writes: Vec<WriteSpec>,
    midway: Checks,
    end: Checks,
}

#[test]
fn live_property_sample_writes_match_a_naive_replay() {
    let dir = crate::common::temp_dir();
    let engine = own_sample_engine(&dir.path().join("first"));
    let dataset = &engine.data().dataset;
    // Dates of the sample's records, and writes around them (older and newer).
    let dates: Vec<i64> =
        dataset.locations.iter().flat_map(|location| location.capacities.iter().filter_map(|r| r.updated_at)).collect();
    let newest = dates.iter().copied().max().expect("dated records");
    let (low, high) = (newest - 5 * 86_400, newest + 86_400);
    let places = vec![
        (44.8378, -0.5792),  // Bordeaux
        (48.8566, 2.3522),   // Paris
        (45.7606, 4.8594),   // Lyon Part-Dieu
        (43.2965, 5.3698),   // Marseille
        (44.5594, 2.0285),   // rural Aveyron
        (41.9267, 8.7369),   // Ajaccio
        (-20.8823, 55.4504), // Saint-Denis (Réunion)
    ];
    let strategy = (
        prop::collection::vec(write_strategy(low, high), 1..=40),
        checks_strategy(places.clone(), false),
        checks_strategy(places.clone(), false),
    )
        .prop_map(|(writes, midway, end)| SampleCase { writes, midway, end });
    let lookup = Lookup::of(dataset);
    // Hot locations: a few spread over the data.
    let locations = dataset.locations.len();
    let hot: Vec<u32> = (0..HOT).map(|index| (index * locations / HOT + 17) as u32).collect();
    let state = RefCell::new((Naive::of(dataset), Vec::new()));
    let mut runner = TestRunner::new(Config {
        cases: 40,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(SEED ^ 1),
        // The state is cumulative: a shrunk case would not replay the same history.
        max_shrink_iters: 0,
        ..Config::default()
    });
    runner
        .run(&strategy, |case| {
            let mut state = state.borrow_mut();
            let (naive, history) = &mut *state;
            run_writes(&engine, naive, &lookup, &hot, history, &case.writes, &case.midway, false)?;
            check_all(&engine, naive, &lookup, &case.end, false)
        })
        .unwrap();

    // A later snapshot of the sample, the whole history replayed onto it.
    let (naive, history) = state.into_inner();
    let later = later_snapshot(dataset, &naive.addressed, SEED, low, high);
    let swapped = engine_of(
        SnapshotData { dataset: later, communes: engine.data().communes.clone() },
        &dir.path().join("second"),
    );
    let mut runner = TestRunner::new(Config { rng_seed: RngSeed::Fixed(SEED ^ 2), ..Config::default() });
    let checks = checks_strategy(places, false).new_tree(&mut runner).expect("checks").current();
    if let Err(error) = check_swap(&swapped, &history, &checks, false) {
        panic!("after the swap: {error}");
    }
}

/// The state digest (what replicas compare): equal for the same writes on the same snapshot,
/// changed by a write that applies, unchanged by one that is ignored, and, kept between calls,
/// the same as a fresh engine's of the same state.
#[test]
fn the_state_digest_follows_the_applied_writes() {
    let dir = crate::common::temp_dir();
    let dataset = live_dataset(SEED, 40);
    let data = || SnapshotData { dataset: dataset.clone(), communes: communes() };
    let (one, two) = (engine_of(data(), &dir.path().join("one")), engine_of(data(), &dir.path().join("two")));
    let location = 0;
    let record = |count: u32, at: i64| CapacityRecord {
        capacity_type: "02".into(),
        status: "02".into(),
        temporality: "01".into(),
        gender: Some("03".into()),
        temporary_assignment: Some("01".into()),
        count,
        updated_at: Some(at),
        ..CapacityRecord::default()
    };
    let write = |count: u32, at: i64, version: u64| CapacityWrite {
        location,
        changes: vec![CapacityChange::Upsert(record(count, at))].into(),
        version,
        at: NOW,
    };
    let start = one.state_digest();
    assert_eq!(start, two.state_digest(), "the same snapshot, the same digest");
    assert_eq!(start, one.state_digest(), "asked again");

    assert!(one.apply_capacity(&[write(7, NOW, 1)])[0][0].applied());
    let after = one.state_digest();
    assert_ne!(after, start, "an applied write changes the digest");
    assert_eq!(after, one.state_digest(), "kept until the next write");

    assert!(!one.apply_capacity(&[write(9, NOW - 10, 2)])[0][0].applied(), "older: ignored");
    assert_eq!(one.state_digest(), after, "an ignored write changes nothing");

    two.apply_capacity(&[write(7, NOW, 1)]);
    assert_eq!(two.state_digest(), after, "the same writes on the same snapshot, the same digest");
    let three = engine_of(data(), &dir.path().join("three"));
    three.apply_capacity(&[write(7, NOW, 5)]);
    assert_ne!(three.state_digest(), after, "the version (the stream sequence) is part of the state");
}
