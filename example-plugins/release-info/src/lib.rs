//! A service made only of a plugin: its badge shows the release named in its settings,
//! e.g. `release = "2026.11"` in `[config]` of `release-info.toml`.

use kube_shields_plugin::{Context, Outcome, checks};

fn release(ctx: &Context) -> Result<Outcome, String> {
    Ok(Outcome::raw(ctx.config("release").unwrap_or("unknown")))
}

checks! {
    /// The release named by the `release` setting, `unknown` without one.
    release => release,
}
