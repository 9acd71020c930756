//! Our own bugs, not the upload's: a job whose encoder fails (an encoder error injected by
//! `VODPIPE_FAILPOINT=encoder-error@SECONDS`) is put back in the queue once, marked with
//! `x-vodpipe-internal-failures`, and when it fails the same way again is dead-lettered as
//! `internal` (not `bad-input`) with one `video.failed`; no manifest is published.

use super::*;

#[test]
fn an_internal_error_is_tried_once_more_then_dead_lettered_as_internal() {
    serial(async {
        let mut case = Case::new("internal").await;
        let worker = Worker::start_with(&case, "internal-worker", &case.bucket, &[("VODPIPE_FAILPOINT", "encoder-error@0.5")]);
        let vid = case.id("internal");
        let job = case.submit(&media("short.mp4"), &vid).await;
        case.events.wait_until("video.failed", SHORT_JOB, &[&worker], |ev| ev.count("video.failed", &job) > 0).await;
        case.events.settle(Duration::from_secs(2)).await;
        assert_eq!(case.events.count("video.failed", &job), 1, "one video.failed: {}", case.events.summary());
        assert_eq!(case.events.count("video.packaged", &job), 0, "packaged after an internal error");
        let failed = &case.events.matching("video.failed", &job)[0];
        assert_eq!(failed["kind"], "internal", "{failed}");
        let dead = case.broker.take_dead_letters().await;
        assert_eq!(dead.len(), 1, "{dead:#?}");
        assert_eq!(dead[0].kind.as_deref(), Some("internal"), "{dead:#?}");
        assert!(dead[0].error.as_deref().is_some_and(|e| e.contains("encoder error injected")), "{dead:#?}");
        let log = worker.log();
        assert_eq!(log.matches("job started").count(), 2, "the job ran twice (once more after its internal error):\n{log}");
        assert_eq!(log.matches("internal error, the job is queued once more").count(), 1, "{log}");
        for manifest in ["master.m3u8", "manifest.mpd", "catalog.json"] {
            assert!(!case.s3.exists(&case.bucket, &format!("{vid}/{manifest}")).await, "{manifest} published");
        }
        drop(worker);
        case.finish().await;
    });
}
