//! The event types packaging produces and manifests are rendered from.
//!
//! Times are integers in the track's own timescale (the `mdhd` timescale of the
//! init segment); they are turned into seconds only when text is rendered.

use serde::{Deserialize, Serialize};

/// What kind of media a track carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrackKind {
    Video,
    Audio,
}

/// Video codec family of a rendition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VideoCodec {
    H264,
    H265,
    Vp9,
    Av1,
}

/// A rational frame rate, e.g. 30000/1001.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameRate {
    pub num: u32,
    pub den: u32,
}

/// A sha256 digest, rendered as lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Digest(pub [u8; 32]);

/// Everything known about a track when its media starts (`on_media_start`).
#[derive(Debug, Clone, PartialEq)]
pub struct TrackInfo {
    /// Rendition id, also its folder name and DASH `Representation@id`, e.g. `h264_720p`.
    pub id: String,
    pub kind: TrackKind,
    /// Codec family for video tracks (DASH AdaptationSet grouping); `None` for audio.
    pub video_codec: Option<VideoCodec>,
    /// RFC 6381 codec string derived from the bitstream (`CODECS` / `@codecs`).
    pub codecs: String,
    /// The `mdhd` timescale all segment times of this track are expressed in.
    pub timescale: u32,
    /// EXT-X-STREAM-INF RESOLUTION / `@width` (video only).
    pub width: Option<u32>,
    /// EXT-X-STREAM-INF RESOLUTION / `@height` (video only).
    pub height: Option<u32>,
    /// EXT-X-STREAM-INF FRAME-RATE / `@frameRate` (video only).
    pub frame_rate: Option<FrameRate>,
    /// `AudioChannelConfiguration` / EXT-X-MEDIA CHANNELS (audio only).
    pub channels: Option<u32>,
    /// `@audioSamplingRate` (audio only).
    pub sample_rate: Option<u32>,
    /// EXT-X-MEDIA LANGUAGE / `AdaptationSet@lang` (audio), BCP 47, when known.
    pub language: Option<String>,
}

/// One stored chunk: an init segment (index 0) or a media segment (`on_new_segment`).
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// 1-based for media segments (DASH `$Number$`, startNumber = 1); 0 for the init segment.
    pub index: u32,
    /// Earliest presentation time in the track's timescale (DASH `S@t`).
    pub start: u64,
    /// Duration in the track's timescale (`EXTINF`, DASH `S@d`).
    pub duration: u64,
    /// Size in bytes.
    pub size: u64,
    pub sha256: Sha256Digest,
    /// Path relative to the title root, e.g. `h264_720p/seg-00001.m4s`.
    pub uri: String,
}

/// A finished rendition: its track, init segment and media segments in order (`on_media_end`).
#[derive(Debug, Clone, PartialEq)]
pub struct Rendition {
    pub track: TrackInfo,
    pub init: Segment,
    pub segments: Vec<Segment>,
}

/// A whole packaged title: what the manifests and the catalog event describe.
#[derive(Debug, Clone, PartialEq)]
pub struct Presentation {
    pub video_id: String,
    /// Video renditions in ladder order (highest first), then audio.
    pub renditions: Vec<Rendition>,
}
