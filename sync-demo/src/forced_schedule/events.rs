//! A run's events, each packed into one `u32` of its stage's log (actor, kind, two small
//! numbers), so that a run in child processes can be narrated by the parent afterwards.

use crate::bounded_buffer::Change;

use super::{Outcome, ACTORS};

/// One event of a run, for narration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The buffer was full or empty (`count` items): the actor waits on condition variable `cv`.
    Waits { cv: usize, count: u32 },
    /// Signalled, the actor has its turn and the lock again.
    Woken,
    /// The buffer changed.
    Changed(Change),
    /// The actor signalled `cv`, which woke actor `woke` (or nobody).
    Signals { cv: usize, woke: Option<usize> },
    /// The actor broke the buffer.
    Broke(Outcome),
}

/// `event` of `actor` as one word: actor, kind, two numbers of 8 bits each.
pub(super) fn encode(actor: usize, event: Event) -> u32 {
    let (kind, a, b) = match event {
        Event::Waits { cv, count } => (1, cv as u32, count),
        Event::Woken => (2, 0, 0),
        Event::Changed(Change::Put { item, count }) => (3, item, count),
        Event::Changed(Change::Got { item, count }) => (4, item, count),
        Event::Signals { cv, woke } => (5, cv as u32, woke.map_or(0, |w| w as u32 + 1)),
        Event::Broke(outcome) => (6, outcome as u32, 0),
    };
    (actor as u32) << 24 | kind << 16 | (a & 0xff) << 8 | (b & 0xff)
}

/// The actor and event of a log word; `None` for a word that is no event (any bits may be).
pub(super) fn decode(word: u32) -> Option<(usize, Event)> {
    let (actor, kind, a, b) = (
        (word >> 24) as usize,
        (word >> 16) & 0xff,
        (word >> 8) & 0xff,
        word & 0xff,
    );
    let event = match kind {
        1 => Event::Waits {
            cv: a as usize,
            count: b,
        },
        2 => Event::Woken,
        3 => Event::Changed(Change::Put { item: a, count: b }),
        4 => Event::Changed(Change::Got { item: a, count: b }),
        5 => Event::Signals {
            cv: a as usize,
            woke: (b as usize).checked_sub(1),
        },
        6 => Event::Broke(Outcome::from_word(a)),
        _ => return None,
    };
    (actor < ACTORS).then_some((actor, event))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_survive_their_encoding() {
        let events = [
            Event::Waits { cv: 1, count: 0 },
            Event::Woken,
            Event::Changed(Change::Got { item: 2, count: 0 }),
            Event::Signals {
                cv: 0,
                woke: Some(2),
            },
            Event::Signals { cv: 1, woke: None },
            Event::Broke(Outcome::OverFull),
        ];
        for e in events {
            assert_eq!(decode(encode(2, e)), Some((2, e)));
        }
    }
}
