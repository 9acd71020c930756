use std::path::PathBuf;

/// What is wrong with a ladder definition.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LadderProblem {
    #[error("{0}")]
    Syntax(String),
    #[error("it has no rungs")]
    NoRungs,
    #[error("segment_duration {0} s is outside 1..=20 s")]
    SegmentDuration(f64),
    #[error("chunk_duration {chunk} s must be 0 (off) or at least the segment duration ({segment} s)")]
    ChunkDuration { chunk: f64, segment: f64 },
    #[error("audio bitrate {0} is outside 32000..=320000")]
    AudioBitrate(u32),
    #[error("audio surround_bitrate {0} is outside 96000..=640000 (0: no 5.1 rendition)")]
    SurroundBitrate(u32),
    #[error("audio max_bitrate is below its bitrate")]
    AudioMaxBelowAverage,
    #[error("audio sample rate {0} is not 44100 or 48000")]
    AudioSampleRate(u32),
    #[error("rung {rung}: unknown codec {codec:?} (h264, h265, vp9, av1)")]
    UnknownCodec { rung: usize, codec: String },
    #[error("rung {rung}: height {height} must be even and within 120..=4320")]
    Height { rung: usize, height: u32 },
    #[error("rung {rung}: bitrate {bitrate} is outside 50000..=100000000 bits/s")]
    Bitrate { rung: usize, bitrate: u32 },
    #[error("rung {rung}: max_bitrate is below the average bitrate")]
    MaxBelowAverage { rung: usize },
    #[error("rung {rung}: profile {profile:?} is not valid for its codec")]
    Profile { rung: usize, profile: String },
    #[error("rung {rung}: unknown preset {preset:?} (x264/x265: a preset name; vp9 and aom: 0..=9; svt-av1: 0..=13)")]
    Preset { rung: usize, preset: String },
    #[error("rung {rung}: encoder {encoder:?} does not make its codec (av1: svt-av1 or aom; h264: x264; h265: x265; vp9: libvpx)")]
    Encoder { rung: usize, encoder: String },
    #[error("rung {rung}: bframes must be 0..=8 and only on h264 (not baseline) or h265")]
    BFrames { rung: usize },
    #[error("rung {rung}: quality (CRF) must be 0..=51 and only on h264 or h265")]
    Quality { rung: usize },
    #[error("rung {rung}: copy is only for h264 or h265 rungs")]
    Copy { rung: usize },
    #[error("rung {rung}: bit_depth {bit_depth} with {encoder} (8 everywhere; 10 only with svt-av1)")]
    BitDepth { rung: usize, bit_depth: u8, encoder: &'static str },
    #[error("two rungs are both {0}")]
    Duplicate(String),
    #[error("{higher} must have a higher bitrate than {lower}")]
    NotAscending { higher: String, lower: String },
}

/// Errors of the packaging pipeline.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("cannot read ladder {path}: {source}")]
    LadderRead { path: PathBuf, source: std::io::Error },
    #[error("invalid ladder{}: {problem}", path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default())]
    Ladder { path: Option<PathBuf>, problem: LadderProblem },
    #[error("cannot read input {path}: {source}")]
    InputRead { path: PathBuf, source: std::io::Error },
    /// A chunk's ranged read of the stored source failed (after the store's own retries):
    /// a fault of the store or the network, not of the upload.
    #[error("cannot read the stored source: {message}")]
    SourceRead { message: String },
    /// A sidecar subtitle file that cannot be read as WebVTT or SRT: the upload's fault.
    #[error("{0}")]
    Subtitles(String),
    #[error("input {path} is empty (0 bytes)")]
    EmptyInput { path: PathBuf },
    #[error("input {path} is not a media file GStreamer can read: {reason}")]
    NotMedia { path: PathBuf, reason: String },
    #[error("input {path} has no video stream (audio-only or data file)")]
    NoVideo { path: PathBuf },
    #[error("input {path} is unusable: {reason}")]
    BadSource { path: PathBuf, reason: String },
    #[error("no ladder rung fits a {source_height}p source (lowest rung is {lowest}p; rungs above the source are never upscaled)")]
    NoUsableRung { source_height: u32, lowest: u32 },
    /// `cause` is read from the error's GStreamer domain (see [`Cause::of_gst_error`]).
    #[error("GStreamer element {element} failed: {error} ({debug})")]
    Pipeline { element: String, error: String, debug: String, cause: Cause },
    #[error("GStreamer element {factory} is not available: install {}", crate::doctor::package_of(factory))]
    MissingElement { factory: &'static str },
    /// The source is in a format GStreamer decodes with a plugin this machine lacks.
    #[error("this machine lacks the decoder the source needs ({what}): GStreamer element {element} is missing (install {package})")]
    MissingDecoder { what: String, element: &'static str, package: &'static str },
    #[error("pipeline setup failed: {0}")]
    Setup(String),
    /// The parts of a chunked title do not join (see `manifest::chunk::assemble`): a fault
    /// of the packaging, not of the upload.
    #[error("the title's chunks do not join up: {0}")]
    Assembly(String),
    #[error("decoding/encoding made no progress for {seconds} s at {position_s:.3} s of the source: stalled pipeline")]
    Stalled { seconds: f64, position_s: f64 },
    #[error("no object store request finished for {seconds} s ({in_flight} in flight): stalled store")]
    StoreStalled { seconds: f64, in_flight: usize },
    #[error("the source is damaged: the decoder hit an error at about {position_s:.3} s ({message:?}); a title with concealed frames is not published, re-upload an intact source")]
    DecodeError { position_s: f64, message: String },
    #[error("output of rendition {rendition} is malformed: {source}")]
    Output { rendition: String, source: manifest::Error },
    #[error("the source ended before any {rendition} segment was produced (corrupt or truncated input?)")]
    NoSegments { rendition: String },
    #[error("storing {key} failed: {source}")]
    Store { key: String, source: StoreError },
    #[error("thumbnail encoding failed: {0}")]
    Thumbnail(String),
    #[error("rendition {rendition} cannot be copied from the source: {reason}")]
    CopyRefused { rendition: String, reason: String },
    #[error("job cancelled")]
    Cancelled,
}

