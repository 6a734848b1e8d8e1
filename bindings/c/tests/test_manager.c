/*
 * test_manager.c: negsync_manager_* through the C ABI. The scenarios of tests/manager.rs (two
 * managers syncing toward each other at once, a second start refused, eviction and expiry, a
 * failing session removed alone, snapshots, bad configurations) with exact have/need and exact
 * counters; NULL in every pointer position of every function (refused, out-parameters untouched,
 * last_error set for mutating calls on a live manager); directions other than 0/1; a set freed
 * before its manager; borrowed have/need arrays readable until the next mutating call.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "negsync.h"
#include "check.h"

/* More round trips than any sync here needs; reaching it means the sync does not end. */
#define MAX_ROUND_TRIPS 1000

/* ---- sentinels: what out-parameters hold before a call that must not write them ---- */

static char sentinel_object;
#define SENTINEL_POINTER ((void *)&sentinel_object)
#define SENTINEL_SIZE ((size_t)0x5eed5eedu)
#define SENTINEL_BYTE 0xee

/* A bool out-parameter whose storage can hold (and be checked for) a byte that is no bool value. */
typedef union {
    bool value;
    unsigned char raw;
} bool_slot;

static bool bytes_all(const void *memory, size_t len, unsigned char value) {
    const unsigned char *bytes = memory;
    size_t i;
    for (i = 0; i < len; i++) {
        if (bytes[i] != value) {
            return false;
        }
    }
    return true;
}

/* ---- peers ---- */

static uint8_t ALICE[32], BOB[32];

static void peer_fill(uint8_t peer[32], int value) {
    memset(peer, value, 32);
}

/* ---- a small seeded PRNG (xorshift64) ---- */

typedef struct {
    uint64_t state;
} prng;

static uint64_t prng_next(prng *rng) {
    uint64_t x = rng->state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rng->state = x;
    return x;
}

/* ---- two overlapping sets and what a sync between them must find ---- */

static int compare_ids(const void *left, const void *right) {
    return memcmp(left, right, NEGSYNC_ID_SIZE);
}

typedef struct {
    negsync_set *a, *b;
    uint8_t *only_a; /* sorted IDs only a holds: a's "have" toward b */
    size_t only_a_count;
    uint8_t *only_b; /* sorted IDs only b holds: a's "need" from b */
    size_t only_b_count;
} set_pair;

/* Inserts `count` random items (timestamps below `timestamp_range`) into the sets `into[0..n)`,
 * and copies their IDs to `ids` when it is not NULL. */
static bool insert_random(prng *rng, size_t count, uint64_t timestamp_range, negsync_set **into,
                          size_t into_count, uint8_t *ids) {
    size_t i, j, k;
    for (i = 0; i < count; i++) {
        uint8_t id[NEGSYNC_ID_SIZE];
        uint64_t timestamp = prng_next(rng) % timestamp_range;
        for (k = 0; k < NEGSYNC_ID_SIZE; k++) {
            id[k] = (uint8_t)(prng_next(rng) >> 56);
        }
        for (j = 0; j < into_count; j++) {
            if (negsync_set_insert(into[j], timestamp, id) != NEGSYNC_OK) {
                return false;
            }
        }
        if (ids != NULL) {
            memcpy(ids + i * NEGSYNC_ID_SIZE, id, NEGSYNC_ID_SIZE);
        }
    }
    return true;
}

/* Two sets sharing `shared` random items, with `only_a` and `only_b` items of their own (random
 * 32-byte IDs: distinct with overwhelming probability). */
static bool pair_make(set_pair *pair, uint64_t seed, size_t shared, size_t only_a, size_t only_b,
                      uint64_t timestamp_range) {
    prng rng;
    negsync_set *both[2];
    rng.state = seed * 0x9e3779b97f4a7c15ull + 1;
    memset(pair, 0, sizeof *pair);
    if (negsync_set_new(&pair->a) != NEGSYNC_OK || negsync_set_new(&pair->b) != NEGSYNC_OK) {
        return false;
    }
    pair->only_a = malloc(only_a ? only_a * NEGSYNC_ID_SIZE : 1);
    pair->only_b = malloc(only_b ? only_b * NEGSYNC_ID_SIZE : 1);
    if (pair->only_a == NULL || pair->only_b == NULL) {
        return false;
    }
    pair->only_a_count = only_a;
    pair->only_b_count = only_b;
    both[0] = pair->a;
    both[1] = pair->b;
    if (!insert_random(&rng, shared, timestamp_range, both, 2, NULL) ||
        !insert_random(&rng, only_a, timestamp_range, &pair->a, 1, pair->only_a) ||
        !insert_random(&rng, only_b, timestamp_range, &pair->b, 1, pair->only_b)) {
        return false;
    }
    qsort(pair->only_a, only_a, NEGSYNC_ID_SIZE, compare_ids);
    qsort(pair->only_b, only_b, NEGSYNC_ID_SIZE, compare_ids);
    return negsync_set_len(pair->a) == shared + only_a &&
           negsync_set_len(pair->b) == shared + only_b;
}

static void pair_free(set_pair *pair) {
    negsync_set_free(pair->a);
    negsync_set_free(pair->b);
    free(pair->only_a);
    free(pair->only_b);
    memset(pair, 0, sizeof *pair);
}

/* True when a lent ID array holds exactly the sorted `expected` IDs, each once (NULL if none). */
static bool same_ids(const uint8_t *got, size_t got_count, const uint8_t *expected,
                     size_t expected_count) {
    uint8_t *sorted;
    bool same;
    size_t i;
    if (got_count != expected_count) {
        return false;
    }
    if (got_count == 0) {
        return got == NULL;
    }
    if (got == NULL || (sorted = malloc(got_count * NEGSYNC_ID_SIZE)) == NULL) {
        return false;
    }
    memcpy(sorted, got, got_count * NEGSYNC_ID_SIZE);
    qsort(sorted, got_count, NEGSYNC_ID_SIZE, compare_ids);
    same = memcmp(sorted, expected, got_count * NEGSYNC_ID_SIZE) == 0;
    for (i = 1; same && i < got_count; i++) {
        same = memcmp(sorted + (i - 1) * NEGSYNC_ID_SIZE, sorted + i * NEGSYNC_ID_SIZE,
                      NEGSYNC_ID_SIZE) != 0;
    }
    free(sorted);
    return same;
}

/* ---- managers ---- */

static negsync_manager_config config_default(void) {
    negsync_manager_config config;
    memset(&config, 0, sizeof config);
    CHECK_EQ(negsync_manager_config_default(&config), NEGSYNC_OK);
    return config;
}

/* A manager over `set` with `config` (NULL: the defaults), or NULL. */
static negsync_manager *manager_of(const negsync_set *set, const negsync_manager_config *config) {
    negsync_manager_config defaults = config_default();
    negsync_manager *manager = NULL;
    if (negsync_manager_new(set, config ? config : &defaults, &manager) != NEGSYNC_OK) {
        return NULL;
    }
    return manager;
}

static negsync_manager_stats stats_of(const negsync_manager *manager) {
    negsync_manager_stats stats;
    memset(&stats, 0xff, sizeof stats);
    CHECK_EQ(negsync_manager_get_stats(manager, &stats), NEGSYNC_OK);
    return stats;
}

static bool last_error_empty(const negsync_manager *manager) {
    return negsync_manager_last_error(manager)[0] == '\0';
}

