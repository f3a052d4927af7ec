//! The search parameters of the facade, one table ([`PARAMS`]) read by the parser, the
//! CapabilityStatement and the README; and the FHIR R4 value syntaxes: token `system|code`,
//! string, date with its implicit precision range, number and quantity with prefixes,
//! reference, `near`.

use crate::ingest::fhir::write::ResourceType;
use crate::util::fold::fold;
use crate::util::time::parse_fhir_datetime;

/// The FHIR search parameter types the facade uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamType {
    Token,
    String,
    Date,
    Number,
    Quantity,
    Reference,
    Special,
}

impl ParamType {
    /// The FHIR name of the type (`SearchParamType`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ParamType::Token => "token",
            ParamType::String => "string",
            ParamType::Date => "date",
            ParamType::Number => "number",
            ParamType::Quantity => "quantity",
            ParamType::Reference => "reference",
            ParamType::Special => "special",
        }
    }
}

/// What a search parameter reads: one variant per parameter of [`PARAMS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Id,
    LastUpdated,
    Tag,
    // HealthcareService
    OfferIdentifier,
    OfferName,
    Content,
    ServiceCategory,
    ServiceType,
    Specialty,
    Characteristic,
    PatientType,
    AgeLow,
    AgeHigh,
    OfferLocation,
    OfferOrganization,
    // Location
    LocationIdentifier,
    LocationName,
    LocationType,
    LocationStatus,
    Near,
    NearInseeCode,
    PostalCode,
    City,
    CommuneCog,
    CapacityType,
    CapacityStatus,
    CapacityTemporality,
    CapacityCount,
    CapacityGender,
    CapacityClosingType,
    CapacityAdditionalBedType,
    CapacityCrisisType,
    CapacityUpdateDate,
    CapacityTemporaryAssignment,
    // Organization
    OrganizationIdentifier,
    OrganizationName,
    OrganizationType,
    PartOf,
    PriceType,
    PriceAmount,
    PriceCurrency,
    PriceUnit,
    PriceDependencyLevel,
    PriceResidentialType,
    PriceWelcomeType,
    PriceStartDate,
    PriceSpecialPrice,
}

impl Target {
    /// Whether the parameter is evaluated on one capacity record of a Location.
    pub(crate) fn is_capacity(self) -> bool {
        matches!(
            self,
            Target::CapacityType
                | Target::CapacityStatus
                | Target::CapacityTemporality
                | Target::CapacityCount
                | Target::CapacityGender
                | Target::CapacityClosingType
                | Target::CapacityAdditionalBedType
                | Target::CapacityCrisisType
                | Target::CapacityUpdateDate
                | Target::CapacityTemporaryAssignment
        )
    }

    /// Whether the parameter is evaluated on one tariff of an Organization.
    pub(crate) fn is_price(self) -> bool {
        matches!(
            self,
            Target::PriceType
                | Target::PriceAmount
                | Target::PriceCurrency
                | Target::PriceUnit
                | Target::PriceDependencyLevel
                | Target::PriceResidentialType
                | Target::PriceWelcomeType
                | Target::PriceStartDate
                | Target::PriceSpecialPrice
        )
    }
}

/// One supported search parameter.
#[derive(Debug)]
pub(crate) struct ParamDef {
    pub(crate) resource: ResourceType,
    pub(crate) name: &'static str,
    pub(crate) kind: ParamType,
    pub(crate) target: Target,
    /// What it matches, for the CapabilityStatement and the README.
    pub(crate) doc: &'static str,
}

use ParamType as T;
use ResourceType::{HealthcareService as Hs, Location as Loc, Organization as Org};

const fn p(resource: ResourceType, name: &'static str, kind: ParamType, target: Target, doc: &'static str) -> ParamDef {
    ParamDef { resource, name, kind, target, doc }
}

