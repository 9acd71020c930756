//! The field corpus: uploads as phones, cameras, editors, broadcast captures and ffmpeg
//! write them (fixtures/make-field-media.sh lists each and what it imitates), every one
//! packaged end to end and judged with tools nobody here wrote, twice: with one H.264 rung
//! and with one AV1 rung (SVT-AV1, the encoder element written here).
//!
//! Every fixture carries the same sync markers: a white two-frame flash from title time
//! 3.0 s and a 100 ms 1 kHz beep from the same time. For each title:
//! - **segments**: every video segment but the last lasts the ladder's 4 s to within a
//!   frame, starts with a keyframe, and audio segment N starts within an AAC frame of
//!   video segment N (ffprobe on init + segments);
//! - **frames**: a constant-rate source keeps every frame (ffprobe's packet counts); a
//!   variable-rate one gets the count its policy says (see `packager::rate`);
//! - **sync**: flash minus beep in the title (ffmpeg's signalstats and silencedetect)
//!   is the source's to within one frame of the source;
//! - **audio length**: the audio starts with the title and lasts to its end;
//! - **timeline**: decode times run on exactly from packet to packet across every
//!   segment (ffprobe's integer dts and durations), the timescale holds a frame exactly,
//!   AAC frames are 1024 samples;
//! - **picture format**: progressive 8-bit 4:2:0 whatever the source;
//! - **orientation**: no display matrix is left in the output, its shape (portrait or
//!   landscape) is the source's as ffmpeg shows it, and a picture from it matches the
//!   source's as ffmpeg shows it far better than the same picture turned;
//! - **HDR**: a PQ or HLG source's rendition keeps its transfer and HLS marks it
//!   `VIDEO-RANGE`;
//! - **manifests and playback**: HLS and DASH parse back and validate
//!   (`common::check_hls`, `common::check_dash`), and GStreamer's hlsdemux2/dashdemux2
//!   play both to the end.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use common::*;

/// One small H.264 rung: every check here is about timing, sync and shape, which one
/// rung shows as well as five (alignment across rungs is tested in transcode_e2e). 144p
/// fits under every source of the corpus (a 3GP phone clip is QCIF).
const FIELD_LADDER: &str = r#"
name = "field"
segment_duration = 4.0
deterministic = true

[audio]
bitrate = 64000

[[rung]]
codec = "h264"
height = 144
bitrate = 150000
preset = "ultrafast"
"#;

/// The same rung in AV1 (SVT-AV1 at its fastest preset): every fixture again, judged the
/// same way, for the encoder element written here.
const FIELD_LADDER_AV1: &str = r#"
name = "field-av1"
segment_duration = 4.0
deterministic = true

[audio]
bitrate = 64000

[[rung]]
codec = "av1"
height = 144
bitrate = 150000
preset = "12"
"#;

const SEGMENT_SECONDS: f64 = 4.0;

/// How a title's frame count must relate to its source's.
#[derive(Clone, Copy, Debug)]
enum Frames {
    /// Constant rate: every source frame, no more.
    Kept,
    /// Variable rate: resampled to the most common spacing, so the count is the title's
    /// span at that rate (each frame lasts one interval).
    Resampled,
}

/// Packages one fixture with `ladder` ([`FIELD_LADDER`] or [`FIELD_LADDER_AV1`]); returns
/// the scratch, input and title folder.
fn package(fixture: &str, ladder_toml: &str) -> (Scratch, PathBuf, PathBuf) {
    let stem = Path::new(fixture).file_stem().unwrap().to_string_lossy().into_owned();
    let tag = if ladder_toml == FIELD_LADDER { "" } else { "_av1" };
    let s = Scratch::new(&format!("field_{stem}{tag}"));
    let input = field_media(fixture);
    let ladder = s.path("ladder.toml");
    fs::write(&ladder, ladder_toml).unwrap();
    run_ok(&[
        arg("transcode"),
        input.clone().into(),
        arg("--out"),
        s.out().into(),
        arg("--video-id"),
        arg("title"),
        arg("--ladder"),
        ladder.into(),
    ]);
    let title = s.out().join("title");
    (s, input, title)
}

/// What ffprobe says of the source's first video and audio streams.
#[derive(Debug)]
struct SourceFacts {
    frames: usize,
    /// Display size as ffmpeg shows it (after the display matrix).
    display: (f64, f64),
    has_audio: bool,
    /// Frames per second from the timestamps: (frames - 1) / (last pts - first pts).
    fps: f64,
}

