//! The `AWS::DynamoDB::Table` resource.

use serde_yaml::Mapping;

use super::conditions::{resolve_if, Conditions};
use super::props::Props;
use super::TemplateError;

/// The table as the template declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    pub logical_id: String,
    pub attribute_definitions: Vec<AttributeDefinition>,
    pub key_schema: KeySchema,
    pub global_secondary_indexes: Vec<IndexSpec>,
    pub billing_mode: BillingMode,
    /// The TTL attribute, when TTL is enabled.
    pub ttl_attribute: Option<String>,
    pub point_in_time_recovery: bool,
    pub sse_enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeDefinition {
    pub name: String,
    pub attribute_type: AttributeType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeType {
    S,
    N,
    B,
}

impl AttributeType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::S => "S",
            Self::N => "N",
            Self::B => "B",
        }
    }
}

/// Partition key and optional sort key, by attribute name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySchema {
    pub hash: String,
    pub range: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSpec {
    pub name: String,
    pub key_schema: KeySchema,
    pub projection: Projection,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Projection {
    All,
    KeysOnly,
    Include(Vec<String>),
}

impl Projection {
    /// The DynamoDB `ProjectionType` name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::All => "ALL",
            Self::KeysOnly => "KEYS_ONLY",
            Self::Include(_) => "INCLUDE",
        }
    }
}

/// Only on-demand billing is supported (the template uses nothing else).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BillingMode {
    PayPerRequest,
}

const KNOWN: &[&str] = &[
    "TableName",
    "BillingMode",
    "DeletionProtectionEnabled",
    "PointInTimeRecoverySpecification",
    "SSESpecification",
    "AttributeDefinitions",
    "KeySchema",
    "GlobalSecondaryIndexes",
    "TimeToLiveSpecification",
    "Tags",
];

pub(super) fn parse(
    logical_id: &str,
    properties: &Mapping,
    conditions: &Conditions,
) -> Result<TableSpec, TemplateError> {
    let props = Props::new(logical_id, properties);
    props.reject_unknown(KNOWN)?;

    let billing_mode = match props.str("BillingMode")?.as_deref() {
        Some("PAY_PER_REQUEST") => BillingMode::PayPerRequest,
        other => {
            return Err(props.error(
                "BillingMode",
                format!("only PAY_PER_REQUEST is supported, found {other:?}"),
            ))
        }
    };

    let mut attribute_definitions = Vec::new();
    for (index, item) in props
        .seq("AttributeDefinitions")?
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let item = props.nested(&format!("AttributeDefinitions[{index}]"), item)?;
        let attribute_type = match item.required_str("AttributeType")?.as_str() {
            "S" => AttributeType::S,
            "N" => AttributeType::N,
            "B" => AttributeType::B,
            other => {
                return Err(item.error(
                    "AttributeType",
                    format!("expected S, N or B, found {other:?}"),
                ))
            }
        };
        attribute_definitions.push(AttributeDefinition {
            name: item.required_str("AttributeName")?,
            attribute_type,
        });
    }

    let table_keys = key_schema(&props, "KeySchema")?;

    let mut global_secondary_indexes = Vec::new();
    for (index, item) in props
        .seq("GlobalSecondaryIndexes")?
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let name = format!("GlobalSecondaryIndexes[{index}]");
        // An index kept or left out by a condition (`!If [c, index, !Ref AWS::NoValue]`).
        let Some(item) =
            resolve_if(item, conditions).map_err(|reason| props.error(&name, reason))?
        else {
            continue;
        };
        let item = props.nested(&name, item)?;
        let projection = item
            .mapping("Projection")?
            .ok_or_else(|| item.error("Projection", "required but missing"))?;
        let projection = match projection.required_str("ProjectionType")?.as_str() {
            "ALL" => Projection::All,
            "KEYS_ONLY" => Projection::KeysOnly,
            "INCLUDE" => Projection::Include(string_list(&projection, "NonKeyAttributes")?),
            other => {
                return Err(projection.error(
                    "ProjectionType",
                    format!("expected ALL, KEYS_ONLY or INCLUDE, found {other:?}"),
                ))
            }
        };
        global_secondary_indexes.push(IndexSpec {
            name: item.required_str("IndexName")?,
            key_schema: key_schema(&item, "KeySchema")?,
            projection,
        });
    }

    let ttl_attribute = match props.mapping("TimeToLiveSpecification")? {
        Some(ttl) if ttl.bool("Enabled")?.unwrap_or(false) => {
            Some(ttl.required_str("AttributeName")?)
        }
        _ => None,
    };
    let point_in_time_recovery = match props.mapping("PointInTimeRecoverySpecification")? {
        Some(pitr) => pitr.bool("PointInTimeRecoveryEnabled")?.unwrap_or(false),
        None => false,
    };
    let sse_enabled = match props.mapping("SSESpecification")? {
        Some(sse) => sse.bool("SSEEnabled")?.unwrap_or(false),
        None => false,
    };

    let spec = TableSpec {
        logical_id: logical_id.to_owned(),
        attribute_definitions,
        key_schema: table_keys,
        global_secondary_indexes,
        billing_mode,
        ttl_attribute,
        point_in_time_recovery,
        sse_enabled,
    };
    check_key_attributes_defined(&props, &spec)?;
    Ok(spec)
}

fn key_schema(props: &Props<'_>, name: &str) -> Result<KeySchema, TemplateError> {
    let items = props
        .seq(name)?
        .ok_or_else(|| props.error(name, "required but missing"))?;
    let (mut hash, mut range) = (None, None);
    for (index, item) in items.iter().enumerate() {
        let item = props.nested(&format!("{name}[{index}]"), item)?;
        let attribute = item.required_str("AttributeName")?;
        let slot = match item.required_str("KeyType")?.as_str() {
            "HASH" => &mut hash,
            "RANGE" => &mut range,
            other => {
                return Err(item.error(
                    "KeyType",
                    format!("expected HASH or RANGE, found {other:?}"),
                ))
            }
        };
        if slot.replace(attribute).is_some() {
            return Err(item.error("KeyType", "declared twice"));
        }
    }
    let hash = hash.ok_or_else(|| props.error(name, "has no HASH key"))?;
    Ok(KeySchema { hash, range })
}

fn string_list(props: &Props<'_>, name: &str) -> Result<Vec<String>, TemplateError> {
    props
        .seq(name)?
        .unwrap_or_default()
        .iter()
        .map(|item| {
            item.as_str()
                .map(str::to_owned)
                .ok_or_else(|| props.error(name, "expected a list of strings"))
        })
        .collect()
}

/// Every key attribute (table and indexes) must have an attribute definition.
fn check_key_attributes_defined(props: &Props<'_>, spec: &TableSpec) -> Result<(), TemplateError> {
    let schemas = std::iter::once(&spec.key_schema)
        .chain(spec.global_secondary_indexes.iter().map(|i| &i.key_schema));
    for schema in schemas {
        for attribute in std::iter::once(&schema.hash).chain(schema.range.as_ref()) {
            if !spec
                .attribute_definitions
                .iter()
                .any(|d| &d.name == attribute)
            {
                return Err(props.error(
                    "AttributeDefinitions",
                    format!("key attribute {attribute:?} has no definition"),
                ));
            }
        }
    }
    Ok(())
}
