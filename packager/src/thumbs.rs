//! Thumbnails: a poster frame that is not a black or blank opening, and
//! trick-play sprite sheets with a WebVTT index.
//!
//! Both work on small RGB frames handed over by the pipeline; memory is bounded
//! by one sprite sheet whatever the source's length.

use std::fmt::Write as _;

use crate::error::Error;

/// How far into the source the poster search looks before settling for the
/// most detailed frame seen.
pub const POSTER_SEARCH_NS: u64 = 60 * 1_000_000_000;
pub use manifest::model::{SPRITE_COLUMNS, SPRITE_ROWS};
pub const TILE_WIDTH: u32 = 160;
const JPEG_QUALITY: u8 = 85;

/// An RGB frame, tightly packed (stride = width * 3).
pub struct RgbFrame<'a> {
    pub width: u32,
    pub height: u32,
    pub stride: usize,
    pub data: &'a [u8],
}

/// Mean and standard deviation of luma (BT.709 weights, 0..255).
pub fn luma_stats(f: &RgbFrame<'_>) -> (f64, f64) {
    let mut sum = 0f64;
    let mut sum_sq = 0f64;
    let mut n = 0f64;
    // Every 4th pixel of every 4th row is plenty for a blank-frame test.
    for y in (0..f.height as usize).step_by(4) {
        let row = &f.data[y * f.stride..y * f.stride + f.width as usize * 3];
        for px in row.chunks_exact(3).step_by(4) {
            let l = 0.2126 * px[0] as f64 + 0.7152 * px[1] as f64 + 0.0722 * px[2] as f64;
            sum += l;
            sum_sq += l * l;
            n += 1.0;
        }
    }
    if n == 0.0 {
        return (0.0, 0.0);
    }
    let mean = sum / n;
    (mean, (sum_sq / n - mean * mean).max(0.0).sqrt())
}

/// A frame is blank when it is near-black, near-white or nearly flat (fades,
/// slates in one colour).
pub fn is_blank(mean: f64, stddev: f64) -> bool {
    !(20.0..=235.0).contains(&mean) || stddev < 10.0
}

pub fn encode_jpeg(width: u32, height: u32, rgb: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY);
    image::ImageEncoder::write_image(enc, rgb, width, height, image::ExtendedColorType::Rgb8)
        .map_err(|e| Error::Thumbnail(e.to_string()))?;
    Ok(out)
}

/// Picks the poster: the first non-blank frame, else the most detailed one.
#[derive(Default)]
pub struct PosterPicker {
    best: Option<(f64, u32, u32, Vec<u8>)>,
    decided: bool,
}

impl PosterPicker {
    pub fn decided(&self) -> bool {
        self.decided
    }

    /// Offer a frame at `pts_ns`; returns true once the poster is settled.
    pub fn offer(&mut self, pts_ns: u64, f: &RgbFrame<'_>) -> bool {
        if self.decided {
            return true;
        }
        let (mean, stddev) = luma_stats(f);
        let blank = is_blank(mean, stddev);
        if !blank || self.best.as_ref().is_none_or(|b| stddev > b.0) {
            let mut packed = Vec::with_capacity((f.width * f.height * 3) as usize);
            for y in 0..f.height as usize {
                packed.extend_from_slice(&f.data[y * f.stride..y * f.stride + f.width as usize * 3]);
            }
            self.best = Some((stddev, f.width, f.height, packed));
        }
        self.decided = !blank || pts_ns >= POSTER_SEARCH_NS;
        self.decided
    }

    pub fn finish(&mut self) -> Result<Option<(u32, u32, Vec<u8>)>, Error> {
        self.decided = true;
        match self.best.take() {
            Some((_, w, h, rgb)) => Ok(Some((w, h, encode_jpeg(w, h, &rgb)?))),
            None => Ok(None),
        }
    }
}

/// One finished sprite sheet.
pub struct Sheet {
    pub number: u32,
    pub width: u32,
    pub height: u32,
    pub jpeg: Vec<u8>,
}

/// Fills sprite sheets of `SPRITE_COLUMNS x SPRITE_ROWS` tiles and writes the
/// WebVTT cues that point into them.
pub struct SpriteBuilder {
    pub tile_width: u32,
    pub tile_height: u32,
    pub interval_ns: u64,
    sheet: Vec<u8>,
    tiles_in_sheet: u32,
    sheets_done: u32,
    tiles_total: u64,
    vtt: String,
}

