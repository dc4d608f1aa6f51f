//! DynamoDB capacity as DynamoDB bills it: every call of a metered client asks for
//! `ReturnConsumedCapacity = TOTAL` (table and indexes) and adds what the answer says to a
//! [`CapacityMeter`]; handlers emit the meter as `dynamodb.write_units` and
//! `dynamodb.read_units` once per invocation, so the figure seen in CloudWatch after deploy
//! is the one the tests and benchmarks read locally.
//!
//! An SDK interceptor does it, so no call site can forget: it sets the parameter before
//! serialisation and reads the typed output after deserialisation. A conditional write the
//! condition refused is billed by DynamoDB too, but its error carries no consumed capacity:
//! it is counted as one write unit (the minimum; exact for items up to 1 KB) and separately
//! as a refused write.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::{
    batch_get_item::{BatchGetItemInput, BatchGetItemOutput},
    batch_write_item::{BatchWriteItemInput, BatchWriteItemOutput},
    delete_item::{DeleteItemError, DeleteItemInput, DeleteItemOutput},
    get_item::{GetItemInput, GetItemOutput},
    put_item::{PutItemError, PutItemInput, PutItemOutput},
    query::{QueryInput, QueryOutput},
    scan::{ScanInput, ScanOutput},
    transact_get_items::{TransactGetItemsInput, TransactGetItemsOutput},
    transact_write_items::{TransactWriteItemsInput, TransactWriteItemsOutput},
    update_item::{UpdateItemError, UpdateItemInput, UpdateItemOutput},
};
use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};

use crate::metrics::{Metric, MetricsSink};

/// Units are kept in thousandths (DynamoDB reports halves for eventually consistent reads).
const MILLI: f64 = 1000.0;

/// Capacity units consumed through one client (shared by its clones).
#[derive(Debug, Default)]
pub struct CapacityMeter {
    write_milli: AtomicU64,
    read_milli: AtomicU64,
    writes: AtomicU64,
    reads: AtomicU64,
    items_read: AtomicU64,
    refused_writes: AtomicU64,
}

/// What a meter counted since it was last taken.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Capacity {
    pub write_units: f64,
    pub read_units: f64,
    /// Write calls (each item of a batch or transaction is one).
    pub writes: u64,
    /// Read calls.
    pub reads: u64,
    /// Items queries and scans read (before their filters), which their units follow.
    pub items_read: u64,
    /// Conditional writes the condition refused (counted as one write unit each).
    pub refused_writes: u64,
}

impl CapacityMeter {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn add(counter: &AtomicU64, units: f64) {
        counter.fetch_add((units * MILLI).round() as u64, Ordering::Relaxed);
    }

    fn write(&self, units: f64, calls: u64) {
        Self::add(&self.write_milli, units);
        self.writes.fetch_add(calls, Ordering::Relaxed);
    }

    fn read(&self, units: f64) {
        Self::add(&self.read_milli, units);
        self.reads.fetch_add(1, Ordering::Relaxed);
    }

    fn scanned(&self, items: i32) {
        self.items_read
            .fetch_add(u64::try_from(items).unwrap_or(0), Ordering::Relaxed);
    }

