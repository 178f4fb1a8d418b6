//! The daemon's side of the control socket.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use super::{Request, Response};

/// A request handed to the daemon's core, with the channel for its response.
pub type ControlRequest = (Request, oneshot::Sender<Response>);

/// Largest request accepted, in bytes: a command is a few words.
const MAX_REQUEST_BYTES: u64 = 64 * 1024;

/// Creates the socket at `path` (root-only) and forwards each request to `core`.
///
/// Returns when the socket cannot be created; otherwise runs until the task is dropped.
pub async fn serve(path: &Path, core: mpsc::Sender<ControlRequest>) -> io::Result<()> {
    let listener = bind_private(path)?;
    info!(socket = %path.display(), "control socket listening");
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                warn!(%error, "control socket accept failed");
                continue;
            }
        };
        let core = core.clone();
        tokio::spawn(async move {
            if let Err(error) = handle_connection(stream, core).await {
                debug!(%error, "control connection ended with an error");
            }
        });
    }
}

fn bind_private(path: &Path) -> io::Result<UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    // A socket file left by a previous run would make bind fail.
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
        _ => {}
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

async fn handle_connection(
    stream: UnixStream,
    core: mpsc::Sender<ControlRequest>,
) -> io::Result<()> {
    let uid = stream.peer_cred()?.uid();
    let (reader, mut writer) = stream.into_split();

    let response = if uid != 0 {
        warn!(uid, "control request from a non-root user rejected");
        Response::error(format!(
            "permission denied: the control socket accepts only root, not uid {uid}"
        ))
    } else {
        let mut line = String::new();
        BufReader::new(reader.take(MAX_REQUEST_BYTES))
            .read_line(&mut line)
            .await?;
        match serde_json::from_str::<Request>(&line) {
            Err(error) => Response::error(format!("invalid request: {error}")),
            Ok(request) => {
                debug!(command = ?request.command, json = request.json, "control request");
                let (reply, response) = oneshot::channel();
                if core.send((request, reply)).await.is_err() {
                    Response::error("the daemon is shutting down")
                } else {
                    response
                        .await
                        .unwrap_or_else(|_| Response::error("the daemon dropped the request"))
                }
            }
        }
    };

    let mut bytes = serde_json::to_vec(&response).map_err(io::Error::other)?;
    bytes.push(b'\n');
    writer.write_all(&bytes).await?;
    writer.shutdown().await
}
