//! Send-side congestion control: the estimate towards each peer, and the pacer.
//!
//! Each peer connection's interceptor chain carries rtc 0.21's congestion control
//! (`configure_congestion_control`: TWCC sequence numbers on what we send, TWCC
//! feedback on what we receive, the send history that joins the two). The
//! estimator is rtc's [`Gcc`] inside [`PublishedGcc`], which also writes every new
//! target into a [`SendEstimate`]: the chain is boxed inside the connection, so this
//! shared number is the only way the app learns the estimate. [`SendEstimates`]
//! holds one per connected peer; the encoder reads the slowest.
//!
//! The chain's own pacer (`PacerInterceptor`) is replaced by [`MediaPacer`]: rtc's
//! pacer keeps one FIFO for every RTP packet, paces at exactly the estimate and
//! holds up to 4096 packets, so an Opus packet waits behind a whole keyframe (a 30
//! KB keyframe at 600 kbit/s is 400 ms) and nothing bounds the wait. [`MediaPacer`]
//! lets audio through at once (its bits still count against the budget), paces
//! video at [`PACING_FACTOR`] times the estimate (the encoder aims below the
//! estimate; the factor only smooths bursts, as in libwebrtc), or at the rate the
//! path carried for us when a queue last stood if that is more (a deep cut must
//! not slow the keyframe that ends a freeze below the link), and releases a video
//! packet that has waited [`MAX_PACER_HOLD`] whatever the budget, so the pacer never
//! adds more than that to the glass-to-glass latency.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rtc::interceptor::{
    BandwidthEstimator, EstimatorStats, Gcc, Interceptor, Pacer, Packet, PacketReport, StreamInfo,
    TaggedPacket,
};
use rtc::sansio::Protocol;
use rtc::shared::error::Error;
use rtc::shared::marshal::MarshalSize;

use crate::net::peer::config::VideoFec;
use crate::net::peer::fec::{FecPolicy, FecSwitch};
use crate::net::peer::queue_guard::{Feedback, MIN_GROWTH_BPS, QUEUE_LOW, QueueGuard};
use crate::net::protocol::PeerId;

/// Video is paced at this multiple of the estimate: the encoder already aims
/// below the estimate, so the pacer only spreads bursts (keyframes,
/// retransmissions) instead of becoming a second bottleneck. libwebrtc uses 2.5;
/// at that factor a keyframe after a rung change on a 300 kbit/s link left at
/// twice the link's rate, stood in its queue and was taken for congestion.
pub const PACING_FACTOR: f64 = 1.5;
/// The longest a video packet waits in the pacer; past this it leaves whatever the
/// budget says, so pacing never adds more latency than this (a keyframe of a
/// slow link's rung takes about this long at [`PACING_FACTOR`]).
pub const MAX_PACER_HOLD: Duration = Duration::from_millis(300);
/// Video packets the pacer holds before refusing new ones (about 600 KB: far more
/// than [`MAX_PACER_HOLD`] lets accumulate; a safety bound only).
pub const PACER_QUEUE_LIMIT: usize = 512;
/// Retransmissions (NACK answers) may use at most this share of the estimate; one
/// that does not fit is dropped (the receiver gives the packet up and asks for a
/// keyframe). On a link that just got slower the receiver asks for every lost
/// packet up to 8 times, and answering them all at the pacing rate kept a 300
/// kbit/s link saturated for seconds (measured: 1,100 packets asked for, 8 s
/// without a whole picture).
pub const RETRANSMIT_SHARE: f64 = 0.25;

/// How often we report the arrival of a peer's packets (TWCC feedback) to its
/// congestion controller. rtc's default is 100 ms; a sender learns of a link that
/// just got slower one feedback sooner at 50 ms.
pub const TWCC_FEEDBACK_INTERVAL: Duration = Duration::from_millis(50);

/// Bounds of the estimate, bits per second.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EstimateBounds {
    /// Where the estimate starts before any feedback.
    pub initial_bps: f64,
    /// Floor (below this the call is not worth having).
    pub min_bps: f64,
    /// Ceiling.
    pub max_bps: f64,
}

impl Default for EstimateBounds {
    /// Starts at the default 600 kbit/s video plus 32 kbit/s voice; 100 kbit/s to
    /// 20 Mbit/s.
    fn default() -> Self {
        Self {
            initial_bps: 632_000.0,
            min_bps: 100_000.0,
            max_bps: 20_000_000.0,
        }
    }
}

