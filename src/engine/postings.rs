//! Posting lists (roaring bitmaps of doc ids) per code and per static flag, for queries over
//! large regions: "every EHPAD of France" is a union and an intersection of bitmaps, then a
//! cardinality, instead of a million column checks.

use roaring::RoaringBitmap;

use super::columns::Columns;

/// The bitmaps of a snapshot, built from its columns at load.
#[derive(Debug, Clone, Default)]
pub(crate) struct Postings {
    /// Docs of each dictionary id of the coded columns (index = id).
    pub(crate) category: Vec<RoaringBitmap>,
    pub(crate) offer_type: Vec<RoaringBitmap>,
    pub(crate) activity: Vec<RoaringBitmap>,
    pub(crate) care_mode: Vec<RoaringBitmap>,
    pub(crate) reception: Vec<RoaringBitmap>,
    pub(crate) departement: Vec<RoaringBitmap>,
    /// Docs by GIR policy byte (0 not applicable, 1 dependent, 2 autonomous).
    pub(crate) gir_policy: [RoaringBitmap; 3],
    /// Docs of EGs habilités à l'aide sociale.
    pub(crate) aide_sociale: RoaringBitmap,
    /// Docs with any closing date (offer or EG).
    pub(crate) may_close: RoaringBitmap,
    /// Docs in name order (the inverse of `Columns::name_rank`).
    pub(crate) docs_by_name: Vec<u32>,
    /// Every doc.
    pub(crate) all: RoaringBitmap,
    /// Every doc but those of unités sensibles: what profiles without them may match.
    pub(crate) not_sensitive: RoaringBitmap,
}

fn per_id(column: &[u16], ids: usize) -> Vec<RoaringBitmap> {
    let mut bitmaps = vec![RoaringBitmap::new(); ids];
    for (doc, &id) in column.iter().enumerate() {
        // Docs come in increasing order: `push` appends without searching.
        let pushed = bitmaps[id as usize].try_push(doc as u32);
        debug_assert!(pushed.is_ok());
    }
    bitmaps
}

impl Postings {
    /// Builds the bitmaps of the columns.
    pub(crate) fn new(columns: &Columns) -> Postings {
        let docs = columns.category.len();
        let dictionaries = &columns.dictionaries;
        let mut gir_policy: [RoaringBitmap; 3] = Default::default();
        let mut aide_sociale = RoaringBitmap::new();
        let mut may_close = RoaringBitmap::new();
        for doc in 0..docs {
            let _ = gir_policy[columns.gir_policy[doc].min(2) as usize].try_push(doc as u32);
            if columns.aide_sociale[doc] {
                let _ = aide_sociale.try_push(doc as u32);
            }
            if columns.may_close[doc >> 6] >> (doc & 63) & 1 == 1 {
                let _ = may_close.try_push(doc as u32);
            }
        }
        let mut docs_by_name = vec![0u32; docs];
        for (doc, &rank) in columns.name_rank.iter().enumerate() {
            docs_by_name[rank as usize] = doc as u32;
        }
        let mut all = RoaringBitmap::new();
        all.insert_range(0..docs as u32);
        let mut sensitive = RoaringBitmap::new();
        for doc in 0..docs {
            if super::columns::bit(&columns.sensitive, doc) {
                let _ = sensitive.try_push(doc as u32);
            }
        }
        let not_sensitive = &all - &sensitive;
        Postings {
            category: per_id(&columns.category, dictionaries.category.len()),
            offer_type: per_id(&columns.offer_type, dictionaries.offer_type.len()),
            activity: per_id(&columns.activity, dictionaries.activity.len()),
            care_mode: per_id(&columns.care_mode, dictionaries.care_mode.len()),
            reception: per_id(&columns.reception, dictionaries.reception.len()),
            departement: per_id(&columns.departement, dictionaries.departement.len()),
            gir_policy,
            aide_sociale,
            may_close,
            docs_by_name,
            all,
            not_sensitive,
        }
    }
}
