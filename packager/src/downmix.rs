//! Stereo, and 5.1 from larger layouts (pure): the coefficients `audioconvert` is given.
//!
//! Left alone, `audioconvert` refuses channels without positions (qtdemux gives 24-bit PCM
//! 5.1 from QuickTime `channel-mask=0`: "not-negotiated") and mixes positioned ones with
//! its own weights. With an explicit matrix it takes any input, and the weights are the
//! usual ones (ITU-R BS.775 / ATSC A/52 "Lo/Ro"):
//!
//! - front left/right: 1 into their side;
//! - centre (front, rear, top): 0.7071 (-3 dB) into both;
//! - surround, rear, side, wide and height channels: 0.7071 into their side;
//! - LFE: dropped (as every broadcast downmix does);
//! - mono: 1 into both (a mono source plays at its own level in each ear).
//!
//! Each output row is then scaled so its weights sum to at most 1, so a full-scale
//! signal in every channel cannot clip (ffmpeg's default downmix does the same).
//!
//! Channels without positions are taken in the order WAV, SMPTE and QuickTime files use
//! (L R C LFE Ls Rs, then Lb Rb for 7.1), as GStreamer's fallback masks do.

/// GStreamer channel positions (`GstAudioChannelPosition`) as bits of a `channel-mask`.
mod pos {
    pub const FRONT_LEFT: u32 = 0;
    pub const FRONT_RIGHT: u32 = 1;
    pub const FRONT_CENTER: u32 = 2;
    pub const LFE1: u32 = 3;
    pub const REAR_LEFT: u32 = 4;
    pub const REAR_RIGHT: u32 = 5;
    pub const REAR_CENTER: u32 = 8;
    pub const LFE2: u32 = 9;
    pub const SIDE_LEFT: u32 = 10;
    pub const SIDE_RIGHT: u32 = 11;
    pub const TOP_FRONT_CENTER: u32 = 14;
    pub const TOP_CENTER: u32 = 15;
    pub const TOP_REAR_CENTER: u32 = 20;
    pub const BOTTOM_FRONT_CENTER: u32 = 21;
    /// Positions whose name says left: front/rear/side left and their top, bottom, wide
    /// and surround variants.
    pub const LEFT: [u32; 9] = [0, 4, 6, 10, 12, 16, 18, 22, 24];
    pub const RIGHT: [u32; 9] = [1, 5, 7, 11, 13, 17, 19, 23, 25];
    pub const SURROUND_LEFT: u32 = 26;
    pub const SURROUND_RIGHT: u32 = 27;
}

const MINUS_3DB: f32 = std::f32::consts::FRAC_1_SQRT_2;

/// Positions, in stream order, of `channels` channels with this mask (0: none stated).
pub fn positions(channels: u32, mask: u64) -> Vec<u32> {
    let stated: Vec<u32> = (0..64).filter(|b| mask >> b & 1 == 1).collect();
    if stated.len() == channels as usize {
        return stated;
    }
    use pos::*;
    let fallback: &[u32] = match channels {
        1 => &[FRONT_CENTER],
        2 => &[FRONT_LEFT, FRONT_RIGHT],
        3 => &[FRONT_LEFT, FRONT_RIGHT, FRONT_CENTER],
        4 => &[FRONT_LEFT, FRONT_RIGHT, REAR_LEFT, REAR_RIGHT],
        5 => &[FRONT_LEFT, FRONT_RIGHT, FRONT_CENTER, REAR_LEFT, REAR_RIGHT],
        6 => &[FRONT_LEFT, FRONT_RIGHT, FRONT_CENTER, LFE1, REAR_LEFT, REAR_RIGHT],
        7 => &[FRONT_LEFT, FRONT_RIGHT, FRONT_CENTER, LFE1, REAR_CENTER, SIDE_LEFT, SIDE_RIGHT],
        _ => &[FRONT_LEFT, FRONT_RIGHT, FRONT_CENTER, LFE1, REAR_LEFT, REAR_RIGHT, SIDE_LEFT, SIDE_RIGHT],
    };
    // Beyond 8 unpositioned channels: the first 8 as 7.1, the rest unused.
    (0..channels as usize).map(|i| fallback.get(i).copied().unwrap_or(u32::MAX)).collect()
}

