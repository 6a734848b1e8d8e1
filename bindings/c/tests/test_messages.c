/*
 * test_messages.c: what a session does with the messages a peer sends. A corpus of malformed
 * messages is refused in both roles and fails the session; the legal edge cases beside them are
 * accepted; other protocol versions and the session limits behave as documented.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "negsync.h"
#include "check.h"

/* Room for every message written out in this file. */
#define MAX_MESSAGE 512

typedef struct {
    uint8_t bytes[MAX_MESSAGE];
    size_t len;
} message;

/*
 * Parses a message written as hex: tokens of hex digit pairs separated by spaces, where a token may
 * end in "*N" to repeat its bytes N times ("aa*33" is 33 bytes of 0xaa). Returns false when the
 * text is not of that form (a bug in the test, reported as such).
 */
static bool parse_hex(const char *text, message *out) {
    const char *p = text;
    out->len = 0;
    while (*p != '\0') {
        uint8_t token[MAX_MESSAGE];
        size_t token_len = 0, repeat = 1, r;
        if (*p == ' ') {
            p++;
            continue;
        }
        while (isxdigit((unsigned char)p[0]) && isxdigit((unsigned char)p[1])) {
            char pair[3] = {p[0], p[1], '\0'};
            if (token_len == sizeof token) {
                return false;
            }
            token[token_len++] = (uint8_t)strtoul(pair, NULL, 16);
            p += 2;
        }
        if (*p == '*') {
            char *end;
            repeat = (size_t)strtoul(p + 1, &end, 10);
            p = end;
        }
        if (token_len == 0 || (*p != ' ' && *p != '\0')) {
            return false;
        }
        for (r = 0; r < repeat; r++) {
            if (out->len + token_len > MAX_MESSAGE) {
                return false;
            }
            memcpy(out->bytes + out->len, token, token_len);
            out->len += token_len;
        }
    }
    return true;
}

/* ---- sessions to feed ---- */

/* A set of `count` items: IDs (i+1)*7 in every byte, timestamps 100 + i/3 (shared in threes). */
static negsync_set *set_of(size_t count) {
    negsync_set *set = NULL;
    size_t i;
    if (negsync_set_new(&set) != NEGSYNC_OK) {
        return NULL;
    }
    for (i = 0; i < count; i++) {
        uint8_t id[NEGSYNC_ID_SIZE];
        memset(id, (int)((i + 1) * 7), sizeof id);
        id[0] = (uint8_t)i;
        if (negsync_set_insert(set, 100 + i / 3, id) != NEGSYNC_OK) {
            negsync_set_free(set);
            return NULL;
        }
    }
    return set;
}

/* A session over a fresh set of `count` items (the set is freed: the session keeps its snapshot). */
static negsync_session *session_over(size_t count, uint64_t frame_limit) {
    negsync_set *set = set_of(count);
    negsync_session *session = NULL;
    if (set != NULL && negsync_session_new(set, frame_limit, &session) != NEGSYNC_OK) {
        session = NULL;
    }
    negsync_set_free(set);
    return session;
}

/* A session that has initiated over `count` items; its first message is copied to `first`. */
static negsync_session *initiator_over(size_t count, uint64_t frame_limit, message *first) {
    negsync_session *session = session_over(count, frame_limit);
    const uint8_t *msg = NULL;
    size_t msg_len = 0;
    if (session == NULL) {
        return NULL;
    }
    if (negsync_session_initiate(session, &msg, &msg_len) != NEGSYNC_OK || msg_len > MAX_MESSAGE) {
        negsync_session_free(session);
        return NULL;
    }
    if (first != NULL) {
        memcpy(first->bytes, msg, msg_len);
        first->len = msg_len;
    }
    return session;
}

/* Feeds `msg` to `session`; the reply and complete flag are returned through the pointers. */
static negsync_result feed(negsync_session *session, const message *msg, const uint8_t **reply,
                           size_t *reply_len, bool *complete) {
    return negsync_session_reconcile(session, msg->len ? msg->bytes : NULL, msg->len, reply,
                                     reply_len, complete);
}

