//! CNI errors: every failure the plugin reports is one of the spec's codes plus a
//! message naming what was wrong, printed as the CNI error object on stdout.

use serde::Serialize;
use std::fmt;

/// Error codes of the CNI specification (1.1.0, "Error" section); 100 and up are ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    IncompatibleVersion = 1,
    UnsupportedField = 2,
    UnknownContainer = 3,
    InvalidEnvironment = 4,
    Io = 5,
    Decode = 6,
    InvalidConfig = 7,
    TryAgainLater = 11,
    NotAvailable = 50,
    LimitedConnectivity = 51,
    /// A kernel operation (netlink, sysctl, nftables) failed.
    Kernel = 100,
    /// The address pool has no free address left.
    AddressesExhausted = 101,
    /// CHECK found the attachment differs from the recorded result.
    CheckFailed = 102,
    /// The delegated IPAM plugin failed; its own error is in the message.
    DelegateFailed = 103,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CniError {
    pub code: Code,
    pub msg: String,
    pub details: String,
}

impl CniError {
    pub fn new(code: Code, msg: impl Into<String>) -> Self {
        CniError {
            code,
            msg: msg.into(),
            details: String::new(),
        }
    }

    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = details.into();
        self
    }

    pub fn config(msg: impl Into<String>) -> Self {
        Self::new(Code::InvalidConfig, msg)
    }

    pub fn env(msg: impl Into<String>) -> Self {
        Self::new(Code::InvalidEnvironment, msg)
    }

    pub fn kernel(context: impl fmt::Display, err: impl fmt::Display) -> Self {
        Self::new(Code::Kernel, format!("{context}: {err}"))
    }

    /// All failures of a teardown that kept going past the first: Ok when there were
    /// none, else the first one's code with every message.
    pub fn combine(errors: Vec<CniError>) -> Result<()> {
        let Some(first) = errors.first() else {
            return Ok(());
        };
        let msg = errors
            .iter()
            .map(|e| e.msg.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        Err(CniError::new(first.code, msg))
    }

    /// The JSON object the spec prints on stdout; `cni_version` is the config's version
    /// when known so the runtime can decode it.
    pub fn to_json(&self, cni_version: &str) -> String {
        #[derive(Serialize)]
        struct Wire<'a> {
            #[serde(rename = "cniVersion")]
            cni_version: &'a str,
            code: u32,
            msg: &'a str,
            #[serde(skip_serializing_if = "str::is_empty")]
            details: &'a str,
        }
        serde_json::to_string(&Wire {
            cni_version,
            code: self.code as u32,
            msg: &self.msg,
            details: &self.details,
        })
        .expect("error object serialises")
    }
}

impl fmt::Display for CniError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {})", self.msg, self.code as u32)
    }
}

impl std::error::Error for CniError {}

impl From<podnet_netlink::Error> for CniError {
    fn from(e: podnet_netlink::Error) -> Self {
        CniError::new(Code::Kernel, e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, CniError>;
