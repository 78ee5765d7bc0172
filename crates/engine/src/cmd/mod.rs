//! Command implementations, one file per family.
pub mod keys;
pub mod string;
