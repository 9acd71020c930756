//! The static DASH MPD (ISO/IEC 23009-1), built from dash-mpd-core's types and serialized by
//! its serde/quick-xml serializer.
//!
//! One Period; one video AdaptationSet per codec family, one audio AdaptationSet per
//! language and channel count, and the thumbnails' image AdaptationSet; every Representation has a `SegmentTemplate` with a `SegmentTimeline`, the
//! URL templates matching the title layout (`<id>/init.mp4`, `<id>/seg-00001.m4s`...).
//!
//! `S@t` is each segment's earliest presentation time as the model gives it. When the whole
//! title starts after 0 (every track delayed together, as for B-frames: see
//! `cmaf::delay_presentation`), each `SegmentTemplate` gets that start, in its own timescale,
//! as `@presentationTimeOffset`, so the title starts at the Period's start; a track that
//! starts later than the others keeps that offset in the Period.
//!
//! dash-mpd-core 0.1 is the part of dash-mpd 0.21 that holds the MPD types: dash-mpd 0.21
//! itself always pulls in its HTTP downloader (reqwest, tokio), which this crate must not.

use std::time::Duration;

use dash_mpd_core::{
    Accessibility, AdaptationSet, AudioChannelConfiguration, BaseURL, EssentialProperty, Label, MPD, Period,
    Representation, Role, S, SegmentTemplate, SegmentTimeline, SupplementalProperty,
};
use serde::Serialize;

use crate::catalog::Thumbnails;
use crate::subtitles::SubtitleTrack;
use crate::model::{
    AudioRole, Presentation, Rendition, SPRITE_COLUMNS, SPRITE_ROWS, SPRITE_TEMPLATE, TrackKind, VideoCodec, sprite_uri,
};
use crate::{Error, Result};

/// The MPD schema's namespace.
pub const MPD_NAMESPACE: &str = "urn:mpeg:dash:schema:mpd:2011";
/// `MPD@profiles`: the live profile's SegmentTemplate addressing, with CMAF segments.
pub const PROFILES: &str = "urn:mpeg:dash:profile:isoff-live:2011,urn:mpeg:dash:profile:cmaf:2019";
/// `AudioChannelConfiguration@schemeIdUri`: a plain channel count (ISO/IEC 23003-3... as
/// registered by 23009-1 5.8.5.4).
pub const CHANNEL_CONFIGURATION_SCHEME: &str =
    "urn:mpeg:dash:23003:3:audio_channel_configuration:2011";
/// `SupplementalProperty@schemeIdUri` of an HDR video Representation's transfer (PQ 16,
/// HLG 18; DASH-IF IOP 6.2.5). Supplemental, not essential: no SDR version is made, so a
/// player that does not know the scheme still gets the picture (as HLS does without
/// VIDEO-RANGE).
pub const CICP_TRANSFER_SCHEME: &str = "urn:mpeg:mpegB:cicp:TransferCharacteristics";
/// `Role@schemeIdUri` of the roles ISO/IEC 23009-1 5.8.5.5 defines (`main`, `alternate`, ...).
pub const ROLE_SCHEME: &str = "urn:mpeg:dash:role:2011";
/// `Accessibility@schemeIdUri` of an audio set's purpose (TV-Anytime AudioPurposeCS, as
/// DVB-DASH and DASH-IF IOP signal audio description); `@value` 1 is "for the visually
/// impaired".
pub const AUDIO_PURPOSE_SCHEME: &str = "urn:tva:metadata:cs:AudioPurposeCS:2007";
const AUDIO_PURPOSE_VISUALLY_IMPAIRED: &str = "1";
/// `EssentialProperty@schemeIdUri` of a thumbnail Representation, `@value` its tile grid
/// `COLSxROWS` (DASH-IF IOP 4.3, 6.2.6).
pub const THUMBNAIL_TILE_SCHEME: &str = "http://dashif.org/thumbnail_tile";
/// `SegmentTemplate@timescale` of the thumbnail Representation: milliseconds.
const THUMBNAIL_TIMESCALE: u64 = 1000;
/// `SegmentTemplate@initialization`.
pub const INIT_TEMPLATE: &str = "$RepresentationID$/init.mp4";
/// `SegmentTemplate@media`; [`crate::model::media_segment_uri`] is the same naming.
pub const MEDIA_TEMPLATE: &str = "$RepresentationID$/seg-$Number%05d$.m4s";

