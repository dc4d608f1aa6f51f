//! The inbound shipment and return writes of `TrackstarClient`, against a recording HTTP
//! server on loopback (the simulator does not serve these writes yet): the method, path,
//! `Idempotency-Key` and body as sent, the write result as decoded, and invalid requests
//! refused before anything is sent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use secrecy::SecretString;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::domain::{
    ConnectionId, Currency, InboundShipmentId, InboundShipmentStatus, OrderId, ReturnStatus, Sku,
    TenantId, Timestamp, WarehouseId,
};
use crate::secrets::InMemorySecretSource;

const TOKEN_SECRET: &str = "trackstar/conn_1/token";

#[derive(Debug)]
struct Recorded {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Value,
}

type Log = Arc<Mutex<Vec<Recorded>>>;

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Serves every request with `answer` (status 200), recording what came.
async fn recording_server(answer: Value) -> (String, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let log: Log = Arc::default();
    let seen = log.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            let head_end = loop {
                let n = stream.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(i) = find(&buf, b"\r\n\r\n") {
                    break Some(i + 4);
                }
            };
            let Some(head_end) = head_end else { continue };
            let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
            let mut lines = head.split("\r\n");
            let mut request_line = lines.next().unwrap_or("").split(' ');
            let method = request_line.next().unwrap_or("").to_owned();
            let path = request_line.next().unwrap_or("").to_owned();
            let headers: HashMap<String, String> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                .collect();
            let length: usize = headers
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            while buf.len() < head_end + length {
                let n = stream.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let body = serde_json::from_slice(&buf[head_end..]).unwrap_or(Value::Null);
            seen.lock().unwrap().push(Recorded {
                method,
                path,
                headers,
                body,
            });
            let text = answer.to_string();
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                text.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
    });
    (format!("http://127.0.0.1:{port}"), log)
}

fn client(base_url: String) -> (TrackstarClient, ConnectionCredentials) {
    let config = TrackstarConfig {
        base_url,
        ..TrackstarConfig::default()
    };
    let secrets = Arc::new(InMemorySecretSource::with(TOKEN_SECRET, "tok_conn_1"));
    let client = TrackstarClient::new(config, SecretString::from("org_key"), secrets).unwrap();
    let credentials = ConnectionCredentials::new(
        TenantId::parse("t1").unwrap(),
        ConnectionId::parse("conn_1").unwrap(),
        TOKEN_SECRET,
    );
    (client, credentials)
}

fn ctx() -> ConversionContext {
    ConversionContext {
        tenant_id: TenantId::parse("t1").unwrap(),
        brand_id: None,
        connection_id: ConnectionId::parse("conn_1").unwrap(),
        fallback_currency: Currency::parse("USD").unwrap(),
    }
}

fn asn() -> CreateInboundShipmentRequest {
    CreateInboundShipmentRequest {
        warehouse_id: WarehouseId::parse("wh_1").unwrap(),
        purchase_order_number: "PO-77".into(),
        supplier: "Acme Textiles".into(),
        supplier_object: None,
        expected_arrival_date: Timestamp::parse("2024-04-10T00:00:00Z").unwrap(),
        tracking_number: "1Z111".into(),
        line_items: vec![InboundWriteLine {
            sku: Sku::parse("TEE-1").unwrap(),
            expected_quantity: 100,
        }],
        warehouse_customer_id: None,
        trackstar_tags: Vec::new(),
    }
}

fn inbound_answer() -> Value {
    json!({
        "data": {"id": "ib_1", "warehouse_id": "wh_1", "status": "open",
                 "purchase_order_number": "PO-77",
                 "line_items": [{"sku": "TEE-1", "expected_quantity": 100,
                                 "received_quantity": 0}],
                 "created_date": "2024-04-01T00:00:00Z",
                 "updated_date": "2024-04-01T00:00:00Z"},
        "id": "ib_1",
        "unused_fields": ["tracking_number"]
    })
}

