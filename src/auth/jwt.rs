//! OAuth2 bearer JWTs: RS256 or ES256 signatures checked against the keys of a JWKS file,
//! issuer, audience and expiry checked (`jsonwebtoken`), the caller's profiles and roles read
//! from configured claims. `alg: none`, HMAC and any algorithm not configured are refused.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

use super::{AuthError, Caller, Method, Roles, limit, role_of};
use crate::model::access::{Profile, ProfileSet};

/// The `[jwt]` table of the access file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JwtEntry {
    /// The JWKS (a JSON `{"keys": [...]}`), relative to the access file.
    jwks_file: PathBuf,
    /// Expected `iss`.
    issuer: String,
    /// Expected `aud` (one of).
    audience: String,
    /// Claim holding the access profiles.
    #[serde(default = "default_profiles_claim")]
    profiles_claim: String,
    /// Claim holding the roles.
    #[serde(default = "default_roles_claim")]
    roles_claim: String,
    /// Claim naming the client (for logs, the audit and its rate limit).
    #[serde(default = "default_client_claim")]
    client_claim: String,
    /// Accepted algorithms (`RS256`, `ES256`).
    #[serde(default = "default_algorithms")]
    algorithms: Vec<String>,
    /// Clock skew allowed on `exp` / `nbf`, seconds.
    #[serde(default = "default_leeway")]
    leeway_secs: u64,
    /// Budget of each JWT client (by its `client_claim`), requests a second.
    requests_per_second: Option<u32>,
}

fn default_profiles_claim() -> String {
    "ror_profiles".into()
}
fn default_roles_claim() -> String {
    "roles".into()
}
fn default_client_claim() -> String {
    "sub".into()
}
fn default_algorithms() -> Vec<String> {
    vec!["RS256".into(), "ES256".into()]
}
fn default_leeway() -> u64 {
    30
}

/// A compiled `[jwt]` configuration.
pub(crate) struct JwtVerifier {
    keys: Vec<(Option<String>, Algorithm, DecodingKey)>,
    validation: Validation,
    profiles_claim: String,
    roles_claim: String,
    client_claim: String,
    limit: limit::Limit,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier").field("keys", &self.keys.len()).finish_non_exhaustive()
    }
}

/// Whether a bearer token has the shape of a JWS compact serialisation (three base64url parts).
pub(crate) fn looks_like_jwt(token: &str) -> bool {
    let mut parts = 0;
    for part in token.split('.') {
        parts += 1;
        if part.is_empty() && parts < 3
            || !part.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
        {
            return false;
        }
    }
    parts == 3
}

fn algorithm_of(name: &str) -> Result<Algorithm, String> {
    match name {
        "RS256" => Ok(Algorithm::RS256),
        "ES256" => Ok(Algorithm::ES256),
        other => Err(format!("jwt.algorithms: {other:?} is not accepted (RS256 or ES256)")),
    }
}

