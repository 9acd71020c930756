//! A fault-injecting HTTP proxy on loopback, put between a worker and the S3 server.
//!
//! Each connection carries one request: the proxy asks upstream for `Connection: close`,
//! so the client opens a new connection per request and every request passes through
//! [`Proxy::set_rule`]'s rule, which sees the method, the target and how many times
//! this same request (method, target and `Range`) came before: retries of one request
//! can be told from new ones. What the rule can do to a request:
//! - [`Action::Pass`]: forwarded as it is (the `Host` header is kept, so SigV4
//!   signatures stay valid);
//! - [`Action::SlowDown`]: the body is read and S3's throttling answer comes back,
//!   `503 SlowDown`;
//! - [`Action::Reset`]: the connection is dropped after the request head and part of
//!   the body, unread bytes pending, which makes the kernel send a reset;
//! - [`Action::Cut`]: forwarded, but the response is cut off after so many bytes;
//! - [`Action::Hold`]: nothing comes back until [`Proxy::release`], then the
//!   connection is dropped: a store that hangs.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Pass,
    SlowDown,
    Reset,
    Cut(usize),
    Hold,
}

/// What the rule sees of a request.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// 1 for the first time this method + target + `Range` is seen, 2 for its retry...
    pub attempt: u32,
    /// The `Range` header's value, if any.
    pub range: Option<String>,
}

impl Request {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

type Rule = Arc<dyn Fn(&Request) -> Action + Send + Sync>;

#[derive(Default, Debug, Clone)]
pub struct Stats {
    pub passed: u64,
    pub slowdowns: u64,
    pub resets: u64,
    pub cuts: u64,
    pub holds: u64,
}

struct Shared {
    upstream: SocketAddr,
    rule: Mutex<Rule>,
    attempts: Mutex<HashMap<String, u32>>,
    stats: Mutex<Stats>,
    /// Requests seen, in order (method and target), for failure messages.
    log: Mutex<Vec<String>>,
    /// Bumped by `release`: a held connection drops once this changes.
    generation: AtomicU64,
    held_now: AtomicU64,
    stopped: AtomicBool,
}

pub struct Proxy {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Proxy {
    /// Listens on 127.0.0.1 (a free port) and forwards to `upstream`; passes
    /// everything until a rule is set.
    pub fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy listen");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            upstream,
            rule: Mutex::new(Arc::new(|_: &Request| Action::Pass)),
            attempts: Mutex::default(),
            stats: Mutex::default(),
            log: Mutex::default(),
            generation: AtomicU64::new(0),
            held_now: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
        });
        let s = shared.clone();
        thread::spawn(move || {
            for conn in listener.incoming() {
                if s.stopped.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let s = s.clone();
                thread::spawn(move || {
                    let _ = serve(&s, conn);
                });
            }
        });
        Proxy { addr, shared }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_rule(&self, rule: impl Fn(&Request) -> Action + Send + Sync + 'static) {
        *lock(&self.shared.rule) = Arc::new(rule);
    }

    /// Lets every held connection go (dropped without an answer); new requests meet
    /// the rule as usual.
    pub fn release(&self) {
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Connections being held right now.
    pub fn held_now(&self) -> u64 {
        self.shared.held_now.load(Ordering::SeqCst)
    }

    pub fn stats(&self) -> Stats {
        lock(&self.shared.stats).clone()
    }

    /// The last `n` requests seen, oldest first.
    pub fn recent(&self, n: usize) -> Vec<String> {
        let log = lock(&self.shared.log);
        log[log.len().saturating_sub(n)..].to_vec()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::Relaxed);
        self.release();
        // Wakes the accept loop so that it sees `stopped`.
        let _ = TcpStream::connect(self.addr);
    }
}

struct Head {
    method: String,
    target: String,
    range: Option<String>,
    content_length: Option<usize>,
    chunked: bool,
    /// Header lines without `Connection`, as received.
    lines: Vec<String>,
}

fn parse_head(raw: &[u8]) -> Option<Head> {
    let text = std::str::from_utf8(raw).ok()?;
    let mut lines = text.split("\r\n");
    let request = lines.next()?;
    let mut parts = request.split(' ');
    let (method, target) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut head = Head { method, target, range: None, content_length: None, chunked: false, lines: vec![request.to_owned()] };
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':')?;
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        match name.as_str() {
            "connection" | "keep-alive" => continue,
            "content-length" => head.content_length = value.parse().ok(),
            "transfer-encoding" => head.chunked = value.to_ascii_lowercase().contains("chunked"),
            "range" => head.range = Some(value.to_owned()),
            _ => {}
        }
        head.lines.push(line.to_owned());
    }
    Some(head)
}

