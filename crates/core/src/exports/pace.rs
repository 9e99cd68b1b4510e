//! How fast an export's reader takes its chunks, and the floor below which it is cut.

use super::ExportEvent;
use tokio::sync::mpsc;

/// The slowest reader an export waits for: `min_bytes_per_sec`, averaged over `window` of time
/// spent waiting for the reader (time the database spends is not counted).
#[derive(Debug, Clone, Copy)]
pub struct Floor {
    pub min_bytes_per_sec: u64,
    pub window: std::time::Duration,
}

/// Why an export stopped sending.
pub(super) enum Stop {
    /// The client went away.
    Gone,
    /// The client read slower than the floor.
    TooSlow,
}

/// The export's sending end, measuring how fast its reader takes the chunks.
pub(super) struct Paced {
    pub(super) out: mpsc::Sender<ExportEvent>,
    pub(super) floor: Option<Floor>,
    /// Time spent waiting for the reader in this window, and the bytes it took meanwhile.
    pub(super) waited: std::time::Duration,
    pub(super) waited_bytes: u64,
}

impl Paced {
    pub(super) async fn send(&mut self, event: ExportEvent) -> Result<(), Stop> {
        let Some(floor) = self.floor else {
            return self.out.send(event).await.map_err(|_| Stop::Gone);
        };
        let bytes = match &event {
            ExportEvent::Chunk(chunk) => chunk.len() as u64,
            _ => 0,
        };
        let event = match self.out.try_send(event) {
            Ok(()) => return Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(Stop::Gone),
            Err(mpsc::error::TrySendError::Full(event)) => event,
        };
        // The reader is behind: wait for it, at most one window (a reader that takes nothing
        // for that long is below any floor).
        let started = tokio::time::Instant::now();
        match tokio::time::timeout(floor.window, self.out.send(event)).await {
            Err(_) => return Err(Stop::TooSlow),
            Ok(Err(_)) => return Err(Stop::Gone),
            Ok(Ok(())) => {}
        }
        self.waited += started.elapsed();
        self.waited_bytes += bytes;
        if self.waited >= floor.window {
            let rate = self.waited_bytes as f64 / self.waited.as_secs_f64();
            if rate < floor.min_bytes_per_sec as f64 {
                return Err(Stop::TooSlow);
            }
            self.waited = std::time::Duration::ZERO;
            self.waited_bytes = 0;
        }
        Ok(())
    }
}
