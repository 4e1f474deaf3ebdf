//! Scripts as plugins: the Python and JavaScript runtimes (built by
//! `scripts/build-runtimes.sh` into `target/runtimes`) running the examples in
//! example-plugins/python and example-plugins/js, and scripts that misbehave.

use std::path::PathBuf;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use crate::common;

use common::net::answering_server;
use fake_apiserver::PodBuilder;
use kube_shields::plugin::{
    LoadedPlugin, Outcome, PluginEngine, PluginError, PluginSettings, PreparedRuntime, Script,
};
use kube_shields::pods::PodInfo;
use rstest::rstest;

static ENGINE: LazyLock<PluginEngine> =
    LazyLock::new(|| PluginEngine::new().expect("plugin engine"));

#[derive(Debug, Clone, Copy)]
enum Lang {
    Python,
    Js,
}

impl Lang {
    fn ext(self) -> &'static str {
        match self {
            Lang::Python => "py",
            Lang::Js => "js",
        }
    }

    fn dir(self) -> &'static str {
        match self {
            Lang::Python => "python",
            Lang::Js => "js",
        }
    }

    fn file_name(self) -> String {
        format!("web.{}", self.ext())
    }

    /// The runtime, prepared once per test process.
    fn runtime(self) -> &'static PreparedRuntime {
        static PYTHON: LazyLock<PreparedRuntime> = LazyLock::new(|| prepare("python.wasm"));
        static JS: LazyLock<PreparedRuntime> = LazyLock::new(|| prepare("js.wasm"));
        match self {
            Lang::Python => &PYTHON,
            Lang::Js => &JS,
        }
    }
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The runtime from the compile cache every test shares (compiled there once per machine).
fn prepare(file: &str) -> PreparedRuntime {
    common::prepared_runtime(&ENGINE, file)
}

async fn load(
    lang: Lang,
    text: &str,
    settings: PluginSettings,
) -> Result<LoadedPlugin, PluginError> {
    let script = Script {
        file_name: lang.file_name(),
        text: text.to_owned(),
    };
    ENGINE
        .load_script("web", lang.runtime(), script, settings)
        .await
}

/// The example script of a language with its settings file.
async fn example(lang: Lang, extra_settings: &str) -> LoadedPlugin {
    let dir = repo_root().join("example-plugins").join(lang.dir());
    let text = std::fs::read_to_string(dir.join(lang.file_name())).expect("example script");
    let toml = std::fs::read_to_string(dir.join("web.toml")).expect("example settings");
    let settings = PluginSettings::parse(format!("{extra_settings}\n{toml}").as_bytes(), true)
        .expect("example settings parse");
    load(lang, &text, settings).await.expect("example loads")
}

fn shield(status: &str, color: &str) -> Outcome {
    Outcome::Shield {
        label: None,
        status: status.to_owned(),
        color: Some(color.to_owned()),
    }
}

fn info(pod: PodBuilder) -> Arc<PodInfo> {
    Arc::new(PodInfo::from(&pod.build()))
}

fn pod(name: &str) -> PodBuilder {
    PodBuilder::new("default", name)
}

fn names(plugin: &LoadedPlugin) -> Vec<(&str, Option<&str>)> {
    plugin
        .checks()
        .iter()
        .map(|c| (c.name.as_str(), c.description.as_deref()))
        .collect()
}

// --- the examples -----------------------------------------------------------------------

#[rstest]
#[case::python(Lang::Python)]
#[case::js(Lang::Js)]
#[tokio::test]
async fn the_example_lists_its_checks_with_descriptions(#[case] lang: Lang) {
    let plugin = example(lang, "").await;
    let listed = names(&plugin);
    let checks: Vec<&str> = listed.iter().map(|(name, _)| *name).collect();
    assert_eq!(checks, ["running", "release", "version"]);
    assert_eq!(
        listed[0].1,
        Some("Running pods out of all: green when all run, red otherwise.")
    );
    assert_eq!(plugin.script_file(), Some(lang.file_name().as_str()));
}

