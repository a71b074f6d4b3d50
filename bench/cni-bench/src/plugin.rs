//! One CNI plugin under measurement, and timed invocations of it.

use crate::error::BenchError;
use serde_json::Value;
use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A plugin binary with its network configuration, run the way a runtime runs it.
pub struct Plugin {
    /// Short name for the report.
    pub label: String,
    pub binary: PathBuf,
    /// The network configuration (one plugin, `cniVersion` and `name` included).
    pub config: Value,
    /// `CNI_PATH`: where delegated plugins (IPAM) are found.
    pub cni_path: String,
}

/// What an ADD returned, and how long the plugin process took.
pub struct Added {
    pub elapsed: Duration,
    pub result: Value,
}

impl Plugin {
    /// ADD `container_id` in the pod namespace at `netns`; the time is the plugin
    /// process's, from spawn to exit.
    pub fn add(&self, container_id: &str, netns: &Path) -> Result<Added, BenchError> {
        let stdin = self.config.to_string();
        let (elapsed, stdout) = self.invoke("ADD", container_id, Some(netns), &stdin)?;
        let result = serde_json::from_str(&stdout).map_err(|_| BenchError::PluginResult {
            plugin: self.label.clone(),
            container_id: container_id.to_string(),
            stdout: stdout.clone(),
        })?;
        Ok(Added { elapsed, result })
    }

    /// DEL `container_id`, handing the plugin its ADD result (when there was one) as
    /// `prevResult`, as runtimes do from their result cache.
    pub fn del(
        &self,
        container_id: &str,
        netns: Option<&Path>,
        prev_result: Option<&Value>,
    ) -> Result<Duration, BenchError> {
        let mut config = self.config.clone();
        if let (Some(object), Some(prev)) = (config.as_object_mut(), prev_result) {
            object.insert("prevResult".to_string(), prev.clone());
        }
        let (elapsed, _) = self.invoke("DEL", container_id, netns, &config.to_string())?;
        Ok(elapsed)
    }

    fn invoke(
        &self,
        command: &'static str,
        container_id: &str,
        netns: Option<&Path>,
        stdin: &str,
    ) -> Result<(Duration, String), BenchError> {
        let spawn_error = |source| BenchError::PluginSpawn {
            plugin: self.label.clone(),
            command,
            container_id: container_id.to_string(),
            binary: self.binary.clone(),
            source,
        };
        let mut process = Command::new(&self.binary);
        // Only PATH and the CNI variables: nothing from the caller's environment should
        // change what either plugin does. PATH stays because plugins run iptables/nft.
        process
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("CNI_COMMAND", command)
            .env("CNI_CONTAINERID", container_id)
            .env("CNI_IFNAME", "eth0")
            .env("CNI_PATH", &self.cni_path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: Ctrl-C reaches only the bench, which then finishes
            // the plugin call in flight and cleans up, instead of killing a plugin halfway.
            .process_group(0);
        if let Some(netns) = netns {
            process.env("CNI_NETNS", netns);
        }

        let started = Instant::now();
        let mut child = process.spawn().map_err(spawn_error)?;
        if let Some(mut input) = child.stdin.take() {
            input.write_all(stdin.as_bytes()).map_err(spawn_error)?;
        }
        let output = child.wait_with_output().map_err(spawn_error)?;
        let elapsed = started.elapsed();

        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if !output.status.success() {
            let code = output
                .status
                .code()
                .or_else(|| output.status.signal().map(|signal| 128 + signal))
                .unwrap_or(-1);
            return Err(BenchError::PluginFailed {
                plugin: self.label.clone(),
                command,
                container_id: container_id.to_string(),
                code,
                stdout,
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            });
        }
        Ok((elapsed, stdout))
    }
}
