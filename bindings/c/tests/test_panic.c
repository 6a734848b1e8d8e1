/*
 * test_panic.c: the panic boundary seen from C. negsync_debug_panic() panics inside the library on
 * purpose; the panic must come back as NEGSYNC_PANIC, poison only the session it happened in, and
 * leave the process, the set and every other session working.
 *
 * Expected noise: each panic prints Rust's "thread '...' panicked at ... negsync_debug_panic"
 * message on stderr. That is the default panic hook, not a failure.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "negsync.h"
#include "check.h"

/* More messages than any exchange here needs. */
#define MAX_ROUNDS 200

static char sentinel_object;
#define SENTINEL_POINTER ((void *)&sentinel_object)
#define SENTINEL_SIZE ((size_t)0x5eed5eedu)

/* The ID of item number `n`: every byte is a function of n, so IDs differ and sort irregularly. */
static void id_of(size_t n, uint8_t id[NEGSYNC_ID_SIZE]) {
    size_t i;
    for (i = 0; i < NEGSYNC_ID_SIZE; i++) {
        id[i] = (uint8_t)((n * 131u + i * 29u + (n >> 8) * 7u) ^ (i * n));
    }
    id[0] = (uint8_t)n;
    id[1] = (uint8_t)(n >> 8);
}

/* A set holding items first..last-1 (item n at timestamp 100 + n / 3), or NULL. */
static negsync_set *set_of_range(size_t first, size_t last) {
    negsync_set *set = NULL;
    size_t n;
    if (negsync_set_new(&set) != NEGSYNC_OK) {
        return NULL;
    }
    for (n = first; n < last; n++) {
        uint8_t id[NEGSYNC_ID_SIZE];
        id_of(n, id);
        if (negsync_set_insert(set, 100 + n / 3, id) != NEGSYNC_OK) {
            negsync_set_free(set);
            return NULL;
        }
    }
    return set;
}

static negsync_session *session_of(const negsync_set *set, uint64_t frame_limit) {
    negsync_session *session = NULL;
    if (negsync_session_new(set, frame_limit, &session) != NEGSYNC_OK) {
        return NULL;
    }
    return session;
}

/* True when the session's last_error mentions that it is poisoned. */
static bool says_poisoned(const negsync_session *session) {
    const char *text = negsync_session_last_error(session);
    return text != NULL && strstr(text, "poison") != NULL;
}

/* True when `ids` (count IDs) is exactly items first..last-1, in any order. */
static bool ids_are_range(const uint8_t *ids, size_t count, size_t first, size_t last) {
    size_t n, i;
    if (count != last - first) {
        return false;
    }
    for (n = first; n < last; n++) {
        uint8_t id[NEGSYNC_ID_SIZE];
        bool found = false;
        id_of(n, id);
        for (i = 0; i < count && !found; i++) {
            found = memcmp(ids + i * NEGSYNC_ID_SIZE, id, NEGSYNC_ID_SIZE) == 0;
        }
        if (!found) {
            return false;
        }
    }
    return true;
}

/*
 * Runs a whole exchange between two fresh sessions and checks the initiator's result:
 * have = items have_first..have_last-1, need = items need_first..need_last-1.
 */
static void check_full_exchange(negsync_session *initiator, negsync_session *responder,
                                size_t have_first, size_t have_last, size_t need_first,
                                size_t need_last) {
    const uint8_t *message = NULL, *ids = NULL;
    size_t message_len = 0, count = 0;
    bool done = false;
    unsigned round;
    REQUIRE(negsync_session_initiate(initiator, &message, &message_len) == NEGSYNC_OK);
    for (round = 0; round < MAX_ROUNDS && !done; round++) {
        const uint8_t *reply = NULL;
        size_t reply_len = 0;
        bool responder_done = false;
        REQUIRE(negsync_session_reconcile(responder, message, message_len, &reply, &reply_len,
                                          &responder_done) == NEGSYNC_OK);
        REQUIRE(negsync_session_reconcile(initiator, reply, reply_len, &message, &message_len,
                                          &done) == NEGSYNC_OK);
    }
    CHECK(done);
    CHECK(negsync_session_is_complete(initiator));
    CHECK_EQ(negsync_session_have_ids(initiator, &ids, &count), NEGSYNC_OK);
    CHECK(ids_are_range(ids, count, have_first, have_last));
    CHECK_EQ(negsync_session_need_ids(initiator, &ids, &count), NEGSYNC_OK);
    CHECK(ids_are_range(ids, count, need_first, need_last));
}

/* ---- tests ---- */

