//! An emulated servo bus on a pty pair: it speaks Dynamixel 2.0 or Feetech
//! bytes exactly (the same codec the drivers use), answers at the wire timing
//! of its baud rate, and its servos move along [`JointMotion`]s until torque
//! is on and a goal is written, then they track the goal.
//!
//! The pty's slave side is linked at the rig's `port` path, so a driver
//! opens it like a USB adapter.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reel_episode::time::host_now_nanos;
use serialport::{SerialPort, TTYPort};

use super::motion::JointMotion;
use super::threads::DeviceThreads;
use crate::drivers::dynamixel::protocol as dxl;
use crate::drivers::feetech::protocol as ft;
use crate::rig::{Protocol, ServoModel};
use crate::serial::wire_time;

/// Broadcast ID, the same in both protocols.
const BROADCAST_ID: u8 = dxl::BROADCAST_ID;

/// Faults a test can switch on while the emulator runs.
#[derive(Debug, Default)]
pub struct BusFaults {
    /// Flip one byte in one reply out of N (0 = never): a CRC/checksum error.
    pub corrupt_one_in: AtomicU32,
    /// Send only the first half of one reply out of N (0 = never).
    pub truncate_one_in: AtomicU32,
    /// Stop answering (a powered-off arm on a live adapter).
    pub mute: AtomicBool,
}

/// Counters of an emulated bus.
#[derive(Debug, Default)]
pub struct BusEmulatorStats {
    /// Instructions received.
    pub requests: AtomicU64,
    /// Status packets sent.
    pub replies: AtomicU64,
    /// Instructions that failed their CRC/checksum (ignored, as servos do).
    pub bad_requests: AtomicU64,
    /// Replies corrupted or truncated on purpose.
    pub faults_injected: AtomicU64,
    /// Goal positions received.
    pub goal_writes: AtomicU64,
    /// Every goal received, as (host time, servo ID, ticks); the newest
    /// 100 000 are kept.
    pub goals: std::sync::Mutex<std::collections::VecDeque<(u64, u8, i32)>>,
    /// Each servo's torque switch as last written (absent: never written).
    pub torque: std::sync::Mutex<std::collections::BTreeMap<u8, bool>>,
    /// Ground truth of state reads: when the servos latched their registers
    /// and the positions they latched (ticks, in servo order). The newest
    /// 100 000 are kept.
    pub latched: std::sync::Mutex<std::collections::VecDeque<(u64, Vec<i32>)>>,
}

impl BusEmulatorStats {
    fn record_latch(&self, t: u64, positions: Vec<i32>) {
        if let Ok(mut l) = self.latched.lock() {
            if l.len() >= 100_000 {
                l.pop_front();
            }
            l.push_back((t, positions));
        }
    }

    fn record_goal(&self, id: u8, ticks: i32) {
        if let Ok(mut g) = self.goals.lock() {
            if g.len() >= 100_000 {
                g.pop_front();
            }
            g.push_back((host_now_nanos(), id, ticks));
        }
    }

    /// When the servos latched exactly `positions` nearest to `near` (the
    /// ground truth of a recorded state read).
    pub fn latch_time_of(&self, positions: &[i32], near: u64) -> Option<u64> {
        let l = self.latched.lock().ok()?;
        l.iter()
            .filter(|(_, p)| p == positions)
            .map(|(t, _)| *t)
            .min_by_key(|t| t.abs_diff(near))
    }
}

/// One emulated servo.
#[derive(Debug, Clone)]
pub struct EmulatedServo {
    /// Bus ID.
    pub id: u8,
    /// Model (sets the model number and units).
    pub model: ServoModel,
    /// Motion while not driven.
    pub motion: JointMotion,
}

/// A running emulated bus; stops (and removes its link) when dropped.
#[derive(Debug)]
pub struct ServoBusEmulator {
    link: PathBuf,
    threads: DeviceThreads,
    faults: Arc<BusFaults>,
    stats: Arc<BusEmulatorStats>,
}

