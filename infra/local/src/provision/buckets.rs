//! S3 buckets, with the template's encryption, public access block, object ownership,
//! and lifecycle rules (the TLS-only policy stays off the emulator, which speaks plain HTTP:
//! see `create`). The emulator stores them; it enforces no expiry or public access, which is
//! why the template test checks the declaration and `tests/emulator.rs` reads back what was
//! set.

use std::collections::BTreeMap;

use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus,
    LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, ObjectOwnership, OwnershipControls,
    OwnershipControlsRule, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use aws_sdk_s3::Client;

use super::ProvisionError;
use crate::template::{local_bucket_name, BucketSpec};

/// Creates (or converges) each bucket; answers the names by logical id.
pub(super) async fn create_all(
    client: &Client,
    specs: &[BucketSpec],
    prefix: &str,
) -> Result<BTreeMap<String, String>, ProvisionError> {
    let mut names = BTreeMap::new();
    for spec in specs {
        let name = local_bucket_name(prefix, &spec.logical_id);
        create(client, spec, &name).await?;
        names.insert(spec.logical_id.clone(), name);
    }
    Ok(names)
}

async fn create(client: &Client, spec: &BucketSpec, name: &str) -> Result<(), ProvisionError> {
    let s3 = |operation: &'static str| {
        move |e: Box<dyn std::error::Error + Send + Sync>| ProvisionError::s3(operation, name, e)
    };
    match client.create_bucket().bucket(name).send().await {
        Ok(_) => {}
        Err(e)
            if e.as_service_error().is_some_and(|e| {
                e.is_bucket_already_owned_by_you() || e.is_bucket_already_exists()
            }) => {}
        Err(e) => return Err(s3("CreateBucket")(e.into())),
    }
    if let Some(algorithm) = &spec.encryption {
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(
                ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::from(algorithm.as_str()))
                    .build()
                    .map_err(|e| s3("PutBucketEncryption")(e.into()))?,
            )
            .build();
        client
            .put_bucket_encryption()
            .bucket(name)
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(rule)
                    .build()
                    .map_err(|e| s3("PutBucketEncryption")(e.into()))?,
            )
            .send()
            .await
            .map_err(|e| s3("PutBucketEncryption")(e.into()))?;
    }
    let [acls, policy, ignore, restrict] = spec.public_access_block;
    client
        .put_public_access_block()
        .bucket(name)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(acls)
                .block_public_policy(policy)
                .ignore_public_acls(ignore)
                .restrict_public_buckets(restrict)
                .build(),
        )
        .send()
        .await
        .map_err(|e| s3("PutPublicAccessBlock")(e.into()))?;
    if let Some(ownership) = &spec.object_ownership {
        client
            .put_bucket_ownership_controls()
            .bucket(name)
            .ownership_controls(
                OwnershipControls::builder()
                    .rules(
                        OwnershipControlsRule::builder()
                            .object_ownership(ObjectOwnership::from(ownership.as_str()))
                            .build()
                            .map_err(|e| s3("PutBucketOwnershipControls")(e.into()))?,
                    )
                    .build()
                    .map_err(|e| s3("PutBucketOwnershipControls")(e.into()))?,
            )
            .send()
            .await
            .map_err(|e| s3("PutBucketOwnershipControls")(e.into()))?;
    }
    if !spec.lifecycle_rules.is_empty() {
        let mut rules = Vec::new();
        for rule in &spec.lifecycle_rules {
            let mut built = LifecycleRule::builder()
                .id(&rule.id)
                .status(if rule.enabled {
                    ExpirationStatus::Enabled
                } else {
                    ExpirationStatus::Disabled
                })
                .filter(
                    LifecycleRuleFilter::builder()
                        .prefix(rule.prefix.clone().unwrap_or_default())
                        .build(),
                );
            if let Some(days) = rule.expiration_days {
                built = built.expiration(LifecycleExpiration::builder().days(days as i32).build());
            }
            if let Some(days) = rule.abort_incomplete_upload_days {
                built = built.abort_incomplete_multipart_upload(
                    AbortIncompleteMultipartUpload::builder()
                        .days_after_initiation(days as i32)
                        .build(),
                );
            }
            rules.push(
                built
                    .build()
                    .map_err(|e| s3("PutBucketLifecycleConfiguration")(e.into()))?,
            );
        }
        client
            .put_bucket_lifecycle_configuration()
            .bucket(name)
            .lifecycle_configuration(
                BucketLifecycleConfiguration::builder()
                    .set_rules(Some(rules))
                    .build()
                    .map_err(|e| s3("PutBucketLifecycleConfiguration")(e.into()))?,
            )
            .send()
            .await
            .map_err(|e| s3("PutBucketLifecycleConfiguration")(e.into()))?;
    }
    // The TLS-only bucket policy is not put on the emulator: it serves plain HTTP on
    // loopback, and moto evaluates bucket policies, so it would refuse every request. The
    // template test checks the policy's declaration instead.
    Ok(())
}
