//! GStreamer side of vodpipe: probe a source, decode it once, encode every
//! ladder rung with aligned keyframes, cut CMAF segments, fingerprint them and
//! hand them to a [`Storage`]; then write the manifests and the catalog
//! document, last, once every segment they name is stored.
//!
//! Layout:
//! - `ladder`: ladder files (TOML) and their validated form.
//! - `probe`: what the source is, before anything is built.
//! - `rate`: the frame rate a source really runs at, from its timestamps.
//! - `encode`: per-codec encoder/parser/muxer settings.
//! - `downmix`: the coefficients that mix any channel layout to the stereo rendition.
//! - `copy`: rungs packaged from the source's own stream, without re-encoding.
//! - `parts`: a title made as one pipeline or as chunks of its video and one of its audio.
//! - `pipeline`: the GStreamer graph and its streaming-thread callbacks.
//! - `timeline`: every stream on the title's timeline (offsets, silence, exact decode times).
//! - `thumbs`: poster selection and trick-play sprites.
//! - `source`: the element that reads the upload (with qtdemux's edit-list workaround).
//! - `range_src`: reading an upload by ranges (a worker's chunk of a title in S3).
//! - `storage`: the trait the worker implements (folder, S3).
//! - `heap`: zeroed memory from `malloc`, so encoders that read what they did not write
//!   give the same bytes in a long-running worker as in a new process.
//! - `failpoints`: faults injected on purpose for tests (`VODPIPE_FAILPOINT`).
//! - `error`: the crate's error type, and whose fault each error is (`Cause`).
//! - `doctor`: the GStreamer elements a ladder needs, and the Debian package of each.
//!
//! The title being built (segment numbers, held audio, thumbnails) is `manifest::title`'s
//! pure builder: this crate feeds it the pipeline's output and stores what it releases.

pub mod audio_labels;
pub mod copy;
mod decode_errors;
pub mod doctor;
pub mod downmix;
pub mod encode;
pub mod error;
pub mod failpoints;
mod heap;
pub mod ladder;
mod parts;
mod pipeline;
pub mod probe;
pub mod range_src;
pub mod rate;
mod source;
pub mod storage;
pub mod subtitles;
mod svtav1;
pub mod thumbs;
mod timeline;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gst::prelude::*;
use manifest::catalog::{self, Catalog};
use manifest::model::{Presentation, Segment, Sha256Digest, TrackInfo, TrackKind, iframe_playlist_uri, media_playlist_uri};
use manifest::title::{InitOutcome, PlannedTrack, Release, SpriteIndex, TitleBuilder};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

pub use audio_labels::AudioLabel;
pub use error::{Cause, Error, StoreError};
pub use ladder::Ladder;
pub use storage::{Caching, Object, Storage};
pub use range_src::RangeReader;
pub use parts::{AUDIO_PART, chunk_name};
pub use manifest::chunk::{ChunkSpan, Part};

use pipeline::{Msg, TrackSpec};
use storage::content_type as ct;

/// Objects being stored at once: enough to hide a store's latency, few
/// enough that a slow store pushes back on the pipeline.
const MAX_INFLIGHT_PUTS: usize = 4;
/// A pipeline whose decoded position has not moved for this long is stuck.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(120);
/// init segments embed the wall clock; they are pinned to this value
/// (seconds since 1904, i.e. 1904-01-01) so fingerprints are reproducible.
const PINNED_MP4_TIME: u64 = 0;

/// Registers the statically linked plugins; call once before anything else.
pub fn init() -> Result<(), Error> {
    if !heap::zero_new_allocations() {
        tracing::warn!("this C library cannot zero new allocations: x264 rungs may differ run to run");
    }
    gst::init().map_err(|e| Error::Setup(format!("gstreamer init: {e}")))?;
    gstfmp4::plugin_register_static().map_err(|e| Error::Setup(format!("fmp4 plugin: {e}")))?;
    svtav1::register(None).map_err(|e| Error::Setup(format!("SVT-AV1 element: {e}")))?;
    decode_errors::install();
    Ok(())
}

/// One packaging job.
#[derive(Debug, Clone)]
pub struct Job {
    pub input: PathBuf,
    pub video_id: String,
    pub ladder: Ladder,
    /// Passed in so the library has no clock of its own (RFC 3339).
    pub published_at: String,
    /// Name and version of the producing program, recorded in the catalog.
    pub generator: String,
    /// Where the source lives, as the catalog should record it (`s3://…`);
    /// `None` records the input file's `file://` URI.
    pub source_uri: Option<String>,
    /// The watchdog: a pipeline whose position has not moved for this long
    /// fails the job as stalled (retryable). [`STALL_TIMEOUT`] unless set.
    pub stall_timeout: Duration,
    /// Length of the chunks the title's video is cut into (see `parts`): `None` takes the
    /// ladder's `chunk_duration`; zero turns chunking off.
    pub chunk_duration: Option<Duration>,
    /// Chunk pipelines run at once (at least 1), beside the audio-and-thumbnails one.
    pub parallel_parts: usize,
    /// Reads the source by ranges instead of from the file at `input` (which then only
    /// names it in errors): a chunk of a title stored elsewhere. Only [`package_part`]
    /// reads through it; the rest of the API reads `input`.
    pub reader: Option<Arc<dyn RangeReader>>,
    /// Sidecar subtitle files, each a WebVTT rendition of the title (see [`subtitles`]).
    pub subtitles: Vec<subtitles::SubtitleFile>,
    /// What the job states about the source's audio streams (see [`audio_labels`]).
    pub audio: Vec<AudioLabel>,
}

