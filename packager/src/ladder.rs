//! Ladder definitions: what the user asked for (`LadderFile`, from TOML) and the
//! validated form the pipeline runs (`Ladder` of `Rung`s).
//!
//! A ladder is validated when it is loaded, so a bad one fails before any
//! decoding starts. Which rungs run for a given source is decided later by
//! [`Ladder::rungs_for`], once the source's size and frame rate are known.

use std::path::Path;

use manifest::model::{FrameRate, VideoCodec};
use serde::Deserialize;

use crate::error::{Error, LadderProblem};

pub const DEFAULT_SEGMENT_DURATION: f64 = 4.0;
/// Chunks of a minute: a two-hour title is 120 units of work for a farm, and a chunk's fixed
/// cost (start, seek, encoder start) is small beside a minute of encoding.
pub const DEFAULT_CHUNK_SECONDS: f64 = 60.0;
pub const DEFAULT_AUDIO_BITRATE: u32 = 128_000;
/// 5.1 AAC-LC: 64 kb/s a channel, LFE aside, as streaming services commonly use.
pub const DEFAULT_SURROUND_BITRATE: u32 = 384_000;
pub const DEFAULT_AUDIO_SAMPLE_RATE: u32 = 48_000;
pub const DEFAULT_PRESET: &str = "veryfast";
/// Shortest and longest segment a ladder may ask for. Below 1 s the per-segment
/// overhead and keyframe cost dominate; above 20 s players buffer too much.
pub const MIN_SEGMENT_SECONDS: f64 = 1.0;
pub const MAX_SEGMENT_SECONDS: f64 = 20.0;
const MIN_HEIGHT: u32 = 120;
const MAX_HEIGHT: u32 = 4320;

