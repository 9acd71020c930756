//! The crate's error type.

use crate::FourCc;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in this crate.
///
/// All of it is a property of the input (bytes, a model that breaks the naming rules): the same
/// input fails the same way again, so nothing here is worth retrying.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A box or structure is shorter than its syntax requires.
    #[error("{context}: truncated, needs {needed} bytes but only {available} are there")]
    Truncated {
        /// Where in the box tree, e.g. `moov/trak/mdia/mdhd`.
        context: &'static str,
        needed: usize,
        available: usize,
    },
    /// A box header claims a size that does not fit in its parent.
    #[error(
        "{context}: box `{fourcc}` at byte {offset} has size {size}, only {available} bytes left"
    )]
    BadBoxSize {
        context: &'static str,
        fourcc: FourCc,
        offset: usize,
        size: u64,
        available: usize,
    },
    /// A box the syntax requires is absent.
    #[error("missing box {path}")]
    MissingBox { path: &'static str },
    /// A full box with a version this parser does not know.
    #[error("box `{fourcc}` has unsupported version {version}")]
    UnsupportedVersion { fourcc: FourCc, version: u8 },
    /// A sample entry (codec) this crate cannot describe, e.g. an encrypted `encv`.
    #[error("unsupported sample entry `{fourcc}`")]
    UnsupportedSampleEntry { fourcc: FourCc },
    /// A track that is neither video (`vide`) nor audio (`soun`).
    #[error("unsupported track handler `{handler}`")]
    UnsupportedHandler { handler: FourCc },
    /// A codec configuration box whose content breaks its syntax.
    #[error("invalid codec configuration in `{fourcc}`: {reason}")]
    InvalidCodecConfig {
        fourcc: FourCc,
        reason: &'static str,
    },
    /// The bytes given as an H.264 SPS are another kind of NAL unit.
    #[error("not a sequence parameter set (nal_unit_type {nal_unit_type})")]
    NotAnSps { nal_unit_type: u8 },
    /// An H.264 or H.265 sequence parameter set whose content breaks its syntax.
    #[error("invalid sequence parameter set: {reason}")]
    BadSps { reason: &'static str },
    /// A fragment has no `traf` for the init segment's track.
    #[error("fragment has no track fragment for track {track_id}")]
    NoTrackFragment { track_id: u32 },
    /// A value does not fit the field it must be written to.
    #[error("{field}: value {value} does not fit")]
    ValueOutOfRange { field: &'static str, value: u64 },

    #[error("track {track_id} reorders by {needed} ticks, more than the delay of {shift}")]
    ReorderBeyondShift { track_id: u32, needed: u64, shift: u32 },
    /// A segment's URI does not follow the naming the manifests' templates assume.
    #[error("rendition `{rendition}`: segment {index} is stored at `{uri}`, expected `{expected}`")]
    SegmentUri {
        rendition: String,
        index: u32,
        uri: String,
        expected: String,
    },
    /// Media segments are not numbered 1, 2, 3... in order.
    #[error(
        "rendition `{rendition}`: segment at position {position} has index {index}, expected {expected}"
    )]
    SegmentNumbering {
        rendition: String,
        position: usize,
        index: u32,
        expected: u32,
    },
    /// A track whose facts make rendering impossible (e.g. a zero timescale).
    #[error("rendition `{rendition}`: {reason}")]
    InvalidTrack {
        rendition: String,
        reason: &'static str,
    },
    /// A sha256 digest that is not 64 hex digits.
    #[error("invalid sha256 digest")]
    InvalidDigest(#[source] hex::FromHexError),
    /// A ratio such as a frame rate (`30000/1001`) or an aspect ratio (`16:9`) that does not parse.
    #[error("invalid {what} `{input}`")]
    InvalidRatio { what: &'static str, input: String },
    /// dash-mpd-core's serializer (quick-xml) refused the MPD.
    #[error("serializing the MPD")]
    MpdSerialize(#[source] quick_xml::SeError),
    /// A catalog document that does not match the schema's shape.
    #[error("reading a catalog document")]
    CatalogJson(#[source] serde_json::Error),

    // --- building a title (see `title`) ---
    /// A rendition's init segment changed after its first: the source's format changed
    /// mid-stream.
    #[error("stream format changed mid-stream in {rendition}")]
    FormatChanged { rendition: String },
    /// A media fragment came before its rendition's init segment.
    #[error("{rendition}: fragment before init segment")]
    FragmentBeforeInit { rendition: String },
    /// A video segment that does not start with a sync sample.
    #[error("{rendition}: segment {index} does not start with a keyframe")]
    NoKeyframeAtSegmentStart { rendition: String, index: u32 },
    /// A planned rendition that got no init segment or no media segment.
    #[error("{rendition}: no segments were produced")]
    NoSegments { rendition: String },
    /// The poster or the sprites did not come.
    #[error("{what}")]
    ThumbnailsMissing { what: &'static str },
    /// Parts of a title (see `chunk`) that cannot be joined.
    #[error("{part}: {reason}")]
    PartsDisagree { part: String, reason: String },
    /// A subtitle file that cannot be read as WebVTT or SRT.
    #[error("subtitles {file}, line {line}: {reason}")]
    Subtitles { file: String, line: usize, reason: String },
    /// Reading one rendition's output failed.
    #[error("rendition `{rendition}`: {source}")]
    InTrack {
        rendition: String,
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// Always false: every error here would recur on a retry of the same input (a
    /// caller that knows whose fault it was, the upload's or its own, says so).
    pub fn is_retryable(&self) -> bool {
        false
    }
}
