//! `HealthcareService` → an offer with its `providedBy` and `location` references: codings
//! bucketed by system, patient type (publics, age range), closing period.

use std::fmt;

use super::{
    Need, ParsedOffer, ReadError, Reader, Reason, first_code, has_system, identifier_type_code, last_updated,
    optional_date, region, required_name, resource_id,
};
use crate::ingest::fhir::raw::{self, RawResource};
use crate::ingest::fhir::ror_extension_id;
use crate::model::labels::CodeSystem;
use crate::model::rules::age_in_years;
use crate::model::{AgeRange, Offer};

impl Reader {
    pub(super) fn offer(&mut self, raw: &RawResource) -> Result<ParsedOffer, ReadError> {
        let id = resource_id(raw)?;
        let name = required_name(raw)?;
        let provided_by = raw
            .provided_by
            .as_ref()
            .and_then(|reference| reference.reference.as_deref().map(str::to_owned))
            .ok_or_else(|| {
                ReadError::at(
                    &"providedBy",
                    Reason::MissingBecause("an offer must name the organization that provides it"),
                )
            })?;
        let identifier = raw
            .identifier
            .iter()
            .find(|identifier| identifier_type_code(identifier, "R355") == Some("35"))
            .or(raw.identifier.first())
            .and_then(|identifier| identifier.value.as_deref().map(str::to_owned));
        let mut offer =
            Offer { id, identifier, name, region: region(raw), last_updated: last_updated(raw)?, ..Offer::default() };
        for (index, concept) in raw.category.iter().enumerate() {
            if has_system(concept, "R244") {
                offer.offer_type =
                    self.code(concept, CodeSystem::CategorieOrganisation, &lazy!("category[{index}]"), Need::Optional)?;
            }
        }
        for (index, concept) in raw.type_.iter().enumerate() {
            if has_system(concept, "R227") {
                offer.activity_field =
                    self.code(concept, CodeSystem::ChampActivite, &lazy!("type[{index}]"), Need::Required)?;
            }
        }
        for (index, concept) in raw.specialty.iter().enumerate() {
            let field = lazy!("specialty[{index}]");
            if has_system(concept, "R211") {
                let code = self.code(concept, CodeSystem::ActiviteOperationnelle, &field, Need::Required)?;
                if offer.activity.is_none() {
                    offer.activity = code;
                } else {
                    self.warnings.push(format!("{field}: second activité opérationnelle ignored"));
                }
            } else if let Some(code) = first_code(Some(concept)) {
                offer.activity_families.push(code);
            }
        }
        for (index, concept) in raw.characteristic.iter().enumerate() {
            let field = lazy!("characteristic[{index}]");
            if has_system(concept, "R213") {
                offer.care_mode = self.code(concept, CodeSystem::ModePriseEnCharge, &field, Need::Required)?;
            } else if has_system(concept, "R240") {
                offer.reception = self.code(concept, CodeSystem::TemporaliteAccueil, &field, Need::Required)?;
            } else if has_system(concept, "R245") {
                if let Some(code) =
                    self.code(concept, CodeSystem::SpecialisationPriseEnCharge, &field, Need::Required)?
                {
                    offer.specialisations.push(code);
                }
            } else if has_system(concept, "R243")
                && let Some(code) = first_code(Some(concept))
            {
                offer.competences.push(code);
            }
        }
        for (index, extension) in raw.extension.iter().enumerate() {
            let field = lazy!("extension[{index}]");
            let Some(extension_id) = ror_extension_id(&extension.url) else {
                continue;
            };
            match extension_id {
                "ror-healthcareservice-sensitive-unit" => {
                    offer.sensitive_unit = extension.value_boolean.ok_or_else(|| {
                        ReadError::at(
                            &lazy!("{field} (ror-healthcareservice-sensitive-unit)"),
                            Reason::MissingPart("valueBoolean"),
                        )
                    })?;
                }
                "ror-healthcareservice-patient-type" => {
                    for (sub_index, sub) in extension.extension.iter().enumerate() {
                        let sub_field = lazy!("{field}.extension[{sub_index}] ({})", sub.url);
                        match sub.url.as_ref() {
                            "supportedPatientInfo" => {
                                if let Some(code) = self.optional_code(
                                    sub.value_codeable_concept.as_ref(),
                                    CodeSystem::PublicPrisEnCharge,
                                    &sub_field,
                                )? {
                                    offer.publics.push(code);
                                }
                            }
                            "ageRange" => {
                                let range = sub
                                    .value_range
                                    .as_ref()
                                    .ok_or_else(|| ReadError::at(&sub_field, Reason::MissingPart("valueRange")))?;
                                // a range without bounds is no restriction: no age range
                                let range = age_range(range, &sub_field)?;
                                offer.age_range =
                                    (range.min_years.is_some() || range.max_years.is_some()).then_some(range);
                            }
                            _ => {}
                        }
                    }
                }
                "ror-meta-creation-date" => {
                    offer.created_at =
                        optional_date(extension.value_date_time.as_deref(), &lazy!("{field}.valueDateTime"))?;
                }
                _ => {}
            }
        }
        for (index, not_available) in raw.not_available.iter().enumerate() {
            let field = lazy!("notAvailable[{index}]");
            let Some(during) = &not_available.during else {
                continue;
            };
            if not_available.id.as_deref().is_some_and(|id| id != "closingReopeningDate") {
                continue;
            }
            offer.closed_from = optional_date(during.start.as_deref(), &lazy!("{field}.during.start"))?;
            offer.reopens_at = optional_date(during.end.as_deref(), &lazy!("{field}.during.end"))?;
            if let (Some(from), Some(reopen)) = (offer.closed_from, offer.reopens_at)
                && reopen < from
            {
                return Err(ReadError::at(&lazy!("{field}.during"), Reason::ReopensBeforeClosing));
            }
        }
        let mut location_references = Vec::with_capacity(raw.location.len());
        for (index, reference) in raw.location.iter().enumerate() {
            let reference = reference
                .reference
                .as_deref()
                .map(str::to_owned)
                .ok_or_else(|| ReadError::at(&lazy!("location[{index}]"), Reason::ReferenceMissing))?;
            location_references.push(reference);
        }
        Ok(ParsedOffer { offer, provided_by, location_references })
    }
}

fn age_range(range: &raw::Range, field: &dyn fmt::Display) -> Result<AgeRange, ReadError> {
    let bound = |quantity: Option<&raw::Quantity>, which: &str| -> Result<Option<f64>, ReadError> {
        let Some(quantity) = quantity else {
            return Ok(None);
        };
        let Some(value) = quantity.value else {
            return Ok(None);
        };
        if !value.is_finite() || value < 0.0 {
            return Err(ReadError::at(&lazy!("{field}.{which}"), Reason::NegativeAge(value)));
        }
        let unit = quantity.code.as_deref().or(quantity.unit.as_deref());
        age_in_years(value, unit).map(Some).ok_or_else(|| {
            ReadError::at(&lazy!("{field}.{which}"), Reason::AgeUnit(unit.unwrap_or_default().to_owned()))
        })
    };
    let age = AgeRange { min_years: bound(range.low.as_ref(), "low")?, max_years: bound(range.high.as_ref(), "high")? };
    if let (Some(min), Some(max)) = (age.min_years, age.max_years)
        && min > max
    {
        return Err(ReadError::at(field, Reason::AgeBounds { min, max }));
    }
    Ok(age)
}
