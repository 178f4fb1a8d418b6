#!/bin/bash
# Captures FRR 8.4's BGP messages for the codec's known-answer tests: OPEN, KEEPALIVE, an
# UPDATE with EVPN type-5 routes (an L3VNI bound to the default VRF with `advertise ipv4
# unicast`), and a NOTIFICATION with a shutdown communication (`neighbor ... shutdown message`).
#
# Usage (root, FRR 8.4 and tcpdump installed): capture-frr.sh OUTPUT.pcap
# Two network namespaces, hcap-hna and hcap-leaf, are made and deleted again on exit.
set -euo pipefail
out=$(realpath -m "${1:?usage: capture-frr.sh OUTPUT.pcap}")
tmp=$(mktemp -d)
HNA=hcap-hna
LEAF=hcap-leaf
FRR=/usr/lib/frr

cleanup() {
  for node in $HNA $LEAF; do
    for daemon in bgpd zebra; do
      pidfile=/var/run/frr/$node/$daemon.pid
      [ -r "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
    done
  done
  [ -n "${dump:-}" ] && kill "$dump" 2>/dev/null || true
  sleep 1
  for node in $HNA $LEAF; do
    ip netns del $node 2>/dev/null || true
    rm -rf "/var/run/frr/$node"
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

wait_for() { # $1 seconds, then a command that must succeed
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || { echo "timed out waiting for: $*" >&2; return 1; }
    sleep 0.5
  done
}

for node in $HNA $LEAF; do ip netns add $node; ip -n $node link set lo up; done
ip -n $HNA link add eth1 type veth peer name eth1 netns $LEAF
ip -n $HNA addr add 10.0.11.2/24 dev eth1; ip -n $HNA link set eth1 up
ip -n $LEAF addr add 10.0.11.1/24 dev eth1; ip -n $LEAF link set eth1 up
ip -n $HNA addr add 10.0.0.1/32 dev lo
ip -n $HNA addr add 10.70.1.1/24 dev lo
# The L3VNI: a VXLAN device in a bridge that serves as its SVI, in the default VRF.
ip -n $HNA link add br100 type bridge
ip -n $HNA link add vx100 type vxlan id 100 local 10.0.0.1 dstport 4789 nolearning
ip -n $HNA link set vx100 master br100
ip -n $HNA link set vx100 up; ip -n $HNA link set br100 up

cat > "$tmp/$HNA.conf" <<CONF
frr version 8.4.4
frr defaults traditional
hostname hna1
!
vrf default
 vni 100
exit-vrf
!
router bgp 65500
 bgp router-id 10.0.0.1
 no bgp default ipv4-unicast
 neighbor 10.0.11.1 remote-as 65500
 neighbor 10.0.11.1 timers connect 2
 !
 address-family ipv4 unicast
  network 10.70.1.0/24
 exit-address-family
 !
 address-family l2vpn evpn
  neighbor 10.0.11.1 activate
  advertise-all-vni
  advertise ipv4 unicast
 exit-address-family
!
CONF
cat > "$tmp/$LEAF.conf" <<CONF
frr version 8.4.4
frr defaults traditional
hostname leaf1
!
router bgp 65500
 bgp router-id 10.0.0.201
 no bgp default ipv4-unicast
 neighbor 10.0.11.2 remote-as 65500
 !
 address-family l2vpn evpn
  neighbor 10.0.11.2 activate
 exit-address-family
!
CONF
chmod 755 "$tmp"; chmod 644 "$tmp"/*.conf

ip netns exec $LEAF tcpdump -i eth1 -U -s 0 -w "$out" tcp port 179 >/dev/null 2>&1 &
dump=$!
wait_for 10 test -s "$out" || sleep 1

for node in $LEAF $HNA; do
  install -d -o frr -g frr -m 755 /var/run/frr/$node
  for daemon in zebra bgpd; do
    ip netns exec $node $FRR/$daemon -N $node -d -P 0 -f "$tmp/$node.conf" -i /var/run/frr/$node/$daemon.pid
  done
done

type5() { vtysh -N $LEAF -c 'show bgp l2vpn evpn route type prefix json' | grep -q '10.70.1.0'; }
wait_for 60 type5
vtysh -N $HNA -c 'configure terminal' -c 'router bgp 65500' \
  -c 'neighbor 10.0.11.1 shutdown message maintenance window 42'
idle() { vtysh -N $LEAF -c 'show bgp neighbors 10.0.11.2 json' | grep -q '"bgpState":"Idle"\|"bgpState":"Active"\|"bgpState":"Connect"'; }
wait_for 20 idle
sleep 1
kill $dump; wait $dump 2>/dev/null || true; dump=
echo "wrote $out"
