//! Probe a source before building the pipeline: a bad upload fails here, in
//! about the time of one preroll, and the plan (rungs, GOP) needs the size and
//! frame rate up front.

use std::path::Path;

use gst::prelude::*;
use gst_pbutils::prelude::*;
use manifest::model::FrameRate;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::ladder::SourceGeometry;
use crate::rate::gcd;

/// Sources beyond these are refused before decoding: they would take the
/// worker for days or exhaust memory in the scaler.
pub const MAX_PIXELS: u64 = 8192 * 4320;
pub const MAX_DURATION_NS: u64 = 24 * 3600 * 1_000_000_000;
/// And the work of decoding it: width x height x frames, at most what 24 h of
/// 1080p30 is (3 h of 2160p60, 1.5 h of 4320p30). Each limit alone allows an
/// 8K picture or a day; together they do not allow a day of 8K.
pub const MAX_DECODED_PIXELS: u64 = 1920 * 1080 * 30 * 24 * 3600;
const PROBE_TIMEOUT_S: u64 = 60;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceMedia {
    pub container: String,
    pub video_codec: String,
    pub audio_codec: Option<String>,
    pub duration_ns: u64,
    /// Where the video ends as an MP4/QuickTime header states it (its edits), when one
    /// does: a tighter measure than `duration_ns` (the longest stream) for catching a file
    /// cut short.
    pub stated_video_end_ns: Option<u64>,
    /// Where the video starts as an MP4/QuickTime header states it (after its leading
    /// empty edits), when one does: a title is cut into chunks only when this is 0, the
    /// place chunk boundaries are counted from (see `crate::parts`).
    pub stated_video_start_ns: Option<u64>,
    /// Where (s) the video's frames first leave the grid of `frame_rate` frames a second
    /// from its first frame, by over a quarter frame, as an MP4/QuickTime index states
    /// their times (a splice, a stream-copied concatenation); `None` when they do not, or
    /// for other containers. Such a title is not cut into chunks (see `crate::parts`).
    #[serde(default)]
    pub frames_off_grid_s: Option<f64>,
    pub geometry: SourceGeometry,
    pub frame_rate: FrameRate,
    pub interlaced: bool,
    /// The container asks for the picture to be rotated or flipped on display
    /// (phone footage): the pipeline applies it, and `geometry` is already
    /// the displayed one.
    pub orientation: Option<String>,
    /// The container's timestamps are the presentation times and it has no edit lists
    /// (Matroska, WebM): a segment that starts at the first frame is not an edit.
    pub pts_timeline: bool,
    /// The picture is coded for HDR (PQ or HLG transfer, from the caps' colorimetry).
    pub video_range: Option<manifest::model::VideoRange>,
    pub has_audio: bool,
    pub size_bytes: u64,
    /// What a copy rung needs to know of the encoded video (see `crate::copy`).
    pub video_stream: EncodedVideo,
    /// The first audio stream as encoded, when there is one.
    pub audio_stream: Option<EncodedAudio>,
    /// Every audio stream, in the container's order: each becomes an audio rendition.
    #[serde(default)]
    pub audio_streams: Vec<SourceAudio>,
    /// Every subtitle stream, in the container's order: each text one becomes a WebVTT
    /// rendition (bitmap ones are left out).
    #[serde(default)]
    pub text_streams: Vec<SourceText>,
}

/// One audio stream of the source.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SourceAudio {
    /// GStreamer's stream id, which the decoded pad of this stream carries.
    pub stream_id: String,
    /// BCP 47, from the container's language code (`None`: not stated, or `und`).
    pub language: Option<String>,
    pub channels: u32,
}

impl SourceAudio {
    fn from_info(a: &gst_pbutils::DiscovererAudioInfo) -> Self {
        let code = a
            .language()
            .map(|l| l.to_string())
            .or_else(|| a.tags().and_then(|t| t.get::<gst::tags::LanguageCode>().map(|v| v.get().to_owned())));
        SourceAudio {
            stream_id: a.stream_id().map(|s| s.to_string()).unwrap_or_default(),
            language: code.as_deref().and_then(manifest::language::bcp47),
            channels: a.channels(),
        }
    }
}