/// The latest send estimate towards one peer, bits per second, shared between the
/// connection's interceptor chain (writer) and the app (readers), and whether a
/// queue our own sending built stands on the path right now (see
/// [`QueueGuard::queue_stands`]).
#[derive(Clone, Debug, Default)]
pub struct SendEstimate {
    bps: Arc<AtomicU64>,
    pacing_bps: Arc<AtomicU64>,
    queue_stands: Arc<AtomicBool>,
}

impl SendEstimate {
    /// An estimate starting at `bps`.
    pub fn new(bps: f64) -> Self {
        let estimate = Self::default();
        estimate.set(bps);
        estimate
    }

    /// The estimate, bits per second.
    pub fn bps(&self) -> u64 {
        self.bps.load(Ordering::Relaxed)
    }

    /// Sets the estimate, paced at [`PACING_FACTOR`] times it.
    fn set(&self, bps: f64) {
        self.set_paced(bps, bps * PACING_FACTOR);
    }

    /// Sets the estimate and the pacing rate together, so a pacer never reads
    /// one without the other.
    fn set_paced(&self, bps: f64, pacing_bps: f64) {
        let stored = |bps: f64| bps.max(0.0) as u64;
        self.bps.store(stored(bps), Ordering::Relaxed);
        self.pacing_bps.store(stored(pacing_bps), Ordering::Relaxed);
    }

    /// The rate video is paced at, bits per second: [`PACING_FACTOR`] times the
    /// estimate, or the rate the path carried for us where the queue guard last
    /// cut, if that is more. A cut for a step goes below the link's rate to drain
    /// its queue (to the 100 kbit/s floor on the namespace step); the keyframe
    /// that ends the drain pause, paced at 1.5 times that, took 226 ms to cross a
    /// 300 kbit/s link it could cross in 140, all of it frozen.
    pub fn pacing_bps(&self) -> u64 {
        self.pacing_bps.load(Ordering::Relaxed)
    }

    /// Whether the queue our sending built towards this peer stands deep enough
    /// that new pictures should wait until it drained.
    pub fn queue_stands(&self) -> bool {
        self.queue_stands.load(Ordering::Relaxed)
    }
}

/// The send estimates of the connected peers.
#[derive(Debug, Default)]
pub struct SendEstimates(Mutex<HashMap<PeerId, SendEstimate>>);

impl SendEstimates {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<PeerId, SendEstimate>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `peer`'s connection is up and estimates into `estimate`.
    pub(super) fn insert(&self, peer: PeerId, estimate: SendEstimate) {
        self.map().insert(peer, estimate);
    }

    /// `peer` is gone or its connection is being replaced.
    pub(super) fn remove(&self, peer: PeerId) {
        self.map().remove(&peer);
    }

    /// The estimate towards `peer`, bits per second, while it is connected.
    pub fn get(&self, peer: PeerId) -> Option<u64> {
        self.map().get(&peer).map(SendEstimate::bps)
    }

    /// How many peers are connected.
    pub fn len(&self) -> usize {
        self.map().len()
    }

    /// Whether nobody is connected.
    pub fn is_empty(&self) -> bool {
        self.map().is_empty()
    }

    /// Whether the queue our sending built stands on the path to any connected
    /// peer (the one encoding for everyone then waits).
    pub fn any_queue_stands(&self) -> bool {
        self.map().values().any(SendEstimate::queue_stands)
    }

    /// The lowest estimate of all connected peers (what one encoding for everyone
    /// must fit), or `None` with nobody connected.
    pub fn slowest_bps(&self) -> Option<u64> {
        self.map().values().map(SendEstimate::bps).min()
    }
}

