//! Connections and the link flow (`/link/token`, `/link/exchange`, `/connections`).

use std::fmt;

use secrecy::SecretString;
use serde::Deserialize;

use super::lenient::{lenient_list, opt_bool, opt_string, string_list};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TrackstarConnection {
    #[serde(deserialize_with = "opt_string")]
    pub connection_id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub integration_name: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub integration_type: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub customer_id: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub created_at: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub last_used: Option<String>,
    #[serde(deserialize_with = "lenient_list")]
    pub sync_schedules: Vec<serde_json::Value>,
    #[serde(deserialize_with = "lenient_list")]
    pub errors: Vec<TrackstarConnectionError>,
    #[serde(deserialize_with = "string_list")]
    pub available_actions: Vec<String>,
    #[serde(deserialize_with = "opt_bool")]
    pub webhooks_disabled: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TrackstarConnectionError {
    #[serde(deserialize_with = "opt_string")]
    pub error_message: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub first_seen: Option<String>,
    #[serde(deserialize_with = "opt_string")]
    pub last_seen: Option<String>,
}

/// A short-lived token for the brand's browser to open Trackstar Link. `Debug` hides it.
#[derive(Clone, Deserialize)]
pub struct LinkToken {
    pub link_token: String,
}

impl fmt::Debug for LinkToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkToken(..)")
    }
}

/// The result of exchanging an auth code: a permanent access token (a secret; store it in
/// Secrets Manager) and the connection it opens.
pub struct ExchangedConnection {
    pub access_token: SecretString,
    pub connection_id: String,
    pub integration_name: Option<String>,
    pub customer_id: Option<String>,
    pub available_actions: Vec<String>,
}

impl fmt::Debug for ExchangedConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangedConnection")
            .field("access_token", &"[redacted]")
            .field("connection_id", &self.connection_id)
            .field("integration_name", &self.integration_name)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
pub(crate) struct ExchangeResponse {
    pub access_token: String,
    #[serde(deserialize_with = "opt_string", default)]
    pub connection_id: Option<String>,
    #[serde(deserialize_with = "opt_string", default)]
    pub integration_name: Option<String>,
    #[serde(deserialize_with = "opt_string", default)]
    pub customer_id: Option<String>,
    #[serde(deserialize_with = "string_list", default)]
    pub available_actions: Vec<String>,
}
