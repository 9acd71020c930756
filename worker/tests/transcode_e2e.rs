//! End-to-end tests of `vodpipe transcode` on the project's own fixtures, checked with
//! tools nobody here wrote.
//!
//! Layout:
//! - the cases: one test per input, good and bad;
//! - `common` (worker/tests/common/): `verify_title` (every check made on a successful
//!   output), the ffprobe helpers, `check_*` per artefact, playback through GStreamer's
//!   hlsdemux2/dashdemux2 over a loopback HTTP server, fixtures and scratch folders.
//!   Its module docs give the tolerances and why.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use common::*;

// ---------------------------------------------------------------------------------------
// Cases: successful transcodes
// ---------------------------------------------------------------------------------------

#[test]
fn hd_16x9_with_audio_default_ladder() {
    let s = Scratch::new("hd_16x9_default");
    let input = media("hd_16x9_audio.mp4");
    // No --ladder and no --video-id: the defaults are part of what is tested.
    run_ok(&[
        arg("transcode"),
        input.clone().into(),
        arg("--out"),
        s.out().into(),
    ]);
    let title = s.out().join("hd_16x9_audio");
    let report = verify_title(&s, &input, &title, &Expect::rungs(&[720, 480, 360, 240]));
    // The first second is black: the poster must come from after it.
    let luma = mean_luma(&title.join("thumbs/poster.jpg"));
    assert!(
        luma > 40.0,
        "poster.jpg is (nearly) black: mean luma {luma:.1}; the black opening second was not skipped"
    );
    play_everything(&s, &title, &report);
}

#[test]
fn sd_4x3_matroska_mpeg4_vorbis() {
    let (s, input, title) = transcode_fast("sd_4x3", "sd_4x3_audio.mkv", 4.0);
    let report = verify_title(&s, &input, &title, &Expect::rungs(&[360, 240]));
    play_everything(&s, &title, &report);
}

#[test]
fn portrait_9x16() {
    let (s, input, title) = transcode_fast("portrait", "portrait.mp4", 4.0);
    let report = verify_title(&s, &input, &title, &Expect::rungs(&[360, 240]));
    // Height comes from the rung; width follows 9:16 (360 -> 202.5, 240 -> 135).
    for v in report.video.values() {
        assert!(
            v.width < v.height,
            "portrait rendition came out landscape: {}x{}",
            v.width,
            v.height
        );
    }
    play_everything(&s, &title, &report);
}

#[test]
fn ntsc_2997_anamorphic_with_segment_override() {
    // 720x480 at SAR 32:27 displays as 16:9; 2 s segments through the CLI override.
    let (s, input, title) = transcode_fast("ntsc_2997", "ntsc_2997.mov", 2.0);
    let mut expect = Expect::rungs(&[360, 240]);
    expect.segment_seconds = 2.0;
    let report = verify_title(&s, &input, &title, &expect);
    for v in report.video.values() {
        assert_eq!(
            v.frame_rate, "30000/1001",
            "{}: 29.97 fps must stay 30000/1001",
            v.id
        );
    }
    assert_eq!(report.video["h264_360p"].width, 640);
    play_everything(&s, &title, &report);
}

#[test]
fn no_audio_mpegts() {
    let (s, input, title) = transcode_fast("noaudio", "noaudio.ts", 4.0);
    let report = verify_title(&s, &input, &title, &Expect::rungs(&[360, 240]));
    assert!(report.audio.is_none());
    assert!(
        !title.join("audio").exists(),
        "an audio folder was written for a source without audio"
    );
    play_everything(&s, &title, &report);
}

#[test]
fn shorter_than_one_segment() {
    let (s, input, title) = transcode_fast("short", "short.mp4", 4.0);
    let report = verify_title(&s, &input, &title, &Expect::rungs(&[360, 240]));
    for v in report.video.values() {
        assert_eq!(
            v.segments.len(),
            1,
            "{}: a 1.5 s clip must give exactly one segment",
            v.id
        );
    }
    let a = report.audio.as_ref().expect("short.mp4 has audio");
    assert_eq!(
        a.segments.len(),
        1,
        "audio: a 1.5 s clip must give exactly one segment"
    );
    play_everything(&s, &title, &report);
}

