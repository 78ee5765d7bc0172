//! Errors that reach clients. Every message is rendered here, in one place, with Redis' exact
//! text, because clients and test suites match on it.

use std::borrow::Cow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    WrongType,
    NotInteger,
    NotFloat,
    Syntax,
    Overflow,
    NoSuchKey,
    /// `ERR invalid expire time in '<cmd>' command`
    InvalidExpire(&'static str),
    /// `ERR wrong number of arguments for '<cmd>' command`
    Arity(String),
    /// A full message including its code, e.g. "ERR DB index is out of range".
    Msg(Cow<'static, str>),
}

impl Error {
    pub fn msg(m: impl Into<Cow<'static, str>>) -> Error {
        Error::Msg(m.into())
    }

    pub fn message(&self) -> Cow<'static, str> {
        match self {
            Error::WrongType => {
                "WRONGTYPE Operation against a key holding the wrong kind of value".into()
            }
            Error::NotInteger => "ERR value is not an integer or out of range".into(),
            Error::NotFloat => "ERR value is not a valid float".into(),
            Error::Syntax => "ERR syntax error".into(),
            Error::Overflow => "ERR increment or decrement would overflow".into(),
            Error::NoSuchKey => "ERR no such key".into(),
            Error::InvalidExpire(cmd) => {
                format!("ERR invalid expire time in '{cmd}' command").into()
            }
            Error::Arity(cmd) => {
                format!("ERR wrong number of arguments for '{cmd}' command").into()
            }
            Error::Msg(m) => m.clone(),
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;
