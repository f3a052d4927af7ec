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
pub(crate) struct Cli {
    /// Log as JSON lines (one object per event) instead of human-readable text.
    #[arg(long, global = true, env = "ROR_SEARCH_LOG_JSON")]
    pub(crate) log_json: bool,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
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
    /// Follow the national ROR (or any FHIR server of the same API): a full pull (`$export`),
    /// then deltas (`_lastUpdated`) into incremental snapshots published in the index.
    Sync(SyncArgs),
    /// Publish a snapshot to a cluster (NATS JetStream): its files to the object store, then
    /// the current key every replica (`serve --cluster`) follows.
    Publish(PublishArgs),
    /// The data-quality report of a snapshot: counts by rule and every finding, as JSON, CSV
    /// (UTF-8 with BOM, `;`, French column names) or NDJSON; the filters of `/v1/quality`.
    Quality(QualityArgs),
}

/// `sync`: the upstream, the index to publish into, and how long to run.
#[derive(Debug, clap::Args)]
pub(crate) struct SyncArgs {
    /// TOML configuration (credentials, `Ror-*` headers, intervals; see `sync::config`).
    #[arg(long, env = "ROR_SEARCH_SYNC_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// The upstream's FHIR base URL (wins over the configuration's `base`).
    #[arg(long)]
    pub(crate) base: Option<String>,
    /// The index directory the snapshots are published into (the one `serve --index` reads).
    #[arg(long, default_value = "index")]
    pub(crate) index: PathBuf,
    /// One step (a full pull when due, else a delta), then exit.
    #[arg(long)]
    pub(crate) once: bool,
    /// Make the first step a full pull, due or not.
    #[arg(long)]
    pub(crate) full: bool,
    #[command(flatten)]
    pub(crate) publish: PublishFlags,
}

/// Where a cluster is and how its stream and buckets are made.
#[derive(Debug, clap::Args)]
pub(crate) struct ClusterArgs {
    /// NATS server URLs, comma-separated (`nats://10.0.0.1:4222,nats://10.0.0.2:4222`).
    #[arg(long = "cluster", env = "ROR_SEARCH_CLUSTER", value_delimiter = ',', required = true)]
    pub(crate) urls: Vec<String>,
    /// Replicas of the stream and buckets, when this process is the first to create them.
    #[arg(long = "cluster-replicas", env = "ROR_SEARCH_CLUSTER_REPLICAS", default_value_t = 1)]
    pub(crate) replicas: usize,
}

impl ClusterArgs {
    fn config(&self, role: &str) -> crate::cluster::ClusterConfig {
        cluster_config(&self.urls, self.replicas, role)
    }
}

/// `build --publish` and `sync --publish`: what they make also goes to a cluster.
#[derive(Debug, clap::Args)]
pub(crate) struct PublishFlags {
    /// Publish what it makes to this cluster too (NATS URLs, comma-separated), as `ror-search
    /// publish` does, for the replicas of `serve --cluster`.
    #[arg(long = "publish", value_delimiter = ',')]
    pub(crate) urls: Option<Vec<String>>,
    /// Replicas of the stream and buckets, when the publication creates them.
    #[arg(long = "cluster-replicas", default_value_t = 1)]
    pub(crate) replicas: usize,
}

impl PublishFlags {
    fn config(&self, role: &str) -> Option<crate::cluster::ClusterConfig> {
        self.urls.as_ref().map(|urls| cluster_config(urls, self.replicas, role))
    }
}

/// A cluster of these URLs (each may hold several, comma-separated).
fn cluster_config(urls: &[String], replicas: usize, role: &str) -> crate::cluster::ClusterConfig {
    crate::cluster::ClusterConfig {
        urls: crate::cluster::parse_urls(&urls.join(",")),
        replicas,
        client_name: format!("ror-search {role}"),
        ..crate::cluster::ClusterConfig::default()
    }
}

/// `publish`: a snapshot directory and the cluster.
#[derive(Debug, clap::Args)]
pub(crate) struct PublishArgs {
    /// Snapshot directory.
    pub(crate) snapshot: PathBuf,
    #[command(flatten)]
    pub(crate) cluster: ClusterArgs,
    /// Longest wait for the cluster, seconds.
    #[arg(long, default_value_t = 60)]
    pub(crate) connect_timeout_secs: u64,
}

