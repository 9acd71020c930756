//! RabbitMQ side: topology, publishing with confirms, and the consumer loop.
//!
//! Topology (declared idempotently by every worker and by `submit`):
//! - `vodpipe.jobs`: durable quorum queue, dead-lettering to `vodpipe.dlx`,
//!   with a delivery limit so a job that keeps crashing its worker ends in
//!   the DLQ instead of looping forever.
//! - `vodpipe.dlx` (fanout) -> `vodpipe.jobs.dlq`: permanent failures, with
//!   the reason in the `x-vodpipe-error` header.
//! - `catalog` (topic): `video.packaged`, `video.failed`, `video.progress`.
//!
//! A job is acked only after its segments, manifests and catalog document are
//! stored. The consuming channel is transactional: the `video.packaged` event
//! and the job's ack are committed together (as are a dead-lettered copy, its
//! `video.failed` event and the ack), so a worker that dies at any point
//! either announced the job and consumed it, or did neither and the broker
//! redelivers it. Long jobs rely on the broker's `consumer_timeout` being
//! above the longest job (README: "Broker settings").

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use futures_lite::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use manifest::catalog::{DASH_MPD, HLS_MASTER};
use manifest::model::Sha256Digest;
use packager::{Cancel, Listener, Progress};
use serde_json::json;
use tokio::sync::{mpsc, watch};
use tracing::Instrument;

use crate::job::{ChunkJob, InvalidJob, Job, JobMessage};
use crate::metrics::{self, CHUNKS, TITLES};
use crate::s3::{self, S3Store};

mod chunks;
pub use chunks::{CHUNKS_QUEUE, ChunkFailure, ChunkRecord, DEAD_CHUNKS_QUEUE, chunk_messages, records_prefix};

pub const JOBS_QUEUE: &str = "vodpipe.jobs";
pub const DEAD_LETTER_EXCHANGE: &str = "vodpipe.dlx";
pub const DEAD_LETTER_QUEUE: &str = "vodpipe.jobs.dlq";
pub const EVENTS_EXCHANGE: &str = "catalog";
pub const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
/// Deliveries of one job before the broker dead-letters it (crash loops).
pub const DELIVERY_LIMIT: i64 = 5;
/// Tries of a retryable failure inside one delivery, with backoff.
pub const ATTEMPTS_PER_DELIVERY: u32 = 3;
pub const PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// How often a running job checks that its delivery's channel is still open.
const CONNECTION_CHECK: Duration = Duration::from_secs(1);
/// Where markers of published `video.packaged` events live in the output bucket.
pub const EVENT_MARKER_PREFIX: &str = "_jobs/";

fn s(v: &str) -> ShortString {
    v.into()
}

pub async fn connect(url: &str) -> Result<Connection> {
    Connection::connect(url, ConnectionProperties::default())
        .await
        .with_context(|| format!("cannot connect to RabbitMQ at {}", redact(url)))
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(a), Some(b)) if b > a => format!("{}***{}", &url[..a + 3], &url[b..]),
        _ => url.to_owned(),
    }
}

/// Declares queues and exchanges; safe to call from every process.
pub async fn declare_topology(ch: &Channel) -> Result<()> {
    let durable = ExchangeDeclareOptions { durable: true, ..Default::default() };
    ch.exchange_declare(s(DEAD_LETTER_EXCHANGE), ExchangeKind::Fanout, durable, FieldTable::default()).await?;
    ch.exchange_declare(s(EVENTS_EXCHANGE), ExchangeKind::Topic, durable, FieldTable::default()).await?;
    let qdurable = QueueDeclareOptions { durable: true, ..Default::default() };
    ch.queue_declare(s(DEAD_LETTER_QUEUE), qdurable, FieldTable::default()).await?;
    ch.queue_bind(s(DEAD_LETTER_QUEUE), s(DEAD_LETTER_EXCHANGE), s(""), QueueBindOptions::default(), FieldTable::default())
        .await?;
    let mut args = FieldTable::default();
    args.insert(s("x-queue-type"), AMQPValue::LongString(LongString::from("quorum")));
    args.insert(s("x-dead-letter-exchange"), AMQPValue::LongString(LongString::from(DEAD_LETTER_EXCHANGE)));
    args.insert(s("x-delivery-limit"), AMQPValue::LongLongInt(DELIVERY_LIMIT));
    ch.queue_declare(s(JOBS_QUEUE), qdurable, args).await.context("declaring the jobs queue")?;
    ch.queue_declare(s(DEAD_CHUNKS_QUEUE), qdurable, FieldTable::default()).await?;
    let mut args = FieldTable::default();
    args.insert(s("x-queue-type"), AMQPValue::LongString(LongString::from("quorum")));
    // A chunk past its delivery limit goes, by the default exchange, to the dead chunks
    // queue, whose consumer fails its title (see `chunks`).
    args.insert(s("x-dead-letter-exchange"), AMQPValue::LongString(LongString::from("")));
    args.insert(s("x-dead-letter-routing-key"), AMQPValue::LongString(LongString::from(DEAD_CHUNKS_QUEUE)));
    args.insert(s("x-delivery-limit"), AMQPValue::LongLongInt(DELIVERY_LIMIT));
    ch.queue_declare(s(CHUNKS_QUEUE), qdurable, args).await.context("declaring the chunks queue")?;
    Ok(())
}

fn persistent(message_id: &str, headers: FieldTable) -> BasicProperties {
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type(s("application/json"))
        .with_message_id(s(message_id))
        .with_headers(headers)
}

