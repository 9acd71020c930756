//! HLS playlists (RFC 8216) built with m3u8-rs's types and written by its writer.
//!
//! `master.m3u8` sits at the title root and names `<id>/playlist.m3u8` per rendition; media
//! segment URIs in a media playlist are relative to that playlist's folder.
//!
//! Where m3u8-rs cannot say what we need, the workaround is local and documented:
//! - EXTINF: m3u8-rs keeps it as an `f32` and formats it through a process-global precision
//!   setting. We leave that global alone and instead rewrite each `#EXTINF:` line it wrote
//!   with the exact decimal computed from integer ticks (see [`EXTINF_DECIMALS`]).
//! - FRAME-RATE: m3u8-rs writes the `f64` in full (`29.97002997002997`); RFC 8216 asks for
//!   three decimals, so FRAME-RATE goes in as an extra unquoted attribute string instead.

use std::collections::HashMap;

use m3u8_rs::{
    AlternativeMedia, AlternativeMediaType, ByteRange, Map, MasterPlaylist, MediaPlaylist,
    MediaPlaylistType, MediaSegment, QuotedOrUnquoted, Resolution, VariantStream,
};

use crate::model::{AudioRole, Presentation, Rendition, Segment, TrackKind, iframe_playlist_uri, media_playlist_uri};
use crate::subtitles::SubtitleTrack;

/// EXT-X-VERSION of every playlist written here.
///
/// RFC 8216 section 7: EXT-X-MAP in a Media Playlist without EXT-X-I-FRAMES-ONLY requires
/// version 6 or greater, and nothing we write needs 7 (no SERVICE INSTREAM-ID, no KEYFORMAT).
/// Decimal EXTINF needs only 3. The master carries the same number: nothing in it needs more,
/// and one version for the whole title keeps clients from mixing rule sets.
pub const VERSION: usize = 6;

/// Decimals of EXTINF values. One microsecond is finer than half a tick of any timescale up to
/// 500 000 (90 kHz video, 48 kHz audio), so the printed value names exactly one tick count.
pub const EXTINF_DECIMALS: u32 = 6;

/// Media sequence number of the first segment. Our segment files and DASH `$Number$` start
/// at 1, so the HLS sequence does too: media sequence n is `seg-0000n.m4s` everywhere.
pub const FIRST_MEDIA_SEQUENCE: u64 = 1;

/// EXT-X-MEDIA GROUP-ID of the audio renditions.
pub const AUDIO_GROUP_ID: &str = "audio";

/// EXT-X-MEDIA GROUP-ID of the subtitle renditions.
pub const SUBTITLES_GROUP_ID: &str = "subs";

