//! A ConfigMap volume written exactly as the kubelet's AtomicWriter writes it, so tests see the
//! events a mounted ConfigMap makes: the payload in a hidden timestamped folder, `..data` renamed
//! over in one step, and one symlink per key into `..data`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// A mounted ConfigMap (test support).
#[derive(Debug)]
pub struct ConfigMapVolume {
    dir: PathBuf,
}

impl ConfigMapVolume {
    /// An empty ConfigMap, as mounted at `dir`.
    ///
    /// # Panics
    /// When `dir` cannot be written (this is test support).
    pub fn new(dir: &Path) -> Self {
        let volume = ConfigMapVolume {
            dir: dir.to_owned(),
        };
        volume.write(&[]);
        volume
    }

    /// Makes `keys` the ConfigMap's whole content; returns when `..data` was renamed, the
    /// moment the update becomes visible.
    ///
    /// # Panics
    /// When the volume cannot be written (this is test support).
    pub fn write(&self, keys: &[(&str, &[u8])]) -> Instant {
        static UPDATES: AtomicU64 = AtomicU64::new(0);
        let data_link = self.dir.join("..data");
        let old = std::fs::read_link(&data_link).ok();
        // A new hidden timestamped folder holding the whole payload.
        let folder = format!(
            "{}{:09}",
            jiff::Timestamp::now().strftime("..%Y_%m_%d_%H_%M_%S."),
            UPDATES.fetch_add(1, Ordering::Relaxed)
        );
        std::fs::create_dir(self.dir.join(&folder)).expect("a new payload folder");
        for (key, bytes) in keys {
            std::fs::write(self.dir.join(&folder).join(key), bytes).expect("a key written");
        }
        // `..data_tmp` → the folder, renamed over `..data` in one step.
        let tmp_link = self.dir.join("..data_tmp");
        std::os::unix::fs::symlink(&folder, &tmp_link).expect("..data_tmp");
        std::fs::rename(&tmp_link, &data_link).expect("..data renamed");
        let renamed = Instant::now();
        // Symlinks for new keys, then removal of deleted keys, then of the old folder.
        for (key, _) in keys {
            let link = self.dir.join(key);
            if std::fs::symlink_metadata(&link).is_err() {
                std::os::unix::fs::symlink(Path::new("..data").join(key), &link).expect("key link");
            }
        }
        for entry in std::fs::read_dir(&self.dir).expect("the volume lists") {
            let name = entry
                .expect("an entry")
                .file_name()
                .into_string()
                .expect("UTF-8 names");
            if !name.starts_with('.') && !keys.iter().any(|(key, _)| *key == name) {
                std::fs::remove_file(self.dir.join(&name)).expect("a deleted key's link removed");
            }
        }
        if let Some(old) = old {
            std::fs::remove_dir_all(self.dir.join(old)).expect("the old payload removed");
        }
        renamed
    }
}
