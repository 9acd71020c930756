//! End-to-end tests of the queue side of `vodpipe`: `worker`, `submit`, `enqueue` and
//! `presign`, run as child processes against a real RabbitMQ and a real S3-compatible
//! server (SeaweedFS). Both are started by `scripts/services.sh`, which this test runs
//! itself, so it never skips.
//!
//! Layout:
//! - the cases (top of the file), one per behaviour;
//! - `check_title`: every check made on a packaged title in a bucket (the objects the
//!   catalog names, their headers and digests, HLS parsed by m3u8-rs and DASH by
//!   dash-mpd-core, and every object those manifests name);
//! - `Case`: one case's output bucket, video ids, broker connection and event listener;
//! - `Broker`, `Events`: the jobs queue, its DLQ and the `catalog` exchange, seen from
//!   outside the worker;
//! - `Worker`: a `vodpipe worker` child, killed when dropped;
//! - helpers: services, fixtures, S3, commands with a deadline, a plain HTTP GET.
//!
//! A worker takes whatever job it finds on `vodpipe.jobs`, so each case gets a RabbitMQ
//! virtual host of its own (its own jobs queue, DLQ and `catalog` exchange): a worker
//! left running by hand, or another suite, cannot take its jobs or send it events. Each
//! case also checks that it alone consumes its queue and purges it and its DLQ, and
//! writes to its own output bucket under its own video ids. The cases still run one at a
//! time (`SERIAL`): each transcodes, and on two shared cores parallel transcodes would
//! only stretch the timings the crash case depends on. A case that passes deletes what
//! it made (vhost, buckets, uploads); one that fails leaves them for inspection.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::future::Future;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::types::ServerSideEncryption;
use futures_lite::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicGetOptions, QueueBindOptions, QueueDeclareOptions, QueuePurgeOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection, Consumer};
use manifest::catalog::{Catalog, DASH_MPD, HLS_MASTER};
use manifest::model::{Sha256Digest, TrackKind};
use packager::storage::content_type as ct;
use serde_json::{Value, json};
use worker::job::JOB_SCHEMA_V1;
use worker::queue::{self, DEAD_LETTER_QUEUE, EVENT_MARKER_PREFIX, EVENTS_EXCHANGE, JOBS_QUEUE};
use worker::s3::{self, CACHE_CONTROL_IMMUTABLE, CACHE_CONTROL_SHORT, S3Config, SHA256_METADATA};

#[path = "../common/mod.rs"]
mod common;
use common::media;
mod chunks;
mod faults;
mod internal;
mod logs;
mod machine;
mod metrics;
mod proxy;

const VODPIPE: &str = env!("CARGO_BIN_EXE_vodpipe");

/// How long a job on one of the short clips (1.5 s, 360p) may take from submission to
/// its `video.packaged` event. A few seconds when the machine is idle; generous because
/// these tests share 2 cores with other builds and test binaries.
const SHORT_JOB: Duration = Duration::from_secs(240);
/// The same for the 10 s 720p clip on the default ladder (four rungs plus audio).
const LONG_JOB: Duration = Duration::from_secs(600);
/// How long to keep listening after the last expected event, so that a duplicate
/// `video.packaged` (a redelivered job published twice) would be seen.
const QUIET: Duration = Duration::from_secs(3);
/// Commands other than the worker (submit, enqueue, presign): uploads of small files.
const COMMAND_DEADLINE: Duration = Duration::from_secs(120);
/// The worker writes its marker and acks right after publishing `video.packaged`.
const AFTER_EVENT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------

/// One clean job: every object the catalog names is in the bucket with its encryption,
/// type, caching and digest; the manifests parse and name only stored objects; one
/// `video.packaged` event carries the catalog that was stored.
#[test]
fn submitted_job_is_stored_with_headers_digests_and_one_event() {
    serial(async {
        let mut case = Case::new("pkg").await;
        let worker = Worker::start(&case, "pkg", &case.bucket);
        let vid = case.id("short");
        let job = case.submit(&media("short.mp4"), &vid).await;

        case.events
            .wait_until("the job's video.packaged", SHORT_JOB, &[&worker], |ev| {
                ev.count("video.packaged", &job) > 0
            })
            .await;
        case.s3
            .wait_for_key(&case.bucket, &marker(&job), AFTER_EVENT)
            .await;
        case.events.settle(QUIET).await;

        let packaged = case.events.matching("video.packaged", &job);
        assert_eq!(
            packaged.len(),
            1,
            "video.packaged events for {job}: {:#?}",
            packaged
        );
        assert_eq!(
            case.events.count("video.failed", &job),
            0,
            "video.failed for a good job: {}",
            case.events.summary()
        );
        let title = check_title(&case.s3, &case.bucket, &vid).await;
        assert!(
            title
                .catalog
                .renditions
                .iter()
                .any(|r| r.kind == TrackKind::Audio),
            "short.mp4 has audio, the catalog has no audio rendition"
        );

        let ev = packaged[0];
        assert_eq!(ev["video_id"], vid.as_str());
        assert_eq!(
            ev["fingerprint"],
            title.catalog.fingerprint.to_string(),
            "event fingerprint vs catalog.json"
        );
        assert_eq!(
            ev["manifests"]["hls"],
            format!("s3://{}/{vid}/master.m3u8", case.bucket)
        );
        assert_eq!(
            ev["manifests"]["dash"],
            format!("s3://{}/{vid}/manifest.mpd", case.bucket)
        );
        assert_eq!(
            ev["catalog"], title.catalog_json,
            "the event's catalog differs from the stored catalog.json"
        );
        let stored_marker = case.s3.get(&case.bucket, &marker(&job)).await;
        assert_eq!(
            String::from_utf8_lossy(&stored_marker),
            title.catalog.fingerprint.to_string(),
            "marker body"
        );
        // The catalog names where the title came from: the job's source, not the
        // worker's scratch copy (deleted when the job ends, different on every delivery).
        let source = format!("s3://{}/{vid}/short.mp4", case.s3.cfg.upload_bucket);
        assert_eq!(title.catalog.source.uri, source, "catalog.json source.uri");

        worker.wait_for_log("job done", 1, AFTER_EVENT).await;
        drop(worker);
        case.finish().await;
    });
}

