//! Who is calling: clients declared in an access file (API keys, client certificates), OAuth2
//! bearer JWTs, the admin token, or anonymous callers; their access profiles (`model::access`)
//! and roles; per-client and global rate limits; the audit log. No HTTP here: the HTTP layer
//! hands [`Credentials`] in and gets a [`Caller`] or an [`AuthError`] out.
//!
//! The access file (TOML, reloaded without restart when it changes):
//!
//! ```toml
//! allow_anonymous = true              # anonymous callers get `anonymous_profiles` (default [0])
//! anonymous_requests_per_second = 20  # per remote address
//! global_requests_per_second = 5000   # all callers together
//!
//! [[client]]
//! name = "samu-75"
//! key_sha256 = "<hex sha256 of the API key>"   # Authorization: Bearer <key>, or X-API-Key
//! cert_sha256 = "<hex sha256 of the DER client certificate>"   # mutual TLS
//! profiles = [1]
//! roles = ["read", "capacity_write"]            # read, capacity_write, admin, metrics
//! requests_per_second = 200
//!
//! [jwt]
//! jwks_file = "jwks.json"             # relative to the access file
//! issuer = "https://auth.example/realms/ror"
//! audience = "ror-search"
//! profiles_claim = "ror_profiles"     # a number, an array of numbers, or "1 4"
//! roles_claim = "roles"               # an array, or a space-separated string (OAuth scope)
//! ```

pub mod audit;
pub(crate) mod jwt;
pub(crate) mod limit;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::model::access::{Profile, ProfileSet};

/// What a caller may do, besides what its profiles let it see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The search and lookup routes.
    Read,
    /// The capacity writes (the ROR bed-management PATCH, `POST /v1/capacity`).
    CapacityWrite,
    /// Snapshot reload and rollback, the data-quality report (and what `metrics` gives).
    Admin,
    /// `/metrics` (a Prometheus scraper): counts of the snapshot and of the requests.
    Metrics,
}

impl Role {
    /// The role as the configuration writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::CapacityWrite => "capacity_write",
            Role::Admin => "admin",
            Role::Metrics => "metrics",
        }
    }

    fn parse(text: &str) -> Option<Role> {
        match text {
            "read" => Some(Role::Read),
            "capacity_write" => Some(Role::CapacityWrite),
            "admin" => Some(Role::Admin),
            "metrics" => Some(Role::Metrics),
            _ => None,
        }
    }
}

/// A set of roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Roles(u8);

impl Roles {
    /// Every role.
    pub const ALL: Roles = Roles(0b1111);

    /// The set of some roles.
    pub fn of(roles: impl IntoIterator<Item = Role>) -> Roles {
        Roles(roles.into_iter().fold(0, |bits, role| bits | 1 << role as u8))
    }

    /// Whether the set allows `role` (`admin` allows `metrics` too).
    pub fn has(self, role: Role) -> bool {
        self.0 >> role as u8 & 1 == 1 || (role == Role::Metrics && self.has(Role::Admin))
    }
}

/// How a caller proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// No credential (`allow_anonymous`).
    Anonymous,
    /// An API key of a declared client.
    ApiKey,
    /// A client certificate of a declared client (mutual TLS).
    Certificate,
    /// An OAuth2 bearer JWT.
    Jwt,
    /// The server's admin token.
    AdminToken,
}

impl Method {
    /// The method's name in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Anonymous => "anonymous",
            Method::ApiKey => "api_key",
            Method::Certificate => "certificate",
            Method::Jwt => "jwt",
            Method::AdminToken => "admin_token",
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The client's name (`anonymous`, `admin`, a declared client, or `jwt:<subject>`).
    pub name: Arc<str>,
    /// The access profiles it holds.
    pub profiles: ProfileSet,
    /// What it may do.
    pub roles: Roles,
    /// How it authenticated.
    pub method: Method,
    /// Its own rate limit, if any.
    pub(crate) limit: limit::Limit,
}

/// What the HTTP layer saw of a request's credentials.
#[derive(Debug, Clone, Copy, Default)]
pub struct Credentials<'a> {
    /// `Authorization: Bearer <token>` (an API key, a JWT or the admin token).
    pub bearer: Option<&'a str>,
    /// `X-API-Key: <key>`.
    pub api_key: Option<&'a str>,
    /// SHA-256 of the DER client certificate the TLS handshake verified.
    pub certificate_sha256: Option<[u8; 32]>,
    /// The remote address (for the anonymous rate limit).
    pub remote: Option<IpAddr>,
}

