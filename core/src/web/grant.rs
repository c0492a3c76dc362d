//! What a handler needs, in its signature. A handler that takes `ctx: Need<grant::safety::Write>`
//! cannot run for a caller without safety write: the extractor refuses with 403 before any
//! later argument (a JSON body, a form, an upload) is read, so a caller without the grant gets
//! 403 whatever they send, and a missing check shows in the signature, not in the body.
//!
//! The API documents the same requirement as the operation's bearer scope
//! (`security(("bearer" = ["safety:write"]))`); an end-to-end test calls every documented
//! operation with a token of every built-in role and expects 403 where the role lacks it.
//!
//! Requirements that depend on the data (the last admin stays admin, a signing duty) are the
//! services' to check.

use std::marker::PhantomData;
use std::ops::Deref;

use actix_web::{FromRequest, HttpRequest};
use std::future::{Ready, ready};

use super::context::Ctx;
use super::error::AppError;
use crate::auth::model::Level;

/// A module (or system area) and the level of it a handler needs.
pub trait Grant {
    const MODULE: &'static str;
    const LEVEL: Level;
}

/// What a handler needs: one grant, or either of two (`Either`).
pub trait Requirement {
    fn check(ctx: &Ctx) -> Result<(), AppError>;
}

impl<G: Grant> Requirement for G {
    fn check(ctx: &Ctx) -> Result<(), AppError> {
        ctx.require(G::MODULE, G::LEVEL)
    }
}

/// Either grant will do (operators watching alarms see their area's cameras; auditors read
/// the compliance report). The refusal names the first.
pub struct Either<A, B>(PhantomData<(A, B)>);

impl<A: Grant, B: Grant> Requirement for Either<A, B> {
    fn check(ctx: &Ctx) -> Result<(), AppError> {
        if ctx.who.can(B::MODULE, B::LEVEL) {
            return Ok(());
        }
        ctx.require(A::MODULE, A::LEVEL)
    }
}

/// A person signed in (not a machine token) holding `G`: signing a permit, reporting a
/// hidden danger. Tokens are refused before the body is read.
pub struct Person<G>(PhantomData<G>);

impl<G: Grant> Requirement for Person<G> {
    fn check(ctx: &Ctx) -> Result<(), AppError> {
        ctx.require(G::MODULE, G::LEVEL)?;
        if ctx.who.user().is_none() {
            return Err(crate::error::Error::Forbidden(crate::i18n::Msg::new(
                "web.err.person_only",
            ))
            .into());
        }
        Ok(())
    }
}

/// The request of a caller meeting `R`. Derefs to the `Ctx`.
pub struct Need<R: Requirement>(Ctx, PhantomData<R>);

impl<R: Requirement> Deref for Need<R> {
    type Target = Ctx;
    fn deref(&self) -> &Ctx {
        &self.0
    }
}

impl<R: Requirement> FromRequest for Need<R> {
    type Error = AppError;
    type Future = Ready<Result<Need<R>, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let ctx = match Ctx::from_request(req, payload).into_inner() {
            Ok(c) => c,
            Err(e) => return ready(Err(e)),
        };
        ready(R::check(&ctx).map(|_| Need(ctx, PhantomData)))
    }
}

macro_rules! areas {
    ($($(#[$doc:meta])* $area:ident = $id:literal),* $(,)?) => {
        $(
            $(#[$doc])*
            pub mod $area {
                use super::{Grant, Level};
                /// Read (implied by any other level).
                pub struct Read;
                pub struct Write;
                pub struct Approve;
                impl Grant for Read {
                    const MODULE: &'static str = $id;
                    const LEVEL: Level = Level::Read;
                }
                impl Grant for Write {
                    const MODULE: &'static str = $id;
                    const LEVEL: Level = Level::Write;
                }
                impl Grant for Approve {
                    const MODULE: &'static str = $id;
                    const LEVEL: Level = Level::Approve;
                }
            }
        )*
    };
}

areas! {
    /// Users, roles, tokens, the company profile, modules, plugins, backups.
    admin = "admin",
    /// The audit log.
    audit = "audit",
    /// 安全生产
    safety = "safety",
    /// 数据互通
    integration = "integration",
    /// 生产自动化
    automation = "automation",
    /// 进销存
    inventory = "inventory",
    /// 质量管理 (its lab sets lots' quality status before the module itself is built)
    quality = "quality",
    /// 设备管理
    equipment = "equipment",
}
