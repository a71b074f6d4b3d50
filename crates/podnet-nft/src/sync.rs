//! Keeping one table in sync: replace once, then apply diffs against what was applied.

use crate::backend::Backend;
use crate::diff::diff;
use crate::error::Error;
use crate::model::Table;
use crate::render;
use crate::script::Script;

/// Owns one table in the kernel through a backend. The first sync replaces the table;
/// later syncs apply only the diff from the last applied table. After a failed apply the
/// kernel state is not trusted any more and the next sync replaces the table again.
#[derive(Debug)]
pub struct TableSync<B> {
    backend: B,
    applied: Option<Table>,
}

impl<B: Backend> TableSync<B> {
    pub fn new(backend: B) -> Self {
        TableSync {
            backend,
            applied: None,
        }
    }

    /// Brings the kernel to `desired` and returns the script that was applied (empty
    /// when nothing changed, in which case the backend is not called).
    pub fn sync(&mut self, desired: Table) -> Result<Script, Error> {
        let script = match &self.applied {
            Some(applied) => diff(applied, &desired),
            None => render::replace(&desired),
        };
        if script.is_empty() {
            return Ok(script);
        }
        match self.backend.apply(script.as_str()) {
            Ok(()) => {
                self.applied = Some(desired);
                Ok(script)
            }
            Err(error) => {
                self.applied = None;
                Err(error)
            }
        }
    }

    /// The table as last applied, if the kernel is known to hold it.
    pub fn applied(&self) -> Option<&Table> {
        self.applied.as_ref()
    }

    /// Makes the next sync replace the whole table, e.g. after someone else touched it.
    pub fn forget(&mut self) {
        self.applied = None;
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    pub fn backend_mut(&mut self) -> &mut B {
        &mut self.backend
    }

    pub fn into_backend(self) -> B {
        self.backend
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::RecordingBackend;
    use crate::model::{Family, Set};

    fn table_with(ips: &[&str]) -> Table {
        let mut table = Table::new(Family::Inet, "podnet-node");
        let set = table.add_set(Set::new("ips", "ipv4_addr"));
        for ip in ips {
            set.insert(*ip);
        }
        table
    }

    #[test]
    fn first_sync_replaces_then_syncs_apply_diffs_and_unchanged_applies_nothing() {
        let mut sync = TableSync::new(RecordingBackend::new());
        sync.sync(table_with(&["10.0.0.1"])).unwrap();
        sync.sync(table_with(&["10.0.0.1", "10.0.0.2"])).unwrap();
        let unchanged = sync.sync(table_with(&["10.0.0.1", "10.0.0.2"])).unwrap();
        assert!(unchanged.is_empty());
        let applied = &sync.backend().applied;
        assert_eq!(applied.len(), 2);
        assert_eq!(applied[0], table_with(&["10.0.0.1"]).render_replace());
        assert_eq!(
            applied[1],
            "add table inet podnet-node\nadd element inet podnet-node ips { 10.0.0.2 }\n"
        );
        assert_eq!(sync.applied(), Some(&table_with(&["10.0.0.1", "10.0.0.2"])));
    }

    #[test]
    fn a_failed_apply_makes_the_next_sync_a_full_replace() {
        let mut sync = TableSync::new(RecordingBackend::new());
        sync.sync(table_with(&["10.0.0.1"])).unwrap();
        sync.backend_mut().reject_next("Error: nope");
        assert!(sync.sync(table_with(&["10.0.0.2"])).is_err());
        assert_eq!(sync.applied(), None);
        sync.sync(table_with(&["10.0.0.2"])).unwrap();
        let backend = sync.into_backend();
        assert_eq!(
            backend.applied.last().unwrap(),
            &table_with(&["10.0.0.2"]).render_replace()
        );
    }

    #[test]
    fn forget_forces_a_replace() {
        let mut sync = TableSync::new(RecordingBackend::new());
        sync.sync(table_with(&["10.0.0.1"])).unwrap();
        sync.forget();
        sync.sync(table_with(&["10.0.0.1"])).unwrap();
        assert_eq!(sync.backend().applied.len(), 2);
        assert_eq!(sync.backend().applied[0], sync.backend().applied[1]);
    }
}
