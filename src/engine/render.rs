//! Hits → response objects with labels, prices and capacities, borrowing from the snapshot.
//! Only the page is rendered.

use super::Index;
use super::access::Access;
use super::collector::Hit;
use super::columns::{Dictionaries, Dictionary};
use super::fields::{FieldSet, ResultField};
use super::fragment::{Fragment, PerRequest};
use super::layout::{commune_by_code, departement_of_commune};
use super::live::LiveView;
use super::request::SearchRequest;
use super::response::{AddressView, CapacityView, Coded, CommuneView, EgView, OfferHit, PriceView, Timestamp};
use crate::model::labels::CodeSystem;
use crate::model::rules::{CapacityTotals, EgPrices, GIR_BANDS, PriceBasis};
use crate::model::{Address, Code, OfferId};

fn coded(system: CodeSystem, code: Option<&Code>) -> Option<Coded<'_>> {
    code.map(|code| Coded { code: code.as_str(), label: system.label(code) })
}

fn address(address: &Address) -> AddressView<'_> {
    AddressView { lines: &address.lines, postal_code: address.postal_code.as_deref(), city: address.city.as_deref() }
}

/// The TRE_R237 label of a GIR band (by index in [`GIR_BANDS`]), looked up once.
fn band_label(band: usize) -> Option<&'static str> {
    static LABELS: std::sync::LazyLock<[Option<&'static str>; 3]> =
        std::sync::LazyLock::new(|| GIR_BANDS.map(|code| CodeSystem::GroupeTarifaireDependance.label(code)));
    LABELS[band]
}

fn euros(cents: i64) -> f64 {
    cents as f64 / 100.0
}

/// Labels of the ids of the coded columns' dictionaries (id 0 = no code).
#[derive(Debug, Clone, Default)]
pub(crate) struct Labels {
    pub(crate) category: Vec<Option<&'static str>>,
    pub(crate) offer_type: Vec<Option<&'static str>>,
    pub(crate) activity: Vec<Option<&'static str>>,
    pub(crate) care_mode: Vec<Option<&'static str>>,
}

impl Labels {
    /// The labels of every id of the dictionaries.
    pub(crate) fn new(dictionaries: &Dictionaries) -> Labels {
        let labels = |dictionary: &Dictionary, system: CodeSystem| -> Vec<Option<&'static str>> {
            (0..dictionary.len()).map(|id| dictionary.code(id as u16).and_then(|code| system.label(code))).collect()
        };
        Labels {
            category: labels(&dictionaries.category, CodeSystem::CategorieEtablissement),
            offer_type: labels(&dictionaries.offer_type, CodeSystem::CategorieOrganisation),
            activity: labels(&dictionaries.activity, CodeSystem::ActiviteOperationnelle),
            care_mode: labels(&dictionaries.care_mode, CodeSystem::ModePriseEnCharge),
        }
    }
}

/// How an offer is shown: the price for which GIR and basis, the fields of which profiles.
#[derive(Debug, Clone, Copy)]
pub(crate) struct View {
    pub(crate) gir: Option<u8>,
    pub(crate) basis: PriceBasis,
    pub(crate) access: Access,
}

impl View {
    /// The gross price without a GIR (band `03`), as lookups show it.
    pub(crate) fn lookup(access: Access) -> View {
        View { gir: None, basis: PriceBasis::Gross, access }
    }
}

