//! Check plugins: WebAssembly components that turn a service's pods into badges.
//!
//! [`PluginEngine`] compiles a plugin and prepares it once ([`LoadedPlugin`]); every check
//! runs in a fresh, sandboxed instance ([`LoadedPlugin::run`]) under the limits of its
//! [`PluginSettings`]. A script (`web.py`, `web.js`) is a plugin too: a language runtime
//! is prepared once ([`PluginEngine::prepare_runtime`]) and each script is loaded on it
//! ([`PluginEngine::load_script`]) without compiling anything.

mod bindings;
mod cpu_slots;
mod engine;
mod error;
mod http;
mod loaded;
mod outcome;
mod output;
mod sandbox;
mod script;
mod settings;
mod threads;

pub use engine::PluginEngine;
pub(crate) use engine::panic_text;
pub use error::{PluginError, RefusedCheck};
pub use loaded::LoadedPlugin;
pub use outcome::{CheckInfo, MAX_LABEL_CHARS, MAX_STATUS_CHARS, Outcome, cut_status};
pub use script::{MAX_SCRIPT_BYTES, PreparedRuntime, Script};
pub use settings::PluginSettings;
pub use threads::default_plugin_cpus;
