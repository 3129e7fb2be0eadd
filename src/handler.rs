//! `Handler`: Pycnic's handler class — one object whose methods answer GET, POST, … on a route,
//! with optional `before`/`after` hooks. Built from a value and its methods:
//!
//! ```
//! use pycnic::{Handler, HttpError, Request, Response};
//! use serde_json::{json, Value};
//!
//! struct Hello;
//! impl Hello {
//!     fn get(&self, req: &Request, _res: &mut Response) -> Result<Value, HttpError> {
//!         Ok(json!({"hello": req.args().get("name")}))
//!     }
//! }
//! let handler = Handler::new(Hello).get(Hello::get);
//! assert_eq!(handler.name(), "Hello");
//! ```

use std::sync::Arc;

use crate::error::HttpError;
use crate::http::Method;
use crate::request::Request;
use crate::response::{Reply, Response};
use crate::session::auth::Access;

/// A method of a handler, type-erased.
pub(crate) type MethodFn =
    Box<dyn Fn(&Request, &mut Response) -> Result<Reply, HttpError> + Send + Sync>;
/// A `before`/`after` hook, type-erased.
pub(crate) type HookFn =
    Box<dyn Fn(&Request, &mut Response) -> Result<(), HttpError> + Send + Sync>;

/// A handler under construction: a value `T` (Pycnic's `self`) and the methods it answers.
pub struct Handler<T = ()> {
    state: Arc<T>,
    name: String,
    methods: Vec<(Method, MethodFn)>,
    before: Option<HookFn>,
    after: Option<HookFn>,
    access: Access,
}

/// The signature of a handler method: `fn get(&self, req: &Request, res: &mut Response)
/// -> Result<R, HttpError>` where `R` is anything that converts into a `Reply`.
macro_rules! method_setters {
    ($($(#[$doc:meta])* $fn_name:ident => $method:expr;)*) => {
        $(
            $(#[$doc])*
            pub fn $fn_name<F, R>(self, method: F) -> Self
            where
                F: Fn(&T, &Request, &mut Response) -> Result<R, HttpError> + Send + Sync + 'static,
                R: Into<Reply>,
            {
                self.method($method, method)
            }
        )*
    };
}

impl<T: Send + Sync + 'static> Handler<T> {
    /// A handler around `state`, named after its type (the `Class` column of `pycnic routes`).
    pub fn new(state: T) -> Handler<T> {
        let full = std::any::type_name::<T>();
        let name = full.rsplit("::").next().unwrap_or(full).to_string();
        Handler {
            state: Arc::new(state),
            name,
            methods: Vec::new(),
            before: None,
            after: None,
            access: Access::Default,
        }
    }

    /// Only a logged-in user (`session.login`) may call this handler: 401 otherwise, before
    /// the handler's `before` hook runs.
    pub fn login_required(mut self) -> Self {
        self.access = Access::Login;
        self
    }

    /// Only a logged-in user with `role` may call this handler: 401 when not logged in, 403
    /// without the role.
    pub fn role_required(mut self, role: &str) -> Self {
        self.access = Access::Role(role.to_string());
        self
    }

    /// Open to everyone even when the app requires a login everywhere
    /// ([`App::login_required`](crate::App::login_required)): the login route, say.
    pub fn public(mut self) -> Self {
        self.access = Access::Public;
        self
    }

    /// Renames the handler (for `pycnic routes` and logs).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Answers `method` with `f`; a second registration of the same method replaces the first.
    pub fn method<F, R>(mut self, method: Method, f: F) -> Self
    where
        F: Fn(&T, &Request, &mut Response) -> Result<R, HttpError> + Send + Sync + 'static,
        R: Into<Reply>,
    {
        let state = Arc::clone(&self.state);
        let erased: MethodFn = Box::new(move |req, res| f(&state, req, res).map(Into::into));
        self.methods.retain(|(m, _)| *m != method);
        self.methods.push((method, erased));
        self
    }

    method_setters! {
        /// Pycnic's `def get(self)`; also answers HEAD without a body when no `head` is set.
        get => Method::Get;
        /// Pycnic's `def head(self)`; without it HEAD runs `get` and sends no body.
        head => Method::Head;
        /// Pycnic's `def post(self)`.
        post => Method::Post;
        /// Pycnic's `def put(self)`.
        put => Method::Put;
        /// Pycnic's `def delete(self)`.
        delete => Method::Delete;
        /// Pycnic's `def patch(self)`.
        patch => Method::Patch;
        /// Replaces the default OPTIONS answer (`Allow` + `{}`).
        options => Method::Options;
        /// Pycnic's `def connect(self)`.
        connect => Method::Connect;
        /// Pycnic's `def trace(self)`.
        trace => Method::Trace;
    }

    /// Pycnic's `Handler.before`: runs after routing, before the method; an error ends the
    /// request with that error.
    pub fn before<F>(mut self, hook: F) -> Self
    where
        F: Fn(&T, &Request, &mut Response) -> Result<(), HttpError> + Send + Sync + 'static,
    {
        let state = Arc::clone(&self.state);
        self.before = Some(Box::new(move |req, res| hook(&state, req, res)));
        self
    }

    /// Pycnic's `Handler.after`: runs after the method succeeded.
    pub fn after<F>(mut self, hook: F) -> Self
    where
        F: Fn(&T, &Request, &mut Response) -> Result<(), HttpError> + Send + Sync + 'static,
    {
        let state = Arc::clone(&self.state);
        self.after = Some(Box::new(move |req, res| hook(&state, req, res)));
        self
    }
}

impl<T> Handler<T> {
    /// The handler's name: its type's, or the one given to [`named`](Self::named).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drops the state type so handlers of every kind share one route table.
    pub(crate) fn erase(self) -> Route {
        Route {
            name: self.name,
            methods: self.methods,
            before: self.before,
            after: self.after,
            access: self.access,
        }
    }
}

/// A handler with its state type erased, as the route table holds it.
pub(crate) struct Route {
    pub(crate) name: String,
    pub(crate) methods: Vec<(Method, MethodFn)>,
    pub(crate) before: Option<HookFn>,
    pub(crate) after: Option<HookFn>,
    pub(crate) access: Access,
}

impl Route {
    pub(crate) fn method(&self, method: Method) -> Option<&MethodFn> {
        self.methods
            .iter()
            .find(|(m, _)| *m == method)
            .map(|(_, f)| f)
    }

    /// Pycnic's `Allow` list: the methods the handler answers, in Pycnic's order, OPTIONS
    /// always, HEAD whenever GET is there (HEAD runs GET).
    pub(crate) fn allowed(&self) -> Vec<Method> {
        Method::ALL
            .into_iter()
            .filter(|m| match m {
                Method::Options => true,
                Method::Head => {
                    self.method(Method::Head).is_some() || self.method(Method::Get).is_some()
                }
                other => self.method(*other).is_some(),
            })
            .collect()
    }

    pub(crate) fn allow_header(&self) -> String {
        self.allowed()
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}
