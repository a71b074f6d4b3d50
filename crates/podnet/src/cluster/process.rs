//! Daemons `podnet up` starts (the control plane, one agent per node): started
//! detached in their own session with output in a log file, and remembered by a
//! pid file that also holds the process's start time, so a recycled pid is never
//! mistaken for the daemon. Process identity and signalling are the kubelet
//! runtime's (`podnet_kubelet::runtime::process`).

use anyhow::{bail, Context, Result};
use podnet_kubelet::runtime::process;
use podnet_kubelet::runtime::records::ProcessId;
use std::fs;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A daemon known by its pid file.
#[derive(Clone, Debug)]
pub struct Daemon {
    pub name: String,
    pub pid_file: PathBuf,
    pub log_file: PathBuf,
}

impl Daemon {
    /// The recorded process when it still runs.
    pub fn running(&self) -> Option<ProcessId> {
        let text = fs::read_to_string(&self.pid_file).ok()?;
        let (pid, start) = text.trim().split_once(' ')?;
        let recorded = ProcessId {
            pid: pid.parse().ok()?,
            start_ticks: start.parse().ok()?,
        };
        process::is_alive(recorded).then_some(recorded)
    }

    /// Starts `command` detached (new session, stdin from /dev/null, output
    /// appended to the log file), inside the network namespace at `netns` when
    /// given, and records it.
    pub fn start(&self, mut command: Command, netns: Option<&Path>) -> Result<ProcessId> {
        for dir in [self.log_file.parent(), self.pid_file.parent()]
            .into_iter()
            .flatten()
        {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_file)
            .with_context(|| format!("opening {}", self.log_file.display()))?;
        let netns_file = match netns {
            Some(path) => Some(
                fs::File::open(path)
                    .with_context(|| format!("opening network namespace {}", path.display()))?,
            ),
            None => None,
        };
        command
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("duplicating the log file")?)
            .stderr(log);
        let netns_fd = netns_file.as_ref().map(std::os::fd::AsRawFd::as_raw_fd);
        // SAFETY: between fork and exec the closure only makes async-signal-safe
        // system calls (setsid, setns) on a descriptor opened before the fork.
        unsafe {
            command.pre_exec(move || {
                if libc::setsid() < 0 {
                    return Err(io::Error::last_os_error());
                }
                if let Some(fd) = netns_fd {
                    if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", self.name))?;
        let recorded = process::process_id(child.id()).with_context(|| {
            format!(
                "{} (pid {}) exited at once; see {}",
                self.name,
                child.id(),
                self.log_file.display()
            )
        })?;
        let tmp = self.pid_file.with_extension("tmp");
        fs::write(&tmp, format!("{} {}\n", recorded.pid, recorded.start_ticks))
            .with_context(|| format!("writing {}", tmp.display()))?;
        fs::rename(&tmp, &self.pid_file)
            .with_context(|| format!("writing {}", self.pid_file.display()))?;
        // The child is reaped by nobody in this process on purpose: `up` exits
        // and the daemon is adopted by init.
        std::mem::forget(child);
        Ok(recorded)
    }

    /// SIGTERM, up to `grace` for it to go, then SIGKILL. Removes the pid file.
    pub fn stop(&self, grace: Duration) -> Result<bool> {
        let stopped = match self.running() {
            Some(recorded) => {
                process::terminate_and_wait(&[recorded.pid], grace);
                true
            }
            None => false,
        };
        match fs::remove_file(&self.pid_file) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => bail!("removing {}: {e}", self.pid_file.display()),
        }
        Ok(stopped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_pid_file_of_a_gone_process_is_not_running() {
        let dir = tempfile::tempdir().unwrap();
        let daemon = Daemon {
            name: "test".into(),
            pid_file: dir.path().join("d.pid"),
            log_file: dir.path().join("d.log"),
        };
        assert!(daemon.running().is_none());
        let me = process::process_id(std::process::id()).unwrap();
        fs::write(&daemon.pid_file, format!("{} 1\n", me.pid)).unwrap();
        assert!(daemon.running().is_none(), "start time differs: not ours");
        fs::write(&daemon.pid_file, format!("{} {}\n", me.pid, me.start_ticks)).unwrap();
        assert_eq!(daemon.running(), Some(me));
    }

    #[test]
    fn a_started_daemon_runs_logs_and_stops() {
        let dir = tempfile::tempdir().unwrap();
        let daemon = Daemon {
            name: "sleeper".into(),
            pid_file: dir.path().join("run/s.pid"),
            log_file: dir.path().join("logs/s.log"),
        };
        let mut command = Command::new("sh");
        command.args(["-c", "echo started; exec sleep 30"]);
        let recorded = daemon.start(command, None).unwrap();
        assert_eq!(daemon.running(), Some(recorded));
        let deadline = Instant::now() + Duration::from_secs(5);
        while !fs::read_to_string(&daemon.log_file)
            .unwrap()
            .contains("started")
        {
            assert!(Instant::now() < deadline, "no output in the log");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(daemon.stop(Duration::from_secs(2)).unwrap());
        assert!(daemon.running().is_none());
        assert!(!daemon.pid_file.exists());
    }
}
