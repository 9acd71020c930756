//! Audio renditions: one per audio stream of the source, in its order, with its language;
//! a 5.1 rendition beside the stereo one of every stream with six channels or more.
//!
//! Judged with ffmpeg/ffprobe on the stored renditions and by parsing the manifests back:
//! - each rendition carries its own stream: every stream of the fixtures beeps at its own
//!   time, and the rendition's beep is at its stream's (so no stream went to another's
//!   rendition), the 5.1 one on the same sample as the stereo one of its stream;
//! - 5.1 is AAC-LC with six channels in the 5.1 layout, each source channel in its place
//!   (the beep is in front left, right and centre only, as in the source);
//! - HLS: one EXT-X-MEDIA per rendition, LANGUAGE (BCP 47), NAME (the language's own name,
//!   "5.1" after the surround one), DEFAULT=YES on the first stream's stereo, CHANNELS;
//! - DASH: an AdaptationSet per language and channel count with `lang`, `Label`, `Role`
//!   (main for the default one) and the channel count, valid against the schema
//!   (`common::check_dash`, run by `verify_title`);
//! - a job's labels (`--audio N=LANG,ROLE`, `--default-audio N`) over the container's:
//!   languages corrected, commentary and audio description marked (HLS CHARACTERISTICS,
//!   DASH Role and Accessibility), the default stream first; a label of a stream the
//!   source lacks fails the job before anything is stored.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;

/// One small rung: everything checked here is audio.
const LADDER: &str = r#"
name = "audio"
segment_duration = 4.0
deterministic = true

[[rung]]
codec = "h264"
height = 144
bitrate = 150000
preset = "ultrafast"
"#;

/// Packages `fixture` and checks it as every title is checked (`verify_title`: renditions,
/// alignment, catalog, HLS, DASH with the schema). Returns the scratch and the title.
fn package(fixture: &str) -> (Scratch, PathBuf) {
    let stem = Path::new(fixture).file_stem().unwrap().to_string_lossy().into_owned();
    let s = Scratch::new(&format!("audio_{stem}"));
    let input = field_media(fixture);
    let ladder = s.path("ladder.toml");
    fs::write(&ladder, LADDER).unwrap();
    run_ok(&[arg("transcode"), input.clone().into(), arg("--out"), s.out().into(), arg("--video-id"), arg("title"), arg("--ladder"), ladder.into()]);
    let title = s.out().join("title");
    verify_title(&s, &input, &title, &Expect::renditions(&["h264_144p".to_owned()]));
    (s, title)
}

/// A rendition's samples as one file (init + segments).
fn joined(s: &Scratch, title: &Path, id: &str) -> PathBuf {
    join_rendition(s, &title.join(id))
}

/// Where the first beep of a file's audio starts (s): ffmpeg's silencedetect.
fn beep_at(file: &Path) -> f64 {
    let out = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-i"])
        .arg(file)
        .args(["-af", "silencedetect=n=-40dB:d=0.05", "-f", "null", "-"])
        .output()
        .expect("ffmpeg (run scripts/setup.sh)");
    let text = String::from_utf8_lossy(&out.stderr);
    text.split("silence_end: ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no beep in {}:\n{text}", file.display()))
}

/// Each channel's peak level (dBFS), in the file's channel order: ffmpeg's astats.
fn channel_peaks(file: &Path) -> Vec<f64> {
    let out = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-i"])
        .arg(file)
        .args(["-af", "astats=measure_overall=none:measure_perchannel=Peak_level", "-f", "null", "-"])
        .output()
        .expect("ffmpeg (run scripts/setup.sh)");
    let text = String::from_utf8_lossy(&out.stderr);
    text.lines()
        .filter_map(|l| l.split("Peak level dB: ").nth(1))
        .map(|v| v.trim().parse::<f64>().unwrap_or(f64::NEG_INFINITY))
        .collect()
}

/// (codec, profile, channels, layout) of a file's audio stream, as ffprobe says.
fn audio_format(file: &Path) -> (String, String, u64, String) {
    let v = probe_json(file, &["-show_streams"]);
    let a = &v["streams"][0];
    let text = |k: &str| a[k].as_str().unwrap_or("").to_owned();
    (text("codec_name"), text("profile"), a["channels"].as_u64().unwrap_or(0), text("channel_layout"))
}