/* Every counter of `got` equals `want` (each compared on its own, so a failure names it). */
static void check_stats(const negsync_manager_stats *got, const negsync_manager_stats *want) {
    CHECK_EQ(got->started_outbound, want->started_outbound);
    CHECK_EQ(got->started_inbound, want->started_inbound);
    CHECK_EQ(got->completed, want->completed);
    CHECK_EQ(got->failed, want->failed);
    CHECK_EQ(got->expired, want->expired);
    CHECK_EQ(got->evicted, want->evicted);
    CHECK_EQ(got->closed, want->closed);
    CHECK_EQ(got->rounds, want->rounds);
    CHECK_EQ(got->bytes_in, want->bytes_in);
    CHECK_EQ(got->bytes_out, want->bytes_out);
    CHECK_EQ(got->have_total, want->have_total);
    CHECK_EQ(got->need_total, want->need_total);
    CHECK_EQ(got->live, want->live);
}

/* A copy of a lent buffer, owned by the test (a lent buffer lives only until the next mutating
 * call on the manager that lent it). */
typedef struct {
    uint8_t *data;
    size_t len;
} buffer;

static bool buffer_set(buffer *buf, const uint8_t *data, size_t len) {
    uint8_t *grown = realloc(buf->data, len ? len : 1);
    if (grown == NULL) {
        return false;
    }
    buf->data = grown;
    if (len) {
        memcpy(buf->data, data, len);
    }
    buf->len = len;
    return true;
}

static void buffer_free(buffer *buf) {
    free(buf->data);
    buf->data = NULL;
    buf->len = 0;
}

/* What one outbound sync passed between two managers. */
typedef struct {
    unsigned initiator_messages, responder_messages;
    uint64_t initiator_bytes, responder_bytes;
    bool responder_completed;
    bool ok;                /* the sync ran to its end */
    bool exact;             /* have/need were exactly the expected IDs */
} sync_report;

/*
 * Drives one outbound sync from `from` (known to `to` as `from_id`) toward `to_id` until it
 * completes, checking every step, and compares the have/need it reports with the expected sorted
 * IDs. When `close_responder` is set, the responder's session is then closed if it is still alive
 * (it cannot know the exchange ended when its last reply still held fingerprints).
 */
static sync_report run_sync(negsync_manager *from, const uint8_t *from_id, negsync_manager *to,
                            const uint8_t *to_id, uint64_t now, const uint8_t *have,
                            size_t have_count, const uint8_t *need, size_t need_count,
                            bool close_responder) {
    sync_report report;
    const uint8_t *msg = NULL;
    size_t msg_len = 0;
    memset(&report, 0, sizeof report);

    CHECK_EQ(negsync_manager_start(from, to_id, now, &msg, &msg_len), NEGSYNC_OK);
    if (msg == NULL || msg_len == 0) {
        CHECK(!"start lent out no message");
        return report;
    }
    /* `msg` is lent by `from`, and only `to` is called before it is used: no copy needed. */
    while (report.initiator_messages < MAX_ROUND_TRIPS) {
        negsync_handled answer, handled;
        report.initiator_messages++;
        report.initiator_bytes += msg_len;
        CHECK(!report.responder_completed); /* a complete responder leaves nothing to ask */
        if (negsync_manager_handle(to, from_id, NEGSYNC_DIRECTION_INBOUND, msg, msg_len, now,
                                   &answer) != NEGSYNC_OK) {
            CHECK(!"the responder refused a message");
            return report;
        }
        CHECK(answer.reply != NULL && answer.reply_len > 0); /* a responder always answers */
        CHECK(answer.have_ids == NULL && answer.have_count == 0);
        CHECK(answer.need_ids == NULL && answer.need_count == 0);
        report.responder_messages++;
        report.responder_bytes += answer.reply_len;
        report.responder_completed = answer.complete;

        if (negsync_manager_handle(from, to_id, NEGSYNC_DIRECTION_OUTBOUND, answer.reply,
                                   answer.reply_len, now, &handled) != NEGSYNC_OK) {
            CHECK(!"the initiator refused a reply");
            return report;
        }
        if (handled.complete) {
            CHECK(handled.reply == NULL && handled.reply_len == 0);
            report.exact = same_ids(handled.have_ids, handled.have_count, have, have_count) &&
                           same_ids(handled.need_ids, handled.need_count, need, need_count);
            CHECK(report.exact);
            report.ok = true;
            if (close_responder) {
                bool closed = false;
                CHECK_EQ(negsync_manager_close(to, from_id, NEGSYNC_DIRECTION_INBOUND, &closed),
                         NEGSYNC_OK);
                CHECK(closed == !report.responder_completed);
            }
            return report;
        }
        CHECK(handled.have_ids == NULL && handled.have_count == 0);
        CHECK(handled.need_ids == NULL && handled.need_count == 0);
        CHECK(handled.reply != NULL && handled.reply_len > 0);
        msg = handled.reply;
        msg_len = handled.reply_len;
    }
    CHECK(!"the sync does not end");
    return report;
}

/* ---- syncing ---- */

/* One round trip of the sync `from` started toward `to`: `to` answers `*msg`, then `from` reads
 * the answer. When `from`'s outbound session completes, checks its differences (`ours`: the IDs only
 * `from` holds; `theirs`: only `to`) and sets `*done`;
 * otherwise copies its next message into `msg`. `*answered` tells whether `to`'s inbound session
 * ended with that answer. */
static void sync_round_trip(negsync_manager *from, const uint8_t *from_id, negsync_manager *to,
                            const uint8_t *to_id, uint64_t now, buffer *msg, const uint8_t *ours,
                            size_t ours_count, const uint8_t *theirs, size_t theirs_count,
                            bool *done, bool *answered) {
    negsync_handled answer, handled;
    REQUIRE(negsync_manager_handle(to, from_id, NEGSYNC_DIRECTION_INBOUND, msg->data, msg->len,
                                   now, &answer) == NEGSYNC_OK);
    *answered = answer.complete;
    REQUIRE(negsync_manager_handle(from, to_id, NEGSYNC_DIRECTION_OUTBOUND, answer.reply,
                                   answer.reply_len, now, &handled) == NEGSYNC_OK);
    if (handled.complete) {
        *done = true;
        CHECK(same_ids(handled.have_ids, handled.have_count, ours, ours_count));
        CHECK(same_ids(handled.need_ids, handled.need_count, theirs, theirs_count));
    } else {
        REQUIRE(buffer_set(msg, handled.reply, handled.reply_len));
    }
}

/* Alice and Bob start toward each other before either answers: each holds an outbound and an
 * inbound session with the other, and both syncs end with the exact differences. */