/// A ladder file as written (TOML).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LadderFile {
    pub name: Option<String>,
    /// Target segment duration in seconds.
    pub segment_duration: Option<f64>,
    /// Single-threaded encoders: byte-identical output on every run (the x264
    /// and libvpx rate control is not deterministic across frame threads).
    /// Rungs still run in parallel with each other.
    pub deterministic: Option<bool>,
    /// Length in seconds of the chunks a title's video is encoded in (whole segments; 0
    /// turns chunking off). Default [`DEFAULT_CHUNK_SECONDS`].
    pub chunk_duration: Option<f64>,
    pub audio: Option<AudioFile>,
    #[serde(rename = "rung", default)]
    pub rungs: Vec<RungFile>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioFile {
    pub bitrate: Option<u32>,
    pub sample_rate: Option<u32>,
    /// Highest bitrate a copied source track may have; defaults to 1.5x `bitrate`.
    pub max_bitrate: Option<u32>,
    /// Repackage the source's audio instead of re-encoding it when it already is
    /// AAC-LC, stereo, at `sample_rate` and within `max_bitrate`.
    pub copy: Option<bool>,
    /// Bitrate of the 5.1 AAC rendition made beside the stereo one of every source stream
    /// with six channels or more; 0 makes none. Default [`DEFAULT_SURROUND_BITRATE`].
    pub surround_bitrate: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RungFile {
    pub codec: String,
    pub height: u32,
    /// Average bitrate, bits/s.
    pub bitrate: u32,
    /// Peak bitrate cap (VBV), bits/s; defaults to 1.5x the average.
    pub max_bitrate: Option<u32>,
    pub profile: Option<String>,
    /// Encoder speed preset: x264/x265 preset names; for vp9 and aom the `cpu-used`
    /// number as a string ("0".."9"); for svt-av1 its preset ("0".."13").
    pub preset: Option<String>,
    /// The encoder library: for av1 `svt-av1` (the default) or `aom` (libaom); every
    /// other codec has one ([`Encoder`]).
    pub encoder: Option<String>,
    /// B-frames between references (h264/h265 only).
    pub bframes: Option<u32>,
    /// Bits per sample of the encoded picture: 8 (the default) or 10. 10 only on rungs
    /// whose encoder takes it ([`Encoder::takes_10_bit`]: svt-av1).
    pub bit_depth: Option<u8>,
    /// Constant-quality mode (CRF 0..=51, h264/h265 only), capped at `max_bitrate`.
    pub quality: Option<u32>,
    /// Remux instead of encoding when the source already is this rung (h264/h265):
    /// same codec (8-bit 4:2:0 profile), same displayed size with square pixels, a
    /// bitrate within `max_bitrate` and a keyframe on every segment boundary. Otherwise
    /// the rung is encoded as usual.
    pub copy: Option<bool>,
}

/// A validated ladder.
#[derive(Debug, Clone, PartialEq)]
pub struct Ladder {
    pub name: String,
    pub segment_seconds: f64,
    pub deterministic: bool,
    /// See [`LadderFile::chunk_duration`].
    pub chunk_seconds: f64,
    pub audio: AudioRung,
    /// Highest first.
    pub rungs: Vec<Rung>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AudioRung {
    pub bitrate: u32,
    pub sample_rate: u32,
    pub max_bitrate: u32,
    pub copy: bool,
    /// See [`AudioFile::surround_bitrate`]; 0: no 5.1 rendition.
    pub surround_bitrate: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rung {
    pub codec: VideoCodec,
    pub height: u32,
    pub bitrate: u32,
    pub max_bitrate: u32,
    pub profile: String,
    pub preset: String,
    pub encoder: Encoder,
    pub bframes: u32,
    /// 8 or 10; see [`RungFile::bit_depth`].
    pub bit_depth: u8,
    pub quality: Option<u32>,
    pub copy: bool,
}

/// The encoder library a rung is made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoder {
    X264,
    X265,
    Libvpx,
    /// SVT-AV1, through the element built into vodpipe ([`crate::svtav1`]).
    SvtAv1,
    /// libaom, through GStreamer's `av1enc`.
    Aom,
}

impl Encoder {
    /// The encoders of `codec`, its default first.
    pub fn of(codec: VideoCodec) -> &'static [Encoder] {
        match codec {
            VideoCodec::H264 => &[Encoder::X264],
            VideoCodec::H265 => &[Encoder::X265],
            VideoCodec::Vp9 => &[Encoder::Libvpx],
            VideoCodec::Av1 => &[Encoder::SvtAv1, Encoder::Aom],
        }
    }

    /// Its name in a ladder file.
    pub fn name(self) -> &'static str {
        match self {
            Encoder::X264 => "x264",
            Encoder::X265 => "x265",
            Encoder::Libvpx => "libvpx",
            Encoder::SvtAv1 => "svt-av1",
            Encoder::Aom => "aom",
        }
    }

    /// The GStreamer element that runs it.
    pub fn element(self) -> &'static str {
        match self {
            Encoder::X264 => "x264enc",
            Encoder::X265 => "x265enc",
            Encoder::Libvpx => "vp9enc",
            Encoder::SvtAv1 => "vodpipesvtav1enc",
            Encoder::Aom => "av1enc",
        }
    }

    /// Whether it encodes 10-bit pictures here. SVT-AV1 takes them as they are; 10-bit
    /// H.265/VP9/H.264 would need their own profiles and CODECS strings, not built.
    pub fn takes_10_bit(self) -> bool {
        self == Encoder::SvtAv1
    }

    /// Whether `preset` is one of its speed presets.
    fn takes_preset(self, preset: &str) -> bool {
        match self {
            Encoder::X264 | Encoder::X265 => X26X_PRESETS.contains(&preset),
            Encoder::Libvpx | Encoder::Aom => preset.parse::<u8>().is_ok_and(|v| v <= 9),
            Encoder::SvtAv1 => preset.parse::<u8>().is_ok_and(|v| v <= 13),
        }
    }
}

impl Rung {
    /// Rendition id, folder name and DASH Representation@id.
    pub fn id(&self) -> String {
        format!("{}_{}p", codec_name(self.codec), self.height)
    }
}