#[rstest]
#[case::python(Lang::Python)]
#[case::js(Lang::Js)]
#[tokio::test]
async fn the_example_counts_running_pods_red_and_green(#[case] lang: Lang) {
    let plugin = example(lang, "").await;
    let all_up = [info(pod("web-1")), info(pod("web-2"))];
    assert_eq!(
        plugin.run("running", &all_up).await,
        Ok(shield("2/2 running", "green"))
    );
    let one_pending = [info(pod("web-1")), info(pod("web-2").phase("Pending"))];
    assert_eq!(
        plugin.run("running", &one_pending).await,
        Ok(shield("1/2 running", "red"))
    );
    assert_eq!(
        plugin.run("running", &[]).await,
        Ok(shield("no pods", "lightgrey"))
    );
}

#[rstest]
#[case::python(Lang::Python)]
#[case::js(Lang::Js)]
#[tokio::test]
async fn the_example_answers_the_release_from_its_config(#[case] lang: Lang) {
    let plugin = example(lang, "").await;
    assert_eq!(
        plugin.run("release", &[]).await,
        Ok(Outcome::Raw("2026.11".into()))
    );
}

#[rstest]
#[case::python(Lang::Python)]
#[case::js(Lang::Js)]
#[tokio::test]
async fn the_example_asks_its_pods_over_http(#[case] lang: Lang) {
    let port = answering_server(Some(b"v1.4.2\n".to_vec())).await;
    let plugin = example(lang, "").await;
    let settings_port = PluginSettings::parse(
        format!("[config]\nport = {port}\npath = \"/version\"\n").as_bytes(),
        true,
    )
    .unwrap();
    let text = std::fs::read_to_string(
        repo_root()
            .join("example-plugins")
            .join(lang.dir())
            .join(lang.file_name()),
    )
    .unwrap();
    drop(plugin);
    let plugin = load(lang, &text, settings_port).await.expect("loads");
    let pods = [info(pod("web-1"))];
    assert_eq!(
        plugin.run("version", &pods).await,
        Ok(shield("v1.4.2", "green"))
    );
}

// --- the sandbox ------------------------------------------------------------------------

fn script(lang: Lang, python: &str, js: &str) -> String {
    match lang {
        Lang::Python => format!("from kube_shields import check, shield, http_get\n{python}"),
        Lang::Js => js.to_owned(),
    }
}

fn short(deadline_ms: u64, memory_mib: usize) -> PluginSettings {
    PluginSettings {
        deadline: Duration::from_millis(deadline_ms),
        memory_limit: memory_mib * 1024 * 1024,
        ..PluginSettings::default()
    }
}

#[rstest]
#[case::python(Lang::Python)]
#[case::js(Lang::Js)]
#[tokio::test]
async fn an_endless_loop_is_stopped_by_the_deadline(#[case] lang: Lang) {
    let text = script(
        lang,
        "@check\ndef spin(ctx):\n    while True:\n        pass\n",
        "check('spin', () => { for (;;) {} });",
    );
    let plugin = load(lang, &text, short(500, 64)).await.expect("loads");
    assert_eq!(plugin.run("spin", &[]).await, Err(PluginError::Timeout));
}

#[rstest]
#[case::python(Lang::Python)]
#[case::js(Lang::Js)]
#[tokio::test]
async fn a_memory_bomb_is_stopped_by_the_memory_cap(#[case] lang: Lang) {
    let text = script(
        lang,
        "@check\ndef bomb(ctx):\n    hoard = []\n    while True:\n        hoard.append(bytearray(1 << 20))\n",
        "check('bomb', () => { const hoard = []; for (;;) hoard.push(new Uint8Array(1 << 20)); });",
    );
    let plugin = load(lang, &text, short(10_000, 64)).await.expect("loads");
    assert_eq!(plugin.run("bomb", &[]).await, Err(PluginError::OutOfMemory));
}

