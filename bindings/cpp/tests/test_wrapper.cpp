// Tests of include/negsync.hpp: RAII and moves, errors carrying the code and the handle's last
// error, ID views, set queries, a full session and a manager sync. Run plain and under ASan+UBSan
// (Makefile: cpp-tests); any failed check exits non-zero.
#include <negsync.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            std::exit(1);                                                            \
        }                                                                            \
    } while (0)

// Runs `body`, which must throw negsync::Error with `code`; returns the error's detail.
template <typename Body>
std::string expect_error(negsync_result code, Body body) {
    try {
        body();
    } catch (const negsync::Error &error) {
        if (error.code() != code) {
            std::fprintf(stderr, "expected code %u, got %u: %s\n", static_cast<unsigned>(code),
                         static_cast<unsigned>(error.code()), error.what());
            std::exit(1);
        }
        CHECK(std::string(error.what()).find(negsync_result_str(code)) != std::string::npos);
        return error.detail();
    }
    std::fprintf(stderr, "expected negsync::Error %u, nothing thrown\n", static_cast<unsigned>(code));
    std::exit(1);
}

static_assert(!std::is_copy_constructible_v<negsync::ItemSet>, "handles are move-only");
static_assert(!std::is_copy_assignable_v<negsync::Session>, "handles are move-only");
static_assert(std::is_nothrow_move_constructible_v<negsync::SyncManager>, "moves do not throw");
static_assert(std::is_nothrow_move_assignable_v<negsync::ItemSet>, "moves do not throw");

