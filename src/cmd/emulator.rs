//! `boxlift emulator`: run the Box-compatible emulator from the command line (for scripts,
//! the Python SDK check and trying boxlift out). Flags map one to one onto `EmulatorConfig`.
use std::io::Write;

use anyhow::Context;

use crate::cli::{EmulatorArgs, GlobalArgs};
use crate::emulator::serve;
use crate::exit::ExitCode;

/// Run `boxlift emulator` until SIGINT/SIGTERM.
pub fn run(args: EmulatorArgs, _global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let config = args.to_config()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let addr = listener.local_addr()?;
        if let Some(file) = &args.port_file {
            std::fs::write(file, addr.port().to_string())
                .with_context(|| format!("cannot write port file {}", file.display()))?;
        }
        let mut out = std::io::stdout();
        let scheme = if config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        writeln!(out, "listening on {scheme}://{addr}")?;
        out.flush()?;
        serve(listener, config, shutdown_signal())
            .await
            .context("emulator failed")?;
        Ok(ExitCode::Success)
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
