//! Pure data model and rendering for packaged titles: no I/O, no clock, no GStreamer.
//!
//! Layout:
//! - `model`: the event types packaging produces (tracks, segments, renditions).
pub mod model;
