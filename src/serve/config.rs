//! Server configuration: command-line flags, then environment variables (`ROR_SEARCH_*`, read
//! by clap), then an optional TOML file, then defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The effective configuration of `serve`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServeConfig {
    /// Directory holding snapshot directories.
    pub index_dir: PathBuf,
    /// Snapshot to start with (a subdirectory of `index_dir`); default: the newest.
    pub initial_snapshot: Option<PathBuf>,
    /// Address to listen on.
    pub addr: SocketAddr,
    /// Feed to build a first snapshot from when the index has none.
    pub bootstrap_feed: PathBuf,
    /// Communes CSV for that first snapshot.
    pub bootstrap_communes: PathBuf,
    /// Largest request body, bytes.
    pub max_body_bytes: usize,
    /// Largest body of `POST /v1/capacity` (NDJSON batches), bytes.
    pub max_batch_bytes: usize,
    /// Per-request timeout, milliseconds.
    pub request_timeout_ms: u64,
    /// Requests processed at once; beyond, requests are refused with 429.
    pub concurrency_limit: usize,
    /// How often the index directory is scanned for a newer snapshot, seconds (0: never).
    pub poll_interval_secs: u64,
    /// Bearer token of the admin routes; `None` disables them.
    pub admin_token: Option<String>,
    /// Allowed CORS origins (`*` for any); empty disables CORS headers.
    pub cors_origins: Vec<String>,
    /// The access file (clients, keys, JWT, anonymous callers; `crate::auth`), reloaded when it
    /// changes; `None`: anonymous callers get profile 0, the admin token everything.
    pub access_file: Option<PathBuf>,
    /// The audit log (JSON lines) of writes, admin actions and profile-1/4 reads; `None`: none.
    pub audit_log: Option<PathBuf>,
    /// TLS (and mutual TLS with a client CA); `None`: plain HTTP.
    pub tls: Option<TlsFiles>,
    /// Longest wait for a request's headers, milliseconds (slow clients are cut off).
    pub header_read_timeout_ms: u64,
    /// Longest wait for a request's body, milliseconds (then 408).
    pub body_read_timeout_ms: u64,
    /// The URL clients reach the service at (`https://ror.example.fr`), for the absolute URLs
    /// of FHIR answers; `None`: from the request's `Host` header.
    pub public_url: Option<String>,
    /// Where `$export` jobs write their files; `None`: a directory of the system's temporary
    /// directory, per process.
    pub export_dir: Option<PathBuf>,
    /// The map page's background tiles: a raster tile URL template with `{z}`, `{x}`, `{y}`
    /// (`https://tile.example.fr/{z}/{x}/{y}.png`); `None`: the outline of France shipped in
    /// the binary, and no request leaves the page for another host.
    pub basemap_url: Option<String>,
    /// The attribution shown on the map under those tiles (their licence asks for one).
    pub basemap_attribution: Option<String>,
    /// Follow an upstream ROR inside the service: the `ror-search sync` configuration
    /// (`None`: snapshots come from the index directory only).
    pub sync: Option<PathBuf>,
    /// Run as a replica of a cluster (`crate::cluster`): snapshots come from the cluster's
    /// object store, capacity writes go through its stream; `None`: single node.
    pub cluster: Option<crate::cluster::ClusterConfig>,
}

/// The PEM files of TLS.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsFiles {
    /// The server's certificate chain.
    pub cert: PathBuf,
    /// The server's private key.
    pub key: PathBuf,
    /// The CA that signs client certificates (mutual TLS); a client without a certificate is
    /// still served, as whatever its other credentials make it.
    pub client_ca: Option<PathBuf>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            index_dir: PathBuf::from("index"),
            initial_snapshot: None,
            addr: "127.0.0.1:8080".parse().expect("valid default address"),
            bootstrap_feed: PathBuf::from("data-samples/ror-feed"),
            bootstrap_communes: PathBuf::from("data-samples/communes.csv.gz"),
            max_body_bytes: 64 * 1024,
            max_batch_bytes: 16 * 1024 * 1024,
            request_timeout_ms: 2_000,
            concurrency_limit: 1_024,
            poll_interval_secs: 5,
            admin_token: None,
            cors_origins: Vec::new(),
            access_file: None,
            audit_log: None,
            tls: None,
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 10_000,
            public_url: None,
            export_dir: None,
            basemap_url: None,
            basemap_attribution: None,
            sync: None,
            cluster: None,
        }
    }
}

