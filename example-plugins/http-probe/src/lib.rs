//! Asks every pod over HTTP: `GET http://<pod IP>:<port><path>` (settings `port`, default
//! `8080`, and `path`, default `/`) and shows what they answered.

use kube_shields_plugin::{Context, Shield, checks, http, log};

/// The `http` badge: green with the answer when every pod answers 2xx with the same
/// first line, green `N/N ok` when they differ, red `N/M ok` when any fails.
fn probe(ctx: &Context) -> Result<Shield, String> {
    if ctx.pods.is_empty() {
        return Ok(Shield::new("no pods").color("lightgrey"));
    }
    let port = ctx.config("port").unwrap_or("8080");
    let path = ctx.config("path").unwrap_or("/");
    let targets: Vec<(&str, String)> = ctx
        .pods
        .iter()
        .filter_map(|pod| {
            let ip = pod.ip.as_deref();
            if ip.is_none() {
                log::debug(format!("pod {} has no IP yet", pod.name));
            }
            ip.map(|ip| (pod.name.as_str(), url(ip, port, path)))
        })
        .collect();
    if targets.is_empty() {
        return Ok(Shield::new("no pod IPs").color("lightgrey"));
    }
    let urls: Vec<&str> = targets.iter().map(|(_, url)| url.as_str()).collect();
    let answers: Vec<Option<String>> = http::get_all(&urls)
        .into_iter()
        .zip(&targets)
        .map(|(result, (pod, url))| match result {
            Ok(response) if response.is_success() => Some(first_line(&response.text()).to_owned()),
            Ok(response) => {
                log::warn(format!("pod {pod}: GET {url} answered {}", response.status));
                None
            }
            Err(error) => {
                log::warn(format!("pod {pod}: GET {url} failed: {error}"));
                None
            }
        })
        .collect();
    Ok(summary(&answers))
}

/// The URL of `path` on `port` of a pod; IPv6 addresses go in brackets.
fn url(ip: &str, port: &str, path: &str) -> String {
    let host = if ip.contains(':') {
        format!("[{ip}]")
    } else {
        ip.to_owned()
    };
    let slash = if path.starts_with('/') { "" } else { "/" };
    format!("http://{host}:{port}{slash}{path}")
}

/// The first line of a body, without surrounding blanks.
fn first_line(body: &str) -> &str {
    body.trim().lines().next().unwrap_or_default().trim()
}

/// The badge for one answer per pod: `Some(first line)` after a 2xx, `None` after a failure.
fn summary(answers: &[Option<String>]) -> Shield {
    let ok: Vec<&str> = answers.iter().flatten().map(String::as_str).collect();
    let counts = format!("{}/{} ok", ok.len(), answers.len());
    if ok.len() < answers.len() {
        return Shield::new(counts).color("red");
    }
    match ok.split_first() {
        Some((first, rest)) if !first.is_empty() && rest.iter().all(|answer| answer == first) => {
            Shield::new(*first).color("green")
        }
        _ => Shield::new(counts).color("green"),
    }
}

checks! {
    /// What the pods answer to `GET <path>` on `<port>`: green when all answer 2xx.
    http => probe,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(list: &[Option<&str>]) -> Vec<Option<String>> {
        list.iter()
            .map(|answer| answer.map(str::to_owned))
            .collect()
    }

    #[test]
    fn agreeing_answers_show_the_answer() {
        assert_eq!(
            summary(&answers(&[Some("v1.4.2"), Some("v1.4.2")])),
            Shield::new("v1.4.2").color("green")
        );
    }

    #[test]
    fn differing_answers_show_counts_in_green() {
        assert_eq!(
            summary(&answers(&[Some("v1.4.2"), Some("v1.4.3")])),
            Shield::new("2/2 ok").color("green")
        );
    }

    #[test]
    fn empty_answers_show_counts() {
        assert_eq!(
            summary(&answers(&[Some(""), Some("")])),
            Shield::new("2/2 ok").color("green")
        );
    }

    #[test]
    fn any_failure_is_red() {
        assert_eq!(
            summary(&answers(&[Some("v1.4.2"), None, Some("v1.4.2")])),
            Shield::new("2/3 ok").color("red")
        );
    }

    #[test]
    fn first_line_is_trimmed() {
        assert_eq!(first_line("\n  ok  \nsecond line\n"), "ok");
    }

    #[test]
    fn urls_bracket_ipv6_and_add_a_missing_slash() {
        assert_eq!(
            url("127.0.0.7", "8080", "/healthz"),
            "http://127.0.0.7:8080/healthz"
        );
        assert_eq!(
            url("fd00::7", "9090", "version"),
            "http://[fd00::7]:9090/version"
        );
    }
}
