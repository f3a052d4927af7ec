//! The `ror-search` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use std::io::Write as _;

use clap::{Parser, Subcommand};

use crate::ingest::opendata::{DEFAULT_SEED, FEED_DATE};
use crate::snapshot::build::{BuildOptions, build_snapshot};
use crate::util::time::{format_rfc3339, now, parse_fhir_datetime};

/// Offer search engine for the French ROR (health and medico-social offers).
#[derive(Debug, Parser)]
#[command(name = "ror-search", version, about, long_about = None)]
pub struct Cli {
    /// Log as JSON lines (one object per event) instead of human-readable text.
    #[arg(long, global = true, env = "ROR_SEARCH_LOG_JSON")]
    pub log_json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build a snapshot from a ROR FHIR feed (bundles, NDJSON, arrays, gzip, directories).
    Build(BuildArgs),
    /// Show a snapshot's manifest: counts, sources, ingest accounting, data quality.
    Inspect(InspectArgs),
    /// Generate the sample feed in data-samples/ from the real public files.
    ImportOpendata(ImportArgs),
    /// Generate a synthetic national-scale feed (for benchmarks and load tests).
    GenerateSynthetic(SyntheticArgs),
    /// Search a snapshot and print the JSON result (the parameters of the HTTP API).
    Search(Box<SearchArgs>),
    /// Serve the HTTP API; builds a snapshot from data-samples/ first when the index has none.
    Serve(Box<ServeArgs>),
}

/// `serve` options. Each can also come from the environment (`ROR_SEARCH_<NAME>`) or from the
/// TOML file given with `--config` (keys as below, with underscores); flags win, then the
/// environment, then the file, then the defaults.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Index directory holding snapshot directories (or one snapshot directory) [default: index].
    #[arg(long, env = "ROR_SEARCH_INDEX")]
    pub index: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "ROR_SEARCH_ADDR")]
    pub addr: Option<std::net::SocketAddr>,
    /// TOML configuration file.
    #[arg(long, env = "ROR_SEARCH_CONFIG")]
    pub config: Option<PathBuf>,
    /// Feed to build the first snapshot from when the index has none [default: data-samples/ror-feed].
    #[arg(long, env = "ROR_SEARCH_BOOTSTRAP_FEED")]
    pub bootstrap_feed: Option<PathBuf>,
    /// Communes table for that build [default: data-samples/communes.csv.gz].
    #[arg(long, env = "ROR_SEARCH_BOOTSTRAP_COMMUNES")]
    pub bootstrap_communes: Option<PathBuf>,
    /// Largest request body, bytes [default: 65536].
    #[arg(long, env = "ROR_SEARCH_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Per-request timeout, milliseconds [default: 2000].
    #[arg(long, env = "ROR_SEARCH_REQUEST_TIMEOUT_MS")]
    pub request_timeout_ms: Option<u64>,
    /// Requests processed at once; more are refused with 429 [default: 1024].
    #[arg(long, env = "ROR_SEARCH_CONCURRENCY_LIMIT")]
    pub concurrency_limit: Option<usize>,
    /// Seconds between scans of the index for a newer snapshot; 0 disables [default: 5].
    #[arg(long, env = "ROR_SEARCH_POLL_INTERVAL_SECS")]
    pub poll_interval_secs: Option<u64>,
    /// Bearer token enabling POST /admin/reload and /admin/rollback (16 characters or more).
    #[arg(long, env = "ROR_SEARCH_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Allowed CORS origin (repeat, or `*`); none disables CORS headers.
    #[arg(long = "cors-origin", env = "ROR_SEARCH_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Option<Vec<String>>,
}

