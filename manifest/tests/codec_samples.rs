//! The codec and fragment parsers against real init segments and fragments written by ffmpeg
//! and GStreamer (fixtures/codec-samples/, made by fixtures/make-codec-samples.sh).
//!
//! Expected values come from tools nobody here wrote, recorded by that script:
//! - `EXPECTED-gstreamer.txt`: GStreamer 1.22's own RFC 6381 string
//!   (`gst_codec_utils_caps_get_mime_codec`) for the caps qtdemux reads from each sample;
//! - `EXPECTED-ffprobe.txt`: ffprobe 5.1's stream profile/level/size/rate and, per fragment
//!   (each fragment probed alone behind its init segment), every packet's pts/dts/duration/
//!   keyframe flag.

use std::path::PathBuf;

use manifest::Error;
use manifest::cmaf::{self, FragmentInfo};
use manifest::codecs::{self, InitInfo};
use manifest::model::{TrackKind, VideoCodec};

fn sample(name: &str, file: &str) -> Vec<u8> {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "fixtures",
        "codec-samples",
        name,
        file,
    ]
    .iter()
    .collect();
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn init(name: &str) -> InitInfo {
    codecs::from_init_segment(&sample(name, "init.mp4")).expect(name)
}

fn fragment(name: &str, index: u32) -> FragmentInfo {
    let info = init(name);
    cmaf::parse_fragment(&sample(name, &format!("seg-{index:05}.m4s")), &info).expect(name)
}

// ---- codec strings --------------------------------------------------------------------

#[test]
fn h264_high_from_ffmpeg() {
    let i = init("h264_high");
    // GStreamer: avc1.64001E. ffprobe: profile=High level=30 320x240 time_base=1/30000.
    assert_eq!(i.codecs, "avc1.64001E");
    assert_eq!(i.kind, TrackKind::Video);
    assert_eq!(i.video_codec, Some(VideoCodec::H264));
    assert_eq!((i.width, i.height), (Some(320), Some(240)));
    assert_eq!(i.timescale, 30000);
    assert_eq!(i.track_id, 1);
    // ffmpeg's HLS muxer writes an empty edit of 66 ms, then an edit from media_time 2002
    // (the two-frame B-frame delay); the first real edit is the one that trims. ffprobe's
    // timestamps agree: see fragments_with_edit_list_and_unsigned_offsets.
    assert_eq!(i.edit_media_time, 2002);
    assert_eq!(i.channels, None);
}

#[test]
fn h264_main_from_ffmpeg_cmaf() {
    let i = init("h264_main_cmaf");
    // GStreamer: avc1.4D401F. ffprobe: profile=Main level=31.
    assert_eq!(i.codecs, "avc1.4D401F");
    // -movflags cmaf uses negative composition offsets instead of an edit list.
    assert_eq!(i.edit_media_time, 0);
}

#[test]
fn h264_constrained_baseline_from_gstreamer() {
    let i = init("h264_baseline_gst");
    // GStreamer: avc1.42C00D. ffprobe: profile=Constrained Baseline level=13.
    assert_eq!(i.codecs, "avc1.42C00D");
    assert_eq!((i.width, i.height), (Some(320), Some(240)));
    assert_eq!(i.timescale, 30000);
}

#[test]
fn h265_main_from_x265() {
    let i = init("h265_main");
    // GStreamer: hvc1.1.6.L60.90. ffprobe: profile=Main level=60 (level 2).
    assert_eq!(i.codecs, "hvc1.1.6.L60.90");
    assert_eq!(i.video_codec, Some(VideoCodec::H265));
    assert_eq!((i.width, i.height), (Some(320), Some(240)));
}

#[test]
fn av1_from_libaom() {
    let i = init("av1_main");
    // ffprobe: profile=Main (seq_profile 0), level=0 (seq_level_idx 0, i.e. level 2.0),
    // pix_fmt=yuv420p (8 bit). Tier: av1C seq_tier_0 is 0 (Main); ffprobe does not print
    // it. GStreamer 1.22 only says "av01" (its codec-utils do not read av1C yet).
    assert_eq!(i.codecs, "av01.0.00M.08");
    assert_eq!(i.video_codec, Some(VideoCodec::Av1));
}

