//! The element's implementation: properties, caps, and the `GstVideoEncoder` virtual
//! methods on top of [`svt::Encoder`](super::svt::Encoder).

use std::sync::{LazyLock, Mutex, MutexGuard};

use gst::glib;
use gst::subclass::prelude::*;
use gst_video::VideoCodecFrameFlags;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;

use super::svt;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "vodpipesvtav1enc",
        gst::DebugColorFlags::empty(),
        Some("SVT-AV1 encoder"),
    )
});

const DEFAULT_BITRATE: u32 = 2000;
const DEFAULT_MAX_BITRATE: u32 = 0;
const DEFAULT_PRESET: u32 = 10;
const DEFAULT_KEYFRAME_INTERVAL: u32 = 250;
const DEFAULT_THREADS: u32 = 0;

/// Mini-GOP of 2^4 pictures: 1.4.1's default hierarchy in VBR mode, set explicitly
/// because the latency below depends on it.
const HIERARCHICAL_LEVELS: u32 = 4;
/// Pictures of lookahead. Left alone, 1.4.1 picks 41 with one thread and 58 with more;
/// pinned to the latter (the mini-GOP being coded plus two more, and the temporal
/// filter's delay) so that the latency does not depend on `threads`.
const LOOKAHEAD: u32 = 58;
/// Pictures held before the packet of the first of them comes out, as reported latency:
/// the lookahead plus the mini-GOP being coded plus one. Measured on 2 cores at 720p: at
/// most 59 pictures inside the encoder from a live 25 fps source (with one thread or
/// two); fed as fast as it takes them, up to 71 (its input buffer pool).
const LATENCY_FRAMES: u64 = (LOOKAHEAD + (1 << HIERARCHICAL_LEVELS) + 1) as u64;

#[derive(Debug, Clone, Copy)]
struct Settings {
    bitrate: u32,
    max_bitrate: u32,
    preset: u32,
    keyframe_interval: u32,
    threads: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bitrate: DEFAULT_BITRATE,
            max_bitrate: DEFAULT_MAX_BITRATE,
            preset: DEFAULT_PRESET,
            keyframe_interval: DEFAULT_KEYFRAME_INTERVAL,
            threads: DEFAULT_THREADS,
        }
    }
}

