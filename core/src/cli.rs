//! The command line: `serve`, `demo`, and the offline admin commands (users, tokens,
//! backup/restore, audit verification). Messages go out in both languages, errors to
//! stderr with exit code 1.

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::app::{RunOptions, StartError};
use crate::config::{Config, ConfigError, TlsMode};
use crate::i18n::{Lang, Msg};
use crate::store::{Actor, Store, StoreError, backup};

#[derive(Parser)]
#[command(
    name = "nplusx",
    version,
    about = "N+X digital plant appliance / 化工行业“N+X”数字化平台"
)]
pub struct Cli {
    /// Configuration file (TOML); see packaging/nplusx.toml.
    #[arg(long, global = true, env = "NPLUSX_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (overrides `data_dir` of the config file).
    #[arg(long, global = true, env = "NPLUSX_DATA")]
    data: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the appliance.
    Serve(ServeArgs),
    /// Run the appliance on a demo plant (seeded into a fresh data dir).
    Demo(ServeArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCmd),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Write a consistent backup of the store to FILE (works while the server runs).
    Backup { file: PathBuf },
    /// Restore a backup into the data dir (the server must be stopped).
    Restore {
        file: PathBuf,
        /// Replace an existing store (kept beside it as nplusx.redb.before-restore-*).
        #[arg(long)]
        force: bool,
    },
    /// Audit log commands.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Plugins: make keys, pack and sign packages (contractors); install and switch them
    /// (admins, with the server stopped: a running server takes them in the console or
    /// over the API).
    #[command(subcommand)]
    Plugin(PluginCmd),
    /// Print the version and the store schema version this binary writes.
    Version,
}

