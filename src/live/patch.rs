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

/// Why a `path` is not a capacity selector.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid capacity selector at byte {offset}: {message}")]
pub(crate) struct SelectorError {
    /// Byte offset in the `path` string where the problem was found.
    pub(crate) offset: usize,
    /// What was expected, lowercase English.
    pub(crate) message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token<'a> {
    Identifier(&'a str),
    Text(String),
    Number(&'a str),
    Dot,
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Equals,
    End,
}

impl fmt::Display for Token<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Identifier(name) => write!(formatter, "`{name}`"),
            Token::Text(text) => write!(formatter, "the string '{text}'"),
            Token::Number(number) => write!(formatter, "`{number}`"),
            Token::Dot => formatter.write_str("`.`"),
            Token::Open => formatter.write_str("`(`"),
            Token::Close => formatter.write_str("`)`"),
            Token::OpenBracket => formatter.write_str("`[`"),
            Token::CloseBracket => formatter.write_str("`]`"),
            Token::Equals => formatter.write_str("`=`"),
            Token::End => formatter.write_str("the end of the path"),
        }
    }
}

/// Splits a selector into tokens: identifiers, quoted strings (`'…'` or `"…"`, FHIRPath escapes
/// `\'`, `\"`, `\\`, `\/`), integers, `.`, `(`, `)`, `[`, `]`, `=`. Whitespace separates tokens.
fn tokenize(path: &str) -> Result<Vec<(Token<'_>, usize)>, SelectorError> {
    let bytes = path.as_bytes();
    let mut tokens = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        let start = at;
        let single = match byte {
            b'.' => Some(Token::Dot),
            b'(' => Some(Token::Open),
            b')' => Some(Token::Close),
            b'[' => Some(Token::OpenBracket),
            b']' => Some(Token::CloseBracket),
            b'=' => Some(Token::Equals),
            _ => None,
        };
        if let Some(token) = single {
            tokens.push((token, start));
            at += 1;
        } else if byte.is_ascii_whitespace() {
            at += 1;
        } else if byte.is_ascii_alphabetic() || byte == b'_' {
            while at < bytes.len() && (bytes[at].is_ascii_alphanumeric() || bytes[at] == b'_') {
                at += 1;
            }
            tokens.push((Token::Identifier(&path[start..at]), start));
        } else if byte.is_ascii_digit() {
            while at < bytes.len() && bytes[at].is_ascii_digit() {
                at += 1;
            }
            tokens.push((Token::Number(&path[start..at]), start));
        } else if byte == b'\'' || byte == b'"' {
            let quote = byte;
            let mut text = String::new();
            at += 1;
            loop {
                let Some(&next) = bytes.get(at) else {
                    return Err(SelectorError { offset: start, message: "unterminated string".into() });
                };
                if next == quote {
                    at += 1;
                    break;
                }
                if next == b'\\' {
                    let escaped = match bytes.get(at + 1) {
                        Some(b'\'') => '\'',
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        _ => {
                            return Err(SelectorError {
                                offset: at,
                                message: "unsupported escape in a string (only \\' \\\" \\\\ \\/)".into(),
                            });
                        }
                    };
                    text.push(escaped);
                    at += 2;
                    continue;
                }
                // `at` is on a char boundary: quotes and backslashes are ASCII.
                let character = path[at..].chars().next().unwrap_or('\u{fffd}');
                text.push(character);
                at += character.len_utf8();
            }
            tokens.push((Token::Text(text), start));
        } else {
            let character = path[at..].chars().next().unwrap_or('\u{fffd}');
            let hint = match character {
                '!' | '<' | '>' | '~' => " (only `=` comparisons are supported)",
                '|' => " (unions are not supported)",
                _ => "",
            };
            return Err(SelectorError { offset: start, message: format!("unexpected character `{character}`{hint}") });
        }
    }
    tokens.push((Token::End, bytes.len()));
    Ok(tokens)
}

/// Recursive-descent parser over the tokens of one selector.
struct SelectorParser<'a> {
    tokens: Vec<(Token<'a>, usize)>,
    position: usize,
}

/// One `url = '…'` or `value… = '…'` comparison inside a clause.
enum Comparison {
    Url { name: String, offset: usize },
    Code { code: String, offset: usize },
}

impl<'a> SelectorParser<'a> {
    fn peek(&self) -> &Token<'a> {
        &self.tokens[self.position].0
    }

    fn offset(&self) -> usize {
        self.tokens[self.position].1
    }

    fn advance(&mut self) -> (Token<'a>, usize) {
        let token = self.tokens[self.position].clone();
        if self.position + 1 < self.tokens.len() {
            self.position += 1;
        }
        token
    }

    fn error<T>(&self, message: String) -> Result<T, SelectorError> {
        Err(SelectorError { offset: self.offset(), message })
    }

    fn expect(&mut self, expected: Token<'static>) -> Result<(), SelectorError> {
        if *self.peek() == expected {
            self.advance();
            Ok(())
        } else {
            self.error(format!("expected {expected}, found {}", self.peek()))
        }
    }

    fn keyword(&mut self, name: &str) -> Result<(), SelectorError> {
        match self.peek() {
            Token::Identifier(found) if *found == name => {
                self.advance();
                Ok(())
            }
            found => self.error(format!("expected `{name}`, found {found}")),
        }
    }

    fn text(&mut self) -> Result<(String, usize), SelectorError> {
        match self.advance() {
            (Token::Text(text), offset) => Ok((text, offset)),
            (found, offset) => {
                Err(SelectorError { offset, message: format!("expected a quoted string, found {found}") })
            }
        }
    }

    /// `Location.extension.where(url = '<capacity>') [ .where( clause (and clause)* ) ]`
    fn selector(&mut self) -> Result<Selector, SelectorError> {
        self.keyword("Location")?;
        self.expect(Token::Dot)?;
        self.keyword("extension")?;
        self.expect(Token::Dot)?;
        self.keyword("where")?;
        self.expect(Token::Open)?;
        self.keyword("url")?;
        self.expect(Token::Equals)?;
        let (url, offset) = self.text()?;
        if !is_capacity_extension_url(&url) {
            return Err(SelectorError {
                offset,
                message: format!("the path must select the extension '{CAPACITY_EXTENSION_URL}', not '{url}'"),
            });
        }
        self.expect(Token::Close)?;
        if *self.peek() == Token::End {
            return Ok(Selector::Collection);
        }
        self.expect(Token::Dot)?;
        self.keyword("where")?;
        self.expect(Token::Open)?;
        let mut criteria = RecordCriteria::default();
        loop {
            self.clause(&mut criteria)?;
            match self.peek() {
                Token::Identifier("and") => {
                    self.advance();
                }
                Token::Identifier("or" | "xor" | "implies") => {
                    return self.error(format!("only `and` may join the clauses, found {}", self.peek()));
                }
                _ => break,
            }
        }
        self.expect(Token::Close)?;
        if *self.peek() != Token::End {
            return self.error(format!("expected the end of the path, found {}", self.peek()));
        }
        Ok(Selector::Record(criteria))
    }

    /// `extension.where( comparison and comparison )`, one url and one code, in either order.
    fn clause(&mut self, criteria: &mut RecordCriteria) -> Result<(), SelectorError> {
        let clause_offset = self.offset();
        self.keyword("extension")?;
        self.expect(Token::Dot)?;
        self.keyword("where")?;
        self.expect(Token::Open)?;
        let first = self.comparison()?;
        match self.peek() {
            Token::Identifier("and") => {
                self.advance();
            }
            found => return self.error(format!("expected `and` between `url` and the code, found {found}")),
        }
        let second = self.comparison()?;
        self.expect(Token::Close)?;
        let ((name, name_offset), (code, code_offset)) = match (first, second) {
            (Comparison::Url { name, offset }, Comparison::Code { code, offset: code_offset })
            | (Comparison::Code { code, offset: code_offset }, Comparison::Url { name, offset }) => {
                ((name, offset), (code, code_offset))
            }
            (Comparison::Url { .. }, Comparison::Url { .. }) => {
                return Err(SelectorError { offset: clause_offset, message: "a clause compares `url` twice".into() });
            }
            (Comparison::Code { .. }, Comparison::Code { .. }) => {
                return Err(SelectorError {
                    offset: clause_offset,
                    message: "a clause has no `url` comparison".into(),
                });
            }
        };
        let Some(field) = CapacityField::from_url(&name) else {
            return Err(SelectorError {
                offset: name_offset,
                message: format!("unknown capacity sub-extension '{name}'"),
            });
        };
        let Some(slot) = criteria.slot(field) else {
            return Err(SelectorError {
                offset: name_offset,
                message: format!(
                    "'{name}' cannot select a record; use the indicator fields capacityStatus, temporalityCapacity, \
                     genderCapacityAvailable, temporaryAssignement, capacityClosingType, additionalBedType, crisisType"
                ),
            });
        };
        if slot.is_some() {
            return Err(SelectorError { offset: name_offset, message: format!("'{name}' is compared twice") });
        }
        if code.is_empty() || code.chars().any(char::is_whitespace) {
            return Err(SelectorError { offset: code_offset, message: format!("invalid code '{code}' for '{name}'") });
        }
        *slot = Some(Code::from(code));
        Ok(())
    }

    /// `url = '…'`, or `valueCodeableConcept.coding[0]?.code = '…'`, `valueCoding.code = '…'`,
    /// `valueCode = '…'`.
    fn comparison(&mut self) -> Result<Comparison, SelectorError> {
        let offset = self.offset();
        match self.advance().0 {
            Token::Identifier("url") => {
                self.expect(Token::Equals)?;
                let (name, offset) = self.text()?;
                Ok(Comparison::Url { name, offset })
            }
            Token::Identifier("valueCode") => self.code_comparison(),
            Token::Identifier("valueCoding") => {
                self.expect(Token::Dot)?;
                self.keyword("code")?;
                self.code_comparison()
            }
            Token::Identifier("valueCodeableConcept") => {
                self.expect(Token::Dot)?;
                self.keyword("coding")?;
                if *self.peek() == Token::OpenBracket {
                    self.advance();
                    self.expect(Token::Number("0"))?;
                    self.expect(Token::CloseBracket)?;
                }
                self.expect(Token::Dot)?;
                self.keyword("code")?;
                self.code_comparison()
            }
            found => Err(SelectorError {
                offset,
                message: format!(
                    "expected `url`, `valueCodeableConcept.coding.code`, `valueCoding.code` or `valueCode`, found {found}"
                ),
            }),
        }
    }

    fn code_comparison(&mut self) -> Result<Comparison, SelectorError> {
        self.expect(Token::Equals)?;
        let (code, offset) = self.text()?;
        Ok(Comparison::Code { code, offset })
    }
}

/// Parses a capacity PATCH `path` into a [`Selector`].
///
/// Grammar (whitespace free between tokens, strings in `'…'` or `"…"`):
///
/// ```text
/// path       = "Location" "." "extension" "." "where" "(" "url" "=" STRING ")"
///              [ "." "where" "(" clause { "and" clause } ")" ]
/// clause     = "extension" "." "where" "(" comparison "and" comparison ")"   ; one url, one code
/// comparison = "url" "=" STRING
///            | ( "valueCodeableConcept" "." "coding" [ "[" "0" "]" ] "." "code"
///              | "valueCoding" "." "code" | "valueCode" ) "=" STRING
/// ```
///
/// The first STRING must be the capacity extension's URL ([`is_capacity_extension_url`]). A
/// clause's url names a tuple field ([`CapacityField::TUPLE`]): the four of the DOC
/// (`capacityStatus`, `temporalityCapacity`, `genderCapacityAvailable`, `temporaryAssignement`)
/// and the three optional ones (`capacityClosingType`, `additionalBedType`, `crisisType`), which
/// crisis indicators need; each at most once, in any order.
///
/// # Examples
///
/// ```
/// use ror_search::live::patch::{Selector, parse_selector};
///
/// let path = "Location.extension.where(url='https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/ror-location-supported-capacity')\
///             .where(extension.where(url = 'capacityStatus' and valueCode = '02'))";
/// let Ok(Selector::Record(criteria)) = parse_selector(path) else { panic!() };
/// assert_eq!(criteria.status.as_deref(), Some("02"));
/// assert!(parse_selector("Location.extension").is_err());
/// ```
pub(crate) fn parse_selector(path: &str) -> Result<Selector, SelectorError> {
    let tokens = tokenize(path)?;
    SelectorParser { tokens, position: 0 }.selector()
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

/// A JSON value read by [`parse_json_lenient`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LenientJson {
    /// The value.
    pub(crate) value: Value,
    /// Byte offsets in the input where a comma was inserted, ascending.
    pub(crate) inserted_commas: Vec<usize>,
}

