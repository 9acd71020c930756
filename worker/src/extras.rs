//! The command line's options for what a title carries beside the picture, shared by
//! `transcode` and `submit`: sidecar subtitles and what the job states about the source's
//! audio streams.

use std::path::PathBuf;

use anyhow::Result;
use manifest::model::AudioRole;

use crate::job::{AudioStreamLabel, check_audio};

#[derive(clap::Args, Debug, Clone, Default)]
pub struct Extras {
    /// A sidecar subtitle file (WebVTT or SRT) and its language, e.g. `en=movie.en.srt`
    /// (`FILE` alone: no language); repeatable. Each becomes a WebVTT rendition.
    #[arg(long = "subtitles", value_name = "LANG=FILE", value_parser = parse_subtitles)]
    pub subtitles: Vec<SubtitleArg>,
    /// States what the source's audio stream N (counted from 1) is: its language, over the
    /// container's, and optionally its purpose, `commentary` or `description` (audio
    /// description), e.g. `--audio 2=en,commentary` or `--audio 1=de`; repeatable.
    #[arg(long = "audio", value_name = "N=LANG[,ROLE]", value_parser = parse_audio)]
    pub audio: Vec<AudioStreamLabel>,
    /// The audio stream N (counted from 1) players start with; the source's first unless set.
    #[arg(long = "default-audio", value_name = "N")]
    pub default_audio: Option<u32>,
}

/// `--subtitles LANG=FILE`: a local file and its language (checked as a tag here, the file
/// when the job starts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubtitleArg {
    pub language: Option<String>,
    pub path: PathBuf,
}

impl Extras {
    /// The audio labels, `--default-audio` among them, checked as a job's are.
    pub fn audio_labels(&self) -> Result<Vec<AudioStreamLabel>> {
        let mut labels = self.audio.clone();
        if let Some(n) = self.default_audio {
            match labels.iter_mut().find(|l| l.stream == n) {
                Some(l) => l.default = true,
                None => labels.push(AudioStreamLabel { stream: n, language: None, role: AudioRole::Main, default: true }),
            }
        }
        check_audio(&labels).map_err(|e| anyhow::anyhow!("invalid --audio/--default-audio: {e}"))?;
        Ok(labels)
    }

    /// The subtitle files as the packager takes them.
    pub fn subtitle_files(&self) -> Vec<packager::subtitles::SubtitleFile> {
        self.subtitles.iter().map(|s| packager::subtitles::SubtitleFile { language: s.language.clone(), path: s.path.clone() }).collect()
    }
}

/// `--subtitles LANG=FILE` (or `FILE`).
pub fn parse_subtitles(arg: &str) -> std::result::Result<SubtitleArg, String> {
    let (language, path) = match arg.split_once('=') {
        Some((lang, path)) => (Some(lang), path),
        None => (None, arg),
    };
    if let Some(lang) = language {
        language_tag(lang)?;
    }
    if path.is_empty() {
        return Err("no file after LANG=".into());
    }
    Ok(SubtitleArg { language: language.map(str::to_owned), path: path.into() })
}

/// `--audio N=LANG[,ROLE]` (`N=,ROLE` keeps the container's language).
pub fn parse_audio(arg: &str) -> std::result::Result<AudioStreamLabel, String> {
    let (n, rest) = arg.split_once('=').ok_or_else(|| format!("{arg:?}: expected N=LANG[,ROLE], e.g. 2=en,commentary"))?;
    let stream: u32 = n.trim().parse().map_err(|_| format!("{n:?} is not an audio stream number (1, 2, ...)"))?;
    let (lang, role) = match rest.split_once(',') {
        Some((lang, role)) => (lang.trim(), role.trim().parse::<AudioRole>()?),
        None => (rest.trim(), AudioRole::Main),
    };
    let language = if lang.is_empty() { None } else { Some(language_tag(lang)?) };
    Ok(AudioStreamLabel { stream, language, role, default: false })
}

fn language_tag(lang: &str) -> std::result::Result<String, String> {
    manifest::language::bcp47(lang).map(|_| lang.to_owned()).ok_or_else(|| format!("{lang:?} is not a language tag (en, de, pt-BR, eng...)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_options_read_as_labels() {
        let l = parse_audio("2=en,commentary").unwrap();
        assert_eq!((l.stream, l.language.as_deref(), l.role), (2, Some("en"), AudioRole::Commentary));
        let l = parse_audio("3=,description").unwrap();
        assert_eq!((l.language, l.role), (None, AudioRole::Description));
        assert!(parse_audio("x=en").is_err());
        assert!(parse_audio("1=en,karaoke").is_err());
        assert!(parse_audio("1=!!").is_err());
        assert!(parse_audio("en").is_err());
    }

    #[test]
    fn the_default_joins_its_streams_label_or_makes_one() {
        let extras = Extras { audio: vec![parse_audio("2=de").unwrap()], default_audio: Some(2), ..Default::default() };
        let labels = extras.audio_labels().unwrap();
        assert_eq!(labels.len(), 1);
        assert!(labels[0].default);
        let extras = Extras { default_audio: Some(3), ..Default::default() };
        assert_eq!(extras.audio_labels().unwrap()[0].stream, 3);
        assert!(Extras { default_audio: Some(0), ..Default::default() }.audio_labels().is_err());
    }
}
