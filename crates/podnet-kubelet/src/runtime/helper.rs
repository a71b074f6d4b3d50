//! The runtime's helper processes, run as `podnet kubelet-internal ...`:
//!
//! - `pause`: holds a sandbox's namespaces. It joins the pod's network
//!   namespace, unshares a mount namespace (and a UTS namespace unless the pod
//!   uses the host network), makes `/` a recursive slave (the node's later
//!   mounts and unmounts, e.g. other pods' `/run/netns` entries, propagate in;
//!   nothing propagates out), bind-mounts the pod's hosts, resolv.conf and
//!   hostname files from the state dir over `/etc`, sets the hostname, records
//!   itself and then sleeps until killed.
//! - `shim`: runs one container. It joins the namespaces of the pause process,
//!   starts the command in its own process group with stdout and stderr
//!   appended to the log file, records the process, waits for it and records
//!   the exit.
//!
//! Both detach from the agent (fork, the parent exits, the child starts a new
//! session), so an agent restart leaves pods running. They report to the
//! runtime through one pipe (their stdout and stderr): a last line
//! `ready <pid>` on success, anything else is the error text.

use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use super::error::{Result, RuntimeError};
use super::process::{self, process_id};
use super::records::{
    read_json, write_json, ContainerRecord, ExitRecord, Layout, ProcessRecord, RunRecord,
    SandboxRecord,
};

/// The hidden subcommand of the `podnet` binary that runs [`helper_main`].
pub const HELPER_SUBCOMMAND: &str = "kubelet-internal";

/// How long the runtime waits for a helper to report.
pub const HELPER_TIMEOUT: Duration = Duration::from_secs(10);

/// Exit code recorded for a container whose process could not be started
/// (what containerd reports for a failed exec).
pub const START_ERROR_EXIT_CODE: i32 = 128;

/// The arguments that identify every helper process of one sandbox; the
/// runtime finds leftovers by them.
pub fn helper_marker(layout: &Layout, uid: &str) -> Vec<String> {
    vec![
        "--run-dir".into(),
        layout.run_dir.display().to_string(),
        "--uid".into(),
        uid.into(),
    ]
}

/// Starts a helper and waits for its report; returns the pid it reported.
pub fn run_helper(binary: &Path, args: &[String], what: &str) -> Result<u32> {
    let (read_end, write_end) = pipe().map_err(|e| RuntimeError::io("create a pipe", e))?;
    let write_clone = write_end
        .try_clone()
        .map_err(|e| RuntimeError::io("duplicate a pipe", e))?;
    let mut command = Command::new(binary);
    command
        .arg(HELPER_SUBCOMMAND)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(write_end))
        .stderr(Stdio::from(write_clone));
    let mut child = command
        .spawn()
        .map_err(|e| RuntimeError::io(format!("start {what} ({})", binary.display()), e))?;
    // Our copies of the write end go with the command, so EOF means every
    // helper process has let go of the pipe.
    drop(command);
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut text = Vec::new();
        let mut reader = File::from(read_end);
        let result = reader.read_to_end(&mut text).map(|_| text);
        let _ = sender.send(result);
    });
    // The first process only forks and exits.
    let status = child
        .wait()
        .map_err(|e| RuntimeError::io(format!("wait for {what}"), e))?;
    let text = match receiver.recv_timeout(HELPER_TIMEOUT) {
        Ok(Ok(text)) => String::from_utf8_lossy(&text).into_owned(),
        Ok(Err(e)) => return Err(RuntimeError::io(format!("read the report of {what}"), e)),
        Err(_) => {
            return Err(RuntimeError::Helper {
                what: what.into(),
                reason: format!("no report within {} s", HELPER_TIMEOUT.as_secs()),
            })
        }
    };
    if let Some(pid) = text
        .lines()
        .last()
        .and_then(|l| l.strip_prefix("ready "))
        .and_then(|p| p.trim().parse::<u32>().ok())
    {
        return Ok(pid);
    }
    let reason = match text.trim() {
        "" => format!("exited ({status}) without a report"),
        said => said.to_string(),
    };
    Err(RuntimeError::Helper {
        what: what.into(),
        reason,
    })
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid array of two ints for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by us.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Entry point of `podnet kubelet-internal ARGS...`; returns the exit code.
pub fn helper_main(args: &[String]) -> i32 {
    let Some((kind, rest)) = args.split_first() else {
        eprintln!("usage: podnet {HELPER_SUBCOMMAND} pause|shim --state-dir DIR --run-dir DIR --uid UID [--name NAME]");
        return 2;
    };
    let options = match HelperArgs::parse(rest) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("podnet {HELPER_SUBCOMMAND} {kind}: {message}");
            return 2;
        }
    };
    let result = match kind.as_str() {
        "pause" => pause_main(&options),
        "shim" => shim_main(&options),
        other => Err(format!("unknown helper {other:?}")),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            // Goes to the runtime through the report pipe.
            eprintln!("{message}");
            1
        }
    }
}

