//! The authorization matrix, generated: every authorized route × every role × a target of
//! the caller's own brand / another brand of the same tenant / another tenant, plus every
//! route without or with malformed claims — each with its expected status from the rules
//! of the spec, run through the real handlers against the emulator and the simulator.
//!
//! Rules: another tenant's object → 404; a brand user on another brand → 404; a role
//! without the permission on a visible object → 403; connections and the audit log are
//! tenant_admin only (403 for every other role), and so are `POST /sync/run` and
//! `POST /sync/backfill` (another tenant's connection → 404), and `POST /sync/replay` (another tenant's brand → 404);
//! `GET /sync/health` is open to every role (scoped), `GET /sync/lag/{brand_id}` of a brand
//! the caller may not see is a 404; reconciliation reports are brand-scoped like objects;
//! warehouses and shipping methods are the whole tenant's (every role, any brand).

use std::fmt;

use packr::api::router::{RouteId, ROUTES};
use packr::store::SyncedStore;
use packr::sync::reconcile::ReportStore;
use serde_json::{json, Value};

use crate::api_support::*;
use crate::helpers::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Own,
    OtherBrand,
    OtherTenant,
}

const ROLES: [&str; 4] = [
    "tenant_admin",
    "tenant_staff",
    "brand_manager",
    "brand_viewer",
];
const TARGETS: [Target; 3] = [Target::Own, Target::OtherBrand, Target::OtherTenant];

/// Objects of each target, created through the API (so write-through routes have them in
/// the simulator too).
struct Fixtures {
    orders: [String; 3],
    products: [String; 3],
    reports: [String; 3],
    inbound: [String; 3],
    returns: [String; 3],
    bills: [String; 3],
    /// Tenant-wide: the own and the other brand's are both acme's.
    warehouses: [String; 3],
    /// Erasures of a person (the tenant's, whichever brand).
    erasures: [String; 3],
    /// Offboarding jobs: acme's (own and other brand) and globex's.
    offboardings: [String; 3],
}

fn brand_of(t: Target) -> &'static str {
    match t {
        Target::Own => "b1",
        Target::OtherBrand => "b2",
        Target::OtherTenant => "g1",
    }
}

fn index(t: Target) -> usize {
    match t {
        Target::Own => 0,
        Target::OtherBrand => 1,
        Target::OtherTenant => 2,
    }
}

struct Case {
    route: RouteId,
    role: String,
    target: String,
    method: &'static str,
    path: String,
    body: Option<Value>,
    key: bool,
    expected: u16,
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} as {} on {}: {} {}",
            self.route, self.role, self.target, self.method, self.path
        )
    }
}

/// What the spec says a role gets on a target for a route.
fn expected(route: RouteId, role: &str, target: Target) -> u16 {
    let tenant_wide = matches!(role, "tenant_admin" | "tenant_staff");
    let visible = match target {
        Target::Own => true,
        Target::OtherBrand => tenant_wide,
        Target::OtherTenant => false,
    };
    let write = |ok: u16| {
        if !visible {
            404
        } else if role == "brand_viewer" {
            403
        } else {
            ok
        }
    };
    match route {
        RouteId::ListOrders
        | RouteId::GetOrder
        | RouteId::ListInventory
        | RouteId::GetInventory
        | RouteId::ListProducts
        | RouteId::GetProduct
        | RouteId::ListMessages
        | RouteId::SyncLag
        | RouteId::ListReconciliations
        | RouteId::GetReconciliation
        | RouteId::ListInboundShipments
        | RouteId::GetInboundShipment
        | RouteId::ListReturns
        | RouteId::GetReturn
        | RouteId::ListBills
        | RouteId::GetBill
        | RouteId::ListChanges => {
            if visible {
                200
            } else {
                404
            }
        }
        // Tenant-wide: every role of the tenant, whichever brand; another tenant's a 404.
        RouteId::ListWarehouses | RouteId::ListShippingMethods => 200,
        RouteId::GetWarehouse => {
            if target == Target::OtherTenant {
                404
            } else {
                200
            }
        }
        RouteId::CreateOrder
        | RouteId::CreateProduct
        | RouteId::PostMessage
        | RouteId::CreateInboundShipment
        | RouteId::CreateReturn => write(201),
        RouteId::CancelOrder
        | RouteId::UpdateOrder
        | RouteId::UpdateProduct
        | RouteId::UpdateInboundShipment => write(200),
        RouteId::CreateLinkToken
        | RouteId::ExchangeAuthCode
        | RouteId::ListConnections
        | RouteId::ListAudit => {
            if role != "tenant_admin" {
                403
            } else {
                match (route, target) {
                    (RouteId::CreateLinkToken | RouteId::ExchangeAuthCode, Target::OtherTenant) => {
                        404
                    }
                    (RouteId::ExchangeAuthCode, _) => 201,
                    _ => 200,
                }
            }
        }
        // tenant_admin only; the tenant is the caller's, so a POST has no other tenant.
        RouteId::CreateErasure => match role {
            "tenant_admin" => 202,
            _ => 403,
        },
        RouteId::GetErasure | RouteId::DeleteConnection | RouteId::GetOffboarding => {
            match (role, target) {
                (r, _) if r != "tenant_admin" => 403,
                (_, Target::OtherTenant) => 404,
                _ => 200,
            }
        }
        RouteId::DeleteBrand => match (role, target) {
            (r, _) if r != "tenant_admin" => 403,
            (_, Target::OtherTenant) => 404,
            _ => 202,
        },
        RouteId::RunSync | RouteId::Backfill => match (role, target) {
            (r, _) if r != "tenant_admin" => 403,
            (_, Target::OtherTenant) => 404,
            _ => 202,
        },
        RouteId::Replay => match (role, target) {
            (r, _) if r != "tenant_admin" => 403,
            (_, Target::OtherTenant) => 404,
            _ => 200,
        },
        // Every role; what each sees is scoped (tested in sync_health).
        RouteId::SyncHealth | RouteId::OpenApi | RouteId::Docs | RouteId::DocsAsset => 200,
    }
}

