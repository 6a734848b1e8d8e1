/*
 * test_stats.c: negsync_session_get_stats reports what the session did: its role, whether it is
 * complete or failed, the messages and bytes it received, the bytes it handed out, and the sizes
 * of the have/need lists, checked against counts kept by the caller after every call.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "negsync.h"
#include "check.h"

/* More messages than any exchange here needs. */
#define MAX_ROUNDS 500

/* What the caller counted for one session. */
typedef struct {
    uint32_t role;
    uint64_t rounds, bytes_in, bytes_out;
} tally;

/* The ID of item number `n` (distinct for n < 65536, irregular byte patterns). */
static void id_of(size_t n, uint8_t id[NEGSYNC_ID_SIZE]) {
    size_t i;
    for (i = 0; i < NEGSYNC_ID_SIZE; i++) {
        id[i] = (uint8_t)((n * 197u + i * 61u) ^ (n >> 3) ^ (i * i));
    }
    id[30] = (uint8_t)(n >> 8);
    id[31] = (uint8_t)n;
}

/* A set of items first..last-1 (item n at timestamp 50 + n / 4), or NULL. */
static negsync_set *set_of_range(size_t first, size_t last) {
    negsync_set *set = NULL;
    size_t n;
    if (negsync_set_new(&set) != NEGSYNC_OK) {
        return NULL;
    }
    for (n = first; n < last; n++) {
        uint8_t id[NEGSYNC_ID_SIZE];
        id_of(n, id);
        if (negsync_set_insert(set, 50 + n / 4, id) != NEGSYNC_OK) {
            negsync_set_free(set);
            return NULL;
        }
    }
    return set;
}

/* Checks the session's stats against the caller's tally and the expected state. */
static void check_stats(const negsync_session *session, const tally *expected, bool complete,
                        bool failed, uint64_t have_count, uint64_t need_count) {
    negsync_session_stats stats;
    memset(&stats, 0xee, sizeof stats);
    CHECK_EQ(negsync_session_get_stats(session, &stats), NEGSYNC_OK);
    CHECK_EQ(stats.role, expected->role);
    CHECK_EQ(stats.complete, complete);
    CHECK_EQ(stats.failed, failed);
    CHECK_EQ(stats.rounds, expected->rounds);
    CHECK_EQ(stats.bytes_in, expected->bytes_in);
    CHECK_EQ(stats.bytes_out, expected->bytes_out);
    CHECK_EQ(stats.have_count, have_count);
    CHECK_EQ(stats.need_count, need_count);
}

/* A fresh session: undecided, nothing received or sent, neither complete nor failed. */
static void test_fresh_session_stats_are_zero(void) {
    negsync_set *set = set_of_range(0, 10);
    negsync_session *session = NULL;
    tally zero = {NEGSYNC_ROLE_UNDECIDED, 0, 0, 0};
    REQUIRE(set != NULL);
    REQUIRE(negsync_session_new(set, 0, &session) == NEGSYNC_OK);
    check_stats(session, &zero, false, false, 0, 0);
    negsync_session_free(session);
    negsync_set_free(set);
}

/*
 * A frame-limited exchange over several round trips: after every call, each side's stats equal
 * the caller's own count of messages and bytes, and at the end the initiator's have/need counts
 * equal the known differences.
 */
static void check_exchange_stats(uint64_t initiator_limit, uint64_t responder_limit) {
    /* A holds 0..1199, B holds 300..1499: have = 300 IDs, need = 300 IDs. */
    negsync_set *a = set_of_range(0, 1200), *b = set_of_range(300, 1500);
    negsync_session *initiator = NULL, *responder = NULL;
    tally init = {NEGSYNC_ROLE_INITIATOR, 0, 0, 0}, resp = {NEGSYNC_ROLE_RESPONDER, 0, 0, 0};
    const uint8_t *message = NULL;
    size_t message_len = 0, count = 0;
    const uint8_t *ids = NULL;
    bool initiator_done = false, responder_done = false;
    unsigned round;
    REQUIRE(a != NULL && b != NULL);
    REQUIRE(negsync_session_new(a, initiator_limit, &initiator) == NEGSYNC_OK);
    REQUIRE(negsync_session_new(b, responder_limit, &responder) == NEGSYNC_OK);

    REQUIRE(negsync_session_initiate(initiator, &message, &message_len) == NEGSYNC_OK);
    init.bytes_out += message_len;
    check_stats(initiator, &init, false, false, 0, 0);
    for (round = 0; round < MAX_ROUNDS && !initiator_done; round++) {
        const uint8_t *reply = NULL;
        size_t reply_len = 0;
        REQUIRE(negsync_session_reconcile(responder, message, message_len, &reply, &reply_len,
                                          &responder_done) == NEGSYNC_OK);
        resp.rounds++;
        resp.bytes_in += message_len;
        resp.bytes_out += reply_len;
        check_stats(responder, &resp, responder_done, false, 0, 0);

        REQUIRE(negsync_session_reconcile(initiator, reply, reply_len, &message, &message_len,
                                          &initiator_done) == NEGSYNC_OK);
        init.rounds++;
        init.bytes_in += reply_len;
        init.bytes_out += message_len;
        {
            /* Mid-exchange the counts are whatever was found so far; at the end, the totals. */
            negsync_session_stats stats;
            size_t have = 0, need = 0;
            CHECK_EQ(negsync_session_have_ids(initiator, &ids, &have), NEGSYNC_OK);
            CHECK_EQ(negsync_session_need_ids(initiator, &ids, &need), NEGSYNC_OK);
            check_stats(initiator, &init, initiator_done, false, have, need);
            CHECK_EQ(negsync_session_get_stats(initiator, &stats), NEGSYNC_OK);
            CHECK(stats.have_count <= 900 && stats.need_count <= 900);
        }
    }
    CHECK(initiator_done);
    CHECK(init.rounds > 1); /* frame-limited or not, 900 vs 900 differing items take rounds */
    check_stats(initiator, &init, true, false, 300, 300);
    CHECK_EQ(negsync_session_have_ids(initiator, &ids, &count), NEGSYNC_OK);
    CHECK_EQ(count, 300);
    CHECK_EQ(negsync_session_need_ids(initiator, &ids, &count), NEGSYNC_OK);
    CHECK_EQ(count, 300);
    /* The responder's counts stay 0: only the initiator learns have/need. */
    check_stats(responder, &resp, responder_done, false, 0, 0);
    /* Reading stats changes nothing: the same values again. */
    check_stats(initiator, &init, true, false, 300, 300);
    negsync_session_free(initiator);
    negsync_session_free(responder);
    negsync_set_free(a);
    negsync_set_free(b);
}

