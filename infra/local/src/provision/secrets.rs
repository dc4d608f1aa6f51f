//! Secrets Manager secrets, with local development values (see `secret_values`).

use std::collections::BTreeMap;

use aws_sdk_secretsmanager::Client;

use super::secret_values::local_value;
use super::{resource_name, ProvisionError};
use crate::template::SecretSpec;

/// Creates each secret with a local value; an existing secret keeps its value (so a running
/// system's webhook secret does not change under it).
pub(super) async fn create_all(
    client: &Client,
    specs: &[SecretSpec],
    prefix: &str,
) -> Result<BTreeMap<String, String>, ProvisionError> {
    let mut arns = BTreeMap::new();
    for spec in specs {
        let name = resource_name(prefix, &spec.logical_id);
        let created = client
            .create_secret()
            .name(&name)
            .set_description(spec.description.clone())
            .secret_string(local_value(spec))
            .send()
            .await;
        let arn = match created {
            Ok(created) => created.arn,
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_exists_exception()) =>
            {
                client
                    .describe_secret()
                    .secret_id(&name)
                    .send()
                    .await
                    .map_err(|e| ProvisionError::secrets("DescribeSecret", &name, e))?
                    .arn
            }
            Err(error) => return Err(ProvisionError::secrets("CreateSecret", &name, error)),
        };
        let arn = arn.ok_or_else(|| ProvisionError::MissingField {
            operation: "CreateSecret",
            resource: name.clone(),
            field: "ARN",
        })?;
        arns.insert(spec.logical_id.clone(), arn);
    }
    Ok(arns)
}
