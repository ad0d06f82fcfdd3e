//! The three schedules: who puts and takes how much, the script of turns, and what each
//! variant does under it. Between them each wrong variant breaks and the right one passes.

use super::Outcome::{AllAsleep, OverFull, Passed, TookNothing};
use super::Side::{Consumer, Producer};
use super::{Schedule, Variant};

/// The schedules, in the order the scenario runs them.
pub const SCHEDULES: [Schedule; 3] = [
    Schedule {
        name: "a consumer barges in",
        actors: [
            ("producer", Producer, 2),
            ("consumer 1", Consumer, 1),
            ("consumer 2", Consumer, 1),
        ],
        // Consumer 1 waits; the producer puts and signals it; consumer 2 takes the item
        // before consumer 1 runs again; consumer 1 runs.
        script: &[1, 0, 2, 1, 0, 1],
        shown: Variant::new(false, true),
        expected: [TookNothing, TookNothing, Passed, Passed],
    },
    Schedule {
        name: "a producer barges in",
        actors: [
            ("producer 1", Producer, 2),
            ("producer 2", Producer, 1),
            ("consumer", Consumer, 3),
        ],
        // Producer 1 fills the buffer and waits; the consumer takes and signals it; producer 2
        // fills the buffer before producer 1 runs again; producer 1 runs.
        script: &[0, 0, 2, 1, 0, 2, 0, 2],
        shown: Variant::new(false, true),
        expected: [OverFull, OverFull, Passed, Passed],
    },
    Schedule {
        name: "a consumer wakes a consumer",
        actors: [
            ("producer", Producer, 2),
            ("consumer 1", Consumer, 1),
            ("consumer 2", Consumer, 1),
        ],
        // Both consumers wait; the producer puts, signals (consumer 1 wakes) and waits on a
        // full buffer; consumer 1 takes and signals: with one condition variable its signal
        // goes to consumer 2, first in line, not to the producer.
        script: &[1, 2, 0, 0, 1, 2, 0, 2],
        shown: Variant::new(true, false),
        expected: [TookNothing, Passed, AllAsleep, Passed],
    },
];
