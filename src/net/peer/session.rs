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
//! `Closed` state → [`SessionEvent::Lost`], and so is `Failed` before the connection
//! was ever up.
//!
//! ICE restart ([`IceRestart`]): once the connection has been up, the impolite side
//! restarts ICE on the same connection when it goes `Disconnected` for
//! [`IceRestart::after`] (at once on `Failed`), and again every [`IceRestart::every`]
//! while it stays down: [`SessionOutput::CreateRestartOffer`]. The polite side
//! answers like any offer (the stack restarts on the new credentials); while the
//! connection is down each restart offer it receives renews its grace, so it waits
//! as long as the other side keeps trying. An unanswered restart offer
//! ([`IceRestart::answer`]) means the peer is gone.

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
    /// As [`Self::CreateOffer`], with new ICE credentials (an ICE restart on the same
    /// connection: media, data channels and DTLS stay).
    CreateRestartOffer,
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
    /// The connection that was up went down (ICE `disconnected` or `failed`); it may
    /// come back (`Connected` again) or be lost.
    Down,
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
    /// How long `Disconnected` may last before the peer counts as lost (with ICE
    /// restarts: how long the impolite side restarts before it gives up, and the
    /// polite side's wait for the next restart offer).
    pub disconnected_grace: Duration,
    /// ICE restarts on the same connection after it was up; `None`: a loss ends
    /// the session after the grace.
    pub restart: Option<IceRestart>,
}

/// When the impolite side restarts ICE on a connection that was up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IceRestart {
    /// Time in `Disconnected` before the first restart (`Failed` restarts at once).
    pub after: Duration,
    /// Time between restarts while the connection stays down (each restart's
    /// checks end after a few tries).
    pub every: Duration,
    /// How long a restart offer may go unanswered before the peer counts as gone.
    pub answer: Duration,
}

impl Default for IceRestart {
    fn default() -> Self {
        Self {
            after: Duration::from_millis(500),
            // A restart's checks give up after 8 tries 200 ms apart (rtc-ice's
            // defaults): every 2 s leaves under half a second unchecked.
            every: Duration::from_secs(2),
            answer: Duration::from_secs(3),
        }
    }
}

