//! Schema versions and their migrations.
//!
//! The store records the schema version it is at (`store.meta` key `schema_version`). On
//! open, every migration above it runs in order, each in its own audited transaction. A
//! store from a newer binary (version above the last migration) is refused, never touched.
//!
//! Adding a field to a record does **not** need a migration (records are CBOR with serde
//! defaults). Migrations are for changes of meaning: a renamed table, a split record, a new
//! invariant over existing data. Each one gets a test that builds the old shape and checks
//! the new one.

use super::{Actor, Change, Result, Store, StoreError, WriteTx, meta_get, meta_put};

pub(crate) const VERSION_KEY: &str = "schema_version";

/// One step from `version - 1` to `version`.
pub struct Migration {
    pub version: u64,
    pub name: &'static str,
    pub run: fn(&mut WriteTx) -> Result<()>,
}

/// The migrations of this binary, in order. Never edit a released one; add a new one.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "create store",
        run: create_store,
    },
    Migration {
        version: 2,
        name: "safety permits: toxic gases as lists",
        run: crate::modules::safety::permits::service::migrate_toxic_lists,
    },
    Migration {
        version: 3,
        name: "modbus devices: automatic gap bridging",
        run: crate::tags::service::migrate_auto_bridging,
    },
];

/// The schema version this binary writes.
pub fn current_version() -> u64 {
    MIGRATIONS.last().map(|m| m.version).unwrap_or(0)
}

fn create_store(w: &mut WriteTx) -> Result<()> {
    let mut id = [0u8; 16];
    crate::util::fill_random(&mut id);
    meta_put(w, "store_id", &hex::encode(id))?;
    meta_put(w, "created_ms", &crate::util::now_ms())?;
    Ok(())
}

/// Folder inside the data dir where the copy made before an upgrade is kept.
pub const PRE_UPGRADE_DIR: &str = "pre-upgrade";

pub(crate) fn run(store: &Store, migrations: &[Migration]) -> Result<()> {
    let supported = migrations.last().map(|m| m.version).unwrap_or(0);
    let found: u64 = meta_get(&store.read()?, VERSION_KEY)?.unwrap_or(0);
    if found > supported {
        return Err(StoreError::TooNew { found, supported });
    }
    let pending: Vec<&Migration> = migrations.iter().filter(|m| m.version > found).collect();
    if pending.is_empty() {
        return Ok(());
    }
    // An existing store is copied before anything changes it: the copy is what the previous
    // binary restores if the new one is rolled back after running for a while.
    let backup = if found > 0 {
        Some(pre_upgrade_backup(store, found)?)
    } else {
        None
    };
    // All pending migrations in one transaction: a failure anywhere leaves the store exactly
    // as the previous binary left it, never half-way between two schemas.
    let mut w = store.write(&Actor::system("migration"))?;
    for m in &pending {
        (m.run)(&mut w).map_err(|e| StoreError::Migration {
            version: m.version,
            name: m.name,
            detail: e.to_string(),
            found,
            backup: backup.clone(),
        })?;
        meta_put(&mut w, VERSION_KEY, &m.version)?;
        w.audit(
            "store.migrate",
            format!("schema:{}", m.version),
            Change::updated(
                serde_json::json!({ "schema_version": m.version - 1 }),
                serde_json::json!({ "schema_version": m.version, "migration": m.name }),
            ),
        );
    }
    w.commit()?;
    for m in &pending {
        tracing::info!(version = m.version, name = m.name, "store migrated");
    }
    if let Some(b) = &backup {
        tracing::warn!(from = found, to = supported, backup = %b.display(), "store upgraded; the copy made before the upgrade is kept (delete it once the new version has proven itself)");
    }
    Ok(())
}

