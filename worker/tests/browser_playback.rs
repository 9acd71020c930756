//! Our HLS and DASH output in real browser players: Debian's Chromium, headless, running
//! npm's hls.js (master.m3u8), dash.js (manifest.mpd) and Shaka Player (both), driven by
//! `scripts/browser/play.mjs`. A 16 s 720p title with stereo AAC, made with the default
//! ladder (and again with the AV1 ladder), must play in each of the four without an error from the player or the page's
//! console; show the duration catalog.json gives; keep playing after seeks to 10%, 50%
//! and 90% of it and reach the end; list the ladder's renditions and every audio
//! rendition (with its language when the catalog has one), each of which keeps playing
//! when switched to, starting with the default one; and, where the player reads DASH
//! thumbnails (dash.js, Shaka on the MPD), find at three times the sprite sheet and tile
//! that thumbs/thumbs.vtt gives. A second title, a film with dubs (English, German,
//! French stereo and French 5.1), checks the languages and the 5.1 in each player. A
//! third, with sidecar subtitles (an English SRT, a German WebVTT) on media that starts
//! after time 0, checks that each player lists both and shows the right cue at chosen
//! times: inside cues, between them, and both sides of a segment boundary.
//!
//! Chromium, Node and the players come from scripts/setup.sh. Without them this test
//! fails, saying so; it never skips.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use common::*;

const CHROMIUM: &str = "/usr/bin/chromium";
/// play.mjs gives each of its four sessions 45 s and gives up on itself after 4 min; this
/// is only for a harness that hangs past its own limits. A passing run takes ~15 s.
const HARNESS_DEADLINE: Duration = Duration::from_secs(300);
/// What a player may report for the title's duration against catalog.json's.
const DURATION_TOLERANCE: f64 = 0.1;
/// How far from where it was sent a seek may land (players seek exactly; the slack covers
/// the few frames played between the `seeked` event and the harness reading the clock).
const SEEK_TOLERANCE: f64 = 0.5;

/// Every session the harness runs: (session, manifest, whether it must give thumbnails).
/// hls.js has no thumbnail API at all, and our HLS carries no image playlist
/// (EXT-X-IMAGE-STREAM-INF) for Shaka to read, so only the two DASH sessions are asked.
const SESSIONS: &[(&str, &str, bool)] = &[
    ("hls.js/hls", "master.m3u8", false),
    ("dash.js/dash", "manifest.mpd", true),
    ("shaka/hls", "master.m3u8", false),
    ("shaka/dash", "manifest.mpd", true),
];

#[test]
fn hls_js_dash_js_and_shaka_play_our_title_in_chromium() {
    play_in_browsers("browser_playback", &media("grainy_16s.mp4"), None);
}

/// The same title made with the AV1 ladder (SVT-AV1, `av01` CODECS, 720p and 360p of this
/// source): the same checks in every player.
#[test]
fn the_players_play_an_av1_title() {
    play_in_browsers("browser_av1", &media("grainy_16s.mp4"), Some(&repo_root().join("ladders/av1.toml")));
}

/// A film with dubs: English and German stereo, French stereo and 5.1. Every player
/// lists the four, starts with English (the default), and plays each once switched to.
#[test]
fn the_players_list_and_switch_every_language_and_the_5_1() {
    play_in_browsers("browser_languages", &field_media("34_three_languages.mkv"), None);
}

