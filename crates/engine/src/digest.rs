//! DEBUG DIGEST and DEBUG DIGEST-VALUE, computed as redis-server 7.0 computes them (debug.c),
//! so two servers holding the same data print the same 40 hex digits.
//!
//! Unordered things (keys, set members, hash fields, sorted-set members) are combined by
//! xor, ordered things (list elements, the parts of one element) by "mixing": xor the SHA-1 of
//! the data in, then replace the digest by its own SHA-1.

use crate::value::{Entry, Hash, IntBuf, Value};
use sha1::{Digest as _, Sha1};

pub type Digest = [u8; 20];

fn sha1(data: &[u8]) -> Digest {
    Sha1::digest(data).into()
}

/// digest ^= SHA1(data)
pub fn xor(d: &mut Digest, data: &[u8]) {
    let h = sha1(data);
    d.iter_mut().zip(h).for_each(|(a, b)| *a ^= b);
}

/// digest = SHA1(digest ^ SHA1(data))
pub fn mix(d: &mut Digest, data: &[u8]) {
    xor(d, data);
    *d = sha1(d);
}

/// Redis' type codes, which the digest mixes in.
fn type_code(v: &Value) -> u32 {
    match v {
        Value::Str(_) => 0,
        Value::List(_) => 1,
        Value::Set(_) => 2,
        Value::ZSet(_) => 3,
        Value::Hash(_) => 4,
        Value::Stream(_) => 6,
    }
}

/// Redis' xorObjectDigest: mixes the value of `e` into `d`.
pub fn value_into(d: &mut Digest, e: &Entry) {
    mix(d, &type_code(&e.value).to_be_bytes());
    let mut buf = IntBuf::default();
    match &e.value {
        Value::Str(s) => mix(d, s.bytes(&mut buf)),
        Value::List(l) => l.iter().for_each(|x| mix(d, x)),
        Value::Set(s) => s.for_each(|m| xor(d, m)),
        Value::ZSet(z) => {
            let mut score_text = Vec::with_capacity(32);
            z.for_each(|m, score| {
                let mut ele = [0u8; 20];
                mix(&mut ele, m);
                score_text.clear();
                resp::format_g17(score, &mut score_text);
                mix(&mut ele, &score_text);
                xor(d, &ele);
            });
        }
        Value::Hash(h) => {
            let mut each = |f: &[u8], v: &[u8]| {
                let mut ele = [0u8; 20];
                mix(&mut ele, f);
                mix(&mut ele, v);
                xor(d, &ele);
            };
            match h {
                Hash::Pack(p) => p.iter().for_each(|(f, v)| each(f, v)),
                Hash::Table(t) => t.iter().for_each(|(f, v)| each(f, v)),
            }
        }
        Value::Stream(s) => {
            use crate::stream::StreamId;
            let mut fb = IntBuf::default();
            s.visit(StreamId::MIN, StreamId::MAX, false, false, |e| {
                mix(d, format!("{}.{}", e.id.ms, e.id.seq).as_bytes());
                e.for_each(|f, v| {
                    mix(d, f.bytes(&mut fb));
                    mix(d, v.bytes(&mut buf));
                });
                true
            });
        }
    }
    if e.expire_at != 0 {
        xor(d, b"!!expire!!");
    }
}

/// One key's share of the dataset digest: its name mixed, then its value.
pub fn key(key: &[u8], e: &Entry) -> Digest {
    let mut d = [0u8; 20];
    mix(&mut d, key);
    value_into(&mut d, e);
    d
}

/// DEBUG DIGEST-VALUE of one entry (zeros for a missing key).
pub fn value(e: Option<&Entry>) -> Digest {
    let mut d = [0u8; 20];
    if let Some(e) = e {
        value_into(&mut d, e);
    }
    d
}

/// The dataset digest from each database's xor of the SHA-1s of its key digests (None: the
/// database is empty), in database order: computeDatasetDigest.
pub fn dataset(per_db: &[Option<Digest>]) -> Digest {
    let mut fin = [0u8; 20];
    for (j, x) in per_db.iter().enumerate() {
        let Some(x) = x else { continue };
        mix(&mut fin, &(j as u32).to_be_bytes());
        fin.iter_mut().zip(x).for_each(|(a, b)| *a ^= b);
    }
    fin
}

pub fn hex(d: &Digest) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}