#[derive(Args, Clone)]
struct ServeArgs {
    /// Listen address, e.g. 0.0.0.0:8443 (port 0 picks a free port).
    #[arg(long, env = "NPLUSX_LISTEN")]
    listen: Option<String>,
    /// self-signed | files | off (plain HTTP).
    #[arg(long, env = "NPLUSX_TLS")]
    tls: Option<TlsMode>,
    /// PEM certificate chain (with --tls files).
    #[arg(long, env = "NPLUSX_CERT")]
    cert: Option<PathBuf>,
    /// PEM private key (with --tls files).
    #[arg(long, env = "NPLUSX_KEY")]
    key: Option<PathBuf>,
    /// Log filter, e.g. info or debug.
    #[arg(long, env = "NPLUSX_LOG")]
    log_level: Option<String>,
    /// text or json.
    #[arg(long, env = "NPLUSX_LOG_FORMAT")]
    log_format: Option<String>,
    /// On a fresh data dir, create an admin API token with this secret (≥ 24 characters).
    #[arg(long, env = "NPLUSX_BOOTSTRAP_TOKEN", hide_env_values = true)]
    bootstrap_token: Option<String>,
    /// Read the console's templates, static files and catalogues from this `web/` directory
    /// while running, instead of the embedded ones (for working on the console; debug builds
    /// use the source tree's `web/`; empty: the embedded files).
    #[arg(long, env = "NPLUSX_WEB_DIR")]
    web_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum UserCmd {
    /// Add a user. Without --password-stdin a password is generated and printed.
    Add {
        username: String,
        /// Display name (e.g. 王海涛).
        #[arg(long)]
        name: String,
        /// Role id (repeatable): admin, manager, safety, operator, warehouse, maintenance,
        /// quality, viewer, or a custom role.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password (they must change it at next login).
    Passwd {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
    /// Lift sign-in locks of an account on the running server (locks live in its memory).
    Unlock { username: String },
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Create an API token; the secret is printed once.
    Create {
        name: String,
        /// module:level (repeatable), e.g. safety:read, admin:write; or "all".
        #[arg(long = "grant", required = true)]
        grants: Vec<String>,
        #[arg(long)]
        expires_days: Option<u32>,
    },
    /// List tokens.
    List,
    /// Revoke a token by id.
    Revoke { id: u64 },
}

#[derive(Subcommand)]
enum PluginCmd {
    /// Make a signing key: writes the secret key to FILE (0600), prints the public key.
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Pack a manifest and a component into a package, signed with --key if given.
    Pack {
        #[arg(long, default_value = "nplusx-plugin.toml")]
        manifest: PathBuf,
        /// The component (`target/wasm32-wasip2/release/<name>.wasm`).
        #[arg(long)]
        component: PathBuf,
        #[arg(long)]
        key: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign (or re-sign) a package.
    Sign {
        package: PathBuf,
        #[arg(long)]
        key: PathBuf,
        /// Where to write the signed package (default: in place).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Show what a package holds, who signed it and what it asks for.
    Inspect { package: PathBuf },
    /// Install a package (or upgrade the installed plugin of the same id).
    Install {
        package: PathBuf,
        /// A capability to grant (repeatable).
        #[arg(long = "grant")]
        grants: Vec<String>,
        /// Grant every capability asked for except the dangerous ones (tags.write,
        /// actions), which must be named with --grant.
        #[arg(long)]
        grant_safe: bool,
        #[arg(long)]
        enable: bool,
    },
    /// The same as install, for an installed plugin (its data and settings are kept).
    Upgrade {
        package: PathBuf,
        #[arg(long = "grant")]
        grants: Vec<String>,
        #[arg(long)]
        grant_safe: bool,
    },
    /// List installed plugins.
    List,
    /// Switch an installed plugin on (it starts with its settings and grants; its pages
    /// appear in the menu).
    Enable {
        /// The plugin's id (`nplusx plugin list`).
        id: String,
    },
    /// Switch a plugin off (it stops; its data, settings and log are kept).
    Disable {
        /// The plugin's id (`nplusx plugin list`).
        id: String,
    },
    /// Go back to the version before the last upgrade.
    Rollback { id: String },
    /// Remove a plugin and its data.
    Remove { id: String },
    /// Trust a publisher key (`ed25519:…`).
    Trust {
        public_key: String,
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Check the hash chain of the audit log; exits 1 naming the first bad entry.
    Verify,
}

/// A failed command: the message to print, in both languages.
#[derive(Debug)]
pub struct Failure(pub String);

impl From<Msg> for Failure {
    fn from(m: Msg) -> Self {
        Failure(m.bilingual())
    }
}
impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Failure(e.to_string())
    }
}
impl From<StartError> for Failure {
    fn from(e: StartError) -> Self {
        Failure(e.to_string())
    }
}
impl From<crate::error::Error> for Failure {
    fn from(e: crate::error::Error) -> Self {
        let m = e.msg();
        match &e {
            crate::error::Error::Invalid { field, .. } => {
                Failure(format!("{field}: {}", m.bilingual()))
            }
            crate::error::Error::Store(s)
                if !matches!(
                    s,
                    StoreError::Locked(_)
                        | StoreError::TooNew { .. }
                        | StoreError::Migration { .. }
                        | StoreError::UpgradeBackup { .. }
                ) =>
            {
                Failure(format!("{} ({s})", m.bilingual()))
            }
            _ => Failure(m.bilingual()),
        }
    }
}
impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        crate::error::Error::Store(e).into()
    }
}
impl From<backup::BackupError> for Failure {
    fn from(e: backup::BackupError) -> Self {
        let m = match &e {
            backup::BackupError::NotABackup(p) => {
                Msg::new("cli.err.not_a_backup").arg("path", p.display())
            }
            backup::BackupError::TooNew { found, supported } => Msg::new("cli.err.backup_too_new")
                .arg("found", found)
                .arg("supported", supported),
            backup::BackupError::Damaged(d) => Msg::new("cli.err.backup_damaged").arg("detail", d),
            backup::BackupError::TargetExists(p) => {
                Msg::new("cli.err.restore_target").arg("path", p.display())
            }
            backup::BackupError::Store(StoreError::Locked(p)) => {
                Msg::new("cli.err.server_running").arg("dir", p.display())
            }
            other => Msg::new("cli.err.backup").arg("detail", other),
        };
        m.into()
    }
}

/// Parses arguments and runs the command. Returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => 0,
        Err(Failure(m)) => {
            eprintln!("{m}");
            1
        }
    }
}

