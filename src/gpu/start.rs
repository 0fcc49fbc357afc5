//! Opening the device on its own thread, so that it overlaps decoding and the first CPU stages.
//! The quantizer asks whether it is ready at each stage that could use it ([`DeviceStart::get`])
//! and waits for it only when the GPU was asked for explicitly ([`DeviceStart::wait`]).

use super::context::GpuContext;
use crate::error::{Error, Result};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// How opening the device ended, and how long it took.
pub(crate) struct Started {
    /// The device, or why there is none.
    pub result: Result<Arc<GpuContext>>,
    /// How long opening took (on its own thread).
    pub took: Duration,
}

impl Started {
    /// The device, or a copy of the error (the error itself stays here for every later caller).
    pub fn device(&self) -> Result<Arc<GpuContext>> {
        match &self.result {
            Ok(ctx) => Ok(ctx.clone()),
            Err(Error::NoAdapter(m)) => Err(Error::NoAdapter(m.clone())),
            Err(e) => Err(Error::Gpu(
                e.to_string().trim_start_matches("GPU error: ").to_string(),
            )),
        }
    }
}

/// A device being opened, or already open.
pub(crate) struct DeviceStart {
    cell: Arc<OnceLock<Started>>,
}

impl DeviceStart {
    /// Starts `open` on a new thread.
    pub fn spawn(open: impl FnOnce() -> Result<GpuContext> + Send + 'static) -> Self {
        let cell = Arc::new(OnceLock::new());
        let slot = cell.clone();
        let spawned = std::thread::Builder::new()
            .name("kmquant-device".into())
            .spawn(move || {
                let t = Instant::now();
                let result = open().map(Arc::new);
                let _ = slot.set(Started {
                    result,
                    took: t.elapsed(),
                });
            });
        if let Err(e) = spawned {
            let _ = cell.set(Started {
                result: Err(Error::Gpu(format!(
                    "cannot start a thread to open the device: {e}"
                ))),
                took: Duration::ZERO,
            });
        }
        DeviceStart { cell }
    }

    /// A device that is already open.
    pub fn ready(ctx: Arc<GpuContext>) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(Started {
            result: Ok(ctx),
            took: Duration::ZERO,
        });
        DeviceStart { cell: Arc::new(cell) }
    }

    /// The outcome, if opening has finished; never blocks.
    pub fn get(&self) -> Option<&Started> {
        self.cell.get()
    }

    /// The outcome, waiting for it if needed.
    pub fn wait(&self) -> &Started {
        self.cell.wait()
    }
}
