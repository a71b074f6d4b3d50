//! What the proxy knows, and which Services changed since the last sync.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;

use crate::SERVICE_NAME_LABEL;

/// namespace/name of a Service (or of an EndpointSlice).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ObjectKey {
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub fn new(namespace: &str, name: &str) -> ObjectKey {
        ObjectKey {
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }
}

/// What the proxy knows: Services and EndpointSlices, kept by namespace/name.
///
/// Every change records the Service it affects (a slice affects the Service its
/// `kubernetes.io/service-name` label names, before and after the change), so that a
/// sync recompiles only those.
#[derive(Debug, Default, Clone)]
pub struct ServiceState {
    services: BTreeMap<ObjectKey, Service>,
    slices: BTreeMap<ObjectKey, EndpointSlice>,
    /// Service key -> names of the slices labelled with it (same namespace).
    slices_by_service: BTreeMap<ObjectKey, BTreeSet<String>>,
    touched: BTreeSet<ObjectKey>,
}

fn object_key(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> ObjectKey {
    ObjectKey::new(
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default(),
    )
}

fn owning_service(slice: &EndpointSlice) -> Option<ObjectKey> {
    let service = slice.metadata.labels.as_ref()?.get(SERVICE_NAME_LABEL)?;
    Some(ObjectKey::new(
        slice.metadata.namespace.as_deref().unwrap_or_default(),
        service,
    ))
}

impl ServiceState {
    /// Inserts or replaces the Service (keyed by its metadata namespace/name).
    pub fn apply_service(&mut self, service: Service) {
        let key = object_key(&service.metadata);
        self.touched.insert(key.clone());
        self.services.insert(key, service);
    }

    pub fn delete_service(&mut self, namespace: &str, name: &str) {
        let key = ObjectKey::new(namespace, name);
        self.services.remove(&key);
        self.touched.insert(key);
    }

    /// Inserts or replaces the EndpointSlice (keyed by its metadata namespace/name).
    pub fn apply_slice(&mut self, slice: EndpointSlice) {
        let key = object_key(&slice.metadata);
        self.unlink_slice(&key);
        if let Some(service) = owning_service(&slice) {
            self.slices_by_service
                .entry(service.clone())
                .or_default()
                .insert(key.name.clone());
            self.touched.insert(service);
        }
        self.slices.insert(key, slice);
    }

    pub fn delete_slice(&mut self, namespace: &str, name: &str) {
        let key = ObjectKey::new(namespace, name);
        self.unlink_slice(&key);
        self.slices.remove(&key);
    }

    /// Forgets the slice's link to its Service and marks that Service touched.
    fn unlink_slice(&mut self, key: &ObjectKey) {
        let Some(service) = self.slices.get(key).and_then(owning_service) else {
            return;
        };
        if let Some(names) = self.slices_by_service.get_mut(&service) {
            names.remove(&key.name);
            if names.is_empty() {
                self.slices_by_service.remove(&service);
            }
        }
        self.touched.insert(service);
    }

    /// Replaces every Service with `all` (after a relist): those not in it are deleted.
    pub fn replace_services(&mut self, all: Vec<Service>) {
        let listed: BTreeSet<ObjectKey> = all.iter().map(|s| object_key(&s.metadata)).collect();
        let gone: Vec<ObjectKey> = self
            .services
            .keys()
            .filter(|key| !listed.contains(*key))
            .cloned()
            .collect();
        for key in gone {
            self.delete_service(&key.namespace, &key.name);
        }
        for service in all {
            self.apply_service(service);
        }
    }

    /// Replaces every EndpointSlice with `all` (after a relist).
    pub fn replace_slices(&mut self, all: Vec<EndpointSlice>) {
        let listed: BTreeSet<ObjectKey> = all.iter().map(|s| object_key(&s.metadata)).collect();
        let gone: Vec<ObjectKey> = self
            .slices
            .keys()
            .filter(|key| !listed.contains(*key))
            .cloned()
            .collect();
        for key in gone {
            self.delete_slice(&key.namespace, &key.name);
        }
        for slice in all {
            self.apply_slice(slice);
        }
    }

    /// The EndpointSlices labelled with the Service `namespace/name`, in name order.
    pub fn slices_of_service(&self, namespace: &str, name: &str) -> Vec<&EndpointSlice> {
        self.slices_of(&ObjectKey::new(namespace, name))
    }

    pub fn services(&self) -> impl Iterator<Item = &Service> {
        self.services.values()
    }

    pub fn service(&self, namespace: &str, name: &str) -> Option<&Service> {
        self.services.get(&ObjectKey::new(namespace, name))
    }

    pub(crate) fn service_by_key(&self, key: &ObjectKey) -> Option<&Service> {
        self.services.get(key)
    }

    pub(crate) fn service_keys(&self) -> impl Iterator<Item = &ObjectKey> {
        self.services.keys()
    }

    /// The slices labelled with this Service, in name order.
    pub(crate) fn slices_of(&self, service: &ObjectKey) -> Vec<&EndpointSlice> {
        let Some(names) = self.slices_by_service.get(service) else {
            return Vec::new();
        };
        names
            .iter()
            .filter_map(|name| self.slices.get(&ObjectKey::new(&service.namespace, name)))
            .collect()
    }

    /// Services changed since the last call, and forgets them.
    pub(crate) fn take_touched(&mut self) -> BTreeSet<ObjectKey> {
        std::mem::take(&mut self.touched)
    }

    pub(crate) fn clear_touched(&mut self) {
        self.touched.clear();
    }
}