/// Sidecar subtitles on a title whose media does not start at presentation time 0: with
/// B-frames in a rung, every track is delayed by the reordering (see
/// `manifest::cmaf::delay_presentation`), and the cues, written in the title's time, must
/// be moved onto the media (HLS: `X-TIMESTAMP-MAP`; DASH: the Period, whose
/// presentationTimeOffset takes the delay away). Each player lists English and German and,
/// with each selected and paused at every probe time, shows exactly the file's cue there,
/// markup gone, and nothing between cues; its own list of cues starts where the file's do,
/// counted from the title's first frame.
#[test]
fn the_players_show_sidecar_subtitles_at_the_right_times() {
    require_browser_tools();
    let s = Scratch::new("browser_subtitles");
    let input = s.path("bframes.mp4");
    make_bframe_source(&input, SUBTITLED_SECONDS);
    let ladder = s.path("ladder.toml");
    let with_bframes = FAST_LADDER.replacen("height = 360\n", "height = 360\nbframes = 2\n", 1);
    assert_ne!(
        with_bframes, FAST_LADDER,
        "FAST_LADDER has no 360p rung to give B-frames"
    );
    fs::write(&ladder, with_bframes.replace("{segment}", "4.0")).unwrap();
    let mut args = vec![
        arg("transcode"),
        input.clone().into(),
        arg("--out"),
        s.out().into(),
        arg("--ladder"),
        ladder.into(),
    ];
    for (i, (language, file)) in SUBTITLE_FILES.iter().enumerate() {
        let path = s.path(file);
        let text = if file.ends_with(".srt") {
            srt(i)
        } else {
            webvtt(i)
        };
        fs::write(&path, text).unwrap();
        args.extend([
            arg("--subtitles"),
            format!("{language}={}", path.display()).into(),
        ]);
    }
    run_ok(&args);
    let title = s.out().join("bframes");

    // ffprobe's view of where the media starts: later than 0, or this tests nothing new.
    let media_start = probe_rendition(&s, &title, "h264_360p").segments[0].start;
    assert!(
        media_start > 0.0,
        "the title's video starts at {media_start} s: no B-frame delay to map the cues across"
    );
    eprintln!("the title's media starts at {media_start:.6} s");

    let probes = PROBES
        .iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let (report, stdout) = run_players(&s, &title, &["--cue-times".to_owned(), probes]);
    let mut problems = Vec::new();
    for &(name, manifest, _) in SESSIONS {
        let Some(session) = find_session(&report, name, manifest, &mut problems) else {
            continue;
        };
        eprintln!("{}", subtitle_summary(session));
        let errors = session["errors"].as_array().into_iter().flatten();
        for e in errors.filter(|e| hls_js_expected(e)) {
            eprintln!("    tolerated: {} {}", e["message"], e["detail"]);
        }
        let mut p = Problems {
            session: name,
            list: &mut problems,
        };
        check_ran(&mut p, session, &hls_js_expected);
        check_subtitles(&mut p, session);
    }
    fail_on(&s, &stdout, &problems);
}

/// How far a player's cue may be from the file's, counted from the title's first frame as
/// the element's buffered range begins: the 90 kHz map and the microseconds the harness
/// prints are far finer, but Shaka's DASH audio starts 1 ms in (its buffered range with
/// it). Far below the 67 ms B-frame delay that a cue put on the wrong clock would be off by.
const CUE_TIME_TOLERANCE: f64 = 0.005;

/// How long the subtitled title is: three 4 s segments.
const SUBTITLED_SECONDS: u32 = 12;

/// The sidecar files, in the order of each cue's texts in [`SUBTITLES`]: (language, file).
const SUBTITLE_FILES: [(&str, &str); 2] = [("en", "en.srt"), ("de", "de.vtt")];

/// (start ms, end ms, [English, German]) in the title's time. The second cue crosses the
/// segment boundary at 4 s; the third is in italics; the last has two lines.
const SUBTITLES: &[(u64, u64, [&str; 2])] = &[
    (500, 2_000, ["The first cue", "Der erste Untertitel"]),
    (3_600, 4_400, ["Across the boundary", "Über die Grenze"]),
    (6_000, 7_500, ["<i>In italics</i>", "<i>Kursiv</i>"]),
    (9_000, 10_500, ["Two lines\nof text", "Zwei Zeilen\nText"]),
];

/// Where the players are asked, in seconds of the title: in the first cue, between cues,
/// in the crossing cue before and after the boundary, in the italic and two-line cues, and
/// after the last. Each is at least 0.2 s from a cue's edge and from the boundary, so the
/// answer is the same on the title's clock and on the HLS players', where the title's first
/// frame comes two frames (67 ms) after 0 (see [`check_subtitles`]).
const PROBES: &[f64] = &[1.2, 2.8, 3.8, 4.2, 5.2, 6.75, 8.4, 9.75, 11.0];

