//! Facts read from a source's QuickTime/MP4 movie header (`moov`), for working around how
//! GStreamer 1.22's qtdemux reads edit lists.
//!
//! qtdemux ends the presentation when a stream's *media* time passes the movie's
//! duration (`mvhd`), a *presentation* time. A track whose edit list starts its media later
//! than 0 (a clip trimmed without re-encoding: the GOP before the cut point is kept and the
//! edit starts mid-GOP; or the AAC priming every MP4 muxer skips with an edit) therefore
//! loses its last `media_time` seconds, rounded up to a keyframe: a 7.7 s trim starting
//! 1.37 s into its media came out 6.7 s long. ffmpeg and players show the whole edit.
//!
//! [`duration_patch`] computes the movie duration under which qtdemux's check can no longer
//! fire before a stream's own edit ends (the old duration plus the largest media start), and
//! where in the file those bytes sit, so the reader can hand qtdemux that value instead. The
//! edits themselves are left alone: every track still starts and ends where its edit says.

use crate::bmff::{boxes, BoxRef};
use crate::Result;

/// New bytes for the `mvhd` duration field of a source file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DurationPatch {
    /// Absolute file offset of the duration field.
    pub offset: u64,
    /// Its new big-endian value (4 bytes for a version 0 `mvhd`, 8 for version 1).
    pub bytes: Vec<u8>,
    /// The duration the file states, in `timescale` units.
    pub stated: u64,
    /// The duration handed to the demuxer, in `timescale` units.
    pub patched: u64,
    /// The movie timescale (`mvhd`).
    pub timescale: u32,
}

/// The patch for a movie whose tracks' edits start their media late (see the module docs),
/// or `None` when no edit does, the movie states no duration, or it is fragmented (`mvex`:
/// its duration is not the presentation's end). `moov_body` is the `moov` box without its
/// header; `body_offset` is where that body starts in the file.
pub fn duration_patch(moov_body: &[u8], body_offset: u64) -> Result<Option<DurationPatch>> {
    let Some((children, mvhd)) = unfragmented(moov_body)? else {
        return Ok(None);
    };
    let (field_at, width, timescale, stated) = movie_duration(&mvhd)?;
    if stated == 0 || timescale == 0 {
        return Ok(None);
    }
    let mut late = 0u64;
    for trak in children.iter().filter(|b| b.fourcc.0 == *b"trak") {
        late = late.max(latest_media_start(trak, timescale)?);
    }
    if late == 0 {
        return Ok(None);
    }
    let patched = stated + late;
    let bytes = match width {
        4 => u32::try_from(patched).ok().map(|v| v.to_be_bytes().to_vec()),
        _ => Some(patched.to_be_bytes().to_vec()),
    };
    Ok(bytes.map(|bytes| DurationPatch {
        offset: body_offset + field_at as u64,
        bytes,
        stated,
        patched,
        timescale,
    }))
}

/// Where the first video track's presentation starts and ends, in the movie's timescale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoSpan {
    /// The leading empty edits (a video that starts late); 0 without them.
    pub start: u64,
    /// The sum of its edits (empty ones included: a video that starts late ends late) or,
    /// with no edit list, its `tkhd` duration.
    pub end: u64,
    pub timescale: u32,
}

/// The first video track's [`VideoSpan`]. `None` for a fragmented movie (its header does not
/// know the end), a movie without a video track, or one that states no duration.
pub fn video_span(moov_body: &[u8]) -> Result<Option<VideoSpan>> {
    let Some((children, mvhd)) = unfragmented(moov_body)? else {
        return Ok(None);
    };
    let (_, _, timescale, _) = movie_duration(&mvhd)?;
    if let Some(trak) = first_video_trak(&children)? {
        let edits = trak.child(b"edts", "moov/trak")?.map(|e| e.child(b"elst", "moov/trak/edts")).transpose()?.flatten();
        let (start, end) = match edits {
            Some(elst) => {
                let mut r = elst.reader("moov/trak/edts/elst");
                let (version, _) = r.full_box()?;
                let (mut sum, mut start, mut leading) = (0u64, 0u64, true);
                for _ in 0..r.u32()? {
                    let duration = if version == 1 { r.u64()? } else { u64::from(r.u32()?) };
                    let empty = if version == 1 { r.u64()? as i64 == -1 } else { r.u32()? as i32 == -1 };
                    r.skip(4)?;
                    leading &= empty;
                    if leading {
                        start += duration;
                    }
                    sum += duration;
                }
                (start, sum)
            }
            None => {
                let mut r = trak.require(b"tkhd", "moov/trak/tkhd")?.reader("moov/trak/tkhd");
                let (version, _) = r.full_box()?;
                let end = if version == 1 {
                    r.skip(16 + 4 + 4)?;
                    r.u64()?
                } else {
                    r.skip(8 + 4 + 4)?;
                    u64::from(r.u32()?)
                };
                (0, end)
            }
        };
        return Ok((end > 0 && timescale > 0).then_some(VideoSpan { start, end, timescale }));
    }
    Ok(None)
}

