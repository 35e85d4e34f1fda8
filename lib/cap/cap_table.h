// A process's capability table: the CapIds a process holds index into it, and each
// live slot holds the kernel object (through Handle, in the kernel a ref-counted
// pointer), the interface id the capability speaks and its flags. The table owns no
// memory: the caller supplies the slots, and their number is the process's slot
// quota. Every operation is O(1) except the constructor, for_each() and clear().
//
// Ids and generations. A CapId is a 16-bit slot index plus the 16-bit generation
// the slot had when the capability was inserted (abi/capability.h). Every release
// of a slot that held a capability (remove, finish, clear) advances its generation,
// so ids naming the old capability are Stale from then on. Generations run 1..65535 and then wrap
// to 1, skipping 0, so no id with generation 0 (in particular CapId 0) is ever
// valid. We wrap rather than retire a slot whose generation is exhausted: retiring
// would shrink a long-running server's table one slot per 65535 reuses until it
// could hold nothing. Aliasing after a wrap is made unlikely by reuse order: freed
// slots queue FIFO, so a slot comes back only after every other free slot has been
// used, and one slot's generation wraps only after capacity x 65535 releases.
//
// Slot states: Free -> Reserved (reserve) -> Live (commit) or Free (cancel);
// Free -> Live (insert); Live -> Pending (take) -> Live (restore) or Free (finish);
// Live -> Free (remove, clear).
// Only Live slots are visible to lookup(), for_each() and count().
//
// Moving a capability between tables (the sender's slot and the receiver's quota
// are both held before anything irrevocable happens; see move_to()):
//   1. receiver.reserve()   may fail (TableFull); holds a receiver slot
//   2. sender.take(id)      may fail; the sender's slot turns Pending, still owned
//   3. further checks       may fail; dropping the tokens cancels and restores,
//                           leaving both tables exactly as before (cancel puts the
//                           slot back at the head of the free queue with its
//                           generation unchanged, so cancelling in the reverse
//                           order of reserving, as destructors do, undoes it all)
//   4. record = sender.finish(std::move(taken))            cannot fail
//   5. receiver.commit(std::move(reservation), record...)  cannot fail
// Reservation and Taken are move-only tokens that undo themselves when dropped
// (cancel / restore), so an early return from TRY between steps 1 and 4 is safe.
// They are meant to live within one kernel operation, under the table's lock.
//
// Misuse that cannot be recovered traps (__builtin_trap): a token handed to a table
// it did not come from, or used twice; clear() or destruction of the table while a
// token is outstanding.
//
// Not thread-safe: the caller serialises every call (the process's table lock; both
// locks while moving between two tables). Handle must be nothrow move-constructible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <span>
#include <type_traits>
#include <utility>

#include "abi/capability.h"
#include "lib/base/result.h"

namespace capos {

using abi::CapId;

enum class CapError : uint8_t {
    InvalidId,       // generation 0, index past the table, or no capability ever had this id
    Stale,           // the slot was released since the id was issued (generation differs)
    WrongInterface,  // the capability speaks another interface than the one expected
    Pending,         // the capability is being moved (taken, not yet restored or finished)
    NotTransferable, // take() of a capability without CapFlags::Transferable
    TableFull,       // no free slot: the process's slot quota is used up
};

const char* to_string(CapError error);

enum class CapFlags : uint8_t {
    None = 0,
    Transferable = 1 << 0, // may be moved or copied to another process
};

constexpr CapFlags operator|(CapFlags a, CapFlags b) {
    return static_cast<CapFlags>(static_cast<uint8_t>(a) | static_cast<uint8_t>(b));
}

constexpr CapFlags operator&(CapFlags a, CapFlags b) {
    return static_cast<CapFlags>(static_cast<uint8_t>(a) & static_cast<uint8_t>(b));
}

// Whether every flag in wanted is set in flags.
constexpr bool has_flags(CapFlags flags, CapFlags wanted) {
    return (flags & wanted) == wanted;
}

// Passed to lookup() as the expected interface: accept whatever the capability
// speaks. Recorded for a capability, it means the capability accepts calls in
// any interface (an endpoint facet whose server decides). Cap'n Proto
// interface ids are never 0.
inline constexpr uint64_t any_interface = 0;

// The Ancestry of a table that knows no interface inheritance.
struct NoAncestry {
    static constexpr bool extends(uint64_t, uint64_t) { return false; }
};

// Ancestry says which interfaces extend which (Cap'n Proto `extends`): a type
// with `static bool extends(uint64_t interface_id, uint64_t ancestor)`, in the
// kernel the generated schema's InterfaceAncestry. A capability of an
// interface also answers calls in every interface it extends (each method
// under the id of the interface that declares it), so lookup() accepts those.
template <typename Handle, typename Ancestry = NoAncestry>
class CapTable {
    static_assert(std::is_nothrow_move_constructible_v<Handle>);
    static_assert(std::is_nothrow_destructible_v<Handle>);

