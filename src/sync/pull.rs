//! Reading the upstream: the full pull (`$export` with status polling and resumable file
//! downloads, or the paged searches when the server has no `$export`), and the walk of a
//! paged search (`next` links), used by the full pull and by the deltas.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use super::client::{Upstream, UpstreamError};
use super::config::{FullPullMode, SyncConfig};
use crate::util::time::{UnixSeconds, now, parse_fhir_datetime};

/// The resource types the engine reads.
pub(crate) const TYPES: [&str; 3] = ["Organization", "Location", "HealthcareService"];

/// The INSEE codes of the regions the ROR tags resources with (`TRE_R30-RegionOM`), to split
/// a paged pull that the ROR's cap of 10,000 results would truncate.
const REGIONS: [&str; 18] =
    ["01", "02", "03", "04", "06", "11", "24", "27", "28", "32", "44", "52", "53", "75", "76", "84", "93", "94"];
const REGION_SYSTEM: &str = "https://mos.esante.gouv.fr/NOS/TRE_R30-RegionOM/FHIR/TRE-R30-RegionOM";

/// Why a pull failed (nothing of it is applied).
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The upstream failed.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// A search returned fewer matches than its `total` (the ROR's cap of 10,000 results).
    #[error("{url}: {returned} of {total} matches returned (the server's cap on results)")]
    Truncated {
        /// The search.
        url: String,
        /// The matches the server counts.
        total: u64,
        /// The matches it returned.
        returned: u64,
    },
    /// The upstream answered something that is not what the API says.
    #[error("{url}: {reason}")]
    Protocol {
        /// The URL.
        url: String,
        /// What was wrong.
        reason: String,
    },
}

/// A local file that could not be written (the client's own error for it).
fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> PullError + '_ {
    move |source| PullError::Upstream(UpstreamError::Io { path: path.display().to_string(), source })
}

/// One file of a full pull.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PulledFile {
    /// The resource type the server said the file holds (`$export`), or the type searched.
    pub resource_type: String,
    /// Where it came from.
    pub url: String,
    /// Where it is.
    pub path: PathBuf,
    /// Bytes.
    pub bytes: u64,
    /// SHA-256, hex.
    pub sha256: String,
    /// Downloads resumed after a broken connection.
    pub resumed: u32,
    /// Downloads started again (a file cut short).
    pub restarted: u32,
}

/// What a full pull fetched.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FullPull {
    /// `export` or `paged`.
    pub method: &'static str,
    /// The server's time of the content (the export's `transactionTime`, or the `Date` of the
    /// first page): the next delta asks for changes from there.
    pub transaction_time: UnixSeconds,
    /// The files, in order.
    pub files: Vec<PulledFile>,
    /// Error files of the export (OperationOutcomes), kept beside the data.
    pub error_files: Vec<PulledFile>,
    /// Seconds it took.
    pub seconds: f64,
}

/// The server's clock of a response (`Date`), else ours.
fn server_time(headers_date: Option<&str>) -> UnixSeconds {
    headers_date.and_then(crate::util::time::parse_http_date).unwrap_or_else(now)
}

/// Pulls the whole offer into `staging` (created empty), by `$export` unless the
/// configuration says paged or the server has no `$export`.
pub(crate) fn full_pull(upstream: &Upstream, config: &SyncConfig, staging: &Path) -> Result<FullPull, PullError> {
    if staging.exists() {
        std::fs::remove_dir_all(staging).map_err(io_error(staging))?;
    }
    std::fs::create_dir_all(staging).map_err(io_error(staging))?;
    let started = Instant::now();
    let mut pull = match config.full_pull {
        FullPullMode::Paged => paged_pull(upstream, config, staging)?,
        FullPullMode::Export => match export_pull(upstream, config, staging) {
            Err(PullError::Upstream(UpstreamError::Status { status: 404 | 405 | 501, url, body, .. })) => {
                tracing::warn!(%url, status = %body, "the upstream has no $export: pulling by paged searches");
                paged_pull(upstream, config, staging)?
            }
            other => other?,
        },
    };
    pull.seconds = started.elapsed().as_secs_f64();
    Ok(pull)
}

