//! Cross-core queues: one FIFO per ordered pair of cores. What a core sends another during a
//! turn is collected and sent at the turn's end as one message (however many connections
//! sent requests that way), and the receiver's doorbell is rung once; the receiver takes it
//! at the top of its next turn.

use crate::exec::{with, Doorbell};
use crossbeam_channel::{Receiver, Sender, TryRecvError};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};

/// One ordered pair's queue: each message is one sender turn's messages.
type Chan<T> = (Sender<Vec<T>>, Receiver<Vec<T>>);

/// Every core's ends, built before the cores start.
pub struct Mesh<T> {
    /// `chans[from][to]`.
    chans: Vec<Vec<Chan<T>>>,
    bells: Vec<Arc<Doorbell>>,
}

impl<T: Send + 'static> Mesh<T> {
    pub fn new(bells: Vec<Arc<Doorbell>>) -> Arc<Mesh<T>> {
        let n = bells.len();
        let chans = (0..n)
            .map(|_| (0..n).map(|_| crossbeam_channel::unbounded()).collect())
            .collect();
        Arc::new(Mesh { chans, bells })
    }

    /// Core `me`'s sending and receiving ends. Call on core `me`'s reactor: the sending end
    /// sends its turn's messages at the end of each of its turns.
    pub fn join(&self, me: usize) -> (MeshTx<T>, MeshRx<T>) {
        let n = self.bells.len();
        let outbox = Rc::new(Outbox {
            txs: (0..n).map(|to| self.chans[me][to].0.clone()).collect(),
            pending: RefCell::new((0..n).map(|_| Vec::new()).collect()),
            early: RefCell::new((0..n).map(|_| Vec::new()).collect()),
            bells: self.bells.clone(),
        });
        let hook = outbox.clone();
        with(|i| i.at_turn_end(Box::new(move |held| hook.send_all(held))));
        let rxs = (0..n).map(|from| self.chans[from][me].1.clone()).collect();
        (
            MeshTx { outbox },
            MeshRx {
                rxs,
                taken: RefCell::new((0..n).map(|_| VecDeque::new()).collect()),
            },
        )
    }
}

struct Outbox<T> {
    txs: Vec<Sender<Vec<T>>>,
    /// This turn's messages, per receiving core: they leave with the turn's output (held
    /// with it, see `exec::before_output`).
    pending: RefCell<Vec<Vec<T>>>,
    /// Messages that leave at the turn's end even when its output is held (`send_early`).
    early: RefCell<Vec<Vec<T>>>,
    bells: Vec<Arc<Doorbell>>,
}

impl<T: Send + 'static> Outbox<T> {
    fn send_all(&self, held: bool) {
        for (queue, go) in [(&self.early, true), (&self.pending, !held)] {
            if !go {
                continue;
            }
            let mut pending = queue.borrow_mut();
            for (to, msgs) in pending.iter_mut().enumerate() {
                if msgs.is_empty() {
                    continue;
                }
                // A receiver that is gone (shutting down) drops the messages.
                let _ = self.txs[to].send(std::mem::take(msgs));
                self.bells[to].ring();
                with(|i| i.note_sent_messages());
            }
        }
    }
}

pub struct MeshTx<T> {
    outbox: Rc<Outbox<T>>,
}

impl<T: Send + 'static> MeshTx<T> {
    /// Queues `msg` for core `to`: it leaves at the end of this turn, with the turn's
    /// output (later if that is held).
    pub fn send_to(&self, to: usize, msg: T) {
        self.outbox.pending.borrow_mut()[to].push(msg);
    }

    /// Sends `msg` to core `to` now, not at the turn's end (a thread that will wait for the
    /// answer before its turn ends: a script's call to another core).
    pub fn send_now(&self, to: usize, msg: T) {
        let _ = self.outbox.txs[to].send(vec![msg]);
        self.outbox.bells[to].ring();
    }

    /// Queues `msg` for core `to` to leave at the end of this turn even if the turn's output
    /// is held: for messages that show nothing of what this core has not made durable yet
    /// (a request forwarded for another core to run). It may overtake `send_to` messages.
    pub fn send_early(&self, to: usize, msg: T) {
        self.outbox.early.borrow_mut()[to].push(msg);
    }
}

pub struct MeshRx<T> {
    rxs: Vec<Receiver<Vec<T>>>,
    /// Messages of a received turn not handed out yet, per sending core.
    taken: RefCell<Vec<VecDeque<T>>>,
}

impl<T: Send + 'static> MeshRx<T> {
    /// The next message from core `from` if one is there, without waiting.
    pub fn try_recv_from(&self, from: usize) -> Option<T> {
        let mut taken = self.taken.borrow_mut();
        let queue = &mut taken[from];
        if let Some(m) = queue.pop_front() {
            return Some(m);
        }
        let batch = self.rxs[from].try_recv().ok()?;
        queue.extend(batch);
        queue.pop_front()
    }

    /// Blocks this thread until core `from` has sent something or `timeout` passed: Some(true)
    /// if something is there (taken by the next `try_recv_from`), Some(false) on timeout,
    /// None once the sender is gone.
    pub fn wait_from(&self, from: usize, timeout: std::time::Duration) -> Option<bool> {
        if !self.taken.borrow()[from].is_empty() {
            return Some(true);
        }
        match self.rxs[from].recv_timeout(timeout) {
            Ok(batch) => {
                self.taken.borrow_mut()[from].extend(batch);
                Some(true)
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => Some(false),
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => None,
        }
    }

    /// The next message from core `from`, or None once its sender is gone.
    pub fn recv_from(&self, from: usize) -> RecvFrom<'_, T> {
        RecvFrom { rx: self, from }
    }
}

pub struct RecvFrom<'a, T> {
    rx: &'a MeshRx<T>,
    from: usize,
}

impl<T: Send + 'static> Future for RecvFrom<'_, T> {
    type Output = Option<T>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut taken = self.rx.taken.borrow_mut();
        let queue = &mut taken[self.from];
        if let Some(m) = queue.pop_front() {
            return Poll::Ready(Some(m));
        }
        let rx = &self.rx.rxs[self.from];
        match rx.try_recv() {
            Ok(batch) => {
                queue.extend(batch);
                Poll::Ready(queue.pop_front())
            }
            Err(TryRecvError::Disconnected) => Poll::Ready(None),
            Err(TryRecvError::Empty) => {
                let rx = rx.clone();
                with(|i| i.wait_channel(Box::new(move || !rx.is_empty()), cx.waker().clone()));
                Poll::Pending
            }
        }
    }
}