/// Search parameters: the same names and semantics as the HTTP query string of `/v1/offers`.
#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// Snapshot directory.
    #[arg(long)]
    pub index: PathBuf,
    /// Latitude of the centre, WGS84 degrees [-90, 90] (with --lon).
    #[arg(long, allow_hyphen_values = true)]
    pub lat: Option<String>,
    /// Longitude of the centre, WGS84 degrees [-180, 180] (with --lat).
    #[arg(long, allow_hyphen_values = true)]
    pub lon: Option<String>,
    /// Centre at the centroid of an INSEE commune (e.g. 33063 Bordeaux, 2A004 Ajaccio).
    #[arg(long)]
    pub commune: Option<String>,
    /// Radius around the centre, km, inclusive [0, 1000]. Without it: the nearest offers.
    #[arg(long = "radius_km")]
    pub radius_km: Option<String>,
    /// Map rectangle min_lon,min_lat,max_lon,max_lat (min_lon > max_lon crosses the antimeridian).
    #[arg(long, allow_hyphen_values = true)]
    pub bbox: Option<String>,
    /// Text: EG, EJ and offer names, commune, activity labels (accents and case folded, stemmed, last word as prefix).
    #[arg(long)]
    pub q: Option<String>,
    /// EG catégorie codes (TRE_R66), comma = any of (500 = EHPAD).
    #[arg(long)]
    pub category: Option<String>,
    /// Type d'offre codes (TRE_R244), comma = any of (21 = hébergement PA dépendantes).
    #[arg(long = "offer_type")]
    pub offer_type: Option<String>,
    /// Activité opérationnelle codes (TRE_R211), comma = any of.
    #[arg(long)]
    pub activity: Option<String>,
    /// Mode de prise en charge codes (TRE_R213), comma = any of (46 hébergement, 47 accueil de jour).
    #[arg(long = "care_mode")]
    pub care_mode: Option<String>,
    /// Temporalité d'accueil codes (TRE_R240): 01 temporaire, 02 permanent.
    #[arg(long)]
    pub reception: Option<String>,
    /// Age of the person, years [0, 150].
    #[arg(long)]
    pub age: Option<String>,
    /// GIR of the person, 1-6.
    #[arg(long)]
    pub gir: Option<String>,
    /// Highest daily price, EUR (hébergement + dépendance).
    #[arg(long = "max_price")]
    pub max_price: Option<String>,
    /// gross (dépendance of the person's GIR band) or out_of_pocket (band 5-6, the ticket modérateur).
    #[arg(long = "price_basis")]
    pub price_basis: Option<String>,
    /// At least this many places available now.
    #[arg(long = "min_available")]
    pub min_available: Option<String>,
    /// At least this many crisis beds now (T0).
    #[arg(long = "min_crisis_t0")]
    pub min_crisis_t0: Option<String>,
    /// At least this many crisis beds within the hour (T60).
    #[arg(long = "min_crisis_t60")]
    pub min_crisis_t60: Option<String>,
    /// true: only EGs habilités à l'aide sociale; false: only the others.
    #[arg(long = "aide_sociale")]
    pub aide_sociale: Option<String>,
    /// distance, price, available, relevance or name.
    #[arg(long)]
    pub sort: Option<String>,
    /// Page size [1, 200], default 20.
    #[arg(long)]
    pub limit: Option<String>,
    /// Results to skip [0, 10000].
    #[arg(long)]
    pub offset: Option<String>,
    /// true: counts of matching offers by catégorie, type d'offre and département.
    #[arg(long)]
    pub facets: Option<String>,
    /// FHIR id of an offer: why it matched or which filter excluded it.
    #[arg(long)]
    pub explain: Option<String>,
    /// true: count every match even when the first page was found early.
    #[arg(long = "exact_total")]
    pub exact_total: Option<String>,
    /// Evaluate closures at this instant (RFC 3339; default now).
    #[arg(long)]
    pub now: Option<String>,
}

impl SearchArgs {
    /// The parameters given, as `name=value` pairs.
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        let fields: [(&'static str, &Option<String>); 26] = [
            ("lat", &self.lat),
            ("lon", &self.lon),
            ("commune", &self.commune),
            ("radius_km", &self.radius_km),
            ("bbox", &self.bbox),
            ("q", &self.q),
            ("category", &self.category),
            ("offer_type", &self.offer_type),
            ("activity", &self.activity),
            ("care_mode", &self.care_mode),
            ("reception", &self.reception),
            ("age", &self.age),
            ("gir", &self.gir),
            ("max_price", &self.max_price),
            ("price_basis", &self.price_basis),
            ("min_available", &self.min_available),
            ("min_crisis_t0", &self.min_crisis_t0),
            ("min_crisis_t60", &self.min_crisis_t60),
            ("aide_sociale", &self.aide_sociale),
            ("sort", &self.sort),
            ("limit", &self.limit),
            ("offset", &self.offset),
            ("facets", &self.facets),
            ("explain", &self.explain),
            ("exact_total", &self.exact_total),
            ("now", &self.now),
        ];
        fields.into_iter().filter_map(|(name, value)| value.as_deref().map(|value| (name, value))).collect()
    }
}

