//! `Organization` → entité juridique, entité géographique (with its tariffs) or organisation
//! interne, told apart by identifier and type codings.

use std::fmt;

use super::{
    ParsedOrganization, ReadError, Reader, Reason, first_code, has_system, identifier_type_code, last_updated,
    non_negative, optional_date, region, required_name, resource_id,
};
use crate::ingest::fhir::raw::{Extension, RawResource};
use crate::ingest::fhir::{ORGANIZATION_PERIOD_URL, ror_extension_id, system_is_nos};
use crate::model::labels::CodeSystem;
use crate::model::place::Finess;
use crate::model::{Address, Code, Eg, Ej, Tariff};

impl Reader {
    pub(super) fn organization(&mut self, raw: &RawResource) -> Result<ParsedOrganization, ReadError> {
        let id = resource_id(raw)?;
        let last_updated = last_updated(raw)?;
        let is_oi = raw.identifier.iter().any(|identifier| identifier_type_code(identifier, "R345") == Some("42"))
            || raw.type_.iter().any(|concept| has_system(concept, "R207"));
        let part_of = raw.part_of.as_ref().and_then(|reference| reference.reference.as_deref().map(str::to_owned));
        if is_oi {
            return Ok(ParsedOrganization::Oi { id, name: raw.name.as_deref().map(str::to_owned), part_of });
        }
        let mut category = None;
        let mut legal_status = None;
        let mut has_ej_type = false;
        for concept in &raw.type_ {
            if let Some(coding) = concept.coding.iter().find(|coding| {
                coding
                    .system
                    .as_deref()
                    .is_some_and(|system| system_is_nos(system, "R66") || system_is_nos(system, "R02"))
            }) {
                let code = coding
                    .code
                    .as_deref()
                    .ok_or_else(|| ReadError::at(&"type[categorieEtablissement]", Reason::CodingHasNoCode))?;
                if coding.system.as_deref().is_some_and(|system| system_is_nos(system, "R66")) {
                    self.check_known(CodeSystem::CategorieEtablissement, code, &"type[categorieEtablissement]")?;
                }
                category = Some(Code::from(code));
            } else if has_system(concept, "R72") {
                legal_status =
                    self.optional_code(Some(concept), CodeSystem::StatutJuridique, &"type[statutJuridiqueINSEE]")?;
                has_ej_type = true;
            } else if has_system(concept, "R69") {
                has_ej_type = true;
            }
        }
        let address = raw.address.0.first();
        let (address_model, geolocation) = match address {
            Some(address) => self.address(address, &"address[0]")?,
            None => (Address::default(), None),
        };
        let is_eg = category.is_some() || (!has_ej_type && part_of.is_some());
        if !is_eg {
            let name = raw.name.as_deref().map(str::trim).filter(|name| !name.is_empty()).map(str::to_owned);
            return Ok(ParsedOrganization::Ej(Ej {
                id,
                finess: structure_identifier(raw, "1").or_else(|| prefixed_national_id(raw, '1')),
                siren: structure_identifier(raw, "2"),
                name,
                legal_status,
                address: address_model,
                last_updated,
            }));
        }
        if category.is_none() {
            self.warnings
                .push("type[categorieEtablissement]: missing; read as an entité géographique because of partOf".into());
        }
        let name = required_name(raw)?;
        let mut eg = Eg {
            id,
            finess: structure_identifier(raw, "1").or_else(|| prefixed_national_id(raw, '1')),
            siret: structure_identifier(raw, "3"),
            name,
            alias: raw.alias.first().map(|alias| alias.to_string()),
            category,
            address: address_model,
            region: region(raw),
            last_updated,
            ..Eg::default()
        };
        if let Some((position, reliable)) = geolocation {
            eg.position = Some(position);
            eg.position_reliable = reliable;
        }
        if let Some(finess) = &eg.finess
            && Finess::parse(finess).is_none()
        {
            self.warnings.push(format!("identifier[finess]: {finess:?} is not a 9-character FINESS number"));
        }
        for (index, extension) in raw.extension.iter().enumerate() {
            let field = lazy!("extension[{index}]");
            if extension.url == ORGANIZATION_PERIOD_URL {
                let period = extension.value_period.as_ref().ok_or_else(|| {
                    ReadError::at(&lazy!("{field} (organization-period)"), Reason::MissingPart("valuePeriod"))
                })?;
                eg.opened_at = optional_date(period.start.as_deref(), &lazy!("{field}.valuePeriod.start"))?;
                eg.closed_at = optional_date(period.end.as_deref(), &lazy!("{field}.valuePeriod.end"))?;
                continue;
            }
            let Some(extension_id) = ror_extension_id(&extension.url) else {
                continue;
            };
            match extension_id {
                "ror-organization-financial-help-type" => {
                    if let Some(code) = self.optional_code(
                        extension.value_codeable_concept.as_ref(),
                        CodeSystem::AideFinanciere,
                        &field,
                    )? {
                        eg.financial_help.push(code);
                    }
                }
                "ror-organization-level-recours-orsan" => {
                    eg.orsan_level = self.optional_code(
                        extension.value_codeable_concept.as_ref(),
                        CodeSystem::NiveauRecoursOrsan,
                        &field,
                    )?;
                }
                "ror-organization-closing-type" => {
                    eg.closing_type = first_code(extension.value_codeable_concept.as_ref());
                }
                "ror-organization-nb-permanent-social-help-place" => {
                    eg.social_help_places_permanent =
                        Some(non_negative(extension.value_integer, &lazy!("{field}.valueInteger"))?);
                }
                "ror-organization-nb-temporary-social-help-place" => {
                    eg.social_help_places_temporary =
                        Some(non_negative(extension.value_integer, &lazy!("{field}.valueInteger"))?);
                }
                "ror-meta-creation-date" => {
                    eg.created_at =
                        optional_date(extension.value_date_time.as_deref(), &lazy!("{field}.valueDateTime"))?;
                }
                "ror-organization-price" => {
                    let tariff = self.tariff(extension, &field)?;
                    eg.tariffs.push(tariff);
                }
                _ => {}
            }
        }
        Ok(ParsedOrganization::Eg { eg, part_of })
    }

