//! A prepared plugin: its accepted checks and warnings, and a fresh instance per call.

use std::collections::HashSet;
use std::sync::Arc;

use kube_shields_check_name::{RULE as CHECK_NAME_RULE, is_check_name, is_reserved};

use super::bindings::CheckPluginPre;
use super::bindings::kube_shields::plugin::types;
use super::error::{PluginError, RefusedCheck};
use super::outcome::{CheckInfo, MAX_ERROR_CHARS, MAX_STATUS_CHARS, Outcome, cut};
use super::output::CallTags;
use super::sandbox::{Call, CallState};
use super::script::Script;
use super::settings::PluginSettings;
use super::threads::PluginThreads;
use crate::pods::model::PodInfo;
use crate::pods::workload::WorkloadInfo;
/// The check tag of the one call made at load time.
const LIST_CHECKS_TAG: &str = "(list-checks)";

/// A plugin ready to run: compiled, linked and listed once.
pub struct LoadedPlugin {
    service: Arc<str>,
    checks: Vec<CheckInfo>,
    warnings: Vec<String>,
    settings: PluginSettings,
    pre: CheckPluginPre<CallState>,
    /// The author's script when `pre` is a language runtime.
    script: Option<Arc<Script>>,
    threads: PluginThreads,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("service", &self.service)
            .field("checks", &self.checks)
            .field("warnings", &self.warnings)
            .field("settings", &self.settings)
            .field("script", &self.script.as_ref().map(|s| &s.file_name))
            .finish_non_exhaustive()
    }
}

impl LoadedPlugin {
    /// Calls `list-checks` once and keeps the checks whose names are acceptable.
    pub(crate) async fn list_checks(
        service: &str,
        pre: CheckPluginPre<CallState>,
        script: Option<Arc<Script>>,
        settings: PluginSettings,
        threads: PluginThreads,
    ) -> Result<Self, PluginError> {
        let service: Arc<str> = service.into();
        let (listed, _) = Call {
            tags: tags(&service, LIST_CHECKS_TAG),
            settings: &settings,
            pods: &[],
            controllers: &[],
            script: script.as_ref(),
            threads: &threads,
        }
        .run(&pre, |guest, store| Box::pin(guest.call_list_checks(store)))
        .await?;
        let (checks, refused) = accept_checks(listed);
        if checks.is_empty() {
            return Err(PluginError::NoCheck(refused));
        }
        let warnings = refused
            .iter()
            .map(|refusal| format!("{refusal}; ignored"))
            .collect();
        Ok(LoadedPlugin {
            service,
            checks,
            warnings,
            settings,
            pre,
            script,
            threads,
        })
    }

    /// The checks this plugin offers, in the plugin's order.
    pub fn checks(&self) -> &[CheckInfo] {
        &self.checks
    }

    /// Why listed checks were refused, e.g. "check `health` is reserved for the built-in
    /// check; ignored".
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The script's file name when this plugin is a script run by a language runtime.
    pub fn script_file(&self) -> Option<&str> {
        self.script.as_ref().map(|script| script.file_name.as_str())
    }

    /// The settings the plugin runs with.
    pub fn settings(&self) -> &PluginSettings {
        &self.settings
    }

    /// Runs one check in a fresh instance with the service's pods as context (and no
    /// controllers: see [`run_with`](Self::run_with)).
    pub async fn run(&self, check: &str, pods: &[Arc<PodInfo>]) -> Result<Outcome, PluginError> {
        self.run_with(check, pods, &[]).await
    }

