//! The catalog: the versioned JSON document (and event) that describes a published title.
//!
//! [`build`] assembles it from the [`Presentation`] and what the packager learnt about the
//! source and thumbnails; [`Catalog::to_json_pretty`] renders it. Its shape is described by
//! `manifest/schema/catalog.v2.schema.json` (JSON Schema 2020-12); any change to the shape
//! needs a new [`SCHEMA`] version.
//!
//! URIs inside are relative to [`Catalog::base_uri`] except `source.uri`. Times are given both
//! as integer ticks of the rendition's timescale (exact) and as seconds rounded to six
//! decimals (convenient).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::{
    AudioRole, FrameRate, Presentation, Rendition, Sha256Digest, TrackKind, iframe_playlist_uri, media_playlist_uri,
};
use crate::{Error, Result};

/// The `schema` value of documents of this shape (`manifest/schema/catalog.v2.schema.json`).
/// v2 added each video rendition's `iframe_playlist` and the `subtitles`; a v1 document
/// (`catalog.v1.schema.json`, still there for consumers of older titles) reads as v2
/// without either.
pub const SCHEMA: &str = "vodpipe.catalog/v2";
/// The HLS master playlist's URI relative to the title root.
pub const HLS_MASTER: &str = "master.m3u8";
/// The DASH MPD's URI relative to the title root.
pub const DASH_MPD: &str = "manifest.mpd";
/// The catalog document's key, beside the manifests.
pub const CATALOG_JSON: &str = "catalog.json";

/// What the packager found out about the source file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceInfo {
    /// Where the source was read from (absolute, e.g. `file:///…` or `s3://…`).
    pub uri: String,
    /// Container format as the demuxer named it, e.g. `Quicktime`.
    pub container: String,
    /// Video codec as the decoder named it, e.g. `H.264 (High Profile)`.
    pub video_codec: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_codec: Option<String>,
    pub duration_ns: u64,
    pub width: u32,
    pub height: u32,
    /// Display aspect ratio in lowest terms, written `16:9`.
    #[serde(with = "aspect_ratio_text")]
    pub display_aspect_ratio: (u32, u32),
    /// Written `30000/1001` (or `30`).
    #[serde(with = "frame_rate_text")]
    pub frame_rate: FrameRate,
    pub size_bytes: u64,
    pub sha256: Sha256Digest,
}

/// A stored image (relative URI, pixel size, byte size, digest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    pub uri: String,
    pub width: u32,
    pub height: u32,
    pub size: u64,
    pub sha256: Sha256Digest,
}

/// The poster and the trick-play sprite sheets with their WebVTT index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thumbnails {
    pub poster: Image,
    pub sprites: Vec<Image>,
    /// WebVTT file mapping time ranges to sprite tiles (`sheet.jpg#xywh=…`).
    pub index_vtt_uri: String,
    /// Time between two tiles.
    pub interval_ms: u64,
    pub tile_width: u32,
    pub tile_height: u32,
}

/// The catalog document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// Always [`SCHEMA`].
    pub schema: String,
    pub video_id: String,
    /// When the title was published (RFC 3339, passed in by the caller).
    pub published_at: String,
    /// Name and version of the program that packaged the title.
    pub generator: String,
    /// Where the relative URIs of this document resolve, e.g. `s3://bucket/<id>/`.
    pub base_uri: String,
    pub source: CatalogSource,
    /// The longest rendition, in seconds (6 decimals).
    pub duration_seconds: f64,
    /// See [`video_fingerprint`].
    pub fingerprint: Sha256Digest,
    pub manifests: Manifests,
    pub renditions: Vec<CatalogRendition>,
    pub thumbnails: Thumbnails,
    /// Subtitle renditions (WebVTT), in the order the job gave them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subtitles: Vec<CatalogSubtitles>,
    /// The parts the title was made in (see `crate::chunk`): which segments each made, and
    /// which worker. Empty when the caller does not say.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<crate::chunk::PartRecord>,
}

