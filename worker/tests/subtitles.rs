//! Sidecar subtitles (`vodpipe transcode --subtitles LANG=FILE`, WebVTT or SRT) as WebVTT
//! renditions: for HLS one `.vtt` segment per video segment, of the same duration, each
//! mapped onto the media by `X-TIMESTAMP-MAP` (MPEGTS: where the video's first frame is,
//! read with ffprobe: a title with B-frames starts after 0), every cue in each segment it
//! overlaps with the file's times to the millisecond; for DASH a text AdaptationSet over
//! the whole file; the catalog (v2) lists them with their digests; a malformed file
//! refused before any encoding, naming its line. The source's own text streams (MP4
//! timed text, Matroska SRT and ASS) become renditions the same way, each cue at the time
//! ffprobe reads from the container, to the millisecond, against the picture.
//! (Playback with cues shown at their times: `browser_playback.rs`.)

mod common;

use std::fs;
use std::path::Path;

use common::*;

/// One rung with B-frames: its media starts after presentation time 0.
const LADDER: &str = r#"
name = "subs"
segment_duration = 4.0
deterministic = true

[[rung]]
codec = "h264"
height = 240
bitrate = 400000
preset = "ultrafast"
bframes = 3
"#;

const ENGLISH_SRT: &str = "1\r\n00:00:01,000 --> 00:00:02,500\r\nHello there\r\n\r\n2\r\n00:00:03,600 --> 00:00:04,400\r\nAcross the boundary\r\n\r\n3\r\n00:00:10,123 --> 00:00:12,456\r\n<i>Third</i>\r\nand a second line\r\n";
const GERMAN_VTT: &str = "WEBVTT\n\nNOTE made by hand\n\n00:00.500 --> 00:01.000 line:10%\nHallo\n\nkurz\n00:00:07.990 --> 00:00:08.010\nKurz\n";

/// (start, end, text) of each cue of a WebVTT document, times as written.
fn cues(vtt: &str) -> Vec<(String, String, String)> {
    let lines: Vec<&str> = vtt.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if let Some((a, b)) = l.split_once(" --> ") {
            let end = b.split_whitespace().next().unwrap().to_owned();
            let text: Vec<&str> = lines[i + 1..].iter().take_while(|t| !t.is_empty()).copied().collect();
            out.push((a.to_owned(), end, text.join("\n")));
        }
    }
    out
}

fn ms(t: &str) -> f64 {
    vtt_time(t) * 1000.0
}

/// The EXTINF lines of a media playlist, as written.
fn extinf(playlist: &Path) -> Vec<String> {
    fs::read_to_string(playlist).unwrap().lines().filter(|l| l.starts_with("#EXTINF:")).map(str::to_owned).collect()
}

