//! The frame rate a source really runs at, from its timestamps (pure).
//!
//! A header's rate can lie: an iPhone clip's SPS says 25 fps while every sample lasts
//! 1/26.777 s, a Matroska file states no rate at all, a screen recording has none. The
//! pipeline resamples every rung to one constant rate, so that rate must be the one the
//! frames are actually spaced at, or a constant-rate source loses (or repeats) frames.
//!
//! Policy:
//! - **Constant rate** (at least 90% of the frame intervals within 2% + 1 ms of the
//!   median; container rounding such as Matroska's milliseconds stays inside that): the
//!   mean of those intervals over the measured window, snapped to a standard rate (23.976, 24, 25,
//!   29.97, 30, 48, 50, 59.94, 60, ...) when within 0.03%, else as a fraction over 1000.
//!   Every frame is kept.
//! - **Variable rate** (anything else: phones in low light, screen recordings): the
//!   capture rate (12, 15, 24, 25, 30, 48, 50, 60, 90 or 120 fps) nearest to how many
//!   frames its busiest seconds hold (the 90th percentile over one-second windows). Longer gaps are filled by repeating the frame before them; frames closer
//!   together than one interval are dropped, so the title has (its duration x that rate)
//!   frames. The log says so, with the measured spread.

use manifest::model::FrameRate;

/// Rates a measured one snaps to, as (num, den).
const STANDARD_RATES: [(u32, u32); 14] = [
    (24000, 1001),
    (24, 1),
    (25, 1),
    (30000, 1001),
    (30, 1),
    (48, 1),
    (50, 1),
    (60000, 1001),
    (60, 1),
    (100, 1),
    (120000, 1001),
    (120, 1),
    (15, 1),
    (12, 1),
];
/// Within this fraction a measured rate is taken as the standard one. NTSC and integer
/// rates differ by 0.1%, so this must stay well under that.
const SNAP_TOLERANCE: f64 = 0.0003;
/// How many of the intervals must sit near the median for the source to count as constant.
const CONSTANT_SHARE: f64 = 0.9;

/// What the timestamps say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    pub rate: FrameRate,
    /// The frames are evenly spaced (see the module docs).
    pub constant: bool,
    /// Shortest and longest interval between frames, nanoseconds.
    pub min_interval_ns: u64,
    pub max_interval_ns: u64,
}

/// The rate of frames presented at `pts` (nanoseconds, any order, as many as were read).
/// `None` with fewer than three distinct timestamps.
pub fn measure(mut pts: Vec<u64>) -> Option<Measured> {
    pts.sort_unstable();
    pts.dedup();
    if pts.len() < 3 {
        return None;
    }
    let mut intervals: Vec<u64> = pts.windows(2).map(|w| w[1] - w[0]).collect();
    let (min_interval_ns, max_interval_ns) = (*intervals.iter().min()?, *intervals.iter().max()?);
    intervals.sort_unstable();
    let median = intervals[intervals.len() / 2];
    let slack = median as f64 * 0.02 + 1_000_000.0;
    let near_count = intervals.iter().filter(|&&d| (d as f64 - median as f64).abs() <= slack).count();
    let constant = near_count as f64 >= CONSTANT_SHARE * intervals.len() as f64;
    // The mean of the intervals near the median: container rounding averages out, and a
    // stray timestamp (Matroska's first frames come with a segment of their own) does not
    // count.
    let near: Vec<u64> = intervals.iter().copied().filter(|&d| (d as f64 - median as f64).abs() <= slack).collect();
    let rate = if constant {
        snap(1e9 * near.len() as f64 / near.iter().sum::<u64>() as f64)?
    } else {
        nearest_capture_rate(busiest_second(&pts).unwrap_or(1e9 / median as f64))?
    };
    Some(Measured { rate, constant, min_interval_ns, max_interval_ns })
}

/// A rate in frames per second as the nearest standard rate, or as a fraction over 1000.
/// `None` outside 1..=240 fps.
pub fn snap(fps: f64) -> Option<FrameRate> {
    if !(1.0..=240.0).contains(&fps) {
        return None;
    }
    if let Some(&(num, den)) = STANDARD_RATES
        .iter()
        .find(|&&(n, d)| ((n as f64 / d as f64) - fps).abs() <= SNAP_TOLERANCE * fps)
    {
        return Some(FrameRate { num, den });
    }
    let num = (fps * 1000.0).round() as u32;
    let g = gcd(num, 1000);
    Some(FrameRate { num: num / g, den: 1000 / g })
}

/// Frames in the one-second windows (starting at each frame) where the source is at full
/// rate: the 90th percentile of their counts. Jitter moves a frame between neighbouring
/// intervals but hardly changes how many fit in a second; slow stretches give lower
/// counts. `None` when the timestamps span less than two seconds.
fn busiest_second(sorted: &[u64]) -> Option<f64> {
    const SECOND: u64 = 1_000_000_000;
    let last = *sorted.last()?;
    let mut counts = Vec::new();
    let mut j = 0;
    for (i, &t) in sorted.iter().enumerate() {
        if t + SECOND > last {
            break;
        }
        while j < sorted.len() && sorted[j] < t + SECOND {
            j += 1;
        }
        counts.push(j - i);
    }
    if last - sorted[0] < 2 * SECOND || counts.is_empty() {
        return None;
    }
    counts.sort_unstable();
    Some(counts[counts.len() * 9 / 10] as f64)
}

