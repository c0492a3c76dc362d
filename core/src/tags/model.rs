//! Tags (位号), their values and the devices that deliver them.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// What a tag holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DataType {
    Bool,
    Int,
    Float,
    String,
}

/// A value as it travels through the engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
    #[schema(value_type = String)]
    Text(Arc<str>),
}

impl Value {
    /// The numeric view used by the historian, alarms and trends (bool → 0/1).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Bool(b) => Some(*b as u8 as f64),
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Text(_) => None,
        }
    }
}

/// Why a value is not good. Stable codes: they are stored, exported and translated
/// (`tags.reason.<code>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// No value received yet since start.
    NotYetRead,
    /// The device does not answer or the connection is down.
    CommFailure,
    /// The device answered with an error (Modbus exception…).
    DeviceError,
    /// The raw value cannot be converted (wrong type, NaN, unparsable payload).
    BadValue,
    /// Outside the tag's instrument range.
    OutOfRange,
    /// The tag's configuration cannot be served (address out of range, unknown signal).
    ConfigError,
    /// Value not refreshed for longer than expected.
    Stale,
    /// The source device is switched off.
    DeviceDisabled,
}

/// OPC-style quality of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "q", content = "reason", rename_all = "snake_case")]
pub enum Quality {
    Good,
    Uncertain(Reason),
    Bad(Reason),
}

impl Quality {
    pub fn is_good(self) -> bool {
        self == Quality::Good
    }
}

/// One timestamped value of one tag. `tag` is the numeric handle (`Tag::id`). A bad sample
/// may carry no value (the device is gone) or the last raw reading (it is out of range).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub tag: u32,
    pub ts_ms: i64,
    pub value: Option<Value>,
    pub quality: Quality,
}

/// The latest known value of a tag.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Current {
    pub value: Option<Value>,
    pub quality: Quality,
    /// Unix ms of the value (or of the quality change when there is no value).
    pub ts_ms: i64,
}

/// Linear raw → engineering conversion: `eng = eng_lo + (raw - raw_lo) * (eng_hi - eng_lo) / (raw_hi - raw_lo)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Scaling {
    pub raw_lo: f64,
    pub raw_hi: f64,
    pub eng_lo: f64,
    pub eng_hi: f64,
}

impl Scaling {
    pub fn apply(&self, raw: f64) -> f64 {
        self.eng_lo
            + (raw - self.raw_lo) * (self.eng_hi - self.eng_lo) / (self.raw_hi - self.raw_lo)
    }
    pub fn invert(&self, eng: f64) -> f64 {
        self.raw_lo
            + (eng - self.eng_lo) * (self.raw_hi - self.raw_lo) / (self.eng_hi - self.eng_lo)
    }
}

/// Where a tag's value comes from: a device and the address within it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// A signal of the built-in plant simulator (`r101.temperature`…).
    Simulator { device: u32, signal: String },
    /// A Modbus register, coil or input of a Modbus TCP or RTU device.
    Modbus {
        device: u32,
        #[serde(flatten)]
        point: ModbusPoint,
    },
    /// Values published to an MQTT broker (JSON, plain text or Sparkplug B).
    Mqtt {
        device: u32,
        /// JSON / text: the topic (`+` and `#` allowed). Sparkplug B: the edge node or
        /// device, `spBv1.0/<group>/<node>[/<device>]`.
        topic: String,
        #[serde(default)]
        format: PayloadFormat,
        /// JSON: a JSON pointer into the payload (`/data/temp`; empty for the whole
        /// payload). Sparkplug B: the metric name. Text: unused.
        #[serde(default)]
        path: String,
    },
    /// A variable of an OPC UA server, followed through a subscription.
    OpcUa {
        device: u32,
        /// The node, in the standard text form (`ns=2;s=R101.TT101`, `ns=3;i=1042`).
        node_id: String,
    },
    /// Set by hand or by the API only (setpoints, lab values).
    Manual,
}

/// How an MQTT payload carries a value.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PayloadFormat {
    #[default]
    Json,
    /// The payload is the value as text (`23.5`, `true`).
    Text,
    SparkplugB,
}

impl Source {
    pub fn device(&self) -> Option<u32> {
        match self {
            Source::Simulator { device, .. }
            | Source::Modbus { device, .. }
            | Source::Mqtt { device, .. }
            | Source::OpcUa { device, .. } => Some(*device),
            Source::Manual => None,
        }
    }
}

/// The four Modbus data tables.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ModbusArea {
    /// 0x, read/write bits (function 1, 5, 15).
    Coil,
    /// 1x, read-only bits (function 2).
    DiscreteInput,
    /// 3x, read-only registers (function 4).
    InputRegister,
    /// 4x, read/write registers (function 3, 6, 16).
    HoldingRegister,
}

