//! `chunk`: the plan that cuts a title's video into chunks of whole segments, and the
//! assembly of the parts into one presentation (the rules that span parts).

use manifest::Error;
use manifest::catalog::{Image, Thumbnails};
use manifest::chunk::{ChunkSpan, Part, PartRecord, Worker, assemble, plan};
use manifest::model::{Rendition, Segment, Sha256Digest, TrackInfo, TrackKind, VideoCodec, init_uri, media_segment_uri};

const SEG_NS: u64 = 4_000_000_000;

#[test]
fn a_title_is_cut_into_whole_segments_and_the_last_chunk_runs_to_the_end() {
    // 10 min of 4 s segments in 60 s chunks: 150 segments, 10 chunks of 15.
    let p = plan(600_000_000_000, SEG_NS, 60_000_000_000);
    assert_eq!(p.len(), 10);
    assert_eq!(p[0], ChunkSpan { index: 0, first_segment: 1, segments: Some(15) });
    assert_eq!(p[1].first_segment, 16);
    assert_eq!(p[9], ChunkSpan { index: 9, first_segment: 136, segments: None });
    // 10:02: 151 segments; the extra one goes to the last chunk, not to a chunk of its own.
    let p = plan(602_000_000_000, SEG_NS, 60_000_000_000);
    assert_eq!(p.len(), 10);
    assert_eq!(p[9].first_segment, 136);
    // A chunk length that is not a multiple of the segment rounds to whole segments (62 s: 15.5 -> 16).
    assert_eq!(plan(600_000_000_000, SEG_NS, 62_000_000_000)[1].first_segment, 17);
}

#[test]
fn the_segments_left_over_are_spread_over_the_last_chunks() {
    // 4 min in 30 s chunks of 4 s segments: 60 segments, 7 chunks of 8 whole, 4 left over.
    let p = plan(240_000_000_000, SEG_NS, 30_000_000_000);
    let lengths: Vec<Option<u32>> = p.iter().map(|c| c.segments).collect();
    assert_eq!(lengths, [Some(8), Some(8), Some(8), Some(9), Some(9), Some(9), None]);
    let firsts: Vec<u32> = p.iter().map(|c| c.first_segment).collect();
    assert_eq!(firsts, [1, 9, 17, 25, 34, 43, 52]);
    // 62 s chunks of 10 min: 9 chunks of 16 whole, 6 left over: 16 x 3, then 17 x 6.
    let p = plan(600_000_000_000, SEG_NS, 62_000_000_000);
    assert_eq!(p.iter().filter_map(|c| c.segments).collect::<Vec<_>>(), [16, 16, 16, 17, 17, 17, 17, 17]);
    assert_eq!(p[8].first_segment, 1 + 3 * 16 + 5 * 17);
}

#[test]
fn a_title_shorter_than_two_chunks_or_with_chunking_off_is_one_chunk() {
    let whole = vec![ChunkSpan { index: 0, first_segment: 1, segments: None }];
    assert_eq!(plan(119_000_000_000, SEG_NS, 60_000_000_000), whole);
    assert_eq!(plan(600_000_000_000, SEG_NS, 0), whole);
    assert_eq!(plan(120_000_000_000, SEG_NS, 60_000_000_000).len(), 2);
}

#[test]
fn chunk_times_are_whole_frames_at_ntsc_rates() {
    // 29.97 fps, 120-frame segments: segment 16 starts at frame 1800 = 60.06 s exactly.
    let c = ChunkSpan { index: 1, first_segment: 16, segments: Some(15) };
    assert_eq!(c.start_ns(120, 30000, 1001), 60_060_000_000);
    assert_eq!(c.end_ns(120, 30000, 1001), Some(120_120_000_000));
    assert_eq!(ChunkSpan { segments: None, ..c }.end_ns(120, 30000, 1001), None);
}

fn digest(n: u8) -> Sha256Digest {
    Sha256Digest([n; 32])
}

fn track(id: &str, kind: TrackKind) -> TrackInfo {
    TrackInfo {
        id: id.into(),
        kind,
        video_codec: (kind == TrackKind::Video).then_some(VideoCodec::H264),
        codecs: if kind == TrackKind::Video { "avc1.64001f".into() } else { "mp4a.40.2".into() },
        timescale: if kind == TrackKind::Video { 90_000 } else { 48_000 },
        width: None,
        height: None,
        frame_rate: None,
        channels: None,
        sample_rate: None,
        language: None,
        role: Default::default(),
        video_range: None,
    }
}

