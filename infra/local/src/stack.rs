//! What the running local stack consists of: shown by `packr-dev` and `GET /_local/stack`.

use std::collections::BTreeMap;

use crate::provision::Provisioned;

#[derive(Debug, Clone, serde::Serialize)]
pub struct LocalStack {
    /// The AWS emulator's endpoint (`AWS_ENDPOINT_URL`).
    pub aws_endpoint_url: String,
    pub region: String,
    /// Resource names are `<prefix>-<LogicalId>`.
    pub prefix: String,
    pub resources: Provisioned,
    /// Each function's environment variables with local values, by function logical id.
    pub function_environment: BTreeMap<String, BTreeMap<String, String>>,
}

impl LocalStack {
    /// Variables a tool or test needs to reach the stack: the emulator, then every function's.
    pub fn environment(&self) -> BTreeMap<String, String> {
        let mut vars: BTreeMap<String, String> = self
            .function_environment
            .values()
            .flat_map(|vars| vars.clone())
            .collect();
        vars.insert("AWS_ENDPOINT_URL".to_owned(), self.aws_endpoint_url.clone());
        vars.insert("AWS_REGION".to_owned(), self.region.clone());
        vars.insert("AWS_ACCESS_KEY_ID".to_owned(), "test".to_owned());
        vars.insert("AWS_SECRET_ACCESS_KEY".to_owned(), "test".to_owned());
        vars
    }
}
