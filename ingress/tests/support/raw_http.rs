//! A raw HTTP/1.1 client that behaves as keep-alive clients do (Node's default agent, a
//! proxy's upstream pool): it sends the whole request, reads the answer, and reuses the
//! connection for the next request unless the answer said `Connection: close`. It sends bodies
//! with `Content-Length` or chunked, exactly as asked, which reqwest does not let a test choose.
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long one exchange may take.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(30);

/// How a request's body goes on the wire.
pub enum Body {
    /// No body and no length header.
    None,
    /// `Content-Length` and the bytes.
    Length(Vec<u8>),
    /// `Content-Length` announcing `announced` bytes, but these bytes sent.
    Announced { announced: usize, bytes: Vec<u8> },
    /// `Transfer-Encoding: chunked`, one chunk per part.
    Chunked(Vec<Vec<u8>>),
}

/// A request: method, target, extra headers and body.
pub struct Request {
    pub method: &'static str,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

impl Request {
    pub fn post(target: &str, headers: &[(&str, &str)], body: Body) -> Self {
        Self {
            method: "POST",
            target: target.to_owned(),
            headers: headers
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
            body,
        }
    }

    fn head_and_body(&self, host: &str) -> (Vec<u8>, Vec<u8>) {
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: {host}\r\n",
            self.method, self.target
        );
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let body = match &self.body {
            Body::None => Vec::new(),
            Body::Length(bytes) => {
                head.push_str(&format!("Content-Length: {}\r\n", bytes.len()));
                bytes.clone()
            }
            Body::Announced { announced, bytes } => {
                head.push_str(&format!("Content-Length: {announced}\r\n"));
                bytes.clone()
            }
            Body::Chunked(parts) => {
                head.push_str("Transfer-Encoding: chunked\r\n");
                let mut body = Vec::new();
                for part in parts {
                    body.extend(format!("{:x}\r\n", part.len()).into_bytes());
                    body.extend(part);
                    body.extend(b"\r\n");
                }
                body.extend(b"0\r\n\r\n");
                body
            }
        };
        head.push_str("\r\n");
        (head.into_bytes(), body)
    }
}

/// An answer.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the server said it closes the connection.
    pub fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One client with at most one open connection, reused while the server allows.
pub struct KeepAliveClient {
    address: String,
    stream: Option<TcpStream>,
    /// Connections opened so far.
    pub connections: usize,
}

impl KeepAliveClient {
    /// A client of `address` (`127.0.0.1:port`).
    pub fn new(address: &str) -> Self {
        Self {
            address: address.to_owned(),
            stream: None,
            connections: 0,
        }
    }

    /// Sends `request` on the open connection (or a new one) and reads the answer.
    pub async fn send(&mut self, request: &Request) -> std::io::Result<Response> {
        tokio::time::timeout(EXCHANGE_TIMEOUT, self.exchange(request))
            .await
            .unwrap_or_else(|_| Err(std::io::Error::other("no answer within 30 s")))
    }

    async fn exchange(&mut self, request: &Request) -> std::io::Result<Response> {
        if self.stream.is_none() {
            self.stream = Some(TcpStream::connect(&self.address).await?);
            self.connections += 1;
        }
        let stream = self.stream.as_mut().expect("a connection");
        let (head, body) = request.head_and_body(&self.address);
        stream.write_all(&head).await?;
        // A server that answers early may stop reading: like Node, read its answer anyway.
        let _ = stream.write_all(&body).await;
        let response = read_response(stream).await;
        if response.as_ref().map_or(true, Response::closes) {
            self.stream = None;
        }
        response
    }
}

async fn read_response(stream: &mut TcpStream) -> std::io::Result<Response> {
    let mut buffer = Vec::new();
    let head_end = loop {
        if let Some(at) = find(&buffer, b"\r\n\r\n") {
            break at;
        }
        let mut chunk = [0u8; 8192];
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the connection closed before an answer",
            ));
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {head}")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let mut chunk = vec![0u8; length - body.len()];
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..read]);
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