/// The MPD as XML text (with an XML declaration, indented by two spaces).
///
/// Fails if a segment's URI does not follow the template naming (see
/// [`Presentation::validate`]) or if the serializer refuses the document.
///
/// - `mediaPresentationDuration`: the longest rendition, exact to the millisecond.
/// - `minBufferTime`: the longest media segment (rounded up to the millisecond). With
///   `@bandwidth` set to each Representation's peak segment bit rate, a client that has
///   buffered that long can always fetch the next segment in time.
/// - `thumbs`: the trick-play sprite sheets, as an image AdaptationSet (see
///   [`thumbnail_adaptation_set`]); `None` leaves them out.
pub fn mpd(p: &Presentation, thumbs: Option<&Thumbnails>) -> Result<String> {
    p.validate()?;
    let max_segment = p
        .renditions
        .iter()
        .flat_map(|r| {
            let ts = u128::from(r.track.timescale);
            r.segments
                .iter()
                .map(move |s| (u128::from(s.duration) * 1000).div_ceil(ts))
        })
        .max()
        .unwrap_or(0);

    let origin = origin(p);
    let mut adaptations = Vec::new();
    let mut families: Vec<Option<VideoCodec>> = Vec::new();
    for r in p.renditions_of(TrackKind::Video) {
        if !families.contains(&r.track.video_codec) {
            families.push(r.track.video_codec);
        }
    }
    for family in families {
        let reps: Vec<&Rendition> = p
            .renditions_of(TrackKind::Video)
            .filter(|r| r.track.video_codec == family)
            .collect();
        adaptations.push(video_adaptation_set(adaptations.len(), &reps, origin));
    }
    // One set per language and channel count: a player switches among a set's
    // Representations for bandwidth, and must not go from 5.1 to stereo doing so.
    // Commentary and description are sets of their own too.
    let set_of = |r: &Rendition| (r.track.language.clone(), r.track.channels, r.track.role);
    let mut sets = Vec::new();
    for r in p.renditions_of(TrackKind::Audio) {
        if !sets.contains(&set_of(r)) {
            sets.push(set_of(r));
        }
    }
    for (i, key) in sets.iter().enumerate() {
        let reps: Vec<&Rendition> = p.renditions_of(TrackKind::Audio).filter(|r| set_of(r) == *key).collect();
        // The set of the first audio rendition (the default one) is the main one.
        adaptations.push(audio_adaptation_set(adaptations.len(), key.0.as_deref(), key.2, i == 0, &reps, origin));
    }
    for t in &p.subtitles {
        adaptations.push(subtitle_adaptation_set(adaptations.len(), t));
    }
    if let Some(set) = thumbs.and_then(|t| thumbnail_adaptation_set(adaptations.len(), t)) {
        adaptations.push(set);
    }

    let doc = MPD {
        // dash-mpd-core only writes its default namespace when the field is set.
        xmlns: Some(MPD_NAMESPACE.to_owned()),
        profiles: Some(PROFILES.to_owned()),
        mpdtype: Some("static".to_owned()),
        mediaPresentationDuration: Some(Duration::from_millis(p.duration_millis())),
        minBufferTime: Some(Duration::from_millis(
            u64::try_from(max_segment).unwrap_or(u64::MAX),
        )),
        periods: vec![Period {
            id: Some("0".to_owned()),
            start: Some(Duration::ZERO),
            adaptations,
            ..Default::default()
        }],
        ..Default::default()
    };

    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let mut ser = quick_xml::se::Serializer::new(&mut xml);
    ser.indent(' ', 2);
    doc.serialize(ser).map_err(Error::MpdSerialize)?;
    xml.push('\n');
    Ok(xml)
}

