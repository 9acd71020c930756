//! The event types packaging produces and manifests are rendered from.
//!
//! Times are integers in the track's own timescale (the `mdhd` timescale of the
//! init segment); they are turned into seconds only when text is rendered.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Error;

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
///
/// Displays as `30000/1001`, or as `30` when the denominator is 1 (both are the DASH
/// `FrameRateType` form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameRate {
    pub num: u32,
    pub den: u32,
}

/// A sha256 digest, rendered as lowercase hex (also in serde).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Digest(pub [u8; 32]);

impl FrameRate {
    pub const fn new(num: u32, den: u32) -> Self {
        FrameRate { num, den }
    }

    /// Frames per second; 0 when the denominator is 0.
    pub fn as_f64(self) -> f64 {
        if self.den == 0 {
            0.0
        } else {
            f64::from(self.num) / f64::from(self.den)
        }
    }

    /// One frame's duration in nanoseconds, rounded down; 0 when the rate is 0.
    pub fn frame_ns(self) -> u64 {
        if self.num == 0 { 0 } else { 1_000_000_000 * u64::from(self.den) / u64::from(self.num) }
    }
}

impl fmt::Display for FrameRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

impl FromStr for FrameRate {
    type Err = Error;

    /// Parses `30000/1001` or `30`.
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || Error::InvalidRatio {
            what: "frame rate",
            input: s.to_owned(),
        };
        let (num, den) = match s.split_once('/') {
            Some((n, d)) => (n, d),
            None => (s, "1"),
        };
        let num = parse_digits(num).ok_or_else(bad)?;
        let den = parse_digits(den).ok_or_else(bad)?;
        if den == 0 {
            return Err(bad());
        }
        Ok(FrameRate { num, den })
    }
}

/// Only ASCII digits: `u32::from_str` would also take a leading `+`.
fn parse_digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl Sha256Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Sha256Digest(Sha256::digest(bytes).into())
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Sha256Digest {
    type Err = Error;

    /// Parses 64 hex digits (either case).
    fn from_str(s: &str) -> Result<Self, Error> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(Error::InvalidDigest)?;
        Ok(Sha256Digest(out))
    }
}

impl Serialize for Sha256Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Sha256Digest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Everything known about a track when its media starts (`on_media_start`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// What an audio rendition is for (DASH `Role`, HLS `CHARACTERISTICS`); the
    /// programme's own sound unless a job says otherwise.
    #[serde(default, skip_serializing_if = "AudioRole::is_main")]
    pub role: AudioRole,
    /// EXT-X-STREAM-INF VIDEO-RANGE (video only): `None` for SDR, which is the default
    /// there and left unwritten.
    pub video_range: Option<VideoRange>,
}

/// What an audio rendition carries beside (or instead of) the programme's sound, as a
/// job states it: players offer commentary and audio description apart from the
/// languages, and pick description for viewers who asked for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AudioRole {
    /// The programme's sound, in some language.
    #[default]
    Main,
    /// Talk over the programme (a director's commentary).
    Commentary,
    /// The programme's sound with a narration of what is seen, for blind and partially
    /// sighted viewers.
    Description,
}

impl AudioRole {
    pub fn is_main(&self) -> bool {
        *self == AudioRole::Main
    }

    /// The word a job and the catalog use.
    pub fn as_str(self) -> &'static str {
        match self {
            AudioRole::Main => "main",
            AudioRole::Commentary => "commentary",
            AudioRole::Description => "description",
        }
    }
}

impl std::str::FromStr for AudioRole {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "main" => Ok(AudioRole::Main),
            "commentary" => Ok(AudioRole::Commentary),
            "description" => Ok(AudioRole::Description),
            other => Err(format!("{other:?} is not an audio role (main, commentary, description)")),
        }
    }
}

/// The transfer a video rendition is coded with, as HLS names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VideoRange {
    /// SMPTE ST 2084 (HDR10).
    Pq,
    /// ARIB STD-B67 (hybrid log-gamma).
    Hlg,
}

