//! The GStreamer graph: decode once, fan out to every rung, the audio
//! rendition and the thumbnail branches.
//!
//! ```text
//! filesrc ! decodebin ─video─ queue ! [deinterlace] ! videorate ! caps ! tee
//!     tee ─ queue ! videoconvertscale ! caps(I420 or I420_10LE, WxH, colorimetry) ! ENC ! PARSE ! caps ! cmafmux ! appsink   (per rung)
//!     tee ─ queue ! videorate ! videoconvertscale ! caps(RGB) ! appsink                                        (poster, sprites)
//!                     ─audio─ queue ! audioconvert ! audioresample ! caps ! voaacenc ! aacparse ! cmafmux ! appsink
//! ```
//!
//! With a copy rung (see `crate::copy`) the head is a parsebin, and the decodebins
//! come after the fan-out:
//!
//! ```text
//! filesrc ! parsebin ─video─ tee ─ [h264parse] ! caps(avc, au) ! cmafmux ! appsink   (copy rung)
//!                                 ─ queue ! decodebin ─ (as above: rungs, thumbnails)
//!                    ─audio─ aacparse ! caps(raw) ! cmafmux ! appsink   (audio copy)
//!                          or queue ! decodebin ─ (as above)
//! ```
//!
//! A copy's cmafmux queues on its own sink pad (see `copy_mux`), so it needs no queue.
//!
//! When nothing is encoded from the picture, the video decodebin gets only the keyframes
//! the thumbnails use (see `ThumbnailKeyframes`).
//!
//! Appsink callbacks run on streaming threads: they split the muxer output
//! into init segment and fragments, hash them, and hand them to the async side
//! with `blocking_send` on a bounded channel, so a slow store slows the
//! pipeline instead of growing memory.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use gst::prelude::*;
use manifest::model::Sha256Digest;

use tokio::sync::mpsc;

use crate::encode::{encode_chain, make, set};
use crate::error::Error;
use crate::ladder::{Ladder, SourceRung, even};
use crate::probe::SourceMedia;
use crate::timeline::{
    ChunkShift, EncoderDelay, Origin, Timeline, audio_on_title_timeline, drop_encoder_delay, grid_from_first_frame, no_frames_past_the_end,
    segments_from_zero,
};
use crate::thumbs::{KeyframeSampler, PosterPicker, RgbFrame, Sheet, SpriteBuilder, TILE_WIDTH};

/// Queue depth of raw frames per branch: enough to keep every encoder busy,
/// small enough that 2160p frames don't add up to gigabytes.
const BRANCH_QUEUE_FRAMES: u32 = 8;
const POSTER_MAX_HEIGHT: u32 = 720;

/// The poster and the sprite sheets, and the index of the sheets once they are all made.
#[derive(Debug)]
pub(crate) enum Thumbnail {
    Poster { width: u32, height: u32, jpeg: Vec<u8> },
    Sprite(Sheet),
    SpritesDone { vtt: String, tile_width: u32, tile_height: u32, interval_ns: u64 },
}

/// What a streaming thread hands to the async side.
#[derive(Debug)]
pub(crate) enum Msg {
    Init { track: usize, bytes: Vec<u8> },
    Fragment { track: usize, bytes: Vec<u8>, sha256: Sha256Digest },
    Thumbnail(Thumbnail),
    Failed(Error),
    /// A cue of the source's text stream `stream`.
    /// `language`: BCP 47 from the stream's tags, when they state one.
    Cue { stream: usize, cue: manifest::subtitles::TimedCue, language: Option<String> },
    /// One appsink saw EOS.
    SinkEos,
    /// The bus saw EOS: every sink is done.
    Eos,
}

impl std::fmt::Debug for Sheet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sheet({}, {} bytes)", self.number, self.jpeg.len())
    }
}

/// A track the pipeline produces: the planned rungs in order, then audio.
#[derive(Debug, Clone)]
pub(crate) enum TrackSpec {
    Video(SourceRung),
    /// A rendition of the source's audio stream `stream` (0: the first): stereo, or 5.1
    /// when `surround`. `copy`: the source's AAC, repackaged (see `crate::copy::decide_audio`).
    Audio { copy: bool, stream: usize, surround: bool },
}

impl TrackSpec {
    /// The rendition id of audio stream `stream`: `audio` for the first's stereo (the
    /// default one), `audio2`, `audio3`, ... for the others, in the source's order; a 5.1
    /// rendition adds `_51` (`audio_51`, `audio3_51`).
    pub(crate) fn audio_id(stream: usize, surround: bool) -> String {
        let base = match stream {
            0 => "audio".to_owned(),
            n => format!("audio{}", n + 1),
        };
        if surround { format!("{base}_51") } else { base }
    }
}

pub(crate) struct Graph {
    pub pipeline: gst::Pipeline,
    /// Running time of the latest decoded video frame, for progress and the watchdog.
    pub position_ns: Arc<AtomicU64>,
    /// Where that frame is in the source (stream time), for messages: a chunk's running
    /// time counts from the keyframe its seek went back to, not from the title's start.
    pub source_position_ns: Arc<AtomicU64>,
}

fn setup_err(e: impl std::fmt::Display) -> Error {
    Error::Setup(e.to_string())
}


/// Splits muxer output into top-level boxes and groups them: `ftyp`+`moov` is
/// the init segment, `styp`?+`moof`+`mdat` a fragment.
fn split_boxes(bytes: &[u8]) -> Result<Vec<(bool, std::ops::Range<usize>)>, String> {
    let mut out: Vec<(bool, std::ops::Range<usize>)> = Vec::new();
    let mut pos = 0usize;
    let mut open: Option<(bool, usize)> = None;
    let mut last_kind = [0u8; 4];
    while pos < bytes.len() {
        if bytes.len() - pos < 8 {
            return Err(format!("{} trailing bytes are not a box", bytes.len() - pos));
        }
        let mut size = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        let kind = &bytes[pos + 4..pos + 8];
        if size == 1 {
            if bytes.len() - pos < 16 {
                return Err("truncated large box".into());
            }
            size = u64::from_be_bytes(bytes[pos + 8..pos + 16].try_into().unwrap()) as usize;
        }
        if size < 8 || pos + size > bytes.len() {
            return Err(format!("box {:?} of size {size} overruns the buffer", String::from_utf8_lossy(kind)));
        }
        match kind {
            b"ftyp" => {
                if let Some((is_init, start)) = open.take() {
                    out.push((is_init, start..pos));
                }
                open = Some((true, pos));
            }
            b"styp" | b"moof" => {
                // A moof right after a styp belongs to the styp's fragment.
                if !(kind == b"moof" && last_kind == *b"styp") {
                    if let Some((is_init, start)) = open.take() {
                        out.push((is_init, start..pos));
                    }
                    open = Some((false, pos));
                }
            }
            _ => {
                if open.is_none() {
                    return Err(format!("box {:?} outside init segment or fragment", String::from_utf8_lossy(kind)));
                }
            }
        }
        last_kind.copy_from_slice(kind);
        pos += size;
    }
    if let Some((is_init, start)) = open {
        out.push((is_init, start..pos));
    }
    Ok(out)
}

/// Running time of a buffer's PTS on a pad, from the pad's sticky segment.
pub(crate) fn pad_running_time(pad: &gst::Pad, buf: &gst::BufferRef) -> Option<gst::ClockTime> {
    let seg = pad.sticky_event::<gst::event::Segment>(0)?;
    seg.segment().downcast_ref::<gst::ClockTime>()?.to_running_time(buf.pts())
}

/// Whether less than half of a `frame_ns` long frame lies before the segment's stop.
fn cut_short_by_segment(pad: &gst::Pad, buf: &gst::BufferRef, frame_ns: u64) -> bool {
    let stop = pad
        .sticky_event::<gst::event::Segment>(0)
        .and_then(|seg| seg.segment().downcast_ref::<gst::ClockTime>().and_then(|s| s.stop()));
    match (stop, buf.pts()) {
        (Some(stop), Some(pts)) => pts.nseconds() + frame_ns / 2 > stop.nseconds(),
        _ => false,
    }
}

fn send(tx: &mpsc::Sender<Msg>, msg: Msg) -> Result<gst::FlowSuccess, gst::FlowError> {
    // The receiver is gone only when the job already failed or was cancelled.
    tx.blocking_send(msg).map(|_| gst::FlowSuccess::Ok).map_err(|_| gst::FlowError::Flushing)
}

/// How a track's fragments are delayed (see [`BuildContext::delay_frames`]).
#[derive(Clone, Copy)]
struct TrackDelay {
    frames: u32,
    rate: manifest::model::FrameRate,
    how: manifest::cmaf::Delay,
}

