//! `Debug` without personal data or credentials. A type that holds names, addresses,
//! emails, phone numbers, free text, webhook payloads or auth codes declares its `Debug`
//! with [`redacted_debug!`](crate::redacted_debug): ids, kinds and counts print as usual,
//! the personal fields as `<redacted>`. The macro names every field of the struct in a
//! pattern, so a field added later does not compile until it is declared shown or
//! redacted.
//!
//! Secrets are `secrecy::SecretString` (whose `Debug` is redacted already).

use std::fmt;

/// What a redacted value prints as.
pub const REDACTED: &str = "<redacted>";

/// Prints as `<redacted>` whatever it wraps (`Debug` and `Display`): the field printer of
/// [`redacted_debug!`](crate::redacted_debug), and usable as a log field (`?Redacted(&x)`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Redacted<T>(pub T);

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T> fmt::Display for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// An error's message without the input it quotes, for logs and stored reasons. Serde
/// errors quote the offending value (`invalid type: string "Jane Roe", expected …`,
/// `` `x` is not … ``): the message is cut at its first quote or backtick, and the position
/// serde_json adds (` at line L column C`) is kept. `missing field` / `duplicate field`
/// messages name only Packr's own field names and stay whole.
pub fn without_input<E: fmt::Display + ?Sized>(error: &E) -> String {
    let message = error.to_string();
    if message.starts_with("missing field") || message.starts_with("duplicate field") {
        return message;
    }
    let Some(cut) = message.find(['"', '`']) else {
        return message;
    };
    let mut out = message[..cut].trim_end().to_owned();
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(REDACTED);
    if let Some(at) = message.rfind(" at line ") {
        let position = &message[at..];
        let is_position = position[" at line ".len()..]
            .split(" column ")
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if is_position && at >= cut {
            out.push_str(position);
        }
    }
    out
}

