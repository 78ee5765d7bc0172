//! HyperLogLog values byte for byte as Redis 7.0 stores them (hyperloglog.c): a string with
//! the `HYLL` header (magic, encoding, 3 unused bytes, the cached cardinality, little
//! endian, its top bit set when stale), then the registers: sparse (ZERO, XZERO and VAL
//! opcodes) until a register exceeds 32 or the value `hll-sparse-max-bytes`, then dense
//! (16384 registers of 6 bits). The same MurmurHash64A, the same updates in place, the same
//! estimator, so values move between percore and redis-server unchanged.

pub const HEADER: usize = 16;
pub const P: u32 = 14;
pub const Q: u32 = 64 - P;
pub const REGISTERS: usize = 1 << P;
pub const BITS: usize = 6;
const REGISTER_MAX: u8 = (1 << BITS) - 1;
pub const DENSE_SIZE: usize = HEADER + (REGISTERS * BITS).div_ceil(8);
pub const DENSE: u8 = 0;
pub const SPARSE: u8 = 1;

const XZERO_BIT: u8 = 0x40;
const VAL_BIT: u8 = 0x80;
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
const XZERO_MAX_LEN: usize = 16384;
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// A value whose opcodes do not cover the registers exactly (Redis' INVALIDOBJ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupted;

/// Redis' text for a corrupted value.
pub const INVALID: &str = "INVALIDOBJ Corrupted HLL object detected";
/// Redis' text for a string that is not an HLL.
pub const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";

fn is_zero(b: u8) -> bool {
    b & 0xc0 == 0
}
fn is_xzero(b: u8) -> bool {
    b & 0xc0 == XZERO_BIT
}
fn is_val(b: u8) -> bool {
    b & VAL_BIT != 0
}
fn zero_len(b: u8) -> usize {
    (b & 0x3f) as usize + 1
}
fn xzero_len(b: u8, b2: u8) -> usize {
    ((((b & 0x3f) as usize) << 8) | b2 as usize) + 1
}
fn val_value(b: u8) -> u8 {
    ((b >> 2) & 0x1f) + 1
}
fn val_len(b: u8) -> usize {
    (b & 0x3) as usize + 1
}
fn val(value: u8, len: usize) -> u8 {
    ((value - 1) << 2 | (len as u8 - 1)) | VAL_BIT
}
fn xzero(len: usize) -> [u8; 2] {
    let l = len - 1;
    [(l >> 8) as u8 | XZERO_BIT, (l & 0xff) as u8]
}

/// One sparse opcode: a run of zero registers (ZERO or XZERO, and which), or of one value.
enum Run {
    Zero(usize, bool),
    Val(u8, usize),
}

/// The sparse opcodes of `v` (after the header), in order.
fn runs(v: &[u8]) -> impl Iterator<Item = Run> + '_ {
    let mut p = HEADER;
    std::iter::from_fn(move || {
        let b = *v.get(p)?;
        Some(if is_zero(b) {
            p += 1;
            Run::Zero(zero_len(b), false)
        } else if is_xzero(b) {
            let n = xzero_len(b, v.get(p + 1).copied().unwrap_or(0));
            p += 2;
            Run::Zero(n, true)
        } else {
            p += 1;
            Run::Val(val_value(b), val_len(b))
        })
    })
}

/// Calls `set(register, value)` for every register of a sparse `v` that holds a value;
/// Err unless the opcodes cover the registers exactly (a VAL past the end is corrupted, as
/// in redis-server 7.0.15 as Debian ships it, with the CVE-2025-32023 fix).
fn each_value(v: &[u8], mut set: impl FnMut(usize, u8)) -> Result<(), Corrupted> {
    let mut idx = 0usize;
    for run in runs(v) {
        match run {
            Run::Zero(n, _) => idx += n,
            Run::Val(value, n) => {
                if idx + n > REGISTERS {
                    return Err(Corrupted);
                }
                for i in idx..idx + n {
                    set(i, value);
                }
                idx += n;
            }
        }
    }
    if idx != REGISTERS {
        return Err(Corrupted);
    }
    Ok(())
}

