//! Deployment: ReplicaSets named `<deployment>-<pod-template-hash>`, one per
//! template revision, scaled for rolling updates (maxSurge, maxUnavailable,
//! readiness and minReadySeconds) or Recreate, with revision history and
//! the Available and Progressing conditions.

mod controller;
pub mod plan;

pub use controller::run;
pub use plan::{plan, DeploymentPlan, ReplicaSetWrite};
