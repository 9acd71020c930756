//! The title being built: what packaging has produced so far, as a pure value fed by events.
//!
//! The GStreamer side emits events (an init segment, a fragment, a thumbnail, end of
//! stream); [`TitleBuilder`] decides what each one means for the title (its segment number
//! and URI, whether it may be stored yet, whether it breaks a rule) and, at the end, gives the
//! [`Presentation`] and the [`Thumbnails`] that manifests and the catalog are rendered from.
//! It stores nothing itself: the caller stores what it is told to, in that order. Keeping the
//! title's state here, apart from the pipeline, is what lets other producers (a chunk of a
//! title encoded elsewhere) feed the same builder.
//!
//! Rules it holds:
//! - a rendition's init segment is stored once; a later different one is a format change;
//! - media segments are numbered 1, 2, 3... per rendition, named by [`media_segment_uri`],
//!   and a video segment starts with a sync sample;
//! - the title ends with its video: audio segment N is released for storing once video
//!   segment N exists, and audio past the last video segment is dropped at the end (audio
//!   8.05 s long under 8.0 s of video cut every 4 s has no video beside its last fragment).

use std::collections::VecDeque;

use crate::catalog::{Image, Thumbnails};
use crate::chunk::{self, Part};
use crate::subtitles::{TextStream, TimedCue};
use crate::codecs::{self, InitInfo};
use crate::model::{
    init_uri, media_segment_uri, Presentation, Rendition, Segment, Sha256Digest, TrackInfo,
    TrackKind, VideoCodec,
};
use crate::{cmaf, Error, Result};

/// One rendition the title will have, named before any of its data arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedTrack {
    /// Rendition id (folder name, DASH Representation@id).
    pub id: String,
    pub kind: TrackKind,
    /// The rung's codec family (video only).
    pub codec: Option<VideoCodec>,
}

/// What an init segment means for the title.
#[derive(Debug, Clone, PartialEq)]
pub enum InitOutcome {
    /// The rendition's first: store it as this segment (index 0) under its URI.
    Store(Segment),
    /// The same bytes again (a muxer restating its header): nothing to store.
    Repeat,
}

/// A media segment the caller may store now, with its payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Release<B> {
    pub track: usize,
    /// The rendition's id and kind (as planned), for the caller's listener and storage.
    pub rendition: String,
    pub kind: TrackKind,
    pub segment: Segment,
    pub body: B,
}

/// The trick-play sprites' index, once every sheet is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpriteIndex {
    pub vtt_uri: String,
    pub tile_width: u32,
    pub tile_height: u32,
    pub interval_ns: u64,
}

#[derive(Debug)]
struct TrackBuild<B> {
    plan: PlannedTrack,
    init: Option<(InitInfo, Segment)>,
    info: Option<TrackInfo>,
    segments: Vec<Segment>,
    /// Audio fragments not released yet: the video has no segment of their number so far.
    held: VecDeque<(Segment, B)>,
}

/// The title being built; `B` is a fragment's payload, carried through unread.
#[derive(Debug)]
pub struct TitleBuilder<B> {
    video_id: String,
    tracks: Vec<TrackBuild<B>>,
    /// Video segments numbered so far (the same in every rendition), counted from
    /// `first_segment`.
    video_segments: u32,
    /// The number of this part's first media segment (1 unless it is a later chunk).
    first_segment: u32,
    /// Without video in this part: the last audio segment the title's video will reach.
    audio_up_to: Option<u32>,
    poster: Option<Image>,
    sprites: Vec<Image>,
    sprite_index: Option<SpriteIndex>,
    /// The cues of the source's text streams read so far.
    text: Vec<TextStream>,
}

/// What the title became: the presentation, its thumbnails, and how many audio fragments
/// past the video's end were dropped (per rendition id, for the log).
#[derive(Debug, Clone, PartialEq)]
pub struct Built {
    pub presentation: Presentation,
    pub thumbnails: Thumbnails,
    pub dropped_audio: Vec<(String, usize)>,
}

impl<B: AsRef<[u8]>> TitleBuilder<B> {
    pub fn new(video_id: impl Into<String>, tracks: impl IntoIterator<Item = PlannedTrack>) -> Self {
        TitleBuilder {
            video_id: video_id.into(),
            tracks: tracks
                .into_iter()
                .map(|plan| TrackBuild { plan, init: None, info: None, segments: Vec::new(), held: VecDeque::new() })
                .collect(),
            video_segments: 0,
            first_segment: 1,
            audio_up_to: None,
            poster: None,
            sprites: Vec::new(),
            sprite_index: None,
            text: Vec::new(),
        }
    }