/// [`SourceInfo`] plus its duration in seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogSource {
    pub uri: String,
    pub container: String,
    pub video_codec: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_codec: Option<String>,
    pub duration_ns: u64,
    /// `duration_ns` in seconds (6 decimals).
    pub duration_seconds: f64,
    pub width: u32,
    pub height: u32,
    #[serde(with = "aspect_ratio_text")]
    pub display_aspect_ratio: (u32, u32),
    #[serde(with = "frame_rate_text")]
    pub frame_rate: FrameRate,
    pub size_bytes: u64,
    pub sha256: Sha256Digest,
}

/// Manifest URIs, relative to the base URI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifests {
    pub hls: String,
    pub dash: String,
}

/// One rendition with every stored chunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogRendition {
    pub id: String,
    pub kind: TrackKind,
    /// Codec family: `h264`, `h265`, `vp9`, `av1` for video; `aac`, `opus`, `ac-3`, `ec-3`,
    /// `flac` (or the codecs string's first field) for audio.
    pub codec: String,
    /// RFC 6381 codec string.
    pub codecs: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "frame_rate_opt_text"
    )]
    pub frame_rate: Option<FrameRate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_rate: Option<u32>,
    /// BCP 47 language tag, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// An audio rendition's purpose when it is not the programme's sound: `commentary` or
    /// `description`.
    #[serde(default, skip_serializing_if = "AudioRole::is_main")]
    pub role: AudioRole,
    /// The audio rendition a player starts with (HLS `DEFAULT=YES`, DASH Role `main`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default: bool,
    /// Bits per second over the whole rendition (rounded up).
    pub average_bandwidth: u64,
    /// Bits per second of the most demanding segment (rounded up).
    pub peak_bandwidth: u64,
    /// The rendition's HLS media playlist.
    pub playlist: String,
    /// A video rendition's HLS I-frame playlist (trick play; byte ranges into its chunks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iframe_playlist: Option<String>,
    /// Ticks per second of every `start` and `duration` below.
    pub timescale: u32,
    /// Sum of the chunk durations, in seconds (6 decimals).
    pub duration_seconds: f64,
    pub init: InitChunk,
    pub chunks: Vec<Chunk>,
}

/// A subtitle rendition: its HLS playlist and WebVTT segments (on the video's segments),
/// and the whole file DASH names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogSubtitles {
    pub id: String,
    /// BCP 47 language tag, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    pub playlist: String,
    /// Ticks per second of every `start` and `duration` below.
    pub timescale: u32,
    pub whole: InitChunk,
    pub chunks: Vec<Chunk>,
}

/// The init segment of a rendition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitChunk {
    pub uri: String,
    pub size: u64,
    pub sha256: Sha256Digest,
}

/// One media segment of a rendition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chunk {
    /// 1-based, as in the file name and DASH `$Number$`.
    pub index: u32,
    /// Earliest presentation time, in timescale ticks.
    pub start: u64,
    /// In timescale ticks.
    pub duration: u64,
    pub start_seconds: f64,
    pub duration_seconds: f64,
    pub size: u64,
    pub sha256: Sha256Digest,
    pub uri: String,
}

impl Catalog {
    /// Pretty-printed JSON with a final newline.
    pub fn to_json_pretty(&self) -> String {
        let mut s = serde_json::to_string_pretty(self)
            .expect("catalog fields are all plain strings and numbers");
        s.push('\n');
        s
    }

    /// Reads a document back; unknown fields are an error.
    pub fn from_json(json: &str) -> Result<Catalog> {
        serde_json::from_str(json).map_err(Error::CatalogJson)
    }

    /// The chunk of rendition `rendition_id` that holds time `seconds`, e.g. to resume
    /// playback at a last-watched position.
    ///
    /// A time before the first chunk's start maps to the first chunk. A time within a
    /// microsecond of a chunk boundary counts as the boundary, so a chunk's own
    /// `start_seconds` (rounded to 6 decimals) maps to that chunk. `None` if there is no such
    /// rendition, `seconds` is negative or not a number, or it is at or after the end.
    pub fn chunk_at(&self, rendition_id: &str, seconds: f64) -> Option<&Chunk> {
        let r = self.renditions.iter().find(|r| r.id == rendition_id)?;
        if seconds.is_nan() || seconds < 0.0 {
            return None;
        }
        // Compare in ticks, the exact unit; seconds * timescale is a float that can land a
        // hair below the boundary it means (4.004 * 30000 = 120119.99999999999).
        let exact = seconds * f64::from(r.timescale);
        let nearest = exact.round();
        let tick = if (exact - nearest).abs() <= 1e-6 * f64::from(r.timescale) {
            nearest
        } else {
            exact.floor()
        };
        if tick >= u64::MAX as f64 {
            return None;
        }
        let tick = tick as u64;
        let after = r.chunks.partition_point(|c| c.start <= tick);
        match after {
            0 => r.chunks.first(),
            n => {
                let c = &r.chunks[n - 1];
                (tick < c.start + c.duration).then_some(c)
            }
        }
    }
}

