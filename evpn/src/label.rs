//! The 3-octet label field of EVPN routes and the ESI label community.
//!
//! RFC 7432 section 7 carries an MPLS label in the high-order 20 bits of the field. A VXLAN
//! fabric (RFC 8365 section 5.1.3) puts the 24-bit VNI in the whole field instead, which is how
//! FRR 8.4 encodes it, so the field is kept raw and read either way.

use std::fmt;

/// The raw 24-bit label field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Label(u32);

impl Label {
    /// The largest value of a 24-bit field.
    pub const MAX: u32 = 0x00ff_ffff;

    /// Builds the field from a VXLAN network identifier; `None` when `vni` exceeds 24 bits.
    pub fn from_vni(vni: u32) -> Option<Label> {
        (vni <= Self::MAX).then_some(Label(vni))
    }

    /// Builds the field from a 20-bit MPLS label with the bottom-of-stack bit set, as RFC 7432
    /// encodes a single label; `None` when `label` exceeds 20 bits.
    pub fn from_mpls(label: u32) -> Option<Label> {
        (label <= 0x000f_ffff).then_some(Label((label << 4) | 1))
    }

    /// Builds the field from its three octets.
    pub fn from_bytes(bytes: [u8; 3]) -> Label {
        Label(u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]))
    }

    /// Returns the three octets in network order.
    pub fn to_bytes(self) -> [u8; 3] {
        let [_, a, b, c] = self.0.to_be_bytes();
        [a, b, c]
    }

    /// Returns the field as a VNI (all 24 bits).
    pub fn vni(self) -> u32 {
        self.0
    }

    /// Returns the field as an MPLS label (the high-order 20 bits).
    pub fn mpls_label(self) -> u32 {
        self.0 >> 4
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
