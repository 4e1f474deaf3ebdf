//! kube-shields: status badges for every workload in a Kubernetes cluster.
//!
//! The request path reads top to bottom: [`server`] routes a badge URL, [`pods`] resolves the
//! service from the watched pod index, [`checks`] runs the built-in health check or a
//! [`plugin`], and [`badge`] renders the answer.
#![deny(missing_docs)]

pub mod auth;
pub mod badge;
pub mod checks;
pub mod plugin;
pub mod plugin_dir;
pub mod pods;
pub mod server;
