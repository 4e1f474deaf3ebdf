//! What a check reads: the service, its pods, the plugin's configuration and, on request,
//! the pods' controllers.

use std::collections::BTreeMap;

use crate::Controller;
use crate::bindings::kube_shields::plugin::types as wit;

/// What a check is given on every run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// The service's name (the plugin file's name without `.wasm`).
    pub service: String,
    /// The service's pods across its namespaces; empty for a service made only of a plugin.
    pub pods: Vec<Pod>,
    /// The plugin's configuration map from its settings file.
    pub config: BTreeMap<String, String>,
}

impl Context {
    /// The configuration value for `key`, if the settings file sets it.
    pub fn config(&self, key: &str) -> Option<&str> {
        self.config.get(key).map(String::as_str)
    }

    /// The controllers of the service's pods (its Deployment, StatefulSet, DaemonSet,
    /// ReplicaSet, Job or CronJob), one per namespace: one for `/_/web.staging/...`, one per
    /// namespace the service runs in for `/_/web/...`.
    ///
    /// Empty for a service made only of a plugin, for pods without a controller, and while
    /// kube-shields cannot read the controller's kind (its RBAC lacks it; the built-in
    /// `rollout` badge then says `unknown`).
    ///
    /// Each call asks the host (the `workload.controllers` import of contract 0.1.3; only a
    /// plugin that calls it imports it): keep the answer rather than calling it in a loop.
    /// Outside kube-shields (native `cargo test`) there is no host: the call aborts the test
    /// process, so test your logic on [`Controller`] values you build instead.
    ///
    /// ```
    /// use kube_shields_plugin::{Context, Controller, Shield, checks};
    ///
    /// /// `gen 3/3`, green, once the controller has acted on its latest spec and is Available.
    /// fn deploy(ctx: &Context) -> Result<Shield, String> {
    ///     Ok(judge(ctx.controllers().first()))
    /// }
    ///
    /// // The logic apart from the host call, for `cargo test`.
    /// fn judge(controller: Option<&Controller>) -> Shield {
    ///     let Some(c) = controller else {
    ///         return Shield::new("no controller").color("lightgrey");
    ///     };
    ///     match (c.observed_generation, c.generation) {
    ///         (Some(seen), Some(latest)) if seen == latest && c.is_condition_true("Available") => {
    ///             Shield::new(format!("gen {seen}/{latest}")).color("green")
    ///         }
    ///         _ => Shield::new(&c.rollout_message).color("yellow"),
    ///     }
    /// }
    ///
    /// checks! {
    ///     /// The controller's generation: green when observed and Available.
    ///     deploy => deploy,
    /// }
    ///
    /// # fn main() {
    /// let settled = Controller {
    ///     generation: Some(3),
    ///     observed_generation: Some(3),
    ///     conditions: vec![kube_shields_plugin::Condition {
    ///         type_: "Available".into(),
    ///         status: "True".into(),
    ///         ..Default::default()
    ///     }],
    ///     ..Default::default()
    /// };
    /// assert_eq!(judge(Some(&settled)), Shield::new("gen 3/3").color("green"));
    /// # }
    /// ```
    pub fn controllers(&self) -> Vec<Controller> {
        crate::workload::controllers()
    }
}

impl From<wit::Context> for Context {
    fn from(ctx: wit::Context) -> Self {
        Self {
            service: ctx.service,
            pods: ctx.pods.into_iter().map(Pod::from).collect(),
            config: ctx.config.into_iter().collect(),
        }
    }
}

/// One pod of the service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pod {
    /// Pod name.
    pub name: String,
    /// Namespace the pod lives in.
    pub namespace: String,
    /// Pod phase: `Pending`, `Running`, `Succeeded`, `Failed` or `Unknown`.
    pub phase: String,
    /// Primary pod IP, once one is assigned.
    pub ip: Option<String>,
    /// Every IP of the pod (dual stack), primary first.
    pub ips: Vec<String>,
    /// Node the pod is scheduled on.
    pub node: Option<String>,
    /// Labels by key.
    pub labels: BTreeMap<String, String>,
    /// Annotations by key.
    pub annotations: BTreeMap<String, String>,
    /// Creation time, RFC 3339 (e.g. `2026-11-22T18:43:20Z`).
    pub created: Option<String>,
    /// Containers in spec order (init containers are not listed).
    pub containers: Vec<Container>,
}

impl Pod {
    /// The value of label `key`, if the pod has it.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }

    /// The value of annotation `key`, if the pod has it.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.get(key).map(String::as_str)
    }

    /// Whether the pod has containers and every one is ready (Python's and JavaScript's
    /// `pod.ready`).
    pub fn is_ready(&self) -> bool {
        !self.containers.is_empty() && self.containers.iter().all(|container| container.ready)
    }

    /// The restarts of all its containers (Python's and JavaScript's `pod.restarts`).
    pub fn restarts(&self) -> u32 {
        self.containers
            .iter()
            .map(|container| container.restart_count)
            .sum()
    }
}

impl From<wit::Pod> for Pod {
    fn from(pod: wit::Pod) -> Self {
        Self {
            name: pod.name,
            namespace: pod.namespace,
            phase: pod.phase,
            ip: pod.pod_ip,
            ips: pod.pod_ips,
            node: pod.node_name,
            labels: pod.labels.into_iter().collect(),
            annotations: pod.annotations.into_iter().collect(),
            created: pod.created,
            containers: pod.containers.into_iter().map(Container::from).collect(),
        }
    }
}

