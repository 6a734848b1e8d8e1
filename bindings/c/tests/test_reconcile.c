/*
 * test_reconcile.c: two sessions in one process must find the exact set differences, under every
 * combination of frame limits, for random sets full of shared timestamps and timestamp runs; and
 * the set/snapshot rules of the C ABI (snapshots at creation, sets freed early, distinct counts).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "negsync.h"
#include "check.h"

/* More messages than any exchange here needs; reaching it means the exchange does not end. */
/* At 128-byte frames three IDs fit in a message: 2,500 missing IDs take about 2,500 rounds. */
#define MAX_EXCHANGE_ROUNDS 10000

/* ---- a small seeded PRNG (xorshift64) ---- */

typedef struct {
    uint64_t state;
} prng;

static prng prng_seeded(uint64_t seed) {
    prng rng;
    rng.state = seed ? seed : 0x9e3779b97f4a7c15ull;
    return rng;
}

static uint64_t prng_next(prng *rng) {
    uint64_t x = rng->state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rng->state = x;
    return x;
}

/* A value in 0..bound-1 (bound > 0); the tiny modulo bias does not matter here. */
static uint64_t prng_below(prng *rng, uint64_t bound) {
    return prng_next(rng) % bound;
}

static void prng_fill(prng *rng, uint8_t *out, size_t len) {
    size_t i;
    for (i = 0; i < len; i++) {
        out[i] = (uint8_t)(prng_next(rng) >> 56);
    }
}

/* ---- items and ID arrays ---- */

typedef struct {
    uint64_t timestamp;
    uint8_t id[NEGSYNC_ID_SIZE];
} item;

/* How timestamps are drawn: all within a few values (many ties), or in consecutive runs. */
typedef enum { TIMESTAMPS_FEW_VALUES, TIMESTAMPS_RUNS } timestamp_shape;

/* `count` items with random IDs; timestamps shaped as asked. */
static item *random_items(prng *rng, size_t count, timestamp_shape shape) {
    item *items = malloc(count ? count * sizeof(item) : 1);
    uint64_t current = prng_below(rng, 1000000);
    size_t i;
    if (items == NULL) {
        return NULL;
    }
    for (i = 0; i < count; i++) {
        prng_fill(rng, items[i].id, NEGSYNC_ID_SIZE);
        if (shape == TIMESTAMPS_FEW_VALUES) {
            items[i].timestamp = 1000 + prng_below(rng, 6);
        } else {
            uint64_t step = prng_below(rng, 64);
            if (step == 0) {
                current = prng_below(rng, 1000000); /* start a new run elsewhere */
            } else if (step < 16) {
                /* repeat the timestamp */
            } else {
                current++;
            }
            items[i].timestamp = current;
        }
    }
    return items;
}

static int compare_ids(const void *left, const void *right) {
    return memcmp(left, right, NEGSYNC_ID_SIZE);
}

/* The IDs of `count` items, sorted, as one contiguous array (caller frees). */
static uint8_t *sorted_ids_of(const item *items, size_t count) {
    uint8_t *ids = malloc(count ? count * NEGSYNC_ID_SIZE : 1);
    size_t i;
    if (ids == NULL) {
        return NULL;
    }
    for (i = 0; i < count; i++) {
        memcpy(ids + i * NEGSYNC_ID_SIZE, items[i].id, NEGSYNC_ID_SIZE);
    }
    qsort(ids, count, NEGSYNC_ID_SIZE, compare_ids);
    return ids;
}

/* True when a lent ID list holds exactly the sorted `expected` IDs, each once. */
static bool same_ids(const uint8_t *got, size_t got_count, const uint8_t *expected,
                     size_t expected_count) {
    uint8_t *sorted;
    bool same;
    if (got_count != expected_count) {
        return false;
    }
    if (got_count == 0) {
        return got == NULL;
    }
    if (got == NULL) {
        return false;
    }
    sorted = malloc(got_count * NEGSYNC_ID_SIZE);
    if (sorted == NULL) {
        return false;
    }
    memcpy(sorted, got, got_count * NEGSYNC_ID_SIZE);
    qsort(sorted, got_count, NEGSYNC_ID_SIZE, compare_ids);
    same = memcmp(sorted, expected, got_count * NEGSYNC_ID_SIZE) == 0;
    free(sorted);
    return same;
}

/* Inserts items one by one (odd `how`) or in one insert_many call (even `how`). */
static bool insert_items(negsync_set *set, const item *items, size_t count, unsigned how) {
    size_t i;
    if (how % 2 == 1) {
        for (i = 0; i < count; i++) {
            if (negsync_set_insert(set, items[i].timestamp, items[i].id) != NEGSYNC_OK) {
                return false;
            }
        }
        return true;
    } else {
        uint64_t *timestamps = malloc(count ? count * sizeof(uint64_t) : 1);
        uint8_t *ids = malloc(count ? count * NEGSYNC_ID_SIZE : 1);
        bool ok = timestamps != NULL && ids != NULL;
        for (i = 0; ok && i < count; i++) {
            timestamps[i] = items[i].timestamp;
            memcpy(ids + i * NEGSYNC_ID_SIZE, items[i].id, NEGSYNC_ID_SIZE);
        }
        ok = ok && negsync_set_insert_many(set, timestamps, ids, count) == NEGSYNC_OK;
        free(timestamps);
        free(ids);
        return ok;
    }
}

/* ---- the exchange ---- */

typedef struct {
    unsigned messages;         /* messages sent, both directions */
    size_t max_initiator_msg;  /* largest initiator message */
    size_t max_responder_msg;  /* largest responder message */
    bool responder_completed;  /* the responder ever reported complete */
    bool ended_after_fingerprint_reply; /* the initiator finished after a reply the responder did
                                           not call final */
} exchange_report;

/*
 * Drives a whole exchange between an initiator and a responder session, checking the rules every
 * message must follow on the way. Returns false (after a failed CHECK) when the exchange broke.
 */
