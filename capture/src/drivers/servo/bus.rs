//! What the recorder needs from a servo bus, whatever its protocol: ping,
//! scan, one Sync Read of position/velocity/current for all joints, one Sync
//! Write of goal positions, torque on/off. Dynamixel and Feetech implement it
//! in their `bus` modules over the same [`SerialLink`].

use std::path::Path;
use std::time::{Duration, Instant};

use reel_episode::time::host_now_nanos;

use crate::error::{BusError, ProtocolError};
use crate::serial::{wire_time, SerialLink};

/// One servo's raw registers from a state read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RawJointReading {
    /// Servo ID.
    pub id: u8,
    /// Present position, ticks.
    pub position: i32,
    /// Present velocity, register units.
    pub velocity: i32,
    /// Present current (or load), register units.
    pub current: i32,
    /// Error bits of the status packet (0 = none).
    pub error_bits: u8,
}

/// The result of one state read of all joints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateRead {
    /// One reading per requested ID, in request order.
    pub readings: Vec<RawJointReading>,
    /// Host time the request was fully written.
    pub sent_nanos: u64,
    /// Host time the last reply byte arrived.
    pub received_nanos: u64,
    /// Best estimate of when the servos sampled (they latch their registers
    /// when the instruction completes on the wire): the round-trip midpoint,
    /// bounded by the first servo's Realtime Tick on Dynamixel
    /// ([`crate::clock::TickBound`]).
    pub sampled_nanos: u64,
}

/// Counters of one bus since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BusStats {
    /// Requests sent.
    pub requests: u64,
    /// Requests that timed out.
    pub timeouts: u64,
    /// Replies with a bad CRC/checksum, short or malformed.
    pub bad_replies: u64,
    /// Repeated requests.
    pub retries: u64,
    /// Bytes skipped while resynchronising on the stream.
    pub skipped_bytes: u64,
    /// Status packets that carried error bits.
    pub servo_errors: u64,
}

/// A servo bus of one protocol.
pub trait ServoBus: Send {
    /// Pings `id`; returns its model number.
    fn ping(&mut self, id: u8) -> Result<u16, BusError>;
    /// Reads position, velocity and current of `ids` with one Sync Read.
    fn read_state(&mut self, ids: &[u8]) -> Result<StateRead, BusError>;
    /// Writes goal positions (ticks) with one Sync Write.
    fn write_goal_positions(&mut self, goals: &[(u8, i32)]) -> Result<(), BusError>;
    /// Enables or disables torque on `ids`.
    fn set_torque(&mut self, ids: &[u8], on: bool) -> Result<(), BusError>;
    /// How long past the wire time a reply may be late (USB-serial latency).
    fn set_reply_margin(&mut self, margin: Duration);
    /// Counters.
    fn stats(&self) -> BusStats;
    /// The device path.
    fn port(&self) -> &Path;
}

/// The default margin for USB-serial latency: an adapter whose latency timer
/// is at 1 ms, the kernel and a loaded host fit in it; a rig can widen it
/// (`reply_margin_ms`) for adapters that stay at 16 ms.
pub const DEFAULT_REPLY_MARGIN: Duration = Duration::from_millis(8);

/// Reply deadline for an exchange of `bytes` on the wire: the wire time, one
/// return delay per reply, and `margin` for USB-serial latency.
pub(crate) fn reply_timeout(bytes: usize, baud: u32, replies: usize, margin: Duration) -> Duration {
    wire_time(bytes, baud) + Duration::from_micros(500 * replies as u64) + margin
}

/// A status packet, protocol-neutral.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Status {
    pub id: u8,
    pub error: u8,
    pub params: Vec<u8>,
}

/// A protocol's stream decoder, seen as a source of status packets.
pub(crate) trait StatusStream: Default {
    /// Bytes of a status packet besides its parameters.
    const STATUS_OVERHEAD: usize;
    fn push(&mut self, bytes: &[u8]);
    /// The next status packet; `None` when more bytes are needed. Packets
    /// that are not statuses (an echoed request) are skipped.
    fn next_status(&mut self) -> Option<Result<Status, ProtocolError>>;
    fn skipped(&self) -> u64;
}

/// Request/reply over one link with retries and counters; the protocol only
/// brings its framing (`D`).
#[derive(Debug)]
pub(crate) struct Transactor<D> {
    pub link: SerialLink,
    pub stats: BusStats,
    pub retries: u32,
    /// Added to every reply deadline (see [`reply_timeout`]).
    pub reply_margin: Duration,
    decoder: D,
}

impl<D: StatusStream> Transactor<D> {
    pub fn new(link: SerialLink) -> Self {
        Self {
            link,
            stats: BusStats::default(),
            retries: 1,
            reply_margin: DEFAULT_REPLY_MARGIN,
            decoder: D::default(),
        }
    }