/// Why a configuration is refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not valid TOML of these keys.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The error.
        source: toml::de::Error,
    },
    /// A value is out of its range.
    #[error("{0}")]
    Invalid(&'static str),
}

/// The settings of `serve`, every key optional: one struct read from the flags and the
/// environment (clap: `--max-body-bytes`, `ROR_SEARCH_MAX_BODY_BYTES`) and from the TOML file
/// (serde: `max_body_bytes = ...`). Flags win, then the environment, then the file, then the
/// defaults ([`ServeConfig::resolve`]).
#[derive(Debug, Default, Clone, PartialEq, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub(crate) struct PartialConfig {
    /// Index directory holding snapshot directories (or one snapshot directory) [default: index].
    #[arg(long, env = "ROR_SEARCH_INDEX")]
    pub(crate) index: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "ROR_SEARCH_ADDR")]
    pub(crate) addr: Option<SocketAddr>,
    /// Feed to build the first snapshot from when the index has none [default: data-samples/ror-feed].
    #[arg(long, env = "ROR_SEARCH_BOOTSTRAP_FEED")]
    pub(crate) bootstrap_feed: Option<PathBuf>,
    /// Communes table for that build [default: data-samples/communes.csv.gz].
    #[arg(long, env = "ROR_SEARCH_BOOTSTRAP_COMMUNES")]
    pub(crate) bootstrap_communes: Option<PathBuf>,
    /// Largest request body, bytes [default: 65536].
    #[arg(long, env = "ROR_SEARCH_MAX_BODY_BYTES")]
    pub(crate) max_body_bytes: Option<usize>,
    /// Largest body of `POST /v1/capacity` (NDJSON batches), bytes [default: 16777216].
    #[arg(long, env = "ROR_SEARCH_MAX_BATCH_BYTES")]
    pub(crate) max_batch_bytes: Option<usize>,
    /// Per-request timeout, milliseconds [default: 2000].
    #[arg(long, env = "ROR_SEARCH_REQUEST_TIMEOUT_MS")]
    pub(crate) request_timeout_ms: Option<u64>,
    /// Requests processed at once; more are refused with 429 [default: 1024].
    #[arg(long, env = "ROR_SEARCH_CONCURRENCY_LIMIT")]
    pub(crate) concurrency_limit: Option<usize>,
    /// Seconds between scans of the index for a newer snapshot; 0 disables [default: 5].
    #[arg(long, env = "ROR_SEARCH_POLL_INTERVAL_SECS")]
    pub(crate) poll_interval_secs: Option<u64>,
    /// Bearer token enabling POST /admin/reload and /admin/rollback (16 characters or more).
    #[arg(long, env = "ROR_SEARCH_ADMIN_TOKEN", hide_env_values = true)]
    pub(crate) admin_token: Option<String>,
    /// Allowed CORS origin (repeat, or `*`); none disables CORS headers.
    #[arg(long = "cors-origin", env = "ROR_SEARCH_CORS_ORIGINS", value_delimiter = ',')]
    pub(crate) cors_origins: Option<Vec<String>>,
    /// Access file: declared clients (API keys, certificates), JWT settings, anonymous access
    /// (TOML, reloaded when it changes) [default: anonymous callers get profile 0].
    #[arg(long = "access", env = "ROR_SEARCH_ACCESS")]
    pub(crate) access_file: Option<PathBuf>,
    /// Audit log file (JSON lines): writes, admin actions, profile-1/4 reads.
    #[arg(long, env = "ROR_SEARCH_AUDIT_LOG")]
    pub(crate) audit_log: Option<PathBuf>,
    /// Server certificate chain (PEM): serve HTTPS.
    #[arg(long, env = "ROR_SEARCH_TLS_CERT", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// Server private key (PEM).
    #[arg(long, env = "ROR_SEARCH_TLS_KEY", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
    /// CA of client certificates (PEM): mutual TLS; certificates map to declared clients.
    #[arg(long, env = "ROR_SEARCH_CLIENT_CA", requires = "tls_cert")]
    pub(crate) client_ca: Option<PathBuf>,
    /// Longest wait for a request's headers, milliseconds [default: 10000].
    #[arg(long, env = "ROR_SEARCH_HEADER_READ_TIMEOUT_MS")]
    pub(crate) header_read_timeout_ms: Option<u64>,
    /// Longest wait for a request's body, milliseconds, then 408 [default: 10000].
    #[arg(long, env = "ROR_SEARCH_BODY_READ_TIMEOUT_MS")]
    pub(crate) body_read_timeout_ms: Option<u64>,
    /// The URL clients reach the service at, for the absolute URLs of FHIR answers (`fullUrl`,
    /// paging links, `$export` files) [default: from the request's Host header].
    #[arg(long, env = "ROR_SEARCH_PUBLIC_URL")]
    pub(crate) public_url: Option<String>,
    /// Directory of the `$export` files [default: a directory under the system's temporary
    /// directory].
    #[arg(long, env = "ROR_SEARCH_EXPORT_DIR")]
    pub(crate) export_dir: Option<PathBuf>,
    /// Background tiles of the map page: an http(s) URL template with {z}, {x} and {y}
    /// [default: the outline of France shipped in the binary].
    #[arg(long, env = "ROR_SEARCH_BASEMAP_URL")]
    pub(crate) basemap_url: Option<String>,
    /// Attribution of those tiles, shown on the map (e.g. "© OpenStreetMap contributors").
    #[arg(long, env = "ROR_SEARCH_BASEMAP_ATTRIBUTION")]
    pub(crate) basemap_attribution: Option<String>,
    /// Follow an upstream ROR: the `ror-search sync` TOML configuration. Its snapshots are
    /// published into the index and swapped in; capacity-only changes go to the live path.
    #[arg(long, env = "ROR_SEARCH_SYNC")]
    pub(crate) sync: Option<PathBuf>,
    /// Run as a replica of a cluster: NATS server URLs (comma-separated,
    /// `nats://10.0.0.1:4222,nats://10.0.0.2:4222`). Snapshots come from the cluster (the
    /// index directory caches them), capacity writes go through its JetStream stream.
    #[arg(long, env = "ROR_SEARCH_CLUSTER", value_delimiter = ',')]
    pub(crate) cluster: Option<Vec<String>>,
    /// Replicas of the stream and buckets, when this process is the first to create them
    /// (3 on a three-node NATS cluster) [default: 1].
    #[arg(long, env = "ROR_SEARCH_CLUSTER_REPLICAS")]
    pub(crate) cluster_replicas: Option<usize>,
    /// Capacity stream messages a replica may be behind before /readyz answers 503 [default: 1000].
    #[arg(long, env = "ROR_SEARCH_CLUSTER_MAX_LAG")]
    pub(crate) cluster_max_lag: Option<u64>,
}