namespace {

negsync::Id id_of(int i) { return negsync::id_for_key("doc-" + std::to_string(i)); }

// Syncs a and b fully (a initiates); returns the initiator.
negsync::Session sync(const negsync::ItemSet &a, const negsync::ItemSet &b) {
    negsync::Session initiator(a), responder(b);
    negsync::Bytes message = initiator.initiate();
    for (int rounds = 0;; rounds++) {
        CHECK(rounds < 100);
        const negsync::Session::Step reply = responder.reconcile(message);
        const negsync::Session::Step step = initiator.reconcile(reply.message);
        if (step.complete) {
            CHECK(step.message.empty());
            break;
        }
        message = step.message;
    }
    CHECK(initiator.is_complete());
    return initiator;  // moved out: the lists it holds stay with it
}

void test_set() {
    negsync::ItemSet set;
    CHECK(set.size() == 0);
    set.reserve(10);
    for (int i = 0; i < 10; i++) set.insert(100 - static_cast<std::uint64_t>(i), id_of(i));
    set.insert(100, id_of(0));  // already there
    CHECK(set.size() == 10);
    CHECK(set.contains(100, id_of(0)));
    CHECK(!set.contains(99, id_of(0)));  // the same ID at another timestamp is another item
    set.remove(100, id_of(0));
    CHECK(!set.contains(100, id_of(0)));
    CHECK(set.size() == 9);

    // Items come out sorted by timestamp: doc-9 (91) first.
    std::vector<std::uint64_t> timestamps(4);
    std::vector<std::uint8_t> ids(4 * NEGSYNC_ID_SIZE);
    std::size_t total = 0;
    CHECK(set.copy_items(0, timestamps.data(), ids.data(), 4, &total) == 4);
    CHECK(total == 9);
    CHECK(timestamps[0] == 91 && timestamps[3] == 94);
    const negsync::Id nine = id_of(9);
    CHECK(std::equal(nine.begin(), nine.end(), ids.begin()));
    CHECK(set.copy_items(7, timestamps.data(), ids.data(), 4) == 2);
    CHECK(timestamps[1] == 99);
    CHECK(set.copy_items(9, timestamps.data(), ids.data(), 4) == 0);

    expect_error(NEGSYNC_INVALID_ARGUMENT, [&] { set.insert(UINT64_MAX, id_of(1)); });
    const std::uint64_t many_ts[2] = {1, UINT64_MAX};
    std::vector<std::uint8_t> many_ids(2 * NEGSYNC_ID_SIZE, 7);
    expect_error(NEGSYNC_INVALID_ARGUMENT, [&] { set.insert_many(many_ts, many_ids.data(), 2); });
    CHECK(set.size() == 9);  // all or nothing
    set.insert_many(many_ts, many_ids.data(), 1);
    CHECK(set.size() == 10);
}

void test_moves() {
    negsync::ItemSet a;
    a.insert(1, id_of(1));
    negsync_set *raw = a.get();
    negsync::ItemSet b(std::move(a));
    CHECK(a.get() == nullptr && b.get() == raw);
    CHECK(b.size() == 1);
    negsync::ItemSet c;
    c = std::move(b);  // c's own empty set is freed (ASan/valgrind would see a leak otherwise)
    CHECK(c.get() == raw && c.size() == 1);
    c = std::move(c);  // self-move keeps the handle
    CHECK(c.get() == raw);
    negsync_set *released = c.release();
    CHECK(c.get() == nullptr);
    negsync_set_free(released);

    negsync::ItemSet set;
    negsync::Session s1(set);
    negsync::Session s2(std::move(s1));
    CHECK(s1.get() == nullptr && s2.get() != nullptr);
}

void test_session() {
    negsync::ItemSet alice, bob;
    for (int i = 0; i < 200; i++) {
        if (i % 3 != 0) alice.insert(static_cast<std::uint64_t>(i), id_of(i));
        if (i % 5 != 0) bob.insert(static_cast<std::uint64_t>(i), id_of(i));
    }
    negsync::Session initiator = sync(alice, bob);
    // have: in alice, not bob (i % 5 == 0, i % 3 != 0); need: the reverse.
    std::size_t have = 0, need = 0;
    for (int i = 0; i < 200; i++) {
        have += (i % 3 != 0 && i % 5 == 0);
        need += (i % 3 == 0 && i % 5 != 0);
    }
    const negsync::IdList have_ids = initiator.have_ids();
    CHECK(have_ids.size() == have && initiator.need_ids().size() == need);
    std::size_t seen = 0;
    for (const negsync::Id id : have_ids) {
        bool found = false;
        for (int i = 0; i < 200 && !found; i += 5) found = (id == id_of(i));
        CHECK(found);
        seen++;
    }
    CHECK(seen == have);
    CHECK(have_ids.at(0) == have_ids[0]);
    bool out_of_range = false;
    try {
        (void)have_ids.at(have);  // the exception is what is tested, not the value
    } catch (const std::out_of_range &) {
        out_of_range = true;
    }
    CHECK(out_of_range);

    const negsync_session_stats stats = initiator.stats();
    CHECK(stats.complete && !stats.failed && stats.role == NEGSYNC_ROLE_INITIATOR);
    CHECK(stats.have_count == have);
    // Forgetting empties the lists; the stats still count what was found.
    initiator.forget_ids();
    CHECK(initiator.have_ids().size() == 0 && initiator.need_ids().size() == 0);
    CHECK(initiator.stats().have_count == have && initiator.stats().need_count == need);

    // Errors: state, then a malformed message with the session's explanation attached.
    expect_error(NEGSYNC_WRONG_STATE, [&] { initiator.initiate(); });
    negsync::Session responder(bob);
    const std::uint8_t garbage[] = {0x61, 0xff, 0xff};
    const std::string detail =
        expect_error(NEGSYNC_MALFORMED_MESSAGE, [&] { responder.reconcile(garbage, sizeof garbage); });
    CHECK(!detail.empty());
    CHECK(detail == responder.last_error());
    negsync::Session responder2(bob);
    expect_error(NEGSYNC_WRONG_STATE, [&] { responder2.have_ids(); });
    expect_error(NEGSYNC_WRONG_STATE, [&] { responder2.forget_ids(); });
    expect_error(NEGSYNC_INVALID_ARGUMENT, [&] { negsync::Session bad(bob, 100); });

    negsync_limits limits = responder2.limits();
    limits.max_rounds = 7;
    responder2.set_limits(limits);
    CHECK(responder2.limits().max_rounds == 7);
}

void test_manager() {
    negsync::ItemSet alice, bob;
    for (int i = 0; i < 50; i++) {
        if (i != 1) alice.insert(static_cast<std::uint64_t>(i), id_of(i));
        if (i != 2) bob.insert(static_cast<std::uint64_t>(i), id_of(i));
    }
    negsync_manager_config config = negsync::SyncManager::default_config();
    config.max_sessions = 4;
    negsync::SyncManager a(alice, config), b(bob);
    negsync::PeerId peer_a{}, peer_b{};
    peer_a[0] = 'a';
    peer_b[0] = 'b';
    negsync::Bytes message = a.start(peer_b, 0);
    std::size_t have = 0, need = 0;
    for (int rounds = 0;; rounds++) {
        CHECK(rounds < 100);
        const negsync::SyncManager::Handled reply = b.handle(peer_a, negsync::Direction::inbound, message, 1);
        const negsync::SyncManager::Handled got = a.handle(peer_b, negsync::Direction::outbound, reply.reply, 1);
        if (got.complete) {
            have = got.have_ids.size();
            need = got.need_ids.size();
            CHECK(*got.have_ids.begin() == id_of(2));
            CHECK(got.need_ids[0] == id_of(1));
            break;
        }
        message = got.reply;
    }
    CHECK(have == 1 && need == 1);
    CHECK(a.stats().completed == 1);
    CHECK(!a.close(peer_b, negsync::Direction::outbound));  // completed sessions are removed
    CHECK(b.start(peer_a, 5).size() > 0);                  // left unanswered...
    CHECK(b.expire(5) == 0);
    CHECK(b.expire(1000000) == 1);                          // ...it expires once idle too long
    const std::uint8_t garbage[] = {0x61, 0xff, 0xff};
    const std::string detail = expect_error(NEGSYNC_MALFORMED_MESSAGE, [&] {
        b.handle(peer_a, negsync::Direction::inbound, garbage, sizeof garbage, 2);
    });
    CHECK(!detail.empty());
}

void test_ids() {
    CHECK(negsync::id_for_key("k") != negsync::id_for_key("l"));
    CHECK(negsync::id_for_version("k", "v1") != negsync::id_for_version("k", "v2"));
    CHECK(std::string(negsync::version()) ==
          std::to_string(NEGSYNC_VERSION_MAJOR) + "." + std::to_string(NEGSYNC_VERSION_MINOR) + "." +
              std::to_string(NEGSYNC_VERSION_PATCH));
}

// A window [10, 20) at a radio frame limit: only the differences inside it are found.
void test_window() {
    negsync::ItemSet a, b;
    for (int i = 0; i < 30; i++) {
        if (i != 5 && i != 15) a.insert(static_cast<std::uint64_t>(i), id_of(i));
        if (i != 7 && i != 17) b.insert(static_cast<std::uint64_t>(i), id_of(i));
    }
    negsync::Session initiator = negsync::Session::window(a, 10, 20, NEGSYNC_MIN_FRAME_SIZE_LIMIT);
    negsync::Session responder = negsync::Session::window(b, 10, 20, NEGSYNC_MIN_FRAME_SIZE_LIMIT);
    negsync::Bytes message = initiator.initiate();
    for (int rounds = 0;; rounds++) {
        CHECK(rounds < 100);
        CHECK(message.size() <= NEGSYNC_MIN_FRAME_SIZE_LIMIT);
        const negsync::Session::Step reply = responder.reconcile(message);
        const negsync::Session::Step step = initiator.reconcile(reply.message);
        if (step.complete) break;
        message = step.message;
    }
    const negsync::IdList have = initiator.have_ids();
    CHECK(have.size() == 1 && have[0] == id_of(17));
    const negsync::IdList need = initiator.need_ids();
    CHECK(need.size() == 1 && need[0] == id_of(15));
    expect_error(NEGSYNC_INVALID_ARGUMENT, [&] { negsync::Session::window(a, 20, 10); });
}

}  // namespace

int main() {
    test_set();
    test_moves();
    test_session();
    test_manager();
    test_ids();
    test_window();
    std::puts("C++ wrapper tests passed");
    return 0;
}
