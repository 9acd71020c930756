//! Putting every stream on the title's timeline: one clock from 0 for the whole title,
//! each stream keeping its offset to the others, boundaries counted from the first
//! picture, and muxer output whose decode times run on exactly.
//!
//! - video: [`segments_from_zero`] (Matroska's first-frames segment), [`grid_from_first_frame`]
//!   and [`no_frames_past_the_end`] (videorate), [`Origin`] (where segments are counted from);
//! - audio: [`audio_on_title_timeline`] (one segment from 0, silence at both ends) and
//!   [`drop_encoder_delay`] (the AAC encoder's delay, [`EncoderDelay`]);
//! - fragments: [`Timeline`] (exact frame durations, continuous `tfdt`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use gst::prelude::*;

use crate::pipeline::pad_running_time;

/// One track's decode timeline, as its fragments pass.
#[derive(Default)]
pub(crate) struct Timeline {
    /// Constant-rate video: every sample lasts one frame exactly.
    pub(crate) frame_rate: Option<manifest::model::FrameRate>,
    /// The track's init segment, once seen.
    pub(crate) init: Option<manifest::codecs::InitInfo>,
    /// Where the next fragment must start: the last one's decode time + duration.
    pub(crate) next_decode: Option<u64>,
    /// A chunk of the title: where its first fragment lies on the title's timeline.
    pub(crate) shift: Option<ChunkShift>,
}

/// A chunk's pipeline starts its running time at the chunk (its seek), so its muxer counts
/// decode times from there; the title's run counts from the title's first frame. The first
/// fragment is moved by the chunk's start on the title's timeline less the running time of
/// the chunk's first frame (its [`Origin`]); the rest follow on from it.
#[derive(Clone)]
pub(crate) struct ChunkShift {
    pub(crate) origin: Origin,
    /// The chunk's start on the title's timeline.
    pub(crate) start_ns: u64,
    /// Ticks the first fragment was moved by (set then).
    pub(crate) moved_by: i64,
}

impl ChunkShift {
    /// The first fragment's decode time on the title's timeline, from the muxer's. With
    /// constant-rate video (`frame` ticks a frame), where the muxer's decode time lies from
    /// the origin is a whole number of frames: its rounding (the origin is a quarter frame
    /// into the seek) is not carried onto the title's timeline.
    fn first_decode(&self, muxer_decode: u64, timescale: u32, frame: Option<u64>) -> u64 {
        let ticks = |ns: u64| ((u128::from(ns) * u128::from(timescale) + 500_000_000) / 1_000_000_000) as i64;
        let from_origin = muxer_decode as i64 - ticks(self.origin.get().unwrap_or(0));
        let from_origin = match frame.map(|f| f as i64) {
            Some(f) if f > 0 => (from_origin + f / 2).div_euclid(f) * f,
            _ => from_origin,
        };
        (ticks(self.start_ns) + from_origin).max(0) as u64
    }
}

impl Timeline {
    /// Reads the init segment; gives every frame of constant-rate video its exact duration;
    /// makes each fragment start exactly where the previous one ended (see
    /// `manifest::cmaf::set_decode_time`). Every branch is resampled to a
    /// constant frame or sample rate before its muxer, so a fragment that does not follow
    /// on is the muxer's rounding (a tick), never a hole in the media.
    pub(crate) fn follow(&mut self, chunk: &mut [u8], is_init: bool) -> Result<(), manifest::Error> {
        if is_init {
            self.init = Some(manifest::codecs::from_init_segment(chunk)?);
            return Ok(());
        }
        let init = self.init.as_ref().ok_or(manifest::Error::MissingBox { path: "init segment before fragments" })?;
        let mut frame_ticks = None;
        if let Some(rate) = self.frame_rate {
            let ticks = u64::from(init.timescale) * u64::from(rate.den);
            if ticks % u64::from(rate.num) == 0 {
                let frame = u32::try_from(ticks / u64::from(rate.num))
                    .map_err(|_| manifest::Error::ValueOutOfRange { field: "frame duration", value: ticks })?;
                manifest::cmaf::set_sample_durations(chunk, init, frame)?;
                frame_ticks = Some(u64::from(frame));
            }
        }
        let frag = manifest::cmaf::parse_fragment(chunk, init)?;
        let start = match (self.next_decode, &mut self.shift) {
            (Some(next), _) if next != frag.decode_time => {
                // A chunk's muxer counts from the chunk; by how much was set at its first fragment.
                let muxer = frag.decode_time.saturating_add_signed(self.shift.as_ref().map_or(0, |s| s.moved_by));
                if next.abs_diff(muxer) > 1 {
                    tracing::warn!(track_id = init.track_id, next, muxer = frag.decode_time, "fragment decode time moved to follow on");
                }
                manifest::cmaf::set_decode_time(chunk, init, next)?;
                next
            }
            (None, Some(shift)) => {
                let first = shift.first_decode(frag.decode_time, init.timescale, frame_ticks);
                shift.moved_by = first as i64 - frag.decode_time as i64;
                manifest::cmaf::set_decode_time(chunk, init, first)?;
                first
            }
            _ => frag.decode_time,
        };
        self.next_decode = Some(start + frag.duration);
        Ok(())
    }
}

