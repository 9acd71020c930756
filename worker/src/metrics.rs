//! What a worker tells the farm's monitoring: Prometheus metrics at `/metrics`, and
//! `/healthz` and `/readyz`, on `--metrics-addr` (off unless set).
//!
//! The metrics live in one process-wide [`Metrics`] (recorded whether or not they are
//! served); [`State`] is what the health endpoints read. The HTTP side is a few lines over
//! a TCP listener: three GET routes, one response per connection.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use anyhow::{Context, Result};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The `queue` label of title and chunk jobs.
pub const TITLES: &str = "titles";
pub const CHUNKS: &str = "chunks";

/// Which queue a job came from.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabel {
    pub queue: &'static str,
}

/// How a job ended, and why when it failed.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    pub queue: &'static str,
    /// `packaged` (a chunk: `stored`), `dead_lettered`, `put_back`, `requeued`, `interrupted`.
    pub outcome: &'static str,
    /// `none`, or the failure's kind: `bad-input`, `invalid-job`, `machine`, `internal`,
    /// `retryable`, `retries-exhausted`.
    pub cause: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Stage {
    /// `download`, `probe`, `package`, `chunks`, `announce`.
    pub stage: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ObjectKind {
    /// `segment`, `init`, `playlist`, `manifest`, `catalog`, `thumbnail`, `subtitles`, `other`.
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct S3Request {
    /// The S3 operation, e.g. `PutObject`, `GetObject`, `HeadObject`.
    pub operation: String,
    /// `ok`, `client_error` (4xx), `server_error` (5xx), `no_response`.
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorKind {
    /// For retries: `in_job` (tried again inside the delivery), `requeued`, `put_back`.
    /// For errors: the failure's kind, as in [`Outcome::cause`].
    pub kind: &'static str,
}

fn duration_buckets() -> Histogram {
    // 0.1 s to about 27 h.
    Histogram::new(exponential_buckets(0.1, 2.0, 21))
}

fn speed_buckets() -> Histogram {
    // 0.05x to about 100x realtime.
    Histogram::new(exponential_buckets(0.05, 1.5, 20))
}

/// Every metric a worker records.
pub struct Metrics {
    registry: Registry,
    pub jobs: Family<Outcome, Counter>,
    pub job_seconds: Family<Outcome, Histogram, fn() -> Histogram>,
    pub stage_seconds: Family<Stage, Histogram, fn() -> Histogram>,
    pub encode_speed: Family<QueueLabel, Histogram, fn() -> Histogram>,
    pub objects_stored: Family<ObjectKind, Counter>,
    pub bytes_stored: Family<ObjectKind, Counter>,
    pub s3_requests: Family<S3Request, Counter>,
    pub retries: Family<ErrorKind, Counter>,
    pub errors: Family<ErrorKind, Counter>,
    pub broker_reconnects: Counter,
    pub job_running: Family<QueueLabel, Gauge>,
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("vodpipe");
        let m = Metrics {
            jobs: Family::default(),
            job_seconds: Family::new_with_constructor(duration_buckets),
            stage_seconds: Family::new_with_constructor(duration_buckets),
            encode_speed: Family::new_with_constructor(speed_buckets),
            objects_stored: Family::default(),
            bytes_stored: Family::default(),
            s3_requests: Family::default(),
            retries: Family::default(),
            errors: Family::default(),
            broker_reconnects: Counter::default(),
            job_running: Family::default(),
            registry: Registry::default(),
        };
        registry.register("jobs", "Jobs (titles and chunks) by how they ended", m.jobs.clone());
        registry.register_with_unit("job_duration", "Time from taking a job to settling it", Unit::Seconds, m.job_seconds.clone());
        registry.register_with_unit("stage_duration", "Time of each stage of a job", Unit::Seconds, m.stage_seconds.clone());
        registry.register("encode_speed", "Seconds of source packaged per second of wall time (x realtime)", m.encode_speed.clone());
        registry.register("objects_stored", "Objects stored (segments, init segments, manifests, ...)", m.objects_stored.clone());
        registry.register_with_unit("stored", "Bytes of objects stored", Unit::Bytes, m.bytes_stored.clone());
        registry.register("s3_requests", "S3 requests (each attempt) by operation and result", m.s3_requests.clone());
        registry.register("retries", "Failures tried again, by where", m.retries.clone());
        registry.register("errors", "Job failures by kind", m.errors.clone());
        registry.register("broker_reconnects", "Connections to the broker made again after one was lost", m.broker_reconnects.clone());
        registry.register("job_running", "Whether a job of the queue is running (1) or not (0)", m.job_running.clone());
        // Idle until a job starts: the series exist from the first scrape.
        for queue in [TITLES, CHUNKS] {
            m.job_running.get_or_create(&QueueLabel { queue }).set(0);
        }
        Metrics { registry, ..m }
    }

    /// The text Prometheus scrapes (OpenMetrics).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String");
        out
    }

    /// Counts a stored object by the kind its key names.
    pub fn stored(&self, key: &str, bytes: u64) {
        let kind = ObjectKind { kind: object_kind(key) };
        self.objects_stored.get_or_create(&kind).inc();
        self.bytes_stored.get_or_create(&kind).inc_by(bytes);
    }

    /// Records how a job ended and how long it took.
    pub fn job_ended(&self, queue: &'static str, outcome: &'static str, cause: &'static str, took: Duration) {
        let o = Outcome { queue, outcome, cause };
        self.jobs.get_or_create(&o).inc();
        self.job_seconds.get_or_create(&o).observe(took.as_secs_f64());
        if cause != "none" {
            self.errors.get_or_create(&ErrorKind { kind: cause }).inc();
        }
    }

    pub fn stage(&self, stage: &'static str, took: Duration) {
        self.stage_seconds.get_or_create(&Stage { stage }).observe(took.as_secs_f64());
    }
}

/// The kind of object a title-relative or full key names.
fn object_kind(key: &str) -> &'static str {
    let name = key.rsplit('/').next().unwrap_or(key);
    match name {
        n if n.ends_with(".m4s") => "segment",
        "init.mp4" => "init",
        "master.m3u8" | "manifest.mpd" => "manifest",
        "catalog.json" => "catalog",
        n if n.ends_with(".m3u8") => "playlist",
        n if n.ends_with(".jpg") || key.contains("thumbs/") => "thumbnail",
        n if n.ends_with(".vtt") => "subtitles",
        _ => "other",
    }
}