/// Tracking speed of a driven servo, ticks/s (≈ 4.6 rad/s).
const TRACK_SPEED: f64 = 3000.0;

struct Servo {
    id: u8,
    model: ServoModel,
    motion: JointMotion,
    table: [u8; 256],
    torque: bool,
    goal: Option<i32>,
    /// Last (position, time) while driven.
    tracked: Option<(f64, u64)>,
    last_position: f64,
}

impl Servo {
    fn new(spec: &EmulatedServo, protocol: Protocol, baud_code: u8) -> Self {
        let mut table = [0u8; 256];
        let model = spec.model.model_number().to_le_bytes();
        match protocol {
            Protocol::Dynamixel => {
                table[0..2].copy_from_slice(&model);
                table[6] = 52; // firmware
                table[7] = spec.id;
                table[8] = baud_code;
                table[9] = 0; // return delay, as LeRobot configures it
                table[48..52].copy_from_slice(&4095i32.to_le_bytes());
                table[68] = 2;
            }
            Protocol::Feetech => {
                table[0] = 3;
                table[1] = 10;
                table[3..5].copy_from_slice(&model);
                table[5] = spec.id;
                table[6] = baud_code;
                table[7] = 0;
                table[11..13].copy_from_slice(&4095u16.to_le_bytes());
                table[8] = 1;
            }
        }
        Self {
            id: spec.id,
            model: spec.model,
            motion: spec.motion,
            table,
            torque: false,
            goal: None,
            tracked: None,
            last_position: spec.motion.center,
        }
    }

    /// Position and velocity (ticks, ticks/s) at `t`.
    fn kinematics(&mut self, t: u64) -> (f64, f64) {
        if !self.torque {
            self.tracked = None;
            return (self.motion.ticks_at(t), self.motion.ticks_per_s_at(t));
        }
        // Torque on: hold, or move toward the goal at the tracking speed.
        let (from, t0) = self.tracked.unwrap_or((self.last_position, t));
        let goal = self.goal.map_or(from, f64::from);
        let dt = t.saturating_sub(t0) as f64 * 1e-9;
        let step = (goal - from).clamp(-TRACK_SPEED * dt, TRACK_SPEED * dt);
        self.tracked = Some((from + step, t));
        (from + step, if dt > 0.0 { step / dt } else { 0.0 })
    }

    /// Writes the present-value registers as of `t`.
    fn refresh(&mut self, protocol: Protocol, t: u64) {
        let (pos, vel) = self.kinematics(t);
        self.last_position = pos;
        let ticks = pos.round() as i32;
        let velocity_unit_ticks = self.model.velocity_unit_rad_s() * 4096.0 / std::f64::consts::TAU;
        let vel_raw = (vel / velocity_unit_ticks).round() as i32;
        let current_raw = (vel.abs() / 40.0).round() as i32 + 20;
        let moving = u8::from(vel.abs() > 1.0);
        let tb = &mut self.table;
        match protocol {
            Protocol::Dynamixel => {
                let tick_ms = ((t / 1_000_000) % 32_768) as u16;
                tb[120..122].copy_from_slice(&tick_ms.to_le_bytes());
                tb[122] = moving;
                tb[126..128].copy_from_slice(&(current_raw as i16).to_le_bytes());
                tb[128..132].copy_from_slice(&vel_raw.to_le_bytes());
                tb[132..136].copy_from_slice(&ticks.to_le_bytes());
                tb[144..146].copy_from_slice(&120u16.to_le_bytes());
                tb[146] = 35;
            }
            Protocol::Feetech => {
                let sm = |v: i32| ft::encode_sign_magnitude(v, 15).to_le_bytes();
                tb[56..58].copy_from_slice(&sm(ticks));
                tb[58..60].copy_from_slice(&sm(vel_raw));
                tb[60..62]
                    .copy_from_slice(&ft::encode_sign_magnitude(current_raw, 10).to_le_bytes());
                tb[62] = 120;
                tb[63] = 35;
                tb[66] = moving;
                tb[69..71].copy_from_slice(&sm(current_raw));
            }
        }
    }

