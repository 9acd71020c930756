//! Timing of CMAF fragments and reproducible init segments, by reading the boxes directly.
//!
//! - [`parse_fragment`]: decode time, duration, earliest presentation time, sync flag and
//!   sequence number of one fragment (`[styp] [sidx] moof mdat`).
//! - [`pin_creation_times`]: overwrite the wall-clock fields muxers put into init segments.
//! - [`delay_presentation`]: move a fragment's presentation times later without negative
//!   composition offsets.
//! - [`set_decode_time`]: rewrite a fragment's `tfdt`, so that it continues the previous
//!   fragment exactly.
//! - [`set_sample_durations`]: give every sample of a constant-rate track the same duration.

use crate::bmff::{self, BoxRef, Reader};
use crate::codecs::InitInfo;
use crate::{Error, FourCc, Result};

/// Timing facts of one CMAF fragment, in the track's timescale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentInfo {
    /// `tfdt` baseMediaDecodeTime.
    pub decode_time: u64,
    /// Sum of the sample durations (DASH `S@d`, EXTINF once divided by the timescale).
    pub duration: u64,
    /// Earliest presentation time: decode_time + min over samples of (decode offset within
    /// the fragment + composition offset), minus the init segment's edit list media_time
    /// (DASH `S@t`). Negative if the edit list trims more than the fragment starts with.
    pub earliest_presentation_time: i64,
    pub sample_count: u32,
    /// Whether the first sample is a sync sample: `sample_is_non_sync_sample` clear and
    /// `sample_depends_on` not 1 ("depends on others").
    pub first_sample_is_sync: bool,
    /// `mfhd` sequence_number.
    pub sequence_number: u32,
    /// Where the first sample's data ends, counted from the fragment's first byte: the
    /// fragment's boxes up to the `moof`, the `mdat` header and the first (key) frame, which
    /// an HLS I-frame playlist names as a byte range. `None` when the track fragment's data
    /// is placed by an absolute file offset (`tfhd` base-data-offset), which a fragment
    /// alone cannot resolve, or when `trun` gives no data offset.
    pub first_sample_end: Option<u64>,
}

// tfhd flags (ISO/IEC 14496-12 8.8.7.1)
const TFHD_BASE_DATA_OFFSET: u32 = 0x01;
const TFHD_SAMPLE_DESCRIPTION_INDEX: u32 = 0x02;
const TFHD_DEFAULT_DURATION: u32 = 0x08;
const TFHD_DEFAULT_SIZE: u32 = 0x10;
const TFHD_DEFAULT_FLAGS: u32 = 0x20;
const TFHD_DEFAULT_BASE_IS_MOOF: u32 = 0x02_0000;
// trun flags (8.8.8.1)
const TRUN_DATA_OFFSET: u32 = 0x01;
const TRUN_FIRST_SAMPLE_FLAGS: u32 = 0x04;
const TRUN_DURATION: u32 = 0x100;
const TRUN_SIZE: u32 = 0x200;
const TRUN_FLAGS: u32 = 0x400;
const TRUN_CTS_OFFSET: u32 = 0x800;

/// Whether a sample with these sample flags (8.8.3.1) is a sync sample.
pub fn sample_flags_is_sync(flags: u32) -> bool {
    let non_sync = flags & 0x0001_0000 != 0;
    let depends_on = (flags >> 24) & 0x3;
    !non_sync && depends_on != 1
}

