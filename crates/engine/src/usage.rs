//! MEMORY USAGE: what a key's allocations hold, as jemalloc rounds them (its size classes),
//! with a big collection's elements sampled as Redis samples them.

use crate::dict::Dict;
use crate::value::{Entry, Hash, Set, Str, Value};

/// The bytes jemalloc gives for a request of `n` (its size classes on 64-bit Linux: 8, then
/// steps of 16 up to 128, then four classes for each doubling).
pub fn alloc_size(n: usize) -> usize {
    match n {
        0 => 0,
        1..=8 => 8,
        9..=128 => (n + 15) & !15,
        _ => {
            let lg = usize::BITS - (n - 1).leading_zeros();
            let step = (1usize << (lg - 1)) / 4;
            n.div_ceil(step) * step
        }
    }
}

/// Sums `cost` over the first `samples` of `items` (all when `samples` is 0 or covers
/// them) and scales it to `len` items (Redis' objectComputeSize averages its samples).
pub fn sampled<'a, V: 'a>(
    items: impl Iterator<Item = (&'a [u8], &'a V)>,
    len: usize,
    samples: usize,
    mut cost: impl FnMut(&[u8], &V) -> usize,
) -> usize {
    let take = if samples == 0 { len } else { samples.min(len) };
    if take == 0 {
        return 0;
    }
    let sum: usize = items.take(take).map(|(k, v)| cost(k, v)).sum();
    if take == len {
        sum
    } else {
        sum * len / take
    }
}

/// MEMORY USAGE of `key` holding `e`: its node in the keyspace (entry and key bytes), its
/// bucket, and what the value holds.
pub fn of_key(key: &[u8], e: &Entry, samples: usize) -> usize {
    alloc_size(Dict::<Entry>::node_size(key.len())) + 8 + of_value(&e.value, samples)
}

fn of_value(v: &Value, samples: usize) -> usize {
    match v {
        Value::Str(Str::Int(_)) | Value::Str(Str::Inline(_)) => 0,
        Value::Str(Str::Emb(b)) => alloc_size(b.len()),
        Value::Str(Str::Raw(b)) => alloc_size(b.capacity()),
        Value::Str(Str::Shared(b)) => b.len(),
        Value::List(l) => l.usage(),
        Value::Hash(Hash::Pack(p)) => alloc_size(p.capacity()),
        Value::Hash(Hash::Table(d)) => {
            alloc_size(std::mem::size_of::<Dict<Box<[u8]>>>())
                + alloc_size(d.bucket_bytes())
                + sampled(d.iter(), d.len(), samples, |f, v| {
                    alloc_size(Dict::<Box<[u8]>>::node_size(f.len())) + alloc_size(v.len())
                })
        }
        Value::Set(Set::Ints(s)) => alloc_size(s.bytes()),
        Value::Set(Set::Table(d)) => {
            alloc_size(std::mem::size_of::<Dict<()>>())
                + alloc_size(d.bucket_bytes())
                + sampled(d.iter(), d.len(), samples, |m, _| {
                    alloc_size(Dict::<()>::node_size(m.len()))
                })
        }
        Value::ZSet(z) => z.usage(samples),
        Value::Stream(s) => s.memory(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jemalloc_size_classes() {
        let classes = [
            (1, 8),
            (8, 8),
            (9, 16),
            (17, 32),
            (100, 112),
            (128, 128),
            (129, 160),
            (256, 256),
            (257, 320),
            (1000, 1024),
            (1025, 1280),
            (5000, 5120),
            (16385, 20480),
            (100_000, 114_688),
        ];
        for (n, want) in classes {
            assert_eq!(alloc_size(n), want, "{n}");
        }
    }
}