#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// Feed files or directories (walked recursively for .json, .ndjson, .jsonl, and .gz of those).
    #[arg(long = "input", short, required = true, num_args = 1..)]
    pub inputs: Vec<PathBuf>,
    /// Snapshot directory to create (written to a temporary sibling, then renamed into place).
    #[arg(long, short)]
    pub out: PathBuf,
    /// Communes table (CSV, optionally gzipped) for centre-by-commune queries.
    #[arg(long, default_value = "data-samples/communes.csv.gz")]
    pub communes: PathBuf,
    /// Replace the snapshot directory if it already exists.
    #[arg(long)]
    pub force: bool,
    /// Build time to record (RFC 3339; default: now). Quality checks ("not updated for a year") are relative to it.
    #[arg(long)]
    pub built_at: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Snapshot directory.
    pub snapshot: PathBuf,
    /// Print the whole manifest as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also verify every checksum and decode the data (slower).
    #[arg(long)]
    pub verify: bool,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Folder of the staged real data (FINESS, CNSA prices, communes).
    #[arg(long, default_value = "../shared/data/real")]
    pub real: PathBuf,
    /// Output folder: the feed goes to ror-feed/ (Organization, Location and HealthcareService
    /// .ndjson.gz, one file per resource type as a $export), the communes to communes.csv.gz.
    #[arg(long, default_value = "data-samples")]
    pub out: PathBuf,
    /// Seed of the generated fields (offers, places, dates).
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
}

#[derive(Debug, clap::Args)]
pub struct SyntheticArgs {
    /// Number of entités géographiques.
    #[arg(long, default_value_t = 100_000)]
    pub egs: usize,
    /// Number of offers.
    #[arg(long, default_value_t = 1_000_000)]
    pub offers: usize,
    /// Seed.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Sample feed whose real positions and tariffs the generator draws from.
    #[arg(long, default_value = "data-samples/ror-feed")]
    pub sample: PathBuf,
    /// Communes table (positions and populations).
    #[arg(long, default_value = "data-samples/communes.csv.gz")]
    pub communes: PathBuf,
    /// Output NDJSON file (plain; add .gz to compress).
    #[arg(long, short)]
    pub out: PathBuf,
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let result = if json { builder.json().try_init() } else { builder.try_init() };
    let _ = result;
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_json);
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Build(args) => build(args),
        Command::Inspect(args) => inspect(args),
        Command::ImportOpendata(args) => import(args),
        Command::GenerateSynthetic(args) => synthetic(args),
        Command::Search(args) => search(&args),
        Command::Serve(args) => serve(*args),
    }
}

fn build(args: BuildArgs) -> anyhow::Result<()> {
    let built_at = match &args.built_at {
        Some(text) => parse_fhir_datetime(text).map_err(|error| anyhow::anyhow!("--built-at: {error}"))?,
        None => now(),
    };
    let communes = args.communes.exists().then(|| args.communes.clone());
    if communes.is_none() {
        tracing::warn!(path = %args.communes.display(), "communes table not found; building without it");
    }
    let outcome = build_snapshot(BuildOptions {
        inputs: args.inputs,
        communes,
        out: args.out.clone(),
        force: args.force,
        built_at,
        index_files: Some(&crate::engine::persist::write_index_files),
        progress_bar: true,
    })?;
    print!("{}", render_summary(&outcome.manifest));
    println!("built in {:.1} s -> {}", outcome.seconds, args.out.display());
    Ok(())
}