/// `copy_of`: the rendition, when the track is a copy of the source's stream: a delay its
/// reordering does not fit in then refuses the copy ([`Error::CopyRefused`]), so the job is
/// packaged again with the rung encoded.
///
/// `frame_rate`: the track is video at this constant rate (after videorate): every frame
/// gets exactly its duration in ticks.
fn media_sink(
    track: usize,
    tx: mpsc::Sender<Msg>,
    delay: Option<TrackDelay>,
    copy_of: Option<String>,
    frame_rate: Option<manifest::model::FrameRate>,
    shift: Option<ChunkShift>,
) -> gst_app::AppSink {
    let eos_tx = tx.clone();
    let timeline = Mutex::new(Timeline { frame_rate, shift, ..Timeline::default() });
    gst_app::AppSink::builder()
        .sync(false)
        // No preroll: a sink that waited for its first buffer before the pipeline may
        // play would block the branches sharing its upstream (a muxer emits nothing
        // until a whole fragment is in, a thumbnail sink has its frame at once).
        .property("async", false)
        .property("buffer-list", true)
        .property("max-buffers", 4u32)
        .callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    let mut bytes = Vec::new();
                    if let Some(list) = sample.buffer_list() {
                        bytes.reserve(list.calculate_size());
                        for buf in list.iter() {
                            bytes.extend_from_slice(&buf.map_readable().map_err(|_| gst::FlowError::Error)?);
                        }
                    } else if let Some(buf) = sample.buffer() {
                        bytes.extend_from_slice(&buf.map_readable().map_err(|_| gst::FlowError::Error)?);
                    }
                    let parts = match split_boxes(&bytes) {
                        Ok(p) => p,
                        Err(reason) => {
                            let _ = send(&tx, Msg::Failed(Error::Setup(format!("muxer output of track {track}: {reason}"))));
                            return Err(gst::FlowError::Error);
                        }
                    };
                    let whole = parts.len() == 1;
                    for (is_init, range) in parts {
                        // Usually the sample is one fragment: hand it over without a copy.
                        let mut chunk = if whole { std::mem::take(&mut bytes) } else { bytes[range].to_vec() };
                        let mut track_timeline = timeline.lock().unwrap();
                        if let Err(e) = track_timeline.follow(&mut chunk, is_init) {
                            let _ = send(&tx, Msg::Failed(Error::Setup(format!("timeline of track {track}: {e}"))));
                            return Err(gst::FlowError::Error);
                        }
                        if let Some(d) = delay
                            && let Some(info) = &track_timeline.init
                            && !is_init
                            && let Err(e) = delay_chunk(&mut chunk, d, info)
                        {
                            let error = match (&copy_of, e) {
                                (Some(rendition), e @ manifest::Error::ReorderBeyondShift { .. }) => Error::CopyRefused {
                                    rendition: rendition.clone(),
                                    reason: format!("the source reorders further than its SPS states: {e}"),
                                },
                                (_, e) => Error::Setup(format!("delaying track {track}: {e}")),
                            };
                            let _ = send(&tx, Msg::Failed(error));
                            return Err(gst::FlowError::Error);
                        }
                        let msg = if is_init {
                            Msg::Init { track, bytes: chunk }
                        } else {
                            let sha256 = Sha256Digest::of(&chunk);
                            Msg::Fragment { track, bytes: chunk, sha256 }
                        };
                        send(&tx, msg)?;
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .eos(move |_| {
                    let _ = eos_tx.blocking_send(Msg::SinkEos);
                })
                .build(),
        )
        .build()
}

/// Moves a fragment's presentation by `d.frames` frames in its track's timescale (rounded
/// to a tick).
fn delay_chunk(chunk: &mut Vec<u8>, d: TrackDelay, info: &manifest::codecs::InitInfo) -> Result<(), manifest::Error> {
    let ticks = (u64::from(d.frames) * u64::from(d.rate.den) * u64::from(info.timescale) + u64::from(d.rate.num) / 2)
        / u64::from(d.rate.num);
    let ticks = u32::try_from(ticks).map_err(|_| manifest::Error::ValueOutOfRange { field: "delay", value: ticks })?;
    manifest::cmaf::delay_presentation(chunk, info, ticks, d.how)
}

fn rgb_frame<'a>(sample: &gst::Sample, map: &'a gst::BufferMap<'a, gst::buffer::Readable>) -> Option<RgbFrame<'a>> {
    let info = gst_video::VideoInfo::from_caps(sample.caps()?).ok()?;
    Some(RgbFrame { width: info.width(), height: info.height(), stride: info.stride()[0] as usize, data: map.as_slice() })
}

fn running_time(sample: &gst::Sample, buf: &gst::BufferRef) -> u64 {
    let pts = buf.pts();
    sample
        .segment()
        .and_then(|s| s.downcast_ref::<gst::ClockTime>())
        .and_then(|s| s.to_running_time(pts))
        .map(|t| t.nseconds())
        .unwrap_or(0)
}

fn poster_sink(tx: mpsc::Sender<Msg>, done: Arc<AtomicBool>) -> gst_app::AppSink {
    let picker = Arc::new(Mutex::new(PosterPicker::default()));
    let eos_picker = picker.clone();
    let eos_tx = tx.clone();
    let finish = move |picker: &mut PosterPicker, tx: &mpsc::Sender<Msg>| -> Result<(), Error> {
        if let Some((width, height, jpeg)) = picker.finish()? {
            let _ = tx.blocking_send(Msg::Thumbnail(Thumbnail::Poster { width, height, jpeg }));
        }
        Ok(())
    };
    gst_app::AppSink::builder()
        .sync(false)
        // No preroll: a sink that waited for its first buffer before the pipeline may
        // play would block the branches sharing its upstream (a muxer emits nothing
        // until a whole fragment is in, a thumbnail sink has its frame at once).
        .property("async", false)
        .callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    let mut picker = picker.lock().unwrap();
                    if picker.decided() {
                        return Ok(gst::FlowSuccess::Ok);
                    }
                    let buf = sample.buffer().ok_or(gst::FlowError::Error)?;
                    let map = buf.map_readable().map_err(|_| gst::FlowError::Error)?;
                    let frame = rgb_frame(&sample, &map).ok_or(gst::FlowError::NotNegotiated)?;
                    if picker.offer(running_time(&sample, buf), &frame) {
                        done.store(true, Ordering::Relaxed);
                        if let Err(e) = finish(&mut picker, &tx) {
                            let _ = tx.blocking_send(Msg::Failed(e));
                            return Err(gst::FlowError::Error);
                        }
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .eos(move |_| {
                    let mut picker = eos_picker.lock().unwrap();
                    if !picker.decided()
                        && let Err(e) = finish(&mut picker, &eos_tx)
                    {
                        let _ = eos_tx.blocking_send(Msg::Failed(e));
                    }
                    let _ = eos_tx.blocking_send(Msg::SinkEos);
                })
                .build(),
        )
        .build()
}

fn sprite_sink(tx: mpsc::Sender<Msg>, builder: SpriteBuilder, duration_ns: u64) -> gst_app::AppSink {
    let builder = Arc::new(Mutex::new(builder));
    let eos_builder = builder.clone();
    let eos_tx = tx.clone();
    gst_app::AppSink::builder()
        .sync(false)
        // No preroll: a sink that waited for its first buffer before the pipeline may
        // play would block the branches sharing its upstream (a muxer emits nothing
        // until a whole fragment is in, a thumbnail sink has its frame at once).
        .property("async", false)
        .callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    let buf = sample.buffer().ok_or(gst::FlowError::Error)?;
                    let map = buf.map_readable().map_err(|_| gst::FlowError::Error)?;
                    let frame = rgb_frame(&sample, &map).ok_or(gst::FlowError::NotNegotiated)?;
                    let sheet = builder.lock().unwrap().push(&frame, duration_ns);
                    match sheet {
                        Ok(Some(sheet)) => send(&tx, Msg::Thumbnail(Thumbnail::Sprite(sheet))),
                        Ok(None) => Ok(gst::FlowSuccess::Ok),
                        Err(e) => {
                            let _ = tx.blocking_send(Msg::Failed(e));
                            Err(gst::FlowError::Error)
                        }
                    }
                })
                .eos(move |_| {
                    let mut b = eos_builder.lock().unwrap();
                    match b.flush() {
                        Ok(Some(sheet)) => {
                            let _ = eos_tx.blocking_send(Msg::Thumbnail(Thumbnail::Sprite(sheet)));
                        }
                        Ok(None) => {}
                        Err(e) => {
                            let _ = eos_tx.blocking_send(Msg::Failed(e));
                        }
                    }
                    let _ = eos_tx.blocking_send(Msg::Thumbnail(Thumbnail::SpritesDone {
                        vtt: b.vtt().to_owned(),
                        tile_width: b.tile_width,
                        tile_height: b.tile_height,
                        interval_ns: b.interval_ns,
                    }));
                    let _ = eos_tx.blocking_send(Msg::SinkEos);
                })
                .build(),
        )
        .build()
}

fn queue(frames: u32) -> Result<gst::Element, Error> {
    gst::ElementFactory::make("queue")
        .property("max-size-buffers", frames)
        .property("max-size-bytes", 0u32)
        .property("max-size-time", 0u64)
        .build()
        .map_err(|_| Error::MissingElement { factory: "queue" })
}

/// A queue of still-encoded data right after parsebin, bounded by time like
/// decodebin's own multiqueue: the demuxer pushes audio and video from one thread, so
/// each stream's queue must hold the file's interleaving distance, whatever the
/// bitrate or frame rate (a fixed buffer count is 1.4 s of AAC).
fn encoded_queue() -> Result<gst::Element, Error> {
    gst::ElementFactory::make("queue")
        .property("max-size-buffers", 0u32)
        .property("max-size-bytes", 0u32)
        .property("max-size-time", 5_000_000_000u64)
        .build()
        .map_err(|_| Error::MissingElement { factory: "queue" })
}

