//! The connection table, one part of the event loop: each open connection's slot, indexed by
//! its poller token less the first connection token; free indexes reused first; how many are
//! open; the connections due another turn; the read buffer the turns share.

use mio::Token;

use super::slot::Slot;

/// The open connections.
pub(crate) struct Table {
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    live: usize,
    first_token: usize,
    /// Connections that had their turn with bytes still waiting: driven again next round.
    again: Vec<usize>,
    /// The read buffer, one for all.
    buf: Vec<u8>,
}

impl Table {
    /// An empty table whose first connection has the poller token `first_token`.
    pub(crate) fn new(first_token: usize) -> Table {
        Table {
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            first_token,
            again: Vec::new(),
            buf: vec![0; 64 * 1024],
        }
    }

    /// Connections open.
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// The poller token of the connection at `index`.
    pub(crate) fn token(&self, index: usize) -> Token {
        Token(self.first_token + index)
    }

    /// The index of the connection with poller token `token`, if it is one's.
    pub(crate) fn index_of(&self, token: usize) -> Option<usize> {
        token.checked_sub(self.first_token)
    }

    /// An index for a new connection (give it back with [`Table::unreserve`] if it is not
    /// put there).
    pub(crate) fn reserve(&mut self) -> usize {
        self.free.pop().unwrap_or(self.slots.len())
    }

    /// A reserved index not used after all.
    pub(crate) fn unreserve(&mut self, index: usize) {
        self.free.push(index);
    }

    /// A new connection at a reserved index.
    pub(crate) fn put(&mut self, index: usize, slot: Slot) {
        match self.slots.get_mut(index) {
            Some(place) => *place = Some(slot),
            None => self.slots.push(Some(slot)),
        }
        self.live += 1;
    }

    /// Takes the connection at `index` out (it is closed): its index is free again.
    pub(crate) fn take(&mut self, index: usize) -> Option<Slot> {
        let slot = self.slots.get_mut(index).and_then(Option::take)?;
        self.live -= 1;
        self.free.push(index);
        Some(slot)
    }

    /// Whether `index` is within the table (open or free).
    pub(crate) fn holds(&self, index: usize) -> bool {
        index < self.slots.len()
    }

    /// The connection at `index`.
    pub(crate) fn get(&self, index: usize) -> Option<&Slot> {
        self.slots.get(index).and_then(Option::as_ref)
    }

    /// The connection at `index`, to change.
    pub(crate) fn get_mut(&mut self, index: usize) -> Option<&mut Slot> {
        self.slots.get_mut(index).and_then(Option::as_mut)
    }

    /// The connection at `index` with the read buffer.
    pub(crate) fn get_with_buf(&mut self, index: usize) -> Option<(&mut Slot, &mut [u8])> {
        let slot = self.slots.get_mut(index).and_then(Option::as_mut)?;
        Some((slot, &mut self.buf))
    }

    /// Every slot, open (`Some`) or free, by index.
    pub(crate) fn slots(&self) -> &[Option<Slot>] {
        &self.slots
    }

    /// The open connections' indexes that `keep` keeps.
    pub(crate) fn indexes_where(&self, keep: impl Fn(&Slot) -> bool) -> Vec<usize> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (i, s)))
            .filter(|(_, s)| keep(s))
            .map(|(i, _)| i)
            .collect()
    }

    /// The connection at `index` is due another turn.
    pub(crate) fn again(&mut self, index: usize) {
        self.again.push(index);
    }

    /// Whether connections are due another turn.
    pub(crate) fn has_again(&self) -> bool {
        !self.again.is_empty()
    }

    /// The connections due another turn, taken.
    pub(crate) fn take_again(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.again)
    }
}
