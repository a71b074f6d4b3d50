//! The resources the server serves: one row per REST resource, with the
//! names discovery advertises and the facts the generic handlers need.

/// Verbs every served resource supports.
pub const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// One REST resource (`pods`, `deployments`...) of one group version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource {
    /// API group; "" is the core (legacy) group served under `/api/v1`.
    pub group: &'static str,
    pub version: &'static str,
    /// Plural, lower case: the URL segment.
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    /// Has a `/status` subresource: status is written only through it, and
    /// writes to the main resource keep the stored status.
    pub status: bool,
    /// Has a `/scale` subresource (autoscaling/v1 Scale on spec.replicas).
    pub scale: bool,
}

impl Resource {
    /// `v1` for the core group, `group/version` otherwise.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// The store key prefix of all objects of this resource (ends in '/').
    pub fn key_prefix(&self) -> String {
        let group = if self.group.is_empty() {
            "core"
        } else {
            self.group
        };
        format!("/registry/{group}/{}/", self.plural)
    }

    /// The store key prefix of one namespace's objects (ends in '/').
    pub fn namespace_prefix(&self, namespace: &str) -> String {
        format!("{}{namespace}/", self.key_prefix())
    }

    /// The store key of one object; `namespace` is ignored for cluster-scoped resources.
    pub fn key(&self, namespace: Option<&str>, name: &str) -> String {
        match (self.namespaced, namespace) {
            (true, Some(namespace)) => format!("{}{name}", self.namespace_prefix(namespace)),
            _ => format!("{}{name}", self.key_prefix()),
        }
    }

    /// The OpenAPI definition name of the kind, as Kubernetes names it
    /// (`io.k8s.api.core.v1.Pod`).
    pub fn definition_name(&self) -> String {
        let group = match self.group {
            "" => "core",
            "networking.k8s.io" => "networking",
            "discovery.k8s.io" => "discovery",
            "coordination.k8s.io" => "coordination",
            other => other,
        };
        format!("io.k8s.api.{group}.{}.{}", self.version, self.kind)
    }
}

const fn res(
    group: &'static str,
    plural: &'static str,
    singular: &'static str,
    kind: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
) -> Resource {
    Resource {
        group,
        version: "v1",
        plural,
        singular,
        kind,
        namespaced,
        short_names,
        categories: &[],
        status: false,
        scale: false,
    }
}

const fn with_status(mut r: Resource) -> Resource {
    r.status = true;
    r
}

const fn with_scale(mut r: Resource) -> Resource {
    r.scale = true;
    r
}

const fn in_all(mut r: Resource) -> Resource {
    r.categories = &["all"];
    r
}

/// Every served resource. Anything else is a 404.
pub static RESOURCES: &[Resource] = &[
    with_status(res(
        "",
        "namespaces",
        "namespace",
        "Namespace",
        false,
        &["ns"],
    )),
    with_status(res("", "nodes", "node", "Node", false, &["no"])),
    in_all(with_status(res("", "pods", "pod", "Pod", true, &["po"]))),
    in_all(with_status(res(
        "",
        "services",
        "service",
        "Service",
        true,
        &["svc"],
    ))),
    res("", "endpoints", "endpoints", "Endpoints", true, &["ep"]),
    res("", "secrets", "secret", "Secret", true, &[]),
    res("", "configmaps", "configmap", "ConfigMap", true, &["cm"]),
    res(
        "",
        "serviceaccounts",
        "serviceaccount",
        "ServiceAccount",
        true,
        &["sa"],
    ),
    res("", "events", "event", "Event", true, &["ev"]),
    res(
        "discovery.k8s.io",
        "endpointslices",
        "endpointslice",
        "EndpointSlice",
        true,
        &[],
    ),
    res(
        "networking.k8s.io",
        "networkpolicies",
        "networkpolicy",
        "NetworkPolicy",
        true,
        &["netpol"],
    ),
    with_status(res(
        "networking.k8s.io",
        "ingresses",
        "ingress",
        "Ingress",
        true,
        &["ing"],
    )),
    res(
        "networking.k8s.io",
        "ingressclasses",
        "ingressclass",
        "IngressClass",
        false,
        &[],
    ),
    in_all(with_scale(with_status(res(
        "apps",
        "deployments",
        "deployment",
        "Deployment",
        true,
        &["deploy"],
    )))),
    in_all(with_scale(with_status(res(
        "apps",
        "replicasets",
        "replicaset",
        "ReplicaSet",
        true,
        &["rs"],
    )))),
    in_all(with_scale(with_status(res(
        "apps",
        "statefulsets",
        "statefulset",
        "StatefulSet",
        true,
        &["sts"],
    )))),
    in_all(with_status(res(
        "apps",
        "daemonsets",
        "daemonset",
        "DaemonSet",
        true,
        &["ds"],
    ))),
    res("coordination.k8s.io", "leases", "lease", "Lease", true, &[]),
];

/// The autoscaling/v1 Scale of the scale subresources: not a stored
/// resource, only the kind patches of `/scale` apply to.
pub static SCALE: Resource = Resource {
    group: "autoscaling",
    version: "v1",
    plural: "scale",
    singular: "scale",
    kind: "Scale",
    namespaced: true,
    short_names: &[],
    categories: &[],
    status: false,
    scale: false,
};

/// The served group versions in discovery order ("" = core).
pub static GROUP_VERSIONS: &[(&str, &str)] = &[
    ("", "v1"),
    ("apps", "v1"),
    ("discovery.k8s.io", "v1"),
    ("networking.k8s.io", "v1"),
    ("coordination.k8s.io", "v1"),
];

/// The resource with this plural in this group version.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static Resource> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The resource serving this kind in this group.
pub fn find_kind(group: &str, kind: &str) -> Option<&'static Resource> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.kind == kind)
}

/// The resources of one group version, in table order.
pub fn of_group_version<'a>(
    group: &'a str,
    version: &'a str,
) -> impl Iterator<Item = &'static Resource> + 'a {
    RESOURCES
        .iter()
        .filter(move |r| r.group == group && r.version == version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_resource_is_in_a_served_group_version() {
        for r in RESOURCES {
            assert!(
                GROUP_VERSIONS.contains(&(r.group, r.version)),
                "{} not in a served group version",
                r.plural
            );
        }
    }

    #[test]
    fn keys_separate_namespaces_and_groups() {
        let pods = find("", "v1", "pods").unwrap();
        assert_eq!(
            pods.key(Some("default"), "web"),
            "/registry/core/pods/default/web"
        );
        assert_eq!(
            pods.namespace_prefix("default"),
            "/registry/core/pods/default/"
        );
        let nodes = find("", "v1", "nodes").unwrap();
        assert_eq!(nodes.key(None, "node-1"), "/registry/core/nodes/node-1");
        let deploy = find_kind("apps", "Deployment").unwrap();
        assert_eq!(deploy.api_version(), "apps/v1");
        assert_eq!(deploy.definition_name(), "io.k8s.api.apps.v1.Deployment");
        assert_eq!(pods.definition_name(), "io.k8s.api.core.v1.Pod");
    }

    #[test]
    fn unknown_resources_are_not_found() {
        assert!(find("", "v1", "widgets").is_none());
        assert!(find("apps", "v1beta1", "deployments").is_none());
    }
}