fn request(
    route: RouteId,
    target: Target,
    f: &Fixtures,
    n: usize,
) -> (&'static str, String, Option<Value>, bool) {
    let b = brand_of(target);
    let i = index(target);
    match route {
        RouteId::ListOrders => ("GET", format!("/orders?brand_id={b}"), None, false),
        RouteId::GetOrder => ("GET", format!("/orders/{}", f.orders[i]), None, false),
        RouteId::CreateOrder => (
            "POST",
            "/orders".into(),
            Some(order_body(b, &format!("m{n}"))),
            true,
        ),
        RouteId::UpdateOrder => (
            "PUT",
            format!("/orders/{}", f.orders[i]),
            Some(json!({ "shipping_method_id": format!("sm_{n}") })),
            true,
        ),
        RouteId::CancelOrder => (
            "POST",
            format!("/orders/{}/cancel", f.orders[i]),
            Some(json!({})),
            true,
        ),
        RouteId::ListInventory => ("GET", format!("/inventory?brand_id={b}"), None, false),
        RouteId::GetInventory => ("GET", format!("/inventory/SKU-{b}"), None, false),
        RouteId::ListProducts => ("GET", format!("/products?brand_id={b}"), None, false),
        RouteId::GetProduct => ("GET", format!("/products/{}", f.products[i]), None, false),
        RouteId::CreateProduct => (
            "POST",
            "/products".into(),
            Some(product_body(b, &format!("MX-{n}"))),
            true,
        ),
        RouteId::UpdateProduct => (
            "PUT",
            format!("/products/{}", f.products[i]),
            Some(json!({ "name": format!("Name {n}") })),
            true,
        ),
        RouteId::ListInboundShipments => (
            "GET",
            format!("/inbound-shipments?brand_id={b}"),
            None,
            false,
        ),
        RouteId::GetInboundShipment => (
            "GET",
            format!("/inbound-shipments/{}", f.inbound[i]),
            None,
            false,
        ),
        RouteId::CreateInboundShipment => (
            "POST",
            "/inbound-shipments".into(),
            Some(inbound_body(b, &format!("PO-m{n}"))),
            true,
        ),
        RouteId::UpdateInboundShipment => (
            "PUT",
            format!("/inbound-shipments/{}", f.inbound[i]),
            Some(json!({ "tracking_number": format!("1Z-m{n}") })),
            true,
        ),
        RouteId::ListReturns => ("GET", format!("/returns?brand_id={b}"), None, false),
        RouteId::GetReturn => ("GET", format!("/returns/{}", f.returns[i]), None, false),
        RouteId::CreateReturn => ("POST", "/returns".into(), Some(return_body(b)), true),
        RouteId::ListWarehouses => ("GET", "/warehouses".into(), None, false),
        RouteId::GetWarehouse => (
            "GET",
            format!("/warehouses/{}", f.warehouses[i]),
            None,
            false,
        ),
        RouteId::ListShippingMethods => ("GET", "/shipping-methods".into(), None, false),
        RouteId::ListBills => ("GET", format!("/bills?brand_id={b}"), None, false),
        RouteId::GetBill => ("GET", format!("/bills/{}", f.bills[i]), None, false),
        RouteId::ListChanges => ("GET", format!("/changes?brand_id={b}"), None, false),
        RouteId::ListMessages => ("GET", format!("/brands/{b}/messages"), None, false),
        RouteId::PostMessage => (
            "POST",
            format!("/brands/{b}/messages"),
            Some(json!({ "body": "hello" })),
            true,
        ),
        RouteId::CreateLinkToken => {
            let body = match target {
                Target::Own => json!({}),
                Target::OtherBrand => json!({ "connection_id": CONN_ACME }),
                Target::OtherTenant => json!({ "connection_id": CONN_GLOBEX }),
            };
            ("POST", "/connections/link-token".into(), Some(body), false)
        }
        RouteId::ExchangeAuthCode => (
            "POST",
            "/connections/exchange".into(),
            Some(json!({ "auth_code": format!("auth_conn_m{n}"), "brand_id": b })),
            false,
        ),
        RouteId::ListConnections => ("GET", "/connections".into(), None, false),
        RouteId::ListAudit => ("GET", "/audit".into(), None, false),
        RouteId::CreateErasure => (
            "POST",
            "/privacy/erasures".into(),
            Some(json!({ "email": format!("person{n}@example.com") })),
            true,
        ),
        RouteId::GetErasure => (
            "GET",
            format!("/privacy/erasures/{}", f.erasures[i]),
            None,
            false,
        ),
        // acme's spare connection (Trackstar does not know its token: counted as deleted),
        // or another tenant's
        RouteId::DeleteConnection => {
            let id = if target == Target::OtherTenant {
                CONN_GLOBEX
            } else {
                "conn_mx_spare"
            };
            ("DELETE", format!("/connections/{id}"), None, false)
        }
        RouteId::DeleteBrand => ("DELETE", format!("/brands/{b}"), None, true),
        RouteId::GetOffboarding => (
            "GET",
            format!("/offboardings/{}", f.offboardings[i]),
            None,
            false,
        ),
        RouteId::RunSync => {
            // own connection / every active connection of the tenant / another tenant's
            let body = match target {
                Target::Own => json!({ "connection_id": CONN_ACME, "mode": "incremental" }),
                Target::OtherBrand => json!({ "mode": "full", "resources": ["orders"] }),
                Target::OtherTenant => json!({ "connection_id": CONN_GLOBEX, "mode": "full" }),
            };
            ("POST", "/sync/run".into(), Some(body), true)
        }
        RouteId::Backfill => {
            // the tenant's own connection (one resource, then another) / another tenant's
            let (connection, resource) = match target {
                Target::Own => (CONN_ACME, "orders"),
                Target::OtherBrand => (CONN_ACME, "products"),
                Target::OtherTenant => (CONN_GLOBEX, "orders"),
            };
            let body = json!({
                "connection_id": connection,
                "resource": resource,
                "start_time": "2026-01-01T00:00:00Z",
                "end_time": "2026-01-02T00:00:00Z",
            });
            ("POST", "/sync/backfill".into(), Some(body), true)
        }
        RouteId::SyncHealth => ("GET", "/sync/health".into(), None, false),
        RouteId::SyncLag => ("GET", format!("/sync/lag/{b}"), None, false),
        RouteId::Replay => {
            // dry runs: a webhook replay of the own brand / a sync of the other brand /
            // another tenant's brand
            let body = match target {
                Target::Own => json!({ "type": "webhook", "brand_id": b, "dry_run": true }),
                Target::OtherBrand => json!({ "type": "sync", "brand_id": b, "dry_run": true }),
                Target::OtherTenant => json!({ "type": "webhook", "brand_id": b }),
            };
            ("POST", "/sync/replay".into(), Some(body), true)
        }
        RouteId::ListReconciliations => (
            "GET",
            format!("/sync/reconciliations?brand_id={b}"),
            None,
            false,
        ),
        RouteId::GetReconciliation => (
            "GET",
            format!("/sync/reconciliations/{}", f.reports[i]),
            None,
            false,
        ),
        RouteId::OpenApi => ("GET", "/openapi.json".into(), None, false),
        RouteId::Docs => ("GET", "/docs".into(), None, false),
        RouteId::DocsAsset => (
            "GET",
            format!("/docs/assets/{}", packr::api::docs::ASSETS[0].name),
            None,
            false,
        ),
    }
}

