//! A title made in parts: the plan that cuts its video into chunks of whole segments, and
//! the assembly of what each part produced into one [`Presentation`].
//!
//! A chunk is a run of whole video segments (`first_segment`, `segments`; the last chunk
//! runs to the end of the video), so stitching is listing segments, never re-muxing. The
//! audio and the thumbnails are one more part, made whole over the title. A title with only
//! one part (no chunking) is assembled the same way: there is one way to build a title.
//!
//! Assembly holds the rules that span parts:
//! - a rendition's init segment is the same in every part that has it (a chunk encoded with
//!   other settings would make a player's decoder fail at the seam);
//! - its media segments are numbered 1, 2, 3... across the parts, in order;
//! - each part's first segment starts where the previous part's last one ended, to the tick;
//! - the title ends with its video: audio segments past the last video segment are left out
//!   (and named, so whoever stored them can say so);
//! - exactly one part made the thumbnails.

use serde::{Deserialize, Serialize};

use crate::catalog::Thumbnails;
use crate::model::{Presentation, Rendition, Segment, TrackKind};
use crate::subtitles::TextStream;
use crate::{Error, Result};

/// One chunk of the title's video: `segments` whole segments from `first_segment` (1-based),
/// or every segment from there to the end of the video (`None`, the last chunk).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkSpan {
    /// 0-based position in the plan.
    pub index: u32,
    pub first_segment: u32,
    pub segments: Option<u32>,
}

impl ChunkSpan {
    /// Where the chunk starts on the title's timeline, given a segment's length in frames
    /// and the frame rate (`num`/`den`), in nanoseconds rounded down.
    pub fn start_ns(&self, segment_frames: u32, rate_num: u32, rate_den: u32) -> u64 {
        segment_start_ns(self.first_segment, segment_frames, rate_num, rate_den)
    }

    /// Where the next chunk starts (`None` for the last chunk: the video's end).
    pub fn end_ns(&self, segment_frames: u32, rate_num: u32, rate_den: u32) -> Option<u64> {
        self.segments.map(|n| segment_start_ns(self.first_segment + n, segment_frames, rate_num, rate_den))
    }
}

/// Start of 1-based segment `index` when every segment is `segment_frames` frames.
fn segment_start_ns(index: u32, segment_frames: u32, rate_num: u32, rate_den: u32) -> u64 {
    let frames = u128::from(index - 1) * u128::from(segment_frames);
    (frames * 1_000_000_000 * u128::from(rate_den) / u128::from(rate_num.max(1))) as u64
}

/// Cuts a video of `video_ns` into chunks of about `chunk_ns` (whole segments of
/// `segment_ns`; at least one each): as many as fit whole, the segments left over spread
/// one each over the last chunks, so that no chunk is much longer than the others (a farm
/// waits for its longest chunk: 60 segments in chunks of 8 are 8, 8, 8, 9, 9, 9, 9, not six
/// of 8 and one of 12). The last chunk runs to the end, whatever the header's duration
/// says. A video shorter than two chunks (or `chunk_ns` 0) is one chunk.
pub fn plan(video_ns: u64, segment_ns: u64, chunk_ns: u64) -> Vec<ChunkSpan> {
    let whole = vec![ChunkSpan { index: 0, first_segment: 1, segments: None }];
    if chunk_ns == 0 || segment_ns == 0 {
        return whole;
    }
    let per_chunk = ((chunk_ns as f64 / segment_ns as f64).round() as u64).max(1);
    let chunks = video_ns / (per_chunk * segment_ns);
    if chunks < 2 {
        return whole;
    }
    let segments = video_ns.div_ceil(segment_ns);
    let (base, extra) = (segments / chunks, segments % chunks);
    let length = |i: u64| (base + u64::from(i >= chunks - extra)) as u32;
    let mut first = 1u32;
    (0..chunks)
        .map(|i| {
            let span = ChunkSpan { index: i as u32, first_segment: first, segments: (i + 1 < chunks).then(|| length(i)) };
            first += length(i);
            span
        })
        .collect()
}

/// What one part of a title produced: renditions (possibly only some of their segments)
/// and, for the part that made them, the thumbnails.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Part {
    /// Names the part in errors (`chunk 3`, `audio and thumbnails`).
    pub name: String,
    pub renditions: Vec<Rendition>,
    pub thumbnails: Option<Thumbnails>,
    /// Who made it, when the caller says.
    pub worker: Option<Worker>,
    /// The cues of the source's text streams, from the part that read them (the title's
    /// whole, or its audio-and-thumbnails part).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub text: Vec<TextStream>,
}

/// A worker process: its host's name and its process id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Worker {
    pub host: String,
    pub pid: u32,
}

