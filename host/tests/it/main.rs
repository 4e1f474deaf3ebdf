//! kube-shields' integration tests, one binary (one link of wasmtime, kube and reqwest instead
//! of one per file): each module is the former `tests/<name>.rs`.

mod common;

mod c_plugin;
mod check_command;
mod cli;
mod discovery;
mod federation;
mod history;
mod http_api;
mod index_browser;
mod plugin_engine;
mod plugin_reload;
mod plugin_workload;
mod replicas;
mod rollout;
mod script_plugins;
mod script_runtimes;