/// A digest that identifies the packaged media: sha256 over, in presentation order, each
/// rendition's id and the digests of its chunks (init segment first, then media segments in
/// order).
///
/// The hashed bytes are: the ASCII text `vodpipe.video_fingerprint/v1` and a newline; then for
/// each rendition the id's byte length as a big-endian u32, the id in UTF-8, the number of
/// chunks as a big-endian u32, and each chunk's 32 digest bytes. Every variable-length part is
/// length-prefixed, so no two presentations share a byte string.
pub fn video_fingerprint(p: &Presentation) -> Sha256Digest {
    fingerprint_of(p.renditions.iter().map(|r| (r.track.id.as_str(), r.init.sha256, r.segments.iter().map(|s| s.sha256))))
}

/// [`video_fingerprint`] over each rendition's id, init segment digest and media segment
/// digests (in order), wherever they come from (a presentation, or a stored catalog being
/// verified).
pub fn fingerprint_of<'a, S>(renditions: impl Iterator<Item = (&'a str, Sha256Digest, S)>) -> Sha256Digest
where
    S: ExactSizeIterator<Item = Sha256Digest>,
{
    let mut h = Sha256::new();
    h.update(b"vodpipe.video_fingerprint/v1\n");
    for (id, init, segments) in renditions {
        let id = id.as_bytes();
        h.update(u32::try_from(id.len()).unwrap_or(u32::MAX).to_be_bytes());
        h.update(id);
        let chunks = 1 + segments.len();
        h.update(u32::try_from(chunks).unwrap_or(u32::MAX).to_be_bytes());
        h.update(init.0);
        for s in segments {
            h.update(s.0);
        }
    }
    Sha256Digest(h.finalize().into())
}

/// Assembles the catalog. Nothing here reads a clock: `published_at` and `generator` are
/// written as given, as is `base_uri` (end it with `/` so relative URIs resolve inside it).
pub fn build(
    p: &Presentation,
    source: &SourceInfo,
    thumbs: &Thumbnails,
    base_uri: &str,
    published_at: &str,
    generator: &str,
) -> Catalog {
    Catalog {
        schema: SCHEMA.to_owned(),
        video_id: p.video_id.clone(),
        published_at: published_at.to_owned(),
        generator: generator.to_owned(),
        base_uri: base_uri.to_owned(),
        source: CatalogSource {
            uri: source.uri.clone(),
            container: source.container.clone(),
            video_codec: source.video_codec.clone(),
            audio_codec: source.audio_codec.clone(),
            duration_ns: source.duration_ns,
            duration_seconds: seconds(source.duration_ns, 1_000_000_000),
            width: source.width,
            height: source.height,
            display_aspect_ratio: source.display_aspect_ratio,
            frame_rate: source.frame_rate,
            size_bytes: source.size_bytes,
            sha256: source.sha256,
        },
        duration_seconds: p
            .renditions
            .iter()
            .map(|r| seconds(r.duration(), r.track.timescale))
            .fold(0.0, f64::max),
        fingerprint: video_fingerprint(p),
        manifests: Manifests {
            hls: HLS_MASTER.to_owned(),
            dash: DASH_MPD.to_owned(),
        },
        renditions: p.renditions.iter().map(|r| rendition(r, p)).collect(),
        thumbnails: thumbs.clone(),
        subtitles: p.subtitles.iter().map(subtitle_rendition).collect(),
        parts: Vec::new(),
    }
}