static bool run_exchange(negsync_session *initiator, uint64_t initiator_limit,
                         negsync_session *responder, uint64_t responder_limit,
                         exchange_report *report) {
    const uint8_t *message = NULL;
    size_t message_len = 0;
    unsigned round;
    memset(report, 0, sizeof *report);

    CHECK_EQ(negsync_session_initiate(initiator, &message, &message_len), NEGSYNC_OK);
    if (message == NULL || message_len == 0) {
        CHECK(!"initiate lent out an empty message");
        return false;
    }
    for (round = 0; round < MAX_EXCHANGE_ROUNDS; round++) {
        const uint8_t *reply = NULL, *next = NULL;
        size_t reply_len = 0, next_len = 0;
        bool responder_done = false, initiator_done = false;
        negsync_result code;

        report->messages++;
        if (message_len > report->max_initiator_msg) {
            report->max_initiator_msg = message_len;
        }
        if (initiator_limit != 0) {
            CHECK(message_len <= initiator_limit);
        }

        code = negsync_session_reconcile(responder, message, message_len, &reply, &reply_len,
                                         &responder_done);
        if (code != NEGSYNC_OK) {
            CHECK_EQ(code, NEGSYNC_OK);
            fprintf(stderr, "    responder: %s\n", negsync_session_last_error(responder));
            return false;
        }
        /* The responder always answers; complete comes only with a (non-empty) reply. */
        CHECK(reply != NULL && reply_len > 0);
        CHECK(negsync_session_is_complete(responder) == responder_done);
        report->messages++;
        report->responder_completed = report->responder_completed || responder_done;
        if (reply_len > report->max_responder_msg) {
            report->max_responder_msg = reply_len;
        }
        if (responder_limit != 0) {
            CHECK(reply_len <= responder_limit);
        }

        code = negsync_session_reconcile(initiator, reply, reply_len, &next, &next_len,
                                         &initiator_done);
        if (code != NEGSYNC_OK) {
            CHECK_EQ(code, NEGSYNC_OK);
            fprintf(stderr, "    initiator: %s\n", negsync_session_last_error(initiator));
            return false;
        }
        /* The initiator is complete exactly when it has nothing more to send. */
        CHECK(initiator_done == (next_len == 0));
        CHECK((next == NULL) == (next_len == 0));
        CHECK(negsync_session_is_complete(initiator) == initiator_done);
        /* A responder that called its reply final must be right about it. */
        if (responder_done) {
            CHECK(initiator_done);
        }
        if (initiator_done) {
            report->ended_after_fingerprint_reply = !responder_done;
            return true;
        }
        message = next;
        message_len = next_len;
    }
    CHECK(!"the exchange did not end within MAX_EXCHANGE_ROUNDS messages");
    return false;
}

/* ---- one scenario: build two sets, reconcile, compare with the known differences ---- */

typedef struct {
    size_t common, only_initiator, only_responder;
    timestamp_shape shape;
} scenario;

static const uint64_t frame_limit_pairs[][2] = {
    {0, 0}, {4096, 4096}, {60000, 60000}, {4096, 0}, {0, 60000},
    /* radio frames: negsync's own framing, against itself and the crate's */
    {128, 128}, {200, 200}, {233, 244}, {128, 0}, {4096, 200},
};
#define FRAME_LIMIT_PAIRS (sizeof frame_limit_pairs / sizeof frame_limit_pairs[0])

/* Builds the two sets of `s` from `seed`, reconciles them, and checks have = A\B, need = B\A. */
static void check_scenario(const scenario *s, uint64_t seed, uint64_t initiator_limit,
                           uint64_t responder_limit, exchange_report *report) {
    prng rng = prng_seeded(seed);
    size_t total = s->common + s->only_initiator + s->only_responder;
    item *items = random_items(&rng, total, s->shape);
    const item *common = items;
    const item *only_a = items + s->common;
    const item *only_b = only_a + s->only_initiator;
    uint8_t *expected_have = sorted_ids_of(only_a, s->only_initiator);
    uint8_t *expected_need = sorted_ids_of(only_b, s->only_responder);
    negsync_set *set_a = NULL, *set_b = NULL;
    negsync_session *initiator = NULL, *responder = NULL;
    const uint8_t *ids = NULL;
    size_t count = 0;

    memset(report, 0, sizeof *report);
    if (items == NULL || expected_have == NULL || expected_need == NULL) {
        CHECK(!"out of memory");
        goto done;
    }
    CHECK_EQ(negsync_set_new(&set_a), NEGSYNC_OK);
    CHECK_EQ(negsync_set_new(&set_b), NEGSYNC_OK);
    if (set_a == NULL || set_b == NULL) {
        goto done;
    }
    CHECK(insert_items(set_a, common, s->common, (unsigned)seed));
    CHECK(insert_items(set_a, only_a, s->only_initiator, (unsigned)seed + 1));
    CHECK(insert_items(set_b, only_b, s->only_responder, (unsigned)seed));
    CHECK(insert_items(set_b, common, s->common, (unsigned)seed + 1));
    CHECK_EQ(negsync_set_len(set_a), s->common + s->only_initiator);
    CHECK_EQ(negsync_set_len(set_b), s->common + s->only_responder);

    CHECK_EQ(negsync_session_new(set_a, initiator_limit, &initiator), NEGSYNC_OK);
    CHECK_EQ(negsync_session_new(set_b, responder_limit, &responder), NEGSYNC_OK);
    if (initiator == NULL || responder == NULL) {
        goto done;
    }
    if (!run_exchange(initiator, initiator_limit, responder, responder_limit, report)) {
        fprintf(stderr, "    scenario common=%zu a=%zu b=%zu seed=%llu limits=(%llu,%llu)\n",
                s->common, s->only_initiator, s->only_responder, (unsigned long long)seed,
                (unsigned long long)initiator_limit, (unsigned long long)responder_limit);
        goto done;
    }

    CHECK_EQ(negsync_session_have_ids(initiator, &ids, &count), NEGSYNC_OK);
    if (!same_ids(ids, count, expected_have, s->only_initiator)) {
        CHECK(!"have IDs differ from A\\B");
        fprintf(stderr, "    have: got %zu, expected %zu (common=%zu seed=%llu limits=(%llu,%llu))\n",
                count, s->only_initiator, s->common, (unsigned long long)seed,
                (unsigned long long)initiator_limit, (unsigned long long)responder_limit);
    }
    CHECK_EQ(negsync_session_need_ids(initiator, &ids, &count), NEGSYNC_OK);
    if (!same_ids(ids, count, expected_need, s->only_responder)) {
        CHECK(!"need IDs differ from B\\A");
        fprintf(stderr, "    need: got %zu, expected %zu (common=%zu seed=%llu limits=(%llu,%llu))\n",
                count, s->only_responder, s->common, (unsigned long long)seed,
                (unsigned long long)initiator_limit, (unsigned long long)responder_limit);
    }

done:
    negsync_session_free(initiator);
    negsync_session_free(responder);
    negsync_set_free(set_a);
    negsync_set_free(set_b);
    free(items);
    free(expected_have);
    free(expected_need);
}

