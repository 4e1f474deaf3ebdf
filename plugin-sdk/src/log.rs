//! Messages to the host's log, tagged by the host with the plugin and the check.
//!
//! ```no_run
//! kube_shields_plugin::log::warn(format!("pod {} has no IP yet", "web-1"));
//! ```

use crate::bindings::kube_shields::plugin::logging::{Level, log};

/// Logs detail for the plugin author.
pub fn debug(message: impl AsRef<str>) {
    log(Level::Debug, message.as_ref());
}

/// Logs normal operation.
pub fn info(message: impl AsRef<str>) {
    log(Level::Info, message.as_ref());
}

/// Logs something that looks wrong while the check goes on.
pub fn warn(message: impl AsRef<str>) {
    log(Level::Warn, message.as_ref());
}

/// Logs that the check cannot do its work.
pub fn error(message: impl AsRef<str>) {
    log(Level::Error, message.as_ref());
}
