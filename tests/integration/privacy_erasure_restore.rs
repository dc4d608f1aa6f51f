//! The restore runbook's step: after a point-in-time restore (a new table holding the data
//! as it was before an erasure, and no erasure record), `packr privacy reapply` copies the
//! tenant's erasure records from the replaced table and walks each again.

use std::process::ExitCode;

use packr::store::dynamo::DynamoStore;
use packr::store::{CursorCodec, SyncedStore};
use packr_cli::{Cli, Command, PrivacyCommand, PrivacyReapplyArgs};

use crate::api_support::*;
use crate::helpers::*;
use crate::privacy_erasure::{jane, readable, scan_tenant, EMAIL};

#[tokio::test]
async fn reapply_after_a_restore_redacts_the_restored_copy_from_the_kept_records() {
    // given a live table with an erasure of Jane's email …
    let live = stack().await;
    let t = tenant("acme");
    let key = packr::privacy::HashKey::new(TEST_PRIVACY_KEY.to_vec()).unwrap();
    let record = packr::privacy::ErasureRecord::new(
        t.clone(),
        key.subject(&t, &packr::privacy::ErasureSubject::email(EMAIL).unwrap()),
        None,
        at(100),
        std::time::Duration::ZERO,
    );
    live.store.create_erasure(&record).await.unwrap();
    // … and a table restored from before it, holding her order unredacted
    let restored_table = packr_local::testing::fresh_table(&live.sdk).await;
    let restored = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&live.sdk),
        restored_table.clone(),
        CursorCodec::new(CURSOR_KEY.to_vec()),
    )
    .with_write_window(std::time::Duration::from_secs(120));
    let mut o = order(&t, "ord_restored_jane", Some(&brand("b1")), 10);
    o.ship_to_address = Some(jane());
    restored.upsert_if_newer(&t, &o).await.unwrap();
    let secrets = aws_sdk_secretsmanager::Client::new(&live.sdk);
    let key_secret = format!("privacy-key-{}", uuid_like());
    secrets
        .create_secret()
        .name(&key_secret)
        .secret_string(std::str::from_utf8(TEST_PRIVACY_KEY).unwrap())
        .send()
        .await
        .unwrap();
    let audit_secret = audit_secret(&live.sdk).await;
    let env = |name: &str| match name {
        "TABLE_NAME" => Some(restored_table.clone()),
        "PRIVACY_HASH_SECRET_ARN" => Some(key_secret.clone()),
        "AUDIT_SECRET_ARN" => Some(audit_secret.clone()),
        _ => None,
    };

    // when the operator re-applies the tenant's erasures from the replaced table
    let mut out = Vec::new();
    let code = packr_cli::run(
        Cli {
            command: Command::Privacy(PrivacyCommand::Reapply(PrivacyReapplyArgs {
                tenant: "acme".into(),
                records_from: Some(live.table.clone()),
                no_wait: true,
            })),
        },
        &live.sdk,
        &env,
        &mut out,
    )
    .await
    .unwrap();

    // then it succeeds, the record is in the restored table, completed, and her order is
    // redacted there
    assert_eq!(code, ExitCode::SUCCESS, "{}", String::from_utf8_lossy(&out));
    let copied = restored.get_erasure(&t, &record.id).await.unwrap().unwrap();
    assert_eq!(copied.status, packr::privacy::ErasureStatus::Completed);
    assert_eq!(copied.counts.get("orders"), Some(&1));
    let stored: packr::domain::Order = SyncedStore::get(&restored, &t, "ord_restored_jane")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.ship_to_address.unwrap().email_address.as_deref(),
        Some(packr::privacy::ERASED)
    );
    let restored_stack = Stack {
        sdk: live.sdk.clone(),
        table: restored_table.clone(),
        store: restored.clone(),
    };
    for item in scan_tenant(&restored_stack, "acme").await {
        assert!(!readable(&item).contains(EMAIL), "{:?}", item.get("pk"));
    }
    let printed = String::from_utf8_lossy(&out);
    assert!(printed.contains(&record.id), "{printed}");
    assert!(!printed.to_lowercase().contains(EMAIL), "{printed}");
}

fn uuid_like() -> String {
    packr::store::AuditEntry::new_id()
}