/// Smoothed loss above which GCC's loss half may set the published estimate; below
/// it only the delay half does. rtc's send history counts a packet whose TWCC
/// feedback was itself lost as a lost packet, so on a path that loses 5 % of all
/// UDP (feedback included) the loss half saw ~10 %, crossed GCC's 10 % threshold and
/// took the estimate down to its floor within 10 s (measured in the lossy-link
/// namespace test); a congested drop-tail link loses far more.
pub const LOSS_HALF_FROM: f64 = 0.2;
/// Smoothed loss at which GCC's loss half sets the estimate even without a queue
/// on the path. Below it, loss lowers the estimate only while a queue stands
/// ([`QUEUE_LOW`] or more): loss with a queue is a full drop-tail buffer, loss
/// without one is a lossy link (Wi-Fi, the lossy namespace test) that NACK and
/// FEC repair and sending less does not cure. With the loss half alone at 20 %,
/// that test's estimate fell from ~670 to ~170 kbit/s every 8 s or so.
pub const LOSS_ALONE_FROM: f64 = 0.5;
/// The published estimate rises at most this factor a second (GCC's own
/// multiplicative increase), so leaving the loss half for a delay half that kept
/// growing meanwhile does not jump back over a link that just got slower.
pub const PUBLISHED_GROWTH_PER_S: f64 = 1.08;

/// rtc's Google Congestion Control under a [`QueueGuard`], publishing each new
/// target.
pub struct PublishedGcc {
    gcc: Gcc,
    guard: QueueGuard,
    published: SendEstimate,
    /// The last estimate and when (before the media's share is taken).
    last: Option<(Instant, f64)>,
    /// FlexFEC on this connection: its shape, the switch the encoder's gate reads,
    /// and (adaptive) when to switch.
    fec: Option<(VideoFec, FecSwitch, FecPolicy)>,
}

impl PublishedGcc {
    /// A GCC estimator within `bounds` that writes its target into `published`.
    pub fn new(bounds: EstimateBounds, published: SendEstimate) -> Self {
        let gcc = Gcc::new(bounds.initial_bps, bounds.min_bps, bounds.max_bps);
        published.set(gcc.target_bitrate());
        Self {
            gcc,
            guard: QueueGuard::new(bounds.min_bps),
            published,
            last: None,
            fec: None,
        }
    }

    /// With FlexFEC `fec` on this connection: switches `switch` (always on, or
    /// by the measured loss when `fec.adaptive`), and while it is on publishes
    /// only the media's share of each estimate, leaving the rest for the repair
    /// packets, which the estimate does not see (`fec`).
    pub fn with_fec(mut self, fec: VideoFec, switch: FecSwitch) -> Self {
        switch.set(!fec.adaptive);
        self.fec = Some((fec, switch, FecPolicy::default()));
        self.published
            .set(self.gcc.target_bitrate() * self.media_share());
        self
    }

    /// The share of the estimate the media gets: all of it unless repair packets go.
    fn media_share(&self) -> f64 {
        match &self.fec {
            Some((fec, switch, _)) if switch.is_on() => fec.media_share(),
            _ => 1.0,
        }
    }

    /// Switches an adaptive connection's FEC by the smoothed loss.
    fn switch_fec(&mut self, now: Instant) {
        let loss = self.gcc.stats().packet_loss;
        let queued = self.guard.queue_delay() >= QUEUE_LOW;
        let Some((fec, switch, policy)) = &mut self.fec else {
            return;
        };
        if !fec.adaptive {
            return;
        }
        let on = policy.update(now, loss, queued);
        if switch.is_on() != on {
            switch.set(on);
            tracing::info!(
                on,
                loss_percent = loss.unwrap_or(0.0) * 100.0,
                "FlexFEC repair packets {}",
                if on {
                    "on: the link loses packets"
                } else {
                    "off"
                }
            );
        }
    }

    /// What GCC allows: its target while the smoothed loss is [`LOSS_HALF_FROM`] or
    /// more with a queue standing, or [`LOSS_ALONE_FROM`] or more; else its delay
    /// half alone.
    fn gcc_bps(&self) -> f64 {
        let loss = self.gcc.stats().packet_loss.unwrap_or(0.0);
        let queued = self.guard.queue_delay() >= QUEUE_LOW;
        if (loss >= LOSS_HALF_FROM && queued) || loss >= LOSS_ALONE_FROM {
            self.gcc.target_bitrate()
        } else {
            self.gcc
                .delay_based_bitrate()
                .max(self.gcc.target_bitrate())
        }
    }