fn load_config(
    cli_config: &Option<PathBuf>,
    data: &Option<PathBuf>,
    demo: bool,
) -> Result<Config, Failure> {
    let mut cfg = match cli_config {
        Some(p) => Config::from_file(p)?,
        None => {
            let mut c = Config::default();
            if demo {
                c.data_dir = PathBuf::from("nplusx-demo");
            }
            c
        }
    };
    if let Some(d) = data {
        cfg.data_dir = d.clone();
    }
    Ok(cfg)
}

fn apply(cfg: &mut Config, a: &ServeArgs) {
    if let Some(v) = &a.listen {
        cfg.web.listen = v.clone();
    }
    if let Some(v) = a.tls {
        cfg.web.tls = v;
    }
    if let Some(v) = &a.cert {
        cfg.web.cert = Some(v.clone());
    }
    if let Some(v) = &a.key {
        cfg.web.key = Some(v.clone());
    }
    if let Some(v) = &a.log_level {
        cfg.log.level = v.clone();
    }
    if let Some(v) = &a.log_format {
        cfg.log.format = v.clone();
    }
}

fn init_logging(cfg: &Config) {
    // async-opcua warns on every connection that its own config lists no endpoints (we
    // give the endpoint per session): silenced unless the level names its targets
    let mut level = cfg.log.level.clone();
    if !level.contains("opcua") {
        level.push_str(",opcua_client::config=error");
    }
    let filter = tracing_subscriber::EnvFilter::try_new(&level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if cfg.log.format == "json" {
        builder.json().init();
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).init();
    }
}

/// `serve` and `demo`: the file, then flags and environment, checked, then run.
fn serve(
    config: &Option<PathBuf>,
    data: &Option<PathBuf>,
    a: ServeArgs,
    demo: bool,
) -> Result<(), Failure> {
    let mut cfg = load_config(config, data, demo)?;
    apply(&mut cfg, &a);
    cfg.validate()?;
    let web_dir = crate::web::source::init(a.web_dir.as_deref()).map_err(Failure::from)?;
    init_logging(&cfg);
    if let Some(dir) = web_dir {
        tracing::info!("console files read from {}", dir.display());
    }
    crate::app::run(
        cfg,
        RunOptions {
            bootstrap_token: a.bootstrap_token,
            demo,
        },
    )?;
    Ok(())
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.cmd {
        Command::Serve(a) => serve(&cli.config, &cli.data, a, false)?,
        Command::Demo(a) => serve(&cli.config, &cli.data, a, true)?,
        Command::Version => {
            println!(
                "nplusx {} (store schema {})",
                env!("CARGO_PKG_VERSION"),
                crate::store::migrate::current_version()
            );
        }
        Command::User(c) => {
            let dir = load_config(&cli.config, &cli.data, false)?.data_dir;
            user(&dir, c)?;
        }
        Command::Token(c) => {
            let dir = load_config(&cli.config, &cli.data, false)?.data_dir;
            token(&dir, c)?;
        }
        Command::Backup { file } => {
            let dir = load_config(&cli.config, &cli.data, false)?.data_dir;
            backup_cmd(&dir, &file)?;
        }
        Command::Restore { file, force } => {
            let dir = load_config(&cli.config, &cli.data, false)?.data_dir;
            let s = backup::restore(&file, &dir, force)?;
            println!(
                "{}",
                Msg::new("cli.restored")
                    .arg("records", s.records)
                    .arg("tables", s.tables)
                    .arg("dir", dir.display())
                    .bilingual()
            );
        }
        Command::Plugin(c) => plugin_cmd(&cli.config, &cli.data, c)?,
        Command::Audit(AuditCmd::Verify) => {
            let dir = load_config(&cli.config, &cli.data, false)?.data_dir;
            audit_verify(&dir)?;
        }
    }
    Ok(())
}

/// Opens the store of an existing data dir for an offline command. A running server holds
/// the store: those commands must go through the console or the API instead.
fn open_existing(dir: &Path) -> Result<Store, Failure> {
    if !Store::exists(dir) {
        return Err(Msg::new("cli.err.no_store")
            .arg("dir", dir.display())
            .into());
    }
    match Store::open(dir) {
        Err(StoreError::Locked(p)) => Err(Msg::new("cli.err.server_running")
            .arg("dir", p.display())
            .into()),
        other => Ok(other?),
    }
}

