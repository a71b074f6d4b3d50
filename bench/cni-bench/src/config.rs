//! The two equivalent networks being compared: same options, own bridge and subnet.

use crate::plugin::Plugin;
use serde_json::{json, Value};
use std::path::Path;

pub const PODNET_LABEL: &str = "podnet-cni";
pub const REFERENCE_LABEL: &str = "reference";

/// The baseline, by name, as the report states it.
pub const REFERENCE_DESCRIPTION: &str =
    "containernetworking-plugins bridge + host-local, ipMasq on";

/// podnet-cni: bridge `pcb-pn0`, gateway and masquerade, built-in IPAM on 10.77.0.0/16.
pub fn podnet_config(data_dir: &Path) -> Value {
    json!({
        "cniVersion": "1.0.0",
        "name": "pcb-podnet",
        "type": "podnet-cni",
        "bridge": "pcb-pn0",
        "isGateway": true,
        "ipMasq": true,
        "ipam": {
            "type": "podnet-ipam",
            "ranges": [[{ "subnet": "10.77.0.0/16" }]],
            "dataDir": data_dir.display().to_string(),
        },
    })
}

/// The reference bridge: bridge `pcb-ref0`, gateway and masquerade, host-local on
/// 10.78.0.0/16.
pub fn reference_config(data_dir: &Path) -> Value {
    json!({
        "cniVersion": "1.0.0",
        "name": "pcb-reference",
        "type": "bridge",
        "bridge": "pcb-ref0",
        "isGateway": true,
        "ipMasq": true,
        "ipam": {
            "type": "host-local",
            "ranges": [[{ "subnet": "10.78.0.0/16" }]],
            "dataDir": data_dir.display().to_string(),
        },
    })
}

/// Both plugins, podnet first. `CNI_PATH` lists podnet-cni's directory and the
/// reference directory, so each finds what it delegates to.
pub fn plugins(podnet_binary: &Path, reference_dir: &Path, data_dir: &Path) -> [Plugin; 2] {
    let podnet_dir = podnet_binary.parent().unwrap_or(Path::new("."));
    let cni_path = format!("{}:{}", podnet_dir.display(), reference_dir.display());
    [
        Plugin {
            label: PODNET_LABEL.to_string(),
            binary: podnet_binary.to_path_buf(),
            config: podnet_config(&data_dir.join("podnet")),
            cni_path: cni_path.clone(),
        },
        Plugin {
            label: REFERENCE_LABEL.to_string(),
            binary: reference_dir.join("bridge"),
            config: reference_config(&data_dir.join("reference")),
            cni_path,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_networks_have_the_same_options_apart_from_names_and_ranges() {
        let dir = Path::new("/data");
        let mut podnet = podnet_config(dir);
        let mut reference = reference_config(dir);
        for config in [&mut podnet, &mut reference] {
            let object = config.as_object_mut().expect("object");
            for key in ["name", "type", "bridge", "ipam"] {
                object.remove(key);
            }
        }
        assert_eq!(podnet, reference);
        assert_eq!(podnet["ipMasq"], true);
        assert_eq!(podnet["isGateway"], true);
    }

    #[test]
    fn ipam_state_goes_to_separate_dirs_under_the_given_one() {
        let [podnet, reference] = plugins(
            Path::new("/build/podnet-cni"),
            Path::new("/usr/lib/cni"),
            Path::new("/scratch"),
        );
        assert_eq!(podnet.config["ipam"]["dataDir"], "/scratch/podnet");
        assert_eq!(reference.config["ipam"]["dataDir"], "/scratch/reference");
        assert_eq!(reference.binary, Path::new("/usr/lib/cni/bridge"));
        assert_eq!(podnet.cni_path, "/build:/usr/lib/cni");
    }
}
