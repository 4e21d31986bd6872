// SPDX-License-Identifier: GPL-2.0

//! Nodes: what kdbusfs shows.
//!
//! A node is the core shared by the domain (the root directory), the
//! `control` file, buses (directories) and endpoints (files). It has a name
//! unique among its siblings, an inode number from one module-wide
//! allocator, a fixed mode and owner, a parent and children, and a life
//! cycle (`fs-bus-endpoint.md` §3):
//!
//! ```text
//! NEW --link--> LINKED --activate--> ACTIVE --deactivate--> INACTIVE --> RELEASED
//! ```
//!
//! Only ACTIVE nodes are found by lookup and listing, and only they hand out
//! *active references* ([`ActiveRef`]): short-lived tokens held while a task
//! works on the node. Deactivation forbids new tokens, waits for the old ones,
//! deactivates the children, runs the node's release action once, and removes
//! the node from its parent, which frees its name.
//!
//! Memory lifetime is separate: nodes are reference counted ([`Arc`]);
//! children keep their parents alive, parents keep children only while they
//! are linked.
//!
//! # Locking
//!
//! Each node has one mutex, `inner`, for its state and its children. No path
//! holds two node locks at once: deactivation locks the node, then (after
//! unlocking it) the parent. See `Documentation/kdbus/lifetimes.rst` for the
//! module-wide lock order.

use crate::kext::prelude::*;
use kernel::{
    alloc::KVec,
    new_condvar, new_mutex,
    sync::{
        atomic::{ordering, Atomic},
        Arc, CondVar, Mutex,
    },
    task::Kuid,
};

use crate::{bus::Bus, domain::Domain, endpoint::Endpoint, kext::Kgid};

/// The module-wide node ID allocator: a bitmap, smallest free ID first.
struct NodeIds {
    /// Bit `i` of word `w` set: ID `w * 64 + i` is in use (ID 0 is never
    /// handed out).
    words: KVec<u64>,
}

kernel::sync::global_lock! {
    // SAFETY: `init_ids` is called from the module initializer, before any
    // node exists.
    unsafe(uninit) static NODE_IDS: Mutex<NodeIds> = NodeIds { words: KVec::new() };
}

/// Initialises the module-wide node ID (inode number) allocator.
///
/// # Safety
///
/// Must be called exactly once, from module init, before any node is made.
pub(crate) unsafe fn init_ids() {
    // SAFETY: Called once, before first use, as our caller promises.
    unsafe { NODE_IDS.init() };
}

/// Largest node ID (inode numbers are positive 31-bit values).
const NODE_ID_MAX: usize = i32::MAX as usize;

/// Allocates the smallest free node ID, starting at 1.
fn alloc_id() -> Result<u32> {
    let mut ids = NODE_IDS.lock();
    if ids.words.is_empty() {
        // ID 0 is reserved.
        ids.words.push(1, GFP_KERNEL)?;
    }
    let w = match ids.words.iter().position(|&w| w != u64::MAX) {
        Some(w) => w,
        None => {
            ids.words.push(0, GFP_KERNEL)?;
            ids.words.len() - 1
        }
    };
    let bit = ids.words[w].trailing_ones() as usize;
    let id = w * 64 + bit;
    if id > NODE_ID_MAX {
        return Err(ENOSPC);
    }
    ids.words[w] |= 1 << bit;
    u32::try_from(id).map_err(|_| ENOSPC)
}

/// Frees the allocator's memory at module exit (no node exists then).
pub(crate) fn exit_ids() {
    NODE_IDS.lock().words = KVec::new();
}

fn free_id(id: u32) {
    let id = id as usize;
    let mut ids = NODE_IDS.lock();
    if let Some(w) = ids.words.get_mut(id / 64) {
        *w &= !(1u64 << (id % 64));
    }
}

/// What a node is, with the object it stands for.
pub(crate) enum NodeObject {
    /// The root directory of a mount.
    Domain(Arc<Domain>),
    /// The `control` file.
    Control,
    /// A bus directory.
    Bus(Arc<Bus>),
    /// The default endpoint `bus` or a custom endpoint.
    Endpoint(Arc<Endpoint>),
}

