//! `vodpipesvtav1enc`: an AV1 encoder element on SVT-AV1 1.4.1 (Debian 12's
//! `libsvtav1enc1`; Debian's GStreamer 1.22 has no `svtav1enc`).
//!
//! Sink: `video/x-raw`, I420 (8-bit) or I420_10LE (10-bit, given to the library as
//! 16-bit samples). Source: `video/x-av1, stream-format=obu-stream, alignment=tu,
//! profile=main`, one temporal unit per buffer, a sequence header in every keyframe,
//! for `av1parse ! cmafmux`.
//!
//! Properties, read when the caps are set:
//! - `bitrate` (kbit/s, default 2000): VBR target (`rc=vbr`, `tbr`).
//! - `max-bitrate` (kbit/s, 0 = none, default 0): a soft peak cap, see below.
//! - `preset` (0..=13, default 10, the library's own default): speed against quality.
//! - `keyframe-interval` (frames, default 250): closed GOPs (`irefresh-type=2`) of
//!   exactly this length, no scene-cut keyframes (`scd=0`).
//! - `threads` (default 0 = all cores): the library's `lp`.
//!
//! Where 1.4.1 falls short, and what the element does:
//! - Forced keyframes (`force_key_frames` with `pic_type = EB_AV1_KEY_PICTURE`) are only
//!   accepted in CRF/CQP mode: with VBR, `svt_av1_enc_set_parameter` fails. A frame
//!   flagged force-keyframe (a force-key-unit event) that the GOP schedule already makes
//!   a keyframe needs nothing; for any other one the element ends the encoder (every
//!   picture sent so far is coded and pushed) and starts a new one on that frame, which
//!   is therefore a keyframe with a sequence header, and the GOP schedule restarts from
//!   it. A restart empties the encoder's pipeline and restarts its rate control: about
//!   0.5 s of wall time at 720p preset 8 on 2 cores, where a scheduled keyframe costs
//!   nothing. So `keyframe-interval` should match the forced keyframes' spacing.
//! - VBR has no peak-rate control: `mbr` is accepted but only read in capped-CRF mode,
//!   and the VBV buffer sizes are replaced by the library's own. `max-bitrate` sets
//!   `maxsection-pct` instead (the share of the average bits a group of pictures may
//!   take), which trims peaks somewhat and guarantees nothing.
//! - VBR output is the same run to run only with `threads=1`: with two, two runs differ
//!   (ffmpeg's libsvtav1 on the same library too; its CRF mode does not).
//! - A stream cannot be abandoned: ending an encoder codes what it holds first, so on a
//!   flush or stop that is done on a thread of its own.

mod ffi;
mod imp;
mod svt;

use gst::glib;
use gst::prelude::*;

glib::wrapper! {
    /// The `vodpipesvtav1enc` element.
    pub struct SvtAv1Enc(ObjectSubclass<imp::SvtAv1Enc>) @extends gst_video::VideoEncoder, gst::Element, gst::Object;
}

/// Registers `vodpipesvtav1enc` (rank none: only used when named) with `plugin`, or
/// statically when `None`, if the SVT-AV1 library loads (see [`ffi::load`]); without it
/// the element does not exist, which the start-up check reports for AV1 ladders. Call
/// after `gst::init`.
pub fn register(plugin: Option<&gst::Plugin>) -> Result<(), glib::BoolError> {
    if let Err(why) = ffi::load() {
        tracing::info!("no SVT-AV1 encoder for AV1 rungs: {why}");
        return Ok(());
    }
    gst::Element::register(plugin, "vodpipesvtav1enc", gst::Rank::NONE, SvtAv1Enc::static_type())
}
