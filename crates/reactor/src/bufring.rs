//! The provided-buffer ring multishot receives take their buffers from. The kernel picks a
//! buffer per completion; the reactor copies the bytes out to the socket's input at once and
//! gives the buffer back in the same turn, so a client that stops reading never holds
//! buffers, and the ring cannot run dry for the others.

use io_uring::types::BufRingEntry;
use std::io;

pub(crate) struct BufRing {
    /// `entries` ring slots, page-aligned (mmap), shared with the kernel.
    ring: *mut BufRingEntry,
    ring_bytes: usize,
    entries: u16,
    buf_size: usize,
    /// `entries * buf_size` bytes the kernel writes into (any buffer it holds, at any time):
    /// kept as a raw pointer so that no Rust reference ever covers a buffer it may write.
    bufs: *mut u8,
    /// Our copy of the tail; the kernel's is in the first slot's reserved field.
    tail: u16,
}

impl BufRing {
    pub(crate) fn new(entries: u16, buf_size: usize) -> io::Result<BufRing> {
        assert!(entries.is_power_of_two());
        let ring_bytes = entries as usize * std::mem::size_of::<BufRingEntry>();
        // SAFETY: an anonymous private mapping, checked for failure; it lives until Drop.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                ring_bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_ANONYMOUS | libc::MAP_PRIVATE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let mut ring = BufRing {
            ring: ptr as *mut BufRingEntry,
            ring_bytes,
            entries,
            buf_size,
            bufs: Box::into_raw(vec![0u8; entries as usize * buf_size].into_boxed_slice())
                as *mut u8,
            tail: 0,
        };
        for bid in 0..entries {
            ring.push(bid);
        }
        ring.publish();
        Ok(ring)
    }

    pub(crate) fn addr(&self) -> u64 {
        self.ring as u64
    }

    pub(crate) fn entries(&self) -> u16 {
        self.entries
    }

    /// The first `len` bytes the kernel wrote into buffer `bid`.
    pub(crate) fn get(&self, bid: u16, len: usize) -> &[u8] {
        let bid = (bid as usize).min(self.entries as usize - 1);
        // SAFETY: buffer `bid` lies inside the allocation; the kernel handed it to us with
        // this completion and does not write it again until `recycle` gives it back.
        unsafe {
            std::slice::from_raw_parts(self.bufs.add(bid * self.buf_size), len.min(self.buf_size))
        }
    }

    fn push(&mut self, bid: u16) {
        let slot = (self.tail & (self.entries - 1)) as usize;
        // SAFETY: slot < entries, inside the mapping; the kernel only reads slots between
        // its head and the published tail, and this one is past the tail until `publish`.
        let entry = unsafe { &mut *self.ring.add(slot) };
        // Address arithmetic only: inside the allocation, nothing dereferenced.
        entry.set_addr(self.bufs.wrapping_add(bid as usize * self.buf_size) as u64);
        entry.set_len(self.buf_size as u32);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    fn publish(&self) {
        // SAFETY: the tail field lives inside the mapping (the reserved field of slot 0);
        // the release store makes the entries written before it visible to the kernel.
        unsafe {
            let tail = BufRingEntry::tail(self.ring) as *const std::sync::atomic::AtomicU16;
            (*tail).store(self.tail, std::sync::atomic::Ordering::Release);
        }
    }

    /// Gives buffer `bid` back to the kernel.
    pub(crate) fn recycle(&mut self, bid: u16) {
        if bid < self.entries {
            self.push(bid);
            self.publish();
        }
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // SAFETY: unmaps the mapping made in `new`, once. The ring is unregistered (or the
        // io_uring closed) before this runs: the reactor drops its ring first.
        unsafe {
            libc::munmap(self.ring as *mut libc::c_void, self.ring_bytes);
            let len = self.entries as usize * self.buf_size;
            drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(
                self.bufs, len,
            )));
        }
    }
}
