//! What a machine needs to run a ladder: the GStreamer elements the pipeline builds for it,
//! the demuxers and decoders of the uploads we expect, and the Debian package of each.
//! The worker checks this at start (and refuses to take jobs without them); `vodpipe
//! doctor` prints it.

use manifest::model::VideoCodec;

use crate::ladder::Ladder;

/// Where each element we build comes from on Debian 12 (GStreamer 1.22).
const PACKAGES: &[(&str, &str)] = &[
    ("filesrc", "libgstreamer1.0-0"),
    ("queue", "libgstreamer1.0-0"),
    ("tee", "libgstreamer1.0-0"),
    ("capsfilter", "libgstreamer1.0-0"),
    ("fakesink", "libgstreamer1.0-0"),
    ("appsink", "gstreamer1.0-plugins-base"),
    ("decodebin", "gstreamer1.0-plugins-base"),
    ("parsebin", "gstreamer1.0-plugins-base"),
    ("typefind", "libgstreamer1.0-0"),
    ("videoconvertscale", "gstreamer1.0-plugins-base"),
    ("videorate", "gstreamer1.0-plugins-base"),
    ("audioconvert", "gstreamer1.0-plugins-base"),
    ("audioresample", "gstreamer1.0-plugins-base"),
    ("audiorate", "gstreamer1.0-plugins-base"),
    ("theoradec", "gstreamer1.0-plugins-base"),
    ("vorbisdec", "gstreamer1.0-plugins-base"),
    ("opusdec", "gstreamer1.0-plugins-base"),
    ("videoflip", "gstreamer1.0-plugins-good"),
    ("deinterlace", "gstreamer1.0-plugins-good"),
    ("qtdemux", "gstreamer1.0-plugins-good"),
    ("matroskademux", "gstreamer1.0-plugins-good"),
    ("aacparse", "gstreamer1.0-plugins-good"),
    ("vp8dec", "gstreamer1.0-plugins-good"),
    ("vp9dec", "gstreamer1.0-plugins-good"),
    ("vp9enc", "gstreamer1.0-plugins-good"),
    ("flacdec", "gstreamer1.0-plugins-good"),
    ("x264enc", "gstreamer1.0-plugins-ugly"),
    ("x265enc", "gstreamer1.0-plugins-bad"),
    ("av1enc", "gstreamer1.0-plugins-bad"),
    // Built into vodpipe, over the SVT-AV1 library: registered only when the library loads.
    ("vodpipesvtav1enc", "libsvtav1enc1"),
    ("av1dec", "gstreamer1.0-plugins-bad"),
    ("voaacenc", "gstreamer1.0-plugins-bad"),
    ("h264parse", "gstreamer1.0-plugins-bad"),
    ("h265parse", "gstreamer1.0-plugins-bad"),
    ("vp9parse", "gstreamer1.0-plugins-bad"),
    ("av1parse", "gstreamer1.0-plugins-bad"),
    ("avenc_aac", "gstreamer1.0-libav"),
    ("avdec_h264", "gstreamer1.0-libav"),
    ("avdec_h265", "gstreamer1.0-libav"),
    ("avdec_aac", "gstreamer1.0-libav"),
    ("avdec_mpeg2video", "gstreamer1.0-libav"),
    ("avdec_mpeg4", "gstreamer1.0-libav"),
    ("avdec_prores", "gstreamer1.0-libav"),
    ("avdec_dnxhd", "gstreamer1.0-libav"),
    ("avdec_ac3", "gstreamer1.0-libav"),
    ("avdec_eac3", "gstreamer1.0-libav"),
    ("avdec_mp3", "gstreamer1.0-libav"),
];

/// The Debian package that installs `element`.
pub fn package_of(element: &str) -> &'static str {
    PACKAGES.iter().find(|(e, _)| *e == element).map(|(_, p)| *p).unwrap_or("the GStreamer plugin that provides it")
}

/// The decoder GStreamer would pick for a stream of these caps (by their structure name),
/// for the formats uploads come in. A format not listed is not one we expect to decode.
/// More specific caps come first.
const DECODERS: &[(&str, &str)] = &[
    ("video/mpeg, mpegversion=(int)4", "avdec_mpeg4"),
    ("video/x-h264", "avdec_h264"),
    ("video/x-h265", "avdec_h265"),
    ("video/x-vp8", "vp8dec"),
    ("video/x-vp9", "vp9dec"),
    ("video/x-av1", "av1dec"),
    ("video/x-theora", "theoradec"),
    ("video/mpeg", "avdec_mpeg2video"),
    ("video/x-prores", "avdec_prores"),
    ("video/x-dnxhd", "avdec_dnxhd"),
    ("audio/mpeg", "avdec_aac"),
    ("audio/x-ac3", "avdec_ac3"),
    ("audio/x-eac3", "avdec_eac3"),
    ("audio/x-vorbis", "vorbisdec"),
    ("audio/x-opus", "opusdec"),
    ("audio/x-flac", "flacdec"),
];

/// The decoder for a stream of these caps (e.g. `video/x-theora` or `video/mpeg,
/// mpegversion=(int)2, ...`), if it is a format we expect uploads in.
pub fn decoder_for(caps: &str) -> Option<&'static str> {
    let caps = caps.trim();
    DECODERS
        .iter()
        .find(|(c, _)| caps == *c || caps.strip_prefix(c).is_some_and(|rest| rest.starts_with(',')))
        .map(|(_, e)| *e)
}