/// Reads one fragment: `moof` (with `mfhd`, and a `traf` for `init.track_id` holding `tfhd`,
/// `tfdt` and one or more `trun`), optionally preceded by `styp`, `sidx`, `prft` or `emsg`.
///
/// Defaults resolve as the spec says: per-sample trun values, else tfhd defaults, else the
/// init segment's trex defaults; `first_sample_flags` overrides the first sample's flags.
pub fn parse_fragment(frag: &[u8], init: &InitInfo) -> Result<FragmentInfo> {
    let top = bmff::boxes_until(frag, b"moof", "fragment")?;
    let moof = top
        .iter()
        .find(|b| b.fourcc.0 == *b"moof")
        .ok_or(Error::MissingBox { path: "moof" })?;
    let mut mfhd = moof.require(b"mfhd", "moof/mfhd")?.reader("moof/mfhd");
    mfhd.full_box()?;
    let sequence_number = mfhd.u32()?;

        let trafs = moof.children(0, "moof")?.into_iter().filter(|b| b.fourcc.0 == *b"traf");
    for (i, traf) in trafs.enumerate() {
        if let Some(info) = track_fragment(&traf, init, sequence_number, moof.start, i == 0)? {
            return Ok(info);
        }
    }
    Err(Error::NoTrackFragment {
        track_id: init.track_id,
    })
}

struct Defaults {
    duration: u32,
    size: u32,
    flags: u32,
}

/// `None` when this traf belongs to another track.
/// `moof_start`: the moof's offset in the fragment; `first`: whether this is its first
/// track fragment.
fn track_fragment(
    traf: &BoxRef<'_>,
    init: &InitInfo,
    sequence_number: u32,
    moof_start: usize,
    first: bool,
) -> Result<Option<FragmentInfo>> {
    let tfhd = traf.require(b"tfhd", "moof/traf/tfhd")?;
    let mut r = tfhd.reader("moof/traf/tfhd");
    let (_, flags) = r.full_box()?;
    if r.u32()? != init.track_id {
        return Ok(None);
    }
    // Data offsets count from the moof's first byte with default-base-is-moof, and in the
    // first track fragment when no base is given (8.8.7.1); otherwise from a file offset or
    // the previous track fragment's data, which this fragment alone does not tell.
    let moof_base = flags & TFHD_BASE_DATA_OFFSET == 0 && (first || flags & TFHD_DEFAULT_BASE_IS_MOOF != 0);
    if flags & TFHD_BASE_DATA_OFFSET != 0 {
        r.skip(8)?;
    }
    if flags & TFHD_SAMPLE_DESCRIPTION_INDEX != 0 {
        r.skip(4)?;
    }
    let mut defaults = Defaults {
        duration: init.default_sample_duration,
        size: init.default_sample_size,
        flags: init.default_sample_flags,
    };
    if flags & TFHD_DEFAULT_DURATION != 0 {
        defaults.duration = r.u32()?;
    }
    if flags & TFHD_DEFAULT_SIZE != 0 {
        defaults.size = r.u32()?;
    }
    if flags & TFHD_DEFAULT_FLAGS != 0 {
        defaults.flags = r.u32()?;
    }

    let tfdt = traf.require(b"tfdt", "moof/traf/tfdt")?;
    let mut r = tfdt.reader("moof/traf/tfdt");
    let decode_time = match r.full_box()?.0 {
        0 => u64::from(r.u32()?),
        1 => r.u64()?,
        v => {
            return Err(Error::UnsupportedVersion {
                fourcc: tfdt.fourcc,
                version: v,
            });
        }
    };

    let mut t = Timing::default();
    for trun in traf.children(0, "moof/traf")? {
        if trun.fourcc.0 == *b"trun" {
            read_trun(&trun, &defaults, &mut t)?;
        }
    }
    let min_pts = t.min_presentation_offset.unwrap_or(0);
    let ept = i128::from(decode_time) + i128::from(min_pts) - i128::from(init.edit_media_time);
    Ok(Some(FragmentInfo {
        decode_time,
        duration: t.elapsed,
        earliest_presentation_time: i64::try_from(ept).map_err(|_| Error::ValueOutOfRange {
            field: "earliest presentation time",
            value: decode_time,
        })?,
        sample_count: t.count,
        first_sample_is_sync: t.first_flags.is_some_and(sample_flags_is_sync),
        sequence_number,
        first_sample_end: match (moof_base, t.first_sample) {
            (true, Some((offset, size))) => u64::try_from(moof_start as i64 + i64::from(offset)).ok().map(|at| at + u64::from(size)),
            _ => None,
        },
    }))
}

