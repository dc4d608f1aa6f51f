//! The retention sweep (`packr::lifecycle::sweep::run`) on the emulator: tombstones older
//! than `TombstonePersonalDataDays` lose their personal fields (id, kind and dates stay),
//! failed receipts older than the replay window lose their kept event; younger ones, live
//! objects and another tenant's items stay byte for byte; a second run changes nothing; a
//! run cut by its deadline is taken up by the next.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use packr::domain::{
    Address, ConnectionId, CorrelationId, Currency, EventId, Order, Return, Tenant, Timestamp,
};
use packr::lifecycle::retention::RetentionConfig;
use packr::lifecycle::sweep::{self, SweepDeps, SweepReport};
use packr::metrics::RecordingSink;
use packr::resource::ResourceKind;
use packr::store::{SyncedStore, TenantStore};
use packr::webhook::envelope::QueuedEvent;
use packr::webhook::receipts::{ReceiptState, ReceiptStore};
use packr::webhook::replay::{replay, ReplayRequest, SkipReason};
use serde_json::json;

use crate::helpers::*;
use crate::retention::{raw, scan_all};

type Item = HashMap<String, AttributeValue>;

const DAY: i64 = 86_400;
/// The personal data of the old tombstone and the old failed event.
const OLD_NAME: &str = "Jane Roe";
const OLD_EMAIL: &str = "jane.roe@example.com";
const OLD_NOTE: &str = "leave it with Jane next door";

async fn register(s: &Stack, id: &str) {
    s.store
        .create_tenant(&Tenant {
            id: tenant(id),
            name: id.to_owned(),
            default_currency: Currency::parse("USD").unwrap(),
            created_at: at(0),
        })
        .await
        .unwrap();
}

fn address(name: &str, email: &str) -> Address {
    Address {
        full_name: Some(name.into()),
        address1: Some("1 Main St".into()),
        city: Some("Springfield".into()),
        postal_code: Some("62701".into()),
        country: Some("US".into()),
        phone_number: Some("+1 555 0100".into()),
        email_address: Some(email.into()),
        ..Address::default()
    }
}

fn personal_order(t: &str, id: &str, name: &str, email: &str) -> Order {
    let mut o = order(&tenant(t), id, Some(&brand("b1")), 10);
    o.ship_to_address = Some(address(name, email));
    o
}

fn personal_return(t: &str, id: &str, note: &str) -> Return {
    serde_json::from_value(json!({
        "id": id, "tenant_id": t, "brand_id": "b1", "connection_id": "conn_1",
        "status": "open", "notes": [note], "tracking_numbers": ["1Z999"],
        "created_date": at(0).to_string(), "updated_date": at(10).to_string(),
    }))
    .unwrap()
}

async fn tombstone_order(s: &Stack, t: &str, o: &Order, deleted: Timestamp) {
    SyncedStore::upsert_if_newer(&s.store, &tenant(t), o)
        .await
        .unwrap();
    let gone = SyncedStore::<Order>::tombstone(&s.store, &tenant(t), o.id.as_str(), deleted)
        .await
        .unwrap();
    assert!(gone);
}

fn queued(t: &str, event_id: &str, received: Timestamp, email: &str) -> QueuedEvent {
    QueuedEvent {
        event_id: EventId::parse(event_id).unwrap(),
        tenant_id: tenant(t),
        brand_id: Some(brand("b1")),
        connection_id: ConnectionId::parse("conn_1").unwrap(),
        event_type: "order.updated".into(),
        received_at: received,
        delivered_at: None,
        correlation_id: CorrelationId::generate(),
        payload: json!({"event_type": "order.updated", "connection_id": "conn_1",
            "data": {"id": format!("ord_{event_id}"), "ship_to_address": {"email_address": email}}}),
    }
}

/// Every attribute of an item as text, its deflated body and kept event inflated, to look
/// for personal data.
fn text_of(item: &Item) -> String {
    let mut text = String::new();
    for (name, value) in item {
        match (name.as_str(), value) {
            ("body", AttributeValue::B(_)) => {
                let kind = ResourceKind::ALL
                    .into_iter()
                    .find(|k| k.spec().key == item["sk"].as_s().unwrap())
                    .expect("an object's kind");
                let object = (kind.ops().decode_stored)(item.clone()).unwrap();
                text.push_str(
                    &String::from_utf8(object.erased().to_json_bytes().unwrap()).unwrap(),
                );
            }
            ("failed_event", AttributeValue::B(blob)) => {
                let event = packr::webhook::stored_event::decompress(blob.as_ref()).unwrap();
                text.push_str(&serde_json::to_string(&event).unwrap());
            }
            (_, other) => text.push_str(&format!("{other:?}")),
        }
        text.push('\n');
    }
    text
}

