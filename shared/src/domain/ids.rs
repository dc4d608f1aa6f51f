//! Identifier newtypes. Every one is parsed once at the boundary and cannot hold an invalid
//! value afterwards: ids are spliced into DynamoDB keys (`T#<tenant>#…`), so the key
//! separator `#`, whitespace and control characters are never allowed in them.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use super::schema;

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{kind} must not be empty")]
    Empty { kind: &'static str },
    #[error("{kind} must be at most {max} characters")]
    TooLong { kind: &'static str, max: usize },
    #[error("{kind} may contain only letters, digits and . _ - : characters")]
    InvalidCharacter { kind: &'static str },
    #[error("{kind} must not contain `..`")]
    DotDot { kind: &'static str },
    #[error("{kind} must start with `{prefix}`")]
    MissingPrefix {
        kind: &'static str,
        prefix: &'static str,
    },
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':')
}

fn validate(kind: &'static str, value: &str, max: usize) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if value.chars().count() > max {
        return Err(IdError::TooLong { kind, max });
    }
    if !value.chars().all(is_id_char) {
        return Err(IdError::InvalidCharacter { kind });
    }
    Ok(())
}

/// An id that is also a segment of a secret's name (`…/<tenant>/<connection>`): besides
/// the id rules (no `/`), no `..`, so it can never climb out of its place in the name.
fn validate_segment(kind: &'static str, value: &str, max: usize) -> Result<(), IdError> {
    validate(kind, value, max)?;
    if value.contains("..") {
        return Err(IdError::DotDot { kind });
    }
    Ok(())
}

macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident, $kind:literal, $max:expr) => {
        string_id!($(#[$meta])* $name, $kind, $max, validate, false);
    };
    ($(#[$meta:meta])* $name:ident, $kind:literal, $max:expr, $validate:ident, $segment:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const KIND: &'static str = $kind;

            pub fn parse(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                $validate($kind, &value, $max)?;
                Ok(Self(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(deserializer)?;
                Self::parse(raw).map_err(serde::de::Error::custom)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                schema::inline(schema::id($max, $segment, concat!("A ", $kind)))
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

string_id!(
    /// A 3PL, the unit of isolation. Only ever taken from verified token claims.
    TenantId, "tenant id", 64, validate_segment, true
);
string_id!(
    /// A brand (a 3PL's customer) within a tenant.
    BrandId, "brand id", 64
);
string_id!(
    /// A Trackstar connection (one connected WMS).
    ConnectionId, "connection id", 128, validate_segment, true
);
string_id!(
    /// A Trackstar order id.
    OrderId, "order id", 128
);
string_id!(
    /// A Trackstar inventory item id.
    InventoryItemId, "inventory item id", 128
);
string_id!(
    /// A Trackstar product id.
    ProductId, "product id", 128
);
string_id!(
    /// A Trackstar inbound shipment (ASN) id.
    InboundShipmentId, "inbound shipment id", 128
);
string_id!(
    /// A Trackstar return id.
    ReturnId, "return id", 128
);
string_id!(
    /// A Trackstar warehouse id.
    WarehouseId, "warehouse id", 128
);
string_id!(
    /// A Trackstar shipping method id.
    ShippingMethodId, "shipping method id", 128
);
string_id!(
    /// A Trackstar bill (one charge) id.
    BillId, "bill id", 128
);
/// Whether `value` is a well-formed Trackstar object id: the rules every Trackstar object id
/// type here parses by (`OrderId`, `ProductId`, `InboundShipmentId`, `ReturnId`,
/// `WarehouseId`, `ShippingMethodId`, `BillId`). A malformed one names no object, whatever
/// its kind.
pub fn is_trackstar_object_id(value: &str) -> bool {
    validate("object id", value, TRACKSTAR_OBJECT_ID_MAX).is_ok()
}

/// The longest Trackstar object id accepted.
pub const TRACKSTAR_OBJECT_ID_MAX: usize = 128;

string_id!(
    /// A WMS warehouse customer id (how the WMS names a brand).
    WarehouseCustomerId, "warehouse customer id", 128
);
string_id!(
    /// A webhook event id: the Svix message id, stable across redeliveries.
    EventId, "event id", 128
);
string_id!(
    /// An authenticated user's subject.
    UserId, "user id", 128
);

/// A stock keeping unit. SKUs come from WMSes and brands with looser rules than our ids
/// (spaces, slashes), so they allow any printable character except the key separator.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Sku(String);

impl Sku {
    pub const MAX_LEN: usize = 128;

    pub fn parse(value: impl Into<String>) -> Result<Self, IdError> {
        let value = value.into();
        let kind = "sku";
        if value.trim().is_empty() {
            return Err(IdError::Empty { kind });
        }
        if value.chars().count() > Self::MAX_LEN {
            return Err(IdError::TooLong {
                kind,
                max: Self::MAX_LEN,
            });
        }
        if value.chars().any(|c| c.is_control() || c == '#') || value.trim() != value {
            return Err(IdError::InvalidCharacter { kind });
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl utoipa::PartialSchema for Sku {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        schema::inline(schema::sku(Self::MAX_LEN))
    }
}

impl utoipa::ToSchema for Sku {}

impl<'de> Deserialize<'de> for Sku {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(raw).map_err(serde::de::Error::custom)
    }
}

macro_rules! minted_id {
    ($(#[$meta:meta])* $name:ident, $kind:literal, $prefix:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// Mints a new id: the prefix and a UUIDv7, so ids sort by creation time.
            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, uuid::Uuid::now_v7().simple()))
            }

            pub fn parse(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                validate($kind, &value, 64)?;
                if !value.starts_with($prefix) || value.len() == $prefix.len() {
                    return Err(IdError::MissingPrefix { kind: $kind, prefix: $prefix });
                }
                Ok(Self(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(deserializer)?;
                Self::parse(raw).map_err(serde::de::Error::custom)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                schema::inline(schema::minted_id($prefix, 64, concat!("A ", $kind)))
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

minted_id!(
    /// A message in a 3PL ↔ brand thread, minted by Packr.
    MessageId, "message id", "msg_"
);
minted_id!(
    /// A request correlation id, minted by Packr where the caller sent none.
    CorrelationId, "correlation id", "cor_"
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tenant_id_rejects_the_key_separator() {
        assert_eq!(
            TenantId::parse("acme#1"),
            Err(IdError::InvalidCharacter { kind: "tenant id" })
        );
    }

    #[test]
    fn empty_and_overlong_ids_are_rejected() {
        assert!(matches!(BrandId::parse(""), Err(IdError::Empty { .. })));
        assert!(matches!(
            TenantId::parse("a".repeat(65)),
            Err(IdError::TooLong { max: 64, .. })
        ));
        assert!(TenantId::parse("a".repeat(64)).is_ok());
    }

    #[test]
    fn every_trackstar_object_id_type_parses_by_the_shared_rules() {
        let long = "a".repeat(TRACKSTAR_OBJECT_ID_MAX + 1);
        let max = "a".repeat(TRACKSTAR_OBJECT_ID_MAX);
        for raw in ["ord_1", "wh-1.a:b", "", "a#b", "a b", "a/b", &long, &max] {
            let expected = is_trackstar_object_id(raw);
            assert_eq!(OrderId::parse(raw).is_ok(), expected, "{raw}");
            assert_eq!(ProductId::parse(raw).is_ok(), expected, "{raw}");
            assert_eq!(InboundShipmentId::parse(raw).is_ok(), expected, "{raw}");
            assert_eq!(ReturnId::parse(raw).is_ok(), expected, "{raw}");
            assert_eq!(WarehouseId::parse(raw).is_ok(), expected, "{raw}");
            assert_eq!(ShippingMethodId::parse(raw).is_ok(), expected, "{raw}");
            assert_eq!(BillId::parse(raw).is_ok(), expected, "{raw}");
        }
        assert!(is_trackstar_object_id(&max));
        assert!(!is_trackstar_object_id(&long));
    }

    #[test]
    fn deserializing_an_invalid_id_fails() {
        let err = serde_json::from_str::<OrderId>("\"bad id\"").unwrap_err();
        assert!(err.to_string().contains("order id"));
    }

    #[test]
    fn minted_ids_carry_their_prefix_and_parse_back() {
        let id = MessageId::generate();
        assert!(id.as_str().starts_with("msg_"));
        assert_eq!(MessageId::parse(id.as_str()), Ok(id));
        assert!(matches!(
            MessageId::parse("ord_123"),
            Err(IdError::MissingPrefix { .. })
        ));
        assert!(MessageId::parse("msg_").is_err());
    }

    #[test]
    fn sku_allows_spaces_inside_but_not_separators_or_padding() {
        assert!(Sku::parse("TEE / BLK L").is_ok());
        assert!(Sku::parse(" TEE").is_err());
        assert!(Sku::parse("A#B").is_err());
        assert!(Sku::parse("A\nB").is_err());
        assert!(Sku::parse("   ").is_err());
    }

    proptest! {
        #[test]
        fn parsed_ids_never_contain_forbidden_characters(s in "\\PC{0,80}") {
            if let Ok(id) = TenantId::parse(s.clone()) {
                prop_assert!(!id.as_str().is_empty());
                prop_assert!(id.as_str().len() <= 64);
                prop_assert!(id.as_str().chars().all(is_id_char));
                prop_assert!(!id.as_str().contains(".."));
            } else {
                prop_assert!(
                    s.is_empty()
                        || s.chars().count() > 64
                        || !s.chars().all(is_id_char)
                        || s.contains("..")
                );
            }
        }

        #[test]
        fn secret_name_segments_never_hold_a_slash_or_dot_dot(s in "[A-Za-z0-9._:/-]{1,64}") {
            let unsafe_segment = s.contains('/') || s.contains("..");
            prop_assert_eq!(ConnectionId::parse(s.clone()).is_err(), unsafe_segment);
            prop_assert_eq!(TenantId::parse(s.clone()).is_err(), unsafe_segment);
            // ids that are no secret name's segment keep the plain id rules
            prop_assert_eq!(BrandId::parse(s.clone()).is_err(), s.contains('/'));
        }

        #[test]
        fn valid_ids_round_trip_through_json(s in "[A-Za-z0-9._:-]{1,64}") {
            let id = BrandId::parse(s.clone()).unwrap();
            let json = serde_json::to_string(&id).unwrap();
            prop_assert_eq!(serde_json::from_str::<BrandId>(&json).unwrap(), id);
        }

        #[test]
        fn sku_parse_never_panics_and_accepts_only_clean_values(s in "\\PC{0,200}") {
            if let Ok(sku) = Sku::parse(s) {
                prop_assert!(!sku.as_str().contains('#'));
                prop_assert_eq!(sku.as_str().trim(), sku.as_str());
            }
        }
    }
}