/// matroskademux gives a stream's first frames a segment starting at their own time
/// (`start` = 21 ms, `time` = 0: ffmpeg's Matroska, video after the AAC priming), then one
/// starting at 0: running times jump by that much after two frames. Matroska has no edit
/// lists, so a segment from 0 is the container's timeline.
pub(crate) fn segments_from_zero(pad: &gst::Pad) {
    pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, |_, info| {
        if let Some(gst::PadProbeData::Event(ev)) = &mut info.data
            && let gst::EventView::Segment(e) = ev.view()
            && let Some(seg) = e.segment().downcast_ref::<gst::ClockTime>()
            && seg.rate() == 1.0
            && seg.base() == Some(gst::ClockTime::ZERO)
            && seg.time() == Some(gst::ClockTime::ZERO)
            && seg.start().is_some_and(|s| s > gst::ClockTime::ZERO)
        {
            let mut from_zero = seg.clone();
            from_zero.set_start(gst::ClockTime::ZERO);
            from_zero.set_position(gst::ClockTime::ZERO);
            *ev = gst::event::Segment::new(&from_zero);
        }
        gst::PadProbeReturn::Ok
    });
}

/// videorate puts its output on a grid counted from the segment's start, not from the
/// first frame: video that starts 21 ms into its segment (ffmpeg's Matroska) would come
/// out with every frame but the first moved 21 ms earlier, out of sync with the audio. At
/// the first frame after each segment, the same segment is sent again starting at that
/// frame, with the same running times (nothing has flowed in between, so videorate only
/// takes the new start).
pub(crate) fn grid_from_first_frame(pad: &gst::Pad) {
    // (segment held back, this probe is sending the anchored one)
    let state = Mutex::new((None::<gst::FormattedSegment<gst::ClockTime>>, false));
    pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM | gst::PadProbeType::BUFFER, move |pad, info| {
        let mut st = state.lock().unwrap();
        match &info.data {
            Some(gst::PadProbeData::Event(ev)) if ev.type_() == gst::EventType::Segment && !st.1 => {
                if let gst::EventView::Segment(e) = ev.view()
                    && let Some(seg) = e.segment().downcast_ref::<gst::ClockTime>()
                    && seg.rate() == 1.0
                {
                    st.0 = Some(seg.clone());
                }
            }
            Some(gst::PadProbeData::Buffer(buf)) => {
                if let Some(seg) = st.0.take()
                    && let Some(pts) = buf.pts()
                    && seg.start().is_some_and(|s| pts > s)
                    && let (Some(base), Some(time)) = (seg.to_running_time(pts), seg.to_stream_time(pts))
                {
                    let mut anchored = seg.clone();
                    anchored.set_start(pts);
                    anchored.set_position(pts);
                    anchored.set_base(base);
                    anchored.set_time(time);
                    st.1 = true;
                    drop(st);
                    pad.send_event(gst::event::Segment::new(&anchored));
                    state.lock().unwrap().1 = false;
                }
            }
            _ => {}
        }
        gst::PadProbeReturn::Ok
    });
}

/// At EOS videorate repeats the last frame up to the segment's end: a constant-rate
/// source would gain a frame. Output frames that start where the input ended are dropped.
pub(crate) fn no_frames_past_the_end(videorate: &gst::Element, frame_ns: u64) {
    let input_end = Arc::new(AtomicU64::new(0));
    let end = input_end.clone();
    videorate.static_pad("sink").unwrap().add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        if let Some(buf) = info.buffer()
            && let Some(rt) = pad_running_time(pad, buf)
        {
            let d = buf.duration().map(|d| d.nseconds()).unwrap_or(frame_ns);
            end.fetch_max(rt.nseconds() + d, Ordering::Relaxed);
        }
        gst::PadProbeReturn::Ok
    });
    videorate.static_pad("src").unwrap().add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        match info.buffer().and_then(|buf| pad_running_time(pad, buf)) {
            Some(rt) if rt.nseconds() + frame_ns / 2 > input_end.load(Ordering::Relaxed) => gst::PadProbeReturn::Drop,
            _ => gst::PadProbeReturn::Ok,
        }
    });
}