#[test]
fn length_not_a_multiple_of_the_segment() {
    // 9.5 s of VP9 + Opus in WebM with 4 s segments: 4 + 4 + 1.5.
    let (s, input, title) = transcode_fast("odd_length", "odd_length.webm", 4.0);
    let report = verify_title(&s, &input, &title, &Expect::rungs(&[360, 240]));
    for v in report.video.values() {
        let d: Vec<f64> = v.segments.iter().map(|g| g.duration).collect();
        assert_eq!(d.len(), 3, "{}: segment durations {d:?}", v.id);
        assert!(
            (d[2] - 1.5).abs() < 0.001,
            "{}: last segment should be 1.5 s: {d:?}",
            v.id
        );
    }
    play_everything(&s, &title, &report);
}

#[test]
fn default_ladder_skips_rungs_taller_than_the_source() {
    let s = Scratch::new("skip_rungs");
    let input = media("short.mp4");
    run_ok(&[
        arg("transcode"),
        input.clone().into(),
        arg("--out"),
        s.out().into(),
    ]);
    let title = s.out().join("short");
    // 640x360: of the default ladder only the rungs at or below 360 lines may run.
    let heights: Vec<u32> = default_ladder_heights()
        .into_iter()
        .filter(|h| *h <= 360)
        .collect();
    assert!(
        !heights.is_empty(),
        "ladders/default.toml has no rung at or below 360 lines"
    );
    verify_title(&s, &input, &title, &Expect::rungs(&heights));
}

/// A rung marked `copy` that the source already is (360p H.264 High without B-frames, a
/// keyframe every 2 s and none elsewhere, well under the rung's max_bitrate) is packaged from the
/// source's own stream: every video packet of the rendition is the source's, byte for
/// byte, and the title passes every check an encoded one does (keyframe at each segment
/// start, boundaries shared with the encoded rung, audio, playback to the end). The
/// ladder's audio asks for a copy too, and the source's AAC-LC fits it: every audio
/// packet is the source's.
/// A source that fits a copy rung is packaged from its own stream, with and without
/// B-frames: a reordering stream (x264's 3 B-frames with pyramid, which its SPS states as
/// 2 reordered frames) is copied with every track delayed by that reordering, so its
/// composition offsets are never negative and every reader starts all tracks together.
#[test]
fn copy_rung_repackages_a_matching_source() {
    for bframes in [0, 3] {
        let s = Scratch::new(&format!("copy_rung_bf{bframes}"));
        let name = format!("gop60bf{bframes}");
        let input = s.path(&format!("{name}.mp4"));
        make_gop_source(&input, 60, bframes, true);
        let stderr = transcode_with_ladder(
            &s,
            &input,
            "[audio]\ncopy = true\n\
             [[rung]]\ncodec = \"h264\"\nheight = 360\nbitrate = 1000000\nmax_bitrate = 8000000\ncopy = true\n\
             [[rung]]\ncodec = \"h264\"\nheight = 240\nbitrate = 400000\npreset = \"ultrafast\"\n",
        );
        assert!(
            stderr.contains("h264_360p (copy)") && !stderr.contains("packaging again"),
            "bframes {bframes}: the 360p rung was not copied:\n{stderr}"
        );
        assert!(stderr.contains("copying the source's audio"), "bframes {bframes}: the audio was not copied:\n{stderr}");
        // The copy drops the priming and a cut last frame without upsetting GStreamer.
        assert!(!stderr.contains("CRITICAL"), "bframes {bframes}: GStreamer complained:\n{stderr}");
        let title = s.out().join(&name);
        let report = verify_title(&s, &input, &title, &Expect::rungs(&[360, 240]));
        play_everything(&s, &title, &report);
        assert_copied_pictures(&s, &input, &title.join("h264_360p"), &format!("bframes {bframes}"));
        // The audio's packets are the ones the source presents (ffmpeg lists them without the
        // encoder's priming, which the source trims with an edit list, and so does the copy),
        // up to the last one: a final frame the edit list cuts to under half its length is
        // not copied (the encoded rendition ends at the cut).
        let audio = join_rendition(&s, &title.join("audio"));
        let (ours, theirs) = (packets(&audio, "a:0"), packets(&input, "a:0"));
        assert!(
            ours.len() + 1 >= theirs.len() && ours.len() <= theirs.len(),
            "bframes {bframes}: copied audio has {} packets, the source presents {}",
            ours.len(),
            theirs.len()
        );
        assert!(ours == theirs[..ours.len()], "bframes {bframes}: the copied audio's packets (size, md5) differ from the source's");
    }
}

