//! A worker's logs as a log shipper reads them: with `--log-format json` (here by
//! `VODPIPE_LOG_FORMAT`) every line is one JSON object, none carries a terminal colour
//! code (stderr is a file), and every line logged while a job runs names its job id and
//! video id.

use super::*;

#[test]
fn json_logs_name_the_job_and_video_on_every_line_of_the_job() {
    serial(async {
        let mut case = Case::new("logs").await;
        let worker = Worker::start_with(&case, "logs-worker", &case.bucket, &[("VODPIPE_LOG_FORMAT", "json")]);
        // Its three consumers are up (their lines are not the job's), and nothing else runs.
        worker.wait_for_log("waiting for jobs", 3, Duration::from_secs(60)).await;
        let vid = case.id("logs");
        let job = case.submit(&media("short.mp4"), &vid).await;
        case.events.wait_until("video.packaged", SHORT_JOB, &[&worker], |ev| ev.count("video.packaged", &job) > 0).await;
        worker.wait_for_log("job done", 1, AFTER_EVENT).await;
        let log = worker.log();
        assert!(!log.contains('\u{1b}'), "a colour code in a log written to a file:\n{log}");
        let lines: Vec<Value> = log
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not one JSON object ({e}): {l}")))
            .collect();
        let message = |v: &Value| v["message"].as_str().unwrap_or_default().to_owned();
        let start = lines.iter().position(|v| message(v) == "job started").expect("a job started line");
        let end = lines.iter().position(|v| message(v) == "job done").expect("a job done line");
        assert!(end - start >= 3, "the job logged only {} lines:\n{log}", end - start + 1);
        for v in &lines[start..=end] {
            assert_eq!(v["span"]["job_id"], job.as_str(), "a line of the job without its job id: {v}");
            assert_eq!(v["span"]["video_id"], vid.as_str(), "a line of the job without its video id: {v}");
            assert!(v["level"].is_string() && v["timestamp"].is_string(), "{v}");
        }
        drop(worker);
        case.finish().await;
    });
}