impl ModbusArea {
    pub fn is_bits(self) -> bool {
        matches!(self, ModbusArea::Coil | ModbusArea::DiscreteInput)
    }
    pub fn is_writable(self) -> bool {
        matches!(self, ModbusArea::Coil | ModbusArea::HoldingRegister)
    }
    /// The Modicon prefix digit (`4` for 4x holding registers).
    pub fn prefix(self) -> u32 {
        match self {
            ModbusArea::Coil => 0,
            ModbusArea::DiscreteInput => 1,
            ModbusArea::InputRegister => 3,
            ModbusArea::HoldingRegister => 4,
        }
    }
}

/// How a value is laid out in registers.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RegFormat {
    /// One bit: a coil or discrete input, or `bit` of a register.
    Bit,
    Int16,
    #[default]
    Uint16,
    Int32,
    Uint32,
    Float32,
    Float64,
}

impl RegFormat {
    /// Registers the value spans (bits: one).
    pub fn words(self) -> u16 {
        match self {
            RegFormat::Bit | RegFormat::Int16 | RegFormat::Uint16 => 1,
            RegFormat::Int32 | RegFormat::Uint32 | RegFormat::Float32 => 2,
            RegFormat::Float64 => 4,
        }
    }
}

/// Byte and word order of multi-register values, in the notation of most Modbus tools:
/// `abcd` is big-endian (Modbus standard), `cdab` swaps words (many PLCs), `badc` swaps
/// bytes within words, `dcba` is little-endian. For 64-bit values the same rule applies to
/// four words.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum WordOrder {
    #[default]
    Abcd,
    Cdab,
    Badc,
    Dcba,
}

/// Where a Modbus tag lives in its device.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModbusPoint {
    pub area: ModbusArea,
    /// Protocol address, 0-based (holding register 40001 is address 0).
    pub address: u16,
    #[serde(default)]
    pub format: RegFormat,
    #[serde(default)]
    pub order: WordOrder,
    /// For `bit` on a register: which bit (0 = least significant).
    #[serde(default)]
    pub bit: Option<u8>,
    /// The device's polling group that reads it.
    #[serde(default = "default_group")]
    pub group: String,
}

pub fn default_group() -> String {
    "default".into()
}

/// A tag definition (位号).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Tag {
    /// Numeric handle, stable for the life of the tag (used by the historian and plugins).
    pub id: u32,
    /// Unique name, e.g. `R101.TT01` (letters, digits, `.`, `_`, `-`).
    pub name: String,
    #[serde(default)]
    pub description_zh: String,
    #[serde(default)]
    pub description_en: String,
    #[serde(default)]
    pub unit: String,
    pub data_type: DataType,
    pub source: Source,
    #[serde(default)]
    pub scaling: Option<Scaling>,
    /// Changes smaller than this (engineering units) are not reported to history and
    /// subscribers; 0 reports every change.
    #[serde(default)]
    pub deadband: f64,
    /// Smallest meaningful step (engineering units); the historian stores values rounded to it.
    #[serde(default = "default_resolution")]
    pub resolution: f64,
    /// Instrument range; values outside it are marked uncertain, writes outside it refused.
    #[serde(default)]
    pub range_lo: Option<f64>,
    #[serde(default)]
    pub range_hi: Option<f64>,
    #[serde(default)]
    pub writable: bool,
    /// Plant area (装置/区域), for grouping, access and alarm routing.
    #[serde(default)]
    pub area: String,
    /// Equipment tag it belongs to (`R101`).
    #[serde(default)]
    pub equipment: String,
    /// Days of history kept (0 = no history).
    #[serde(default = "default_retention")]
    pub retention_days: u32,
}

fn default_resolution() -> f64 {
    0.001
}

fn default_retention() -> u32 {
    365
}

impl Tag {
    pub fn in_range(&self, v: f64) -> bool {
        self.range_lo.is_none_or(|lo| v >= lo) && self.range_hi.is_none_or(|hi| v <= hi)
    }
}

