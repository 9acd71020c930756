//! `vodpipe`: transcode and package uploads into HLS + DASH (CMAF).
//!
//! Layout:
//! - `main`: command line, logging, exit codes.
//! - `transcode`: the embedded default (one file to a local folder).
//! - `fs_store`: the local-folder storage.
//! - `ids`: video id validation.

mod fs_store;
mod ids;
mod transcode;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "vodpipe", version, about = "Transcode and package uploads into HLS + DASH (CMAF)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Transcode one file to a local folder (no broker, no object store).
    Transcode {
        /// The upload to package.
        input: PathBuf,
        /// Output folder; the title lands in OUT/<video-id>/.
        #[arg(long)]
        out: PathBuf,
        /// Defaults to the input's file name, sanitised.
        #[arg(long)]
        video_id: Option<String>,
        /// Ladder file (TOML); defaults to ladders/default.toml.
        #[arg(long)]
        ladder: Option<PathBuf>,
        /// Overrides the ladder's target segment duration, in seconds.
        #[arg(long)]
        segment_duration: Option<f64>,
    },
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("VODPIPE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Transcode { input, out, video_id, ladder, segment_duration } => {
                transcode::run(transcode::Args { input, out, video_id, ladder, segment_duration }).await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the chain of causes joined, for logs and for people.
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}
