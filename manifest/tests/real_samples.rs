//! End to end on real media: a title made of the samples in fixtures/codec-samples (H.264,
//! H.265, AV1, VP9 and AAC renditions written by ffmpeg), described by reading their bytes
//! with `codecs` and `cmaf`, rendered with `hls` and `dash`, and then played back by a
//! demuxer nobody here wrote: ffprobe must find every packet of every rendition through
//! master.m3u8 and through manifest.mpd, and the MPD must pass the official schema.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use manifest::cmaf;
use manifest::codecs;
use manifest::model::{
    FrameRate, Presentation, Rendition, Segment, Sha256Digest, TrackKind, init_uri,
    media_segment_uri,
};
use manifest::{dash, hls};

const VIDEO: [&str; 5] = [
    "h264_main_cmaf",
    "h264_high",
    "h265_main",
    "av1_main",
    "vp9_p0",
];
const AUDIO: &str = "aac_lc_48k_stereo";

fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("fixtures")
        .join("codec-samples")
}

/// A rendition described only from its files, the way the packager does it; also returns
/// the number of samples (packets) in its fragments.
fn rendition(name: &str) -> (Rendition, u32) {
    let dir = samples_dir().join(name);
    let init = std::fs::read(dir.join("init.mp4")).unwrap();
    let info = codecs::from_init_segment(&init).unwrap();
    let video = info.kind == TrackKind::Video;
    let track = info.to_track_info(
        name,
        video.then_some(FrameRate::new(30000, 1001)),
        (!video).then(|| "en".to_owned()),
    );
    let mut segments = Vec::new();
    let mut samples = 0;
    for index in 1.. {
        let Ok(bytes) = std::fs::read(dir.join(format!("seg-{index:05}.m4s"))) else {
            break;
        };
        let f = cmaf::parse_fragment(&bytes, &info).unwrap();
        assert!(!video || f.first_sample_is_sync, "{name} segment {index}");
        samples += f.sample_count;
        segments.push(Segment {
            index,
            start: u64::try_from(f.earliest_presentation_time).unwrap(),
            duration: f.duration,
            size: bytes.len() as u64,
            sha256: Sha256Digest::of(&bytes),
            uri: media_segment_uri(name, index),
            key_frame_bytes: f.first_sample_end,
        });
    }
    let r = Rendition {
        track,
        init: Segment {
            index: 0,
            start: 0,
            duration: 0,
            size: init.len() as u64,
            sha256: Sha256Digest::of(&init),
            uri: init_uri(name),
            key_frame_bytes: None,
        },
        segments,
    };
    (r, samples)
}

/// A title folder in the temp dir: the manifests, and links to the sample files.
struct Title {
    root: PathBuf,
}

