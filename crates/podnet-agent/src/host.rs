//! Facts about the machine the node runs on, for the Node's `nodeInfo` and
//! `capacity`. Nodes of one lab share the machine, so they report the same.

use std::path::Path;

/// What the Node reports about its machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFacts {
    /// `PRETTY_NAME` of os-release, as the kubelet reports `osImage`.
    pub os_image: String,
    pub kernel_version: String,
    pub machine_id: String,
    pub system_uuid: String,
    pub boot_id: String,
    /// Kubernetes' (Go's) name of the architecture: `amd64`, `arm64`...
    pub architecture: String,
    pub cpus: u32,
    pub memory_kib: u64,
}

impl HostFacts {
    /// Reads the facts; what a machine does not expose stays empty (or 0),
    /// as the kubelet leaves such fields.
    pub fn read() -> HostFacts {
        HostFacts {
            os_image: os_image(&read_or_empty("/etc/os-release")).unwrap_or_else(|| "Linux".into()),
            kernel_version: read_or_empty("/proc/sys/kernel/osrelease")
                .trim()
                .to_string(),
            machine_id: read_or_empty("/etc/machine-id").trim().to_string(),
            system_uuid: read_or_empty("/sys/class/dmi/id/product_uuid")
                .trim()
                .to_string(),
            boot_id: read_or_empty("/proc/sys/kernel/random/boot_id")
                .trim()
                .to_string(),
            architecture: kubernetes_arch(std::env::consts::ARCH).to_string(),
            cpus: std::thread::available_parallelism()
                .map(|n| u32::try_from(n.get()).unwrap_or(u32::MAX))
                .unwrap_or(1),
            memory_kib: mem_total_kib(&read_or_empty("/proc/meminfo")).unwrap_or(0),
        }
    }
}

fn read_or_empty(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// `PRETTY_NAME` from os-release text (quotes removed).
pub fn os_image(os_release: &str) -> Option<String> {
    os_release.lines().find_map(|line| {
        let value = line.strip_prefix("PRETTY_NAME=")?;
        let value = value.trim();
        let unquoted = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(value);
        Some(unquoted.to_string())
    })
}

/// `MemTotal` of /proc/meminfo in KiB.
pub fn mem_total_kib(meminfo: &str) -> Option<u64> {
    meminfo.lines().find_map(|line| {
        let rest = line.strip_prefix("MemTotal:")?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Rust's architecture names as Go (and so Kubernetes) spells them.
pub fn kubernetes_arch(rust_arch: &str) -> &str {
    match rust_arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_image_is_the_pretty_name_without_quotes() {
        let text = "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n";
        assert_eq!(
            os_image(text).as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        assert_eq!(os_image("PRETTY_NAME=Alpine\n").as_deref(), Some("Alpine"));
        assert_eq!(os_image("ID=x\n"), None);
    }

    #[test]
    fn memory_comes_from_mem_total() {
        let text = "MemTotal:        8029520 kB\nMemFree:          123 kB\n";
        assert_eq!(mem_total_kib(text), Some(8029520));
        assert_eq!(mem_total_kib("MemFree: 1 kB\n"), None);
    }

    #[test]
    fn architectures_use_go_names() {
        assert_eq!(kubernetes_arch("x86_64"), "amd64");
        assert_eq!(kubernetes_arch("aarch64"), "arm64");
    }

    #[test]
    fn this_machine_reports_a_kernel_and_memory() {
        let facts = HostFacts::read();
        assert!(!facts.kernel_version.is_empty());
        assert!(facts.memory_kib > 0);
        assert!(facts.cpus >= 1);
    }
}
