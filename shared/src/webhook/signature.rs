//! Svix webhook signature verification, on the raw body bytes, before any parsing.
//!
//! Signed content is `"{id}.{timestamp}.{body}"`; the key is the base64 after a secret's
//! `whsec_` prefix; the signature header is a space-separated list of `v1,<base64>`
//! entries, any of which may match (several during a secret rotation, and the verifier
//! holds the current and the previous secret). Comparison is constant-time. Timestamps
//! more than the tolerance in the past or the future are rejected (replay protection).

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Svix's default tolerance: five minutes either way.
pub const DEFAULT_TOLERANCE_SECONDS: i64 = 5 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("invalid {0} header")]
    InvalidHeader(&'static str),
    #[error("timestamp is too old")]
    TooOld,
    #[error("timestamp is in the future")]
    TooNew,
    #[error("no signature matches")]
    NoMatch,
}

impl SignatureError {
    /// A stable, machine-readable reason (for error bodies and metrics).
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingHeader(_) => "missing_header",
            Self::InvalidHeader(_) => "invalid_header",
            Self::TooOld => "timestamp_too_old",
            Self::TooNew => "timestamp_too_new",
            Self::NoMatch => "signature_mismatch",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("webhook secret must be `whsec_` followed by base64")]
pub struct SecretFormatError;

/// One webhook signing secret (`whsec_…`), decoded.
#[derive(Clone)]
pub struct WebhookSecret(SecretSlice<u8>);

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret([redacted])")
    }
}

impl WebhookSecret {
    pub fn parse(secret: &SecretString) -> Result<Self, SecretFormatError> {
        let raw = secret.expose_secret().trim();
        let encoded = raw.strip_prefix("whsec_").unwrap_or(raw);
        let key = STANDARD.decode(encoded).map_err(|_| SecretFormatError)?;
        if key.is_empty() {
            return Err(SecretFormatError);
        }
        Ok(Self(SecretSlice::from(key)))
    }

    /// `v1,<base64>` for this content: what a sender puts in the signature header.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", STANDARD.encode(self.mac(id, timestamp, body)))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
        let mut mac =
            HmacSha256::new_from_slice(self.0.expose_secret()).expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().to_vec()
    }
}

/// The three signature headers, as received (either the `svix-` or the unbranded
/// `webhook-` spelling).
#[derive(Debug, Clone, Copy)]
pub struct SignatureHeaders<'a> {
    pub id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
}

impl<'a> SignatureHeaders<'a> {
    /// Picks the headers out of a case-insensitive lookup function.
    pub fn from_lookup(get: impl Fn(&str) -> Option<&'a str>) -> Self {
        Self {
            id: get("svix-id").or_else(|| get("webhook-id")),
            timestamp: get("svix-timestamp").or_else(|| get("webhook-timestamp")),
            signature: get("svix-signature").or_else(|| get("webhook-signature")),
        }
    }
}

/// The signature headers after every check that needs no secret: present, well-formed and
/// inside the timestamp window. Ingest runs these before it reads the signing secret, so a
/// request that fails them costs no AWS call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedHeaders<'a> {
    id: &'a str,
    timestamp: i64,
    /// The decoded `v1` signatures (entries of other versions are ignored).
    candidates: Vec<Vec<u8>>,
}

impl<'a> SignatureHeaders<'a> {
    /// Presence, form and freshness ([`DEFAULT_TOLERANCE_SECONDS`] either way): everything
    /// but the HMAC itself.
    pub fn check(self, now_unix_seconds: i64) -> Result<CheckedHeaders<'a>, SignatureError> {
        let id = self.id.ok_or(SignatureError::MissingHeader("svix-id"))?;
        let timestamp = self
            .timestamp
            .ok_or(SignatureError::MissingHeader("svix-timestamp"))?;
        let signature = self
            .signature
            .ok_or(SignatureError::MissingHeader("svix-signature"))?;
        if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(SignatureError::InvalidHeader("svix-id"));
        }
        let timestamp: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| SignatureError::InvalidHeader("svix-timestamp"))?;
        if now_unix_seconds.saturating_sub(timestamp) > DEFAULT_TOLERANCE_SECONDS {
            return Err(SignatureError::TooOld);
        }
        if timestamp.saturating_sub(now_unix_seconds) > DEFAULT_TOLERANCE_SECONDS {
            return Err(SignatureError::TooNew);
        }
        let candidates: Vec<Vec<u8>> = signature
            .split_whitespace()
            .filter_map(|entry| entry.split_once(','))
            .filter(|(version, _)| *version == "v1")
            .filter_map(|(_, sig)| STANDARD.decode(sig).ok())
            .collect();
        if candidates.is_empty() {
            return Err(SignatureError::InvalidHeader("svix-signature"));
        }
        Ok(CheckedHeaders {
            id,
            timestamp,
            candidates,
        })
    }
}