/// The process's metrics.
pub fn get() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// What `/healthz` and `/readyz` report.
#[derive(Default)]
pub struct State {
    connected: AtomicBool,
    consuming: AtomicBool,
    /// What this machine lacks (the start-up check, or a job that found it): unhealthy.
    unfit: Mutex<Option<String>>,
}

impl State {
    pub fn set_connected(&self, yes: bool) {
        self.connected.store(yes, Ordering::Relaxed);
        if !yes {
            self.consuming.store(false, Ordering::Relaxed);
        }
    }

    pub fn set_consuming(&self, yes: bool) {
        self.consuming.store(yes, Ordering::Relaxed);
    }

    pub fn set_unfit(&self, reason: &str) {
        self.unfit.lock().expect("state lock").get_or_insert_with(|| reason.to_owned());
    }

    /// `Err(why)` when the worker cannot do its work at all.
    fn health(&self) -> Result<(), String> {
        match self.unfit.lock().expect("state lock").as_ref() {
            Some(reason) => Err(format!("unfit: {reason}")),
            None => Ok(()),
        }
    }

    /// `Err(why)` when the worker should not be sent work now.
    fn readiness(&self) -> Result<(), String> {
        self.health()?;
        if !self.connected.load(Ordering::Relaxed) {
            return Err("not connected to the broker".into());
        }
        if !self.consuming.load(Ordering::Relaxed) {
            return Err("not consuming".into());
        }
        Ok(())
    }
}

/// The process's health state.
pub fn state() -> &'static State {
    static STATE: OnceLock<State> = OnceLock::new();
    STATE.get_or_init(State::default)
}

