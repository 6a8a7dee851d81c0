//! A byte-bounded queue of encoded messages for one server connection.
//!
//! The room writes into a member's [`Outbox`] (relayed signals, `peer-joined`,
//! `peer-left`) from any connection task; the member's own task takes them out
//! ([`OutboxReceiver::recv`]) and writes them to its socket. The bound counts bytes,
//! not messages: every queued message costs its JSON length plus
//! [`MESSAGE_OVERHEAD_BYTES`], and a push that would go over the limit fails and
//! marks the outbox overflowed (full-policy: the member is a slow consumer; the room
//! drops it and its task closes the connection with `slow-consumer` without writing
//! what was queued). So a connection never holds more than its limit in queued
//! messages, however large the messages are.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::net::protocol::ServerToClient;

/// What one queued message costs on top of its text: the allocation and the queue
/// node, so a flood of tiny messages is bounded too.
pub const MESSAGE_OVERHEAD_BYTES: usize = 128;

/// The sending side, held by the room (the only sender: removing the member from its
/// room closes the queue).
#[derive(Debug)]
pub struct Outbox {
    tx: mpsc::UnboundedSender<Utf8Bytes>,
    shared: Arc<Shared>,
}

/// The receiving side, owned by the connection task.
#[derive(Debug)]
pub struct OutboxReceiver {
    rx: mpsc::UnboundedReceiver<Utf8Bytes>,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    queued: AtomicUsize,
    limit: usize,
    overflowed: AtomicBool,
    removed: AtomicBool,
}

/// Why the connection task gets nothing more from its outbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboxEnd {
    /// More than the byte limit was queued: the client reads too slowly.
    Overflowed,
    /// The room let go of the outbox (the member was dropped from it).
    Closed,
    /// The room's host removed the member ([`Outbox::mark_removed`]); what was
    /// queued before has been delivered.
    Removed,
}

/// A new outbox holding at most `limit_bytes`.
pub fn outbox(limit_bytes: usize) -> (Outbox, OutboxReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        queued: AtomicUsize::new(0),
        limit: limit_bytes,
        overflowed: AtomicBool::new(false),
        removed: AtomicBool::new(false),
    });
    (
        Outbox {
            tx,
            shared: shared.clone(),
        },
        OutboxReceiver { rx, shared },
    )
}

fn cost(text: &Utf8Bytes) -> usize {
    text.len() + MESSAGE_OVERHEAD_BYTES
}

/// The JSON text of a server message.
pub fn encode(msg: &ServerToClient) -> Utf8Bytes {
    // Serializing our own enum cannot fail: it has only string keys and plain data.
    Utf8Bytes::from(serde_json::to_string(msg).unwrap_or_default())
}

impl Outbox {
    /// Queues `msg`; false when it does not fit (the outbox is then overflowed for
    /// good) or the receiver is gone.
    pub fn push(&self, msg: &ServerToClient) -> bool {
        self.push_text(encode(msg))
    }

    /// Queues an encoded message; see [`Outbox::push`].
    pub fn push_text(&self, text: Utf8Bytes) -> bool {
        let shared = &self.shared;
        if shared.overflowed.load(Ordering::Acquire) {
            return false;
        }
        let cost = cost(&text);
        let before = shared.queued.fetch_add(cost, Ordering::AcqRel);
        if before + cost > shared.limit {
            shared.queued.fetch_sub(cost, Ordering::AcqRel);
            shared.overflowed.store(true, Ordering::Release);
            return false;
        }
        if self.tx.send(text).is_err() {
            shared.queued.fetch_sub(cost, Ordering::AcqRel);
            return false;
        }
        true
    }

    /// Whether a push has failed for lack of room.
    pub fn overflowed(&self) -> bool {
        self.shared.overflowed.load(Ordering::Acquire)
    }

    /// Notes that the member is being removed by the host: once the room drops this
    /// outbox, the receiver ends with [`OutboxEnd::Removed`] instead of `Closed`.
    pub fn mark_removed(&self) {
        self.shared.removed.store(true, Ordering::Release);
    }
}

impl OutboxReceiver {
    /// The next queued message, or why there is none any more.
    pub async fn recv(&mut self) -> Result<Utf8Bytes, OutboxEnd> {
        if self.shared.overflowed.load(Ordering::Acquire) {
            return Err(OutboxEnd::Overflowed);
        }
        match self.rx.recv().await {
            Some(text) => {
                self.shared.queued.fetch_sub(cost(&text), Ordering::AcqRel);
                Ok(text)
            }
            None if self.shared.overflowed.load(Ordering::Acquire) => Err(OutboxEnd::Overflowed),
            None if self.shared.removed.load(Ordering::Acquire) => Err(OutboxEnd::Removed),
            None => Err(OutboxEnd::Closed),
        }
    }

    /// The next queued message if there is one now.
    pub fn try_recv(&mut self) -> Option<Utf8Bytes> {
        let text = self.rx.try_recv().ok()?;
        self.shared.queued.fetch_sub(cost(&text), Ordering::AcqRel);
        Some(text)
    }

    /// Bytes queued now (message texts plus overhead).
    pub fn queued_bytes(&self) -> usize {
        self.shared.queued.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn big(n: usize) -> Utf8Bytes {
        Utf8Bytes::from("x".repeat(n))
    }

    #[test]
    fn the_bound_counts_bytes_not_messages() {
        let (tx, mut rx) = outbox(10_000);
        // Two 4 KB messages fit, a third does not, though it is only the third message.
        assert!(tx.push_text(big(4_000)));
        assert!(tx.push_text(big(4_000)));
        assert_eq!(rx.queued_bytes(), 2 * (4_000 + MESSAGE_OVERHEAD_BYTES));
        assert!(!tx.push_text(big(4_000)));
        assert!(tx.overflowed());
        // Once overflowed, nothing more is taken, even what would fit.
        assert!(!tx.push_text(big(1)));
        assert_eq!(rx.queued_bytes(), 2 * (4_000 + MESSAGE_OVERHEAD_BYTES));
        let ended = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(rx.recv());
        assert_eq!(ended, Err(OutboxEnd::Overflowed));
    }

    #[test]
    fn taking_messages_out_makes_room_again() {
        let (tx, mut rx) = outbox(1_000);
        let small = (1_000 / 2) - MESSAGE_OVERHEAD_BYTES;
        for _ in 0..10 {
            assert!(tx.push_text(big(small)));
            assert!(tx.push_text(big(small)));
            assert!(rx.try_recv().is_some());
            assert!(rx.try_recv().is_some());
        }
        assert_eq!(rx.queued_bytes(), 0);
        assert!(!tx.overflowed());
    }

    #[test]
    fn tiny_messages_are_bounded_by_their_overhead() {
        let (tx, _rx) = outbox(64 * 1024);
        let pong = encode(&ServerToClient::Pong);
        let fitted = (0..100_000)
            .take_while(|_| tx.push_text(pong.clone()))
            .count();
        assert_eq!(fitted, 64 * 1024 / (pong.len() + MESSAGE_OVERHEAD_BYTES));
    }

    #[test]
    fn dropping_the_sender_ends_the_receiver_after_what_was_queued() {
        let (tx, mut rx) = outbox(1_000);
        assert!(tx.push(&ServerToClient::Pong));
        drop(tx);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        assert_eq!(
            runtime.block_on(rx.recv()).as_deref(),
            Ok(r#"{"type":"pong"}"#)
        );
        assert_eq!(runtime.block_on(rx.recv()), Err(OutboxEnd::Closed));
    }
}