/// The movie's first track whose handler is `vide`.
fn first_video_trak<'a>(children: &[BoxRef<'a>]) -> Result<Option<BoxRef<'a>>> {
    for trak in children.iter().filter(|b| b.fourcc.0 == *b"trak") {
        let Some(hdlr) = trak.child(b"mdia", "moov/trak")?.map(|m| m.child(b"hdlr", "moov/trak/mdia")).transpose()?.flatten() else {
            continue;
        };
        let mut r = hdlr.reader("moov/trak/mdia/hdlr");
        r.full_box()?;
        r.skip(4)?;
        if r.array::<4>()? == *b"vide" {
            return Ok(Some(*trak));
        }
    }
    Ok(None)
}

/// The first frame of a video track that is off its constant frame grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffGrid {
    /// 0-based, in decode order.
    pub sample: u64,
    /// Its decode time, and where the grid puts it, in `timescale` units.
    pub decode_time: u64,
    pub grid_time: u64,
    pub timescale: u32,
}

/// Where the first video track's frames leave the grid of a constant `rate_num /
/// rate_den` frames a second (sample N at N frames from the first), by more than a quarter
/// of a frame; `None` when every frame is on it (the last frame's own duration does not
/// count), or for a fragmented movie. A stream copied from several files or loops
/// (`ffmpeg -stream_loop -c copy`, splices) jumps at each seam by the audio's overhang,
/// e.g. 10.7 ms per loop of an AAC track 60.0107 s long: where its frames are does not
/// follow from their number, and a chunk of the title cannot know which of them the whole
/// title's rate conversion puts in its range.
pub fn frames_off_grid(moov_body: &[u8], rate_num: u32, rate_den: u32) -> Result<Option<OffGrid>> {
    let Some((children, _)) = unfragmented(moov_body)? else {
        return Ok(None);
    };
    let Some(trak) = first_video_trak(&children)? else {
        return Ok(None);
    };
    let mdia = trak.require(b"mdia", "moov/trak/mdia")?;
    let mut r = mdia.require(b"mdhd", "moov/trak/mdia/mdhd")?.reader("moov/trak/mdia/mdhd");
    let (version, _) = r.full_box()?;
    r.skip(if version == 1 { 16 } else { 8 })?;
    let timescale = r.u32()?;
    if timescale == 0 || rate_num == 0 || rate_den == 0 {
        return Ok(None);
    }
    let stbl = mdia.require(b"minf", "moov/trak/mdia/minf")?.require(b"stbl", "moov/trak/mdia/minf/stbl")?;
    let mut r = stbl.require(b"stts", "moov/trak/mdia/minf/stbl/stts")?.reader("moov/trak/mdia/minf/stbl/stts");
    r.full_box()?;
    // In units of 1 / (timescale x rate_num) s, where a frame is timescale x rate_den.
    let frame = u128::from(timescale) * u128::from(rate_den);
    let per_tick = u128::from(rate_num);
    let off = |sample: u64, time: u64| (u128::from(time) * per_tick).abs_diff(u128::from(sample) * frame) * 4 > frame;
    let (mut time, mut sample) = (0u64, 0u64);
    for _ in 0..r.u32()? {
        let (count, delta) = (u64::from(r.u32()?), u64::from(r.u32()?));
        // Within a run the drift changes by the same amount a sample: its first or last
        // sample is the farthest off, and only a run that crosses the limit is walked.
        if count > 0 && (off(sample, time) || off(sample + count - 1, time + (count - 1) * delta)) {
            let k = (0..count).find(|&k| off(sample + k, time + k * delta)).expect("a sample of the run is off");
            let grid_time = u64::try_from(u128::from(sample + k) * frame / per_tick).unwrap_or(u64::MAX);
            return Ok(Some(OffGrid { sample: sample + k, decode_time: time + k * delta, grid_time, timescale }));
        }
        time += count * delta;
        sample += count;
    }
    Ok(None)
}

