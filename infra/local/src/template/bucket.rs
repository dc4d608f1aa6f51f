//! `AWS::S3::Bucket` resources (and the `AWS::S3::BucketPolicy` naming each): what the
//! local stack creates on the emulator, and what the template test checks of them.

use std::collections::BTreeMap;

use serde_yaml::{Mapping, Value};

use super::props::{describe, intrinsic, Intrinsic, Props};
use super::TemplateError;

/// A bucket as the template declares it, `!Ref`s of parameters resolved from defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketSpec {
    pub logical_id: String,
    /// `SSEAlgorithm` of its default encryption (`AES256`, `aws:kms`, `aws:kms:dsse`).
    pub encryption: Option<String>,
    /// `BlockPublicAcls`, `BlockPublicPolicy`, `IgnorePublicAcls`, `RestrictPublicBuckets`.
    pub public_access_block: [bool; 4],
    /// `OwnershipControls`' `ObjectOwnership` (`BucketOwnerEnforced`).
    pub object_ownership: Option<String>,
    pub lifecycle_rules: Vec<LifecycleRuleSpec>,
    /// Whether a bucket policy of the template denies every request without TLS
    /// (`aws:SecureTransport` = `false`) on the bucket and its objects.
    pub tls_only: bool,
}

/// One lifecycle rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleRuleSpec {
    pub id: String,
    pub enabled: bool,
    pub prefix: Option<String>,
    pub expiration_days: Option<u32>,
    pub abort_incomplete_upload_days: Option<u32>,
}

const KNOWN: &[&str] = &[
    "BucketName",
    "BucketEncryption",
    "PublicAccessBlockConfiguration",
    "OwnershipControls",
    "LifecycleConfiguration",
    "VersioningConfiguration",
    "Tags",
];

pub(super) fn parse(
    logical_id: &str,
    properties: &Mapping,
    parameters: &BTreeMap<String, Option<String>>,
    policies: &[&Mapping],
) -> Result<BucketSpec, TemplateError> {
    let props = Props::new(logical_id, properties);
    props.reject_unknown(KNOWN)?;
    let encryption = match props.mapping("BucketEncryption")? {
        None => None,
        Some(encryption) => {
            let rules = encryption
                .seq("ServerSideEncryptionConfiguration")?
                .unwrap_or_default();
            match rules.first() {
                None => None,
                Some(rule) => {
                    let rule = encryption.nested("ServerSideEncryptionConfiguration", rule)?;
                    match rule.mapping("ServerSideEncryptionByDefault")? {
                        Some(default) => default.str("SSEAlgorithm")?,
                        None => None,
                    }
                }
            }
        }
    };
    let mut public_access_block = [false; 4];
    if let Some(block) = props.mapping("PublicAccessBlockConfiguration")? {
        for (slot, name) in public_access_block.iter_mut().zip([
            "BlockPublicAcls",
            "BlockPublicPolicy",
            "IgnorePublicAcls",
            "RestrictPublicBuckets",
        ]) {
            *slot = block.bool(name)?.unwrap_or(false);
        }
    }
    let object_ownership = match props.mapping("OwnershipControls")? {
        None => None,
        Some(controls) => match controls.seq("Rules")?.unwrap_or_default().first() {
            None => None,
            Some(rule) => controls.nested("Rules", rule)?.str("ObjectOwnership")?,
        },
    };
    let mut lifecycle_rules = Vec::new();
    if let Some(lifecycle) = props.mapping("LifecycleConfiguration")? {
        for rule in lifecycle.seq("Rules")?.unwrap_or_default() {
            let rule = lifecycle.nested("Rules", rule)?;
            let abort = match rule.mapping("AbortIncompleteMultipartUpload")? {
                None => None,
                Some(abort) => number(&abort, "DaysAfterInitiation", parameters)?,
            };
            lifecycle_rules.push(LifecycleRuleSpec {
                id: rule.str("Id")?.unwrap_or_default(),
                enabled: rule.str("Status")?.as_deref() == Some("Enabled"),
                prefix: rule.str("Prefix")?,
                expiration_days: number(&rule, "ExpirationInDays", parameters)?,
                abort_incomplete_upload_days: abort,
            });
        }
    }
    Ok(BucketSpec {
        logical_id: logical_id.to_owned(),
        encryption,
        public_access_block,
        object_ownership,
        lifecycle_rules,
        tls_only: policies.iter().any(|policy| denies_plain_http(policy)),
    })
}

/// A number written as a literal or as `!Ref` of a parameter with a default.
fn number(
    props: &Props<'_>,
    name: &str,
    parameters: &BTreeMap<String, Option<String>>,
) -> Result<Option<u32>, TemplateError> {
    let Some(value) = props.get(name) else {
        return Ok(None);
    };
    let text = match intrinsic(value) {
        Some(Intrinsic::Ref(parameter)) => match parameters.get(parameter) {
            Some(Some(default)) => default.clone(),
            _ => {
                return Err(props.error(
                    name,
                    format!("!Ref {parameter}: not a parameter with a default"),
                ))
            }
        },
        _ => props.str(name)?.unwrap_or_default(),
    };
    text.trim()
        .parse::<u32>()
        .map(Some)
        .map_err(|_| props.error(name, format!("not a number of days: {}", describe(value))))
}

/// Whether a bucket policy's document denies `s3:*` to everyone when
/// `aws:SecureTransport` is `false`.
fn denies_plain_http(policy: &Mapping) -> bool {
    let Some(Value::Sequence(statements)) = policy
        .get("PolicyDocument")
        .and_then(|d| d.get("Statement"))
    else {
        return false;
    };
    statements.iter().any(|statement| {
        let text = |name: &str| statement.get(name).and_then(Value::as_str);
        let secure = statement
            .get("Condition")
            .and_then(|c| c.get("Bool"))
            .and_then(|b| b.get("aws:SecureTransport"));
        let insecure = match secure {
            Some(Value::String(v)) => v == "false",
            Some(Value::Bool(v)) => !v,
            _ => false,
        };
        text("Effect") == Some("Deny")
            && text("Principal") == Some("*")
            && text("Action") == Some("s3:*")
            && insecure
    })
}

/// The bucket a policy names (`Bucket: !Ref <Bucket>`).
pub(super) fn policy_bucket(policy: &Mapping) -> Option<&str> {
    match policy.get("Bucket").and_then(intrinsic) {
        Some(Intrinsic::Ref(bucket)) => Some(bucket),
        _ => None,
    }
}

/// The emulator's name of a bucket: `<prefix>-<logical id>` in lower case (S3 names are).
pub fn local_bucket_name(prefix: &str, logical_id: &str) -> String {
    format!("{prefix}-{logical_id}").to_ascii_lowercase()
}
