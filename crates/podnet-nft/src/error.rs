use std::io;

/// Everything that can go wrong while validating a table or applying a script.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The nft process (or its command prefix, e.g. `ip netns exec`) could not be started.
    #[error("cannot start `{command}`: {source}")]
    Spawn { command: String, source: io::Error },

    /// Talking to a started nft process failed (writing the script, reading its output).
    #[error("cannot talk to `{command}`: {source}")]
    Io { command: String, source: io::Error },

    /// nft refused the script. nft scripts are one transaction, so nothing was changed.
    #[error("nft rejected the script: {stderr}")]
    Rejected {
        /// nft's own message, with its pointer to the offending line.
        stderr: String,
        /// The lines of the script around the offending one, numbered as nft numbers them.
        script_excerpt: String,
    },

    /// nft (or its command prefix) failed with a status other than nft's "script
    /// rejected" status, e.g. a missing network namespace or no netlink socket.
    #[error("`{command}` failed with status {code}: {stderr}")]
    Failed {
        command: String,
        code: i32,
        stderr: String,
    },

    /// nft was killed by a signal, so whether the transaction was committed is unknown.
    #[error("`{command}` was killed ({status})")]
    Killed { command: String, status: String },

    /// `nft list table` failed for a reason other than the table being absent.
    #[error("cannot list table {family} {name}: {stderr}")]
    List {
        family: String,
        name: String,
        stderr: String,
    },

    /// nft printed a listing that is not UTF-8.
    #[error("`{command}` printed a listing that is not UTF-8")]
    NotUtf8 { command: String },

    /// A table holds something nft cannot express or would misread.
    #[error("{object}: {field} {reason}")]
    Invalid {
        /// Which object, e.g. `set pods of inet podnet-cni`.
        object: String,
        /// Which part of it, e.g. `name`, `comment`, `element "10.0.0.1"`.
        field: String,
        reason: String,
    },
}
