//! The fault and bad-input suite: bad uploads and bad messages dead-lettered with a
//! reason; workers killed at chosen points; the broker restarted under a job; S3
//! throttling, resetting and cutting off requests (through `proxy`); a store that hangs
//! until the watchdog gives up; and a load run with a kill in the middle. Each case
//! counts what it injected; the totals are in the README ("Faults and bad input").

use super::proxy::{Action, Proxy};
use super::*;

/// The fault proxy in front of this machine's S3 server.
pub(super) fn s3_proxy() -> Proxy {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL (from services.sh)");
    let hostport = endpoint
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("S3 endpoint {endpoint} is not plain http on loopback"))
        .trim_end_matches('/');
    let upstream = std::net::ToSocketAddrs::to_socket_addrs(hostport)
        .expect("S3 endpoint address")
        .next()
        .expect("S3 endpoint resolves");
    Proxy::start(upstream)
}

/// Objects of `got` whose bytes differ from (or are missing in) `want`, catalog.json
/// aside (it records when and into which bucket).
fn differing_objects<'a>(got: &'a Title, want: &Title) -> Vec<&'a String> {
    got.digests
        .iter()
        .filter(|(k, d)| k.as_str() != "catalog.json" && want.digests.get(*k) != Some(d))
        .map(|(k, _)| k)
        .collect()
}

fn is_manifest(key: &str) -> bool {
    key.ends_with(".m3u8") || key.ends_with(".mpd") || key.ends_with("catalog.json")
}