    fn read(&self, address: usize, length: usize) -> Option<Vec<u8>> {
        self.table
            .get(address..address + length)
            .map(<[u8]>::to_vec)
    }

    /// Applies a write; returns false for an address beyond the table.
    fn write(
        &mut self,
        protocol: Protocol,
        address: usize,
        data: &[u8],
        stats: &BusEmulatorStats,
    ) -> bool {
        let Some(slot) = self.table.get_mut(address..address + data.len()) else {
            return false;
        };
        slot.copy_from_slice(data);
        let (torque_at, goal_at) = match protocol {
            Protocol::Dynamixel => (64usize, 116usize),
            Protocol::Feetech => (40, 42),
        };
        let touches = |a: usize, n: usize| address < a + n && a < address + data.len();
        if touches(torque_at, 1) {
            let on = self.table[torque_at] & 1 == 1;
            if on && !self.torque {
                self.tracked = Some((self.last_position, host_now_nanos()));
            }
            self.torque = on;
            if let Ok(mut t) = stats.torque.lock() {
                t.insert(self.id, on);
            }
        }
        if touches(goal_at, 2) {
            stats.goal_writes.fetch_add(1, Ordering::Relaxed);
            self.goal = Some(match protocol {
                Protocol::Dynamixel => i32::from_le_bytes([
                    self.table[116],
                    self.table[117],
                    self.table[118],
                    self.table[119],
                ]),
                Protocol::Feetech => ft::decode_sign_magnitude(
                    u16::from_le_bytes([self.table[42], self.table[43]]),
                    15,
                ),
            });
            if let Some(goal) = self.goal {
                stats.record_goal(self.id, goal);
            }
        }
        true
    }

    /// Parameters of a ping reply: Dynamixel sends model and firmware,
    /// Feetech nothing (its model is read from address 3).
    fn ping_params(&self, protocol: Protocol) -> Vec<u8> {
        match protocol {
            Protocol::Dynamixel => {
                let m = self.model.model_number().to_le_bytes();
                vec![m[0], m[1], self.table[6]]
            }
            Protocol::Feetech => Vec::new(),
        }
    }

    /// Whether a unicast write gets a status (Status Return Level 2 on
    /// Dynamixel, Response Status Level 1 on Feetech).
    fn acknowledges_writes(&self, protocol: Protocol) -> bool {
        match protocol {
            Protocol::Dynamixel => self.table[68] >= 2,
            Protocol::Feetech => self.table[8] == 1,
        }
    }

    fn return_delay(&self, protocol: Protocol) -> Duration {
        let at = match protocol {
            Protocol::Dynamixel => 9,
            Protocol::Feetech => 7,
        };
        Duration::from_micros(2 * u64::from(self.table[at]))
    }
}

/// A reply to send after a delay (the servos' wire timing).
struct Reply {
    bytes: Vec<u8>,
    /// Return delays of the answering servos.
    delay: Duration,
}

/// An instruction as the emulated servos act on it, whatever the protocol.
enum Request {
    Ping,
    Read {
        address: usize,
        length: usize,
    },
    Write {
        address: usize,
        data: Vec<u8>,
    },
    SyncRead {
        address: usize,
        length: usize,
        ids: Vec<u8>,
        fast: bool,
    },
    SyncWrite {
        writes: (usize, Vec<(u8, Vec<u8>)>),
    },
    Other,
}

impl From<dxl::Instruction> for Request {
    fn from(i: dxl::Instruction) -> Self {
        use dxl::Instruction as I;
        match i {
            I::Ping => Self::Ping,
            I::Read { address, length } => Self::Read {
                address: address.into(),
                length: length.into(),
            },
            I::Write { address, data } => Self::Write {
                address: address.into(),
                data,
            },
            I::SyncRead {
                address,
                length,
                ids,
            } => Self::SyncRead {
                address: address.into(),
                length: length.into(),
                ids,
                fast: false,
            },
            I::FastSyncRead {
                address,
                length,
                ids,
            } => Self::SyncRead {
                address: address.into(),
                length: length.into(),
                ids,
                fast: true,
            },
            I::SyncWrite {
                address, writes, ..
            } => Self::SyncWrite {
                writes: (address.into(), writes),
            },
            _ => Self::Other,
        }
    }
}