    enum class State : uint8_t { Free, Reserved, Live, Pending };
    static constexpr uint32_t no_slot = UINT32_MAX;

public:
    static constexpr size_t max_capacity = CapId::max_slots;

    // Storage for one capability. Opaque: the caller only provides an array of them
    // (see the constructor) and keeps it alive as long as the table.
    class Slot {
    public:
        Slot() {}
        ~Slot() {} // the table destroys the object it holds
        Slot(const Slot&) = delete;
        Slot& operator=(const Slot&) = delete;

    private:
        friend class CapTable;
        union {
            Handle m_object; // constructed only while Live or Pending
        };
        uint64_t m_interface_id = 0;
        uint32_t m_next_free = no_slot;
        uint16_t m_generation = 1;
        State m_state = State::Free;
        CapFlags m_flags = CapFlags::None;
    };

    // A live capability, as lookup() and for_each() show it. The reference is valid
    // until the slot is removed, taken or cleared.
    struct Entry {
        Handle& object;
        uint64_t interface_id;
        CapFlags flags;
    };

    // A capability outside any table, as finish() hands it over.
    struct Record {
        Handle object;
        uint64_t interface_id;
        CapFlags flags;
    };

    // A held free slot, invisible to lookups, waiting for commit() or cancel().
    // Dropping it cancels. id() is the CapId the capability will have once
    // committed, e.g. to prepare a completion; since cancel() undoes the
    // reservation exactly, nobody may see it before commit().
    class Reservation {
    public:
        // Empty: holds nothing (e.g. a fixed array of tokens for one message).
        Reservation() = default;
        Reservation(Reservation&& other) : m_table(other.m_table), m_id(other.m_id) {
            other.m_table = nullptr;
        }
        Reservation& operator=(Reservation&& other) {
            if (this != &other) {
                drop();
                m_table = other.m_table;
                m_id = other.m_id;
                other.m_table = nullptr;
            }
            return *this;
        }
        ~Reservation() { drop(); }

        CapId id() const { return m_id; }

    private:
        friend class CapTable;
        Reservation(CapTable* table, CapId id) : m_table(table), m_id(id) {}
        void drop() {
            if (m_table)
                m_table->cancel(std::move(*this));
        }

        CapTable* m_table = nullptr;
        CapId m_id;
    };

    // A capability taken out of sight (Pending) for a move, waiting for finish()
    // or restore(). Dropping it restores. The accessors look at the capability,
    // which stays in its slot until finish().
    class Taken {
    public:
        // Empty: holds nothing.
        Taken() = default;
        Taken(Taken&& other) : m_table(other.m_table), m_id(other.m_id) { other.m_table = nullptr; }
        Taken& operator=(Taken&& other) {
            if (this != &other) {
                drop();
                m_table = other.m_table;
                m_id = other.m_id;
                other.m_table = nullptr;
            }
            return *this;
        }
        ~Taken() { drop(); }

        CapId id() const { return m_id; }
        Handle& object() const { return slot().m_object; }
        uint64_t interface_id() const { return slot().m_interface_id; }
        CapFlags flags() const { return slot().m_flags; }

    private:
        friend class CapTable;
        Taken(CapTable* table, CapId id) : m_table(table), m_id(id) {}
        Slot& slot() const { return m_table->m_slots[m_id.index()]; }
        void drop() {
            if (m_table)
                m_table->restore(std::move(*this));
        }

        CapTable* m_table = nullptr;
        CapId m_id;
    };

    // Uses the first min(storage.size(), max_capacity) slots of storage, which must
    // outlive the table and hold no object (fresh, or left by an earlier table).
    // Every slot starts Free; the free queue starts in index order.
    explicit CapTable(std::span<Slot> storage)
        : m_slots(storage.first(storage.size() < max_capacity ? storage.size() : max_capacity)) {
        for (size_t i = 0; i < m_slots.size(); ++i) {
            Slot& slot = m_slots[i];
            slot.m_generation = 1;
            slot.m_state = State::Free;
            slot.m_next_free = i + 1 < m_slots.size() ? static_cast<uint32_t>(i + 1) : no_slot;
        }
        m_free_head = m_slots.empty() ? no_slot : 0;
        m_free_tail = m_slots.empty() ? no_slot : static_cast<uint32_t>(m_slots.size() - 1);
        m_free_count = m_slots.size();
    }

    // Destroys the objects still held. Traps if a token is outstanding.
    ~CapTable() {
        trap_if_tokens_outstanding();
        for (Slot& slot : m_slots) {
            if (slot.m_state == State::Live)
                slot.m_object.~Handle();
        }
    }

