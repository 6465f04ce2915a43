//! The nflog group over netlink: bind it, receive logged packets, read their headers.
//!
//! ```text
//!   kernel: log group N prefix "palisade <chain>"
//!        ──NETLINK_NETFILTER (NFULNL_MSG_PACKET: prefix, payload)──> NflogSocket::receive
//!        ──parse_packet(payload)──> LoggedPacket { prefix, src, dst, protocol, port }
//! ```
//!
//! One socket per network namespace may bind a group; the socket belongs to the namespace of
//! the thread that opened it, which is the agent's. Only the first [`COPY_RANGE`] bytes of each
//! packet are copied: the IP and transport headers are all the attribution needs.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_netfilter::nflog::{
    ConfigCmd, ConfigMode, PacketNla, ULogMessage, config_request,
};
use netlink_packet_netfilter::{NetfilterMessage, NetfilterMessageInner, NetfilterProtoFamily};
use netlink_sys::Socket;
use netlink_sys::constants::NETLINK_NETFILTER;

/// Bytes of each packet the kernel copies: an IPv6 header with a few extension headers and the
/// transport ports fit.
pub const COPY_RANGE: u32 = 128;

/// Socket receive buffer asked for (the kernel caps it at net.core.rmem_max).
const RECV_BUFFER: usize = 1 << 20;

/// One logged packet, as far as attribution needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedPacket {
    pub prefix: String,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The IP protocol number (6 TCP, 17 UDP, 132 SCTP, 1 ICMP, ...).
    pub protocol: u8,
    /// The destination port of TCP, UDP and SCTP packets (not of later fragments).
    pub port: Option<u16>,
}

/// A bound nflog group.
pub struct NflogSocket {
    socket: Socket,
    buffer: Vec<u8>,
}

impl std::fmt::Debug for NflogSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NflogSocket").finish_non_exhaustive()
    }
}

impl NflogSocket {
    /// Binds `group` in the calling thread's network namespace. Fails when another socket
    /// holds the group (EBUSY) or the kernel has no nfnetlink_log.
    pub fn bind(group: u16, read_timeout: Duration) -> io::Result<NflogSocket> {
        let mut socket = Socket::new(NETLINK_NETFILTER)?;
        socket.bind_auto()?;
        // Readers must wake up now and then to notice a stop request.
        let sock = socket2::SockRef::from(&socket);
        sock.set_read_timeout(Some(read_timeout))?;
        // Room for a burst while the reader runs nft for the counters; past it the kernel
        // drops log messages (never packets' verdicts), and says nothing: an overrun is not an
        // error to the reader (NETLINK_NO_ENOBUFS).
        let _ = sock.set_recv_buffer_size(RECV_BUFFER);
        let _ = socket.set_no_enobufs(true);
        let mut this = NflogSocket {
            socket,
            buffer: vec![0; 64 * 1024],
        };
        // Kernels since 3.17 ignore PfBind; older ones need it per family. Errors are harmless.
        for family in [NetfilterProtoFamily::IPv4, NetfilterProtoFamily::IPv6] {
            let _ = this.request(family, 0, ConfigCmd::PfBind, None);
        }
        this.request(
            NetfilterProtoFamily::Unspec,
            group,
            ConfigCmd::Bind,
            Some(ConfigMode::new_packet(COPY_RANGE)),
        )?;
        Ok(this)
    }

    /// Sends one config command and waits for its acknowledgement.
    fn request(
        &mut self,
        family: NetfilterProtoFamily,
        group: u16,
        cmd: ConfigCmd,
        mode: Option<ConfigMode>,
    ) -> io::Result<()> {
        let mut nlas = vec![cmd.into()];
        nlas.extend(mode.map(Into::into));
        let message = config_request(family, group, nlas);
        let mut buf = vec![0; message.buffer_len()];
        message.serialize(&mut buf);
        self.socket.send(&buf, 0)?;
        let n = self.socket.recv(&mut &mut self.buffer[..], 0)?;
        let reply = self.buffer.get(..n).unwrap_or_default();
        let reply = NetlinkMessage::<NetfilterMessage>::deserialize(reply)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        match reply.payload {
            NetlinkPayload::Error(e) => match e.code {
                None => Ok(()),
                Some(code) => Err(io::Error::from_raw_os_error(-code.get())),
            },
            _ => Ok(()),
        }
    }

