//! Turns statements of the path-style format into the typed [`Config`].
//!
//! Each statement is a path from the root of the configuration tree, for example
//! `/ vrf main routing bgp neighbor 10.0.0.201 remote-as 65500`. After the path reaches a list
//! entry or container, the rest of the line may set several of its leaves at once
//! (`seq 10 address 10.60.0.0/16 policy permit`). Statements that name the same node merge, so a
//! later line completes or overrides an earlier one. Subtrees outside routing (fast path,
//! firewall, KPI export, license) are accepted without validation and recorded as out of scope.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};

use super::cursor::Cursor;
use super::error::{ConfigError, Position};
use super::lexer::Statement;
use super::model::*;

/// A name used in one place that must be defined in another, checked once the whole file is read.
#[derive(Debug)]
pub(super) struct Reference {
    pub kind: ReferenceKind,
    pub name: String,
    pub position: Position,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReferenceKind {
    Interface,
    L3vrf,
    PrefixList,
    RouteMap,
    NeighborGroup,
}

impl ReferenceKind {
    pub fn label(self) -> &'static str {
        match self {
            ReferenceKind::Interface => "interface",
            ReferenceKind::L3vrf => "l3vrf",
            ReferenceKind::PrefixList => "ipv4-prefix-list",
            ReferenceKind::RouteMap => "route-map",
            ReferenceKind::NeighborGroup => "neighbor-group",
        }
    }
}

/// Positions of the first definition of each node, for errors found after the whole file is read.
#[derive(Debug, Default)]
pub(super) struct Origins {
    pub interfaces: std::collections::BTreeMap<String, Position>,
    pub l3vrfs: std::collections::BTreeMap<String, Position>,
    pub bgp: Option<Position>,
    pub neighbors: std::collections::BTreeMap<String, Position>,
    pub prefix_list_entries: std::collections::BTreeMap<(String, u32), Position>,
    pub route_map_entries: std::collections::BTreeMap<(String, u32), Position>,
    pub ospf: Option<Position>,
    /// The `dead-interval` statement of each OSPF interface that sets one.
    pub dead_intervals: std::collections::BTreeMap<String, Position>,
}

pub(super) struct Parser<'c> {
    pub config: &'c mut Config,
    pub references: Vec<Reference>,
    pub origins: Origins,
}

const FORM_IPV4: &str = "an IPv4 address such as 10.0.0.1";
const FORM_IPV4_PREFIX: &str = "an IPv4 prefix such as 10.60.0.0/16";
const FORM_IPV4_INTERFACE: &str = "an IPv4 address with prefix length such as 10.0.11.2/24";
const FORM_RD: &str = "ASN:NN or IPv4:NN, such as 65500:100";
const FORM_MAC: &str = "a MAC address such as 00:00:00:00:01:01";

impl<'c> Parser<'c> {
    pub fn new(config: &'c mut Config) -> Self {
        Parser {
            config,
            references: Vec::new(),
            origins: Origins::default(),
        }
    }

    /// Applies one statement to the configuration.
    pub fn apply(&mut self, statement: &Statement) -> Result<(), ConfigError> {
        let mut cursor = Cursor::new(
            &statement.words,
            statement.line,
            statement.text.chars().count(),
        );
        if !statement.rooted {
            return self.shell_command(&mut cursor, statement);
        }
        match cursor.keyword(&["system", "vrf", "routing"])? {
            "system" => self.system(&mut cursor, statement),
            "vrf" => self.vrf(&mut cursor, statement),
            _ => self.global_routing(&mut cursor),
        }
    }

    fn out_of_scope(
        &mut self,
        kind: OutOfScopeKind,
        statement: &Statement,
    ) -> Result<(), ConfigError> {
        self.config.out_of_scope.push(OutOfScopeLine {
            kind,
            line: statement.line,
            text: statement.text.clone(),
        });
        Ok(())
    }

    fn shell_command(
        &mut self,
        cursor: &mut Cursor,
        statement: &Statement,
    ) -> Result<(), ConfigError> {
        let position = cursor.position();
        match cursor.word("a statement starting with `/`")?.text.as_str() {
            "load" | "commit" | "validate" => {
                self.out_of_scope(OutOfScopeKind::ShellCommand, statement)
            }
            other => Err(ConfigError::new(
                position,
                format!("unknown command `{other}`"),
                "a statement starting with `/`, a comment starting with `#`, or `load`",
            )),
        }
    }

    fn system(&mut self, cursor: &mut Cursor, statement: &Statement) -> Result<(), ConfigError> {
        let Some(word) = cursor.peek() else {
            return Err(ConfigError::new(
                cursor.position(),
                "incomplete statement",
                "a system setting",
            ));
        };
        match word.text.as_str() {
            "hostname" => {
                cursor.word("hostname")?;
                self.config.hostname = Some(cursor.name("a host name")?);
                cursor.finish()
            }
            "fast-path" => self.out_of_scope(OutOfScopeKind::FastPath, statement),
            "license" => self.out_of_scope(OutOfScopeKind::License, statement),
            // Bridged traffic through netfilter serves the firewall, not routing.
            "network-stack" => self.out_of_scope(OutOfScopeKind::Firewall, statement),
            _ => self.out_of_scope(OutOfScopeKind::System, statement),
        }
    }