    CapTable(const CapTable&) = delete;
    CapTable& operator=(const CapTable&) = delete;

    // Puts object into the least recently freed slot. TableFull when none is free,
    // and then object is left as it was.
    Result<CapId, CapError> insert(Handle&& object, uint64_t interface_id, CapFlags flags) {
        if (m_free_count == 0)
            return Err{CapError::TableFull};
        uint32_t index = pop_free();
        fill(index, std::move(object), interface_id, flags);
        return CapId::make(index, m_slots[index].m_generation);
    }

    // The live capability id names. With expected_interface other than
    // any_interface, a capability speaking another interface is WrongInterface,
    // unless its interface extends expected_interface. Ancestry is asked only
    // after the exact match failed: the usual call pays nothing for it.
    Result<Entry, CapError> lookup(CapId id, uint64_t expected_interface = any_interface) {
        Slot* slot = TRY(find_live(id));
        if (expected_interface != any_interface && slot->m_interface_id != any_interface &&
            slot->m_interface_id != expected_interface &&
            !Ancestry::extends(slot->m_interface_id, expected_interface))
            return Err{CapError::WrongInterface};
        return Entry{slot->m_object, slot->m_interface_id, slot->m_flags};
    }

    // lookup() for a fast path: the object when lookup() would find it without
    // asking Ancestry (the capability speaks `expected_interface` or accepts any),
    // else nullptr, whatever the reason; the caller then asks lookup() for it.
    Handle* find(CapId id, uint64_t expected_interface) {
        if (id.index() >= m_slots.size())
            return nullptr;
        Slot& slot = m_slots[id.index()];
        bool found = id.generation() != 0 && slot.m_generation == id.generation() &&
                     slot.m_state == State::Live &&
                     (slot.m_interface_id == expected_interface ||
                      slot.m_interface_id == any_interface || expected_interface == any_interface);
        return found ? &slot.m_object : nullptr;
    }

    // Releases the capability id names and hands its object back; id is stale from
    // now on. On error nothing changes.
    Result<Handle, CapError> remove(CapId id) {
        Slot* slot = TRY(find_live(id));
        Handle object = std::move(slot->m_object);
        slot->m_object.~Handle();
        release(id.index());
        return object;
    }

    // Step 1 of a move: holds the least recently freed slot. TableFull when none is.
    Result<Reservation, CapError> reserve() {
        if (m_free_count == 0)
            return Err{CapError::TableFull};
        uint32_t index = pop_free();
        m_slots[index].m_state = State::Reserved;
        return Reservation(this, CapId::make(index, m_slots[index].m_generation));
    }

    // Step 5: makes the reserved slot Live with the capability; returns
    // reservation.id(). Cannot fail; traps on a reservation of another table.
    CapId commit(Reservation&& reservation, Handle&& object, uint64_t interface_id,
                 CapFlags flags) {
        CapId id = claim(reservation, State::Reserved);
        fill(id.index(), std::move(object), interface_id, flags);
        return id;
    }
    CapId commit(Reservation&& reservation, Record&& record) {
        return commit(std::move(reservation), std::move(record.object), record.interface_id,
                      record.flags);
    }

    // Gives the reserved slot back as if it had never been reserved: first in the
    // free queue, generation unchanged.
    void cancel(Reservation&& reservation) {
        CapId id = claim(reservation, State::Reserved);
        Slot& slot = m_slots[id.index()];
        slot.m_state = State::Free;
        slot.m_next_free = m_free_head;
        m_free_head = id.index();
        if (m_free_tail == no_slot)
            m_free_tail = id.index();
        ++m_free_count;
    }

    // Step 2: hides the capability id names (lookups say Pending) until finish()
    // or restore(). InvalidId, Stale or Pending as lookup() would say, and
    // NotTransferable without CapFlags::Transferable; on error nothing changes.
    Result<Taken, CapError> take(CapId id) {
        Slot* slot = TRY(find_live(id));
        if (!has_flags(slot->m_flags, CapFlags::Transferable))
            return Err{CapError::NotTransferable};
        slot->m_state = State::Pending;
        --m_live_count;
        return Taken(this, id);
    }

    // Rollback of step 2: the capability is Live again under the same id.
    void restore(Taken&& taken) {
        CapId id = claim(taken, State::Pending);
        m_slots[id.index()].m_state = State::Live;
        ++m_live_count;
    }

    // Step 4: releases the slot (its id is stale from now on) and hands over the
    // capability. Cannot fail; traps on a token of another table.
    Record finish(Taken&& taken) {
        CapId id = claim(taken, State::Pending);
        Slot& slot = m_slots[id.index()];
        Record record{std::move(slot.m_object), slot.m_interface_id, slot.m_flags};
        slot.m_object.~Handle();
        release(id.index());
        return record;
    }

