//! `worker::s3` against a real S3-compatible server: SeaweedFS started by
//! `scripts/services.sh` (this test runs the script itself; it never skips). Each run
//! writes under a fresh prefix, so runs do not see each other's objects.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{ChecksumMode, ServerSideEncryption};
use manifest::model::Sha256Digest;
use packager::storage::{Caching, Object, Storage, content_type};
use worker::s3::{self, S3Config, S3Store};

const MIB: usize = 1024 * 1024;

/// Runs `scripts/services.sh` once per test binary and puts what it prints into this
/// process's environment.
fn services_env() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/services.sh");
        let out = std::process::Command::new("bash")
            .arg(&script)
            .arg("start")
            .stderr(std::process::Stdio::inherit())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "{} failed ({}); the S3 tests need the SeaweedFS server it starts",
            script.display(),
            out.status
        );
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some((name, value)) =
                line.strip_prefix("export ").and_then(|l| l.split_once('='))
            {
                // SAFETY: runs once, inside get_or_init, before any test reads the
                // environment through the AWS SDK.
                unsafe { std::env::set_var(name, value) };
            }
        }
    });
}

struct Fixture {
    client: Client,
    bucket: String,
    /// This run's folder in the bucket, ending in `/`.
    run: String,
}

async fn fixture() -> Fixture {
    services_env();
    let cfg = S3Config::from_env().await.expect("S3 settings");
    assert!(
        cfg.path_style && cfg.endpoint.is_some(),
        "services.sh env not applied: {cfg:?}"
    );
    let client = s3::client(&cfg).await;
    let bucket = "vodpipe-test".to_owned();
    s3::ensure_bucket(&client, &bucket)
        .await
        .expect("create the test bucket");
    // A second call (bucket exists) must succeed too.
    s3::ensure_bucket(&client, &bucket)
        .await
        .expect("ensure an existing bucket");
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    Fixture {
        client,
        bucket,
        run: format!("run-{nanos}-{}/", std::process::id()),
    }
}

/// Deterministic bytes that differ from part to part (so a misplaced part shows).
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn object(key: &str, body: Vec<u8>, caching: Caching) -> Object {
    let sha256 = Sha256Digest::of(&body);
    Object {
        key: key.to_owned(),
        body,
        content_type: content_type::VIDEO_MP4,
        caching,
        sha256,
    }
}

/// Deletes what a passing test stored (a failing one leaves it for a look).
async fn remove_run(f: &Fixture) {
    for key in s3::list_keys(&f.client, &f.bucket, &f.run)
        .await
        .expect("list the run")
    {
        f.client
            .delete_object()
            .bucket(&f.bucket)
            .key(&key)
            .send()
            .await
            .expect("delete");
    }
    let left = s3::list_keys(&f.client, &f.bucket, &f.run)
        .await
        .expect("list the run");
    assert!(left.is_empty(), "{left:?}");
}

