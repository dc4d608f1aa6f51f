//! `.local/dev/`: the emulator's PID, port and log, the stack description and an env file.
//! A leftover emulator of a run that was killed hard is stopped on the next start.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::stack::LocalStack;

pub(super) struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    pub(super) fn new(dir: PathBuf) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self { dir })
    }

    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(super) fn moto_log(&self) -> PathBuf {
        self.dir.join("moto.log")
    }

    pub(super) fn env_file(&self) -> PathBuf {
        self.dir.join("env")
    }

    fn pid_file(&self) -> PathBuf {
        self.dir.join("moto.pid")
    }

    pub(super) fn record_emulator(&self, pid: u32, port: u16) -> anyhow::Result<()> {
        write(&self.pid_file(), &format!("{pid}\n"))?;
        write(&self.dir.join("moto.port"), &format!("{port}\n"))
    }

    pub(super) fn write_stack(&self, stack: &LocalStack) -> anyhow::Result<()> {
        write(
            &self.dir.join("stack.json"),
            &serde_json::to_string_pretty(stack)?,
        )?;
        let exports: String = stack
            .environment()
            .iter()
            .map(|(name, value)| format!("export {name}={}\n", shell_quote(value)))
            .collect();
        write(&self.env_file(), &exports)
    }

    /// Removes what describes a running stack (the log stays for inspection).
    pub(super) fn clear(&self) {
        for name in ["moto.pid", "moto.port", "stack.json", "env"] {
            let _ = std::fs::remove_file(self.dir.join(name));
        }
    }

    /// Stops the emulator a previous run left behind, if its PID file names a live
    /// `moto_server` (checked, so a recycled PID of another program is left alone).
    pub(super) fn stop_stale_emulator(&self) {
        let Ok(text) = std::fs::read_to_string(self.pid_file()) else {
            return;
        };
        let Ok(pid) = text.trim().parse::<u32>() else {
            return;
        };
        let is_moto = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|cmdline| String::from_utf8_lossy(&cmdline).contains("moto_server"))
            .unwrap_or(false);
        if is_moto {
            eprintln!("packr-dev: stopping the emulator a previous run left behind (pid {pid})");
            let _ = std::process::Command::new("kill")
                .arg(pid.to_string())
                .status();
        }
        self.clear();
    }
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

fn shell_quote(value: &str) -> String {
    if value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./:@".contains(c))
    {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}