/// Where segment boundaries are counted from: the running time of the title's first video
/// frame (segment N starts at origin + (N-1) x GOP in every rendition, and the audio is
/// cut at the AAC frame nearest each). Video that starts 21 ms in (ffmpeg's Matroska) or
/// 67 ms in (a fragmented MP4 without an edit list) then gets whole GOPs, and the audio's
/// cuts fall where the video's are. 0 until the first frame is seen, and for copies (whose
/// keyframes are checked against boundaries from 0).
#[derive(Clone, Default)]
pub(crate) struct Origin(Arc<AtomicU64>);

impl Origin {
    pub(crate) fn unset() -> Self {
        Origin(Arc::new(AtomicU64::new(u64::MAX)))
    }
    /// Takes `rt` as the origin if none was set yet.
    pub(crate) fn settle(&self, rt: u64) {
        let _ = self.0.compare_exchange(u64::MAX, rt, Ordering::Relaxed, Ordering::Relaxed);
    }
    /// The origin's running time, once set.
    pub(crate) fn get(&self) -> Option<u64> {
        Some(self.0.load(Ordering::Relaxed)).filter(|&o| o != u64::MAX)
    }
    /// Time from the origin to `rt` (0 before it).
    pub(crate) fn since(&self, rt: u64) -> u64 {
        match self.0.load(Ordering::Relaxed) {
            u64::MAX => rt,
            o => rt.saturating_sub(o),
        }
    }
}

/// What an AAC encoder's output lags its input by, and how that is taken out: its input
/// starts [`Self::lead_samples`] early (silence), so that after dropping
/// [`Self::skip_frames`] whole frames the next one starts exactly at the title's 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EncoderDelay {
    pub samples: u64,
    /// Bytes of one sample frame of its input (all channels).
    pub frame_bytes: usize,
}

impl EncoderDelay {
    /// voaacenc, stereo S16: 1600 samples (one frame plus its look-ahead; measured: a beep
    /// at 3.000 s came out at 3.0333 s), and it writes no priming to trim.
    pub const VOAACENC: EncoderDelay = EncoderDelay { samples: 1600, frame_bytes: 4 };
    /// avenc_aac (FFmpeg's AAC encoder), 5.1 F32: 1024 samples, its priming frame, which it
    /// gives out with a time of its own like any other frame (measured: the same beep
    /// through voaacenc and avenc_aac lands on the same sample once each delay is taken out;
    /// see the 5.1 test in field_corpus).
    pub const AVENC_AAC_51: EncoderDelay = EncoderDelay { samples: 1024, frame_bytes: 6 * 4 };

    pub fn skip_frames(self) -> u64 {
        self.samples.div_ceil(1024)
    }

    pub fn lead_samples(self) -> u64 {
        self.skip_frames() * 1024 - self.samples
    }
}

pub(crate) fn samples_ns(samples: u64, rate: u32) -> u64 {
    (samples as u128 * 1_000_000_000 / rate as u128) as u64
}

/// Drops the encoder's first [`EncoderDelay::skip_frames`] frames (its delay, over the lead
/// of silence) and moves the rest back by as much, onto the title's timeline; drops the
/// frames of the flushing silence that start at `title_end` or later (set at EOS).
pub(crate) fn drop_encoder_delay(pad: &gst::Pad, rate: u32, delay: EncoderDelay, title_end: Arc<AtomicU64>) {
    let skip_ns = samples_ns(delay.skip_frames() * 1024, rate);
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        let Some(buf) = info.buffer_mut() else { return gst::PadProbeReturn::Ok };
        let Some(pts) = buf.pts() else { return gst::PadProbeReturn::Ok };
        // Half a frame of slack for the nanosecond rounding of frame times.
        if pts.nseconds() + samples_ns(512, rate) < skip_ns {
            return gst::PadProbeReturn::Drop;
        }
        if (pts.nseconds() - skip_ns).saturating_add(samples_ns(512, rate)) > title_end.load(Ordering::Relaxed) {
            return gst::PadProbeReturn::Drop;
        }
        let b = buf.make_mut();
        b.set_pts(gst::ClockTime::from_nseconds(pts.nseconds().saturating_sub(skip_ns)));
        if let Some(dts) = b.dts() {
            b.set_dts(gst::ClockTime::from_nseconds(dts.nseconds().saturating_sub(skip_ns)));
        }
        gst::PadProbeReturn::Ok
    });
}

