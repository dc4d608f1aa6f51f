//! What the conversion tests share.

use crate::domain::{BrandId, ConnectionId, Currency, TenantId};

use super::ConversionContext;

/// Tenant `t1`, connection `conn_1`, brand `b1`, amounts without a currency in `fallback`.
pub(super) fn ctx(fallback: &str) -> ConversionContext {
    ConversionContext {
        tenant_id: TenantId::parse("t1").unwrap(),
        brand_id: Some(BrandId::parse("b1").unwrap()),
        connection_id: ConnectionId::parse("conn_1").unwrap(),
        fallback_currency: Currency::parse(fallback).unwrap(),
    }
}
