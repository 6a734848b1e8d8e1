//! One message: reading the peer's ranges in order and writing the answer, under the framing's
//! rules.

use alloc::vec::Vec;

use super::fingerprint::{BATCH, IdSum, batch_size, fingerprint_each};
use super::framing::Framing;
use super::range_index::{RangeIndex, direct_sum};
use super::{Engine, Side, Written};
use crate::error::{Error, Limit};
use crate::id::{ID_SIZE, Id, Item, order_by_id};
use crate::id_list::make_room;
use crate::snapshot::Snapshot;
use crate::wire::{Bound, Checkpoint, FINGERPRINT_SIZE, Payload, Range, Writer};

/// Buckets a range is split into (the crate's figure, kept in every framing as the most).
const BUCKETS: usize = 16;
/// Ranges with fewer items than this are sent as ID lists (the crate's figure).
const ID_LIST_THRESHOLD: usize = 2 * BUCKETS;
/// What one fingerprint range usually costs on the wire (a short bound, mode, fingerprint): used
/// only to pick how many buckets to try in a small frame.
const TYPICAL_FINGERPRINT_RANGE: usize = 24;

pub(super) struct Round<'e> {
    framing: Framing,
    side: Side,
    items: &'e [Item],
    index: &'e RangeIndex,
    /// One past the last item of the window.
    end: usize,
    writer: Writer<'e>,
    their_order: &'e mut Vec<usize>,
    matched: &'e mut Vec<bool>,
    /// Where the next incoming range starts: its first item and its lower bound.
    prev_index: usize,
    prev_bound: Bound,
    /// Ranges found equal since the last one written, to be sent as one Skip before the next.
    skip_pending: bool,
    /// The items below the last bound written end here: a frame cut's closing fingerprint
    /// covers the rest, since the peer reads that range as starting at the last bound written.
    emitted_index: usize,
    fingerprint_ranges: usize,
    cut: bool,
    /// How many fingerprints to work out together ([`batch_size`]).
    batch: usize,
}

/// Where a message stood, to take back a piece that does not fit.
#[derive(Clone, Copy)]
struct Mark {
    writer: Checkpoint,
    fingerprint_ranges: usize,
    skip_pending: bool,
}

impl<'e> Round<'e> {
    pub(super) fn new(engine: &'e mut Engine, snapshot: &'e Snapshot, side: Side) -> Self {
        Self {
            framing: engine.framing,
            side,
            items: snapshot.items(),
            index: snapshot.range_index(),
            end: engine.end,
            writer: Writer::new(&mut engine.out),
            their_order: &mut engine.their_order,
            matched: &mut engine.matched,
            prev_index: engine.begin,
            prev_bound: Bound::LOWEST,
            skip_pending: false,
            emitted_index: engine.begin,
            fingerprint_ranges: 0,
            cut: false,
            batch: batch_size(),
        }
    }

    pub(super) fn is_cut(&self) -> bool {
        self.cut
    }

    /// How many of the peer's fingerprint ranges to gather for [`answer_fingerprints`](Self::answer_fingerprints).
    pub(super) fn batch(&self) -> usize {
        self.batch
    }

    pub(super) fn finish(self) -> Written {
        Written {
            fingerprint_ranges: self.fingerprint_ranges,
        }
    }

    /// Answers one range of the peer's message.
    pub(super) fn answer(
        &mut self,
        range: &Range<'_>,
        have: &mut Vec<Id>,
        need: &mut Vec<Id>,
    ) -> Result<(), Error> {
        let lower = self.prev_index;
        let upper = self.lower_bound(lower, &range.bound);
        self.answer_range(range, lower, upper, None, have, need)
    }