    fn vrf(&mut self, cursor: &mut Cursor, statement: &Statement) -> Result<(), ConfigError> {
        let position = cursor.position();
        let name = cursor.name("a VRF name")?;
        if name != "main" {
            return Err(ConfigError::new(
                position,
                format!("unsupported vrf `{name}`"),
                "`main` (tenants are configured as `l3vrf` inside `vrf main`)",
            ));
        }
        match cursor.keyword(&["interface", "l3vrf", "routing", "firewall", "kpi"])? {
            "interface" => self.interface(cursor, None, statement),
            "l3vrf" => self.l3vrf(cursor, statement),
            "routing" => self.routing(cursor),
            "firewall" => self.out_of_scope(OutOfScopeKind::Firewall, statement),
            _ => self.out_of_scope(OutOfScopeKind::Kpi, statement),
        }
    }

    // ---- interfaces ----

    fn interface(
        &mut self,
        cursor: &mut Cursor,
        l3vrf: Option<&str>,
        statement: &Statement,
    ) -> Result<(), ConfigError> {
        let kinds: &[&'static str] = match l3vrf {
            None => &[
                "physical",
                "loopback",
                "fpvhost",
                "infrastructure",
                "vxlan",
                "bridge",
            ],
            Some(_) => &["bridge"],
        };
        let kind = match cursor.keyword(kinds)? {
            "physical" => InterfaceKind::Physical,
            "loopback" => InterfaceKind::Loopback,
            "fpvhost" => InterfaceKind::Fpvhost,
            "infrastructure" => InterfaceKind::Infrastructure,
            "vxlan" => InterfaceKind::Vxlan,
            _ => InterfaceKind::Bridge,
        };
        let name_position = cursor.position();
        let name = cursor.name("an interface name")?;
        if name.is_empty() || name.len() > 15 || name.contains(['/', ' ']) {
            return Err(ConfigError::new(
                name_position,
                format!("invalid interface name `{name}`"),
                "1 to 15 characters without `/` or blanks (the kernel's limit)",
            ));
        }
        self.define_interface(&name, kind, l3vrf, name_position)?;

        if cursor.is_done() {
            return Ok(());
        }
        while !cursor.is_done() {
            if cursor.peek().is_some_and(|word| word.text == "port") {
                // The binding of an interface to a fast-path port belongs to the fast path.
                return self.out_of_scope(OutOfScopeKind::FastPath, statement);
            }
            self.interface_leaf(cursor, &name, kind)?;
        }
        Ok(())
    }

    fn define_interface(
        &mut self,
        name: &str,
        kind: InterfaceKind,
        l3vrf: Option<&str>,
        position: Position,
    ) -> Result<(), ConfigError> {
        match self.config.interfaces.get(name) {
            Some(existing) if existing.kind != kind || existing.l3vrf.as_deref() != l3vrf => {
                let first = self
                    .origins
                    .interfaces
                    .get(name)
                    .copied()
                    .unwrap_or_default();
                Err(ConfigError::new(
                    position,
                    format!(
                        "interface `{name}` is already defined as {} {} at line {}",
                        existing
                            .l3vrf
                            .as_deref()
                            .map_or("vrf main".to_string(), |v| format!("l3vrf {v}")),
                        existing.kind.keyword(),
                        first.line
                    ),
                    "one kind and one VRF per interface name",
                ))
            }
            Some(_) => Ok(()),
            None => {
                let mut interface = Interface::new(kind);
                interface.l3vrf = l3vrf.map(str::to_string);
                self.config.interfaces.insert(name.to_string(), interface);
                self.origins.interfaces.insert(name.to_string(), position);
                Ok(())
            }
        }
    }

    fn interface_leaf(
        &mut self,
        cursor: &mut Cursor,
        name: &str,
        kind: InterfaceKind,
    ) -> Result<(), ConfigError> {
        let mut leaves = vec!["description", "mtu", "ipv4", "ethernet"];
        match kind {
            InterfaceKind::Vxlan => leaves.extend(["vni", "local", "link-interface", "learning"]),
            InterfaceKind::Bridge => leaves.extend(["link-interface", "network-stack"]),
            _ => {}
        }
        let leaf = cursor.keyword(&leaves)?;
        let mut member_reference = None;
        {
            let interface = self
                .config
                .interfaces
                .get_mut(name)
                .expect("interface defined before its leaves");
            match leaf {
                "description" => interface.description = Some(cursor.name("a description")?),
                "mtu" => interface.mtu = Some(cursor.number("MTU", 68u32, 65535)?),
                "ipv4" => {
                    cursor.keyword(&["address"])?;
                    let address: Ipv4Net =
                        cursor.value("IPv4 interface address", FORM_IPV4_INTERFACE)?;
                    if !interface.ipv4_addresses.contains(&address) {
                        interface.ipv4_addresses.push(address);
                    }
                }
                "ethernet" => {
                    cursor.keyword(&["mac-address"])?;
                    interface.mac_address = Some(cursor.value("MAC address", FORM_MAC)?);
                }
                "vni" => vxlan(interface).vni = Some(cursor.number("VNI", 1u32, 0xFF_FFFF)?),
                "local" => {
                    vxlan(interface).local = Some(cursor.value("local VTEP address", FORM_IPV4)?)
                }
                "learning" => vxlan(interface).learning = Some(cursor.boolean("learning")?),
                "link-interface" if kind == InterfaceKind::Vxlan => {
                    let position = cursor.position();
                    let underlay = cursor.name("an interface name")?;
                    vxlan(interface).link_interface = Some(underlay.clone());
                    member_reference = Some((underlay, position));
                }
                "link-interface" => {
                    let position = cursor.position();
                    let member = cursor.name("an interface name")?;
                    let learning = if cursor.accept("learning") {
                        Some(cursor.boolean("learning")?)
                    } else {
                        None
                    };
                    let bridge = interface.bridge.get_or_insert_with(Bridge::default);
                    match bridge
                        .members
                        .iter_mut()
                        .find(|existing| existing.name == member)
                    {
                        Some(existing) => existing.learning = learning.or(existing.learning),
                        None => bridge.members.push(BridgeMember {
                            name: member.clone(),
                            learning,
                        }),
                    }
                    member_reference = Some((member, position));
                }
                _ => {
                    // network-stack
                    let bridge = interface.bridge.get_or_insert_with(Bridge::default);
                    match cursor.keyword(&["ipv4", "neighbor"])? {
                        "ipv4" => {
                            cursor.keyword(&["arp-accept-gratuitous"])?;
                            let position = cursor.position();
                            let value = cursor.name("`always` or `never`")?;
                            if value != "always" && value != "never" {
                                return Err(ConfigError::new(
                                    position,
                                    format!("invalid arp-accept-gratuitous `{value}`"),
                                    "`always` or `never`",
                                ));
                            }
                            bridge.arp_accept_gratuitous = Some(value);
                        }
                        _ => {
                            cursor.keyword(&["ipv4-base-reachable-time"])?;
                            bridge.ipv4_base_reachable_time_ms =
                                Some(cursor.number("base reachable time (ms)", 1u32, 3_600_000)?);
                        }
                    }
                }
            }
        }
        if let Some((member, position)) = member_reference {
            if member == name {
                return Err(ConfigError::new(
                    position,
                    format!("`{name}` cannot be its own link-interface"),
                    "another interface",
                ));
            }
            self.references.push(Reference {
                kind: ReferenceKind::Interface,
                name: member,
                position,
            });
        }
        Ok(())
    }