    /// The estimate the app gets: what GCC allows ([`Self::gcc_bps`]), rising at
    /// most [`PUBLISHED_GROWTH_PER_S`] (at least [`MIN_GROWTH_BPS`]), and never
    /// over the queue guard's cap.
    fn published_bps(&self, now: Instant) -> f64 {
        let wanted = self.gcc_bps();
        let grown = match self.last {
            Some((at, last)) if wanted > last => {
                let dt = now.saturating_duration_since(at).as_secs_f64();
                let cap = (last * PUBLISHED_GROWTH_PER_S.powf(dt)).max(last + MIN_GROWTH_BPS * dt);
                wanted.min(cap)
            }
            _ => wanted,
        };
        self.guard.cap_bps().map_or(grown, |cap| grown.min(cap))
    }

    /// The queue guard's view: the newest median queueing delay and its cap.
    pub fn guard(&self) -> &QueueGuard {
        &self.guard
    }

    fn publish(&mut self, now: Instant) {
        self.switch_fec(now);
        let bps = self.published_bps(now);
        self.last = Some((now, bps));
        let share = self.media_share();
        let paced = bps * share * PACING_FACTOR;
        let pacing = self
            .guard
            .knee_bps()
            .map_or(paced, |knee| paced.max(knee * share));
        self.published.set_paced(bps * share, pacing);
        let stands = self.guard.queue_stands(now);
        if self.published.queue_stands.swap(stands, Ordering::Relaxed) != stands {
            tracing::info!(
                stands,
                queue_ms = self.guard.queue_delay().as_millis() as u64,
                "the queue of our sending {}",
                if stands {
                    "stands: only the voice goes"
                } else {
                    "drained"
                }
            );
        }
    }
}

impl BandwidthEstimator for PublishedGcc {
    fn on_reports(&mut self, now: Instant, reports: &[PacketReport]) {
        self.gcc.on_reports(now, reports);
        let batch: Vec<Feedback> = reports
            .iter()
            .map(|r| Feedback {
                departure: r.departure,
                arrival: r.arrival.filter(|_| r.arrived),
                size: r.size,
            })
            .collect();
        let allowed = self.gcc_bps();
        let cuts = self.guard.cuts();
        self.guard.on_feedback(now, &batch, allowed);
        tracing::debug!(
            reports = batch.len(),
            lost = batch.iter().filter(|f| f.arrival.is_none()).count(),
            queue_ms = self.guard.queue_delay().as_millis() as u64,
            gcc_kbit = (allowed / 1000.0) as u64,
            cap_kbit = self.guard.cap_bps().map(|cap| (cap / 1000.0) as u64),
            knee_kbit = self.guard.knee_bps().map(|knee| (knee / 1000.0) as u64),
            "transport feedback"
        );
        if self.guard.cuts() > cuts {
            tracing::info!(
                queue_ms = self.guard.queue_delay().as_millis() as u64,
                bottleneck_kbit = self.guard.bottleneck_bps().unwrap_or(0.0) / 1000.0,
                cap_kbit = self.guard.cap_bps().unwrap_or(0.0) / 1000.0,
                gcc_kbit = allowed / 1000.0,
                "a queue stands on the path: send estimate cut"
            );
        }
        self.publish(now);
    }

    fn target_bitrate(&self) -> f64 {
        self.last
            .map_or_else(|| self.gcc.target_bitrate(), |(_, bps)| bps)
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.gcc.handle_timeout(now);
        self.publish(now);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.gcc.poll_timeout()
    }

    fn stats(&self) -> EstimatorStats {
        self.gcc.stats()
    }
}

/// Paces outgoing video at [`PACING_FACTOR`] times the estimate; audio and RTCP
/// are never held (see the module docs).
pub struct MediaPacer {
    estimate: SendEstimate,
    audio_payload_type: u8,
    bucket: Pacer,
    /// Video packets waiting, with the instant each was queued.
    video: VecDeque<(Instant, TaggedPacket)>,
    /// The budget of retransmissions ([`RETRANSMIT_SHARE`] of the estimate).
    retransmit_bucket: Pacer,
    /// The newest sequence number sent per SSRC (an older one is a retransmission).
    newest: std::collections::HashMap<u32, u16>,
    /// Retransmissions dropped for want of budget.
    retransmits_dropped: u64,
    /// Packets ready for the next interceptor towards the wire.
    write_queue: VecDeque<TaggedPacket>,
    read_queue: VecDeque<TaggedPacket>,
    dropped: u64,
    dropped_while_draining: u64,
}