impl PartialConfig {
    /// Reads a TOML configuration file.
    pub(crate) fn read(path: &Path) -> Result<PartialConfig, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse { path: path.to_owned(), source })
    }

    /// `self`, with the keys it lacks taken from `lower`.
    fn over(self, lower: PartialConfig) -> PartialConfig {
        PartialConfig {
            index: self.index.or(lower.index),
            addr: self.addr.or(lower.addr),
            bootstrap_feed: self.bootstrap_feed.or(lower.bootstrap_feed),
            bootstrap_communes: self.bootstrap_communes.or(lower.bootstrap_communes),
            max_body_bytes: self.max_body_bytes.or(lower.max_body_bytes),
            max_batch_bytes: self.max_batch_bytes.or(lower.max_batch_bytes),
            request_timeout_ms: self.request_timeout_ms.or(lower.request_timeout_ms),
            concurrency_limit: self.concurrency_limit.or(lower.concurrency_limit),
            poll_interval_secs: self.poll_interval_secs.or(lower.poll_interval_secs),
            admin_token: self.admin_token.or(lower.admin_token),
            cors_origins: self.cors_origins.or(lower.cors_origins),
            access_file: self.access_file.or(lower.access_file),
            audit_log: self.audit_log.or(lower.audit_log),
            tls_cert: self.tls_cert.or(lower.tls_cert),
            tls_key: self.tls_key.or(lower.tls_key),
            client_ca: self.client_ca.or(lower.client_ca),
            header_read_timeout_ms: self.header_read_timeout_ms.or(lower.header_read_timeout_ms),
            body_read_timeout_ms: self.body_read_timeout_ms.or(lower.body_read_timeout_ms),
            public_url: self.public_url.or(lower.public_url),
            export_dir: self.export_dir.or(lower.export_dir),
            basemap_url: self.basemap_url.or(lower.basemap_url),
            basemap_attribution: self.basemap_attribution.or(lower.basemap_attribution),
            sync: self.sync.or(lower.sync),
            cluster: self.cluster.or(lower.cluster),
            cluster_replicas: self.cluster_replicas.or(lower.cluster_replicas),
            cluster_max_lag: self.cluster_max_lag.or(lower.cluster_max_lag),
        }
    }
}

