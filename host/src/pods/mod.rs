//! Where pods come from and how they become services: the watched pod store, the naming rule,
//! the service index and the built-in health check.

pub mod connection;
pub mod file;
pub mod health;
pub mod index;
pub mod kube;
pub mod model;
pub mod naming;
mod repage;
pub mod rollout;
pub mod source;
pub mod watch_health;
pub mod wire;
pub mod workload;
mod workload_watch;

pub use source::{DEFAULT_WATCH_TIMEOUT, PodOrigin, PodSourceConfig, PodsError, start};
