//! S3 (or any S3-compatible server): where titles are stored and sources come from.
//!
//! Layout:
//! - [`S3Config`], [`client`]: settings from the environment and an SDK client that
//!   retries transient failures itself (standard mode, [`MAX_ATTEMPTS`] attempts).
//! - [`S3Store`]: the packager's [`Storage`] on `s3://bucket/<prefix>`: every object
//!   SSE-S3 encrypted, with its content type, Cache-Control and sha256 (as metadata and
//!   as an S3 checksum); immutable objects already stored with the same digest are skipped.
//! - [`download`], [`upload_file`]: whole files in [`PART_SIZE`] parts, at most
//!   [`PART_CONCURRENCY`] in flight, so memory stays bounded whatever the file's size.
//! - [`ensure_bucket`], [`list_keys`], [`presign_get`], [`parse_s3_uri`].

use std::future::Future;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart,
    CreateBucketConfiguration, ServerSideEncryption,
};
use base64::Engine as _;
use bytes::Bytes;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use manifest::model::Sha256Digest;
use packager::StoreError;
use packager::storage::{Caching, Object, Storage, StoreFuture};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tracing::{debug, warn};

const MIB: u64 = 1024 * 1024;

pub const DEFAULT_REGION: &str = "us-east-1";
pub const DEFAULT_UPLOAD_BUCKET: &str = "vodpipe-uploads";
pub const DEFAULT_OUTPUT_BUCKET: &str = "vodpipe-output";

/// Objects larger than this are uploaded in parts.
pub const MULTIPART_THRESHOLD: u64 = 16 * MIB;
/// Part size for uploads and ranged downloads (grown for files over 80 GiB, see
/// [`part_size_for`], because S3 allows at most 10 000 parts).
pub const PART_SIZE: u64 = 8 * MIB;
/// Parts in flight at once for one upload or download.
pub const PART_CONCURRENCY: usize = 4;
/// Attempts per request, including the first, made by the SDK's standard retry mode
/// (exponential backoff with jitter on 5xx, throttling, timeouts and connection resets).
pub const MAX_ATTEMPTS: u32 = 5;
/// Attempts per downloaded part. The SDK retries a request until its response starts;
/// a connection that breaks while the body streams is retried here.
const PART_ATTEMPTS: u32 = 4;
const MAX_PARTS: u64 = 10_000;

/// Metadata key (`x-amz-meta-sha256`) holding the object's hex SHA-256.
pub const SHA256_METADATA: &str = "sha256";
pub const CACHE_CONTROL_IMMUTABLE: &str = "public, max-age=31536000, immutable";
pub const CACHE_CONTROL_SHORT: &str = "public, max-age=60";

/// Where the object store is and which buckets to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    /// `AWS_ENDPOINT_URL` (or the profile's `endpoint_url`); `None` is AWS itself.
    pub endpoint: Option<String>,
    /// `AWS_REGION` / the profile's region; [`DEFAULT_REGION`] when neither is set.
    pub region: String,
    /// `VODPIPE_S3_PATH_STYLE`: address buckets as `host/bucket/key` rather than
    /// `bucket.host/key`, which most S3-compatible servers need.
    pub path_style: bool,
    /// `VODPIPE_UPLOAD_BUCKET`: where sources are uploaded.
    pub upload_bucket: String,
    /// `VODPIPE_OUTPUT_BUCKET`: where packaged titles go.
    pub output_bucket: String,
}

impl Default for S3Config {
    fn default() -> Self {
        S3Config {
            endpoint: None,
            region: DEFAULT_REGION.to_owned(),
            path_style: false,
            upload_bucket: DEFAULT_UPLOAD_BUCKET.to_owned(),
            output_bucket: DEFAULT_OUTPUT_BUCKET.to_owned(),
        }
    }
}

impl S3Config {
    /// Reads the standard AWS settings through aws-config (environment, then profile
    /// files) and vodpipe's own variables. Credentials are not read here: [`client`]
    /// resolves them through the default chain when a request needs them.
    pub async fn from_env() -> anyhow::Result<Self> {
        let shared = aws_config::defaults(BehaviorVersion::latest()).load().await;
        Self::from_parts(
            shared.endpoint_url().map(str::to_owned),
            shared.region().map(|r| r.as_ref().to_owned()),
            |name| std::env::var(name).ok(),
        )
    }

