//! `kdrift sim`: sim served until Ctrl-C (or SIGTERM), its kubeconfig written.

use super::EXIT_CLEAN;
use crate::cli::SimArgs;
use anyhow::{Context, Result};

/// `kdrift sim`: serve until interrupted (Ctrl-C or SIGTERM).
pub(crate) fn run_sim(args: &SimArgs) -> Result<u8> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async {
        let handle = crate::sim::start(crate::sim::SimOptions {
            listen: args.listen,
            tls: args.tls,
            load: args.load.clone(),
        })
        .await?;
        if let Some(path) = &args.kubeconfig_out {
            handle.write_kubeconfig(path)?;
            eprintln!("kdrift sim: kubeconfig written to {}", path.display());
        }
        let objects = handle.with_store(|s| s.resource_version());
        eprintln!(
            "kdrift sim: serving {} (resourceVersion {objects}); Ctrl-C stops it",
            handle.url
        );
        println!("{}", handle.url);
        wait_for_stop().await;
        handle.stop().await;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(EXIT_CLEAN)
}

pub(crate) async fn wait_for_stop() {
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
