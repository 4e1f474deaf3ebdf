//! kube-shields: status badges for every workload in a Kubernetes cluster.
//!
//! The request path reads top to bottom: [`server`] routes a badge URL, [`checks`] resolves
//! the service from the watched pod index ([`pods`]) and runs the built-in health check or a
//! plugin ([`plugin`], loaded by [`plugin_dir`]), and `kube-shields-badge` renders the answer; a service of another cluster is answered
//! through [`peers`]. [`app`]
//! wires them; `main`, [`check_command`] and the tests all build through [`app::App::new`].
#![deny(missing_docs)]

mod allocator;
pub use allocator::commit_lazily;
pub mod app;
pub mod auth;
mod changes;
pub mod check_command;
pub mod checks;
pub mod config;
mod error_chain;
pub mod language;
mod metrics;
pub mod new_project;
pub mod peers;
pub mod plugin;
pub mod plugin_dir;
pub mod pods;
mod raw;
pub use raw::{RawAnswer, RawBody};
mod result_cache;
mod schedule;
pub mod server;
