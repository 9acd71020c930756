//! vodpipe's outside world: the command line's jobs, storage and queues.
//!
//! Layout:
//! - `transcode`: the embedded default (one file to a local folder).
//! - `admin`: `submit` and `enqueue`.
//! - `doctor`: whether this machine has what the ladders need (start-up check, `vodpipe doctor`).
//! - `extras`: the options for subtitles and audio labels `transcode` and `submit` share.
//! - `fs_store`: the local-folder storage.
//! - `ids`: video id validation.
//! - `job`: the versioned job message.
//! - `metrics`: Prometheus metrics and the health endpoints.
//! - `queue`: RabbitMQ topology, the consumer loop and catalog events.
//! - `verify`: a stored title read back and checked against its catalog (`vodpipe verify`).
//! - `s3`: the S3 storage, source download, presigned URLs.

pub mod admin;
pub mod doctor;
pub mod extras;
pub mod fs_store;
pub mod ids;
pub mod job;
pub mod metrics;
pub mod queue;
pub mod s3;
pub mod transcode;
pub mod verify;
