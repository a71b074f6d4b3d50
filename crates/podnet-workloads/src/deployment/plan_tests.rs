use super::*;
use crate::pods::test_pods::{at, pod, ready_at};
use k8s_openapi::api::apps::v1::{
    DeploymentSpec, DeploymentStrategy, ReplicaSetStatus, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{Container, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, OwnerReference};

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

fn rolling(max_surge: IntOrString, max_unavailable: IntOrString) -> DeploymentStrategy {
    DeploymentStrategy {
        type_: Some(STRATEGY_ROLLING_UPDATE.into()),
        rolling_update: Some(RollingUpdateDeployment {
            max_surge: Some(max_surge),
            max_unavailable: Some(max_unavailable),
        }),
    }
}

fn recreate() -> DeploymentStrategy {
    DeploymentStrategy {
        type_: Some(STRATEGY_RECREATE.into()),
        rolling_update: None,
    }
}

fn percent(p: &str) -> IntOrString {
    IntOrString::String(p.into())
}

fn deployment(replicas: i32, strategy: DeploymentStrategy) -> Deployment {
    Deployment {
        metadata: ObjectMeta {
            name: Some("web".into()),
            namespace: Some("default".into()),
            uid: Some("deploy-uid".into()),
            generation: Some(1),
            resource_version: Some("1".into()),
            ..Default::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector: LabelSelector {
                match_labels: Some(labels()),
                ..Default::default()
            },
            template: template("nginx:1"),
            strategy: Some(strategy),
            revision_history_limit: Some(10),
            progress_deadline_seconds: Some(600),
            ..Default::default()
        }),
        status: None,
    }
}

/// A stand-in for the API server, the ReplicaSet controller and the
/// kubelets: applies plans the way the server would, checking each update
/// carries the resourceVersion it read.
struct World {
    deployment: Deployment,
    replica_sets: Vec<ReplicaSet>,
    clock: i64,
    counter: u64,
}

impl World {
    fn new(deployment: Deployment) -> World {
        World {
            deployment,
            replica_sets: Vec::new(),
            clock: 0,
            counter: 10,
        }
    }

    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    fn plan(&self) -> DeploymentPlan {
        plan(&self.deployment, &self.replica_sets, &[], at(self.clock)).unwrap()
    }

    fn step(&mut self) -> DeploymentPlan {
        let plan = self.plan();
        self.apply(&plan);
        plan
    }

    fn apply(&mut self, plan: &DeploymentPlan) {
        for write in &plan.writes {
            match write {
                ReplicaSetWrite::Create(rs) => {
                    let mut rs = (**rs).clone();
                    assert!(self.find(rs.metadata.name.as_deref().unwrap()).is_none());
                    let n = self.next();
                    rs.metadata.uid = Some(format!("rs-uid-{n}"));
                    rs.metadata.resource_version = Some(n.to_string());
                    rs.metadata.generation = Some(1);
                    rs.metadata.creation_timestamp = Some(Time(at(self.clock)));
                    self.replica_sets.push(rs);
                }
                ReplicaSetWrite::Update(rs) => {
                    let n = self.next();
                    let index = self
                        .find(rs.metadata.name.as_deref().unwrap())
                        .expect("exists");
                    let stored = &mut self.replica_sets[index];
                    assert_eq!(
                        stored.metadata.resource_version,
                        rs.metadata.resource_version
                    );
                    let spec_changed = stored.spec != rs.spec;
                    let status = stored.status.clone();
                    let generation = stored.metadata.generation.unwrap_or(1);
                    *stored = (**rs).clone();
                    stored.status = status;
                    stored.metadata.resource_version = Some(n.to_string());
                    stored.metadata.generation = Some(generation + i64::from(spec_changed));
                }
                ReplicaSetWrite::Delete { name, .. } => {
                    let index = self.find(name).expect("exists");
                    self.replica_sets.remove(index);
                }
                ReplicaSetWrite::Adopt(patch) | ReplicaSetWrite::Release(patch) => {
                    let index = self.find(&patch.name).expect("exists");
                    let references: Vec<OwnerReference> =
                        serde_json::from_value(patch.patch["metadata"]["ownerReferences"].clone())
                            .unwrap();
                    self.replica_sets[index].metadata.owner_references = Some(references);
                }
            }
        }
        if let Some(revision) = &plan.revision {
            self.deployment
                .metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(REVISION.into(), revision.clone());
        }
        if let Some(status) = &plan.status {
            self.deployment.status = Some(status.clone());
        }
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.replica_sets
            .iter()
            .position(|rs| rs.metadata.name.as_deref() == Some(name))
    }

