//! A raw IP socket for OSPF (protocol 89) bound to one interface: multicast groups
//! AllSPFRouters and AllDRouters joined on that interface, TTL 1, precedence internetwork
//! control, no multicast loopback.

use std::io;
use std::mem::MaybeUninit;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::AsRawFd;

use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;

use crate::packet::{ALL_D_ROUTERS, ALL_SPF_ROUTERS, IP_PROTOCOL};

/// IP precedence "internetwork control" (0xc0), as RFC 2328 appendix A.1 requires.
const TOS_INTERNETWORK_CONTROL: u32 = 0xc0;

/// Room for the largest IPv4 datagram.
const RECEIVE_BUFFER: usize = 65535;

/// A received packet: IP source and destination, and the OSPF payload.
#[derive(Debug)]
pub(crate) struct Received {
    pub source: Ipv4Addr,
    pub destination: Ipv4Addr,
    pub payload: Vec<u8>,
}

/// The OSPF socket of one interface.
#[derive(Debug)]
pub(crate) struct OspfSocket {
    fd: AsyncFd<Socket>,
}

impl OspfSocket {
    /// Opens the socket of interface `name` with index `ifindex`; needs CAP_NET_RAW.
    pub(crate) fn open(name: &str, ifindex: u32) -> io::Result<OspfSocket> {
        let socket = Socket::new(
            Domain::IPV4,
            Type::RAW,
            Some(Protocol::from(i32::from(IP_PROTOCOL))),
        )?;
        socket.bind_device(Some(name.as_bytes()))?;
        socket.set_ttl_v4(1)?;
        socket.set_multicast_ttl_v4(1)?;
        socket.set_multicast_loop_v4(false)?;
        socket.set_tos_v4(TOS_INTERNETWORK_CONTROL)?;
        set_multicast_interface(&socket, ifindex)?;
        for group in [ALL_SPF_ROUTERS, ALL_D_ROUTERS] {
            socket.join_multicast_v4_n(&group, &InterfaceIndexOrAddress::Index(ifindex))?;
        }
        socket.set_recv_buffer_size(1 << 20)?;
        socket.set_nonblocking(true)?;
        // SAFETY: the Socket owns its descriptor, which stays open and unchanged until the
        // AsyncFd and with it the Socket are dropped.
        let fd = unsafe { AsyncFd::register(socket) }.map_err(io::Error::from)?;
        Ok(OspfSocket { fd })
    }

    /// Receives the next packet; the kernel hands raw IPv4 sockets the IP header too.
    pub(crate) async fn receive(&self) -> io::Result<Received> {
        let mut buffer = vec![MaybeUninit::<u8>::uninit(); RECEIVE_BUFFER];
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|fd| fd.get_ref().recv(&mut buffer)) {
                Ok(Ok(len)) => {
                    // SAFETY: recv initialised the first `len` bytes.
                    let bytes: Vec<u8> = buffer[..len]
                        .iter()
                        .map(|b| unsafe { b.assume_init() })
                        .collect();
                    if let Some(received) = parse_ip(&bytes) {
                        return Ok(received);
                    }
                }
                Ok(Err(error)) => return Err(error),
                Err(_would_block) => continue,
            }
        }
    }

    /// Sends an OSPF packet to `destination`.
    pub(crate) async fn send(&self, destination: Ipv4Addr, data: &[u8]) -> io::Result<()> {
        let address = SockAddr::from(SocketAddrV4::new(destination, 0));
        loop {
            let mut guard = self.fd.writable().await?;
            match guard.try_io(|fd| fd.get_ref().send_to(data, &address)) {
                Ok(result) => return result.map(|_| ()),
                Err(_would_block) => continue,
            }
        }
    }

    pub(crate) fn raw_fd(&self) -> i32 {
        self.fd.get_ref().as_raw_fd()
    }
}

/// Sends multicast out of `ifindex` (IP_MULTICAST_IF with an ip_mreqn naming the index), which
/// works on interfaces without an address of their own too.
fn set_multicast_interface(socket: &Socket, ifindex: u32) -> io::Result<()> {
    let request = libc::ip_mreqn {
        imr_multiaddr: libc::in_addr { s_addr: 0 },
        imr_address: libc::in_addr { s_addr: 0 },
        imr_ifindex: ifindex as libc::c_int,
    };
    // SAFETY: the option value is a valid ip_mreqn of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_MULTICAST_IF,
            (&request as *const libc::ip_mreqn).cast(),
            std::mem::size_of::<libc::ip_mreqn>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Splits an IPv4 datagram into addresses and payload; `None` for anything that is not a
/// well-formed unfragmented OSPF datagram.
fn parse_ip(bytes: &[u8]) -> Option<Received> {
    let first = *bytes.first()?;
    if first >> 4 != 4 {
        return None;
    }
    let header_len = usize::from(first & 0x0f) * 4;
    if header_len < 20 || bytes.len() < header_len || bytes.get(9) != Some(&IP_PROTOCOL) {
        return None;
    }
    let source = Ipv4Addr::new(bytes[12], bytes[13], bytes[14], bytes[15]);
    let destination = Ipv4Addr::new(bytes[16], bytes[17], bytes[18], bytes[19]);
    Some(Received {
        source,
        destination,
        payload: bytes[header_len..].to_vec(),
    })
}
