//! The ROR bed-management capacity PATCH: request body → typed [`Operation`]s, or the exact
//! `OperationOutcome` the ROR answers (`shared/docs/ror-api.md` §1).
//!
//! Pure functions, no HTTP and no state. The HTTP layer calls, in order:
//!
//! 1. [`parse_synchro_identifier`] on the `identifier` query parameter
//!    (`<IdNatStruct of the EG>/<idExterneSynchro>`, e.g. `1350054680/SSR38888`);
//! 2. [`parse_patch`] on the body: a lenient JSON read ([`parse_json_lenient`]: the deprecated
//!    scenario 9 of the DOC is not valid JSON), then the FHIR `Parameters` structure;
//! 3. [`validate_operation`] for the business rules (`400 business-rule`), with an
//!    [`IndicatorCatalog`] deciding which tuples are indicators;
//! 4. one [`OperationOutcome`] builder per error answer ([`OperationOutcome::location_not_found`],
//!    [`OperationOutcome::capacity_not_found`], [`OperationOutcome::multiple_locations`],
//!    [`OperationOutcome::business_rules`], [`OperationOutcome::from_patch_error`]), each knowing its
//!    HTTP status ([`OperationOutcome::http_status`]).
//!
//! # What the parser accepts (and why it is not a FHIRPath Patch engine)
//!
//! ROR clients send bodies that a generic R4 FHIRPath Patch engine rejects (`ror-api.md` §1.4):
//! `add` without `name`, a `value` that is a `part` without `name`, and a `where(...)` selector
//! over sub-extensions. This module reads exactly that dialect:
//!
//! * operation `type`: `replace`, `add`, `delete`, and `remove` as an alias of `delete` (old docs);
//! * `path`: the capacity collection
//!   ([`CAPACITY_COLLECTION_PATH`]), optionally followed by one `.where(...)` whose clauses select
//!   one record by its indicator tuple ([`parse_selector`], a small tokenizer and recursive-descent
//!   parser; anything else is refused with a message and a byte offset);
//! * `value`, in three shapes: (a) `value.part[0].extension[…]` (DOC scenarios 2 and 2 BIS),
//!   (b) `value.part[i]` = bare capacity extensions (scenario 9), (c) a standard `valueExtension`
//!   (also accepted inside a `part` item);
//! * codings as `valueCodeableConcept`, `valueCoding` or `valueCode` (the newest FSH types the
//!   sub-extensions as `code`), with a TRE (`TRE_R330…`) or JDV (`JDV_J188…`) system URL, http or
//!   https, with or without a trailing slash, or no system at all;
//! * `nbCapacity` as `valueInteger`, or leniently `valueInt` / `valueUnsignedInt`, as a JSON integer
//!   or a string of digits (scenario 9 sends `"valueInt": "10"`).
//!
//! # Identity of a record
//!
//! A capacity record is identified by its whole indicator tuple, [`CapacityKey`]: status,
//! temporality, gender, temporary assignment, closing type, additional bed type, crisis type
//! (IG issue #382: two records may differ only by `temporaryAssignement`). `capacityType` is not
//! part of it: the indicator fixes it ([`check_capacity_type`]). A record selector that leaves a
//! tuple field out means "that field is absent" (the ROR prints it as `null`), never "any value".
//!
//! # Units and codes
//!
//! Counts (`nbCapacity`) are numbers of beds, places or dwellings (TRE_R329). Times are UTC Unix
//! seconds ([`UnixSeconds`]); tolerances are seconds. Codes are kept exactly as sent (`"02"`).

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::model::labels::CodeSystem;
use crate::model::place::Finess;
use crate::model::{CapacityKey, CapacityRecord, Code};
use crate::util::time::{UnixSeconds, format_rfc3339, parse_fhir_datetime};

/// Canonical URL of the capacity extension `ror-location-supported-capacity`.
pub(crate) const CAPACITY_EXTENSION_URL: &str =
    "https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/ror-location-supported-capacity";

