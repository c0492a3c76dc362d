//! What the records' codes mean, for readers: a pivot's group keys in their language
//! (`raw` → 原料, `hot_work` → 动火作业). Codes without a name here show as they are.

use nplusx_sdk::Lang;

/// The reader's name for `code` of `field` (the field a pivot groups by).
pub fn label(field: &str, code: &str, lang: Lang) -> Option<&'static str> {
    let (zh, en) = match (field, code) {
        ("category", "raw") => ("原料", "raw material"),
        ("category", "auxiliary") => ("辅料", "auxiliary"),
        ("category", "intermediate") => ("中间体", "intermediate"),
        ("category", "product") => ("成品", "product"),
        ("category", "packaging") => ("包装材料", "packaging"),
        ("category", "spare") => ("备品备件", "spare part"),
        ("category", "other") => ("其他", "other"),
        ("kind", "receipt") => ("入库", "receipt"),
        ("kind", "issue") => ("领用出库", "issue"),
        ("kind", "return") => ("退料入库", "return"),
        ("kind", "transfer") => ("移库", "transfer"),
        ("kind", "adjust") => ("调整", "adjustment"),
        ("kind", "count") => ("盘点结果", "count"),
        ("kind", "scrap") => ("报废", "scrap"),
        ("kind", "delivery") => ("销售发货", "delivery"),
        ("work", "hot_work") => ("动火作业", "hot work"),
        ("work", "confined_space") => ("受限空间作业", "confined space"),
        ("work", "blinding") => ("盲板抽堵作业", "blinding"),
        ("work", "height") => ("高处作业", "work at height"),
        ("work", "lifting") => ("吊装作业", "lifting"),
        ("work", "temporary_power") => ("临时用电作业", "temporary power"),
        ("work", "excavation") => ("动土作业", "excavation"),
        ("work", "road_break") => ("断路作业", "road break"),
        ("verdict", "pass") => ("合格", "pass"),
        ("verdict", "fail") => ("不合格", "fail"),
        ("verdict", "pending") => ("待判定", "pending"),
        ("priority", "urgent") => ("紧急", "urgent"),
        ("priority", "high") => ("高", "high"),
        ("priority", "medium") => ("中", "medium"),
        ("priority", "low") => ("低", "low"),
        ("event", "raised") => ("产生", "raised"),
        ("event", "returned") => ("恢复", "returned"),
        ("event", "acked") => ("确认", "acknowledged"),
        ("event", "cleared") => ("清除", "cleared"),
        ("event", "shelved") => ("搁置", "shelved"),
        ("event", "unshelved") => ("取消搁置", "unshelved"),
        _ => return None,
    };
    Some(lang.pick(zh, en))
}

/// A group key's part for readers: the code's name where it has one, else the code.
pub fn part(dim: &str, code: &str, lang: Lang) -> String {
    // a time's day or month is shown as it is
    let field = dim.split(':').next().unwrap_or(dim).trim();
    label(field, code, lang).map_or_else(|| code.to_string(), String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_in_the_readers_language() {
        assert_eq!(part("category", "raw", Lang::Zh), "原料");
        assert_eq!(part("work", "hot_work", Lang::En), "hot work");
        assert_eq!(part("ts_ms:month", "2026-12", Lang::Zh), "2026-12");
        assert_eq!(part("material", "RM-TOL", Lang::Zh), "RM-TOL");
    }
}
