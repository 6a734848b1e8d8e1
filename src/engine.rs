//! The bridge to the `negentropy` engine: a storage that reads a shared [`Snapshot`] in place.

use negentropy::{Bound, Error as EngineError, Item as EngineItem, NegentropyStorageBase};

use crate::id::{Id, Item};
use crate::snapshot::Snapshot;

/// Lets the engine read a snapshot without copying it: sessions own a reference count, not items.
pub(crate) struct SnapshotStorage(pub(crate) Snapshot);

fn to_engine(item: &Item) -> EngineItem {
    EngineItem::with_timestamp_and_id(item.timestamp, negentropy::Id::from_byte_array(item.id.0))
}

pub(crate) fn from_engine_id(id: &negentropy::Id) -> Id {
    Id(id.to_bytes())
}

impl NegentropyStorageBase for SnapshotStorage {
    fn size(&self) -> Result<usize, EngineError> {
        Ok(self.0.len())
    }

    fn get_item(&self, i: usize) -> Result<Option<EngineItem>, EngineError> {
        Ok(self.0.items().get(i).map(to_engine))
    }

    fn iterate(
        &self,
        begin: usize,
        end: usize,
        cb: &mut dyn FnMut(EngineItem, usize) -> Result<bool, EngineError>,
    ) -> Result<(), EngineError> {
        let items = self
            .0
            .items()
            .get(begin..end)
            .ok_or(EngineError::BadRange)?;
        for (offset, item) in items.iter().enumerate() {
            if !cb(to_engine(item), begin + offset)? {
                break;
            }
        }
        Ok(())
    }

    fn find_lower_bound(&self, mut first: usize, last: usize, bound: &Bound) -> usize {
        // A plain binary-search loop: measured faster on this hot path than `partition_point`
        // with a comparing closure (shared/DESIGN.md).
        let items = self.0.items();
        let (timestamp, id) = (bound.item.timestamp, bound.item.id.as_bytes());
        let mut count = last - first;
        while count > 0 {
            let step = count / 2;
            let probe = &items[first + step];
            if probe.timestamp < timestamp || (probe.timestamp == timestamp && probe.id.0 < *id) {
                first += step + 1;
                count -= step + 1;
            } else {
                count = step;
            }
        }
        first
    }
}
