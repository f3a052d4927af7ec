//! Live capacities: the capacity state the establishments' writes left, over a snapshot.
//!
//! A snapshot's capacity records are fixed; bed-management writes change them between
//! snapshots. [`LiveView`] holds what the queries read of capacities (per doc: installed,
//! available, crisis T0 / T60; per position: their maxima, for the summaries; per location:
//! its records once a write touched it) as *persistent chunked arrays*: a write copies only the
//! chunks it changes and the small vectors of chunk pointers, then the new view is swapped in
//! whole ([`arc_swap`]). A query loads one view at its start and reads it to the end, so it
//! sees each write whole or not at all, and never waits for a writer.
//!
//! Semantics (one place, with [`crate::model::CapacityKey`]): a record is identified by its
//! location and its whole indicator tuple; the newest `capacityUpdateDate` wins; a write older
//! than the record held is ignored and said so; an upsert of a new key adds a record; a delete
//! of a missing key is said so.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::clusters::MapGrid;
use super::columns::CapacityCounts;
use crate::model::rules::CapacityTotals;
use crate::model::{CapacityKey, CapacityRecord};
use crate::util::time::UnixSeconds;

/// log2 of the entries per chunk, by default.
const CHUNK_BITS: usize = 10;

/// A fixed-length array in chunks of `2^BITS` entries shared between versions: cloning it
/// copies the chunk pointers, setting an entry copies its chunk if another version shares it.
#[derive(Debug, Clone)]
pub(crate) struct Chunked<T: Clone, const BITS: usize = CHUNK_BITS> {
    chunks: Vec<Arc<Vec<T>>>,
}

impl<T: Clone, const BITS: usize> Chunked<T, BITS> {
    const MASK: usize = (1 << BITS) - 1;

    /// The array holding `values`.
    pub(crate) fn from_vec(values: Vec<T>) -> Chunked<T, BITS> {
        let chunks = values.chunks(1 << BITS).map(|chunk| Arc::new(chunk.to_vec())).collect();
        Chunked { chunks }
    }

    /// An array of `len` copies of `value`.
    pub(crate) fn filled(len: usize, value: T) -> Chunked<T, BITS> {
        Chunked::from_vec(vec![value; len])
    }

    /// The entry at `index`.
    #[inline]
    pub(crate) fn get(&self, index: usize) -> &T {
        &self.chunks[index >> BITS][index & Self::MASK]
    }

    /// The entry at `index`, to change, copying its chunk if another version shares it.
    pub(crate) fn get_mut(&mut self, index: usize) -> &mut T {
        &mut Arc::make_mut(&mut self.chunks[index >> BITS])[index & Self::MASK]
    }

    /// Sets the entry at `index`, copying its chunk if another version shares it.
    pub(crate) fn set(&mut self, index: usize, value: T) {
        *self.get_mut(index) = value;
    }

    /// The entries in order, chunk by chunk.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flat_map(|chunk| chunk.iter())
    }
}

/// The words of a bitmap of `len` bits set where `bit` says.
pub(crate) fn bitmap_words(len: usize, bit: impl Fn(usize) -> bool) -> Vec<u64> {
    let mut words = vec![0u64; len.div_ceil(64)];
    for index in (0..len).filter(|&index| bit(index)) {
        words[index / 64] |= 1 << (index % 64);
    }
    words
}

/// The capacity maxima of a position (what the position summaries need of capacities), and
/// its sums (what the map counts without visiting its docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PositionCapacity {
    pub(crate) max_available: u32,
    pub(crate) max_crisis_t0: u32,
    pub(crate) max_crisis_t60: u32,
    /// Sums over the position's docs, `[medico-social][available, crisis T0, crisis T60]`
    /// (`[0]`: the others), saturating: a profile's visibility depends on that bit (and on
    /// the sensitive one, which the map's shortcut requires clear).
    pub(crate) sums: [[u32; 3]; 2],
}

