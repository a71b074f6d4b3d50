//! The runtime's error type: every variant names the object it is about.

use std::io;
use std::path::PathBuf;

/// What a CNI plugin printed when it failed: the error object of the CNI
/// specification (`code`, `msg`, `details`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginFailure {
    /// The plugin type (binary name).
    pub plugin: String,
    /// The CNI command (`ADD`, `DEL`, `GC`, ...).
    pub command: String,
    /// The error code; `None` when the plugin exited non-zero without an error object.
    pub code: Option<u64>,
    pub msg: String,
    pub details: String,
}

impl std::fmt::Display for PluginFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "plugin {} {}", self.plugin, self.command)?;
        match self.code {
            Some(code) => write!(f, " failed with code {code}: {}", self.msg)?,
            None => write!(f, " failed: {}", self.msg)?,
        }
        if !self.details.is_empty() {
            write!(f, " ({})", self.details)?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A file or system call failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },

    /// The CNI network configuration list is unusable; `field` is the JSON path.
    #[error("CNI config {}: {field}: {reason}", path.display())]
    CniConfig {
        path: PathBuf,
        field: String,
        reason: String,
    },

    /// No directory of CNI_PATH holds the plugin binary.
    #[error("CNI plugin {plugin} not found in {}", dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(":"))]
    CniPluginNotFound { plugin: String, dirs: Vec<PathBuf> },

    /// A CNI plugin reported an error.
    #[error("{0}")]
    CniPlugin(PluginFailure),

    /// A CNI plugin's result could not be understood.
    #[error("CNI plugin {plugin} {command}: bad result: {reason}")]
    CniResult {
        plugin: String,
        command: String,
        reason: String,
    },

    /// Several teardown steps failed; all are reported.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Multiple(Vec<RuntimeError>),

    /// A network namespace operation failed.
    #[error("network namespace {name}: {source}")]
    NetNs {
        name: String,
        #[source]
        source: podnet_netlink::Error,
    },

    /// The caller passed a value the runtime cannot use.
    #[error("invalid {what}: {reason}")]
    Invalid { what: String, reason: String },

    /// No sandbox with this pod uid exists on this node.
    #[error("no sandbox for pod uid {uid}")]
    SandboxNotFound { uid: String },

    /// The sandbox exists on disk but its namespace holder process is gone.
    #[error("sandbox of pod uid {uid} is not running (its namespace holder exited)")]
    SandboxNotRunning { uid: String },

    /// The container has no record in the sandbox.
    #[error("no container {name} in the sandbox of pod uid {uid}")]
    ContainerNotFound { uid: String, name: String },

    /// start_container on a container that is still running.
    #[error("container {name} of pod uid {uid} is already running (pid {pid})")]
    ContainerRunning { uid: String, name: String, pid: u32 },

    /// The container process could not be started (e.g. the command does not exist).
    #[error("container {name} of pod uid {uid} failed to start: {reason}")]
    StartFailed {
        uid: String,
        name: String,
        reason: String,
    },

    /// A helper process (namespace holder or shim) failed to come up.
    #[error("{what}: {reason}")]
    Helper { what: String, reason: String },

    /// A process did not exit after SIGKILL in time.
    #[error("{what} still running {seconds} s after SIGKILL")]
    NotStopped { what: String, seconds: u64 },

    /// A state record on disk could not be parsed.
    #[error("state record {}: {reason}", path.display())]
    Record { path: PathBuf, reason: String },
}

impl RuntimeError {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> RuntimeError {
        RuntimeError::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> RuntimeError {
        RuntimeError::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }

    /// One error, or all of them, or none.
    pub(crate) fn collect(mut errors: Vec<RuntimeError>) -> Result<(), RuntimeError> {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(RuntimeError::Multiple(errors)),
        }
    }
}

pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;