/// `vodpipe submit --subtitles LANG=FILE --audio N=LANG,ROLE`: the subtitle file is
/// uploaded beside the source and named in the job, the worker makes its WebVTT rendition
/// (stored, with the same cue text) and labels the audio as the job says.
#[test]
fn submitted_subtitles_and_audio_labels_reach_the_title() {
    serial(async {
        let mut case = Case::new("extras").await;
        let worker = Worker::start(&case, "extras", &case.bucket);
        let vid = case.id("extras");
        let srt = scratch("extras-subtitles").join("english.srt");
        fs::write(&srt, "1\n00:00:00,500 --> 00:00:01,750\nHello from the queue\n\n2\n00:00:02,000 --> 00:00:03,000\nSecond <i>cue</i>\n").unwrap();
        let subtitles = format!("en={}", srt.display());
        let job = case.submit_with(&media("short.mp4"), &vid, &["--subtitles", &subtitles, "--audio", "1=ger,description"]).await;
        case.events
            .wait_until("the job's video.packaged", SHORT_JOB, &[&worker], |ev| ev.count("video.packaged", &job) > 0)
            .await;
        case.s3.wait_for_key(&case.bucket, &marker(&job), AFTER_EVENT).await;
        // Beside the source in the uploads bucket, as the job names it.
        let uploaded = case.s3.get(&case.s3.cfg.upload_bucket, &format!("{vid}/subtitles/1.en.srt")).await;
        assert_eq!(uploaded, fs::read(&srt).unwrap(), "the uploaded subtitle file");

        let title = check_title(&case.s3, &case.bucket, &vid).await;
        let subs: Vec<(String, Option<String>)> = title.catalog.subtitles.iter().map(|t| (t.id.clone(), t.language.clone())).collect();
        assert_eq!(subs, [("subs_en".to_owned(), Some("en".to_owned()))]);
        let whole = String::from_utf8(case.s3.get(&case.bucket, &format!("{vid}/{}", title.catalog.subtitles[0].whole.uri)).await).unwrap();
        assert!(
            whole.contains("00:00:00.500 --> 00:00:01.750\nHello from the queue") && whole.contains("00:00:02.000 --> 00:00:03.000\nSecond <i>cue</i>"),
            "whole.vtt:\n{whole}"
        );
        let audio: Vec<(Option<String>, String)> = title
            .catalog
            .renditions
            .iter()
            .filter(|r| r.kind == TrackKind::Audio)
            .map(|r| (r.language.clone(), r.role.as_str().to_owned()))
            .collect();
        assert_eq!(audio, [(Some("de".to_owned()), "description".to_owned())]);
        let master = String::from_utf8(case.s3.get(&case.bucket, &format!("{vid}/{HLS_MASTER}")).await).unwrap();
        assert!(master.contains("CHARACTERISTICS=\"public.accessibility.describes-video\""), "{master}");
        assert!(master.contains("TYPE=SUBTITLES"), "{master}");

        worker.wait_for_log("job done", 1, AFTER_EVENT).await;
        drop(worker);
        case.finish().await;
    });
}

/// Two workers on one queue: four jobs, each packaged once, nothing dead-lettered, and
/// both workers took part.
#[test]
fn two_workers_share_the_queue() {
    serial(async {
        let mut case = Case::new("pair").await;
        let a = Worker::start(&case, "pair-a", &case.bucket);
        let b = Worker::start(&case, "pair-b", &case.bucket);
        // Both consumers registered before the first job: with prefetch 1 the broker
        // then has to hand the second job to the second worker.
        case.broker.wait_consumers(2, Duration::from_secs(60)).await;

        let mut jobs = Vec::new();
        for (i, clip) in ["short.mp4", "noaudio.ts", "short.mp4", "noaudio.ts"]
            .iter()
            .enumerate()
        {
            let vid = case.id(&format!("j{i}"));
            let job = case.submit(&media(clip), &vid).await;
            jobs.push((job, vid));
        }
        let ids: Vec<String> = jobs.iter().map(|(j, _)| j.clone()).collect();
        case.events
            .wait_until(
                "video.packaged for all four jobs",
                SHORT_JOB * 2,
                &[&a, &b],
                |ev| ids.iter().all(|j| ev.count("video.packaged", j) > 0),
            )
            .await;
        for (job, _) in &jobs {
            case.s3
                .wait_for_key(&case.bucket, &marker(job), AFTER_EVENT)
                .await;
        }
        wait_until(
            "both workers to log 'job done' four times in all",
            AFTER_EVENT,
            || a.count_in_log("job done") + b.count_in_log("job done") >= 4,
        )
        .await;
        case.events.settle(QUIET).await;

        for (job, vid) in &jobs {
            assert_eq!(
                case.events.count("video.packaged", job),
                1,
                "{job}: {}",
                case.events.summary()
            );
            assert_eq!(
                case.events.count("video.failed", job),
                0,
                "{job}: {}",
                case.events.summary()
            );
            check_title(&case.s3, &case.bucket, vid).await;
        }
        let (dead, _) = case.broker.counts(DEAD_LETTER_QUEUE).await;
        assert_eq!(dead, 0, "{DEAD_LETTER_QUEUE} is not empty");
        let (done_a, done_b) = (a.count_in_log("job done"), b.count_in_log("job done"));
        eprintln!("jobs done: pair-a {done_a}, pair-b {done_b}");
        assert_eq!(done_a + done_b, 4);
        assert!(
            done_a > 0 && done_b > 0,
            "one worker did everything (a: {done_a}, b: {done_b})"
        );

        drop((a, b));
        case.finish().await;
    });
}