    /// A cue of the source's text stream `stream`, in the order the stream gives them, and
    /// the stream's language as its tags say at that cue (the first one said is kept).
    pub fn on_text_cue(&mut self, stream: usize, cue: TimedCue, language: Option<String>) {
        match self.text.iter_mut().find(|t| t.stream == stream) {
            Some(t) => {
                t.cues.push(cue);
                if t.language.is_none() {
                    t.language = language;
                }
            }
            None => self.text.push(TextStream { stream, language, cues: vec![cue] }),
        }
    }

    /// A builder for a part of the title whose media segments are numbered from
    /// `first_segment` (a chunk; see [`crate::chunk`]).
    pub fn numbered_from(mut self, first_segment: u32) -> Self {
        self.first_segment = first_segment.max(1);
        self
    }

    /// For a part without video (the audio of a chunked title): the video's last segment,
    /// as planned. Audio up to it is released at once; audio past it is held and dropped,
    /// as it would be with the video in the same part.
    pub fn audio_up_to(mut self, last_segment: u32) -> Self {
        self.audio_up_to = Some(last_segment);
        self
    }

    /// The planned rendition `track`.
    pub fn track(&self, track: usize) -> &PlannedTrack {
        &self.tracks[track].plan
    }

    /// An init segment of `track` (its bytes as they will be stored). `describe` turns the
    /// facts read from it into the rendition's [`TrackInfo`] (the caller adds what the
    /// source says, such as the frame rate).
    pub fn on_init(
        &mut self,
        track: usize,
        bytes: &[u8],
        sha256: Sha256Digest,
        describe: impl FnOnce(&PlannedTrack, &InitInfo) -> TrackInfo,
    ) -> Result<InitOutcome> {
        let t = &mut self.tracks[track];
        if let Some((_, prev)) = &t.init {
            if prev.sha256 != sha256 {
                return Err(Error::FormatChanged { rendition: t.plan.id.clone() });
            }
            return Ok(InitOutcome::Repeat);
        }
        let info = codecs::from_init_segment(bytes).map_err(|e| in_track(&t.plan.id, e))?;
        let seg = Segment { index: 0, start: 0, duration: 0, size: bytes.len() as u64, sha256, uri: init_uri(&t.plan.id), key_frame_bytes: None };
        t.info = Some(describe(&t.plan, &info));
        t.init = Some((info, seg.clone()));
        Ok(InitOutcome::Store(seg))
    }

    /// The [`TrackInfo`] of `track`, once its init segment came.
    pub fn track_info(&self, track: usize) -> Option<&TrackInfo> {
        self.tracks[track].info.as_ref()
    }

    /// A media fragment (moof + mdat) of `track`: numbered, named, and returned with every
    /// segment that may be stored now, in order (a video segment releases the audio of its
    /// number; an audio one waits for it).
    pub fn on_fragment(&mut self, track: usize, body: B, sha256: Sha256Digest) -> Result<Vec<Release<B>>> {
        let t = &mut self.tracks[track];
        let Some((info, _)) = &t.init else {
            return Err(Error::FragmentBeforeInit { rendition: t.plan.id.clone() });
        };
        let frag = cmaf::parse_fragment(body.as_ref(), info).map_err(|e| in_track(&t.plan.id, e))?;
        let index = self.first_segment + (t.segments.len() + t.held.len()) as u32;
        if t.plan.kind == TrackKind::Video && !frag.first_sample_is_sync {
            return Err(Error::NoKeyframeAtSegmentStart { rendition: t.plan.id.clone(), index });
        }
        let segment = Segment {
            index,
            start: frag.earliest_presentation_time.max(0) as u64,
            duration: frag.duration,
            size: body.as_ref().len() as u64,
            sha256,
            uri: media_segment_uri(&t.plan.id, index),
            key_frame_bytes: (t.plan.kind == TrackKind::Video).then_some(frag.first_sample_end).flatten(),
        };
        let mut out = Vec::new();
        if t.plan.kind == TrackKind::Audio {
            t.held.push_back((segment, body));
        } else {
            self.video_segments = self.video_segments.max(index);
            t.segments.push(segment.clone());
            out.push(Release { track, rendition: t.plan.id.clone(), kind: t.plan.kind, segment, body });
        }
        self.release_audio(&mut out);
        Ok(out)
    }

