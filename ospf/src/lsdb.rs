//! The link-state database (RFC 2328 section 12.2) with aging derived from the installation time,
//! so that no per-second work touches every LSA.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::lsa::{Lsa, LsaKey, MAX_AGE};

/// One LSA in the database.
#[derive(Debug, Clone)]
pub struct LsdbEntry {
    pub lsa: Arc<Lsa>,
    /// When the LSA was installed; its age grows by one each second from its age at that time.
    pub installed_at: Instant,
    /// Installed from flooding (as opposed to originated by this router).
    pub from_flooding: bool,
    /// Last time this copy was sent back to a neighbor that had an older one (section 13 step 8).
    pub sent_back_at: Option<Instant>,
    /// When the LSA reaches MaxAge; kept here so that SPF can skip MaxAge LSAs without reading
    /// each LSA's header.
    max_age_at: Instant,
}

impl LsdbEntry {
    /// Returns the LS age at `now`, capped at MaxAge.
    pub fn age(&self, now: Instant) -> u16 {
        let elapsed = now.saturating_duration_since(self.installed_at).as_secs();
        let age = u64::from(self.lsa.header.age()) + elapsed;
        age.min(u64::from(MAX_AGE)) as u16
    }

    pub fn is_max_age(&self, now: Instant) -> bool {
        now >= self.max_age_at
    }
}

/// The database of the area, AS-scope LSAs and the link-local LSAs of every interface.
#[derive(Debug, Clone, Default)]
pub struct Lsdb {
    entries: HashMap<LsaKey, LsdbEntry>,
}

impl Lsdb {
    pub fn new() -> Lsdb {
        Lsdb::default()
    }

    pub fn get(&self, key: &LsaKey) -> Option<&LsdbEntry> {
        self.entries.get(key)
    }

    pub(crate) fn get_mut(&mut self, key: &LsaKey) -> Option<&mut LsdbEntry> {
        self.entries.get_mut(key)
    }

    /// Installs `lsa` under `scope` (see [`LsaKey`]), replacing any previous instance, and
    /// returns the previous one.
    pub fn insert(
        &mut self,
        scope: u32,
        lsa: Arc<Lsa>,
        now: Instant,
        from_flooding: bool,
    ) -> Option<LsdbEntry> {
        let key = lsa.header.key(scope);
        let max_age_at = now + Duration::from_secs(u64::from(MAX_AGE - lsa.header.age()));
        self.entries.insert(
            key,
            LsdbEntry {
                lsa,
                installed_at: now,
                from_flooding,
                sent_back_at: None,
                max_age_at,
            },
        )
    }

    pub fn remove(&mut self, key: &LsaKey) -> Option<LsdbEntry> {
        self.entries.remove(key)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&LsaKey, &LsdbEntry)> {
        self.entries.iter()
    }

    /// Returns the keys in order: by scope, LS type, Link State ID, then Advertising Router.
    pub fn sorted_keys(&self) -> Vec<LsaKey> {
        let mut keys: Vec<LsaKey> = self.entries.keys().copied().collect();
        keys.sort();
        keys
    }
}
