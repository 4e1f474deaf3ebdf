//! hyper answers a request it cannot parse itself, before any route or middleware runs: `414`
//! for a target over 64 KiB, `431` for too many or too large headers, `400` for a request line
//! or header it cannot read. Those answers have no body and no content type, where every other
//! error here says `{"error": "..."}`. The listener below hands hyper connections that rewrite
//! exactly those answers (a `400`, `414` or `431` head with `content-length: 0` and no
//! `content-type`, which no route sends) to carry that JSON; every other byte passes through.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// A TCP listener whose connections answer parse errors as JSON.
pub(crate) struct JsonParseErrors(pub(crate) TcpListener);

impl axum::serve::Listener for JsonParseErrors {
    type Io = ParseErrorBodies;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = axum::serve::Listener::accept(&mut self.0).await;
        // A streamed body goes out in several writes (the index: a page in turns, then each
        // peer as it settles); with Nagle's algorithm each write after the first waited for the
        // client's delayed ACK, 40 ms. Failing to set it only costs that latency.
        let _ = io.set_nodelay(true);
        (
            ParseErrorBodies {
                inner: io,
                rewritten: None,
            },
            addr,
        )
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// A connection that rewrites hyper's own parse-error answers (see the module docs).
pub(crate) struct ParseErrorBodies {
    inner: TcpStream,
    /// A rewritten answer being written: its bytes, how many are out, and how long the
    /// original was (what the writer is told was written once all are out).
    rewritten: Option<(Vec<u8>, usize, usize)>,
}

/// The JSON answer for hyper's parse-error head `head`, if it is one.
fn rewrite(head: &[u8]) -> Option<Vec<u8>> {
    // The status first: every other write (a badge's redirect) is passed on after 13 bytes.
    let message = match head.get(..13)? {
        b"HTTP/1.1 400 " => "the request could not be parsed",
        b"HTTP/1.1 414 " => "the request target is too long (at most 65,534 bytes)",
        b"HTTP/1.1 431 " => "the request has too many or too large headers",
        _ => return None,
    };
    let text = std::str::from_utf8(head).ok()?;
    let lower = text.to_ascii_lowercase();
    if !lower.contains("\r\ncontent-length: 0\r\n") || lower.contains("\r\ncontent-type:") {
        return None;
    }
    let body = serde_json::json!({ "error": message }).to_string();
    let head = text
        .replacen(
            "content-length: 0\r\n",
            &format!(
                "content-type: application/json\r\ncontent-length: {}\r\n",
                body.len()
            ),
            1,
        )
        .into_bytes();
    // `replacen` matched only if hyper wrote the header in lower case, as it does.
    (head.len() != text.len()).then(|| [head, body.into_bytes()].concat())
}

impl ParseErrorBodies {
    /// Writes out the rewritten answer; ready with the original's length once it all is.
    fn drive(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        while let Some((bytes, written, original)) = &mut self.rewritten {
            if *written == bytes.len() {
                let original = *original;
                self.rewritten = None;
                return Poll::Ready(Ok(original));
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(0))
    }
}

impl AsyncRead for ParseErrorBodies {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ParseErrorBodies {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.rewritten.is_none() {
            match rewrite(buf) {
                Some(bytes) => this.rewritten = Some((bytes, 0, buf.len())),
                None => return Pin::new(&mut this.inner).poll_write(cx, buf),
            }
        }
        this.drive(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // hyper's own answer is a head alone, in one slice.
        if this.rewritten.is_none()
            && let [only] = bufs
            && let Some(bytes) = rewrite(only)
        {
            this.rewritten = Some((bytes, 0, only.len()));
        }
        if this.rewritten.is_some() {
            return this.drive(cx);
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_empty_parse_error_answers_are_rewritten() {
        let head = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let rewritten = String::from_utf8(rewrite(head).unwrap()).unwrap();
        let body = r#"{"error":"the request target is too long (at most 65,534 bytes)"}"#;
        assert_eq!(
            rewritten,
            format!(
                "HTTP/1.1 414 URI Too Long\r\ncontent-type: application/json\r\ncontent-length: {}\r\ndate: x\r\n\r\n{body}",
                body.len()
            )
        );
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(rewrite(ours), None);
        assert_eq!(
            rewrite(b"HTTP/1.1 302 Found\r\ncontent-length: 0\r\n\r\n"),
            None
        );
        assert_eq!(
            rewrite(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"),
            None
        );
    }
}