/// Reads up to the end of the request head; returns the head and any body bytes read
/// past it.
fn read_head(conn: &mut TcpStream) -> std::io::Result<Option<(Head, Vec<u8>)>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf[end + 4..].to_vec();
            return Ok(parse_head(&buf[..end]).map(|h| (h, rest)));
        }
        if buf.len() > 64 * 1024 {
            return Ok(None);
        }
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Reads the rest of a request body (the SlowDown answer must not arrive while the
/// client is still sending, or the client sees a broken pipe instead of a 503).
fn drain_body(conn: &mut TcpStream, head: &Head, mut have: Vec<u8>) -> std::io::Result<()> {
    let mut chunk = [0u8; 65536];
    let done = |have: &[u8]| match head.content_length {
        Some(n) => have.len() >= n,
        // The last chunk (size 0), then optional trailers, then an empty line.
        None if head.chunked => {
            (have.starts_with(b"0\r\n") || have.windows(5).any(|w| w == b"\r\n0\r\n")) && have.ends_with(b"\r\n\r\n")
        }
        None => true,
    };
    while !done(&have) {
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        have.extend_from_slice(&chunk[..n]);
    }
    Ok(())
}

fn serve(s: &Shared, mut client: TcpStream) -> std::io::Result<()> {
    let Some((head, body_start)) = read_head(&mut client)? else {
        return Ok(());
    };
    let key = format!("{} {} {}", head.method, head.target, head.range.as_deref().unwrap_or(""));
    let attempt = {
        let mut a = lock(&s.attempts);
        let n = a.entry(key).or_insert(0);
        *n += 1;
        *n
    };
    let request = Request { method: head.method.clone(), target: head.target.clone(), attempt, range: head.range.clone() };
    let rule = lock(&s.rule).clone();
    let action = rule(&request);
    lock(&s.log).push(format!("{} {} #{attempt} -> {action:?}", head.method, head.target));
    {
        let mut st = lock(&s.stats);
        match action {
            Action::Pass => st.passed += 1,
            Action::SlowDown => st.slowdowns += 1,
            Action::Reset => st.resets += 1,
            Action::Cut(_) => st.cuts += 1,
            Action::Hold => st.holds += 1,
        }
    }
    match action {
        Action::SlowDown => {
            drain_body(&mut client, &head, body_start)?;
            let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>\
                        <Message>Please reduce your request rate.</Message><RequestId>fault-proxy</RequestId></Error>";
            let response = format!(
                "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                body.len(),
                if head.method == "HEAD" { "" } else { body }
            );
            client.write_all(response.as_bytes())?;
            let _ = client.shutdown(Shutdown::Both);
            Ok(())
        }
        Action::Reset => {
            // Take a little of the body, if any, so that unread bytes remain queued:
            // closing a socket with unread input sends RST instead of FIN.
            if head.content_length.unwrap_or(0) > body_start.len() || head.chunked {
                let mut some = [0u8; 1024];
                client.set_read_timeout(Some(Duration::from_millis(200)))?;
                let _ = client.read(&mut some);
            }
            drop(client);
            Ok(())
        }
        Action::Hold => {
            s.held_now.fetch_add(1, Ordering::SeqCst);
            let generation = s.generation.load(Ordering::SeqCst);
            while s.generation.load(Ordering::SeqCst) == generation {
                thread::sleep(Duration::from_millis(50));
            }
            s.held_now.fetch_sub(1, Ordering::SeqCst);
            drop(client);
            Ok(())
        }
        Action::Pass | Action::Cut(_) => {
            let limit = match action {
                Action::Cut(n) => Some(n),
                _ => None,
            };
            forward(s, client, &head, &body_start, limit)
        }
    }
}

fn forward(s: &Shared, mut client: TcpStream, head: &Head, body_start: &[u8], limit: Option<usize>) -> std::io::Result<()> {
    let mut upstream = TcpStream::connect(s.upstream)?;
    let mut out = head.lines.join("\r\n");
    out.push_str("\r\nConnection: close\r\n\r\n");
    upstream.write_all(out.as_bytes())?;
    upstream.write_all(body_start)?;
    // The rest of the request body, client -> upstream, alongside the response.
    let mut to_upstream = upstream.try_clone()?;
    let mut from_client = client.try_clone()?;
    let pump = thread::spawn(move || {
        let _ = std::io::copy(&mut from_client, &mut to_upstream);
    });
    let mut sent = 0usize;
    let mut chunk = [0u8; 65536];
    loop {
        let n = match upstream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let n = match limit {
            Some(l) if sent + n >= l => {
                let _ = client.write_all(&chunk[..l - sent]);
                break;
            }
            _ => n,
        };
        if client.write_all(&chunk[..n]).is_err() {
            break;
        }
        sent += n;
    }
    let _ = client.shutdown(Shutdown::Both);
    let _ = upstream.shutdown(Shutdown::Both);
    let _ = pump.join();
    Ok(())
}
