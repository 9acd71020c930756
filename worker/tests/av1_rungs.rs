//! AV1 rungs: SVT-AV1 (the encoder element built into the packager, the default for
//! `codec = "av1"`) and libaom (`encoder = "aom"`) side by side in one title, judged by
//! the checks every title passes (ffprobe: `av01` CODECS, a keyframe at every segment
//! start, the same boundaries in every rendition, durations; HLS and DASH; thumbnails;
//! `vodpipe verify`), played through GStreamer's HLS and DASH demuxers, and made twice
//! with the same bytes.

mod common;

use std::fs;
use std::path::Path;

use common::*;

/// Two AV1 rungs: SVT-AV1 at 360 lines (the default encoder), libaom at 240. Fast presets:
/// the test is about alignment, keyframes and bytes, not quality.
const LADDER: &str = r#"name = "av1-under-test"
segment_duration = 2.0
deterministic = true

[[rung]]
codec = "av1"
height = 360
bitrate = 500000
preset = "12"

[[rung]]
codec = "av1"
encoder = "aom"
height = 240
bitrate = 250000
preset = "9"
"#;

/// `vodpipe transcode` of `fixture` with [`LADDER`] into `out`; the title's folder. The
/// log names each rung's encoder.
fn transcode(s: &Scratch, fixture: &Path, out: &Path) -> std::path::PathBuf {
    let ladder = s.path("av1.toml");
    fs::write(&ladder, LADDER).unwrap();
    let stderr = run_ok_stderr(&[arg("transcode"), fixture.into(), arg("--out"), out.into(), arg("--ladder"), ladder.into()]);
    assert!(stderr.contains("rungs=av1_360p (svt-av1),av1_240p (aom)"), "the rungs' encoders are not the ladder's:\n{stderr}");
    out.join(fixture.file_stem().unwrap())
}

/// 9.5 s (odd_length.webm, VP9 + Opus) in 2 s segments: four whole ones and 1.5 s; every
/// rendition cut at the same places, each segment starting on a keyframe, played through.
#[test]
fn svt_av1_and_aom_rungs_align_on_a_source_not_a_multiple_of_the_segment() {
    let s = Scratch::new("av1_rungs");
    let input = media("odd_length.webm");
    let title = transcode(&s, &input, &s.out());
    let expect = Expect { renditions: vec!["av1_360p".into(), "av1_240p".into()], segment_seconds: 2.0 };
    let report = verify_title(&s, &input, &title, &expect);
    for v in report.video.values() {
        let d: Vec<f64> = v.segments.iter().map(|g| g.duration).collect();
        assert_eq!(d.len(), 5, "{}: segment durations {d:?}", v.id);
        assert!((d[4] - 1.5).abs() < 0.001, "{}: the last segment should be 1.5 s: {d:?}", v.id);
    }
    play_everything(&s, &title, &report);
}

/// `deterministic = true`: the same source twice gives the same bytes in every segment
/// and init segment of both encoders.
#[test]
fn av1_rungs_are_the_same_bytes_run_to_run() {
    let s = Scratch::new("av1_twice");
    let input = media("short.mp4");
    let first = transcode(&s, &input, &s.path("first"));
    let second = transcode(&s, &input, &s.path("second"));
    let media_files: Vec<String> =
        list_files(&first).into_iter().filter(|f| f.starts_with("av1_") && (f.ends_with(".m4s") || f.ends_with(".mp4"))).collect();
    assert!(media_files.iter().any(|f| f.starts_with("av1_360p/")) && media_files.iter().any(|f| f.starts_with("av1_240p/")), "{media_files:?}");
    assert_eq!(list_files(&first), list_files(&second), "the two runs wrote different files");
    for f in &media_files {
        assert!(fs::read(first.join(f)).unwrap() == fs::read(second.join(f)).unwrap(), "{f} differs between two runs");
    }
}