/// The master playlist's EXT-X-MEDIA audio entries.
fn hls_audio(title: &Path) -> Vec<m3u8_rs::AlternativeMedia> {
    match m3u8_rs::parse_playlist_res(&fs::read(title.join("master.m3u8")).unwrap()) {
        Ok(m3u8_rs::Playlist::MasterPlaylist(m)) => {
            m.alternatives.into_iter().filter(|a| a.media_type == m3u8_rs::AlternativeMediaType::Audio).collect()
        }
        other => panic!("master.m3u8: {other:?}"),
    }
}

/// (lang, Label, Role, Representation ids) of an audio AdaptationSet.
type AudioSet = (Option<String>, Option<String>, Option<String>, Vec<String>);

/// (URI, NAME, LANGUAGE, DEFAULT, CHANNELS) of an EXT-X-MEDIA.
type AudioMedia = (Option<String>, String, Option<String>, bool, Option<String>);

/// Each audio AdaptationSet of the MPD.
fn dash_audio(title: &Path) -> Vec<AudioSet> {
    let mpd = dash_mpd_core::parse(&fs::read_to_string(title.join("manifest.mpd")).unwrap()).expect("manifest.mpd parses");
    mpd.periods[0]
        .adaptations
        .iter()
        .filter(|a| a.contentType.as_deref() == Some("audio"))
        .map(|a| {
            (
                a.lang.clone(),
                a.Label.first().map(|l| l.content.clone()),
                a.Role.first().and_then(|r| r.value.clone()),
                a.representations.iter().filter_map(|r| r.id.clone()).collect(),
            )
        })
        .collect()
}

