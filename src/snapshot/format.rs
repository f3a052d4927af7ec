//! The binary file format of a snapshot's data, the one place that knows the encoding.
//!
//! Layout of `data.bin` (all integers little-endian):
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `RORSNAP\0` |
//! | 4 | format version ([`FORMAT_VERSION`]) |
//! | 8 | payload length `n` |
//! | n | payload: [`SnapshotData`] encoded with postcard |
//! | 4 | CRC-32 (IEEE) of everything before |
//! | 8 | end magic `RORSEND\0` |
//!
//! postcard is compact, maintained and `serde`-based; nothing outside this module depends on it,
//! so the encoding can change with a version bump here.

use serde::{Deserialize, Serialize};

use crate::model::Dataset;

/// Current version of the snapshot format; bump on any change of [`SnapshotData`].
pub const FORMAT_VERSION: u32 = 1;
/// First bytes of `data.bin`.
pub const MAGIC: &[u8; 8] = b"RORSNAP\0";
/// Last bytes of `data.bin`.
pub const END_MAGIC: &[u8; 8] = b"RORSEND\0";

const HEADER_LEN: usize = 8 + 4 + 8;
const FOOTER_LEN: usize = 4 + 8;

/// A French commune: code, name and centroid, for centre-by-commune and type-ahead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Commune {
    /// INSEE COG code (`45234`, `2A004`, `75101`).
    pub code: compact_str::CompactString,
    pub name: String,
    /// `commune-actuelle`, `commune-deleguee`, `commune-associee`, `arrondissement-municipal`.
    pub kind: compact_str::CompactString,
    /// INSEE département code (`45`, `2A`, `974`).
    pub departement: compact_str::CompactString,
    pub population: Option<u32>,
    pub postal_codes: Vec<compact_str::CompactString>,
    /// Polygon centroid, WGS84 degrees.
    pub lat: f64,
    pub lon: f64,
}

/// What `data.bin` holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SnapshotData {
    pub dataset: Dataset,
    /// Communes with a centroid, sorted by code.
    pub communes: Vec<Commune>,
}

/// Why `data.bin` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("file is {0} bytes, too short to be a snapshot data file (truncated?)")]
    TooShort(usize),
    #[error("bad magic number (not a ror-search snapshot data file)")]
    BadMagic,
    #[error("format version {found} is not supported (this build reads version {supported})")]
    Version { found: u32, supported: u32 },
    #[error("payload length {declared} does not match the file size (truncated or altered)")]
    Length { declared: u64 },
    #[error(
        "CRC-32 mismatch: stored {stored:08x}, computed {computed:08x} (file altered or corrupted)"
    )]
    Checksum { stored: u32, computed: u32 },
    #[error("bad end marker (truncated or altered)")]
    BadEndMagic,
    #[error("payload does not decode: {0}")]
    Decode(String),
    #[error("payload does not encode: {0}")]
    Encode(String),
}

/// Encodes the data into the bytes of `data.bin`.
pub fn encode(data: &SnapshotData) -> Result<Vec<u8>, FormatError> {
    let payload =
        postcard::to_stdvec(data).map_err(|error| FormatError::Encode(error.to_string()))?;
    let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len() + FOOTER_LEN);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&payload);
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    bytes.extend_from_slice(END_MAGIC);
    Ok(bytes)
}

/// Checks magic, version, length and checksum, then decodes.
pub fn decode(bytes: &[u8]) -> Result<SnapshotData, FormatError> {
    if bytes.len() < HEADER_LEN + FOOTER_LEN {
        return Err(FormatError::TooShort(bytes.len()));
    }
    if &bytes[..8] != MAGIC {
        return Err(FormatError::BadMagic);
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version != FORMAT_VERSION {
        return Err(FormatError::Version {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let declared = u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes"));
    if declared != (bytes.len() - HEADER_LEN - FOOTER_LEN) as u64 {
        return Err(FormatError::Length { declared });
    }
    let body_end = bytes.len() - FOOTER_LEN;
    if &bytes[body_end + 4..] != END_MAGIC {
        return Err(FormatError::BadEndMagic);
    }
    let stored = u32::from_le_bytes(bytes[body_end..body_end + 4].try_into().expect("4 bytes"));
    let computed = crc32fast::hash(&bytes[..body_end]);
    if stored != computed {
        return Err(FormatError::Checksum { stored, computed });
    }
    postcard::from_bytes(&bytes[HEADER_LEN..body_end])
        .map_err(|error| FormatError::Decode(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Offer;

    fn sample() -> SnapshotData {
        let mut data = SnapshotData::default();
        data.dataset.offers.push(Offer {
            id: "1".into(),
            name: "Hébergement permanent".into(),
            ..Offer::default()
        });
        data
    }

    #[test]
    fn round_trip() {
        let bytes = encode(&sample()).unwrap();
        assert_eq!(decode(&bytes).unwrap(), sample());
    }

    #[test]
    fn every_single_byte_flip_is_refused() {
        let bytes = encode(&sample()).unwrap();
        for index in 0..bytes.len() {
            let mut altered = bytes.clone();
            altered[index] ^= 0x01;
            assert!(
                decode(&altered).is_err(),
                "flip at byte {index} was not detected"
            );
        }
        assert_eq!(
            decode(&bytes[..bytes.len() - 3]).unwrap_err(),
            FormatError::Length {
                declared: (bytes.len() - 32) as u64
            }
        );
    }
}
