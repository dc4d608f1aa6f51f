//! One cold start: a function's binary spawned as Lambda starts a `provided.al2023` sandbox
//! (a fresh process, Lambda's environment variables, its own Runtime API endpoint), fed a
//! list of events, measured, then killed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use tokio::process::{Child, Command};

use crate::runtime_api::{Answered, FunctionIdentity, RuntimeApi};

/// A function to start: its binary, its configuration and its own environment.
#[derive(Debug, Clone)]
pub struct Function {
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub name: String,
    pub binary: PathBuf,
    /// `MemorySize` (MB): `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`.
    pub memory_mb: u64,
    /// `Timeout`: each invocation's deadline.
    pub timeout: Duration,
    pub region: String,
    pub account_id: String,
    /// The function's own variables (the template's, with local values; credentials and
    /// `AWS_ENDPOINT_URL` of the local stack). Nothing else of this process's environment
    /// reaches the function.
    pub environment: BTreeMap<String, String>,
}

/// The variables Lambda sets in every `provided.al2023` sandbox, for `function` reached at
/// `runtime_api`. The function's own variables are added over these.
pub fn lambda_environment(function: &Function, runtime_api: &str) -> BTreeMap<String, String> {
    let today = chrono::Utc::now().format("%Y/%m/%d");
    let stream = uuid::Uuid::new_v4().simple();
    [
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", function.name.clone()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            function.memory_mb.to_string(),
        ),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", function.name),
        ),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            format!("{today}/[$LATEST]{stream}"),
        ),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        ("AWS_REGION", function.region.clone()),
        ("AWS_DEFAULT_REGION", function.region.clone()),
        ("_HANDLER", "bootstrap".to_owned()),
        ("LAMBDA_TASK_ROOT", "/var/task".to_owned()),
        ("LAMBDA_RUNTIME_DIR", "/var/runtime".to_owned()),
        ("TZ", ":UTC".to_owned()),
        ("LANG", "en_US.UTF-8".to_owned()),
        ("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin".to_owned()),
        (
            "LD_LIBRARY_PATH",
            "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"
                .to_owned(),
        ),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect()
}

/// What one cold start measured.
#[derive(Debug, Clone)]
pub struct ColdStart {
    /// Spawn → the first `GET /next` (Lambda's init phase).
    pub init: Duration,
    /// Spawn → the first invocation's answer.
    pub first_invoke: Duration,
    /// Every invocation, in order (the first included).
    pub invocations: Vec<Answered>,
    /// `VmHWM` (peak resident set) after the last invocation, in kB.
    pub peak_rss_kb: u64,
}