impl Drop for Title {
    fn drop(&mut self) {
        // VODPIPE_KEEP_TITLE=1 leaves the folder for a look with other players.
        if std::env::var_os("VODPIPE_KEEP_TITLE").is_some_and(|v| v == "1") {
            eprintln!("kept {}", self.root.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

fn write_title(p: &Presentation, tag: &str) -> Title {
    let root = std::env::temp_dir().join(format!("vodpipe-manifest-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for r in &p.renditions {
        let id = &r.track.id;
        let dir = root.join(id);
        std::fs::create_dir_all(&dir).unwrap();
        for uri in std::iter::once(&r.init.uri).chain(r.segments.iter().map(|s| &s.uri)) {
            let file = Path::new(uri).file_name().unwrap();
            let target = samples_dir().join(id).join(file).canonicalize().unwrap();
            std::os::unix::fs::symlink(target, dir.join(file)).unwrap();
        }
        std::fs::write(dir.join("playlist.m3u8"), hls::media_playlist(r)).unwrap();
    }
    std::fs::write(root.join("master.m3u8"), hls::master_playlist(p)).unwrap();
    std::fs::write(root.join("manifest.mpd"), dash::mpd(p, None).unwrap()).unwrap();
    Title { root }
}

fn ffprobe(args: &[&str], manifest: &Path) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error"])
        .args(args)
        .args(["-of", "csv=p=0"])
        .arg(manifest)
        .output()
        .unwrap_or_else(|e| panic!("cannot run ffprobe (Debian: ffmpeg): {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "ffprobe {args:?} {}: {stderr}",
        manifest.display()
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Packets per codec name that ffprobe reads through `manifest`, one stream at a time.
///
/// One at a time because ffmpeg 5.1's DASH demuxer, reading all Representations together,
/// stops before the last packet of some of them; read alone, each one is complete. (Checked
/// by hand: `ffmpeg -i manifest.mpd -map 0 -c copy -f framemd5 -` misses one packet of
/// each H.264/H.265/AAC stream, `-map 0:N` for each N misses none.)
fn ffprobe_packets(manifest: &Path) -> BTreeMap<String, u32> {
    // ffprobe lists each stream once per program and once more on its own.
    let streams: BTreeMap<String, String> =
        ffprobe(&["-show_entries", "stream=index,codec_name"], manifest)
            .lines()
            .filter_map(|l| l.split_once(','))
            .map(|(i, c)| (i.to_owned(), c.to_owned()))
            .collect();
    assert!(
        !streams.is_empty(),
        "ffprobe found no stream in {}",
        manifest.display()
    );
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    for (index, codec) in streams {
        let text = ffprobe(
            &[
                "-select_streams",
                &index,
                "-count_packets",
                "-show_entries",
                "stream=nb_read_packets",
            ],
            manifest,
        );
        let n: u32 = text
            .lines()
            .find(|l| !l.trim().is_empty())
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or_else(|| panic!("no packet count for stream {index}: {text:?}"));
        *counts.entry(codec).or_default() += n;
    }
    counts
}

fn title() -> (Presentation, BTreeMap<String, u32>) {
    let mut renditions = Vec::new();
    let mut expected: BTreeMap<String, u32> = BTreeMap::new();
    for name in VIDEO.iter().chain([&AUDIO]) {
        let (r, samples) = rendition(name);
        let codec = match r.track.codecs.split('.').next().unwrap() {
            "avc1" => "h264",
            "hvc1" => "hevc",
            "av01" => "av1",
            "vp09" => "vp9",
            "mp4a" => "aac",
            other => panic!("{other}"),
        };
        *expected.entry(codec.to_owned()).or_default() += samples;
        renditions.push(r);
    }
    let p = Presentation {
        video_id: "real-samples".into(),
        renditions,
        subtitles: Vec::new(),
    };
    (p, expected)
}

#[test]
fn ffprobe_reads_every_packet_through_the_hls_master() {
    let (p, expected) = title();
    let t = write_title(&p, "hls");
    assert_eq!(ffprobe_packets(&t.root.join("master.m3u8")), expected);
}

#[test]
fn ffprobe_reads_every_packet_of_each_media_playlist() {
    let (p, _) = title();
    let t = write_title(&p, "media");
    for name in VIDEO.iter().chain([&AUDIO]) {
        let (_, samples) = rendition(name);
        let counts = ffprobe_packets(&t.root.join(name).join("playlist.m3u8"));
        assert_eq!(counts.values().sum::<u32>(), samples, "{name}: {counts:?}");
    }
}

#[test]
fn ffprobe_reads_every_packet_through_the_mpd() {
    let (p, expected) = title();
    let t = write_title(&p, "dash");
    assert_eq!(ffprobe_packets(&t.root.join("manifest.mpd")), expected);
}

/// Each I-frame playlist entry's byte range (the fragment's first bytes through its first
/// frame), put behind the init segment, is one packet for ffprobe: a key frame ending where
/// the range ends. Over ffmpeg's fragments (`styp`, `sidx`, trun versions 0 and 1) and
/// GStreamer's.
#[test]
fn every_iframe_range_is_one_key_frame_for_ffprobe() {
    let (p, _) = title();
    for r in p.renditions.iter().filter(|r| r.track.kind == TrackKind::Video) {
        let name = &r.track.id;
        let playlist = hls::iframe_playlist(r).unwrap_or_else(|| panic!("{name}: no I-frame playlist"));
        assert!(playlist.contains("#EXT-X-I-FRAMES-ONLY"), "{name}:\n{playlist}");
        let init = std::fs::read(samples_dir().join(name).join("init.mp4")).unwrap();
        // URI line -> the EXT-X-BYTERANGE before it.
        let mut ranges = Vec::new();
        let mut last_range = None;
        for line in playlist.lines() {
            if let Some(v) = line.strip_prefix("#EXT-X-BYTERANGE:") {
                last_range = Some(v.to_owned());
            } else if !line.starts_with('#') && !line.is_empty() {
                ranges.push((line.to_owned(), last_range.take()));
            }
        }
        assert_eq!(ranges.len(), r.segments.len(), "{name}: entries in\n{playlist}");
        for (s, (uri, range)) in r.segments.iter().zip(&ranges) {
            assert_eq!(Some(uri.as_str()), Path::new(&s.uri).file_name().unwrap().to_str(), "{name}:\n{playlist}");
            assert_eq!(range.as_deref(), Some(format!("{}@0", s.key_frame_bytes.unwrap()).as_str()), "{name} {uri}:\n{playlist}");
            let bytes = std::fs::read(samples_dir().join(&s.uri)).unwrap();
            let len = s.key_frame_bytes.unwrap() as usize;
            let file = std::env::temp_dir().join(format!("vodpipe-iframe-sample-{name}-{}-{}.mp4", s.index, std::process::id()));
            std::fs::write(&file, [&init[..], &bytes[..len]].concat()).unwrap();
            let out = Command::new("ffprobe")
                .args(["-v", "error", "-show_entries", "packet=pos,size,flags", "-of", "csv=p=0"])
                .arg(&file)
                .output()
                .unwrap_or_else(|e| panic!("cannot run ffprobe (Debian: ffmpeg): {e}"));
            let _ = std::fs::remove_file(&file);
            let text = String::from_utf8_lossy(&out.stdout);
            let packets: Vec<Vec<&str>> = text.lines().map(|l| l.split(',').collect()).collect();
            assert_eq!(packets.len(), 1, "{name} {}: ffprobe reads {text:?} in the range", s.uri);
            let (size, pos, flags) = (packets[0][0], packets[0][1], packets[0][2]);
            assert!(flags.starts_with('K'), "{name} {}: the range's packet is not a key frame: {text:?}", s.uri);
            let end: usize = pos.parse::<usize>().unwrap() + size.parse::<usize>().unwrap();
            assert_eq!(end, init.len() + len, "{name} {}: the key frame ends at {end}, the range at {}", s.uri, init.len() + len);
        }
    }
}