    /// Every ReplicaSet has as many pods as it asks for; `available` says
    /// how many of them are available.
    fn pods_follow(&mut self, available: impl Fn(&ReplicaSet) -> i32) {
        for rs in &mut self.replica_sets {
            let replicas = spec_replicas(rs);
            let ready = available(rs).min(replicas);
            rs.status = Some(ReplicaSetStatus {
                replicas,
                ready_replicas: nonzero(ready),
                available_replicas: nonzero(ready),
                fully_labeled_replicas: nonzero(replicas),
                observed_generation: rs.metadata.generation,
                ..Default::default()
            });
        }
    }

    fn all_available(&mut self) {
        self.pods_follow(spec_replicas);
    }

    /// Steps with every pod available at once until nothing changes.
    fn settle(&mut self) {
        for _ in 0..100 {
            self.all_available();
            let plan = self.step();
            if plan.writes.is_empty() && plan.status.is_none() && plan.revision.is_none() {
                return;
            }
        }
        panic!("the deployment did not settle");
    }

    fn set_template(&mut self, image: &str) {
        self.deployment.spec.as_mut().unwrap().template = template(image);
        self.bump_generation();
    }

    fn set_replicas(&mut self, replicas: i32) {
        self.deployment.spec.as_mut().unwrap().replicas = Some(replicas);
        self.bump_generation();
    }

    fn bump_generation(&mut self) {
        let generation = self.deployment.metadata.generation.unwrap_or(0);
        self.deployment.metadata.generation = Some(generation + 1);
    }

    fn sizes(&self) -> Vec<(String, i32)> {
        self.replica_sets
            .iter()
            .map(|rs| (image_of(rs), spec_replicas(rs)))
            .collect()
    }

    fn status(&self) -> DeploymentStatus {
        self.deployment.status.clone().unwrap_or_default()
    }
}

fn image_of(rs: &ReplicaSet) -> String {
    rs.spec
        .as_ref()
        .unwrap()
        .template
        .as_ref()
        .unwrap()
        .spec
        .as_ref()
        .unwrap()
        .containers[0]
        .image
        .clone()
        .unwrap()
}

fn condition_of(status: &DeploymentStatus, type_: &str) -> (String, String) {
    let c = condition(status, type_).unwrap_or_else(|| panic!("no {type_} condition"));
    (c.status.clone(), c.reason.clone().unwrap_or_default())
}

#[test]
fn a_new_deployment_creates_its_replica_set_with_hash_labels_and_revision() {
    let mut world = World::new(deployment(3, rolling(percent("25%"), percent("25%"))));
    let plan = world.step();
    let [ReplicaSetWrite::Create(rs)] = plan.writes.as_slice() else {
        panic!("expected one creation: {:?}", plan.writes);
    };
    let hash = hash::pod_template_hash(&template("nginx:1"), None);
    assert_eq!(
        rs.metadata.name.as_deref(),
        Some(format!("web-{hash}").as_str())
    );
    let rs_labels = rs.metadata.labels.as_ref().unwrap();
    assert_eq!(rs_labels[POD_TEMPLATE_HASH], hash);
    assert_eq!(rs_labels["app"], "web");
    let spec = rs.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(3));
    assert_eq!(
        spec.selector.match_labels.as_ref().unwrap()[POD_TEMPLATE_HASH],
        hash
    );
    let template_labels = spec
        .template
        .as_ref()
        .unwrap()
        .metadata
        .as_ref()
        .unwrap()
        .labels
        .as_ref()
        .unwrap();
    assert_eq!(template_labels[POD_TEMPLATE_HASH], hash);
    let annotations = rs.metadata.annotations.as_ref().unwrap();
    assert_eq!(annotations[REVISION], "1");
    assert_eq!(annotations[DESIRED_REPLICAS], "3");
    // 25% of 3 rounds up to a surge of 1.
    assert_eq!(annotations[MAX_REPLICAS], "4");
    let owner = &rs.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str()),
        ("Deployment", "deploy-uid")
    );
    assert_eq!(owner.controller, Some(true));
    assert_eq!(owner.block_owner_deletion, Some(true));
    assert_eq!(plan.revision.as_deref(), Some("1"));

    let status = plan.status.unwrap();
    assert_eq!(status.observed_generation, Some(1));
    assert_eq!(
        condition_of(&status, CONDITION_PROGRESSING),
        ("True".into(), REASON_NEW_RS_CREATED.into())
    );
    assert_eq!(
        condition_of(&status, CONDITION_AVAILABLE),
        ("False".into(), REASON_MINIMUM_UNAVAILABLE.into())
    );
    assert_eq!(
        condition(&status, CONDITION_PROGRESSING)
            .unwrap()
            .message
            .as_deref(),
        Some(format!("Created new replica set \"web-{hash}\"").as_str())
    );
    assert!(plan.requeue_after.is_some());
}

