//! UDP sockets shared by all sessions of an instance (RFC 5881 section 4, RFC 5883 section 5).
//! Each port and address family has one receive socket, which reports the destination address,
//! interface, TTL and arrival time of each packet. Each family has one transmit socket, bound to
//! a source port in 49152-65535 with TTL 255, which picks the source address and interface per
//! packet.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::io;
use std::io::{IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, RawFd};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, SockaddrIn, SockaddrIn6, SockaddrStorage,
    recvmsg, sendmsg, setsockopt, sockopt,
};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tracing::{debug, error};

use crate::instance::TTL;

/// The source port range of RFC 5881 section 4.
const SOURCE_PORTS: std::ops::RangeInclusive<u16> = 49152..=65535;
/// Receive buffer requested for each receive socket: room for a few thousand packets, so that
/// a burst from many sessions survives a short scheduling delay of the instance task.
const RECEIVE_BUFFER_BYTES: usize = 4 << 20;
/// Largest datagram read; longer ones are cut, and no valid Control packet is that long.
const MAX_DATAGRAM: usize = 512;
/// Maximum age of a kernel timestamp taken as a datagram's arrival time. An older one means the
/// wall clock was stepped, so the time of reading is used instead.
const MAX_TIMESTAMP_AGE: Duration = Duration::from_secs(1);
/// IP precedence "internetwork control" (DSCP CS6), as routing protocols mark their packets.
const TOS_NETWORK_CONTROL: u32 = 0xc0;

/// The IP header fields of a received datagram that the reception checks need.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Metadata {
    pub source: IpAddr,
    pub destination: IpAddr,
    pub ifindex: u32,
    pub ttl: u8,
    /// When the kernel received the datagram (SO_TIMESTAMPNS), converted to the monotonic
    /// clock; `None` when the kernel gave no timestamp.
    pub arrival: Option<Instant>,
}

/// Opens a receive socket on `port` for one address family, with the socket options that make
/// recvmsg report the destination address, interface, TTL and arrival time.
pub(crate) fn open_receive_socket(ipv6: bool, port: u16) -> io::Result<AsyncFd<Socket>> {
    let socket = if ipv6 {
        let socket = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
        socket.set_only_v6(true)?;
        setsockopt(&socket, sockopt::Ipv6RecvPacketInfo, &true).map_err(io::Error::from)?;
        setsockopt(&socket, sockopt::Ipv6RecvHopLimit, &true).map_err(io::Error::from)?;
        setsockopt(&socket, sockopt::ReceiveTimestampns, &true).map_err(io::Error::from)?;
        socket.set_reuse_address(true)?;
        socket.bind(&SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port).into())?;
        socket
    } else {
        let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
        setsockopt(&socket, sockopt::Ipv4PacketInfo, &true).map_err(io::Error::from)?;
        setsockopt(&socket, sockopt::Ipv4RecvTtl, &true).map_err(io::Error::from)?;
        setsockopt(&socket, sockopt::ReceiveTimestampns, &true).map_err(io::Error::from)?;
        socket.set_reuse_address(true)?;
        socket.bind(&SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port).into())?;
        socket
    };
    enlarge_receive_buffer(&socket);
    socket.set_nonblocking(true)?;
    // SAFETY: the socket owns its descriptor, which stays open and unchanged until the AsyncFd
    // that now owns the socket is dropped.
    unsafe { AsyncFd::register_with_interest(socket, Interest::READABLE) }
        .map_err(|error| error.into_parts().1)
}

/// Asks for a large receive buffer, beyond net.core.rmem_max when the process may (root).
fn enlarge_receive_buffer(socket: &Socket) {
    let size = RECEIVE_BUFFER_BYTES as libc::c_int;
    // SAFETY: the option value points to a live c_int of the given length.
    let forced = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if forced != 0 {
        let _ = socket.set_recv_buffer_size(RECEIVE_BUFFER_BYTES);
    }
}