    /// Audio fragments whose number the video has reached. Without video in this part (the
    /// audio of a chunked title) audio is released at once, up to [`Self::audio_up_to`]:
    /// assembly leaves out what still falls past the video's end.
    fn release_audio(&mut self, out: &mut Vec<Release<B>>) {
        let reached = match self.tracks.iter().any(|t| t.plan.kind == TrackKind::Video) {
            true => self.video_segments,
            false => self.audio_up_to.unwrap_or(u32::MAX),
        };
        for (track, t) in self.tracks.iter_mut().enumerate() {
            while t.held.front().is_some_and(|(seg, _)| seg.index <= reached) {
                let (segment, body) = t.held.pop_front().expect("front exists");
                t.segments.push(segment.clone());
                out.push(Release { track, rendition: t.plan.id.clone(), kind: t.plan.kind, segment, body });
            }
        }
    }

    pub fn on_poster(&mut self, poster: Image) {
        self.poster = Some(poster);
    }

    pub fn on_sprite(&mut self, sheet: Image) {
        self.sprites.push(sheet);
    }

    pub fn on_sprites_done(&mut self, index: SpriteIndex) {
        self.sprite_index = Some(index);
    }

    /// End of the streams: the segments still to store (audio the video has reached since)
    /// and the title, or what it lacks. Audio past the video's last segment is dropped.
    pub fn finish(self) -> Result<(Vec<Release<B>>, Built)> {
        let video_id = self.video_id.clone();
        let FinishedPart { last, part, dropped_audio } = self.finish_part("the title")?;
        if part.thumbnails.is_none() {
            return Err(Error::ThumbnailsMissing { what: "no poster frame was decoded" });
        }
        let assembled = chunk::assemble(&video_id, vec![part])?;
        Ok((last, Built { presentation: assembled.presentation, thumbnails: assembled.thumbnails, dropped_audio }))
    }

    /// End of this part's streams: the segments still to store, the part (named `name`), and
    /// the audio fragments held past the video's end, dropped (per rendition id).
    pub fn finish_part(mut self, name: &str) -> Result<FinishedPart<B>> {
        let mut last = Vec::new();
        self.release_audio(&mut last);
        let dropped_audio = self
            .tracks
            .iter_mut()
            .filter(|t| !t.held.is_empty())
            .map(|t| (t.plan.id.clone(), std::mem::take(&mut t.held).len()))
            .collect();
        let thumbnails = match (self.poster, self.sprite_index) {
            (None, None) if self.sprites.is_empty() => None,
            (None, _) => return Err(Error::ThumbnailsMissing { what: "no poster frame was decoded" }),
            (Some(_), None) => return Err(Error::ThumbnailsMissing { what: "trick-play sprites did not finish" }),
            (Some(poster), Some(index)) => Some(Thumbnails {
                poster,
                sprites: self.sprites,
                index_vtt_uri: index.vtt_uri,
                interval_ms: index.interval_ns / 1_000_000,
                tile_width: index.tile_width,
                tile_height: index.tile_height,
            }),
        };
        let mut renditions = Vec::new();
        for t in self.tracks {
            match (t.init, t.info) {
                (Some((_, init)), Some(track)) if !t.segments.is_empty() => {
                    renditions.push(Rendition { track, init, segments: t.segments })
                }
                _ => return Err(Error::NoSegments { rendition: t.plan.id }),
            }
        }
        Ok(FinishedPart { last, part: Part { name: name.to_owned(), renditions, thumbnails, worker: None, text: self.text }, dropped_audio })
    }
}

/// What [`TitleBuilder::finish_part`] gives.
#[derive(Debug)]
pub struct FinishedPart<B> {
    /// The segments still to store.
    pub last: Vec<Release<B>>,
    pub part: Part,
    /// The audio fragments held past the video's end, dropped (per rendition id: how many).
    pub dropped_audio: Vec<(String, usize)>,
}

fn in_track(rendition: &str, source: Error) -> Error {
    Error::InTrack { rendition: rendition.to_owned(), source: Box::new(source) }
}
