//! Admin and batch entry points: `vodpipe submit` and `vodpipe enqueue`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use crate::ids::{id_from_path, validate_video_id};
use crate::extras::{Extras, SubtitleArg};
use crate::job::{JOB_SCHEMA_V1, Job, JobMessage, SubtitleSource};
use crate::{queue, s3};

fn short_hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(&h.finalize()[..8])
}

fn content_type_for(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase()).as_deref() {
        Some("mp4" | "m4v") => "video/mp4",
        Some("mov") => "video/quicktime",
        Some("mkv") => "video/x-matroska",
        Some("webm") => "video/webm",
        Some("ts" | "m2ts") => "video/mp2t",
        _ => "application/octet-stream",
    }
}

async fn publish(amqp_url: &str, jobs: &[JobMessage]) -> Result<()> {
    let conn = queue::connect(amqp_url).await?;
    let ch = queue::confirm_channel(&conn).await?;
    queue::declare_topology(&ch).await?;
    for job in jobs {
        queue::publish_job(&ch, job).await.with_context(|| format!("publishing job {}", job.job_id))?;
    }
    let _ = conn.close(200, "bye".into()).await;
    Ok(())
}

/// What `vodpipe submit` is asked to queue.
pub struct Submission {
    pub file: PathBuf,
    pub video_id: String,
    pub ladder: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub chunk_duration: Option<f64>,
    pub extras: Extras,
}

/// Uploads the raw file (and its subtitle files, beside it) and queues its job; returns
/// the job id.
pub async fn submit(amqp_url: &str, s: Submission) -> Result<String> {
    let video_id = s.video_id.as_str();
    validate_video_id(video_id).context("invalid --video-id")?;
    let file = s.file.as_path();
    let meta = std::fs::metadata(file).with_context(|| format!("cannot read {}", file.display()))?;
    if !meta.is_file() || meta.len() == 0 {
        bail!("{} is empty or not a regular file", file.display());
    }
    let audio = s.extras.audio_labels()?;
    // A subtitle file the worker would refuse is refused here, before anything is uploaded.
    packager::subtitles::check(&s.extras.subtitle_files())?;
    let name = id_from_path(file).unwrap_or_else(|_| "source".into());
    let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("bin").to_ascii_lowercase();
    let key = format!("{video_id}/{name}.{ext}");
    let cfg = s3::S3Config::from_env().await?;
    let subtitle_keys: Vec<String> = s.extras.subtitles.iter().enumerate().map(|(i, sub)| subtitle_key(video_id, i, sub)).collect();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos().to_string();
    let job_id = format!("job-{}", short_hash(&[video_id, &nanos, &std::process::id().to_string()]));
    let message = JobMessage {
        schema: JOB_SCHEMA_V1.into(),
        job_id: job_id.clone(),
        video_id: video_id.into(),
        source: format!("s3://{}/{key}", cfg.upload_bucket),
        ladder: s.ladder,
        output_prefix: None,
        title: s.title,
        description: s.description,
        chunk_duration: s.chunk_duration,
        audio,
        subtitles: s
            .extras
            .subtitles
            .iter()
            .zip(&subtitle_keys)
            .map(|(sub, k)| SubtitleSource { source: format!("s3://{}/{k}", cfg.upload_bucket), language: sub.language.clone() })
            .collect(),
    };
    // Refuse a bad job before spending the upload on it.
    Job::validate(message.clone())?;
    let client = s3::client(&cfg).await;
    s3::ensure_bucket(&client, &cfg.upload_bucket).await?;
    for (sub, k) in s.extras.subtitles.iter().zip(&subtitle_keys) {
        s3::upload_file(&client, &cfg.upload_bucket, k, &sub.path, "text/plain; charset=utf-8").await?;
    }
    let digest = s3::upload_file(&client, &cfg.upload_bucket, &key, file, content_type_for(file)).await?;
    tracing::info!(%digest, "uploaded s3://{}/{key}", cfg.upload_bucket);
    publish(amqp_url, &[message]).await?;
    Ok(job_id)
}

/// Where the `n`th subtitle file of a submitted title is uploaded: beside its source.
fn subtitle_key(video_id: &str, n: usize, sub: &SubtitleArg) -> String {
    let ext = match sub.path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("srt") => "srt",
        _ => "vtt",
    };
    let lang = sub.language.as_deref().and_then(manifest::language::bcp47).unwrap_or_else(|| "und".into());
    format!("{video_id}/subtitles/{}.{lang}.{ext}", n + 1)
}

/// One job per object under `s3://bucket/prefix`. Job ids derive from the
/// object's location, so enqueueing the same prefix twice names the same jobs
/// (and the worker publishes one `video.packaged` per job id).
pub async fn enqueue(amqp_url: &str, prefix_uri: &str, ladder: &str) -> Result<Vec<String>> {
    let rest = prefix_uri.strip_prefix("s3://").with_context(|| format!("{prefix_uri} is not an s3:// URI"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let cfg = s3::S3Config::from_env().await?;
    let client = s3::client(&cfg).await;
    let keys = s3::list_keys(&client, bucket, prefix).await?;
    let mut jobs = Vec::new();
    for key in keys.into_iter().filter(|k| !k.ends_with('/')) {
        let video_id = match id_from_path(Path::new(&key)) {
            Ok(id) => id,
            Err(e) => {
                tracing::warn!("skipping s3://{bucket}/{key}: {e:#}");
                continue;
            }
        };
        let message = JobMessage {
            schema: JOB_SCHEMA_V1.into(),
            job_id: format!("batch-{}", short_hash(&[bucket, &key, ladder])),
            video_id,
            source: format!("s3://{bucket}/{key}"),
            ladder: ladder.into(),
            output_prefix: None,
            title: None,
            description: None,
            chunk_duration: None,
            audio: Vec::new(),
            subtitles: Vec::new(),
        };
        Job::validate(message.clone()).with_context(|| format!("s3://{bucket}/{key}"))?;
        jobs.push(message);
    }
    if jobs.is_empty() {
        bail!("no objects under {prefix_uri}");
    }
    publish(amqp_url, &jobs).await?;
    Ok(jobs.into_iter().map(|j| j.job_id).collect())
}
