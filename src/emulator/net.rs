//! A listener whose connections can be cut from inside a handler, so the emulator can drop a
//! connection without a reply (`--drop-rate`, `--lost-reply-rate`), as a flaky network does;
//! plain TCP or TLS (handshakes run off the accept loop, so a slow or failing client never holds
//! up the others).
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;

use super::Shared;
use super::counters::bump;

/// Wraps a `TcpListener`; every accepted stream gets a kill switch.
#[derive(Debug)]
pub(crate) struct KillListener {
    accept: Accept,
    local: SocketAddr,
}

#[derive(Debug)]
enum Accept {
    Plain(TcpListener),
    /// Handshaken TLS streams from [`tls_acceptor`].
    Tls {
        rx: tokio::sync::mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
        task: tokio::task::JoinHandle<()>,
    },
}

impl KillListener {
    /// Plain HTTP on `listener`.
    pub fn plain(listener: TcpListener) -> io::Result<Self> {
        Ok(KillListener {
            local: listener.local_addr()?,
            accept: Accept::Plain(listener),
        })
    }

    /// HTTPS on `listener` with `config`; handshakes are counted in the emulator's tally.
    pub fn tls(
        listener: TcpListener,
        config: Arc<rustls::ServerConfig>,
        app: Arc<Shared>,
    ) -> io::Result<Self> {
        let local = listener.local_addr()?;
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let task = tokio::spawn(tls_acceptor(listener, config, app, tx));
        Ok(KillListener {
            local,
            accept: Accept::Tls { rx, task },
        })
    }
}

impl Drop for KillListener {
    fn drop(&mut self) {
        if let Accept::Tls { task, .. } = &self.accept {
            task.abort();
        }
    }
}

/// Accept TCP connections and run each TLS handshake in its own task; hand the finished ones
/// to the listener. A failed handshake (a client that does not trust the certificate, for
/// instance) is counted and logged, never fatal.
async fn tls_acceptor(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    app: Arc<Shared>,
    tx: tokio::sync::mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("emulator: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        if tx.is_closed() {
            return;
        }
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        let app = app.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(Duration::from_secs(30), acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    bump(&app.tally.tls_handshakes);
                    let _ = tx.send((tls, addr)).await;
                }
                Ok(Err(e)) => {
                    bump(&app.tally.tls_handshakes_failed);
                    tracing::info!("emulator: TLS handshake with {addr} failed: {e}");
                }
                Err(_) => {
                    bump(&app.tally.tls_handshakes_failed);
                    tracing::info!("emulator: TLS handshake with {addr} timed out");
                }
            }
        });
    }
}

/// A stream that fails every read and write once killed, so hyper drops the connection
/// before writing the reply.
#[derive(Debug)]
pub(crate) struct KillStream {
    inner: Inner,
    kill: Arc<AtomicBool>,
}

#[derive(Debug)]
enum Inner {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// Apply `$body` to the inner stream, pinned, whichever kind it is.
macro_rules! inner {
    ($self:ident, $s:ident => $body:expr) => {
        match &mut $self.inner {
            Inner::Plain(t) => {
                let $s = Pin::new(t);
                $body
            }
            Inner::Tls(t) => {
                let $s = Pin::new(t.as_mut());
                $body
            }
        }
    };
}

/// Per-connection info handed to handlers: the kill switch of the connection.
#[derive(Debug, Clone)]
pub(crate) struct Conn {
    kill: Arc<AtomicBool>,
}

impl Conn {
    /// Close this connection without a (complete) reply.
    pub fn kill(&self) {
        self.kill.store(true, Ordering::SeqCst);
    }
}

impl axum::serve::Listener for KillListener {
    type Io = KillStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let kill = Arc::new(AtomicBool::new(false));
        match &mut self.accept {
            Accept::Plain(listener) => loop {
                match TcpListener::accept(listener).await {
                    Ok((stream, addr)) => {
                        let _ = stream.set_nodelay(true);
                        let inner = Inner::Plain(stream);
                        return (KillStream { inner, kill }, addr);
                    }
                    Err(e) => {
                        tracing::warn!("emulator: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            },
            Accept::Tls { rx, .. } => match rx.recv().await {
                Some((stream, addr)) => {
                    let inner = Inner::Tls(Box::new(stream));
                    (KillStream { inner, kill }, addr)
                }
                // The acceptor task ended (only when aborted): accept nothing more.
                None => std::future::pending().await,
            },
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}

impl Connected<IncomingStream<'_, KillListener>> for Conn {
    fn connect_info(stream: IncomingStream<'_, KillListener>) -> Self {
        Conn {
            kill: stream.io().kill.clone(),
        }
    }
}

fn killed() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionReset,
        "connection dropped by the emulator",
    )
}

impl AsyncRead for KillStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.kill.load(Ordering::Relaxed) {
            return Poll::Ready(Err(killed()));
        }
        inner!(self, s => s.poll_read(cx, buf))
    }
}

impl AsyncWrite for KillStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.kill.load(Ordering::Relaxed) {
            return Poll::Ready(Err(killed()));
        }
        inner!(self, s => s.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.kill.load(Ordering::Relaxed) {
            return Poll::Ready(Err(killed()));
        }
        inner!(self, s => s.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match &self.inner {
            Inner::Plain(t) => t.is_write_vectored(),
            Inner::Tls(t) => t.is_write_vectored(),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        inner!(self, s => s.poll_flush(cx))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        inner!(self, s => s.poll_shutdown(cx))
    }
}