/// The moov's boxes and its `mvhd`, for a movie that is not fragmented (`mvex`: its header
/// does not describe the presentation's end); `None` otherwise or without an `mvhd`.
fn unfragmented(moov_body: &[u8]) -> Result<Option<(Vec<BoxRef<'_>>, BoxRef<'_>)>> {
    let children = boxes(moov_body, 0, "moov")?;
    if children.iter().any(|b| b.fourcc.0 == *b"mvex") {
        return Ok(None);
    }
    let mvhd = children.iter().find(|b| b.fourcc.0 == *b"mvhd").copied();
    Ok(mvhd.map(|mvhd| (children, mvhd)))
}

/// `mvhd`: (offset of the duration field in the moov body, its width, timescale, duration).
fn movie_duration(mvhd: &BoxRef<'_>) -> Result<(usize, usize, u32, u64)> {
    let mut r = mvhd.reader("moov/mvhd");
    let (version, _) = r.full_box()?;
    if version == 1 {
        r.skip(16)?;
        let timescale = r.u32()?;
        let at = mvhd.body_offset + r.pos();
        Ok((at, 8, timescale, r.u64()?))
    } else {
        r.skip(8)?;
        let timescale = r.u32()?;
        let at = mvhd.body_offset + r.pos();
        Ok((at, 4, timescale, u64::from(r.u32()?)))
    }
}