impl PositionCapacity {
    /// The maxima and sums of `docs` (their counts, and whether each is medico-social).
    fn of(docs: impl Iterator<Item = (CapacityCounts, bool)>) -> PositionCapacity {
        let mut capacity = PositionCapacity::default();
        for (counts, medico_social) in docs {
            capacity.max_available = capacity.max_available.max(counts.available);
            capacity.max_crisis_t0 = capacity.max_crisis_t0.max(counts.crisis_t0);
            capacity.max_crisis_t60 = capacity.max_crisis_t60.max(counts.crisis_t60);
            let sums = &mut capacity.sums[usize::from(medico_social)];
            sums[0] = sums[0].saturating_add(counts.available);
            sums[1] = sums[1].saturating_add(counts.crisis_t0);
            sums[2] = sums[2].saturating_add(counts.crisis_t60);
        }
        capacity
    }

    /// Whether one of its sums is saturated (no longer the sum of its docs').
    pub(crate) fn saturated(&self) -> bool {
        self.sums.iter().flatten().any(|&sum| sum == u32::MAX)
    }
}

/// The sums of the positions of one block of the map grid's scan (see
/// [`super::clusters::MapGrid`]): a whole-France map adds a block at a time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct BlockSums {
    /// Over its positions, `[medico-social][available, crisis T0, crisis T60]` as in
    /// [`PositionCapacity::sums`] (saturated ones included as they are).
    pub(crate) sums: [[u64; 3]; 2],
    /// How many of its positions have a saturated sum (the block is then counted position by
    /// position).
    pub(crate) saturated: u32,
}

impl BlockSums {
    /// Adds a position's sums.
    fn add(&mut self, capacity: &PositionCapacity) {
        for (sums, position) in self.sums.iter_mut().zip(&capacity.sums) {
            for (sum, value) in sums.iter_mut().zip(position) {
                *sum += u64::from(*value);
            }
        }
        self.saturated += u32::from(capacity.saturated());
    }

    /// Takes back what [`BlockSums::add`] added of a position.
    fn remove(&mut self, capacity: &PositionCapacity) {
        for (sums, position) in self.sums.iter_mut().zip(&capacity.sums) {
            for (sum, value) in sums.iter_mut().zip(position) {
                *sum -= u64::from(*value);
            }
        }
        self.saturated -= u32::from(capacity.saturated());
    }
}

/// log2 of the positions in a block of [`LiveView::capacity_blocks`].
pub(crate) const CAPACITY_BLOCK_BITS: u32 = 5;
/// log2 of the blocks in a superblock of [`LiveView::capacity_superblock`].
pub(crate) const CAPACITY_SUPERBLOCK_BITS: u32 = 6;

/// How many docs of a block of positions (consecutive ids) have some capacity, for exact
/// counts without visiting them ([`crate::engine::plan::count`]): per medico-social bit and
/// sensitive bit (what a profile sees of them), per pattern of `available ≥ 1` (bit 0),
/// `crisis T0 ≥ 1` (bit 1), `crisis T60 ≥ 1` (bit 2). Closures change with time: the docs
/// counted are those open over `open_from..open_until`, an interval in which none of the
/// block's docs opens or closes; a query at another instant visits the block doc by doc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CapacityPatterns {
    /// `[medico-social][sensitive][pattern]`.
    pub(crate) docs: [[[u32; 8]; 2]; 2],
    /// Unix seconds.
    pub(crate) open_from: i64,
    pub(crate) open_until: i64,
}

impl Default for CapacityPatterns {
    fn default() -> CapacityPatterns {
        CapacityPatterns { docs: Default::default(), open_from: i64::MIN, open_until: i64::MAX }
    }
}

impl CapacityPatterns {
    /// Adds another block's counts; the interval becomes the one both share.
    fn add(&mut self, other: &CapacityPatterns) {
        self.open_from = self.open_from.max(other.open_from);
        self.open_until = self.open_until.min(other.open_until);
        for (sum, docs) in self.docs.iter_mut().flatten().flatten().zip(other.docs.iter().flatten().flatten()) {
            *sum += docs;
        }
    }

    /// The pattern of a doc's counts.
    #[inline]
    pub(crate) fn pattern(counts: &CapacityCounts) -> usize {
        usize::from(counts.available > 0)
            | usize::from(counts.crisis_t0 > 0) << 1
            | usize::from(counts.crisis_t60 > 0) << 2
    }
}