impl From<ft::Instruction> for Request {
    fn from(i: ft::Instruction) -> Self {
        use ft::Instruction as I;
        match i {
            I::Ping => Self::Ping,
            I::Read { address, length } => Self::Read {
                address: address.into(),
                length: length.into(),
            },
            I::Write { address, data } => Self::Write {
                address: address.into(),
                data,
            },
            I::SyncRead {
                address,
                length,
                ids,
            } => Self::SyncRead {
                address: address.into(),
                length: length.into(),
                ids,
                fast: false,
            },
            I::SyncWrite {
                address, writes, ..
            } => Self::SyncWrite {
                writes: (address.into(), writes),
            },
            _ => Self::Other,
        }
    }
}

/// The bus side of the pty: one protocol's stream decoder.
enum RequestDecoder {
    Dynamixel(dxl::PacketDecoder),
    Feetech(ft::PacketDecoder),
}

impl RequestDecoder {
    fn new(protocol: Protocol) -> Self {
        match protocol {
            Protocol::Dynamixel => Self::Dynamixel(dxl::PacketDecoder::default()),
            Protocol::Feetech => Self::Feetech(ft::PacketDecoder::default()),
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        match self {
            Self::Dynamixel(d) => d.push(bytes),
            Self::Feetech(d) => d.push(bytes),
        }
    }

    /// The next instruction as (wire length, ID, request); `Some(Err)` for
    /// a packet that fails its CRC/checksum or does not parse.
    fn next(&mut self) -> Option<Result<(usize, u8, Request), ()>> {
        loop {
            let decoded = match self {
                Self::Dynamixel(d) => d.next_raw()?.and_then(|raw| {
                    dxl::decode(&raw).map(|p| match p {
                        dxl::Packet::Instruction(p) => {
                            Some((raw.len(), p.id, p.instruction.into()))
                        }
                        dxl::Packet::Status(_) => None,
                    })
                }),
                Self::Feetech(d) => d.next_raw()?.and_then(|raw| {
                    ft::InstructionPacket::decode(&raw)
                        .map(|p| Some((raw.len(), p.id, p.instruction.into())))
                }),
            };
            match decoded {
                Ok(Some(r)) => return Some(Ok(r)),
                Ok(None) => continue,
                Err(_) => return Some(Err(())),
            }
        }
    }
}

struct Bus {
    protocol: Protocol,
    baud: u32,
    servos: Vec<Servo>,
    stats: Arc<BusEmulatorStats>,
}

impl Bus {
    fn servo(&mut self, id: u8) -> Option<&mut Servo> {
        self.servos.iter_mut().find(|s| s.id == id)
    }

    fn refresh_all(&mut self, t: u64) {
        let protocol = self.protocol;
        for s in &mut self.servos {
            s.refresh(protocol, t);
        }
        self.stats.record_latch(
            t,
            self.servos
                .iter()
                .map(|s| s.last_position.round() as i32)
                .collect(),
        );
    }

    fn status(&self, id: u8, params: Vec<u8>) -> Vec<u8> {
        match self.protocol {
            Protocol::Dynamixel => dxl::StatusPacket {
                id,
                error: dxl::StatusError(0),
                params,
            }
            .encode(),
            Protocol::Feetech => ft::StatusPacket {
                id,
                error: ft::StatusError(0),
                params,
            }
            .encode(),
        }
    }

    /// IDs an instruction to `id` reaches (all servos for broadcast).
    fn targets(&self, id: u8) -> Vec<u8> {
        if id == BROADCAST_ID {
            self.servos.iter().map(|s| s.id).collect()
        } else {
            vec![id]
        }
    }

