//! `$export` (FHIR Bulk Data): one snapshot and one instant of its live capacities written as
//! NDJSON files, one per resource type, masked by the caller's access profile.
//!
//! The writer is synchronous and streams: one resource is rendered and written at a time, so
//! memory does not grow with the export. `http::fhir` runs it on a thread of its own and
//! serves the kick-off, the status and the files.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::render::{self, Res};
use super::search::{self, Context};
use super::{Facade, SearchError, SearchRequest};
use crate::engine::access::Access;
use crate::ingest::fhir::write::ResourceType;
use crate::model::access::ProfileSet;
use crate::util::hashing::HashingWriter;

/// What to export.
#[derive(Debug, Clone)]
pub(crate) struct ExportRequest {
    /// The types, in the order of the files.
    pub(crate) types: Vec<ResourceType>,
    /// Only resources changed after this instant (`_since`, Unix seconds).
    pub(crate) since: Option<i64>,
    /// `_typeFilter`: per type, searches whose matches (any of them) are exported.
    pub(crate) type_filters: Vec<SearchRequest>,
}

impl ExportRequest {
    /// Reads the kick-off parameters: `_type`, `_since`, `_outputFormat`, `_typeFilter`
    /// (`includeAssociatedData=_myCompleteExtract` adds the Organizations and Locations, as the
    /// ROR does; `_elements` and the ROR's other parameters are accepted and ignored).
    pub(crate) fn parse(
        facade: &Facade<'_>,
        pairs: &[(String, String)],
        profiles: ProfileSet,
    ) -> Result<ExportRequest, SearchError> {
        let mut types = Vec::new();
        let mut since = None;
        let mut type_filters = Vec::new();
        let mut complete = false;
        for (name, value) in pairs {
            match name.as_str() {
                "_type" => {
                    for name in value.split(',').map(str::trim).filter(|name| !name.is_empty()) {
                        let resource_type = super::resource_type(name).ok_or_else(|| {
                            SearchError::not_supported(
                                "_type",
                                format!("{name:?}: this server exports HealthcareService, Location and Organization"),
                            )
                        })?;
                        if !types.contains(&resource_type) {
                            types.push(resource_type);
                        }
                    }
                }
                "_since" => {
                    let at = crate::util::time::parse_fhir_datetime(value).map_err(|error| {
                        SearchError::value("_since", format!("{value:?} is not a FHIR instant: {}", error.reason))
                    })?;
                    since = Some(at);
                }
                "_outputFormat" => match value.as_str() {
                    "application/fhir+ndjson" | "application/ndjson" | "ndjson" => {}
                    other => {
                        return Err(SearchError::not_supported(
                            "_outputFormat",
                            format!("{other:?}: this server writes application/fhir+ndjson"),
                        ));
                    }
                },
                "_typeFilter" => {
                    for filter in super::params::split_or(value) {
                        let (type_name, query) = filter.split_once('?').unwrap_or((filter.as_str(), ""));
                        let resource_type = super::resource_type(type_name).ok_or_else(|| {
                            SearchError::value("_typeFilter", format!("{type_name:?} is not an exported type"))
                        })?;
                        let filter_pairs = crate::api::decode_query(query)
                            .map_err(|error| SearchError::value("_typeFilter", error.message))?;
                        type_filters.push(SearchRequest::parse(
                            facade.engine,
                            resource_type,
                            &filter_pairs,
                            super::Handling::Strict,
                            profiles,
                        )?);
                    }
                }
                // The ROR's `_myCompleteExtract`: the Organizations and Locations come with the
                // offers (as the national ROR always does).
                "includeAssociatedData" => {
                    complete |= value.split(',').any(|item| item.trim() == "_myCompleteExtract");
                }
                "_elements" | "patient" | "organizeOutputBy" | "allowPartialManifests" => {}
                other => {
                    return Err(SearchError::not_supported(other, format!("$export has no parameter {other:?}")));
                }
            }
        }
        if types.is_empty() || complete {
            // Every type, in the order a feed is read (the parents first).
            types = vec![ResourceType::Organization, ResourceType::Location, ResourceType::HealthcareService];
        }
        Ok(ExportRequest { types, since, type_filters })
    }
}

/// One output file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFile {
    /// `HealthcareService`, `Location`, `Organization`.
    pub resource_type: &'static str,
    /// The file name in the job directory.
    pub name: String,
    /// Resources (lines) written.
    pub count: u64,
    /// Bytes written.
    pub bytes: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The job was cancelled (`DELETE` of its status URL).
    #[error("export cancelled")]
    Cancelled,
    /// A file could not be written.
    #[error("writing {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Writes the export into `dir` (created), one `<Type>.ndjson` per type; `progress` counts
/// the resources written, `cancel` stops it between two resources.
pub(crate) fn write_export(
    facade: &Facade<'_>,
    request: &ExportRequest,
    profiles: ProfileSet,
    dir: &Path,
    cancel: &AtomicBool,
    progress: &AtomicU64,
) -> Result<Vec<ExportFile>, ExportError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ExportError::Io { path: path.clone(), source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let live = facade.engine.live_view();
    let ctx = Context::new(facade.engine, &live, facade.index, Access::new(profiles));
    let mut files = Vec::new();
    for &resource_type in &request.types {
        let name = format!("{}.ndjson", resource_type.name());
        let path = dir.join(&name);
        let file = std::fs::File::create(&path).map_err(io(&path))?;
        let mut out = HashingWriter::new(std::io::BufWriter::with_capacity(1 << 20, file));
        let mut count = 0u64;
        let filters: Vec<&SearchRequest> =
            request.type_filters.iter().filter(|filter| filter.resource == resource_type).collect();
        let mut write = |res: Res| -> Result<(), ExportError> {
            if cancel.load(Ordering::Relaxed) {
                return Err(ExportError::Cancelled);
            }
            if !render::sees(&ctx, res) {
                return Ok(());
            }
            if let Some(since) = request.since
                && res.last_updated(&ctx).is_none_or(|at| at <= since)
            {
                return Ok(());
            }
            serde_json::to_writer(&mut out, &render::resource(&ctx, res))
                .map_err(|error| ExportError::Io { path: path.clone(), source: std::io::Error::other(error) })?;
            out.write_all(b"\n").map_err(io(&path))?;
            count += 1;
            progress.fetch_add(1, Ordering::Relaxed);
            Ok(())
        };
        if filters.is_empty() {
            for res in ctx.all_in_id_order(resource_type) {
                write(res)?;
            }
        } else {
            // The union of the filters' matches, in logical-id order.
            let mut indexes: Vec<u32> = filters
                .iter()
                .flat_map(|filter| search::evaluate(&ctx, resource_type, filter.criteria()))
                .map(|hit| hit.index)
                .collect();
            indexes.sort_unstable_by_key(|&index| ctx.id_rank(resource_type, index));
            indexes.dedup();
            for index in indexes {
                write(Res::of_hit(&ctx, resource_type, index))?;
            }
        }
        out.flush().map_err(io(&path))?;
        let (inner, bytes, sha256) = out.finish();
        inner
            .into_inner()
            .map_err(|error| ExportError::Io { path: path.clone(), source: error.into_error() })?
            .sync_all()
            .map_err(io(&path))?;
        files.push(ExportFile { resource_type: resource_type.name(), name, count, bytes, sha256 });
    }
    Ok(files)
}
