// Host tests for lib/cap/cap_table: every error, generations and staleness, FIFO
// reuse, the two-phase move protocol (reserve/commit/cancel, take/restore/finish)
// and its rollback, quota boundaries, clear(), misuse that traps, and a randomized
// comparison against the shadow model in cap_table_model.h.
#include "lib/cap/cap_table.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/host/cap_table_model.h"
#include "tests/host/traps.h"
#include "tools/capnpc-capos/testdata/golden.capnp.capos.h"

namespace capos {
namespace {

using cap_model::Handle;
using cap_model::Payload;
using Table = CapTable<Handle>;

constexpr uint64_t console = 0x8c6f1d7a2b3e4f50;
constexpr uint64_t timer = 0x9d5e2c4b1a3f6e70;

Handle object(uint64_t value) {
    return std::make_unique<Payload>(value);
}

// A table with its own storage.
class TestTable {
public:
    explicit TestTable(size_t capacity)
        : m_storage(std::make_unique<Table::Slot[]>(capacity)),
          m_table(std::span<Table::Slot>(m_storage.get(), capacity)) {}
    Table* operator->() { return &m_table; }
    Table& operator*() { return m_table; }

private:
    std::unique_ptr<Table::Slot[]> m_storage;
    Table m_table;
};

CapId insert(Table& table, uint64_t value, uint64_t interface_id = console,
             CapFlags flags = CapFlags::Transferable) {
    auto inserted = table.insert(object(value), interface_id, flags);
    EXPECT_TRUE(inserted.is_ok());
    return inserted.is_ok() ? inserted.value() : CapId{};
}

uint64_t value_of(Table& table, CapId id) {
    auto found = table.lookup(id);
    EXPECT_TRUE(found.is_ok()) << (found.is_ok() ? "" : to_string(found.error()));
    return found.is_ok() ? found.value().object->value : 0;
}

// What lookup(id) says, as an error or ok.
// find() must agree: the same object when lookup() finds one without asking
// the ancestry, nullptr otherwise.
std::optional<CapError> lookup_error(Table& table, CapId id, uint64_t wanted = any_interface) {
    auto found = table.lookup(id, wanted);
    Handle* handle = table.find(id, wanted);
    if (found.is_ok()) {
        bool direct = wanted == any_interface || found.value().interface_id == wanted ||
                      found.value().interface_id == any_interface;
        EXPECT_EQ(handle, direct ? &found.value().object : nullptr);
        return std::nullopt;
    }
    EXPECT_EQ(handle, nullptr);
    return found.error();
}

// Every live capability as (raw id, value), in index order.
std::vector<std::pair<uint32_t, uint64_t>> visible(Table& table) {
    std::vector<std::pair<uint32_t, uint64_t>> entries;
    table.for_each(
        [&](CapId id, Table::Entry entry) { entries.emplace_back(id.raw, entry.object->value); });
    return entries;
}

class CapTableTest : public ::testing::Test {
protected:
    void SetUp() override { m_payloads = Payload::live_payloads(); }
    void TearDown() override { EXPECT_EQ(Payload::live_payloads(), m_payloads); }

private:
    int64_t m_payloads = 0;
};

TEST_F(CapTableTest, ErrorsHaveDistinctDescriptions) {
    std::set<std::string> seen;
    for (uint8_t value = 0; value <= static_cast<uint8_t>(CapError::TableFull); ++value) {
        std::string text = to_string(static_cast<CapError>(value));
        EXPECT_NE(text, "unknown capability error");
        EXPECT_TRUE(seen.insert(text).second) << text;
    }
}

TEST_F(CapTableTest, InsertLookupRemove) {
    TestTable table(4);
    EXPECT_EQ(table->capacity(), 4u);
    EXPECT_EQ(table->count(), 0u);
    EXPECT_EQ(table->free_count(), 4u);

    CapId a = insert(*table, 10, console, CapFlags::Transferable);
    CapId b = insert(*table, 20, timer, CapFlags::None);
    EXPECT_NE(a, b);
    EXPECT_NE(a.raw, 0u);
    EXPECT_EQ(a, CapId::make(0, 1)); // fresh slots in index order, generation 1
    EXPECT_EQ(b, CapId::make(1, 1));
    EXPECT_EQ(table->count(), 2u);
    EXPECT_EQ(table->free_count(), 2u);

    auto found = table->lookup(b, timer);
    ASSERT_TRUE(found.is_ok());
    EXPECT_EQ(found.value().object->value, 20u);
    EXPECT_EQ(found.value().interface_id, timer);
    EXPECT_EQ(found.value().flags, CapFlags::None);
    // The entry refers to the object in its slot.
    found.value().object->value = 21;
    EXPECT_EQ(value_of(*table, b), 21u);

    auto removed = table->remove(a);
    ASSERT_TRUE(removed.is_ok());
    EXPECT_EQ(removed.value()->value, 10u);
    EXPECT_EQ(table->count(), 1u);
    EXPECT_EQ(table->free_count(), 3u);
    EXPECT_EQ(lookup_error(*table, a), CapError::Stale);
    EXPECT_EQ(table->remove(a).error(), CapError::Stale);
}

TEST_F(CapTableTest, InvalidIds) {
    TestTable table(4);
    CapId a = insert(*table, 1);
    EXPECT_EQ(lookup_error(*table, CapId{}), CapError::InvalidId); // id 0
    EXPECT_EQ(lookup_error(*table, CapId::make(a.index(), 0)), CapError::InvalidId);
    EXPECT_EQ(lookup_error(*table, CapId::make(4, 1)), CapError::InvalidId); // past capacity
    EXPECT_EQ(lookup_error(*table, CapId::make(0xffff, 1)), CapError::InvalidId);
    // A free slot's generation was never handed out.
    EXPECT_EQ(lookup_error(*table, CapId::make(3, 1)), CapError::InvalidId);
    // A generation the slot has not reached yet.
    EXPECT_EQ(lookup_error(*table, CapId::make(a.index(), 7)), CapError::Stale);
    EXPECT_EQ(table->remove(CapId{}).error(), CapError::InvalidId);
    EXPECT_EQ(table->take(CapId{}).error(), CapError::InvalidId);
    EXPECT_EQ(value_of(*table, a), 1u); // nothing changed
    EXPECT_EQ(table->count(), 1u);
}

TEST_F(CapTableTest, WrongInterface) {
    TestTable table(2);
    CapId a = insert(*table, 1, console);
    EXPECT_EQ(lookup_error(*table, a, timer), CapError::WrongInterface);
    EXPECT_EQ(lookup_error(*table, a, console), std::nullopt);
    EXPECT_EQ(lookup_error(*table, a, any_interface), std::nullopt);
    // Validity is decided before the interface.
    EXPECT_EQ(lookup_error(*table, CapId::make(a.index(), 2), timer), CapError::Stale);
}

// With the ancestry generated from golden.capnp (Labelled extends Described
// extends Named; Tagged extends Labelled and Counted, Counted extends Named):
// a capability answers calls in every interface its own extends, and only those.
TEST_F(CapTableTest, InterfaceAncestorsAreAccepted) {
    namespace gold = golden::schema;
    using InheritingTable = CapTable<Handle, gold::InterfaceAncestry>;
    std::vector<InheritingTable::Slot> storage(3);
    InheritingTable table(storage);
    auto error_of = [&](CapId id, uint64_t expected) -> std::optional<CapError> {
        auto found = table.lookup(id, expected);
        if (found.is_ok())
            return std::nullopt;
        return found.error();
    };
    CapId labelled = table.insert(object(1), gold::Labelled::interface_id, CapFlags::None).value();
    CapId tagged = table.insert(object(2), gold::Tagged::interface_id, CapFlags::None).value();
    CapId named = table.insert(object(3), gold::Named::interface_id, CapFlags::None).value();

    for (uint64_t accepted :
         {gold::Labelled::interface_id, gold::Described::interface_id, gold::Named::interface_id})
        EXPECT_EQ(error_of(labelled, accepted), std::nullopt) << std::hex << accepted;
    auto found = table.lookup(labelled, gold::Named::interface_id);
    ASSERT_TRUE(found.is_ok());
    EXPECT_EQ(found.value().object->value, 1u);
    // The entry still names the capability's own interface.
    EXPECT_EQ(found.value().interface_id, gold::Labelled::interface_id);
    for (uint64_t refused :
         {gold::Counted::interface_id, gold::Tagged::interface_id, gold::Console::interface_id})
        EXPECT_EQ(error_of(labelled, refused), CapError::WrongInterface) << std::hex << refused;

    for (uint64_t accepted :
         {gold::Tagged::interface_id, gold::Labelled::interface_id, gold::Described::interface_id,
          gold::Named::interface_id, gold::Counted::interface_id})
        EXPECT_EQ(error_of(tagged, accepted), std::nullopt) << std::hex << accepted;
    EXPECT_EQ(error_of(tagged, gold::Store::interface_id), CapError::WrongInterface);

    // An ancestor's capability is no child's.
    for (uint64_t refused : {gold::Described::interface_id, gold::Labelled::interface_id,
                             gold::Counted::interface_id, gold::Tagged::interface_id})
        EXPECT_EQ(error_of(named, refused), CapError::WrongInterface) << std::hex << refused;
    EXPECT_EQ(error_of(named, gold::Named::interface_id), std::nullopt);

    // Validity is still decided first.
    EXPECT_EQ(error_of(CapId::make(labelled.index(), 2), gold::Named::interface_id),
              CapError::Stale);
}

TEST_F(CapTableTest, CapabilityRecordedForAnyInterfaceAcceptsEvery) {
    TestTable table(2);
    CapId a = insert(*table, 1, any_interface);
    EXPECT_EQ(lookup_error(*table, a, timer), std::nullopt);
    EXPECT_EQ(lookup_error(*table, a, console), std::nullopt);
    EXPECT_EQ(lookup_error(*table, a, any_interface), std::nullopt);
}

TEST_F(CapTableTest, StaleAfterReuse) {
    TestTable table(1);
    CapId first = insert(*table, 1);
    ASSERT_TRUE(table->remove(first).is_ok());
    CapId second = insert(*table, 2);
    EXPECT_EQ(second.index(), first.index());
    EXPECT_EQ(second.generation(), first.generation() + 1);
    EXPECT_EQ(lookup_error(*table, first), CapError::Stale);
    EXPECT_EQ(table->remove(first).error(), CapError::Stale);
    EXPECT_EQ(value_of(*table, second), 2u);
    ASSERT_TRUE(table->remove(second).is_ok());
}

TEST_F(CapTableTest, ReuseIsFifo) {
    TestTable table(5);
    std::vector<CapId> ids;
    for (uint64_t i = 0; i < 5; ++i)
        ids.push_back(insert(*table, i));
    for (size_t i : {3, 0, 4}) {
        auto removed = table->remove(ids[i]);
        ASSERT_TRUE(removed.is_ok());
    }
    // Least recently freed first.
    EXPECT_EQ(insert(*table, 10).index(), 3u);
    EXPECT_EQ(insert(*table, 11).index(), 0u);
    ASSERT_TRUE(table->remove(ids[1]).is_ok());
    EXPECT_EQ(insert(*table, 12).index(), 4u);
    EXPECT_EQ(insert(*table, 13).index(), 1u);
    EXPECT_EQ(table->free_count(), 0u);
}

TEST_F(CapTableTest, TableFull) {
    TestTable table(2);
    insert(*table, 1);
    insert(*table, 2);
    Handle extra = object(3);
    auto inserted = table->insert(std::move(extra), console, CapFlags::None);
    ASSERT_TRUE(inserted.is_error());
    EXPECT_EQ(inserted.error(), CapError::TableFull);
    ASSERT_TRUE(extra); // left as it was
    EXPECT_EQ(extra->value, 3u);
    EXPECT_EQ(table->reserve().error(), CapError::TableFull);
    EXPECT_EQ(table->count(), 2u);
}

TEST_F(CapTableTest, EmptyTable) {
    TestTable table(0);
    EXPECT_EQ(table->capacity(), 0u);
    EXPECT_EQ(table->insert(object(1), console, CapFlags::None).error(), CapError::TableFull);
    EXPECT_EQ(table->reserve().error(), CapError::TableFull);
    EXPECT_EQ(lookup_error(*table, CapId::make(0, 1)), CapError::InvalidId);
    EXPECT_EQ(table->clear([](Handle&&) {}), 0u);
}

TEST_F(CapTableTest, QuotaIsTheStorage) {
    // One slot past the maximum: the table uses max_capacity of them.
    std::vector<Table::Slot> storage(Table::max_capacity + 1);
    Table table(storage);
    EXPECT_EQ(table.capacity(), Table::max_capacity);
    for (uint32_t i = 0; i < Table::max_capacity; ++i) {
        auto inserted = table.insert(object(i), console, CapFlags::None);
        ASSERT_TRUE(inserted.is_ok());
        ASSERT_EQ(inserted.value(), CapId::make(i, 1));
    }
    EXPECT_EQ(table.count(), Table::max_capacity);
    EXPECT_EQ(table.insert(object(0), console, CapFlags::None).error(), CapError::TableFull);
    EXPECT_EQ(value_of(table, CapId::make(0xffff, 1)), 0xffffu);
    EXPECT_EQ(table.clear([](Handle&&) {}), Table::max_capacity);
}

TEST_F(CapTableTest, GenerationsWrapSkippingZero) {
    TestTable table(1);
    CapId id;
    for (uint32_t generation = 1; generation <= CapId::max_generation; ++generation) {
        id = insert(*table, generation);
        ASSERT_EQ(id.generation(), generation);
        ASSERT_TRUE(table->remove(id).is_ok());
    }
    CapId wrapped = insert(*table, 0);
    EXPECT_EQ(wrapped.generation(), 1u); // never 0
    EXPECT_EQ(wrapped.index(), id.index());
    EXPECT_EQ(lookup_error(*table, id), CapError::Stale);
    EXPECT_EQ(lookup_error(*table, CapId::make(0, 0)), CapError::InvalidId);
    EXPECT_EQ(value_of(*table, wrapped), 0u);
}

TEST_F(CapTableTest, ReserveCommit) {
    TestTable table(3);
    insert(*table, 1);
    auto reserved = table->reserve();
    ASSERT_TRUE(reserved.is_ok());
    Table::Reservation reservation = reserved.release_value();
    CapId id = reservation.id();
    EXPECT_EQ(id, CapId::make(1, 1));
    // Held, but not visible.
    EXPECT_EQ(table->count(), 1u);
    EXPECT_EQ(table->free_count(), 1u);
    EXPECT_EQ(lookup_error(*table, id), CapError::InvalidId);
    EXPECT_EQ(table->remove(id).error(), CapError::InvalidId);
    EXPECT_EQ(visible(*table).size(), 1u);
    // Another insert does not get the reserved slot.
    CapId other = insert(*table, 3);
    EXPECT_EQ(other.index(), 2u);

    EXPECT_EQ(table->commit(std::move(reservation), object(2), timer, CapFlags::None), id);
    EXPECT_EQ(table->count(), 3u);
    auto found = table->lookup(id, timer);
    ASSERT_TRUE(found.is_ok());
    EXPECT_EQ(found.value().object->value, 2u);
    EXPECT_EQ(found.value().flags, CapFlags::None);
}

TEST_F(CapTableTest, CancelUndoesReserveExactly) {
    TestTable table(4);
    CapId a = insert(*table, 1);
    insert(*table, 2);
    ASSERT_TRUE(table->remove(a).is_ok()); // free queue: 2, 3, 0
    {
        Table::Reservation first = table->reserve().release_value();
        Table::Reservation second = table->reserve().release_value();
        EXPECT_EQ(first.id().index(), 2u);
        EXPECT_EQ(second.id().index(), 3u);
        EXPECT_EQ(table->free_count(), 1u);
        table->cancel(std::move(second));
        // first is dropped here, which cancels it.
    }
    EXPECT_EQ(table->free_count(), 3u);
    EXPECT_EQ(table->count(), 1u);
    // The same ids come out again, in the same order.
    EXPECT_EQ(insert(*table, 3), CapId::make(2, 1));
    EXPECT_EQ(insert(*table, 4), CapId::make(3, 1));
    EXPECT_EQ(insert(*table, 5), CapId::make(0, 2));
}

TEST_F(CapTableTest, ReservationsMove) {
    TestTable table(2);
    Table::Reservation a = table->reserve().release_value();
    Table::Reservation b = table->reserve().release_value();
    CapId b_id = b.id();
    a = std::move(b); // cancels what a held
    EXPECT_EQ(a.id(), b_id);
    EXPECT_EQ(table->free_count(), 1u);
    Table::Reservation c(std::move(a));
    EXPECT_EQ(table->commit(std::move(c), object(1), console, CapFlags::None), b_id);
    EXPECT_EQ(table->free_count(), 1u);
    EXPECT_EQ(table->count(), 1u);

    // Empty tokens, as in a fixed array for one message's capabilities, filled and
    // dropped: each filled one undoes itself, the empty ones do nothing.
    TestTable other(3);
    CapId id = insert(*other, 2);
    {
        Table::Reservation reservations[3];
        Table::Taken takes[3];
        reservations[1] = other->reserve().release_value();
        takes[2] = other->take(id).release_value();
        EXPECT_EQ(reservations[0].id(), CapId{});
        EXPECT_EQ(other->free_count(), 1u);
        EXPECT_EQ(lookup_error(*other, id), CapError::Pending);
    }
    EXPECT_EQ(other->free_count(), 2u);
    EXPECT_EQ(value_of(*other, id), 2u);
}

TEST_F(CapTableTest, TakeRestore) {
    TestTable table(2);
    CapId id = insert(*table, 7, timer);
    {
        auto taken = table->take(id);
        ASSERT_TRUE(taken.is_ok());
        EXPECT_EQ(taken.value().id(), id);
        EXPECT_EQ(taken.value().object()->value, 7u);
        EXPECT_EQ(taken.value().interface_id(), timer);
        EXPECT_EQ(taken.value().flags(), CapFlags::Transferable);
        // Hidden while pending.
        EXPECT_EQ(table->count(), 0u);
        EXPECT_EQ(table->free_count(), 1u);
        EXPECT_EQ(lookup_error(*table, id), CapError::Pending);
        EXPECT_EQ(table->remove(id).error(), CapError::Pending);
        EXPECT_EQ(table->take(id).error(), CapError::Pending);
        EXPECT_TRUE(visible(*table).empty());
        table->restore(taken.release_value());
    }
    EXPECT_EQ(value_of(*table, id), 7u);
    EXPECT_EQ(table->count(), 1u);
    {
        Table::Taken taken = table->take(id).release_value();
        // Dropped: restores.
    }
    EXPECT_EQ(value_of(*table, id), 7u);
    EXPECT_EQ(table->count(), 1u);
}

TEST_F(CapTableTest, TakeFinish) {
    TestTable table(2);
    CapId id = insert(*table, 7, timer);
    Table::Taken taken = table->take(id).release_value();
    Table::Record record = table->finish(std::move(taken));
    EXPECT_EQ(record.object->value, 7u);
    EXPECT_EQ(record.interface_id, timer);
    EXPECT_EQ(record.flags, CapFlags::Transferable);
    EXPECT_EQ(lookup_error(*table, id), CapError::Stale);
    EXPECT_EQ(table->count(), 0u);
    EXPECT_EQ(table->free_count(), 2u);
}

TEST_F(CapTableTest, NotTransferable) {
    TestTable table(2);
    CapId id = insert(*table, 1, console, CapFlags::None);
    EXPECT_EQ(table->take(id).error(), CapError::NotTransferable);
    EXPECT_EQ(value_of(*table, id), 1u);
    EXPECT_TRUE(has_flags(CapFlags::Transferable, CapFlags::Transferable));
    EXPECT_FALSE(has_flags(CapFlags::None, CapFlags::Transferable));
    EXPECT_TRUE(has_flags(CapFlags::None, CapFlags::None));
}

// The protocol by hand, as the kernel does it for a message carrying capabilities.
TEST_F(CapTableTest, MoveByHand) {
    TestTable sender(4);
    TestTable receiver(4);
    CapId id = insert(*sender, 42, timer);
    auto reservation = receiver->reserve().release_value(); // 1
    auto taken = sender->take(id).release_value();          // 2
    CapId new_id = reservation.id();
    Table::Record record = sender->finish(std::move(taken));                        // 4
    EXPECT_EQ(receiver->commit(std::move(reservation), std::move(record)), new_id); // 5
    EXPECT_EQ(lookup_error(*sender, id), CapError::Stale);
    auto found = receiver->lookup(new_id, timer);
    ASSERT_TRUE(found.is_ok());
    EXPECT_EQ(found.value().object->value, 42u);
    EXPECT_EQ(found.value().flags, CapFlags::Transferable);
}

TEST_F(CapTableTest, MoveRollbackLeavesBothTablesAsBefore) {
    TestTable sender(4);
    TestTable receiver(3);
    CapId keep = insert(*sender, 1);
    CapId other = insert(*sender, 2);
    insert(*receiver, 10);
    CapId gone = insert(*receiver, 11);
    ASSERT_TRUE(receiver->remove(gone).is_ok());
    auto sender_before = visible(*sender);
    auto receiver_before = visible(*receiver);
    {
        auto reservation = receiver->reserve().release_value();
        auto first = sender->take(keep).release_value();
        auto second = sender->take(other).release_value();
        // A later check fails: drop everything (in reverse order of creation).
    }
    EXPECT_EQ(visible(*sender), sender_before);
    EXPECT_EQ(visible(*receiver), receiver_before);
    EXPECT_EQ(sender->free_count(), 2u);
    EXPECT_EQ(receiver->free_count(), 2u);
    // The receiver hands out the same ids it would have before.
    EXPECT_EQ(insert(*receiver, 12), CapId::make(2, 1));
    EXPECT_EQ(insert(*receiver, 13), CapId::make(1, 2));
}

TEST_F(CapTableTest, MoveTo) {
    TestTable sender(2);
    TestTable receiver(1);
    CapId a = insert(*sender, 1);
    CapId b = insert(*sender, 2);
    auto moved = sender->move_to(a, *receiver);
    ASSERT_TRUE(moved.is_ok());
    EXPECT_EQ(value_of(*receiver, moved.value()), 1u);
    EXPECT_EQ(lookup_error(*sender, a), CapError::Stale);
    // Receiver full: nothing changes on either side.
    EXPECT_EQ(sender->move_to(b, *receiver).error(), CapError::TableFull);
    EXPECT_EQ(value_of(*sender, b), 2u);
    // Errors from the sender, with the receiver's reservation cancelled.
    auto back = receiver->move_to(moved.value(), *sender);
    ASSERT_TRUE(back.is_ok());
    EXPECT_EQ(receiver->count(), 0u);
    EXPECT_EQ(sender->move_to(a, *receiver).error(), CapError::Stale);
    EXPECT_EQ(sender->move_to(CapId{}, *receiver).error(), CapError::InvalidId);
    EXPECT_EQ(receiver->free_count(), 1u);
    // Within one table: a new id, the old one stale.
    TestTable single(2);
    CapId c = insert(*single, 5);
    auto within = single->move_to(c, *single);
    ASSERT_TRUE(within.is_ok());
    EXPECT_NE(within.value(), c);
    EXPECT_EQ(value_of(*single, within.value()), 5u);
    EXPECT_EQ(lookup_error(*single, c), CapError::Stale);
    // Not transferable.
    CapId pinned = insert(*single, 6, console, CapFlags::None);
    EXPECT_EQ(single->move_to(pinned, *receiver).error(), CapError::NotTransferable);
    EXPECT_EQ(receiver->free_count(), 1u);
}

TEST_F(CapTableTest, ForEachSeesOnlyLive) {
    TestTable table(5);
    CapId a = insert(*table, 1);
    CapId b = insert(*table, 2);
    CapId c = insert(*table, 3);
    auto taken = table->take(b).release_value();
    auto reservation = table->reserve().release_value();
    ASSERT_TRUE(table->remove(c).is_ok());
    auto entries = visible(*table);
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].first, a.raw);
    EXPECT_EQ(entries[0].second, 1u);
}

