//! `vodpipe verify DIR`: a title as made passes; each kind of damage a store or a hand
//! can do to a copy of it is caught and named: a flipped byte in a segment, a deleted
//! segment, an edited media playlist, a segment dropped from a playlist, an edited MPD
//! timeline, a master playlist naming a playlist that is not there, a catalog whose digest
//! was edited (its fingerprint no longer recomputes). Every title the other suites make is
//! also verified (`common::verify_title`, and the queue suite on S3).

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;

/// Copies a title folder (files only, one level of folders deep, as titles are laid out).
fn copy_title(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            copy_title(&path, &to.join(entry.file_name()));
        } else {
            fs::copy(&path, to.join(entry.file_name())).unwrap();
        }
    }
}

/// `vodpipe verify` on `title`: (success, everything it printed).
fn verify(title: &Path) -> (bool, String) {
    let out = run_vodpipe(&[arg("verify"), title.into()]);
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// A copy of `title` damaged by `damage`, which must fail verify with `expect` in its
/// report (and name the object).
fn assert_caught(s: &Scratch, title: &Path, name: &str, damage: impl FnOnce(&Path), expect: &[&str]) {
    let copy: PathBuf = s.path(name);
    copy_title(title, &copy);
    damage(&copy);
    let (ok, report) = verify(&copy);
    assert!(!ok, "{name}: verify passed a damaged title:\n{report}");
    for e in expect {
        assert!(report.contains(e), "{name}: the report does not say {e:?}:\n{report}");
    }
    assert!(report.contains("problem(s)"), "{name}: no summary line:\n{report}");
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} has no {from:?}:\n{text}", path.display());
    fs::write(path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn verify_passes_a_whole_title_and_names_each_kind_of_damage() {
    let (s, _input, title) = transcode_fast("verify", "hd_16x9_audio.mp4", 2.0);
    let (ok, report) = verify(&title);
    assert!(ok, "a title as made fails verify:\n{report}");
    assert!(report.contains(": ok: ") && report.contains("fingerprint"), "{report}");
    let rung = fs::read_dir(&title)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("h264_"))
        .expect("a video rendition");

    assert_caught(
        &s,
        &title,
        "flipped-byte",
        |t| {
            let seg = t.join(&rung).join("seg-00002.m4s");
            let mut bytes = fs::read(&seg).unwrap();
            let at = bytes.len() / 2;
            bytes[at] ^= 0x01;
            fs::write(&seg, bytes).unwrap();
        },
        &[&format!("{rung}/seg-00002.m4s: sha256")],
    );
    assert_caught(
        &s,
        &title,
        "deleted-segment",
        |t| fs::remove_file(t.join("audio/seg-00003.m4s")).unwrap(),
        &["audio/seg-00003.m4s: missing"],
    );
    assert_caught(
        &s,
        &title,
        "edited-extinf",
        |t| edit(&t.join(&rung).join("playlist.m3u8"), "#EXTINF:2.000000,", "#EXTINF:2.100000,"),
        &[&format!("{rung}/playlist.m3u8: EXTINF of {rung}/seg-00001.m4s")],
    );
    assert_caught(
        &s,
        &title,
        "dropped-from-playlist",
        |t| edit(&t.join("audio/playlist.m3u8"), "seg-00002.m4s\n", ""),
        &["audio/playlist.m3u8: "],
    );
    assert_caught(
        &s,
        &title,
        "edited-timeline",
        |t| {
            let mpd = t.join("manifest.mpd");
            let text = fs::read_to_string(&mpd).unwrap();
            // The first video S@d, one tick longer.
            let at = text.find("<S t=\"").expect("a SegmentTimeline");
            let d = at + text[at..].find(" d=\"").unwrap() + 4;
            let end = d + text[d..].find('"').unwrap();
            let longer = text[d..end].parse::<u64>().unwrap() + 1;
            fs::write(&mpd, format!("{}{longer}{}", &text[..d], &text[end..])).unwrap();
        },
        &["manifest.mpd: ", "segment 1 is at"],
    );
    assert_caught(
        &s,
        &title,
        "renamed-playlist",
        |t| edit(&t.join("master.m3u8"), "audio/playlist.m3u8", "audio/playlist2.m3u8"),
        &["master.m3u8: names audio/playlist2.m3u8", "master.m3u8: does not name audio/playlist.m3u8"],
    );
    assert_caught(
        &s,
        &title,
        "edited-catalog-digest",
        |t| {
            let path = t.join("catalog.json");
            let mut v: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
            let chunk = &mut v["renditions"][0]["chunks"][0]["sha256"];
            let digest = chunk.as_str().unwrap().to_owned();
            let flipped = format!("{}{}", if digest.starts_with('0') { '1' } else { '0' }, &digest[1..]);
            *chunk = serde_json::Value::String(flipped);
            fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
        },
        &["the renditions' digests give the fingerprint", ": sha256 "],
    );
    assert_caught(&s, &title, "no-catalog", |t| fs::remove_file(t.join("catalog.json")).unwrap(), &["catalog.json: missing"]);
}
