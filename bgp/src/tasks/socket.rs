//! Socket options of BGP connections on Linux: TCP-MD5 keys (RFC 2385) per peer and per prefix,
//! TTL, and the GTSM minimum TTL (RFC 5082).

use std::io;
use std::mem;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};

use ipnet::IpNet;
use socket2::{Domain, Protocol, SockRef, Socket, Type};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use crate::instance::SocketSettings;

/// `struct tcp_md5sig` of `linux/tcp.h`.
#[repr(C)]
struct TcpMd5Sig {
    tcpm_addr: libc::sockaddr_storage,
    tcpm_flags: u8,
    tcpm_prefixlen: u8,
    tcpm_keylen: u16,
    tcpm_ifindex: libc::c_int,
    tcpm_key: [u8; libc::TCP_MD5SIG_MAXKEYLEN],
}

/// `TCP_MD5SIG_FLAG_PREFIX`: `tcpm_prefixlen` is valid (with `TCP_MD5SIG_EXT`).
const TCP_MD5SIG_FLAG_PREFIX: u8 = 0x1;

fn sockaddr_storage(address: IpAddr) -> libc::sockaddr_storage {
    // SAFETY: sockaddr_storage is plain data for which all zeroes is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    match address {
        IpAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: 0,
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than sockaddr_in and suitably aligned for it.
            unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in, sin) };
        }
        IpAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: 0,
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.octets(),
                },
                sin6_scope_id: 0,
            };
            // SAFETY: as above, for sockaddr_in6.
            unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in6, sin6) };
        }
    }
    storage
}

/// Installs (`Some`) or removes (`None`) the TCP-MD5 key for connections with the peers of
/// `prefix` on socket `fd`. A host prefix uses `TCP_MD5SIG`; a shorter one `TCP_MD5SIG_EXT`
/// with a prefix length (Linux 4.13 and later).
pub fn set_md5_key(fd: RawFd, prefix: IpNet, key: Option<&str>) -> io::Result<()> {
    let key = key.unwrap_or("").as_bytes();
    if key.len() > libc::TCP_MD5SIG_MAXKEYLEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "TCP-MD5 key longer than 80 octets",
        ));
    }
    let mut sig = TcpMd5Sig {
        tcpm_addr: sockaddr_storage(prefix.addr()),
        tcpm_flags: 0,
        tcpm_prefixlen: 0,
        tcpm_keylen: key.len() as u16,
        tcpm_ifindex: 0,
        tcpm_key: [0; libc::TCP_MD5SIG_MAXKEYLEN],
    };
    sig.tcpm_key[..key.len()].copy_from_slice(key);
    let option = if prefix.prefix_len() == prefix.max_prefix_len() {
        libc::TCP_MD5SIG
    } else {
        sig.tcpm_flags = TCP_MD5SIG_FLAG_PREFIX;
        sig.tcpm_prefixlen = prefix.prefix_len();
        libc::TCP_MD5SIG_EXT
    };
    // SAFETY: `sig` is a valid tcp_md5sig that outlives the call, and its size is passed.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            option,
            &sig as *const TcpMd5Sig as *const libc::c_void,
            mem::size_of::<TcpMd5Sig>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sets the GTSM minimum TTL (IPv4) or hop limit (IPv6) of received packets.
