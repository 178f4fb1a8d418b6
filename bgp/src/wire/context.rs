//! The negotiated session parameters that change the byte layout of messages.

use crate::message::{Capability, Open};
use crate::types::AfiSafi;

/// The maximum message length without the extended message capability (RFC 4271 section 4.1).
pub const MAX_MESSAGE_LEN: usize = 4096;
/// The maximum message length with the extended message capability (RFC 8654 section 3).
pub const MAX_EXTENDED_MESSAGE_LEN: usize = 65535;

/// The negotiated session parameters that decoding or encoding depends on, for one direction:
/// a speaker keeps one context for what it receives and one for what it sends.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionContext {
    /// Both sides advertised the 4-octet AS capability (RFC 6793): AS_PATH and AGGREGATOR
    /// carry 4-octet AS numbers.
    pub four_octet_as: bool,
    /// Both sides advertised the extended message capability (RFC 8654): messages other than
    /// OPEN and KEEPALIVE may be up to 65535 octets.
    pub extended_message: bool,
    /// Families whose NLRI carry an add-path identifier in this direction (RFC 7911).
    pub add_path: Vec<AfiSafi>,
}

impl SessionContext {
    /// Returns the maximum length of an UPDATE, NOTIFICATION or ROUTE-REFRESH message.
    pub fn max_message_len(&self) -> usize {
        if self.extended_message {
            MAX_EXTENDED_MESSAGE_LEN
        } else {
            MAX_MESSAGE_LEN
        }
    }

    /// Whether the NLRI of `afi_safi` carry path identifiers.
    pub fn add_path(&self, afi_safi: AfiSafi) -> bool {
        self.add_path.contains(&afi_safi)
    }

    /// Derives the receive and send contexts from the OPEN this speaker sent (`local`) and the
    /// one it received (`remote`).
    pub fn negotiate(local: &Open, remote: &Open) -> (SessionContext, SessionContext) {
        let both = |wanted: fn(&Capability) -> bool| {
            local.capabilities().any(wanted) && remote.capabilities().any(wanted)
        };
        let four_octet_as = both(|c| matches!(c, Capability::FourOctetAs(_)));
        let extended_message = both(|c| matches!(c, Capability::ExtendedMessage));

        let add_path_of = |open: &Open| -> Vec<crate::message::AddPathFamily> {
            open.capabilities()
                .filter_map(|c| match c {
                    Capability::AddPath(families) => Some(families.clone()),
                    _ => None,
                })
                .flatten()
                .collect()
        };
        let (ours, theirs) = (add_path_of(local), add_path_of(remote));
        let mut receive = Vec::new();
        let mut send = Vec::new();
        for mine in &ours {
            for peer in theirs.iter().filter(|p| p.afi_safi == mine.afi_safi) {
                if mine.direction.receives()
                    && peer.direction.sends()
                    && !receive.contains(&mine.afi_safi)
                {
                    receive.push(mine.afi_safi);
                }
                if mine.direction.sends()
                    && peer.direction.receives()
                    && !send.contains(&mine.afi_safi)
                {
                    send.push(mine.afi_safi);
                }
            }
        }
        (
            SessionContext {
                four_octet_as,
                extended_message,
                add_path: receive,
            },
            SessionContext {
                four_octet_as,
                extended_message,
                add_path: send,
            },
        )
    }
}
