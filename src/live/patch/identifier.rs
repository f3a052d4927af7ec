//! The conditional `identifier=<IdNatStruct EG>/<idExterneSynchro>` parameter.

#[allow(unused_imports)]
use super::*;

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
/// ```text
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