    /// Runs one check in a fresh instance with the service's pods and their controllers
    /// (`workload.controllers`) as context.
    pub async fn run_with(
        &self,
        check: &str,
        pods: &[Arc<PodInfo>],
        controllers: &[Arc<WorkloadInfo>],
    ) -> Result<Outcome, PluginError> {
        if !self.checks.iter().any(|info| info.name == check) {
            return Err(PluginError::UnknownCheck(check.to_owned()));
        }
        let ctx = types::Context {
            service: self.service.to_string(),
            pods: pods.iter().map(|pod| wit_pod(pod)).collect(),
            config: self
                .settings
                .config
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        };
        let check_name = check.to_owned();
        let (answer, memory_cap_hit) = Call {
            tags: tags(&self.service, check),
            settings: &self.settings,
            pods,
            controllers,
            script: self.script.as_ref(),
            threads: &self.threads,
        }
        .run(&self.pre, move |guest, store| {
            Box::pin(async move { guest.call_run_check(store, &check_name, &ctx).await })
        })
        .await?;
        match answer {
            Ok(outcome) => Ok(Outcome::from(outcome)),
            // An interpreter reports a refused `memory.grow` as an exception (Python's
            // `MemoryError`): the cap is the cause the operator needs to see.
            Err(_) if memory_cap_hit => Err(PluginError::OutOfMemory),
            Err(err) => Err(PluginError::Plugin(cut(err, MAX_ERROR_CHARS))),
        }
    }
}

fn tags(service: &Arc<str>, check: &str) -> CallTags {
    CallTags {
        plugin: Arc::clone(service),
        check: check.into(),
    }
}

/// Keeps the checks that can be served, and why each other one is refused.
fn accept_checks(listed: Vec<types::CheckInfo>) -> (Vec<CheckInfo>, Vec<RefusedCheck>) {
    let mut checks = Vec::new();
    let mut refused = Vec::new();
    let mut seen = HashSet::new();
    for info in listed {
        let name = cut(info.name.escape_debug().to_string(), 64);
        let reason = if is_reserved(&info.name) {
            "is reserved for the built-in check".to_owned()
        } else if !is_check_name(&info.name) {
            format!("has an invalid name (allowed: {CHECK_NAME_RULE})")
        } else if !seen.insert(info.name.clone()) {
            "is listed again".to_owned()
        } else {
            let description = info.description.map(|text| cut(text, MAX_STATUS_CHARS));
            checks.push(CheckInfo {
                name: info.name,
                description,
            });
            continue;
        };
        refused.push(RefusedCheck { name, reason });
    }
    (checks, refused)
}

fn wit_pod(pod: &PodInfo) -> types::Pod {
    types::Pod {
        name: pod.name.clone(),
        namespace: pod.namespace.clone(),
        phase: pod.phase.clone(),
        pod_ip: pod.pod_ip.clone(),
        pod_ips: pod.pod_ips.clone(),
        node_name: pod.node_name.clone(),
        labels: pod.labels.clone(),
        annotations: pod.annotations.clone(),
        created: pod.created.map(|t| t.to_string()),
        containers: pod
            .containers
            .iter()
            .map(|c| types::Container {
                name: c.name.clone(),
                image: c.image.clone(),
                ready: c.ready,
                restart_count: c.restart_count,
                state: c.state.clone(),
                reason: c.reason.clone(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(name: &str) -> types::CheckInfo {
        types::CheckInfo {
            name: name.to_owned(),
            description: None,
        }
    }

    #[test]
    fn refused_checks_are_named_with_why_and_the_rest_kept_in_order() {
        let (checks, refused) = accept_checks(vec![
            listed("b"),
            listed("health"),
            listed("Bad"),
            listed("a"),
            listed("b"),
        ]);
        let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["b", "a"]);
        let refused: Vec<String> = refused.iter().map(ToString::to_string).collect();
        assert_eq!(
            refused,
            [
                "check `health` is reserved for the built-in check",
                "check `Bad` has an invalid name (allowed: [a-z0-9][a-z0-9_-]*, at most 63 characters)",
                "check `b` is listed again",
            ]
        );
    }

    #[test]
    fn no_check_to_serve_says_why_each_was_refused() {
        let (checks, refused) = accept_checks(vec![listed("TLS days"), listed("health")]);
        assert!(checks.is_empty());
        assert_eq!(
            PluginError::NoCheck(refused).to_string(),
            "the plugin offers no check it can serve: check `TLS days` has an invalid name \
             (allowed: [a-z0-9][a-z0-9_-]*, at most 63 characters); check `health` is reserved \
             for the built-in check"
        );
        assert_eq!(
            PluginError::NoCheck(Vec::new()).to_string(),
            "the plugin lists no check"
        );
    }
}