#[test]
fn vp9_from_libvpx() {
    let i = init("vp9_p0");
    // ffprobe: profile=Profile 0, pix_fmt=yuv420p (8 bit). The level is vpcC's byte 0x14 =
    // 20: 320x240 = 76800 luma samples exceed level 1.1's 73728, so level 2 is right.
    // GStreamer 1.22 prints vp09.00.10.08: its caps carry no level, and it falls back to 10.
    assert_eq!(i.codecs, "vp09.00.20.08");
    assert_eq!(i.video_codec, Some(VideoCodec::Vp9));
}

#[test]
fn aac_lc_stereo_from_ffmpeg() {
    let i = init("aac_lc_48k_stereo");
    // GStreamer: mp4a.40.2. ffprobe: profile=LC sample_rate=48000 channels=2.
    assert_eq!(i.codecs, "mp4a.40.2");
    assert_eq!(i.kind, TrackKind::Audio);
    assert_eq!(i.video_codec, None);
    assert_eq!((i.channels, i.sample_rate), (Some(2), Some(48000)));
    assert_eq!(i.timescale, 48000);
    assert_eq!((i.width, i.height), (None, None));
}

#[test]
fn aac_lc_mono_from_gstreamer() {
    let i = init("aac_lc_44k_mono_gst");
    // GStreamer: mp4a.40.2. ffprobe: profile=LC sample_rate=44100 channels=1.
    assert_eq!(i.codecs, "mp4a.40.2");
    assert_eq!((i.channels, i.sample_rate), (Some(1), Some(44100)));
    assert_eq!(i.timescale, 44100);
}

#[test]
fn init_with_fragments_behind_it_still_parses() {
    let mut bytes = sample("h264_high", "init.mp4");
    bytes.extend(sample("h264_high", "seg-00001.m4s"));
    assert_eq!(
        codecs::from_init_segment(&bytes).unwrap(),
        init("h264_high")
    );
}

#[test]
fn truncated_init_is_an_error() {
    let bytes = sample("h265_main", "init.mp4");
    for cut in [0, 7, 8, 40, bytes.len() / 2, bytes.len() - 1] {
        let err = codecs::from_init_segment(&bytes[..cut]).unwrap_err();
        assert!(
            matches!(
                err,
                Error::BadBoxSize { .. } | Error::Truncated { .. } | Error::MissingBox { .. }
            ),
            "cut at {cut}: {err}"
        );
    }
}

#[test]
fn to_track_info_copies_the_init_facts() {
    let t = init("aac_lc_48k_stereo").to_track_info("aac_stereo", None, Some("en".into()));
    assert_eq!(t.id, "aac_stereo");
    assert_eq!(t.codecs, "mp4a.40.2");
    assert_eq!(t.timescale, 48000);
    assert_eq!(t.language.as_deref(), Some("en"));
}

// ---- fragments ------------------------------------------------------------------------

#[test]
fn fragments_with_edit_list_and_unsigned_offsets() {
    // ffmpeg HLS fMP4: styp + sidx + moof + mdat, trun version 0, tfhd default duration 1001,
    // B-frames (2). ffprobe per fragment: 15 packets of duration 1001 each, the first one a
    // keyframe, first dts -22 and 14993, lowest pts 1980 and 16995. ffprobe subtracts the
    // edit's media_time (2002) and adds the 66 ms empty edit (1980 ticks): its times are
    // ours - 2002 + 1980 for decode times and ours + 1980 for presentation times (ours
    // already have media_time removed). So decode times 0 and 15015, earliest presentation
    // times 0 and 15015. The first packet ends 2202 and 1973 bytes into the fragments
    // (ffprobe's pos + size over init + fragment, less the init's 824 bytes).
    assert_eq!(
        fragment("h264_high", 1),
        FragmentInfo {
            decode_time: 0,
            duration: 15015,
            earliest_presentation_time: 0,
            sample_count: 15,
            first_sample_is_sync: true,
            sequence_number: 1,
            first_sample_end: Some(2202),
        }
    );
    assert_eq!(
        fragment("h264_high", 2),
        FragmentInfo {
            decode_time: 15015,
            duration: 15015,
            earliest_presentation_time: 15015,
            sample_count: 15,
            first_sample_is_sync: true,
            sequence_number: 2,
            first_sample_end: Some(1973),
        }
    );
}