#[test]
fn sidecar_subtitles_are_webvtt_renditions_on_the_video_segments() {
    let s = Scratch::new("subtitles_sidecar");
    let (en, de) = (s.path("movie.en.srt"), s.path("movie.de.vtt"));
    fs::write(&en, ENGLISH_SRT).unwrap();
    fs::write(&de, GERMAN_VTT).unwrap();
    let ladder = s.path("ladder.toml");
    fs::write(&ladder, LADDER).unwrap();
    let input = media("grainy_16s.mp4");
    run_ok(&[
        arg("transcode"),
        input.clone().into(),
        arg("--out"),
        s.out().into(),
        arg("--video-id"),
        arg("title"),
        arg("--ladder"),
        ladder.into(),
        arg("--subtitles"),
        format!("en={}", en.display()).into(),
        arg("--subtitles"),
        format!("ger={}", de.display()).into(),
    ]);
    let title = s.out().join("title");
    // Every other check of a title (and the MPD against the DASH schema).
    let report = verify_title(&s, &input, &title, &Expect::renditions(&["h264_240p"]));
    let video = &report.video["h264_240p"];
    let first = video.segments[0].start;
    assert!(first > 0.01, "the B-frame rung should start after 0 (ffprobe: {first} s): nothing here would test the mapping");

    // HLS master: both renditions in one group, named by their language, on every variant.
    let master = fs::read_to_string(title.join("master.m3u8")).unwrap();
    let pl = match m3u8_rs::parse_playlist_res(master.as_bytes()) {
        Ok(m3u8_rs::Playlist::MasterPlaylist(m)) => m,
        other => panic!("master.m3u8: {other:?}"),
    };
    let subs: Vec<(Option<String>, Option<String>, String, bool)> = pl
        .alternatives
        .iter()
        .filter(|a| a.media_type == m3u8_rs::AlternativeMediaType::Subtitles)
        .map(|a| (a.uri.clone(), a.language.clone(), a.name.clone(), a.default))
        .collect();
    assert_eq!(
        subs,
        [
            (Some("subs_en/playlist.m3u8".into()), Some("en".into()), "English".into(), false),
            (Some("subs_de/playlist.m3u8".into()), Some("de".into()), "Deutsch".into(), false),
        ]
    );
    let group = &pl.alternatives.iter().find(|a| a.media_type == m3u8_rs::AlternativeMediaType::Subtitles).unwrap().group_id;
    for v in pl.variants.iter().filter(|v| !v.is_i_frame) {
        assert_eq!(v.subtitles.as_ref(), Some(group), "{}: SUBTITLES", v.uri);
    }

    for (id, source) in [("subs_en", ENGLISH_SRT.replace("\r\n", "\n").replace(',', ".")), ("subs_de", GERMAN_VTT.to_owned())] {
        let want = cues(&format!("WEBVTT\n\n{source}"));
        check_rendition(&title, id, &want, video);
    }

    // The catalog lists both, every file with its digest.
    let catalog: serde_json::Value = serde_json::from_slice(&fs::read(title.join("catalog.json")).unwrap()).unwrap();
    let listed = catalog["subtitles"].as_array().expect("catalog subtitles");
    assert_eq!(listed.iter().map(|x| (str_of(x, "id"), str_of(x, "language"))).collect::<Vec<_>>(), [("subs_en".into(), "en".into()), ("subs_de".into(), "de".into())]);
    for x in listed {
        let id = str_of(x, "id");
        check_file_digest(&title, &x["whole"], &id);
        let chunks = x["chunks"].as_array().unwrap();
        assert_eq!(chunks.len(), video.segments.len(), "{id}: catalog chunks");
        for c in chunks {
            check_file_digest(&title, c, &id);
        }
    }

    // DASH: a text AdaptationSet per file, with its language, over whole.vtt.
    let mpd = dash_mpd_core::parse(&fs::read_to_string(title.join("manifest.mpd")).unwrap()).unwrap();
    let text: Vec<(Option<String>, String)> = mpd.periods[0]
        .adaptations
        .iter()
        .filter(|a| a.contentType.as_deref() == Some("text"))
        .map(|a| (a.lang.clone(), a.representations[0].BaseURL[0].base.clone()))
        .collect();
    assert_eq!(text, [(Some("en".into()), "subs_en/whole.vtt".into()), (Some("de".into()), "subs_de/whole.vtt".into())]);
}

/// Checks subtitle rendition `id` of `title` against the cues it must hold (`want`: start,
/// end, text as WebVTT writes them): its EXTINF are the video's; each HLS segment maps
/// LOCAL 0 onto the video's first frame (ffprobe) and holds exactly the cues overlapping
/// its video segment, with their own times; whole.vtt holds every cue.
fn check_rendition(title: &Path, id: &str, want: &[(String, String, String)], video: &Track) {
    assert!(!want.is_empty());
    let first = video.segments[0].start;
    let mpegts = (first * 90_000.0).round() as i64;
    let video_extinf = extinf(&title.join(format!("{}/playlist.m3u8", video.id)));
    // Title-time span of each video segment (ffprobe), in ms.
    let starts: Vec<f64> = video.segments.iter().map(|g| (g.start - first) * 1000.0).collect();
    let span = |i: usize| (starts[i], starts.get(i + 1).copied().unwrap_or(f64::MAX));
    let dir = title.join(id);
    assert_eq!(extinf(&dir.join("playlist.m3u8")), video_extinf, "{id}: EXTINF differ from the video's");
    for (i, _) in video.segments.iter().enumerate() {
        let doc = fs::read_to_string(dir.join(format!("seg-{:05}.vtt", i + 1))).unwrap();
        let mut lines = doc.lines();
        assert_eq!(lines.next(), Some("WEBVTT"), "{id} segment {}", i + 1);
        let map = lines.next().unwrap_or("");
        assert_eq!(map, format!("X-TIMESTAMP-MAP=MPEGTS:{mpegts},LOCAL:00:00:00.000"), "{id} segment {}: the video starts at {first} s", i + 1);
        let (from, to) = span(i);
        let expected: Vec<_> = want.iter().filter(|(a, b, _)| ms(a) < to && ms(b) > from).map(|(a, b, t)| (norm(a), norm(b), t.clone())).collect();
        let got: Vec<_> = cues(&doc).into_iter().map(|(a, b, t)| (norm(&a), norm(&b), t)).collect();
        assert_eq!(got, expected, "{id} segment {} ({from:.0}..{to:.0} ms)", i + 1);
    }
    let whole: Vec<_> = cues(&fs::read_to_string(dir.join("whole.vtt")).unwrap()).into_iter().map(|(a, b, t)| (norm(&a), norm(&b), t)).collect();
    let want: Vec<_> = want.iter().map(|(a, b, t)| (norm(a), norm(b), t.clone())).collect();
    assert_eq!(whole, want, "{id}: whole.vtt");
}

