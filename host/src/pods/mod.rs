//! Where pods come from and how they become services: the watched pod store, the naming rule,
//! the service index and the built-in health check.

// The modules are the crate's; what the rest of the world uses is re-exported below (Extism's
// way): the layers above reach in by path, a test or tool outside uses these names.
pub(crate) mod connection;
pub(crate) mod file;
pub(crate) mod health;
pub(crate) mod index;
pub(crate) mod kube;
pub(crate) mod model;
pub(crate) mod naming;
mod repage;
pub(crate) mod rollout;
pub(crate) mod source;
pub(crate) mod watch_health;
pub(crate) mod wire;
pub(crate) mod workload;
mod workload_watch;

pub use connection::{KubeConnection, RBAC_RULE};
pub use file::read_pod_list_raw;
pub use health::{Health, health};
pub use index::SharedIndex;
pub use model::{ContainerInfo, PodInfo};
pub use source::{
    DEFAULT_WATCH_TIMEOUT, PodOrigin, PodSourceConfig, PodsError, WatchBackoff, start,
};
pub use wire::PartialWorkload;
pub use workload::{KindAccess, WorkloadInfo, WorkloadKind};
