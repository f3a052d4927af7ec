//! The exports of a report selection: CSV as ARS spreadsheet tools expect it (UTF-8 with a byte
//! order mark, `;` separators, French column names) and NDJSON (one finding per line).

use std::io::{self, Write};

use super::{FindingView, Selection};

/// The CSV columns, in order.
pub const CSV_COLUMNS: [&str; 15] = [
    "règle",
    "libellé de la règle",
    "gravité",
    "type d'enregistrement",
    "identifiant",
    "FINESS",
    "nom de l'EG",
    "nom",
    "région",
    "département",
    "catégorie",
    "libellé de la catégorie",
    "valeurs en cause",
    "dernière mise à jour",
    "type d'enregistrement (code)",
];

fn row<'a>(view: &'a FindingView<'a>) -> [&'a str; 15] {
    let severity = view.severity.label_fr();
    [
        view.rule,
        view.label,
        severity,
        view.record_type.label_fr(),
        view.record_id,
        view.finess.unwrap_or(""),
        view.eg_name.unwrap_or(""),
        view.name.unwrap_or(""),
        view.region.unwrap_or(""),
        view.departement.unwrap_or(""),
        view.category.unwrap_or(""),
        view.category_label.unwrap_or(""),
        view.values,
        view.updated_at.as_deref().unwrap_or(""),
        view.record_type.as_str(),
    ]
}

/// Writes every finding of `selection` as CSV.
pub fn write_csv(selection: &Selection<'_>, out: &mut dyn Write) -> io::Result<()> {
    out.write_all("\u{feff}".as_bytes())?;
    let mut writer = csv::WriterBuilder::new().delimiter(b';').terminator(csv::Terminator::CRLF).from_writer(out);
    writer.write_record(CSV_COLUMNS)?;
    for view in selection.views() {
        writer.write_record(row(&view))?;
    }
    writer.flush()
}

/// Writes every finding of `selection` as NDJSON.
pub fn write_ndjson(selection: &Selection<'_>, out: &mut dyn Write) -> io::Result<()> {
    for view in selection.views() {
        serde_json::to_writer(&mut *out, &view)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}
