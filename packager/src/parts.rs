//! A title made as one pipeline, or in parts: chunks of its video (whole segments, see
//! `manifest::chunk`), each a pipeline of its own that seeks to its range, and one part
//! that makes the audio and the thumbnails over the whole title. Up to `Job::parallel_parts`
//! chunks run at once, beside the audio part; they are assembled by
//! `manifest::chunk::assemble` either way.
//!
//! A title is cut into chunks only where the chunks' boundaries are known to be the
//! whole run's: an MP4/QuickTime source whose header states that its video starts at 0
//! (segment boundaries are then counted from 0) and whose rungs are all encoded (a copied
//! rung keeps the source's keyframes, which a seek cannot line up), at a constant frame
//! rate (a variable-rate source is resampled to a grid from its first frame, which a chunk
//! would start afresh). Anything else runs as one pipeline, as does a title shorter than
//! two chunks.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use manifest::chunk::{self, ChunkSpan, Part};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::pipeline::{PartSpec, TimeRange, TrackSpec};
use crate::probe::SourceMedia;
use crate::{Error, Job, TitleRun, run_part};

/// Makes every part of the title; the parts in order (chunks by position, then the audio).
pub(crate) async fn run(run: &Arc<TitleRun>, tracks: Vec<TrackSpec>) -> Result<Vec<Part>, Error> {
    let (spans, whole_because) = chunks(&run.job, &run.source, &tracks);
    if let Some(reason) = whole_because
        && run.job.chunk_duration.is_none_or(|d| !d.is_zero())
    {
        tracing::info!(video_id = %run.job.video_id, "not cut into chunks: {reason}");
    }
    if spans.len() < 2 {
        return Ok(vec![run_part(run, PartJob::whole(tracks)).await?]);
    }
    let (video, audio): (Vec<TrackSpec>, Vec<TrackSpec>) = tracks.into_iter().partition(|t| matches!(t, TrackSpec::Video(_)));
    tracing::info!(
        video_id = %run.job.video_id,
        chunks = spans.len(),
        segments_per_chunk = spans[0].segments.unwrap_or(0),
        at_once = run.job.parallel_parts,
        "packaging in chunks"
    );
    let limit = Arc::new(Semaphore::new(run.job.parallel_parts.max(1)));
    let mut set = JoinSet::new();
    // Chunks wait for one of `parallel_parts` permits; the audio part (`limit` None) does not.
    let mut spawn = |position: usize, part: PartJob, limit: Option<Arc<Semaphore>>| {
        let run = run.clone();
        set.spawn(tracing::Instrument::in_current_span(async move {
            let _permit = match limit {
                Some(limit) => Some(limit.acquire_owned().await.expect("never closed")),
                None => None,
            };
            if run.abort.is_cancelled() {
                return (position, Err(Error::Cancelled));
            }
            let started = std::time::Instant::now();
            let name = part.name.clone();
            let part = run_part(&run, part).await;
            tracing::info!(part = %name, seconds = format!("{:.2}", started.elapsed().as_secs_f64()), ok = part.is_ok(), "part finished");
            if part.is_err() {
                // The title fails with this part: the others stop at once.
                run.abort.cancel();
            }
            (position, part)
        }));
    };
    // The audio and thumbnails span the whole title: started first, they end near the last chunk.
    spawn(spans.len(), audio_part(run, audio), None);
    for span in &spans {
        spawn(span.index as usize, chunk_part(run, span, video.clone()), Some(limit.clone()));
    }
    let mut parts: Vec<Option<Part>> = vec![None; spans.len() + 1];
    let mut failure: Option<Error> = None;
    while let Some(done) = set.join_next().await {
        let (position, part) = done.map_err(|e| Error::Setup(format!("a part's task: {e}")))?;
        match part {
            Ok(part) => parts[position] = Some(part),
            // The first real failure is the title's; the rest were stopped by it.
            Err(e) if matches!(failure, None | Some(Error::Cancelled)) => failure = Some(e),
            Err(_) => {}
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(parts.into_iter().map(|p| p.expect("every part succeeded")).collect())
}

/// The part that makes the audio and the thumbnails of a chunked title, over all of it.
pub(crate) fn audio_part(run: &TitleRun, audio: Vec<TrackSpec>) -> PartJob {
    let (segment_frames, _) = run.job.ladder.gop(run.source.frame_rate);
    PartJob {
        name: AUDIO_PART.into(),
        tracks: audio,
        spec: PartSpec { range: None, thumbnails: true },
        first_segment: 1,
        progress_from: None,
        audio_up_to: Some(last_segment(&run.source, segment_frames)),
    }
}

/// The part that makes chunk `span` of the title's video.
pub(crate) fn chunk_part(run: &TitleRun, span: &ChunkSpan, video: Vec<TrackSpec>) -> PartJob {
    let fps = run.source.frame_rate;
    let (segment_frames, _) = run.job.ladder.gop(fps);
    let range = TimeRange {
        start_ns: span.start_ns(segment_frames, fps.num, fps.den),
        end_ns: span.end_ns(segment_frames, fps.num, fps.den),
        frame_ns: 1_000_000_000u64 * u64::from(fps.den) / u64::from(fps.num),
    };
    PartJob {
        name: chunk_name(span),
        tracks: video,
        spec: PartSpec { range: Some(range), thumbnails: false },
        first_segment: span.first_segment,
        progress_from: Some(range.start_ns),
        audio_up_to: None,
    }
}

/// What the part that makes a chunked title's audio and thumbnails is called.
pub const AUDIO_PART: &str = "audio and thumbnails";

/// What a chunk's part is called (in logs, errors and the catalog).
pub fn chunk_name(span: &ChunkSpan) -> String {
    format!("chunk {}", span.index)
}

/// The title's chunks, and why it is not cut (one chunk) when it is not.
pub(crate) fn chunks(job: &Job, source: &SourceMedia, tracks: &[TrackSpec]) -> (Vec<ChunkSpan>, Option<&'static str>) {
    match why_one_pipeline(job, source, tracks) {
        Some(reason) => (vec![ChunkSpan { index: 0, first_segment: 1, segments: None }], Some(reason)),
        None => (plan(job, source), None),
    }
}

/// One part to make: its name (in logs and errors), its tracks (the pipeline's, in order),
/// what of the title it covers, the number of its first media segment, and where its video
/// position counts from in the title's progress (`None`: it does not count).
pub(crate) struct PartJob {
    pub(crate) name: String,
    pub(crate) tracks: Vec<TrackSpec>,
    pub(crate) spec: PartSpec,
    pub(crate) first_segment: u32,
    pub(crate) progress_from: Option<u64>,
    /// For the audio of a chunked title: the video's last segment (see
    /// `manifest::title::TitleBuilder::audio_up_to`).
    pub(crate) audio_up_to: Option<u32>,
}

impl PartJob {
    fn whole(tracks: Vec<TrackSpec>) -> Self {
        PartJob { name: "the title".into(), tracks, spec: PartSpec::WHOLE, first_segment: 1, progress_from: Some(0), audio_up_to: None }
    }
}

/// Why the title cannot be cut into chunks, if it cannot (see the module's notes).
fn why_one_pipeline(job: &Job, source: &SourceMedia, tracks: &[TrackSpec]) -> Option<&'static str> {
    if job.chunk_duration.is_some_and(|d| d.is_zero()) {
        return Some("chunking is off");
    }
    if tracks.iter().any(|t| matches!(t, TrackSpec::Video(p) if p.copy)) {
        return Some("a copied rung keeps the source's keyframes");
    }
    if !source.video_stream.rate_known {
        return Some("the source's frame rate is not constant (its frames do not fall on the chunks' grid)");
    }
    if source.frames_off_grid_s.is_some() {
        return Some(
            "the source's frame times leave its frame-rate grid (a splice or stream-copied concatenation): a chunk \
             cannot tell which frames the title's rate conversion puts in its range",
        );
    }
    match source.stated_video_start_ns {
        None => Some("the source's header does not state where its video starts (not MP4/QuickTime)"),
        Some(start) if start > 0 => Some("the source's video starts after 0 (an empty edit)"),
        Some(_) => None,
    }
}

/// The number of the video's last segment: its stated length in whole frames, in
/// segments of `segment_frames`.
fn last_segment(source: &SourceMedia, segment_frames: u32) -> u32 {
    let fps = source.frame_rate;
    let video_ns = source.stated_video_end_ns.unwrap_or(source.duration_ns);
    let frames = (u128::from(video_ns) * u128::from(fps.num) + u128::from(fps.den) * 500_000_000) / (u128::from(fps.den) * 1_000_000_000);
    (frames as u64).div_ceil(u64::from(segment_frames.max(1))).max(1) as u32
}

/// The chunks of the title's video.
fn plan(job: &Job, source: &SourceMedia) -> Vec<ChunkSpan> {
    let (_, segment_ns) = job.ladder.gop(source.frame_rate);
    let chunk_ns = job.chunk_duration.map_or(job.ladder.chunk_seconds, |d| d.as_secs_f64());
    let video_ns = source.stated_video_end_ns.unwrap_or(source.duration_ns);
    chunk::plan(video_ns, segment_ns, (chunk_ns * 1e9) as u64)
}

/// How far the title has come, over all its parts.
#[derive(Default)]
pub(crate) struct Progress {
    /// Per chunk (by its start): how much of its video it has packaged.
    done: Mutex<Vec<(u64, u64)>>,
    segments_stored: AtomicU64,
}

/// One part's view of [`Progress`]: a chunk's position counts from its start.
pub(crate) struct PartProgress<'a> {
    progress: &'a Progress,
    /// `None` for the audio and thumbnails of a chunked title (its position is not the video's).
    start_ns: Option<u64>,
}

/// The title's progress: its video packaged so far, and segments stored.
pub(crate) struct Done {
    pub(crate) position_ns: u64,
    pub(crate) segments_stored: u64,
}

impl Progress {
    /// A part whose video position starts at `start_ns` of the title (`None`: it does not count).
    pub(crate) fn part(&self, start_ns: Option<u64>) -> PartProgress<'_> {
        PartProgress { progress: self, start_ns }
    }
}

impl PartProgress<'_> {
    /// Records `position_ns` (the part's pipeline's running time) and gives the title's.
    pub(crate) fn at(&self, position_ns: u64) -> Done {
        let mut done = self.progress.done.lock().unwrap();
        if let Some(start) = self.start_ns {
            match done.iter_mut().find(|(s, _)| *s == start) {
                Some(entry) => entry.1 = position_ns,
                None => done.push((start, position_ns)),
            }
        }
        Done {
            position_ns: done.iter().map(|(_, p)| p).sum(),
            segments_stored: self.progress.segments_stored.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn stored(&self) {
        self.progress.segments_stored.fetch_add(1, Ordering::Relaxed);
    }
}