/// A cue time as `hh:mm:ss` and milliseconds after `separator` (`,` in SRT, `.` in WebVTT).
fn cue_clock(ms: u64, separator: char) -> String {
    let s = ms / 1000;
    format!(
        "{:02}:{:02}:{:02}{separator}{:03}",
        s / 3600,
        s / 60 % 60,
        s % 60,
        ms % 1000
    )
}

/// [`SUBTITLES`]' texts number `which` as SRT: numbered cues, CRLF as SRT files from the
/// wild have.
fn srt(which: usize) -> String {
    let mut out = String::new();
    for (n, (start, end, texts)) in SUBTITLES.iter().enumerate() {
        let text = texts[which].replace('\n', "\r\n");
        out += &format!(
            "{}\r\n{} --> {}\r\n{text}\r\n\r\n",
            n + 1,
            cue_clock(*start, ','),
            cue_clock(*end, ',')
        );
    }
    out
}

/// [`SUBTITLES`]' texts number `which` as WebVTT.
fn webvtt(which: usize) -> String {
    let mut out = String::from("WEBVTT\n");
    for (start, end, texts) in SUBTITLES {
        out += &format!(
            "\n{} --> {}\n{}\n",
            cue_clock(*start, '.'),
            cue_clock(*end, '.'),
            texts[which]
        );
    }
    out
}