/// The master playlist: EXT-X-INDEPENDENT-SEGMENTS, one EXT-X-MEDIA per audio rendition,
/// one EXT-X-STREAM-INF per video rendition, in presentation order, then their
/// EXT-X-I-FRAME-STREAM-INF.
///
/// BANDWIDTH and AVERAGE-BANDWIDTH cover everything a client plays together (RFC 8216
/// 4.3.4.2): the video rendition plus the most demanding audio rendition of the group.
pub fn master_playlist(p: &Presentation) -> String {
    let audio: Vec<&Rendition> = p.renditions_of(TrackKind::Audio).collect();
    let audio_peak = audio.iter().map(|r| r.peak_bandwidth()).max().unwrap_or(0);
    let audio_average = audio
        .iter()
        .map(|r| r.average_bandwidth())
        .max()
        .unwrap_or(0);
    let mut audio_codecs: Vec<&str> = Vec::new();
    for r in &audio {
        if !audio_codecs.contains(&r.track.codecs.as_str()) {
            audio_codecs.push(&r.track.codecs);
        }
    }

    let names = audio_names(&audio);
    let alternatives = audio
        .iter()
        .zip(names)
        .enumerate()
        .map(|(i, (r, name))| AlternativeMedia {
            media_type: AlternativeMediaType::Audio,
            uri: Some(media_playlist_uri(&r.track.id)),
            group_id: AUDIO_GROUP_ID.to_owned(),
            language: r.track.language.clone(),
            name,
            // The first audio rendition is what a client plays unless told otherwise.
            default: i == 0,
            // A player picks among the autoselect ones by the viewer's language (and
            // accessibility settings); commentary only when chosen.
            autoselect: i == 0 || r.track.role != AudioRole::Commentary,
            characteristics: characteristics(r.track.role).map(str::to_owned),
            channels: r.track.channels.map(|c| c.to_string()),
            ..Default::default()
        })
        .collect::<Vec<_>>();
    let mut alternatives = alternatives;
    alternatives.extend(subtitle_media(p));

    let mut variants = p
        .renditions_of(TrackKind::Video)
        .map(|r| {
            let mut codecs = r.track.codecs.clone();
            for c in &audio_codecs {
                codecs.push(',');
                codecs.push_str(c);
            }
            let mut attributes = HashMap::new();
            if let Some(f) = r.track.frame_rate {
                attributes.insert("FRAME-RATE".to_owned(), QuotedOrUnquoted::Unquoted(format!("{:.3}", f.as_f64())));
            }
            if let Some(range) = r.track.video_range {
                attributes.insert("VIDEO-RANGE".to_owned(), QuotedOrUnquoted::Unquoted(range.as_hls().to_owned()));
            }
            let other_attributes = (!attributes.is_empty()).then_some(attributes);
            VariantStream {
                uri: media_playlist_uri(&r.track.id),
                bandwidth: r.peak_bandwidth() + audio_peak,
                average_bandwidth: Some(r.average_bandwidth() + audio_average),
                codecs: Some(codecs),
                resolution: resolution(r),
                audio: (!audio.is_empty()).then(|| AUDIO_GROUP_ID.to_owned()),
                subtitles: (!p.subtitles.is_empty()).then(|| SUBTITLES_GROUP_ID.to_owned()),
                other_attributes,
                ..Default::default()
            }
        })
        .collect::<Vec<_>>();
    variants.extend(iframe_variants(p));

    let playlist = MasterPlaylist {
        version: Some(VERSION),
        independent_segments: true,
        alternatives,
        variants,
        ..Default::default()
    };
    let mut out = Vec::new();
    playlist
        .write_to(&mut out)
        .expect("writing to a Vec cannot fail");
    String::from_utf8(out).expect("m3u8-rs writes UTF-8 from UTF-8 input")
}

/// EXT-X-MEDIA NAME of each audio rendition, unique in the group as RFC 8216 4.3.4.1 asks:
/// the language's own name ("Deutsch"), else the language tag, else "Audio", with "5.1"
/// after it for six channels; a name that comes again gets its count ("English 2").
fn audio_names(audio: &[&Rendition]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for r in audio {
        let lang = r.track.language.as_deref();
        let mut base = lang.and_then(crate::language::name).map(str::to_owned).or(lang.map(str::to_owned)).unwrap_or_else(|| "Audio".to_owned());
        if r.track.channels == Some(6) {
            base.push_str(" 5.1");
        }
        match r.track.role {
            AudioRole::Main => {}
            AudioRole::Commentary => base.push_str(" (commentary)"),
            AudioRole::Description => base.push_str(" (audio description)"),
        }
        let mut name = base.clone();
        let mut n = 1;
        while names.contains(&name) {
            n += 1;
            name = format!("{base} {n}");
        }
        names.push(name);
    }
    names
}

/// EXT-X-MEDIA CHARACTERISTICS of an audio rendition: the media characteristic tags of
/// Apple's HLS authoring specification (described video for audio description, auxiliary
/// content for commentary).
fn characteristics(role: AudioRole) -> Option<&'static str> {
    match role {
        AudioRole::Main => None,
        AudioRole::Commentary => Some("public.auxiliary-content"),
        AudioRole::Description => Some("public.accessibility.describes-video"),
    }
}

