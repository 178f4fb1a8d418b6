//! Sharing of identical attribute sets, and the AS_PATH edits of RFC 4271 and RFC 6793.

use std::collections::HashSet;
use std::sync::Arc;

use crate::message::{AsPath, AsSegment, AsSegmentType, PathAttributes};

/// A set of interned attribute sets: paths with equal attributes share one `Arc`, which also
/// lets the Adj-RIB-Out group routes by pointer when it packs them into UPDATEs.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    sets: HashSet<Arc<PathAttributes>>,
    /// Size after the last purge; the next purge runs when the set has doubled since.
    purged_at: usize,
}

impl Interner {
    /// Returns the shared copy of `attrs`, adding it when new.
    pub(crate) fn intern(&mut self, attrs: PathAttributes) -> Arc<PathAttributes> {
        if let Some(found) = self.sets.get(&attrs) {
            return found.clone();
        }
        self.maybe_purge();
        let shared = Arc::new(attrs);
        self.sets.insert(shared.clone());
        shared
    }

    /// Drops the sets no path uses any more, once the set has doubled since the last purge, so
    /// that purging costs amortised constant time per insertion.
    fn maybe_purge(&mut self) {
        if self.sets.len() < 1024 || self.sets.len() < 2 * self.purged_at {
            return;
        }
        self.sets.retain(|a| Arc::strong_count(a) > 1);
        self.purged_at = self.sets.len();
    }

    pub(crate) fn len(&self) -> usize {
        self.sets
            .iter()
            .filter(|a| Arc::strong_count(a) > 1)
            .count()
    }
}

/// Rebuilds the 4-octet AS path from AS_PATH and AS4_PATH as received from a peer without the
/// 4-octet AS capability (RFC 6793 section 4.2.3), and drops AS4_PATH.
pub(crate) fn reconcile_as4_path(attrs: &mut PathAttributes) {
    let Some(as4) = attrs.as4_path.take() else {
        return;
    };
    let Some(as_path) = attrs.as_path.as_ref() else {
        return;
    };

    let count = |p: &AsPath| p.path_length();
    let (as_count, as4_count) = (count(as_path), count(&as4));
    if as_count < as4_count {
        // The AS4_PATH is longer than AS_PATH: RFC 6793 says to ignore it.
        return;
    }
    // Keep the leading ASes of AS_PATH that a 2-octet speaker prepended after the AS4_PATH was
    // built, then append AS4_PATH.
    let mut keep = as_count - as4_count;
    let mut segments = Vec::new();
    for segment in &as_path.segments {
        if keep == 0 {
            break;
        }
        match segment.segment_type {
            AsSegmentType::Sequence => {
                let n = keep.min(segment.asns.len());
                segments.push(AsSegment {
                    segment_type: AsSegmentType::Sequence,
                    asns: segment.asns[..n].to_vec(),
                });
                keep -= n;
            }
            AsSegmentType::Set => {
                segments.push(segment.clone());
                keep -= 1;
            }
            AsSegmentType::ConfedSequence | AsSegmentType::ConfedSet => {
                segments.push(segment.clone())
            }
        }
    }

    segments.extend(as4.segments);
    attrs.as_path = Some(AsPath { segments });
}

/// Prepends `asn` to the path as an eBGP speaker does (RFC 4271 section 5.1.2): into the
/// leading AS_SEQUENCE when it has room, or as a new one.
pub(crate) fn prepend_as(path: Option<&AsPath>, asn: u32) -> AsPath {
    let mut path = path.cloned().unwrap_or_default();
    match path.segments.first_mut() {
        Some(first) if first.segment_type == AsSegmentType::Sequence && first.asns.len() < 255 => {
            first.asns.insert(0, asn)
        }
        _ => path.segments.insert(
            0,
            AsSegment {
                segment_type: AsSegmentType::Sequence,
                asns: vec![asn],
            },
        ),
    }
    path
}

/// Removes the confederation segments, which never leave the confederation (RFC 5065
/// section 5.3).
pub(crate) fn strip_confederation(path: &mut AsPath) {
    path.segments
        .retain(|s| matches!(s.segment_type, AsSegmentType::Sequence | AsSegmentType::Set));
}

/// Returns the AS the route was received from: the first AS of a leading AS_SEQUENCE, for the
/// MED comparison of RFC 4271 section 9.1.2.2 (c). `None` for a route from inside our AS.
pub(crate) fn neighbor_as(path: Option<&AsPath>) -> Option<u32> {
    let first = path?.segments.iter().find(|s| {
        !matches!(
            s.segment_type,
            AsSegmentType::ConfedSequence | AsSegmentType::ConfedSet
        )
    })?;
    match first.segment_type {
        AsSegmentType::Sequence => first.asns.first().copied(),
        _ => None,
    }
}