async fn get_all(client: &Client, bucket: &str, key: &str) -> Vec<u8> {
    let got = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .expect("GET");
    got.body
        .collect()
        .await
        .expect("GET body")
        .into_bytes()
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_sets_encryption_headers_and_digest() {
    let f = fixture().await;
    let store = S3Store::new(f.client.clone(), &f.bucket, format!("{}title", f.run));
    assert_eq!(
        store.base_uri(),
        format!("s3://{}/{}title/", f.bucket, f.run)
    );

    let body = pattern(300_000, 1);
    let obj = object("h264_720p/seg-00001.m4s", body.clone(), Caching::Immutable);
    let digest = obj.sha256;
    store.put(obj.clone()).await.expect("put");

    let key = store.key("h264_720p/seg-00001.m4s");
    let head = f
        .client
        .head_object()
        .bucket(&f.bucket)
        .key(&key)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .expect("HEAD");
    assert_eq!(
        head.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );
    assert_eq!(head.content_type(), Some(content_type::VIDEO_MP4));
    assert_eq!(head.cache_control(), Some(s3::CACHE_CONTROL_IMMUTABLE));
    assert_eq!(head.content_length(), Some(body.len() as i64));
    let meta = head
        .metadata()
        .and_then(|m| m.get(s3::SHA256_METADATA))
        .expect("sha256 metadata");
    assert_eq!(meta, &digest.to_string());
    assert_eq!(
        meta,
        &Sha256Digest::of(&get_all(&f.client, &f.bucket, &key).await).to_string()
    );
    // The S3 checksum is the same digest, base64: the server verified the body with it.
    use base64::Engine as _;
    let expected = base64::engine::general_purpose::STANDARD.encode(digest.0);
    assert_eq!(
        head.checksum_sha256(),
        Some(expected.as_str()),
        "S3 checksum"
    );

    // Same immutable object again: found by HEAD, not uploaded.
    assert_eq!(store.skipped(), 0);
    store.put(obj.clone()).await.expect("second put");
    assert_eq!(store.skipped(), 1);

    // A different body under the same key is written, not skipped.
    let changed = object(
        "h264_720p/seg-00001.m4s",
        pattern(1000, 2),
        Caching::Immutable,
    );
    store.put(changed.clone()).await.expect("put changed");
    assert_eq!(store.skipped(), 1);
    assert_eq!(get_all(&f.client, &f.bucket, &key).await, changed.body);

    // Short objects are always written, with the short Cache-Control.
    let manifest = Object {
        key: "master.m3u8".into(),
        body: b"#EXTM3U\n".to_vec(),
        content_type: content_type::HLS,
        caching: Caching::Short,
        sha256: Sha256Digest::of(b"#EXTM3U\n"),
    };
    store.put(manifest.clone()).await.expect("put manifest");
    store.put(manifest).await.expect("put manifest again");
    assert_eq!(store.skipped(), 1);
    let head = f
        .client
        .head_object()
        .bucket(&f.bucket)
        .key(store.key("master.m3u8"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.cache_control(), Some(s3::CACHE_CONTROL_SHORT));
    assert_eq!(head.content_type(), Some(content_type::HLS));
    assert_eq!(
        head.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );

    let keys = s3::list_keys(&f.client, &f.bucket, &f.run)
        .await
        .expect("list");
    assert_eq!(keys.len(), 2, "{keys:?}");

    // Keys that would leave the title's folder are refused, and not worth retrying.
    let err = store
        .put(object("../escape.m4s", vec![1], Caching::Short))
        .await
        .unwrap_err();
    assert!(!err.retryable);
    remove_run(&f).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_object_goes_multipart_and_round_trips() {
    let f = fixture().await;
    let store = S3Store::new(f.client.clone(), &f.bucket, format!("{}big", f.run));
    let body = pattern(40 * MIB + 12_345, 3);
    let obj = object("h264_1080p/seg-00001.m4s", body.clone(), Caching::Immutable);
    store.put(obj.clone()).await.expect("multipart put");

    let key = store.key("h264_1080p/seg-00001.m4s");
    let head = f
        .client
        .head_object()
        .bucket(&f.bucket)
        .key(&key)
        .send()
        .await
        .expect("HEAD");
    // An S3 multipart ETag is "<md5 of the parts' md5s>-<number of parts>".
    let etag = head
        .e_tag()
        .unwrap_or_default()
        .trim_matches('"')
        .to_owned();
    assert!(
        etag.ends_with("-6"),
        "expected 6 parts of 8 MiB, ETag {etag:?}"
    );
    assert_eq!(
        head.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );
    assert_eq!(head.cache_control(), Some(s3::CACHE_CONTROL_IMMUTABLE));
    assert_eq!(
        head.metadata().and_then(|m| m.get(s3::SHA256_METADATA)),
        Some(&obj.sha256.to_string())
    );
    assert!(
        get_all(&f.client, &f.bucket, &key).await == body,
        "multipart object differs from what was put"
    );

    store.put(obj).await.expect("second put");
    assert_eq!(store.skipped(), 1);
    remove_run(&f).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_file_and_download_round_trip() {
    let f = fixture().await;
    let dir = tempdir();
    let source = dir.join("source.mp4");
    let body = pattern(20 * MIB + 777, 4);
    std::fs::File::create(&source)
        .and_then(|mut file| file.write_all(&body))
        .unwrap();
    let local = Sha256Digest::of(&body);

    let key = format!("{}source.mp4", f.run);
    let uploaded = s3::upload_file(&f.client, &f.bucket, &key, &source, "video/mp4")
        .await
        .expect("upload_file");
    assert_eq!(uploaded, local);
    let head = f
        .client
        .head_object()
        .bucket(&f.bucket)
        .key(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );
    assert!(
        head.e_tag()
            .unwrap_or_default()
            .trim_matches('"')
            .ends_with("-3"),
        "20 MiB goes up in 3 parts"
    );

    let dest = dir.join("downloaded.mp4");
    let (size, digest) = s3::download(&f.client, &f.bucket, &key, &dest)
        .await
        .expect("download");
    assert_eq!(size, body.len() as u64);
    assert_eq!(digest, local);
    assert_eq!(Sha256Digest::of(&std::fs::read(&dest).unwrap()), local);
    assert!(!dir.join("downloaded.mp4.part").exists());

    // A small file goes up in one request and comes back the same.
    let small = dir.join("small.bin");
    std::fs::write(&small, b"tiny").unwrap();
    let small_key = format!("{}small.bin", f.run);
    s3::upload_file(
        &f.client,
        &f.bucket,
        &small_key,
        &small,
        "application/octet-stream",
    )
    .await
    .unwrap();
    let (size, digest) = s3::download(&f.client, &f.bucket, &small_key, &dir.join("small.out"))
        .await
        .unwrap();
    assert_eq!((size, digest), (4, Sha256Digest::of(b"tiny")));

    let _ = std::fs::remove_dir_all(&dir);
    remove_run(&f).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_of_a_missing_key_says_so() {
    let f = fixture().await;
    let dir = tempdir();
    let key = format!("{}no-such-source.mp4", f.run);
    let err = s3::download(&f.client, &f.bucket, &key, &dir.join("x.mp4"))
        .await
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains(&format!("source s3://{}/{key} does not exist", f.bucket)),
        "{msg}"
    );
    assert!(!dir.join("x.mp4").exists() && !dir.join("x.mp4.part").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presigned_url_works_with_plain_http() {
    let f = fixture().await;
    let key = format!("{}presigned/hello world.txt", f.run);
    let store = S3Store::new(f.client.clone(), &f.bucket, "");
    let body = b"hello from a presigned URL".to_vec();
    store
        .put(Object {
            key: key.clone(),
            body: body.clone(),
            content_type: "text/plain",
            caching: Caching::Short,
            sha256: Sha256Digest::of(&body),
        })
        .await
        .unwrap();

    let url = s3::presign_get(&f.client, &f.bucket, &key, Duration::from_secs(300))
        .await
        .expect("presign");
    let (status, got) = http_get(&url);
    assert_eq!(status, 200, "GET {url}");
    assert_eq!(got, body);

    // The signature covers the key: another key with the same query is refused.
    let (status, _) = http_get(&url.replacen("hello%20world", "hello%20world2", 1));
    assert_eq!(status, 403);
    remove_run(&f).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_say_whether_a_retry_may_help() {
    let f = fixture().await;
    // A refused request (4xx): running the job again cannot help.
    let store = S3Store::new(f.client.clone(), "vodpipe-no-such-bucket", "title");
    let err = store
        .put(object("seg-00001.m4s", vec![0; 10], Caching::Short))
        .await
        .unwrap_err();
    assert!(!err.retryable, "{err}");
    assert!(
        err.to_string()
            .contains("s3://vodpipe-no-such-bucket/title/seg-00001.m4s"),
        "{err}"
    );

    // Nobody listening: a network failure, worth retrying later (after the SDK's own
    // attempts with backoff).
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let cfg = S3Config {
        endpoint: Some(format!("http://{closed}")),
        path_style: true,
        ..S3Config::default()
    };
    let down = S3Store::new(s3::client(&cfg).await, &f.bucket, "title");
    let err = down
        .put(object("seg-00001.m4s", vec![0; 10], Caching::Short))
        .await
        .unwrap_err();
    assert!(err.retryable, "{err}");
}

#[test]
fn parse_s3_uri_rejects_junk() {
    assert_eq!(
        s3::parse_s3_uri("s3://vodpipe-uploads/in/a.mp4").unwrap(),
        ("vodpipe-uploads".to_owned(), "in/a.mp4".to_owned())
    );
    for junk in [
        "",
        "s3://",
        "s3://bucket",
        "s3://bucket/",
        "https://bucket/key",
        "s3://UPPER/key",
        "s3://x/key",
    ] {
        assert!(s3::parse_s3_uri(junk).is_err(), "{junk:?} was accepted");
    }
}

fn tempdir() -> std::path::PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("vodpipe-s3-test-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A minimal HTTP/1.1 GET for `http://127.0.0.1:port/...` URLs: status and body.
fn http_get(url: &str) -> (u16, Vec<u8>) {
    let rest = url.strip_prefix("http://").expect("plain http URL");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    assert!(
        authority.starts_with("127.0.0.1:"),
        "test traffic stays on loopback: {authority}"
    );
    let mut stream = TcpStream::connect(authority).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read response");
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let mut body = response[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, body)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size_text = String::from_utf8_lossy(&data[..line_end]).to_string();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
            .expect("chunk size");
        data = &data[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}