impl MediaPacer {
    /// A pacer following `estimate`; RTP packets of `audio_payload_type` are not held.
    pub fn new(estimate: SendEstimate, audio_payload_type: u8) -> Self {
        let bucket = Pacer::new(estimate.pacing_bps() as f64);
        let retransmit_bucket = Pacer::new(estimate.bps() as f64 * RETRANSMIT_SHARE);
        Self {
            estimate,
            audio_payload_type,
            bucket,
            video: VecDeque::new(),
            retransmit_bucket,
            newest: std::collections::HashMap::new(),
            retransmits_dropped: 0,
            write_queue: VecDeque::new(),
            read_queue: VecDeque::new(),
            dropped: 0,
            dropped_while_draining: 0,
        }
    }

    /// Video packets refused because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Video packets (retransmissions included) not sent because the queue of a
    /// step stood on the path ([`SendEstimate::queue_stands`]).
    pub fn dropped_while_draining(&self) -> u64 {
        self.dropped_while_draining
    }

    /// Video packets waiting.
    pub fn queued(&self) -> usize {
        self.video.len()
    }

    /// Retransmissions dropped because they did not fit [`RETRANSMIT_SHARE`].
    pub fn retransmits_dropped(&self) -> u64 {
        self.retransmits_dropped
    }

    fn follow_estimate(&mut self, now: Instant) {
        let estimate = self.estimate.bps() as f64;
        for (bucket, rate) in [
            (&mut self.bucket, self.estimate.pacing_bps() as f64),
            (&mut self.retransmit_bucket, estimate * RETRANSMIT_SHARE),
        ] {
            bucket.refill(now);
            if rate != bucket.target_bitrate() {
                bucket.set_target_bitrate(rate);
            }
        }
    }

    /// Whether `packet` repeats a sequence number already sent (a NACK answer);
    /// notes a new one as the newest.
    fn is_retransmission(&mut self, packet: &TaggedPacket) -> bool {
        let Packet::Rtp(rtp) = &packet.message.packet else {
            return false;
        };
        let (ssrc, seq) = (rtp.header.ssrc, rtp.header.sequence_number);
        match self.newest.get(&ssrc) {
            Some(&newest) if seq.wrapping_sub(newest) == 0 || seq.wrapping_sub(newest) > 0x8000 => {
                true
            }
            _ => {
                self.newest.insert(ssrc, seq);
                false
            }
        }
    }

    fn bits_of(packet: &TaggedPacket) -> f64 {
        match &packet.message.packet {
            Packet::Rtp(rtp) => (rtp.marshal_size() * 8) as f64,
            _ => 0.0,
        }
    }

    fn release_due(&mut self, now: Instant) {
        if self.estimate.queue_stands() {
            // What waits here was encoded for the link before it slowed: sent, it
            // would only stand in the queue that is draining (and be dropped at
            // its tail), while the receiver waits for the keyframe that follows
            // the pause anyway.
            self.dropped_while_draining += self.video.len() as u64;
            self.video.clear();
            return;
        }
        while let Some((queued_at, head)) = self.video.front() {
            let bits = Self::bits_of(head);
            let overdue = now.saturating_duration_since(*queued_at) >= MAX_PACER_HOLD;
            if !overdue && !self.bucket.can_release(bits) {
                break;
            }
            let Some((_, mut packet)) = self.video.pop_front() else {
                break;
            };
            self.bucket.consume(bits);
            // The release instant: the send history below records it as the departure.
            packet.now = now;
            self.write_queue.push_back(packet);
        }
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for MediaPacer {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.read_queue.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.read_queue.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        let audio = match &msg.message.packet {
            Packet::Rtp(rtp) => rtp.header.payload_type == self.audio_payload_type,
            // RTCP: feedback is only useful while it is fresh.
            _ => {
                self.write_queue.push_back(msg);
                return Ok(());
            }
        };
        self.follow_estimate(msg.now);
        if audio {
            // Never behind video: it goes now and the video after it waits longer.
            self.bucket.consume(Self::bits_of(&msg));
            self.write_queue.push_back(msg);
            return Ok(());
        }
        if self.estimate.queue_stands() {
            // See `release_due`; a retransmission would repair a picture that the
            // keyframe after the pause replaces.
            self.is_retransmission(&msg);
            self.dropped_while_draining += 1;
            return Ok(());
        }
        if self.is_retransmission(&msg) {
            let bits = Self::bits_of(&msg);
            if !self.retransmit_bucket.can_release(bits) {
                self.retransmits_dropped += 1;
                return Ok(());
            }
            self.retransmit_bucket.consume(bits);
        }
        if self.video.len() >= PACER_QUEUE_LIMIT {
            self.dropped += 1;
            return Ok(());
        }
        let now = msg.now;
        self.video.push_back((now, msg));
        self.release_due(now);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.write_queue.pop_front()
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), Self::Error> {
        self.follow_estimate(now);
        self.release_due(now);
        Ok(())
    }

    fn poll_timeout(&mut self) -> Option<Self::Time> {
        let (queued_at, head) = self.video.front()?;
        let overdue_at = *queued_at + MAX_PACER_HOLD;
        Some(
            self.bucket
                .releasable_at(Self::bits_of(head))
                .map_or(overdue_at, |at| at.min(overdue_at)),
        )
    }
}

impl Interceptor for MediaPacer {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::interceptor::AttributedPacket;

