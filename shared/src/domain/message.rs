//! Messages in the thread between a 3PL and one of its brands.

use serde::{Deserialize, Serialize};

use super::{BrandId, MessageId, TenantId, Timestamp, UserId};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageBodyError {
    #[error("body must not be empty")]
    Empty,
    #[error("body must be at most {max} characters")]
    TooLong { max: usize },
}

/// A message body: non-blank, at most 4,000 characters. Free text (it may name people,
/// addresses, phone numbers): `Debug` shows only its length.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct MessageBody(String);

impl std::fmt::Debug for MessageBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageBody")
            .field("chars", &self.0.chars().count())
            .field("text", &crate::redact::Redacted(&self.0))
            .finish()
    }
}

impl MessageBody {
    pub const MAX_CHARS: usize = 4000;

    pub fn parse(value: impl Into<String>) -> Result<Self, MessageBodyError> {
        let value = value.into();
        if value.trim().is_empty() {
            return Err(MessageBodyError::Empty);
        }
        if value.chars().count() > Self::MAX_CHARS {
            return Err(MessageBodyError::TooLong {
                max: Self::MAX_CHARS,
            });
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl utoipa::PartialSchema for MessageBody {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        // Messages may hold line breaks: only blankness and length are checked.
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .min_length(Some(1))
            .max_length(Some(Self::MAX_CHARS))
            .pattern(Some(super::schema::NOT_BLANK_PATTERN))
            .into()
    }
}

impl utoipa::ToSchema for MessageBody {}

impl<'de> Deserialize<'de> for MessageBody {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(raw).map_err(serde::de::Error::custom)
    }
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Message {
    pub tenant_id: TenantId,
    pub brand_id: BrandId,
    pub id: MessageId,
    pub author: UserId,
    pub author_role: String,
    pub body: MessageBody,
    pub created_at: Timestamp,
}

// The body is free text (see `MessageBody`).
crate::redacted_debug!(Message {
    tenant_id, brand_id, id, author, author_role, created_at;
    body,
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_and_overlong_bodies_are_rejected() {
        assert_eq!(MessageBody::parse("  \n"), Err(MessageBodyError::Empty));
        assert!(MessageBody::parse("é".repeat(4000)).is_ok());
        assert_eq!(
            MessageBody::parse("é".repeat(4001)),
            Err(MessageBodyError::TooLong { max: 4000 })
        );
    }
}