/// Whose fault an error is, which decides what becomes of the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The upload or the job: running it again gives the same error.
    Upload,
    /// This machine cannot run the job (missing plugin, full disk, refused storage
    /// credentials, a broken ladder file): another machine may, this one should stop.
    Machine,
    /// Our own bug (an invariant of the pipeline or the packaging broke).
    Internal,
    /// A passing fault of the store, the network or a stuck pipeline: try again.
    Transient,
}

impl Cause {
    /// The cause of a GStreamer error message, from its domain and code: resources (files,
    /// disk) are the machine's, a missing plugin too; a stream that cannot be demuxed or
    /// decoded is the upload's, one that cannot be encoded or muxed ours; core and library
    /// errors are ours.
    pub fn of_gst_error(err: &gst::glib::Error) -> Cause {
        if let Some(code) = err.kind::<gst::StreamError>() {
            return match code {
                gst::StreamError::Encode | gst::StreamError::Mux | gst::StreamError::Failed => Cause::Internal,
                gst::StreamError::CodecNotFound => Cause::Machine,
                _ => Cause::Upload,
            };
        }
        if err.kind::<gst::ResourceError>().is_some() {
            return Cause::Machine;
        }
        if err.kind::<gst::CoreError>() == Some(gst::CoreError::MissingPlugin) {
            return Cause::Machine;
        }
        Cause::Internal
    }
}

impl Error {
    /// Whose fault this is: the upload's, the machine's, ours, or nobody's for long.
    pub fn cause(&self) -> Cause {
        match self {
            Error::Subtitles(_)
            | Error::EmptyInput { .. }
            | Error::NotMedia { .. }
            | Error::NoVideo { .. }
            | Error::BadSource { .. }
            | Error::NoUsableRung { .. }
            | Error::DecodeError { .. }
            | Error::NoSegments { .. }
            | Error::CopyRefused { .. } => Cause::Upload,
            Error::LadderRead { .. }
            | Error::Ladder { .. }
            | Error::InputRead { .. }
            | Error::MissingElement { .. }
            | Error::MissingDecoder { .. } => Cause::Machine,
            Error::Store { source, .. } if source.retryable => Cause::Transient,
            // A store that refuses for good (full disk, denied credentials) is the machine's.
            Error::Store { .. } => Cause::Machine,
            Error::Pipeline { cause, .. } => *cause,
            Error::Setup(_) | Error::Assembly(_) | Error::Output { .. } | Error::Thumbnail(_) => Cause::Internal,
            Error::Stalled { .. } | Error::StoreStalled { .. } | Error::SourceRead { .. } | Error::Cancelled => {
                Cause::Transient
            }
        }
    }

    /// Whether running the same job again may succeed: storage hiccups yes,
    /// bad input or a bad ladder never.
    pub fn is_retryable(&self) -> bool {
        self.cause() == Cause::Transient
    }
}

/// An error from a [`crate::Storage`] implementation.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct StoreError {
    pub message: String,
    pub retryable: bool,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl StoreError {
    pub fn io(e: std::io::Error) -> Self {
        StoreError { message: e.to_string(), retryable: false, source: Some(Box::new(e)) }
    }
}
