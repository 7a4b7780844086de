//! The per-CPU deadline structure behind [`crate::timer`]: a fixed-depth 64-ary bitmap trie
//! over the 64 bits of the absolute deadline.
//!
//! # Why this structure
//! The contract is: arm and cancel cost must not grow with the number `N` of pending timers
//! (the benchmark wants the cost at N = 4096 within 1.2x of N = 16), expiry must be amortised
//! O(1), and the hardware must be programmed for the *exact* earliest deadline (tickless, no
//! rounding to a tick, never early).
//!
//! - A balanced tree or heap (the previous `BTreeMap`, a binary heap) costs O(log N) per
//!   operation: at N = 4096 that is ~3x the work of N = 16, so it misses the 1.2x target.
//!   A pairing heap is O(1) to insert but its delete-min is only amortised O(log N).
//! - A hierarchical timing wheel is O(1) to arm and cancel, but a slot above level 0 holds a
//!   *range* of deadlines: knowing the exact earliest one means either scanning that slot
//!   (O(N) in the worst case, e.g. cancelling the earliest of 4096 timers in one slot) or
//!   cascading ahead of the current time, after which a new, earlier deadline no longer fits
//!   the wheel's base. Rounding the hardware deadline to the slot start fires early instead.
//! - A **radix trie over the deadline bits** has neither problem. The key is the absolute
//!   deadline, so there is no base time to move: a deadline in the past is just the smallest key
//!   (the hardware then fires at once) and `u64::MAX` is just the largest. Every node keeps a
//!   64-bit bitmap of its non-empty children, so the earliest deadline is found by following
//!   the lowest set bit (`trailing_zeros`) from the root: exact, and never a scan.
//!
//! Every deadline lives at the same depth: 11 levels of 6 bits (the root holds the top 4 bits).
//! So every operation touches at most [`LEVELS`] nodes on one root-to-leaf path, whatever `N`:
//! - **arm**: walk down, creating missing nodes, and append to the leaf slot's FIFO list
//!   (timers with equal deadlines fire in arm order): at most `LEVELS` node visits.
//! - **cancel**: unlink from the FIFO list in O(1); if the deadline's list is now empty, clear
//!   its bit and free the nodes that became empty on the way up (at most `LEVELS`); if it held
//!   the cached earliest deadline, find the new earliest by one walk down (at most `LEVELS`).
//! - **expire**: the cached earliest leaf gives the first due timer at once; removing it is a
//!   cancel. So each expiry is O(1) (bounded by `2 * LEVELS` node visits).
//!
//! Arming starts from a *finger*: the path of the last armed deadline, kept while its nodes
//! live. The walk begins at the deepest node shared with that deadline (found from the highest
//! differing bit of the two deadlines), so re-arming the same or a nearby deadline touches one
//! or two nodes instead of eleven. It only shortens walks; the bound above is unchanged.
//!
//! The path length is fixed rather than depending on how many keys share a prefix, so the
//! cost does not even creep up with N the way a path-compressed trie's would (with more timers,
//! more of the path already exists, so arming gets slightly cheaper if anything).
//!
//! # Memory
//! Nodes and timer entries live in two slabs (`Vec`s with free lists) and link to each other by
//! `u32` index, not by pointer (no `unsafe`). Steady-state arm/cancel allocates nothing: freed
//! nodes and entries are reused. A node is 268 bytes; a sparse timer (no neighbour within
//! 2^12 ticks) costs about two nodes of its own, so 4096 spread-out timers take ~2-3 MiB.
//! The slabs keep their high-water size (no shrinking), like a pre-sized pool.
//!
//! # Stale ids
//! Every arm gets a fresh 64-bit sequence number, stored in the entry and in its [`Handle`].
//! A handle only cancels an entry whose sequence number still matches, so a stale handle can
//! never cancel a timer that reused its slot.

use alloc::vec::Vec;