pub fn codec_name(c: VideoCodec) -> &'static str {
    match c {
        VideoCodec::H264 => "h264",
        VideoCodec::H265 => "h265",
        VideoCodec::Vp9 => "vp9",
        VideoCodec::Av1 => "av1",
    }
}

fn parse_codec(s: &str) -> Option<VideoCodec> {
    Some(match s {
        "h264" | "avc" => VideoCodec::H264,
        "h265" | "hevc" => VideoCodec::H265,
        "vp9" => VideoCodec::Vp9,
        "av1" => VideoCodec::Av1,
        _ => return None,
    })
}

fn valid_profiles(c: VideoCodec) -> &'static [&'static str] {
    match c {
        VideoCodec::H264 => &["baseline", "constrained-baseline", "main", "high"],
        VideoCodec::H265 => &["main"],
        VideoCodec::Vp9 => &["0"],
        VideoCodec::Av1 => &["main"],
    }
}

fn default_profile(c: VideoCodec, height: u32) -> &'static str {
    match c {
        // Old phones and set-top boxes decode only Main at the bottom of the ladder.
        VideoCodec::H264 if height <= 360 => "main",
        VideoCodec::H264 => "high",
        VideoCodec::H265 | VideoCodec::Av1 => "main",
        VideoCodec::Vp9 => "0",
    }
}

fn default_preset(c: VideoCodec) -> &'static str {
    match c {
        VideoCodec::H264 | VideoCodec::H265 => DEFAULT_PRESET,
        // libvpx cpu-used: the slower values are far too slow for a farm.
        VideoCodec::Vp9 => "6",
        // SVT-AV1's preset 8 (libaom's cpu-used 8 where a rung picks aom): the speed a
        // farm can afford, as `ffmpeg -c:v libsvtav1 -preset 8`.
        VideoCodec::Av1 => "8",
    }
}

const X26X_PRESETS: &[&str] = &[
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
];

