//! Network namespaces: running code on a thread that has entered one (sockets opened there stay
//! bound to it), and creating or deleting named namespaces as `ip netns` does.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, setns, unshare};

/// Directory of the named namespaces of iproute2.
pub const NETNS_RUN_DIR: &str = "/run/netns";

/// A network namespace, named by its file.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Namespace {
    /// The namespace of the process that created the plane.
    Current,
    /// A namespace bound at this path, for example `/run/netns/vrf100`.
    Path(PathBuf),
}

impl Namespace {
    /// Returns the namespace that `ip netns` names `name`, that is `/run/netns/<name>`.
    pub fn named(name: &str) -> Namespace {
        Namespace::Path(Path::new(NETNS_RUN_DIR).join(name))
    }

    /// Opens the namespace. [`Namespace::Current`] is the calling thread's namespace, which
    /// the handle keeps referring to whichever thread uses it.
    pub fn open(&self) -> io::Result<NamespaceHandle> {
        let path = match self {
            Namespace::Current => Path::new("/proc/thread-self/ns/net"),
            Namespace::Path(path) => path.as_path(),
        };
        let file = File::open(path).map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("cannot open namespace {}: {error}", path.display()),
            )
        })?;
        Ok(NamespaceHandle(Arc::new(file)))
    }

    /// Runs `work` on a new thread inside this namespace and returns its result.
    pub fn run<T, F>(&self, work: F) -> io::Result<T>
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        self.open()?.run(work)
    }
}

/// An open network namespace: a descriptor that keeps it alive and lets threads enter it.
#[derive(Clone, Debug)]
pub struct NamespaceHandle(Arc<File>);

impl NamespaceHandle {
    /// Runs `work` on a new thread inside this namespace and returns its result.
    ///
    /// Only that thread changes namespace; the caller's thread stays where it is. Sockets
    /// that `work` opens belong to the namespace for their whole life.
    pub fn run<T, F>(&self, work: F) -> io::Result<T>
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        let file = Arc::clone(&self.0);
        std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    setns(file.as_fd(), CloneFlags::CLONE_NEWNET)?;
                    Ok(work())
                })
                .join()
                .map_err(|_| io::Error::other("thread running in a namespace panicked"))?
        })
    }

    /// Moves the calling thread into this namespace for good (for threads the plane starts,
    /// such as event monitors).
    pub fn enter(&self) -> io::Result<()> {
        setns(self.0.as_fd(), CloneFlags::CLONE_NEWNET)?;
        Ok(())
    }

    /// Returns the namespace's file descriptor, as `IFLA_NET_NS_FD` takes it.
    pub fn as_raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.0.as_raw_fd()
    }
}

/// Creates the named namespace `/run/netns/<name>` with its loopback down, as
/// `ip netns add <name>` does. It fails when the name exists.
pub fn create_namespace(name: &str) -> io::Result<Namespace> {
    std::fs::create_dir_all(NETNS_RUN_DIR)?;
    share_run_dir()?;
    let path = Path::new(NETNS_RUN_DIR).join(name);
    File::options().write(true).create_new(true).open(&path)?;

    let target = path.clone();
    let bound = std::thread::spawn(move || -> io::Result<()> {
        unshare(CloneFlags::CLONE_NEWNET)?;
        let source = format!("/proc/self/task/{}/ns/net", nix::unistd::gettid());
        mount(
            Some(source.as_str()),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )?;
        Ok(())
    })
    .join()
    .map_err(|_| io::Error::other("thread creating a namespace panicked"))?;
    if let Err(error) = bound {
        let _ = std::fs::remove_file(&path);
        return Err(error);
    }
    Ok(Namespace::Path(path))
}

/// Makes the namespace directory a shared mount, as iproute2 does before its first namespace,
/// so that namespaces bound later also appear in mount namespaces copied from this one (those
/// of `ip netns exec`).
fn share_run_dir() -> io::Result<()> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")?;
    let mounted = mountinfo
        .lines()
        .any(|line| line.split(' ').nth(4) == Some(NETNS_RUN_DIR));
    if !mounted {
        mount(
            Some(NETNS_RUN_DIR),
            NETNS_RUN_DIR,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )?;
    }
    mount(
        None::<&str>,
        NETNS_RUN_DIR,
        None::<&str>,
        MsFlags::MS_SHARED | MsFlags::MS_REC,
        None::<&str>,
    )?;
    Ok(())
}

/// Deletes the named namespace `/run/netns/<name>`, as `ip netns del <name>` does. The kernel
/// frees it once no process or socket uses it any more.
pub fn delete_namespace(name: &str) -> io::Result<()> {
    let path = Path::new(NETNS_RUN_DIR).join(name);
    umount2(&path, MntFlags::MNT_DETACH)?;
    std::fs::remove_file(&path)
}