static void two_managers_sync_toward_each_other(uint64_t frame_size_limit) {
    set_pair pair;
    negsync_manager_config config = config_default();
    negsync_manager *alice, *bob;
    buffer alice_msg = {NULL, 0}, bob_msg = {NULL, 0};
    const uint8_t *lent = NULL;
    size_t lent_len = 0;
    bool alice_done = false, bob_done = false, alice_answered = false, bob_answered = false;
    unsigned round_trips = 0;
    uint64_t now;
    negsync_manager_stats stats;

    REQUIRE(pair_make(&pair, 11, 3000, 40, 60, (uint64_t)1 << 20));
    config.frame_size_limit = frame_size_limit;
    alice = manager_of(pair.a, &config);
    bob = manager_of(pair.b, &config);
    REQUIRE(alice != NULL && bob != NULL);

    /* Each message is copied: the manager that lent it is called (for the other direction)
     * before the message is delivered. */
    REQUIRE(negsync_manager_start(alice, BOB, 1, &lent, &lent_len) == NEGSYNC_OK);
    REQUIRE(buffer_set(&alice_msg, lent, lent_len));
    REQUIRE(negsync_manager_start(bob, ALICE, 1, &lent, &lent_len) == NEGSYNC_OK);
    REQUIRE(buffer_set(&bob_msg, lent, lent_len));
    CHECK_EQ(stats_of(alice).live, 1);
    CHECK_EQ(stats_of(bob).live, 1);

    for (now = 2; now < MAX_ROUND_TRIPS && !(alice_done && bob_done); now++) {
        if (!alice_done) {
            sync_round_trip(alice, ALICE, bob, BOB, now, &alice_msg, pair.only_a,
                            pair.only_a_count, pair.only_b, pair.only_b_count, &alice_done,
                            &bob_answered);
        }
        if (!bob_done) {
            sync_round_trip(bob, BOB, alice, ALICE, now, &bob_msg, pair.only_b,
                            pair.only_b_count, pair.only_a, pair.only_a_count, &bob_done,
                            &alice_answered);
        }
        round_trips++;
        /* An outbound session lives until it completes; an inbound one until its final reply. */
        CHECK_EQ(stats_of(alice).live, (unsigned)!alice_done + (unsigned)!alice_answered);
        CHECK_EQ(stats_of(bob).live, (unsigned)!bob_done + (unsigned)!bob_answered);
    }
    CHECK(alice_done && bob_done);
    if (frame_size_limit != 0) {
        CHECK(round_trips > 1);
    }

    stats = stats_of(alice);
    CHECK_EQ(stats.started_outbound, 1);
    CHECK_EQ(stats.started_inbound, 1);
    CHECK_EQ(stats.completed, 1 + (unsigned)alice_answered);
    CHECK_EQ(stats.have_total, 40);
    CHECK_EQ(stats.need_total, 60);
    CHECK_EQ(stats.failed + stats.expired + stats.evicted + stats.closed, 0);
    stats = stats_of(bob);
    CHECK_EQ(stats.started_outbound, 1);
    CHECK_EQ(stats.started_inbound, 1);
    CHECK_EQ(stats.completed, 1 + (unsigned)bob_answered);
    CHECK_EQ(stats.have_total, 60);
    CHECK_EQ(stats.need_total, 40);

    buffer_free(&alice_msg);
    buffer_free(&bob_msg);
    negsync_manager_free(alice);
    negsync_manager_free(bob);
    pair_free(&pair);
}

static void test_two_managers_sync_toward_each_other_at_once(void) {
    two_managers_sync_toward_each_other(0);
}

static void test_two_managers_sync_toward_each_other_with_small_frames(void) {
    two_managers_sync_toward_each_other(4096);
}

/* Every counter after a full sync, on both sides, from the bytes that actually passed. */
static void test_a_full_sync_is_counted_exactly(void) {
    set_pair pair;
    negsync_manager_config config = config_default();
    negsync_manager *alice, *bob;
    negsync_manager_stats want, got;
    sync_report report;
    unsigned stale;
    bool closed = false;

    REQUIRE(pair_make(&pair, 3, 2000, 25, 35, 1000));
    config.frame_size_limit = 4096;
    alice = manager_of(pair.a, &config);
    bob = manager_of(pair.b, &config);
    REQUIRE(alice != NULL && bob != NULL);

    report = run_sync(alice, ALICE, bob, BOB, 5, pair.only_a, pair.only_a_count, pair.only_b,
                      pair.only_b_count, false);
    REQUIRE(report.ok);
    CHECK(report.initiator_messages > 1);

    memset(&want, 0, sizeof want);
    want.started_outbound = 1;
    want.completed = 1;
    want.rounds = report.responder_messages;
    want.bytes_in = report.responder_bytes;
    want.bytes_out = report.initiator_bytes;
    want.have_total = 25;
    want.need_total = 35;
    got = stats_of(alice);
    check_stats(&got, &want);

    stale = report.responder_completed ? 0 : 1;
    memset(&want, 0, sizeof want);
    want.started_inbound = 1;
    want.completed = 1 - stale;
    want.rounds = report.initiator_messages;
    want.bytes_in = report.initiator_bytes;
    want.bytes_out = report.responder_bytes;
    want.live = stale;
    got = stats_of(bob);
    check_stats(&got, &want);
    CHECK_EQ(negsync_manager_close(bob, ALICE, NEGSYNC_DIRECTION_INBOUND, &closed), NEGSYNC_OK);
    CHECK(closed == (stale == 1));
    CHECK_EQ(stats_of(bob).closed, stale);
    CHECK_EQ(stats_of(bob).live, 0);

    /* Nothing accumulates: a second sync finds the same and the counters add up. */
    report = run_sync(alice, ALICE, bob, BOB, 6, pair.only_a, pair.only_a_count, pair.only_b,
                      pair.only_b_count, true);
    CHECK(report.ok && report.exact);
    CHECK_EQ(stats_of(alice).completed, 2);
    CHECK_EQ(stats_of(alice).have_total, 50);
    CHECK_EQ(stats_of(alice).need_total, 70);
    CHECK_EQ(stats_of(alice).live, 0);
    CHECK_EQ(stats_of(bob).live, 0);

    negsync_manager_free(alice);
    negsync_manager_free(bob);
    pair_free(&pair);
}

/* A session reads the set as it was when that session began. */
static void test_sessions_see_the_set_as_it_was_when_they_began(void) {
    negsync_set *set = NULL, *other = NULL;
    negsync_manager *manager, *remote;
    uint8_t one[NEGSYNC_ID_SIZE], two[NEGSYNC_ID_SIZE], both[2 * NEGSYNC_ID_SIZE];
    const uint8_t *msg = NULL;
    size_t msg_len = 0;
    negsync_handled answer, handled;
    sync_report report;

    memset(one, 1, sizeof one);
    memset(two, 2, sizeof two);
    memcpy(both, one, sizeof one);
    memcpy(both + NEGSYNC_ID_SIZE, two, sizeof two);
    REQUIRE(negsync_set_new(&set) == NEGSYNC_OK && negsync_set_new(&other) == NEGSYNC_OK);
    REQUIRE(negsync_set_insert(set, 1, one) == NEGSYNC_OK);
    manager = manager_of(set, NULL);
    remote = manager_of(other, NULL);
    REQUIRE(manager != NULL && remote != NULL);

    REQUIRE(negsync_manager_start(manager, BOB, 0, &msg, &msg_len) == NEGSYNC_OK);
    REQUIRE(negsync_set_insert(set, 2, two) == NEGSYNC_OK); /* after the session began */
    REQUIRE(negsync_manager_handle(remote, ALICE, NEGSYNC_DIRECTION_INBOUND, msg, msg_len, 0,
                                   &answer) == NEGSYNC_OK);
    REQUIRE(negsync_manager_handle(manager, BOB, NEGSYNC_DIRECTION_OUTBOUND, answer.reply,
                                   answer.reply_len, 0, &handled) == NEGSYNC_OK);
    CHECK(handled.complete);
    CHECK(same_ids(handled.have_ids, handled.have_count, one, 1));
    /* The responder's session may already be over; either way the call itself must succeed. */
    CHECK_EQ(negsync_manager_close(remote, ALICE, NEGSYNC_DIRECTION_INBOUND, &handled.complete),
             NEGSYNC_OK);

    report = run_sync(manager, ALICE, remote, BOB, 1, both, 2, NULL, 0, true);
    CHECK(report.ok && report.exact); /* a new session reads the new snapshot */

    negsync_manager_free(manager);
    negsync_manager_free(remote);
    negsync_set_free(set);
    negsync_set_free(other);
}