    fn from_parts(
        endpoint: Option<String>,
        region: Option<String>,
        var: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Self> {
        let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let path_style = match set("VODPIPE_S3_PATH_STYLE") {
            None => false,
            Some(v) => parse_flag(&v).with_context(|| format!("VODPIPE_S3_PATH_STYLE={v:?}"))?,
        };
        let bucket = |name: &str, default: &str| -> anyhow::Result<String> {
            let bucket = set(name).unwrap_or_else(|| default.to_owned());
            validate_bucket(&bucket)
                .map_err(|why| anyhow!("{name}={bucket:?} is not a valid bucket name: {why}"))?;
            Ok(bucket)
        };
        Ok(S3Config {
            endpoint,
            region: region.unwrap_or_else(|| DEFAULT_REGION.to_owned()),
            path_style,
            upload_bucket: bucket("VODPIPE_UPLOAD_BUCKET", DEFAULT_UPLOAD_BUCKET)?,
            output_bucket: bucket("VODPIPE_OUTPUT_BUCKET", DEFAULT_OUTPUT_BUCKET)?,
        })
    }
}

fn parse_flag(value: &str) -> anyhow::Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => bail!("expected 1/true or 0/false"),
    }
}

/// An S3 client for `cfg`, with credentials from the default chain (environment,
/// profile, web identity, container or instance metadata).
pub async fn client(cfg: &S3Config) -> Client {
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).region(Region::new(cfg.region.clone()));
    if let Some(endpoint) = &cfg.endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    let shared = loader.load().await;
    let conf = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(cfg.path_style)
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .interceptor(CountRequests)
        // One attempt moves at most one part (8 MiB); five minutes is ~28 KB/s. A body
        // that stops moving altogether is caught sooner by the SDK's stalled-stream
        // protection.
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .operation_attempt_timeout(Duration::from_secs(300))
                .build(),
        )
        .build();
    Client::from_conf(conf)
}

/// Counts every attempt of every S3 request in the metrics, by operation and result.
#[derive(Debug)]
struct CountRequests;

impl aws_sdk_s3::config::Intercept for CountRequests {
    fn name(&self) -> &'static str {
        "CountRequests"
    }

    fn read_after_attempt(
        &self,
        context: &aws_sdk_s3::config::interceptors::FinalizerInterceptorContextRef<'_>,
        _components: &aws_sdk_s3::config::RuntimeComponents,
        cfg: &mut aws_sdk_s3::config::ConfigBag,
    ) -> Result<(), aws_sdk_s3::error::BoxError> {
        let operation = cfg
            .load::<aws_smithy_runtime_api::client::orchestrator::Metadata>()
            .map(|m| m.name().to_owned())
            .unwrap_or_else(|| "unknown".into());
        let result = match context.response().map(|r| r.status().as_u16()) {
            None => "no_response",
            Some(400..=499) => "client_error",
            Some(500..=599) => "server_error",
            Some(_) => "ok",
        };
        crate::metrics::get().s3_requests.get_or_create(&crate::metrics::S3Request { operation, result }).inc();
        Ok(())
    }
}

/// Creates `bucket` unless it exists. Creation racing another worker is fine.
pub async fn ensure_bucket(client: &Client, bucket: &str) -> anyhow::Result<()> {
    match client.head_bucket().bucket(bucket).send().await {
        Ok(_) => return Ok(()),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => {}
        Err(e) => bail!("cannot check bucket {bucket}: {}", DisplayErrorContext(&e)),
    }
    let mut create = client.create_bucket().bucket(bucket);
    // us-east-1 is the one region that refuses an explicit location constraint.
    if let Some(region) = client.config().region().map(|r| r.as_ref().to_owned())
        && region != "us-east-1"
    {
        let location = CreateBucketConfiguration::builder()
            .location_constraint(BucketLocationConstraint::from(region.as_str()))
            .build();
        create = create.create_bucket_configuration(location);
    }
    match create.send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_bucket_already_owned_by_you()) =>
        {
            Ok(())
        }
        // Some servers answer BucketAlreadyExists to the loser of a creation race among
        // holders of the same credentials: fine if we can use it.
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_bucket_already_exists()) =>
        {
            client
                .head_bucket()
                .bucket(bucket)
                .send()
                .await
                .map(|_| ())
                .map_err(|_| {
                    anyhow!(
                        "bucket {bucket} already exists and belongs to someone else: {}",
                        DisplayErrorContext(&e)
                    )
                })
        }
        Err(e) => bail!("cannot create bucket {bucket}: {}", DisplayErrorContext(&e)),
    }
}

