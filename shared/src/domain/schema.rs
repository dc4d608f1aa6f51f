//! JSON Schemas (OpenAPI 3.1) of the domain's value types, built from the constants their
//! parsers use, so the published contract says exactly what the parsers accept. The tests
//! below check each pattern against its parser.
//!
//! Patterns use only what ECMA-262 and Python's `re` both read the same way (character
//! classes with `\xHH`/`\uHHHH` escapes, no `\s`, no look-around), because clients and
//! test generators evaluate them with either.

use std::sync::OnceLock;

use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::{KnownFormat, RefOr};

/// Unicode control characters (general category Cc), what `char::is_control` tests.
macro_rules! control {
    () => {
        "\\x00-\\x1F\\x7F-\\x9F"
    };
}

/// Unicode white space (`char::is_whitespace`) that is not also a control character.
macro_rules! space {
    () => {
        "\\x20\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000"
    };
}

/// Control characters that are also white space (`\t \n \x0B \f \r`, `\x85`).
macro_rules! control_space {
    () => {
        "\\x09-\\x0D\\x85"
    };
}

/// Text the API accepts (`Validator::text`): no control character, and at least one
/// character that is not white space.
pub const TEXT_PATTERN: &str = concat!(
    "^[^",
    control!(),
    "]*[^",
    control!(),
    space!(),
    "][^",
    control!(),
    "]*$"
);

/// Not blank (`MessageBody::parse`): some character that is not white space; control
/// characters (line breaks) allowed.
pub const NOT_BLANK_PATTERN: &str = concat!("[^", control_space!(), space!(), "]");

/// A SKU (`Sku::parse`): no control character, no `#`, no white space at either end.
pub const SKU_PATTERN: &str = concat!(
    "^[^",
    control!(),
    space!(),
    "#]([^",
    control!(),
    "#]*[^",
    control!(),
    space!(),
    "#])?$"
);

/// An identifier (`ids::validate`): letters, digits and `. _ - :`.
pub const ID_PATTERN: &str = "^[A-Za-z0-9._:-]+$";

/// An identifier that is also a segment of a secret's name: no `..` either (every dot is
/// followed by another character, or ends the id).
pub const SEGMENT_PATTERN: &str = "^([.]?[A-Za-z0-9_:-])*[.]?$";

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// An identifier of at most `max` characters.
pub fn id(max: usize, segment: bool, description: &str) -> Schema {
    string()
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some(if segment { SEGMENT_PATTERN } else { ID_PATTERN }))
        .description(Some(description))
        .into()
}

/// An identifier minted by Packr: `prefix` then letters and digits.
pub fn minted_id(prefix: &str, max: usize, description: &str) -> Schema {
    string()
        .min_length(Some(prefix.len() + 1))
        .max_length(Some(max))
        .pattern(Some(format!("^{prefix}[A-Za-z0-9._:-]+$")))
        .description(Some(description))
        .into()
}

/// Required text: not blank, no control characters, at most `max` characters.
pub fn text(max: usize) -> Schema {
    string()
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some(TEXT_PATTERN))
        .into()
}

/// Optional text: absent, `null`, or as [`text`].
pub fn opt_text(max: usize) -> Schema {
    string()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            Type::String,
            Type::Null,
        ]))
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some(TEXT_PATTERN))
        .into()
}

pub fn sku(max: usize) -> Schema {
    string()
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some(SKU_PATTERN))
        .description(Some(
            "A SKU: no control characters, no `#`, no white space at either end",
        ))
        .into()
}

/// A UTC instant, RFC 3339.
pub fn timestamp() -> Schema {
    string()
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        .description(Some("RFC 3339; Packr answers in UTC (`Z`)"))
        .into()
}

/// Every ISO 4217 code that has a minor unit (those `Currency::parse` admits), sorted.
pub fn currency_codes() -> &'static [&'static str] {
    static CODES: OnceLock<Vec<&'static str>> = OnceLock::new();
    CODES.get_or_init(|| {
        let mut codes = Vec::new();
        for a in b'A'..=b'Z' {
            for b in b'A'..=b'Z' {
                for c in b'A'..=b'Z' {
                    let code = [a, b, c];
                    let code = std::str::from_utf8(&code).unwrap_or_default();
                    if let Ok(currency) = super::Currency::parse(code) {
                        codes.push(currency.code());
                    }
                }
            }
        }
        codes
    })
}

pub fn currency() -> Schema {
    string()
        .enum_values(Some(currency_codes().iter().copied()))
        .description(Some("ISO 4217 code (one with a minor unit), upper case"))
        .into()
}

/// Wraps a schema for `PartialSchema::schema`.
pub fn inline(schema: Schema) -> RefOr<Schema> {
    RefOr::T(schema)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{BrandId, ConnectionId, Sku};
    use proptest::prelude::*;

    fn matches(pattern: &str, value: &str) -> bool {
        regex::Regex::new(pattern).expect("pattern").is_match(value)
    }

    /// Like `Validator::text` without the length rule.
    fn text_ok(value: &str) -> bool {
        !value.trim().is_empty() && !value.chars().any(char::is_control)
    }

    fn interesting() -> impl Strategy<Value = String> {
        // letters, dots, '#', white space of every kind, control characters, anything
        prop::collection::vec(
            prop_oneof![
                Just('a'),
                Just('.'),
                Just('#'),
                Just('-'),
                Just(' '),
                Just('\t'),
                Just('\u{a0}'),
                Just('\u{2003}'),
                Just('\u{3000}'),
                Just('\u{85}'),
                Just('\u{feff}'),
                Just('\u{1f}'),
                Just('\u{7f}'),
                Just('é'),
                any::<char>(),
            ],
            0..8,
        )
        .prop_map(|chars| chars.into_iter().collect())
    }

    proptest! {
        #[test]
        fn text_pattern_accepts_what_the_validator_accepts(value in interesting()) {
            prop_assert_eq!(matches(TEXT_PATTERN, &value), text_ok(&value), "{:?}", value);
        }

        #[test]
        fn not_blank_pattern_accepts_what_message_bodies_accept(value in interesting()) {
            prop_assert_eq!(matches(NOT_BLANK_PATTERN, &value), crate::domain::MessageBody::parse(value.clone()).is_ok(), "{:?}", value);
        }

        #[test]
        fn sku_pattern_accepts_what_the_parser_accepts(value in interesting()) {
            prop_assert_eq!(matches(SKU_PATTERN, &value), Sku::parse(value.clone()).is_ok(), "{:?}", value);
        }

        #[test]
        fn id_patterns_accept_what_the_parsers_accept(value in interesting()) {
            let nonempty = !value.is_empty();
            prop_assert_eq!(nonempty && matches(ID_PATTERN, &value), BrandId::parse(value.clone()).is_ok(), "{:?}", value);
            prop_assert_eq!(nonempty && matches(SEGMENT_PATTERN, &value), ConnectionId::parse(value.clone()).is_ok(), "{:?}", value);
        }
    }

    #[test]
    fn currency_codes_are_those_with_a_minor_unit() {
        let codes = currency_codes();
        assert!(codes.contains(&"USD") && codes.contains(&"JPY") && codes.contains(&"KWD"));
        assert!(!codes.contains(&"XAU"), "gold has no minor unit");
        assert!(codes.len() > 100, "{}", codes.len());
    }
}