/// The FHIRPath of a Location's capacity collection, as ROR clients write it and as the ROR puts
/// it in the `expression` of its "indicator not found" 404.
pub(crate) const CAPACITY_COLLECTION_PATH: &str = "Location.extension.where(url='https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/ror-location-supported-capacity')";

/// Largest `nbCapacity` accepted by [`ValidationPolicy::default`] (beds / places / dwellings of
/// one record). Larger counts are a `business-rule` error: no Location has 100 000 beds.
pub(crate) const MAX_CAPACITY_COUNT: u32 = 100_000;

/// Default tolerance, in seconds, for a `capacityUpdateDate` ahead of the server clock (5 minutes:
/// clocks of establishments drift).
pub(crate) const DEFAULT_FUTURE_TOLERANCE_SECONDS: i64 = 300;

/// How many missing commas [`parse_json_lenient`] inserts before giving up.
pub(crate) const MAX_COMMA_REPAIRS: usize = 8;

/// Expression of the capacity extension in the ROR's `business-rule` issues (written with
/// `extension('…')`, not `where(url=…)`, in the DOC).
const CAPACITY_RULE_EXPRESSION: &str = "Location.extension('https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/ror-location-supported-capacity')";

mod body;
mod identifier;
mod outcome;
mod rules;
mod selector;
#[cfg(test)]
mod tests;

pub(crate) use body::*;
pub(crate) use identifier::*;
pub(crate) use outcome::*;
pub(crate) use rules::*;
pub(crate) use selector::*;

// ---------------------------------------------------------------------------------------------
// Sub-extensions and their code systems
// ---------------------------------------------------------------------------------------------

/// A sub-extension of `ror-location-supported-capacity` (bare relative `url`s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum CapacityField {
    /// `capacityType`, nature (TRE_R329 / JDV_J187), required.
    CapacityType,
    /// `capacityStatus`, statut (TRE_R330 / JDV_J188), required, in the tuple.
    Status,
    /// `temporalityCapacity`, temporalité (TRE_R331 / JDV_J189), required, in the tuple.
    Temporality,
    /// `nbCapacity`, the count, required.
    Count,
    /// `capacitySourceType`, source (TRE_R335 / JDV_J193), required.
    SourceType,
    /// `capacityUpdateDate`, when the source updated the record, required.
    UpdateDate,
    /// `genderCapacityAvailable`, genre (TRE_R332 / JDV_J190), optional, in the tuple.
    Gender,
    /// `capacityClosingType`, type de fermeture (TRE_R333 / JDV_J191), optional, in the tuple.
    ClosingType,
    /// `additionalBedType`, type de lit supplémentaire (TRE_R334 / JDV_J192), optional, in the tuple.
    AdditionalBedType,
    /// `crisisType`, type de crise (TRE_R336 / JDV_J194), optional, in the tuple.
    CrisisType,
    /// `temporaryAssignement` (sic), affectation temporaire (TRE_R337 / JDV_J195), required, in
    /// the tuple.
    TemporaryAssignment,
    /// `comment` (since IG 0.7.0), optional free text.
    Comment,
}

impl CapacityField {
    /// Every sub-extension, in declaration order.
    pub(crate) const ALL: [CapacityField; 12] = [
        CapacityField::CapacityType,
        CapacityField::Status,
        CapacityField::Temporality,
        CapacityField::Count,
        CapacityField::SourceType,
        CapacityField::UpdateDate,
        CapacityField::Gender,
        CapacityField::ClosingType,
        CapacityField::AdditionalBedType,
        CapacityField::CrisisType,
        CapacityField::TemporaryAssignment,
        CapacityField::Comment,
    ];

    /// The indicator-tuple fields, in the order of the ROR's 400 messages.
    pub(crate) const TUPLE: [CapacityField; 7] = [
        CapacityField::Status,
        CapacityField::Temporality,
        CapacityField::Gender,
        CapacityField::ClosingType,
        CapacityField::AdditionalBedType,
        CapacityField::CrisisType,
        CapacityField::TemporaryAssignment,
    ];