/// A cue time as milliseconds text, whatever form it was written in (`00:01.000`).
fn norm(t: &str) -> String {
    format!("{:.0}", ms(t))
}

#[test]
fn a_malformed_subtitle_file_is_refused_before_encoding_naming_its_line() {
    let s = Scratch::new("subtitles_bad");
    let bad = s.path("bad.srt");
    fs::write(&bad, "1\n00:00:01,000 --> 00:00:02,000\nfine\n\n2\n00:00:03,000 -> 00:00:04,000\nbroken arrow\n").unwrap();
    let out = run_vodpipe(&[
        arg("transcode"),
        media("grainy_16s.mp4").into(),
        arg("--out"),
        s.out().into(),
        arg("--subtitles"),
        format!("en={}", bad.display()).into(),
    ]);
    let stderr = strip_ansi(&String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "a malformed subtitle file was accepted:\n{stderr}");
    assert!(stderr.contains("bad.srt, line 6") && stderr.contains("expected a cue timing"), "the error does not name the line:\n{stderr}");
    assert!(!stderr.contains("packaging"), "it was refused after packaging started:\n{stderr}");
    let files = list_files(&s.out());
    assert!(files.is_empty(), "files left by a refused job: {files:?}");

    let out = run_vodpipe(&[arg("transcode"), media("grainy_16s.mp4").into(), arg("--out"), s.out().into(), arg("--subtitles"), arg("e1=x.srt")]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a language tag"), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The cues of subtitle stream `index` (0: the first) of `file` as ffprobe reads its packets,
/// on the title's clock (from the video's first frame), as WebVTT times: (start, end).
/// Empty samples (MP4 timed text fills gaps with them: two bytes, no text) are left out.
fn source_cue_times(file: &Path, index: usize) -> Vec<(String, String)> {
    let video_start = probe_json(file, &["-select_streams", "v:0", "-show_entries", "stream=start_time"])["streams"][0]["start_time"]
        .as_str()
        .and_then(|t| t.parse::<f64>().ok())
        .expect("the video's start_time");
    let packets = probe_json(file, &["-select_streams", &format!("s:{index}"), "-show_entries", "packet=pts_time,duration_time,size"]);
    let t = |p: &serde_json::Value, k: &str| p[k].as_str().and_then(|v| v.parse::<f64>().ok()).unwrap_or_else(|| panic!("{k} in {p}"));
    let vtt = |ms: f64| format!("{:02}:{:02}:{:02}.{:03}", (ms as u64) / 3_600_000, (ms as u64) / 60_000 % 60, (ms as u64) / 1000 % 60, (ms as u64) % 1000);
    packets["packets"]
        .as_array()
        .expect("packets")
        .iter()
        .filter(|p| p["size"].as_str().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) > 2)
        .map(|p| {
            let start = ((t(p, "pts_time") - video_start) * 1000.0).round();
            (vtt(start), vtt(start + (t(p, "duration_time") * 1000.0).round()))
        })
        .collect()
}

/// Packages a field fixture with the B-frame ladder (and `extra` arguments) and returns the
/// scratch, the title and its video rendition as ffprobe reads it.
fn package_field(name: &str, fixture: &str, segment_seconds: f64, extra: &[&str]) -> (Scratch, std::path::PathBuf, Report) {
    let s = Scratch::new(name);
    let ladder = s.path("ladder.toml");
    fs::write(&ladder, LADDER).unwrap();
    let input = field_media(fixture);
    let mut args = vec![arg("transcode"), input.clone().into(), arg("--out"), s.out().into(), arg("--video-id"), arg("title"), arg("--ladder"), ladder.into()];
    args.extend(extra.iter().map(|a| arg(a)));
    run_ok(&args);
    let title = s.out().join("title");
    let report = verify_title(&s, &input, &title, &Expect { segment_seconds, ..Expect::renditions(&["h264_240p"]) });
    (s, title, report)
}

/// The subtitle EXT-X-MEDIA of a title's master playlist: (URI, LANGUAGE, NAME).
fn hls_subtitles(title: &Path) -> Vec<(String, Option<String>, String)> {
    match m3u8_rs::parse_playlist_res(&fs::read(title.join("master.m3u8")).unwrap()) {
        Ok(m3u8_rs::Playlist::MasterPlaylist(m)) => m
            .alternatives
            .into_iter()
            .filter(|a| a.media_type == m3u8_rs::AlternativeMediaType::Subtitles)
            .map(|a| (a.uri.unwrap_or_default(), a.language, a.name))
            .collect(),
        other => panic!("master.m3u8: {other:?}"),
    }
}

/// Zips cue times with their expected texts.
fn with_texts(times: Vec<(String, String)>, texts: &[&str]) -> Vec<(String, String, String)> {
    assert_eq!(times.len(), texts.len(), "cues in the source: {times:?}");
    times.into_iter().zip(texts).map(|((a, b), t)| (a, b, (*t).to_owned())).collect()
}

#[test]
fn matroska_srt_and_ass_streams_become_webvtt_renditions_at_the_sources_times() {
    // ffmpeg's Matroska starts the video (and the subtitles) 21 ms late: the cues keep their
    // place against the picture. ASS override tags ({\i1}) are dropped (GStreamer's
    // ssaparse), its \N line breaks kept; SRT's <i> is kept and a bare & escaped.
    let (_s, title, report) = package_field("subtitles_mkv", "37_mkv_srt_ass.mkv", 4.0, &[]);
    let input = field_media("37_mkv_srt_ass.mkv");
    assert_eq!(
        hls_subtitles(&title),
        [
            ("subs_en/playlist.m3u8".to_owned(), Some("en".to_owned()), "English".to_owned()),
            ("subs_de/playlist.m3u8".to_owned(), Some("de".to_owned()), "Deutsch".to_owned()),
        ]
    );
    let video = &report.video["h264_240p"];
    let english = with_texts(source_cue_times(&input, 0), &["First cue", "<i>Second</i> cue &amp; more", "Across the 4 s boundary\non two lines"]);
    check_rendition(&title, "subs_en", &english, video);
    let german = with_texts(source_cue_times(&input, 1), &["Guten Tag", "Zweite Zeile\nzwei Zeilen"]);
    check_rendition(&title, "subs_de", &german, video);
    // And the times are the cue files' own (the container moved both video and cues).
    assert_eq!(english[0].0, "00:00:01.000");
    assert_eq!(german[1].0, "00:00:04.200");
}

#[test]
fn mp4_timed_text_becomes_a_webvtt_rendition_beside_sidecar_files_in_a_chunked_title() {
    // tx3g cannot overlap: ffmpeg cut the second cue where the third starts (3.900 s), and
    // filled the gaps with empty samples, which make no cue. Made in 2 s chunks: the text is
    // read by the audio-and-thumbnails part.
    let s = Scratch::new("subtitles_tx3g_sidecar");
    let sidecar = s.path("extra.fr.vtt");
    fs::write(&sidecar, "WEBVTT\n\n00:00:02.000 --> 00:00:03.000\nBonjour\n").unwrap();
    let sidecar_arg = format!("fr={}", sidecar.display());
    let (_s, title, report) = package_field(
        "subtitles_tx3g",
        "36_mov_text.mp4",
        2.0,
        &["--segment-duration", "2", "--chunk-duration", "2", "--jobs", "2", "--subtitles", &sidecar_arg],
    );
    let catalog: serde_json::Value = serde_json::from_slice(&fs::read(title.join("catalog.json")).unwrap()).unwrap();
    assert!(catalog["parts"].as_array().is_some_and(|p| p.len() > 2), "not made in chunks: {}", catalog["parts"]);
    assert_eq!(
        hls_subtitles(&title),
        [
            ("subs_en/playlist.m3u8".to_owned(), Some("en".to_owned()), "English".to_owned()),
            ("subs_fr/playlist.m3u8".to_owned(), Some("fr".to_owned()), "Français".to_owned()),
        ]
    );
    let video = &report.video["h264_240p"];
    let english = with_texts(source_cue_times(&field_media("36_mov_text.mp4"), 0), &["First cue", "Second cue &amp; more", "Across the 4 s boundary\non two lines"]);
    assert_eq!(english[1].1, "00:00:03.900");
    check_rendition(&title, "subs_en", &english, video);
    check_rendition(&title, "subs_fr", &[("00:00:02.000".into(), "00:00:03.000".into(), "Bonjour".into())], video);
}
