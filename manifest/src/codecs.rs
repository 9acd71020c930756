//! RFC 6381 codec strings and track facts read from real bitstreams.
//!
//! - [`avc1_from_sps`]: `avc1.PPCCLL` from an H.264 sequence parameter set NAL unit.
//! - [`from_init_segment`]: everything the manifests need from a CMAF/fMP4 init segment
//!   (ftyp+moov), as written by GStreamer's cmafmux/isofmp4mux/mp4mux or ffmpeg.
//!
//! Codec strings follow the container's own configuration record, which is what players
//! match against: `avcC`/`hvcC` (ISO/IEC 14496-15, Annex E for HEVC), `av1C` (AV1 in ISOBMFF,
//! section "Codecs parameter string"), `vpcC` (VP codec ISO media file format binding) and
//! `esds` (ISO/IEC 14496-1 descriptors, RFC 6381 section 3.3 for `mp4a`). Hex digits are
//! upper case, as in the examples of RFC 6381 and 14496-15.

use crate::bmff::{self, BoxRef, Reader};
use crate::model::{FrameRate, TrackInfo, TrackKind, VideoCodec};
use crate::{Error, FourCc, Result};

/// What an init segment says about its (first) track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitInfo {
    /// RFC 6381 codec string (EXT-X-STREAM-INF CODECS, DASH `@codecs`).
    pub codecs: String,
    pub kind: TrackKind,
    /// Codec family for video tracks, from the sample entry; `None` for audio.
    pub video_codec: Option<VideoCodec>,
    /// The sample entry type, e.g. `avc1`, `hvc1`, `mp4a`.
    pub sample_entry: FourCc,
    /// `mdhd` timescale: the clock of every time in this track's fragments.
    pub timescale: u32,
    /// Visual sample entry width (video only).
    pub width: Option<u32>,
    /// Visual sample entry height (video only).
    pub height: Option<u32>,
    /// Audio sample entry channel count (audio only).
    pub channels: Option<u32>,
    /// Audio sample entry sample rate, or the `mdhd` timescale where the 16.16 field holds 0
    /// (rates above 65535 Hz do not fit it) (audio only).
    pub sample_rate: Option<u32>,
    /// `tkhd` track_ID, matched against `tfhd` in fragments.
    pub track_id: u32,
    /// `trex` default_sample_duration (0 without `mvex`).
    pub default_sample_duration: u32,
    /// `trex` default_sample_size (0 without `mvex`).
    pub default_sample_size: u32,
    /// `trex` default_sample_flags (0 without `mvex`).
    pub default_sample_flags: u32,
    /// `media_time` of the first edit that is not an empty edit (`-1`), 0 without an edit
    /// list. Presentation times are composition times minus this value.
    pub edit_media_time: i64,
}

impl InitInfo {
    /// The [`TrackInfo`] of rendition `id`, with what an init segment cannot tell (frame rate,
    /// language) supplied by the caller.
    pub fn to_track_info(
        &self,
        id: impl Into<String>,
        frame_rate: Option<FrameRate>,
        language: Option<String>,
    ) -> TrackInfo {
        TrackInfo {
            id: id.into(),
            kind: self.kind,
            video_codec: self.video_codec,
            codecs: self.codecs.clone(),
            timescale: self.timescale,
            width: self.width,
            height: self.height,
            frame_rate,
            channels: self.channels,
            sample_rate: self.sample_rate,
            language,
        }
    }
}

/// `avc1.PPCCLL` (profile_idc, constraint-flags byte, level_idc as upper-case hex) from an
/// H.264 SPS NAL unit, with or without a leading Annex B start code.
pub fn avc1_from_sps(sps_nal: &[u8]) -> Result<String> {
    sps_triplet(sps_nal).map(|[p, c, l]| format!("avc1.{p:02X}{c:02X}{l:02X}"))
}

/// profile_idc, the constraint flags byte and level_idc of an SPS NAL unit.
fn sps_triplet(nal: &[u8]) -> Result<[u8; 3]> {
    let nal = strip_start_code(nal);
    let header = *nal.first().ok_or(Error::Truncated {
        context: "H.264 SPS",
        needed: 1,
        available: 0,
    })?;
    let nal_unit_type = header & 0x1f;
    if nal_unit_type != 7 {
        return Err(Error::NotAnSps { nal_unit_type });
    }
    let rbsp = unescape_rbsp(&nal[1..], 3);
    match rbsp[..] {
        [p, c, l, ..] => Ok([p, c, l]),
        _ => Err(Error::Truncated {
            context: "H.264 SPS",
            needed: 4,
            available: nal.len(),
        }),
    }
}

