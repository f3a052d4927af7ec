//! The binary file format of a snapshot's data, the one place that knows the encoding.
//!
//! Layout of `data.bin` (all integers little-endian):
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `RORSNAP\0` |
//! | 4 | format version ([`FORMAT_VERSION`]) |
//! | 8 | payload length `n` |
//! | n | payload: [`SnapshotData`] cut in chunks of 32,768 items, each encoded with postcard |
//! | 4 | CRC-32 (IEEE) of everything before |
//! | 8 | end magic `RORSEND\0` |
//!
//! postcard is compact, maintained and `serde`-based; nothing outside this module depends on it,
//! so the encoding can change with a version bump here.

use serde::{Deserialize, Serialize};

use crate::model::Dataset;
use crate::model::place::Commune;

/// Current version of the snapshot format; bump on any change of [`SnapshotData`].
pub const FORMAT_VERSION: u32 = 3;
/// First bytes of `data.bin`.
pub(crate) const MAGIC: &[u8; 8] = b"RORSNAP\0";
/// Last bytes of `data.bin`.
pub(crate) const END_MAGIC: &[u8; 8] = b"RORSEND\0";

const HEADER_LEN: usize = 8 + 4 + 8;
const FOOTER_LEN: usize = 4 + 8;

/// What `data.bin` holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SnapshotData {
    /// The linked dataset.
    pub dataset: Dataset,
    /// Communes with a centroid, sorted by code.
    pub communes: Vec<Commune>,
}

/// Why `data.bin` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// The file is shorter than a header and a footer (its size in bytes).
    #[error("file is {0} bytes, too short to be a snapshot data file (truncated?)")]
    TooShort(usize),
    /// The file does not start with the snapshot magic number.
    #[error("bad magic number (not a ror-search snapshot data file)")]
    BadMagic,
    /// The file is of another format version.
    #[error("format version {found} is not supported (this build reads version {supported})")]
    Version {
        /// The version the file declares.
        found: u32,
        /// The version this build reads ([`FORMAT_VERSION`]).
        supported: u32,
    },
    /// The declared payload length does not match the file size.
    #[error("payload length {declared} does not match the file size (truncated or altered)")]
    Length {
        /// The payload length the header declares, bytes.
        declared: u64,
    },
    /// The CRC-32 of the payload does not match the stored one.
    #[error("CRC-32 mismatch: stored {stored:08x}, computed {computed:08x} (file altered or corrupted)")]
    Checksum {
        /// The CRC-32 stored in the footer.
        stored: u32,
        /// The CRC-32 of the payload as read.
        computed: u32,
    },
    /// The file does not end with the end marker.
    #[error("bad end marker (truncated or altered)")]
    BadEndMagic,
    /// The payload does not decode (the decoder's message).
    #[error("payload does not decode: {0}")]
    Decode(String),
    /// The data does not encode (the encoder's message).
    #[error("payload does not encode: {0}")]
    Encode(String),
}

/// Encodes the data into the bytes of `data.bin`.
pub(crate) fn encode(data: &SnapshotData) -> Result<Vec<u8>, FormatError> {
    let sections = Sections {
        ejs: encode_chunks(&data.dataset.ejs)?,
        egs: encode_chunks(&data.dataset.egs)?,
        offers: encode_chunks(&data.dataset.offers)?,
        locations: encode_chunks(&data.dataset.locations)?,
        communes: encode_chunks(&data.communes)?,
    };
    let payload = postcard::to_stdvec(&sections).map_err(|error| FormatError::Encode(error.to_string()))?;
    Ok(frame(MAGIC, FORMAT_VERSION, &payload))
}

/// Wraps a payload: magic, version, length, payload, CRC-32, end magic.
pub(crate) fn frame(magic: &[u8; 8], version: u32, payload: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len() + FOOTER_LEN);
    bytes.extend_from_slice(magic);
    bytes.extend_from_slice(&version.to_le_bytes());
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(payload);
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    bytes.extend_from_slice(END_MAGIC);
    bytes
}