/// Progress of a running job.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub position: Duration,
    pub duration: Duration,
    pub elapsed: Duration,
    pub segments_stored: u64,
}

impl Progress {
    pub fn fraction(&self) -> f64 {
        if self.duration.is_zero() { 0.0 } else { (self.position.as_secs_f64() / self.duration.as_secs_f64()).min(1.0) }
    }
    /// Seconds of source processed per second of wall time.
    pub fn speed(&self) -> f64 {
        if self.elapsed.is_zero() { 0.0 } else { self.position.as_secs_f64() / self.elapsed.as_secs_f64() }
    }
}

/// Callbacks in the order the segmenter fires them.
pub trait Listener: Send + Sync {
    fn on_media_start(&self, _track: &TrackInfo) {}
    fn on_new_segment(&self, _rendition: &str, _segment: &Segment) {}
    fn on_progress(&self, _progress: Progress) {}
}

/// A listener that ignores everything.
pub struct NoListener;
impl Listener for NoListener {}

/// What a finished job produced.
#[derive(Debug)]
pub struct Packaged {
    pub presentation: Presentation,
    pub catalog: Catalog,
    pub source: probe::SourceMedia,
}

/// Cancels a running job from another task (signal handling, shutdown).
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);
impl Cancel {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The sha256 of a file, read once, sequentially, 1 MiB at a time (memory stays flat
/// whatever the size). The source is hashed so in its own thread: the demuxer reads it out
/// of order, so it can't be hashed as the pipeline pulls it.
pub fn hash_file(path: &Path) -> std::io::Result<Sha256Digest> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(Sha256Digest(h.finalize().into()));
        }
        h.update(&buf[..n]);
    }
}

/// [`hash_file`] of the input, its errors the input's.
fn hash_input(path: &Path) -> Result<Sha256Digest, Error> {
    hash_file(path).map_err(|source| Error::InputRead { path: path.to_owned(), source })
}

/// Audio past the video's last segment has no video beside it (see `manifest::title`).
const AUDIO_PAST_VIDEO: &str = "audio after the video's end is not part of the title";

/// The title being built by this job.
type Title = TitleBuilder<Vec<u8>>;

struct Puts {
    set: JoinSet<Result<(), Error>>,
    store: Arc<dyn Storage>,
    /// The store's watchdog: waiting this long for any request to finish fails the job.
    stall_timeout: Duration,
}

impl Puts {
    async fn next_done(&mut self) -> Option<Result<(), Error>> {
        let in_flight = self.set.len();
        match tokio::time::timeout(self.stall_timeout, self.set.join_next()).await {
            Ok(done) => done.map(|r| r.map_err(|e| Error::Setup(e.to_string())).and_then(|r| r)),
            Err(_) => Some(Err(Error::StoreStalled { seconds: self.stall_timeout.as_secs_f64(), in_flight })),
        }
    }

    async fn put(&mut self, object: Object) -> Result<(), Error> {
        while self.set.len() >= MAX_INFLIGHT_PUTS {
            self.next_done().await.expect("non-empty")?;
        }
        let store = self.store.clone();
        let put = async move {
            let key = object.key.clone();
            store.put(object).await.map_err(|source| Error::Store { key, source })
        };
        // The store's log lines carry the job's fields (job id, video id).
        self.set.spawn(tracing::Instrument::in_current_span(put));
        Ok(())
    }

    async fn drain(&mut self) -> Result<(), Error> {
        while let Some(r) = self.next_done().await {
            r?;
        }
        Ok(())
    }
}

fn object(key: String, body: Vec<u8>, content_type: &'static str, caching: Caching) -> Object {
    let sha256 = Sha256Digest::of(&body);
    Object { key, body, content_type, caching, sha256 }
}

/// Runs a whole job: probe, transcode, segment, store, then manifests and catalog.
pub async fn package(
    job: &Job,
    store: Arc<dyn Storage>,
    listener: Arc<dyn Listener>,
    cancel: Cancel,
) -> Result<Packaged, Error> {
    // Subtitle files are checked before an hour of encoding, not after it.
    subtitles::load(&job.subtitles)?;
    let source = probe_source(&job.input).await?;
    package_probed(job, source, store, listener, cancel).await
}

