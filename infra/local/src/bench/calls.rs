//! Where the time of the lag stage goes, measured from outside the functions: every AWS
//! call a pipeline's clients make is timed by a wrapper around the SDK's HTTP client (per
//! role — ingest, processor, poller, harness, floor — and operation), and the emulator's
//! and this process's CPU time are read before and after a run. Production code is timed
//! only through its SDK configuration, as it is built on Lambda (`function_config`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_config::SdkConfig;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

/// Calls of one role and operation: how many and their summed wall time.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct CallTotal {
    pub count: u64,
    pub total_ms: f64,
}

impl CallTotal {
    pub fn mean_ms(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.total_ms / self.count as f64
        }
    }
}

/// Per (role, operation) totals, shared by the clients that record into it.
#[derive(Debug, Clone, Default)]
pub struct CallLog {
    totals: Arc<Mutex<BTreeMap<(String, String), CallTotal>>>,
}

impl CallLog {
    pub fn record(&self, role: &str, operation: &str, millis: f64) {
        if let Ok(mut totals) = self.totals.lock() {
            let total = totals
                .entry((role.to_owned(), operation.to_owned()))
                .or_default();
            total.count += 1;
            total.total_ms += millis;
        }
    }

    pub fn snapshot(&self) -> BTreeMap<(String, String), CallTotal> {
        self.totals.lock().map(|t| t.clone()).unwrap_or_default()
    }

    pub fn clear(&self) {
        if let Ok(mut totals) = self.totals.lock() {
            totals.clear();
        }
    }

    /// The calls of `role`, summed over its operations (or those starting with `prefix`).
    pub fn total(&self, role: &str, prefix: &str) -> CallTotal {
        self.snapshot()
            .iter()
            .filter(|((r, op), _)| r == role && op.starts_with(prefix))
            .fold(CallTotal::default(), |acc, (_, t)| CallTotal {
                count: acc.count + t.count,
                total_ms: acc.total_ms + t.total_ms,
            })
    }
}

/// `sdk` whose HTTP client times every call into `log` under `role`; the operation comes
/// from the request's `x-amz-target` (see [`operation_of`]).
pub fn timed_config(sdk: &SdkConfig, role: &'static str, log: &CallLog) -> SdkConfig {
    let Some(inner) = sdk.http_client() else {
        return sdk.clone();
    };
    sdk.to_builder()
        .http_client(SharedHttpClient::new(TimedClient {
            inner,
            role,
            log: log.clone(),
        }))
        .build()
}

#[derive(Debug)]
struct TimedClient {
    inner: SharedHttpClient,
    role: &'static str,
    log: CallLog,
}

impl HttpClient for TimedClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(TimedConnector {
            inner: self.inner.http_connector(settings, components),
            role: self.role,
            log: self.log.clone(),
        })
    }
}

#[derive(Debug)]
struct TimedConnector {
    inner: SharedHttpConnector,
    role: &'static str,
    log: CallLog,
}

impl HttpConnector for TimedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let operation = operation_of(request.headers().get("x-amz-target"));
        let (role, log) = (self.role, self.log.clone());
        let started = Instant::now();
        let call = self.inner.call(request);
        HttpConnectorFuture::new(async move {
            let answer = call.await;
            log.record(role, &operation, started.elapsed().as_secs_f64() * 1000.0);
            answer
        })
    }
}

/// `DynamoDB_20120810.UpdateItem` → `DynamoDB:UpdateItem`, `AmazonSQS.SendMessage` →
/// `SQS:SendMessage`; other targets keep their prefix.
fn operation_of(target: Option<&str>) -> String {
    let Some(target) = target else {
        return "other".to_owned();
    };
    let (prefix, operation) = target.split_once('.').unwrap_or(("other", target));
    let service = if prefix.starts_with("DynamoDB_") {
        "DynamoDB"
    } else if prefix == "AmazonSQS" {
        "SQS"
    } else {
        prefix
    };
    format!("{service}:{operation}")
}