/// Checks the frame of [`frame`] and returns the payload.
pub(crate) fn unframe<'a>(magic: &[u8; 8], version: u32, bytes: &'a [u8]) -> Result<&'a [u8], FormatError> {
    if bytes.len() < HEADER_LEN + FOOTER_LEN {
        return Err(FormatError::TooShort(bytes.len()));
    }
    if &bytes[..8] != magic {
        return Err(FormatError::BadMagic);
    }
    let found = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if found != version {
        return Err(FormatError::Version { found, supported: version });
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
    Ok(&bytes[HEADER_LEN..body_end])
}

/// Encodes a value with postcard (the one encoding of the project's binary files).
pub(crate) fn to_bytes<T: Serialize>(value: &T) -> Result<Vec<u8>, FormatError> {
    postcard::to_stdvec(value).map_err(|error| FormatError::Encode(error.to_string()))
}

/// Decodes a value encoded by [`to_bytes`].
pub(crate) fn from_bytes<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, FormatError> {
    postcard::from_bytes(bytes).map_err(|error| FormatError::Decode(error.to_string()))
}

/// A value as the bytes of a framed file of its own (`engine.bin`, the text index's files):
/// [`to_bytes`] in a [`frame`].
pub(crate) fn to_framed<T: Serialize>(magic: &[u8; 8], version: u32, value: &T) -> Result<Vec<u8>, FormatError> {
    Ok(frame(magic, version, &to_bytes(value)?))
}

/// The value of a file of [`to_framed`], its frame checked.
pub(crate) fn from_framed<T: for<'de> Deserialize<'de>>(
    magic: &[u8; 8],
    version: u32,
    bytes: &[u8],
) -> Result<T, FormatError> {
    from_bytes(unframe(magic, version, bytes)?)
}

/// Checks magic, version, length and checksum, then decodes.
pub fn decode(bytes: &[u8]) -> Result<SnapshotData, FormatError> {
    let payload = unframe(MAGIC, FORMAT_VERSION, bytes)?;
    let sections: Sections = from_bytes(payload)?;
    let ((ejs, egs), (offers, (locations, communes))) = rayon::join(
        || (decode_chunks(&sections.ejs), decode_chunks(&sections.egs)),
        || {
            (
                decode_chunks(&sections.offers),
                rayon::join(|| decode_chunks(&sections.locations), || decode_chunks(&sections.communes)),
            )
        },
    );
    Ok(SnapshotData {
        dataset: Dataset { ejs: ejs?, egs: egs?, offers: offers?, locations: locations? },
        communes: communes?,
    })
}

/// The payload: each collection cut into chunks encoded separately, so that they decode in
/// parallel (loading a national snapshot is dominated by decoding).
#[derive(Serialize, Deserialize)]
struct Sections {
    ejs: Vec<Vec<u8>>,
    egs: Vec<Vec<u8>>,
    offers: Vec<Vec<u8>>,
    locations: Vec<Vec<u8>>,
    communes: Vec<Vec<u8>>,
}

/// Items per chunk.
const CHUNK_ITEMS: usize = 32_768;

fn encode_chunks<T: Serialize + Sync>(items: &[T]) -> Result<Vec<Vec<u8>>, FormatError> {
    use rayon::prelude::*;
    items
        .par_chunks(CHUNK_ITEMS)
        .map(|chunk| postcard::to_stdvec(chunk).map_err(|error| FormatError::Encode(error.to_string())))
        .collect()
}

fn decode_chunks<T: for<'de> Deserialize<'de> + Send>(chunks: &[Vec<u8>]) -> Result<Vec<T>, FormatError> {
    use rayon::prelude::*;
    let parts: Vec<Vec<T>> = chunks
        .par_iter()
        .map(|chunk| postcard::from_bytes::<Vec<T>>(chunk).map_err(|error| FormatError::Decode(error.to_string())))
        .collect::<Result<_, _>>()?;
    Ok(parts.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Offer;

    fn sample() -> SnapshotData {
        let mut data = SnapshotData::default();
        data.dataset.offers.push(Offer { id: "1".into(), name: "Hébergement permanent".into(), ..Offer::default() });
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
            assert!(decode(&altered).is_err(), "flip at byte {index} was not detected");
        }
        assert_eq!(
            decode(&bytes[..bytes.len() - 3]).unwrap_err(),
            FormatError::Length { declared: (bytes.len() - 32) as u64 }
        );
    }
}