/// Redis' MurmurHash64A, endian neutral.
pub fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let mut k = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        for (i, &b) in rest.iter().enumerate().rev() {
            h ^= (b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element goes to and its run of zeros plus one (hllPatLen).
pub fn pat_len(ele: &[u8]) -> (usize, u8) {
    let mut hash = murmur64a(ele, 0xadc8_3b19);
    let index = (hash as usize) & (REGISTERS - 1);
    hash >>= P;
    hash |= 1u64 << Q;
    (index, hash.trailing_zeros() as u8 + 1)
}

fn dense_get(r: &[u8], i: usize) -> u8 {
    let byte = i * BITS / 8;
    let fb = (i * BITS) & 7;
    let b0 = r[byte] as u32;
    let b1 = r.get(byte + 1).copied().unwrap_or(0) as u32;
    (((b0 >> fb) | (b1 << (8 - fb))) & REGISTER_MAX as u32) as u8
}

fn dense_put(r: &mut [u8], i: usize, v: u8) {
    let byte = i * BITS / 8;
    let fb = (i * BITS) & 7;
    let v = v as u32;
    r[byte] &= !((REGISTER_MAX as u32) << fb) as u8;
    r[byte] |= (v << fb) as u8;
    if let Some(next) = r.get_mut(byte + 1) {
        *next &= !((REGISTER_MAX as u32) >> (8 - fb)) as u8;
        *next |= (v >> (8 - fb)) as u8;
    }
}

/// Sets dense register `i` to `count` if that is higher: true if it changed.
fn dense_set(r: &mut [u8], i: usize, count: u8) -> bool {
    if count > dense_get(r, i) {
        dense_put(r, i, count);
        true
    } else {
        false
    }
}

/// A new, empty HLL (createHLLObject): sparse, all registers in XZERO opcodes.
pub fn new_value() -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER + 2);
    v.extend_from_slice(b"HYLL");
    v.push(SPARSE);
    v.extend_from_slice(&[0; 11]);
    let mut left = REGISTERS;
    while left > 0 {
        let n = left.min(XZERO_MAX_LEN);
        v.extend_from_slice(&xzero(n));
        left -= n;
    }
    v
}

/// Whether `v` reads as an HLL (isHLLObjectOrReply).
pub fn is_hll(v: &[u8]) -> bool {
    v.len() >= HEADER
        && &v[..4] == b"HYLL"
        && v[4] <= SPARSE
        && (v[4] != DENSE || v.len() == DENSE_SIZE)
}

pub fn invalidate_cache(v: &mut [u8]) {
    v[15] |= 1 << 7;
}

/// The cached cardinality, if valid.
pub fn cached(v: &[u8]) -> Option<u64> {
    (v[15] & 0x80 == 0).then(|| u64::from_le_bytes(v[8..16].try_into().expect("8 bytes")))
}

pub fn set_cache(v: &mut [u8], card: u64) {
    v[8..16].copy_from_slice(&card.to_le_bytes());
}

/// Sparse to dense (hllSparseToDense); Err when the opcodes do not cover the registers.
pub fn to_dense(v: &mut Vec<u8>) -> Result<(), Corrupted> {
    if v[4] == DENSE {
        return Ok(());
    }
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..HEADER].copy_from_slice(&v[..HEADER]);
    dense[4] = DENSE;
    let regs = &mut dense[HEADER..];
    each_value(v, |i, value| dense_put(regs, i, value))?;
    *v = dense;
    Ok(())
}

