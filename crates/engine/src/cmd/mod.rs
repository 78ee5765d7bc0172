//! Command implementations, one file per family.
pub mod blocking;
pub mod hash;
pub mod keys;
pub mod list;
pub mod set;
pub mod sort;
pub mod string;
pub mod zset;