#[test]
fn fragments_with_negative_composition_offsets() {
    // ffmpeg -movflags cmaf+negative_cts_offsets: trun version 1, no edit list. ffprobe per
    // fragment: 15 packets of 1001, first dts 0 and 15015, lowest pts 1001 and 16016. ffmpeg's
    // demuxer adds the most negative composition offset (-1001) back onto every pts so that
    // pts >= dts; per ISO/IEC 14496-12 the composition time is dts + offset, so the earliest
    // presentation times are 1001 - 1001 = 0 and 16016 - 1001 = 15015.
    let f1 = fragment("h264_main_cmaf", 1);
    assert_eq!(
        (f1.decode_time, f1.duration, f1.earliest_presentation_time),
        (0, 15015, 0)
    );
    assert_eq!(
        (f1.sample_count, f1.first_sample_is_sync, f1.sequence_number),
        (15, true, 1)
    );
    let f2 = fragment("h264_main_cmaf", 2);
    assert_eq!(
        (f2.decode_time, f2.duration, f2.earliest_presentation_time),
        (15015, 15015, 15015)
    );

    // x265 (2 B-frames, b-pyramid): ffprobe shows 13 then 17 packets of 1001, first dts 0 and
    // 13013, lowest pts 2002 and 15015, with a -2002 offset added back the same way.
    let h1 = fragment("h265_main", 1);
    assert_eq!(
        (h1.decode_time, h1.duration, h1.earliest_presentation_time),
        (0, 13013, 0)
    );
    assert_eq!(h1.sample_count, 13);
    let h2 = fragment("h265_main", 2);
    assert_eq!(
        (h2.decode_time, h2.duration, h2.earliest_presentation_time),
        (13013, 17017, 13013)
    );
    assert_eq!((h2.sample_count, h2.first_sample_is_sync), (17, true));
}

#[test]
fn gstreamer_fragment_that_does_not_start_with_a_keyframe() {
    // mp4mux fragment-duration=500 cut after 14 frames, then after 1 frame. ffprobe: fragment
    // 1 has 14 packets (pts 0..13013, first flagged K), fragment 2 one packet at pts 14014
    // *not* flagged K, fragment 3 15 packets from pts 15015, first flagged K. Here tfhd's
    // default-sample-flags (non-sync) apply to fragment 2's only sample.
    let f = [1, 2, 3].map(|i| fragment("h264_baseline_gst", i));
    assert_eq!(f.map(|f| f.sample_count), [14, 1, 15]);
    assert_eq!(f.map(|f| f.decode_time), [0, 14014, 15015]);
    assert_eq!(f.map(|f| f.duration), [14014, 1001, 15015]);
    assert_eq!(f.map(|f| f.earliest_presentation_time), [0, 14014, 15015]);
    assert_eq!(f.map(|f| f.first_sample_is_sync), [true, false, true]);
    assert_eq!(f.map(|f| f.sequence_number), [1, 2, 3]);
}

#[test]
fn av1_and_vp9_fragments() {
    // ffprobe: 15 packets per fragment, no B-frames (pts == dts), first dts 0 and 15015.
    // It prints no packet durations here; the second fragment's first dts gives the first's.
    for name in ["av1_main", "vp9_p0"] {
        let f1 = fragment(name, 1);
        let f2 = fragment(name, 2);
        assert_eq!(
            (
                f1.decode_time,
                f1.earliest_presentation_time,
                f1.sample_count
            ),
            (0, 0, 15)
        );
        assert_eq!(f1.decode_time + f1.duration, 15015, "{name}");
        assert_eq!(
            (f2.decode_time, f2.earliest_presentation_time),
            (15015, 15015),
            "{name}"
        );
        assert!(f1.first_sample_is_sync && f2.first_sample_is_sync, "{name}");
    }
}

#[test]
fn audio_fragments() {
    // ffprobe, ffmpeg AAC: 24 packets per fragment, first dts 0 and 24576, each 1024 long.
    let a1 = fragment("aac_lc_48k_stereo", 1);
    assert_eq!(
        (a1.decode_time, a1.duration, a1.sample_count),
        (0, 24576, 24)
    );
    assert_eq!(a1.earliest_presentation_time, 0);
    let a2 = fragment("aac_lc_48k_stereo", 2);
    assert_eq!(
        (
            a2.decode_time,
            a2.earliest_presentation_time,
            a2.sample_count
        ),
        (24576, 24576, 24)
    );
    // ffprobe, GStreamer voaacenc: 21, 21, 2 packets from dts 0, 21504, 43008; 1024 each.
    let g = [1, 2, 3].map(|i| fragment("aac_lc_44k_mono_gst", i));
    assert_eq!(g.map(|f| f.sample_count), [21, 21, 2]);
    assert_eq!(g.map(|f| f.decode_time), [0, 21504, 43008]);
    assert_eq!(g.map(|f| f.duration), [21504, 21504, 2048]);
    assert!(g.iter().all(|f| f.first_sample_is_sync));
}

