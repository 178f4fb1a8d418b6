//! The forwarding plane on a thread of its own: netlink requests block, so the daemon's core
//! hands the plane closures and awaits their results instead of calling it on the runtime.

use std::sync::mpsc;
use std::thread::JoinHandle;

use hna_rib::{BatchResults, Change, EventReceiver, PlaneError, Southbound};
use tokio::sync::oneshot;
use tracing::warn;

/// A plane the daemon can drive: the Linux plane, or the in-memory plane in tests.
pub trait Plane: Southbound + Send + 'static {
    /// Returns the in-memory plane when this is one, so tests can read what was installed.
    fn as_memory(&self) -> Option<&hna_rib::InMemoryPlane> {
        None
    }

    /// Returns the calls through which the dataplane setup places VRFs and VNIs, for a plane
    /// whose interfaces the daemon sets up (the Linux plane).
    fn bindings(&mut self) -> Option<&mut dyn crate::dataplane::PlaneBindings> {
        None
    }
}

impl Plane for hna_rib::InMemoryPlane {
    fn as_memory(&self) -> Option<&hna_rib::InMemoryPlane> {
        Some(self)
    }
}

impl Plane for hna_rib::linux::LinuxPlane {
    fn bindings(&mut self) -> Option<&mut dyn crate::dataplane::PlaneBindings> {
        Some(self)
    }
}

type Job = Box<dyn FnOnce(&mut dyn Plane) + Send>;

/// A handle to the plane's thread; the thread ends when every handle is dropped.
#[derive(Clone)]
pub struct PlaneThread {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for PlaneThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlaneThread").finish_non_exhaustive()
    }
}

impl PlaneThread {
    /// Starts the thread with a plane built by `make`, which runs on that thread (so a Linux
    /// plane opens its sockets in the namespace the thread inherited from its creator).
    pub fn spawn<P, F>(make: F) -> Result<(PlaneThread, JoinHandle<()>), PlaneError>
    where
        P: Plane,
        F: FnOnce() -> Result<P, PlaneError> + Send + 'static,
    {
        let (jobs, receiver) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("plane".into())
            .spawn(move || {
                let mut plane = match make() {
                    Ok(plane) => {
                        let _ = ready_tx.send(Ok(()));
                        plane
                    }
                    Err(error) => {
                        let _ = ready_tx.send(Err(error));
                        return;
                    }
                };
                while let Ok(job) = receiver.recv() {
                    job(&mut plane);
                }
            })
            .map_err(|error| PlaneError::Io(error.to_string()))?;
        ready_rx
            .recv()
            .map_err(|_| PlaneError::Io("the plane thread ended before starting".into()))??;
        Ok((PlaneThread { jobs }, thread))
    }

    /// Runs `work` on the plane's thread and returns its result.
    pub async fn call<R, F>(&self, work: F) -> Result<R, PlaneError>
    where
        R: Send + 'static,
        F: FnOnce(&mut dyn Plane) -> R + Send + 'static,
    {
        let (reply, result) = oneshot::channel();
        let job: Job = Box::new(move |plane| {
            let _ = reply.send(work(plane));
        });
        self.jobs
            .send(job)
            .map_err(|_| PlaneError::Io("the plane thread has stopped".into()))?;
        result
            .await
            .map_err(|_| PlaneError::Io("the plane thread dropped a request".into()))
    }

    /// Applies `changes` and logs every entry that failed; a failure never stops the batch.
    pub async fn apply(&self, changes: Vec<Change>) -> BatchResults {
        if changes.is_empty() {
            return Vec::new();
        }
        let count = changes.len();
        let outcome = self
            .call(move |plane| {
                let results = plane.apply(&changes);
                for (change, result) in changes.iter().zip(&results) {
                    if let Err(error) = result {
                        warn!(?change, %error, "forwarding plane rejected an entry");
                    }
                }
                results
            })
            .await;
        match outcome {
            Ok(results) => results,
            Err(error) => vec![Err(error); count],
        }
    }

    /// Subscribes to the plane's events (links, addresses, local MACs and neighbors).
    pub async fn subscribe(&self) -> Result<EventReceiver, PlaneError> {
        self.call(|plane| plane.subscribe()).await?
    }
}