#[derive(Debug)]
struct HelperArgs {
    layout: Layout,
    uid: String,
    name: Option<String>,
}

impl HelperArgs {
    fn parse(args: &[String]) -> Result<HelperArgs, String> {
        let mut state_dir = None;
        let mut run_dir = None;
        let mut uid = None;
        let mut name = None;
        let mut iter = args.iter();
        while let Some(flag) = iter.next() {
            let value = iter
                .next()
                .ok_or_else(|| format!("{flag} needs a value"))?
                .clone();
            match flag.as_str() {
                "--state-dir" => state_dir = Some(PathBuf::from(value)),
                "--run-dir" => run_dir = Some(PathBuf::from(value)),
                "--uid" => uid = Some(value),
                "--name" => name = Some(value),
                other => return Err(format!("unknown option {other}")),
            }
        }
        Ok(HelperArgs {
            layout: Layout {
                state_dir: state_dir.ok_or("--state-dir is required")?,
                run_dir: run_dir.ok_or("--run-dir is required")?,
            },
            uid: uid.ok_or("--uid is required")?,
            name,
        })
    }
}

fn os_error(what: impl std::fmt::Display) -> String {
    format!("{what}: {}", io::Error::last_os_error())
}

/// Forks; the parent exits at once and the child goes on in a new session,
/// reparented away from the runtime.
fn detach() -> Result<(), String> {
    // SAFETY: the helper is single-threaded here, so fork is safe.
    match unsafe { libc::fork() } {
        -1 => Err(os_error("fork")),
        0 => {
            // SAFETY: setsid has no memory-safety preconditions.
            if unsafe { libc::setsid() } == -1 {
                return Err(os_error("setsid"));
            }
            Ok(())
        }
        // SAFETY: _exit ends the parent without running anything else.
        _ => unsafe { libc::_exit(0) },
    }
}

/// Tells the runtime we are up, then lets go of the report pipe.
fn report_ready(pid: u32) -> Result<(), String> {
    let mut out = io::stdout().lock();
    writeln!(out, "ready {pid}")
        .and_then(|_| out.flush())
        .map_err(|e| format!("report: {e}"))?;
    drop(out);
    let null = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| format!("open /dev/null: {e}"))?;
    for fd in [0, 1, 2] {
        // SAFETY: dup2 onto the standard descriptors of this process.
        if unsafe { libc::dup2(null.as_raw_fd(), fd) } == -1 {
            return Err(os_error("redirect stdio"));
        }
    }
    Ok(())
}

fn cstring(path: &Path) -> Result<CString, String> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| format!("{} contains NUL", path.display()))
}

fn bind_mount(source: &Path, target: &Path) -> Result<(), String> {
    let (src, dst) = (cstring(source)?, cstring(target)?);
    // SAFETY: valid NUL-terminated strings; null fstype and data are allowed for MS_BIND.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            dst.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(os_error(format!(
            "bind-mount {} over {}",
            source.display(),
            target.display()
        )));
    }
    Ok(())
}

fn setns_path(path: &Path, kind: libc::c_int) -> Result<(), String> {
    let file = File::open(path).map_err(|e| format!("open {}: {e}", path.display()))?;
    setns_file(&file, kind, path)
}

fn setns_file(file: &File, kind: libc::c_int, path: &Path) -> Result<(), String> {
    // SAFETY: setns on an open namespace descriptor.
    if unsafe { libc::setns(file.as_raw_fd(), kind) } != 0 {
        return Err(os_error(format!("enter {}", path.display())));
    }
    Ok(())
}