/// A verified message's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The Svix message id: stable across redeliveries, the event's idempotency key.
    pub id: String,
    pub timestamp: i64,
}

/// Verifies with any of the configured secrets (current first, then previous).
#[derive(Debug, Clone)]
pub struct Verifier {
    secrets: Vec<WebhookSecret>,
}

impl Verifier {
    pub fn new(secrets: Vec<WebhookSecret>) -> Self {
        Self { secrets }
    }

    /// [`SignatureHeaders::check`], then [`Verifier::verify_checked`].
    pub fn verify(
        &self,
        headers: SignatureHeaders<'_>,
        body: &[u8],
        now_unix_seconds: i64,
    ) -> Result<Verified, SignatureError> {
        self.verify_checked(&headers.check(now_unix_seconds)?, body)
    }

    /// The HMAC of the body under each secret against each signature of the headers.
    pub fn verify_checked(
        &self,
        headers: &CheckedHeaders<'_>,
        body: &[u8],
    ) -> Result<Verified, SignatureError> {
        let mut matched = subtle::Choice::from(0u8);
        for secret in &self.secrets {
            let expected = secret.mac(headers.id, headers.timestamp, body);
            for candidate in &headers.candidates {
                // Length differences are not secret; contents are compared in constant time.
                if candidate.len() == expected.len() {
                    matched |= candidate.as_slice().ct_eq(expected.as_slice());
                }
            }
        }
        if bool::from(matched) {
            Ok(Verified {
                id: headers.id.to_owned(),
                timestamp: headers.timestamp,
            })
        } else {
            Err(SignatureError::NoMatch)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The Svix documentation's test vector.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn secret(s: &str) -> WebhookSecret {
        WebhookSecret::parse(&SecretString::from(s.to_owned())).unwrap()
    }

    fn verifier() -> Verifier {
        Verifier::new(vec![secret(SECRET)])
    }

    fn headers<'a>(id: &'a str, ts: &'a str, sig: &'a str) -> SignatureHeaders<'a> {
        SignatureHeaders {
            id: Some(id),
            timestamp: Some(ts),
            signature: Some(sig),
        }
    }

    #[test]
    fn the_svix_test_vector_signs_and_verifies() {
        assert_eq!(secret(SECRET).sign(ID, TS, BODY), SIGNATURE);
        let ok = verifier().verify(headers(ID, "1614265330", SIGNATURE), BODY, TS);
        assert_eq!(
            ok,
            Ok(Verified {
                id: ID.into(),
                timestamp: TS
            })
        );
    }

    #[test]
    fn a_tampered_body_id_or_timestamp_fails() {
        let v = verifier();
        assert_eq!(
            v.verify(
                headers(ID, "1614265330", SIGNATURE),
                br#"{"test": 2432232315}"#,
                TS
            ),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            v.verify(headers("msg_other", "1614265330", SIGNATURE), BODY, TS),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            v.verify(headers(ID, "1614265331", SIGNATURE), BODY, TS),
            Err(SignatureError::NoMatch)
        );
    }

    #[test]
    fn stale_and_future_timestamps_are_rejected() {
        let v = verifier();
        let h = headers(ID, "1614265330", SIGNATURE);
        assert_eq!(v.verify(h, BODY, TS + 301), Err(SignatureError::TooOld));
        assert_eq!(v.verify(h, BODY, TS - 301), Err(SignatureError::TooNew));
        assert!(v.verify(h, BODY, TS + 300).is_ok());
        assert!(v.verify(h, BODY, TS - 300).is_ok());
    }

    #[test]
    fn a_wrong_secret_fails() {
        let v = Verifier::new(vec![secret("whsec_c2VjcmV0LW90aGVy")]);
        assert_eq!(
            v.verify(headers(ID, "1614265330", SIGNATURE), BODY, TS),
            Err(SignatureError::NoMatch)
        );
    }

    #[test]
    fn any_missing_header_is_named() {
        let v = verifier();
        let mut h = headers(ID, "1614265330", SIGNATURE);
        h.id = None;
        assert_eq!(
            v.verify(h, BODY, TS),
            Err(SignatureError::MissingHeader("svix-id"))
        );
        let mut h = headers(ID, "1614265330", SIGNATURE);
        h.timestamp = None;
        assert_eq!(
            v.verify(h, BODY, TS),
            Err(SignatureError::MissingHeader("svix-timestamp"))
        );
        let mut h = headers(ID, "1614265330", SIGNATURE);
        h.signature = None;
        assert_eq!(
            v.verify(h, BODY, TS),
            Err(SignatureError::MissingHeader("svix-signature"))
        );
    }

    #[test]
    fn rotation_accepts_a_list_with_one_valid_signature() {
        let other = secret("whsec_c2VjcmV0LW90aGVy").sign(ID, TS, BODY);
        let list = format!("v1,bm90LWEtc2lnbmF0dXJl {other} {SIGNATURE}");
        assert!(verifier()
            .verify(headers(ID, "1614265330", &list), BODY, TS)
            .is_ok());
    }

    #[test]
    fn the_previous_secret_still_verifies_during_rotation() {
        let v = Verifier::new(vec![secret("whsec_bmV3LXNlY3JldA=="), secret(SECRET)]);
        assert!(v
            .verify(headers(ID, "1614265330", SIGNATURE), BODY, TS)
            .is_ok());
    }

    #[test]
    fn an_empty_body_verifies_only_with_its_own_signature() {
        let s = secret(SECRET);
        let sig = s.sign(ID, TS, b"");
        let v = verifier();
        assert!(v.verify(headers(ID, "1614265330", &sig), b"", TS).is_ok());
        assert_eq!(
            v.verify(headers(ID, "1614265330", SIGNATURE), b"", TS),
            Err(SignatureError::NoMatch)
        );
    }

    #[test]
    fn garbage_headers_are_invalid_not_panics() {
        let v = verifier();
        assert_eq!(
            v.verify(headers(ID, "soon", SIGNATURE), BODY, TS),
            Err(SignatureError::InvalidHeader("svix-timestamp"))
        );
        assert_eq!(
            v.verify(headers(ID, "1614265330", "v2,abc"), BODY, TS),
            Err(SignatureError::InvalidHeader("svix-signature"))
        );
        assert_eq!(
            v.verify(headers(ID, "1614265330", "v1,!!!"), BODY, TS),
            Err(SignatureError::InvalidHeader("svix-signature"))
        );
        assert_eq!(
            v.verify(headers(ID, "-99999999999999999999", SIGNATURE), BODY, TS),
            Err(SignatureError::InvalidHeader("svix-timestamp"))
        );
        assert_eq!(
            v.verify(headers(ID, &i64::MIN.to_string(), SIGNATURE), BODY, TS),
            Err(SignatureError::TooOld)
        );
    }

    #[test]
    fn header_checks_that_need_no_secret_fail_before_any_verifier_exists() {
        // given headers that are missing, stale, or carry no v1 signature
        let missing = SignatureHeaders {
            id: Some(ID),
            timestamp: None,
            signature: Some(SIGNATURE),
        };
        // when they are checked without any secret
        // then each fails on its own, and good headers pass to the HMAC step
        assert_eq!(
            missing.check(TS),
            Err(SignatureError::MissingHeader("svix-timestamp"))
        );
        assert_eq!(
            headers(ID, "1614265330", SIGNATURE).check(TS + 301),
            Err(SignatureError::TooOld)
        );
        assert_eq!(
            headers(ID, "1614265330", "v2,abc").check(TS),
            Err(SignatureError::InvalidHeader("svix-signature"))
        );
        let checked = headers(ID, "1614265330", SIGNATURE)
            .check(TS)
            .expect("well-formed and fresh");
        assert!(verifier().verify_checked(&checked, BODY).is_ok());
        assert_eq!(
            verifier().verify_checked(&checked, b"other"),
            Err(SignatureError::NoMatch)
        );
    }

    #[test]
    fn unbranded_headers_are_accepted() {
        let h = SignatureHeaders::from_lookup(|name| match name {
            "webhook-id" => Some(ID),
            "webhook-timestamp" => Some("1614265330"),
            "webhook-signature" => Some(SIGNATURE),
            _ => None,
        });
        assert!(verifier().verify(h, BODY, TS).is_ok());
    }
}
