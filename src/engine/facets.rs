//! Facets: the counts of matches by catégorie, type d'offre and département, labelled.

use super::collector::FacetCounts;
use super::columns::{Dictionaries, Dictionary};
use super::response::{FacetValue, Facets};
use crate::model::labels::CodeSystem;

impl FacetCounts {
    /// Zero counts for every dictionary id.
    pub(crate) fn new(dictionaries: &Dictionaries) -> FacetCounts {
        FacetCounts {
            category: vec![0; dictionaries.category.len()],
            offer_type: vec![0; dictionaries.offer_type.len()],
            departement: vec![0; dictionaries.departement.len()],
        }
    }

    /// Adds a matching doc's catégorie, type d'offre and département.
    #[inline]
    pub(crate) fn add(&mut self, columns: &super::columns::Columns, doc: u32) {
        let doc = doc as usize;
        self.category[columns.category[doc] as usize] += 1;
        self.offer_type[columns.offer_type[doc] as usize] += 1;
        self.departement[columns.departement[doc] as usize] += 1;
    }
}

/// The facets of the answer: non-zero counts, most frequent first, then by code.
pub(crate) fn facets_of<'a>(counts: &FacetCounts, dictionaries: &'a Dictionaries) -> Facets<'a> {
    Facets {
        category: facet_values(&counts.category, &dictionaries.category, CodeSystem::CategorieEtablissement),
        offer_type: facet_values(&counts.offer_type, &dictionaries.offer_type, CodeSystem::CategorieOrganisation),
        departement: facet_values_unlabelled(&counts.departement, &dictionaries.departement),
    }
}

fn facet_values<'a>(counts: &[u64], dictionary: &'a Dictionary, system: CodeSystem) -> Vec<FacetValue<'a>> {
    let mut values: Vec<FacetValue> = counts
        .iter()
        .enumerate()
        .filter(|&(id, &count)| count > 0 && id > 0)
        .filter_map(|(id, &count)| {
            let code = dictionary.code(id as u16)?;
            Some(FacetValue { code: code.as_str(), label: system.label(code), count })
        })
        .collect();
    values.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.code.cmp(b.code)));
    values
}

fn facet_values_unlabelled<'a>(counts: &[u64], dictionary: &'a Dictionary) -> Vec<FacetValue<'a>> {
    let mut values: Vec<FacetValue> = counts
        .iter()
        .enumerate()
        .filter(|&(id, &count)| count > 0 && id > 0)
        .filter_map(|(id, &count)| Some(FacetValue { code: dictionary.code(id as u16)?.as_str(), label: None, count }))
        .collect();
    values.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.code.cmp(b.code)));
    values
}