    /// The sub-extension `url` as the IG spells it (`temporaryAssignement`, sic).
    pub(crate) fn url(self) -> &'static str {
        match self {
            CapacityField::CapacityType => "capacityType",
            CapacityField::Status => "capacityStatus",
            CapacityField::Temporality => "temporalityCapacity",
            CapacityField::Count => "nbCapacity",
            CapacityField::SourceType => "capacitySourceType",
            CapacityField::UpdateDate => "capacityUpdateDate",
            CapacityField::Gender => "genderCapacityAvailable",
            CapacityField::ClosingType => "capacityClosingType",
            CapacityField::AdditionalBedType => "additionalBedType",
            CapacityField::CrisisType => "crisisType",
            CapacityField::TemporaryAssignment => "temporaryAssignement",
            CapacityField::Comment => "comment",
        }
    }

    /// The field of a sub-extension `url`; also accepts the corrected spelling
    /// `temporaryAssignment`, as FHIR ingest does.
    pub(crate) fn from_url(url: &str) -> Option<CapacityField> {
        if url == "temporaryAssignment" {
            return Some(CapacityField::TemporaryAssignment);
        }
        CapacityField::ALL.into_iter().find(|field| field.url() == url)
    }

    /// The code system of a coded field (None for the count, the date and the comment).
    pub(crate) fn code_system(self) -> Option<CodeSystem> {
        Some(match self {
            CapacityField::CapacityType => CodeSystem::NatureCapacite,
            CapacityField::Status => CodeSystem::StatutCapacite,
            CapacityField::Temporality => CodeSystem::TemporaliteCapacite,
            CapacityField::SourceType => CodeSystem::TypeSourceCapacite,
            CapacityField::Gender => CodeSystem::GenreCapacite,
            CapacityField::ClosingType => CodeSystem::TypeFermetureCapacite,
            CapacityField::AdditionalBedType => CodeSystem::TypeLitSupplementaire,
            CapacityField::CrisisType => CodeSystem::TypeCrise,
            CapacityField::TemporaryAssignment => CodeSystem::AffectationTemporaire,
            CapacityField::Count | CapacityField::UpdateDate | CapacityField::Comment => return None,
        })
    }

    /// The number of the ROR value set (`JDV_Jxxx-…-ROR`) that carries this field's codes.
    pub(crate) fn jdv_number(self) -> Option<u32> {
        Some(match self {
            CapacityField::CapacityType => 187,
            CapacityField::Status => 188,
            CapacityField::Temporality => 189,
            CapacityField::Gender => 190,
            CapacityField::ClosingType => 191,
            CapacityField::AdditionalBedType => 192,
            CapacityField::SourceType => 193,
            CapacityField::CrisisType => 194,
            CapacityField::TemporaryAssignment => 195,
            CapacityField::Count | CapacityField::UpdateDate | CapacityField::Comment => return None,
        })
    }

    /// A required sub-extension of a PATCH record (`ror-api.md` §1.5).
    pub(crate) fn is_required(self) -> bool {
        matches!(
            self,
            CapacityField::CapacityType
                | CapacityField::Status
                | CapacityField::Temporality
                | CapacityField::Count
                | CapacityField::SourceType
                | CapacityField::UpdateDate
                | CapacityField::TemporaryAssignment
        )
    }

    /// The code of this field in a record (None for an absent optional field and for the
    /// count, the date and the comment).
    pub(crate) fn code_of(self, record: &CapacityRecord) -> Option<&str> {
        match self {
            CapacityField::CapacityType => Some(&record.capacity_type),
            CapacityField::Status => Some(&record.status),
            CapacityField::Temporality => Some(&record.temporality),
            CapacityField::SourceType => record.source_type.as_deref(),
            CapacityField::Gender => record.gender.as_deref(),
            CapacityField::ClosingType => record.closing_type.as_deref(),
            CapacityField::AdditionalBedType => record.additional_bed_type.as_deref(),
            CapacityField::CrisisType => record.crisis_type.as_deref(),
            CapacityField::TemporaryAssignment => record.temporary_assignment.as_deref(),
            CapacityField::Count | CapacityField::UpdateDate | CapacityField::Comment => None,
        }
    }
}

impl fmt::Display for CapacityField {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.url())
    }
}