/// The human-readable summary `build` and `inspect` print.
pub fn render_summary(manifest: &crate::snapshot::Manifest) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let counts = &manifest.counts;
    let _ = writeln!(out, "snapshot   {}", manifest.snapshot_id);
    let _ =
        writeln!(out, "built at   {} by {} (format v{})", manifest.built_at, manifest.builder, manifest.format_version);
    for source in &manifest.sources {
        let _ = writeln!(
            out,
            "source     {} ({} bytes, {}, sha256 {}…)",
            source.path,
            source.size_bytes,
            source.format,
            &source.sha256[..16]
        );
    }
    let _ = writeln!(
        out,
        "contents   {} EJ, {} EG, {} offers, {} locations, {} capacity records, {} tariffs, {} communes",
        counts.ejs,
        counts.egs,
        counts.offers,
        counts.locations,
        counts.capacity_records,
        counts.tariffs,
        counts.communes
    );
    let totals = &manifest.ingest.totals;
    let _ = writeln!(
        out,
        "ingest     {} read = {} accepted + {} rejected + {} ignored; {} warnings",
        totals.read, totals.accepted, totals.rejected, totals.ignored, manifest.ingest.warnings
    );
    for (resource_type, type_counts) in &manifest.ingest.by_type {
        let _ = writeln!(
            out,
            "  {resource_type:<20} read {:>9}  accepted {:>9}  rejected {:>7}  ignored {:>7}",
            type_counts.read, type_counts.accepted, type_counts.rejected, type_counts.ignored
        );
    }
    for (reason, count) in manifest.ingest.reject_reasons.iter().take(10) {
        let _ = writeln!(out, "  rejected {count:>7} × {reason}");
    }
    let _ = writeln!(out, "quality (as of {}):", format_rfc3339(manifest.built_at_unix));
    for (name, value) in manifest.quality.counters() {
        let _ = writeln!(out, "  {name:<38} {value:>8}");
    }
    out
}

fn inspect(args: InspectArgs) -> anyhow::Result<()> {
    let manifest = if args.verify {
        let snapshot = crate::snapshot::load(&args.snapshot)?;
        println!("verified: every checksum matches, data decodes");
        snapshot.manifest
    } else {
        crate::snapshot::read_manifest(&args.snapshot)?
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&manifest)?);
    } else {
        print!("{}", render_summary(&manifest));
    }
    Ok(())
}

fn import(args: ImportArgs) -> anyhow::Result<()> {
    let stats = crate::ingest::opendata::import(&args.real, &args.out, args.seed)?;
    println!("sample feed written to {} (feed date {FEED_DATE}, seed {})", args.out.display(), args.seed);
    println!("EGs by FINESS category: {:?}", stats.egs_by_category);
    println!(
        "{} EJ, {} offers, {} locations, {} capacity records, {} tariffs, {} communes",
        stats.ejs, stats.offers, stats.locations, stats.capacity_records, stats.tariffs, stats.communes_written
    );
    println!(
        "EHPAD with an hébergement price: {}, with all three dépendance tariffs: {}",
        stats.ehpad_with_hebergement_price, stats.ehpad_with_dependance_prices
    );
    println!(
        "commune of each EG found by: {:?}; skipped without position: {}",
        stats.commune_match, stats.skipped_without_position
    );
    Ok(())
}

fn synthetic(args: SyntheticArgs) -> anyhow::Result<()> {
    let output = crate::ingest::ingest(std::slice::from_ref(&args.sample), &mut |_| {})?;
    let communes = crate::ingest::communes::read_communes(&args.communes)?;
    let config = crate::ingest::synth::SynthConfig {
        egs: args.egs,
        offers: args.offers,
        seed: args.seed,
        feed_date: parse_fhir_datetime(FEED_DATE).expect("valid constant"),
    };
    let dataset = crate::ingest::synth::generate(&output.dataset, &communes, config);
    let file = std::fs::File::create(&args.out)?;
    let mut writer: Box<dyn std::io::Write> = if args.out.extension().is_some_and(|extension| extension == "gz") {
        Box::new(flate2::write::GzEncoder::new(std::io::BufWriter::new(file), flate2::Compression::fast()))
    } else {
        Box::new(std::io::BufWriter::new(file))
    };
    let lines = crate::ingest::fhir::write::write_ndjson(&dataset, &mut writer)?;
    writer.flush()?;
    drop(writer);
    println!(
        "{lines} resources ({} EG, {} offers, {} locations) written to {}",
        dataset.egs.len(),
        dataset.offers.len(),
        dataset.locations.len(),
        args.out.display()
    );
    Ok(())
}