impl Default for SessionTimeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(20),
            // With restarts: how long they are tried before a fresh connection.
            // Restarts resume as fast as a fresh connection would once the link is
            // back, so this only bounds a link that answers but never carries.
            disconnected_grace: Duration::from_secs(30),
            restart: Some(IceRestart::default()),
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
    ever_connected: bool,
    done: bool,
    connect_deadline: Option<Instant>,
    lost_deadline: Option<Instant>,
    /// When the next ICE restart is due (impolite side, connection down).
    restart_deadline: Option<Instant>,
    /// When the answer to the last restart offer is overdue.
    answer_deadline: Option<Instant>,
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
            ever_connected: false,
            done: false,
            connect_deadline: None,
            lost_deadline: None,
            restart_deadline: None,
            answer_deadline: None,
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
            SessionInput::Remote(SignalPayload::Sdp(desc)) => {
                self.on_remote_description(now, desc);
            }
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
        [
            self.connect_deadline,
            self.lost_deadline,
            self.restart_deadline,
            self.answer_deadline,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Fires expired deadlines.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.done {
            return;
        }
        let due = |t: Option<Instant>| t.is_some_and(|t| now >= t);
        if due(self.connect_deadline) {
            self.finish(SessionEvent::Failed("no connection in time".into()));
        } else if due(self.lost_deadline) || due(self.answer_deadline) {
            self.finish(SessionEvent::Lost);
        } else if due(self.restart_deadline) {
            self.restart_ice(now);
        }
    }

    /// Sends a restart offer now if signaling allows (else soon), and plans the next.
    fn restart_ice(&mut self, now: Instant) {
        let Some(restart) = self.timeouts.restart else {
            self.restart_deadline = None;
            return;
        };
        if self.making_offer || self.signaling != Signaling::Stable {
            // An offer is out: its answer comes first.
            self.restart_deadline = Some(now + restart.after);
            return;
        }
        self.making_offer = true;
        self.outputs.push_back(SessionOutput::CreateRestartOffer);
        self.answer_deadline = Some(now + restart.answer);
        self.restart_deadline = Some(now + restart.every);
    }

    /// The restarts that apply to this connection: it was up, and restarts are on.
    fn restart_plan(&self) -> Option<IceRestart> {
        self.timeouts.restart.filter(|_| self.ever_connected)
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

    fn on_remote_description(&mut self, now: Instant, desc: SessionDescription) {
        match desc.kind {
            SdpKind::Offer => {
                let collision = self.making_offer || self.signaling != Signaling::Stable;
                self.ignore_offer = self.role == Role::Impolite && collision;
                if self.ignore_offer {
                    return;
                }
                if !self.connected && self.restart_plan().is_some() {
                    // The other side is restarting: wait for this restart as long
                    // as for the first.
                    self.lost_deadline = Some(now + self.timeouts.disconnected_grace);
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
                    self.answer_deadline = None;
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
                self.restart_deadline = None;
                self.answer_deadline = None;
                if !self.connected {
                    self.connected = true;
                    self.ever_connected = true;
                    self.outputs
                        .push_back(SessionOutput::Event(SessionEvent::Connected));
                }
            }
            Connectivity::Disconnected => self.on_down(now, false),
            Connectivity::Failed if self.restart_plan().is_some() => {
                self.on_down(now, true);
            }
            Connectivity::Failed | Connectivity::Closed => self.finish(SessionEvent::Lost),
        }
    }

    /// The connection went down (`failed`: ICE gave up on the current pairs).
    fn on_down(&mut self, now: Instant, failed: bool) {
        if self.connected {
            self.outputs
                .push_back(SessionOutput::Event(SessionEvent::Down));
        }
        self.connected = false;
        if self.lost_deadline.is_none() {
            self.lost_deadline = Some(now + self.timeouts.disconnected_grace);
        }
        // Only the impolite side restarts; the polite one answers.
        let Some(restart) = self.restart_plan().filter(|_| self.role == Role::Impolite) else {
            return;
        };
        if failed {
            // At once, or `after` later while an offer is still out.
            self.restart_ice(now);
        } else if self
            .restart_deadline
            .is_none_or(|t| t > now + restart.after)
        {
            self.restart_deadline = Some(now + restart.after);
        }
    }

    fn finish(&mut self, event: SessionEvent) {
        self.done = true;
        self.connected = false;
        self.connect_deadline = None;
        self.lost_deadline = None;
        self.restart_deadline = None;
        self.answer_deadline = None;
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
        restart_offers: u32,
    }

    impl Fake {
        fn new(name: &'static str, me: u64, them: u64) -> Self {
            Self::with_timeouts(name, me, them, SessionTimeouts::default())
        }

        fn with_timeouts(name: &'static str, me: u64, them: u64, t: SessionTimeouts) -> Self {
            Self {
                session: PeerSession::new(PeerId(me), PeerId(them), t),
                name,
                restart_offers: 0,
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
                    SessionOutput::CreateRestartOffer => {
                        self.restart_offers += 1;
                        let desc = SessionDescription {
                            kind: SdpKind::Offer,
                            sdp: format!("restart offer {} #{}", self.name, self.restart_offers),
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
        let no_restart = no_restart();
        let mut a = Fake::with_timeouts("a", 1, 2, no_restart);
        a.session.handle_input(start, SessionInput::Start);
        a.session
            .handle_input(start, SessionInput::Connectivity(Connectivity::Connected));
        a.session.handle_input(
            start,
            SessionInput::Connectivity(Connectivity::Disconnected),
        );
        let grace = no_restart.disconnected_grace;
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
                SessionEvent::Down,
                SessionEvent::Connected,
                SessionEvent::Down,
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

    /// The default timeouts without ICE restarts.
    fn no_restart() -> SessionTimeouts {
        SessionTimeouts {
            restart: None,
            ..SessionTimeouts::default()
        }
    }

    /// Two sessions that negotiated and connected, at `now`.
    fn connected_pair(now: Instant) -> (Fake, Fake) {
        let mut low = Fake::new("low", 1, 2);
        let mut high = Fake::new("high", 2, 1);
        low.session.handle_input(now, SessionInput::Start);
        high.session.handle_input(now, SessionInput::Start);
        settle(&mut low, &mut high, now);
        for f in [&mut low, &mut high] {
            f.session
                .handle_input(now, SessionInput::Connectivity(Connectivity::Connected));
            f.drive(now);
        }
        (low, high)
    }

    fn down(f: &mut Fake, now: Instant, state: Connectivity) {
        f.session
            .handle_input(now, SessionInput::Connectivity(state));
    }

    #[test]
    fn the_lower_id_restarts_ice_on_the_same_connection_and_it_comes_back() {
        let t0 = Instant::now();
        let restart = IceRestart::default();
        let (mut low, mut high) = connected_pair(t0);
        down(&mut low, t0, Connectivity::Disconnected);
        down(&mut high, t0, Connectivity::Disconnected);
        // Not yet: a short blip may come back by itself.
        assert_eq!(low.session.poll_timeout(), Some(t0 + restart.after));
        assert!(low.drive(t0).is_empty());
        let t1 = t0 + restart.after;
        low.session.handle_timeout(t1);
        settle(&mut low, &mut high, t1);
        assert_eq!(low.restart_offers, 1);
        assert_eq!(high.restart_offers, 0, "the higher id only answers");
        assert_eq!(high.applied_remote.last(), Some(&SdpKind::Offer));
        assert_eq!(low.applied_remote.last(), Some(&SdpKind::Answer));
        for f in [&mut low, &mut high] {
            f.session
                .handle_input(t1, SessionInput::Connectivity(Connectivity::Connected));
            f.drive(t1);
            assert_eq!(
                f.session.poll_timeout(),
                None,
                "{}: nothing pending",
                f.name
            );
            assert_eq!(
                f.events,
                vec![
                    SessionEvent::Connected,
                    SessionEvent::Down,
                    SessionEvent::Connected
                ],
                "{}: the same session came back, never lost",
                f.name
            );
        }
    }

    #[test]
    fn restarts_repeat_while_the_link_is_down_and_the_peer_waits_for_each() {
        let t0 = Instant::now();
        let restart = IceRestart::default();
        let grace = SessionTimeouts::default().disconnected_grace;
        let (mut low, mut high) = connected_pair(t0);
        // ICE gave up on its pairs: the lower id restarts at once, the higher id waits.
        down(&mut low, t0, Connectivity::Failed);
        down(&mut high, t0, Connectivity::Failed);
        settle(&mut low, &mut high, t0);
        assert_eq!(low.restart_offers, 1);
        assert!(
            !high.session.is_done(),
            "a failed link that was up is not lost at once"
        );
        let mut now = t0;
        // Every restart is answered, the link stays down: a restart every `every`.
        while now < t0 + grace {
            now = low.session.poll_timeout().expect("a deadline while down");
            low.session.handle_timeout(now);
            high.session.handle_timeout(now);
            settle(&mut low, &mut high, now);
            assert!(
                !high.session.is_done(),
                "the higher id waits while restarts come"
            );
        }
        let expected = 1 + (grace.as_millis() / restart.every.as_millis()) as u32;
        assert!(
            (expected - 1..=expected).contains(&low.restart_offers),
            "{} restarts in {grace:?}",
            low.restart_offers
        );
        // The lower id gives up after its grace (the room then starts a fresh
        // connection); the higher id, hearing no more restarts, follows.
        assert_eq!(low.events.last(), Some(&SessionEvent::Lost));
        let t_high = high.session.poll_timeout().expect("the higher id's wait");
        high.session.handle_timeout(t_high);
        high.drive(t_high);
        assert_eq!(high.events.last(), Some(&SessionEvent::Lost));
    }

    #[test]
    fn an_unanswered_restart_offer_means_the_peer_is_gone() {
        let t0 = Instant::now();
        let restart = IceRestart::default();
        let (mut low, _high) = connected_pair(t0);
        down(&mut low, t0, Connectivity::Disconnected);
        let t1 = t0 + restart.after;
        low.session.handle_timeout(t1);
        let sent = low.drive(t1);
        assert!(matches!(
            sent.as_slice(),
            [SignalPayload::Sdp(SessionDescription {
                kind: SdpKind::Offer,
                ..
            })]
        ));
        // No answer: the next restart is not sent over an open offer, and the
        // peer is lost when the answer is overdue.
        let mut now = t1;
        while !low.session.is_done() {
            now = low.session.poll_timeout().expect("a deadline");
            low.session.handle_timeout(now);
            assert!(
                low.drive(now).is_empty(),
                "no second offer while one is open"
            );
        }
        assert_eq!(now, t1 + restart.answer);
        assert_eq!(low.events.last(), Some(&SessionEvent::Lost));
    }

    #[test]
    fn without_restarts_a_failed_connection_that_was_up_is_lost_at_once() {
        let now = Instant::now();
        let no_restart = no_restart();
        let mut a = Fake::with_timeouts("a", 1, 2, no_restart);
        a.session.handle_input(now, SessionInput::Start);
        a.session
            .handle_input(now, SessionInput::Connectivity(Connectivity::Connected));
        down(&mut a, now, Connectivity::Failed);
        a.drive(now);
        assert_eq!(a.events, vec![SessionEvent::Connected, SessionEvent::Lost]);
        assert_eq!(a.restart_offers, 0);
    }
}
