//! The communes table (INSEE code, name, postcodes, centroid), read from the CSV of
//! `shared/data/real/communes-france` or the compact copy shipped in `data-samples/`.

use std::io::Read;
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::IngestError;
use crate::model::place::Commune;

/// Columns read (the real file has more; the shipped copy has exactly these).
pub(crate) const COLUMNS: [&str; 8] =
    ["code_insee", "nom", "type", "departement", "population", "codes_postaux", "lat", "lon"];

/// Reads a communes CSV (plain or gzipped). Rows without a centroid are skipped (they cannot be
/// a search centre); the result is sorted by code, then by kind so that the current commune
/// comes before a délégué commune sharing its code.
pub fn read_communes(path: &Path) -> Result<Vec<Commune>, IngestError> {
    let io_error = |source| IngestError::Io { path: path.to_owned(), source };
    let mut bytes = Vec::new();
    std::fs::File::open(path).and_then(|mut file| file.read_to_end(&mut bytes)).map_err(io_error)?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut decoded = Vec::new();
        MultiGzDecoder::new(&bytes[..]).read_to_end(&mut decoded).map_err(io_error)?;
        bytes = decoded;
    }
    parse_communes(&bytes).map_err(|source| IngestError::Communes { path: path.to_owned(), source })
}

/// Why a communes CSV was refused.
#[derive(Debug, thiserror::Error)]
pub enum CommunesError {
    /// The header line could not be read.
    #[error("bad CSV header: {0}")]
    Header(csv::Error),
    /// A column the engine reads is not in the header.
    #[error("missing column {0}")]
    MissingColumn(&'static str),
    /// A row could not be read.
    #[error("row {row}: {source}")]
    Row {
        /// The 1-based line of the file (the header is line 1).
        row: usize,
        /// The CSV error.
        source: csv::Error,
    },
    /// A row's centroid is not a WGS84 position.
    #[error("row {row}: centroid {lat}, {lon} is not a WGS84 position")]
    Centroid {
        /// The 1-based line of the file (the header is line 1).
        row: usize,
        /// Latitude read, degrees.
        lat: f64,
        /// Longitude read, degrees.
        lon: f64,
    },
}

/// Parses the CSV text of a communes table.
pub(crate) fn parse_communes(bytes: &[u8]) -> Result<Vec<Commune>, CommunesError> {
    let mut reader = csv::Reader::from_reader(bytes);
    let headers = reader.headers().map_err(CommunesError::Header)?.clone();
    let column =
        |name: &'static str| headers.iter().position(|header| header == name).ok_or(CommunesError::MissingColumn(name));
    let indexes: Vec<usize> = COLUMNS.iter().map(|name| column(name)).collect::<Result<_, _>>()?;
    let mut communes = Vec::new();
    for (row, record) in reader.records().enumerate() {
        let record = record.map_err(|source| CommunesError::Row { row: row + 2, source })?;
        let field = |index: usize| record.get(indexes[index]).unwrap_or_default().trim();
        let (Ok(lat), Ok(lon)) = (field(6).parse::<f64>(), field(7).parse::<f64>()) else {
            continue;
        };
        if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
            return Err(CommunesError::Centroid { row: row + 2, lat, lon });
        }
        communes.push(Commune {
            code: field(0).into(),
            name: field(1).to_owned(),
            kind: field(2).into(),
            departement: field(3).into(),
            population: field(4).parse().ok(),
            postal_codes: field(5).split('|').filter(|code| !code.is_empty()).map(Into::into).collect(),
            lat,
            lon,
        });
    }
    communes.sort_by(|a, b| a.code.cmp(&b.code).then_with(|| kind_rank(&a.kind).cmp(&kind_rank(&b.kind))));
    Ok(communes)
}

fn kind_rank(kind: &str) -> u8 {
    match kind {
        "commune-actuelle" => 0,
        "arrondissement-municipal" => 1,
        "commune-deleguee" => 2,
        _ => 3,
    }
}

/// Writes communes in the shipped compact CSV format (the [`COLUMNS`]).
pub(crate) fn write_communes(communes: &[Commune], out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(COLUMNS)?;
    for commune in communes {
        let postal_codes = commune.postal_codes.iter().map(|code| code.as_str()).collect::<Vec<_>>().join("|");
        writer.write_record([
            commune.code.as_str(),
            &commune.name,
            &commune.kind,
            &commune.departement,
            &commune.population.map(|population| population.to_string()).unwrap_or_default(),
            &postal_codes,
            &format!("{:.6}", commune.lat),
            &format!("{:.6}", commune.lon),
        ])?;
    }
    writer.flush()
}
