//! Sans-IO negotiation core for one remote peer ("perfect negotiation").
//!
//! A [`PeerSession`] decides *what* the driver must do with its peer connection and
//! what to send over signaling; it never touches a socket or a clock. The driver feeds
//! [`SessionInput`]s with the current time, then drains [`PeerSession::poll_output`]
//! and executes each [`SessionOutput`] **in order** (each one completes before the
//! next starts), and calls [`PeerSession::handle_timeout`] at
//! [`PeerSession::poll_timeout`].
//!
//! Roles come from peer ids ([`Role::for_pair`]): the lower id (who joined first) is
//! *impolite* and sends the initial offer; the higher id is *polite*. So the initial
//! negotiation never collides; a later collision (both renegotiate at once) is resolved
//! the W3C way: the impolite side ignores the other's offer, the polite side rolls back
//! its own and answers.
//!
//! Remote ICE candidates that arrive before the remote description are buffered
//! (at most [`MAX_BUFFERED_CANDIDATES`]) and released right after it is applied.
//!
//! Liveness: no connection within [`SessionTimeouts::connect`] → [`SessionEvent::Failed`];
//! a `Disconnected` state that lasts [`SessionTimeouts::disconnected_grace`] or a
//! `Failed`/`Closed` state → [`SessionEvent::Lost`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::net::protocol::{IceCandidate, PeerId, SdpKind, SessionDescription, SignalPayload};

/// Most remote candidates held while waiting for the remote description.
pub const MAX_BUFFERED_CANDIDATES: usize = 64;

/// Which side of the pair this session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Sends the initial offer; ignores colliding offers.
    Impolite,
    /// Answers; on a collision rolls back its own offer and accepts the other's.
    Polite,
}

impl Role {
    /// The role of `me` towards `them`: the lower id is impolite.
    pub fn for_pair(me: PeerId, them: PeerId) -> Self {
        if me < them {
            Self::Impolite
        } else {
            Self::Polite
        }
    }
}

/// Connection states the driver reports (a reduced `RTCPeerConnectionState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connectivity {
    /// ICE + DTLS are being set up.
    Connecting,
    /// Media and data can flow.
    Connected,
    /// Connectivity was lost, possibly temporarily.
    Disconnected,
    /// ICE gave up.
    Failed,
    /// The connection was closed.
    Closed,
}

/// Inputs to a session.
#[derive(Clone, Debug, PartialEq)]
pub enum SessionInput {
    /// The peer connection exists; an impolite session starts negotiating.
    Start,
    /// Something local changed (a track or channel was added) and needs an offer.
    NegotiationNeeded,
    /// The driver created and applied a local description (after `CreateOffer` or
    /// `CreateAnswer`).
    LocalDescription(SessionDescription),
    /// A local ICE candidate was gathered.
    LocalCandidate(IceCandidate),
    /// A signal arrived from the remote peer.
    Remote(SignalPayload),
    /// The peer connection state changed.
    Connectivity(Connectivity),
    /// A driver operation failed (bad SDP, closed connection, ...).
    OperationFailed(String),
}

/// What the session wants done.
#[derive(Clone, Debug, PartialEq)]
pub enum SessionOutput {
    /// Send this to the remote peer over signaling.
    Send(SignalPayload),
    /// Create an offer, apply it locally, report it as [`SessionInput::LocalDescription`].
    CreateOffer,
    /// Create an answer, apply it locally, report it as [`SessionInput::LocalDescription`].
    CreateAnswer,
    /// Roll the pending local offer back.
    Rollback,
    /// Apply this remote description.
    ApplyRemote(SessionDescription),
    /// Add this remote ICE candidate.
    AddCandidate(IceCandidate),
    /// Something the application should know.
    Event(SessionEvent),
}

/// Lifecycle events of a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionEvent {
    /// The connection is up (first time, or again after a short disconnect).
    Connected,
    /// The connection is gone for good; the driver closes it.
    Lost,
    /// The connection never came up, or negotiation broke.
    Failed(String),
}