/// Puts interleaved audio at `rate` (frames of `delay.frame_bytes`) on the title's timeline and pads it with silence
/// from running time 0 to its first sample and from its last one to `end_ns`.
///
/// Timestamps become running times under a single segment from 0: a demuxer may start
/// the audio with a segment whose running time 0 lies before any position it can hold
/// (qtdemux, for an MP4 edit list that starts the audio 1.5 s late, gives
/// `start` = the priming, `base` = 1.5 s), where no silence could be put. Later segments
/// (qtdemux's after an empty edit) map onto the same running times, so they are not
/// passed on: a new segment would make audiorate fill again from its start.
///
/// The timeline starts [`EncoderDelay::lead_samples`] early (every time moves later by as
/// much) for the encoder's delay. The audio lasts to the later of its own end and
/// `min_end_ns` (the container's duration), rounded up to a whole AAC frame; that end, on
/// the title's timeline, goes to `title_end` at EOS, and the encoder gets its delay's
/// worth of silence past it so that it gives out the last frame.
pub(crate) fn audio_on_title_timeline(pad: &gst::Pad, rate: u32, delay: EncoderDelay, min_end_ns: u64, title_end: Arc<AtomicU64>) {
    let lead_ns = samples_ns(delay.lead_samples(), rate);
    let flush_ns = samples_ns(delay.skip_frames() * 1024, rate);
    let frame_bytes = delay.frame_bytes;
    const MIN_GAP_NS: u64 = 1_000_000;
    #[derive(Default)]
    struct State {
        /// The demuxer's segment, for running times.
        segment: Option<gst::FormattedSegment<gst::ClockTime>>,
        /// The segment from 0 has gone downstream.
        sent: bool,
        /// Running time where the audio so far ends (None before the first buffer).
        end: Option<u64>,
    }
    let state = Mutex::new(State::default());
    let silence = move |pad: &gst::Pad, from: u64, to: u64| -> Result<(), gst::FlowError> {
        let frames = ((to - from) as u128 * rate as u128 / 1_000_000_000) as usize;
        if frames == 0 {
            return Ok(());
        }
        let peer = pad.peer().ok_or(gst::FlowError::NotLinked)?;
        let mut buf = gst::Buffer::from_mut_slice(vec![0u8; frames * frame_bytes]);
        let b = buf.get_mut().unwrap();
        b.set_pts(gst::ClockTime::from_nseconds(from));
        b.set_duration(gst::ClockTime::from_nseconds((frames as u128 * 1_000_000_000 / rate as u128) as u64));
        peer.chain(buf).map(|_| ())
    };
    pad.add_probe(gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM, move |pad, info| {
        let mut st = state.lock().unwrap();
        match &mut info.data {
            Some(gst::PadProbeData::Event(ev)) if ev.type_() == gst::EventType::Segment => {
                if let gst::EventView::Segment(e) = ev.view()
                    && let Some(seg) = e.segment().downcast_ref::<gst::ClockTime>()
                {
                    st.segment = Some(seg.clone());
                }
                *ev = if std::mem::replace(&mut st.sent, true) {
                    gst::event::CustomDownstream::new(gst::Structure::new_empty("vodpipe-segment-on-title-timeline"))
                } else {
                    gst::event::Segment::new(&gst::FormattedSegment::<gst::ClockTime>::new())
                };
            }
            Some(gst::PadProbeData::Event(ev)) if ev.type_() == gst::EventType::Gap => {
                // The silence below covers it, on this timeline.
                *ev = gst::event::CustomDownstream::new(gst::Structure::new_empty("vodpipe-gap-filled"));
            }
            Some(gst::PadProbeData::Event(ev)) if ev.type_() == gst::EventType::Eos => {
                let end = st.end.unwrap_or(lead_ns);
                let frames = (end.saturating_sub(lead_ns).max(min_end_ns) as u128 * rate as u128).div_ceil(1024 * 1_000_000_000);
                let title = samples_ns(frames as u64 * 1024, rate);
                title_end.store(title, Ordering::Relaxed);
                if silence(pad, end, title + lead_ns + flush_ns).is_err() {
                    return gst::PadProbeReturn::Drop;
                }
            }
            Some(gst::PadProbeData::Buffer(buf)) => {
                let rt = st.segment.as_ref().zip(buf.pts()).and_then(|(seg, pts)| seg.to_running_time(pts));
                let Some(rt) = rt.map(|t| t.nseconds() + lead_ns) else { return gst::PadProbeReturn::Drop };
                buf.make_mut().set_pts(gst::ClockTime::from_nseconds(rt));
                if st.end.is_none() && rt > MIN_GAP_NS && silence(pad, 0, rt).is_err() {
                    return gst::PadProbeReturn::Drop;
                }
                let dur = buf.duration().map(|d| d.nseconds()).unwrap_or(0);
                st.end = Some(st.end.unwrap_or(0).max(rt + dur));
            }
            _ => {}
        }
        gst::PadProbeReturn::Ok
    });
}
