//! Per-codec encoder, parser and muxer settings for one ladder rung.
//!
//! Every rung gets the same GOP length in frames with scene-cut keyframes off,
//! plus forced keyframes at the GOP boundaries (see `pipeline`), so keyframes
//! fall at the same presentation times in every rendition.

use gst::prelude::*;
use manifest::model::VideoCodec;

use crate::error::Error;
use crate::ladder::{Encoder, Rung};

pub(crate) fn make(factory: &'static str) -> Result<gst::Element, Error> {
    gst::ElementFactory::make(factory).build().map_err(|_| Error::MissingElement { factory })
}

/// Sets a property from its string form, so enum and integer types of the
/// various plugins need not be matched by hand; an unknown property is a bug.
pub(crate) fn set(e: &gst::Element, name: &str, value: &str) {
    e.set_property_from_str(name, value);
}

pub(crate) struct EncodeChain {
    pub encoder: gst::Element,
    pub parser: gst::Element,
    /// Encoded caps the parser must output (profile, stream format).
    pub caps: gst::Caps,
    pub muxer: gst::Element,
}

/// Parser and output caps of a copy rung: the source's stream in the sample format
/// `cmafmux` takes (length-prefixed NAL units, parameter sets in the init segment).
pub(crate) fn copy_parser(codec: VideoCodec) -> Result<(gst::Element, gst::Caps), Error> {
    Ok(match codec {
        VideoCodec::H264 => (
            make("h264parse")?,
            gst::Caps::builder("video/x-h264").field("stream-format", "avc").field("alignment", "au").build(),
        ),
        VideoCodec::H265 => (
            make("h265parse")?,
            gst::Caps::builder("video/x-h265").field("stream-format", "hvc1").field("alignment", "au").build(),
        ),
        other => return Err(Error::Setup(format!("{other:?} cannot be copied"))),
    })
}

/// What an encoder is asked for, worked out once from the rung.
struct Target<'a> {
    rung: &'a Rung,
    /// The rung's average and peak rates in kbit/s (what x264, x265 and the AV1
    /// encoders take), the peak never below the average.
    kbps: u32,
    max_kbps: u32,
    /// Frames from keyframe to keyframe (the segment's length).
    gop_frames: u32,
    deterministic: bool,
}

impl<'a> Target<'a> {
    fn new(rung: &'a Rung, gop_frames: u32, deterministic: bool) -> Self {
        let kbps = (rung.bitrate / 1000).max(1);
        Target { rung, kbps, max_kbps: (rung.max_bitrate / 1000).max(kbps), gop_frames, deterministic }
    }

    fn encoder(&self) -> Result<gst::Element, Error> {
        make(self.rung.encoder.element())
    }
}

fn x264(t: &Target) -> Result<gst::Element, Error> {
    let enc = t.encoder()?;
    set(&enc, "speed-preset", &t.rung.preset);
    set(&enc, "key-int-max", &t.gop_frames.to_string());
    set(&enc, "bframes", &t.rung.bframes.to_string());
    set(&enc, "b-adapt", "false");
    set(&enc, "threads", if t.deterministic { "1" } else { "0" });
    // x264enc always sets the VBV maxrate to its `bitrate` property
    // (its option-string cannot override that), so: quality mode is
    // capped CRF with the cap as `bitrate`; bitrate mode is ABR whose
    // VBV buffer holds two seconds at the rung's peak rate.
    let buffer_ms = match t.rung.quality {
        Some(q) => {
            set(&enc, "pass", "qual");
            set(&enc, "quantizer", &q.to_string());
            set(&enc, "bitrate", &t.max_kbps.to_string());
            2000
        }
        None => {
            set(&enc, "pass", "cbr");
            set(&enc, "bitrate", &t.kbps.to_string());
            2000 * t.max_kbps / t.kbps
        }
    };
    set(&enc, "vbv-buf-capacity", &buffer_ms.min(10_000).to_string());
    set(&enc, "option-string", "scenecut=0:open-gop=0");
    Ok(enc)
}

fn x265(t: &Target) -> Result<gst::Element, Error> {
    let enc = t.encoder()?;
    let n = t.gop_frames;
    set(&enc, "speed-preset", &t.rung.preset);
    set(&enc, "bitrate", &t.kbps.to_string());
    set(&enc, "key-int-max", &n.to_string());
    // x265enc applies option-string after its properties, so the VBV
    // cap and CRF can be set here.
    let mut opts = format!(
        "scenecut=0:min-keyint={n}:open-gop=0:bframes={}:vbv-maxrate={}:vbv-bufsize={}:repeat-headers=0",
        t.rung.bframes,
        t.max_kbps,
        t.max_kbps * 2
    );
    if let Some(q) = t.rung.quality {
        opts.push_str(&format!(":crf={q}"));
    }
    if t.deterministic {
        opts.push_str(":frame-threads=1:pools=1");
    }
    set(&enc, "option-string", &opts);
    Ok(enc)
}