impl Ladder {
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::LadderRead {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text).map_err(|e| match e {
            Error::Ladder { problem, .. } => Error::Ladder { path: Some(path.to_owned()), problem },
            other => other,
        })
    }

    pub fn from_toml(text: &str) -> Result<Self, Error> {
        Self::from_toml_with(text, None)
    }

    /// [`Ladder::from_toml`], with a segment duration given elsewhere (a command line) over
    /// the file's.
    pub fn from_toml_with(text: &str, segment_duration: Option<f64>) -> Result<Self, Error> {
        let mut file: LadderFile = toml::from_str(text).map_err(|e| Error::Ladder {
            path: None,
            problem: LadderProblem::Syntax(e.message().to_owned()),
        })?;
        if segment_duration.is_some() {
            file.segment_duration = segment_duration;
        }
        Self::validate(file).map_err(|problem| Error::Ladder { path: None, problem })
    }

    pub fn validate(file: LadderFile) -> Result<Self, LadderProblem> {
        let segment_seconds = file.segment_duration.unwrap_or(DEFAULT_SEGMENT_DURATION);
        if !(MIN_SEGMENT_SECONDS..=MAX_SEGMENT_SECONDS).contains(&segment_seconds) {
            return Err(LadderProblem::SegmentDuration(segment_seconds));
        }
        let chunk_seconds = file.chunk_duration.unwrap_or(DEFAULT_CHUNK_SECONDS);
        if !(chunk_seconds == 0.0 || chunk_seconds >= segment_seconds) || !chunk_seconds.is_finite() {
            return Err(LadderProblem::ChunkDuration { chunk: chunk_seconds, segment: segment_seconds });
        }
        let a = file.audio.as_ref();
        let bitrate = a.and_then(|a| a.bitrate).unwrap_or(DEFAULT_AUDIO_BITRATE);
        let audio = AudioRung {
            bitrate,
            sample_rate: a.and_then(|a| a.sample_rate).unwrap_or(DEFAULT_AUDIO_SAMPLE_RATE),
            max_bitrate: a.and_then(|a| a.max_bitrate).unwrap_or(bitrate / 2 * 3),
            copy: a.and_then(|a| a.copy).unwrap_or(false),
            surround_bitrate: a.and_then(|a| a.surround_bitrate).unwrap_or(DEFAULT_SURROUND_BITRATE),
        };
        if audio.surround_bitrate != 0 && !(96_000..=640_000).contains(&audio.surround_bitrate) {
            return Err(LadderProblem::SurroundBitrate(audio.surround_bitrate));
        }
        if !(32_000..=320_000).contains(&audio.bitrate) {
            return Err(LadderProblem::AudioBitrate(audio.bitrate));
        }
        if audio.max_bitrate < audio.bitrate {
            return Err(LadderProblem::AudioMaxBelowAverage);
        }
        if ![44_100, 48_000].contains(&audio.sample_rate) {
            return Err(LadderProblem::AudioSampleRate(audio.sample_rate));
        }
        if file.rungs.is_empty() {
            return Err(LadderProblem::NoRungs);
        }
        let mut rungs = Vec::with_capacity(file.rungs.len());
        for (i, r) in file.rungs.iter().enumerate() {
            let n = i + 1;
            let codec = parse_codec(&r.codec)
                .ok_or_else(|| LadderProblem::UnknownCodec { rung: n, codec: r.codec.clone() })?;
            if r.height % 2 != 0 || !(MIN_HEIGHT..=MAX_HEIGHT).contains(&r.height) {
                return Err(LadderProblem::Height { rung: n, height: r.height });
            }
            if !(50_000..=100_000_000).contains(&r.bitrate) {
                return Err(LadderProblem::Bitrate { rung: n, bitrate: r.bitrate });
            }
            let max_bitrate = r.max_bitrate.unwrap_or(r.bitrate / 2 * 3);
            if max_bitrate < r.bitrate {
                return Err(LadderProblem::MaxBelowAverage { rung: n });
            }
            let profile = r.profile.clone().unwrap_or_else(|| default_profile(codec, r.height).into());
            if !valid_profiles(codec).contains(&profile.as_str()) {
                return Err(LadderProblem::Profile { rung: n, profile });
            }
            let encoders = Encoder::of(codec);
            let encoder = match &r.encoder {
                None => encoders[0],
                Some(name) => *encoders
                    .iter()
                    .find(|e| e.name() == name)
                    .ok_or_else(|| LadderProblem::Encoder { rung: n, encoder: name.clone() })?,
            };
            let preset = r.preset.clone().unwrap_or_else(|| default_preset(codec).into());
            if !encoder.takes_preset(&preset) {
                return Err(LadderProblem::Preset { rung: n, preset });
            }
            let bframes = r.bframes.unwrap_or(0);
            if bframes > 0 && !matches!(codec, VideoCodec::H264 | VideoCodec::H265) || bframes > 8 {
                return Err(LadderProblem::BFrames { rung: n });
            }
            if codec == VideoCodec::H264 && bframes > 0 && profile.ends_with("baseline") {
                return Err(LadderProblem::BFrames { rung: n });
            }
            if let Some(q) = r.quality
                && (q > 51 || !matches!(codec, VideoCodec::H264 | VideoCodec::H265))
            {
                return Err(LadderProblem::Quality { rung: n });
            }
            let copy = r.copy.unwrap_or(false);
            if copy && !matches!(codec, VideoCodec::H264 | VideoCodec::H265) {
                return Err(LadderProblem::Copy { rung: n });
            }
            let bit_depth = r.bit_depth.unwrap_or(8);
            if !(bit_depth == 8 || bit_depth == 10 && encoder.takes_10_bit() && !copy) {
                return Err(LadderProblem::BitDepth { rung: n, bit_depth, encoder: encoder.name() });
            }
            rungs.push(Rung {
                copy,
                codec,
                height: r.height,
                bitrate: r.bitrate,
                max_bitrate,
                profile,
                preset,
                encoder,
                bframes,
                bit_depth,
                quality: r.quality,
            });
        }
        rungs.sort_by(|a, b| b.height.cmp(&a.height).then(codec_name(a.codec).cmp(codec_name(b.codec))));
        for pair in rungs.windows(2) {
            let (hi, lo) = (&pair[0], &pair[1]);
            if hi.codec == lo.codec && hi.height == lo.height {
                return Err(LadderProblem::Duplicate(hi.id()));
            }
        }
        // Within one codec a taller rung must cost more bits, or the player's
        // bandwidth-based switching picks the wrong one.
        for codec in [VideoCodec::H264, VideoCodec::H265, VideoCodec::Vp9, VideoCodec::Av1] {
            let same: Vec<&Rung> = rungs.iter().filter(|r| r.codec == codec).collect();
            for pair in same.windows(2) {
                if pair[0].bitrate <= pair[1].bitrate {
                    return Err(LadderProblem::NotAscending { higher: pair[0].id(), lower: pair[1].id() });
                }
            }
        }
        Ok(Ladder {
            name: file.name.unwrap_or_else(|| "custom".into()),
            segment_seconds,
            deterministic: file.deterministic.unwrap_or(true),
            chunk_seconds,
            audio,
            rungs,
        })
    }

    /// The rungs that run for a source of this display size: never upscale. A source
    /// shorter than every rung (a QCIF phone clip, a 240p webcam under a 360p ladder) gets
    /// each codec's lowest rung at its own height (even), at that rung's bits per pixel, so
    /// it is published at the size it was made rather than refused.
    pub fn rungs_for(&self, source: &SourceGeometry) -> Result<Vec<SourceRung>, Error> {
        let fitting: Vec<Rung> = self.rungs.iter().filter(|r| r.height <= source.height).cloned().collect();
        let rungs = if fitting.is_empty() { self.shrunk_to(source.height & !1) } else { fitting };
        if rungs.is_empty() {
            return Err(Error::NoUsableRung {
                source_height: source.height,
                lowest: self.rungs.iter().map(|r| r.height).min().unwrap_or(0),
            });
        }
        Ok(rungs
            .into_iter()
            .map(|rung| SourceRung { width: even_width(rung.height, source.display_aspect()), rung, copy: false })
            .collect())
    }

    /// Each codec's lowest rung made `height` tall, its bitrates scaled by the pixel count
    /// (the rungs are kept in the ladder's order: tallest first, then by codec name).
    fn shrunk_to(&self, height: u32) -> Vec<Rung> {
        if height < MIN_SHRUNK_HEIGHT {
            return Vec::new();
        }
        let mut out: Vec<Rung> = Vec::new();
        for r in self.rungs.iter().rev() {
            if out.iter().any(|o| o.codec == r.codec) {
                continue;
            }
            let scale = |bits: u32| ((bits as f64) * (height as f64 / r.height as f64).powi(2)).round().max(MIN_SHRUNK_BITRATE as f64) as u32;
            out.push(Rung { height, bitrate: scale(r.bitrate), max_bitrate: scale(r.max_bitrate), copy: false, ..r.clone() });
        }
        out.sort_by(|a, b| codec_name(a.codec).cmp(codec_name(b.codec)));
        out
    }

    /// GOP length in frames and the exact segment duration it yields.
    pub fn gop(&self, fps: FrameRate) -> (u32, u64) {
        let frames = ((self.segment_seconds * fps.num as f64 / fps.den as f64).round() as u32).max(1);
        let ns = frames as u128 * 1_000_000_000u128 * fps.den as u128 / fps.num as u128;
        (frames, ns as u64)
    }
}