/* After a failure: the session has a reason, and refuses any further input as WRONG_STATE. */
static void check_failed_for_good(negsync_session *session, const char *what) {
    static const uint8_t bare_v1 = 0x61;
    const uint8_t *reply = NULL;
    size_t reply_len = 0;
    bool complete = false;
    const char *error = negsync_session_last_error(session);
    CHECK(error != NULL && error[0] != '\0');
    CHECK(!negsync_session_is_complete(session));
    if (negsync_session_reconcile(session, &bare_v1, 1, &reply, &reply_len, &complete) !=
        NEGSYNC_WRONG_STATE) {
        CHECK(!"a failed session accepted more input");
        fprintf(stderr, "    after: %s\n", what);
    }
}

/* Feeds one message to a fresh responder and to an initiator; both must answer `expected`. */
static void check_both_roles(const char *what, const message *msg, negsync_result expected) {
    negsync_session *responder = session_over(40, 0);
    negsync_session *initiator = initiator_over(40, 0, NULL);
    const uint8_t *reply = NULL;
    size_t reply_len = 0;
    bool complete = false;
    negsync_result code;

    if (responder == NULL || initiator == NULL) {
        CHECK(!"could not create sessions");
    } else {
        code = feed(responder, msg, &reply, &reply_len, &complete);
        if (code != expected) {
            CHECK_EQ(code, expected);
            fprintf(stderr, "    responder fed \"%s\": %s\n", what,
                    negsync_session_last_error(responder));
        }
        if (expected == NEGSYNC_OK) {
            CHECK(reply != NULL && reply_len > 0); /* a responder always answers */
        } else {
            check_failed_for_good(responder, what);
        }
        code = feed(initiator, msg, &reply, &reply_len, &complete);
        if (code != expected) {
            CHECK_EQ(code, expected);
            fprintf(stderr, "    initiator fed \"%s\": %s\n", what,
                    negsync_session_last_error(initiator));
        }
        if (expected == NEGSYNC_OK) {
            CHECK(complete == (reply_len == 0));
        } else {
            check_failed_for_good(initiator, what);
        }
    }
    negsync_session_free(responder);
    negsync_session_free(initiator);
}

/* ---- the corpus ---- */

typedef struct {
    const char *what;
    const char *hex;
} case_text;

/* Messages that are not well-formed V1 Negentropy: each must be NEGSYNC_MALFORMED_MESSAGE. */
static const case_text malformed_corpus[] = {
    {"empty message", ""},
    {"first byte 0x00", "00"},
    {"first byte 0x70", "70"},
    {"first byte 0xff", "ff 00 00 00"},
    {"first byte 0x5f (just below the versions)", "5f"},
    {"truncated inside the timestamp varint", "61 80"},
    {"truncated after the timestamp", "61 00"},
    {"truncated after the prefix length", "61 00 00"},
    {"truncated inside the prefix bytes", "61 05 02 aa"},
    {"truncated inside the mode varint", "61 00 00 80"},
    {"truncated inside a fingerprint", "61 00 00 01 0102030405"},
    {"fingerprint one byte short", "61 00 00 01 7f*15"},
    {"truncated inside the ID-list count", "61 00 00 02 80"},
    {"ID list one ID short", "61 00 00 02 02 bb*32"},
    {"ID list one byte short", "61 00 00 02 01 bb*31"},
    {"ID-list count 2^34 with no IDs", "61 00 00 02 c0 80 80 80 00"},
    {"unknown mode 3", "61 00 00 03"},
    {"unknown large mode 2^14", "61 00 00 81 80 00"},
    {"mode u64::MAX", "61 00 00 81 ff*8 7f"},
    {"prefix length 33", "61 00 21 aa*33 00"},
    {"prefix length 2^63", "61 00 81 80*8 00 00"},
    {"timestamp varint of 11 bytes", "61 80*10 01 00 00"},
    {"timestamp varint overflowing 64 bits in 10 bytes", "61 82 ff*8 7f 00 00"},
    {"prefix-length varint of 11 bytes", "61 00 80*10 00 00"},
    {"ID-list count varint overflowing 64 bits", "61 00 00 02 82 ff*8 7f"},
    {"bound lower than the one before (prefix dropped)", "61 06 01 01 00 01 00 00"},
    {"bound lower than the one before (smaller prefix)", "61 06 01 05 00 01 01 03 00"},
    {"bound at infinity with an ID prefix", "61 00 01 ff 00 00 00 00"},
    {"bound at infinity (saturated delta) with an ID prefix", "61 06 00 00 81 ff*8 7f 01 05 00"},
    {"a complete range followed by a partial one", "61 02 00 00 03"},
    {"a complete range followed by a cut fingerprint", "61 02 00 00 00 00 01 7f*8"},
    {"a valid message followed by one stray byte", "61 00 00 00 05"},
};

