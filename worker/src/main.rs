//! `vodpipe`: transcode and package uploads into HLS + DASH (CMAF).
//! Command line, logging and exit codes; the work is in the `worker` library.

use std::time::Duration;

use anyhow::{Context, Result};
use worker::extras::Extras;
use worker::{admin, queue, s3, transcode};

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "vodpipe", version, about = "Transcode and package uploads into HLS + DASH (CMAF)")]
struct Cli {
    /// Log lines as text (plain unless stderr is a terminal) or as one JSON object each,
    /// for log shippers.
    #[arg(long, global = true, env = "VODPIPE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
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
        /// Watchdog: fail a job whose pipeline has made no progress for this many seconds.
        #[arg(long, env = "VODPIPE_STALL_TIMEOUT", default_value_t = packager::STALL_TIMEOUT.as_secs_f64())]
        stall_timeout: f64,
        /// Encodes the video in chunks of this many seconds (whole segments), assembled into
        /// one title; 0 turns chunking off. Defaults to the ladder's `chunk_duration` (60 s).
        #[arg(long)]
        chunk_duration: Option<f64>,
        /// Chunk pipelines run at once (the audio and thumbnails are one more).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
        jobs: u16,
        #[command(flatten)]
        extras: Extras,
    },
    /// Consume transcode jobs from RabbitMQ, packaging to S3.
    Worker {
        #[arg(long, env = "AMQP_URL", default_value = queue::DEFAULT_AMQP_URL)]
        amqp_url: String,
        /// Unacked jobs per worker; a job is CPU-bound, so 1.
        #[arg(long, default_value_t = 1)]
        prefetch: u16,
        /// Seconds a running job may take to finish after SIGTERM before it is requeued.
        #[arg(long, default_value_t = 300)]
        grace: u64,
        /// Scratch space for downloaded sources.
        #[arg(long, env = "VODPIPE_WORK_DIR", default_value = "/tmp/vodpipe-work")]
        work_dir: PathBuf,
        /// Watchdog: fail a job whose pipeline has made no progress for this many seconds.
        #[arg(long, env = "VODPIPE_STALL_TIMEOUT", default_value_t = packager::STALL_TIMEOUT.as_secs_f64())]
        stall_timeout: f64,
        /// Serve Prometheus metrics at /metrics, and /healthz and /readyz, on HOST:PORT.
        #[arg(long, env = "VODPIPE_METRICS_ADDR")]
        metrics_addr: Option<std::net::SocketAddr>,
    },
    /// Upload a file to the uploads bucket and queue a job for it; prints the job id.
    Submit {
        file: PathBuf,
        #[arg(long)]
        video_id: String,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long, default_value = "default")]
        ladder: String,
        /// Spreads the title over the farm in chunk jobs of this many seconds of video
        /// (whole segments); 0 turns chunking off. Defaults to the ladder's `chunk_duration`.
        #[arg(long)]
        chunk_duration: Option<f64>,
        #[command(flatten)]
        extras: Extras,
        #[arg(long, env = "AMQP_URL", default_value = queue::DEFAULT_AMQP_URL)]
        amqp_url: String,
    },
    /// Queue one job per object under s3://bucket/prefix (batch runs).
    Enqueue {
        prefix: String,
        #[arg(long, default_value = "default")]
        ladder: String,
        #[arg(long, env = "AMQP_URL", default_value = queue::DEFAULT_AMQP_URL)]
        amqp_url: String,
    },
    /// Check that this machine has every GStreamer element the ladders need, naming the
    /// Debian package of each one missing; exits non-zero when any is.
    Doctor,
    /// Read a stored title back and check it against its catalog.json: every object the
    /// catalog and the manifests name exists with its sha256, the manifests parse and agree
    /// with the catalog, the timelines are continuous, the fingerprint recomputes. Lists
    /// the problems and exits non-zero when there are any.
    Verify {
        /// The title's folder (OUT/<video-id>) or s3://bucket/<video-id>/.
        title: String,
    },
    /// Print a time-limited GET URL for an object of the output bucket.
    Presign {
        /// Key in the output bucket, e.g. my-video/master.m3u8.
        key: String,
        #[arg(long)]
        bucket: Option<String>,
        #[arg(long, default_value_t = 3600)]
        expires: u64,
    },
}

