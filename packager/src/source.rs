//! The element that reads an upload (from disk, or by ranges), shared by the probe and the pipeline.
//!
//! For MP4/QuickTime files whose edit lists start a track's media late, it hands qtdemux a
//! longer movie duration than the file states (see [`manifest::movie`]): GStreamer 1.22's
//! qtdemux would otherwise end every stream early by that media start. Only the bytes of the
//! `mvhd` duration field are changed, in the buffers read, never in the file.

use std::path::Path;
use std::sync::Arc;

use gst::prelude::*;
use manifest::movie::{duration_patch, video_span, DurationPatch};

use crate::range_src::{FileReader, RangeReader, RangeSrc};
use crate::Error;

/// A `moov` larger than this is not read for the patch (qtdemux reads it whole anyway; a
/// two-hour film's is a few MB).
const MAX_MOOV_BYTES: u64 = 256 << 20;

/// Where a pipeline reads its source from: the file at `path`, or, where it is set,
/// `reader` (`path` then only names the source in errors).
#[derive(Clone, Copy)]
pub(crate) struct Input<'a> {
    pub path: &'a Path,
    pub reader: Option<&'a Arc<dyn RangeReader>>,
}

/// The element that reads the source: `filesrc` for the file at `path`, or, where the
/// source is read by ranges (`reader`), an element over that reader; with the
/// movie-duration patch applied where the file needs it. Also says how far (ns) the media
/// of an edit list starts late (0 without one): qtdemux reads a seek's stop in media time.
pub(crate) fn source_element(input: Input<'_>) -> Result<(gst::Element, u64), Error> {
    let Input { path, reader } = input;
    let (src, moov) = match reader {
        Some(reader) => (RangeSrc::new(reader.clone()).upcast::<gst::Element>(), read_moov(&**reader)),
        None => {
            let src = gst::ElementFactory::make("filesrc")
                .property("location", path.to_string_lossy().as_ref())
                .build()
                .map_err(|_| Error::MissingElement { factory: "filesrc" })?;
            (src, FileReader::open(path).ok().and_then(|f| read_moov(&f)))
        }
    };
    let mut late_media_ns = 0;
    if let Some(patch) = moov.and_then(|(body, at)| duration_patch(&body, at).ok().flatten()) {
        late_media_ns = u64::try_from(u128::from(patch.patched - patch.stated) * 1_000_000_000 / u128::from(patch.timescale.max(1))).unwrap_or(u64::MAX);
        tracing::debug!(
            "MP4 edit list starts media {:.3} s late: qtdemux reads a movie duration of {:.3} s instead of {:.3} s (GStreamer 1.22 would end the streams early)",
            (patch.patched - patch.stated) as f64 / patch.timescale as f64,
            patch.patched as f64 / patch.timescale as f64,
            patch.stated as f64 / patch.timescale as f64,
        );
        let pad = src.static_pad("src").ok_or_else(|| Error::Setup("the source element has no src pad".into()))?;
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(gst::PadProbeData::Buffer(buffer)) = info.data.as_mut() {
                apply(&patch, buffer);
            }
            gst::PadProbeReturn::Ok
        });
    }
    Ok((src, late_media_ns))
}

/// Writes the patch into a buffer read from the file at `buffer.offset()`, where they overlap.
fn apply(patch: &DurationPatch, buffer: &mut gst::Buffer) {
    let start = buffer.offset(); // GST_BUFFER_OFFSET_NONE is u64::MAX
    let len = buffer.size() as u64;
    let (p0, p1) = (patch.offset, patch.offset + patch.bytes.len() as u64);
    if start == u64::MAX || start >= p1 || start + len <= p0 {
        return;
    }
    let (from, to) = (p0.max(start), p1.min(start + len));
    let bytes = &patch.bytes[(from - p0) as usize..(to - p0) as usize];
    let buffer = buffer.make_mut();
    if let Ok(mut map) = buffer.map_writable() {
        map[(from - start) as usize..(to - start) as usize].copy_from_slice(bytes);
    }
}

/// Where the video of an MP4/QuickTime file starts and ends, in ns, as its header says (see
/// [`manifest::movie::video_span`]); `None` for other containers or when it is not known.
pub(crate) fn stated_video_span_ns(path: &Path) -> Option<(u64, u64)> {
    let (body, _) = read_moov(&FileReader::open(path).ok()?)?;
    let span = video_span(&body).ok().flatten()?;
    let ns = |ticks: u64| u64::try_from(u128::from(ticks) * 1_000_000_000 / u128::from(span.timescale)).ok();
    Some((ns(span.start)?, ns(span.end)?))
}

/// Where (s, decode time) an MP4/QuickTime file's video first leaves the grid of `rate`
/// frames a second (see [`manifest::movie::frames_off_grid`]); `None` when it stays on it,
/// or for other containers.
pub(crate) fn frames_off_grid_s(path: &Path, rate: manifest::model::FrameRate) -> Option<f64> {
    let (body, _) = read_moov(&FileReader::open(path).ok()?)?;
    let off = manifest::movie::frames_off_grid(&body, rate.num, rate.den).ok().flatten()?;
    let s = |ticks: u64| ticks as f64 / f64::from(off.timescale);
    tracing::debug!(
        sample = off.sample,
        "the video's frames leave the {}/{} fps grid at {:.3} s (frame {} belongs at {:.3} s)",
        rate.num, rate.den, s(off.decode_time), off.sample, s(off.grid_time)
    );
    Some(s(off.decode_time))
}

/// The `moov` body of the source and its offset, if it is an MP4/QuickTime file.
/// Anything unreadable is none: the demuxer then reads the file as it is.
fn read_moov(reader: &dyn RangeReader) -> Option<(Vec<u8>, u64)> {
    let (body_at, body_len) = find_moov(reader)?;
    if body_len > MAX_MOOV_BYTES {
        return None;
    }
    let body = reader.read_at(body_at, body_len as usize).ok()?;
    (body.len() as u64 == body_len).then_some((body, body_at))
}

/// Walks the top-level boxes for `moov`: (offset of its body, body length). Stops at the
/// first thing that is not a box header, so other containers end the walk at once.
fn find_moov(reader: &dyn RangeReader) -> Option<(u64, u64)> {
    let end = reader.size();
    let mut at = 0u64;
    while at + 8 <= end {
        let head = reader.read_at(at, 16).ok()?;
        let n = head.len();
        if n < 8 {
            return None;
        }
        let size32 = u32::from_be_bytes(head[0..4].try_into().ok()?);
        let fourcc = &head[4..8];
        if !fourcc.iter().all(|c| c.is_ascii_alphanumeric() || *c == b' ') {
            return None;
        }
        let (size, header) = match size32 {
            0 => (end - at, 8),
            1 if n >= 16 => (u64::from_be_bytes(head[8..16].try_into().ok()?), 16),
            1 => return None,
            s => (u64::from(s), 8),
        };
        if size < header || at + size > end {
            return None;
        }
        if fourcc == b"moov" {
            return Some((at + header, size - header));
        }
        at += size;
    }
    None
}
