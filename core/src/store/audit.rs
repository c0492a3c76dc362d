//! The audit log (`audit.log`): who changed what, when, with a before/after summary.
//!
//! Entries are appended by [`super::WriteTx::commit`] in the same redb transaction as the
//! change they describe, so a change without its entry (or the reverse) cannot exist.
//! Each stored value is `prev hash (32) ‖ hash (32) ‖ body (CBOR)` with
//! `hash = SHA-256(prev ‖ body)`; the body carries its own sequence number. The newest
//! `(seq, hash)` is also kept in `store.meta` as the chain head, so [`verify`] detects an
//! edited entry (hash mismatch), a deleted or reordered one (sequence gap, broken link) and
//! a truncated tail (head mismatch). Someone able to rewrite the whole file can still forge
//! a consistent chain; anchoring the head outside the box (northbound) is what closes that.

use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Order, Reader, Result, Store, StoreError, Table, WriteTx, meta_get, meta_put};
use crate::util::now_ms;

/// Raw view of the log: key = sequence number, value = envelope bytes.
pub(crate) const LOG: Table<u64, Vec<u8>> = Table::new("audit.log");
const HEAD_KEY: &str = "audit.head";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    User,
    Token,
    System,
    Anonymous,
}

/// Who performs a write: a signed-in user, an API token, the system itself (CLI, migrations,
/// background jobs) or an anonymous client (failed logins).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub ip: Option<String>,
    /// The plugin a person acted through (`plugin:<id>`): a plugin's action while it
    /// answered their form or button.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

impl Actor {
    pub fn system(name: &str) -> Actor {
        Actor {
            kind: ActorKind::System,
            id: 0,
            name: name.to_string(),
            ip: None,
            via: None,
        }
    }
    pub fn user(id: u64, name: &str, ip: Option<String>) -> Actor {
        Actor {
            kind: ActorKind::User,
            id,
            name: name.to_string(),
            ip,
            via: None,
        }
    }
    pub fn token(id: u64, name: &str, ip: Option<String>) -> Actor {
        Actor {
            kind: ActorKind::Token,
            id,
            name: name.to_string(),
            ip,
            via: None,
        }
    }
    pub fn anonymous(ip: Option<String>) -> Actor {
        Actor {
            kind: ActorKind::Anonymous,
            id: 0,
            name: String::new(),
            ip,
            via: None,
        }
    }
    /// The same person acting through plugin `id`.
    pub fn via_plugin(mut self, id: &str) -> Actor {
        self.via = Some(format!("plugin:{id}"));
        self
    }
    /// How the actor is shown in lists and exports: `user:wangwei`, `token:gate-1`, `system:cli`
    /// (`user:wangwei via plugin:warehouse` for a person acting through a plugin).
    pub fn label(&self) -> String {
        match &self.via {
            Some(v) => format!("{} via {v}", self.plain_label()),
            None => self.plain_label(),
        }
    }
    fn plain_label(&self) -> String {
        match self.kind {
            ActorKind::User => format!("user:{}", self.name),
            ActorKind::Token => format!("token:{}", self.name),
            ActorKind::System => format!("system:{}", self.name),
            ActorKind::Anonymous => "anonymous".to_string(),
        }
    }
}

/// Before/after summary of a change. Services put the fields a reviewer needs, never secrets.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Change {
    #[serde(default)]
    pub before: Option<serde_json::Value>,
    #[serde(default)]
    pub after: Option<serde_json::Value>,
}

impl Change {
    pub fn none() -> Change {
        Change::default()
    }
    pub fn created(after: impl Serialize) -> Change {
        Change {
            before: None,
            after: serde_json::to_value(after).ok(),
        }
    }
    pub fn updated(before: impl Serialize, after: impl Serialize) -> Change {
        Change {
            before: serde_json::to_value(before).ok(),
            after: serde_json::to_value(after).ok(),
        }
    }
    pub fn deleted(before: impl Serialize) -> Change {
        Change {
            before: serde_json::to_value(before).ok(),
            after: None,
        }
    }
}

pub(crate) struct Pending {
    pub action: String,
    pub target: String,
    pub change: Change,
}

/// One audit entry as read back.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Entry {
    pub seq: u64,
    /// Unix time in milliseconds.
    pub at_ms: i64,
    #[schema(value_type = Object)]
    pub actor: Actor,
    pub action: String,
    pub target: String,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
}