/// The largest media time an edit of this track starts at, in movie ticks (rounded up);
/// 0 for a track without edits or whose edits start at its media's beginning.
fn latest_media_start(trak: &BoxRef<'_>, movie_timescale: u32) -> Result<u64> {
    let Some(elst) = trak.child(b"edts", "moov/trak")?.map(|e| e.child(b"elst", "moov/trak/edts")).transpose()?.flatten() else {
        return Ok(0);
    };
    let media_timescale = match trak.child(b"mdia", "moov/trak")?.map(|m| m.child(b"mdhd", "moov/trak/mdia")).transpose()?.flatten() {
        Some(mdhd) => {
            let mut r = mdhd.reader("moov/trak/mdia/mdhd");
            let (version, _) = r.full_box()?;
            r.skip(if version == 1 { 16 } else { 8 })?;
            r.u32()?
        }
        None => return Ok(0),
    };
    if media_timescale == 0 {
        return Ok(0);
    }
    let mut r = elst.reader("moov/trak/edts/elst");
    let (version, _) = r.full_box()?;
    let mut latest = 0u64;
    for _ in 0..r.u32()? {
        let media_time = if version == 1 {
            r.skip(8)?;
            r.i64()?
        } else {
            r.skip(4)?;
            i64::from(r.i32()?)
        };
        r.skip(4)?; // media rate
        // -1 is an empty edit (a gap), not a media position.
        if media_time > 0 {
            let ticks = (media_time as u128 * u128::from(movie_timescale)).div_ceil(u128::from(media_timescale));
            latest = latest.max(u64::try_from(ticks).unwrap_or(u64::MAX));
        }
    }
    Ok(latest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(fourcc: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(fourcc);
        out.extend_from_slice(body);
        out
    }

    fn mvhd_v0(timescale: u32, duration: u32) -> Vec<u8> {
        let mut b = vec![0u8; 4 + 8];
        b.extend_from_slice(&timescale.to_be_bytes());
        b.extend_from_slice(&duration.to_be_bytes());
        b.extend_from_slice(&[0u8; 80]);
        boxed(b"mvhd", &b)
    }

    fn mvhd_v1(timescale: u32, duration: u64) -> Vec<u8> {
        let mut b = vec![1u8, 0, 0, 0];
        b.extend_from_slice(&[0u8; 16]);
        b.extend_from_slice(&timescale.to_be_bytes());
        b.extend_from_slice(&duration.to_be_bytes());
        b.extend_from_slice(&[0u8; 80]);
        boxed(b"mvhd", &b)
    }

    /// A track with its media timescale and edits (segment duration, media time), version 0.
    fn trak(media_timescale: u32, edits: &[(u32, i32)]) -> Vec<u8> {
        let mut elst = vec![0u8; 4];
        elst.extend_from_slice(&(edits.len() as u32).to_be_bytes());
        for (d, t) in edits {
            elst.extend_from_slice(&d.to_be_bytes());
            elst.extend_from_slice(&t.to_be_bytes());
            elst.extend_from_slice(&0x0001_0000u32.to_be_bytes());
        }
        let mut mdhd = vec![0u8; 4 + 8];
        mdhd.extend_from_slice(&media_timescale.to_be_bytes());
        mdhd.extend_from_slice(&[0u8; 8]);
        let mdia = boxed(b"mdia", &boxed(b"mdhd", &mdhd));
        let edts = boxed(b"edts", &boxed(b"elst", &elst));
        boxed(b"trak", &[boxed(b"tkhd", &[0u8; 84]), edts, mdia].concat())
    }

    #[test]
    fn a_trim_starting_mid_gop_extends_the_movie_by_its_media_start() {
        // ffmpeg's `-ss 1.3 -c copy` of a 9 s clip: video edit from 20992/15360 s (1.3667),
        // audio from 63424/48000 s (1.3213), 7.7 s long.
        let body = [mvhd_v0(1000, 7700), trak(15360, &[(7700, 20992)]), trak(48000, &[(7700, 63424)])].concat();
        let p = duration_patch(&body, 1000).unwrap().expect("a patch");
        assert_eq!((p.stated, p.patched, p.timescale), (7700, 7700 + 1367, 1000));
        // Field: 8 (mvhd header) + 4 (version, flags) + 8 (times) + 4 (timescale) into the body.
        assert_eq!(p.offset, 1000 + 24);
        assert_eq!(p.bytes, 9067u32.to_be_bytes().to_vec());
        let mut patched = body.clone();
        patched[24..28].copy_from_slice(&p.bytes);
        assert_eq!(duration_patch(&patched, 0).unwrap().unwrap().stated, 9067);
    }

    #[test]
    fn empty_edits_do_not_count_and_version_1_is_read() {
        // Late audio: an empty edit (-1) of 1.5 s, then the media from its priming (1024).
        let body = [mvhd_v1(600, 5400), trak(30000, &[(5400, 0)]), trak(48000, &[(900, -1), (3000, 1024)])].concat();
        let p = duration_patch(&body, 0).unwrap().unwrap();
        // 1024/48000 s at 600 ticks/s is 12.8 ticks: rounded up.
        assert_eq!((p.stated, p.patched), (5400, 5413));
        assert_eq!(p.offset, 8 + 4 + 16 + 4);
        assert_eq!(p.bytes, 5413u64.to_be_bytes().to_vec());
    }

    fn with_handler(trak: Vec<u8>, handler: &[u8; 4]) -> Vec<u8> {
        // trak = header + tkhd + edts + mdia(mdhd); put an hdlr after the mdhd.
        let mut hdlr = vec![0u8; 8];
        hdlr.extend_from_slice(handler);
        hdlr.extend_from_slice(&[0u8; 13]);
        let hdlr = boxed(b"hdlr", &hdlr);
        let body = &trak[8..];
        let children = boxes(body, 0, "t").unwrap();
        let mut out = Vec::new();
        for c in children {
            let raw = &body[c.body_offset - 8..c.body_offset + c.body.len()];
            if c.fourcc.0 == *b"mdia" {
                out.extend(boxed(b"mdia", &[c.body, &hdlr[..]].concat()));
            } else {
                out.extend_from_slice(raw);
            }
        }
        boxed(b"trak", &out)
    }

    #[test]
    fn video_span_sums_the_video_tracks_edits_and_starts_after_the_empty_ones() {
        // Audio first, then video with an empty edit of 0.5 s and 7.7 s of media: ends at 8.2 s.
        let audio = with_handler(trak(48000, &[(9000, 1024)]), b"soun");
        let video = with_handler(trak(15360, &[(500, -1), (7700, 20992)]), b"vide");
        let body = [mvhd_v0(1000, 9000), audio.clone(), video].concat();
        assert_eq!(video_span(&body).unwrap(), Some(VideoSpan { start: 500, end: 8200, timescale: 1000 }));
        // No video track, or a fragmented movie: nothing known.
        assert_eq!(video_span(&[mvhd_v0(1000, 9000), audio.clone()].concat()).unwrap(), None);
        let fragmented = [mvhd_v0(1000, 9000), with_handler(trak(15360, &[(7700, 0)]), b"vide"), boxed(b"mvex", &[])].concat();
        assert_eq!(video_span(&fragmented).unwrap(), None);
    }

    #[test]
    fn nothing_to_patch() {
        // Edits from 0, a fragmented movie, and a movie with no stated duration.
        let plain = [mvhd_v0(1000, 5000), trak(30000, &[(5000, 0)])].concat();
        assert_eq!(duration_patch(&plain, 0).unwrap(), None);
        let fragmented = [mvhd_v0(1000, 5000), trak(30000, &[(5000, 3000)]), boxed(b"mvex", &[])].concat();
        assert_eq!(duration_patch(&fragmented, 0).unwrap(), None);
        let unknown = [mvhd_v0(1000, 0), trak(30000, &[(5000, 3000)])].concat();
        assert_eq!(duration_patch(&unknown, 0).unwrap(), None);
        // A truncated mvhd is an error, not a guess.
        assert!(duration_patch(&boxed(b"mvhd", &[0u8; 6]), 0).is_err());
    }

    /// A video track of media timescale `timescale` whose samples last as `stts` runs say.
    fn video_trak(timescale: u32, stts: &[(u32, u32)]) -> Vec<u8> {
        let mut mdhd = vec![0u8; 4 + 8];
        mdhd.extend_from_slice(&timescale.to_be_bytes());
        mdhd.extend_from_slice(&[0u8; 8]);
        let mut hdlr = vec![0u8; 8];
        hdlr.extend_from_slice(b"vide");
        hdlr.extend_from_slice(&[0u8; 13]);
        let mut table = vec![0u8; 4];
        table.extend_from_slice(&(stts.len() as u32).to_be_bytes());
        for (count, delta) in stts {
            table.extend_from_slice(&count.to_be_bytes());
            table.extend_from_slice(&delta.to_be_bytes());
        }
        let stbl = boxed(b"stbl", &boxed(b"stts", &table));
        let mdia = boxed(b"mdia", &[boxed(b"mdhd", &mdhd), boxed(b"hdlr", &hdlr), boxed(b"minf", &stbl)].concat());
        boxed(b"trak", &[boxed(b"tkhd", &[0u8; 84]), mdia].concat())
    }

    #[test]
    fn frames_on_their_grid_or_off_it() {
        let moov = |timescale: u32, stts: &[(u32, u32)]| [mvhd_v0(1000, 24_000), video_trak(timescale, stts)].concat();
        let at_30 = |stts: &[(u32, u32)]| frames_off_grid(&moov(15360, stts), 30, 1).unwrap();
        // 30 fps at 15360 Hz: 512 ticks a frame; a longer last frame does not count.
        assert_eq!(at_30(&[(719, 512), (1, 900)]), None);
        // 29.97 fps in a 600 Hz timescale that cannot hold it: a 21-tick frame after every 49 of 20.
        let qt: Vec<(u32, u32)> = (0..10).flat_map(|_| [(49, 20), (1, 21)]).collect();
        assert_eq!(frames_off_grid(&moov(600, &qt), 30000, 1001).unwrap(), None);
        // The same durations are off a 30 fps grid: a tick more every 50 frames, over a quarter
        // frame (5 ticks) from sample 300.
        assert_eq!(frames_off_grid(&moov(600, &qt), 30, 1).unwrap().map(|o| o.sample), Some(300));
        // A loop copied on at sample 240 starts 164 ticks (10.7 ms) late, then 328 at 480:
        // over a quarter frame (128 ticks) already at the first seam.
        assert_eq!(
            at_30(&[(239, 512), (1, 676), (239, 512), (1, 676), (240, 512)]),
            Some(OffGrid { sample: 240, decode_time: 239 * 512 + 676, grid_time: 240 * 512, timescale: 15360 })
        );
        // A slow drift (one tick a frame) crosses the quarter frame within its run.
        assert_eq!(at_30(&[(1000, 512), (300, 513)]).map(|o| o.sample), Some(1129));
        // Fragmented: not this header's to say.
        let fragmented = [mvhd_v0(1000, 5000), video_trak(15360, &[(100, 700)]), boxed(b"mvex", &[])].concat();
        assert_eq!(frames_off_grid(&fragmented, 30, 1).unwrap(), None);
    }
}