/// One text (subtitle) stream of the source.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SourceText {
    /// GStreamer's stream id, which the pad of this stream carries.
    pub stream_id: String,
    /// BCP 47, from the container's language code (`None`: not stated, or `und`).
    pub language: Option<String>,
    /// Caps name as demuxed, e.g. `text/x-raw` (SRT, MP4 timed text) or `application/x-ass`.
    pub caps_name: String,
}

impl SourceText {
    fn from_info(t: &gst_pbutils::DiscovererSubtitleInfo) -> Self {
        let code = t
            .language()
            .map(|l| l.to_string())
            .or_else(|| t.tags().and_then(|tags| tags.get::<gst::tags::LanguageCode>().map(|v| v.get().to_owned())));
        SourceText {
            stream_id: t.stream_id().map(|s| s.to_string()).unwrap_or_default(),
            language: code.as_deref().and_then(manifest::language::bcp47),
            caps_name: t.caps().and_then(|c| c.structure(0).map(|s| s.name().to_string())).unwrap_or_default(),
        }
    }

    /// A stream the pipeline turns into WebVTT: text, not pictures (DVD/DVB/PGS bitmaps).
    pub fn is_text(&self) -> bool {
        TEXT_CAPS.iter().any(|c| self.caps_name == *c)
    }
}

/// Caps of the text streams the pipeline reads (as demuxed; decodebin turns SSA/ASS into
/// Pango markup): SRT and MP4 timed text (`text/x-raw`), SSA/ASS, WebVTT in Matroska.
pub const TEXT_CAPS: [&str; 4] = ["text/x-raw", "application/x-ssa", "application/x-ass", "application/x-subtitle-vtt"];

/// The source's video stream as encoded.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EncodedVideo {
    /// Caps name, e.g. `video/x-h264`.
    pub caps_name: String,
    pub profile: Option<String>,
    /// From the container or stream tags when stated (bits/s).
    pub bitrate: Option<u32>,
    /// The container states a constant frame rate (not resampled to 30 fps).
    pub rate_known: bool,
    /// How many frames the stream reorders (B-frames), as its SPS states it in the
    /// container's codec configuration (avcC/hvcC); `None` when nothing says.
    pub reorder_frames: Option<u32>,
}

/// The source's audio stream as encoded (what an audio copy needs, see `crate::copy`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EncodedAudio {
    /// Caps name, e.g. `audio/mpeg`.
    pub caps_name: String,
    /// `mpegversion` of `audio/mpeg` (4 for AAC).
    pub mpeg_version: Option<i32>,
    /// AAC profile as the parser names it (`lc`, `he-aac`, ...), or from the
    /// AudioSpecificConfig's object type when the caps do not say.
    pub profile: Option<String>,
    pub channels: u32,
    pub sample_rate: u32,
    /// From the container or stream tags when stated (bits/s).
    pub bitrate: Option<u32>,
}

impl EncodedAudio {
    fn from_info(a: &gst_pbutils::DiscovererAudioInfo) -> Self {
        let caps = a.caps();
        let s = caps.as_ref().and_then(|c| c.structure(0));
        let profile = s.and_then(|s| s.get::<String>("profile").ok()).or_else(|| {
            // AudioSpecificConfig: the first 5 bits are the object type; 2 is AAC LC.
            let data = s?.get::<gst::Buffer>("codec_data").ok()?;
            let map = data.map_readable().ok()?;
            match map.first()? >> 3 {
                1 => Some("main".into()),
                2 => Some("lc".into()),
                t => Some(format!("object type {t}")),
            }
        });
        EncodedAudio {
            caps_name: s.map(|s| s.name().to_string()).unwrap_or_default(),
            mpeg_version: s.and_then(|s| s.get::<i32>("mpegversion").ok()),
            profile,
            channels: a.channels(),
            sample_rate: a.sample_rate(),
            bitrate: [a.bitrate(), a.max_bitrate()].into_iter().find(|b| *b > 0),
        }
    }
}