    // ---- tenants ----

    fn l3vrf(&mut self, cursor: &mut Cursor, statement: &Statement) -> Result<(), ConfigError> {
        let position = cursor.position();
        let name = cursor.name("an l3vrf name")?;
        if name == "main" || name.len() > 15 {
            return Err(ConfigError::new(
                position,
                format!("invalid l3vrf name `{name}`"),
                "a name of 1 to 15 characters other than `main`",
            ));
        }
        if !self.config.l3vrfs.contains_key(&name) {
            self.config.l3vrfs.insert(name.clone(), L3Vrf::default());
            self.origins.l3vrfs.insert(name.clone(), position);
        }
        if cursor.is_done() {
            return Ok(());
        }
        match cursor.keyword(&["description", "table-id", "routing", "interface"])? {
            "description" => {
                self.config
                    .l3vrfs
                    .get_mut(&name)
                    .expect("inserted above")
                    .description = Some(cursor.name("a description")?);
                cursor.finish()
            }
            "table-id" => {
                self.config
                    .l3vrfs
                    .get_mut(&name)
                    .expect("inserted above")
                    .table_id = Some(cursor.number("table id", 1u32, 0xFFFF_FFFE)?);
                cursor.finish()
            }
            "interface" => self.interface(cursor, Some(&name), statement),
            _ => {
                cursor.keyword(&["bgp"])?;
                self.l3vrf_bgp(cursor, &name)
            }
        }
    }

