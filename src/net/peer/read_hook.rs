//! An interceptor that looks at (and may change or drop) what comes in and passes
//! everything going out untouched: the shape of the app's own read-side
//! interceptors ([`super::rtcp::KeyframeRequestForwarder`],
//! [`super::fec::FecRebuiltMarker`]), which only say what they do to one inbound
//! packet ([`ReadHook`]).

use std::collections::VecDeque;
use std::time::Instant;

use rtc::interceptor::{Interceptor, StreamInfo, TaggedPacket};
use rtc::sansio::Protocol;
use rtc::shared::error::Error;

/// What a read-side interceptor does to one inbound packet.
pub trait ReadHook: Send + Sync + 'static {
    /// The packet to pass on (as it came, or changed), or `None` to drop it.
    fn read(&mut self, packet: TaggedPacket) -> Option<TaggedPacket>;

    /// An inbound stream was negotiated (its SSRC, payload types and header
    /// extension ids).
    fn bind_remote(&mut self, _info: &StreamInfo) {}

    /// An inbound stream went away.
    fn unbind_remote(&mut self, _info: &StreamInfo) {}
}

/// Runs its [`ReadHook`] on every inbound packet; outbound packets pass as they are.
pub struct OnRead<H> {
    hook: H,
    read_queue: VecDeque<TaggedPacket>,
    write_queue: VecDeque<TaggedPacket>,
}

impl<H: ReadHook> OnRead<H> {
    /// An interceptor running `hook`.
    pub fn new(hook: H) -> Self {
        Self {
            hook,
            read_queue: VecDeque::new(),
            write_queue: VecDeque::new(),
        }
    }
}

impl<H: ReadHook> Protocol<TaggedPacket, TaggedPacket, ()> for OnRead<H> {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Some(msg) = self.hook.read(msg) {
            self.read_queue.push_back(msg);
        }
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.read_queue.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.write_queue.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.write_queue.pop_front()
    }
}

impl<H: ReadHook> Interceptor for OnRead<H> {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, info: &StreamInfo) {
        self.hook.bind_remote(info);
    }
    fn unbind_remote_stream(&mut self, info: &StreamInfo) {
        self.hook.unbind_remote(info);
    }
}