/* Runs one scenario under every frame-limit pair. */
static void check_scenario_all_limits(const scenario *s, uint64_t seed) {
    size_t i;
    exchange_report report;
    for (i = 0; i < FRAME_LIMIT_PAIRS; i++) {
        check_scenario(s, seed + i, frame_limit_pairs[i][0], frame_limit_pairs[i][1], &report);
    }
}

/* ---- tests: exact differences ---- */

/* Two empty sets: one round trip, nothing to send or fetch. */
static void test_empty_sets_have_no_differences(void) {
    scenario s = {0, 0, 0, TIMESTAMPS_FEW_VALUES};
    check_scenario_all_limits(&s, 11);
}

/* Identical sets: no differences whatever the limits. */
static void test_identical_sets_have_no_differences(void) {
    scenario s = {600, 0, 0, TIMESTAMPS_RUNS};
    check_scenario_all_limits(&s, 21);
}

/* The initiator is empty: it needs everything. */
static void test_empty_initiator_needs_everything(void) {
    scenario s = {0, 0, 700, TIMESTAMPS_RUNS};
    check_scenario_all_limits(&s, 31);
}

/* The responder is empty: the initiator has everything to send. */
static void test_empty_responder_needs_everything(void) {
    scenario s = {0, 700, 0, TIMESTAMPS_FEW_VALUES};
    check_scenario_all_limits(&s, 41);
}

/* A handful of items each side (below the 32-item IdList threshold). */
static void test_small_sets_find_exact_differences(void) {
    scenario s = {5, 3, 4, TIMESTAMPS_FEW_VALUES};
    check_scenario_all_limits(&s, 51);
}

/* Many items sharing a few timestamps: ordering falls to the ID bytes. */
static void test_shared_timestamps_find_exact_differences(void) {
    scenario s = {800, 60, 70, TIMESTAMPS_FEW_VALUES};
    check_scenario_all_limits(&s, 61);
}

/* Runs of consecutive (and repeated) timestamps, ~3000 items a side. */
static void test_timestamp_runs_find_exact_differences(void) {
    scenario s = {2700, 300, 200, TIMESTAMPS_RUNS};
    check_scenario_all_limits(&s, 71);
}

/* The initiator holds far more than the responder. */
static void test_bigger_initiator_finds_exact_differences(void) {
    scenario s = {200, 2500, 30, TIMESTAMPS_RUNS};
    check_scenario_all_limits(&s, 81);
}

/* The responder holds far more than the initiator. */
static void test_bigger_responder_finds_exact_differences(void) {
    scenario s = {200, 20, 2500, TIMESTAMPS_RUNS};
    check_scenario_all_limits(&s, 91);
}

/* Many small random scenarios with random shapes, sizes and limits. */
static void test_random_small_scenarios_find_exact_differences(void) {
    prng rng = prng_seeded(0xdecafbadull);
    unsigned i;
    exchange_report report;
    for (i = 0; i < 150; i++) {
        scenario s;
        size_t pair = (size_t)prng_below(&rng, FRAME_LIMIT_PAIRS);
        s.common = (size_t)prng_below(&rng, 300);
        s.only_initiator = (size_t)prng_below(&rng, 50);
        s.only_responder = (size_t)prng_below(&rng, 50);
        s.shape = prng_below(&rng, 2) ? TIMESTAMPS_RUNS : TIMESTAMPS_FEW_VALUES;
        check_scenario(&s, prng_next(&rng), frame_limit_pairs[pair][0],
                       frame_limit_pairs[pair][1], &report);
    }
}

/* A few large random scenarios (up to ~3000 items a side), each under every frame-limit pair. */
static void test_random_large_scenarios_find_exact_differences(void) {
    prng rng = prng_seeded(0x5eedull);
    unsigned i;
    for (i = 0; i < 4; i++) {
        scenario s;
        s.common = 1000 + (size_t)prng_below(&rng, 1500);
        s.only_initiator = (size_t)prng_below(&rng, 500);
        s.only_responder = (size_t)prng_below(&rng, 500);
        s.shape = i % 2 ? TIMESTAMPS_RUNS : TIMESTAMPS_FEW_VALUES;
        check_scenario_all_limits(&s, prng_next(&rng));
    }
}

/* Frame limits force several rounds, and each message stays within its sender's limit. */
static void test_frame_limits_force_more_rounds(void) {
    scenario s = {1000, 500, 500, TIMESTAMPS_RUNS};
    exchange_report unlimited, limited;
    check_scenario(&s, 101, 0, 0, &unlimited);
    check_scenario(&s, 101, 4096, 4096, &limited);
    CHECK(limited.messages > unlimited.messages);
    CHECK(limited.max_initiator_msg <= 4096);
    CHECK(limited.max_responder_msg <= 4096);
    CHECK(unlimited.max_responder_msg > 4096); /* 500 IDs alone are 16000 bytes */
}

/*
 * Regression: the responder holds timestamps 1..131 (limit 4096), the initiator 101..131. The
 * responder's cut reply closes with a fingerprint that may already match; the initiator must still
 * finish with the exact differences, even though the responder never learns the end.
 */