impl ColdStart {
    /// Hand-out → answer of the invocations after the first (warm ones).
    pub fn warm_invokes(&self) -> Vec<Duration> {
        self.invocations
            .iter()
            .skip(1)
            .map(Answered::duration)
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("starting the Runtime API endpoint")]
    Endpoint(#[source] std::io::Error),
    #[error("cannot start {}", path.display())]
    Spawn {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the function log {}", path.display())]
    Log {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{function} exited ({status}) before {stage}; its output is in {}", log.display())]
    Exited {
        function: String,
        status: String,
        stage: &'static str,
        log: PathBuf,
    },
    #[error("{function} reported an init error: {error}")]
    Init { function: String, error: String },
    #[error("{function} did not {stage} within {limit:?}; its output is in {}", log.display())]
    Timeout {
        function: String,
        stage: &'static str,
        limit: Duration,
        log: PathBuf,
    },
    #[error("reading /proc/{pid}/status")]
    Proc {
        pid: u32,
        #[source]
        source: std::io::Error,
    },
}

/// Spawns `function`, hands it `events` one after the other (all queued before the spawn,
/// so each `GET /next` is answered at once), waits until it polls again after the last
/// one, reads its peak RSS, kills it. Output (stdout and stderr) goes to `log`. Each stage
/// waits at most `limit`.
pub async fn cold_start(
    function: &Function,
    events: Vec<Bytes>,
    log: &Path,
    limit: Duration,
) -> Result<ColdStart, SandboxError> {
    let api = RuntimeApi::start(FunctionIdentity {
        name: function.name.clone(),
        region: function.region.clone(),
        account_id: function.account_id.clone(),
        timeout: function.timeout,
    })
    .await
    .map_err(SandboxError::Endpoint)?;
    let pending: Vec<_> = events.into_iter().map(|event| api.invoke(event)).collect();
    let count = pending.len();

    let mut environment = lambda_environment(function, &api.address());
    environment.extend(function.environment.clone());
    let log_error = |source| SandboxError::Log {
        path: log.to_path_buf(),
        source,
    };
    let stdout = std::fs::File::create(log).map_err(log_error)?;
    let stderr = stdout.try_clone().map_err(log_error)?;
    let mut command = Command::new(&function.binary);
    command
        .env_clear()
        .envs(&environment)
        .current_dir(function.binary.parent().unwrap_or(Path::new("/")))
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .kill_on_drop(true);
    let spawned_at = Instant::now();
    let mut child = command.spawn().map_err(|source| SandboxError::Spawn {
        path: function.binary.clone(),
        source,
    })?;
    let pid = child.id().unwrap_or_default();

    let result = async {
        let first_poll = stage(function, log, limit, &mut child, "polling", async {
            api.wait_polls(1).await
        })
        .await?;
        let mut invocations = Vec::with_capacity(count);
        for invocation in pending {
            let answered = stage(function, log, limit, &mut child, "answering", async {
                match invocation.answered().await {
                    Some(answered) => answered,
                    // The endpoint lives until this function returns.
                    None => std::future::pending().await,
                }
            });
            let answered = tokio::select! {
                answered = answered => answered?,
                () = init_failed(&api) => {
                    let error = api.init_error().map(|e| {
                        format!("{}: {}", e.error_type.unwrap_or_default(), String::from_utf8_lossy(&e.body))
                    }).unwrap_or_default();
                    return Err(SandboxError::Init { function: function.name.clone(), error });
                }
            };
            invocations.push(answered);
        }
        // Idle again (its next GET /next) before the memory is read.
        stage(function, log, limit, &mut child, "polling again", async {
            api.wait_polls(count + 1).await
        })
        .await?;
        let peak_rss_kb = vm_hwm_kb(pid)?;
        let first_invoke = invocations
            .first()
            .map(|a| a.answered_at.saturating_duration_since(spawned_at))
            .unwrap_or_default();
        Ok(ColdStart {
            init: first_poll.saturating_duration_since(spawned_at),
            first_invoke,
            invocations,
            peak_rss_kb,
        })
    }
    .await;
    let _ = child.kill().await;
    result
}

/// Resolves once the runtime has reported an init error.
async fn init_failed(api: &RuntimeApi) {
    loop {
        if api.init_error().is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits for `what`, failing when the child exits first or `limit` passes.
async fn stage<T>(
    function: &Function,
    log: &Path,
    limit: Duration,
    child: &mut Child,
    name: &'static str,
    what: impl std::future::Future<Output = T>,
) -> Result<T, SandboxError> {
    tokio::select! {
        value = what => Ok(value),
        status = child.wait() => Err(SandboxError::Exited {
            function: function.name.clone(),
            status: status.map_or_else(|e| e.to_string(), |s| s.to_string()),
            stage: name,
            log: log.to_path_buf(),
        }),
        () = tokio::time::sleep(limit) => Err(SandboxError::Timeout {
            function: function.name.clone(),
            stage: name,
            limit,
            log: log.to_path_buf(),
        }),
    }
}

/// `VmHWM` of `/proc/<pid>/status`: the peak resident set size, in kB.
pub fn vm_hwm_kb(pid: u32) -> Result<u64, SandboxError> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|source| SandboxError::Proc { pid, source })?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
        .ok_or_else(|| SandboxError::Proc {
            pid,
            source: std::io::Error::other("no VmHWM line"),
        })
}
