//! Pods of one plugin: each a fresh named namespace and a container ID. Whatever is
//! still attached when the set drops is DELeted and its namespace removed.

use crate::error::BenchError;
use crate::netns::NamedNetns;
use crate::plugin::Plugin;
use crate::signals;
use serde_json::Value;
use std::time::Duration;

struct AttachedPod {
    container_id: String,
    netns: NamedNetns,
    result: Value,
}

/// ADD and DEL latencies of one pod's life.
pub struct CycleTimes {
    pub add: Duration,
    pub del: Duration,
}

pub struct Pods<'a> {
    plugin: &'a Plugin,
    /// `pcb-<pid>-<plugin>`: namespaces and container IDs are this plus a counter.
    prefix: String,
    next: u32,
    attached: Vec<AttachedPod>,
}

impl<'a> Pods<'a> {
    pub fn new(plugin: &'a Plugin) -> Pods<'a> {
        Pods {
            plugin,
            prefix: format!("pcb-{}-{}", std::process::id(), plugin.label),
            next: 0,
            attached: Vec::new(),
        }
    }

    pub fn attached_count(&self) -> usize {
        self.attached.len()
    }

    /// A new pod namespace and its container ID; not part of any measurement.
    fn fresh(&mut self) -> Result<(String, NamedNetns), BenchError> {
        signals::check()?;
        let name = format!("{}-{}", self.prefix, self.next);
        self.next += 1;
        let netns = NamedNetns::create(name.clone())?;
        Ok((name, netns))
    }

    /// ADD a pod, as the runtime would, and cleans up after a failed ADD with a DEL
    /// (as runtimes must) before reporting the failure.
    fn add(&self, container_id: &str, netns: &NamedNetns) -> Result<(Duration, Value), BenchError> {
        match self.plugin.add(container_id, &netns.path()) {
            Ok(added) => Ok((added.elapsed, added.result)),
            Err(failure) => {
                if let Err(e) = self.plugin.del(container_id, Some(&netns.path()), None) {
                    eprintln!("cleanup after failed ADD: {e}");
                }
                Err(failure)
            }
        }
    }

    /// Attaches one more pod that stays attached; returns the ADD latency.
    pub fn attach(&mut self) -> Result<Duration, BenchError> {
        let (container_id, netns) = self.fresh()?;
        let (elapsed, result) = self.add(&container_id, &netns)?;
        self.attached.push(AttachedPod {
            container_id,
            netns,
            result,
        });
        Ok(elapsed)
    }

    /// One pod's whole life: fresh namespace, ADD, DEL, namespace removed.
    pub fn cycle(&mut self) -> Result<CycleTimes, BenchError> {
        let (container_id, netns) = self.fresh()?;
        let (add, result) = self.add(&container_id, &netns)?;
        let del = self
            .plugin
            .del(&container_id, Some(&netns.path()), Some(&result))?;
        Ok(CycleTimes { add, del })
    }

    /// DELs every attached pod, newest first; stops at the first failure (the rest are
    /// handled on drop).
    pub fn detach_all(&mut self) -> Result<(), BenchError> {
        while let Some(pod) = self.attached.pop() {
            let outcome = self.plugin.del(
                &pod.container_id,
                Some(&pod.netns.path()),
                Some(&pod.result),
            );
            drop(pod);
            outcome?;
        }
        Ok(())
    }
}

impl Drop for Pods<'_> {
    fn drop(&mut self) {
        while let Some(pod) = self.attached.pop() {
            if let Err(e) = self.plugin.del(
                &pod.container_id,
                Some(&pod.netns.path()),
                Some(&pod.result),
            ) {
                eprintln!("cleanup: {e}");
            }
        }
    }
}