static void test_initiator_finishes_after_cut_reply(void) {
    static const uint64_t initiator_limits[] = {0, 4096};
    size_t l;
    unsigned seed;
    unsigned ended_after_fingerprint = 0;
    for (l = 0; l < 2; l++) {
        for (seed = 1; seed <= 8; seed++) {
            prng rng = prng_seeded(seed * 7919u);
            item items[131];
            uint8_t expected_need[100 * NEGSYNC_ID_SIZE];
            negsync_set *responder_set = NULL, *initiator_set = NULL;
            negsync_session *initiator = NULL, *responder = NULL;
            exchange_report report;
            const uint8_t *ids;
            size_t count, i;

            for (i = 0; i < 131; i++) {
                items[i].timestamp = i + 1;
                prng_fill(&rng, items[i].id, NEGSYNC_ID_SIZE);
                if (i < 100) {
                    memcpy(expected_need + i * NEGSYNC_ID_SIZE, items[i].id, NEGSYNC_ID_SIZE);
                }
            }
            qsort(expected_need, 100, NEGSYNC_ID_SIZE, compare_ids);
            CHECK_EQ(negsync_set_new(&responder_set), NEGSYNC_OK);
            CHECK_EQ(negsync_set_new(&initiator_set), NEGSYNC_OK);
            CHECK(insert_items(responder_set, items, 131, 0));
            CHECK(insert_items(initiator_set, items + 100, 31, 1));
            CHECK_EQ(negsync_session_new(initiator_set, initiator_limits[l], &initiator),
                     NEGSYNC_OK);
            CHECK_EQ(negsync_session_new(responder_set, 4096, &responder), NEGSYNC_OK);
            if (initiator != NULL && responder != NULL &&
                run_exchange(initiator, initiator_limits[l], responder, 4096, &report)) {
                CHECK_EQ(negsync_session_have_ids(initiator, &ids, &count), NEGSYNC_OK);
                CHECK_EQ(count, 0);
                CHECK_EQ(negsync_session_need_ids(initiator, &ids, &count), NEGSYNC_OK);
                CHECK(same_ids(ids, count, expected_need, 100));
                CHECK(negsync_session_is_complete(initiator));
                if (report.ended_after_fingerprint_reply) {
                    ended_after_fingerprint++;
                    CHECK(!negsync_session_is_complete(responder));
                }
            }
            negsync_session_free(initiator);
            negsync_session_free(responder);
            negsync_set_free(responder_set);
            negsync_set_free(initiator_set);
        }
    }
    /* The point of the case: at least one exchange ended on the initiator's silence. */
    CHECK(ended_after_fingerprint > 0);
}

/* ---- tests: sets, snapshots, IDs ---- */

/* A session reads the snapshot taken at its creation; later set changes are not seen. */
static void test_session_reads_snapshot_taken_at_creation(void) {
    prng rng = prng_seeded(202);
    item *items = random_items(&rng, 80, TIMESTAMPS_FEW_VALUES);
    /* items 0..59 in both, 60..69 only in A, 70..79 only in B at session creation */
    uint8_t *expected_have = NULL, *expected_need = NULL;
    negsync_set *set_a = NULL, *set_b = NULL;
    negsync_session *initiator = NULL, *responder = NULL, *later = NULL, *later_peer = NULL;
    exchange_report report;
    const uint8_t *ids;
    size_t count;
    uint8_t added[NEGSYNC_ID_SIZE];

    REQUIRE(items != NULL);
    expected_have = sorted_ids_of(items + 60, 10);
    expected_need = sorted_ids_of(items + 70, 10);
    CHECK_EQ(negsync_set_new(&set_a), NEGSYNC_OK);
    CHECK_EQ(negsync_set_new(&set_b), NEGSYNC_OK);
    CHECK(insert_items(set_a, items, 70, 0));
    CHECK(insert_items(set_b, items, 60, 1));
    CHECK(insert_items(set_b, items + 70, 10, 0));
    CHECK_EQ(negsync_session_new(set_a, 0, &initiator), NEGSYNC_OK);
    CHECK_EQ(negsync_session_new(set_b, 0, &responder), NEGSYNC_OK);

    /* Change both sets after the sessions exist. */
    memset(added, 0xab, sizeof added);
    CHECK_EQ(negsync_set_insert(set_a, 5, added), NEGSYNC_OK);
    CHECK_EQ(negsync_set_remove(set_a, items[65].timestamp, items[65].id), NEGSYNC_OK);
    CHECK_EQ(negsync_set_remove(set_b, items[0].timestamp, items[0].id), NEGSYNC_OK);
    CHECK(insert_items(set_b, items + 60, 10, 1)); /* B now has all of A's former extras */
    CHECK_EQ(negsync_set_len(set_a), 70);
    CHECK_EQ(negsync_set_len(set_b), 79);

    if (initiator != NULL && responder != NULL &&
        run_exchange(initiator, 0, responder, 0, &report)) {
        CHECK_EQ(negsync_session_have_ids(initiator, &ids, &count), NEGSYNC_OK);
        CHECK(same_ids(ids, count, expected_have, 10));
        CHECK_EQ(negsync_session_need_ids(initiator, &ids, &count), NEGSYNC_OK);
        CHECK(same_ids(ids, count, expected_need, 10));
    }

    /* New sessions see the changed sets: A = 0..69 without 65, plus `added`; B = 1..79. */
    CHECK_EQ(negsync_session_new(set_a, 0, &later), NEGSYNC_OK);
    CHECK_EQ(negsync_session_new(set_b, 0, &later_peer), NEGSYNC_OK);
    if (later != NULL && later_peer != NULL &&
        run_exchange(later, 0, later_peer, 0, &report)) {
        uint8_t have_now[2 * NEGSYNC_ID_SIZE], need_now[11 * NEGSYNC_ID_SIZE];
        memcpy(have_now, added, NEGSYNC_ID_SIZE);
        memcpy(have_now + NEGSYNC_ID_SIZE, items[0].id, NEGSYNC_ID_SIZE);
        qsort(have_now, 2, NEGSYNC_ID_SIZE, compare_ids);
        memcpy(need_now, items[65].id, NEGSYNC_ID_SIZE);
        memcpy(need_now + NEGSYNC_ID_SIZE, expected_need, 10 * NEGSYNC_ID_SIZE);
        qsort(need_now, 11, NEGSYNC_ID_SIZE, compare_ids);
        CHECK_EQ(negsync_session_have_ids(later, &ids, &count), NEGSYNC_OK);
        CHECK(same_ids(ids, count, have_now, 2));
        CHECK_EQ(negsync_session_need_ids(later, &ids, &count), NEGSYNC_OK);
        CHECK(same_ids(ids, count, need_now, 11));
    }

    negsync_session_free(initiator);
    negsync_session_free(responder);
    negsync_session_free(later);
    negsync_session_free(later_peer);
    negsync_set_free(set_a);
    negsync_set_free(set_b);
    free(items);
    free(expected_have);
    free(expected_need);
}

