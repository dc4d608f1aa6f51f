//! The dev JWT issuer: HS256 tokens with the claims the API reads, issued and verified with
//! the template's local `JwtIssuer` / `JwtAudience` (`packr-local`). The key is generated
//! once and kept in `.local/dev/jwt.key` (base64), so `packr token` and `make dev` agree.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::local_env::LOCAL_PARAMETERS;

/// Where `make dev` and `packr token` keep the key, relative to the repository root.
pub const DEFAULT_KEY_FILE: &str = ".local/dev/jwt.key";

fn local_parameter(name: &str) -> &'static str {
    LOCAL_PARAMETERS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
        .unwrap_or("packr-local")
}

/// The template's local `JwtIssuer`.
pub fn issuer() -> &'static str {
    local_parameter("JwtIssuer")
}

/// The template's local `JwtAudience`.
pub fn audience() -> &'static str {
    local_parameter("JwtAudience")
}

/// The template's default `ApiReadScope`, `ApiWriteScope` and `ApiAdminScope` (a test keeps
/// them equal): what the HTTP API's routes require.
pub const READ_SCOPE: &str = "packr/read";
pub const WRITE_SCOPE: &str = "packr/write";
pub const ADMIN_SCOPE: &str = "packr/admin";

/// The scopes a role's token carries unless others are asked for: those of the route groups
/// the role's actions need (`packr::api::request::allows`): every role reads, every role
/// that may write orders, products or messages writes, and the role that manages
/// connections (tenant_admin) administers. An unknown role gets none.
pub fn default_scopes(role: &str) -> Vec<String> {
    use packr::api::request::{allows, Action};
    let Some(role) = packr::api::claims::Role::parse(role) else {
        return Vec::new();
    };
    [
        (Action::Read, READ_SCOPE),
        (Action::WriteOrders, WRITE_SCOPE),
        (Action::ManageConnections, ADMIN_SCOPE),
    ]
    .into_iter()
    .filter(|(action, _)| allows(role, *action))
    .map(|(_, scope)| scope.to_owned())
    .collect()
}

/// A token's claims, named as the API reads them (`packr::api::ClaimNames::default`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(rename = "custom:tenant_id")]
    pub tenant_id: String,
    #[serde(rename = "custom:role")]
    pub role: String,
    #[serde(rename = "custom:brand_ids", default)]
    pub brand_ids: Vec<String>,
    /// OAuth scopes, space-separated, as an access token carries them; `None`: no `scope`
    /// claim at all, as in an OpenID Connect ID token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    pub iss: String,
    pub aud: String,
    /// Issued at, unix seconds.
    pub iat: i64,
    /// Expiry, unix seconds.
    pub exp: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    #[error("the token is invalid: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
}

/// An HS256 issuer and verifier.
#[derive(Clone)]
pub struct DevJwt {
    key: Vec<u8>,
}

impl std::fmt::Debug for DevJwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevJwt").finish_non_exhaustive()
    }
}

impl DevJwt {
    pub fn new(key: Vec<u8>) -> Self {
        Self { key }
    }

    /// A fresh random 256-bit key.
    pub fn generate() -> Self {
        Self::new(rand::random::<[u8; 32]>().to_vec())
    }