/* The manager keeps its set alive: freed first, it still serves syncs in both directions. */
static void test_the_set_may_be_freed_before_the_manager(void) {
    set_pair pair;
    negsync_manager *alice, *bob;
    uint64_t now;

    REQUIRE(pair_make(&pair, 8, 500, 7, 9, 100000));
    alice = manager_of(pair.a, NULL);
    bob = manager_of(pair.b, NULL);
    REQUIRE(alice != NULL && bob != NULL);
    negsync_set_free(pair.a);
    negsync_set_free(pair.b);
    pair.a = pair.b = NULL;

    for (now = 0; now < 3; now++) {
        sync_report there = run_sync(alice, ALICE, bob, BOB, now, pair.only_a, pair.only_a_count,
                                     pair.only_b, pair.only_b_count, true);
        sync_report back = run_sync(bob, BOB, alice, ALICE, now, pair.only_b, pair.only_b_count,
                                    pair.only_a, pair.only_a_count, true);
        CHECK(there.ok && there.exact && back.ok && back.exact);
    }
    negsync_manager_free(alice);
    negsync_manager_free(bob);
    pair_free(&pair); /* the sets are NULL now: freeing NULL is a no-op */
}

/* A manager freed with sessions alive in both directions frees them all (valgrind: no leak). */
static void test_a_manager_freed_with_live_sessions_leaks_nothing(void) {
    set_pair pair;
    negsync_manager *alice, *bob;
    const uint8_t *msg = NULL;
    size_t msg_len = 0;
    negsync_handled answer;
    uint8_t other[32];
    int i;

    REQUIRE(pair_make(&pair, 21, 1000, 30, 30, (uint64_t)1 << 20));
    alice = manager_of(pair.a, NULL);
    bob = manager_of(pair.b, NULL);
    REQUIRE(alice != NULL && bob != NULL);
    for (i = 1; i <= 5; i++) {
        peer_fill(other, i);
        CHECK_EQ(negsync_manager_start(alice, other, 0, &msg, &msg_len), NEGSYNC_OK);
    }
    CHECK_EQ(negsync_manager_start(alice, BOB, 0, &msg, &msg_len), NEGSYNC_OK);
    CHECK_EQ(negsync_manager_handle(bob, ALICE, NEGSYNC_DIRECTION_INBOUND, msg, msg_len, 0,
                                    &answer),
             NEGSYNC_OK);
    CHECK_EQ(stats_of(alice).live, 6);
    negsync_manager_free(alice);
    negsync_manager_free(bob);
    pair_free(&pair);
}

/* ---- bounds, expiry, failures ---- */

static void test_a_second_outbound_sync_to_the_same_peer_is_refused(void) {
    negsync_set *set = NULL;
    negsync_manager *manager;
    const uint8_t *msg = SENTINEL_POINTER;
    size_t msg_len = SENTINEL_SIZE;
    const uint8_t version_only[1] = {0x61};
    uint8_t stranger[32];
    negsync_handled out;
    negsync_manager_stats stats;

    peer_fill(stranger, 9);
    REQUIRE(negsync_set_new(&set) == NEGSYNC_OK);
    manager = manager_of(set, NULL);
    REQUIRE(manager != NULL);
    CHECK_EQ(negsync_manager_start(manager, BOB, 0, &msg, &msg_len), NEGSYNC_OK);
    CHECK(last_error_empty(manager));

    msg = SENTINEL_POINTER;
    msg_len = SENTINEL_SIZE;
    CHECK_EQ(negsync_manager_start(manager, BOB, 0, &msg, &msg_len), NEGSYNC_WRONG_STATE);
    CHECK(msg == SENTINEL_POINTER && msg_len == SENTINEL_SIZE);
    CHECK(!last_error_empty(manager));
    CHECK_EQ(negsync_manager_start(manager, ALICE, 0, &msg, &msg_len), NEGSYNC_OK);
    CHECK(last_error_empty(manager)); /* a call that succeeds clears it */

    /* A reply for a sync never started. */
    memset(&out, SENTINEL_BYTE, sizeof out);
    CHECK_EQ(negsync_manager_handle(manager, stranger, NEGSYNC_DIRECTION_OUTBOUND, version_only,
                                    1, 0, &out),
             NEGSYNC_WRONG_STATE);
    CHECK(bytes_all(&out, sizeof out, SENTINEL_BYTE));
    CHECK(!last_error_empty(manager));

    stats = stats_of(manager);
    CHECK_EQ(stats.started_outbound, 2);
    CHECK_EQ(stats.live, 2);
    CHECK_EQ(stats.rounds, 0);
    CHECK_EQ(stats.bytes_in, 0);
    CHECK_EQ(stats.failed, 0);
    negsync_manager_free(manager);
    negsync_set_free(set);
}

/* Probes without changing anything: a refused start means an outbound session with `peer` is
 * alive; a refused reply ("0x61", which would complete a live one) means it is not. */
static bool outbound_alive(negsync_manager *manager, const uint8_t *peer, uint64_t now) {
    const uint8_t *msg = NULL;
    size_t msg_len = 0;
    return negsync_manager_start(manager, peer, now, &msg, &msg_len) == NEGSYNC_WRONG_STATE;
}

static bool outbound_gone(negsync_manager *manager, const uint8_t *peer, uint64_t now) {
    const uint8_t version_only[1] = {0x61};
    negsync_handled out;
    return negsync_manager_handle(manager, peer, NEGSYNC_DIRECTION_OUTBOUND, version_only, 1, now,
                                  &out) == NEGSYNC_WRONG_STATE;
}

static void test_the_oldest_idle_session_is_evicted_and_idle_ones_expire(void) {
    negsync_set *set = NULL;
    negsync_manager_config config = config_default();
    negsync_manager *manager;
    negsync_manager_stats stats;
    uint8_t peers[5][32];
    const uint8_t *msg = NULL;
    size_t msg_len = 0, expired = SENTINEL_SIZE;
    int i;

    for (i = 0; i < 5; i++) {
        peer_fill(peers[i], i);
    }
    config.max_sessions = 3;
    config.idle_timeout = 100;
    REQUIRE(negsync_set_new(&set) == NEGSYNC_OK);
    manager = manager_of(set, &config);
    REQUIRE(manager != NULL);
    CHECK_EQ(negsync_manager_start(manager, peers[1], 10, &msg, &msg_len), NEGSYNC_OK);
    CHECK_EQ(negsync_manager_start(manager, peers[2], 20, &msg, &msg_len), NEGSYNC_OK);
    CHECK_EQ(negsync_manager_start(manager, peers[3], 30, &msg, &msg_len), NEGSYNC_OK);
    CHECK_EQ(negsync_manager_start(manager, peers[4], 40, &msg, &msg_len), NEGSYNC_OK);
    CHECK(outbound_gone(manager, peers[1], 41)); /* idle longest */
    CHECK(outbound_alive(manager, peers[2], 41));
    CHECK(outbound_alive(manager, peers[3], 41));
    CHECK(outbound_alive(manager, peers[4], 41));
    CHECK_EQ(stats_of(manager).evicted, 1);
    CHECK_EQ(stats_of(manager).live, 3);

    CHECK_EQ(negsync_manager_expire(manager, 120, &expired), NEGSYNC_OK);
    CHECK_EQ(expired, 0); /* idle exactly the timeout is not past it */
    CHECK(last_error_empty(manager));
    CHECK_EQ(negsync_manager_expire(manager, 121, &expired), NEGSYNC_OK);
    CHECK_EQ(expired, 1); /* only the one last active at 20 */
    CHECK(outbound_gone(manager, peers[2], 121));
    CHECK(outbound_alive(manager, peers[3], 121));
    CHECK_EQ(negsync_manager_expire(manager, 1000, &expired), NEGSYNC_OK);
    CHECK_EQ(expired, 2);
    CHECK_EQ(negsync_manager_expire(manager, UINT64_MAX, &expired), NEGSYNC_OK);
    CHECK_EQ(expired, 0);

    stats = stats_of(manager);
    CHECK_EQ(stats.live, 0);
    CHECK_EQ(stats.expired, 3);
    CHECK_EQ(stats.evicted, 1);
    CHECK_EQ(stats.started_outbound, 4);
    CHECK_EQ(stats.completed + stats.closed + stats.failed, 0);
    /* A peer whose session expired may be synced again. */
    CHECK_EQ(negsync_manager_start(manager, peers[1], 1001, &msg, &msg_len), NEGSYNC_OK);
    negsync_manager_free(manager);
    negsync_set_free(set);
}

