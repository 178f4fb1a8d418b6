//! A synchronous rtnetlink socket that pipelines requests. It keeps up to [`WINDOW`] requests in
//! flight, packed several to a datagram, and matches each acknowledgement to its request by
//! sequence number. A batch thus costs a few system calls per hundred entries rather than a
//! round trip per entry. Messages are built and parsed by `netlink-packet-route`.

use std::collections::HashMap;
use std::io;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
    NlasIterator,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

use crate::southbound::PlaneError;

/// Requests in flight at most. An acknowledgement takes roughly 1 KiB of receive buffer (an
/// estimate: the skb overhead dominates), so [`RECEIVE_BUFFER`] has room for many windows.
///
/// NOTE: without CAP_NET_ADMIN the buffer is capped by `net.core.rmem_max`, and a full window
/// may overflow it; the pending requests then fail with ENOBUFS.
const WINDOW: usize = 512;

/// Receive buffer size requested with `SO_RCVBUFFORCE` (root) or `SO_RCVBUF`, in bytes.
const RECEIVE_BUFFER: usize = 8 * 1024 * 1024;

/// Largest datagram the socket sends; the kernel processes the messages in it one by one.
const SEND_CHUNK: usize = 64 * 1024;

/// Extended acknowledgement attribute carrying the kernel's error message
/// (`NLMSGERR_ATTR_MSG` in `linux/netlink.h`).
const NLMSGERR_ATTR_MSG: u16 = 1;

/// Length of the netlink header echoed in an error message when `NETLINK_CAP_ACK` is set.
const NETLINK_HEADER_LEN: usize = 16;

/// One request of a batch: the message and its netlink flags besides `NLM_F_REQUEST` and
/// `NLM_F_ACK`, which are always set.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub message: RouteNetlinkMessage,
    pub flags: u16,
}

/// The kernel's answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    Ok,
    Error { errno: i32, message: String },
}

impl Reply {
    pub fn errno(&self) -> Option<i32> {
        match self {
            Reply::Ok => None,
            Reply::Error { errno, .. } => Some(*errno),
        }
    }

    pub fn into_result(self) -> Result<(), PlaneError> {
        match self {
            Reply::Ok => Ok(()),
            Reply::Error { errno, message } => Err(PlaneError::Kernel { errno, message }),
        }
    }
}

/// A NETLINK_ROUTE socket bound in the namespace of the thread that opened it.
#[derive(Debug)]
pub(crate) struct RouteSocket {
    socket: Socket,
    sequence: u32,
    receive: Vec<u8>,
}

