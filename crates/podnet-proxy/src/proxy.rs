//! The sync loop's engine: state, incremental compile, atomic apply.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use podnet_nft::{Backend, ElementBatch, ElementError, ElementSocket, Family, Set, SetFlag, Table};

use crate::compile::{delta_tables, Assembly, Delta};
use crate::state::ServiceState;
use crate::{Program, ProxyConfig, UdpTarget, TABLE};

/// Why a sync or removal failed. The kernel is then not trusted: the next sync replaces
/// the whole table.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("replacing table inet {TABLE}: {0}")]
    Replace(#[source] podnet_nft::Error),
    #[error("applying changes to table inet {TABLE}: {0}")]
    Update(#[source] podnet_nft::Error),
    #[error("applying element changes to table inet {TABLE} over netlink: {0}")]
    Elements(#[source] ElementError),
    #[error("deleting table inet {TABLE}: {0}")]
    Remove(#[source] podnet_nft::Error),
}

/// What one sync did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncReport {
    pub duration: Duration,
    /// The whole table was replaced.
    pub full: bool,
    /// nft commands (or netlink element operations) applied; 0 when nothing changed.
    pub commands: usize,
    /// UDP targets that were in the previous program and are not now.
    pub stale_udp: Vec<UdpTarget>,
}

/// Keeps `inet podnet-proxy` in the kernel equal to the compiled program of its state.
pub struct ServiceProxy<B: Backend> {
    backend: B,
    state: ServiceState,
    assembly: Assembly,
    /// The kernel holds `assembly.program`; false before the first sync, after a failed
    /// apply and when a full sync was asked for.
    in_sync: bool,
    netlink_elements: bool,
    /// Kept open between syncs: closing a socket that committed waits for an RCU grace
    /// period. Dropped after a failed batch, which may leave replies unread.
    netlink_socket: Option<ElementSocket>,
    /// The table is probably absent (nothing applied yet, or removed): a full sync first
    /// tries to create it empty and fill it over netlink.
    maybe_absent: bool,
    /// UDP targets that may still be in the kernel although the program no longer has
    /// them: left by a failed apply, reported after the next successful full sync.
    unreported_udp: BTreeSet<UdpTarget>,
    /// The next full sync rewrites every chain and set in place instead of replacing
    /// the table, so that clients recorded in session affinity sets stay.
    refresh: bool,
}

impl<B: Backend> ServiceProxy<B> {
    pub fn new(config: ProxyConfig, backend: B) -> Self {
        let state = ServiceState::default();
        let assembly = Assembly::build(&state, &config);
        ServiceProxy {
            backend,
            state,
            assembly,
            in_sync: false,
            netlink_elements: false,
            netlink_socket: None,
            maybe_absent: true,
            unreported_udp: BTreeSet::new(),
            refresh: false,
        }
    }

    /// Sends changes that touch only elements straight over nf_tables netlink instead of
    /// through the backend: well under a millisecond instead of an `nft` run that reads
    /// the whole table's chains first. The batches go to the network namespace of the
    /// thread that makes the first netlink sync after enabling (the socket stays open),
    /// so enable it only when the backend works on that same namespace.
    pub fn set_netlink_elements(&mut self, enabled: bool) {
        self.netlink_elements = enabled;
        self.netlink_socket = None;
    }

    /// Changes are tracked: only touched Services recompile.
    pub fn state_mut(&mut self) -> &mut ServiceState {
        &mut self.state
    }

    pub fn state(&self) -> &ServiceState {
        &self.state
    }

    /// E.g. cluster CIDRs learned late: the next sync recompiles everything.
    pub fn set_config(&mut self, config: ProxyConfig) {
        if &config != self.assembly.config() {
            // Flows to targets the new program drops are still reported.
            let previous = std::mem::take(&mut self.assembly.program.udp_targets);
            self.unreported_udp.extend(previous);
            self.assembly = Assembly::build(&self.state, &config);
            self.in_sync = false;
        }
    }

    pub fn config(&self) -> &ProxyConfig {
        self.assembly.config()
    }

    /// The next sync replaces the whole table.
    pub fn force_full_sync(&mut self) {
        self.in_sync = false;
        self.refresh = false;
    }

    /// The slow timer's drift repair: the next sync rewrites every chain's rules and
    /// every set's elements from the program in one transaction, keeping what session
    /// affinity recorded (a replace would send every client to a new endpoint). Chains
    /// and sets somebody else added to the table stay; a failed refresh is followed by a
    /// full replace. Without a successful sync before, the next sync replaces anyway.
    pub fn refresh_on_next_sync(&mut self) {
        if self.in_sync && !self.maybe_absent {
            self.in_sync = false;
            self.refresh = true;
        }
    }

    /// The last compiled program: what the kernel holds after a successful sync, and what
    /// the next sync will put there otherwise.
    pub fn program(&self) -> &Program {
        &self.assembly.program
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    pub fn backend_mut(&mut self) -> &mut B {
        &mut self.backend
    }

    /// Applies what changed since the last sync as one transaction (a full replace the
    /// first time and after `force_full_sync`/a failed apply). Never lists the kernel table.
    pub fn sync(&mut self) -> Result<SyncReport, Error> {
        let started = Instant::now();
        if !self.in_sync {
            return self.full_sync(started);
        }
        let touched = self.state.take_touched();
        let delta = self.assembly.update(&self.state, &touched);
        if delta.recreates_chains() {
            self.unreported_udp.extend(delta.stale_udp);
            self.in_sync = false;
            return self.full_sync(started);
        }
        let result = self.apply_delta(&delta);
        match result {
            Ok(commands) => {
                tracing::debug!(services = touched.len(), commands, "proxy sync");
                Ok(SyncReport {
                    duration: started.elapsed(),
                    full: false,
                    commands,
                    stale_udp: delta.stale_udp,
                })
            }
            Err(error) => {
                self.in_sync = false;
                self.unreported_udp.extend(delta.stale_udp);
                Err(error)
            }
        }
    }

    fn full_sync(&mut self, started: Instant) -> Result<SyncReport, Error> {
        let mut previous_udp = std::mem::take(&mut self.assembly.program.udp_targets);
        previous_udp.append(&mut self.unreported_udp);
        self.state.clear_touched();
        self.assembly = Assembly::build(&self.state, self.assembly.config());
        if let Err(error) = self.replace_table() {
            self.unreported_udp = previous_udp;
            return Err(error);
        }
        self.maybe_absent = false;
        self.in_sync = true;
        let stale_udp = previous_udp
            .difference(&self.assembly.program.udp_targets)
            .cloned()
            .collect();
        tracing::debug!(
            services = self.assembly.program.stats.services,
            "proxy table replaced"
        );
        Ok(SyncReport {
            duration: started.elapsed(),
            full: true,
            commands: 1,
            stale_udp,
        })
    }

    fn replace_table(&mut self) -> Result<(), Error> {
        if std::mem::take(&mut self.refresh) {
            let script = self
                .assembly
                .program
                .table
                .render_refresh(|set| set.flags.contains(&SetFlag::Dynamic));
            return self.backend.apply(&script).map_err(Error::Replace);
        }
        if !(self.netlink_elements && self.maybe_absent && self.create_and_fill()?) {
            let script = self.assembly.program.table.render_replace();
            self.backend.apply(&script).map_err(Error::Replace)?;
        }
        Ok(())
    }

    /// Creates the table with its structure only (`create table` fails when the table
    /// exists: false, nothing changed), then adds the elements as one netlink batch, far
    /// faster than nft parsing them. Until the batch lands the table's maps are empty,
    /// which only lets packets pass untouched, as before the table existed.
    fn create_and_fill(&mut self) -> Result<bool, Error> {
        let table = &self.assembly.program.table;
        let mut structure = Table::new(table.family, table.name.clone());
        let mut batch = ElementBatch::new(table.family, &table.name);
        for chain in table.chains.values() {
            structure.add_chain(chain.clone());
        }
        for set in table.sets.values() {
            // The batch does not encode intervals; nft adds those few elements.
            let by_nft = set.flags.contains(&SetFlag::Interval);
            structure.add_set(Set {
                name: set.name.clone(),
                key: set.key.clone(),
                value: set.value.clone(),
                flags: set.flags.clone(),
                timeout: set.timeout,
                elements: if by_nft {
                    set.elements.clone()
                } else {
                    Default::default()
                },
                comment: set.comment.clone(),
            });
            if by_nft || set.elements.is_empty() {
                continue;
            }
            let elements: Vec<(String, Option<String>)> = set
                .elements
                .iter()
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect();
            if let Err(error) = batch.add(set, &elements) {
                tracing::debug!(%error, "elements not encodable over netlink, replacing");
                return Ok(false);
            }
        }
        let script = format!(
            "create table {} {}\n{}",
            table.family,
            table.name,
            structure.render_ensure()
        );
        if let Err(error) = self.backend.apply(&script) {
            tracing::debug!(%error, "table not created, replacing it");
            return Ok(false);
        }
        let socket = match self.netlink_socket.take() {
            Some(socket) => socket,
            None => ElementSocket::open().map_err(Error::Elements)?,
        };
        batch.commit_on(&socket).map_err(Error::Elements)?;
        self.netlink_socket = Some(socket);
        Ok(true)
    }

    fn apply_delta(&mut self, delta: &Delta) -> Result<usize, Error> {
        if self.netlink_elements && delta.is_element_only() {
            if let Some(batch) = element_batch(delta, &self.assembly.program.table) {
                let operations = batch.operations();
                let socket = match self.netlink_socket.take() {
                    Some(socket) => socket,
                    None => ElementSocket::open().map_err(Error::Elements)?,
                };
                batch.batch.commit_on(&socket).map_err(Error::Elements)?;
                self.netlink_socket = Some(socket);
                return Ok(operations);
            }
        }
        let (old, new) = delta_tables(delta, &self.assembly.program.table);
        let script = podnet_nft::diff(&old, &new);
        if script.is_empty() {
            return Ok(0);
        }
        self.backend.apply(script.as_str()).map_err(Error::Update)?;
        Ok(script.commands())
    }

    /// Deletes the table (agent shutdown in add-on mode, `podnet down`).
    pub fn remove(&mut self) -> Result<(), Error> {
        self.in_sync = false;
        self.maybe_absent = true;
        self.backend
            .apply(&Table::render_delete(Family::Inet, TABLE))
            .map_err(Error::Remove)
    }
}

/// The netlink batch for an element-only delta: removals (with the values the kernel
/// has) before additions. `None` when an element is outside what the batch encodes.
struct Batch {
    batch: ElementBatch,
    operations: usize,
}

impl Batch {
    fn operations(&self) -> usize {
        self.operations
    }
}

fn element_batch(delta: &Delta, table: &Table) -> Option<Batch> {
    let mut removals: std::collections::BTreeMap<&str, Vec<(String, Option<String>)>> =
        Default::default();
    let mut additions: std::collections::BTreeMap<&str, Vec<(String, Option<String>)>> =
        Default::default();
    for ((set, key), (before, after)) in &delta.elements {
        if before == after {
            continue;
        }
        if let Some(value) = before {
            removals
                .entry(set.as_str())
                .or_default()
                .push((key.clone(), value.clone()));
        }
        if let Some(value) = after {
            additions
                .entry(set.as_str())
                .or_default()
                .push((key.clone(), value.clone()));
        }
    }
    let mut batch = ElementBatch::new(Family::Inet, TABLE);
    let mut operations = 0;
    for (set, elements) in &removals {
        batch.remove(table.sets.get(*set)?, elements).ok()?;
        operations += elements.len();
    }
    for (set, elements) in &additions {
        batch.add(table.sets.get(*set)?, elements).ok()?;
        operations += elements.len();
    }
    Some(Batch { batch, operations })
}