/* Inbound sessions count toward the bound; each message received refreshes a session's time. */
static void test_inbound_sessions_count_toward_the_bound_and_activity_delays_expiry(void) {
    set_pair pair;
    negsync_manager_config config = config_default();
    negsync_manager *alice, *bob;
    buffer first = {NULL, 0};
    const uint8_t *msg = NULL;
    size_t msg_len = 0, expired = 0;
    negsync_handled answer, handled;
    negsync_manager_stats stats;
    uint8_t p5[32], p6[32], p7[32];
    bool closed = false;

    peer_fill(p5, 5);
    peer_fill(p6, 6);
    peer_fill(p7, 7);
    REQUIRE(pair_make(&pair, 13, 3000, 50, 50, (uint64_t)1 << 20));
    config.max_sessions = 2;
    config.idle_timeout = 100;
    config.frame_size_limit = 4096;
    alice = manager_of(pair.a, &config);
    bob = manager_of(pair.b, &config);
    REQUIRE(alice != NULL && bob != NULL);

    REQUIRE(negsync_manager_start(alice, BOB, 0, &msg, &msg_len) == NEGSYNC_OK);
    REQUIRE(buffer_set(&first, msg, msg_len));
    REQUIRE(negsync_manager_handle(bob, ALICE, NEGSYNC_DIRECTION_INBOUND, first.data, first.len, 0,
                                   &answer) == NEGSYNC_OK);
    REQUIRE(!answer.complete);
    CHECK_EQ(stats_of(bob).live, 1);
    REQUIRE(negsync_manager_handle(alice, BOB, NEGSYNC_DIRECTION_OUTBOUND, answer.reply,
                                   answer.reply_len, 0, &handled) == NEGSYNC_OK);
    REQUIRE(!handled.complete);
    REQUIRE(negsync_manager_handle(bob, ALICE, NEGSYNC_DIRECTION_INBOUND, handled.reply,
                                   handled.reply_len, 90, &answer) == NEGSYNC_OK);
    REQUIRE(!answer.complete); /* touched again at 90 */
    CHECK_EQ(negsync_manager_start(bob, p5, 50, &msg, &msg_len), NEGSYNC_OK);
    CHECK_EQ(stats_of(bob).live, 2);

    CHECK_EQ(negsync_manager_expire(bob, 150, &expired), NEGSYNC_OK);
    CHECK_EQ(expired, 0);
    CHECK_EQ(negsync_manager_expire(bob, 151, &expired), NEGSYNC_OK);
    CHECK_EQ(expired, 1); /* p5, last active at 50 */
    CHECK_EQ(negsync_manager_expire(bob, 190, &expired), NEGSYNC_OK);
    CHECK_EQ(expired, 0); /* the inbound session was touched at 90, not 0 */
    CHECK_EQ(negsync_manager_expire(bob, 191, &expired), NEGSYNC_OK);
    CHECK_EQ(expired, 1);
    CHECK_EQ(stats_of(bob).live, 0);

    /* Full, a new inbound session evicts the session idle longest. */
    CHECK_EQ(negsync_manager_start(bob, p6, 200, &msg, &msg_len), NEGSYNC_OK);
    CHECK_EQ(negsync_manager_start(bob, p7, 210, &msg, &msg_len), NEGSYNC_OK);
    CHECK_EQ(negsync_manager_handle(bob, ALICE, NEGSYNC_DIRECTION_INBOUND, first.data, first.len,
                                    220, &answer),
             NEGSYNC_OK);
    stats = stats_of(bob);
    CHECK_EQ(stats.live, 2);
    CHECK_EQ(stats.evicted, 1);
    CHECK_EQ(stats.started_inbound, 2);
    CHECK_EQ(stats.expired, 2);
    CHECK_EQ(negsync_manager_close(bob, ALICE, NEGSYNC_DIRECTION_INBOUND, &closed), NEGSYNC_OK);
    CHECK(closed);
    CHECK_EQ(negsync_manager_close(bob, p7, NEGSYNC_DIRECTION_OUTBOUND, &closed), NEGSYNC_OK);
    CHECK(closed);
    CHECK_EQ(negsync_manager_close(bob, p6, NEGSYNC_DIRECTION_OUTBOUND, &closed), NEGSYNC_OK);
    CHECK(!closed); /* idle longest: evicted */
    CHECK_EQ(stats_of(bob).closed, 2);
    CHECK_EQ(stats_of(bob).live, 0);

    buffer_free(&first);
    negsync_manager_free(alice);
    negsync_manager_free(bob);
    pair_free(&pair);
}

/* A malformed inbound message fails that session alone; it is removed and counted. */
static void malformed_inbound(const uint8_t *message, size_t message_len) {
    set_pair pair;
    negsync_manager *manager, *peer;
    const uint8_t *msg = NULL;
    size_t msg_len = 0;
    negsync_handled out;
    negsync_manager_stats stats;
    sync_report report;
    bool closed = true;

    REQUIRE(pair_make(&pair, 5, 100, 5, 5, 1000));
    manager = manager_of(pair.a, NULL);
    peer = manager_of(pair.b, NULL);
    REQUIRE(manager != NULL && peer != NULL);
    CHECK_EQ(negsync_manager_start(manager, BOB, 0, &msg, &msg_len), NEGSYNC_OK);

    memset(&out, SENTINEL_BYTE, sizeof out);
    CHECK_EQ(negsync_manager_handle(manager, ALICE, NEGSYNC_DIRECTION_INBOUND, message,
                                    message_len, 0, &out),
             NEGSYNC_MALFORMED_MESSAGE);
    CHECK(bytes_all(&out, sizeof out, SENTINEL_BYTE));
    CHECK(!last_error_empty(manager));
    stats = stats_of(manager);
    CHECK_EQ(stats.failed, 1);
    CHECK_EQ(stats.started_inbound, 1);
    CHECK_EQ(stats.live, 1);
    CHECK_EQ(stats.rounds, 1);
    CHECK_EQ(stats.bytes_in, message_len);

    CHECK_EQ(negsync_manager_close(manager, ALICE, NEGSYNC_DIRECTION_INBOUND, &closed),
             NEGSYNC_OK);
    CHECK(!closed); /* the failed session is gone */
    CHECK_EQ(negsync_manager_close(manager, BOB, NEGSYNC_DIRECTION_OUTBOUND, &closed), NEGSYNC_OK);
    CHECK(closed); /* other sessions live on */
    CHECK_EQ(stats_of(manager).closed, 1);

    report = run_sync(manager, ALICE, peer, BOB, 1, pair.only_a, pair.only_a_count, pair.only_b,
                      pair.only_b_count, true);
    CHECK(report.ok && report.exact);
    CHECK_EQ(stats_of(manager).live, 0);
    CHECK_EQ(stats_of(manager).failed, 1);

    negsync_manager_free(manager);
    negsync_manager_free(peer);
    pair_free(&pair);
}

