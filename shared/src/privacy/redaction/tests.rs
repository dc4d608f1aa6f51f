use serde_json::json;

use super::*;
use crate::domain::{Address, Order, Return};
use crate::privacy::{ErasureSubject, HashKey};

fn key() -> HashKey {
    HashKey::new(b"unit-test-privacy-key-0123456789".to_vec()).unwrap()
}

fn tenant() -> TenantId {
    TenantId::parse("acme").unwrap()
}

fn matcher(subject: &ErasureSubject, orders: &[&str]) -> Matcher {
    let h = key().subject(&tenant(), subject);
    let mut m = Matcher::new(tenant(), key());
    m.add(
        "era_1",
        h.email,
        h.name_postal.as_deref(),
        h.name,
        orders.iter().map(|o| (*o).to_owned()),
    );
    m
}

fn jane() -> Address {
    Address {
        full_name: Some("Jane  Roe".into()),
        company: Some("Roe Ltd".into()),
        address1: Some("1 Main St".into()),
        city: Some("Springfield".into()),
        state: Some("IL".into()),
        postal_code: Some("62701-1234".into()),
        country: Some("US".into()),
        phone_number: Some("+1 555 0100".into()),
        email_address: Some("Jane.Roe@Example.com".into()),
        ..Address::default()
    }
}

fn order(address: Address) -> Order {
    let mut o: Order = serde_json::from_value(json!({
        "id": "ord-1", "tenant_id": "acme", "connection_id": "conn_1", "status": "open",
        "totals": {}, "created_date": "2026-01-01T00:00:00Z", "updated_date": "2026-01-01T00:00:00Z"
    }))
    .unwrap();
    o.ship_to_address = Some(address);
    o
}

fn a_return(order_id: &str, notes: &[&str]) -> Return {
    serde_json::from_value(json!({
        "id": "ret-1", "tenant_id": "acme", "connection_id": "conn_1", "status": "open",
        "order_id": order_id, "notes": notes,
        "created_date": "2026-01-01T00:00:00Z", "updated_date": "2026-01-01T00:00:00Z"
    }))
    .unwrap()
}

#[test]
fn an_order_with_the_erased_email_has_every_address_field_but_country_erased() {
    // given an erasure of Jane's email, spelled differently
    let m = matcher(&ErasureSubject::email("jane.roe@example.COM").unwrap(), &[]);
    // when her order is redacted
    let mut o = order(jane());
    let found = m.redact(&mut o).expect("matched");
    // then the erasure and the order id are reported, and only the country is left
    assert_eq!(found.erasures, BTreeSet::from(["era_1".to_owned()]));
    assert_eq!(found.order_id.as_deref(), Some("ord-1"));
    let a = o.ship_to_address.unwrap();
    assert_eq!(a.country.as_deref(), Some("US"));
    for field in [
        &a.full_name,
        &a.company,
        &a.address1,
        &a.city,
        &a.state,
        &a.postal_code,
        &a.phone_number,
        &a.email_address,
    ] {
        assert_eq!(field.as_deref(), Some(ERASED));
    }
    // absent fields stay absent
    assert_eq!(a.address2, None);
}

#[test]
fn a_name_matches_only_with_its_postal_code() {
    let m = matcher(
        &ErasureSubject::name_postal("jane roe", "627011234").unwrap(),
        &[],
    );
    let mut same = order(Address {
        email_address: None,
        ..jane()
    });
    assert!(m.redact(&mut same).is_some());
    let mut elsewhere = order(Address {
        email_address: None,
        postal_code: Some("10001".into()),
        ..jane()
    });
    assert!(m.redact(&mut elsewhere).is_none());
    assert_eq!(
        elsewhere.ship_to_address.unwrap().full_name.as_deref(),
        Some("Jane  Roe")
    );
}

#[test]
fn a_redacted_object_matches_no_more_so_redacting_again_changes_nothing() {
    let m = matcher(&ErasureSubject::email("jane.roe@example.com").unwrap(), &[]);
    let mut o = order(jane());
    m.redact(&mut o).unwrap();
    let once = o.clone();
    assert!(m.redact(&mut o).is_none());
    assert_eq!(o, once);
}

