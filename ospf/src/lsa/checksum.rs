//! The Fletcher checksum of LSAs (RFC 2328 section 12.1.7, algorithm of RFC 905 annex B).
//!
//! It covers the whole LSA except the LS age field, so an LSA is re-flooded with a new age without
//! recomputing it. The checksum field sits at byte 16 of the LSA.

/// Offset of the LS checksum field from the start of the LSA.
const CHECKSUM_OFFSET: usize = 16;

/// Bytes skipped at the start of the LSA: the LS age field.
const AGE_LEN: usize = 2;

/// Number of bytes summed between two reductions modulo 255. After n bytes of 0xff, C1 is at
/// most about 255 * n^2 / 2, which stays below 2^32 up to n = 5802; 4102 leaves a margin.
const BLOCK: usize = 4102;

fn sums(data: &[u8]) -> (u32, u32) {
    let mut c0: u32 = 0;
    let mut c1: u32 = 0;
    for block in data.chunks(BLOCK) {
        for &byte in block {
            c0 += u32::from(byte);
            c1 += c0;
        }
        c0 %= 255;
        c1 %= 255;
    }
    (c0, c1)
}

/// Returns true when the LSA in `lsa` (whole LSA, header included) carries a valid checksum.
///
/// A checksum of zero is invalid: the algorithm never produces it, and RFC 2328 section 13 step 1
/// discards such an LSA.
pub fn verify(lsa: &[u8]) -> bool {
    if lsa.len() < CHECKSUM_OFFSET + 2 {
        return false;
    }
    if lsa[CHECKSUM_OFFSET] == 0 && lsa[CHECKSUM_OFFSET + 1] == 0 {
        return false;
    }
    let (c0, c1) = sums(&lsa[AGE_LEN..]);
    c0 == 0 && c1 == 0
}

/// Computes the checksum of the LSA in `lsa` as if its checksum field were zero.
///
/// `lsa` must be at least 18 bytes long (the header up to the checksum field); shorter input
/// returns 0, which no valid LSA has.
pub fn compute(lsa: &[u8]) -> u16 {
    if lsa.len() < CHECKSUM_OFFSET + 2 {
        return 0;
    }
    let data = &lsa[AGE_LEN..];
    let mut zeroed = data.to_vec();
    let position = CHECKSUM_OFFSET - AGE_LEN;
    zeroed[position] = 0;
    zeroed[position + 1] = 0;
    let (c0, c1) = sums(&zeroed);

    // ISO 8473 formula with the checksum octets at 1-based position n = position + 1 of L bytes.
    let length = zeroed.len() as i64;
    let n = position as i64 + 1;
    let c0 = i64::from(c0);
    let c1 = i64::from(c1);
    let mut x = ((length - n) * c0 - c1).rem_euclid(255);
    let mut y = (c1 - (length - n + 1) * c0).rem_euclid(255);
    if x == 0 {
        x = 255;
    }
    if y == 0 {
        y = 255;
    }
    ((x as u16) << 8) | y as u16
}

/// Writes the checksum into the LSA in `lsa`.
pub fn fill(lsa: &mut [u8]) {
    let checksum = compute(lsa);
    if lsa.len() >= CHECKSUM_OFFSET + 2 {
        lsa[CHECKSUM_OFFSET..CHECKSUM_OFFSET + 2].copy_from_slice(&checksum.to_be_bytes());
    }
}
