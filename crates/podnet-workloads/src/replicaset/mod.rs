//! ReplicaSet: keeps spec.replicas pods made from its template, adopting
//! matching orphans and releasing pods that stopped matching.

mod controller;
pub mod plan;

pub use controller::run;
pub use plan::{plan, ReplicaSetPlan};
