//! Reading the interfaces of the calling thread's network namespace with getifaddrs(3).

use std::collections::BTreeMap;
use std::ffi::CStr;
use std::io;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::interface::InterfaceInfo;

/// Returns every interface of the current network namespace with its IPv4 addresses.
///
/// The sockets that glibc's getifaddrs and the MTU ioctl open belong to the calling thread's
/// namespace, so a thread that entered a namespace sees that namespace's interfaces.
pub fn read_interfaces() -> io::Result<Vec<InterfaceInfo>> {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs writes a list head that freeifaddrs releases below.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut interfaces: BTreeMap<String, InterfaceInfo> = BTreeMap::new();
    let mut cursor = list;
    while !cursor.is_null() {
        // SAFETY: the list stays valid until freeifaddrs; each node is initialised by libc.
        let entry = unsafe { &*cursor };
        cursor = entry.ifa_next;
        // SAFETY: ifa_name is a NUL-terminated string for every entry.
        let name = unsafe { CStr::from_ptr(entry.ifa_name) }
            .to_string_lossy()
            .into_owned();
        let flags = entry.ifa_flags;
        let info = interfaces
            .entry(name.clone())
            .or_insert_with(|| InterfaceInfo {
                ifindex: interface_index(&name),
                mtu: interface_mtu(&name).unwrap_or(1500),
                up: flags & libc::IFF_UP as u32 != 0 && flags & libc::IFF_RUNNING as u32 != 0,
                loopback: flags & libc::IFF_LOOPBACK as u32 != 0,
                name,
                addresses: Vec::new(),
            });
        if let (Some(address), Some(mask)) = (ipv4_of(entry.ifa_addr), ipv4_of(entry.ifa_netmask)) {
            let prefix_len = u32::from(mask).leading_ones() as u8;
            if let Ok(net) = Ipv4Net::new(address, prefix_len) {
                info.addresses.push(net);
            }
        }
    }
    // SAFETY: `list` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(list) };
    Ok(interfaces
        .into_values()
        .filter(|info| info.ifindex != 0)
        .collect())
}

fn ipv4_of(address: *const libc::sockaddr) -> Option<Ipv4Addr> {
    if address.is_null() {
        return None;
    }
    // SAFETY: a non-null sockaddr from getifaddrs is valid; its family selects the struct to read.
    unsafe {
        if i32::from((*address).sa_family) != libc::AF_INET {
            return None;
        }
        let inet = &*(address as *const libc::sockaddr_in);
        Some(Ipv4Addr::from(u32::from_be(inet.sin_addr.s_addr)))
    }
}

fn interface_index(name: &str) -> u32 {
    let Ok(name) = std::ffi::CString::new(name) else {
        return 0;
    };
    // SAFETY: `name` is a valid NUL-terminated string.
    unsafe { libc::if_nametoindex(name.as_ptr()) }
}

fn interface_mtu(name: &str) -> Option<u32> {
    // SAFETY: a plain UDP socket used for one ioctl and closed by OwnedFd.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: fd is a fresh descriptor we own.
    let owned = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    // SAFETY: ifreq is plain old data; zero is a valid initial value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    let bytes = name.as_bytes();
    if bytes.len() >= request.ifr_name.len() {
        return None;
    }
    for (slot, byte) in request.ifr_name.iter_mut().zip(bytes) {
        *slot = *byte as libc::c_char;
    }
    // SAFETY: SIOCGIFMTU reads ifr_name and writes ifr_ifru.ifru_mtu.
    let rc = unsafe {
        libc::ioctl(
            std::os::fd::AsRawFd::as_raw_fd(&owned),
            libc::SIOCGIFMTU,
            &mut request,
        )
    };
    if rc < 0 {
        return None;
    }
    // SAFETY: the ioctl succeeded, so the MTU member is set.
    let mtu = unsafe { request.ifr_ifru.ifru_mtu };
    u32::try_from(mtu).ok()
}