    fn l3vrf_bgp(&mut self, cursor: &mut Cursor, name: &str) -> Result<(), ConfigError> {
        let mut references = Vec::new();
        let vrf = self
            .config
            .l3vrfs
            .get_mut(name)
            .expect("l3vrf defined before its settings");
        match cursor.keyword(&["l3vni", "address-family"])? {
            "l3vni" => vrf.l3vni = Some(cursor.number("L3VNI", 1u32, 0xFF_FFFF)?),
            _ => match cursor.keyword(&["ipv4-unicast", "l2vpn-evpn"])? {
                "ipv4-unicast" => {
                    let unicast = &mut vrf.ipv4_unicast;
                    match cursor.keyword(&["l3vpn", "redistribute", "l3vrf"])? {
                        "l3vpn" => {
                            let direction = cursor.keyword(&["export", "import"])?;
                            let what = cursor.keyword(&["route-target", "route-distinguisher"])?;
                            match (direction, what) {
                                ("export", "route-target") => push_unique(
                                    &mut unicast.export_route_targets,
                                    cursor.value("route target", FORM_RD)?,
                                ),
                                ("import", "route-target") => push_unique(
                                    &mut unicast.import_route_targets,
                                    cursor.value("route target", FORM_RD)?,
                                ),
                                ("export", _) => {
                                    unicast.export_route_distinguisher =
                                        Some(cursor.value("route distinguisher", FORM_RD)?)
                                }
                                _ => {
                                    return Err(ConfigError::new(
                                        cursor.position(),
                                        "a route distinguisher is only exported",
                                        "`export route-distinguisher` or `import route-target`",
                                    ));
                                }
                            }
                        }
                        "redistribute" => {
                            cursor.keyword(&["connected"])?;
                            unicast.redistribute_connected = true;
                        }
                        _ => {
                            cursor.keyword(&["import"])?;
                            while !cursor.is_done() {
                                let leaf = cursor.keyword(&["l3vrf", "route-map"])?;
                                let position = cursor.position();
                                let target = cursor.name("a name")?;
                                if leaf == "l3vrf" {
                                    if target == name {
                                        return Err(ConfigError::new(
                                            position,
                                            "an l3vrf cannot import from itself",
                                            "another l3vrf",
                                        ));
                                    }
                                    push_unique(&mut unicast.import_l3vrfs, target.clone());
                                    references.push(Reference {
                                        kind: ReferenceKind::L3vrf,
                                        name: target,
                                        position,
                                    });
                                } else {
                                    unicast.import_route_map = Some(target.clone());
                                    references.push(Reference {
                                        kind: ReferenceKind::RouteMap,
                                        name: target,
                                        position,
                                    });
                                }
                            }
                        }
                    }
                }
                _ => {
                    let evpn = &mut vrf.evpn;
                    match cursor.keyword(&[
                        "advertisement",
                        "auto-route-target",
                        "export",
                        "import",
                    ])? {
                        "advertisement" => {
                            cursor.keyword(&["ipv4-unicast"])?;
                            evpn.advertise_ipv4_unicast = true;
                            if cursor.accept("route-map") {
                                let position = cursor.position();
                                let map = cursor.name("a route-map name")?;
                                evpn.advertise_route_map = Some(map.clone());
                                references.push(Reference {
                                    kind: ReferenceKind::RouteMap,
                                    name: map,
                                    position,
                                });
                            }
                        }
                        "auto-route-target" => {
                            cursor.keyword(&["rfc8365"])?;
                            evpn.auto_route_target = Some(AutoRouteTarget::Rfc8365);
                        }
                        "export" => {
                            match cursor.keyword(&["route-distinguisher", "route-target"])? {
                                "route-distinguisher" => {
                                    evpn.export_route_distinguisher =
                                        Some(cursor.value("route distinguisher", FORM_RD)?)
                                }
                                _ => push_unique(
                                    &mut evpn.export_route_targets,
                                    cursor.value("route target", FORM_RD)?,
                                ),
                            }
                        }
                        _ => {
                            evpn.import = true;
                            if cursor.accept("route-target") {
                                push_unique(
                                    &mut evpn.import_route_targets,
                                    cursor.value("route target", FORM_RD)?,
                                );
                            }
                        }
                    }
                }
            },
        }
        self.references.extend(references);
        cursor.finish()
    }

    // ---- routing in vrf main ----

    fn routing(&mut self, cursor: &mut Cursor) -> Result<(), ConfigError> {
        match cursor.keyword(&["bgp", "ospf", "interface", "bfd"])? {
            "bgp" => self.bgp(cursor),
            "ospf" => self.ospf(cursor),
            "interface" => self.routing_interface(cursor),
            _ => self.bfd(cursor),
        }
    }

    fn bgp(&mut self, cursor: &mut Cursor) -> Result<(), ConfigError> {
        let position = cursor.position();
        self.origins.bgp.get_or_insert(position);
        let bgp = self.config.bgp.get_or_insert_with(Bgp::default);
        if cursor.is_done() {
            return Ok(());
        }
        let leaf = cursor.keyword(&[
            "as",
            "router-id",
            "ebgp-requires-policy",
            "cluster-id",
            "address-family",
            "listen",
            "neighbor",
            "neighbor-group",
            "graceful-restart",
        ])?;
        match leaf {
            "as" => bgp.asn = Some(cursor.number("AS number", 1u32, u32::MAX)?),
            "router-id" => bgp.router_id = Some(cursor.value("router id", FORM_IPV4)?),
            "ebgp-requires-policy" => {
                bgp.ebgp_requires_policy = Some(cursor.boolean("ebgp-requires-policy")?)
            }
            "cluster-id" => bgp.cluster_id = Some(cursor.value("cluster id", FORM_IPV4)?),
            "address-family" => {
                cursor.keyword(&["l2vpn-evpn"])?;
                cursor.keyword(&["advertise-all-vni"])?;
                bgp.advertise_all_vni = cursor.boolean("advertise-all-vni")?;
            }
            "listen" => {
                cursor.keyword(&["neighbor-range"])?;
                let position = cursor.position();
                let prefix: IpNet = cursor.value("listen range", FORM_IPV4_PREFIX)?;
                if prefix.trunc() != prefix {
                    return Err(ConfigError::new(
                        position,
                        format!("listen range {prefix} has host bits set"),
                        format!("{}", prefix.trunc()),
                    ));
                }
                cursor.keyword(&["neighbor-group"])?;
                let group_position = cursor.position();
                let group = cursor.name("a neighbor-group name")?;
                match bgp
                    .listen_ranges
                    .iter_mut()
                    .find(|range| range.prefix == prefix)
                {
                    Some(range) => range.group = group.clone(),
                    None => bgp.listen_ranges.push(ListenRange {
                        prefix,
                        group: group.clone(),
                    }),
                }
                self.references.push(Reference {
                    kind: ReferenceKind::NeighborGroup,
                    name: group,
                    position: group_position,
                });
            }
            "neighbor" => {
                let position = cursor.position();
                let address: IpAddr =
                    cursor.value("neighbor address", "an IPv4 or IPv6 address")?;
                self.origins
                    .neighbors
                    .entry(address.to_string())
                    .or_insert(position);
                let bgp = self.config.bgp.as_mut().expect("created above");
                bgp.neighbors.entry(address).or_default();
                return self.neighbor_settings(cursor, NeighborKey::Address(address));
            }
            "neighbor-group" => {
                let name = cursor.name("a neighbor-group name")?;
                bgp.neighbor_groups.entry(name.clone()).or_default();
                return self.neighbor_settings(cursor, NeighborKey::Group(name));
            }
            _ => {
                let restart = &mut bgp.graceful_restart;
                while !cursor.is_done() {
                    match cursor.keyword(&["enabled", "restart-time", "stale-routes-time"])? {
                        "enabled" => restart.enabled = Some(cursor.boolean("enabled")?),
                        // RFC 4724 section 3: the Restart Time field has 12 bits.
                        "restart-time" => {
                            restart.restart_time =
                                Some(cursor.number("restart time (s)", 1u16, 4095)?)
                        }
                        _ => {
                            restart.stale_routes_time =
                                Some(cursor.number("stale routes time (s)", 1u16, 65535)?)
                        }
                    }
                }
            }
        }
        cursor.finish()
    }