impl RouteSocket {
    /// Opens a socket in the calling thread's network namespace. The socket stays in that
    /// namespace whichever thread uses it later.
    pub fn open() -> io::Result<RouteSocket> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        socket.set_ext_ack(true)?;
        socket.set_cap_ack(true)?;
        set_receive_buffer(&socket, RECEIVE_BUFFER);
        Ok(RouteSocket {
            socket,
            sequence: 0,
            receive: Vec::with_capacity(64 * 1024),
        })
    }

    /// Opens a socket subscribed to the multicast `groups` (`RTNLGRP_*` numbers), with a
    /// receive timeout so that a reader can notice when it should stop.
    pub fn open_monitor(groups: &[u32], timeout: std::time::Duration) -> io::Result<RouteSocket> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind(&SocketAddr::new(0, 0))?;
        for group in groups {
            socket.add_membership(*group)?;
        }
        set_receive_buffer(&socket, RECEIVE_BUFFER);
        let timeout = libc::timeval {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_usec: timeout.subsec_micros() as libc::suseconds_t,
        };
        setsockopt(&socket, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &timeout)?;
        Ok(RouteSocket {
            socket,
            sequence: 0,
            receive: Vec::with_capacity(64 * 1024),
        })
    }

    /// Sends every request and returns one reply per request, in order. Requests are
    /// pipelined; the kernel still handles them in order, so a request may depend on an
    /// earlier one of the same batch.
    pub fn execute(&mut self, requests: &[Request]) -> Vec<Reply> {
        let mut replies: Vec<Option<Reply>> = vec![None; requests.len()];
        let mut in_flight: HashMap<u32, usize> = HashMap::with_capacity(WINDOW);
        let mut next = 0;
        let mut send = Vec::with_capacity(SEND_CHUNK);

        while next < requests.len() || !in_flight.is_empty() {
            send.clear();
            let mut sent_now = Vec::new();
            while next < requests.len() && in_flight.len() < WINDOW && send.len() < SEND_CHUNK {
                let sequence = self.next_sequence();
                let flags = NLM_F_REQUEST | NLM_F_ACK | requests[next].flags;
                append(&mut send, requests[next].message.clone(), flags, sequence);
                in_flight.insert(sequence, next);
                sent_now.push(sequence);
                next += 1;
            }
            if !send.is_empty()
                && let Err(error) = self.socket.send(&send, 0)
            {
                // Nothing of this datagram reached the kernel: fail its requests.
                fail_all(&mut replies, &mut in_flight, &sent_now, &error);
                continue;
            }
            // Read acknowledgements until the window has room again, or all have arrived.
            let refill = next < requests.len();
            while !in_flight.is_empty() && (!refill || in_flight.len() >= WINDOW / 2) {
                if let Err(error) = self.read_replies(&mut in_flight, &mut replies) {
                    let pending: Vec<u32> = in_flight.keys().copied().collect();
                    fail_all(&mut replies, &mut in_flight, &pending, &error);
                }
            }
        }
        replies
            .into_iter()
            .map(|reply| {
                reply.unwrap_or(Reply::Error {
                    errno: 0,
                    message: "no reply".into(),
                })
            })
            .collect()
    }

    /// Sends a dump request and returns every message of the reply.
    pub fn dump(
        &mut self,
        message: RouteNetlinkMessage,
    ) -> Result<Vec<RouteNetlinkMessage>, PlaneError> {
        let sequence = self.next_sequence();
        let mut send = Vec::new();
        append(&mut send, message, NLM_F_REQUEST | NLM_F_DUMP, sequence);
        self.socket.send(&send, 0).map_err(io_error)?;

        let mut messages = Vec::new();
        loop {
            self.receive.clear();
            self.socket.recv(&mut self.receive, 0).map_err(io_error)?;
            let mut offset = 0;
            while offset < self.receive.len() {
                let message =
                    NetlinkMessage::<RouteNetlinkMessage>::deserialize(&self.receive[offset..])
                        .map_err(|error| {
                            PlaneError::Io(format!("invalid netlink message in dump: {error}"))
                        })?;
                offset += aligned(message.header.length as usize);
                if message.header.sequence_number != sequence {
                    continue;
                }
                match message.payload {
                    NetlinkPayload::InnerMessage(inner) => messages.push(inner),
                    NetlinkPayload::Done(_) => return Ok(messages),
                    NetlinkPayload::Error(error) => {
                        let errno = error.code.map(|code| -code.get()).unwrap_or(0);
                        return Err(kernel_error(errno, &error.header));
                    }
                    _ => {}
                }
                if message.header.length == 0 {
                    break;
                }
            }
        }
    }

    /// Sends one request and returns its reply messages (for a `GET` of a single object) or the
    /// error.
    pub fn request(
        &mut self,
        message: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>, PlaneError> {
        let sequence = self.next_sequence();
        let mut send = Vec::new();
        append(
            &mut send,
            message,
            NLM_F_REQUEST | NLM_F_ACK | flags,
            sequence,
        );
        self.socket.send(&send, 0).map_err(io_error)?;
        let mut messages = Vec::new();
        loop {
            self.receive.clear();
            self.socket.recv(&mut self.receive, 0).map_err(io_error)?;
            let mut offset = 0;
            while offset < self.receive.len() {
                let message =
                    NetlinkMessage::<RouteNetlinkMessage>::deserialize(&self.receive[offset..])
                        .map_err(|error| {
                            PlaneError::Io(format!("invalid netlink reply: {error}"))
                        })?;
                offset += aligned(message.header.length.max(1) as usize);
                if message.header.sequence_number != sequence {
                    continue;
                }
                match message.payload {
                    NetlinkPayload::InnerMessage(inner) => messages.push(inner),
                    NetlinkPayload::Error(error) => {
                        return match error.code {
                            None => Ok(messages),
                            Some(code) => Err(kernel_error(-code.get(), &error.header)),
                        };
                    }
                    NetlinkPayload::Done(_) => return Ok(messages),
                    _ => {}
                }
            }
        }
    }

    /// Receives one datagram of multicast notifications; `Ok(None)` after the receive timeout.
    pub fn receive_notifications(&mut self) -> io::Result<Option<Vec<RouteNetlinkMessage>>> {
        self.receive.clear();
        match self.socket.recv(&mut self.receive, 0) {
            Ok(_) => {}
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(None);
            }
            Err(error) => return Err(error),
        }
        let mut messages = Vec::new();
        let mut offset = 0;
        while offset < self.receive.len() {
            let Ok(message) =
                NetlinkMessage::<RouteNetlinkMessage>::deserialize(&self.receive[offset..])
            else {
                // A message this version of netlink-packet-route cannot parse; skip the rest.
                break;
            };
            offset += aligned(message.header.length.max(1) as usize);
            if let NetlinkPayload::InnerMessage(inner) = message.payload {
                messages.push(inner);
            }
        }
        Ok(Some(messages))
    }

    fn next_sequence(&mut self) -> u32 {
        self.sequence = self.sequence.wrapping_add(1).max(1);
        self.sequence
    }

    /// Receives one datagram and records the replies it carries.
    fn read_replies(
        &mut self,
        in_flight: &mut HashMap<u32, usize>,
        replies: &mut [Option<Reply>],
    ) -> io::Result<()> {
        self.receive.clear();
        self.socket.recv(&mut self.receive, 0)?;
        let mut offset = 0;
        while offset < self.receive.len() {
            let message =
                match NetlinkMessage::<RouteNetlinkMessage>::deserialize(&self.receive[offset..]) {
                    Ok(message) => message,
                    Err(error) => {
                        tracing::debug!(%error, "dropped unparsable netlink reply");
                        break;
                    }
                };
            offset += aligned(message.header.length.max(1) as usize);
            let NetlinkPayload::Error(error) = message.payload else {
                continue;
            };
            let Some(index) = in_flight.remove(&message.header.sequence_number) else {
                continue;
            };
            replies[index] = Some(match error.code {
                None => Reply::Ok,
                Some(code) => {
                    let PlaneError::Kernel { errno, message } =
                        kernel_error(-code.get(), &error.header)
                    else {
                        unreachable!("kernel_error returns PlaneError::Kernel");
                    };
                    Reply::Error { errno, message }
                }
            });
        }
        Ok(())
    }
}