impl JwtVerifier {
    pub(crate) fn new(entry: JwtEntry, base: &Path) -> Result<JwtVerifier, String> {
        let path = base.join(&entry.jwks_file);
        let text =
            std::fs::read_to_string(&path).map_err(|error| format!("jwt.jwks_file {}: {error}", path.display()))?;
        let set: JwkSet =
            serde_json::from_str(&text).map_err(|error| format!("jwt.jwks_file {}: {error}", path.display()))?;
        let algorithms = entry.algorithms.iter().map(|name| algorithm_of(name)).collect::<Result<Vec<_>, _>>()?;
        if algorithms.is_empty() {
            return Err("jwt.algorithms: empty".into());
        }
        let mut keys = Vec::new();
        for jwk in &set.keys {
            let algorithm = match &jwk.algorithm {
                jsonwebtoken::jwk::AlgorithmParameters::RSA(_) => Algorithm::RS256,
                jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_) => Algorithm::ES256,
                _ => continue, // symmetric and other keys are never used
            };
            let key =
                DecodingKey::from_jwk(jwk).map_err(|error| format!("jwt.jwks_file {}: {error}", path.display()))?;
            keys.push((jwk.common.key_id.clone(), algorithm, key));
        }
        if keys.is_empty() {
            return Err(format!("jwt.jwks_file {}: no RSA or EC key", path.display()));
        }
        let mut validation = Validation::new(algorithms[0]);
        validation.algorithms = algorithms;
        validation.set_issuer(&[&entry.issuer]);
        validation.set_audience(&[&entry.audience]);
        validation.leeway = entry.leeway_secs;
        validation.validate_nbf = true;
        validation.required_spec_claims = ["exp", "iss", "aud"].into_iter().map(String::from).collect();
        let limit = match entry.requests_per_second {
            Some(rate) => {
                let quota = governor::Quota::per_second(
                    std::num::NonZeroU32::new(rate).ok_or("jwt.requests_per_second must be at least 1")?,
                );
                limit::Limit::Keyed(Arc::new(governor::RateLimiter::keyed(quota)))
            }
            None => limit::Limit::None,
        };
        Ok(JwtVerifier {
            keys,
            validation,
            profiles_claim: entry.profiles_claim,
            roles_claim: entry.roles_claim,
            client_claim: entry.client_claim,
            limit,
        })
    }

    /// The caller of a token, or why it is refused.
    pub(crate) fn verify(&self, token: &str) -> Result<Caller, AuthError> {
        let invalid = |why: String| AuthError::Invalid(format!("bearer token refused: {why}"));
        let header = jsonwebtoken::decode_header(token).map_err(|error| invalid(error.to_string()))?;
        if !self.validation.algorithms.contains(&header.alg) {
            return Err(invalid(format!("algorithm {:?} is not accepted", header.alg)));
        }
        let candidates = self.keys.iter().filter(|(kid, algorithm, _)| {
            *algorithm == header.alg && (header.kid.is_none() || kid.is_none() || *kid == header.kid)
        });
        let mut last_error = "no key of the JWKS has that kid and algorithm".to_owned();
        for (_, algorithm, key) in candidates {
            // jsonwebtoken wants the algorithms of a validation to be of the key's family
            let mut validation = self.validation.clone();
            validation.algorithms = vec![*algorithm];
            match jsonwebtoken::decode::<Value>(token, key, &validation) {
                Ok(data) => return self.caller_of(&data.claims).map_err(invalid),
                Err(error) => last_error = error.to_string(),
            }
        }
        Err(invalid(last_error))
    }

    fn caller_of(&self, claims: &Value) -> Result<Caller, String> {
        let name = match claims.get(&self.client_claim) {
            Some(Value::String(name)) if !name.is_empty() => name.clone(),
            _ => return Err(format!("claim {:?} (the client) is missing", self.client_claim)),
        };
        let profiles = match claims.get(&self.profiles_claim) {
            Some(value) => profiles_of_claim(value)?,
            None => return Err(format!("claim {:?} (the access profiles) is missing", self.profiles_claim)),
        };
        let roles = match claims.get(&self.roles_claim) {
            Some(Value::Array(items)) => Roles::of(items.iter().filter_map(Value::as_str).filter_map(role_of)),
            Some(Value::String(text)) => Roles::of(text.split_whitespace().filter_map(role_of)),
            _ => Roles::default(),
        };
        Ok(Caller {
            name: format!("jwt:{name}").into(),
            profiles,
            roles,
            method: Method::Jwt,
            limit: self.limit.clone(),
        })
    }
}

/// Profiles from a claim: `1`, `[1, 4]`, `"1"`, `"1 4"` or `"1,4"`.
fn profiles_of_claim(value: &Value) -> Result<ProfileSet, String> {
    let numbers: Vec<u64> = match value {
        Value::Number(number) => vec![number.as_u64().ok_or("the profiles claim is not a profile number")?],
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::Number(number) => number.as_u64(),
                Value::String(text) => text.trim().parse().ok(),
                _ => None,
            })
            .collect::<Option<_>>()
            .ok_or("the profiles claim holds something else than profile numbers")?,
        Value::String(text) => text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|part| !part.is_empty())
            .map(|part| part.parse().ok())
            .collect::<Option<_>>()
            .ok_or("the profiles claim holds something else than profile numbers")?,
        _ => return Err("the profiles claim is not a number, array or string".into()),
    };
    if numbers.is_empty() {
        return Err("the profiles claim is empty".into());
    }
    numbers.into_iter().try_fold(ProfileSet::NONE, |set, number| {
        u8::try_from(number)
            .ok()
            .and_then(Profile::from_number)
            .map(|profile| set.with(profile))
            .ok_or_else(|| format!("{number} is not a ROR access profile (0 to 5)"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_shapes_and_profile_claims() {
        assert!(looks_like_jwt("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"));
        assert!(looks_like_jwt("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."), "alg none has an empty signature");
        assert!(!looks_like_jwt("a-plain-api-key"));
        assert!(!looks_like_jwt("a.b"));
        assert!(!looks_like_jwt("a.b.c.d"));
        assert_eq!(profiles_of_claim(&serde_json::json!([1, 4])).unwrap().to_string(), "1,4");
        assert_eq!(profiles_of_claim(&serde_json::json!("2 3")).unwrap().to_string(), "2,3");
        assert_eq!(profiles_of_claim(&serde_json::json!(5)).unwrap().to_string(), "5");
        assert!(profiles_of_claim(&serde_json::json!([7])).is_err());
        assert!(profiles_of_claim(&serde_json::json!([])).is_err());
        assert!(profiles_of_claim(&serde_json::json!({"a": 1})).is_err());
    }
}
