//! The one error type of the plugin layer.

/// Why a plugin could not be loaded or a check could not run.
///
/// The `Display` text is the detail for the log, the plugin status and the author CLI; a
/// public badge shows only [`PluginError::badge_text`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    /// The bytes are neither a WebAssembly binary nor WebAssembly text, or do not validate.
    #[error("not a WebAssembly component: {0}")]
    NotWasm(String),
    /// The component is not a `kube-shields:plugin/check-plugin` (the text says what is missing).
    #[error("not a kube-shields check plugin: {0}")]
    WrongWorld(String),
    /// The plugin trapped (a Rust panic lands here, with its message from stderr).
    #[error("plugin trapped: {0}")]
    Trap(String),
    /// The call ran past its deadline.
    #[error("plugin ran past its deadline")]
    Timeout,
    /// The plugin tried to grow its memory past the cap.
    #[error("plugin exceeded its memory cap")]
    OutOfMemory,
    /// A script cannot run (syntax error, failing import, listing its checks raised); the
    /// text names the file and line, e.g. `web.py:3: SyntaxError: invalid syntax`.
    #[error("script failed: {0}")]
    Script(String),
    /// The check returned an error; this is its text.
    #[error("check failed: {0}")]
    Plugin(String),
    /// The plugin does not offer a check of this name.
    #[error("the plugin has no check `{0}`")]
    UnknownCheck(String),
    /// The plugin lists no check that can be served (none, or only refused names): it would
    /// serve nothing, so it is a load error rather than a plugin that quietly does nothing.
    #[error("{}", no_check_text(.0))]
    NoCheck(Vec<RefusedCheck>),
    /// The settings file is invalid.
    #[error("invalid plugin settings: {0}")]
    Settings(String),
    /// A file could not be read (the text names it).
    #[error("{0}")]
    Read(String),
    /// The author CLI could not write its output.
    #[error("cannot write output: {0}")]
    Write(String),
    /// The host could not set up the sandbox (not the plugin's fault).
    #[error("plugin host failure: {0}")]
    Host(String),
}

impl PluginError {
    /// The status text of the error badge: `timeout` for a timeout, `error` otherwise.
    pub fn badge_text(&self) -> &'static str {
        match self {
            PluginError::Timeout => "timeout",
            _ => "error",
        }
    }
}

/// A check a plugin listed that cannot be served, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedCheck {
    /// The name as listed, escaped and cut for display.
    pub name: String,
    /// Why, e.g. "is reserved for the built-in check".
    pub reason: String,
}

impl std::fmt::Display for RefusedCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "check `{}` {}", self.name, self.reason)
    }
}

fn no_check_text(refused: &[RefusedCheck]) -> String {
    if refused.is_empty() {
        return "the plugin lists no check".to_owned();
    }
    let each: Vec<String> = refused.iter().map(ToString::to_string).collect();
    format!(
        "the plugin offers no check it can serve: {}",
        each.join("; ")
    )
}
