//! The configuration of `ror-search sync` (a TOML file, a few flags over it).
//!
//! ```toml
//! base = "https://bas-api-fhir.qualif.ror.esante.gouv.fr/ws-diffusion-fhir"
//! token_url = "https://bas-auth-api.qualif.ror.esante.gouv.fr/auth/realms/ror/protocol/openid-connect/token"
//! client_id = "my-client"
//! client_secret_file = "/etc/ror-search/ror-secret"   # profile 0; or client_cert + client_key
//! delta_interval_secs = 300
//!
//! [ror_headers]
//! profil_utilisateur_code = "CU22"
//! profil_utilisateur_system = "1.2.250.1.213.1.6.1.66"
//! role_metier_code = "AUTOMATE"
//! role_metier_system = "1.2.250.1.213.1.1.4.6"
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// How the client authenticates.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// No token (an upstream without authentication: a test server, a local facade).
    None,
    /// A fixed bearer token (another ror-search's FHIR facade, with a key of its access file).
    Bearer(String),
    /// OAuth2 `client_credentials` with a secret (the ROR's profile 0).
    Secret {
        /// The token endpoint.
        token_url: String,
        /// The client id.
        client_id: String,
        /// The secret.
        client_secret: String,
    },
    /// OAuth2 `client_credentials` over mTLS, the certificate in place of the secret
    /// (RFC 8705; the ROR's profiles 1-5). The same certificate is presented to the API.
    Certificate {
        /// The token endpoint.
        token_url: String,
        /// The client id.
        client_id: String,
        /// PEM certificate chain.
        cert_file: PathBuf,
        /// PEM private key.
        key_file: PathBuf,
    },
}

/// The four headers the ROR wants on every read, with the values given at onboarding.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RorHeaders {
    /// `Ror-Profil-Utilisateur-Code` (e.g. `CU22`).
    pub profil_utilisateur_code: Option<String>,
    /// `Ror-Profil-Utilisateur-System` (`1.2.250.1.213.1.6.1.66`).
    pub profil_utilisateur_system: Option<String>,
    /// `Ror-Role-Metier-Code` (e.g. `AUTOMATE`).
    pub role_metier_code: Option<String>,
    /// `Ror-Role-Metier-System` (`1.2.250.1.213.1.1.4.6`).
    pub role_metier_system: Option<String>,
}

impl RorHeaders {
    /// The headers to send (the ones configured).
    pub(crate) fn pairs(&self) -> Vec<(String, String)> {
        [
            ("Ror-Profil-Utilisateur-Code", &self.profil_utilisateur_code),
            ("Ror-Profil-Utilisateur-System", &self.profil_utilisateur_system),
            ("Ror-Role-Metier-Code", &self.role_metier_code),
            ("Ror-Role-Metier-System", &self.role_metier_system),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.as_ref().map(|value| (name.to_owned(), value.clone())))
        .collect()
    }
}

/// How the whole offer is pulled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FullPullMode {
    /// `$export`, falling back to paged searches when the server does not offer it.
    Export,
    /// Paged searches only (following `next` links).
    Paged,
}

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    base: Option<String>,
    token_url: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_secret_file: Option<PathBuf>,
    client_cert: Option<PathBuf>,
    client_key: Option<PathBuf>,
    bearer_token: Option<String>,
    ca_file: Option<PathBuf>,
    #[serde(default)]
    ror_headers: RorHeaders,
    full_pull: Option<FullPullMode>,
    export_types: Option<String>,
    export_parameters: Option<String>,
    page_size: Option<u32>,
    delta_interval_secs: Option<u64>,
    full_resync_interval_secs: Option<u64>,
    overlap_secs: Option<i64>,
    timeout_secs: Option<u64>,
    export_timeout_secs: Option<u64>,
    retries: Option<u32>,
    backoff_initial_ms: Option<u64>,
    backoff_max_secs: Option<u64>,
    communes: Option<PathBuf>,
    keep_snapshots: Option<usize>,
    live_url: Option<String>,
    live_token: Option<String>,
}