/// What queries read of capacities, as the last write left it.
#[derive(Debug, Clone)]
pub struct LiveView {
    /// Per doc: the counts the filters and sorts read (set through [`LiveView::set_counts`]).
    capacity: Chunked<CapacityCounts>,
    /// One bit per doc (64 a word) per `available ≥ 1`, `crisis T0 ≥ 1`, `crisis T60 ≥ 1` (the
    /// bits of [`CapacityPatterns::pattern`]), for exact counts a word at a time; T0 or T60
    /// are the docs with crisis capacity, the tenth of the docs the crisis query's walk over
    /// the whole country reads (small chunks: a write copies 512 bytes of each it changes).
    capacity_bits: [Chunked<u64, 6>; 3],
    /// Per position: the maxima over its docs.
    pub(crate) positions: Chunked<PositionCapacity>,
    /// Per block of the map grid's scan: the sums of its positions (small chunks: a write
    /// copies one).
    map_blocks: Chunked<BlockSums, 6>,
    /// Per block of `2^CAPACITY_BLOCK_BITS` positions (by id), its docs open over its interval
    /// by capacity pattern.
    capacity_blocks: Chunked<CapacityPatterns, 6>,
    /// Per `2^CAPACITY_SUPERBLOCK_BITS` consecutive blocks, their patterns summed (the open
    /// interval: the one they share).
    capacity_superblocks: Chunked<CapacityPatterns, 6>,
    /// Per location: its records and version, once a write changed them (`None`: the
    /// snapshot's, version 0).
    pub(crate) records: Chunked<Option<Arc<LiveLocation>>>,
    /// Writes applied since the snapshot.
    pub(crate) writes_applied: u64,
    /// Newest `capacityUpdateDate` written, Unix seconds.
    pub(crate) newest_write_at: Option<UnixSeconds>,
}

impl LiveView {
    /// The view of a snapshot with no write: its own counts, maxima and sums (those of the
    /// blocks of `map_grid` too).
    pub(crate) fn of_snapshot(
        capacity: &[CapacityCounts],
        positions: Vec<PositionCapacity>,
        locations: usize,
        map_grid: &MapGrid,
        capacity_blocks: Vec<CapacityPatterns>,
    ) -> LiveView {
        let mut map_blocks = vec![BlockSums::default(); map_grid.blocks()];
        for (position, capacity) in positions.iter().enumerate() {
            map_blocks[map_grid.block_of(position as u32)].add(capacity);
        }
        LiveView {
            capacity: Chunked::from_vec(capacity.to_vec()),
            capacity_bits: [0, 1, 2].map(|bit| {
                Chunked::from_vec(bitmap_words(capacity.len(), |doc| {
                    CapacityPatterns::pattern(&capacity[doc]) >> bit & 1 == 1
                }))
            }),
            positions: Chunked::from_vec(positions),
            map_blocks: Chunked::from_vec(map_blocks),
            capacity_superblocks: Chunked::from_vec(
                capacity_blocks
                    .chunks(1 << CAPACITY_SUPERBLOCK_BITS)
                    .map(|blocks| {
                        blocks.iter().fold(CapacityPatterns::default(), |mut sum, block| {
                            sum.add(block);
                            sum
                        })
                    })
                    .collect(),
            ),
            capacity_blocks: Chunked::from_vec(capacity_blocks),
            records: Chunked::filled(locations, None),
            writes_applied: 0,
            newest_write_at: None,
        }
    }

    /// A view of no doc (for unit tests of what reads a view).
    #[cfg(test)]
    pub(crate) fn empty_for_tests() -> LiveView {
        LiveView {
            capacity: Chunked::from_vec(Vec::new()),
            capacity_bits: [(); 3].map(|()| Chunked::from_vec(Vec::new())),
            positions: Chunked::from_vec(Vec::new()),
            map_blocks: Chunked::from_vec(Vec::new()),
            capacity_blocks: Chunked::from_vec(Vec::new()),
            capacity_superblocks: Chunked::from_vec(Vec::new()),
            records: Chunked::from_vec(Vec::new()),
            writes_applied: 0,
            newest_write_at: None,
        }
    }