impl SpriteBuilder {
    pub fn new(tile_width: u32, tile_height: u32, interval_ns: u64) -> Self {
        SpriteBuilder {
            tile_width,
            tile_height,
            interval_ns,
            sheet: Vec::new(),
            tiles_in_sheet: 0,
            sheets_done: 0,
            tiles_total: 0,
            vtt: String::from("WEBVTT\n"),
        }
    }

    fn sheet_size(&self, tiles: u32) -> (u32, u32) {
        let cols = tiles.min(SPRITE_COLUMNS);
        let rows = tiles.div_ceil(SPRITE_COLUMNS);
        (cols * self.tile_width, rows * self.tile_height)
    }

    /// Adds a tile; returns a sheet when this tile filled one.
    pub fn push(&mut self, f: &RgbFrame<'_>, duration_ns: u64) -> Result<Option<Sheet>, Error> {
        if f.width != self.tile_width || f.height != self.tile_height {
            return Err(Error::Thumbnail(format!(
                "tile is {}x{}, expected {}x{}",
                f.width, f.height, self.tile_width, self.tile_height
            )));
        }
        if self.tiles_total * self.interval_ns >= duration_ns {
            // videorate may repeat a frame past the end; it would get a cue of no length.
            return Ok(None);
        }
        let full = (SPRITE_COLUMNS * self.tile_width) as usize * 3;
        if self.sheet.is_empty() {
            self.sheet = vec![0u8; full * (SPRITE_ROWS * self.tile_height) as usize];
        }
        let (col, row) = (self.tiles_in_sheet % SPRITE_COLUMNS, self.tiles_in_sheet / SPRITE_COLUMNS);
        let row_bytes = self.tile_width as usize * 3;
        for y in 0..self.tile_height as usize {
            let dst = (row as usize * self.tile_height as usize + y) * full + col as usize * row_bytes;
            self.sheet[dst..dst + row_bytes].copy_from_slice(&f.data[y * f.stride..y * f.stride + row_bytes]);
        }
        let start = self.tiles_total * self.interval_ns;
        let end = (start + self.interval_ns).min(duration_ns);
        let _ = write!(
            self.vtt,
            "\n{} --> {}\n{}#xywh={},{},{},{}\n",
            vtt_time(start),
            vtt_time(end),
            manifest::model::sprite_file_name(self.sheets_done + 1),
            col * self.tile_width,
            row * self.tile_height,
            self.tile_width,
            self.tile_height
        );
        self.tiles_in_sheet += 1;
        self.tiles_total += 1;
        if self.tiles_in_sheet == SPRITE_COLUMNS * SPRITE_ROWS {
            return self.flush();
        }
        Ok(None)
    }

    /// Encodes the partly filled last sheet, if any.
    pub fn flush(&mut self) -> Result<Option<Sheet>, Error> {
        if self.tiles_in_sheet == 0 {
            return Ok(None);
        }
        let (w, h) = self.sheet_size(self.tiles_in_sheet);
        let full = (SPRITE_COLUMNS * self.tile_width) as usize * 3;
        let mut cropped = Vec::with_capacity((w * h * 3) as usize);
        for y in 0..h as usize {
            cropped.extend_from_slice(&self.sheet[y * full..y * full + w as usize * 3]);
        }
        let jpeg = encode_jpeg(w, h, &cropped)?;
        self.sheets_done += 1;
        self.tiles_in_sheet = 0;
        self.sheet.clear();
        Ok(Some(Sheet { number: self.sheets_done, width: w, height: h, jpeg }))
    }

    pub fn vtt(&self) -> &str {
        &self.vtt
    }
}

/// The trick-play interval: about 50 tiles for short titles, one per 10 s for long ones.
pub fn sprite_interval_ns(duration_ns: u64) -> u64 {
    let secs = (duration_ns / 1_000_000_000 / 50).clamp(1, 10);
    secs * 1_000_000_000
}

/// Which keyframes the sprites need when only keyframes are decoded (nothing is
/// encoded from the picture): the one nearest each sprite time, judged from the
/// spacing between the last two keyframes (the next one is not known yet). A pure
/// function of the keyframe times, so the sprites do not depend on thread timing.
#[derive(Debug)]
pub struct KeyframeSampler {
    interval_ns: u64,
    /// The next sprite time not yet served.
    next_ns: u64,
    last_key_ns: Option<u64>,
}

impl KeyframeSampler {
    pub fn new(interval_ns: u64) -> Self {
        KeyframeSampler { interval_ns: interval_ns.max(1), next_ns: 0, last_key_ns: None }
    }