/// The packager's storage on `s3://bucket/<prefix>`.
pub struct S3Store {
    client: Client,
    bucket: String,
    prefix: String,
    skipped: AtomicU64,
}

impl S3Store {
    /// `prefix` is the title's folder, e.g. `<video-id>/`; a missing trailing `/` is
    /// added, an empty prefix stores at the bucket's root.
    pub fn new(client: Client, bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        let mut prefix = prefix.into();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        S3Store {
            client,
            bucket: bucket.into(),
            prefix,
            skipped: AtomicU64::new(0),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The full key of a title-relative key.
    pub fn key(&self, relative: &str) -> String {
        format!("{}{relative}", self.prefix)
    }

    /// Immutable objects found already stored with the same sha256 and not uploaded
    /// again (a re-run after a partial failure skips what the first run stored).
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    async fn put_object(&self, object: Object) -> Result<(), StoreError> {
        if !packager::storage::is_safe_key(&object.key) {
            return Err(StoreError {
                message: format!("unsafe key {:?}", object.key),
                retryable: false,
                source: None,
            });
        }
        let key = self.key(&object.key);
        let target = Target {
            client: &self.client,
            bucket: &self.bucket,
            key: &key,
            content_type: object.content_type,
            cache_control: Some(match object.caching {
                Caching::Immutable => CACHE_CONTROL_IMMUTABLE,
                Caching::Short => CACHE_CONTROL_SHORT,
            }),
            sha256: object.sha256,
        };
        if object.caching == Caching::Immutable && target.already_stored().await {
            self.skipped.fetch_add(1, Ordering::Relaxed);
            debug!(uri = %target.uri(), "already stored with the same sha256; not uploaded again");
            return Ok(());
        }
        let size = object.body.len() as u64;
        let body = Bytes::from(object.body);
        if size <= MULTIPART_THRESHOLD {
            target.put_single(body).await?;
        } else {
            target
                .put_multipart(size, PART_SIZE, |first, len| {
                    let part = body.slice(first as usize..(first + len) as usize);
                    async move { Ok(part) }
                })
                .await?;
        }
        crate::metrics::get().stored(&key, size);
        Ok(())
    }
}

impl Storage for S3Store {
    fn put(&self, object: Object) -> StoreFuture<'_, ()> {
        Box::pin(self.put_object(object))
    }

    fn base_uri(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }
}

/// One object being written, with everything every write of it carries.
struct Target<'a> {
    client: &'a Client,
    bucket: &'a str,
    key: &'a str,
    content_type: &'a str,
    cache_control: Option<&'a str>,
    sha256: Sha256Digest,
}