/// Opens the transmit socket of one family, bound to the first free port of 49152-65535 from
/// the one `random` selects, with TTL (Hop Limit) 255 and the network-control precedence.
pub(crate) fn open_transmit_socket(ipv6: bool, random: u32) -> io::Result<Socket> {
    let socket = if ipv6 {
        let socket = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
        socket.set_only_v6(true)?;
        socket.set_unicast_hops_v6(u32::from(TTL))?;
        socket.set_tclass_v6(TOS_NETWORK_CONTROL)?;
        socket
    } else {
        let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
        socket.set_ttl_v4(u32::from(TTL))?;
        socket.set_tos_v4(TOS_NETWORK_CONTROL)?;
        socket
    };
    socket.set_nonblocking(true)?;
    let span = u32::from(SOURCE_PORTS.end() - SOURCE_PORTS.start()) + 1;
    let offset = random % span;
    let unspecified = if ipv6 {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    };
    let mut last_error = io::Error::from(io::ErrorKind::AddrInUse);
    for attempt in 0..span {
        let port = SOURCE_PORTS.start() + ((offset + attempt) % span) as u16;
        match socket.bind(&SocketAddr::new(unspecified, port).into()) {
            Ok(()) => return Ok(socket),
            Err(error) if error.kind() == io::ErrorKind::AddrInUse => last_error = error,
            Err(error) => return Err(error),
        }
    }
    Err(last_error)
}

/// A receive socket owned by the instance task, which reads it directly. When the task wakes
/// after a delay, it reads every datagram that arrived meanwhile before it runs any detection
/// timer, so packets waiting in the socket are not mistaken for lost ones.
#[derive(Debug)]
pub(crate) struct Receiver {
    socket: AsyncFd<Socket>,
    pub multihop: bool,
    buffer: Vec<u8>,
    control: Vec<u8>,
}

impl Receiver {
    pub(crate) fn new(socket: AsyncFd<Socket>, multihop: bool) -> Receiver {
        Receiver {
            socket,
            multihop,
            buffer: vec![0; MAX_DATAGRAM],
            control: nix::cmsg_space!(libc::in6_pktinfo, libc::c_int, libc::timespec),
        }
    }

