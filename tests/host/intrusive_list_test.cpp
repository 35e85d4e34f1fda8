// lib/base/intrusive_list.h: each operation, iteration with removal, sorted
// insertion, an element on two lists at once, misuse that traps, a global list
// that is constant-initialized, and a randomized run against std::list with
// every invariant checked after each operation.
#include "lib/base/intrusive_list.h"
#include "tests/host/traps.h"
#include <algorithm>
#include <cstdlib>

#include <gtest/gtest.h>
#include <iterator>
#include <list>
#include <memory>
#include <random>
#include <vector>

namespace capos {
namespace {

struct FirstLink;
struct SecondLink;

struct Item : IntrusiveListNode<FirstLink>, IntrusiveListNode<SecondLink> {
    explicit Item(int v = 0) : value(v) {}
    int value;
};

using List = IntrusiveList<Item, FirstLink>;
using OtherList = IntrusiveList<Item, SecondLink>;

std::vector<int> values(List& list) {
    std::vector<int> out;
    for (Item& item : list)
        out.push_back(item.value);
    return out;
}

// The forward walk agrees with size(), empty(), front() and back(), and every
// element walked knows it is on this list.
void expect_consistent(List& list) {
    size_t count = 0;
    for (Item& item : list) {
        EXPECT_TRUE(list.contains(item));
        EXPECT_TRUE(List::is_linked(item));
        ++count;
    }
    EXPECT_EQ(count, list.size());
    EXPECT_EQ(list.empty(), count == 0);
    EXPECT_EQ(list.front() == nullptr, count == 0);
    EXPECT_EQ(list.back() == nullptr, count == 0);
}

TEST(IntrusiveList, StartsEmpty) {
    List list;
    EXPECT_TRUE(list.empty());
    EXPECT_EQ(list.size(), 0u);
    EXPECT_EQ(list.front(), nullptr);
    EXPECT_EQ(list.back(), nullptr);
    EXPECT_EQ(list.pop_front(), nullptr);
    EXPECT_EQ(list.pop_back(), nullptr);
    EXPECT_TRUE(list.begin() == list.end());
}

TEST(IntrusiveList, PushAndPopKeepOrder) {
    Item a(1), b(2), c(3), d(4);
    List list;
    list.push_back(b);
    list.push_back(c);
    list.push_front(a);
    list.push_back(d);
    EXPECT_EQ(values(list), (std::vector<int>{1, 2, 3, 4}));
    EXPECT_EQ(list.size(), 4u);
    EXPECT_EQ(list.front(), &a);
    EXPECT_EQ(list.back(), &d);
    EXPECT_EQ(list.pop_front(), &a);
    EXPECT_EQ(list.pop_back(), &d);
    EXPECT_FALSE(List::is_linked(a));
    EXPECT_FALSE(List::is_linked(d));
    EXPECT_EQ(values(list), (std::vector<int>{2, 3}));
    EXPECT_EQ(list.pop_front(), &b);
    EXPECT_EQ(list.pop_front(), &c);
    EXPECT_EQ(list.pop_front(), nullptr);
    EXPECT_TRUE(list.empty());
}

TEST(IntrusiveList, RemoveFromAnywhere) {
    Item items[5] = {Item(0), Item(1), Item(2), Item(3), Item(4)};
    List list;
    for (Item& item : items)
        list.push_back(item);
    list.remove(items[2]); // middle
    EXPECT_EQ(values(list), (std::vector<int>{0, 1, 3, 4}));
    list.remove(items[0]); // front
    EXPECT_EQ(values(list), (std::vector<int>{1, 3, 4}));
    list.remove(items[4]); // back
    EXPECT_EQ(values(list), (std::vector<int>{1, 3}));
    EXPECT_EQ(list.front(), &items[1]);
    EXPECT_EQ(list.back(), &items[3]);
    EXPECT_FALSE(list.contains(items[2]));
    EXPECT_FALSE(List::is_linked(items[0]));
    list.remove(items[1]);
    list.remove(items[3]);
    EXPECT_TRUE(list.empty());
    // Unlinked elements link again.
    list.push_front(items[4]);
    list.push_front(items[2]);
    EXPECT_EQ(values(list), (std::vector<int>{2, 4}));
    list.clear();
    EXPECT_TRUE(list.empty());
    EXPECT_FALSE(List::is_linked(items[2]));
}

TEST(IntrusiveList, ContainsTellsListsApart) {
    Item a(1);
    List one, two;
    one.push_back(a);
    EXPECT_TRUE(one.contains(a));
    EXPECT_FALSE(two.contains(a));
    EXPECT_TRUE(List::is_linked(a));
    one.remove(a);
    two.push_back(a);
    EXPECT_FALSE(one.contains(a));
    EXPECT_TRUE(two.contains(a));
    two.clear();
}

TEST(IntrusiveList, OneElementOnTwoListsOfDifferentTags) {
    Item a(1), b(2), c(3);
    List first;
    OtherList second;
    first.push_back(a);
    first.push_back(b);
    first.push_back(c);
    second.push_back(c);
    second.push_back(a);
    EXPECT_EQ(values(first), (std::vector<int>{1, 2, 3}));
    EXPECT_EQ(second.front(), &c);
    EXPECT_EQ(second.back(), &a);
    first.remove(a);
    EXPECT_TRUE(OtherList::is_linked(a)); // the other list's node is untouched
    EXPECT_FALSE(List::is_linked(a));
    EXPECT_EQ(second.size(), 2u);
    second.remove(c);
    EXPECT_TRUE(first.contains(c));
    first.clear();
    second.clear();
}

TEST(IntrusiveList, EraseWhileIterating) {
    Item items[6] = {Item(0), Item(1), Item(2), Item(3), Item(4), Item(5)};
    List list;
    for (Item& item : items)
        list.push_back(item);
    std::vector<int> seen;
    for (auto it = list.begin(); it != list.end();) {
        seen.push_back(it->value);
        if (it->value % 2 == 0)
            it = list.erase(it);
        else
            ++it;
    }
    EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3, 4, 5}));
    EXPECT_EQ(values(list), (std::vector<int>{1, 3, 5}));
    // The iterator erase returns is the next element's (end() after the last).
    auto it = list.begin();
    ++it;
    ++it;
    EXPECT_TRUE(list.erase(it) == list.end());
    EXPECT_EQ(values(list), (std::vector<int>{1, 3}));
    list.clear();
}

