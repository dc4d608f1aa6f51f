//! Provisioning the AWS emulator from template.yaml. Needs `AWS_ENDPOINT_URL` (moto).
//!
//! Expectations are derived from the parsed template *and* pinned by a few literal facts,
//! so neither a parser bug nor a provisioning bug can pass unnoticed.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::types::{BillingMode, KeyType, PointInTimeRecoveryStatus, TimeToLiveStatus};
use aws_sdk_sqs::types::QueueAttributeName;
use packr_local::provision::{provision, provision_table, ProvisionError, Provisioned};
use packr_local::template::Template;
use packr_local::testing::{emulator_config, fresh_stack, fresh_table};

fn template() -> Template {
    Template::repo_default().expect("template.yaml parses")
}

fn unique_prefix() -> String {
    format!("p-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

#[tokio::test]
async fn emulator_table_matches_the_template() {
    // given
    let sdk = emulator_config().await;
    let spec = template().table().expect("table spec");
    // when
    let name = fresh_table(&sdk).await;
    // then
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let described = dynamo
        .describe_table()
        .table_name(&name)
        .send()
        .await
        .expect("DescribeTable");
    let table = described.table().expect("table description");

    let keys = |elements: &[aws_sdk_dynamodb::types::KeySchemaElement]| {
        let find = |kind: KeyType| {
            elements
                .iter()
                .find(|e| e.key_type() == &kind)
                .map(|e| e.attribute_name().to_owned())
        };
        (find(KeyType::Hash), find(KeyType::Range))
    };
    assert_eq!(
        keys(table.key_schema()),
        (
            Some(spec.key_schema.hash.clone()),
            spec.key_schema.range.clone()
        )
    );
    assert_eq!(
        keys(table.key_schema()),
        (Some("pk".to_owned()), Some("sk".to_owned()))
    );

    let definitions: BTreeSet<(String, String)> = table
        .attribute_definitions()
        .iter()
        .map(|d| {
            (
                d.attribute_name().to_owned(),
                d.attribute_type().as_str().to_owned(),
            )
        })
        .collect();
    let expected_definitions: BTreeSet<(String, String)> = spec
        .attribute_definitions
        .iter()
        .map(|d| (d.name.clone(), d.attribute_type.as_str().to_owned()))
        .collect();
    assert_eq!(definitions, expected_definitions);

    let indexes: BTreeMap<String, (Option<String>, Option<String>, String)> = table
        .global_secondary_indexes()
        .iter()
        .map(|index| {
            let (hash, range) = keys(index.key_schema());
            let projection = index
                .projection()
                .and_then(|p| p.projection_type())
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default();
            (
                index.index_name().unwrap_or_default().to_owned(),
                (hash, range, projection),
            )
        })
        .collect();
    let expected_indexes: BTreeMap<String, (Option<String>, Option<String>, String)> = spec
        .global_secondary_indexes
        .iter()
        .map(|index| {
            (
                index.name.clone(),
                (
                    Some(index.key_schema.hash.clone()),
                    index.key_schema.range.clone(),
                    index.projection.type_name().to_owned(),
                ),
            )
        })
        .collect();
    assert_eq!(indexes, expected_indexes);
    assert_eq!(indexes.len(), 5);
    assert_eq!(
        indexes.get("gsi7"),
        Some(&(
            Some("gsi3pk".to_owned()),
            Some("gsi3sk".to_owned()),
            "KEYS_ONLY".to_owned()
        ))
    );

    let billing = table.billing_mode_summary().and_then(|b| b.billing_mode());
    assert_eq!(billing, Some(&BillingMode::PayPerRequest));

    let ttl = dynamo
        .describe_time_to_live()
        .table_name(&name)
        .send()
        .await
        .expect("DescribeTimeToLive");
    let ttl = ttl.time_to_live_description().expect("TTL description");
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
    assert_eq!(ttl.attribute_name(), spec.ttl_attribute.as_deref());
    assert_eq!(ttl.attribute_name(), Some("expires_at"));

    let backups = dynamo
        .describe_continuous_backups()
        .table_name(&name)
        .send()
        .await
        .expect("DescribeContinuousBackups");
    let pitr = backups
        .continuous_backups_description()
        .and_then(|d| d.point_in_time_recovery_description())
        .and_then(|p| p.point_in_time_recovery_status());
    assert_eq!(pitr, Some(&PointInTimeRecoveryStatus::Enabled));
}

#[tokio::test]
async fn emulator_queues_match_the_template() {
    // given
    let sdk = emulator_config().await;
    let specs = template().queues().expect("queue specs");
    // when
    let stack = fresh_stack(&sdk).await;
    // then
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    assert_eq!(stack.queue_urls.len(), specs.len());
    assert_eq!(stack.queue_urls.len(), 6);
    for spec in &specs {
        let attributes = queue_attributes(&sqs, &stack, &spec.logical_id).await;
        for (name, value) in &spec.attributes {
            assert_eq!(
                attributes.get(name),
                Some(value),
                "{}: {name}",
                spec.logical_id
            );
        }
        assert_eq!(
            attributes.get("QueueArn"),
            stack.queue_arns.get(&spec.logical_id)
        );
        match &spec.redrive {
            Some(redrive) => {
                let policy = json_attribute(&attributes, "RedrivePolicy");
                assert_eq!(
                    policy["deadLetterTargetArn"].as_str(),
                    stack
                        .queue_arns
                        .get(&redrive.dead_letter_queue)
                        .map(String::as_str),
                    "{}",
                    spec.logical_id
                );
                assert_eq!(
                    number(&policy["maxReceiveCount"]),
                    Some(u64::from(redrive.max_receive_count))
                );
            }
            None => assert!(
                !attributes.contains_key("RedrivePolicy"),
                "{}",
                spec.logical_id
            ),
        }
        // RedriveAllowPolicy is not asserted here: moto 5.2.5 drops it on SetQueueAttributes
        // and refuses it in GetQueueAttributes ("Unknown Attribute"). The policy the
        // provisioner sends is checked in the provision::queues unit tests.
    }

    // literal facts, independent of the parser
    let webhook = queue_attributes(&sqs, &stack, "WebhookQueue").await;
    assert_eq!(
        webhook.get("VisibilityTimeout").map(String::as_str),
        Some("180")
    );
    let policy = json_attribute(&webhook, "RedrivePolicy");
    assert_eq!(number(&policy["maxReceiveCount"]), Some(5));
    assert_eq!(
        policy["deadLetterTargetArn"].as_str(),
        Some(stack.queue_arns["WebhookDeadLetterQueue"].as_str())
    );
    let dlq = queue_attributes(&sqs, &stack, "WebhookDeadLetterQueue").await;
    assert_eq!(
        dlq.get("MessageRetentionPeriod").map(String::as_str),
        Some("1209600")
    );
    let sync = queue_attributes(&sqs, &stack, "SyncJobsQueue").await;
    let policy = json_attribute(&sync, "RedrivePolicy");
    assert_eq!(
        policy["deadLetterTargetArn"].as_str(),
        Some(stack.queue_arns["SyncJobsDeadLetterQueue"].as_str())
    );
}

#[tokio::test]
async fn emulator_export_bucket_has_the_templates_encryption_access_block_ownership_and_expiry() {
    // given the template's bucket
    let sdk = emulator_config().await;
    let spec = template()
        .buckets()
        .expect("bucket specs")
        .into_iter()
        .find(|b| b.logical_id == "ExportBucket")
        .expect("ExportBucket");
    // when a stack is provisioned
    let stack = fresh_stack(&sdk).await;
    // then the bucket exists under its lower-case local name with every property set
    let name = stack
        .bucket_name("ExportBucket")
        .expect("provisioned")
        .to_owned();
    assert!(
        name.ends_with("-exportbucket") && name == name.to_ascii_lowercase(),
        "{name}"
    );
    let s3 = packr::lifecycle::wiring::s3_client(&sdk);
    let encryption = s3
        .get_bucket_encryption()
        .bucket(&name)
        .send()
        .await
        .expect("encryption");
    let algorithm = encryption
        .server_side_encryption_configuration()
        .and_then(|c| c.rules().first())
        .and_then(|r| r.apply_server_side_encryption_by_default())
        .map(|d| d.sse_algorithm().as_str().to_owned());
    assert_eq!(algorithm, spec.encryption);
    let block = s3
        .get_public_access_block()
        .bucket(&name)
        .send()
        .await
        .expect("public access block");
    let block = block
        .public_access_block_configuration()
        .expect("configuration");
    assert_eq!(
        [
            block.block_public_acls(),
            block.block_public_policy(),
            block.ignore_public_acls(),
            block.restrict_public_buckets()
        ],
        [Some(true); 4]
    );
    let ownership = s3
        .get_bucket_ownership_controls()
        .bucket(&name)
        .send()
        .await
        .expect("ownership controls");
    let rule = ownership
        .ownership_controls()
        .and_then(|c| c.rules().first())
        .map(|r| r.object_ownership().as_str().to_owned());
    assert_eq!(rule.as_deref(), Some("BucketOwnerEnforced"));
    let lifecycle = s3
        .get_bucket_lifecycle_configuration()
        .bucket(&name)
        .send()
        .await
        .expect("lifecycle");
    let expiry: Vec<Option<i32>> = lifecycle
        .rules()
        .iter()
        .map(|r| r.expiration().and_then(|e| e.days()))
        .collect();
    assert_eq!(expiry, [Some(7)]);
    // and no bucket policy: the TLS-only one would refuse the emulator's plain HTTP (the
    // template test checks its declaration)
    assert!(s3.get_bucket_policy().bucket(&name).send().await.is_err());
}

#[tokio::test]
async fn emulator_secrets_exist_with_local_values() {
    // given
    let sdk = emulator_config().await;
    let specs = template().secrets().expect("secret specs");
    // when
    let stack = fresh_stack(&sdk).await;
    // then
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    assert_eq!(stack.secret_arns.len(), specs.len());
    for spec in &specs {
        let arn = stack
            .secret_arn(&spec.logical_id)
            .expect("secret provisioned");
        secrets
            .describe_secret()
            .secret_id(arn)
            .send()
            .await
            .expect("secret exists");
    }
    let value = |id: &'static str| {
        let secrets = secrets.clone();
        let arn = stack.secret_arns[id].clone();
        async move {
            secrets
                .get_secret_value()
                .secret_id(arn)
                .send()
                .await
                .expect("GetSecretValue")
                .secret_string
                .expect("a string secret")
        }
    };
    assert_eq!(value("TrackstarApiKeySecret").await, "sim_api_key");
    let webhook: serde_json::Value =
        serde_json::from_str(&value("WebhookSigningSecret").await).expect("JSON secret");
    assert!(webhook["current"]
        .as_str()
        .is_some_and(|s| s.starts_with("whsec_") && s.len() > 20));
    assert_eq!(webhook["previous"], "");
    assert_eq!(value("CursorSigningSecret").await.len(), 64);
}

#[tokio::test]
async fn provisioning_twice_is_harmless() {
    // given a provisioned stack
    let sdk = emulator_config().await;
    let prefix = unique_prefix();
    let first = provision(&sdk, &template(), &prefix)
        .await
        .expect("first provisioning");
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let webhook_secret = |secrets: aws_sdk_secretsmanager::Client, arn: String| async move {
        secrets
            .get_secret_value()
            .secret_id(arn)
            .send()
            .await
            .expect("GetSecretValue")
            .secret_string
    };
    let before = webhook_secret(
        secrets.clone(),
        first.secret_arns["WebhookSigningSecret"].clone(),
    )
    .await;
    // when provisioning again
    let second = provision(&sdk, &template(), &prefix)
        .await
        .expect("second provisioning");
    // then the same resources are found and secrets keep their values
    assert_eq!(first, second);
    let after = webhook_secret(secrets, second.secret_arns["WebhookSigningSecret"].clone()).await;
    assert_eq!(before, after);
}

#[tokio::test]
async fn an_existing_table_with_another_schema_is_reported() {
    // given a table created from the template
    let sdk = emulator_config().await;
    let name = fresh_table(&sdk).await;
    // when the template changes an index and the same table is provisioned
    let text = std::fs::read_to_string(packr_local::template::repo_template_path())
        .expect("template text");
    let changed = Template::parse("changed.yaml", &text.replace("gsi7", "gsi9")).expect("parses");
    let error = provision_table(&sdk, &changed, &name)
        .await
        .expect_err("schema drift");
    // then
    assert!(
        matches!(error, ProvisionError::TableDrift { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("gsi9"), "{error}");
}

async fn queue_attributes(
    sqs: &aws_sdk_sqs::Client,
    stack: &Provisioned,
    logical_id: &str,
) -> BTreeMap<String, String> {
    let url = stack.queue_url(logical_id).expect("queue provisioned");
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .expect("GetQueueAttributes")
        .attributes
        .unwrap_or_default()
        .into_iter()
        .map(|(name, value)| (name.as_str().to_owned(), value))
        .collect()
}

fn json_attribute(attributes: &BTreeMap<String, String>, name: &str) -> serde_json::Value {
    let text = attributes
        .get(name)
        .unwrap_or_else(|| panic!("attribute {name} is set"));
    serde_json::from_str(text).expect("attribute is JSON")
}

/// SQS returns numbers in policies as numbers or strings.
fn number(value: &serde_json::Value) -> Option<u64> {
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
}
