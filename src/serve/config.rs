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
    pub addr: SocketAddr,
    /// Feed and communes to build a first snapshot from when the index has none.
    pub bootstrap_feed: PathBuf,
    pub bootstrap_communes: PathBuf,
    /// Largest request body, bytes.
    pub max_body_bytes: usize,
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
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            index_dir: PathBuf::from("index"),
            initial_snapshot: None,
            addr: "127.0.0.1:8080".parse().expect("valid default address"),
            bootstrap_feed: PathBuf::from("data-samples/ror-feed.ndjson.gz"),
            bootstrap_communes: PathBuf::from("data-samples/communes.csv.gz"),
            max_body_bytes: 64 * 1024,
            request_timeout_ms: 2_000,
            concurrency_limit: 1_024,
            poll_interval_secs: 5,
            admin_token: None,
            cors_origins: Vec::new(),
        }
    }
}

/// The TOML file: every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub index: Option<PathBuf>,
    pub addr: Option<SocketAddr>,
    pub bootstrap_feed: Option<PathBuf>,
    pub bootstrap_communes: Option<PathBuf>,
    pub max_body_bytes: Option<usize>,
    pub request_timeout_ms: Option<u64>,
    pub concurrency_limit: Option<usize>,
    pub poll_interval_secs: Option<u64>,
    pub admin_token: Option<String>,
    pub cors_origins: Option<Vec<String>>,
}

impl FileConfig {
    /// Reads a TOML configuration file.
    pub fn read(path: &Path) -> Result<FileConfig, String> {
        let text = std::fs::read_to_string(path).map_err(|error| format!("{}: {error}", path.display()))?;
        toml::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))
    }
}

/// Values given on the command line or in the environment (`None` when absent).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub index: Option<PathBuf>,
    pub addr: Option<SocketAddr>,
    pub bootstrap_feed: Option<PathBuf>,
    pub bootstrap_communes: Option<PathBuf>,
    pub max_body_bytes: Option<usize>,
    pub request_timeout_ms: Option<u64>,
    pub concurrency_limit: Option<usize>,
    pub poll_interval_secs: Option<u64>,
    pub admin_token: Option<String>,
    pub cors_origins: Option<Vec<String>>,
}

impl ServeConfig {
    /// Merges overrides over a file over the defaults.
    pub fn resolve(overrides: Overrides, file: FileConfig) -> Result<ServeConfig, String> {
        let defaults = ServeConfig::default();
        let mut index_dir = overrides.index.or(file.index).unwrap_or(defaults.index_dir);
        let mut initial_snapshot = None;
        // `--index` may name a snapshot itself: serve it, and watch its parent.
        if index_dir.join(crate::snapshot::MANIFEST_FILE).is_file() {
            initial_snapshot = Some(index_dir.clone());
            index_dir = index_dir.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
        }
        let config = ServeConfig {
            index_dir,
            initial_snapshot,
            addr: overrides.addr.or(file.addr).unwrap_or(defaults.addr),
            bootstrap_feed: overrides.bootstrap_feed.or(file.bootstrap_feed).unwrap_or(defaults.bootstrap_feed),
            bootstrap_communes: overrides
                .bootstrap_communes
                .or(file.bootstrap_communes)
                .unwrap_or(defaults.bootstrap_communes),
            max_body_bytes: overrides.max_body_bytes.or(file.max_body_bytes).unwrap_or(defaults.max_body_bytes),
            request_timeout_ms: overrides
                .request_timeout_ms
                .or(file.request_timeout_ms)
                .unwrap_or(defaults.request_timeout_ms),
            concurrency_limit: overrides
                .concurrency_limit
                .or(file.concurrency_limit)
                .unwrap_or(defaults.concurrency_limit),
            poll_interval_secs: overrides
                .poll_interval_secs
                .or(file.poll_interval_secs)
                .unwrap_or(defaults.poll_interval_secs),
            admin_token: overrides.admin_token.or(file.admin_token).filter(|token| !token.is_empty()),
            cors_origins: overrides.cors_origins.or(file.cors_origins).unwrap_or_default(),
        };
        if config.concurrency_limit == 0 {
            return Err("concurrency_limit must be at least 1".into());
        }
        if config.request_timeout_ms == 0 {
            return Err("request_timeout_ms must be at least 1".into());
        }
        if config.admin_token.as_ref().is_some_and(|token| token.len() < 16) {
            return Err("admin_token must be at least 16 characters".into());
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_which_wins_over_defaults() {
        let file: FileConfig =
            toml::from_str("addr = \"127.0.0.1:9000\"\nconcurrency_limit = 8\npoll_interval_secs = 0\n").unwrap();
        let overrides = Overrides { addr: Some("127.0.0.1:9100".parse().unwrap()), ..Overrides::default() };
        let config = ServeConfig::resolve(overrides, file).unwrap();
        assert_eq!(config.addr.port(), 9100);
        assert_eq!(config.concurrency_limit, 8);
        assert_eq!(config.poll_interval_secs, 0);
        assert_eq!(config.request_timeout_ms, 2_000);
        assert!(toml::from_str::<FileConfig>("colour = 1").is_err(), "unknown keys are refused");
        let short = Overrides { admin_token: Some("short".into()), ..Overrides::default() };
        assert!(ServeConfig::resolve(short, FileConfig::default()).is_err());
    }
}