    /// Acts on one instruction; returns the status packets to send, if any.
    fn handle(&mut self, id: u8, request: Request) -> Option<Reply> {
        let protocol = self.protocol;
        let broadcast = id == BROADCAST_ID;
        let stats = self.stats.clone();
        let mut out = Vec::new();
        let mut delay = Duration::ZERO;
        // (ID, params) of each status to send, in order.
        let mut statuses: Vec<(u8, Vec<u8>)> = Vec::new();
        match request {
            // Dynamixel answers a broadcast ping from every servo; Feetech does not.
            Request::Ping if !broadcast || protocol == Protocol::Dynamixel => {
                for i in self.targets(id) {
                    if let Some(s) = self.servo(i) {
                        statuses.push((i, s.ping_params(protocol)));
                    }
                }
            }
            Request::Read { address, length } if !broadcast => {
                let data = self.servo(id)?.read(address, length)?;
                statuses.push((id, data));
            }
            Request::Write { address, data } => {
                for i in self.targets(id) {
                    if let Some(s) = self.servo(i) {
                        s.write(protocol, address, &data, &stats);
                        if !broadcast && s.acknowledges_writes(protocol) {
                            statuses.push((i, Vec::new()));
                        }
                    }
                }
            }
            Request::SyncRead {
                address,
                length,
                ids,
                fast,
            } => {
                let mut entries = Vec::new();
                for i in ids {
                    if let Some(s) = self.servo(i) {
                        entries.push((i, s.read(address, length)?));
                    }
                }
                if fast {
                    // Fast Sync Read: one status packet for all (Dynamixel only).
                    for (i, _) in &entries {
                        delay += self
                            .servo(*i)
                            .map_or(Duration::ZERO, |s| s.return_delay(protocol));
                    }
                    let fast_entries: Vec<dxl::FastSyncEntry> = entries
                        .into_iter()
                        .map(|(id, data)| dxl::FastSyncEntry {
                            error: dxl::StatusError(0),
                            id,
                            data,
                        })
                        .collect();
                    if !fast_entries.is_empty() {
                        out.extend(dxl::encode_fast_sync_status(&fast_entries));
                    }
                } else {
                    statuses.extend(entries);
                }
            }
            Request::SyncWrite {
                writes: (address, writes),
            } => {
                for (i, data) in writes {
                    if let Some(s) = self.servo(i) {
                        s.write(protocol, address, &data, &stats);
                    }
                }
            }
            _ => {}
        }
        for (i, params) in statuses {
            delay += self
                .servo(i)
                .map_or(Duration::ZERO, |s| s.return_delay(protocol));
            out.extend(self.status(i, params));
        }
        (!out.is_empty()).then_some(Reply { bytes: out, delay })
    }
}

fn baud_code(protocol: Protocol, baud: u32) -> u8 {
    match protocol {
        Protocol::Dynamixel => match baud {
            9_600 => 0,
            57_600 => 1,
            115_200 => 2,
            2_000_000 => 4,
            3_000_000 => 5,
            4_000_000 => 6,
            _ => 3,
        },
        Protocol::Feetech => match baud {
            500_000 => 1,
            250_000 => 2,
            128_000 => 3,
            115_200 => 4,
            _ => 0,
        },
    }
}

impl ServoBusEmulator {
    /// Creates a pty pair, links its slave side at `link`, and serves the
    /// servos until stopped. An old symlink at `link` (from an emulator that
    /// died) is replaced; any other file there is an error.
    pub fn start(
        protocol: Protocol,
        link: &Path,
        baud: u32,
        servos: &[EmulatedServo],
    ) -> std::io::Result<Self> {
        let (master, slave) = TTYPort::pair().map_err(std::io::Error::other)?;
        let slave_name = slave
            .name()
            .ok_or_else(|| std::io::Error::other("pty has no name"))?;
        match std::fs::symlink_metadata(link) {
            Ok(m) if m.file_type().is_symlink() => std::fs::remove_file(link)?,
            Ok(_) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    format!(
                        "{} exists and is not an emulator link; remove it or change the rig's port",
                        link.display()
                    ),
                ))
            }
            Err(_) => {}
        }
        std::os::unix::fs::symlink(&slave_name, link)?;
        let faults = Arc::new(BusFaults::default());
        let stats = Arc::new(BusEmulatorStats::default());
        let code = baud_code(protocol, baud);
        let bus = Bus {
            protocol,
            baud,
            servos: servos
                .iter()
                .map(|s| Servo::new(s, protocol, code))
                .collect(),
            stats: stats.clone(),
        };
        let mut threads = DeviceThreads::default();
        let thread_faults = faults.clone();
        threads.spawn(format!("emu-bus {}", link.display()), move |stop| {
            serve(master, slave, bus, stop, &thread_faults);
        })?;
        Ok(Self {
            link: link.to_path_buf(),
            threads,
            faults,
            stats,
        })
    }

    /// The path drivers open.
    pub fn link(&self) -> &Path {
        &self.link
    }

    /// Fault switches.
    pub fn faults(&self) -> &BusFaults {
        &self.faults
    }

    /// Counters.
    pub fn stats(&self) -> &BusEmulatorStats {
        &self.stats
    }

    /// Stops serving, closes the pty (drivers see the device vanish) and
    /// removes the link.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for ServoBusEmulator {
    fn drop(&mut self) {
        self.threads.stop();
        let _ = std::fs::remove_file(&self.link);
    }
}