#[derive(Default)]
struct Timing {
    /// Decode offset of the next sample from the fragment's decode time.
    elapsed: u64,
    count: u32,
    /// min over samples of (decode offset + composition offset).
    min_presentation_offset: Option<i64>,
    first_flags: Option<u32>,
    /// The first sample's data offset (from `trun`, relative to the moof) and size.
    first_sample: Option<(i32, u32)>,
}

fn read_trun(trun: &BoxRef<'_>, defaults: &Defaults, t: &mut Timing) -> Result<()> {
    const CTX: &str = "moof/traf/trun";
    let mut r: Reader<'_> = trun.reader(CTX);
    let (version, flags) = r.full_box()?;
    let count = r.u32()?;
    let data_offset = if flags & TRUN_DATA_OFFSET != 0 { Some(r.i32()?) } else { None };
    let first_sample_flags = if flags & TRUN_FIRST_SAMPLE_FLAGS != 0 {
        Some(r.u32()?)
    } else {
        None
    };
    for i in 0..count {
        let duration = if flags & TRUN_DURATION != 0 {
            r.u32()?
        } else {
            defaults.duration
        };
        let size = if flags & TRUN_SIZE != 0 { r.u32()? } else { defaults.size };
        let sample_flags = if flags & TRUN_FLAGS != 0 {
            r.u32()?
        } else {
            defaults.flags
        };
        let cts = if flags & TRUN_CTS_OFFSET != 0 {
            // Unsigned in version 0, signed from version 1 on.
            if version == 0 {
                i64::from(r.u32()?)
            } else {
                i64::from(r.i32()?)
            }
        } else {
            0
        };
        if t.count == 0 {
            t.first_flags = Some(match (i, first_sample_flags) {
                (0, Some(f)) => f,
                _ => sample_flags,
            });
            t.first_sample = data_offset.map(|offset| (offset, size));
        }
        let pts = i64::try_from(t.elapsed)
            .unwrap_or(i64::MAX)
            .saturating_add(cts);
        t.min_presentation_offset = Some(t.min_presentation_offset.map_or(pts, |m| m.min(pts)));
        t.elapsed += u64::from(duration);
        t.count += 1;
    }
    Ok(())
}

/// How [`delay_presentation`] moves a track's presentation times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delay {
    /// Add to every sample's composition offset and write each `trun` as version 0
    /// (unsigned offsets); decode times stay. For tracks whose pictures are reordered.
    CompositionOffsets,
    /// Add to `tfdt`; offsets stay. For tracks that do not reorder (audio, I/P-only video).
    DecodeTime,
}

