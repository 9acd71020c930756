//! The job message: what `vodpipe submit` / `enqueue` publish and the worker
//! consumes. Versioned, strict (unknown fields are refused), validated before
//! any download starts. Schema: `worker/schema/job.v1.schema.json`.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use manifest::model::AudioRole;

use crate::ids::validate_video_id;

pub const JOB_SCHEMA_V1: &str = "vodpipe.job/v1";
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
const MAX_TITLE: usize = 512;
const MAX_DESCRIPTION: usize = 16 * 1024;
/// Ladders a job may name; each is built into the binary from `ladders/`.
pub const LADDERS: [(&str, &str); 4] = [
    ("default", include_str!("../../ladders/default.toml")),
    ("hevc", include_str!("../../ladders/hevc.toml")),
    ("av1", include_str!("../../ladders/av1.toml")),
    ("multi-codec", include_str!("../../ladders/multi-codec.toml")),
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobMessage {
    /// Always `vodpipe.job/v1`.
    pub schema: String,
    pub job_id: String,
    pub video_id: String,
    /// `s3://bucket/key` of the raw upload.
    pub source: String,
    #[serde(default = "default_ladder")]
    pub ladder: String,
    /// Key prefix in the output bucket; defaults to `<video_id>/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Seconds of video per chunk job (whole segments); 0 turns chunking off; absent takes
    /// the ladder's `chunk_duration`. A title shorter than two chunks is one job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_duration: Option<f64>,
    /// What the job states about the source's audio streams (language, purpose, default).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audio: Vec<AudioStreamLabel>,
    /// Sidecar subtitle files, each a WebVTT rendition of the title.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subtitles: Vec<SubtitleSource>,
}

/// A job's label of one of the source's audio streams.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioStreamLabel {
    /// Which audio stream of the source, counted from 1 in the container's order.
    pub stream: u32,
    /// Its language (BCP 47 or an ISO 639 code), over the container's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// `commentary` or `description` (audio description); `main` (the programme's sound)
    /// when absent.
    #[serde(default, skip_serializing_if = "AudioRole::is_main")]
    pub role: AudioRole,
    /// The stream a player starts with (at most one); the source's first when none is.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default: bool,
}

/// A sidecar subtitle file of a job: WebVTT or SRT, stored beside the upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubtitleSource {
    /// `s3://bucket/key` of the file.
    pub source: String,
    /// Its language (BCP 47 or an ISO 639 code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

/// The most audio labels or subtitle files a job may carry.
pub const MAX_LABELS: usize = 32;

fn default_ladder() -> String {
    "default".into()
}

/// A job that can never succeed, whatever the retries: it goes to the dead-letter queue.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum InvalidJob {
    #[error("job message is {0} bytes (at most {MAX_MESSAGE_BYTES})")]
    TooLarge(usize),
    #[error("job message is not valid JSON for schema {JOB_SCHEMA_V1}")]
    Malformed(#[from] serde_json::Error),
    #[error("unsupported job schema {0:?} (expected {JOB_SCHEMA_V1})")]
    Schema(String),
    #[error("unsafe {field}: {reason}")]
    UnsafeId { field: &'static str, reason: String },
    #[error("source {0:?} is not an s3://bucket/key URI")]
    Source(String),
    #[error("unknown ladder {0:?} (known: default, hevc, av1, multi-codec)")]
    Ladder(String),
    #[error("output_prefix {0:?} must be relative path segments ending in '/'")]
    OutputPrefix(String),
    #[error("{field} is too long or contains control characters")]
    Text { field: &'static str },
    #[error("chunk_duration {0} must be 0 (off) or between 1 and {MAX_CHUNK_SECONDS} seconds")]
    ChunkDuration(f64),
    #[error("audio: {0}")]
    Audio(String),
    #[error("subtitles: {0}")]
    Subtitles(String),
    #[error("unsupported chunk schema {0:?} (expected {CHUNK_SCHEMA_V1})")]
    ChunkSchema(String),
}

/// The longest chunk a job may ask for: a chunk is the unit a worker redoes after a crash.
pub const MAX_CHUNK_SECONDS: f64 = 3600.0;

/// The chunk job: one chunk of a title's video, for any worker (queue `vodpipe.chunks`).
/// Schema: `worker/schema/chunk.v1.schema.json`.
pub const CHUNK_SCHEMA_V1: &str = "vodpipe.chunk/v1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChunkMessage {
    /// Always `vodpipe.chunk/v1`.
    pub schema: String,
    /// The title's job, as it was queued (validated again by the chunk's worker).
    pub job: JobMessage,
    /// Which chunk: its position, first segment and length in segments.
    pub chunk: packager::ChunkSpan,
    /// How many chunks the title has.
    pub chunks: u32,
    /// The source as the title's planner probed it: a chunk's worker reads only its range
    /// of the source, so it cannot probe the whole of it again.
    pub source_media: packager::probe::SourceMedia,
}

/// A validated chunk job.
#[derive(Debug, Clone)]
pub struct ChunkJob {
    pub message: ChunkMessage,
    pub title: Job,
}

impl ChunkJob {
    pub fn parse(bytes: &[u8]) -> Result<ChunkJob, InvalidJob> {
        if bytes.len() > MAX_MESSAGE_BYTES {
            return Err(InvalidJob::TooLarge(bytes.len()));
        }
        let message: ChunkMessage = serde_json::from_slice(bytes)?;
        if message.schema != CHUNK_SCHEMA_V1 {
            return Err(InvalidJob::ChunkSchema(message.schema));
        }
        let title = Job::validate(message.job.clone())?;
        Ok(ChunkJob { message, title })
    }
}

/// A validated job, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub message: JobMessage,
    pub source_bucket: String,
    pub source_key: String,
    pub output_prefix: String,
    pub ladder_toml: &'static str,
}