/// A cmafmux for a copied track, fed straight from parsebin's streaming thread.
///
/// An aggregator's sink pad normally holds one buffer: the thread that pushes the next
/// one waits until the muxer's own thread has taken the last, a hand-over per frame (and
/// with a queue in front, one more). With a latency, the pad holds up to that much
/// stream time, so the demuxer's thread drops a frame in and goes on; measured on a
/// 10-minute 1080p remux-only job: 3.6x fewer voluntary context switches than with a queue
/// and a one-buffer pad, 0.95x the CPU time. The output is the same: a non-live muxer does not time out, the
/// latency only bounds how far the pad may run ahead.
fn copy_mux(queue_ns: u64) -> Result<gst::Element, Error> {
    let mux = make("cmafmux")?;
    mux.set_property("latency", queue_ns);
    Ok(mux)
}

fn add_chain(pipeline: &gst::Pipeline, elements: &[gst::Element]) -> Result<(), Error> {
    pipeline.add_many(elements).map_err(setup_err)?;
    gst::Element::link_many(elements).map_err(setup_err)?;
    for e in elements.iter().rev() {
        e.sync_state_with_parent().map_err(setup_err)?;
    }
    Ok(())
}


/// Everything the pad-added handler needs to build the branches.
struct BuildContext {
    tracks: Vec<TrackSpec>,
    ladder: Ladder,
    source: SourceMedia,
    gop_frames: u32,
    gop_ns: u64,
    tx: mpsc::Sender<Msg>,
    position_ns: Arc<AtomicU64>,
    source_position_ns: Arc<AtomicU64>,
    /// Where segment boundaries are counted from (the first decoded video frame).
    origin: Origin,
    /// Set once the poster is chosen: its branch (and a keyframes-only decoder) stop taking frames.
    poster_done: Arc<AtomicBool>,
    /// Copy mode with no rung encoded from the picture: only keyframes are decoded.
    thumbnail_keyframes: Option<Arc<ThumbnailKeyframes>>,
    /// Frames every track is delayed by when a rung has B-frames: its
    /// reordering then needs no negative composition offsets, which ffmpeg's and
    /// GStreamer's readers take as a shift of the whole track (see
    /// `manifest::cmaf::delay_presentation`). The largest `bframes` of the encoded rungs
    /// (at least the encoders' reorder delay) and, with a copy rung, the reorder depth the
    /// source's SPS states. 0 (nothing rewritten) without B-frames.
    delay_frames: u32,
    /// Which part of the title this pipeline makes.
    part: PartSpec,
}

/// Which part of the title a pipeline makes (see `crate::parts`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PartSpec {
    /// Only the video of this range: the pipeline seeks to it first. `None`: all of it.
    pub range: Option<TimeRange>,
    /// Whether it makes the poster and the trick-play sprites.
    pub thumbnails: bool,
}

impl PartSpec {
    /// The whole title in one pipeline.
    pub const WHOLE: PartSpec = PartSpec { range: None, thumbnails: true };
}

/// A chunk's video: the frames whose middle lies in `[start_ns, end_ns)` of the source's
/// stream time (`end_ns` `None`: to the end), `frame_ns` apart.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimeRange {
    pub start_ns: u64,
    pub end_ns: Option<u64>,
    pub frame_ns: u64,
}

impl BuildContext {
    fn delay(&self, reorders: bool) -> Option<TrackDelay> {
        use manifest::cmaf::Delay;
        (self.delay_frames > 0).then_some(TrackDelay {
            frames: self.delay_frames,
            rate: self.source.frame_rate,
            how: if reorders { Delay::CompositionOffsets } else { Delay::DecodeTime },
        })
    }
}

/// Which keyframes a keyframes-only decoder gets: every one until the poster is chosen,
/// and the ones a [`KeyframeSampler`] picks for the sprites. The sprite branch takes
/// only the latter, so the sprites are the same whenever the poster was settled.
struct ThumbnailKeyframes {
    sampler: Mutex<KeyframeSampler>,
    /// Running times of the keyframes picked for the sprites, not yet seen decoded.
    for_sprites: Mutex<std::collections::VecDeque<u64>>,
}

/// The decoded video's branch: its common head (see [`video_head`]) into a tee, one
/// encoding branch per encoded rung off the tee, and the thumbnails' branches.
fn build_video(pipeline: &gst::Pipeline, cx: &BuildContext, pad_caps: &gst::Caps) -> Result<gst::Element, Error> {
    let s = pad_caps.structure(0).ok_or_else(|| Error::Setup("decoded video has empty caps".into()))?;
    let colorimetry = s.get::<String>("colorimetry").ok();
    let mut head = video_head(cx)?;
    let head_queue = head[0].clone();
    let tee = make("tee")?;
    head.push(tee.clone());
    add_chain(pipeline, &head)?;
    let tee_sink = tee.static_pad("sink").unwrap();
    track_position(&tee_sink, cx);
    crate::failpoints::install(&tee_sink);
    for (track, t) in cx.tracks.iter().enumerate() {
        match t {
            TrackSpec::Video(rung) if !rung.copy => encoded_rung(pipeline, cx, track, rung, colorimetry.as_deref(), &tee)?,
            _ => {}
        }
    }
    if cx.part.thumbnails {
        thumbnails(pipeline, cx, &tee)?;
    }
    Ok(head_queue)
}

/// What every rung's frames go through first: a queue that keeps only the part's range,
/// then deinterlacing, rotation by the orientation tag, and a constant frame rate.
fn video_head(cx: &BuildContext) -> Result<Vec<gst::Element>, Error> {
    let fps = cx.source.frame_rate;
    let head_queue = queue(BRANCH_QUEUE_FRAMES)?;
    if cx.source.pts_timeline {
        segments_from_zero(&head_queue.static_pad("sink").unwrap());
    }
    if let Some(range) = cx.part.range {
        only_in_range(&head_queue.static_pad("sink").unwrap(), range);
    }
    let mut head = vec![head_queue];
    if cx.source.interlaced {
        head.push(make("deinterlace")?);
    }
    if cx.source.orientation.is_some() {
        // Follows the stream's image-orientation tag, as a player would.
        let flip = make("videoflip")?;
        set(&flip, "video-direction", "auto");
        drop_orientation_tag(&flip.static_pad("src").unwrap());
        head.push(flip);
    }
    if cx.thumbnail_keyframes.is_none() {
        // Constant frame rate for the encoders. With keyframes only, the thumbnail
        // branches' own rate conversion is enough (this one would fill every gap).
        let rate = make("videorate")?;
        // From the first frame on, where it is: filling from the segment start would add
        // a copy of it when the video starts after 0 (ffmpeg's Matroska: 21 ms in).
        rate.set_property("skip-to-first", true);
        no_frames_past_the_end(&rate, fps.frame_ns());
        grid_from_first_frame(&rate.static_pad("sink").unwrap());
        let rate_caps = gst::ElementFactory::make("capsfilter")
            .property(
                "caps",
                gst_video::VideoCapsBuilder::new().framerate(gst::Fraction::new(fps.num as i32, fps.den as i32)).build(),
            )
            .build()
            .map_err(setup_err)?;
        head.extend([rate, rate_caps]);
    }
    Ok(head)
}

/// Where the video is, for progress (running time) and for the watchdog (stream time);
/// the first frame settles the origin segment boundaries are counted from.
fn track_position(tee_sink: &gst::Pad, cx: &BuildContext) {
    let position = cx.position_ns.clone();
    let source_position = cx.source_position_ns.clone();
    let origin = cx.origin.clone();
    tee_sink.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        if let Some(rt) = info.buffer().and_then(|buf| pad_running_time(pad, buf)) {
            origin.settle(rt.nseconds());
            position.store(rt.nseconds(), Ordering::Relaxed);
        }
        if let Some(time) = info.buffer().and_then(|buf| {
            let seg = pad.sticky_event::<gst::event::Segment>(0)?;
            seg.segment().downcast_ref::<gst::ClockTime>()?.to_stream_time(buf.pts())
        }) {
            source_position.store(time.nseconds(), Ordering::Relaxed);
        }
        gst::PadProbeReturn::Ok
    });
}

