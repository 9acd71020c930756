//! The embedded default: one file in, one packaged title in a local folder.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use packager::{Cancel, Job, Ladder, Listener, Progress};

use crate::fs_store::FsStore;
use crate::ids;

pub const DEFAULT_LADDER_PATH: &str = "ladders/default.toml";
/// Built in, so the binary works from any directory.
const DEFAULT_LADDER: &str = include_str!("../../ladders/default.toml");

pub struct Args {
    pub input: PathBuf,
    pub out: PathBuf,
    pub video_id: Option<String>,
    pub ladder: Option<PathBuf>,
    pub segment_duration: Option<f64>,
    /// Seconds without progress before the watchdog fails the job.
    pub stall_timeout: f64,
    /// Seconds per chunk of video (`None`: the ladder's; 0: off).
    pub chunk_duration: Option<f64>,
    /// Chunk pipelines at once.
    pub jobs: u16,
    /// Subtitles and audio labels (`--subtitles`, `--audio`, `--default-audio`).
    pub extras: crate::extras::Extras,
}

/// `--chunk-duration`: seconds, 0 for off.
fn chunk_duration(seconds: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(seconds).map_err(|_| anyhow::anyhow!("invalid --chunk-duration {seconds}: a number of seconds, 0 for off"))
}

pub fn load_ladder(path: Option<&std::path::Path>, segment_duration: Option<f64>) -> Result<Ladder> {
    let text = match path {
        Some(p) => std::fs::read_to_string(p).with_context(|| format!("cannot read ladder {}", p.display()))?,
        None => match std::fs::read_to_string(DEFAULT_LADDER_PATH) {
            Ok(t) => t,
            Err(_) => DEFAULT_LADDER.to_owned(),
        },
    };
    let name = path.map(|p| p.display().to_string()).unwrap_or_else(|| "default".into());
    Ladder::from_toml_with(&text, segment_duration).map_err(|e| match e {
        packager::Error::Ladder { problem, .. } => packager::Error::Ladder { path: Some(name.into()), problem }.into(),
        other => other.into(),
    })
}

/// Progress on a terminal as a bar; elsewhere as a log line every few seconds.
struct ProgressReport {
    bar: Option<indicatif::ProgressBar>,
    last_log: Mutex<Instant>,
}

impl Listener for ProgressReport {
    fn on_progress(&self, p: Progress) {
        let pct = p.fraction() * 100.0;
        match &self.bar {
            Some(bar) => {
                bar.set_position((pct * 10.0) as u64);
                bar.set_message(format!("{:.1}x realtime, {} segments", p.speed(), p.segments_stored));
            }
            None => {
                let mut last = self.last_log.lock().unwrap();
                if last.elapsed() >= Duration::from_secs(5) {
                    *last = Instant::now();
                    tracing::info!("progress {pct:.1}% ({:.1}x realtime, {} segments stored)", p.speed(), p.segments_stored);
                }
            }
        }
    }
}

pub async fn run(args: Args) -> Result<()> {
    // Check everything cheap before decoding anything.
    let ladder = load_ladder(args.ladder.as_deref(), args.segment_duration)?;
    let audio = crate::job::audio_labels(&args.extras.audio_labels()?);
    let video_id = match args.video_id {
        Some(id) => {
            ids::validate_video_id(&id).context("invalid --video-id")?;
            id
        }
        None => ids::id_from_path(&args.input)?,
    };
    if !args.input.exists() {
        anyhow::bail!("input {} does not exist", args.input.display());
    }
    packager::init()?;
    let title_dir = args.out.join(&video_id);
    let store = Arc::new(FsStore::create(&title_dir).with_context(|| format!("cannot create {}", title_dir.display()))?);
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(1000);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {percent:>3}% {msg}")
                .expect("static template"),
        );
        bar
    });
    let listener = Arc::new(ProgressReport { bar: bar.clone(), last_log: Mutex::new(Instant::now()) });
    let job = Job {
        input: args.input.clone(),
        video_id: video_id.clone(),
        ladder,
        published_at: now_rfc3339(),
        generator: concat!("vodpipe ", env!("CARGO_PKG_VERSION")).into(),
        source_uri: None,
        stall_timeout: stall_timeout(args.stall_timeout)?,
        chunk_duration: args.chunk_duration.map(chunk_duration).transpose()?,
        parallel_parts: usize::from(args.jobs),
        reader: None,
        subtitles: args.extras.subtitle_files(),
        audio,
    };
    let cancel = Cancel::default();
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_signal.cancel();
        }
    });
    let started = Instant::now();
    let result = packager::package(&job, store, listener, cancel).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let packaged = result?;
    let secs = started.elapsed().as_secs_f64();
    let p = &packaged.presentation;
    tracing::info!(
        "packaged {} in {:.1} s ({:.2}x realtime): {} renditions, {} segments, fingerprint {}",
        title_dir.display(),
        secs,
        packaged.source.duration_ns as f64 / 1e9 / secs,
        p.renditions.len(),
        p.renditions.iter().map(|r| r.segments.len()).sum::<usize>(),
        packaged.catalog.fingerprint,
    );
    println!("{}", title_dir.join(manifest::catalog::HLS_MASTER).display());
    Ok(())
}

/// The watchdog setting, checked: at least a second, at most a day.
pub fn stall_timeout(seconds: f64) -> Result<std::time::Duration> {
    if !(1.0..=86400.0).contains(&seconds) {
        anyhow::bail!("--stall-timeout {seconds} is outside 1..=86400 seconds");
    }
    Ok(std::time::Duration::from_secs_f64(seconds))
}

/// UTC wall clock as RFC 3339, whole seconds.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_shape() {
        let s = super::now_rfc3339();
        assert_eq!(s.len(), 20, "{s}");
        assert!(s.starts_with("20") && s.ends_with('Z'));
    }
}
