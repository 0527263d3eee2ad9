//! A deliberately tiny HTTP/1.1 server on 127.0.0.1:0 for the crawler tests: one
//! request per connection, hand-written responses, and a log of every request so tests
//! can assert what was (not) fetched.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone)]
pub struct Request {
    /// When the request head was read.
    pub at: Instant,
    pub method: String,
    pub path: String,
    /// Header names lower-cased.
    pub headers: BTreeMap<String, String>,
}

pub enum Reply {
    /// Status, extra headers, body (Content-Length is added).
    Full(u16, Vec<(String, String)>, Vec<u8>),
    /// Sleeps before answering 200: for timeouts.
    Slow(Duration),
    /// 200 with `len` bytes and no Content-Length (body ends when the connection closes).
    Unsized(usize),
    /// 200, no Content-Length, `chunk`-byte writes every `every` until `total` bytes or
    /// the client hangs up; bytes accepted are counted in [`TestServer::body_bytes`].
    Trickle {
        chunk: usize,
        every: Duration,
        total: usize,
    },
}

pub fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
    Reply::Full(
        200,
        vec![("Content-Type".into(), content_type.into())],
        body.into(),
    )
}

pub fn status(code: u16) -> Reply {
    Reply::Full(code, Vec::new(), format!("status {code}").into_bytes())
}

pub type Handler = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

pub struct TestServer {
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<Request>>>,
    connections: Arc<AtomicUsize>,
    body_bytes: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct Counters {
    log: Arc<Mutex<Vec<Request>>>,
    body_bytes: Arc<AtomicUsize>,
}

impl TestServer {
    pub async fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> TestServer {
        Self::start_on("127.0.0.1".parse().expect("ip"), handler).await
    }

    /// On a chosen loopback address (Linux answers on all of 127.0.0.0/8), so a test
    /// can exempt one address from the SSRF guard and keep the rest refused.
    pub async fn start_on(
        ip: IpAddr,
        handler: impl Fn(&Request) -> Reply + Send + Sync + 'static,
    ) -> TestServer {
        let listener = TcpListener::bind((ip, 0)).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let counters = Counters {
            log: Arc::new(Mutex::new(Vec::new())),
            body_bytes: Arc::new(AtomicUsize::new(0)),
        };
        let connections = Arc::new(AtomicUsize::new(0));
        let handler: Handler = Arc::new(handler);
        let server = TestServer {
            addr,
            log: counters.log.clone(),
            connections: connections.clone(),
            body_bytes: counters.body_bytes.clone(),
        };
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                connections.fetch_add(1, Ordering::SeqCst);
                let handler = handler.clone();
                let counters = counters.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, handler, counters).await;
                });
            }
        });
        server
    }

    /// TCP connections accepted, whether or not a request followed.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Body bytes of [`Reply::Trickle`] replies the kernel accepted.
    pub fn body_bytes(&self) -> usize {
        self.body_bytes.load(Ordering::SeqCst)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().expect("log").clone()
    }

    pub fn hits(&self, path: &str) -> usize {
        self.requests().iter().filter(|r| r.path == path).count()
    }

    /// Requests whose path (with query) starts with `prefix`.
    pub fn hits_prefix(&self, prefix: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.path.starts_with(prefix))
            .count()
    }
}

async fn serve(mut stream: TcpStream, handler: Handler, counters: Counters) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buffer.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 || buffer.len() > 64 * 1024 {
            return Ok(());
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buffer).to_string();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let method = request_line.split(' ').next().unwrap_or("GET").to_string();
    let path = request_line.split(' ').nth(1).unwrap_or("/").to_string();
    let headers = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let request = Request {
        at: Instant::now(),
        method,
        path,
        headers,
    };
    counters.log.lock().expect("log").push(request.clone());

    match handler(&request) {
        Reply::Full(code, headers, body) => {
            let mut head = format!(
                "HTTP/1.1 {code} {}\r\nContent-Length: {}\r\nConnection: close\r\n",
                reason(code),
                if code == 304 { 0 } else { body.len() }
            );
            for (name, value) in headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str("\r\n");
            stream.write_all(head.as_bytes()).await?;
            if code != 304 {
                stream.write_all(&body).await?;
            }
        }
        Reply::Slow(delay) => {
            tokio::time::sleep(delay).await;
            let body = b"<rss version=\"2.0\"><channel><title>late</title></channel></rss>";
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(body).await?;
        }
        Reply::Unsized(len) => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nConnection: close\r\n\r\n")
                .await?;
            let block = vec![b' '; 8192];
            let mut sent = 0;
            while sent < len {
                let n = block.len().min(len - sent);
                if stream.write_all(&block[..n]).await.is_err() {
                    // The client hung up once it had enough: that is the point.
                    return Ok(());
                }
                sent += n;
            }
        }
        Reply::Trickle {
            chunk,
            every,
            total,
        } => {
            stream
                .write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n",
                )
                .await?;
            let block = vec![b'x'; chunk];
            let mut sent = 0;
            while sent < total {
                let n = chunk.min(total - sent);
                if stream.write_all(&block[..n]).await.is_err() || stream.flush().await.is_err() {
                    return Ok(());
                }
                counters.body_bytes.fetch_add(n, Ordering::SeqCst);
                sent += n;
                tokio::time::sleep(every).await;
            }
        }
    }
    stream.shutdown().await
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        304 => "Not Modified",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