fn read_password(from_stdin: bool) -> Result<(String, bool), Failure> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| Failure(e.to_string()))?;
        Ok((line.trim_end_matches(['\r', '\n']).to_string(), false))
    } else {
        Ok((crate::util::random_password(), true))
    }
}

fn cli_actor() -> Actor {
    let who = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "cli".into());
    Actor::system(&format!("cli:{who}"))
}

fn user(dir: &Path, c: UserCmd) -> Result<(), Failure> {
    use crate::auth::service as auth;
    if let UserCmd::Unlock { username } = &c {
        return unlock(dir, username);
    }
    let store = open_existing(dir)?;
    match c {
        UserCmd::Add {
            username,
            name,
            roles,
            password_stdin,
        } => {
            let (password, generated) = read_password(password_stdin)?;
            let u = auth::create_user(
                &store,
                &cli_actor(),
                auth::NewUser {
                    username,
                    display_name: name,
                    password: password.clone(),
                    roles,
                    must_change_password: true,
                    ..Default::default()
                },
            )?;
            println!(
                "{}",
                Msg::new("cli.user_added")
                    .arg("user", &u.username)
                    .arg("id", u.id)
                    .bilingual()
            );
            if generated {
                println!(
                    "{}",
                    Msg::new("cli.password_once")
                        .arg("pw", password)
                        .bilingual()
                );
            }
        }
        UserCmd::Passwd {
            username,
            password_stdin,
        } => {
            let u = auth::user_by_name(&store.read()?, &username)?
                .ok_or_else(|| Failure::from(Msg::new("auth.err.user_not_found")))?;
            let (password, generated) = read_password(password_stdin)?;
            auth::set_password(&store, &cli_actor(), u.id, &password, true)?;
            println!(
                "{}",
                Msg::new("cli.password_set")
                    .arg("user", &u.username)
                    .bilingual()
            );
            if generated {
                println!(
                    "{}",
                    Msg::new("cli.password_once")
                        .arg("pw", password)
                        .bilingual()
                );
            }
        }
        UserCmd::Unlock { .. } => unreachable!("handled before the store is opened"),
        UserCmd::List => {
            println!(
                "{:<5} {:<18} {:<12} {:<8} roles",
                "id", "username", "name", "enabled"
            );
            for u in auth::users(&store.read()?)? {
                println!(
                    "{:<5} {:<18} {:<12} {:<8} {}",
                    u.id,
                    u.username,
                    u.display_name,
                    u.enabled,
                    u.roles.join(",")
                );
            }
        }
    }
    Ok(())
}

