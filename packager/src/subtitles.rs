//! The title's WebVTT renditions (the format work is `manifest::subtitles`): the source's
//! own text streams, read by the pipeline, then the job's sidecar files, read and checked
//! before any encoding; each cut on the video's segment boundaries once those are known.

use std::path::PathBuf;

use manifest::model::{Presentation, TrackKind};
use manifest::subtitles::{self, Cue, SubtitleTrack, TextStream, TimedCue};

use crate::error::Error;
use crate::probe::SourceMedia;
use crate::storage::{Caching, Object, content_type as ct};

/// A subtitle file named in a job, and its language (BCP 47, or a code the container way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubtitleFile {
    pub language: Option<String>,
    pub path: PathBuf,
}

/// A subtitle rendition's cues, before they are cut: a file's (on the title's clock) or a
/// text stream's of the source (on the media's, put on the title's once the video's first
/// presentation time is known).
pub(crate) struct Loaded {
    language: Option<String>,
    cues: Cues,
}

enum Cues {
    Title(Vec<Cue>),
    Media(Vec<TimedCue>),
}

/// Reads and parses every file (bad input when one cannot be read as WebVTT or SRT: the
/// error names the line).
pub(crate) fn load(files: &[SubtitleFile]) -> Result<Vec<Loaded>, Error> {
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read(&f.path).map_err(|source| Error::InputRead { path: f.path.clone(), source })?;
        let text = String::from_utf8(text).map_err(|_| Error::Subtitles(format!("{}: not UTF-8 text", f.path.display())))?;
        let cues = subtitles::parse(&text, &f.path.display().to_string()).map_err(|e| Error::Subtitles(e.to_string()))?;
        out.push(Loaded { language: f.language.as_deref().and_then(manifest::language::bcp47), cues: Cues::Title(cues) });
    }
    Ok(out)
}

/// The source's text streams that had cues, in the source's order, with their languages.
pub(crate) fn embedded(text: &[TextStream], source: &SourceMedia) -> Vec<Loaded> {
    let mut streams: Vec<&TextStream> = text.iter().filter(|t| !t.cues.is_empty()).collect();
    streams.sort_by_key(|t| t.stream);
    streams
        .into_iter()
        .map(|t| Loaded {
            language: source.text_streams.get(t.stream).and_then(|s| s.language.clone()).or_else(|| t.language.clone()),
            cues: Cues::Media(t.cues.clone()),
        })
        .collect()
}

/// Rendition ids: `subs_<language>` (`subs` without one), numbered from the second of the
/// same language on.
fn ids(loaded: &[Loaded]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in loaded {
        let base = l.language.as_ref().map_or("subs".to_owned(), |lang| format!("subs_{}", lang.to_ascii_lowercase()));
        let mut id = base.clone();
        let mut n = 1;
        while out.contains(&id) {
            n += 1;
            id = format!("{base}{n}");
        }
        out.push(id);
    }
    out
}

/// Reads and parses every file, as a job does before any encoding: the error a bad file
/// would fail the job with.
pub fn check(files: &[SubtitleFile]) -> Result<(), Error> {
    load(files).map(|_| ())
}

/// The subtitle renditions of a title whose video is `p`'s: each loaded file cut on the
/// first video rendition's segments (times from the title's start, which `X-TIMESTAMP-MAP`
/// ties to that rendition's first presentation time), and whole. Returns the tracks and
/// the objects to store before the manifests.
pub(crate) fn renditions(loaded: &[Loaded], p: &Presentation) -> (Vec<SubtitleTrack>, Vec<Object>) {
    let Some(video) = p.renditions_of(TrackKind::Video).next() else { return (Vec::new(), Vec::new()) };
    let ts = u64::from(video.track.timescale.max(1));
    let origin = video.segments.first().map_or(0, |s| s.start);
    let origin_ns = (u128::from(origin) * 1_000_000_000 / u128::from(ts)) as u64;
    let ms = |ticks: u64| (u128::from(ticks.saturating_sub(origin)) * 1000 / u128::from(ts)) as u64;
    let spans: Vec<(u64, u64)> = video.segments.iter().map(|s| (ms(s.start), ms(s.start + s.duration))).collect();
    let mpegts = (u128::from(origin) * 90_000 / u128::from(ts)) as u64;
    let (mut tracks, mut objects) = (Vec::new(), Vec::new());
    for (l, id) in loaded.iter().zip(ids(loaded)) {
        let media;
        let cues = match &l.cues {
            Cues::Title(cues) => cues,
            Cues::Media(timed) => {
                media = subtitles::title_cues(timed, origin_ns);
                &media
            }
        };
        let mut segments = Vec::new();
        for (doc, s) in subtitles::segments(cues, &spans, mpegts).into_iter().zip(&video.segments) {
            let uri = subtitles::segment_uri(&id, s.index);
            segments.push(subtitles::stored(s.index, uri.clone(), s.start, s.duration, doc.as_bytes()));
            objects.push(crate::object(uri, doc.into_bytes(), ct::VTT, Caching::Immutable));
        }
        let whole = subtitles::whole(cues);
        let uri = subtitles::whole_uri(&id);
        let stored = subtitles::stored(0, uri.clone(), 0, 0, whole.as_bytes());
        objects.push(crate::object(uri, whole.into_bytes(), ct::VTT, Caching::Immutable));
        tracks.push(SubtitleTrack { id, language: l.language.clone(), segments, timescale: video.track.timescale, whole: stored });
    }
    (tracks, objects)
}