    fn neighbor_settings(
        &mut self,
        cursor: &mut Cursor,
        key: NeighborKey,
    ) -> Result<(), ConfigError> {
        let mut references = Vec::new();
        let is_group = matches!(key, NeighborKey::Group(_));
        let bgp = self
            .config
            .bgp
            .as_mut()
            .expect("bgp exists before its neighbors");
        let settings = match &key {
            NeighborKey::Address(address) => bgp.neighbors.get_mut(address),
            NeighborKey::Group(name) => bgp.neighbor_groups.get_mut(name),
        }
        .expect("neighbor created before its settings");

        let mut leaves = vec![
            "remote-as",
            "neighbor-description",
            "update-source",
            "address-family",
            "track",
            "password",
            "ttl-security",
            "timers",
            "passive",
            "shutdown",
        ];
        if !is_group {
            leaves.push("neighbor-group");
        }
        while !cursor.is_done() {
            match cursor.keyword(&leaves)? {
                "remote-as" => {
                    let position = cursor.position();
                    let asn = cursor.number("AS number", 1u32, u32::MAX)?;
                    // In a file, a second statement with another AS is a mistake, because keeping the
                    // last one silently hides it. (FRR's shell would change the AS.)
                    if let Some(earlier) = settings.remote_as.filter(|earlier| *earlier != asn) {
                        return Err(ConfigError::new(
                            position,
                            format!("remote-as {asn} contradicts remote-as {earlier} set earlier"),
                            "one remote-as per neighbor",
                        ));
                    }
                    settings.remote_as = Some(asn);
                }
                "neighbor-description" => {
                    settings.description = Some(cursor.name("a description")?)
                }
                "update-source" => {
                    let position = cursor.position();
                    let name = cursor.name("an interface name")?;
                    settings.update_source = Some(name.clone());
                    references.push(Reference {
                        kind: ReferenceKind::Interface,
                        name,
                        position,
                    });
                }
                "neighbor-group" => {
                    let position = cursor.position();
                    let name = cursor.name("a neighbor-group name")?;
                    settings.group = Some(name.clone());
                    references.push(Reference {
                        kind: ReferenceKind::NeighborGroup,
                        name,
                        position,
                    });
                }
                "address-family" => {
                    let family =
                        match cursor.keyword(&["ipv4-unicast", "ipv6-unicast", "l2vpn-evpn"])? {
                            "ipv4-unicast" => AddressFamily::Ipv4Unicast,
                            "ipv6-unicast" => AddressFamily::Ipv6Unicast,
                            _ => AddressFamily::L2vpnEvpn,
                        };
                    let af = settings.address_families.entry(family).or_default();
                    while !cursor.is_done() {
                        let leaf = cursor.keyword(&[
                            "enabled",
                            "route-reflector-client",
                            "route-map",
                            "maximum-prefix",
                            "soft-reconfiguration-inbound",
                            "next-hop-self",
                        ])?;
                        match leaf {
                            "enabled" => af.enabled = Some(cursor.boolean("enabled")?),
                            "route-reflector-client" => {
                                af.route_reflector_client =
                                    Some(cursor.boolean("route-reflector-client")?)
                            }
                            "route-map" => {
                                let direction = cursor.keyword(&["in", "out"])?;
                                let position = cursor.position();
                                let map = cursor.name("a route-map name")?;
                                references.push(Reference {
                                    kind: ReferenceKind::RouteMap,
                                    name: map.clone(),
                                    position,
                                });
                                if direction == "in" {
                                    af.route_map_in = Some(map);
                                } else {
                                    af.route_map_out = Some(map);
                                }
                            }
                            "maximum-prefix" => {
                                af.maximum_prefix =
                                    Some(cursor.number("maximum prefix count", 1u32, u32::MAX)?)
                            }
                            "soft-reconfiguration-inbound" => {
                                af.soft_reconfiguration_inbound =
                                    Some(cursor.boolean("soft-reconfiguration-inbound")?)
                            }
                            _ => af.next_hop_self = Some(cursor.boolean("next-hop-self")?),
                        }
                    }
                }
                "track" => {
                    cursor.keyword(&["bfd"])?;
                    settings.track_bfd = Some(if cursor.is_done() {
                        true
                    } else {
                        cursor.boolean("track bfd")?
                    });
                }
                "password" => {
                    let position = cursor.position();
                    let password = cursor.name("a password")?;
                    // RFC 2385 keys travel in a TCP option; Linux limits them to 80 bytes.
                    if password.is_empty() || password.len() > 80 {
                        return Err(ConfigError::new(
                            position,
                            "invalid TCP-MD5 password length",
                            "1 to 80 characters",
                        ));
                    }
                    settings.password = Some(password);
                }
                "ttl-security" => {
                    cursor.keyword(&["hops"])?;
                    settings.ttl_security_hops = Some(cursor.number("hop count", 1u8, 254)?);
                }
                "timers" => {
                    while !cursor.is_done() {
                        match cursor.keyword(&[
                            "keepalive-interval",
                            "hold-time",
                            "connect-retry-interval",
                        ])? {
                            "keepalive-interval" => {
                                settings.keepalive_interval =
                                    Some(cursor.number("keepalive interval (s)", 1u16, 21845)?)
                            }
                            "hold-time" => {
                                let position = cursor.position();
                                let hold = cursor.number("hold time (s)", 0u16, 65535)?;
                                if hold == 1 || hold == 2 {
                                    return Err(ConfigError::new(
                                        position,
                                        format!("hold time {hold} is invalid"),
                                        "0 or 3 to 65535 seconds (RFC 4271 section 4.2)",
                                    ));
                                }
                                settings.hold_time = Some(hold);
                            }
                            _ => {
                                settings.connect_retry_interval = Some(cursor.number(
                                    "connect retry interval (s)",
                                    1u16,
                                    65535,
                                )?)
                            }
                        }
                    }
                }
                "passive" => settings.passive = Some(cursor.boolean("passive")?),
                _ => settings.shutdown = Some(cursor.boolean("shutdown")?),
            }
        }
        self.references.extend(references);
        Ok(())
    }

