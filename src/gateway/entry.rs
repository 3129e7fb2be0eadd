//! The one entry every transport calls for a request: the body rules, the request built from
//! the meta-variables, the app's handling. The answer comes back as an `HttpResponse` for the
//! transport to write (CGI bytes with [`write_response`](super::write_response), FastCGI
//! records), so every transport answers the same request with the same bytes.

use std::io::{self, Read};

use crate::app::App;
use crate::response::HttpResponse;

use super::variables::{BodyError, build_request, expected_body};
use crate::params::Params;

/// Where a request's body comes from.
pub enum BodySource<'a> {
    /// The body as the transport received it, already bounded by the limit (FastCGI's
    /// FCGI_STDIN): cut to CONTENT_LENGTH, a shorter one is a 400; without CONTENT_LENGTH, all
    /// of it (nginx sends none for a chunked body it does not buffer).
    Received(Vec<u8>),
    /// A stream to read exactly CONTENT_LENGTH bytes from, none without it, never more than
    /// the limit (CGI's stdin).
    Read(&'a mut dyn Read),
}

/// A handled request: the answer, and how many announced body bytes were left unread (a body
/// over the limit, which a stream's owner may want to discard).
#[derive(Debug)]
pub struct Handled {
    /// The answer to write.
    pub response: HttpResponse,
    /// Body bytes CONTENT_LENGTH announced that were not read.
    pub unread: u64,
}

/// Answers one request: the body rules (413 over `max_body`, 400 for a short body), then
/// `Request`, then `App::handle`; a refused body becomes the app's JSON error.
pub fn handle(app: &App, params: Params, body: BodySource<'_>, max_body: u64) -> Handled {
    let admitted = match (expected_body(&params, max_body), body) {
        (Ok(None), BodySource::Received(body)) => Ok(body),
        (Ok(None | Some(0)), BodySource::Read(_)) => Ok(Vec::new()),
        (Ok(Some(len)), BodySource::Received(mut body)) => match usize::try_from(len) {
            Ok(len) if len <= body.len() => {
                body.truncate(len);
                Ok(body)
            }
            _ => Err(BodyError::Short {
                expected: len,
                got: body.len(),
            }),
        },
        (Ok(Some(len)), BodySource::Read(input)) => read_exactly(input, len),
        (Err(err), _) => Err(err),
    };
    match admitted {
        Ok(body) => Handled {
            response: app.handle(build_request(params, body)),
            unread: 0,
        },
        Err(err) => {
            log::warn!("request refused: {err}");
            let unread = match err {
                BodyError::TooLarge { declared } => declared.unwrap_or(0),
                _ => 0,
            };
            Handled {
                response: app.error_response(err.into_http(max_body)),
                unread,
            }
        }
    }
}

/// Exactly `len` bytes of `input`, or why not.
fn read_exactly(input: &mut dyn Read, len: u64) -> Result<Vec<u8>, BodyError> {
    let expected = usize::try_from(len).map_err(|_| BodyError::TooLarge {
        declared: Some(len),
    })?;
    let mut body = vec![0u8; expected];
    let mut got = 0;
    while got < expected {
        let Some(window) = body.get_mut(got..) else {
            break;
        };
        match input.read(window) {
            Ok(0) => return Err(BodyError::Short { expected: len, got }),
            Ok(n) => got += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) if err.kind() == io::ErrorKind::TimedOut => return Err(BodyError::TimedOut),
            Err(err) => return Err(BodyError::Io(err)),
        }
    }
    Ok(body)
}
