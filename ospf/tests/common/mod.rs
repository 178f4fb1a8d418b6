//! A deterministic in-memory network of sans-IO OSPF instances: links deliver the packets one
//! instance sends to the others, and a virtual clock drives the timers.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use hna_ospf::{Action, Config, Input, Instance, InterfaceInfo, NeighborState, RouteUpdate};
use ipnet::Ipv4Net;

pub struct Router {
    pub instance: Instance,
    pub interfaces: Vec<InterfaceInfo>,
    pub route_updates: Vec<RouteUpdate>,
    pub bfd_registered: Vec<hna_ospf::BfdSession>,
    pub bfd_unregistered: Vec<hna_ospf::BfdSession>,
}

/// A link joins interfaces (router index, ifindex); a link with two members is a point-to-point
/// or two-router broadcast segment.
pub struct Link {
    pub members: Vec<(usize, u32)>,
    pub up: bool,
}

pub struct Network {
    pub routers: Vec<Router>,
    pub links: Vec<Link>,
    pub now: Instant,
    queue: VecDeque<(usize, Input)>,
}

pub fn net(text: &str) -> Ipv4Net {
    text.parse().unwrap()
}

pub fn addr(text: &str) -> Ipv4Addr {
    text.parse().unwrap()
}

pub fn loopback(address: &str) -> InterfaceInfo {
    InterfaceInfo {
        name: "lo".into(),
        ifindex: 1,
        addresses: vec![net(address)],
        mtu: 65536,
        up: true,
        loopback: true,
    }
}

pub fn ethernet(name: &str, ifindex: u32, address: &str) -> InterfaceInfo {
    InterfaceInfo {
        name: name.into(),
        ifindex,
        addresses: vec![net(address)],
        mtu: 1500,
        up: true,
        loopback: false,
    }
}

impl Network {
    pub fn new() -> Network {
        Network {
            routers: Vec::new(),
            links: Vec::new(),
            now: Instant::now(),
            queue: VecDeque::new(),
        }
    }

    /// Adds a router with its interfaces and returns its index.
    pub fn add_router(&mut self, config: Config, interfaces: Vec<InterfaceInfo>) -> usize {
        let instance = Instance::new(config, self.now, 1000).expect("valid configuration");
        let index = self.routers.len();
        self.routers.push(Router {
            instance,
            interfaces: interfaces.clone(),
            route_updates: Vec::new(),
            bfd_registered: Vec::new(),
            bfd_unregistered: Vec::new(),
        });
        for info in interfaces {
            self.queue.push_back((index, Input::InterfaceUpdate(info)));
        }
        index
    }

    /// Sends the actions a router returned outside `handle` (for example from
    /// `graceful_shutdown`) and delivers what follows.
    pub fn deliver(&mut self, router: usize, actions: Vec<Action>) {
        for action in actions {
            self.apply(router, action);
        }
        self.drain();
    }

    /// Replaces a router's instance with a new one on the same interfaces, as a process restart
    /// does; the new instance's outputs start from empty lists.
    pub fn restart_router(&mut self, router: usize, config: Config) {
        let instance = Instance::new(config, self.now, 2000).expect("valid configuration");
        let interfaces = self.routers[router].interfaces.clone();
        self.routers[router] = Router {
            instance,
            interfaces: interfaces.clone(),
            route_updates: Vec::new(),
            bfd_registered: Vec::new(),
            bfd_unregistered: Vec::new(),
        };
        for info in interfaces {
            self.queue.push_back((router, Input::InterfaceUpdate(info)));
        }
        self.drain();
    }

    pub fn link(&mut self, members: &[(usize, u32)]) -> usize {
        self.links.push(Link {
            members: members.to_vec(),
            up: true,
        });
        self.links.len() - 1
    }

    fn address_of(&self, router: usize, ifindex: u32) -> Ipv4Addr {
        self.routers[router]
            .interfaces
            .iter()
            .find(|i| i.ifindex == ifindex)
            .map(|i| i.addresses[0].addr())
            .unwrap()
    }

