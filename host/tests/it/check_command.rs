//! `kube-shields check` as a plugin author runs it: one JSON line per check on stdout (logs on
//! stderr), the same normalisation as the server, exit 0 / 1 / 2, settings found by service;
//! and `kube-shields new` projects in every language, built and checked unchanged.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{fixture, repo, runtime_dir};
use fake_apiserver::{PodBuilder, loopback_ip};
use kube_shields::check_command::{CheckCommand, CheckExit};
use rstest::rstest;

const BINARY: &str = env!("CARGO_BIN_EXE_kube-shields");

/// Two `web` pods and one `api` pod, as `kubectl get pods -A -o json` lists them.
fn pods_json() -> String {
    let pod = |name: &str| PodBuilder::new("default", name);
    let pods = [
        pod("web-7d4b9c-aaaaa")
            .deployment("web", "7d4b9c")
            .ip(loopback_ip(7)),
        pod("web-7d4b9c-bbbbb")
            .deployment("web", "7d4b9c")
            .ip(loopback_ip(8)),
        pod("api-5f6d7-ccccc")
            .deployment("api", "5f6d7")
            .ip(loopback_ip(9)),
    ];
    let items: Vec<_> = pods.iter().map(PodBuilder::build).collect();
    serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string()
}

/// A folder with `web.wat` (the good fixture), optional settings and a pods dump.
fn author_dir(settings: Option<(&str, &str)>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("good.wat"), dir.path().join("web.wat")).unwrap();
    std::fs::write(dir.path().join("pods.json"), pods_json()).unwrap();
    if let Some((file, text)) = settings {
        std::fs::write(dir.path().join(file), text).unwrap();
    }
    dir
}

fn command(dir: &Path, plugin: &str) -> CheckCommand {
    CheckCommand {
        plugin: dir.join(plugin),
        check: None,
        service: None,
        pods: Some(dir.join("pods.json")),
        settings: None,
        cache_dir: None,
        runtime_dir: None,
    }
}

async fn run(command: &CheckCommand) -> (Result<CheckExit, String>, String) {
    let mut out = Vec::new();
    let exit = command.run(&mut out).await;
    (exit, String::from_utf8(out).unwrap())
}

const EVERY_CHECK_OF_WEB: &str = concat!(
    r#"{"check":"ok","label":"ok","status":"ok","color":"green"}"#,
    "\n",
    r#"{"check":"raw","label":"raw","status":"1.2.3","color":"orange"}"#,
    "\n",
    r#"{"check":"fail","error":"check failed: nothing to report"}"#,
    "\n",
    r#"{"check":"service","label":"service","status":"web","color":"orange"}"#,
    "\n",
    r#"{"check":"pod-count","label":"pod-count","status":"2","color":"orange"}"#,
    "\n",
);

#[tokio::test]
async fn every_check_of_the_service_named_by_the_file_one_line_each() {
    let dir = author_dir(None);
    assert_eq!(
        run(&command(dir.path(), "web.wat")).await,
        (Ok(CheckExit::CheckFailed), EVERY_CHECK_OF_WEB.to_owned())
    );
}

#[tokio::test]
async fn one_check_for_another_service() {
    let dir = author_dir(None);
    let command = CheckCommand {
        check: Some("pod-count".into()),
        service: Some("api".into()),
        ..command(dir.path(), "web.wat")
    };
    let expected = concat!(
        r#"{"check":"pod-count","label":"pod-count","status":"1","color":"orange"}"#,
        "\n"
    );
    assert_eq!(
        run(&command).await,
        (Ok(CheckExit::Answered), expected.to_owned())
    );
}

#[tokio::test]
async fn an_unknown_check_is_a_failed_check() {
    let dir = author_dir(None);
    let command = CheckCommand {
        check: Some("nope".into()),
        ..command(dir.path(), "web.wat")
    };
    let expected = concat!(
        r#"{"check":"nope","error":"service `web` has no check `nope`"}"#,
        "\n"
    );
    assert_eq!(
        run(&command).await,
        (Ok(CheckExit::CheckFailed), expected.to_owned())
    );
}