/// One element the machine needs, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub element: &'static str,
    pub package: &'static str,
    pub why: &'static str,
}

fn need(element: &'static str, why: &'static str) -> Need {
    Need { element, package: package_of(element), why }
}

/// What every title needs, whatever its ladder: reading, demuxing and decoding the common
/// uploads (MP4 and Matroska with H.264, HEVC or AAC), converting, the stereo AAC.
fn common() -> Vec<Need> {
    let mut v: Vec<Need> = ["filesrc", "queue", "tee", "capsfilter", "fakesink", "appsink", "decodebin", "parsebin"]
        .into_iter()
        .map(|e| need(e, "the pipeline"))
        .collect();
    v.extend(["videoconvertscale", "videorate", "videoflip", "deinterlace"].map(|e| need(e, "video conversion")));
    v.extend(["audioconvert", "audioresample", "audiorate", "voaacenc", "aacparse"].map(|e| need(e, "the stereo AAC rendition")));
    v.extend(["qtdemux", "matroskademux", "avdec_h264", "avdec_h265", "avdec_aac"].map(|e| need(e, "reading MP4 and Matroska uploads")));
    v
}

/// The elements a title made with `ladder` needs.
pub fn needs(ladder: &Ladder) -> Vec<Need> {
    let mut v = common();
    if ladder.audio.surround_bitrate > 0 {
        v.push(need("avenc_aac", "the 5.1 AAC rendition"));
    }
    for rung in &ladder.rungs {
        let (parser, why) = match rung.codec {
            VideoCodec::H264 => ("h264parse", "H.264 rungs"),
            VideoCodec::H265 => ("h265parse", "HEVC rungs"),
            VideoCodec::Vp9 => ("vp9parse", "VP9 rungs"),
            VideoCodec::Av1 => ("av1parse", "AV1 rungs"),
        };
        v.push(need(rung.encoder.element(), why));
        v.push(need(parser, why));
    }
    let mut seen = std::collections::BTreeSet::new();
    v.retain(|n| seen.insert(n.element));
    v
}

/// Those of `needs` that this machine's GStreamer cannot make (call after `crate::init`).
pub fn missing(needs: &[Need]) -> Vec<Need> {
    needs.iter().filter(|n| gst::ElementFactory::find(n.element).is_none()).cloned().collect()
}

/// One line naming what is missing and what to install, for logs and errors.
pub fn describe(missing: &[Need]) -> String {
    let mut packages: Vec<&str> = missing.iter().map(|n| n.package).collect();
    packages.sort();
    packages.dedup();
    let elements: Vec<String> = missing.iter().map(|n| format!("{} ({})", n.element, n.why)).collect();
    format!("missing GStreamer elements: {}; install: apt-get install {}", elements.join(", "), packages.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ladder::Encoder;

    #[test]
    fn every_needed_element_has_its_package() {
        for text in [include_str!("../../ladders/default.toml"), include_str!("../../ladders/multi-codec.toml")] {
            let ladder = Ladder::from_toml(text).unwrap();
            for n in needs(&ladder) {
                assert_ne!(n.package, package_of("no-such-element"), "{} has no package", n.element);
            }
        }
        for (_, decoder) in DECODERS {
            assert_ne!(package_of(decoder), package_of("no-such-element"), "{decoder} has no package");
        }
    }

    #[test]
    fn a_ladder_needs_its_codecs_encoders_and_5_1_its_aac_encoder() {
        let ladder = Ladder::from_toml(include_str!("../../ladders/multi-codec.toml")).unwrap();
        let elements: Vec<&str> = needs(&ladder).iter().map(|n| n.element).collect();
        for rung in &ladder.rungs {
            let enc = match (rung.codec, rung.encoder) {
                (VideoCodec::H264, _) => "x264enc",
                (VideoCodec::H265, _) => "x265enc",
                (VideoCodec::Vp9, _) => "vp9enc",
                (VideoCodec::Av1, Encoder::Aom) => "av1enc",
                (VideoCodec::Av1, _) => "vodpipesvtav1enc",
            };
            assert!(elements.contains(&enc), "{enc} missing from {elements:?}");
        }
        assert_eq!(elements.contains(&"avenc_aac"), ladder.audio.surround_bitrate > 0);
        let mut unique = elements.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), elements.len(), "listed once each");
    }

    #[test]
    fn decoders_are_found_by_their_caps() {
        assert_eq!(decoder_for("video/x-theora"), Some("theoradec"));
        assert_eq!(decoder_for("video/mpeg, mpegversion=(int)2, systemstream=(boolean)false"), Some("avdec_mpeg2video"));
        assert_eq!(decoder_for("video/mpeg, mpegversion=(int)4, systemstream=(boolean)false"), Some("avdec_mpeg4"));
        assert_eq!(decoder_for("video/x-h2645"), None);
        assert_eq!(decoder_for("video/x-cinepak"), None);
    }

    #[test]
    fn the_line_names_elements_and_packages_once() {
        let line = describe(&[need("x264enc", "H.264 rungs"), need("x265enc", "HEVC rungs"), need("av1enc", "AV1 rungs")]);
        assert_eq!(
            line,
            "missing GStreamer elements: x264enc (H.264 rungs), x265enc (HEVC rungs), av1enc (AV1 rungs); \
             install: apt-get install gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly"
        );
    }
}