/// Reads JSON, repairing the one defect seen in published ROR bodies: a missing comma between
/// two array items (DOC scenario 9), or between two object members.
///
/// The repair: when serde_json stops on "expected `,` or `]`" (or `}`), the unexpected byte
/// starts a value (or a member name), and the last non-blank byte before it ends one, a comma is
/// inserted just before the unexpected byte and the parse is retried; at most
/// [`MAX_COMMA_REPAIRS`] times. Nothing else is repaired. A UTF-8 byte-order mark is skipped.
///
/// # Errors
/// The serde_json error of the last attempt. Its line is exact; its column counts the commas
/// inserted earlier on the same line.
pub(crate) fn parse_json_lenient(body: &[u8]) -> Result<LenientJson, serde_json::Error> {
    let (skipped, body) = match body.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => (3, rest),
        None => (0, body),
    };
    let mut text: Cow<'_, [u8]> = Cow::Borrowed(body);
    let mut inserted_commas = Vec::new();
    loop {
        let error = match serde_json::from_slice::<Value>(&text) {
            Ok(value) => return Ok(LenientJson { value, inserted_commas }),
            Err(error) => error,
        };
        if inserted_commas.len() >= MAX_COMMA_REPAIRS {
            return Err(error);
        }
        let Some(at) = missing_comma_offset(&text, &error) else {
            return Err(error);
        };
        // Repairs move forward through the text: each one is after the previous one, so the
        // original offset is the current one minus the commas inserted so far.
        let original = at - inserted_commas.len() + skipped;
        debug_assert!(inserted_commas.last().is_none_or(|&last| last <= original));
        inserted_commas.push(original);
        text.to_mut().insert(at, b',');
    }
}

/// Where a comma is missing, when `error` is serde_json's "expected `,` or `]`/`}`" and the
/// bytes around the error position are the end of a value and the start of the next one.
fn missing_comma_offset(text: &[u8], error: &serde_json::Error) -> Option<usize> {
    if error.classify() != serde_json::error::Category::Syntax {
        return None;
    }
    let message = error.to_string();
    let in_array = message.starts_with("expected `,` or `]`");
    let in_object = message.starts_with("expected `,` or `}`");
    if !in_array && !in_object {
        return None;
    }
    let line_start = if error.line() <= 1 {
        0
    } else {
        let mut newlines = 0;
        text.iter().position(|&byte| {
            newlines += usize::from(byte == b'\n');
            newlines == error.line() - 1
        })? + 1
    };
    // serde_json's column is 1-based and points at the unexpected byte.
    let at = line_start + error.column().checked_sub(1)?;
    let next = *text.get(at)?;
    let starts_next = if in_array {
        matches!(next, b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n')
    } else {
        next == b'"'
    };
    let previous = text[..at].iter().rev().find(|byte| !byte.is_ascii_whitespace())?;
    let ends_previous = matches!(previous, b'}' | b']' | b'"' | b'0'..=b'9' | b'e' | b'l');
    (starts_next && ends_previous).then_some(at)
}

fn object<'v>(value: &'v Value, at: &str, what: &str) -> Result<&'v Map<String, Value>, PatchError> {
    value.as_object().ok_or_else(|| PatchError::new(IssueType::Structure, at, format!("{what} must be a JSON object")))
}

fn array<'v>(map: &'v Map<String, Value>, key: &str, at: &str) -> Result<Option<&'v Vec<Value>>, PatchError> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(_) => {
            Err(PatchError::new(IssueType::Structure, &format!("{at}.{key}"), format!("`{key}` must be an array")))
        }
    }
}

fn string<'v>(map: &'v Map<String, Value>, key: &str, at: &str) -> Result<Option<&'v str>, PatchError> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(PatchError::new(IssueType::Value, &format!("{at}.{key}"), format!("`{key}` must be a string"))),
    }
}

/// The `Parameters` resource → operations.
fn parse_parameters(root: &Value) -> Result<Vec<Operation>, PatchError> {
    let at = "Parameters";
    let root = object(root, at, "the body")?;
    match root.get("resourceType") {
        None => {}
        Some(Value::String(kind)) if kind == "Parameters" => {}
        Some(other) => {
            return Err(PatchError::new(
                IssueType::Structure,
                "resourceType",
                format!("expected a Parameters resource, found resourceType {other}"),
            ));
        }
    }
    let parameters = array(root, "parameter", at)?.filter(|items| !items.is_empty()).ok_or_else(|| {
        PatchError::new(IssueType::Required, at, "the Parameters resource has no `parameter` (no operation)")
    })?;
    parameters
        .iter()
        .enumerate()
        .map(|(index, parameter)| parse_operation(parameter, &format!("Parameters.parameter[{index}]")))
        .collect()
}