/// One encoded rung off the tee: scale to the rung's size (keeping the source's
/// colorimetry), encode with a keyframe forced on every boundary, mux a fragment per
/// segment, hand the fragments to the title.
fn encoded_rung(
    pipeline: &gst::Pipeline,
    cx: &BuildContext,
    track: usize,
    rung: &SourceRung,
    colorimetry: Option<&str>,
    tee: &gst::Element,
) -> Result<(), Error> {
    let fps = cx.source.frame_rate;
    let q = queue(BRANCH_QUEUE_FRAMES)?;
    let scale = make("videoconvertscale")?;
    let format = if rung.rung.bit_depth == 10 { gst_video::VideoFormat::I42010le } else { gst_video::VideoFormat::I420 };
    let mut raw = gst_video::VideoCapsBuilder::new()
        .format(format)
        .width(rung.width as i32)
        .height(rung.rung.height as i32)
        .pixel_aspect_ratio(gst::Fraction::new(1, 1))
        .build();
    if let Some(c) = colorimetry {
        // Without it videoconvertscale settles on BT.601 for SD sizes and
        // pays a conversion while tagging rungs differently.
        raw.get_mut().unwrap().set("colorimetry", c);
    }
    let raw_filter = gst::ElementFactory::make("capsfilter").property("caps", raw).build().map_err(setup_err)?;
    let chain = encode_chain(&rung.rung, cx.gop_frames, cx.ladder.deterministic)?;
    let enc_filter = gst::ElementFactory::make("capsfilter").property("caps", chain.caps.clone()).build().map_err(setup_err)?;
    let mux = chain.muxer.clone();
    set_video_timescale(&mux, fps);
    let shift = cx.part.range.map(|r| ChunkShift { origin: cx.origin.clone(), start_ns: r.start_ns, moved_by: 0 });
    let sink = media_sink(track, cx.tx.clone(), cx.delay(rung.rung.bframes > 0), None, Some(fps), shift);
    add_chain(
        pipeline,
        &[q.clone(), scale, raw_filter.clone(), chain.encoder, chain.parser, enc_filter.clone(), chain.muxer, sink.upcast()],
    )?;
    force_keyframes(&raw_filter.static_pad("src").unwrap(), cx.gop_ns, cx.origin.clone());
    split_at_boundaries(&mux, &enc_filter.static_pad("src").unwrap(), cx.gop_ns, fps.frame_ns() / 2, true, cx.origin.clone());
    tee.link(&q).map_err(setup_err)
}

/// The poster and trick-play sprite branches, off the decoded video's tee.
fn thumbnails(pipeline: &gst::Pipeline, cx: &BuildContext, tee: &gst::Element) -> Result<(), Error> {
    // Poster: one frame a second until a non-blank one is found.
    let (dar_w, dar_h) = (cx.source.geometry.display_aspect(), 1.0);
    let poster_h = cx.source.geometry.height.min(POSTER_MAX_HEIGHT);
    let poster_w = even(poster_h as f64 * dar_w / dar_h);
    let poster_done = cx.poster_done.clone();
    let pq = queue(2)?;
    let done = poster_done.clone();
    pq.static_pad("src").unwrap().add_probe(gst::PadProbeType::BUFFER, move |_, _| {
        if done.load(Ordering::Relaxed) { gst::PadProbeReturn::Drop } else { gst::PadProbeReturn::Ok }
    });
    thumb_branch(pipeline, tee, pq, gst::Fraction::new(1, 1), poster_w, poster_h, poster_sink(cx.tx.clone(), poster_done))?;

    // Trick-play tiles.
    let interval_ns = crate::thumbs::sprite_interval_ns(cx.source.duration_ns);
    let tile_h = even(TILE_WIDTH as f64 / dar_w);
    let sq = queue(2)?;
    if let Some(k) = &cx.thumbnail_keyframes {
        let k = k.clone();
        sq.static_pad("sink").unwrap().add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
            let Some(rt) = info.buffer().and_then(|buf| pad_running_time(pad, buf)) else { return discard(info) };
            let mut picked = k.for_sprites.lock().unwrap();
            // Within a millisecond: the decoder keeps the timestamps it is given.
            while picked.front().is_some_and(|&t| t + 1_000_000 < rt.nseconds()) {
                picked.pop_front();
            }
            if picked.front().is_some_and(|&t| t <= rt.nseconds() + 1_000_000) {
                picked.pop_front();
                gst::PadProbeReturn::Ok
            } else {
                discard(info)
            }
        });
    }
    let rate = gst::Fraction::new(1, (interval_ns / 1_000_000_000) as i32);
    let builder = SpriteBuilder::new(TILE_WIDTH, tile_h, interval_ns);
    thumb_branch(pipeline, tee, sq, rate, TILE_WIDTH, tile_h, sprite_sink(cx.tx.clone(), builder, cx.source.duration_ns))
}

/// Removes the image-orientation tag once the pixels are turned: the muxer writes the
/// tag into the `tkhd` matrix, and a player would turn the picture a second time.
fn drop_orientation_tag(pad: &gst::Pad) {
    pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, |_, info| {
        if let Some(gst::PadProbeData::Event(ev)) = &mut info.data
            && let gst::EventView::Tag(t) = ev.view()
            && t.tag().get::<gst::tags::ImageOrientation>().is_some()
        {
            let mut tags = t.tag_owned();
            tags.make_mut().remove::<gst::tags::ImageOrientation>();
            *ev = gst::event::Tag::new(tags);
        }
        gst::PadProbeReturn::Ok
    });
}

/// Every frame of a `rate` track lasts a whole number of ticks (see
/// `crate::rate::video_timescale`); the muxer's own choice does not for rates like 26.777.
///
/// Call it before the muxer starts: it reads the property when it goes to PAUSED. A
/// muxer with request pads (isofmp4mux) gets its pad here, and linking takes that one.
fn set_video_timescale(mux: &gst::Element, rate: manifest::model::FrameRate) {
    if mux.sink_pads().is_empty() {
        let _ = mux.request_pad_simple("sink_%u");
    }
    for pad in mux.sink_pads() {
        pad.set_property("trak-timescale", crate::rate::video_timescale(rate));
    }
}

fn thumb_branch(
    pipeline: &gst::Pipeline,
    tee: &gst::Element,
    q: gst::Element,
    rate: gst::Fraction,
    width: u32,
    height: u32,
    sink: gst_app::AppSink,
) -> Result<(), Error> {
    let videorate = make("videorate")?;
    let rate_filter = gst::ElementFactory::make("capsfilter")
        .property("caps", gst_video::VideoCapsBuilder::new().framerate(rate).build())
        .build()
        .map_err(setup_err)?;
    let scale = make("videoconvertscale")?;
    let rgb = gst::ElementFactory::make("capsfilter")
        .property(
            "caps",
            gst_video::VideoCapsBuilder::new()
                .format(gst_video::VideoFormat::Rgb)
                .width(width as i32)
                .height(height as i32)
                .pixel_aspect_ratio(gst::Fraction::new(1, 1))
                .build(),
        )
        .build()
        .map_err(setup_err)?;
    add_chain(pipeline, &[q.clone(), videorate, rate_filter, scale, rgb, sink.upcast()])?;
    tee.link(&q).map_err(setup_err)?;
    Ok(())
}

/// Puts the muxer in manual-split mode and starts a new fragment, with an
/// in-stream `FMP4MuxSplitNow` event, before the first buffer at or past each
/// segment boundary (`k * gop_ns`, less `slack_ns` for timestamp rounding).
///
/// `video`: splits only on a keyframe (the forced ones sit on the boundaries).
/// Audio has no GOPs: each fragment starts on the AAC frame nearest to the
/// video boundary (slack = half a frame), measured against the absolute
/// boundary so that boundaries never drift. Being serialized in the stream,
/// the split points do not depend on thread timing.
///
/// Boundaries are counted from `origin` (see [`Origin`]).
fn split_at_boundaries(
    mux: &gst::Element,
    upstream_src: &gst::Pad,
    gop_ns: u64,
    slack_ns: u64,
    video: bool,
    origin: Origin,
) {
    mux.set_property("manual-split", true);
    mux.set_property("send-force-keyunit", false);
    let next = AtomicU64::new(1);
    upstream_src.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let Some(buf) = info.buffer() else { return gst::PadProbeReturn::Ok };
        if video && buf.flags().contains(gst::BufferFlags::DELTA_UNIT) {
            return gst::PadProbeReturn::Ok;
        }
        let Some(rt) = pad_running_time(pad, buf) else { return gst::PadProbeReturn::Ok };
        let t = origin.since(rt.nseconds());
        let k = next.load(Ordering::Relaxed);
        if t + slack_ns >= k * gop_ns {
            // A source gap may skip boundaries; the next one is after this buffer.
            next.store((t + slack_ns) / gop_ns + 1, Ordering::Relaxed);
            let ev = gst::event::CustomDownstream::builder(gst::Structure::builder("FMP4MuxSplitNow").field("chunk", false).build())
                .build();
            pad.push_event(ev);
        }
        gst::PadProbeReturn::Ok
    });
}

/// Sends a downstream force-key-unit event before every frame that starts a
/// segment. Serialized in the stream, so the keyframe positions do not depend
/// on thread timing, and identical for every rung.
/// Boundaries are counted from `origin` (see [`Origin`]).
fn force_keyframes(pad: &gst::Pad, gop_ns: u64, origin: Origin) {
    let next = AtomicU64::new(0);
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let Some(buf) = info.buffer() else { return gst::PadProbeReturn::Ok };
        let Some(rt) = pad_running_time(pad, buf) else { return gst::PadProbeReturn::Ok };
        let t = origin.since(rt.nseconds());
        let k = next.load(Ordering::Relaxed);
        // Half a frame of slack for rounding of the timestamps to nanoseconds.
        if t + 1_000_000 >= k * gop_ns {
            next.store(t / gop_ns + 1, Ordering::Relaxed);
            let ev = gst_video::DownstreamForceKeyUnitEvent::builder()
                .running_time(rt)
                .all_headers(true)
                .count(k as u32)
                .build();
            pad.push_event(ev);
        }
        gst::PadProbeReturn::Ok
    });
}