    /// The packets of one datagram; `Ok(empty)` when the read timed out.
    pub fn receive(&mut self) -> io::Result<Vec<LoggedPacket>> {
        let n = match self.socket.recv(&mut &mut self.buffer[..], 0) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                return Ok(Vec::new());
            }
            Err(e) => return Err(e),
        };
        Ok(parse_datagram(self.buffer.get(..n).unwrap_or_default()))
    }
}

/// Every logged packet of a datagram (several netlink messages may share one).
pub fn parse_datagram(mut bytes: &[u8]) -> Vec<LoggedPacket> {
    let mut out = Vec::new();
    while bytes.len() >= 16 {
        let Ok(message) = NetlinkMessage::<NetfilterMessage>::deserialize(bytes) else {
            break;
        };
        let len = message.header.length as usize;
        if let NetlinkPayload::InnerMessage(NetfilterMessage {
            inner: NetfilterMessageInner::ULog(ULogMessage::Packet(nlas)),
            ..
        }) = &message.payload
        {
            let mut prefix = String::new();
            let mut payload = None;
            for nla in nlas {
                match nla {
                    PacketNla::Prefix(p) => prefix = p.to_string_lossy().into_owned(),
                    PacketNla::Payload(p) => payload = Some(p),
                    _ => {}
                }
            }
            if let Some(packet) = payload.and_then(|p| parse_packet(prefix, p)) {
                out.push(packet);
            }
        }
        // Messages are 4-byte aligned.
        let step = (len + 3) & !3;
        if len == 0 || step > bytes.len() {
            break;
        }
        bytes = bytes.get(step..).unwrap_or_default();
    }
    out
}

const TCP: u8 = 6;
const UDP: u8 = 17;
const SCTP: u8 = 132;

/// Reads addresses, protocol and destination port from an IPv4 or IPv6 packet; `None` for
/// anything too short to be one.
pub fn parse_packet(prefix: String, ip: &[u8]) -> Option<LoggedPacket> {
    let version = ip.first()? >> 4;
    let (src, dst, protocol, transport) = match version {
        4 => {
            let ihl = usize::from(ip.first()? & 0x0f) * 4;
            let octets = |at: usize| -> Option<[u8; 4]> { ip.get(at..at + 4)?.try_into().ok() };
            let src = IpAddr::V4(Ipv4Addr::from(octets(12)?));
            let dst = IpAddr::V4(Ipv4Addr::from(octets(16)?));
            let protocol = *ip.get(9)?;
            let flags_offset = u16::from_be_bytes([*ip.get(6)?, *ip.get(7)?]);
            // A later fragment carries no transport header.
            let first_fragment = flags_offset & 0x1fff == 0;
            (
                src,
                dst,
                protocol,
                first_fragment.then(|| ip.get(ihl..)).flatten(),
            )
        }
        6 => {
            let octets = |at: usize| -> Option<[u8; 16]> { ip.get(at..at + 16)?.try_into().ok() };
            let src = IpAddr::V6(Ipv6Addr::from(octets(8)?));
            let dst = IpAddr::V6(Ipv6Addr::from(octets(24)?));
            let (protocol, transport) = skip_extensions(*ip.get(6)?, ip.get(40..)?);
            (src, dst, protocol, transport)
        }
        _ => return None,
    };
    let port = match protocol {
        TCP | UDP | SCTP => {
            transport.and_then(|t| Some(u16::from_be_bytes([*t.get(2)?, *t.get(3)?])))
        }
        _ => None,
    };
    Some(LoggedPacket {
        prefix,
        src,
        dst,
        protocol,
        port,
    })
}

/// Walks IPv6 extension headers to the transport: its protocol and bytes (`None` after a
/// non-first fragment or when the copy ends first).
fn skip_extensions(mut next: u8, mut rest: &[u8]) -> (u8, Option<&[u8]>) {
    const HOP_BY_HOP: u8 = 0;
    const ROUTING: u8 = 43;
    const FRAGMENT: u8 = 44;
    const DEST_OPTS: u8 = 60;
    for _ in 0..8 {
        match next {
            HOP_BY_HOP | ROUTING | DEST_OPTS => {
                let (Some(&n), Some(&len)) = (rest.first(), rest.get(1)) else {
                    return (next, None);
                };
                let skip = (usize::from(len) + 1) * 8;
                next = n;
                match rest.get(skip..) {
                    Some(r) => rest = r,
                    None => return (next, None),
                }
            }
            FRAGMENT => {
                let (Some(&n), Some(&hi), Some(&lo)) = (rest.first(), rest.get(2), rest.get(3))
                else {
                    return (next, None);
                };
                next = n;
                if u16::from_be_bytes([hi, lo]) >> 3 != 0 {
                    return (next, None);
                }
                match rest.get(8..) {
                    Some(r) => rest = r,
                    None => return (next, None),
                }
            }
            _ => return (next, Some(rest)),
        }
    }
    (next, None)
}

