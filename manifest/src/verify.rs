//! Checking a stored title against its catalog document, without I/O: which objects the
//! catalog names (and the size and sha256 each must have), whether its timelines are
//! continuous, whether its fingerprint recomputes, and whether each manifest names exactly
//! what the catalog says, at the catalog's times. `vodpipe verify` reads the objects and
//! feeds them here.
//!
//! Every check returns problems as sentences naming the object; an empty list is a pass.

use std::collections::BTreeSet;

use crate::catalog::{Catalog, CatalogRendition, Chunk, InitChunk};
use crate::model::Sha256Digest;

/// An object the catalog names. Playlists and manifests have no digest in the catalog
/// (they are checked by parsing them instead).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Relative to the title's root.
    pub key: String,
    pub size: Option<u64>,
    pub sha256: Option<Sha256Digest>,
}

impl Expected {
    fn digest(key: &str, size: u64, sha256: Sha256Digest) -> Expected {
        Expected { key: key.to_owned(), size: Some(size), sha256: Some(sha256) }
    }

    fn text(key: &str) -> Expected {
        Expected { key: key.to_owned(), size: None, sha256: None }
    }
}

/// Every object the catalog names: manifests, playlists, init and media segments,
/// subtitles, thumbnails. Each key once, in the catalog's order.
pub fn catalog_objects(c: &Catalog) -> Vec<Expected> {
    let mut v = vec![Expected::text(&c.manifests.hls), Expected::text(&c.manifests.dash)];
    let init = |i: &InitChunk| Expected::digest(&i.uri, i.size, i.sha256);
    let chunk = |ch: &Chunk| Expected::digest(&ch.uri, ch.size, ch.sha256);
    for r in &c.renditions {
        v.push(Expected::text(&r.playlist));
        if let Some(iframes) = &r.iframe_playlist {
            v.push(Expected::text(iframes));
        }
        v.push(init(&r.init));
        v.extend(r.chunks.iter().map(chunk));
    }
    for s in &c.subtitles {
        v.push(Expected::text(&s.playlist));
        v.push(init(&s.whole));
        v.extend(s.chunks.iter().map(chunk));
    }
    let t = &c.thumbnails;
    for image in std::iter::once(&t.poster).chain(&t.sprites) {
        v.push(Expected::digest(&image.uri, image.size, image.sha256));
    }
    v.push(Expected::text(&t.index_vtt_uri));
    let mut seen = BTreeSet::new();
    v.retain(|e| seen.insert(e.key.clone()));
    v
}

/// What is wrong with an object as read: its size and digest against the catalog's.
pub fn object_problems(e: &Expected, bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(size) = e.size
        && bytes.len() as u64 != size
    {
        out.push(format!("{}: {} bytes, the catalog says {size}", e.key, bytes.len()));
    }
    if let Some(want) = e.sha256 {
        let got = Sha256Digest::of(bytes);
        if got != want {
            out.push(format!("{}: sha256 {got}, the catalog says {want}", e.key));
        }
    }
    out
}

/// Each rendition's and subtitle track's segments numbered from 1 without a gap, each
/// starting where the one before ends (to the tick), none empty.
pub fn timeline_problems(c: &Catalog) -> Vec<String> {
    let mut out = Vec::new();
    let tracks = c
        .renditions
        .iter()
        .map(|r| (r.id.as_str(), &r.chunks))
        .chain(c.subtitles.iter().map(|s| (s.id.as_str(), &s.chunks)));
    for (id, chunks) in tracks {
        if chunks.is_empty() {
            out.push(format!("{id}: no segments"));
        }
        for (k, ch) in chunks.iter().enumerate() {
            if ch.index as usize != k + 1 {
                out.push(format!("{id}: segment {} is numbered {}", k + 1, ch.index));
            }
            if ch.duration == 0 {
                out.push(format!("{id}: segment {} lasts 0 ticks", ch.index));
            }
            if let Some(next) = chunks.get(k + 1) {
                let end = ch.start + ch.duration;
                if next.start != end {
                    out.push(format!(
                        "{id}: segment {} starts at tick {} but segment {} ends at {end}",
                        next.index, next.start, ch.index
                    ));
                }
            }
        }
    }
    out
}