#[test]
fn fragment_of_another_track_is_an_error() {
    let mut info = init("h264_high");
    info.track_id = 7;
    let err = cmaf::parse_fragment(&sample("h264_high", "seg-00001.m4s"), &info).unwrap_err();
    assert!(
        matches!(err, Error::NoTrackFragment { track_id: 7 }),
        "{err}"
    );
}

#[test]
fn truncated_fragment_is_an_error() {
    let info = init("h264_high");
    let bytes = sample("h264_high", "seg-00001.m4s");
    for cut in [0, 30, 90, 200] {
        assert!(
            cmaf::parse_fragment(&bytes[..cut], &info).is_err(),
            "cut at {cut}"
        );
    }
}

// ---- creation times -------------------------------------------------------------------

/// (version, creation_time, modification_time) of mvhd, tkhd and mdhd, found by searching
/// for the box names; independent of the crate's own box walker.
fn times(init: &[u8]) -> Vec<(u8, u64, u64)> {
    let mut out = Vec::new();
    for name in [b"mvhd", b"tkhd", b"mdhd"] {
        let at = init.windows(4).position(|w| w == name).unwrap() + 4;
        let version = init[at];
        let field = |o: usize, w: usize| {
            init[o..o + w]
                .iter()
                .fold(0u64, |acc, &b| acc << 8 | u64::from(b))
        };
        let w = if version == 1 { 8 } else { 4 };
        out.push((version, field(at + 4, w), field(at + 4 + w, w)));
    }
    out
}

#[test]
fn pinning_makes_init_segments_reproducible() {
    // mp4mux writes the wall clock into mvhd/tkhd/mdhd (version 0 boxes).
    let original = sample("h264_baseline_gst", "init.mp4");
    assert!(times(&original).iter().all(|&(v, c, _)| v == 0 && c != 0));

    let mut a = original.clone();
    cmaf::pin_creation_times(&mut a, 3_000_000_000).unwrap();
    assert_eq!(times(&a), vec![(0, 3_000_000_000, 3_000_000_000); 3]);
    assert_eq!(a.len(), original.len());

    // A second run of the muxer would have written other times; pinning equalises them.
    let mut b = original.clone();
    cmaf::pin_creation_times(&mut b, 12345).unwrap();
    assert_ne!(a, b);
    cmaf::pin_creation_times(&mut b, 3_000_000_000).unwrap();
    assert_eq!(a, b);

    // Only those six fields changed.
    let changed = original.iter().zip(&a).filter(|(x, y)| x != y).count();
    assert!(changed <= 6 * 4, "{changed} bytes changed");
    assert_eq!(
        codecs::from_init_segment(&a).unwrap(),
        init("h264_baseline_gst")
    );
}

#[test]
fn pinning_an_already_pinned_segment_changes_nothing() {
    // ffmpeg writes 0 (with -fflags +bitexact).
    let original = sample("h264_high", "init.mp4");
    assert!(times(&original).iter().all(|&(_, c, m)| c == 0 && m == 0));
    let mut pinned = original.clone();
    cmaf::pin_creation_times(&mut pinned, 0).unwrap();
    assert_eq!(pinned, original);
}

#[test]
fn pinning_a_value_too_big_for_version_0_fails_without_writing() {
    let original = sample("h264_baseline_gst", "init.mp4");
    let mut bytes = original.clone();
    let err = cmaf::pin_creation_times(&mut bytes, u64::from(u32::MAX) + 1).unwrap_err();
    assert!(matches!(err, Error::ValueOutOfRange { .. }), "{err}");
    assert_eq!(bytes, original);
}

// ---- delaying presentation ----------------------------------------------------------

fn trun_version(frag: &[u8]) -> u8 {
    let at = frag.windows(4).position(|w| w == b"trun").expect("a trun");
    frag[at + 4]
}

