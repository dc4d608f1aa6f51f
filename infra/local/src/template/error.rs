use std::path::PathBuf;

/// Why a template could not be read or understood.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read template {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("template {source_name} is not valid YAML{location}")]
    Yaml {
        source_name: String,
        /// " at line L column C" when known.
        location: String,
        #[source]
        source: serde_yaml::Error,
    },
    #[error("template {source_name} is not a CloudFormation template: {reason}")]
    Shape { source_name: String, reason: String },
    #[error("resource {logical_id}: {reason}")]
    InvalidResource { logical_id: String, reason: String },
    #[error("resource {logical_id}, property {property}: {reason}")]
    InvalidProperty {
        logical_id: String,
        property: String,
        reason: String,
    },
    #[error("the template declares no {kind}")]
    MissingResource { kind: &'static str },
    #[error("the template declares more than one {kind}: {}", logical_ids.join(", "))]
    AmbiguousResource {
        kind: &'static str,
        logical_ids: Vec<String>,
    },
}

impl TemplateError {
    pub(super) fn yaml(source_name: &str, source: serde_yaml::Error) -> Self {
        let location = source
            .location()
            .map(|at| format!(" at line {} column {}", at.line(), at.column()))
            .unwrap_or_default();
        Self::Yaml {
            source_name: source_name.to_owned(),
            location,
            source,
        }
    }
}
