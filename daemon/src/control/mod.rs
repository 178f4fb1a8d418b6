//! The control socket: a Unix stream socket through which `hna-routectl` asks the daemon for
//! `show` output and sends `clear` and `reload` commands.
//!
//! One request per connection, each message one line of JSON. The socket file is created with
//! mode 0600 in a directory of mode 0700, and the server also checks the peer's credentials
//! (`SO_PEERCRED`), so only root can use it.

mod client;
mod server;

use serde::{Deserialize, Serialize};

pub use client::{ControlClientError, request};
pub use server::{ControlRequest, serve};

/// Default path of the control socket.
pub const DEFAULT_SOCKET: &str = "/run/hna-routed/control.sock";

/// A command, as the words an operator would type (`["show", "bgp", "summary"]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub command: Vec<String>,
    /// Ask for JSON output instead of text.
    pub json: bool,
}

/// The daemon's reply: the output, or why the command failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    /// Text for a person, or a JSON document when the request asked for JSON.
    pub output: String,
}

impl Response {
    pub fn text(output: impl Into<String>) -> Response {
        Response {
            ok: true,
            output: output.into(),
        }
    }

    pub fn json(value: &impl Serialize) -> Response {
        match serde_json::to_string_pretty(value) {
            Ok(output) => Response { ok: true, output },
            Err(error) => Response::error(format!("cannot encode the output as JSON: {error}")),
        }
    }

    pub fn error(message: impl Into<String>) -> Response {
        Response {
            ok: false,
            output: message.into(),
        }
    }
}
