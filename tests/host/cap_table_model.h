// A shadow model of lib/cap/cap_table and a driver that runs an operation sequence
// (given as bytes) on two real tables and their models side by side, comparing
// every result. Shared by the randomized host test (random bytes) and the
// cap_table_fuzz target (libFuzzer's bytes), so that both check one model.
//
// The model is written plainly with standard containers: a std::map from raw
// CapId to entry for live and pending capabilities, a generation per slot and a
// std::deque for the free queue. It predicts every id and every error exactly.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "lib/cap/cap_table.h"

namespace capos::cap_model {

// The handle the tables hold: a unique pointer to a counted payload, so leaks and
// double frees show up (ASan) and so do objects lost or duplicated (live_payloads).
struct Payload {
    explicit Payload(uint64_t v) : value(v) { ++live_payloads(); }
    ~Payload() { --live_payloads(); }
    Payload(const Payload&) = delete;
    Payload& operator=(const Payload&) = delete;
    static int64_t& live_payloads() {
        static int64_t count = 0;
        return count;
    }
    uint64_t value;
};

using Handle = std::unique_ptr<Payload>;
using Table = CapTable<Handle>;

struct ModelEntry {
    uint64_t value;
    uint64_t interface_id;
    CapFlags flags;
};

class Model {
public:
    explicit Model(size_t capacity) : m_generations(capacity, 1) {
        for (uint32_t i = 0; i < capacity; ++i)
            m_free.push_back(i);
    }

    size_t capacity() const { return m_generations.size(); }
    size_t free_count() const { return m_free.size(); }
    const std::map<uint32_t, ModelEntry>& live() const { return m_live; }
    const std::map<uint32_t, ModelEntry>& pending() const { return m_pending; }

    // The id the next insert or reserve gets, if any slot is free.
    std::optional<CapId> next_id() const {
        if (m_free.empty())
            return std::nullopt;
        return CapId::make(m_free.front(), m_generations[m_free.front()]);
    }

    // What lookup(id) (and remove, take) must say before its own checks.
    std::optional<CapError> id_error(CapId id) const {
        if (id.generation() == 0 || id.index() >= capacity())
            return CapError::InvalidId;
        if (m_generations[id.index()] != id.generation())
            return CapError::Stale;
        if (m_pending.count(id.raw))
            return CapError::Pending;
        if (!m_live.count(id.raw))
            return CapError::InvalidId;
        return std::nullopt;
    }

    CapId allocate() {
        CapId id = *next_id();
        m_free.pop_front();
        return id;
    }
    void fill(CapId id, ModelEntry entry) { m_live[id.raw] = entry; }
    void cancel(CapId id) { m_free.push_front(id.index()); }
    ModelEntry remove(CapId id) {
        ModelEntry entry = m_live.at(id.raw);
        m_live.erase(id.raw);
        release(id);
        return entry;
    }
    void take(CapId id) {
        m_pending[id.raw] = m_live.at(id.raw);
        m_live.erase(id.raw);
    }
    void restore(CapId id) {
        m_live[id.raw] = m_pending.at(id.raw);
        m_pending.erase(id.raw);
    }
    ModelEntry finish(CapId id) {
        ModelEntry entry = m_pending.at(id.raw);
        m_pending.erase(id.raw);
        release(id);
        return entry;
    }

private:
    void release(CapId id) {
        uint16_t& generation = m_generations[id.index()];
        generation = generation == CapId::max_generation ? 1 : generation + 1;
        m_free.push_back(id.index());
    }

    std::vector<uint16_t> m_generations;
    std::deque<uint32_t> m_free;
    std::map<uint32_t, ModelEntry> m_live;
    std::map<uint32_t, ModelEntry> m_pending;
};

// Reads operands from the op bytes; zeros once they run out.
class ByteReader {
public:
    explicit ByteReader(std::span<const uint8_t> bytes) : m_bytes(bytes) {}
    bool done() const { return m_at >= m_bytes.size(); }
    uint8_t byte() { return m_at < m_bytes.size() ? m_bytes[m_at++] : 0; }
    uint32_t u32() {
        uint32_t value = 0;
        for (int i = 0; i < 4; ++i)
            value = value << 8 | byte();
        return value;
    }

private:
    std::span<const uint8_t> m_bytes;
    size_t m_at = 0;
};

// One real table with its model and its outstanding tokens.
struct Side {
    explicit Side(size_t capacity)
        : storage(std::make_unique<Table::Slot[]>(capacity)),
          table(std::span<Table::Slot>(storage.get(), capacity)), model(capacity) {}