/// CPU time (user + system, ms) this process has used.
pub fn process_cpu_ms() -> f64 {
    // SAFETY: getrusage writes one rusage through a valid pointer.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0.0;
    }
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1000.0 + t.tv_usec as f64 / 1000.0;
    ms(usage.ru_utime) + ms(usage.ru_stime)
}

/// CPU time (user + system, ms) the emulator serving `AWS_ENDPOINT_URL` has used: the
/// `moto_server` process started with that port (`infra/scripts/moto.sh`); `None` when it
/// is not found on this machine.
pub fn emulator_cpu_ms() -> Option<f64> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").ok()?;
    let port = endpoint
        .rsplit(':')
        .next()?
        .trim_end_matches('/')
        .to_owned();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let pid = entry.file_name().to_string_lossy().to_string();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).to_string())
            .collect();
        let is_moto = args.iter().any(|a| a.contains("moto_server"));
        let on_port = args.windows(2).any(|w| w[0] == "-p" && w[1] == port);
        if is_moto && on_port {
            return process_cpu_of(&pid);
        }
    }
    None
}

/// utime + stime of `/proc/<pid>/stat`, in ms.
fn process_cpu_of(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the state.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf reads a constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks > 0.0).then(|| (utime + stime) * 1000.0 / ticks)
}

/// CPU of this process and of the emulator at one instant.
#[derive(Debug, Clone, Copy)]
pub struct CpuMark {
    process_ms: f64,
    emulator_ms: Option<f64>,
    at: Instant,
}

impl CpuMark {
    pub fn now() -> Self {
        Self {
            process_ms: process_cpu_ms(),
            emulator_ms: emulator_cpu_ms(),
            at: Instant::now(),
        }
    }

    /// (this process's CPU ms, the emulator's CPU ms, wall ms) since `self`.
    pub fn since(&self) -> CpuSpent {
        let now = Self::now();
        CpuSpent {
            process_ms: now.process_ms - self.process_ms,
            emulator_ms: match (now.emulator_ms, self.emulator_ms) {
                (Some(a), Some(b)) => Some(a - b),
                _ => None,
            },
            wall_ms: now.at.duration_since(self.at).as_secs_f64() * 1000.0,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct CpuSpent {
    pub process_ms: f64,
    pub emulator_ms: Option<f64>,
    pub wall_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_summed_per_role_and_operation() {
        let log = CallLog::default();
        log.record("processor", "DynamoDB:UpdateItem", 3.0);
        log.record("processor", "DynamoDB:UpdateItem", 5.0);
        log.record("processor", "SQS:SendMessage", 1.0);
        log.record("poller", "SQS:ReceiveMessage", 7.0);
        let all = log.snapshot();
        let update = all[&("processor".to_owned(), "DynamoDB:UpdateItem".to_owned())];
        assert_eq!(update.count, 2);
        assert_eq!(update.mean_ms(), 4.0);
        assert_eq!(log.total("processor", "").count, 3);
        assert_eq!(log.total("processor", "SQS:").total_ms, 1.0);
        assert_eq!(log.total("harness", "").count, 0);
        log.clear();
        assert!(log.snapshot().is_empty());
    }

    #[test]
    fn operations_are_named_by_service_and_action() {
        assert_eq!(
            operation_of(Some("DynamoDB_20120810.UpdateItem")),
            "DynamoDB:UpdateItem"
        );
        assert_eq!(
            operation_of(Some("AmazonSQS.ReceiveMessage")),
            "SQS:ReceiveMessage"
        );
        assert_eq!(
            operation_of(Some("secretsmanager.GetSecretValue")),
            "secretsmanager:GetSecretValue"
        );
        assert_eq!(operation_of(None), "other");
    }

    #[test]
    fn this_process_uses_cpu() {
        let before = process_cpu_ms();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = std::hint::black_box(x.wrapping_add(i));
        }
        assert!(x > 0);
        assert!(process_cpu_ms() > before);
    }
}