/* Both sets freed while their sessions live: the sessions still reconcile correctly. */
static void test_sessions_outlive_their_sets(void) {
    prng rng = prng_seeded(303);
    item *items = random_items(&rng, 500, TIMESTAMPS_RUNS);
    uint8_t *expected_have = NULL, *expected_need = NULL;
    negsync_set *set_a = NULL, *set_b = NULL;
    negsync_session *initiator = NULL, *responder = NULL;
    exchange_report report;
    const uint8_t *ids;
    size_t count;

    REQUIRE(items != NULL);
    expected_have = sorted_ids_of(items + 400, 50);
    expected_need = sorted_ids_of(items + 450, 50);
    CHECK_EQ(negsync_set_new(&set_a), NEGSYNC_OK);
    CHECK_EQ(negsync_set_new(&set_b), NEGSYNC_OK);
    CHECK(insert_items(set_a, items, 450, 0));
    CHECK(insert_items(set_b, items, 400, 1));
    CHECK(insert_items(set_b, items + 450, 50, 0));
    CHECK_EQ(negsync_session_new(set_a, 4096, &initiator), NEGSYNC_OK);
    CHECK_EQ(negsync_session_new(set_b, 4096, &responder), NEGSYNC_OK);
    negsync_set_free(set_a);
    negsync_set_free(set_b);

    if (initiator != NULL && responder != NULL &&
        run_exchange(initiator, 4096, responder, 4096, &report)) {
        CHECK_EQ(negsync_session_have_ids(initiator, &ids, &count), NEGSYNC_OK);
        CHECK(same_ids(ids, count, expected_have, 50));
        CHECK_EQ(negsync_session_need_ids(initiator, &ids, &count), NEGSYNC_OK);
        CHECK(same_ids(ids, count, expected_need, 50));
    }
    negsync_session_free(initiator);
    negsync_session_free(responder);
    free(items);
    free(expected_have);
    free(expected_need);
}

/* negsync_set_len counts distinct (timestamp, id) items: an item inserted twice counts once. */
static void test_set_len_counts_distinct_items(void) {
    negsync_set *set = NULL;
    uint8_t id_one[NEGSYNC_ID_SIZE], id_two[NEGSYNC_ID_SIZE];
    uint64_t timestamps[4] = {7, 7, 8, 7};
    uint8_t ids[4 * NEGSYNC_ID_SIZE];

    memset(id_one, 1, sizeof id_one);
    memset(id_two, 2, sizeof id_two);
    memcpy(ids, id_one, NEGSYNC_ID_SIZE);
    memcpy(ids + NEGSYNC_ID_SIZE, id_two, NEGSYNC_ID_SIZE);
    memcpy(ids + 2 * NEGSYNC_ID_SIZE, id_one, NEGSYNC_ID_SIZE);
    memcpy(ids + 3 * NEGSYNC_ID_SIZE, id_one, NEGSYNC_ID_SIZE);

    REQUIRE(negsync_set_new(&set) == NEGSYNC_OK);
    CHECK_EQ(negsync_set_len(set), 0);
    CHECK_EQ(negsync_set_insert(set, 7, id_one), NEGSYNC_OK);
    CHECK_EQ(negsync_set_insert(set, 7, id_one), NEGSYNC_OK);
    CHECK_EQ(negsync_set_len(set), 1);
    /* (7,one) again, (7,two), (8,one), (7,one) a third time: two new items. */
    CHECK_EQ(negsync_set_insert_many(set, timestamps, ids, 4), NEGSYNC_OK);
    CHECK_EQ(negsync_set_len(set), 3);
    /* The same ID at another timestamp is another item. */
    CHECK_EQ(negsync_set_insert(set, 9, id_one), NEGSYNC_OK);
    CHECK_EQ(negsync_set_len(set), 4);
    negsync_set_free(set);
}

/* Remove drops exactly the (timestamp, id) item named; removing an absent item is a no-op. */
static void test_set_remove(void) {
    negsync_set *set = NULL;
    uint8_t id_one[NEGSYNC_ID_SIZE], id_two[NEGSYNC_ID_SIZE];
    memset(id_one, 1, sizeof id_one);
    memset(id_two, 2, sizeof id_two);

    REQUIRE(negsync_set_new(&set) == NEGSYNC_OK);
    CHECK_EQ(negsync_set_remove(set, 1, id_one), NEGSYNC_OK); /* absent: no-op */
    CHECK_EQ(negsync_set_len(set), 0);
    CHECK_EQ(negsync_set_insert(set, 1, id_one), NEGSYNC_OK);
    CHECK_EQ(negsync_set_insert(set, 2, id_two), NEGSYNC_OK);
    CHECK_EQ(negsync_set_len(set), 2);
    CHECK_EQ(negsync_set_remove(set, 2, id_one), NEGSYNC_OK); /* wrong timestamp: no-op */
    CHECK_EQ(negsync_set_len(set), 2);
    CHECK_EQ(negsync_set_remove(set, 1, id_one), NEGSYNC_OK);
    CHECK_EQ(negsync_set_len(set), 1);
    CHECK_EQ(negsync_set_remove(set, 1, id_one), NEGSYNC_OK); /* twice: no-op */
    CHECK_EQ(negsync_set_len(set), 1);
    /* Whichever of insert/remove came last decides, also between two len calls. */
    CHECK_EQ(negsync_set_insert(set, 3, id_one), NEGSYNC_OK);
    CHECK_EQ(negsync_set_remove(set, 3, id_one), NEGSYNC_OK);
    CHECK_EQ(negsync_set_len(set), 1);
    CHECK_EQ(negsync_set_remove(set, 2, id_two), NEGSYNC_OK);
    CHECK_EQ(negsync_set_insert(set, 2, id_two), NEGSYNC_OK);
    CHECK_EQ(negsync_set_len(set), 1);
    negsync_set_free(set);
}