    std::unique_ptr<Table::Slot[]> storage;
    Table table;
    Model model;
    std::vector<Table::Reservation> reservations; // destroyed before the table
    std::vector<Table::Taken> takes;
};

// Runs the operations in bytes on two tables of small capacities chosen by the
// first bytes. Returns an empty string, or a description of the first mismatch.
class Driver {
public:
    explicit Driver(std::span<const uint8_t> bytes) : m_in(bytes) {}

    std::string run() {
        int64_t payloads_before = Payload::live_payloads();
        {
            Side a(m_in.byte() % 9);
            Side b(m_in.byte() % 9);
            Side* sides[2] = {&a, &b};
            while (m_failure.empty() && !m_in.done()) {
                uint8_t op = m_in.byte();
                Side& side = *sides[op >> 7];
                Side& other = *sides[(op >> 6) & 1];
                step(op & 0x3f, side, other);
                check_counts(a);
                check_counts(b);
                ++m_steps;
            }
            // Outstanding tokens undo themselves; then the tables destroy what is left.
            for (Side* side : sides) {
                while (!side->takes.empty()) {
                    side->model.restore(side->takes.back().id());
                    side->takes.pop_back();
                }
                while (!side->reservations.empty()) {
                    side->model.cancel(side->reservations.back().id());
                    side->reservations.pop_back();
                }
                check_counts(*side);
                check_visible(*side);
            }
        }
        expect(Payload::live_payloads() == payloads_before, "payloads leaked or lost");
        return m_failure;
    }

private:
    static constexpr uint64_t interfaces[] = {0x8000000000000001, 0x8000000000000002,
                                              0x8000000000000003};

    void expect(bool condition, const char* what) {
        if (!condition && m_failure.empty())
            m_failure = "step " + std::to_string(m_steps) + ": " + what;
    }

    template <typename T>
    void expect_error(const Result<T, CapError>& result, std::optional<CapError> expected,
                      const char* what) {
        if (expected)
            expect(result.is_error() && result.error() == *expected, what);
        else
            expect(result.is_ok(), what);
    }

    uint64_t pick_interface() { return interfaces[m_in.byte() % 3]; }

    CapFlags pick_flags() { return m_in.byte() % 4 == 0 ? CapFlags::None : CapFlags::Transferable; }

    template <typename Map>
    std::optional<CapId> pick_from(const Map& map) {
        if (map.empty())
            return std::nullopt;
        auto it = map.begin();
        std::advance(it, m_in.byte() % map.size());
        return CapId{it->first};
    }

    // A live id, a pending one, one issued earlier, or anything at all.
    CapId pick_id(const Side& side) {
        std::optional<CapId> id;
        switch (m_in.byte() % 5) {
        case 0:
        case 1:
            id = pick_from(side.model.live());
            break;
        case 2:
            id = pick_from(side.model.pending());
            break;
        case 3:
            if (!m_issued.empty()) // one of the last 256
                id = m_issued[m_issued.size() - 1 -
                              m_in.byte() % std::min<size_t>(m_issued.size(), 256)];
            break;
        default:
            break;
        }
        return id ? *id : CapId{m_in.u32()};
    }

