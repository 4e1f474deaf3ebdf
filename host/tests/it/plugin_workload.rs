//! The `workload` interface (contract 0.1.3) from the plugin author's side: a check reads the
//! controllers of the service's pods (`LoadedPlugin::run_with`) in Python and JavaScript (the
//! runtimes `scripts/build-runtimes.sh` builds into `target/runtimes`) and in Rust (the SDK's
//! `ctx.controllers()`, the example `example-plugins/generation`); without controllers
//! (`LoadedPlugin::run`) they see none; a plugin built against 0.1.2 still loads.

use std::sync::{Arc, LazyLock};

use crate::common;

use fake_apiserver::PodBuilder;
use kube_shields::plugin::{
    LoadedPlugin, Outcome, PluginEngine, PluginSettings, PreparedRuntime, Script,
};
use kube_shields::pods::PartialWorkload;
use kube_shields::pods::PodInfo;
use kube_shields::pods::{WorkloadInfo, WorkloadKind};
use rstest::rstest;
use serde_json::{Value, json};

static ENGINE: LazyLock<PluginEngine> =
    LazyLock::new(|| PluginEngine::new().expect("plugin engine"));

/// The guides' `deploy` check; `count`, and `first` and `last`: every field a script sees of
/// a controller, as JSON (a raw value keeps 256 characters).
const PYTHON: &str = r#"
import json
from kube_shields import check, shield

@check
def deploy(ctx):
    """The controller's generation: green when observed and Available."""
    if not ctx.controllers:
        return shield("no controller", color="lightgrey")
    c = ctx.controllers[0]
    available = c.condition("Available")
    if (c.generation is not None and c.observed_generation == c.generation
            and available is not None and available.status == "True"):
        return shield(f"gen {c.observed_generation}/{c.generation}", color="green")
    return shield(c.rollout_message, color="yellow")

def dump(c):
    return json.dumps(
        [c.kind, c.namespace, c.name, c.generation, c.observed_generation, c.replicas,
         c.rollout_status, c.rollout_message,
         [[x.type, x.status, x.reason, x.message] for x in c.conditions]],
        separators=(",", ":"),
    )

@check
def count(ctx):
    return len(ctx.controllers)

@check
def first(ctx):
    return dump(ctx.controllers[0])

@check
def last(ctx):
    return dump(ctx.controllers[-1])
"#;

const JS: &str = r#"
check('deploy', "The controller's generation: green when observed and Available.", (ctx) => {
  const c = ctx.controllers[0];
  if (!c) return shield('no controller', { color: 'lightgrey' });
  const available = c.condition('Available')?.status === 'True';
  if (c.generation !== null && c.observedGeneration === c.generation && available) {
    return shield(`gen ${c.observedGeneration}/${c.generation}`, { color: 'green' });
  }
  return shield(c.rolloutMessage, { color: 'yellow' });
});

const dump = (c) =>
  JSON.stringify([
    c.kind, c.namespace, c.name, c.generation, c.observedGeneration, c.replicas,
    c.rolloutStatus, c.rolloutMessage,
    c.conditions.map((x) => [x.type, x.status, x.reason, x.message]),
  ]);

check('count', (ctx) => ctx.controllers.length);
check('first', (ctx) => dump(ctx.controllers[0]));
check('last', (ctx) => dump(ctx.controllers[ctx.controllers.length - 1]));
"#;

#[derive(Debug, Clone, Copy)]
enum Lang {
    Python,
    Js,
}

impl Lang {
    /// The runtime, prepared once per test process.
    fn runtime(self) -> &'static PreparedRuntime {
        static PYTHON: LazyLock<PreparedRuntime> = LazyLock::new(|| prepare("python.wasm"));
        static JS: LazyLock<PreparedRuntime> = LazyLock::new(|| prepare("js.wasm"));
        match self {
            Lang::Python => &PYTHON,
            Lang::Js => &JS,
        }
    }

    fn script(self) -> Script {
        let (file_name, text) = match self {
            Lang::Python => ("web.py", PYTHON),
            Lang::Js => ("web.js", JS),
        };
        Script {
            file_name: file_name.to_owned(),
            text: text.to_owned(),
        }
    }
}

/// The runtime from the compile cache every test shares (compiled there once per machine).
fn prepare(file: &str) -> PreparedRuntime {
    common::prepared_runtime(&ENGINE, file)
}

async fn script(lang: Lang) -> LoadedPlugin {
    ENGINE
        .load_script(
            "web",
            lang.runtime(),
            lang.script(),
            PluginSettings::default(),
        )
        .await
        .expect("script loads")
}

/// The Rust example `example-plugins/generation` (SDK: `ctx.controllers()`).
async fn rust_example() -> LoadedPlugin {
    let bytes = std::fs::read(common::example_plugin("generation")).unwrap();
    ENGINE
        .load("web", &bytes, PluginSettings::default())
        .await
        .expect("generation loads")
}

/// A workload as the host's watch reads it: `WorkloadInfo::read` of the object's JSON.
fn workload(kind: WorkloadKind, object: Value) -> Arc<WorkloadInfo> {
    let partial: PartialWorkload = serde_json::from_value(object).expect("a workload");
    Arc::new(WorkloadInfo::read(kind, partial))
}