fn serve(mut master: TTYPort, slave: TTYPort, mut bus: Bus, stop: &AtomicBool, faults: &BusFaults) {
    // Holding the slave open keeps the master readable while no driver is
    // connected (otherwise reads fail with EIO between driver sessions).
    let _slave = slave;
    crate::realtime::make_current_thread_realtime(crate::realtime::EMULATOR_PRIORITY);
    let _ = master.set_timeout(Duration::from_millis(20));
    let mut decoder = RequestDecoder::new(bus.protocol);
    let mut buf = [0u8; 1024];
    let mut replies_sent: u32 = 0;
    while !stop.load(Ordering::Relaxed) {
        let n = match master.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
            Err(_) => {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
        };
        let arrived = host_now_nanos();
        let mut requests: Vec<(usize, Option<Reply>)> = Vec::new();
        decoder.push(&buf[..n]);
        while let Some(next) = decoder.next() {
            match next {
                Ok((len, id, request)) => {
                    bus.stats.requests.fetch_add(1, Ordering::Relaxed);
                    // Servos latch their registers when the instruction ends on the wire.
                    bus.refresh_all(arrived + wire_time(len, bus.baud).as_nanos() as u64);
                    requests.push((len, bus.handle(id, request)));
                }
                Err(()) => {
                    bus.stats.bad_requests.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        for (request_len, reply) in requests {
            let Some(reply) = reply else { continue };
            if faults.mute.load(Ordering::Relaxed) {
                continue;
            }
            // The request's own wire time, then the servos' return delays
            // and the reply's wire time, as on a real half-duplex bus.
            let wait = wire_time(request_len + reply.bytes.len(), bus.baud) + reply.delay;
            let due = arrived + wait.as_nanos() as u64;
            let now = host_now_nanos();
            if due > now {
                std::thread::sleep(Duration::from_nanos(due - now));
            }
            let mut bytes = reply.bytes;
            replies_sent = replies_sent.wrapping_add(1);
            let one_in = |n: u32| n != 0 && replies_sent.is_multiple_of(n);
            if one_in(faults.corrupt_one_in.load(Ordering::Relaxed)) {
                let at = bytes.len() / 2;
                bytes[at] ^= 0x5A;
                bus.stats.faults_injected.fetch_add(1, Ordering::Relaxed);
            } else if one_in(faults.truncate_one_in.load(Ordering::Relaxed)) {
                bytes.truncate(bytes.len() / 2);
                bus.stats.faults_injected.fetch_add(1, Ordering::Relaxed);
            }
            if master.write_all(&bytes).is_ok() {
                bus.stats.replies.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
