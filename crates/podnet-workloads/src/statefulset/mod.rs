//! StatefulSet: pods `<set>-<ordinal>` with stable hostnames under the
//! set's service, started in order (OrderedReady) or together (Parallel),
//! removed from the highest ordinal, and replaced in reverse ordinal order
//! when the template changes.

mod controller;
pub mod plan;

pub use controller::run;
pub use plan::{plan, PodWrite, StatefulSetPlan};