/// How a device is reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "driver", rename_all = "snake_case")]
pub enum DriverConfig {
    /// The built-in fine-chemicals plant simulator.
    Simulator {
        /// Seconds between samples.
        #[serde(default = "one")]
        interval_s: f64,
        /// Seed of its noise, so runs can be repeated.
        #[serde(default)]
        seed: u64,
        /// How many times faster than real time batches run (1 = real time).
        #[serde(default = "one")]
        speed: f64,
    },
    /// A Modbus TCP server (PLC, gateway, meter) on the network.
    ModbusTcp {
        host: String,
        #[serde(default = "modbus_port")]
        port: u16,
        /// Unit identifier (slave id); 1 for most devices, 255 for some gateways.
        #[serde(default = "one_u8")]
        unit: u8,
        #[serde(flatten)]
        options: ModbusOptions,
    },
    /// An MQTT broker that gateways and edge devices publish to (subscribed, not written).
    Mqtt {
        host: String,
        #[serde(default = "mqtt_port")]
        port: u16,
        /// TLS with the system's certificate authorities.
        #[serde(default)]
        tls: bool,
        #[serde(default)]
        username: String,
        #[serde(default)]
        password: crate::secrets::Secret,
        /// Empty: `nplusx-<device id>`.
        #[serde(default)]
        client_id: String,
        #[serde(default = "keep_alive_s")]
        keep_alive_s: u16,
    },
    /// A Modbus RTU device on a serial line (RS-485 adapter).
    ModbusRtu {
        /// Serial device, e.g. `/dev/ttyUSB0`.
        path: String,
        #[serde(default = "baud")]
        baud: u32,
        #[serde(default)]
        parity: Parity,
        #[serde(default = "one_u8")]
        stop_bits: u8,
        #[serde(default = "one_u8")]
        unit: u8,
        #[serde(flatten)]
        options: ModbusOptions,
    },
    /// An OPC UA server (PLC, DCS, SCADA or gateway); values come by subscription.
    OpcUa {
        /// `opc.tcp://host:4840[/path]` as this box reaches the server (the address the
        /// server advertises is not used: behind NAT or a gateway it is often wrong).
        endpoint: String,
        #[serde(default)]
        security: UaSecurity,
        /// Empty: anonymous.
        #[serde(default)]
        username: String,
        #[serde(default)]
        password: crate::secrets::Secret,
        /// How often the server samples the nodes and reports changes.
        #[serde(default = "ua_interval_ms")]
        interval_ms: u32,
    },
}

/// OPC UA message security. Signed or encrypted channels use the best policy both sides
/// know (Aes256-Sha256-RsaPss, Basic256Sha256, Aes128-Sha256-RsaOaep) and this box's
/// application certificate, which the server must trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UaSecurity {
    #[default]
    None,
    Sign,
    SignAndEncrypt,
}

fn ua_interval_ms() -> u32 {
    1000
}

/// Serial parity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Parity {
    #[default]
    None,
    Even,
    Odd,
}

/// Polling and request settings common to Modbus TCP and RTU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModbusOptions {
    /// Each request's timeout.
    #[serde(default = "timeout_ms")]
    pub timeout_ms: u32,
    /// Polling groups with their own intervals; tags name theirs (`default` if none).
    #[serde(default = "default_groups")]
    pub groups: Vec<PollGroup>,
    /// Unused registers (or bits) bridged to join two reads into one; 0 never bridges.
    /// None (the default): as many as pay (`drivers::modbus::plan::Bridging`): on TCP up to
    /// the request size limit, on RTU by the line's baud rate.
    #[serde(default)]
    pub max_gap: Option<u16>,
    /// Registers per read, at most 125 (the protocol's limit); some devices take fewer.
    #[serde(default = "max_registers")]
    pub max_registers: u16,
}

impl Default for ModbusOptions {
    fn default() -> Self {
        ModbusOptions {
            timeout_ms: timeout_ms(),
            groups: default_groups(),
            max_gap: None,
            max_registers: max_registers(),
        }
    }
}

/// A set of tags read at one interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PollGroup {
    pub name: String,
    pub interval_ms: u32,
}

fn modbus_port() -> u16 {
    502
}
fn mqtt_port() -> u16 {
    1883
}
fn keep_alive_s() -> u16 {
    30
}
fn one_u8() -> u8 {
    1
}
fn baud() -> u32 {
    9600
}
fn timeout_ms() -> u32 {
    1000
}
fn max_registers() -> u16 {
    125
}
fn default_groups() -> Vec<PollGroup> {
    vec![PollGroup {
        name: default_group(),
        interval_ms: 1000,
    }]
}

fn one() -> f64 {
    1.0
}

/// A device (a PLC, a gateway, the simulator).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Device {
    pub id: u32,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub config: DriverConfig,
    pub enabled: bool,
}

impl Device {
    /// The device as the API and the audit log show it: credentials only as "set".
    pub fn redacted(&self) -> Device {
        let mut d = self.clone();
        if let DriverConfig::Mqtt { password, .. } | DriverConfig::OpcUa { password, .. } =
            &mut d.config
        {
            *password = password.redacted();
        }
        d
    }
}

/// Live counters of a device, for its status page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DeviceStatus {
    pub connected: bool,
    pub requests: u64,
    pub errors: u64,
    /// Mean request latency over the last requests, in ms.
    pub latency_ms: f64,
    pub last_error: Option<String>,
    pub last_error_ms: Option<i64>,
    pub last_ok_ms: Option<i64>,
    pub tags: usize,
    /// Requests one round of polling takes (Modbus: reads after coalescing).
    #[serde(default)]
    pub reads_per_poll: usize,
    /// Topic filters subscribed (MQTT).
    #[serde(default)]
    pub subscriptions: usize,
}
