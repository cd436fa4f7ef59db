//! The multipart body of a direct upload (`POST /files/content`, `POST /files/{id}/content`),
//! handed to axum's parser with its first boundary already buffered.
//!
//! multer 3.1 (the parser behind axum's `Multipart`) fails a valid body with "incomplete
//! multipart stream" when, looking for the first boundary, its first poll of the body finds no
//! data and its second poll, in the same call, brings the rest of the body and its end: it checks
//! for the end before looking again (`StreamingStage::FindingFirstBoundary`). Over HTTP/2 that is
//! a small upload whose DATA frames all land just after the handler first polls: about 1 upload
//! in 5,000 in `benches/versus.rs` (16 KiB files through TLS), a 400 for a body Box accepts. So
//! the body is read until its first boundary is in hand (or it ends), and the parser gets that
//! prefix, then the rest as it comes.
use std::convert::Infallible;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header::CONTENT_TYPE;
use bytes::BytesMut;
use futures::StreamExt;

use crate::emulator::error::ApiError;

/// Past this many bytes without a boundary the body is the parser's to judge.
const PREFIX_MAX: usize = 64 * 1024;

/// The upload form's parser, or the 400 for a body that cannot be one.
pub(crate) struct UploadForm(pub Result<Multipart, ApiError>);

impl<S: Send + Sync> FromRequest<S> for UploadForm {
    type Rejection = Infallible;

    async fn from_request(req: Request, state: &S) -> Result<Self, Infallible> {
        Ok(UploadForm(multipart(req, state).await))
    }
}

async fn multipart<S: Send + Sync>(req: Request, state: &S) -> Result<Multipart, ApiError> {
    let boundary = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| multer::parse_boundary(ct).ok());
    let Some(boundary) = boundary else {
        // Not multipart, or no boundary: axum's rejection says which.
        return Multipart::from_request(req, state)
            .await
            .map_err(form_error);
    };
    let marker = format!("--{boundary}");
    let (parts, body) = req.into_parts();
    let mut rest = body.into_data_stream();
    let mut head = BytesMut::new();
    while head.len() < PREFIX_MAX && !contains(&head, marker.as_bytes()) {
        match rest.next().await {
            Some(Ok(chunk)) => head.extend_from_slice(&chunk),
            Some(Err(e)) => return Err(form_error(e)),
            None => break,
        }
    }
    let head = futures::stream::once(std::future::ready(Ok(head.freeze())));
    let body = Body::from_stream(head.chain(rest));
    Multipart::from_request(Request::from_parts(parts, body), state)
        .await
        .map_err(form_error)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// 400 `bad_request` with the parser's own reason: axum's error says only "Error parsing
/// `multipart/form-data` request"; the cause is in its sources.
pub(crate) fn form_error(e: impl std::error::Error) -> ApiError {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    ApiError::bad_request("bad_request", format!("Invalid multipart body: {text}"))
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use bytes::Bytes;

    use super::*;

    /// A body that is not ready at the first poll (it wakes itself), then has every chunk and
    /// its end ready at once: an HTTP/2 request whose DATA frames arrived together.
    struct LateThenAll {
        chunks: Vec<Bytes>,
        polled: bool,
    }

    impl futures::Stream for LateThenAll {
        type Item = Result<Bytes, std::io::Error>;
        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            if !self.polled {
                self.polled = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if self.chunks.is_empty() {
                return Poll::Ready(None);
            }
            Poll::Ready(Some(Ok(self.chunks.remove(0))))
        }
    }

    /// reqwest's pieces of a direct upload, as it sends them (one DATA frame each).
    fn upload_pieces(boundary: &str) -> Vec<Bytes> {
        let line = format!("--{boundary}\r\n");
        vec![
            line.clone().into(),
            "Content-Disposition: form-data; name=\"attributes\"\r\n\r\n".into(),
            r#"{"name":"f.bin","parent":{"id":"0"}}"#.into(),
            "\r\n".into(),
            line.into(),
            "Content-Disposition: form-data; name=\"file\"; filename=\"f.bin\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
                .into(),
            Bytes::from(vec![7u8; 16384]),
            "\r\n".into(),
            format!("--{boundary}--\r\n").into(),
            Bytes::new(),
        ]
    }

    async fn fields(mut mp: Multipart) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        while let Some(field) = mp.next_field().await.expect("a field") {
            let name = field.name().unwrap_or_default().to_string();
            out.push((name, field.bytes().await.expect("its bytes").len()));
        }
        out
    }

    #[tokio::test]
    async fn a_body_that_arrives_all_at_once_after_a_late_start_parses() {
        let boundary = "0677802c087544fa-808d27fb874611f6";
        let body = LateThenAll {
            chunks: upload_pieces(boundary),
            polled: false,
        };
        let req = Request::builder()
            .method("POST")
            .header(
                CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from_stream(body))
            .unwrap();
        let UploadForm(mp) = UploadForm::from_request(req, &()).await.unwrap();
        let got = fields(mp.expect("the form")).await;
        assert_eq!(
            got,
            [("attributes".to_string(), 36), ("file".to_string(), 16384)]
        );
    }

    #[tokio::test]
    async fn a_body_without_its_boundary_is_a_400_that_says_why() {
        let req = Request::builder()
            .method("POST")
            .header(CONTENT_TYPE, "multipart/form-data; boundary=abc")
            .body(Body::from("--xyz\r\n\r\nnothing"))
            .unwrap();
        let UploadForm(mp) = UploadForm::from_request(req, &()).await.unwrap();
        let err = match mp {
            Ok(mp) => {
                let mut mp = mp;
                form_error(mp.next_field().await.expect_err("no boundary, no field"))
            }
            Err(e) => e,
        };
        assert_eq!(err.status, axum::http::StatusCode::BAD_REQUEST);
        assert!(
            err.message.contains("incomplete multipart stream"),
            "{}",
            err.message
        );
    }
}