/// [`package`] for a source already probed (by [`plan_title`]).
pub async fn package_probed(
    job: &Job,
    source: probe::SourceMedia,
    store: Arc<dyn Storage>,
    listener: Arc<dyn Listener>,
    cancel: Cancel,
) -> Result<Packaged, Error> {
    match package_once(job, source.clone(), store.clone(), listener.clone(), cancel.clone(), true).await {
        Err(Error::CopyRefused { rendition, reason }) => {
            // Found at the first frame (B-frames) or boundary without a keyframe, usually
            // the first one. The encoded run writes the same keys, so whatever the copy
            // run stored is replaced.
            tracing::info!(%rendition, "{reason}: packaging again with every rung encoded");
            package_once(job, source, store, listener, cancel, false).await
        }
        other => other,
    }
}

async fn package_once(
    job: &Job,
    source: probe::SourceMedia,
    store: Arc<dyn Storage>,
    listener: Arc<dyn Listener>,
    cancel: Cancel,
    allow_copy: bool,
) -> Result<Packaged, Error> {
    let started = Instant::now();
    let tracks = title_tracks(job, &source, allow_copy)?;
    log_tracks(job, &source, &tracks);
    let input = job.input.clone();
    let hasher = tokio::task::spawn_blocking(move || hash_input(&input));
    let run = Arc::new(TitleRun::new(job, source, &tracks, store.clone(), listener, cancel, started));
    let parts = parts::run(&run, tracks).await?;
    let source_sha = hasher.await.map_err(|e| Error::Setup(e.to_string()))??;
    finish_title(job, &run.source, parts, source_sha, store).await
}

async fn probe_source(input: &Path) -> Result<probe::SourceMedia, Error> {
    let input = input.to_owned();
    tokio::task::spawn_blocking(move || probe::probe(&input)).await.map_err(|e| Error::Setup(e.to_string()))?
}

/// The title's tracks: a video track per rung (copied where `allow_copy` and the source
/// allows), then the audio, if the source has any.
fn title_tracks(job: &Job, source: &probe::SourceMedia, allow_copy: bool) -> Result<Vec<TrackSpec>, Error> {
    let mut plan = job.ladder.rungs_for(&source.geometry)?;
    if allow_copy {
        copy::decide(&mut plan, source);
    }
    // Kept on a rerun: audio copies are never refused mid-stream.
    let audio_copy = copy::decide_audio(&job.ladder.audio, source);
    let mut tracks: Vec<TrackSpec> = plan.into_iter().map(TrackSpec::Video).collect();
    if source.has_audio {
        audio_labels::check(&job.audio, source, &job.input)?;
        // Each stream in stereo, and in 5.1 beside it when it has 6 channels or more (stereo
        // first: the default rendition, for devices that pick the first), the default
        // stream first. A copy is of the source's first stream only, which is stereo then.
        for stream in audio_labels::stream_order(&job.audio, source.audio_streams.len().max(1)) {
            let copy = stream == 0 && audio_copy;
            tracks.push(TrackSpec::Audio { copy, stream, surround: false });
            let channels = source.audio_streams.get(stream).map_or(0, |a| a.channels);
            if channels >= 6 && job.ladder.audio.surround_bitrate > 0 {
                tracks.push(TrackSpec::Audio { copy: false, stream, surround: true });
            }
        }
    }
    Ok(tracks)
}

/// One line saying what is about to be made of the source, once per pipeline.
fn log_tracks(job: &Job, source: &probe::SourceMedia, tracks: &[TrackSpec]) {
    let mut rungs = Vec::new();
    let mut audio = "none";
    for t in tracks {
        match t {
            TrackSpec::Video(p) if p.copy => rungs.push(format!("{} (copy)", p.rung.id())),
            TrackSpec::Video(p) => rungs.push(format!("{} ({})", p.rung.id(), p.rung.encoder.name())),
            TrackSpec::Audio { copy: true, .. } => audio = "copy",
            TrackSpec::Audio { .. } if audio == "none" => audio = "encode",
            TrackSpec::Audio { .. } => {}
        }
    }
    tracing::info!(
        video_id = %job.video_id,
        source = %format!("{}x{} {} fps {:.3} s {}", source.geometry.width, source.geometry.height,
            source.frame_rate.as_f64(), source.duration_ns as f64 / 1e9, source.video_codec),
        audio,
        rungs = %rungs.join(","),
        "packaging"
    );
}

/// How a title is to be made: what its source is, and the chunks its video is cut into
/// (one, the whole title, with the reason, where it is not cut).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TitlePlan {
    pub source: probe::SourceMedia,
    pub chunks: Vec<ChunkSpan>,
    pub whole_because: Option<String>,
}

impl TitlePlan {
    /// More than one part: its chunks and the audio-and-thumbnails part.
    pub fn is_chunked(&self) -> bool {
        self.chunks.len() > 1
    }
}

