//! The records a store hands out: values, change events and list pages.

/// One key's value at one revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Vec<u8>,
    /// The revision that created the key (stays the same across updates; a
    /// key deleted and created again gets a new one).
    pub create_revision: i64,
    /// The revision of the write that produced this value: Kubernetes'
    /// `resourceVersion` of the object.
    pub mod_revision: i64,
}

/// One committed change of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A create (`prev` is `None`) or an update (`prev` is the value it replaced).
    Put {
        kv: KeyValue,
        prev: Option<KeyValue>,
    },
    /// A deletion at `revision`; `prev` is the last value before it.
    Delete {
        key: String,
        revision: i64,
        prev: KeyValue,
    },
}

impl Event {
    /// The revision of the write this event reports.
    pub fn revision(&self) -> i64 {
        match self {
            Event::Put { kv, .. } => kv.mod_revision,
            Event::Delete { revision, .. } => *revision,
        }
    }

    pub fn key(&self) -> &str {
        match self {
            Event::Put { kv, .. } => &kv.key,
            Event::Delete { key, .. } => key,
        }
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListResult {
    /// Ascending by key.
    pub kvs: Vec<KeyValue>,
    /// The revision the page is consistent at: the one asked for, or the
    /// current revision when the list asked for none. Later pages pass it
    /// back so that every page shows the same snapshot.
    pub revision: i64,
    /// More keys with the prefix follow the last one returned.
    pub more: bool,
}