#[tokio::test]
async fn create_inbound_shipment_posts_the_body_with_its_key_and_decodes_the_result() {
    // given a server answering as Trackstar does
    let (url, log) = recording_server(inbound_answer()).await;
    let (client, credentials) = client(url);
    let key = IdempotencyKey::parse("key-asn-1").unwrap();
    // when an ASN is created
    let result = client
        .create_inbound_shipment(&credentials, &asn(), &key)
        .await
        .unwrap();
    // then one POST went out, with the key, the access token and the body
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].method, "POST");
    assert_eq!(log[0].path, "/wms/inbound-shipments");
    assert_eq!(log[0].headers["idempotency-key"], "key-asn-1");
    assert_eq!(log[0].headers["x-trackstar-access-token"], "tok_conn_1");
    assert_eq!(log[0].body["purchase_order_number"], "PO-77");
    assert_eq!(log[0].body["line_items"][0]["expected_quantity"], 100);
    // and the write result converts into the domain
    assert_eq!(result.id.as_deref(), Some("ib_1"));
    assert_eq!(result.unused_fields, vec!["tracking_number"]);
    assert!(!result.replayed);
    let ib = result.data.into_domain(&ctx()).unwrap();
    assert_eq!(ib.status, InboundShipmentStatus::Open);
    assert_eq!(ib.line_items[0].expected_quantity, 100);
}

#[tokio::test]
async fn update_inbound_shipment_puts_only_the_change_to_the_shipments_path() {
    let (url, log) = recording_server(inbound_answer()).await;
    let (client, credentials) = client(url);
    let request = UpdateInboundShipmentRequest {
        tracking_number: Some("1Z999".into()),
        ..UpdateInboundShipmentRequest::default()
    };
    let result = client
        .update_inbound_shipment(
            &credentials,
            &InboundShipmentId::parse("ib_1").unwrap(),
            &request,
            &IdempotencyKey::parse("key-asn-2").unwrap(),
        )
        .await
        .unwrap();
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].method, "PUT");
    assert_eq!(log[0].path, "/wms/inbound-shipments/ib_1");
    assert_eq!(log[0].headers["idempotency-key"], "key-asn-2");
    assert_eq!(log[0].body, json!({"tracking_number": "1Z999"}));
    assert_eq!(result.data.id.as_deref(), Some("ib_1"));
}

#[tokio::test]
async fn create_return_posts_the_body_and_decodes_the_return() {
    let (url, log) = recording_server(json!({
        "data": {"id": "ret_1", "order_id": "ord_1", "status": "open",
                 "line_items": [{"sku": "TEE-1", "quantity": 2, "expected_quantity": 2}],
                 "created_date": "2024-05-01T00:00:00Z",
                 "updated_date": "2024-05-01T00:00:00Z"},
        "id": "ret_1",
        "unused_fields": []
    }))
    .await;
    let (client, credentials) = client(url);
    let request = CreateReturnRequest {
        order_id: Some(OrderId::parse("ord_1").unwrap()),
        ..CreateReturnRequest::new(vec![ReturnWriteLine {
            sku: Sku::parse("TEE-1").unwrap(),
            quantity: 2,
        }])
    };
    let result = client
        .create_return(
            &credentials,
            &request,
            &IdempotencyKey::parse("key-ret-1").unwrap(),
        )
        .await
        .unwrap();
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].method, "POST");
    assert_eq!(log[0].path, "/wms/returns");
    assert_eq!(log[0].headers["idempotency-key"], "key-ret-1");
    assert_eq!(
        log[0].body,
        json!({"order_id": "ord_1", "line_items": [{"sku": "TEE-1", "quantity": 2}]})
    );
    let ret = result.data.into_domain(&ctx()).unwrap();
    assert_eq!(ret.status, ReturnStatus::Open);
    assert_eq!(ret.order_id.unwrap().as_str(), "ord_1");
}

#[tokio::test]
async fn invalid_writes_are_refused_naming_the_field_and_nothing_is_sent() {
    // given a server that would accept anything
    let (url, log) = recording_server(inbound_answer()).await;
    let (client, credentials) = client(url);
    let key = IdempotencyKey::parse("key-bad").unwrap();
    // when each write is invalid
    let mut no_po = asn();
    no_po.purchase_order_number = " ".into();
    let created = client
        .create_inbound_shipment(&credentials, &no_po, &key)
        .await;
    let updated = client
        .update_inbound_shipment(
            &credentials,
            &InboundShipmentId::parse("ib_1").unwrap(),
            &UpdateInboundShipmentRequest::default(),
            &key,
        )
        .await;
    let returned = client
        .create_return(&credentials, &CreateReturnRequest::new(Vec::new()), &key)
        .await;
    // then each is an invalid request saying why, and the server saw nothing
    let reason = |r: Result<(), TrackstarError>| match r {
        Err(TrackstarError::InvalidRequest { reason }) => reason,
        other => panic!("expected an invalid request, got {other:?}"),
    };
    assert!(reason(created.map(|_| ())).contains("purchase_order_number"));
    assert!(reason(updated.map(|_| ())).contains("changes no field"));
    assert!(reason(returned.map(|_| ())).contains("line_items"));
    assert_eq!(log.lock().unwrap().len(), 0);
}
