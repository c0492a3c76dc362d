//! Notices (通知): messages to named people about records they are responsible for — a
//! permit of theirs suspended for a failing gas analysis, say. Not alarms (those are for
//! the operators' live list); a notice stays in its person's list until they read it, and
//! the top bar shows how many are unread.
//!
//! Owns `notices.items`; `send` is called by other modules inside their own write
//! transaction, so a notice exists exactly when the change it reports does.

pub mod routes;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::i18n::{Lang, Msg};
use crate::store::{Actor, Order, Reader, Store, Table, WriteTx};

/// Key (user id, notice id).
const ITEMS: Table<(u64, u64), Notice> = Table::new("notices.items");

/// How many notices a person keeps; older ones go when new ones come.
const KEEP: usize = 200;

/// One notice to one person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Notice {
    pub id: u64,
    pub at_ms: i64,
    /// The module it comes from (`safety`…).
    pub module: String,
    pub zh: String,
    pub en: String,
    /// The page of the record it is about.
    pub link: String,
    #[serde(default)]
    pub read_ms: Option<i64>,
}

impl Notice {
    pub fn text(&self, lang: Lang) -> &str {
        match lang {
            Lang::En if !self.en.is_empty() => &self.en,
            _ => &self.zh,
        }
    }
}

/// A person's notices, oldest first.
fn of_user(r: &impl Reader, user: u64) -> Result<Vec<((u64, u64), Notice)>> {
    let mut out = Vec::new();
    r.visit(&ITEMS, (user, 0)..=(user, u64::MAX), Order::Asc, |k, v| {
        out.push((k, v));
        std::ops::ControlFlow::Continue(())
    })?;
    Ok(out)
}

/// Sends `text` (both languages) to each of `users`, inside the caller's transaction.
/// Duplicate ids are sent once.
pub fn send(
    w: &mut WriteTx,
    users: &[u64],
    module: &str,
    text: &crate::alarms::model::Text,
    link: &str,
    now_ms: i64,
) -> Result<()> {
    let mut users = users.to_vec();
    users.sort_unstable();
    users.dedup();
    for user in users.into_iter().filter(|u| *u != 0) {
        let id = w.next_id(&ITEMS)?;
        let n = Notice {
            id,
            at_ms: now_ms,
            module: module.to_string(),
            zh: text.zh.clone(),
            en: text.en.clone(),
            link: link.to_string(),
            read_ms: None,
        };
        w.insert(&ITEMS, &(user, id), &n)?;
        let all = of_user(&*w, user)?;
        if all.len() > KEEP {
            for (k, _) in &all[..all.len() - KEEP] {
                w.remove(&ITEMS, k)?;
            }
        }
    }
    Ok(())
}

/// A person's notices, newest first.
pub fn list(r: &impl Reader, user: u64) -> Result<Vec<Notice>> {
    let mut v: Vec<Notice> = of_user(r, user)?.into_iter().map(|(_, n)| n).collect();
    v.reverse();
    Ok(v)
}

/// How many of a person's notices are unread.
pub fn unread(r: &impl Reader, user: u64) -> Result<usize> {
    Ok(of_user(r, user)?
        .iter()
        .filter(|(_, n)| n.read_ms.is_none())
        .count())
}

/// Marks one notice (or, with `None`, all) of a person read.
pub fn mark_read(
    store: &Store,
    actor: &Actor,
    user: u64,
    id: Option<u64>,
    now_ms: i64,
) -> Result<usize> {
    let mut w = store.write(actor)?;
    let mut n = 0;
    for (k, mut x) in of_user(&w, user)? {
        if x.read_ms.is_some() || id.is_some_and(|id| id != x.id) {
            continue;
        }
        x.read_ms = Some(now_ms);
        w.insert(&ITEMS, &k, &x)?;
        n += 1;
    }
    if let Some(id) = id
        && n == 0
        && w.get(&ITEMS, &(user, id))?.is_none()
    {
        return Err(Error::NotFound(Msg::new("notices.err.not_found")));
    }
    // reading is bookkeeping of the reader's own list: no audit entry
    w.commit()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::temp_store;

    #[test]
    fn notices_reach_each_person_once_and_are_read_one_by_one_or_all() {
        let (_d, store) = temp_store();
        let sys = Actor::system("test");
        let msg = crate::alarms::model::Text::of(&Msg::new("notices.title"));
        let mut w = store.write(&sys).unwrap();
        send(&mut w, &[7, 8, 7, 0], "safety", &msg, "/safety", 1).unwrap();
        send(&mut w, &[7], "safety", &msg, "/safety", 2).unwrap();
        w.commit().unwrap();
        let r = store.read().unwrap();
        assert_eq!(unread(&r, 7).unwrap(), 2);
        assert_eq!(unread(&r, 8).unwrap(), 1);
        assert_eq!(unread(&r, 0).unwrap(), 0);
        let first = list(&r, 7).unwrap();
        assert_eq!(first[0].at_ms, 2, "newest first");
        drop(r);
        assert_eq!(mark_read(&store, &sys, 7, Some(first[1].id), 5).unwrap(), 1);
        assert_eq!(unread(&store.read().unwrap(), 7).unwrap(), 1);
        // someone else's notice is not found
        assert!(mark_read(&store, &sys, 8, Some(first[0].id), 5).is_err());
        assert_eq!(mark_read(&store, &sys, 7, None, 6).unwrap(), 1);
        assert_eq!(unread(&store.read().unwrap(), 7).unwrap(), 0);
    }

    #[test]
    fn a_person_keeps_the_latest_notices_only() {
        let (_d, store) = temp_store();
        let sys = Actor::system("test");
        let msg = crate::alarms::model::Text::of(&Msg::new("notices.title"));
        let mut w = store.write(&sys).unwrap();
        for i in 0..(KEEP as i64 + 5) {
            send(&mut w, &[3], "safety", &msg, "/", i).unwrap();
        }
        w.commit().unwrap();
        let l = list(&store.read().unwrap(), 3).unwrap();
        assert_eq!(l.len(), KEEP);
        assert_eq!(l.last().unwrap().at_ms, 5);
    }
}
