//! Check plugins: WebAssembly components that turn a service's pods into badges.
//!
//! [`PluginEngine`] compiles a plugin and prepares it once ([`LoadedPlugin`]); every check
//! runs in a fresh, sandboxed instance ([`LoadedPlugin::run`]) under the limits of its
//! [`PluginSettings`].

mod bindings;
mod engine;
mod error;
mod http;
mod loaded;
mod outcome;
mod output;
mod sandbox;
mod settings;

pub use engine::PluginEngine;
pub use error::PluginError;
pub use loaded::LoadedPlugin;
pub use outcome::{CheckInfo, MAX_LABEL_CHARS, MAX_STATUS_CHARS, Outcome, cut_status};
pub use settings::PluginSettings;