impl Target<'_> {
    fn uri(&self) -> String {
        s3_uri(self.bucket, self.key)
    }

    /// Whether the object exists with our sha256. Any doubt (other errors included)
    /// means "upload": the PUT then reports real problems.
    async fn already_stored(&self) -> bool {
        match self
            .client
            .head_object()
            .bucket(self.bucket)
            .key(self.key)
            .send()
            .await
        {
            Ok(head) => head
                .metadata()
                .and_then(|m| m.get(SHA256_METADATA))
                .is_some_and(|stored| stored.eq_ignore_ascii_case(&self.sha256.to_string())),
            Err(e) => {
                if !e.as_service_error().is_some_and(|e| e.is_not_found()) {
                    debug!(uri = %self.uri(), error = %DisplayErrorContext(&e), "HEAD failed; uploading");
                }
                false
            }
        }
    }

    async fn put_single(&self, body: Bytes) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(self.bucket)
            .key(self.key)
            .content_type(self.content_type)
            .set_cache_control(self.cache_control.map(str::to_owned))
            .metadata(SHA256_METADATA, self.sha256.to_string())
            .server_side_encryption(ServerSideEncryption::Aes256)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .checksum_sha256(base64_digest(&self.sha256.0))
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| sdk_store_error("storing", &self.uri(), e))?;
        Ok(())
    }

    /// Uploads `size` bytes in parts of `part_size`; `load(first, len)` supplies each
    /// part. Parts go up [`PART_CONCURRENCY`] at a time, each with its own SHA-256
    /// checksum; on any failure the upload is aborted so no orphaned parts stay billed.
    async fn put_multipart<F, Fut>(
        &self,
        size: u64,
        part_size: u64,
        load: F,
    ) -> Result<(), StoreError>
    where
        F: Fn(u64, u64) -> Fut + Sync,
        Fut: Future<Output = Result<Bytes, StoreError>> + Send,
    {
        let uri = self.uri();
        let created = self
            .client
            .create_multipart_upload()
            .bucket(self.bucket)
            .key(self.key)
            .content_type(self.content_type)
            .set_cache_control(self.cache_control.map(str::to_owned))
            .metadata(SHA256_METADATA, self.sha256.to_string())
            .server_side_encryption(ServerSideEncryption::Aes256)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .send()
            .await
            .map_err(|e| sdk_store_error("starting multipart upload of", &uri, e))?;
        let upload_id = created
            .upload_id()
            .map(str::to_owned)
            .ok_or_else(|| StoreError {
                message: format!(
                    "starting multipart upload of {uri}: the server returned no upload id"
                ),
                retryable: true,
                source: None,
            })?;

        let result = self.upload_parts(&upload_id, size, part_size, &load).await;
        if result.is_err()
            && let Err(e) = self
                .client
                .abort_multipart_upload()
                .bucket(self.bucket)
                .key(self.key)
                .upload_id(&upload_id)
                .send()
                .await
        {
            warn!(%uri, %upload_id, error = %DisplayErrorContext(&e), "could not abort the failed multipart upload");
        }
        result
    }

    async fn upload_parts<F, Fut>(
        &self,
        upload_id: &str,
        size: u64,
        part_size: u64,
        load: &F,
    ) -> Result<(), StoreError>
    where
        F: Fn(u64, u64) -> Fut + Sync,
        Fut: Future<Output = Result<Bytes, StoreError>> + Send,
    {
        let uri = self.uri();
        let uri = uri.as_str();
        let mut parts: Vec<CompletedPart> = stream::iter(part_ranges(size, part_size))
            .map(|(index, first, len)| async move {
                let body = load(first, len).await?;
                let number = i32::try_from(index + 1).expect("at most 10 000 parts");
                let checksum = base64_digest(&Sha256::digest(&body).into());
                let done = self
                    .client
                    .upload_part()
                    .bucket(self.bucket)
                    .key(self.key)
                    .upload_id(upload_id)
                    .part_number(number)
                    .checksum_algorithm(ChecksumAlgorithm::Sha256)
                    .checksum_sha256(&checksum)
                    .body(ByteStream::from(body))
                    .send()
                    .await
                    .map_err(|e| sdk_store_error(&format!("uploading part {number} of"), uri, e))?;
                Ok::<_, StoreError>(
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(done.e_tag().map(str::to_owned))
                        .checksum_sha256(checksum)
                        .build(),
                )
            })
            .buffer_unordered(PART_CONCURRENCY)
            .try_collect()
            .await?;
        parts.sort_by_key(|p| p.part_number());
        self.client
            .complete_multipart_upload()
            .bucket(self.bucket)
            .key(self.key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| sdk_store_error("completing multipart upload of", uri, e))?;
        Ok(())
    }
}

/// `(index, first byte, length)` of each part of a `size`-byte object.
fn part_ranges(size: u64, part_size: u64) -> impl Iterator<Item = (u64, u64, u64)> {
    (0..size.div_ceil(part_size)).map(move |i| {
        let first = i * part_size;
        (i, first, part_size.min(size - first))
    })
}

/// [`PART_SIZE`], or more for objects that would need over 10 000 parts (a whole MiB).
pub fn part_size_for(size: u64) -> u64 {
    PART_SIZE.max(size.div_ceil(MAX_PARTS).div_ceil(MIB) * MIB)
}

fn base64_digest(digest: &[u8; 32]) -> String {
    base64::engine::general_purpose::STANDARD.encode(digest)
}

fn s3_uri(bucket: &str, key: &str) -> String {
    format!("s3://{bucket}/{key}")
}

