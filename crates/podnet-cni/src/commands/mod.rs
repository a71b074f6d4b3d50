//! One file per CNI verb; `teardown` is shared by DEL, GC and ADD's rollback.

pub mod add;
pub mod check;
pub mod del;
pub mod gc;
pub mod status;

use crate::error::{CniError, Code, Result};
use crate::result::Version;

/// Commands newer than the config's cniVersion are refused, as the spec's skeleton does.
pub fn require_version(have: Version, need: Version, command: &str) -> Result<()> {
    if have < need {
        return Err(CniError::new(
            Code::IncompatibleVersion,
            format!(
                "cniVersion: {command} needs {} or later, config says {}",
                need.as_str(),
                have.as_str()
            ),
        ));
    }
    Ok(())
}
