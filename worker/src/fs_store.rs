//! The embedded default's storage: a local folder per title.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use packager::storage::{Object, Storage, StoreFuture};
use packager::StoreError;

/// Writes each object to `root/<key>` through a temporary file and a rename,
/// so a reader never sees half an object. Each write has a temporary file of its own: the
/// chunks of a title each store their (identical) init segments, at the same time.
pub struct FsStore {
    root: PathBuf,
    writes: AtomicU64,
}

/// Documents that name other objects; removed before a run so that a failed
/// run never leaves manifests from an earlier one pointing at rewritten media.
pub const MANIFEST_KEYS: [&str; 3] = [manifest::catalog::HLS_MASTER, manifest::catalog::DASH_MPD, manifest::catalog::CATALOG_JSON];

impl FsStore {
    pub fn create(root: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(root)?;
        for key in MANIFEST_KEYS {
            match std::fs::remove_file(root.join(key)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(FsStore { root: std::fs::canonicalize(root)?, writes: AtomicU64::new(0) })
    }
}

impl Storage for FsStore {
    fn put(&self, object: Object) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            if !packager::storage::is_safe_key(&object.key) {
                return Err(StoreError { message: format!("unsafe key {:?}", object.key), retryable: false, source: None });
            }
            let path = self.root.join(&object.key);
            let write = self.writes.fetch_add(1, Ordering::Relaxed);
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            let tmp = path.with_extension(format!("{ext}.{}-{write}.tmp", std::process::id()));
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

    /// Two chunks store the same init segment at once: both writes land, the object is whole.
    #[tokio::test]
    async fn the_same_key_written_at_once_by_many_is_whole() {
        let dir = std::env::temp_dir().join(format!("fs_store_same_key_{}", std::process::id()));
        let store = std::sync::Arc::new(FsStore::create(&dir).unwrap());
        let body = vec![7u8; 1 << 20];
        let puts = (0..8).map(|_| {
            let (store, body) = (store.clone(), body.clone());
            tokio::spawn(async move {
                let object = Object {
                    key: "h264_360p/init.mp4".into(),
                    body,
                    content_type: "video/mp4",
                    caching: packager::storage::Caching::Immutable,
                    sha256: manifest::model::Sha256Digest([0; 32]),
                };
                store.put(object).await
            })
        });
        for put in futures_util::future::join_all(puts).await {
            put.unwrap().unwrap();
        }
        assert_eq!(std::fs::read(dir.join("h264_360p/init.mp4")).unwrap(), body);
        let left: Vec<_> = std::fs::read_dir(dir.join("h264_360p")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left.len(), 1, "temporary files left: {left:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