/// Every search parameter the facade answers, by resource type.
pub(crate) const PARAMS: &[ParamDef] = &[
    p(Hs, "_id", T::Token, Target::Id, "logical id; a comma-separated list matches any"),
    p(Hs, "_lastUpdated", T::Date, Target::LastUpdated, "`meta.lastUpdated`, with `eq ne gt lt ge le sa eb`"),
    p(Hs, "_tag", T::Token, Target::Tag, "`meta.tag`: the région (TRE_R30)"),
    p(Hs, "identifier", T::Token, Target::OfferIdentifier, "identifiant de l'offre (TRE_R355 `35`)"),
    p(Hs, "name", T::String, Target::OfferName, "name of the offer (`:exact`, `:contains`)"),
    p(
        Hs,
        "_content",
        T::Special,
        Target::Content,
        "the engine's French full-text search (names, EG, commune, labels): every word must match, the last also as a prefix",
    ),
    p(Hs, "_text", T::Special, Target::Content, "same as `_content`"),
    p(Hs, "service-category", T::Token, Target::ServiceCategory, "`category`: type d'offre (TRE_R244)"),
    p(Hs, "service-type", T::Token, Target::ServiceType, "`type`: champ d'activité (TRE_R227)"),
    p(
        Hs,
        "specialty",
        T::Token,
        Target::Specialty,
        "`specialty`: activité opérationnelle (TRE_R211), famille (TRE_R265)",
    ),
    p(
        Hs,
        "characteristic",
        T::Token,
        Target::Characteristic,
        "`characteristic`: mode de prise en charge (TRE_R213), temporalité d'accueil (TRE_R240), spécialisation (TRE_R245), compétence (TRE_R243)",
    ),
    p(Hs, "patient-type", T::Token, Target::PatientType, "public pris en charge (TRE_R239)"),
    p(
        Hs,
        "age-range-low",
        T::Quantity,
        Target::AgeLow,
        "lowest age accepted, a quantity in UCUM `a`, `mo`, `wk` or `d` (e.g. `le35|http://unitsofmeasure.org|a`)",
    ),
    p(Hs, "age-range-high", T::Quantity, Target::AgeHigh, "highest age accepted, a quantity like `age-range-low`"),
    p(
        Hs,
        "location",
        T::Reference,
        Target::OfferLocation,
        "`location`: a Location id; chained `location.<Location parameter>`",
    ),
    p(
        Hs,
        "organization",
        T::Reference,
        Target::OfferOrganization,
        "`providedBy`: an Organization id; chained `organization.<Organization parameter>`, `organization:above.<...>` (the EG or its EJ)",
    ),
    p(Loc, "_id", T::Token, Target::Id, "logical id"),
    p(Loc, "_lastUpdated", T::Date, Target::LastUpdated, "`meta.lastUpdated`, live capacity writes included"),
    p(
        Loc,
        "identifier",
        T::Token,
        Target::LocationIdentifier,
        "identifiant du lieu (TRE_R354 `25`) or de synchronisation (`26`)",
    ),
    p(Loc, "name", T::String, Target::LocationName, "name of the place"),
    p(Loc, "type", T::Token, Target::LocationType, "fonction du lieu (TRE_R343)"),
    p(Loc, "status", T::Token, Target::LocationStatus, "`active` for every location held"),
    p(
        Loc,
        "near",
        T::Special,
        Target::Near,
        "`lat|lon|distance|units` (WGS84 degrees; units `km` (default), `m`, `[mi_i]`; no distance: 50 km), sorted nearest first, the distance in `entry.search.extension[location-distance]`",
    ),
    p(
        Loc,
        "near-insee-code",
        T::Special,
        Target::NearInseeCode,
        "`<INSEE COG>|distance|units`: `near` around the commune's centroid",
    ),
    p(Loc, "address-postalcode", T::String, Target::PostalCode, "postal code, prefix match (`71` = département 71)"),
    p(Loc, "address-city", T::String, Target::City, "city of the address"),
    p(Loc, "commune-cog", T::Token, Target::CommuneCog, "INSEE COG code of the commune (`ror-commune-cog`)"),
    p(
        Loc,
        "capacity-type",
        T::Token,
        Target::CapacityType,
        "nature de capacité (TRE_R329), on the same capacity record as the other capacity parameters",
    ),
    p(Loc, "capacity-status", T::Token, Target::CapacityStatus, "statut (TRE_R330), same record"),
    p(Loc, "temporality-capacity", T::Token, Target::CapacityTemporality, "temporalité (TRE_R331), same record"),
    p(Loc, "nb-capacity", T::Number, Target::CapacityCount, "count of the record, with prefixes (`gt0`), same record"),
    p(Loc, "gender-capacity-available", T::Token, Target::CapacityGender, "genre (TRE_R332), same record"),
    p(Loc, "capacity-closing-type", T::Token, Target::CapacityClosingType, "type de fermeture (TRE_R333), same record"),
    p(
        Loc,
        "additional-bed-type",
        T::Token,
        Target::CapacityAdditionalBedType,
        "type de lit supplémentaire (TRE_R334), same record",
    ),
    p(Loc, "crisis-type", T::Token, Target::CapacityCrisisType, "type de crise (TRE_R336), same record"),
    p(Loc, "capacity-update-date", T::Date, Target::CapacityUpdateDate, "`capacityUpdateDate`, same record"),
    p(
        Loc,
        "temporary-assignement",
        T::Token,
        Target::CapacityTemporaryAssignment,
        "affectation temporaire (TRE_R337), same record",
    ),
    p(Org, "_id", T::Token, Target::Id, "logical id"),
    p(Org, "_lastUpdated", T::Date, Target::LastUpdated, "`meta.lastUpdated`"),
    p(Org, "_tag", T::Token, Target::Tag, "`meta.tag`: the région (TRE_R30)"),
    p(
        Org,
        "identifier",
        T::Token,
        Target::OrganizationIdentifier,
        "FINESS (`http(s)://finess.esante.gouv.fr|<FINESS>`), IdNatStruct (`urn:oid:1.2.250.1.71.4.2.2|1<FINESS>`), SIREN / SIRET (`http://sirene.fr`)",
    ),
    p(Org, "name", T::String, Target::OrganizationName, "name or alias"),
    p(
        Org,
        "type",
        T::Token,
        Target::OrganizationType,
        "catégorie d'établissement (TRE_R66) or statut juridique (TRE_R72)",
    ),
    p(Org, "partof", T::Reference, Target::PartOf, "the EJ of an EG"),
    p(Org, "address-postalcode", T::String, Target::PostalCode, "postal code, prefix match"),
    p(Org, "address-city", T::String, Target::City, "city of the address"),
    p(
        Org,
        "price-type",
        T::Token,
        Target::PriceType,
        "type de tarif (TRE_R246), on the same tariff as the other price parameters",
    ),
    p(
        Org,
        "price-amount-value",
        T::Number,
        Target::PriceAmount,
        "amount in the tariff's currency (EUR), with prefixes, same tariff",
    ),
    p(Org, "price-amount-currency", T::Token, Target::PriceCurrency, "ISO 4217 currency, same tariff"),
    p(Org, "price-unit", T::Token, Target::PriceUnit, "unité de prix (TRE_R228), same tariff"),
    p(
        Org,
        "price-dependency-level",
        T::Token,
        Target::PriceDependencyLevel,
        "groupe tarifaire dépendance (TRE_R237), same tariff",
    ),
    p(
        Org,
        "price-residential-type",
        T::Token,
        Target::PriceResidentialType,
        "type d'habitation (TRE_R242), same tariff",
    ),
    p(Org, "price-welcome-type", T::Token, Target::PriceWelcomeType, "temporalité d'accueil (TRE_R240), same tariff"),
    p(Org, "price-validity-start-date", T::Date, Target::PriceStartDate, "`startDate` of the tariff, same tariff"),
    p(Org, "price-special-price", T::Token, Target::PriceSpecialPrice, "condition tarifaire (TRE_R250), same tariff"),
    p(
        Org,
        "special-price",
        T::Token,
        Target::PriceSpecialPrice,
        "same as `price-special-price` (the IG's SearchParameter name)",
    ),
];

