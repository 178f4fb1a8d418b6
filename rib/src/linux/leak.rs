//! Leak links: the veth pairs that carry routes leaked between VRFs, since the kernel has no
//! VRF devices to look a destination up in another table.
//!
//! VRFs `a` and `b` (table ids) share one veth pair: `lk{a}-{b}` in the namespace of `a`, and
//! `lk{b}-{a}` in the namespace of `b`. The pair uses a /31 of 169.254.0.0/16 (RFC 3021,
//! point-to-point) numbered from the ids: subnet number `a XOR b` (15 bits), the lower address
//! on the side of the lower table id. For a fixed `a`, `a XOR b` differs for every `b`, so the
//! subnets of one namespace's leak links never overlap. A route of VRF `a` into VRF `b` becomes
//! `PREFIX via PEER dev lk{a}-{b}`: the packet crosses into `b`'s namespace and is routed there.
//! The reverse traffic takes `b`'s own leaked route back.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::Ipv4Net;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{InfoData, InfoVeth};
use rtnetlink::{AddressMessageBuilder, LinkUnspec, LinkVeth};
use tracing::{info, warn};

use super::kernel::{Link, get_link};
use super::netns::NamespaceHandle;
use super::socket::RouteSocket;
use crate::model::VrfId;
use crate::southbound::PlaneError;

/// Alias (`IFLA_IFALIAS`) of both ends of a leak link: it marks them as the plane's own, so a
/// resynchronisation removes the unused ones and the event stream does not report their
/// addresses and neighbors.
pub const LEAK_LINK_ALIAS: &str = "hna-rib vrf leak";

/// Largest table id a leak link can join: the subnet number of a pair keeps 15 bits.
pub const MAX_LEAK_TABLE: u32 = 0x7fff;

/// Kernel interface names have at most 15 bytes (`IFNAMSIZ` minus the terminating zero).
const MAX_NAME_LEN: usize = 15;

/// Prefix of leak link names.
const NAME_PREFIX: &str = "lk";

/// One end of a leak link, as seen from the namespace of `vrf`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LeakEnd {
    /// `lk{vrf}-{target}`.
    pub name: String,
    /// `lk{target}-{vrf}`, in the namespace of `target`.
    pub peer_name: String,
    /// This end's address, with its /31.
    pub address: Ipv4Net,
    /// The other end's address: the gateway of routes into `target`.
    pub peer: Ipv4Addr,
}

/// Returns the name of the leak link end of `vrf` towards `target`, or `None` when the table
/// ids make it longer than an interface name can be.
pub fn leak_link_name(vrf: VrfId, target: VrfId) -> Option<String> {
    let name = format!("{NAME_PREFIX}{}-{}", vrf.0, target.0);
    (name.len() <= MAX_NAME_LEN).then_some(name)
}

/// Returns the (own VRF, target VRF) of a leak link end's name, such as `lk100-101`.
pub fn parse_leak_link_name(name: &str) -> Option<(VrfId, VrfId)> {
    let (own, target) = name.strip_prefix(NAME_PREFIX)?.split_once('-')?;
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit());
    if !digits(own) || !digits(target) {
        return None;
    }
    Some((VrfId(own.parse().ok()?), VrfId(target.parse().ok()?)))
}

/// Returns the end of the leak link of `vrf` towards `target`: names and addresses.
pub(crate) fn leak_end(vrf: VrfId, target: VrfId) -> Result<LeakEnd, PlaneError> {
    if vrf == target {
        return Err(PlaneError::Unsupported(format!(
            "a route of VRF {vrf} cannot leak into its own VRF"
        )));
    }
    if vrf.0 > MAX_LEAK_TABLE || target.0 > MAX_LEAK_TABLE {
        // NOTE: larger table ids need an allocation of the /31s instead of a derivation.
        return Err(PlaneError::Unsupported(format!(
            "leaking between tables {} and {} needs table ids of at most {MAX_LEAK_TABLE}",
            vrf.0, target.0
        )));
    }
    let (Some(name), Some(peer_name)) = (leak_link_name(vrf, target), leak_link_name(target, vrf))
    else {
        return Err(PlaneError::Unsupported(format!(
            "leak link names for tables {} and {} exceed 15 bytes",
            vrf.0, target.0
        )));
    };
    let subnet = (vrf.0 ^ target.0) & MAX_LEAK_TABLE;
    let base = u32::from(Ipv4Addr::new(169, 254, 0, 0)) + 2 * subnet;
    let (own, peer) = if vrf.0 < target.0 {
        (base, base + 1)
    } else {
        (base + 1, base)
    };
    let address = Ipv4Net::new(Ipv4Addr::from(own), 31).expect("31 is a valid IPv4 prefix length");
    Ok(LeakEnd {
        name,
        peer_name,
        address,
        peer: Ipv4Addr::from(peer),
    })
}

/// Returns whether `link` is an end of a leak link created by the plane.
pub(crate) fn is_leak_link(link: &Link) -> bool {
    link.alias.as_deref() == Some(LEAK_LINK_ALIAS) && parse_leak_link_name(&link.name).is_some()
}

/// Creates the veth pair of `end` with its peer in `peer_namespace`, and configures the end of
/// this namespace. Returns the new end.
pub(crate) fn create(
    socket: &mut RouteSocket,
    end: &LeakEnd,
    peer_namespace: &NamespaceHandle,
) -> Result<Link, PlaneError> {
    let peer = LinkUnspec::new_with_name(&end.peer_name)
        .setns_by_fd(peer_namespace.as_raw_fd())
        .build();
    let message = LinkVeth::new(&end.name, &end.peer_name)
        .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)))
        .build();
    socket.request(
        RouteNetlinkMessage::NewLink(message),
        NLM_F_CREATE | NLM_F_EXCL,
    )?;
    info!(name = %end.name, peer = %end.peer_name, "leak link created");
    configure(socket, &end.name, end.address)
}

