//! The `podnet-cni` binary: CNI environment and stdin in, result or error out.

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut stdin = Vec::new();
    let stdin_handle = std::io::stdin();
    if !stdin_handle.is_terminal() {
        if let Err(e) = stdin_handle.lock().read_to_end(&mut stdin) {
            let err = podnet_cni::error::CniError::new(
                podnet_cni::error::Code::Io,
                format!("reading the network config from stdin: {e}"),
            );
            println!("{}", err.to_json(podnet_cni::result::LATEST_VERSION));
            return ExitCode::FAILURE;
        }
    }
    let outcome = podnet_cni::run(|k| std::env::var(k).ok(), &stdin);
    let mut out = std::io::stdout().lock();
    if !outcome.stdout.is_empty() {
        // The runtime reads stdout to the end; a closed pipe leaves nothing to report to.
        let _ = writeln!(out, "{}", outcome.stdout);
    }
    if outcome.success {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