/// The named parts of one operation.
#[derive(Default)]
struct OperationParts<'v> {
    kind: Option<(&'v str, String)>,
    path: Option<(&'v str, String)>,
    name: Option<(&'v str, String)>,
    value: Option<(&'v Map<String, Value>, String)>,
}

fn parse_operation(parameter: &Value, at: &str) -> Result<Operation, PatchError> {
    let parameter = object(parameter, at, "a parameter")?;
    match string(parameter, "name", at)? {
        Some("operation") => {}
        Some(other) => {
            return Err(PatchError::new(
                IssueType::Invalid,
                &format!("{at}.name"),
                format!("expected a parameter named `operation`, found `{other}`"),
            ));
        }
        None => {
            return Err(PatchError::new(IssueType::Required, at, "the parameter has no `name` (expected `operation`)"));
        }
    }
    let parts = array(parameter, "part", at)?
        .ok_or_else(|| PatchError::new(IssueType::Required, at, "the operation has no `part`"))?;
    let mut found = OperationParts::default();
    for (index, part) in parts.iter().enumerate() {
        let part_at = format!("{at}.part[{index}]");
        let part = object(part, &part_at, "an operation part")?;
        let name = string(part, "name", &part_at)?
            .ok_or_else(|| PatchError::new(IssueType::Required, &part_at, "an operation part has no `name`"))?;
        let text_value = || -> Result<&str, PatchError> {
            string(part, "valueString", &part_at)?.or(string(part, "valueCode", &part_at)?).ok_or_else(|| {
                PatchError::new(IssueType::Required, &part_at, format!("the `{name}` part has no valueString"))
            })
        };
        let duplicate = match name {
            "type" => found.kind.replace((text_value()?, part_at.clone())).is_some(),
            "path" => found.path.replace((text_value()?, part_at.clone())).is_some(),
            "name" => found.name.replace((text_value()?, part_at.clone())).is_some(),
            "value" => found.value.replace((part, part_at.clone())).is_some(),
            other => {
                return Err(PatchError::new(
                    IssueType::Invalid,
                    &part_at,
                    format!("unsupported operation part `{other}` (a capacity PATCH has type, path and value)"),
                ));
            }
        };
        if duplicate {
            return Err(PatchError::new(IssueType::Invalid, &part_at, format!("the `{name}` part appears twice")));
        }
    }
    let (kind, kind_at) =
        found.kind.ok_or_else(|| PatchError::new(IssueType::Required, at, "the operation has no `type` part"))?;
    let (path, path_at) =
        found.path.ok_or_else(|| PatchError::new(IssueType::Required, at, "the operation has no `path` part"))?;
    let invalid = |at: &str, message: String| PatchError::new(IssueType::Invalid, at, message);
    let selector = |path_at: &str| {
        parse_selector(path).map_err(|error| invalid(&format!("{path_at}.valueString"), error.to_string()))
    };
    let records = |value: Option<(&Map<String, Value>, String)>, kind: &str| match value {
        Some((value, value_at)) => parse_value_records(value, &value_at),
        None => Err(PatchError::new(IssueType::Required, at, format!("a `{kind}` operation needs a `value` part"))),
    };
    match kind {
        "add" => {
            match (&found.name, path) {
                // The ROR dialect: the path is the collection itself, no `name`.
                (None, _) => match selector(&path_at)? {
                    Selector::Collection => {}
                    Selector::Record(_) => {
                        return Err(invalid(
                            &path_at,
                            format!("an `add` path must be the capacity collection {CAPACITY_COLLECTION_PATH}"),
                        ));
                    }
                },
                // Standard FHIRPath Patch: add an `extension` to the Location.
                (Some((name, _)), "Location") if *name == "extension" => {}
                (Some((name, name_at)), _) => {
                    return Err(invalid(
                        name_at,
                        format!(
                            "an `add` with a `name` part must have path `Location` and name `extension` (found path `{path}`, name `{name}`); ROR clients send no `name`"
                        ),
                    ));
                }
            }
            Ok(Operation::Add { records: records(found.value, "add")? })
        }
        "replace" => {
            if let Some((_, name_at)) = &found.name {
                return Err(invalid(name_at, "a `replace` has no `name` part".into()));
            }
            let selector = selector(&path_at)?;
            let records = records(found.value, "replace")?;
            if matches!(selector, Selector::Record(_)) && records.len() != 1 {
                return Err(invalid(
                    at,
                    format!("a `replace` of one record carries exactly one record, found {}", records.len()),
                ));
            }
            Ok(Operation::Replace { selector, records })
        }
        "delete" | "remove" => {
            if let Some((_, name_at)) = &found.name {
                return Err(invalid(name_at, format!("a `{kind}` has no `name` part")));
            }
            if let Some((_, value_at)) = &found.value {
                return Err(invalid(value_at, format!("a `{kind}` has no `value` part")));
            }
            let selector = selector(&path_at)?;
            if selector == Selector::Collection {
                return Err(invalid(
                    &path_at,
                    format!("a `{kind}` removes one record: its path needs a `.where(...)` on the indicator fields"),
                ));
            }
            Ok(Operation::Delete { selector })
        }
        "insert" | "move" => Err(invalid(
            &kind_at,
            format!("FHIRPath Patch `{kind}` is not supported by the capacity feed (replace, add, delete)"),
        )),
        other => Err(invalid(
            &kind_at,
            format!("unknown operation type `{other}` (expected replace, add, delete or remove)"),
        )),
    }
}

/// The records of a `value` part, in any of the three shapes of the module doc.
fn parse_value_records(value: &Map<String, Value>, at: &str) -> Result<Vec<CapacityUpdate>, PatchError> {
    let mut records = Vec::new();
    if let Some(extension) = value.get("valueExtension") {
        records.push(parse_capacity_extension(extension, &format!("{at}.valueExtension"))?);
    } else if let Some(items) = array(value, "part", at)? {
        for (index, item) in items.iter().enumerate() {
            let item_at = format!("{at}.part[{index}]");
            let item_map = object(item, &item_at, "a value item")?;
            if item_map.contains_key("url") {
                // Shape (b): the item is a capacity extension.
                records.push(parse_capacity_extension(item, &item_at)?);
            } else if let Some(extension) = item_map.get("valueExtension") {
                // Shape (c) inside a part.
                records.push(parse_capacity_extension(extension, &format!("{item_at}.valueExtension"))?);
            } else if let Some(extensions) = array(item_map, "extension", &item_at)? {
                // Shape (a): the item carries an `extension` array of capacity extensions.
                for (inner, extension) in extensions.iter().enumerate() {
                    records.push(parse_capacity_extension(extension, &format!("{item_at}.extension[{inner}]"))?);
                }
            } else {
                return Err(PatchError::new(
                    IssueType::Structure,
                    &item_at,
                    "a value item must be a capacity extension, carry one in `extension`, or be a `valueExtension`",
                ));
            }
        }
    } else {
        return Err(PatchError::new(
            IssueType::Required,
            at,
            "the `value` part has neither `part` nor `valueExtension`",
        ));
    }
    if records.is_empty() {
        return Err(PatchError::new(IssueType::Required, at, "the `value` part carries no capacity record"));
    }
    Ok(records)
}

/// One `ror-location-supported-capacity` extension → a record.
fn parse_capacity_extension(value: &Value, at: &str) -> Result<CapacityUpdate, PatchError> {
    let extension = object(value, at, "a capacity extension")?;
    let url = string(extension, "url", at)?
        .ok_or_else(|| PatchError::new(IssueType::Required, at, "the capacity extension has no `url`"))?;
    if !is_capacity_extension_url(url) {
        return Err(PatchError::new(
            IssueType::Invalid,
            &format!("{at}.url"),
            format!("expected the extension '{CAPACITY_EXTENSION_URL}', found '{url}'"),
        ));
    }
    let subs = array(extension, "extension", at)?
        .ok_or_else(|| PatchError::new(IssueType::Required, at, "the capacity extension has no sub-extensions"))?;
    let mut codes: [Option<Code>; CapacityField::ALL.len()] = Default::default();
    let mut seen = [false; CapacityField::ALL.len()];
    let mut count = None;
    let mut updated_at = None;
    let mut comment = None;
    for (index, sub) in subs.iter().enumerate() {
        let sub_at = format!("{at}.extension[{index}]");
        let sub = object(sub, &sub_at, "a capacity sub-extension")?;
        let sub_url = string(sub, "url", &sub_at)?
            .ok_or_else(|| PatchError::new(IssueType::Required, &sub_at, "a capacity sub-extension has no `url`"))?;
        let field = CapacityField::from_url(sub_url).ok_or_else(|| {
            PatchError::new(IssueType::Invalid, &sub_at, format!("unknown capacity sub-extension '{sub_url}'"))
        })?;
        if std::mem::replace(&mut seen[field as usize], true) {
            return Err(PatchError::new(IssueType::Invalid, &sub_at, format!("'{field}' appears twice in one record")));
        }
        match field {
            CapacityField::Count => count = Some(parse_count(sub, &sub_at)?),
            CapacityField::UpdateDate => updated_at = Some(parse_update_date(sub, &sub_at)?),
            CapacityField::Comment => {
                comment = Some(
                    string(sub, "valueString", &sub_at)?
                        .ok_or_else(|| PatchError::new(IssueType::Required, &sub_at, "'comment' has no valueString"))?
                        .to_owned(),
                );
            }
            coded => codes[coded as usize] = Some(parse_code(sub, coded, &sub_at)?),
        }
    }
    for field in CapacityField::ALL {
        if field.is_required() && !seen[field as usize] {
            return Err(PatchError::new(
                IssueType::Required,
                at,
                format!("the capacity record has no '{field}' (required)"),
            ));
        }
    }
    let mut take = |field: CapacityField| codes[field as usize].take();
    let record = CapacityRecord {
        capacity_type: take(CapacityField::CapacityType).unwrap_or_default(),
        status: take(CapacityField::Status).unwrap_or_default(),
        temporality: take(CapacityField::Temporality).unwrap_or_default(),
        gender: take(CapacityField::Gender),
        closing_type: take(CapacityField::ClosingType),
        additional_bed_type: take(CapacityField::AdditionalBedType),
        crisis_type: take(CapacityField::CrisisType),
        temporary_assignment: take(CapacityField::TemporaryAssignment),
        source_type: take(CapacityField::SourceType),
        count: count.unwrap_or_default(),
        updated_at,
    };
    Ok(CapacityUpdate { record, comment })
}

/// `nbCapacity`: `valueInteger` (FHIR), or leniently `valueInt` / `valueUnsignedInt`; a JSON
/// integer or a string of ASCII digits with an optional sign. Negative or beyond `u32` is a
/// `business-rule` error, anything else that is not an integer a `value` error.
fn parse_count(sub: &Map<String, Value>, at: &str) -> Result<u32, PatchError> {
    let Some((key, value)) = ["valueInteger", "valueInt", "valueUnsignedInt"]
        .into_iter()
        .find_map(|key| sub.get(key).map(|value| (key, value)))
    else {
        return Err(PatchError::new(IssueType::Required, at, "'nbCapacity' has no valueInteger"));
    };
    let value_at = format!("{at}.{key}");
    let not_integer =
        || PatchError::new(IssueType::Value, &value_at, format!("'nbCapacity' must be an integer, found {value}"));
    let count: i128 = match value {
        Value::Number(number) => match (number.as_i64(), number.as_u64()) {
            (Some(signed), _) => i128::from(signed),
            (None, Some(unsigned)) => i128::from(unsigned),
            (None, None) => return Err(not_integer()),
        },
        Value::String(text) => {
            let digits = text.strip_prefix('-').unwrap_or(text);
            if digits.is_empty() || digits.len() > 30 || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
                return Err(not_integer());
            }
            text.parse().map_err(|_| not_integer())?
        }
        _ => return Err(not_integer()),
    };
    if count < 0 {
        return Err(PatchError::new(
            IssueType::BusinessRule,
            &value_at,
            format!("'nbCapacity' is negative ({count}): a count of beds or places is at least 0"),
        ));
    }
    u32::try_from(count).map_err(|_| {
        PatchError::new(IssueType::BusinessRule, &value_at, format!("'nbCapacity' is out of range ({count})"))
    })
}

/// `capacityUpdateDate`: `valueDateTime` (or `valueInstant`) → UTC Unix seconds.
fn parse_update_date(sub: &Map<String, Value>, at: &str) -> Result<UnixSeconds, PatchError> {
    let key = if sub.contains_key("valueDateTime") { "valueDateTime" } else { "valueInstant" };
    let text = string(sub, key, at)?
        .ok_or_else(|| PatchError::new(IssueType::Required, at, "'capacityUpdateDate' has no valueDateTime"))?;
    parse_fhir_datetime(text)
        .map_err(|error| PatchError::new(IssueType::Value, &format!("{at}.{key}"), error.to_string()))
}

/// A coded sub-extension: `valueCodeableConcept` (the first coding of the field's TRE or JDV
/// system, else the first coding without a system), `valueCoding` or `valueCode`.
fn parse_code(sub: &Map<String, Value>, field: CapacityField, at: &str) -> Result<Code, PatchError> {
    let expected = field.code_system();
    let describe = || {
        let system = expected.map_or("?", CodeSystem::nos_id);
        format!("{system} or JDV_J{}", field.jdv_number().unwrap_or_default())
    };
    let code_of = |coding: &Map<String, Value>, coding_at: &str| -> Result<Code, PatchError> {
        let code = string(coding, "code", coding_at)?.ok_or_else(|| {
            PatchError::new(IssueType::Required, coding_at, format!("the '{field}' coding has no `code`"))
        })?;
        if code.is_empty() || code.chars().any(char::is_whitespace) {
            return Err(PatchError::new(IssueType::Value, coding_at, format!("invalid code '{code}' for '{field}'")));
        }
        Ok(Code::from(code))
    };
    // Some(true): the field's system; Some(false): another system; None: no system.
    let system_fits = |coding: &Map<String, Value>, coding_at: &str| -> Result<Option<bool>, PatchError> {
        Ok(string(coding, "system", coding_at)?.map(|system| capacity_code_system(system) == expected))
    };
    if let Some(concept) = sub.get("valueCodeableConcept") {
        let concept_at = format!("{at}.valueCodeableConcept");
        let concept = object(concept, &concept_at, "valueCodeableConcept")?;
        let codings = array(concept, "coding", &concept_at)?.map(Vec::as_slice).unwrap_or_default();
        let mut without_system = None;
        let mut other_system = None;
        for (index, coding) in codings.iter().enumerate() {
            let coding_at = format!("{concept_at}.coding[{index}]");
            let coding = object(coding, &coding_at, "a coding")?;
            match system_fits(coding, &coding_at)? {
                Some(true) => return code_of(coding, &coding_at),
                None if without_system.is_none() => without_system = Some((coding, coding_at)),
                Some(false) if other_system.is_none() => {
                    other_system = string(coding, "system", &coding_at)?.map(str::to_owned);
                }
                _ => {}
            }
        }
        if let Some((coding, coding_at)) = without_system {
            return code_of(coding, &coding_at);
        }
        return Err(match other_system {
            Some(system) => PatchError::new(
                IssueType::Value,
                &concept_at,
                format!("'{field}' is coded in '{system}', expected {}", describe()),
            ),
            None => PatchError::new(IssueType::Required, &concept_at, format!("'{field}' has no coding")),
        });
    }
    if let Some(coding) = sub.get("valueCoding") {
        let coding_at = format!("{at}.valueCoding");
        let coding = object(coding, &coding_at, "valueCoding")?;
        if system_fits(coding, &coding_at)? == Some(false) {
            return Err(PatchError::new(
                IssueType::Value,
                &coding_at,
                format!("'{field}' must be coded in {}", describe()),
            ));
        }
        return code_of(coding, &coding_at);
    }
    if sub.contains_key("valueCode") {
        let mut wrapper = Map::new();
        wrapper.insert("code".into(), sub["valueCode"].clone());
        return code_of(&wrapper, &format!("{at}.valueCode"));
    }
    Err(PatchError::new(
        IssueType::Required,
        at,
        format!("'{field}' has no valueCodeableConcept, valueCoding or valueCode"),
    ))
}

// ---------------------------------------------------------------------------------------------
// OperationOutcome
// ---------------------------------------------------------------------------------------------

/// `OperationOutcome.issue.severity`; the ROR's answers only use `error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Severity {
    /// `error`.
    Error,
    /// `warning`.
    #[allow(dead_code)] // a severity of the FHIR value set, not emitted yet
    Warning,
}

/// One issue of an [`OperationOutcome`]. `expression` is always serialized as an array (R4), and
/// left out when empty (as in the ROR's third 400 example).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct OutcomeIssue {
    /// Severity.
    pub(crate) severity: Severity,
    /// Issue type.
    pub(crate) code: IssueType,
    /// Human-readable text (French for the ROR's own messages).
    pub(crate) diagnostics: String,
    /// FHIRPath expressions of the elements concerned.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) expression: Vec<String>,
}

impl OutcomeIssue {
    /// An `error` issue.
    pub(crate) fn error(code: IssueType, diagnostics: impl Into<String>, expression: Vec<String>) -> OutcomeIssue {
        OutcomeIssue { severity: Severity::Error, code, diagnostics: diagnostics.into(), expression }
    }

    /// A `business-rule` error on the capacity extension (`Location.extension('…')`).
    pub(crate) fn business_rule(diagnostics: impl Into<String>) -> OutcomeIssue {
        OutcomeIssue::error(IssueType::BusinessRule, diagnostics, vec![CAPACITY_RULE_EXPRESSION.to_owned()])
    }

