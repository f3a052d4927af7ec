//! The accept loop: plain HTTP or TLS (rustls; mutual TLS with a client CA), HTTP/1.1 and
//! HTTP/2, a header read timeout for slow clients, graceful shutdown on SIGTERM / Ctrl-C, and
//! the watchers (newer snapshots, the access file).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use tokio::io::{AsyncRead, AsyncWrite};
use tower::ServiceExt;

use super::auth::{PeerCertificate, SharedPolicy};
use crate::serve::{ServeConfig, SnapshotHandle, TlsFiles};

/// Longest TLS handshake, seconds.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long in-flight requests may take to finish at shutdown.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest request head (request line and headers), bytes.
const MAX_HEAD_BYTES: usize = 2 * 1024 * 1024;
/// How often the access file is checked for a change.
const ACCESS_POLL: Duration = Duration::from_secs(2);

/// Why TLS cannot start.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file cannot be read or holds nothing usable.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// rustls refused the configuration.
    #[error("TLS: {0}")]
    Rustls(#[from] rustls::Error),
    /// The client CA cannot verify certificates.
    #[error("client CA: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

fn file_error(path: &Path, message: impl std::fmt::Display) -> TlsError {
    TlsError::File { path: path.display().to_string(), message: message.to_string() }
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|error| file_error(path, error))?
        .collect::<Result<_, _>>()
        .map_err(|error| file_error(path, error))?;
    if certificates.is_empty() {
        return Err(file_error(path, "no certificate in the file"));
    }
    Ok(certificates)
}

/// The rustls configuration of the TLS files: the server's chain and key, and with a client
/// CA, client certificates verified against it (optional: a client without one is served as
/// its other credentials make it).
pub fn tls_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = certificates(&files.cert)?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|error| file_error(&files.key, error))?;
    let builder =
        rustls::ServerConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions()?;
    let builder = match &files.client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for certificate in certificates(ca)? {
                roots.add(certificate).map_err(|error| file_error(ca, error))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// Serves `app` on `listener` until SIGTERM or Ctrl-C, then drains in-flight requests.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    handle: Arc<SnapshotHandle>,
    config: Arc<ServeConfig>,
) -> std::io::Result<()> {
    let policy = super::access_policy(&config).map_err(std::io::Error::other)?;
    let tls = config
        .tls
        .as_ref()
        .map(tls_config)
        .transpose()
        .map_err(std::io::Error::other)?
        .map(tokio_rustls::TlsAcceptor::from);
    let audit = config.audit_log.as_deref().map(crate::auth::audit::AuditLog::open).transpose()?;
    let access: SharedPolicy = Arc::new(arc_swap::ArcSwap::from_pointee(policy));
    let app = super::router_with(handle.clone(), config.clone(), access.clone(), audit);
    // A replica's snapshots come from the cluster, not from scans of its index directory.
    let poll_interval_secs = if config.cluster.is_some() { 0 } else { config.poll_interval_secs };
    let snapshots = tokio::spawn(crate::serve::watch(handle.clone(), poll_interval_secs));
    let hangups = tokio::spawn(super::reload_on_sighup(handle, access.clone(), config.clone()));
    let access_watcher = tokio::spawn(watch_access(access, config.clone()));
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(config.header_read_timeout_ms))
        // Room for a long query string, so that it gets the API's 400 rather than hyper's bare
        // 414 (parameters are bounded by the parsers: 200 codes, 200 characters of text).
        .max_buf_size(MAX_HEAD_BYTES);
    builder.http2().timer(TokioTimer::new());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let shutdown = super::shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors, a reset before accept: wait a little, keep serving.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let tls = tls.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let (io, peer): (Box<dyn Io>, Option<[u8; 32]>) = match tls {
                Some(acceptor) => match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => {
                        let peer = stream
                            .get_ref()
                            .1
                            .peer_certificates()
                            .and_then(|chain| chain.first())
                            .map(|certificate| crate::auth::sha256(certificate.as_ref()));
                        (Box::new(stream), peer)
                    }
                    Ok(Err(error)) => {
                        tracing::debug!(%remote, %error, "TLS handshake refused");
                        return;
                    }
                    Err(_) => return,
                },
                None => (Box::new(stream), None),
            };
            let service = hyper::service::service_fn(move |mut request: axum::http::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo::<SocketAddr>(remote));
                if let Some(fingerprint) = peer {
                    request.extensions_mut().insert(PeerCertificate(fingerprint));
                }
                app.clone().oneshot(request.map(axum::body::Body::new))
            });
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), service).into_owned();
            if let Err(error) = watcher.watch(connection).await {
                tracing::debug!(%remote, %error, "connection ended with an error");
            }
        });
    }
    tracing::info!("shutting down: draining in-flight requests");
    snapshots.abort();
    hangups.abort();
    access_watcher.abort();
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open after the drain timeout");
    }
    Ok(())
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|metadata| metadata.modified()).ok()
}

/// Reloads the access file when it changes; a file that fails to load is refused (logged) and
/// the policy in force stays.
async fn watch_access(access: SharedPolicy, config: Arc<ServeConfig>) {
    let Some(path) = config.access_file.clone() else { return };
    let mut seen = modified(&path);
    let mut ticker = tokio::time::interval(ACCESS_POLL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let now = modified(&path);
        if now != seen {
            seen = now;
            reload_access(&access, &config);
        }
    }
}

/// Reads the access file again and swaps it in, or keeps the policy in force.
pub(crate) fn reload_access(access: &SharedPolicy, config: &ServeConfig) {
    match super::access_policy(config) {
        Ok(policy) => {
            tracing::info!(file = ?config.access_file, "access file loaded");
            access.store(Arc::new(policy));
        }
        Err(error) => tracing::error!(%error, "access file refused; the previous one stays in force"),
    }
}