    fn ospf(&mut self, cursor: &mut Cursor) -> Result<(), ConfigError> {
        self.origins.ospf.get_or_insert(cursor.position());
        let ospf = self.config.ospf.get_or_insert_with(Ospf::default);
        if cursor.is_done() {
            return Ok(());
        }
        match cursor.keyword(&["router-id", "network", "timers", "graceful-restart"])? {
            "router-id" => ospf.router_id = Some(cursor.value("router id", FORM_IPV4)?),
            "graceful-restart" => {
                let restart = &mut ospf.graceful_restart;
                while !cursor.is_done() {
                    match cursor.keyword(&["enabled", "grace-period", "helper"])? {
                        "enabled" => restart.enabled = Some(cursor.boolean("enabled")?),
                        // RFC 3623 section 2: the grace period must stay below the LSA
                        // refresh time of 1800 seconds.
                        "grace-period" => {
                            restart.grace_period =
                                Some(cursor.number("grace period (s)", 1u16, 1800)?)
                        }
                        _ => restart.helper = Some(cursor.boolean("helper")?),
                    }
                }
            }
            "network" => {
                let position = cursor.position();
                let prefix: Ipv4Net = cursor.value("network", FORM_IPV4_PREFIX)?;
                if prefix.trunc() != prefix {
                    return Err(ConfigError::new(
                        position,
                        format!("network {prefix} has host bits set"),
                        format!("{}", prefix.trunc()),
                    ));
                }
                cursor.keyword(&["area"])?;
                let area = area_id(cursor)?;
                if area != Ipv4Addr::UNSPECIFIED {
                    return Err(ConfigError::new(
                        position,
                        format!("area {area} is not supported"),
                        "area 0 (this suite runs the backbone only)",
                    ));
                }
                match ospf
                    .networks
                    .iter_mut()
                    .find(|network| network.prefix == prefix)
                {
                    Some(network) => network.area = area,
                    None => ospf.networks.push(OspfNetwork { prefix, area }),
                }
            }
            _ => {
                while !cursor.is_done() {
                    let leaf = cursor.keyword(&[
                        "spf-delay",
                        "spf-hold",
                        "spf-max-hold",
                        "lsa-min-interval",
                        "lsa-min-arrival",
                    ])?;
                    let value = Some(cursor.number("milliseconds", 0u32, 600_000)?);
                    match leaf {
                        "spf-delay" => ospf.spf_delay_ms = value,
                        "spf-hold" => ospf.spf_hold_ms = value,
                        "spf-max-hold" => ospf.spf_max_hold_ms = value,
                        "lsa-min-interval" => ospf.lsa_min_interval_ms = value,
                        _ => ospf.lsa_min_arrival_ms = value,
                    }
                }
            }
        }
        cursor.finish()
    }