    /// The key in `path` (base64).
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the JWT key {}", path.display()))?;
        let key = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .with_context(|| format!("{} is not base64", path.display()))?;
        anyhow::ensure!(
            key.len() >= 32,
            "{} holds a key shorter than 256 bits",
            path.display()
        );
        Ok(Self::new(key))
    }

    /// The key in `path`, generated and stored there (mode 0600) when missing.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        if path.exists() {
            return Self::load(path);
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let jwt = Self::generate();
        let text = base64::engine::general_purpose::STANDARD.encode(&jwt.key);
        write_private(path, &text).with_context(|| format!("writing {}", path.display()))?;
        Ok(jwt)
    }

    /// A token for `sub` in `tenant` with `role` and `brands`, valid for `ttl`, carrying the
    /// role's [`default_scopes`].
    pub fn mint(
        &self,
        sub: &str,
        tenant: &str,
        role: &str,
        brands: &[String],
        ttl: Duration,
    ) -> String {
        self.mint_scoped(sub, tenant, role, brands, Some(&default_scopes(role)), ttl)
    }

    /// [`DevJwt::mint`] with exactly these scopes; `None` leaves the `scope` claim out (an
    /// ID token's shape).
    pub fn mint_scoped(
        &self,
        sub: &str,
        tenant: &str,
        role: &str,
        brands: &[String],
        scopes: Option<&[String]>,
        ttl: Duration,
    ) -> String {
        let now = chrono::Utc::now().timestamp();
        self.mint_claims(&Claims {
            sub: sub.to_owned(),
            tenant_id: tenant.to_owned(),
            role: role.to_owned(),
            brand_ids: brands.to_vec(),
            scope: scopes.map(|s| s.join(" ")),
            iss: issuer().to_owned(),
            aud: audience().to_owned(),
            iat: now,
            exp: now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
        })
    }

    /// A token with exactly these claims (tests use it for expired or foreign tokens).
    pub fn mint_claims(&self, claims: &Claims) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(&self.key),
        )
        .unwrap_or_else(|_| unreachable!("HS256 signing of serializable claims cannot fail"))
    }

    /// Checks signature, issuer, audience and expiry (no leeway), as the JWT authorizer does.
    pub fn verify(&self, token: &str) -> Result<Claims, JwtError> {
        Ok(self.verify_raw::<Claims>(token)?)
    }

    /// [`DevJwt::verify`], returning every claim of the token.
    pub fn verify_all(
        &self,
        token: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, JwtError> {
        Ok(self.verify_raw(token)?)
    }

    fn verify_raw<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<T, jsonwebtoken::errors::Error> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_issuer(&[issuer()]);
        validation.set_audience(&[audience()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<T>(token, &DecodingKey::from_secret(&self.key), &validation)
            .map(|data| data.claims)
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

/// `root`/[`DEFAULT_KEY_FILE`].
pub fn default_key_file(root: &Path) -> PathBuf {
    root.join(DEFAULT_KEY_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_verify_and_carry_the_api_claim_names() {
        let jwt = DevJwt::generate();
        let token = jwt.mint(
            "u1",
            "t1",
            "brand_viewer",
            &["b1".into(), "b2".into()],
            Duration::from_secs(60),
        );
        let claims = jwt.verify(&token).expect("verifies");
        assert_eq!(claims.tenant_id, "t1");
        assert_eq!(claims.brand_ids, vec!["b1", "b2"]);
        let all = jwt.verify_all(&token).expect("verifies");
        assert_eq!(all["custom:role"], "brand_viewer");
        assert_eq!(all["iss"], "packr-local");
        assert_eq!(all["aud"], "packr-local");
    }

    #[test]
    fn each_role_gets_the_scopes_of_what_it_may_do() {
        assert_eq!(
            default_scopes("tenant_admin"),
            vec![READ_SCOPE, WRITE_SCOPE, ADMIN_SCOPE]
        );
        assert_eq!(
            default_scopes("tenant_staff"),
            vec![READ_SCOPE, WRITE_SCOPE]
        );
        assert_eq!(
            default_scopes("brand_manager"),
            vec![READ_SCOPE, WRITE_SCOPE]
        );
        assert_eq!(default_scopes("brand_viewer"), vec![READ_SCOPE]);
        assert!(default_scopes("root").is_empty());
    }

    #[test]
    fn a_token_carries_its_role_s_scopes_unless_others_or_none_are_asked_for() {
        let jwt = DevJwt::generate();
        let hour = Duration::from_secs(3600);
        let minted = jwt.mint("u", "t", "tenant_staff", &[], hour);
        assert_eq!(
            jwt.verify(&minted).expect("verifies").scope.as_deref(),
            Some("packr/read packr/write")
        );
        let chosen = vec!["packr/admin".to_owned()];
        let minted = jwt.mint_scoped("u", "t", "tenant_staff", &[], Some(&chosen), hour);
        assert_eq!(
            jwt.verify(&minted).expect("verifies").scope.as_deref(),
            Some("packr/admin")
        );
        let id_token_like = jwt.mint_scoped("u", "t", "tenant_staff", &[], None, hour);
        let all = jwt.verify_all(&id_token_like).expect("verifies");
        assert!(!all.contains_key("scope"), "{all:?}");
    }

    #[test]
    fn other_keys_expired_and_foreign_audiences_are_rejected() {
        let jwt = DevJwt::generate();
        let token = jwt.mint("u", "t", "tenant_admin", &[], Duration::from_secs(60));
        assert!(DevJwt::generate().verify(&token).is_err());
        let now = chrono::Utc::now().timestamp();
        let mut claims = jwt.verify(&token).expect("verifies");
        claims.exp = now - 1;
        assert!(jwt.verify(&jwt.mint_claims(&claims)).is_err());
        claims.exp = now + 60;
        claims.aud = "someone-else".into();
        assert!(jwt.verify(&jwt.mint_claims(&claims)).is_err());
    }
}