#[derive(Serialize, Deserialize)]
struct Head {
    seq: u64,
    hash: String,
}

fn chain_hash(prev: &[u8; 32], body: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(body);
    h.finalize().into()
}

fn split(raw: &[u8]) -> Option<([u8; 32], [u8; 32], &[u8])> {
    if raw.len() < 64 {
        return None;
    }
    let prev: [u8; 32] = raw[..32].try_into().ok()?;
    let hash: [u8; 32] = raw[32..64].try_into().ok()?;
    Some((prev, hash, &raw[64..]))
}

pub(crate) fn append(w: &mut WriteTx, pending: Vec<Pending>) -> Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    let head: Option<Head> = meta_get(w, HEAD_KEY)?;
    let (mut seq, mut prev) = match head {
        Some(h) => {
            let mut p = [0u8; 32];
            hex::decode_to_slice(&h.hash, &mut p).map_err(|e| StoreError::Decode {
                table: "store.meta",
                detail: format!("audit head: {e}"),
            })?;
            (h.seq, p)
        }
        None => (0, [0u8; 32]),
    };
    let at_ms = w.clock_ms.unwrap_or_else(now_ms);
    let mut tab = w.tx.open_table(LOG.raw())?;
    for p in pending {
        seq += 1;
        let entry = Entry {
            seq,
            at_ms,
            actor: w.actor.clone(),
            action: p.action,
            target: p.target,
            before: p.change.before,
            after: p.change.after,
        };
        let body = super::encode(LOG.name, &entry)?;
        let hash = chain_hash(&prev, &body);
        let mut value = Vec::with_capacity(64 + body.len());
        value.extend_from_slice(&prev);
        value.extend_from_slice(&hash);
        value.extend_from_slice(&body);
        tab.insert(seq.to_be_bytes().as_slice(), value.as_slice())?;
        prev = hash;
    }
    drop(tab);
    meta_put(
        w,
        HEAD_KEY,
        &Head {
            seq,
            hash: hex::encode(prev),
        },
    )
}

/// Sequence number of the newest entry (0 when the log is empty).
pub fn head_seq(store: &Store) -> Result<u64> {
    let h: Option<Head> = meta_get(&store.read()?, HEAD_KEY)?;
    Ok(h.map(|h| h.seq).unwrap_or(0))
}

/// What `verify` found wrong, naming the entry so an auditor can look at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The entry's bytes no longer match its hash: it was edited.
    Altered { seq: u64 },
    /// The entry cannot be decoded at all.
    Unreadable { seq: u64 },
    /// Entries are missing between two sequence numbers.
    Gap { after: u64, next: u64 },
    /// The entry does not link to the hash of the one before it.
    BrokenLink { seq: u64 },
    /// The chain ends before (or after) the recorded head: entries were removed at the end.
    HeadMismatch { head: u64, last: u64 },
}

impl Problem {
    /// The finding, for people (console, API, CLI).
    pub fn msg(&self) -> crate::i18n::Msg {
        use crate::i18n::Msg;
        match self {
            Problem::Altered { seq } => Msg::new("audit.problem.altered").arg("seq", seq),
            Problem::Unreadable { seq } => Msg::new("audit.problem.unreadable").arg("seq", seq),
            Problem::Gap { after, next } => Msg::new("audit.problem.gap")
                .arg("after", after)
                .arg("next", next),
            Problem::BrokenLink { seq } => Msg::new("audit.problem.broken_link").arg("seq", seq),
            Problem::HeadMismatch { head, last } => Msg::new("audit.problem.head")
                .arg("head", head)
                .arg("last", last),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg().render(crate::i18n::Lang::En))
    }
}

/// Result of walking the whole chain.
#[derive(Debug)]
pub struct Verification {
    pub entries: u64,
    pub problem: Option<Problem>,
}