fn token(dir: &Path, c: TokenCmd) -> Result<(), Failure> {
    use crate::auth::model::Level;
    use crate::auth::service as auth;
    let store = open_existing(dir)?;
    let registry = crate::registry::Registry::new(&store, crate::modules::builtin())?;
    let targets = registry.permission_targets();
    match c {
        TokenCmd::Create {
            name,
            grants,
            expires_days,
        } => {
            let mut g = std::collections::BTreeMap::<String, Vec<Level>>::new();
            for spec in &grants {
                if spec == "all" {
                    for (m, _) in &targets {
                        g.insert(m.to_string(), Level::ALL.to_vec());
                    }
                    continue;
                }
                let (m, l) = spec
                    .split_once(':')
                    .and_then(|(m, l)| Level::parse(l).map(|l| (m, l)))
                    .ok_or_else(|| Failure::from(Msg::new("cli.err.grant").arg("spec", spec)))?;
                g.entry(m.to_string()).or_default().push(l);
            }
            let (t, secret) = auth::create_token(
                &store,
                &cli_actor(),
                auth::NewToken {
                    name,
                    grants: g,
                    expires_days,
                },
                None,
                &targets,
            )?;
            println!(
                "{}",
                Msg::new("cli.token_created")
                    .arg("name", &t.name)
                    .arg("id", t.id)
                    .bilingual()
            );
            println!("{secret}");
        }
        TokenCmd::List => {
            println!(
                "{:<5} {:<20} {:<10} {:<8} grants",
                "id", "name", "prefix", "active"
            );
            let now = crate::util::now_ms();
            for t in auth::tokens(&store.read()?)? {
                let grants: Vec<String> = t
                    .grants
                    .iter()
                    .map(|(m, l)| {
                        format!(
                            "{m}:{}",
                            l.list()
                                .iter()
                                .map(|x| x.id())
                                .collect::<Vec<_>>()
                                .join("+")
                        )
                    })
                    .collect();
                println!(
                    "{:<5} {:<20} {:<10} {:<8} {}",
                    t.id,
                    t.name,
                    t.prefix,
                    t.is_active(now),
                    grants.join(" ")
                );
            }
        }
        TokenCmd::Revoke { id } => {
            let t = auth::revoke_token(&store, &cli_actor(), id)?;
            println!(
                "{}",
                Msg::new("cli.token_revoked")
                    .arg("name", &t.name)
                    .bilingual()
            );
        }
    }
    Ok(())
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

fn unlock(dir: &Path, username: &str) -> Result<(), Failure> {
    use crate::control::{Client, Request, error_of};
    let req = Request::Unlock {
        username: username.to_string(),
    };
    let (_, reply) = Client::request(dir, &req)
        .map_err(|e| Failure::from(Msg::new("cli.err.no_server").arg("detail", e)))?;
    if reply["ok"] != true {
        return Err(Failure(error_of(
            &reply,
            &Msg::new("cli.err.control").arg("detail", "unlock"),
        )));
    }
    let n = reply["lifted"].as_array().map(|a| a.len()).unwrap_or(0);
    println!(
        "{}",
        Msg::new("cli.unlocked")
            .arg("user", username)
            .arg("n", n)
            .bilingual()
    );
    Ok(())
}

fn backup_cmd(dir: &Path, file: &Path) -> Result<(), Failure> {
    use crate::control::{Client, Request, error_of};
    if !Store::exists(dir) {
        return Err(Msg::new("cli.err.no_store")
            .arg("dir", dir.display())
            .into());
    }
    let file = absolute(file);
    match Store::open(dir) {
        Ok(store) => {
            backup::backup_audited(&store, &file, crate::auth::store::TRANSIENT, &cli_actor())?;
        }
        // The server holds the store: it streams a consistent snapshot to us.
        Err(StoreError::Locked(_)) => {
            let (client, reply) = Client::request(dir, &Request::Backup)
                .map_err(|e| Failure::from(Msg::new("cli.err.control").arg("detail", e)))?;
            if reply["ok"] != true {
                return Err(Failure(error_of(
                    &reply,
                    &Msg::new("cli.err.backup").arg("detail", "?"),
                )));
            }
            backup::write_file(&file, |f| {
                client.rest(f).map_err(|source| backup::BackupError::Io {
                    path: file.clone(),
                    source,
                })
            })?;
        }
        Err(e) => return Err(e.into()),
    }
    // read it back whole: a backup that does not restore is worse than none
    let s = match backup::verify_file(&file) {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_file(&file);
            return Err(e.into());
        }
    };
    println!(
        "{}",
        Msg::new("cli.backup_written")
            .arg("file", file.display())
            .arg("records", s.records)
            .arg("bytes", s.bytes)
            .bilingual()
    );
    Ok(())
}

