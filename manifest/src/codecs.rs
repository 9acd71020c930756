//! RFC 6381 codec strings and track facts read from real bitstreams.
//!
//! - [`avc1_from_sps`]: `avc1.PPCCLL` from an H.264 sequence parameter set NAL unit.
//! - [`h264_max_reorder_frames`], [`h265_max_reorder_frames`]: how many frames a stream
//!   reorders (B-frames), from its SPS ([`avcc_first_sps`], [`hvcc_first_sps`] find it in
//!   the configuration records); what a copied stream's presentation delay must cover.
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
            role: Default::default(),
            video_range: None,
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
    let mut out = Vec::with_capacity(want.min(payload.len()));
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

/// How many frames an H.264 stream may hold back before output (frames that follow a
/// picture in decode order but precede it on screen: B-frames), as its SPS states it:
/// the VUI's `max_num_reorder_frames`. `None` when the SPS has no VUI or its VUI no
/// bitstream restriction (the standard then only bounds it by the DPB size).
///
/// `sps_nal` is one SPS NAL unit, with or without a leading Annex B start code.
pub fn h264_max_reorder_frames(sps_nal: &[u8]) -> Result<Option<u32>> {
    let nal = strip_start_code(sps_nal);
    let header = *nal.first().ok_or(Error::Truncated { context: "H.264 SPS", needed: 1, available: 0 })?;
    let nal_unit_type = header & 0x1f;
    if nal_unit_type != 7 {
        return Err(Error::NotAnSps { nal_unit_type });
    }
    let rbsp = unescape_rbsp(&nal[1..], usize::MAX);
    let mut b = Bits::new(&rbsp, "H.264 SPS");
    let profile_idc = b.bits(8)?;
    b.skip(16)?; // constraint flags, level_idc
    b.ue()?; // seq_parameter_set_id
    if matches!(profile_idc, 100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135) {
        let chroma_format_idc = b.ue()?;
        if chroma_format_idc == 3 {
            b.skip(1)?; // separate_colour_plane_flag
        }
        b.ue()?; // bit_depth_luma_minus8
        b.ue()?; // bit_depth_chroma_minus8
        b.skip(1)?; // qpprime_y_zero_transform_bypass_flag
        if b.flag()? {
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..lists {
                if b.flag()? {
                    skip_scaling_list(&mut b, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }
    b.ue()?; // log2_max_frame_num_minus4
    match b.ue()? {
        0 => {
            b.ue()?; // log2_max_pic_order_cnt_lsb_minus4
        }
        1 => {
            b.skip(1)?; // delta_pic_order_always_zero_flag
            b.se()?; // offset_for_non_ref_pic
            b.se()?; // offset_for_top_to_bottom_field
            let cycle = b.ue()?;
            if cycle > 255 {
                return Err(Error::BadSps { reason: "num_ref_frames_in_pic_order_cnt_cycle above 255" });
            }
            for _ in 0..cycle {
                b.se()?;
            }
        }
        2 => {}
        _ => return Err(Error::BadSps { reason: "pic_order_cnt_type above 2" }),
    }
    b.ue()?; // max_num_ref_frames
    b.skip(1)?; // gaps_in_frame_num_value_allowed_flag
    b.ue()?; // pic_width_in_mbs_minus1
    b.ue()?; // pic_height_in_map_units_minus1
    if !b.flag()? {
        b.skip(1)?; // mb_adaptive_frame_field_flag
    }
    b.skip(1)?; // direct_8x8_inference_flag
    if b.flag()? {
        for _ in 0..4 {
            b.ue()?; // frame_crop_{left,right,top,bottom}_offset
        }
    }
    if !b.flag()? {
        return Ok(None); // no VUI
    }
    if b.flag()? && b.bits(8)? == 255 {
        b.skip(32)?; // sar_width, sar_height
    }
    if b.flag()? {
        b.skip(1)?; // overscan_appropriate_flag
    }
    if b.flag()? {
        b.skip(4)?; // video_format, video_full_range_flag
        if b.flag()? {
            b.skip(24)?; // colour_primaries, transfer_characteristics, matrix_coefficients
        }
    }
    if b.flag()? {
        b.ue()?; // chroma_sample_loc_type_top_field
        b.ue()?; // chroma_sample_loc_type_bottom_field
    }
    if b.flag()? {
        b.skip(65)?; // num_units_in_tick, time_scale, fixed_frame_rate_flag
    }
    let nal_hrd = b.flag()?;
    if nal_hrd {
        skip_hrd(&mut b)?;
    }
    let vcl_hrd = b.flag()?;
    if vcl_hrd {
        skip_hrd(&mut b)?;
    }
    if nal_hrd || vcl_hrd {
        b.skip(1)?; // low_delay_hrd_flag
    }
    b.skip(1)?; // pic_struct_present_flag
    if !b.flag()? {
        return Ok(None); // no bitstream restriction
    }
    b.skip(1)?; // motion_vectors_over_pic_boundaries_flag
    for _ in 0..4 {
        // max_bytes_per_pic_denom, max_bits_per_mb_denom, log2_max_mv_length_{horizontal,vertical}
        b.ue()?;
    }
    let reorder = b.ue()?;
    let dpb = b.ue()?; // max_dec_frame_buffering
    if reorder > dpb || dpb > 16 {
        return Err(Error::BadSps { reason: "max_num_reorder_frames above max_dec_frame_buffering or 16" });
    }
    Ok(Some(reorder))
}

/// The first SPS NAL unit of an AVCDecoderConfigurationRecord (the payload of `avcC`,
/// GStreamer's `codec_data` for `stream-format=avc`), if it carries one.
pub fn avcc_first_sps(record: &[u8]) -> Result<Option<&[u8]>> {
    let mut r = Reader::new(record, "avcC");
    let version = r.u8()?;
    if version != 1 {
        return Err(Error::InvalidCodecConfig { fourcc: FourCc(*b"avcC"), reason: "configurationVersion is not 1" });
    }
    r.skip(4)?; // profile, compatibility, level, lengthSizeMinusOne
    if r.u8()? & 0x1f == 0 {
        return Ok(None);
    }
    let len = usize::from(r.u16()?);
    r.take(len).map(Some)
}

fn skip_scaling_list(b: &mut Bits<'_>, size: usize) -> Result<()> {
    let (mut last, mut next) = (8i64, 8i64);
    for _ in 0..size {
        if next != 0 {
            let delta = b.se()?;
            if !(-128..=127).contains(&delta) {
                return Err(Error::BadSps { reason: "delta_scale outside -128..127" });
            }
            next = (last + delta + 256) % 256;
        }
        if next != 0 {
            last = next;
        }
    }
    Ok(())
}

fn skip_hrd(b: &mut Bits<'_>) -> Result<()> {
    let cpb_cnt = b.ue()? + 1;
    if cpb_cnt > 32 {
        return Err(Error::BadSps { reason: "cpb_cnt_minus1 above 31" });
    }
    b.skip(8)?; // bit_rate_scale, cpb_size_scale
    for _ in 0..cpb_cnt {
        b.ue()?; // bit_rate_value_minus1
        b.ue()?; // cpb_size_value_minus1
        b.skip(1)?; // cbr_flag
    }
    b.skip(20) // four 5-bit delay and length fields
}

/// A big-endian bit reader over an RBSP (emulation prevention already removed).
struct Bits<'a> {
    context: &'static str,
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8], context: &'static str) -> Self {
        Bits { context, data, pos: 0 }
    }

    fn truncated(&self, more: usize) -> Error {
        Error::Truncated { context: self.context, needed: (self.pos + more).div_ceil(8), available: self.data.len() }
    }

    fn flag(&mut self) -> Result<bool> {
        let byte = *self.data.get(self.pos / 8).ok_or_else(|| self.truncated(1))?;
        let bit = byte >> (7 - self.pos % 8) & 1;
        self.pos += 1;
        Ok(bit == 1)
    }

    fn bits(&mut self, n: u32) -> Result<u32> {
        debug_assert!(n <= 32);
        let mut v = 0u32;
        for _ in 0..n {
            v = v << 1 | u32::from(self.flag()?);
        }
        Ok(v)
    }

    fn skip(&mut self, n: usize) -> Result<()> {
        if self.pos + n > self.data.len() * 8 {
            return Err(self.truncated(n));
        }
        self.pos += n;
        Ok(())
    }

    /// ue(v): Exp-Golomb, up to 31 leading zeros (values up to 2^32 - 2).
    fn ue(&mut self) -> Result<u32> {
        let mut zeros = 0;
        while !self.flag()? {
            zeros += 1;
            if zeros > 31 {
                return Err(Error::BadSps { reason: "Exp-Golomb code longer than 32 bits" });
            }
        }
        let rest = self.bits(zeros)?;
        Ok(((1u64 << zeros) - 1 + u64::from(rest)) as u32)
    }

    /// se(v): signed Exp-Golomb.
    fn se(&mut self) -> Result<i64> {
        let k = i64::from(self.ue()?);
        Ok(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) })
    }
}