async fn run_worker(
    amqp_url: String,
    prefetch: u16,
    grace: u64,
    work_dir: PathBuf,
    stall_timeout: f64,
    metrics_addr: Option<std::net::SocketAddr>,
) -> Result<()> {
    let stall_timeout = transcode::stall_timeout(stall_timeout)?;
    if let Some(addr) = metrics_addr {
        worker::metrics::serve(addr).await?;
    }
    packager::init()?;
    // A worker that cannot make what its ladders ask takes no job: another machine will.
    if let Some(missing) = worker::doctor::unfit(&worker::doctor::check_ladders()) {
        return Err(queue::Unfit(missing).into());
    }
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("signal received: no new jobs; finishing the current one");
        let _ = tx.send(true);
    });
    let settings = queue::WorkerSettings {
        amqp_url,
        prefetch: prefetch.max(1),
        grace: Duration::from_secs(grace),
        work_dir,
        stall_timeout,
        s3: s3::S3Config::from_env().await?,
    };
    queue::run(settings, rx).await.context("worker")
}

/// Logs to stderr, filtered by `VODPIPE_LOG` (default `info`). Colour only on a terminal.
/// A job's lines carry its `job_id` and `video_id` (its span's fields).
fn init_logging(format: LogFormat) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("VODPIPE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    match format {
        LogFormat::Text => fmt.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => fmt.json().flatten_event(true).with_current_span(true).with_span_list(false).init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Transcode { input, out, video_id, ladder, segment_duration, stall_timeout, chunk_duration, jobs, extras } => {
                let args = transcode::Args { input, out, video_id, ladder, segment_duration, stall_timeout, chunk_duration, jobs, extras };
                transcode::run(args).await
            }
            Command::Worker { amqp_url, prefetch, grace, work_dir, stall_timeout, metrics_addr } => {
                run_worker(amqp_url, prefetch, grace, work_dir, stall_timeout, metrics_addr).await
            }
            Command::Submit { file, video_id, title, description, ladder, chunk_duration, extras, amqp_url } => {
                let submission = admin::Submission { file, video_id, ladder, title, description, chunk_duration, extras };
                let job_id = admin::submit(&amqp_url, submission).await?;
                println!("{job_id}");
                Ok(())
            }
            Command::Enqueue { prefix, ladder, amqp_url } => {
                let ids = admin::enqueue(&amqp_url, &prefix, &ladder).await?;
                for id in &ids {
                    println!("{id}");
                }
                tracing::info!("queued {} jobs", ids.len());
                Ok(())
            }
            Command::Doctor => {
                packager::init()?;
                let checks = worker::doctor::check_ladders();
                print!("{}", worker::doctor::report(&checks));
                match worker::doctor::unfit(&checks) {
                    Some(missing) => Err(queue::Unfit(missing).into()),
                    None => Ok(()),
                }
            }
            Command::Verify { title } => {
                let verdict = worker::verify::verify(&title).await?;
                for p in &verdict.problems {
                    println!("{p}");
                }
                anyhow::ensure!(
                    verdict.problems.is_empty(),
                    "{title}: {} problem(s) in {} objects named by its catalog",
                    verdict.problems.len(),
                    verdict.objects
                );
                println!("{title}: ok: {} objects, fingerprint {}", verdict.objects, verdict.fingerprint);
                Ok(())
            }
            Command::Presign { key, bucket, expires } => {
                let cfg = s3::S3Config::from_env().await?;
                let client = s3::client(&cfg).await;
                let bucket = bucket.unwrap_or(cfg.output_bucket.clone());
                println!("{}", s3::presign_get(&client, &bucket, &key, Duration::from_secs(expires)).await?);
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the chain of causes joined, for logs and for people.
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("error: {msg}");
            // A machine that lacks what jobs need: 69 (EX_UNAVAILABLE), so a supervisor
            // can tell it from a crash.
            if e.downcast_ref::<queue::Unfit>().is_some() { ExitCode::from(69) } else { ExitCode::FAILURE }
        }
    }
}
