//! The node's Lease in `kube-node-lease`, the heartbeat the node lifecycle
//! controller watches (pure construction; the renewal loop is in `agent`).

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference};
use k8s_openapi::jiff::Timestamp;

/// The namespace of node Leases (the node lifecycle controller reads them there).
pub use podnet_controllers::node_lifecycle::NODE_LEASE_NAMESPACE;

/// The owner reference that ties the Lease to its Node, so the Lease goes
/// when the Node does.
pub fn owner_reference(node_name: &str, node_uid: &str) -> OwnerReference {
    OwnerReference {
        api_version: "v1".into(),
        kind: "Node".into(),
        name: node_name.into(),
        uid: node_uid.into(),
        ..OwnerReference::default()
    }
}

/// A new Lease for the node, renewed at `now`.
pub fn new_lease(node_name: &str, node_uid: &str, duration_seconds: i32, now: Timestamp) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some(node_name.into()),
            namespace: Some(NODE_LEASE_NAMESPACE.into()),
            owner_references: Some(vec![owner_reference(node_name, node_uid)]),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(node_name.into()),
            lease_duration_seconds: Some(duration_seconds),
            renew_time: Some(MicroTime(now)),
            ..LeaseSpec::default()
        }),
    }
}

/// `existing` renewed at `now`: holder and duration set again (someone may
/// have changed them), the owner reference pointing at the current Node.
pub fn renewed(
    existing: &Lease,
    node_name: &str,
    node_uid: &str,
    duration_seconds: i32,
    now: Timestamp,
) -> Lease {
    let mut lease = existing.clone();
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    spec.holder_identity = Some(node_name.into());
    spec.lease_duration_seconds = Some(duration_seconds);
    spec.renew_time = Some(MicroTime(now));
    let owners = lease.metadata.owner_references.get_or_insert_with(Vec::new);
    owners.retain(|owner| !(owner.kind == "Node" && owner.api_version == "v1"));
    owners.push(owner_reference(node_name, node_uid));
    lease
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + seconds).unwrap()
    }

    #[test]
    fn a_new_lease_is_held_by_the_node_and_owned_by_it() {
        let lease = new_lease("n1", "uid-1", 40, at(0));
        assert_eq!(lease.metadata.name.as_deref(), Some("n1"));
        assert_eq!(lease.metadata.namespace.as_deref(), Some("kube-node-lease"));
        let owner = &lease.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str(), owner.uid.as_str()),
            ("Node", "n1", "uid-1")
        );
        let spec = lease.spec.unwrap();
        assert_eq!(spec.holder_identity.as_deref(), Some("n1"));
        assert_eq!(spec.lease_duration_seconds, Some(40));
        assert_eq!(spec.renew_time, Some(MicroTime(at(0))));
    }

    #[test]
    fn renewal_moves_the_time_and_follows_a_recreated_node() {
        let old = new_lease("n1", "uid-1", 40, at(0));
        let lease = renewed(&old, "n1", "uid-2", 40, at(10));
        assert_eq!(
            lease.spec.as_ref().unwrap().renew_time,
            Some(MicroTime(at(10)))
        );
        let owners = lease.metadata.owner_references.unwrap();
        assert_eq!(owners.len(), 1);
        assert_eq!(owners[0].uid, "uid-2");
    }
}
