//! A title spread over the farm in chunk jobs.
//!
//! The worker that takes a title job plans it (`packager::plan_title`). A title of two
//! chunks or more becomes one chunk job per chunk of its video on [`CHUNKS_QUEUE`], which
//! every worker consumes beside the title queue, while the title's own worker makes the
//! audio and the thumbnails from its copy of the source. A chunk's worker reads only its
//! range of the source from S3 (ranged GETs, `s3::S3Reader`), stores the chunk's segments
//! under their numbers in the title, then its record: what the assembly needs of it
//! (`manifest::chunk::Part`: per rendition the segments' numbers, times, sizes and sha256,
//! and the init segment's sha256), who made it and what it read. The title's worker waits
//! for every record, assembles the title (`packager::finish_title`: manifests last) and
//! announces it as any job, in the transaction that acks the title job: exactly one
//! `video.packaged`, whoever finishes the last chunk and whatever worker dies meanwhile
//! (a dead title worker's job is redelivered; the new one finds the stored records and
//! queues only the chunks still missing).
//!
//! A chunk that fails for good (bad input, or more deliveries than [`DELIVERY_LIMIT`]:
//! the broker moves it to [`DEAD_CHUNKS_QUEUE`]) leaves a failure record; the title's worker
//! then dead-letters the title once, with the chunk's reason.
//!
//! Records live beside the event markers: `_jobs/<job id>/chunks/<chunk>.json`,
//! `.failed` and `.last-error`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::types::FieldTable;
use packager::{Cancel, NoListener, Part, PartOf, TitlePlan};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Ctx, EVENT_MARKER_PREFIX, EVENTS_EXCHANGE, Failure, publish_confirmed};
use crate::job::{CHUNK_SCHEMA_V1, ChunkJob, ChunkMessage, Job};
use crate::s3::{self, S3Reader, S3Store};

pub const CHUNKS_QUEUE: &str = "vodpipe.chunks";
pub const DEAD_CHUNKS_QUEUE: &str = "vodpipe.chunks.dead";
pub use super::DELIVERY_LIMIT;
pub const CHUNK_RECORD_SCHEMA: &str = "vodpipe.chunk-record/v1";
/// How often the title's worker looks for its chunks' records.
const POLL: Duration = Duration::from_millis(500);

/// Where a title's chunk records live in the output bucket.
pub fn records_prefix(job_id: &str) -> String {
    format!("{EVENT_MARKER_PREFIX}{job_id}/chunks/")
}

fn record_name(index: u32, ext: &str) -> String {
    format!("{index:05}.{ext}")
}

/// A stored chunk: what the assembly needs, who made it, and what it read of the source.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChunkRecord {
    pub schema: String,
    pub job_id: String,
    pub chunk: u32,
    pub part: Part,
    pub source_bytes_read: u64,
    pub source_reads: u64,
    pub source_size: u64,
    pub seconds: f64,
}

/// A chunk that will not be made: the title fails with its reason.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChunkFailure {
    pub chunk: u32,
    pub kind: String,
    pub reason: String,
}

/// The records store of one title (a folder of the output bucket).
fn records(ctx: &Ctx, job_id: &str) -> S3Store {
    S3Store::new(ctx.s3.clone(), ctx.cfg.output_bucket.clone(), records_prefix(job_id))
}

async fn put_json(store: &S3Store, name: String, body: Vec<u8>) -> Result<(), Failure> {
    use packager::Storage;
    let object = packager::Object {
        key: name,
        sha256: manifest::model::Sha256Digest::of(&body),
        body,
        content_type: "application/json",
        caching: packager::Caching::Short,
    };
    store.put(object).await.map_err(|e| Failure::Retryable(anyhow!(e)))
}

/// Stores why a chunk will not be made (its title's worker fails the title with it).
async fn store_failure(ctx: &Ctx, job_id: &str, chunk: u32, kind: &str, reason: String, ext: &str) -> Result<(), Failure> {
    let body = serde_json::to_vec(&ChunkFailure { chunk, kind: kind.into(), reason }).expect("serializable");
    put_json(&records(ctx, job_id), record_name(chunk, ext), body).await
}

