//! Errors of the EVPN wire decoders, one variant per field that can be wrong.

use thiserror::Error;

/// A reason why EVPN bytes could not be decoded into a valid route or community.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error)]
pub enum EvpnError {
    /// The buffer ended before a field or before the length the NLRI header announced.
    #[error("EVPN NLRI truncated: {needed} octets needed, {available} available")]
    Truncated { needed: usize, available: usize },
    /// The route length does not fit the route type and the address lengths inside it.
    #[error("EVPN route type {route_type} has invalid length {length}")]
    InvalidRouteLength { route_type: u8, length: u8 },
    /// A MAC/IP advertisement route whose MAC address length is not 48 bits.
    #[error("EVPN MAC/IP route has MAC address length {length}, expected 48")]
    InvalidMacLength { length: u8 },
    /// An IP address length field that is neither 32 nor 128 (nor 0 where allowed).
    #[error("EVPN route type {route_type} has invalid IP address length {length}")]
    InvalidIpLength { route_type: u8, length: u8 },
    /// An IP prefix route whose prefix length exceeds 32 (IPv4) or 128 (IPv6).
    #[error("EVPN IP prefix route has prefix length {length}, maximum is {max}")]
    PrefixLengthTooLong { length: u8, max: u8 },
    /// An IP prefix route with both a non-zero ESI and a non-zero gateway IP address.
    #[error("EVPN IP prefix route has both a non-zero ESI and a non-zero gateway IP address")]
    EsiAndGatewayBothSet,
}

impl EvpnError {
    /// Whether the route was located and parsed but carries invalid values.
    ///
    /// Such a route can be withdrawn by its key (treat-as-withdraw, RFC 7606 section 2); the
    /// other errors leave the route's fields unknown, so the NLRI as a whole is malformed
    /// (RFC 7606 section 5.3).
    pub fn is_semantic(&self) -> bool {
        matches!(
            self,
            EvpnError::PrefixLengthTooLong { .. } | EvpnError::EsiAndGatewayBothSet
        )
    }
}

/// Checks that `buf` contains at least `needed` octets.
pub(crate) fn need(buf: &[u8], needed: usize) -> Result<(), EvpnError> {
    if buf.len() < needed {
        return Err(EvpnError::Truncated {
            needed,
            available: buf.len(),
        });
    }
    Ok(())
}
