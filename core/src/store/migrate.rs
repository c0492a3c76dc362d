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

pub(crate) fn run(store: &Store, migrations: &[Migration]) -> Result<()> {
    let supported = migrations.last().map(|m| m.version).unwrap_or(0);
    let found: u64 = meta_get(&store.read()?, VERSION_KEY)?.unwrap_or(0);
    if found > supported {
        return Err(StoreError::TooNew { found, supported });
    }
    for m in migrations.iter().filter(|m| m.version > found) {
        let mut w = store.write(&Actor::system("migration"))?;
        (m.run)(&mut w).map_err(|e| StoreError::Migration {
            version: m.version,
            name: m.name,
            detail: e.to_string(),
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
        w.commit()?;
        tracing::info!(version = m.version, name = m.name, "store migrated");
    }
    Ok(())
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
                name: "boom",
                run: boom,
            },
        ];
        let err = Store::open_with(dir.path(), bad).err().expect("must fail");
        assert!(
            err.to_string().contains("migration 2 (boom) failed"),
            "{err}"
        );
        let s = Store::open_with(dir.path(), V1).unwrap();
        assert_eq!(s.schema_version().unwrap(), 1);
    }
}