/// The chunk jobs of a planned title.
pub fn chunk_messages(job: &Job, plan: &TitlePlan) -> Vec<ChunkMessage> {
    plan.chunks
        .iter()
        .map(|span| ChunkMessage {
            schema: CHUNK_SCHEMA_V1.into(),
            job: job.message.clone(),
            chunk: *span,
            chunks: plan.chunks.len() as u32,
            source_media: plan.source.clone(),
        })
        .collect()
}

/// What the title's worker saw of its chunks' records.
#[derive(Default)]
struct Seen {
    done: Vec<u32>,
    failed: Vec<u32>,
}

async fn look(ctx: &Ctx, job_id: &str) -> anyhow::Result<Seen> {
    let prefix = records_prefix(job_id);
    let mut seen = Seen::default();
    for key in s3::list_keys(&ctx.s3, &ctx.cfg.output_bucket, &prefix).await? {
        let name = key.strip_prefix(&prefix).unwrap_or(&key);
        let (index, ext) = name.split_once('.').unwrap_or((name, ""));
        let Ok(index) = index.parse::<u32>() else { continue };
        match ext {
            "json" => seen.done.push(index),
            "failed" => seen.failed.push(index),
            _ => {}
        }
    }
    Ok(seen)
}

async fn read_json<T: for<'de> Deserialize<'de>>(ctx: &Ctx, key: &str) -> anyhow::Result<T> {
    let body = s3::get_bytes(&ctx.s3, &ctx.cfg.output_bucket, key)
        .await?
        .ok_or_else(|| anyhow!("s3://{}/{key} is gone", ctx.cfg.output_bucket))?;
    serde_json::from_slice(&body).with_context(|| format!("s3://{}/{key} is not a chunk record", ctx.cfg.output_bucket))
}

/// Removes what an earlier run of the same job id left that would fail this one at once
/// (failure records); stored chunks are kept and not made again.
async fn forget_failures(ctx: &Ctx, job_id: &str) -> anyhow::Result<()> {
    let prefix = records_prefix(job_id);
    for key in s3::list_keys(&ctx.s3, &ctx.cfg.output_bucket, &prefix).await? {
        if key.ends_with(".failed") || key.ends_with(".last-error") {
            s3::delete(&ctx.s3, &ctx.cfg.output_bucket, &key).await?;
        }
    }
    Ok(())
}

/// The title's side: queues the chunks not yet stored, makes the audio and thumbnails
/// from the local copy of the source, waits for every chunk's record, then assembles the
/// title and publishes its manifests.
pub(super) async fn run_title(
    ctx: &Ctx,
    job: &Job,
    pjob: &packager::Job,
    plan: &TitlePlan,
    source_sha: manifest::model::Sha256Digest,
    store: Arc<S3Store>,
    cancel: &Cancel,
) -> Result<packager::Packaged, Failure> {
    let id = &job.message.job_id;
    forget_failures(ctx, id).await.map_err(Failure::Retryable)?;
    let stored = look(ctx, id).await.map_err(Failure::Retryable)?.done;
    let messages = chunk_messages(job, plan);
    let total = messages.len();
    for m in messages.iter().filter(|m| !stored.contains(&m.chunk.index)) {
        let body = serde_json::to_vec(m).map_err(|e| Failure::Retryable(e.into()))?;
        let message_id = format!("{id}/{}", m.chunk.index);
        publish_confirmed(&ctx.events, "", CHUNKS_QUEUE, &body, &message_id, FieldTable::default()).await.map_err(Failure::Retryable)?;
    }
    tracing::info!(job_id = %id, chunks = total, queued = total - stored.len(), "title spread over the farm in chunks");

    // The audio part stops with the title (a chunk failed, or the job was cancelled).
    let stop_audio = Cancel::default();
    let audio = packager::package_part(pjob, &plan.source, PartOf::AudioAndThumbnails, store.clone(), Arc::new(NoListener), stop_audio.clone());
    let wait = wait_for_chunks(ctx, job, total, cancel, &stop_audio);
    let (audio, waited) = tokio::join!(audio, wait);
    waited?;
    let audio = audio.map_err(Failure::from)?;

    let mut parts = Vec::with_capacity(total + 1);
    for index in 0..total as u32 {
        let key = format!("{}{}", records_prefix(id), record_name(index, "json"));
        let record: ChunkRecord = read_json(ctx, &key).await.map_err(Failure::Retryable)?;
        parts.push(record.part);
    }
    parts.push(audio);
    packager::finish_title(pjob, &plan.source, parts, source_sha, store).await.map_err(Failure::from)
}