/* A panic outside any handle is NEGSYNC_PANIC, repeatably, and the process carries on. */
static void test_panic_without_session_returns_panic(void) {
    negsync_set *set = NULL;
    uint8_t id[NEGSYNC_ID_SIZE];
    int i;
    for (i = 0; i < 3; i++) {
        CHECK_EQ(negsync_debug_panic(NULL), NEGSYNC_PANIC);
    }
    /* The library still works after it. */
    CHECK(negsync_version() != NULL);
    CHECK_EQ(negsync_id_for_key((const uint8_t *)"k", 1, id), NEGSYNC_OK);
    CHECK_EQ(negsync_set_new(&set), NEGSYNC_OK);
    CHECK_EQ(negsync_set_insert(set, 1, id), NEGSYNC_OK);
    CHECK_EQ(negsync_set_len(set), 1);
    negsync_set_free(set);
}

/* A panic in a call on a session poisons that session: every mutating call is WRONG_STATE. */
static void test_panic_poisons_its_session(void) {
    negsync_set *set = set_of_range(0, 50);
    negsync_session *session = session_of(set, 0);
    negsync_session_stats stats;
    negsync_limits limits;
    const uint8_t *msg = SENTINEL_POINTER, *ids = SENTINEL_POINTER;
    size_t msg_len = SENTINEL_SIZE, count = SENTINEL_SIZE;
    const uint8_t input[] = {0x61, 0x00, 0x00};
    bool complete = true;
    REQUIRE(session != NULL);
    REQUIRE(negsync_limits_default(&limits) == NEGSYNC_OK);

    CHECK_EQ(negsync_debug_panic(session), NEGSYNC_PANIC);
    CHECK(says_poisoned(session));
    CHECK_EQ(negsync_session_get_stats(session, &stats), NEGSYNC_OK);
    CHECK(stats.failed);
    CHECK(!stats.complete);
    CHECK(!negsync_session_is_complete(session));

    CHECK_EQ(negsync_session_initiate(session, &msg, &msg_len), NEGSYNC_WRONG_STATE);
    CHECK(says_poisoned(session));
    CHECK(msg == SENTINEL_POINTER && msg_len == SENTINEL_SIZE);
    CHECK_EQ(negsync_session_reconcile(session, input, sizeof input, &msg, &msg_len, &complete),
             NEGSYNC_WRONG_STATE);
    CHECK(says_poisoned(session));
    CHECK(msg == SENTINEL_POINTER && msg_len == SENTINEL_SIZE);
    CHECK(complete);
    CHECK_EQ(negsync_session_set_limits(session, &limits), NEGSYNC_WRONG_STATE);
    CHECK(says_poisoned(session));
    /* A second deliberate panic is refused before it can happen. */
    CHECK_EQ(negsync_debug_panic(session), NEGSYNC_WRONG_STATE);
    CHECK(says_poisoned(session));
    /* Reads that lend session state refuse too; the stats still say failed. */
    CHECK_EQ(negsync_session_have_ids(session, &ids, &count), NEGSYNC_WRONG_STATE);
    CHECK_EQ(negsync_session_need_ids(session, &ids, &count), NEGSYNC_WRONG_STATE);
    CHECK(ids == SENTINEL_POINTER && count == SENTINEL_SIZE);
    CHECK_EQ(negsync_session_get_stats(session, &stats), NEGSYNC_OK);
    CHECK(stats.failed);
    CHECK_EQ(stats.role, NEGSYNC_ROLE_UNDECIDED);
    /* The set the session came from is unharmed. */
    CHECK_EQ(negsync_set_len(set), 50);
    negsync_session_free(session); /* freeing a poisoned session is fine (valgrind/ASan: no leak) */
    negsync_set_free(set);
}

