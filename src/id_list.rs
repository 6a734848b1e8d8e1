//! An append-only list of IDs in which each ID appears once, however often it is added.

use alloc::vec::Vec;

use crate::id::Id;

#[cfg(feature = "std")]
type Seen = std::collections::HashSet<Id>;
#[cfg(not(feature = "std"))]
type Seen = alloc::collections::BTreeSet<Id>;

/// With frame limits the engine may report one ID in more than one round; users get it once.
#[derive(Default, Debug)]
pub(crate) struct IdList {
    ids: Vec<Id>,
    seen: Seen,
}

impl IdList {
    pub(crate) fn add(&mut self, id: Id) {
        if self.seen.insert(id) {
            self.ids.push(id);
        }
    }

    pub(crate) fn ids(&self) -> &[Id] {
        &self.ids
    }

    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }
}