/// Waits until every chunk is stored, telling the catalog how many are; a failed chunk
/// fails the title. Stops the audio part (`stop_audio`) whenever the wait ends in failure.
async fn wait_for_chunks(ctx: &Ctx, job: &Job, total: usize, cancel: &Cancel, stop_audio: &Cancel) -> Result<(), Failure> {
    let result = wait_until_stored(ctx, job, total, cancel).await;
    if result.is_err() {
        stop_audio.cancel();
    }
    result
}

async fn wait_until_stored(ctx: &Ctx, job: &Job, total: usize, cancel: &Cancel) -> Result<(), Failure> {
    let id = &job.message.job_id;
    let mut told: Option<usize> = None;
    let started = Instant::now();
    loop {
        if cancel.is_cancelled() {
            return Err(Failure::Retryable(anyhow!("cancelled while waiting for the chunks")));
        }
        let seen = look(ctx, id).await.map_err(Failure::Retryable)?;
        if let Some(&index) = seen.failed.first() {
            let key = format!("{}{}", records_prefix(id), record_name(index, "failed"));
            let failure: ChunkFailure = read_json(ctx, &key).await.map_err(Failure::Retryable)?;
            // The chunk's cause is the title's: a damaged upload, or a chunk no worker could make.
            let kind = match failure.kind.as_str() {
                "bad-input" => "bad-input",
                "retries-exhausted" => "retries-exhausted",
                "internal" => "internal",
                _ => "chunk-failed",
            };
            return Err(Failure::Permanent { kind, error: anyhow!("chunk {index} of {total}: {}", failure.reason) });
        }
        let done = seen.done.len().min(total);
        if told != Some(done) {
            told = Some(done);
            let body = json!({
                "event": "video.progress", "job_id": id, "video_id": job.message.video_id,
                "percent": (done as f64 * 1000.0 / total as f64).round() / 10.0,
                "chunks_done": done, "chunks": total,
            });
            let _ = publish_confirmed(&ctx.events, EVENTS_EXCHANGE, "video.progress", body.to_string().as_bytes(), id, FieldTable::default()).await;
        }
        if done == total {
            tracing::info!(job_id = %id, chunks = total, waited_s = started.elapsed().as_secs_f64(), "every chunk is stored");
            return Ok(());
        }
        tokio::time::sleep(POLL).await;
    }
}

