//! Copy rungs: a rung marked `copy = true` whose settings the source already
//! meets is packaged from the source's own stream, without decoding or
//! encoding it again (a mezzanine that is already the top rung, a re-package
//! of an old title).
//!
//! What can be checked before the pipeline starts is checked here, from the
//! probe: codec and an 8-bit 4:2:0 profile, the displayed size with square
//! pixels, progressive, upright, a constant frame rate, and the bitrate within
//! the rung's `max_bitrate`. The rest shows only in the stream, and the pipeline
//! checks it as the stream passes: reordering (B-frames) no further than the SPS
//! states (every track is delayed by that much, see `pipeline::BuildContext::delay_frames`)
//! and a keyframe on every segment boundary that no later picture is shown before
//! (closed GOPs: a segment must start at a stream access point). The first miss fails
//! the run with [`crate::Error::CopyRefused`], and [`crate::package`] runs the
//! job again with every rung encoded.

use manifest::model::VideoCodec;

use crate::ladder::{AudioRung, SourceRung};
use crate::probe::SourceMedia;

/// Why the source cannot be copied as this rung, or `None` when it can.
pub fn refusal(pr: &SourceRung, source: &SourceMedia) -> Option<String> {
    let v = &source.video_stream;
    let (caps, profiles): (&str, &[&str]) = match pr.rung.codec {
        VideoCodec::H264 => ("video/x-h264", &["constrained-baseline", "baseline", "main", "high"]),
        VideoCodec::H265 => ("video/x-h265", &["main"]),
        _ => return Some("only h264 and h265 rungs can be copied".into()),
    };
    if v.caps_name != caps {
        return Some(format!("the source is {}, not {caps}", v.caps_name));
    }
    match v.profile.as_deref() {
        Some(p) if profiles.contains(&p) => {}
        other => return Some(format!("source profile {other:?} is not one of {profiles:?}")),
    }
    let g = &source.geometry;
    if (g.width, g.height) != (pr.width, pr.rung.height) || g.par_n != g.par_d {
        return Some(format!(
            "the source is {}x{} (pixel aspect {}:{}), the rung {}x{} with square pixels",
            g.width, g.height, g.par_n, g.par_d, pr.width, pr.rung.height
        ));
    }
    if source.interlaced || source.orientation.is_some() {
        return Some("the source is interlaced or needs rotating".into());
    }
    if !v.rate_known {
        return Some("the source's frame rate is variable or unknown".into());
    }
    // Without a stated bitrate, the file's average (audio included) is an upper bound.
    let bitrate = v
        .bitrate
        .map(u64::from)
        .unwrap_or_else(|| source.size_bytes * 8 * 1_000_000_000 / source.duration_ns.max(1));
    if bitrate > pr.rung.max_bitrate as u64 {
        return Some(format!("source bitrate {bitrate} b/s is over the rung's max_bitrate {}", pr.rung.max_bitrate));
    }
    None
}

/// Marks the copy rungs the source qualifies for; logs why the others are encoded.
pub fn decide(plan: &mut [SourceRung], source: &SourceMedia) {
    for pr in plan.iter_mut().filter(|p| p.rung.copy) {
        match refusal(pr, source) {
            None => {
                pr.copy = true;
                let reorder = match source.video_stream.reorder_frames {
                    Some(n) => n.to_string(),
                    None => "not stated".into(),
                };
                tracing::info!(rendition = %pr.rung.id(), reorder_frames = %reorder, "copying the source's stream (no re-encode)");
            }
            Some(why) => tracing::info!(rendition = %pr.rung.id(), "encoding, not copying: {why}"),
        }
    }
}

/// Why the source's audio cannot be copied as the ladder's audio, or `None` when it can.
pub fn audio_refusal(audio: &AudioRung, source: &SourceMedia) -> Option<String> {
    let Some(a) = &source.audio_stream else { return Some("the source has no audio".into()) };
    if a.caps_name != "audio/mpeg" || a.mpeg_version != Some(4) {
        return Some(format!("the source's audio is {} (mpegversion {:?}), not AAC", a.caps_name, a.mpeg_version));
    }
    if a.profile.as_deref() != Some("lc") {
        return Some(format!("the source's AAC profile is {:?}, not lc", a.profile));
    }
    if a.channels != 2 || a.sample_rate != audio.sample_rate {
        return Some(format!(
            "the source's audio is {} channels at {} Hz, the ladder's 2 at {} Hz",
            a.channels, a.sample_rate, audio.sample_rate
        ));
    }
    match a.bitrate {
        None => Some("the source's audio bitrate is not stated".into()),
        Some(b) if b > audio.max_bitrate => {
            Some(format!("source audio bitrate {b} b/s is over the ladder's audio max_bitrate {}", audio.max_bitrate))
        }
        Some(_) => None,
    }
}