/// Picture geometry of a decoded source.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SourceGeometry {
    pub width: u32,
    pub height: u32,
    pub par_n: u32,
    pub par_d: u32,
}

impl SourceGeometry {
    pub fn display_aspect(&self) -> f64 {
        (self.width as f64 * self.par_n as f64) / (self.height as f64 * self.par_d.max(1) as f64)
    }
}

/// Shortest picture a rung is shrunk to for a source under every rung (the probe refuses
/// anything under 16 px).
const MIN_SHRUNK_HEIGHT: u32 = 16;
/// Floor of a shrunk rung's bitrate, bits/s: below it encoders' rate control misbehaves.
const MIN_SHRUNK_BITRATE: u32 = 50_000;

fn even_width(height: u32, dar: f64) -> u32 {
    even(height as f64 * dar)
}

/// `v` rounded to the nearest even number, at least 2 (a 4:2:0 picture's sides).
pub(crate) fn even(v: f64) -> u32 {
    ((v / 2.0).round() as u32 * 2).max(2)
}

#[derive(Debug, Clone, PartialEq)]
pub struct SourceRung {
    pub rung: Rung,
    pub width: u32,
    /// The source's own stream is packaged as this rung (see [`crate::copy`]).
    pub copy: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        segment_duration = 4.0
        [audio]
        bitrate = 128000
        [[rung]]
        codec = "h264"
        height = 360
        bitrate = 800000
        [[rung]]
        codec = "h264"
        height = 720
        bitrate = 3000000
        max_bitrate = 4500000
    "#;