fn audit_verify(dir: &Path) -> Result<(), Failure> {
    if !Store::exists(dir) {
        return Err(Msg::new("cli.err.no_store")
            .arg("dir", dir.display())
            .into());
    }
    // the problem in each language, so the message reads whole in both
    let (entries, problem): (u64, Option<(String, String)>) = match Store::open(dir) {
        Ok(store) => {
            let v = crate::store::audit::verify(&store)?;
            let p = v
                .problem
                .map(|p| (p.msg().render(Lang::ZhCn), p.msg().render(Lang::En)));
            (v.entries, p)
        }
        Err(StoreError::Locked(_)) => {
            let (_, reply) =
                crate::control::Client::request(dir, &crate::control::Request::AuditVerify)
                    .map_err(|e| Failure::from(Msg::new("cli.err.control").arg("detail", e)))?;
            if reply["ok"] != true {
                return Err(Failure(
                    reply["error"]
                        .as_str()
                        .unwrap_or("verify failed")
                        .to_string(),
                ));
            }
            let p = &reply["problem"];
            let p = (!p.is_null()).then(|| {
                let get = |l: &str| p[l].as_str().unwrap_or("").to_string();
                (get("zh-CN"), get("en"))
            });
            (reply["entries"].as_u64().unwrap_or(0), p)
        }
        Err(e) => return Err(e.into()),
    };
    match problem {
        None => {
            println!("{}", Msg::new("cli.audit_ok").arg("n", entries).bilingual());
            Ok(())
        }
        Some((zh, en)) => Err(Failure(format!(
            "{} / {}",
            Msg::new("cli.err.audit_broken")
                .arg("problem", zh)
                .render(Lang::ZhCn),
            Msg::new("cli.err.audit_broken")
                .arg("problem", en)
                .render(Lang::En)
        ))),
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| {
        Msg::new("cli.err.read_file")
            .arg("file", path.display())
            .arg("detail", e)
            .into()
    })
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            Failure::from(
                Msg::new("cli.err.write_file")
                    .arg("file", path.display())
                    .arg("detail", e),
            )
        })?;
    f.write_all(bytes).map_err(|e| {
        Msg::new("cli.err.write_file")
            .arg("file", path.display())
            .arg("detail", e)
            .into()
    })
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    std::fs::write(path, bytes).map_err(|e| {
        Msg::new("cli.err.write_file")
            .arg("file", path.display())
            .arg("detail", e)
            .into()
    })
}

