//! From the wanted endpoints and the slices that exist to the slice writes,
//! with as little churn as Kubernetes' EndpointSlice reconciler: endpoints
//! change in place in the slice that holds them, new endpoints fill slices
//! that are written anyway (fullest first), then the unchanged slice they
//! fit best, and only then new slices; a slice that would be deleted while
//! another is created is rewritten instead. A Service without endpoints
//! keeps one empty placeholder slice per address type.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::{EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::ResourceExt;

use super::desired::{
    address_types, desired_endpoints, has_cluster_ip, AddressType, EndpointKey, PortGroup, PortKey,
    CONTROLLER_NAME, LABEL_HEADLESS, LABEL_MANAGED_BY, LABEL_SERVICE_NAME,
};

/// Kubernetes' default limit of endpoints per slice.
pub const DEFAULT_MAX_ENDPOINTS_PER_SLICE: usize = 100;

/// The writes that bring a Service's slices to what is wanted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SlicePlan {
    /// New slices (named by `generateName`).
    pub create: Vec<EndpointSlice>,
    /// Existing slices with new content (name and resourceVersion kept).
    pub update: Vec<EndpointSlice>,
    pub delete: Vec<EndpointSlice>,
    /// Pods left out because their node is unknown.
    pub missing_nodes: Vec<String>,
}

impl SlicePlan {
    pub fn is_empty(&self) -> bool {
        self.create.is_empty() && self.update.is_empty() && self.delete.is_empty()
    }

    fn extend(&mut self, other: SlicePlan) {
        self.create.extend(other.create);
        self.update.extend(other.update);
        self.delete.extend(other.delete);
        self.missing_nodes.extend(other.missing_nodes);
    }
}

fn is_reserved_label(key: &str) -> bool {
    key == LABEL_SERVICE_NAME || key == LABEL_MANAGED_BY || key == LABEL_HEADLESS
}