#[test]
fn a_settled_deployment_reports_complete_and_available() {
    let mut world = World::new(deployment(3, rolling(percent("25%"), percent("25%"))));
    world.settle();
    let status = world.status();
    assert_eq!(status.replicas, Some(3));
    assert_eq!(status.updated_replicas, Some(3));
    assert_eq!(status.ready_replicas, Some(3));
    assert_eq!(status.available_replicas, Some(3));
    assert_eq!(status.unavailable_replicas, None);
    assert_eq!(
        condition_of(&status, CONDITION_AVAILABLE),
        ("True".into(), REASON_MINIMUM_AVAILABLE.into())
    );
    assert_eq!(
        condition_of(&status, CONDITION_PROGRESSING),
        ("True".into(), REASON_NEW_RS_AVAILABLE.into())
    );
    let rs_name = world.replica_sets[0].metadata.name.clone().unwrap();
    assert_eq!(
        condition(&status, CONDITION_PROGRESSING)
            .unwrap()
            .message
            .as_deref(),
        Some(format!("ReplicaSet \"{rs_name}\" has successfully progressed.").as_str())
    );
    assert_eq!(world.plan(), DeploymentPlan::default());
}

#[test]
fn scaling_resizes_the_only_replica_set_and_its_annotations() {
    let mut world = World::new(deployment(3, rolling(percent("25%"), percent("25%"))));
    world.settle();
    world.set_replicas(5);
    let plan = world.step();
    let [ReplicaSetWrite::Update(rs)] = plan.writes.as_slice() else {
        panic!("expected one update: {:?}", plan.writes);
    };
    assert_eq!(spec_replicas(rs), 5);
    let annotations = rs.metadata.annotations.as_ref().unwrap();
    assert_eq!(annotations[DESIRED_REPLICAS], "5");
    assert_eq!(annotations[MAX_REPLICAS], "7");
    world.settle();
    assert_eq!(world.sizes(), [("nginx:1".to_string(), 5)]);
    world.set_replicas(1);
    world.settle();
    assert_eq!(world.sizes(), [("nginx:1".to_string(), 1)]);
    assert_eq!(world.status().available_replicas, Some(1));
}

/// Rolls `from` to a new image with pods that become available one round
/// after they are asked for, checking maxSurge and maxUnavailable after
/// every plan.
fn check_rollout(
    replicas: i32,
    max_surge: IntOrString,
    max_unavailable: IntOrString,
    surge: i32,
    unavailable: i32,
) {
    let mut world = World::new(deployment(replicas, rolling(max_surge, max_unavailable)));
    world.settle();
    world.set_template("nginx:2");
    let mut rounds = 0;
    loop {
        rounds += 1;
        assert!(
            rounds < 200,
            "the rollout did not finish: {:?}",
            world.sizes()
        );
        let before: BTreeMap<String, i32> = world
            .replica_sets
            .iter()
            .map(|rs| (rs.metadata.name.clone().unwrap(), status_of(rs).2))
            .collect();
        world.step();
        let total: i32 = world.replica_sets.iter().map(spec_replicas).sum();
        assert!(
            total <= replicas + surge,
            "{total} pods exceed the surge: {:?}",
            world.sizes()
        );
        // Pods of a shrunk ReplicaSet are gone now; new ones are not ready yet.
        let available: i32 = world
            .replica_sets
            .iter()
            .map(|rs| {
                before
                    .get(rs.metadata.name.as_deref().unwrap())
                    .copied()
                    .unwrap_or(0)
                    .min(spec_replicas(rs))
            })
            .sum();
        assert!(
            available >= replicas - unavailable,
            "only {available} available: {:?}",
            world.sizes()
        );
        world.all_available();
        let status = world.status();
        if condition(&status, CONDITION_PROGRESSING).and_then(|c| c.reason.as_deref())
            == Some(REASON_NEW_RS_AVAILABLE)
            && status.updated_replicas == Some(replicas)
        {
            break;
        }
    }
    world.settle();
    let mut sizes = world.sizes();
    sizes.sort();
    assert_eq!(
        sizes,
        [
            ("nginx:1".to_string(), 0),
            ("nginx:2".to_string(), replicas)
        ]
    );
    let new = world
        .replica_sets
        .iter()
        .find(|rs| image_of(rs) == "nginx:2")
        .unwrap();
    assert_eq!(annotation(&new.metadata, REVISION), Some("2"));
    assert_eq!(annotation(&world.deployment.metadata, REVISION), Some("2"));
}