/// Bits of the deadline per trie level.
const BITS: usize = 6;
/// Children per node.
const FAN: usize = 1 << BITS;
/// Trie depth: levels 0 (leaves, the low 6 bits) to 10 (the root, the top 4 bits).
pub(crate) const LEVELS: usize = 11;
/// Index of nothing (a node's child slot not in use, an empty free list).
const NIL: u32 = u32::MAX;
/// The root node's index (created by the first arm, never freed until `clear`).
const ROOT: u32 = 0;
/// The root's level.
const ROOT_LEVEL: usize = LEVELS - 1;

/// The child index of `deadline` in a node at `level`.
fn digit(deadline: u64, level: usize) -> usize {
    ((deadline >> (BITS * level)) & (FAN as u64 - 1)) as usize
}

/// A trie node. At level 0 `child[d]` is the head of the FIFO list of entries with that exact
/// deadline; above, it is a child node. Only slots whose bit is set in `bits` are meaningful.
struct Node {
    bits: u64,
    /// Parent node (`NIL` for the root); the next free node while on the free list.
    parent: u32,
    child: [u32; FAN],
}

/// An armed timer: a member of a circular doubly-linked list of equal deadlines.
struct Entry<T> {
    deadline: u64,
    seq: u64,
    prev: u32,
    /// Next in the list; the next free entry while on the free list.
    next: u32,
    /// The leaf node holding the list.
    leaf: u32,
    /// `None` while the entry is free.
    value: Option<T>,
}

/// Identifies an armed entry of a [`TimerQueue`]; a stale handle is rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Handle {
    index: u32,
    seq: u64,
}

/// Pending timers ordered by `(deadline, arm order)`, with O(1) arm, cancel and expiry.
pub(crate) struct TimerQueue<T> {
    nodes: Vec<Node>,
    free_node: u32,
    entries: Vec<Entry<T>>,
    free_entry: u32,
    len: usize,
    seq: u64,
    /// The earliest pending deadline and the leaf holding it.
    earliest: Option<u64>,
    first_leaf: u32,
    /// The finger: the root-to-leaf path of the last armed deadline, `path[level]` being its
    /// node at `level`, valid for the levels `>= path_lo` (nodes below were freed since).
    path: [u32; LEVELS],
    path_deadline: u64,
    path_lo: usize,
    /// Nodes visited by walks up or down the trie (the work measure of the tests).
    #[cfg(test)]
    pub(crate) visits: u64,
}

fn idx(i: u32) -> usize {
    i as usize
}

impl<T> TimerQueue<T> {
    /// An empty queue (allocates nothing).
    pub(crate) const fn new() -> Self {
        Self {
            nodes: Vec::new(),
            free_node: NIL,
            entries: Vec::new(),
            free_entry: NIL,
            len: 0,
            seq: 0,
            earliest: None,
            first_leaf: NIL,
            path: [ROOT; LEVELS],
            path_deadline: 0,
            path_lo: ROOT_LEVEL,
            #[cfg(test)]
            visits: 0,
        }
    }

    #[inline(always)]
    fn visit(&mut self) {
        #[cfg(test)]
        {
            self.visits += 1;
        }
    }

    /// Node slots in the slab, free or not (host tests: freed nodes are reused).
    #[cfg(test)]
    pub(crate) fn node_slots(&self) -> usize {
        self.nodes.len()
    }

    /// Number of pending entries.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is pending.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The earliest pending deadline (exact).
    pub(crate) fn earliest(&self) -> Option<u64> {
        self.earliest
    }

    fn alloc_node(&mut self, parent: u32) -> u32 {
        if self.free_node != NIL {
            let i = self.free_node;
            let n = &mut self.nodes[idx(i)];
            self.free_node = n.parent;
            n.parent = parent;
            n.bits = 0; // stale `child` entries are masked by `bits`
            i
        } else {
            let i = u32::try_from(self.nodes.len()).expect("timer: too many nodes");
            self.nodes.push(Node {
                bits: 0,
                parent,
                child: [NIL; FAN],
            });
            i
        }
    }