pub fn file_uri(path: &Path) -> Result<String, Error> {
    let abs = std::fs::canonicalize(path)
        .map_err(|source| Error::InputRead { path: path.to_owned(), source })?;
    gst::glib::filename_to_uri(&abs, None)
        .map(|u| u.to_string())
        .map_err(|e| Error::BadSource { path: path.to_owned(), reason: e.to_string() })
}

fn describe(caps: Option<gst::Caps>) -> String {
    match caps {
        Some(c) if !c.is_empty() => gst_pbutils::pb_utils_get_codec_description(&c).to_string(),
        _ => "unknown".into(),
    }
}

/// Reduce a fraction and map broken or variable rates to something encodable.
pub fn normalise_rate(num: i32, den: i32) -> Option<FrameRate> {
    if num <= 0 || den <= 0 {
        return None;
    }
    let g = gcd(num as u32, den as u32);
    let (n, d) = (num as u32 / g, den as u32 / g);
    let fps = n as f64 / d as f64;
    if !(1.0..=240.0).contains(&fps) {
        return None;
    }
    Some(FrameRate { num: n, den: d })
}


/// A source GStreamer found no decoder for, from the installer details of what is missing
/// (`gstreamer|1.0|app|Theora video decoder|decoder-video/x-theora`): a format uploads come
/// in is this machine's fault, its decoder named; any other the upload's.
fn missing_decoder(path: &Path, details: &[String]) -> Error {
    let mut described = Vec::new();
    for d in details {
        let fields: Vec<&str> = d.split('|').collect();
        let description = fields.get(3).copied().unwrap_or(d.as_str());
        let caps = fields.get(4).and_then(|f| f.strip_prefix("decoder-"));
        if let Some(element) = caps.and_then(crate::doctor::decoder_for) {
            return Error::MissingDecoder {
                what: description.to_owned(),
                element,
                package: crate::doctor::package_of(element),
            };
        }
        described.push(description.to_owned());
    }
    Error::NotMedia { path: path.to_owned(), reason: format!("no decoder for its {}", described.join(", ")) }
}