impl ParamDef {
    /// The canonical URL of the parameter's `SearchParameter`: FHIR R4's for the standard
    /// ones, the IG's (`ror-sp-*`) for the ROR's.
    pub(crate) fn definition(&self) -> String {
        const HL7: &str = "http://hl7.org/fhir/SearchParameter/";
        const IG: &str = "https://interop.esante.gouv.fr/ig/fhir/ror/SearchParameter/";
        let resource = self.resource.name();
        match self.name {
            "_id" => format!("{HL7}Resource-id"),
            "_lastUpdated" => format!("{HL7}Resource-lastUpdated"),
            "_tag" => format!("{HL7}Resource-tag"),
            "_content" => format!("{HL7}Resource-content"),
            "_text" => format!("{HL7}DomainResource-text"),
            "identifier" | "name" | "service-category" | "service-type" | "specialty" | "characteristic"
            | "location" | "organization" | "type" | "status" | "near" | "address-postalcode" | "address-city"
            | "partof" => format!("{HL7}{resource}-{}", self.name),
            "commune-cog" | "near-insee-code" => format!("{IG}ror-sp-location-{}", self.name),
            "age-range-low" | "age-range-high" | "patient-type" => {
                format!("{IG}ror-sp-healthcareservice-{}", self.name)
            }
            "special-price" | "price-special-price" => format!("{IG}ror-sp-organization-special-price"),
            name if name.starts_with("price-") => format!("{IG}ror-sp-organization-{name}"),
            name => format!("{IG}ror-sp-{name}"),
        }
    }