    #[test]
    fn loads_and_sorts_highest_first() {
        let l = Ladder::from_toml(GOOD).unwrap();
        assert_eq!(l.rungs.iter().map(|r| r.height).collect::<Vec<_>>(), vec![720, 360]);
        assert_eq!(l.rungs[1].max_bitrate, 1_200_000);
        assert_eq!(l.rungs[1].profile, "main");
        assert_eq!(l.rungs[0].profile, "high");
    }

    fn problem(text: &str) -> LadderProblem {
        match Ladder::from_toml(text) {
            Err(Error::Ladder { problem, .. }) => problem,
            other => panic!("expected a ladder error, got {other:?}"),
        }
    }

    #[test]
    fn rejects_bad_ladders() {
        assert!(matches!(problem("[[rung]]\ncodec='h263'\nheight=360\nbitrate=1000000"), LadderProblem::UnknownCodec { .. }));
        assert!(matches!(problem("[[rung]]\ncodec='h264'\nheight=361\nbitrate=1000000"), LadderProblem::Height { .. }));
        assert!(matches!(problem("rung = []"), LadderProblem::NoRungs));
        assert!(matches!(problem("segment_duration = 0.2\n[[rung]]\ncodec='h264'\nheight=360\nbitrate=1000000"), LadderProblem::SegmentDuration(_)));
        assert!(matches!(
            problem("[[rung]]\ncodec='h264'\nheight=720\nbitrate=1000000\n[[rung]]\ncodec='h264'\nheight=360\nbitrate=2000000"),
            LadderProblem::NotAscending { .. }
        ));
        assert!(matches!(problem("[[rung]]\ncodec='h264'\nheight=360\nbitrate=1000000\nmax_bitrate=10"), LadderProblem::MaxBelowAverage { .. }));
        assert!(matches!(problem("[[rung]]\ncodec='vp9'\nheight=360\nbitrate=1000000\nbframes=2"), LadderProblem::BFrames { .. }));
        assert!(matches!(problem("[[rung]]\ncodec='h264'\nheight=360\nbitrate=1000000\nbogus=1"), LadderProblem::Syntax(_)));
        assert!(matches!(problem("[[rung]]\ncodec='vp9'\nheight=360\nbitrate=1000000\ncopy=true"), LadderProblem::Copy { .. }));
        assert!(matches!(problem("[[rung]]\ncodec='h265'\nheight=360\nbitrate=1000000\nbit_depth=10"), LadderProblem::BitDepth { .. }));
        assert!(matches!(
            problem("[[rung]]\ncodec='av1'\nencoder='aom'\nheight=360\nbitrate=1000000\nbit_depth=10"),
            LadderProblem::BitDepth { .. }
        ));
        assert!(matches!(problem("[[rung]]\ncodec='av1'\nheight=360\nbitrate=1000000\nbit_depth=12"), LadderProblem::BitDepth { .. }));
        let ten = Ladder::from_toml("[[rung]]\ncodec='av1'\nheight=360\nbitrate=1000000\nbit_depth=10").unwrap();
        assert_eq!(ten.rungs[0].bit_depth, 10);
        let copy = Ladder::from_toml("[[rung]]\ncodec='h265'\nheight=360\nbitrate=1000000\ncopy=true").unwrap();
        assert!(copy.rungs[0].copy);
    }