TEST_F(CapTableTest, Clear) {
    TestTable table(4);
    CapId a = insert(*table, 1);
    CapId b = insert(*table, 2);
    insert(*table, 3);
    ASSERT_TRUE(table->remove(b).is_ok());
    std::vector<uint64_t> values;
    EXPECT_EQ(table->clear([&](Handle&& object) { values.push_back(object->value); }), 2u);
    EXPECT_EQ(values, (std::vector<uint64_t>{1, 3}));
    EXPECT_EQ(table->count(), 0u);
    EXPECT_EQ(table->free_count(), 4u);
    EXPECT_EQ(lookup_error(*table, a), CapError::Stale);
    // Reusable afterwards, and the ids are new.
    CapId again = insert(*table, 4);
    EXPECT_NE(again, a);
    EXPECT_EQ(value_of(*table, again), 4u);
}

TEST_F(CapTableTest, DestructionReleasesObjects) {
    int64_t before = Payload::live_payloads();
    {
        TestTable table(3);
        insert(*table, 1);
        insert(*table, 2);
        EXPECT_EQ(Payload::live_payloads(), before + 2);
    }
    EXPECT_EQ(Payload::live_payloads(), before);
}

TEST_F(CapTableTest, NonDefaultConstructibleHandle) {
    struct Token {
        explicit Token(int v) : value(v) {}
        Token(Token&& other) noexcept = default;
        Token(const Token&) = delete;
        int value;
    };
    Token storage_probe(1);
    std::vector<CapTable<Token>::Slot> storage(2);
    CapTable<Token> table(storage);
    auto inserted = table.insert(std::move(storage_probe), console, CapFlags::None);
    ASSERT_TRUE(inserted.is_ok());
    EXPECT_EQ(table.lookup(inserted.value()).value().object.value, 1);
    EXPECT_EQ(table.remove(inserted.value()).value().value, 1);
}