    /// Answers a run of the peer's fingerprint ranges (at most [`BATCH`]), working out our
    /// fingerprints of them together first: [`fingerprint_each`] hashes them side by side where
    /// that is faster.
    pub(super) fn answer_fingerprints(
        &mut self,
        ranges: &[Range<'_>],
        have: &mut Vec<Id>,
        need: &mut Vec<Id>,
    ) -> Result<(), Error> {
        // Each range starts where the one before it ends: while the message is not cut, answering
        // a range moves `prev_index` to its end.
        let mut edges = [0; BATCH + 1];
        edges[0] = self.prev_index;
        for (i, range) in ranges.iter().enumerate() {
            edges[i + 1] = self.lower_bound(edges[i], &range.bound);
        }
        let mut ours = [[0; FINGERPRINT_SIZE]; BATCH];
        self.fingerprints_between(&edges[..=ranges.len()], &mut ours);
        for (i, range) in ranges.iter().enumerate() {
            if self.cut {
                break;
            }
            self.answer_range(range, edges[i], edges[i + 1], Some(&ours[i]), have, need)?;
        }
        Ok(())
    }

    /// Answers `range`, which holds our items `lower..upper`; `ours` is our fingerprint of
    /// them when it was worked out already.
    fn answer_range(
        &mut self,
        range: &Range<'_>,
        lower: usize,
        upper: usize,
        ours: Option<&[u8; FINGERPRINT_SIZE]>,
        have: &mut Vec<Id>,
        need: &mut Vec<Id>,
    ) -> Result<(), Error> {
        let matches = |theirs: &[u8; FINGERPRINT_SIZE]| match ours {
            Some(ours) => theirs == ours,
            None => *theirs == self.fingerprint(lower, upper),
        };
        let next = match range.payload {
            Payload::Skip => {
                self.skip_pending = true;
                upper
            }
            Payload::Fingerprint(theirs) if matches(theirs) => {
                self.skip_pending = true;
                upper
            }
            Payload::IdList(ids) if self.side == Side::Initiator => {
                self.match_ids(lower, upper, ids, have, need)?;
                self.skip_pending = true;
                upper
            }
            // A fingerprint that differs, or an ID list to a responder: this needs an answer.
            payload => match self.framing {
                Framing::Radio { .. } => {
                    self.reply_radio(payload, lower, upper, range.bound)?;
                    upper
                }
                Framing::Unlimited | Framing::Crate { .. } => {
                    self.reply_crate(payload, lower, upper, range.bound)
                }
            },
        };
        self.prev_index = next;
        self.prev_bound = range.bound;
        Ok(())
    }

    /// The crate's rules, step for step: a split is dropped whole when it would pass the limit;
    /// an ID list answer is cut item by item and always kept. Returns where the next range
    /// starts (an ID list answer cut short ends early).
    fn reply_crate(
        &mut self,
        payload: Payload<'_>,
        lower: usize,
        upper: usize,
        bound: Bound,
    ) -> usize {
        let start = self.mark();
        self.flush_skip();
        if let Payload::IdList(_) = payload {
            let end = self.answer_ids_crate(start.writer.len(), lower, upper, bound);
            self.emitted_index = end;
            if self.framing.crate_must_cut(self.writer.len()) {
                self.close();
            }
            return end;
        }
        self.split_crate(lower, upper, bound);
        if self.framing.crate_must_cut(self.writer.len()) {
            self.rewind(start);
            self.close();
        } else {
            self.emitted_index = upper;
        }
        upper
    }

    /// Our IDs in `lower..upper`, as many as the crate would send: it stops before the item at
    /// which the message (without this range's bound, mode and count) would pass the limit,
    /// and ends the range at that item.
    fn answer_ids_crate(&mut self, base: usize, lower: usize, upper: usize, bound: Bound) -> usize {
        let mut end = upper;
        for index in lower..upper {
            if self
                .framing
                .crate_must_cut(base + (index - lower) * ID_SIZE)
            {
                end = index;
                break;
            }
        }
        let end_bound = match end == upper {
            true => bound,
            false => Bound::of_item(&self.items[end]),
        };
        self.write_id_list(lower, end, &end_bound);
        end
    }

    /// The crate's split: an ID list under 32 items, else 16 fingerprinted buckets.
    fn split_crate(&mut self, lower: usize, upper: usize, bound: Bound) {
        let count = upper - lower;
        if count < ID_LIST_THRESHOLD {
            self.write_id_list(lower, upper, &bound);
        } else {
            self.write_buckets(lower, upper, bound, BUCKETS);
        }
    }

    /// Splits `lower..upper` (the first message, or a range whose fingerprints differ).
    pub(super) fn split(&mut self, lower: usize, upper: usize, bound: Bound) -> Result<(), Error> {
        match self.framing {
            Framing::Radio { .. } => self.split_radio(lower, upper, bound),
            Framing::Unlimited | Framing::Crate { .. } => {
                self.split_crate(lower, upper, bound);
                Ok(())
            }
        }
    }

    fn reply_radio(
        &mut self,
        payload: Payload<'_>,
        lower: usize,
        upper: usize,
        bound: Bound,
    ) -> Result<(), Error> {
        let Payload::IdList(ids) = payload else {
            return self.split_radio(lower, upper, bound);
        };
        if self.try_id_list(lower, upper, bound) {
            return Ok(());
        }
        let theirs = ids.len() / ID_SIZE;
        if upper - lower > 2 * theirs {
            // We hold far more than the peer: most of our IDs are what it lacks, so send as
            // many as fit and cut; it asks for the rest.
            self.truncated_id_list(lower, upper, bound)
        } else {
            // Mostly the same IDs on both sides: fingerprints of sub-ranges find the few that
            // differ without sending the shared ones.
            self.buckets_radio(lower, upper, bound)
        }
    }

    /// The first of our IDs in `lower..upper` that fit (at least one), ended at the shortest
    /// bound before the next item, then the cut.
    fn truncated_id_list(&mut self, lower: usize, upper: usize, bound: Bound) -> Result<(), Error> {
        let start = self.mark();
        self.flush_skip();
        let most = upper - lower - 1;
        let between =
            |round: &Self, end: usize| Bound::between(&round.items[end - 1], &round.items[end]);
        if self.id_list_prefix(lower, most, between) {
            return Ok(());
        }
        self.rewind(start);
        self.cut_or_answer_start(lower, upper, bound)
    }

    fn split_radio(&mut self, lower: usize, upper: usize, bound: Bound) -> Result<(), Error> {
        if upper - lower < ID_LIST_THRESHOLD && self.try_id_list(lower, upper, bound) {
            return Ok(());
        }
        self.buckets_radio(lower, upper, bound)
    }

    /// Writes our whole ID list for `lower..upper` if it fits; true when it did.
    fn try_id_list(&mut self, lower: usize, upper: usize, bound: Bound) -> bool {
        let capacity = self.framing.capacity();
        // Never write what cannot fit: a long range would grow the buffer only to be taken back.
        if self.writer.len() + (upper - lower) * ID_SIZE > capacity {
            return false;
        }
        let start = self.mark();
        self.flush_skip();
        self.write_id_list(lower, upper, &bound);
        if self.writer.len() > capacity {
            self.rewind(start);
            return false;
        }
        self.emitted_index = upper;
        true
    }

    /// Fingerprinted buckets of `lower..upper`, as many as the frame's room suggests (2 to 16),
    /// each kept only if it fits; the first that does not cuts the message.
    fn buckets_radio(&mut self, lower: usize, upper: usize, bound: Bound) -> Result<(), Error> {
        let capacity = self.framing.capacity();
        let count = upper - lower;
        if count < 2 {
            // One item or none cannot be split further: only an ID list answers it.
            return self.cut_or_answer_start(lower, upper, bound);
        }
        let room = capacity.saturating_sub(self.writer.len());
        let buckets = (room / TYPICAL_FINGERPRINT_RANGE)
            .clamp(2, BUCKETS)
            .min(count);
        let all_fit =
            self.for_each_bucket(lower, upper, buckets, &mut |round, next, fingerprint| {
                let next_bound = round.bucket_bound(next, upper, bound);
                let start = round.mark();
                round.flush_skip();
                round.writer.fingerprint(&next_bound, fingerprint);
                round.fingerprint_ranges += 1;
                if round.writer.len() > capacity {
                    round.rewind(start);
                    return false;
                }
                round.emitted_index = next;
                true
            });
        match all_fit {
            true => Ok(()),
            false => self.cut_or_answer_start(lower, upper, bound),
        }
    }

    /// A piece of the answer to `lower..upper` does not fit: cut the message here. When nothing
    /// is in it yet, a message of only the closing fingerprint would ask the peer what it asked
    /// us, for ever: answer the start of the range alone instead.
    fn cut_or_answer_start(
        &mut self,
        lower: usize,
        upper: usize,
        bound: Bound,
    ) -> Result<(), Error> {
        if self.writer.len() == 1 {
            return self.answer_start(lower, upper, bound);
        }
        self.close();
        Ok(())
    }

    /// The start of `lower..upper` alone, when nothing else fits a message on its own, then
    /// the cut: our IDs from `lower` on, as many as fit, in an ID list that ends right after
    /// the last one sent; or, when our first item comes at a later timestamp than the range
    /// starts, an empty ID list up to that timestamp. Where timestamps change, the bounds cost
    /// a timestamp and no ID prefix, and the next round starts there; so the bounds that cost
    /// most (IDs sharing 31 bytes at one timestamp) are paid for two at most. That is what
    /// makes 128 bytes enough below a timestamp of 2^42 (`MIN_FRAME_SIZE_LIMIT`).
    fn answer_start(&mut self, lower: usize, upper: usize, bound: Bound) -> Result<(), Error> {
        let capacity = self.framing.capacity();
        let start = self.mark();
        self.flush_skip();
        if self.id_list_prefix(lower, upper - lower, |round, end| {
            round.bound_after(end, upper, bound)
        }) {
            return Ok(());
        }
        if lower < upper && self.prev_bound.timestamp < self.items[lower].timestamp {
            let attempt = self.mark();
            self.write_id_list(
                lower,
                lower,
                &Bound::at_timestamp(self.items[lower].timestamp),
            );
            if self.writer.len() <= capacity {
                self.emitted_index = lower;
                self.close();
                return Ok(());
            }
            self.rewind(attempt);
        }
        self.rewind(start);
        Err(Error::LimitExceeded(Limit::FrameSize))
    }

    /// The longest ID list of our items from `lower` on (at most `most` of them, ended by
    /// `bound_at(end)`) that fits, then the cut; false, with nothing written, when not one fits.
    fn id_list_prefix(
        &mut self,
        lower: usize,
        most: usize,
        bound_at: impl Fn(&Self, usize) -> Bound,
    ) -> bool {
        let capacity = self.framing.capacity();
        let room = capacity.saturating_sub(self.writer.len());
        let mut count = (room / ID_SIZE).min(most);
        while count > 0 {
            let end = lower + count;
            let attempt = self.mark();
            let bound = bound_at(self, end);
            self.write_id_list(lower, end, &bound);
            if self.writer.len() <= capacity {
                self.emitted_index = end;
                self.close();
                return true;
            }
            self.rewind(attempt);
            count -= 1;
        }
        false
    }

    /// The cheapest bound that ends an ID list of our items before `end` (within a range of
    /// ours ending at `upper`, at `bound`): the next timestamp, with no ID prefix, when the
    /// item after the list comes later; else the shortest bound before that item.
    fn bound_after(&self, end: usize, upper: usize, bound: Bound) -> Bound {
        let last = self.items[end - 1].timestamp;
        let next = match end == upper {
            true => bound.timestamp,
            false => self.items[end].timestamp,
        };
        match (next > last, end == upper) {
            (true, _) => Bound::at_timestamp(last + 1),
            (false, true) => bound,
            (false, false) => Bound::between(&self.items[end - 1], &self.items[end]),
        }
    }

    /// Closes a cut message: one fingerprint up to infinity over everything not yet answered.
    fn close(&mut self) {
        let fingerprint = self.fingerprint(self.emitted_index, self.end);
        self.writer.fingerprint(&Bound::INFINITY, &fingerprint);
        self.fingerprint_ranges += 1;
        self.cut = true;
    }

    fn write_buckets(&mut self, lower: usize, upper: usize, bound: Bound, buckets: usize) {
        self.for_each_bucket(lower, upper, buckets, &mut |round, next, fingerprint| {
            let next_bound = round.bucket_bound(next, upper, bound);
            round.writer.fingerprint(&next_bound, fingerprint);
            round.fingerprint_ranges += 1;
            true
        });
    }

    /// Calls `write` for each bucket of `lower..upper` cut into `buckets`, in order, with where
    /// the bucket ends and its fingerprint (worked out a batch at a time); stops at the first
    /// bucket `write` refuses, and says whether it took them all. The first `count % buckets`
    /// buckets take one item more than the rest.
    fn for_each_bucket(
        &mut self,
        lower: usize,
        upper: usize,
        buckets: usize,
        write: &mut dyn FnMut(&mut Self, usize, &[u8; FINGERPRINT_SIZE]) -> bool,
    ) -> bool {
        let count = upper - lower;
        let (per_bucket, with_extra) = (count / buckets, count % buckets);
        let edge = |bucket: usize| lower + bucket * per_bucket + bucket.min(with_extra);
        let (mut edges, mut fingerprints) = ([0; BATCH + 1], [[0; FINGERPRINT_SIZE]; BATCH]);
        let mut first = 0;
        while first < buckets {
            let len = (buckets - first).min(self.batch).min(BATCH);
            for (i, at) in edges[..=len].iter_mut().enumerate() {
                *at = edge(first + i);
            }
            self.fingerprints_between(&edges[..=len], &mut fingerprints);
            for (i, fingerprint) in fingerprints[..len].iter().enumerate() {
                if !write(self, edges[i + 1], fingerprint) {
                    return false;
                }
            }
            first += len;
        }
        true
    }

    /// The bound that ends a bucket at item `next`: the range's own bound at its end, else the
    /// shortest bound between the bucket's last item and the next one.
    fn bucket_bound(&self, next: usize, upper: usize, bound: Bound) -> Bound {
        match next == upper {
            true => bound,
            false => Bound::between(&self.items[next - 1], &self.items[next]),
        }
    }

    fn write_id_list(&mut self, lower: usize, upper: usize, bound: &Bound) {
        self.writer.id_list_header(bound, upper - lower);
        for item in &self.items[lower..upper] {
            self.writer.id(&item.id.0);
        }
    }

    fn flush_skip(&mut self) {
        if self.skip_pending {
            self.skip_pending = false;
            self.writer.skip(&self.prev_bound);
        }
    }

    /// An initiator reads the peer's IDs for `lower..upper`: ours it lacks are `have`, its own
    /// we lack are `need`. Each of its IDs answers one of ours, as a set would. The lists grow
    /// with `try_reserve`: a refused block is [`Error::OutOfMemory`], not an abort (the session
    /// then drops what the round added).
    fn match_ids(
        &mut self,
        lower: usize,
        upper: usize,
        ids: &[u8],
        have: &mut Vec<Id>,
        need: &mut Vec<Id>,
    ) -> Result<(), Error> {
        let id_at = |position: usize| -> Id {
            Id(ids[position * ID_SIZE..][..ID_SIZE]
                .try_into()
                .unwrap_or_else(|_| panic!("32 bytes an ID")))
        };
        order_by_id(self.their_order, ids.len() / ID_SIZE, &id_at);
        self.their_order.dedup_by(|a, b| id_at(*a) == id_at(*b));
        self.matched.clear();
        self.matched.resize(self.their_order.len(), false);
        let mut matches = 0;
        for item in &self.items[lower..upper] {
            match self
                .their_order
                .binary_search_by(|&position| id_at(position).cmp(&item.id))
            {
                Ok(at) if !self.matched[at] => {
                    self.matched[at] = true;
                    matches += 1;
                }
                _ => {
                    make_room(have, 1)?;
                    have.push(item.id);
                }
            }
        }
        make_room(need, self.their_order.len() - matches)?;
        need.extend(
            self.their_order
                .iter()
                .zip(self.matched.iter())
                .filter(|(_, matched)| !**matched)
                .map(|(&position, _)| id_at(position)),
        );
        Ok(())
    }

    fn fingerprint(&self, lower: usize, upper: usize) -> [u8; FINGERPRINT_SIZE] {
        self.range_sum(lower, upper)
            .fingerprint((upper - lower) as u64)
    }

    /// Our fingerprints of the ranges `edges[i]..edges[i + 1]`, worked out together, into `out`.
    fn fingerprints_between(&self, edges: &[usize], out: &mut [[u8; FINGERPRINT_SIZE]]) {
        let input = |i: usize| {
            let (lower, upper) = (edges[i], edges[i + 1]);
            (self.range_sum(lower, upper), (upper - lower) as u64)
        };
        fingerprint_each(edges.len() - 1, input, out);
    }

    fn range_sum(&self, lower: usize, upper: usize) -> IdSum {
        if RangeIndex::sums_directly(lower, upper) {
            direct_sum(&self.items[lower..upper])
        } else {
            let mut sum = self.index.prefix_sum(self.items, upper);
            sum.sub(&self.index.prefix_sum(self.items, lower));
            sum
        }
    }

    /// The first item at or after `first` (within the window) that is not below `bound`.
    ///
    /// The sampled timestamps first skip what is surely below (reading a small array, not the
    /// items); from there the answer is usually a few items on: a galloping search (1, 2, 4, ...
    /// items ahead) finds the stretch it is in while reading memory close together, then a plain
    /// binary-search loop (measured faster here than `partition_point` with a closure) finishes
    /// inside it.
    fn lower_bound(&self, first: usize, bound: &Bound) -> usize {
        let mut low = self.index.skip_below(first, self.end, bound.timestamp);
        let mut step = 1;
        while low + step <= self.end && bound.is_above(&self.items[low + step - 1]) {
            low += step;
            step *= 2;
        }
        let mut count = step.min(self.end - low + 1) - 1;
        let mut first = low;
        while count > 0 {
            let half = count / 2;
            if bound.is_above(&self.items[first + half]) {
                first += half + 1;
                count -= half + 1;
            } else {
                count = half;
            }
        }
        first
    }

    fn mark(&self) -> Mark {
        Mark {
            writer: self.writer.checkpoint(),
            fingerprint_ranges: self.fingerprint_ranges,
            skip_pending: self.skip_pending,
        }
    }

    fn rewind(&mut self, to: Mark) {
        self.writer.rewind(to.writer);
        self.fingerprint_ranges = to.fingerprint_ranges;
        self.skip_pending = to.skip_pending;
    }
}