/// A machine without the SVT-AV1 library (here: the library's name pointed at nothing):
/// `vodpipe doctor` names the element and the package to install and exits 69; an AV1
/// title fails naming the element, as the machine's fault, not the upload's.
#[test]
fn without_the_svt_av1_library_the_doctor_names_it() {
    const LIBRARY_ENV: &str = "VODPIPE_SVTAV1_LIBRARY";
    let doctor = std::process::Command::new(env!("CARGO_BIN_EXE_vodpipe"))
        .arg("doctor")
        .env(LIBRARY_ENV, "/nonexistent/libSvtAv1Enc.so.1")
        .output()
        .expect("running vodpipe doctor");
    let said = format!("{}{}", String::from_utf8_lossy(&doctor.stdout), String::from_utf8_lossy(&doctor.stderr));
    assert_eq!(doctor.status.code(), Some(69), "vodpipe doctor without SVT-AV1:\n{said}");
    assert!(said.contains("vodpipesvtav1enc") && said.contains("MISSING (install libsvtav1enc1)"), "{said}");
    assert!(said.contains("ladder default: ok"), "H.264 ladders do not need SVT-AV1:\n{said}");

    let s = Scratch::new("av1_no_library");
    let ladder = s.path("av1.toml");
    fs::write(&ladder, LADDER).unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_vodpipe"));
    cmd.args(["transcode"]).arg(media("short.mp4")).arg("--out").arg(s.out()).arg("--ladder").arg(&ladder).env(LIBRARY_ENV, "/nonexistent/libSvtAv1Enc.so.1");
    let out = cmd.output().expect("running vodpipe transcode");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "an AV1 title without SVT-AV1 was made:\n{stderr}");
    assert!(stderr.contains("vodpipesvtav1enc"), "the failure does not name the element:\n{stderr}");
    assert!(!s.out().join("short").join("master.m3u8").exists(), "a manifest was written");
}

/// `bit_depth = 10` on an SVT-AV1 rung: a 10-bit 4:2:0 stream (ffprobe: yuv420p10le), the
/// bit depth in its CODECS (`av01.0.xxM.10`) in the master playlist and the MPD, and a
/// title that passes every check and plays; the 8-bit rung beside it stays 8-bit.
#[test]
fn a_ten_bit_rung_is_ten_bit_in_the_stream_and_in_codecs() {
    const TEN_BIT: &str = r#"name = "av1-10-bit"
segment_duration = 2.0
deterministic = true

[[rung]]
codec = "av1"
height = 360
bitrate = 500000
preset = "12"
bit_depth = 10

[[rung]]
codec = "av1"
height = 240
bitrate = 250000
preset = "12"
"#;
    let s = Scratch::new("av1_ten_bit");
    let input = media("short.mp4");
    let ladder = s.path("av1-10.toml");
    fs::write(&ladder, TEN_BIT).unwrap();
    run_ok(&[arg("transcode"), input.clone().into(), arg("--out"), s.out().into(), arg("--ladder"), ladder.into()]);
    let title = s.out().join("short");
    let expect = Expect { renditions: vec!["av1_360p".into(), "av1_240p".into()], segment_seconds: 2.0 };
    let report = verify_title(&s, &input, &title, &expect);
    for (rung, pix_fmt, depth) in [("av1_360p", "yuv420p10le", ".10"), ("av1_240p", "yuv420p", ".08")] {
        let joined = s.path(&format!("{rung}.mp4"));
        let mut bytes = fs::read(title.join(rung).join("init.mp4")).unwrap();
        bytes.extend(fs::read(title.join(rung).join("seg-00001.m4s")).unwrap());
        fs::write(&joined, bytes).unwrap();
        let probe = std::process::Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=pix_fmt", "-of", "default=nw=1:nk=1"])
            .arg(&joined)
            .output()
            .expect("running ffprobe");
        assert_eq!(String::from_utf8_lossy(&probe.stdout).trim(), pix_fmt, "{rung}");
        let master = fs::read_to_string(title.join("master.m3u8")).unwrap();
        let mpd = fs::read_to_string(title.join("manifest.mpd")).unwrap();
        let line = master.lines().find(|l| l.contains("RESOLUTION") && !l.contains("I-FRAME") && l.contains(&format!("{}x{}", report.video[rung].width, report.video[rung].height))).unwrap_or_else(|| panic!("{rung} in {master}"));
        let codecs = line.split("CODECS=\"").nth(1).and_then(|c| c.split([',', '"']).next()).unwrap();
        assert!(codecs.starts_with("av01.0.") && codecs.ends_with(depth), "{rung}: CODECS {codecs}");
        assert!(mpd.contains(&format!("codecs=\"{codecs}\"")), "{rung}: the MPD lacks codecs=\"{codecs}\"");
    }
    play_everything(&s, &title, &report);
}
