//! The figure examples' pods files: `scripts/gen-pods.py`'s single-pod services.

use std::path::{Path, PathBuf};

/// A pods file of `services` single-pod services named `<prefix>-NNNNN` in `dir`.
pub fn pods_file(dir: &Path, prefix: &str, services: usize) -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/gen-pods.py");
    let output = std::process::Command::new("python3")
        .arg(script)
        .arg(services.to_string())
        .arg("1")
        .output()
        .expect("python3 runs scripts/gen-pods.py");
    let text = String::from_utf8(output.stdout)
        .unwrap()
        .replace("svc-", &format!("{prefix}-"));
    let path = dir.join(format!("{prefix}.json"));
    std::fs::write(&path, text).unwrap();
    path
}