#[test]
fn rolling_updates_respect_surge_and_unavailability() {
    check_rollout(3, IntOrString::Int(1), IntOrString::Int(0), 1, 0);
    check_rollout(3, IntOrString::Int(0), IntOrString::Int(1), 0, 1);
    check_rollout(3, percent("25%"), percent("25%"), 1, 0);
    check_rollout(10, percent("25%"), percent("25%"), 3, 2);
    check_rollout(10, IntOrString::Int(2), IntOrString::Int(3), 2, 3);
    // Both fenceposts round to zero: one pod may be unavailable.
    check_rollout(3, percent("10%"), percent("10%"), 1, 0);
    check_rollout(3, IntOrString::Int(0), percent("10%"), 0, 1);
}

#[test]
fn a_rollout_waits_for_new_pods_to_become_available() {
    let mut world = World::new(deployment(
        3,
        rolling(IntOrString::Int(1), IntOrString::Int(0)),
    ));
    world.settle();
    world.set_template("nginx:2");
    world.step();
    // The new pod never becomes available: nothing old may go.
    for _ in 0..5 {
        world.pods_follow(|rs| {
            if image_of(rs) == "nginx:2" {
                0
            } else {
                spec_replicas(rs)
            }
        });
        world.step();
    }
    let mut sizes = world.sizes();
    sizes.sort();
    assert_eq!(
        sizes,
        [("nginx:1".to_string(), 3), ("nginx:2".to_string(), 1)]
    );
    let status = world.status();
    assert_eq!(status.updated_replicas, Some(1));
    assert_eq!(status.unavailable_replicas, Some(1));
    assert_eq!(condition_of(&status, CONDITION_AVAILABLE).0, "True");
}

#[test]
fn progress_deadline_is_reported_when_nothing_moves() {
    let mut world = World::new(deployment(
        3,
        rolling(IntOrString::Int(1), IntOrString::Int(0)),
    ));
    world.settle();
    world.set_template("nginx:2");
    world.step();
    world.pods_follow(|rs| {
        if image_of(rs) == "nginx:2" {
            0
        } else {
            spec_replicas(rs)
        }
    });
    world.step();
    let plan = world.plan();
    assert!(plan.requeue_after.unwrap() > Duration::from_secs(590));
    world.clock += 601;
    world.step();
    let status = world.status();
    assert_eq!(
        condition_of(&status, CONDITION_PROGRESSING),
        ("False".into(), REASON_TIMED_OUT.into())
    );
    assert!(condition(&status, CONDITION_PROGRESSING)
        .unwrap()
        .message
        .as_deref()
        .unwrap()
        .ends_with("has timed out progressing."));
    assert_eq!(world.plan().requeue_after, None);
}

#[test]
fn scaling_during_a_rollout_is_proportional() {
    let mut world = World::new(deployment(
        10,
        rolling(IntOrString::Int(3), IntOrString::Int(2)),
    ));
    world.settle();
    world.set_template("nginx:2");
    // The new ReplicaSet gets the surge, and two old pods may go at once.
    world.step();
    world.pods_follow(|rs| {
        if image_of(rs) == "nginx:2" {
            0
        } else {
            spec_replicas(rs)
        }
    });
    let mut sizes = world.sizes();
    sizes.sort();
    assert_eq!(
        sizes,
        [("nginx:1".to_string(), 8), ("nginx:2".to_string(), 3)]
    );
    world.set_replicas(20);
    let plan = world.step();
    assert_eq!(plan.writes.len(), 2, "{:?}", plan.writes);
    let mut sizes = world.sizes();
    sizes.sort();
    // 12 pods to add, shared by size against the 13 the sets were sized
    // for: 8 -> 14 and 3 -> 5, and the 4 left over go to the largest.
    assert_eq!(
        sizes,
        [("nginx:1".to_string(), 18), ("nginx:2".to_string(), 5)]
    );
    for rs in &world.replica_sets {
        assert_eq!(annotation(&rs.metadata, DESIRED_REPLICAS), Some("20"));
        assert_eq!(annotation(&rs.metadata, MAX_REPLICAS), Some("23"));
    }
    world.settle();
    let mut sizes = world.sizes();
    sizes.sort();
    assert_eq!(
        sizes,
        [("nginx:1".to_string(), 0), ("nginx:2".to_string(), 20)]
    );
}

