//! A per-core event loop that works in turns, on one io_uring.
//!
//! One thread runs one `Reactor`: an executor for `!Send` tasks, timers, the sockets of that
//! core and its ends of the cross-core queues. Each turn:
//! 1. takes every completion that is ready (received bytes, accepted connections, finished
//!    sends, the doorbell) and wakes the tasks they concern;
//! 2. wakes the receivers of cross-core queues that have messages, and due timers;
//! 3. runs every ready task (each parses and runs the commands its input holds and appends
//!    its replies to its socket's output);
//! 4. queues one send per socket with output, rings the doorbell of each core it sent
//!    messages to (once per core per turn), and enters the kernel once: that one
//!    `io_uring_enter` submits every send and waits for the next completions (or a timer).
//!
//! The ring is set up with `SINGLE_ISSUER | DEFER_TASKRUN` where the kernel has it: the
//! kernel runs completion work only when this thread enters it, so nothing interrupts a turn
//! (glommio's ring took a reschedule interrupt per completion). Sockets receive with
//! multishot receives into a provided-buffer ring, and listeners accept with multishot
//! accepts, so a busy connection costs no submission per request.
//!
//! Knows nothing of Redis: the server crate drives it.

mod bufring;
mod exec;
mod mesh;
mod net;
mod timer;

pub use exec::{
    active_conns, before_output, held_outputs, hold_output_until, run, spawn_local,
    yield_if_needed, yield_now, yield_turn, Config, Doorbell, Task,
};
pub use mesh::{Mesh, MeshRx, MeshTx};
pub use net::{Listener, Stream, StreamRef};
pub use timer::{sleep, Sleep};
