//! TLS for Packr's own HTTPS calls (the Trackstar client): rustls on aws-lc-rs, the crypto
//! provider the AWS SDK's client already uses, with the webpki root certificates compiled
//! into the binary. Handing reqwest this configuration (rather than enabling its `rustls-tls`
//! feature, which brings ring) keeps one crypto provider in a Lambda binary.

use std::sync::Arc;

use rustls::crypto::aws_lc_rs;
use rustls::{ClientConfig, RootCertStore};

/// A client configuration on aws-lc-rs with the webpki roots, TLS 1.2 and 1.3.
pub fn client_config() -> Result<ClientConfig, rustls::Error> {
    let roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    Ok(
        ClientConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_config_uses_aws_lc_rs_and_trusts_the_webpki_roots() {
        // given / when
        let config = client_config().expect("a TLS config");

        // then: aws-lc-rs's key exchange groups, the post-quantum hybrid among them (ring
        // has none), and the roots of the webpki bundle
        let groups: Vec<_> = config
            .crypto_provider()
            .kx_groups
            .iter()
            .map(|g| g.name())
            .collect();
        assert!(
            groups.contains(&rustls::NamedGroup::X25519MLKEM768),
            "{groups:?}"
        );
        assert!(!webpki_roots::TLS_SERVER_ROOTS.is_empty());
        assert!(config.alpn_protocols.is_empty());
    }
}