/// A chunk's side: makes the chunk from its range of the source and stores its record.
pub(super) async fn run_chunk(ctx: Arc<Ctx>, chunk: ChunkJob, cancel: Cancel) -> Result<(), Failure> {
    let started = Instant::now();
    let (msg, title) = (&chunk.message, &chunk.title);
    let ladder = packager::Ladder::from_toml(title.ladder_toml).map_err(Failure::from)?;
    let reader = match S3Reader::open(&ctx.s3, &title.source_bucket, &title.source_key).await {
        Ok(Some(r)) => Arc::new(r),
        Ok(None) => {
            return Err(Failure::Permanent { kind: "bad-input", error: anyhow!("source {} does not exist", msg.job.source) });
        }
        Err(e) => return Err(Failure::Retryable(e)),
    };
    let size = packager::RangeReader::size(&*reader);
    if size != msg.source_media.size_bytes {
        // Planned on other bytes: the title's plan (frame rate, duration, index) is not this file's.
        return Err(Failure::Permanent {
            kind: "bad-input",
            error: anyhow!("source {} changed since its title was planned ({} bytes, then {})", msg.job.source, size, msg.source_media.size_bytes),
        });
    }
    let store = Arc::new(S3Store::new(ctx.s3.clone(), ctx.cfg.output_bucket.clone(), title.output_prefix.clone()));
    let pjob = packager::Job {
        input: msg.job.source.clone().into(),
        video_id: msg.job.video_id.clone(),
        ladder,
        published_at: String::new(),
        generator: String::new(),
        source_uri: Some(msg.job.source.clone()),
        stall_timeout: ctx.stall_timeout,
        chunk_duration: msg.job.chunk_duration.map(Duration::from_secs_f64),
        parallel_parts: 1,
        reader: Some(reader.clone()),
        // The title's worker makes the subtitles; a chunk is video only.
        subtitles: Vec::new(),
        audio: title.audio_labels(),
    };
    let part = packager::package_part(&pjob, &msg.source_media, PartOf::Chunk(msg.chunk), store, Arc::new(NoListener), cancel)
        .await
        .map_err(Failure::from)?;
    let (source_bytes_read, source_reads) = reader.read_so_far();
    let record = ChunkRecord {
        schema: CHUNK_RECORD_SCHEMA.into(),
        job_id: msg.job.job_id.clone(),
        chunk: msg.chunk.index,
        part,
        source_bytes_read,
        source_reads,
        source_size: packager::RangeReader::size(&*reader),
        seconds: started.elapsed().as_secs_f64(),
    };
    tracing::info!(
        job_id = %msg.job.job_id, chunk = msg.chunk.index, chunks = msg.chunks,
        seconds = format!("{:.2}", record.seconds), source_bytes_read, source_reads, source_size = record.source_size,
        "chunk stored"
    );
    let body = serde_json::to_vec(&record).map_err(|e| Failure::Retryable(e.into()))?;
    put_json(&records(&ctx, &msg.job.job_id), record_name(msg.chunk.index, "json"), body).await
}

/// Whether a chunk of the same title has failed for good: the title is being failed, so
/// the chunk would be made for nothing.
pub(super) async fn title_failed(ctx: &Ctx, chunk: &ChunkJob) -> anyhow::Result<bool> {
    Ok(!look(ctx, &chunk.message.job.job_id).await?.failed.is_empty())
}

/// Whether the chunk is stored already (a duplicate delivery, or a rerun of the title).
pub(super) async fn is_stored(ctx: &Ctx, chunk: &ChunkJob) -> anyhow::Result<bool> {
    let key = format!("{}{}", records_prefix(&chunk.message.job.job_id), record_name(chunk.message.chunk.index, "json"));
    super::object_exists(&ctx.s3, &ctx.cfg.output_bucket, &key).await
}

