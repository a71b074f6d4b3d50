//! Watch fan-out: committed events go from the writer thread to every
//! matching watcher's bounded channel, after a replay of the log for
//! watchers that start in the past.
//!
//! A watcher that falls behind never blocks the writer: when its channel is
//! full the hub drops its sender, so the stream ends after the events already
//! queued, and the client watches again from the last revision it saw.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::mpsc::{self, Receiver, Sender};

use crate::error::StoreError;
use crate::kv::Event;
use crate::sqlite::read::{Readers, Snapshot};

/// Events read from the log per read transaction during a replay.
const REPLAY_PAGE: usize = 1000;

struct LiveWatcher {
    prefix: String,
    /// Events at or below this revision reached the watcher another way
    /// (the replay, or the list the caller watched from).
    after: i64,
    sender: Sender<Event>,
}

struct HubState {
    /// The revision of the last batch handed to watchers.
    published: i64,
    watchers: Vec<LiveWatcher>,
    /// The writer has stopped: no more events will come.
    closed: bool,
}

pub(crate) struct WatchHub {
    state: Mutex<HubState>,
}

/// What a new watcher still needs before it is live.
pub(crate) enum Registration {
    /// The caller's channel receives live events; nothing to replay.
    Live,
    /// Events in (after, `through`] must be replayed from the log into
    /// `out`; live events after `through` wait in `live`.
    Replay {
        out: Sender<Event>,
        through: i64,
        live: Receiver<Event>,
    },
}

impl WatchHub {
    pub(crate) fn new(published: i64) -> Self {
        WatchHub {
            state: Mutex::new(HubState {
                published,
                watchers: Vec::new(),
                closed: false,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HubState> {
        // Publishing does not panic half-way through a change of the state;
        // a poisoned lock still guards consistent data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn register(
        &self,
        prefix: &str,
        after: i64,
        out: Sender<Event>,
        buffer: usize,
    ) -> Registration {
        let mut state = self.lock();
        if state.closed {
            // Dropping `out` ends the stream at once.
            return Registration::Live;
        }
        state.watchers.retain(|watcher| !watcher.sender.is_closed());
        if after >= state.published {
            state.watchers.push(LiveWatcher {
                prefix: prefix.to_owned(),
                after,
                sender: out,
            });
            return Registration::Live;
        }
        let through = state.published;
        let (sender, live) = mpsc::channel(buffer);
        state.watchers.push(LiveWatcher {
            prefix: prefix.to_owned(),
            after: through,
            sender,
        });
        Registration::Replay { out, through, live }
    }

    /// Hands a committed batch to the watchers. `revision` is the current
    /// revision after the batch. Called by the writer only, in commit order.
    pub(crate) fn publish(&self, events: &[Event], revision: i64) {
        let mut state = self.lock();
        state.published = revision;
        state.watchers.retain(|watcher| {
            if watcher.sender.is_closed() {
                return false;
            }
            events
                .iter()
                .filter(|event| {
                    event.revision() > watcher.after && event.key().starts_with(&watcher.prefix)
                })
                // Full or closed: either way this watcher's stream ends here.
                .all(|event| watcher.sender.try_send(event.clone()).is_ok())
        });
    }

    /// Ends every stream: the writer has stopped.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.watchers.clear();
    }
}

/// Sends the events in (`after`, `through`] from the log, then the live
/// events, to `out`. Ends the stream when the log cannot be read (compacted
/// meanwhile, or a backend failure): the client's next watch reports why.
pub(crate) async fn replay_then_forward(
    readers: Arc<Readers>,
    prefix: String,
    mut after: i64,
    through: i64,
    out: Sender<Event>,
    mut live: Receiver<Event>,
) {
    while after < through {
        let readers = readers.clone();
        let page_prefix = prefix.clone();
        let page = tokio::task::spawn_blocking(move || {
            readers.with(|conn| {
                Snapshot::begin(conn)?.events(&page_prefix, after, through, REPLAY_PAGE)
            })
        })
        .await
        .map_err(|error| StoreError::backend("reading a replay page", error))
        .and_then(|page| page);
        let Ok((events, read_through)) = page else {
            return;
        };
        for event in events {
            if out.send(event).await.is_err() {
                return;
            }
        }
        after = read_through;
    }
    while let Some(event) = live.recv().await {
        if out.send(event).await.is_err() {
            return;
        }
    }
}