impl ServeConfig {
    /// Merges overrides (flags, environment) over a file over the defaults.
    pub(crate) fn resolve(overrides: PartialConfig, file: PartialConfig) -> Result<ServeConfig, ConfigError> {
        let defaults = ServeConfig::default();
        let given = overrides.over(file);
        let mut index_dir = given.index.unwrap_or(defaults.index_dir);
        let mut initial_snapshot = None;
        // `--index` may name a snapshot itself: serve it, and watch its parent.
        if index_dir.join(crate::snapshot::MANIFEST_FILE).is_file() {
            initial_snapshot = Some(index_dir.clone());
            index_dir = index_dir.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
        }
        let config = ServeConfig {
            index_dir,
            initial_snapshot,
            addr: given.addr.unwrap_or(defaults.addr),
            bootstrap_feed: given.bootstrap_feed.unwrap_or(defaults.bootstrap_feed),
            bootstrap_communes: given.bootstrap_communes.unwrap_or(defaults.bootstrap_communes),
            max_body_bytes: given.max_body_bytes.unwrap_or(defaults.max_body_bytes),
            max_batch_bytes: given.max_batch_bytes.unwrap_or(defaults.max_batch_bytes),
            request_timeout_ms: given.request_timeout_ms.unwrap_or(defaults.request_timeout_ms),
            concurrency_limit: given.concurrency_limit.unwrap_or(defaults.concurrency_limit),
            poll_interval_secs: given.poll_interval_secs.unwrap_or(defaults.poll_interval_secs),
            admin_token: given.admin_token.filter(|token| !token.is_empty()),
            cors_origins: given.cors_origins.unwrap_or_default(),
            access_file: given.access_file,
            audit_log: given.audit_log,
            tls: match (given.tls_cert, given.tls_key) {
                (Some(cert), Some(key)) => Some(TlsFiles { cert, key, client_ca: given.client_ca }),
                (None, None) if given.client_ca.is_none() => None,
                _ => return Err(ConfigError::Invalid("tls_cert and tls_key go together (and client_ca needs them)")),
            },
            header_read_timeout_ms: given.header_read_timeout_ms.unwrap_or(defaults.header_read_timeout_ms),
            body_read_timeout_ms: given.body_read_timeout_ms.unwrap_or(defaults.body_read_timeout_ms),
            public_url: given.public_url.map(|url| url.trim_end_matches('/').to_owned()),
            export_dir: given.export_dir,
            basemap_url: match given.basemap_url.filter(|url| !url.trim().is_empty()) {
                None => None,
                Some(url) => {
                    Some(crate::http::page::tile_template(url.trim()).map_err(ConfigError::Invalid)?.to_owned())
                }
            },
            basemap_attribution: given.basemap_attribution.filter(|text| !text.trim().is_empty()),
            sync: given.sync,
            cluster: match given.cluster.map(|urls| crate::cluster::parse_urls(&urls.join(","))) {
                None => None,
                Some(urls) if urls.is_empty() => None,
                Some(urls) => Some(crate::cluster::ClusterConfig {
                    urls,
                    replicas: given.cluster_replicas.unwrap_or(1),
                    max_lag: given.cluster_max_lag.unwrap_or(1_000),
                    client_name: format!("ror-search serve {}", given.addr.unwrap_or(defaults.addr)),
                }),
            },
        };
        if config.cluster.as_ref().is_some_and(|cluster| !(1..=5).contains(&cluster.replicas)) {
            return Err(ConfigError::Invalid("cluster_replicas must be 1 to 5"));
        }
        if config.cluster.is_some() && config.sync.is_some() {
            return Err(ConfigError::Invalid(
                "a replica takes its snapshots from the cluster: run `sync` beside it and `publish` what it builds",
            ));
        }
        if config.header_read_timeout_ms == 0 || config.body_read_timeout_ms == 0 {
            return Err(ConfigError::Invalid("header_read_timeout_ms and body_read_timeout_ms must be at least 1"));
        }
        if config.concurrency_limit == 0 {
            return Err(ConfigError::Invalid("concurrency_limit must be at least 1"));
        }
        if config.request_timeout_ms == 0 {
            return Err(ConfigError::Invalid("request_timeout_ms must be at least 1"));
        }
        if config.admin_token.as_ref().is_some_and(|token| token.len() < 16) {
            return Err(ConfigError::Invalid("admin_token must be at least 16 characters"));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_which_wins_over_defaults() {
        let file: PartialConfig =
            toml::from_str("addr = \"127.0.0.1:9000\"\nconcurrency_limit = 8\npoll_interval_secs = 0\n").unwrap();
        let overrides = PartialConfig { addr: Some("127.0.0.1:9100".parse().unwrap()), ..PartialConfig::default() };
        let config = ServeConfig::resolve(overrides, file).unwrap();
        assert_eq!(config.addr.port(), 9100);
        assert_eq!(config.concurrency_limit, 8);
        assert_eq!(config.poll_interval_secs, 0);
        assert_eq!(config.request_timeout_ms, 2_000);
        assert!(toml::from_str::<PartialConfig>("colour = 1").is_err(), "unknown keys are refused");
        let short = PartialConfig { admin_token: Some("short".into()), ..PartialConfig::default() };
        assert!(ServeConfig::resolve(short, PartialConfig::default()).is_err());
        let tiles: PartialConfig = toml::from_str("basemap_url = \"https://t.example.fr/{z}/{x}/{y}.png\"\n").unwrap();
        let config = ServeConfig::resolve(PartialConfig::default(), tiles).unwrap();
        assert_eq!(config.basemap_url.as_deref(), Some("https://t.example.fr/{z}/{x}/{y}.png"));
        let no_placeholders: PartialConfig = toml::from_str("basemap_url = \"https://t.example.fr/tiles\"\n").unwrap();
        assert!(ServeConfig::resolve(PartialConfig::default(), no_placeholders).is_err(), "a tile URL is checked");
    }

    #[test]
    fn a_cluster_is_a_list_of_urls_with_its_replicas_and_lag() {
        let file: PartialConfig = toml::from_str(
            "cluster = [\"nats://a:4222\", \"nats://b:4222,nats://c:4222\"]\ncluster_replicas = 3\ncluster_max_lag = 50\n",
        )
        .unwrap();
        let cluster = ServeConfig::resolve(PartialConfig::default(), file).unwrap().cluster.unwrap();
        assert_eq!(cluster.urls, ["nats://a:4222", "nats://b:4222", "nats://c:4222"]);
        assert_eq!((cluster.replicas, cluster.max_lag), (3, 50));
        assert_eq!(ServeConfig::resolve(PartialConfig::default(), PartialConfig::default()).unwrap().cluster, None);
        let too_many: PartialConfig = toml::from_str("cluster = [\"nats://a:4222\"]\ncluster_replicas = 7\n").unwrap();
        assert!(ServeConfig::resolve(PartialConfig::default(), too_many).is_err());
        let with_sync: PartialConfig = toml::from_str("cluster = [\"nats://a:4222\"]\nsync = \"sync.toml\"\n").unwrap();
        assert!(ServeConfig::resolve(PartialConfig::default(), with_sync).is_err(), "a replica does not sync");
    }

    #[test]
    fn flags_and_file_are_one_struct() {
        use clap::Parser;
        #[derive(Debug, Parser)]
        struct Cli {
            #[command(flatten)]
            settings: PartialConfig,
        }
        let flags = Cli::try_parse_from(["serve", "--addr", "127.0.0.1:9100", "--max-body-bytes", "1024"]).unwrap();
        let file: PartialConfig =
            toml::from_str("addr = \"127.0.0.1:9000\"\nmax_body_bytes = 9\nrequest_timeout_ms = 50\n").unwrap();
        let config = ServeConfig::resolve(flags.settings, file).unwrap();
        assert_eq!(config.addr.port(), 9100, "a flag wins over the file");
        assert_eq!(config.max_body_bytes, 1024);
        assert_eq!(config.request_timeout_ms, 50, "the file wins over the default");
        assert_eq!(config.concurrency_limit, ServeConfig::default().concurrency_limit, "then the default");
    }
}