/// Delays every presentation time of one fragment of `init`'s track by `shift` ticks of its
/// timescale, in place.
///
/// CMAF writes reordered pictures with negative composition offsets (`trun` version 1), so
/// that a track's first picture is presented at its first decode time. ffmpeg's and
/// GStreamer's MP4 readers instead shift such a track by its largest negative offset, and
/// it plays that much late. Shifting every track of a title by one `shift` at least the
/// largest reorder delay keeps every offset positive and the tracks in sync for every
/// reader; the title then starts at `shift` instead of 0.
///
/// The fragment keeps its size, except that with [`Delay::CompositionOffsets`] a `trun`
/// without composition offsets (a fragment of a reordering track that happens to hold no
/// reordered picture) gets them, each `shift`: 4 bytes more per sample, with the sizes of
/// `trun`, `traf` and `moof` and every `trun`'s data offset moved to match.
///
/// Fails without writing anything: with [`Delay::CompositionOffsets`], when an offset would
/// stay negative; with [`Delay::DecodeTime`], when a version 0 `tfdt` cannot hold the new time.
pub fn delay_presentation(frag: &mut Vec<u8>, init: &InitInfo, shift: u32, how: Delay) -> Result<()> {
    // Find every field first, write after: a failure must leave the buffer untouched.
    // (offset, width in bytes, new value)
    let mut writes: Vec<(usize, usize, u64)> = Vec::new();
    // Positions where a 4-byte composition offset of `shift` goes in, ascending.
    let mut inserts: Vec<usize> = Vec::new();
    // Size fields that grow, with the inserts inside them: (offset of the field, grown by).
    let mut grows: Vec<(usize, usize)> = Vec::new();
    // Data offsets of every trun of the moof (they all point past the grown moof).
    let mut data_offsets: Vec<usize> = Vec::new();
    {
        let top = bmff::boxes_until(frag, b"moof", "fragment")?;
        let moof = top
            .iter()
            .find(|b| b.fourcc.0 == *b"moof")
            .ok_or(Error::MissingBox { path: "moof" })?;
        let mut found = false;
        for traf in moof.children(0, "moof")? {
            if traf.fourcc.0 != *b"traf" {
                continue;
            }
            for trun in traf.children(0, "moof/traf")? {
                if trun.fourcc.0 == *b"trun" {
                    let mut r = trun.reader("moof/traf/trun");
                    if r.full_box()?.1 & TRUN_DATA_OFFSET != 0 {
                        data_offsets.push(trun.body_offset + 8);
                    }
                }
            }
            let mut r = traf.require(b"tfhd", "moof/traf/tfhd")?.reader("moof/traf/tfhd");
            let (_, tfhd_flags) = r.full_box()?;
            if r.u32()? != init.track_id {
                continue;
            }
            found = true;
            match how {
                Delay::DecodeTime => {
                    let tfdt = traf.require(b"tfdt", "moof/traf/tfdt")?;
                    let mut r = tfdt.reader("moof/traf/tfdt");
                    let (version, _) = r.full_box()?;
                    let (old, width) = match version {
                        0 => (u64::from(r.u32()?), 4),
                        1 => (r.u64()?, 8),
                        v => return Err(Error::UnsupportedVersion { fourcc: tfdt.fourcc, version: v }),
                    };
                    let new = old + u64::from(shift);
                    if width == 4 && new > u64::from(u32::MAX) {
                        return Err(Error::ValueOutOfRange { field: "tfdt (version 0) + delay", value: new });
                    }
                    writes.push((tfdt.body_offset + 4, width, new));
                }
                Delay::CompositionOffsets => {
                    let before = inserts.len();
                    for trun in traf.children(0, "moof/traf")? {
                        if trun.fourcc.0 != *b"trun" {
                            continue;
                        }
                        let added = inserts.len();
                        trun_offsets(&trun, init, shift, &mut writes, &mut inserts)?;
                        if inserts.len() > added {
                            grows.push((size_field(frag, &trun)?, 4 * (inserts.len() - added)));
                        }
                    }
                    if inserts.len() > before {
                        // An absolute base offset would point at data that moved.
                        if tfhd_flags & TFHD_BASE_DATA_OFFSET != 0 {
                            return Err(Error::InvalidCodecConfig {
                                fourcc: FourCc(*b"tfhd"),
                                reason: "base-data-offset-present: cannot add composition offsets",
                            });
                        }
                        grows.push((size_field(frag, &traf)?, 4 * (inserts.len() - before)));
                    }
                }
            }
        }
        if !found {
            return Err(Error::NoTrackFragment { track_id: init.track_id });
        }
        if !inserts.is_empty() {
            grows.push((size_field(frag, moof)?, 4 * inserts.len()));
        }
    }
    let grown = 4 * inserts.len();
    for &at in &data_offsets {
        let old = i64::from(i32::from_be_bytes(frag[at..at + 4].try_into().expect("4 bytes")));
        let new = i32::try_from(old + grown as i64)
            .map_err(|_| Error::ValueOutOfRange { field: "trun data_offset", value: (old + grown as i64) as u64 })?;
        writes.push((at, 4, u64::from(new as u32)));
    }
    for &(at, by) in &grows {
        let old = u32::from_be_bytes(frag[at..at + 4].try_into().expect("4 bytes"));
        writes.push((at, 4, u64::from(old) + by as u64));
    }
    for (offset, width, value) in writes {
        match width {
            1 => frag[offset] = value as u8,
            4 => frag[offset..offset + 4].copy_from_slice(&(value as u32).to_be_bytes()),
            _ => frag[offset..offset + 8].copy_from_slice(&value.to_be_bytes()),
        }
    }
    if !inserts.is_empty() {
        let mut out = Vec::with_capacity(frag.len() + grown);
        let mut from = 0;
        for at in inserts {
            out.extend_from_slice(&frag[from..at]);
            out.extend_from_slice(&shift.to_be_bytes());
            from = at;
        }
        out.extend_from_slice(&frag[from..]);
        *frag = out;
    }
    Ok(())
}

