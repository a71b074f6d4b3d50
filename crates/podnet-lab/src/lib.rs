//! The podnet lab: a whole cluster's network on one Linux host.
//!
//! In the host namespace, a bridge (`podnet-lab0`, 172.30.0.1/24) is the underlay;
//! each node is a named network namespace (`podnet-node-1`, ...) whose `eth0` is a
//! veth to that bridge at 172.30.0.(10+i)/24, with a default route via the host and
//! forwarding on; `podnet-ext` (172.30.0.200/24) stands for a host outside the
//! cluster. The nftables table `inet podnet-lab` keeps the host from forwarding
//! anything from the lab to another interface.
//!
//! - [`LabPlan::new`] computes every name and address (pure, no root);
//! - [`up`] builds or repairs the lab toward a plan, idempotently;
//! - [`down`] removes every object carrying the lab's names, without the plan;
//! - [`status`] reports what exists, and [`LabStatus::differences`] how that differs
//!   from a plan.
//!
//! All names start with a configurable prefix ([`LabScope`]), and the host can be a
//! named namespace instead of the caller's, so that tests build throwaway labs far
//! from a real one. Kernel changes go through podnet-netlink and podnet-nft.

mod down;
mod error;
pub mod firewall;
mod host;
mod plan;
mod state;
mod status;
mod up;

pub use down::{down, DownReport};
pub use error::{Error, Result};
pub use plan::{
    LabConfig, LabPlan, LabScope, Member, MemberKind, DEFAULT_PREFIX, DEFAULT_STATE_DIR,
    MAX_PREFIX_LEN,
};
pub use state::Recorded;
pub use status::{status, LabStatus, LinkStatus, MemberStatus, PortStatus};
pub use up::{up, UpReport};
