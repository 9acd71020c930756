//! Rendering cost of every text document a long title publishes.
//!
//! The title: 2 hours at 4 s segments (1800 per rendition), six H.264 renditions at 30 fps
//! (timescale 30000) and one AAC rendition (timescale 48000) whose segments end on the AAC
//! frame nearest each video boundary, so its durations alternate (187 and 188 frames) and
//! its DASH SegmentTimeline cannot collapse into one `<S r=…>`, as on real output. Segment
//! sizes wobble around each rung's bitrate so that peak and average bandwidths differ.
//!
//! `cargo bench -p vodpipe-benches --bench manifests`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use manifest::catalog::{self, Image, SourceInfo, Thumbnails};
use manifest::model::{
    FrameRate, Presentation, Rendition, Segment, Sha256Digest, TrackInfo, TrackKind, VideoCodec,
    init_uri, media_segment_uri,
};
use manifest::{dash, hls};

const TITLE_SECONDS: u64 = 2 * 60 * 60;
const SEGMENT_SECONDS: u64 = 4;
const VIDEO_TIMESCALE: u32 = 30_000;
const AUDIO_TIMESCALE: u32 = 48_000;
const AAC_FRAME: u64 = 1024;
const PUBLISHED_AT: &str = "2026-01-02T03:04:05Z";
const GENERATOR: &str = "vodpipe/bench";

/// (id, RFC 6381 codecs, width, height, average bitrate) of the six video rungs.
const VIDEO_RUNGS: [(&str, &str, u32, u32, u64); 6] = [
    ("h264_1080p", "avc1.640028", 1920, 1080, 5_000_000),
    ("h264_720p", "avc1.64001F", 1280, 720, 3_000_000),
    ("h264_540p", "avc1.64001F", 960, 540, 2_000_000),
    ("h264_480p", "avc1.4D401E", 854, 480, 1_400_000),
    ("h264_360p", "avc1.4D401E", 640, 360, 800_000),
    ("h264_240p", "avc1.4D4015", 426, 240, 400_000),
];

fn segments(id: &str, durations: &[u64], timescale: u32, bitrate: u64) -> Vec<Segment> {
    // Sizes vary by up to ±15 % so that BANDWIDTH (peak) and AVERAGE-BANDWIDTH differ.
    let wobble = [100u64, 115, 88, 104, 93, 109, 97];
    let mut start = 0;
    durations
        .iter()
        .enumerate()
        .map(|(i, &duration)| {
            let index = u32::try_from(i + 1).expect("fewer than 2^32 segments");
            let uri = media_segment_uri(id, index);
            let size = bitrate * duration / u64::from(timescale) / 8 * wobble[i % wobble.len()] / 100;
            let segment = Segment {
                index,
                start,
                duration,
                size,
                sha256: Sha256Digest::of(uri.as_bytes()),
                uri,
                key_frame_bytes: None,
            };
            start += duration;
            segment
        })
        .collect()
}

fn rendition(track: TrackInfo, durations: &[u64], bitrate: u64) -> Rendition {
    let uri = init_uri(&track.id);
    let init = Segment {
        index: 0,
        start: 0,
        duration: 0,
        size: 780,
        sha256: Sha256Digest::of(uri.as_bytes()),
        uri,
        key_frame_bytes: None,
    };
    let segments = segments(&track.id, durations, track.timescale, bitrate);
    Rendition {
        track,
        init,
        segments,
    }
}

/// Audio boundaries: the whole AAC frame nearest to each multiple of the segment length.
fn audio_durations(count: u64) -> Vec<u64> {
    let per_segment = SEGMENT_SECONDS * u64::from(AUDIO_TIMESCALE);
    let boundary = |k: u64| (k * per_segment + AAC_FRAME / 2) / AAC_FRAME * AAC_FRAME;
    (1..=count).map(|k| boundary(k) - boundary(k - 1)).collect()
}

fn title() -> Presentation {
    let count = TITLE_SECONDS / SEGMENT_SECONDS;
    let video_durations = vec![SEGMENT_SECONDS * u64::from(VIDEO_TIMESCALE); count as usize];
    let mut renditions: Vec<Rendition> = VIDEO_RUNGS
        .iter()
        .map(|&(id, codecs, width, height, bitrate)| {
            let track = TrackInfo {
                id: id.into(),
                kind: TrackKind::Video,
                video_codec: Some(VideoCodec::H264),
                codecs: codecs.into(),
                timescale: VIDEO_TIMESCALE,
                width: Some(width),
                height: Some(height),
                frame_rate: Some(FrameRate::new(30, 1)),
                channels: None,
                sample_rate: None,
                language: None,
                role: Default::default(),
                video_range: None,
            };
            rendition(track, &video_durations, bitrate)
        })
        .collect();
    let audio = TrackInfo {
        id: "audio".into(),
        kind: TrackKind::Audio,
        video_codec: None,
        codecs: "mp4a.40.2".into(),
        timescale: AUDIO_TIMESCALE,
        width: None,
        height: None,
        frame_rate: None,
        channels: Some(2),
        sample_rate: Some(AUDIO_TIMESCALE),
        language: Some("en".into()),
        role: Default::default(),
        video_range: None,
    };
    renditions.push(rendition(audio, &audio_durations(count), 128_000));
    let p = Presentation {
        video_id: "bench-2h-title".into(),
        renditions,
        subtitles: Vec::new(),
    };
    p.validate().expect("the bench title follows the URI layout");
    p
}