fn video_adaptation_set(id: usize, reps: &[&Rendition], origin: Origin) -> AdaptationSet {
    let max_rate = reps
        .iter()
        .filter_map(|r| r.track.frame_rate)
        .max_by(|a, b| a.as_f64().total_cmp(&b.as_f64()));
    AdaptationSet {
        id: Some(id.to_string()),
        contentType: Some("video".to_owned()),
        mimeType: Some("video/mp4".to_owned()),
        segmentAlignment: Some(true),
        startWithSAP: Some(1),
        maxWidth: reps
            .iter()
            .filter_map(|r| r.track.width)
            .max()
            .map(u64::from),
        maxHeight: reps
            .iter()
            .filter_map(|r| r.track.height)
            .max()
            .map(u64::from),
        maxFrameRate: max_rate.map(|f| f.to_string()),
        representations: reps
            .iter()
            .map(|r| Representation {
                id: Some(r.track.id.clone()),
                codecs: Some(r.track.codecs.clone()),
                bandwidth: Some(r.peak_bandwidth()),
                width: r.track.width.map(u64::from),
                height: r.track.height.map(u64::from),
                frameRate: r.track.frame_rate.map(|f| f.to_string()),
                sar: Some("1:1".to_owned()),
                supplemental_property: r
                    .track
                    .video_range
                    .map(|range| SupplementalProperty {
                        schemeIdUri: CICP_TRANSFER_SCHEME.to_owned(),
                        value: Some(range.cicp_transfer().to_string()),
                        ..Default::default()
                    })
                    .into_iter()
                    .collect(),
                SegmentTemplate: Some(segment_template(r, origin)),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// The sprite sheets as DASH-IF thumbnails: one image Representation whose segments are the
/// sheets in order, each a grid of [`SPRITE_COLUMNS`] x [`SPRITE_ROWS`] tiles one interval
/// apart, starting at the Period's start. The grid is the full sheet's even when the title
/// fills less (a player places a tile by the Representation's size over the grid, which
/// holds for a cropped last sheet too), so the MPD does not depend on the tile count.
/// `None` when there is no sheet, or the sheets are not named as [`SPRITE_TEMPLATE`] expands.
fn thumbnail_adaptation_set(id: usize, t: &Thumbnails) -> Option<AdaptationSet> {
    let named = t.sprites.iter().enumerate().all(|(i, s)| s.uri == sprite_uri(i as u32 + 1));
    if t.sprites.is_empty() || !named || t.tile_width == 0 || t.tile_height == 0 || t.interval_ms == 0 {
        return None;
    }
    let (cols, rows) = (SPRITE_COLUMNS, SPRITE_ROWS);
    let sheet_ms = u64::from(cols * rows) * t.interval_ms;
    let largest = t.sprites.iter().map(|s| s.size).max().unwrap_or(0);
    Some(AdaptationSet {
        id: Some(id.to_string()),
        contentType: Some("image".to_owned()),
        mimeType: Some("image/jpeg".to_owned()),
        representations: vec![Representation {
            id: Some("thumbnails".to_owned()),
            bandwidth: Some((largest * 8 * THUMBNAIL_TIMESCALE).div_ceil(sheet_ms.max(1))),
            width: Some(u64::from(cols * t.tile_width)),
            height: Some(u64::from(rows * t.tile_height)),
            essential_property: vec![EssentialProperty {
                schemeIdUri: THUMBNAIL_TILE_SCHEME.to_owned(),
                value: Some(format!("{cols}x{rows}")),
                ..Default::default()
            }],
            SegmentTemplate: Some(SegmentTemplate {
                media: Some(SPRITE_TEMPLATE.to_owned()),
                timescale: Some(THUMBNAIL_TIMESCALE),
                duration: Some(sheet_ms as f64),
                startNumber: Some(1),
                ..Default::default()
            }),
            ..Default::default()
        }],
        ..Default::default()
    })
}

/// A subtitle rendition as a text AdaptationSet: its whole WebVTT file as the
/// Representation's BaseURL (times of the Period), `lang`, a `Label` and Role `subtitle`.
fn subtitle_adaptation_set(id: usize, t: &SubtitleTrack) -> AdaptationSet {
    let ticks: u64 = t.segments.iter().map(|s| s.duration).sum();
    let bits = u128::from(t.whole.size) * 8 * u128::from(t.timescale.max(1));
    AdaptationSet {
        id: Some(id.to_string()),
        contentType: Some("text".to_owned()),
        mimeType: Some("text/vtt".to_owned()),
        lang: t.language.clone(),
        Label: t.language.as_deref().and_then(crate::language::name).map(|name| Label { content: name.to_owned(), ..Default::default() }).into_iter().collect(),
        Role: vec![Role { schemeIdUri: ROLE_SCHEME.to_owned(), value: Some("subtitle".to_owned()), ..Default::default() }],
        representations: vec![Representation {
            id: Some(t.id.clone()),
            bandwidth: Some(u64::try_from(bits.div_ceil(u128::from(ticks.max(1)))).unwrap_or(u64::MAX).max(1)),
            BaseURL: vec![BaseURL { base: t.whole.uri.clone(), ..Default::default() }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// An audio set's Roles: `main` for the default one, its purpose for commentary and
/// description, `alternate` for the other languages and channel counts.
fn audio_roles(role: AudioRole, main: bool) -> Vec<Role> {
    let mut values = Vec::new();
    if main {
        values.push("main");
    }
    match role {
        AudioRole::Main if !main => values.push("alternate"),
        AudioRole::Main => {}
        AudioRole::Commentary => values.push("commentary"),
        AudioRole::Description => values.push("description"),
    }
    values
        .into_iter()
        .map(|v| Role { schemeIdUri: ROLE_SCHEME.to_owned(), value: Some(v.to_owned()), ..Default::default() })
        .collect()
}

/// `main`: the set holds the default audio rendition (DASH Role `main`; the others are
/// `alternate`), and `role` its purpose (Role `commentary` or `description`, the latter with
/// the audio-purpose Accessibility descriptor of visually impaired viewers). A set with a
/// language is labelled with its name.
fn audio_adaptation_set(id: usize, lang: Option<&str>, role: AudioRole, main: bool, reps: &[&Rendition], origin: Origin) -> AdaptationSet {
    let channel_config = |channels: u32| AudioChannelConfiguration {
        schemeIdUri: CHANNEL_CONFIGURATION_SCHEME.to_owned(),
        value: Some(channels.to_string()),
        ..Default::default()
    };
    // One channel count for the whole set goes on the set; otherwise each Representation
    // says its own.
    let mut counts: Vec<u32> = reps.iter().filter_map(|r| r.track.channels).collect();
    counts.dedup();
    let shared = match counts[..] {
        [one] if reps.iter().all(|r| r.track.channels.is_some()) => Some(one),
        _ => None,
    };
    AdaptationSet {
        id: Some(id.to_string()),
        contentType: Some("audio".to_owned()),
        mimeType: Some("audio/mp4".to_owned()),
        lang: lang.map(str::to_owned),
        segmentAlignment: Some(true),
        startWithSAP: Some(1),
        AudioChannelConfiguration: shared.map(channel_config).into_iter().collect(),
        Label: lang
            .and_then(crate::language::name)
            .map(|name| Label { content: name.to_owned(), ..Default::default() })
            .into_iter()
            .collect(),
        Role: audio_roles(role, main),
        Accessibility: (role == AudioRole::Description)
            .then(|| Accessibility {
                schemeIdUri: AUDIO_PURPOSE_SCHEME.to_owned(),
                value: Some(AUDIO_PURPOSE_VISUALLY_IMPAIRED.to_owned()),
                ..Default::default()
            })
            .into_iter()
            .collect(),
        representations: reps
            .iter()
            .map(|r| Representation {
                id: Some(r.track.id.clone()),
                codecs: Some(r.track.codecs.clone()),
                bandwidth: Some(r.peak_bandwidth()),
                audioSamplingRate: r.track.sample_rate.map(|s| s.to_string()),
                AudioChannelConfiguration: match shared {
                    Some(_) => Vec::new(),
                    None => r.track.channels.map(channel_config).into_iter().collect(),
                },
                SegmentTemplate: Some(segment_template(r, origin)),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// The title's earliest presentation time: the first segment start of the rendition that
/// starts first, as (ticks, timescale). (0, 1) without segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Origin {
    ticks: u64,
    timescale: u32,
}

fn origin(p: &Presentation) -> Origin {
    p.renditions
        .iter()
        .filter(|r| r.track.timescale != 0)
        .filter_map(|r| r.segments.first().map(|s| Origin { ticks: s.start, timescale: r.track.timescale }))
        .min_by(|a, b| {
            (u128::from(a.ticks) * u128::from(b.timescale)).cmp(&(u128::from(b.ticks) * u128::from(a.timescale)))
        })
        .unwrap_or(Origin { ticks: 0, timescale: 1 })
}

/// `origin` in `r`'s timescale, rounded down (never after any of `r`'s samples), or `None`
/// when it is 0.
fn presentation_time_offset(r: &Rendition, origin: Origin) -> Option<u64> {
    let pto = u128::from(origin.ticks) * u128::from(r.track.timescale) / u128::from(origin.timescale.max(1));
    u64::try_from(pto).ok().filter(|&t| t > 0)
}

fn segment_template(r: &Rendition, origin: Origin) -> SegmentTemplate {
    SegmentTemplate {
        timescale: Some(u64::from(r.track.timescale)),
        presentationTimeOffset: presentation_time_offset(r, origin),
        initialization: Some(INIT_TEMPLATE.to_owned()),
        media: Some(MEDIA_TEMPLATE.to_owned()),
        startNumber: Some(1),
        SegmentTimeline: Some(SegmentTimeline {
            segments: timeline(r),
        }),
        ..Default::default()
    }
}

/// `S` elements: a run of back-to-back segments of equal duration becomes one `S` with `@r`;
/// `@t` is written for the first segment and wherever a segment does not start where the
/// previous one ended.
fn timeline(r: &Rendition) -> Vec<S> {
    let mut out: Vec<S> = Vec::new();
    let mut next_start: Option<u64> = None;
    for seg in &r.segments {
        let contiguous = next_start == Some(seg.start);
        match out.last_mut() {
            Some(last) if contiguous && last.d == seg.duration => {
                last.r = Some(last.r.unwrap_or(0) + 1);
            }
            _ => out.push(S {
                t: (!contiguous).then_some(seg.start),
                d: seg.duration,
                ..Default::default()
            }),
        }
        next_start = Some(seg.start + seg.duration);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Segment, Sha256Digest, TrackInfo, VideoRange, init_uri, media_segment_uri};

    fn rendition(starts_and_durations: &[(u64, u64)]) -> Rendition {
        let seg = |index: u32, start, duration| Segment {
            index,
            start,
            duration,
            size: 1000,
            sha256: Sha256Digest([0; 32]),
            uri: if index == 0 {
                init_uri("a")
            } else {
                media_segment_uri("a", index)
            },
            key_frame_bytes: None,
        };
        Rendition {
            track: TrackInfo {
                id: "a".into(),
                kind: TrackKind::Audio,
                video_codec: None,
                codecs: "mp4a.40.2".into(),
                timescale: 48000,
                width: None,
                height: None,
                frame_rate: None,
                channels: Some(2),
                sample_rate: Some(48000),
                language: None,
                role: Default::default(),
                video_range: None,
            },
            init: seg(0, 0, 0),
            segments: starts_and_durations
                .iter()
                .enumerate()
                .map(|(i, &(s, d))| seg(i as u32 + 1, s, d))
                .collect(),
        }
    }

    fn s(t: Option<u64>, d: u64, r: Option<i64>) -> S {
        S {
            t,
            d,
            r,
            ..Default::default()
        }
    }

    fn with_timescale(mut r: Rendition, id: &str, timescale: u32) -> Rendition {
        r.track.id = id.into();
        r.track.timescale = timescale;
        if id != "audio" {
            r.track.kind = TrackKind::Video;
            r.track.codecs = "avc1.64001F".into();
            (r.track.width, r.track.height, r.track.channels, r.track.sample_rate) = (Some(1280), Some(720), None, None);
        }
        for seg in &mut r.segments {
            seg.uri = media_segment_uri(id, seg.index);
        }
        r.init.uri = init_uri(id);
        r
    }

    /// (Representation id, presentationTimeOffset, first S@t) of every Representation.
    fn offsets(p: &Presentation) -> Vec<(String, Option<u64>, Option<u64>)> {
        let mpd = dash_mpd_core::parse(&mpd(p, None).unwrap()).unwrap();
        mpd.periods[0]
            .adaptations
            .iter()
            .flat_map(|a| &a.representations)
            .map(|rep| {
                let tpl = rep.SegmentTemplate.as_ref().unwrap();
                (rep.id.clone().unwrap(), tpl.presentationTimeOffset, tpl.SegmentTimeline.as_ref().unwrap().segments[0].t)
            })
            .collect()
    }

    #[test]
    fn a_title_delayed_as_a_whole_starts_at_the_period_start() {
        // Video at 90 kHz and audio at 48 kHz, both starting 0.1 s in (a B-frame delay).
        let video = with_timescale(rendition(&[(9000, 360_000), (369_000, 180_000)]), "v", 90_000);
        let audio = with_timescale(rendition(&[(4800, 192_000), (196_800, 96_000)]), "audio", 48_000);
        let p = Presentation { video_id: "t".into(), renditions: vec![video.clone(), audio.clone()], subtitles: Vec::new() };
        assert_eq!(offsets(&p), [("v".to_owned(), Some(9000), Some(9000)), ("audio".to_owned(), Some(4800), Some(4800))]);
        // Audio 0.1 s after video: the video's start is the origin, the audio keeps its lag.
        let late_audio = with_timescale(rendition(&[(9600, 192_000)]), "audio", 48_000);
        let p = Presentation { video_id: "t".into(), renditions: vec![video.clone(), late_audio], subtitles: Vec::new() };
        assert_eq!(offsets(&p), [("v".to_owned(), Some(9000), Some(9000)), ("audio".to_owned(), Some(4800), Some(9600))]);
        // Something starts at 0: no offset anywhere (every title without B-frames).
        let audio_at_0 = with_timescale(rendition(&[(0, 192_000)]), "audio", 48_000);
        let p = Presentation { video_id: "t".into(), renditions: vec![video, audio_at_0], subtitles: Vec::new() };
        assert_eq!(offsets(&p), [("v".to_owned(), None, Some(9000)), ("audio".to_owned(), None, Some(0))]);
    }

    #[test]
    fn offsets_round_down_into_each_timescale() {
        // 1001 ticks at 30000 Hz is 1601.6 ticks at 48 kHz: 1601, never after the audio's start.
        let video = with_timescale(rendition(&[(1001, 120_120)]), "v", 30_000);
        let audio = with_timescale(rendition(&[(1602, 192_000)]), "audio", 48_000);
        let p = Presentation { video_id: "t".into(), renditions: vec![video, audio], subtitles: Vec::new() };
        assert_eq!(offsets(&p), [("v".to_owned(), Some(1001), Some(1001)), ("audio".to_owned(), Some(1601), Some(1602))]);
    }

    #[test]
    fn timeline_compresses_runs_and_marks_gaps() {
        let r = rendition(&[
            (1024, 10),
            (1034, 10),
            (1044, 10),
            (1054, 5),
            (1100, 5),
            (1105, 5),
        ]);
        assert_eq!(
            timeline(&r),
            vec![
                s(Some(1024), 10, Some(2)),
                s(None, 5, None),
                // A gap: a new S with an explicit start, even though the duration repeats.
                s(Some(1100), 5, Some(1)),
            ]
        );
        assert!(timeline(&rendition(&[])).is_empty());
    }

    #[test]
    fn hdr_representations_state_their_transfer() {
        let mut pq = with_timescale(rendition(&[(0, 10)]), "pq", 90_000);
        pq.track.video_range = Some(VideoRange::Pq);
        let mut hlg = with_timescale(rendition(&[(0, 10)]), "hlg", 90_000);
        hlg.track.video_range = Some(VideoRange::Hlg);
        let sdr = with_timescale(rendition(&[(0, 10)]), "sdr", 90_000);
        let p = Presentation { video_id: "t".into(), renditions: vec![pq, hlg, sdr], subtitles: Vec::new() };
        let parsed = dash_mpd_core::parse(&mpd(&p, None).unwrap()).unwrap();
        type Props = Vec<(String, Option<String>)>;
        let props: Vec<(String, Props)> = parsed.periods[0].adaptations[0]
            .representations
            .iter()
            .map(|r| {
                let p = r.supplemental_property.iter().map(|p| (p.schemeIdUri.clone(), p.value.clone())).collect();
                (r.id.clone().unwrap(), p)
            })
            .collect();
        let cicp = |v: &str| -> Props { vec![(CICP_TRANSFER_SCHEME.to_owned(), Some(v.to_owned()))] };
        assert_eq!(props, [("pq".to_owned(), cicp("16")), ("hlg".to_owned(), cicp("18")), ("sdr".to_owned(), vec![])]);
    }

    #[test]
    fn misnamed_segment_is_an_error() {
        let mut r = rendition(&[(0, 10)]);
        r.segments[0].uri = "a/segment-1.m4s".into();
        let p = Presentation {
            video_id: "x".into(),
            renditions: vec![r],
            subtitles: Vec::new(),
        };
        assert!(matches!(mpd(&p, None), Err(Error::SegmentUri { index: 1, .. })));
    }

    #[test]
    fn differing_channel_counts_go_on_each_representation() {
        let mut stereo = rendition(&[(0, 10)]);
        let mut surround = rendition(&[(0, 10)]);
        surround.track.channels = Some(6);
        stereo.track.language = Some("de".into());
        surround.track.language = Some("de".into());
        let set = audio_adaptation_set(0, Some("de"), AudioRole::Main, true, &[&stereo, &surround], Origin { ticks: 0, timescale: 1 });
        assert!(set.AudioChannelConfiguration.is_empty());
        let values: Vec<_> = set
            .representations
            .iter()
            .map(|r| r.AudioChannelConfiguration[0].value.clone())
            .collect();
        assert_eq!(values, [Some("2".to_owned()), Some("6".to_owned())]);
    }

    #[test]
    fn sprite_sheets_are_a_thumbnail_adaptation_set() {
        use crate::catalog::{Image, Thumbnails};
        use crate::model::Sha256Digest;
        let image = |n: u32, width, height, size| Image { uri: sprite_uri(n), width, height, size, sha256: Sha256Digest([0; 32]) };
        // Two sheets of 10x10 tiles of 160x90, a tile every 2 s; the last one holds 3 rows.
        let mut t = Thumbnails {
            poster: Image { uri: "thumbs/poster.jpg".into(), width: 1280, height: 720, size: 1, sha256: Sha256Digest([0; 32]) },
            sprites: vec![image(1, 1600, 900, 250_000), image(2, 1600, 270, 80_000)],
            index_vtt_uri: "thumbs/thumbs.vtt".into(),
            interval_ms: 2000,
            tile_width: 160,
            tile_height: 90,
        };
        let p = Presentation { video_id: "t".into(), renditions: vec![rendition(&[(0, 90_000)])], subtitles: Vec::new() };
        let parsed = dash_mpd_core::parse(&mpd(&p, Some(&t)).unwrap()).unwrap();
        let set = parsed.periods[0].adaptations.iter().find(|a| a.contentType.as_deref() == Some("image")).expect("an image AdaptationSet");
        assert_eq!(set.mimeType.as_deref(), Some("image/jpeg"));
        let rep = &set.representations[0];
        assert_eq!((rep.width, rep.height), (Some(1600), Some(900)));
        assert_eq!(rep.essential_property[0].schemeIdUri, THUMBNAIL_TILE_SCHEME);
        assert_eq!(rep.essential_property[0].value.as_deref(), Some("10x10"));
        let tpl = rep.SegmentTemplate.as_ref().unwrap();
        assert_eq!((tpl.media.as_deref(), tpl.timescale, tpl.duration, tpl.startNumber), (Some(SPRITE_TEMPLATE), Some(1000), Some(200_000.0), Some(1)));
        // The largest sheet over the 200 s it covers.
        assert_eq!(rep.bandwidth, Some(10_000));

        // A lone sheet cropped to its 9 tiles: the same full grid, so the MPD does not depend
        // on how many tiles a title has.
        let lone = Thumbnails { sprites: vec![image(1, 1440, 90, 20_000)], ..t.clone() };
        let parsed = dash_mpd_core::parse(&mpd(&p, Some(&lone)).unwrap()).unwrap();
        let rep = &parsed.periods[0].adaptations.iter().find(|a| a.contentType.as_deref() == Some("image")).unwrap().representations[0];
        assert_eq!((rep.width, rep.height, rep.essential_property[0].value.as_deref()), (Some(1600), Some(900), Some("10x10")));

        // Sheets not named as the template expands are left out.
        t.sprites.swap(0, 1);
        let parsed = dash_mpd_core::parse(&mpd(&p, Some(&t)).unwrap()).unwrap();
        assert!(parsed.periods[0].adaptations.iter().all(|a| a.contentType.as_deref() != Some("image")));
    }
}
