//! A title encoded in chunks (`vodpipe transcode --chunk-duration`) against the same title
//! made in one pipeline: the same files, media playlists, init segments, audio, and packet
//! timing (every pts, dts, duration and keyframe flag, so every tfdt), every check an
//! unchunked title passes, playback through every seam in GStreamer's HLS and DASH
//! demuxers, and the pictures around each seam as close to the source (SSIM) as the
//! unchunked title's. Real uploads too (an edit list that starts mid-GOP, 23.976 fps, a
//! rotated phone clip, late audio, an editor's MOV with 5.1 PCM, no audio at all), and the
//! sources that are not cut into chunks, with the reason.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// The fast test ladder (two H.264 rungs) with B-frames in its 360p rung, in segments of
/// `segment` seconds.
fn ladder_text(segment: f64) -> String {
    let with_bframes = FAST_LADDER.replacen("height = 360\n", "height = 360\nbframes = 2\n", 1);
    assert_ne!(with_bframes, FAST_LADDER, "FAST_LADDER has no 360p rung to give B-frames");
    with_bframes.replace("{segment}", &format!("{segment:.1}"))
}

/// SSIM around a seam may differ from the unchunked title's by this much.
const SSIM_TOLERANCE: f64 = 0.01;

#[test]
fn a_chunked_title_is_the_unchunked_title_and_plays_through_its_seams() {
    let s = Scratch::new("chunked_vs_whole");
    let input = s.path("src.mp4");
    // 26 s at 30 fps, B-frames in the source: 8 s chunks are 2 segments, the last one 2.5.
    make_source(&input, 26, 30);
    let ladder = s.path("ladder.toml");
    fs::write(&ladder, ladder_text(4.0)).unwrap();
    let whole = transcode(&input, &ladder, &s.path("whole"), &["--chunk-duration", "0"]);
    let logs = run_ok_stderr(&transcode_args(&input, &ladder, &s.path("chunked"), &["--chunk-duration", "8", "--jobs", "2"]));
    let logs = strip_ansi(&logs);
    assert!(logs.contains("packaging in chunks") && logs.contains("chunks=3"), "not cut into 3 chunks:\n{}", tail(&logs, 20));
    assert!(!logs.contains("CRITICAL"), "GStreamer-CRITICAL while chunking:\n{}", tail(&logs, 20));
    let chunked = s.path("chunked").join("src");

    assert_same_timeline(&s, &whole, &chunked);
    let report = verify_title(&s, &input, &chunked, &Expect::rungs(&[360, 240]));
    // verify_title checked that the parts cover the video; these are the 3 chunks and the audio.
    let catalog: serde_json::Value = serde_json::from_slice(&fs::read(chunked.join("catalog.json")).unwrap()).unwrap();
    let parts: Vec<(String, u64, u64)> = catalog["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["part"].as_str().unwrap().to_owned(), p["first_segment"].as_u64().unwrap(), p["last_segment"].as_u64().unwrap()))
        .collect();
    let want = [("chunk 0", 1, 2), ("chunk 1", 3, 4), ("chunk 2", 5, 7), ("audio and thumbnails", 1, 7)];
    assert_eq!(parts, want.map(|(p, a, b)| (p.to_owned(), a, b)), "catalog parts");
    play_everything(&s, &chunked, &report);

    for id in ["h264_360p", "h264_240p"] {
        let (w, c) = (join_rendition(&s, &whole.join(id)), join_rendition(&s, &chunked.join(id)));
        let (ws, cs) = (ssim_per_frame(&s, &w, &input), ssim_per_frame(&s, &c, &input));
        assert_eq!(ws.len(), cs.len(), "{id}: SSIM of a different number of frames");
        for seam in [8.0, 16.0] {
            let (a, b) = (around(&ws, seam, 30.0), around(&cs, seam, 30.0));
            assert!(b > 0.5, "{id}: SSIM {b:.4} at the seam at {seam} s: the pictures there are not the source's");
            assert!(
                (a - b).abs() <= SSIM_TOLERANCE,
                "{id}: SSIM around the seam at {seam} s is {b:.4} chunked, {a:.4} in one pipeline"
            );
        }
    }
}

/// Uploads from the field cut into 2 s chunks (one segment each) give the unchunked
/// title's timeline: a phone gallery trim (its edit list starts 1.37 s into the media,
/// mid-GOP: seeks and stream times both go through it), 23.976 fps (segments of 48
/// frames, 2.002 s), a rotated phone clip, audio that starts late, an editor's MOV with
/// 5.1 PCM, and a screen recording with no audio at all (its extra part makes only the
/// thumbnails).
#[test]
fn field_uploads_chunk_like_they_package_whole() {
    let silent = Scratch::new("chunked_no_audio_source");
    let no_audio = silent.path("no_audio.mp4");
    make_video_only(&no_audio, 9, 30);
    let field = ["33_trimmed_editlist.mp4", "13_23976.mp4", "03_phone_rot90.mp4", "01_late_audio.mp4", "09_h264_pcm51.mov"];
    let inputs = field.iter().map(|f| repo_root().join("fixtures/field").join(f)).chain([no_audio]);
    for input in inputs {
        let stem = input.file_stem().unwrap().to_string_lossy().into_owned();
        let fixture = input.file_name().unwrap().to_string_lossy().into_owned();
        let stem = stem.as_str();
        let s = Scratch::new(&format!("chunked_{stem}"));
        let ladder = s.path("ladder.toml");
        fs::write(&ladder, ladder_text(2.0)).unwrap();
        let whole = transcode(&input, &ladder, &s.path("whole"), &["--chunk-duration", "0"]);
        let chunking = ["--chunk-duration", "2", "--jobs", "2"];
        let logs = strip_ansi(&run_ok_stderr(&transcode_args(&input, &ladder, &s.path("chunked"), &chunking)));
        assert!(logs.contains("packaging in chunks"), "{fixture}: not chunked:\n{}", tail(&logs, 20));
        assert!(!logs.contains("CRITICAL"), "{fixture}: GStreamer-CRITICAL while chunking:\n{}", tail(&logs, 20));
        assert_same_timeline(&s, &whole, &s.path("chunked").join(stem));
    }
}

/// What is not cut into chunks runs as one pipeline and says why: a variable frame rate
/// (its resampling grid starts at the first frame), a container with no stated video start
/// (Matroska), a splice whose frames jump off the rate's grid (each chunk would resample
/// its seam on its own: cut, the 7 s clip looped three times by stream copy came out with a
/// stray one-frame segment after a seam), and a title shorter than two chunks (no reason
/// needed: nothing to cut).
#[test]
fn sources_that_cannot_be_cut_run_whole_and_say_why() {
    let s = Scratch::new("chunked_refused");
    let ladder = s.path("ladder.toml");
    fs::write(&ladder, ladder_text(2.0)).unwrap();
    let spliced = s.path("spliced.mp4");
    make_spliced(&spliced, &s.path("clip.mp4"));
    for (fixture, reason) in [
        (repo_root().join("fixtures/field/07_vfr_phone.mp4"), "frame rate is not constant"),
        (repo_root().join("fixtures/field/02_ffmpeg_h264_aac.mkv"), "does not state where its video starts"),
        (spliced, "frame times leave its frame-rate grid"),
    ] {
        let input = fixture.clone();
        let fixture = fixture.strip_prefix(repo_root()).unwrap_or(&fixture).display().to_string();
        let out = s.path(fixture.replace('/', "_").as_str());
        let logs = strip_ansi(&run_ok_stderr(&transcode_args(&input, &ladder, &out, &["--chunk-duration", "2"])));
        assert!(!logs.contains("packaging in chunks"), "{fixture} was cut into chunks");
        assert!(logs.contains("not cut into chunks") && logs.contains(reason), "{fixture}: no reason given:\n{}", tail(&logs, 20));
    }
    let short = repo_root().join("fixtures/media/short.mp4");
    let logs = strip_ansi(&run_ok_stderr(&transcode_args(&short, &ladder, &s.path("short"), &["--chunk-duration", "60"])));
    assert!(!logs.contains("packaging in chunks"), "a title shorter than two chunks was cut");
}

/// A 7 s 640x360 clip with AAC looped three times by stream copy (`-stream_loop -c copy`,
/// as concatenated uploads are made): each loop starts where the longer track (the AAC,
/// 7.0187 s) ended, so the video's frames jump 18.7 ms off the 30 fps grid at 7 s and 37.4 ms
/// at 14 s.
fn make_spliced(out: &Path, clip: &Path) {
    make_source(clip, 7, 30);
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-stream_loop", "2", "-i"])
        .arg(clip)
        .args(["-c", "copy", "-movflags", "+faststart"])
        .arg(out)
        .status()
        .expect("running ffmpeg");
    assert!(status.success(), "ffmpeg could not make {}", out.display());
}

fn make_source(out: &Path, seconds: u32, fps: u32) {
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size=640x360:rate={fps}:duration={seconds}"))
        .args(["-f", "lavfi", "-i"])
        .arg(format!("sine=frequency=440:sample_rate=48000:duration={seconds}"))
        .args(["-c:v", "libx264", "-preset", "veryfast", "-g", &(2 * fps).to_string(), "-bf", "3"])
        .args(["-pix_fmt", "yuv420p", "-threads", "1", "-c:a", "aac", "-b:a", "96k"])
        .arg(out)
        .status()
        .expect("running ffmpeg");
    assert!(status.success(), "ffmpeg could not make {}", out.display());
}

/// `seconds` of 640x360 H.264 (B-frames) with no audio track, in MP4.
fn make_video_only(out: &Path, seconds: u32, fps: u32) {
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size=640x360:rate={fps}:duration={seconds}"))
        .args(["-c:v", "libx264", "-preset", "veryfast", "-g", &(2 * fps).to_string(), "-bf", "3", "-pix_fmt", "yuv420p"])
        .arg(out)
        .status()
        .expect("running ffmpeg");
    assert!(status.success(), "ffmpeg could not make {}", out.display());
}

fn transcode_args(input: &Path, ladder: &Path, out: &Path, extra: &[&str]) -> Vec<std::ffi::OsString> {
    let mut args = vec![arg("transcode"), input.into(), arg("--out"), out.into(), arg("--ladder"), ladder.into()];
    args.extend(extra.iter().map(|a| arg(a)));
    args
}

/// The title folder of `input` transcoded into `out`.
fn transcode(input: &Path, ladder: &Path, out: &Path, extra: &[&str]) -> PathBuf {
    run_ok(&transcode_args(input, ladder, out, extra));
    out.join(input.file_stem().unwrap())
}

/// The same files; the same media playlists and init segments; the same audio bytes; the
/// same packet timing in every video rendition; manifests that differ in bitrates only.
fn assert_same_timeline(s: &Scratch, whole: &Path, chunked: &Path) {
    let files = list_files(whole);
    assert_eq!(files, list_files(chunked), "the chunked title has other files");
    for f in &files {
        let (a, b) = (whole.join(f), chunked.join(f));
        if f.ends_with("playlist.m3u8") || f.ends_with("init.mp4") || f.starts_with("audio/") {
            assert!(fs::read(&a).unwrap() == fs::read(&b).unwrap(), "{f} differs in the chunked title");
        }
    }
    for manifest in ["master.m3u8", "manifest.mpd"] {
        let (a, b) = (without_bitrates(&whole.join(manifest)), without_bitrates(&chunked.join(manifest)));
        assert_eq!(a, b, "{manifest} differs in more than bitrates");
    }
    for dir in files.iter().filter_map(|f| f.strip_suffix("/init.mp4")).filter(|d| *d != "audio") {
        let (a, b) = (packet_timing(&join_rendition(s, &whole.join(dir))), packet_timing(&join_rendition(s, &chunked.join(dir))));
        assert!(!a.is_empty(), "{dir}: no packets");
        if let Some(i) = (0..a.len().min(b.len())).find(|&i| a[i] != b[i]) {
            panic!("{dir}: packet {i} is {} chunked, {} in one pipeline (pts,dts,duration,flags)", b[i], a[i]);
        }
        assert_eq!(a.len(), b.len(), "{dir}: another number of packets");
    }
}

/// A manifest with its bitrate attributes' values blanked (the chunks' encoders measure
/// their own peaks).
fn without_bitrates(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap();
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(at) = ["BANDWIDTH=", "bandwidth=\""].iter().filter_map(|k| rest.find(k).map(|i| (i, k.len()))).min() {
        let (i, len) = at;
        out.push_str(&rest[..i + len]);
        rest = rest[i + len..].trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

/// "pts,dts,duration,flags" of every packet, in decode order (ffprobe).
fn packet_timing(file: &Path) -> Vec<String> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "packet=pts,dts,duration,flags", "-of", "csv=p=0"])
        .arg(file)
        .output()
        .expect("ffprobe not found: run scripts/setup.sh");
    assert!(out.status.success(), "ffprobe failed on {}", file.display());
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

/// SSIM (all planes) of every frame of `rendition` against the source scaled to its size,
/// both from their first frame (ffmpeg's ssim filter).
fn ssim_per_frame(s: &Scratch, rendition: &Path, source: &Path) -> Vec<f64> {
    let stream = &probe_json(rendition, &["-show_streams"])["streams"][0];
    let (w, h) = (stream["width"].as_u64().unwrap(), stream["height"].as_u64().unwrap());
    let stats = s.path(&format!("ssim-{}.log", rendition.file_stem().unwrap().to_string_lossy()));
    let filter = format!(
        "[0:v]setpts=PTS-STARTPTS[d];[1:v]scale={w}:{h}:flags=bicubic,setpts=PTS-STARTPTS[r];[d][r]ssim=stats_file={}",
        stats.display()
    );
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-i"])
        .arg(rendition)
        .arg("-i")
        .arg(source)
        .args(["-lavfi", &filter, "-f", "null", "-"])
        .output()
        .expect("running ffmpeg");
    assert!(out.status.success(), "ffmpeg ssim: {}", String::from_utf8_lossy(&out.stderr));
    fs::read_to_string(&stats)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().find_map(|f| f.strip_prefix("All:")).and_then(|v| v.parse().ok()))
        .collect()
}

/// Mean SSIM of the three frames either side of the seam at `seam_s`.
fn around(ssim: &[f64], seam_s: f64, fps: f64) -> f64 {
    let k = (seam_s * fps).round() as usize;
    let window = &ssim[k - 3..k + 3];
    window.iter().sum::<f64>() / window.len() as f64
}