/// A copy rung: the source's parsed stream, re-muxed.
///
/// ```text
/// parsebin ─video─ tee ─ [PARSE] ! caps(avc|hvc1, au) ! cmafmux ! appsink
/// ```
fn build_copy(
    pipeline: &gst::Pipeline,
    cx: &BuildContext,
    track: usize,
    pr: &SourceRung,
    stream_caps: &gst::Caps,
) -> Result<gst::Element, Error> {
    let (parser, caps) = crate::encode::copy_parser(pr.rung.codec)?;
    let filter = gst::ElementFactory::make("capsfilter").property("caps", &caps).build().map_err(setup_err)?;
    let mux = copy_mux(cx.gop_ns)?;
    set_video_timescale(&mux, cx.source.frame_rate);
    // A stream that states its reordering is delayed by it (see `BuildContext::delay_frames`);
    // one that reorders without saying how far is refused by `require_copyable`.
    let reorders = cx.source.video_stream.reorder_frames.is_some_and(|n| n > 0);
    let sink = media_sink(track, cx.tx.clone(), cx.delay(reorders), Some(pr.rung.id()), None, None);
    // parsebin's own parser already gives what the muxer takes when the container is
    // MP4 or Matroska; a second parser would only copy every frame.
    let mut chain = vec![];
    if !stream_caps.is_subset(&caps) {
        chain.push(parser);
    }
    chain.extend([filter.clone(), mux.clone(), sink.upcast()]);
    add_chain(pipeline, &chain)?;
    let fps = cx.source.frame_rate;
    let frame_ns = fps.frame_ns();
    let src = filter.static_pad("src").unwrap();
    require_copyable(&src, cx.gop_ns, fps, reorders, pr.rung.id(), cx.tx.clone());
    split_at_boundaries(&mux, &src, cx.gop_ns, frame_ns / 2, true, Origin::default());
    Ok(chain.swap_remove(0))
}

/// Fails the job ([`Error::CopyRefused`]) when a copied stream reorders frames (B-frames)
/// and `reorder_known` is false (its SPS did not say how far, so no delay was planned for
/// it: see `BuildContext::delay_frames`), has no keyframe within half a frame of a segment
/// boundary (its segments could not start where every other rendition's do), or has an
/// open GOP at a boundary (pictures after that keyframe shown before it).
fn require_copyable(
    pad: &gst::Pad,
    gop_ns: u64,
    rate: manifest::model::FrameRate,
    reorder_known: bool,
    rendition: String,
    tx: mpsc::Sender<Msg>,
) {
    let slack_ns = 500_000_000 * u64::from(rate.den) / u64::from(rate.num); // half a frame
    let next = AtomicU64::new(0);
    // Running time of the keyframe that starts the current segment.
    let segment_start = AtomicU64::new(0);
    // PTS of the last buffer that came without a DTS (Matroska gives none).
    let last_pts = AtomicU64::new(0);
    let failed = AtomicBool::new(false);
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        if failed.load(Ordering::Relaxed) {
            return gst::PadProbeReturn::Drop;
        }
        // The muxer needs decode times. A container that gives none (Matroska) gives them
        // for free when pictures are not reordered: DTS = PTS. A reordered stream's cannot be
        // made up here. Such a container also rounds times (Matroska: to the millisecond),
        // so they are put back on the stream's constant frame grid, or fragments would end
        // a fraction of a millisecond after the next one starts.
        let mut no_dts_reorders = false;
        if let Some(buf) = info.buffer_mut()
            && buf.dts().is_none()
            && let Some(pts) = buf.pts()
        {
            no_dts_reorders = reorder_known || pts.nseconds() < last_pts.swap(pts.nseconds(), Ordering::Relaxed);
            let (num, den) = (u128::from(rate.num), u128::from(rate.den) * 1_000_000_000);
            let frame = (u128::from(pts.nseconds()) * num + den / 2) / den;
            let at = |k: u128| gst::ClockTime::from_nseconds((k * den / num) as u64);
            let b = buf.make_mut();
            b.set_pts(at(frame));
            b.set_dts(at(frame));
            b.set_duration(at(frame + 1) - at(frame));
        }
        let Some(buf) = info.buffer() else { return gst::PadProbeReturn::Ok };
        let reason = if no_dts_reorders {
            Some("the container gives no decode times (Matroska) for a stream with B-frames".to_owned())
        } else if !reorder_known && buf.dts().is_some_and(|dts| Some(dts) != buf.pts()) {
            Some("the source has B-frames (frames out of presentation order) and its SPS does not state how far it reorders".to_owned())
        } else if let Some(rt) = pad_running_time(pad, buf) {
            let (rt, boundary) = (rt.nseconds(), next.load(Ordering::Relaxed) * gop_ns);
            let key = !buf.flags().contains(gst::BufferFlags::DELTA_UNIT);
            let start = segment_start.load(Ordering::Relaxed);
            if key && rt + slack_ns >= boundary && rt <= boundary + slack_ns {
                next.fetch_add(1, Ordering::Relaxed);
                segment_start.store(rt, Ordering::Relaxed);
                None
            } else if rt > boundary + slack_ns {
                Some(format!("the source has no keyframe at the segment boundary {:.3} s", boundary as f64 / 1e9))
            } else if rt < start {
                // Open GOP: a picture after the segment's keyframe in decode order that is
                // shown before it (a leading picture of an HEVC CRA or an H.264 recovery
                // point) would make the segment start mid-picture-sequence, not at a SAP 1/2.
                Some(format!(
                    "open GOP: a picture after the keyframe at {:.3} s that starts a segment is shown before it, at {:.3} s",
                    start as f64 / 1e9,
                    rt as f64 / 1e9
                ))
            } else {
                None
            }
        } else {
            None
        };
        if let Some(reason) = reason {
            failed.store(true, Ordering::Relaxed);
            let _ = tx.blocking_send(Msg::Failed(Error::CopyRefused { rendition: rendition.clone(), reason }));
            return gst::PadProbeReturn::Drop;
        }
        gst::PadProbeReturn::Ok
    });
}

/// An AAC rendition from the decoded audio (`decoded`: its caps), stereo or 5.1:
/// `queue ! audioconvert(mix-matrix) ! audioresample ! caps ! audiorate ! ENC ! aacparse ! cmafmux`.
///
/// Any layout is mixed to stereo, or to 5.1, with the standard weights (`crate::downmix`),
/// any rate resampled. Stereo is voaacenc's (S16); 5.1 is avenc_aac's (F32; voaacenc
/// takes two channels at most). Silence fills the title's timeline: from 0 to the first
/// sample (audio that starts late), holes in the middle (`audiorate`), and from the last
/// sample to the title's end, so audio segment N spans video segment N and the offset
/// between the streams stays the source's.
fn build_audio(pipeline: &gst::Pipeline, cx: &BuildContext, track: usize, decoded: &gst::Caps, surround: bool) -> Result<gst::Element, Error> {
    let q = queue(64)?;
    let convert = make("audioconvert")?;
    if let Some(s) = decoded.structure(0) {
        let channels = s.get::<i32>("channels").unwrap_or(2).max(1) as u32;
        let mask = s.get::<gst::Bitmask>("channel-mask").map(|m| m.0).unwrap_or(0);
        let rows: Option<Vec<Vec<f32>>> = match surround {
            true => Some(crate::downmix::to_5_1(channels, mask).to_vec()),
            false => crate::downmix::to_stereo(channels, mask).map(|r| r.to_vec()),
        };
        if let Some(rows) = rows {
            let row = |r: &[f32]| gst::Array::new(r.iter().map(|w| w.to_send_value())).to_send_value();
            convert.set_property("mix-matrix", gst::Array::new(rows.iter().map(|r| row(r))));
        }
    }
    let resample = make("audioresample")?;
    let rate = cx.ladder.audio.sample_rate;
    let (format, channels, delay) = match surround {
        true => ("F32LE", 6i32, EncoderDelay::AVENC_AAC_51),
        false => ("S16LE", 2i32, EncoderDelay::VOAACENC),
    };
    let mut caps = gst::Caps::builder("audio/x-raw")
        .field("format", format)
        .field("layout", "interleaved")
        .field("rate", rate as i32)
        .field("channels", channels)
        .build();
    if surround {
        caps.get_mut().unwrap().set("channel-mask", gst::Bitmask::new(crate::downmix::MASK_5_1));
    }
    let filter = gst::ElementFactory::make("capsfilter").property("caps", caps).build().map_err(setup_err)?;
    let end_ns = cx.source.duration_ns;
    let title_end = Arc::new(AtomicU64::new(u64::MAX));
    audio_on_title_timeline(&filter.static_pad("src").unwrap(), rate, delay, end_ns, title_end.clone());
    let audiorate = make("audiorate")?;
    // Holes and overlaps over 10 ms are filled or trimmed: well inside a video frame.
    audiorate.set_property("tolerance", 10_000_000u64);
    let enc = match surround {
        true => {
            let enc = make("avenc_aac")?;
            set(&enc, "bitrate", &cx.ladder.audio.surround_bitrate.to_string());
            enc
        }
        false => {
            let enc = make("voaacenc")?;
            set(&enc, "bitrate", &cx.ladder.audio.bitrate.to_string());
            enc
        }
    };
    drop_encoder_delay(&enc.static_pad("src").unwrap(), rate, delay, title_end);
    let parse = make("aacparse")?;
    let mux = make("cmafmux")?;
    let aac_frame_ns = 1024 * 1_000_000_000 / rate as u64;
    split_at_boundaries(&mux, &parse.static_pad("src").unwrap(), cx.gop_ns, aac_frame_ns / 2, false, cx.origin.clone());
    let sink = media_sink(track, cx.tx.clone(), cx.delay(false), None, None, None);
    add_chain(pipeline, &[q.clone(), convert, resample, filter, audiorate, enc, parse, mux, sink.upcast()])?;
    Ok(q)
}

