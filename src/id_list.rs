//! An append-only list of IDs in which each ID appears once, however often it is added.

use alloc::vec::Vec;

use crate::id::Id;

/// With frame limits the engine may report one ID in more than one round; users get it once.
#[derive(Default, Debug)]
pub(crate) struct IdList {
    ids: Vec<Id>,
    #[cfg(feature = "std")]
    seen: std::collections::HashSet<Id>,
    /// IDs dropped by [`clear`](Self::clear), counted so that totals survive it.
    cleared: u64,
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
            if repeat || self.held(&id, start) {
                continue;
            }
            self.ids[kept] = id;
            kept += 1;
        }
        self.ids.truncate(kept);
        #[cfg(feature = "std")]
        for position in start..kept {
            self.seen.insert(self.ids[position]);
        }
    }

    /// True when `id` is among the IDs kept before position `start` (those absorbed before).
    /// Without std the list itself is searched: no index beside it (4 bytes an ID, and a
    /// second block growing beside the list, where a firmware heap is scarce); O(n) an ID is
    /// fine at the few hundred IDs a microcontroller's RAM holds.
    fn held(&self, id: &Id, start: usize) -> bool {
        #[cfg(feature = "std")]
        {
            let _ = start;
            self.seen.contains(id)
        }
        #[cfg(not(feature = "std"))]
        self.ids[..start].contains(id)
    }

    /// Makes room for `additional` more IDs, or says the allocator refused (nothing changed).
    pub(crate) fn try_reserve(
        &mut self,
        additional: usize,
    ) -> Result<(), alloc::collections::TryReserveError> {
        let before = self.ids.capacity();
        make_room(&mut self.ids, additional)?;
        #[cfg(feature = "std")]
        if self.ids.capacity() != before {
            self.seen
                .try_reserve(self.ids.capacity() - self.seen.len())?;
        }
        #[cfg(not(feature = "std"))]
        let _ = before;
        Ok(())
    }

    /// Drops every ID, keeping the room they took (the next rounds fill it again). An ID
    /// added after this is kept even if it was among those dropped.
    pub(crate) fn clear(&mut self) {
        self.cleared += self.ids.len() as u64;
        self.ids.clear();
        #[cfg(feature = "std")]
        self.seen.clear();
    }

    pub(crate) fn ids(&self) -> &[Id] {
        &self.ids
    }

    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// How many IDs the list has kept in all, those dropped by [`clear`](Self::clear) included.
    pub(crate) fn total(&self) -> u64 {
        self.cleared + self.ids.len() as u64
    }
}

/// Makes room in a list of found IDs for `additional` more, or says the allocator refused
/// (nothing changed). Grows by at least half the capacity: fewer moves than growing exactly,
/// less spare room than doubling (a firmware heap counts both).
pub(crate) fn make_room(
    ids: &mut Vec<Id>,
    additional: usize,
) -> Result<(), alloc::collections::TryReserveError> {
    let needed = ids.len().saturating_add(additional);
    let capacity = ids.capacity();
    if needed <= capacity {
        return Ok(());
    }
    ids.try_reserve_exact(needed.max(capacity + capacity / 2) - ids.len())
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

    #[test]
    fn clearing_drops_the_ids_and_keeps_their_count_and_room() {
        let mut list = IdList::default();
        list.try_reserve(8).unwrap();
        for byte in [1u8, 2, 3] {
            list.add(Id([byte; 32]));
        }
        let room = list.ids.capacity();
        list.clear();
        assert_eq!(
            (list.len(), list.total(), list.ids.capacity()),
            (0, 3, room)
        );
        list.add(Id([2; 32]));
        list.add(Id([4; 32]));
        let order: Vec<u8> = list.ids().iter().map(|id| id.0[0]).collect();
        assert_eq!((order, list.total()), (vec![2, 4], 5));
    }
}