/// A cue's text as a page shows it: without its tags.
fn without_markup(text: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// What hls.js reports as non-fatal errors here that are no fault of the title's subtitles:
/// - the gap at 0: the media start at the B-frame delay (the first frame at 0.067 s, HLS
///   having no presentationTimeOffset to take it away), so hls.js jumps a gap at 0 and says
///   so (`bufferSeekOverHole`, "seeking from 0 to ..."). Shaka jumps it silently; the DASH
///   players start at 0. Playback goes on.
/// - `aborted` for a subtitle segment: hls.js gave up its own request because the harness
///   switched the track or seeked while it loaded. The cue checks say if a cue went missing.
fn hls_js_expected(e: &Value) -> bool {
    let message = e["message"].as_str().unwrap_or("");
    let url = e["detail"].as_str().unwrap_or("");
    e["source"] == "hls.js"
        && e["fatal"] == false
        && ((message.contains("bufferSeekOverHole") && message.contains("seeking from 0 to"))
            || (message.starts_with("networkError: aborted") && url.contains("/subs_")))
}

/// Both languages listed as subtitles; each, once selected, active and shown, with at every
/// probe time exactly the cues [`SUBTITLES`] has there (none between cues); and the
/// player's own cues at the file's times counted from the title's first frame. That frame
/// is `media_start` on the element's clock: 0 in the DASH players, and in the HLS players
/// where the media has it (hls.js and Shaka keep HLS media times), so there every cue is
/// that much later than the file says and stays with the picture.
fn check_subtitles(p: &mut Problems, session: &Value) {
    let listed = session["text_tracks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let switches = session["text_switches"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let media_start = session["media_start"].as_f64();
    p.check(media_start.is_some(), || {
        format!(
            "reported no media start (nothing buffered?): {}",
            session["media_start"]
        )
    });
    let origin = media_start.unwrap_or(0.0);
    for (which, (language, file)) in SUBTITLE_FILES.iter().enumerate() {
        let is_ours = |t: &&Value| {
            t["language"]
                .as_str()
                .is_some_and(|l| l.eq_ignore_ascii_case(language))
        };
        let Some(track) = listed.iter().find(is_ours) else {
            p.check(false, || {
                format!("lists no subtitle track in {language} ({file}): {listed:?}")
            });
            continue;
        };
        // hls.js says "subtitles" (TYPE=SUBTITLES), dash.js "subtitles", Shaka "subtitle"
        // (the DASH Role).
        p.check(
            track["kind"]
                .as_str()
                .is_some_and(|k| k.starts_with("subtitle")),
            || {
                format!(
                    "lists {language} as {}, not as subtitles: {track}",
                    track["kind"]
                )
            },
        );
        let Some(sw) = switches.iter().find(is_ours) else {
            p.check(false, || format!("never selected the {language} track"));
            continue;
        };
        p.check(sw["error"].is_null(), || {
            format!("{language}: the harness failed: {}", sw["error"])
        });
        p.check(sw["active"] == true && sw["active_in_list"] == true, || {
            format!("{language} not active after selecting it: {sw}")
        });
        p.check(
            sw["showing"].as_array().is_some_and(|s| s.len() == 1),
            || {
                format!(
                    "{language}: the page shows {} tracks, not one",
                    sw["showing"]
                )
            },
        );

        let samples = sw["samples"].as_array().cloned().unwrap_or_default();
        p.check(samples.len() == PROBES.len(), || {
            format!(
                "{language}: {} probe times reported, {} asked",
                samples.len(),
                PROBES.len()
            )
        });
        for (sample, &time) in samples.iter().zip(PROBES) {
            let at = (time * 1000.0).round() as u64;
            let want: Vec<String> = SUBTITLES
                .iter()
                .filter(|(start, end, _)| *start <= at && at < *end)
                .map(|(_, _, texts)| without_markup(texts[which]))
                .collect();
            let got: Vec<String> = sample["cues"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| c.as_str().unwrap_or("").to_owned())
                .collect();
            p.check(sample["time"].as_f64() == Some(time), || {
                format!("{language}: asked at {time} s, the harness reports {sample}")
            });
            p.check(sample["seeked"] == true, || {
                format!("{language}: no `seeked` after seeking to {time} s: {sample}")
            });
            p.check(got == want, || {
                format!(
                    "{language} at {time} s (element at {} s): shows {got:?}, {file} has {want:?}; the track's cues there: {}, other tracks: {}",
                    sample["current_time"], sample["spanning"], sample["other_tracks"]
                )
            });
        }

        // The player's list, against the file's from the title's first frame, to within
        // CUE_TIME_TOLERANCE.
        let cues = sw["cues"].as_array().cloned().unwrap_or_default();
        let got: Vec<(f64, f64, String)> = cues
            .iter()
            .map(|c| {
                let t = |k: &str| c[k].as_f64().unwrap_or(f64::NAN) - origin;
                (
                    t("start"),
                    t("end"),
                    c["text"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect();
        let want: Vec<(f64, f64, String)> = SUBTITLES
            .iter()
            .map(|(start, end, texts)| {
                (
                    *start as f64 / 1000.0,
                    *end as f64 / 1000.0,
                    without_markup(texts[which]),
                )
            })
            .collect();
        let same = got.len() == want.len()
            && got.iter().zip(&want).all(|(g, w)| {
                (g.0 - w.0).abs() <= CUE_TIME_TOLERANCE
                    && (g.1 - w.1).abs() <= CUE_TIME_TOLERANCE
                    && g.2 == w.2
            });
        p.check(same, || {
            format!(
                "{language}: the player's cues, from its first frame at {origin} s, are {got:?}; {file} has {want:?}"
            )
        });
    }
}

/// For --nocapture, per session: the subtitle tracks, and what each showed where.
fn subtitle_summary(session: &Value) -> String {
    let tracks = session["text_tracks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| format!("{}/{}/{}", t["language"], t["label"], t["kind"]))
        .collect::<Vec<_>>()
        .join(" ");
    let shown = session["text_switches"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|sw| {
            let samples = sw["samples"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|x| format!("{}s:{}", x["time"], x["cues"]))
                .collect::<Vec<_>>()
                .join(" ");
            let cues = sw["cues"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| format!("{}-{}", c["start"], c["end"]))
                .collect::<Vec<_>>()
                .join(" ");
            format!(
                "\n    {}{}: {samples}\n      cues at {cues}",
                sw["language"],
                if sw["shown_by_harness"] == true {
                    " (shown by the harness)"
                } else {
                    ""
                }
            )
        })
        .collect::<String>();
    format!(
        "{} ({}): {} in {} ms, media starts at {}, subtitles [{tracks}], {} error(s){shown}",
        session["session"].as_str().unwrap_or("?"),
        session["library"].as_str().unwrap_or("?"),
        if session["finished"] == true {
            "finished"
        } else {
            "DID NOT FINISH"
        },
        session["elapsed_ms"],
        session["media_start"],
        session["errors"].as_array().map_or(0, |e| e.len()),
    )
}

/// `seconds` of 640x360 testsrc2 at 30 fps in H.264 with B-frames (3 between references),
/// and a tone in AAC: an upload as phones and editors make them.
fn make_bframe_source(out: &Path, seconds: u32) {
    let status = Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
        ])
        .arg(format!("testsrc2=size=640x360:rate=30:duration={seconds}"))
        .args(["-f", "lavfi", "-i"])
        .arg(format!(
            "sine=frequency=660:sample_rate=48000:duration={seconds}"
        ))
        .args([
            "-c:v", "libx264", "-preset", "veryfast", "-bf", "3", "-g", "60",
        ])
        .args(["-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k"])
        .arg(out)
        .status()
        .expect("ffmpeg not found: run scripts/setup.sh");
    assert!(status.success(), "ffmpeg could not make {}", out.display());
}

/// Packages `input` with the default ladder and has the four sessions play it.
fn play_in_browsers(case: &str, input: &Path, ladder: Option<&Path>) {
    require_browser_tools();
    let s = Scratch::new(case);
    let mut args = vec![arg("transcode"), input.into(), arg("--out"), s.out().into()];
    if let Some(ladder) = ladder {
        args.extend([arg("--ladder"), ladder.into()]);
    }
    run_ok(&args);
    let title = s.out().join(input.file_stem().unwrap());
    let catalog: Value =
        serde_json::from_slice(&fs::read(title.join("catalog.json")).unwrap()).unwrap();
    let cues = thumbnail_cues(&title);

    let (report, stdout) = run_players(&s, &title, &[]);
    let mut problems = Vec::new();
    for &(name, manifest, thumbnails) in SESSIONS {
        let Some(session) = find_session(&report, name, manifest, &mut problems) else {
            continue;
        };
        eprintln!("{}", summary(session));
        let mut p = Problems {
            session: name,
            list: &mut problems,
        };
        check_session(&mut p, session, &catalog);
        if thumbnails {
            check_thumbnails(&mut p, session, &cues);
        }
    }
    fail_on(&s, &stdout, &problems);
}

/// Runs play.mjs on `title` with `extra` arguments: its report, and the report as printed.
fn run_players(s: &Scratch, title: &Path, extra: &[String]) -> (Value, Vec<u8>) {
    let started = Instant::now();
    let mut cmd = Command::new("node");
    cmd.arg(repo_root().join("scripts/browser/play.mjs"))
        .arg(title)
        .args(extra);
    let out = run_until(&s.dir, cmd, HARNESS_DEADLINE, "play.mjs").unwrap_or_else(|stderr| {
        panic!(
            "play.mjs still running after {HARNESS_DEADLINE:?}; killed. stderr:\n{}",
            tail(&stderr, 30)
        )
    });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "play.mjs could not run ({}):\n{}",
        out.status,
        tail(&stderr, 30)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "play.mjs printed no JSON ({e}):\n{}",
            tail(&String::from_utf8_lossy(&out.stdout), 20)
        )
    });
    eprintln!(
        "players {:.1} s; {}",
        started.elapsed().as_secs_f64(),
        report["harness"]
    );
    (report, out.stdout)
}

/// The report's entry for session `name`, which must have played `manifest`; a problem
/// when the harness has none.
fn find_session<'r>(
    report: &'r Value,
    name: &str,
    manifest: &str,
    problems: &mut Vec<String>,
) -> Option<&'r Value> {
    let found = report["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["session"] == name);
    match found {
        Some(session) => assert_eq!(
            session["manifest"], manifest,
            "{name}: played the wrong manifest"
        ),
        None => problems.push(format!("{name}: the harness reported no such session")),
    }
    found
}

/// Panics with every problem at once, keeping the harness's report with the title.
fn fail_on(s: &Scratch, stdout: &[u8], problems: &[String]) {
    if problems.is_empty() {
        return;
    }
    // Kept with the title (Scratch keeps a failed test's folder) for a closer look.
    fs::write(s.path("report.json"), stdout).unwrap();
    panic!(
        "{} problem(s) in the browser players (the whole report: {}):\n  {}",
        problems.len(),
        s.path("report.json").display(),
        problems.join("\n  ")
    );
}

/// Fails, in one line, when scripts/setup.sh has not been run.
fn require_browser_tools() {
    let mut missing = Vec::new();
    if !Path::new(CHROMIUM).exists() {
        missing.push(CHROMIUM.to_owned());
    }
    if !Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        missing.push("node".to_owned());
    }
    let libs = repo_root().join("scripts/browser/node_modules");
    for pkg in ["playwright-core", "hls.js", "dashjs", "shaka-player"] {
        if !libs.join(pkg).join("package.json").exists() {
            missing.push(format!("scripts/browser/node_modules/{pkg}"));
        }
    }
    assert!(
        missing.is_empty(),
        "browser playback needs {}: run scripts/setup.sh",
        missing.join(", ")
    );
}