/// The sync's settings, resolved.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// The FHIR base of the upstream (`.../ws-diffusion-fhir` on the ROR sandbox).
    pub base: String,
    /// How to authenticate.
    pub credentials: Credentials,
    /// A PEM bundle of CAs to trust instead of the Mozilla roots (the IGC-Santé chain).
    pub ca_file: Option<PathBuf>,
    /// The `Ror-*` headers.
    pub ror_headers: RorHeaders,
    /// `$export` or paged searches.
    pub full_pull: FullPullMode,
    /// `_type` of the `$export` kick-off.
    pub export_types: String,
    /// More kick-off parameters, as a query string (`includeAssociatedData=_myCompleteExtract`).
    pub export_parameters: String,
    /// `_count` of paged searches.
    pub page_size: u32,
    /// Seconds between two delta pulls.
    pub delta_interval_secs: u64,
    /// Seconds between two full pulls (the ROR advises at least weekly).
    pub full_resync_interval_secs: u64,
    /// How far before the high-water mark a delta asks (clock skew, writes in flight), seconds.
    pub overlap_secs: i64,
    /// Timeout of one call, seconds.
    pub timeout_secs: u64,
    /// How long an export job may stay in progress before the pull gives up, seconds.
    pub export_timeout_secs: u64,
    /// Retries of one call.
    pub retries: u32,
    /// First backoff, milliseconds (doubled each retry).
    pub backoff_initial_ms: u64,
    /// Longest backoff, seconds.
    pub backoff_max_secs: u64,
    /// The communes table of the snapshots.
    pub communes: PathBuf,
    /// Snapshots the sync keeps in the index (the served one, one to roll back to...).
    pub keep_snapshots: usize,
    /// Where capacity-only changes go when a server runs beside the sync: its base URL
    /// (`POST /v1/capacity`); without it they wait for the next snapshot.
    pub live_url: Option<String>,
    /// The bearer token for `live_url` (a key with the capacity-writer role).
    pub live_token: Option<String>,
}

impl SyncConfig {
    /// Defaults for `base` (no authentication, no headers).
    pub fn new(base: impl Into<String>) -> SyncConfig {
        SyncConfig {
            base: base.into(),
            credentials: Credentials::None,
            ca_file: None,
            ror_headers: RorHeaders::default(),
            full_pull: FullPullMode::Export,
            export_types: "HealthcareService".into(),
            export_parameters: "includeAssociatedData=_myCompleteExtract".into(),
            page_size: 1000,
            delta_interval_secs: 300,
            full_resync_interval_secs: 7 * 86_400,
            overlap_secs: 120,
            timeout_secs: 60,
            export_timeout_secs: 6 * 3600,
            retries: 8,
            backoff_initial_ms: 500,
            backoff_max_secs: 120,
            communes: PathBuf::from("data-samples/communes.csv.gz"),
            keep_snapshots: 3,
            live_url: None,
            live_token: None,
        }
    }

