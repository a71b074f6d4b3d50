//! podnet's workload controllers: Deployment, ReplicaSet and StatefulSet.
//!
//! Each controller has two halves. A pure `plan` function takes the
//! objects as read from the API server (and the time) and says what to do
//! next; it is unit-tested without a server. A kube-rs reconcile loop
//! (`run`) watches the objects, reads them fresh, carries out the plan
//! through the API, and nothing else: no side channels, so the same loops
//! work against any Kubernetes API server. Deleting what workloads own is
//! the API server's garbage collector's job (owner references).

pub mod deployment;
pub mod error;
pub mod hash;
pub mod intstr;
pub mod owners;
pub mod pods;
pub mod replicaset;
mod runtime;
pub mod statefulset;

pub use error::{PlanError, ReconcileError};

/// Runs every workload controller until their watches end.
pub async fn run(client: kube::Client) {
    tokio::join!(
        deployment::run(client.clone()),
        replicaset::run(client.clone()),
        statefulset::run(client.clone()),
    );
}
