//! Applying the firewall table.
//!
//! Structure (chains, maps, rules) goes through one `nft -f -` transaction, which
//! costs a process start; a pod's own elements go through one nf_tables netlink batch,
//! which costs well under a millisecond. So an ADD takes the fast path whenever the
//! structure its network needs is known to be in place: a marker file per network
//! holds a fingerprint of the structure last applied, and a batch that finds the table,
//! a set or a chain missing (someone deleted it) falls back to `nft -f`.
//! A lock keeps GC's full rebuild from interleaving with ADDs and DELs.

use crate::error::{CniError, Code, Result};
use crate::firewall;
use crate::state::{Attachment, StateDir};
use podnet_nft::{Backend, ElementBatch, Family, NftCli, Table};
use std::fs::{self, File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::PathBuf;

/// Holds the lock while alive; the descriptor is never read.
struct FileLock(#[allow(dead_code)] File);

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
                format!(
                    "locking {}: {}",
                    path.display(),
                    std::io::Error::last_os_error()
                ),
            ));
        }
        Ok(FileLock(f))
    }
}

fn nft(script: &str) -> Result<()> {
    NftCli::new()
        .apply(script)
        .map_err(|e| CniError::kernel(format!("nftables table inet {}", firewall::TABLE), e))
}

fn marker(state: &StateDir, network: &str) -> PathBuf {
    state.nft_marker_dir().join(network)
}

fn fingerprint(structure: &Table) -> String {
    podnet_model::hash::short_hash(&structure.render_replace(), 26)
}

fn batch_error(e: podnet_nft::ElementError) -> CniError {
    CniError::kernel(format!("nftables table inet {}", firewall::TABLE), e)
}

/// Adds the attachment's elements, creating or updating the structure first if needed.
pub fn add(state: &StateDir, a: &Attachment) -> Result<()> {
    let _lock = FileLock::acquire(state)?;
    let structure = firewall::structure(a);
    let print = fingerprint(&structure);
    let marker = marker(state, &a.network);
    if fs::read_to_string(&marker).is_ok_and(|m| m == print) {
        let mut batch = ElementBatch::new(Family::Inet, firewall::TABLE);
        for (set, elems) in firewall::elements(a) {
            batch
                .add(&structure.sets[&set], &elems)
                .map_err(batch_error)?;
        }
        match batch.commit() {
            Ok(()) => return Ok(()),
            Err(e) if e.is_missing() => {}
            Err(e) => return Err(batch_error(e)),
        }
    }
    nft(&firewall::compile(std::slice::from_ref(a)).render_ensure())?;
    if let Some(dir) = marker.parent() {
        fs::create_dir_all(dir)
            .map_err(|e| CniError::new(Code::Io, format!("{}: {e}", dir.display())))?;
    }
    fs::write(&marker, print)
        .map_err(|e| CniError::new(Code::Io, format!("{}: {e}", marker.display())))
}

/// Removes the attachment's elements; succeeds if they are already gone.
pub fn remove(state: &StateDir, a: &Attachment) -> Result<()> {
    let removals = firewall::elements(a);
    if removals.is_empty() {
        return Ok(());
    }
    let _lock = FileLock::acquire(state)?;
    let structure = firewall::structure(a);
    let mut batch = ElementBatch::new(Family::Inet, firewall::TABLE);
    for (set, elems) in &removals {
        batch
            .remove(&structure.sets[set], elems)
            .map_err(batch_error)?;
    }
    match batch.commit() {
        Ok(()) => Ok(()),
        // Part of the structure is gone; nft declares it and removes what remains.
        Err(e) if e.is_missing() => nft(&structure.render_remove_elements(&removals)),
        Err(e) => Err(batch_error(e)),
    }
}

/// Rebuilds the whole table from the remaining attachments (GC): repairs any drift.
pub fn rebuild(state: &StateDir, remaining: &[Attachment]) -> Result<()> {
    let _lock = FileLock::acquire(state)?;
    // Markers describe structure as ADDs left it; after a rebuild the next ADD of each
    // network re-checks its structure through nft.
    let dir = state.nft_marker_dir();
    match fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(CniError::new(Code::Io, format!("{}: {e}", dir.display()))),
    }
    if remaining.iter().any(firewall::needs_table) {
        nft(&firewall::compile(remaining).render_replace())
    } else {
        nft(&Table::render_delete(Family::Inet, firewall::TABLE))
    }
}