    void step(uint8_t op, Side& side, Side& other) {
        Table& table = side.table;
        Model& model = side.model;
        switch (op % 13) {
        case 0: { // insert
            uint64_t interface_id = pick_interface();
            CapFlags flags = pick_flags();
            Handle object = std::make_unique<Payload>(m_next_value);
            std::optional<CapId> expected = model.next_id();
            auto inserted = table.insert(std::move(object), interface_id, flags);
            if (!expected) {
                expect_error(inserted, CapError::TableFull, "insert into a full table");
                expect(object && object->value == m_next_value, "failed insert kept object");
                break;
            }
            expect(inserted.is_ok() && inserted.value() == *expected, "insert id");
            expect(!object, "insert took the object");
            model.allocate();
            model.fill(*expected, {m_next_value++, interface_id, flags});
            m_issued.push_back(*expected);
            break;
        }
        case 1: { // lookup
            CapId id = pick_id(side);
            uint64_t wanted = m_in.byte() % 4 == 0 ? any_interface : pick_interface();
            auto found = table.lookup(id, wanted);
            std::optional<CapError> error = model.id_error(id);
            if (!error && wanted != any_interface && model.live().at(id.raw).interface_id != wanted)
                error = CapError::WrongInterface;
            expect_error(found, error, "lookup result");
            if (!error && found.is_ok()) {
                const ModelEntry& entry = model.live().at(id.raw);
                expect(found.value().object->value == entry.value &&
                           found.value().interface_id == entry.interface_id &&
                           found.value().flags == entry.flags,
                       "lookup entry");
            }
            // find() agrees (no interface here extends another).
            auto* handle = table.find(id, wanted);
            expect((handle != nullptr) == !error.has_value(), "find agrees with lookup");
            if (handle && found.is_ok())
                expect(handle == &found.value().object, "find's object");
            break;
        }
        case 2: { // remove
            CapId id = pick_id(side);
            auto removed = table.remove(id);
            std::optional<CapError> error = model.id_error(id);
            expect_error(removed, error, "remove result");
            if (!error && removed.is_ok())
                expect(removed.value()->value == model.remove(id).value, "removed object");
            break;
        }
        case 3: { // reserve
            std::optional<CapId> expected = model.next_id();
            auto reserved = table.reserve();
            if (!expected) {
                expect_error(reserved, CapError::TableFull, "reserve in a full table");
                break;
            }
            expect(reserved.is_ok() && reserved.value().id() == *expected, "reserve id");
            if (reserved.is_ok()) {
                model.allocate();
                side.reservations.push_back(reserved.release_value());
            }
            break;
        }
        case 4: { // commit
            if (side.reservations.empty())
                break;
            Table::Reservation reservation = take_token(side.reservations);
            CapId expected = reservation.id();
            uint64_t interface_id = pick_interface();
            CapFlags flags = pick_flags();
            CapId id = table.commit(std::move(reservation), std::make_unique<Payload>(m_next_value),
                                    interface_id, flags);
            expect(id == expected, "commit id");
            model.fill(id, {m_next_value++, interface_id, flags});
            m_issued.push_back(id);
            break;
        }
        case 5: { // cancel, explicitly or by dropping the token
            if (side.reservations.empty())
                break;
            Table::Reservation reservation = take_token(side.reservations);
            model.cancel(reservation.id());
            if (m_in.byte() % 2)
                table.cancel(std::move(reservation));
            break;
        }
        case 6: { // take
            CapId id = pick_id(side);
            auto taken = table.take(id);
            std::optional<CapError> error = model.id_error(id);
            if (!error && !has_flags(model.live().at(id.raw).flags, CapFlags::Transferable))
                error = CapError::NotTransferable;
            expect_error(taken, error, "take result");
            if (!error && taken.is_ok()) {
                const ModelEntry& entry = model.live().at(id.raw);
                expect(taken.value().id() == id && taken.value().object()->value == entry.value &&
                           taken.value().interface_id() == entry.interface_id,
                       "taken entry");
                model.take(id);
                side.takes.push_back(taken.release_value());
            }
            break;
        }
        case 7: { // restore, explicitly or by dropping the token
            if (side.takes.empty())
                break;
            Table::Taken taken = take_token(side.takes);
            model.restore(taken.id());
            if (m_in.byte() % 2)
                table.restore(std::move(taken));
            break;
        }
        case 8: { // finish, then commit into a reservation of the other table if any
            if (side.takes.empty())
                break;
            Table::Taken taken = take_token(side.takes);
            CapId id = taken.id();
            Table::Record record = table.finish(std::move(taken));
            ModelEntry entry = model.finish(id);
            expect(record.object->value == entry.value &&
                       record.interface_id == entry.interface_id && record.flags == entry.flags,
                   "finished record");
            if (!other.reservations.empty()) {
                Table::Reservation reservation = take_token(other.reservations);
                CapId committed = other.table.commit(std::move(reservation), std::move(record));
                other.model.fill(committed, entry);
                m_issued.push_back(committed);
            }
            break;
        }
        case 9: { // move_to
            CapId id = pick_id(side);
            std::optional<CapId> expected = other.model.next_id();
            auto moved = table.move_to(id, other.table);
            std::optional<CapError> error;
            if (!expected) {
                error = CapError::TableFull; // reserve comes first
            } else {
                error = model.id_error(id);
                if (!error && !has_flags(model.live().at(id.raw).flags, CapFlags::Transferable))
                    error = CapError::NotTransferable;
            }
            expect_error(moved, error, "move_to result");
            if (!error && moved.is_ok()) {
                // Reserve first (the receiver may be this table), then take and finish.
                other.model.allocate();
                model.take(id);
                ModelEntry entry = model.finish(id);
                other.model.fill(*expected, entry);
                expect(moved.value() == *expected, "move_to id");
                m_issued.push_back(*expected);
            }
            break;
        }
        case 10: // for_each against the model
        case 11:
            check_visible(side);
            break;
        case 12: { // clear, when no token is outstanding (it would trap)
            if (!side.reservations.empty() || !side.takes.empty())
                break;
            std::map<uint64_t, int> values;
            size_t cleared = table.clear([&](Handle&& object) { ++values[object->value]; });
            std::map<uint64_t, int> expected;
            for (auto [raw, entry] : model.live())
                ++expected[entry.value];
            expect(cleared == model.live().size() && values == expected, "clear objects");
            // The table releases in index order, which decides the free queue's order.
            std::vector<CapId> ids;
            for (auto [raw, entry] : model.live())
                ids.push_back(CapId{raw});
            std::sort(ids.begin(), ids.end(),
                      [](CapId x, CapId y) { return x.index() < y.index(); });
            for (CapId id : ids)
                model.remove(id);
            break;
        }
        }
    }

