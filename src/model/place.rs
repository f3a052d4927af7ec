//! Places and the identifiers of the French registries: [`Commune`] (an INSEE commune with its
//! centroid), `InseeCode` (INSEE COG commune code) and `Finess` (FINESS number), with the
//! validators ingest and the engine share.
//!
//! Model fields keep these identifiers as plain [`Code`]s (that is what snapshots store); the
//! newtypes are how a text is checked and named at the edges.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Code;

/// A French commune: code, name and centroid, for centre-by-commune and type-ahead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Commune {
    /// INSEE COG code (`45234`, `2A004`, `75101`).
    pub code: Code,
    /// Name of the commune, as INSEE writes it.
    pub name: String,
    /// `commune-actuelle`, `commune-deleguee`, `commune-associee`, `arrondissement-municipal`.
    pub kind: Code,
    /// INSEE département code (`45`, `2A`, `974`).
    pub departement: Code,
    /// Population (inhabitants), when known.
    pub population: Option<u32>,
    /// Postal codes of the commune.
    pub postal_codes: Vec<Code>,
    /// Latitude of the polygon centroid, WGS84 degrees.
    pub lat: f64,
    /// Longitude of the polygon centroid, WGS84 degrees.
    pub lon: f64,
}

/// An INSEE commune code: 5 characters, digits, or `2A`/`2B` followed by 3 digits.
pub(crate) fn is_insee_commune(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 5
        && (bytes.iter().all(u8::is_ascii_digit)
            || (bytes[0] == b'2'
                && (bytes[1] == b'A' || bytes[1] == b'B')
                && bytes[2..].iter().all(u8::is_ascii_digit)))
}

/// A FINESS number: 9 characters, digits or `A`/`B` (Corsica).
pub(crate) fn is_finess(text: &str) -> bool {
    text.len() == 9 && text.bytes().all(|byte| byte.is_ascii_digit() || byte == b'A' || byte == b'B')
}

/// A valid INSEE COG commune code ([`is_insee_commune`]), e.g. `45234` or `2A004`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct InseeCode(Code);

impl InseeCode {
    /// The code, when `text` is one (kept as written: no trimming, no case change).
    pub(crate) fn parse(text: &str) -> Option<InseeCode> {
        is_insee_commune(text).then(|| InseeCode(Code::from(text)))
    }

    /// The code as stored in the model.
    pub(crate) fn into_code(self) -> Code {
        self.0
    }
}

impl fmt::Display for InseeCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// A valid FINESS number ([`is_finess`]), EJ or ET, e.g. `450000088` or `2A0000123`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Finess(Code);

impl Finess {
    /// The number, when `text` is one (kept as written).
    pub(crate) fn parse(text: &str) -> Option<Finess> {
        is_finess(text).then(|| Finess(Code::from(text)))
    }

    /// The number as stored in the model.
    pub(crate) fn into_code(self) -> Code {
        self.0
    }

    /// The number, as text.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Finess {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insee_codes() {
        for good in ["45234", "2A004", "2B033", "97411", "75101"] {
            assert!(is_insee_commune(good), "{good}");
            assert_eq!(InseeCode::parse(good).map(|code| code.to_string()).as_deref(), Some(good));
        }
        for bad in ["", "4523", "452345", "2C004", "3A004", "2a004", " 4523", "45 34"] {
            assert!(!is_insee_commune(bad), "{bad:?}");
            assert_eq!(InseeCode::parse(bad), None);
        }
    }

    #[test]
    fn finess_numbers() {
        for good in ["450000088", "2A0000123", "2B0000123"] {
            assert!(is_finess(good), "{good}");
            assert_eq!(Finess::parse(good).map(Finess::into_code).as_deref(), Some(good));
        }
        for bad in ["", "45000008", "4500000880", "45000008C", "45000008a"] {
            assert!(!is_finess(bad), "{bad:?}");
            assert_eq!(Finess::parse(bad), None);
        }
    }
}