/// The source's AAC, repackaged: `aacparse ! caps(raw) ! cmafmux ! appsink`,
/// cut at the same boundaries as the encoded audio would be.
///
/// Frames that start before the demuxer's segment are dropped: that is the encoder's
/// priming (an MP4 trims it with an edit list, which the demuxer turns into the segment
/// start). A decoder clips them; copied, they would sit at time 0 with no duration. So is a
/// last frame the edit list cuts to less than half its length: copied whole, it would play
/// past the title's end (the encoded rendition ends at the cut).
fn build_audio_copy(pipeline: &gst::Pipeline, cx: &BuildContext, track: usize) -> Result<gst::Element, Error> {
    let parse = make("aacparse")?;
    let aac_frame_ns = 1024 * 1_000_000_000 / cx.ladder.audio.sample_rate as u64;
    parse.static_pad("sink").unwrap().add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let outside = match info.buffer() {
            Some(buf) => (buf.pts().is_some() && pad_running_time(pad, buf).is_none()) || cut_short_by_segment(pad, buf, aac_frame_ns),
            None => false,
        };
        if !outside {
            return gst::PadProbeReturn::Ok;
        }
        // Taken and dropped here: with `Drop`, buffers arriving through parsebin's ghost
        // pad made GStreamer unref a null buffer (a GStreamer-CRITICAL per frame).
        info.data = None;
        gst::PadProbeReturn::Handled
    });
    let caps = gst::Caps::builder("audio/mpeg").field("mpegversion", 4i32).field("stream-format", "raw").build();
    let filter = gst::ElementFactory::make("capsfilter").property("caps", caps).build().map_err(setup_err)?;
    let mux = copy_mux(cx.gop_ns)?;
    split_at_boundaries(&mux, &filter.static_pad("src").unwrap(), cx.gop_ns, aac_frame_ns / 2, false, Origin::default());
    let sink = media_sink(track, cx.tx.clone(), cx.delay(false), None, None, None);
    add_chain(pipeline, &[parse.clone(), filter, mux, sink.upcast()])?;
    Ok(parse)
}

fn fakesink(pipeline: &gst::Pipeline) -> Result<gst::Element, Error> {
    let q = queue(4)?;
    let sink = gst::ElementFactory::make("fakesink").property("sync", false).build().map_err(setup_err)?;
    add_chain(pipeline, &[q.clone(), sink])?;
    Ok(q)
}

/// Which decoded streams have their branch.
#[derive(Default)]
struct LinkedStreams {
    video: bool,
    /// The source's audio streams (their index) linked so far.
    audio: Vec<usize>,
    /// The source's text streams (their index) linked so far.
    text: Vec<usize>,
}

/// Which of the source's text streams `pad` carries: the one with its stream id, else the
/// first not linked yet; `None` once each has its branch.
fn text_stream_of(cx: &BuildContext, pad: &gst::Pad, linked: &LinkedStreams) -> Option<usize> {
    let streams = &cx.source.text_streams;
    let by_id = pad.stream_id().and_then(|id| streams.iter().position(|t| !t.stream_id.is_empty() && t.stream_id == id.as_str()));
    let stream = by_id.or_else(|| (0..streams.len()).find(|i| !linked.text.contains(i)))?;
    (stream < streams.len() && !linked.text.contains(&stream)).then_some(stream)
}

/// A decoded text stream's branch: every buffer is one cue, handed to the title as WebVTT
/// cue text ([`Msg::Cue`]) with the times the picture shown with it has in the output (its
/// running time, plus the delay every track gets; see [`BuildContext::delay_frames`]).
fn build_text(pipeline: &gst::Pipeline, cx: &BuildContext, stream: usize) -> Result<gst::Element, Error> {
    let rate = cx.source.frame_rate;
    let delay_ns = (u128::from(cx.delay_frames) * 1_000_000_000 * u128::from(rate.den) / u128::from(rate.num.max(1))) as u64;
    let tx = cx.tx.clone();
    let sink = gst_app::AppSink::builder()
        .sync(false)
        // Sparse: a cue may come minutes after the last, and nothing waits for it.
        .property("async", false)
        .callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    let (Some(buf), Some(segment)) = (sample.buffer(), sample.segment()) else { return Ok(gst::FlowSuccess::Ok) };
                    let Some(start) = segment.downcast_ref::<gst::ClockTime>().and_then(|s| s.to_running_time(buf.pts())) else {
                        return Ok(gst::FlowSuccess::Ok);
                    };
                    let markup = sample.caps().and_then(|c| c.structure(0)?.get::<String>("format").ok()).is_some_and(|f| f == "pango-markup");
                    let map = buf.map_readable().map_err(|_| gst::FlowError::Error)?;
                    let raw = String::from_utf8_lossy(&map);
                    let raw = raw.trim_end_matches('\0');
                    let text = if markup { manifest::subtitles::from_pango_markup(raw) } else { manifest::subtitles::from_plain_text(raw) };
                    let start_ns = start.nseconds() + delay_ns;
                    let end_ns = start_ns + buf.duration().map_or(TEXT_CUE_WITHOUT_DURATION_NS, |d| d.nseconds());
                    let language = tagged_language(&sink.static_pad("sink").expect("appsink has a sink pad"));
                    send(&tx, Msg::Cue { stream, cue: manifest::subtitles::TimedCue { start_ns, end_ns, text }, language })
                })
                .build(),
        )
        .build();
    let q = queue(4)?;
    add_chain(pipeline, &[q.clone(), sink.upcast()])?;
    Ok(q)
}

/// The language (BCP 47) the tags that reached `pad` state, if any.
fn tagged_language(pad: &gst::Pad) -> Option<String> {
    (0..)
        .map_while(|i| pad.sticky_event::<gst::event::Tag>(i))
        .find_map(|e| e.tag().get::<gst::tags::LanguageCode>().map(|v| v.get().to_owned()))
        .and_then(|code| manifest::language::bcp47(&code))
}

/// How long a cue whose buffer states no duration is shown.
const TEXT_CUE_WITHOUT_DURATION_NS: u64 = 3_000_000_000;

type Linked = Arc<Mutex<LinkedStreams>>;

/// Which of the source's audio streams `pad` carries: the one with its stream id (which
/// decoders and parsers pass on), else the first not yet linked, in the source's order.
fn audio_stream_of(cx: &BuildContext, pad: &gst::Pad, linked: &LinkedStreams) -> Option<usize> {
    let streams = &cx.source.audio_streams;
    let by_id = pad.stream_id().and_then(|id| streams.iter().position(|a| !a.stream_id.is_empty() && a.stream_id == id.as_str()));
    let stream = by_id.or_else(|| (0..streams.len().max(1)).find(|i| !linked.audio.contains(i)))?;
    (!linked.audio.contains(&stream)).then_some(stream)
}

/// The tracks planned for audio stream `stream`: (track, copy, surround) each.
fn audio_tracks(cx: &BuildContext, stream: usize) -> Vec<(usize, bool, bool)> {
    cx.tracks
        .iter()
        .enumerate()
        .filter_map(|(i, t)| match t {
            TrackSpec::Audio { copy, stream: s, surround } if *s == stream => Some((i, *copy, *surround)),
            _ => None,
        })
        .collect()
}

/// The encoded renditions of one decoded audio stream: one branch, or a tee to each.
fn build_audio_renditions(pipeline: &gst::Pipeline, cx: &BuildContext, tracks: &[(usize, bool, bool)], decoded: &gst::Caps) -> Result<gst::Element, Error> {
    match tracks {
        [] => fakesink(pipeline),
        [(track, _, surround)] => build_audio(pipeline, cx, *track, decoded, *surround),
        _ => {
            let tee = make("tee")?;
            pipeline.add(&tee).map_err(setup_err)?;
            tee.sync_state_with_parent().map_err(setup_err)?;
            for (track, _, surround) in tracks {
                let head = build_audio(pipeline, cx, *track, decoded, *surround)?;
                tee.link(&head).map_err(setup_err)?;
            }
            Ok(tee)
        }
    }
}

/// A decoded stream: the first video one feeds the rungs and thumbnails, each audio one
/// its rendition, each text one its cues (not in a chunk: its part makes only video);
/// anything else is discarded.
fn on_decoded_pad(pipeline: &gst::Pipeline, cx: &BuildContext, linked: &Linked, pad: &gst::Pad) {
    let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
    let name = caps.structure(0).map(|s| s.name().to_string()).unwrap_or_default();
    let mut linked = linked.lock().unwrap();
    let audio_stream = name.starts_with("audio/x-raw").then(|| audio_stream_of(cx, pad, &linked)).flatten();
    let text_stream = (name == "text/x-raw" && cx.part.range.is_none()).then(|| text_stream_of(cx, pad, &linked)).flatten();
    let result = if name.starts_with("video/x-raw") && !linked.video {
        linked.video = true;
        build_video(pipeline, cx, &caps)
    } else if let Some(stream) = audio_stream {
        linked.audio.push(stream);
        build_audio_renditions(pipeline, cx, &audio_tracks(cx, stream), &caps)
    } else if let Some(stream) = text_stream {
        linked.text.push(stream);
        build_text(pipeline, cx, stream)
    } else if cx.part.range.is_some() {
        ended_at_once(pipeline)
    } else {
        // Second video/audio streams, subtitles, data: not packaged.
        fakesink(pipeline)
    };
    let linked_ok = result.and_then(|head| pad.link(&head.static_pad("sink").unwrap()).map(|_| ()).map_err(setup_err));
    if let Err(e) = linked_ok {
        let _ = cx.tx.try_send(Msg::Failed(e));
    }
}

