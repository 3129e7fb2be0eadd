//! The FastCGI protocol on bytes alone, with no I/O: the record codec (`record`), name-value
//! pairs and the GET_VALUES reply (`pairs`), what one connection's bytes mean (`event`, `conn`: a state machine fed bytes,
//! giving requests and the replies it owes), and an answer framed as FCGI_STDOUT records
//! (`framing` writes records in place, `answer` frames a whole `HttpResponse`).

pub(crate) mod answer;
pub(crate) mod conn;
pub(crate) mod event;
pub(crate) mod framing;
pub(crate) mod pairs;
pub(crate) mod record;
mod requests;