/// Collects every problem instead of stopping at the first, so that one run shows all
/// that the four players disliked.
struct Problems<'a> {
    session: &'a str,
    list: &'a mut Vec<String>,
}

impl Problems<'_> {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.list.push(format!("{}: {}", self.session, what()));
        }
    }
}

/// The session ran to its end within its time, with no error from the player, the page's
/// console or the harness (but those `tolerated` says may be), and every file it asked for
/// was there.
fn check_ran(p: &mut Problems, session: &Value, tolerated: &dyn Fn(&Value) -> bool) {
    p.check(session["timed_out"] != true, || "timed out".into());
    p.check(session["finished"] == true, || {
        format!(
            "did not finish; last step: {}",
            session["steps"]
                .as_array()
                .and_then(|s| s.last())
                .unwrap_or(&Value::Null)
        )
    });
    for e in session["errors"].as_array().into_iter().flatten() {
        p.check(tolerated(e), || {
            format!(
                "{} error{}: {} {}",
                e["source"].as_str().unwrap_or("?"),
                if e["fatal"] == true { " (fatal)" } else { "" },
                e["message"].as_str().unwrap_or(""),
                e["detail"].as_str().unwrap_or("")
            )
        });
    }
    // A file the manifests name that the server did not have.
    for f in session["http_failures"].as_array().into_iter().flatten() {
        p.check(false, || format!("HTTP {} for {}", f["status"], f["path"]));
    }
}