pub fn probe(path: &Path) -> Result<SourceMedia, Error> {
    let meta = std::fs::metadata(path).map_err(|source| Error::InputRead { path: path.to_owned(), source })?;
    if !meta.is_file() {
        return Err(Error::BadSource { path: path.to_owned(), reason: "not a regular file".into() });
    }
    if meta.len() == 0 {
        return Err(Error::EmptyInput { path: path.to_owned() });
    }
    let uri = file_uri(path)?;
    let discoverer = gst_pbutils::Discoverer::new(gst::ClockTime::from_seconds(PROBE_TIMEOUT_S))
        .map_err(|e| Error::Setup(format!("discoverer: {e}")))?;
    let info = discoverer
        .discover_uri(&uri)
        .map_err(|e| Error::NotMedia { path: path.to_owned(), reason: e.message().to_string() })?;
    match info.result() {
        gst_pbutils::DiscovererResult::Ok => {}
        gst_pbutils::DiscovererResult::MissingPlugins => {
            let details: Vec<String> = info.missing_elements_installer_details().iter().map(|d| d.to_string()).collect();
            return Err(missing_decoder(path, &details));
        }
        other => {
            return Err(Error::NotMedia { path: path.to_owned(), reason: format!("{other:?}") });
        }
    }
    let video = info
        .video_streams()
        .into_iter()
        .find(|v| !v.is_image())
        .ok_or_else(|| Error::NoVideo { path: path.to_owned() })?;
    let audio_streams = info.audio_streams();
    let audio = audio_streams.first().cloned();
    let (width, height) = (video.width(), video.height());
    if width < 16 || height < 16 || (width as u64) * (height as u64) > MAX_PIXELS {
        return Err(Error::BadSource {
            path: path.to_owned(),
            reason: format!("picture size {width}x{height} is outside 16x16..{MAX_PIXELS} pixels"),
        });
    }
    let duration_ns = info.duration().map(|d| d.nseconds()).unwrap_or(0);
    if duration_ns == 0 {
        return Err(Error::BadSource { path: path.to_owned(), reason: "duration is unknown or zero".into() });
    }
    if duration_ns > MAX_DURATION_NS {
        return Err(Error::BadSource {
            path: path.to_owned(),
            reason: format!("duration {:.0} s exceeds the 24 h limit", duration_ns as f64 / 1e9),
        });
    }
    let fr = video.framerate();
    let stated = normalise_rate(fr.numer(), fr.denom());
    let measured = read_video_timestamps(path).and_then(crate::rate::measure);
    // Constant when the timestamps say so; the header's word only when they say nothing.
    let rate_known = measured.map_or(stated.is_some(), |m| m.constant);
    let frame_rate = choose_rate(stated, measured);
    check_decode_work(width, height, frame_rate, duration_ns)
        .map_err(|reason| Error::BadSource { path: path.to_owned(), reason })?;
    let par = video.par();
    let (mut par_n, mut par_d) =
        if par.numer() > 0 && par.denom() > 0 { (par.numer() as u32, par.denom() as u32) } else { (1, 1) };
    let orientation = video
        .tags()
        .and_then(|t| t.get::<gst::tags::ImageOrientation>().map(|v| v.get().to_string()))
        .filter(|o| o != "rotate-0");
    let (mut width, mut height) = (width, height);
    if orientation.as_deref().is_some_and(|o| o.ends_with("-90") || o.ends_with("-270")) {
        std::mem::swap(&mut width, &mut height);
        std::mem::swap(&mut par_n, &mut par_d);
    }
    let container_caps = info.stream_info().and_then(|s| s.caps());
    let stated_span = crate::source::stated_video_span_ns(path);
    let pts_timeline = container_caps
        .as_ref()
        .and_then(|c| c.structure(0))
        .is_some_and(|s| s.name().starts_with("video/x-matroska") || s.name() == "video/webm" || s.name() == "audio/webm");
    let video_range = video.caps().as_ref().and_then(|c| c.structure(0)).and_then(hdr_transfer);
    if let Some(range) = video_range {
        tracing::warn!(
            transfer = range.as_hls(),
            "HDR source: the rungs keep its transfer and BT.2020 tags (no tone mapping to SDR exists in \
             GStreamer 1.22), 8-bit unless the rung is 10-bit; HLS marks them VIDEO-RANGE, and a player without HDR \
             shows them washed out"
        );
    }
    Ok(SourceMedia {
        container: describe(container_caps),
        pts_timeline,
        video_range,
        video_codec: describe(video.caps()),
        audio_codec: audio.as_ref().map(|a| describe(a.caps())),
        duration_ns,
        stated_video_end_ns: stated_span.map(|(_, end)| end),
        stated_video_start_ns: stated_span.map(|(start, _)| start),
        frames_off_grid_s: crate::source::frames_off_grid_s(path, frame_rate),
        geometry: SourceGeometry { width, height, par_n, par_d },
        frame_rate,
        interlaced: video.is_interlaced(),
        orientation,
        has_audio: audio.is_some(),
        size_bytes: meta.len(),
        video_stream: EncodedVideo {
            caps_name: video.caps().and_then(|c| c.structure(0).map(|s| s.name().to_string())).unwrap_or_default(),
            profile: video.caps().and_then(|c| c.structure(0).and_then(|s| s.get::<String>("profile").ok())),
            bitrate: [video.bitrate(), video.max_bitrate()].into_iter().find(|b| *b > 0),
            rate_known,
            reorder_frames: video.caps().as_ref().and_then(|c| c.structure(0)).and_then(reorder_frames),
        },
        audio_stream: audio.as_ref().map(EncodedAudio::from_info),
        audio_streams: audio_streams.iter().map(SourceAudio::from_info).collect(),
        text_streams: info.subtitle_streams().iter().map(SourceText::from_info).collect(),
    })
}

