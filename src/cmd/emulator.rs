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
        write!(
            out,
            "{}",
            paste_lines(&format!("{scheme}://{addr}"), &config)
        )?;
        out.flush()?;
        serve(listener, config, shutdown_signal())
            .await
            .context("emulator failed")?;
        Ok(ExitCode::Success)
    })
}

/// The lines a newcomer pastes into a shell to point boxlift at this emulator: its three base
/// URLs and a token it accepts (an emulator token, not a Box secret: it is printed on purpose).
fn paste_lines(base: &str, config: &crate::emulator::EmulatorConfig) -> String {
    let mut text = String::from("# To point boxlift at this emulator, paste into your shell:\n");
    text.push_str(&format!("export BOX_API_URL={base}/2.0\n"));
    text.push_str(&format!("export BOX_UPLOAD_URL={base}/api/2.0\n"));
    text.push_str(&format!("export BOX_OAUTH_URL={base}/oauth2/token\n"));
    if let Some(token) = config.developer_tokens.first() {
        text.push_str(&format!("export BOX_DEVELOPER_TOKEN={token}\n"));
    }
    text.push_str("# then e.g.: boxlift migrate ./tree --dest 0\n");
    text
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paste_lines_name_every_url_and_the_token() {
        let config = crate::emulator::EmulatorConfig {
            developer_tokens: vec!["tok-1".into(), "tok-2".into()],
            ..Default::default()
        };
        let text = paste_lines("http://127.0.0.1:8790", &config);
        assert!(
            text.contains("export BOX_API_URL=http://127.0.0.1:8790/2.0\n"),
            "{text}"
        );
        assert!(text.contains("export BOX_UPLOAD_URL=http://127.0.0.1:8790/api/2.0\n"));
        assert!(text.contains("export BOX_OAUTH_URL=http://127.0.0.1:8790/oauth2/token\n"));
        assert!(
            text.contains("export BOX_DEVELOPER_TOKEN=tok-1\n"),
            "{text}"
        );
    }
}