async fn publish(
    ch: &Channel,
    exchange: &str,
    routing_key: &str,
    body: &[u8],
    message_id: &str,
    headers: FieldTable,
) -> Result<lapin::Confirmation> {
    let props = persistent(message_id, headers);
    Ok(ch.basic_publish(s(exchange), s(routing_key), BasicPublishOptions::default(), body, props).await?.await?)
}

/// Publishes on a transactional channel: takes effect at the next `tx_commit`.
async fn publish_in_tx(
    ch: &Channel,
    exchange: &str,
    routing_key: &str,
    body: &[u8],
    message_id: &str,
    headers: FieldTable,
) -> Result<()> {
    publish(ch, exchange, routing_key, body, message_id, headers).await.map(|_| ())
}

/// Publishes persistently and waits for the broker's confirm.
pub async fn publish_confirmed(
    ch: &Channel,
    exchange: &str,
    routing_key: &str,
    body: &[u8],
    message_id: &str,
    headers: FieldTable,
) -> Result<()> {
    match publish(ch, exchange, routing_key, body, message_id, headers).await? {
        lapin::Confirmation::Ack(_) => Ok(()),
        other => Err(anyhow!("broker did not confirm publish to {exchange}/{routing_key}: {other:?}")),
    }
}

pub async fn confirm_channel(conn: &Connection) -> Result<Channel> {
    let ch = conn.create_channel().await?;
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    Ok(ch)
}

pub async fn publish_job(ch: &Channel, job: &JobMessage) -> Result<()> {
    let body = serde_json::to_vec(job)?;
    publish_confirmed(ch, "", JOBS_QUEUE, &body, &job.job_id, FieldTable::default()).await
}

/// How a job ended, for ack / retry / dead-letter.
#[derive(Debug)]
enum Failure {
    /// The upload or the job: will never succeed. Dead-letter with the reason.
    Permanent { kind: &'static str, error: anyhow::Error },
    /// May succeed later (storage, network): retry, then let the broker redeliver.
    Retryable(anyhow::Error),
    /// This machine cannot run it (missing plugin, full disk, refused credentials): the
    /// job goes back to the queue as it came, its delivery budget untouched, and this
    /// worker stops taking jobs.
    Machine(anyhow::Error),
    /// Our own bug: queued again once (with [`INTERNAL_FAILURES_HEADER`]), then
    /// dead-lettered as `internal`.
    Internal(anyhow::Error),
}

/// Counts a job's internal failures on the copy put back in the queue.
pub const INTERNAL_FAILURES_HEADER: &str = "x-vodpipe-internal-failures";
/// Internal failures of one job before it is dead-lettered as `internal`.
const INTERNAL_FAILURES_ALLOWED: i64 = 1;

impl From<InvalidJob> for Failure {
    fn from(e: InvalidJob) -> Self {
        Failure::Permanent { kind: "invalid-job", error: e.into() }
    }
}

impl From<packager::Error> for Failure {
    fn from(e: packager::Error) -> Self {
        match e.cause() {
            packager::Cause::Transient => Failure::Retryable(e.into()),
            packager::Cause::Upload => Failure::Permanent { kind: "bad-input", error: e.into() },
            packager::Cause::Machine => Failure::Machine(e.into()),
            packager::Cause::Internal => Failure::Internal(e.into()),
        }
    }
}

impl Failure {
    /// The kind a dead-lettered job is filed under, and why.
    fn kind_and_error(&self) -> (&'static str, &anyhow::Error) {
        match self {
            Failure::Permanent { kind, error } => (kind, error),
            Failure::Retryable(error) => ("retries-exhausted", error),
            Failure::Machine(error) => ("machine", error),
            Failure::Internal(error) => ("internal", error),
        }
    }

    fn into_error(self) -> anyhow::Error {
        match self {
            Failure::Permanent { error, .. } | Failure::Retryable(error) | Failure::Machine(error) | Failure::Internal(error) => error,
        }
    }

    /// The same failure with its message rewritten (the scratch copy's path made the
    /// job's source URI).
    fn map_message(self, f: impl Fn(String) -> String) -> Failure {
        let redo = |e: anyhow::Error| anyhow!("{}", f(format!("{e:#}")));
        match self {
            Failure::Permanent { kind, error } => Failure::Permanent { kind, error: redo(error) },
            Failure::Retryable(e) => Failure::Retryable(redo(e)),
            Failure::Machine(e) => Failure::Machine(redo(e)),
            Failure::Internal(e) => Failure::Internal(redo(e)),
        }
    }
}

/// Why this worker stopped taking jobs: what its machine lacks. Once set, the worker's
/// consumers end and `run` returns [`Unfit`].
struct Health {
    unfit: std::sync::Mutex<Option<String>>,
    stop: watch::Sender<bool>,
}

impl Health {
    fn declare_unfit(&self, reason: String) {
        tracing::error!("this machine cannot run jobs, stopping: {reason}");
        metrics::state().set_unfit(&reason);
        self.unfit.lock().expect("health lock").get_or_insert(reason);
        let _ = self.stop.send(true);
    }

