//! Write kube-shields checks as plain Rust functions, compiled to a WebAssembly component.
//!
//! A plugin is one `cdylib` crate for one service (`<service>.wasm`). Each check is a
//! function from the service's [`Context`] to an [`Outcome`] (a raw value or a [`Shield`]);
//! one [`checks!`] line per check registers it, and its doc comment becomes the check's
//! description. Each check becomes a badge at `/_/<service>/<check>/`.
//!
//! ```
//! use std::collections::BTreeSet;
//!
//! use kube_shields_plugin::{checks, http, log, Context, Outcome, Shield};
//!
//! fn image(ctx: &Context) -> Result<Outcome, String> {
//!     let tags: BTreeSet<&str> = ctx
//!         .pods
//!         .iter()
//!         .flat_map(|pod| &pod.containers)
//!         .map(|container| container.image_tag())
//!         .collect();
//!     let color = if tags.len() == 1 { "blue" } else { "yellow" };
//!     Ok(Shield::new(tags.into_iter().collect::<Vec<_>>().join(", ")).color(color).into())
//! }
//!
//! fn release(ctx: &Context) -> Result<Outcome, String> {
//!     Ok(Outcome::raw(ctx.config("release").unwrap_or("unknown")))
//! }
//!
//! // Checks may return anything `Into<Outcome>` and any displayable error.
//! fn version(ctx: &Context) -> Result<String, http::HttpError> {
//!     let Some(ip) = ctx.pods.first().and_then(|pod| pod.ip.as_deref()) else {
//!         return Ok("no pods".into());
//!     };
//!     let response = http::get(&format!("http://{ip}:8080/version"))?;
//!     if !response.is_success() {
//!         log::warn(format!("{ip} answered {}", response.status));
//!     }
//!     Ok(response.text().trim().to_owned())
//! }
//!
//! checks! {
//!     /// Distinct image tags of the service's pods.
//!     image => image,
//!     /// The release named in the plugin's settings.
//!     release => release,
//!     /// What the first pod's `/version` says.
//!     "app-version" => version,
//! }
//! # fn main() {}
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2` (crate type `cdylib`);
//! the file under `target/wasm32-wasip2/release/` is already a component of the world
//! `kube-shields:plugin/check-plugin`, ready for `kube-shields check <file>.wasm`.
//!
//! Besides the log import ([`log`]) a plugin may use WASI clocks, random and
//! stdout/stderr (both go to the host log), outgoing HTTP ([`http`]) and the controllers
//! of the service's pods ([`Context::controllers`]: generation, conditions, rollout
//! status); it has no filesystem and an empty environment. A panic ends the call as a trap.

#![deny(missing_docs)]

#[doc(hidden)]
pub mod bindings;
mod context;
pub mod http;
pub mod log;
mod outcome;
mod registry;
mod workload;

pub use context::{Container, ContainerState, Context, Pod};
pub use outcome::{Outcome, Shield};
/// For [`http::Response::json`]: `serde_json::Value` and friends without a dependency of your own.
#[cfg(feature = "json")]
pub use serde_json;
pub use workload::{Condition, Controller, RolloutStatus};

/// Registers the plugin's checks and exports the `checks` interface for them.
///
/// One `name => function` entry per check, each under an optional doc comment whose
/// first paragraph becomes the check's description. The name is an identifier or a
/// string literal (for names with `-`); names must match `[a-z0-9][a-z0-9_-]*`, be at
/// most 63 characters and not be `health`, or the plugin does not compile. The
/// function takes `&Context` and returns `Result<T, E>` with `T: Into<Outcome>`
/// (an [`Outcome`], a [`Shield`], a `String`) and `E: Display`; a closure works too.
///
/// ```
/// use kube_shields_plugin::{checks, Context, Outcome};
///
/// fn pods(ctx: &Context) -> Result<Outcome, String> {
///     Ok(Outcome::raw(ctx.pods.len().to_string()))
/// }
///
/// checks! {
///     /// Number of pods.
///     pods => pods,
///     /// The service's name.
///     "service-name" => |ctx: &Context| Ok::<_, String>(ctx.service.clone()),
/// }
/// # fn main() {}
/// ```
///
/// A reserved or malformed name does not compile:
///
/// ```compile_fail
/// use kube_shields_plugin::{checks, Context};
///
/// checks! {
///     health => |_: &Context| Ok::<_, String>("fine"),
/// }
/// # fn main() {}
/// ```
///
/// Use it once per plugin crate: it exports the component's functions.
#[macro_export]
macro_rules! checks {
    ($($entries:tt)+) => {
        $crate::__checks!(@entries [] $($entries)+);
    };
}

/// `checks!` in steps: first one entry at a time into `[{name doc run} ...]` (a name
/// is an identifier or a literal, which one arm cannot take), then the exports.
#[doc(hidden)]
#[macro_export]
macro_rules! __checks {
    (@entries [$($done:tt)*] $(#[doc = $doc:literal])* $name:ident => $run:expr $(, $($rest:tt)*)?) => {
        $crate::__checks!(@entries [$($done)* {(::core::stringify!($name)) [$($doc)*] ($run)}] $($($rest)*)?);
    };
    (@entries [$($done:tt)*] $(#[doc = $doc:literal])* $name:literal => $run:expr $(, $($rest:tt)*)?) => {
        $crate::__checks!(@entries [$($done)* {($name) [$($doc)*] ($run)}] $($($rest)*)?);
    };
    (@entries [$({($name:expr) [$($doc:literal)*] ($run:expr)})+]) => {
        const _: () = {
            $(
                ::core::assert!(
                    $crate::__private::is_plugin_check_name($name),
                    ::core::concat!(
                        "invalid check name `", $name,
                        "`: names are [a-z0-9][a-z0-9_-]*, at most 63 characters, and not `health`"
                    )
                );
            )+

            static CHECKS: &[$crate::__private::Check] = &[$(
                $crate::__private::Check {
                    name: $name,
                    doc: ::core::concat!($($doc, "\n",)*),
                    run: |ctx| $crate::__private::adapt(($run)(ctx)),
                },
            )+];

            struct Plugin;

            impl $crate::__private::Guest for Plugin {
                fn list_checks() -> $crate::__private::Vec<$crate::__private::CheckInfo> {
                    $crate::__private::list(CHECKS)
                }

                fn run_check(
                    name: $crate::__private::String,
                    ctx: $crate::__private::WitContext,
                ) -> ::core::result::Result<$crate::__private::WitOutcome, $crate::__private::String> {
                    $crate::__private::run(CHECKS, &name, ctx)
                }
            }

            $crate::__private::export_check_plugin!(Plugin with_types_in $crate::__private::bindings);
        };
    };
}

/// What `checks!` expands to; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use std::string::String;
    pub use std::vec::Vec;

    pub use crate::bindings;
    pub use crate::bindings::export_check_plugin;
    pub use crate::bindings::exports::kube_shields::plugin::checks::{CheckInfo, Guest};
    pub use crate::bindings::kube_shields::plugin::types::{
        Context as WitContext, Outcome as WitOutcome,
    };
    pub use crate::registry::{Check, adapt, list, run};
    pub use kube_shields_check_name::is_plugin_check_name;
}
