//! Retention enforced by DynamoDB's TTL (`packr::lifecycle::retention`): the items that
//! expire as a whole carry `expires_at` from the moment they are written — `REJECTED#`
//! records after `RejectedDeliveryRetentionDays`, bills `BillRetentionYears` after their
//! date, messages after `MessageRetentionDays` when set (none by default); live objects of
//! other kinds carry none.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use packr::domain::{Bill, EventId, Message, MessageBody, MessageId, Timestamp, UserId};
use packr::lifecycle::retention::ItemExpiry;
use packr::store::{MessageStore, SyncedStore};
use packr::webhook::receipts::ReceiptStore;
use serde_json::json;

use crate::helpers::*;

type Item = HashMap<String, AttributeValue>;

/// Every item of the emulator's table (tests only: the code never scans).
pub async fn scan_all(s: &Stack) -> Vec<Item> {
    let client = s.store.client();
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = client
            .scan()
            .table_name(s.store.table_name())
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        items.extend(out.items.unwrap_or_default());
        match out.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return items,
        }
    }
}

pub async fn raw(s: &Stack, pk: &str, sk: &str) -> Option<Item> {
    s.store
        .client()
        .get_item()
        .table_name(s.store.table_name())
        .key("pk", AttributeValue::S(pk.to_owned()))
        .key("sk", AttributeValue::S(sk.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

fn expires_at(item: &Item) -> Option<i64> {
    item.get("expires_at")
        .map(|v| v.as_n().unwrap().parse().unwrap())
}

fn bill(t: &str, id: &str, date: &str, updated: &str) -> Bill {
    serde_json::from_value(json!({
        "id": id, "tenant_id": t, "brand_id": "b1", "connection_id": "conn_1",
        "charge_type": "pick_fee", "currency": "USD",
        "amount": {"minor": 125, "currency": "USD"},
        "created_date": date, "updated_date": updated,
    }))
    .unwrap()
}

fn message(t: &str, created: Timestamp) -> Message {
    Message {
        tenant_id: tenant(t),
        brand_id: brand("b1"),
        id: MessageId::generate(),
        author: UserId::parse("user_1").unwrap(),
        author_role: "tenant_staff".into(),
        body: MessageBody::parse("please call me back").unwrap(),
        created_at: created,
    }
}

#[tokio::test]
async fn a_rejected_delivery_record_expires_after_the_rejected_retention() {
    // given the default retention (30 days) and one of 2 days
    let s = stack().await;
    let now = Timestamp::parse("2026-03-01T10:00:00Z").unwrap();
    let short = s.store.clone().with_expiry(ItemExpiry {
        rejected_delivery_days: 2,
        ..ItemExpiry::default()
    });

    // when a delivery is rejected under each
    s.store
        .record_rejected(&EventId::parse("msg_a").unwrap(), "malformed", 10, now)
        .await
        .unwrap();
    short
        .record_rejected(&EventId::parse("msg_b").unwrap(), "malformed", 10, now)
        .await
        .unwrap();

    // then each REJECTED# record expires that many days after it was recorded
    let mut expiries: Vec<(String, Option<i64>)> = scan_all(&s)
        .await
        .iter()
        .filter(|i| i["pk"].as_s().unwrap().starts_with("REJECTED#"))
        .map(|i| (i["event_id"].as_s().unwrap().clone(), expires_at(i)))
        .collect();
    expiries.sort();
    assert_eq!(
        expiries,
        [
            ("msg_a".to_owned(), Some(now.unix_seconds() + 30 * 86_400)),
            ("msg_b".to_owned(), Some(now.unix_seconds() + 2 * 86_400)),
        ]
    );
}

#[tokio::test]
async fn a_bill_expires_seven_years_after_its_date_and_other_objects_never() {
    // given a bill dated 2024-02-29 and an order
    let s = stack().await;
    let t = tenant("acme");
    let first = bill(
        "acme",
        "bill_1",
        "2024-02-29T08:30:00Z",
        "2024-02-29T08:30:00Z",
    );
    SyncedStore::<Bill>::upsert_if_newer(&s.store, &t, &first)
        .await
        .unwrap();
    SyncedStore::upsert_if_newer(&s.store, &t, &order(&t, "ord_1", Some(&brand("b1")), 5))
        .await
        .unwrap();

    // then the bill's item expires on its date's day seven years later
    let seven_years = Timestamp::parse("2031-02-28T08:30:00Z").unwrap();
    let item = raw(&s, "T#acme#BILL#bill_1", "BILL").await.unwrap();
    assert_eq!(expires_at(&item), Some(seven_years.unix_seconds()));
    // and the order carries no expiry
    let item = raw(&s, "T#acme#ORDER#ord_1", "ORDER").await.unwrap();
    assert_eq!(expires_at(&item), None);

    // when a newer copy of the bill is written (same date)
    let newer = bill(
        "acme",
        "bill_1",
        "2024-02-29T08:30:00Z",
        "2024-03-02T00:00:00Z",
    );
    SyncedStore::<Bill>::upsert_if_newer(&s.store, &t, &newer)
        .await
        .unwrap();
    // then its expiry still counts from its date, not from the write
    let item = raw(&s, "T#acme#BILL#bill_1", "BILL").await.unwrap();
    assert_eq!(expires_at(&item), Some(seven_years.unix_seconds()));

    // and under BillRetentionYears = 10 a bill expires ten years after its date
    let ten = s.store.clone().with_expiry(ItemExpiry {
        bill_retention_years: 10,
        ..ItemExpiry::default()
    });
    let other = bill(
        "acme",
        "bill_2",
        "2025-06-30T00:00:00Z",
        "2025-06-30T00:00:00Z",
    );
    SyncedStore::<Bill>::upsert_if_newer(&ten, &t, &other)
        .await
        .unwrap();
    let item = raw(&s, "T#acme#BILL#bill_2", "BILL").await.unwrap();
    assert_eq!(
        expires_at(&item),
        Some(
            Timestamp::parse("2035-06-30T00:00:00Z")
                .unwrap()
                .unix_seconds()
        )
    );
}

#[tokio::test]
async fn messages_are_kept_by_default_and_expire_when_a_message_retention_is_set() {
    // given the default (0: keep) and a retention of 90 days
    let s = stack().await;
    let t = tenant("acme");
    let created = Timestamp::parse("2026-01-10T12:00:00Z").unwrap();
    let kept = message("acme", created);
    let expiring = message("acme", created.plus_seconds(1));
    let ninety = s.store.clone().with_expiry(ItemExpiry {
        message_retention_days: 90,
        ..ItemExpiry::default()
    });

    // when a message is posted under each
    s.store.append(&t, &kept).await.unwrap();
    ninety.append(&t, &expiring).await.unwrap();

    // then the first carries no expiry, the second expires 90 days after it was posted
    let by_id: HashMap<String, Option<i64>> = scan_all(&s)
        .await
        .iter()
        .filter(|i| i["pk"].as_s().unwrap() == "T#acme#B#b1#MSG")
        .map(|i| (i["id"].as_s().unwrap().clone(), expires_at(i)))
        .collect();
    assert_eq!(by_id.len(), 2);
    assert_eq!(by_id[kept.id.as_str()], None);
    assert_eq!(
        by_id[expiring.id.as_str()],
        Some(created.unix_seconds() + 1 + 90 * 86_400)
    );
    // and both still read back whole
    let page = MessageStore::list(&s.store, &t, &brand("b1"), &Default::default())
        .await
        .unwrap();
    assert_eq!(page.items, vec![expiring, kept]);
}
