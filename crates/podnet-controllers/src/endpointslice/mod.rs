//! placeholder
pub mod desired;
pub mod endpoints;
pub mod slices;
pub mod tracker;
