//! The control socket: `<data>/nplusx.sock`, mode 0600, through which CLI commands reach a
//! running server that holds the store (redb allows one process per file). It serves the
//! commands that make sense while serving: an online backup and an audit-chain check.
//! File permissions are the authentication: whoever may read the data dir may back it up.
//!
//! Protocol: one JSON request line, one JSON response line.
//! `{"cmd":"backup","path":"/abs/file.nxb"}` → `{"ok":true,"records":…,"tables":…,"bytes":…}`
//! `{"cmd":"audit_verify"}` → `{"ok":true,"entries":…,"problem":null | {"zh-CN":…,"en":…}}`
//! Failures: `{"ok":false,"error":"中文 / English"}`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use actix_web::web;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

use crate::app::App;
use crate::i18n::{Lang, Msg};
use crate::store::Actor;

pub const SOCKET: &str = "nplusx.sock";

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    Backup { path: PathBuf },
    AuditVerify,
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

pub fn listen(app: web::Data<App>, data_dir: &Path) -> std::io::Result<Control> {
    use std::os::unix::fs::PermissionsExt;
    let path = data_dir.join(SOCKET);
    // A stale socket from a crash: the store lock proves no other server is running.
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    let task = actix_web::rt::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let app = app.clone();
            actix_web::rt::spawn(async move {
                if let Err(e) = serve_one(app, stream).await {
                    tracing::warn!(error = %e, "control socket request failed");
                }
            });
        }
    });
    Ok(Control { path, task })
}

async fn serve_one(app: web::Data<App>, stream: tokio::net::UnixStream) -> std::io::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut line = String::new();
    tokio::io::BufReader::new(r).read_line(&mut line).await?;
    let reply = match serde_json::from_str::<Request>(&line) {
        Err(e) => serde_json::json!({ "ok": false, "error": format!("bad request: {e}") }),
        Ok(req) => web::block(move || handle(&app, req))
            .await
            .unwrap_or_else(|e| serde_json::json!({ "ok": false, "error": e.to_string() })),
    };
    let mut out = reply.to_string();
    out.push('\n');
    w.write_all(out.as_bytes()).await
}

fn handle(app: &App, req: Request) -> serde_json::Value {
    match req {
        Request::Backup { path } => {
            match crate::store::backup::backup_audited(
                &app.store,
                &path,
                crate::auth::store::TRANSIENT,
                &Actor::system("cli"),
            ) {
                Ok(s) => {
                    serde_json::json!({ "ok": true, "records": s.records, "tables": s.tables, "bytes": s.bytes })
                }
                Err(e) => {
                    serde_json::json!({ "ok": false, "error": Msg::new("cli.err.backup").arg("detail", e).bilingual() })
                }
            }
        }
        Request::AuditVerify => match crate::store::audit::verify(&app.store) {
            Ok(v) => {
                serde_json::json!({
                    "ok": true,
                    "entries": v.entries,
                    "problem": v.problem.map(|p| serde_json::json!({
                        "zh-CN": p.msg().render(Lang::ZhCn),
                        "en": p.msg().render(Lang::En),
                    })),
                })
            }
            Err(e) => serde_json::json!({ "ok": false, "error": e.to_string() }),
        },
    }
}

/// Sends one request to the server running on `data_dir` (client side, blocking).
pub fn request(data_dir: &Path, req: &Request) -> std::io::Result<serde_json::Value> {
    let mut s = std::os::unix::net::UnixStream::connect(data_dir.join(SOCKET))?;
    let mut line = serde_json::to_string(req).map_err(std::io::Error::other)?;
    line.push('\n');
    s.write_all(line.as_bytes())?;
    let mut reply = String::new();
    BufReader::new(s).read_line(&mut reply)?;
    serde_json::from_str(&reply).map_err(std::io::Error::other)
}