fn rendition(r: &Rendition, p: &Presentation) -> CatalogRendition {
    let t = &r.track;
    let default = t.kind == TrackKind::Audio && p.renditions_of(TrackKind::Audio).next().is_some_and(|first| first.track.id == t.id);
    CatalogRendition {
        id: t.id.clone(),
        kind: t.kind,
        codec: codec_family(r),
        codecs: t.codecs.clone(),
        width: t.width,
        height: t.height,
        frame_rate: t.frame_rate,
        channels: t.channels,
        sample_rate: t.sample_rate,
        language: t.language.clone(),
        role: t.role,
        default,
        average_bandwidth: r.average_bandwidth(),
        peak_bandwidth: r.peak_bandwidth(),
        playlist: media_playlist_uri(&t.id),
        iframe_playlist: crate::hls::iframe_playlist(r).map(|_| iframe_playlist_uri(&t.id)),
        timescale: t.timescale,
        duration_seconds: seconds(r.duration(), t.timescale),
        init: InitChunk {
            uri: r.init.uri.clone(),
            size: r.init.size,
            sha256: r.init.sha256,
        },
        chunks: r.segments.iter().map(|s| chunk(s, t.timescale)).collect(),
    }
}

fn chunk(s: &crate::model::Segment, timescale: u32) -> Chunk {
    Chunk {
        index: s.index,
        start: s.start,
        duration: s.duration,
        start_seconds: seconds(s.start, timescale),
        duration_seconds: seconds(s.duration, timescale),
        size: s.size,
        sha256: s.sha256,
        uri: s.uri.clone(),
    }
}

fn subtitle_rendition(t: &crate::subtitles::SubtitleTrack) -> CatalogSubtitles {
    CatalogSubtitles {
        id: t.id.clone(),
        language: t.language.clone(),
        playlist: media_playlist_uri(&t.id),
        timescale: t.timescale,
        whole: InitChunk { uri: t.whole.uri.clone(), size: t.whole.size, sha256: t.whole.sha256 },
        chunks: t.segments.iter().map(|s| chunk(s, t.timescale)).collect(),
    }
}

fn codec_family(r: &Rendition) -> String {
    use crate::model::VideoCodec;
    if let Some(v) = r.track.video_codec {
        return match v {
            VideoCodec::H264 => "h264",
            VideoCodec::H265 => "h265",
            VideoCodec::Vp9 => "vp9",
            VideoCodec::Av1 => "av1",
        }
        .to_owned();
    }
    let first = r.track.codecs.split('.').next().unwrap_or_default();
    match first {
        "mp4a" => "aac".to_owned(),
        other => other.to_ascii_lowercase(),
    }
}

/// `ticks / timescale` rounded to 6 decimals, computed on integers so the printed value is
/// the exact decimal (the nearest f64 to it prints as that decimal).
fn seconds(ticks: u64, timescale: u32) -> f64 {
    let ts = u128::from(timescale.max(1));
    let micros = (2 * u128::from(ticks) * 1_000_000 + ts) / (2 * ts);
    micros as f64 / 1e6
}

mod frame_rate_text {
    use super::FrameRate;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(f: &FrameRate, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(f)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<FrameRate, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

mod frame_rate_opt_text {
    use super::FrameRate;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(f: &Option<FrameRate>, s: S) -> Result<S::Ok, S::Error> {
        match f {
            Some(f) => s.collect_str(f),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<FrameRate>, D::Error> {
        let text = <Option<std::borrow::Cow<'de, str>>>::deserialize(d)?;
        text.map(|t| t.parse().map_err(serde::de::Error::custom))
            .transpose()
    }
}

mod aspect_ratio_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::Error;

    pub fn serialize<S: Serializer>(r: &(u32, u32), s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{}:{}", r.0, r.1))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<(u32, u32), D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let bad = || {
            serde::de::Error::custom(Error::InvalidRatio {
                what: "aspect ratio",
                input: text.to_string(),
            })
        };
        let (w, h) = text.split_once(':').ok_or_else(bad)?;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(w) || !digits(h) {
            return Err(bad());
        }
        Ok((w.parse().map_err(|_| bad())?, h.parse().map_err(|_| bad())?))
    }
}