fn check_text(field: &'static str, v: &Option<String>, max: usize, allow_newlines: bool) -> Result<(), InvalidJob> {
    if let Some(t) = v {
        let bad = t.len() > max || t.chars().any(|c| c.is_control() && !(allow_newlines && (c == '\n' || c == '\t')));
        if bad {
            return Err(InvalidJob::Text { field });
        }
    }
    Ok(())
}

impl Job {
    pub fn parse(bytes: &[u8]) -> Result<Job, InvalidJob> {
        if bytes.len() > MAX_MESSAGE_BYTES {
            return Err(InvalidJob::TooLarge(bytes.len()));
        }
        let message: JobMessage = serde_json::from_slice(bytes)?;
        Job::validate(message)
    }

    pub fn validate(message: JobMessage) -> Result<Job, InvalidJob> {
        if message.schema != JOB_SCHEMA_V1 {
            return Err(InvalidJob::Schema(message.schema));
        }
        validate_video_id(&message.job_id)
            .map_err(|e| InvalidJob::UnsafeId { field: "job_id", reason: e.to_string() })?;
        validate_video_id(&message.video_id)
            .map_err(|e| InvalidJob::UnsafeId { field: "video_id", reason: e.to_string() })?;
        let (source_bucket, source_key) =
            crate::s3::parse_s3_uri(&message.source).map_err(|_| InvalidJob::Source(message.source.clone()))?;
        let ladder_toml = LADDERS
            .iter()
            .find(|(name, _)| *name == message.ladder)
            .map(|(_, toml)| *toml)
            .ok_or_else(|| InvalidJob::Ladder(message.ladder.clone()))?;
        let output_prefix = match &message.output_prefix {
            None => format!("{}/", message.video_id),
            Some(p) => {
                let segments_ok = p
                    .strip_suffix('/')
                    .is_some_and(|body| body.split('/').all(|s| validate_video_id(s).is_ok()));
                if !segments_ok || p.len() > 512 {
                    return Err(InvalidJob::OutputPrefix(p.clone()));
                }
                p.clone()
            }
        };
        check_text("title", &message.title, MAX_TITLE, false)?;
        check_text("description", &message.description, MAX_DESCRIPTION, true)?;
        if let Some(d) = message.chunk_duration
            && !(d == 0.0 || (1.0..=MAX_CHUNK_SECONDS).contains(&d))
        {
            return Err(InvalidJob::ChunkDuration(d));
        }
        check_audio(&message.audio)?;
        check_subtitles(&message.subtitles)?;
        Ok(Job { message, source_bucket, source_key, output_prefix, ladder_toml })
    }

    /// The job's audio labels as the packager takes them (languages as BCP 47).
    pub fn audio_labels(&self) -> Vec<packager::AudioLabel> {
        audio_labels(&self.message.audio)
    }
}

/// Streams counted from 1, each labelled once, languages known, at most one default.
pub fn check_audio(labels: &[AudioStreamLabel]) -> Result<(), InvalidJob> {
    let bad = |m: String| Err(InvalidJob::Audio(m));
    if labels.len() > MAX_LABELS {
        return bad(format!("{} labels (at most {MAX_LABELS})", labels.len()));
    }
    for (i, l) in labels.iter().enumerate() {
        if l.stream == 0 || l.stream as usize > MAX_LABELS {
            return bad(format!("stream {} (streams are counted from 1, up to {MAX_LABELS})", l.stream));
        }
        if labels[..i].iter().any(|o| o.stream == l.stream) {
            return bad(format!("stream {} is labelled twice", l.stream));
        }
        if let Some(lang) = &l.language
            && manifest::language::bcp47(lang).is_none()
        {
            return bad(format!("{lang:?} (stream {}) is not a language tag (en, de, pt-BR, eng...)", l.stream));
        }
    }
    if labels.iter().filter(|l| l.default).count() > 1 {
        return bad("more than one stream is the default".into());
    }
    Ok(())
}

/// Checked labels as the packager takes them.
pub fn audio_labels(labels: &[AudioStreamLabel]) -> Vec<packager::AudioLabel> {
    labels
        .iter()
        .map(|l| packager::AudioLabel {
            stream: l.stream as usize - 1,
            language: l.language.as_deref().and_then(manifest::language::bcp47),
            role: l.role,
            default: l.default,
        })
        .collect()
}