/// The stream being encoded, from `set_format` on.
struct Stream {
    info: gst_video::VideoInfo,
    bit_depth: u32,
    /// What every encoder of this stream is created with (see `svt_params`).
    params: Vec<(&'static str, String)>,
    keyframe_interval: u32,
    /// Created at the first picture, and again after a drain (EOS, caps change, a
    /// forced keyframe off the schedule).
    encoder: Option<svt::Encoder>,
    /// Pictures the current encoder takes before the next one it makes a keyframe of by
    /// itself: 0 means the next picture will be one.
    until_key: u32,
}

#[derive(Default)]
pub struct SvtAv1Enc {
    settings: Mutex<Settings>,
    stream: Mutex<Option<Stream>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The encoder's configuration, as `svt_av1_enc_parse_parameter` names and values.
fn svt_params(
    s: &Settings,
    info: &gst_video::VideoInfo,
    bit_depth: u32,
    fps: (u32, u32),
) -> Vec<(&'static str, String)> {
    let mut params = vec![
        ("width", info.width().to_string()),
        ("height", info.height().to_string()),
        ("fps-num", fps.0.to_string()),
        ("fps-denom", fps.1.to_string()),
        ("input-depth", bit_depth.to_string()),
        ("profile", "main".into()),
        ("preset", s.preset.to_string()),
        ("rc", "vbr".into()),
        // A bare number is kbit/s.
        ("tbr", s.bitrate.to_string()),
        // In frames; the library stores one less as its intra period.
        ("keyint", s.keyframe_interval.to_string()),
        // Closed GOPs: every keyframe is a KEY_FRAME that resets all references.
        ("irefresh-type", "2".into()),
        // Keyframes only where the schedule (or a forced keyframe) puts them.
        ("scd", "0".into()),
        ("hierarchical-levels", HIERARCHICAL_LEVELS.to_string()),
        ("lookahead", LOOKAHEAD.to_string()),
        ("lp", s.threads.to_string()),
    ];
    if s.max_bitrate > 0 {
        // 1.4.1's VBR accepts `mbr` but only capped CRF reads it, and it replaces the VBV
        // buffer sizes with its own. What VBR does read is `maxsection-pct`: the most bits
        // a group of pictures (and the rate control's view of a frame's complexity) gets,
        // as a percentage of the average. It trims peaks a little; it is no hard cap.
        let pct = (u64::from(s.max_bitrate) * 100)
            .div_ceil(u64::from(s.bitrate))
            .clamp(100, 10_000);
        params.push(("maxsection-pct", pct.to_string()));
    }
    // Colour description in the sequence header; the library writes none while all three
    // are "unspecified" (2). Matrix 0 (identity, i.e. RGB) is only valid for 4:4:4.
    let colorimetry = info.colorimetry();
    let primaries = colorimetry.primaries().to_iso();
    let transfer = colorimetry.transfer().to_iso();
    let matrix = colorimetry.matrix().to_iso();
    if primaries != 2 || transfer != 2 || (matrix != 2 && matrix != 0) {
        params.push(("color-primaries", primaries.to_string()));
        params.push(("transfer-characteristics", transfer.to_string()));
        params.push(("matrix-coefficients", if matrix == 0 { 2 } else { matrix }.to_string()));
    }
    if colorimetry.range() == gst_video::VideoColorRange::Range0_255 {
        params.push(("color-range", "1".into()));
    }
    // AV1 can only say "left" (MPEG-2 style: co-sited horizontally) or "top-left"
    // (co-sited both ways); anything else stays "unknown".
    let site = info.chroma_site();
    if site == gst_video::VideoChromaSite::MPEG2 {
        params.push(("chroma-sample-position", "vertical".into()));
    } else if site == gst_video::VideoChromaSite::COSITED {
        params.push(("chroma-sample-position", "colocated".into()));
    }
    params
}

/// Ends an encoder whose output is not wanted (flush, stop). 1.4.1 cannot abort: ending
/// an instance codes every picture it holds first, which takes seconds at slow presets
/// (about 8 s at 1080p preset 4 on 2 cores), so it is done on a thread of its own
/// rather than holding up a seek or a state change.
fn discard(encoder: svt::Encoder) {
    // When no thread can be made, the closure is dropped, and the encoder with it, here.
    if let Err(err) = std::thread::Builder::new()
        .name("svtav1-discard".into())
        .spawn(move || drop(encoder))
    {
        gst::warning!(CAT, "no thread to end an encoder on ({err}): ended it here");
    }
}

impl SvtAv1Enc {
    /// Posts an element error for a failed library call.
    fn fail(&self, err: svt::Error) -> gst::FlowError {
        gst::element_imp_error!(
            self,
            gst::LibraryError::Encode,
            ("SVT-AV1: {}", err),
            ["library {}", svt::version()]
        );
        gst::FlowError::Error
    }

    /// Finishes the frame a packet shows.
    fn push(&self, packet: svt::Packet) -> Result<gst::FlowSuccess, gst::FlowError> {
        let obj = self.obj();
        let Some(mut frame) = i32::try_from(packet.pts).ok().and_then(|n| obj.frame(n)) else {
            gst::warning!(CAT, imp = self, "a packet for frame {} that is not pending", packet.pts);
            return Ok(gst::FlowSuccess::Ok);
        };
        if packet.keyframe {
            frame.set_flags(VideoCodecFrameFlags::SYNC_POINT);
        } else {
            frame.unset_flags(VideoCodecFrameFlags::SYNC_POINT);
        }
        frame.set_output_buffer(gst::Buffer::from_mut_slice(packet.data));
        obj.finish_frame(frame)
    }

