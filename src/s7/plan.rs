//! Request planning, sans-IO: how reads and writes are cut into S7 requests
//! whose request and answer both fit the negotiated PDU size (and the
//! 20-items-per-request limit). The client only sends what this plans.

use super::item::{Area, Item};
use super::pdu::{self, MAX_ITEMS};
use crate::{Error, Result};
use std::ops::Range;

/// Most data bytes one read answer carries for a single item, a whole
/// number of `elem`-byte elements.
pub(crate) fn max_read_bytes(pdu_size: u16, elem: usize) -> usize {
    whole(
        usize::from(pdu_size).saturating_sub(pdu::ACK_HEADER + 2 + 4),
        elem,
    )
}

/// Most data bytes one write request carries for a single item.
pub(crate) fn max_write_bytes(pdu_size: u16, elem: usize) -> usize {
    whole(
        usize::from(pdu_size).saturating_sub(pdu::REQUEST_HEADER + 2 + pdu::ITEM_SPEC + 4),
        elem,
    )
}

/// `room` rounded down to an even number, then to whole elements (at least
/// one element).
fn whole(room: usize, elem: usize) -> usize {
    let elem = elem.max(1);
    (room - room % 2).max(elem) / elem * elem
}

/// The requests of one area read or write of `len` bytes from `start`,
/// each at most `max` bytes: the byte range of the caller's buffer and the
/// item that carries it. Made by [`chunks`].
#[derive(Debug, Clone)]
pub(crate) struct Chunks {
    area: Area,
    db: u16,
    start: u32,
    len: usize,
    max: usize,
    done: usize,
}

/// Plans an area read or write of `len` bytes (a whole number of the
/// area's elements, or [`Error::Config`]) in pieces of at most `max`.
pub(crate) fn chunks(area: Area, db: u16, start: u32, len: usize, max: usize) -> Result<Chunks> {
    let elem = area.element_size();
    if len % elem != 0 {
        return Err(Error::Config(format!(
            "{area:?}: {len} bytes is not a whole number of 2-byte elements"
        )));
    }
    Ok(Chunks {
        area,
        db,
        start,
        len,
        max: (max / elem).max(1) * elem,
        done: 0,
    })
}

impl Iterator for Chunks {
    type Item = Result<(Range<usize>, Item)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done >= self.len {
            return None;
        }
        let n = (self.len - self.done).min(self.max);
        let range = self.done..self.done + n;
        let elem = self.area.element_size();
        let step = u32::try_from(self.done / elem).ok();
        let count = u16::try_from(n / elem).ok();
        let item = match (step.and_then(|s| self.start.checked_add(s)), count) {
            (Some(s), Some(l)) => Item::bytes(self.area, self.db, s, l),
            _ => {
                let e = Error::Config(format!(
                    "S7 {:?} start {} + {} bytes is out of range",
                    self.area, self.start, self.done
                ));
                self.done = self.len;
                return Some(Err(e));
            }
        };
        if let Err(e) = item.validate() {
            self.done = self.len;
            return Some(Err(e));
        }
        self.done += n;
        Some(Ok((range, item)))
    }
}

/// One request item covering part (or all) of a caller's item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Piece {
    /// Index of the caller's item.
    pub(crate) index: usize,
    /// The caller's item (named in errors).
    pub(crate) whole: Item,
    /// What goes on the wire.
    pub(crate) item: Item,
    /// Byte offset of this piece in the caller's item.
    pub(crate) offset: usize,
}

impl Piece {
    /// This piece's share of `data`, the caller's bytes for its item.
    pub(crate) fn data<'a>(&self, data: &'a [u8]) -> &'a [u8] {
        let end = (self.offset + self.item.byte_len()).min(data.len());
        &data[self.offset.min(end)..end]
    }
}

/// Splits items into pieces of at most `max` bytes (whole elements); a bit
/// item stays whole.
pub(crate) fn split(items: &[Item], max: usize) -> Vec<Piece> {
    let mut pieces = Vec::with_capacity(items.len());
    for (index, whole) in items.iter().enumerate() {
        let elem = whole.area.element_size();
        let max = (max / elem).max(1) * elem;
        let total = whole.byte_len();
        if whole.bit.is_some() || total <= max {
            pieces.push(Piece {
                index,
                whole: *whole,
                item: *whole,
                offset: 0,
            });
            continue;
        }
        let mut offset = 0;
        while offset < total {
            let n = (total - offset).min(max);
            let step = u32::try_from(offset / elem).unwrap_or(u32::MAX);
            let item = Item::bytes(
                whole.area,
                whole.db,
                whole.start.saturating_add(step),
                u16::try_from(n / elem).unwrap_or(u16::MAX),
            );
            pieces.push(Piece {
                index,
                whole: *whole,
                item,
                offset,
            });
            offset += n;
        }
    }
    pieces
}

