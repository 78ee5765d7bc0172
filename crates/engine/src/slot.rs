//! Redis Cluster key slots: the unit of ownership. A key's shard is decided by its slot, so a
//! hash-tagged multi-key command is single-shard exactly as in Redis Cluster, and changing the
//! shard count only changes the slot-range table, never the slot of a key.

pub const SLOTS: u16 = 16384;

/// CRC16-XMODEM (poly 0x1021, init 0), the checksum Redis Cluster uses for key slots.
const fn crc16_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

static CRC16: [u16; 256] = crc16_table();

pub fn crc16(data: &[u8]) -> u16 {
    data.iter().fold(0u16, |crc, &b| {
        (crc << 8) ^ CRC16[((crc >> 8) as u8 ^ b) as usize]
    })
}

/// The part of the key that is hashed: the content of the first `{...}` if it is non-empty,
/// otherwise the whole key (Redis' keyHashSlot rules).
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&b| b == b'{') {
        if let Some(len) = key[open + 1..].iter().position(|&b| b == b'}') {
            if len > 0 {
                return &key[open + 1..open + 1 + len];
            }
        }
    }
    key
}

pub fn key_slot(key: &[u8]) -> u16 {
    crc16(hash_tag(key)) & (SLOTS - 1)
}

/// Contiguous slot ranges, one per shard: shard `i` owns `[i*16384/n, (i+1)*16384/n)`.
/// Lookup is a table read so routing costs one CRC and one load.
#[derive(Clone, Debug)]
pub struct SlotMap {
    owner: Box<[u16]>,
    shards: usize,
}

impl SlotMap {
    pub fn new(shards: usize) -> SlotMap {
        let shards = shards.max(1);
        let owner = (0..SLOTS as usize)
            .map(|slot| (slot * shards / SLOTS as usize) as u16)
            .collect();
        SlotMap { owner, shards }
    }

    pub fn shards(&self) -> usize {
        self.shards
    }

    pub fn shard_of_slot(&self, slot: u16) -> usize {
        self.owner[(slot & (SLOTS - 1)) as usize] as usize
    }

    pub fn shard_of(&self, key: &[u8]) -> usize {
        if self.shards == 1 {
            return 0;
        }
        self.shard_of_slot(key_slot(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_reference_vector() {
        // The check value of CRC-16/XMODEM, also quoted in the Redis Cluster spec.
        assert_eq!(crc16(b"123456789"), 0x31C3);
    }

    #[test]
    fn slots_match_redis_cluster() {
        // Values from `CLUSTER KEYSLOT` on a real Redis.
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(
            key_slot(b"{user1000}.following"),
            key_slot(b"{user1000}.followers")
        );
        assert_eq!(key_slot(b"foo{}{bar}"), crc16(b"foo{}{bar}") & 16383);
        assert_eq!(key_slot(b"foo{{bar}}zap"), crc16(b"{bar") & 16383);
        assert_eq!(key_slot(b"foo{bar}{zap}"), crc16(b"bar") & 16383);
    }

    #[test]
    fn slot_map_is_contiguous_and_complete() {
        for n in [1, 2, 3, 4, 7] {
            let map = SlotMap::new(n);
            let mut last = 0;
            for slot in 0..SLOTS {
                let s = map.shard_of_slot(slot);
                assert!(s == last || s == last + 1);
                last = s;
            }
            assert_eq!(last, n - 1);
        }
    }
}
