//! Timers: a per-reactor ordered map of deadlines; the turn loop wakes the due ones and sleeps
//! in the kernel no longer than the next one.

use crate::exec::with;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Completes `d` from now. Dropping it cancels the timer.
pub fn sleep(d: Duration) -> Sleep {
    let at = Instant::now()
        .checked_add(d)
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(u32::MAX as u64));
    Sleep { at, key: None }
}

pub struct Sleep {
    at: Instant,
    key: Option<(Instant, u64)>,
}

impl Future for Sleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.at {
            if let Some(key) = self.key.take() {
                with(|i| i.remove_timer(key));
            }
            return Poll::Ready(());
        }
        match self.key {
            Some(key) => with(|i| i.update_timer(key, cx.waker())),
            None => {
                let at = self.at;
                self.key = Some(with(|i| i.add_timer(at, cx.waker().clone())));
            }
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            with(|i| i.remove_timer(key));
        }
    }
}