/// The labels of a Service's slices: the Service's own (but the reserved
/// ones), the Service name, the managing controller, and the headless mark.
pub fn slice_labels(service: &Service) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = service
        .labels()
        .iter()
        .filter(|(k, _)| !is_reserved_label(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !has_cluster_ip(service) {
        labels.insert(LABEL_HEADLESS.into(), String::new());
    }
    labels.insert(LABEL_SERVICE_NAME.into(), service.name_any());
    labels.insert(LABEL_MANAGED_BY.into(), CONTROLLER_NAME.into());
    labels
}

/// The controller reference from a slice to its Service.
pub fn service_owner(service: &Service) -> OwnerReference {
    OwnerReference {
        api_version: "v1".into(),
        kind: "Service".into(),
        name: service.name_any(),
        uid: service.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Whether the slice belongs to this very Service (not an earlier one of the same name).
pub fn owned_by(slice: &EndpointSlice, service: &Service) -> bool {
    let uid = service.uid().unwrap_or_default();
    slice
        .owner_references()
        .iter()
        .any(|o| o.uid == uid && o.kind == "Service" && o.api_version == "v1")
}

/// A new, empty slice for `service` with `ports`.
pub fn new_slice(
    service: &Service,
    ports: Vec<EndpointPort>,
    address_type: AddressType,
) -> EndpointSlice {
    EndpointSlice {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", service.name_any())),
            namespace: service.namespace(),
            labels: Some(slice_labels(service)),
            owner_references: Some(vec![service_owner(service)]),
            ..ObjectMeta::default()
        },
        address_type: address_type.as_str().into(),
        endpoints: Vec::new(),
        ports: Some(ports),
    }
}

fn ports_of(slice: &EndpointSlice) -> &[EndpointPort] {
    slice.ports.as_deref().unwrap_or(&[])
}

/// Whether `slice` already is the placeholder Kubernetes would write.
fn is_placeholder_like(slice: &EndpointSlice, placeholder: &EndpointSlice) -> bool {
    slice.metadata.namespace == placeholder.metadata.namespace
        && slice.labels() == placeholder.labels()
        && slice.endpoints.is_empty()
        && ports_of(slice).is_empty()
        && slice.address_type == placeholder.address_type
}

/// Index of the unchanged slice that `count` more endpoints fill closest to
/// `max`, if any has the room.
fn slice_to_fill(slices: &[EndpointSlice], count: usize, max: usize) -> Option<usize> {
    let mut closest: Option<(usize, usize)> = None;
    for (i, slice) in slices.iter().enumerate() {
        let Some(room_left) = max.checked_sub(count + slice.endpoints.len()) else {
            continue;
        };
        if room_left < closest.map_or(max, |(_, d)| d) {
            closest = Some((i, room_left));
            if room_left == 0 {
                break;
            }
        }
    }
    closest.map(|(i, _)| i)
}

/// Slices of one address type and one port set.
fn plan_port_group(
    service: &Service,
    address_type: AddressType,
    group: &PortGroup,
    existing: &[&EndpointSlice],
    max: usize,
) -> SlicePlan {
    let labels = slice_labels(service);
    let mut remaining = group.endpoints.clone();
    let mut unchanged: Vec<EndpointSlice> = Vec::new();
    let mut update: Vec<EndpointSlice> = Vec::new();
    let mut delete: Vec<EndpointSlice> = Vec::new();

    // 1. Existing endpoints: kept (updated in place when they changed) or dropped.
    for slice in existing {
        let mut kept = Vec::with_capacity(slice.endpoints.len());
        let mut endpoint_changed = false;
        for endpoint in &slice.endpoints {
            if let Some(wanted) = remaining.remove(&EndpointKey::of(endpoint)) {
                endpoint_changed |= wanted != *endpoint;
                kept.push(wanted);
            }
        }
        let labels_changed = *slice.labels() != labels;
        if endpoint_changed || kept.len() != slice.endpoints.len() {
            if kept.is_empty() {
                delete.push((*slice).clone());
            } else {
                let mut changed = (*slice).clone();
                changed.endpoints = kept;
                changed.metadata.labels = Some(labels.clone());
                update.push(changed);
            }
        } else if labels_changed {
            let mut relabelled = (*slice).clone();
            relabelled.metadata.labels = Some(labels.clone());
            update.push(relabelled);
        } else {
            unchanged.push((*slice).clone());
        }
    }

    // 2. New endpoints go first into slices that are written anyway, fullest first.
    if !remaining.is_empty() {
        update.sort_by(|a, b| {
            b.endpoints
                .len()
                .cmp(&a.endpoints.len())
                .then_with(|| a.name_any().cmp(&b.name_any()))
        });
        for slice in &mut update {
            while slice.endpoints.len() < max {
                let Some((_, endpoint)) = remaining.pop_first() else {
                    break;
                };
                slice.endpoints.push(endpoint);
            }
        }
    }

    // 3. Then into the unchanged slice they fit best, then into new slices.
    let mut create = Vec::new();
    while !remaining.is_empty() {
        let reused = (remaining.len() < max)
            .then(|| slice_to_fill(&unchanged, remaining.len(), max))
            .flatten()
            .map(|i| unchanged.remove(i));
        let mut slice =
            reused.unwrap_or_else(|| new_slice(service, group.ports.clone(), address_type));
        while slice.endpoints.len() < max {
            let Some((_, endpoint)) = remaining.pop_first() else {
                break;
            };
            slice.endpoints.push(endpoint);
        }
        if slice.metadata.name.is_some() {
            update.push(slice);
        } else {
            create.push(slice);
        }
    }
    SlicePlan {
        create,
        update,
        delete,
        missing_nodes: Vec::new(),
    }
}

/// The writes for one address type of `service`.
fn plan_address_type(
    service: &Service,
    address_type: AddressType,
    groups: &BTreeMap<PortKey, PortGroup>,
    existing: &[&EndpointSlice],
    max: usize,
) -> SlicePlan {
    let mut plan = SlicePlan::default();
    let mut by_ports: BTreeMap<PortKey, Vec<&EndpointSlice>> = BTreeMap::new();
    for slice in existing {
        if owned_by(slice, service) {
            by_ports
                .entry(PortKey::of(ports_of(slice)))
                .or_default()
                .push(slice);
        } else {
            plan.delete.push((*slice).clone());
        }
    }
    for (key, group) in groups {
        let slices = by_ports.get(key).map(Vec::as_slice).unwrap_or(&[]);
        plan.extend(plan_port_group(service, address_type, group, slices, max));
    }
    for (key, slices) in &by_ports {
        if !groups.contains_key(key) {
            plan.delete.extend(slices.iter().map(|s| (*s).clone()));
        }
    }

    if existing.len() == plan.delete.len() && plan.create.is_empty() {
        let placeholder = new_slice(service, Vec::new(), address_type);
        if plan.delete.len() == 1 && is_placeholder_like(&plan.delete[0], &placeholder) {
            plan.delete.clear();
        } else {
            plan.create.push(placeholder);
        }
    }

    // A slice about to go while another is created is rewritten instead.
    let mut i = 0;
    while i < plan.delete.len() && !plan.create.is_empty() {
        let doomed = &plan.delete[i];
        if doomed.address_type == address_type.as_str() && owned_by(doomed, service) {
            let doomed = plan.delete.remove(i);
            let mut reused = plan.create.pop().expect("checked non-empty");
            reused.metadata.name = doomed.metadata.name;
            reused.metadata.generate_name = None;
            reused.metadata.resource_version = doomed.metadata.resource_version;
            reused.metadata.uid = doomed.metadata.uid;
            plan.update.push(reused);
        } else {
            i += 1;
        }
    }
    plan
}

/// The slice writes for `service` given its selected pods and its existing
/// slices (those labelled with its name and managed by this controller).
/// `node_of` finds a node by name. A Service being deleted gets no new slices.
pub fn plan_slices(
    service: &Service,
    pods: &[&Pod],
    node_of: impl Fn(&str) -> Option<Node>,
    existing: &[&EndpointSlice],
    max_per_slice: usize,
) -> SlicePlan {
    let types = address_types(service);
    let mut plan = SlicePlan::default();
    let mut by_type: BTreeMap<AddressType, Vec<&EndpointSlice>> = BTreeMap::new();
    for slice in existing {
        match AddressType::parse(&slice.address_type) {
            Some(t) if types.contains(&t) => by_type.entry(t).or_default().push(slice),
            _ => plan.delete.push((*slice).clone()),
        }
    }
    for address_type in types {
        let desired = desired_endpoints(service, pods.iter().copied(), &node_of, address_type);
        let slices = by_type.get(&address_type).map(Vec::as_slice).unwrap_or(&[]);
        let mut typed = plan_address_type(
            service,
            address_type,
            &desired.groups,
            slices,
            max_per_slice,
        );
        typed.missing_nodes = desired.missing_nodes;
        plan.extend(typed);
    }
    plan.missing_nodes.sort();
    plan.missing_nodes.dedup();
    if service.metadata.deletion_timestamp.is_some() {
        plan.create.clear();
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::super::desired::tests::{node_named, pod, port, service};
    use super::*;
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    /// Applies a plan the way the API server would, naming new slices.
    fn apply(existing: Vec<EndpointSlice>, plan: &SlicePlan) -> Vec<EndpointSlice> {
        let mut slices: BTreeMap<String, EndpointSlice> =
            existing.into_iter().map(|s| (s.name_any(), s)).collect();
        for gone in &plan.delete {
            slices.remove(&gone.name_any());
        }
        for changed in &plan.update {
            assert!(
                slices.contains_key(&changed.name_any()),
                "update of a slice that does not exist"
            );
            slices.insert(changed.name_any(), changed.clone());
        }
        for (i, new) in plan.create.iter().enumerate() {
            let mut created = new.clone();
            let name = format!(
                "{}{}-{}",
                new.metadata.generate_name.clone().expect("generateName"),
                slices.len(),
                i
            );
            created.metadata.name = Some(name.clone());
            created.metadata.uid = Some(format!("uid-{name}"));
            slices.insert(name, created);
        }
        slices.into_values().collect()
    }

    fn endpoint_names(slices: &[EndpointSlice]) -> Vec<String> {
        let mut names: Vec<String> = slices
            .iter()
            .flat_map(|s| &s.endpoints)
            .filter_map(|e| e.target_ref.as_ref().and_then(|t| t.name.clone()))
            .collect();
        names.sort();
        names
    }

    fn web_pods(count: usize) -> Vec<Pod> {
        (0..count)
            .map(|i| {
                pod(
                    &format!("web-{i:03}"),
                    &[("app", "web")],
                    &format!("10.244.{}.{}", i / 200, i % 200 + 2),
                    true,
                )
            })
            .collect()
    }

    fn plan_for(svc: &Service, pods: &[Pod], existing: &[EndpointSlice]) -> SlicePlan {
        let pods: Vec<&Pod> = pods.iter().collect();
        let existing: Vec<&EndpointSlice> = existing.iter().collect();
        plan_slices(
            svc,
            &pods,
            node_named,
            &existing,
            DEFAULT_MAX_ENDPOINTS_PER_SLICE,
        )
    }

    fn web_service() -> Service {
        service(
            "web",
            &[("app", "web")],
            vec![port("http", 80, IntOrString::String("http".into()))],
        )
    }

    #[test]
    fn a_new_service_gets_one_labelled_owned_slice() {
        let svc = web_service();
        let plan = plan_for(&svc, &web_pods(3), &[]);
        assert_eq!(plan.create.len(), 1);
        assert!(plan.update.is_empty() && plan.delete.is_empty());
        let slice = &plan.create[0];
        assert_eq!(slice.address_type, "IPv4");
        assert_eq!(slice.metadata.generate_name.as_deref(), Some("web-"));
        assert_eq!(slice.labels()[LABEL_SERVICE_NAME], "web");
        assert_eq!(slice.labels()[LABEL_MANAGED_BY], CONTROLLER_NAME);
        assert!(!slice.labels().contains_key(LABEL_HEADLESS));
        assert_eq!(slice.owner_references()[0], service_owner(&svc));
        assert_eq!(slice.owner_references()[0].controller, Some(true));
        assert_eq!(slice.endpoints.len(), 3);
        assert_eq!(ports_of(slice)[0].port, Some(8080));
    }

    #[test]
    fn more_than_a_hundred_endpoints_are_split_and_converge() {
        let svc = web_service();
        let pods = web_pods(250);
        let plan = plan_for(&svc, &pods, &[]);
        let sizes: Vec<usize> = plan.create.iter().map(|s| s.endpoints.len()).collect();
        assert_eq!(sizes, vec![100, 100, 50]);
        let slices = apply(Vec::new(), &plan);
        assert_eq!(endpoint_names(&slices).len(), 250);
        assert!(plan_for(&svc, &pods, &slices).is_empty());
    }

    #[test]
    fn a_readiness_change_updates_only_the_slice_holding_the_pod() {
        let svc = web_service();
        let mut pods = web_pods(150);
        let slices = apply(Vec::new(), &plan_for(&svc, &pods, &[]));
        pods[120] = pod("web-120", &[("app", "web")], "10.244.0.122", false);
        let plan = plan_for(&svc, &pods, &slices);
        assert!(plan.create.is_empty() && plan.delete.is_empty());
        assert_eq!(plan.update.len(), 1);
        let changed = plan.update[0]
            .endpoints
            .iter()
            .find(|e| e.target_ref.as_ref().and_then(|t| t.name.as_deref()) == Some("web-120"))
            .expect("the pod stays in its slice");
        let conditions = changed.conditions.as_ref().expect("conditions");
        assert_eq!(conditions.ready, Some(false));
        assert_eq!(conditions.serving, Some(false));
    }

    #[test]
    fn added_pods_fill_existing_room_before_new_slices() {
        let svc = web_service();
        let slices = apply(Vec::new(), &plan_for(&svc, &web_pods(130), &[]));
        let plan = plan_for(&svc, &web_pods(160), &slices);
        assert!(plan.create.is_empty(), "{:?}", plan.create.len());
        assert_eq!(plan.update.len(), 1);
        assert_eq!(plan.update[0].endpoints.len(), 60);
    }

    #[test]
    fn removed_pods_shrink_slices_and_an_emptied_slice_goes() {
        let svc = web_service();
        let pods = web_pods(150);
        let slices = apply(Vec::new(), &plan_for(&svc, &pods, &[]));
        let small = slices
            .iter()
            .find(|s| s.endpoints.len() == 50)
            .expect("a slice of 50");
        let leaving = endpoint_names(std::slice::from_ref(small));
        let staying: Vec<Pod> = pods
            .iter()
            .filter(|p| !leaving.contains(&p.name_any()))
            .cloned()
            .collect();
        let plan = plan_for(&svc, &staying, &slices);
        assert!(plan.create.is_empty() && plan.update.is_empty());
        assert_eq!(plan.delete.len(), 1);
        assert_eq!(plan.delete[0].name_any(), small.name_any());
        // One pod fewer in the big slice: that slice alone is rewritten.
        let remaining = apply(slices, &plan);
        let plan = plan_for(&svc, &staying[1..], &remaining);
        assert!(plan.create.is_empty() && plan.delete.is_empty());
        assert_eq!(plan.update.len(), 1);
        assert_eq!(plan.update[0].endpoints.len(), 99);
    }

    #[test]
    fn a_service_without_endpoints_keeps_one_placeholder() {
        let svc = web_service();
        let plan = plan_for(&svc, &[], &[]);
        assert_eq!(plan.create.len(), 1);
        assert!(plan.create[0].endpoints.is_empty());
        let slices = apply(Vec::new(), &plan);
        assert!(plan_for(&svc, &[], &slices).is_empty());
        // The placeholder becomes the first real slice instead of being replaced.
        let plan = plan_for(&svc, &web_pods(2), &slices);
        assert!(plan.create.is_empty() && plan.delete.is_empty());
        assert_eq!(plan.update.len(), 1);
        assert_eq!(plan.update[0].name_any(), slices[0].name_any());
        assert_eq!(plan.update[0].endpoints.len(), 2);
        assert_eq!(ports_of(&plan.update[0]).len(), 1);
        // And back to a placeholder when the pods go.
        let slices = apply(slices, &plan);
        let plan = plan_for(&svc, &[], &slices);
        assert!(plan.create.is_empty() && plan.delete.is_empty());
        assert!(plan.update[0].endpoints.is_empty());
        assert!(ports_of(&plan.update[0]).is_empty());
    }

    #[test]
    fn pods_without_a_named_port_get_a_slice_without_that_port() {
        let svc = web_service();
        let mut pods = web_pods(2);
        pods[1].spec.as_mut().expect("spec").containers[0].ports = None;
        let plan = plan_for(&svc, &pods, &[]);
        assert_eq!(plan.create.len(), 2);
        let mut shapes: Vec<(usize, usize)> = plan
            .create
            .iter()
            .map(|s| (ports_of(s).len(), s.endpoints.len()))
            .collect();
        shapes.sort();
        assert_eq!(shapes, vec![(0, 1), (1, 1)]);
    }

    #[test]
    fn changed_service_labels_relabel_the_slices() {
        let mut svc = web_service();
        let slices = apply(Vec::new(), &plan_for(&svc, &web_pods(2), &[]));
        svc.metadata.labels = Some([("team".to_string(), "shop".to_string())].into());
        let plan = plan_for(&svc, &web_pods(2), &slices);
        assert_eq!(plan.update.len(), 1);
        assert_eq!(plan.update[0].labels()["team"], "shop");
        assert_eq!(plan.update[0].endpoints, slices[0].endpoints);
    }

    #[test]
    fn headless_services_are_marked() {
        let mut svc = web_service();
        svc.spec.as_mut().expect("spec").cluster_ip = Some("None".into());
        let plan = plan_for(&svc, &web_pods(1), &[]);
        assert_eq!(plan.create[0].labels()[LABEL_HEADLESS], "");
    }

    #[test]
    fn slices_of_an_earlier_service_of_the_same_name_or_another_family_go() {
        let svc = web_service();
        let pods = web_pods(1);
        let mut slices = apply(Vec::new(), &plan_for(&svc, &pods, &[]));
        let mut stale = slices[0].clone();
        stale.metadata.name = Some("web-old".into());
        stale.metadata.owner_references = Some(vec![OwnerReference {
            uid: "an-earlier-uid".into(),
            ..service_owner(&svc)
        }]);
        let mut v6 = slices[0].clone();
        v6.metadata.name = Some("web-v6".into());
        v6.address_type = "IPv6".into();
        slices.push(stale);
        slices.push(v6);
        let plan = plan_for(&svc, &pods, &slices);
        let mut gone: Vec<String> = plan.delete.iter().map(|s| s.name_any()).collect();
        gone.sort();
        assert_eq!(gone, vec!["web-old", "web-v6"]);
        assert!(plan.create.is_empty() && plan.update.is_empty());
    }

    #[test]
    fn a_service_being_deleted_gets_no_new_slices() {
        let mut svc = web_service();
        svc.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::now(),
            ));
        assert!(plan_for(&svc, &web_pods(3), &[]).create.is_empty());
    }

    #[test]
    fn the_closest_fitting_unchanged_slice_is_chosen() {
        let with = |n: usize| {
            let mut s = new_slice(&web_service(), Vec::new(), AddressType::IPv4);
            s.endpoints = vec![Default::default(); n];
            s
        };
        let slices = [with(90), with(95), with(50)];
        assert_eq!(slice_to_fill(&slices, 5, 100), Some(1));
        assert_eq!(slice_to_fill(&slices, 10, 100), Some(0));
        assert_eq!(slice_to_fill(&slices, 60, 100), None);
    }
}