/// Probes the source at `job.input` and plans the title.
pub async fn plan_title(job: &Job) -> Result<TitlePlan, Error> {
    let source = probe_source(&job.input).await?;
    let tracks = title_tracks(job, &source, true)?;
    let (chunks, whole_because) = parts::chunks(job, &source, &tracks);
    Ok(TitlePlan { source, chunks, whole_because: whole_because.map(str::to_owned) })
}

/// One part of a chunked title, made alone (by a worker of a farm).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartOf {
    Chunk(ChunkSpan),
    AudioAndThumbnails,
}

/// Makes one part of a chunked title (its source as [`plan_title`] found it) and stores its segments; the part
/// (what the assembly needs of it) is returned once they are stored. A chunk reads the
/// source through `job.reader` where it is set.
pub async fn package_part(
    job: &Job,
    source: &probe::SourceMedia,
    part: PartOf,
    store: Arc<dyn Storage>,
    listener: Arc<dyn Listener>,
    cancel: Cancel,
) -> Result<Part, Error> {
    // A chunked title has no copied rung (`parts::why_one_pipeline`).
    let tracks = title_tracks(job, source, false)?;
    log_tracks(job, source, &tracks);
    let run = TitleRun::new(job, source.clone(), &tracks, store, listener, cancel, Instant::now());
    let (video, audio): (Vec<TrackSpec>, Vec<TrackSpec>) = tracks.into_iter().partition(|t| matches!(t, TrackSpec::Video(_)));
    let part = match part {
        PartOf::Chunk(span) => parts::chunk_part(&run, &span, video),
        PartOf::AudioAndThumbnails => parts::audio_part(&run, audio),
    };
    run_part(&run, part).await
}

/// The sha256 of the source file (read once, sequentially, on a blocking thread).
pub async fn source_sha256(path: &Path) -> Result<Sha256Digest, Error> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || hash_input(&path)).await.map_err(|e| Error::Setup(e.to_string()))?
}

/// Assembles the title from its parts and publishes its manifests and catalog, last.
pub async fn finish_title(
    job: &Job,
    source: &probe::SourceMedia,
    parts: Vec<Part>,
    source_sha: Sha256Digest,
    store: Arc<dyn Storage>,
) -> Result<Packaged, Error> {
    let assembled = manifest::chunk::assemble(&job.video_id, parts).map_err(|e| title_error(e, job))?;
    for segment in &assembled.dropped_audio {
        tracing::info!(uri = %segment.uri, "{AUDIO_PAST_VIDEO}: stored but not listed");
    }
    let (mut presentation, thumbs, part_records) = (assembled.presentation, assembled.thumbnails, assembled.parts);
    let text = assembled.text;
    check_complete(&presentation, source, &job.input)?;
    let mut puts = Puts { set: JoinSet::new(), store: store.clone(), stall_timeout: job.stall_timeout };
    let mut loaded = subtitles::embedded(&text, source);
    loaded.extend(subtitles::load(&job.subtitles)?);
    let (subtitle_tracks, subtitle_files) = subtitles::renditions(&loaded, &presentation);
    for o in subtitle_files {
        puts.put(o).await?;
    }
    presentation.subtitles = subtitle_tracks;
    let source_info = catalog::SourceInfo {
        uri: match &job.source_uri {
            Some(uri) => uri.clone(),
            None => probe::file_uri(&job.input)?,
        },
        container: source.container.clone(),
        video_codec: source.video_codec.clone(),
        audio_codec: source.audio_codec.clone(),
        duration_ns: source.duration_ns,
        width: source.geometry.width,
        height: source.geometry.height,
        display_aspect_ratio: display_ratio(source),
        frame_rate: source.frame_rate,
        size_bytes: source.size_bytes,
        sha256: source_sha,
    };
    let mut catalog = catalog::build(&presentation, &source_info, &thumbs, &store.base_uri(), &job.published_at, &job.generator);
    catalog.parts = part_records;
    publish(&presentation, &catalog, &mut puts).await?;
    Ok(Packaged { presentation, catalog, source: source.clone() })
}