async fn fixtures(s: &ApiStack) -> Fixtures {
    use packr::store::ConnectionStore;
    let acme = tenant(ACME);
    let mut spare = connection(&acme, "conn_mx_spare");
    spare.access_token_secret = format!("{SECRET_PREFIX}conn_mx_spare");
    s.secrets
        .set(&spare.access_token_secret, "tok_unknown_to_trackstar");
    s.stack
        .store
        .create_connection(&acme, &spare)
        .await
        .unwrap();
    let jobs = packr::lifecycle::LifecycleJobStore::new(s.stack.store.clone());
    let mut offboardings = Vec::new();
    for (t, b) in [(ACME, "b1"), (ACME, "b2"), (GLOBEX, "g1")] {
        let job = packr::lifecycle::LifecycleJob::new(
            tenant(t),
            packr::lifecycle::JobKind::BrandOffboarding { brand_id: brand(b) },
            None,
            at(0),
        );
        jobs.create(&job).await.unwrap();
        offboardings.push(job.id);
    }
    let mut orders = Vec::new();
    let mut products = Vec::new();
    let mut reports = Vec::new();
    let (mut inbound, mut returns, mut bills, mut warehouses) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut erasures = Vec::new();
    for target in TARGETS {
        let b = brand_of(target);
        let t = tenant(if target == Target::OtherTenant {
            GLOBEX
        } else {
            ACME
        });
        let (tn, conn) = if target == Target::OtherTenant {
            (GLOBEX, CONN_GLOBEX)
        } else {
            (ACME, CONN_ACME)
        };
        let id = format!("run_mx_{b}");
        s.stack
            .store
            .put_report(&report(tn, &id, conn, &[b], 100))
            .await
            .unwrap();
        reports.push(id);
        s.stack
            .store
            .upsert_if_newer(
                &t,
                &inventory(
                    &t,
                    &format!("inv_{b}"),
                    &format!("SKU-{b}"),
                    Some(&brand(b)),
                ),
            )
            .await
            .unwrap();
        // Read-only kinds, seeded: a bill of the brand, a warehouse of the tenant.
        let bill = crate::warehouse_objects::bill(&t, &format!("bill_mx_{b}"), Some(&brand(b)), 1);
        s.stack.store.upsert_if_newer(&t, &bill).await.unwrap();
        bills.push(bill.id.to_string());
        let wh = crate::warehouse_objects::warehouse(&t, &format!("wh_mx_{b}"), 1);
        s.stack.store.upsert_if_newer(&t, &wh).await.unwrap();
        warehouses.push(wh.id.to_string());
        let erasure = packr::privacy::ErasureRecord::new(
            t.clone(),
            packr::privacy::SubjectHashes {
                email: Some(format!("hash-of-{b}")),
                ..Default::default()
            },
            None,
            at(1),
            std::time::Duration::ZERO,
        );
        s.stack.store.create_erasure(&erasure).await.unwrap();
        erasures.push(erasure.id);
        if target == Target::OtherTenant {
            let asn = crate::warehouse_objects::inbound(
                &t,
                "is_globex_only",
                Some(&brand(b)),
                packr::domain::InboundShipmentStatus::Open,
                "wh_1",
                1,
            );
            s.stack.store.upsert_if_newer(&t, &asn).await.unwrap();
            inbound.push(asn.id.to_string());
            let rma = crate::warehouse_objects::a_return(
                &t,
                "ret_globex_only",
                Some(&brand(b)),
                packr::domain::ReturnStatus::Open,
                "wh_1",
                1,
            );
            s.stack.store.upsert_if_newer(&t, &rma).await.unwrap();
            returns.push(rma.id.to_string());
            // Another tenant's objects, with ids no acme object has (the simulator mints
            // ids per connection, so created ones could coincide with acme's).
            let o = order(&t, "ord_globex_only", Some(&brand(b)), 1);
            s.stack.store.upsert_if_newer(&t, &o).await.unwrap();
            orders.push(o.id.to_string());
            let p = packr::domain::Product {
                id: packr::domain::ProductId::parse("prd_globex_only").unwrap(),
                tenant_id: t.clone(),
                brand_id: Some(brand(b)),
                connection_id: packr::domain::ConnectionId::parse(CONN_GLOBEX).unwrap(),
                warehouse_customer_id: None,
                sku: packr::domain::Sku::parse("GLOBEX-ONLY").unwrap(),
                name: Some("Globex".into()),
                gtin: None,
                unit_price: None,
                is_kit: false,
                active: true,
                inventory_items: vec![],
                created_date: at(0),
                updated_date: at(1),
            };
            s.stack.store.upsert_if_newer(&t, &p).await.unwrap();
            products.push(p.id.to_string());
            continue;
        }
        let admin = Caller::admin(ACME);
        let r = s
            .send(
                &admin,
                "POST",
                "/orders",
                &order_body(b, &format!("fx-{b}")),
                &[("Idempotency-Key", &format!("fx-o-{b}"))],
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        orders.push(r.body["id"].as_str().unwrap().to_owned());
        let r = s
            .send(
                &admin,
                "POST",
                "/products",
                &product_body(b, &format!("FX-{b}")),
                &[("Idempotency-Key", &format!("fx-p-{b}"))],
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        products.push(r.body["id"].as_str().unwrap().to_owned());
        let r = s
            .send(
                &admin,
                "POST",
                "/inbound-shipments",
                &inbound_body(b, &format!("PO-fx-{b}")),
                &[("Idempotency-Key", &format!("fx-i-{b}"))],
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        inbound.push(r.body["id"].as_str().unwrap().to_owned());
        let r = s
            .send(
                &admin,
                "POST",
                "/returns",
                &return_body(b),
                &[("Idempotency-Key", &format!("fx-r-{b}"))],
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        returns.push(r.body["id"].as_str().unwrap().to_owned());
    }
    Fixtures {
        orders: orders.try_into().unwrap(),
        products: products.try_into().unwrap(),
        reports: reports.try_into().unwrap(),
        inbound: inbound.try_into().unwrap(),
        returns: returns.try_into().unwrap(),
        bills: bills.try_into().unwrap(),
        warehouses: warehouses.try_into().unwrap(),
        erasures: erasures.try_into().unwrap(),
        offboardings: offboardings.try_into().unwrap(),
    }
}

fn cases(f: &Fixtures) -> Vec<Case> {
    let mut out = Vec::new();
    let mut n = 0;
    for route in ROUTES.iter().filter(|r| r.authorized) {
        for role in ROLES {
            for target in TARGETS {
                n += 1;
                let (method, path, body, key) = request(route.id, target, f, n);
                out.push(Case {
                    route: route.id,
                    role: role.to_owned(),
                    target: format!("{target:?}"),
                    method,
                    path,
                    body,
                    key,
                    expected: expected(route.id, role, target),
                });
            }
        }
        for bad in ["no claims", "malformed brand claim"] {
            n += 1;
            let (method, path, body, key) = request(route.id, Target::Own, f, n);
            out.push(Case {
                route: route.id,
                role: bad.to_owned(),
                target: "Own".into(),
                method,
                path,
                body,
                key,
                expected: 401,
            });
        }
    }
    out
}

fn caller(role: &str) -> Caller {
    match role {
        "no claims" => Caller::without_claims(),
        "malformed brand claim" => {
            let mut c = Caller::new(ACME, "brand_manager", &["b1"]);
            c.claims
                .insert("custom:brand_ids".into(), "[b1 b#2]".into());
            c
        }
        r if r.starts_with("tenant_") => Caller::new(ACME, r, &[]),
        r => Caller::new(ACME, r, &["b1"]),
    }
}

#[tokio::test]
async fn every_route_role_and_target_gets_its_expected_status() {
    let s = api_stack().await;
    let f = fixtures(&s).await;
    let cases = cases(&f);
    assert!(cases.len() >= 200, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let key = format!("mx-{i}");
        let headers: Vec<(&str, &str)> = if case.key {
            vec![("Idempotency-Key", key.as_str())]
        } else {
            Vec::new()
        };
        let body = case.body.as_ref().map(Value::to_string);
        let r = s
            .call(event(
                case.method,
                &case.path,
                &caller(&case.role),
                body.as_deref(),
                &headers,
            ))
            .await;
        if r.status != case.expected {
            failures.push(format!(
                "{case}: expected {}, got {} {}",
                case.expected, r.status, r.body
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