    /// Ends an encoder and finishes every frame still inside it.
    fn drain(&self, mut encoder: svt::Encoder) -> Result<gst::FlowSuccess, gst::FlowError> {
        encoder.send_eos().map_err(|e| self.fail(e))?;
        while let Some(packet) = encoder.next_packet().map_err(|e| self.fail(e))? {
            self.push(packet)?;
        }
        Ok(gst::FlowSuccess::Ok)
    }
}

#[glib::object_subclass]
impl ObjectSubclass for SvtAv1Enc {
    const NAME: &'static str = "VodpipeSvtAv1Enc";
    type Type = super::SvtAv1Enc;
    type ParentType = gst_video::VideoEncoder;
}

impl ObjectImpl for SvtAv1Enc {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecUInt::builder("bitrate")
                    .nick("Bitrate")
                    .blurb("Target bitrate in kbit/s (VBR)")
                    .minimum(1)
                    .maximum(100_000)
                    .default_value(DEFAULT_BITRATE)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("max-bitrate")
                    .nick("Maximum bitrate")
                    .blurb(
                        "Peak bitrate in kbit/s, 0 for none. A soft cap: SVT-AV1 1.4.1 has no VBV in VBR \
                         mode, this limits the bits given to each group of pictures (maxsection-pct)",
                    )
                    .maximum(100_000)
                    .default_value(DEFAULT_MAX_BITRATE)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("preset")
                    .nick("Preset")
                    .blurb("Speed/quality trade-off: 0 is the slowest and best, 13 the fastest")
                    .maximum(13)
                    .default_value(DEFAULT_PRESET)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("keyframe-interval")
                    .nick("Keyframe interval")
                    .blurb("Frames from one keyframe to the next (closed GOPs, no scene-cut keyframes)")
                    .minimum(1)
                    .maximum(1 << 30)
                    .default_value(DEFAULT_KEYFRAME_INTERVAL)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("threads")
                    .nick("Threads")
                    .blurb(
                        "Logical processors the encoder uses (SVT-AV1's lp), 0 for all. Only 1 gives \
                         the same output run to run (SVT-AV1 1.4.1's VBR is not deterministic on more)",
                    )
                    .maximum(1024)
                    .default_value(DEFAULT_THREADS)
                    .mutable_ready()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut settings = lock(&self.settings);
        let v = value.get::<u32>().expect("type checked by GObject");
        match pspec.name() {
            "bitrate" => settings.bitrate = v,
            "max-bitrate" => settings.max_bitrate = v,
            "preset" => settings.preset = v,
            "keyframe-interval" => settings.keyframe_interval = v,
            "threads" => settings.threads = v,
            other => unreachable!("no property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let settings = lock(&self.settings);
        match pspec.name() {
            "bitrate" => settings.bitrate.to_value(),
            "max-bitrate" => settings.max_bitrate.to_value(),
            "preset" => settings.preset.to_value(),
            "keyframe-interval" => settings.keyframe_interval.to_value(),
            "threads" => settings.threads.to_value(),
            other => unreachable!("no property {other}"),
        }
    }
}

impl GstObjectImpl for SvtAv1Enc {}

impl ElementImpl for SvtAv1Enc {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "SVT-AV1 encoder",
                "Codec/Encoder/Video",
                "Encodes raw video to AV1 with SVT-AV1 (VBR, closed GOPs, forced keyframes)",
                "vodpipe",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            // The library's limits: 64x64 up to 16384x8704, at most 240 frames/s.
            let sink_caps = gst_video::VideoCapsBuilder::new()
                .format_list([gst_video::VideoFormat::I420, gst_video::VideoFormat::I42010le])
                .width_range(64..=16384)
                .height_range(64..=8704)
                .framerate_range(gst::Fraction::new(0, 1)..=gst::Fraction::new(240, 1))
                .build();
            let src_caps = gst::Caps::builder("video/x-av1")
                .field("stream-format", "obu-stream")
                .field("alignment", "tu")
                .field("profile", "main")
                .build();
            vec![
                gst::PadTemplate::new("sink", gst::PadDirection::Sink, gst::PadPresence::Always, &sink_caps)
                    .expect("valid sink template"),
                gst::PadTemplate::new("src", gst::PadDirection::Src, gst::PadPresence::Always, &src_caps)
                    .expect("valid src template"),
            ]
        });
        TEMPLATES.as_ref()
    }
}