/// `tcp`, `udp`, `sctp`, `icmp`, `icmpv6` or the number.
pub fn protocol_name(protocol: u8) -> String {
    match protocol {
        TCP => "tcp".into(),
        UDP => "udp".into(),
        SCTP => "sctp".into(),
        1 => "icmp".into(),
        58 => "icmpv6".into(),
        n => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4(protocol: u8, fragment: u16, transport: &[u8]) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 0, 0, 0];
        p.extend(fragment.to_be_bytes());
        p.extend([64, protocol, 0, 0, 10, 0, 1, 1, 10, 0, 2, 9]);
        p.extend(transport);
        p
    }

    fn ipv6(next: u8, rest: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0, 0, 0, next, 64];
        p.extend(
            "fd00::1:1"
                .parse::<Ipv6Addr>()
                .map(|a| a.octets())
                .unwrap_or_default(),
        );
        p.extend(
            "fd00::2:9"
                .parse::<Ipv6Addr>()
                .map(|a| a.octets())
                .unwrap_or_default(),
        );
        p.extend(rest);
        p
    }

    #[test]
    fn headers_table() {
        // Transport headers: source port 40000 (0x9c40), destination port 5432 (0x1538).
        let ports = [0x9c, 0x40, 0x15, 0x38];
        // (label, packet, protocol and port read from it)
        type Case = (&'static str, Vec<u8>, Option<(u8, Option<u16>)>);
        let cases: Vec<Case> = vec![
            ("ipv4 tcp", ipv4(6, 0, &ports), Some((6, Some(5432)))),
            ("ipv4 udp", ipv4(17, 0, &ports), Some((17, Some(5432)))),
            ("ipv4 sctp", ipv4(132, 0, &ports), Some((132, Some(5432)))),
            (
                "ipv4 icmp has no port",
                ipv4(1, 0, &[8, 0, 0, 0]),
                Some((1, None)),
            ),
            (
                "ipv4 later fragment",
                ipv4(6, 0x00b9, &ports),
                Some((6, None)),
            ),
            (
                "ipv4 cut before ports",
                ipv4(6, 0, &[0x9c]),
                Some((6, None)),
            ),
            ("ipv6 tcp", ipv6(6, &ports), Some((6, Some(5432)))),
            (
                "ipv6 hop-by-hop then udp",
                ipv6(0, &[17, 0, 0, 0, 0, 0, 0, 0, 0x9c, 0x40, 0x15, 0x38]),
                Some((17, Some(5432))),
            ),
            (
                "ipv6 first fragment",
                ipv6(44, &[6, 0, 0, 1, 0, 0, 0, 7, 0x9c, 0x40, 0x15, 0x38]),
                Some((6, Some(5432))),
            ),
            (
                "ipv6 later fragment",
                ipv6(44, &[6, 0, 0x05, 0x01, 0, 0, 0, 7, 0x9c, 0x40]),
                Some((6, None)),
            ),
            ("truncated ipv4", vec![0x45, 0, 0], None),
            ("not ip", vec![0x20; 40], None),
            ("empty", vec![], None),
        ];
        for (label, bytes, want) in cases {
            let got = parse_packet("p".into(), &bytes).map(|p| (p.protocol, p.port));
            assert_eq!(got, want, "{label}");
        }
        let v4 = parse_packet(String::new(), &ipv4(6, 0, &ports)).expect("parses");
        assert_eq!(
            (v4.src.to_string(), v4.dst.to_string()),
            ("10.0.1.1".into(), "10.0.2.9".into())
        );
        let v6 = parse_packet(String::new(), &ipv6(6, &ports)).expect("parses");
        assert_eq!(
            (v6.src.to_string(), v6.dst.to_string()),
            ("fd00::1:1".into(), "fd00::2:9".into())
        );
    }

    #[test]
    fn garbage_datagrams_give_nothing() {
        for bytes in [&[][..], &[0u8; 3], &[0xff; 64]] {
            assert!(parse_datagram(bytes).is_empty());
        }
    }
}