    const AUDIO: u8 = 111;
    const VIDEO: u8 = 102;

    fn rtp(payload_type: u8, seq: u16, bytes: usize, now: Instant) -> TaggedPacket {
        let packet = rtc::rtp::Packet {
            header: rtc::rtp::header::Header {
                version: 2,
                payload_type,
                sequence_number: seq,
                ssrc: u32::from(payload_type),
                ..Default::default()
            },
            payload: vec![0u8; bytes].into(),
        };
        TaggedPacket {
            now,
            transport: Default::default(),
            message: AttributedPacket::from(Packet::Rtp(packet)),
        }
    }

    fn drain(pacer: &mut MediaPacer) -> Vec<(u8, u16)> {
        std::iter::from_fn(|| pacer.poll_write())
            .filter_map(|p| match p.message.packet {
                Packet::Rtp(rtp) => Some((rtp.header.payload_type, rtp.header.sequence_number)),
                _ => None,
            })
            .collect()
    }

    /// One 1200-byte packet's feedback: sent at `departure`, arrived at `arrival`
    /// on the receiver's clock (`None`: lost).
    fn report(id: u64, departure: Instant, arrival: Option<Duration>) -> PacketReport {
        PacketReport {
            ssrc: 1,
            id,
            rtp_sequence_number: id as u16,
            is_twcc: true,
            twcc_sequence_number: id as u16,
            size: 1200,
            arrived: arrival.is_some(),
            departure,
            arrival,
            ecn: rtc::rtcp::transport_feedbacks::cc_feedback_report::Ecn::default(),
        }
    }

    /// A pacer following `estimate` that was handed 40 video packets of 1200 bytes
    /// at `t0`.
    fn pacer_with_video_burst(estimate: SendEstimate, t0: Instant) -> MediaPacer {
        let mut pacer = MediaPacer::new(estimate, AUDIO);
        for seq in 0..40 {
            pacer.handle_write(rtp(VIDEO, seq, 1188, t0)).unwrap();
        }
        pacer
    }

    #[test]
    fn audio_is_not_held_behind_a_video_burst() {
        let t0 = Instant::now();
        // 100 kbit/s: paced at 250 kbit/s, a 25 kbit burst; 40 × 1200 B is 384 kbit.
        let mut pacer = pacer_with_video_burst(SendEstimate::new(100_000.0), t0);
        let first = drain(&mut pacer);
        assert!(
            first.len() < 5,
            "the burst is paced: {} left at once",
            first.len()
        );
        pacer.handle_write(rtp(AUDIO, 7, 100, t0)).unwrap();
        assert_eq!(drain(&mut pacer), vec![(AUDIO, 7)]);
        assert!(pacer.queued() > 30);
    }

