//! The real server over TLS with client certificates (mutual TLS, as the ROR's profiles 1-5
//! authenticate): a test CA made here signs the server's and a client's certificate; the
//! client's maps to a declared client; a certificate of another CA is refused at the
//! handshake; a CA-signed but undeclared one gets 401. And the access file is reloaded by the
//! running server when it changes (a broken one is refused, the policy in force stays).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{build_subset, temp_dir};

struct Pki {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    server: (String, String),
    client: (CertificateDer<'static>, PrivateKeyDer<'static>),
    undeclared: (CertificateDer<'static>, PrivateKeyDer<'static>),
    stranger: (CertificateDer<'static>, PrivateKeyDer<'static>),
}

fn leaf(name: &str, issuer: &Issuer<'_, KeyPair>, server: bool) -> (rcgen::Certificate, KeyPair) {
    let mut params =
        CertificateParams::new(if server { vec!["localhost".into(), "127.0.0.1".into()] } else { vec![] }).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    (params.signed_by(&key, issuer).unwrap(), key)
}

fn authority(name: &str) -> (rcgen::Certificate, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let key = KeyPair::generate().unwrap();
    let certificate = params.self_signed(&key).unwrap();
    (certificate, Issuer::new(params, key))
}

fn der_pair(certificate: rcgen::Certificate, key: KeyPair) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    (certificate.der().clone(), PrivateKeyDer::try_from(key.serialize_der()).unwrap())
}

fn pki() -> Pki {
    let (ca, issuer) = authority("ror-search test CA");
    let (other_ca, other_issuer) = authority("another CA");
    drop(other_ca);
    let (server, server_key) = leaf("localhost", &issuer, true);
    let (client, client_key) = leaf("samu-33.test", &issuer, false);
    let (undeclared, undeclared_key) = leaf("unknown.test", &issuer, false);
    let (stranger, stranger_key) = leaf("samu-33.test", &other_issuer, false);
    Pki {
        ca_pem: ca.pem(),
        ca_der: ca.der().clone(),
        server: (server.pem(), server_key.serialize_pem()),
        client: der_pair(client, client_key),
        undeclared: der_pair(undeclared, undeclared_key),
        stranger: der_pair(stranger, stranger_key),
    }
}

struct Server {
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path, port: u16) -> Server {
    let log = std::fs::File::create(dir.join("server.log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_ror-search"))
        .args(["serve", "--index"])
        .arg(dir.join("index"))
        .args(["--poll-interval-secs", "0", "--addr", &format!("127.0.0.1:{port}")])
        .arg("--tls-cert")
        .arg(dir.join("server.pem"))
        .arg("--tls-key")
        .arg(dir.join("server-key.pem"))
        .arg("--client-ca")
        .arg(dir.join("ca.pem"))
        .arg("--access")
        .arg(dir.join("access.toml"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    Server { child }
}

/// One HTTPS request (HTTP/1.1, `Connection: close`): the status and the body, or the error
/// of the handshake.
async fn https_get(
    port: u16,
    ca: &CertificateDer<'static>,
    identity: Option<&(CertificateDer<'static>, PrivateKeyDer<'static>)>,
    path: &str,
    headers: &str,
) -> Result<(u16, String), String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match identity {
        Some((certificate, key)) => builder.with_client_auth_cert(vec![certificate.clone()], key.clone_key()).unwrap(),
        None => builder.with_no_client_auth(),
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.map_err(|error| error.to_string())?;
    let mut tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .map_err(|error| format!("handshake: {error}"))?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{headers}\r\n");
    tls.write_all(request.as_bytes()).await.map_err(|error| error.to_string())?;
    let mut response = Vec::new();
    tls.read_to_end(&mut response).await.map_err(|error| format!("read: {error}"))?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split(' ').nth(1).and_then(|code| code.parse().ok()).ok_or(format!("no status in {text:?}"))?;
    let body = text.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    Ok((status, body))
}

fn access_file(pki: &Pki, extra: &str) -> String {
    format!(
        "allow_anonymous = true\n{extra}\n[[client]]\nname = \"samu-33\"\ncert_sha256 = \"{}\"\nprofiles = [1]\nroles = [\"read\"]\n",
        hex::encode(ror_search::auth::sha256(pki.client.0.as_ref()))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_maps_certificates_to_clients_and_the_access_file_reloads() {
    let dir = temp_dir();
    let pki = pki();
    std::fs::write(dir.path().join("ca.pem"), &pki.ca_pem).unwrap();
    std::fs::write(dir.path().join("server.pem"), &pki.server.0).unwrap();
    std::fs::write(dir.path().join("server-key.pem"), &pki.server.1).unwrap();
    std::fs::write(dir.path().join("access.toml"), access_file(&pki, "")).unwrap();
    std::fs::create_dir_all(dir.path().join("index")).unwrap();
    build_subset(&["33"], &dir.path().join("index/tls"), "2026-11-10T00:00:00Z", &|_, line| line);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let server = start(dir.path(), port);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !https_get(port, &pki.ca_der, None, "/readyz", "").await.is_ok_and(|(status, _)| status == 200) {
        assert!(
            Instant::now() < deadline,
            "not ready: {}",
            std::fs::read_to_string(dir.path().join("server.log")).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let search = "/v1/offers?lat=44.84&lon=-0.58&limit=20";
    let (status, body) = https_get(port, &pki.ca_der, Some(&pki.client), search, "").await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"crisis_t0\""), "the certificate's client has profile 1");
    let (status, body) = https_get(port, &pki.ca_der, None, search, "").await.unwrap();
    assert_eq!(status, 200);
    assert!(!body.contains("\"crisis_t0\""), "without a certificate: anonymous, profile 0");
    let (status, body) = https_get(port, &pki.ca_der, Some(&pki.undeclared), search, "").await.unwrap();
    assert_eq!(status, 401, "a certificate of the CA that no client declares: {body}");
    let stranger = https_get(port, &pki.ca_der, Some(&pki.stranger), search, "").await;
    assert!(stranger.is_err(), "a certificate of another CA is refused at the handshake: {stranger:?}");
    // the running server reloads the access file when it changes
    let key = "reloaded-key-0123456789";
    let with_key = format!(
        "[[client]]\nname = \"via\"\nkey_sha256 = \"{}\"\nprofiles = [2]\nroles = [\"read\"]\n",
        hex::encode(ror_search::auth::sha256(key.as_bytes()))
    );
    let header = format!("X-API-Key: {key}\r\n");
    assert_eq!(https_get(port, &pki.ca_der, None, search, &header).await.unwrap().0, 401);
    std::fs::write(dir.path().join("access.toml"), format!("{}{with_key}", access_file(&pki, ""))).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while https_get(port, &pki.ca_der, None, search, &header).await.unwrap().0 != 200 {
        assert!(Instant::now() < deadline, "the access file was not reloaded");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    std::fs::write(dir.path().join("access.toml"), "allow_anonymous = perhaps\n").unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        https_get(port, &pki.ca_der, None, search, &header).await.unwrap().0,
        200,
        "a broken file keeps the policy in force"
    );
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    assert!(log.contains("access file refused"), "{log}");
    drop(server);
}