fn export_pull(upstream: &Upstream, config: &SyncConfig, staging: &Path) -> Result<FullPull, PullError> {
    let mut kick_off = format!("$export?_type={}", config.export_types);
    if !config.export_parameters.is_empty() {
        kick_off.push('&');
        kick_off.push_str(&config.export_parameters);
    }
    let accepted =
        upstream
            .get_checked(&kick_off, "application/fhir+json", &[("prefer", "respond-async".to_owned())], &|_| Ok(()))?;
    let kick_off_url = upstream.url(&kick_off);
    let (manifest, manifest_url) = if accepted.status == 200 && !accepted.body.is_empty() {
        // A server that answers at once with the manifest.
        (parse_json(&kick_off_url, &accepted.body)?, None)
    } else {
        let status_url = accepted.header("content-location").map(str::to_owned).ok_or_else(|| PullError::Protocol {
            url: kick_off_url.clone(),
            reason: format!("HTTP {} without Content-Location", accepted.status),
        })?;
        tracing::info!(%status_url, "export started");
        (poll(upstream, &status_url, Duration::from_secs(config.export_timeout_secs.max(1)))?, Some(status_url))
    };
    let manifest_source = manifest_url.clone().unwrap_or(kick_off_url);
    let transaction_time = manifest["transactionTime"]
        .as_str()
        .and_then(|text| parse_fhir_datetime(text).ok())
        .ok_or_else(|| PullError::Protocol {
            url: manifest_source.clone(),
            reason: "no transactionTime in the export manifest".into(),
        })?;
    let requires_token = manifest["requiresAccessToken"].as_bool().unwrap_or(true);
    let outputs = manifest["output"].as_array().ok_or_else(|| PullError::Protocol {
        url: manifest_source.clone(),
        reason: "no output array in the export manifest".into(),
    })?;
    let mut files = Vec::with_capacity(outputs.len());
    for (index, output) in outputs.iter().enumerate() {
        let resource_type = output["type"].as_str().unwrap_or("unknown").to_owned();
        let url = output["url"].as_str().ok_or_else(|| PullError::Protocol {
            url: manifest_source.clone(),
            reason: format!("output[{index}] has no url"),
        })?;
        files.push(download(
            upstream,
            url,
            staging,
            &format!("{index:05}-{resource_type}"),
            &resource_type,
            requires_token,
        )?);
        tracing::info!(file = index + 1, of = outputs.len(), %resource_type, bytes = files[index].bytes, "export file downloaded");
    }
    let mut error_files = Vec::new();
    if let Some(errors) = manifest["error"].as_array() {
        let errors_dir = staging.join("errors");
        for (index, output) in errors.iter().enumerate() {
            let Some(url) = output["url"].as_str() else { continue };
            std::fs::create_dir_all(&errors_dir).map_err(io_error(&errors_dir))?;
            let file = download(
                upstream,
                url,
                &errors_dir,
                &format!("{index:05}-OperationOutcome"),
                "OperationOutcome",
                requires_token,
            )?;
            tracing::warn!(url, path = %file.path.display(), "the export reported errors");
            error_files.push(file);
        }
    }
    if let Some(status_url) = manifest_url
        && let Err(error) = upstream.delete(&status_url)
    {
        tracing::debug!(%error, "export job not deleted");
    }
    Ok(FullPull { method: "export", transaction_time, files, error_files, seconds: 0.0 })
}

/// Polls an export's status URL until its manifest is ready (honouring `Retry-After`), for at
/// most `deadline` (then the job is cancelled and the pull fails).
fn poll(upstream: &Upstream, status_url: &str, deadline: Duration) -> Result<Value, PullError> {
    let started = Instant::now();
    loop {
        if started.elapsed() > deadline {
            let _ = upstream.delete(status_url);
            return Err(PullError::Protocol {
                url: status_url.to_owned(),
                reason: format!(
                    "the export was still in progress after {} s (export_timeout_secs)",
                    deadline.as_secs()
                ),
            });
        }
        let answer = upstream.get_checked(status_url, "application/json", &[], &|fetched| {
            if fetched.status == 200 {
                serde_json::from_slice::<serde::de::IgnoredAny>(&fetched.body)
                    .map(|_| ())
                    .map_err(|error| format!("export manifest cut short: {error}"))
            } else {
                Ok(())
            }
        })?;
        if answer.status == 200 {
            return parse_json(status_url, &answer.body);
        }
        let wait = answer
            .header("retry-after")
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map_or(Duration::from_secs(5), Duration::from_secs)
            .min(Duration::from_secs(300));
        tracing::info!(
            progress = answer.header("x-progress").unwrap_or("-"),
            waited_secs = started.elapsed().as_secs(),
            next_poll_secs = wait.as_secs(),
            "export in progress"
        );
        std::thread::sleep(wait);
    }
}

fn parse_json(url: &str, body: &[u8]) -> Result<Value, PullError> {
    serde_json::from_slice(body)
        .map_err(|error| PullError::Protocol { url: url.to_owned(), reason: format!("not JSON: {error}") })
}

/// Downloads one file into `dir` as `<stem>.ndjson` or `<stem>.json` (by its content).
fn download(
    upstream: &Upstream,
    url: &str,
    dir: &Path,
    stem: &str,
    resource_type: &str,
    with_token: bool,
) -> Result<PulledFile, PullError> {
    let part = dir.join(format!("{stem}.part"));
    let downloaded = upstream.download(url, &part, with_token)?;
    let path = dir.join(format!("{stem}.{}", if downloaded.ndjson { "ndjson" } else { "json" }));
    std::fs::rename(&part, &path).map_err(io_error(&path))?;
    Ok(PulledFile {
        resource_type: resource_type.to_owned(),
        url: upstream.url(url),
        path,
        bytes: downloaded.bytes,
        sha256: downloaded.sha256,
        resumed: downloaded.resumed,
        restarted: downloaded.restarted,
    })
}