/// Settles a chunk delivery after its run.
pub(super) async fn settle(
    ctx: &Ctx,
    ch: &lapin::Channel,
    tag: &str,
    delivery: &lapin::message::Delivery,
    chunk: &ChunkJob,
    outcome: Result<(), Failure>,
) -> anyhow::Result<(&'static str, &'static str)> {
    let (id, index) = (&chunk.message.job.job_id, chunk.message.chunk.index);
    Ok(match outcome {
        Ok(()) => {
            delivery.acker.ack(BasicAckOptions::default()).await?;
            ("stored", "none")
        }
        Err(Failure::Permanent { kind, error }) => {
            tracing::error!(job_id = %id, chunk = index, kind, "chunk failed for good: {error:#}");
            fail_chunk(ctx, delivery, chunk, kind, &error).await?;
            ("dead_lettered", kind)
        }
        Err(Failure::Machine(error)) => {
            super::leave_to_another_machine(ctx, ch, tag, delivery, super::Queue::Chunks, &error).await?;
            ("put_back", "machine")
        }
        Err(Failure::Internal(error)) if super::internal_failures(delivery) < super::INTERNAL_FAILURES_ALLOWED => {
            tracing::error!(job_id = %id, chunk = index, "internal error, the chunk is queued once more: {error:#}");
            super::put_back(ctx, ch, delivery, super::Queue::Chunks, super::internal_failure_counted(delivery)).await?;
            ("put_back", "internal")
        }
        Err(Failure::Internal(error)) => {
            tracing::error!(job_id = %id, chunk = index, "internal error again: the chunk fails its title: {error:#}");
            fail_chunk(ctx, delivery, chunk, "internal", &error).await?;
            ("dead_lettered", "internal")
        }
        Err(Failure::Retryable(error)) if title_failed(ctx, chunk).await.unwrap_or(false) => {
            tracing::info!(job_id = %id, chunk = index, "chunk failed ({error:#}) after another chunk of its title failed for good: dropped");
            delivery.acker.ack(BasicAckOptions::default()).await?;
            ("dropped", "retryable")
        }
        Err(Failure::Retryable(error)) => {
            // Past the delivery limit the broker moves the chunk to the dead chunks queue,
            // whose handler fails the title with this reason.
            tracing::warn!(job_id = %id, chunk = index, "chunk failed, returning it to the queue: {error:#}");
            let _ = store_failure(ctx, id, index, "retryable", format!("{error:#}"), "last-error").await;
            delivery.acker.nack(BasicNackOptions { requeue: true, ..Default::default() }).await?;
            ("requeued", "retryable")
        }
    })
}

/// Records that the chunk failed for good (its title then fails with the reason) and acks
/// it; a record that cannot be stored leaves the chunk unacked, to come back.
async fn fail_chunk(ctx: &Ctx, delivery: &lapin::message::Delivery, chunk: &ChunkJob, kind: &str, error: &anyhow::Error) -> anyhow::Result<()> {
    let (id, index) = (&chunk.message.job.job_id, chunk.message.chunk.index);
    if let Err(f) = store_failure(ctx, id, index, kind, format!("{error:#}"), "failed").await {
        tracing::warn!(job_id = %id, chunk = index, "cannot store the chunk's failure: {:#}", f.into_error());
        delivery.acker.nack(BasicNackOptions { requeue: true, ..Default::default() }).await?;
        return Ok(());
    }
    delivery.acker.ack(BasicAckOptions::default()).await?;
    Ok(())
}

/// A chunk the broker gave up on (delivered [`DELIVERY_LIMIT`] times without an ack: its
/// workers failed on it or died): its title fails with the last reason seen.
pub(super) async fn handle_dead(ctx: &Ctx, delivery: &lapin::message::Delivery) -> anyhow::Result<()> {
    match ChunkJob::parse(&delivery.data) {
        Ok(chunk) => {
            let (id, index) = (&chunk.message.job.job_id, chunk.message.chunk.index);
            let last_key = format!("{}{}", records_prefix(id), record_name(index, "last-error"));
            let last = read_json::<ChunkFailure>(ctx, &last_key).await.ok().map(|f| f.reason);
            let reason = format!(
                "delivered {DELIVERY_LIMIT} times without being made ({})",
                last.as_deref().unwrap_or("its worker died each time")
            );
            tracing::error!(job_id = %id, chunk = index, "chunk dead-lettered by the broker: {reason}");
            if let Err(f) = store_failure(ctx, id, index, "retries-exhausted", reason, "failed").await {
                delivery.acker.nack(BasicNackOptions { requeue: true, ..Default::default() }).await?;
                return Err(f.into_error());
            }
        }
        Err(e) => tracing::error!("a dead chunk message that is not a chunk job was dropped: {e}"),
    }
    delivery.acker.ack(BasicAckOptions::default()).await?;
    Ok(())
}