    /// The counts of a doc.
    #[inline]
    pub(crate) fn counts(&self, doc: u32) -> &CapacityCounts {
        self.capacity.get(doc as usize)
    }

    /// Sets the counts of a doc.
    pub(crate) fn set_counts(&mut self, doc: u32, counts: CapacityCounts) {
        let doc = doc as usize;
        let (word, bit) = (doc / 64, 1u64 << (doc % 64));
        let pattern = CapacityPatterns::pattern(&counts);
        for (index, bits) in self.capacity_bits.iter_mut().enumerate() {
            let held = *bits.get(word);
            let next = if pattern >> index & 1 == 1 { held | bit } else { held & !bit };
            if next != held {
                bits.set(word, next);
            }
        }
        self.capacity.set(doc, counts);
    }

    /// Word `word` of the docs with `available ≥ 1` (`index` 0), `crisis T0 ≥ 1` (1) or
    /// `crisis T60 ≥ 1` (2): the counts as held, before any profile's masking.
    #[inline]
    pub(crate) fn capacity_word(&self, index: usize, word: usize) -> u64 {
        *self.capacity_bits[index].get(word)
    }

    /// The locations whose records differ between `older` (a view of the same snapshot) and
    /// this one: chunks shared by both are skipped whole.
    pub fn changed_locations(&self, older: &LiveView) -> Vec<u32> {
        let mut changed = Vec::new();
        for (chunk_index, (now, before)) in self.records.chunks.iter().zip(&older.records.chunks).enumerate() {
            if Arc::ptr_eq(now, before) {
                continue;
            }
            for (offset, (a, b)) in now.iter().zip(before.iter()).enumerate() {
                let same = match (a, b) {
                    (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                    (None, None) => true,
                    _ => false,
                };
                if !same {
                    changed.push(((chunk_index << CHUNK_BITS) + offset) as u32);
                }
            }
        }
        changed
    }

    /// Calls `visit` on every doc with crisis capacity (T0 or T60 > 0), in doc order.
    #[inline]
    pub(crate) fn for_each_crisis_doc(&self, mut visit: impl FnMut(u32)) {
        let [_, t0, t60] = &self.capacity_bits;
        for (index, (&t0, &t60)) in t0.iter().zip(t60.iter()).enumerate() {
            let mut bits = t0 | t60;
            while bits != 0 {
                visit((index * 64) as u32 + bits.trailing_zeros());
                bits &= bits - 1;
            }
        }
    }

    /// The capacity maxima of a position.
    #[inline]
    pub(crate) fn position(&self, position: u32) -> &PositionCapacity {
        self.positions.get(position as usize)
    }

    /// The sums of a block of the map grid's scan.
    #[inline]
    pub(crate) fn map_block(&self, block: usize) -> &BlockSums {
        self.map_blocks.get(block)
    }

    /// The docs by capacity pattern of a block of positions.
    #[inline]
    pub(crate) fn capacity_block(&self, block: usize) -> &CapacityPatterns {
        self.capacity_blocks.get(block)
    }

    /// The patterns of a superblock of `2^CAPACITY_SUPERBLOCK_BITS` blocks.
    #[inline]
    pub(crate) fn capacity_superblock(&self, superblock: usize) -> &CapacityPatterns {
        self.capacity_superblocks.get(superblock)
    }

    /// The live records of a location, when a write changed them.
    #[inline]
    pub(crate) fn records_of(&self, location: u32) -> Option<&[CapacityRecord]> {
        self.records.get(location as usize).as_deref().map(|live| live.records.as_slice())
    }

    /// The version of a location's records (0: the snapshot's; then the sequence number of the
    /// last write that changed them) and when it was changed (Unix seconds).
    pub fn version_of(&self, location: u32) -> (u64, Option<UnixSeconds>) {
        self.records.get(location as usize).as_deref().map_or((0, None), |live| (live.version, Some(live.changed_at)))
    }

    /// Number of writes applied since the snapshot.
    pub fn writes_applied(&self) -> u64 {
        self.writes_applied
    }

    /// Newest `capacityUpdateDate` written since the snapshot, Unix seconds.
    pub fn newest_write_at(&self) -> Option<UnixSeconds> {
        self.newest_write_at
    }
}

/// The records of a location once a write changed them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LiveLocation {
    pub(crate) records: Vec<CapacityRecord>,
    /// Sequence number of the last write that changed them.
    pub(crate) version: u64,
    /// When that write was applied, Unix seconds.
    pub(crate) changed_at: UnixSeconds,
}

