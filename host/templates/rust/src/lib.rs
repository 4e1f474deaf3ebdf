//! Checks for the `{service}` service. Build and try them:
//! `./build.sh && kube-shields check {service}.wasm --pods pods.json`

use kube_shields_plugin::{Context, Outcome, Shield, checks, log};

fn running(ctx: &Context) -> Result<Shield, String> {
    let total = ctx.pods.len();
    if total == 0 {
        return Ok(Shield::new("no pods").color("lightgrey"));
    }
    let up = ctx.pods.iter().filter(|pod| pod.phase == "Running").count();
    log::info(format!("{up} of {total} pods run"));
    let color = if up == total { "green" } else { "red" };
    Ok(Shield::new(format!("{up}/{total} running")).color(color))
}

fn release(ctx: &Context) -> Result<Outcome, String> {
    Ok(Outcome::raw(ctx.config("release").unwrap_or("unknown")))
}

// One line per check: its name (the badge URL's last part) and its function; the doc
// comment is the check's description. HTTP to the service's pods is one call:
// `kube_shields_plugin::http::get(&url)` (or `http::get_all(&urls)` for every pod at once).
checks! {
    /// Running pods out of all: green when all run, red otherwise.
    running => running,
    /// The release named in {service}.toml's [config].
    release => release,
}
