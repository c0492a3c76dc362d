//! What the records' codes mean, in the reader's language. Codes without a name here show as
//! they are.

use nplusx_sdk::Lang;

/// A permit's work type (`hot_work` → 动火).
pub fn work(code: &str, lang: Lang) -> String {
    let (zh, en) = match code {
        "hot_work" => ("动火", "hot work"),
        "confined_space" => ("受限空间", "confined space"),
        "blinding" => ("盲板抽堵", "blinding"),
        "height" => ("高处", "height"),
        "lifting" => ("吊装", "lifting"),
        "temporary_power" => ("临时用电", "temporary power"),
        "excavation" => ("动土", "excavation"),
        "road_break" => ("断路", "road break"),
        other => return other.to_string(),
    };
    lang.pick(zh, en).to_string()
}

/// Equipment status (`running` → 运行).
pub fn status(code: &str, lang: Lang) -> String {
    let (zh, en) = match code {
        "running" => ("运行", "running"),
        "standby" => ("备用", "standby"),
        "maintenance" => ("检修", "maintenance"),
        "stopped" => ("停用", "stopped"),
        "scrapped" => ("报废", "scrapped"),
        other => return other.to_string(),
    };
    lang.pick(zh, en).to_string()
}

/// An alarm priority.
pub fn priority(code: &str, lang: Lang) -> String {
    let (zh, en) = match code {
        "urgent" => ("紧急", "urgent"),
        "high" => ("高", "high"),
        "medium" => ("中", "medium"),
        "low" => ("低", "low"),
        other => return other.to_string(),
    };
    lang.pick(zh, en).to_string()
}

/// An alarm state (ISA-18.2).
pub fn alarm_state(code: &str, lang: Lang) -> String {
    let (zh, en) = match code {
        "unack" => ("未确认", "unacknowledged"),
        "ack" => ("已确认", "acknowledged"),
        "rtn_unack" => ("已恢复未确认", "returned, unacknowledged"),
        "latched" => ("锁定", "latched"),
        other => return other.to_string(),
    };
    lang.pick(zh, en).to_string()
}

/// A person's kind.
pub fn person(code: Option<&str>, lang: Lang) -> String {
    let (zh, en) = match code {
        Some("employee") => ("员工", "employee"),
        Some("contractor") => ("承包商", "contractor"),
        Some("visitor") => ("访客", "visitor"),
        Some(other) => return other.to_string(),
        None => return String::new(),
    };
    lang.pick(zh, en).to_string()
}