/// Sets the `tfdt` baseMediaDecodeTime of `init`'s track in one fragment to `decode_time`, in
/// place (the fragment keeps its size).
///
/// CMAF wants each fragment to start where the previous one ended. Muxers that convert
/// nanosecond timestamps to ticks by flooring (GStreamer's fmp4mux) can start a fragment a
/// tick early; the caller knows the exact end of the previous fragment and writes it here.
///
/// Fails without writing anything when a version 0 `tfdt` cannot hold the value.
pub fn set_decode_time(frag: &mut [u8], init: &InitInfo, decode_time: u64) -> Result<()> {
    let (at, width) = {
        let top = bmff::boxes_until(frag, b"moof", "fragment")?;
        let moof = top.iter().find(|b| b.fourcc.0 == *b"moof").ok_or(Error::MissingBox { path: "moof" })?;
        let mut field = None;
        for traf in moof.children(0, "moof")? {
            if traf.fourcc.0 != *b"traf" {
                continue;
            }
            let mut r = traf.require(b"tfhd", "moof/traf/tfhd")?.reader("moof/traf/tfhd");
            r.full_box()?;
            if r.u32()? != init.track_id {
                continue;
            }
            let tfdt = traf.require(b"tfdt", "moof/traf/tfdt")?;
            let width = match tfdt.reader("moof/traf/tfdt").full_box()?.0 {
                0 => 4,
                1 => 8,
                v => return Err(Error::UnsupportedVersion { fourcc: tfdt.fourcc, version: v }),
            };
            field = Some((tfdt.body_offset + 4, width));
            break;
        }
        field.ok_or(Error::NoTrackFragment { track_id: init.track_id })?
    };
    if width == 4 {
        let v = u32::try_from(decode_time)
            .map_err(|_| Error::ValueOutOfRange { field: "tfdt (version 0)", value: decode_time })?;
        frag[at..at + 4].copy_from_slice(&v.to_be_bytes());
    } else {
        frag[at..at + 8].copy_from_slice(&decode_time.to_be_bytes());
    }
    Ok(())
}

