//! PROVISIONAL: the data-lifecycle wiring is written once the lead's runner lands.

use aws_config::SdkConfig;

/// An S3 client for `sdk`: path-style addressing when an endpoint is configured (the
/// emulator on loopback has no per-bucket host names), virtual-hosted on AWS.
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    let mut config = aws_sdk_s3::config::Builder::from(sdk);
    if sdk.endpoint_url().is_some() {
        config = config.force_path_style(true);
    }
    aws_sdk_s3::Client::from_conf(config.build())
}

/// Placeholder for the sweep's dependencies.
pub struct LifecycleDeps;