/// Weights of one input channel into (left, right).
fn weights(position: u32, only_channel: bool) -> (f32, f32) {
    use pos::*;
    match position {
        _ if only_channel => (1.0, 1.0),
        FRONT_LEFT => (1.0, 0.0),
        FRONT_RIGHT => (0.0, 1.0),
        LFE1 | LFE2 | u32::MAX => (0.0, 0.0),
        FRONT_CENTER | REAR_CENTER | TOP_FRONT_CENTER | TOP_CENTER | TOP_REAR_CENTER | BOTTOM_FRONT_CENTER => {
            (MINUS_3DB, MINUS_3DB)
        }
        SURROUND_LEFT => (MINUS_3DB, 0.0),
        SURROUND_RIGHT => (0.0, MINUS_3DB),
        p if LEFT.contains(&p) => (MINUS_3DB, 0.0),
        p if RIGHT.contains(&p) => (0.0, MINUS_3DB),
        // A position this table does not know: centred.
        _ => (MINUS_3DB, MINUS_3DB),
    }
}

/// The 2 x `channels` matrix (rows: left, right) that mixes this layout to stereo, or
/// `None` when the input already is front left + front right (nothing to mix).
pub fn to_stereo(channels: u32, mask: u64) -> Option<[Vec<f32>; 2]> {
    let positions = positions(channels, mask);
    if positions == [pos::FRONT_LEFT, pos::FRONT_RIGHT] {
        return None;
    }
    let only = positions.len() == 1;
    let (mut left, mut right): (Vec<f32>, Vec<f32>) = positions.iter().map(|&p| weights(p, only)).unzip();
    for row in [&mut left, &mut right] {
        let sum: f32 = row.iter().sum();
        if sum > 1.0 {
            row.iter_mut().for_each(|w| *w /= sum);
        }
    }
    Some([left, right])
}

/// The output layout of [`to_5_1`], in its order: front left, right, centre, LFE, rear
/// left, rear right (GStreamer's and FFmpeg's "5.1"), as a `channel-mask`.
pub const MASK_5_1: u64 = 0b11_1111;