#[test]
fn recreate_removes_every_old_pod_before_creating_new_ones() {
    let mut world = World::new(deployment(3, recreate()));
    world.settle();
    world.set_template("nginx:2");
    let plan = world.step();
    assert_eq!(plan.writes.len(), 1);
    assert_eq!(world.sizes(), [("nginx:1".to_string(), 0)]);
    // The old ReplicaSet's status still counts its pods: wait.
    let plan = world.step();
    assert!(plan.writes.is_empty());
    world.all_available();
    // Counted gone, but one old pod is still terminating.
    let old_uid = world.replica_sets[0].metadata.uid.clone().unwrap();
    let mut old_pod = pod("web-old-x", &[("app", "web")]);
    old_pod.metadata.owner_references = Some(vec![OwnerReference {
        uid: old_uid,
        controller: Some(true),
        ..Default::default()
    }]);
    old_pod.metadata.deletion_timestamp = Some(Time(at(1)));
    let waiting = plan_with_pods(&world, &[ready_at(old_pod, 0)]);
    assert!(waiting.writes.is_empty(), "{:?}", waiting.writes);
    let plan = world.step();
    let [ReplicaSetWrite::Create(rs)] = plan.writes.as_slice() else {
        panic!("expected a creation: {:?}", plan.writes);
    };
    assert_eq!(spec_replicas(rs), 3);
    world.settle();
    assert_eq!(
        world.sizes(),
        [("nginx:1".to_string(), 0), ("nginx:2".to_string(), 3)]
    );
}

fn plan_with_pods(world: &World, pods: &[Pod]) -> DeploymentPlan {
    plan(
        &world.deployment,
        &world.replica_sets,
        pods,
        at(world.clock),
    )
    .unwrap()
}

#[test]
fn a_rollback_reuses_the_old_replica_set_with_a_new_revision() {
    let mut world = World::new(deployment(
        2,
        rolling(IntOrString::Int(1), IntOrString::Int(0)),
    ));
    world.settle();
    world.set_template("nginx:2");
    world.settle();
    world.set_template("nginx:1");
    world.settle();
    assert_eq!(world.replica_sets.len(), 2);
    let first = world
        .replica_sets
        .iter()
        .find(|rs| image_of(rs) == "nginx:1")
        .unwrap();
    assert_eq!(spec_replicas(first), 2);
    assert_eq!(annotation(&first.metadata, REVISION), Some("3"));
    assert_eq!(annotation(&first.metadata, REVISION_HISTORY), Some("1"));
    assert_eq!(annotation(&world.deployment.metadata, REVISION), Some("3"));
}

#[test]
fn old_revisions_beyond_the_history_limit_are_deleted() {
    let mut d = deployment(1, rolling(IntOrString::Int(1), IntOrString::Int(0)));
    d.spec.as_mut().unwrap().revision_history_limit = Some(1);
    let mut world = World::new(d);
    for image in ["nginx:1", "nginx:2", "nginx:3", "nginx:4"] {
        world.set_template(image);
        world.settle();
    }
    let mut images: Vec<String> = world.replica_sets.iter().map(image_of).collect();
    images.sort();
    assert_eq!(images, ["nginx:3", "nginx:4"]);
}

#[test]
fn a_paused_deployment_scales_but_does_not_roll_out() {
    let mut world = World::new(deployment(
        2,
        rolling(IntOrString::Int(1), IntOrString::Int(0)),
    ));
    world.settle();
    world.deployment.spec.as_mut().unwrap().paused = Some(true);
    world.set_template("nginx:2");
    world.settle();
    assert_eq!(world.sizes(), [("nginx:1".to_string(), 2)]);
    assert_eq!(
        condition_of(&world.status(), CONDITION_PROGRESSING),
        ("Unknown".into(), REASON_PAUSED.into())
    );
    world.set_replicas(4);
    world.settle();
    assert_eq!(world.sizes(), [("nginx:1".to_string(), 4)]);
    world.deployment.spec.as_mut().unwrap().paused = Some(false);
    world.step();
    assert_eq!(
        condition_of(&world.status(), CONDITION_PROGRESSING),
        ("True".into(), REASON_NEW_RS_CREATED.into())
    );
    world.settle();
    assert_eq!(
        world.sizes(),
        [("nginx:1".to_string(), 0), ("nginx:2".to_string(), 4)]
    );
}