    // The whole move protocol for one capability: the capability id names in this
    // table moves to receiver, which returns its new id. On error (TableFull from
    // receiver; InvalidId, Stale, Pending, NotTransferable from this table) both
    // tables are as they were.
    Result<CapId, CapError> move_to(CapId id, CapTable& receiver) {
        Reservation reservation = TRY(receiver.reserve());
        Taken taken = TRY(take(id));
        return receiver.commit(std::move(reservation), finish(std::move(taken)));
    }

    // Calls visitor(CapId, Entry) for each live capability in index order. The
    // visitor must not change the table.
    template <typename Visitor>
    void for_each(Visitor&& visitor) {
        for (size_t i = 0; i < m_slots.size(); ++i) {
            Slot& slot = m_slots[i];
            if (slot.m_state == State::Live)
                visitor(CapId::make(static_cast<uint32_t>(i), slot.m_generation),
                        Entry{slot.m_object, slot.m_interface_id, slot.m_flags});
        }
    }

    // For process exit: hands every live object to consume(Handle&&) in index order
    // and releases its slot; returns how many. Traps if a token is outstanding.
    template <typename Consumer>
    size_t clear(Consumer&& consume) {
        trap_if_tokens_outstanding();
        size_t cleared = 0;
        for (size_t i = 0; i < m_slots.size(); ++i) {
            Slot& slot = m_slots[i];
            if (slot.m_state != State::Live)
                continue;
            Handle object = std::move(slot.m_object);
            slot.m_object.~Handle();
            release(static_cast<uint32_t>(i));
            consume(std::move(object));
            ++cleared;
        }
        return cleared;
    }

    // Live capabilities (not Reserved or Pending slots).
    size_t count() const { return m_live_count; }
    // Free slots: what insert() and reserve() can still take.
    size_t free_count() const { return m_free_count; }
    size_t capacity() const { return m_slots.size(); }

private:
    static uint16_t next_generation(uint16_t generation) {
        return generation == CapId::max_generation ? 1 : static_cast<uint16_t>(generation + 1);
    }

    Result<Slot*, CapError> find_live(CapId id) {
        if (id.generation() == 0 || id.index() >= m_slots.size())
            return Err{CapError::InvalidId};
        Slot& slot = m_slots[id.index()];
        if (slot.m_generation != id.generation())
            return Err{CapError::Stale};
        // A Free or Reserved slot's generation was never handed out in a visible id.
        if (slot.m_state == State::Pending)
            return Err{CapError::Pending};
        if (slot.m_state != State::Live)
            return Err{CapError::InvalidId};
        return &slot;
    }

    uint32_t pop_free() {
        uint32_t index = m_free_head;
        m_free_head = m_slots[index].m_next_free;
        if (m_free_head == no_slot)
            m_free_tail = no_slot;
        --m_free_count;
        return index;
    }

    // The Live or Pending slot's object is gone: advance its generation and queue
    // it last.
    void release(uint32_t index) {
        Slot& slot = m_slots[index];
        if (slot.m_state == State::Live)
            --m_live_count;
        slot.m_state = State::Free;
        slot.m_generation = next_generation(slot.m_generation);
        slot.m_next_free = no_slot;
        if (m_free_tail == no_slot)
            m_free_head = index;
        else
            m_slots[m_free_tail].m_next_free = index;
        m_free_tail = index;
        ++m_free_count;
    }

    void fill(uint32_t index, Handle&& object, uint64_t interface_id, CapFlags flags) {
        Slot& slot = m_slots[index];
        new (&slot.m_object) Handle(std::move(object));
        slot.m_interface_id = interface_id;
        slot.m_flags = flags;
        slot.m_state = State::Live;
        ++m_live_count;
    }

    // Empties token (so its destructor does nothing) and returns its id, after
    // checking that it belongs to this table and names a slot in state.
    template <typename Token>
    CapId claim(Token& token, State state) {
        if (token.m_table != this)
            __builtin_trap();
        CapId id = token.m_id;
        const Slot& slot = m_slots[id.index()];
        if (slot.m_state != state || slot.m_generation != id.generation())
            __builtin_trap();
        token.m_table = nullptr;
        return id;
    }

    void trap_if_tokens_outstanding() const {
        for (const Slot& slot : m_slots) {
            if (slot.m_state == State::Reserved || slot.m_state == State::Pending)
                __builtin_trap();
        }
    }

    std::span<Slot> m_slots;
    uint32_t m_free_head = no_slot;
    uint32_t m_free_tail = no_slot;
    size_t m_free_count = 0;
    size_t m_live_count = 0;
};

} // namespace capos