    /// Injects an input into a router now.
    pub fn input(&mut self, router: usize, input: Input) {
        self.queue.push_back((router, input));
        self.drain();
    }

    fn drain(&mut self) {
        let mut steps = 0;
        while let Some((router, input)) = self.queue.pop_front() {
            steps += 1;
            assert!(steps < 1_000_000, "packet storm");
            let actions = self.routers[router].instance.handle(input, self.now);
            for action in actions {
                self.apply(router, action);
            }
        }
    }

    fn apply(&mut self, router: usize, action: Action) {
        match action {
            Action::Send {
                ifindex,
                destination,
                data,
            } => {
                let source = self.address_of(router, ifindex);
                for link in self
                    .links
                    .iter()
                    .filter(|link| link.up && link.members.contains(&(router, ifindex)))
                {
                    for &(peer, peer_ifindex) in
                        link.members.iter().filter(|m| **m != (router, ifindex))
                    {
                        let peer_address = self.address_of(peer, peer_ifindex);
                        if destination.is_multicast() || destination == peer_address {
                            let input = Input::Packet {
                                ifindex: peer_ifindex,
                                source,
                                destination,
                                data: data.clone(),
                            };
                            self.queue.push_back((peer, input));
                        }
                    }
                }
            }
            Action::Routes(update) => self.routers[router].route_updates.push(update),
            Action::BfdRegister(session) => self.routers[router].bfd_registered.push(session),
            Action::BfdUnregister(session) => self.routers[router].bfd_unregistered.push(session),
            Action::EnableInterface { .. } | Action::DisableInterface { .. } => {}
        }
    }

    /// Advances the virtual clock by `duration`, firing timers as they expire.
    pub fn advance(&mut self, duration: Duration) {
        self.drain();
        let end = self.now + duration;
        loop {
            let next = self
                .routers
                .iter()
                .filter_map(|r| r.instance.next_timer())
                .min();
            match next {
                Some(at) if at <= end => {
                    if at > self.now {
                        self.now = at;
                    }
                    for index in 0..self.routers.len() {
                        if self.routers[index]
                            .instance
                            .next_timer()
                            .is_some_and(|t| t <= self.now)
                        {
                            self.queue.push_back((index, Input::Timer));
                        }
                    }
                    self.drain();
                }
                _ => break,
            }
        }
        self.now = end;
    }

    pub fn neighbor_state(&self, router: usize, neighbor_id: Ipv4Addr) -> Vec<NeighborState> {
        self.routers[router]
            .instance
            .neighbors(self.now)
            .into_iter()
            .filter(|n| n.neighbor_id == neighbor_id)
            .map(|n| n.state)
            .collect()
    }

    /// Returns the (type, id, advertising router, sequence, checksum) of every LSA of a router.
    pub fn database(&self, router: usize) -> Vec<(u8, Ipv4Addr, Ipv4Addr, u32, u16)> {
        self.routers[router]
            .instance
            .database(self.now)
            .into_iter()
            .map(|l| {
                (
                    l.ls_type.0,
                    l.link_state_id,
                    l.advertising_router,
                    l.sequence,
                    l.checksum,
                )
            })
            .collect()
    }
}

/// Returns the configuration of test routers: fast timers, everything in 10.0.0.0/8.
pub fn config(router_id: &str, network_type: hna_ospf::NetworkType) -> Config {
    let mut config = Config::new(addr(router_id)).network(net("10.0.0.0/8"));
    config.default_interface.network_type = network_type;
    config.default_interface.hello_interval = 1;
    config.default_interface.dead_interval = 4;
    config.default_interface.retransmit_interval = 1;
    config.lsa_throttle.min_ls_interval = Duration::from_millis(100);
    config.lsa_throttle.min_ls_arrival = Duration::from_millis(50);
    config
}
