//! The client's side of the control socket, used by `hna-routectl` and the lab.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use super::{Request, Response};

/// Why a request got no response.
#[derive(Debug, thiserror::Error)]
pub enum ControlClientError {
    #[error("cannot connect to {path}: {source} (is hna-routed running, and are you root?)")]
    Connect {
        path: String,
        source: std::io::Error,
    },
    #[error("control socket I/O failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("invalid response from the daemon: {0}")]
    Invalid(#[from] serde_json::Error),
}

/// Sends one request to the daemon at `socket` and returns its response.
pub fn request(
    socket: &Path,
    request: &Request,
    timeout: Duration,
) -> Result<Response, ControlClientError> {
    let mut stream = UnixStream::connect(socket).map_err(|source| ControlClientError::Connect {
        path: socket.display().to_string(),
        source,
    })?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;

    let mut bytes = serde_json::to_vec(request)?;
    bytes.push(b'\n');
    // The daemon answers a non-root peer without reading its request and closes the
    // connection, so the write may fail while the rejection waits to be read.
    match stream.write_all(&bytes) {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {}
        result => result?,
    }

    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    if line.is_empty() {
        return Err(ControlClientError::Io(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the daemon closed the connection without a response",
        )));
    }
    Ok(serde_json::from_str(&line)?)
}