/// Why a request is refused before its handler.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No credential, and anonymous callers are refused.
    #[error("credentials required (Authorization: Bearer <API key or token>, X-API-Key, or a client certificate)")]
    Missing,
    /// A credential that matches no client, or a token that does not verify.
    #[error("{0}")]
    Invalid(String),
    /// Over a rate limit: retry after this many seconds.
    #[error("rate limit exceeded: retry in {0} s")]
    RateLimited(u64),
}

/// Why an access file is refused.
#[derive(Debug, thiserror::Error)]
pub enum AccessFileError {
    /// The file cannot be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not valid TOML of the expected keys.
    #[error("{}: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: Box<toml::de::Error>,
    },
    /// A value is wrong.
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccessFile {
    #[serde(default)]
    allow_anonymous: bool,
    #[serde(default = "public_profile")]
    anonymous_profiles: Vec<u8>,
    anonymous_requests_per_second: Option<u32>,
    global_requests_per_second: Option<u32>,
    #[serde(default)]
    client: Vec<ClientEntry>,
    jwt: Option<jwt::JwtEntry>,
}

fn public_profile() -> Vec<u8> {
    vec![0]
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientEntry {
    name: String,
    key_sha256: Option<String>,
    cert_sha256: Option<String>,
    profiles: Vec<u8>,
    roles: Vec<Role>,
    requests_per_second: Option<u32>,
}

/// A declared client.
#[derive(Debug)]
struct Client {
    key_sha256: Option<[u8; 32]>,
    cert_sha256: Option<[u8; 32]>,
    caller: Caller,
}

/// Who may call, and how much: the access file compiled, plus the admin token.
#[derive(Debug)]
pub struct AccessPolicy {
    allow_anonymous: bool,
    anonymous: Caller,
    clients: Vec<Client>,
    admin: Option<(String, Caller)>,
    jwt: Option<jwt::JwtVerifier>,
    limits: limit::Limits,
    /// The file it was read from, if any.
    pub source: Option<PathBuf>,
}

/// SHA-256 of a text, as bytes.
pub fn sha256(text: &[u8]) -> [u8; 32] {
    Sha256::digest(text).into()
}

/// Equality of two byte strings in time independent of where they differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hex32(text: &str, what: &str) -> Result<[u8; 32], String> {
    let bytes = hex::decode(text.trim()).map_err(|error| format!("{what}: not hexadecimal ({error})"))?;
    bytes.try_into().map_err(|_| format!("{what}: expected 64 hexadecimal digits (a SHA-256)"))
}

fn profiles_of(numbers: &[u8], what: &str) -> Result<ProfileSet, String> {
    if numbers.is_empty() {
        return Err(format!("{what}: no profile (give at least one of 0 to 5)"));
    }
    numbers.iter().try_fold(ProfileSet::NONE, |set, &number| {
        Profile::try_from(number).map(|profile| set.with(profile)).map_err(|error| format!("{what}: {error}"))
    })
}

impl AccessPolicy {
    /// The policy without an access file: anonymous callers allowed with profile 0, and the
    /// admin token (every role, profile 1) when one is configured.
    pub fn open(admin_token: Option<&str>) -> AccessPolicy {
        AccessPolicy {
            allow_anonymous: true,
            anonymous: anonymous_caller(ProfileSet::of(Profile::Public)),
            clients: Vec::new(),
            admin: admin_token.map(admin_caller),
            jwt: None,
            limits: limit::Limits::none(),
            source: None,
        }
    }

    /// The policy that admits nobody (an access file that cannot be read: fail closed).
    pub fn closed() -> AccessPolicy {
        AccessPolicy { allow_anonymous: false, admin: None, ..AccessPolicy::open(None) }
    }

