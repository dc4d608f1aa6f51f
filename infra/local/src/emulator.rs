//! The AWS emulator as a child process: `moto_server` on a free loopback port, started as
//! `infra/scripts/moto.sh` starts it (through `infra/scripts/moto_server.py`, whose recorder
//! writes each recorded request whole), from the repository's `.venv`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use aws_config::{Region, SdkConfig};
use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider};
use tokio::process::{Child, Command};

/// Region of the local stack (moto accepts any).
pub const LOCAL_REGION: &str = "us-east-1";
/// moto's default account id, which appears in its ARNs.
pub const LOCAL_ACCOUNT_ID: &str = "123456789012";

/// The venv's Python, relative to the repository's root (infra/scripts/venv.sh makes it).
pub const PYTHON: &str = ".venv/bin/python";
/// The launcher of `moto_server`, relative to the repository's root.
pub const LAUNCHER: &str = "infra/scripts/moto_server.py";

const READY_TIMEOUT: Duration = Duration::from_secs(30);
const START_ATTEMPTS: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("{} is not installed (run infra/scripts/venv.sh)", path.display())]
    NotInstalled { path: PathBuf },
    #[error("cannot find a free loopback port")]
    Port(#[source] std::io::Error),
    #[error("cannot open the emulator log {}", path.display())]
    Log {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start {}", path.display())]
    Spawn {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("moto_server exited before answering ({status}); see {}", log.display())]
    Exited { status: String, log: PathBuf },
    #[error("moto_server did not answer on port {port} within {READY_TIMEOUT:?}; see {}", log.display())]
    Timeout { port: u16, log: PathBuf },
}

/// A running `moto_server` started by this process. Dropping it kills it.
#[derive(Debug)]
pub struct MotoProcess {
    child: Child,
    pid: u32,
    port: u16,
}

impl MotoProcess {
    /// Starts `moto_server` of the repository at `root` on a free port of 127.0.0.1 and
    /// waits until it answers. Its output goes to `log`. It runs in its own process group,
    /// so a Ctrl-C meant for the caller does not reach it: the caller stops it with
    /// [`MotoProcess::stop`].
    pub async fn start(root: &Path, log: &Path) -> Result<Self, EmulatorError> {
        Self::launch(root, log, None).await
    }

    /// As [`MotoProcess::start`], with moto's request recorder on from the start, writing
    /// one JSON object per request and line to `recording`.
    pub async fn start_recording(
        root: &Path,
        log: &Path,
        recording: &Path,
    ) -> Result<Self, EmulatorError> {
        Self::launch(root, log, Some(recording)).await
    }

    async fn launch(
        root: &Path,
        log: &Path,
        recording: Option<&Path>,
    ) -> Result<Self, EmulatorError> {
        let python = root.join(PYTHON);
        let launcher = root.join(LAUNCHER);
        for path in [&python, &launcher] {
            if !path.is_file() {
                return Err(EmulatorError::NotInstalled { path: path.clone() });
            }
        }
        let command = || {
            let mut command = Command::new(&python);
            command.arg(&launcher);
            if let Some(recording) = recording {
                command
                    .env("MOTO_ENABLE_RECORDING", "true")
                    .env("MOTO_RECORDER_FILEPATH", recording);
            }
            command
        };
        let mut attempt = 1;
        loop {
            match Self::start_once(command(), &python, log).await {
                // Another process may take the port between our probe and moto's bind.
                Err(EmulatorError::Exited { .. }) if attempt < START_ATTEMPTS => attempt += 1,
                result => return result,
            }
        }
    }

    async fn start_once(
        mut command: Command,
        program: &Path,
        log: &Path,
    ) -> Result<Self, EmulatorError> {
        let port = free_port().map_err(EmulatorError::Port)?;
        let log_error = |source| EmulatorError::Log {
            path: log.to_path_buf(),
            source,
        };
        let stdout = std::fs::File::create(log).map_err(log_error)?;
        let stderr = stdout.try_clone().map_err(log_error)?;
        let mut child = command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| EmulatorError::Spawn {
                path: program.to_path_buf(),
                source,
            })?;
        let pid = child.id().unwrap_or_default();
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(EmulatorError::Exited {
                    status: status.to_string(),
                    log: log.to_path_buf(),
                });
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(Self { child, pid, port });
            }
            if Instant::now() > deadline {
                // kill_on_drop stops it.
                return Err(EmulatorError::Timeout {
                    port,
                    log: log.to_path_buf(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Kills the emulator (its state is in memory only) and waits for it to exit.
    pub async fn stop(mut self) -> std::io::Result<()> {
        self.child.kill().await
    }
}

/// SDK config for an emulator at `endpoint`: local region and dummy credentials, whatever
/// the environment says, so the dev stack can never reach a real AWS account. On the HTTPS
/// client the functions use on Lambda (`packr::runtime::aws_loader`).
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    packr::runtime::aws_loader()
        .endpoint_url(endpoint)
        .region(Region::new(LOCAL_REGION))
        .credentials_provider(Credentials::new("test", "test", None, None, "packr-local"))
        .load()
        .await
}

/// The access key id of a function's credentials starts with this, followed by the
/// function's name (its binary, e.g. `webhook-ingest`). The emulator accepts any key; the
/// IAM check (`infra/iam-check`) attributes every recorded request to the function whose
/// key signed it (the `Credential=` of its `Authorization` header) and evaluates it against
/// that function's role in `template.yaml`. Requests signed otherwise (test setup, seeding,
/// tools) are not a function's and are not checked.
pub const FUNCTION_ACCESS_KEY_PREFIX: &str = "PACKRFN-";

/// The access key id that names `function`.
pub fn function_access_key(function: &str) -> String {
    format!("{FUNCTION_ACCESS_KEY_PREFIX}{function}")
}

/// `sdk` acting as `function` (e.g. `webhook-ingest`): the same endpoint and region, with
/// credentials whose access key id names the function, as its role does on AWS. Every
/// function the local stack or a test hosts builds its clients from this.
pub fn function_config(sdk: &SdkConfig, function: &str) -> SdkConfig {
    sdk.to_builder()
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            function_access_key(function),
            "test",
            None,
            None,
            "packr-local-function",
        )))
        .build()
}

/// `sdk` with its AWS endpoint replaced by `endpoint`, taking precedence over
/// `AWS_ENDPOINT_URL` in the environment as `aws_config::defaults(..).endpoint_url(..)`
/// does: how the local stack points a function at a proxy in front of the emulator.
pub fn with_endpoint(sdk: &SdkConfig, endpoint: &str) -> SdkConfig {
    let mut builder = sdk.to_builder().endpoint_url(endpoint);
    builder.insert_origin("endpoint_url", aws_types::origin::Origin::shared_config());
    builder.build()
}

/// A port of 127.0.0.1 that was free a moment ago.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}