impl VideoRange {
    /// The EXT-X-STREAM-INF VIDEO-RANGE value.
    pub fn as_hls(self) -> &'static str {
        match self {
            VideoRange::Pq => "PQ",
            VideoRange::Hlg => "HLG",
        }
    }

    /// The transfer characteristics code point of ITU-T H.273 (CICP), which DASH signals
    /// with `urn:mpeg:mpegB:cicp:TransferCharacteristics`.
    pub fn cicp_transfer(self) -> u8 {
        match self {
            VideoRange::Pq => 16,
            VideoRange::Hlg => 18,
        }
    }
}

/// One stored chunk: an init segment (index 0) or a media segment (`on_new_segment`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// Video segments: bytes from the segment's first byte through the end of its first
    /// frame (a key frame), the byte range of its entry in the rendition's HLS I-frame
    /// playlist. `None` for audio, init segments, and fragments whose data offsets the
    /// fragment alone does not resolve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_frame_bytes: Option<u64>,
}

/// A finished rendition: its track, init segment and media segments in order (`on_media_end`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// Sidecar subtitle renditions (see `crate::subtitles`), in the order given.
    pub subtitles: Vec<crate::subtitles::SubtitleTrack>,
}

/// `ceil(num / den)` without overflow for the sizes and durations media has.
fn div_ceil_u128(num: u128, den: u128) -> u64 {
    u64::try_from(num.div_ceil(den)).unwrap_or(u64::MAX)
}

/// Bits per second needed to fetch `bytes` within `ticks` of a `timescale` clock, rounded up.
fn bits_per_second(bytes: u64, ticks: u64, timescale: u32) -> u64 {
    if ticks == 0 {
        return 0;
    }
    div_ceil_u128(
        u128::from(bytes) * 8 * u128::from(timescale),
        u128::from(ticks),
    )
}

impl Rendition {
    /// Sum of the media segments' durations, in the track's timescale.
    pub fn duration(&self) -> u64 {
        self.segments.iter().map(|s| s.duration).sum()
    }

    /// [`Self::duration`] in seconds (0 for a zero timescale).
    pub fn duration_seconds(&self) -> f64 {
        if self.track.timescale == 0 {
            return 0.0;
        }
        self.duration() as f64 / f64::from(self.track.timescale)
    }

    /// Total bits of the media segments over their total duration, rounded up to whole bits/s
    /// (EXT-X-STREAM-INF AVERAGE-BANDWIDTH). The init segment is not counted: it is fetched once.
    pub fn average_bandwidth(&self) -> u64 {
        let bytes = self.segments.iter().map(|s| s.size).sum();
        bits_per_second(bytes, self.duration(), self.track.timescale)
    }

    /// The highest bit rate of any single media segment (size * 8 / duration), rounded up to
    /// whole bits/s (EXT-X-STREAM-INF BANDWIDTH, DASH `Representation@bandwidth`).
    pub fn peak_bandwidth(&self) -> u64 {
        self.segments
            .iter()
            .map(|s| bits_per_second(s.size, s.duration, self.track.timescale))
            .max()
            .unwrap_or(0)
    }
}

impl Presentation {
    /// Duration of the longest rendition, in seconds.
    pub fn duration_seconds(&self) -> f64 {
        self.renditions
            .iter()
            .map(Rendition::duration_seconds)
            .fold(0.0, f64::max)
    }

    /// Duration of the longest rendition in whole milliseconds, rounded to nearest (DASH
    /// `MPD@mediaPresentationDuration`). Computed from integer ticks, not from a float.
    pub fn duration_millis(&self) -> u64 {
        self.renditions
            .iter()
            .filter(|r| r.track.timescale != 0)
            .map(|r| {
                let ts = u128::from(r.track.timescale);
                let ms = (u128::from(r.duration()) * 1000 * 2 + ts) / (2 * ts);
                u64::try_from(ms).unwrap_or(u64::MAX)
            })
            .max()
            .unwrap_or(0)
    }

    /// Renditions of one kind, in presentation order.
    pub fn renditions_of(&self, kind: TrackKind) -> impl Iterator<Item = &Rendition> {
        self.renditions.iter().filter(move |r| r.track.kind == kind)
    }

    /// Checks the naming the manifests' URL templates rely on: `<id>/init.mp4` for the init
    /// segment, media segments numbered 1, 2, 3... and stored at `<id>/seg-NNNNN.m4s`, and a
    /// non-zero timescale.
    pub fn validate(&self) -> Result<(), Error> {
        for r in &self.renditions {
            r.validate()?;
        }
        Ok(())
    }
}