/// Sets sparse register `index` to `count` if higher (hllSparseSet), in place as Redis
/// does it (so the bytes come out the same), promoting to dense when the value or the
/// length calls for it. Ok(changed), Err on a corrupted value.
fn sparse_set(
    v: &mut Vec<u8>,
    index: usize,
    count: u8,
    max_bytes: usize,
) -> Result<bool, Corrupted> {
    if count > VAL_MAX_VALUE {
        return promote(v, index, count);
    }
    let mut end = v.len();
    let mut p = HEADER;
    let (mut first, mut span) = (0usize, 0usize);
    let mut prev: Option<usize> = None;
    while p < end {
        let b = v[p];
        let oplen;
        if is_zero(b) {
            span = zero_len(b);
            oplen = 1;
        } else if is_val(b) {
            span = val_len(b);
            oplen = 1;
        } else {
            span = xzero_len(b, v.get(p + 1).copied().unwrap_or(0));
            oplen = 2;
        }
        if index < first + span {
            break;
        }
        prev = Some(p);
        p += oplen;
        first += span;
    }
    if span == 0 || p >= end {
        return Err(Corrupted);
    }
    let b = v[p];
    let (zero, xz, isval) = (is_zero(b), is_xzero(b), is_val(b));
    let runlen = if zero {
        zero_len(b)
    } else if xz {
        xzero_len(b, v.get(p + 1).copied().unwrap_or(0))
    } else {
        val_len(b)
    };
    let mut done = false;
    if isval {
        if val_value(b) >= count {
            return Ok(false);
        }
        if runlen == 1 {
            v[p] = val(count, 1);
            done = true;
        }
    }
    if !done && zero && runlen == 1 {
        v[p] = val(count, 1);
        done = true;
    }
    if !done {
        let mut seq: Vec<u8> = Vec::with_capacity(5);
        let last = first + span - 1;
        let zeros = |seq: &mut Vec<u8>, len: usize| {
            if len > ZERO_MAX_LEN {
                seq.extend_from_slice(&xzero(len));
            } else {
                seq.push((len - 1) as u8);
            }
        };
        if zero || xz {
            if index != first {
                zeros(&mut seq, index - first);
            }
            seq.push(val(count, 1));
            if index != last {
                zeros(&mut seq, last - index);
            }
        } else {
            let cur = val_value(b);
            if index != first {
                seq.push(val(cur, index - first));
            }
            seq.push(val(count, 1));
            if index != last {
                seq.push(val(cur, last - index));
            }
        }
        let oldlen = if xz { 2 } else { 1 };
        if seq.len() > oldlen && v.len() + seq.len() - oldlen > max_bytes {
            return promote(v, index, count);
        }
        v.splice(p..p + oldlen, seq.iter().copied());
        end = v.len();
    }
    // Merge adjacent VAL opcodes of one value, scanning up to 5 opcodes from the previous.
    let mut p = prev.unwrap_or(HEADER);
    let mut scan = 5;
    while p < end && scan > 0 {
        scan -= 1;
        let b = v[p];
        if is_xzero(b) {
            p += 2;
            continue;
        } else if is_zero(b) {
            p += 1;
            continue;
        }
        if p + 1 < end && is_val(v[p + 1]) {
            let (v1, v2) = (val_value(b), val_value(v[p + 1]));
            let len = val_len(b) + val_len(v[p + 1]);
            if v1 == v2 && len <= VAL_MAX_LEN {
                v[p + 1] = val(v1, len);
                v.remove(p);
                end -= 1;
                continue;
            }
        }
        p += 1;
    }
    invalidate_cache(v);
    Ok(true)
}

fn promote(v: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupted> {
    to_dense(v)?;
    dense_set(&mut v[HEADER..], index, count);
    Ok(true)
}

/// Adds an element (hllAdd): Ok(whether a register changed), Err on a corrupted value.
pub fn add(v: &mut Vec<u8>, ele: &[u8], max_bytes: usize) -> Result<bool, Corrupted> {
    let (index, count) = pat_len(ele);
    set_register(v, index, count, max_bytes)
}

/// Raises register `index` to `count` in whichever encoding `v` has.
pub fn set_register(
    v: &mut Vec<u8>,
    index: usize,
    count: u8,
    max_bytes: usize,
) -> Result<bool, Corrupted> {
    match v[4] {
        DENSE => Ok(dense_set(&mut v[HEADER..], index, count)),
        SPARSE => sparse_set(v, index, count, max_bytes),
        _ => Err(Corrupted),
    }
}

/// Folds `v`'s registers into `max` (hllMerge); Err on a corrupted value.
pub fn merge_into(max: &mut [u8; REGISTERS], v: &[u8]) -> Result<(), Corrupted> {
    if v[4] == DENSE {
        let regs = &v[HEADER..];
        for (i, m) in max.iter_mut().enumerate() {
            *m = (*m).max(dense_get(regs, i));
        }
        return Ok(());
    }
    each_value(v, |i, value| max[i] = max[i].max(value))?;
    Ok(())
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if prev == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if prev == z {
            return z / 3.0;
        }
    }
}