/// Whether the audio rendition is copied; logs why not when the ladder asked for it.
pub fn decide_audio(audio: &AudioRung, source: &SourceMedia) -> bool {
    if !audio.copy || !source.has_audio {
        return false;
    }
    match audio_refusal(audio, source) {
        None => {
            tracing::info!(rendition = "audio", "copying the source's audio (no re-encode)");
            true
        }
        Some(why) => {
            tracing::info!(rendition = "audio", "encoding, not copying: {why}");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ladder::{Ladder, SourceGeometry};
    use crate::probe::{EncodedAudio, EncodedVideo};
    use manifest::model::FrameRate;

    fn source(w: u32, h: u32, profile: &str, bitrate: Option<u32>) -> SourceMedia {
        SourceMedia {
            container: "ISO MP4/M4A".into(),
            video_codec: "H.264".into(),
            audio_codec: None,
            duration_ns: 60_000_000_000,
            stated_video_end_ns: None,
            stated_video_start_ns: None,
            frames_off_grid_s: None,
            geometry: SourceGeometry { width: w, height: h, par_n: 1, par_d: 1 },
            frame_rate: FrameRate { num: 30, den: 1 },
            interlaced: false,
            orientation: None,
            pts_timeline: false,
            video_range: None,
            has_audio: false,
            size_bytes: 30_000_000,
            video_stream: EncodedVideo {
                caps_name: "video/x-h264".into(),
                profile: Some(profile.into()),
                bitrate,
                rate_known: true,
                reorder_frames: None,
            },
            audio_stream: None,
            audio_streams: Vec::new(),
            text_streams: Vec::new(),
        }
    }

    fn plan(src: &SourceMedia) -> Vec<SourceRung> {
        let ladder = Ladder::from_toml(
            "[[rung]]\ncodec = \"h264\"\nheight = 1080\nbitrate = 5000000\ncopy = true\n\
             [[rung]]\ncodec = \"h264\"\nheight = 720\nbitrate = 3000000\n",
        )
        .unwrap();
        let mut p = ladder.rungs_for(&src.geometry).unwrap();
        decide(&mut p, src);
        p
    }

    #[test]
    fn a_matching_source_is_copied_and_only_as_its_own_rung() {
        let p = plan(&source(1920, 1080, "high", Some(6_000_000)));
        assert_eq!(p.iter().map(|r| r.copy).collect::<Vec<_>>(), [true, false]);
    }

    #[test]
    fn mismatches_are_encoded() {
        // Over max_bitrate (7.5 Mb/s), 10-bit, another size, and no stated bitrate with a
        // file average over the cap (30 MB in 60 s = 4 Mb/s is under it, 60 MB is not).
        assert!(!plan(&source(1920, 1080, "high", Some(9_000_000)))[0].copy);
        assert!(!plan(&source(1920, 1080, "high-10", Some(6_000_000)))[0].copy);
        assert!(!plan(&source(1920, 1088, "high", Some(6_000_000)))[0].copy);
        assert!(plan(&source(1920, 1080, "high", None))[0].copy);
        let mut big = source(1920, 1080, "high", None);
        big.size_bytes = 60_000_000;
        assert!(!plan(&big)[0].copy);
        let mut vfr = source(1920, 1080, "high", Some(6_000_000));
        vfr.video_stream.rate_known = false;
        assert!(!plan(&vfr)[0].copy);
    }

    #[test]
    fn audio_is_copied_only_when_it_is_what_the_encoder_would_make() {
        let ladder = Ladder::from_toml(
            "[audio]\nbitrate = 128000\ncopy = true\n[[rung]]\ncodec = \"h264\"\nheight = 720\nbitrate = 3000000\n",
        )
        .unwrap();
        assert_eq!(ladder.audio.max_bitrate, 192_000);
        let aac = EncodedAudio {
            caps_name: "audio/mpeg".into(),
            mpeg_version: Some(4),
            profile: Some("lc".into()),
            channels: 2,
            sample_rate: 48_000,
            bitrate: Some(192_000),
        };
        let with = |f: &dyn Fn(&mut EncodedAudio)| {
            let mut s = source(1280, 720, "high", None);
            s.has_audio = true;
            let mut a = aac.clone();
            f(&mut a);
            s.audio_stream = Some(a);
            decide_audio(&ladder.audio, &s)
        };
        assert!(with(&|_| {}));
        assert!(!with(&|a| a.bitrate = Some(256_000)));
        assert!(!with(&|a| a.bitrate = None));
        assert!(!with(&|a| a.profile = Some("he-aac".into())));
        assert!(!with(&|a| a.channels = 6));
        assert!(!with(&|a| a.sample_rate = 44_100));
        assert!(!with(&|a| a.mpeg_version = Some(1)));
        let mut no_copy = ladder.audio.clone();
        no_copy.copy = false;
        let mut s = source(1280, 720, "high", None);
        s.has_audio = true;
        s.audio_stream = Some(aac);
        assert!(!decide_audio(&no_copy, &s));
    }
}
