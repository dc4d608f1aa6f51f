//! Helpers for tests that run against the AWS emulator.

use aws_config::{Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;

use std::collections::BTreeMap;

pub use crate::emulator::function_config;
use crate::local_env::local_environment;
use crate::provision::{provision, provision_buckets, provision_table, Provisioned};
use crate::stack::LocalStack;
use crate::template::Template;

/// The emulator's endpoint variable; the SDK reads it itself.
pub const ENDPOINT_VAR: &str = "AWS_ENDPOINT_URL";

/// SDK config for the emulator from the environment. `AWS_ENDPOINT_URL` must be set (start
/// one with `infra/scripts/moto.sh start`); region and credentials default to `us-east-1`
/// and `test`/`test` when the environment has none. On the HTTPS client the functions use
/// on Lambda (`packr::runtime::aws_loader`).
///
/// # Panics
/// When `AWS_ENDPOINT_URL` is unset: tests must never reach real AWS.
pub async fn emulator_config() -> SdkConfig {
    let endpoint = std::env::var(ENDPOINT_VAR).unwrap_or_default();
    assert!(
        !endpoint.is_empty(),
        "{ENDPOINT_VAR} must point at the AWS emulator, e.g. `eval \"$(infra/scripts/moto.sh start)\"`"
    );
    let mut loader = packr::runtime::aws_loader();
    if std::env::var_os("AWS_REGION").is_none() && std::env::var_os("AWS_DEFAULT_REGION").is_none()
    {
        loader = loader.region(Region::new("us-east-1"));
    }
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
        loader = loader.credentials_provider(Credentials::new(
            "test",
            "test",
            None,
            None,
            "packr-local",
        ));
    }
    loader.load().await
}

/// A fresh, uniquely named table ("t-<uuid>") created from the repository's template.
///
/// # Panics
/// When the template cannot be read or the emulator refuses.
pub async fn fresh_table(sdk: &SdkConfig) -> String {
    let template = repo_template();
    let name = format!("t-{}", uuid::Uuid::new_v4().simple());
    if let Err(error) = provision_table(sdk, &template, &name).await {
        panic!(
            "creating table {name} on the emulator: {}",
            error_chain(&error)
        );
    }
    name
}

/// A fresh, uniquely named copy of the template's export bucket (`ExportBucket`), with its
/// encryption, access block, ownership, lifecycle and policy.
///
/// # Panics
/// When the template cannot be read or the emulator refuses.
pub async fn fresh_export_bucket(sdk: &SdkConfig) -> String {
    let template = repo_template();
    let prefix = format!("b-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    match provision_buckets(sdk, &template, &prefix).await {
        Ok(mut names) => names
            .remove("ExportBucket")
            .expect("template.yaml declares ExportBucket"),
        Err(error) => panic!(
            "creating the export bucket {prefix} on the emulator: {}",
            error_chain(&error)
        ),
    }
}

/// A fresh, uniquely prefixed copy of every table, queue and secret of the template.
///
/// # Panics
/// When the template cannot be read or the emulator refuses.
pub async fn fresh_stack(sdk: &SdkConfig) -> Provisioned {
    let template = repo_template();
    let prefix = format!("s-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    match provision(sdk, &template, &prefix).await {
        Ok(provisioned) => provisioned,
        Err(error) => panic!(
            "provisioning stack {prefix} on the emulator: {}",
            error_chain(&error)
        ),
    }
}

/// A fresh stack (as [`fresh_stack`]) described as `packr-dev` describes its own: the
/// emulator's endpoint and every function's environment with local values.
///
/// # Panics
/// When the template cannot be read or the emulator refuses.
pub async fn fresh_local_stack(sdk: &SdkConfig) -> LocalStack {
    let template = repo_template();
    let prefix = format!("s-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let resources = match provision(sdk, &template, &prefix).await {
        Ok(provisioned) => provisioned,
        Err(error) => panic!(
            "provisioning stack {prefix} on the emulator: {}",
            error_chain(&error)
        ),
    };
    let environment = match local_environment(&template, &resources, &BTreeMap::new()) {
        Ok(environment) => environment,
        Err(error) => panic!(
            "evaluating the functions' environment: {}",
            error_chain(&error)
        ),
    };
    LocalStack {
        aws_endpoint_url: std::env::var(ENDPOINT_VAR).unwrap_or_default(),
        region: sdk
            .region()
            .map_or_else(|| "us-east-1".to_owned(), |r| r.to_string()),
        prefix,
        resources,
        function_environment: environment.functions,
    }
}

fn repo_template() -> Template {
    match Template::repo_default() {
        Ok(template) => template,
        Err(error) => panic!("reading template.yaml: {}", error_chain(&error)),
    }
}

/// "outer: cause: root cause" — an error with its whole source chain.
pub use packr::errors::error_chain;

/// A fault proxy in front of the emulator (no faults until the test sets them) and `sdk`
/// pointed through it. The proxy also serialises conditional writes per item, making them
/// atomic as DynamoDB's are (moto's are not).
pub async fn through_fault_proxy(sdk: &SdkConfig) -> (crate::faultproxy::FaultProxy, SdkConfig) {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL");
    let proxy =
        crate::faultproxy::start(&endpoint, crate::faultproxy::FaultConfig::default(), None)
            .await
            .expect("proxy starts");
    let proxied = crate::emulator::with_endpoint(sdk, &proxy.url);
    (proxy, proxied)
}