    /// Reads and checks an access file (the JWKS it names too).
    pub fn read(path: &Path, admin_token: Option<&str>) -> Result<AccessPolicy, AccessFileError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| AccessFileError::Read { path: path.to_owned(), source })?;
        let file: AccessFile = toml::from_str(&text)
            .map_err(|source| AccessFileError::Parse { path: path.to_owned(), source: Box::new(source) })?;
        let invalid = |message: String| AccessFileError::Invalid { path: path.to_owned(), message };
        let mut clients = Vec::with_capacity(file.client.len());
        let mut names = std::collections::HashSet::new();
        for entry in file.client {
            let what = format!("client {:?}", entry.name);
            if entry.name.trim().is_empty() {
                return Err(invalid("a client has an empty name".into()));
            }
            if !names.insert(entry.name.clone()) {
                return Err(invalid(format!("{what} is declared twice")));
            }
            let digest = |hex: &Option<String>, field: &str| {
                hex.as_deref().map(|hex| hex32(hex, &format!("{what} {field}"))).transpose().map_err(invalid)
            };
            let key_sha256 = digest(&entry.key_sha256, "key_sha256")?;
            let cert_sha256 = digest(&entry.cert_sha256, "cert_sha256")?;
            if key_sha256.is_none() && cert_sha256.is_none() {
                return Err(invalid(format!("{what} has neither key_sha256 nor cert_sha256")));
            }
            if key_sha256.is_some_and(|key| clients.iter().any(|client: &Client| client.key_sha256 == Some(key))) {
                return Err(invalid(format!("{what} has the key of another client")));
            }
            let profiles = profiles_of(&entry.profiles, &what).map_err(invalid)?;
            clients.push(Client {
                key_sha256,
                cert_sha256,
                caller: Caller {
                    name: entry.name.as_str().into(),
                    profiles,
                    roles: Roles::of(entry.roles.iter().copied()),
                    method: Method::ApiKey,
                    limit: limit::Limit::per_second(entry.requests_per_second)
                        .map_err(|message| invalid(format!("{what}: {message}")))?,
                },
            });
        }
        let anonymous_profiles = profiles_of(&file.anonymous_profiles, "anonymous_profiles").map_err(invalid)?;
        let base = path.parent().unwrap_or(Path::new("."));
        let jwt = file.jwt.map(|entry| jwt::JwtVerifier::new(entry, base)).transpose().map_err(invalid)?;
        let limits = limit::Limits::new(file.global_requests_per_second, file.anonymous_requests_per_second);
        Ok(AccessPolicy {
            allow_anonymous: file.allow_anonymous,
            anonymous: anonymous_caller(anonymous_profiles),
            clients,
            admin: admin_token.map(admin_caller),
            jwt,
            limits: limits.map_err(invalid)?,
            source: Some(path.to_owned()),
        })
    }

    /// Who is calling, or why the request is refused. Every credential given must be valid: a
    /// wrong key is a 401, never an anonymous call.
    pub fn authenticate(&self, credentials: &Credentials<'_>) -> Result<Caller, AuthError> {
        if let Some(token) = credentials.bearer {
            if let Some((admin_token, caller)) = &self.admin
                && constant_time_eq(token.as_bytes(), admin_token.as_bytes())
            {
                return Ok(caller.clone());
            }
            if jwt::looks_like_jwt(token) {
                return match &self.jwt {
                    Some(verifier) => verifier.verify(token),
                    None => Err(AuthError::Invalid("bearer JWTs are not accepted by this server".into())),
                };
            }
            return self.by_key(token);
        }
        if let Some(key) = credentials.api_key {
            return self.by_key(key);
        }
        if let Some(fingerprint) = credentials.certificate_sha256 {
            return self
                .clients
                .iter()
                .find(|client| client.cert_sha256.is_some_and(|cert| constant_time_eq(&cert, &fingerprint)))
                .map(|client| Caller { method: Method::Certificate, ..client.caller.clone() })
                .ok_or_else(|| AuthError::Invalid("the client certificate belongs to no declared client".into()));
        }
        if self.allow_anonymous { Ok(self.anonymous.clone()) } else { Err(AuthError::Missing) }
    }

    /// The client of an API key: every declared key is compared (in constant time), so the
    /// time taken does not tell which one nearly matched.
    fn by_key(&self, key: &str) -> Result<Caller, AuthError> {
        let hash = sha256(key.as_bytes());
        let mut found = None;
        for client in &self.clients {
            if client.key_sha256.is_some_and(|known| constant_time_eq(&known, &hash)) {
                found = Some(client);
            }
        }
        found.map(|client| client.caller.clone()).ok_or_else(|| AuthError::Invalid("unknown API key".into()))
    }

    /// Takes one request from the caller's budgets (its own, anonymous per address, global).
    pub fn admit(&self, caller: &Caller, remote: Option<IpAddr>) -> Result<(), AuthError> {
        self.limits.admit(caller, remote).map_err(AuthError::RateLimited)
    }
}

fn anonymous_caller(profiles: ProfileSet) -> Caller {
    Caller {
        name: "anonymous".into(),
        profiles,
        roles: Roles::of([Role::Read]),
        method: Method::Anonymous,
        limit: limit::Limit::None,
    }
}

fn admin_caller(token: &str) -> (String, Caller) {
    (
        token.to_owned(),
        Caller {
            name: "admin".into(),
            profiles: ProfileSet::of(Profile::Full),
            roles: Roles::ALL,
            method: Method::AdminToken,
            limit: limit::Limit::None,
        },
    )
}