fn strip_start_code(nal: &[u8]) -> &[u8] {
    if let Some(rest) = nal.strip_prefix(&[0, 0, 0, 1]) {
        rest
    } else if let Some(rest) = nal.strip_prefix(&[0, 0, 1]) {
        rest
    } else {
        nal
    }
}

/// The first `want` bytes of the RBSP: drops each emulation prevention byte (the 0x03 of
/// a 00 00 03 sequence). profile_idc 0 with a zero constraint byte would be followed by one.
fn unescape_rbsp(payload: &[u8], want: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(want);
    let mut zeros = 0;
    for &b in payload {
        if out.len() == want {
            break;
        }
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// Reads the first track of an init segment (ftyp+moov; anything after the moov is ignored).
///
/// Walks moov/trak/{tkhd, edts/elst, mdia/{mdhd, hdlr, minf/stbl/stsd}} and moov/mvex/trex.
pub fn from_init_segment(init: &[u8]) -> Result<InitInfo> {
    let top = bmff::boxes_until(init, b"moov", "init segment")?;
    let moov = top
        .into_iter()
        .find(|b| b.fourcc.0 == *b"moov")
        .ok_or(Error::MissingBox { path: "moov" })?;
    let trak = moov.require(b"trak", "moov/trak")?;
    let track_id = read_tkhd_track_id(&trak.require(b"tkhd", "moov/trak/tkhd")?)?;
    let edit_media_time = match trak.child(b"edts", "moov/trak/edts")? {
        Some(edts) => match edts.child(b"elst", "moov/trak/edts/elst")? {
            Some(elst) => read_elst(&elst)?,
            None => 0,
        },
        None => 0,
    };
    let mdia = trak.require(b"mdia", "moov/trak/mdia")?;
    let timescale = read_mdhd_timescale(&mdia.require(b"mdhd", "moov/trak/mdia/mdhd")?)?;
    let handler = read_hdlr(&mdia.require(b"hdlr", "moov/trak/mdia/hdlr")?)?;
    let stsd = mdia
        .require(b"minf", "moov/trak/mdia/minf")?
        .require(b"stbl", "moov/trak/mdia/minf/stbl")?
        .require(b"stsd", "moov/trak/mdia/minf/stbl/stsd")?;
    // stsd is a full box with an entry count before its sample entries.
    let entry = stsd
        .children(8, "moov/trak/mdia/minf/stbl/stsd")?
        .into_iter()
        .next()
        .ok_or(Error::MissingBox {
            path: "moov/trak/mdia/minf/stbl/stsd sample entry",
        })?;

    let (trex_duration, trex_size, trex_flags) = match moov.child(b"mvex", "moov/mvex")? {
        Some(mvex) => read_trex(&mvex, track_id)?,
        None => (0, 0, 0),
    };

    let sample = match &handler.0 {
        b"vide" => video_sample_entry(&entry)?,
        b"soun" => audio_sample_entry(&entry, timescale)?,
        _ => return Err(Error::UnsupportedHandler { handler }),
    };
    Ok(InitInfo {
        codecs: sample.codecs,
        kind: sample.kind,
        video_codec: sample.video_codec,
        sample_entry: entry.fourcc,
        timescale,
        width: sample.width,
        height: sample.height,
        channels: sample.channels,
        sample_rate: sample.sample_rate,
        track_id,
        default_sample_duration: trex_duration,
        default_sample_size: trex_size,
        default_sample_flags: trex_flags,
        edit_media_time,
    })
}

fn read_tkhd_track_id(tkhd: &BoxRef<'_>) -> Result<u32> {
    let mut r = tkhd.reader("moov/trak/tkhd");
    let (version, _) = r.full_box()?;
    match version {
        0 => r.skip(8)?,
        1 => r.skip(16)?,
        v => return Err(unsupported_version(tkhd, v)),
    }
    r.u32()
}

fn read_mdhd_timescale(mdhd: &BoxRef<'_>) -> Result<u32> {
    let mut r = mdhd.reader("moov/trak/mdia/mdhd");
    let (version, _) = r.full_box()?;
    match version {
        0 => r.skip(8)?,
        1 => r.skip(16)?,
        v => return Err(unsupported_version(mdhd, v)),
    }
    r.u32()
}

fn read_hdlr(hdlr: &BoxRef<'_>) -> Result<FourCc> {
    let mut r = hdlr.reader("moov/trak/mdia/hdlr");
    r.full_box()?;
    r.skip(4)?; // pre_defined
    Ok(FourCc(r.array()?))
}

fn read_elst(elst: &BoxRef<'_>) -> Result<i64> {
    let mut r = elst.reader("moov/trak/edts/elst");
    let (version, _) = r.full_box()?;
    let count = r.u32()?;
    for _ in 0..count {
        let media_time = match version {
            0 => {
                r.skip(4)?;
                i64::from(r.i32()?)
            }
            1 => {
                r.skip(8)?;
                r.i64()?
            }
            v => return Err(unsupported_version(elst, v)),
        };
        r.skip(4)?; // media_rate_integer, media_rate_fraction
        // An empty edit (-1) only delays the start of the presentation; the first real edit
        // says which composition time is presented first.
        if media_time != -1 {
            return Ok(media_time);
        }
    }
    Ok(0)
}

fn read_trex(mvex: &BoxRef<'_>, track_id: u32) -> Result<(u32, u32, u32)> {
    for trex in mvex.children(0, "moov/mvex")? {
        if trex.fourcc.0 != *b"trex" {
            continue;
        }
        let mut r = trex.reader("moov/mvex/trex");
        r.full_box()?;
        if r.u32()? != track_id {
            continue;
        }
        r.skip(4)?; // default_sample_description_index
        return Ok((r.u32()?, r.u32()?, r.u32()?));
    }
    Ok((0, 0, 0))
}

fn unsupported_version(b: &BoxRef<'_>, version: u8) -> Error {
    Error::UnsupportedVersion {
        fourcc: b.fourcc,
        version,
    }
}

struct SampleEntryInfo {
    codecs: String,
    kind: TrackKind,
    video_codec: Option<VideoCodec>,
    width: Option<u32>,
    height: Option<u32>,
    channels: Option<u32>,
    sample_rate: Option<u32>,
}

/// Bytes of a VisualSampleEntry before its child boxes (ISO/IEC 14496-12 12.1.3).
const VISUAL_SAMPLE_ENTRY_FIELDS: usize = 78;

fn video_sample_entry(entry: &BoxRef<'_>) -> Result<SampleEntryInfo> {
    const CTX: &str = "visual sample entry";
    let mut r = entry.reader(CTX);
    r.skip(6 + 2 + 16)?; // reserved, data_reference_index, pre_defined/reserved
    let width = u32::from(r.u16()?);
    let height = u32::from(r.u16()?);
    let children = entry.children(VISUAL_SAMPLE_ENTRY_FIELDS, CTX)?;
    let config = |fourcc: &[u8; 4]| {
        children
            .iter()
            .find(|b| b.fourcc.0 == *fourcc)
            .ok_or(Error::InvalidCodecConfig {
                fourcc: entry.fourcc,
                reason: "configuration box missing",
            })
    };
    let tag = entry.fourcc;
    let (codecs, family) = match &tag.0 {
        b"avc1" | b"avc3" => (avc_codecs(tag, config(b"avcC")?)?, VideoCodec::H264),
        b"hvc1" | b"hev1" => (hevc_codecs(tag, config(b"hvcC")?)?, VideoCodec::H265),
        b"av01" => (av1_codecs(config(b"av1C")?)?, VideoCodec::Av1),
        b"vp09" => (vp9_codecs(config(b"vpcC")?)?, VideoCodec::Vp9),
        _ => return Err(Error::UnsupportedSampleEntry { fourcc: tag }),
    };
    Ok(SampleEntryInfo {
        codecs,
        kind: TrackKind::Video,
        video_codec: Some(family),
        width: Some(width),
        height: Some(height),
        channels: None,
        sample_rate: None,
    })
}

fn fourcc_str(tag: FourCc) -> String {
    tag.to_string()
}

/// `avc1.PPCCLL` from the first SPS in avcC, or from the record's own copy of those three
/// bytes when it carries no SPS (avc3 may keep parameter sets in band only).
fn avc_codecs(tag: FourCc, avcc: &BoxRef<'_>) -> Result<String> {
    let mut r = avcc.reader("avcC");
    let _version = r.u8()?;
    let header = [r.u8()?, r.u8()?, r.u8()?];
    r.skip(1)?; // lengthSizeMinusOne
    let num_sps = r.u8()? & 0x1f;
    let [p, c, l] = if num_sps > 0 {
        let len = usize::from(r.u16()?);
        sps_triplet(r.take(len)?)?
    } else {
        header
    };
    Ok(format!("{}.{p:02X}{c:02X}{l:02X}", fourcc_str(tag)))
}

/// `hvc1.<space><profile>.<compat>.<tier><level>[.<constraint bytes>]` (ISO/IEC 14496-15
/// Annex E): the compatibility flags in reverse bit order as hex without leading zeros, the
/// six constraint bytes as hex with trailing zero bytes left out.
fn hevc_codecs(tag: FourCc, hvcc: &BoxRef<'_>) -> Result<String> {
    let mut r = hvcc.reader("hvcC");
    let _version = r.u8()?;
    let b = r.u8()?;
    let profile_space = b >> 6;
    let tier = (b >> 5) & 1;
    let profile_idc = b & 0x1f;
    let compat = r.u32()?;
    let constraints: [u8; 6] = r.array()?;
    let level = r.u8()?;
    let space = ["", "A", "B", "C"][usize::from(profile_space)];
    let tier = if tier == 1 { 'H' } else { 'L' };
    let mut s = format!(
        "{}.{space}{profile_idc}.{:X}.{tier}{level}",
        fourcc_str(tag),
        compat.reverse_bits()
    );
    let kept = constraints
        .iter()
        .rposition(|&c| c != 0)
        .map_or(0, |last| last + 1);
    for c in &constraints[..kept] {
        s.push_str(&format!(".{c:02X}"));
    }
    Ok(s)
}

/// `av01.<profile>.<level:02><tier>.<bitdepth:02>`, the short form of the AV1 ISOBMFF
/// binding's codecs parameter (the optional colour fields are left out, so they default).
fn av1_codecs(av1c: &BoxRef<'_>) -> Result<String> {
    let mut r = av1c.reader("av1C");
    let marker_version = r.u8()?;
    if marker_version != 0x81 {
        return Err(Error::InvalidCodecConfig {
            fourcc: FourCc::new(b"av1C"),
            reason: "marker bit or version is not 1",
        });
    }
    let b1 = r.u8()?;
    let b2 = r.u8()?;
    let profile = b1 >> 5;
    let level = b1 & 0x1f;
    let tier = if b2 & 0x80 != 0 { 'H' } else { 'M' };
    let high_bitdepth = b2 & 0x40 != 0;
    let twelve_bit = b2 & 0x20 != 0;
    let bitdepth = match (high_bitdepth, twelve_bit) {
        (false, _) => 8,
        (true, false) => 10,
        (true, true) => 12,
    };
    Ok(format!("av01.{profile}.{level:02}{tier}.{bitdepth:02}"))
}

/// `vp09.<profile:02>.<level:02>.<bitdepth:02>` from vpcC (version 1, or the version 0 draft
/// layout, which shares the first three fields).
fn vp9_codecs(vpcc: &BoxRef<'_>) -> Result<String> {
    let mut r = vpcc.reader("vpcC");
    let (version, _) = r.full_box()?;
    if version > 1 {
        return Err(unsupported_version(vpcc, version));
    }
    let profile = r.u8()?;
    let level = r.u8()?;
    let bitdepth = r.u8()? >> 4;
    Ok(format!("vp09.{profile:02}.{level:02}.{bitdepth:02}"))
}

fn audio_sample_entry(entry: &BoxRef<'_>, timescale: u32) -> Result<SampleEntryInfo> {
    const CTX: &str = "audio sample entry";
    let mut r = entry.reader(CTX);
    r.skip(6 + 2)?; // reserved, data_reference_index
    // QuickTime sound description versions 1 and 2 (ffmpeg writes them into .mov, and some
    // muxers into .mp4) add fields after the common ones; ISO's AudioSampleEntry is version 0.
    let qt_version = r.u16()?;
    r.skip(6)?; // revision level, vendor
    let channels = u32::from(r.u16()?);
    r.skip(2 + 2 + 2)?; // samplesize, pre_defined, reserved
    let rate = r.u32()? >> 16;
    let extra = match qt_version {
        0 => 0,
        1 => 16,
        2 => 36,
        _ => {
            return Err(Error::InvalidCodecConfig {
                fourcc: entry.fourcc,
                reason: "unknown sound description version",
            });
        }
    };
    let children = entry.children(28 + extra, CTX)?;
    let tag = entry.fourcc;
    let codecs = match &tag.0 {
        b"mp4a" => {
            let esds = children.iter().find(|b| b.fourcc.0 == *b"esds").ok_or(
                Error::InvalidCodecConfig {
                    fourcc: tag,
                    reason: "esds missing",
                },
            )?;
            mp4a_codecs(esds)?
        }
        // Registered names without profile fields (mp4ra.org codecs list).
        b"Opus" => "opus".to_owned(),
        b"ac-3" => "ac-3".to_owned(),
        b"ec-3" => "ec-3".to_owned(),
        b"fLaC" => "flac".to_owned(),
        _ => return Err(Error::UnsupportedSampleEntry { fourcc: tag }),
    };
    Ok(SampleEntryInfo {
        codecs,
        kind: TrackKind::Audio,
        video_codec: None,
        width: None,
        height: None,
        channels: Some(channels),
        sample_rate: Some(if rate == 0 { timescale } else { rate }),
    })
}

const ESDS: FourCc = FourCc::new(b"esds");

fn esds_error(reason: &'static str) -> Error {
    Error::InvalidCodecConfig {
        fourcc: ESDS,
        reason,
    }
}

/// `mp4a.40.<audio object type>` for MPEG-4 audio (objectTypeIndication 0x40), else
/// `mp4a.<OTI as two hex digits>` (RFC 6381 section 3.3).
fn mp4a_codecs(esds: &BoxRef<'_>) -> Result<String> {
    let mut r = esds.reader("esds");
    r.full_box()?;
    let (tag, es) = read_descriptor(&mut r)?;
    if tag != 0x03 {
        return Err(esds_error("first descriptor is not an ES_Descriptor"));
    }
    let mut r = Reader::new(es, "esds ES_Descriptor");
    r.skip(2)?; // ES_ID
    let flags = r.u8()?;
    if flags & 0x80 != 0 {
        r.skip(2)?; // dependsOn_ES_ID
    }
    if flags & 0x40 != 0 {
        let len = usize::from(r.u8()?);
        r.skip(len)?; // URLstring
    }
    if flags & 0x20 != 0 {
        r.skip(2)?; // OCR_ES_Id
    }
    while r.remaining() > 0 {
        let (tag, body) = read_descriptor(&mut r)?;
        if tag != 0x04 {
            continue;
        }
        let mut d = Reader::new(body, "esds DecoderConfigDescriptor");
        let oti = d.u8()?;
        d.skip(1 + 3 + 4 + 4)?; // streamType/upStream, bufferSizeDB, maxBitrate, avgBitrate
        if oti != 0x40 {
            return Ok(format!("mp4a.{oti:02X}"));
        }
        while d.remaining() > 0 {
            let (tag, asc) = read_descriptor(&mut d)?;
            if tag == 0x05 {
                return Ok(format!("mp4a.40.{}", audio_object_type(asc)?));
            }
        }
        return Err(esds_error("MPEG-4 audio without an AudioSpecificConfig"));
    }
    Err(esds_error("no DecoderConfigDescriptor"))
}

/// One descriptor of ISO/IEC 14496-1: a tag, then a size in up to four 7-bit groups.
fn read_descriptor<'a>(r: &mut Reader<'a>) -> Result<(u8, &'a [u8])> {
    let tag = r.u8()?;
    let mut size = 0usize;
    for _ in 0..4 {
        let b = r.u8()?;
        size = (size << 7) | usize::from(b & 0x7f);
        if b & 0x80 == 0 {
            break;
        }
    }
    Ok((tag, r.take(size)?))
}

/// audioObjectType of an AudioSpecificConfig: 5 bits, escaped by 31 into 32 + 6 more bits.
fn audio_object_type(asc: &[u8]) -> Result<u8> {
    let first = *asc.first().ok_or(esds_error("empty AudioSpecificConfig"))?;
    let aot = first >> 3;
    if aot != 31 {
        return Ok(aot);
    }
    let second = *asc
        .get(1)
        .ok_or(esds_error("truncated AudioSpecificConfig"))?;
    Ok(32 + (((first & 0x07) << 3) | (second >> 5)))
}

#[cfg(test)]
mod tests {
    use super::*;

    // SPS NAL units copied from the avcC boxes of fixtures/codec-samples/*/init.mp4. The
    // expected strings are what GStreamer 1.22 reports for the same streams
    // (EXPECTED-gstreamer.txt), and match ffprobe's profile/level there.

    /// x264 (ffmpeg libx264 -profile:v high -level:v 3.0): ffprobe High, level 30.
    const SPS_X264_HIGH_L30: [u8; 23] = [
        0x67, 0x64, 0x00, 0x1e, 0xac, 0xd9, 0x41, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x3e, 0x90,
        0x00, 0x0e, 0xa6, 0x00, 0xf1, 0x62, 0xd9, 0x60,
    ];
    /// x264 (ffmpeg libx264 -profile:v main -level:v 3.1): ffprobe Main, level 31.
    const SPS_X264_MAIN_L31: [u8; 22] = [
        0x67, 0x4d, 0x40, 0x1f, 0xec, 0xa0, 0xa0, 0xfd, 0x80, 0x88, 0x00, 0x00, 0x1f, 0x48, 0x00,
        0x07, 0x53, 0x00, 0x78, 0xc1, 0x8c, 0xb0,
    ];
    /// x264 (GStreamer x264enc, caps profile=constrained-baseline): ffprobe Constrained
    /// Baseline, level 13.
    const SPS_X264_CONSTRAINED_BASELINE_L13: [u8; 25] = [
        0x67, 0x42, 0xc0, 0x0d, 0xda, 0x05, 0x07, 0xec, 0x05, 0xa8, 0x30, 0x30, 0x35, 0x28, 0x00,
        0x00, 0x1f, 0x48, 0x00, 0x07, 0x53, 0x04, 0x78, 0xa1, 0x55,
    ];

    #[test]
    fn sps_from_real_x264_streams() {
        assert_eq!(avc1_from_sps(&SPS_X264_HIGH_L30).unwrap(), "avc1.64001E");
        assert_eq!(avc1_from_sps(&SPS_X264_MAIN_L31).unwrap(), "avc1.4D401F");
        assert_eq!(
            avc1_from_sps(&SPS_X264_CONSTRAINED_BASELINE_L13).unwrap(),
            "avc1.42C00D"
        );
    }

    #[test]
    fn sps_in_annex_b_form() {
        let mut annex_b = vec![0, 0, 0, 1];
        annex_b.extend_from_slice(&SPS_X264_HIGH_L30);
        assert_eq!(avc1_from_sps(&annex_b).unwrap(), "avc1.64001E");
        let mut short = vec![0, 0, 1];
        short.extend_from_slice(&SPS_X264_MAIN_L31);
        assert_eq!(avc1_from_sps(&short).unwrap(), "avc1.4D401F");
    }

    #[test]
    fn sps_with_start_code_and_emulation_prevention() {
        // profile_idc 0 (invalid but syntactically possible) and a zero constraint byte make
        // the encoder insert 0x03 before the level byte.
        let nal = [0, 0, 0, 1, 0x67, 0x00, 0x00, 0x03, 0x01, 0xff];
        assert_eq!(avc1_from_sps(&nal).unwrap(), "avc1.000001");
    }

    #[test]
    fn sps_rejects_other_nal_types() {
        // A PPS (nal_unit_type 8).
        let err = avc1_from_sps(&[0x68, 0xee, 0x3c, 0x80]).unwrap_err();
        assert!(matches!(err, Error::NotAnSps { nal_unit_type: 8 }), "{err}");
    }

    #[test]
    fn sps_too_short() {
        assert!(matches!(
            avc1_from_sps(&[0x67, 0x64]).unwrap_err(),
            Error::Truncated { .. }
        ));
        assert!(matches!(
            avc1_from_sps(&[]).unwrap_err(),
            Error::Truncated { .. }
        ));
    }

    #[test]
    fn aot_escape() {
        // 11111 000001 -> 32 + 1 = 33
        assert_eq!(audio_object_type(&[0xf8, 0x20]).unwrap(), 33);
        assert_eq!(audio_object_type(&[0x12, 0x10]).unwrap(), 2);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for len in 0..64 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let _ = from_init_segment(&junk);
        }
        // A box claiming more bytes than there are.
        let err = from_init_segment(&[0, 0, 0, 100, b'm', b'o', b'o', b'v']).unwrap_err();
        assert!(matches!(err, Error::BadBoxSize { .. }), "{err}");
    }
}