/// One container of a pod, from the pod's spec and status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Container {
    /// Container name, unique within the pod.
    pub name: String,
    /// Image reference from the pod spec, e.g. `nginx:1.27`.
    pub image: String,
    /// Whether the kubelet reports the container ready.
    pub ready: bool,
    /// How many times the container has restarted.
    pub restart_count: u32,
    /// What the container is doing now.
    pub state: ContainerState,
    /// Why the container is waiting or terminated, e.g. `CrashLoopBackOff`.
    pub reason: Option<String>,
}

impl Container {
    /// The tag of the container's image: `1.27` for `registry:5000/nginx:1.27`,
    /// the digest for `nginx@sha256:…` and `latest` when the reference names neither.
    pub fn image_tag(&self) -> &str {
        image_tag(&self.image)
    }
}

impl From<wit::Container> for Container {
    fn from(container: wit::Container) -> Self {
        Self {
            name: container.name,
            image: container.image,
            ready: container.ready,
            restart_count: container.restart_count,
            state: ContainerState::parse(&container.state),
            reason: container.reason,
        }
    }
}

/// What a container is doing, as the kubelet reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ContainerState {
    /// Started and not yet terminated.
    Running,
    /// Not running yet, or waiting to restart.
    Waiting,
    /// Finished, successfully or not.
    Terminated,
    /// No status reported yet.
    #[default]
    Unknown,
}

impl ContainerState {
    /// The state named by the contract's string; anything unexpected is `Unknown`.
    fn parse(state: &str) -> Self {
        match state {
            "running" => Self::Running,
            "waiting" => Self::Waiting,
            "terminated" => Self::Terminated,
            _ => Self::Unknown,
        }
    }
}

/// The tag part of an image reference (see [`Container::image_tag`]).
fn image_tag(image: &str) -> &str {
    if let Some((_, digest)) = image.split_once('@') {
        return digest;
    }
    // A `:` before the last `/` belongs to the registry's port, not to a tag.
    let name = image.rsplit('/').next().unwrap_or(image);
    match name.rsplit_once(':') {
        Some((_, tag)) if !tag.is_empty() => tag,
        _ => "latest",
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn wit_context() -> wit::Context {
        wit::Context {
            service: "web".into(),
            pods: vec![wit::Pod {
                name: "web-7d4b9-x2x".into(),
                namespace: "default".into(),
                phase: "Running".into(),
                pod_ip: Some("127.0.0.7".into()),
                pod_ips: vec!["127.0.0.7".into()],
                node_name: Some("node-a".into()),
                labels: vec![("app".into(), "web".into())],
                annotations: vec![("team".into(), "blue".into())],
                created: Some("2026-11-22T18:43:20Z".into()),
                containers: vec![wit::Container {
                    name: "nginx".into(),
                    image: "nginx:1.27".into(),
                    ready: true,
                    restart_count: 2,
                    state: "waiting".into(),
                    reason: Some("CrashLoopBackOff".into()),
                }],
            }],
            config: vec![
                ("port".into(), "9090".into()),
                ("path".into(), "/version".into()),
            ],
        }
    }

    #[test]
    fn config_looks_up_a_key() {
        let ctx = Context::from(wit_context());
        assert_eq!(ctx.config("port"), Some("9090"));
        assert_eq!(ctx.config("path"), Some("/version"));
    }

    #[test]
    fn config_of_a_missing_key_is_none() {
        assert_eq!(Context::from(wit_context()).config("release"), None);
    }

    #[test]
    fn config_keeps_the_last_of_repeated_keys() {
        let mut raw = wit_context();
        raw.config.push(("port".into(), "8081".into()));
        assert_eq!(Context::from(raw).config("port"), Some("8081"));
    }

    #[test]
    fn pod_converts_with_label_and_annotation_lookup() {
        let ctx = Context::from(wit_context());
        let pod = &ctx.pods[0];
        assert_eq!(pod.label("app"), Some("web"));
        assert_eq!(pod.label("team"), None);
        assert_eq!(pod.annotation("team"), Some("blue"));
        assert_eq!(pod.ip.as_deref(), Some("127.0.0.7"));
        assert_eq!(pod.node.as_deref(), Some("node-a"));
    }

    #[test]
    fn container_converts_state_and_counts() {
        let ctx = Context::from(wit_context());
        let container = &ctx.pods[0].containers[0];
        assert_eq!(container.state, ContainerState::Waiting);
        assert_eq!(container.restart_count, 2);
        assert_eq!(container.reason.as_deref(), Some("CrashLoopBackOff"));
        assert_eq!(container.image_tag(), "1.27");
    }

    #[test]
    fn container_state_of_an_unexpected_string_is_unknown() {
        assert_eq!(ContainerState::parse("exploded"), ContainerState::Unknown);
    }

    #[rstest]
    #[case::name_and_tag("nginx:1.27", "1.27")]
    #[case::no_tag_means_latest("nginx", "latest")]
    #[case::registry_port_and_tag("registry.local:5000/team/app:v2", "v2")]
    #[case::registry_port_without_tag("registry.local:5000/team/app", "latest")]
    #[case::digest_wins_over_tag("nginx:1.27@sha256:0123abcd", "sha256:0123abcd")]
    #[case::empty_tag_means_latest("nginx:", "latest")]
    fn image_tag_of(#[case] image: &str, #[case] tag: &str) {
        assert_eq!(image_tag(image), tag);
    }
}