    /// Sends `request` and collects one status per ID in `ids`, in order,
    /// each with `params_len` parameter bytes. Returns them with the host
    /// times the request was written and the last reply arrived.
    pub fn transact(
        &mut self,
        request: &[u8],
        ids: &[u8],
        params_len: usize,
    ) -> Result<(Vec<Status>, u64, u64), BusError> {
        let mut attempt = 0;
        loop {
            match self.transact_once(request, ids, params_len) {
                Ok(r) => {
                    self.stats.servo_errors += r.0.iter().filter(|s| s.error != 0).count() as u64;
                    return Ok(r);
                }
                Err(e) if e.is_link_lost() || attempt >= self.retries => return Err(e),
                Err(_) => {
                    attempt += 1;
                    self.stats.retries += 1;
                }
            }
        }
    }

    fn transact_once(
        &mut self,
        request: &[u8],
        ids: &[u8],
        params_len: usize,
    ) -> Result<(Vec<Status>, u64, u64), BusError> {
        let first = ids.first().copied().unwrap_or(0);
        let port = self.link.path().to_path_buf();
        self.link.discard_input();
        self.decoder = D::default();
        self.stats.requests += 1;
        self.link.send(request)?;
        let sent = host_now_nanos();
        let reply_bytes = ids.len() * (D::STATUS_OVERHEAD + params_len);
        let timeout = reply_timeout(
            request.len() + reply_bytes,
            self.link.baud(),
            ids.len(),
            self.reply_margin,
        );
        let deadline = Instant::now() + timeout;
        let mut replies: Vec<Status> = Vec::with_capacity(ids.len());
        let mut failure = None;
        let decoder = &mut self.decoder;
        let complete = self.link.receive_until(deadline, |bytes| {
            decoder.push(bytes);
            while replies.len() < ids.len() {
                let Some(next) = decoder.next_status() else {
                    break;
                };
                let expected = ids.get(replies.len()).copied().unwrap_or(first);
                let bad = |error| BusError::BadReply {
                    port: port.clone(),
                    id: expected,
                    error,
                };
                match next {
                    Err(e) => {
                        failure = Some(bad(e));
                        return true;
                    }
                    Ok(s) if s.id != expected => {}
                    Ok(s) if s.params.len() != params_len => {
                        failure = Some(bad(ProtocolError::BadLength {
                            length_field: s.params.len(),
                            packet_len: params_len,
                        }));
                        return true;
                    }
                    Ok(s) => replies.push(s),
                }
            }
            replies.len() >= ids.len()
        })?;
        self.stats.skipped_bytes += self.decoder.skipped();
        if let Some(e) = failure {
            self.stats.bad_replies += 1;
            return Err(e);
        }
        if !complete {
            self.stats.timeouts += 1;
            return Err(BusError::Timeout {
                port,
                id: ids.get(replies.len()).copied().unwrap_or(first),
                timeout_us: timeout.as_micros() as u64,
            });
        }
        Ok((replies, sent, host_now_nanos()))
    }

    /// Sends a request that gets no reply (broadcast writes).
    pub fn send_only(&mut self, request: &[u8]) -> Result<(), BusError> {
        self.stats.requests += 1;
        self.link.send(request)
    }

    /// One Sync Read `request` of `state_len` bytes from each of `ids`,
    /// each status turned into a reading by `reading`, with its times.
    pub fn read_state(
        &mut self,
        request: &[u8],
        ids: &[u8],
        state_len: usize,
        reading: impl Fn(&Status) -> RawJointReading,
    ) -> Result<StateRead, BusError> {
        let (replies, sent, received) = self.transact(request, ids, state_len)?;
        let reply_len = ids.len() * (D::STATUS_OVERHEAD + state_len);
        Ok(StateRead {
            readings: replies.iter().map(reading).collect(),
            sent_nanos: sent,
            received_nanos: received,
            sampled_nanos: self.sample_time(sent, received, request.len(), reply_len),
        })
    }

    /// When the servos latched their registers. The request's end on the
    /// wire (`sent` + its wire time) is early by the delivery latency to the
    /// bus; the reply's start (`received` − its wire time) is late by the
    /// latency back. Their midpoint cancels what the two have in common, as
    /// NTP does with a round trip (USB-serial and pty latencies are alike
    /// both ways).
    fn sample_time(&self, sent: u64, received: u64, request_len: usize, reply_len: usize) -> u64 {
        let baud = self.link.baud();
        let early = sent + wire_time(request_len, baud).as_nanos() as u64;
        let late = received.saturating_sub(wire_time(reply_len, baud).as_nanos() as u64);
        if late <= early {
            // The reply came sooner than the bytes take on a wire (a pty,
            // or a clock read late): the middle of the exchange, never
            // after the reply.
            sent + received.saturating_sub(sent) / 2
        } else {
            early + (late - early) / 2
        }
    }
}
