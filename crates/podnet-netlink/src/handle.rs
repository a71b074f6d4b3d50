//! [`Handle`]: one route socket bound to one network namespace.

use netlink_packet_route::RouteNetlinkMessage;

use crate::error::{Error, Result};
use crate::netns::NetNs;
use crate::socket::{Failure, NetlinkSocket};

/// How often a dump disturbed by concurrent changes is restarted before
/// giving up; each retry is a full re-read, and churn that outlasts a few of
/// them is worth reporting.
const DUMP_ATTEMPTS: usize = 4;

/// A NETLINK_ROUTE socket plus its sequence counter. The socket belongs to
/// the namespace it was created in for its whole life, so a handle made with
/// [`Handle::in_netns`] needs no namespace switching afterwards.
///
/// Not shareable between threads at once (`&mut self` everywhere); make one
/// handle per thread or per namespace.
pub struct Handle {
    socket: NetlinkSocket,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}

impl Handle {
    /// Opens a socket in the calling thread's network namespace.
    pub fn new() -> Result<Handle> {
        let socket = NetlinkSocket::open()
            .map_err(|source| Error::io("open NETLINK_ROUTE socket", source))?;
        Ok(Handle { socket })
    }

    /// Opens a socket inside `ns`; it stays bound there.
    pub fn in_netns(ns: &NetNs) -> Result<Handle> {
        ns.run(Handle::new)?
    }

    /// Sends a change or targeted get; `verb` and `what` name it in errors.
    pub(crate) fn request(
        &mut self,
        message: RouteNetlinkMessage,
        flags: u16,
        verb: &str,
        what: impl FnOnce() -> String,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        self.socket
            .request(message, flags)
            .map_err(|failure| failure_to_error(failure, verb, &what()))
    }

    /// Runs a dump, restarting it when the kernel flags it as interrupted.
    pub(crate) fn dump(
        &mut self,
        message: RouteNetlinkMessage,
        what: impl Fn() -> String,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        for _ in 0..DUMP_ATTEMPTS {
            match self.socket.dump(message.clone()) {
                Ok(messages) => return Ok(messages),
                Err(Failure::Interrupted) => continue,
                Err(failure) => return Err(failure_to_error(failure, "dump", &what())),
            }
        }
        Err(failure_to_error(Failure::Interrupted, "dump", &what()))
    }
}

fn failure_to_error(failure: Failure, verb: &str, what: &str) -> Error {
    match failure {
        Failure::Kernel { errno, message } => Error::from_kernel(errno, message, verb, what),
        Failure::Io(source) => Error::io(format!("{verb} {what}: netlink socket"), source),
        Failure::Protocol(message) => Error::Protocol {
            context: format!("{verb} {what}"),
            message,
        },
        Failure::Interrupted => Error::Kernel {
            op: format!("{verb} {what}"),
            errno: libc::EINTR,
            message: format!(
                "dump interrupted by concurrent changes {DUMP_ATTEMPTS} times in a row"
            ),
        },
    }
}
