use std::io;

/// Everything that stops a benchmark run. Each names the object or step it concerns.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Namespaces, nftables and iptables need root.
    #[error("proxy-bench must run as root (it creates network namespaces and loads firewall rules into them)")]
    NotRoot,

    /// A command-line value that makes no sense.
    #[error("invalid --{option}: {reason}")]
    InvalidOption {
        option: &'static str,
        reason: String,
    },

    /// A set-up or baseline command (`ip ...`, `iptables-restore`, ...) failed.
    #[error("`{command}` failed: {detail}")]
    Command { command: String, detail: String },

    /// Creating, entering or configuring a network namespace failed.
    #[error("network namespace {namespace}: {detail}")]
    Netns { namespace: String, detail: String },

    /// podnet's service proxy refused a sync or a removal.
    #[error("podnet service proxy in {namespace}, {step}: {detail}")]
    Proxy {
        namespace: String,
        step: String,
        detail: String,
    },

    /// A socket operation of the data-plane traffic failed.
    #[error("{what}: {source}")]
    Traffic { what: String, source: io::Error },

    /// The echo server answered something else than the byte it was sent.
    #[error("{what}: the server answered {got:?}, expected {expected:?}")]
    BadReply { what: String, expected: u8, got: u8 },

    /// A measurement produced no samples (its loop never ran).
    #[error("no samples for {what}")]
    NoSamples { what: String },

    /// A thread of the bench died (its panic message was printed).
    #[error("the {what} thread panicked")]
    ThreadPanicked { what: String },

    /// SIGINT or SIGTERM arrived; the run stops and cleans up.
    #[error("interrupted")]
    Interrupted,
}
