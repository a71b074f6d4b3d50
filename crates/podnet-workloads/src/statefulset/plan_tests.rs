use super::*;
use crate::pods::test_pods::{at, ready_at, running, terminating, with_phase};
use k8s_openapi::api::apps::v1::{
    RollingUpdateStatefulSetStrategy, StatefulSetOrdinals, StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    Container, PersistentVolumeClaim, PodSpec, PodStatus, PodTemplateSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};

fn labels() -> BTreeMap<String, String> {
    [("app".to_string(), "web".to_string())].into()
}

fn template(image: &str) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels()),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "web".into(),
                image: Some(image.into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
    }
}

fn set(replicas: i32, policy: &str) -> StatefulSet {
    StatefulSet {
        metadata: ObjectMeta {
            name: Some("web".into()),
            namespace: Some("default".into()),
            uid: Some("set-uid".into()),
            generation: Some(1),
            resource_version: Some("1".into()),
            ..Default::default()
        },
        spec: Some(StatefulSetSpec {
            replicas: Some(replicas),
            selector: LabelSelector {
                match_labels: Some(labels()),
                ..Default::default()
            },
            service_name: Some("nginx".into()),
            template: template("nginx:1"),
            pod_management_policy: Some(policy.into()),
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some(UPDATE_ROLLING.into()),
                rolling_update: Some(RollingUpdateStatefulSetStrategy {
                    partition: Some(0),
                    max_unavailable: None,
                }),
            }),
            ..Default::default()
        }),
        status: None,
    }
}

/// A stand-in for the API server and kubelets: created pods are Pending
/// until the test makes them Ready; deleted pods go at once unless a test
/// keeps them terminating.
struct World {
    set: StatefulSet,
    pods: Vec<Pod>,
    clock: i64,
}

impl World {
    fn new(set: StatefulSet) -> World {
        World {
            set,
            pods: Vec::new(),
            clock: 0,
        }
    }

    fn plan(&self) -> StatefulSetPlan {
        plan(&self.set, &self.pods, at(self.clock)).unwrap()
    }

    fn step(&mut self) -> StatefulSetPlan {
        let plan = self.plan();
        for write in &plan.writes {
            match write {
                PodWrite::Create(pod) => {
                    let mut pod = (**pod).clone();
                    let name = pod.metadata.name.clone().unwrap();
                    assert!(self.find(&name).is_none(), "{name} exists");
                    pod.metadata.uid = Some(format!("uid-{name}-{}", self.clock));
                    pod.metadata.resource_version = Some("1".into());
                    pod.metadata.creation_timestamp = Some(Time(at(self.clock)));
                    pod.status = Some(PodStatus {
                        phase: Some(pods::PHASE_PENDING.into()),
                        ..Default::default()
                    });
                    self.pods.push(pod);
                }
                PodWrite::Delete { name, .. } => {
                    let index = self.find(name).expect("exists");
                    self.pods.remove(index);
                }
                PodWrite::Adopt(patch) | PodWrite::Release(patch) | PodWrite::Relabel(patch) => {
                    let index = self.find(&patch.name).expect("exists");
                    let meta = &mut self.pods[index].metadata;
                    if let Some(references) = patch.patch["metadata"].get("ownerReferences") {
                        meta.owner_references = serde_json::from_value(references.clone()).unwrap();
                    }
                    if let Some(labels) = patch.patch["metadata"]["labels"].as_object() {
                        for (k, v) in labels {
                            meta.labels
                                .get_or_insert_with(BTreeMap::new)
                                .insert(k.clone(), v.as_str().unwrap().into());
                        }
                    }
                }
            }
        }
        if let Some(status) = &plan.status {
            self.set.status = Some(status.clone());
        }
        plan
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.pods
            .iter()
            .position(|p| p.metadata.name.as_deref() == Some(name))
    }

    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .pods
            .iter()
            .map(|p| p.metadata.name.clone().unwrap())
            .collect();
        names.sort();
        names
    }

    fn make_ready(&mut self, name: &str) {
        let index = self.find(name).expect("exists");
        self.pods[index] = ready_at(self.pods[index].clone(), self.clock);
    }

    fn make_all_ready(&mut self) {
        for name in self.names() {
            self.make_ready(&name);
        }
    }

    /// Steps with every pod made Ready after each step until nothing changes.
    fn settle(&mut self) {
        for _ in 0..100 {
            self.make_all_ready();
            let plan = self.step();
            if plan.writes.is_empty() && plan.status.is_none() {
                return;
            }
        }
        panic!("the set did not settle");
    }

    fn status(&self) -> StatefulSetStatus {
        self.set.status.clone().unwrap_or_default()
    }

    fn set_template(&mut self, image: &str) {
        self.set.spec.as_mut().unwrap().template = template(image);
        self.set.metadata.generation = Some(self.set.metadata.generation.unwrap() + 1);
    }
}