#[test]
fn orphan_replica_sets_are_adopted_and_foreign_ones_ignored() {
    let mut world = World::new(deployment(
        2,
        rolling(IntOrString::Int(1), IntOrString::Int(0)),
    ));
    world.settle();
    let mut orphan = world.replica_sets[0].clone();
    orphan.metadata.owner_references = None;
    world.replica_sets[0] = orphan;
    let mut foreign = world.replica_sets[0].clone();
    foreign.metadata.name = Some("other".into());
    foreign.metadata.owner_references = Some(vec![OwnerReference {
        uid: "someone-else".into(),
        controller: Some(true),
        ..Default::default()
    }]);
    world.replica_sets.push(foreign);
    let plan = world.step();
    assert!(
        matches!(plan.writes.as_slice(), [ReplicaSetWrite::Adopt(p)] if p.name.starts_with("web-"))
    );
    assert!(owners::is_controlled_by(
        &world.replica_sets[0].metadata,
        "deploy-uid"
    ));
    world.settle();
    assert_eq!(
        spec_replicas(&world.replica_sets[1]),
        2,
        "the foreign one is untouched"
    );
}

#[test]
fn the_current_replica_set_is_recognized_and_collisions_raise_the_count() {
    let mut world = World::new(deployment(
        1,
        rolling(IntOrString::Int(1), IntOrString::Int(0)),
    ));
    world.settle();
    assert!(is_current_replica_set(
        &world.deployment,
        &world.replica_sets[0]
    ));
    world.set_template("nginx:2");
    assert!(!is_current_replica_set(
        &world.deployment,
        &world.replica_sets[0]
    ));
    let status = status_after_collision(&world.deployment);
    assert_eq!(status.collision_count, Some(1));
    world.deployment.status = Some(status);
    let plan = world.plan();
    let created = plan
        .writes
        .iter()
        .find_map(|w| match w {
            ReplicaSetWrite::Create(rs) => rs.metadata.name.clone(),
            _ => None,
        })
        .unwrap();
    let hash = hash::pod_template_hash(&template("nginx:2"), Some(1));
    assert_eq!(created, format!("web-{hash}"));

    let failed =
        status_after_create_failure(&world.deployment, "web-x", "quota exceeded", at(3)).unwrap();
    assert_eq!(
        condition_of(&failed, CONDITION_PROGRESSING),
        ("False".into(), REASON_FAILED_RS_CREATE.into())
    );
}

#[test]
fn deployment_annotations_are_copied_to_the_new_replica_set() {
    let mut d = deployment(1, rolling(IntOrString::Int(1), IntOrString::Int(0)));
    d.metadata.annotations = Some(
        [
            ("team".to_string(), "blue".to_string()),
            (LAST_APPLIED.to_string(), "{}".to_string()),
            (REVISION.to_string(), "9".to_string()),
        ]
        .into(),
    );
    let plan = plan(&d, &[], &[], at(0)).unwrap();
    let ReplicaSetWrite::Create(rs) = &plan.writes[0] else {
        panic!("expected a creation");
    };
    let annotations = rs.metadata.annotations.as_ref().unwrap();
    assert_eq!(annotations["team"], "blue");
    assert!(!annotations.contains_key(LAST_APPLIED));
    assert_eq!(annotations[REVISION], "1");
}

#[test]
fn min_ready_seconds_is_carried_to_the_replica_sets() {
    let mut world = World::new(deployment(
        1,
        rolling(IntOrString::Int(1), IntOrString::Int(0)),
    ));
    world.settle();
    world.deployment.spec.as_mut().unwrap().min_ready_seconds = Some(5);
    world.step();
    assert_eq!(
        world.replica_sets[0]
            .spec
            .as_ref()
            .unwrap()
            .min_ready_seconds,
        Some(5)
    );
}

#[test]
fn unsupported_strategies_and_bad_percentages_are_errors() {
    let bad = DeploymentStrategy {
        type_: Some("BlueGreen".into()),
        rolling_update: None,
    };
    assert!(matches!(
        plan(&deployment(1, bad), &[], &[], at(0)),
        Err(PlanError::UnsupportedStrategy { .. })
    ));
    let d = deployment(4, rolling(percent("many"), IntOrString::Int(0)));
    assert!(matches!(
        plan(&d, &[], &[], at(0)),
        Err(PlanError::InvalidIntOrPercent { .. })
    ));
}
