//! Opening a wgpu device: instance, adapter, the adapter's own limits, the pipelines, and error
//! capture so that a device fault becomes an [`Error::Gpu`] instead of a panic.

use super::pipelines::Pipelines;
use crate::backend::AdapterSummary;
use crate::error::{Error, Result};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

/// How long one submission may run before it counts as a device fault.
const SUBMIT_TIMEOUT: Duration = Duration::from_secs(600);

/// The summary of an adapter, as results and `kmquant adapters` show it.
pub(crate) fn summary(info: &wgpu::AdapterInfo) -> AdapterSummary {
    let driver = [info.driver.as_str(), info.driver_info.as_str()]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    AdapterSummary {
        name: info.name.clone(),
        backend: format!("{:?}", info.backend),
        device_type: format!("{:?}", info.device_type),
        driver,
    }
}

fn instance() -> wgpu::Instance {
    // Honors WGPU_BACKEND (e.g. `gl`), WGPU_ADAPTER_NAME and the other wgpu variables.
    wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env())
}

fn request_adapter(instance: &wgpu::Instance) -> Result<wgpu::Adapter> {
    let opts = wgpu::RequestAdapterOptions {
        power_preference: wgpu::PowerPreference::from_env().unwrap_or(wgpu::PowerPreference::HighPerformance),
        force_fallback_adapter: false,
        compatible_surface: None,
        apply_limit_buckets: false,
    };
    pollster::block_on(instance.request_adapter(&opts)).map_err(|e| Error::NoAdapter(e.to_string()))
}

/// Every adapter wgpu can see (honoring `WGPU_BACKEND`), and the index of the one `auto` would
/// use, if any.
pub fn list_adapters() -> (Vec<AdapterSummary>, Option<usize>) {
    let instance = instance();
    let all: Vec<AdapterSummary> = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()))
        .iter()
        .map(|a| summary(&a.get_info()))
        .collect();
    let auto = request_adapter(&instance)
        .ok()
        .map(|a| summary(&a.get_info()))
        .filter(|s| !s.is_software())
        .and_then(|s| all.iter().position(|a| *a == s));
    (all, auto)
}

/// An open device with the kmquant pipelines; build once and reuse it for many images.
pub struct GpuContext {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    pub(crate) pipelines: Pipelines,
    pub(crate) limits: wgpu::Limits,
    info: AdapterSummary,
    faults: Arc<Mutex<Vec<String>>>,
}

impl GpuContext {
    /// Opens the adapter wgpu prefers (honoring `WGPU_BACKEND`, `WGPU_ADAPTER_NAME` and
    /// `WGPU_POWER_PREF`), with the adapter's own limits. With `hardware_only`, a software
    /// rasterizer counts as no adapter.
    pub fn new(hardware_only: bool) -> Result<Self> {
        let instance = instance();
        let adapter = request_adapter(&instance)?;
        let info = summary(&adapter.get_info());
        if hardware_only && info.is_software() {
            return Err(Error::NoAdapter(format!(
                "only a software adapter was found: {info}"
            )));
        }
        Self::from_adapter(&adapter)
    }

    /// Opens a device on the given adapter.
    pub fn from_adapter(adapter: &wgpu::Adapter) -> Result<Self> {
        let info = summary(&adapter.get_info());
        // The defaults cap storage bindings and buffers well below what devices offer; ask for
        // the adapter's real limits so that large images need fewer chunks.
        let limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("kmquant"),
            required_features: wgpu::Features::empty(),
            required_limits: limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        }))
        .map_err(|e| Error::Gpu(format!("cannot open {info}: {e}")))?;
        let faults = Arc::new(Mutex::new(Vec::new()));
        let sink = faults.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut f) = sink.lock() {
                f.push(e.to_string());
            }
        }));
        let sink = faults.clone();
        device.set_device_lost_callback(move |reason, msg| {
            if let Ok(mut f) = sink.lock() {
                f.push(format!("device lost ({reason:?}): {msg}"));
            }
        });
        let ctx = GpuContext {
            pipelines: Pipelines::new(&device),
            device,
            queue,
            limits,
            info,
            faults,
        };
        ctx.check()?;
        Ok(ctx)
    }

    /// The adapter this context runs on.
    pub fn adapter(&self) -> &AdapterSummary {
        &self.info
    }

    /// This device, as the backend that ran a result, with the points in `chunks` chunks.
    pub(crate) fn used(&self, chunks: usize) -> crate::backend::BackendUsed {
        crate::backend::BackendUsed {
            kind: crate::backend::BackendKind::Gpu,
            adapter: Some(self.info.clone()),
            chunks,
        }
    }

    /// Fails with the first device fault recorded since the last check.
    pub(crate) fn check(&self) -> Result<()> {
        let mut f = self
            .faults
            .lock()
            .map_err(|_| Error::Gpu("fault log poisoned".into()))?;
        if f.is_empty() {
            Ok(())
        } else {
            let first = f.remove(0);
            f.clear();
            Err(Error::Gpu(first))
        }
    }

    /// Runs `work` inside validation and out-of-memory error scopes.
    pub(crate) fn scoped<T>(&self, work: impl FnOnce() -> T) -> Result<T> {
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let out = work();
        let e_oom = pollster::block_on(oom.pop());
        let e_val = pollster::block_on(validation.pop());
        if let Some(e) = e_oom.or(e_val) {
            return Err(Error::Gpu(e.to_string()));
        }
        self.check()?;
        Ok(out)
    }

    /// Submits `encoder`, waits for it, and copies `staging[..len]` (a MAP_READ buffer that the
    /// encoder filled) into a Vec.
    pub(crate) fn submit_and_read(
        &self,
        encoder: wgpu::CommandEncoder,
        staging: &wgpu::Buffer,
        len: u64,
    ) -> Result<Vec<u32>> {
        let index = self.scoped(|| self.queue.submit(Some(encoder.finish())))?;
        let slice = staging.slice(..len);
        let (tx, rx) = mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(index),
                timeout: Some(SUBMIT_TIMEOUT),
            })
            .map_err(|e| Error::Gpu(format!("waiting for the device: {e}")))?;
        self.check()?;
        match rx.recv_timeout(SUBMIT_TIMEOUT) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(Error::Gpu(format!("reading results back: {e}"))),
            Err(_) => {
                return Err(Error::Gpu(
                    "reading results back: no answer from the device".into(),
                ))
            }
        }
        let out = {
            let view = slice
                .get_mapped_range()
                .map_err(|e| Error::Gpu(format!("reading results back: {e}")))?;
            bytemuck::cast_slice::<u8, u32>(&view).to_vec()
        };
        staging.unmap();
        Ok(out)
    }
}
