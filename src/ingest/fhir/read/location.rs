//! `Location` → a lieu de réalisation with its position, commune and capacity records.

use std::fmt;

use super::{
    Need, ReadError, Reader, Reason, has_system, identifier_type_code, last_updated, non_negative, optional_date,
    resource_id,
};
use crate::ingest::fhir::raw::{Extension, RawResource};
use crate::ingest::fhir::{ror_extension_id, system_is_nos};
use crate::model::labels::CodeSystem;
use crate::model::{CapacityRecord, GeoPoint, Location};

impl Reader {
    pub(super) fn location(&mut self, raw: &RawResource) -> Result<Location, ReadError> {
        let id = resource_id(raw)?;
        let identifier = raw
            .identifier
            .iter()
            .find(|identifier| identifier_type_code(identifier, "R354") == Some("25"))
            .or(raw.identifier.first())
            .and_then(|identifier| identifier.value.as_deref().map(str::to_owned));
        let synchro_id = raw
            .identifier
            .iter()
            .find(|identifier| identifier_type_code(identifier, "R354") == Some("26"))
            .and_then(|identifier| identifier.value.as_deref().map(str::to_owned));
        let mut location = Location {
            id,
            identifier,
            synchro_id,
            name: raw.name.as_deref().map(str::to_owned),
            last_updated: last_updated(raw)?,
            ..Location::default()
        };
        if let Some(address) = raw.address.0.first() {
            location.address = self.address(address, &"address")?.0;
        }
        for (index, concept) in raw.type_.iter().enumerate() {
            if has_system(concept, "R343") {
                location.function =
                    self.code(concept, CodeSystem::FonctionLieu, &lazy!("type[{index}]"), Need::Optional)?;
            }
        }
        if let Some(position) = &raw.position {
            match (position.latitude, position.longitude) {
                (Some(lat), Some(lon)) => {
                    location.position = Some(
                        GeoPoint::new(lat, lon)
                            .map_err(|error| ReadError::at(&"position", Reason::Position { error, lat, lon }))?,
                    );
                }
                (None, None) => {}
                _ => return Err(ReadError::at(&"position", Reason::HalfPosition)),
            }
            location.position_reliable = position
                .extension
                .iter()
                .find(|extension| ror_extension_id(&extension.url) == Some("ror-coordinate-reliability"))
                .and_then(|extension| extension.value_boolean);
        }
        let mut record_index = 0;
        for (index, extension) in raw.extension.iter().enumerate() {
            let field = lazy!("extension[{index}]");
            let Some(extension_id) = ror_extension_id(&extension.url) else {
                continue;
            };
            match extension_id {
                "ror-commune-cog" => {
                    let code = extension
                        .value_codeable_concept
                        .as_ref()
                        .and_then(|concept| {
                            concept
                                .coding
                                .iter()
                                .find(|coding| {
                                    coding.system.as_deref().is_some_and(|system| system_is_nos(system, "R13"))
                                })
                                .or(concept.coding.first())
                        })
                        .and_then(|coding| coding.code.clone())
                        .ok_or_else(|| ReadError::at(&lazy!("{field} (ror-commune-cog)"), Reason::NoCommuneCode))?;
                    location.commune = Some(self.commune_code(&code, &lazy!("{field} (ror-commune-cog)"))?);
                }
                "ror-location-supported-capacity" => {
                    let record = self.capacity(extension, &lazy!("{field} (capacity record {record_index})"))?;
                    location.capacities.push(record);
                    record_index += 1;
                }
                _ => {}
            }
        }
        if location.address.commune.is_none() {
            location.address.commune = location.commune.clone();
        }
        Ok(location)
    }

    fn capacity(&mut self, extension: &Extension, field: &dyn fmt::Display) -> Result<CapacityRecord, ReadError> {
        let mut capacity_type = None;
        let mut status = None;
        let mut temporality = None;
        let mut count = None;
        let mut record = CapacityRecord::default();
        for (index, sub) in extension.extension.iter().enumerate() {
            let sub_field = lazy!("{field}.extension[{index}] ({})", sub.url);
            let concept = sub.value_codeable_concept.as_ref();
            match sub.url.as_ref() {
                "capacityType" => {
                    capacity_type = Some(self.required_code(concept, CodeSystem::NatureCapacite, &sub_field)?)
                }
                "capacityStatus" => {
                    status = Some(self.required_code(concept, CodeSystem::StatutCapacite, &sub_field)?)
                }
                "temporalityCapacity" => {
                    temporality = Some(self.required_code(concept, CodeSystem::TemporaliteCapacite, &sub_field)?);
                }
                "nbCapacity" => {
                    count = Some(non_negative(sub.value_integer, &lazy!("{sub_field}.valueInteger"))?);
                }
                "capacityUpdateDate" => {
                    record.updated_at =
                        optional_date(sub.value_date_time.as_deref(), &lazy!("{sub_field}.valueDateTime"))?;
                }
                "genderCapacityAvailable" => {
                    record.gender = self.optional_code(concept, CodeSystem::GenreCapacite, &sub_field)?
                }
                "capacityClosingType" => {
                    record.closing_type = self.optional_code(concept, CodeSystem::TypeFermetureCapacite, &sub_field)?;
                }
                "additionalBedType" => {
                    record.additional_bed_type =
                        self.optional_code(concept, CodeSystem::TypeLitSupplementaire, &sub_field)?;
                }
                "crisisType" => record.crisis_type = self.optional_code(concept, CodeSystem::TypeCrise, &sub_field)?,
                "temporaryAssignement" | "temporaryAssignment" => {
                    record.temporary_assignment =
                        self.optional_code(concept, CodeSystem::AffectationTemporaire, &sub_field)?;
                }
                "capacitySourceType" => {
                    record.source_type = self.optional_code(concept, CodeSystem::TypeSourceCapacite, &sub_field)?
                }
                _ => {}
            }
        }
        record.capacity_type =
            capacity_type.ok_or_else(|| ReadError::at(field, Reason::MissingPart("capacityType")))?;
        record.status = status.ok_or_else(|| ReadError::at(field, Reason::MissingPart("capacityStatus")))?;
        record.temporality =
            temporality.ok_or_else(|| ReadError::at(field, Reason::MissingPart("temporalityCapacity")))?;
        record.count = count.ok_or_else(|| ReadError::at(field, Reason::MissingPart("nbCapacity")))?;
        Ok(record)
    }
}