fn append(buffer: &mut Vec<u8>, message: RouteNetlinkMessage, flags: u16, sequence: u32) {
    let mut header = NetlinkHeader::default();
    header.flags = flags;
    header.sequence_number = sequence;
    let mut message = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(message));
    message.finalize();
    let start = buffer.len();
    let length = message.buffer_len();
    buffer.resize(start + aligned(length), 0);
    message.serialize(&mut buffer[start..start + length]);
}

fn aligned(length: usize) -> usize {
    (length + 3) & !3
}

fn fail_all(
    replies: &mut [Option<Reply>],
    in_flight: &mut HashMap<u32, usize>,
    sequences: &[u32],
    error: &io::Error,
) {
    for sequence in sequences {
        if let Some(index) = in_flight.remove(sequence) {
            replies[index] = Some(Reply::Error {
                errno: error.raw_os_error().unwrap_or(0),
                message: error.to_string(),
            });
        }
    }
}

/// Builds the error for `errno`, with the kernel's extended acknowledgement message when
/// the kernel sent one. `payload` is what follows the error code: the request's header (the
/// request itself is capped) and the extended acknowledgement attributes.
fn kernel_error(errno: i32, payload: &[u8]) -> PlaneError {
    let mut message = io::Error::from_raw_os_error(errno).to_string();
    if let Some(attributes) = payload.get(NETLINK_HEADER_LEN..) {
        for attribute in NlasIterator::new(attributes).flatten() {
            if attribute.kind() == NLMSGERR_ATTR_MSG {
                let text = String::from_utf8_lossy(attribute.value());
                message = format!("{message}: {}", text.trim_end_matches('\0'));
            }
        }
    }
    PlaneError::Kernel { errno, message }
}

fn io_error(error: io::Error) -> PlaneError {
    PlaneError::Io(error.to_string())
}

fn set_receive_buffer(socket: &Socket, size: usize) {
    let size = size as libc::c_int;
    // SO_RCVBUFFORCE needs CAP_NET_ADMIN; without it, SO_RCVBUF is capped by rmem_max.
    if setsockopt(socket, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &size).is_err() {
        let _ = setsockopt(socket, libc::SOL_SOCKET, libc::SO_RCVBUF, &size);
    }
}

fn setsockopt<T>(
    socket: &Socket,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: `value` points to a live `T` of the given size for the duration of the call.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