/// Binds `addr` and serves the three routes until the process ends.
pub async fn serve(addr: SocketAddr) -> Result<()> {
    let listener = TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr} for metrics"))?;
    tracing::info!(%addr, "serving /metrics, /healthz and /readyz");
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(async move {
                        if let Err(e) = answer(stream).await {
                            tracing::debug!("metrics request: {e:#}");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!("metrics listener: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
    Ok(())
}

/// The largest request head read (Prometheus sends a few hundred bytes).
const MAX_REQUEST_HEAD: usize = 8192;

/// Reads one request head and writes one response, then closes.
async fn answer(mut stream: TcpStream) -> Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await.context("request head timed out")??;
        if n == 0 || head.len() + n > MAX_REQUEST_HEAD {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head).lines().next().unwrap_or_default().to_owned();
    let (status, content_type, body) = route(&line);
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await?;
    Ok(())
}

/// (status line, content type, body) for a request line such as `GET /metrics HTTP/1.1`.
fn route(request_line: &str) -> (&'static str, &'static str, String) {
    const TEXT: &str = "text/plain; charset=utf-8";
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if method != "GET" {
        return ("405 Method Not Allowed", TEXT, "GET only\n".into());
    }
    let probe = |r: Result<(), String>| match r {
        Ok(()) => ("200 OK", TEXT, "ok\n".to_owned()),
        Err(why) => ("503 Service Unavailable", TEXT, format!("{why}\n")),
    };
    match target.split('?').next().unwrap_or("") {
        "/metrics" => ("200 OK", "application/openmetrics-text; version=1.0.0; charset=utf-8", get().encode()),
        "/healthz" => probe(state().health()),
        "/readyz" => probe(state().readiness()),
        _ => ("404 Not Found", TEXT, "routes: /metrics /healthz /readyz\n".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_counted_by_what_they_are() {
        for (key, kind) in [
            ("v/h264_720p/seg-00001.m4s", "segment"),
            ("v/h264_720p/init.mp4", "init"),
            ("v/h264_720p/playlist.m3u8", "playlist"),
            ("v/master.m3u8", "manifest"),
            ("v/manifest.mpd", "manifest"),
            ("v/catalog.json", "catalog"),
            ("v/thumbs/sprite-001.jpg", "thumbnail"),
            ("v/thumbs/thumbs.vtt", "thumbnail"),
            ("v/subs_en/seg-00001.vtt", "subtitles"),
            ("_jobs/j/chunks/0001.json", "other"),
        ] {
            assert_eq!(object_kind(key), kind, "{key}");
        }
    }

    #[test]
    fn the_exposition_names_every_family_with_its_unit() {
        let m = Metrics::new();
        m.job_ended("titles", "packaged", "none", Duration::from_secs(3));
        m.job_ended("titles", "dead_lettered", "bad-input", Duration::from_secs(1));
        m.stored("v/a/seg-00001.m4s", 1000);
        let text = m.encode();
        for needle in [
            "vodpipe_jobs_total{queue=\"titles\",outcome=\"packaged\",cause=\"none\"} 1",
            "vodpipe_jobs_total{queue=\"titles\",outcome=\"dead_lettered\",cause=\"bad-input\"} 1",
            "vodpipe_errors_total{kind=\"bad-input\"} 1",
            "vodpipe_job_duration_seconds_count{queue=\"titles\",outcome=\"packaged\",cause=\"none\"} 1",
            "vodpipe_stored_bytes_total{kind=\"segment\"} 1000",
            "vodpipe_objects_stored_total{kind=\"segment\"} 1",
            "# EOF",
        ] {
            assert!(text.contains(needle), "{needle} not in:\n{text}");
        }
    }

    #[test]
    fn routes_answer_by_state() {
        assert_eq!(route("GET /nothing HTTP/1.1").0, "404 Not Found");
        assert_eq!(route("POST /metrics HTTP/1.1").0, "405 Method Not Allowed");
        assert!(route("GET /metrics HTTP/1.1").2.contains("# EOF"));
        let s = State::default();
        assert!(s.readiness().is_err(), "not ready before connecting");
        s.set_connected(true);
        s.set_consuming(true);
        assert_eq!(s.readiness(), Ok(()));
        s.set_unfit("missing x264enc");
        assert_eq!(s.health(), Err("unfit: missing x264enc".into()));
        assert!(s.readiness().is_err());
    }
}
