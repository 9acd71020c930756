//! Where packaged objects go. The packager never knows whether that is a local
//! folder or an object store; the worker supplies the implementation.

use std::future::Future;
use std::pin::Pin;

use manifest::model::Sha256Digest;

use crate::error::StoreError;

/// How long clients may cache an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caching {
    /// Segments and thumbnails: content-addressed by deterministic keys, never change.
    Immutable,
    /// Manifests and the catalog document: may be replaced by a re-run.
    Short,
}

/// One object to store, keyed relative to the title root (e.g. `h264_720p/seg-00001.m4s`).
#[derive(Debug, Clone)]
pub struct Object {
    pub key: String,
    pub body: Vec<u8>,
    pub content_type: &'static str,
    pub caching: Caching,
    pub sha256: Sha256Digest,
}

/// Whether `key` names an object inside the title: relative, with no empty, `.` or `..`
/// component, so joined to the title's folder or prefix it stays there.
pub fn is_safe_key(key: &str) -> bool {
    !key.is_empty() && key.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
}

pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

pub trait Storage: Send + Sync {
    /// Store an object durably; resolves once it is confirmed stored.
    fn put(&self, object: Object) -> StoreFuture<'_, ()>;
    /// The URI the title's relative keys resolve against (`file:///…/id/`, `s3://bucket/id/`).
    fn base_uri(&self) -> String;
}

pub mod content_type {
    pub const VIDEO_MP4: &str = "video/mp4";
    pub const AUDIO_MP4: &str = "audio/mp4";
    pub const HLS: &str = "application/vnd.apple.mpegurl";
    pub const DASH: &str = "application/dash+xml";
    pub const JPEG: &str = "image/jpeg";
    pub const VTT: &str = "text/vtt";
    pub const JSON: &str = "application/json";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_stay_inside_the_title() {
        assert!(is_safe_key("h264_720p/seg-00001.m4s"));
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a//b", "./a", "a/"] {
            assert!(!is_safe_key(bad), "{bad:?}");
        }
    }
}