/// One page of a search, with the server's time of it.
pub(crate) struct Page {
    pub(crate) entries: Vec<Value>,
    pub(crate) total: Option<u64>,
    pub(crate) next: Option<String>,
    pub(crate) server_time: UnixSeconds,
}

/// Fetches one search page (a `searchset` Bundle).
pub(crate) fn page(upstream: &Upstream, url: &str) -> Result<Page, PullError> {
    let (fetched, mut bundle) = upstream.get_json(url)?;
    if bundle["resourceType"] != "Bundle" {
        return Err(PullError::Protocol {
            url: upstream.url(url),
            reason: format!("expected a Bundle, got {}", bundle["resourceType"]),
        });
    }
    let next = bundle["link"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|link| link["relation"] == "next")
        .and_then(|link| link["url"].as_str())
        .map(str::to_owned);
    let entries = match bundle["entry"].take() {
        Value::Array(entries) => entries
            .into_iter()
            .filter_map(|mut entry| Some(entry["resource"].take()).filter(Value::is_object))
            .collect(),
        _ => Vec::new(),
    };
    Ok(Page { entries, total: bundle["total"].as_u64(), next, server_time: server_time(fetched.header("date")) })
}

/// Walks a search from its first URL through every `next` link, handing each page's
/// resources to `each`. Returns the server time of the first page and the matches the server
/// said it had (`total`).
pub(crate) fn walk(
    upstream: &Upstream,
    first: &str,
    each: &mut dyn FnMut(Vec<Value>) -> Result<(), PullError>,
) -> Result<(UnixSeconds, Option<u64>), PullError> {
    let mut url = first.to_owned();
    let mut first_time = None;
    let mut total = None;
    let mut seen = std::collections::HashSet::new();
    loop {
        if !seen.insert(url.clone()) {
            return Err(PullError::Protocol { url, reason: "the next links loop".into() });
        }
        let page = page(upstream, &url)?;
        first_time.get_or_insert(page.server_time);
        if total.is_none() {
            total = page.total;
        }
        each(page.entries)?;
        match page.next {
            Some(next) => url = next,
            None => return Ok((first_time.unwrap_or_else(now), total)),
        }
    }
}

/// The paged full pull: every resource of each type, one NDJSON file per type (split by
/// region when the server's cap on results would cut a type short).
fn paged_pull(upstream: &Upstream, config: &SyncConfig, staging: &Path) -> Result<FullPull, PullError> {
    let mut files = Vec::new();
    let mut transaction_time = None;
    for resource_type in TYPES {
        let first = format!("{resource_type}?_count={}", config.page_size);
        let probe = page(upstream, &format!("{resource_type}?_count=1"))?;
        transaction_time.get_or_insert(probe.server_time);
        let total = probe.total.unwrap_or(0);
        let searches: Vec<String> = if total > SEARCH_CAP {
            tracing::info!(resource_type, total, "more than the server's cap of results: pulling region by region");
            REGIONS.iter().map(|region| format!("{first}&_tag={REGION_SYSTEM}%7C{region}")).collect()
        } else {
            vec![first]
        };
        let path = staging.join(format!("paged-{resource_type}.ndjson"));
        let mut out = crate::util::hashing::HashingWriter::new(std::io::BufWriter::new(
            std::fs::File::create(&path).map_err(io_error(&path))?,
        ));
        let mut written = 0u64;
        for search in &searches {
            let (_, search_total) = walk(upstream, search, &mut |resources| {
                for resource in resources.iter().filter(|resource| resource["resourceType"] == resource_type) {
                    serde_json::to_writer(&mut out, resource).map_err(|error| io_error(&path)(error.into()))?;
                    out.write_all(b"\n").map_err(io_error(&path))?;
                    written += 1;
                }
                Ok(())
            })?;
            if search_total.is_some_and(|search_total| search_total > SEARCH_CAP) {
                return Err(PullError::Protocol {
                    url: upstream.url(search),
                    reason: format!(
                        "{} matches, more than the server returns ({SEARCH_CAP}): use $export",
                        search_total.unwrap_or(0)
                    ),
                });
            }
        }
        if written < total {
            tracing::warn!(
                resource_type,
                total,
                written,
                "the paged pull found fewer resources than the server counts (untagged resources?)"
            );
        }
        let (out, bytes, sha256) = out.finish();
        let file = out.into_inner().map_err(|error| io_error(&path)(error.into_error()))?;
        file.sync_all().map_err(io_error(&path))?;
        files.push(PulledFile {
            resource_type: resource_type.to_owned(),
            url: upstream.url(&format!("{resource_type}?_count={}", config.page_size)),
            path,
            bytes,
            sha256,
            resumed: 0,
            restarted: 0,
        });
    }
    Ok(FullPull {
        method: "paged",
        transaction_time: transaction_time.unwrap_or_else(now),
        files,
        error_files: Vec::new(),
        seconds: 0.0,
    })
}

/// Results the ROR returns at most for one search.
const SEARCH_CAP: u64 = 10_000;