/// Life cycle states (`fs-bus-endpoint.md` §3.2).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    New,
    Linked,
    Active,
    /// Deactivation has started; the deactivating task owns the teardown.
    Inactive,
    Released,
}

struct NodeInner {
    state: State,
    /// Whether the node was ever active; release actions that undo
    /// activation-time effects run only then.
    was_active: bool,
    /// Linked children, in link order.
    children: KVec<Arc<Node>>,
}

/// Bias added to [`Gate::count`] while the gate is closed: any value below
/// zero refuses new entries, and the value reaches exactly `BIAS` when the
/// last task inside leaves.
const BIAS: i32 = i32::MIN / 2;

/// An "active reference" counter: tasks enter while it is open; closing it
/// refuses new entries and waits until everyone inside has left. Nodes
/// (`fs-bus-endpoint.md` §3.3) and connections (`connection-pool.md` §5.3)
/// use one each.
///
/// # Invariants
///
/// `count` is `>= 0` (the number of tasks inside) while open; otherwise it
/// is `BIAS` plus the number of tasks still inside.
#[pin_data]
pub(crate) struct Gate {
    count: Atomic<i32>,
    #[pin]
    lock: Mutex<()>,
    #[pin]
    drained: CondVar,
}

impl Gate {
    /// A closed gate (nobody can enter before [`Gate::open`]).
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Gate {
            count: Atomic::new(BIAS),
            lock <- new_mutex!(()),
            drained <- new_condvar!(),
        })
    }

    /// Opens a closed gate. Must be called at most once.
    pub(crate) fn open(&self) {
        self.count.fetch_sub(BIAS, ordering::Release);
    }

    pub(crate) fn is_open(&self) -> bool {
        self.count.load(ordering::Relaxed) >= 0
    }

    /// Enters the gate; `false` if it is closed.
    #[must_use]
    pub(crate) fn enter(&self) -> bool {
        let mut v = self.count.load(ordering::Relaxed);
        loop {
            if v < 0 {
                return false;
            }
            match self.count.cmpxchg(v, v + 1, ordering::Acquire) {
                Ok(_) => return true,
                Err(cur) => v = cur,
            }
        }
    }

    /// Leaves the gate after a successful [`Gate::enter`].
    pub(crate) fn leave(&self) {
        let old = self.count.fetch_sub(1, ordering::Release);
        if old - 1 == BIAS {
            // Notify under the lock so a closer cannot miss the wake-up.
            let _guard = self.lock.lock();
            self.drained.notify_all();
        }
    }

    /// Closes an open gate (returns `false` if it was not open) and waits
    /// until every task inside has left. Only one caller may close a gate;
    /// callers serialise that themselves.
    pub(crate) fn close_and_wait(&self) -> bool {
        let mut v = self.count.load(ordering::Relaxed);
        let was_open = loop {
            if v < 0 {
                break false;
            }
            match self.count.cmpxchg(v, v + BIAS, ordering::Relaxed) {
                Ok(_) => break true,
                Err(cur) => v = cur,
            }
        };
        let mut guard = self.lock.lock();
        while self.count.load(ordering::Acquire) != BIAS {
            self.drained.wait(&mut guard);
        }
        was_open
    }
}

/// A node of kdbusfs.
///
/// # Invariants
///
/// - `active` is open exactly while the state is [`State::Active`].
/// - `id` is allocated from `NODE_IDS` and owned by this node until drop.
/// - `parent` is `None` only for a domain.
#[pin_data(PinnedDrop)]
pub(crate) struct Node {
    id: u32,
    name: KVec<u8>,
    mode: u16,
    uid: Kuid,
    gid: Kgid,
    parent: Option<Arc<Node>>,
    object: NodeObject,
    #[pin]
    active: Gate,
    #[pin]
    inner: Mutex<NodeInner>,
    /// Signalled when the node is released.
    #[pin]
    changed: CondVar,
}