/// `quality`: a snapshot, the filters of `/v1/quality` and where to write.
#[derive(Debug, clap::Args)]
pub(crate) struct QualityArgs {
    /// Snapshot directory (its own capacities: the live writes of a server are not read).
    #[arg(required_unless_present = "rules_markdown")]
    pub(crate) snapshot: Option<PathBuf>,
    /// `json` (counts and every finding), `csv` or `ndjson`.
    #[arg(long, default_value = "json")]
    pub(crate) format: String,
    /// Rule codes, comma = any of.
    #[arg(long)]
    pub(crate) rule: Option<String>,
    /// Severities (`error`, `warning`, `info`), comma = any of.
    #[arg(long)]
    pub(crate) severity: Option<String>,
    /// INSEE région codes, comma = any of.
    #[arg(long)]
    pub(crate) region: Option<String>,
    /// INSEE département codes, comma = any of.
    #[arg(long)]
    pub(crate) departement: Option<String>,
    /// FINESS ET number of an EG.
    #[arg(long)]
    pub(crate) finess: Option<String>,
    /// Catégories d'établissement (TRE_R66), comma = any of.
    #[arg(long)]
    pub(crate) category: Option<String>,
    /// When to evaluate the rules (RFC 3339; default now).
    #[arg(long)]
    pub(crate) now: Option<String>,
    /// Write there instead of standard output.
    #[arg(long, short)]
    pub(crate) out: Option<PathBuf>,
    /// Print the rules table (Markdown, as in the README) and exit.
    #[arg(long)]
    pub(crate) rules_markdown: bool,
}

/// `serve` options. Each can also come from the environment (`ROR_SEARCH_<NAME>`) or from the
/// TOML file given with `--config` (keys as below, with underscores); flags win, then the
/// environment, then the file, then the defaults.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// TOML configuration file.
    #[arg(long, env = "ROR_SEARCH_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) settings: crate::serve::config::PartialConfig,
}

/// `search`: a snapshot and the parameters of `/v1/offers`, as flags of the same names.
#[derive(Debug, clap::Args)]
pub(crate) struct SearchArgs {
    /// Snapshot directory.
    #[arg(long)]
    pub(crate) index: PathBuf,
    #[command(flatten)]
    pub(crate) query: crate::api::OffersQuery,
}

#[derive(Debug, clap::Args)]
pub(crate) struct BuildArgs {
    /// Feed files or directories (walked recursively for .json, .ndjson, .jsonl, and .gz of those).
    #[arg(long = "input", short, required = true, num_args = 1..)]
    pub(crate) inputs: Vec<PathBuf>,
    /// Snapshot directory to create (written to a temporary sibling, then renamed into place).
    #[arg(long, short)]
    pub(crate) out: PathBuf,
    /// Communes table (CSV, optionally gzipped) for centre-by-commune queries.
    #[arg(long, default_value = "data-samples/communes.csv.gz")]
    pub(crate) communes: PathBuf,
    /// Replace the snapshot directory if it already exists.
    #[arg(long)]
    pub(crate) force: bool,
    /// Build time to record (RFC 3339; default: now). Quality checks ("not updated for a year") are relative to it.
    #[arg(long)]
    pub(crate) built_at: Option<String>,
    #[command(flatten)]
    pub(crate) publish: PublishFlags,
}