    fn unfit(&self) -> Option<String> {
        self.unfit.lock().expect("health lock").clone()
    }
}

/// The worker stopped because its machine cannot run jobs (see [`Failure::Machine`]); the
/// jobs it met went back to the queue for other machines.
#[derive(Debug, thiserror::Error)]
#[error("this machine cannot run vodpipe jobs: {0}")]
pub struct Unfit(pub String);

pub struct WorkerSettings {
    pub amqp_url: String,
    pub prefetch: u16,
    /// How long a running job may take to finish after SIGTERM before it is requeued.
    pub grace: Duration,
    pub work_dir: PathBuf,
    /// The packager's watchdog (see `packager::Job::stall_timeout`).
    pub stall_timeout: Duration,
    pub s3: s3::S3Config,
}

/// Everything a job needs from the outside world.
struct Ctx {
    s3: aws_sdk_s3::Client,
    cfg: s3::S3Config,
    events: Channel,
    work_dir: PathBuf,
    stall_timeout: Duration,
    health: Arc<Health>,
}

/// Sends `video.progress` at most every few seconds, never blocking the pipeline.
struct ProgressEvents {
    tx: mpsc::Sender<Progress>,
}

impl Listener for ProgressEvents {
    fn on_progress(&self, p: Progress) {
        let _ = self.tx.try_send(p);
    }
}

/// Consumes jobs until `shutdown` turns true; reconnects when the broker goes away.
/// Ends with [`Unfit`] when a job found that this machine cannot run jobs.
pub async fn run(settings: WorkerSettings, mut shutdown: watch::Receiver<bool>) -> Result<()> {
    let client = s3::client(&settings.s3).await;
    s3::ensure_bucket(&client, &settings.s3.output_bucket).await?;
    std::fs::create_dir_all(&settings.work_dir)
        .with_context(|| format!("cannot create work dir {}", settings.work_dir.display()))?;
    let mut backoff = Duration::from_millis(500);
    let mut sessions = 0u64;
    loop {
        if *shutdown.borrow() {
            return Ok(());
        }
        if sessions > 0 {
            metrics::get().broker_reconnects.inc();
        }
        sessions += 1;
        let session = consume_session(&settings, &client, &mut shutdown).await;
        metrics::state().set_connected(false);
        match session {
            Ok(None) => return Ok(()),
            Ok(Some(unfit)) => return Err(Unfit(unfit).into()),
            Err(e) => {
                tracing::warn!("broker session ended: {e:#}; reconnecting in {backoff:?}");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => return Ok(()),
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

async fn consume_session(
    settings: &WorkerSettings,
    client: &aws_sdk_s3::Client,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<Option<String>> {
    let conn = connect(&settings.amqp_url).await?;
    let setup = conn.create_channel().await?;
    declare_topology(&setup).await?;
    let _ = setup.close(200, s("topology declared")).await;
    let events = confirm_channel(&conn).await?;
    metrics::state().set_connected(true);
    // The consumers stop on a signal, or when a job finds this machine unfit.
    let (stop_tx, stop) = watch::channel(*shutdown.borrow());
    let health = Arc::new(Health { unfit: Default::default(), stop: stop_tx.clone() });
    let ctx = Arc::new(Ctx {
        s3: client.clone(),
        cfg: settings.s3.clone(),
        events,
        work_dir: settings.work_dir.clone(),
        stall_timeout: settings.stall_timeout,
        health: health.clone(),
    });
    let mut signal = shutdown.clone();
    let forward = async move {
        while signal.changed().await.is_ok() {
            if *signal.borrow() {
                let _ = stop_tx.send(true);
            }
        }
        std::future::pending::<()>().await
    };
    // Every worker makes chunks while it waits on the chunks of a title it took.
    let consumers = async {
        tokio::join!(
            consume_queue(&ctx, &conn, Queue::Titles, settings.prefetch, stop.clone(), settings.grace),
            consume_queue(&ctx, &conn, Queue::Chunks, 1, stop.clone(), settings.grace),
            consume_queue(&ctx, &conn, Queue::DeadChunks, 1, stop.clone(), settings.grace),
        )
    };
    let (titles, chunks, dead) = tokio::select! {
        r = consumers => r,
        _ = forward => unreachable!("forwarding signals never ends"),
    };
    // A machine found unfit says so, whatever else ended the session meanwhile.
    match ctx.health.unfit() {
        Some(reason) => Ok(Some(reason)),
        None => titles.and(chunks).and(dead).map(|()| None),
    }
}

/// The queues a worker consumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Queue {
    Titles,
    Chunks,
    DeadChunks,
}

impl Queue {
    fn name(self) -> &'static str {
        match self {
            Queue::Titles => JOBS_QUEUE,
            Queue::Chunks => CHUNKS_QUEUE,
            Queue::DeadChunks => DEAD_CHUNKS_QUEUE,
        }
    }
}

/// Consumes one queue on a channel of its own until shutdown (or the connection ends).
async fn consume_queue(
    ctx: &Arc<Ctx>,
    conn: &Connection,
    queue: Queue,
    prefetch: u16,
    mut shutdown: watch::Receiver<bool>,
    grace: Duration,
) -> Result<()> {
    let ch = conn.create_channel().await?;
    if queue == Queue::Titles {
        // A title's outcome (event, dead-lettered copy) and its ack are committed together.
        ch.tx_select().await.context("selecting transactions on the consuming channel")?;
    }
    ch.basic_qos(prefetch, BasicQosOptions::default()).await?;
    let tag = format!("vodpipe-{}-{}-{}", hostname(), std::process::id(), queue.name());
    let mut consumer =
        ch.basic_consume(s(queue.name()), s(&tag), BasicConsumeOptions::default(), FieldTable::default()).await?;
    tracing::info!(queue = queue.name(), prefetch, "waiting for jobs");
    if queue == Queue::Titles {
        metrics::state().set_consuming(true);
    }
    loop {
        let delivery = tokio::select! {
            d = consumer.next() => d,
            _ = shutdown.changed() => {
                metrics::state().set_consuming(false);
                let _ = ch.basic_cancel(s(&tag), BasicCancelOptions::default()).await;
                return Ok(());
            }
        };
        let delivery = match delivery {
            Some(Ok(d)) => d,
            Some(Err(e)) => return Err(e.into()),
            None => return Err(anyhow!("consumer of {} cancelled by the broker", queue.name())),
        };
        let stop = match queue {
            Queue::Titles => handle(ctx, &ch, &tag, &delivery, &mut shutdown, grace).await?,
            Queue::Chunks => handle_chunk(ctx, &ch, &tag, &delivery, &mut shutdown, grace).await?,
            Queue::DeadChunks => {
                chunks::handle_dead(ctx, &delivery).await?;
                false
            }
        };
        if stop {
            metrics::state().set_consuming(false);
            let _ = ch.basic_cancel(s(&tag), BasicCancelOptions::default()).await;
            return Ok(());
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).unwrap_or_else(|_| "host".into())
}

/// How the tries of one delivery ended.
enum Ended<T> {
    Done(T),
    Failed(Failure),
    /// Shutdown's grace period ran out: the work was cancelled.
    Interrupted,
}

/// Runs `work` for one delivery: a retryable failure is tried again (with backoff) up to
/// [`ATTEMPTS_PER_DELIVERY`] times; on shutdown the work has `grace` to finish before it
/// is cancelled; a lost channel cancels it (the broker has put the delivery back).
/// Also says whether shutdown was asked meanwhile.
async fn supervise<T, Fut>(
    ch: &Channel,
    id: &str,
    shutdown: &mut watch::Receiver<bool>,
    grace: Duration,
    cancel: &Cancel,
    mut work: impl FnMut() -> Fut,
) -> Result<(Ended<T>, bool)>
where
    Fut: std::future::Future<Output = Result<T, Failure>>,
{
    let mut attempt = 1;
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let run = work();
        tokio::pin!(run);
        let outcome = loop {
            tokio::select! {
                r = &mut run => break Some(r),
                _ = shutdown.changed(), if deadline.is_none() => {
                    tracing::info!(job_id = %id, "shutdown requested: finishing the current job within {grace:?}");
                    deadline = Some(tokio::time::Instant::now() + grace);
                }
                _ = tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)), if deadline.is_some() => {
                    cancel.cancel();
                    let _ = (&mut run).await;
                    break None;
                }
                _ = tokio::time::sleep(CONNECTION_CHECK) => {
                    if !ch.status().connected() {
                        // The broker has already put the job back (its delivery died with
                        // the connection): finishing it here would only be thrown away.
                        cancel.cancel();
                        let _ = (&mut run).await;
                        return Err(anyhow!("connection to the broker lost during job {id}; the broker redelivers it"));
                    }
                }
            }
        };
        let stopping = deadline.is_some();
        match outcome {
            None => return Ok((Ended::Interrupted, true)),
            Some(Ok(done)) => return Ok((Ended::Done(done), stopping)),
            Some(Err(Failure::Retryable(e))) if attempt < ATTEMPTS_PER_DELIVERY && !stopping => {
                let wait = Duration::from_secs(2u64.pow(attempt));
                tracing::warn!(job_id = %id, attempt, "retryable failure: {e:#}; retrying in {wait:?}");
                metrics::get().retries.get_or_create(&metrics::ErrorKind { kind: "in_job" }).inc();
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            Some(Err(f)) => return Ok((Ended::Failed(f), stopping)),
        }
    }
}

/// Runs one title delivery to its end. Returns true when shutdown interrupted it.
async fn handle(
    ctx: &Arc<Ctx>,
    ch: &Channel,
    tag: &str,
    delivery: &lapin::message::Delivery,
    shutdown: &mut watch::Receiver<bool>,
    grace: Duration,
) -> Result<bool> {
    let job = match Job::parse(&delivery.data) {
        Ok(j) => j,
        Err(e) => {
            let f = Failure::from(e);
            dead_letter(ch, delivery, Ids::best_effort(&delivery.data), &f).await?;
            return Ok(false);
        }
    };
    let span = tracing::info_span!("job", job_id = %job.message.job_id, video_id = %job.message.video_id);
    settle_title(ctx, ch, tag, delivery, shutdown, grace, job).instrument(span).await
}

/// Runs a parsed title job and settles its delivery (inside the job's span).
async fn settle_title(
    ctx: &Arc<Ctx>,
    ch: &Channel,
    tag: &str,
    delivery: &lapin::message::Delivery,
    shutdown: &mut watch::Receiver<bool>,
    grace: Duration,
    job: Job,
) -> Result<bool> {
    let id = job.message.job_id.clone();
    tracing::info!(job_id = %id, video_id = %job.message.video_id, source = %job.message.source, redelivered = delivery.redelivered, "job started");
    let started = Instant::now();
    let running = Running::start(TITLES);
    let cancel = Cancel::default();
    let (ended, mut stopping) = supervise(ch, &id, shutdown, grace, &cancel, || run_job(ctx.clone(), job.clone(), cancel.clone())).await?;
    let (outcome, cause) = match ended {
        Ended::Interrupted => {
            tracing::warn!(job_id = %id, "grace period over: job requeued");
            requeue(ch, delivery).await?;
            ("interrupted", "none")
        }
        Ended::Done(announcement) => {
            announce_and_ack(ctx, ch, delivery, announcement).await?;
            tracing::info!(job_id = %id, "job done");
            ("packaged", "none")
        }
        Ended::Failed(Failure::Retryable(e)) => {
            // The quorum queue counts deliveries and dead-letters past the limit.
            tracing::warn!(job_id = %id, "retryable failure, returning the job to the queue: {e:#}");
            requeue(ch, delivery).await?;
            ("requeued", "retryable")
        }
        Ended::Failed(Failure::Machine(e)) => {
            leave_to_another_machine(ctx, ch, tag, delivery, Queue::Titles, &e).await?;
            stopping = true;
            ("put_back", "machine")
        }
        Ended::Failed(Failure::Internal(e)) if internal_failures(delivery) < INTERNAL_FAILURES_ALLOWED => {
            tracing::error!(job_id = %id, "internal error, the job is queued once more: {e:#}");
            put_back(ctx, ch, delivery, Queue::Titles, internal_failure_counted(delivery)).await?;
            ("put_back", "internal")
        }
        Ended::Failed(f) => {
            dead_letter(ch, delivery, Ids::of(&job.message), &f).await?;
            ("dead_lettered", f.kind_and_error().0)
        }
    };
    drop(running);
    metrics::get().job_ended(TITLES, outcome, cause, started.elapsed());
    Ok(stopping)
}


/// `vodpipe_job_running{queue}` is 1 while this lives.
struct Running(prometheus_client::metrics::gauge::Gauge);

impl Running {
    fn start(queue: &'static str) -> Running {
        let gauge = metrics::get().job_running.get_or_create(&metrics::QueueLabel { queue }).clone();
        gauge.set(1);
        Running(gauge)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.set(0);
    }
}

/// Cancels the consumer before a delivery is put back: with the delivery acked, the
/// broker would otherwise hand the copy straight back to this worker, and its leaving
/// would count a delivery against it.
async fn stop_consuming(ch: &Channel, tag: &str) -> Result<()> {
    ch.basic_cancel(s(tag), BasicCancelOptions::default()).await.context("cancelling the consumer")?;
    Ok(())
}

/// How many internal failures the job has met before this delivery.
fn internal_failures(delivery: &lapin::message::Delivery) -> i64 {
    let headers = delivery.properties.headers().as_ref();
    match headers.and_then(|h| h.inner().get(INTERNAL_FAILURES_HEADER)) {
        Some(AMQPValue::LongLongInt(n)) => *n,
        Some(AMQPValue::LongInt(n)) => i64::from(*n),
        _ => 0,
    }
}

/// The header of the copy put back after one more internal failure.
fn internal_failure_counted(delivery: &lapin::message::Delivery) -> FieldTable {
    let mut headers = FieldTable::default();
    headers.insert(s(INTERNAL_FAILURES_HEADER), AMQPValue::LongLongInt(internal_failures(delivery) + 1));
    headers
}

/// The headers of a delivery's copy put back in its queue: its own, but the broker's
/// delivery count, with `extra` over them.
fn put_back_headers(delivery: &lapin::message::Delivery, extra: FieldTable) -> FieldTable {
    let mut headers = FieldTable::default();
    let own = delivery.properties.headers().clone().unwrap_or_default();
    for (k, v) in own.inner().iter().chain(extra.inner()) {
        if k.as_str() != "x-delivery-count" {
            headers.insert(k.clone(), v.clone());
        }
    }
    headers
}

/// Puts a delivery back in its queue (`queue`) as a new message (its body, its headers with `extra`
/// over them) and acks it: unlike a requeue, this does not count against the queue's
/// delivery limit, which is for jobs that fail or kill their workers. A title job's copy
/// and ack are one transaction; a chunk's copy is confirmed before the ack (a crash
/// between leaves two copies, and the second finds the chunk stored).
async fn put_back(ctx: &Ctx, ch: &Channel, delivery: &lapin::message::Delivery, queue: Queue, extra: FieldTable) -> Result<()> {
    let headers = put_back_headers(delivery, extra);
    let message_id = delivery.properties.message_id().as_ref().map(|m| m.to_string()).unwrap_or_default();
    if queue == Queue::Titles {
        publish_in_tx(ch, "", queue.name(), &delivery.data, &message_id, headers).await?;
        delivery.acker.ack(BasicAckOptions::default()).await?;
        ch.tx_commit().await.context("committing a job put back in the queue")?;
    } else {
        publish_confirmed(&ctx.events, "", queue.name(), &delivery.data, &message_id, headers).await?;
        delivery.acker.ack(BasicAckOptions::default()).await?;
    }
    Ok(())
}

/// A fault of this machine (see [`Failure::Machine`]): stops taking deliveries, puts this
/// one back for another machine without spending its delivery budget, and declares the
/// worker unfit (it then stops).
async fn leave_to_another_machine(
    ctx: &Ctx,
    ch: &Channel,
    tag: &str,
    delivery: &lapin::message::Delivery,
    queue: Queue,
    error: &anyhow::Error,
) -> Result<()> {
    tracing::error!("this machine cannot do the job; it goes back to the queue for another: {error:#}");
    stop_consuming(ch, tag).await?;
    put_back(ctx, ch, delivery, queue, FieldTable::default()).await?;
    ctx.health.declare_unfit(format!("{error:#}"));
    Ok(())
}

/// Runs one chunk delivery to its end. Returns true when shutdown interrupted it.
async fn handle_chunk(
    ctx: &Arc<Ctx>,
    ch: &Channel,
    tag: &str,
    delivery: &lapin::message::Delivery,
    shutdown: &mut watch::Receiver<bool>,
    grace: Duration,
) -> Result<bool> {
    let chunk = match ChunkJob::parse(&delivery.data) {
        Ok(c) => c,
        Err(e) => {
            // It names no title it could fail: it goes to the dead chunks queue, which logs it.
            tracing::error!("refusing a chunk job: {e}");
            delivery.acker.nack(BasicNackOptions { requeue: false, ..Default::default() }).await?;
            return Ok(false);
        }
    };
    let span = tracing::info_span!(
        "chunk",
        job_id = %chunk.message.job.job_id,
        video_id = %chunk.message.job.video_id,
        chunk = chunk.message.chunk.index
    );
    settle_chunk(ctx, ch, tag, delivery, shutdown, grace, chunk).instrument(span).await
}

/// Runs a parsed chunk job and settles its delivery (inside the chunk's span).
async fn settle_chunk(
    ctx: &Arc<Ctx>,
    ch: &Channel,
    tag: &str,
    delivery: &lapin::message::Delivery,
    shutdown: &mut watch::Receiver<bool>,
    grace: Duration,
    chunk: ChunkJob,
) -> Result<bool> {
    let id = format!("{}/chunk {}", chunk.message.job.job_id, chunk.message.chunk.index);
    if chunks::is_stored(ctx, &chunk).await.unwrap_or(false) {
        tracing::info!(job_id = %id, "chunk already stored");
        delivery.acker.ack(BasicAckOptions::default()).await?;
        return Ok(false);
    }
    if chunks::title_failed(ctx, &chunk).await.unwrap_or(false) {
        tracing::info!(job_id = %id, "chunk not made: another chunk of its title failed");
        delivery.acker.ack(BasicAckOptions::default()).await?;
        return Ok(false);
    }
    tracing::info!(job_id = %id, redelivered = delivery.redelivered, "chunk started");
    let started = Instant::now();
    let running = Running::start(CHUNKS);
    let cancel = Cancel::default();
    let (ended, mut stopping) = supervise(ch, &id, shutdown, grace, &cancel, || chunks::run_chunk(ctx.clone(), chunk.clone(), cancel.clone())).await?;
    let (outcome, cause) = match ended {
        Ended::Interrupted => {
            tracing::warn!(job_id = %id, "grace period over: chunk requeued");
            delivery.acker.nack(BasicNackOptions { requeue: true, ..Default::default() }).await?;
            ("interrupted", "none")
        }
        Ended::Done(()) => chunks::settle(ctx, ch, tag, delivery, &chunk, Ok(())).await?,
        Ended::Failed(f) => chunks::settle(ctx, ch, tag, delivery, &chunk, Err(f)).await?,
    };
    // A fault of the machine stops the worker (see `leave_to_another_machine`).
    stopping |= ctx.health.unfit().is_some();
    drop(running);
    metrics::get().job_ended(CHUNKS, outcome, cause, started.elapsed());
    Ok(stopping)
}

async fn requeue(ch: &Channel, delivery: &lapin::message::Delivery) -> Result<()> {
    delivery.acker.nack(BasicNackOptions { requeue: true, ..Default::default() }).await?;
    ch.tx_commit().await.context("committing a requeue")?;
    Ok(())
}

/// What a packaged job still has to say: the `video.packaged` event, unless a
/// marker says an earlier delivery of the same job id already did.
struct Announcement {
    job_id: String,
    event: Option<Vec<u8>>,
    marker: String,
    fingerprint: String,
}

/// Publishes `video.packaged` and acks the job in one transaction, then
/// stores the marker that keeps a re-submitted job id from announcing twice.
async fn announce_and_ack(ctx: &Ctx, ch: &Channel, delivery: &lapin::message::Delivery, a: Announcement) -> Result<()> {
    if let Some(event) = &a.event {
        publish_in_tx(ch, EVENTS_EXCHANGE, "video.packaged", event, &a.job_id, FieldTable::default()).await?;
    }
    delivery.acker.ack(BasicAckOptions::default()).await?;
    ch.tx_commit().await.context("committing video.packaged and the ack")?;
    if a.event.is_some() {
        // The job is consumed whatever happens here: a missing marker only matters
        // if the same job id is submitted again.
        if let Err(e) = put_marker(&ctx.s3, &ctx.cfg.output_bucket, &a.marker, a.fingerprint.as_bytes()).await {
            tracing::warn!(job_id = %a.job_id, "video.packaged published, but its marker was not stored: {e:#}");
        }
    }
    Ok(())
}

/// Which job and video a failure is about, as far as the message tells.
#[derive(Debug, Default)]
struct Ids {
    job_id: Option<String>,
    video_id: Option<String>,
}

impl Ids {
    fn of(job: &JobMessage) -> Ids {
        Ids { job_id: Some(job.job_id.clone()), video_id: Some(job.video_id.clone()) }
    }

    /// From a message that failed validation: the ids it carries that are safe to
    /// repeat (a job with an unknown ladder still names its video to the catalog).
    fn best_effort(body: &[u8]) -> Ids {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else { return Ids::default() };
        let safe = |field: &str| {
            v.get(field)
                .and_then(|x| x.as_str())
                .filter(|id| crate::ids::validate_video_id(id).is_ok())
                .map(str::to_owned)
        };
        Ids { job_id: safe("job_id"), video_id: safe("video_id") }
    }
}

/// Copies the message to the DLQ with the reason, tells the catalog and acks,
/// in one transaction.
async fn dead_letter(
    ch: &Channel,
    delivery: &lapin::message::Delivery,
    ids: Ids,
    failure: &Failure,
) -> Result<()> {
    let (kind, error) = failure.kind_and_error();
    let reason = format!("{error:#}");
    tracing::error!(job_id = ?ids.job_id, kind, "job failed permanently: {reason}");
    let mut headers = delivery.properties.headers().clone().unwrap_or_default();
    headers.insert(s("x-vodpipe-error"), AMQPValue::LongString(LongString::from(reason.as_str())));
    headers.insert(s("x-vodpipe-error-kind"), AMQPValue::LongString(LongString::from(kind)));
    let message_id = ids.job_id.as_deref().unwrap_or("unparseable");
    publish_in_tx(ch, DEAD_LETTER_EXCHANGE, JOBS_QUEUE, &delivery.data, message_id, headers).await?;
    let event = json!({
        "event": "video.failed",
        "job_id": ids.job_id,
        "video_id": ids.video_id,
        "kind": kind,
        "reason": reason,
    });
    publish_in_tx(ch, EVENTS_EXCHANGE, "video.failed", event.to_string().as_bytes(), message_id, FieldTable::default()).await?;
    delivery.acker.ack(BasicAckOptions::default()).await?;
    ch.tx_commit().await.context("committing a dead-lettered job")?;
    Ok(())
}

fn source_path(work_dir: &Path, job: &Job) -> PathBuf {
    let ext = Path::new(&job.source_key)
        .extension()
        .and_then(|e| e.to_str())
        .filter(|e| e.len() <= 8 && e.chars().all(|c| c.is_ascii_alphanumeric()))
        .unwrap_or("bin");
    work_dir.join(&job.message.job_id).join(format!("source.{ext}"))
}

async fn run_job(ctx: Arc<Ctx>, job: Job, cancel: Cancel) -> Result<Announcement, Failure> {
    let started = Instant::now();
    let ladder = packager::Ladder::from_toml(job.ladder_toml).map_err(Failure::from)?;
    let fetched = fetch_inputs(&ctx, &job).await?;
    let pjob = packager_job(&ctx, &job, &fetched, ladder);
    // Errors name the input file: report the job's source, not the scratch copy.
    let named = |f: Failure| f.map_message(|m| m.replace(&fetched.source.display().to_string(), &job.message.source));
    let packaged = package_title(&ctx, &job, &pjob, fetched.sha256, cancel).await.map_err(named)?;
    let announcement = announcement(&ctx, &job, &packaged).await?;
    tracing::info!(job_id = %job.message.job_id, seconds = started.elapsed().as_secs_f64(), fingerprint = %announcement.fingerprint, "packaged");
    Ok(announcement)
}

/// What a title job fetched to this worker's disk: the source and the subtitle files,
/// in a folder removed when this is dropped.
struct Fetched {
    source: PathBuf,
    sha256: Sha256Digest,
    subtitles: Vec<packager::subtitles::SubtitleFile>,
    _cleanup: RemoveOnDrop,
}

/// Step 1: the source must exist (else the upload is at fault); the subtitle files are
/// fetched and read before it, then the source is downloaded.
async fn fetch_inputs(ctx: &Ctx, job: &Job) -> Result<Fetched, Failure> {
    match object_exists(&ctx.s3, &job.source_bucket, &job.source_key).await {
        Ok(true) => {}
        Ok(false) => {
            return Err(Failure::Permanent {
                kind: "bad-input",
                error: anyhow!("source {} does not exist", job.message.source),
            });
        }
        Err(e) => return Err(Failure::Retryable(e)),
    }
    let source = source_path(&ctx.work_dir, job);
    let dir = source.parent().expect("job dir").to_owned();
    tokio::fs::create_dir_all(&dir).await.map_err(|e| Failure::Retryable(e.into()))?;
    let cleanup = RemoveOnDrop(dir.clone());
    let subtitles = fetch_subtitles(ctx, job, &dir).await?;
    let stage = Instant::now();
    let (_, sha256) = s3::download(&ctx.s3, &job.source_bucket, &job.source_key, &source).await.map_err(Failure::Retryable)?;
    metrics::get().stage("download", stage.elapsed());
    Ok(Fetched { source, sha256, subtitles, _cleanup: cleanup })
}

/// Step 2: the packager's view of the job.
fn packager_job(ctx: &Ctx, job: &Job, fetched: &Fetched, ladder: packager::Ladder) -> packager::Job {
    let msg = &job.message;
    packager::Job {
        input: fetched.source.clone(),
        video_id: msg.video_id.clone(),
        ladder,
        published_at: crate::transcode::now_rfc3339(),
        generator: concat!("vodpipe ", env!("CARGO_PKG_VERSION")).into(),
        source_uri: Some(msg.source.clone()),
        stall_timeout: ctx.stall_timeout,
        chunk_duration: msg.chunk_duration.map(Duration::from_secs_f64),
        parallel_parts: 1,
        reader: None,
        subtitles: fetched.subtitles.clone(),
        audio: job.audio_labels(),
    }
}

/// Step 3: probe and plan the title, then make it here (one job) or across the farm
/// (chunk jobs), storing everything under the job's output prefix.
async fn package_title(
    ctx: &Arc<Ctx>,
    job: &Job,
    pjob: &packager::Job,
    source_sha: Sha256Digest,
    cancel: Cancel,
) -> Result<packager::Packaged, Failure> {
    let msg = &job.message;
    let store = Arc::new(S3Store::new(ctx.s3.clone(), ctx.cfg.output_bucket.clone(), job.output_prefix.clone()));
    let stage = Instant::now();
    let plan = packager::plan_title(pjob).await?;
    metrics::get().stage("probe", stage.elapsed());
    let stage = Instant::now();
    let source_seconds = plan.source.duration_ns as f64 / 1e9;
    if plan.is_chunked() {
        let packaged = chunks::run_title(ctx, job, pjob, &plan, source_sha, store, &cancel).await?;
        metrics::get().stage("chunks", stage.elapsed());
        return Ok(packaged);
    }
    if let Some(reason) = &plan.whole_because {
        tracing::info!(job_id = %msg.job_id, "one job, not chunks: {reason}");
    }
    let (listener, progress_task) = progress_events(ctx, msg);
    let result = packager::package_probed(pjob, plan.source, store, listener, cancel).await;
    let _ = progress_task.await;
    let packaged = result?;
    let took = stage.elapsed();
    metrics::get().stage("package", took);
    if took.as_secs_f64() > 0.0 {
        // Only a whole title's: a chunked title's speed is the farm's, not this worker's.
        metrics::get().encode_speed.get_or_create(&metrics::QueueLabel { queue: TITLES }).observe(source_seconds / took.as_secs_f64());
    }
    Ok(packaged)
}

/// Step 4: the `video.packaged` event, unless an earlier delivery of the same job id
/// already published it (a marker stored after the event went out says so).
async fn announcement(ctx: &Ctx, job: &Job, packaged: &packager::Packaged) -> Result<Announcement, Failure> {
    let msg = &job.message;
    let marker = format!("{EVENT_MARKER_PREFIX}{}.packaged", msg.job_id);
    let already = object_exists(&ctx.s3, &ctx.cfg.output_bucket, &marker).await.map_err(Failure::Retryable)?;
    let fingerprint = packaged.catalog.fingerprint.to_string();
    let event = if already {
        tracing::info!(job_id = %msg.job_id, "video.packaged was already published for this job");
        None
    } else {
        let catalog = serde_json::to_value(&packaged.catalog).map_err(|e| Failure::Retryable(e.into()))?;
        let event = json!({
            "event": "video.packaged",
            "job_id": msg.job_id,
            "video_id": msg.video_id,
            "title": msg.title,
            "description": msg.description,
            "fingerprint": fingerprint,
            "manifests": {
                "hls": format!("s3://{}/{}{HLS_MASTER}", ctx.cfg.output_bucket, job.output_prefix),
                "dash": format!("s3://{}/{}{DASH_MPD}", ctx.cfg.output_bucket, job.output_prefix),
            },
            "catalog": catalog,
        });
        Some(event.to_string().into_bytes())
    };
    Ok(Announcement { job_id: msg.job_id.clone(), event, marker, fingerprint })
}

/// Downloads the job's subtitle files beside its source and reads them, before the
/// source: a missing or malformed file fails the job before anything is encoded.
async fn fetch_subtitles(ctx: &Ctx, job: &Job, dir: &Path) -> Result<Vec<packager::subtitles::SubtitleFile>, Failure> {
    let mut files = Vec::new();
    for (i, sub) in job.message.subtitles.iter().enumerate() {
        let (bucket, key) = crate::s3::parse_s3_uri(&sub.source).expect("checked by Job::validate");
        match object_exists(&ctx.s3, &bucket, &key).await {
            Ok(true) => {}
            Ok(false) => {
                return Err(Failure::Permanent { kind: "bad-input", error: anyhow!("subtitle file {} does not exist", sub.source) });
            }
            Err(e) => return Err(Failure::Retryable(e)),
        }
        let path = dir.join(format!("subtitles-{}.txt", i + 1));
        s3::download(&ctx.s3, &bucket, &key, &path).await.map_err(Failure::Retryable)?;
        files.push(packager::subtitles::SubtitleFile { language: sub.language.clone(), path });
    }
    // Errors name the stored file, not the scratch copy.
    packager::subtitles::check(&files).map_err(|e| {
        let mut text = e.to_string();
        for (f, sub) in files.iter().zip(&job.message.subtitles) {
            text = text.replace(&f.path.display().to_string(), &sub.source);
        }
        Failure::Permanent { kind: "bad-input", error: anyhow!("{text}") }
    })?;
    Ok(files)
}

/// `video.progress` events of a job made in one piece, at most every [`PROGRESS_EVERY`];
/// the task ends when the listener is dropped.
fn progress_events(ctx: &Ctx, msg: &JobMessage) -> (Arc<dyn Listener>, tokio::task::JoinHandle<()>) {
    let (ptx, mut prx) = mpsc::channel::<Progress>(4);
    let events = ctx.events.clone();
    let (job_id, video_id) = (msg.job_id.clone(), msg.video_id.clone());
    let task = tokio::spawn(async move {
        let mut last: Option<Instant> = None;
        while let Some(p) = prx.recv().await {
            if last.is_some_and(|t| t.elapsed() < PROGRESS_EVERY) {
                continue;
            }
            last = Some(Instant::now());
            let body = json!({
                "event": "video.progress", "job_id": job_id, "video_id": video_id,
                "percent": (p.fraction() * 1000.0).round() / 10.0, "speed": (p.speed() * 100.0).round() / 100.0,
            });
            let _ = publish_confirmed(&events, EVENTS_EXCHANGE, "video.progress", body.to_string().as_bytes(), &job_id, FieldTable::default()).await;
        }
    });
    (Arc::new(ProgressEvents { tx: ptx }), task)
}

async fn object_exists(client: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<bool> {
    match client.head_object().bucket(bucket).key(key).send().await {
        Ok(_) => Ok(true),
        Err(e) if e.as_service_error().is_some_and(|se| se.is_not_found()) => Ok(false),
        Err(e) => Err(anyhow::Error::new(e).context(format!("HEAD s3://{bucket}/{key}"))),
    }
}

async fn put_marker(client: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &[u8]) -> Result<()> {
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::Aes256)
        .content_type("text/plain")
        .body(aws_sdk_s3::primitives::ByteStream::from(body.to_vec()))
        .send()
        .await
        .with_context(|| format!("PUT s3://{bucket}/{key}"))?;
    Ok(())
}

/// Removes a job's scratch folder however the job ends.
struct RemoveOnDrop(PathBuf);
impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_name_what_they_safely_can() {
        let ids = Ids::best_effort(br#"{"job_id":"job-1","video_id":"../etc","ladder":"nope"}"#);
        assert_eq!((ids.job_id.as_deref(), ids.video_id), (Some("job-1"), None));
        let ids = Ids::best_effort(b"{not json");
        assert_eq!((ids.job_id, ids.video_id), (None, None));
    }

    #[test]
    fn credentials_are_not_logged() {
        assert_eq!(redact("amqp://guest:secret@127.0.0.1:5672/%2f"), "amqp://***@127.0.0.1:5672/%2f");
        assert_eq!(redact("amqp://127.0.0.1"), "amqp://127.0.0.1");
    }
}
