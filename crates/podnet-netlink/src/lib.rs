//! Kernel network access for podnet: links, addresses, routes, neighbours,
//! FDB entries, network namespaces and sysctls, plus conntrack cleanup
//! ([`conntrack`]) and gratuitous ARP ([`arp`]).
//!
//! Everything is synchronous: a [`Handle`] owns one NETLINK_ROUTE socket and
//! runs a small request/ack loop on it, which keeps short-lived callers such
//! as the CNI plugin free of an async runtime. The crate keeps no state of its
//! own; it is only the access layer to the kernel.
//!
//! ```no_run
//! use podnet_netlink::{Handle, NetNs, VethSpec};
//!
//! let pod = NetNs::open("/run/netns/pod-1")?;
//! let mut host = Handle::new()?;
//! host.add_veth(&VethSpec {
//!     name: "veth1234",
//!     mtu: Some(1450),
//!     mac: None,
//!     peer_name: "eth0",
//!     peer_mac: None,
//!     peer_netns: Some(pod.as_fd()),
//! })?;
//! let mut inside = Handle::in_netns(&pod)?;
//! let eth0 = inside.link_by_name("eth0")?.expect("just created");
//! inside.set_up(eth0.index)?;
//! # Ok::<(), podnet_netlink::Error>(())
//! ```

mod address;
pub mod arp;
pub mod conntrack;
mod error;
mod handle;
mod link;
mod mac;
mod neighbour;
mod netns;
mod route;
mod socket;
pub mod sysctl;

pub use address::{Address, Family};
pub use error::{Error, Result};
pub use handle::Handle;
pub use link::{Link, VethSpec, VxlanSpec};
pub use mac::{format_mac, parse_mac};
pub use neighbour::{FdbEntry, Neighbour};
pub use netns::{NetNs, NETNS_RUN_DIR};
pub use route::{Route, PROTOCOL_BOOT, SCOPE_LINK, SCOPE_UNIVERSE, TABLE_ALL, TABLE_MAIN};