/// An HEVC mezzanine (x265's default 4 B-frames, which its SPS states as 2 reordered
/// pictures, closed GOPs, ffmpeg's `hev1` with parameter sets in band) copied as an h265
/// rung beside an encoded H.264 rung: the reorder depth comes from the hvcC's SPS, every
/// track is delayed by it, and the copy's pictures are the source's. (x265's default open
/// GOP is refused: see `copy_rung_falls_back_to_encoding_when_the_stream_does_not_fit`.)
#[test]
fn copy_rung_repackages_an_hevc_source_with_b_frames() {
    let s = Scratch::new("copy_rung_hevc");
    let input = s.path("hevc.mp4");
    let made = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc2=size=640x360:rate=30:duration=6")
        .args(["-c:v", "libx265", "-preset", "ultrafast", "-profile:v", "main", "-pix_fmt", "yuv420p"])
        .args(["-x265-params", "keyint=60:min-keyint=60:scenecut=0:open-gop=0:bframes=4:log-level=error", "-b:v", "800k"])
        .arg(&input)
        .status()
        .expect("running ffmpeg");
    assert!(made.success(), "ffmpeg could not make the HEVC source");
    let stderr = transcode_with_ladder(
        &s,
        &input,
        "[[rung]]\ncodec = \"h265\"\nheight = 360\nbitrate = 800000\nmax_bitrate = 4000000\ncopy = true\n\
         [[rung]]\ncodec = \"h264\"\nheight = 240\nbitrate = 300000\npreset = \"ultrafast\"\n",
    );
    assert!(
        stderr.contains("h265_360p (copy)") && !stderr.contains("packaging again") && stderr.contains("reorder_frames=2"),
        "the HEVC rung was not copied with its stated reordering:\n{stderr}"
    );
    let title = s.out().join("hevc");
    let report = verify_title(&s, &input, &title, &Expect::renditions(&["h265_360p", "h264_240p"]));
    play_everything(&s, &title, &report);
    assert_copied_pictures(&s, &input, &title.join("h265_360p"), "hevc");
}

/// A Matroska source (no decode times in the container) without B-frames is copied: its
/// decode times are its presentation times.
#[test]
fn copy_rung_repackages_a_matroska_source() {
    let s = Scratch::new("copy_rung_mkv");
    let input = s.path("gop60.mkv");
    make_gop_source(&input, 60, 0, false);
    let stderr = transcode_with_ladder(
        &s,
        &input,
        "[[rung]]\ncodec = \"h264\"\nheight = 360\nbitrate = 1000000\nmax_bitrate = 8000000\ncopy = true\n\
         [[rung]]\ncodec = \"h264\"\nheight = 240\nbitrate = 400000\npreset = \"ultrafast\"\n",
    );
    assert!(
        stderr.contains("h264_360p (copy)") && !stderr.contains("packaging again"),
        "the 360p rung was not copied from Matroska:\n{stderr}"
    );
    let title = s.out().join("gop60");
    let report = verify_title(&s, &input, &title, &Expect::rungs(&[360, 240]));
    play_everything(&s, &title, &report);
    assert_copied_pictures(&s, &input, &title.join("h264_360p"), "matroska");
}

/// The coded pictures of a copied rendition are the source's: every packet after the
/// first is identical (the first also carries the parameter sets, written in band by the
/// parser), and the decoded frames all are.
fn assert_copied_pictures(s: &Scratch, input: &Path, rendition: &Path, label: &str) {
    let copied = join_rendition(s, rendition);
    let (ours, theirs) = (video_packets(&copied), video_packets(input));
    assert_eq!(ours.len(), theirs.len(), "{label}: packet count");
    assert!(ours[1..] == theirs[1..], "{label}: the copied rendition's packets (size, md5) differ from the source's");
    assert!(decoded_frames(&copied) == decoded_frames(input), "{label}: decoded frames differ from the source's");
}

