//! Sparkplug B (Eclipse Tahu `sparkplug_b.proto`, spec 3.0): the payload messages as prost
//! types, and what nplusx needs from them: decoding metrics into numbers and building
//! BIRTH / DATA / DEATH payloads. Only the parts used are declared; prost skips the rest
//! (metadata, property sets, data sets, templates) when decoding.

use prost::Message;

/// Sparkplug's data types (the `DataType` enum of the .proto).
pub mod datatype {
    pub const INT8: u32 = 1;
    pub const INT16: u32 = 2;
    pub const INT32: u32 = 3;
    pub const INT64: u32 = 4;
    pub const UINT8: u32 = 5;
    pub const UINT16: u32 = 6;
    pub const UINT32: u32 = 7;
    pub const UINT64: u32 = 8;
    pub const FLOAT: u32 = 9;
    pub const DOUBLE: u32 = 10;
    pub const BOOLEAN: u32 = 11;
    pub const STRING: u32 = 12;
    pub const DATETIME: u32 = 13;
    pub const TEXT: u32 = 14;
}

#[derive(Clone, PartialEq, Message)]
pub struct Payload {
    #[prost(uint64, optional, tag = "1")]
    pub timestamp: Option<u64>,
    #[prost(message, repeated, tag = "2")]
    pub metrics: Vec<Metric>,
    #[prost(uint64, optional, tag = "3")]
    pub seq: Option<u64>,
    #[prost(string, optional, tag = "4")]
    pub uuid: Option<String>,
    #[prost(bytes = "vec", optional, tag = "5")]
    pub body: Option<Vec<u8>>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Metric {
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    #[prost(uint64, optional, tag = "2")]
    pub alias: Option<u64>,
    #[prost(uint64, optional, tag = "3")]
    pub timestamp: Option<u64>,
    #[prost(uint32, optional, tag = "4")]
    pub datatype: Option<u32>,
    #[prost(bool, optional, tag = "5")]
    pub is_historical: Option<bool>,
    #[prost(bool, optional, tag = "6")]
    pub is_transient: Option<bool>,
    #[prost(bool, optional, tag = "7")]
    pub is_null: Option<bool>,
    #[prost(oneof = "MetricValue", tags = "10, 11, 12, 13, 14, 15, 16")]
    pub value: Option<MetricValue>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum MetricValue {
    #[prost(uint32, tag = "10")]
    Int(u32),
    #[prost(uint64, tag = "11")]
    Long(u64),
    #[prost(float, tag = "12")]
    Float(f32),
    #[prost(double, tag = "13")]
    Double(f64),
    #[prost(bool, tag = "14")]
    Boolean(bool),
    #[prost(string, tag = "15")]
    String(String),
    #[prost(bytes = "vec", tag = "16")]
    Bytes(Vec<u8>),
}

/// A decoded metric value in nplusx terms.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Number(f64),
    Bool(bool),
    Text(String),
    Null,
}

impl Metric {
    /// The value, read according to the metric's data type (signed integers are carried
    /// as two's complement in the unsigned fields). `None` for kinds nplusx does not read.
    pub fn val(&self) -> Option<Val> {
        if self.is_null == Some(true) {
            return Some(Val::Null);
        }
        let dt = self.datatype.unwrap_or(0);
        Some(match self.value.as_ref()? {
            MetricValue::Int(i) => Val::Number(match dt {
                datatype::INT8 => *i as u8 as i8 as f64,
                datatype::INT16 => *i as u16 as i16 as f64,
                datatype::INT32 => *i as i32 as f64,
                _ => *i as f64,
            }),
            MetricValue::Long(l) => Val::Number(match dt {
                datatype::INT64 => *l as i64 as f64,
                _ => *l as f64,
            }),
            MetricValue::Float(f) => Val::Number(*f as f64),
            MetricValue::Double(d) => Val::Number(*d),
            MetricValue::Boolean(b) => Val::Bool(*b),
            MetricValue::String(s) => Val::Text(s.clone()),
            MetricValue::Bytes(_) => return None,
        })
    }
}

/// What a Sparkplug topic says: `spBv1.0/<group>/<type>/<node>[/<device>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    pub group: String,
    pub kind: String,
    pub node: String,
    pub device: Option<String>,
}

