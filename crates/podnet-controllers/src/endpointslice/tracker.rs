//! What this controller last wrote to each slice, so a reconcile can tell
//! when its cache has not seen those writes yet. Acting on such a cache
//! would create a slice twice or undo an update; Kubernetes' controller
//! keeps the same kind of tracker.

use std::collections::HashMap;

use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::ResourceExt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expected {
    /// The slice exists with at least this generation.
    Generation(i64),
    Deleted,
}

/// Expectations by slice uid, each with the Service (namespace/name) it is for.
#[derive(Debug, Default)]
pub struct SliceTracker {
    expected: HashMap<String, (String, Expected)>,
}

fn generation(slice: &EndpointSlice) -> i64 {
    slice.metadata.generation.unwrap_or(0)
}

impl SliceTracker {
    /// Notes a slice as the server returned it after a create or update.
    pub fn written(&mut self, service: &str, slice: &EndpointSlice) {
        if let Some(uid) = slice.uid() {
            self.expected.insert(
                uid,
                (service.to_string(), Expected::Generation(generation(slice))),
            );
        }
    }

    /// Notes a slice this controller deleted.
    pub fn deleted(&mut self, service: &str, slice: &EndpointSlice) {
        if let Some(uid) = slice.uid() {
            self.expected
                .insert(uid, (service.to_string(), Expected::Deleted));
        }
    }

    /// Takes in a slice as the watch delivered it. Returns whether it is the
    /// controller's own write coming back (nothing to reconcile for it).
    pub fn observe_applied(&mut self, slice: &EndpointSlice) -> bool {
        let Some(uid) = slice.uid() else {
            return false;
        };
        match self.expected.get(&uid) {
            Some((_, Expected::Generation(g))) if generation(slice) >= *g => {
                self.expected.remove(&uid);
                true
            }
            _ => false,
        }
    }

    /// Takes in a deletion the watch delivered; returns whether this
    /// controller made it.
    pub fn observe_deleted(&mut self, slice: &EndpointSlice) -> bool {
        let Some(uid) = slice.uid() else {
            return false;
        };
        matches!(self.expected.remove(&uid), Some((_, Expected::Deleted)))
    }

    /// Forgets everything, after a fresh list has replaced the cache.
    pub fn reset(&mut self) {
        self.expected.clear();
    }

    /// Whether the cached slices of `service` lag behind this controller's
    /// writes: a written slice missing or older, or a deleted one still there.
    pub fn is_stale(&self, service: &str, cached: &[&EndpointSlice]) -> bool {
        self.expected
            .iter()
            .filter(|(_, (owner, _))| owner == service)
            .any(|(uid, (_, expected))| {
                let found = cached
                    .iter()
                    .find(|s| s.uid().as_deref() == Some(uid.as_str()));
                match (expected, found) {
                    (Expected::Generation(g), Some(slice)) => generation(slice) < *g,
                    (Expected::Generation(_), None) => true,
                    (Expected::Deleted, found) => found.is_some(),
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(uid: &str, generation: i64) -> EndpointSlice {
        let mut s = EndpointSlice::default();
        s.metadata.uid = Some(uid.into());
        s.metadata.generation = Some(generation);
        s
    }

    #[test]
    fn a_cache_without_a_created_slice_is_stale_until_the_watch_brings_it() {
        let mut t = SliceTracker::default();
        t.written("ns/web", &slice("a", 1));
        assert!(t.is_stale("ns/web", &[]));
        assert!(!t.is_stale("ns/other", &[]));
        assert!(t.observe_applied(&slice("a", 1)));
        assert!(!t.is_stale("ns/web", &[]));
    }

    #[test]
    fn an_older_generation_is_stale_and_someone_elses_change_is_not_ours() {
        let mut t = SliceTracker::default();
        t.written("ns/web", &slice("a", 3));
        assert!(t.is_stale("ns/web", &[&slice("a", 2)]));
        assert!(!t.is_stale("ns/web", &[&slice("a", 3)]));
        assert!(!t.observe_applied(&slice("a", 2)));
        assert!(t.observe_applied(&slice("a", 4)));
        assert!(!t.observe_applied(&slice("a", 5)));
    }

    #[test]
    fn a_deleted_slice_still_cached_is_stale() {
        let mut t = SliceTracker::default();
        let s = slice("a", 1);
        t.deleted("ns/web", &s);
        assert!(t.is_stale("ns/web", &[&s]));
        assert!(!t.is_stale("ns/web", &[]));
        assert!(t.observe_deleted(&s));
        assert!(!t.observe_deleted(&s));
    }
}
