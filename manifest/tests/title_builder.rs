//! `title::TitleBuilder` fed with real fragments (fixtures/codec-samples: GStreamer's H.264
//! and ffmpeg's AAC): numbering and naming, audio held until its video segment, the end of
//! the title, and every rule it refuses to break.

use std::path::{Path, PathBuf};

use manifest::Error;
use manifest::catalog::Image;
use manifest::codecs::InitInfo;
use manifest::model::{Sha256Digest, TrackInfo, TrackKind, VideoCodec};
use manifest::title::{InitOutcome, PlannedTrack, Release, SpriteIndex, TitleBuilder};

fn sample(name: &str, file: &str) -> Vec<u8> {
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/codec-samples").join(name);
    std::fs::read(dir.join(file)).unwrap()
}

const VIDEO: &str = "h264_main_cmaf";
/// GStreamer's fragments cut without forced keyframes: its second starts mid-GOP.
const MID_GOP: &str = "h264_baseline_gst";
const AUDIO: &str = "aac_lc_48k_stereo";

fn digest(n: u8) -> Sha256Digest {
    Sha256Digest([n; 32])
}

fn describe(plan: &PlannedTrack, info: &InitInfo) -> TrackInfo {
    TrackInfo {
        id: plan.id.clone(),
        kind: plan.kind,
        video_codec: plan.codec,
        codecs: info.codecs.clone(),
        timescale: info.timescale,
        width: info.width,
        height: info.height,
        frame_rate: None,
        channels: info.channels,
        sample_rate: info.sample_rate,
        language: None,
        role: Default::default(),
        video_range: None,
    }
}

/// A title of one H.264 rendition (track 0) and the audio (track 1), inits given.
fn title() -> TitleBuilder<Vec<u8>> {
    let mut t = TitleBuilder::new(
        "clip",
        [
            PlannedTrack { id: "h264_360p".into(), kind: TrackKind::Video, codec: Some(VideoCodec::H264) },
            PlannedTrack { id: "audio".into(), kind: TrackKind::Audio, codec: None },
        ],
    );
    for (track, name) in [(0, VIDEO), (1, AUDIO)] {
        let init = sample(name, "init.mp4");
        match t.on_init(track, &init, digest(track as u8), describe).unwrap() {
            InitOutcome::Store(seg) => {
                assert_eq!(seg.index, 0);
                assert_eq!(seg.size, init.len() as u64);
            }
            InitOutcome::Repeat => panic!("a first init segment is stored"),
        }
    }
    t
}

fn thumbs(t: &mut TitleBuilder<Vec<u8>>) {
    let img = |uri: &str| Image { uri: uri.into(), width: 160, height: 90, size: 1, sha256: digest(9) };
    t.on_poster(img("thumbs/poster.jpg"));
    t.on_sprite(img("thumbs/sprite-001.jpg"));
    t.on_sprites_done(SpriteIndex { vtt_uri: "thumbs/thumbs.vtt".into(), tile_width: 160, tile_height: 90, interval_ns: 2_000_000_000 });
}

fn names(released: &[Release<Vec<u8>>]) -> Vec<String> {
    released.iter().map(|r| r.segment.uri.clone()).collect()
}

#[test]
fn audio_waits_for_its_video_segment_and_the_title_ends_with_the_video() {
    let mut t = title();
    // Audio first: held, since no video segment 1 exists yet.
    let a1 = t.on_fragment(1, sample(AUDIO, "seg-00001.m4s"), digest(11)).unwrap();
    assert!(a1.is_empty(), "audio 1 released before video 1: {:?}", names(&a1));
    // Video 1 releases itself, then audio 1.
    let v1 = t.on_fragment(0, sample(VIDEO, "seg-00001.m4s"), digest(21)).unwrap();
    assert_eq!(names(&v1), ["h264_360p/seg-00001.m4s", "audio/seg-00001.m4s"]);
    assert_eq!((v1[0].kind, v1[1].kind, v1[1].rendition.as_str()), (TrackKind::Video, TrackKind::Audio, "audio"));
    assert_eq!(v1[1].body, sample(AUDIO, "seg-00001.m4s"), "the payload is carried through unchanged");
    // Audio 2 has no video 2 beside it at the end: dropped, and the title ends with video 1.
    assert!(t.on_fragment(1, sample(AUDIO, "seg-00002.m4s"), digest(12)).unwrap().is_empty());
    thumbs(&mut t);
    let (last, built) = t.finish().unwrap();
    assert!(last.is_empty());
    assert_eq!(built.dropped_audio, [("audio".to_owned(), 1)]);
    let p = &built.presentation;
    assert_eq!(p.video_id, "clip");
    let segs: Vec<(String, Vec<u32>)> =
        p.renditions.iter().map(|r| (r.track.id.clone(), r.segments.iter().map(|s| s.index).collect())).collect();
    assert_eq!(segs, [("h264_360p".to_owned(), vec![1]), ("audio".to_owned(), vec![1])]);
    // Times and sizes are the fragments' own (read with cmaf::parse_fragment).
    let v = &p.renditions[0].segments[0];
    assert_eq!((v.size, v.sha256), (sample(VIDEO, "seg-00001.m4s").len() as u64, digest(21)));
    assert!(v.duration > 0);
    assert_eq!(built.thumbnails.interval_ms, 2000);
}