/// Implements `Debug` for a struct: the fields listed before `;` print as usual, those after
/// it as `<redacted>`. Every field must be listed (the impl destructures the struct).
///
/// ```
/// struct Contact { id: u32, email: String }
/// packr::redacted_debug!(Contact { id; email });
/// let c = Contact { id: 7, email: "jane@example.com".into() };
/// assert_eq!(format!("{c:?}"), r#"Contact { id: 7, email: <redacted> }"#);
/// ```
#[macro_export]
macro_rules! redacted_debug {
    ($ty:ident { $($shown:ident),* $(,)? ; $($hidden:ident),* $(,)? }) => {
        impl ::std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                // Names every field: a new one must be declared shown or redacted here.
                let $ty { $($shown,)* $($hidden,)* } = self;
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($shown), $shown))*
                    $(.field(stringify!($hidden), &$crate::redact::Redacted($hidden)))*
                    .finish()
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Person {
        id: u32,
        kind: &'static str,
        name: String,
        phone: Option<String>,
    }
    crate::redacted_debug!(Person { id, kind; name, phone });

    /// Values no `Debug` of a type below may print.
    const PLANTED: &[&str] = &[
        "Zelda Quackenbush",
        "Quackenbush Holdings",
        "77 Xylophone Way",
        "Flat 9",
        "Quuxville",
        "QX9 7ZZ",
        "zelda.q@planted.example",
        "555-0199-7734",
        "authcode-PLANTED-7f3e",
        "https://planted.example/objects/ord_1",
        "Call Zelda",
    ];

    const ADDRESS: &str = r#"{"full_name":"Zelda Quackenbush","company":"Quackenbush Holdings",
        "address1":"77 Xylophone Way","address2":"Flat 9","city":"Quuxville","state":"QX",
        "postal_code":"QX9 7ZZ","country":"GB","phone_number":"+1 555-0199-7734",
        "email_address":"zelda.q@planted.example"}"#;

    fn payload() -> serde_json::Value {
        serde_json::json!({
            "connection_id": "conn_1",
            "event_type": "order.created",
            "data": { "id": "ord_1", "ship_to_address": serde_json::from_str::<serde_json::Value>(ADDRESS).unwrap() },
            "previous_attributes": { "note": "Call Zelda on +1 555-0199-7734" },
            "data_url": "https://planted.example/objects/ord_1"
        })
    }

    /// `debug` names none of the planted values, and shows every one of `visible`.
    fn hides_planted(debug: &str, visible: &[&str]) {
        for value in PLANTED {
            assert!(!debug.contains(value), "{value} in {debug}");
        }
        for value in visible {
            assert!(debug.contains(value), "{value} missing from {debug}");
        }
        assert!(debug.contains(REDACTED), "{debug}");
    }

    #[test]
    fn request_bodies_hide_addresses_auth_codes_and_message_text() {
        let order: crate::api::orders::CreateOrderBody = serde_json::from_str(&format!(
            r#"{{"brand_id":"b1","reference_id":"ref-1","order_number":"SO-1","channel":"web",
            "shipping_method_id":"ground","service_level":"standard","currency":"USD",
            "ship_to_address":{ADDRESS},"line_items":[{{"sku":"TEE-1","quantity":2}}]}}"#
        ))
        .unwrap();
        hides_planted(&format!("{order:?}"), &["b1", "ref-1", "TEE-1", "\"GB\""]);
        hides_planted(&format!("{:#?}", order.ship_to_address), &["GB"]);

        let exchange: crate::api::connections::ExchangeBody = serde_json::from_str(
            r#"{"auth_code":"authcode-PLANTED-7f3e","brand_id":"b1","customer_id":"wc_1"}"#,
        )
        .unwrap();
        hides_planted(&format!("{exchange:?}"), &["b1", "wc_1"]);

        let post: crate::api::messages::PostMessageBody =
            serde_json::from_str(r#"{"body":"Call Zelda on +1 555-0199-7734"}"#).unwrap();
        hides_planted(&format!("{post:?}"), &["PostMessageBody"]);
    }

    #[test]
    fn a_message_shows_its_ids_and_the_length_of_its_body_only() {
        let message: crate::domain::Message = serde_json::from_value(serde_json::json!({
            "tenant_id": "acme", "brand_id": "b1", "id": "msg_01", "author": "user-1",
            "author_role": "brand_manager", "body": "Call Zelda on +1 555-0199-7734",
            "created_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap();
        hides_planted(
            &format!("{message:?}"),
            &["acme", "b1", "msg_01", "user-1", "brand_manager"],
        );
        hides_planted(&format!("{:?}", message.body), &["chars: 30"]);
    }

    #[test]
    fn webhook_envelopes_and_queued_and_parked_events_hide_their_payload() {
        let envelope: crate::webhook::envelope::WebhookEnvelope =
            serde_json::from_value(payload()).unwrap();
        hides_planted(&format!("{envelope:?}"), &["conn_1", "order.created"]);

        let queued: crate::webhook::envelope::QueuedEvent =
            serde_json::from_value(serde_json::json!({
                "event_id": "msg_evt_1", "tenant_id": "acme", "brand_id": "b1",
                "connection_id": "conn_1", "event_type": "order.created",
                "received_at": "2026-01-01T00:00:00Z",
                "correlation_id": "cor_1", "payload": payload()
            }))
            .unwrap();
        hides_planted(
            &format!("{queued:?}"),
            &["msg_evt_1", "acme", "b1", "conn_1", "order.created"],
        );

        let parked: crate::webhook::parked::ParkedEvent =
            serde_json::from_value(serde_json::json!({
                "event_id": "msg_evt_2", "connection_id": "conn_new",
                "event_type": "order.updated", "received_at": "2026-01-01T00:00:00Z",
                "correlation_id": "cor_2", "payload": payload()
            }))
            .unwrap();
        hides_planted(&format!("{parked:?}"), &["msg_evt_2", "conn_new"]);
    }

    #[test]
    fn saved_responses_and_redriven_messages_hide_their_bodies() {
        let saved = crate::idempotency::SavedResponse {
            status: 201,
            body: payload(),
        };
        hides_planted(&format!("{saved:?}"), &["201"]);

        let outgoing = crate::ops::redrive::OutgoingMessage {
            dlq_message_id: "dlq-1".into(),
            body: payload().to_string(),
            attributes: std::collections::HashMap::new(),
            group_id: Some("acme".into()),
        };
        hides_planted(&format!("{outgoing:?}"), &["dlq-1", "acme"]);
    }

    #[test]
    fn shown_fields_print_and_redacted_ones_do_not() {
        let p = Person {
            id: 42,
            kind: "customer",
            name: "Ada Lovelace".into(),
            phone: Some("+44 20 7946 0000".into()),
        };
        let debug = format!("{p:?}");
        assert_eq!(
            debug,
            r#"Person { id: 42, kind: "customer", name: <redacted>, phone: <redacted> }"#
        );
        let pretty = format!("{p:#?}");
        assert!(
            !pretty.contains("Ada") && !pretty.contains("7946"),
            "{pretty}"
        );
    }

    #[test]
    fn serde_errors_lose_the_values_they_quote_and_keep_their_kind_and_position() {
        // given serde errors quoting personal data, and ones that quote none
        let wrong_type = serde_json::from_str::<bool>(r#""Zelda Quackenbush""#).unwrap_err();
        let custom =
            serde_json::from_str::<crate::domain::Timestamp>(r#""Call Zelda""#).unwrap_err();
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Body {
            connection_id: String,
        }
        let missing = serde_json::from_str::<Body>("{}").unwrap_err();
        let syntax = serde_json::from_str::<Body>("{\"connection_id\": ").unwrap_err();
        // then the values are gone, the kind and position stay
        assert_eq!(
            without_input(&wrong_type),
            "invalid type: string <redacted> at line 1 column 19"
        );
        // (serde_json adds no position to an error a `Deserialize` impl raises)
        assert_eq!(without_input(&custom), "<redacted>");
        assert_eq!(
            without_input(&missing),
            "missing field `connection_id` at line 1 column 2"
        );
        assert_eq!(without_input(&syntax), syntax.to_string());
        // and a value that looks like a position is not kept as one
        let tricky = "`Zelda at line 1 column 2` is not a currency";
        assert_eq!(without_input(&tricky), "<redacted>");
    }

    #[test]
    fn a_redacted_value_prints_the_same_with_debug_and_display() {
        let token = Redacted("Bearer eyJhbGciOi");
        assert_eq!(format!("{token:?}"), REDACTED);
        assert_eq!(format!("{token}"), REDACTED);
    }
}
