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

/// SVT-AV1 (the element built in, [`crate::svtav1`]): its keyframe schedule is the
/// segment's, so the keyframes forced on the boundaries are the ones it makes anyway (a
/// keyframe off its schedule restarts the encoder). Its VBR output is the same run to
/// run only on one thread.
fn svt_av1(rung: &Rung, gop_frames: u32, deterministic: bool) -> Result<gst::Element, Error> {
    let enc = make(Encoder::SvtAv1.element())?;
    enc.set_property("bitrate", (rung.bitrate / 1000).max(1));
    enc.set_property("max-bitrate", rung.max_bitrate / 1000);
    set(&enc, "preset", &rung.preset);
    enc.set_property("keyframe-interval", gop_frames);
    enc.set_property("threads", if deterministic { 1u32 } else { 0 });
    Ok(enc)
}

/// libaom through GStreamer's `av1enc`.
fn aom(rung: &Rung, gop_frames: &str, deterministic: bool) -> Result<gst::Element, Error> {
    let enc = make(Encoder::Aom.element())?;
    set(&enc, "target-bitrate", &(rung.bitrate / 1000).max(1).to_string());
    set(&enc, "end-usage", "vbr");
    // av1enc in 1.22 defaults both quantizer bounds to 0, which pins
    // q at lossless and ignores the target bitrate (10x over).
    set(&enc, "min-quantizer", "0");
    set(&enc, "max-quantizer", "63");
    set(&enc, "cpu-used", &rung.preset);
    set(&enc, "keyframe-mode", "disabled");
    set(&enc, "keyframe-max-dist", gop_frames);
    set(&enc, "row-mt", "true");
    set(&enc, "threads", if deterministic { "1" } else { "4" });
    Ok(enc)
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

pub(crate) fn encode_chain(rung: &Rung, gop_frames: u32, deterministic: bool) -> Result<EncodeChain, Error> {
    let kbps = (rung.bitrate / 1000).max(1);
    let max_kbps = (rung.max_bitrate / 1000).max(kbps);
    let n = gop_frames.to_string();
    let threads = if deterministic { "1" } else { "0" };
    let (encoder, parser, caps) = match rung.codec {
        VideoCodec::H264 => {
            let enc = make("x264enc")?;
            set(&enc, "speed-preset", &rung.preset);
            set(&enc, "key-int-max", &n);
            set(&enc, "bframes", &rung.bframes.to_string());
            set(&enc, "b-adapt", "false");
            set(&enc, "threads", threads);
            // x264enc always sets the VBV maxrate to its `bitrate` property
            // (its option-string cannot override that), so: quality mode is
            // capped CRF with the cap as `bitrate`; bitrate mode is ABR whose
            // VBV buffer holds two seconds at the rung's peak rate.
            let buffer_ms = match rung.quality {
                Some(q) => {
                    set(&enc, "pass", "qual");
                    set(&enc, "quantizer", &q.to_string());
                    set(&enc, "bitrate", &max_kbps.to_string());
                    2000
                }
                None => {
                    set(&enc, "pass", "cbr");
                    set(&enc, "bitrate", &kbps.to_string());
                    2000 * max_kbps / kbps
                }
            };
            set(&enc, "vbv-buf-capacity", &buffer_ms.min(10_000).to_string());
            set(&enc, "option-string", "scenecut=0:open-gop=0");
            let caps = gst::Caps::builder("video/x-h264")
                .field("profile", rung.profile.as_str())
                .field("stream-format", "avc")
                .field("alignment", "au")
                .build();
            (enc, make("h264parse")?, caps)
        }
        VideoCodec::H265 => {
            let enc = make("x265enc")?;
            set(&enc, "speed-preset", &rung.preset);
            set(&enc, "bitrate", &kbps.to_string());
            set(&enc, "key-int-max", &n);
            // x265enc applies option-string after its properties, so the VBV
            // cap and CRF can be set here.
            let mut opts = format!(
                "scenecut=0:min-keyint={n}:open-gop=0:bframes={}:vbv-maxrate={max_kbps}:vbv-bufsize={}:repeat-headers=0",
                rung.bframes,
                max_kbps * 2
            );
            if let Some(q) = rung.quality {
                opts.push_str(&format!(":crf={q}"));
            }
            if deterministic {
                opts.push_str(":frame-threads=1:pools=1");
            }
            set(&enc, "option-string", &opts);
            let caps = gst::Caps::builder("video/x-h265")
                .field("profile", rung.profile.as_str())
                .field("stream-format", "hvc1")
                .field("alignment", "au")
                .build();
            (enc, make("h265parse")?, caps)
        }
        VideoCodec::Vp9 => {
            let enc = make("vp9enc")?;
            set(&enc, "target-bitrate", &rung.bitrate.to_string());
            set(&enc, "end-usage", "vbr");
            set(&enc, "cpu-used", &rung.preset);
            // "good" deadline mode: the realtime mode trades compression for latency we do not need.
            set(&enc, "deadline", "1000000");
            set(&enc, "keyframe-mode", "disabled");
            set(&enc, "keyframe-max-dist", &n);
            set(&enc, "row-mt", "true");
            set(&enc, "threads", if deterministic { "1" } else { "4" });
            let caps = gst::Caps::builder("video/x-vp9").build();
            (enc, make("vp9parse")?, caps)
        }
        VideoCodec::Av1 => {
            let enc = match rung.encoder {
                Encoder::Aom => aom(rung, &n, deterministic)?,
                _ => svt_av1(rung, gop_frames, deterministic)?,
            };
            let caps = gst::Caps::builder("video/x-av1")
                .field("stream-format", "obu-stream")
                .field("alignment", "tu")
                .build();
            (enc, make("av1parse")?, caps)
        }
    };
    // cmafmux takes H.264/H.265/AV1 but not VP9; isofmp4mux writes the same
    // fragmented layout (one moof+mdat per segment) with a vpcC sample entry.
    let muxer = match rung.codec {
        VideoCodec::Vp9 => make("isofmp4mux")?,
        _ => make("cmafmux")?,
    };
    Ok(EncodeChain { encoder, parser, caps, muxer })
}