fn pause_main(args: &HelperArgs) -> Result<i32, String> {
    let layout = &args.layout;
    let record: SandboxRecord = read_json(&layout.sandbox_record(&args.uid))
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no sandbox record for {}", args.uid))?;
    detach()?;
    if let Some(netns) = &record.netns_name {
        setns_path(
            &Path::new(podnet_netlink::NETNS_RUN_DIR).join(netns),
            libc::CLONE_NEWNET,
        )?;
    }
    // Kubernetes shares the node's UTS namespace with host-network pods.
    let mut flags = libc::CLONE_NEWNS;
    if !record.host_network {
        flags |= libc::CLONE_NEWUTS;
    }
    // SAFETY: unshare has no memory-safety preconditions; single-threaded here.
    if unsafe { libc::unshare(flags) } != 0 {
        return Err(os_error("unshare mount/UTS namespaces"));
    }
    // SAFETY: valid NUL-terminated strings; null source/fstype/data are allowed here.
    if unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_SLAVE | libc::MS_REC,
            std::ptr::null(),
        )
    } != 0
    {
        return Err(os_error("make / a recursive slave mount"));
    }
    bind_mount(&layout.hosts_file(&args.uid), Path::new("/etc/hosts"))?;
    bind_mount(
        &layout.resolv_file(&args.uid),
        Path::new("/etc/resolv.conf"),
    )?;
    if !record.host_network {
        // The node may have no /etc/hostname; the hostname itself is set below either way.
        if Path::new("/etc/hostname").exists() {
            bind_mount(&layout.hostname_file(&args.uid), Path::new("/etc/hostname"))?;
        }
        let name = record.hostname.as_bytes();
        // SAFETY: name points to name.len() valid bytes.
        if unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) } != 0 {
            return Err(os_error(format!("set hostname {}", record.hostname)));
        }
    }
    // SAFETY: chdir to a valid NUL-terminated path, so no mount stays busy because of us.
    unsafe { libc::chdir(c"/".as_ptr()) };
    let pid = std::process::id();
    let me = process_id(pid).ok_or("cannot read own /proc entry")?;
    let mnt_ns =
        process::process_ns(pid, "mnt").map_err(|e| format!("own mount namespace: {e}"))?;
    write_json(
        &layout.pause_record(&args.uid),
        &ProcessRecord {
            process: me,
            mnt_ns,
        },
    )
    .map_err(|e| e.to_string())?;
    report_ready(pid)?;
    loop {
        // SAFETY: pause only waits for a signal.
        unsafe { libc::pause() };
    }
}

fn shim_main(args: &HelperArgs) -> Result<i32, String> {
    let layout = &args.layout;
    let uid = &args.uid;
    let name = args.name.as_deref().ok_or("--name is required")?;
    let container: ContainerRecord = read_json(&layout.container_record(uid, name))
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no container record for {name}"))?;
    let pause: ProcessRecord = read_json(&layout.pause_record(uid))
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("sandbox {uid} has no namespace holder record"))?;
    detach()?;

    let started_at = SystemTime::now();
    let record_start_error = |message: String| -> String {
        let exit = ExitRecord {
            run_id: container.run_id,
            exit_code: START_ERROR_EXIT_CODE,
            signal: None,
            started_at,
            finished_at: SystemTime::now(),
            reason: "StartError".into(),
            message: message.clone(),
        };
        if let Err(e) = write_json(&layout.exit_record(uid, name), &exit) {
            return format!("{message}; recording it failed too: {e}");
        }
        message
    };

    let log_path = layout.log_file(uid, name);
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(&log_path)
        .map_err(|e| record_start_error(format!("open log {}: {e}", log_path.display())))?;

    if !process::is_alive(pause.process) {
        return Err(record_start_error(format!(
            "the namespace holder of sandbox {uid} is gone"
        )));
    }
    let ns_files: Vec<(PathBuf, File, libc::c_int)> = [
        ("net", libc::CLONE_NEWNET),
        ("uts", libc::CLONE_NEWUTS),
        ("mnt", libc::CLONE_NEWNS),
    ]
    .into_iter()
    .map(|(kind, flag)| {
        let path = PathBuf::from(format!("/proc/{}/ns/{kind}", pause.process.pid));
        File::open(&path)
            .map(|f| (path.clone(), f, flag))
            .map_err(|e| format!("open {}: {e}", path.display()))
    })
    .collect::<Result<_, String>>()
    .map_err(record_start_error)?;
    // The pid may have been reused between the liveness check and the opens.
    if !process::is_alive(pause.process) {
        return Err(record_start_error(format!(
            "the namespace holder of sandbox {uid} is gone"
        )));
    }
    for (path, file, flag) in &ns_files {
        setns_file(file, *flag, path).map_err(record_start_error)?;
    }
    drop(ns_files);

    let (program, program_args) = container
        .command
        .split_first()
        .ok_or_else(|| record_start_error("empty command".into()))?;
    let stderr_log = log
        .try_clone()
        .map_err(|e| record_start_error(format!("duplicate log descriptor: {e}")))?;
    let mut command = Command::new(program);
    command
        .args(program_args)
        .env_clear()
        .envs(container.env.iter().map(|(k, v)| (k, v)))
        .current_dir(container.working_dir.as_deref().unwrap_or(Path::new("/")))
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(stderr_log));
    // SAFETY: setpgid is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            if libc::setpgid(0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .map_err(|e| record_start_error(format!("exec {program:?}: {e}")))?;
    let pid = child.id();
    let shim = process_id(std::process::id()).ok_or("cannot read own /proc entry")?;
    let process = match process_id(pid) {
        Some(process) => process,
        // Exited already: its start time is unknown, and it never matches a live process.
        None => super::records::ProcessId {
            pid,
            start_ticks: 0,
        },
    };
    write_json(
        &layout.run_record(uid, name),
        &RunRecord {
            run_id: container.run_id,
            process,
            shim,
            started_at,
        },
    )
    .map_err(|e| e.to_string())?;
    report_ready(pid)?;

    let status = loop {
        match child.wait() {
            Ok(status) => break status,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("wait for {pid}: {e}")),
        }
    };
    let finished_at = SystemTime::now();
    let (exit_code, signal) = match (status.code(), status.signal()) {
        (Some(code), _) => (code, None),
        (None, Some(signal)) => (128 + signal, Some(signal)),
        (None, None) => (255, None),
    };
    let exit = ExitRecord {
        run_id: container.run_id,
        exit_code,
        signal,
        started_at,
        finished_at,
        reason: if exit_code == 0 { "Completed" } else { "Error" }.into(),
        message: String::new(),
    };
    write_json(&layout.exit_record(uid, name), &exit).map_err(|e| e.to_string())?;
    Ok(0)
}