TEST(IntrusiveList, RemoveIfVisitsEveryElementOnce) {
    Item items[7] = {Item(0), Item(1), Item(2), Item(3), Item(4), Item(5), Item(6)};
    List list;
    for (Item& item : items)
        list.push_back(item);
    std::vector<int> visited;
    size_t removed = list.remove_if([&](Item& item) {
        visited.push_back(item.value);
        return item.value % 3 != 1;
    });
    EXPECT_EQ(removed, 5u);
    EXPECT_EQ(visited, (std::vector<int>{0, 1, 2, 3, 4, 5, 6}));
    EXPECT_EQ(values(list), (std::vector<int>{1, 4}));
    EXPECT_FALSE(List::is_linked(items[0]));
    EXPECT_FALSE(List::is_linked(items[6]));
    EXPECT_EQ(list.remove_if([](Item&) { return true; }), 2u);
    EXPECT_TRUE(list.empty());
}

TEST(IntrusiveList, FindIf) {
    Item a(1), b(2), c(2);
    List list;
    EXPECT_EQ(list.find_if([](Item&) { return true; }), nullptr);
    list.push_back(a);
    list.push_back(b);
    list.push_back(c);
    EXPECT_EQ(list.find_if([](Item& i) { return i.value == 2; }), &b); // the first
    EXPECT_EQ(list.find_if([](Item& i) { return i.value == 3; }), nullptr);
    list.clear();
}