fn check_session(p: &mut Problems, session: &Value, catalog: &Value) {
    check_ran(p, session, &|_| false);

    let want = catalog["duration_seconds"]
        .as_f64()
        .expect("catalog.json duration_seconds");
    for key in ["duration", "media_duration"] {
        let got = session[key].as_f64();
        p.check(
            got.is_some_and(|d| (d - want).abs() <= DURATION_TOLERANCE),
            || format!("{key} {got:?}, catalog.json says {want} s"),
        );
    }

    let renditions = catalog["renditions"]
        .as_array()
        .expect("catalog.json renditions");
    let heights = |v: &mut dyn Iterator<Item = &Value>| {
        v.filter_map(|r| r["height"].as_u64())
            .collect::<BTreeSet<_>>()
    };
    let ours = heights(&mut renditions.iter().filter(|r| r["kind"] == "video"));
    let listed = heights(&mut session["video_renditions"].as_array().into_iter().flatten());
    p.check(ours == listed, || {
        format!("lists video heights {listed:?}, the title has {ours:?}")
    });

    let playback = &session["playback"];
    p.check(playback["start"]["advanced"] == true, || {
        format!("playback did not start: {}", playback["start"])
    });
    let seeks = playback["seeks"].as_array().cloned().unwrap_or_default();
    p.check(seeks.len() == 3, || {
        format!("{} seeks reported, 3 made", seeks.len())
    });
    for seek in &seeks {
        let (target, landed) = (
            seek["target"].as_f64().unwrap_or(f64::NAN),
            seek["landed_at"].as_f64().unwrap_or(f64::NAN),
        );
        p.check(seek["seeked"] == true, || {
            format!("no `seeked` event after seeking to {target} s")
        });
        p.check((landed - target).abs() <= SEEK_TOLERANCE, || {
            format!("seek to {target} s landed at {landed} s")
        });
        p.check(
            seek["advanced"] == true
                && (seek["ready_state"].as_u64().unwrap_or(0) >= 3 || seek["ended"] == true),
            || format!("playback did not move on after seeking to {target} s: {seek}"),
        );
    }
    let end = &playback["end"];
    p.check(end["reached"] == true, || {
        format!("did not reach the end: {end}")
    });

    check_audio(p, session, renditions);
}

