//! Key choice (uniform / gaussian over `0..keys`), key names and the deterministic value of
//! every key, so any GET reply can be checked without remembering what was written.

use clap::ValueEnum;

/// splitmix64: tiny, fast, and good enough for picking keys.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0), by multiply-shift (no modulo bias worth caring about).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in (0, 1].
    pub fn unit_open0(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyPattern {
    Uniform,
    /// Normal distribution centred on the middle key, standard deviation keys/6 (so ±3σ spans
    /// the key space, as memtier_benchmark's default), clamped to the key range.
    Gaussian,
}

#[derive(Debug, Clone)]
pub struct KeyGen {
    pattern: KeyPattern,
    keys: u64,
    mean: f64,
    sd: f64,
}

impl KeyGen {
    pub fn new(pattern: KeyPattern, keys: u64) -> Self {
        assert!(keys > 0);
        KeyGen {
            pattern,
            keys,
            mean: (keys - 1) as f64 / 2.0,
            sd: keys as f64 / 6.0,
        }
    }

    pub fn next(&self, rng: &mut Rng) -> u64 {
        match self.pattern {
            KeyPattern::Uniform => rng.below(self.keys),
            KeyPattern::Gaussian => {
                // Box-Muller; one of the pair is thrown away, which is cheap enough.
                let u1 = rng.unit_open0();
                let u2 = rng.unit_open0();
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                let x = (self.mean + z * self.sd).round();
                x.clamp(0.0, (self.keys - 1) as f64) as u64
            }
        }
    }
}

/// Appends `prefix` and the decimal `idx` to `out`.
pub fn write_key(prefix: &[u8], idx: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(prefix);
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut v = idx;
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// The 16 bytes that the value of key `idx` repeats: the hex of a bijective mix of `idx`, so
/// distinct keys have distinct values (of any size >= 16).
pub fn value_pattern(idx: u64) -> [u8; 16] {
    let mut z = idx.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z ^= z >> 29;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut p = [0u8; 16];
    for (i, b) in p.iter_mut().enumerate() {
        *b = HEX[((z >> (60 - 4 * i)) & 0xf) as usize];
    }
    p
}

/// Appends the `size`-byte value of key `idx` to `out`.
pub fn write_value(idx: u64, size: usize, out: &mut Vec<u8>) {
    let p = value_pattern(idx);
    let mut left = size;
    while left >= 16 {
        out.extend_from_slice(&p);
        left -= 16;
    }
    out.extend_from_slice(&p[..left]);
}

/// Whether `got` is exactly the `size`-byte value of key `idx`.
pub fn value_matches(idx: u64, size: usize, got: &[u8]) -> bool {
    if got.len() != size {
        return false;
    }
    let p = value_pattern(idx);
    let mut chunks = got.chunks_exact(16);
    for c in &mut chunks {
        if c != p {
            return false;
        }
    }
    let rest = chunks.remainder();
    rest == &p[..rest.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names() {
        let mut out = Vec::new();
        write_key(b"key:", 0, &mut out);
        write_key(b"|", 1234567, &mut out);
        write_key(b"", u64::MAX, &mut out);
        assert_eq!(out, b"key:0|123456718446744073709551615");
    }

    #[test]
    fn values_are_deterministic_and_checkable() {
        for size in [0, 1, 15, 16, 17, 32, 100, 4096] {
            for idx in [0, 1, 99_999, u64::MAX] {
                let mut v = Vec::new();
                write_value(idx, size, &mut v);
                assert_eq!(v.len(), size);
                assert!(value_matches(idx, size, &v));
                let mut again = Vec::new();
                write_value(idx, size, &mut again);
                assert_eq!(v, again);
                if size > 0 {
                    assert!(!value_matches(idx, size, &v[..size - 1]));
                    let mut bad = v.clone();
                    bad[size - 1] ^= 1;
                    assert!(!value_matches(idx, size, &bad));
                }
            }
        }
        // Neighbouring keys have different values (of at least one pattern's length).
        let mut seen = std::collections::HashSet::new();
        for idx in 0..10_000u64 {
            assert!(seen.insert(value_pattern(idx)));
        }
    }

    #[test]
    fn uniform_covers_range() {
        let g = KeyGen::new(KeyPattern::Uniform, 100);
        let mut rng = Rng::new(1);
        let mut counts = [0u32; 100];
        for _ in 0..100_000 {
            let k = g.next(&mut rng);
            counts[k as usize] += 1;
        }
        // Every key hit, each roughly 1000 times.
        assert!(
            counts.iter().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
        let one = KeyGen::new(KeyPattern::Uniform, 1);
        assert!((0..100).all(|_| one.next(&mut rng) == 0));
    }

    #[test]
    fn gaussian_shape() {
        let keys = 60_000u64;
        let g = KeyGen::new(KeyPattern::Gaussian, keys);
        let mut rng = Rng::new(7);
        let n = 200_000;
        let (mut sum, mut within1, mut lo, mut hi) = (0f64, 0u32, u64::MAX, 0);
        for _ in 0..n {
            let k = g.next(&mut rng);
            assert!(k < keys);
            sum += k as f64;
            lo = lo.min(k);
            hi = hi.max(k);
            if (k as f64 - 29_999.5).abs() <= 10_000.0 {
                within1 += 1;
            }
        }
        let mean = sum / n as f64;
        assert!((mean - 29_999.5).abs() < 200.0, "mean {mean}");
        let frac = within1 as f64 / n as f64;
        assert!((0.66..0.70).contains(&frac), "within 1 sd: {frac}");
        // Tails reach (clamped) edges rarely but the range is wide.
        assert!(lo < 5_000 && hi > 55_000, "{lo} {hi}");
        let tiny = KeyGen::new(KeyPattern::Gaussian, 1);
        assert!((0..100).all(|_| tiny.next(&mut rng) == 0));
    }

    #[test]
    fn rng_is_seeded() {
        let a: Vec<u64> = {
            let mut r = Rng::new(5);
            (0..4).map(|_| r.next_u64()).collect()
        };
        let mut r = Rng::new(5);
        assert_eq!(a, (0..4).map(|_| r.next_u64()).collect::<Vec<_>>());
        let mut r2 = Rng::new(6);
        assert_ne!(a[0], r2.next_u64());
        for _ in 0..1000 {
            let u = r.unit_open0();
            assert!(u > 0.0 && u <= 1.0);
        }
    }
}