    /// Reads up to `limit` waiting datagrams, hands each to `handle`, and returns how many were
    /// read. It reads the socket whatever tokio's readiness state is, and clears that state once
    /// the socket is empty, so that [`Receiver::poll_readable`] waits for new datagrams.
    pub(crate) fn drain(&mut self, limit: usize, mut handle: impl FnMut(&[u8], Metadata)) -> usize {
        let fd = self.socket.get_ref().as_raw_fd();
        let mut count = 0;
        while count < limit {
            match receive_one(fd, &mut self.buffer, &mut self.control) {
                Ok(Some((length, metadata))) => {
                    count += 1;
                    handle(self.buffer.get(..length).unwrap_or_default(), metadata);
                }
                Ok(None) => count += 1,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    let _ = self.socket.try_io(Interest::READABLE, |_| {
                        Err::<(), _>(io::Error::from(io::ErrorKind::WouldBlock))
                    });
                    break;
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    // A pending socket error is consumed by the failed call, so reading goes
                    // on; the limit bounds a socket that keeps failing.
                    debug!(multihop = self.multihop, %error, "recvmsg on the BFD socket failed");
                    count += 1;
                }
            }
        }
        count
    }

    /// Polls whether datagrams may be waiting.
    pub(crate) fn poll_readable(&self, context: &mut Context<'_>) -> Poll<()> {
        match self.socket.poll_read_ready(context) {
            Poll::Ready(Ok(_guard)) => Poll::Ready(()),
            Poll::Ready(Err(error)) => {
                // A broken registration would wake the task in a loop; report it once and
                // fall back to the timer wake-ups, which also drain the socket.
                error!(multihop = self.multihop, %error, "BFD receive socket cannot be polled");
                Poll::Pending
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Reads one datagram into `buffer`. Returns its length and metadata, or `None` for a datagram
/// without the expected ancillary data (which the socket options make impossible on Linux, but
/// which is no reason to stop).
fn receive_one(
    fd: RawFd,
    buffer: &mut [u8],
    control: &mut [u8],
) -> io::Result<Option<(usize, Metadata)>> {
    let mut iov = [IoSliceMut::new(buffer)];
    let message = recvmsg::<SockaddrStorage>(fd, &mut iov, Some(control), MsgFlags::MSG_DONTWAIT)
        .map_err(io::Error::from)?;
    let length = message.bytes;
    let source = message.address.and_then(|address| socket_ip(&address));
    let mut destination = None;
    let mut ifindex = 0;
    let mut ttl = None;
    let mut arrival = None;
    for cmsg in message.cmsgs().map_err(io::Error::from)? {
        match cmsg {
            ControlMessageOwned::Ipv4PacketInfo(info) => {
                destination = Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                    info.ipi_addr.s_addr,
                ))));
                ifindex = info.ipi_ifindex as u32;
            }
            ControlMessageOwned::Ipv6PacketInfo(info) => {
                destination = Some(IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr)));
                ifindex = info.ipi6_ifindex;
            }
            ControlMessageOwned::Ipv4Ttl(value) | ControlMessageOwned::Ipv6HopLimit(value) => {
                ttl = u8::try_from(value).ok();
            }
            ControlMessageOwned::ScmTimestampns(stamp) => {
                let received = UNIX_EPOCH
                    + Duration::new(
                        stamp.tv_sec().max(0) as u64,
                        stamp.tv_nsec().clamp(0, 999_999_999) as u32,
                    );
                // The kernel stamps with the wall clock, so the packet's age on the wall clock,
                // read together with the monotonic clock, converts the stamp. A stamp in the
                // future or older than MAX_TIMESTAMP_AGE (a clock step) counts as age zero.
                let (monotonic, wall) = (Instant::now(), SystemTime::now());
                let age = wall
                    .duration_since(received)
                    .ok()
                    .filter(|age| *age <= MAX_TIMESTAMP_AGE)
                    .unwrap_or_default();
                arrival = monotonic.checked_sub(age);
            }
            _ => {}
        }
    }
    let (Some(source), Some(destination), Some(ttl)) = (source, destination, ttl) else {
        return Ok(None);
    };
    Ok(Some((
        length.min(MAX_DATAGRAM),
        Metadata {
            source,
            destination,
            ifindex,
            ttl,
            arrival,
        },
    )))
}

fn socket_ip(address: &SockaddrStorage) -> Option<IpAddr> {
    if let Some(v4) = address.as_sockaddr_in() {
        return Some(IpAddr::V4(v4.ip()));
    }
    let v6 = address.as_sockaddr_in6()?;
    let ip = v6.ip();
    // A v4-mapped source cannot occur on the IPv6-only sockets, but would name an IPv4 peer.
    Some(ip.to_ipv4_mapped().map_or(IpAddr::V6(ip), IpAddr::V4))
}

/// Sends `payload` to `peer` from `socket`, from the `local` address and out of interface
/// `ifindex` when given (IP_PKTINFO / IPV6_PKTINFO), else as the routing table decides.
pub(crate) fn send(
    socket: &Socket,
    payload: &[u8],
    peer: SocketAddr,
    local: Option<IpAddr>,
    ifindex: u32,
) -> io::Result<()> {
    let iov = [IoSlice::new(payload)];
    let fd = socket.as_raw_fd();
    let flags = MsgFlags::MSG_DONTWAIT;
    match peer {
        SocketAddr::V4(peer) => {
            let address = SockaddrIn::from(peer);
            let local = match local {
                Some(IpAddr::V4(local)) => Some(local),
                Some(IpAddr::V6(local)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("local address {local} is not IPv4"),
                    ));
                }
                None => None,
            };
            if local.is_none() && ifindex == 0 {
                return sendmsg(fd, &iov, &[], flags, Some(&address))
                    .map(drop)
                    .map_err(io::Error::from);
            }
            let info = libc::in_pktinfo {
                ipi_ifindex: ifindex as libc::c_int,
                ipi_spec_dst: libc::in_addr {
                    s_addr: u32::from(local.unwrap_or(Ipv4Addr::UNSPECIFIED)).to_be(),
                },
                ipi_addr: libc::in_addr { s_addr: 0 },
            };
            sendmsg(
                fd,
                &iov,
                &[ControlMessage::Ipv4PacketInfo(&info)],
                flags,
                Some(&address),
            )
            .map(drop)
            .map_err(io::Error::from)
        }
        SocketAddr::V6(peer) => {
            let scope = if is_link_local(peer.ip()) {
                ifindex
            } else {
                peer.scope_id()
            };
            let address = SockaddrIn6::from(SocketAddrV6::new(*peer.ip(), peer.port(), 0, scope));
            let local = match local {
                Some(IpAddr::V6(local)) => Some(local),
                Some(IpAddr::V4(local)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("local address {local} is not IPv6"),
                    ));
                }
                None => None,
            };
            if local.is_none() && ifindex == 0 {
                return sendmsg(fd, &iov, &[], flags, Some(&address))
                    .map(drop)
                    .map_err(io::Error::from);
            }
            let info = libc::in6_pktinfo {
                ipi6_addr: libc::in6_addr {
                    s6_addr: local.unwrap_or(Ipv6Addr::UNSPECIFIED).octets(),
                },
                ipi6_ifindex: ifindex,
            };
            sendmsg(
                fd,
                &iov,
                &[ControlMessage::Ipv6PacketInfo(&info)],
                flags,
                Some(&address),
            )
            .map(drop)
            .map_err(io::Error::from)
        }
    }
}

