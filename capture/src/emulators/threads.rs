//! The threads of one emulated device: they run until told to stop, and
//! stopping (or dropping) sets their flag and joins them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

#[derive(Debug, Default)]
pub(crate) struct DeviceThreads {
    stop: Arc<AtomicBool>,
    handles: Vec<JoinHandle<()>>,
}

impl DeviceThreads {
    /// Starts `body`, which should return soon after its flag is set.
    pub fn spawn(
        &mut self,
        name: String,
        body: impl FnOnce(&AtomicBool) + Send + 'static,
    ) -> std::io::Result<()> {
        let stop = self.stop.clone();
        let handle = std::thread::Builder::new()
            .name(name)
            .spawn(move || body(&stop))?;
        self.handles.push(handle);
        Ok(())
    }

    /// Sets the flag and waits for every thread.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.handles.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for DeviceThreads {
    fn drop(&mut self) {
        self.stop();
    }
}
