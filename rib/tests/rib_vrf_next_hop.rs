//! Next hops into another VRF (routes leaked between tenants): the RIB selects them while the
//! target VRF exists, follows the target VRF being added and removed, and rejects a next hop
//! into the route's own VRF.

use hna_rib::{
    Change, EntryKey, InMemoryPlane, NextHop, Rib, RibError, Route, RouteSource, Southbound, VrfId,
};
use ipnet::IpNet;

fn net(text: &str) -> IpNet {
    text.parse().unwrap()
}

fn apply(plane: &mut InMemoryPlane, output: &hna_rib::RibOutput) {
    let results = plane.apply(&output.southbound);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
}

fn installed(plane: &InMemoryPlane, vrf: VrfId, prefix: &str) -> Option<Vec<NextHop>> {
    plane
        .route(vrf, net(prefix))
        .map(|route| route.next_hops.clone())
}

const GREEN: VrfId = VrfId(100);
const RED: VrfId = VrfId(101);

fn leaked(target: VrfId) -> Route {
    Route::new(
        net("10.62.0.0/16"),
        RouteSource::Ibgp,
        vec![NextHop::vrf(target)],
    )
}

#[test]
fn vrf_next_hop_is_selected_while_target_exists() {
    let mut rib = Rib::new();
    let mut plane = InMemoryPlane::new();
    rib.add_vrf("vrf100", GREEN).unwrap();
    rib.add_vrf("vrf101", RED).unwrap();

    let output = rib.update(GREEN, leaked(RED)).unwrap();
    apply(&mut plane, &output);

    assert_eq!(
        installed(&plane, GREEN, "10.62.0.0/16"),
        Some(vec![NextHop::vrf(RED)])
    );
    let selected = rib
        .selected(GREEN, net("10.62.0.0/16"))
        .expect("leaked route selected");
    assert_eq!(selected.next_hops, vec![NextHop::vrf(RED)]);
    assert!(
        rib.selected(RED, net("10.62.0.0/16")).is_none(),
        "the leaked route appeared in its target VRF"
    );
}

#[test]
fn vrf_next_hop_follows_target_vrf_lifetime() {
    let mut rib = Rib::new();
    let mut plane = InMemoryPlane::new();
    rib.add_vrf("vrf100", GREEN).unwrap();

    // The target does not exist yet: the route is a candidate, not selected.
    let output = rib.update(GREEN, leaked(RED)).unwrap();
    assert!(output.southbound.is_empty(), "{:?}", output.southbound);
    assert_eq!(rib.candidates(GREEN, net("10.62.0.0/16")).len(), 1);

    let output = rib.add_vrf("vrf101", RED).unwrap();
    apply(&mut plane, &output);
    assert_eq!(
        installed(&plane, GREEN, "10.62.0.0/16"),
        Some(vec![NextHop::vrf(RED)])
    );

    let output = rib.remove_vrf(RED).unwrap();
    assert!(
        output.southbound.contains(&Change::Remove(EntryKey::Route {
            vrf: GREEN,
            prefix: net("10.62.0.0/16")
        })),
        "{:?}",
        output.southbound
    );
    apply(&mut plane, &output);
    assert_eq!(installed(&plane, GREEN, "10.62.0.0/16"), None);

    // The candidate stayed: the route comes back with its target.
    apply(&mut plane, &rib.add_vrf("vrf101", RED).unwrap());
    assert_eq!(
        installed(&plane, GREEN, "10.62.0.0/16"),
        Some(vec![NextHop::vrf(RED)])
    );
}

#[test]
fn vrf_next_hop_withdrawn_no_longer_depends_on_target() {
    let mut rib = Rib::new();
    rib.add_vrf("vrf100", GREEN).unwrap();
    rib.update(GREEN, leaked(RED)).unwrap();
    rib.withdraw(GREEN, net("10.62.0.0/16"), RouteSource::Ibgp)
        .unwrap();

    let output = rib.add_vrf("vrf101", RED).unwrap();

    assert!(output.southbound.is_empty(), "{:?}", output.southbound);
    assert!(rib.selected(GREEN, net("10.62.0.0/16")).is_none());
}

#[test]
fn vrf_next_hop_mixed_with_direct_next_hop() {
    let mut rib = Rib::new();
    let mut plane = InMemoryPlane::new();
    rib.add_vrf("vrf100", GREEN).unwrap();
    let route = Route::new(
        net("10.62.0.0/16"),
        RouteSource::Static,
        vec![NextHop::vrf(RED), NextHop::connected("br10000")],
    );

    apply(&mut plane, &rib.update(GREEN, route).unwrap());
    assert_eq!(
        installed(&plane, GREEN, "10.62.0.0/16"),
        Some(vec![NextHop::connected("br10000")])
    );

    apply(&mut plane, &rib.add_vrf("vrf101", RED).unwrap());
    let mut expected = vec![NextHop::connected("br10000"), NextHop::vrf(RED)];
    expected.sort();
    assert_eq!(installed(&plane, GREEN, "10.62.0.0/16"), Some(expected));
}

#[test]
fn vrf_next_hop_into_own_vrf_is_rejected() {
    let mut rib = Rib::new();
    rib.add_vrf("vrf100", GREEN).unwrap();

    let result = rib.update(GREEN, leaked(GREEN));

    assert_eq!(
        result,
        Err(RibError::VrfNextHopLoop {
            vrf: GREEN,
            prefix: net("10.62.0.0/16")
        })
    );
    assert!(rib.candidates(GREEN, net("10.62.0.0/16")).is_empty());
}

#[test]
fn vrf_next_hop_prints_and_serializes_target() {
    let next_hop = NextHop::vrf(RED);

    assert!(!next_hop.is_recursive());
    assert_eq!(next_hop.to_string(), "vrf 101");
    let json = serde_json::to_value(&next_hop).unwrap();
    assert_eq!(json["vrf"], 101);
    let direct = serde_json::to_value(NextHop::connected("br10000")).unwrap();
    assert!(
        direct.get("vrf").is_none(),
        "a next hop without VRF serialized one: {direct}"
    );
}
