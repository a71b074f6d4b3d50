//! Daemons `podnet up` starts (the control plane, one agent per node): started
//! detached in their own session with output in a log file, and remembered by a
//! pid file that also holds the process's start time, so a recycled pid is never
//! mistaken for the daemon.

use anyhow::{bail, Context, Result};
use std::fs;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A daemon known by its pid file.
#[derive(Clone, Debug)]
pub struct Daemon {
    pub name: String,
    pub pid_file: PathBuf,
    pub log_file: PathBuf,
}

/// A running process as recorded: pid plus start time (clock ticks since boot,
/// field 22 of /proc/PID/stat).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recorded {
    pub pid: i32,
    pub start_time: u64,
}

impl Daemon {
    /// The recorded process when it still runs.
    pub fn running(&self) -> Option<Recorded> {
        let text = fs::read_to_string(&self.pid_file).ok()?;
        let (pid, start) = text.trim().split_once(' ')?;
        let recorded = Recorded {
            pid: pid.parse().ok()?,
            start_time: start.parse().ok()?,
        };
        (start_time(recorded.pid) == Some(recorded.start_time)).then_some(recorded)
    }

    /// Starts `command` detached (new session, stdin from /dev/null, output
    /// appended to the log file), inside the network namespace at `netns` when
    /// given, and records it.
    pub fn start(&self, mut command: Command, netns: Option<&Path>) -> Result<Recorded> {
        if let Some(dir) = self.log_file.parent() {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        if let Some(dir) = self.pid_file.parent() {
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
        let pid = child.id() as i32;
        let start_time = start_time(pid).with_context(|| {
            format!(
                "{} (pid {pid}) exited at once; see {}",
                self.name,
                self.log_file.display()
            )
        })?;
        let recorded = Recorded { pid, start_time };
        let tmp = self.pid_file.with_extension("tmp");
        fs::write(&tmp, format!("{pid} {start_time}\n"))
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
                terminate(&[recorded.pid], grace);
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

/// Field 22 of /proc/PID/stat, or None when there is no such process (or it is a zombie).
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields after it
    // are counted from the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if fields.first() == Some(&"Z") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// SIGTERM to every pid, wait up to `grace` for all to go, SIGKILL the rest and
/// wait for them to be gone.
pub fn terminate(pids: &[i32], grace: Duration) {
    let targets: Vec<(i32, Option<u64>)> = pids.iter().map(|&p| (p, start_time(p))).collect();
    let alive = |targets: &[(i32, Option<u64>)]| -> Vec<i32> {
        targets
            .iter()
            .filter(|(pid, start)| start.is_some() && start_time(*pid) == *start)
            .map(|(pid, _)| *pid)
            .collect()
    };
    for &(pid, _) in &targets {
        // SAFETY: kill has no memory preconditions.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    let deadline = Instant::now() + grace;
    while !alive(&targets).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    for pid in alive(&targets) {
        // SAFETY: as above.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while !alive(&targets).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every process whose network namespace is one of `inodes` (as /proc/PID/ns/net
/// shows them), except this one.
pub fn processes_in_netns(inodes: &[u64]) -> Vec<i32> {
    let own = std::process::id() as i32;
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != own)
        .filter(|pid| {
            fs::metadata(format!("/proc/{pid}/ns/net"))
                .map(|m| inodes.contains(&std::os::unix::fs::MetadataExt::ino(&m)))
                .unwrap_or(false)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_start_time_is_read_and_stable() {
        let pid = std::process::id() as i32;
        let first = start_time(pid).expect("this process exists");
        assert_eq!(start_time(pid), Some(first));
        assert_eq!(start_time(i32::MAX), None);
    }

    #[test]
    fn a_pid_file_of_a_gone_process_is_not_running() {
        let dir = tempfile::tempdir().unwrap();
        let daemon = Daemon {
            name: "test".into(),
            pid_file: dir.path().join("d.pid"),
            log_file: dir.path().join("d.log"),
        };
        assert!(daemon.running().is_none());
        let pid = std::process::id() as i32;
        fs::write(&daemon.pid_file, format!("{pid} 1\n")).unwrap();
        assert!(daemon.running().is_none(), "start time differs: not ours");
        let start = start_time(pid).unwrap();
        fs::write(&daemon.pid_file, format!("{pid} {start}\n")).unwrap();
        assert_eq!(
            daemon.running(),
            Some(Recorded {
                pid,
                start_time: start
            })
        );
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
