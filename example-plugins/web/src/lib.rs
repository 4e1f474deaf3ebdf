//! Checks for the `web` service, in Rust: the same three as `../python/web.py`, `../js/web.js`
//! and `../c/web.c`. Build with `cargo build --release --target wasm32-wasip2` and drop
//! `target/wasm32-wasip2/release/web.wasm` (with `web.toml`) into the plugin directory.

use std::collections::BTreeSet;

use kube_shields_plugin::{Context, Outcome, Shield, checks, http, log};

fn running(ctx: &Context) -> Result<Shield, String> {
    let total = ctx.pods.len();
    if total == 0 {
        return Ok(Shield::new("no pods").color("lightgrey"));
    }
    let up = ctx.pods.iter().filter(|pod| pod.phase == "Running").count();
    let color = if up == total { "green" } else { "red" };
    Ok(Shield::new(format!("{up}/{total} running")).color(color))
}

fn release(ctx: &Context) -> Result<Outcome, String> {
    Ok(Outcome::raw(ctx.config("release").unwrap_or("unknown")))
}

fn version(ctx: &Context) -> Result<Shield, String> {
    let port = ctx.config("port").unwrap_or("8080");
    let path = ctx.config("path").unwrap_or("/version");
    let asked: Vec<(&str, String)> = ctx
        .pods
        .iter()
        .filter_map(|pod| {
            let ip = pod.ip.as_deref()?;
            let host = if ip.contains(':') {
                format!("[{ip}]")
            } else {
                ip.to_owned()
            };
            Some((pod.name.as_str(), format!("http://{host}:{port}{path}")))
        })
        .collect();
    let urls: Vec<&str> = asked.iter().map(|(_, url)| url.as_str()).collect();
    // Every pod at once: the wait is the slowest pod's, not the sum.
    let mut answers = Vec::new();
    for ((pod, url), result) in asked.iter().zip(http::get_all(&urls)) {
        match result {
            Ok(response) if response.status == 200 => {
                answers.push(response.text().trim().to_owned())
            }
            Ok(response) => log::warn(format!("pod {pod}: {url}: HTTP {}", response.status)),
            Err(error) => log::warn(format!("pod {pod}: {url}: {error}")),
        }
    }
    let distinct: BTreeSet<&str> = answers.iter().map(String::as_str).collect();
    Ok(match distinct.len() {
        0 => Shield::new("no answer").color("red"),
        1 if answers.len() == ctx.pods.len() => Shield::new(answers[0].clone()).color("green"),
        _ => Shield::new(distinct.into_iter().collect::<Vec<_>>().join(", ")).color("yellow"),
    })
}

checks! {
    /// Running pods out of all: green when all run, red otherwise.
    running => running,
    /// The release named in the settings' [config] (`release = "..."`).
    release => release,
    /// What each pod answers on http://<pod IP>:<port><path> (config `port`, `path`).
    version => version,
}
