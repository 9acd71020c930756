//! Subtitles as WebVTT renditions of a title: sidecar files (WebVTT or SRT) parsed into
//! cues, and the source's own text streams (read by the pipeline as [`TimedCue`]s) put on
//! the title's clock; either cut on the video's segment boundaries for HLS, and whole for
//! DASH.
//!
//! Cue times are the title's: 0 is its first frame, as a player shows the source. Each HLS
//! segment `seg-NNNNN.vtt` covers video segment N's time and holds every cue that overlaps
//! it (a cue across a boundary is in both, with its full times, as RFC 8216 3.5 has it);
//! its `X-TIMESTAMP-MAP` ties LOCAL 0 to the presentation time the title starts at in the
//! CMAF media (`MPEGTS`, 90 kHz), so cues line up with the picture in every player. DASH
//! gets the whole file (`whole.vtt`), whose times are the Period's.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::model::{Segment, Sha256Digest};
use crate::{Error, Result};

/// One cue: times in milliseconds of the title, the cue settings as written (WebVTT), and
/// its text lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cue {
    pub start_ms: u64,
    pub end_ms: u64,
    pub settings: String,
    pub text: String,
}

/// A cue of a text stream of the source, as the pipeline read it: times in nanoseconds of
/// the title's media (the presentation times the picture it goes with has in the output),
/// its text as WebVTT cue text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimedCue {
    pub start_ns: u64,
    pub end_ns: u64,
    pub text: String,
}

/// The cues of one text stream of the source (`stream`: its position among the source's
/// text streams, from 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextStream {
    pub stream: usize,
    /// BCP 47, as the stream's tags said while it played (`None`: they did not say). The
    /// probe may miss it: a sparse stream's tags can come after the probe has finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    pub cues: Vec<TimedCue>,
}

/// A text stream's cues on the title's clock: milliseconds from `origin_ns` (where the title's
/// first frame is presented), to the nearest. A cue that ends before the title starts is
/// left out; one that starts before it starts at 0. Empty cues are left out too.
pub fn title_cues(cues: &[TimedCue], origin_ns: u64) -> Vec<Cue> {
    let ms = |ns: u64| (ns.saturating_sub(origin_ns) + 500_000) / 1_000_000;
    let mut out: Vec<Cue> = cues
        .iter()
        .filter(|c| c.end_ns > origin_ns && !c.text.trim().is_empty())
        .map(|c| Cue { start_ms: ms(c.start_ns), end_ms: ms(c.end_ns), settings: String::new(), text: c.text.trim_end().to_owned() })
        .filter(|c| c.end_ms > c.start_ms)
        .collect();
    out.sort_by_key(|c| (c.start_ms, c.end_ms));
    out
}

