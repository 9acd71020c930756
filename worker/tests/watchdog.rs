//! The position watchdog against a decoder that hangs: decoded video stopped at a chosen
//! source time (`VODPIPE_FAILPOINT=hang-decoder@SECONDS`, which holds the streaming thread
//! as a stuck decoder does) fails the title once the position has not moved for
//! `--stall-timeout`, naming where it stopped, and publishes no manifest. (On the queue the
//! same failure is retryable: `queue_e2e/faults.rs` stalls the store instead.)

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

#[test]
fn a_hung_decoder_fails_the_title_where_it_stopped_within_the_stall_timeout() {
    let s = Scratch::new("watchdog");
    let ladder = s.write_ladder(2.0);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vodpipe"));
    cmd.arg("transcode")
        .arg(media("hd_16x9_audio.mp4"))
        .arg("--out")
        .arg(s.out())
        .arg("--ladder")
        .arg(&ladder)
        .args(["--stall-timeout", "3"])
        .env("VODPIPE_FAILPOINT", "hang-decoder@4")
        .env("NO_COLOR", "1");
    let started = Instant::now();
    let out = run_with_deadline(&s, cmd, Duration::from_secs(120), "transcode with a hung decoder");
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "a hung decoder went unnoticed:\n{}", tail(&stderr, 20));
    let words = "made no progress for 3 s at ";
    let at = stderr.find(words).unwrap_or_else(|| panic!("no stall reported:\n{}", tail(&stderr, 20)));
    let position: f64 = stderr[at + words.len()..].split(' ').next().unwrap().parse().expect("a position in seconds");
    assert!((3.5..=4.0).contains(&position), "stopped at {position} s, the decoder hung at 4 s:\n{}", tail(&stderr, 20));
    assert!(took < Duration::from_secs(60), "the watchdog took {took:?} to fire with a 3 s timeout");
    let title = s.out().join("hd_16x9_audio");
    for manifest in ["master.m3u8", "manifest.mpd", "catalog.json"] {
        assert!(!title.join(manifest).exists(), "{manifest} published for a stalled title");
    }
}