fn created(plan: &StatefulSetPlan) -> Vec<String> {
    plan.writes
        .iter()
        .filter_map(|w| match w {
            PodWrite::Create(pod) => pod.metadata.name.clone(),
            _ => None,
        })
        .collect()
}

fn deleted(plan: &StatefulSetPlan) -> Vec<String> {
    plan.writes
        .iter()
        .filter_map(|w| match w {
            PodWrite::Delete { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn pod_names_parse_into_parent_and_ordinal() {
    assert_eq!(parent_and_ordinal("web-0"), Some(("web", 0)));
    assert_eq!(parent_and_ordinal("my-web-12"), Some(("my-web", 12)));
    assert_eq!(parent_and_ordinal("web-"), None);
    assert_eq!(parent_and_ordinal("web-x1"), None);
    assert_eq!(parent_and_ordinal("web"), None);
    assert_eq!(parent_and_ordinal("web-99999999999"), None);
}

#[test]
fn pods_get_a_stable_identity() {
    let mut set = set(3, POLICY_ORDERED_READY);
    set.spec.as_mut().unwrap().volume_claim_templates = Some(vec![PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some("data".into()),
            ..Default::default()
        },
        ..Default::default()
    }]);
    let pod = new_pod(&set, 2, "web-abc").unwrap();
    assert_eq!(pod.metadata.name.as_deref(), Some("web-2"));
    let labels = pod.metadata.labels.as_ref().unwrap();
    assert_eq!(labels[POD_NAME_LABEL], "web-2");
    assert_eq!(labels[POD_INDEX_LABEL], "2");
    assert_eq!(labels[REVISION_LABEL], "web-abc");
    assert_eq!(labels["app"], "web");
    let spec = pod.spec.as_ref().unwrap();
    assert_eq!(spec.hostname.as_deref(), Some("web-2"));
    assert_eq!(spec.subdomain.as_deref(), Some("nginx"));
    let volume = &spec.volumes.as_ref().unwrap()[0];
    assert_eq!(volume.name, "data");
    assert_eq!(
        volume.persistent_volume_claim.as_ref().unwrap().claim_name,
        "data-web-2"
    );
    let owner = &pod.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str()),
        ("StatefulSet", "set-uid")
    );
    assert_eq!(owner.controller, Some(true));
    assert_eq!(owner.block_owner_deletion, Some(true));
}

#[test]
fn ordered_ready_creates_each_pod_after_its_predecessors_are_ready() {
    let mut world = World::new(set(3, POLICY_ORDERED_READY));
    assert_eq!(created(&world.step()), ["web-0"]);
    // Pending, then Running but not Ready: nothing more.
    assert!(world.step().writes.is_empty());
    let index = world.find("web-0").unwrap();
    world.pods[index] = running(world.pods[index].clone());
    assert!(world.step().writes.is_empty());
    world.make_ready("web-0");
    assert_eq!(created(&world.step()), ["web-1"]);
    assert!(world.step().writes.is_empty());
    world.make_ready("web-1");
    assert_eq!(created(&world.step()), ["web-2"]);
    world.make_ready("web-2");
    world.step();
    let status = world.status();
    assert_eq!(status.replicas, 3);
    assert_eq!(status.ready_replicas, Some(3));
    assert_eq!(status.available_replicas, Some(3));
    assert_eq!(status.current_replicas, Some(3));
    assert_eq!(status.updated_replicas, Some(3));
    assert_eq!(status.current_revision, status.update_revision);
    assert_eq!(status.observed_generation, Some(1));
    assert_eq!(status.collision_count, Some(0));
}