#[derive(Debug, clap::Args)]
pub(crate) struct InspectArgs {
    /// Snapshot directory.
    pub(crate) snapshot: PathBuf,
    /// Print the whole manifest as JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// Also verify every checksum and decode the data (slower).
    #[arg(long)]
    pub(crate) verify: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ImportArgs {
    /// Folder of the staged real data (FINESS, CNSA prices, communes).
    #[arg(long, default_value = "../shared/data/real")]
    pub(crate) real: PathBuf,
    /// Output folder: the feed goes to ror-feed/ (Organization, Location and HealthcareService
    /// .ndjson.gz, one file per resource type as a $export), the communes to communes.csv.gz.
    #[arg(long, default_value = "data-samples")]
    pub(crate) out: PathBuf,
    /// Seed of the generated fields (offers, places, dates).
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub(crate) seed: u64,
}

#[derive(Debug, clap::Args)]
pub(crate) struct SyntheticArgs {
    /// Number of entités géographiques.
    #[arg(long, default_value_t = 100_000)]
    pub(crate) egs: usize,
    /// Number of offers.
    #[arg(long, default_value_t = 1_000_000)]
    pub(crate) offers: usize,
    /// Seed.
    #[arg(long, default_value_t = 7)]
    pub(crate) seed: u64,
    /// Sample feed whose real positions and tariffs the generator draws from.
    #[arg(long, default_value = "data-samples/ror-feed")]
    pub(crate) sample: PathBuf,
    /// Communes table (positions and populations).
    #[arg(long, default_value = "data-samples/communes.csv.gz")]
    pub(crate) communes: PathBuf,
    /// Output NDJSON file (plain; add .gz to compress).
    #[arg(long, short)]
    pub(crate) out: PathBuf,
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
        Command::Quality(args) => quality(&args),
        Command::Sync(args) => sync(&args),
        Command::Publish(args) => publish(&args),
    }
}

static SYNC_STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn sync(args: &SyncArgs) -> anyhow::Result<()> {
    let config =
        crate::sync::SyncConfig::load(args.config.as_deref(), args.base.clone()).map_err(anyhow::Error::msg)?;
    let mut syncer = crate::sync::Syncer::open(config, &args.index)?;
    if let Some(cluster) = args.publish.config("sync") {
        syncer = syncer.on_publish(Box::new(move |dir| match publish_to(&cluster, dir, 60) {
            Ok(report) => tracing::info!(snapshot = %report.snapshot_id, bytes = report.bytes, covers = report.covers_sequence, "synced snapshot published to the cluster"),
            Err(error) => tracing::error!(%error, dir = %dir.display(), "synced snapshot not published to the cluster"),
        }));
    }
    let report = syncer.step(args.full)?;
    println!("{}", serde_json::to_string(&report.record)?);
    if args.once {
        return Ok(());
    }
    // SIGTERM / Ctrl-C stop the loop between two steps (a pull in flight is not cut: nothing
    // is applied before it is whole, and the state is written last).
    extern "C" fn on_signal(_: libc::c_int) {
        SYNC_STOP.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    for signal in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            libc::signal(signal, on_signal as *const () as libc::sighandler_t);
        }
    }
    syncer.run(&SYNC_STOP);
    Ok(())
}

