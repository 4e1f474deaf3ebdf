//! Scripts as plugins: an author's `<service>.py` / `<service>.js` run by a language runtime
//! component (world `script-runtime`) that is compiled and prepared once per process.

use super::bindings::CheckPluginPre;
use super::error::PluginError;
use super::sandbox::CallState;

/// Most bytes of a script: a ConfigMap holds at most 1 MiB in all.
pub const MAX_SCRIPT_BYTES: usize = 1024 * 1024;

/// An author's script, as found in the plugin directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// The file name shown in errors, e.g. `web.py`.
    pub file_name: String,
    /// The script's text.
    pub text: String,
}

impl Script {
    /// A script from a file's bytes: UTF-8 and at most [`MAX_SCRIPT_BYTES`].
    pub fn from_bytes(file_name: &str, bytes: Vec<u8>) -> Result<Self, PluginError> {
        let text = String::from_utf8(bytes).map_err(|err| {
            PluginError::Script(format!(
                "{file_name}: not UTF-8 text (invalid byte at offset {})",
                err.utf8_error().valid_up_to()
            ))
        })?;
        Script {
            file_name: file_name.to_owned(),
            text,
        }
        .checked()
    }

    pub(crate) fn checked(self) -> Result<Self, PluginError> {
        if self.text.len() > MAX_SCRIPT_BYTES {
            return Err(PluginError::Script(format!(
                "{}: {} bytes; at most {MAX_SCRIPT_BYTES}",
                self.file_name,
                self.text.len()
            )));
        }
        Ok(self)
    }
}

/// A language runtime (e.g. `python.wasm`), compiled, linked and ready for fresh instances;
/// cheap to clone. Made by [`super::PluginEngine::prepare_runtime`].
#[derive(Clone)]
pub struct PreparedRuntime {
    pub(crate) pre: CheckPluginPre<CallState>,
}

impl std::fmt::Debug for PreparedRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedRuntime").finish_non_exhaustive()
    }
}
