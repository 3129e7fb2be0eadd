//! The one gateway in each direction, shared by every transport (CGI, FastCGI, the
//! development server): CGI meta-variables (RFC 3875 §4.1) become a `Request`, and an
//! `HttpResponse` becomes CGI response bytes (RFC 3875 §6: `Status:` line, header lines, blank
//! line, body). Every transport calls these, so all emit identical bytes. This file only names
//! the parts: `variables.rs` (meta-variables to a request, the body rules), `entry.rs` (the
//! one entry a transport calls per request: body rules, request, handle), `answer.rs` (the
//! answer's bytes).

/// Meta-variables as the transport received them: name and value bytes, in order, duplicates
/// kept (nginx sends one `HTTP_COOKIE` per Cookie header).
pub use crate::params::Params;
pub use crate::target::{request_path_of, uri_path};

mod answer;
mod entry;
mod variables;
pub use answer::{encode_head, head_len, write_head, write_response};
pub use entry::{BodySource, Handled, handle};
pub use variables::{BodyError, ContentLength, build_request, content_length, expected_body};