/// The code system of a capacity coding's `system` URL: a TRE code system through
/// [`CodeSystem::from_url`], or one of the ROR value sets `JDV_J187` … `JDV_J195` mapped to the
/// TRE it draws from. http or https, trailing slash, NOS or FHIR segment: all accepted.
pub(crate) fn capacity_code_system(url: &str) -> Option<CodeSystem> {
    if let Some(system) = CodeSystem::from_url(url) {
        return Some(system);
    }
    let number = jdv_number(url)?;
    CapacityField::ALL.into_iter().find(|field| field.jdv_number() == Some(number)).and_then(CapacityField::code_system)
}

/// The number after the first `JDV_J` / `JDV-J` (any case) that starts a word of `url`.
fn jdv_number(url: &str) -> Option<u32> {
    let bytes = url.as_bytes();
    (0..bytes.len().saturating_sub(4)).find_map(|i| {
        let at_boundary = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        let marker = at_boundary
            && bytes[i..i + 3].eq_ignore_ascii_case(b"jdv")
            && (bytes[i + 3] == b'_' || bytes[i + 3] == b'-')
            && bytes[i + 4].eq_ignore_ascii_case(&b'j');
        if !marker {
            return None;
        }
        let digits: &[u8] = &bytes[i + 5..];
        let length = digits.iter().take_while(|byte| byte.is_ascii_digit()).count();
        if length == 0 || length > 6 {
            return None;
        }
        std::str::from_utf8(&digits[..length]).ok()?.parse().ok()
    })
}

/// Whether `url` names the capacity extension: [`CAPACITY_EXTENSION_URL`], also over http and
/// with a trailing slash.
pub(crate) fn is_capacity_extension_url(url: &str) -> bool {
    let url = url.strip_suffix('/').unwrap_or(url);
    let Some(rest) = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")) else {
        return false;
    };
    CAPACITY_EXTENSION_URL.strip_prefix("https://") == Some(rest)
}

// ---------------------------------------------------------------------------------------------
// Record identity and selectors
// ---------------------------------------------------------------------------------------------

/// The indicator tuple that identifies a capacity record on its Location (`ror-api.md` §1.5),
/// [`crate::model::CapacityKey`]: two records with the same key are the same indicator; a replace
/// or delete addresses exactly one key. `capacityType` is not part of it (fixed by the indicator).
impl CapacityKey {
    /// The key of a record.
    pub(crate) fn of(record: &CapacityRecord) -> CapacityKey {
        CapacityKey {
            status: record.status.clone(),
            temporality: record.temporality.clone(),
            gender: record.gender.clone(),
            temporary_assignment: record.temporary_assignment.clone(),
            closing_type: record.closing_type.clone(),
            additional_bed_type: record.additional_bed_type.clone(),
            crisis_type: record.crisis_type.clone(),
        }
    }

    /// Whether `record` has this key.
    pub(crate) fn matches(&self, record: &CapacityRecord) -> bool {
        *self == CapacityKey::of(record)
    }

    /// The code of a tuple field (None for an absent field, and for a field outside the tuple).
    pub(crate) fn code(&self, field: CapacityField) -> Option<&str> {
        match field {
            CapacityField::Status => Some(&self.status),
            CapacityField::Temporality => Some(&self.temporality),
            CapacityField::Gender => self.gender.as_deref(),
            CapacityField::ClosingType => self.closing_type.as_deref(),
            CapacityField::AdditionalBedType => self.additional_bed_type.as_deref(),
            CapacityField::CrisisType => self.crisis_type.as_deref(),
            CapacityField::TemporaryAssignment => self.temporary_assignment.as_deref(),
            _ => None,
        }
    }

    /// The tuple as the ROR prints it in its 400 messages:
    /// `capacityStatus: 02 / temporalityCapacity: 01 / genderCapacityAvailable: 03 /
    /// capacityClosingType: null / additionalBedType: null / crisisType: null / temporaryAssignement: 01`.
    pub(crate) fn ror_tuple_text(&self) -> String {
        tuple_text(|field| self.code(field))
    }
}