impl Rendition {
    /// See [`Presentation::validate`].
    pub fn validate(&self) -> Result<(), Error> {
        let id = &self.track.id;
        if self.track.timescale == 0 {
            return Err(Error::InvalidTrack {
                rendition: id.clone(),
                reason: "timescale is 0",
            });
        }
        let init_uri = init_uri(id);
        if self.init.uri != init_uri {
            return Err(Error::SegmentUri {
                rendition: id.clone(),
                index: self.init.index,
                uri: self.init.uri.clone(),
                expected: init_uri,
            });
        }
        for (position, seg) in self.segments.iter().enumerate() {
            let expected = u32::try_from(position + 1).unwrap_or(u32::MAX);
            if seg.index != expected {
                return Err(Error::SegmentNumbering {
                    rendition: id.clone(),
                    position,
                    index: seg.index,
                    expected,
                });
            }
            let uri = media_segment_uri(id, seg.index);
            if seg.uri != uri {
                return Err(Error::SegmentUri {
                    rendition: id.clone(),
                    index: seg.index,
                    uri: seg.uri.clone(),
                    expected: uri,
                });
            }
        }
        Ok(())
    }
}

/// Where rendition `id` stores its init segment, relative to the title root.
pub fn init_uri(id: &str) -> String {
    format!("{id}/init.mp4")
}

/// Where rendition `id` stores media segment `index` (1-based), relative to the title root:
/// the DASH template `$RepresentationID$/seg-$Number%05d$.m4s`.
pub fn media_segment_uri(id: &str, index: u32) -> String {
    format!("{id}/seg-{index:05}.m4s")
}

/// Where rendition `id`'s HLS media playlist lives, relative to the title root.
pub fn media_playlist_uri(id: &str) -> String {
    format!("{id}/playlist.m3u8")
}

/// Where video rendition `id`'s HLS I-frame playlist (trick play) lives, relative to the
/// title root.
pub fn iframe_playlist_uri(id: &str) -> String {
    format!("{id}/iframes.m3u8")
}

/// Tiles across a trick-play sprite sheet; sheets fill row by row, and only the last one
/// of a title may hold fewer tiles (it is then cropped to them).
pub const SPRITE_COLUMNS: u32 = 10;
/// Rows of tiles in a full sprite sheet.
pub const SPRITE_ROWS: u32 = 10;

/// A trick-play sprite sheet's file name (in `thumbs/`), numbered from 1; the thumbnail
/// index's cues name sheets this way, relative to itself.
pub fn sprite_file_name(number: u32) -> String {
    format!("sprite-{number:03}.jpg")
}

/// Where sprite sheet `number` lives, relative to the title root.
pub fn sprite_uri(number: u32) -> String {
    format!("thumbs/{}", sprite_file_name(number))
}

/// [`sprite_uri`] as a DASH `SegmentTemplate@media`.
pub const SPRITE_TEMPLATE: &str = "thumbs/sprite-$Number%03d$.jpg";