/// Weights of one input channel into the six channels of [`MASK_5_1`].
fn weights_5_1(position: u32) -> [f32; 6] {
    use pos::*;
    let h = MINUS_3DB;
    match position {
        FRONT_LEFT => [1.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        FRONT_RIGHT => [0.0, 1.0, 0.0, 0.0, 0.0, 0.0],
        FRONT_CENTER => [0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
        LFE1 | LFE2 => [0.0, 0.0, 0.0, 1.0, 0.0, 0.0],
        u32::MAX => [0.0; 6],
        // Rear and side surrounds both feed the surround pair (7.1: the row's scaling
        // halves each).
        REAR_LEFT | SIDE_LEFT | SURROUND_LEFT => [0.0, 0.0, 0.0, 0.0, 1.0, 0.0],
        REAR_RIGHT | SIDE_RIGHT | SURROUND_RIGHT => [0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
        REAR_CENTER => [0.0, 0.0, 0.0, 0.0, h, h],
        TOP_FRONT_CENTER | TOP_CENTER | TOP_REAR_CENTER | BOTTOM_FRONT_CENTER => [0.0, 0.0, h, 0.0, 0.0, 0.0],
        p if LEFT.contains(&p) => [h, 0.0, 0.0, 0.0, 0.0, 0.0],
        p if RIGHT.contains(&p) => [0.0, h, 0.0, 0.0, 0.0, 0.0],
        _ => [0.0, 0.0, h, 0.0, 0.0, 0.0],
    }
}

/// The 6 x `channels` matrix (rows in [`MASK_5_1`] order) that makes 5.1 of a layout of
/// six channels or more: each channel to its place, the extra surrounds of 7.1 folded
/// into the surround pair (a 5.1 source passes unchanged);
/// each row is scaled to sum to at most 1, as in [`to_stereo`].
pub fn to_5_1(channels: u32, mask: u64) -> [Vec<f32>; 6] {
    let positions = positions(channels, mask);
    let columns: Vec<[f32; 6]> = positions.iter().map(|&p| weights_5_1(p)).collect();
    let mut rows: [Vec<f32>; 6] = Default::default();
    for (out, row) in rows.iter_mut().enumerate() {
        *row = columns.iter().map(|c| c[out]).collect();
        let sum: f32 = row.iter().sum();
        if sum > 1.0 {
            row.iter_mut().for_each(|w| *w /= sum);
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-4)
    }

    #[test]
    fn stereo_needs_no_matrix() {
        assert_eq!(to_stereo(2, 0b11), None);
        assert_eq!(to_stereo(2, 0), None);
    }

    #[test]
    fn unpositioned_5_1_is_downmixed_in_smpte_order() {
        // L R C LFE Ls Rs; each row 1 + 0.7071 + 0.7071 = 2.414, scaled to 1.
        let [l, r] = to_stereo(6, 0).unwrap();
        let (one, c) = (1.0 / (1.0 + 2.0 * MINUS_3DB), MINUS_3DB / (1.0 + 2.0 * MINUS_3DB));
        assert!(close(&l, &[one, 0.0, c, 0.0, c, 0.0]), "{l:?}");
        assert!(close(&r, &[0.0, one, c, 0.0, 0.0, c]), "{r:?}");
    }

    #[test]
    fn a_stated_mask_orders_the_channels() {
        // 5.1 with side surrounds (FL FR FC LFE SL SR): bits 0-3, 10, 11.
        let mask = 0b1111 | 1 << 10 | 1 << 11;
        assert_eq!(positions(6, mask), vec![0, 1, 2, 3, 10, 11]);
        let [l, r] = to_stereo(6, mask).unwrap();
        assert!(l[4] > 0.0 && l[5] == 0.0 && r[5] > 0.0 && r[4] == 0.0, "{l:?} {r:?}");
        // 7.1: both surround pairs fold into their side, LFE nowhere.
        let [l, r] = to_stereo(8, 0).unwrap();
        assert!(close(&[l[3], r[3]], &[0.0, 0.0]));
        assert_eq!(l.iter().filter(|w| **w > 0.0).count(), 4, "{l:?}");
        assert!((l.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    }

    #[test]
    fn five_one_in_its_own_order_passes_unchanged() {
        let rows = to_5_1(6, 0);
        for (i, row) in rows.iter().enumerate() {
            let unit: Vec<f32> = (0..6).map(|j| if i == j { 1.0 } else { 0.0 }).collect();
            assert!(close(row, &unit), "row {i}: {row:?}");
        }
        // Side surrounds stated by the mask go to the surround pair.
        let rows = to_5_1(6, 0b1111 | 1 << 10 | 1 << 11);
        assert!(close(&rows[4], &[0.0, 0.0, 0.0, 0.0, 1.0, 0.0]), "{:?}", rows[4]);
    }

    #[test]
    fn seven_one_folds_both_surround_pairs_into_one() {
        // FL FR FC LFE BL BR SL SR: BL and SL into the left surround, scaled to 0.5 each.
        let rows = to_5_1(8, 0);
        assert!(close(&rows[4], &[0.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.5, 0.0]), "{:?}", rows[4]);
        assert!(close(&rows[5], &[0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.5]), "{:?}", rows[5]);
        assert!(close(&rows[3], &[0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]), "{:?}", rows[3]);
    }

    #[test]
    fn mono_goes_to_both_sides_at_its_level() {
        assert_eq!(to_stereo(1, 0), Some([vec![1.0], vec![1.0]]));
    }

    #[test]
    fn a_mask_that_does_not_match_the_count_falls_back() {
        assert_eq!(positions(4, 0b11), vec![0, 1, 4, 5]);
        assert_eq!(positions(10, 0).len(), 10);
        let [l, _] = to_stereo(10, 0).unwrap();
        assert_eq!(&l[8..], &[0.0, 0.0]);
    }
}