#[test]
fn audio_reached_at_the_end_is_released_by_finish() {
    let mut t = title();
    t.on_fragment(0, sample(VIDEO, "seg-00001.m4s"), digest(21)).unwrap();
    t.on_fragment(0, sample(VIDEO, "seg-00002.m4s"), digest(22)).unwrap();
    // Video is ahead: each audio fragment is released as it comes.
    let a = t.on_fragment(1, sample(AUDIO, "seg-00001.m4s"), digest(11)).unwrap();
    assert_eq!(names(&a), ["audio/seg-00001.m4s"]);
    thumbs(&mut t);
    let (last, built) = t.finish().unwrap();
    assert!(last.is_empty() && built.dropped_audio.is_empty());
    assert_eq!(built.presentation.renditions[0].segments.len(), 2);
}

/// The audio of a chunked title is a part without video: its segments are released as
/// they come, up to the video's planned last segment; one past it is held and dropped.
#[test]
fn audio_without_video_is_released_up_to_the_planned_end() {
    let mut t = TitleBuilder::new("clip", [PlannedTrack { id: "audio".into(), kind: TrackKind::Audio, codec: None }]).audio_up_to(1);
    t.on_init(0, &sample(AUDIO, "init.mp4"), digest(1), describe).unwrap();
    let a1 = t.on_fragment(0, sample(AUDIO, "seg-00001.m4s"), digest(11)).unwrap();
    assert_eq!(names(&a1), ["audio/seg-00001.m4s"]);
    let a2 = t.on_fragment(0, sample(AUDIO, "seg-00002.m4s"), digest(12)).unwrap();
    assert!(a2.is_empty(), "audio past the video's planned end released: {:?}", names(&a2));
    thumbs(&mut t);
    let done = t.finish_part("audio and thumbnails").unwrap();
    assert!(done.last.is_empty());
    assert_eq!(done.dropped_audio, [("audio".to_owned(), 1)]);
    assert_eq!(done.part.renditions[0].segments.len(), 1);
    assert!(done.part.thumbnails.is_some());
}

#[test]
fn broken_rules_are_errors_naming_the_rendition() {
    // A different init segment later: the source changed format.
    let mut t = title();
    let init = sample(VIDEO, "init.mp4");
    assert_eq!(t.on_init(0, &init, digest(0), describe).unwrap(), InitOutcome::Repeat);
    assert!(matches!(t.on_init(0, &init, digest(7), describe), Err(Error::FormatChanged { rendition }) if rendition == "h264_360p"));

    // A video segment that does not start with a sync sample.
    let mut t: TitleBuilder<Vec<u8>> =
        TitleBuilder::new("x", [PlannedTrack { id: "v".into(), kind: TrackKind::Video, codec: Some(VideoCodec::H264) }]);
    t.on_init(0, &sample(MID_GOP, "init.mp4"), digest(0), describe).unwrap();
    t.on_fragment(0, sample(MID_GOP, "seg-00001.m4s"), digest(1)).unwrap();
    assert!(matches!(
        t.on_fragment(0, sample(MID_GOP, "seg-00002.m4s"), digest(2)),
        Err(Error::NoKeyframeAtSegmentStart { rendition, index: 2 }) if rendition == "v"
    ));

    // A fragment before its init segment.
    let mut t: TitleBuilder<Vec<u8>> =
        TitleBuilder::new("x", [PlannedTrack { id: "audio".into(), kind: TrackKind::Audio, codec: None }]);
    assert!(matches!(t.on_fragment(0, sample(AUDIO, "seg-00001.m4s"), digest(1)), Err(Error::FragmentBeforeInit { .. })));

    // Bytes that are no fragment.
    let mut t = title();
    assert!(matches!(t.on_fragment(0, vec![0, 0, 0, 8, b'f', b'r', b'e', b'e'], digest(1)), Err(Error::InTrack { rendition, .. }) if rendition == "h264_360p"));

    // A rendition with no media segment, and a title without thumbnails.
    let mut t = title();
    t.on_fragment(0, sample(VIDEO, "seg-00001.m4s"), digest(21)).unwrap();
    thumbs(&mut t);
    assert!(matches!(t.finish(), Err(Error::NoSegments { rendition }) if rendition == "audio"));
    let mut t = title();
    t.on_fragment(0, sample(VIDEO, "seg-00001.m4s"), digest(21)).unwrap();
    t.on_fragment(1, sample(AUDIO, "seg-00001.m4s"), digest(11)).unwrap();
    assert!(matches!(t.finish(), Err(Error::ThumbnailsMissing { .. })));
}