/* Messages at the edge of the format that are legal: each must be accepted. */
static const case_text legal_corpus[] = {
    {"bare version byte (no ranges)", "61"},
    {"equal bounds", "61 06 01 01 00 01 01 01 00"},
    {"empty range at infinity behind a range ending at infinity",
     "61 00 00 00 00 00 01 7f9c9e31ac8256ca2f258583df262dbc"},
    {"prefix of 32 bytes", "61 05 20 00*32 00 00 00 00"},
    {"timestamp delta u64::MAX (bound at u64::MAX - 1)", "61 81 ff*8 7f 00 00"},
    {"empty ID list", "61 00 00 02 00"},
    {"skip everything", "61 00 00 00"},
};

#define COUNT_OF(array) (sizeof(array) / sizeof((array)[0]))

/* Every malformed class is refused by both roles, which then fail for good. */
static void test_malformed_messages_are_refused_in_both_roles(void) {
    size_t i;
    CHECK(COUNT_OF(malformed_corpus) >= 20);
    for (i = 0; i < COUNT_OF(malformed_corpus); i++) {
        message msg;
        if (!parse_hex(malformed_corpus[i].hex, &msg)) {
            CHECK(!"corpus entry is not valid hex");
            fprintf(stderr, "    entry: %s\n", malformed_corpus[i].what);
            continue;
        }
        check_both_roles(malformed_corpus[i].what, &msg, NEGSYNC_MALFORMED_MESSAGE);
    }
}

/* A real initiator's first message with one stray byte appended is refused by both roles. */
static void test_real_message_with_stray_byte_is_refused(void) {
    message msg;
    negsync_session *source = initiator_over(40, 0, &msg);
    REQUIRE(source != NULL);
    REQUIRE(msg.len < MAX_MESSAGE);
    msg.bytes[msg.len++] = 0x00;
    check_both_roles("real initiator message + 00", &msg, NEGSYNC_MALFORMED_MESSAGE);
    msg.bytes[msg.len - 1] = 0x01;
    check_both_roles("real initiator message + 01", &msg, NEGSYNC_MALFORMED_MESSAGE);
    negsync_session_free(source);
}

/* A real initiator's message cut anywhere inside a field is refused by the responder. */
static void test_real_message_cut_inside_a_field_is_refused(void) {
    message whole, cut;
    negsync_session *source = initiator_over(40, 0, &whole);
    negsync_session *responder;
    const uint8_t *reply;
    size_t reply_len;
    bool complete;
    REQUIRE(source != NULL);
    /* 40 items: 16 fingerprint ranges; a cut inside the last fingerprint can never read as valid. */
    REQUIRE(whole.len > 20);
    cut = whole;
    cut.len = whole.len - 1;
    responder = session_over(40, 0);
    REQUIRE(responder != NULL);
    CHECK_EQ(feed(responder, &cut, &reply, &reply_len, &complete), NEGSYNC_MALFORMED_MESSAGE);
    check_failed_for_good(responder, "real message minus its last byte");
    negsync_session_free(responder);
    negsync_session_free(source);
}

/* The legal edge cases next to the malformed ones are accepted by both roles. */
static void test_legal_edge_cases_are_accepted(void) {
    size_t i;
    for (i = 0; i < COUNT_OF(legal_corpus); i++) {
        message msg;
        if (!parse_hex(legal_corpus[i].hex, &msg)) {
            CHECK(!"corpus entry is not valid hex");
            continue;
        }
        check_both_roles(legal_corpus[i].what, &msg, NEGSYNC_OK);
    }
}

/* A responder answers the bare 0x61 with exactly 0x61 and completes (nothing is asked). */
static void test_responder_answers_bare_version(void) {
    message msg;
    negsync_session *responder = session_over(40, 0);
    const uint8_t *reply = NULL;
    size_t reply_len = 0;
    bool complete = false;
    REQUIRE(responder != NULL);
    REQUIRE(parse_hex("61", &msg));
    CHECK_EQ(feed(responder, &msg, &reply, &reply_len, &complete), NEGSYNC_OK);
    CHECK(reply_len == 1 && reply != NULL && reply[0] == 0x61);
    CHECK(complete);
    negsync_session_free(responder);
}