    /// The type the CapabilityStatement declares (`_content` and `_text` are strings in R4).
    pub(crate) fn declared_type(&self) -> &'static str {
        match self.target {
            Target::Content => "string",
            _ => self.kind.as_str(),
        }
    }
}

/// The definition of a parameter of a resource type.
pub(crate) fn param(resource: ResourceType, name: &str) -> Option<&'static ParamDef> {
    PARAMS.iter().find(|def| def.resource == resource && def.name == name)
}

/// A search-parameter error: which parameter and why, as FHIR wants it in an `OperationOutcome`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SearchError {
    /// The parameter as written (`name:exact`), for `OperationOutcome.issue.expression`.
    pub(crate) parameter: String,
    pub(crate) message: String,
    pub(crate) kind: SearchErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SearchErrorKind {
    /// A bad value (400 `invalid` / `value`).
    Value,
    /// A modifier or parameter the server does not support (400 `not-supported`).
    NotSupported,
    /// A parameter the caller's access profile may not use (403 `forbidden`).
    Forbidden,
    /// A cursor of a snapshot no longer held (410).
    Gone,
}

impl SearchError {
    pub(crate) fn value(parameter: &str, message: impl Into<String>) -> SearchError {
        SearchError { parameter: parameter.to_owned(), message: message.into(), kind: SearchErrorKind::Value }
    }

    pub(crate) fn not_supported(parameter: &str, message: impl Into<String>) -> SearchError {
        SearchError { parameter: parameter.to_owned(), message: message.into(), kind: SearchErrorKind::NotSupported }
    }

    pub(crate) fn forbidden(parameter: &str, message: impl Into<String>) -> SearchError {
        SearchError { parameter: parameter.to_owned(), message: message.into(), kind: SearchErrorKind::Forbidden }
    }
}

/// Splits a parameter value on unescaped commas (`\,` is a literal comma), FHIR's OR.
pub(crate) fn split_or(value: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(next @ (',' | '|' | '$' | '\\')) => current.push(next),
                Some(next) => {
                    current.push('\\');
                    current.push(next);
                }
                None => current.push('\\'),
            },
            ',' => parts.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    parts.push(current);
    parts
}

/// Splits on unescaped `|`.
fn split_bar(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let bytes = value.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if bytes[i] == b'|' {
            parts.push(&value[start..i]);
            start = i + 1;
        }
        i += 1;
    }
    parts.push(&value[start..]);
    parts
}

