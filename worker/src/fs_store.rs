//! The embedded default's storage: a local folder per title.

use std::path::{Path, PathBuf};

use packager::storage::{Object, Storage, StoreFuture};
use packager::StoreError;

/// Writes each object to `root/<key>` through a temporary file and a rename,
/// so a reader never sees half an object.
pub struct FsStore {
    root: PathBuf,
}

/// Documents that name other objects; removed before a run so that a failed
/// run never leaves manifests from an earlier one pointing at rewritten media.
pub const MANIFEST_KEYS: [&str; 3] = ["master.m3u8", "manifest.mpd", "catalog.json"];

impl FsStore {
    pub fn create(root: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(root)?;
        for key in MANIFEST_KEYS {
            match std::fs::remove_file(root.join(key)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(FsStore { root: std::fs::canonicalize(root)? })
    }
}

fn safe_key(key: &str) -> bool {
    !key.is_empty() && !key.starts_with('/') && key.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
}

impl Storage for FsStore {
    fn put(&self, object: Object) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            if !safe_key(&object.key) {
                return Err(StoreError { message: format!("unsafe key {:?}", object.key), retryable: false, source: None });
            }
            let path = self.root.join(&object.key);
            let tmp = path.with_extension(format!("{}.tmp", path.extension().and_then(|e| e.to_str()).unwrap_or("")));
            if let Some(dir) = path.parent() {
                tokio::fs::create_dir_all(dir).await.map_err(StoreError::io)?;
            }
            tokio::fs::write(&tmp, &object.body).await.map_err(StoreError::io)?;
            tokio::fs::rename(&tmp, &path).await.map_err(StoreError::io)?;
            Ok(())
        })
    }

    fn base_uri(&self) -> String {
        format!("file://{}/", self.root.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_stay_inside_the_title() {
        assert!(safe_key("h264_720p/seg-00001.m4s"));
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a//b", "./a"] {
            assert!(!safe_key(bad), "{bad}");
        }
    }
}
