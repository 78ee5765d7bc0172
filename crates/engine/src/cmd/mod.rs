//! Command implementations, one file per family.
pub mod keys;
pub mod list;
pub mod string;
