//! RFC 5389 §15.5 FINGERPRINT: the CRC-32 of ISO/IEC 13239 (the one of Ethernet and zlib,
//! reflected polynomial 0xEDB88320) over the message up to the attribute, XOR 0x5354554e.

/// XORed into the CRC so that other protocols' CRC-32 never looks like a STUN fingerprint.
const FINGERPRINT_XOR: u32 = 0x5354_554e;

/// The CRC-32 table, computed at compile time.
const TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// CRC-32 of `bytes`.
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc = TABLE[((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

/// The FINGERPRINT value of a message whose bytes before the attribute are `bytes` (with
/// the header length already counting the FINGERPRINT attribute).
pub(crate) fn fingerprint(bytes: &[u8]) -> u32 {
    crc32(bytes) ^ FINGERPRINT_XOR
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        // The standard check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }
}
