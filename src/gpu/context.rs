//! Opening a wgpu device: instance, adapter, the adapter's own limits, the pipelines, and error
//! capture so that a device fault becomes an [`Error::Gpu`] instead of a panic.

use super::adapter;
use super::pipelines::Pipelines;
use crate::backend::AdapterSummary;
use crate::error::{Error, Result};
use crate::options::AdapterPin;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

/// How long one submission may run before it counts as a device fault.
const SUBMIT_TIMEOUT: Duration = Duration::from_secs(600);

/// Every adapter wgpu can see (honoring `WGPU_BACKEND`), usable ones first, each opened once to
/// check that the engine runs on it (a failed open marks it unusable, with the message), and the
/// index of the one `auto` would use, if any.
pub fn list_adapters() -> (Vec<AdapterSummary>, Option<usize>) {
    let all: Vec<AdapterSummary> = adapter::candidates(&adapter::instance(None))
        .into_iter()
        .map(|(a, mut r)| {
            if r.usable {
                if let Err(e) = GpuContext::from_adapter(&a) {
                    let e = e.to_string();
                    r.usable = false;
                    r.reason = Some(format!("failed to open: {e}"));
                    r.open_error = Some(e);
                    r.engine = None;
                }
            }
            r
        })
        .collect();
    let auto = adapter::hardware_may_exist()
        .then(|| {
            all.iter()
                .position(|r| r.usable && !r.is_software() && is_primary(r))
        })
        .flatten();
    (all, auto)
}

/// Vulkan, Metal or DX12: the APIs `auto` considers unless `WGPU_BACKEND` says otherwise.
fn is_primary(r: &AdapterSummary) -> bool {
    std::env::var_os("WGPU_BACKEND").is_some() || ["Vulkan", "Metal", "Dx12"].contains(&r.backend.as_str())
}

/// Whether `WGPU_ADAPTER_NAME`, when set, names this adapter (a case-insensitive substring).
fn named(r: &AdapterSummary) -> bool {
    std::env::var("WGPU_ADAPTER_NAME").map_or(true, |n| r.name.to_lowercase().contains(&n.to_lowercase()))
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
    /// Opens the first adapter the engine can run on, in order of preference (discrete,
    /// integrated, virtual, other, software), honoring `WGPU_BACKEND` and `WGPU_ADAPTER_NAME`.
    /// With `hardware_only` (what `auto` uses), software rasterizers do not count, only Vulkan,
    /// Metal and DX12 are tried unless `WGPU_BACKEND` names another, and on Linux no driver is
    /// loaded at all when there is no GPU device node. [`Error::NoAdapter`] means that nothing
    /// usable was found; [`Error::Gpu`], that a usable adapter failed to open.
    pub fn new(hardware_only: bool) -> Result<Self> {
        if hardware_only && !adapter::hardware_may_exist() {
            return Err(Error::NoAdapter(
                "no GPU device (no /dev/dri render node, /dev/nvidia* or /dev/dxg)".into(),
            ));
        }
        let instance = adapter::instance(hardware_only.then_some(wgpu::Backends::PRIMARY));
        let mut skipped = Vec::new();
        let mut failed = None;
        for (a, r) in adapter::candidates(&instance) {
            if !named(&r) {
                continue;
            }
            match (&r.reason, hardware_only && r.is_software()) {
                (Some(why), _) => skipped.push(format!("{r}: {why}")),
                (None, true) => skipped.push(format!("{r}: a software rasterizer")),
                (None, false) => match Self::from_adapter(&a) {
                    Ok(ctx) => return Ok(ctx),
                    Err(e) => failed = failed.or(Some(e)),
                },
            }
        }
        Err(failed.unwrap_or_else(|| {
            Error::NoAdapter(if skipped.is_empty() {
                "no adapter found".into()
            } else {
                skipped.join("; ")
            })
        }))
    }

    /// Opens the adapter `pin` names: its position in [`list_adapters`]'s list (what `kmquant
    /// adapters` prints), or the first usable adapter whose name contains the text. Software
    /// rasterizers count; `WGPU_BACKEND` narrows the list as everywhere else. An index past the
    /// end, a name nothing matches, or an adapter the engine cannot run on is
    /// [`Error::NoAdapter`], saying what there is.
    pub fn pinned(pin: &AdapterPin) -> Result<Self> {
        let all = adapter::candidates(&adapter::instance(None));
        let listing = || {
            if all.is_empty() {
                "no adapters found".to_string()
            } else {
                let names: Vec<String> = all
                    .iter()
                    .enumerate()
                    .map(|(i, (_, r))| format!("{i}: {r}"))
                    .collect();
                format!("the adapters are {}", names.join("; "))
            }
        };
        let found = match pin {
            AdapterPin::Index(i) => all.get(*i),
            AdapterPin::Name(n) => {
                let n = n.to_lowercase();
                let mut matching = all.iter().filter(|(_, r)| r.name.to_lowercase().contains(&n));
                let first = matching.clone().next();
                matching.find(|(_, r)| r.usable).or(first)
            }
        };
        let Some((a, r)) = found else {
            return Err(Error::NoAdapter(format!("no adapter {pin} ({})", listing())));
        };
        if let Some(why) = &r.reason {
            return Err(Error::NoAdapter(format!(
                "adapter {pin}, {r}, cannot run kmquant: {why}"
            )));
        }
        Self::from_adapter(a)
    }

    /// Opens a device on the given adapter, asking for [`adapter::required_limits`] and no
    /// feature.
    pub fn from_adapter(adapter: &wgpu::Adapter) -> Result<Self> {
        Self::with_limits(adapter, adapter::required_limits(&adapter.limits()))
    }

    /// Opens a device on `adapter` with exactly `limits` (the tests impose the portable sets).
    pub(crate) fn with_limits(adapter: &wgpu::Adapter, limits: wgpu::Limits) -> Result<Self> {
        let info = adapter::report(adapter);
        if let Some(why) = &info.reason {
            return Err(Error::NoAdapter(format!("{info}: {why}")));
        }
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
            gpu_stages: vec!["kmeans"],
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
    /// encoder filled) into a Vec of words.
    pub(crate) fn submit_and_read(
        &self,
        encoder: wgpu::CommandEncoder,
        staging: &wgpu::Buffer,
        len: u64,
    ) -> Result<Vec<u32>> {
        self.submit_and_map(encoder, staging, len, |b| {
            bytemuck::cast_slice::<u8, u32>(b).to_vec()
        })
    }

    /// Submits `encoder`, waits for it, maps `staging[..len]` (a MAP_READ buffer that the encoder
    /// filled) and returns what `read` makes of its bytes.
    pub(crate) fn submit_and_map<T>(
        &self,
        encoder: wgpu::CommandEncoder,
        staging: &wgpu::Buffer,
        len: u64,
        read: impl FnOnce(&[u8]) -> T,
    ) -> Result<T> {
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
            read(&view)
        };
        staging.unmap();
        Ok(out)
    }
}