/// `queue ! decodebin`, its decoded pads handled by [`on_decoded_pad`]. With
/// `keyframes`, only the keyframes it picks enter the queue (see [`ThumbnailKeyframes`]):
/// when no rung is encoded, only the thumbnails need pictures.
fn inner_decodebin(
    pipeline: &gst::Pipeline,
    cx: &Arc<BuildContext>,
    linked: &Linked,
    keyframes: Option<Arc<ThumbnailKeyframes>>,
) -> Result<gst::Element, Error> {
    let q = encoded_queue()?;
    let dec = make("decodebin")?;
    if keyframes.is_some() {
        // A keyframe every few seconds needs no frame threads: on a busy machine they
        // only add CPU (measured: -5% CPU for a whole copy job with one thread).
        dec.connect("deep-element-added", false, |args| {
            if let Some(e) = args.get(2).and_then(|v| v.get::<gst::Element>().ok())
                && e.factory().is_some_and(|f| f.name().starts_with("avdec_"))
            {
                e.set_property("max-threads", 1i32);
            }
            None
        });
    }
    if let Some(k) = keyframes {
        let (poster_done, origin) = (cx.poster_done.clone(), cx.origin.clone());
        q.static_pad("sink").unwrap().add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
            let Some(buf) = info.buffer() else { return gst::PadProbeReturn::Ok };
            if buf.flags().contains(gst::BufferFlags::DELTA_UNIT) {
                // Every frame until the first one is decoded: the origin is the title's first
                // frame, as when everything is decoded, not the first keyframe (an edit list
                // may start mid-GOP, the first frame shown may not be the keyframe).
                return if origin.get().is_none() { gst::PadProbeReturn::Ok } else { discard(info) };
            }
            let Some(rt) = pad_running_time(pad, buf) else { return gst::PadProbeReturn::Ok };
            if k.sampler.lock().unwrap().wanted(rt.nseconds()) {
                k.for_sprites.lock().unwrap().push_back(rt.nseconds());
            } else if poster_done.load(Ordering::Relaxed) {
                return discard(info);
            }
            gst::PadProbeReturn::Ok
        });
    }
    let (cx, linked, weak) = (cx.clone(), linked.clone(), pipeline.downgrade());
    dec.connect_pad_added(move |_, pad| {
        if let Some(pipeline) = weak.upgrade() {
            on_decoded_pad(&pipeline, &cx, &linked, pad);
        }
    });
    add_chain(pipeline, &[q.clone(), dec])?;
    Ok(q)
}

/// Copy mode's video: `tee` to the copy branch(es) and to a decodebin.
fn copy_mode_video(pipeline: &gst::Pipeline, cx: &Arc<BuildContext>, linked: &Linked, caps: &gst::Caps) -> Result<gst::Element, Error> {
    let tee = make("tee")?;
    add_chain(pipeline, std::slice::from_ref(&tee))?;
    for (track, t) in cx.tracks.iter().enumerate() {
        if let TrackSpec::Video(pr) = t
            && pr.copy
        {
            let head = build_copy(pipeline, cx, track, pr, caps)?;
            tee.link(&head).map_err(setup_err)?;
        }
    }
    let decoded = inner_decodebin(pipeline, cx, linked, cx.thumbnail_keyframes.clone())?;
    tee.link(&decoded).map_err(setup_err)?;
    Ok(tee)
}

/// [`BuildContext::delay_frames`] for a title of `tracks` (every track of the title, in whichever
/// part it is made: the delay is the same in all of them).
pub(crate) fn delay_frames(tracks: &[TrackSpec], source: &SourceMedia) -> u32 {
    tracks
        .iter()
        .filter_map(|t| match t {
            TrackSpec::Video(p) if p.copy => source.video_stream.reorder_frames,
            TrackSpec::Video(p) => Some(p.rung.bframes),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

/// Starts a chunk's pipeline at its range. Every source pad of the demuxer holds its first
/// buffer (a blocking probe), and at the first one a flushing seek to the keyframe before
/// the range (KEY_UNIT, SNAP_BEFORE) is sent to the demuxer from another thread (a seek
/// from the streaming thread itself is not safe): the held buffers are flushed and every
/// stream starts again from that keyframe. (An ACCURATE seek starts the audio at the range
/// and the video a GOP earlier: large frames then fill decodebin's multiqueue before any
/// audio comes, and decodebin never exposes its pads.) A pad lets its buffers go once the
/// flush has passed it (or once the seek is done, for a pad added after it). The target is
/// a quarter frame before the range, clear of rounding; [`only_in_range`] keeps exactly the
/// frames of the range.
fn seek_before_the_first_frame(pipeline: &gst::Pipeline, range: TimeRange, late_media_ns: u64, tx: mpsc::Sender<Msg>) {
    // Where the demuxer stops reading (see `SEEK_STOP_MARGIN_NS`).
    let stop = range.end_ns.map(|end| gst::ClockTime::from_nseconds(end.saturating_add(late_media_ns).saturating_add(SEEK_STOP_MARGIN_NS)));
    // (the seek was asked for, the demuxer has done it)
    let seek = Arc::new((AtomicBool::new(false), AtomicBool::new(false)));
    pipeline.connect_deep_element_added(move |_, _, element| {
        let is_demuxer = element
            .factory()
            .and_then(|f| f.metadata(gst::ELEMENT_METADATA_KLASS).map(|k| k.contains("Demuxer")))
            .unwrap_or(false);
        if !is_demuxer {
            return;
        }
        let (seek, tx) = (seek.clone(), tx.clone());
        element.connect_pad_added(move |demuxer, pad| {
            let flushed = Arc::new(AtomicBool::new(false));
            let passed = flushed.clone();
            pad.add_probe(gst::PadProbeType::EVENT_FLUSH, move |_, info| {
                if let Some(gst::PadProbeData::Event(ev)) = &info.data
                    && ev.type_() == gst::EventType::FlushStop
                {
                    passed.store(true, Ordering::SeqCst);
                    return gst::PadProbeReturn::Remove;
                }
                gst::PadProbeReturn::Ok
            });
            no_video_past_the_range(pad, range);
            let (seek, tx, demuxer) = (seek.clone(), tx.clone(), demuxer.downgrade());
            pad.add_probe(gst::PadProbeType::BLOCK | gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST, move |_, _| {
                if flushed.load(Ordering::SeqCst) || seek.1.load(Ordering::SeqCst) {
                    return gst::PadProbeReturn::Remove;
                }
                if !seek.0.swap(true, Ordering::SeqCst) {
                    let (seek, demuxer, tx) = (seek.clone(), demuxer.clone(), tx.clone());
                    std::thread::spawn(move || {
                        let Some(demuxer) = demuxer.upgrade() else { return };
                        let event = gst::event::Seek::new(
                            1.0,
                            gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT | gst::SeekFlags::SNAP_BEFORE,
                            gst::SeekType::Set,
                            gst::ClockTime::from_nseconds(range.start_ns.saturating_sub(range.frame_ns / 4)),
                            if stop.is_some() { gst::SeekType::Set } else { gst::SeekType::None },
                            stop,
                        );
                        if demuxer.send_event(event) {
                            seek.1.store(true, Ordering::SeqCst);
                        } else {
                            let _ = tx.try_send(Msg::Failed(Error::Setup(format!(
                                "the demuxer refused the seek to the chunk at {:.3} s",
                                range.start_ns as f64 / 1e9
                            ))));
                        }
                    });
                }
                // Held until the flush.
                gst::PadProbeReturn::Ok
            });
        });
    });
}

/// A chunk's seek stops the demuxer this far past the chunk's end (and past it by as much
/// again as an edit list starts its media late: qtdemux compares a seek's stop with media
/// time), so it reads, and a chunk's worker fetches, little past its range; the margin
/// keeps every frame reordered before the end ([`no_video_past_the_range`] makes the end
/// exact). Without a stop, qtdemux read the rest of the file after the video's EOS.
const SEEK_STOP_MARGIN_NS: u64 = 1_000_000_000;

/// Ends a chunk's video stream at the demuxer: the first frame whose decode time (stream
/// time) is at or past the range's end is refused with EOS. Every frame shown before the
/// end is decoded before it (decode time <= presentation time), and frames are not cut in
/// the decoder, which would then miss the references of those it still has.
fn no_video_past_the_range(pad: &gst::Pad, range: TimeRange) {
    let Some(end) = range.end_ns else { return };
    let video = std::sync::OnceLock::new();
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let is_video = *video.get_or_init(|| {
            pad.current_caps().and_then(|c| c.structure(0).map(|s| s.name().starts_with("video/"))).unwrap_or(false)
        });
        let Some(buf) = info.buffer() else { return gst::PadProbeReturn::Ok };
        let decode_time = pad
            .sticky_event::<gst::event::Segment>(0)
            .and_then(|seg| seg.segment().downcast_ref::<gst::ClockTime>().and_then(|s| s.to_stream_time(buf.dts_or_pts())));
        if !is_video || decode_time.is_none_or(|t| t.nseconds() < end) {
            return gst::PadProbeReturn::Ok;
        }
        info.data = None;
        info.flow_res = Err(gst::FlowError::Eos);
        gst::PadProbeReturn::Handled
    });
}

/// Drops the buffer a probe on a sink pad was given. Not with `PadProbeReturn::Drop`: on a
/// sink pad, GStreamer 1.22 then unrefs the buffer gstreamer-rs has already taken (a
/// GStreamer-CRITICAL per buffer); taken and `Handled`, it is dropped here.
fn discard(info: &mut gst::PadProbeInfo) -> gst::PadProbeReturn {
    info.data = None;
    gst::PadProbeReturn::Handled
}

/// Keeps the decoded frames whose middle lies in the chunk's range (stream time): those
/// before it (from the keyframe the seek went back to) and after it (decoded up to
/// [`no_video_past_the_range`]) are dropped.
fn only_in_range(pad: &gst::Pad, range: TimeRange) {
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let Some(buf) = info.buffer() else { return gst::PadProbeReturn::Ok };
        let middle = pad
            .sticky_event::<gst::event::Segment>(0)
            .and_then(|seg| seg.segment().downcast_ref::<gst::ClockTime>().and_then(|s| s.to_stream_time(buf.pts())))
            .map(|time| time.nseconds() + buf.duration().map_or(0, |d| d.nseconds() / 2));
        if middle.is_some_and(|m| m >= range.start_ns && range.end_ns.is_none_or(|end| m < end)) {
            return gst::PadProbeReturn::Ok;
        }
        discard(info)
    });
}