fn source_facts(input: &Path) -> SourceFacts {
    let v = probe_json(input, &["-show_streams", "-show_packets"]);
    let (vs, _) = packets_of(&v, "video");
    // Frames shown: an edit list that starts mid-GOP has packets that are decoded but
    // discarded (ffprobe flags them D).
    let mut pts: Vec<f64> = v["packets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["stream_index"] == vs["index"] && !p["flags"].as_str().unwrap_or("").contains('D'))
        .filter_map(|p| p["pts_time"].as_str().and_then(|t| t.parse().ok()))
        .collect();
    assert!(pts.len() > 2, "{}: too few video packets", input.display());
    pts.sort_by(f64::total_cmp);
    pts.dedup();
    let fps = (pts.len() - 1) as f64 / (pts[pts.len() - 1] - pts[0]);
    let sar = match vs["sample_aspect_ratio"].as_str() {
        Some(s) if s != "0:1" && s != "N/A" => ratio(s, ':'),
        _ => (1.0, 1.0),
    };
    let (w, h) = (vs["width"].as_f64().unwrap() * sar.0 / sar.1, vs["height"].as_f64().unwrap());
    let display = if rotation(&vs).rem_euclid(180) == 90 { (h, w) } else { (w, h) };
    let (_, ap) = packets_of(&v, "audio");
    SourceFacts { frames: pts.len(), display, has_audio: !ap.is_empty(), fps }
}

/// Degrees of the stream's display matrix (or its legacy `rotate` tag), 0 when none.
fn rotation(stream: &Value) -> i64 {
    let from_matrix = stream["side_data_list"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|d| d["rotation"].as_i64().or_else(|| d["rotation"].as_f64().map(|r| r.round() as i64)));
    from_matrix
        .or_else(|| stream["tags"]["rotate"].as_str().and_then(|r| r.parse().ok()))
        .unwrap_or(0)
}

/// What ffmpeg prints (`metadata=print` to stdout) for one stream of `file` through
/// `filter`, with the file's own timestamps (`-copyts`: no shift to the earliest start).
fn ffmpeg_metadata(file: &Path, stream: &str, filter_flag: &str, filter: &str) -> String {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-copyts", "-i"])
        .arg(file)
        .args(["-map", stream, filter_flag, filter, "-f", "null", "-"])
        .output()
        .expect("running ffmpeg");
    assert!(out.status.success(), "ffmpeg on {}: {}", file.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The first `pts:N` of a frame whose `key=value` line passes `hit`. ffmpeg's pts_time
/// has six significant digits (0.1 s at a 10 h clock), so the integer pts is read.
fn first_pts(text: &str, key: &str, hit: impl Fn(f64) -> bool) -> Option<i64> {
    let mut pts = None;
    for line in text.lines() {
        if let Some(p) = line.split(" pts:").nth(1) {
            pts = p.split_whitespace().next().and_then(|p| p.parse::<i64>().ok());
        } else if let Some(v) = line.strip_prefix(key).and_then(|v| v.strip_prefix('='))
            && hit(v.trim().parse::<f64>().unwrap_or(f64::NEG_INFINITY))
        {
            return pts;
        }
    }
    None
}

/// (time base, sample rate) of the first stream of a kind.
fn stream_timing(file: &Path, kind: &str) -> (f64, f64) {
    let v = probe_json(file, &["-show_streams"]);
    let st = v["streams"].as_array().unwrap().iter().find(|s| s["codec_type"] == kind).expect("stream").clone();
    let (n, d) = ratio(st["time_base"].as_str().unwrap(), '/');
    (n / d, st["sample_rate"].as_str().and_then(|r| r.parse().ok()).unwrap_or(0.0))
}

/// Time of the first frame whose mean luma is above 128 (the flash), in the file's own
/// timestamps. 8-bit first: signalstats counts 10-bit sources in 10-bit units.
fn flash_time(file: &Path) -> f64 {
    let text = ffmpeg_metadata(file, "0:v:0", "-vf", "format=yuv420p,signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=-");
    let pts = first_pts(&text, "lavfi.signalstats.YAVG", |y| y > 128.0).unwrap_or_else(|| panic!("no flash in {}", file.display()));
    pts as f64 * stream_timing(file, "video").0
}

/// Start of the beep: the first millisecond whose peak is above -30 dBFS.
fn beep_time(file: &Path) -> f64 {
    let rate = stream_timing(file, "audio").1;
    let filter = format!(
        "asetnsamples=n={}:p=0,astats=metadata=1:reset=1,ametadata=print:key=lavfi.astats.Overall.Peak_level:file=-",
        (rate / 1000.0).round()
    );
    let text = ffmpeg_metadata(file, "0:a:0", "-af", &filter);
    let pts = first_pts(&text, "lavfi.astats.Overall.Peak_level", |db| db > -30.0)
        .unwrap_or_else(|| panic!("no beep in {}", file.display()));
    pts as f64 / rate
}

/// Where the source's title starts: its earliest stream (ffprobe's start times).
fn title_start(input: &Path) -> f64 {
    let v = probe_json(input, &["-show_streams"]);
    v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["codec_type"] == "video" || s["codec_type"] == "audio")
        .filter_map(|s| s["start_time"].as_str().and_then(|t| t.parse::<f64>().ok()))
        .fold(f64::INFINITY, f64::min)
}

/// Integer decode times of a rendition's concatenation: (timescale, every packet's dts).
fn decode_times(file: &Path) -> (u64, Vec<i64>) {
    let v = probe_json(file, &["-show_entries", "stream=time_base:packet=dts"]);
    let tb = v["streams"][0]["time_base"].as_str().unwrap();
    let (one, timescale) = ratio(tb, '/');
    assert_eq!(one, 1.0, "time base {tb}");
    let dts = v["packets"].as_array().unwrap().iter().map(|p| p["dts"].as_i64().expect("integer dts")).collect();
    (timescale as u64, dts)
}

/// Every packet starts exactly `step` ticks after the one before: no gap or overlap at a
/// fragment boundary (ffmpeg takes each fragment's start from its `tfdt`), and every
/// frame lasts the same.
fn assert_steps(id: &str, dts: &[i64], step: i64) {
    for (k, w) in dts.windows(2).enumerate() {
        assert_eq!(
            w[1] - w[0],
            step,
            "{id}: packet {} starts {} ticks after the one before, not {step} (a gap or overlap, or a frame of another length)",
            k + 1,
            w[1] - w[0]
        );
    }
}

/// A small grey picture of `file` at `at` seconds, as ffmpeg shows it (display matrix applied).
fn grey_picture(file: &Path, copyts: bool, at: f64, turn: bool) -> Vec<u8> {
    let at = format!("{at:.3}");
    let mut pre = vec!["-ss", at.as_str()];
    if copyts {
        pre.insert(0, "-copyts");
    }
    let filter = if turn { "hflip,vflip,scale=24:24,format=gray" } else { "scale=24:24,format=gray" };
    rgb_of(file, &pre, filter)
}

fn check_field(fixture: &str, frames: Frames, ladder: &str) {
    let (s, input, title) = package(fixture, ladder);
    let src = source_facts(&input);
    let video_id = fs::read_dir(&title)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("h264_") || n.starts_with("av1_"))
        .expect("a video rendition");
    let video = probe_rendition(&s, &title, &video_id);
    let concat_video = s.path(&format!("{video_id}.concat.mp4"));
    let (vn, vd) = ratio(&video.frame_rate, '/');
    let fps = vn / vd;
    let frame = 1.0 / fps;

    // Segments: 4 s to within a frame, keyframes first.
    let n = video.segments.len();
    for (k, g) in video.segments.iter().enumerate() {
        assert!(g.first_packet_keyframe, "{video_id}: segment {} does not start with a keyframe", k + 1);
        if k + 1 < n {
            assert!(
                (g.duration - SEGMENT_SECONDS).abs() <= frame + 1e-6,
                "{video_id}: segment {} lasts {:.4} s, not {SEGMENT_SECONDS} s to within a frame: {:?}",
                k + 1,
                g.duration,
                video.segments.iter().map(|g| g.duration).collect::<Vec<_>>()
            );
        }
    }

    // Frames: kept, or as the variable-rate policy says.
    let out_frames: usize = video.segments.iter().map(|g| g.packets).sum();
    match frames {
        Frames::Kept => {
            assert_eq!(out_frames, src.frames, "{fixture}: the title has {out_frames} frames, the source {}", src.frames);
            assert!((fps - src.fps).abs() / src.fps < 0.001, "{fixture}: packaged at {fps:.4} fps, the source runs at {:.4}", src.fps);
        }
        Frames::Resampled => {
            let want = (video.duration * fps).round() as usize;
            assert_eq!(out_frames, want, "{fixture}: {out_frames} frames over {:.3} s at {fps:.3} fps", video.duration);
            eprintln!("{fixture}: variable rate source of {} frames packaged as {out_frames} at {fps:.3} fps", src.frames);
        }
    }

    // Timeline: exact, continuous integer decode times; the timescale holds a frame.
    let (timescale, vdts) = decode_times(&concat_video);
    let frame_ticks = timescale as f64 / fps;
    assert!((frame_ticks - frame_ticks.round()).abs() < 1e-6, "{video_id}: timescale {timescale} does not hold a frame of {fps} fps");
    assert_steps(&video_id, &vdts, frame_ticks.round() as i64);

    // Orientation: no matrix left, the displayed shape, and the picture itself.
    let ov = probe_json(&concat_video, &["-show_streams"]);
    assert_eq!(rotation(&ov["streams"][0]), 0, "{video_id}: the output still asks players to turn the picture");
    // Progressive 8-bit 4:2:0, whatever the source was (interlaced, 10-bit, 4:2:2).
    let (pix_fmt, field_order) = (ov["streams"][0]["pix_fmt"].as_str(), ov["streams"][0]["field_order"].as_str());
    assert_eq!(pix_fmt, Some("yuv420p"), "{video_id}: pixel format");
    assert!(matches!(field_order, None | Some("progressive" | "unknown")), "{video_id}: field order {field_order:?}");
    assert_eq!(
        video.width > video.height,
        src.display.0 > src.display.1,
        "{video_id}: {}x{} but the source shows as {}x{}",
        video.width,
        video.height,
        src.display.0,
        src.display.1
    );
    let at = 1.5;
    let source_pic = grey_picture(&input, false, at, false);
    let right = mean_abs_diff(&source_pic, &grey_picture(&concat_video, true, at, false));
    let turned = mean_abs_diff(&source_pic, &grey_picture(&concat_video, true, at, true));
    assert!(right * 2.0 < turned, "{video_id}: the picture at {at} s differs from the source's by {right:.1}, turned by {turned:.1}");

    let audio = src.has_audio.then(|| probe_rendition(&s, &title, "audio"));
    if let Some(a) = &audio {
        let concat_audio = s.path("audio.concat.mp4");
        // Audio segments follow the video's (the first of each starts with its track: the
        // audio at the title's start, the video where its first frame is).
        assert_eq!(a.segments.len(), n, "audio has {} segments, video {n}", a.segments.len());
        for (k, (v, au)) in video.segments.iter().zip(&a.segments).enumerate().skip(1) {
            assert!(
                (v.start - au.start).abs() <= 1024.0 / 48000.0 + 1e-6,
                "segment {}: audio starts at {:.4} s, video at {:.4} s",
                k + 1,
                au.start,
                v.start
            );
        }
        // The audio spans the title: from 0 to the video's end.
        let (astart, aend) = (a.segments[0].start, a.segments[0].start + a.duration);
        let vend = video.segments[0].start + video.duration;
        assert!(astart.abs() < 0.001, "audio starts at {astart:.4} s, not with the title");
        assert!(aend >= vend - 1024.0 / 48000.0, "audio ends at {aend:.4} s, the video at {vend:.4} s");
        // AAC frames of 1024 samples, on a continuous timeline.
        let (rate, adts) = decode_times(&concat_audio);
        assert_eq!(rate, 48000, "audio timescale");
        assert_steps("audio", &adts, 1024);

        // Sync: flash minus beep, as in the source; and the flash where the source has it,
        // counted from the source's earliest stream.
        let src_flash = flash_time(&input) - title_start(&input);
        let src_offset = flash_time(&input) - beep_time(&input);
        let (vflash, abeep) = (flash_time(&concat_video), beep_time(&concat_audio));
        let tolerance = 1.0 / src.fps + 0.001;
        eprintln!("{fixture}: flash - beep {:.4} s (source {src_offset:.4} s), flash at {vflash:.4} s (source {src_flash:.4} s)", vflash - abeep);
        assert!(
            ((vflash - abeep) - src_offset).abs() <= tolerance,
            "A/V sync: the flash comes {:.4} s after the beep in the title, {src_offset:.4} s in the source (tolerance {tolerance:.4} s)",
            vflash - abeep
        );
        assert!(
            (vflash - src_flash).abs() <= tolerance,
            "the flash is at {vflash:.4} s of the title, {src_flash:.4} s after the source's start"
        );
    }

    // HDR: the rendition keeps the source's transfer (ffprobe), and HLS says so.
    let transfer = |f: &Path| probe_json(f, &["-show_streams", "-select_streams", "v:0"])["streams"][0]["color_transfer"].as_str().unwrap_or("").to_owned();
    let src_transfer = transfer(&input);
    // (HLS VIDEO-RANGE, H.273 transfer code point for DASH's CICP property)
    let range = match src_transfer.as_str() {
        "smpte2084" => Some(("PQ", 16)),
        "arib-std-b67" => Some(("HLG", 18)),
        _ => None,
    };
    let master = fs::read_to_string(title.join("master.m3u8")).unwrap();
    let mpd = fs::read_to_string(title.join("manifest.mpd")).unwrap();
    if let Some((range, cicp)) = range {
        assert_eq!(transfer(&concat_video), src_transfer, "{video_id}: transfer of an HDR source");
        assert!(master.contains(&format!("VIDEO-RANGE={range}")), "master.m3u8 must say VIDEO-RANGE={range}:\n{master}");
        let property = format!(r#"schemeIdUri="urn:mpeg:mpegB:cicp:TransferCharacteristics" value="{cicp}""#);
        assert!(mpd.contains(&property), "manifest.mpd must carry {property}:\n{mpd}");
    } else {
        assert!(!master.contains("VIDEO-RANGE"), "an SDR title needs no VIDEO-RANGE:\n{master}");
        assert!(!mpd.contains("cicp:TransferCharacteristics"), "an SDR title states no transfer:\n{mpd}");
    }

    // Manifests parse back and validate; GStreamer plays them to the end.
    let report = Report {
        video: [(video_id.clone(), video)].into_iter().collect(),
        audio,
        more_audio: more_audio(&s, &title),
        source: Source { dar: 192.0 / 144.0, frame_rate: String::new(), fps, video_duration: 0.0, audio_duration: None, audio_channels: Vec::new() },
    };
    check_hls(&title, &report);
    check_dash(&title, &report);
    play_everything(&s, &title, &report);
}

/// A phone clip smaller than every rung of the default ladder (QCIF 176x144 under 240p) is
/// published at its own size with the lowest rung's settings, not refused, and plays.
#[test]
fn a_source_under_every_rung_is_published_at_its_own_size() {
    let s = Scratch::new("field_qcif_default_ladder");
    let input = field_media("23_phone_h263.3gp");
    run_ok(&[arg("transcode"), input.clone().into(), arg("--out"), s.out().into(), arg("--video-id"), arg("title")]);
    let title = s.out().join("title");
    let master = fs::read_to_string(title.join("master.m3u8")).unwrap();
    let variants: Vec<&str> = master.lines().filter(|l| l.ends_with("playlist.m3u8") && !l.starts_with('#')).collect();
    assert_eq!(variants, ["h264_144p/playlist.m3u8"], "one rendition at the source's height:\n{master}");
    // H.263's standard picture formats have 12:11 pixels (ITU-T H.263 table 1), which
    // GStreamer applies (ffprobe shows the stream as 1:1): 176x144 is 192x144 square.
    let src = source_facts(&input);
    let init = probe_json(&title.join("h264_144p/init.mp4"), &["-show_streams"]);
    let v = &init["streams"][0];
    let (w, h) = (v["width"].as_u64().unwrap(), v["height"].as_u64().unwrap());
    assert_eq!((w, h), (176 * 12 / 11, 144), "the rendition is the source's height, at its displayed shape");
    let video = probe_rendition(&s, &title, "h264_144p");
    let frames: usize = video.segments.iter().map(|g| g.packets).sum();
    assert_eq!(frames, src.frames, "every frame kept");
    let (n, d) = ratio(&video.frame_rate, '/');
    let fps = n / d;
    play_everything(&s, &title, &Report {
        video: [("h264_144p".to_owned(), video)].into_iter().collect(),
        audio: Some(probe_rendition(&s, &title, "audio")),
        more_audio: more_audio(&s, &title),
        source: Source { dar: 192.0 / 144.0, frame_rate: String::new(), fps, video_duration: 0.0, audio_duration: None, audio_channels: Vec::new() },
    });
}

/// The title's audio renditions besides `audio` (its 5.1, other streams), as ffprobe reads
/// them.
fn more_audio(s: &Scratch, title: &Path) -> std::collections::BTreeMap<String, Track> {
    list_files(title)
        .iter()
        .filter_map(|f| f.strip_suffix("/init.mp4"))
        .filter(|id| id.starts_with("audio") && *id != "audio")
        .map(|id| (id.to_owned(), probe_rendition(s, title, id)))
        .collect()
}

/// Two tests per fixture: `<case>::h264` and `<case>::av1`.
macro_rules! field_cases {
    ($($name:ident: $fixture:literal, $frames:expr;)*) => {
        $(
            mod $name {
                use super::*;

                #[test]
                fn h264() {
                    check_field($fixture, $frames, FIELD_LADDER);
                }

                #[test]
                fn av1() {
                    check_field($fixture, $frames, FIELD_LADDER_AV1);
                }
            }
        )*
    };
}

field_cases! {
    late_audio_mp4: "01_late_audio.mp4", Frames::Kept;
    ffmpeg_matroska_video_after_audio: "02_ffmpeg_h264_aac.mkv", Frames::Kept;
    phone_rotated_90: "03_phone_rot90.mp4", Frames::Kept;
    phone_rotated_270: "04_phone_rot270.mp4", Frames::Kept;
    phone_rotated_180: "05_phone_rot180.mp4", Frames::Kept;
    sps_rate_disagrees_with_the_samples: "06_vui25_mux26777.mp4", Frames::Kept;
    variable_frame_rate_phone: "07_vfr_phone.mp4", Frames::Resampled;
    prores_with_pcm_5_1: "08_prores_hq_pcm51.mov", Frames::Kept;
    h264_with_pcm_5_1: "09_h264_pcm51.mov", Frames::Kept;
    flac_7_1_matroska: "10_flac71.mkv", Frames::Kept;
    pcm_without_a_channel_mask_avi: "11_pcm6_nomask.avi", Frames::Kept;
    mono_aac_44k: "12_mono_aac44k.mp4", Frames::Kept;
    film_rate_23976: "13_23976.mp4", Frames::Kept;
    interlaced_mpegts: "14_interlaced_2997.ts", Frames::Kept;
    mpegts_clock_starting_at_10h: "15_ts_10h.ts", Frames::Kept;
    mpegts_clock_wrapping: "16_ts_wrap.ts", Frames::Kept;
    pal_anamorphic_mov: "17_pal_anamorphic.mov", Frames::Kept;
    h264_422_10bit: "18_h264_422_10bit.mov", Frames::Kept;
    hdr10_hevc: "19_hdr10_hevc.mp4", Frames::Kept;
    vp9_opus_webm: "20_vp9_opus.webm", Frames::Kept;
    mpeg4_mp3_avi: "21_xvid_mp3.avi", Frames::Kept;
    mxf_mpeg2_pcm: "22_mxf_mpeg2.mxf", Frames::Kept;
    phone_3gp: "23_phone_h263.3gp", Frames::Kept;
    audio_dropout_matroska: "24_audio_hole.mkv", Frames::Kept;
    sixty_fps: "25_60fps.mp4", Frames::Kept;
    aac_7_1_mp4: "26_aac71.mp4", Frames::Kept;
    fragmented_mp4: "27_fragmented.mp4", Frames::Kept;
    browser_mediarecorder_webm: "28_mediarecorder.webm", Frames::Kept;
    dvb_mpeg2_mp2_ts: "29_dvb_mpeg2_mp2.ts", Frames::Kept;
    ac3_5_1_matroska: "30_h264_ac3_51.mkv", Frames::Kept;
    pcm_4_channels_matroska: "31_pcm4_nolayout.mkv", Frames::Kept;
    iphone_hlg_portrait: "32_iphone_hlg_rot90.mov", Frames::Kept;
    trimmed_without_reencoding_mid_gop_edit: "33_trimmed_editlist.mp4", Frames::Kept;
    three_languages_matroska: "34_three_languages.mkv", Frames::Kept;
    two_languages_mp4: "35_two_languages.mp4", Frames::Kept;
}