/// Liveness limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionTimeouts {
    /// From `Start` to `Connected`.
    pub connect: Duration,
    /// How long `Disconnected` may last before the peer counts as lost.
    pub disconnected_grace: Duration,
}

impl Default for SessionTimeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(20),
            disconnected_grace: Duration::from_secs(4),
        }
    }
}

/// Local model of the signaling state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Signaling {
    Stable,
    HaveLocalOffer,
    HaveRemoteOffer,
}

/// Negotiation state for one remote peer.
#[derive(Debug)]
pub struct PeerSession {
    role: Role,
    timeouts: SessionTimeouts,
    signaling: Signaling,
    making_offer: bool,
    ignore_offer: bool,
    negotiation_pending: bool,
    has_remote_description: bool,
    buffered_candidates: Vec<IceCandidate>,
    connected: bool,
    done: bool,
    connect_deadline: Option<Instant>,
    lost_deadline: Option<Instant>,
    outputs: VecDeque<SessionOutput>,
}

impl PeerSession {
    /// A session of `me` towards `them`.
    pub fn new(me: PeerId, them: PeerId, timeouts: SessionTimeouts) -> Self {
        Self {
            role: Role::for_pair(me, them),
            timeouts,
            signaling: Signaling::Stable,
            making_offer: false,
            ignore_offer: false,
            negotiation_pending: false,
            has_remote_description: false,
            buffered_candidates: Vec::new(),
            connected: false,
            done: false,
            connect_deadline: None,
            lost_deadline: None,
            outputs: VecDeque::new(),
        }
    }

    /// This side's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether the connection is currently up.
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Whether the session ended (lost or failed); it then ignores all input.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Feeds one input.
    pub fn handle_input(&mut self, now: Instant, input: SessionInput) {
        if self.done {
            return;
        }
        match input {
            SessionInput::Start => {
                self.connect_deadline = Some(now + self.timeouts.connect);
                if self.role == Role::Impolite {
                    self.negotiate();
                }
            }
            SessionInput::NegotiationNeeded => self.negotiate(),
            SessionInput::LocalDescription(desc) => self.on_local_description(desc),
            SessionInput::LocalCandidate(candidate) => self
                .outputs
                .push_back(SessionOutput::Send(SignalPayload::Candidate(candidate))),
            SessionInput::Remote(SignalPayload::Sdp(desc)) => self.on_remote_description(desc),
            SessionInput::Remote(SignalPayload::Candidate(candidate)) => {
                self.on_remote_candidate(candidate);
            }
            SessionInput::Connectivity(state) => self.on_connectivity(now, state),
            SessionInput::OperationFailed(reason) => {
                if self.ignore_offer {
                    // Failures while ignoring an offer (its candidates) are expected.
                    return;
                }
                self.finish(SessionEvent::Failed(reason));
            }
        }
    }

    /// The next thing to do, if any.
    pub fn poll_output(&mut self) -> Option<SessionOutput> {
        self.outputs.pop_front()
    }