impl Node {
    /// Creates a NEW node. `name` is copied; `mode` includes the file type.
    pub(crate) fn new(
        name: &[u8],
        mode: u16,
        uid: Kuid,
        gid: Kgid,
        parent: Option<Arc<Node>>,
        object: NodeObject,
    ) -> Result<Arc<Node>> {
        let owned = crate::copy_bytes(name)?;
        let id = alloc_id()?;
        let node = Arc::pin_init(
            try_pin_init!(Node {
                id,
                name: owned,
                mode,
                uid,
                gid,
                parent,
                object,
                active <- Gate::new(),
                inner <- new_mutex!(NodeInner {
                    state: State::New,
                    was_active: false,
                    children: KVec::new(),
                }),
                changed <- new_condvar!(),
            }),
            GFP_KERNEL,
        );
        if node.is_err() {
            free_id(id);
        }
        node
    }

    /// The inode number.
    pub(crate) fn id(&self) -> u32 {
        self.id
    }

    /// The name (without NUL); empty for a domain.
    pub(crate) fn name(&self) -> &[u8] {
        &self.name
    }

    /// Mode bits including the file type.
    pub(crate) fn mode(&self) -> u16 {
        self.mode
    }

    pub(crate) fn uid(&self) -> Kuid {
        self.uid
    }

    pub(crate) fn gid(&self) -> Kgid {
        self.gid
    }

    pub(crate) fn parent(&self) -> Option<&Arc<Node>> {
        self.parent.as_ref()
    }

    pub(crate) fn object(&self) -> &NodeObject {
        &self.object
    }

    /// The domain this node belongs to (`None` only for a node that is not
    /// in a tree, which does not happen after creation).
    pub(crate) fn domain(&self) -> Option<&Domain> {
        let mut node = self;
        loop {
            if let NodeObject::Domain(d) = &node.object {
                return Some(d);
            }
            node = node.parent.as_deref()?;
        }
    }

    /// The bus of a bus or endpoint node.
    pub(crate) fn bus(&self) -> Option<&Arc<Bus>> {
        match &self.object {
            NodeObject::Bus(b) => Some(b),
            NodeObject::Endpoint(_) => match self.parent.as_deref().map(|p| &p.object) {
                Some(NodeObject::Bus(b)) => Some(b),
                _ => None,
            },
            _ => None,
        }
    }

    /// The endpoint of an endpoint node.
    pub(crate) fn endpoint(&self) -> Option<&Arc<Endpoint>> {
        match &self.object {
            NodeObject::Endpoint(e) => Some(e),
            _ => None,
        }
    }

    /// Whether lookup and listing may show this node.
    pub(crate) fn is_active(&self) -> bool {
        self.active.is_open()
    }

    /// Takes an active reference, or `None` if the node is not active.
    pub(crate) fn acquire_active(self: &Arc<Self>) -> Option<ActiveRef> {
        if self.active.enter() {
            Some(ActiveRef { node: self.clone() })
        } else {
            None
        }
    }

    /// Links `child` under `self`: reserves its name.
    ///
    /// Fails `ESHUTDOWN` if `self` is not active (a domain root counts as
    /// active from mount to unmount) and `EEXIST` if a child of that name is
    /// linked (active, being created or being torn down).
    pub(crate) fn link_child(&self, child: &Arc<Node>) -> Result {
        let mut inner = self.inner.lock();
        if inner.state != State::Active {
            return Err(ESHUTDOWN);
        }
        if inner.children.iter().any(|c| c.name == child.name) {
            return Err(EEXIST);
        }
        inner.children.push(child.clone(), GFP_KERNEL)?;
        drop(inner);
        let mut cinner = child.inner.lock();
        if cinner.state == State::New {
            cinner.state = State::Linked;
        }
        Ok(())
    }

    /// Marks a domain root LINKED: it has no parent to be linked under.
    pub(crate) fn link_root(&self) {
        let mut inner = self.inner.lock();
        if inner.state == State::New && self.parent.is_none() {
            inner.state = State::Linked;
        }
    }

    /// Makes a LINKED node ACTIVE. Fails `ESHUTDOWN` if deactivation started.
    pub(crate) fn activate(&self) -> Result {
        let mut inner = self.inner.lock();
        match inner.state {
            State::Linked => {
                inner.state = State::Active;
                inner.was_active = true;
                self.active.open();
                Ok(())
            }
            State::Active => Ok(()),
            _ => Err(ESHUTDOWN),
        }
    }

    /// Finds the active child called `name`.
    pub(crate) fn find_active_child(&self, name: &[u8]) -> Option<Arc<Node>> {
        if !self.is_active() {
            return None;
        }
        let inner = self.inner.lock();
        inner
            .children
            .iter()
            .find(|c| c.name == name && c.is_active())
            .cloned()
    }

