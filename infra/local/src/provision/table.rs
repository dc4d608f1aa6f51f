//! The DynamoDB table: keys, GSIs, billing, SSE, then TTL and point-in-time recovery.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode as SdkBillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, PointInTimeRecoverySpecification, Projection as SdkProjection, ProjectionType,
    ScalarAttributeType, SseSpecification, TableDescription, TimeToLiveSpecification,
    TimeToLiveStatus,
};
use aws_sdk_dynamodb::Client;

use super::ProvisionError;
use crate::template::{BillingMode, KeySchema, Projection, TableSpec, Template};

const ACTIVE_WAIT: Duration = Duration::from_secs(60);

/// Creates the template's table under `table_name` (or checks that an existing one has the
/// template's keys and indexes), then enables TTL and point-in-time recovery as declared.
pub async fn provision_table(
    sdk: &SdkConfig,
    template: &Template,
    table_name: &str,
) -> Result<(), ProvisionError> {
    let spec = template.table()?;
    create(&Client::new(sdk), &spec, table_name).await
}

pub(super) async fn create(
    client: &Client,
    spec: &TableSpec,
    name: &str,
) -> Result<(), ProvisionError> {
    let build = |e| ProvisionError::dynamodb("CreateTable", name, e);
    let definitions = spec
        .attribute_definitions
        .iter()
        .map(|d| {
            AttributeDefinition::builder()
                .attribute_name(&d.name)
                .attribute_type(ScalarAttributeType::from(d.attribute_type.as_str()))
                .build()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(build)?;
    let indexes = spec
        .global_secondary_indexes
        .iter()
        .map(|index| {
            GlobalSecondaryIndex::builder()
                .index_name(&index.name)
                .set_key_schema(Some(key_schema(&index.key_schema)?))
                .projection(projection(&index.projection))
                .build()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(build)?;
    let billing_mode = match spec.billing_mode {
        BillingMode::PayPerRequest => SdkBillingMode::PayPerRequest,
    };
    let created = client
        .create_table()
        .table_name(name)
        .set_attribute_definitions(Some(definitions))
        .set_key_schema(Some(key_schema(&spec.key_schema).map_err(build)?))
        .set_global_secondary_indexes((!indexes.is_empty()).then_some(indexes))
        .billing_mode(billing_mode)
        .sse_specification(
            SseSpecification::builder()
                .enabled(spec.sse_enabled)
                .build(),
        )
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            check_existing(client, spec, name).await?;
        }
        Err(error) => return Err(ProvisionError::dynamodb("CreateTable", name, error)),
    }
    client
        .wait_until_table_exists()
        .table_name(name)
        .wait(ACTIVE_WAIT)
        .await
        .map_err(|e| ProvisionError::dynamodb("DescribeTable (wait until active)", name, e))?;
    if let Some(attribute) = &spec.ttl_attribute {
        enable_ttl(client, name, attribute).await?;
    }
    if spec.point_in_time_recovery {
        let pitr = PointInTimeRecoverySpecification::builder()
            .point_in_time_recovery_enabled(true)
            .build()
            .map_err(|e| ProvisionError::dynamodb("UpdateContinuousBackups", name, e))?;
        client
            .update_continuous_backups()
            .table_name(name)
            .point_in_time_recovery_specification(pitr)
            .send()
            .await
            .map_err(|e| ProvisionError::dynamodb("UpdateContinuousBackups", name, e))?;
    }
    Ok(())
}

/// UpdateTimeToLive fails when TTL is already enabled, so look first.
async fn enable_ttl(client: &Client, name: &str, attribute: &str) -> Result<(), ProvisionError> {
    let current = client
        .describe_time_to_live()
        .table_name(name)
        .send()
        .await
        .map_err(|e| ProvisionError::dynamodb("DescribeTimeToLive", name, e))?;
    let enabled = current.time_to_live_description().is_some_and(|ttl| {
        ttl.time_to_live_status() == Some(&TimeToLiveStatus::Enabled)
            && ttl.attribute_name() == Some(attribute)
    });
    if enabled {
        return Ok(());
    }
    let ttl = TimeToLiveSpecification::builder()
        .attribute_name(attribute)
        .enabled(true)
        .build()
        .map_err(|e| ProvisionError::dynamodb("UpdateTimeToLive", name, e))?;
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(ttl)
        .send()
        .await
        .map_err(|e| ProvisionError::dynamodb("UpdateTimeToLive", name, e))?;
    Ok(())
}

/// An existing table must have the template's keys and indexes, or code and tests would
/// run against a stale schema.
async fn check_existing(
    client: &Client,
    spec: &TableSpec,
    name: &str,
) -> Result<(), ProvisionError> {
    let described = client
        .describe_table()
        .table_name(name)
        .send()
        .await
        .map_err(|e| ProvisionError::dynamodb("DescribeTable", name, e))?;
    let table = described.table().ok_or(ProvisionError::MissingField {
        operation: "DescribeTable",
        resource: name.to_owned(),
        field: "Table",
    })?;
    let (expected, found) = (shape_of_spec(spec), shape_of_table(table));
    if expected == found {
        Ok(())
    } else {
        Err(ProvisionError::TableDrift {
            table: name.to_owned(),
            difference: format!("template: {expected}; emulator: {found}"),
        })
    }
}

fn key_schema(
    keys: &KeySchema,
) -> Result<Vec<KeySchemaElement>, aws_sdk_dynamodb::error::BuildError> {
    let hash = KeySchemaElement::builder()
        .attribute_name(&keys.hash)
        .key_type(KeyType::Hash)
        .build()?;
    let mut elements = vec![hash];
    if let Some(range) = &keys.range {
        elements.push(
            KeySchemaElement::builder()
                .attribute_name(range)
                .key_type(KeyType::Range)
                .build()?,
        );
    }
    Ok(elements)
}

fn projection(projection: &Projection) -> SdkProjection {
    let builder =
        SdkProjection::builder().projection_type(ProjectionType::from(projection.type_name()));
    match projection {
        Projection::Include(attributes) => builder
            .set_non_key_attributes(Some(attributes.clone()))
            .build(),
        Projection::All | Projection::KeysOnly => builder.build(),
    }
}

/// "pk/sk; gsi1(gsi1pk/gsi1sk ALL), …" — comparable text of keys and indexes.
fn shape_of_spec(spec: &TableSpec) -> String {
    let mut indexes: Vec<String> = spec
        .global_secondary_indexes
        .iter()
        .map(|index| {
            format!(
                "{}({} {})",
                index.name,
                keys_text(&index.key_schema.hash, index.key_schema.range.as_deref()),
                index.projection.type_name()
            )
        })
        .collect();
    indexes.sort();
    format!(
        "{}; {}",
        keys_text(&spec.key_schema.hash, spec.key_schema.range.as_deref()),
        indexes.join(", ")
    )
}

fn shape_of_table(table: &TableDescription) -> String {
    let mut indexes: Vec<String> = table
        .global_secondary_indexes()
        .iter()
        .map(|index| {
            let (hash, range) = sdk_keys(index.key_schema());
            let projection = index
                .projection()
                .and_then(|p| p.projection_type())
                .map_or("?", |p| p.as_str());
            format!(
                "{}({} {projection})",
                index.index_name().unwrap_or("?"),
                keys_text(&hash, range.as_deref())
            )
        })
        .collect();
    indexes.sort();
    let (hash, range) = sdk_keys(table.key_schema());
    format!(
        "{}; {}",
        keys_text(&hash, range.as_deref()),
        indexes.join(", ")
    )
}

fn sdk_keys(elements: &[KeySchemaElement]) -> (String, Option<String>) {
    let find = |kind: KeyType| {
        elements
            .iter()
            .find(|e| e.key_type() == &kind)
            .map(|e| e.attribute_name().to_owned())
    };
    (
        find(KeyType::Hash).unwrap_or_default(),
        find(KeyType::Range),
    )
}

fn keys_text(hash: &str, range: Option<&str>) -> String {
    match range {
        Some(range) => format!("{hash}/{range}"),
        None => hash.to_owned(),
    }
}