/// How many video frames the rate is measured over (and at most how many seconds).
const RATE_WINDOW_FRAMES: usize = 300;
const RATE_WINDOW_NS: u64 = 10_000_000_000;

/// The frame rate the source is packaged at: what its timestamps say (see `crate::rate`),
/// the header's rate when they say nothing, 30 fps when neither does.
fn choose_rate(stated: Option<FrameRate>, measured: Option<crate::rate::Measured>) -> FrameRate {
    match (stated, measured) {
        (stated, Some(m)) => {
            if !m.constant {
                tracing::warn!(
                    rate = %format!("{}/{}", m.rate.num, m.rate.den),
                    intervals_ms = %format!("{:.1}..{:.1}", m.min_interval_ns as f64 / 1e6, m.max_interval_ns as f64 / 1e6),
                    "variable frame rate: packaged at the most common frame spacing (longer gaps repeat a frame, closer frames are dropped)"
                );
            } else if let Some(s) = stated.filter(|s| *s != m.rate) {
                tracing::info!(
                    header = %format!("{}/{}", s.num, s.den),
                    timestamps = %format!("{}/{}", m.rate.num, m.rate.den),
                    "the header's frame rate disagrees with the timestamps: using the timestamps"
                );
            }
            m.rate
        }
        (Some(s), None) => s,
        (None, None) => {
            tracing::warn!("no frame rate in the header or the timestamps; resampling to 30 fps");
            FrameRate { num: 30, den: 1 }
        }
    }
}