TEST(IntrusiveList, InsertBefore) {
    Item a(1), b(2), c(3), d(4);
    List list;
    list.insert_before(list.end(), b); // into an empty list
    list.insert_before(list.begin(), a);
    list.insert_before(list.end(), d);
    auto at_d = list.begin();
    ++at_d;
    ++at_d;
    list.insert_before(at_d, c);
    EXPECT_EQ(values(list), (std::vector<int>{1, 2, 3, 4}));
    expect_consistent(list);
    list.clear();
}

TEST(IntrusiveList, InsertSortedIsStable) {
    std::vector<std::unique_ptr<Item>> items;
    List list;
    auto less = [](const Item& x, const Item& y) { return x.value / 10 < y.value / 10; };
    // Keys are value / 10; the last digit records arrival order.
    for (int v : {30, 10, 20, 11, 31, 0, 21, 12, 40, 1})
        items.push_back(std::make_unique<Item>(v));
    for (auto& item : items)
        list.insert_sorted(*item, less);
    EXPECT_EQ(values(list), (std::vector<int>{0, 1, 10, 11, 12, 20, 21, 30, 31, 40}));
    expect_consistent(list);
    list.clear();
}

// A global list is constant-initialized: no constructor runs for it (the
// kernel has none to run).
constinit List g_global;

TEST(IntrusiveList, GlobalListIsConstantInitialized) {
    Item a(7);
    EXPECT_TRUE(g_global.empty());
    g_global.push_back(a);
    EXPECT_EQ(g_global.front(), &a);
    g_global.clear();
}

using IntrusiveListDeathTest = ::testing::Test;

TEST(IntrusiveListDeathTest, MisuseTraps) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_TRAPS({
        Item a;
        List list;
        list.push_back(a);
        list.push_back(a); // already linked
    });
    EXPECT_TRAPS({
        Item a;
        List one;
        List two;
        one.push_back(a);
        two.push_front(a); // linked on another list of the same tag
    });
    EXPECT_TRAPS({
        Item a;
        List list;
        list.remove(a); // not linked
    });
    EXPECT_TRAPS({
        Item a;
        Item b;
        List one;
        List two;
        one.push_back(a);
        two.push_back(b);
        two.remove(a); // on another list
    });
    EXPECT_TRAPS({
        Item a;
        Item b;
        List one;
        List two;
        one.push_back(a);
        two.insert_before(one.begin(), b); // position on another list
    });
    EXPECT_TRAPS({
        List list;
        list.erase(list.end());
    });
    EXPECT_TRAPS({
        auto list = std::make_unique<List>();
        Item a;
        list->push_back(a);
        list.reset(); // destroyed with an element
    });
    EXPECT_TRAPS({
        List list;
        auto a = std::make_unique<Item>();
        list.push_back(*a);
        a.reset(); // destroyed while linked
    });
}

