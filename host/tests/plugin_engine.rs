//! The plugin engine against hand-written fixtures and the example plugins.

use std::path::PathBuf;
use std::sync::LazyLock;

use kube_shields::plugin::{Outcome, PluginEngine, PluginError, PluginSettings, LoadedPlugin};

static ENGINE: LazyLock<PluginEngine> = LazyLock::new(|| PluginEngine::new().expect("engine"));

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

async fn load(name: &str) -> Result<LoadedPlugin, PluginError> {
    ENGINE.load("web", &fixture(name), PluginSettings::default()).await
}

#[tokio::test]
async fn good_plugin_lists_and_runs_its_checks() {
    let plugin = load("good.wat").await.unwrap();
    let names: Vec<&str> = plugin.checks().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["ok", "raw", "fail", "service", "pod-count"]);
    assert_eq!(
        plugin.run("ok", &[]).await,
        Ok(Outcome::Shield { label: None, status: "ok".into(), color: Some("green".into()) })
    );
    assert_eq!(plugin.run("service", &[]).await, Ok(Outcome::Raw("web".into())));
    assert_eq!(plugin.run("fail", &[]).await, Err(PluginError::Plugin("nothing to report".into())));
}
