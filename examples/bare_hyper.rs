//! The floor of server CPU per request on this machine: a bare hyper HTTP/1.1 server that
//! answers every request with a constant `{"status":"ok"}`, no routing, no middleware, on a
//! current-thread tokio runtime (`bare_hyper 127.0.0.1:8092`) or a multi-thread one (`... mt`).
//! `SCALES=bare benches/cpu.sh` measures it as it measures `ror-search serve`.

use std::convert::Infallible;

use http_body_util::Full;
use hyper::Response;
use hyper::body::Bytes;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8092".to_owned());
    let runtime = match args.next().as_deref() {
        Some("mt") => tokio::runtime::Builder::new_multi_thread().enable_all().build()?,
        _ => tokio::runtime::Builder::new_current_thread().enable_all().build()?,
    };
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_request| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"{\"status\":\"ok\"}"))))
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
            });
        }
    })
}