impl VideoEncoderImpl for SvtAv1Enc {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        gst::debug!(CAT, imp = self, "SVT-AV1 {}", svt::version());
        *lock(&self.stream) = None;
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        if let Some(encoder) = lock(&self.stream).take().and_then(|s| s.encoder) {
            discard(encoder);
        }
        Ok(())
    }

    fn set_format(
        &self,
        state: &gst_video::VideoCodecState<'static, gst_video::video_codec_state::Readable>,
    ) -> Result<(), gst::LoggableError> {
        let info = state.info().clone();
        let bit_depth = match info.format() {
            gst_video::VideoFormat::I420 => 8,
            gst_video::VideoFormat::I42010le => 10,
            other => return Err(gst::loggable_error!(CAT, "unsupported format {other:?}")),
        };
        if !info.width().is_multiple_of(2) || !info.height().is_multiple_of(2) {
            gst::element_imp_error!(
                self,
                gst::StreamError::Format,
                (
                    "SVT-AV1 needs an even width and height, not {}x{}",
                    info.width(),
                    info.height()
                )
            );
            return Err(gst::loggable_error!(CAT, "odd picture size"));
        }
        let fps = match (u32::try_from(info.fps().numer()), u32::try_from(info.fps().denom())) {
            (Ok(n), Ok(d)) if n > 0 && d > 0 => (n, d),
            _ => {
                // The rate control spreads the bitrate over frames, so it needs a rate.
                gst::warning!(CAT, imp = self, "no frame rate in the caps, encoding as 25/1");
                (25, 1)
            }
        };
        let settings = *lock(&self.settings);
        let params = svt_params(&settings, &info, bit_depth, fps);
        gst::debug!(CAT, imp = self, "SVT-AV1 parameters: {params:?}");

        let mut stream = lock(&self.stream);
        // Pictures already sent were encoded with the previous format: finish them first.
        if let Some(encoder) = stream.take().and_then(|s| s.encoder) {
            self.drain(encoder)
                .map_err(|e| gst::loggable_error!(CAT, "draining before a format change: {e:?}"))?;
        }

        let caps = gst::Caps::builder("video/x-av1")
            .field("stream-format", "obu-stream")
            .field("alignment", "tu")
            .field("profile", "main")
            .build();
        let obj = self.obj();
        let output = obj
            .set_output_state(caps, Some(state))
            .map_err(|_| gst::loggable_error!(CAT, "cannot set the output caps"))?;
        obj.negotiate(output)
            .map_err(|_| gst::loggable_error!(CAT, "cannot negotiate the output caps"))?;

        let latency = gst::ClockTime::SECOND
            .mul_div_ceil(LATENCY_FRAMES * u64::from(fps.1), u64::from(fps.0))
            .expect("a frame rate above zero");
        obj.set_latency(latency, Some(latency));

        *stream = Some(Stream {
            info,
            bit_depth,
            params,
            keyframe_interval: settings.keyframe_interval,
            encoder: None,
            until_key: 0,
        });
        Ok(())
    }

    fn handle_frame(&self, frame: gst_video::VideoCodecFrame) -> Result<gst::FlowSuccess, gst::FlowError> {
        let mut guard = lock(&self.stream);
        let stream = guard.as_mut().ok_or(gst::FlowError::NotNegotiated)?;
        let number = frame.system_frame_number();

        // SVT-AV1 1.4.1 can only force a keyframe in CRF/CQP mode (`force_key_frames` with
        // VBR fails set_parameter with EB_ErrorBadParameter), so a keyframe that the GOP
        // schedule does not already put here is made by ending the encoder and starting a
        // new one, whose first picture is always a keyframe with a sequence header.
        if frame.flags().contains(VideoCodecFrameFlags::FORCE_KEYFRAME)
            && stream.until_key != 0
            && let Some(encoder) = stream.encoder.take()
        {
            gst::debug!(
                CAT,
                imp = self,
                "keyframe forced on frame {number}, off the GOP schedule: restarting the encoder"
            );
            self.drain(encoder)?;
        }
        if stream.encoder.is_none() {
            stream.encoder = Some(svt::Encoder::new(&stream.params));
            stream.until_key = 0;
        }
        let encoder = stream.encoder.as_mut().expect("created above");

        {
            let unreadable = || {
                gst::element_imp_error!(self, gst::CoreError::Failed, ("cannot map input frame {}", number));
                gst::FlowError::Error
            };
            let buffer = frame.input_buffer().ok_or_else(unreadable)?;
            let video =
                gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &stream.info).map_err(|_| unreadable())?;
            let strides = video.plane_stride();
            let plane = |i: u32| video.plane_data(i).unwrap_or(&[]);
            let picture = svt::Picture {
                planes: [plane(0), plane(1), plane(2)],
                strides: [strides[0] as usize, strides[1] as usize, strides[2] as usize],
                width: stream.info.width(),
                height: stream.info.height(),
                bit_depth: stream.bit_depth,
                // Brings the frame number back on the packet that shows this picture.
                pts: i64::from(number),
            };
            encoder.send_picture(&picture).map_err(|e| self.fail(e))?;
        }
        stream.until_key = match stream.until_key {
            0 => stream.keyframe_interval - 1,
            n => n - 1,
        };
        // The base class keeps the frame until `push` finishes it.
        drop(frame);

        while let Some(packet) = encoder.next_packet().map_err(|e| self.fail(e))? {
            self.push(packet)?;
        }
        Ok(gst::FlowSuccess::Ok)
    }

    fn finish(&self) -> Result<gst::FlowSuccess, gst::FlowError> {
        // At EOS: everything still inside is coded and pushed. A new encoder is made if
        // pictures follow (after a flush).
        match lock(&self.stream).as_mut().and_then(|s| s.encoder.take()) {
            Some(encoder) => self.drain(encoder),
            None => Ok(gst::FlowSuccess::Ok),
        }
    }

    fn flush(&self) -> bool {
        // The base class drops its pending frames; the encoder's go with them.
        if let Some(encoder) = lock(&self.stream).as_mut().and_then(|s| s.encoder.take()) {
            discard(encoder);
        }
        true
    }
}
