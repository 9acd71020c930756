//! Pure data model and rendering for packaged titles: no I/O, no clock, no GStreamer.
//!
//! Layout:
//! - [`model`]: the event types packaging produces (tracks, segments, renditions) and the
//!   arithmetic on them (durations, bandwidths).
//! - [`codecs`]: RFC 6381 codec strings and track facts read from real bitstreams (an H.264
//!   SPS, an ISOBMFF init segment).
//! - [`movie`]: a source MP4/QuickTime header's edit lists, for reading them right with
//!   GStreamer 1.22's qtdemux.
//! - [`cmaf`]: timing of one CMAF fragment (moof+mdat) and pinning of the wall-clock fields
//!   muxers write into init segments.
//! - [`title`]: the title being built, fed by packaging's events (segment numbering,
//!   audio held for its video segment, thumbnails), giving the presentation at the end.
//! - [`chunk`]: a title made in parts: chunks of whole segments, and their assembly.
//! - [`hls`]: master and media playlists (m3u8-rs).
//! - [`language`]: BCP 47 tags from container language codes, and language names.
//! - [`dash`]: the static MPD (dash-mpd-core's types and serializer).
//! - [`subtitles`]: sidecar WebVTT/SRT as segmented WebVTT renditions.
//! - [`catalog`]: the versioned JSON metadata event published with a title.
//! - [`verify`]: a stored title checked against its catalog (the objects are read by the caller).
//! - [`Error`]: the one error type of the crate.
//!
//! Title layout the renderers assume (all URIs relative to the title root):
//! `master.m3u8`, `manifest.mpd`, and per rendition `<id>/playlist.m3u8`, `<id>/init.mp4`,
//! `<id>/seg-00001.m4s`, `<id>/seg-00002.m4s`, ...
//!
//! Everything that varies between runs (publish time, generator version, creation times in
//! init segments) is passed in, so the same input renders byte-identical output.

mod bmff;
pub mod catalog;
pub mod chunk;
pub mod cmaf;
pub mod codecs;
pub mod dash;
mod error;
mod fourcc;
pub mod hls;
pub mod language;
pub mod model;
pub mod movie;
pub mod subtitles;
pub mod title;
pub mod verify;

pub use error::{Error, Result};
pub use fourcc::FourCc;
