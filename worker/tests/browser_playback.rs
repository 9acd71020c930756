//! Our HLS and DASH output in real browser players: Debian's Chromium, headless, running
//! npm's hls.js (master.m3u8), dash.js (manifest.mpd) and Shaka Player (both), driven by
//! `scripts/browser/play.mjs`. A 16 s 720p title with stereo AAC, made with the default
//! ladder, must play in each of the four without an error from the player or the page's
//! console; show the duration catalog.json gives; keep playing after seeks to 10%, 50%
//! and 90% of it and reach the end; list the ladder's renditions and every audio
//! rendition (with its language when the catalog has one), each of which keeps playing
//! when switched to, starting with the default one; and, where the player reads DASH
//! thumbnails (dash.js, Shaka on the MPD), find at three times the sprite sheet and tile
//! that thumbs/thumbs.vtt gives. A second title, a film with dubs (English, German,
//! French stereo and French 5.1), checks the languages and the 5.1 in each player.
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
    play_in_browsers("browser_playback", &media("grainy_16s.mp4"));
}

/// A film with dubs: English and German stereo, French stereo and 5.1. Every player
/// lists the four, starts with English (the default), and plays each once switched to.
#[test]
fn the_players_list_and_switch_every_language_and_the_5_1() {
    play_in_browsers("browser_languages", &field_fixture("34_three_languages.mkv"));
}

/// A fixture of fixtures/make-field-media.sh (made if missing).
fn field_fixture(name: &str) -> std::path::PathBuf {
    static MADE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    if let Err(e) = MADE.get_or_init(|| run_fixture_script("make-field-media.sh")) {
        panic!("{e}");
    }
    repo_root().join("fixtures/field").join(name)
}

/// Packages `input` with the default ladder and has the four sessions play it.
fn play_in_browsers(case: &str, input: &Path) {
    require_browser_tools();
    let s = Scratch::new(case);
    let started = Instant::now();
    run_ok(&[
        arg("transcode"),
        input.into(),
        arg("--out"),
        s.out().into(),
    ]);
    let title = s.out().join(input.file_stem().unwrap());
    let catalog: Value =
        serde_json::from_slice(&fs::read(title.join("catalog.json")).unwrap()).unwrap();
    let cues = thumbnail_cues(&title);

    let harness_started = Instant::now();
    let mut cmd = Command::new("node");
    cmd.arg(repo_root().join("scripts/browser/play.mjs"))
        .arg(&title);
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
        "transcode {:.1} s, players {:.1} s; {}",
        (harness_started - started).as_secs_f64(),
        harness_started.elapsed().as_secs_f64(),
        report["harness"]
    );

    let mut problems = Vec::new();
    for &(name, manifest, thumbnails) in SESSIONS {
        let Some(session) = report["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["session"] == name)
        else {
            problems.push(format!("{name}: the harness reported no such session"));
            continue;
        };
        eprintln!("{}", summary(session));
        assert_eq!(
            session["manifest"], manifest,
            "{name}: played the wrong manifest"
        );
        let mut p = Problems {
            session: name,
            list: &mut problems,
        };
        check_session(&mut p, session, &catalog);
        if thumbnails {
            check_thumbnails(&mut p, session, &cues);
        }
    }
    if !problems.is_empty() {
        // Kept with the title (Scratch keeps a failed test's folder) for a closer look.
        fs::write(s.path("report.json"), &out.stdout).unwrap();
        panic!(
            "{} problem(s) in the browser players (the whole report: {}):\n  {}",
            problems.len(),
            s.path("report.json").display(),
            problems.join("\n  ")
        );
    }
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

fn check_session(p: &mut Problems, session: &Value, catalog: &Value) {
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
        p.check(false, || {
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