/// A token value: `code`, `system|code`, `|code` (no system), `system|` (any code of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    /// `None`: any system; `Some("")`: no system.
    pub(crate) system: Option<String>,
    /// `None`: any code of the system.
    pub(crate) code: Option<String>,
}

pub(crate) fn parse_token(parameter: &str, value: &str) -> Result<Token, SearchError> {
    let parts = split_bar(value);
    let unescape = |text: &str| text.replace("\\|", "|");
    match parts.as_slice() {
        [code] if !code.is_empty() => Ok(Token { system: None, code: Some(unescape(code)) }),
        [system, code] if !(system.is_empty() && code.is_empty()) => {
            Ok(Token { system: Some(unescape(system)), code: (!code.is_empty()).then(|| unescape(code)) })
        }
        _ => Err(SearchError::value(
            parameter,
            format!("{value:?} is not a token (expected `code`, `system|code` or `system|`)"),
        )),
    }
}

/// How a string parameter compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StringMode {
    /// Case- and accent-insensitive, the value starts with the search text (FHIR's default).
    Start,
    /// Exactly equal, case and accents included (`:exact`).
    Exact,
    /// Case- and accent-insensitive substring (`:contains`).
    Contains,
}

/// A string test: the text folded for `Start` and `Contains`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StringTest {
    pub(crate) mode: StringMode,
    pub(crate) text: String,
}

impl StringTest {
    pub(crate) fn new(mode: StringMode, text: &str) -> StringTest {
        let text = if mode == StringMode::Exact { text.to_owned() } else { fold(text) };
        StringTest { mode, text }
    }

    pub(crate) fn matches(&self, value: &str) -> bool {
        match self.mode {
            StringMode::Exact => value == self.text,
            StringMode::Start => fold(value).starts_with(&self.text),
            StringMode::Contains => fold(value).contains(&self.text),
        }
    }
}

/// A comparison prefix of number, date and quantity parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prefix {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Sa,
    Eb,
    Ap,
}

fn split_prefix(value: &str) -> (Prefix, &str) {
    let prefixes = [
        ("eq", Prefix::Eq),
        ("ne", Prefix::Ne),
        ("gt", Prefix::Gt),
        ("lt", Prefix::Lt),
        ("ge", Prefix::Ge),
        ("le", Prefix::Le),
        ("sa", Prefix::Sa),
        ("eb", Prefix::Eb),
        ("ap", Prefix::Ap),
    ];
    for (text, prefix) in prefixes {
        if let Some(rest) = value.strip_prefix(text) {
            return (prefix, rest);
        }
    }
    (Prefix::Eq, value)
}

/// A number test: the search value's implicit range `[low, high)` (FHIR: `100` means
/// `[99.5, 100.5)`), compared by prefix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct NumberTest {
    pub(crate) prefix: Prefix,
    pub(crate) value: f64,
    pub(crate) low: f64,
    pub(crate) high: f64,
}

impl NumberTest {
    fn new(prefix: Prefix, value: f64, half_precision: f64) -> NumberTest {
        NumberTest { prefix, value, low: value - half_precision, high: value + half_precision }
    }

    /// Whether a stored value passes.
    pub(crate) fn matches(&self, target: f64) -> bool {
        match self.prefix {
            Prefix::Eq => self.low <= target && target < self.high,
            Prefix::Ne => !(self.low <= target && target < self.high),
            Prefix::Gt | Prefix::Sa => target > self.value,
            Prefix::Lt | Prefix::Eb => target < self.value,
            Prefix::Ge => target >= self.value,
            Prefix::Le => target <= self.value,
            Prefix::Ap => (target - self.value).abs() <= (self.value * 0.1).abs().max(self.high - self.value),
        }
    }
}

