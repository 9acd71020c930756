//! Faults of the machine, not of the upload: a worker whose GStreamer lacks a plugin takes
//! no job it cannot make, blames no upload, puts back what it met without spending the
//! job's delivery budget, and says what to install. The plugin is taken away the way a
//! machine lacks it: the worker's GStreamer is pointed at the system's plugin folder less
//! that one file, with a registry of its own.

use super::*;
use lapin::options::BasicNackOptions;

/// The exit status of a worker that finds its machine unfit (EX_UNAVAILABLE).
const UNFIT: i32 = 69;

/// Environment for a `vodpipe` whose GStreamer has every system plugin but `left_out`
/// (file names such as `libgstx264.so`).
fn without_plugins(name: &str, left_out: &[&str]) -> Vec<(String, String)> {
    let out = Command::new("pkg-config")
        .args(["--variable=pluginsdir", "gstreamer-1.0"])
        .output()
        .expect("running pkg-config (scripts/setup.sh installs it)");
    let system = PathBuf::from(String::from_utf8(out.stdout).expect("utf-8").trim());
    let dir = scratch(name);
    let plugins = dir.join("plugins");
    fs::create_dir_all(&plugins).unwrap();
    let mut linked = 0;
    for entry in fs::read_dir(&system).unwrap_or_else(|e| panic!("{}: {e}", system.display())).flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if left_out.contains(&file.as_str()) {
            continue;
        }
        std::os::unix::fs::symlink(entry.path(), plugins.join(&file)).unwrap();
        linked += 1;
    }
    for gone in left_out {
        assert!(system.join(gone).exists(), "{gone} is not in {}: the test would take nothing away", system.display());
    }
    assert!(linked > 20, "only {linked} plugins in {}", system.display());
    vec![
        ("GST_PLUGIN_SYSTEM_PATH_1_0".into(), plugins.display().to_string()),
        ("GST_PLUGIN_PATH_1_0".into(), String::new()),
        ("GST_REGISTRY_1_0".into(), dir.join("registry.bin").display().to_string()),
    ]
}

fn env_refs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Waits for the worker to exit by itself, and returns its status.
async fn wait_for_exit(worker: &Worker, within: Duration) -> ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = worker.exit_status() {
            return status;
        }
        assert!(started.elapsed() < within, "worker {} still running after {within:?}:\n{}", worker.name, worker.tail(30));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `vodpipe doctor` and a worker on a machine without x264: the doctor names the element
/// and its package and exits non-zero; the worker refuses to start, saying the same, and
/// the job queued before it is still there, untouched (not dead-lettered, no
/// `video.failed`); a whole worker then packages it.
#[test]
fn a_worker_missing_an_encoder_refuses_to_start_and_leaves_the_jobs_queued() {
    serial(async {
        let mut case = Case::new("unfit").await;
        let env = without_plugins("unfit-plugins", &["libgstx264.so"]);
        let doctor = Command::new(VODPIPE).arg("doctor").envs(env_refs(&env)).output().expect("running vodpipe doctor");
        let said = format!("{}{}", String::from_utf8_lossy(&doctor.stdout), String::from_utf8_lossy(&doctor.stderr));
        assert_eq!(doctor.status.code(), Some(UNFIT), "vodpipe doctor without x264:\n{said}");
        assert!(said.contains("x264enc") && said.contains("MISSING (install gstreamer1.0-plugins-ugly)"), "{said}");
        let healthy = Command::new(VODPIPE).arg("doctor").output().expect("running vodpipe doctor");
        assert!(healthy.status.success(), "vodpipe doctor on this machine:\n{}", String::from_utf8_lossy(&healthy.stdout));

        let vid = case.id("unfit");
        let job = case.submit(&media("short.mp4"), &vid).await;
        let unfit = Worker::start_with(&case, "unfit-worker", &case.bucket, &env_refs(&env));
        let status = wait_for_exit(&unfit, Duration::from_secs(60)).await;
        assert_eq!(status.code(), Some(UNFIT), "worker without x264:\n{}", unfit.tail(20));
        let log = unfit.log();
        assert!(
            log.contains("cannot run vodpipe jobs") && log.contains("x264enc") && log.contains("apt-get install gstreamer1.0-plugins-ugly"),
            "the worker does not say what it lacks:\n{log}"
        );
        assert!(!log.contains("job started"), "it took a job:\n{log}");
        assert_eq!(case.broker.counts(JOBS_QUEUE).await, (1, 0), "the job is still queued, and nobody consumes");
        assert!(case.broker.take_dead_letters().await.is_empty(), "nothing dead-lettered");
        assert_eq!(case.events.count("video.failed", &job), 0, "no video.failed");

        let whole = Worker::start(&case, "unfit-whole", &case.bucket);
        case.events
            .wait_until("the job's video.packaged from a whole worker", SHORT_JOB, &[&whole], |ev| ev.count("video.packaged", &job) > 0)
            .await;
        assert!(case.broker.take_dead_letters().await.is_empty(), "nothing dead-lettered");
        drop(whole);
        case.finish().await;
    });
}