fn libvpx(t: &Target) -> Result<gst::Element, Error> {
    let enc = t.encoder()?;
    set(&enc, "target-bitrate", &t.rung.bitrate.to_string());
    set(&enc, "end-usage", "vbr");
    set(&enc, "cpu-used", &t.rung.preset);
    // "good" deadline mode: the realtime mode trades compression for latency we do not need.
    set(&enc, "deadline", "1000000");
    set(&enc, "keyframe-mode", "disabled");
    set(&enc, "keyframe-max-dist", &t.gop_frames.to_string());
    set(&enc, "row-mt", "true");
    set(&enc, "threads", if t.deterministic { "1" } else { "4" });
    Ok(enc)
}

/// SVT-AV1 (the element built in, [`crate::svtav1`]): its keyframe schedule is the
/// segment's, so the keyframes forced on the boundaries are the ones it makes anyway (a
/// keyframe off its schedule restarts the encoder). Its VBR output is the same run to
/// run only on one thread.
fn svt_av1(t: &Target) -> Result<gst::Element, Error> {
    let enc = t.encoder()?;
    enc.set_property("bitrate", t.kbps);
    enc.set_property("max-bitrate", t.max_kbps);
    set(&enc, "preset", &t.rung.preset);
    enc.set_property("keyframe-interval", t.gop_frames);
    enc.set_property("threads", if t.deterministic { 1u32 } else { 0 });
    Ok(enc)
}

/// libaom through GStreamer's `av1enc`.
fn aom(t: &Target) -> Result<gst::Element, Error> {
    let enc = t.encoder()?;
    set(&enc, "target-bitrate", &t.kbps.to_string());
    set(&enc, "end-usage", "vbr");
    // av1enc in 1.22 defaults both quantizer bounds to 0, which pins
    // q at lossless and ignores the target bitrate (10x over).
    set(&enc, "min-quantizer", "0");
    set(&enc, "max-quantizer", "63");
    set(&enc, "cpu-used", &t.rung.preset);
    set(&enc, "keyframe-mode", "disabled");
    set(&enc, "keyframe-max-dist", &t.gop_frames.to_string());
    set(&enc, "row-mt", "true");
    set(&enc, "threads", if t.deterministic { "1" } else { "4" });
    Ok(enc)
}

pub(crate) fn encode_chain(rung: &Rung, gop_frames: u32, deterministic: bool) -> Result<EncodeChain, Error> {
    let target = Target::new(rung, gop_frames, deterministic);
    let encoder = match rung.encoder {
        Encoder::X264 => x264(&target)?,
        Encoder::X265 => x265(&target)?,
        Encoder::Libvpx => libvpx(&target)?,
        Encoder::SvtAv1 => svt_av1(&target)?,
        Encoder::Aom => aom(&target)?,
    };
    let (parser, caps) = match rung.codec {
        VideoCodec::H264 => (
            make("h264parse")?,
            gst::Caps::builder("video/x-h264")
                .field("profile", rung.profile.as_str())
                .field("stream-format", "avc")
                .field("alignment", "au")
                .build(),
        ),
        VideoCodec::H265 => (
            make("h265parse")?,
            gst::Caps::builder("video/x-h265")
                .field("profile", rung.profile.as_str())
                .field("stream-format", "hvc1")
                .field("alignment", "au")
                .build(),
        ),
        VideoCodec::Vp9 => (make("vp9parse")?, gst::Caps::builder("video/x-vp9").build()),
        VideoCodec::Av1 => (
            make("av1parse")?,
            gst::Caps::builder("video/x-av1").field("stream-format", "obu-stream").field("alignment", "tu").build(),
        ),
    };
    // cmafmux takes H.264/H.265/AV1 but not VP9; isofmp4mux writes the same
    // fragmented layout (one moof+mdat per segment) with a vpcC sample entry.
    let muxer = match rung.codec {
        VideoCodec::Vp9 => make("isofmp4mux")?,
        _ => make("cmafmux")?,
    };
    Ok(EncodeChain { encoder, parser, caps, muxer })
}
