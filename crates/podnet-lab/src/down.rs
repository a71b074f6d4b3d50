//! Removing a lab, found by its names alone.

use podnet_netlink::NetNs;
use podnet_nft::Table;

use crate::error::{Context, Error, Result};
use crate::firewall;
use crate::host::{named_netns, Host};
use crate::plan::LabScope;
use crate::state;
use crate::up::describe_kind;

/// What `down` removed, one line per object. Empty when there was no lab.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DownReport {
    pub removed: Vec<String>,
}

/// Removes every namespace, link, nftables table and state file of the lab named by
/// `scope`: whatever carries one of its names, whether `up` finished, was killed
/// halfway, or never ran. Needs no plan and does not read the state directory, so it
/// works after everything was killed. Running it again finds nothing and succeeds.
///
/// Failures do not stop it: it removes what it can and then reports every failure in
/// [`Error::Incomplete`].
///
/// Deleting a namespace removes its name; processes still running inside (agents,
/// pods) keep the namespace itself alive until they exit. Stopping them is up to
/// whoever started them, before calling this.
pub fn down(scope: &LabScope) -> Result<DownReport> {
    scope.validate()?;
    let mut report = DownReport::default();
    let mut failures = Vec::new();

    match open_host(scope) {
        Ok(Some(mut host)) => remove_host_side(&mut host, scope, &mut report, &mut failures),
        // A named host namespace that is gone took its links and table along.
        Ok(None) => {}
        Err(error) => failures.push(error),
    }

    match named_netns() {
        Ok(names) => {
            for name in names {
                if scope.member_of_netns(&name).is_none() {
                    continue;
                }
                match NetNs::delete_named(&name) {
                    Ok(()) => report.removed.push(format!("network namespace {name}")),
                    Err(source) => failures.push(Error::Kernel {
                        context: format!("delete network namespace {name}"),
                        source,
                    }),
                }
            }
        }
        Err(error) => failures.push(error),
    }

    match state::remove(scope) {
        Ok(paths) => report.removed.extend(paths),
        Err(error) => failures.push(error),
    }

    if failures.is_empty() {
        Ok(report)
    } else {
        Err(Error::Incomplete { failures })
    }
}

fn open_host(scope: &LabScope) -> Result<Option<Host>> {
    match Host::open(scope) {
        Ok(host) => Ok(Some(host)),
        Err(Error::Kernel { source, .. })
            if scope.host_netns.is_some() && source.is_not_found() =>
        {
            Ok(None)
        }
        Err(error) => Err(error),
    }
}

/// Host-side veth ends go first: deleting one takes its peer inside the member
/// namespace along at once, instead of whenever the kernel gets round to cleaning up
/// a deleted namespace.
/// Only objects of the kind the lab makes are deleted; a bridge-named dummy or a
/// port-named physical device is someone else's and reported as a conflict.
fn remove_host_side(
    host: &mut Host,
    scope: &LabScope,
    report: &mut DownReport,
    failures: &mut Vec<Error>,
) {
    let bridge = scope.bridge();
    let links = match host
        .handle
        .links()
        .context(|| "list links of the host namespace".to_string())
    {
        Ok(links) => links,
        Err(error) => {
            failures.push(error);
            Vec::new()
        }
    };
    let ports = links
        .iter()
        .filter(|link| scope.member_of_host_veth(&link.name).is_some())
        .map(|link| (link, "veth"));
    let bridges = links
        .iter()
        .filter(|link| link.name == bridge)
        .map(|link| (link, "bridge"));
    for (link, kind) in ports.chain(bridges) {
        if link.kind.as_deref() != Some(kind) {
            failures.push(Error::conflict(
                format!("link {}", link.name),
                format!("it is {}, not a {kind}", describe_kind(link)),
            ));
            continue;
        }
        match host.handle.delete_link_by_name(&link.name) {
            Ok(true) => report.removed.push(format!("link {}", link.name)),
            Ok(false) => {}
            Err(source) => failures.push(Error::Kernel {
                context: format!("delete link {}", link.name),
                source,
            }),
        }
    }

    let table = scope.table();
    match host.list_table() {
        Ok(Some(_)) => match host.apply_table(&Table::render_delete(firewall::FAMILY, &table)) {
            Ok(()) => report
                .removed
                .push(format!("table {} {table}", firewall::FAMILY)),
            Err(error) => failures.push(error),
        },
        Ok(None) => {}
        Err(error) => failures.push(error),
    }
}
