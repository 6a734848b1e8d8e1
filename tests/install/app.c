/* A program as a user of the installed library writes it: two peers reconcile, and the result
 * is checked. Built by tests/install/run.sh with pkg-config (shared and static) and CMake. */
#include <negsync.h>

#include <stdio.h>
#include <string.h>

#define CHECK(call)                                                                  \
    do {                                                                             \
        negsync_result check_result_ = (call);                                       \
        if (check_result_ != NEGSYNC_OK) {                                           \
            fprintf(stderr, "%s: %s\n", #call, negsync_result_str(check_result_));  \
            return 1;                                                                \
        }                                                                            \
    } while (0)

int main(void) {
    negsync_set *mine = NULL, *theirs = NULL;
    negsync_session *initiator = NULL, *responder = NULL;
    uint8_t id[NEGSYNC_ID_SIZE];
    const uint8_t *message = NULL, *reply = NULL, *ids = NULL;
    size_t message_len = 0, reply_len = 0, have = 0, need = 0;
    bool complete = false;
    char header_version[32];

    CHECK(negsync_set_new(&mine));
    CHECK(negsync_set_new(&theirs));
    CHECK(negsync_id_for_key((const uint8_t *)"only-mine", 9, id));
    CHECK(negsync_set_insert(mine, 1, id));
    CHECK(negsync_id_for_key((const uint8_t *)"only-theirs", 11, id));
    CHECK(negsync_set_insert(theirs, 2, id));
    CHECK(negsync_session_new(mine, 0, &initiator));
    CHECK(negsync_session_new(theirs, 0, &responder));
    CHECK(negsync_session_initiate(initiator, &message, &message_len));
    while (!complete) {
        CHECK(negsync_session_reconcile(responder, message, message_len, &reply, &reply_len, &complete));
        CHECK(negsync_session_reconcile(initiator, reply, reply_len, &message, &message_len, &complete));
    }
    CHECK(negsync_session_have_ids(initiator, &ids, &have));
    CHECK(negsync_session_need_ids(initiator, &ids, &need));
    printf("negsync %s: have %zu, need %zu\n", negsync_version(), have, need);
    negsync_session_free(initiator);
    negsync_session_free(responder);
    negsync_set_free(mine);
    negsync_set_free(theirs);
    snprintf(header_version, sizeof header_version, "%d.%d.%d", NEGSYNC_VERSION_MAJOR,
             NEGSYNC_VERSION_MINOR, NEGSYNC_VERSION_PATCH);
    return (have == 1 && need == 1 && strcmp(negsync_version(), header_version) == 0) ? 0 : 1;
}