    /// The ROR's wrong-nature issue: "Indicateur `name` : L'attribut 'natureCapacite' a un code
    /// différent de celui attendu", on `….extension('capacityType')`. `indicator_name` None
    /// prints `INDICATEUR_INCONNU`, as in the DOC.
    pub(crate) fn wrong_capacity_type(indicator_name: Option<&str>) -> OutcomeIssue {
        OutcomeIssue::error(
            IssueType::BusinessRule,
            format!(
                "Indicateur {} : L'attribut 'natureCapacite' a un code différent de celui attendu",
                indicator_name.unwrap_or("INDICATEUR_INCONNU")
            ),
            vec![format!("{CAPACITY_RULE_EXPRESSION}.extension('capacityType')")],
        )
    }

    /// The ROR's invalid-tuple issue for a record: "Les valeurs du nouvel objet ne correspondent
    /// pas à un indicateur valide : capacityStatus: 02 / …".
    pub(crate) fn invalid_new_record(key: &CapacityKey) -> OutcomeIssue {
        OutcomeIssue::business_rule(format!(
            "Les valeurs du nouvel objet ne correspondent pas à un indicateur valide : {}",
            key.ror_tuple_text()
        ))
    }

    /// The ROR's invalid-selector issue: "Les critères du FhirPath ne correspondent pas à un
    /// indicateur valide : …" (no expression, as in the DOC).
    pub(crate) fn invalid_selector(criteria: &RecordCriteria) -> OutcomeIssue {
        OutcomeIssue::error(
            IssueType::BusinessRule,
            format!(
                "Les critères du FhirPath ne correspondent pas à un indicateur valide : {}",
                criteria.ror_tuple_text()
            ),
            Vec::new(),
        )
    }
}

/// A FHIR R4 `OperationOutcome`, as the ROR answers a capacity PATCH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OperationOutcome {
    /// The issues (at least one).
    pub(crate) issue: Vec<OutcomeIssue>,
}

impl Serialize for OperationOutcome {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            #[serde(rename = "resourceType")]
            resource_type: &'static str,
            issue: &'a [OutcomeIssue],
        }
        Wire { resource_type: "OperationOutcome", issue: &self.issue }.serialize(serializer)
    }
}

impl OperationOutcome {
    /// 404 `not-found`, expression `["Location"]`: no Location carries the synchro id. The
    /// client must not retry as `add`. `identifier` is the query value as received
    /// (e.g. `1350054680/SSR38888`).
    pub(crate) fn location_not_found(identifier: &str) -> OperationOutcome {
        OperationOutcome {
            issue: vec![OutcomeIssue::error(
                IssueType::NotFound,
                format!(
                    "La Location avec l'identifiant externe de synchro OU l'identifiant unique de saisie : '{identifier}' n'a pas été trouvée."
                ),
                vec!["Location".to_owned()],
            )],
        }
    }

    /// 404 `not-found`, expression `[CAPACITY_COLLECTION_PATH]`: a `replace` (or `delete`) found
    /// no record with the selected key. The client then re-sends the record as `add`.
    pub(crate) fn capacity_not_found() -> OperationOutcome {
        OperationOutcome {
            issue: vec![OutcomeIssue::error(
                IssueType::NotFound,
                "Les données fournies ne permettent pas de déterminer l'indicateur à mettre à jour: Aucun indicateur présent en base ne correspond",
                vec![CAPACITY_COLLECTION_PATH.to_owned()],
            )],
        }
    }

    /// 412 `multiple-matches`, expression `["Location"]`: `count` Locations carry the synchro id.
    pub(crate) fn multiple_locations(count: usize) -> OperationOutcome {
        OperationOutcome {
            issue: vec![OutcomeIssue::error(
                IssueType::MultipleMatches,
                format!("La Location recherchée n'est pas unique, il y a '{count}' résultats"),
                vec!["Location".to_owned()],
            )],
        }
    }

    /// 400 `business-rule` with one or more issues (see [`validate_operation`]).
    pub(crate) fn business_rules(issues: Vec<OutcomeIssue>) -> OperationOutcome {
        debug_assert!(!issues.is_empty(), "an OperationOutcome has at least one issue");
        OperationOutcome { issue: issues }
    }

    /// 400 for a body that [`parse_patch`] refused (`structure`, `invalid`, `required`, `value`,
    /// or `business-rule` for a negative count).
    pub(crate) fn from_patch_error(error: &PatchError) -> OperationOutcome {
        OperationOutcome {
            issue: vec![OutcomeIssue::error(
                error.code,
                error.message.clone(),
                error.expression.iter().cloned().collect(),
            )],
        }
    }

    /// 400 `value` for an `identifier` query parameter that [`parse_synchro_identifier`] refused.
    pub(crate) fn invalid_identifier(error: &IdentifierError) -> OperationOutcome {
        OperationOutcome {
            issue: vec![OutcomeIssue::error(IssueType::Value, error.to_string(), vec!["identifier".to_owned()])],
        }
    }

    /// The HTTP status to answer with: 404 for `not-found`, 412 for `multiple-matches`, else
    /// 400 (decided by the first issue).
    pub(crate) fn http_status(&self) -> u16 {
        self.issue.first().map_or(400, |issue| issue.code.http_status())
    }

    /// The JSON body (`application/fhir+json`).
    pub(crate) fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

// ---------------------------------------------------------------------------------------------
// Business rules
// ---------------------------------------------------------------------------------------------

/// The tunable limits of [`validate_operation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ValidationPolicy {
    /// Largest accepted `nbCapacity` (beds / places / dwellings).
    pub(crate) max_count: u32,
    /// How far ahead of `now`, in seconds, a `capacityUpdateDate` may be.
    pub(crate) future_tolerance_seconds: i64,
}

impl Default for ValidationPolicy {
    fn default() -> ValidationPolicy {
        ValidationPolicy { max_count: MAX_CAPACITY_COUNT, future_tolerance_seconds: DEFAULT_FUTURE_TOLERANCE_SECONDS }
    }
}

/// A valid capacity indicator, as a catalog knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Indicator {
    /// The indicator's name in the ANS list (printed in the wrong-nature message), if known.
    pub(crate) name: Option<String>,
    /// The `capacityType` (TRE_R329) the indicator requires, if the catalog knows it.
    pub(crate) capacity_type: Option<Code>,
}

/// Which tuples are capacity indicators. The official list (indicators and their FHIRPaths) is
/// handed privately to writers by the ANS and is not public (`ror-api.md` §1.5, §5); plug it in
/// here when available. [`KnownCodesCatalog`] is the stand-in.
pub(crate) trait IndicatorCatalog {
    /// The indicator `key` names, or None when the tuple is not a valid indicator.
    fn indicator(&self, key: &CapacityKey) -> Option<Indicator>;
}

/// Stand-in catalog: any tuple whose codes are all known in their code systems is an indicator,
/// with no name and no required nature (so [`check_capacity_type`] never fires through it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct KnownCodesCatalog;

impl IndicatorCatalog for KnownCodesCatalog {
    fn indicator(&self, key: &CapacityKey) -> Option<Indicator> {
        CapacityField::TUPLE
            .into_iter()
            .all(|field| match (key.code(field), field.code_system()) {
                (Some(code), Some(system)) => system.label(code).is_some(),
                _ => true,
            })
            .then(Indicator::default)
    }
}

/// A count above the policy's maximum (negative counts never parse).
pub(crate) fn check_count(record: &CapacityRecord, policy: &ValidationPolicy) -> Option<OutcomeIssue> {
    (record.count > policy.max_count).then(|| {
        OutcomeIssue::business_rule(format!(
            "La valeur de 'nbCapacity' ({}) dépasse le maximum admis ({})",
            record.count, policy.max_count
        ))
    })
}

/// A `capacityUpdateDate` more than the tolerance ahead of `now` (UTC Unix seconds), or missing.
pub(crate) fn check_update_date(
    record: &CapacityRecord,
    now: UnixSeconds,
    policy: &ValidationPolicy,
) -> Option<OutcomeIssue> {
    match record.updated_at {
        None => Some(OutcomeIssue::business_rule("L'attribut 'capacityUpdateDate' est obligatoire")),
        Some(updated_at) if updated_at > now.saturating_add(policy.future_tolerance_seconds) => {
            Some(OutcomeIssue::business_rule(format!(
                "La date 'capacityUpdateDate' ({}) est dans le futur (heure du serveur : {})",
                format_rfc3339(updated_at),
                format_rfc3339(now)
            )))
        }
        Some(_) => None,
    }
}

/// Every coded field of the record whose code is not in its code system's table.
pub(crate) fn check_known_codes(record: &CapacityRecord) -> Vec<OutcomeIssue> {
    CapacityField::ALL
        .into_iter()
        .filter_map(|field| {
            let system = field.code_system()?;
            let code = field.code_of(record)?;
            system.label(code).is_none().then(|| {
                OutcomeIssue::business_rule(format!(
                    "Le code '{code}' de l'attribut '{field}' est inconnu dans {}",
                    system.nos_id()
                ))
            })
        })
        .collect()
}

/// The ROR's wrong-nature check: the record's `capacityType` differs from the indicator's.
pub(crate) fn check_capacity_type(record: &CapacityRecord, indicator: &Indicator) -> Option<OutcomeIssue> {
    let expected = indicator.capacity_type.as_ref()?;
    (*expected != record.capacity_type).then(|| OutcomeIssue::wrong_capacity_type(indicator.name.as_deref()))
}

/// On a `replace` of one record: the selector's tuple differs from the new record's.
pub(crate) fn check_selector_matches(criteria: &RecordCriteria, record: &CapacityRecord) -> Option<OutcomeIssue> {
    (!criteria.matches(record)).then(|| {
        OutcomeIssue::business_rule(format!(
            "Les critères du FhirPath ne correspondent pas aux valeurs du nouvel objet : FhirPath {} ; nouvel objet {}",
            criteria.ror_tuple_text(),
            CapacityKey::of(record).ror_tuple_text()
        ))
    })
}

/// Every business rule of one operation, against `now` (UTC Unix seconds): counts, dates, codes,
/// indicator validity and nature of each record, indicator validity of a record selector, and on
/// a one-record `replace` the agreement of selector and record.
///
/// # Errors
/// A 400 `business-rule` [`OperationOutcome`] with one issue per broken rule.
pub(crate) fn validate_operation(
    operation: &Operation,
    catalog: &dyn IndicatorCatalog,
    policy: &ValidationPolicy,
    now: UnixSeconds,
) -> Result<(), OperationOutcome> {
    let mut issues = Vec::new();
    let (selector, records): (Option<&Selector>, &[CapacityUpdate]) = match operation {
        Operation::Replace { selector, records } => (Some(selector), records),
        Operation::Add { records } => (None, records),
        Operation::Delete { selector } => (Some(selector), &[]),
    };
    if let Some(Selector::Record(criteria)) = selector
        && criteria.key().and_then(|key| catalog.indicator(&key)).is_none()
    {
        issues.push(OutcomeIssue::invalid_selector(criteria));
    }
    for update in records {
        let record = &update.record;
        issues.extend(check_count(record, policy));
        issues.extend(check_update_date(record, now, policy));
        issues.extend(check_known_codes(record));
        let key = CapacityKey::of(record);
        match catalog.indicator(&key) {
            None => issues.push(OutcomeIssue::invalid_new_record(&key)),
            Some(indicator) => issues.extend(check_capacity_type(record, &indicator)),
        }
        if let Some(Selector::Record(criteria)) = selector {
            issues.extend(check_selector_matches(criteria, record));
        }
    }
    if issues.is_empty() { Ok(()) } else { Err(OperationOutcome::business_rules(issues)) }
}

// ---------------------------------------------------------------------------------------------
// The conditional `identifier` parameter
// ---------------------------------------------------------------------------------------------