/* insert_many with count 0 accepts NULL arrays and changes nothing. */
static void test_insert_many_of_nothing(void) {
    negsync_set *set = NULL;
    uint64_t timestamp = 1;
    uint8_t id[NEGSYNC_ID_SIZE] = {0};
    REQUIRE(negsync_set_new(&set) == NEGSYNC_OK);
    CHECK_EQ(negsync_set_insert_many(set, NULL, NULL, 0), NEGSYNC_OK);
    CHECK_EQ(negsync_set_insert_many(set, &timestamp, id, 0), NEGSYNC_OK);
    CHECK_EQ(negsync_set_len(set), 0);
    negsync_set_free(set);
}

/* The ID functions follow DESIGN.md: SHA-256(key) and SHA-256(u64_le(len) || key || version). */
static void test_id_derivation_known_answers(void) {
    static const uint8_t sha256_abc[NEGSYNC_ID_SIZE] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
        0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    /* SHA-256(03 00 00 00 00 00 00 00 'a' 'b' 'c' 'v' '1') */
    static const uint8_t abc_v1[NEGSYNC_ID_SIZE] = {
        0x5a, 0xb0, 0xcf, 0x82, 0xc4, 0x13, 0xf4, 0x13, 0x46, 0xfe, 0x7c, 0x9d, 0x87, 0x02, 0xb3, 0x42,
        0xd4, 0x98, 0x57, 0x0b, 0xe0, 0x90, 0x5c, 0xa5, 0x28, 0xde, 0x64, 0xf4, 0xd9, 0x78, 0xe9, 0xc5};
    uint8_t id[NEGSYNC_ID_SIZE], other[NEGSYNC_ID_SIZE];
    CHECK_EQ(negsync_id_for_key((const uint8_t *)"abc", 3, id), NEGSYNC_OK);
    CHECK(memcmp(id, sha256_abc, NEGSYNC_ID_SIZE) == 0);
    CHECK_EQ(negsync_id_for_version((const uint8_t *)"abc", 3, (const uint8_t *)"v1", 2, id),
             NEGSYNC_OK);
    CHECK(memcmp(id, abc_v1, NEGSYNC_ID_SIZE) == 0);
    /* The key length is part of the hash: ("ab", "cv1") is another document than ("abc", "v1"). */
    CHECK_EQ(negsync_id_for_version((const uint8_t *)"ab", 2, (const uint8_t *)"cv1", 3, other),
             NEGSYNC_OK);
    CHECK(memcmp(id, other, NEGSYNC_ID_SIZE) != 0);
}

/* A document changed on one side (new id_for_version) shows up as one have and one need. */
static void test_changed_document_is_found(void) {
    static const char *const keys[] = {"notes/todo", "notes/groceries", "photos/cat.jpg",
                                       "contacts/alice", "contacts/bob"};
    negsync_set *mine = NULL, *theirs = NULL;
    negsync_session *initiator = NULL, *responder = NULL;
    uint8_t id[NEGSYNC_ID_SIZE], old_id[NEGSYNC_ID_SIZE], new_id[NEGSYNC_ID_SIZE];
    exchange_report report;
    const uint8_t *ids;
    size_t count, i;

    REQUIRE(negsync_set_new(&mine) == NEGSYNC_OK);
    REQUIRE(negsync_set_new(&theirs) == NEGSYNC_OK);
    for (i = 0; i < 5; i++) {
        CHECK_EQ(negsync_id_for_version((const uint8_t *)keys[i], strlen(keys[i]),
                                        (const uint8_t *)"v1", 2, id),
                 NEGSYNC_OK);
        CHECK_EQ(negsync_set_insert(mine, 1700000000 + i, id), NEGSYNC_OK);
        CHECK_EQ(negsync_set_insert(theirs, 1700000000 + i, id), NEGSYNC_OK);
    }
    /* We edit "notes/groceries": remove the old item, insert the new version at its new time. */
    CHECK_EQ(negsync_id_for_version((const uint8_t *)keys[1], strlen(keys[1]),
                                    (const uint8_t *)"v1", 2, old_id),
             NEGSYNC_OK);
    CHECK_EQ(negsync_id_for_version((const uint8_t *)keys[1], strlen(keys[1]),
                                    (const uint8_t *)"v2", 2, new_id),
             NEGSYNC_OK);
    CHECK(memcmp(old_id, new_id, NEGSYNC_ID_SIZE) != 0);
    CHECK_EQ(negsync_set_remove(mine, 1700000001, old_id), NEGSYNC_OK);
    CHECK_EQ(negsync_set_insert(mine, 1700000100, new_id), NEGSYNC_OK);
    CHECK_EQ(negsync_set_len(mine), 5);

    CHECK_EQ(negsync_session_new(mine, 0, &initiator), NEGSYNC_OK);
    CHECK_EQ(negsync_session_new(theirs, 0, &responder), NEGSYNC_OK);
    if (initiator != NULL && responder != NULL &&
        run_exchange(initiator, 0, responder, 0, &report)) {
        CHECK_EQ(negsync_session_have_ids(initiator, &ids, &count), NEGSYNC_OK);
        CHECK(same_ids(ids, count, new_id, 1));
        CHECK_EQ(negsync_session_need_ids(initiator, &ids, &count), NEGSYNC_OK);
        CHECK(same_ids(ids, count, old_id, 1));
    }
    negsync_session_free(initiator);
    negsync_session_free(responder);
    negsync_set_free(mine);
    negsync_set_free(theirs);
}