/* ---- versions ---- */

/*
 * Runs a full exchange from `initiator` (whose first message is `first`) against `responder`;
 * returns the number of IDs the initiator found it has and needs, or -1 on failure.
 */
static int finish_exchange(negsync_session *initiator, const message *first,
                           negsync_session *responder, size_t *have, size_t *need) {
    const uint8_t *msg = first->bytes, *reply = NULL, *ids = NULL;
    size_t msg_len = first->len, reply_len = 0;
    bool complete = false;
    unsigned round;
    for (round = 0; round < 1000; round++) {
        if (negsync_session_reconcile(responder, msg, msg_len, &reply, &reply_len, &complete) !=
            NEGSYNC_OK) {
            return -1;
        }
        if (negsync_session_reconcile(initiator, reply, reply_len, &msg, &msg_len, &complete) !=
            NEGSYNC_OK) {
            return -1;
        }
        if (complete) {
            if (negsync_session_have_ids(initiator, &ids, have) != NEGSYNC_OK ||
                negsync_session_need_ids(initiator, &ids, need) != NEGSYNC_OK) {
                return -1;
            }
            return 0;
        }
    }
    return -1;
}

/* A responder fed another version (0x60, 0x62, 0x6f) replies exactly 0x61, stays ready, and then
 * serves a real V1 initiator normally. */
static void test_responder_answers_other_versions_with_v1(void) {
    static const char *const others[] = {"62 aa bb cc dd ee ff", "60", "6f 00 01"};
    size_t i;
    for (i = 0; i < COUNT_OF(others); i++) {
        message other, first;
        negsync_session *responder = session_over(30, 0);
        negsync_session *initiator = initiator_over(45, 0, &first);
        const uint8_t *reply = NULL;
        size_t reply_len = 0, have = 0, need = 0;
        bool complete = true;
        if (responder == NULL || initiator == NULL || !parse_hex(others[i], &other)) {
            CHECK(!"setup failed");
        } else {
            CHECK_EQ(feed(responder, &other, &reply, &reply_len, &complete), NEGSYNC_OK);
            CHECK(reply_len == 1 && reply != NULL && reply[0] == 0x61);
            CHECK(!complete);
            CHECK(!negsync_session_is_complete(responder));
            CHECK(negsync_session_last_error(responder)[0] == '\0');
            /* A second unknown version is answered the same way. */
            CHECK_EQ(feed(responder, &other, &reply, &reply_len, &complete), NEGSYNC_OK);
            CHECK(reply_len == 1 && reply[0] == 0x61 && !complete);
            /* The initiator has items 0..44, the responder 0..29. */
            CHECK(finish_exchange(initiator, &first, responder, &have, &need) == 0);
            CHECK_EQ(have, 15);
            CHECK_EQ(need, 0);
        }
        negsync_session_free(responder);
        negsync_session_free(initiator);
    }
}

/* An initiator fed another version (the responder speaks something else) fails. */
static void test_initiator_refuses_other_versions(void) {
    static const char *const others[] = {"62", "60", "6f 00 00 00", "62 aa bb cc dd ee ff"};
    size_t i;
    for (i = 0; i < COUNT_OF(others); i++) {
        message other;
        negsync_session *initiator = initiator_over(10, 0, NULL);
        const uint8_t *reply = NULL;
        size_t reply_len = 0;
        bool complete = false;
        if (initiator == NULL || !parse_hex(others[i], &other)) {
            CHECK(!"setup failed");
        } else {
            CHECK_EQ(feed(initiator, &other, &reply, &reply_len, &complete),
                     NEGSYNC_UNSUPPORTED_VERSION);
            check_failed_for_good(initiator, others[i]);
        }
        negsync_session_free(initiator);
    }
}

/* ---- limits ---- */

/* negsync_limits_default writes 64 MiB / 100000 / 64 MiB; new sessions start with them. */
static void test_default_limits(void) {
    negsync_limits defaults, stored;
    negsync_session *session = session_over(1, 0);
    REQUIRE(session != NULL);
    CHECK_EQ(negsync_limits_default(&defaults), NEGSYNC_OK);
    CHECK_EQ(defaults.max_message_size, 64ull * 1024 * 1024);
    CHECK_EQ(defaults.max_rounds, 100000);
    CHECK_EQ(defaults.max_id_bytes, 64ull * 1024 * 1024);
    CHECK_EQ(negsync_session_get_limits(session, &stored), NEGSYNC_OK);
    CHECK(memcmp(&defaults, &stored, sizeof stored) == 0);
    negsync_session_free(session);
}

