//! The far-end reference: what the speaker plays, handed from the playing side to
//! the [`VoiceProcessor`](super::VoiceProcessor) on the capture side.
//!
//! | channel | producer → consumer | capacity | full-policy |
//! | --- | --- | --- | --- |
//! | far-end pieces | speaker callback (`samespace-speaker`), or `samespace-audio-tx` itself without a speaker → `samespace-audio-tx` | [`FAR_END_CAPACITY`] | the new piece is dropped and counted (a sound card's callback never waits) |

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_channel::{Receiver, Sender, TrySendError};

use super::error::TalkError;
use super::processor::VoiceProcessor;

/// Far-end pieces waiting for the capture side: 64 callbacks (about 0.6–1.4 s of
/// playout at the usual 10–21 ms periods).
pub const FAR_END_CAPACITY: usize = 64;

/// The playing side's end: hands over each piece the speaker plays (mono 48 kHz).
#[derive(Clone, Debug)]
pub struct FarEndTap {
    tx: Sender<Vec<f32>>,
    dropped: Arc<AtomicU64>,
}

/// The capture side's end.
#[derive(Debug)]
pub struct FarEnd {
    rx: Receiver<Vec<f32>>,
    dropped: Arc<AtomicU64>,
}

/// A new reference channel of [`FAR_END_CAPACITY`].
pub fn far_end_channel() -> (FarEndTap, FarEnd) {
    let (tx, rx) = crossbeam_channel::bounded(FAR_END_CAPACITY);
    let dropped = Arc::new(AtomicU64::new(0));
    (
        FarEndTap {
            tx,
            dropped: dropped.clone(),
        },
        FarEnd { rx, dropped },
    )
}

impl FarEndTap {
    /// Hands over `samples` just played; never waits.
    pub fn push(&self, samples: &[f32]) {
        if samples.is_empty() {
            return;
        }
        match self.tx.try_send(samples.to_vec()) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

impl FarEnd {
    /// Feeds every waiting piece to `processor`; returns the samples fed.
    pub fn drain_into(&self, processor: &mut VoiceProcessor) -> Result<usize, TalkError> {
        let mut fed = 0;
        for piece in self.rx.try_iter() {
            processor.push_far_end(&piece)?;
            fed += piece.len();
        }
        Ok(fed)
    }

    /// Pieces dropped because the capture side was behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::talk::TalkSettings;

    #[test]
    fn pieces_reach_the_processor_and_overflow_is_counted() {
        let (tap, far) = far_end_channel();
        for _ in 0..FAR_END_CAPACITY + 3 {
            tap.push(&[0.0; 100]);
        }
        tap.push(&[]);
        assert_eq!(far.dropped(), 3);
        let mut p = VoiceProcessor::new(TalkSettings::default()).expect("processor");
        let fed = far.drain_into(&mut p).expect("drain");
        assert_eq!(fed, FAR_END_CAPACITY * 100);
        assert_eq!(p.stats().far_end_samples, fed as u64);
        assert_eq!(far.drain_into(&mut p).expect("drain"), 0);
    }
}
