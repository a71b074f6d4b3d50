//! Processes as /proc shows them: identity beyond the pid, namespaces,
//! signals, and finding every process of a sandbox.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use super::records::ProcessId;

/// State letter and start time (clock ticks after boot) from /proc/PID/stat.
fn stat(pid: u32) -> Option<(char, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// Fields after the command name (which may contain spaces and parentheses,
/// hence the last `)`): state is field 3, starttime field 22.
fn parse_stat(text: &str) -> Option<(char, u64)> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// The identity of a live process, `None` when there is no such process.
pub fn process_id(pid: u32) -> Option<ProcessId> {
    let (_, start_ticks) = stat(pid)?;
    Some(ProcessId { pid, start_ticks })
}

/// Whether the very process (same pid and start time) still runs; a zombie
/// (exited, not yet reaped) does not.
pub fn is_alive(id: ProcessId) -> bool {
    matches!(stat(id.pid), Some((state, start)) if start == id.start_ticks && state != 'Z')
}

/// Device and inode of a namespace file: equal pairs are the same namespace.
pub fn ns_identity(path: &Path) -> io::Result<(u64, u64)> {
    let meta = fs::metadata(path)?;
    Ok((meta.dev(), meta.ino()))
}

/// The namespace `kind` (`net`, `mnt`, `uts`) of a process.
pub fn process_ns(pid: u32, kind: &str) -> io::Result<(u64, u64)> {
    ns_identity(Path::new(&format!("/proc/{pid}/ns/{kind}")))
}

/// Sends `signal` to the process, when it is still the recorded one.
pub fn signal_process(id: ProcessId, signal: i32) -> io::Result<()> {
    if !is_alive(id) {
        return Ok(());
    }
    // SAFETY: kill has no memory-safety preconditions.
    if unsafe { libc::kill(id.pid as libc::pid_t, signal) } != 0 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::ESRCH) {
            return Err(err);
        }
    }
    Ok(())
}

/// Sends `signal` to the process group `pgid`; a group that is gone is fine.
pub fn signal_group(pgid: u32, signal: i32) -> io::Result<()> {
    if pgid <= 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("refusing to signal process group {pgid}"),
        ));
    }
    // SAFETY: kill has no memory-safety preconditions.
    if unsafe { libc::kill(-(pgid as libc::pid_t), signal) } != 0 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::ESRCH) {
            return Err(err);
        }
    }
    Ok(())
}

/// What marks a process as belonging to one sandbox (or, for `podnet down`,
/// to any of a cluster's namespaces).
#[derive(Debug, Default)]
pub struct SandboxMarks<'a> {
    /// Network namespaces: the pod's own (none for host-network pods).
    pub net_ns: Vec<(u64, u64)>,
    /// Mount namespaces of live processes of the sandbox (its holder, its
    /// containers). Only ever taken from a live process: the inode of a freed
    /// namespace may be reused by another pod's.
    pub mnt_ns: Vec<(u64, u64)>,
    /// Command-line arguments every helper process of the sandbox carries.
    pub helper_args: Option<&'a [String]>,
}

/// Every process (other than this one) that matches one of the marks.
pub fn sandbox_processes(marks: &SandboxMarks<'_>) -> Vec<u32> {
    let own = std::process::id();
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == own {
            continue;
        }
        let in_net = !marks.net_ns.is_empty()
            && process_ns(pid, "net").is_ok_and(|p| marks.net_ns.contains(&p));
        let in_mnt = !marks.mnt_ns.is_empty()
            && process_ns(pid, "mnt").is_ok_and(|p| marks.mnt_ns.contains(&p));
        let is_helper = marks.helper_args.is_some_and(|args| {
            fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
                let argv: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
                contains_sequence(&argv, args)
            })
        });
        if in_net || in_mnt || is_helper {
            found.push(pid);
        }
    }
    found
}

fn contains_sequence(argv: &[&[u8]], wanted: &[String]) -> bool {
    !wanted.is_empty()
        && argv
            .windows(wanted.len())
            .any(|w| w.iter().zip(wanted).all(|(a, b)| *a == b.as_bytes()))
}

/// SIGKILLs the processes and waits until none of them runs any more.
/// Returns the pids still running after `timeout`.
pub fn kill_and_wait(pids: &[u32], timeout: Duration) -> Vec<u32> {
    let ids: Vec<ProcessId> = pids.iter().filter_map(|&pid| process_id(pid)).collect();
    pids_of(&signal_and_wait(&ids, libc::SIGKILL, timeout))
}

/// SIGTERM first; whatever still runs after `grace` gets SIGKILL. Returns the
/// pids still running after that too.
pub fn terminate_and_wait(pids: &[u32], grace: Duration) -> Vec<u32> {
    let ids: Vec<ProcessId> = pids.iter().filter_map(|&pid| process_id(pid)).collect();
    let left = signal_and_wait(&ids, libc::SIGTERM, grace);
    pids_of(&signal_and_wait(&left, libc::SIGKILL, KILL_TIMEOUT))
}

fn pids_of(ids: &[ProcessId]) -> Vec<u32> {
    ids.iter().map(|id| id.pid).collect()
}

/// How long processes may take to go away after SIGKILL.
pub const KILL_TIMEOUT: Duration = Duration::from_secs(10);

/// Signals the very processes (pid and start time) and waits for them to go;
/// returns those still running after `timeout`.
fn signal_and_wait(ids: &[ProcessId], signal: i32, timeout: Duration) -> Vec<ProcessId> {
    for id in ids {
        let _ = signal_process(*id, signal);
    }
    let deadline = Instant::now() + timeout;
    loop {
        let running: Vec<ProcessId> = ids.iter().copied().filter(|id| is_alive(*id)).collect();
        if running.is_empty() || Instant::now() >= deadline {
            return running;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_parsing_survives_odd_command_names() {
        let line =
            "1234 (a) b (c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 100";
        assert_eq!(parse_stat(line), Some(('S', 98765)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn this_process_is_alive_and_a_changed_start_time_is_not() {
        let me = process_id(std::process::id()).unwrap();
        assert!(is_alive(me));
        assert!(!is_alive(ProcessId {
            pid: me.pid,
            start_ticks: me.start_ticks + 1
        }));
    }

    #[test]
    fn helper_args_match_as_a_contiguous_sequence() {
        let argv: Vec<&[u8]> = vec![b"podnet", b"kubelet-internal", b"shim", b"--uid", b"u1"];
        assert!(contains_sequence(&argv, &["--uid".into(), "u1".into()]));
        assert!(!contains_sequence(&argv, &["--uid".into(), "u2".into()]));
        assert!(!contains_sequence(&argv, &[]));
    }

    #[test]
    fn refuses_to_signal_group_zero_or_one() {
        assert!(signal_group(0, libc::SIGTERM).is_err());
        assert!(signal_group(1, libc::SIGTERM).is_err());
    }
}