/// HEVC's counterpart of [`h264_max_reorder_frames`]: `sps_max_num_reorder_pics` of the
/// highest sub-layer, which every HEVC SPS states.
///
/// `sps_nal` is one SPS NAL unit (type 33), with or without a leading Annex B start code.
pub fn h265_max_reorder_frames(sps_nal: &[u8]) -> Result<u32> {
    let nal = strip_start_code(sps_nal);
    if nal.len() < 2 {
        return Err(Error::Truncated { context: "H.265 SPS", needed: 2, available: nal.len() });
    }
    let nal_unit_type = (nal[0] >> 1) & 0x3f;
    if nal_unit_type != 33 {
        return Err(Error::NotAnSps { nal_unit_type });
    }
    let rbsp = unescape_rbsp(&nal[2..], usize::MAX);
    let mut b = Bits::new(&rbsp, "H.265 SPS");
    b.skip(4)?; // sps_video_parameter_set_id
    let sub_layers = b.bits(3)? as usize; // sps_max_sub_layers_minus1
    b.skip(1)?; // sps_temporal_id_nesting_flag
    // profile_tier_level(1, sps_max_sub_layers_minus1)
    b.skip(96)?; // general profile, tier, flags and level
    let mut present = Vec::with_capacity(sub_layers);
    for _ in 0..sub_layers {
        present.push((b.flag()?, b.flag()?)); // sub_layer_{profile,level}_present_flag
    }
    if sub_layers > 0 {
        b.skip(2 * (8 - sub_layers))?; // reserved_zero_2bits
    }
    for (profile, level) in present {
        b.skip(if profile { 88 } else { 0 } + if level { 8 } else { 0 })?;
    }
    b.ue()?; // sps_seq_parameter_set_id
    if b.ue()? == 3 {
        b.skip(1)?; // separate_colour_plane_flag
    }
    b.ue()?; // pic_width_in_luma_samples
    b.ue()?; // pic_height_in_luma_samples
    if b.flag()? {
        for _ in 0..4 {
            b.ue()?; // conf_win_{left,right,top,bottom}_offset
        }
    }
    b.ue()?; // bit_depth_luma_minus8
    b.ue()?; // bit_depth_chroma_minus8
    b.ue()?; // log2_max_pic_order_cnt_lsb_minus4
    let first = if b.flag()? { 0 } else { sub_layers };
    let mut reorder = 0;
    for _ in first..=sub_layers {
        let dpb = b.ue()?.saturating_add(1); // sps_max_dec_pic_buffering_minus1
        reorder = b.ue()?; // sps_max_num_reorder_pics
        b.ue()?; // sps_max_latency_increase_plus1
        if reorder > dpb || dpb > 16 {
            return Err(Error::BadSps { reason: "sps_max_num_reorder_pics above sps_max_dec_pic_buffering or 16" });
        }
    }
    Ok(reorder)
}