#[test]
fn ordered_ready_waits_for_min_ready_seconds() {
    let mut s = set(2, POLICY_ORDERED_READY);
    s.spec.as_mut().unwrap().min_ready_seconds = Some(10);
    let mut world = World::new(s);
    world.step();
    world.make_ready("web-0");
    let plan = world.step();
    assert!(created(&plan).is_empty());
    assert_eq!(plan.requeue_after, Some(Duration::from_millis(10_001)));
    world.clock += 11;
    assert_eq!(created(&world.step()), ["web-1"]);
}

#[test]
fn parallel_creates_and_deletes_all_at_once() {
    let mut world = World::new(set(3, POLICY_PARALLEL));
    assert_eq!(created(&world.step()), ["web-0", "web-1", "web-2"]);
    world.set.spec.as_mut().unwrap().replicas = Some(0);
    let mut gone = deleted(&world.step());
    gone.sort();
    assert_eq!(gone, ["web-0", "web-1", "web-2"]);
}

#[test]
fn ordered_scale_down_goes_from_the_highest_ordinal_one_at_a_time() {
    let mut world = World::new(set(3, POLICY_ORDERED_READY));
    world.settle();
    world.set.spec.as_mut().unwrap().replicas = Some(1);
    // Kept terminating for a while, as with a grace period.
    let plan = world.plan();
    assert_eq!(deleted(&plan), ["web-2"]);
    let index = world.find("web-2").unwrap();
    world.pods[index] = terminating(world.pods[index].clone());
    assert!(world.step().writes.is_empty(), "waits for web-2 to go");
    world.pods.remove(index);
    assert_eq!(deleted(&world.step()), ["web-1"]);
    assert_eq!(world.names(), ["web-0"]);
}

#[test]
fn ordered_scale_down_removes_only_the_first_unhealthy_pod() {
    let mut world = World::new(set(3, POLICY_ORDERED_READY));
    world.settle();
    world.set.spec.as_mut().unwrap().replicas = Some(0);
    // web-1 is not Ready: web-2 (healthy) may go, then web-1 (the first
    // unhealthy one), then web-0.
    let index = world.find("web-1").unwrap();
    let mut unready = running(crate::pods::test_pods::pod("web-1", &[]));
    unready.metadata = world.plan_pod_meta("web-1");
    world.pods[index] = unready;
    assert_eq!(deleted(&world.step()), ["web-2"]);
    assert_eq!(deleted(&world.step()), ["web-1"]);
    assert_eq!(deleted(&world.step()), ["web-0"]);
    assert!(world.pods.is_empty());
}

impl World {
    /// The metadata a pod of this set has after creation.
    fn plan_pod_meta(&self, name: &str) -> ObjectMeta {
        let ordinal = parent_and_ordinal(name).unwrap().1;
        let revision = update_revision(&self.set).unwrap();
        let mut meta = new_pod(&self.set, ordinal, &revision).unwrap().metadata;
        meta.uid = Some(format!("uid-{name}"));
        meta.resource_version = Some("1".into());
        meta
    }
}

#[test]
fn finished_pods_are_replaced() {
    let mut world = World::new(set(2, POLICY_ORDERED_READY));
    world.settle();
    let index = world.find("web-0").unwrap();
    world.pods[index] = with_phase(world.pods[index].clone(), pods::PHASE_FAILED);
    assert_eq!(deleted(&world.step()), ["web-0"]);
    assert_eq!(created(&world.step()), ["web-0"]);
}

#[test]
fn a_rolling_update_replaces_pods_from_the_highest_ordinal_waiting_for_each() {
    let mut world = World::new(set(3, POLICY_ORDERED_READY));
    world.settle();
    let old_revision = world.status().update_revision.unwrap();
    world.set_template("nginx:2");
    let new_revision = update_revision(&world.set).unwrap();
    assert_ne!(old_revision, new_revision);
    let plan = world.step();
    assert_eq!(deleted(&plan), ["web-2"]);
    let status = world.status();
    assert_eq!(
        status.current_revision.as_deref(),
        Some(old_revision.as_str())
    );
    assert_eq!(
        status.update_revision.as_deref(),
        Some(new_revision.as_str())
    );
    assert_eq!(status.current_replicas, Some(2));
    assert_eq!(created(&world.step()), ["web-2"]);
    // The new web-2 is not Ready: web-1 waits.
    assert!(world.step().writes.is_empty());
    world.make_ready("web-2");
    assert_eq!(deleted(&world.step()), ["web-1"]);
    world.settle();
    for pod in &world.pods {
        assert_eq!(revision_of(pod), Some(new_revision.as_str()));
    }
    let status = world.status();
    assert_eq!(
        status.current_revision.as_deref(),
        Some(new_revision.as_str())
    );
    assert_eq!(status.current_replicas, Some(3));
}

