//! An OPC UA server for the end-to-end tests (async-opcua): a `Plant` folder with a few
//! variables, anonymous and user-name logins, an unsecured endpoint and a
//! Basic256Sha256 sign-and-encrypt one. It runs on its own runtime and can be stopped and
//! started again on the same port (a PLC restart).
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use opcua::crypto::SecurityPolicy;
use opcua::server::address_space::VariableBuilder;
use opcua::server::diagnostics::NamespaceMetadata;
use opcua::server::node_manager::memory::{SimpleNodeManager, simple_node_manager};
use opcua::server::{ANONYMOUS_USER_TOKEN_ID, ServerBuilder, ServerHandle, ServerUserToken};
use opcua::types::{
    AttributeId, DataTypeId, DataValue, MessageSecurityMode, NodeId, TimestampsToReturn,
    VariableTypeId, Variant,
};

pub const NS_URI: &str = "urn:nplusx-test:plant";
pub const USER: &str = "operator";
pub const PASSWORD: &str = "s3cret-pw";

/// The variables the server starts with: name, type, initial value.
fn variables() -> Vec<(&'static str, DataTypeId, Variant)> {
    vec![
        ("R101.Temperature", DataTypeId::Double, 85.5f64.into()),
        ("R101.Pressure", DataTypeId::Float, 0.42f32.into()),
        ("P101.Running", DataTypeId::Boolean, true.into()),
        ("FQ101.Total", DataTypeId::Int32, 1200i32.into()),
        ("TIC101.SP", DataTypeId::Int16, 60i16.into()),
        ("R101.Batch", DataTypeId::String, "B2026-118".into()),
    ]
}

struct Running {
    handle: ServerHandle,
    nm: Arc<SimpleNodeManager>,
    ns: u16,
    task: tokio::task::JoinHandle<()>,
}

pub struct UaServer {
    rt: tokio::runtime::Runtime,
    pub port: u16,
    pki: PathBuf,
    _tmp: tempfile::TempDir,
    running: Option<Running>,
}

impl UaServer {
    pub fn start() -> UaServer {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let pki = tmp.path().join("pki");
        let mut s = UaServer {
            rt,
            port: 0,
            pki,
            _tmp: tmp,
            running: None,
        };
        s.up();
        s
    }

    pub fn endpoint(&self) -> String {
        format!("opc.tcp://127.0.0.1:{}/", self.port)
    }

    fn up(&mut self) {
        let port = self.port;
        let pki = self.pki.clone();
        let r = self.rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .unwrap();
            let port = listener.local_addr().unwrap().port();
            let (server, handle) = ServerBuilder::new()
                .application_name("nplusx test PLC")
                .application_uri("urn:nplusx-test:server")
                .product_uri("urn:nplusx-test")
                .host("127.0.0.1")
                .port(port)
                .discovery_urls(vec![format!("opc.tcp://127.0.0.1:{port}/")])
                .pki_dir(pki)
                .create_sample_keypair(true)
                .trust_client_certs(true)
                .add_user_token(USER, ServerUserToken::user_pass(USER, PASSWORD))
                .add_endpoint(
                    "none",
                    (
                        "/",
                        SecurityPolicy::None,
                        MessageSecurityMode::None,
                        &[ANONYMOUS_USER_TOKEN_ID, USER] as &[&str],
                    ),
                )
                .add_endpoint(
                    "basic256sha256",
                    (
                        "/",
                        SecurityPolicy::Basic256Sha256,
                        MessageSecurityMode::SignAndEncrypt,
                        &[USER] as &[&str],
                    ),
                )
                .with_node_manager(simple_node_manager(
                    NamespaceMetadata {
                        namespace_uri: NS_URI.to_owned(),
                        ..Default::default()
                    },
                    "plant",
                ))
                .build()
                .expect("test OPC UA server");
            let nm = handle
                .node_managers()
                .get_of_type::<SimpleNodeManager>()
                .unwrap();
            let ns = handle.get_namespace_index(NS_URI).unwrap();
            {
                let mut space = nm.address_space().write();
                let plant = NodeId::new(ns, "Plant");
                space.add_folder(&plant, "Plant", "Plant", &NodeId::objects_folder_id());
                for (name, data_type, initial) in variables() {
                    VariableBuilder::new(&NodeId::new(ns, name), name, name)
                        .data_type(data_type)
                        .value(initial)
                        .writable()
                        .has_type_definition(VariableTypeId::BaseDataVariableType)
                        .organized_by(plant.clone())
                        .insert(&mut *space);
                }
            }
            let task = tokio::spawn(async move {
                let _ = server.run_with(listener).await;
            });
            (
                port,
                Running {
                    handle,
                    nm,
                    ns,
                    task,
                },
            )
        });
        self.port = r.0;
        self.running = Some(r.1);
    }

    /// The namespace index of the plant's nodes.
    pub fn ns(&self) -> u16 {
        self.running.as_ref().map_or(2, |r| r.ns)
    }

    /// `ns=<ns>;s=<name>`.
    pub fn node(&self, name: &str) -> String {
        format!("ns={};s={name}", self.ns())
    }

    /// Changes a variable as the PLC would; subscribers are notified.
    pub fn set(&self, name: &str, v: impl Into<Variant>) {
        let r = self.running.as_ref().expect("server running");
        r.nm.set_value(
            r.handle.subscriptions(),
            &NodeId::new(r.ns, name),
            None,
            DataValue::new_now(v.into()),
        )
        .unwrap();
    }

    /// A variable's current value.
    pub fn get(&self, name: &str) -> Option<Variant> {
        let r = self.running.as_ref().expect("server running");
        let space = r.nm.address_space().read();
        let node = space.find(&NodeId::new(r.ns, name))?;
        let dv = node.as_node().get_attribute(
            TimestampsToReturn::Neither,
            AttributeId::Value,
            &Default::default(),
            &Default::default(),
        )?;
        dv.value
    }

    pub fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.handle.cancel();
            let _ = self.rt.block_on(r.task);
        }
    }

    /// A new server on the same address: a fresh certificate (a replaced PLC, or someone
    /// posing as it).
    pub fn replace_certificate(&mut self) {
        self.stop();
        for d in ["own", "private"] {
            let _ = std::fs::remove_dir_all(self.pki.join(d));
        }
        self.up();
    }

    /// Stops, waits, and starts again on the same port with the initial values.
    pub fn restart(&mut self, down: std::time::Duration) {
        self.stop();
        std::thread::sleep(down);
        self.up();
    }
}

impl Drop for UaServer {
    fn drop(&mut self) {
        self.stop();
    }
}
