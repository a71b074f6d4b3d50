//! SIGINT and SIGTERM end the run at once, and cleanup still happens: the
//! running phase is dropped, then the server, etcd and temp dirs are removed.

use std::future::Future;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

use crate::error::BenchError;

/// Whether a signal has arrived.
pub struct Interrupt(watch::Receiver<bool>);

impl Interrupt {
    /// Replaces the default action of the signals (end the process) for
    /// the rest of the run.
    pub fn install(runtime: &tokio::runtime::Runtime) -> Result<Interrupt, BenchError> {
        let _inside = runtime.enter();
        let mut interrupt =
            signal(SignalKind::interrupt()).map_err(BenchError::io("handling SIGINT"))?;
        let mut terminate =
            signal(SignalKind::terminate()).map_err(BenchError::io("handling SIGTERM"))?;
        let (sender, receiver) = watch::channel(false);
        runtime.spawn(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            eprintln!("apiserver-bench: interrupted, cleaning up");
            sender.send_replace(true);
            // Keeps the sender, so receivers never see it gone.
            std::future::pending::<()>().await;
        });
        Ok(Interrupt(receiver))
    }

    pub fn check(&self) -> Result<(), BenchError> {
        if *self.0.borrow() {
            Err(BenchError::Interrupted)
        } else {
            Ok(())
        }
    }

    /// Runs `work` until it ends or a signal arrives; on a signal `work` is
    /// dropped, which drops whatever it holds.
    pub async fn guard<T>(
        &self,
        work: impl Future<Output = Result<T, BenchError>>,
    ) -> Result<T, BenchError> {
        let mut receiver = self.0.clone();
        tokio::select! {
            result = work => result,
            Ok(_) = receiver.wait_for(|interrupted| *interrupted) => Err(BenchError::Interrupted),
        }
    }
}