/// Every audio rendition in catalog.json is listed (with its language when the catalog
/// gives one, and its channel count when the player's API tells it), and every track the
/// player lists is active and plays once switched to.
fn check_audio(p: &mut Problems, session: &Value, renditions: &[Value]) {
    let tracks = session["audio_tracks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let ours: Vec<&Value> = renditions.iter().filter(|r| r["kind"] == "audio").collect();
    p.check(tracks.len() >= ours.len(), || {
        format!(
            "lists {} audio track(s), the title has {}",
            tracks.len(),
            ours.len()
        )
    });
    let mut taken = BTreeSet::new();
    for r in &ours {
        let language = r["language"].as_str();
        // Same language, and the same channel count where the player tells it (French
        // comes in stereo and in 5.1).
        let found = tracks.iter().enumerate().find(|(i, t)| {
            !taken.contains(i)
                && language.is_none_or(|l| {
                    t["language"]
                        .as_str()
                        .is_some_and(|tl| tl.eq_ignore_ascii_case(l))
                })
                && t["channels"].as_u64().is_none_or(|c| Some(c) == r["channels"].as_u64())
        });
        let Some((i, track)) = found else {
            p.check(false, || {
                format!(
                    "lists no audio track for {} (language {language:?}): {tracks:?}",
                    r["id"]
                )
            });
            continue;
        };
        taken.insert(i);
        // The first stream's stereo is the default: what the player starts with.
        if r["id"] == "audio" {
            p.check(track["active"] == true, || format!("starts with another audio track than the default {track}: {tracks:?}"));
        }
        if let (Some(got), Some(want)) = (track["channels"].as_u64(), r["channels"].as_u64()) {
            p.check(got == want, || {
                format!("audio {}: {got} channels, the title has {want}", r["id"])
            });
        }
    }
    let switches = session["audio_switches"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    p.check(switches.len() == tracks.len(), || {
        format!(
            "switched to {} of its {} audio tracks",
            switches.len(),
            tracks.len()
        )
    });
    for sw in &switches {
        let which = format!("{} / {}", sw["language"], sw["label"]);
        p.check(sw["active"] == true && sw["active_in_list"] == true, || {
            format!("audio track {which} not active after selecting it: {sw}")
        });
        p.check(sw["advanced"] == true, || {
            format!(
                "playback did not move on after switching audio to {which}: {}",
                sw["playback"]
            )
        });
    }
}

/// At each time the player was asked about, its thumbnail is thumbs.vtt's cue for it.
fn check_thumbnails(p: &mut Problems, session: &Value, cues: &[Cue]) {
    let th = &session["thumbnails"];
    p.check(th["supported"] == true, || {
        format!("gave no thumbnails: {}", th["reason"])
    });
    let samples = th["samples"].as_array().cloned().unwrap_or_default();
    p.check(samples.len() == 3 || th["supported"] != true, || {
        format!("{} thumbnails reported, 3 asked for", samples.len())
    });
    for sample in &samples {
        let time = sample["time"].as_f64().unwrap_or(f64::NAN);
        let Some(cue) = cues.iter().find(|c| c.start <= time && time < c.end) else {
            p.check(false, || format!("thumbs.vtt has no cue at {time} s"));
            continue;
        };
        let rect = ["x", "y", "width", "height"].map(|k| sample[k].as_u64());
        let got = (sample["path"].as_str(), rect);
        let want = (Some(cue.sheet.as_str()), cue.xywh.map(Some));
        p.check(got == want, || {
            format!(
                "thumbnail at {time} s is {got:?} (url {}), thumbs.vtt says {want:?}",
                sample["url"]
            )
        });
    }
}

/// One thumbs.vtt cue: its span and the sheet (relative to the title) and tile it shows.
struct Cue {
    start: f64,
    end: f64,
    sheet: String,
    xywh: [u64; 4],
}

fn thumbnail_cues(title: &Path) -> Vec<Cue> {
    let vtt = fs::read_to_string(title.join("thumbs/thumbs.vtt")).unwrap();
    let lines: Vec<&str> = vtt.lines().collect();
    let mut cues = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some((a, b)) = line.split_once("-->") else {
            continue;
        };
        let target = lines.get(i + 1).map(|l| l.trim()).unwrap_or_default();
        let (file, frag) = target
            .split_once("#xywh=")
            .unwrap_or_else(|| panic!("thumbs.vtt cue target {target:?}"));
        let xywh: Vec<u64> = frag.split(',').map(|n| n.parse().unwrap()).collect();
        cues.push(Cue {
            start: vtt_time(a.trim()),
            end: vtt_time(b.split_whitespace().next().unwrap_or_default()),
            // Cue targets are relative to thumbs.vtt, which sits in thumbs/.
            sheet: format!("thumbs/{file}"),
            xywh: xywh
                .try_into()
                .unwrap_or_else(|v| panic!("thumbs.vtt #xywh={v:?}")),
        });
    }
    assert!(!cues.is_empty(), "thumbs.vtt has no cues");
    cues
}

/// One line per session for --nocapture: what the player saw.
fn summary(session: &Value) -> String {
    let list = |key: &str, f: &dyn Fn(&Value) -> String| {
        session[key]
            .as_array()
            .into_iter()
            .flatten()
            .map(f)
            .collect::<Vec<_>>()
            .join(" ")
    };
    format!(
        "{} ({}): {} in {} ms, duration {}, video [{}], audio [{}], active video {}, seeks [{}], end {}, thumbnails [{}], {} error(s)",
        session["session"].as_str().unwrap_or("?"),
        session["library"].as_str().unwrap_or("?"),
        if session["finished"] == true {
            "finished"
        } else {
            "DID NOT FINISH"
        },
        session["elapsed_ms"],
        session["duration"],
        list("video_renditions", &|v| format!(
            "{}p@{}",
            v["height"], v["bandwidth"]
        )),
        list("audio_tracks", &|a| format!(
            "{}/{}/{}ch{}{}",
            a["language"],
            a["label"],
            a["channels"],
            if a["default"] == true { "/default" } else { "" },
            if a["active"] == true { "/active" } else { "" }
        )),
        session["active_video"],
        session["playback"]["seeks"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|x| format!("{}->{}", x["target"], x["reached"]))
            .collect::<Vec<_>>()
            .join(" "),
        session["playback"]["end"]["current_time"],
        session["thumbnails"]["samples"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| format!(
                "{}s:{}#{},{},{},{}",
                t["time"],
                t["path"].as_str().unwrap_or("?"),
                t["x"],
                t["y"],
                t["width"],
                t["height"]
            ))
            .collect::<Vec<_>>()
            .join(" "),
        session["errors"].as_array().map_or(0, |e| e.len()),
    )
}