    fn refused(&self) {
        Self::add(&self.write_milli, 1.0);
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.refused_writes.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts since the last take, resetting them.
    pub fn take(&self) -> Capacity {
        Capacity {
            write_units: self.write_milli.swap(0, Ordering::Relaxed) as f64 / MILLI,
            read_units: self.read_milli.swap(0, Ordering::Relaxed) as f64 / MILLI,
            writes: self.writes.swap(0, Ordering::Relaxed),
            reads: self.reads.swap(0, Ordering::Relaxed),
            items_read: self.items_read.swap(0, Ordering::Relaxed),
            refused_writes: self.refused_writes.swap(0, Ordering::Relaxed),
        }
    }

    /// Takes the counts and emits them (nothing when no call was made): the units DynamoDB
    /// reported, and the calls (every write of an item up to 1 KB is one unit; the emulator
    /// reports no units for some calls, so the calls are what local figures rest on).
    pub fn emit(&self, metrics: &dyn MetricsSink) -> Capacity {
        let taken = self.take();
        if taken.writes + taken.reads > 0 {
            metrics.emit(Metric::count_of("dynamodb.write_units", taken.write_units));
            metrics.emit(Metric::count_of("dynamodb.read_units", taken.read_units));
            metrics.emit(Metric::count_of("dynamodb.writes", taken.writes as f64));
            metrics.emit(Metric::count_of("dynamodb.reads", taken.reads as f64));
            if taken.refused_writes > 0 {
                metrics.emit(Metric::count_of(
                    "dynamodb.refused_writes",
                    taken.refused_writes as f64,
                ));
            }
        }
        taken
    }
}

fn units(capacity: Option<&ConsumedCapacity>) -> f64 {
    capacity.and_then(|c| c.capacity_units).unwrap_or(0.0)
}

fn sum(capacity: Option<&Vec<ConsumedCapacity>>) -> f64 {
    capacity.map_or(0.0, |all| all.iter().map(|c| units(Some(c))).sum())
}

/// The interceptor that feeds a [`CapacityMeter`].
#[derive(Debug, Clone)]
struct MeterInterceptor {
    meter: Arc<CapacityMeter>,
}

macro_rules! ask_total {
    ($input:expr, $($kind:ty),+) => {
        $(
            if let Some(input) = $input.downcast_mut::<$kind>() {
                if input.return_consumed_capacity.is_none() {
                    input.return_consumed_capacity = Some(ReturnConsumedCapacity::Total);
                }
                return Ok(());
            }
        )+
    };
}

impl Intercept for MeterInterceptor {
    fn name(&self) -> &'static str {
        "CapacityMeter"
    }

    fn modify_before_serialization(
        &self,
        context: &mut aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input_mut();
        ask_total!(
            input,
            PutItemInput,
            UpdateItemInput,
            DeleteItemInput,
            GetItemInput,
            QueryInput,
            ScanInput,
            BatchGetItemInput,
            BatchWriteItemInput,
            TransactGetItemsInput,
            TransactWriteItemsInput
        );
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::AfterDeserializationInterceptorContextRef<
            '_,
        >,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let meter = &self.meter;
        let output = match context.output_or_error() {
            Ok(output) => output,
            Err(error) => {
                let Some(error) = error.as_operation_error() else {
                    return Ok(());
                };
                let refused = matches!(
                    error.downcast_ref::<PutItemError>(),
                    Some(PutItemError::ConditionalCheckFailedException(_))
                ) || matches!(
                    error.downcast_ref::<UpdateItemError>(),
                    Some(UpdateItemError::ConditionalCheckFailedException(_))
                ) || matches!(
                    error.downcast_ref::<DeleteItemError>(),
                    Some(DeleteItemError::ConditionalCheckFailedException(_))
                );
                if refused {
                    meter.refused();
                }
                return Ok(());
            }
        };
        if let Some(o) = output.downcast_ref::<PutItemOutput>() {
            meter.write(units(o.consumed_capacity.as_ref()), 1);
        } else if let Some(o) = output.downcast_ref::<UpdateItemOutput>() {
            meter.write(units(o.consumed_capacity.as_ref()), 1);
        } else if let Some(o) = output.downcast_ref::<DeleteItemOutput>() {
            meter.write(units(o.consumed_capacity.as_ref()), 1);
        } else if let Some(o) = output.downcast_ref::<GetItemOutput>() {
            meter.read(units(o.consumed_capacity.as_ref()));
        } else if let Some(o) = output.downcast_ref::<QueryOutput>() {
            meter.read(units(o.consumed_capacity.as_ref()));
            meter.scanned(o.scanned_count);
        } else if let Some(o) = output.downcast_ref::<ScanOutput>() {
            meter.read(units(o.consumed_capacity.as_ref()));
            meter.scanned(o.scanned_count);
        } else if let Some(o) = output.downcast_ref::<BatchGetItemOutput>() {
            meter.read(sum(o.consumed_capacity.as_ref()));
        } else if let Some(o) = output.downcast_ref::<TransactGetItemsOutput>() {
            meter.read(sum(o.consumed_capacity.as_ref()));
        } else if let Some(o) = output.downcast_ref::<BatchWriteItemOutput>() {
            meter.write(sum(o.consumed_capacity.as_ref()), 1);
        } else if let Some(o) = output.downcast_ref::<TransactWriteItemsOutput>() {
            meter.write(sum(o.consumed_capacity.as_ref()), 1);
        }
        Ok(())
    }
}

/// A DynamoDB client whose every call is metered by `meter`.
pub fn metered_client(sdk: &SdkConfig, meter: Arc<CapacityMeter>) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::config::Builder::from(sdk)
        .interceptor(MeterInterceptor { meter })
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}
