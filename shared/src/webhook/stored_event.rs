//! A failed event's payload kept on its receipt for replay: the [`QueuedEvent`] exactly as
//! it was queued (same event id, so the processor's idempotency record still holds),
//! gzip-compressed into a DynamoDB binary attribute.
//!
//! Only failures pay for it: the processor writes it when it records a failure and removes
//! it when the event is applied. The compressed form is capped at
//! [`MAX_STORED_EVENT_BYTES`] so a receipt stays a small item (an SQS message is at most
//! 256 KiB before compression; webhook JSON compresses several times over); a larger one
//! is not kept, and the receipt says so (`payload_omitted`).

use std::io::{Read, Write};

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

use super::envelope::QueuedEvent;

/// The largest compressed payload kept on a receipt.
pub const MAX_STORED_EVENT_BYTES: usize = 64 * 1024;

/// Decompressed bytes accepted when reading one back (a corrupt or hostile item cannot
/// inflate without bound).
const MAX_INFLATED_BYTES: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StoredEventError {
    #[error("the event could not be encoded")]
    Encode(#[source] serde_json::Error),
    #[error("compressing the event failed")]
    Compress(#[source] std::io::Error),
    #[error("the compressed event is {size} bytes, over the {max} kept")]
    TooLarge { size: usize, max: usize },
    #[error("the stored event could not be decompressed")]
    Decompress(#[source] std::io::Error),
    #[error("the stored event is not a queued event")]
    Decode(#[source] serde_json::Error),
}

/// gzip(JSON of the event), unless it exceeds [`MAX_STORED_EVENT_BYTES`].
pub fn compress(event: &QueuedEvent) -> Result<Vec<u8>, StoredEventError> {
    compress_within(event, MAX_STORED_EVENT_BYTES)
}

pub fn decompress(bytes: &[u8]) -> Result<QueuedEvent, StoredEventError> {
    decompress_as(bytes)
}

/// gzip(JSON of `value`), unless it exceeds `max` bytes (parked events use a larger cap
/// than receipts: they are the whole item, and there is no other copy).
pub fn compress_within<T: serde::Serialize>(
    value: &T,
    max: usize,
) -> Result<Vec<u8>, StoredEventError> {
    let json = serde_json::to_vec(value).map_err(StoredEventError::Encode)?;
    let mut encoder = GzEncoder::new(Vec::with_capacity(json.len() / 4), Compression::best());
    encoder
        .write_all(&json)
        .map_err(StoredEventError::Compress)?;
    let bytes = encoder.finish().map_err(StoredEventError::Compress)?;
    if bytes.len() > max {
        return Err(StoredEventError::TooLarge {
            size: bytes.len(),
            max,
        });
    }
    Ok(bytes)
}

pub fn decompress_as<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StoredEventError> {
    let mut json = Vec::new();
    GzDecoder::new(bytes)
        .take(MAX_INFLATED_BYTES)
        .read_to_end(&mut json)
        .map_err(StoredEventError::Decompress)?;
    serde_json::from_slice(&json).map_err(StoredEventError::Decode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ConnectionId, CorrelationId, EventId, TenantId, Timestamp};

    fn event(payload: serde_json::Value) -> QueuedEvent {
        QueuedEvent {
            event_id: EventId::parse("msg_1").unwrap(),
            tenant_id: TenantId::parse("acme").unwrap(),
            brand_id: None,
            connection_id: ConnectionId::parse("conn_1").unwrap(),
            event_type: "order.updated".into(),
            received_at: Timestamp::parse("2026-01-01T00:00:00Z").unwrap(),
            delivered_at: None,
            correlation_id: CorrelationId::generate(),
            payload,
        }
    }

    #[test]
    fn a_stored_event_round_trips_unchanged_and_smaller() {
        let items: Vec<_> = (0..50)
            .map(|i| serde_json::json!({"sku": format!("SKU-{i}"), "quantity": i}))
            .collect();
        let e = event(
            serde_json::json!({"event_type": "order.updated", "data": {"line_items": items}}),
        );
        let bytes = compress(&e).unwrap();
        assert!(bytes.len() < serde_json::to_vec(&e).unwrap().len() / 2);
        assert_eq!(decompress(&bytes).unwrap(), e);
    }

    #[test]
    fn an_event_too_large_even_compressed_is_refused() {
        // random-looking text does not compress
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let noise: String = (0..200_000)
            .map(|_| {
                // xorshift64: incompressible enough for gzip
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from(b'!' + (x % 90) as u8)
            })
            .collect();
        let e = event(serde_json::json!({ "data": noise }));
        assert!(matches!(
            compress(&e),
            Err(StoredEventError::TooLarge { .. })
        ));
    }
}