/// Cuts the pieces of a multi-item read into requests: ranges of
/// consecutive pieces, each at most [`MAX_ITEMS`], whose request and answer
/// fit `pdu_size`.
pub(crate) fn read_batches(pieces: &[Piece], pdu_size: u16) -> Vec<Range<usize>> {
    batches(
        pieces,
        pdu_size,
        pdu::ACK_HEADER + 2,
        |p| pdu::read_answer_item_len(p.item.byte_len(), false),
        pdu::read_request_len,
    )
}

/// Cuts the pieces of a multi-item write into requests, like
/// [`read_batches`].
pub(crate) fn write_batches(pieces: &[Piece], pdu_size: u16) -> Vec<Range<usize>> {
    batches(
        pieces,
        pdu_size,
        pdu::REQUEST_HEADER + 2,
        |p| pdu::ITEM_SPEC + pdu::write_data_item_len(p.item.byte_len(), false),
        |n| pdu::ACK_HEADER + 2 + n,
    )
}

/// The batching both directions share: one message grows by `need` per
/// piece from `base` bytes (the read answer, the write request), the other
/// is `by_count(n)` bytes for `n` pieces (the read request, the write
/// answer). A batch is cut before a piece that would push either past the
/// PDU, or past [`MAX_ITEMS`]; a batch holds at least one piece.
fn batches(
    pieces: &[Piece],
    pdu_size: u16,
    base: usize,
    need: impl Fn(&Piece) -> usize,
    by_count: impl Fn(usize) -> usize,
) -> Vec<Range<usize>> {
    let pdu = usize::from(pdu_size);
    let mut out = Vec::new();
    let mut begin = 0;
    let mut len = base;
    for (i, piece) in pieces.iter().enumerate() {
        let n = i - begin;
        let more = need(piece);
        if n > 0 && (n == MAX_ITEMS || by_count(n + 1) > pdu || len + more > pdu) {
            out.push(begin..i);
            begin = i;
            len = base;
        }
        len += more;
    }
    if begin < pieces.len() {
        out.push(begin..pieces.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_per_request() {
        // 480: 480 - 12 - 2 - 4 = 462 data bytes in a read answer.
        assert_eq!(max_read_bytes(480, 1), 462);
        assert_eq!(max_read_bytes(480, 2), 462);
        // 240 - 10 - 2 - 12 - 4 = 212 in a write request.
        assert_eq!(max_write_bytes(240, 1), 212);
        // Odd room is rounded down to even; at least one element.
        assert_eq!(max_read_bytes(241, 1), 222);
        assert_eq!(max_read_bytes(0, 2), 2);
    }

    #[test]
    fn an_area_read_is_cut_at_the_pdu() {
        let max = max_read_bytes(240, 1);
        let plan: Vec<_> = chunks(Area::Db, 1, 10, 500, max)
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(
            plan,
            [
                (0..222, Item::db(1, 10, 222)),
                (222..444, Item::db(1, 232, 222)),
                (444..500, Item::db(1, 454, 56)),
            ]
        );
        // Timers: whole 2-byte elements, addressed by element.
        let plan: Vec<_> = chunks(Area::Timers, 0, 3, 10, 7)
            .unwrap()
            .map(|c| c.unwrap().1)
            .collect();
        assert_eq!(
            plan,
            [
                Item::bytes(Area::Timers, 0, 3, 3),
                Item::bytes(Area::Timers, 0, 6, 2)
            ]
        );
        assert!(matches!(
            chunks(Area::Counters, 0, 0, 3, 100),
            Err(Error::Config(_))
        ));
        assert_eq!(chunks(Area::Db, 1, 0, 0, 100).unwrap().count(), 0);
    }

    #[test]
    fn an_address_past_24_bits_is_a_config_error_and_ends_the_plan() {
        let mut plan = chunks(Area::Db, 1, 0x1f_ffff, 400, 200).unwrap();
        assert!(plan.next().unwrap().is_ok(), "DBB 0x1fffff is addressable");
        assert!(matches!(plan.next(), Some(Err(Error::Config(_)))));
        assert!(plan.next().is_none());
        let mut plan = chunks(Area::Db, 1, u32::MAX - 10, 400, 200).unwrap();
        assert!(matches!(plan.next(), Some(Err(Error::Config(_)))));
    }

    #[test]
    fn large_items_split_and_bits_stay_whole() {
        let items = [
            Item::db(1, 0, 10),
            Item::bit(Area::Merkers, 0, 3, 1),
            Item::bytes(Area::Counters, 0, 0, 5),
        ];
        let pieces = split(&items, 4);
        let wire: Vec<(usize, Item, usize)> =
            pieces.iter().map(|p| (p.index, p.item, p.offset)).collect();
        assert_eq!(
            wire,
            [
                (0, Item::db(1, 0, 4), 0),
                (0, Item::db(1, 4, 4), 4),
                (0, Item::db(1, 8, 2), 8),
                (1, items[1], 0),
                (2, Item::bytes(Area::Counters, 0, 0, 2), 0),
                (2, Item::bytes(Area::Counters, 0, 2, 2), 4),
                (2, Item::bytes(Area::Counters, 0, 4, 1), 8),
            ]
        );
        let data: Vec<u8> = (0..10).collect();
        assert_eq!(pieces[1].data(&data), [4, 5, 6, 7]);
        assert_eq!(pieces[2].data(&data), [8, 9]);
        assert_eq!(pieces[2].data(&data[..9]), [8], "never past the data");
    }

    #[test]
    fn batches_respect_the_item_limit_and_the_pdu() {
        // 45 one-byte reads: 20 + 20 + 5 (the item limit).
        let items: Vec<Item> = (0..45).map(|i| Item::db(1, i, 1)).collect();
        let pieces = split(&items, max_read_bytes(960, 1));
        assert_eq!(read_batches(&pieces, 960), [0..20, 20..40, 40..45]);
        // 240-byte PDU: a request of n items is 12 + 12 n bytes, so 19 fit.
        assert_eq!(read_batches(&pieces, 240), [0..19, 19..38, 38..45]);
        // A 64-byte PDU: a request of 5 items is 72 bytes, so 4 go in one
        // (their answer, 14 + 4 * 6, fits).
        let items: Vec<Item> = (0..10).map(|i| Item::db(1, 2 * i, 2)).collect();
        let pieces = split(&items, max_read_bytes(64, 1));
        assert_eq!(read_batches(&pieces, 64), [0..4, 4..8, 8..10]);
        for range in read_batches(&pieces, 64) {
            let answer: usize = pieces[range.clone()]
                .iter()
                .map(|p| pdu::read_answer_item_len(p.item.byte_len(), false))
                .sum();
            assert!(pdu::ACK_HEADER + 2 + answer <= 64);
            assert!(pdu::read_request_len(range.len()) <= 64);
        }
        // Answers: 14 + (4 + 100) per 100-byte item in a 240-byte PDU: 2 fit.
        let items: Vec<Item> = (0..5).map(|i| Item::db(1, 100 * i, 100)).collect();
        let pieces = split(&items, max_read_bytes(240, 1));
        assert_eq!(read_batches(&pieces, 240), [0..2, 2..4, 4..5]);
        // Writes: 12 + (4 + 20) = 36 bytes per 20-byte item after the
        // 12-byte header, so 6 fit a 240-byte PDU.
        let items: Vec<Item> = (0..8).map(|i| Item::db(1, 20 * i, 20)).collect();
        let pieces = split(&items, max_write_bytes(240, 1));
        assert_eq!(write_batches(&pieces, 240), [0..6, 6..8]);
        assert!(read_batches(&[], 240).is_empty());
    }

    #[test]
    fn a_piece_that_fills_the_pdu_goes_alone() {
        let items = [Item::db(1, 0, 1000), Item::db(2, 0, 1)];
        let max = max_read_bytes(240, 1);
        let pieces = split(&items, max);
        let batches = read_batches(&pieces, 240);
        assert_eq!(batches.len(), pieces.len() - 1, "the last two share");
        assert!(batches.iter().all(|r| !r.is_empty()));
    }
}