/// `vodpipe enqueue s3://bucket/prefix/`: one job per object, video ids from the file
/// names, each packaged.
#[test]
fn enqueue_queues_one_job_per_object() {
    serial(async {
        let mut case = Case::new("enq").await;
        let upload = case.s3.cfg.upload_bucket.clone();
        let folder = format!("enq-src-{}/", stamp());
        let sources = [
            (
                "short.mp4",
                format!("alpha-{}", stamp()),
                "mp4",
                "video/mp4",
            ),
            (
                "noaudio.ts",
                format!("beta-{}", stamp()),
                "ts",
                "video/mp2t",
            ),
        ];
        for (clip, name, ext, content_type) in &sources {
            s3::upload_file(
                &case.s3.client,
                &upload,
                &format!("{folder}{name}.{ext}"),
                &media(clip),
                content_type,
            )
            .await
            .unwrap_or_else(|e| panic!("uploading {clip}: {e:#}"));
        }
        case.upload_prefixes.push(folder.clone());
        let worker = Worker::start(&case, "enq", &case.bucket);

        let out = case
            .vodpipe(&["enqueue", &format!("s3://{upload}/{folder}")], &[])
            .await;
        let jobs: Vec<String> = out
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        assert_eq!(jobs.len(), 2, "enqueue printed {out:?}");
        assert!(
            jobs.iter().all(|j| j.starts_with("batch-")),
            "job ids: {jobs:?}"
        );
        assert_ne!(jobs[0], jobs[1]);

        case.events
            .wait_until(
                "video.packaged for both enqueued jobs",
                SHORT_JOB * 2,
                &[&worker],
                |ev| jobs.iter().all(|j| ev.count("video.packaged", j) > 0),
            )
            .await;
        for job in &jobs {
            case.s3
                .wait_for_key(&case.bucket, &marker(job), AFTER_EVENT)
                .await;
        }
        case.events.settle(QUIET).await;
        let mut vids = BTreeSet::new();
        for job in &jobs {
            let packaged = case.events.matching("video.packaged", job);
            assert_eq!(packaged.len(), 1, "{job}: {}", case.events.summary());
            vids.insert(
                packaged[0]["video_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
        let want: BTreeSet<String> = sources.iter().map(|(_, name, _, _)| name.clone()).collect();
        assert_eq!(vids, want, "video ids derived from the object names");
        for vid in &vids {
            check_title(&case.s3, &case.bucket, vid).await;
        }

        drop(worker);
        case.finish().await;
    });
}

/// `vodpipe presign KEY`: a plain GET of the URL returns the object; the same URL
/// without its signature is refused.
#[test]
fn presigned_url_serves_the_master_playlist() {
    serial(async {
        let mut case = Case::new("presign").await;
        let worker = Worker::start(&case, "presign", &case.bucket);
        let vid = case.id("short");
        let job = case.submit(&media("short.mp4"), &vid).await;
        case.events
            .wait_until("the job's video.packaged", SHORT_JOB, &[&worker], |ev| {
                ev.count("video.packaged", &job) > 0
            })
            .await;
        case.s3
            .wait_for_key(&case.bucket, &marker(&job), AFTER_EVENT)
            .await;

        let key = format!("{vid}/{HLS_MASTER}");
        let url = case
            .vodpipe(
                &["presign", &key],
                &[("VODPIPE_OUTPUT_BUCKET", &case.bucket)],
            )
            .await;
        let url = url.trim().to_owned();
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "presigned URL leaves loopback: {url}"
        );
        assert!(
            url.contains(&case.bucket) && url.contains("X-Amz-Signature="),
            "{url}"
        );
        let want = case.s3.get(&case.bucket, &key).await;
        let fetch = url.clone();
        let (status, body) = tokio::task::spawn_blocking(move || http_get(&fetch))
            .await
            .expect("GET task");
        assert_eq!(status, 200, "GET {url}: {}", String::from_utf8_lossy(&body));
        assert_eq!(
            body, want,
            "the presigned GET returned other bytes than the object"
        );
        assert!(
            body.starts_with(b"#EXTM3U"),
            "not a playlist: {}",
            String::from_utf8_lossy(&body)
        );

        let unsigned = url.split('?').next().expect("a URL").to_owned();
        let (status, _) = tokio::task::spawn_blocking(move || http_get(&unsigned))
            .await
            .expect("GET task");
        assert!(
            status == 401 || status == 403,
            "an unsigned GET got {status}"
        );

        drop(worker);
        case.finish().await;
    });
}

// ---------------------------------------------------------------------------------------
// The title in the bucket
// ---------------------------------------------------------------------------------------

/// What a stored object must carry.
struct Expect {
    content_type: &'static str,
    cache_control: &'static str,
    /// The digest and size the catalog gives, for objects it lists with one.
    digest: Option<(Sha256Digest, u64)>,
}

impl Expect {
    fn immutable(content_type: &'static str, digest: Option<(Sha256Digest, u64)>) -> Self {
        Expect {
            content_type,
            cache_control: CACHE_CONTROL_IMMUTABLE,
            digest,
        }
    }
    fn short(content_type: &'static str) -> Self {
        Expect {
            content_type,
            cache_control: CACHE_CONTROL_SHORT,
            digest: None,
        }
    }
}

struct Title {
    catalog: Catalog,
    catalog_json: Value,
    /// Title-relative key -> hex sha256 of the stored bytes.
    digests: BTreeMap<String, String>,
}

/// Checks a packaged title in `bucket` under `<video_id>/` and returns its catalog and
/// digests. Collects every problem before failing, so one run shows them all.
async fn check_title(s3: &S3, bucket: &str, video_id: &str) -> Title {
    let prefix = format!("{video_id}/");
    let uri = format!("s3://{bucket}/{prefix}");
    let out = Command::new(VODPIPE)
        .args(["verify", &uri])
        .envs(services().iter().map(|(k, v)| (k, v)))
        .output()
        .expect("running vodpipe verify");
    assert!(
        out.status.success(),
        "vodpipe verify {uri} found problems:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = s3.get(bucket, &format!("{prefix}catalog.json")).await;
    let text = String::from_utf8(text).expect("catalog.json is UTF-8");
    let catalog = Catalog::from_json(&text)
        .unwrap_or_else(|e| panic!("s3://{bucket}/{prefix}catalog.json: {e}"));
    let catalog_json: Value = serde_json::from_str(&text).expect("catalog.json is JSON");
    assert_eq!(catalog.video_id, video_id);
    assert_eq!(catalog.base_uri, format!("s3://{bucket}/{prefix}"));
    assert_eq!(
        (
            catalog.manifests.hls.as_str(),
            catalog.manifests.dash.as_str()
        ),
        (HLS_MASTER, DASH_MPD)
    );

    let mut want: BTreeMap<String, Expect> = BTreeMap::new();
    for r in &catalog.renditions {
        let media_type = match r.kind {
            TrackKind::Video => ct::VIDEO_MP4,
            TrackKind::Audio => ct::AUDIO_MP4,
        };
        want.insert(
            r.init.uri.clone(),
            Expect::immutable(media_type, Some((r.init.sha256, r.init.size))),
        );
        for c in &r.chunks {
            want.insert(
                c.uri.clone(),
                Expect::immutable(media_type, Some((c.sha256, c.size))),
            );
        }
        want.insert(r.playlist.clone(), Expect::short(ct::HLS));
        if let Some(iframes) = &r.iframe_playlist {
            want.insert(iframes.clone(), Expect::short(ct::HLS));
        }
    }
    for t in &catalog.subtitles {
        for c in std::iter::once((&t.whole.uri, t.whole.sha256, t.whole.size)).chain(t.chunks.iter().map(|c| (&c.uri, c.sha256, c.size))) {
            want.insert(c.0.clone(), Expect::immutable(ct::VTT, Some((c.1, c.2))));
        }
        want.insert(t.playlist.clone(), Expect::short(ct::HLS));
    }
    let thumbs = &catalog.thumbnails;
    for image in std::iter::once(&thumbs.poster).chain(&thumbs.sprites) {
        want.insert(
            image.uri.clone(),
            Expect::immutable(ct::JPEG, Some((image.sha256, image.size))),
        );
    }
    want.insert(
        thumbs.index_vtt_uri.clone(),
        Expect::immutable(ct::VTT, None),
    );
    want.insert(HLS_MASTER.into(), Expect::short(ct::HLS));
    want.insert(DASH_MPD.into(), Expect::short(ct::DASH));
    want.insert("catalog.json".into(), Expect::short(ct::JSON));

    let listed: BTreeSet<String> = s3
        .keys(bucket, &prefix)
        .await
        .iter()
        .filter_map(|k| k.strip_prefix(&prefix))
        .map(str::to_owned)
        .collect();
    let named: BTreeSet<String> = want.keys().cloned().collect();
    let mut problems = Vec::new();
    for missing in named.difference(&listed) {
        problems.push(format!(
            "catalog names {missing}, which is not in the bucket"
        ));
    }
    for extra in listed.difference(&named) {
        problems.push(format!("{extra} is in the bucket but not in the catalog"));
    }

    // The title is also copied to a folder, for the checks every packaged title passes.
    let folder = common::Scratch::new(&format!("queue-{bucket}-{video_id}"));
    let copy = folder.dir.join(video_id);
    let mut digests = BTreeMap::new();
    for (key, e) in want.iter().filter(|(k, _)| listed.contains(*k)) {
        let full = format!("{prefix}{key}");
        let head = s3
            .client
            .head_object()
            .bucket(bucket)
            .key(&full)
            .send()
            .await
            .unwrap_or_else(|e| panic!("HEAD s3://{bucket}/{full}: {e:?}"));
        let body = s3.get(bucket, &full).await;
        let digest = Sha256Digest::of(&body);
        if head.server_side_encryption() != Some(&ServerSideEncryption::Aes256) {
            problems.push(format!(
                "{key}: server-side encryption {:?}, expected AES256",
                head.server_side_encryption()
            ));
        }
        if head.content_type() != Some(e.content_type) {
            problems.push(format!(
                "{key}: Content-Type {:?}, expected {}",
                head.content_type(),
                e.content_type
            ));
        }
        if head.cache_control() != Some(e.cache_control) {
            problems.push(format!(
                "{key}: Cache-Control {:?}, expected {}",
                head.cache_control(),
                e.cache_control
            ));
        }
        let meta = head
            .metadata()
            .and_then(|m| m.get(SHA256_METADATA))
            .map(|s| s.to_ascii_lowercase());
        if meta.as_deref() != Some(digest.to_string().as_str()) {
            problems.push(format!(
                "{key}: metadata {SHA256_METADATA} {meta:?}, the body's sha256 is {digest}"
            ));
        }
        if let Some((sha, size)) = e.digest {
            if sha != digest {
                problems.push(format!(
                    "{key}: catalog sha256 {sha}, the body's is {digest}"
                ));
            }
            if size != body.len() as u64 {
                problems.push(format!(
                    "{key}: catalog size {size}, the body has {} bytes",
                    body.len()
                ));
            }
        }
        let path = copy.join(key);
        fs::create_dir_all(path.parent().expect("under the title")).expect("making the copy's folders");
        fs::write(&path, &body).expect("writing the copy");
        digests.insert(key.clone(), digest.to_string());
    }
    assert!(
        problems.is_empty(),
        "s3://{bucket}/{prefix}: {} problems:\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
    let (source_bucket, source_key) = worker::s3::parse_s3_uri(&catalog.source.uri).expect("catalog source.uri is an s3:// URI");
    let source = folder.dir.join(source_key.rsplit('/').next().expect("a file name"));
    fs::write(&source, s3.get(&source_bucket, &source_key).await).expect("writing the source's copy");
    let videos: Vec<&str> = catalog.renditions.iter().filter(|r| r.kind == TrackKind::Video).map(|r| r.id.as_str()).collect();
    common::verify_title(&folder, &source, &copy, &common::Expect::renditions(&videos));
    Title {
        catalog,
        catalog_json,
        digests,
    }
}

/// The JSON paths where `a` and `b` differ, with both values.
fn json_diff(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                json_diff(
                    &format!("{path}/{k}"),
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                json_diff(&format!("{path}/{i}"), u, v, out);
            }
        }
        _ if a != b => out.push(format!("{path}: {a} vs {b}")),
        _ => {}
    }
}

fn marker(job: &str) -> String {
    format!("{EVENT_MARKER_PREFIX}{job}.packaged")
}

// ---------------------------------------------------------------------------------------
// One case: buckets, ids, broker, events
// ---------------------------------------------------------------------------------------

/// Whatever touches the shared jobs queue runs one case at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Runs one case alone, on its own runtime, after the services are up.
fn serial<F: Future<Output = ()>>(case: F) {
    services();
    let _alone = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(case);
}

struct Case {
    name: &'static str,
    /// This case's RabbitMQ virtual host, and the URL of it its children get.
    vhost: String,
    amqp_url: String,
    s3: S3,
    broker: Broker,
    events: Events,
    /// The output bucket of this case's workers.
    bucket: String,
    /// Every bucket this case made, deleted by `finish`.
    buckets: Vec<String>,
    /// Prefixes in the upload bucket this case wrote, deleted by `finish`.
    upload_prefixes: Vec<String>,
}

impl Case {
    /// A fresh queue (no consumers, nothing queued or dead-lettered), an event listener
    /// bound before anything is submitted, and an empty output bucket.
    async fn new(name: &'static str) -> Case {
        let s3 = S3::connect().await;
        let base = std::env::var("AMQP_URL").expect("AMQP_URL (from services.sh)");
        let vhost = format!("vodpipe-e2e-{name}-{}", stamp());
        let (root, _) = base
            .rsplit_once('/')
            .unwrap_or_else(|| panic!("AMQP_URL {base:?} has no vhost part"));
        let amqp_url = format!("{root}/{vhost}");
        let user = root
            .split_once("://")
            .and_then(|(_, r)| r.split_once(':'))
            .map(|(u, _)| u)
            .unwrap_or("guest");
        rabbitmqctl(&["add_vhost", &vhost]).await;
        rabbitmqctl(&["set_permissions", "-p", &vhost, user, ".*", ".*", ".*"]).await;
        let broker = Broker::connect(&amqp_url).await;
        broker.wait_consumers(0, Duration::from_secs(30)).await;
        broker.purge().await;
        let events = Events::listen(&broker).await;
        let mut case = Case {
            name,
            vhost,
            amqp_url,
            s3,
            broker,
            events,
            bucket: String::new(),
            buckets: Vec::new(),
            upload_prefixes: Vec::new(),
        };
        case.bucket = case.extra_bucket(name).await;
        case
    }

    /// New connections to the broker for the test's own side (after a broker restart);
    /// the events that came meanwhile are waiting in the durable events queue.
    async fn reconnect(&mut self) {
        self.broker = Broker::connect(&self.amqp_url).await;
        self.events.reconnect(&self.broker).await;
    }

    /// Another empty bucket, e.g. for a reference run.
    async fn extra_bucket(&mut self, tag: &str) -> String {
        let bucket = format!("vodpipe-t-{tag}-{}", stamp());
        assert!(
            s3::validate_bucket(&bucket).is_ok(),
            "bad bucket name {bucket}"
        );
        self.s3.remove_bucket(&bucket).await;
        s3::ensure_bucket(&self.s3.client, &bucket)
            .await
            .unwrap_or_else(|e| panic!("creating {bucket}: {e:#}"));
        self.buckets.push(bucket.clone());
        bucket
    }

    /// A video id of this case and run; its uploads are removed by `finish`.
    fn id(&mut self, what: &str) -> String {
        let id = format!("{}-{what}-{}", self.name, stamp());
        self.upload_prefixes.push(format!("{id}/"));
        id
    }

    /// Runs `vodpipe ARGS` against this case's vhost to completion (within
    /// [`COMMAND_DEADLINE`]) and returns its stdout.
    async fn vodpipe(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let mut cmd = Command::new(VODPIPE);
        cmd.args(args)
            .envs(services().iter().map(|(k, v)| (k, v)))
            .env("AMQP_URL", &self.amqp_url)
            .envs(env.iter().copied())
            .env("NO_COLOR", "1");
        let shown = format!("vodpipe {}", args.join(" "));
        tokio::task::spawn_blocking(move || run_with_deadline(cmd, &shown, COMMAND_DEADLINE))
            .await
            .expect("command task")
    }

    /// `vodpipe submit FILE --video-id ID`; returns the job id it prints.
    async fn submit(&self, file: &Path, video_id: &str) -> String {
        self.submit_with(file, video_id, &[]).await
    }

    /// `vodpipe submit FILE --video-id ID ARGS...`; returns the job id it prints.
    async fn submit_with(&self, file: &Path, video_id: &str, args: &[&str]) -> String {
        let mut all = vec![
            "submit",
            file.to_str().expect("UTF-8 path"),
            "--video-id",
            video_id,
        ];
        all.extend_from_slice(args);
        let out = self.vodpipe(&all, &[]).await;
        let job = out
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .unwrap_or_default()
            .to_owned();
        assert!(job.starts_with("job-"), "submit printed {out:?}");
        job
    }

    /// Deletes what the case stored. Only reached when the case passed: a failed case
    /// leaves its objects for inspection.
    async fn finish(self) {
        for bucket in &self.buckets {
            self.s3.remove_bucket(bucket).await;
        }
        for prefix in &self.upload_prefixes {
            self.s3
                .remove_prefix(&self.s3.cfg.upload_bucket, prefix)
                .await;
        }
        let _ = self.broker.conn.close(200, "done".into()).await;
        rabbitmqctl(&["delete_vhost", &self.vhost]).await;
        // The workers' logs and scratch folders (`scratch`), named <case>-...-<stamp>.
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("queue_e2e");
        for entry in fs::read_dir(&root).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(&format!("{}-", self.name))
                && name.ends_with(&format!("-{}", stamp()))
            {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// The broker as the tests see it: one connection, one confirm channel.
struct Broker {
    conn: Connection,
    ch: Channel,
}

#[derive(Debug, Clone)]
struct DeadLetter {
    body: Vec<u8>,
    message_id: Option<String>,
    /// `x-vodpipe-error`
    error: Option<String>,
    /// `x-vodpipe-error-kind`
    kind: Option<String>,
}

impl Broker {
    async fn connect(url: &str) -> Broker {
        let conn = queue::connect(url)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
        let ch = queue::confirm_channel(&conn)
            .await
            .expect("confirm channel");
        queue::declare_topology(&ch)
            .await
            .unwrap_or_else(|e| panic!("declaring the topology: {e:#}"));
        Broker { conn, ch }
    }

    async fn purge(&self) {
        for q in [JOBS_QUEUE, DEAD_LETTER_QUEUE] {
            self.ch
                .queue_purge(q.into(), QueuePurgeOptions::default())
                .await
                .unwrap_or_else(|e| panic!("purging {q}: {e}"));
        }
    }

    /// (ready messages, consumers) of an existing queue.
    async fn counts(&self, queue: &str) -> (u32, u32) {
        let passive = QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        let q = self
            .ch
            .queue_declare(queue.into(), passive, FieldTable::default())
            .await
            .unwrap_or_else(|e| panic!("passive declare of {queue}: {e}"));
        (q.message_count(), q.consumer_count())
    }

    /// Waits until `vodpipe.jobs` has exactly `n` consumers. A consumer this case did
    /// not start would take its jobs, so it fails the case.
    async fn wait_consumers(&self, n: u32, within: Duration) {
        let started = Instant::now();
        loop {
            let (_, consumers) = self.counts(JOBS_QUEUE).await;
            if consumers == n {
                return;
            }
            assert!(
                started.elapsed() < within,
                "{JOBS_QUEUE} has {consumers} consumers after {within:?}, expected {n}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Publishes bytes to the jobs queue as they are, confirmed.
    async fn publish_raw(&self, body: &[u8]) {
        queue::publish_confirmed(
            &self.ch,
            "",
            JOBS_QUEUE,
            body,
            "queue-e2e-raw",
            FieldTable::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("publishing a raw job: {e:#}"));
    }

    /// Takes every message off the DLQ.
    async fn take_dead_letters(&self) -> Vec<DeadLetter> {
        let mut out = Vec::new();
        while let Some(m) = self
            .ch
            .basic_get(DEAD_LETTER_QUEUE.into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap_or_else(|e| panic!("basic.get on {DEAD_LETTER_QUEUE}: {e}"))
        {
            let props = &m.delivery.properties;
            let header = |name: &str| {
                props
                    .headers()
                    .as_ref()
                    .and_then(|h| h.inner().get(name))
                    .and_then(amqp_text)
            };
            out.push(DeadLetter {
                body: m.delivery.data.clone(),
                message_id: props.message_id().as_ref().map(|s| s.as_str().to_owned()),
                error: header("x-vodpipe-error"),
                kind: header("x-vodpipe-error-kind"),
            });
        }
        out
    }
}

fn amqp_text(v: &AMQPValue) -> Option<String> {
    match v {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

struct Event {
    key: String,
    body: Value,
}

/// Everything published to `catalog` under `video.#` while the case runs, through an
/// exclusive auto-delete queue of its own.
struct Events {
    _ch: Channel,
    consumer: Consumer,
    seen: Vec<Event>,
}

impl Events {
    /// The events queue of a case: durable, in the case's own vhost (deleted with it),
    /// so events published while the broker restarts or the test reconnects wait in it.
    const QUEUE: &'static str = "e2e.events";

    async fn listen(broker: &Broker) -> Events {
        let ch = broker.conn.create_channel().await.expect("events channel");
        let durable = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        ch.queue_declare(Self::QUEUE.into(), durable, FieldTable::default())
            .await
            .expect("declaring the events queue");
        ch.queue_bind(
            Self::QUEUE.into(),
            EVENTS_EXCHANGE.into(),
            "video.#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("binding the events queue");
        let consumer = Self::consume(&ch).await;
        Events {
            _ch: ch,
            consumer,
            seen: Vec::new(),
        }
    }

    async fn consume(ch: &Channel) -> Consumer {
        let options = BasicConsumeOptions {
            no_ack: true,
            exclusive: true,
            ..Default::default()
        };
        ch.basic_consume(Self::QUEUE.into(), "".into(), options, FieldTable::default())
            .await
            .expect("consuming events")
    }

    /// Consumes again over a new connection (after a broker restart), keeping what was
    /// seen.
    async fn reconnect(&mut self, broker: &Broker) {
        let ch = broker.conn.create_channel().await.expect("events channel");
        self.consumer = Self::consume(&ch).await;
        self._ch = ch;
    }

    fn record(&mut self, d: lapin::message::Delivery) {
        let body = serde_json::from_slice(&d.data).unwrap_or_else(|e| {
            panic!(
                "event {} is not JSON ({e}): {}",
                d.routing_key,
                String::from_utf8_lossy(&d.data)
            )
        });
        self.seen.push(Event {
            key: d.routing_key.as_str().to_owned(),
            body,
        });
    }

    /// Reads events until `done` holds; fails at `within`, or as soon as a worker exits.
    async fn wait_until(
        &mut self,
        what: &str,
        within: Duration,
        workers: &[&Worker],
        done: impl Fn(&Events) -> bool,
    ) {
        let started = Instant::now();
        while !done(self) {
            for w in workers {
                if let Some(status) = w.exit_status() {
                    panic!(
                        "worker {} exited ({status}) while waiting for {what}:\n{}",
                        w.name,
                        w.tail(40)
                    );
                }
            }
            if started.elapsed() >= within {
                panic!(
                    "no {what} within {within:?}; events seen: {}",
                    self.summary()
                );
            }
            match tokio::time::timeout(Duration::from_secs(1), self.consumer.next()).await {
                Err(_) => {}
                Ok(Some(Ok(d))) => self.record(d),
                Ok(Some(Err(e))) => panic!("event consumer failed while waiting for {what}: {e}"),
                Ok(None) => panic!("event consumer ended while waiting for {what}"),
            }
        }
    }

    /// Keeps reading until no event has come for `quiet`.
    async fn settle(&mut self, quiet: Duration) {
        while let Ok(next) = tokio::time::timeout(quiet, self.consumer.next()).await {
            match next {
                Some(Ok(d)) => self.record(d),
                Some(Err(e)) => panic!("event consumer failed: {e}"),
                None => panic!("event consumer ended"),
            }
        }
    }

    fn matching(&self, key: &str, job: &str) -> Vec<&Value> {
        self.seen
            .iter()
            .filter(|e| e.key == key && e.body["job_id"] == job)
            .map(|e| &e.body)
            .collect()
    }

    fn count(&self, key: &str, job: &str) -> usize {
        self.matching(key, job).len()
    }

    /// One line per event, without the (long) catalogs.
    fn summary(&self) -> String {
        let lines: Vec<String> = self
            .seen
            .iter()
            .map(|e| {
                let mut b = e.body.clone();
                if let Some(o) = b.as_object_mut() {
                    o.remove("catalog");
                }
                format!("{} {b}", e.key)
            })
            .collect();
        format!("{} events\n  {}", lines.len(), lines.join("\n  "))
    }
}

/// Polls `cond` every 200 ms until it holds or `within` passes.
async fn wait_until(what: &str, within: Duration, cond: impl Fn() -> bool) {
    let started = Instant::now();
    while !cond() {
        assert!(
            started.elapsed() < within,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

// ---------------------------------------------------------------------------------------
// Worker processes
// ---------------------------------------------------------------------------------------

/// A `vodpipe worker` child writing its log to a file; killed (SIGKILL) when dropped.
struct Worker {
    name: String,
    child: Mutex<Child>,
    log: PathBuf,
}

impl Worker {
    fn start(case: &Case, name: &str, bucket: &str) -> Worker {
        Worker::start_with(case, name, bucket, &[])
    }

    /// With extra environment, e.g. `AWS_ENDPOINT_URL` pointing at a fault proxy.
    fn start_with(case: &Case, name: &str, bucket: &str, env: &[(&str, &str)]) -> Worker {
        let dir = scratch(name);
        let log = dir.join("worker.log");
        let out = File::create(&log).expect("worker log");
        let err = out.try_clone().expect("worker log");
        let child = Command::new(VODPIPE)
            .arg("worker")
            .arg("--work-dir")
            .arg(dir.join("work"))
            .args(["--grace", "10", "--prefetch", "1"])
            .envs(services().iter().map(|(k, v)| (k, v)))
            .env("AMQP_URL", &case.amqp_url)
            .env("VODPIPE_OUTPUT_BUCKET", bucket)
            .env("VODPIPE_LOG", "info")
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {VODPIPE} worker: {e}"));
        Worker {
            name: name.to_owned(),
            child: Mutex::new(child),
            log,
        }
    }

    fn pid(&self) -> u32 {
        self.child().id()
    }

    fn child(&self) -> std::sync::MutexGuard<'_, Child> {
        self.child.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `Some(status)` once the process has ended.
    fn exit_status(&self) -> Option<ExitStatus> {
        self.child().try_wait().expect("waiting on the worker")
    }

    /// SIGKILL: no chance to finish, nack or close anything.
    fn kill(&self) {
        let mut child = self.child();
        let _ = child.kill();
        let _ = child.wait();
    }

    /// SIGTERM, then waits for the exit (SIGKILL and a failure after `within`).
    fn terminate(&self, within: Duration) -> ExitStatus {
        let pid = self.child().id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("running kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
        let started = Instant::now();
        loop {
            if let Some(status) = self.exit_status() {
                return status;
            }
            if started.elapsed() > within {
                self.kill();
                panic!(
                    "worker {} still running {within:?} after SIGTERM:\n{}",
                    self.name,
                    self.tail(40)
                );
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn count_in_log(&self, needle: &str) -> usize {
        self.log().matches(needle).count()
    }

    async fn wait_for_log(&self, needle: &str, times: usize, within: Duration) {
        let started = Instant::now();
        while self.count_in_log(needle) < times {
            if let Some(status) = self.exit_status() {
                panic!(
                    "worker {} exited ({status}) before logging {needle:?}:\n{}",
                    self.name,
                    self.tail(40)
                );
            }
            assert!(
                started.elapsed() < within,
                "worker {} did not log {needle:?} {times} times within {within:?}:\n{}",
                self.name,
                self.tail(40)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn tail(&self, lines: usize) -> String {
        let log = self.log();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill();
        if thread::panicking() {
            eprintln!(
                "--- last lines of worker {} ({}):\n{}",
                self.name,
                self.log.display(),
                self.tail(60)
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Helpers: services, fixtures, commands, S3, HTTP
// ---------------------------------------------------------------------------------------

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
}

/// Runs `scripts/services.sh` once per test binary (it starts RabbitMQ and SeaweedFS
/// unless they answer already), puts the `KEY=VALUE` lines it prints into this
/// process's environment and returns them for the children. Also makes the fixtures.
fn services() -> &'static [(String, String)] {
    static ENV: OnceLock<Vec<(String, String)>> = OnceLock::new();
    ENV.get_or_init(|| {
        let script = repo().join("scripts/services.sh");
        let out = Command::new("bash")
            .arg(&script)
            .arg("start")
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "{} failed ({}); these tests need RabbitMQ and S3",
            script.display(),
            out.status
        );
        let mut env = Vec::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let line = line.trim();
            let line = line.strip_prefix("export ").unwrap_or(line);
            let Some((name, value)) = line.split_once('=') else {
                continue;
            };
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            {
                continue;
            }
            let value = value.trim_matches(|c| c == '"' || c == '\'');
            env.push((name.to_owned(), value.to_owned()));
        }
        for want in [
            "AMQP_URL",
            "AWS_ENDPOINT_URL",
            "AWS_ACCESS_KEY_ID",
            "VODPIPE_UPLOAD_BUCKET",
        ] {
            assert!(
                env.iter().any(|(k, _)| k == want),
                "{} printed no {want}",
                script.display()
            );
        }
        for (name, value) in &env {
            // SAFETY: runs once, inside get_or_init, which every case calls before any
            // thread of this binary reads the environment (the SDK, lapin, children).
            unsafe { std::env::set_var(name, value) };
        }
        let make = repo().join("fixtures/make-media.sh");
        let status = Command::new("bash")
            .arg(&make)
            .stdin(Stdio::null())
            .status()
            .expect("running make-media.sh");
        assert!(status.success(), "{} failed", make.display());
        env
    })
}

/// Distinguishes this run's buckets and ids from any other run's: pid and start time.
fn stamp() -> &'static str {
    static STAMP: OnceLock<String> = OnceLock::new();
    STAMP.get_or_init(|| {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        format!("{:x}{:05x}", std::process::id(), secs & 0xf_ffff)
    })
}

/// A fresh folder for one worker's log and scratch space.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("queue_e2e")
        .join(format!("{name}-{}", stamp()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

/// Runs `rabbitmqctl -q ARGS` (the broker's own admin tool, as services.sh does).
async fn rabbitmqctl(args: &[&str]) {
    let mut cmd = Command::new("rabbitmqctl");
    cmd.arg("-q").args(args);
    let shown = format!("rabbitmqctl {}", args.join(" "));
    tokio::task::spawn_blocking(move || run_with_deadline(cmd, &shown, COMMAND_DEADLINE))
        .await
        .expect("command task");
}

fn run_with_deadline(mut cmd: Command, shown: &str, within: Duration) -> String {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
    let drain = |mut r: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting on a command") {
            break status;
        }
        if started.elapsed() > within {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{shown} did not finish within {within:?}; stderr:\n{}",
                stderr.join().unwrap_or_default()
            );
        }
        thread::sleep(Duration::from_millis(50));
    };
    let (out, err) = (
        stdout.join().unwrap_or_default(),
        stderr.join().unwrap_or_default(),
    );
    assert!(status.success(), "{shown} failed ({status}):\n{err}");
    out
}

/// The S3 side as the tests see it, configured like the binary (from the environment).
struct S3 {
    cfg: S3Config,
    client: aws_sdk_s3::Client,
}

impl S3 {
    async fn connect() -> S3 {
        let cfg = S3Config::from_env()
            .await
            .unwrap_or_else(|e| panic!("S3 settings: {e:#}"));
        let endpoint = cfg.endpoint.clone().unwrap_or_default();
        assert!(
            cfg.path_style && endpoint.starts_with("http://127.0.0.1:"),
            "services.sh env not applied: {cfg:?}"
        );
        let client = s3::client(&cfg).await;
        S3 { cfg, client }
    }

    async fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        s3::list_keys(&self.client, bucket, prefix)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"))
    }

    async fn get(&self, bucket: &str, key: &str) -> Vec<u8> {
        let out = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET s3://{bucket}/{key}: {e:?}"));
        out.body
            .collect()
            .await
            .unwrap_or_else(|e| panic!("reading s3://{bucket}/{key}: {e}"))
            .into_bytes()
            .to_vec()
    }

    async fn put(&self, bucket: &str, key: &str, body: Vec<u8>) {
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(body.into())
            .send()
            .await
            .unwrap_or_else(|e| panic!("PUT s3://{bucket}/{key}: {e:?}"));
    }

    async fn exists(&self, bucket: &str, key: &str) -> bool {
        match self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => true,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => false,
            Err(e) => panic!("HEAD s3://{bucket}/{key}: {e:?}"),
        }
    }

    async fn wait_for_key(&self, bucket: &str, key: &str, within: Duration) {
        let started = Instant::now();
        while !self.exists(bucket, key).await {
            assert!(
                started.elapsed() < within,
                "s3://{bucket}/{key} not stored within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Best effort: a leftover object costs nothing but disk.
    async fn remove_prefix(&self, bucket: &str, prefix: &str) {
        let Ok(keys) = s3::list_keys(&self.client, bucket, prefix).await else {
            return;
        };
        for key in keys {
            let _ = self
                .client
                .delete_object()
                .bucket(bucket)
                .key(&key)
                .send()
                .await;
        }
    }

    async fn remove_bucket(&self, bucket: &str) {
        self.remove_prefix(bucket, "").await;
        let _ = self.client.delete_bucket().bucket(bucket).send().await;
    }
}

/// A plain HTTP/1.1 GET (no client library, no credentials): status and body.
fn http_get(url: &str) -> (u16, Vec<u8>) {
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("not an http:// URL: {url}"));
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut stream =
        TcpStream::connect(host).unwrap_or_else(|e| panic!("connecting to {host}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nAccept: */*\r\n\r\n"
    )
    .expect("sending the request");
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .unwrap_or_else(|e| panic!("reading the response of {url}: {e}"));
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in the response of {url}"));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line in {head:?}"));
    let header = |name: &str| {
        head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    };
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        body = dechunk(&body);
    } else if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        assert!(
            body.len() >= len,
            "{url}: Content-Length {len}, got {} bytes",
            body.len()
        );
        body.truncate(len);
    }
    (status, body)
}

/// Decodes a chunked transfer-encoded body (RFC 9112 7.1), ignoring extensions and trailers.
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let line = String::from_utf8_lossy(&raw[..eol]);
        let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
            .expect("chunk size");
        raw = &raw[eol + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

#[test]
fn chunked_bodies_decode() {
    assert_eq!(
        dechunk(b"4\r\nWiki\r\n6;x=y\r\npedia \r\n0\r\n\r\n"),
        b"Wikipedia "
    );
}