fn plugin_cmd(
    config: &Option<PathBuf>,
    data: &Option<PathBuf>,
    c: PluginCmd,
) -> Result<(), Failure> {
    use crate::plugins::{manifest, package};
    let key_of = |p: &Path| -> Result<ed25519_dalek::SigningKey, Failure> {
        let text = String::from_utf8(read_file(p)?).unwrap_or_default();
        Ok(package::read_secret(&text)?)
    };
    match c {
        PluginCmd::Keygen { out } => {
            let (secret, public) = package::keygen();
            write_private(&out, secret.as_bytes())?;
            let k = package::read_public(&public)?;
            println!(
                "{}",
                Msg::new("cli.plugin_key")
                    .arg("file", out.display())
                    .bilingual()
            );
            println!("{public}");
            println!("fingerprint {}", package::fingerprint(&k));
            return Ok(());
        }
        PluginCmd::Pack {
            manifest: m,
            component,
            key,
            out,
        } => {
            let text = String::from_utf8(read_file(&m)?).map_err(|_| {
                Failure::from(Msg::new("plugins.err.manifest").arg("detail", "not UTF-8"))
            })?;
            let parsed = manifest::Manifest::parse(&text)?;
            let comp = read_file(&component)?;
            if !comp.starts_with(b"\0asm") {
                return Err(Msg::new("plugins.err.component")
                    .arg("detail", "not a WebAssembly file")
                    .into());
            }
            let key = key.as_deref().map(key_of).transpose()?;
            let bytes = package::pack(&text, &comp, key.as_ref());
            write_file(&out, &bytes)?;
            println!(
                "{}",
                Msg::new("cli.plugin_packed")
                    .arg("id", &parsed.id)
                    .arg("version", &parsed.version)
                    .arg("file", out.display())
                    .arg("bytes", bytes.len())
                    .bilingual()
            );
            if key.is_none() {
                println!("{}", Msg::new("plugins.err.unsigned").bilingual());
            }
            return Ok(());
        }
        PluginCmd::Sign {
            package: file,
            key,
            out,
        } => {
            let p = package::parse(&read_file(&file)?)?;
            let k = key_of(&key)?;
            let bytes = package::pack(&p.manifest_text, &p.component, Some(&k));
            write_file(out.as_deref().unwrap_or(&file), &bytes)?;
            println!(
                "{}",
                Msg::new("cli.plugin_signed")
                    .arg("key", package::fingerprint(&k.verifying_key()))
                    .bilingual()
            );
            return Ok(());
        }
        PluginCmd::Inspect { package: file } => {
            let p = package::parse(&read_file(&file)?)?;
            let m = &p.manifest;
            println!("id          {}", m.id);
            println!("version     {}", m.version);
            println!("contract    {}", m.wit);
            println!("module      {}", m.module);
            println!("name        {} / {}", m.name_zh, m.name_en);
            println!("publisher   {}", m.publisher);
            match &p.signer {
                Some(k) => println!(
                    "signed by   {} ({})",
                    package::public_text(k),
                    package::fingerprint(k)
                ),
                None => println!("signed by   -"),
            }
            println!("component   {} bytes", p.component.len());
            for cap in &m.capabilities {
                let warn = if manifest::is_dangerous(&cap.id) {
                    " [dangerous]"
                } else {
                    ""
                };
                println!(
                    "capability  {}{warn}: {} / {}",
                    cap.id, cap.reason_zh, cap.reason_en
                );
            }
            for st in &m.settings {
                println!("setting     {} ({:?}) = {:?}", st.name, st.kind, st.default);
            }
            return Ok(());
        }
        _ => {}
    }
    // the rest works on the store (server stopped)
    let cfg = load_config(config, data, false)?;
    if !Store::exists(&cfg.data_dir) {
        return Err(Msg::new("cli.err.no_store")
            .arg("dir", cfg.data_dir.display())
            .into());
    }
    let app =
        std::sync::Arc::new(crate::app::App::open(cfg).map_err(|e| Failure(e.0.bilingual()))?);
    let actor = cli_actor();
    let grants_for =
        |bytes: &[u8], mut grants: Vec<String>, safe: bool| -> Result<Vec<String>, Failure> {
            if safe {
                let p = package::parse(bytes)?;
                for c in &p.manifest.capabilities {
                    if !manifest::is_dangerous(&c.id) && !grants.contains(&c.id) {
                        grants.push(c.id.clone());
                    }
                }
            }
            Ok(grants)
        };
    let show = |r: &crate::plugins::store::Installed| {
        println!(
            "{}",
            Msg::new("cli.plugin_state")
                .arg("id", &r.id)
                .arg("version", &r.version)
                .arg("state", if r.enabled { "enabled" } else { "disabled" })
                .arg("grants", r.grants.join(","))
                .bilingual()
        )
    };
    let result = (|| -> Result<(), Failure> {
        match c {
            PluginCmd::Install {
                package: file,
                grants,
                grant_safe,
                enable,
            } => {
                let bytes = read_file(&file)?;
                let grants = grants_for(&bytes, grants, grant_safe)?;
                show(
                    &app.plugins
                        .install(&app, &actor, &bytes, Some(&grants), enable)?,
                );
            }
            PluginCmd::Upgrade {
                package: file,
                grants,
                grant_safe,
            } => {
                let bytes = read_file(&file)?;
                let p = package::parse(&bytes)?;
                app.plugins.get(&app, &p.manifest.id)?;
                // without --grant / --grant-safe the installed version's grants carry over
                let explicit = !grants.is_empty() || grant_safe;
                let grants = grants_for(&bytes, grants, grant_safe)?;
                let chosen = explicit.then_some(grants.as_slice());
                show(&app.plugins.install(&app, &actor, &bytes, chosen, false)?);
            }
            PluginCmd::List => {
                for p in app.plugins.list(&app)? {
                    show(&p.installed);
                }
            }
            PluginCmd::Enable { id } => show(&app.plugins.set_enabled(&app, &actor, &id, true)?),
            PluginCmd::Disable { id } => show(&app.plugins.set_enabled(&app, &actor, &id, false)?),
            PluginCmd::Rollback { id } => show(&app.plugins.rollback(&app, &actor, &id)?),
            PluginCmd::Remove { id } => {
                app.plugins.remove(&app, &actor, &id)?;
                println!(
                    "{}",
                    Msg::new("cli.plugin_removed").arg("id", &id).bilingual()
                );
            }
            PluginCmd::Trust { public_key, name } => {
                let k = app
                    .plugins
                    .add_key(&app.store, &actor, &public_key, &name)?;
                println!(
                    "{}",
                    Msg::new("cli.plugin_trusted")
                        .arg("key", &k.public_key)
                        .bilingual()
                );
            }
            _ => {}
        }
        Ok(())
    })();
    app.plugins.stop_all();
    result
}