#[test]
fn delaying_a_reordered_track_makes_its_offsets_unsigned() {
    // h264_main_cmaf reorders by one frame (offsets down to -1001, trun version 1). A delay of
    // 1001 leaves every offset >= 0 in a version 0 trun; presentation moves by exactly 1001,
    // decode times and durations stay, and the fragment keeps its size.
    let info = init("h264_main_cmaf");
    for i in [1, 2] {
        let mut f = sample("h264_main_cmaf", &format!("seg-{i:05}.m4s"));
        let before = cmaf::parse_fragment(&f, &info).unwrap();
        let len = f.len();
        assert_eq!(trun_version(&f), 1);
        cmaf::delay_presentation(&mut f, &info, 1001, cmaf::Delay::CompositionOffsets).unwrap();
        let after = cmaf::parse_fragment(&f, &info).unwrap();
        assert_eq!((f.len(), trun_version(&f)), (len, 0));
        assert_eq!(after.earliest_presentation_time, before.earliest_presentation_time + 1001);
        assert_eq!(
            (after.decode_time, after.duration, after.sample_count, after.first_sample_is_sync),
            (before.decode_time, before.duration, before.sample_count, before.first_sample_is_sync)
        );
    }
    // A delay shorter than the reordering is refused, and nothing is written.
    let mut f = sample("h264_main_cmaf", "seg-00001.m4s");
    let original = f.clone();
    let err = cmaf::delay_presentation(&mut f, &info, 1000, cmaf::Delay::CompositionOffsets).unwrap_err();
    assert!(matches!(err, Error::ReorderBeyondShift { needed: 1001, shift: 1000, .. }), "{err}");
    assert_eq!(f, original);
}

#[test]
fn delaying_a_track_that_does_not_reorder_moves_its_decode_time() {
    let info = init("aac_lc_48k_stereo");
    let mut f = sample("aac_lc_48k_stereo", "seg-00002.m4s");
    let before = cmaf::parse_fragment(&f, &info).unwrap();
    cmaf::delay_presentation(&mut f, &info, 3003, cmaf::Delay::DecodeTime).unwrap();
    let after = cmaf::parse_fragment(&f, &info).unwrap();
    assert_eq!(after.decode_time, before.decode_time + 3003);
    assert_eq!(after.earliest_presentation_time, before.earliest_presentation_time + 3003);
    assert_eq!((after.duration, after.sample_count), (before.duration, before.sample_count));
}

#[test]
fn setting_the_decode_time_moves_only_the_decode_time() {
    // The AAC sample's second fragment, pulled one tick earlier and to a time that needs a
    // version 1 tfdt's width: decode and presentation times follow, nothing else changes.
    let info = init("aac_lc_48k_stereo");
    let mut f = sample("aac_lc_48k_stereo", "seg-00002.m4s");
    let before = cmaf::parse_fragment(&f, &info).unwrap();
    let len = f.len();
    cmaf::set_decode_time(&mut f, &info, before.decode_time - 1).unwrap();
    let after = cmaf::parse_fragment(&f, &info).unwrap();
    assert_eq!(after.decode_time, before.decode_time - 1);
    assert_eq!(after.earliest_presentation_time, before.earliest_presentation_time - 1);
    assert_eq!((after.duration, after.sample_count, f.len()), (before.duration, before.sample_count, len));
    // Another track's id is refused, and so is a value too wide for the box: nothing written.
    let original = f.clone();
    let other = InitInfo { track_id: info.track_id + 1, ..info.clone() };
    assert!(matches!(cmaf::set_decode_time(&mut f, &other, 0), Err(Error::NoTrackFragment { .. })));
    if tfdt_version(&f) == 0 {
        assert!(matches!(cmaf::set_decode_time(&mut f, &info, 1 << 40), Err(Error::ValueOutOfRange { .. })));
    } else {
        cmaf::set_decode_time(&mut f, &info, 1 << 40).unwrap();
        assert_eq!(cmaf::parse_fragment(&f, &info).unwrap().decode_time, 1 << 40);
        f = original.clone();
    }
    assert_eq!(f, original);
}

