//! The 48-bit IEEE MAC address carried in EVPN routes and communities.

use std::fmt;
use std::str::FromStr;

/// An IEEE 802 MAC address (six octets, network order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddress(pub [u8; 6]);

impl MacAddress {
    /// The all-zero address.
    pub const ZERO: MacAddress = MacAddress([0; 6]);

    /// Returns the six octets.
    pub fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// Whether the group (multicast) bit is set.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }
}

impl fmt::Display for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// The text was not six colon-separated hexadecimal octets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid MAC address {0:?}: expected six colon-separated hex octets")]
pub struct ParseMacError(pub String);

impl FromStr for MacAddress {
    type Err = ParseMacError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut octets = [0u8; 6];
        let mut parts = text.split(':');
        for octet in &mut octets {
            let part = parts
                .next()
                .ok_or_else(|| ParseMacError(text.to_string()))?;
            if part.is_empty() || part.len() > 2 {
                return Err(ParseMacError(text.to_string()));
            }
            *octet = u8::from_str_radix(part, 16).map_err(|_| ParseMacError(text.to_string()))?;
        }
        if parts.next().is_some() {
            return Err(ParseMacError(text.to_string()));
        }
        Ok(MacAddress(octets))
    }
}