static void test_a_malformed_inbound_message_fails_that_session_alone(void) {
    static const uint8_t truncated_varint[] = {0x61, 0x80};
    static const uint8_t unknown_mode[] = {0x61, 0x00, 0x00, 0x03};
    static const uint8_t not_negentropy[] = {0x70};
    malformed_inbound(truncated_varint, sizeof truncated_varint);
    malformed_inbound(unknown_mode, sizeof unknown_mode);
    malformed_inbound(not_negentropy, sizeof not_negentropy);
    malformed_inbound(NULL, 0); /* NULL with length 0 is the empty message: malformed */
}

/* A reply in another protocol version fails the outbound sync; it is removed and counted. */
static void test_a_reply_in_another_version_fails_the_outbound_sync(void) {
    negsync_set *set = NULL;
    negsync_manager *manager;
    const uint8_t version_2[1] = {0x62};
    const uint8_t *msg = NULL;
    size_t msg_len = 0;
    negsync_handled out;

    REQUIRE(negsync_set_new(&set) == NEGSYNC_OK);
    manager = manager_of(set, NULL);
    REQUIRE(manager != NULL);
    CHECK_EQ(negsync_manager_start(manager, BOB, 0, &msg, &msg_len), NEGSYNC_OK);
    CHECK_EQ(negsync_manager_handle(manager, BOB, NEGSYNC_DIRECTION_OUTBOUND, version_2, 1, 0,
                                    &out),
             NEGSYNC_UNSUPPORTED_VERSION);
    CHECK(!last_error_empty(manager));
    CHECK_EQ(stats_of(manager).failed, 1);
    CHECK_EQ(stats_of(manager).live, 0);
    CHECK_EQ(negsync_manager_start(manager, BOB, 1, &msg, &msg_len), NEGSYNC_OK);
    negsync_manager_free(manager);
    negsync_set_free(set);
}

/* The limits in the configuration bound every session. */
static void test_limits_in_the_config_bound_every_session(void) {
    set_pair pair;
    negsync_manager_config small = config_default();
    negsync_manager *alice, *bob;
    const uint8_t *msg = NULL;
    size_t msg_len = 0;
    negsync_handled out;

    REQUIRE(pair_make(&pair, 14, 3000, 50, 50, (uint64_t)1 << 20));
    small.limits.max_message_size = 64;
    alice = manager_of(pair.a, NULL);
    bob = manager_of(pair.b, &small);
    REQUIRE(alice != NULL && bob != NULL);
    REQUIRE(negsync_manager_start(alice, BOB, 0, &msg, &msg_len) == NEGSYNC_OK);
    CHECK(msg_len > 64);
    CHECK_EQ(negsync_manager_handle(bob, ALICE, NEGSYNC_DIRECTION_INBOUND, msg, msg_len, 0, &out),
             NEGSYNC_LIMIT_EXCEEDED);
    CHECK_EQ(stats_of(bob).failed, 1);
    CHECK_EQ(stats_of(bob).live, 0);
    negsync_manager_free(alice);
    negsync_manager_free(bob);
    pair_free(&pair);
}

/* ---- configuration ---- */

static void test_the_default_configuration(void) {
    negsync_manager_config config;
    negsync_limits limits;
    memset(&config, SENTINEL_BYTE, sizeof config);
    CHECK_EQ(negsync_manager_config_default(&config), NEGSYNC_OK);
    CHECK_EQ(config.max_sessions, 64);
    CHECK_EQ(config.idle_timeout, 30000);
    CHECK_EQ(config.frame_size_limit, 0);
    REQUIRE(negsync_limits_default(&limits) == NEGSYNC_OK);
    CHECK_EQ(config.limits.max_message_size, limits.max_message_size);
    CHECK_EQ(config.limits.max_rounds, limits.max_rounds);
    CHECK_EQ(config.limits.max_id_bytes, limits.max_id_bytes);
}

static void test_bad_configurations_are_refused(void) {
    negsync_set *set = NULL;
    negsync_manager *manager = (negsync_manager *)SENTINEL_POINTER;
    negsync_manager_config config;
    const uint64_t bad_frames[] = {1, 100, NEGSYNC_MIN_FRAME_SIZE_LIMIT - 1};
    size_t i;

    REQUIRE(negsync_set_new(&set) == NEGSYNC_OK);
    config = config_default();
    config.max_sessions = 0;
    CHECK_EQ(negsync_manager_new(set, &config, &manager), NEGSYNC_INVALID_ARGUMENT);
    CHECK(manager == SENTINEL_POINTER);
    for (i = 0; i < sizeof bad_frames / sizeof bad_frames[0]; i++) {
        config = config_default();
        config.frame_size_limit = bad_frames[i];
        CHECK_EQ(negsync_manager_new(set, &config, &manager), NEGSYNC_INVALID_ARGUMENT);
        CHECK(manager == SENTINEL_POINTER);
    }
    /* The edges that are accepted. */
    config = config_default();
    config.max_sessions = 1;
    config.frame_size_limit = 4096;
    config.idle_timeout = 0;
    CHECK_EQ(negsync_manager_new(set, &config, &manager), NEGSYNC_OK);
    CHECK(manager != NULL && manager != SENTINEL_POINTER);
    if (manager != SENTINEL_POINTER) {
        negsync_manager_free(manager);
    }
    negsync_set_free(set);
}

/* ---- argument checks ---- */

/* A direction other than OUTBOUND (0) or INBOUND (1) is refused and changes nothing. */
static void test_a_direction_other_than_0_or_1_is_refused(void) {
    negsync_set *set = NULL;
    negsync_manager *manager;
    const uint32_t bad[] = {2, 3, 0x80000000u, UINT32_MAX};
    const uint8_t version_only[1] = {0x61};
    const uint8_t *msg = NULL;
    size_t msg_len = 0, i;
    negsync_handled out;
    bool_slot closed;

    REQUIRE(negsync_set_new(&set) == NEGSYNC_OK);
    manager = manager_of(set, NULL);
    REQUIRE(manager != NULL);
    CHECK_EQ(negsync_manager_start(manager, BOB, 0, &msg, &msg_len), NEGSYNC_OK);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&out, SENTINEL_BYTE, sizeof out);
        CHECK(last_error_empty(manager) || i > 0);
        CHECK_EQ(negsync_manager_handle(manager, BOB, bad[i], version_only, 1, 0, &out),
                 NEGSYNC_INVALID_ARGUMENT);
        CHECK(bytes_all(&out, sizeof out, SENTINEL_BYTE));
        CHECK(!last_error_empty(manager));
        memset(&closed, SENTINEL_BYTE, sizeof closed);
        CHECK_EQ(negsync_manager_close(manager, BOB, bad[i], &closed.value),
                 NEGSYNC_INVALID_ARGUMENT);
        CHECK(closed.raw == SENTINEL_BYTE);
        CHECK(!last_error_empty(manager));
    }
    CHECK_EQ(stats_of(manager).live, 1);
    CHECK_EQ(stats_of(manager).rounds, 0);
    CHECK_EQ(stats_of(manager).closed, 0);
    negsync_manager_free(manager);
    negsync_set_free(set);
}