fn is_link_local(ip: &Ipv6Addr) -> bool {
    ip.segments()[0] & 0xffc0 == 0xfe80
}

/// Returns the socket address of `peer` on `port`.
pub(crate) fn peer_address(peer: IpAddr, port: u16) -> SocketAddr {
    match peer {
        IpAddr::V4(ip) => SocketAddr::V4(SocketAddrV4::new(ip, port)),
        IpAddr::V6(ip) => SocketAddr::V6(SocketAddrV6::new(ip, port, 0, 0)),
    }
}

/// Interface names and indexes, looked up in the kernel and remembered for a few seconds so
/// that a renamed or recreated interface is noticed.
#[derive(Debug, Default)]
pub(crate) struct Interfaces {
    by_index: HashMap<u32, (String, Instant)>,
    by_name: HashMap<String, (u32, Instant)>,
}

/// How long a looked-up name or index is trusted.
const INTERFACE_CACHE_TTL: Duration = Duration::from_secs(5);

impl Interfaces {
    /// Returns the name of interface `index`, or `None` when it does not exist.
    pub(crate) fn name(&mut self, index: u32, now: Instant) -> Option<&str> {
        if index == 0 {
            return None;
        }
        let fresh = self
            .by_index
            .get(&index)
            .is_some_and(|(_, at)| now.duration_since(*at) < INTERFACE_CACHE_TTL);
        if !fresh {
            match index_to_name(index) {
                Some(name) => {
                    self.by_index.insert(index, (name, now));
                }
                None => {
                    self.by_index.remove(&index);
                }
            }
        }
        self.by_index.get(&index).map(|(name, _)| name.as_str())
    }

    /// Returns the index of interface `name`, or 0 when it does not exist.
    pub(crate) fn index(&mut self, name: &str, now: Instant) -> u32 {
        if let Some((index, at)) = self.by_name.get(name)
            && now.duration_since(*at) < INTERFACE_CACHE_TTL
        {
            return *index;
        }
        let index = CString::new(name).ok().map_or(0, |name| {
            // SAFETY: `name` is a valid NUL-terminated string for the duration of the call.
            unsafe { libc::if_nametoindex(name.as_ptr()) }
        });
        self.by_name.insert(name.to_string(), (index, now));
        index
    }
}

fn index_to_name(index: u32) -> Option<String> {
    let mut buffer = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: the buffer has IF_NAMESIZE bytes, as if_indextoname requires.
    let result = unsafe { libc::if_indextoname(index, buffer.as_mut_ptr()) };
    if result.is_null() {
        return None;
    }
    // SAFETY: on success the buffer contains a NUL-terminated name.
    let name = unsafe { CStr::from_ptr(buffer.as_ptr()) };
    Some(name.to_string_lossy().into_owned())
}
