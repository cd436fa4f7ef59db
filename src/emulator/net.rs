//! A listener whose connections can be cut from inside a handler, so the emulator can drop a
//! connection without a reply (`--drop-rate`, `--lost-reply-rate`), as a flaky network does.
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Wraps a `TcpListener`; every accepted stream gets a kill switch.
#[derive(Debug)]
pub(crate) struct KillListener(pub TcpListener);

/// A TCP stream that fails every read and write once killed, so hyper drops the connection
/// before writing the reply.
#[derive(Debug)]
pub(crate) struct KillStream {
    inner: TcpStream,
    kill: Arc<AtomicBool>,
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
        loop {
            match self.0.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    let kill = Arc::new(AtomicBool::new(false));
                    return (
                        KillStream {
                            inner: stream,
                            kill,
                        },
                        addr,
                    );
                }
                Err(e) => {
                    tracing::warn!("emulator: accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
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
        Pin::new(&mut self.inner).poll_read(cx, buf)
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
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.kill.load(Ordering::Relaxed) {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
