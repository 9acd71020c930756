//! Errors a decoder hits in the source and conceals.
//!
//! libav's decoders (avdec_h264, avdec_aac, ...) repair a damaged frame by
//! concealment and carry on: nothing reaches the bus, and the frame is not
//! flagged as corrupted. What they do leave is an error-level line in their
//! log ("error while decoding MB 64 32", "Reserved bit set."), which
//! gst-libav forwards to GStreamer's `libav` debug category. A log function
//! counts those lines for every job running in the process; decoders that
//! report through the bus instead (a `GstVideoDecoder` posts a warning per
//! failed frame) are counted by the bus watch.
//!
//! Policy (README "Bad input"): the first decode error fails the job as bad
//! input, naming where in the source it happened. Concealed macroblocks would
//! otherwise be published to every viewer of the title; a re-upload is the
//! cure.
//!
//! The log has no object to tell which pipeline a line came from, so a line
//! is counted for every job active in the process. The worker and the CLI
//! run one job per process; a program that packages several at once in one
//! process sees a decode error of one job fail all of them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

/// The GStreamer debug category gst-libav logs libav's messages to.
const LIBAV_CATEGORY: &str = "libav";

/// Decode errors seen while one job runs.
#[derive(Debug, Default)]
pub struct DecodeErrors {
    count: AtomicU64,
    first: Mutex<Option<String>>,
}

impl DecodeErrors {
    pub fn record(&self, message: &str) {
        if self.count.fetch_add(1, Ordering::Relaxed) == 0 {
            *self.first.lock().unwrap_or_else(PoisonError::into_inner) = Some(message.trim().to_owned());
        }
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    pub fn first(&self) -> Option<String> {
        self.first.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

fn active() -> &'static Mutex<Vec<Weak<DecodeErrors>>> {
    static ACTIVE: OnceLock<Mutex<Vec<Weak<DecodeErrors>>>> = OnceLock::new();
    ACTIVE.get_or_init(Default::default)
}

/// A job's counter, registered for as long as this lives.
pub struct Registration(Arc<DecodeErrors>);

impl Registration {
    pub fn counter(&self) -> Arc<DecodeErrors> {
        self.0.clone()
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut list = active().lock().unwrap_or_else(PoisonError::into_inner);
        list.retain(|w| w.strong_count() > 0 && !std::ptr::eq(w.as_ptr(), Arc::as_ptr(&self.0)));
    }
}

pub fn register() -> Registration {
    let counter = Arc::new(DecodeErrors::default());
    active().lock().unwrap_or_else(PoisonError::into_inner).push(Arc::downgrade(&counter));
    Registration(counter)
}

/// Routes libav's error-level log lines to the active jobs. Called once by
/// [`crate::init`]. With `GST_DEBUG` unset GStreamer prints nothing, and
/// lowering the `libav` threshold to ERROR would make its default handler
/// print these lines to stderr: it is removed then, and the lines go to the
/// `tracing` log (debug level) instead. With `GST_DEBUG` set, the user's thresholds and
/// printing stay as they are (one that silences `libav` disables the count).
pub fn install() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        if std::env::var_os("GST_DEBUG").is_none() {
            gst::log::remove_default_log_function();
            gst::log::set_threshold_for_name(LIBAV_CATEGORY, gst::DebugLevel::Error);
        }
        gst::log::add_log_function(|category, level, _file, _function, _line, _object, message| {
            if level > gst::DebugLevel::Error || category.name() != LIBAV_CATEGORY {
                return;
            }
            let Some(text) = message.get() else { return };
            // The job's error carries the first message; the rest are for debugging.
            tracing::debug!(decoder = "libav", "decode error: {}", text.trim());
            let list = active().lock().unwrap_or_else(PoisonError::into_inner);
            for job in list.iter().filter_map(Weak::upgrade) {
                job.record(&text);
            }
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_message_and_count() {
        let e = DecodeErrors::default();
        assert_eq!((e.count(), e.first()), (0, None));
        e.record(" error while decoding MB 64 32\n");
        e.record("Reserved bit set.");
        assert_eq!(e.count(), 2);
        assert_eq!(e.first().as_deref(), Some("error while decoding MB 64 32"));
    }

    #[test]
    fn registration_ends_with_its_guard() {
        let r = register();
        let weak = Arc::downgrade(&r.counter());
        assert!(active().lock().unwrap().iter().any(|w| w.ptr_eq(&weak)));
        drop(r);
        assert!(!active().lock().unwrap().iter().any(|w| w.ptr_eq(&weak)));
    }
}