/// One EXT-X-MEDIA TYPE=SUBTITLES per subtitle rendition: its language and that language's
/// name; none is DEFAULT (a viewer turns subtitles on), every one AUTOSELECT (a player may
/// pick the one of the viewer's language).
fn subtitle_media(p: &Presentation) -> Vec<AlternativeMedia> {
    let mut names: Vec<String> = Vec::new();
    p.subtitles
        .iter()
        .map(|t| {
            let lang = t.language.as_deref();
            let base = lang.and_then(crate::language::name).map(str::to_owned).or(lang.map(str::to_owned)).unwrap_or_else(|| "Subtitles".to_owned());
            let mut name = base.clone();
            let mut n = 1;
            while names.contains(&name) {
                n += 1;
                name = format!("{base} {n}");
            }
            names.push(name.clone());
            AlternativeMedia {
                media_type: AlternativeMediaType::Subtitles,
                uri: Some(media_playlist_uri(&t.id)),
                group_id: SUBTITLES_GROUP_ID.to_owned(),
                language: t.language.clone(),
                name,
                default: false,
                autoselect: true,
                ..Default::default()
            }
        })
        .collect()
}

/// The VOD playlist of a subtitle rendition, for `<id>/playlist.m3u8`: its WebVTT segments,
/// each as long as the video segment of its number.
pub fn subtitle_playlist(t: &SubtitleTrack) -> String {
    let ts = u64::from(t.timescale.max(1));
    let folder = format!("{}/", t.id);
    let extinf: Vec<String> = t.segments.iter().map(|s| decimal(s.duration, ts, EXTINF_DECIMALS)).collect();
    let max_duration = t.segments.iter().map(|s| s.duration).max().unwrap_or(0);
    let playlist = MediaPlaylist {
        version: Some(VERSION),
        target_duration: ((2 * u128::from(max_duration) + u128::from(ts)) / (2 * u128::from(ts))).max(1) as u64,
        media_sequence: FIRST_MEDIA_SEQUENCE,
        segments: t
            .segments
            .iter()
            .map(|s| MediaSegment { uri: relative_to(&folder, &s.uri), duration: s.duration as f32 / ts as f32, ..Default::default() })
            .collect(),
        end_list: true,
        playlist_type: Some(MediaPlaylistType::Vod),
        independent_segments: true,
        ..Default::default()
    };
    let mut out = Vec::new();
    playlist.write_to(&mut out).expect("writing to a Vec cannot fail");
    with_exact_extinf(&String::from_utf8(out).expect("m3u8-rs writes UTF-8 from UTF-8 input"), &extinf)
}

/// RESOLUTION of a video rendition.
fn resolution(r: &Rendition) -> Option<Resolution> {
    Some(Resolution { width: u64::from(r.track.width?), height: u64::from(r.track.height?) })
}

/// One EXT-X-I-FRAME-STREAM-INF per video rendition that has an I-frame playlist: its
/// video CODECS alone (no audio is fetched with it), RESOLUTION and VIDEO-RANGE; RFC 8216
/// 4.3.4.3 leaves out FRAME-RATE.
fn iframe_variants(p: &Presentation) -> Vec<VariantStream> {
    p.renditions_of(TrackKind::Video)
        .filter(|r| iframe_playlist(r).is_some())
        .map(|r| VariantStream {
            is_i_frame: true,
            uri: iframe_playlist_uri(&r.track.id),
            bandwidth: iframe_peak_bandwidth(r),
            codecs: Some(r.track.codecs.clone()),
            resolution: resolution(r),
            other_attributes: r.track.video_range.map(|range| {
                HashMap::from([("VIDEO-RANGE".to_owned(), QuotedOrUnquoted::Unquoted(range.as_hls().to_owned()))])
            }),
            ..Default::default()
        })
        .collect()
}

/// The VOD media playlist of one rendition, for `<id>/playlist.m3u8`.
pub fn media_playlist(r: &Rendition) -> String {
    let folder = format!("{}/", r.track.id);
    let entries = r.segments.iter().map(|s| (s, None)).collect();
    vod_playlist(r, &folder, entries, false)
}

/// The I-frame playlist (trick play) of a video rendition, for `<id>/iframes.m3u8`: one
/// entry per segment, the byte range from the segment's start through its first frame, a
/// key frame (the `moof`, the `mdat` header and that frame), lasting until the next
/// segment's key frame. No media is written for it. `None` when a segment does not say
/// where its key frame ends (see [`crate::model::Segment::key_frame_bytes`]).
pub fn iframe_playlist(r: &Rendition) -> Option<String> {
    if r.track.kind != TrackKind::Video || r.segments.is_empty() {
        return None;
    }
    let folder = format!("{}/", r.track.id);
    let entries = r
        .segments
        .iter()
        .map(|s| s.key_frame_bytes.map(|length| (s, Some(ByteRange { length, offset: Some(0) }))))
        .collect::<Option<Vec<_>>>()?;
    Some(vod_playlist(r, &folder, entries, true))
}