    /// Reads a TOML file; `base` (the `--base` flag) wins over the file's. The secret may
    /// also come from `ROR_SEARCH_SYNC_CLIENT_SECRET`.
    pub fn load(path: Option<&Path>, base: Option<String>) -> Result<SyncConfig, String> {
        let file: File = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|error| format!("{}: {error}", path.display()))?;
                toml::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))?
            }
            None => toml::from_str("").map_err(|error| error.to_string())?,
        };
        let base = base.or(file.base).ok_or("no upstream: give --base or `base` in the configuration")?;
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(format!("base {base:?}: expected an http:// or https:// URL"));
        }
        let mut config = SyncConfig::new(base);
        let secret = match (file.client_secret, &file.client_secret_file) {
            (Some(secret), _) => Some(secret),
            (None, Some(path)) => Some(
                std::fs::read_to_string(path)
                    .map_err(|error| format!("client_secret_file {}: {error}", path.display()))?
                    .trim()
                    .to_owned(),
            ),
            (None, None) => std::env::var("ROR_SEARCH_SYNC_CLIENT_SECRET").ok(),
        };
        let bearer = file.bearer_token.or_else(|| std::env::var("ROR_SEARCH_SYNC_BEARER_TOKEN").ok());
        config.credentials = match (file.token_url, file.client_id, file.client_cert, file.client_key) {
            (None, None, None, None) => bearer.map_or(Credentials::None, Credentials::Bearer),
            (Some(token_url), Some(client_id), Some(cert_file), Some(key_file)) => {
                Credentials::Certificate { token_url, client_id, cert_file, key_file }
            }
            (Some(token_url), Some(client_id), None, None) => {
                let client_secret = secret.ok_or(
                    "client_id without a secret: give client_secret_file (or ROR_SEARCH_SYNC_CLIENT_SECRET), \
                     or client_cert and client_key for mTLS",
                )?;
                Credentials::Secret { token_url, client_id, client_secret }
            }
            (_, _, Some(_), None) | (_, _, None, Some(_)) => {
                return Err("client_cert and client_key go together".into());
            }
            _ => return Err("token_url and client_id go together".into()),
        };
        config.ca_file = file.ca_file;
        config.ror_headers = file.ror_headers;
        if let Some(mode) = file.full_pull {
            config.full_pull = mode;
        }
        if let Some(types) = file.export_types {
            config.export_types = types;
        }
        if let Some(parameters) = file.export_parameters {
            config.export_parameters = parameters;
        }
        if let Some(page_size) = file.page_size {
            if page_size == 0 {
                return Err("page_size: expected at least 1".into());
            }
            config.page_size = page_size;
        }
        macro_rules! set {
            ($($field:ident),*) => { $(if let Some(value) = file.$field { config.$field = value; })* };
        }
        set!(
            delta_interval_secs,
            full_resync_interval_secs,
            overlap_secs,
            timeout_secs,
            export_timeout_secs,
            retries,
            backoff_initial_ms,
            backoff_max_secs,
            communes,
            keep_snapshots
        );
        config.keep_snapshots = config.keep_snapshots.max(2);
        config.live_url = file.live_url;
        config.live_token = file.live_token;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_with_a_secret_and_headers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sync.toml");
        std::fs::write(
            &path,
            "base = \"https://example.test/fhir\"\ntoken_url = \"https://auth.test/token\"\nclient_id = \"me\"\n\
             client_secret = \"s\"\ndelta_interval_secs = 60\n[ror_headers]\nrole_metier_code = \"AUTOMATE\"\n",
        )
        .unwrap();
        let config = SyncConfig::load(Some(&path), None).unwrap();
        assert!(matches!(config.credentials, Credentials::Secret { ref client_id, .. } if client_id == "me"));
        assert_eq!(config.delta_interval_secs, 60);
        assert_eq!(config.ror_headers.pairs(), vec![("Ror-Role-Metier-Code".to_owned(), "AUTOMATE".to_owned())]);
        let config = SyncConfig::load(Some(&path), Some("http://127.0.0.1:1/fhir".into())).unwrap();
        assert_eq!(config.base, "http://127.0.0.1:1/fhir");
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sync.toml");
        for (text, expected) in [
            ("", "no upstream"),
            ("base = \"ftp://x\"", "http"),
            ("base = \"http://x\"\ntoken_url = \"http://t\"", "go together"),
            ("base = \"http://x\"\nclient_cert = \"c.pem\"", "go together"),
            ("base = \"http://x\"\nbogus = 1", "unknown field"),
        ] {
            std::fs::write(&path, text).unwrap();
            let error = SyncConfig::load(Some(&path), None).unwrap_err();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }
}