#[test]
fn setting_sample_durations_changes_only_durations() {
    // GStreamer's H.264 fragment: every sample gets 1001 ticks; count, sync flag, decode
    // time and size stay, and the duration is count x 1001.
    for name in ["h264_baseline_gst", "aac_lc_44k_mono_gst"] {
        let info = init(name);
        let mut f = sample(name, "seg-00001.m4s");
        let before = cmaf::parse_fragment(&f, &info).unwrap();
        let len = f.len();
        cmaf::set_sample_durations(&mut f, &info, 1001).unwrap();
        let after = cmaf::parse_fragment(&f, &info).unwrap();
        assert_eq!(after.duration, u64::from(before.sample_count) * 1001, "{name}");
        assert_eq!(
            (after.decode_time, after.sample_count, after.first_sample_is_sync, f.len()),
            (before.decode_time, before.sample_count, before.first_sample_is_sync, len),
            "{name}"
        );
        // The samples' bytes are where they were.
        assert_eq!(sample_payloads(&f), sample_payloads(&sample(name, "seg-00001.m4s")), "{name}");
    }
}

fn tfdt_version(frag: &[u8]) -> u8 {
    let at = frag.windows(4).position(|w| w == b"tfdt").expect("tfdt");
    frag[at + 4]
}

/// (size, bytes) of every sample of the track in a fragment, found through the trun's data
/// offset (relative to the moof) and sample sizes: what a reader of the fragment gets.
fn sample_payloads(frag: &[u8]) -> Vec<Vec<u8>> {
    let be32 = |at: usize| u32::from_be_bytes(frag[at..at + 4].try_into().unwrap());
    let moof = frag.windows(4).position(|w| w == b"moof").unwrap() - 4;
    let tfhd = frag.windows(4).position(|w| w == b"tfhd").unwrap() - 4;
    let tfhd_flags = be32(tfhd + 8) & 0xff_ffff;
    let mut at = tfhd + 16; // after size, type, version/flags, track_ID
    if tfhd_flags & 0x01 != 0 {
        at += 8;
    }
    if tfhd_flags & 0x02 != 0 {
        at += 4;
    }
    if tfhd_flags & 0x08 != 0 {
        at += 4;
    }
    let default_size = (tfhd_flags & 0x10 != 0).then(|| be32(at));
    let trun = frag.windows(4).position(|w| w == b"trun").unwrap() - 4;
    let flags = be32(trun + 8) & 0xff_ffff;
    let count = be32(trun + 12) as usize;
    let mut at = trun + 16;
    assert!(flags & 0x01 != 0, "the trun has a data offset");
    let mut data = moof + be32(at) as usize;
    at += 4;
    if flags & 0x04 != 0 {
        at += 4;
    }
    let mut out = Vec::new();
    for _ in 0..count {
        if flags & 0x100 != 0 {
            at += 4;
        }
        let size = if flags & 0x200 != 0 {
            at += 4;
            be32(at - 4)
        } else {
            default_size.expect("a sample size")
        } as usize;
        at += [0x400, 0x800].iter().filter(|&&f| flags & f != 0).count() * 4;
        out.push(frag[data..data + size].to_vec());
        data += size;
    }
    out
}

#[test]
fn delaying_a_reordering_track_adds_offsets_to_a_fragment_without_them() {
    // A track delayed for its reordering may have a fragment with no reordered picture:
    // cmafmux then writes no composition offsets. Each sample gets one (the delay), the
    // boxes grow by 4 bytes a sample, and the samples are still where the trun says.
    for name in ["h264_baseline_gst", "aac_lc_48k_stereo"] {
        let info = init(name);
        let mut f = sample(name, "seg-00002.m4s");
        let before = cmaf::parse_fragment(&f, &info).unwrap();
        let payloads = sample_payloads(&f);
        let len = f.len();
        cmaf::delay_presentation(&mut f, &info, 3003, cmaf::Delay::CompositionOffsets).unwrap();
        let after = cmaf::parse_fragment(&f, &info).unwrap();
        assert_eq!(f.len(), len + 4 * before.sample_count as usize, "{name}");
        assert_eq!(trun_version(&f), 0, "{name}");
        assert_eq!(after.earliest_presentation_time, before.earliest_presentation_time + 3003, "{name}");
        assert_eq!(
            (after.decode_time, after.duration, after.sample_count, after.first_sample_is_sync),
            (before.decode_time, before.duration, before.sample_count, before.first_sample_is_sync),
            "{name}"
        );
        assert!(sample_payloads(&f) == payloads, "{name}: the samples moved away from the data offset");
        let moof_size = u32::from_be_bytes(f[0..4].try_into().unwrap()) as usize;
        assert_eq!(&f[moof_size + 4..moof_size + 8], b"mdat", "{name}: the moof's size does not lead to the mdat");
    }
}
