//! `vodpipe verify DIR` or `vodpipe verify s3://bucket/video-id/`: reads a stored title
//! back and checks it against its catalog.json (see `manifest::verify`): every object the
//! catalog and the manifests name exists with its size and sha256, the manifests parse and
//! name exactly the catalog's objects at its times, the timelines are continuous and the
//! video fingerprint recomputes. What CI golden-manifest jobs and storage audits run.

use std::path::PathBuf;

use anyhow::{Context, Result};
use futures_util::stream::{self, StreamExt};
use manifest::catalog::{CATALOG_JSON, Catalog};
use manifest::verify::{self, Expected};

/// Objects read at once from the store.
const READS_AT_ONCE: usize = 8;

/// Where the title is.
enum Location {
    Dir(PathBuf),
    S3 { client: aws_sdk_s3::Client, bucket: String, prefix: String },
}

impl Location {
    async fn open(target: &str) -> Result<Location> {
        if target.starts_with("s3://") {
            let (bucket, prefix) = crate::s3::parse_s3_uri(target)?;
            let prefix = if prefix.is_empty() || prefix.ends_with('/') { prefix } else { format!("{prefix}/") };
            let cfg = crate::s3::S3Config::from_env().await?;
            let client = crate::s3::client(&cfg).await;
            Ok(Location::S3 { client, bucket, prefix })
        } else {
            let dir = PathBuf::from(target);
            anyhow::ensure!(dir.is_dir(), "{target} is not a folder (or an s3:// URI)");
            Ok(Location::Dir(dir))
        }
    }

    /// The object's bytes; `None` when it does not exist.
    async fn read(&self, key: &str) -> Result<Option<Vec<u8>>> {
        match self {
            Location::Dir(dir) => match tokio::fs::read(dir.join(key)).await {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e).with_context(|| format!("reading {}", dir.join(key).display())),
            },
            Location::S3 { client, bucket, prefix } => crate::s3::get_bytes(client, bucket, &format!("{prefix}{key}")).await,
        }
    }
}

/// What a title's check found.
pub struct Verdict {
    pub objects: usize,
    pub fingerprint: String,
    /// Sorted; empty when the title is whole.
    pub problems: Vec<String>,
}

/// Checks the title at `target` (a folder, or an `s3://bucket/prefix/` URI). Errors are
/// for a check that could not be made (the store unreachable); what is wrong with the
/// title is in the verdict.
pub async fn verify(target: &str) -> Result<Verdict> {
    let location = Location::open(target).await?;
    let Some(json) = location.read(CATALOG_JSON).await? else {
        return Ok(Verdict { objects: 0, fingerprint: String::new(), problems: vec![format!("{CATALOG_JSON}: missing")] });
    };
    let catalog = match std::str::from_utf8(&json).map_err(|e| e.to_string()).and_then(|t| Catalog::from_json(t).map_err(|e| e.to_string())) {
        Ok(c) => c,
        Err(e) => return Ok(Verdict { objects: 0, fingerprint: String::new(), problems: vec![format!("{CATALOG_JSON}: {e}")] }),
    };
    let mut problems = verify::timeline_problems(&catalog);
    problems.extend(verify::fingerprint_problems(&catalog));
    let expected = verify::catalog_objects(&catalog);
    let checks = stream::iter(expected.iter())
        .map(|e| check_object(&location, &catalog, e))
        .buffer_unordered(READS_AT_ONCE)
        .collect::<Vec<_>>()
        .await;
    for found in checks {
        problems.extend(found?);
    }
    problems.sort();
    Ok(Verdict { objects: expected.len(), fingerprint: catalog.fingerprint.to_string(), problems })
}

/// Reads one object and checks it: size and digest, and what it says if it is a manifest.
async fn check_object(location: &Location, c: &Catalog, e: &Expected) -> Result<Vec<String>> {
    let Some(bytes) = location.read(&e.key).await? else {
        return Ok(vec![format!("{}: missing", e.key)]);
    };
    let mut problems = verify::object_problems(e, &bytes);
    if e.sha256.is_some() {
        return Ok(problems);
    }
    let Ok(text) = std::str::from_utf8(&bytes) else {
        problems.push(format!("{}: not UTF-8 text", e.key));
        return Ok(problems);
    };
    let key = e.key.as_str();
    if key == c.manifests.hls {
        problems.extend(verify::master_problems(c, text));
    } else if key == c.manifests.dash {
        problems.extend(verify::mpd_problems(c, text));
    } else if key == c.thumbnails.index_vtt_uri {
        problems.extend(verify::thumbnail_index_problems(c, text));
    } else if let Some(r) = c.renditions.iter().find(|r| r.playlist == key) {
        problems.extend(verify::media_playlist_problems(key, Some(&r.init), &r.chunks, text));
    } else if let Some(r) = c.renditions.iter().find(|r| r.iframe_playlist.as_deref() == Some(key)) {
        problems.extend(verify::iframe_playlist_problems(key, r, text));
    } else if let Some(s) = c.subtitles.iter().find(|s| s.playlist == key) {
        problems.extend(verify::media_playlist_problems(key, None, &s.chunks, text));
    }
    Ok(problems)
}
