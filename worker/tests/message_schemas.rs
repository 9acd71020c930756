//! The queue messages against their published JSON Schemas, checked by a validator nobody
//! here wrote (python3-jsonschema, installed by scripts/setup.sh): the chunk jobs a real
//! title's plan gives (`worker/schema/chunk.v1.schema.json`, whose `job` is a
//! `job.v1.schema.json` message), and the schemas' refusal of a message the worker refuses.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use manifest::model::AudioRole;
use worker::job::{AudioStreamLabel, JOB_SCHEMA_V1, Job, JobMessage, SubtitleSource};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root")
}

/// Debian's jsonschema belongs to the system interpreter (scripts/test.sh says why).
fn python() -> &'static str {
    if Path::new("/usr/bin/python3").is_file() { "/usr/bin/python3" } else { "python3" }
}

/// Validates each JSON document against the chunk schema (the job schema put in place of
/// its `$ref`, its `$defs` moved to the root, so that no resolver of any jsonschema
/// version is involved). Returns, per
/// document, `None` when valid or the validator's first complaint.
fn validate_chunks(documents: &[serde_json::Value]) -> Vec<Option<String>> {
    let script = r##"
import json, sys, jsonschema
schemas = sys.argv[1]
chunk = json.load(open(schemas + "/chunk.v1.schema.json"))
job = json.load(open(schemas + "/job.v1.schema.json"))
assert chunk["properties"]["job"]["$ref"] == "job.v1.schema.json"
job.pop("$schema", None); job.pop("$id", None)
# The job schema's own "#/$defs/..." references then resolve at the chunk schema's root.
chunk.setdefault("$defs", {}).update(job.pop("$defs", {}))
chunk["properties"]["job"] = job
cls = jsonschema.validators.validator_for(chunk)
cls.check_schema(chunk)
validator = cls(chunk)
for doc in json.load(sys.stdin):
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    print(json.dumps(None if not errors else f"{list(errors[0].path)}: {errors[0].message}"))
"##;
    let mut child = Command::new(python())
        .args(["-c", script])
        .arg(repo().join("worker/schema"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("running python3");
    serde_json::to_writer(child.stdin.take().expect("stdin"), documents).expect("writing the documents");
    let out = child.wait_with_output().expect("python3 output");
    assert!(out.status.success(), "the validator failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8").lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
}

#[test]
fn chunk_jobs_of_a_real_plan_match_their_schema() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async {
        packager::init().expect("GStreamer");
        let source: PathBuf = repo().join("fixtures/media/grainy_16s.mp4");
        assert!(source.is_file(), "{} missing (fixtures/make-media.sh)", source.display());
        let message = JobMessage {
            schema: JOB_SCHEMA_V1.into(),
            job_id: "job-schema-check".into(),
            video_id: "schema-check".into(),
            source: "s3://vodpipe-uploads/schema-check/grainy_16s.mp4".into(),
            ladder: "default".into(),
            output_prefix: None,
            title: Some("Schema check".into()),
            description: None,
            chunk_duration: Some(4.0),
            // The fixture has one audio stream: label it, and name a subtitle file.
            audio: vec![AudioStreamLabel { stream: 1, language: Some("ger".into()), role: AudioRole::Description, default: true }],
            subtitles: vec![SubtitleSource { source: "s3://vodpipe-uploads/schema-check/subtitles/1.en.srt".into(), language: Some("en".into()) }],
        };
        let job = Job::validate(message).expect("a valid job");
        let pjob = packager::Job {
            input: source,
            video_id: job.message.video_id.clone(),
            ladder: packager::Ladder::from_toml(job.ladder_toml).expect("the default ladder"),
            published_at: String::new(),
            generator: String::new(),
            source_uri: Some(job.message.source.clone()),
            stall_timeout: Duration::from_secs(60),
            chunk_duration: Some(Duration::from_secs(4)),
            parallel_parts: 1,
            reader: None,
            subtitles: Vec::new(),
            audio: job.audio_labels(),
        };
        let plan = packager::plan_title(&pjob).await.expect("planning the title");
        let chunks = worker::queue::chunk_messages(&job, &plan);
        assert_eq!(chunks.len(), 4, "16 s in 4 s chunks");
        let mut documents: Vec<serde_json::Value> = chunks.iter().map(|c| serde_json::to_value(c).expect("serializable")).collect();
        for (doc, verdict) in documents.iter().zip(validate_chunks(&documents)) {
            assert_eq!(verdict, None, "a chunk job the worker publishes is refused by its schema: {doc}");
        }

        // What the worker refuses, the schemas refuse too (so the check above can fail).
        let mut unknown = documents[0].clone();
        unknown["job"]["priority"] = 5.into();
        let mut bad_span = documents[1].clone();
        bad_span["chunk"]["first_segment"] = 0.into();
        let mut half_second = documents[2].clone();
        half_second["job"]["chunk_duration"] = 0.5.into();
        let mut karaoke = documents[3].clone();
        karaoke["job"]["audio"][0]["role"] = "karaoke".into();
        let mut stream_0 = documents[0].clone();
        stream_0["job"]["audio"][0]["stream"] = 0.into();
        let mut local_subtitles = documents[1].clone();
        local_subtitles["job"]["subtitles"][0]["source"] = "/tmp/en.srt".into();
        documents = vec![unknown, bad_span, half_second, karaoke, stream_0, local_subtitles];
        for (doc, verdict) in documents.iter().zip(validate_chunks(&documents)) {
            assert!(verdict.is_some(), "the schema accepts a message the worker refuses: {doc}");
        }
        assert!(worker::job::ChunkJob::parse(documents[0].to_string().as_bytes()).is_err(), "the worker accepts an unknown job field");
        assert!(worker::job::ChunkJob::parse(documents[2].to_string().as_bytes()).is_err(), "the worker accepts chunk_duration 0.5");
        for doc in &documents[3..] {
            assert!(worker::job::ChunkJob::parse(doc.to_string().as_bytes()).is_err(), "the worker accepts {doc}");
        }
    });
}