/// Manifests last: media (and I-frame) playlists, then DASH, then the HLS primary, then the catalog
/// document, each only after everything it names is stored.
async fn publish(presentation: &Presentation, catalog: &Catalog, puts: &mut Puts) -> Result<(), Error> {
    for r in &presentation.renditions {
        let body = manifest::hls::media_playlist(r).into_bytes();
        puts.put(object(media_playlist_uri(&r.track.id), body, ct::HLS, Caching::Short)).await?;
        if let Some(iframes) = manifest::hls::iframe_playlist(r) {
            puts.put(object(iframe_playlist_uri(&r.track.id), iframes.into_bytes(), ct::HLS, Caching::Short)).await?;
        }
    }
    for t in &presentation.subtitles {
        let body = manifest::hls::subtitle_playlist(t).into_bytes();
        puts.put(object(media_playlist_uri(&t.id), body, ct::HLS, Caching::Short)).await?;
    }
    puts.drain().await?;
    let mpd = manifest::dash::mpd(presentation, Some(&catalog.thumbnails)).map_err(|source| Error::Output { rendition: catalog::DASH_MPD.into(), source })?;
    puts.put(object(catalog::DASH_MPD.into(), mpd.into_bytes(), ct::DASH, Caching::Short)).await?;
    puts.put(object(catalog::HLS_MASTER.into(), manifest::hls::master_playlist(presentation).into_bytes(), ct::HLS, Caching::Short))
        .await?;
    puts.drain().await?;
    puts.put(object(catalog::CATALOG_JSON.into(), catalog.to_json_pretty().into_bytes(), ct::JSON, Caching::Short)).await?;
    puts.drain().await
}

/// What every part of one title's run shares.
pub(crate) struct TitleRun {
    job: Job,
    source: probe::SourceMedia,
    /// [`pipeline::delay_frames`] of the whole title.
    delay_frames: u32,
    store: Arc<dyn Storage>,
    listener: Arc<dyn Listener>,
    cancel: Cancel,
    /// Set when a part fails: the title's other parts stop.
    abort: Cancel,
    started: Instant,
    progress: parts::Progress,
}

impl TitleRun {
    fn new(
        job: &Job,
        source: probe::SourceMedia,
        tracks: &[TrackSpec],
        store: Arc<dyn Storage>,
        listener: Arc<dyn Listener>,
        cancel: Cancel,
        started: Instant,
    ) -> Self {
        TitleRun {
            job: job.clone(),
            delay_frames: pipeline::delay_frames(tracks, &source),
            source,
            store,
            listener,
            cancel,
            abort: Cancel::default(),
            started,
            progress: parts::Progress::default(),
        }
    }
}

/// Runs one pipeline making one part of the title (all of it, a chunk of its video, or its
/// audio and thumbnails), storing each segment as the part's [`Title`] releases it; the
/// part is returned once everything it names is stored.
async fn run_part(run: &TitleRun, part: parts::PartJob) -> Result<manifest::chunk::Part, Error> {
    let parts::PartJob { name, tracks, spec, first_segment, progress_from, audio_up_to } = part;
    let job = &run.job;
    let source = &run.source;
    let mut title = Title::new(
        job.video_id.clone(),
        tracks.iter().map(|t| match t {
            TrackSpec::Video(p) => PlannedTrack { id: p.rung.id(), kind: TrackKind::Video, codec: Some(p.rung.codec) },
            TrackSpec::Audio { stream, surround, .. } => {
                PlannedTrack { id: TrackSpec::audio_id(*stream, *surround), kind: TrackKind::Audio, codec: None }
            }
        }),
    )
    .numbered_from(first_segment);
    if let Some(last) = audio_up_to {
        title = title.audio_up_to(last);
    }

    let (tx, mut rx) = mpsc::channel::<Msg>(8);
    let graph = pipeline::build(source::Input { path: &job.input, reader: job.reader.as_ref() }, &job.ladder, source, tracks, run.delay_frames, spec, tx.clone())?;
    let pipeline = graph.pipeline.clone();
    let bus_done = Arc::new(AtomicBool::new(false));
    let decode_errors = decode_errors::register();
    let watch = Watch { cancel: run.cancel.clone(), abort: run.abort.clone(), done: bus_done.clone(), stall_timeout: job.stall_timeout, decode_errors: decode_errors.counter() };
    // Failures found by the bus thread come on a channel of their own: the streaming
    // threads' channel may be full while the consumer waits on a stuck store.
    let (fail_tx, mut fail_rx) = mpsc::unbounded_channel::<Error>();
    let bus = spawn_bus_watch(&graph, tx.clone(), fail_tx, watch);
    drop(tx);
    if let Err(e) = pipeline.set_state(gst::State::Playing) {
        bus_done.store(true, Ordering::Relaxed);
        let _ = pipeline.set_state(gst::State::Null);
        return Err(Error::Setup(format!("cannot start pipeline: {e}")));
    }

    let part_progress = run.progress.part(progress_from);
    let result = tokio::select! {
        r = consume(run, &mut rx, &mut title, &graph, &part_progress) => r,
        Some(e) = fail_rx.recv() => Err(e),
    };
    let result = match result {
        Err(e @ Error::Pipeline { .. }) => Err(streaming_failure(&mut rx).unwrap_or(e)),
        other => other,
    };
    // Close the channel first: a streaming thread blocked in blocking_send
    // then returns, and the state change to Null cannot deadlock on it.
    drop(rx);
    bus_done.store(true, Ordering::Relaxed);
    let p = pipeline.clone();
    let _ = tokio::task::spawn_blocking(move || p.set_state(gst::State::Null)).await;
    let _ = bus.await;
    drop(decode_errors);
    let mut puts = result?;
    let manifest::title::FinishedPart { last, part, dropped_audio } = title.finish_part(&name).map_err(|e| title_error(e, job))?;
    for r in last {
        store_segment(r, &mut puts, &*run.listener).await?;
    }
    for (rendition, fragments) in &dropped_audio {
        tracing::info!(%rendition, fragments, "{AUDIO_PAST_VIDEO}: dropped");
    }
    puts.drain().await?;
    Ok(manifest::chunk::Part { worker: Some(this_worker()), ..part })
}

