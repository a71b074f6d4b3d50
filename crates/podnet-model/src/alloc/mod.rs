//! Allocators: a round-robin bitmap over an index range, and an address
//! allocator over a CIDR built on it.

mod bitmap;
mod cidr_allocator;

pub use bitmap::BitmapAllocator;
pub use cidr_allocator::{AllocError, CidrAllocator, MAX_CIDR_ALLOCATOR_ADDRESSES};