fn holding<'a>(items: &'a [Item], needle: &str) -> Vec<&'a str> {
    items
        .iter()
        .filter(|i| text_of(i).contains(needle))
        .map(|i| i["pk"].as_s().unwrap().as_str())
        .collect()
}

fn of_tenant(items: &[Item], t: &str) -> BTreeMap<(String, String), Item> {
    let prefix = format!("T#{t}#");
    items
        .iter()
        .filter(|i| i["pk"].as_s().unwrap().starts_with(&prefix))
        .map(|i| {
            (
                (
                    i["pk"].as_s().unwrap().clone(),
                    i["sk"].as_s().unwrap().clone(),
                ),
                i.clone(),
            )
        })
        .collect()
}

fn deps(s: &Stack, metrics: &RecordingSink) -> SweepDeps {
    SweepDeps::new(
        s.store.clone(),
        RetentionConfig::default(),
        Arc::new(metrics.clone()),
    )
}

fn ample() -> Instant {
    Instant::now() + Duration::from_secs(120)
}

#[tokio::test]
async fn the_sweep_strips_old_tombstones_and_drops_old_payloads_and_touches_nothing_else() {
    // given acme with a tombstone deleted 10 days ago (order, with a name and an email) and
    // one 2 days ago, a return deleted 10 days ago (a note), a live order with personal
    // data, a failed event received 20 days ago and one received a day ago
    let s = stack().await;
    let now = Timestamp::now();
    register(&s, "acme").await;
    register(&s, "globex").await;
    let old = personal_order("acme", "ord_old", OLD_NAME, OLD_EMAIL);
    tombstone_order(&s, "acme", &old, now.plus_seconds(-10 * DAY)).await;
    let young = personal_order("acme", "ord_young", "John Young", "john@example.com");
    tombstone_order(&s, "acme", &young, now.plus_seconds(-2 * DAY)).await;
    let ret = personal_return("acme", "ret_old", OLD_NOTE);
    SyncedStore::upsert_if_newer(&s.store, &tenant("acme"), &ret)
        .await
        .unwrap();
    SyncedStore::<Return>::tombstone(
        &s.store,
        &tenant("acme"),
        "ret_old",
        now.plus_seconds(-10 * DAY),
    )
    .await
    .unwrap();
    let live = personal_order("acme", "ord_live", "Live Person", "live@example.com");
    SyncedStore::upsert_if_newer(&s.store, &tenant("acme"), &live)
        .await
        .unwrap();
    let old_event = queued("acme", "msg_old", now.plus_seconds(-20 * DAY), OLD_EMAIL);
    let young_event = queued(
        "acme",
        "msg_young",
        now.plus_seconds(-DAY),
        "young@example.com",
    );
    for event in [&old_event, &young_event] {
        s.store
            .mark_failed(event, "unknown connection", false, now)
            .await
            .unwrap();
    }
    // and globex with an old live order, a young tombstone and a young failed event
    let g_live = personal_order("globex", "ord_g", "Gail Globex", "gail@example.com");
    SyncedStore::upsert_if_newer(&s.store, &tenant("globex"), &g_live)
        .await
        .unwrap();
    let g_young = personal_order("globex", "ord_gy", "Gus Young", "gus@example.com");
    tombstone_order(&s, "globex", &g_young, now.plus_seconds(-DAY)).await;
    s.store
        .mark_failed(
            &queued("globex", "msg_g", now.plus_seconds(-DAY), "g@example.com"),
            "x",
            false,
            now,
        )
        .await
        .unwrap();
    let before = scan_all(&s).await;
    // (the personal data is there to be found)
    assert_eq!(holding(&before, OLD_NAME), ["T#acme#ORDER#ord_old"]);
    let mut with_email = holding(&before, OLD_EMAIL);
    with_email.sort();
    assert_eq!(with_email, ["T#acme#EVT#msg_old", "T#acme#ORDER#ord_old"]);
    assert_eq!(holding(&before, OLD_NOTE), ["T#acme#RETURN#ret_old"]);

    // when the sweep runs
    let metrics = RecordingSink::new();
    let report = sweep::run(&deps(&s, &metrics), now, ample()).await;

    // then it stripped the two old tombstones and dropped the old payload, completely
    assert_eq!(
        report,
        SweepReport {
            tombstones_stripped: 2,
            receipt_payloads_dropped: 1,
            tenants: 2,
            pages: report.pages,
            complete: true,
            ..SweepReport::default()
        }
    );
    assert_eq!(metrics.total("lifecycle.tombstones_stripped"), 2.0);
    assert_eq!(metrics.total("lifecycle.receipt_payloads_dropped"), 1.0);
    assert_eq!(metrics.total("lifecycle.sweep_incomplete"), 0.0);
    // and no item holds the old name, email or note any more
    let after = scan_all(&s).await;
    for needle in [OLD_NAME, OLD_EMAIL, OLD_NOTE] {
        assert!(holding(&after, needle).is_empty(), "{needle} is left");
    }
    // and the old tombstone keeps its id, kind, dates and the address's country
    let item = raw(&s, "T#acme#ORDER#ord_old", "ORDER").await.unwrap();
    let stripped = SyncedStore::<Order>::get(&s.store, &tenant("acme"), "ord_old")
        .await
        .unwrap();
    assert!(stripped.is_none(), "still a tombstone");
    let object = (ResourceKind::Orders.ops().decode_stored)(item.clone()).unwrap();
    let object: Order = object.downcast().unwrap();
    assert_eq!(object.id, old.id);
    assert_eq!(
        (object.created_date, object.updated_date),
        (old.created_date, old.updated_date)
    );
    assert_eq!(
        object.ship_to_address,
        Some(Address {
            country: Some("US".into()),
            ..Address::default()
        })
    );
    assert_eq!(object.line_items, old.line_items);
    let before_item =
        &of_tenant(&before, "acme")[&("T#acme#ORDER#ord_old".to_owned(), "ORDER".to_owned())];
    for kept in [
        "id",
        "deleted_at",
        "updated_us",
        "created_us",
        "written_at",
        "chgpk",
        "chgsk",
        "brand_id",
    ] {
        assert_eq!(item.get(kept), before_item.get(kept), "{kept}");
    }
    assert!(!item.contains_key("gsi4pk") && !item.contains_key("gsi4sk"));
    // and the young tombstone, the live order and the young receipt are untouched
    let (acme_before, acme_after) = (of_tenant(&before, "acme"), of_tenant(&after, "acme"));
    for key in [
        ("T#acme#ORDER#ord_young", "ORDER"),
        ("T#acme#ORDER#ord_live", "ORDER"),
        ("T#acme#EVT#msg_young", "RECEIPT"),
    ] {
        let key = (key.0.to_owned(), key.1.to_owned());
        assert_eq!(acme_before[&key], acme_after[&key], "{key:?}");
    }
    // and the old receipt stays failed, without its event, out of the failed-events index
    let receipt = raw(&s, "T#acme#EVT#msg_old", "RECEIPT").await.unwrap();
    assert!(!receipt.contains_key("failed_event") && !receipt.contains_key("gsi2pk"));
    assert_eq!(receipt["payload_omitted"].as_s().unwrap(), "expired");
    assert!(receipt.contains_key("expires_at"));
    let found = s
        .store
        .get_for_replay(&tenant("acme"), &old_event.event_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.receipt.state, found.event),
        (ReceiptState::Failed, None)
    );
    // and a replay finds only the young event, and cannot replay the old one
    let request = ReplayRequest {
        tenant: tenant("acme"),
        brand: None,
        event_ids: vec![],
        max_age: None,
        max: 10,
        dry_run: true,
    };
    let listed = replay(&s.store, &s.store, None, &request, now)
        .await
        .unwrap();
    assert_eq!(listed.matched, 1);
    assert!(listed.skipped.is_empty(), "{:?}", listed.skipped);
    let asked = ReplayRequest {
        event_ids: vec![old_event.event_id.clone(), young_event.event_id.clone()],
        ..request
    };
    let report_ids = replay(&s.store, &s.store, None, &asked, now).await.unwrap();
    let skipped: Vec<(String, SkipReason)> = report_ids
        .skipped
        .iter()
        .map(|k| (k.event_id.clone(), k.reason))
        .collect();
    assert_eq!(
        skipped,
        [("msg_old".to_owned(), SkipReason::PayloadMissing)]
    );
    // and globex's items are byte-identical
    assert_eq!(of_tenant(&before, "globex"), of_tenant(&after, "globex"));

    // when the sweep runs again
    let metrics = RecordingSink::new();
    let again = sweep::run(&deps(&s, &metrics), now, ample()).await;
    // then it finds nothing to do and the table is unchanged
    assert_eq!(
        (
            again.tombstones_stripped,
            again.receipt_payloads_dropped,
            again.skipped
        ),
        (0, 0, 0)
    );
    assert!(again.complete);
    let key = |i: &Item| {
        (
            i["pk"].as_s().unwrap().clone(),
            i["sk"].as_s().unwrap().clone(),
        )
    };
    let sorted = |items: Vec<Item>| {
        items
            .into_iter()
            .map(|i| (key(&i), i))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(sorted(scan_all(&s).await), sorted(after));
}