/// Marks, numbers and raises one end of a leak link, and returns it.
pub(crate) fn configure(
    socket: &mut RouteSocket,
    name: &str,
    address: Ipv4Net,
) -> Result<Link, PlaneError> {
    let link = get_link(socket, name)?.ok_or_else(|| PlaneError::LinkNotFound(name.to_string()))?;
    let mark = LinkUnspec::new_with_index(link.index)
        .alias(LEAK_LINK_ALIAS)
        .build();
    socket.request(RouteNetlinkMessage::SetLink(mark), 0)?;
    let message = AddressMessageBuilder::<Ipv4Addr>::new()
        .index(link.index)
        .address(address.addr(), address.prefix_len())
        .build();
    match socket.request(
        RouteNetlinkMessage::NewAddress(message),
        NLM_F_CREATE | NLM_F_EXCL,
    ) {
        Err(PlaneError::Kernel { errno, .. }) if errno == libc::EEXIST => {}
        other => other.map(drop)?,
    }
    socket.request(
        RouteNetlinkMessage::SetLink(LinkUnspec::new_with_index(link.index).up().build()),
        0,
    )?;
    get_link(socket, name)?.ok_or_else(|| PlaneError::LinkNotFound(name.to_string()))
}

/// Turns reverse-path filtering off on leak link `name` in `namespace`: traffic of a leaked
/// route arrives on the leak link, while the route back to its source may take another one.
/// The kernel uses the larger of the link's value and `conf/all/rp_filter`, which the
/// namespace's owner must keep at 0.
pub(crate) fn disable_rp_filter(namespace: &NamespaceHandle, name: &str) -> Result<(), PlaneError> {
    let device = format!("/proc/sys/net/ipv4/conf/{name}/rp_filter");
    let (written, all) = namespace
        .run(move || {
            (
                std::fs::write(&device, "0"),
                std::fs::read_to_string("/proc/sys/net/ipv4/conf/all/rp_filter"),
            )
        })
        .map_err(|error| PlaneError::Io(error.to_string()))?;
    written
        .map_err(|error| PlaneError::Io(format!("cannot turn rp_filter off on {name}: {error}")))?;
    if all.is_ok_and(|value| value.trim() != "0") {
        warn!(
            name,
            "conf/all/rp_filter is on in this namespace, so it still filters the leak link"
        );
    }
    Ok(())
}

/// Deletes leak link end `name`, and with it the other end; deleting a missing link succeeds.
pub(crate) fn delete(socket: &mut RouteSocket, name: &str) -> Result<(), PlaneError> {
    let Some(link) = get_link(socket, name)? else {
        return Ok(());
    };
    let message = LinkUnspec::new_with_index(link.index).build();
    match socket.request(RouteNetlinkMessage::DelLink(message), 0) {
        Err(PlaneError::Kernel { errno, .. }) if errno == libc::ENODEV => {}
        other => other.map(drop)?,
    }
    info!(name, "leak link deleted");
    Ok(())
}

/// Returns the gateway of routes into the target of `end`.
pub(crate) fn gateway(end: &LeakEnd) -> IpAddr {
    IpAddr::V4(end.peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leak_end_addresses_form_one_slash_31() {
        let green = leak_end(VrfId(100), VrfId(101)).unwrap();
        let red = leak_end(VrfId(101), VrfId(100)).unwrap();

        assert_eq!(green.name, "lk100-101");
        assert_eq!(green.peer_name, "lk101-100");
        assert_eq!(green.address, "169.254.0.2/31".parse().unwrap());
        assert_eq!(green.peer, Ipv4Addr::new(169, 254, 0, 3));
        assert_eq!(red.address, "169.254.0.3/31".parse().unwrap());
        assert_eq!(red.peer, Ipv4Addr::new(169, 254, 0, 2));
    }

    #[test]
    fn leak_end_subnets_differ_per_namespace() {
        let mut subnets: Vec<Ipv4Net> = (1..=MAX_LEAK_TABLE)
            .filter(|id| *id != 100)
            .map(|id| leak_end(VrfId(100), VrfId(id)).unwrap().address.trunc())
            .collect();
        let count = subnets.len();
        subnets.sort();
        subnets.dedup();
        assert_eq!(subnets.len(), count);
    }

    #[test]
    fn leak_end_rejects_own_vrf_and_large_tables() {
        assert!(leak_end(VrfId(100), VrfId(100)).is_err());
        assert!(leak_end(VrfId(100), VrfId(MAX_LEAK_TABLE + 1)).is_err());
        assert!(leak_end(VrfId(12345), VrfId(23456)).is_ok());
    }

    #[test]
    fn leak_link_name_parses_back() {
        assert_eq!(
            parse_leak_link_name("lk100-101"),
            Some((VrfId(100), VrfId(101)))
        );
        assert_eq!(
            leak_link_name(VrfId(32767), VrfId(32766)).as_deref(),
            Some("lk32767-32766")
        );
        assert_eq!(leak_link_name(VrfId(1_000_000), VrfId(2_000_000)), None);
        for name in [
            "lk100",
            "lk-101",
            "lk100-",
            "lk1a-2",
            "br100-101",
            "lk100-101-2",
        ] {
            assert_eq!(parse_leak_link_name(name), None, "{name}");
        }
    }
}
