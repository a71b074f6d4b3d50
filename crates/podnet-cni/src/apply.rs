//! Applying the firewall table: one `nft -f -` transaction, under a lock so GC's
//! full rebuild never interleaves with an ADD's or DEL's element changes.

use crate::error::{CniError, Code, Result};
use crate::firewall;
use crate::state::{Attachment, StateDir};
use podnet_nft::{Backend, NftCli, Table};
use std::fs::{self, File, OpenOptions};
use std::os::fd::AsRawFd;

struct FileLock(File);

impl FileLock {
    fn acquire(state: &StateDir) -> Result<FileLock> {
        let path = state.lock_path();
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)
                .map_err(|e| CniError::new(Code::Io, format!("{}: {e}", dir.display())))?;
        }
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| CniError::new(Code::Io, format!("{}: {e}", path.display())))?;
        // SAFETY: flock on a file descriptor we own; released when the File closes.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(CniError::new(
                Code::Io,
                format!("locking {}: {}", path.display(), std::io::Error::last_os_error()),
            ));
        }
        Ok(FileLock(f))
    }
}

fn run(state: &StateDir, script: &str) -> Result<()> {
    let _lock = FileLock::acquire(state)?;
    let _held = &_lock.0;
    NftCli::new()
        .apply(script)
        .map_err(|e| CniError::kernel(format!("nftables table inet {}", firewall::TABLE), e))
}

/// Adds the attachment's rules and elements (idempotent merge).
pub fn add(state: &StateDir, a: &Attachment) -> Result<()> {
    run(state, &firewall::compile(std::slice::from_ref(a)).render_ensure())
}

/// Removes the attachment's elements; succeeds if they are already gone.
pub fn remove(state: &StateDir, a: &Attachment) -> Result<()> {
    let removals = firewall::elements(a);
    if removals.is_empty() {
        return Ok(());
    }
    let mut structure: Table = firewall::compile(std::slice::from_ref(a));
    for s in structure.sets.values_mut() {
        s.elements.clear();
    }
    run(state, &structure.render_remove_elements(&removals))
}

/// Rebuilds the whole table from the remaining attachments (GC): repairs any drift.
pub fn rebuild(state: &StateDir, remaining: &[Attachment]) -> Result<()> {
    if remaining.iter().any(firewall::needs_table) {
        run(state, &firewall::compile(remaining).render_replace())
    } else {
        run(
            state,
            &Table::render_delete(podnet_nft::Family::Inet, firewall::TABLE),
        )
    }
}