    #[test]
    fn plan_skips_upscaling_and_follows_display_aspect() {
        let l = Ladder::from_toml(GOOD).unwrap();
        // 720x480 anamorphic NTSC with 32:27 pixels is 16:9 on screen.
        let ntsc = SourceGeometry { width: 720, height: 480, par_n: 32, par_d: 27 };
        let p = l.rungs_for(&ntsc).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].width, p[0].rung.height), (640, 360));
        let four_three = SourceGeometry { width: 640, height: 480, par_n: 1, par_d: 1 };
        assert_eq!(l.rungs_for(&four_three).unwrap()[0].width, 480);
    }

    #[test]
    fn a_source_under_every_rung_gets_the_lowest_rung_at_its_own_size() {
        let l = Ladder::from_toml(GOOD).unwrap();
        // QCIF from an old phone: 176x144, under the 360p rung.
        let qcif = SourceGeometry { width: 176, height: 144, par_n: 1, par_d: 1 };
        let p = l.rungs_for(&qcif).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].width, p[0].rung.height, p[0].rung.id()), (176, 144, "h264_144p".to_string()));
        // 800 kb/s at 360p is 128 kb/s at 144p (the same bits per pixel); the cap likewise.
        assert_eq!((p[0].rung.bitrate, p[0].rung.max_bitrate), (128_000, 192_000));
        // An odd height is rounded down to even; each codec keeps one rung.
        let multi = Ladder::from_toml(&format!("{GOOD}\n[[rung]]\ncodec = \"vp9\"\nheight = 480\nbitrate = 900000\n")).unwrap();
        let p = multi.rungs_for(&SourceGeometry { width: 320, height: 239, par_n: 1, par_d: 1 }).unwrap();
        let ids: Vec<String> = p.iter().map(|r| r.rung.id()).collect();
        assert_eq!(ids, vec!["h264_238p", "vp9_238p"]);
        assert!(p.iter().all(|r| r.width == 318));
    }

    #[test]
    fn gop_keeps_ntsc_rates_exact() {
        let l = Ladder::from_toml(GOOD).unwrap();
        assert_eq!(l.gop(FrameRate { num: 30000, den: 1001 }), (120, 4_004_000_000));
        assert_eq!(l.gop(FrameRate { num: 25, den: 1 }), (100, 4_000_000_000));
    }

    #[test]
    fn av1_rungs_default_to_svt_av1_and_take_each_encoders_presets() {
        let rung = |extra: &str| format!("segment_duration = 4.0\n[[rung]]\ncodec = \"av1\"\nheight = 360\nbitrate = 500000\n{extra}");
        let svt = Ladder::from_toml(&rung("preset = \"13\"")).unwrap();
        assert_eq!((svt.rungs[0].encoder, svt.rungs[0].preset.as_str()), (Encoder::SvtAv1, "13"));
        let aom = Ladder::from_toml(&rung("encoder = \"aom\"\npreset = \"6\"")).unwrap();
        assert_eq!(aom.rungs[0].encoder, Encoder::Aom);
        let too_fast = Ladder::from_toml(&rung("encoder = \"aom\"\npreset = \"13\"")).unwrap_err().to_string();
        assert!(too_fast.contains("unknown preset \"13\""), "{too_fast}");
        let wrong = Ladder::from_toml(GOOD.replace("codec = \"h264\"", "codec = \"h264\"\nencoder = \"aom\"").as_str()).unwrap_err().to_string();
        assert!(wrong.contains("encoder \"aom\" does not make its codec"), "{wrong}");
        assert_eq!(Ladder::from_toml(GOOD).unwrap().rungs[0].encoder, Encoder::X264);
    }
}