/// Sets the duration of every sample of `init`'s track in one fragment to `duration` ticks,
/// in place (the fragment keeps its size): the per-sample durations of every `trun`, and the
/// `tfhd` default.
///
/// For constant-rate video: a muxer that derives each duration from nanosecond timestamps
/// gives a frame one tick more or less now and then (100 ticks a frame at 3000 Hz, with a
/// 101 when the track starts 21 ms in); every frame of a constant-rate track lasts the same.
///
/// Fails without writing anything when the fragment states no duration of its own (they
/// would come from the init segment's `trex`).
pub fn set_sample_durations(frag: &mut [u8], init: &InitInfo, duration: u32) -> Result<()> {
    let mut fields: Vec<usize> = Vec::new();
    {
        let top = bmff::boxes_until(frag, b"moof", "fragment")?;
        let moof = top.iter().find(|b| b.fourcc.0 == *b"moof").ok_or(Error::MissingBox { path: "moof" })?;
        let mut found = false;
        for traf in moof.children(0, "moof")? {
            if traf.fourcc.0 != *b"traf" {
                continue;
            }
            let tfhd = traf.require(b"tfhd", "moof/traf/tfhd")?;
            let mut r = tfhd.reader("moof/traf/tfhd");
            let (_, flags) = r.full_box()?;
            if r.u32()? != init.track_id {
                continue;
            }
            found = true;
            if flags & TFHD_DEFAULT_DURATION != 0 {
                let skip = [TFHD_BASE_DATA_OFFSET, TFHD_SAMPLE_DESCRIPTION_INDEX]
                    .iter()
                    .map(|&f| if flags & f == 0 { 0 } else if f == TFHD_BASE_DATA_OFFSET { 8 } else { 4 })
                    .sum::<usize>();
                fields.push(tfhd.body_offset + 8 + skip);
            }
            let mut per_sample = false;
            for trun in traf.children(0, "moof/traf")? {
                if trun.fourcc.0 != *b"trun" {
                    continue;
                }
                let mut r = trun.reader("moof/traf/trun");
                let (_, flags) = r.full_box()?;
                let count = r.u32()?;
                if flags & TRUN_DURATION == 0 {
                    continue;
                }
                per_sample = true;
                r.skip(if flags & TRUN_DATA_OFFSET != 0 { 4 } else { 0 })?;
                r.skip(if flags & TRUN_FIRST_SAMPLE_FLAGS != 0 { 4 } else { 0 })?;
                let after = [TRUN_SIZE, TRUN_FLAGS, TRUN_CTS_OFFSET].iter().filter(|&&f| flags & f != 0).count() * 4;
                for _ in 0..count {
                    fields.push(trun.body_offset + r.pos());
                    r.skip(4 + after)?;
                }
            }
            if !per_sample && flags & TFHD_DEFAULT_DURATION == 0 {
                return Err(Error::MissingBox { path: "moof/traf: sample durations (tfhd default or trun)" });
            }
        }
        if !found {
            return Err(Error::NoTrackFragment { track_id: init.track_id });
        }
    }
    for at in fields {
        frag[at..at + 4].copy_from_slice(&duration.to_be_bytes());
    }
    Ok(())
}

/// Offset of a box's 32-bit size field (boxes with a 64-bit size are not rewritten).
fn size_field(buf: &[u8], b: &BoxRef<'_>) -> Result<usize> {
    let at = b.body_offset.checked_sub(8).ok_or(Error::MissingBox { path: "box header" })?;
    if buf[at + 4..at + 8] != b.fourcc.0 {
        return Err(Error::InvalidCodecConfig { fourcc: b.fourcc, reason: "64-bit box size: cannot grow it" });
    }
    Ok(at)
}

