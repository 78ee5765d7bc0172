//! percore's integration tests: one test binary, sharing the harness that starts the real
//! server binary. Run with `cargo nextest run` (or `cargo test`).

mod harness;

mod aof;
mod atomicity;
mod basics;
mod blocking;
mod cluster;
mod differential;
mod eviction;
mod expiry;
mod functions;
mod journal;
mod network;
mod operators;
mod persistence;
mod protocol;
mod pubsub;
mod replication;
mod routing;
mod scripting;
mod sentinel;
mod server;
mod streams;
mod tracking;
mod transactions;
