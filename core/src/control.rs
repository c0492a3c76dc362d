//! The control socket: `<data>/nplusx.sock`, mode 0600, through which CLI commands reach a
//! running server that holds the store (redb allows one process per file). It serves what
//! makes sense while serving: an online backup, an audit-chain check, and lifting sign-in
//! locks (which live in the server's memory). File permissions are the authentication:
//! whoever may open the socket in the data dir may back the store up.
//!
//! Protocol: one JSON request line; one JSON response line; for `backup`, the backup
//! stream follows the response line until the server closes the connection. The server
//! never writes files itself, so a sandboxed service (systemd `ProtectSystem=strict`)
//! can still back up to wherever the admin's shell may write.
//!
//! `{"cmd":"backup"}` → `{"ok":true}` + `.nxb` bytes
//! `{"cmd":"audit_verify"}` → `{"ok":true,"entries":…,"problem":null | {"zh-CN":…,"en":…}}`
//! `{"cmd":"unlock","username":"…"}` → `{"ok":true,"lifted":[…]}`
//! Failures: `{"ok":false,"error":"中文 / English"}`.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use actix_web::web;
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::i18n::{Lang, Msg};
use crate::store::{Actor, Change};

pub const SOCKET: &str = "nplusx.sock";

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    Backup,
    AuditVerify,
    Unlock { username: String },
}

pub struct Control {
    path: PathBuf,
    task: actix_web::rt::task::JoinHandle<()>,
}

impl Control {
    /// Stops listening and removes the socket file.
    pub fn close(self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Binds the socket (before the start banner, so a CLI started right after it finds it).
pub fn bind(data_dir: &Path) -> std::io::Result<(PathBuf, std::os::unix::net::UnixListener)> {
    use std::os::unix::fs::PermissionsExt;
    let path = data_dir.join(SOCKET);
    // A stale socket from a crash: the store lock proves no other server is running.
    let _ = std::fs::remove_file(&path);
    let listener = std::os::unix::net::UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    listener.set_nonblocking(true)?;
    Ok((path, listener))
}

/// Serves the bound socket on the actix runtime until [`Control::close`].
pub fn serve(
    app: web::Data<App>,
    bound: (PathBuf, std::os::unix::net::UnixListener),
) -> std::io::Result<Control> {
    let (path, std_listener) = bound;
    let listener = tokio::net::UnixListener::from_std(std_listener)?;
    let task = actix_web::rt::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let app = app.clone();
            // each connection is served on a blocking thread with plain std I/O
            let served = stream.into_std().and_then(|s| {
                s.set_nonblocking(false)?;
                Ok(s)
            });
            match served {
                Ok(s) => {
                    actix_web::rt::spawn(async move {
                        match web::block(move || serve_one(&app, s)).await {
                            Ok(Ok(())) => {}
                            Ok(Err(e)) => {
                                tracing::warn!(error = %e, "control socket request failed")
                            }
                            Err(e) => tracing::warn!(error = %e, "control socket task failed"),
                        }
                    });
                }
                Err(e) => tracing::warn!(error = %e, "control socket connection failed"),
            }
        }
    });
    Ok(Control { path, task })
}

fn reply(w: &mut impl Write, v: serde_json::Value) -> std::io::Result<()> {
    writeln!(w, "{v}")?;
    w.flush()
}

fn serve_one(app: &App, stream: std::os::unix::net::UnixStream) -> std::io::Result<()> {
    let mut line = String::new();
    BufReader::new(stream.try_clone()?)
        .take(64 << 10)
        .read_line(&mut line)?;
    let mut w = std::io::BufWriter::with_capacity(256 << 10, stream);
    let req = match serde_json::from_str::<Request>(&line) {
        Ok(r) => r,
        Err(e) => {
            return reply(
                &mut w,
                serde_json::json!({ "ok": false, "error": format!("bad request: {e}") }),
            );
        }
    };
    let actor = Actor::system("cli");
    match req {
        Request::Backup => {
            reply(&mut w, serde_json::json!({ "ok": true }))?;
            let s = crate::store::backup::write_backup(
                &app.store,
                &mut w,
                crate::auth::store::TRANSIENT,
            )
            .map_err(std::io::Error::other)?;
            w.flush()?;
            let mut tx = app.store.write(&actor).map_err(std::io::Error::other)?;
            tx.audit(
                "store.backup",
                "cli",
                Change::created(serde_json::json!({ "records": s.records, "tables": s.tables })),
            );
            tx.commit().map_err(std::io::Error::other)
        }
        Request::AuditVerify => {
            let v = match crate::store::audit::verify(&app.store) {
                Ok(v) => serde_json::json!({
                    "ok": true,
                    "entries": v.entries,
                    "problem": v.problem.map(|p| serde_json::json!({
                        "zh-CN": p.msg().render(Lang::ZhCn),
                        "en": p.msg().render(Lang::En),
                    })),
                }),
                Err(e) => serde_json::json!({ "ok": false, "error": e.to_string() }),
            };
            reply(&mut w, v)
        }
        Request::Unlock { username } => {
            let v = match crate::auth::service::unlock(&app.store, &app.throttle, &actor, &username)
            {
                Ok(lifted) => serde_json::json!({ "ok": true, "lifted": lifted }),
                Err(e) => serde_json::json!({ "ok": false, "error": e.msg().bilingual() }),
            };
            reply(&mut w, v)
        }
    }
}

/// A connection to the server running on a data dir (client side, blocking).
pub struct Client {
    reader: BufReader<std::os::unix::net::UnixStream>,
}

impl Client {
    /// Sends `req` and reads the response line.
    pub fn request(data_dir: &Path, req: &Request) -> std::io::Result<(Client, serde_json::Value)> {
        let mut s = std::os::unix::net::UnixStream::connect(data_dir.join(SOCKET))?;
        let line = serde_json::to_string(req).map_err(std::io::Error::other)?;
        writeln!(s, "{line}")?;
        let mut reader = BufReader::new(s);
        let mut reply = String::new();
        reader.read_line(&mut reply)?;
        let v = serde_json::from_str(&reply).map_err(|e| {
            std::io::Error::other(format!(
                "unexpected reply from the server ({e}): {}",
                reply.trim()
            ))
        })?;
        Ok((Client { reader }, v))
    }

    /// The bytes that follow the response line (the backup stream).
    pub fn rest(mut self, out: &mut impl Write) -> std::io::Result<u64> {
        std::io::copy(&mut self.reader, out)
    }
}

/// The error text of a failed reply, falling back to `what`.
pub fn error_of(reply: &serde_json::Value, what: &Msg) -> String {
    reply["error"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| what.bilingual())
}