/// Rungs encoded with B-frames (reordered pictures) pass every check an I/P-only one
/// does, playback in HLS and DASH included: every track is delayed by the ladder's largest
/// `bframes` so that no composition offset is negative, and ffmpeg (which the checks read
/// with) sees the two renditions and the audio start together.
#[test]
fn encoded_rungs_with_b_frames() {
    let s = Scratch::new("encoded_bframes");
    let input = s.path("src.mp4");
    make_gop_source(&input, 60, 0, true);
    transcode_with_ladder(
        &s,
        &input,
        "[[rung]]\ncodec = \"h264\"\nheight = 360\nbitrate = 1000000\nbframes = 3\npreset = \"ultrafast\"\n\
         [[rung]]\ncodec = \"h264\"\nheight = 240\nbitrate = 300000\nbframes = 2\npreset = \"ultrafast\"\n",
    );
    let title = s.out().join("src");
    let report = verify_title(&s, &input, &title, &Expect::rungs(&[360, 240]));
    play_everything(&s, &title, &report);
}

/// A remux-only job (every rung and the audio copied) decodes only keyframes, for the
/// thumbnails, and the thumbnails still show the right moments: the source has a
/// keyframe every 2 s and the sprites one tile a second, so the tiles at 0, 2 and 4 s
/// must each be the source's picture at that time (closer to it than to the other two).
/// With and without B-frames (the decoder then holds keyframes back for reordering
/// until later ones, or the end of the stream, arrive).
#[test]
fn remux_only_job_thumbnails_come_from_the_right_keyframes() {
    for bframes in [0, 3] {
        let s = Scratch::new(&format!("remux_only_bf{bframes}"));
        let name = format!("gop60bf{bframes}");
        let input = s.path(&format!("{name}.mp4"));
        make_gop_source(&input, 60, bframes, true);
        let stderr = transcode_with_ladder(
            &s,
            &input,
            "[audio]\ncopy = true\n[[rung]]\ncodec = \"h264\"\nheight = 360\nbitrate = 1000000\nmax_bitrate = 8000000\ncopy = true\n",
        );
        assert!(
            stderr.contains("h264_360p (copy)") && stderr.contains("copying the source's audio") && !stderr.contains("packaging again"),
            "bframes {bframes}: not a remux-only job:\n{stderr}"
        );
        let title = s.out().join(&name);
        let report = verify_title(&s, &input, &title, &Expect::rungs(&[360]));
        play_everything(&s, &title, &report);
        let vtt = fs::read_to_string(title.join("thumbs/thumbs.vtt")).unwrap();
        let tiles: Vec<(f64, String)> = vtt
            .lines()
            .zip(vtt.lines().skip(1))
            .filter_map(|(cue, target)| cue.split_once(" --> ").map(|(start, _)| (vtt_time(start.trim()), target.trim().to_owned())))
            .collect();
        let times = [0.0, 2.0, 4.0];
        let frames: Vec<Vec<u8>> = times
            .iter()
            .map(|t| rgb_of(&input, &["-ss", &t.to_string()], "scale=160:90,format=rgb24"))
            .collect();
        for (i, t) in times.iter().enumerate() {
            let (_, target) = tiles.iter().find(|(start, _)| (start - t).abs() < 1e-3).expect("a tile at each second");
            let (file, xywh) = target.split_once("#xywh=").unwrap();
            let v: Vec<&str> = xywh.split(',').collect();
            let crop = format!("crop={}:{}:{}:{},format=rgb24", v[2], v[3], v[0], v[1]);
            let tile = rgb_of(&title.join("thumbs").join(file), &[], &crop);
            let diffs: Vec<f64> = frames.iter().map(|f| mean_abs_diff(&tile, f)).collect();
            let best = (0..diffs.len()).min_by(|&a, &b| diffs[a].total_cmp(&diffs[b])).unwrap();
            assert_eq!(
                best, i,
                "bframes {bframes}: the tile at {t} s looks most like the source at {} s (mean differences {diffs:?})",
                times[best]
            );
        }
    }
}


/// `vodpipe transcode INPUT` with a ladder of 4 s segments and these rungs; its logs.
fn transcode_with_ladder(s: &Scratch, input: &Path, rungs: &str) -> String {
    let ladder = s.path("ladder-under-test.toml");
    fs::write(&ladder, format!("name = \"under-test\"\nsegment_duration = 4.0\n{rungs}")).unwrap();
    run_ok_stderr(&[arg("transcode"), input.into(), arg("--out"), s.out().into(), arg("--ladder"), ladder.into()])
}