#[test]
fn each_language_is_a_rendition_with_its_own_stream_and_the_surround_one_a_5_1_beside_it() {
    let (s, title) = package("34_three_languages.mkv");
    // Source: English stereo AAC beeping at 3 s, German at 4 s, French 5.1 FLAC at 5 s.
    for (id, at) in [("audio", 3.0), ("audio2", 4.0), ("audio3", 5.0), ("audio3_51", 5.0)] {
        let file = joined(&s, &title, id);
        let got = beep_at(&file);
        // The source's own offset of its audio (ffmpeg's Matroska AAC priming, ~21 ms) is kept.
        assert!((got - at).abs() < 0.05, "{id}: beep at {got:.4} s, its stream beeps at {at} s");
    }
    let (stereo, surround) = (beep_at(&joined(&s, &title, "audio3")), beep_at(&joined(&s, &title, "audio3_51")));
    assert!((stereo - surround).abs() < 0.001, "the 5.1 rendition's beep is at {surround:.5} s, its stereo one's at {stereo:.5} s");
    assert_eq!(audio_format(&joined(&s, &title, "audio3_51")), ("aac".into(), "LC".into(), 6, "5.1".into()));

    let media = hls_audio(&title);
    let got: Vec<AudioMedia> = media
        .iter()
        .map(|a| (a.uri.clone(), a.name.clone(), a.language.clone(), a.default, a.channels.clone()))
        .collect();
    let want = |uri: &str, name: &str, lang: &str, default: bool, channels: &str| {
        (Some(uri.to_owned()), name.to_owned(), Some(lang.to_owned()), default, Some(channels.to_owned()))
    };
    assert_eq!(
        got,
        [
            want("audio/playlist.m3u8", "English", "en", true, "2"),
            want("audio2/playlist.m3u8", "Deutsch", "de", false, "2"),
            want("audio3/playlist.m3u8", "Français", "fr", false, "2"),
            want("audio3_51/playlist.m3u8", "Français 5.1", "fr", false, "6"),
        ]
    );

    let sets = dash_audio(&title);
    let set = |lang: &str, label: &str, role: &str, id: &str| {
        (Some(lang.to_owned()), Some(label.to_owned()), Some(role.to_owned()), vec![id.to_owned()])
    };
    assert_eq!(
        sets,
        [
            set("en", "English", "main", "audio"),
            set("de", "Deutsch", "alternate", "audio2"),
            set("fr", "Français", "alternate", "audio3"),
            set("fr", "Français", "alternate", "audio3_51"),
        ]
    );

    let catalog: serde_json::Value = serde_json::from_slice(&fs::read(title.join("catalog.json")).unwrap()).unwrap();
    let languages: Vec<(String, String, u64)> = catalog["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "audio")
        .map(|r| (str_of(r, "id"), str_of(r, "language"), r["channels"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        languages,
        [("audio".into(), "en".into(), 2), ("audio2".into(), "de".into(), 2), ("audio3".into(), "fr".into(), 2), ("audio3_51".into(), "fr".into(), 6)]
    );
}

#[test]
fn mp4_track_languages_are_read_from_the_media_headers() {
    let (s, title) = package("35_two_languages.mp4");
    let media = hls_audio(&title);
    let got: Vec<(Option<String>, String)> = media.iter().map(|a| (a.language.clone(), a.name.clone())).collect();
    assert_eq!(got, [(Some("en".into()), "English".into()), (Some("es".into()), "Español".into())]);
    for (id, at) in [("audio", 3.0), ("audio2", 4.0)] {
        let got = beep_at(&joined(&s, &title, id));
        assert!((got - at).abs() < 0.05, "{id}: beep at {got:.4} s, its stream beeps at {at} s");
    }
}

#[test]
fn pcm_5_1_from_an_editor_gets_a_5_1_rendition_with_each_channel_in_its_place() {
    let (s, title) = package("09_h264_pcm51.mov");
    let surround = joined(&s, &title, "audio_51");
    assert_eq!(audio_format(&surround), ("aac".into(), "LC".into(), 6, "5.1".into()));
    // The source beeps in FL, FR and FC; LFE and the surrounds are silent.
    let peaks = channel_peaks(&surround);
    assert_eq!(peaks.len(), 6, "per-channel peaks: {peaks:?}");
    for (ch, p) in peaks.iter().enumerate() {
        let loud = ch < 3;
        assert_eq!(*p > -20.0, loud, "channel {ch} peaks at {p} dBFS: {peaks:?}");
    }
    let (stereo_beep, surround_beep) = (beep_at(&joined(&s, &title, "audio")), beep_at(&surround));
    assert!((stereo_beep - surround_beep).abs() < 0.001, "5.1 beeps at {surround_beep:.5} s, stereo at {stereo_beep:.5} s");
    assert!((stereo_beep - 3.0).abs() < 0.01, "the beep is at {stereo_beep} s, the source's at 3 s");
    // Stereo stays the default: the first EXT-X-MEDIA.
    let media = hls_audio(&title);
    assert_eq!(media[0].uri.as_deref(), Some("audio/playlist.m3u8"));
    assert!(media[0].default && !media[1].default);
    assert_eq!(media[1].channels.as_deref(), Some("6"));
}

#[test]
fn a_ladder_can_turn_the_5_1_rendition_off() {
    let s = Scratch::new("audio_no_surround");
    let ladder = s.path("ladder.toml");
    fs::write(&ladder, format!("{LADDER}\n[audio]\nsurround_bitrate = 0\n")).unwrap();
    run_ok(&[arg("transcode"), field_media("09_h264_pcm51.mov").into(), arg("--out"), s.out().into(), arg("--video-id"), arg("title"), arg("--ladder"), ladder.into()]);
    let files = list_files(&s.out().join("title"));
    assert!(files.iter().any(|f| f == "audio/init.mp4"), "{files:?}");
    assert!(!files.iter().any(|f| f.starts_with("audio_51/")), "a 5.1 rendition with surround_bitrate = 0: {files:?}");
}

#[test]
fn a_job_states_languages_purposes_and_the_default_over_the_containers() {
    // Source: English (beeps at 3 s) and Spanish (4 s). The job says the second stream is
    // French audio description and the default, and the first is a commentary.
    let s = Scratch::new("audio_labels");
    let input = field_media("35_two_languages.mp4");
    let ladder = s.path("ladder.toml");
    fs::write(&ladder, LADDER).unwrap();
    run_ok(&[
        arg("transcode"), input.clone().into(), arg("--out"), s.out().into(), arg("--video-id"), arg("title"), arg("--ladder"), ladder.into(),
        arg("--audio"), arg("2=fra,description"), arg("--audio"), arg("1=,commentary"), arg("--default-audio"), arg("2"),
    ]);
    let title = s.out().join("title");
    verify_title(&s, &input, &title, &Expect::renditions(&["h264_144p".to_owned()]));
    // The renditions keep their streams: only the order and the labels change.
    for (id, at) in [("audio", 3.0), ("audio2", 4.0)] {
        let got = beep_at(&joined(&s, &title, id));
        assert!((got - at).abs() < 0.05, "{id}: beep at {got:.4} s, its stream beeps at {at} s");
    }

    let got: Vec<_> = hls_audio(&title)
        .into_iter()
        .map(|a| (a.uri.unwrap_or_default(), a.name, a.language, a.default, a.autoselect, a.characteristics))
        .collect();
    let describes = Some("public.accessibility.describes-video".to_owned());
    let auxiliary = Some("public.auxiliary-content".to_owned());
    assert_eq!(
        got,
        [
            ("audio2/playlist.m3u8".to_owned(), "Français (audio description)".to_owned(), Some("fr".to_owned()), true, true, describes),
            ("audio/playlist.m3u8".to_owned(), "English (commentary)".to_owned(), Some("en".to_owned()), false, false, auxiliary),
        ]
    );

    let mpd = dash_mpd_core::parse(&fs::read_to_string(title.join("manifest.mpd")).unwrap()).expect("manifest.mpd parses");
    let sets: Vec<_> = mpd.periods[0]
        .adaptations
        .iter()
        .filter(|a| a.contentType.as_deref() == Some("audio"))
        .map(|a| {
            let roles: Vec<String> = a.Role.iter().filter_map(|r| r.value.clone()).collect();
            let access: Vec<(String, Option<String>)> = a.Accessibility.iter().map(|x| (x.schemeIdUri.clone(), x.value.clone())).collect();
            (a.lang.clone(), roles, access, a.representations.iter().filter_map(|r| r.id.clone()).collect::<Vec<_>>())
        })
        .collect();
    let audio_purpose = ("urn:tva:metadata:cs:AudioPurposeCS:2007".to_owned(), Some("1".to_owned()));
    assert_eq!(
        sets,
        [
            (Some("fr".to_owned()), vec!["main".to_owned(), "description".to_owned()], vec![audio_purpose], vec!["audio2".to_owned()]),
            (Some("en".to_owned()), vec!["commentary".to_owned()], vec![], vec!["audio".to_owned()]),
        ]
    );

    let catalog: serde_json::Value = serde_json::from_slice(&fs::read(title.join("catalog.json")).unwrap()).unwrap();
    let audio: Vec<(String, String, String, bool)> = catalog["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "audio")
        .map(|r| (str_of(r, "id"), str_of(r, "language"), r["role"].as_str().unwrap_or("main").to_owned(), r["default"] == true))
        .collect();
    assert_eq!(audio, [("audio2".into(), "fr".into(), "description".into(), true), ("audio".into(), "en".into(), "commentary".into(), false)]);
}

#[test]
fn a_job_labelling_a_stream_the_source_lacks_fails_before_anything_is_stored() {
    let s = Scratch::new("audio_label_missing");
    let out = run_vodpipe(&[arg("transcode"), field_media("35_two_languages.mp4").into(), arg("--out"), s.out().into(), arg("--video-id"), arg("title"), arg("--audio"), arg("3=de")]);
    assert!(!out.status.success(), "labelling audio stream 3 of a two-stream source succeeded");
    let stderr = strip_ansi(&String::from_utf8_lossy(&out.stderr));
    assert!(stderr.contains("the job labels audio stream 3, but the source has 2 audio stream(s)"), "{stderr}");
    let files = list_files(&s.out().join("title"));
    assert!(files.is_empty(), "stored for a refused job: {files:?}");
}