    /// When [`Self::handle_timeout`] must be called next, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.done {
            return None;
        }
        match (self.connect_deadline, self.lost_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Fires expired deadlines.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.done {
            return;
        }
        if self.connect_deadline.is_some_and(|t| now >= t) {
            self.finish(SessionEvent::Failed("no connection in time".into()));
        } else if self.lost_deadline.is_some_and(|t| now >= t) {
            self.finish(SessionEvent::Lost);
        }
    }

    fn negotiate(&mut self) {
        if self.making_offer || self.signaling != Signaling::Stable {
            self.negotiation_pending = true;
            return;
        }
        self.negotiation_pending = false;
        self.making_offer = true;
        self.outputs.push_back(SessionOutput::CreateOffer);
    }

    fn on_local_description(&mut self, desc: SessionDescription) {
        match desc.kind {
            SdpKind::Offer => {
                self.making_offer = false;
                self.signaling = Signaling::HaveLocalOffer;
            }
            SdpKind::Answer => {
                self.signaling = Signaling::Stable;
            }
            SdpKind::Pranswer | SdpKind::Rollback => return,
        }
        self.outputs
            .push_back(SessionOutput::Send(SignalPayload::Sdp(desc)));
        if self.signaling == Signaling::Stable && self.negotiation_pending {
            self.negotiate();
        }
    }

    fn on_remote_description(&mut self, desc: SessionDescription) {
        match desc.kind {
            SdpKind::Offer => {
                let collision = self.making_offer || self.signaling != Signaling::Stable;
                self.ignore_offer = self.role == Role::Impolite && collision;
                if self.ignore_offer {
                    return;
                }
                if collision {
                    self.outputs.push_back(SessionOutput::Rollback);
                    self.making_offer = false;
                    // Our offer is dropped; renegotiate once stable again.
                    self.negotiation_pending = true;
                }
                self.signaling = Signaling::HaveRemoteOffer;
                self.apply_remote(desc);
                self.outputs.push_back(SessionOutput::CreateAnswer);
            }
            SdpKind::Answer | SdpKind::Pranswer => {
                if self.signaling != Signaling::HaveLocalOffer {
                    // A stale answer to an offer that was rolled back.
                    return;
                }
                self.ignore_offer = false;
                if desc.kind == SdpKind::Answer {
                    self.signaling = Signaling::Stable;
                }
                self.apply_remote(desc);
                if self.signaling == Signaling::Stable && self.negotiation_pending {
                    self.negotiate();
                }
            }
            SdpKind::Rollback => {}
        }
    }

    fn apply_remote(&mut self, desc: SessionDescription) {
        self.outputs.push_back(SessionOutput::ApplyRemote(desc));
        self.has_remote_description = true;
        for candidate in self.buffered_candidates.drain(..) {
            self.outputs
                .push_back(SessionOutput::AddCandidate(candidate));
        }
    }

    fn on_remote_candidate(&mut self, candidate: IceCandidate) {
        if self.ignore_offer {
            return;
        }
        if self.has_remote_description {
            self.outputs
                .push_back(SessionOutput::AddCandidate(candidate));
        } else if self.buffered_candidates.len() < MAX_BUFFERED_CANDIDATES {
            self.buffered_candidates.push(candidate);
        }
    }

    fn on_connectivity(&mut self, now: Instant, state: Connectivity) {
        match state {
            Connectivity::Connecting => {}
            Connectivity::Connected => {
                self.connect_deadline = None;
                self.lost_deadline = None;
                if !self.connected {
                    self.connected = true;
                    self.outputs
                        .push_back(SessionOutput::Event(SessionEvent::Connected));
                }
            }
            Connectivity::Disconnected => {
                self.connected = false;
                if self.lost_deadline.is_none() {
                    self.lost_deadline = Some(now + self.timeouts.disconnected_grace);
                }
            }
            Connectivity::Failed | Connectivity::Closed => self.finish(SessionEvent::Lost),
        }
    }

    fn finish(&mut self, event: SessionEvent) {
        self.done = true;
        self.connected = false;
        self.connect_deadline = None;
        self.lost_deadline = None;
        self.outputs.push_back(SessionOutput::Event(event));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake peer connection around a session: records what was applied and turns
    /// `CreateOffer`/`CreateAnswer` into descriptions, like the real driver would.
    struct Fake {
        session: PeerSession,
        name: &'static str,
        offers: u32,
        applied_remote: Vec<SdpKind>,
        candidates: Vec<String>,
        events: Vec<SessionEvent>,
        rollbacks: u32,
    }

    impl Fake {
        fn new(name: &'static str, me: u64, them: u64) -> Self {
            Self {
                session: PeerSession::new(PeerId(me), PeerId(them), SessionTimeouts::default()),
                name,
                offers: 0,
                applied_remote: Vec::new(),
                candidates: Vec::new(),
                events: Vec::new(),
                rollbacks: 0,
            }
        }

        /// Runs the outputs; returns what is to be signaled to the other side.
        fn drive(&mut self, now: Instant) -> Vec<SignalPayload> {
            let mut sent = Vec::new();
            while let Some(out) = self.session.poll_output() {
                match out {
                    SessionOutput::Send(payload) => sent.push(payload),
                    SessionOutput::CreateOffer => {
                        self.offers += 1;
                        let desc = SessionDescription {
                            kind: SdpKind::Offer,
                            sdp: format!("offer {} #{}", self.name, self.offers),
                        };
                        self.session
                            .handle_input(now, SessionInput::LocalDescription(desc));
                    }
                    SessionOutput::CreateAnswer => {
                        let desc = SessionDescription {
                            kind: SdpKind::Answer,
                            sdp: format!("answer {}", self.name),
                        };
                        self.session
                            .handle_input(now, SessionInput::LocalDescription(desc));
                    }
                    SessionOutput::Rollback => self.rollbacks += 1,
                    SessionOutput::ApplyRemote(desc) => self.applied_remote.push(desc.kind),
                    SessionOutput::AddCandidate(c) => {
                        assert!(
                            !self.applied_remote.is_empty(),
                            "a candidate is added only after a remote description"
                        );
                        self.candidates.push(c.candidate);
                    }
                    SessionOutput::Event(e) => self.events.push(e),
                }
            }
            sent
        }
    }

    fn candidate(text: &str) -> IceCandidate {
        IceCandidate {
            candidate: text.into(),
            sdp_mid: Some("0".into()),
            sdp_mline_index: Some(0),
            username_fragment: None,
        }
    }

    /// Delivers signals back and forth until both sides are quiet.
    fn settle(a: &mut Fake, b: &mut Fake, now: Instant) {
        let mut to_b = a.drive(now);
        let mut to_a = b.drive(now);
        while !to_a.is_empty() || !to_b.is_empty() {
            for p in to_b.drain(..) {
                b.session.handle_input(now, SessionInput::Remote(p));
            }
            for p in to_a.drain(..) {
                a.session.handle_input(now, SessionInput::Remote(p));
            }
            to_b = a.drive(now);
            to_a = b.drive(now);
        }
    }

    #[test]
    fn offer_is_sent_by_lower_peer_id() {
        let now = Instant::now();
        let mut low = Fake::new("low", 1, 2);
        let mut high = Fake::new("high", 2, 1);
        assert_eq!(low.session.role(), Role::Impolite);
        assert_eq!(high.session.role(), Role::Polite);
        low.session.handle_input(now, SessionInput::Start);
        high.session.handle_input(now, SessionInput::Start);
        let from_low = low.drive(now);
        let from_high = high.drive(now);
        assert!(matches!(
            from_low.as_slice(),
            [SignalPayload::Sdp(SessionDescription {
                kind: SdpKind::Offer,
                ..
            })]
        ));
        assert!(from_high.is_empty(), "the polite side waits for the offer");
    }

    #[test]
    fn one_offer_and_one_answer_complete_the_negotiation() {
        let now = Instant::now();
        let mut a = Fake::new("a", 1, 2);
        let mut b = Fake::new("b", 2, 1);
        a.session.handle_input(now, SessionInput::Start);
        b.session.handle_input(now, SessionInput::Start);
        settle(&mut a, &mut b, now);
        assert_eq!(a.offers + b.offers, 1);
        assert_eq!(a.applied_remote, vec![SdpKind::Answer]);
        assert_eq!(b.applied_remote, vec![SdpKind::Offer]);
    }

    #[test]
    fn candidates_before_the_offer_wait_for_the_remote_description() {
        let now = Instant::now();
        let mut b = Fake::new("b", 2, 1);
        b.session.handle_input(now, SessionInput::Start);
        b.session.handle_input(
            now,
            SessionInput::Remote(SignalPayload::Candidate(candidate("early"))),
        );
        assert!(b.drive(now).is_empty());
        assert!(b.candidates.is_empty());
        b.session.handle_input(
            now,
            SessionInput::Remote(SignalPayload::Sdp(SessionDescription {
                kind: SdpKind::Offer,
                sdp: "o".into(),
            })),
        );
        b.session.handle_input(
            now,
            SessionInput::Remote(SignalPayload::Candidate(candidate("late"))),
        );
        let sent = b.drive(now);
        assert_eq!(b.candidates, vec!["early".to_string(), "late".to_string()]);
        assert!(matches!(
            sent.as_slice(),
            [SignalPayload::Sdp(SessionDescription {
                kind: SdpKind::Answer,
                ..
            })]
        ));
    }

    #[test]
    fn simultaneous_offers_resolve_with_the_polite_peer_rolling_back() {
        let now = Instant::now();
        let mut a = Fake::new("a", 1, 2);
        let mut b = Fake::new("b", 2, 1);
        // Both decide to negotiate at the same moment: glare.
        a.session.handle_input(now, SessionInput::NegotiationNeeded);
        b.session.handle_input(now, SessionInput::NegotiationNeeded);
        settle(&mut a, &mut b, now);
        assert_eq!(b.rollbacks, 1, "the polite side rolled back");
        assert_eq!(a.rollbacks, 0);
        // a's offer was answered by b; b then renegotiated its own change.
        assert_eq!(b.applied_remote.first(), Some(&SdpKind::Offer));
        assert!(b.offers >= 2 || b.applied_remote.contains(&SdpKind::Answer));
        assert!(a.applied_remote.contains(&SdpKind::Answer));
        assert_eq!(a.session.signaling, Signaling::Stable);
        assert_eq!(b.session.signaling, Signaling::Stable);
    }

    #[test]
    fn local_candidates_are_trickled_at_once() {
        let now = Instant::now();
        let mut a = Fake::new("a", 1, 2);
        a.session
            .handle_input(now, SessionInput::LocalCandidate(candidate("c1")));
        assert_eq!(
            a.drive(now),
            vec![SignalPayload::Candidate(candidate("c1"))]
        );
    }

    #[test]
    fn no_connection_in_time_fails_the_session() {
        let start = Instant::now();
        let mut a = Fake::new("a", 1, 2);
        a.session.handle_input(start, SessionInput::Start);
        let deadline = a.session.poll_timeout().expect("a connect deadline");
        assert_eq!(deadline, start + SessionTimeouts::default().connect);
        a.session.handle_timeout(deadline);
        a.drive(deadline);
        assert!(matches!(a.events.as_slice(), [SessionEvent::Failed(_)]));
        assert!(a.session.is_done());
    }

    #[test]
    fn a_short_disconnect_recovers_but_a_long_one_is_lost() {
        let start = Instant::now();
        let mut a = Fake::new("a", 1, 2);
        a.session.handle_input(start, SessionInput::Start);
        a.session
            .handle_input(start, SessionInput::Connectivity(Connectivity::Connected));
        a.session.handle_input(
            start,
            SessionInput::Connectivity(Connectivity::Disconnected),
        );
        let grace = SessionTimeouts::default().disconnected_grace;
        a.session.handle_timeout(start + grace / 2);
        a.session.handle_input(
            start + grace / 2,
            SessionInput::Connectivity(Connectivity::Connected),
        );
        assert_eq!(a.session.poll_timeout(), None);
        a.session.handle_input(
            start + grace,
            SessionInput::Connectivity(Connectivity::Disconnected),
        );
        let lost_at = a.session.poll_timeout().expect("a lost deadline");
        a.session.handle_timeout(lost_at);
        a.drive(lost_at);
        assert_eq!(
            a.events,
            vec![
                SessionEvent::Connected,
                SessionEvent::Connected,
                SessionEvent::Lost
            ]
        );
    }

    #[test]
    fn a_failed_connection_is_lost_immediately() {
        let now = Instant::now();
        let mut a = Fake::new("a", 1, 2);
        a.session.handle_input(now, SessionInput::Start);
        a.session
            .handle_input(now, SessionInput::Connectivity(Connectivity::Failed));
        a.drive(now);
        assert_eq!(a.events, vec![SessionEvent::Lost]);
        a.session.handle_input(now, SessionInput::Start);
        assert!(a.drive(now).is_empty(), "a finished session ignores input");
    }
}