    #[test]
    fn while_the_queue_of_a_step_drains_only_the_voice_leaves() {
        let t0 = Instant::now();
        let estimate = SendEstimate::new(100_000.0);
        let mut pacer = pacer_with_video_burst(estimate.clone(), t0);
        drain(&mut pacer);
        assert!(pacer.queued() > 30);
        estimate.queue_stands.store(true, Ordering::Relaxed);
        pacer
            .handle_timeout(t0 + Duration::from_millis(10))
            .unwrap();
        // New video and a retransmission do not go either; the voice does.
        pacer.handle_write(rtp(VIDEO, 40, 1188, t0)).unwrap();
        pacer.handle_write(rtp(VIDEO, 3, 1188, t0)).unwrap();
        pacer.handle_write(rtp(AUDIO, 7, 100, t0)).unwrap();
        assert_eq!(drain(&mut pacer), vec![(AUDIO, 7)]);
        assert_eq!(pacer.queued(), 0);
        assert!(pacer.dropped_while_draining() > 30);
        // Once it drained, video goes again (the keyframe after the pause).
        estimate.queue_stands.store(false, Ordering::Relaxed);
        pacer
            .handle_write(rtp(VIDEO, 41, 1188, t0 + Duration::from_millis(500)))
            .unwrap();
        assert_eq!(drain(&mut pacer), vec![(VIDEO, 41)]);
    }

    #[test]
    fn video_leaves_at_the_pacing_rate_and_never_waits_longer_than_the_hold() {
        let t0 = Instant::now();
        let mut pacer = pacer_with_video_burst(SendEstimate::new(100_000.0), t0);
        let mut sent = drain(&mut pacer).len();
        // 20 ms at 250 kbit/s is 5 kbit: about half a packet more.
        let t1 = t0 + Duration::from_millis(20);
        pacer.handle_timeout(t1).unwrap();
        sent += drain(&mut pacer).len();
        assert!(sent < 5, "{sent}");
        let due = pacer.poll_timeout().expect("video waits");
        assert!(due <= t0 + MAX_PACER_HOLD);
        pacer.handle_timeout(t0 + MAX_PACER_HOLD).unwrap();
        sent += drain(&mut pacer).len();
        assert_eq!(sent, 40, "all overdue packets leave");
        assert_eq!(pacer.poll_timeout(), None, "idle means idle");
    }

    #[test]
    fn a_higher_estimate_paces_faster() {
        let t0 = Instant::now();
        let estimate = SendEstimate::new(100_000.0);
        let mut pacer = pacer_with_video_burst(estimate.clone(), t0);
        drain(&mut pacer);
        estimate.set(10_000_000.0);
        pacer.handle_timeout(t0 + Duration::from_millis(1)).unwrap();
        assert!(
            pacer.queued() > 30,
            "the first millisecond was at the old rate"
        );
        pacer
            .handle_timeout(t0 + Duration::from_millis(31))
            .unwrap();
        // 30 ms at 15 Mbit/s is 450 kbit: every packet.
        assert_eq!(pacer.queued(), 0);
    }

    #[test]
    fn retransmissions_get_a_share_of_the_estimate_and_the_rest_are_dropped() {
        let t0 = Instant::now();
        // 1 Mbit/s: retransmissions get 250 kbit/s, a 25 kbit burst (two packets).
        let mut pacer = MediaPacer::new(SendEstimate::new(1_000_000.0), AUDIO);
        for seq in 0..10 {
            pacer.handle_write(rtp(VIDEO, seq, 1188, t0)).unwrap();
        }
        for seq in 0..10 {
            pacer.handle_write(rtp(VIDEO, seq, 1188, t0)).unwrap();
        }
        assert_eq!(pacer.retransmits_dropped(), 8);
        pacer.handle_timeout(t0 + MAX_PACER_HOLD).unwrap();
        assert_eq!(drain(&mut pacer).len(), 12);
        // 100 ms later the share has room for two more.
        let t1 = t0 + Duration::from_millis(100);
        for seq in 0..3 {
            pacer.handle_write(rtp(VIDEO, seq, 1188, t1)).unwrap();
        }
        assert_eq!(pacer.retransmits_dropped(), 9);
        // A new sequence number is not a retransmission.
        pacer.handle_write(rtp(VIDEO, 10, 1188, t1)).unwrap();
        assert_eq!(pacer.retransmits_dropped(), 9);
    }

    #[test]
    fn the_wrapped_estimator_publishes_its_target() {
        let estimate = SendEstimate::default();
        let gcc = PublishedGcc::new(
            EstimateBounds {
                initial_bps: 500_000.0,
                ..EstimateBounds::default()
            },
            estimate.clone(),
        );
        assert_eq!(estimate.bps(), 500_000);
        assert_eq!(gcc.target_bitrate(), 500_000.0);
    }

