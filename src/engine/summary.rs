//! Per-position summaries of the docs at each position, so a walk can skip a position whose
//! docs cannot match (none of the asked codes, all too expensive, no free place) or cannot
//! beat the page already kept (its best sort key is worse than the worst kept hit).
//!
//! Summaries are supersets (a code bit set means "maybe"), so skipping on them never loses a
//! match.

use super::columns::{Columns, NO_PRICE};
use super::layout::Layout;

/// Summaries by position id.
#[derive(Debug, Clone, Default)]
pub(crate) struct PositionSummaries {
    /// Bit `id % 64` set when a doc has catégorie id `id`.
    pub(crate) category_bits: Vec<u64>,
    /// Bit `id % 64` set when a doc has type d'offre id `id`.
    pub(crate) offer_type_bits: Vec<u64>,
    /// Bit `policy` set when a doc has that GIR policy byte.
    pub(crate) gir_policy_bits: Vec<u8>,
    /// Bit 1: a doc's EG is habilité aide sociale; bit 0: a doc's is not.
    pub(crate) aide_sociale_bits: Vec<u8>,
    /// Cheapest daily total per dépendance band.
    pub(crate) min_price: [Vec<u32>; 3],
    pub(crate) max_available: Vec<u32>,
    pub(crate) max_crisis_t0: Vec<u32>,
    pub(crate) max_crisis_t60: Vec<u32>,
    /// Lowest name rank.
    pub(crate) min_name_rank: Vec<u32>,
}

impl PositionSummaries {
    /// Summarises the docs of every position.
    pub(crate) fn new(layout: &Layout, columns: &Columns) -> PositionSummaries {
        let positions = layout.positions.len();
        let mut summaries = PositionSummaries {
            category_bits: vec![0; positions],
            offer_type_bits: vec![0; positions],
            gir_policy_bits: vec![0; positions],
            aide_sociale_bits: vec![0; positions],
            min_price: [vec![NO_PRICE; positions], vec![NO_PRICE; positions], vec![NO_PRICE; positions]],
            max_available: vec![0; positions],
            max_crisis_t0: vec![0; positions],
            max_crisis_t60: vec![0; positions],
            min_name_rank: vec![u32::MAX; positions],
        };
        for position in 0..positions {
            for doc in layout.docs_at(position as u32) {
                let doc = doc as usize;
                summaries.category_bits[position] |= 1 << (columns.category[doc] & 63);
                summaries.offer_type_bits[position] |= 1 << (columns.offer_type[doc] & 63);
                summaries.gir_policy_bits[position] |= 1 << columns.gir_policy[doc].min(7);
                summaries.aide_sociale_bits[position] |= 1 << u8::from(columns.aide_sociale[doc]);
                for band in 0..3 {
                    let price = &mut summaries.min_price[band][position];
                    *price = (*price).min(columns.daily_total_cents[band][doc]);
                }
                let capacity = &columns.capacity[doc];
                summaries.max_available[position] = summaries.max_available[position].max(capacity.available);
                summaries.max_crisis_t0[position] = summaries.max_crisis_t0[position].max(capacity.crisis_t0);
                summaries.max_crisis_t60[position] = summaries.max_crisis_t60[position].max(capacity.crisis_t60);
                summaries.min_name_rank[position] = summaries.min_name_rank[position].min(columns.name_rank[doc]);
            }
        }
        summaries
    }
}
