//! Pure data and math shared by podnet's components: CIDR arithmetic, index and
//! address allocators, stable short hashes for generated names, Kubernetes name
//! syntax, label and field selectors.
//!
//! Nothing in this crate touches the kernel or the disk, so everything here is
//! unit-tested without privileges.

pub mod alloc;
pub mod cidr;
pub mod hash;
pub mod labels;
pub mod names;
pub mod selector;