#[rstest]
#[case::beside_the_plugin_named_after_the_service(None, "web.json")]
#[case::given_with_settings(Some("custom.json"), "custom.json")]
#[tokio::test]
async fn settings_are_found_by_service_or_given(#[case] given: Option<&str>, #[case] file: &str) {
    let dir = author_dir(Some((file, r#"{"deadline_ms": 0}"#)));
    let command = CheckCommand {
        settings: given.map(|name| dir.path().join(name)),
        ..command(dir.path(), "web.wat")
    };
    assert_eq!(
        run(&command).await,
        (
            Err(format!(
                "{file}: invalid plugin settings: deadline_ms = 0 is outside 1..=60000"
            )),
            String::new()
        )
    );
}

#[tokio::test]
async fn settings_follow_service_not_the_file_name() {
    // `my_plugin.wat --service web` reads `web.json`, as the plugin directory pairs them.
    let dir = author_dir(Some(("web.json", r#"{"config": {"release": "v2"}}"#)));
    std::fs::rename(dir.path().join("web.wat"), dir.path().join("my_plugin.wat")).unwrap();
    std::fs::write(dir.path().join("my_plugin.json"), r#"{"deadline_ms": 0}"#).unwrap();
    let command = CheckCommand {
        service: Some("web".into()),
        check: Some("ok".into()),
        ..command(dir.path(), "my_plugin.wat")
    };
    assert_eq!(run(&command).await.0, Ok(CheckExit::Answered));
}

#[tokio::test]
async fn a_file_that_is_not_wasm_cannot_load() {
    let dir = author_dir(None);
    std::fs::copy(fixture("random.bin"), dir.path().join("web.wat")).unwrap();
    assert_eq!(
        run(&command(dir.path(), "web.wat")).await,
        (
            Err("web.wat: not a WebAssembly component: neither a WebAssembly binary (no `\\0asm` header) nor WebAssembly text".to_owned()),
            String::new()
        )
    );
}

#[tokio::test]
async fn a_gzipped_plugin_is_the_plugin_of_its_service() {
    use std::io::Write as _;
    let dir = author_dir(None);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&std::fs::read(dir.path().join("web.wat")).unwrap())
        .unwrap();
    std::fs::write(dir.path().join("web.wasm.gz"), gz.finish().unwrap()).unwrap();
    let command = CheckCommand {
        check: Some("service".into()),
        pods: None,
        ..command(dir.path(), "web.wasm.gz")
    };
    let expected = concat!(
        r#"{"check":"service","label":"service","status":"web","color":"orange"}"#,
        "\n"
    );
    assert_eq!(
        run(&command).await,
        (Ok(CheckExit::Answered), expected.to_owned())
    );
}

/// The binary, with logs asked for at `info`, as an author runs it.
fn check_binary(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BINARY)
        .env_clear()
        .env("RUST_LOG", "info")
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .arg("check")
        .args(args)
        .output()
        .unwrap()
}

fn path(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

#[test]
fn stdout_is_json_lines_only_and_the_exit_says_whether_every_check_answered() {
    let dir = author_dir(None);
    let plugin = path(dir.path(), "web.wat");
    let pods = path(dir.path(), "pods.json");
    let all = check_binary(
        dir.path(),
        &[plugin.to_str().unwrap(), "--pods", pods.to_str().unwrap()],
    );
    assert_eq!(
        all.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&all.stderr)
    );
    assert_eq!(String::from_utf8(all.stdout).unwrap(), EVERY_CHECK_OF_WEB);
    // Logs go to stderr, without terminal colors when it is not a terminal.
    assert!(
        !all.stderr.contains(&0x1b),
        "{}",
        String::from_utf8_lossy(&all.stderr)
    );

    let ok = check_binary(dir.path(), &[plugin.to_str().unwrap(), "--check", "ok"]);
    assert_eq!(ok.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(ok.stdout).unwrap(),
        concat!(
            r#"{"check":"ok","label":"ok","status":"ok","color":"green"}"#,
            "\n"
        )
    );
}

#[test]
fn a_service_without_pods_is_warned_about() {
    let dir = author_dir(None);
    let plugin = path(dir.path(), "web.wat");
    let pods = path(dir.path(), "pods.json");
    let output = check_binary(
        dir.path(),
        &[
            plugin.to_str().unwrap(),
            "--service",
            "nope",
            "--check",
            "ok",
            "--pods",
            pods.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("--service `nope` matches no pod in the pods file"),
        "{stderr}"
    );
}

#[test]
fn a_file_that_is_not_a_plugin_exits_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let output = check_binary(dir.path(), &[fixture("random.bin").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("random.bin"), "{stderr}");
    assert!(stderr.contains("no `\\0asm` header"), "{stderr}");
}

/// Issue 23's 21 bytes: a core module whose code section claims more bytes than the file has
/// (it panicked inside wit-component, and `check` exited 101).
const OVERRUNNING_CORE_MODULE: &[u8] =
    b"\x00asm\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x0a\x64\x01";

#[test]
fn a_malformed_core_module_exits_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("crash.wasm");
    std::fs::write(&plugin, OVERRUNNING_CORE_MODULE).unwrap();
    let output = check_binary(dir.path(), &[plugin.to_str().unwrap()]);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(output.stdout.is_empty());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("crash.wasm: not a WebAssembly component: invalid core module: "),
        "{stderr}"
    );
}

/// A plugin whose every check name is refused serves nothing: a load error (exit 2) with one
/// line per refused name, where it used to print nothing and exit 0.
#[test]
fn a_plugin_with_no_valid_check_exits_2_with_a_line_per_refused_name() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("web.js");
    std::fs::write(
        &plugin,
        "check('TLS days', () => 30);\ncheck('health', () => 'fine');\n",
    )
    .unwrap();
    let output = check_binary(
        dir.path(),
        &[
            plugin.to_str().unwrap(),
            "--runtime-dir",
            runtime_dir().to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        concat!(
            r#"{"check":"TLS days","error":"check `TLS days` has an invalid name (allowed: [a-z0-9][a-z0-9_-]*, at most 63 characters)"}"#,
            "\n",
            r#"{"check":"health","error":"check `health` is reserved for the built-in check"}"#,
            "\n",
        )
    );
    assert!(
        stderr.contains("web.js: the plugin offers no check it can serve: check `TLS days`"),
        "{stderr}"
    );
}

/// `kube-shields new --lang <lang>`, then the README's one command (`./build.sh && kube-shields
/// check ...` or just `kube-shields check ...`), in the new project, unchanged. CI has every
/// toolchain: `scripts/test.sh` builds the runtimes and installs clang-19 before the tests.
#[rstest]
#[case::python("python", "checks.py")]
#[case::javascript("js", "checks.js")]
#[case::rust("rust", "checks.wasm")]
#[case::c("c", "checks.wasm")]
fn kube_shields_new_writes_a_project_that_builds_and_passes_check_unchanged(
    #[case] lang: &str,
    #[case] plugin: &str,
) {
    runtime_dir();
    let home = tempfile::tempdir().unwrap();
    let project = home.path().join("checks");
    let binary = || {
        let mut command = Command::new(BINARY);
        command
            .env("HOME", home.path())
            .env("CACHE_DIR", repo().join("target/test-compile-cache"))
            .env_remove("RUST_LOG")
            .env_remove("KUBE_SHIELDS_SRC");
        command
    };
    let new = binary()
        .args(["new", "--lang", lang])
        .arg(&project)
        .output()
        .unwrap();
    assert!(
        new.status.success(),
        "{}",
        String::from_utf8_lossy(&new.stderr)
    );
    let stdout = String::from_utf8(new.stdout).unwrap();
    let try_line = stdout.lines().last().unwrap();
    let readme = std::fs::read_to_string(project.join("README.md")).unwrap();
    let command = try_line
        .split_once(" && ")
        .map(|(_cd, command)| command)
        .unwrap();
    assert!(readme.contains(command), "{readme}\nlacks {command}");
    if let Some(build) =
        command.strip_suffix(&format!(" && kube-shields check {plugin} --pods pods.json"))
    {
        assert_eq!(build, "./build.sh");
        let mut build = Command::new("./build.sh");
        build.current_dir(&project);
        if lang == "rust" {
            // Shares compiled dependencies with the example plugins.
            build.env("CARGO_TARGET_DIR", repo().join("example-plugins/target"));
        }
        let built = build.output().unwrap();
        assert!(
            built.status.success(),
            "{}",
            String::from_utf8_lossy(&built.stderr)
        );
    } else {
        assert_eq!(
            command,
            format!("kube-shields check {plugin} --pods pods.json")
        );
    }
    let checked = binary()
        .current_dir(&project)
        .args(["check", plugin, "--pods", "pods.json"])
        .output()
        .unwrap();
    assert_eq!(
        checked.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    assert_eq!(
        String::from_utf8(checked.stdout).unwrap(),
        concat!(
            r#"{"check":"running","label":"running","status":"2/2 running","color":"green"}"#,
            "\n",
            r#"{"check":"release","label":"release","status":"0.1.0","color":"orange"}"#,
            "\n"
        )
    );
    // Nothing is overwritten.
    let again = binary()
        .args(["new", "--lang", lang])
        .arg(&project)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists and is not empty"));
}

/// `check` shares the user's compile cache: checking one plugin keeps what another left there
/// (a language runtime's compilation takes many seconds).
#[test]
fn check_keeps_other_plugins_compiled_in_the_shared_cache() {
    let cache = tempfile::tempdir().unwrap();
    let compiled = || {
        std::fs::read_dir(cache.path())
            .unwrap()
            .filter(|entry| {
                entry
                    .as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".cwasm")
            })
            .count()
    };
    for (plugin, expected) in [("release_info", 1), ("image_tags", 2), ("release_info", 2)] {
        let output = Command::new(BINARY)
            .arg("check")
            .arg(common::example_plugin(plugin))
            .args(["--service", "web", "--cache-dir"])
            .arg(cache.path())
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        assert!(
            output.status.code() != Some(2),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(compiled(), expected, "after checking {plugin}");
    }
}

/// `check --watch`: the checks run, and again when the plugin is saved, until stopped.
#[test]
fn check_watch_runs_again_when_the_plugin_is_saved() {
    use std::io::BufRead;
    let dir = author_dir(None);
    let plugin = path(dir.path(), "web.wat");
    let mut child = Command::new(BINARY)
        .env_clear()
        .env("XDG_CACHE_HOME", dir.path().join("cache"))
        .arg("check")
        .arg(&plugin)
        .args(["--check", "ok", "--watch"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Never a hung test: the watch ends after a minute whatever happens.
    let pid = child.id() as libc::pid_t;
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(60));
        // SAFETY: a signal to the child this test started (if it still runs).
        unsafe { libc::kill(pid, libc::SIGKILL) };
    });
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert_eq!(
        first,
        r#"{"check":"ok","label":"ok","status":"ok","color":"green"}"#
    );
    // The same checks but `ok`, which `reserved_health.wat` does not have.
    std::fs::copy(fixture("reserved_health.wat"), &plugin).unwrap();
    let second = lines.next().unwrap().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        second,
        r#"{"check":"ok","error":"service `web` has no check `ok`"}"#
    );
}