impl Topic {
    pub fn parse(t: &str) -> Option<Topic> {
        let mut p = t.split('/');
        if p.next()? != "spBv1.0" {
            return None;
        }
        let (group, kind, node) = (p.next()?, p.next()?, p.next()?);
        let device = p.next().map(str::to_string);
        if p.next().is_some() || group.is_empty() || node.is_empty() {
            return None;
        }
        Some(Topic {
            group: group.into(),
            kind: kind.into(),
            node: node.into(),
            device,
        })
    }

    /// The edge node or device this topic is about: `spBv1.0/<group>/<node>[/<device>]`,
    /// the form tags name their source with.
    pub fn identity(&self) -> String {
        match &self.device {
            Some(d) => format!("spBv1.0/{}/{}/{}", self.group, self.node, d),
            None => format!("spBv1.0/{}/{}", self.group, self.node),
        }
    }
}

/// Whether `s` can be a group, edge node or device id: not empty, at most 64 bytes, no
/// `/`, `+` or `#` (it is a topic level).
pub fn id_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && !s.contains(['/', '+', '#'])
}

/// Decodes a payload; `None` if it is not a valid Sparkplug B protobuf.
pub fn decode(bytes: &[u8]) -> Option<Payload> {
    Payload::decode(bytes).ok()
}

pub fn encode(p: &Payload) -> Vec<u8> {
    p.encode_to_vec()
}

/// A metric for a BIRTH (name, alias, type) or DATA (alias only) message.
pub fn metric(name: Option<&str>, alias: u64, ts_ms: u64, v: &Val, historical: bool) -> Metric {
    let (datatype, value) = match v {
        Val::Number(x) => (datatype::DOUBLE, Some(MetricValue::Double(*x))),
        Val::Bool(b) => (datatype::BOOLEAN, Some(MetricValue::Boolean(*b))),
        Val::Text(s) => (datatype::STRING, Some(MetricValue::String(s.clone()))),
        Val::Null => (datatype::DOUBLE, None),
    };
    Metric {
        name: name.map(str::to_string),
        alias: Some(alias),
        timestamp: Some(ts_ms),
        datatype: Some(datatype),
        is_historical: historical.then_some(true),
        is_transient: None,
        is_null: matches!(v, Val::Null).then_some(true),
        value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_signed_integers_decode() {
        let p = Payload {
            timestamp: Some(1_700_000_000_000),
            metrics: vec![
                metric(Some("Reactor/Temp"), 7, 1, &Val::Number(85.5), false),
                Metric {
                    name: Some("Count".into()),
                    datatype: Some(datatype::INT16),
                    value: Some(MetricValue::Int((-5i16) as u16 as u32)),
                    ..Default::default()
                },
                Metric {
                    name: Some("Big".into()),
                    datatype: Some(datatype::INT64),
                    value: Some(MetricValue::Long((-7i64) as u64)),
                    ..Default::default()
                },
                metric(Some("Run"), 9, 1, &Val::Bool(true), true),
                metric(Some("Gone"), 10, 1, &Val::Null, false),
            ],
            seq: Some(3),
            ..Default::default()
        };
        let back = decode(&encode(&p)).unwrap();
        assert_eq!(back, p);
        let vals: Vec<Option<Val>> = back.metrics.iter().map(Metric::val).collect();
        assert_eq!(
            vals,
            [
                Some(Val::Number(85.5)),
                Some(Val::Number(-5.0)),
                Some(Val::Number(-7.0)),
                Some(Val::Bool(true)),
                Some(Val::Null)
            ]
        );
        assert!(decode(b"\xff\xff\xff garbage").is_none());
    }

    #[test]
    fn topics_name_a_node_or_device() {
        let t = Topic::parse("spBv1.0/Plant/DDATA/Edge1/PLC7").unwrap();
        assert_eq!(t.identity(), "spBv1.0/Plant/Edge1/PLC7");
        assert_eq!(
            Topic::parse("spBv1.0/Plant/NBIRTH/Edge1")
                .unwrap()
                .identity(),
            "spBv1.0/Plant/Edge1"
        );
        assert!(Topic::parse("plant/line1/temp").is_none());
        assert!(Topic::parse("spBv1.0/Plant/DDATA/Edge1/PLC7/extra").is_none());
    }
}