/// The writes that turn one trun's offsets into `offset + shift`, unsigned (version 0).
/// A trun without offsets gets the flag, and `inserts` the places where each sample's
/// offset (`shift`) goes in.
fn trun_offsets(
    trun: &BoxRef<'_>,
    init: &InitInfo,
    shift: u32,
    writes: &mut Vec<(usize, usize, u64)>,
    inserts: &mut Vec<usize>,
) -> Result<()> {
    const CTX: &str = "moof/traf/trun";
    let mut r: Reader<'_> = trun.reader(CTX);
    let (version, flags) = r.full_box()?;
    let count = r.u32()?;
    if flags & TRUN_DATA_OFFSET != 0 {
        r.skip(4)?;
    }
    if flags & TRUN_FIRST_SAMPLE_FLAGS != 0 {
        r.skip(4)?;
    }
    let before = [TRUN_DURATION, TRUN_SIZE, TRUN_FLAGS].iter().filter(|&&f| flags & f != 0).count() * 4;
    if flags & TRUN_CTS_OFFSET == 0 {
        for _ in 0..count {
            r.skip(before)?;
            inserts.push(trun.body_offset + r.pos());
        }
        // Version 0 and the flags with composition offsets present (the 24 bits after it).
        let flags = flags | TRUN_CTS_OFFSET;
        writes.push((trun.body_offset, 1, 0));
        writes.push((trun.body_offset + 1, 1, u64::from(flags >> 16 & 0xff)));
        writes.push((trun.body_offset + 2, 1, u64::from(flags >> 8 & 0xff)));
        writes.push((trun.body_offset + 3, 1, u64::from(flags & 0xff)));
        return Ok(());
    }
    for _ in 0..count {
        r.skip(before)?;
        let at = trun.body_offset + r.pos();
        let old = if version == 0 { i64::from(r.u32()?) } else { i64::from(r.i32()?) };
        let new = old + i64::from(shift);
        if new < 0 {
            return Err(Error::ReorderBeyondShift { track_id: init.track_id, needed: old.unsigned_abs(), shift });
        }
        if new > i64::from(u32::MAX) {
            return Err(Error::ValueOutOfRange { field: "composition offset + delay", value: new as u64 });
        }
        writes.push((at, 4, new as u64));
    }
    // The version byte leads the full box header.
    writes.push((trun.body_offset, 1, 0));
    Ok(())
}

/// Sets creation_time and modification_time of `mvhd`, every `tkhd` and every `mdhd` to
/// `seconds_since_1904`, in place (32-bit fields in version 0 boxes, 64-bit in version 1), so
/// that the same media gives byte-identical init segments whatever the wall clock said.
///
/// Fails without writing anything if a version 0 box cannot hold the value.
pub fn pin_creation_times(init: &mut [u8], seconds_since_1904: u64) -> Result<()> {
    // Find every field first, write after: a failure must leave the buffer untouched.
    let mut fields: Vec<(usize, u8)> = Vec::new();
    {
        let top = bmff::boxes_until(init, b"moov", "init segment")?;
        let moov = top
            .iter()
            .find(|b| b.fourcc.0 == *b"moov")
            .ok_or(Error::MissingBox { path: "moov" })?;
        fields.push(time_fields(&moov.require(b"mvhd", "moov/mvhd")?)?);
        for trak in moov.children(0, "moov")? {
            if trak.fourcc.0 != *b"trak" {
                continue;
            }
            fields.push(time_fields(&trak.require(b"tkhd", "moov/trak/tkhd")?)?);
            let mdia = trak.require(b"mdia", "moov/trak/mdia")?;
            fields.push(time_fields(&mdia.require(b"mdhd", "moov/trak/mdia/mdhd")?)?);
        }
    }
    // time_fields checked that each box holds both fields; only the width can still fail.
    let secs32 = u32::try_from(seconds_since_1904);
    if fields.iter().any(|&(_, version)| version == 0) && secs32.is_err() {
        return Err(Error::ValueOutOfRange {
            field: "creation_time of a version 0 box",
            value: seconds_since_1904,
        });
    }
    for (offset, version) in fields {
        if let (0, Ok(v)) = (version, secs32) {
            let v = v.to_be_bytes();
            init[offset..offset + 4].copy_from_slice(&v);
            init[offset + 4..offset + 8].copy_from_slice(&v);
        } else {
            let v = seconds_since_1904.to_be_bytes();
            init[offset..offset + 8].copy_from_slice(&v);
            init[offset + 8..offset + 16].copy_from_slice(&v);
        }
    }
    Ok(())
}

/// Offset of creation_time (followed by modification_time) and the box version.
fn time_fields(b: &BoxRef<'_>) -> Result<(usize, u8)> {
    let mut r = b.reader("creation_time");
    let (version, _) = r.full_box()?;
    let width = match version {
        0 => 4,
        1 => 8,
        v => {
            return Err(Error::UnsupportedVersion {
                fourcc: b.fourcc,
                version: v,
            });
        }
    };
    r.skip(2 * width)?;
    Ok((b.body_offset + 4, version))
}