/// A failure a streaming thread queued before it stopped the stream (a copy refused, a
/// muxer output it could not read): the bus's error for the same stop ("Internal data
/// stream error") comes after it on the other channel and can be taken first; this one
/// says what happened.
fn streaming_failure(rx: &mut mpsc::Receiver<Msg>) -> Option<Error> {
    while let Ok(msg) = rx.try_recv() {
        if let Msg::Failed(e) = msg {
            return Some(e);
        }
    }
    None
}

/// This process, as the catalog names the worker that made a part.
fn this_worker() -> manifest::chunk::Worker {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into());
    manifest::chunk::Worker { host, pid: std::process::id() }
}

/// A file cut short after its index (moov up front, mdat truncated: an interrupted upload)
/// decodes "successfully" up to the cut; publishing it would ship a title without its end.
///
/// Where the header states the video's own end (MP4/QuickTime edits), the packaged video
/// must reach it to within [`STATED_END_TOLERANCE_S`] (or two frames): a two-hour film cut
/// two minutes short is refused. Otherwise only the container's duration (its longest
/// stream, as GStreamer's Discoverer reports it, which is approximate for some formats) is
/// known, and the video may fall short of it by max(1 s, 2 %).
fn check_complete(p: &Presentation, source: &probe::SourceMedia, input: &Path) -> Result<(), Error> {
    let packaged_end = p
        .renditions
        .iter()
        .filter(|r| r.track.kind == TrackKind::Video)
        .filter_map(|r| Some((r.segments.first()?.start + r.duration()) as f64 / r.track.timescale as f64))
        .fold(0.0, f64::max);
    let (expected, tolerance, said) = match source.stated_video_end_ns {
        Some(end) => (end as f64 / 1e9, STATED_END_TOLERANCE_S.max(2.0 / source.frame_rate.as_f64()), "its header says the video runs to"),
        None => {
            let d = source.duration_ns as f64 / 1e9;
            (d, (d * 0.02).max(1.0), "the container says")
        }
    };
    if packaged_end + tolerance < expected {
        return Err(Error::BadSource {
            path: input.to_owned(),
            reason: format!("video ends at {packaged_end:.3} s but {said} {expected:.3} s: truncated or corrupt"),
        });
    }
    Ok(())
}

/// How far the packaged video may end before the end an MP4/QuickTime header states.
const STATED_END_TOLERANCE_S: f64 = 0.1;

fn display_ratio(s: &probe::SourceMedia) -> (u32, u32) {
    let g = &s.geometry;
    let (mut n, mut d) = (g.width as u64 * g.par_n as u64, g.height as u64 * g.par_d as u64);
    let mut a = n;
    let mut b = d;
    while b != 0 {
        (a, b) = (b, a % b);
    }
    if let (Some(rn), Some(rd)) = (n.checked_div(a), d.checked_div(a)) {
        (n, d) = (rn, rd);
    }
    (n as u32, d as u32)
}

/// What the bus thread watches besides the bus.
struct Watch {
    cancel: Cancel,
    abort: Cancel,
    done: Arc<AtomicBool>,
    stall_timeout: Duration,
    decode_errors: Arc<decode_errors::DecodeErrors>,
}

fn is_decoder(element: Option<&gst::Object>) -> bool {
    element
        .and_then(|o| o.downcast_ref::<gst::Element>())
        .and_then(|e| e.factory())
        .and_then(|f| f.metadata(gst::ELEMENT_METADATA_KLASS).map(|k| k.contains("Decoder")))
        .unwrap_or(false)
}