/// Walks the chain from the first entry and checks every link, hash and the head.
pub fn verify(store: &Store) -> Result<Verification> {
    let r = store.read()?;
    let head: Option<Head> = meta_get(&r, HEAD_KEY)?;
    let mut expected_seq = 1u64;
    let mut prev = [0u8; 32];
    let mut problem = None;
    let mut entries = 0;
    r.raw_visit(
        LOG.name,
        (std::ops::Bound::Unbounded, std::ops::Bound::Unbounded),
        Order::Asc,
        &mut |k, v| {
            let seq = super::decode_key::<u64>(LOG.name, k)?;
            entries += 1;
            if seq != expected_seq {
                problem = Some(Problem::Gap {
                    after: expected_seq - 1,
                    next: seq,
                });
                return Ok(ControlFlow::Break(()));
            }
            let Some((p, hash, body)) = split(v) else {
                problem = Some(Problem::Unreadable { seq });
                return Ok(ControlFlow::Break(()));
            };
            if chain_hash(&p, body) != hash {
                problem = Some(Problem::Altered { seq });
                return Ok(ControlFlow::Break(()));
            }
            if p != prev {
                problem = Some(Problem::BrokenLink { seq });
                return Ok(ControlFlow::Break(()));
            }
            match super::decode::<Entry>(LOG.name, body) {
                Ok(e) if e.seq == seq => {}
                Ok(_) => {
                    problem = Some(Problem::Altered { seq });
                    return Ok(ControlFlow::Break(()));
                }
                Err(_) => {
                    problem = Some(Problem::Unreadable { seq });
                    return Ok(ControlFlow::Break(()));
                }
            }
            prev = hash;
            expected_seq += 1;
            Ok(ControlFlow::Continue(()))
        },
    )?;
    if problem.is_none() {
        let last = expected_seq - 1;
        let head_seq = head.as_ref().map(|h| h.seq).unwrap_or(0);
        let head_ok = match &head {
            Some(h) => h.seq == last && h.hash == hex::encode(prev),
            None => last == 0,
        };
        if !head_ok {
            problem = Some(Problem::HeadMismatch {
                head: head_seq,
                last,
            });
        }
    }
    Ok(Verification { entries, problem })
}

/// Filters of the audit search page and API. Empty fields match everything.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
pub struct Query {
    /// Actor label contains (e.g. `wangwei`, `token:`).
    #[serde(default)]
    pub actor: Option<String>,
    /// Action starts with (e.g. `user.`).
    #[serde(default)]
    pub action: Option<String>,
    /// Free text searched in target and the before/after summary.
    #[serde(default)]
    pub q: Option<String>,
    /// Only entries at or after this Unix time (ms).
    #[serde(default)]
    pub from_ms: Option<i64>,
    /// Only entries before this Unix time (ms).
    #[serde(default)]
    pub to_ms: Option<i64>,
    /// Only entries older than this sequence number (paging).
    #[serde(default)]
    pub before_seq: Option<u64>,
}

impl Query {
    fn matches(&self, e: &Entry) -> bool {
        let has = |hay: &str, needle: &Option<String>| match needle {
            Some(n) if !n.is_empty() => hay.to_lowercase().contains(&n.to_lowercase()),
            _ => true,
        };
        if !has(&e.actor.label(), &self.actor) {
            return false;
        }
        if let Some(a) = self.action.as_deref().filter(|a| !a.is_empty())
            && !e.action.starts_with(a)
        {
            return false;
        }
        if let Some(q) = self.q.as_deref().filter(|q| !q.is_empty()) {
            let q = q.to_lowercase();
            let mut hay = e.target.to_lowercase();
            for v in [&e.before, &e.after].into_iter().flatten() {
                hay.push(' ');
                hay.push_str(&v.to_string().to_lowercase());
            }
            if !hay.contains(&q) {
                return false;
            }
        }
        if self.to_ms.is_some_and(|t| e.at_ms >= t) {
            return false;
        }
        true
    }
}