/// Running times of the first video frames (presentation, else decode times) ([`RATE_WINDOW_FRAMES`], at most
/// [`RATE_WINDOW_NS`]), read through `parsebin` without decoding anything. `None` when the
/// stream could not be read that way (the probe then relies on the header).
fn read_video_timestamps(path: &Path) -> Option<Vec<u64>> {
    let pipeline = gst::Pipeline::new();
    let (src, _) = crate::source::source_element(crate::source::Input { path, reader: None }).ok()?;
    let parse = gst::ElementFactory::make("parsebin").build().ok()?;
    let sink = gst_app::AppSink::builder().sync(false).property("async", false).build();
    pipeline.add_many([&src, &parse, sink.upcast_ref()]).ok()?;
    src.link(&parse).ok()?;
    let weak = pipeline.downgrade();
    let sink_pad = sink.static_pad("sink")?;
    parse.connect_pad_added(move |_, pad| {
        let Some(pipeline) = weak.upgrade() else { return };
        let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
        let video = caps.structure(0).is_some_and(|s| s.name().starts_with("video/"));
        if video && !sink_pad.is_linked() && pad.link(&sink_pad).is_ok() {
            return;
        }
        // Everything else is read and dropped, so the demuxer never waits on it.
        if let Ok(fake) = gst::ElementFactory::make("fakesink").property("sync", false).property("async", false).build()
            && pipeline.add(&fake).is_ok()
        {
            let _ = fake.sync_state_with_parent();
            let _ = pad.link(&fake.static_pad("sink").unwrap());
        }
    });
    pipeline.set_state(gst::State::Playing).ok()?;
    let mut pts = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(PROBE_TIMEOUT_S);
    while pts.len() < RATE_WINDOW_FRAMES && std::time::Instant::now() < deadline {
        let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_mseconds(250)) else {
            if sink.is_eos() {
                break;
            }
            continue;
        };
        let Some(buf) = sample.buffer() else { continue };
        // AVI gives decode times only (a presentation time on keyframes): for the spacing
        // of frames either will do.
        let time = buf.pts().or(buf.dts());
        let rt = sample.segment().and_then(|s| s.downcast_ref::<gst::ClockTime>()).and_then(|s| s.to_running_time(time));
        if let Some(rt) = rt {
            pts.push(rt.nseconds());
        }
        // Reordered frames come out of order: the window is measured from the first one
        // read, which is the earliest to within the reordering.
        if pts.last()?.saturating_sub(pts[0]) >= RATE_WINDOW_NS {
            break;
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    Some(pts)
}

/// PQ or HLG, from the caps' colorimetry.
fn hdr_transfer(s: &gst::StructureRef) -> Option<manifest::model::VideoRange> {
    use gst_video::VideoTransferFunction as T;
    let c: gst_video::VideoColorimetry = s.get::<String>("colorimetry").ok()?.parse().ok()?;
    match c.transfer() {
        T::Smpte2084 => Some(manifest::model::VideoRange::Pq),
        T::AribStdB67 => Some(manifest::model::VideoRange::Hlg),
        _ => None,
    }
}

/// The reorder depth stated by the SPS in the caps' `codec_data` (avcC or hvcC).
fn reorder_frames(s: &gst::StructureRef) -> Option<u32> {
    use manifest::codecs;
    let data = s.get::<gst::Buffer>("codec_data").ok()?;
    let map = data.map_readable().ok()?;
    match s.name().as_str() {
        "video/x-h264" => codecs::h264_max_reorder_frames(codecs::avcc_first_sps(&map).ok()??).ok()?,
        "video/x-h265" => codecs::h265_max_reorder_frames(codecs::hvcc_first_sps(&map).ok()??).ok(),
        _ => None,
    }
}

/// Refuses a source whose decoding alone exceeds [`MAX_DECODED_PIXELS`].
pub fn check_decode_work(width: u32, height: u32, rate: FrameRate, duration_ns: u64) -> Result<(), String> {
    let frames = (duration_ns as f64 / 1e9 * rate.as_f64()).ceil();
    let pixels = width as f64 * height as f64 * frames;
    if pixels > MAX_DECODED_PIXELS as f64 {
        return Err(format!(
            "{width}x{height} x {frames:.0} frames is {pixels:.3e} decoded pixels, over the {:.3e} limit (24 h of 1080p30)",
            MAX_DECODED_PIXELS as f64
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_work_limit() {
        let fps30 = FrameRate { num: 30, den: 1 };
        let hour = 3600 * 1_000_000_000u64;
        assert!(check_decode_work(1920, 1080, fps30, 24 * hour).is_ok());
        assert!(check_decode_work(1920, 1080, fps30, 25 * hour).is_err());
        assert!(check_decode_work(3840, 2160, FrameRate { num: 60, den: 1 }, 3 * hour).is_ok());
        let e = check_decode_work(7680, 4320, fps30, 12 * hour).unwrap_err();
        assert!(e.contains("7680x4320") && e.contains("limit"), "{e}");
    }

    #[test]
    fn a_missing_decoder_of_a_known_format_is_the_machines_and_of_another_the_uploads() {
        let p = Path::new("in.mkv");
        let theora = ["gstreamer|1.0|vodpipe|Theora video decoder|decoder-video/x-theora".to_owned()];
        match missing_decoder(p, &theora) {
            e @ Error::MissingDecoder { element: "theoradec", package: "gstreamer1.0-plugins-base", .. } => {
                assert_eq!(e.cause(), crate::Cause::Machine);
                assert!(e.to_string().contains("Theora video decoder"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        let odd = ["gstreamer|1.0|vodpipe|Cinepak video decoder|decoder-video/x-cinepak".to_owned()];
        let e = missing_decoder(p, &odd);
        assert!(matches!(e, Error::NotMedia { .. }), "{e:?}");
        assert_eq!(e.cause(), crate::Cause::Upload);
        assert!(e.to_string().contains("no decoder for its Cinepak video decoder"), "{e}");
    }

    #[test]
    fn rates_are_reduced_and_sane() {
        assert_eq!(normalise_rate(60000, 2002), Some(FrameRate { num: 30000, den: 1001 }));
        assert_eq!(normalise_rate(0, 1), None);
        assert_eq!(normalise_rate(90000, 1), None);
    }
}
