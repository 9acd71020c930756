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
    AlternativeMedia, AlternativeMediaType, Map, MasterPlaylist, MediaPlaylist, MediaPlaylistType,
    MediaSegment, QuotedOrUnquoted, Resolution, VariantStream,
};

use crate::model::{Presentation, Rendition, TrackKind, media_playlist_uri};

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

/// The master playlist: EXT-X-INDEPENDENT-SEGMENTS, one EXT-X-MEDIA per audio rendition and
/// one EXT-X-STREAM-INF per video rendition, in presentation order.
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

    let alternatives = audio
        .iter()
        .enumerate()
        .map(|(i, r)| AlternativeMedia {
            media_type: AlternativeMediaType::Audio,
            uri: Some(media_playlist_uri(&r.track.id)),
            group_id: AUDIO_GROUP_ID.to_owned(),
            language: r.track.language.clone(),
            name: r.track.id.clone(),
            // The first audio rendition is what a client plays unless told otherwise.
            default: i == 0,
            autoselect: true,
            channels: r.track.channels.map(|c| c.to_string()),
            ..Default::default()
        })
        .collect();

    let variants = p
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
                resolution: match (r.track.width, r.track.height) {
                    (Some(w), Some(h)) => Some(Resolution {
                        width: u64::from(w),
                        height: u64::from(h),
                    }),
                    _ => None,
                },
                audio: (!audio.is_empty()).then(|| AUDIO_GROUP_ID.to_owned()),
                other_attributes,
                ..Default::default()
            }
        })
        .collect();

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

/// The VOD media playlist of one rendition, for `<id>/playlist.m3u8`.
///
/// EXT-X-TARGETDURATION is the longest EXTINF rounded to the nearest integer (RFC 8216
/// 4.3.3.1: each EXTINF, so rounded, must not exceed it), and at least 1.
pub fn media_playlist(r: &Rendition) -> String {
    let ts = u64::from(r.track.timescale.max(1));
    let folder = format!("{}/", r.track.id);
    let extinf: Vec<String> = r
        .segments
        .iter()
        .map(|s| decimal(s.duration, ts, EXTINF_DECIMALS))
        .collect();
    let segments = r
        .segments
        .iter()
        .enumerate()
        .map(|(i, s)| MediaSegment {
            uri: relative_to(&folder, &s.uri),
            // Overwritten below with the exact text; this keeps the struct truthful.
            duration: s.duration as f32 / ts as f32,
            map: (i == 0).then(|| Map {
                uri: relative_to(&folder, &r.init.uri),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    let max_duration = r.segments.iter().map(|s| s.duration).max().unwrap_or(0);
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
        ..Default::default()
    };
    let mut out = Vec::new();
    playlist
        .write_to(&mut out)
        .expect("writing to a Vec cannot fail");
    let text = String::from_utf8(out).expect("m3u8-rs writes UTF-8 from UTF-8 input");

    // Replace m3u8-rs's f32 EXTINF values, in order, with the exact ones.
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

    #[test]
    fn relative_uris() {
        assert_eq!(relative_to("a/", "a/seg-00001.m4s"), "seg-00001.m4s");
        assert_eq!(relative_to("a/", "b/init.mp4"), "../b/init.mp4");
    }
}