/* config_default and new refuse NULL in every pointer position and leave *out alone. */
static void test_config_default_and_new_refuse_null(void) {
    negsync_set *set = NULL;
    negsync_manager_config config = config_default();
    negsync_manager *manager = (negsync_manager *)SENTINEL_POINTER;

    REQUIRE(negsync_set_new(&set) == NEGSYNC_OK);
    CHECK_EQ(negsync_manager_config_default(NULL), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_manager_new(NULL, &config, &manager), NEGSYNC_NULL_PARAMETER);
    CHECK(manager == SENTINEL_POINTER);
    CHECK_EQ(negsync_manager_new(set, NULL, &manager), NEGSYNC_NULL_PARAMETER);
    CHECK(manager == SENTINEL_POINTER);
    CHECK_EQ(negsync_manager_new(set, &config, NULL), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_manager_new(NULL, NULL, NULL), NEGSYNC_NULL_PARAMETER);
    negsync_set_free(set);
}

/* start, handle, close, expire and get_stats refuse NULL in every pointer position: out-params
 * are untouched, the manager is unchanged, and a mutating call on a live manager says why. */
static void test_calls_on_a_manager_refuse_null(void) {
    set_pair pair;
    negsync_manager *alice, *bob;
    const uint8_t *msg = SENTINEL_POINTER, *lent = NULL;
    size_t msg_len = SENTINEL_SIZE, expired = SENTINEL_SIZE;
    buffer first = {NULL, 0};
    negsync_handled out;
    negsync_manager_stats stats;
    bool_slot closed;
    sync_report report;

    REQUIRE(pair_make(&pair, 17, 300, 4, 6, 1000));
    alice = manager_of(pair.a, NULL);
    bob = manager_of(pair.b, NULL);
    REQUIRE(alice != NULL && bob != NULL);

    /* start */
    CHECK_EQ(negsync_manager_start(NULL, BOB, 0, &msg, &msg_len), NEGSYNC_NULL_PARAMETER);
    CHECK(msg == SENTINEL_POINTER && msg_len == SENTINEL_SIZE);
    CHECK_EQ(negsync_manager_start(alice, NULL, 0, &msg, &msg_len), NEGSYNC_NULL_PARAMETER);
    CHECK(msg == SENTINEL_POINTER && msg_len == SENTINEL_SIZE);
    CHECK(!last_error_empty(alice));
    CHECK_EQ(negsync_manager_start(alice, BOB, 0, NULL, &msg_len), NEGSYNC_NULL_PARAMETER);
    CHECK(msg_len == SENTINEL_SIZE);
    CHECK(!last_error_empty(alice));
    CHECK_EQ(negsync_manager_start(alice, BOB, 0, &msg, NULL), NEGSYNC_NULL_PARAMETER);
    CHECK(msg == SENTINEL_POINTER);
    CHECK(!last_error_empty(alice));
    CHECK_EQ(negsync_manager_start(NULL, NULL, 0, NULL, NULL), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(stats_of(alice).started_outbound, 0); /* no sync was begun */
    CHECK_EQ(stats_of(alice).live, 0);

    /* handle (bob receives alice's first message) */
    REQUIRE(negsync_manager_start(alice, BOB, 0, &lent, &msg_len) == NEGSYNC_OK);
    CHECK(last_error_empty(alice));
    REQUIRE(buffer_set(&first, lent, msg_len));
    memset(&out, SENTINEL_BYTE, sizeof out);
    CHECK_EQ(negsync_manager_handle(NULL, ALICE, NEGSYNC_DIRECTION_INBOUND, first.data, first.len,
                                    0, &out),
             NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_manager_handle(bob, NULL, NEGSYNC_DIRECTION_INBOUND, first.data, first.len,
                                    0, &out),
             NEGSYNC_NULL_PARAMETER);
    CHECK(!last_error_empty(bob));
    CHECK_EQ(negsync_manager_handle(bob, ALICE, NEGSYNC_DIRECTION_INBOUND, NULL, first.len, 0,
                                    &out),
             NEGSYNC_NULL_PARAMETER);
    CHECK(!last_error_empty(bob));
    CHECK_EQ(negsync_manager_handle(bob, ALICE, NEGSYNC_DIRECTION_INBOUND, first.data, first.len,
                                    0, NULL),
             NEGSYNC_NULL_PARAMETER);
    CHECK(!last_error_empty(bob));
    /* NULL before a bad direction: the pointer is what is reported. */
    CHECK_EQ(negsync_manager_handle(bob, NULL, 7, first.data, first.len, 0, &out),
             NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_manager_handle(NULL, NULL, NEGSYNC_DIRECTION_INBOUND, NULL, 1, 0, NULL),
             NEGSYNC_NULL_PARAMETER);
    /* The same on alice's outbound side. */
    CHECK_EQ(negsync_manager_handle(alice, BOB, NEGSYNC_DIRECTION_OUTBOUND, NULL, 5, 0, &out),
             NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_manager_handle(alice, BOB, NEGSYNC_DIRECTION_OUTBOUND, first.data, first.len,
                                    0, NULL),
             NEGSYNC_NULL_PARAMETER);
    CHECK(!last_error_empty(alice));
    CHECK(bytes_all(&out, sizeof out, SENTINEL_BYTE));
    stats = stats_of(bob);
    CHECK_EQ(stats.started_inbound, 0); /* no refused call began a session */
    CHECK_EQ(stats.rounds, 0);
    CHECK_EQ(stats.failed, 0);
    CHECK_EQ(stats_of(alice).live, 1); /* nor failed alice's outbound one */
    CHECK_EQ(stats_of(alice).failed, 0);

    /* close */
    memset(&closed, SENTINEL_BYTE, sizeof closed);
    CHECK_EQ(negsync_manager_close(NULL, BOB, NEGSYNC_DIRECTION_OUTBOUND, &closed.value),
             NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_manager_close(alice, NULL, NEGSYNC_DIRECTION_OUTBOUND, &closed.value),
             NEGSYNC_NULL_PARAMETER);
    CHECK(!last_error_empty(alice));
    CHECK(closed.raw == SENTINEL_BYTE);
    CHECK_EQ(negsync_manager_close(alice, BOB, NEGSYNC_DIRECTION_OUTBOUND, NULL),
             NEGSYNC_NULL_PARAMETER);
    CHECK(!last_error_empty(alice));
    CHECK_EQ(negsync_manager_close(NULL, NULL, 9, NULL), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(stats_of(alice).live, 1); /* not closed */
    CHECK_EQ(stats_of(alice).closed, 0);

    /* expire */
    CHECK_EQ(negsync_manager_expire(NULL, UINT64_MAX, &expired), NEGSYNC_NULL_PARAMETER);
    CHECK(expired == SENTINEL_SIZE);
    CHECK_EQ(negsync_manager_expire(alice, UINT64_MAX, NULL), NEGSYNC_NULL_PARAMETER);
    CHECK(!last_error_empty(alice));
    CHECK_EQ(stats_of(alice).live, 1); /* nothing expired */
    CHECK_EQ(stats_of(alice).expired, 0);

    /* get_stats: a read, so last_error keeps the detail of the refusal before it */
    memset(&stats, SENTINEL_BYTE, sizeof stats);
    CHECK_EQ(negsync_manager_get_stats(NULL, &stats), NEGSYNC_NULL_PARAMETER);
    CHECK(bytes_all(&stats, sizeof stats, SENTINEL_BYTE));
    CHECK_EQ(negsync_manager_get_stats(alice, NULL), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_manager_get_stats(NULL, NULL), NEGSYNC_NULL_PARAMETER);
    CHECK(!last_error_empty(alice));
    CHECK_EQ(negsync_manager_expire(alice, 0, &expired), NEGSYNC_OK);
    CHECK(last_error_empty(alice));
    CHECK_EQ(negsync_manager_get_stats(alice, NULL), NEGSYNC_NULL_PARAMETER);
    CHECK(last_error_empty(alice)); /* and a refused read does not set it */

    /* The refusals changed nothing: the sync alice began still runs to its exact end. */
    CHECK_EQ(negsync_manager_close(alice, BOB, NEGSYNC_DIRECTION_OUTBOUND, &closed.value),
             NEGSYNC_OK);
    CHECK(closed.value);
    report = run_sync(alice, ALICE, bob, BOB, 1, pair.only_a, pair.only_a_count, pair.only_b,
                      pair.only_b_count, true);
    CHECK(report.ok && report.exact);

    buffer_free(&first);
    negsync_manager_free(alice);
    negsync_manager_free(bob);
    pair_free(&pair);
}

/* free(NULL) is a no-op; last_error(NULL) is a static, non-empty string. */
static void test_free_and_last_error_accept_null(void) {
    const char *text = negsync_manager_last_error(NULL);
    negsync_manager_free(NULL);
    REQUIRE(text != NULL);
    CHECK(text[0] != '\0');
    CHECK(negsync_manager_last_error(NULL) == text);
}

/* ---- borrowed buffers ---- */

/* The message, reply and have/need arrays lent by a manager stay readable across calls that do
 * not mutate it (get_stats, last_error) and across calls on other managers, until its next
 * mutating call. Under valgrind, every byte read here is checked. */
static void test_lent_buffers_are_readable_until_the_next_call(void) {
    set_pair pair;
    negsync_manager *alice, *bob, *third;
    negsync_set *empty = NULL;
    const uint8_t *msg = NULL, *third_msg = NULL;
    size_t msg_len = 0, third_len = 0;
    uint8_t *have_copy = NULL, *need_copy = NULL;
    negsync_handled answer, handled;
    unsigned rounds = 0;
    volatile uint8_t sink = 0; /* reading every lent byte lets valgrind check each read */
    size_t i;

    REQUIRE(pair_make(&pair, 19, 2000, 120, 80, (uint64_t)1 << 20));
    REQUIRE(negsync_set_new(&empty) == NEGSYNC_OK);
    alice = manager_of(pair.a, NULL);
    bob = manager_of(pair.b, NULL);
    third = manager_of(empty, NULL);
    REQUIRE(alice != NULL && bob != NULL && third != NULL);

    REQUIRE(negsync_manager_start(alice, BOB, 0, &msg, &msg_len) == NEGSYNC_OK);
    /* Another manager's calls do not touch alice's buffer. */
    REQUIRE(negsync_manager_start(third, ALICE, 0, &third_msg, &third_len) == NEGSYNC_OK);
    for (;;) {
        REQUIRE(rounds++ < MAX_ROUND_TRIPS);
        (void)stats_of(alice);
        (void)negsync_manager_last_error(alice);
        for (i = 0; i < msg_len; i++) {
            sink = (uint8_t)(sink ^ msg[i]);
        }
        REQUIRE(negsync_manager_handle(bob, ALICE, NEGSYNC_DIRECTION_INBOUND, msg, msg_len, 0,
                                       &answer) == NEGSYNC_OK);
        REQUIRE(negsync_manager_handle(alice, BOB, NEGSYNC_DIRECTION_OUTBOUND, answer.reply,
                                       answer.reply_len, 0, &handled) == NEGSYNC_OK);
        if (handled.complete) {
            break;
        }
        msg = handled.reply;
        msg_len = handled.reply_len;
    }
    REQUIRE(handled.have_count == pair.only_a_count && handled.need_count == pair.only_b_count);
    have_copy = malloc(handled.have_count * NEGSYNC_ID_SIZE);
    need_copy = malloc(handled.need_count * NEGSYNC_ID_SIZE);
    REQUIRE(have_copy != NULL && need_copy != NULL);
    memcpy(have_copy, handled.have_ids, handled.have_count * NEGSYNC_ID_SIZE);
    memcpy(need_copy, handled.need_ids, handled.need_count * NEGSYNC_ID_SIZE);

    /* Reads, and calls on other managers, between: the arrays still hold the same IDs. */
    (void)stats_of(alice);
    (void)negsync_manager_last_error(alice);
    CHECK_EQ(negsync_manager_start(third, BOB, 0, &third_msg, &third_len), NEGSYNC_OK);
    CHECK_EQ(negsync_manager_close(bob, ALICE, NEGSYNC_DIRECTION_INBOUND, &answer.complete),
             NEGSYNC_OK);
    CHECK(memcmp(have_copy, handled.have_ids, handled.have_count * NEGSYNC_ID_SIZE) == 0);
    CHECK(memcmp(need_copy, handled.need_ids, handled.need_count * NEGSYNC_ID_SIZE) == 0);
    CHECK(same_ids(handled.have_ids, handled.have_count, pair.only_a, pair.only_a_count));
    CHECK(same_ids(handled.need_ids, handled.need_count, pair.only_b, pair.only_b_count));

    /* The next mutating call ends their life; the copies are what the application keeps. */
    CHECK_EQ(negsync_manager_expire(alice, 0, &i), NEGSYNC_OK);
    CHECK(same_ids(have_copy, pair.only_a_count, pair.only_a, pair.only_a_count));
    CHECK(same_ids(need_copy, pair.only_b_count, pair.only_b, pair.only_b_count));

    free(have_copy);
    free(need_copy);
    negsync_manager_free(alice);
    negsync_manager_free(bob);
    negsync_manager_free(third);
    negsync_set_free(empty);
    pair_free(&pair);
}

int main(int argc, char **argv) {
    check_init(argc, argv);
    peer_fill(ALICE, 0xa1);
    peer_fill(BOB, 0xb0);
    CHECK_RUN(test_two_managers_sync_toward_each_other_at_once);
    CHECK_RUN(test_two_managers_sync_toward_each_other_with_small_frames);
    CHECK_RUN(test_a_full_sync_is_counted_exactly);
    CHECK_RUN(test_sessions_see_the_set_as_it_was_when_they_began);
    CHECK_RUN(test_the_set_may_be_freed_before_the_manager);
    CHECK_RUN(test_a_manager_freed_with_live_sessions_leaks_nothing);
    CHECK_RUN(test_a_second_outbound_sync_to_the_same_peer_is_refused);
    CHECK_RUN(test_the_oldest_idle_session_is_evicted_and_idle_ones_expire);
    CHECK_RUN(test_inbound_sessions_count_toward_the_bound_and_activity_delays_expiry);
    CHECK_RUN(test_a_malformed_inbound_message_fails_that_session_alone);
    CHECK_RUN(test_a_reply_in_another_version_fails_the_outbound_sync);
    CHECK_RUN(test_limits_in_the_config_bound_every_session);
    CHECK_RUN(test_the_default_configuration);
    CHECK_RUN(test_bad_configurations_are_refused);
    CHECK_RUN(test_a_direction_other_than_0_or_1_is_refused);
    CHECK_RUN(test_config_default_and_new_refuse_null);
    CHECK_RUN(test_calls_on_a_manager_refuse_null);
    CHECK_RUN(test_free_and_last_error_accept_null);
    CHECK_RUN(test_lent_buffers_are_readable_until_the_next_call);
    return check_summary();
}