/// The Location a conditional capacity PATCH targets: `identifier=<IdNatStruct>/<idExterneSynchro>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct SynchroIdentifier {
    /// The EG's FINESS number (the IdNatStruct is `1` followed by it).
    pub(crate) finess: Finess,
    /// The zone code sent by the region (`idExterneSynchro`, TRE_R354 code `26`), e.g. `SSR38888`.
    pub(crate) synchro_id: String,
}

impl SynchroIdentifier {
    #[cfg_attr(not(test), allow(dead_code))] // used by the tests
    /// The IdNatStruct of the EG: `1` + FINESS (e.g. `1350054680`).
    pub(crate) fn id_nat_struct(&self) -> String {
        format!("1{}", self.finess)
    }
}

impl fmt::Display for SynchroIdentifier {
    /// The identifier value as the ROR writes it: `1350054680/SSR38888`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "1{}/{}", self.finess, self.synchro_id)
    }
}

/// Why an `identifier` query value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum IdentifierError {
    /// Nothing after the optional `system|`.
    #[error("the identifier is empty")]
    Empty,
    /// No `/` between the IdNatStruct and the synchro id.
    #[error("the identifier '{0}' has no '/' between the IdNatStruct and the synchro id")]
    NoSeparator(String),
    /// The part before `/` is not `1` followed by a FINESS number.
    #[error("'{0}' is not an IdNatStruct of an EG ('1' followed by a 9-character FINESS number)")]
    NotAnEgIdNatStruct(String),
    /// Nothing after `/`.
    #[error("the identifier '{0}' has an empty synchro id")]
    EmptySynchroId(String),
    /// The synchro id holds whitespace or control characters.
    #[error("the synchro id '{0}' contains whitespace or control characters")]
    BadSynchroId(String),
}