fn coded_by_id<'a>(code: Option<&'a Code>, labels: &[Option<&'static str>], id: u16) -> Option<Coded<'a>> {
    code.map(|code| Coded { code: code.as_str(), label: labels[id as usize] })
}

impl Index {
    /// The commune view of an INSEE code.
    pub(crate) fn commune_view<'a>(&'a self, code: &'a str) -> CommuneView<'a> {
        let commune = match self.commune_index.get(code) {
            Some(&index) => Some(&self.data.communes[index as usize]),
            None if self.commune_index.is_empty() => commune_by_code(&self.data.communes, code),
            None => None,
        };
        CommuneView {
            code,
            name: commune.map(|commune| commune.name.as_str()),
            departement: departement_of_commune(code),
        }
    }

    /// The EG view of an EG index.
    pub(crate) fn eg_view(&self, eg_index: u32, access: Access) -> EgView<'_> {
        self.eg_view_seeing(eg_index, access.sees_orsan_level())
    }

    /// The EG view of an EG index, with its `orsan_level` if `sees_orsan_level`.
    fn eg_view_seeing(&self, eg_index: u32, sees_orsan_level: bool) -> EgView<'_> {
        let dataset = &self.data.dataset;
        let eg = &dataset.egs[eg_index as usize];
        let ej = eg.ej.map(|ej| &dataset.ejs[ej as usize]);
        EgView {
            id: &eg.id,
            finess: eg.finess.as_deref(),
            name: &eg.name,
            category: eg.category.as_ref().map(|code| Coded {
                code: code.as_str(),
                label: self.columns.dictionaries.category.id(code).and_then(|id| self.labels.category[id as usize]),
            }),
            address: address(&eg.address),
            commune: eg.address.commune.as_deref().map(|code| self.commune_view(code)),
            lat: eg.position.map(|point| point.lat),
            lon: eg.position.map(|point| point.lon),
            aide_sociale: eg.aide_sociale(),
            orsan_level: sees_orsan_level.then(|| coded(CodeSystem::NiveauRecoursOrsan, eg.orsan_level.as_ref())),
            ej_id: ej.map(|ej| ej.id.as_str()),
            ej_finess: ej.and_then(|ej| ej.finess.as_deref()),
            ej_name: ej.and_then(|ej| ej.name.as_deref()),
        }
    }

    /// The daily price of an offer's EG for a GIR and basis.
    pub(crate) fn price_view(&self, eg_index: Option<u32>, gir: Option<u8>, basis: PriceBasis) -> Option<PriceView> {
        let prices: &EgPrices = &self.columns.eg_prices[eg_index? as usize];
        let band = EgPrices::band_index(gir, basis);
        let hebergement = prices.hebergement_cents?;
        let dependance = prices.dependance_cents[band]?;
        Some(PriceView {
            basis,
            gir,
            dependance_band: Coded { code: GIR_BANDS[band], label: band_label(band) },
            hebergement_cents: hebergement,
            dependance_cents: dependance,
            daily_total_cents: hebergement + dependance,
            hebergement_eur: euros(hebergement),
            dependance_eur: euros(dependance),
            daily_total_eur: euros(hebergement + dependance),
        })
    }

    /// An offer's result without its per-request members (distance, price, capacities and
    /// score: `null` or absent), the EG's `orsan_level` in if `sees_orsan_level`.
    pub(crate) fn static_offer(&self, offer_index: OfferId, sees_orsan_level: bool) -> OfferHit<'_> {
        let dataset = &self.data.dataset;
        let offer = &dataset.offers[offer_index as usize];
        let doc = self.layout.doc_of_offer[offer_index as usize];
        let position = self.layout.position_of(doc);
        let age = offer.age_range.unwrap_or_default();
        OfferHit {
            id: &offer.id,
            identifier: offer.identifier.as_deref(),
            name: &offer.name,
            offer_type: coded_by_id(
                offer.offer_type.as_ref(),
                &self.labels.offer_type,
                self.columns.offer_type[doc as usize],
            ),
            activity_field: coded(CodeSystem::ChampActivite, offer.activity_field.as_ref()),
            activity: coded_by_id(offer.activity.as_ref(), &self.labels.activity, self.columns.activity[doc as usize]),
            care_mode: coded_by_id(
                offer.care_mode.as_ref(),
                &self.labels.care_mode,
                self.columns.care_mode[doc as usize],
            ),
            reception: coded(CodeSystem::TemporaliteAccueil, offer.reception.as_ref()),
            age_min_years: age.min_years,
            age_max_years: age.max_years,
            eg: offer.eg.map(|eg| self.eg_view_seeing(eg, sees_orsan_level)),
            lat: position.map(|point| point.lat),
            lon: position.map(|point| point.lon),
            position_source: self.layout.position_source[offer_index as usize],
            distance_m: None,
            price: None,
            capacity: CapacityView::default(),
            score: None,
            last_updated: offer.last_updated.map(Timestamp),
        }
    }

    /// The members of an offer's result that change from one request to the next.
    pub(crate) fn per_request(
        &self,
        live: &LiveView,
        offer_index: OfferId,
        distance_m: Option<f64>,
        score: Option<f32>,
        view: &View,
        fields: FieldSet,
    ) -> PerRequest {
        let View { gir, basis, access } = *view;
        let offer = &self.data.dataset.offers[offer_index as usize];
        let price = if fields.contains(ResultField::Price) { self.price_view(offer.eg, gir, basis) } else { None };
        if !fields.contains(ResultField::Capacity) {
            return PerRequest { distance_m, price, capacity: CapacityView::default(), score };
        }
        let doc = self.layout.doc_of_offer[offer_index as usize];
        let totals = CapacityTotals::of_records(
            offer.locations.iter().flat_map(|&location| self.location_records(live, location).iter()),
        );
        let seen = access.capacity_of_doc(&self.columns, doc as usize);
        PerRequest {
            distance_m,
            price,
            capacity: CapacityView {
                installed: seen.installed.then_some(totals.installed),
                installed_updated_at: seen.installed.then(|| totals.installed_updated_at.map(Timestamp)),
                available: seen.operational.then_some(totals.available),
                available_updated_at: seen.operational.then(|| totals.available_updated_at.map(Timestamp)),
                crisis_t0: seen.supplementary.then_some(totals.crisis_t0),
                crisis_t0_updated_at: seen.supplementary.then(|| totals.crisis_t0_updated_at.map(Timestamp)),
                crisis_t60: seen.supplementary.then_some(totals.crisis_t60),
                crisis_t60_updated_at: seen.supplementary.then(|| totals.crisis_t60_updated_at.map(Timestamp)),
            },
            score,
        }
    }

    /// Renders an offer (by dataset index); `distance_m` and `score` as the search found them,
    /// the price and fields as `view` asks.
    pub(crate) fn render_offer(
        &self,
        live: &LiveView,
        offer_index: OfferId,
        distance_m: Option<f64>,
        score: Option<f32>,
        view: &View,
    ) -> OfferHit<'_> {
        let PerRequest { distance_m, price, capacity, score } =
            self.per_request(live, offer_index, distance_m, score, view, FieldSet::FULL);
        OfferHit {
            distance_m,
            price,
            capacity,
            score,
            ..self.static_offer(offer_index, view.access.sees_orsan_level())
        }
    }

    /// Renders one hit of a search.
    pub(crate) fn render_hit(&self, live: &LiveView, hit: &Hit, hit_view: &HitView) -> OfferHit<'_> {
        let (distance_m, score) = hit_view.measures(hit);
        self.render_offer(live, hit.offer, distance_m, score, &hit_view.view)
    }

    /// Writes one hit of a search as JSON (the bytes of serialising [`Index::render_hit`]'s,
    /// restricted to its `fields`) from the offer's pre-rendered fragment; `keep`: keep the
    /// fragment for the next answers (within the snapshot's budget).
    pub(crate) fn write_hit(&self, out: &mut Vec<u8>, live: &LiveView, hit: &Hit, hit_view: &HitView, keep: bool) {
        let HitView { view, fields, .. } = hit_view;
        let (distance_m, score) = hit_view.measures(hit);
        let per = self.per_request(live, hit.offer, distance_m, score, view, *fields);
        self.fragments.with(
            hit.offer as usize,
            keep,
            || Fragment::new(&self.static_offer(hit.offer, true)),
            |fragment| fragment.write(out, *fields, view.access.sees_orsan_level(), &per),
        );
    }
}

/// How the hits of a search are written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HitView {
    view: View,
    fields: FieldSet,
    has_centre: bool,
    has_text: bool,
}

impl HitView {
    /// The hits of `request`, with or without a centre and a text query.
    pub(crate) fn new(request: &SearchRequest, has_centre: bool, has_text: bool) -> HitView {
        let view = View { gir: request.gir, basis: request.price_basis, access: Access::new(request.profiles) };
        HitView { view, fields: request.fields, has_centre, has_text }
    }

    /// A hit's distance (with a centre) and text score (with a text query).
    fn measures(&self, hit: &Hit) -> (Option<f64>, Option<f32>) {
        (self.has_centre.then_some(hit.distance_m), self.has_text.then_some(hit.score))
    }
}
