//! `podnet exec` and `podnet logs`: a pod's namespaces and logs, reached from
//! the host through the state its node's kubelet part keeps on disk (the
//! filesystem is shared by the nodes of a `podnet up` cluster).

use anyhow::{bail, Context, Result};
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use podnet_kubelet::runtime::{Runtime, RuntimeConfig};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args)]
pub struct ExecArgs {
    /// The pod.
    pub pod: String,
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// The container whose environment and working directory the command gets
    /// (default: the pod's first container).
    #[arg(short = 'c', long)]
    pub container: Option<String>,
    /// The command and its arguments (after `--`).
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

#[derive(clap::Args)]
pub struct LogsArgs {
    /// The pod.
    pub pod: String,
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// The container (default: the pod's first container).
    #[arg(short = 'c', long)]
    pub container: Option<String>,
    /// Keep printing what the container writes.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// The log of the container's previous run (before its last restart).
    #[arg(short = 'p', long)]
    pub previous: bool,
}

/// The kubeconfig `podnet up` writes, unless KUBECONFIG says otherwise.
fn kubeconfig() -> PathBuf {
    std::env::var_os("KUBECONFIG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(crate::cluster::kubeconfig_path)
}

/// The pod, its node's runtime, and the container meant.
fn locate(namespace: &str, name: &str, container: Option<&str>) -> Result<(Pod, Runtime, String)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let pod = runtime.block_on(async {
        let client = crate::kube_client(&kubeconfig()).await?;
        let pods: Api<Pod> = Api::namespaced(client, namespace);
        pods.get(name)
            .await
            .with_context(|| format!("pod {namespace}/{name}"))
    })?;
    let spec = pod.spec.as_ref().context("the pod has no spec")?;
    let node = spec
        .node_name
        .as_deref()
        .with_context(|| format!("pod {namespace}/{name} is not scheduled to a node yet"))?;
    let names: Vec<&str> = spec.containers.iter().map(|c| c.name.as_str()).collect();
    let container = match container {
        Some(c) if names.contains(&c) => c.to_string(),
        Some(c) => bail!(
            "container {c} is not valid for pod {name}: choose one of {}",
            names.join(", ")
        ),
        None => names
            .first()
            .context("the pod has no containers")?
            .to_string(),
    };
    let mut config = RuntimeConfig::for_node(node, PathBuf::new());
    if !config.state_dir.exists() {
        bail!(
            "pod {namespace}/{name} runs on {node}, whose state ({}) is not on this host",
            config.state_dir.display()
        );
    }
    // Keep the binary the node's pods already use: `podnet` in a pod must not
    // change because someone ran exec with another build.
    config.podnet_binary = std::fs::read_link(config.path_dir.join("podnet"))
        .or_else(|_| std::env::current_exe())
        .context("finding the podnet executable")?;
    let node_runtime = Runtime::new(config).context("opening the node's runtime state")?;
    Ok((pod, node_runtime, container))
}

fn uid(pod: &Pod) -> Result<String> {
    pod.metadata.uid.clone().context("the pod has no uid")
}

/// Runs the command in the pod's network, mount and UTS namespaces with the
/// container's environment; never returns on success (the command replaces
/// this process), so its exit status is the command's.
pub fn exec(args: ExecArgs) -> Result<()> {
    let (pod, runtime, container) = locate(&args.namespace, &args.pod, args.container.as_deref())?;
    let mut command = runtime
        .exec_command(&uid(&pod)?, Some(&container), &args.command)
        .with_context(|| format!("entering pod {}/{}", args.namespace, args.pod))?;
    let error = command.exec();
    bail!("running {:?} in pod {}: {error}", args.command, args.pod)
}

pub fn logs(args: LogsArgs) -> Result<()> {
    let (pod, runtime, container) = locate(&args.namespace, &args.pod, args.container.as_deref())?;
    let uid = uid(&pod)?;
    let path = if args.previous {
        runtime.previous_log_path(&uid, &container)
    } else {
        runtime.log_path(&uid, &container)
    };
    let mut file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if args.previous {
                bail!(
                    "container {container} of pod {} has not restarted: no previous log",
                    args.pod
                );
            }
            bail!(
                "container {container} of pod {} has not started yet",
                args.pod
            );
        }
        Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
    };
    let mut out = std::io::stdout().lock();
    std::io::copy(&mut file, &mut out)?;
    out.flush()?;
    if !args.follow {
        return Ok(());
    }
    // Follow: print what is appended; a restart starts a new file under the
    // same name (the old one becomes the previous log), so reopen on a new inode.
    let mut inode = file.metadata()?.ino();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = file.read(&mut buffer)?;
        if read > 0 {
            out.write_all(&buffer[..read])?;
            out.flush()?;
            continue;
        }
        std::thread::sleep(Duration::from_millis(200));
        match std::fs::metadata(&path) {
            Ok(meta) if meta.ino() != inode => {
                file = std::fs::File::open(&path)?;
                inode = meta.ino();
            }
            Ok(meta) if meta.len() < file.stream_position()? => {
                file.seek(SeekFrom::Start(0))?;
            }
            Ok(_) => {}
            // The pod went away with its state.
            Err(_) => return Ok(()),
        }
    }
}