/// Rates cameras, phones and screen recorders capture at, for a variable-rate source.
const CAPTURE_RATES: [u32; 10] = [12, 15, 24, 25, 30, 48, 50, 60, 90, 120];

/// The capture rate nearest (by ratio) to `fps`: a variable-rate source's median spacing
/// is blurred by jitter and by the slower stretches, but lands nearest the rate the
/// device was set to. `None` outside 1..=240 fps.
fn nearest_capture_rate(fps: f64) -> Option<FrameRate> {
    if !(1.0..=240.0).contains(&fps) {
        return None;
    }
    let distance = |r: u32| (r as f64 / fps).ln().abs();
    let best = CAPTURE_RATES.iter().copied().min_by(|&a, &b| distance(a).total_cmp(&distance(b)))?;
    Some(FrameRate { num: best, den: 1 })
}

/// The timescale a video track of this rate gets: every frame lasts a whole number of
/// ticks (a multiple of the reduced numerator). What fmp4mux would pick for integer and
/// 1001 rates (fps x 100, and the numerator), kept so titles at those rates do not change.
pub fn video_timescale(rate: FrameRate) -> u32 {
    match rate.den {
        1 => rate.num.saturating_mul(100),
        _ => rate.num,
    }
}

/// Greatest common divisor (1 for gcd(0, 0), so it can always divide).
pub(crate) fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a.max(1) } else { gcd(b, a % b) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(n: u64, num: u64, den: u64, round_to_ms: bool) -> Vec<u64> {
        (0..n)
            .map(|k| {
                let t = k * den * 1_000_000_000 / num;
                if round_to_ms { (t + 500_000) / 1_000_000 * 1_000_000 } else { t }
            })
            .collect()
    }

    #[test]
    fn constant_rates_snap_to_the_standard_ones() {
        for (num, den) in STANDARD_RATES {
            let m = measure(grid(240, num as u64, den as u64, false)).unwrap();
            assert_eq!((m.rate, m.constant), (FrameRate { num, den }, true), "{num}/{den}");
            // Matroska keeps milliseconds: 29.97 must not become 30.
            let m = measure(grid(240, num as u64, den as u64, true)).unwrap();
            assert_eq!((m.rate, m.constant), (FrameRate { num, den }, true), "{num}/{den} in ms");
        }
    }

    #[test]
    fn a_rate_no_header_states_is_kept() {
        // The phone clip: samples every 1/26.777 s, whatever the SPS says.
        let m = measure(grid(217, 26777, 1000, false)).unwrap();
        assert_eq!(m.rate, FrameRate { num: 26777, den: 1000 });
        assert!(m.constant);
        assert_eq!(video_timescale(m.rate), 26777);
    }

    #[test]
    fn a_stray_timestamp_does_not_move_the_rate() {
        // matroskademux: the first two frames in a segment starting 21 ms later.
        let mut pts = grid(180, 30, 1, true);
        pts[0] = 0;
        pts[1] = 12_000_000;
        assert_eq!(measure(pts).unwrap().rate, FrameRate { num: 30, den: 1 });
    }

    #[test]
    fn reordered_timestamps_are_sorted_first() {
        let mut pts = grid(90, 25, 1, false);
        pts.swap(1, 3);
        pts.swap(5, 6);
        assert_eq!(measure(pts).unwrap().rate, FrameRate { num: 25, den: 1 });
    }

    #[test]
    fn variable_rate_takes_the_most_common_spacing() {
        // 30 fps, with a stretch at 10 fps and some jitter: a phone in low light.
        let mut pts: Vec<u64> = (0..60).map(|k| k * 33_333_333).collect();
        let t = pts[59];
        pts.extend((1..=20).map(|k| t + k * 100_000_000));
        let t = pts[pts.len() - 1];
        pts.extend((1..=60).map(|k| t + k * 33_333_333 + if k % 7 == 0 { 9_000_000 } else { 0 }));
        let m = measure(pts).unwrap();
        assert!(!m.constant);
        assert_eq!(m.rate, FrameRate { num: 30, den: 1 });
        assert_eq!(m.max_interval_ns, 100_000_000);
        // Jitter of +-12 ms around 30 fps with slow stretches: still 30.
        let jitter = [0i64, 6_000_000, -6_000_000];
        let pts: Vec<u64> = (0..240u64)
            .filter(|k| !(60..120).contains(k) || k % 3 == 0)
            .map(|k| (k as i64 * 33_333_333 + jitter[(k % 3) as usize] + 10_000_000) as u64)
            .collect();
        let m = measure(pts).unwrap();
        assert!(!m.constant);
        assert_eq!(m.rate, FrameRate { num: 30, den: 1 });
    }

    #[test]
    fn too_few_or_absurd_timestamps_measure_nothing() {
        assert_eq!(measure(vec![0, 40_000_000]), None);
        assert_eq!(measure(vec![5, 5, 5, 5]), None);
        // 1000 fps is not a video rate.
        assert_eq!(measure((0..10).map(|k| k * 1_000_000).collect()), None);
    }

    #[test]
    fn timescales_hold_a_frame_exactly() {
        for rate in [FrameRate { num: 24000, den: 1001 }, FrameRate { num: 25, den: 1 }, FrameRate { num: 26777, den: 1000 }] {
            let t = video_timescale(rate) as u64;
            assert_eq!(t * rate.den as u64 % rate.num as u64, 0, "{rate:?}");
        }
        assert_eq!(video_timescale(FrameRate { num: 30000, den: 1001 }), 30000);
        assert_eq!(video_timescale(FrameRate { num: 30, den: 1 }), 3000);
    }
}