/// The Deployment `web` in `namespace` at `generation`, its controller having observed
/// `observed`, all 3 replicas updated and available.
fn deployment(namespace: &str, generation: i64, observed: i64) -> Arc<WorkloadInfo> {
    workload(
        WorkloadKind::Deployment,
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": namespace, "generation": generation},
            "spec": {"replicas": 3, "progressDeadlineSeconds": 600},
            "status": {
                "observedGeneration": observed,
                "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3,
                "conditions": [
                    {"type": "Available", "status": "True",
                     "reason": "MinimumReplicasAvailable",
                     "message": "Deployment has minimum availability."},
                    {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
                ],
            },
        }),
    )
}

fn pods() -> [Arc<PodInfo>; 2] {
    let pod = |name| Arc::new(PodInfo::from(&PodBuilder::new("default", name).build()));
    [pod("web-7d4b9-a1"), pod("web-7d4b9-b2")]
}

fn shield(status: &str, color: &str) -> Outcome {
    Outcome::Shield {
        label: None,
        status: status.to_owned(),
        color: Some(color.to_owned()),
    }
}

#[rstest]
#[case::python(Lang::Python)]
#[case::js(Lang::Js)]
#[tokio::test]
async fn a_script_reads_the_controller_of_its_pods(#[case] lang: Lang) {
    let plugin = script(lang).await;
    let pods = pods();

    let settled = [deployment("default", 3, 3)];
    assert_eq!(
        plugin.run_with("deploy", &pods, &settled).await,
        Ok(shield("gen 3/3", "green"))
    );

    let behind = [deployment("default", 5, 4)];
    assert_eq!(
        plugin.run_with("deploy", &pods, &behind).await,
        Ok(shield(
            "Deployment generation is 5, but latest observed generation is 4",
            "yellow"
        ))
    );

    // No controllers: a service made of a plugin only, or a kind the host may not read.
    assert_eq!(
        plugin.run("deploy", &pods).await,
        Ok(shield("no controller", "lightgrey"))
    );
}

#[rstest]
#[case::python(Lang::Python)]
#[case::js(Lang::Js)]
#[tokio::test]
async fn a_script_sees_every_field_of_every_controller(#[case] lang: Lang) {
    let plugin = script(lang).await;
    let mid_rollout = workload(
        WorkloadKind::Deployment,
        json!({
            "metadata": {"name": "web", "namespace": "staging", "generation": 4},
            "spec": {"replicas": 3},
            "status": {
                "observedGeneration": 4,
                "replicas": 3, "updatedReplicas": 2, "readyReplicas": 3, "availableReplicas": 3,
                "conditions": [{"type": "Available", "status": "True"}],
            },
        }),
    );
    let controllers = [deployment("default", 3, 3), mid_rollout];
    let run = async |check| match plugin.run_with(check, &pods(), &controllers).await {
        Ok(Outcome::Raw(text)) => serde_json::from_str::<Value>(&text).expect("JSON"),
        other => panic!("{check}: not a raw value: {other:?}"),
    };
    assert_eq!(run("count").await, json!(2));
    assert_eq!(
        run("first").await,
        json!([
            "Deployment",
            "default",
            "web",
            3,
            3,
            3,
            "Current",
            "Deployment is available. Replicas: 3",
            [
                [
                    "Available",
                    "True",
                    "MinimumReplicasAvailable",
                    "Deployment has minimum availability."
                ],
                ["Progressing", "True", "NewReplicaSetAvailable", null],
            ],
        ])
    );
    assert_eq!(
        run("last").await,
        json!([
            "Deployment",
            "staging",
            "web",
            4,
            4,
            3,
            "InProgress",
            "Updated: 2/3",
            [["Available", "True", null, null]],
        ])
    );
    assert_eq!(
        plugin.run("count", &pods()).await,
        Ok(Outcome::Raw("0".into()))
    );
}

#[tokio::test]
async fn the_rust_example_reads_the_controller_through_the_sdk() {
    let plugin = rust_example().await;
    let pods = pods();
    assert_eq!(
        plugin
            .run_with("deploy", &pods, &[deployment("default", 3, 3)])
            .await,
        Ok(shield("gen 3/3", "green"))
    );
    assert_eq!(
        plugin
            .run_with("deploy", &pods, &[deployment("default", 5, 4)])
            .await,
        Ok(shield(
            "Deployment generation is 5, but latest observed generation is 4",
            "yellow"
        ))
    );
    assert_eq!(
        plugin.run("deploy", &[]).await,
        Ok(shield("no controller", "lightgrey"))
    );
}

/// A component built against 0.1.2 (it exports `checks@0.1.2` and imports no `workload`)
/// loads, and runs with controllers in the context as without.
#[tokio::test]
async fn a_plugin_built_against_0_1_2_still_loads_and_runs_with_controllers() {
    let good = std::fs::read_to_string(common::fixture("good.wat")).unwrap();
    let old = good.replace(
        "kube-shields:plugin/checks@0.1.0",
        "kube-shields:plugin/checks@0.1.2",
    );
    assert_ne!(old, good, "good.wat names its version");
    let plugin = ENGINE
        .load("web", old.as_bytes(), PluginSettings::default())
        .await
        .expect("a 0.1.2 plugin loads");
    let pods = pods();
    assert_eq!(
        plugin
            .run_with("pod-count", &pods, &[deployment("default", 3, 3)])
            .await,
        Ok(Outcome::Raw("2".into()))
    );
    assert_eq!(plugin.run("ok", &pods).await, Ok(shield("ok", "green")));
}