/// The first SPS NAL unit of an HEVCDecoderConfigurationRecord (the payload of `hvcC`,
/// GStreamer's `codec_data` for `stream-format=hvc1|hev1`), if it carries one.
pub fn hvcc_first_sps(record: &[u8]) -> Result<Option<&[u8]>> {
    let mut r = Reader::new(record, "hvcC");
    if r.u8()? != 1 {
        return Err(Error::InvalidCodecConfig { fourcc: FourCc(*b"hvcC"), reason: "configurationVersion is not 1" });
    }
    r.skip(21)?; // profile, tier, level, ... lengthSizeMinusOne
    let arrays = r.u8()?;
    for _ in 0..arrays {
        let nal_unit_type = r.u8()? & 0x3f;
        let count = r.u16()?;
        for _ in 0..count {
            let len = usize::from(r.u16()?);
            let nal = r.take(len)?;
            if nal_unit_type == 33 {
                return Ok(Some(nal));
            }
        }
    }
    Ok(None)
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

    /// x264 with NAL HRD parameters (`nal-hrd=vbr`, one B-frame, no pyramid) and an
    /// emulation prevention byte: ffmpeg's trace_headers reads max_num_reorder_frames = 1.
    const SPS_X264_HRD_ONE_BFRAME: [u8; 34] = [
        0x67, 0x64, 0x00, 0x0d, 0xac, 0xe4, 0x05, 0x07, 0xec, 0x04, 0x40, 0x00, 0x00, 0x03, 0x00,
        0x40, 0x00, 0x00, 0x0f, 0x18, 0x10, 0x00, 0x7a, 0x10, 0x00, 0x1e, 0x84, 0xa6, 0x93, 0x00,
        0x78, 0xa1, 0x48, 0x90,
    ];
    /// x265 (ffmpeg libx265, bframes=4): trace_headers reads sps_max_num_reorder_pics = 2.
    const SPS_X265_BFRAMES: [u8; 42] = [
        0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00,
        0x03, 0x00, 0x3c, 0xa0, 0x0a, 0x08, 0x0f, 0x16, 0x59, 0x59, 0xa4, 0x93, 0x2b, 0xc0, 0x5a,
        0x02, 0x00, 0x00, 0x03, 0x00, 0x02, 0x00, 0x00, 0x03, 0x00, 0x3c, 0x10,
    ];
    /// x265 with bframes=0: sps_max_num_reorder_pics = 0.
    const SPS_X265_NO_BFRAMES: [u8; 41] = [
        0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00,
        0x03, 0x00, 0x3c, 0xa0, 0x0a, 0x08, 0x0f, 0x16, 0x59, 0x2a, 0x49, 0x32, 0xbc, 0x05, 0xa0,
        0x20, 0x00, 0x00, 0x03, 0x00, 0x20, 0x00, 0x00, 0x03, 0x03, 0xc1,
    ];

    #[test]
    fn reorder_depth_of_real_x264_streams() {
        // Expected values are ffmpeg trace_headers' reading of the same SPSs.
        assert_eq!(h264_max_reorder_frames(&SPS_X264_HIGH_L30).unwrap(), Some(2));
        assert_eq!(h264_max_reorder_frames(&SPS_X264_MAIN_L31).unwrap(), Some(2));
        assert_eq!(h264_max_reorder_frames(&SPS_X264_CONSTRAINED_BASELINE_L13).unwrap(), Some(0));
        assert_eq!(h264_max_reorder_frames(&SPS_X264_HRD_ONE_BFRAME).unwrap(), Some(1));
    }

    #[test]
    fn reorder_depth_of_real_x265_streams() {
        assert_eq!(h265_max_reorder_frames(&SPS_X265_BFRAMES).unwrap(), 2);
        assert_eq!(h265_max_reorder_frames(&SPS_X265_NO_BFRAMES).unwrap(), 0);
        let mut annex_b = vec![0, 0, 0, 1];
        annex_b.extend_from_slice(&SPS_X265_BFRAMES);
        assert_eq!(h265_max_reorder_frames(&annex_b).unwrap(), 2);
    }

    /// Writes an SPS bit by bit, for the syntax real encoders rarely emit.
    #[derive(Default)]
    struct BitWriter {
        bits: Vec<bool>,
    }

    impl BitWriter {
        fn u(&mut self, n: u32, v: u64) -> &mut Self {
            for i in (0..n).rev() {
                self.bits.push(v >> i & 1 == 1);
            }
            self
        }
        fn ue(&mut self, v: u64) -> &mut Self {
            let len = 64 - (v + 1).leading_zeros();
            self.u(len - 1, 0).u(len, v + 1)
        }
        fn se(&mut self, v: i64) -> &mut Self {
            self.ue(if v > 0 { 2 * v as u64 - 1 } else { (-2 * v) as u64 })
        }
        /// Stop bit, zero padding, emulation prevention, NAL header in front.
        fn nal(&mut self, header: &[u8]) -> Vec<u8> {
            self.bits.push(true);
            while !self.bits.len().is_multiple_of(8) {
                self.bits.push(false);
            }
            let mut out = header.to_vec();
            let mut zeros = 0;
            for byte in self.bits.chunks(8).map(|c| c.iter().fold(0u8, |a, &b| a << 1 | u8::from(b))) {
                if zeros >= 2 && byte <= 3 {
                    out.push(3);
                    zeros = 0;
                }
                zeros = if byte == 0 { zeros + 1 } else { 0 };
                out.push(byte);
            }
            out
        }
    }

    /// High 4:4:4 profile, scaling lists (one cut short by a zero scale, one long),
    /// picture order count type 1, field coding, cropping and a VUI with every optional
    /// part before the bitstream restriction.
    fn synthetic_h264_sps(restriction: Option<(u64, u64)>) -> Vec<u8> {
        let mut w = BitWriter::default();
        w.u(8, 244).u(8, 0).u(8, 40).ue(0); // profile, constraints, level, sps id
        w.ue(3).u(1, 0).ue(2).ue(2).u(1, 0); // chroma 4:4:4, 10-bit
        w.u(1, 1); // seq_scaling_matrix_present_flag: 12 lists
        for i in 0..12 {
            match i {
                0 => {
                    w.u(1, 1).se(-8); // next scale 0 at once: the rest of the list is implied
                }
                6 => {
                    w.u(1, 1);
                    for j in 0..64 {
                        w.se(if j % 2 == 0 { 3 } else { -2 });
                    }
                }
                _ => {
                    w.u(1, 0);
                }
            }
        }
        w.ue(4); // log2_max_frame_num_minus4
        w.ue(1).u(1, 0).se(-3).se(5).ue(3).se(1).se(-1).se(2); // POC type 1, 3 cycle offsets
        w.ue(4).u(1, 0).ue(119).ue(33); // refs, gaps, 1920 x 1088 (field pairs)
        w.u(1, 0).u(1, 1).u(1, 1); // not frame-only, MBAFF, direct_8x8
        w.u(1, 1).ue(0).ue(0).ue(0).ue(4); // cropping
        w.u(1, 1); // VUI
        w.u(1, 1).u(8, 255).u(16, 4).u(16, 3); // extended SAR
        w.u(1, 1).u(1, 0); // overscan
        w.u(1, 1).u(3, 5).u(1, 0).u(1, 1).u(24, 0x010101); // signal type + colour
        w.u(1, 1).ue(1).ue(1); // chroma location
        w.u(1, 1).u(32, 1001).u(32, 60000).u(1, 1); // timing
        w.u(1, 1).ue(1).u(4, 2).u(4, 3).ue(5000).ue(9000).u(1, 0).ue(7000).ue(12000).u(1, 1).u(20, 0x8c631); // NAL HRD, 2 CPBs
        w.u(1, 0); // no VCL HRD
        w.u(1, 0).u(1, 1); // low_delay_hrd, pic_struct_present
        match restriction {
            None => w.u(1, 0),
            Some((reorder, dpb)) => w.u(1, 1).u(1, 1).ue(2).ue(1).ue(16).ue(16).ue(reorder).ue(dpb),
        };
        w.nal(&[0x67])
    }

    #[test]
    fn reorder_depth_through_every_part_of_an_h264_sps() {
        assert_eq!(h264_max_reorder_frames(&synthetic_h264_sps(Some((3, 4)))).unwrap(), Some(3));
        assert_eq!(h264_max_reorder_frames(&synthetic_h264_sps(Some((0, 1)))).unwrap(), Some(0));
        assert_eq!(h264_max_reorder_frames(&synthetic_h264_sps(None)).unwrap(), None);
        assert!(matches!(h264_max_reorder_frames(&synthetic_h264_sps(Some((5, 4)))), Err(Error::BadSps { .. })));
        // Without a VUI.
        let mut w = BitWriter::default();
        w.u(8, 66).u(8, 0xc0).u(8, 30).ue(0).ue(0).ue(2).ue(1).u(1, 0).ue(19).ue(14).u(1, 1).u(1, 1).u(1, 0).u(1, 0);
        assert_eq!(h264_max_reorder_frames(&w.nal(&[0x67])).unwrap(), None);
    }

    #[test]
    fn reorder_depth_refuses_what_is_not_an_sps() {
        let sps = synthetic_h264_sps(Some((3, 4)));
        for cut in [1, 4, 20, sps.len() - 3] {
            assert!(
                matches!(h264_max_reorder_frames(&sps[..cut]), Err(Error::Truncated { context: "H.264 SPS", .. })),
                "cut at {cut}"
            );
        }
        assert!(matches!(h264_max_reorder_frames(&[0x68, 0xee, 0x3c, 0x80]), Err(Error::NotAnSps { nal_unit_type: 8 })));
        assert!(matches!(h265_max_reorder_frames(&SPS_X264_HIGH_L30), Err(Error::NotAnSps { .. })));
        assert!(matches!(h265_max_reorder_frames(&SPS_X265_BFRAMES[..20]), Err(Error::Truncated { context: "H.265 SPS", .. })));
        // 33 leading zeros: no Exp-Golomb code that long fits in 32 bits.
        let mut w = BitWriter::default();
        w.u(8, 100).u(8, 0).u(8, 40).u(33, 0).u(8, 0xff);
        assert!(matches!(h264_max_reorder_frames(&w.nal(&[0x67])), Err(Error::BadSps { .. })));
    }

    /// Two sub-layers, the first with profile and level information, ordering info for
    /// each: the highest sub-layer's value is the stream's.
    #[test]
    fn reorder_depth_of_an_h265_sps_with_sub_layers() {
        for (per_layer, expected) in [(true, 3), (false, 3)] {
            let mut w = BitWriter::default();
            w.u(4, 0).u(3, 1).u(1, 1); // vps id, max_sub_layers_minus1 = 1, nesting
            w.u(32, 0x0160_0000).u(32, 0).u(32, 0x5d); // general profile/tier/level
            w.u(1, 1).u(1, 1).u(14, 0); // sub-layer 0: profile + level present; reserved
            w.u(32, 0x0160_0000).u(32, 0).u(24, 0).u(8, 0x5a);
            w.ue(0).ue(1).ue(1280).ue(720).u(1, 1).ue(0).ue(0).ue(0).ue(4); // 4:2:0 1280x720, cropped
            w.ue(0).ue(0).ue(4); // 8-bit, POC lsb bits
            if per_layer {
                w.u(1, 1).ue(2).ue(1).ue(0).ue(4).ue(3).ue(0);
            } else {
                w.u(1, 0).ue(4).ue(3).ue(0);
            }
            w.ue(0); // what follows is not read
            let sps = w.nal(&[0x42, 0x01]);
            assert_eq!(h265_max_reorder_frames(&sps).unwrap(), expected, "ordering info per layer: {per_layer}");
        }
    }

    #[test]
    fn first_sps_of_configuration_records() {
        let mut avcc = vec![1, 0x64, 0x00, 0x1e, 0xff, 0xe1];
        avcc.extend_from_slice(&(SPS_X264_HIGH_L30.len() as u16).to_be_bytes());
        avcc.extend_from_slice(&SPS_X264_HIGH_L30);
        avcc.extend_from_slice(&[1, 0, 4, 0x68, 0xeb, 0xe3, 0xcb]);
        assert_eq!(avcc_first_sps(&avcc).unwrap(), Some(&SPS_X264_HIGH_L30[..]));
        assert_eq!(avcc_first_sps(&[1, 0x64, 0, 0x1e, 0xff, 0xe0, 0]).unwrap(), None);
        assert!(avcc_first_sps(&avcc[..10]).is_err());

        // hvcC: a VPS array, then the SPS array.
        let mut hvcc = vec![1];
        hvcc.extend_from_slice(&[0; 21]);
        hvcc.push(2);
        hvcc.extend_from_slice(&[0x80 | 32, 0, 1, 0, 3, 0x40, 0x01, 0x0c]);
        hvcc.extend_from_slice(&[0x80 | 33, 0, 1]);
        hvcc.extend_from_slice(&(SPS_X265_BFRAMES.len() as u16).to_be_bytes());
        hvcc.extend_from_slice(&SPS_X265_BFRAMES);
        assert_eq!(hvcc_first_sps(&hvcc).unwrap(), Some(&SPS_X265_BFRAMES[..]));
        assert!(hvcc_first_sps(&hvcc[..hvcc.len() - 1]).is_err());
        hvcc[0] = 0;
        assert!(hvcc_first_sps(&hvcc).is_err());
    }
}
