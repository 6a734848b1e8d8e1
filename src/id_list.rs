//! An append-only list of IDs in which each ID appears once, however often it is added.

use alloc::vec::Vec;

use crate::id::Id;

/// With frame limits the engine may report one ID in more than one round; users get it once.
#[derive(Default, Debug)]
pub(crate) struct IdList {
    ids: Vec<Id>,
    #[cfg(feature = "std")]
    seen: std::collections::HashSet<Id>,
    /// Without std: positions in `ids`, ordered by ID (4 bytes an ID and no tree code, where
    /// memory and flash are scarce; inserting is O(n), fine at firmware sizes).
    #[cfg(not(feature = "std"))]
    sorted: Vec<u32>,
}

impl IdList {
    pub(crate) fn add(&mut self, id: Id) {
        #[cfg(feature = "std")]
        if self.seen.insert(id) {
            self.ids.push(id);
        }
        #[cfg(not(feature = "std"))]
        if let Err(at) = self
            .sorted
            .binary_search_by(|&i| self.ids[i as usize].cmp(&id))
        {
            self.sorted.insert(at, self.ids.len() as u32);
            self.ids.push(id);
        }
    }

    /// Makes room for `additional` more IDs, or says the allocator refused (nothing changed).
    pub(crate) fn try_reserve(
        &mut self,
        additional: usize,
    ) -> Result<(), alloc::collections::TryReserveError> {
        self.ids.try_reserve(additional)?;
        #[cfg(feature = "std")]
        self.seen.try_reserve(additional)?;
        #[cfg(not(feature = "std"))]
        self.sorted.try_reserve(additional)?;
        Ok(())
    }

    pub(crate) fn ids(&self) -> &[Id] {
        &self.ids
    }

    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_id_is_kept_once_in_the_order_first_added() {
        let mut list = IdList::default();
        for byte in [5u8, 3, 5, 9, 3, 1, 9] {
            list.add(Id([byte; 32]));
        }
        let order: Vec<u8> = list.ids().iter().map(|id| id.0[0]).collect();
        assert_eq!(order, [5, 3, 9, 1]);
        assert_eq!(list.len(), 4);
    }
}
