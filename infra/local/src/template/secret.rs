//! `AWS::SecretsManager::Secret` resources.

use serde_yaml::Mapping;

use super::props::{describe, Props};
use super::TemplateError;

/// A secret as the template declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSpec {
    pub logical_id: String,
    pub description: Option<String>,
    pub value: SecretValueSpec,
}

/// Where the secret's value comes from in production.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretValueSpec {
    /// `SecretString` (often a placeholder replaced after deploy).
    Literal(String),
    /// `GenerateSecretString`.
    Generated {
        length: usize,
        exclude_punctuation: bool,
        exclude_characters: String,
        /// `SecretStringTemplate` (a JSON object) and `GenerateStringKey`, when both are set.
        json_template: Option<(String, String)>,
    },
}

const KNOWN: &[&str] = &[
    "Name",
    "Description",
    "SecretString",
    "GenerateSecretString",
    "KmsKeyId",
    "Tags",
];

pub(super) fn parse(logical_id: &str, properties: &Mapping) -> Result<SecretSpec, TemplateError> {
    let props = Props::new(logical_id, properties);
    props.reject_unknown(KNOWN)?;
    let value = match (
        props.get("SecretString"),
        props.mapping("GenerateSecretString")?,
    ) {
        (Some(_), Some(_)) => {
            return Err(props.error(
                "SecretString",
                "both SecretString and GenerateSecretString are set",
            ))
        }
        (Some(value), None) => SecretValueSpec::Literal(
            value
                .as_str()
                .ok_or_else(|| {
                    props.error(
                        "SecretString",
                        format!("expected a string, found {}", describe(value)),
                    )
                })?
                .to_owned(),
        ),
        (None, Some(generate)) => {
            let json_template = match (
                generate.str("SecretStringTemplate")?,
                generate.str("GenerateStringKey")?,
            ) {
                (Some(template), Some(key)) => Some((template, key)),
                (None, None) => None,
                _ => {
                    return Err(generate.error(
                        "GenerateStringKey",
                        "SecretStringTemplate and GenerateStringKey go together",
                    ))
                }
            };
            let length = generate.u64("PasswordLength")?.unwrap_or(32);
            SecretValueSpec::Generated {
                length: usize::try_from(length)
                    .map_err(|_| generate.error("PasswordLength", "too large"))?,
                exclude_punctuation: generate.bool("ExcludePunctuation")?.unwrap_or(false),
                exclude_characters: generate.str("ExcludeCharacters")?.unwrap_or_default(),
                json_template,
            }
        }
        (None, None) => {
            return Err(props.error(
                "SecretString",
                "neither SecretString nor GenerateSecretString is set",
            ))
        }
    };
    Ok(SecretSpec {
        logical_id: logical_id.to_owned(),
        description: props.str("Description")?,
        value,
    })
}