/* A panic in the middle of an exchange, on either side, poisons that side only. */
static void test_panic_mid_exchange(void) {
    negsync_set *a = set_of_range(0, 300), *b = set_of_range(100, 400);
    negsync_session *initiator = NULL, *responder = NULL;
    negsync_session_stats stats;
    const uint8_t *msg = NULL, *reply = NULL, *out = SENTINEL_POINTER;
    size_t msg_len = 0, reply_len = 0, out_len = SENTINEL_SIZE;
    uint8_t copy[8192];
    bool complete = false;
    REQUIRE(a != NULL && b != NULL);
    /* 4096-byte frames: several round trips. */
    initiator = session_of(a, 4096);
    responder = session_of(b, 4096);
    REQUIRE(initiator != NULL && responder != NULL);

    /* The responder panics after its first answer; the initiator is not affected. */
    REQUIRE(negsync_session_initiate(initiator, &msg, &msg_len) == NEGSYNC_OK);
    REQUIRE(msg_len <= sizeof copy);
    REQUIRE(negsync_session_reconcile(responder, msg, msg_len, &reply, &reply_len, &complete) ==
            NEGSYNC_OK);
    REQUIRE(!complete);
    REQUIRE(reply_len <= sizeof copy);
    memcpy(copy, reply, reply_len);
    CHECK_EQ(negsync_debug_panic(responder), NEGSYNC_PANIC);
    CHECK_EQ(negsync_session_get_stats(responder, &stats), NEGSYNC_OK);
    CHECK(stats.failed);
    CHECK_EQ(stats.role, NEGSYNC_ROLE_RESPONDER);
    CHECK_EQ(negsync_session_reconcile(initiator, copy, reply_len, &msg, &msg_len, &complete),
             NEGSYNC_OK);
    CHECK(!complete && msg_len > 0);
    CHECK_EQ(negsync_session_reconcile(responder, msg, msg_len, &out, &out_len, &complete),
             NEGSYNC_WRONG_STATE);
    CHECK(out == SENTINEL_POINTER && out_len == SENTINEL_SIZE);
    CHECK(says_poisoned(responder));
    CHECK_EQ(negsync_session_get_stats(initiator, &stats), NEGSYNC_OK);
    CHECK(!stats.failed);

    /* Now the initiator panics while waiting for its next reply. */
    CHECK_EQ(negsync_debug_panic(initiator), NEGSYNC_PANIC);
    CHECK_EQ(negsync_session_reconcile(initiator, copy, reply_len, &out, &out_len, &complete),
             NEGSYNC_WRONG_STATE);
    CHECK(out == SENTINEL_POINTER && out_len == SENTINEL_SIZE);
    CHECK_EQ(negsync_session_have_ids(initiator, &out, &out_len), NEGSYNC_WRONG_STATE);
    CHECK_EQ(negsync_session_get_stats(initiator, &stats), NEGSYNC_OK);
    CHECK(stats.failed);
    CHECK_EQ(stats.role, NEGSYNC_ROLE_INITIATOR);
    CHECK(!negsync_session_is_complete(initiator));
    negsync_session_free(responder);
    negsync_session_free(initiator);
    negsync_set_free(a);
    negsync_set_free(b);
}

/*
 * After a panic, the set and other sessions keep working: a session created before the panic and
 * a session created after it each run a full, exact reconciliation while the poisoned one lives.
 */
static void test_other_handles_keep_working_after_panic(void) {
    negsync_set *a = set_of_range(0, 500), *b = set_of_range(200, 800);
    negsync_session *before = NULL, *poisoned = NULL, *after = NULL, *peer = NULL;
    uint8_t id[NEGSYNC_ID_SIZE];
    REQUIRE(a != NULL && b != NULL);
    before = session_of(a, 0);
    poisoned = session_of(a, 0);
    REQUIRE(before != NULL && poisoned != NULL);

    CHECK_EQ(negsync_debug_panic(poisoned), NEGSYNC_PANIC);
    CHECK_EQ(negsync_debug_panic(NULL), NEGSYNC_PANIC);

    /* The set still takes changes... */
    id_of(999, id);
    CHECK_EQ(negsync_set_insert(a, 5, id), NEGSYNC_OK);
    CHECK_EQ(negsync_set_len(a), 501);
    CHECK_EQ(negsync_set_remove(a, 5, id), NEGSYNC_OK);
    CHECK_EQ(negsync_set_len(a), 500);

    /* ...the session made before the panic reconciles exactly (frame-limited, several rounds)... */
    peer = session_of(b, 4096);
    REQUIRE(peer != NULL);
    check_full_exchange(before, peer, 0, 200, 500, 800);
    negsync_session_free(peer);

    /* ...and so does one made after it, in the other direction, with no frame limit. */
    after = session_of(b, 0);
    peer = session_of(a, 0);
    REQUIRE(after != NULL && peer != NULL);
    check_full_exchange(after, peer, 500, 800, 0, 200);

    /* The poisoned session is still poisoned, and still freeable. */
    CHECK_EQ(negsync_debug_panic(poisoned), NEGSYNC_WRONG_STATE);
    negsync_session_free(poisoned);
    negsync_session_free(before);
    negsync_session_free(after);
    negsync_session_free(peer);
    negsync_set_free(a);
    negsync_set_free(b);
}

int main(int argc, char **argv) {
    check_init(argc, argv);
    CHECK_RUN(test_panic_without_session_returns_panic);
    CHECK_RUN(test_panic_poisons_its_session);
    CHECK_RUN(test_panic_mid_exchange);
    CHECK_RUN(test_other_handles_keep_working_after_panic);
    return check_summary();
}
