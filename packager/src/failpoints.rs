//! Faults injected on purpose, for the tests that must see the pipeline fail in ways a
//! healthy machine never shows on demand: `VODPIPE_FAILPOINT=hang-decoder@SECONDS` stops
//! decoded video at that source time as a hung decoder would (the position watchdog must
//! catch it); `VODPIPE_FAILPOINT=encoder-error@SECONDS` posts an encoder's error there (our
//! own fault, as an encoder bug would be). Unset, nothing is installed.

use std::sync::OnceLock;
use std::time::Duration;

use gst::prelude::*;

/// The environment variable naming the failpoint.
pub const ENV: &str = "VODPIPE_FAILPOINT";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    HangDecoder,
    EncoderError,
}

/// The failpoint the environment asks for, read once.
fn configured() -> Option<(Fault, gst::ClockTime)> {
    static FAILPOINT: OnceLock<Option<(Fault, gst::ClockTime)>> = OnceLock::new();
    *FAILPOINT.get_or_init(|| std::env::var(ENV).ok().and_then(|v| parse(&v)))
}

fn parse(value: &str) -> Option<(Fault, gst::ClockTime)> {
    let (name, at) = value.split_once('@')?;
    let fault = match name {
        "hang-decoder" => Fault::HangDecoder,
        "encoder-error" => Fault::EncoderError,
        _ => return None,
    };
    let seconds: f64 = at.parse().ok().filter(|s: &f64| s.is_finite() && *s >= 0.0)?;
    Some((fault, gst::ClockTime::from_nseconds((seconds * 1e9) as u64)))
}

/// Installs the configured failpoint on the pad decoded video flows through (stream
/// times of the source).
pub(crate) fn install(pad: &gst::Pad) {
    let Some((fault, at)) = configured() else { return };
    tracing::warn!("{ENV}: injecting {fault:?} at {at}");
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let time = info.buffer().and_then(|buf| {
            let seg = pad.sticky_event::<gst::event::Segment>(0)?;
            seg.segment().downcast_ref::<gst::ClockTime>()?.to_stream_time(buf.pts())
        });
        if time.is_none_or(|t| t < at) {
            return gst::PadProbeReturn::Ok;
        }
        match fault {
            Fault::HangDecoder => {
                // Held as a stuck decoder holds its thread, until the pipeline is torn down.
                while !pad.pad_flags().contains(gst::PadFlags::FLUSHING) {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            Fault::EncoderError => {
                if let Some(element) = pad.parent_element() {
                    gst::element_error!(element, gst::StreamError::Encode, ["{ENV}: an encoder error injected at {at}"]);
                }
            }
        }
        gst::PadProbeReturn::Drop
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failpoints_parse_or_are_ignored() {
        assert_eq!(parse("hang-decoder@1.5"), Some((Fault::HangDecoder, gst::ClockTime::from_mseconds(1500))));
        assert_eq!(parse("encoder-error@0"), Some((Fault::EncoderError, gst::ClockTime::ZERO)));
        assert_eq!(parse("hang-decoder"), None);
        assert_eq!(parse("melt@1"), None);
        assert_eq!(parse("hang-decoder@-1"), None);
    }
}
