//! `packr changes tail --tenant T`: follows the tenant's changes feed (TABLE_NAME) as a
//! consumer would, one line per change, oldest first: from now (default), from a time
//! (`--since`), or from the start (`--from-start`). Polls every `--poll-seconds` when
//! caught up, until Ctrl-C, `--max` changes, or with `--once` the end of what is ready.
//! The objects themselves (personal data: names, addresses) are printed only with
//! `--objects`.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use aws_config::SdkConfig;
use packr::changes::{ChangeFeedConfig, ChangeFilter};
use packr::domain::{BrandId, TenantId, Timestamp};
use packr::store::{PageLimit, PageRequest};

use crate::args::ChangesTailArgs;
use crate::replay::required;

#[derive(Debug, thiserror::Error)]
pub enum ChangesCommandError {
    #[error("`{0}` is not a tenant id")]
    Tenant(String),
    #[error("`{0}` is not a brand id")]
    Brand(String),
    #[error(transparent)]
    Kind(#[from] packr::changes::UnknownKind),
    #[error("`{0}` is not an RFC 3339 time")]
    Since(String),
}

pub async fn tail(
    sdk: &SdkConfig,
    args: &ChangesTailArgs,
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let tenant = TenantId::parse(args.tenant.clone())
        .map_err(|_| ChangesCommandError::Tenant(args.tenant.clone()))?;
    let filter = filter(args)?;
    let vars: std::collections::BTreeMap<String, String> =
        ["CHANGES_HORIZON_SECONDS", "CHANGES_RETENTION_DAYS"]
            .into_iter()
            .filter_map(|name| env(name).map(|v| (name.to_owned(), v)))
            .collect();
    let config = ChangeFeedConfig::from_env(&vars)?;
    let store = packr::webhook::wiring::store_without_cursors(sdk, required(env, "TABLE_NAME")?);
    let mut cursor = if args.from_start {
        None
    } else {
        let since = match &args.since {
            Some(raw) => {
                Timestamp::parse(raw).map_err(|_| ChangesCommandError::Since(raw.clone()))?
            }
            None => Timestamp::now(),
        };
        Some(store.changes_cursor_since(&tenant, &filter, since).await?)
    };
    let limit = PageLimit::parse(Some(PageLimit::MAX)).expect("the maximum is a limit");
    let mut printed = 0u64;
    loop {
        let request = match &cursor {
            None => PageRequest::first(limit),
            Some(c) => PageRequest::after(limit, c.clone()),
        };
        let page = store
            .changes_page(&tenant, &filter, &request, &config)
            .await?;
        for change in &page.changes {
            let mut line = serde_json::json!({
                "changed_at": change.changed_at,
                "kind": change.kind,
                "id": change.id,
                "action": change.action,
                "brand_id": change.brand_id,
            });
            if args.objects {
                line["object"] = change.object.clone().unwrap_or(serde_json::Value::Null);
            }
            writeln!(out, "{line}")?;
            printed += 1;
            if args.max.is_some_and(|max| printed >= max) {
                return Ok(ExitCode::SUCCESS);
            }
        }
        out.flush()?;
        cursor = Some(page.next_cursor);
        if !page.has_more {
            if args.once {
                return Ok(ExitCode::SUCCESS);
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(args.poll_seconds)) => {}
                _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
            }
        }
    }
}

fn filter(args: &ChangesTailArgs) -> Result<ChangeFilter, ChangesCommandError> {
    let kinds = if args.kinds.is_empty() {
        None
    } else {
        Some(packr::changes::parse_kinds(
            args.kinds.iter().map(String::as_str),
        )?)
    };
    let brands = args
        .brand
        .as_ref()
        .map(|b| {
            BrandId::parse(b.clone())
                .map(|b| vec![b])
                .map_err(|_| ChangesCommandError::Brand(b.clone()))
        })
        .transpose()?;
    Ok(ChangeFilter {
        kinds,
        tenant_wide: brands.is_none(),
        brands,
    })
}