/// The fingerprint the catalog's digests give (see [`crate::catalog::video_fingerprint`]),
/// against the one it states.
pub fn fingerprint_problems(c: &Catalog) -> Vec<String> {
    let tracks = c.renditions.iter().map(|r| (r.id.as_str(), r.init.sha256, r.chunks.iter().map(|ch| ch.sha256)));
    let got = crate::catalog::fingerprint_of(tracks);
    if got == c.fingerprint {
        Vec::new()
    } else {
        vec![format!("the renditions' digests give the fingerprint {got}, the catalog says {}", c.fingerprint)]
    }
}

/// `uri` as a key of the title, read from the object at `base` (relative to the root).
pub fn resolve(base: &str, uri: &str) -> String {
    let uri = uri.split(['#', '?']).next().unwrap_or(uri);
    let mut parts: Vec<&str> = base.split('/').collect();
    parts.pop();
    for p in uri.split('/') {
        match p {
            "." | "" => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// The playlists the catalog names, by key.
fn catalog_playlists(c: &Catalog) -> BTreeSet<String> {
    c.renditions
        .iter()
        .flat_map(|r| std::iter::once(r.playlist.clone()).chain(r.iframe_playlist.clone()))
        .chain(c.subtitles.iter().map(|s| s.playlist.clone()))
        .collect()
}

/// The master playlist names every playlist of the catalog, and only those.
pub fn master_problems(c: &Catalog, text: &str) -> Vec<String> {
    let key = &c.manifests.hls;
    let master = match m3u8_rs::parse_master_playlist_res(text.as_bytes()) {
        Ok(m) => m,
        Err(e) => return vec![format!("{key}: not an HLS master playlist ({e})")],
    };
    let mut named = BTreeSet::new();
    named.extend(master.variants.iter().map(|v| resolve(key, &v.uri)));
    named.extend(master.alternatives.iter().filter_map(|a| a.uri.as_deref()).map(|u| resolve(key, u)));
    let want = catalog_playlists(c);
    let mut out = Vec::new();
    for n in named.difference(&want) {
        out.push(format!("{key}: names {n}, which the catalog does not list"));
    }
    for w in want.difference(&named) {
        out.push(format!("{key}: does not name {w}"));
    }
    out
}

/// A media playlist names the catalog's init segment (`None`: a WebVTT playlist, which has
/// none) and segments in order, each with its duration (to the microsecond EXTINF is
/// written with).
pub fn media_playlist_problems(key: &str, init: Option<&InitChunk>, chunks: &[Chunk], text: &str) -> Vec<String> {
    let playlist = match m3u8_rs::parse_media_playlist_res(text.as_bytes()) {
        Ok(p) => p,
        Err(e) => return vec![format!("{key}: not an HLS media playlist ({e})")],
    };
    let mut out = Vec::new();
    if !playlist.end_list {
        out.push(format!("{key}: no EXT-X-ENDLIST"));
    }
    let map = playlist.segments.first().and_then(|s| s.map.as_ref()).map(|m| resolve(key, &m.uri));
    if map.as_deref() != init.map(|i| i.uri.as_str()) {
        out.push(format!("{key}: EXT-X-MAP is {map:?}, the catalog's init segment is {:?}", init.map(|i| &i.uri)));
    }
    if playlist.segments.len() != chunks.len() {
        out.push(format!("{key}: {} segments, the catalog lists {}", playlist.segments.len(), chunks.len()));
    }
    for (s, ch) in playlist.segments.iter().zip(chunks) {
        let uri = resolve(key, &s.uri);
        if uri != ch.uri {
            out.push(format!("{key}: segment {} is {uri}, the catalog's is {}", ch.index, ch.uri));
        }
        if (f64::from(s.duration) - ch.duration_seconds).abs() > 0.0005 {
            out.push(format!("{key}: EXTINF of {} is {}, the catalog says {:.6} s", ch.uri, s.duration, ch.duration_seconds));
        }
    }
    out
}

/// An I-frame playlist names the rendition's segments in order, each by a byte range
/// inside the segment.
pub fn iframe_playlist_problems(key: &str, r: &CatalogRendition, text: &str) -> Vec<String> {
    let playlist = match m3u8_rs::parse_media_playlist_res(text.as_bytes()) {
        Ok(p) => p,
        Err(e) => return vec![format!("{key}: not an HLS playlist ({e})")],
    };
    let mut out = Vec::new();
    if !playlist.i_frames_only {
        out.push(format!("{key}: no EXT-X-I-FRAMES-ONLY"));
    }
    if playlist.segments.len() != r.chunks.len() {
        out.push(format!("{key}: {} key frames, the rendition has {} segments", playlist.segments.len(), r.chunks.len()));
    }
    for (s, ch) in playlist.segments.iter().zip(&r.chunks) {
        let uri = resolve(key, &s.uri);
        if uri != ch.uri {
            out.push(format!("{key}: key frame of segment {} is in {uri}, the catalog's segment is {}", ch.index, ch.uri));
        }
        match &s.byte_range {
            Some(range) if range.offset.unwrap_or(0) + range.length <= ch.size => {}
            Some(range) => out.push(format!(
                "{key}: byte range {}@{} runs past the end of {} ({} bytes)",
                range.length,
                range.offset.unwrap_or(0),
                ch.uri,
                ch.size
            )),
            None => out.push(format!("{key}: key frame of segment {} has no EXT-X-BYTERANGE", ch.index)),
        }
    }
    out
}

/// The thumbnail index (WebVTT) points into the catalog's sprite sheets only.
pub fn thumbnail_index_problems(c: &Catalog, text: &str) -> Vec<String> {
    let key = &c.thumbnails.index_vtt_uri;
    if !text.starts_with("WEBVTT") {
        return vec![format!("{key}: not WebVTT")];
    }
    let sprites: BTreeSet<&str> = c.thumbnails.sprites.iter().map(|s| s.uri.as_str()).collect();
    let mut out = Vec::new();
    let mut cues = 0;
    for line in text.lines().filter(|l| l.contains("#xywh=")) {
        cues += 1;
        let uri = resolve(key, line.trim());
        if !sprites.contains(uri.as_str()) {
            out.push(format!("{key}: points into {uri}, which the catalog does not list"));
        }
    }
    if cues == 0 {
        out.push(format!("{key}: no thumbnail cues"));
    }
    out
}

/// Expands a DASH SegmentTemplate string (`$RepresentationID$`, `$Number%05d$`, `$Time$`).
pub fn expand_template(template: &str, id: &str, number: u64, time: u64) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('$') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('$') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let token = &after[..end];
        let (name, width) = match token.split_once('%') {
            Some((n, f)) => (n, f.trim_start_matches('0').trim_end_matches('d').parse::<usize>().unwrap_or(0)),
            None => (token, 0),
        };
        match name {
            "" => out.push('$'),
            "RepresentationID" => out.push_str(id),
            "Number" => out.push_str(&format!("{number:0width$}")),
            "Time" => out.push_str(&format!("{time:0width$}")),
            other => out.push_str(&format!("${other}$")),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The MPD describes each rendition of the catalog by its id, with the catalog's init
/// segment and segments at the catalog's times (to the tick, whatever the timescales),
/// the sprites and the subtitle files; it names nothing else.
pub fn mpd_problems(c: &Catalog, text: &str) -> Vec<String> {
    let key = &c.manifests.dash;
    let mpd = match dash_mpd_core::parse(text) {
        Ok(m) => m,
        Err(e) => return vec![format!("{key}: not a DASH MPD ({e})")],
    };
    let mut out = Vec::new();
    let mut described = BTreeSet::new();
    let sprites: BTreeSet<&str> = c.thumbnails.sprites.iter().map(|s| s.uri.as_str()).collect();
    let subtitle_files: BTreeSet<&str> = c.subtitles.iter().map(|s| s.whole.uri.as_str()).collect();
    for period in &mpd.periods {
        for set in &period.adaptations {
            for rep in &set.representations {
                let id = rep.id.clone().unwrap_or_default();
                let template = rep.SegmentTemplate.as_ref().or(set.SegmentTemplate.as_ref());
                if set.contentType.as_deref() == Some("image") {
                    let Some(media) = template.and_then(|t| t.media.as_deref()) else {
                        out.push(format!("{key}: thumbnails {id} have no SegmentTemplate@media"));
                        continue;
                    };
                    let start = template.and_then(|t| t.startNumber).unwrap_or(1);
                    for n in 0..c.thumbnails.sprites.len() as u64 {
                        let uri = resolve(key, &expand_template(media, &id, start + n, 0));
                        if !sprites.contains(uri.as_str()) {
                            out.push(format!("{key}: thumbnail sheet {} is {uri}, which the catalog does not list", n + 1));
                        }
                    }
                    continue;
                }
                if let Some(base) = rep.BaseURL.first() {
                    let uri = resolve(key, &base.base);
                    if !subtitle_files.contains(uri.as_str()) {
                        out.push(format!("{key}: {id} names {uri}, which the catalog does not list"));
                    }
                    described.insert(uri);
                    continue;
                }
                let Some(r) = c.renditions.iter().find(|r| r.id == id) else {
                    out.push(format!("{key}: Representation {id:?} is no rendition of the catalog"));
                    continue;
                };
                described.insert(r.id.clone());
                match template {
                    Some(t) => out.extend(template_problems(key, r, t)),
                    None => out.push(format!("{key}: {id} has no SegmentTemplate")),
                }
            }
        }
    }
    for r in &c.renditions {
        if !described.contains(&r.id) {
            out.push(format!("{key}: does not describe rendition {}", r.id));
        }
    }
    for s in &c.subtitles {
        if !described.contains(&s.whole.uri) {
            out.push(format!("{key}: does not name subtitle file {}", s.whole.uri));
        }
    }
    out
}

fn template_problems(key: &str, r: &CatalogRendition, t: &dash_mpd_core::SegmentTemplate) -> Vec<String> {
    let id = &r.id;
    let mut out = Vec::new();
    let init = t.initialization.as_deref().map(|i| resolve(key, &expand_template(i, id, 0, 0)));
    if init.as_deref() != Some(r.init.uri.as_str()) {
        out.push(format!("{key}: {id}'s initialization is {init:?}, the catalog's init segment is {}", r.init.uri));
    }
    let Some(media) = t.media.as_deref() else {
        return vec![format!("{key}: {id} has no SegmentTemplate@media")];
    };
    let Some(timeline) = &t.SegmentTimeline else {
        return vec![format!("{key}: {id} has no SegmentTimeline")];
    };
    let scale = u128::from(t.timescale.unwrap_or(1));
    let ours = u128::from(r.timescale);
    let start_number = t.startNumber.unwrap_or(1);
    let mut entries: Vec<(u64, u64)> = Vec::new();
    let mut next = 0u64;
    for s in &timeline.segments {
        let mut time = s.t.unwrap_or(next);
        for _ in 0..=s.r.unwrap_or(0).max(0) {
            entries.push((time, s.d));
            time += s.d;
        }
        next = time;
    }
    if entries.len() != r.chunks.len() {
        out.push(format!("{key}: {id}'s SegmentTimeline has {} segments, the catalog lists {}", entries.len(), r.chunks.len()));
    }
    for (k, ((time, d), ch)) in entries.iter().zip(&r.chunks).enumerate() {
        let uri = resolve(key, &expand_template(media, id, start_number + k as u64, *time));
        if uri != ch.uri {
            out.push(format!("{key}: {id}'s segment {} is {uri}, the catalog's is {}", ch.index, ch.uri));
        }
        // Media times (what each fragment's tfdt says) against the catalog's, in either
        // timescale, exactly.
        if u128::from(*time) * ours != u128::from(ch.start) * scale || u128::from(*d) * ours != u128::from(ch.duration) * scale {
            out.push(format!(
                "{key}: {id}'s segment {} is at {time}+{d} (timescale {scale}), the catalog says {}+{} (timescale {ours})",
                ch.index, ch.start, ch.duration
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_resolve_against_the_object_that_names_them() {
        assert_eq!(resolve("h264_720p/playlist.m3u8", "seg-00001.m4s"), "h264_720p/seg-00001.m4s");
        assert_eq!(resolve("master.m3u8", "audio/playlist.m3u8"), "audio/playlist.m3u8");
        assert_eq!(resolve("thumbs/thumbs.vtt", "sprite-001.jpg#xywh=0,0,160,90"), "thumbs/sprite-001.jpg");
        assert_eq!(resolve("a/b/c.m3u8", "../d.mp4"), "a/d.mp4");
    }

    #[test]
    fn templates_expand_with_widths() {
        assert_eq!(expand_template("$RepresentationID$/seg-$Number%05d$.m4s", "h264_720p", 7, 0), "h264_720p/seg-00007.m4s");
        assert_eq!(expand_template("t-$Time$-$$.m4s", "x", 1, 9000), "t-9000-$.m4s");
        assert_eq!(expand_template("thumbs/sprite-$Number%03d$.jpg", "thumbnails", 12, 0), "thumbs/sprite-012.jpg");
    }
}