/// 6 s of 640x360 30 fps H.264 High with a keyframe exactly every `gop` frames (no
/// scene-cut keyframes), `bframes` B-frames, and AAC audio when asked.
fn make_gop_source(out: &Path, gop: u32, bframes: u32, audio: bool) {
    make_gop_source_with(out, gop, bframes, audio, &[]);
}

/// [`make_gop_source`] with more ffmpeg output options (e.g. `-x264-params open-gop=1`).
fn make_gop_source_with(out: &Path, gop: u32, bframes: u32, audio: bool, extra: &[&str]) {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc2=size=640x360:rate=30:duration=6");
    if audio {
        cmd.args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=6"]);
        cmd.args(["-c:a", "aac", "-b:a", "96k", "-ac", "2"]);
    }
    let g = gop.to_string();
    cmd.args(["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-g", &g])
        .args(["-bf", &bframes.to_string()])
        .args(["-keyint_min", &g, "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-threads", "1"])
        .args(extra)
        .arg(out);
    let made = cmd.status().expect("running ffmpeg");
    assert!(made.success(), "ffmpeg could not make {}", out.display());
}

/// A `copy` rung the source turns out not to fit once its stream is seen is encoded after
/// all: the job runs again with every rung encoded and the title is as good as any. Four
/// sources: no keyframe on a segment boundary (a 2.5 s GOP against 4 s segments);
/// B-frames reordered further than the SPS says (x264's pyramid reorders 2 frames; the
/// SPS is patched to say 1, so the planned delay is too short for the copy); an open
/// GOP (x264's `open-gop`: B-frames after the keyframe at 4 s are shown before it, so a
/// segment starting there would not start at a stream access point); and B-frames in
/// Matroska, which stores no decode times for the muxer. The second also has audio over
/// the ladder's audio `max_bitrate` (96 kb/s against 80 kb/s): it is encoded too.
#[test]
fn copy_rung_falls_back_to_encoding_when_the_stream_does_not_fit() {
    let cases = [
        ("gop75", "mp4", 75, 0, "no keyframe", false),
        ("understated", "mp4", 60, 3, "reorders further than its SPS states", true),
        ("open_gop", "mp4", 60, 3, "open GOP", false),
        ("mkv_bframes", "mkv", 60, 3, "no decode times (Matroska)", false),
    ];
    for (name, ext, gop, bframes, why, audio) in cases {
        let s = Scratch::new(&format!("copy_fallback_{name}"));
        let input = s.path(&format!("{name}.{ext}"));
        let extra: &[&str] = if name == "open_gop" { &["-x264-params", "open-gop=1"] } else { &[] };
        make_gop_source_with(&input, gop, bframes, audio, extra);
        if name == "understated" {
            understate_reorder(&input);
        }
        let stderr = transcode_with_ladder(
            &s,
            &input,
            "[audio]\nbitrate = 64000\nmax_bitrate = 80000\ncopy = true\n\
             [[rung]]\ncodec = \"h264\"\nheight = 360\nbitrate = 1000000\nmax_bitrate = 8000000\npreset = \"ultrafast\"\ncopy = true\n",
        );
        assert!(
            stderr.contains("h264_360p (copy)") && stderr.contains("packaging again with every rung encoded") && stderr.contains(why),
            "{name}: no copy attempt refused for {why:?} and followed by an encoded run:\n{stderr}"
        );
        if audio {
            assert!(
                stderr.contains("encoding, not copying: source audio bitrate") && !stderr.contains("copying the source's audio"),
                "{name}: the 96 kb/s audio was not refused for the 80 kb/s max_bitrate:\n{stderr}"
            );
            let encoded = join_rendition(&s, &s.out().join(name).join("audio"));
            assert_ne!(packets(&encoded, "a:0"), packets(&input, "a:0"), "{name}: the audio is still the source's");
        }
        let title = s.out().join(name);
        verify_title(&s, &input, &title, &Expect::rungs(&[360]));
        let encoded = join_rendition(&s, &title.join("h264_360p"));
        assert_ne!(video_packets(&encoded), video_packets(&input), "{name}: the rendition is still the source's stream");
    }
}