fn source() -> SourceInfo {
    SourceInfo {
        uri: "file:///media/in/feature.mp4".into(),
        container: "ISO MP4/M4A".into(),
        video_codec: "H.264 (High Profile)".into(),
        audio_codec: Some("MPEG-4 AAC".into()),
        duration_ns: TITLE_SECONDS * 1_000_000_000,
        width: 1920,
        height: 1080,
        display_aspect_ratio: (16, 9),
        frame_rate: FrameRate::new(30, 1),
        size_bytes: 5_400_000_000,
        sha256: Sha256Digest::of(b"feature.mp4"),
    }
}

/// A poster plus 10x10 sprite sheets at one tile every 10 s (720 tiles, 8 sheets).
fn thumbnails() -> Thumbnails {
    let image = |uri: String, width, height, size| Image {
        sha256: Sha256Digest::of(uri.as_bytes()),
        uri,
        width,
        height,
        size,
    };
    Thumbnails {
        poster: image("thumbs/poster.jpg".into(), 1280, 720, 52_000),
        sprites: (1..=8u64)
            .map(|n| image(format!("thumbs/sprite-{n:03}.jpg"), 1600, 900, 140_000 + n))
            .collect(),
        index_vtt_uri: "thumbs/thumbs.vtt".into(),
        interval_ms: 10_000,
        tile_width: 160,
        tile_height: 90,
    }
}

fn bench_manifests(c: &mut Criterion) {
    let p = title();
    let src = source();
    let thumbs = thumbnails();
    let base = "s3://vodpipe-output/bench-2h-title/";
    let all_segments: u64 = p.renditions.iter().map(|r| r.segments.len() as u64).sum();
    let video = &p.renditions[0];
    let audio = p.renditions.last().expect("audio rendition");

    // Sizes of what is timed, for the record (BENCHMARKS.md quotes them).
    let media_bytes: usize = p.renditions.iter().map(|r| hls::media_playlist(r).len()).sum();
    let catalog_json = catalog::build(&p, &src, &thumbs, base, PUBLISHED_AT, GENERATOR).to_json_pretty();
    eprintln!(
        "title: {} renditions x {} segments; master.m3u8 {} B, media playlists {} B in all, manifest.mpd {} B, catalog.json {} B",
        p.renditions.len(),
        video.segments.len(),
        hls::master_playlist(&p).len(),
        media_bytes,
        dash::mpd(&p, None).expect("mpd renders").len(),
        catalog_json.len(),
    );

    let mut g = c.benchmark_group("manifest_2h_6v1a");
    g.throughput(Throughput::Elements(all_segments));
    g.bench_function("hls_master_playlist", |b| b.iter(|| hls::master_playlist(black_box(&p))));
    g.bench_function("hls_media_playlists_all7", |b| {
        b.iter(|| {
            black_box(&p)
                .renditions
                .iter()
                .map(|r| hls::media_playlist(r).len())
                .sum::<usize>()
        })
    });
    g.bench_function("dash_mpd", |b| b.iter(|| dash::mpd(black_box(&p), None).expect("mpd renders")));
    g.bench_function("catalog_build", |b| {
        b.iter(|| catalog::build(black_box(&p), &src, &thumbs, base, PUBLISHED_AT, GENERATOR))
    });
    g.bench_function("catalog_build_to_json_pretty", |b| {
        b.iter(|| catalog::build(black_box(&p), &src, &thumbs, base, PUBLISHED_AT, GENERATOR).to_json_pretty())
    });
    g.finish();

    let mut g = c.benchmark_group("media_playlist_1800_segments");
    g.throughput(Throughput::Elements(video.segments.len() as u64));
    g.bench_function("video_h264_1080p", |b| b.iter(|| hls::media_playlist(black_box(video))));
    g.bench_function("audio", |b| b.iter(|| hls::media_playlist(black_box(audio))));
    g.finish();
}

criterion_group!(benches, bench_manifests);
criterion_main!(benches);