fn check_subtitles(files: &[SubtitleSource]) -> Result<(), InvalidJob> {
    if files.len() > MAX_LABELS {
        return Err(InvalidJob::Subtitles(format!("{} files (at most {MAX_LABELS})", files.len())));
    }
    for f in files {
        if crate::s3::parse_s3_uri(&f.source).is_err() {
            return Err(InvalidJob::Subtitles(format!("{:?} is not an s3://bucket/key URI", f.source)));
        }
        if let Some(lang) = &f.language
            && manifest::language::bcp47(lang).is_none()
        {
            return Err(InvalidJob::Subtitles(format!("{lang:?} is not a language tag (en, de, pt-BR, eng...)")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(extra: &str) -> String {
        format!(
            r#"{{"schema":"vodpipe.job/v1","job_id":"j1","video_id":"v1","source":"s3://vodpipe-uploads/raw/v1.mp4"{extra}}}"#
        )
    }

    #[test]
    fn accepts_a_minimal_job_with_defaults() {
        let j = Job::parse(msg("").as_bytes()).unwrap();
        assert_eq!(j.output_prefix, "v1/");
        assert_eq!(j.message.ladder, "default");
        assert_eq!((j.source_bucket.as_str(), j.source_key.as_str()), ("vodpipe-uploads", "raw/v1.mp4"));
    }

    /// Tells whether a refusal is the expected kind.
    type Expect = fn(&InvalidJob) -> bool;

    #[test]
    fn refuses_bad_jobs() {
        let cases: Vec<(String, Expect)> = vec![
            ("not json".into(), |e| matches!(e, InvalidJob::Malformed(_))),
            (msg(r#","extra":1"#), |e| matches!(e, InvalidJob::Malformed(_))),
            (msg("").replace("job/v1", "job/v9"), |e| matches!(e, InvalidJob::Schema(_))),
            (msg("").replace(r#""v1""#, r#""../x""#), |e| matches!(e, InvalidJob::UnsafeId { field: "video_id", .. })),
            (msg("").replace(r#""j1""#, r#""a/b""#), |e| matches!(e, InvalidJob::UnsafeId { field: "job_id", .. })),
            (msg("").replace("s3://vodpipe-uploads/raw/v1.mp4", "/etc/passwd"), |e| matches!(e, InvalidJob::Source(_))),
            (msg(r#","ladder":"nope""#), |e| matches!(e, InvalidJob::Ladder(_))),
            (msg(r#","output_prefix":"a/../b/""#), |e| matches!(e, InvalidJob::OutputPrefix(_))),
            (msg(r#","title":"bell\u0007""#), |e| matches!(e, InvalidJob::Text { .. })),
            (msg(r#","chunk_duration":0.5"#), |e| matches!(e, InvalidJob::ChunkDuration(_))),
            (msg(r#","chunk_duration":-60"#), |e| matches!(e, InvalidJob::ChunkDuration(_))),
            (msg(r#","chunk_duration":"60""#), |e| matches!(e, InvalidJob::Malformed(_))),
            (msg(r#","audio":[{"stream":0}]"#), |e| matches!(e, InvalidJob::Audio(_))),
            (msg(r#","audio":[{"stream":1},{"stream":1,"language":"de"}]"#), |e| matches!(e, InvalidJob::Audio(_))),
            (msg(r#","audio":[{"stream":1,"language":"klingon!"}]"#), |e| matches!(e, InvalidJob::Audio(_))),
            (msg(r#","audio":[{"stream":1,"default":true},{"stream":2,"default":true}]"#), |e| matches!(e, InvalidJob::Audio(_))),
            (msg(r#","audio":[{"stream":1,"role":"karaoke"}]"#), |e| matches!(e, InvalidJob::Malformed(_))),
            (msg(r#","audio":[{"stream":1,"lang":"de"}]"#), |e| matches!(e, InvalidJob::Malformed(_))),
            (msg(r#","subtitles":[{"source":"/tmp/en.srt"}]"#), |e| matches!(e, InvalidJob::Subtitles(_))),
            (msg(r#","subtitles":[{"source":"s3://subs/en.srt","language":"?"}]"#), |e| matches!(e, InvalidJob::Subtitles(_))),
        ];
        for (text, check) in cases {
            match Job::parse(text.as_bytes()) {
                Ok(j) => panic!("accepted {text}: {j:?}"),
                Err(e) => assert!(check(&e), "{text}: wrong error {e}"),
            }
        }
        assert!(matches!(Job::parse(&vec![b' '; MAX_MESSAGE_BYTES + 1]), Err(InvalidJob::TooLarge(_))));
    }

    #[test]
    fn audio_labels_reach_the_packager_counted_from_0_with_bcp47_languages() {
        let j = Job::parse(msg(r#","audio":[{"stream":2,"language":"ger","role":"commentary","default":true}]"#).as_bytes()).unwrap();
        let expected = packager::AudioLabel { stream: 1, language: Some("de".into()), role: AudioRole::Commentary, default: true };
        assert_eq!(j.audio_labels(), vec![expected]);
    }

    #[test]
    fn every_built_in_ladder_is_valid() {
        for (name, text) in LADDERS {
            packager::Ladder::from_toml(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}
