//! Cross-core queues: one FIFO per ordered pair of cores. A send pushes at once and rings the
//! receiver's doorbell at the end of the sender's turn, once per receiver however many
//! messages went its way; the receiver takes its messages at the top of its next turn.

use crate::exec::{with, Doorbell};
use crossbeam_channel::{Receiver, Sender, TryRecvError};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Every core's ends, built before the cores start.
pub struct Mesh<T> {
    /// `chans[from][to]`.
    chans: Vec<Vec<(Sender<T>, Receiver<T>)>>,
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

    /// Core `me`'s sending and receiving ends.
    pub fn join(&self, me: usize) -> (MeshTx<T>, MeshRx<T>) {
        let txs = (0..self.bells.len())
            .map(|to| self.chans[me][to].0.clone())
            .collect();
        let rxs = (0..self.bells.len())
            .map(|from| self.chans[from][me].1.clone())
            .collect();
        (
            MeshTx {
                txs,
                bells: self.bells.clone(),
            },
            MeshRx { rxs },
        )
    }
}

pub struct MeshTx<T> {
    txs: Vec<Sender<T>>,
    bells: Vec<Arc<Doorbell>>,
}

impl<T: Send + 'static> MeshTx<T> {
    /// Queues `msg` for core `to`; it gives the message back only if `to` is gone.
    pub fn send_to(&self, to: usize, msg: T) -> Result<(), T> {
        self.txs[to].send(msg).map_err(|e| e.0)?;
        let bell = &self.bells[to];
        with(|i| i.ring_later(bell));
        Ok(())
    }
}

pub struct MeshRx<T> {
    rxs: Vec<Receiver<T>>,
}

impl<T: Send + 'static> MeshRx<T> {
    /// The next message from core `from`, or None once every sender is gone.
    pub fn recv_from(&self, from: usize) -> RecvFrom<'_, T> {
        RecvFrom {
            rx: &self.rxs[from],
        }
    }
}

pub struct RecvFrom<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T: Send + 'static> Future for RecvFrom<'_, T> {
    type Output = Option<T>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        match self.rx.try_recv() {
            Ok(m) => Poll::Ready(Some(m)),
            Err(TryRecvError::Disconnected) => Poll::Ready(None),
            Err(TryRecvError::Empty) => {
                let rx = self.rx.clone();
                with(|i| i.wait_channel(Box::new(move || !rx.is_empty()), cx.waker().clone()));
                Poll::Pending
            }
        }
    }
}