#[tokio::test]
async fn a_tombstone_revived_before_the_sweep_keeps_its_personal_fields() {
    // given an order tombstoned 10 days ago, then revived by a newer copy
    let s = stack().await;
    let now = Timestamp::now();
    register(&s, "acme").await;
    let o = personal_order("acme", "ord_back", OLD_NAME, OLD_EMAIL);
    tombstone_order(&s, "acme", &o, now.plus_seconds(-10 * DAY)).await;
    let mut newer = o.clone();
    newer.updated_date = at(20);
    SyncedStore::upsert_if_newer(&s.store, &tenant("acme"), &newer)
        .await
        .unwrap();

    // when the sweep runs
    let report = sweep::run(&deps(&s, &RecordingSink::new()), now, ample()).await;

    // then the live order is not the sweep's: it reads back whole, out of the sweep's index
    assert_eq!(report.tombstones_stripped, 0);
    let back = SyncedStore::<Order>::get(&s.store, &tenant("acme"), "ord_back")
        .await
        .unwrap();
    assert_eq!(back, Some(newer));
    let item = raw(&s, "T#acme#ORDER#ord_back", "ORDER").await.unwrap();
    assert!(!item.contains_key("gsi4pk") && !item.contains_key("deleted_at"));
}

#[tokio::test]
async fn a_sweep_cut_by_its_deadline_is_taken_up_by_the_next_run() {
    // given five old tombstones in the same index partition, and pages of two
    let s = stack().await;
    let now = Timestamp::now();
    register(&s, "acme").await;
    let ids: Vec<String> = (0..)
        .map(|n| format!("ord_r{n}"))
        .filter(|id| {
            packr::store::keys::change_shard("ORDER", id)
                % packr::store::keys::TOMBSTONE_SWEEP_SHARDS
                == 0
        })
        .take(5)
        .collect();
    for (n, id) in ids.iter().enumerate() {
        let o = personal_order(
            "acme",
            id,
            &format!("Person {n}"),
            &format!("p{n}@example.com"),
        );
        tombstone_order(&s, "acme", &o, now.plus_seconds(-10 * DAY + n as i64)).await;
    }
    let metrics = RecordingSink::new();
    let deps = SweepDeps {
        page_size: 2,
        ..deps(&s, &metrics)
    };

    // when a run starts with its deadline already passed
    let first = sweep::run(&deps, now, Instant::now()).await;
    // then it does one page (two tombstones) and says it is not complete
    assert_eq!(
        (first.tombstones_stripped, first.pages, first.complete),
        (2, 1, false)
    );
    assert_eq!(metrics.total("lifecycle.sweep_incomplete"), 1.0);
    let left = |items: &[Item]| {
        items
            .iter()
            .filter(|i| {
                i.contains_key("gsi4pk") && i["pk"].as_s().unwrap().starts_with("T#acme#ORDER#")
            })
            .count()
    };
    assert_eq!(left(&scan_all(&s).await), 3);

    // when the next runs are cut the same way, then each goes on where the last stopped
    let second = sweep::run(&deps, now, Instant::now()).await;
    assert_eq!((second.tombstones_stripped, second.complete), (2, false));
    let third = sweep::run(&deps, now, ample()).await;
    assert_eq!((third.tombstones_stripped, third.complete), (1, true));
    let items = scan_all(&s).await;
    assert_eq!(left(&items), 0);
    for n in 0..5 {
        assert!(
            holding(&items, &format!("p{n}@example.com")).is_empty(),
            "p{n}"
        );
    }
}
