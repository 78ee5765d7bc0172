//! RESP2/RESP3 framing and inline commands, with no knowledge of any Redis command.
//!
//! Request parsing follows Redis 7.0 `processMultibulkBuffer` / `processInlineBuffer`
//! (same acceptance rules, same error strings) but is stateless: every call re-parses from
//! the start of the pending command. `Parsed::Incomplete::needed` is what keeps that cheap
//! for large bulk payloads: the caller only calls again once that many bytes are buffered.
//!
//! Replies are written with [`Writer`], which picks the RESP2 or RESP3 shape.

mod encode;
mod expected_dollar;
mod float;
mod parse;

pub use encode::{write_command, Proto, Writer};
pub use float::format_g17;
pub use parse::{
    parse_command, string2ll, Arg, Limits, Parsed, ProtocolError, MSG_INVALID_BULK_LEN,
    MSG_INVALID_MULTIBULK_LEN, MSG_TOO_BIG_BULK_COUNT, MSG_TOO_BIG_INLINE, MSG_TOO_BIG_MBULK_COUNT,
    MSG_TOO_BIG_REQUEST, MSG_UNBALANCED_QUOTES,
};
