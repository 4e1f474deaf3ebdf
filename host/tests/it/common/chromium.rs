//! Headless Chromium (Debian's `chromium`, or `$CHROMIUM`), as the index test and the figures
//! example run it.

use std::path::Path;

/// Runs headless Chromium with `args` after the shared flags, with its profile in `profile`;
/// gives its stdout, or why it did not run.
pub async fn chromium(profile: &Path, args: &[&str]) -> Result<String, String> {
    let binary = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".to_owned());
    let output = tokio::process::Command::new(&binary)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|err| {
            format!("{binary} does not run ({err}): scripts/test.sh installs Debian's chromium")
        })?;
    if !output.status.success() {
        return Err(format!(
            "chromium failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    String::from_utf8(output.stdout).map_err(|err| err.to_string())
}