fn set_min_ttl(fd: RawFd, ipv6: bool, min_ttl: u8) -> io::Result<()> {
    let value = libc::c_int::from(min_ttl);
    let (level, option) = if ipv6 {
        (libc::IPPROTO_IPV6, libc::IPV6_MINHOPCOUNT)
    } else {
        (libc::IPPROTO_IP, libc::IP_MINTTL)
    };
    // SAFETY: `value` is a valid c_int that outlives the call, and its size is passed.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            option,
            &value as *const libc::c_int as *const libc::c_void,
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Applies the TTL setting to a socket of family `ipv6`.
fn apply_ttl(socket: SockRef<'_>, ipv6: bool, settings: &SocketSettings) -> io::Result<()> {
    if ipv6 {
        socket.set_unicast_hops_v6(u32::from(settings.ttl))
    } else {
        socket.set_ttl_v4(u32::from(settings.ttl))
    }
}

/// Applies the GTSM minimum TTL, when configured.
fn apply_min_ttl(fd: RawFd, ipv6: bool, settings: &SocketSettings) -> io::Result<()> {
    match settings.min_ttl {
        Some(min_ttl) => set_min_ttl(fd, ipv6, min_ttl),
        None => Ok(()),
    }
}

/// Applies the per-connection settings to an accepted connection. Its TCP-MD5 key came from
/// the listening socket.
pub fn configure_accepted(stream: &TcpStream, settings: &SocketSettings) -> io::Result<()> {
    let ipv6 = stream.local_addr()?.is_ipv6();
    stream.set_nodelay(true)?;
    apply_ttl(SockRef::from(stream), ipv6, settings)?;
    apply_min_ttl(stream.as_raw_fd(), ipv6, settings)
}

/// Opens a connection to `remote` from `local` (port chosen by the kernel) with `settings`.
/// The GTSM minimum TTL applies once connected: the peer's SYN-ACK carries its listener's TTL,
/// which need not be 255 (RFC 5082 protects the session's segments, not the handshake).
pub async fn connect(
    remote: SocketAddr,
    local: Option<IpAddr>,
    settings: &SocketSettings,
) -> io::Result<TcpStream> {
    let socket = if remote.is_ipv6() {
        TcpSocket::new_v6()?
    } else {
        TcpSocket::new_v4()?
    };
    let fd = socket.as_raw_fd();
    if let Some(key) = &settings.md5_key {
        set_md5_key(fd, IpNet::from(remote.ip()), Some(key))?;
    }
    apply_ttl(SockRef::from(&socket), remote.is_ipv6(), settings)?;
    socket.set_nodelay(true)?;
    if let Some(local) = local {
        socket.bind(SocketAddr::new(local, 0))?;
    }
    let stream = socket.connect(remote).await?;
    apply_min_ttl(stream.as_raw_fd(), remote.is_ipv6(), settings)?;
    Ok(stream)
}

/// Opens a listening socket on `address`; IPv6 sockets accept only IPv6 (`IPV6_V6ONLY`) so
/// that IPv4 peers and their keys live on the IPv4 socket. The SYN-ACK leaves with TTL 255,
/// which a GTSM peer requires (RFC 5082 section 3); each accepted connection then gets its
/// neighbor's TTL.
pub fn listen(address: SocketAddr) -> io::Result<TcpListener> {
    let domain = if address.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let socket = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
    if address.is_ipv6() {
        socket.set_only_v6(true)?;
        socket.set_unicast_hops_v6(255)?;
    } else {
        socket.set_ttl_v4(255)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&address.into())?;
    socket.listen(128)?;
    TcpListener::from_std(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_struct_has_kernel_layout() {
        // sockaddr_storage (128) + flags, prefixlen, keylen (4) + ifindex (4) + key (80).
        assert_eq!(mem::size_of::<TcpMd5Sig>(), 216);
    }

    #[tokio::test]
    async fn md5_key_installs_on_listener() {
        let listener = listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let fd = listener.as_raw_fd();
        set_md5_key(fd, "127.0.0.2/32".parse().unwrap(), Some("secret")).unwrap();
        set_md5_key(fd, "127.0.1.0/24".parse().unwrap(), Some("range")).unwrap();
        set_md5_key(fd, "127.0.0.2/32".parse().unwrap(), None).unwrap();
    }

    #[tokio::test]
    async fn connect_with_md5_key_reaches_listener_with_same_key() {
        let listener = listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let address = listener.local_addr().unwrap();
        set_md5_key(
            listener.as_raw_fd(),
            "127.0.0.1/32".parse().unwrap(),
            Some("k"),
        )
        .unwrap();
        let settings = SocketSettings {
            ttl: 255,
            min_ttl: Some(255),
            md5_key: Some("k".into()),
        };
        let (client, server) = tokio::join!(connect(address, None, &settings), listener.accept());
        let client = client.unwrap();
        let (server, _) = server.unwrap();
        configure_accepted(&server, &settings).unwrap();
        assert_eq!(SockRef::from(&client).ttl_v4().unwrap(), 255);
    }
}