/// Waits until the proxy holds a request, failing if the worker exits first.
pub(super) async fn wait_for_hold(proxy: &Proxy, worker: &Worker, what: &str, within: Duration) {
    let started = Instant::now();
    while proxy.held_now() == 0 {
        if let Some(status) = worker.exit_status() {
            panic!("worker {} exited ({status}) before {what}:\n{}", worker.name, worker.tail(40));
        }
        assert!(
            started.elapsed() < within,
            "no request held ({what}) within {within:?}; last requests: {:#?}\n{}",
            proxy.recent(20),
            worker.tail(20)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------

/// One bad job: what is sent, and what the DLQ message and the event must say.
struct Bad {
    what: &'static str,
    body: Vec<u8>,
    /// The job id the failure must be attributed to (None: the message has no usable one).
    job_id: Option<String>,
    kind: &'static str,
    /// Words the reason must contain (case-insensitive), so that it names the problem.
    reason_has: &'static [&'static str],
}

/// Every kind of bad upload and bad message the issue lists, queued together with one
/// good job: each ends in the DLQ once, as it was sent, with a reason that names the
/// problem, and in a `video.failed` event; nothing of theirs is published; the worker
/// keeps going and packages the good job.
#[test]
fn every_bad_input_is_dead_lettered_with_a_reason() {
    serial(async {
        let mut case = Case::new("bad").await;
        let upload = case.s3.cfg.upload_bucket.clone();
        let job = |job_id: &str, video_id: &str, source: &str| {
            json!({"schema": JOB_SCHEMA_V1, "job_id": job_id, "video_id": video_id, "source": source})
        };
        let mut bad: Vec<Bad> = Vec::new();

        // Uploads that are not usable video, each behind a valid job message.
        let files: [(&str, &str, &[&str]); 10] = [
            ("empty.mp4", "zero-length file", &["empty"]),
            ("random.mp4", "random bytes named .mp4", &["not a media file"]),
            ("truncated.mp4", "mp4 cut before its moov", &["not a media file"]),
            ("truncated_mdat.mp4", "mp4 with its moov, mdat cut", &["truncated"]),
            ("audio_only.m4a", "audio-only file", &["no video"]),
            ("corrupt_frame.mp4", "corrupt frame mid-stream", &["damaged", "decoder"]),
            ("huge_picture.mkv", "10000x6000 picture", &["10000x6000"]),
            ("huge_duration.mp4", "header claiming 30 h", &["24 h"]),
            ("not_video.txt", "a text file", &["not a media file"]),
            ("short.mp4", "unknown ladder", &["ladder", "ultra-8k"]),
        ];
        for (i, (fixture, what, reason_has)) in files.into_iter().enumerate() {
            let vid = case.id(&format!("bad{i}"));
            let key = format!("{vid}/{fixture}");
            let bytes = fs::read(media(fixture)).expect("fixture");
            case.s3.put(&upload, &key, bytes).await;
            let job_id = format!("job-bad{i}-{}", stamp());
            let mut body = job(&job_id, &vid, &format!("s3://{upload}/{key}"));
            let kind = if what == "unknown ladder" {
                body["ladder"] = json!("ultra-8k");
                "invalid-job"
            } else {
                "bad-input"
            };
            bad.push(Bad {
                what,
                body: body.to_string().into_bytes(),
                job_id: Some(job_id),
                kind,
                reason_has,
            });
        }

        // Messages that are wrong in themselves.
        let vid = case.id("msg");
        let fine_source = format!("s3://{upload}/{vid}/x.mp4");
        let unknown_job = format!("job-unknown-{}", stamp());
        let mut unknown_field = job(&unknown_job, &vid, &fine_source);
        unknown_field["colour"] = json!("red");
        let missing_job = format!("job-missing-{}", stamp());
        // A good upload for the jobs whose subtitles or audio labels are wrong.
        let good_source = format!("s3://{upload}/{vid}/short.mp4");
        case.s3.put(&upload, &format!("{vid}/short.mp4"), fs::read(media("short.mp4")).expect("fixture")).await;
        case.s3.put(&upload, &format!("{vid}/broken.srt"), b"1\n00:00:01,000 -> 00:00:02,000\nno arrow\n".to_vec()).await;
        // (what it is, body, job id the event names, dead-letter kind, words the reason has)
        type BadMessage<'a> = (&'a str, Vec<u8>, Option<String>, &'a str, &'a [&'a str]);
        let messages: Vec<BadMessage> = vec![
            ("malformed JSON", br#"{"schema":"vodpipe.job/v1","job_id":"#.to_vec(), None, "invalid-job", &["JSON"]),
            // Refused whole, but its job id is safe to name in the event.
            ("unknown field", unknown_field.to_string().into_bytes(), Some(unknown_job.clone()), "invalid-job", &["colour"]),
            (
                "unsafe video id",
                job(&format!("job-unsafe-vid-{}", stamp()), "../../etc/passwd", &fine_source).to_string().into_bytes(),
                Some(format!("job-unsafe-vid-{}", stamp())),
                "invalid-job",
                &["video_id"],
            ),
            (
                "unsafe job id",
                job("../x", &vid, &fine_source).to_string().into_bytes(),
                None,
                "invalid-job",
                &["job_id", ".."],
            ),
            (
                "source key that does not exist",
                job(&missing_job, &vid, &format!("s3://{upload}/{vid}/never-uploaded.mp4")).to_string().into_bytes(),
                Some(missing_job.clone()),
                "bad-input",
                &["does not exist"],
            ),
            (
                "source that is not s3://",
                job(&format!("job-http-{}", stamp()), &vid, "http://example.com/a.mp4").to_string().into_bytes(),
                Some(format!("job-http-{}", stamp())),
                "invalid-job",
                &["s3://"],
            ),
            (
                "unsupported schema version",
                {
                    let mut j = job(&format!("job-v0-{}", stamp()), &vid, &fine_source);
                    j["schema"] = json!("vodpipe.job/v0");
                    j.to_string().into_bytes()
                },
                Some(format!("job-v0-{}", stamp())),
                "invalid-job",
                &["schema"],
            ),
            ("a JSON array", b"[1,2,3]".to_vec(), None, "invalid-job", &["JSON"]),
            (
                "subtitle file that does not exist",
                {
                    let mut j = job(&format!("job-nosubs-{}", stamp()), &vid, &good_source);
                    j["subtitles"] = json!([{"source": format!("s3://{upload}/{vid}/never-uploaded.srt"), "language": "en"}]);
                    j.to_string().into_bytes()
                },
                Some(format!("job-nosubs-{}", stamp())),
                "bad-input",
                &["subtitle file", "never-uploaded.srt", "does not exist"],
            ),
            (
                "malformed subtitle file",
                {
                    let mut j = job(&format!("job-badsubs-{}", stamp()), &vid, &good_source);
                    j["subtitles"] = json!([{"source": format!("s3://{upload}/{vid}/broken.srt")}]);
                    j.to_string().into_bytes()
                },
                Some(format!("job-badsubs-{}", stamp())),
                "bad-input",
                &["broken.srt", "line 2"],
            ),
            (
                "audio label of a stream the source lacks",
                {
                    let mut j = job(&format!("job-audio3-{}", stamp()), &vid, &good_source);
                    j["audio"] = json!([{"stream": 3, "language": "de"}]);
                    j.to_string().into_bytes()
                },
                Some(format!("job-audio3-{}", stamp())),
                "bad-input",
                &["audio stream 3", "1 audio stream"],
            ),
        ];
        for (what, body, job_id, kind, reason_has) in messages {
            bad.push(Bad { what, body, job_id, kind, reason_has });
        }

        let worker = Worker::start(&case, "bad", &case.bucket);
        for b in &bad {
            case.broker.publish_raw(&b.body).await;
        }
        let good_vid = case.id("good");
        let good_job = case.submit(&media("short.mp4"), &good_vid).await;

        let n = bad.len();
        case.events
            .wait_until(
                &format!("{n} video.failed events and the good job's video.packaged"),
                LONG_JOB,
                &[&worker],
                |ev| {
                    ev.seen.iter().filter(|e| e.key == "video.failed").count() >= n
                        && ev.count("video.packaged", &good_job) > 0
                },
            )
            .await;
        case.s3.wait_for_key(&case.bucket, &marker(&good_job), AFTER_EVENT).await;
        case.events.settle(QUIET).await;
        assert!(worker.exit_status().is_none(), "the worker exited after the bad jobs:\n{}", worker.tail(40));

        let dead = case.broker.take_dead_letters().await;
        let failed: Vec<&Value> = case
            .events
            .seen
            .iter()
            .filter(|e| e.key == "video.failed")
            .map(|e| &e.body)
            .collect();
        assert_eq!(dead.len(), n, "dead letters: {:#?}", dead.iter().map(|d| &d.error).collect::<Vec<_>>());
        assert_eq!(failed.len(), n, "{}", case.events.summary());
        let mentions = |text: &str, words: &[&str]| {
            let text = text.to_lowercase();
            words.iter().all(|w| text.contains(&w.to_lowercase()))
        };
        let mut problems = Vec::new();
        for b in &bad {
            let letters: Vec<&DeadLetter> = dead.iter().filter(|d| d.body == b.body).collect();
            let [d] = letters.as_slice() else {
                problems.push(format!("{}: {} dead letters carry its body", b.what, letters.len()));
                continue;
            };
            let reason = d.error.clone().unwrap_or_default();
            if d.kind.as_deref() != Some(b.kind) || !mentions(&reason, b.reason_has) {
                problems.push(format!(
                    "{}: DLQ kind {:?} reason {reason:?}; expected {} mentioning {:?}",
                    b.what, d.kind, b.kind, b.reason_has
                ));
            }
            let want_id = b.job_id.as_deref().unwrap_or("unparseable");
            if d.message_id.as_deref() != Some(want_id) {
                problems.push(format!("{}: DLQ message id {:?}, expected {want_id}", b.what, d.message_id));
            }
            // Its event: by job id when it has one, else the event with the same reason.
            let event = failed.iter().find(|e| match &b.job_id {
                Some(id) => e["job_id"] == id.as_str(),
                None => e["job_id"].is_null() && e["reason"] == reason.as_str(),
            });
            match event {
                None => problems.push(format!("{}: no video.failed event", b.what)),
                Some(e) if e["kind"] != b.kind => problems.push(format!("{}: event {e}", b.what)),
                Some(_) => {}
            }
            eprintln!("bad input: {:<32} -> {} : {reason}", b.what, b.kind);
        }
        assert!(problems.is_empty(), "bad inputs not handled as expected:\n  {}", problems.join("\n  "));

        // Nothing of theirs was announced or published; the good job was.
        for b in bad.iter().filter_map(|b| b.job_id.as_ref()) {
            assert_eq!(case.events.count("video.packaged", b), 0, "{b} announced as packaged");
            assert!(!case.s3.exists(&case.bucket, &marker(b)).await, "marker stored for {b}");
        }
        // A source found damaged half way leaves the segments made before (never named
        // by a manifest: README "Bad input"); no failed job leaves a manifest or marker.
        for key in case.s3.keys(&case.bucket, "").await {
            if key.starts_with(&format!("{good_vid}/")) || key == marker(&good_job) {
                continue;
            }
            assert!(
                !is_manifest(&key) && !key.starts_with(EVENT_MARKER_PREFIX),
                "a failed job left {key} in the output bucket"
            );
        }
        check_title(&case.s3, &case.bucket, &good_vid).await;
        assert_eq!(case.events.count("video.packaged", &good_job), 1, "{}", case.events.summary());
        let (ready, _) = case.broker.counts(JOBS_QUEUE).await;
        assert_eq!(ready, 0, "jobs left on {JOBS_QUEUE}");
        eprintln!("bad inputs tried: {n}, all dead-lettered with a reason; the good job packaged once");
        drop(worker);
        case.finish().await;
    });
}

// ---------------------------------------------------------------------------------------
// Worker killed at chosen points
// ---------------------------------------------------------------------------------------

/// Where the first worker is killed, and how the test gets it there.
#[derive(Debug, Clone, Copy, PartialEq)]
enum KillPoint {
    /// The pipeline is running (the worker logged `packaging`), nothing stored yet.
    Decoding,
    /// The first segment's PUT is in flight (held by the proxy).
    SegmentUpload,
    /// Every segment and the media playlists are stored; the MPD's PUT is held.
    Manifests,
    /// catalog.json is stored; the check before `video.packaged` is held.
    BeforeEvent,
    /// `video.packaged` and the ack are committed; the marker's PUT is held.
    AfterEvent,
}

impl KillPoint {
    fn hold(self, r: &proxy::Request) -> Action {
        let p = r.path();
        let held = match self {
            KillPoint::Decoding => false,
            KillPoint::SegmentUpload => r.method == "PUT" && p.ends_with(".m4s"),
            KillPoint::Manifests => r.method == "PUT" && p.ends_with("/manifest.mpd"),
            KillPoint::BeforeEvent => r.method == "HEAD" && p.contains("/_jobs/"),
            KillPoint::AfterEvent => r.method == "PUT" && p.contains("/_jobs/"),
        };
        if held { Action::Hold } else { Action::Pass }
    }
}

/// A worker SIGKILLed at each of five points of a job: the job is redelivered (unless
/// it was already acked) and completes; the title's keys and bytes equal a clean run's;
/// exactly one `video.packaged`; and at the moment of each kill, no stored manifest
/// names a segment that is not stored.
#[test]
fn worker_killed_at_any_point_loses_nothing_and_announces_once() {
    serial(async {
        let mut case = Case::new("kill").await;
        let vid = case.id("hd");
        let file = media("hd_16x9_audio.mp4");

        // The clean run.
        let reference = case.extra_bucket("killref").await;
        let ref_job = {
            let w = Worker::start(&case, "kill-ref", &reference);
            let job = case.submit(&file, &vid).await;
            case.events
                .wait_until("the clean run's video.packaged", LONG_JOB, &[&w], |ev| ev.count("video.packaged", &job) > 0)
                .await;
            w.wait_for_log("job done", 1, AFTER_EVENT).await;
            job
        };
        let want = check_title(&case.s3, &reference, &vid).await;
        let media_keys: BTreeSet<String> = want.digests.keys().filter(|k| !is_manifest(k)).cloned().collect();
        // A 10 s job reports progress at least once (the first report is not throttled).
        let progress = case.events.matching("video.progress", &ref_job);
        assert!(!progress.is_empty(), "no video.progress for the clean run: {}", case.events.summary());
        for p in &progress {
            let percent = p["percent"].as_f64().unwrap_or(-1.0);
            assert!((0.0..=100.0).contains(&percent), "video.progress percent: {p}");
        }

        let points = [
            KillPoint::Decoding,
            KillPoint::SegmentUpload,
            KillPoint::Manifests,
            KillPoint::BeforeEvent,
            KillPoint::AfterEvent,
        ];
        for (i, point) in points.into_iter().enumerate() {
            let bucket = case.extra_bucket(&format!("kill{i}")).await;
            let proxy = s3_proxy();
            proxy.set_rule(move |r| point.hold(r));
            let w1 = Worker::start_with(&case, &format!("kill-{i}a"), &bucket, &[("AWS_ENDPOINT_URL", &proxy.endpoint())]);
            let job = case.submit(&file, &vid).await;
            if point == KillPoint::Decoding {
                w1.wait_for_log("packaging", 1, LONG_JOB).await;
            } else {
                wait_for_hold(&proxy, &w1, &format!("{point:?}"), LONG_JOB).await;
            }
            w1.kill();
            proxy.release();
            let stored: BTreeSet<String> = case
                .s3
                .keys(&bucket, &format!("{vid}/"))
                .await
                .into_iter()
                .map(|k| k.trim_start_matches(&format!("{vid}/")).to_owned())
                .collect();
            if stored.iter().any(|k| is_manifest(k)) {
                let missing: Vec<&String> = media_keys.difference(&stored).collect();
                assert!(missing.is_empty(), "killed at {point:?}: a manifest is stored but not {missing:?}");
            }
            eprintln!("killed at {point:?} with {} objects stored", stored.len());
            case.events.settle(Duration::from_millis(500)).await;
            let announced_before = case.events.count("video.packaged", &job);
            assert_eq!(
                announced_before,
                usize::from(point == KillPoint::AfterEvent),
                "video.packaged events for {job} when killed at {point:?}"
            );

            let w2 = Worker::start(&case, &format!("kill-{i}b"), &bucket);
            if point == KillPoint::AfterEvent {
                // Acked with its event: nothing comes back to the queue.
                case.events.settle(QUIET).await;
                let (ready, _) = case.broker.counts(JOBS_QUEUE).await;
                assert_eq!(ready, 0, "the acked job is back on the queue");
                assert_eq!(w2.count_in_log("job started"), 0, "the acked job ran again:\n{}", w2.tail(20));
            } else {
                case.events
                    .wait_until(&format!("{point:?}: the redelivered job's video.packaged"), LONG_JOB, &[&w2], |ev| {
                        ev.count("video.packaged", &job) > 0
                    })
                    .await;
                w2.wait_for_log("job done", 1, AFTER_EVENT).await;
                case.events.settle(QUIET).await;
                assert!(w2.log().contains("redelivered=true"), "{point:?}: not a redelivery:\n{}", w2.tail(20));
            }
            assert_eq!(case.events.count("video.packaged", &job), 1, "{point:?}: {}", case.events.summary());
            assert_eq!(case.events.count("video.failed", &job), 0, "{point:?}: {}", case.events.summary());

            let got = check_title(&case.s3, &bucket, &vid).await;
            assert_eq!(
                got.digests.keys().collect::<BTreeSet<_>>(),
                want.digests.keys().collect::<BTreeSet<_>>(),
                "{point:?}: keys differ from the clean run"
            );
            let differing = differing_objects(&got, &want);
            assert!(differing.is_empty(), "{point:?}: bytes differ from the clean run: {differing:?}");
            assert_eq!(got.catalog.fingerprint, want.catalog.fingerprint, "{point:?}");
            // The catalog differs only where it must: when, into which bucket, and which
            // worker process made the title's parts.
            let normalise = |v: &Value| {
                let mut v = v.clone();
                for field in ["published_at", "base_uri"] {
                    v.as_object_mut().expect("catalog is an object").remove(field);
                }
                for part in v["parts"].as_array_mut().into_iter().flatten() {
                    part["worker"].as_object_mut().map(|w| w.remove("pid"));
                }
                v
            };
            let mut diffs = Vec::new();
            json_diff("", &normalise(&got.catalog_json), &normalise(&want.catalog_json), &mut diffs);
            assert!(diffs.is_empty(), "{point:?}: catalog.json vs the clean run:\n  {}", diffs.join("\n  "));
            drop(w2);
            drop(w1);
        }
        eprintln!("worker kills: {} points, each redelivered or acked once, titles identical", points.len());
        case.finish().await;
    });
}

// ---------------------------------------------------------------------------------------
// Broker restart
// ---------------------------------------------------------------------------------------

/// RabbitMQ restarted (`rabbitmqctl stop_app` / `start_app`) while a job runs: the
/// worker drops the job it can no longer ack, reconnects, and the redelivered job
/// completes once.
#[test]
fn broker_restart_during_a_job_is_survived() {
    serial(async {
        let mut case = Case::new("restart").await;
        let vid = case.id("hd");
        let worker = Worker::start(&case, "restart", &case.bucket);
        let job = case.submit(&media("hd_16x9_audio.mp4"), &vid).await;
        let started = Instant::now();
        while !case.s3.keys(&case.bucket, &format!("{vid}/")).await.iter().any(|k| k.ends_with(".m4s")) {
            assert!(started.elapsed() < LONG_JOB, "no segment stored:\n{}", worker.tail(40));
            assert!(worker.exit_status().is_none(), "worker exited:\n{}", worker.tail(40));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        rabbitmqctl(&["stop_app"]).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        rabbitmqctl(&["start_app"]).await;
        rabbitmqctl(&["await_startup"]).await;
        case.reconnect().await;

        case.events
            .wait_until("video.packaged after the broker restart", LONG_JOB, &[&worker], |ev| {
                ev.count("video.packaged", &job) > 0
            })
            .await;
        worker.wait_for_log("job done", 1, AFTER_EVENT).await;
        case.events.settle(QUIET).await;
        assert_eq!(case.events.count("video.packaged", &job), 1, "{}", case.events.summary());
        let log = worker.log();
        assert!(log.contains("broker session ended"), "the worker never saw the broker go:\n{}", worker.tail(40));
        assert!(log.contains("redelivered=true"), "the job was not redelivered:\n{}", worker.tail(40));
        check_title(&case.s3, &case.bucket, &vid).await;
        let (ready, _) = case.broker.counts(JOBS_QUEUE).await;
        assert_eq!(ready, 0);
        assert!(case.broker.take_dead_letters().await.is_empty(), "dead letters after a broker restart");
        drop(worker);
        case.finish().await;
    });
}

// ---------------------------------------------------------------------------------------
// A flaky store and a hung one
// ---------------------------------------------------------------------------------------

/// Between the worker and S3, a proxy answers the first try of requests with 503
/// SlowDown, resets connections mid-upload and cuts the source download short: the
/// worker's retries get every object stored intact (digests checked against the catalog
/// and the sha256 metadata) and the job is announced once.
#[test]
fn s3_throttling_resets_and_cut_downloads_are_retried() {
    serial(async {
        let mut case = Case::new("flaky").await;
        let vid = case.id("short");
        let proxy = s3_proxy();
        proxy.set_rule(|r| {
            let p = r.path();
            if r.attempt > 1 {
                return Action::Pass;
            }
            match r.method.as_str() {
                "PUT" if p.ends_with(".m4s") => Action::SlowDown,
                "PUT" if p.ends_with(".mp4") || p.ends_with(".jpg") || p.ends_with(".m3u8") => Action::Reset,
                "PUT" if p.ends_with("catalog.json") || p.contains("/_jobs/") => Action::SlowDown,
                // The source download: the first answer stops after a few hundred bytes.
                "GET" if p.ends_with("short.mp4") => Action::Cut(600),
                "HEAD" => Action::SlowDown,
                _ => Action::Pass,
            }
        });
        let worker = Worker::start_with(&case, "flaky", &case.bucket, &[("AWS_ENDPOINT_URL", &proxy.endpoint())]);
        let job = case.submit(&media("short.mp4"), &vid).await;
        case.events
            .wait_until("video.packaged through the flaky store", LONG_JOB, &[&worker], |ev| {
                ev.count("video.packaged", &job) > 0
            })
            .await;
        case.s3.wait_for_key(&case.bucket, &marker(&job), AFTER_EVENT).await;
        case.events.settle(QUIET).await;
        let stats = proxy.stats();
        eprintln!("S3 faults injected: {stats:?}");
        assert!(stats.slowdowns >= 3, "{stats:?}");
        assert!(stats.resets >= 2, "{stats:?}");
        assert!(stats.cuts >= 1, "{stats:?}");
        assert_eq!(case.events.count("video.packaged", &job), 1, "{}", case.events.summary());
        assert_eq!(case.events.count("video.failed", &job), 0, "{}", case.events.summary());
        let title = check_title(&case.s3, &case.bucket, &vid).await;
        worker.wait_for_log("job done", 1, AFTER_EVENT).await;
        drop(worker);
        // The same source straight to the store gives the same bytes.
        let clean_bucket = case.extra_bucket("flakyref").await;
        let clean = Worker::start(&case, "flaky-ref", &clean_bucket);
        let clean_job = case.submit(&media("short.mp4"), &vid).await;
        case.events
            .wait_until("the clean run's video.packaged", LONG_JOB, &[&clean], |ev| {
                ev.count("video.packaged", &clean_job) > 0
            })
            .await;
        let want = check_title(&case.s3, &clean_bucket, &vid).await;
        let differing = differing_objects(&title, &want);
        assert!(differing.is_empty(), "objects stored through the faults differ from a clean run: {differing:?}");
        assert_eq!(title.digests.len(), want.digests.len());
        drop(clean);
        case.finish().await;
    });
}

/// A store that stops answering (every segment PUT held): no request finishes and the
/// pipeline backs up until its position stops; the watchdogs (`--stall-timeout`, 3 s
/// here; one on the store's requests, one on the decoded position) fail the attempt
/// instead of holding the job and the queue forever. Once the store answers again, a
/// retry completes the job, announced once.
#[test]
fn a_stalled_pipeline_is_failed_by_the_watchdog_and_retried() {
    serial(async {
        let mut case = Case::new("stall").await;
        let vid = case.id("hd");
        let proxy = s3_proxy();
        proxy.set_rule(|r| {
            if r.method == "PUT" && r.path().ends_with(".m4s") { Action::Hold } else { Action::Pass }
        });
        let worker = Worker::start_with(
            &case,
            "stall",
            &case.bucket,
            &[("AWS_ENDPOINT_URL", &proxy.endpoint()), ("VODPIPE_STALL_TIMEOUT", "3")],
        );
        let job = case.submit(&media("hd_16x9_audio.mp4"), &vid).await;
        // "stalled store" or "stalled pipeline", whichever watchdog sees it first.
        worker.wait_for_log("stalled", 1, SHORT_JOB).await;
        assert_eq!(case.events.count("video.packaged", &job), 0);
        assert!(
            worker.log().contains("retryable failure"),
            "the stall was not treated as retryable:\n{}",
            worker.tail(30)
        );
        eprintln!("watchdog fired with {} PUTs held", proxy.held_now());
        proxy.set_rule(|_| Action::Pass);
        proxy.release();
        case.events
            .wait_until("video.packaged once the store answers", LONG_JOB, &[&worker], |ev| {
                ev.count("video.packaged", &job) > 0
            })
            .await;
        worker.wait_for_log("job done", 1, AFTER_EVENT).await;
        case.events.settle(QUIET).await;
        assert_eq!(case.events.count("video.packaged", &job), 1, "{}", case.events.summary());
        check_title(&case.s3, &case.bucket, &vid).await;
        drop(worker);
        case.finish().await;
    });
}

// ---------------------------------------------------------------------------------------
// Load
// ---------------------------------------------------------------------------------------

/// 50 small jobs, two workers, one of them SIGKILLed once a fifth of the jobs are done
/// (and started again): every job is announced exactly once, none fails, nothing is
/// left on the queue or in the DLQ.
#[test]
fn fifty_jobs_two_workers_one_kill() {
    serial(async {
        const JOBS: usize = 50;
        let mut case = Case::new("load").await;
        let upload = case.s3.cfg.upload_bucket.clone();
        let vid0 = case.id("src");
        let key = format!("{vid0}/short.mp4");
        case.s3.put(&upload, &key, fs::read(media("short.mp4")).expect("fixture")).await;
        let mut jobs = Vec::new();
        for i in 0..JOBS {
            let vid = case.id(&format!("v{i:02}"));
            let job_id = format!("job-load{i:02}-{}", stamp());
            let body = json!({"schema": JOB_SCHEMA_V1, "job_id": job_id, "video_id": vid, "source": format!("s3://{upload}/{key}")});
            case.broker.publish_raw(body.to_string().as_bytes()).await;
            jobs.push((job_id, vid));
        }
        let a = Worker::start(&case, "load-a", &case.bucket);
        let b = Worker::start(&case, "load-b", &case.bucket);
        let done = |ev: &Events, n: usize| jobs.iter().filter(|(j, _)| ev.count("video.packaged", j) > 0).count() >= n;
        case.events
            .wait_until("the first fifth of the jobs", LONG_JOB, &[&a, &b], |ev| done(ev, JOBS / 5))
            .await;
        a.kill();
        let killed_during = a.log().lines().filter(|l| l.contains("job started")).count()
            - a.log().lines().filter(|l| l.contains("job done")).count();
        let a2 = Worker::start(&case, "load-a2", &case.bucket);
        case.events
            .wait_until("every job's video.packaged", Duration::from_secs(1800), &[&a2, &b], |ev| done(ev, JOBS))
            .await;
        case.events.settle(QUIET).await;
        for w in [&a2, &b] {
            let status = w.terminate(Duration::from_secs(60));
            assert!(status.success(), "worker {} exited with {status}", w.name);
        }
        let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
        for (job, vid) in &jobs {
            let n = case.events.count("video.packaged", job);
            *counts.entry(n).or_default() += 1;
            assert_eq!(n, 1, "{job}: {n} video.packaged events");
            assert_eq!(case.events.count("video.failed", job), 0, "{job} failed: {}", case.events.summary());
            assert!(case.s3.exists(&case.bucket, &format!("{vid}/catalog.json")).await, "{vid}/catalog.json missing");
        }
        let (ready, consumers) = case.broker.counts(JOBS_QUEUE).await;
        assert_eq!((ready, consumers), (0, 0), "jobs left on {JOBS_QUEUE} (ready, consumers)");
        let dead = case.broker.take_dead_letters().await;
        assert!(dead.is_empty(), "dead letters: {dead:#?}");
        // Full checks on a few titles, among them one the killed worker may have left half made.
        for (_, vid) in jobs.iter().step_by(JOBS / 3) {
            check_title(&case.s3, &case.bucket, vid).await;
        }
        let by_worker: Vec<(String, usize)> = [&a, &a2, &b]
            .iter()
            .map(|w| (w.name.clone(), w.count_in_log("job done")))
            .collect();
        eprintln!(
            "load: {JOBS} jobs, 2 workers, 1 kill (with {killed_during} job in progress), packaged once each: {}, \
             lost 0, DLQ 0; jobs done per worker {by_worker:?}",
            counts.get(&1).copied().unwrap_or(0)
        );
        case.finish().await;
    });
}
