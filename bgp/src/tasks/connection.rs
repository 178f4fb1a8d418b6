//! One reader task and one writer task per TCP connection. The reader splits the byte stream
//! into messages with [`frame_length`] and hands them to the instance task; the writer writes
//! what the instance sends, in order, and closes the connection on request.

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tracing::debug;

use super::IoEvent;
use crate::session::ConnId;
use crate::wire::{MAX_EXTENDED_MESSAGE_LEN, SessionContext, frame_length};

/// A command from the instance task to a writer.
#[derive(Debug)]
pub enum WriterCommand {
    Data(Vec<u8>),
    /// Write what is queued, then close the connection.
    Close,
}

/// The instance task's handle on one running connection.
#[derive(Debug)]
pub struct ConnectionHandle {
    pub writer: mpsc::UnboundedSender<WriterCommand>,
    pub writer_task: tokio::task::JoinHandle<()>,
}

/// Starts the reader and writer of `stream`.
pub fn start(
    conn: ConnId,
    stream: TcpStream,
    events: mpsc::UnboundedSender<IoEvent>,
) -> ConnectionHandle {
    let (read, write) = stream.into_split();
    let events_for_writer = events.clone();
    let reader = tokio::spawn(read_loop(conn, read, events)).abort_handle();
    let (writer, commands) = mpsc::unbounded_channel();
    let writer_task = tokio::spawn(write_loop(conn, write, commands, reader, events_for_writer));
    ConnectionHandle {
        writer,
        writer_task,
    }
}

async fn read_loop(conn: ConnId, mut read: OwnedReadHalf, events: mpsc::UnboundedSender<IoEvent>) {
    // Framing admits the extended length; the instance checks each message against what the
    // session negotiated when it decodes it.
    let framing = SessionContext {
        extended_message: true,
        ..SessionContext::default()
    };
    let mut buffer = BytesMut::with_capacity(MAX_EXTENDED_MESSAGE_LEN);
    loop {
        let mut frames = Vec::new();
        loop {
            match frame_length(&buffer, &framing) {
                Ok(Some(length)) if buffer.len() >= length => {
                    frames.push(buffer.split_to(length).to_vec());
                }
                Ok(_) => break,
                Err(error) => {
                    let _ = events.send(IoEvent::Frames { conn, frames });
                    let _ = events.send(IoEvent::ReadError { conn, error });
                    return;
                }
            }
        }
        if !frames.is_empty() && events.send(IoEvent::Frames { conn, frames }).is_err() {
            return;
        }
        buffer.reserve(MAX_EXTENDED_MESSAGE_LEN);
        match read.read_buf(&mut buffer).await {
            Ok(0) => {
                debug!(%conn, "connection closed by the peer");
                break;
            }
            Ok(_) => {}
            Err(error) => {
                debug!(%conn, %error, "connection read failed");
                break;
            }
        }
    }
    let _ = events.send(IoEvent::Closed { conn });
}

async fn write_loop(
    conn: ConnId,
    mut write: OwnedWriteHalf,
    mut commands: mpsc::UnboundedReceiver<WriterCommand>,
    reader: AbortHandle,
    events: mpsc::UnboundedSender<IoEvent>,
) {
    while let Some(command) = commands.recv().await {
        match command {
            WriterCommand::Data(data) => {
                if let Err(error) = write.write_all(&data).await {
                    debug!(%conn, %error, "connection write failed");
                    let _ = events.send(IoEvent::Closed { conn });
                    break;
                }
            }
            WriterCommand::Close => {
                let _ = write.flush().await;
                let _ = write.shutdown().await;
                break;
            }
        }
    }
    // Dropping both halves closes the socket.
    reader.abort();
}