    fn tariff(&mut self, extension: &Extension, field: &dyn fmt::Display) -> Result<Tariff, ReadError> {
        let mut price_type = None;
        let mut unit = None;
        let mut amount = None;
        let mut tariff = Tariff::default();
        for (index, sub) in extension.extension.iter().enumerate() {
            let sub_field = lazy!("{field}.extension[{index}] ({})", sub.url);
            let concept = sub.value_codeable_concept.as_ref();
            match sub.url.as_ref() {
                "priceType" => price_type = Some(self.required_code(concept, CodeSystem::TypeTarif, &sub_field)?),
                "priceUnit" => unit = Some(self.required_code(concept, CodeSystem::UnitePrix, &sub_field)?),
                "amount" => {
                    let money = sub
                        .value_money
                        .as_ref()
                        .ok_or_else(|| ReadError::at(&sub_field, Reason::MissingPart("valueMoney")))?;
                    let value = money.value.ok_or_else(|| {
                        ReadError::at(&sub_field, Reason::PartHasNoValue { part: "valueMoney", value: "value" })
                    })?;
                    if !value.is_finite() || value < 0.0 {
                        return Err(ReadError::at(&sub_field, Reason::NegativeAmount(value)));
                    }
                    if let Some(currency) = &money.currency
                        && currency != "EUR"
                    {
                        self.warnings.push(format!("{sub_field}: currency {currency:?} is not EUR"));
                    }
                    tariff.currency = money.currency.as_deref().map(Code::from);
                    amount = Some((value * 100.0).round() as i64);
                }
                "startDate" => {
                    tariff.valid_from =
                        optional_date(sub.value_date_time.as_deref().or(sub.value_date.as_deref()), &sub_field)?
                }
                "under60" => tariff.under_60 = sub.value_boolean,
                "residentialType" => {
                    tariff.residential_type = self.optional_code(concept, CodeSystem::TypeHabitation, &sub_field)?
                }
                "welcomeType" => {
                    tariff.welcome_type = self.optional_code(concept, CodeSystem::TemporaliteAccueil, &sub_field)?
                }
                "specialPrice" => {
                    tariff.special_price = self.optional_code(concept, CodeSystem::ConditionTarifaire, &sub_field)?
                }
                "dependencyLevel" => {
                    tariff.dependency_level =
                        self.optional_code(concept, CodeSystem::GroupeTarifaireDependance, &sub_field)?;
                }
                _ => {}
            }
        }
        tariff.price_type = price_type.ok_or_else(|| {
            ReadError::at(&lazy!("{field} (ror-organization-price)"), Reason::MissingPart("priceType"))
        })?;
        tariff.unit = unit.ok_or_else(|| {
            ReadError::at(&lazy!("{field} (ror-organization-price)"), Reason::MissingPart("priceUnit"))
        })?;
        tariff.amount_cents = amount
            .ok_or_else(|| ReadError::at(&lazy!("{field} (ror-organization-price)"), Reason::MissingPart("amount")))?;
        Ok(tariff)
    }
}

/// The value of the structure identifier whose TRE_G07 type code is `type_code`.
fn structure_identifier(raw: &RawResource, type_code: &str) -> Option<Code> {
    raw.identifier
        .iter()
        .find(|identifier| identifier_type_code(identifier, "G07") == Some(type_code))
        .and_then(|identifier| identifier.value.as_deref())
        .map(|value| Code::from(value.trim()))
}

/// The idNatSt (TRE_G07 `40`) without its one-character prefix, when the prefix is `prefix`
/// (`1` = FINESS).
fn prefixed_national_id(raw: &RawResource, prefix: char) -> Option<Code> {
    let value = structure_identifier(raw, "40")?;
    value.strip_prefix(prefix).and_then(Finess::parse).map(Finess::into_code)
}