    #[test]
    fn a_lossy_feedback_lowers_the_published_estimate() {
        let estimate = SendEstimate::default();
        let mut gcc = PublishedGcc::new(EstimateBounds::default(), estimate.clone());
        let t0 = Instant::now();
        let mut id = 0u64;
        for batch in 0..20u64 {
            let now = t0 + Duration::from_millis(100 * batch);
            let reports: Vec<PacketReport> = (0..20)
                .map(|i| {
                    id += 1;
                    // Half of everything lost.
                    report(
                        id,
                        now,
                        (i % 2 == 0).then(|| Duration::from_millis(100 * batch + 20)),
                    )
                })
                .collect();
            gcc.on_reports(now + Duration::from_millis(30), &reports);
        }
        assert!(
            (estimate.bps() as f64) < EstimateBounds::default().initial_bps / 2.0,
            "{}",
            estimate.bps()
        );
        assert_eq!(estimate.bps() as f64, gcc.target_bitrate().floor());
    }

    #[test]
    fn after_a_deep_cut_video_is_paced_at_what_the_path_carried() {
        let estimate = SendEstimate::default();
        let mut gcc = PublishedGcc::new(EstimateBounds::default(), estimate.clone());
        let t0 = Instant::now();
        // 1200-byte packets every 12 ms (800 kbit/s); the path serves one every
        // 4 ms (2.4 Mbit/s) for 2 s, then one every 32 ms (300 kbit/s).
        let (mut free_at, mut id, mut batch) = (Duration::ZERO, 0u64, Vec::new());
        for i in 0..300u64 {
            let sent = Duration::from_millis(12 * i);
            let serve = Duration::from_millis(if sent < Duration::from_secs(2) { 4 } else { 32 });
            free_at = free_at.max(sent) + serve;
            id += 1;
            batch.push(report(
                id,
                t0 + sent,
                Some(free_at + Duration::from_millis(20)),
            ));
            if i % 8 == 7 {
                gcc.on_reports(t0 + sent, &std::mem::take(&mut batch));
            }
        }
        let knee = gcc
            .guard()
            .knee_bps()
            .expect("a queue stood and was cut for");
        assert!((250_000.0..=330_000.0).contains(&knee), "{knee}");
        let (bps, pacing) = (estimate.bps() as f64, estimate.pacing_bps() as f64);
        assert!(
            bps * PACING_FACTOR < knee,
            "a deep cut: {bps} against {knee}"
        );
        assert_eq!(pacing, knee.floor());
    }

    #[test]
    fn moderate_loss_leaves_the_estimate_to_the_delay_half() {
        let estimate = SendEstimate::default();
        let mut gcc = PublishedGcc::new(EstimateBounds::default(), estimate.clone());
        let t0 = Instant::now();
        let mut id = 0u64;
        for batch in 0..30u64 {
            let now = t0 + Duration::from_millis(100 * batch);
            let reports: Vec<PacketReport> = (0..20u64)
                .map(|i| {
                    id += 1;
                    // One in eight lost (12.5 %: over GCC's 10 %), steady delay.
                    let arrived = !id.is_multiple_of(8);
                    report(
                        id,
                        now + Duration::from_millis(5 * i),
                        arrived.then(|| Duration::from_millis(100 * batch + 5 * i + 20)),
                    )
                })
                .collect();
            gcc.on_reports(now + Duration::from_millis(120), &reports);
        }
        assert!(
            gcc.gcc.loss_based_bitrate() < EstimateBounds::default().initial_bps,
            "GCC's loss half backs off"
        );
        assert!(
            estimate.bps() as f64 >= EstimateBounds::default().initial_bps,
            "the published estimate does not: {}",
            estimate.bps()
        );
    }

    #[test]
    fn the_slowest_connected_peer_sets_the_pace() {
        let estimates = SendEstimates::default();
        assert_eq!(estimates.slowest_bps(), None);
        estimates.insert(PeerId(1), SendEstimate::new(900_000.0));
        estimates.insert(PeerId(2), SendEstimate::new(300_000.0));
        assert_eq!(estimates.slowest_bps(), Some(300_000));
        assert_eq!(estimates.get(PeerId(1)), Some(900_000));
        estimates.remove(PeerId(2));
        assert_eq!(estimates.slowest_bps(), Some(900_000));
        assert_eq!(estimates.get(PeerId(3)), None, "not connected");
    }
}