fn spawn_bus_watch(
    graph: &pipeline::Graph,
    tx: mpsc::Sender<Msg>,
    fail: mpsc::UnboundedSender<Error>,
    watch: Watch,
) -> tokio::task::JoinHandle<()> {
    let bus = graph.pipeline.bus().expect("pipeline has a bus");
    let pipeline = graph.pipeline.clone();
    let position = graph.position_ns.clone();
    let source_position = graph.source_position_ns.clone();
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        // The bus's log lines carry the job's fields (job id, video id).
        let _job = span.enter();
        let mut last = (u64::MAX, Instant::now());
        while !watch.done.load(Ordering::Relaxed) {
            if watch.cancel.is_cancelled() || watch.abort.is_cancelled() {
                let _ = fail.send(Error::Cancelled);
                return;
            }
            let pos = position.load(Ordering::Relaxed);
            if watch.decode_errors.count() > 0 {
                let _ = fail.send(Error::DecodeError {
                    position_s: source_position.load(Ordering::Relaxed) as f64 / 1e9,
                    message: watch.decode_errors.first().unwrap_or_default(),
                });
                return;
            }
            if pos != last.0 {
                last = (pos, Instant::now());
            } else if last.1.elapsed() > watch.stall_timeout {
                // With GST_DEBUG_DUMP_DOT_DIR set, the graph as it hung, for the post-mortem.
                pipeline.debug_to_dot_file(gst::DebugGraphDetails::all(), "vodpipe-stalled");
                let _ = fail.send(Error::Stalled {
                    seconds: watch.stall_timeout.as_secs_f64(),
                    position_s: pos as f64 / 1e9,
                });
                return;
            }
            let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(250)) else { continue };
            use gst::MessageView;
            match msg.view() {
                MessageView::Error(err) if msg.src().is_some_and(|s| s.is::<range_src::RangeSrc>()) => {
                    // The reader's own words are in the debug text, after the line naming the
                    // code and the element; the error is GStreamer's generic "Could not read
                    // from resource".
                    let message = match err.debug() {
                        Some(d) => d.split_once('\n').map_or(d.as_str(), |(_, words)| words).to_owned(),
                        None => err.error().to_string(),
                    };
                    let _ = fail.send(Error::SourceRead { message });
                    return;
                }
                MessageView::Error(err) => {
                    let element = msg.src().map(|s| s.path_string().to_string()).unwrap_or_else(|| "pipeline".into());
                    let _ = fail.send(Error::Pipeline {
                        element,
                        cause: error::Cause::of_gst_error(&err.error()),
                        error: err.error().to_string(),
                        debug: err.debug().map(|d| d.to_string()).unwrap_or_default(),
                    });
                    return;
                }
                MessageView::Warning(w) if is_decoder(msg.src()) => {
                    // A GstVideoDecoder/GstAudioDecoder warns once per frame it could not
                    // decode; the job fails on it above, with the message in its error.
                    tracing::debug!(element = ?msg.src().map(|s| s.name()), "{} ({:?})", w.error(), w.debug());
                    watch.decode_errors.record(&w.error().to_string());
                }
                MessageView::Warning(w) => {
                    tracing::warn!(element = ?msg.src().map(|s| s.name()), "{} ({:?})", w.error(), w.debug());
                }
                MessageView::Eos(_) => {
                    let _ = tx.blocking_send(Msg::Eos);
                    return;
                }
                _ => {}
            }
        }
    })
}

/// Receives chunks from the streaming threads, gives each to the title and stores what it
/// releases, until the bus reports EOS (posted only after every sink has seen its own EOS).
async fn consume(
    run: &TitleRun,
    rx: &mut mpsc::Receiver<Msg>,
    title: &mut Title,
    graph: &pipeline::Graph,
    progress: &parts::PartProgress<'_>,
) -> Result<Puts, Error> {
    let mut puts = Puts { set: JoinSet::new(), store: run.store.clone(), stall_timeout: run.job.stall_timeout };
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut sink_eos = 0usize;
    loop {
        let msg = tokio::select! {
            m = rx.recv() => m.ok_or_else(|| Error::Setup("pipeline ended without EOS".into()))?,
            _ = tick.tick() => {
                report_progress(run, graph, progress);
                continue;
            }
        };
        match msg {
            Msg::Init { track, bytes } => store_init(run, title, track, bytes, &mut puts).await?,
            Msg::Fragment { track, bytes, sha256 } => {
                for r in title.on_fragment(track, bytes, sha256).map_err(|e| title_error(e, &run.job))? {
                    store_segment(r, &mut puts, &*run.listener).await?;
                    progress.stored();
                }
            }
            Msg::Thumbnail(t) => store_thumbnail(title, t, &mut puts).await?,
            Msg::Cue { stream, cue, language } => title.on_text_cue(stream, cue, language),
            Msg::Failed(e) => return Err(e),
            Msg::SinkEos => sink_eos += 1,
            Msg::Eos => break,
        }
    }
    tracing::debug!(sink_eos, "pipeline finished");
    Ok(puts)
}

/// Tells the listener how far the pipeline is, every half second.
fn report_progress(run: &TitleRun, graph: &pipeline::Graph, progress: &parts::PartProgress<'_>) {
    let duration = Duration::from_nanos(run.source.duration_ns);
    let done = progress.at(graph.position_ns.load(Ordering::Relaxed));
    let position = Duration::from_nanos(done.position_ns).min(duration);
    run.listener.on_progress(Progress { position, duration, elapsed: run.started.elapsed(), segments_stored: done.segments_stored });
}

