//! Data-quality checks run on every build, stored in the manifest and shown by `inspect`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::Dataset;
use crate::model::rules::{CapacityTotals, offer_closed_at};
use crate::util::time::{DAY_SECONDS, UnixSeconds};

/// How many example ids are kept per check.
const EXAMPLES: usize = 5;

/// Counts of suspicious records, as of the build time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QualitySummary {
    /// EGs with no WGS84 position.
    pub(crate) egs_without_coordinates: u64,
    /// EGs whose position the source flags as unreliable.
    pub(crate) egs_with_unreliable_coordinates: u64,
    /// Offers with neither a location position nor an EG position (not findable by distance).
    pub(crate) offers_without_position: u64,
    /// Offers whose `meta.lastUpdated` is more than a year before the build (ESMS must update
    /// at least yearly).
    pub offers_not_updated_for_a_year: u64,
    /// Offers without `meta.lastUpdated`.
    pub(crate) offers_without_last_updated: u64,
    /// Offers with more places available now than installed (installed known and > 0).
    pub(crate) offers_available_above_installed: u64,
    /// Offers closed at build time that still report available places (RG_EXP_047).
    pub(crate) closed_offers_with_available_places: u64,
    /// Offers provided directly by an EJ (no EG: no tariffs, no EG position).
    pub(crate) offers_without_eg: u64,
    /// A few offending ids per check (EG or offer FHIR ids).
    pub(crate) examples: BTreeMap<String, Vec<String>>,
}

impl QualitySummary {
    /// Runs the checks on a dataset as of `now`.
    pub(crate) fn of_dataset(dataset: &Dataset, now: UnixSeconds) -> QualitySummary {
        let mut summary = QualitySummary::default();
        let note = |examples: &mut BTreeMap<String, Vec<String>>, check: &str, id: &str| {
            let list = examples.entry(check.to_owned()).or_default();
            if list.len() < EXAMPLES {
                list.push(id.to_owned());
            }
        };
        for eg in &dataset.egs {
            if eg.position.is_none() {
                summary.egs_without_coordinates += 1;
                note(&mut summary.examples, "egs_without_coordinates", &eg.id);
            }
            if eg.position_reliable == Some(false) {
                summary.egs_with_unreliable_coordinates += 1;
                note(&mut summary.examples, "egs_with_unreliable_coordinates", &eg.id);
            }
        }
        let one_year_ago = now - 365 * DAY_SECONDS;
        for offer in &dataset.offers {
            let eg = offer.eg.map(|eg| &dataset.egs[eg as usize]);
            let has_position =
                offer.locations.iter().any(|&location| dataset.locations[location as usize].position.is_some())
                    || eg.is_some_and(|eg| eg.position.is_some());
            if !has_position {
                summary.offers_without_position += 1;
                note(&mut summary.examples, "offers_without_position", &offer.id);
            }
            match offer.last_updated {
                None => {
                    summary.offers_without_last_updated += 1;
                    note(&mut summary.examples, "offers_without_last_updated", &offer.id);
                }
                Some(updated) if updated < one_year_ago => {
                    summary.offers_not_updated_for_a_year += 1;
                    note(&mut summary.examples, "offers_not_updated_for_a_year", &offer.id);
                }
                Some(_) => {}
            }
            if eg.is_none() {
                summary.offers_without_eg += 1;
                note(&mut summary.examples, "offers_without_eg", &offer.id);
            }
            let totals = CapacityTotals::of_records(
                offer.locations.iter().flat_map(|&location| dataset.locations[location as usize].capacities.iter()),
            );
            if totals.installed > 0 && totals.available > totals.installed {
                summary.offers_available_above_installed += 1;
                note(&mut summary.examples, "offers_available_above_installed", &offer.id);
            }
            if totals.available > 0 && offer_closed_at(offer, eg, now) {
                summary.closed_offers_with_available_places += 1;
                note(&mut summary.examples, "closed_offers_with_available_places", &offer.id);
            }
        }
        summary
    }

    /// The counters as (name, value) pairs, for display.
    pub(crate) fn counters(&self) -> [(&'static str, u64); 8] {
        [
            ("egs_without_coordinates", self.egs_without_coordinates),
            ("egs_with_unreliable_coordinates", self.egs_with_unreliable_coordinates),
            ("offers_without_position", self.offers_without_position),
            ("offers_not_updated_for_a_year", self.offers_not_updated_for_a_year),
            ("offers_without_last_updated", self.offers_without_last_updated),
            ("offers_available_above_installed", self.offers_available_above_installed),
            ("closed_offers_with_available_places", self.closed_offers_with_available_places),
            ("offers_without_eg", self.offers_without_eg),
        ]
    }
}