/// Renames the log of the last run to `<name>.previous.log` (replacing an
/// older one), so the new run starts an empty log.
pub fn rotate_log(layout: &Layout, uid: &str, name: &str) -> Result<()> {
    let current = layout.log_file(uid, name);
    let dir = current.parent().expect("log files live in a directory");
    fs::create_dir_all(dir)
        .map_err(|e| RuntimeError::io(format!("create {}", dir.display()), e))?;
    match fs::rename(&current, layout.previous_log_file(uid, name)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(RuntimeError::io(format!("rotate {}", current.display()), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_args_need_the_dirs_and_uid() {
        let args: Vec<String> = [
            "--state-dir",
            "/s",
            "--run-dir",
            "/r",
            "--uid",
            "u",
            "--name",
            "c",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let parsed = HelperArgs::parse(&args).unwrap();
        assert_eq!(parsed.layout.state_dir, PathBuf::from("/s"));
        assert_eq!(parsed.layout.run_dir, PathBuf::from("/r"));
        assert_eq!(parsed.uid, "u");
        assert_eq!(parsed.name.as_deref(), Some("c"));
        assert!(HelperArgs::parse(&args[..4]).unwrap_err().contains("--uid"));
        assert!(HelperArgs::parse(&["--bogus".into(), "x".into()])
            .unwrap_err()
            .contains("--bogus"));
        assert!(HelperArgs::parse(&["--uid".into()])
            .unwrap_err()
            .contains("value"));
    }

    #[test]
    fn the_marker_is_what_helpers_are_started_with() {
        let layout = Layout {
            state_dir: "/s".into(),
            run_dir: "/r".into(),
        };
        assert_eq!(
            helper_marker(&layout, "u1"),
            vec!["--run-dir", "/r", "--uid", "u1"]
        );
    }

    #[test]
    fn log_rotation_keeps_one_previous_log() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout {
            state_dir: dir.path().into(),
            run_dir: dir.path().join("run"),
        };
        rotate_log(&layout, "u", "c").unwrap();
        fs::write(layout.log_file("u", "c"), "run 1\n").unwrap();
        rotate_log(&layout, "u", "c").unwrap();
        fs::write(layout.log_file("u", "c"), "run 2\n").unwrap();
        rotate_log(&layout, "u", "c").unwrap();
        assert!(!layout.log_file("u", "c").exists());
        assert_eq!(
            fs::read_to_string(layout.previous_log_file("u", "c")).unwrap(),
            "run 2\n"
        );
    }
}
