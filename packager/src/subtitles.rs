//! The job's sidecar subtitle files as the title's WebVTT renditions (the format work is
//! `manifest::subtitles`): read and checked before any encoding, then cut on the video's
//! segment boundaries once those are known.

use std::path::PathBuf;

use manifest::model::{Presentation, TrackKind};
use manifest::subtitles::{self, Cue, SubtitleTrack};

use crate::error::Error;
use crate::storage::{Caching, Object, content_type as ct};

/// A subtitle file named in a job, and its language (BCP 47, or a code the container way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubtitleFile {
    pub language: Option<String>,
    pub path: PathBuf,
}

/// A file's cues, with its rendition id and language.
pub(crate) struct Loaded {
    id: String,
    language: Option<String>,
    cues: Vec<Cue>,
}

/// Reads and parses every file (bad input when one cannot be read as WebVTT or SRT: the
/// error names the line). Ids: `subs_<language>` (`subs` without one), numbered from the
/// second of the same language on.
pub(crate) fn load(files: &[SubtitleFile]) -> Result<Vec<Loaded>, Error> {
    let mut out: Vec<Loaded> = Vec::new();
    for f in files {
        let text = std::fs::read(&f.path).map_err(|source| Error::InputRead { path: f.path.clone(), source })?;
        let text = String::from_utf8(text).map_err(|_| Error::Subtitles(format!("{}: not UTF-8 text", f.path.display())))?;
        let cues = subtitles::parse(&text, &f.path.display().to_string()).map_err(|e| Error::Subtitles(e.to_string()))?;
        let language = f.language.as_deref().and_then(manifest::language::bcp47);
        let base = language.as_ref().map_or("subs".to_owned(), |l| format!("subs_{}", l.to_ascii_lowercase()));
        let mut id = base.clone();
        let mut n = 1;
        while out.iter().any(|l| l.id == id) {
            n += 1;
            id = format!("{base}{n}");
        }
        out.push(Loaded { id, language, cues });
    }
    Ok(out)
}

/// The subtitle renditions of a title whose video is `p`'s: each loaded file cut on the
/// first video rendition's segments (times from the title's start, which `X-TIMESTAMP-MAP`
/// ties to that rendition's first presentation time), and whole. Returns the tracks and
/// the objects to store before the manifests.
pub(crate) fn renditions(loaded: &[Loaded], p: &Presentation) -> (Vec<SubtitleTrack>, Vec<Object>) {
    let Some(video) = p.renditions_of(TrackKind::Video).next() else { return (Vec::new(), Vec::new()) };
    let ts = u64::from(video.track.timescale.max(1));
    let origin = video.segments.first().map_or(0, |s| s.start);
    let ms = |ticks: u64| (u128::from(ticks.saturating_sub(origin)) * 1000 / u128::from(ts)) as u64;
    let spans: Vec<(u64, u64)> = video.segments.iter().map(|s| (ms(s.start), ms(s.start + s.duration))).collect();
    let mpegts = (u128::from(origin) * 90_000 / u128::from(ts)) as u64;
    let (mut tracks, mut objects) = (Vec::new(), Vec::new());
    for l in loaded {
        let mut segments = Vec::new();
        for (doc, s) in subtitles::segments(&l.cues, &spans, mpegts).into_iter().zip(&video.segments) {
            let uri = subtitles::segment_uri(&l.id, s.index);
            segments.push(subtitles::stored(s.index, uri.clone(), s.start, s.duration, doc.as_bytes()));
            objects.push(crate::object(uri, doc.into_bytes(), ct::VTT, Caching::Immutable));
        }
        let whole = subtitles::whole(&l.cues);
        let uri = subtitles::whole_uri(&l.id);
        let stored = subtitles::stored(0, uri.clone(), 0, 0, whole.as_bytes());
        objects.push(crate::object(uri, whole.into_bytes(), ct::VTT, Caching::Immutable));
        tracks.push(SubtitleTrack { id: l.id.clone(), language: l.language.clone(), segments, timescale: video.track.timescale, whole: stored });
    }
    (tracks, objects)
}