/// Parses the conditional PATCH's `identifier` value, already percent-decoded:
/// `1350054680/SSR38888`, or the FHIR token form `system|1350054680/SSR38888` (any system, or
/// none: `|1350054680/SSR38888`). The IdNatStruct must be `1` + a FINESS number (9 digits, or
/// `2A`/`2B` for Corsica); the synchro id is everything after the first `/`.
///
/// # Examples
///
/// ```
/// use ror_search::live::patch::parse_synchro_identifier;
///
/// let id = parse_synchro_identifier("1350054680/SSR38888").unwrap();
/// assert_eq!((id.finess.as_str(), id.synchro_id.as_str()), ("350054680", "SSR38888"));
/// ```
pub(crate) fn parse_synchro_identifier(value: &str) -> Result<SynchroIdentifier, IdentifierError> {
    let value = value.split_once('|').map_or(value, |(_, token)| token);
    if value.is_empty() {
        return Err(IdentifierError::Empty);
    }
    let (id_nat_struct, synchro_id) =
        value.split_once('/').ok_or_else(|| IdentifierError::NoSeparator(value.to_owned()))?;
    let finess = id_nat_struct
        .strip_prefix('1')
        .and_then(Finess::parse)
        .ok_or_else(|| IdentifierError::NotAnEgIdNatStruct(id_nat_struct.to_owned()))?;
    if synchro_id.is_empty() {
        return Err(IdentifierError::EmptySynchroId(value.to_owned()));
    }
    if synchro_id.chars().any(|character| character.is_whitespace() || character.is_control()) {
        return Err(IdentifierError::BadSynchroId(synchro_id.to_owned()));
    }
    Ok(SynchroIdentifier { finess, synchro_id: synchro_id.to_owned() })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SCENARIO_2: &[u8] = include_bytes!("../../tests/fixtures/capacity-patch/scenario-2-add.json");
    const SCENARIO_2BIS: &[u8] = include_bytes!("../../tests/fixtures/capacity-patch/scenario-2bis-replace.json");
    const SCENARIO_3: &[u8] = include_bytes!("../../tests/fixtures/capacity-patch/scenario-3-delete.json");
    const SCENARIO_9: &[u8] = include_bytes!("../../tests/fixtures/capacity-patch/scenario-9-replace-all.json");

    fn date(text: &str) -> UnixSeconds {
        parse_fhir_datetime(text).unwrap()
    }

    fn code(text: &str) -> Code {
        Code::from(text)
    }

    /// The record of scenarios 2 and 2 BIS (count aside).
    fn scenario_2_record(count: u32) -> CapacityRecord {
        CapacityRecord {
            capacity_type: code("02"),
            status: code("02"),
            temporality: code("01"),
            gender: Some(code("03")),
            closing_type: None,
            additional_bed_type: None,
            crisis_type: None,
            temporary_assignment: Some(code("01")),
            source_type: Some(code("02")),
            count,
            updated_at: Some(date("2025-02-26T15:17:33Z")),
        }
    }

    fn scenario_2bis_criteria() -> RecordCriteria {
        RecordCriteria {
            status: Some(code("02")),
            temporality: Some(code("01")),
            gender: Some(code("03")),
            temporary_assignment: Some(code("01")),
            ..RecordCriteria::default()
        }
    }

    fn update(record: CapacityRecord) -> CapacityUpdate {
        CapacityUpdate { record, comment: None }
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    /// Scenario 2 BIS with its value record replaced by `sub_extensions`.
    fn replace_body(sub_extensions: Value) -> Vec<u8> {
        let mut body: Value = serde_json::from_slice(SCENARIO_2BIS).unwrap();
        body["parameter"][0]["part"][2]["part"][0]["extension"][0]["extension"] = sub_extensions;
        serde_json::to_vec(&body).unwrap()
    }

    fn scenario_2bis_subs() -> Vec<Value> {
        let body: Value = serde_json::from_slice(SCENARIO_2BIS).unwrap();
        body["parameter"][0]["part"][2]["part"][0]["extension"][0]["extension"].as_array().unwrap().clone()
    }

    fn with_sub(url: &str, replacement: Option<Value>) -> Vec<u8> {
        let mut subs: Vec<Value> = scenario_2bis_subs().into_iter().filter(|sub| sub["url"] != url).collect();
        subs.extend(replacement);
        replace_body(Value::Array(subs))
    }

    fn parse_error(body: &[u8]) -> PatchError {
        parse_patch(body).expect_err("the body must be refused")
    }

    // --- fixtures -------------------------------------------------------------------------------

    #[test]
    fn scenario_2_is_one_add_with_every_field() {
        let operations = parse_patch(SCENARIO_2).unwrap();
        assert_eq!(operations, vec![Operation::Add { records: vec![update(scenario_2_record(25))] }]);
    }

    #[test]
    fn scenario_2bis_is_one_replace_of_the_four_field_key() {
        let operations = parse_patch(SCENARIO_2BIS).unwrap();
        assert_eq!(
            operations,
            vec![Operation::Replace {
                selector: Selector::Record(scenario_2bis_criteria()),
                records: vec![update(scenario_2_record(12))],
            }]
        );
    }

    #[test]
    fn scenario_3_is_one_delete_and_remove_is_its_alias() {
        let expected = vec![Operation::Delete { selector: Selector::Record(scenario_2bis_criteria()) }];
        assert_eq!(parse_patch(SCENARIO_3).unwrap(), expected);
        let old_spelling = text(SCENARIO_3).replace("\"valueString\": \"delete\"", "\"valueString\": \"remove\"");
        assert_ne!(old_spelling.as_bytes(), SCENARIO_3);
        assert_eq!(parse_patch(old_spelling.as_bytes()).unwrap(), expected);
    }

    #[test]
    fn scenario_9_is_repaired_and_replaces_the_whole_collection() {
        // The published body is not JSON: a comma is missing between records 2 and 3.
        let strict = serde_json::from_slice::<Value>(SCENARIO_9).unwrap_err();
        assert!(strict.to_string().starts_with("expected `,` or `]`"), "{strict}");
        let parsed = parse_patch_report(SCENARIO_9).unwrap();
        assert_eq!(parsed.inserted_commas.len(), 1);
        let at = parsed.inserted_commas[0];
        let before = text(&SCENARIO_9[..at]);
        assert!(before.trim_end().ends_with('}'), "{before:?}");
        assert_eq!(SCENARIO_9[at], b'{');
        assert!(text(&SCENARIO_9[..at]).matches("ror-location-supported-capacity").count() == 3);

        let record = |status: &str, count: u32, gender: Option<&str>, updated: &str| {
            update(CapacityRecord {
                capacity_type: code("01"),
                status: code(status),
                temporality: code("01"),
                gender: gender.map(code),
                closing_type: None,
                additional_bed_type: None,
                crisis_type: None,
                temporary_assignment: Some(code("01")),
                source_type: Some(code("02")),
                count,
                updated_at: Some(date(updated)),
            })
        };
        assert_eq!(
            parsed.operations,
            vec![Operation::Replace {
                selector: Selector::Collection,
                records: vec![
                    record("01", 10, None, "2023-09-25T15:20:00+01:00"),
                    record("02", 6, Some("02"), "2023-09-25T15:20:00+01:00"),
                    record("02", 4, Some("03"), "2024-02-02T11:30:00+01:00"),
                ],
            }]
        );
        // +01:00 is read as such: 15:20 in Paris winter time is 14:20 UTC.
        assert_eq!(format_rfc3339(date("2023-09-25T15:20:00+01:00")), "2023-09-25T14:20:00Z");
    }

    #[test]
    fn fixtures_pass_the_business_rules() {
        let now = date("2025-02-26T15:20:00Z");
        for body in [SCENARIO_2, SCENARIO_2BIS, SCENARIO_3, SCENARIO_9] {
            for operation in parse_patch(body).unwrap() {
                assert_eq!(
                    validate_operation(&operation, &KnownCodesCatalog, &ValidationPolicy::default(), now),
                    Ok(())
                );
            }
        }
    }

    // --- value shapes and codings ---------------------------------------------------------------

    #[test]
    fn value_extension_and_part_item_value_extension_are_read() {
        let subs = Value::Array(scenario_2bis_subs());
        let extension = json!({"url": CAPACITY_EXTENSION_URL, "extension": subs});
        let parts = |value: Value| {
            json!({"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
                {"name": "type", "valueString": "add"},
                {"name": "path", "valueString": CAPACITY_COLLECTION_PATH},
                value
            ]}]})
        };
        let expected = vec![Operation::Add { records: vec![update(scenario_2_record(12))] }];
        for value in [
            json!({"name": "value", "valueExtension": extension}),
            json!({"name": "value", "part": [{"name": "value", "valueExtension": extension}]}),
            json!({"name": "value", "part": [extension]}),
        ] {
            assert_eq!(parse_patch(&serde_json::to_vec(&parts(value)).unwrap()).unwrap(), expected);
        }
        // Standard FHIRPath Patch add: path `Location`, name `extension`.
        let standard = json!({"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
            {"name": "type", "valueCode": "add"},
            {"name": "path", "valueString": "Location"},
            {"name": "name", "valueString": "extension"},
            {"name": "value", "valueExtension": extension}
        ]}]});
        assert_eq!(parse_patch(&serde_json::to_vec(&standard).unwrap()).unwrap(), expected);
    }

    #[test]
    fn codings_are_read_leniently() {
        let status_variants = [
            json!({"url": "capacityStatus", "valueCode": "02"}),
            json!({"url": "capacityStatus", "valueCoding": {"system": "http://mos.esante.gouv.fr/NOS/TRE_R330-TypeStatutCapacite/FHIR/TRE-R330-TypeStatutCapacite/", "code": "02"}}),
            json!({"url": "capacityStatus", "valueCodeableConcept": {"coding": [{"code": "02"}]}}),
            json!({"url": "capacityStatus", "valueCodeableConcept": {"coding": [
                {"system": "https://example.org/local-codes", "code": "DISPO"},
                {"system": "https://mos.esante.gouv.fr/NOS/JDV_J188-TypeStatutCapacite-ROR/FHIR/JDV-J188-TypeStatutCapacite-ROR/", "code": "02"}
            ]}}),
        ];
        for variant in status_variants {
            let operations = parse_patch(&with_sub("capacityStatus", Some(variant.clone()))).unwrap();
            let Operation::Replace { records, .. } = &operations[0] else { panic!() };
            assert_eq!(records[0].record, scenario_2_record(12), "{variant}");
        }
        // A comment and a string count under valueInteger.
        let mut subs = scenario_2bis_subs();
        subs.retain(|sub| sub["url"] != "nbCapacity");
        subs.push(json!({"url": "nbCapacity", "valueInteger": "12"}));
        subs.push(json!({"url": "comment", "valueString": "Aile B fermée"}));
        let operations = parse_patch(&replace_body(Value::Array(subs))).unwrap();
        let Operation::Replace { records, .. } = &operations[0] else { panic!() };
        assert_eq!(records[0].comment.as_deref(), Some("Aile B fermée"));
        assert_eq!(records[0].record.count, 12);
    }

    #[test]
    fn capacity_code_system_reads_tre_and_jdv_urls() {
        let cases = [
            (
                "https://mos.esante.gouv.fr/NOS/TRE_R330-TypeStatutCapacite/FHIR/TRE-R330-TypeStatutCapacite",
                CodeSystem::StatutCapacite,
            ),
            (
                "https://mos.esante.gouv.fr/NOS/JDV_J187-NatureCapacite-ROR/FHIR/JDV-J187-NatureCapacite-ROR/",
                CodeSystem::NatureCapacite,
            ),
            (
                "http://mos.esante.gouv.fr/NOS/JDV_J195-AffectationTemporaire-ROR/FHIR/JDV-J195-AffectationTemporaire-ROR",
                CodeSystem::AffectationTemporaire,
            ),
            ("JDV-J194-TypeCrise-ROR", CodeSystem::TypeCrise),
        ];
        for (url, system) in cases {
            assert_eq!(capacity_code_system(url), Some(system), "{url}");
        }
        assert_eq!(
            capacity_code_system("https://mos.esante.gouv.fr/NOS/JDV_J238-TypeOffre-ROR/FHIR/JDV-J238-TypeOffre-ROR"),
            None
        );
        assert_eq!(capacity_code_system("https://example.org/XJDV_J188"), None);
        for field in CapacityField::ALL {
            assert_eq!(CapacityField::from_url(field.url()), Some(field));
            assert_eq!(field.code_system().is_some(), field.jdv_number().is_some());
        }
        assert!(is_capacity_extension_url(
            "http://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/ror-location-supported-capacity/"
        ));
        assert!(!is_capacity_extension_url(
            "https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/ror-location-equipment"
        ));
    }

    // --- body errors ----------------------------------------------------------------------------

    #[test]
    fn every_required_sub_extension_is_checked() {
        for field in CapacityField::ALL.into_iter().filter(|field| field.is_required()) {
            let error = parse_error(&with_sub(field.url(), None));
            assert_eq!(error.code, IssueType::Required, "{field}");
            assert!(error.message.contains(&format!("'{field}'")), "{field}: {error}");
            assert_eq!(
                error.expression.as_deref(),
                Some("Parameters.parameter[0].part[2].part[0].extension[0]"),
                "{field}"
            );
        }
        // Optional ones may go.
        assert!(parse_patch(&with_sub("genderCapacityAvailable", None)).is_ok());
    }

    #[test]
    fn counts_must_be_non_negative_integers() {
        let cases = [
            (json!({"url": "nbCapacity", "valueInteger": -1}), IssueType::BusinessRule, "negative"),
            (json!({"url": "nbCapacity", "valueInt": "-3"}), IssueType::BusinessRule, "negative"),
            (json!({"url": "nbCapacity", "valueInteger": 5_000_000_000_u64}), IssueType::BusinessRule, "out of range"),
            (json!({"url": "nbCapacity", "valueInteger": 12.5}), IssueType::Value, "integer"),
            (json!({"url": "nbCapacity", "valueInteger": 12.0}), IssueType::Value, "integer"),
            (json!({"url": "nbCapacity", "valueInt": "douze"}), IssueType::Value, "integer"),
            (json!({"url": "nbCapacity", "valueInt": ""}), IssueType::Value, "integer"),
            (json!({"url": "nbCapacity", "valueInteger": true}), IssueType::Value, "integer"),
            (json!({"url": "nbCapacity", "valueString": "12"}), IssueType::Required, "valueInteger"),
        ];
        for (sub, code, needle) in cases {
            let error = parse_error(&with_sub("nbCapacity", Some(sub.clone())));
            assert_eq!(error.code, code, "{sub}");
            assert!(error.message.contains(needle), "{sub}: {error}");
        }
        let ok = with_sub("nbCapacity", Some(json!({"url": "nbCapacity", "valueInt": 7})));
        let Operation::Replace { records, .. } = &parse_patch(&ok).unwrap()[0] else { panic!() };
        assert_eq!(records[0].record.count, 7);
    }

    #[test]
    fn malformed_sub_extensions_are_refused() {
        let cases = [
            (
                Some(json!({"url": "capacityUpdateDate", "valueDateTime": "26/02/2025"})),
                "capacityUpdateDate",
                IssueType::Value,
            ),
            (
                Some(json!({"url": "capacityUpdateDate", "valueDateTime": 20250226})),
                "capacityUpdateDate",
                IssueType::Value,
            ),
            (
                Some(
                    json!({"url": "capacityStatus", "valueCodeableConcept": {"coding": [{"system": "https://mos.esante.gouv.fr/NOS/TRE_R66-CategorieEtablissement/FHIR/TRE-R66-CategorieEtablissement", "code": "02"}]}}),
                ),
                "capacityStatus",
                IssueType::Value,
            ),
            (
                Some(json!({"url": "capacityStatus", "valueCodeableConcept": {"coding": []}})),
                "capacityStatus",
                IssueType::Required,
            ),
            (Some(json!({"url": "capacityStatus", "valueString": "02"})), "capacityStatus", IssueType::Required),
            (Some(json!({"url": "capacityStatus", "valueCode": ""})), "capacityStatus", IssueType::Value),
            (Some(json!({"url": "capacityStatus", "valueCode": 2})), "capacityStatus", IssueType::Value),
        ];
        for (replacement, url, code) in cases {
            let error = parse_error(&with_sub(url, replacement.clone()));
            assert_eq!(error.code, code, "{replacement:?}: {error}");
        }
        let mut subs = scenario_2bis_subs();
        subs.push(json!({"url": "bedColour", "valueCode": "blue"}));
        let error = parse_error(&replace_body(Value::Array(subs)));
        assert_eq!(
            (error.code, error.message.as_str()),
            (IssueType::Invalid, "unknown capacity sub-extension 'bedColour'")
        );
        let mut subs = scenario_2bis_subs();
        subs.push(json!({"url": "capacityStatus", "valueCode": "03"}));
        assert!(parse_error(&replace_body(Value::Array(subs))).message.contains("twice"));
        let body = text(SCENARIO_2).replace(
            "\"url\": \"https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/ror-location-supported-capacity\"",
            "\"url\": \"https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/ror-location-equipment\"",
        );
        assert_eq!(parse_error(body.as_bytes()).code, IssueType::Invalid);
    }

    #[test]
    fn malformed_parameters_are_refused() {
        let operation =
            |parts: Value| json!({"resourceType": "Parameters", "parameter": [{"name": "operation", "part": parts}]});
        let delete = |kind: &str| json!([{"name": "type", "valueString": kind}, {"name": "path", "valueString": format!("{CAPACITY_COLLECTION_PATH}.where(extension.where(url='capacityStatus' and valueCode='02') and extension.where(url='temporalityCapacity' and valueCode='01'))")}]);
        let value =
            json!({"name": "value", "part": [{"url": CAPACITY_EXTENSION_URL, "extension": scenario_2bis_subs()}]});
        let two_records = json!({"name": "value", "part": [
            {"url": CAPACITY_EXTENSION_URL, "extension": scenario_2bis_subs()},
            {"url": CAPACITY_EXTENSION_URL, "extension": scenario_2bis_subs()}
        ]});
        let cases: Vec<(Value, IssueType, &str)> = vec![
            (json!([1, 2]), IssueType::Structure, "JSON object"),
            (json!({"resourceType": "Bundle"}), IssueType::Structure, "Parameters"),
            (json!({"resourceType": "Parameters"}), IssueType::Required, "no `parameter`"),
            (json!({"resourceType": "Parameters", "parameter": []}), IssueType::Required, "no `parameter`"),
            (
                json!({"resourceType": "Parameters", "parameter": [{"name": "op", "part": []}]}),
                IssueType::Invalid,
                "`operation`",
            ),
            (operation(delete("insert")), IssueType::Invalid, "not supported"),
            (operation(delete("upsert")), IssueType::Invalid, "unknown operation type"),
            (operation(json!([{"name": "type", "valueString": "delete"}])), IssueType::Required, "`path`"),
            (
                operation(json!([{"name": "path", "valueString": CAPACITY_COLLECTION_PATH}])),
                IssueType::Required,
                "`type`",
            ),
            (
                operation(
                    json!([{"name": "type", "valueString": "delete"}, {"name": "path", "valueString": CAPACITY_COLLECTION_PATH}]),
                ),
                IssueType::Invalid,
                "needs a `.where(...)`",
            ),
            (
                operation(
                    json!([{"name": "type", "valueString": "add"}, {"name": "path", "valueString": CAPACITY_COLLECTION_PATH}]),
                ),
                IssueType::Required,
                "`value`",
            ),
            (
                operation(
                    json!([{"name": "type", "valueString": "add"}, {"name": "path", "valueString": CAPACITY_COLLECTION_PATH}, {"name": "value", "part": []}]),
                ),
                IssueType::Required,
                "no capacity record",
            ),
            (
                operation(
                    json!([{"name": "type", "valueString": "add"}, {"name": "path", "valueString": CAPACITY_COLLECTION_PATH}, {"name": "value", "valueString": "x"}]),
                ),
                IssueType::Required,
                "neither",
            ),
            (
                operation(json!([{"name": "type", "valueString": "add"}, delete("add")[1].clone(), value.clone()])),
                IssueType::Invalid,
                "capacity collection",
            ),
            (
                operation(
                    json!([{"name": "type", "valueString": "add"}, {"name": "path", "valueString": CAPACITY_COLLECTION_PATH}, {"name": "name", "valueString": "extension"}, value.clone()]),
                ),
                IssueType::Invalid,
                "`name`",
            ),
            (
                operation(
                    json!([{"name": "type", "valueString": "replace"}, delete("replace")[1].clone(), two_records]),
                ),
                IssueType::Invalid,
                "exactly one record",
            ),
            (
                operation(json!([delete("delete")[0].clone(), delete("delete")[1].clone(), value.clone()])),
                IssueType::Invalid,
                "no `value`",
            ),
            (
                operation(
                    json!([delete("delete")[0].clone(), delete("delete")[1].clone(), {"name": "index", "valueInteger": 0}]),
                ),
                IssueType::Invalid,
                "unsupported operation part `index`",
            ),
            (operation(json!([delete("delete")[0].clone(), delete("delete")[0].clone()])), IssueType::Invalid, "twice"),
            (
                operation(
                    json!([{"name": "type", "valueString": "delete"}, {"name": "path", "valueString": "Location.extension.where(url='x')"}]),
                ),
                IssueType::Invalid,
                "invalid capacity selector",
            ),
        ];
        for (body, code, needle) in cases {
            let error = parse_error(&serde_json::to_vec(&body).unwrap());
            assert_eq!(error.code, code, "{body}: {error}");
            assert!(error.message.contains(needle), "{body}: {error}");
        }
        let error = parse_error(b"{\"resourceType\": \"Parameters\", ");
        assert_eq!(error.code, IssueType::Structure);
        assert!(error.message.starts_with("the body is not JSON"), "{error}");
        // Several operations in one body are kept in order.
        let two = json!({"resourceType": "Parameters", "parameter": [
            {"name": "operation", "part": delete("delete")},
            {"name": "operation", "part": delete("remove")}
        ]});
        assert_eq!(parse_patch(&serde_json::to_vec(&two).unwrap()).unwrap().len(), 2);
    }

    // --- lenient JSON ---------------------------------------------------------------------------

    #[test]
    fn missing_commas_are_inserted_and_bounded() {
        let repaired = parse_json_lenient(b"[1 2]").unwrap();
        assert_eq!((repaired.value, repaired.inserted_commas), (json!([1, 2]), vec![3]));
        let repaired = parse_json_lenient(b"[{\"a\": 1}\n  {\"b\": [true false]} \"c\"]").unwrap();
        assert_eq!(repaired.value, json!([{"a": 1}, {"b": [true, false]}, "c"]));
        assert_eq!(repaired.inserted_commas, vec![12, 24, 32]);
        let repaired = parse_json_lenient(b"\xEF\xBB\xBF{\"a\": 1 \"b\": null}").unwrap();
        assert_eq!((repaired.value, repaired.inserted_commas), (json!({"a": 1, "b": null}), vec![11]));
        // Not a missing comma: left alone.
        for broken in [&b"[1 }"[..], b"{\"a\" 1}", b"[1,]", b"[1 :]", b"", b"nul"] {
            assert!(parse_json_lenient(broken).is_err(), "{}", String::from_utf8_lossy(broken));
        }
        let many = format!("[{}]", ["0"; MAX_COMMA_REPAIRS + 2].join(" "));
        assert!(parse_json_lenient(many.as_bytes()).is_err());
        let enough = format!("[{}]", ["0"; MAX_COMMA_REPAIRS + 1].join(" "));
        assert_eq!(parse_json_lenient(enough.as_bytes()).unwrap().inserted_commas.len(), MAX_COMMA_REPAIRS);
    }

    // --- selector grammar -----------------------------------------------------------------------

    #[test]
    fn selector_accepts_spacing_quoting_and_order_variants() {
        let url = CAPACITY_EXTENSION_URL;
        let expected = Selector::Record(scenario_2bis_criteria());
        let variants = [
            format!(
                "Location.extension.where(url='{url}').where(extension.where(url='capacityStatus' and valueCodeableConcept.coding.code='02') and extension.where(url='temporalityCapacity' and valueCodeableConcept.coding.code='01') and extension.where(url='genderCapacityAvailable' and valueCodeableConcept.coding.code='03') and extension.where(url='temporaryAssignement' and valueCodeableConcept.coding.code='01'))"
            ),
            format!(
                "Location.extension.where(url = \"{url}\")\n  .where(\n    extension.where(valueCode = \"01\" and url = \"temporaryAssignement\")\n\tand extension.where(url = 'genderCapacityAvailable' and valueCoding.code = '03')\n    and extension.where(url = 'temporalityCapacity' and valueCodeableConcept.coding[0].code = '01')\n    and extension.where(url = 'capacityStatus' and valueCodeableConcept . coding . code = '02')\n  )"
            ),
            format!(
                "Location.extension.where(url='{}/').where(extension.where(url='capacityStatus' and valueCode='02') and extension.where(url='temporalityCapacity' and valueCode='01') and extension.where(url='genderCapacityAvailable' and valueCode='03') and extension.where(url='temporaryAssignment' and valueCode='01'))",
                url.replace("https", "http")
            ),
        ];
        for path in &variants {
            assert_eq!(parse_selector(path), Ok(expected.clone()), "{path}");
        }
        assert_eq!(parse_selector(CAPACITY_COLLECTION_PATH), Ok(Selector::Collection));
        assert_eq!(
            parse_selector(&format!(" Location . extension . where ( url = '{url}' ) ")),
            Ok(Selector::Collection)
        );
        // A subset, and the crisis fields.
        let crisis = format!(
            "Location.extension.where(url='{url}').where(extension.where(url='capacityStatus' and valueCode='06') and extension.where(url='additionalBedType' and valueCode='02') and extension.where(url='crisisType' and valueCode='02') and extension.where(url='capacityClosingType' and valueCode='\\'01\\''))"
        );
        let Ok(Selector::Record(criteria)) = parse_selector(&crisis) else { panic!() };
        assert_eq!(
            criteria,
            RecordCriteria {
                status: Some(code("06")),
                additional_bed_type: Some(code("02")),
                crisis_type: Some(code("02")),
                closing_type: Some(code("'01'")),
                ..RecordCriteria::default()
            }
        );
        assert_eq!(criteria.key(), None);
    }

    #[test]
    fn selector_refuses_near_misses_with_a_message() {
        let url = CAPACITY_EXTENSION_URL;
        let clause = "extension.where(url='capacityStatus' and valueCode='02')";
        let cases = [
            (
                format!(
                    "Location.extension.where(url='https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/ror-location-equipment').where({clause})"
                ),
                "must select the extension",
            ),
            (
                format!(
                    "Location.extension.where(url='{url}').where({clause} or extension.where(url='temporalityCapacity' and valueCode='01'))"
                ),
                "only `and`",
            ),
            (
                format!(
                    "Location.extension.where(url='{url}').where(extension.where(url='capacityStatus' or valueCode='02'))"
                ),
                "expected `and`",
            ),
            (
                format!(
                    "Location.extension.where(url='{url}').where(extension.where(url='bedColour' and valueCode='02'))"
                ),
                "unknown capacity sub-extension 'bedColour'",
            ),
            (
                format!(
                    "Location.extension.where(url='{url}').where(extension.where(url='capacityType' and valueCode='01'))"
                ),
                "cannot select a record",
            ),
            (
                format!(
                    "Location.extension.where(url='{url}').where(extension.where(url='nbCapacity' and valueInteger='3'))"
                ),
                "expected `url`, `valueCodeableConcept",
            ),
            (format!("Location.extension.where(url='{url}').where({clause}"), "expected `)`, found the end"),
            (
                format!("Location.extension.where(url='{url}').where({clause}))"),
                "expected the end of the path, found `)`",
            ),
            (format!("Location.extension.where(url='{url}'.where({clause})"), "expected `)`"),
            (format!("Location.extension.where(url='{url}').where({clause} and {clause})"), "compared twice"),
            (
                format!(
                    "Location.extension.where(url='{url}').where(extension.where(url='capacityStatus' and valueCode=''))"
                ),
                "invalid code",
            ),
            (
                format!(
                    "Location.extension.where(url='{url}').where(extension.where(url='capacityStatus' and valueCode != '02'))"
                ),
                "only `=` comparisons",
            ),
            (
                format!(
                    "Location.extension.where(url='{url}').where(extension.where(url='capacityStatus' and valueCode='02)))"
                ),
                "unterminated string",
            ),
            (
                format!(
                    "Location.extension.where(url='{url}').where(extension.where(url='capacityStatus' and url='temporalityCapacity'))"
                ),
                "`url` twice",
            ),
            (
                format!(
                    "Location.extension.where(url='{url}').where(extension.where(valueCode='01' and valueCode='02'))"
                ),
                "no `url`",
            ),
            (
                format!(
                    "Location.extension.where(url='{url}').where(extension.where(url='capacityStatus' and valueCodeableConcept.coding[1].code='02'))"
                ),
                "expected `0`",
            ),
            (format!("Location.extension.where(url='{url}').where()"), "expected `extension`, found `)`"),
            (format!("Location.extension.where(url='{url}') | Location"), "unions"),
            (format!("Location.extension.where(url='{url}').first()"), "expected `where`, found `first`"),
            ("Location.extension".to_owned(), "expected `.`, found the end"),
            ("HealthcareService.extension".to_owned(), "expected `Location`"),
            (String::new(), "expected `Location`, found the end"),
        ];
        for (path, needle) in cases {
            let error = parse_selector(&path).expect_err(&path);
            assert!(error.message.contains(needle), "{path}\n→ {error}");
            assert!(error.offset <= path.len());
        }
        let error = parse_selector(&format!("Location.extension.where(url='{url}').where({clause} or x)")).unwrap_err();
        assert_eq!(error.offset, format!("Location.extension.where(url='{url}').where({clause} ").len());
    }

    // --- OperationOutcome, exactly as the DOC prints them ---------------------------------------

    #[test]
    fn not_found_and_multiple_matches_answers_are_the_rors() {
        let location = OperationOutcome::location_not_found("1350054680/SSR38888");
        assert_eq!(location.http_status(), 404);
        assert_eq!(
            location.to_json(),
            json!({"resourceType": "OperationOutcome", "issue": [{
                "severity": "error",
                "code": "not-found",
                "diagnostics": "La Location avec l'identifiant externe de synchro OU l'identifiant unique de saisie : '1350054680/SSR38888' n'a pas été trouvée.",
                "expression": ["Location"]
            }]})
        );
        let capacity = OperationOutcome::capacity_not_found();
        assert_eq!(capacity.http_status(), 404);
        assert_eq!(
            capacity.to_json(),
            json!({"resourceType": "OperationOutcome", "issue": [{
                "severity": "error",
                "code": "not-found",
                "diagnostics": "Les données fournies ne permettent pas de déterminer l'indicateur à mettre à jour: Aucun indicateur présent en base ne correspond",
                "expression": ["Location.extension.where(url='https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/ror-location-supported-capacity')"]
            }]})
        );
        let multiple = OperationOutcome::multiple_locations(2);
        assert_eq!(multiple.http_status(), 412);
        assert_eq!(
            multiple.to_json(),
            json!({"resourceType": "OperationOutcome", "issue": [{
                "severity": "error",
                "code": "multiple-matches",
                "diagnostics": "La Location recherchée n'est pas unique, il y a '2' résultats",
                "expression": ["Location"]
            }]})
        );
        // resourceType first, as the ROR writes it.
        assert!(serde_json::to_string(&multiple).unwrap().starts_with("{\"resourceType\":\"OperationOutcome\""));
    }

    /// The DOC's 400 example, issue for issue, produced from scenario 2 BIS by a catalog that
    /// knows no indicator (invalid tuple) and one that expects beds (wrong nature).
    #[test]
    fn business_rule_answer_is_the_rors() {
        struct NoIndicator;
        impl IndicatorCatalog for NoIndicator {
            fn indicator(&self, _: &CapacityKey) -> Option<Indicator> {
                None
            }
        }
        struct Beds;
        impl IndicatorCatalog for Beds {
            fn indicator(&self, _: &CapacityKey) -> Option<Indicator> {
                Some(Indicator { name: None, capacity_type: Some(code("01")) })
            }
        }
        let operation = parse_patch(SCENARIO_2BIS).unwrap().remove(0);
        let now = date("2025-02-26T15:20:00Z");
        let policy = ValidationPolicy::default();
        let wrong_nature = validate_operation(&operation, &Beds, &policy, now).unwrap_err();
        let invalid = validate_operation(&operation, &NoIndicator, &policy, now).unwrap_err();
        assert_eq!(invalid.issue.len(), 2);
        let mut issues = wrong_nature.issue.clone();
        issues.push(invalid.issue[1].clone());
        issues.push(invalid.issue[0].clone());
        let outcome = OperationOutcome::business_rules(issues);
        assert_eq!(outcome.http_status(), 400);
        assert_eq!(
            outcome.to_json(),
            json!({"resourceType": "OperationOutcome", "issue": [
                {
                    "severity": "error",
                    "code": "business-rule",
                    "diagnostics": "Indicateur INDICATEUR_INCONNU : L'attribut 'natureCapacite' a un code différent de celui attendu",
                    "expression": ["Location.extension('https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/ror-location-supported-capacity').extension('capacityType')"]
                },
                {
                    "severity": "error",
                    "code": "business-rule",
                    "diagnostics": "Les valeurs du nouvel objet ne correspondent pas à un indicateur valide : capacityStatus: 02 / temporalityCapacity: 01 / genderCapacityAvailable: 03 / capacityClosingType: null / additionalBedType: null / crisisType: null / temporaryAssignement: 01",
                    "expression": ["Location.extension('https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/ror-location-supported-capacity')"]
                },
                {
                    "severity": "error",
                    "code": "business-rule",
                    "diagnostics": "Les critères du FhirPath ne correspondent pas à un indicateur valide : capacityStatus: 02 / temporalityCapacity: 01 / genderCapacityAvailable: 03 / capacityClosingType: null / additionalBedType: null / crisisType: null / temporaryAssignement: 01"
                }
            ]})
        );
        let named = Indicator { name: Some("LITS_DISPO".into()), capacity_type: Some(code("01")) };
        let issue = check_capacity_type(&scenario_2_record(1), &named).unwrap();
        assert!(issue.diagnostics.starts_with("Indicateur LITS_DISPO : "));
        assert_eq!(
            check_capacity_type(&scenario_2_record(1), &Indicator { name: None, capacity_type: Some(code("02")) }),
            None
        );
    }

    #[test]
    fn business_rules_count_date_codes_and_selector_agreement() {
        let policy = ValidationPolicy { max_count: 100_000, future_tolerance_seconds: 300 };
        let now = date("2025-02-26T15:17:33Z");
        let mut record = scenario_2_record(100_000);
        assert_eq!(check_count(&record, &policy), None);
        record.count = 100_001;
        assert!(check_count(&record, &policy).unwrap().diagnostics.contains("100001"));
        assert_eq!(check_update_date(&record, now - 300, &policy), None);
        let issue = check_update_date(&record, now - 301, &policy).unwrap();
        assert_eq!(issue.code, IssueType::BusinessRule);
        assert!(issue.diagnostics.contains("2025-02-26T15:17:33Z"), "{}", issue.diagnostics);
        record.updated_at = None;
        assert!(check_update_date(&record, now, &policy).is_some());

        let mut record = scenario_2_record(3);
        assert!(check_known_codes(&record).is_empty());
        record.status = code("99");
        record.source_type = Some(code("07"));
        let issues = check_known_codes(&record);
        assert_eq!(issues.len(), 2);
        assert_eq!(
            issues[0].diagnostics,
            "Le code '99' de l'attribut 'capacityStatus' est inconnu dans TRE_R330-TypeStatutCapacite"
        );
        assert_eq!(KnownCodesCatalog.indicator(&CapacityKey::of(&record)), None);
        assert_eq!(KnownCodesCatalog.indicator(&CapacityKey::of(&scenario_2_record(3))), Some(Indicator::default()));

        let criteria = scenario_2bis_criteria();
        assert_eq!(check_selector_matches(&criteria, &scenario_2_record(3)), None);
        let mut other = scenario_2_record(3);
        other.gender = Some(code("01"));
        let issue = check_selector_matches(&criteria, &other).unwrap();
        assert!(
            issue.diagnostics.contains("genderCapacityAvailable: 03")
                && issue.diagnostics.contains("genderCapacityAvailable: 01")
        );

        // All at once: a replace whose record disagrees with its selector, is in the future and
        // counts too much; every issue is reported.
        let mut record = other;
        record.count = 200_000;
        record.updated_at = Some(now + 3600);
        let operation =
            Operation::Replace { selector: Selector::Record(criteria.clone()), records: vec![update(record)] };
        let outcome = validate_operation(&operation, &KnownCodesCatalog, &policy, now).unwrap_err();
        assert_eq!(outcome.issue.len(), 3, "{outcome:?}");
        assert!(outcome.issue.iter().all(|issue| issue.code == IssueType::BusinessRule));
        // A selector without status names no indicator.
        let partial = RecordCriteria { status: None, ..criteria };
        let delete = Operation::Delete { selector: Selector::Record(partial) };
        let outcome = validate_operation(&delete, &KnownCodesCatalog, &policy, now).unwrap_err();
        assert!(outcome.issue[0].diagnostics.contains("capacityStatus: null"));
    }

    #[test]
    fn patch_errors_become_400_outcomes_with_an_array_expression() {
        let error = parse_error(&with_sub("nbCapacity", Some(json!({"url": "nbCapacity", "valueInteger": -2}))));
        let outcome = OperationOutcome::from_patch_error(&error);
        assert_eq!(outcome.http_status(), 400);
        let json = outcome.to_json();
        assert_eq!(json["issue"][0]["code"], "business-rule");
        assert_eq!(
            json["issue"][0]["expression"],
            json!(["Parameters.parameter[0].part[2].part[0].extension[0].extension[7].valueInteger"])
        );
        let outcome = OperationOutcome::from_patch_error(&parse_error(b"not json"));
        assert_eq!(outcome.to_json()["issue"][0]["code"], "structure");
        assert!(outcome.to_json()["issue"][0].get("expression").is_none());
        let outcome = OperationOutcome::invalid_identifier(&parse_synchro_identifier("SSR38888").unwrap_err());
        assert_eq!(
            (outcome.http_status(), outcome.to_json()["issue"][0]["expression"].clone()),
            (400, json!(["identifier"]))
        );
    }

    // --- identifier -----------------------------------------------------------------------------

    #[test]
    fn synchro_identifier_forms() {
        let expected = SynchroIdentifier { finess: Finess::parse("350054680").unwrap(), synchro_id: "SSR38888".into() };
        for value in
            ["1350054680/SSR38888", "https://ror.sante.fr/idExterneSynchro|1350054680/SSR38888", "|1350054680/SSR38888"]
        {
            assert_eq!(parse_synchro_identifier(value).as_ref(), Ok(&expected), "{value}");
        }
        assert_eq!(expected.to_string(), "1350054680/SSR38888");
        assert_eq!(expected.id_nat_struct(), "1350054680");
        let corsica = parse_synchro_identifier("12A0000123/URG/NORD").unwrap();
        assert_eq!((corsica.finess.as_str(), corsica.synchro_id.as_str()), ("2A0000123", "URG/NORD"));
        let refused = [
            ("", IdentifierError::Empty),
            ("sys|", IdentifierError::Empty),
            ("1350054680", IdentifierError::NoSeparator("1350054680".into())),
            ("350054680/SSR38888", IdentifierError::NotAnEgIdNatStruct("350054680".into())),
            ("3350054680/SSR38888", IdentifierError::NotAnEgIdNatStruct("3350054680".into())),
            ("11350054680/SSR38888", IdentifierError::NotAnEgIdNatStruct("11350054680".into())),
            ("1350054680/", IdentifierError::EmptySynchroId("1350054680/".into())),
            ("1350054680/SSR 38888", IdentifierError::BadSynchroId("SSR 38888".into())),
        ];
        for (value, error) in refused {
            assert_eq!(parse_synchro_identifier(value), Err(error), "{value}");
        }
    }

    // --- never panic ----------------------------------------------------------------------------

    mod properties {
        use proptest::prelude::*;

        use super::*;

        fn fixtures() -> [&'static [u8]; 4] {
            [SCENARIO_2, SCENARIO_2BIS, SCENARIO_3, SCENARIO_9]
        }

        #[derive(Debug, Clone)]
        enum Mutation {
            Flip(usize, u8),
            Delete(usize, usize),
            Insert(usize, Vec<u8>),
        }

        fn mutation() -> impl Strategy<Value = Mutation> {
            prop_oneof![
                (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Flip(at, byte)),
                (any::<usize>(), 1usize..64).prop_map(|(at, length)| Mutation::Delete(at, length)),
                (
                    any::<usize>(),
                    prop::collection::vec(prop::sample::select(b"{}[]\",: -0123456789aeflnrstu\\".to_vec()), 1..8)
                )
                    .prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
            ]
        }

        fn apply(body: &mut Vec<u8>, mutation: &Mutation) {
            if body.is_empty() {
                return;
            }
            match mutation {
                Mutation::Flip(at, byte) => {
                    let at = at % body.len();
                    body[at] = *byte;
                }
                Mutation::Delete(at, length) => {
                    let at = at % body.len();
                    let end = (at + length).min(body.len());
                    body.drain(at..end);
                }
                Mutation::Insert(at, bytes) => {
                    let at = at % (body.len() + 1);
                    body.splice(at..at, bytes.iter().copied());
                }
            }
        }

        fn exercise(body: &[u8]) {
            if let Ok(operations) = parse_patch(body) {
                for operation in &operations {
                    let _ = validate_operation(&operation.clone(), &KnownCodesCatalog, &ValidationPolicy::default(), 0);
                }
            } else if let Err(error) = parse_patch(body) {
                let _ = OperationOutcome::from_patch_error(&error).to_json();
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
                exercise(&body);
            }

            #[test]
            fn mutated_fixtures_never_panic(which in 0usize..4, mutations in prop::collection::vec(mutation(), 1..6)) {
                let mut body = fixtures()[which].to_vec();
                for mutation in &mutations {
                    apply(&mut body, mutation);
                }
                exercise(&body);
            }

            #[test]
            fn arbitrary_selectors_never_panic(path in ".{0,200}") {
                let _ = parse_selector(&path);
                let prefixed = format!("{CAPACITY_COLLECTION_PATH}.where({path}");
                let _ = parse_selector(&prefixed);
            }

            #[test]
            fn arbitrary_identifiers_never_panic(value in ".{0,40}") {
                let _ = parse_synchro_identifier(&value);
            }

            /// Generated selectors with random spacing, quotes, clause order and value forms read
            /// back as the criteria they were written from.
            #[test]
            fn generated_selectors_round_trip(
                codes in prop::collection::vec(prop::option::of("[0-9]{2}"), 7),
                order in Just((0..7usize).collect::<Vec<_>>()).prop_shuffle(),
                spaces in prop::collection::vec(prop::sample::select(vec!["", " ", "  ", "\n\t"]), 8),
                double_quotes in any::<bool>(),
                value_form in 0usize..4,
            ) {
                prop_assume!(codes.iter().any(Option::is_some));
                let quote = if double_quotes { '"' } else { '\'' };
                let value_path = ["valueCodeableConcept.coding.code", "valueCodeableConcept.coding[0].code", "valueCoding.code", "valueCode"][value_form];
                let (s0, s1, s2, s3) = (spaces[0], spaces[1], spaces[2], spaces[3]);
                // `and` needs a blank on the side of an identifier.
                let nonempty = |space: &'static str| if space.is_empty() { " " } else { space };
                let after_and = nonempty(s3);
                let mut criteria = RecordCriteria::default();
                let mut clauses = Vec::new();
                for index in order {
                    let Some(code) = &codes[index] else { continue };
                    let field = CapacityField::TUPLE[index];
                    *criteria.slot(field).unwrap() = Some(Code::from(code.as_str()));
                    clauses.push(format!(
                        "extension.where({s0}url{s1}={s2}{quote}{}{quote}{s3}and{after_and}{value_path}{s1}={s0}{quote}{code}{quote})",
                        field.url()
                    ));
                }
                let joiner = format!("{}and{}", nonempty(spaces[4]), nonempty(spaces[5]));
                let path = format!(
                    "Location.extension.where(url{s1}={s2}{quote}{CAPACITY_EXTENSION_URL}{quote}){}.where({}{}{})",
                    spaces[6],
                    spaces[7],
                    clauses.join(&joiner),
                    spaces[7]
                );
                prop_assert_eq!(parse_selector(&path), Ok(Selector::Record(criteria)), "{}", path);
            }
        }
    }
}