    /// The active child with the smallest ID greater than `after`, for
    /// readdir (node IDs are stable positions, `fs-bus-endpoint.md` §12 D3).
    pub(crate) fn next_active_child(&self, after: u32) -> Option<Arc<Node>> {
        if !self.is_active() {
            return None;
        }
        let inner = self.inner.lock();
        inner
            .children
            .iter()
            .filter(|c| c.id > after && c.is_active())
            .min_by_key(|c| c.id)
            .cloned()
    }

    /// Deactivates the node (`fs-bus-endpoint.md` §3.4) and returns once it
    /// is completely released, whoever started the deactivation.
    pub(crate) fn deactivate(self: &Arc<Self>) {
        let mut inner = self.inner.lock();
        match inner.state {
            State::Released => return,
            State::Inactive => {
                // Another task is tearing this node down: wait for it.
                while inner.state != State::Released {
                    self.changed.wait(&mut inner);
                }
                return;
            }
            State::Active | State::New | State::Linked => {}
        }
        let closing_active = inner.state == State::Active;
        inner.state = State::Inactive;
        let was_active = inner.was_active;
        drop(inner);
        // 1, 2. No new active references; wait for the old ones.
        if closing_active {
            self.active.close_and_wait();
        }

        // 3. Deactivate the children, one at a time; each removes itself.
        loop {
            let child = self.inner.lock().children.first().cloned();
            match child {
                Some(child) => child.deactivate(),
                None => break,
            }
        }

        // 4. The release action, exactly once (we own the teardown).
        match &self.object {
            NodeObject::Bus(bus) => bus.release(was_active),
            NodeObject::Endpoint(ep) => ep.release(),
            NodeObject::Domain(_) | NodeObject::Control => {}
        }

        // 5. Leave the parent: the name is free from now on.
        if let Some(parent) = &self.parent {
            parent
                .inner
                .lock()
                .children
                .retain(|c| !Arc::ptr_eq(c, self));
            if matches!(self.object, NodeObject::Bus(_) | NodeObject::Endpoint(_)) {
                if let Some(domain) = self.domain() {
                    domain.flush(self.id);
                }
            }
        }

        // 6. Released; wake every other deactivator.
        let mut inner = self.inner.lock();
        inner.state = State::Released;
        self.changed.notify_all();
    }
}

#[pinned_drop]
impl PinnedDrop for Node {
    fn drop(self: Pin<&mut Self>) {
        free_id(self.id);
    }
}

/// An active reference on a node: while it exists, deactivation of the node
/// waits (`fs-bus-endpoint.md` §3.3).
pub(crate) struct ActiveRef {
    node: Arc<Node>,
}

impl ActiveRef {
    pub(crate) fn node(&self) -> &Arc<Node> {
        &self.node
    }
}

impl Drop for ActiveRef {
    fn drop(&mut self) {
        self.node.active.leave();
    }
}

#[kunit_tests(kdbus_node)]
mod tests {
    use super::*;
    use kernel::alloc::KBox;

    #[test]
    fn gate_starts_closed_and_opens() {
        let Ok(gate) = KBox::pin_init(Gate::new(), GFP_KERNEL) else {
            return;
        };
        assert!(!gate.is_open());
        assert!(!gate.enter());
        gate.open();
        assert!(gate.is_open());
        assert!(gate.enter());
        assert!(gate.enter());
        gate.leave();
        gate.leave();
    }

    #[test]
    fn gate_close_refuses_new_entries() {
        let Ok(gate) = KBox::pin_init(Gate::new(), GFP_KERNEL) else {
            return;
        };
        gate.open();
        // Nobody inside: closing returns at once, and only the first close
        // reports that the gate was open.
        assert!(gate.close_and_wait());
        assert!(!gate.is_open());
        assert!(!gate.enter());
        assert!(!gate.close_and_wait());
    }

    #[test]
    fn gate_never_opened_closes_at_once() {
        let Ok(gate) = KBox::pin_init(Gate::new(), GFP_KERNEL) else {
            return;
        };
        assert!(!gate.close_and_wait());
        assert!(!gate.enter());
    }
}