/// What the catalog says of one part: its name, the segments it made in the title (its
/// video's, or for the audio part its audio's), and who made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartRecord {
    pub part: String,
    pub first_segment: u32,
    pub last_segment: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<Worker>,
}

/// The assembled title, what each part made of it, and the audio segments it leaves out
/// (stored past the video's end).
#[derive(Debug, Clone, PartialEq)]
pub struct Assembled {
    pub presentation: Presentation,
    pub thumbnails: Thumbnails,
    pub parts: Vec<PartRecord>,
    pub dropped_audio: Vec<Segment>,
    /// The source's text streams, as the part that read them found them.
    pub text: Vec<TextStream>,
}

/// Builds the title from its parts, in the order given (chunks in order; the audio part
/// anywhere). Renditions keep the order of their first appearance.
pub fn assemble(video_id: &str, parts: Vec<Part>) -> Result<Assembled> {
    let mut renditions: Vec<(Rendition, String)> = Vec::new();
    let mut thumbnails = None;
    let mut records = Vec::new();
    let mut text = Vec::new();
    for part in parts {
        if !part.text.is_empty() {
            if !text.is_empty() {
                return Err(Error::PartsDisagree { part: part.name, reason: "a second part read the text streams".into() });
            }
            text = part.text;
        }
        let made = part.renditions.iter().find(|r| r.track.kind == TrackKind::Video).or(part.renditions.first());
        if let Some((first, last)) = made.and_then(|r| Some((r.segments.first()?.index, r.segments.last()?.index))) {
            records.push(PartRecord { part: part.name.clone(), first_segment: first, last_segment: last, worker: part.worker.clone() });
        }
        if let Some(t) = part.thumbnails {
            if thumbnails.is_some() {
                return Err(Error::PartsDisagree { part: part.name, reason: "a second part made thumbnails".into() });
            }
            thumbnails = Some(t);
        }
        for r in part.renditions {
            match renditions.iter_mut().find(|(have, _)| have.track.id == r.track.id) {
                None => renditions.push((r, part.name.clone())),
                Some((have, first_part)) => join(have, r, first_part, &part.name)?,
            }
        }
    }
    let thumbnails = thumbnails.ok_or(Error::ThumbnailsMissing { what: "no part made the thumbnails" })?;
    let mut renditions: Vec<Rendition> = renditions.into_iter().map(|(r, _)| r).collect();
    let video_segments = renditions
        .iter()
        .filter(|r| r.track.kind == TrackKind::Video)
        .map(|r| r.segments.len())
        .min()
        .unwrap_or(usize::MAX);
    let mut dropped_audio = Vec::new();
    for r in renditions.iter_mut().filter(|r| r.track.kind == TrackKind::Audio) {
        if r.segments.len() > video_segments {
            dropped_audio.extend(r.segments.drain(video_segments..));
        }
    }
    for r in &renditions {
        if r.segments.is_empty() {
            return Err(Error::NoSegments { rendition: r.track.id.clone() });
        }
        if let Some((position, s)) = r.segments.iter().enumerate().find(|(i, s)| s.index as usize != i + 1) {
            return Err(Error::SegmentNumbering {
                rendition: r.track.id.clone(),
                position,
                index: s.index,
                expected: position as u32 + 1,
            });
        }
    }
    if video_segments != usize::MAX {
        for record in &mut records {
            record.last_segment = record.last_segment.min(video_segments as u32);
        }
    }
    Ok(Assembled { presentation: Presentation { video_id: video_id.to_owned(), renditions, subtitles: Vec::new() }, thumbnails, parts: records, dropped_audio, text })
}

/// Appends `next`'s segments (from part `part`) to `have` (first seen in `first_part`).
fn join(have: &mut Rendition, next: Rendition, first_part: &str, part: &str) -> Result<()> {
    let id = &have.track.id;
    if next.init.sha256 != have.init.sha256 {
        return Err(Error::PartsDisagree {
            part: part.to_owned(),
            reason: format!(
                "{id}: init segment {} differs from {first_part}'s {}: the parts were not encoded alike",
                next.init.sha256, have.init.sha256
            ),
        });
    }
    if let (Some(last), Some(first)) = (have.segments.last(), next.segments.first()) {
        let end = last.start + last.duration;
        if first.index != last.index + 1 {
            return Err(Error::PartsDisagree {
                part: part.to_owned(),
                reason: format!("{id}: starts at segment {}, the part before ends at {}", first.index, last.index),
            });
        }
        if first.start != end {
            return Err(Error::PartsDisagree {
                part: part.to_owned(),
                reason: format!(
                    "{id}: segment {} starts at {} but the one before ends at {end} ({} Hz ticks)",
                    first.index, first.start, have.track.timescale
                ),
            });
        }
    }
    have.segments.extend(next.segments);
    Ok(())
}