/// What a write does to the capacity records of a location.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum CapacityChange {
    /// Adds the record, or replaces the record of the same key (a PATCH `add`).
    Upsert(CapacityRecord),
    /// Replaces the record of the same key, which must exist (a PATCH `replace` of one record).
    Replace(CapacityRecord),
    /// Replaces every record of the location by these (the deprecated scenario 9); a held
    /// record newer than the one given for its key is kept.
    ReplaceAll(Vec<CapacityRecord>),
    /// Removes the record of this key; `at` orders it against the record held (a delete older
    /// than the record is ignored).
    Delete {
        /// The record's key.
        key: CapacityKey,
        /// When the delete was made, Unix seconds (`None`: now, always applied).
        at: Option<UnixSeconds>,
    },
}

/// What became of one change.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangeOutcome {
    /// Applied: the record before (none for a new key) and after (none for a delete).
    Applied {
        /// The record held before.
        before: Option<Box<CapacityRecord>>,
        /// The record held after.
        after: Option<Box<CapacityRecord>>,
    },
    /// Not applied: the record held is newer (last writer wins by `capacityUpdateDate`).
    Older {
        /// The record held, newer than the change.
        held: Box<CapacityRecord>,
    },
    /// A replace or delete of a key the location does not hold.
    NoSuchRecord,
}

impl ChangeOutcome {
    /// Whether the change was applied.
    pub fn applied(&self) -> bool {
        matches!(self, ChangeOutcome::Applied { .. })
    }
}

/// The newest of the records of `key` (a snapshot may hold several records of one key, from a
/// feed that repeats an indicator: they are one record, the newest wins; a write replaces or
/// deletes all of them).
fn newest_of(records: &[CapacityRecord], key: &CapacityKey) -> Option<usize> {
    records
        .iter()
        .enumerate()
        .filter(|(_, held)| held.key() == *key)
        .max_by_key(|(_, held)| held.updated_at)
        .map(|(index, _)| index)
}

/// Applies one change to a location's records (in place). Pure: the rule of last writer wins.
pub fn apply_change(records: &mut Vec<CapacityRecord>, change: &CapacityChange) -> ChangeOutcome {
    match change {
        CapacityChange::Upsert(record) => {
            let key = record.key();
            match newest_of(records, &key) {
                Some(index) => {
                    let held = &records[index];
                    if record.updated_at < held.updated_at {
                        return ChangeOutcome::Older { held: Box::new(held.clone()) };
                    }
                    let before = held.clone();
                    // The record replaces every record of its key (a snapshot may hold several).
                    let first = records.iter().position(|held| held.key() == key).unwrap_or(index);
                    records[first] = record.clone();
                    let mut position = 0;
                    records.retain(|held| {
                        position += 1;
                        position - 1 == first || held.key() != key
                    });
                    ChangeOutcome::Applied { before: Some(Box::new(before)), after: Some(Box::new(record.clone())) }
                }
                None => {
                    records.push(record.clone());
                    ChangeOutcome::Applied { before: None, after: Some(Box::new(record.clone())) }
                }
            }
        }
        CapacityChange::Replace(record) => {
            if records.iter().any(|held| held.key() == record.key()) {
                apply_change(records, &CapacityChange::Upsert(record.clone()))
            } else {
                ChangeOutcome::NoSuchRecord
            }
        }
        CapacityChange::ReplaceAll(given) => {
            let mut next: Vec<CapacityRecord> = Vec::with_capacity(given.len());
            for record in given {
                let key = record.key();
                let newer_held = newest_of(records, &key)
                    .filter(|&index| records[index].updated_at > record.updated_at)
                    .map(|index| records[index].clone());
                next.retain(|kept| kept.key() != key);
                next.push(newer_held.unwrap_or_else(|| record.clone()));
            }
            *records = next;
            ChangeOutcome::Applied { before: None, after: None }
        }
        CapacityChange::Delete { key, at } => match newest_of(records, key) {
            Some(index) => {
                if let Some(at) = at
                    && records[index].updated_at.is_some_and(|held_at| held_at > *at)
                {
                    return ChangeOutcome::Older { held: Box::new(records[index].clone()) };
                }
                let before = records[index].clone();
                records.retain(|held| held.key() != *key);
                ChangeOutcome::Applied { before: Some(Box::new(before)), after: None }
            }
            None => ChangeOutcome::NoSuchRecord,
        },
    }
}