/// Parses a role name (for JWT claims).
pub(crate) fn role_of(text: &str) -> Option<Role> {
    Role::parse(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("access.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn keys_certificates_admin_and_anonymous() {
        let dir = tempfile::tempdir().unwrap();
        let key = hex::encode(sha256(b"samu-secret"));
        let cert = hex::encode(sha256(b"a certificate"));
        let path = write(
            dir.path(),
            &format!(
                "allow_anonymous = false\n[[client]]\nname = \"samu-75\"\nkey_sha256 = \"{key}\"\nprofiles = [1]\nroles = [\"read\", \"capacity_write\"]\n[[client]]\nname = \"via\"\ncert_sha256 = \"{cert}\"\nprofiles = [2, 4]\nroles = [\"read\"]\n"
            ),
        );
        let policy = AccessPolicy::read(&path, Some("admin-token-0123456789")).unwrap();
        let by = |credentials: Credentials<'_>| policy.authenticate(&credentials);
        let samu = by(Credentials { bearer: Some("samu-secret"), ..Default::default() }).unwrap();
        assert_eq!(
            (&*samu.name, samu.profiles, samu.method),
            ("samu-75", ProfileSet::of(Profile::Full), Method::ApiKey)
        );
        assert!(samu.roles.has(Role::CapacityWrite) && !samu.roles.has(Role::Admin));
        let same = by(Credentials { api_key: Some("samu-secret"), ..Default::default() }).unwrap();
        assert_eq!(&*same.name, "samu-75");
        let via = by(Credentials { certificate_sha256: Some(sha256(b"a certificate")), ..Default::default() }).unwrap();
        assert_eq!((&*via.name, via.profiles.to_string(), via.method), ("via", "2,4".into(), Method::Certificate));
        assert!(matches!(by(Credentials { bearer: Some("wrong"), ..Default::default() }), Err(AuthError::Invalid(_))));
        assert!(matches!(
            by(Credentials { certificate_sha256: Some(sha256(b"other")), ..Default::default() }),
            Err(AuthError::Invalid(_))
        ));
        assert_eq!(by(Credentials::default()).unwrap_err(), AuthError::Missing);
        let admin = by(Credentials { bearer: Some("admin-token-0123456789"), ..Default::default() }).unwrap();
        assert!(admin.roles.has(Role::Admin) && admin.profiles.contains(Profile::Full));
        let open = AccessPolicy::open(None);
        let anonymous = open.authenticate(&Credentials::default()).unwrap();
        assert_eq!((anonymous.profiles, anonymous.method), (ProfileSet::of(Profile::Public), Method::Anonymous));
        assert!(anonymous.roles.has(Role::Read) && !anonymous.roles.has(Role::CapacityWrite));
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let key = hex::encode(sha256(b"k"));
        for (text, expected) in [
            ("colour = 1\n", "unknown field"),
            (
                &*format!("[[client]]\nname = \"a\"\nkey_sha256 = \"{key}\"\nprofiles = [6]\nroles = [\"read\"]\n"),
                "not a ROR access profile",
            ),
            (
                &*format!("[[client]]\nname = \"a\"\nkey_sha256 = \"{key}\"\nprofiles = []\nroles = [\"read\"]\n"),
                "no profile",
            ),
            (
                "[[client]]\nname = \"a\"\nkey_sha256 = \"abcd\"\nprofiles = [1]\nroles = [\"read\"]\n",
                "64 hexadecimal digits",
            ),
            ("[[client]]\nname = \"a\"\nprofiles = [1]\nroles = [\"read\"]\n", "neither key_sha256 nor cert_sha256"),
            (
                &*format!("[[client]]\nname = \"a\"\nkey_sha256 = \"{key}\"\nprofiles = [1]\nroles = [\"write\"]\n"),
                "unknown variant",
            ),
            (
                &*format!(
                    "[[client]]\nname = \"a\"\nkey_sha256 = \"{key}\"\nprofiles = [1]\nroles = []\n[[client]]\nname = \"a\"\nkey_sha256 = \"{key}\"\nprofiles = [1]\nroles = []\n"
                ),
                "declared twice",
            ),
            (
                &*format!(
                    "[[client]]\nname = \"a\"\nkey_sha256 = \"{key}\"\nprofiles = [1]\nroles = []\nrequests_per_second = 0\n"
                ),
                "at least 1",
            ),
        ] {
            let path = write(dir.path(), text);
            let error = AccessPolicy::read(&path, None).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
