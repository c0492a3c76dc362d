//! Uploaded sheets (CSV, or .xlsx by content) as the importers read them: reading never
//! panics and keeps to the row limit.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nplusx::modules::inventory::sheet::MATERIAL_COLUMNS;

fuzz_target!(|data: &[u8]| {
    if let Ok(rows) =
        nplusx::web::export::read_table(data, MATERIAL_COLUMNS, "inventory.io", "code", 100)
    {
        assert!(rows.len() <= 100);
    }
});