/* get_limits returns exactly what set_limits stored. */
static void test_get_limits_returns_what_set_limits_stored(void) {
    negsync_limits wanted = {5000, 7, 320}, huge = {UINT32_MAX, UINT64_MAX, UINT32_MAX};
    negsync_limits stored;
    negsync_session *session = session_over(1, 0);
    REQUIRE(session != NULL);
    CHECK_EQ(negsync_session_set_limits(session, &wanted), NEGSYNC_OK);
    CHECK_EQ(negsync_session_get_limits(session, &stored), NEGSYNC_OK);
    CHECK_EQ(stored.max_message_size, 5000);
    CHECK_EQ(stored.max_rounds, 7);
    CHECK_EQ(stored.max_id_bytes, 320);
    CHECK_EQ(negsync_session_set_limits(session, &huge), NEGSYNC_OK);
    CHECK_EQ(negsync_session_get_limits(session, &stored), NEGSYNC_OK);
    CHECK(memcmp(&huge, &stored, sizeof stored) == 0);
    negsync_session_free(session);
}

/* A message one byte over max_message_size fails the session; one exactly at it is accepted. */
static void test_message_over_max_size_fails_session(void) {
    message first;
    negsync_session *source = initiator_over(40, 0, &first);
    /* at_limit holds one item more, so its reply carries a range for the initiator to read. */
    negsync_session *at_limit = session_over(41, 0), *under_limit = session_over(40, 0);
    negsync_limits limits;
    const uint8_t *reply = NULL;
    size_t reply_len = 0;
    bool complete = false;
    REQUIRE(source != NULL && at_limit != NULL && under_limit != NULL);
    REQUIRE(negsync_limits_default(&limits) == NEGSYNC_OK);

    limits.max_message_size = first.len;
    CHECK_EQ(negsync_session_set_limits(at_limit, &limits), NEGSYNC_OK);
    CHECK_EQ(feed(at_limit, &first, &reply, &reply_len, &complete), NEGSYNC_OK);

    limits.max_message_size = first.len - 1;
    CHECK_EQ(negsync_session_set_limits(under_limit, &limits), NEGSYNC_OK);
    CHECK_EQ(feed(under_limit, &first, &reply, &reply_len, &complete), NEGSYNC_LIMIT_EXCEEDED);
    check_failed_for_good(under_limit, "a message over max_message_size");

    /* The initiator's side: a reply over its limit fails it too. */
    REQUIRE(reply_len > 1);
    limits.max_message_size = reply_len - 1;
    CHECK_EQ(negsync_session_set_limits(source, &limits), NEGSYNC_OK);
    {
        message big_reply;
        memcpy(big_reply.bytes, reply, reply_len < MAX_MESSAGE ? reply_len : MAX_MESSAGE);
        big_reply.len = reply_len < MAX_MESSAGE ? reply_len : MAX_MESSAGE;
        CHECK_EQ(feed(source, &big_reply, &reply, &reply_len, &complete), NEGSYNC_LIMIT_EXCEEDED);
        check_failed_for_good(source, "a reply over max_message_size");
    }
    negsync_session_free(source);
    negsync_session_free(at_limit);
    negsync_session_free(under_limit);
}

/* max_rounds = 1: an initiator whose exchange needs more replies fails on the second one. */
static void test_max_rounds_fails_on_the_next_reply(void) {
    /* 400 items against 10, with 4096-byte frames on the responder: several round trips. */
    message first;
    negsync_session *initiator = initiator_over(10, 0, &first);
    negsync_session *responder = session_over(400, 4096);
    negsync_limits limits;
    const uint8_t *msg = first.bytes, *reply = NULL;
    size_t msg_len = first.len, reply_len = 0;
    bool complete = false;
    REQUIRE(initiator != NULL && responder != NULL);
    REQUIRE(negsync_limits_default(&limits) == NEGSYNC_OK);
    limits.max_rounds = 1;
    CHECK_EQ(negsync_session_set_limits(initiator, &limits), NEGSYNC_OK);

    CHECK_EQ(negsync_session_reconcile(responder, msg, msg_len, &reply, &reply_len, &complete),
             NEGSYNC_OK);
    CHECK_EQ(negsync_session_reconcile(initiator, reply, reply_len, &msg, &msg_len, &complete),
             NEGSYNC_OK);
    REQUIRE(!complete); /* the exchange needs a second reply */
    CHECK_EQ(negsync_session_reconcile(responder, msg, msg_len, &reply, &reply_len, &complete),
             NEGSYNC_OK);
    CHECK_EQ(negsync_session_reconcile(initiator, reply, reply_len, &msg, &msg_len, &complete),
             NEGSYNC_LIMIT_EXCEEDED);
    check_failed_for_good(initiator, "the reply after max_rounds");
    negsync_session_free(initiator);
    negsync_session_free(responder);
}