    fn routing_interface(&mut self, cursor: &mut Cursor) -> Result<(), ConfigError> {
        let position = cursor.position();
        let name = cursor.name("an interface name")?;
        self.references.push(Reference {
            kind: ReferenceKind::Interface,
            name: name.clone(),
            position,
        });
        let ospf = &mut self
            .config
            .routing_interfaces
            .entry(name.clone())
            .or_default()
            .ospf;
        cursor.keyword(&["ip"])?;
        cursor.keyword(&["ospf"])?;
        while !cursor.is_done() {
            let leaf = cursor.keyword(&[
                "track",
                "network-type",
                "cost",
                "hello-interval",
                "dead-interval",
                "retransmit-interval",
                "priority",
                "passive",
                "authentication",
            ])?;
            match leaf {
                "track" => {
                    cursor.keyword(&["bfd"])?;
                    ospf.track_bfd = Some(
                        if cursor
                            .peek()
                            .is_some_and(|w| w.text == "true" || w.text == "false")
                        {
                            cursor.boolean("track bfd")?
                        } else {
                            true
                        },
                    );
                }
                "network-type" => {
                    ospf.network_type =
                        Some(match cursor.keyword(&["broadcast", "point-to-point"])? {
                            "broadcast" => OspfNetworkType::Broadcast,
                            _ => OspfNetworkType::PointToPoint,
                        })
                }
                "cost" => ospf.cost = Some(cursor.number("cost", 1u16, 65535)?),
                "hello-interval" => {
                    ospf.hello_interval = Some(cursor.number("hello interval (s)", 1u16, 65535)?)
                }
                "dead-interval" => {
                    self.origins
                        .dead_intervals
                        .insert(name.clone(), cursor.position());
                    ospf.dead_interval = Some(cursor.number("dead interval (s)", 1u32, 65535)?)
                }
                "retransmit-interval" => {
                    ospf.retransmit_interval =
                        Some(cursor.number("retransmit interval (s)", 1u16, 65535)?)
                }
                "priority" => ospf.priority = Some(cursor.number("priority", 0u8, 255)?),
                "passive" => ospf.passive = Some(cursor.boolean("passive")?),
                _ => {
                    ospf.authentication = Some(
                        match cursor.keyword(&["simple", "message-digest", "hmac-sha-256"])? {
                            "simple" => {
                                let position = cursor.position();
                                let password = cursor.name("a password")?;
                                // RFC 2328 appendix D.3: the key fills the 8-byte authentication field.
                                if password.is_empty() || password.len() > 8 {
                                    return Err(ConfigError::new(
                                        position,
                                        "invalid simple password length",
                                        "1 to 8 characters",
                                    ));
                                }
                                OspfAuthentication::Simple { password }
                            }
                            kind => {
                                cursor.keyword(&["key-id"])?;
                                let key_id = cursor.number("key id", 0u8, 255)?;
                                cursor.keyword(&["key"])?;
                                let position = cursor.position();
                                let key = cursor.name("a key")?;
                                if key.is_empty() || (kind == "message-digest" && key.len() > 16) {
                                    return Err(ConfigError::new(
                                        position,
                                        "invalid key length",
                                        "1 to 16 characters for MD5, at least 1 for HMAC-SHA-256",
                                    ));
                                }
                                if kind == "message-digest" {
                                    OspfAuthentication::Md5 { key_id, key }
                                } else {
                                    OspfAuthentication::HmacSha256 { key_id, key }
                                }
                            }
                        },
                    )
                }
            }
        }
        Ok(())
    }

    fn bfd(&mut self, cursor: &mut Cursor) -> Result<(), ConfigError> {
        let bfd = &mut self.config.bfd;
        while !cursor.is_done() {
            match cursor.keyword(&[
                "desired-min-tx-interval",
                "required-min-rx-interval",
                "detection-multiplier",
            ])? {
                "desired-min-tx-interval" => {
                    bfd.desired_min_tx_ms = Some(cursor.number("interval (ms)", 10u32, 60_000)?)
                }
                "required-min-rx-interval" => {
                    bfd.required_min_rx_ms = Some(cursor.number("interval (ms)", 10u32, 60_000)?)
                }
                _ => {
                    bfd.detect_multiplier = Some(cursor.number("detection multiplier", 2u8, 255)?)
                }
            }
        }
        Ok(())
    }

    // ---- policy ----

    fn global_routing(&mut self, cursor: &mut Cursor) -> Result<(), ConfigError> {
        match cursor.keyword(&["ipv4-prefix-list", "route-map"])? {
            "ipv4-prefix-list" => self.prefix_list(cursor),
            _ => self.route_map(cursor),
        }
    }

    fn prefix_list(&mut self, cursor: &mut Cursor) -> Result<(), ConfigError> {
        let name = cursor.name("a prefix-list name")?;
        cursor.keyword(&["seq"])?;
        let position = cursor.position();
        let seq = cursor.number("sequence number", 1u32, u32::MAX)?;
        self.origins
            .prefix_list_entries
            .entry((name.clone(), seq))
            .or_insert(position);
        let entry = self
            .config
            .prefix_lists
            .entry(name)
            .or_default()
            .entries
            .entry(seq)
            .or_default();
        while !cursor.is_done() {
            match cursor.keyword(&["address", "policy", "ge", "le"])? {
                "address" => {
                    let position = cursor.position();
                    let prefix: Ipv4Net = cursor.value("prefix", FORM_IPV4_PREFIX)?;
                    if prefix.trunc() != prefix {
                        return Err(ConfigError::new(
                            position,
                            format!("prefix {prefix} has host bits set"),
                            format!("{}", prefix.trunc()),
                        ));
                    }
                    entry.prefix = Some(prefix);
                }
                "policy" => entry.action = Some(policy_action(cursor)?),
                "ge" => entry.ge = Some(cursor.number("ge", 0u8, 32)?),
                _ => entry.le = Some(cursor.number("le", 0u8, 32)?),
            }
        }
        Ok(())
    }

    fn route_map(&mut self, cursor: &mut Cursor) -> Result<(), ConfigError> {
        let name = cursor.name("a route-map name")?;
        cursor.keyword(&["seq"])?;
        let position = cursor.position();
        let seq = cursor.number("sequence number", 1u32, 65535)?;
        self.origins
            .route_map_entries
            .entry((name.clone(), seq))
            .or_insert(position);
        let entry = self
            .config
            .route_maps
            .entry(name)
            .or_default()
            .entries
            .entry(seq)
            .or_default();
        while !cursor.is_done() {
            match cursor.keyword(&["policy", "match", "set"])? {
                "policy" => entry.action = Some(policy_action(cursor)?),
                "match" => {
                    let condition = route_map_match(cursor, &mut self.references)?;
                    push_unique(&mut entry.matches, condition);
                }
                _ => {
                    let action = route_map_set(cursor)?;
                    push_unique(&mut entry.sets, action);
                }
            }
        }
        Ok(())
    }
}