/// Writes `<data dir>/pre-upgrade/schema-<found>-<ms>.nplusx-backup`: the store as it is,
/// in the backup format the previous binary restores (`nplusx restore --force <file>`).
fn pre_upgrade_backup(store: &Store, found: u64) -> Result<std::path::PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let data_dir = store.path().parent().unwrap_or(std::path::Path::new("."));
    let dir = data_dir.join(PRE_UPGRADE_DIR);
    let fail = |detail: String| StoreError::UpgradeBackup {
        path: dir.clone(),
        detail,
    };
    if !dir.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| fail(e.to_string()))?;
    }
    let dest = dir.join(format!(
        "schema-{found}-{}.nplusx-backup",
        crate::util::now_ms()
    ));
    let s = super::backup::backup(store, &dest, &[]).map_err(|e| fail(e.to_string()))?;
    tracing::info!(path = %dest.display(), records = s.records, bytes = s.bytes, "copied the store before upgrading it");
    Ok(dest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Reader, Table};

    // A realistic two-step history: v2 splits a "name" field into family and given names.
    #[derive(serde::Serialize, serde::Deserialize)]
    struct PersonV1 {
        name: String,
    }
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct PersonV2 {
        family: String,
        given: String,
    }
    const PEOPLE_V1: Table<u64, PersonV1> = Table::new("test.people");
    const PEOPLE_V2: Table<u64, PersonV2> = Table::new("test.people");

    fn seed(w: &mut WriteTx) -> Result<()> {
        create_store(w)?;
        w.insert(
            &PEOPLE_V1,
            &1,
            &PersonV1 {
                name: "王 伟".into(),
            },
        )
    }
    fn split_names(w: &mut WriteTx) -> Result<()> {
        for (k, p) in w.all(&PEOPLE_V1)? {
            let (family, given) = p.name.split_once(' ').unwrap_or((&p.name, ""));
            let v2 = PersonV2 {
                family: family.into(),
                given: given.into(),
            };
            w.insert(&PEOPLE_V2, &k, &v2)?;
        }
        Ok(())
    }
    const V1: &[Migration] = &[Migration {
        version: 1,
        name: "seed",
        run: seed,
    }];
    const V2: &[Migration] = &[
        Migration {
            version: 1,
            name: "seed",
            run: seed,
        },
        Migration {
            version: 2,
            name: "split names",
            run: split_names,
        },
    ];

    #[test]
    fn migrates_old_store_forward_once() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open_with(dir.path(), V1).unwrap());
        let s = Store::open_with(dir.path(), V2).unwrap();
        assert_eq!(s.schema_version().unwrap(), 2);
        let p = s.read().unwrap().get(&PEOPLE_V2, &1).unwrap().unwrap();
        assert_eq!(
            p,
            PersonV2 {
                family: "王".into(),
                given: "伟".into()
            }
        );
        drop(s);
        // reopening does not run anything again
        let s = Store::open_with(dir.path(), V2).unwrap();
        let v = crate::store::audit::verify(&s).unwrap();
        assert_eq!(v.entries, 2, "one audit entry per migration");
        assert_eq!(v.problem, None);
    }

    #[test]
    fn newer_store_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open_with(dir.path(), V2).unwrap());
        match Store::open_with(dir.path(), V1) {
            Err(StoreError::TooNew { found, supported }) => {
                assert_eq!((found, supported), (2, 1))
            }
            other => panic!("expected TooNew, got {:?}", other.map(|_| ())),
        }
        // nothing was written: same version, same audit chain
        let s = Store::open_with(dir.path(), V2).unwrap();
        assert_eq!(s.schema_version().unwrap(), 2);
        assert_eq!(crate::store::audit::verify(&s).unwrap().entries, 2);
    }

    #[test]
    fn failed_migration_leaves_old_version() {
        fn boom(_: &mut WriteTx) -> Result<()> {
            Err(StoreError::Db("disk on fire".into()))
        }
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open_with(dir.path(), V1).unwrap());
        let bad = &[
            Migration {
                version: 1,
                name: "seed",
                run: seed,
            },
            Migration {
                version: 2,
                name: "split names",
                run: split_names,
            },
            Migration {
                version: 3,
                name: "boom",
                run: boom,
            },
        ];
        let err = Store::open_with(dir.path(), bad).err().expect("must fail");
        assert!(
            err.to_string().contains("migration 3 (boom) failed"),
            "{err}"
        );
        let StoreError::Migration { found, backup, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(*found, 1);
        let backup = backup.clone().expect("a copy before the upgrade");
        assert!(backup.starts_with(dir.path().join(PRE_UPGRADE_DIR)));
        let copy = crate::store::backup::verify_file(&backup).unwrap();
        assert_eq!(copy.schema_version, 1);
        // all or nothing: migration 2 ran before the failure and is not kept either
        let s = Store::open_with(dir.path(), V1).unwrap();
        assert_eq!(s.schema_version().unwrap(), 1);
        let p = s.read().unwrap().get(&PEOPLE_V1, &1).unwrap().unwrap();
        assert_eq!(p.name, "王 伟");
        assert_eq!(crate::store::audit::verify(&s).unwrap().entries, 1);
    }

    /// The stores of tests/e2e/upgrade.rs, made by the migrations of their schema and the
    /// services' own writes (never by hand): `store-schema-2.redb.gz`, as schema 2 left a
    /// plant with two Modbus devices and an admin, and `store-schema-future.redb.gz`, from a
    /// version far ahead. Regenerate with
    /// `NPLUSX_WRITE_FIXTURES=1 cargo test --lib store::migrate::tests::upgrade_fixtures`;
    /// without it, the test checks the kept files are what they claim to be.
    #[test]
    fn upgrade_fixtures() {
        use crate::tags::model::{Device, DriverConfig, ModbusOptions, Parity};
        use std::io::{Read, Write};
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
        let write = std::env::var_os("NPLUSX_WRITE_FIXTURES").is_some();
        let gz = |dir: &std::path::Path| {
            let raw = std::fs::read(dir.join(crate::store::DB_FILE)).unwrap();
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            e.write_all(&raw).unwrap();
            e.finish().unwrap()
        };
        let unpack = |name: &str| {
            let dir = tempfile::tempdir().unwrap();
            let mut raw = Vec::new();
            flate2::read::GzDecoder::new(std::fs::File::open(fixtures.join(name)).unwrap())
                .read_to_end(&mut raw)
                .unwrap();
            std::fs::write(dir.path().join(crate::store::DB_FILE), raw).unwrap();
            dir
        };
        if write {
            // schema 2: the Modbus devices still carry the fixed gap of 32 of that time
            let dir = tempfile::tempdir().unwrap();
            let s = Store::open_with(dir.path(), &MIGRATIONS[..2]).unwrap();
            let setup = Actor::system("setup");
            crate::auth::service::create_user(
                &s,
                &setup,
                crate::auth::service::NewUser {
                    username: "admin".into(),
                    display_name: "管理员".into(),
                    password: "Upgrade-fixture-2".into(),
                    roles: vec!["admin".into()],
                    must_change_password: false,
                    ..Default::default()
                },
            )
            .unwrap();
            let gap = |max_gap| ModbusOptions {
                max_gap,
                ..Default::default()
            };
            for (name, config) in [
                (
                    "PLC-1",
                    DriverConfig::ModbusTcp {
                        host: "192.168.10.21".into(),
                        port: 502,
                        unit: 1,
                        options: gap(Some(32)),
                    },
                ),
                (
                    "RTU-1",
                    DriverConfig::ModbusRtu {
                        path: "/dev/ttyUSB0".into(),
                        baud: 9600,
                        parity: Parity::Even,
                        stop_bits: 1,
                        unit: 3,
                        options: gap(Some(8)),
                    },
                ),
            ] {
                crate::tags::service::create_device(
                    &s,
                    &setup,
                    Device {
                        id: 0,
                        name: name.into(),
                        description: String::new(),
                        config,
                        enabled: false,
                    },
                )
                .unwrap();
            }
            drop(s);
            std::fs::create_dir_all(&fixtures).unwrap();
            std::fs::write(fixtures.join("store-schema-2.redb.gz"), gz(dir.path())).unwrap();
            // a store from a version far ahead: this schema's migrations and one of its own
            fn later(_: &mut WriteTx) -> Result<()> {
                Ok(())
            }
            let mut ahead: Vec<Migration> = MIGRATIONS
                .iter()
                .map(|m| Migration {
                    version: m.version,
                    name: m.name,
                    run: m.run,
                })
                .collect();
            ahead.push(Migration {
                version: 100,
                name: "a later version",
                run: later,
            });
            let dir = tempfile::tempdir().unwrap();
            drop(Store::open_with(dir.path(), &ahead).unwrap());
            std::fs::write(fixtures.join("store-schema-future.redb.gz"), gz(dir.path())).unwrap();
        }
        // what the kept files hold
        let old = unpack("store-schema-2.redb.gz");
        let s = Store::open_with(old.path(), &MIGRATIONS[..2]).unwrap();
        assert_eq!(s.schema_version().unwrap(), 2);
        let devices = crate::tags::service::devices(&s.read().unwrap()).unwrap();
        assert_eq!(devices.len(), 2);
        drop(s);
        let future = unpack("store-schema-future.redb.gz");
        match Store::open(future.path()) {
            Err(StoreError::TooNew { found, supported }) => {
                assert!(
                    found > supported,
                    "regenerate the fixture: {found} ≤ {supported}"
                )
            }
            other => panic!("expected TooNew, got {:?}", other.map(|_| ())),
        }
    }
}