fn search(args: &SearchArgs) -> anyhow::Result<()> {
    let request = crate::engine::SearchRequest::from_pairs(args.pairs()).map_err(|error| anyhow::anyhow!("{error}"))?;
    let engine = crate::engine::Engine::open(&args.index)?;
    let response = engine.search(&request).map_err(|error| anyhow::anyhow!("{error}"))?;
    println!("{}", serde_json::to_string_pretty(&response)?);
    Ok(())
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    use std::sync::Arc;

    use crate::serve::config::{PartialConfig, ServeConfig};
    let file = match &args.config {
        Some(path) => PartialConfig::read(path).map_err(|error| anyhow::anyhow!(error))?,
        None => PartialConfig::default(),
    };
    let overrides = PartialConfig {
        index: args.index,
        addr: args.addr,
        bootstrap_feed: args.bootstrap_feed,
        bootstrap_communes: args.bootstrap_communes,
        max_body_bytes: args.max_body_bytes,
        request_timeout_ms: args.request_timeout_ms,
        concurrency_limit: args.concurrency_limit,
        poll_interval_secs: args.poll_interval_secs,
        admin_token: args.admin_token,
        cors_origins: args.cors_origins,
    };
    let config = Arc::new(ServeConfig::resolve(overrides, file).map_err(|error| anyhow::anyhow!(error))?);
    std::fs::create_dir_all(&config.index_dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let metrics = Arc::new(crate::serve::Metrics::default());
        let handle = Arc::new(crate::serve::SnapshotHandle::new(config.index_dir.clone(), metrics));
        let listener = tokio::net::TcpListener::bind(config.addr).await?;
        tracing::info!(addr = %listener.local_addr()?, index = %config.index_dir.display(), "listening");
        // Load (or first build) the snapshot in the background: /healthz answers at once and
        // /readyz says 503 until a snapshot serves.
        let startup = tokio::spawn(start_up(handle.clone(), config.clone()));
        let served = crate::http::serve(listener, handle, config).await;
        startup.abort();
        served.map_err(anyhow::Error::from)
    })
}

/// Serves the configured or newest snapshot; builds one from the bootstrap feed when the index
/// has none that loads.
async fn start_up(
    handle: std::sync::Arc<crate::serve::SnapshotHandle>,
    config: std::sync::Arc<crate::serve::ServeConfig>,
) {
    if let Some(dir) = &config.initial_snapshot {
        if handle.reload(Some(dir.clone())).await.is_ok() {
            return;
        }
    } else {
        while let Some(candidate) = handle.newest_candidate(false) {
            if handle.reload(Some(candidate)).await.is_ok() {
                return;
            }
        }
    }
    let out = config.index_dir.join("sample");
    tracing::info!(feed = %config.bootstrap_feed.display(), out = %out.display(), "no snapshot loads: building one from the bootstrap feed");
    let build_config = config.clone();
    let built = tokio::task::spawn_blocking(move || {
        build_snapshot(BuildOptions {
            inputs: vec![build_config.bootstrap_feed.clone()],
            communes: Some(build_config.bootstrap_communes.clone()).filter(|path| path.exists()),
            out: build_config.index_dir.join("sample"),
            force: true,
            built_at: now(),
            index_files: Some(&crate::engine::persist::write_index_files),
            progress_bar: true,
        })
    })
    .await;
    match built {
        Ok(Ok(outcome)) => {
            tracing::info!(snapshot = %outcome.manifest.snapshot_id, seconds = outcome.seconds, "bootstrap snapshot built");
            let _ = handle.reload(Some(out)).await;
        }
        Ok(Err(error)) => {
            tracing::error!(%error, "bootstrap build failed; serving 503 until a snapshot appears in the index")
        }
        Err(error) => tracing::error!(%error, "bootstrap build panicked"),
    }
}