/// A rendition's init segment: its creation times pinned (same bytes every run), checked
/// against the rendition's other parts by the title, and stored the first time.
async fn store_init(run: &TitleRun, title: &mut Title, track: usize, mut bytes: Vec<u8>, puts: &mut Puts) -> Result<(), Error> {
    let job = &run.job;
    manifest::cmaf::pin_creation_times(&mut bytes, PINNED_MP4_TIME)
        .map_err(|source| Error::Output { rendition: title.track(track).id.clone(), source })?;
    let digest = Sha256Digest::of(&bytes);
    let outcome = title.on_init(track, &bytes, digest, |plan, info| track_info(plan, info, &run.source, &job.audio));
    if let InitOutcome::Store(seg) = outcome.map_err(|e| title_error(e, job))? {
        let info = title.track_info(track).expect("set by on_init");
        run.listener.on_media_start(info);
        let ctype = if info.kind == TrackKind::Video { ct::VIDEO_MP4 } else { ct::AUDIO_MP4 };
        puts.put(Object { key: seg.uri, body: bytes, content_type: ctype, caching: Caching::Immutable, sha256: digest }).await?;
    }
    Ok(())
}

/// The poster, a sprite sheet or the sprites' index: recorded in the title and stored.
async fn store_thumbnail(title: &mut Title, thumbnail: pipeline::Thumbnail, puts: &mut Puts) -> Result<(), Error> {
    let o = match thumbnail {
        pipeline::Thumbnail::Poster { width, height, jpeg } => {
            let o = object(manifest::model::POSTER_URI.into(), jpeg, ct::JPEG, Caching::Immutable);
            title.on_poster(image(&o, width, height));
            o
        }
        pipeline::Thumbnail::Sprite(sheet) => {
            let o = object(manifest::model::sprite_uri(sheet.number), sheet.jpeg, ct::JPEG, Caching::Immutable);
            title.on_sprite(image(&o, sheet.width, sheet.height));
            o
        }
        pipeline::Thumbnail::SpritesDone { vtt, tile_width, tile_height, interval_ns } => {
            let o = object(manifest::model::THUMBNAIL_INDEX_URI.into(), vtt.into_bytes(), ct::VTT, Caching::Immutable);
            title.on_sprites_done(SpriteIndex { vtt_uri: o.key.clone(), tile_width, tile_height, interval_ns });
            o
        }
    };
    puts.put(o).await
}

/// The catalog's record of a stored image.
fn image(o: &Object, width: u32, height: u32) -> catalog::Image {
    catalog::Image { uri: o.key.clone(), width, height, size: o.body.len() as u64, sha256: o.sha256 }
}

/// Tells the listener of a media segment the title released, and stores it.
async fn store_segment(r: Release<Vec<u8>>, puts: &mut Puts, listener: &dyn Listener) -> Result<(), Error> {
    listener.on_new_segment(&r.rendition, &r.segment);
    let content_type = if r.kind == TrackKind::Video { ct::VIDEO_MP4 } else { ct::AUDIO_MP4 };
    puts.put(Object { key: r.segment.uri, body: r.body, content_type, caching: Caching::Immutable, sha256: r.segment.sha256 }).await
}

/// The packager's error for a rule of the title broken: a format change is the upload's,
/// the rest are ours (the pipeline made something it must not).
fn title_error(e: manifest::Error, job: &Job) -> Error {
    match e {
        manifest::Error::FormatChanged { .. } => Error::BadSource { path: job.input.clone(), reason: e.to_string() },
        manifest::Error::NoSegments { rendition } => Error::NoSegments { rendition },
        manifest::Error::ThumbnailsMissing { what } => Error::Thumbnail(what.into()),
        manifest::Error::InTrack { rendition, source } => Error::Output { rendition, source: *source },
        manifest::Error::PartsDisagree { .. } => Error::Assembly(e.to_string()),
        other => Error::Setup(other.to_string()),
    }
}

fn track_info(plan: &PlannedTrack, info: &manifest::codecs::InitInfo, source: &probe::SourceMedia, labels: &[AudioLabel]) -> TrackInfo {
    let video = plan.kind == TrackKind::Video;
    // An audio rendition is of one source stream: its language and purpose are that stream's.
    let stream = (0..source.audio_streams.len().max(1))
        .find(|&s| !video && [false, true].iter().any(|&surround| TrackSpec::audio_id(s, surround) == plan.id));
    TrackInfo {
        id: plan.id.clone(),
        kind: plan.kind,
        video_codec: plan.codec,
        codecs: info.codecs.clone(),
        timescale: info.timescale,
        width: info.width,
        height: info.height,
        frame_rate: video.then_some(source.frame_rate),
        channels: info.channels,
        sample_rate: info.sample_rate,
        language: stream.and_then(|s| audio_labels::language(labels, source, s)),
        role: stream.map_or_else(Default::default, |s| audio_labels::role(labels, s)),
        video_range: if video { source.video_range } else { None },
    }
}