static void test_exchange_stats_without_frame_limit(void) {
    check_exchange_stats(0, 0);
}

static void test_exchange_stats_with_frame_limits(void) {
    check_exchange_stats(4096, 4096);
}

static void test_exchange_stats_with_mixed_frame_limits(void) {
    check_exchange_stats(0, 4096);
    check_exchange_stats(4096, 0);
}

/* A malformed message fails the session: stats say failed, not complete; last_error untouched. */
static void test_failed_session_stats(void) {
    /* 0x61 then a truncated varint: malformed (the engine itself would read it as "all match"). */
    static const uint8_t truncated[] = {0x61, 0x80};
    negsync_set *set = set_of_range(0, 20);
    negsync_session *responder = NULL, *initiator = NULL;
    negsync_session_stats stats;
    const uint8_t *reply = NULL, *message = NULL;
    size_t reply_len = 0, message_len = 0;
    bool complete = false;
    char before[256];
    REQUIRE(set != NULL);
    REQUIRE(negsync_session_new(set, 0, &responder) == NEGSYNC_OK);
    REQUIRE(negsync_session_new(set, 0, &initiator) == NEGSYNC_OK);

    CHECK_EQ(negsync_session_reconcile(responder, truncated, sizeof truncated, &reply, &reply_len,
                                       &complete),
             NEGSYNC_MALFORMED_MESSAGE);
    snprintf(before, sizeof before, "%s", negsync_session_last_error(responder));
    CHECK(before[0] != '\0');
    CHECK_EQ(negsync_session_get_stats(responder, &stats), NEGSYNC_OK);
    CHECK(stats.failed);
    CHECK(!stats.complete);
    CHECK_EQ(stats.bytes_out, 0);
    CHECK_EQ(stats.have_count, 0);
    CHECK_EQ(stats.need_count, 0);
    CHECK(strcmp(before, negsync_session_last_error(responder)) == 0);

    /* The same for an initiator fed a malformed reply. */
    REQUIRE(negsync_session_initiate(initiator, &message, &message_len) == NEGSYNC_OK);
    CHECK_EQ(negsync_session_reconcile(initiator, truncated, sizeof truncated, &reply, &reply_len,
                                       &complete),
             NEGSYNC_MALFORMED_MESSAGE);
    CHECK_EQ(negsync_session_get_stats(initiator, &stats), NEGSYNC_OK);
    CHECK(stats.failed);
    CHECK(!stats.complete);
    CHECK_EQ(stats.role, NEGSYNC_ROLE_INITIATOR);
    CHECK_EQ(stats.bytes_out, message_len);
    negsync_session_free(responder);
    negsync_session_free(initiator);
    negsync_set_free(set);
}

/* A limit exceeded fails the session: stats say failed. */
static void test_limit_exceeded_session_stats(void) {
    negsync_set *a = set_of_range(0, 400), *b = set_of_range(0, 10);
    negsync_session *initiator = NULL, *responder = NULL;
    negsync_session_stats stats;
    negsync_limits limits;
    const uint8_t *message = NULL, *reply = NULL;
    size_t message_len = 0, reply_len = 0;
    bool complete = false;
    REQUIRE(a != NULL && b != NULL);
    REQUIRE(negsync_session_new(a, 0, &initiator) == NEGSYNC_OK);
    REQUIRE(negsync_session_new(b, 0, &responder) == NEGSYNC_OK);
    REQUIRE(negsync_limits_default(&limits) == NEGSYNC_OK);
    limits.max_message_size = 4;
    REQUIRE(negsync_session_set_limits(responder, &limits) == NEGSYNC_OK);
    REQUIRE(negsync_session_initiate(initiator, &message, &message_len) == NEGSYNC_OK);
    REQUIRE(message_len > 4);
    CHECK_EQ(negsync_session_reconcile(responder, message, message_len, &reply, &reply_len,
                                       &complete),
             NEGSYNC_LIMIT_EXCEEDED);
    CHECK_EQ(negsync_session_get_stats(responder, &stats), NEGSYNC_OK);
    CHECK(stats.failed);
    CHECK(!stats.complete);
    CHECK_EQ(stats.bytes_out, 0);
    negsync_session_free(initiator);
    negsync_session_free(responder);
    negsync_set_free(a);
    negsync_set_free(b);
}

int main(int argc, char **argv) {
    check_init(argc, argv);
    CHECK_RUN(test_fresh_session_stats_are_zero);
    CHECK_RUN(test_exchange_stats_without_frame_limit);
    CHECK_RUN(test_exchange_stats_with_frame_limits);
    CHECK_RUN(test_exchange_stats_with_mixed_frame_limits);
    CHECK_RUN(test_failed_session_stats);
    CHECK_RUN(test_limit_exceeded_session_stats);
    return check_summary();
}
