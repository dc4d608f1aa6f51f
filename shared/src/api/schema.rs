//! Schemas of request fields that the derive cannot infer from the Rust type: text limits
//! (the ones `Validator::text` enforces), enumerations checked by hand, and limits shared
//! with the validators. Used through `#[schema(schema_with = …)]` so every limit is written
//! once, beside the code that enforces it.

use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};

use crate::domain::schema::{opt_text, text};

/// Largest amount in minor units the API takes (10^15: ten trillion dollars in cents); kept
/// below 2^53 so every client's JSON numbers hold it exactly.
pub const MAX_MINOR_UNITS: i64 = 1_000_000_000_000_000;

macro_rules! text_fields {
    ($($name:ident, $opt:ident => $max:expr;)*) => {
        $(
            pub fn $name() -> Schema {
                text($max)
            }
            pub fn $opt() -> Schema {
                opt_text($max)
            }
        )*
    };
}

text_fields! {
    text_64, opt_text_64 => 64;
    text_100, opt_text_100 => 100;
    text_128, opt_text_128 => 128;
    text_200, opt_text_200 => 200;
    text_512, opt_text_512 => 512;
}

/// Optional postal code: at most 20 characters.
pub fn opt_postal_code() -> Schema {
    opt_text(20)
}

/// Optional phone number: at most 40 characters.
pub fn opt_phone() -> Schema {
    opt_text(40)
}

/// An amount in minor units: 0 to [`MAX_MINOR_UNITS`], or absent.
pub fn opt_amount() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::Int64,
        )))
        .minimum(Some(0))
        .maximum(Some(MAX_MINOR_UNITS))
        .description(Some("Minor units of the order's currency"))
        .into()
}

/// Order tags: at most 50, each as [`text_64`].
pub fn tags() -> Schema {
    ArrayBuilder::new()
        .items(utoipa::openapi::RefOr::T(text(64)))
        .max_items(Some(50))
        .into()
}

/// Tags that replace an object's (`PUT`): absent, `null`, or 1 to 50 as [`text_64`].
pub fn opt_tags() -> Schema {
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(utoipa::openapi::RefOr::T(text(64)))
        .min_items(Some(1))
        .max_items(Some(50))
        .into()
}

/// Optional email address: at most 254 characters, with an `@`.
pub fn opt_email() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .max_length(Some(254))
        .pattern(Some("@"))
        .into()
}

/// ISO 3166-1 alpha-2, upper case.
pub fn country() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^[A-Z]{2}$"))
        .description(Some("ISO 3166-1 alpha-2, e.g. US"))
        .into()
}

/// GTIN: 8 to 14 digits, or absent.
pub fn opt_gtin() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .pattern(Some("^[0-9]{8,14}$"))
        .into()
}

fn one_of_words(words: &[&str]) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(words.iter().copied()))
        .into()
}

pub const LENGTH_UNITS: &[&str] = &["cm", "in"];
pub const WEIGHT_UNITS: &[&str] = &["kg", "oz", "lb"];

pub fn length_unit() -> Schema {
    one_of_words(LENGTH_UNITS)
}

pub fn weight_unit() -> Schema {
    one_of_words(WEIGHT_UNITS)
}