/* Lent ID lists stay valid (and unchanged) across read-only calls on the same session. */
static void test_id_lists_stay_valid_until_next_mutating_call(void) {
    scenario s = {100, 40, 40, TIMESTAMPS_RUNS};
    prng rng = prng_seeded(404);
    item *items = random_items(&rng, 180, s.shape);
    negsync_set *set_a = NULL, *set_b = NULL;
    negsync_session *initiator = NULL, *responder = NULL;
    exchange_report report;
    const uint8_t *have = NULL, *need = NULL, *have_again = NULL;
    size_t have_count = 0, need_count = 0, have_again_count = 0;
    uint8_t *copy = NULL;

    REQUIRE(items != NULL);
    CHECK_EQ(negsync_set_new(&set_a), NEGSYNC_OK);
    CHECK_EQ(negsync_set_new(&set_b), NEGSYNC_OK);
    CHECK(insert_items(set_a, items, 140, 0));
    CHECK(insert_items(set_b, items, 100, 0));
    CHECK(insert_items(set_b, items + 140, 40, 0));
    CHECK_EQ(negsync_session_new(set_a, 0, &initiator), NEGSYNC_OK);
    CHECK_EQ(negsync_session_new(set_b, 0, &responder), NEGSYNC_OK);
    if (initiator != NULL && responder != NULL &&
        run_exchange(initiator, 0, responder, 0, &report)) {
        CHECK_EQ(negsync_session_have_ids(initiator, &have, &have_count), NEGSYNC_OK);
        CHECK_EQ(have_count, 40);
        copy = malloc(40 * NEGSYNC_ID_SIZE);
        if (copy != NULL && have != NULL && have_count == 40) {
            memcpy(copy, have, 40 * NEGSYNC_ID_SIZE);
            CHECK_EQ(negsync_session_need_ids(initiator, &need, &need_count), NEGSYNC_OK);
            CHECK(negsync_session_is_complete(initiator));
            CHECK(negsync_session_last_error(initiator)[0] == '\0');
            CHECK_EQ(negsync_session_have_ids(initiator, &have_again, &have_again_count),
                     NEGSYNC_OK);
            CHECK(have_again == have && have_again_count == 40);
            CHECK(memcmp(copy, have, 40 * NEGSYNC_ID_SIZE) == 0);
        }
    }
    free(copy);
    negsync_session_free(initiator);
    negsync_session_free(responder);
    negsync_set_free(set_a);
    negsync_set_free(set_b);
    free(items);
}

/* Appends a lent ID list to `all` (room for `room` IDs, `*count` held). */
static void append_ids(uint8_t *all, size_t *count, size_t room, const uint8_t *ids, size_t n) {
    CHECK(*count + n <= room);
    if (n > 0 && ids != NULL && *count + n <= room) {
        memcpy(all + *count * NEGSYNC_ID_SIZE, ids, n * NEGSYNC_ID_SIZE);
        *count += n;
    }
}

/* Sorts `count` IDs and drops repeats; returns how many are left. */
static size_t sorted_distinct(uint8_t *ids, size_t count) {
    size_t kept = 0, i;
    qsort(ids, count, NEGSYNC_ID_SIZE, compare_ids);
    for (i = 0; i < count; ++i) {
        if (kept == 0 || memcmp(ids + (kept - 1) * NEGSYNC_ID_SIZE, ids + i * NEGSYNC_ID_SIZE,
                                NEGSYNC_ID_SIZE) != 0) {
            memmove(ids + kept * NEGSYNC_ID_SIZE, ids + i * NEGSYNC_ID_SIZE, NEGSYNC_ID_SIZE);
            ++kept;
        }
    }
    return kept;
}

/* A node that acts on IDs as each round brings them reads the lists and forgets them every
 * round (small frames: many rounds): what it read adds up to the exact differences, the lists
 * are empty after each forget, and the stats count every ID listed. Only an initiator forgets. */
static void test_ids_read_and_forgotten_each_round(void) {
    enum { COMMON = 300, ONLY = 60, ROOM = 4096 };
    prng rng = prng_seeded(505);
    item *items = random_items(&rng, COMMON + 2 * ONLY, TIMESTAMPS_RUNS);
    negsync_set *set_a = NULL, *set_b = NULL;
    negsync_session *initiator = NULL, *responder = NULL;
    uint8_t *have_all = malloc(ROOM * NEGSYNC_ID_SIZE), *need_all = malloc(ROOM * NEGSYNC_ID_SIZE);
    uint8_t *expected_have = NULL, *expected_need = NULL;
    size_t have_total = 0, need_total = 0;
    const uint8_t *message = NULL;
    size_t message_len = 0;
    unsigned rounds = 0;
    bool done = false;

    REQUIRE(items != NULL && have_all != NULL && need_all != NULL);
    CHECK_EQ(negsync_set_new(&set_a), NEGSYNC_OK);
    CHECK_EQ(negsync_set_new(&set_b), NEGSYNC_OK);
    CHECK(insert_items(set_a, items, COMMON + ONLY, 0));
    CHECK(insert_items(set_b, items, COMMON, 0));
    CHECK(insert_items(set_b, items + COMMON + ONLY, ONLY, 0));
    CHECK_EQ(negsync_session_new(set_a, 200, &initiator), NEGSYNC_OK);
    CHECK_EQ(negsync_session_new(set_b, 200, &responder), NEGSYNC_OK);
    REQUIRE(initiator != NULL && responder != NULL);
    CHECK_EQ(negsync_session_forget_ids(NULL), NEGSYNC_NULL_PARAMETER);
    CHECK_EQ(negsync_session_forget_ids(initiator), NEGSYNC_WRONG_STATE); /* no role yet */
    CHECK_EQ(negsync_session_initiate(initiator, &message, &message_len), NEGSYNC_OK);
    while (!done && rounds++ < MAX_EXCHANGE_ROUNDS) {
        const uint8_t *reply = NULL, *ids = NULL;
        size_t reply_len = 0, count = 0;
        bool responder_done = false;
        CHECK_EQ(negsync_session_reconcile(responder, message, message_len, &reply, &reply_len,
                                           &responder_done),
                 NEGSYNC_OK);
        CHECK_EQ(negsync_session_forget_ids(responder), NEGSYNC_WRONG_STATE);
        if (negsync_session_reconcile(initiator, reply, reply_len, &message, &message_len,
                                      &done) != NEGSYNC_OK) {
            CHECK(!"initiator reconcile failed");
            break;
        }
        CHECK_EQ(negsync_session_have_ids(initiator, &ids, &count), NEGSYNC_OK);
        append_ids(have_all, &have_total, ROOM, ids, count);
        CHECK_EQ(negsync_session_need_ids(initiator, &ids, &count), NEGSYNC_OK);
        append_ids(need_all, &need_total, ROOM, ids, count);
        CHECK_EQ(negsync_session_forget_ids(initiator), NEGSYNC_OK);
        CHECK_EQ(negsync_session_have_ids(initiator, &ids, &count), NEGSYNC_OK);
        CHECK(count == 0 && ids == NULL);
    }
    CHECK(done && rounds > 5);
    {
        negsync_session_stats stats;
        CHECK_EQ(negsync_session_get_stats(initiator, &stats), NEGSYNC_OK);
        CHECK(stats.have_count == have_total && stats.need_count == need_total);
    }
    expected_have = sorted_ids_of(items + COMMON, ONLY);
    expected_need = sorted_ids_of(items + COMMON + ONLY, ONLY);
    REQUIRE(expected_have != NULL && expected_need != NULL);
    CHECK(same_ids(have_all, sorted_distinct(have_all, have_total), expected_have, ONLY));
    CHECK(same_ids(need_all, sorted_distinct(need_all, need_total), expected_need, ONLY));
    free(expected_have);
    free(expected_need);
    free(have_all);
    free(need_all);
    negsync_session_free(initiator);
    negsync_session_free(responder);
    negsync_set_free(set_a);
    negsync_set_free(set_b);
    free(items);
}