fn quality(args: &QualityArgs) -> anyhow::Result<()> {
    use crate::api::QualityFormat;
    if args.rules_markdown {
        print!("{}", crate::model::quality::rules_markdown());
        return Ok(());
    }
    let snapshot = args.snapshot.as_ref().ok_or_else(|| anyhow::anyhow!("a snapshot directory is needed"))?;
    let mut pairs: Vec<(&str, &str)> = vec![("format", args.format.as_str())];
    for (name, value) in [
        ("rule", &args.rule),
        ("severity", &args.severity),
        ("region", &args.region),
        ("departement", &args.departement),
        ("finess", &args.finess),
        ("category", &args.category),
    ] {
        if let Some(value) = value {
            pairs.push((name, value));
        }
    }
    let request = crate::api::from_pairs::<crate::api::QualityQuery>(pairs, &[])
        .and_then(crate::api::QualityQuery::into_request)
        .map_err(|error| anyhow::anyhow!("--{}: {}", error.parameter, error.message))?;
    let at = match &args.now {
        Some(text) => parse_fhir_datetime(text).map_err(|error| anyhow::anyhow!("--now: {error}"))?,
        None => now(),
    };
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar.set_message(format!("loading {}", snapshot.display()));
    let engine = crate::engine::Engine::open(snapshot)?;
    bar.set_message(format!(
        "checking {} EGs, {} offers, {} locations",
        engine.data().dataset.egs.len(),
        engine.data().dataset.offers.len(),
        engine.data().dataset.locations.len()
    ));
    let remarks = crate::quality::read_remarks(snapshot)?;
    let report = crate::quality::QualityReport::compute(&engine, remarks, at);
    let selection = report.select(&engine, &request.filter);
    bar.finish_and_clear();
    let mut out: Box<dyn std::io::Write> = match &args.out {
        Some(path) => Box::new(std::io::BufWriter::new(std::fs::File::create(path)?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    match request.format {
        QualityFormat::Csv => crate::quality::export::write_csv(&selection, &mut out)?,
        QualityFormat::Ndjson => crate::quality::export::write_ndjson(&selection, &mut out)?,
        QualityFormat::Json => {
            let answer = serde_json::json!({
                "snapshot": engine.manifest().snapshot_id,
                "computed_at": format_rfc3339(at),
                "counts": selection.counts(),
                "trend": engine.manifest().quality_trend,
                "findings": selection.views().collect::<Vec<_>>(),
            });
            serde_json::to_writer_pretty(&mut out, &answer)?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    eprintln!("{} findings ({} in the report)", selection.len(), report.len());
    Ok(())
}

fn publish(args: &PublishArgs) -> anyhow::Result<()> {
    let report = publish_to(&args.cluster.config("publish"), &args.snapshot, args.connect_timeout_secs)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// Publishes the snapshot in `dir` to the cluster `config` names (on a runtime of its own).
fn publish_to(
    config: &crate::cluster::ClusterConfig,
    dir: &std::path::Path,
    connect_timeout_secs: u64,
) -> anyhow::Result<crate::cluster::snapshots::PublishReport> {
    if !(1..=5).contains(&config.replicas) {
        anyhow::bail!("--cluster-replicas must be 1 to 5");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let report = runtime.block_on(async {
        let cluster =
            crate::cluster::Cluster::connect(config, std::time::Duration::from_secs(connect_timeout_secs)).await?;
        let report = crate::cluster::snapshots::publish(&cluster, dir).await?;
        cluster.flush().await?;
        Ok::<_, crate::cluster::ClusterError>(report)
    })?;
    Ok(report)
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
    if let Some(cluster) = args.publish.config("build") {
        let report = publish_to(&cluster, &args.out, 60)?;
        println!(
            "published {} ({} files, {} bytes in {:.1} s; the stream is covered up to {})",
            report.snapshot_id, report.files, report.bytes, report.upload_seconds, report.covers_sequence
        );
    }
    Ok(())
}

/// The human-readable summary `build` and `inspect` print.
pub(crate) fn render_summary(manifest: &crate::snapshot::Manifest) -> String {
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
        "{} EJ, {} offers ({} unités sensibles), {} locations, {} capacity records, {} tariffs, {} communes",
        stats.ejs,
        stats.offers,
        stats.sensitive_units,
        stats.locations,
        stats.capacity_records,
        stats.tariffs,
        stats.communes_written
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
    let request = args.query.clone().into_request().map_err(|error| anyhow::anyhow!("{error}"))?;
    let engine = crate::engine::Engine::open(&args.index)?;
    let page = engine.search_page(&request).map_err(|error| anyhow::anyhow!("{error}"))?;
    let mut json = Vec::new();
    page.write_json(&mut json);
    // The service's bytes, indented: sonic-rs's values keep the members' order.
    let value: sonic_rs::Value = sonic_rs::from_slice(&json)?;
    println!("{}", sonic_rs::to_string_pretty(&value)?);
    Ok(())
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    use std::sync::Arc;

    use crate::serve::config::{PartialConfig, ServeConfig};
    let file = match &args.config {
        Some(path) => PartialConfig::read(path)?,
        None => PartialConfig::default(),
    };
    let config = Arc::new(ServeConfig::resolve(args.settings, file)?);
    std::fs::create_dir_all(&config.index_dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let metrics = Arc::new(crate::serve::Metrics::default());
        let handle = Arc::new(crate::serve::SnapshotHandle::new(config.index_dir.clone(), metrics));
        // A replica takes its snapshots and capacity writes from the cluster (`/readyz` says
        // 503 until it serves the current snapshot with the stream applied).
        let replica = config.cluster.clone().map(|cluster| Arc::new(crate::cluster::replica::Replica::new(cluster)));
        if let Some(replica) = &replica {
            handle.set_replica(replica.clone());
        } else {
            // The capacity log first: its writes are replayed onto the first snapshot served. A
            // log that cannot be read stops the server rather than losing acknowledged writes.
            let capacity = tokio::task::spawn_blocking({
                let index_dir = config.index_dir.clone();
                move || crate::serve::capacity::CapacityService::open(&index_dir)
            })
            .await??;
            handle.attach_capacity(Arc::new(capacity));
        }
        if let Some(sync_config) = &config.sync {
            let sync_config = crate::sync::SyncConfig::load(Some(sync_config), None).map_err(anyhow::Error::msg)?;
            start_sync(sync_config, handle.clone(), config.index_dir.clone())?;
        }
        let listener = tokio::net::TcpListener::bind(config.addr).await?;
        tracing::info!(addr = %listener.local_addr()?, index = %config.index_dir.display(), "listening");
        // Load (or first build) the snapshot in the background: /healthz answers at once and
        // /readyz says 503 until a snapshot serves.
        let startup = match replica {
            Some(replica) => tokio::spawn(replica.run(handle.clone())),
            None => tokio::spawn(start_up(handle.clone(), config.clone())),
        };
        let served = crate::http::server::serve(listener, handle, config).await;
        startup.abort();
        served.map_err(anyhow::Error::from)
    })
}

/// Runs the sync inside the service, on a thread of its own: capacity-only changes go to the
/// live path, each snapshot it publishes is swapped in at once.
fn start_sync(
    config: crate::sync::SyncConfig,
    handle: std::sync::Arc<crate::serve::SnapshotHandle>,
    index_dir: PathBuf,
) -> anyhow::Result<()> {
    use std::sync::Arc;

    use crate::engine::live::CapacityChange;
    use crate::live::write::LoggedWrite;
    // A credential that does not load stops the start (the snapshot is loaded later, below).
    crate::sync::Upstream::new(&config)?;
    let runtime = tokio::runtime::Handle::current();
    let sink_handle = handle.clone();
    let sink_runtime = runtime.clone();
    let sink: crate::sync::CapacitySink = Box::new(move |updates| {
        let service = sink_handle.capacity().cloned().ok_or("no live capacity service")?;
        let current_handle = sink_handle.clone();
        let current: Arc<dyn Fn() -> Option<Arc<crate::serve::Loaded>> + Send + Sync> =
            Arc::new(move || current_handle.current());
        let writes: Vec<LoggedWrite> = updates
            .iter()
            .map(|update| LoggedWrite {
                location_id: update.location_id.as_str().into(),
                changes: vec![CapacityChange::ReplaceAll(update.records.clone())],
                received_at: now(),
                who: "sync".into(),
            })
            .collect();
        let results = sink_runtime.block_on(service.write(current, writes)).map_err(|error| error.to_string())?;
        Ok(results.len() as u64)
    });
    let publish: crate::sync::PublishHook =
        Box::new(move |dir| match runtime.block_on(handle.reload(Some(dir.to_owned()))) {
            Ok(swap) => tracing::info!(snapshot = %swap.snapshot, seconds = swap.seconds, "synced snapshot swapped in"),
            Err(error) => tracing::error!(%error, "synced snapshot refused: the current one keeps serving"),
        });
    // Opening loads the sync's snapshot (seconds at national scale): on the sync's thread, not
    // before the listener.
    std::thread::Builder::new().name("sync".into()).spawn(move || {
        match crate::sync::Syncer::open(config, &index_dir) {
            Ok(syncer) => syncer.with_capacity_sink(sink).on_publish(publish).run(&SYNC_STOP),
            Err(error) => tracing::error!(error = %crate::util::error_chain(&error), "the sync cannot start"),
        }
    })?;
    Ok(())
}

/// Serves the configured or newest snapshot; builds one from the bootstrap feed when the index
/// has none that loads (unless a sync is configured: its first full pull makes the first).
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
    if config.sync.is_some() {
        tracing::info!("no snapshot loads: serving once the sync's first full pull lands");
        return;
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