    fn alloc_entry(&mut self, deadline: u64, seq: u64, leaf: u32, value: T) -> u32 {
        if self.free_entry != NIL {
            let i = self.free_entry;
            let e = &mut self.entries[idx(i)];
            self.free_entry = e.next;
            e.deadline = deadline;
            e.seq = seq;
            e.leaf = leaf;
            e.value = Some(value);
            i
        } else {
            let i = u32::try_from(self.entries.len()).expect("timer: too many entries");
            self.entries.push(Entry {
                deadline,
                seq,
                prev: NIL,
                next: NIL,
                leaf,
                value: Some(value),
            });
            i
        }
    }

    /// Adds an entry for `deadline`; equal deadlines come out in arm order.
    pub(crate) fn arm(&mut self, deadline: u64, value: T) -> Handle {
        if self.nodes.is_empty() {
            self.alloc_node(NIL);
        }
        // Start from the deepest node of the finger path that `deadline` shares: the level of
        // the highest digit where it differs from the last armed deadline, if that node is
        // still there. Equal or nearby deadlines skip most of the walk from the root.
        let diff = deadline ^ self.path_deadline;
        let shared = if diff == 0 {
            0
        } else {
            (63 - diff.leading_zeros() as usize) / BITS
        };
        let start = shared.max(self.path_lo);
        let mut n = self.path[start];
        for level in (1..=start).rev() {
            self.visit();
            let d = digit(deadline, level);
            let node = &self.nodes[idx(n)];
            n = if node.bits & (1 << d) != 0 {
                node.child[d]
            } else {
                let c = self.alloc_node(n);
                let node = &mut self.nodes[idx(n)];
                node.bits |= 1 << d;
                node.child[d] = c;
                c
            };
            self.path[level - 1] = n;
        }
        self.path_deadline = deadline;
        self.path_lo = 0;
        self.visit();
        let seq = self.seq;
        self.seq += 1;
        let e = self.alloc_entry(deadline, seq, n, value);
        let d = digit(deadline, 0);
        let leaf = &mut self.nodes[idx(n)];
        if leaf.bits & (1 << d) == 0 {
            leaf.bits |= 1 << d;
            leaf.child[d] = e;
            let en = &mut self.entries[idx(e)];
            en.prev = e;
            en.next = e;
        } else {
            // Append at the tail of the circular list (the head's predecessor).
            let head = leaf.child[d];
            let tail = self.entries[idx(head)].prev;
            self.entries[idx(tail)].next = e;
            self.entries[idx(head)].prev = e;
            let en = &mut self.entries[idx(e)];
            en.prev = tail;
            en.next = head;
        }
        self.len += 1;
        if self.earliest.is_none_or(|m| deadline < m) {
            self.earliest = Some(deadline);
            self.first_leaf = n;
        }
        Handle { index: e, seq }
    }

    /// Removes the entry `h` if it is still pending, returning its value.
    pub(crate) fn cancel(&mut self, h: Handle) -> Option<T> {
        let e = self.entries.get(idx(h.index))?;
        if e.seq != h.seq || e.value.is_none() {
            return None;
        }
        Some(self.remove(h.index).1)
    }

    /// Removes the earliest entry if its deadline is `<= now` (the next timer to fire).
    pub(crate) fn pop_due(&mut self, now: u64) -> Option<(u64, T)> {
        let deadline = self.earliest.filter(|&d| d <= now)?;
        let head = self.nodes[idx(self.first_leaf)].child[digit(deadline, 0)];
        Some(self.remove(head))
    }

