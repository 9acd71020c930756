//! A worker's metrics and health as the farm sees them: a real Prometheus server (Debian's
//! `prometheus`, started here on a port of its own) scrapes the worker's `/metrics` every
//! second while it packages one upload and dead-letters a bad one; its HTTP API is asked
//! during and after the jobs, and the answers are held against what the bucket and the
//! queue hold.

use super::*;

/// A port free on loopback now (the OS picks it; it is closed again at once).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("binding a loopback port").local_addr().unwrap().port()
}

/// A Prometheus server scraping `target` every second; killed when dropped.
struct Prometheus {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Prometheus {
    fn start(name: &str, target: &str) -> Prometheus {
        let dir = scratch(name);
        let config = dir.join("prometheus.yml");
        fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: vodpipe\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let log = dir.join("prometheus.log");
        let out = File::create(&log).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start prometheus (scripts/setup.sh installs Debian's): {e}"));
        Prometheus { child, url: format!("http://127.0.0.1:{port}"), log }
    }

    /// Waits until the server answers and has scraped the worker successfully.
    async fn wait_scraping(&self, within: Duration) {
        let started = Instant::now();
        loop {
            let listening = TcpStream::connect(self.url.trim_start_matches("http://")).is_ok();
            if listening && http_get(&format!("{}/-/ready", self.url)).0 == 200 && self.value("up{job=\"vodpipe\"}") == Some(1.0) {
                return;
            }
            assert!(
                started.elapsed() < within,
                "prometheus not scraping the worker after {within:?}:\n{}",
                fs::read_to_string(&self.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The result of an instant query: one sample's value (None: no sample; more than one
    /// fails).
    fn value(&self, query: &str) -> Option<f64> {
        let (status, body) = http_get(&format!("{}/api/v1/query?query={}", self.url, percent_encode(query)));
        assert_eq!(status, 200, "query {query}: {}", String::from_utf8_lossy(&body));
        let v: Value = serde_json::from_slice(&body).expect("prometheus answers JSON");
        assert_eq!(v["status"], "success", "query {query}: {v}");
        let result = v["data"]["result"].as_array().expect("a vector");
        assert!(result.len() <= 1, "query {query} has {} series: {v}", result.len());
        result.first().map(|s| s["value"][1].as_str().expect("value").parse().expect("a number"))
    }

    /// Waits until `query` gives `want`.
    async fn wait_for(&self, query: &str, want: f64, within: Duration) {
        let started = Instant::now();
        loop {
            let got = self.value(query);
            if got == Some(want) {
                return;
            }
            assert!(started.elapsed() < within, "{query} is {got:?} after {within:?}, expected {want}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One good upload and one that is not media, on a worker with `--metrics-addr` (by
/// `VODPIPE_METRICS_ADDR`), scraped by Prometheus: while the good job runs the worker is
/// ready and `vodpipe_job_running` is 1; afterwards the job counts by outcome and cause,
/// the stored segments and their bytes equal the bucket's, every stored object had a
/// successful PUT, the stage and duration histograms have their samples, and the job is
/// no longer running.
#[test]
fn prometheus_scrapes_jobs_objects_and_requests_that_match_the_store() {
    serial(async {
        let mut case = Case::new("metrics").await;
        let addr = format!("127.0.0.1:{}", free_port());
        let worker = Worker::start_with(&case, "metrics-worker", &case.bucket, &[("VODPIPE_METRICS_ADDR", addr.as_str())]);
        case.broker.wait_consumers(1, Duration::from_secs(60)).await;
        let (status, body) = http_get(&format!("http://{addr}/readyz"));
        assert_eq!((status, String::from_utf8_lossy(&body).into_owned()), (200, "ok\n".to_owned()), "/readyz of a consuming worker");
        assert_eq!(http_get(&format!("http://{addr}/healthz")).0, 200, "/healthz");
        let prometheus = Prometheus::start("metrics-prometheus", &addr);
        prometheus.wait_scraping(Duration::from_secs(60)).await;
        assert_eq!(prometheus.value("vodpipe_job_running{queue=\"titles\"}"), Some(0.0), "idle before the job");

        let vid = case.id("good");
        let good = case.submit(&media("hd_16x9_audio.mp4"), &vid).await;
        prometheus.wait_for("vodpipe_job_running{queue=\"titles\"}", 1.0, SHORT_JOB).await;
        case.events.wait_until("video.packaged", SHORT_JOB, &[&worker], |ev| ev.count("video.packaged", &good) > 0).await;
        let bad_vid = case.id("bad");
        let bad = case.submit(&media("not_video.txt"), &bad_vid).await;
        case.events.wait_until("video.failed", SHORT_JOB, &[&worker], |ev| ev.count("video.failed", &bad) > 0).await;

        let jobs = |outcome: &str, cause: &str| format!("vodpipe_jobs_total{{queue=\"titles\",outcome=\"{outcome}\",cause=\"{cause}\"}}");
        prometheus.wait_for(&jobs("dead_lettered", "bad-input"), 1.0, Duration::from_secs(30)).await;
        assert_eq!(prometheus.value(&jobs("packaged", "none")), Some(1.0), "one job packaged");
        assert_eq!(prometheus.value("sum(vodpipe_jobs_total)"), Some(2.0), "two jobs in all");
        assert_eq!(prometheus.value("vodpipe_errors_total{kind=\"bad-input\"}"), Some(1.0), "one bad-input error");
        assert_eq!(prometheus.value("vodpipe_job_running{queue=\"titles\"}"), Some(0.0), "idle after the jobs");
        assert_eq!(prometheus.value("max_over_time(vodpipe_job_running{queue=\"titles\"}[10m])"), Some(1.0), "seen running");
        assert_eq!(prometheus.value("sum(vodpipe_job_duration_seconds_count)"), Some(2.0), "a duration per job");
        assert_eq!(prometheus.value("vodpipe_encode_speed_count{queue=\"titles\"}"), Some(1.0), "one encode speed");
        assert!(prometheus.value("vodpipe_encode_speed_sum{queue=\"titles\"}").unwrap() > 0.0, "encode speed above 0");
        // Both sources were downloaded; only the good one got past its probe.
        for (stage, times) in [("download", 2.0), ("probe", 1.0), ("package", 1.0)] {
            assert_eq!(prometheus.value(&format!("vodpipe_stage_duration_seconds_count{{stage=\"{stage}\"}}")), Some(times), "stage {stage}");
        }

        // The store holds what the metrics say was stored.
        let keys = case.s3.keys(&case.bucket, &format!("{vid}/")).await;
        let segments: Vec<&String> = keys.iter().filter(|k| k.ends_with(".m4s")).collect();
        let mut segment_bytes = 0u64;
        for k in &segments {
            segment_bytes += case.s3.get(&case.bucket, k).await.len() as u64;
        }
        assert!(!segments.is_empty());
        assert_eq!(prometheus.value("vodpipe_objects_stored_total{kind=\"segment\"}"), Some(segments.len() as f64), "segments stored");
        assert_eq!(prometheus.value("vodpipe_stored_bytes_total{kind=\"segment\"}"), Some(segment_bytes as f64), "segment bytes stored");
        assert_eq!(prometheus.value("sum(vodpipe_objects_stored_total)"), Some(keys.len() as f64), "objects stored: {keys:#?}");
        let puts = prometheus.value("vodpipe_s3_requests_total{operation=\"PutObject\",result=\"ok\"}").unwrap_or(0.0);
        assert!(puts >= keys.len() as f64, "{puts} successful PUTs for {} objects", keys.len());
        assert!(prometheus.value("vodpipe_s3_requests_total{operation=\"GetObject\",result=\"ok\"}").unwrap_or(0.0) >= 1.0, "the source's GET");
        assert_eq!(prometheus.value("vodpipe_broker_reconnects_total"), Some(0.0), "no reconnects");

        drop(prometheus);
        drop(worker);
        case.finish().await;
    });
}