/// Parses a FHIR decimal (no exponent) with its implicit precision: half a unit of its last digit.
fn parse_decimal(parameter: &str, text: &str) -> Result<(f64, f64), SearchError> {
    let bad = || SearchError::value(parameter, format!("{text:?} is not a number"));
    let body = text.strip_prefix('-').or_else(|| text.strip_prefix('+')).unwrap_or(text);
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit() || b == b'.') || body.matches('.').count() > 1 {
        return Err(bad());
    }
    let value: f64 = text.parse().map_err(|_| bad())?;
    let decimals = body.split_once('.').map_or(0, |(_, fraction)| fraction.len());
    Ok((value, 0.5 * 10f64.powi(-(decimals as i32))))
}

pub(crate) fn parse_number(parameter: &str, value: &str) -> Result<NumberTest, SearchError> {
    let (prefix, rest) = split_prefix(value);
    let (number, half) = parse_decimal(parameter, rest)?;
    Ok(NumberTest::new(prefix, number, half))
}

/// An age quantity, converted to years.
pub(crate) fn parse_age_quantity(parameter: &str, value: &str) -> Result<NumberTest, SearchError> {
    let (prefix, rest) = split_prefix(value);
    let parts = split_bar(rest);
    let (number, system, unit) = match parts.as_slice() {
        [number] => (*number, "", "a"),
        [number, system, unit] => (*number, *system, *unit),
        _ => {
            return Err(SearchError::value(
                parameter,
                format!("{value:?} is not a quantity (expected `[prefix]number|system|unit`)"),
            ));
        }
    };
    let known_system = system.is_empty()
        || matches!(system.trim_end_matches('/'), "http://unitsofmeasure.org" | "https://unitsofmeasure.org")
        || crate::model::labels::tre_number_of(system) == Some(247);
    if !known_system {
        return Err(SearchError::value(
            parameter,
            format!("unit system {system:?}: expected UCUM (http://unitsofmeasure.org)"),
        ));
    }
    let years_per_unit = match unit {
        "a" | "" => 1.0,
        "mo" => 1.0 / 12.0,
        "wk" => 7.0 / 365.25,
        "d" => 1.0 / 365.25,
        other => {
            return Err(SearchError::value(parameter, format!("unit {other:?}: expected a, mo, wk or d (UCUM)")));
        }
    };
    let (number, half) = parse_decimal(parameter, number)?;
    Ok(NumberTest::new(prefix, number * years_per_unit, half * years_per_unit))
}

/// A date test: the search value's range `[start, end]` (Unix seconds, inclusive) from its
/// precision (`2022` is the whole year), compared by prefix with an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DateTest {
    pub(crate) prefix: Prefix,
    pub(crate) start: i64,
    pub(crate) end: i64,
}

impl DateTest {
    pub(crate) fn matches(&self, instant: i64) -> bool {
        match self.prefix {
            Prefix::Eq | Prefix::Ap => self.start <= instant && instant <= self.end,
            Prefix::Ne => !(self.start <= instant && instant <= self.end),
            Prefix::Gt | Prefix::Sa => instant > self.end,
            Prefix::Lt | Prefix::Eb => instant < self.start,
            Prefix::Ge => instant >= self.start,
            Prefix::Le => instant <= self.end,
        }
    }
}

pub(crate) fn parse_date(parameter: &str, value: &str) -> Result<DateTest, SearchError> {
    let (prefix, rest) = split_prefix(value);
    let start = parse_fhir_datetime(rest)
        .map_err(|error| SearchError::value(parameter, format!("{rest:?} is not a FHIR date: {}", error.reason)))?;
    // The precision is what the text gives before any zone or fraction.
    let core = rest.split(['Z', '+', '.']).next().unwrap_or(rest);
    let core = match core.rfind('-') {
        Some(index) if index > 10 => &core[..index], // a negative zone offset
        _ => core,
    };
    let end = match core.len() {
        4 => {
            let year: i64 = core.parse().unwrap_or(1970);
            crate::util::time::days_from_civil(year + 1, 1, 1) * 86_400 - 1
        }
        7 => {
            let year: i64 = core[..4].parse().unwrap_or(1970);
            let month: u32 = core[5..7].parse().unwrap_or(1);
            let (year, month) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
            crate::util::time::days_from_civil(year, month, 1) * 86_400 - 1
        }
        10 => start + 86_399,
        16 => start + 59,
        _ => start,
    };
    Ok(DateTest { prefix, start, end })
}