/// The records of a location while a batch is applied, and the (version, time) of the last
/// write of the batch that changed them.
struct Working {
    records: Vec<CapacityRecord>,
    stamp: Option<(u64, UnixSeconds)>,
}

/// The counts of a set of records (summed over genders and locations, as the columns hold them).
pub(crate) fn counts_of<'a>(records: impl IntoIterator<Item = &'a CapacityRecord>) -> CapacityCounts {
    CapacityCounts::from(&CapacityTotals::of_records(records))
}

impl super::Index {
    /// The view of this snapshot before any write.
    pub(crate) fn snapshot_view(&self) -> LiveView {
        let positions = (0..self.layout.positions.len() as u32)
            .map(|position| {
                let capacity = self.position_capacity(position, |doc| self.columns.capacity[doc as usize]);
                debug_assert_eq!(capacity.max_available, self.summaries.max_available[position as usize]);
                capacity
            })
            .collect();
        let blocks = self.layout.positions.len().div_ceil(1 << CAPACITY_BLOCK_BITS);
        let mut capacity_blocks = vec![CapacityPatterns::default(); blocks];
        let now = crate::util::time::now();
        let columns = &self.columns;
        for (block, patterns) in capacity_blocks.iter_mut().enumerate() {
            let first = (block << CAPACITY_BLOCK_BITS) as u32;
            let positions = first..(first + (1 << CAPACITY_BLOCK_BITS)).min(self.layout.positions.len() as u32);
            let docs = self.layout.docs_of_positions(positions);
            for doc in docs.clone().filter(|&doc| self.may_close(doc)) {
                for instant in super::filter::closure_instants(columns, doc as usize) {
                    if instant <= now {
                        patterns.open_from = patterns.open_from.max(instant);
                    } else {
                        patterns.open_until = patterns.open_until.min(instant);
                    }
                }
            }
            let open_from = patterns.open_from;
            for doc in docs.filter(|&doc| !self.closed_at(open_from, doc)) {
                let [medico_social, sensitive] = self.visibility_bits(doc);
                patterns.docs[medico_social][sensitive][CapacityPatterns::pattern(&columns.capacity[doc as usize])] +=
                    1;
            }
        }
        LiveView::of_snapshot(
            &self.columns.capacity,
            positions,
            self.data.dataset.locations.len(),
            &self.map_grid,
            capacity_blocks,
        )
    }

    /// Whether a doc has a closing date (its own or its EG's).
    #[inline]
    pub(crate) fn may_close(&self, doc: u32) -> bool {
        super::columns::bit(&self.columns.may_close, doc as usize)
    }

    /// Whether a doc is closed at `instant`: for a block's `open_from`, whether it is left out
    /// of the block's patterns (its closure is the same over the whole interval).
    #[inline]
    fn closed_at(&self, instant: i64, doc: u32) -> bool {
        self.may_close(doc) && super::filter::is_closed(&self.columns, doc as usize, instant)
    }

    /// A doc's medico-social and sensitive bits, as indexes.
    #[inline]
    pub(crate) fn visibility_bits(&self, doc: u32) -> [usize; 2] {
        let columns = &self.columns;
        [&columns.medico_social, &columns.sensitive].map(|bits| usize::from(super::columns::bit(bits, doc as usize)))
    }