    template <typename Token>
    static Token take_token(std::vector<Token>& tokens) {
        // Not always the last, so tokens are used out of order.
        size_t index = tokens.size() / 2;
        Token token = std::move(tokens[index]);
        tokens.erase(tokens.begin() + static_cast<std::ptrdiff_t>(index));
        return token;
    }

    void check_counts(const Side& side) {
        expect(side.table.count() == side.model.live().size(), "count()");
        expect(side.table.free_count() == side.model.free_count(), "free_count()");
        expect(side.table.capacity() == side.model.capacity(), "capacity()");
    }

    void check_visible(Side& side) {
        std::map<uint32_t, ModelEntry> seen;
        bool ordered = true;
        uint32_t last_index = 0;
        bool first = true;
        side.table.for_each([&](CapId id, Table::Entry entry) {
            ordered &= first || id.index() > last_index;
            first = false;
            last_index = id.index();
            seen[id.raw] = ModelEntry{entry.object->value, entry.interface_id, entry.flags};
        });
        bool same = seen.size() == side.model.live().size();
        for (auto [raw, entry] : side.model.live()) {
            auto it = seen.find(raw);
            same &= it != seen.end() && it->second.value == entry.value &&
                    it->second.interface_id == entry.interface_id &&
                    it->second.flags == entry.flags;
        }
        expect(ordered && same, "for_each");
    }

    ByteReader m_in;
    std::string m_failure;
    size_t m_steps = 0;
    uint64_t m_next_value = 1;
    std::vector<CapId> m_issued;
};

inline std::string run_operations(std::span<const uint8_t> bytes) {
    return Driver(bytes).run();
}

} // namespace capos::cap_model