/// The peak bits per second of `r`'s I-frame playlist (its EXT-X-I-FRAME-STREAM-INF
/// BANDWIDTH): the largest key frame range over the time it stands for, rounded up.
fn iframe_peak_bandwidth(r: &Rendition) -> u64 {
    let ts = u128::from(r.track.timescale.max(1));
    r.segments
        .iter()
        .filter(|s| s.duration > 0)
        .map(|s| {
            let bits = u128::from(s.key_frame_bytes.unwrap_or(0)) * 8 * ts;
            u64::try_from(bits.div_ceil(u128::from(s.duration))).unwrap_or(u64::MAX)
        })
        .max()
        .unwrap_or(0)
}

/// A VOD playlist over `entries` (segment, byte range) of `r`, with exact EXTINF values.
///
/// EXT-X-TARGETDURATION is the longest EXTINF rounded to the nearest integer (RFC 8216
/// 4.3.3.1: each EXTINF, so rounded, must not exceed it), and at least 1.
fn vod_playlist(r: &Rendition, folder: &str, entries: Vec<(&Segment, Option<ByteRange>)>, i_frames_only: bool) -> String {
    let ts = u64::from(r.track.timescale.max(1));
    let extinf: Vec<String> = entries
        .iter()
        .map(|(s, _)| decimal(s.duration, ts, EXTINF_DECIMALS))
        .collect();
    let max_duration = entries.iter().map(|(s, _)| s.duration).max().unwrap_or(0);
    let segments = entries
        .into_iter()
        .enumerate()
        .map(|(i, (s, byte_range))| MediaSegment {
            uri: relative_to(folder, &s.uri),
            // Overwritten below with the exact text; this keeps the struct truthful.
            duration: s.duration as f32 / ts as f32,
            byte_range,
            map: (i == 0).then(|| Map {
                uri: relative_to(folder, &r.init.uri),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    let target_duration =
        ((2 * u128::from(max_duration) + u128::from(ts)) / (2 * u128::from(ts))).max(1) as u64;
    let playlist = MediaPlaylist {
        version: Some(VERSION),
        target_duration,
        media_sequence: FIRST_MEDIA_SEQUENCE,
        segments,
        end_list: true,
        playlist_type: Some(MediaPlaylistType::Vod),
        independent_segments: true,
        i_frames_only,
        ..Default::default()
    };
    let mut out = Vec::new();
    playlist
        .write_to(&mut out)
        .expect("writing to a Vec cannot fail");
    let text = String::from_utf8(out).expect("m3u8-rs writes UTF-8 from UTF-8 input");
    with_exact_extinf(&text, &extinf)
}

/// `text` with m3u8-rs's f32 EXTINF values replaced, in order, by the exact ones.
fn with_exact_extinf(text: &str, extinf: &[String]) -> String {
    let mut exact = extinf.iter();
    let mut fixed = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        match (line.strip_prefix("#EXTINF:"), line.find(',')) {
            (Some(_), Some(comma)) => {
                let value = exact.next().expect("one EXTINF line per segment");
                fixed.push_str("#EXTINF:");
                fixed.push_str(value);
                fixed.push_str(&line[comma..]);
            }
            _ => fixed.push_str(line),
        }
    }
    debug_assert!(exact.next().is_none(), "every EXTINF line was rewritten");
    fixed
}

/// `uri` (relative to the title root) as seen from `folder` (`<id>/`): the folder prefix is
/// stripped; anything elsewhere in the title is reached through `../`.
fn relative_to(folder: &str, uri: &str) -> String {
    match uri.strip_prefix(folder) {
        Some(rest) => rest.to_owned(),
        None => format!("../{uri}"),
    }
}

/// `ticks / timescale` with `decimals` digits after the point, rounded half up, computed on
/// integers so that no float rounding can move the last digit.
pub(crate) fn decimal(ticks: u64, timescale: u64, decimals: u32) -> String {
    let scale = 10u128.pow(decimals);
    let ts = u128::from(timescale.max(1));
    let scaled = (2 * u128::from(ticks) * scale + ts) / (2 * ts);
    let whole = scaled / scale;
    let frac = scaled % scale;
    if decimals == 0 {
        whole.to_string()
    } else {
        format!("{whole}.{frac:0width$}", width = decimals as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact() {
        assert_eq!(decimal(60060, 30000, 6), "2.002000");
        assert_eq!(decimal(1001, 30000, 6), "0.033367");
        assert_eq!(decimal(95232, 48000, 6), "1.984000");
        assert_eq!(decimal(192512, 48000, 6), "4.010667");
        assert_eq!(decimal(3, 2, 0), "2");
        // Large values stay exact where an f32 would not.
        assert_eq!(decimal(u64::from(u32::MAX), 90000, 6), "47721.858833");
    }

    fn video(key_frames: &[Option<u64>]) -> Presentation {
        use crate::model::{FrameRate, Sha256Digest, TrackInfo, VideoCodec, init_uri, media_segment_uri};
        let seg = |i: usize, key: Option<u64>| Segment {
            index: i as u32 + 1,
            start: i as u64 * 180_000,
            duration: 180_000,
            size: 500_000,
            sha256: Sha256Digest([1; 32]),
            uri: media_segment_uri("v", i as u32 + 1),
            key_frame_bytes: key,
        };
        let track = TrackInfo {
            id: "v".into(),
            kind: TrackKind::Video,
            video_codec: Some(VideoCodec::H264),
            codecs: "avc1.64001F".into(),
            timescale: 90_000,
            width: Some(1280),
            height: Some(720),
            frame_rate: Some(FrameRate::new(25, 1)),
            channels: None,
            sample_rate: None,
            language: None,
            role: Default::default(),
            video_range: None,
        };
        let init = Segment { index: 0, start: 0, duration: 0, size: 800, sha256: Sha256Digest([0; 32]), uri: init_uri("v"), key_frame_bytes: None };
        let segments = key_frames.iter().enumerate().map(|(i, k)| seg(i, *k)).collect();
        Presentation { video_id: "t".into(), renditions: vec![Rendition { track, init, segments }], subtitles: Vec::new() }
    }

    #[test]
    fn iframe_playlist_names_each_key_frame_by_byte_range() {
        let p = video(&[Some(30_000), Some(45_000)]);
        let text = iframe_playlist(&p.renditions[0]).unwrap();
        let entries: Vec<&str> = text.lines().skip_while(|l| !l.starts_with("#EXT-X-MAP")).collect();
        assert_eq!(
            entries,
            [
                "#EXT-X-MAP:URI=\"init.mp4\"",
                "#EXT-X-BYTERANGE:30000@0",
                "#EXTINF:2.000000,",
                "seg-00001.m4s",
                "#EXT-X-BYTERANGE:45000@0",
                "#EXTINF:2.000000,",
                "seg-00002.m4s",
                "#EXT-X-ENDLIST",
            ]
        );
        assert!(text.contains("#EXT-X-I-FRAMES-ONLY\n"), "{text}");
        // The larger range over its 2 s: 45000 * 8 / 2.
        let master = master_playlist(&p);
        assert!(
            master.contains("#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=180000,CODECS=\"avc1.64001F\",RESOLUTION=1280x720,URI=\"v/iframes.m3u8\""),
            "{master}"
        );
    }

    #[test]
    fn no_iframe_playlist_without_every_key_frame_range() {
        let p = video(&[Some(30_000), None]);
        assert_eq!(iframe_playlist(&p.renditions[0]), None);
        assert!(!master_playlist(&p).contains("I-FRAME"));
    }

    #[test]
    fn relative_uris() {
        assert_eq!(relative_to("a/", "a/seg-00001.m4s"), "seg-00001.m4s");
        assert_eq!(relative_to("a/", "b/init.mp4"), "../b/init.mp4");
    }
}