/// A stream a chunk does not make (its audio, a second video, subtitles): not decoded
/// (see `build`), and refused with EOS at its first buffer, so that the demuxer stops
/// reading it; its EOS event still reaches the sink when the demuxer ends.
fn ended_at_once(pipeline: &gst::Pipeline) -> Result<gst::Element, Error> {
    let q = fakesink(pipeline)?;
    q.static_pad("sink").unwrap().add_probe(gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST, |_, info| {
        info.data = None;
        info.flow_res = Err(gst::FlowError::Eos);
        gst::PadProbeReturn::Handled
    });
    Ok(q)
}

pub(crate) fn build(
    input: crate::source::Input<'_>,
    ladder: &Ladder,
    source: &SourceMedia,
    tracks: Vec<TrackSpec>,
    delay_frames: u32,
    part: PartSpec,
    tx: mpsc::Sender<Msg>,
) -> Result<Graph, Error> {
    let pipeline = gst::Pipeline::new();
    let (src, late_media_ns) = crate::source::source_element(input)?;
    let copy_video = tracks.iter().any(|t| matches!(t, TrackSpec::Video(p) if p.copy));
    let audio_copy = tracks.iter().any(|t| matches!(t, TrackSpec::Audio { copy: true, .. }));
    let encoded_video = tracks.iter().any(|t| matches!(t, TrackSpec::Video(p) if !p.copy));
    // With no rung encoded here (every one copied, or the audio and thumbnails of a chunked
    // title) only the thumbnails need pictures: only keyframes are decoded, so the parsebin head.
    let keyframes_for_thumbnails = !encoded_video && part.thumbnails;
    let copy_mode = copy_video || audio_copy || keyframes_for_thumbnails;
    let decode = make(if copy_mode { "parsebin" } else { "decodebin" })?;
    if part.range.is_some() {
        // A chunk makes only video: its other streams are not decoded (see `ended_at_once`).
        decode.set_property("caps", gst::Caps::builder("video/x-raw").any_features().build());
    }
    pipeline.add_many([&src, &decode]).map_err(setup_err)?;
    src.link(&decode).map_err(setup_err)?;
    let cx = Arc::new(BuildContext::new(ladder, source, tracks, delay_frames, part, tx, keyframes_for_thumbnails));
    let graph = Graph { pipeline: pipeline.clone(), position_ns: cx.position_ns.clone(), source_position_ns: cx.source_position_ns.clone() };
    if let Some(range) = part.range {
        seek_before_the_first_frame(&pipeline, range, late_media_ns, cx.tx.clone());
    }
    let linked: Linked = Default::default();
    let weak = pipeline.downgrade();
    if !copy_mode {
        decode.connect_pad_added(move |_, pad| {
            let Some(pipeline) = weak.upgrade() else { return };
            on_decoded_pad(&pipeline, &cx, &linked, pad);
        });
        return Ok(graph);
    }
    let parsed = ParsedStreams { video_copied: copy_video || keyframes_for_thumbnails, ..Default::default() };
    decode.connect_pad_added(move |_, pad| {
        let Some(pipeline) = weak.upgrade() else { return };
        let linked_ok = on_parsed_pad(&pipeline, &cx, &linked, &parsed, pad)
            .and_then(|head| pad.link(&head.static_pad("sink").unwrap()).map(|_| ()).map_err(setup_err));
        if let Err(e) = linked_ok {
            let _ = cx.tx.try_send(Msg::Failed(e));
        }
    });
    Ok(graph)
}

impl BuildContext {
    fn new(
        ladder: &Ladder,
        source: &SourceMedia,
        tracks: Vec<TrackSpec>,
        delay_frames: u32,
        part: PartSpec,
        tx: mpsc::Sender<Msg>,
        keyframes_for_thumbnails: bool,
    ) -> Self {
        let (gop_frames, gop_ns) = ladder.gop(source.frame_rate);
        let thumbnail_keyframes = keyframes_for_thumbnails.then(|| {
            Arc::new(ThumbnailKeyframes {
                sampler: Mutex::new(KeyframeSampler::new(crate::thumbs::sprite_interval_ns(source.duration_ns))),
                for_sprites: Mutex::new(Default::default()),
            })
        });
        BuildContext {
            tracks,
            ladder: ladder.clone(),
            source: source.clone(),
            gop_frames,
            gop_ns,
            tx,
            position_ns: Arc::new(AtomicU64::new(0)),
            source_position_ns: Arc::new(AtomicU64::new(0)),
            poster_done: Arc::new(AtomicBool::new(false)),
            origin: Origin::unset(),
            thumbnail_keyframes,
            delay_frames,
            part,
        }
    }
}

/// What the copy-mode head (a parsebin) has handed out so far.
#[derive(Default)]
struct ParsedStreams {
    /// The video is copied, or only its keyframes decoded (see [`copy_mode_video`]);
    /// otherwise it goes to a decodebin of its own.
    video_copied: bool,
    video_seen: AtomicBool,
    /// Audio streams given a branch here (decoded ones are linked again after their decodebin).
    audio_seen: Linked,
}

/// Copy mode: a parsed (not decoded) stream of the source. The video stream goes to the
/// copy branch and, for the encoded rungs and thumbnails, to a decodebin of its own;
/// audio to the audio copy or to another decodebin; text to a decodebin; the rest to a
/// fakesink. Returns the head the pad is to be linked to.
fn on_parsed_pad(
    pipeline: &gst::Pipeline,
    cx: &Arc<BuildContext>,
    linked: &Linked,
    parsed: &ParsedStreams,
    pad: &gst::Pad,
) -> Result<gst::Element, Error> {
    let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
    let name = caps.structure(0).map(|s| s.name().to_string()).unwrap_or_default();
    if name.starts_with("video/") && !parsed.video_seen.swap(true, Ordering::SeqCst) {
        return if parsed.video_copied { copy_mode_video(pipeline, cx, linked, &caps) } else { inner_decodebin(pipeline, cx, linked, None) };
    }
    if crate::probe::TEXT_CAPS.contains(&name.as_str()) && !cx.source.text_streams.is_empty() {
        // Decoded (SSA/ASS to Pango markup) and taken by `on_decoded_pad`.
        return inner_decodebin(pipeline, cx, linked, None);
    }
    if name.starts_with("audio/") {
        let mut seen = parsed.audio_seen.lock().unwrap();
        if let Some(stream) = audio_stream_of(cx, pad, &seen) {
            seen.audio.push(stream);
            drop(seen);
            return match audio_tracks(cx, stream)[..] {
                [] => fakesink(pipeline),
                // A copy is of a stereo source: there is no 5.1 beside it.
                [(track, true, _)] => build_audio_copy(pipeline, cx, track),
                _ => inner_decodebin(pipeline, cx, linked, None),
            };
        }
    }
    fakesink(pipeline)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bx(kind: &[u8; 4], len: usize) -> Vec<u8> {
        let mut v = (len as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.resize(len, 0);
        v
    }

    #[test]
    fn splits_init_and_fragments() {
        let mut b = Vec::new();
        for (k, l) in [(b"ftyp", 20), (b"moov", 30), (b"moof", 16), (b"mdat", 40), (b"styp", 12), (b"moof", 16), (b"mdat", 9)] {
            b.extend(bx(k, l));
        }
        let parts = split_boxes(&b).unwrap();
        assert_eq!(parts, vec![(true, 0..50), (false, 50..106), (false, 106..143)]);
        assert!(split_boxes(&b[..b.len() - 1]).is_err());
        assert!(split_boxes(&bx(b"mdat", 8)).is_err());
    }
}