/* max_id_bytes: an initiator that would learn more IDs than it may hold fails. */
static void test_max_id_bytes_fails_the_initiator(void) {
    message first;
    negsync_session *initiator = initiator_over(10, 0, &first);
    negsync_session *responder = session_over(20, 0); /* 10 IDs to learn */
    negsync_limits limits;
    const uint8_t *msg = first.bytes, *reply = NULL;
    size_t msg_len = first.len, reply_len = 0;
    bool complete = false;
    REQUIRE(initiator != NULL && responder != NULL);
    REQUIRE(negsync_limits_default(&limits) == NEGSYNC_OK);
    limits.max_id_bytes = 9 * NEGSYNC_ID_SIZE;
    CHECK_EQ(negsync_session_set_limits(initiator, &limits), NEGSYNC_OK);
    CHECK_EQ(negsync_session_reconcile(responder, msg, msg_len, &reply, &reply_len, &complete),
             NEGSYNC_OK);
    CHECK_EQ(negsync_session_reconcile(initiator, reply, reply_len, &msg, &msg_len, &complete),
             NEGSYNC_LIMIT_EXCEEDED);
    check_failed_for_good(initiator, "more IDs than max_id_bytes");
    negsync_session_free(initiator);
    negsync_session_free(responder);
}

/* Limits apply from the next message on: tightened mid-exchange, the next message is refused. */
static void test_limits_apply_from_the_next_message(void) {
    message first;
    negsync_session *initiator = initiator_over(10, 0, &first);
    negsync_session *responder = session_over(400, 4096);
    negsync_limits limits;
    const uint8_t *msg = first.bytes, *reply = NULL;
    size_t msg_len = first.len, reply_len = 0;
    bool complete = false;
    REQUIRE(initiator != NULL && responder != NULL);
    CHECK_EQ(negsync_session_reconcile(responder, msg, msg_len, &reply, &reply_len, &complete),
             NEGSYNC_OK);
    CHECK_EQ(negsync_session_reconcile(initiator, reply, reply_len, &msg, &msg_len, &complete),
             NEGSYNC_OK);
    REQUIRE(!complete && msg_len > 0);
    REQUIRE(negsync_limits_default(&limits) == NEGSYNC_OK);
    limits.max_message_size = msg_len - 1;
    CHECK_EQ(negsync_session_set_limits(responder, &limits), NEGSYNC_OK);
    CHECK_EQ(negsync_session_reconcile(responder, msg, msg_len, &reply, &reply_len, &complete),
             NEGSYNC_LIMIT_EXCEEDED);
    check_failed_for_good(responder, "a message over the tightened limit");
    negsync_session_free(initiator);
    negsync_session_free(responder);
}

int main(int argc, char **argv) {
    check_init(argc, argv);
    CHECK_RUN(test_malformed_messages_are_refused_in_both_roles);
    CHECK_RUN(test_real_message_with_stray_byte_is_refused);
    CHECK_RUN(test_real_message_cut_inside_a_field_is_refused);
    CHECK_RUN(test_legal_edge_cases_are_accepted);
    CHECK_RUN(test_responder_answers_bare_version);
    CHECK_RUN(test_responder_answers_other_versions_with_v1);
    CHECK_RUN(test_initiator_refuses_other_versions);
    CHECK_RUN(test_default_limits);
    CHECK_RUN(test_get_limits_returns_what_set_limits_stored);
    CHECK_RUN(test_message_over_max_size_fails_session);
    CHECK_RUN(test_max_rounds_fails_on_the_next_reply);
    CHECK_RUN(test_max_id_bytes_fails_the_initiator);
    CHECK_RUN(test_limits_apply_from_the_next_message);
    return check_summary();
}