#[test]
fn a_return_matches_by_its_order_or_by_the_email_in_its_notes() {
    let m = matcher(
        &ErasureSubject::email("jane.roe@example.com").unwrap(),
        &["ord-1"],
    );
    let mut by_order = a_return("ord-1", &["left at the door"]);
    assert!(m.redact(&mut by_order).is_some());
    assert_eq!(by_order.notes, vec![ERASED.to_owned()]);
    let mut by_notes = a_return("ord-2", &["customer (Jane.Roe@example.com) called"]);
    assert!(m.redact(&mut by_notes).is_some());
    assert_eq!(by_notes.notes, vec![ERASED.to_owned()]);
    let mut other = a_return("ord-3", &["damaged box"]);
    assert!(m.redact(&mut other).is_none());
}

#[test]
fn free_text_has_the_erased_name_and_email_replaced() {
    let m = matcher(
        &ErasureSubject::name_postal("Jane Roe", "62701").unwrap(),
        &[],
    );
    let (text, found) = m
        .scrub_text("Please call JANE   roe, not Jane Doe. Thanks Jane Roe!")
        .unwrap();
    assert_eq!(text, "Please call [erased], not Jane Doe. Thanks [erased]!");
    assert_eq!(found.len(), 1);
    let m = matcher(&ErasureSubject::email("jane@example.com").unwrap(), &[]);
    let (text, _) = m
        .scrub_text("mail <jane@EXAMPLE.com>; cc bob@example.com")
        .unwrap();
    assert_eq!(text, "mail <[erased]>; cc bob@example.com");
    assert!(m.scrub_text("nothing here").is_none());
}

#[test]
fn a_payload_with_the_person_loses_addresses_and_notes_and_quoted_emails() {
    let m = matcher(&ErasureSubject::email("jane.roe@example.com").unwrap(), &[]);
    let mut payload = json!({
        "event_type": "order.created",
        "data": {
            "id": "ord-9",
            "ship_to_address": { "full_name": "Jane Roe", "email_address": "jane.roe@example.com", "country": "US" },
            "billing": { "full_name": "Jane Roe", "postal_code": "62701" },
            "notes": ["ring twice"],
            "comment": "from jane.roe@example.com"
        }
    });
    let found = m.redact_payload(&mut payload, true).unwrap();
    assert_eq!(found.len(), 1);
    let text = payload.to_string();
    assert!(!text.to_lowercase().contains("jane"), "{text}");
    assert_eq!(payload["data"]["ship_to_address"]["country"], "US");
    assert_eq!(payload["data"]["notes"][0], ERASED);
    // and a second pass finds nothing more
    assert!(m.redact_payload(&mut payload, true).is_none());
}

#[test]
fn an_order_event_of_an_erased_persons_order_is_matched_by_its_id() {
    let m = matcher(
        &ErasureSubject::email("jane.roe@example.com").unwrap(),
        &["ord-9"],
    );
    let mut payload =
        json!({ "data": { "id": "ord-9", "ship_to_address": { "full_name": "J R" } } });
    assert!(m.redact_payload(&mut payload, true).is_some());
    assert_eq!(payload["data"]["ship_to_address"]["full_name"], ERASED);
    let mut not_an_order =
        json!({ "data": { "id": "ord-9", "ship_from_address": { "full_name": "J R" } } });
    assert!(m.redact_payload(&mut not_an_order, false).is_none());
}

#[test]
fn a_match_teaches_the_erasure_the_name_and_email_on_the_address() {
    // given an erasure by name and postal code
    let m = matcher(
        &ErasureSubject::name_postal("jane roe", "627011234").unwrap(),
        &[],
    );
    // when Jane's order is redacted
    let found = m.redact(&mut order(jane())).unwrap();
    // then the hashes of her name and email are reported, for free text elsewhere
    assert_eq!(
        found.name_hashes,
        BTreeSet::from([key().name(&tenant(), "jane roe")])
    );
    assert_eq!(
        found.email_hashes,
        BTreeSet::from([key().email(&tenant(), "jane.roe@example.com")])
    );
}