/// A reference value: `Type/id`, `id`, or an absolute URL ending in `Type/id`; gives the id
/// when the type is `expected` (or absent).
pub(crate) fn parse_reference(parameter: &str, value: &str, expected: &str) -> Result<Option<String>, SearchError> {
    let value = value.trim_end_matches('/');
    if value.is_empty() {
        return Err(SearchError::value(parameter, "empty reference"));
    }
    let mut parts = value.rsplitn(3, '/');
    let id = parts.next().unwrap_or_default();
    match parts.next() {
        None => Ok(Some(id.to_owned())),
        Some(resource_type) if resource_type == expected => Ok(Some(id.to_owned())),
        Some(_) => Ok(None), // another type: matches nothing
    }
}

/// A `near` value: centre, distance in metres.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Near {
    pub(crate) lat: f64,
    pub(crate) lon: f64,
    pub(crate) distance_m: f64,
}

/// Default `near` distance when none is given, km.
pub(crate) const DEFAULT_NEAR_KM: f64 = 50.0;

fn distance_m(parameter: &str, distance: Option<&str>, units: Option<&str>) -> Result<f64, SearchError> {
    let Some(distance) = distance.filter(|text| !text.is_empty()) else { return Ok(DEFAULT_NEAR_KM * 1000.0) };
    let value: f64 =
        distance.parse().ok().filter(|value: &f64| value.is_finite() && *value >= 0.0).ok_or_else(|| {
            SearchError::value(parameter, format!("distance {distance:?} is not a non-negative number"))
        })?;
    let metres_per_unit = match units.unwrap_or("km") {
        "" | "km" | "[km]" => 1000.0,
        "m" => 1.0,
        "[mi_i]" | "mi" | "[mi_us]" => 1609.344,
        other => return Err(SearchError::value(parameter, format!("unit {other:?}: expected km, m or [mi_i]"))),
    };
    Ok(value * metres_per_unit)
}

pub(crate) fn parse_near(parameter: &str, value: &str) -> Result<Near, SearchError> {
    let parts = split_bar(value);
    if parts.len() < 2 || parts.len() > 4 {
        return Err(SearchError::value(parameter, format!("{value:?}: expected `lat|lon|distance|units`")));
    }
    let coordinate = |text: &str, what: &str, limit: f64| {
        text.parse::<f64>().ok().filter(|v| v.is_finite() && v.abs() <= limit).ok_or_else(|| {
            SearchError::value(
                parameter,
                format!("{what} {text:?} is not a number in [-{limit}, {limit}] (WGS84 degrees, latitude first)"),
            )
        })
    };
    let lat = coordinate(parts[0], "latitude", 90.0)?;
    let lon = coordinate(parts[1], "longitude", 180.0)?;
    let distance_m = distance_m(parameter, parts.get(2).copied(), parts.get(3).copied())?;
    Ok(Near { lat, lon, distance_m })
}