enum NeighborKey {
    Address(IpAddr),
    Group(String),
}

fn vxlan(interface: &mut Interface) -> &mut Vxlan {
    interface.vxlan.get_or_insert_with(Vxlan::default)
}

fn push_unique<T: PartialEq>(list: &mut Vec<T>, value: T) {
    if !list.contains(&value) {
        list.push(value);
    }
}

fn policy_action(cursor: &mut Cursor) -> Result<PolicyAction, ConfigError> {
    Ok(match cursor.keyword(&["permit", "deny"])? {
        "permit" => PolicyAction::Permit,
        _ => PolicyAction::Deny,
    })
}

/// An OSPF area id, written as a number or dotted quad.
fn area_id(cursor: &mut Cursor) -> Result<Ipv4Addr, ConfigError> {
    let word = cursor.word("an area id (0 or 0.0.0.0)")?;
    word.text
        .parse::<u32>()
        .map(Ipv4Addr::from)
        .or_else(|_| word.text.parse::<Ipv4Addr>())
        .map_err(|_| {
            ConfigError::new(
                word.position,
                format!("invalid area id `{}`", word.text),
                "0 or 0.0.0.0",
            )
        })
}

/// A standard community `ASN:VALUE` (RFC 1997), as its 32-bit value.
fn community(cursor: &mut Cursor) -> Result<u32, ConfigError> {
    const FORM: &str = "ASN:VALUE with both parts from 0 to 65535, such as 65500:10";
    let word = cursor.word(FORM)?;
    let parsed = word.text.split_once(':').and_then(|(high, low)| {
        Some(((high.parse::<u16>().ok()? as u32) << 16) | low.parse::<u16>().ok()? as u32)
    });
    parsed.ok_or_else(|| {
        ConfigError::new(
            word.position,
            format!("invalid community `{}`", word.text),
            FORM,
        )
    })
}

fn route_map_match(
    cursor: &mut Cursor,
    references: &mut Vec<Reference>,
) -> Result<RouteMapMatch, ConfigError> {
    Ok(
        match cursor.keyword(&[
            "ip",
            "source-l3vrf",
            "evpn",
            "community",
            "extended-community",
        ])? {
            "ip" => {
                cursor.keyword(&["address"])?;
                cursor.keyword(&["prefix-list"])?;
                let position = cursor.position();
                let name = cursor.name("a prefix-list name")?;
                references.push(Reference {
                    kind: ReferenceKind::PrefixList,
                    name: name.clone(),
                    position,
                });
                RouteMapMatch::IpAddressPrefixList(name)
            }
            "source-l3vrf" => {
                let position = cursor.position();
                let name = cursor.name("an l3vrf name")?;
                references.push(Reference {
                    kind: ReferenceKind::L3vrf,
                    name: name.clone(),
                    position,
                });
                RouteMapMatch::SourceL3vrf(name)
            }
            "evpn" => match cursor.keyword(&["route-type", "vni"])? {
                "route-type" => {
                    let position = cursor.position();
                    let word = cursor.name("an EVPN route type")?;
                    let route_type = match word.as_str() {
                        "1" | "ead" => 1,
                        "2" | "macip" => 2,
                        "3" | "multicast" => 3,
                        "4" | "es" => 4,
                        "5" | "prefix" => 5,
                        _ => {
                            return Err(ConfigError::new(
                                position,
                                format!("invalid EVPN route type `{word}`"),
                                "1 to 5, or `ead`, `macip`, `multicast`, `es`, `prefix`",
                            ));
                        }
                    };
                    RouteMapMatch::EvpnRouteType(route_type)
                }
                _ => RouteMapMatch::EvpnVni(cursor.number("VNI", 1u32, 0xFF_FFFF)?),
            },
            "community" => RouteMapMatch::Community(community(cursor)?),
            _ => {
                cursor.keyword(&["rt"])?;
                RouteMapMatch::ExtendedCommunityRouteTarget(cursor.value("route target", FORM_RD)?)
            }
        },
    )
}

fn route_map_set(cursor: &mut Cursor) -> Result<RouteMapSet, ConfigError> {
    Ok(
        match cursor.keyword(&[
            "local-preference",
            "med",
            "community",
            "extended-community",
            "ip",
        ])? {
            "local-preference" => {
                RouteMapSet::LocalPreference(cursor.number("local preference", 0u32, u32::MAX)?)
            }
            "med" => RouteMapSet::Med(cursor.number("MED", 0u32, u32::MAX)?),
            "community" => {
                let mut values = vec![community(cursor)?];
                let mut additive = false;
                while let Some(word) = cursor.peek() {
                    if word.text == "additive" {
                        cursor.word("additive")?;
                        additive = true;
                    } else if word.text.contains(':') {
                        values.push(community(cursor)?);
                    } else {
                        break;
                    }
                }
                RouteMapSet::Community { values, additive }
            }
            "extended-community" => {
                cursor.keyword(&["rt"])?;
                RouteMapSet::ExtendedCommunityRouteTarget(cursor.value("route target", FORM_RD)?)
            }
            _ => {
                cursor.keyword(&["next-hop"])?;
                RouteMapSet::IpNextHop(cursor.value("next hop", FORM_IPV4)?)
            }
        },
    )
}