/// S3 error codes worth trying again even when the status is not 5xx.
const RETRYABLE_CODES: [&str; 8] = [
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "InternalError",
    "ServiceUnavailable",
];

/// Whether a failed request may succeed if the job runs again later: network and
/// server trouble yes; a refused or malformed request (403, 404, 400, ...) no.
pub fn is_retryable<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    match err {
        SdkError::ConstructionFailure(_) => false,
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        // A "user" connector error is a bad request setup (e.g. TLS configuration), not
        // a network hiccup.
        SdkError::DispatchFailure(e) => !e.as_connector_error().is_some_and(|c| c.is_user()),
        SdkError::ServiceError(e) => {
            let status = e.raw().status();
            status.is_server_error()
                || status.as_u16() == 429
                || e.err()
                    .code()
                    .is_some_and(|code| RETRYABLE_CODES.contains(&code))
        }
        // Kinds added to the SDK later: more likely transport than request problems.
        _ => true,
    }
}

fn sdk_store_error<E>(action: &str, uri: &str, err: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    StoreError {
        message: format!("{action} {uri}: {}", DisplayErrorContext(&err)),
        retryable: is_retryable(&err),
        source: Some(Box::new(err)),
    }
}

/// Downloads `s3://bucket/key` to `dest` with ranged GETs, [`PART_CONCURRENCY`] parts in
/// flight, written and hashed in order. The file appears under its name only when
/// complete (it is written as `<dest>.part` first). Returns its size and SHA-256.
pub async fn download(
    client: &Client,
    bucket: &str,
    key: &str,
    dest: &Path,
) -> anyhow::Result<(u64, Sha256Digest)> {
    let uri = s3_uri(bucket, key);
    let head = client
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| {
            if e.as_service_error().is_some_and(|e| e.is_not_found()) {
                anyhow!("source {uri} does not exist")
            } else {
                anyhow!("cannot read {uri}: {}", DisplayErrorContext(&e))
            }
        })?;
    let size = u64::try_from(head.content_length().unwrap_or(0)).unwrap_or(0);
    let etag = head.e_tag().map(str::to_owned);
    let partial = partial_path(dest);
    let result = download_parts(client, bucket, key, etag.as_deref(), size, &partial).await;
    match result {
        Ok(digest) => {
            tokio::fs::rename(&partial, dest).await.with_context(|| {
                format!("cannot move {} to {}", partial.display(), dest.display())
            })?;
            Ok((size, digest))
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&partial).await;
            Err(e.context(format!("downloading {uri} to {}", dest.display())))
        }
    }
}

fn partial_path(dest: &Path) -> PathBuf {
    let mut name = dest
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".part");
    dest.with_file_name(name)
}