impl From<&CapacityRecord> for CapacityKey {
    fn from(record: &CapacityRecord) -> CapacityKey {
        CapacityKey::of(record)
    }
}

fn tuple_text<'a>(code: impl Fn(CapacityField) -> Option<&'a str>) -> String {
    CapacityField::TUPLE
        .into_iter()
        .map(|field| format!("{}: {}", field.url(), code(field).unwrap_or("null")))
        .collect::<Vec<_>>()
        .join(" / ")
}

/// The clauses of a record selector's `where(...)`: one optional code per tuple field.
///
/// A field left out means "absent" ([`RecordCriteria::key`]), as in the ROR's messages
/// (`capacityClosingType: null`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub(crate) struct RecordCriteria {
    /// `capacityStatus`.
    pub(crate) status: Option<Code>,
    /// `temporalityCapacity`.
    pub(crate) temporality: Option<Code>,
    /// `genderCapacityAvailable`.
    pub(crate) gender: Option<Code>,
    /// `temporaryAssignement`.
    pub(crate) temporary_assignment: Option<Code>,
    /// `capacityClosingType`.
    pub(crate) closing_type: Option<Code>,
    /// `additionalBedType`.
    pub(crate) additional_bed_type: Option<Code>,
    /// `crisisType`.
    pub(crate) crisis_type: Option<Code>,
}

impl RecordCriteria {
    /// The code given for a tuple field, if any.
    pub(crate) fn code(&self, field: CapacityField) -> Option<&str> {
        match field {
            CapacityField::Status => self.status.as_deref(),
            CapacityField::Temporality => self.temporality.as_deref(),
            CapacityField::Gender => self.gender.as_deref(),
            CapacityField::ClosingType => self.closing_type.as_deref(),
            CapacityField::AdditionalBedType => self.additional_bed_type.as_deref(),
            CapacityField::CrisisType => self.crisis_type.as_deref(),
            CapacityField::TemporaryAssignment => self.temporary_assignment.as_deref(),
            _ => None,
        }
    }

    fn slot(&mut self, field: CapacityField) -> Option<&mut Option<Code>> {
        Some(match field {
            CapacityField::Status => &mut self.status,
            CapacityField::Temporality => &mut self.temporality,
            CapacityField::Gender => &mut self.gender,
            CapacityField::ClosingType => &mut self.closing_type,
            CapacityField::AdditionalBedType => &mut self.additional_bed_type,
            CapacityField::CrisisType => &mut self.crisis_type,
            CapacityField::TemporaryAssignment => &mut self.temporary_assignment,
            _ => return None,
        })
    }

    /// The one key these criteria select: absent optional fields are absent in the key. None
    /// when `capacityStatus` or `temporalityCapacity` is missing (every record has both, so such
    /// a selector names no indicator: a `business-rule` 400, see [`OutcomeIssue::invalid_selector`]).
    pub(crate) fn key(&self) -> Option<CapacityKey> {
        Some(CapacityKey {
            status: self.status.clone()?,
            temporality: self.temporality.clone()?,
            gender: self.gender.clone(),
            temporary_assignment: self.temporary_assignment.clone(),
            closing_type: self.closing_type.clone(),
            additional_bed_type: self.additional_bed_type.clone(),
            crisis_type: self.crisis_type.clone(),
        })
    }

    /// Whether the criteria select `record` (exact tuple equality, see [`RecordCriteria::key`]).
    pub(crate) fn matches(&self, record: &CapacityRecord) -> bool {
        self.key().is_some_and(|key| key.matches(record))
    }

    /// The criteria as the ROR prints them (`capacityStatus: 02 / … / crisisType: null / …`).
    pub(crate) fn ror_tuple_text(&self) -> String {
        tuple_text(|field| self.code(field))
    }
}

/// What a PATCH `path` selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selector {
    /// The Location's whole capacity collection: [`CAPACITY_COLLECTION_PATH`].
    Collection,
    /// One record, by `….where(extension.where(url = 'capacityStatus' and
    /// valueCodeableConcept.coding.code = '02') and …)`.
    Record(RecordCriteria),
}