/// Segments `first..first+n` of `id`, each `d` ticks, starting at (first-1) x d.
fn rendition(id: &str, kind: TrackKind, init: u8, first: u32, n: u32, d: u64) -> Rendition {
    let segments = (first..first + n)
        .map(|i| Segment {
            index: i,
            start: u64::from(i - 1) * d,
            duration: d,
            size: 100,
            sha256: digest(i as u8),
            uri: media_segment_uri(id, i),
            key_frame_bytes: None,
        })
        .collect();
    let init = Segment { index: 0, start: 0, duration: 0, size: 10, sha256: digest(init), uri: init_uri(id), key_frame_bytes: None };
    Rendition { track: track(id, kind), init, segments }
}

fn thumbnails() -> Thumbnails {
    let img = |uri: &str| Image { uri: uri.into(), width: 160, height: 90, size: 1, sha256: digest(9) };
    Thumbnails {
        poster: img("thumbs/poster.jpg"),
        sprites: vec![img("thumbs/sprite-001.jpg")],
        index_vtt_uri: "thumbs/thumbs.vtt".into(),
        interval_ms: 2000,
        tile_width: 160,
        tile_height: 90,
    }
}

fn chunk(n: u32, first: u32, segments: u32) -> Part {
    Part {
        name: format!("chunk {n}"),
        renditions: vec![rendition("h264_360p", TrackKind::Video, 1, first, segments, 360_000)],
        thumbnails: None,
        worker: Some(Worker { host: "encoder-a".into(), pid: 100 + n }),
        text: Vec::new(),
    }
}

fn audio(segments: u32) -> Part {
    Part {
        name: "audio and thumbnails".into(),
        renditions: vec![rendition("audio", TrackKind::Audio, 2, 1, segments, 192_000)],
        thumbnails: Some(thumbnails()),
        worker: None,
        text: Vec::new(),
    }
}

#[test]
fn chunks_and_the_audio_part_make_one_presentation_ending_with_the_video() {
    // Audio one segment longer than the video (its flush past the end): left out, and named.
    let a = assemble("clip", vec![chunk(0, 1, 3), audio(6), chunk(1, 4, 2)]).unwrap();
    let p = &a.presentation;
    assert_eq!(p.renditions.iter().map(|r| r.track.id.as_str()).collect::<Vec<_>>(), ["h264_360p", "audio"]);
    let video = &p.renditions[0];
    assert_eq!(video.segments.iter().map(|s| s.index).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    assert_eq!(p.renditions[1].segments.len(), 5);
    assert_eq!(a.dropped_audio.iter().map(|s| s.uri.as_str()).collect::<Vec<_>>(), ["audio/seg-00006.m4s"]);
    p.validate().unwrap();
    // What each part made, in the order given, and by whom; the audio part's ends with the video.
    let record = |part: &str, first, last, worker: Option<u32>| PartRecord {
        part: part.into(),
        first_segment: first,
        last_segment: last,
        worker: worker.map(|pid| Worker { host: "encoder-a".into(), pid }),
    };
    assert_eq!(a.parts, [record("chunk 0", 1, 3, Some(100)), record("audio and thumbnails", 1, 5, None), record("chunk 1", 4, 5, Some(101))]);
}

#[test]
fn a_chunk_whose_init_segment_differs_fails_the_title() {
    let mut odd = chunk(1, 4, 2);
    odd.renditions[0].init.sha256 = digest(7);
    let e = assemble("clip", vec![chunk(0, 1, 3), odd, audio(5)]).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::PartsDisagree { .. }), "{e:?}");
    assert!(msg.starts_with("chunk 1: h264_360p: init segment"), "{msg}");
}

#[test]
fn a_missing_chunk_or_a_gap_at_a_seam_fails_the_title() {
    let e = assemble("clip", vec![chunk(0, 1, 3), chunk(2, 7, 2), audio(9)]).unwrap_err();
    assert!(e.to_string().contains("starts at segment 7, the part before ends at 3"), "{e}");
    // One tick late at the seam: a player's timeline would have a hole there.
    let mut late = chunk(1, 4, 2);
    for s in &mut late.renditions[0].segments {
        s.start += 1;
    }
    let e = assemble("clip", vec![chunk(0, 1, 3), late, audio(5)]).unwrap_err();
    assert!(e.to_string().contains("segment 4 starts at 1080001 but the one before ends at 1080000"), "{e}");
}

#[test]
fn thumbnails_come_from_exactly_one_part() {
    let e = assemble("clip", vec![chunk(0, 1, 3)]).unwrap_err();
    assert!(matches!(e, Error::ThumbnailsMissing { .. }), "{e:?}");
    let mut twice = chunk(1, 4, 2);
    twice.thumbnails = Some(thumbnails());
    let e = assemble("clip", vec![chunk(0, 1, 3), twice, audio(5)]).unwrap_err();
    assert!(e.to_string().contains("a second part made thumbnails"), "{e}");
}