    fn remove(&mut self, i: u32) -> (u64, T) {
        let e = &mut self.entries[idx(i)];
        let (deadline, prev, next, leaf) = (e.deadline, e.prev, e.next, e.leaf);
        let value = e.value.take().expect("timer: removing a free entry");
        e.next = self.free_entry;
        self.free_entry = i;
        self.len -= 1;
        let d = digit(deadline, 0);
        if next != i {
            self.entries[idx(prev)].next = next;
            self.entries[idx(next)].prev = prev;
            let node = &mut self.nodes[idx(leaf)];
            if node.child[d] == i {
                node.child[d] = next;
            }
            return (deadline, value);
        }
        // The last entry with this deadline: clear its bit, free the nodes left empty (the
        // loop keeps the free list's head and the digit's shift in registers).
        self.visit();
        let nodes = &mut self.nodes[..];
        nodes[idx(leaf)].bits &= !(1 << d);
        let mut free = self.free_node;
        let mut n = leaf;
        let mut shift = 0;
        while n != ROOT {
            let node = &mut nodes[idx(n)];
            if node.bits != 0 {
                break;
            }
            let p = node.parent;
            node.parent = free;
            free = n;
            shift += BITS;
            nodes[idx(p)].bits &= !(1 << ((deadline >> shift) & (FAN as u64 - 1)));
            n = p;
        }
        self.free_node = free;
        let freed = shift / BITS;
        #[cfg(test)]
        {
            self.visits += freed as u64;
        }
        // The freed nodes are `deadline`'s path at levels `0..freed`. The finger's node at a
        // level is the same node when the two deadlines agree on every digit above it; if so
        // for the top freed level, the finger loses its nodes up to there. (Nothing freed: the
        // maximum with 0 changes nothing.)
        if (deadline ^ self.path_deadline) >> shift == 0 {
            self.path_lo = self.path_lo.max(freed);
        }
        if self.earliest == Some(deadline) {
            self.find_earliest();
        }
        (deadline, value)
    }

    /// Recomputes the cached earliest deadline: one walk down the lowest set bits.
    fn find_earliest(&mut self) {
        if self.nodes[idx(ROOT)].bits == 0 {
            self.earliest = None;
            self.first_leaf = NIL;
            return;
        }
        let mut n = ROOT;
        let mut deadline = 0u64;
        for level in (1..LEVELS).rev() {
            self.visit();
            let node = &self.nodes[idx(n)];
            let d = node.bits.trailing_zeros() as usize;
            deadline |= (d as u64) << (BITS * level);
            n = node.child[d];
        }
        self.visit();
        deadline |= u64::from(self.nodes[idx(n)].bits.trailing_zeros());
        self.earliest = Some(deadline);
        self.first_leaf = n;
    }

    /// Calls `f(deadline, value)` for every pending entry, by deadline then arm order.
    pub(crate) fn for_each(&self, mut f: impl FnMut(u64, &T)) {
        if self.is_empty() {
            return;
        }
        // Depth-first over the set bits; `stack[level]` = (node, bits not visited yet).
        let mut stack = [(NIL, 0u64); LEVELS];
        let mut level = ROOT_LEVEL;
        stack[level] = (ROOT, self.nodes[idx(ROOT)].bits);
        loop {
            let (n, rest) = stack[level];
            if rest == 0 {
                if level == ROOT_LEVEL {
                    return;
                }
                level += 1;
                continue;
            }
            let d = rest.trailing_zeros() as usize;
            stack[level].1 = rest & (rest - 1);
            let c = self.nodes[idx(n)].child[d];
            if level > 0 {
                level -= 1;
                stack[level] = (c, self.nodes[idx(c)].bits);
            } else {
                let mut e = c;
                loop {
                    let en = &self.entries[idx(e)];
                    if let Some(v) = &en.value {
                        f(en.deadline, v);
                    }
                    e = en.next;
                    if e == c {
                        break;
                    }
                }
            }
        }
    }

    /// Drops every entry (keeps the slabs' capacity).
    #[cfg(all(not(target_os = "none"), not(loom)))]
    /// The root's occupancy bits (tests: 0 once every timer is gone).
    #[cfg(test)]
    pub(crate) fn root_bits(&self) -> u64 {
        self.nodes[ROOT as usize].bits
    }

    #[cfg(all(not(target_os = "none"), not(loom)))]
    pub(crate) fn clear(&mut self) {
        self.nodes.clear();
        self.entries.clear();
        self.free_node = NIL;
        self.free_entry = NIL;
        self.len = 0;
        self.earliest = None;
        self.first_leaf = NIL;
        self.path = [ROOT; LEVELS];
        self.path_lo = ROOT_LEVEL;
    }
}