#[rstest]
#[case::python_open(Lang::Python, "open('/etc/hostname').read()", "no filesystem")]
#[case::python_socket(
    Lang::Python,
    "__import__('socket').create_connection(('127.0.0.1', 80))",
    "no sockets"
)]
#[case::js_fs(
    Lang::Js,
    "require('fs').readFileSync('/etc/hostname')",
    "no filesystem"
)]
#[case::js_net(Lang::Js, "require('net').connect(80, '127.0.0.1')", "no sockets")]
#[tokio::test]
async fn files_and_sockets_fail_with_a_clear_error(
    #[case] lang: Lang,
    #[case] expression: &str,
    #[case] expected: &str,
) {
    let text = match lang {
        Lang::Python => format!(
            "from kube_shields import check\n@check\ndef peek(ctx):\n    return {expression}\n"
        ),
        Lang::Js => format!("check('peek', () => {expression});"),
    };
    let plugin = load(lang, &text, PluginSettings::default())
        .await
        .expect("loads");
    let Err(PluginError::Plugin(err)) = plugin.run("peek", &[]).await else {
        panic!("expected the check to fail");
    };
    assert!(err.starts_with(&format!("web.{}:", lang.ext())), "{err}");
    assert!(err.contains(expected), "{err}");
}

#[rstest]
#[case::python(
    Lang::Python,
    "from kube_shields import check\n\n@check\ndef ratio(ctx):\n    return 1 / len(ctx.pods)\n",
    "web.py:5: ZeroDivisionError: division by zero"
)]
#[case::js(
    Lang::Js,
    "check('ratio', (ctx) => {\n  if (ctx.pods.length === 0) {\n    throw new Error('no pods to divide by');\n  }\n});",
    "web.js:3: Error: no pods to divide by"
)]
#[tokio::test]
async fn an_exception_names_its_file_and_line(
    #[case] lang: Lang,
    #[case] text: &str,
    #[case] expected: &str,
) {
    let plugin = load(lang, text, PluginSettings::default())
        .await
        .expect("loads");
    assert_eq!(
        plugin.run("ratio", &[]).await,
        Err(PluginError::Plugin(expected.into()))
    );
}

#[rstest]
#[case::python_syntax(
    Lang::Python,
    "from kube_shields import check\n\n@check\ndef broken(ctx)\n    return 1\n",
    "web.py:4: SyntaxError: expected ':'"
)]
#[case::python_missing_import(
    Lang::Python,
    "from kube_shields import check\nimport requests\n",
    "web.py:2: ModuleNotFoundError: No module named 'requests'"
)]
#[case::python_raises_at_load(
    Lang::Python,
    "from kube_shields import check\n\nraise RuntimeError('not configured')\n",
    "web.py:3: RuntimeError: not configured"
)]
#[case::js_syntax(
    Lang::Js,
    "check('a', () => 1);\ncheck('b', () => {\n  return 1 +;\n});\n",
    "web.js:3: SyntaxError"
)]
#[case::js_raises_at_load(
    Lang::Js,
    "check('a', () => 1);\n\nnotDefined();\n",
    "web.js:3: ReferenceError"
)]
#[tokio::test]
async fn a_script_that_does_not_load_names_file_and_line(
    #[case] lang: Lang,
    #[case] text: &str,
    #[case] expected: &str,
) {
    let Err(PluginError::Script(err)) = load(lang, text, PluginSettings::default()).await else {
        panic!("expected the script to fail to load");
    };
    assert!(err.starts_with(expected), "{err}");
}