#[test]
fn a_partition_keeps_lower_ordinals_on_the_old_revision() {
    let mut world = World::new(set(3, POLICY_ORDERED_READY));
    world.settle();
    let old_revision = world.status().update_revision.unwrap();
    world
        .set
        .spec
        .as_mut()
        .unwrap()
        .update_strategy
        .as_mut()
        .unwrap()
        .rolling_update
        .as_mut()
        .unwrap()
        .partition = Some(2);
    world.set_template("nginx:2");
    world.settle();
    let revisions: Vec<&str> = ["web-0", "web-1", "web-2"]
        .iter()
        .map(|n| revision_of(&world.pods[world.find(n).unwrap()]).unwrap())
        .collect();
    assert_eq!(revisions[0], old_revision);
    assert_eq!(revisions[1], old_revision);
    assert_ne!(revisions[2], old_revision);
    assert_eq!(
        world.status().current_revision.as_deref(),
        Some(old_revision.as_str())
    );
}

#[test]
fn on_delete_leaves_outdated_pods_alone() {
    let mut s = set(2, POLICY_ORDERED_READY);
    s.spec.as_mut().unwrap().update_strategy = Some(StatefulSetUpdateStrategy {
        type_: Some(UPDATE_ON_DELETE.into()),
        rolling_update: None,
    });
    let mut world = World::new(s);
    world.settle();
    world.set_template("nginx:2");
    world.settle();
    assert_eq!(world.status().updated_replicas, None);
    assert_eq!(world.status().current_replicas, Some(2));
}

#[test]
fn orphans_named_like_members_are_adopted_and_others_ignored() {
    let mut world = World::new(set(1, POLICY_ORDERED_READY));
    let mut orphan = ready_at(crate::pods::test_pods::pod("web-0", &[("app", "web")]), 0);
    orphan.metadata.labels.as_mut().unwrap().extend([
        (POD_NAME_LABEL.to_string(), "web-0".to_string()),
        (POD_INDEX_LABEL.to_string(), "0".to_string()),
        (
            REVISION_LABEL.to_string(),
            update_revision(&world.set).unwrap(),
        ),
    ]);
    world.pods.push(orphan);
    world
        .pods
        .push(crate::pods::test_pods::pod("webby-0", &[("app", "web")]));
    world
        .pods
        .push(crate::pods::test_pods::pod("web-x", &[("app", "web")]));
    let plan = world.step();
    assert!(matches!(plan.writes.as_slice(), [PodWrite::Adopt(p)] if p.name == "web-0"));
    assert_eq!(world.status().replicas, 1);
}

#[test]
fn lost_identity_labels_are_restored() {
    let mut world = World::new(set(1, POLICY_ORDERED_READY));
    world.settle();
    world.pods[0]
        .metadata
        .labels
        .as_mut()
        .unwrap()
        .remove(POD_INDEX_LABEL);
    let plan = world.step();
    assert!(matches!(plan.writes.as_slice(), [PodWrite::Relabel(p)] if p.name == "web-0"));
    assert_eq!(pods::labels(&world.pods[0].metadata)[POD_INDEX_LABEL], "0");
}

#[test]
fn ordinals_can_start_elsewhere() {
    let mut s = set(2, POLICY_ORDERED_READY);
    s.spec.as_mut().unwrap().ordinals = Some(StatefulSetOrdinals { start: Some(5) });
    let mut world = World::new(s);
    world.settle();
    assert_eq!(world.names(), ["web-5", "web-6"]);
}

#[test]
fn a_set_being_deleted_only_reports_status() {
    let mut s = set(2, POLICY_ORDERED_READY);
    s.metadata.deletion_timestamp = Some(Time(at(1)));
    let plan = plan(&s, &[], at(2)).unwrap();
    assert!(plan.writes.is_empty());
    assert_eq!(plan.status.unwrap().replicas, 0);
}
