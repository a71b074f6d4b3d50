//! An nftables ruleset model, rendering, element-level diff and atomic apply.
//!
//! Every podnet component owns exactly one table (`inet podnet-cni`, `inet podnet-proxy`,
//! ...). It computes the desired [`Table`] as plain data with a pure function; this
//! crate turns it into nft scripts ([`Table::render_replace`], [`Table::render_ensure`],
//! [`Table::render_remove_elements`], [`diff`]) and a [`Backend`] applies each script as
//! one kernel transaction (`nft -f -`). See the crate README for the contract.

mod backend;
mod diff;
mod elements;
mod error;
mod model;
mod render;
mod script;
mod sync;
mod validate;

pub use backend::{Backend, NftCli, RecordingBackend};
pub use diff::diff;
pub use elements::{ElementBatch, ElementError, ElementSocket};
pub use error::Error;
pub use model::{BaseChain, Chain, ChainType, Family, Hook, Policy, Set, SetFlag, Table};
pub use render::Removal;
pub use script::Script;
pub use sync::TableSync;
pub use validate::{check_name, MAX_COMMENT_LEN, MAX_NAME_LEN};