/// Rewrites the `max_num_reorder_frames` of the SPS in an MP4's avcC from 2 to 1 (the
/// same length: `011` to `010` in Exp-Golomb), where ffmpeg's trace_headers finds it.
fn understate_reorder(file: &Path) {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-i"])
        .arg(file)
        .args(["-map", "0:v", "-c", "copy", "-bsf:v", "trace_headers", "-f", "null", "-"])
        .output()
        .expect("running ffmpeg");
    let trace = String::from_utf8_lossy(&out.stderr);
    // "[trace_headers @ 0x...] 182         max_num_reorder_frames      011 = 2"
    let line = trace.lines().find(|l| l.contains(" max_num_reorder_frames ")).expect("an SPS with a bitstream restriction");
    let fields: Vec<&str> = line.split_once(']').unwrap().1.split_whitespace().collect();
    assert_eq!(fields[1..], ["max_num_reorder_frames", "011", "=", "2"], "{line}");
    let bit: usize = fields[0].parse::<usize>().unwrap() + 2; // the last bit of `011`
    let mut bytes = fs::read(file).unwrap();
    let at = bytes.windows(4).position(|w| w == b"avcC").expect("an avcC box") + 4;
    assert_eq!(bytes[at + 5] & 0x1f, 1, "one SPS in avcC");
    let len = usize::from(u16::from_be_bytes([bytes[at + 6], bytes[at + 7]]));
    // trace_headers counts bits of the RBSP (emulation prevention bytes removed, the NAL
    // header kept): map RBSP bytes to file offsets.
    let mut rbsp_at = Vec::new();
    let mut zeros = 0;
    for (k, &b) in bytes.iter().enumerate().skip(at + 8).take(len) {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        rbsp_at.push(k);
    }
    bytes[rbsp_at[bit / 8]] &= !(0x80u8 >> (bit % 8));
    fs::write(file, bytes).unwrap();
}

/// md5 of every decoded video frame, in order (ffmpeg's framemd5 muxer).
fn decoded_frames(file: &Path) -> Vec<String> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-i"])
        .arg(file)
        .args(["-map", "0:v:0", "-f", "framemd5", "-"])
        .output()
        .expect("running ffmpeg");
    assert!(out.status.success(), "framemd5 of {}", file.display());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit(',').next().map(|m| m.trim().to_owned()))
        .collect()
}

/// (size, md5) of every video packet, in decode order.
fn video_packets(file: &Path) -> Vec<(String, String)> {
    packets(file, "v:0")
}

/// (size, md5) of every packet of one stream (`v:0`, `a:0`), in decode order, as
/// ffmpeg's framemd5 muxer reports them for a stream copy.
fn packets(file: &Path, stream: &str) -> Vec<(String, String)> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-i"])
        .arg(file)
        .args(["-map", &format!("0:{stream}"), "-c", "copy", "-f", "framemd5", "-"])
        .output()
        .expect("running ffmpeg");
    assert!(out.status.success(), "framemd5 of {}: {}", file.display(), String::from_utf8_lossy(&out.stderr));
    let packets: Vec<(String, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').map(str::trim).collect();
            (f.len() == 6).then(|| (f[4].to_owned(), f[5].to_owned()))
        })
        .collect();
    assert!(!packets.is_empty(), "no {stream} packets in {}", file.display());
    packets
}

#[test]
fn same_input_twice_gives_the_same_output() {
    let s = Scratch::new("determinism");
    let input = media("short.mp4");
    let ladder = s.write_ladder(4.0);
    // Both runs write to the same place (the catalog records where), and the first
    // result is moved aside before the second run.
    let mut titles = Vec::new();
    for run in ["a", "b"] {
        run_ok(&[
            arg("transcode"),
            input.clone().into(),
            arg("--out"),
            s.out().into(),
            arg("--video-id"),
            arg("same-title"),
            arg("--ladder"),
            ladder.clone().into(),
        ]);
        let kept = s.path(&format!("run-{run}"));
        fs::rename(s.out().join("same-title"), &kept).unwrap();
        titles.push(kept);
    }
    let (a, b) = (&titles[0], &titles[1]);
    let files_a = list_files(a);
    assert_eq!(
        files_a,
        list_files(b),
        "the two runs wrote different file lists"
    );
    for rel in &files_a {
        let name = rel.rsplit('/').next().unwrap();
        let same_bytes = fs::read(a.join(rel)).unwrap() == fs::read(b.join(rel)).unwrap();
        if name == "catalog.json" {
            let strip = |p: &Path| {
                let mut v: Value = serde_json::from_slice(&fs::read(p).unwrap()).unwrap();
                remove_key(&mut v, "published_at");
                // Each run is its own process: the parts' worker pid differs, nothing else.
                remove_key(&mut v, "pid");
                v
            };
            let (ca, cb) = (strip(&a.join(rel)), strip(&b.join(rel)));
            if ca != cb {
                panic!(
                    "catalog.json differs between runs beyond published_at and the worker's pid:\n{}",
                    first_json_difference(&ca, &cb, "$")
                );
            }
        } else if name == "init.mp4" || name.ends_with(".m3u8") || name.ends_with(".mpd") {
            assert!(
                same_bytes,
                "{rel} differs between two runs on the same input"
            );
        }
    }
}