// ---------------------------------------------------------------------------------------------
// Operations and records
// ---------------------------------------------------------------------------------------------

/// One capacity record as sent in a PATCH: the model record, plus the `comment` the model does
/// not keep.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct CapacityUpdate {
    /// The record. Every required field is set: `source_type`, `temporary_assignment` and
    /// `updated_at` are `Some`.
    pub(crate) record: CapacityRecord,
    /// `comment` (free text, IG 0.7.0).
    pub(crate) comment: Option<String>,
}

/// One operation of a capacity PATCH.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operation {
    /// `replace`: the selected record (one record in `records`), or the whole collection
    /// (deprecated scenario 9, any number of records).
    Replace {
        /// What `path` selects.
        selector: Selector,
        /// The new records (at least one).
        records: Vec<CapacityUpdate>,
    },
    /// `add`: new records in the collection (at least one).
    Add {
        /// The new records.
        records: Vec<CapacityUpdate>,
    },
    /// `delete` (or `remove`): the selected record. Always a [`Selector::Record`].
    Delete {
        /// What `path` selects.
        selector: Selector,
    },
}

/// The `OperationOutcome.issue.code` values this module emits (FHIR R4 `IssueType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum IssueType {
    /// `structure`: the body is not JSON, or not a `Parameters` of capacity operations.
    Structure,
    /// `invalid`: a part has an unsupported or wrong value (operation type, path, url).
    Invalid,
    /// `required`: a required part or sub-extension is missing.
    Required,
    /// `value`: a value has the wrong type or format (count, date, code).
    Value,
    /// `business-rule`: the ROR's business rules (indicator, count, date, codes).
    BusinessRule,
    /// `not-found`: no Location, or no record, matches (404).
    NotFound,
    /// `multiple-matches`: several Locations carry the synchro id (412).
    MultipleMatches,
}

impl IssueType {
    /// The HTTP status of an answer whose (first) issue has this code: 404, 412, else 400.
    pub(crate) fn http_status(self) -> u16 {
        match self {
            IssueType::NotFound => 404,
            IssueType::MultipleMatches => 412,
            _ => 400,
        }
    }
}

/// Why a PATCH body was refused. Becomes a 400 through [`OperationOutcome::from_patch_error`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub(crate) struct PatchError {
    /// The issue code (`structure`, `invalid`, `required`, `value`, or `business-rule` for a
    /// negative or out-of-range count).
    pub(crate) code: IssueType,
    /// What is wrong, lowercase English.
    pub(crate) message: String,
    /// Where, as a path into the body (`Parameters.parameter[0].part[2].part[0]…`).
    pub(crate) expression: Option<String>,
}

impl PatchError {
    fn new(code: IssueType, at: &str, message: impl Into<String>) -> PatchError {
        PatchError { code, message: message.into(), expression: (!at.is_empty()).then(|| at.to_owned()) }
    }
}

/// The operations of a body, and the repairs its JSON needed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ParsedPatch {
    /// The operations, in body order.
    pub(crate) operations: Vec<Operation>,
    /// Byte offsets in the body where [`parse_json_lenient`] inserted a missing comma (empty for
    /// valid JSON). Worth a warning in the logs.
    pub(crate) inserted_commas: Vec<usize>,
}

/// Parses a capacity PATCH body into its operations (see the module doc for what is accepted).
///
/// # Errors
/// A [`PatchError`] with the issue code of the first problem found.
pub(crate) fn parse_patch(body: &[u8]) -> Result<Vec<Operation>, PatchError> {
    parse_patch_report(body).map(|parsed| parsed.operations)
}

/// [`parse_patch`], also reporting the JSON repairs.
pub(crate) fn parse_patch_report(body: &[u8]) -> Result<ParsedPatch, PatchError> {
    let json = parse_json_lenient(body)
        .map_err(|error| PatchError::new(IssueType::Structure, "", format!("the body is not JSON: {error}")))?;
    let operations = parse_parameters(&json.value)?;
    Ok(ParsedPatch { operations, inserted_commas: json.inserted_commas })
}