/// The cardinality estimate from a register histogram (Ertl's estimator, as hllCount).
fn estimate(histo: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - histo[(Q + 1) as usize] as f64) / m);
    for j in (1..=Q as usize).rev() {
        z += histo[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(histo[0] as f64 / m);
    (ALPHA_INF * m * m / z).round() as u64
}

/// The cardinality of `v` (hllCount); Err when a sparse value does not cover the registers.
pub fn count(v: &[u8]) -> Result<u64, Corrupted> {
    let mut histo = [0u32; 64];
    if v[4] == DENSE {
        let regs = &v[HEADER..];
        for i in 0..REGISTERS {
            histo[dense_get(regs, i) as usize] += 1;
        }
    } else {
        let mut idx = 0usize;
        for run in runs(v) {
            let (value, n) = match run {
                Run::Zero(n, _) => (0, n),
                Run::Val(value, n) => (value, n),
            };
            idx += n;
            histo[value as usize] += n as u32;
        }
        if idx != REGISTERS {
            return Err(Corrupted);
        }
    }
    Ok(estimate(&histo))
}

/// The cardinality of raw registers (a union for PFCOUNT of several keys).
pub fn count_raw(regs: &[u8; REGISTERS]) -> u64 {
    let mut histo = [0u32; 64];
    for &r in regs.iter() {
        histo[r as usize & 63] += 1;
    }
    estimate(&histo)
}

/// The registers of `v` decoded (PFDEBUG GETREG); Err on a corrupted value.
pub fn registers(v: &[u8]) -> Result<Vec<u8>, Corrupted> {
    let mut max = [0u8; REGISTERS];
    merge_into(&mut max, v)?;
    Ok(max.to_vec())
}

/// Writes `max` into the HLL `v` (PFMERGE's last step), dense first when `dense`.
pub fn store_registers(
    v: &mut Vec<u8>,
    max: &[u8; REGISTERS],
    dense: bool,
    max_bytes: usize,
) -> Result<(), Corrupted> {
    if dense {
        to_dense(v)?;
    }
    for (i, &m) in max.iter().enumerate() {
        if m != 0 {
            set_register(v, i, m, max_bytes)?;
        }
    }
    invalidate_cache(v);
    Ok(())
}

/// PFDEBUG DECODE's text: the sparse opcodes as `z:len`, `Z:len`, `v:value,len`.
pub fn decode(v: &[u8]) -> Result<String, Corrupted> {
    let out: Vec<String> = runs(v)
        .map(|run| match run {
            Run::Zero(n, false) => format!("z:{n}"),
            Run::Zero(n, true) => format!("Z:{n}"),
            Run::Val(value, n) => format!("v:{value},{n}"),
        })
        .collect();
    Ok(out.join(" "))
}

/// PFSELFTEST: the dense registers read back what is written at every position, and an
/// HLL counts the same whether it grew sparse or was made dense, within the estimator's
/// error. The error text when something is off.
pub fn selftest() -> Result<(), String> {
    let mut regs = vec![0u8; DENSE_SIZE - HEADER];
    let mut seed = 0x1234_5678_9abc_def0u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut want = vec![0u8; REGISTERS];
    for _ in 0..2 {
        for (i, w) in want.iter_mut().enumerate() {
            let r = (next() & REGISTER_MAX as u64) as u8;
            *w = r;
            dense_put(&mut regs, i, r);
        }
        for (i, &w) in want.iter().enumerate() {
            if dense_get(&regs, i) != w {
                return Err(format!(
                    "TESTFAILED Register error at index {i}: expected {w}"
                ));
            }
        }
    }
    let mut sparse = new_value();
    let mut dense = new_value();
    to_dense(&mut dense).map_err(|_| "TESTFAILED dense conversion".to_string())?;
    for n in 1..=20_000u64 {
        let ele = next().to_le_bytes();
        add(&mut sparse, &ele, 3000).map_err(|_| "TESTFAILED sparse add".to_string())?;
        add(&mut dense, &ele, 3000).map_err(|_| "TESTFAILED dense add".to_string())?;
        if n % 1000 == 0 {
            let (a, b) = (
                count(&sparse).map_err(|_| "TESTFAILED sparse count".to_string())?,
                count(&dense).map_err(|_| "TESTFAILED dense count".to_string())?,
            );
            let err = (a as f64 - n as f64).abs() / n as f64;
            if a != b || err > 0.05 {
                return Err(format!(
                    "TESTFAILED too big error. card:{n} sparse:{a} dense:{b}"
                ));
            }
        }
    }
    Ok(())
}