/// Newest-first search. Returns at most `limit` entries.
pub fn search(r: &impl Reader, q: &Query, limit: usize) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    let upper = q.before_seq.unwrap_or(u64::MAX);
    let mut bad = None;
    r.raw_visit(
        LOG.name,
        (
            std::ops::Bound::Unbounded,
            std::ops::Bound::Excluded(upper.to_be_bytes().as_slice()),
        ),
        Order::Desc,
        &mut |_, v| {
            let Some((_, _, body)) = split(v) else {
                return Ok(ControlFlow::Continue(()));
            };
            let e: Entry = match super::decode(LOG.name, body) {
                Ok(e) => e,
                Err(err) => {
                    bad = Some(err);
                    return Ok(ControlFlow::Break(()));
                }
            };
            if q.from_ms.is_some_and(|f| e.at_ms < f) {
                return Ok(ControlFlow::Break(()));
            }
            if q.matches(&e) {
                out.push(e);
                if out.len() >= limit {
                    return Ok(ControlFlow::Break(()));
                }
            }
            Ok(ControlFlow::Continue(()))
        },
    )?;
    if let Some(e) = bad {
        return Err(e);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::temp_store;
    use redb::ReadableTable;

    const T: Table<u64, String> = Table::new("test.things");

    fn write_some(s: &Store, n: u64) {
        for i in 0..n {
            let mut w = s.write(&Actor::user(7, "wangwei", None)).unwrap();
            w.insert(&T, &i, &format!("thing {i}")).unwrap();
            w.audit(
                "thing.create",
                format!("thing:{i}"),
                Change::created(serde_json::json!({"name": format!("thing {i}")})),
            );
            w.commit().unwrap();
        }
    }

    fn tamper(s: &Store, seq: u64, f: impl FnOnce(&mut Vec<u8>)) {
        let w = s.db.begin_write().unwrap();
        {
            let mut t = w.open_table(LOG.raw()).unwrap();
            let mut v = t
                .get(seq.to_be_bytes().as_slice())
                .unwrap()
                .unwrap()
                .value()
                .to_vec();
            f(&mut v);
            t.insert(seq.to_be_bytes().as_slice(), v.as_slice())
                .unwrap();
        }
        w.commit().unwrap();
    }

    #[test]
    fn clean_chain_verifies() {
        let (_d, s) = temp_store();
        write_some(&s, 5);
        let v = verify(&s).unwrap();
        assert_eq!(v.problem, None);
        // the migration that created the store is audited too
        assert!(v.entries >= 5);
    }

    #[test]
    fn edited_entry_is_found() {
        let (_d, s) = temp_store();
        write_some(&s, 5);
        let n = verify(&s).unwrap().entries;
        tamper(&s, n - 2, |v| {
            let last = v.len() - 3;
            v[last] ^= 1;
        });
        assert_eq!(
            verify(&s).unwrap().problem,
            Some(Problem::Altered { seq: n - 2 })
        );
    }

    #[test]
    fn deleted_entry_and_truncated_tail_are_found() {
        let (_d, s) = temp_store();
        write_some(&s, 4);
        let n = verify(&s).unwrap().entries;
        let w = s.db.begin_write().unwrap();
        w.open_table(LOG.raw())
            .unwrap()
            .remove(n.to_be_bytes().as_slice())
            .unwrap();
        w.commit().unwrap();
        assert_eq!(
            verify(&s).unwrap().problem,
            Some(Problem::HeadMismatch {
                head: n,
                last: n - 1
            })
        );
        let w = s.db.begin_write().unwrap();
        w.open_table(LOG.raw())
            .unwrap()
            .remove(2u64.to_be_bytes().as_slice())
            .unwrap();
        w.commit().unwrap();
        assert_eq!(
            verify(&s).unwrap().problem,
            Some(Problem::Gap { after: 1, next: 3 })
        );
    }

    #[test]
    fn rehashed_entry_breaks_the_next_link() {
        // An attacker who edits an entry and recomputes its hash still breaks the chain.
        let (_d, s) = temp_store();
        write_some(&s, 3);
        tamper(&s, 2, |v| {
            let (prev, _, body) = split(v).unwrap();
            let mut body = body.to_vec();
            let last = body.len() - 2;
            body[last] ^= 1;
            let hash = chain_hash(&prev, &body);
            v.truncate(32);
            v.extend_from_slice(&hash);
            v.extend_from_slice(&body);
        });
        assert_eq!(
            verify(&s).unwrap().problem,
            Some(Problem::BrokenLink { seq: 3 })
        );
    }

    #[test]
    fn search_filters_newest_first() {
        let (_d, s) = temp_store();
        write_some(&s, 6);
        let r = s.read().unwrap();
        let all = search(
            &r,
            &Query {
                action: Some("thing.".into()),
                ..Default::default()
            },
            100,
        )
        .unwrap();
        assert_eq!(all.len(), 6);
        assert!(all[0].seq > all[5].seq);
        let hit = search(
            &r,
            &Query {
                q: Some("THING 3".into()),
                ..Default::default()
            },
            100,
        )
        .unwrap();
        assert_eq!(hit.len(), 1);
        assert_eq!(hit[0].target, "thing:3");
        assert_eq!(hit[0].actor.label(), "user:wangwei");
        let page = search(
            &r,
            &Query {
                before_seq: Some(all[1].seq),
                action: Some("thing.".into()),
                ..Default::default()
            },
            2,
        )
        .unwrap();
        assert_eq!(page.len(), 2);
        assert_eq!(page[0].seq, all[2].seq);
    }
}