#[rstest]
#[case::python(
    Lang::Python,
    "@check\ndef far(ctx):\n    return http_get('http://127.0.0.99:9/').status\n"
)]
#[case::js(
    Lang::Js,
    "check('far', () => http.get('http://127.0.0.99:9/').status);"
)]
#[tokio::test]
async fn http_to_a_host_that_is_not_a_pod_is_denied(#[case] lang: Lang, #[case] body: &str) {
    let text = script(lang, body, body);
    let plugin = load(lang, &text, PluginSettings::default())
        .await
        .expect("loads");
    let Err(PluginError::Plugin(err)) = plugin.run("far", &[info(pod("web-1"))]).await else {
        panic!("expected the check to fail");
    };
    assert!(
        err.contains("denied: `127.0.0.99` is neither a pod of the service nor in allowed_hosts"),
        "{err}"
    );
}

#[rstest]
#[case::python(
    Lang::Python,
    "import json, re, datetime\n@check\ndef std(ctx):\n    day = datetime.date(2026, 11, 23).isoformat()\n    return json.dumps({'d': re.sub('-', '/', day)})\n"
)]
#[case::js(
    Lang::Js,
    "check('std', () => JSON.stringify({ d: new Date(Date.UTC(2026, 10, 23)).toISOString().slice(0, 10).replace(/-/g, '/') }));"
)]
#[tokio::test]
async fn the_standard_library_works(#[case] lang: Lang, #[case] body: &str) {
    let text = script(lang, body, body);
    let plugin = load(lang, &text, PluginSettings::default())
        .await
        .expect("loads");
    let expected = match lang {
        Lang::Python => r#"{"d": "2026/11/23"}"#,
        Lang::Js => r#"{"d":"2026/11/23"}"#,
    };
    assert_eq!(
        plugin.run("std", &[]).await,
        Ok(Outcome::Raw(expected.into()))
    );
}

#[rstest]
#[case::python(Lang::Python)]
#[case::js(Lang::Js)]
#[tokio::test]
async fn a_check_that_returns_nothing_fails_saying_so(#[case] lang: Lang) {
    let text = script(
        lang,
        "@check\ndef empty(ctx):\n    pass\n",
        "check('empty', () => {});",
    );
    let plugin = load(lang, &text, PluginSettings::default())
        .await
        .expect("loads");
    let Err(PluginError::Plugin(err)) = plugin.run("empty", &[]).await else {
        panic!("expected the check to fail");
    };
    assert!(err.contains("return a value or shield(...)"), "{err}");
}

/// An `async` check used to answer `{}` (JS) or `<coroutine object …>` (Python) as a success,
/// the error it would have raised lost.
#[rstest]
#[case::python(
    Lang::Python,
    "@check\nasync def tls(ctx):\n    return len(http_get(ctx.config['url']).body)\n",
    "kube_shields.http_get(url) returns the response itself"
)]
#[case::js(
    Lang::Js,
    "check('tls', async (ctx) => {\n  const answer = await fetch(ctx.config.url);\n  return answer.status;\n});",
    "http.get(url) returns the response itself"
)]
#[tokio::test]
async fn an_async_check_fails_saying_checks_are_synchronous(
    #[case] lang: Lang,
    #[case] body: &str,
    #[case] hint: &str,
) {
    let plugin = load(lang, &script(lang, body, body), PluginSettings::default())
        .await
        .expect("loads");
    let Err(PluginError::Plugin(err)) = plugin.run("tls", &[]).await else {
        panic!("expected the check to fail");
    };
    assert!(err.contains("check `tls` returned"), "{err}");
    assert!(err.contains("checks are synchronous"), "{err}");
    assert!(err.contains(hint), "{err}");
}