/// x264 reads memory it never wrote at widths that are not a multiple of 16 (the default
/// ladder's 426x240 and 854x480 on a 16:9 source). A new process's memory is zeroed; a
/// worker that has run jobs before hands it what its earlier pipelines left. glibc's
/// `MALLOC_PERTURB_=1` fills new memory with 0xfe, standing in for that: the rungs must
/// come out the same (before `packager::heap` they did not, in both rungs).
#[test]
fn the_video_rungs_do_not_depend_on_what_memory_held_before() {
    let s = Scratch::new("heap_garbage");
    let mut segments = Vec::new();
    for (run, perturb) in [("clean", None), ("dirty", Some("1"))] {
        let out = s.path(run);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vodpipe"));
        cmd.arg("transcode")
            .arg(media("grainy_16s.mp4"))
            .arg("--out")
            .arg(&out)
            .args(["--video-id", "t"])
            .current_dir(repo_root())
            .env("NO_COLOR", "1");
        if let Some(p) = perturb {
            cmd.env("MALLOC_PERTURB_", p);
        }
        let done = run_with_deadline(&s, cmd, TRANSCODE_DEADLINE, &format!("vodpipe transcode ({run} memory)"));
        assert!(done.status.success(), "{run}: {}", tail(&String::from_utf8_lossy(&done.stderr), 30));
        segments.push(out.join("t"));
    }
    let (clean, dirty) = (&segments[0], &segments[1]);
    for rung in ["h264_240p", "h264_480p"] {
        let files = list_files(&clean.join(rung));
        assert!(files.iter().filter(|f| f.ends_with(".m4s")).count() >= 4, "{rung}: {files:?}");
        for f in files.iter().filter(|f| f.ends_with(".m4s")) {
            let (a, b) = (fs::read(clean.join(rung).join(f)).unwrap(), fs::read(dirty.join(rung).join(f)).unwrap());
            assert!(a == b, "{rung}/{f} differs when the memory held 0xfe bytes before ({} vs {} bytes)", a.len(), b.len());
        }
    }
}

// ---------------------------------------------------------------------------------------
// Cases: inputs that must be refused
// ---------------------------------------------------------------------------------------

#[test]
fn refuses_a_missing_file() {
    let s = Scratch::new("bad_missing");
    expect_refusal(&s, &s.path("does-not-exist.mp4"), None);
}

#[test]
fn refuses_an_empty_file() {
    let s = Scratch::new("bad_empty");
    expect_refusal(&s, &media("empty.mp4"), None);
}

#[test]
fn refuses_random_bytes() {
    let s = Scratch::new("bad_random");
    expect_refusal(&s, &media("random.mp4"), None);
}

#[test]
fn refuses_a_truncated_mp4() {
    let s = Scratch::new("bad_truncated");
    expect_refusal(&s, &media("truncated.mp4"), None);
}

#[test]
fn refuses_audio_only() {
    let s = Scratch::new("bad_audio_only");
    expect_refusal(&s, &media("audio_only.m4a"), None);
}

