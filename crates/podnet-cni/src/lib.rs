//! podnet-cni: a CNI 1.1 plugin. Bridge + veth networking, a built-in
//! host-local-compatible IPAM (or any delegated IPAM plugin), masquerade and hostPort
//! mappings in the nftables table `inet podnet-cni`.
//!
//! `run` is the whole plugin as a function of environment and stdin, so the binary is
//! a thin shell and the protocol is testable in process.

pub mod apply;
pub mod commands;
pub mod config;
pub mod env;
pub mod error;
pub mod firewall;
pub mod ipam;
pub mod link;
pub mod log;
pub mod result;
pub mod state;

use config::NetConf;
use env::{CniEnv, Command};
use error::{CniError, Code};
use result::{Version, LATEST_VERSION};

/// What the plugin prints on stdout and its exit status.
pub struct Outcome {
    pub stdout: String,
    pub success: bool,
}

/// The cniVersion to print an error with: the config's, when it has a usable one.
fn version_hint(stdin: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(stdin)
        .ok()
        .and_then(|v| {
            v.get("cniVersion")
                .and_then(|s| s.as_str())
                .map(str::to_string)
        })
        .filter(|v| Version::parse(v).is_ok())
        .unwrap_or_else(|| LATEST_VERSION.to_string())
}

fn failure(e: &CniError, stdin: &[u8]) -> Outcome {
    Outcome {
        stdout: e.to_json(&version_hint(stdin)),
        success: false,
    }
}

pub fn run(lookup: impl Fn(&str) -> Option<String>, stdin: &[u8]) -> Outcome {
    let env = match CniEnv::from_lookup(lookup) {
        Ok(env) => env,
        Err(e) => return failure(&e, stdin),
    };
    if env.command == Command::Version {
        let requested = serde_json::from_slice::<serde_json::Value>(stdin)
            .ok()
            .and_then(|v| {
                v.get("cniVersion")
                    .and_then(|s| s.as_str())
                    .map(str::to_string)
            });
        return Outcome {
            stdout: result::version_info(requested.as_deref()).to_string(),
            success: true,
        };
    }
    let conf = match NetConf::parse(stdin, &env) {
        Ok(c) => c,
        Err(e) => return failure(&e, stdin),
    };
    let logger = log::Logger::new(conf.log_file.as_deref());
    let started = std::time::Instant::now();
    let outcome = dispatch(&env, &conf);
    match &outcome {
        Ok(_) => logger.info(&format!(
            "{:?} {} {} on {}: ok in {:?}",
            env.command,
            env.container_id,
            env.ifname,
            conf.name,
            started.elapsed()
        )),
        Err(e) => logger.error(&format!(
            "{:?} {} {} on {}: {e}",
            env.command, env.container_id, env.ifname, conf.name
        )),
    }
    match outcome {
        Ok(stdout) => Outcome {
            stdout,
            success: true,
        },
        Err(e) => Outcome {
            stdout: e.to_json(conf.version.as_str()),
            success: false,
        },
    }
}

fn dispatch(env: &CniEnv, conf: &NetConf) -> Result<String, CniError> {
    match env.command {
        Command::Add => commands::add::run(env, conf).map(|v| v.to_string()),
        Command::Del => commands::del::run(env, conf).map(|()| String::new()),
        Command::Check => {
            commands::require_version(conf.version, Version::V0_4_0, "CHECK")?;
            commands::check::run(env, conf).map(|()| String::new())
        }
        Command::Status => {
            commands::require_version(conf.version, Version::V1_1_0, "STATUS")?;
            commands::status::run(env, conf).map(|()| String::new())
        }
        Command::Gc => {
            commands::require_version(conf.version, Version::V1_1_0, "GC")?;
            commands::gc::run(env, conf).map(|()| String::new())
        }
        Command::Version => Err(CniError::new(
            Code::InvalidEnvironment,
            "VERSION handled earlier",
        )),
    }
}
