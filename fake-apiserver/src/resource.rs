//! The resource types served: where each lives in the API and what its requests may select on.
//! Every handler, the store and the handle look a resource up here; nothing else names one.

/// One served resource type, as kube-apiserver's discovery describes it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ResourceType {
    /// API group (`""` for the core group).
    pub group: &'static str,
    /// `apiVersion` of its objects (`v1`, `apps/v1`, ...).
    pub api_version: &'static str,
    /// The URL segment (`pods`, `deployments`, ...).
    pub plural: &'static str,
    /// `kind` of its objects.
    pub kind: &'static str,
    /// `kind` of its lists.
    pub list_kind: &'static str,
    /// Field selector keys supported besides `metadata.name` and `metadata.namespace`.
    pub fields: &'static [&'static str],
    /// Whether the API server keeps `metadata.generation` (bumped on spec changes).
    pub generation: bool,
}

/// Everything served, pods first.
pub(crate) static RESOURCES: [ResourceType; 7] = [
    ResourceType {
        group: "",
        api_version: "v1",
        plural: "pods",
        kind: "Pod",
        list_kind: "PodList",
        fields: &["status.phase", "spec.nodeName"],
        generation: false,
    },
    ResourceType {
        group: "apps",
        api_version: "apps/v1",
        plural: "deployments",
        kind: "Deployment",
        list_kind: "DeploymentList",
        fields: &[],
        generation: true,
    },
    ResourceType {
        group: "apps",
        api_version: "apps/v1",
        plural: "statefulsets",
        kind: "StatefulSet",
        list_kind: "StatefulSetList",
        fields: &[],
        generation: true,
    },
    ResourceType {
        group: "apps",
        api_version: "apps/v1",
        plural: "daemonsets",
        kind: "DaemonSet",
        list_kind: "DaemonSetList",
        fields: &[],
        generation: true,
    },
    ResourceType {
        group: "apps",
        api_version: "apps/v1",
        plural: "replicasets",
        kind: "ReplicaSet",
        list_kind: "ReplicaSetList",
        fields: &["status.replicas"],
        generation: true,
    },
    ResourceType {
        group: "batch",
        api_version: "batch/v1",
        plural: "jobs",
        kind: "Job",
        list_kind: "JobList",
        fields: &["status.successful"],
        generation: true,
    },
    ResourceType {
        group: "batch",
        api_version: "batch/v1",
        plural: "cronjobs",
        kind: "CronJob",
        list_kind: "CronJobList",
        fields: &[],
        generation: true,
    },
];

impl ResourceType {
    /// The type served for k8s-openapi's `K`.
    ///
    /// # Panics
    /// When `K` is not served (this is test support).
    pub fn of<K: k8s_openapi::Resource>() -> &'static ResourceType {
        RESOURCES
            .iter()
            .find(|r| r.api_version == K::API_VERSION && r.plural == K::URL_PATH_SEGMENT)
            .unwrap_or_else(|| {
                panic!(
                    "fake-apiserver does not serve {} {}; it serves {}",
                    K::API_VERSION,
                    K::KIND,
                    served()
                )
            })
    }

    /// The type with URL segment `plural`.
    pub fn by_plural(plural: &str) -> Option<&'static ResourceType> {
        RESOURCES.iter().find(|r| r.plural == plural)
    }

    /// `/api/v1` or `/apis/{group}/{version}`.
    pub fn base_path(&self) -> String {
        match self.group {
            "" => format!("/api/{}", self.api_version),
            _ => format!("/apis/{}", self.api_version),
        }
    }

    /// How RBAC names it in messages: `pods`, `deployments.apps`.
    pub fn qualified_name(&self) -> String {
        match self.group {
            "" => self.plural.to_owned(),
            group => format!("{}.{group}", self.plural),
        }
    }

    /// Whether field selectors may use `key`.
    pub fn supports_field(&self, key: &str) -> bool {
        matches!(key, "metadata.name" | "metadata.namespace") || self.fields.contains(&key)
    }
}

/// The served plurals, for messages.
pub(crate) fn served() -> String {
    RESOURCES
        .iter()
        .map(|r| r.plural)
        .collect::<Vec<_>>()
        .join(", ")
}
