//! SCTP without SCTP sockets: this kernel has no SCTP stack, so a probe is one INIT chunk sent
//! as a raw IP protocol-132 packet and looked for by a raw socket at the destination.
//!
//! ```text
//!   common header (RFC 9260 section 3.1)   src port | dst port | verification tag = 0 | CRC32c
//!   INIT chunk    (RFC 9260 section 3.3.2) type 1 | flags 0 | length 20 | initiate tag = token
//!                                          | a_rwnd = MAGIC | out streams | in streams | TSN
//! ```
//!
//! The token identifies the probe, so a packet seen at a destination proves exactly that pair
//! got through. The checksum is real because conntrack may mark packets with a wrong one
//! invalid, and rulesets drop invalid packets.

/// The IP protocol number of SCTP.
pub const IPPROTO_SCTP: i32 = 132;
/// Marks the lab's own INIT chunks (ASCII "pali").
const MAGIC: u32 = 0x7061_6c69;
const INIT: u8 = 1;
pub const PACKET_LEN: usize = 32;

/// CRC32c (Castagnoli, reflected polynomial 0x82F63B78), as SCTP uses it (RFC 9260 appendix A).
pub fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0x82F6_3B78 & mask);
        }
    }
    !crc
}

/// An INIT packet from `src_port` to `dst_port` carrying `token` (must be non-zero: RFC 9260
/// forbids a zero initiate tag).
pub fn init_packet(src_port: u16, dst_port: u16, token: u32) -> [u8; PACKET_LEN] {
    let mut p = [0u8; PACKET_LEN];
    p[0..2].copy_from_slice(&src_port.to_be_bytes());
    p[2..4].copy_from_slice(&dst_port.to_be_bytes());
    // 4..8 verification tag: zero in an INIT. 8..12 checksum: filled in last.
    p[12] = INIT;
    p[13] = 0;
    p[14..16].copy_from_slice(&20u16.to_be_bytes());
    p[16..20].copy_from_slice(&token.to_be_bytes());
    p[20..24].copy_from_slice(&MAGIC.to_be_bytes());
    p[24..26].copy_from_slice(&1u16.to_be_bytes());
    p[26..28].copy_from_slice(&1u16.to_be_bytes());
    p[28..32].copy_from_slice(&token.to_be_bytes());
    // The CRC goes on the wire least significant byte first (RFC 9260 appendix A and the
    // Linux implementation, which stores it as __le32).
    let crc = crc32c(&p);
    p[8..12].copy_from_slice(&crc.to_le_bytes());
    p
}

/// `(token, destination port)` of one of the lab's INIT packets; `None` for anything else.
pub fn parse_init(sctp: &[u8]) -> Option<(u32, u16)> {
    let field = |range: std::ops::Range<usize>| sctp.get(range);
    let dst = u16::from_be_bytes(field(2..4)?.try_into().ok()?);
    if *sctp.get(12)? != INIT {
        return None;
    }
    let magic = u32::from_be_bytes(field(20..24)?.try_into().ok()?);
    if magic != MAGIC {
        return None;
    }
    let token = u32::from_be_bytes(field(16..20)?.try_into().ok()?);
    Some((token, dst))
}

/// The payload of an IPv4 packet carrying SCTP (IPv4 raw sockets hand over the IP header).
pub fn strip_ipv4_header(packet: &[u8]) -> Option<&[u8]> {
    let first = *packet.first()?;
    if first >> 4 != 4 || *packet.get(9)? != 132 {
        return None;
    }
    packet.get(usize::from(first & 0x0f) * 4..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_published_check_values() {
        // RFC 3720 appendix B.4 (the same CRC32c): 32 zero bytes -> 0x8A9136AA.
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        // The common "123456789" check value of CRC-32C.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(&[0xffu8; 32]), 0x62A8_AB43);
    }

    #[test]
    fn init_round_trips_and_checksums() {
        let p = init_packet(40000, 9, 0xdead_beef);
        assert_eq!(parse_init(&p), Some((0xdead_beef, 9)));
        let mut zeroed = p;
        zeroed[8..12].fill(0);
        assert_eq!(crc32c(&zeroed).to_le_bytes(), p[8..12]);
    }

    #[test]
    fn rejects_foreign_or_short_packets() {
        let p = init_packet(1, 2, 3);
        assert_eq!(parse_init(&p[..20]), None);
        let mut other = p;
        other[12] = 2; // INIT ACK
        assert_eq!(parse_init(&other), None);
        let mut foreign = p;
        foreign[20] ^= 1;
        assert_eq!(parse_init(&foreign), None);
    }

    #[test]
    fn strips_ipv4_headers_with_options() {
        let mut packet = vec![0x46u8, 0, 0, 0, 0, 0, 0, 0, 64, 132];
        packet.resize(24, 0);
        packet.extend_from_slice(&init_packet(5, 6, 7));
        let sctp = strip_ipv4_header(&packet).expect("an SCTP packet");
        assert_eq!(parse_init(sctp), Some((7, 6)));
        packet[9] = 6; // TCP
        assert_eq!(strip_ipv4_header(&packet), None);
    }
}