/// A `near-insee-code` value: commune code, distance in metres.
pub(crate) fn parse_near_insee(parameter: &str, value: &str) -> Result<(String, f64), SearchError> {
    let parts = split_bar(value);
    if parts.is_empty() || parts.len() > 3 || parts[0].is_empty() {
        return Err(SearchError::value(parameter, format!("{value:?}: expected `<INSEE code>|distance|units`")));
    }
    Ok((parts[0].to_owned(), distance_m(parameter, parts.get(1).copied(), parts.get(2).copied())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commas_split_unless_escaped() {
        assert_eq!(split_or("a,b\\,c"), ["a", "b,c"]);
        assert_eq!(split_or(""), [""]);
    }

    #[test]
    fn tokens() {
        assert_eq!(parse_token("t", "01").unwrap(), Token { system: None, code: Some("01".into()) });
        assert_eq!(parse_token("t", "s|01").unwrap(), Token { system: Some("s".into()), code: Some("01".into()) });
        assert_eq!(parse_token("t", "|01").unwrap(), Token { system: Some(String::new()), code: Some("01".into()) });
        assert_eq!(parse_token("t", "s|").unwrap(), Token { system: Some("s".into()), code: None });
        assert!(parse_token("t", "").is_err());
        assert!(parse_token("t", "a|b|c").is_err());
    }

    #[test]
    fn numbers_have_an_implicit_precision() {
        let eq = parse_number("n", "100").unwrap();
        assert!(eq.matches(100.0) && eq.matches(99.5) && !eq.matches(100.5));
        let gt = parse_number("n", "gt0").unwrap();
        assert!(gt.matches(1.0) && !gt.matches(0.0));
        assert!(parse_number("n", "ne2").unwrap().matches(3.0));
        assert!(parse_number("n", "x1").is_err());
        assert!(parse_number("n", "1e3").is_err());
    }

    #[test]
    fn dates_are_ranges_by_precision() {
        let year = parse_date("d", "2022").unwrap();
        assert_eq!(year.end - year.start + 1, 365 * 86_400);
        let minute = parse_date("d", "ge2022-11-06T15:00").unwrap();
        assert_eq!(minute.prefix, Prefix::Ge);
        assert_eq!(minute.end - minute.start, 59);
        let second = parse_date("d", "2022-11-06T15:00:00+01:00").unwrap();
        assert_eq!(second.start, second.end);
        assert_eq!(second.start, minute.start - 3600);
        let month = parse_date("d", "2024-02").unwrap();
        assert_eq!(month.end - month.start + 1, 29 * 86_400);
        assert!(year.matches(year.start) && year.matches(year.end) && !year.matches(year.end + 1));
        assert!(parse_date("d", "lt2022-13").is_err());
    }

    #[test]
    fn ages_convert_to_years() {
        let test = parse_age_quantity("a", "le35|https://unitsofmeasure.org|a").unwrap();
        assert!(test.matches(35.0) && !test.matches(36.0));
        let months = parse_age_quantity("a", "ge18|http://unitsofmeasure.org|mo").unwrap();
        assert!(months.matches(1.5) && !months.matches(1.0));
        assert!(parse_age_quantity("a", "18|http://example.org|a").is_err());
        assert!(parse_age_quantity("a", "18|http://unitsofmeasure.org|cm").is_err());
    }

    #[test]
    fn near_is_latitude_first_in_km_by_default() {
        let near = parse_near("near", "47.218|-1.636|15|km").unwrap();
        assert_eq!((near.lat, near.lon, near.distance_m), (47.218, -1.636, 15_000.0));
        assert_eq!(parse_near("near", "47.2|-1.6|500|m").unwrap().distance_m, 500.0);
        assert_eq!(parse_near("near", "47.2|-1.6").unwrap().distance_m, DEFAULT_NEAR_KM * 1000.0);
        assert!(parse_near("near", "-83.69|42.25|11|km").is_ok(), "swapped but in range");
        assert!(parse_near("near", "95|2|1").is_err());
        assert!(parse_near("near", "45|2|1|parsec").is_err());
        assert_eq!(parse_near_insee("n", "44162|15|km").unwrap(), ("44162".to_owned(), 15_000.0));
    }

    #[test]
    fn references() {
        assert_eq!(parse_reference("r", "Location/1", "Location").unwrap().as_deref(), Some("1"));
        assert_eq!(parse_reference("r", "1", "Location").unwrap().as_deref(), Some("1"));
        assert_eq!(parse_reference("r", "http://x/fhir/Location/1", "Location").unwrap().as_deref(), Some("1"));
        assert_eq!(parse_reference("r", "Organization/1", "Location").unwrap(), None);
    }

    #[test]
    fn every_parameter_name_is_unique_per_type() {
        for (i, a) in PARAMS.iter().enumerate() {
            for b in &PARAMS[i + 1..] {
                assert!(!(a.resource == b.resource && a.name == b.name), "{} twice", a.name);
            }
        }
    }
}