/// Policy (README "Bad input"): a decode error fails the job, naming where; concealed
/// frames are never published.
#[test]
fn refuses_a_source_with_a_damaged_frame() {
    let s = Scratch::new("bad_corrupt_frame");
    let stderr = expect_refusal(&s, &media("corrupt_frame.mp4"), None);
    assert!(
        stderr.contains("damaged") && stderr.contains("decoder"),
        "the error does not say the source is damaged: {stderr}"
    );
    // The fixture's damage is at 60% of its bytes of a 4 s clip: the error names a
    // position inside the clip, after its clean first second.
    let at: f64 = stderr
        .split("at about ")
        .nth(1)
        .and_then(|r| r.split(" s").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no position in: {stderr}"));
    assert!((1.0..4.0).contains(&at), "decode error reported at {at} s: {stderr}");
    assert!(
        list_files(&s.out()).iter().all(|f| !f.ends_with("catalog.json")),
        "catalog.json written for a damaged source"
    );
}

/// Limits that protect the worker (packager::probe): picture size, duration, and
/// width x height x frames; checked from the headers, before anything is decoded.
#[test]
fn refuses_absurd_sizes_from_the_headers() {
    let s = Scratch::new("bad_huge_picture");
    let stderr = expect_refusal(&s, &media("huge_picture.mkv"), None);
    assert!(stderr.contains("10000x6000"), "{stderr}");
    let s = Scratch::new("bad_huge_duration");
    let stderr = expect_refusal(&s, &media("huge_duration.mp4"), None);
    assert!(stderr.contains("24 h"), "{stderr}");
}

/// Moov up front, the media cut at 9.2 s of 10 (an interrupted upload): the header's own
/// video end says the title would lack its last 0.8 s.
#[test]
fn refuses_an_mp4_cut_short_of_its_stated_end() {
    let s = Scratch::new("bad_tail");
    let stderr = expect_refusal(&s, &media("truncated_tail.mp4"), None);
    assert!(stderr.contains("truncated") && stderr.contains("header says"), "the refusal must say why:\n{stderr}");
}

#[test]
fn refuses_a_text_file() {
    let s = Scratch::new("bad_text");
    expect_refusal(&s, &media("not_video.txt"), None);
}

/// Every rung taller than the source: the lowest is made at the source's height (never
/// upscaled), at its bits per pixel, instead of refusing the upload; the title passes every
/// check of a normal one and plays.
#[test]
fn a_ladder_taller_than_the_source_gives_its_lowest_rung_at_the_source_height() {
    let s = Scratch::new("tall_ladder");
    let ladder = s.path("tall.toml");
    fs::write(
        &ladder,
        "name = \"too-tall\"\n\
         [[rung]]\ncodec = \"h264\"\nheight = 1080\nbitrate = 5000000\npreset = \"ultrafast\"\n\
         [[rung]]\ncodec = \"h264\"\nheight = 720\nbitrate = 3000000\npreset = \"ultrafast\"\n",
    )
    .unwrap();
    // 640x360 source: every rung is taller.
    let input = media("short.mp4");
    run_ok(&[arg("transcode"), input.clone().into(), arg("--out"), s.out().into(), arg("--ladder"), ladder.into()]);
    let title = s.out().join("short");
    let report = verify_title(&s, &input, &title, &Expect::rungs(&[360]));
    // (The bitrate scaling is ladder.rs's unit test: a short synthetic clip's measured rate
    // says little about the encoder's target.)
    play_everything(&s, &title, &report);
}

/// Runs `vodpipe transcode`, expects a one-line `error: ` and no manifest; returns stderr.
fn expect_refusal(s: &Scratch, input: &Path, ladder: Option<&Path>) -> String {
    let mut args = vec![arg("transcode"), input.into(), arg("--out"), s.out().into()];
    if let Some(l) = ladder {
        args.extend([arg("--ladder"), l.into()]);
    }
    let out = run_vodpipe(&args);
    let stderr = strip_ansi(&String::from_utf8_lossy(&out.stderr));
    assert!(
        !out.status.success(),
        "vodpipe accepted {}; stderr:\n{stderr}",
        input.display()
    );
    // Progress logging (INFO lines, e.g. "packaging" once the probe passed) may come
    // first; the refusal itself is one line.
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.contains(" INFO "))
        .collect();
    assert!(
        lines.len() == 1 && lines[0].starts_with("error: ") && lines[0].len() > "error: ".len(),
        "for {} stderr must be exactly one line starting with `error: ` besides INFO logs, got {} line(s):\n{stderr}",
        input.display(),
        lines.len()
    );
    for f in list_files(&s.out()) {
        assert!(
            !f.ends_with("master.m3u8") && !f.ends_with("manifest.mpd"),
            "a refused input left a manifest behind: {f}"
        );
    }
    stderr
}