    /// Offer the keyframe at `pts_ns` (in order); true when a sprite should show it.
    pub fn wanted(&mut self, pts_ns: u64) -> bool {
        let half_gap = self.last_key_ns.map_or(0, |last| pts_ns.saturating_sub(last) / 2);
        self.last_key_ns = Some(pts_ns);
        if pts_ns + half_gap < self.next_ns {
            return false;
        }
        // Serves every sprite time up to the middle of the gap to the next keyframe.
        self.next_ns = ((pts_ns + half_gap) / self.interval_ns + 1) * self.interval_ns;
        true
    }
}

fn vtt_time(ns: u64) -> String {
    let ms = ns / 1_000_000;
    format!("{:02}:{:02}:{:02}.{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(w: u32, h: u32, v: u8) -> Vec<u8> {
        vec![v; (w * h * 3) as usize]
    }

    #[test]
    fn black_and_flat_frames_are_blank() {
        let black = flat(64, 36, 0);
        let f = RgbFrame { width: 64, height: 36, stride: 64 * 3, data: &black };
        let (m, s) = luma_stats(&f);
        assert!(is_blank(m, s));
        let grey = flat(64, 36, 128);
        let (m, s) = luma_stats(&RgbFrame { width: 64, height: 36, stride: 64 * 3, data: &grey });
        assert!(is_blank(m, s), "flat grey is a slate, not a poster");
        let stripes: Vec<u8> = (0..64 * 36 * 3).map(|i| if (i / 3 / 4) % 2 == 0 { 30 } else { 220 }).collect();
        let (m, s) = luma_stats(&RgbFrame { width: 64, height: 36, stride: 64 * 3, data: &stripes });
        assert!(!is_blank(m, s), "mean {m} sd {s}");
    }

    #[test]
    fn poster_skips_black_opening() {
        let mut p = PosterPicker::default();
        let black = flat(32, 18, 0);
        assert!(!p.offer(0, &RgbFrame { width: 32, height: 18, stride: 96, data: &black }));
        // A horizontal ramp: detail wherever the blank test samples it.
        let ramp: Vec<u8> = (0..32 * 18 * 3).map(|i| ((i / 3) % 32 * 8) as u8).collect();
        assert!(p.offer(1_000_000_000, &RgbFrame { width: 32, height: 18, stride: 96, data: &ramp }));
        let (w, h, jpeg) = p.finish().unwrap().unwrap();
        assert_eq!((w, h), (32, 18));
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "JPEG SOI marker");
    }

    #[test]
    fn sprites_fill_sheets_and_index_them() {
        let mut b = SpriteBuilder::new(16, 9, 2_000_000_000);
        let tile = flat(16, 9, 100);
        let f = RgbFrame { width: 16, height: 9, stride: 48, data: &tile };
        let mut sheets = Vec::new();
        for _ in 0..105 {
            if let Some(s) = b.push(&f, 209_000_000_000).unwrap() {
                sheets.push(s);
            }
        }
        sheets.extend(b.flush().unwrap());
        assert_eq!(sheets.len(), 2);
        assert_eq!((sheets[0].width, sheets[0].height), (160, 90));
        assert_eq!((sheets[1].width, sheets[1].height), (80, 9));
        let vtt = b.vtt();
        assert!(vtt.starts_with("WEBVTT\n"));
        assert_eq!(vtt.matches("-->").count(), 105);
        assert!(vtt.contains("00:03:28.000 --> 00:03:29.000\nsprite-002.jpg#xywh=64,0,16,9"), "{vtt}");
    }

    fn sampled(keys: impl Iterator<Item = u64>, interval_s: u64) -> Vec<u64> {
        let mut k = KeyframeSampler::new(interval_s * 1_000_000_000);
        keys.map(|s| s * 1_000_000_000).filter(|&t| k.wanted(t)).map(|t| t / 1_000_000_000).collect()
    }

    #[test]
    fn keyframe_sampler_keeps_the_keyframe_nearest_each_sprite_time() {
        // 2 s GOPs, 10 s sprites: every 5th keyframe, on the sprite times.
        let kept = sampled((0..300).step_by(2), 10);
        assert_eq!(kept, (0..300).step_by(10).collect::<Vec<_>>());
        // 3 s GOPs: the nearer of the two keyframes around each sprite time.
        assert_eq!(sampled((0..120).step_by(3), 10), [0, 9, 21, 30, 39, 51, 60, 69, 81, 90, 99, 111]);
        // GOPs longer than the interval: every keyframe.
        assert_eq!(sampled((60..120).step_by(12), 10), [60, 72, 84, 96, 108]);
    }
}