using CapTableDeathTest = CapTableTest;

TEST_F(CapTableDeathTest, MisuseTraps) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_TRAPS({
        TestTable one(1);
        TestTable two(1);
        auto reservation = one->reserve().release_value();
        two->commit(std::move(reservation), object(1), console, CapFlags::None);
    });
    EXPECT_TRAPS({
        TestTable one(2);
        CapId id = insert(*one, 1);
        auto taken = one->take(id).release_value();
        one->clear([](Handle&&) {});
    });
    EXPECT_TRAPS({
        TestTable one(2);
        auto reservation = one->reserve().release_value();
        Table::Reservation copy = std::move(reservation);
        one->cancel(std::move(reservation)); // already moved from
    });
}

TEST_F(CapTableTest, RandomizedAgainstModel) {
    std::mt19937_64 random(2024);
    for (int round = 0; round < 300; ++round) {
        std::vector<uint8_t> bytes(2 + random() % 4000);
        for (uint8_t& byte : bytes)
            byte = static_cast<uint8_t>(random());
        std::string failure = cap_model::run_operations(bytes);
        ASSERT_EQ(failure, "") << "round " << round;
    }
}

// One long run on small tables, so that every slot is reused many times.
TEST_F(CapTableTest, RandomizedLongRun) {
    std::mt19937_64 random(7);
    std::vector<uint8_t> bytes(400000);
    bytes[0] = 3;
    bytes[1] = 2;
    for (size_t i = 2; i < bytes.size(); ++i)
        bytes[i] = static_cast<uint8_t>(random());
    EXPECT_EQ(cap_model::run_operations(bytes), "");
}

} // namespace
} // namespace capos