    /// The records a location holds in `view`.
    pub(crate) fn location_records<'a>(&'a self, view: &'a LiveView, location: u32) -> &'a [CapacityRecord] {
        view.records_of(location).unwrap_or(&self.data.dataset.locations[location as usize].capacities)
    }

    /// Applies a batch of writes to `view` (a copy the caller swaps in), in order, handing
    /// `each` the outcomes of every write as it goes (a replay of a million writes keeps none
    /// of them). A write holds the changes of one location, applied all or nothing: when a
    /// change finds no record to replace or delete, none of them is. The records of each
    /// location are copied once per batch, however many writes it gets; then the counts of the
    /// offers provided at the locations changed, and the maxima of their positions, are
    /// recomputed once.
    pub(crate) fn apply_batch(
        &self,
        view: &mut LiveView,
        writes: &[super::CapacityWrite<'_>],
        mut each: impl FnMut(usize, Vec<ChangeOutcome>),
    ) {
        let mut working: FxHashMap<u32, Working> = FxHashMap::default();
        for (index, write) in writes.iter().enumerate() {
            let location = working.entry(write.location).or_insert_with(|| Working {
                records: self.location_records(view, write.location).to_vec(),
                stamp: None,
            });
            let outcomes = if let [change] = write.changes.as_ref() {
                // One change leaves the records as they were unless it applies.
                vec![apply_change(&mut location.records, change)]
            } else {
                let mut records = location.records.clone();
                let outcomes: Vec<ChangeOutcome> =
                    write.changes.iter().map(|change| apply_change(&mut records, change)).collect();
                if !outcomes.contains(&ChangeOutcome::NoSuchRecord) {
                    location.records = records;
                }
                outcomes
            };
            let applied = outcomes.iter().filter(|outcome| outcome.applied()).count() as u64;
            if applied > 0 && !outcomes.contains(&ChangeOutcome::NoSuchRecord) {
                for (change, outcome) in write.changes.iter().zip(&outcomes) {
                    if let (CapacityChange::Upsert(record) | CapacityChange::Replace(record), true) =
                        (change, outcome.applied())
                    {
                        view.newest_write_at = view.newest_write_at.max(record.updated_at);
                    }
                }
                view.writes_applied += applied;
                location.stamp = Some((write.version, write.at));
            }
            each(index, outcomes);
        }
        let mut offers = Vec::new();
        for (location, Working { records, stamp }) in working {
            let Some((version, changed_at)) = stamp else { continue };
            view.records.set(location as usize, Some(Arc::new(LiveLocation { records, version, changed_at })));
            offers.extend_from_slice(self.lookups.offers_of_location(location));
        }
        offers.sort_unstable();
        offers.dedup();
        let dataset = &self.data.dataset;
        let mut dirty = Vec::new();
        for offer in offers {
            let counts = counts_of(
                dataset.offers[offer as usize]
                    .locations
                    .iter()
                    .flat_map(|&location| self.location_records(view, location).iter()),
            );
            let doc = self.layout.doc_of_offer[offer as usize];
            let position = self.layout.position_of_doc[doc as usize];
            let (before, after) = (CapacityPatterns::pattern(view.counts(doc)), CapacityPatterns::pattern(&counts));
            if position != super::layout::NO_POSITION && before != after {
                let block = (position >> CAPACITY_BLOCK_BITS) as usize;
                if !self.closed_at(view.capacity_block(block).open_from, doc) {
                    let [medico_social, sensitive] = self.visibility_bits(doc);
                    for patterns in [
                        view.capacity_blocks.get_mut(block),
                        view.capacity_superblocks.get_mut(block >> CAPACITY_SUPERBLOCK_BITS),
                    ] {
                        patterns.docs[medico_social][sensitive][before] -= 1;
                        patterns.docs[medico_social][sensitive][after] += 1;
                    }
                }
            }
            view.set_counts(doc, counts);
            if position != super::layout::NO_POSITION {
                dirty.push(position);
            }
        }
        self.refresh_positions(view, &mut dirty);
    }

    /// Recomputes the capacity maxima and sums of the positions a batch changed.
    fn refresh_positions(&self, view: &mut LiveView, dirty: &mut Vec<u32>) {
        dirty.sort_unstable();
        dirty.dedup();
        for &position in dirty.iter() {
            let capacity = self.position_capacity(position, |doc| *view.counts(doc));
            let held = *view.position(position);
            if held.sums != capacity.sums {
                let block = view.map_blocks.get_mut(self.map_grid.block_of(position));
                block.remove(&held);
                block.add(&capacity);
            }
            view.positions.set(position as usize, capacity);
        }
    }

    /// The maxima and sums of a position's docs, their counts read by `counts`.
    fn position_capacity(&self, position: u32, counts: impl Fn(u32) -> CapacityCounts) -> PositionCapacity {
        let medico_social = &self.columns.medico_social;
        PositionCapacity::of(
            self.layout.docs_at(position).map(|doc| (counts(doc), super::columns::bit(medico_social, doc as usize))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(status: &str, temporary: &str, count: u32, at: i64) -> CapacityRecord {
        CapacityRecord {
            capacity_type: "02".into(),
            status: status.into(),
            temporality: "01".into(),
            gender: Some("03".into()),
            temporary_assignment: Some(temporary.into()),
            count,
            updated_at: Some(at),
            ..CapacityRecord::default()
        }
    }

    #[test]
    fn chunks_are_shared_until_written() {
        let first: Chunked<u32> = Chunked::from_vec((0..3000u32).collect());
        let mut second = first.clone();
        second.set(2500, 7);
        assert_eq!(*first.get(2500), 2500);
        assert_eq!(*second.get(2500), 7);
        assert!(Arc::ptr_eq(&first.chunks[0], &second.chunks[0]), "untouched chunks are shared");
        assert!(!Arc::ptr_eq(&first.chunks[2], &second.chunks[2]));
        // chunks of 64
        let small: Chunked<u32, 6> = Chunked::from_vec((0..200u32).collect());
        let mut changed = small.clone();
        *changed.get_mut(130) += 1;
        assert_eq!((*small.get(130), *changed.get(130), *changed.get(63), *changed.get(199)), (130, 131, 63, 199));
        assert_eq!(changed.chunks.len(), 4);
        assert!(
            Arc::ptr_eq(&small.chunks[1], &changed.chunks[1]) && !Arc::ptr_eq(&small.chunks[2], &changed.chunks[2])
        );
    }

    #[test]
    fn last_writer_wins_per_whole_key() {
        let mut records = vec![record("02", "01", 5, 100)];
        // Same status and temporality, another temporary assignment: another record.
        let outcome = apply_change(&mut records, &CapacityChange::Upsert(record("02", "02", 3, 100)));
        assert_eq!(outcome, ChangeOutcome::Applied { before: None, after: Some(Box::new(record("02", "02", 3, 100))) });
        assert_eq!(counts_of(&records).available, 8, "two records, each counted once");
        // A newer value replaces; an older one is ignored and said so.
        assert!(apply_change(&mut records, &CapacityChange::Upsert(record("02", "01", 9, 200))).applied());
        let older = apply_change(&mut records, &CapacityChange::Upsert(record("02", "01", 1, 150)));
        assert_eq!(older, ChangeOutcome::Older { held: Box::new(record("02", "01", 9, 200)) });
        assert_eq!(counts_of(&records).available, 12);
        // Deletes: an older delete is ignored, a missing key is said so.
        let key = record("02", "01", 0, 0).key();
        let stale = CapacityChange::Delete { key: key.clone(), at: Some(199) };
        assert!(matches!(apply_change(&mut records, &stale), ChangeOutcome::Older { .. }));
        assert!(apply_change(&mut records, &CapacityChange::Delete { key: key.clone(), at: None }).applied());
        assert_eq!(apply_change(&mut records, &CapacityChange::Delete { key, at: None }), ChangeOutcome::NoSuchRecord);
        assert_eq!(counts_of(&records).available, 3);
    }
}
