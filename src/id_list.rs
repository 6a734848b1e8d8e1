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
    #[cfg(test)]
    pub(crate) fn add(&mut self, id: Id) {
        let start = self.ids.len();
        self.ids.push(id);
        self.absorb(start);
    }

    /// The list's IDs, to append a round's findings to; [`absorb`](Self::absorb) then keeps
    /// them or [`truncate`](Self::truncate) drops them.
    pub(crate) fn raw(&mut self) -> &mut Vec<Id> {
        &mut self.ids
    }

    /// Drops every ID from position `len` on (a round's findings, when the round failed).
    pub(crate) fn truncate(&mut self, len: usize) {
        self.ids.truncate(len);
    }

    /// Keeps the IDs appended since the list was `start` long: sorted by ID, each once, and
    /// only those not already in the list. Sorting each round's findings keeps a given
    /// exchange's lists the same from run to run (logs, tests and transcripts can be compared).
    pub(crate) fn absorb(&mut self, start: usize) {
        crate::id::sort_ids(&mut self.ids[start..]);
        let mut kept = start;
        for read in start..self.ids.len() {
            let id = self.ids[read];
            let repeat = kept > start && self.ids[kept - 1] == id;
            if repeat || self.held(&id) {
                continue;
            }
            self.ids[kept] = id;
            kept += 1;
        }
        self.ids.truncate(kept);
        for position in start..kept {
            #[cfg(feature = "std")]
            self.seen.insert(self.ids[position]);
            #[cfg(not(feature = "std"))]
            {
                let id = self.ids[position];
                let at = self.sorted.partition_point(|&i| self.ids[i as usize] < id);
                self.sorted.insert(at, position as u32);
            }
        }
    }

    /// True when `id` is among the IDs already kept (those absorbed before).
    fn held(&self, id: &Id) -> bool {
        #[cfg(feature = "std")]
        return self.seen.contains(id);
        #[cfg(not(feature = "std"))]
        self.sorted
            .binary_search_by(|&i| self.ids[i as usize].cmp(id))
            .is_ok()
    }

    /// Makes room for `additional` more IDs, or says the allocator refused (nothing changed).
    /// Grows by at least half the capacity: fewer moves than growing exactly, less spare room
    /// than doubling (a firmware heap counts both).
    pub(crate) fn try_reserve(
        &mut self,
        additional: usize,
    ) -> Result<(), alloc::collections::TryReserveError> {
        let needed = self.ids.len().saturating_add(additional);
        let capacity = self.ids.capacity();
        if needed <= capacity {
            return Ok(());
        }
        let target = needed.max(capacity + capacity / 2);
        self.ids.try_reserve_exact(target - self.ids.len())?;
        #[cfg(feature = "std")]
        self.seen.try_reserve(target - self.seen.len())?;
        #[cfg(not(feature = "std"))]
        self.sorted.try_reserve_exact(target - self.sorted.len())?;
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