// Random operations on an IntrusiveList and on a std::list of pointers side
// by side; after each one, the whole list is walked and compared, and every
// element's membership checked.
void run_model(uint64_t seed, size_t operations, size_t pool_size) {
    std::mt19937_64 random(seed);
    std::vector<std::unique_ptr<Item>> pool;
    for (size_t i = 0; i < pool_size; ++i)
        pool.push_back(std::make_unique<Item>(int(i)));
    List list;
    std::list<Item*> model;
    auto in_model = [&](Item* item) {
        return std::find(model.begin(), model.end(), item) != model.end();
    };
    auto pick = [&] { return pool[random() % pool.size()].get(); };
    auto pick_unlinked = [&]() -> Item* {
        for (size_t tries = 0; tries < 4; ++tries) {
            Item* item = pick();
            if (!in_model(item))
                return item;
        }
        return nullptr;
    };
    auto pick_linked = [&]() -> Item* {
        if (model.empty())
            return nullptr;
        auto it = model.begin();
        std::advance(it, random() % model.size());
        return *it;
    };
    auto key_less = [](const Item& a, const Item& b) { return a.value % 7 < b.value % 7; };

    for (size_t step = 0; step < operations; ++step) {
        SCOPED_TRACE("step " + std::to_string(step));
        switch (random() % 11) {
        case 0:
            if (Item* item = pick_unlinked()) {
                list.push_back(*item);
                model.push_back(item);
            }
            break;
        case 1:
            if (Item* item = pick_unlinked()) {
                list.push_front(*item);
                model.push_front(item);
            }
            break;
        case 2: {
            Item* expected = model.empty() ? nullptr : model.front();
            ASSERT_EQ(list.pop_front(), expected);
            if (expected)
                model.pop_front();
            break;
        }
        case 3: {
            Item* expected = model.empty() ? nullptr : model.back();
            ASSERT_EQ(list.pop_back(), expected);
            if (expected)
                model.pop_back();
            break;
        }
        case 4:
        case 5:
            if (Item* item = pick_linked()) {
                list.remove(*item);
                model.remove(item);
            }
            break;
        case 6: // insert before a random position (or the end)
            if (Item* item = pick_unlinked()) {
                size_t at = random() % (model.size() + 1);
                auto it = list.begin();
                auto model_it = model.begin();
                for (size_t i = 0; i < at; ++i, ++it, ++model_it) {
                }
                list.insert_before(it, *item);
                model.insert(model_it, item);
            }
            break;
        case 7: { // erase every element of a random residue while iterating
            int residue = int(random() % 5);
            for (auto it = list.begin(); it != list.end();) {
                if (it->value % 5 == residue)
                    it = list.erase(it);
                else
                    ++it;
            }
            model.remove_if([&](Item* item) { return item->value % 5 == residue; });
            break;
        }
        case 8: { // remove_if
            int residue = int(random() % 6);
            auto pred = [&](Item& item) { return item.value % 6 == residue; };
            size_t before = model.size();
            model.remove_if([&](Item* item) { return item->value % 6 == residue; });
            ASSERT_EQ(list.remove_if(pred), before - model.size());
            break;
        }
        case 9: // sorted insert: only meaningful while the list is sorted,
                // so sort both first (by re-linking in sorted order)
            if (Item* item = pick_unlinked()) {
                std::vector<Item*> sorted(model.begin(), model.end());
                std::stable_sort(sorted.begin(), sorted.end(),
                                 [&](Item* a, Item* b) { return key_less(*a, *b); });
                list.clear();
                model.assign(sorted.begin(), sorted.end());
                for (Item* s : sorted)
                    list.push_back(*s);
                list.insert_sorted(*item, key_less);
                auto at = std::upper_bound(model.begin(), model.end(), item,
                                           [&](Item* a, Item* b) { return key_less(*a, *b); });
                model.insert(at, item);
            }
            break;
        case 10:
            if (random() % 16 == 0) {
                list.clear();
                model.clear();
            }
            break;
        }

        // The whole list against the model, and every element's membership.
        ASSERT_EQ(list.size(), model.size());
        ASSERT_EQ(list.empty(), model.empty());
        ASSERT_EQ(list.front(), model.empty() ? nullptr : model.front());
        ASSERT_EQ(list.back(), model.empty() ? nullptr : model.back());
        auto model_it = model.begin();
        for (Item& item : list) {
            ASSERT_TRUE(model_it != model.end());
            ASSERT_EQ(&item, *model_it);
            ++model_it;
        }
        ASSERT_TRUE(model_it == model.end());
        for (auto& item : pool) {
            bool linked = in_model(item.get());
            ASSERT_EQ(list.contains(*item), linked);
            ASSERT_EQ(List::is_linked(*item), linked);
        }
    }
    list.clear();
}

TEST(IntrusiveList, RandomizedAgainstStdList) {
    for (uint64_t seed = 1; seed <= 20; ++seed) {
        SCOPED_TRACE("seed " + std::to_string(seed));
        run_model(seed, 2000, 1 + seed % 24);
    }
}

} // namespace
} // namespace capos