#[rstest]
#[case::python(
    Lang::Python,
    "@check\ndef odd(ctx):\n    return shield({'days': 3})\n",
    "web.py:4: TypeError: shield(): status is a str or a number, not dict"
)]
#[case::js(
    Lang::Js,
    "check('odd', () => {\n  return shield({ days: 3 });\n});",
    "web.js:2: TypeError: shield(): status is a string or a number, not an object"
)]
#[tokio::test]
async fn a_shield_of_the_wrong_type_fails_naming_file_and_line(
    #[case] lang: Lang,
    #[case] body: &str,
    #[case] expected: &str,
) {
    let plugin = load(lang, &script(lang, body, body), PluginSettings::default())
        .await
        .expect("loads");
    assert_eq!(
        plugin.run("odd", &[]).await,
        Err(PluginError::Plugin(expected.into()))
    );
}

#[rstest]
#[case::python(
    Lang::Python,
    "@check(name='TLS days')\ndef days(ctx):\n    return 30\n@check\ndef health(ctx):\n    return 'fine'\n"
)]
#[case::js(
    Lang::Js,
    "check('TLS days', () => 30);\ncheck('health', () => 'fine');"
)]
#[tokio::test]
async fn a_script_with_no_valid_check_does_not_load(#[case] lang: Lang, #[case] body: &str) {
    let Err(PluginError::NoCheck(refused)) =
        load(lang, &script(lang, body, body), PluginSettings::default()).await
    else {
        panic!("expected a load error");
    };
    let names: Vec<&str> = refused
        .iter()
        .map(|refused| refused.name.as_str())
        .collect();
    assert_eq!(names, ["TLS days", "health"]);
}

#[tokio::test]
async fn a_script_that_is_not_utf8_or_too_big_is_refused() {
    assert_eq!(
        Script::from_bytes("web.py", vec![b'a', 0xff]),
        Err(PluginError::Script(
            "web.py: not UTF-8 text (invalid byte at offset 1)".into()
        ))
    );
    let big = vec![b'#'; kube_shields::plugin::MAX_SCRIPT_BYTES + 1];
    assert!(matches!(
        Script::from_bytes("web.py", big),
        Err(PluginError::Script(_))
    ));
}

#[rstest]
#[case::python(
    Lang::Python,
    "from kube_shields import HttpError\n@check\ndef get(ctx):\n    try:\n        return len(http_get(ctx.config['url']).body)\n    except HttpError as err:\n        return f'{err.kind}: {err}'\n"
)]
#[case::js(
    Lang::Js,
    "check('get', (ctx) => { try { return http.get(ctx.config.url).body.length; } catch (err) { return `${err.kind}: ${err.message}`; } });"
)]
#[tokio::test]
async fn http_get_reports_body_cap_and_deadline_to_the_check(
    #[case] lang: Lang,
    #[case] body: &str,
) {
    let text = script(lang, body, body);
    let pods = [info(pod("web-1"))];
    let settings = |port: u16| {
        let toml = format!(
            "deadline_ms = 1000\nmax_response_kib = 1\n[config]\nurl = \"http://127.0.0.1:{port}/\"\n"
        );
        PluginSettings::parse(toml.as_bytes(), true).unwrap()
    };

    let at_cap = answering_server(Some(vec![b'a'; 1024])).await;
    let plugin = load(lang, &text, settings(at_cap)).await.expect("loads");
    assert_eq!(
        plugin.run("get", &pods).await,
        Ok(Outcome::Raw("1024".into()))
    );

    let over_cap = answering_server(Some(vec![b'a'; 1025])).await;
    let plugin = load(lang, &text, settings(over_cap)).await.expect("loads");
    let answer = format!(
        "body-too-large: HTTP GET http://127.0.0.1:{over_cap}/: body longer than 1024 bytes"
    );
    assert_eq!(plugin.run("get", &pods).await, Ok(Outcome::Raw(answer)));

    let silent = answering_server(None).await;
    let plugin = load(lang, &text, settings(silent)).await.expect("loads");
    let answer =
        format!("timeout: HTTP GET http://127.0.0.1:{silent}/: no answer before the deadline");
    assert_eq!(plugin.run("get", &pods).await, Ok(Outcome::Raw(answer)));
}