/// WebVTT cue text from Pango markup, the form GStreamer gives text streams in (from SRT,
/// ASS/SSA and MP4 timed text): `<b>`, `<i>` and `<u>` are WebVTT's too and stay; other
/// tags (`<span>`, fonts, colours) go, keeping their text; entities stay as they are
/// (WebVTT reads `&amp;` `&lt;` `&gt;`), and a bare `&`, `<` or `>` is escaped. No line is
/// left blank (a blank line would end the cue).
pub fn from_pango_markup(markup: &str) -> String {
    let mut out = String::with_capacity(markup.len());
    let mut rest = markup;
    while let Some(c) = rest.chars().next() {
        match c {
            '<' => match rest.find('>') {
                Some(end) => {
                    let tag = &rest[1..end];
                    let name = tag.trim_start_matches('/').split(|c: char| c.is_whitespace()).next().unwrap_or("");
                    if ["b", "i", "u"].contains(&name.to_ascii_lowercase().as_str()) && !tag.contains(char::is_whitespace) {
                        out.push('<');
                        out.push_str(&tag.to_ascii_lowercase());
                        out.push('>');
                    }
                    rest = &rest[end + 1..];
                    continue;
                }
                None => out.push_str("&lt;"),
            },
            '&' => {
                let entity = rest[1..].find(';').map(|end| &rest[1..=end]).filter(|e| e.len() <= 8 && e.chars().all(|c| c.is_ascii_alphanumeric() || c == '#'));
                match entity {
                    Some(e) => {
                        out.push('&');
                        out.push_str(e);
                        out.push(';');
                        rest = &rest[e.len() + 2..];
                        continue;
                    }
                    None => out.push_str("&amp;"),
                }
            }
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
    out.lines().map(str::trim_end).filter(|l| !l.trim().is_empty()).collect::<Vec<_>>().join("\n")
}

/// Plain UTF-8 text (a text stream without markup) as WebVTT cue text: `&`, `<`, `>` escaped,
/// no blank lines.
pub fn from_plain_text(text: &str) -> String {
    let escaped = text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    escaped.lines().map(str::trim_end).filter(|l| !l.trim().is_empty()).collect::<Vec<_>>().join("\n")
}

/// A subtitle rendition as the manifests name it.
#[derive(Debug, Clone, PartialEq)]
pub struct SubtitleTrack {
    /// Folder name and DASH Representation@id, e.g. `subs_en`.
    pub id: String,
    /// BCP 47.
    pub language: Option<String>,
    /// The HLS segments (`<id>/seg-NNNNN.vtt`), their durations in `timescale` ticks equal to
    /// the video segments'.
    pub segments: Vec<Segment>,
    pub timescale: u32,
    /// `<id>/whole.vtt`, for DASH.
    pub whole: Segment,
}

/// The HLS segment file name of segment `index` of subtitle rendition `id`.
pub fn segment_uri(id: &str, index: u32) -> String {
    format!("{id}/seg-{index:05}.vtt")
}

/// The whole WebVTT file of subtitle rendition `id` (DASH).
pub fn whole_uri(id: &str) -> String {
    format!("{id}/whole.vtt")
}

fn bad(file: &str, line: usize, reason: impl Into<String>) -> Error {
    Error::Subtitles { file: file.to_owned(), line, reason: reason.into() }
}

/// Reads a WebVTT file (it starts with `WEBVTT`) or an SRT one (anything else). `file`
/// names it in errors, which give the line (1-based) and what is wrong there.
pub fn parse(text: &str, file: &str) -> Result<Vec<Cue>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.lines().collect();
    let webvtt = lines.first().is_some_and(|l| l.starts_with("WEBVTT") && l[6..].chars().next().is_none_or(|c| c == ' ' || c == '\t'));
    let mut cues = Vec::new();
    let mut i = if webvtt { 1 } else { 0 };
    while i < lines.len() {
        let line = lines[i].trim_end();
        if line.is_empty() {
            i += 1;
            continue;
        }
        if webvtt && (line.starts_with("NOTE") || line.starts_with("STYLE") || line.starts_with("REGION")) && !line.contains("-->") {
            // A block to skip: up to the next blank line.
            while i < lines.len() && !lines[i].trim().is_empty() {
                i += 1;
            }
            continue;
        }
        // An identifier line (SRT: the cue number) may come before the timing line.
        let timing_at = if line.contains("-->") { i } else { i + 1 };
        let Some(timing) = lines.get(timing_at).map(|l| l.trim()) else {
            return Err(bad(file, i + 1, format!("{line:?} is followed by no cue timing")));
        };
        if !timing.contains("-->") {
            return Err(bad(file, timing_at + 1, format!("expected a cue timing (00:00:01.000 --> 00:00:02.000), found {timing:?}")));
        }
        let (start, rest) = timing.split_once("-->").expect("checked above");
        let rest = rest.trim();
        let (end, settings) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        let start_ms = time_ms(start.trim(), webvtt).ok_or_else(|| bad(file, timing_at + 1, format!("{:?} is not a time", start.trim())))?;
        let end_ms = time_ms(end.trim(), webvtt).ok_or_else(|| bad(file, timing_at + 1, format!("{:?} is not a time", end.trim())))?;
        if end_ms <= start_ms {
            return Err(bad(file, timing_at + 1, format!("the cue ends ({end}) before it starts ({})", start.trim())));
        }
        let mut text = Vec::new();
        i = timing_at + 1;
        while i < lines.len() && !lines[i].trim().is_empty() {
            if lines[i].contains("-->") {
                return Err(bad(file, i + 1, "a cue timing inside a cue's text (a missing blank line?)"));
            }
            text.push(lines[i].trim_end());
            i += 1;
        }
        cues.push(Cue { start_ms, end_ms, settings: if webvtt { settings.trim().to_owned() } else { String::new() }, text: text.join("\n") });
    }
    if cues.is_empty() {
        return Err(bad(file, lines.len().max(1), "no cues"));
    }
    cues.sort_by_key(|c| (c.start_ms, c.end_ms));
    Ok(cues)
}

/// `hh:mm:ss.ttt` or `mm:ss.ttt` (WebVTT), `hh:mm:ss,ttt` (SRT; a `.` is taken too).
fn time_ms(s: &str, webvtt: bool) -> Option<u64> {
    let (clock, millis) = match webvtt {
        true => s.split_once('.')?,
        false => s.split_once(',').or_else(|| s.split_once('.'))?,
    };
    if millis.len() != 3 || !millis.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let parts: Vec<&str> = clock.split(':').collect();
    let num = |p: &str, max: u64| p.parse::<u64>().ok().filter(|v| *v <= max && !p.is_empty() && p.len() >= 2);
    let (h, m, sec) = match parts[..] {
        [h, m, sec] => (h.parse::<u64>().ok().filter(|_| h.len() >= 2)?, num(m, 59)?, num(sec, 59)?),
        [m, sec] if webvtt => (0, num(m, 59)?, num(sec, 59)?),
        _ => return None,
    };
    Some(((h * 60 + m) * 60 + sec) * 1000 + millis.parse::<u64>().ok()?)
}

/// `ms` as a WebVTT timestamp, `hh:mm:ss.ttt`.
pub fn vtt_time(ms: u64) -> String {
    format!("{:02}:{:02}:{:02}.{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

fn write_cue(out: &mut String, c: &Cue) {
    let settings = if c.settings.is_empty() { String::new() } else { format!(" {}", c.settings) };
    let _ = write!(out, "\n{} --> {}{settings}\n{}\n", vtt_time(c.start_ms), vtt_time(c.end_ms), c.text);
}

/// The HLS segments: for each (start, end) of the title in ms, a WebVTT document with every
/// cue overlapping it, mapped to the media by `X-TIMESTAMP-MAP` (`mpegts`: where the
/// title starts in the media, 90 kHz).
pub fn segments(cues: &[Cue], spans_ms: &[(u64, u64)], mpegts: u64) -> Vec<String> {
    spans_ms
        .iter()
        .map(|&(start, end)| {
            let mut out = format!("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:{mpegts},LOCAL:00:00:00.000\n");
            for c in cues.iter().filter(|c| c.start_ms < end && c.end_ms > start) {
                write_cue(&mut out, c);
            }
            out
        })
        .collect()
}

/// Every cue in one WebVTT document (DASH's sidecar), times of the Period.
pub fn whole(cues: &[Cue]) -> String {
    let mut out = String::from("WEBVTT\n");
    for c in cues {
        write_cue(&mut out, c);
    }
    out
}

/// A stored subtitle file as a [`Segment`] (times in `timescale` ticks).
pub fn stored(index: u32, uri: String, start: u64, duration: u64, body: &[u8]) -> Segment {
    Segment { index, start, duration, size: body.len() as u64, sha256: Sha256Digest::of(body), uri, key_frame_bytes: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srt_and_webvtt_read_the_same() {
        let srt = "1\r\n00:00:01,000 --> 00:00:02,500\r\nHello\r\nthere\r\n\r\n2\r\n00:01:00,250 --> 00:01:01,000\r\nBye\r\n";
        let vtt = "WEBVTT\n\nNOTE a comment\nover two lines\n\nintro\n00:01.000 --> 00:02.500 line:90%\nHello\nthere\n\n00:01:00.250 --> 00:01:01.000\nBye\n";
        let a = parse(srt, "a.srt").unwrap();
        let b = parse(vtt, "b.vtt").unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!((a[0].start_ms, a[0].end_ms, a[0].text.as_str()), (1000, 2500, "Hello\nthere"));
        assert_eq!((a[1].start_ms, a[1].end_ms), (60_250, 61_000));
        assert_eq!(a.iter().map(|c| (c.start_ms, c.end_ms, &c.text)).collect::<Vec<_>>(), b.iter().map(|c| (c.start_ms, c.end_ms, &c.text)).collect::<Vec<_>>());
        assert_eq!(b[0].settings, "line:90%");
    }

    #[test]
    fn pango_markup_becomes_webvtt_cue_text() {
        assert_eq!(from_pango_markup("<i>Hello</i> <span foreground=\"red\">there</span>"), "<i>Hello</i> there");
        assert_eq!(from_pango_markup("<B>loud</B>\n\nTom &amp; Jerry &lt;3"), "<b>loud</b>\nTom &amp; Jerry &lt;3");
        assert_eq!(from_pango_markup("a & b > c"), "a &amp; b &gt; c");
        assert_eq!(from_pango_markup("1 < 2"), "1 &lt; 2");
        assert_eq!(from_plain_text("<not a tag> & more\r\n\r\nend"), "&lt;not a tag&gt; &amp; more\nend");
    }

    #[test]
    fn text_stream_cues_are_put_on_the_titles_clock() {
        let cue = |start_ns: u64, end_ns: u64, text: &str| TimedCue { start_ns, end_ns, text: text.into() };
        let cues = [cue(2_021_000_000, 3_521_400_000, "b"), cue(0, 10_000_000, "before"), cue(15_000_000, 1_021_000_000, "a"), cue(4_000_000_000, 5_000_000_000, " ")];
        let got: Vec<(u64, u64, String)> = title_cues(&cues, 21_000_000).into_iter().map(|c| (c.start_ms, c.end_ms, c.text)).collect();
        assert_eq!(got, [(0, 1000, "a".to_owned()), (2000, 3500, "b".to_owned())]);
    }

    #[test]
    fn malformed_files_name_the_line() {
        let cases = [
            ("1\n00:00:01,000 -> 00:00:02,000\nHi\n", 2, "expected a cue timing"),
            ("1\n00:00:01,000 --> 00:00:0x,000\nHi\n", 2, "is not a time"),
            ("WEBVTT\n\n00:00:03.000 --> 00:00:02.000\nHi\n", 3, "before it starts"),
            ("1\n00:00:01,000 --> 00:00:02,000\nHi\n2\n00:00:03,000 --> 00:00:04,000\nYo\n", 5, "missing blank line"),
            ("WEBVTT\n", 1, "no cues"),
            ("1\n00:00:01,000 --> 00:00:02,000\n\n2\n", 4, "followed by no cue timing"),
        ];
        for (text, line, what) in cases {
            match parse(text, "x.srt") {
                Err(Error::Subtitles { line: l, reason, .. }) => {
                    assert_eq!(l, line, "{text:?}: {reason}");
                    assert!(reason.contains(what), "{text:?}: {reason}");
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_cue_across_a_boundary_is_in_both_segments() {
        let cues = parse("WEBVTT\n\n00:00:03.500 --> 00:00:04.500\nacross\n\n00:00:05.000 --> 00:00:06.000\nsecond\n", "x.vtt").unwrap();
        let segs = segments(&cues, &[(0, 4000), (4000, 8000), (8000, 9000)], 6000);
        assert!(segs.iter().all(|s| s.starts_with("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:6000,LOCAL:00:00:00.000\n")));
        assert!(segs[0].contains("00:00:03.500 --> 00:00:04.500\nacross") && !segs[0].contains("second"));
        assert!(segs[1].contains("00:00:03.500 --> 00:00:04.500\nacross") && segs[1].contains("00:00:05.000 --> 00:00:06.000\nsecond"));
        assert!(!segs[2].contains("-->"), "{}", segs[2]);
        assert_eq!(parse(&whole(&cues), "w.vtt").unwrap(), cues);
    }
}
