//! Running a command inside a sandbox: the namespaces to join, and a bounded
//! run with captured output (exec probes, `podnet exec`).

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::error::{Result, RuntimeError};
use super::process;
use super::records::{read_json, Layout, ProcessRecord};

/// Open handles on a sandbox's network, UTS and mount namespaces (those of its
/// namespace holder), ready to be entered by a child process.
#[derive(Debug)]
pub struct SandboxNamespaces {
    net: File,
    uts: File,
    mnt: File,
}

impl SandboxNamespaces {
    /// Opens the namespaces of sandbox `uid` of the node whose runtime keeps
    /// its state in `state_dir` and `run_dir` (see [`super::RuntimeConfig`]).
    pub fn open(state_dir: PathBuf, run_dir: PathBuf, uid: &str) -> Result<SandboxNamespaces> {
        let layout = Layout { state_dir, run_dir };
        if !layout.sandbox_record(uid).exists() {
            return Err(RuntimeError::SandboxNotFound { uid: uid.into() });
        }
        let pause: ProcessRecord = read_json(&layout.pause_record(uid))?
            .ok_or_else(|| RuntimeError::SandboxNotRunning { uid: uid.into() })?;
        let open = |kind: &str| {
            let path = format!("/proc/{}/ns/{kind}", pause.process.pid);
            File::open(&path).map_err(|e| RuntimeError::io(format!("open {path}"), e))
        };
        if !process::is_alive(pause.process) {
            return Err(RuntimeError::SandboxNotRunning { uid: uid.into() });
        }
        let namespaces = SandboxNamespaces {
            net: open("net")?,
            uts: open("uts")?,
            mnt: open("mnt")?,
        };
        // Opened after the check: make sure the pid was not reused in between.
        if !process::is_alive(pause.process) {
            return Err(RuntimeError::SandboxNotRunning { uid: uid.into() });
        }
        Ok(namespaces)
    }

    /// Makes `command`'s child enter the namespaces between fork and exec
    /// (the caller's threads never change namespace) and start its own
    /// process group, so it can be killed with everything it started.
    pub fn enter_on_spawn(self, command: &mut Command) {
        let SandboxNamespaces { net, uts, mnt } = self;
        // SAFETY: the closure only makes async-signal-safe system calls
        // (setns, setpgid) on descriptors it owns.
        unsafe {
            command.pre_exec(move || {
                for (file, kind) in [
                    (&net, libc::CLONE_NEWNET),
                    (&uts, libc::CLONE_NEWUTS),
                    (&mnt, libc::CLONE_NEWNS),
                ] {
                    if libc::setns(file.as_raw_fd(), kind) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
                if libc::setpgid(0, 0) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
}

/// What an exec produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// Exit code; 128 + signal when killed by a signal; `None` on timeout.
    pub exit_code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The command ran longer than the timeout and was killed (with its group).
    pub timed_out: bool,
}

/// Runs a prepared command (namespaces already arranged) with captured
/// output; kills its whole process group after `timeout`.
pub fn run_captured(mut command: Command, timeout: Duration, what: &str) -> Result<ExecOutput> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .map_err(|e| RuntimeError::io(format!("exec {what}"), e))?;
    let pid = child.id();
    let mut out = child.stdout.take().expect("stdout is piped");
    let mut err = child.stderr.take().expect("stderr is piped");
    let out_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf);
        buf
    });
    let err_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child
            .try_wait()
            .map_err(|e| RuntimeError::io(format!("wait for {what}"), e))?
        {
            break status;
        }
        if Instant::now() >= deadline {
            timed_out = true;
            let _ = process::signal_group(pid, libc::SIGKILL);
            break child
                .wait()
                .map_err(|e| RuntimeError::io(format!("wait for {what}"), e))?;
        }
        thread::sleep(Duration::from_millis(2));
    };
    // Background children of the command may hold the pipes open; they go with its group.
    let _ = process::signal_group(pid, libc::SIGKILL);
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    let exit_code = if timed_out {
        None
    } else {
        match (status.code(), status.signal()) {
            (Some(code), _) => Some(code),
            (None, Some(signal)) => Some(128 + signal),
            (None, None) => None,
        }
    };
    Ok(ExecOutput {
        exit_code,
        stdout,
        stderr,
        timed_out,
    })
}