async fn download_parts(
    client: &Client,
    bucket: &str,
    key: &str,
    etag: Option<&str>,
    size: u64,
    path: &Path,
) -> anyhow::Result<Sha256Digest> {
    let mut file = tokio::fs::File::create(path)
        .await
        .with_context(|| format!("cannot create {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut parts = stream::iter(part_ranges(size, PART_SIZE))
        .map(|(_, first, len)| fetch_range(client, bucket, key, etag, first, len))
        .buffered(PART_CONCURRENCY);
    while let Some(part) = parts.next().await {
        let part = part?;
        hasher.update(&part);
        file.write_all(&part)
            .await
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    file.sync_all()
        .await
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(Sha256Digest(hasher.finalize().into()))
}

/// One part, retried with backoff when the failure is transient.
async fn fetch_range(
    client: &Client,
    bucket: &str,
    key: &str,
    etag: Option<&str>,
    first: u64,
    len: u64,
) -> anyhow::Result<Bytes> {
    let mut attempt = 1;
    loop {
        match fetch_range_once(client, bucket, key, etag, first, len).await {
            Ok(bytes) => return Ok(bytes),
            Err(e) if e.retryable && attempt < PART_ATTEMPTS => {
                let pause = Duration::from_millis(250 << (attempt - 1));
                debug!(bucket, key, first, attempt, error = %e, "part download failed; retrying in {pause:?}");
                tokio::time::sleep(pause).await;
                attempt += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

async fn fetch_range_once(
    client: &Client,
    bucket: &str,
    key: &str,
    etag: Option<&str>,
    first: u64,
    len: u64,
) -> Result<Bytes, StoreError> {
    let uri = s3_uri(bucket, key);
    let last = first + len - 1;
    let response = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .range(format!("bytes={first}-{last}"))
        // All parts from the object that HEAD saw, even if it is overwritten meanwhile.
        .set_if_match(etag.map(str::to_owned))
        .send()
        .await
        .map_err(|e| {
            let status = e.raw_response().map(|r| r.status().as_u16());
            let mut err = sdk_store_error(&format!("reading bytes {first}-{last} of"), &uri, e);
            match status {
                Some(404) => {
                    err.message = format!("source {uri} does not exist (deleted while downloading)")
                }
                Some(412) => err.message = format!("source {uri} changed while downloading"),
                _ => {}
            }
            err
        })?;
    let body = response.body.collect().await.map_err(|e| StoreError {
        message: format!("reading bytes {first}-{last} of {uri}: {e}"),
        retryable: true,
        source: Some(Box::new(e)),
    })?;
    let bytes = body.into_bytes();
    if bytes.len() as u64 != len {
        return Err(StoreError {
            message: format!(
                "reading bytes {first}-{last} of {uri}: got {} bytes, expected {len}",
                bytes.len()
            ),
            retryable: true,
            source: None,
        });
    }
    Ok(bytes)
}

/// A source object read by ranged GETs, for the packager's range source: a chunk's
/// worker reads its range of the upload and the index, never the whole of it. Every read
/// is of the object HEAD saw (`If-Match` its ETag), retried as a download's parts are, and
/// counted.
#[derive(Debug)]
pub struct S3Reader {
    client: Client,
    bucket: String,
    key: String,
    etag: Option<String>,
    size: u64,
    runtime: tokio::runtime::Handle,
    bytes_read: std::sync::atomic::AtomicU64,
    requests: std::sync::atomic::AtomicU64,
}

impl S3Reader {
    /// HEADs the object; `Ok(None)` when it does not exist.
    pub async fn open(client: &Client, bucket: &str, key: &str) -> anyhow::Result<Option<S3Reader>> {
        let head = match client.head_object().bucket(bucket).key(key).send().await {
            Ok(head) => head,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => return Ok(None),
            Err(e) => bail!("cannot read {}: {}", s3_uri(bucket, key), DisplayErrorContext(&e)),
        };
        Ok(Some(S3Reader {
            client: client.clone(),
            bucket: bucket.into(),
            key: key.into(),
            etag: head.e_tag().map(str::to_owned),
            size: u64::try_from(head.content_length().unwrap_or(0)).unwrap_or(0),
            runtime: tokio::runtime::Handle::current(),
            bytes_read: Default::default(),
            requests: Default::default(),
        }))
    }

    /// Bytes read so far, and in how many requests.
    pub fn read_so_far(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.bytes_read.load(Relaxed), self.requests.load(Relaxed))
    }
}

impl packager::RangeReader for S3Reader {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
        use std::sync::atomic::Ordering::Relaxed;
        let len = (len as u64).min(self.size.saturating_sub(offset));
        if len == 0 {
            return Ok(Vec::new());
        }
        let fetch = fetch_range(&self.client, &self.bucket, &self.key, self.etag.as_deref(), offset, len);
        // Called from GStreamer's streaming threads (outside the runtime) and, for the index,
        // from a task of the runtime: both may block here.
        let bytes = tokio::task::block_in_place(|| self.runtime.block_on(fetch))
            .map_err(|e| std::io::Error::other(format!("{e:#}")))?;
        self.requests.fetch_add(1, Relaxed);
        self.bytes_read.fetch_add(bytes.len() as u64, Relaxed);
        Ok(bytes.to_vec())
    }
}

/// Uploads a local file (SSE-S3, metadata sha256), in parts when it is over
/// [`MULTIPART_THRESHOLD`]; parts are read from disk as they are sent, so memory holds
/// at most [`PART_CONCURRENCY`] parts. The file must not change meanwhile: its digest
/// is computed in a first pass. Returns that digest.
pub async fn upload_file(
    client: &Client,
    bucket: &str,
    key: &str,
    path: &Path,
    content_type: &str,
) -> anyhow::Result<Sha256Digest> {
    let size = tokio::fs::metadata(path)
        .await
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    let owned = path.to_owned();
    let sha256 = tokio::task::spawn_blocking(move || packager::hash_file(&owned))
        .await
        .context("hashing task failed")?
        .with_context(|| format!("cannot read {}", path.display()))?;
    let target = Target {
        client,
        bucket,
        key,
        content_type,
        cache_control: None,
        sha256,
    };
    if size <= MULTIPART_THRESHOLD {
        let body = tokio::fs::read(path)
            .await
            .with_context(|| format!("cannot read {}", path.display()))?;
        if Sha256Digest::of(&body) != sha256 {
            bail!("{} changed while being uploaded", path.display());
        }
        target.put_single(Bytes::from(body)).await?;
    } else {
        target
            .put_multipart(size, part_size_for(size), |first, len| {
                let path = path.to_owned();
                async move {
                    tokio::task::spawn_blocking(move || read_range(&path, first, len))
                        .await
                        .map_err(|e| StoreError {
                            message: format!("reading task failed: {e}"),
                            retryable: false,
                            source: None,
                        })?
                        .map_err(StoreError::io)
                }
            })
            .await?;
    }
    Ok(sha256)
}

fn read_range(path: &Path, first: u64, len: u64) -> std::io::Result<Bytes> {
    let mut file = std::fs::File::open(path)?;
    file.seek(SeekFrom::Start(first))?;
    let mut buf = vec![0u8; len as usize];
    file.read_exact(&mut buf)?;
    Ok(Bytes::from(buf))
}

/// A small object's bytes (records, markers); `None` when it does not exist.
pub async fn get_bytes(client: &Client, bucket: &str, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
    match client.get_object().bucket(bucket).key(key).send().await {
        Ok(response) => {
            let body = response.body.collect().await.with_context(|| format!("reading {}", s3_uri(bucket, key)))?;
            Ok(Some(body.into_bytes().to_vec()))
        }
        Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => Ok(None),
        Err(e) => bail!("cannot read {}: {}", s3_uri(bucket, key), DisplayErrorContext(&e)),
    }
}

/// Deletes one object (absent is not an error: S3's DELETE is idempotent).
pub async fn delete(client: &Client, bucket: &str, key: &str) -> anyhow::Result<()> {
    client
        .delete_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| anyhow!("cannot delete {}: {}", s3_uri(bucket, key), DisplayErrorContext(&e)))?;
    Ok(())
}

/// Every key under `prefix` in `bucket`, all pages of the listing.
pub async fn list_keys(client: &Client, bucket: &str, prefix: &str) -> anyhow::Result<Vec<String>> {
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    let mut keys = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            anyhow!(
                "cannot list s3://{bucket}/{prefix}: {}",
                DisplayErrorContext(&e)
            )
        })?;
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
    }
    Ok(keys)
}

/// A URL that lets anyone GET the object until `expires` from now (at most 7 days).
pub async fn presign_get(
    client: &Client,
    bucket: &str,
    key: &str,
    expires: Duration,
) -> anyhow::Result<String> {
    let config = PresigningConfig::expires_in(expires)
        .with_context(|| format!("cannot presign for {expires:?}"))?;
    let request = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .presigned(config)
        .await
        .map_err(|e| {
            anyhow!(
                "cannot presign {}: {}",
                s3_uri(bucket, key),
                DisplayErrorContext(&e)
            )
        })?;
    Ok(request.uri().to_owned())
}

/// Splits `s3://bucket/key` into a valid bucket name and a non-empty key.
pub fn parse_s3_uri(uri: &str) -> anyhow::Result<(String, String)> {
    let rest = uri
        .strip_prefix("s3://")
        .ok_or_else(|| anyhow!("{uri:?} is not an s3://bucket/key URI"))?;
    let (bucket, key) = rest
        .split_once('/')
        .ok_or_else(|| anyhow!("{uri:?} names no object (s3://bucket/key)"))?;
    validate_bucket(bucket).map_err(|why| anyhow!("{uri:?}: bad bucket name {bucket:?}: {why}"))?;
    if key.is_empty() {
        bail!("{uri:?} names no object (s3://bucket/key)");
    }
    if key.len() > 1024 {
        bail!("{uri:?}: the key is longer than S3's 1024 bytes");
    }
    if key.chars().any(char::is_control) {
        bail!("{uri:?}: the key contains control characters");
    }
    Ok((bucket.to_owned(), key.to_owned()))
}

/// S3's bucket naming rules (general purpose buckets).
pub fn validate_bucket(name: &str) -> Result<(), &'static str> {
    if !(3..=63).contains(&name.len()) {
        return Err("must be 3 to 63 characters long");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return Err("only lowercase letters, digits, '.' and '-' are allowed");
    }
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !alnum(name.as_bytes()[0]) || !alnum(name.as_bytes()[name.len() - 1]) {
        return Err("must begin and end with a letter or digit");
    }
    if name.contains("..") {
        return Err("must not have two adjacent periods");
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err("must not look like an IP address");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_uris() {
        assert_eq!(
            parse_s3_uri("s3://vodpipe-uploads/a/b c.mp4").unwrap(),
            ("vodpipe-uploads".to_owned(), "a/b c.mp4".to_owned())
        );
        for bad in [
            "",
            "vodpipe-uploads/a.mp4",
            "http://vodpipe-uploads/a.mp4",
            "s3://",
            "s3://bucket",
            "s3://bucket/",
            "s3:///key",
            "s3://Bucket/key",
            "s3://b/key",
            "s3://bucket_x/key",
            "s3://-bucket/key",
            "s3://bucket-/key",
            "s3://a..b/key",
            "s3://192.168.1.1/key",
            "s3://bucket/a\nb",
        ] {
            assert!(parse_s3_uri(bad).is_err(), "{bad:?}");
        }
        let long = format!("s3://bucket/{}", "k".repeat(1025));
        assert!(parse_s3_uri(&long).is_err());
    }

    #[test]
    fn parts_cover_the_object_once() {
        let ranges: Vec<_> = part_ranges(20 * MIB + 1, PART_SIZE).collect();
        assert_eq!(
            ranges,
            vec![
                (0, 0, 8 * MIB),
                (1, 8 * MIB, 8 * MIB),
                (2, 16 * MIB, 4 * MIB + 1)
            ]
        );
        assert_eq!(part_ranges(0, PART_SIZE).count(), 0);
        assert_eq!(part_ranges(8 * MIB, PART_SIZE).count(), 1);
    }

    #[test]
    fn part_size_keeps_under_ten_thousand_parts() {
        assert_eq!(part_size_for(40 * MIB), PART_SIZE);
        assert_eq!(part_size_for(80_000 * MIB), PART_SIZE);
        let big = 200 * 1024 * MIB;
        let size = part_size_for(big);
        assert!(size > PART_SIZE && size.is_multiple_of(MIB));
        assert!(big.div_ceil(size) <= MAX_PARTS);
    }

    #[test]
    fn config_from_the_environment() {
        let none = |_: &str| None;
        assert_eq!(
            S3Config::from_parts(None, None, none).unwrap(),
            S3Config::default()
        );
        let vars = |name: &str| match name {
            "VODPIPE_S3_PATH_STYLE" => Some("true".to_owned()),
            "VODPIPE_UPLOAD_BUCKET" => Some("in".to_owned()),
            "VODPIPE_OUTPUT_BUCKET" => Some(String::new()),
            _ => None,
        };
        assert!(
            S3Config::from_parts(None, None, vars).is_err(),
            "'in' is too short a bucket name"
        );
        let vars = |name: &str| match name {
            "VODPIPE_S3_PATH_STYLE" => Some("1".to_owned()),
            "VODPIPE_UPLOAD_BUCKET" => Some("ingest".to_owned()),
            _ => None,
        };
        let cfg = S3Config::from_parts(
            Some("http://127.0.0.1:8333".into()),
            Some("eu-west-1".into()),
            vars,
        )
        .unwrap();
        assert_eq!(cfg.endpoint.as_deref(), Some("http://127.0.0.1:8333"));
        assert_eq!(cfg.region, "eu-west-1");
        assert!(cfg.path_style);
        assert_eq!(cfg.upload_bucket, "ingest");
        assert_eq!(cfg.output_bucket, DEFAULT_OUTPUT_BUCKET);
        let bad = |name: &str| (name == "VODPIPE_S3_PATH_STYLE").then(|| "maybe".to_owned());
        assert!(S3Config::from_parts(None, None, bad).is_err());
    }
}
