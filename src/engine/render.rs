//! Hits → response objects with labels, prices and capacities. Only the page is rendered.

use super::Engine;
use super::layout::{commune_by_code, departement_of_commune};
use super::request::SearchRequest;
use super::response::{AddressView, CapacityView, Coded, CommuneView, EgView, OfferHit, PriceView};
use super::search::Hit;
use crate::model::labels::CodeSystem;
use crate::model::rules::{EgPrices, GIR_BANDS};
use crate::model::{Address, Code, OfferId};
use crate::util::time::format_rfc3339;

fn coded(system: CodeSystem, code: Option<&Code>) -> Option<Coded> {
    code.map(|code| Coded { code: code.to_string(), label: system.label(code) })
}

fn address(address: &Address) -> AddressView {
    AddressView {
        lines: address.lines.clone(),
        postal_code: address.postal_code.as_deref().map(str::to_owned),
        city: address.city.clone(),
    }
}

fn euros(cents: i64) -> f64 {
    cents as f64 / 100.0
}

impl Engine {
    /// The commune view of an INSEE code.
    pub fn commune_view(&self, code: &str) -> CommuneView {
        CommuneView {
            code: code.to_owned(),
            name: commune_by_code(&self.data.communes, code).map(|commune| commune.name.clone()),
            departement: departement_of_commune(code).map(str::to_owned),
        }
    }

    /// The EG view of an EG index.
    pub fn eg_view(&self, eg_index: u32) -> EgView {
        let dataset = &self.data.dataset;
        let eg = &dataset.egs[eg_index as usize];
        let ej = eg.ej.map(|ej| &dataset.ejs[ej as usize]);
        EgView {
            id: eg.id.clone(),
            finess: eg.finess.as_deref().map(str::to_owned),
            name: eg.name.clone(),
            category: coded(CodeSystem::CategorieEtablissement, eg.category.as_ref()),
            address: address(&eg.address),
            commune: eg.address.commune.as_deref().map(|code| self.commune_view(code)),
            lat: eg.position.map(|point| point.lat),
            lon: eg.position.map(|point| point.lon),
            aide_sociale: eg.aide_sociale(),
            orsan_level: coded(CodeSystem::NiveauRecoursOrsan, eg.orsan_level.as_ref()),
            ej_id: ej.map(|ej| ej.id.clone()),
            ej_finess: ej.and_then(|ej| ej.finess.as_deref().map(str::to_owned)),
            ej_name: ej.and_then(|ej| ej.name.clone()),
        }
    }

    /// Renders an offer (by dataset index); `distance_m` and `score` as the search found them.
    pub fn render_offer(
        &self,
        offer_index: OfferId,
        distance_m: Option<f64>,
        score: Option<f32>,
        gir: Option<u8>,
        basis: crate::model::rules::PriceBasis,
    ) -> OfferHit {
        let dataset = &self.data.dataset;
        let offer = &dataset.offers[offer_index as usize];
        let doc = self.layout.doc_of_offer[offer_index as usize];
        let position = self.layout.position_of(doc);
        let price = offer.eg.and_then(|eg| {
            let prices: &EgPrices = &self.columns.eg_prices[eg as usize];
            let band = EgPrices::band_index(gir, basis);
            let hebergement = prices.hebergement_cents?;
            let dependance = prices.dependance_cents[band]?;
            Some(PriceView {
                basis,
                gir,
                dependance_band: Coded {
                    code: GIR_BANDS[band].to_owned(),
                    label: CodeSystem::GroupeTarifaireDependance.label(GIR_BANDS[band]),
                },
                hebergement_cents: hebergement,
                dependance_cents: dependance,
                daily_total_cents: hebergement + dependance,
                hebergement_eur: euros(hebergement),
                dependance_eur: euros(dependance),
                daily_total_eur: euros(hebergement + dependance),
            })
        });
        let totals = crate::model::rules::CapacityTotals::of_records(
            offer.locations.iter().flat_map(|&location| dataset.locations[location as usize].capacities.iter()),
        );
        let date = |seconds: Option<i64>| seconds.map(format_rfc3339);
        let age = offer.age_range.unwrap_or_default();
        OfferHit {
            id: offer.id.clone(),
            identifier: offer.identifier.clone(),
            name: offer.name.clone(),
            offer_type: coded(CodeSystem::CategorieOrganisation, offer.offer_type.as_ref()),
            activity_field: coded(CodeSystem::ChampActivite, offer.activity_field.as_ref()),
            activity: coded(CodeSystem::ActiviteOperationnelle, offer.activity.as_ref()),
            care_mode: coded(CodeSystem::ModePriseEnCharge, offer.care_mode.as_ref()),
            reception: coded(CodeSystem::TemporaliteAccueil, offer.reception.as_ref()),
            age_min_years: age.min_years,
            age_max_years: age.max_years,
            eg: offer.eg.map(|eg| self.eg_view(eg)),
            lat: position.map(|point| point.lat),
            lon: position.map(|point| point.lon),
            position_source: self.layout.position_source[offer_index as usize],
            distance_m,
            price,
            capacity: CapacityView {
                installed: totals.installed,
                installed_updated_at: date(totals.installed_updated_at),
                available: totals.available,
                available_updated_at: date(totals.available_updated_at),
                crisis_t0: totals.crisis_t0,
                crisis_t0_updated_at: date(totals.crisis_t0_updated_at),
                crisis_t60: totals.crisis_t60,
                crisis_t60_updated_at: date(totals.crisis_t60_updated_at),
            },
            score,
            last_updated: offer.last_updated.map(format_rfc3339),
        }
    }

    /// Renders one hit of a search.
    pub fn render_hit(&self, hit: &Hit, has_centre: bool, request: &SearchRequest, has_text: bool) -> OfferHit {
        self.render_offer(
            hit.offer,
            has_centre.then_some(hit.distance_m),
            has_text.then_some(hit.score),
            request.gir,
            request.price_basis,
        )
    }
}