/// A Theora upload reaches a worker whose machine lacks the Theora decoder (its ladders'
/// elements are all there, so it started): the job goes back to the queue as a fresh
/// message (no delivery spent: `x-delivery-count` 0), not to the DLQ, with no
/// `video.failed`; the worker stops taking jobs and exits naming the decoder and its
/// package; a worker that has it packages the job.
#[test]
fn a_source_this_machine_cannot_decode_goes_back_to_the_queue_for_another_worker() {
    serial(async {
        let mut case = Case::new("nodecoder").await;
        let env = without_plugins("nodecoder-plugins", &["libgsttheora.so"]);
        let source = scratch("nodecoder-source").join("theora.mkv");
        let made = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i"])
            .args(["sine=frequency=440:sample_rate=48000", "-t", "4", "-c:v", "libtheora", "-q:v", "6", "-c:a", "libvorbis"])
            .arg(&source)
            .status()
            .expect("running ffmpeg");
        assert!(made.success(), "ffmpeg could not make a Theora source");

        let unfit = Worker::start_with(&case, "nodecoder-worker", &case.bucket, &env_refs(&env));
        case.broker.wait_consumers(1, Duration::from_secs(60)).await;
        let vid = case.id("theora");
        let job = case.submit(&source, &vid).await;
        let status = wait_for_exit(&unfit, SHORT_JOB).await;
        assert_eq!(status.code(), Some(UNFIT), "worker without theoradec:\n{}", unfit.tail(20));
        let log = unfit.log();
        assert!(log.contains("job started"), "the worker never took the job:\n{log}");
        assert!(
            log.contains("theoradec") && log.contains("gstreamer1.0-plugins-base") && log.contains("goes back to the queue"),
            "the worker does not say what it lacks:\n{log}"
        );
        assert!(case.broker.take_dead_letters().await.is_empty(), "a machine's fault dead-lettered the upload");
        assert_eq!(case.events.count("video.failed", &job), 0, "a machine's fault announced video.failed");
        assert_eq!(case.broker.counts(JOBS_QUEUE).await, (1, 0), "the job is back in the queue");
        // Put back as a fresh message: the broker has not counted a delivery against it.
        let back = case
            .broker
            .ch
            .basic_get(JOBS_QUEUE.into(), BasicGetOptions { no_ack: false })
            .await
            .expect("basic.get")
            .expect("the job is in the queue");
        let headers = back.delivery.properties.headers().clone().unwrap_or_default();
        let count = match headers.inner().get("x-delivery-count") {
            None => 0,
            Some(AMQPValue::LongLongInt(n)) => *n,
            Some(other) => panic!("x-delivery-count {other:?}"),
        };
        assert_eq!(count, 0, "the put-back job has a delivery counted against it: {headers:?}");
        let body: Value = serde_json::from_slice(&back.delivery.data).expect("the job is JSON");
        assert_eq!(body["job_id"], job.as_str(), "the job went back as it was sent: {body}");
        assert_eq!(body["video_id"], vid.as_str(), "the job went back as it was sent: {body}");
        back.delivery.acker.nack(BasicNackOptions { requeue: true, ..Default::default() }).await.expect("nack");

        let whole = Worker::start(&case, "nodecoder-whole", &case.bucket);
        case.events
            .wait_until("the job's video.packaged from a worker with the decoder", SHORT_JOB, &[&whole], |ev| ev.count("video.packaged", &job) > 0)
            .await;
        assert!(case.broker.take_dead_letters().await.is_empty(), "nothing dead-lettered");
        drop(whole);
        case.finish().await;
    });
}