/* True when `ids` are the three IDs (each the little-endian timestamp it was stored at, then zeros)
 * of the multiples of `divisor` inside the window [300, 600). */
static bool three_window_multiples(const uint8_t *ids, size_t count, uint64_t divisor) {
    size_t i;
    if (count != 3) {
        return false;
    }
    for (i = 0; i < count; i++) {
        uint64_t t;
        memcpy(&t, ids + i * NEGSYNC_ID_SIZE, sizeof t);
        if (t < 300 || t >= 600 || t % divisor != 0) {
            return false;
        }
    }
    return true;
}

/* A time window [300, 600): both peers sync only those items, with and without radio frames;
 * differences outside the window never appear in have/need. */
static void test_window_finds_only_the_differences_inside_it(void) {
    static const uint64_t limits[] = {0, 4096, 200, NEGSYNC_MIN_FRAME_SIZE_LIMIT};
    size_t l;
    for (l = 0; l < sizeof limits / sizeof limits[0]; l++) {
        negsync_set *a = NULL, *b = NULL;
        negsync_session *initiator = NULL, *responder = NULL;
        const uint8_t *ids = NULL;
        size_t count = 0;
        uint64_t t;
        exchange_report report;
        REQUIRE(negsync_set_new(&a) == NEGSYNC_OK && negsync_set_new(&b) == NEGSYNC_OK);
        for (t = 0; t < 1000; t++) {
            uint8_t id[NEGSYNC_ID_SIZE];
            memset(id, 0, sizeof id);
            memcpy(id, &t, sizeof t);
            /* every 97th item only on A, every 89th only on B, the rest on both */
            if (t % 89 != 0) {
                CHECK_EQ(negsync_set_insert(a, t, id), NEGSYNC_OK);
            }
            if (t % 97 != 0) {
                CHECK_EQ(negsync_set_insert(b, t, id), NEGSYNC_OK);
            }
        }
        CHECK_EQ(negsync_session_new_window(a, 300, 600, limits[l], &initiator), NEGSYNC_OK);
        CHECK_EQ(negsync_session_new_window(b, 300, 600, limits[l], &responder), NEGSYNC_OK);
        if (initiator != NULL && responder != NULL &&
            run_exchange(initiator, limits[l], responder, limits[l], &report)) {
            /* inside [300, 600): A alone holds 388, 485, 582; B alone holds 356, 445, 534 */
            CHECK_EQ(negsync_session_have_ids(initiator, &ids, &count), NEGSYNC_OK);
            CHECK(three_window_multiples(ids, count, 97));
            CHECK_EQ(negsync_session_need_ids(initiator, &ids, &count), NEGSYNC_OK);
            CHECK(three_window_multiples(ids, count, 89));
        } else {
            CHECK(!"window exchange failed");
        }
        negsync_session_free(initiator);
        negsync_session_free(responder);
        negsync_set_free(a);
        negsync_set_free(b);
    }
}

int main(int argc, char **argv) {
    check_init(argc, argv);
    CHECK_RUN(test_empty_sets_have_no_differences);
    CHECK_RUN(test_identical_sets_have_no_differences);
    CHECK_RUN(test_empty_initiator_needs_everything);
    CHECK_RUN(test_empty_responder_needs_everything);
    CHECK_RUN(test_small_sets_find_exact_differences);
    CHECK_RUN(test_shared_timestamps_find_exact_differences);
    CHECK_RUN(test_timestamp_runs_find_exact_differences);
    CHECK_RUN(test_bigger_initiator_finds_exact_differences);
    CHECK_RUN(test_bigger_responder_finds_exact_differences);
    CHECK_RUN(test_random_small_scenarios_find_exact_differences);
    CHECK_RUN(test_random_large_scenarios_find_exact_differences);
    CHECK_RUN(test_frame_limits_force_more_rounds);
    CHECK_RUN(test_initiator_finishes_after_cut_reply);
    CHECK_RUN(test_session_reads_snapshot_taken_at_creation);
    CHECK_RUN(test_sessions_outlive_their_sets);
    CHECK_RUN(test_set_len_counts_distinct_items);
    CHECK_RUN(test_set_remove);
    CHECK_RUN(test_insert_many_of_nothing);
    CHECK_RUN(test_id_derivation_known_answers);
    CHECK_RUN(test_changed_document_is_found);
    CHECK_RUN(test_id_lists_stay_valid_until_next_mutating_call);
    CHECK_RUN(test_ids_read_and_forgotten_each_round);
    CHECK_RUN(test_window_finds_only_the_differences_inside_it);
    return check_summary();
}
