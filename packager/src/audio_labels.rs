//! What a job states about the source's audio streams, over what the container says: a
//! language (stated where the container has none, corrected where it is wrong), a purpose
//! (commentary, audio description) and which stream a player starts with.

use manifest::model::AudioRole;

use crate::error::Error;
use crate::probe::SourceMedia;

/// A job's label of one audio stream of the source.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AudioLabel {
    /// Which stream: its position among the source's audio streams, from 0.
    pub stream: usize,
    /// BCP 47; `None` keeps the container's.
    pub language: Option<String>,
    pub role: AudioRole,
    /// The stream a player starts with; at most one label says so. Without one, the
    /// source's first stream is the default.
    pub default: bool,
}

/// Every label names a stream the source has (else the job does not fit its upload).
pub(crate) fn check(labels: &[AudioLabel], source: &SourceMedia, job_input: &std::path::Path) -> Result<(), Error> {
    let count = source.audio_streams.len();
    match labels.iter().find(|l| l.stream >= count) {
        Some(l) => Err(Error::BadSource {
            path: job_input.to_owned(),
            reason: format!("the job labels audio stream {}, but the source has {count} audio stream(s)", l.stream + 1),
        }),
        None => Ok(()),
    }
}

/// The order the streams' renditions are listed in: the default stream first (the one a
/// player that takes the first plays), the others in the source's order.
pub(crate) fn stream_order(labels: &[AudioLabel], streams: usize) -> Vec<usize> {
    let default = labels.iter().find(|l| l.default).map_or(0, |l| l.stream).min(streams.saturating_sub(1));
    std::iter::once(default).chain((0..streams).filter(|&s| s != default)).collect()
}

/// Stream `stream`'s language (BCP 47): the job's, else the container's.
pub(crate) fn language(labels: &[AudioLabel], source: &SourceMedia, stream: usize) -> Option<String> {
    let stated = labels.iter().find(|l| l.stream == stream).and_then(|l| l.language.clone());
    stated.or_else(|| source.audio_streams.get(stream).and_then(|a| a.language.clone()))
}

/// Stream `stream`'s purpose: the job's, else the programme's sound.
pub(crate) fn role(labels: &[AudioLabel], stream: usize) -> AudioRole {
    labels.iter().find(|l| l.stream == stream).map_or(AudioRole::Main, |l| l.role)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_stream_leads_and_the_rest_keep_their_order() {
        let labels = [AudioLabel { stream: 2, default: true, ..Default::default() }];
        assert_eq!(stream_order(&labels, 4), vec![2, 0, 1, 3]);
        assert_eq!(stream_order(&[], 3), vec![0, 1, 2]);
        assert_eq!(stream_order(&[], 0), vec![0]);
    }

    #[test]
    fn a_role_is_the_labels_or_main() {
        let labels = [AudioLabel { stream: 1, role: AudioRole::Commentary, ..Default::default() }];
        assert_eq!(role(&labels, 1), AudioRole::Commentary);
        assert_eq!(role(&labels, 0), AudioRole::Main);
    }
}