/// The title's poster image, relative to the title root.
pub const POSTER_URI: &str = "thumbs/poster.jpg";
/// The WebVTT index of the sprite sheets' tiles, relative to the title root.
pub const THUMBNAIL_INDEX_URI: &str = "thumbs/thumbs.vtt";

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(index: u32, start: u64, duration: u64, size: u64) -> Segment {
        Segment {
            index,
            start,
            duration,
            size,
            sha256: Sha256Digest([index as u8; 32]),
            uri: media_segment_uri("v", index),
            key_frame_bytes: None,
        }
    }

    fn rendition(timescale: u32, segments: Vec<Segment>) -> Rendition {
        Rendition {
            track: TrackInfo {
                id: "v".into(),
                kind: TrackKind::Video,
                video_codec: Some(VideoCodec::H264),
                codecs: "avc1.64001F".into(),
                timescale,
                width: Some(1280),
                height: Some(720),
                frame_rate: Some(FrameRate::new(30000, 1001)),
                channels: None,
                sample_rate: None,
                language: None,
                role: Default::default(),
                video_range: None,
            },
            init: Segment {
                index: 0,
                start: 0,
                duration: 0,
                size: 900,
                sha256: Sha256Digest([0; 32]),
                uri: init_uri("v"),
                key_frame_bytes: None,
            },
            segments,
        }
    }

    #[test]
    fn digest_text_forms() {
        let d = Sha256Digest::of(b"abc");
        let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(d.to_string(), hex);
        assert_eq!(format!("{d:?}"), hex);
        assert_eq!(hex.parse::<Sha256Digest>().unwrap(), d);
        assert_eq!(hex.to_uppercase().parse::<Sha256Digest>().unwrap(), d);
        assert!(matches!(
            hex[..62].parse::<Sha256Digest>(),
            Err(Error::InvalidDigest(_))
        ));
        assert!("zz".repeat(32).parse::<Sha256Digest>().is_err());
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, format!("\"{hex}\""));
        assert_eq!(serde_json::from_str::<Sha256Digest>(&json).unwrap(), d);
        assert!(serde_json::from_str::<Sha256Digest>("\"00\"").is_err());
    }

    #[test]
    fn frame_rate_text_forms() {
        let ntsc = FrameRate::new(30000, 1001);
        assert_eq!(ntsc.to_string(), "30000/1001");
        assert_eq!(FrameRate::new(30, 1).to_string(), "30");
        assert!((ntsc.as_f64() - 29.970_029_97).abs() < 1e-8);
        assert_eq!(FrameRate::new(1, 0).as_f64(), 0.0);
        assert_eq!("30000/1001".parse::<FrameRate>().unwrap(), ntsc);
        assert_eq!("25".parse::<FrameRate>().unwrap(), FrameRate::new(25, 1));
        for bad in ["", "30/0", "+30", "30/", "/1", "a/b", "30.0"] {
            assert!(bad.parse::<FrameRate>().is_err(), "{bad}");
        }
    }

    #[test]
    fn bandwidths_round_up() {
        // 2 s of 500_000 bytes = 2_000_000 bit/s exactly; 1.5 s of 100_001 bytes = 533_338.67.
        let r = rendition(
            90000,
            vec![
                seg(1, 0, 180_000, 500_000),
                seg(2, 180_000, 135_000, 100_001),
            ],
        );
        assert_eq!(r.duration(), 315_000);
        assert_eq!(r.peak_bandwidth(), 2_000_000);
        // 600_001 bytes * 8 / 3.5 s = 1_371_430.857...
        assert_eq!(r.average_bandwidth(), 1_371_431);
        assert!((r.duration_seconds() - 3.5).abs() < 1e-12);
        let empty = rendition(90000, vec![]);
        assert_eq!((empty.average_bandwidth(), empty.peak_bandwidth()), (0, 0));
        let zero = rendition(90000, vec![seg(1, 0, 0, 10)]);
        assert_eq!(zero.peak_bandwidth(), 0);
    }

    #[test]
    fn presentation_duration_is_the_longest_rendition() {
        let p = Presentation {
            video_id: "t".into(),
            renditions: vec![
                rendition(30000, vec![seg(1, 0, 300_300, 1)]),
                rendition(48000, vec![seg(1, 0, 480_256, 1)]),
            ],
            subtitles: Vec::new(),
        };
        assert!((p.duration_seconds() - 10.01).abs() < 1e-9);
        assert_eq!(p.duration_millis(), 10_010);
    }

    #[test]
    fn validation_names_the_offending_segment() {
        let mut r = rendition(30000, vec![seg(1, 0, 1, 1), seg(2, 1, 1, 1)]);
        assert!(r.validate().is_ok());
        r.segments[1].uri = "v/seg-2.m4s".into();
        assert!(matches!(
            r.validate(),
            Err(Error::SegmentUri { index: 2, .. })
        ));
        r.segments[1] = seg(3, 1, 1, 1);
        assert!(matches!(
            r.validate(),
            Err(Error::SegmentNumbering {
                position: 1,
                index: 3,
                expected: 2,
                ..
            })
        ));
        let mut r = rendition(30000, vec![]);
        r.init.uri = "v/init.m4s".into();
        assert!(matches!(
            r.validate(),
            Err(Error::SegmentUri { index: 0, .. })
        ));
        r.init.uri = init_uri("v");
        r.track.timescale = 0;
        assert!(matches!(r.validate(), Err(Error::InvalidTrack { .. })));
    }
}
